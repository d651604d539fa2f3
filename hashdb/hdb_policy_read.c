/*
 * Policies, the read side: what a source's matches do on this node (the
 * one function every lookup asks, hdb_entry_action()), the reader's
 * scope, and when a flood demotion was lifted.  See hashdb.h and
 * hdb_schema.h; the writes are in hdb_policy_write.c.
 */

#include <errno.h>
#include <string.h>

#include "hdb_internal.h"

const char *
hdb_action_name(int action)
{
    switch (action) {
    case HDB_ACTION_BLOCK:
        return "block";
    case HDB_ACTION_SHADOW:
        return "shadow";
    case HDB_ACTION_LOG:
        return "log";
    }

    return "?";
}

/* "policy/NAME" or "flood/ENTRY" into buf, as a key */
void
hdb_meta_key(const char *prefix, const char *name, char *buf, MDB_val *key)
{
    size_t  p = strlen(prefix), n = strlen(name);

    memcpy(buf, prefix, p);
    memcpy(buf + p, name, n);
    key->mv_data = buf;
    key->mv_size = p + n;
}

int
hdb_policy_rec_get(MDB_txn *txn, MDB_dbi meta, const char *source,
    struct hdb_policy_rec *rec)
{
    int      rc;
    MDB_val  key, val;
    char     k[sizeof(HDB_META_POLICY) + HDB_SOURCE_MAX];

    memset(rec, 0, sizeof(*rec));

    if (strlen(source) > HDB_SOURCE_MAX) {
        return HDB_ENAME;
    }

    hdb_meta_key(HDB_META_POLICY, source, k, &key);

    rc = mdb_get(txn, meta, &key, &val);

    if (rc == MDB_NOTFOUND) {
        return 0;
    }

    if (rc != 0) {
        return rc;
    }

    if (val.mv_size != sizeof(*rec)) {
        return MDB_CORRUPTED;
    }

    memcpy(rec, val.mv_data, sizeof(*rec));
    return 0;
}

/* 1 if the source's record exists in txn */
int
hdb_source_exists(hdb_t *db, MDB_txn *txn, const char *source)
{
    MDB_val  key, val;

    key.mv_data = (void *) source;
    key.mv_size = strlen(source);

    return mdb_get(txn, db->sources, &key, &val);
}

int
hdb_reader_policy(hdb_reader_t *rd, const char *source, hdb_policy_t *p)
{
    int                    rc;
    struct hdb_policy_rec  rec;

    memset(p, 0, sizeof(*p));

    rc = hdb_source_exists(rd->db, rd->txn, source);
    if (rc == 0) {
        rc = hdb_policy_rec_get(rd->txn, rd->db->meta, source, &rec);
    }
    if (rc != 0) {
        return rc;
    }

    p->action = rec.action == HDB_ACTION_LOG ? HDB_ACTION_LOG
                                             : HDB_ACTION_BLOCK;
    p->updated = rec.updated;
    p->staged = rec.staged != 0;
    p->staged_added = rec.staged_added;
    p->staged_at = rec.staged_at;

    for (size_t i = 0; i < HDB_POLICY_CATEGORIES_MAX; i++) {
        if (rec.categories[i][0] == '\0') {
            break;
        }

        memcpy(p->categories[i], rec.categories[i], HDB_CATEGORY_MAX);
        p->ncategories++;
    }

    return 0;
}

void
hdb_reader_scope(hdb_reader_t *rd, const char *const *names, size_t n)
{
    rd->scope = n ? names : NULL;
    rd->nscope = names ? n : 0;
}

int
hdb_entry_action(hdb_reader_t *rd, const char *source,
    const struct hdb_source_rec *rec, const char *category, int staged,
    int *action)
{
    int                    rc;
    size_t                 i;
    struct hdb_policy_rec  pol;

    *action = -1;

    if (rec->flags & HDB_SOURCE_DISABLED) {
        return 0;
    }

    if (rd->scope) {
        for (i = 0; i < rd->nscope; i++) {
            if (strcmp(rd->scope[i], source) == 0) {
                break;
            }
        }

        if (i == rd->nscope) {
            return 0;
        }
    }

    rc = hdb_policy_rec_get(rd->txn, rd->db->meta, source, &pol);
    if (rc != 0) {
        return rc;
    }

    if (pol.action == HDB_ACTION_LOG) {
        *action = HDB_ACTION_LOG;
        return 0;
    }

    if (pol.categories[0][0]) {
        for (i = 0; i < HDB_POLICY_CATEGORIES_MAX; i++) {
            if (pol.categories[i][0] == '\0') {
                i = HDB_POLICY_CATEGORIES_MAX;
                break;
            }

            if (memcmp(pol.categories[i], category, HDB_CATEGORY_MAX) == 0) {
                break;
            }
        }

        if (i == HDB_POLICY_CATEGORIES_MAX) {
            *action = HDB_ACTION_LOG;
            return 0;
        }
    }

    *action = staged ? HDB_ACTION_SHADOW : HDB_ACTION_BLOCK;
    return 0;
}

/* one entry's clear time, 0 if none */
static int
hdb_flood_get(hdb_reader_t *rd, const char *entry, int64_t *when)
{
    int      rc;
    MDB_val  key, val;
    char     k[HDB_META_KEY_MAX];

    *when = 0;

    if (strlen(entry) > HDB_FLOOD_ENTRY_MAX) {
        return 0;
    }

    hdb_meta_key(HDB_META_FLOOD, entry, k, &key);

    rc = mdb_get(rd->txn, rd->db->meta, &key, &val);

    if (rc == MDB_NOTFOUND) {
        return 0;
    }

    if (rc != 0) {
        return rc;
    }

    if (val.mv_size != sizeof(*when)) {
        return MDB_CORRUPTED;
    }

    memcpy(when, val.mv_data, sizeof(*when));
    return 0;
}

int
hdb_reader_flood_cleared(hdb_reader_t *rd, const char *entry, int64_t *when)
{
    int      rc;
    int64_t  all;

    rc = hdb_flood_get(rd, entry, when);
    if (rc == 0) {
        rc = hdb_flood_get(rd, "*", &all);
    }

    if (rc == 0 && all > *when) {
        *when = all;
    }

    return rc;
}
