/*
 * Listed videos, the write side: a video of a source is a record under a
 * number of ours ("video"), found by its list's name ("video_name"), and
 * one "vpdq" entry per unique frame hash, which files the hash in the
 * PDQ index as a listed image's hash is filed.  See hdb_schema.h.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hdb_internal.h"

static int
hdb_video_hash_cmp(const void *a, const void *b)
{
    return memcmp(a, b, HDB_PDQ_SIZE);
}

int
hdb_valid_video_name(const char *name, size_t len)
{
    if (len == 0 || len > HDB_VIDEO_NAME_MAX) {
        return 0;
    }

    for (size_t i = 0; i < len; i++) {
        /* a name goes into log lines: no control characters */
        if ((unsigned char) name[i] < 0x20 || name[i] == 0x7f) {
            return 0;
        }
    }

    return 1;
}

static void
hdb_video_key(const hdb_writer_t *w, const char *name, unsigned char *buf,
    MDB_val *key)
{
    size_t  len = strlen(name);

    hdb_source_id_encode(w->rec.id, buf);
    memcpy(buf + 4, name, len);
    key->mv_data = buf;
    key->mv_size = 4 + len;
}

/* the video's number from its name; MDB_NOTFOUND when it is not listed */
static int
hdb_video_find(hdb_writer_t *w, const char *name, uint32_t *num)
{
    int            rc;
    MDB_val        key, val;
    unsigned char  buf[4 + HDB_VIDEO_NAME_MAX];

    hdb_video_key(w, name, buf, &key);

    rc = mdb_get(w->txn, w->db->video_name, &key, &val);
    if (rc != 0) {
        return rc;
    }

    if (val.mv_size != sizeof(uint32_t)) {
        return MDB_CORRUPTED;
    }

    memcpy(num, val.mv_data, sizeof(uint32_t));
    return 0;
}

/* one (frame, video) entry added; the hash filed when it is new */
static int
hdb_video_frame_add(hdb_writer_t *w, const unsigned char *hash,
    const unsigned char num[4])
{
    int      rc;
    MDB_val  key, val;

    rc = hdb_pdq_listed(w->db, w->txn, hash);
    if (rc == 0) {
        rc = hdb_pdq_touch(&w->pdq, hash, 0);
    }
    if (rc < 0) {
        return rc;
    }

    key.mv_data = (void *) hash;
    key.mv_size = HDB_PDQ_SIZE;
    val.mv_data = (void *) num;
    val.mv_size = 4;

    rc = mdb_put(w->txn, w->db->vpdq, &key, &val, MDB_NODUPDATA);

    return rc == MDB_KEYEXIST ? 0 : rc;
}

static int
hdb_video_frame_del(hdb_writer_t *w, const unsigned char *hash,
    const unsigned char num[4])
{
    int      rc;
    MDB_val  key, val;

    key.mv_data = (void *) hash;
    key.mv_size = HDB_PDQ_SIZE;
    val.mv_data = (void *) num;
    val.mv_size = 4;

    rc = mdb_del(w->txn, w->db->vpdq, &key, &val);
    if (rc == MDB_NOTFOUND) {
        return 0;
    }

    /* the commit sees whether any image or frame entry is left */
    return rc ? rc : hdb_pdq_touch(&w->pdq, hash, 1);
}

/* the video numbered num goes: its frames, its name, its record */
static int
hdb_video_drop(hdb_writer_t *w, uint32_t num, int keep_name)
{
    int                    rc;
    MDB_val                key, val, nkey;
    unsigned char          be[4], buf[4 + HDB_VIDEO_NAME_MAX];
    struct hdb_video_rec   rec;
    const unsigned char   *frames;

    key.mv_data = &num;
    key.mv_size = sizeof(num);

    rc = mdb_get(w->txn, w->db->video, &key, &val);
    if (rc != 0) {
        return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    }

    memcpy(&rec, val.mv_data, sizeof(rec));

    if (val.mv_size != sizeof(rec) + (size_t) rec.nframes * HDB_PDQ_SIZE
                       + rec.name_len
        || rec.name_len > HDB_VIDEO_NAME_MAX)
    {
        return MDB_CORRUPTED;
    }

    hdb_source_id_encode(num, be);

    /* the record's bytes move as the frames are deleted: a copy */
    frames = malloc((size_t) rec.nframes * HDB_PDQ_SIZE + rec.name_len);
    if (frames == NULL) {
        return ENOMEM;
    }

    memcpy((void *) frames, (const unsigned char *) val.mv_data + sizeof(rec),
           (size_t) rec.nframes * HDB_PDQ_SIZE + rec.name_len);

    rc = 0;

    for (uint32_t i = 0; rc == 0 && i < rec.nframes; i++) {
        rc = hdb_video_frame_del(w, frames + (size_t) i * HDB_PDQ_SIZE, be);
    }

    if (rc == 0 && !keep_name) {
        memcpy(buf, rec.source_id, 4);
        memcpy(buf + 4, frames + (size_t) rec.nframes * HDB_PDQ_SIZE,
               rec.name_len);
        nkey.mv_data = buf;
        nkey.mv_size = 4 + rec.name_len;
        rc = mdb_del(w->txn, w->db->video_name, &nkey, NULL);
    }

    free((void *) frames);

    if (rc == 0) {
        rc = mdb_del(w->txn, w->db->video, &key, NULL);
    }

    if (rc == 0) {
        w->rec.videos--;
        if (w->rec.files) {
            w->rec.files--;
        }
    }

    return rc;
}

