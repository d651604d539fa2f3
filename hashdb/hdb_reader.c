/*
 * The read side: a read transaction per request, the digest plan and
 * lookups.  This is what runs inside nginx workers.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hdb_internal.h"

/*
 * After MDB_MAP_RESIZED (the updater grew the map past ours): adopt its
 * size, 0; the caller tries once more.  A reserved map
 * (hdb_map_reserved()) is never remapped, other threads may be reading
 * from it: MDB_MAP_RESIZED stays.
 */
static int
hdb_reader_remap(hdb_t *db)
{
    return db->reserved ? MDB_MAP_RESIZED : mdb_env_set_mapsize(db->env, 0);
}

int
hdb_reader_new(hdb_t *db, hdb_reader_t **out)
{
    int            rc;
    hdb_reader_t  *rd;

    rd = malloc(sizeof(hdb_reader_t));
    if (rd == NULL) {
        return ENOMEM;
    }

    *rd = (hdb_reader_t) { .db = db, .pdq_txnid = HDB_TXNID_NONE };

    rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &rd->txn);

    if (rc == MDB_MAP_RESIZED) {
        /* the set grew since it was opened */
        rc = hdb_reader_remap(db);
        if (rc == 0) {
            rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &rd->txn);
        }
    }

    if (rc != 0) {
        free(rd);
        return rc;
    }

    /* kept in the reset state between requests: renew costs ~10 ns */
    mdb_txn_reset(rd->txn);

    *out = rd;
    return 0;
}

void
hdb_reader_free(hdb_reader_t *rd)
{
    if (rd == NULL) {
        return;
    }

    mdb_txn_abort(rd->txn);
    free(rd->pdq_blocks);
    free(rd->pdq_chunks);
    free(rd);
}

int
hdb_reader_begin(hdb_reader_t *rd)
{
    int  rc;

    if (rd->active) {
        return 0;
    }

    rc = mdb_txn_renew(rd->txn);

    if (rc == MDB_MAP_RESIZED) {
        rd->pdq_txnid = HDB_TXNID_NONE;     /* the map may move */
        rc = hdb_reader_remap(rd->db);
        if (rc == 0) {
            rc = mdb_txn_renew(rd->txn);
        }
    }

    if (rc == 0) {
        rd->active = 1;
    }

    return rc;
}

void
hdb_reader_end(hdb_reader_t *rd)
{
    if (rd->active) {
        mdb_txn_reset(rd->txn);
        rd->active = 0;
    }

    rd->scope = NULL;
    rd->nscope = 0;
}

uint64_t
hdb_reader_version(const hdb_reader_t *rd)
{
    uint64_t  v;

    if (!rd->active) {
        return 0;
    }

    v = rd->db->file_id ^ (uint64_t) mdb_txn_id(rd->txn);

    return v ? v : 1;
}

/* one source's share of the plan */
static int
hdb_plan_source(const hdb_source_t *src, void *data)
{
    unsigned  *plan = data;

    if ((src->flags & HDB_SOURCE_DISABLED) || src->files == 0) {
        return 0;
    }

    /* PDQ finds what no digest does: it is never covered by one */
    if (src->count[HDB_PDQ] || src->videos) {
        *plan |= HDB_TYPE_BIT(HDB_PDQ);
    }

    for (int i = 0; i < HDB_NDIGESTS; i++) {
        if (src->complete & HDB_TYPE_BIT(hdb_types_by_cost[i])) {
            *plan |= HDB_TYPE_BIT(hdb_types_by_cost[i]);
            return 0;
        }
    }

    for (int t = 0; t < HDB_NDIGESTS; t++) {
        if (src->count[t]) {
            *plan |= HDB_TYPE_BIT(t);
        }
    }

    return 0;
}

