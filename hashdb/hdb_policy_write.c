/*
 * Policies, the write side: a source's policy set, shadow updates
 * promoted, flood demotions lifted.  Each is one short write
 * transaction.  See hashdb.h and hdb_schema.h; the reads are in
 * hdb_policy_read.c.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hdb_internal.h"

int
hdb_policy_rec_put(MDB_txn *txn, MDB_dbi meta, const char *source,
    const struct hdb_policy_rec *rec)
{
    MDB_val  key, val;
    char     k[sizeof(HDB_META_POLICY) + HDB_SOURCE_MAX];

    hdb_meta_key(HDB_META_POLICY, source, k, &key);
    val.mv_data = (void *) rec;
    val.mv_size = sizeof(*rec);

    return mdb_put(txn, meta, &key, &val, 0);
}

int
hdb_policy_set(hdb_t *db, const char *source, int action,
    const char *const *categories, size_t n)
{
    int                    rc;
    MDB_txn               *txn;
    struct hdb_policy_rec  rec;

    if (action != HDB_ACTION_BLOCK && action != HDB_ACTION_LOG) {
        return EINVAL;
    }

    if (!hdb_valid_name(source) || n > HDB_POLICY_CATEGORIES_MAX) {
        return HDB_ENAME;
    }

    for (size_t i = 0; i < n; i++) {
        if (!hdb_valid_category(categories[i])) {
            return HDB_ENAME;
        }
    }

    rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = hdb_source_exists(db, txn, source);
    if (rc == 0) {
        rc = hdb_policy_rec_get(txn, db->meta, source, &rec);
    }

    if (rc == 0) {
        rec.action = (uint32_t) action;
        rec.updated = (int64_t) time(NULL);
        memset(rec.categories, 0, sizeof(rec.categories));

        for (size_t i = 0; i < n; i++) {
            memcpy(rec.categories[i], categories[i], strlen(categories[i]));
        }

        rc = hdb_policy_rec_put(txn, db->meta, source, &rec);
    }

    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }

    return mdb_txn_commit(txn);
}

/* the staged entries of the source id in one type's database made live */
static int
hdb_promote_type(MDB_txn *txn, MDB_dbi dbi, const unsigned char id[4],
    uint64_t *n)
{
    int                   rc;
    MDB_val               key, val;
    MDB_cursor           *cur;
    unsigned char         kbuf[HDB_DIGEST_MAX];
    struct hdb_entry_rec  entry;

    rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0) {
        return rc;
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (val.mv_size != sizeof(entry) || key.mv_size > HDB_DIGEST_MAX) {
            rc = MDB_CORRUPTED;
            break;
        }

        memcpy(&entry, val.mv_data, sizeof(entry));

        if (memcmp(entry.source_id, id, 4) != 0
            || !(entry.generation & HDB_GEN_STAGED))
        {
            continue;
        }

        /*
         * Sorted duplicates cannot be rewritten in place; the new one
         * sorts where the deleted one was, so the walk goes on from it.
         * The key is copied first: the deletion may move the page.
         */
        memcpy(kbuf, key.mv_data, key.mv_size);
        key.mv_data = kbuf;

        rc = mdb_cursor_del(cur, 0);
        if (rc != 0) {
            break;
        }

        entry.generation &= ~HDB_GEN_STAGED;
        val.mv_data = &entry;
        val.mv_size = sizeof(entry);

        rc = mdb_cursor_put(cur, &key, &val, 0);
        if (rc != 0) {
            break;
        }

        (*n)++;
    }

    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* the source's staged videos made live */
