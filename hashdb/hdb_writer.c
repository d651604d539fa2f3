/*
 * The write side: one LMDB write transaction adds the rows of one source.
 * Nothing is visible to readers until hdb_writer_commit(); an abort, a
 * crash or a kill leaves the previous state.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hdb_internal.h"

/* loads the source's record, or registers a new source with a fresh id */
static int
hdb_writer_source(hdb_writer_t *w)
{
    int            rc;
    MDB_val        key, val, idkey;
    uint32_t       next_id;
    unsigned char  id[4];

    key.mv_data = w->name;
    key.mv_size = strlen(w->name);

    rc = mdb_get(w->txn, w->db->sources, &key, &val);

    if (rc == 0) {
        if (val.mv_size != sizeof(w->rec)) {
            return MDB_CORRUPTED;
        }

        memcpy(&w->rec, val.mv_data, sizeof(w->rec));
        return 0;
    }

    if (rc != MDB_NOTFOUND) {
        return rc;
    }

    /* made with the set */
    rc = hdb_meta_get_u32(w->db, w->txn, "next_source_id", &next_id);
    if (rc != 0) {
        return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    }

    memset(&w->rec, 0, sizeof(w->rec));
    w->rec.id = next_id;
    w->rec.created = w->now;

    rc = hdb_meta_put_u32(w->db, w->txn, "next_source_id", next_id + 1);
    if (rc != 0) {
        return rc;
    }

    hdb_source_id_encode(w->rec.id, id);
    idkey.mv_data = id;
    idkey.mv_size = sizeof(id);

    return mdb_put(w->txn, w->db->source_ids, &idkey, &key, MDB_NOOVERWRITE);
}

int
hdb_writer_begin(hdb_t *db, const char *source, int mode, hdb_writer_t **out)
{
    int            rc;
    hdb_writer_t  *w;

    *out = NULL;

    if (!hdb_valid_name(source)) {
        return HDB_ENAME;
    }

    if (db->flags & HDB_OPEN_RDONLY) {
        return EACCES;
    }

    w = calloc(1, sizeof(hdb_writer_t));
    if (w == NULL) {
        return ENOMEM;
    }

    w->db = db;
    w->mode = mode;
    w->now = (int64_t) time(NULL);
    strcpy(w->name, source);

    rc = mdb_txn_begin(db->env, NULL, 0, &w->txn);
    if (rc != 0) {
        free(w);
        return rc;
    }

    rc = hdb_writer_source(w);

    w->seq_before = w->rec.seq;
    w->generation = w->rec.generation;

    if (mode == HDB_WRITE_REPLACE) {
        /*
         * A full sync stamps what it lists with a new generation; the
         * sweep at commit removes the rest.
         */
        w->generation++;
        w->rec.files = 0;
        w->rec.complete = 0;
    }

    for (int t = 0; rc == 0 && t < HDB_NTYPES; t++) {
        rc = mdb_cursor_open(w->txn, db->types[t], &w->cur[t]);
    }

    if (rc != 0) {
        hdb_writer_abort(w);
        return rc;
    }

    *out = w;
    return 0;
}

/* positions the cursor on the source's entry for a digest */
static int
hdb_writer_find(hdb_writer_t *w, hdb_type_t type, const unsigned char *digest,
    struct hdb_entry_rec *old)
{
    int                   rc;
    MDB_val               key, val;
    struct hdb_entry_rec  probe;

    key.mv_data = (void *) digest;
    key.mv_size = hdb_type_size(type);

    memset(&probe, 0, sizeof(probe));
    hdb_source_id_encode(w->rec.id, probe.source_id);
    val.mv_data = &probe;
    val.mv_size = sizeof(probe);

    rc = mdb_cursor_get(w->cur[type], &key, &val, MDB_GET_BOTH_RANGE);
    if (rc != 0) {
        return rc;
    }

    if (val.mv_size != sizeof(*old)) {
        return MDB_CORRUPTED;
    }

    memcpy(old, val.mv_data, sizeof(*old));

    return memcmp(old->source_id, probe.source_id, 4) == 0 ? 0
                                                          : MDB_NOTFOUND;
}