static int
hdb_video_next_num(hdb_writer_t *w, uint32_t *num)
{
    int       rc;
    uint32_t  next;

    /* made by the first writer that lists a video */
    rc = hdb_meta_get_u32(w->db, w->txn, "next_video_id", &next);

    if (rc == MDB_NOTFOUND) {
        next = 1;

    } else if (rc != 0) {
        return rc;
    }

    if (next == UINT32_MAX) {
        return MDB_MAP_FULL;
    }

    *num = next;

    return hdb_meta_put_u32(w->db, w->txn, "next_video_id", next + 1);
}

/* the listed video's frames are these, already sorted and unique */
static int
hdb_video_same(hdb_writer_t *w, uint32_t num, const unsigned char *frames,
    size_t n, const char *category, uint32_t *flags)
{
    MDB_val                key, val;
    struct hdb_video_rec   rec;

    key.mv_data = &num;
    key.mv_size = sizeof(num);
    *flags = 0;

    if (mdb_get(w->txn, w->db->video, &key, &val) != 0
        || val.mv_size < sizeof(rec))
    {
        return 0;
    }

    memcpy(&rec, val.mv_data, sizeof(rec));
    *flags = rec.flags;

    return rec.nframes == n
           && val.mv_size >= sizeof(rec) + n * HDB_PDQ_SIZE
           && memcmp((const unsigned char *) val.mv_data + sizeof(rec),
                     frames, n * HDB_PDQ_SIZE) == 0
           && strncmp(rec.category, category ? category : "",
                      HDB_CATEGORY_MAX) == 0;
}