int
hdb_reader_plan(hdb_reader_t *rd, unsigned *types)
{
    int       rc;
    unsigned  plan;

    if (rd->plan_txnid && rd->plan_txnid == mdb_txn_id(rd->txn)) {
        *types = rd->plan;
        return 0;
    }

    plan = 0;

    rc = hdb_reader_sources(rd, hdb_plan_source, &plan);
    if (rc != 0) {
        return rc;
    }

    rd->plan = plan;
    rd->plan_txnid = mdb_txn_id(rd->txn);

    *types = plan;
    return 0;
}

/* finds the name and record of a source by its id */
int
hdb_reader_source_rec(hdb_reader_t *rd, const unsigned char id[4],
    MDB_val *name, struct hdb_source_rec *rec)
{
    int      rc;
    MDB_val  key, val;

    key.mv_data = (void *) id;
    key.mv_size = 4;

    rc = mdb_get(rd->txn, rd->db->source_ids, &key, name);
    if (rc != 0) {
        return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    }

    rc = mdb_get(rd->txn, rd->db->sources, name, &val);
    if (rc != 0) {
        return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    }

    if (val.mv_size != sizeof(*rec)) {
        return MDB_CORRUPTED;
    }

    memcpy(rec, val.mv_data, sizeof(*rec));
    return 0;
}

int
hdb_reader_lookup(hdb_reader_t *rd, hdb_type_t type,
    const unsigned char *digest, hdb_match_t *match)
{
    int                    rc, action, found;
    size_t                 n;
    MDB_val                key, val, name;
    MDB_cursor            *cur;
    hdb_source_t           src;
    struct hdb_entry_rec   entry;
    struct hdb_source_rec  rec;

    if (type >= HDB_NTYPES) {
        return HDB_ETYPE;
    }

    found = 0;

    key.mv_data = (void *) digest;
    key.mv_size = hdb_type_size(type);

    rc = mdb_cursor_open(rd->txn, rd->db->types[type], &cur);
    if (rc != 0) {
        return rc;
    }

    /* the source whose policy does most names the match; the first wins */
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT_DUP))
    {
        if (val.mv_size != sizeof(entry)) {
            rc = MDB_CORRUPTED;
            break;
        }

        memcpy(&entry, val.mv_data, sizeof(entry));

        rc = hdb_reader_source_rec(rd, entry.source_id, &name, &rec);
        if (rc != 0) {
            break;
        }

        hdb_source_from_rec(&src, name.mv_data, name.mv_size, &rec);

        rc = hdb_entry_action(rd, src.name, &rec, entry.category,
                              (entry.generation & HDB_GEN_STAGED) != 0,
                              &action);
        if (rc != 0) {
            break;
        }

        if (action < 0 || (found && action >= match->action)) {
            continue;
        }

        memset(match, 0, sizeof(*match));
        match->type = type;
        n = name.mv_size < HDB_SOURCE_MAX ? name.mv_size : HDB_SOURCE_MAX;
        memcpy(match->source, name.mv_data, n);
        memcpy(match->category, entry.category, HDB_CATEGORY_MAX);
        match->added = entry.added;
        match->action = action;
        found = 1;

        if (action == HDB_ACTION_BLOCK) {
            break;
        }
    }

    mdb_cursor_close(cur);

    if (rc == MDB_NOTFOUND && found) {
        rc = 0;
    }

    if (rc == 0) {
        rc = hdb_reader_allow_check(rd, type, digest, match);
    }

    return rc;
}

/* marks a match that the allow list's entry under key overrides */
static int
hdb_reader_allow_key(hdb_reader_t *rd, MDB_val *key, hdb_match_t *match)
{
    int      rc;
    size_t   n;
    MDB_val  val;

    rc = mdb_get(rd->txn, rd->db->allow, key, &val);

    if (rc == MDB_NOTFOUND) {
        return 0;
    }

    if (rc != 0) {
        return rc;
    }

    if (val.mv_size < sizeof(struct hdb_allow_rec)) {
        return MDB_CORRUPTED;
    }

    n = val.mv_size - sizeof(struct hdb_allow_rec);
    n = n < HDB_REASON_MAX ? n : HDB_REASON_MAX;

    match->allowed = 1;
    memcpy(match->reason, (char *) val.mv_data + sizeof(struct hdb_allow_rec),
           n);
    match->reason[n] = '\0';

    return 0;
}

