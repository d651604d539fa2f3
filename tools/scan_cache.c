/*
 * hashdb scan --cache FILE: each file's hashes, kept between scans in an
 * LMDB file of its own (FILE, and FILE-lock), so that the daily rescan
 * after a list update reads only new and changed files and re-checks the
 * others' hashes against the new set: a lookup, not a read.
 *
 * Key: device and inode (a file replaced under the same name is a new
 * inode).  Value: size, mtime and ctime in nanoseconds (any write, and
 * any chmod, rename or link, moves ctime), then the hashes: the digests
 * computed, and, where the file was looked at for PDQ, its format, the
 * media layer's result and every frame's index, quality and 8 variants.
 * Records are written in batches of one write transaction each; a scan
 * interrupted loses at most the last batch, never the file.  With
 * --prune the keys a scan sees are kept in memory (16 bytes a file) and
 * the records of every other file (deleted since) are removed at the end.
 */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "scan.h"

#define SCAN_CACHE_VERSION  2     /* 2: a video's frames */
#define SCAN_CACHE_BATCH    4096
#define SCAN_CACHE_MAP      ((size_t) 1 << 40)  /* sparse: grows as used */

/* the fixed part of a record; then digests, frames, a video's frames */
typedef struct {
    uint8_t    version;
    uint8_t    types;
    uint8_t    media;
    uint8_t    format;
    int32_t    media_rc;
    uint64_t   size;
    int64_t    mtime_ns;
    int64_t    ctime_ns;
    uint32_t   total;
    uint32_t   nframes;
    uint32_t   nvideo;
    uint32_t   reserved;
} scan_cache_head_t;

typedef struct {
    uint64_t   dev;
    uint64_t   ino;
} scan_cache_key_t;

typedef struct {
    scan_cache_key_t   key;
    size_t             len;
    unsigned char     *val;
} scan_cache_pending_t;

struct scan_cache_s {
    MDB_env               *env;
    MDB_dbi                dbi;
    pthread_mutex_t        lock;
    scan_cache_pending_t  *pending;
    size_t                 npending;

    /* --prune: the keys this scan saw (open addressing, 0 0: empty) */
    int                    pruning;
    scan_cache_key_t      *seen;
    size_t                 nseen, cap;
};

struct scan_cache_reader_s {
    scan_cache_t          *cache;
    MDB_txn               *txn;
};

const char *
scan_cache_strerror(int rc)
{
    return mdb_strerror(rc);
}

int
scan_cache_open(scan_cache_t **pc, const char *path)
{
    int            rc;
    MDB_txn       *txn;
    scan_cache_t  *c;

    c = calloc(1, sizeof(scan_cache_t));
    if (c == NULL) {
        return ENOMEM;
    }

    c->pending = calloc(SCAN_CACHE_BATCH, sizeof(scan_cache_pending_t));
    if (c->pending == NULL) {
        free(c);
        return ENOMEM;
    }

    pthread_mutex_init(&c->lock, NULL);

    rc = mdb_env_create(&c->env);
    if (rc == 0) {
        rc = mdb_env_set_mapsize(c->env, SCAN_CACHE_MAP);
    }

    /* one file; readers per thread (NOTLS); a crash loses a batch only */
    if (rc == 0) {
        rc = mdb_env_open(c->env, path,
                          MDB_NOSUBDIR | MDB_NOTLS | MDB_NOSYNC, 0600);
    }

    if (rc == 0) {
        rc = mdb_txn_begin(c->env, NULL, 0, &txn);
        if (rc == 0) {
            rc = mdb_dbi_open(txn, NULL, 0, &c->dbi);
            rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
        }
    }

    if (rc != 0) {
        scan_cache_close(c);
        return rc;
    }

    *pc = c;
    return 0;
}

void
scan_cache_close(scan_cache_t *c)
{
    if (c == NULL) {
        return;
    }

    for (size_t i = 0; i < c->npending; i++) {
        free(c->pending[i].val);
    }

    if (c->env) {
        mdb_env_close(c->env);
    }

    pthread_mutex_destroy(&c->lock);
    free(c->seen);
    free(c->pending);
    free(c);
}

static uint64_t
scan_cache_hash(const scan_cache_key_t *k)
{
    uint64_t  h = k->ino * 0x9e3779b97f4a7c15ull ^ k->dev;

    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 31);
}

/* a key into the seen set; under c->lock */
static int
scan_cache_see(scan_cache_t *c, const scan_cache_key_t *k)
{
    size_t             i;
    scan_cache_key_t  *old, *grown;
    size_t             oldcap;

    if (2 * (c->nseen + 1) > c->cap) {
        oldcap = c->cap;
        old = c->seen;
        c->cap = oldcap ? 2 * oldcap : 65536;
        grown = calloc(c->cap, sizeof(scan_cache_key_t));
        if (grown == NULL) {
            c->cap = oldcap;
            return ENOMEM;
        }

        c->seen = grown;
        c->nseen = 0;

        for (size_t j = 0; j < oldcap; j++) {
            if (old[j].dev || old[j].ino) {
                scan_cache_see(c, &old[j]);
            }
        }

        free(old);
    }

    for (i = scan_cache_hash(k) & (c->cap - 1); ; i = (i + 1) & (c->cap - 1)) {
        if (c->seen[i].dev == k->dev && c->seen[i].ino == k->ino) {
            return 0;
        }

        if (c->seen[i].dev == 0 && c->seen[i].ino == 0) {
            c->seen[i] = *k;
            c->nseen++;
            return 0;
        }
    }
}