/*
 * Adds or refreshes the (digest, source) entry of one digest.  *fresh is
 * set when the entry is new to this generation, not when this write had
 * already listed it.
 */
static int
hdb_writer_put(hdb_writer_t *w, hdb_type_t type, const unsigned char *digest,
    const struct hdb_entry_rec *entry, int *fresh)
{
    int                   rc;
    MDB_val               key, val;
    uint32_t              gen;
    struct hdb_entry_rec  old, rec;

    key.mv_data = (void *) digest;
    key.mv_size = hdb_type_size(type);

    rc = hdb_writer_find(w, type, digest, &old);

    if (rc == 0) {
        w->stats.existing++;

        /* a shadow update leaves a listed entry live or staged as it was */
        gen = w->generation;
        if (w->stage) {
            gen |= old.generation & HDB_GEN_STAGED;
        }

        if (HDB_GEN(old.generation) != w->generation) {
            *fresh = 1;

        } else if (old.generation == gen
                   && memcmp(old.category, entry->category, HDB_CATEGORY_MAX)
                      == 0)
        {
            return 0;
        }

        /*
         * A new category or generation.  Sorted duplicates cannot be
         * rewritten in place; the date the entry was first added stays.
         */
        rc = mdb_cursor_del(w->cur[type], 0);
        if (rc != 0) {
            return rc;
        }

        rec = *entry;
        rec.added = old.added;
        rec.generation = gen;
        val.mv_data = &rec;
        val.mv_size = sizeof(rec);

        return mdb_cursor_put(w->cur[type], &key, &val, 0);
    }

    if (rc != MDB_NOTFOUND) {
        return rc;
    }

    if (type == HDB_PDQ) {
        /* the first to list a PDQ hash (image or frame) files it */
        rc = hdb_pdq_listed(w->db, w->txn, digest);

        if (rc == 0) {
            rc = hdb_pdq_touch(&w->pdq, digest, 0);
        }

        if (rc < 0) {
            return rc;
        }
    }

    rec = *entry;
    if (w->stage) {
        rec.generation |= HDB_GEN_STAGED;
        w->staged++;
    }

    val.mv_data = &rec;
    val.mv_size = sizeof(rec);

    rc = mdb_cursor_put(w->cur[type], &key, &val, MDB_NODUPDATA);
    if (rc != 0) {
        return rc;
    }

    w->rec.count[type]++;
    w->stats.added++;
    *fresh = 1;

    return 0;
}

int
hdb_writer_add(hdb_writer_t *w, const hdb_row_t *row)
{
    int                   rc, fresh;
    int64_t               added;
    struct hdb_entry_rec  entry;

    if (row->types == 0 || (row->types & ~HDB_ALL_TYPES)) {
        return HDB_ETYPE;
    }

    if (row->category && !hdb_valid_category(row->category)) {
        return HDB_ENAME;
    }

    memset(&entry, 0, sizeof(entry));
    hdb_source_id_encode(w->rec.id, entry.source_id);

    added = row->added ? row->added : w->now;
    entry.added = (uint32_t) (added < 0 ? 0 : added);

    if (row->category) {
        memcpy(entry.category, row->category, strlen(row->category));
    }

    entry.generation = w->generation;
    fresh = 0;

    for (int t = 0; t < HDB_NTYPES; t++) {
        if (row->types & HDB_TYPE_BIT(t)) {
            rc = hdb_writer_put(w, (hdb_type_t) t, row->digests[t], &entry,
                                &fresh);
            if (rc != 0) {
                return rc;
            }
        }
    }

    w->rec.complete = w->rec.files ? (w->rec.complete & row->types)
                                   : row->types;
    w->stats.rows++;

    /* a row that only repeats listed digests is not another file */
    if (fresh) {
        w->rec.files++;
    }

    return 0;
}

/*
 * Before the entry under the cursor is deleted: a PDQ hash that loses its
 * last entry leaves the index.
 */