/* marks a match that the local allow list overrides */
int
hdb_reader_allow_check(hdb_reader_t *rd, hdb_type_t type,
    const unsigned char *digest, hdb_match_t *match)
{
    MDB_val        key;
    unsigned char  k[1 + HDB_DIGEST_MAX];

    key.mv_data = k;
    key.mv_size = hdb_allow_digest_key_make(k, type, digest);

    return hdb_reader_allow_key(rd, &key, match);
}

/*
 * A PDQ match (of an image, a video's frame, or a video by vPDQ's rule)
 * that the allow list overrides: the listed video it names allowed by
 * name, or the listed hash it matched.
 */
int
hdb_reader_allow_pdq(hdb_reader_t *rd, const unsigned char *listed,
    hdb_match_t *match)
{
    int            rc;
    size_t         nv;
    MDB_val        key;
    unsigned char  k[HDB_ALLOW_VIDEO_KEY_MAX];

    nv = strnlen(match->video, HDB_VIDEO_NAME_MAX);

    if (nv) {
        key.mv_data = k;
        key.mv_size = hdb_allow_video_key_make(k, match->source,
                                  strnlen(match->source, HDB_SOURCE_MAX),
                                  match->video, nv);

        rc = hdb_reader_allow_key(rd, &key, match);
        if (rc != 0 || match->allowed) {
            return rc;
        }
    }

    return hdb_reader_allow_check(rd, HDB_PDQ, listed, match);
}

/* an "allow" key as the entry it names: a digest, or a listed video */
static int
hdb_allow_entry(const MDB_val *key, hdb_allow_t *a)
{
    size_t                ns, nv;
    const unsigned char  *k = key->mv_data, *nul;

    if (k[0] == HDB_ALLOW_VIDEO) {
        nul = memchr(k + 1, '\0', key->mv_size - 1);
        ns = nul ? (size_t) (nul - k - 1) : 0;
        nv = nul ? key->mv_size - 2 - ns : 0;

        if (ns == 0 || ns > HDB_SOURCE_MAX || nv == 0
            || nv > HDB_VIDEO_NAME_MAX)
        {
            return MDB_CORRUPTED;
        }

        memcpy(a->source, k + 1, ns);
        memcpy(a->video, nul + 1, nv);
        return 0;
    }

    a->type = (hdb_type_t) k[0];

    if (a->type >= HDB_NTYPES || key->mv_size != 1 + hdb_type_size(a->type)) {
        return MDB_CORRUPTED;
    }

    memcpy(a->digest, k + 1, key->mv_size - 1);
    return 0;
}

