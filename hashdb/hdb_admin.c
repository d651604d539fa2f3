/*
 * Small writes outside imports: the allow list, disabling a source,
 * trusted signing keys.  Each is one short write transaction.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hdb_internal.h"

static int
hdb_allow_key(hdb_type_t type, const unsigned char *digest, MDB_val *key,
    unsigned char *buf)
{
    if (type >= HDB_NTYPES) {
        return HDB_ETYPE;
    }

    key->mv_data = buf;
    key->mv_size = hdb_allow_digest_key_make(buf, type, digest);

    return 0;
}

/* a listed video's key: HDB_ALLOW_VIDEO, its source, NUL, its name */
static int
hdb_allow_video_key(const char *source, const char *video, MDB_val *key,
    unsigned char *buf)
{
    size_t  ns = strlen(source), nv = strlen(video);

    if (!hdb_valid_name(source) || !hdb_valid_video_name(video, nv)) {
        return HDB_ENAME;
    }

    key->mv_data = buf;
    key->mv_size = hdb_allow_video_key_make(buf, source, ns, video, nv);

    return 0;
}

static int
hdb_allow_put(hdb_t *db, MDB_val *key, const char *reason)
{
    int                   rc;
    size_t                n;
    MDB_val               val;
    MDB_txn              *txn;
    unsigned char         v[sizeof(struct hdb_allow_rec) + HDB_REASON_MAX];
    struct hdb_allow_rec  rec;

    n = strlen(reason);
    if (n > HDB_REASON_MAX) {
        return HDB_ENAME;
    }

    rec.added = (int64_t) time(NULL);
    memcpy(v, &rec, sizeof(rec));
    memcpy(v + sizeof(rec), reason, n);
    val.mv_data = v;
    val.mv_size = sizeof(rec) + n;

    rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = mdb_put(txn, db->allow, key, &val, 0);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }

    return mdb_txn_commit(txn);
}

static int
hdb_allow_del(hdb_t *db, MDB_val *key)
{
    int       rc;
    MDB_txn  *txn;

    rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = mdb_del(txn, db->allow, key, NULL);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }

    return mdb_txn_commit(txn);
}

int
hdb_allow_add(hdb_t *db, hdb_type_t type, const unsigned char *digest,
    const char *reason)
{
    int            rc;
    MDB_val        key;
    unsigned char  k[1 + HDB_DIGEST_MAX];

    rc = hdb_allow_key(type, digest, &key, k);

    return rc ? rc : hdb_allow_put(db, &key, reason);
}

int
hdb_allow_remove(hdb_t *db, hdb_type_t type, const unsigned char *digest)
{
    int            rc;
    MDB_val        key;
    unsigned char  k[1 + HDB_DIGEST_MAX];

    rc = hdb_allow_key(type, digest, &key, k);

    return rc ? rc : hdb_allow_del(db, &key);
}

int
hdb_allow_video_add(hdb_t *db, const char *source, const char *video,
    const char *reason)
{
    int            rc;
    MDB_val        key;
    unsigned char  k[HDB_ALLOW_VIDEO_KEY_MAX];

    rc = hdb_allow_video_key(source, video, &key, k);

    return rc ? rc : hdb_allow_put(db, &key, reason);
}

int
hdb_allow_video_remove(hdb_t *db, const char *source, const char *video)
{
    int            rc;
    MDB_val        key;
    unsigned char  k[HDB_ALLOW_VIDEO_KEY_MAX];

    rc = hdb_allow_video_key(source, video, &key, k);

    return rc ? rc : hdb_allow_del(db, &key);
}

int
hdb_source_set_disabled(hdb_t *db, const char *source, int disabled)
{
    return hdb_source_set_flag(db, source, HDB_SOURCE_DISABLED, disabled);
}

int
hdb_source_set_flag(hdb_t *db, const char *source, unsigned flag, int on)
{
    int                    rc;
    MDB_val                key, val;
    MDB_txn               *txn;
    struct hdb_source_rec  rec;

    key.mv_data = (void *) source;
    key.mv_size = strlen(source);

    rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = mdb_get(txn, db->sources, &key, &val);
    if (rc == 0 && val.mv_size != sizeof(rec)) {
        rc = MDB_CORRUPTED;
    }

    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }

    memcpy(&rec, val.mv_data, sizeof(rec));

    if (on) {
        rec.flags |= flag;
    } else {
        rec.flags &= ~flag;
    }

    rec.updated = (int64_t) time(NULL);
    val.mv_data = &rec;

    rc = mdb_put(txn, db->sources, &key, &val, 0);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }

    return mdb_txn_commit(txn);
}

int
hdb_key_add(hdb_t *db, const char *source, const unsigned char *pub)
{
    int             rc;
    size_t          n;
    MDB_val         key, val;
    MDB_txn        *txn;
    unsigned char  *keys;

    if (!hdb_valid_name(source)) {
        return HDB_ENAME;
    }

    key.mv_data = (void *) source;
    key.mv_size = strlen(source);

    rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = mdb_get(txn, db->keys, &key, &val);

    if (rc == MDB_NOTFOUND) {
        val.mv_size = 0;
        val.mv_data = NULL;

    } else if (rc != 0 || val.mv_size % HDB_KEY_SIZE) {
        mdb_txn_abort(txn);
        return rc ? rc : MDB_CORRUPTED;
    }

    n = val.mv_size;

    for (size_t i = 0; i < n; i += HDB_KEY_SIZE) {
        if (memcmp((unsigned char *) val.mv_data + i, pub, HDB_KEY_SIZE) == 0)
        {
            mdb_txn_abort(txn);     /* trusted already */
            return 0;
        }
    }

    keys = malloc(n + HDB_KEY_SIZE);
    if (keys == NULL) {
        mdb_txn_abort(txn);
        return ENOMEM;
    }

    if (n) {
        memcpy(keys, val.mv_data, n);
    }
    memcpy(keys + n, pub, HDB_KEY_SIZE);

    val.mv_data = keys;
    val.mv_size = n + HDB_KEY_SIZE;

    rc = mdb_put(txn, db->keys, &key, &val, 0);
    free(keys);

    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }

    return mdb_txn_commit(txn);
}