static int
scan_cache_was_seen(scan_cache_t *c, const scan_cache_key_t *k)
{
    for (size_t i = scan_cache_hash(k) & (c->cap - 1); c->cap;
         i = (i + 1) & (c->cap - 1))
    {
        if (c->seen[i].dev == k->dev && c->seen[i].ino == k->ino) {
            return 1;
        }

        if (c->seen[i].dev == 0 && c->seen[i].ino == 0) {
            return 0;
        }
    }

    return 0;
}

void
scan_cache_pruning(scan_cache_t *c)
{
    c->pruning = 1;
}

int
scan_cache_seen(scan_cache_t *c, const struct stat *st)
{
    int               rc;
    scan_cache_key_t  k;

    if (!c->pruning) {
        return 0;
    }

    memset(&k, 0, sizeof(k));
    k.dev = (uint64_t) st->st_dev;
    k.ino = (uint64_t) st->st_ino;

    pthread_mutex_lock(&c->lock);
    rc = scan_cache_see(c, &k);
    pthread_mutex_unlock(&c->lock);

    return rc;
}

int
scan_cache_prune(scan_cache_t *c, uint64_t *pruned)
{
    int                rc;
    MDB_txn           *txn;
    MDB_val            key, val;
    MDB_cursor        *cur;
    scan_cache_key_t   k;

    *pruned = 0;

    rc = mdb_txn_begin(c->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = mdb_cursor_open(txn, c->dbi, &cur);

    while (rc == 0
           && (rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) == 0)
    {
        if (key.mv_size != sizeof(k)) {
            continue;
        }

        memcpy(&k, key.mv_data, sizeof(k));

        if (!scan_cache_was_seen(c, &k)) {
            rc = mdb_cursor_del(cur, 0);
            (*pruned)++;
        }
    }

    if (rc == MDB_NOTFOUND) {
        rc = 0;
    }

    if (rc == 0) {
        mdb_cursor_close(cur);
        return mdb_txn_commit(txn);
    }

    mdb_txn_abort(txn);

    return rc;
}

int
scan_cache_reader(scan_cache_t *c, scan_cache_reader_t **prd)
{
    int                   rc;
    scan_cache_reader_t  *rd;

    rd = calloc(1, sizeof(scan_cache_reader_t));
    if (rd == NULL) {
        return ENOMEM;
    }

    rd->cache = c;

    rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &rd->txn);
    if (rc != 0) {
        free(rd);
        return rc;
    }

    mdb_txn_reset(rd->txn);
    *prd = rd;

    return 0;
}

void
scan_cache_reader_free(scan_cache_reader_t *rd)
{
    if (rd) {
        mdb_txn_abort(rd->txn);
        free(rd);
    }
}