int
hdb_writer_add_video(hdb_writer_t *w, const hdb_video_t *v)
{
    int                    rc, existed, same;
    uint32_t               old_flags = 0;
    size_t                 n, len, size;
    int64_t                added;
    MDB_val                key, val, nkey;
    uint32_t               num;
    unsigned char          be[4], buf[4 + HDB_VIDEO_NAME_MAX];
    unsigned char         *frames, *rec_buf;
    struct hdb_video_rec   rec;

    if (!hdb_valid_video_name(v->name, strlen(v->name))
        || (v->category && !hdb_valid_category(v->category)))
    {
        return HDB_ENAME;
    }

    if (v->nframes == 0 || v->nframes > UINT32_MAX / HDB_PDQ_SIZE) {
        return EINVAL;
    }

    /* the video is its set of unique frames, kept sorted */
    frames = malloc(v->nframes * HDB_PDQ_SIZE);
    if (frames == NULL) {
        return ENOMEM;
    }

    memcpy(frames, v->frames, v->nframes * HDB_PDQ_SIZE);
    qsort(frames, v->nframes, HDB_PDQ_SIZE, hdb_video_hash_cmp);

    n = 0;
    for (size_t i = 0; i < v->nframes; i++) {
        if (n == 0 || memcmp(frames + (n - 1) * HDB_PDQ_SIZE,
                             frames + i * HDB_PDQ_SIZE, HDB_PDQ_SIZE) != 0)
        {
            memmove(frames + n * HDB_PDQ_SIZE, frames + i * HDB_PDQ_SIZE,
                    HDB_PDQ_SIZE);
            n++;
        }
    }

    added = v->added ? v->added : w->now;
    rc = hdb_video_find(w, v->name, &num);
    existed = rc == 0;
    same = 0;

    if (rc != 0 && rc != MDB_NOTFOUND) {
        goto done;
    }

    if (existed) {
        /*
         * Listed again: the same frames only get this sync's generation
         * (counted as existing); other frames replace the old ones
         * (counted as removed and added).
         */
        same = hdb_video_same(w, num, frames, n, v->category, &old_flags);

        rc = hdb_video_drop(w, num, 1);
        if (rc != 0) {
            goto done;
        }

    } else {
        rc = hdb_video_next_num(w, &num);
        if (rc != 0) {
            goto done;
        }

        hdb_video_key(w, v->name, buf, &nkey);
        val.mv_data = &num;
        val.mv_size = sizeof(num);

        rc = mdb_put(w->txn, w->db->video_name, &nkey, &val, 0);
        if (rc != 0) {
            goto done;
        }
    }

    hdb_source_id_encode(num, be);

    for (size_t i = 0; i < n; i++) {
        rc = hdb_video_frame_add(w, frames + i * HDB_PDQ_SIZE, be);
        if (rc != 0) {
            goto done;
        }
    }

    len = strlen(v->name);

    memset(&rec, 0, sizeof(rec));
    hdb_source_id_encode(w->rec.id, rec.source_id);
    rec.added = (uint32_t) (added < 0 ? 0 : added);
    if (v->category) {
        memcpy(rec.category, v->category, strlen(v->category));
    }
    rec.generation = w->generation;

    /*
     * A shadow update stages a video it adds or changes, and leaves one
     * it lists as before live or staged as it was.
     */
    if (w->stage) {
        if (!(existed && same)) {
            rec.flags = HDB_VIDEO_STAGED;
            w->staged++;

        } else {
            rec.flags = old_flags & HDB_VIDEO_STAGED;
        }
    }

    rec.nframes = (uint32_t) n;
    rec.name_len = (uint32_t) len;

    key.mv_data = &num;
    key.mv_size = sizeof(num);
    size = sizeof(rec) + n * HDB_PDQ_SIZE + len;

    val.mv_data = NULL;
    val.mv_size = size;

    rc = mdb_put(w->txn, w->db->video, &key, &val, MDB_RESERVE);
    if (rc != 0) {
        goto done;
    }

    rec_buf = val.mv_data;
    memcpy(rec_buf, &rec, sizeof(rec));
    memcpy(rec_buf + sizeof(rec), frames, n * HDB_PDQ_SIZE);
    memcpy(rec_buf + sizeof(rec) + n * HDB_PDQ_SIZE, v->name, len);

    w->rec.videos++;
    w->rec.files++;
    w->rec.complete = 0;        /* a video carries no file digest */
    w->stats.rows++;

    if (same) {
        w->stats.existing++;

    } else {
        w->stats.added++;
        w->stats.removed += existed;
    }

done:

    free(frames);
    return rc;
}

int
hdb_writer_remove_video(hdb_writer_t *w, const char *name)
{
    int       rc;
    uint32_t  num;

    w->stats.rows++;

    if (!hdb_valid_video_name(name, strlen(name))) {
        return HDB_ENAME;
    }

    rc = hdb_video_find(w, name, &num);
    if (rc == MDB_NOTFOUND) {
        return 0;
    }

    if (rc == 0) {
        rc = hdb_video_drop(w, num, 0);
    }

    w->stats.removed += rc == 0;
    return rc;
}

int
hdb_video_sweep(hdb_writer_t *w)
{
    int                    rc;
    size_t                 n, cap;
    MDB_val                key, val;
    uint32_t              *gone, *grown, num;
    MDB_cursor            *cur;
    unsigned char          id[4];
    struct hdb_video_rec   rec;

    if (w->rec.videos == 0) {
        return 0;
    }

    hdb_source_id_encode(w->rec.id, id);

    rc = mdb_cursor_open(w->txn, w->db->video, &cur);
    if (rc != 0) {
        return rc;
    }

    gone = NULL;
    n = 0;
    cap = 0;

    /* noted first, dropped after: no cursor walks a changing table */
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (val.mv_size < sizeof(rec) || key.mv_size != sizeof(num)) {
            rc = MDB_CORRUPTED;
            break;
        }

        memcpy(&rec, val.mv_data, sizeof(rec));

        if (memcmp(rec.source_id, id, 4) != 0
            || rec.generation == w->generation)
        {
            continue;
        }

        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            grown = realloc(gone, cap * sizeof(uint32_t));
            if (grown == NULL) {
                rc = ENOMEM;
                break;
            }
            gone = grown;
        }

        memcpy(&gone[n++], key.mv_data, sizeof(num));
    }

    mdb_cursor_close(cur);

    if (rc == MDB_NOTFOUND) {
        rc = 0;
    }

    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = hdb_video_drop(w, gone[i], 0);
        w->stats.removed += rc == 0;
    }

    free(gone);
    return rc;
}