static int
hdb_writer_unindex(hdb_writer_t *w, hdb_type_t type, const MDB_val *key)
{
    if (type != HDB_PDQ) {
        return 0;
    }

    /* the commit sees whether any image or frame entry is left */
    return hdb_pdq_touch(&w->pdq, key->mv_data, 1);
}

int
hdb_writer_remove(hdb_writer_t *w, const hdb_row_t *row)
{
    int                   rc, removed;
    MDB_val               key;
    struct hdb_entry_rec  old;

    if (row->types == 0 || (row->types & ~HDB_ALL_TYPES)) {
        return HDB_ETYPE;
    }

    removed = 0;

    for (int t = 0; t < HDB_NTYPES; t++) {
        if (!(row->types & HDB_TYPE_BIT(t))) {
            continue;
        }

        rc = hdb_writer_find(w, (hdb_type_t) t, row->digests[t], &old);

        if (rc == MDB_NOTFOUND) {
            continue;
        }

        if (rc == 0) {
            key.mv_data = (void *) row->digests[t];
            key.mv_size = hdb_type_size((hdb_type_t) t);
            rc = hdb_writer_unindex(w, (hdb_type_t) t, &key);
        }

        if (rc == 0) {
            rc = mdb_cursor_del(w->cur[t], 0);
        }

        if (rc != 0) {
            return rc;
        }

        w->rec.count[t]--;
        w->stats.removed++;
        removed = 1;
    }

    w->stats.rows++;

    if (removed && w->rec.files) {
        w->rec.files--;
    }

    return 0;
}

uint64_t
hdb_writer_seq(const hdb_writer_t *w)
{
    return w->seq_before;
}

int
hdb_writer_set_pdq_distance(hdb_writer_t *w, unsigned distance)
{
    if (distance > HDB_PDQ_DISTANCE_MAX) {
        return EINVAL;
    }

    w->rec.pdq_distance = distance;
    return 0;
}

void
hdb_writer_set_seq(hdb_writer_t *w, uint64_t seq)
{
    w->rec.seq = seq;
}

/*
 * Deletes the item under the cursor and moves to the one after it.  The
 * next item is found again by seeking from the deleted key and data,
 * rather than trusting where LMDB leaves a cursor after a delete.
 */
static int
hdb_writer_del_next(MDB_cursor *cur, MDB_val *key, MDB_val *val)
{
    int            rc;
    size_t         klen;
    unsigned char  kbuf[HDB_DIGEST_MAX];
    unsigned char  dbuf[sizeof(struct hdb_entry_rec)];

    klen = key->mv_size;
    memcpy(kbuf, key->mv_data, klen);
    memcpy(dbuf, val->mv_data, sizeof(dbuf));

    rc = mdb_cursor_del(cur, 0);
    if (rc != 0) {
        return rc;
    }

    /* a later duplicate of the same digest */
    key->mv_data = kbuf;
    key->mv_size = klen;
    val->mv_data = dbuf;
    val->mv_size = sizeof(dbuf);

    rc = mdb_cursor_get(cur, key, val, MDB_GET_BOTH_RANGE);
    if (rc != MDB_NOTFOUND) {
        return rc;
    }

    /* else the first digest after it */
    key->mv_data = kbuf;
    key->mv_size = klen;

    rc = mdb_cursor_get(cur, key, val, MDB_SET_RANGE);

    if (rc == 0 && key->mv_size == klen
        && memcmp(key->mv_data, kbuf, klen) == 0)
    {
        /* earlier duplicates of the digest remain: skip past them */
        rc = mdb_cursor_get(cur, key, val, MDB_NEXT_NODUP);
    }

    return rc;
}

/*
 * The end of a full sync: entries of the source that the new list did
 * not name are removed, and the source's counts are recounted.  One pass
 * over each digest type the source had or has.
 */