static int64_t
scan_ns(const struct timespec *ts)
{
    return (int64_t) ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static void
scan_cache_key(const struct stat *st, scan_cache_key_t *k)
{
    memset(k, 0, sizeof(*k));
    k->dev = (uint64_t) st->st_dev;
    k->ino = (uint64_t) st->st_ino;
}

int
scan_cache_get(scan_cache_reader_t *rd, const struct stat *st,
    scan_hashes_t *h, scan_video_t *video)
{
    int                    rc;
    size_t                 need;
    MDB_val                key, val;
    scan_cache_key_t       k;
    scan_cache_head_t      hd;
    const unsigned char   *p;

    scan_cache_key(st, &k);
    key.mv_data = &k;
    key.mv_size = sizeof(k);

    rc = mdb_txn_renew(rd->txn);
    if (rc != 0) {
        return rc;
    }

    rc = mdb_get(rd->txn, rd->cache->dbi, &key, &val);
    if (rc != 0 || val.mv_size < sizeof(hd)) {
        mdb_txn_reset(rd->txn);
        return HDB_NOTFOUND;
    }

    memcpy(&hd, val.mv_data, sizeof(hd));
    p = (const unsigned char *) val.mv_data + sizeof(hd);

    need = sizeof(hd) + (size_t) hd.nframes * sizeof(scan_frame_t)
           + (size_t) hd.nvideo * sizeof(hdb_vpdq_frame_t);
    for (int t = 0; t < HDB_NDIGESTS; t++) {
        need += (hd.types & HDB_TYPE_BIT(t)) ? hdb_type_size(t) : 0;
    }

    if (hd.version != SCAN_CACHE_VERSION || hd.nframes > SCAN_FRAMES_MAX
        || hd.nvideo > HDB_VIDEO_FRAMES_DEFAULT
        || scan_video_room(video, hd.nvideo) != 0
        || val.mv_size != need || hd.size != (uint64_t) st->st_size
        || hd.mtime_ns != scan_ns(&st->st_mtim)
        || hd.ctime_ns != scan_ns(&st->st_ctim))
    {
        /* another file now, or this one changed: read it again */
        mdb_txn_reset(rd->txn);
        return HDB_NOTFOUND;
    }

    memset(h, 0, sizeof(*h));
    h->types = hd.types;
    h->media = hd.media;
    h->format = hd.format;
    h->media_rc = hd.media_rc;
    h->total = hd.total;
    h->nframes = hd.nframes;

    for (int t = 0; t < HDB_NDIGESTS; t++) {
        if (hd.types & HDB_TYPE_BIT(t)) {
            memcpy(h->md[t], p, hdb_type_size(t));
            p += hdb_type_size(t);
        }
    }

    memcpy(h->frames, p, (size_t) hd.nframes * sizeof(scan_frame_t));
    p += (size_t) hd.nframes * sizeof(scan_frame_t);

    if (hd.nvideo) {
        memcpy(video->frames, p, hd.nvideo * sizeof(hdb_vpdq_frame_t));
        h->video = video->frames;
        h->nvideo = hd.nvideo;
    }

    mdb_txn_reset(rd->txn);

    return 0;
}

/* the pending records in one write transaction; under c->lock */
static int
scan_cache_flush_locked(scan_cache_t *c)
{
    int       rc;
    MDB_txn  *txn;
    MDB_val   key, val;

    if (c->npending == 0) {
        return 0;
    }

    txn = NULL;
    rc = mdb_txn_begin(c->env, NULL, 0, &txn);

    for (size_t i = 0; rc == 0 && i < c->npending; i++) {
        key.mv_data = &c->pending[i].key;
        key.mv_size = sizeof(scan_cache_key_t);
        val.mv_data = c->pending[i].val;
        val.mv_size = c->pending[i].len;
        rc = mdb_put(txn, c->dbi, &key, &val, 0);
    }

    if (rc == 0) {
        rc = mdb_txn_commit(txn);

    } else if (txn) {
        mdb_txn_abort(txn);
    }

    for (size_t i = 0; i < c->npending; i++) {
        free(c->pending[i].val);
    }

    c->npending = 0;

    return rc;
}

int
scan_cache_flush(scan_cache_t *c)
{
    int  rc;

    pthread_mutex_lock(&c->lock);
    rc = scan_cache_flush_locked(c);
    pthread_mutex_unlock(&c->lock);

    /* MDB_NOSYNC: the batches are made durable once, at the end */
    return rc ? rc : mdb_env_sync(c->env, 1);
}

int
scan_cache_put(scan_cache_t *c, const struct stat *st, const scan_hashes_t *h)
{
    int                    rc;
    size_t                 len;
    unsigned char         *val, *p;
    scan_cache_head_t      hd;
    scan_cache_pending_t  *pe;

    memset(&hd, 0, sizeof(hd));
    hd.version = SCAN_CACHE_VERSION;
    hd.types = (uint8_t) (h->types & HDB_DIGEST_TYPES);
    hd.media = (uint8_t) h->media;
    hd.format = (uint8_t) h->format;
    hd.media_rc = h->media_rc;
    hd.size = (uint64_t) st->st_size;
    hd.mtime_ns = scan_ns(&st->st_mtim);
    hd.ctime_ns = scan_ns(&st->st_ctim);
    hd.total = h->total;
    hd.nframes = h->nframes;
    hd.nvideo = h->nvideo;

    len = sizeof(hd) + (size_t) h->nframes * sizeof(scan_frame_t)
          + (size_t) h->nvideo * sizeof(hdb_vpdq_frame_t);
    for (int t = 0; t < HDB_NDIGESTS; t++) {
        len += (hd.types & HDB_TYPE_BIT(t)) ? hdb_type_size(t) : 0;
    }

    val = malloc(len);
    if (val == NULL) {
        return ENOMEM;
    }

    memcpy(val, &hd, sizeof(hd));
    p = val + sizeof(hd);

    for (int t = 0; t < HDB_NDIGESTS; t++) {
        if (hd.types & HDB_TYPE_BIT(t)) {
            memcpy(p, h->md[t], hdb_type_size(t));
            p += hdb_type_size(t);
        }
    }

    memcpy(p, h->frames, (size_t) h->nframes * sizeof(scan_frame_t));
    p += (size_t) h->nframes * sizeof(scan_frame_t);

    if (h->nvideo) {
        memcpy(p, h->video, h->nvideo * sizeof(hdb_vpdq_frame_t));
    }

    pthread_mutex_lock(&c->lock);

    pe = &c->pending[c->npending++];
    scan_cache_key(st, &pe->key);
    pe->val = val;
    pe->len = len;

    rc = c->npending == SCAN_CACHE_BATCH ? scan_cache_flush_locked(c) : 0;

    pthread_mutex_unlock(&c->lock);

    return rc;
}