static int
hdb_promote_videos(hdb_t *db, MDB_txn *txn, const unsigned char id[4],
    uint64_t *n)
{
    int                   rc;
    MDB_val               key, val;
    MDB_cursor           *cur;
    unsigned char        *copy;
    struct hdb_video_rec  rec;

    if (db->video == 0) {
        return 0;
    }

    rc = mdb_cursor_open(txn, db->video, &cur);
    if (rc != 0) {
        return rc;
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (val.mv_size < sizeof(rec)) {
            rc = MDB_CORRUPTED;
            break;
        }

        memcpy(&rec, val.mv_data, sizeof(rec));

        if (memcmp(rec.source_id, id, 4) != 0
            || !(rec.flags & HDB_VIDEO_STAGED))
        {
            continue;
        }

        /* the map's copy is read-only: the record is written anew */
        copy = malloc(val.mv_size);
        if (copy == NULL) {
            rc = ENOMEM;
            break;
        }

        rec.flags &= ~HDB_VIDEO_STAGED;
        memcpy(copy, val.mv_data, val.mv_size);
        memcpy(copy, &rec, sizeof(rec));
        val.mv_data = copy;

        rc = mdb_cursor_put(cur, &key, &val, MDB_CURRENT);
        free(copy);

        if (rc != 0) {
            break;
        }

        (*n)++;
    }

    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
hdb_promote(hdb_t *db, const char *source, uint64_t *n)
{
    int                    rc;
    uint64_t               count;
    MDB_val                key, val;
    MDB_txn               *txn;
    unsigned char          id[4];
    struct hdb_source_rec  src;
    struct hdb_policy_rec  pol;

    if (!hdb_valid_name(source)) {
        return HDB_ENAME;
    }

    rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    key.mv_data = (void *) source;
    key.mv_size = strlen(source);

    rc = mdb_get(txn, db->sources, &key, &val);
    if (rc == 0 && val.mv_size != sizeof(src)) {
        rc = MDB_CORRUPTED;
    }

    count = 0;

    if (rc == 0) {
        memcpy(&src, val.mv_data, sizeof(src));
        hdb_source_id_encode(src.id, id);

        for (int t = 0; rc == 0 && t < HDB_NTYPES; t++) {
            if (src.count[t]) {
                rc = hdb_promote_type(txn, db->types[t], id, &count);
            }
        }
    }

    if (rc == 0) {
        rc = hdb_promote_videos(db, txn, id, &count);
    }

    if (rc == 0) {
        rc = hdb_policy_rec_get(txn, db->meta, source, &pol);
    }

    if (rc == 0 && pol.staged) {
        pol.staged = 0;
        pol.staged_added = 0;
        pol.staged_at = 0;
        rc = hdb_policy_rec_put(txn, db->meta, source, &pol);
    }

    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }

    rc = mdb_txn_commit(txn);

    if (rc == 0 && n) {
        *n = count;
    }

    return rc;
}

/* every entry's own clear record deleted */
static int
hdb_flood_forget(hdb_t *db, MDB_txn *txn)
{
    int          rc;
    size_t       plen;
    MDB_val      key, val;
    MDB_cursor  *cur;

    plen = sizeof(HDB_META_FLOOD) - 1;

    rc = mdb_cursor_open(txn, db->meta, &cur);
    if (rc != 0) {
        return rc;
    }

    for ( ;; ) {
        key.mv_data = HDB_META_FLOOD;
        key.mv_size = plen;

        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
        if (rc != 0 || key.mv_size < plen
            || memcmp(key.mv_data, HDB_META_FLOOD, plen) != 0)
        {
            break;
        }

        rc = mdb_cursor_del(cur, 0);
        if (rc != 0) {
            break;
        }
    }

    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
hdb_flood_clear(hdb_t *db, const char *entry)
{
    int              rc;
    int64_t          now;
    MDB_val          key, val;
    MDB_txn         *txn;
    struct timespec  ts;
    char             k[HDB_META_KEY_MAX];

    if (entry[0] == '\0' || strlen(entry) > HDB_FLOOD_ENTRY_MAX) {
        return HDB_ENAME;
    }

    rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    if (strcmp(entry, "*") == 0) {
        /* "*" covers every clear before it: they go */
        rc = hdb_flood_forget(db, txn);
    }

    if (rc == 0) {
        clock_gettime(CLOCK_REALTIME, &ts);
        now = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        hdb_meta_key(HDB_META_FLOOD, entry, k, &key);
        val.mv_data = &now;
        val.mv_size = sizeof(now);
        rc = mdb_put(txn, db->meta, &key, &val, 0);
    }

    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }

    return mdb_txn_commit(txn);
}