static int
hdb_writer_sweep(hdb_writer_t *w)
{
    int                   rc;
    MDB_val               key, val;
    unsigned char         id[4];
    struct hdb_entry_rec  entry;

    hdb_source_id_encode(w->rec.id, id);

    for (int t = 0; t < HDB_NTYPES; t++) {
        if (w->rec.count[t] == 0) {
            continue;
        }

        w->rec.count[t] = 0;

        rc = mdb_cursor_get(w->cur[t], &key, &val, MDB_FIRST);

        while (rc == 0) {
            if (val.mv_size != sizeof(entry)) {
                return MDB_CORRUPTED;
            }

            memcpy(&entry, val.mv_data, sizeof(entry));

            if (memcmp(entry.source_id, id, 4) != 0
                || HDB_GEN(entry.generation) == w->generation)
            {
                if (memcmp(entry.source_id, id, 4) == 0) {
                    w->rec.count[t]++;
                }

                rc = mdb_cursor_get(w->cur[t], &key, &val, MDB_NEXT);
                continue;
            }

            rc = hdb_writer_unindex(w, (hdb_type_t) t, &key);
            if (rc != 0) {
                return rc;
            }

            rc = hdb_writer_del_next(w->cur[t], &key, &val);
            w->stats.removed++;
        }

        if (rc != MDB_NOTFOUND) {
            return rc;
        }
    }

    return 0;
}

void
hdb_writer_stage(hdb_writer_t *w)
{
    w->stage = 1;
}

/*
 * The source's policy record says whether a shadow update awaits
 * promote: one that staged something sets it; a full sync that is not
 * staged leaves nothing staged (it lists all it keeps as live) and
 * clears it.
 */
static int
hdb_writer_note_staged(hdb_writer_t *w)
{
    int                    rc;
    struct hdb_policy_rec  pol;

    if (!(w->stage && w->staged)
        && !(!w->stage && w->mode == HDB_WRITE_REPLACE))
    {
        return 0;
    }

    rc = hdb_policy_rec_get(w->txn, w->db->meta, w->name, &pol);
    if (rc != 0) {
        return rc;
    }

    if (w->stage) {
        pol.staged = 1;
        pol.staged_added += w->staged;
        pol.staged_at = w->now;

    } else if (pol.staged) {
        pol.staged = 0;
        pol.staged_added = 0;
        pol.staged_at = 0;

    } else {
        return 0;
    }

    return hdb_policy_rec_put(w->txn, w->db->meta, w->name, &pol);
}

int
hdb_writer_commit(hdb_writer_t *w, hdb_write_stats_t *stats)
{
    int      rc;
    MDB_val  key, val;

    if (w->mode == HDB_WRITE_REPLACE) {
        rc = hdb_writer_sweep(w);
        if (rc != 0) {
            hdb_writer_abort(w);
            return rc;
        }

        rc = hdb_video_sweep(w);
        if (rc != 0) {
            hdb_writer_abort(w);
            return rc;
        }

        w->rec.generation = w->generation;
    }

    rc = hdb_pdq_index_commit(w->db, w->txn, w->pdq);
    if (rc == 0) {
        rc = hdb_writer_note_staged(w);
    }

    if (rc != 0) {
        hdb_writer_abort(w);
        return rc;
    }

    w->rec.updated = w->now;

    key.mv_data = w->name;
    key.mv_size = strlen(w->name);
    val.mv_data = &w->rec;
    val.mv_size = sizeof(w->rec);

    rc = mdb_put(w->txn, w->db->sources, &key, &val, 0);

    if (rc != 0) {
        hdb_writer_abort(w);
        return rc;
    }

    for (int t = 0; t < HDB_NTYPES; t++) {
        mdb_cursor_close(w->cur[t]);
        w->cur[t] = NULL;
    }

    rc = mdb_txn_commit(w->txn);
    w->txn = NULL;

    if (rc == 0 && stats) {
        *stats = w->stats;
    }

    hdb_writer_abort(w);
    return rc;
}

void
hdb_writer_abort(hdb_writer_t *w)
{
    if (w == NULL) {
        return;
    }

    for (int t = 0; t < HDB_NTYPES; t++) {
        if (w->cur[t]) {
            mdb_cursor_close(w->cur[t]);
        }
    }

    if (w->txn) {
        mdb_txn_abort(w->txn);
    }

    hdb_pdq_pending_free(w->pdq);
    free(w);
}
