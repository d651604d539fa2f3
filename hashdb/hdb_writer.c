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

struct hdb_writer {
    hdb_t                  *db;
    MDB_txn                *txn;
    MDB_cursor             *cur[HDB_NTYPES];
    struct hdb_source_rec   rec;
    char                    name[HDB_SOURCE_MAX + 1];
    hdb_write_stats_t       stats;
    int64_t                 now;
};

static int hdb_name_char(int c);

static int
hdb_name_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int
hdb_valid_name(const char *name)
{
    size_t  len = strlen(name);

    if (len == 0 || len > HDB_SOURCE_MAX) {
        return 0;
    }

    for (size_t i = 0; i < len; i++) {
        if (!hdb_name_char((unsigned char) name[i])) {
            return 0;
        }
    }

    return 1;
}

static int
hdb_valid_category(const char *category)
{
    size_t  len = strlen(category);

    if (len > HDB_CATEGORY_MAX) {
        return 0;
    }

    for (size_t i = 0; i < len; i++) {
        if (!hdb_name_char((unsigned char) category[i])) {
            return 0;
        }
    }

    return 1;
}

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

    idkey.mv_data = "next_source_id";
    idkey.mv_size = sizeof("next_source_id") - 1;

    rc = mdb_get(w->txn, w->db->meta, &idkey, &val);
    if (rc != 0 || val.mv_size != sizeof(next_id)) {
        return rc ? rc : MDB_CORRUPTED;
    }

    memcpy(&next_id, val.mv_data, sizeof(next_id));

    memset(&w->rec, 0, sizeof(w->rec));
    w->rec.id = next_id;
    w->rec.created = w->now;

    next_id++;
    val.mv_data = &next_id;
    val.mv_size = sizeof(next_id);

    rc = mdb_put(w->txn, w->db->meta, &idkey, &val, 0);
    if (rc != 0) {
        return rc;
    }

    hdb_source_id_encode(w->rec.id, id);
    idkey.mv_data = id;
    idkey.mv_size = sizeof(id);

    return mdb_put(w->txn, w->db->source_ids, &idkey, &key, MDB_NOOVERWRITE);
}

int
hdb_writer_begin(hdb_t *db, const char *source, hdb_writer_t **out)
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
    w->now = (int64_t) time(NULL);
    strcpy(w->name, source);

    rc = mdb_txn_begin(db->env, NULL, 0, &w->txn);
    if (rc != 0) {
        free(w);
        return rc;
    }

    rc = hdb_writer_source(w);

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

/* adds or refreshes the (digest, source) entry of one digest */
static int
hdb_writer_put(hdb_writer_t *w, hdb_type_t type, const unsigned char *digest,
    const struct hdb_entry_rec *entry)
{
    int                   rc;
    MDB_val               key, val;
    struct hdb_entry_rec  probe, old;

    key.mv_data = (void *) digest;
    key.mv_size = hdb_type_size(type);

    memset(&probe, 0, sizeof(probe));
    memcpy(probe.source_id, entry->source_id, 4);
    val.mv_data = &probe;
    val.mv_size = sizeof(probe);

    rc = mdb_cursor_get(w->cur[type], &key, &val, MDB_GET_BOTH_RANGE);

    if (rc == 0 && val.mv_size == sizeof(old)) {
        memcpy(&old, val.mv_data, sizeof(old));

        if (memcmp(old.source_id, entry->source_id, 4) == 0) {
            w->stats.existing++;

            if (memcmp(old.category, entry->category, HDB_CATEGORY_MAX) == 0)
            {
                return 0;
            }

            /* a new category: keep the date the entry was first added */
            rc = mdb_cursor_del(w->cur[type], 0);
            if (rc != 0) {
                return rc;
            }

            probe = *entry;
            probe.added = old.added;
            val.mv_data = &probe;
            val.mv_size = sizeof(probe);

            return mdb_cursor_put(w->cur[type], &key, &val, 0);
        }

    } else if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    val.mv_data = (void *) entry;
    val.mv_size = sizeof(*entry);

    rc = mdb_cursor_put(w->cur[type], &key, &val, MDB_NODUPDATA);
    if (rc != 0) {
        return rc;
    }

    w->rec.count[type]++;
    w->stats.added++;

    return 0;
}

int
hdb_writer_add(hdb_writer_t *w, const hdb_row_t *row)
{
    int                   rc;
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

    added = (int64_t) w->stats.added;

    for (int t = 0; t < HDB_NTYPES; t++) {
        if (row->types & HDB_TYPE_BIT(t)) {
            rc = hdb_writer_put(w, (hdb_type_t) t, row->digests[t], &entry);
            if (rc != 0) {
                return rc;
            }
        }
    }

    w->rec.complete = w->rec.files ? (w->rec.complete & row->types)
                                   : row->types;
    w->stats.rows++;

    /* a row that only repeats listed digests is not another file */
    if ((int64_t) w->stats.added > added) {
        w->rec.files++;
    }

    return 0;
}

int
hdb_writer_commit(hdb_writer_t *w, hdb_write_stats_t *stats)
{
    int      rc;
    MDB_val  key, val;

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

    free(w);
}