int
hdb_reader_allowed(hdb_reader_t *rd, hdb_allow_cb cb, void *data)
{
    int                   rc;
    size_t                n;
    MDB_val               key, val;
    MDB_cursor           *cur;
    hdb_allow_t           a;
    struct hdb_allow_rec  rec;

    rc = mdb_cursor_open(rd->txn, rd->db->allow, &cur);
    if (rc != 0) {
        return rc;
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (key.mv_size < 2 || val.mv_size < sizeof(rec)) {
            rc = MDB_CORRUPTED;
            break;
        }

        memset(&a, 0, sizeof(a));

        rc = hdb_allow_entry(&key, &a);
        if (rc != 0) {
            break;
        }

        memcpy(&rec, val.mv_data, sizeof(rec));
        a.added = rec.added;
        n = val.mv_size - sizeof(rec);
        n = n < HDB_REASON_MAX ? n : HDB_REASON_MAX;
        memcpy(a.reason, (char *) val.mv_data + sizeof(rec), n);

        rc = cb(&a, data);
        if (rc != 0) {
            break;
        }
    }

    mdb_cursor_close(cur);

    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
hdb_reader_keys(hdb_reader_t *rd, const char *source,
    unsigned char (*keys)[HDB_KEY_SIZE], size_t max, size_t *n)
{
    int      rc;
    MDB_val  key, val;

    key.mv_data = (void *) source;
    key.mv_size = strlen(source);

    *n = 0;

    rc = mdb_get(rd->txn, rd->db->keys, &key, &val);

    if (rc == MDB_NOTFOUND) {
        return 0;
    }

    if (rc != 0) {
        return rc;
    }

    if (val.mv_size % HDB_KEY_SIZE) {
        return MDB_CORRUPTED;
    }

    *n = val.mv_size / HDB_KEY_SIZE;

    for (size_t i = 0; i < *n && i < max; i++) {
        memcpy(keys[i], (unsigned char *) val.mv_data + i * HDB_KEY_SIZE,
               HDB_KEY_SIZE);
    }

    return 0;
}

int
hdb_reader_source(hdb_reader_t *rd, const char *name, hdb_source_t *src)
{
    int                    rc;
    MDB_val                key, val;
    struct hdb_source_rec  rec;

    key.mv_data = (void *) name;
    key.mv_size = strlen(name);

    rc = mdb_get(rd->txn, rd->db->sources, &key, &val);
    if (rc != 0) {
        return rc;
    }

    if (val.mv_size != sizeof(rec)) {
        return MDB_CORRUPTED;
    }

    memcpy(&rec, val.mv_data, sizeof(rec));
    hdb_source_from_rec(src, name, key.mv_size, &rec);

    return hdb_reader_keys(rd, src->name, NULL, 0, &src->keys);
}

int
hdb_reader_sources(hdb_reader_t *rd, hdb_source_cb cb, void *data)
{
    int                    rc;
    MDB_val                key, val;
    MDB_cursor            *cur;
    hdb_source_t           src;
    struct hdb_source_rec  rec;

    rc = mdb_cursor_open(rd->txn, rd->db->sources, &cur);
    if (rc != 0) {
        return rc;
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (val.mv_size != sizeof(rec)) {
            rc = MDB_CORRUPTED;
            break;
        }

        memcpy(&rec, val.mv_data, sizeof(rec));
        hdb_source_from_rec(&src, key.mv_data, key.mv_size, &rec);

        rc = hdb_reader_keys(rd, src.name, NULL, 0, &src.keys);
        if (rc != 0) {
            break;
        }

        rc = cb(&src, data);
        if (rc != 0) {
            break;
        }
    }

    mdb_cursor_close(cur);

    return rc == MDB_NOTFOUND ? 0 : rc;
}


int
hdb_reader_free_bytes(hdb_reader_t *rd, size_t *bytes)
{
    int          rc;
    size_t       n, pages;
    MDB_val      key, val;
    MDB_stat     ms;
    MDB_cursor  *cur;

    *bytes = 0;

    rc = mdb_env_stat(rd->db->env, &ms);
    if (rc != 0) {
        return rc;
    }

    /*
     * LMDB's free list is its database 0: per writing transaction, the
     * pages it freed, as an array of page numbers led by their count.
     */
    rc = mdb_cursor_open(rd->txn, 0, &cur);
    if (rc != 0) {
        return rc;
    }

    pages = 0;

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (val.mv_size < sizeof(size_t)) {
            rc = MDB_CORRUPTED;
            break;
        }

        memcpy(&n, val.mv_data, sizeof(n));

        if (n > val.mv_size / sizeof(size_t) - 1) {
            rc = MDB_CORRUPTED;
            break;
        }

        pages += n;
    }

    mdb_cursor_close(cur);

    if (rc != MDB_NOTFOUND) {
        return rc;
    }

    *bytes = pages * ms.ms_psize;
    return 0;
}
