/*
 * Opening a hash set: the LMDB environment, its named databases and the
 * schema version check.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hdb_internal.h"

_Static_assert(HDB_NOTFOUND == MDB_NOTFOUND,
               "HDB_NOTFOUND is LMDB's MDB_NOTFOUND");

static int hdb_env_new(hdb_t *db);
static int hdb_open_dbs(hdb_t *db, MDB_txn *txn);
static int hdb_check_schema(hdb_t *db, MDB_txn *txn);
static int hdb_open_video_dbs(hdb_t *db, MDB_txn *txn);

int
hdb_open(hdb_t **out, const char *path, unsigned flags)
{
    return hdb_create(out, path, flags, 0);
}


int
hdb_create(hdb_t **out, const char *path, unsigned flags, size_t mapsize)
{
    int        rc;
    hdb_t     *db;
    MDB_txn   *txn;
    unsigned   envflags;
    mdb_filehandle_t  fd;
    struct stat  st;

    *out = NULL;

    db = calloc(1, sizeof(hdb_t));
    if (db == NULL) {
        return ENOMEM;
    }

    db->flags = flags;
    db->path = strdup(path);
    if (db->path == NULL) {
        free(db);
        return ENOMEM;
    }

    if ((flags & HDB_OPEN_CREATE) && mkdir(path, 0750) != 0
        && errno != EEXIST)
    {
        rc = errno;
        goto failed;
    }

    rc = hdb_env_new(db);
    if (rc != 0) {
        goto failed;
    }

    /*
     * Without a size LMDB takes the one stored in the environment: the
     * last writer's.  Only a new hash set gets one from us.
     */
    if (rc == 0 && (flags & HDB_OPEN_CREATE)) {
        rc = mdb_env_set_mapsize(db->env, mapsize ? mapsize : HDB_MAPSIZE_MIN);
    }

    if (rc != 0) {
        goto failed;
    }

    /*
     * MDB_NOTLS ties a read transaction to its object, not to the thread,
     * so that a reader can be handed to a thread pool.  The files are not
     * world-readable: a list of known material is itself sensitive.
     */
    envflags = MDB_NOTLS;
    if (flags & HDB_OPEN_RDONLY) {
        envflags |= MDB_RDONLY;
    }

    if (flags & HDB_OPEN_NORDAHEAD) {
        envflags |= MDB_NORDAHEAD;
    }

    /*
     * A reader maps room for any growth up front (HDB_MAP_RESERVE): the
     * updater's commits then never make it remap, which it could only do
     * with none of the process's transactions active.  If the address
     * space is refused (a ulimit -v), it maps what the set says, as
     * LMDB does, and may remap when the set grows.
     */
    if ((flags & HDB_OPEN_RDONLY) && (flags & HDB_OPEN_THREADS)
        && HDB_MAP_RESERVE != 0)
    {
        rc = mdb_env_set_mapsize(db->env, HDB_MAP_RESERVE);
        if (rc == 0) {
            rc = mdb_env_open(db->env, path, envflags, 0640);
            db->reserved = rc == 0;
        }

        if (rc == ENOMEM) {
            mdb_env_close(db->env);
            db->env = NULL;
            rc = hdb_env_new(db);
            if (rc == 0) {
                rc = mdb_env_open(db->env, path, envflags, 0640);
            }
        }

    } else {
        rc = mdb_env_open(db->env, path, envflags, 0640);
    }

    if (rc == ENOENT && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* a directory without data.mdb: say what it is not */
        rc = HDB_ESCHEMA;
    }

    if (rc != 0) {
        goto failed;
    }

    if (mdb_env_get_fd(db->env, &fd) == 0 && fstat(fd, &st) == 0) {
        db->file_id = ((uint64_t) st.st_dev << 40)
                      ^ (uint64_t) st.st_ino * 0x9e3779b97f4a7c15ULL;
    }

    rc = mdb_txn_begin(db->env, NULL,
                       (flags & HDB_OPEN_RDONLY) ? MDB_RDONLY : 0, &txn);
    if (rc != 0) {
        goto failed;
    }

    rc = hdb_open_dbs(db, txn);
    if (rc == 0) {
        rc = hdb_check_schema(db, txn);
    }

    if (rc != 0) {
        mdb_txn_abort(txn);
        goto failed;
    }

    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        goto failed;
    }

    *out = db;
    return 0;

failed:

    hdb_close(db);
    return rc;
}

/* an LMDB environment with our limits, not opened yet */
static int
hdb_env_new(hdb_t *db)
{
    int  rc;

    rc = mdb_env_create(&db->env);
    if (rc != 0) {
        db->env = NULL;
        return rc;
    }

    rc = mdb_env_set_maxdbs(db->env, 16);
    if (rc == 0) {
        rc = mdb_env_set_maxreaders(db->env, HDB_MAXREADERS);
    }

    return rc;
}


static int
hdb_open_dbs(hdb_t *db, MDB_txn *txn)
{
    int       rc;
    unsigned  create;

    create = (db->flags & HDB_OPEN_CREATE) ? MDB_CREATE : 0;

    rc = mdb_dbi_open(txn, HDB_DB_META, create, &db->meta);
    if (rc == 0) {
        rc = mdb_dbi_open(txn, HDB_DB_SOURCES, create, &db->sources);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, HDB_DB_SOURCE_IDS, create, &db->source_ids);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, HDB_DB_ALLOW, create, &db->allow);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, HDB_DB_KEYS, create, &db->keys);
    }

    for (int t = 0; rc == 0 && t < HDB_NTYPES; t++) {
        rc = mdb_dbi_open(txn, hdb_type_db_names[t],
                          create | MDB_DUPSORT | MDB_DUPFIXED, &db->types[t]);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, HDB_DB_PDQ_IX, create, &db->pdq_ix);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, HDB_DB_PDQ_ID, create | MDB_INTEGERKEY,
                          &db->pdq_id);
    }
    if (rc == 0) {
        /* schema 3: a writer that opens schema 2 makes it to upgrade */
        rc = mdb_dbi_open(txn, HDB_DB_PDQ_FREE,
                          ((db->flags & HDB_OPEN_RDONLY) ? 0 : MDB_CREATE)
                          | MDB_INTEGERKEY, &db->pdq_free);
        if (rc == MDB_NOTFOUND) {
            db->pdq_free = 0;
            rc = 0;
        }
    }

    if (rc == 0) {
        rc = hdb_open_video_dbs(db, txn);
    }

    /* a missing named database: an empty environment, or not ours */
    return rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE ? HDB_ESCHEMA : rc;
}

/*
 * The video tables came after schema 2's first sets: a writer makes them
 * where they are missing; a reader that finds none matches no video
 * (db->video stays 0; nginx sees them from its next reload).
 */
static int
hdb_open_video_dbs(hdb_t *db, MDB_txn *txn)
{
    int       rc;
    unsigned  create;

    create = (db->flags & HDB_OPEN_RDONLY) ? 0 : MDB_CREATE;

    rc = mdb_dbi_open(txn, HDB_DB_VIDEO, create | MDB_INTEGERKEY, &db->video);
    if (rc == 0) {
        rc = mdb_dbi_open(txn, HDB_DB_VIDEO_NAME, create, &db->video_name);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, HDB_DB_VPDQ,
                          create | MDB_DUPSORT | MDB_DUPFIXED, &db->vpdq);
    }

    if (rc == MDB_NOTFOUND && !create) {
        db->video = 0;
        db->video_name = 0;
        db->vpdq = 0;
        return 0;
    }

    return rc;
}

static int
hdb_check_schema(hdb_t *db, MDB_txn *txn)
{
    int       rc;
    uint32_t  version;

    rc = hdb_meta_get_u32(db, txn, "schema", &version);

    if (rc == MDB_NOTFOUND && (db->flags & HDB_OPEN_CREATE)) {
        rc = hdb_meta_put_u32(db, txn, "schema", HDB_SCHEMA_VERSION);
        if (rc == 0) {
            rc = hdb_meta_put_u32(db, txn, "next_source_id", 1);
        }
        if (rc == 0) {
            rc = hdb_meta_put_u32(db, txn, "next_pdq_id", 1);
        }

        return rc;
    }

    if (rc == MDB_NOTFOUND || rc == MDB_CORRUPTED) {
        return HDB_ESCHEMA;
    }

    if (rc != 0) {
        return rc;
    }

    if (version == HDB_SCHEMA_OLD) {
        if (!(db->flags & HDB_OPEN_UPGRADE)
            || (db->flags & HDB_OPEN_RDONLY))
        {
            return HDB_EOLD;
        }

        return 0;               /* for hdb_upgrade(), before any use */
    }

    return version == HDB_SCHEMA_VERSION && db->pdq_free ? 0 : HDB_ESCHEMA;
}

int
hdb_meta_get_u32(hdb_t *db, MDB_txn *txn, const char *name, uint32_t *v)
{
    int      rc;
    MDB_val  key, val;

    key.mv_data = (void *) name;
    key.mv_size = strlen(name);

    rc = mdb_get(txn, db->meta, &key, &val);
    if (rc != 0) {
        return rc;
    }

    if (val.mv_size != sizeof(*v)) {
        return MDB_CORRUPTED;
    }

    memcpy(v, val.mv_data, sizeof(*v));
    return 0;
}

int
hdb_meta_put_u32(hdb_t *db, MDB_txn *txn, const char *name, uint32_t v)
{
    MDB_val  key, val;

    key.mv_data = (void *) name;
    key.mv_size = strlen(name);
    val.mv_data = &v;
    val.mv_size = sizeof(v);

    return mdb_put(txn, db->meta, &key, &val, 0);
}

void
hdb_close(hdb_t *db)
{
    if (db == NULL) {
        return;
    }

    if (db->env) {
        mdb_env_close(db->env);
    }

    free(db->path);
    free(db);
}

const char *
hdb_path(const hdb_t *db)
{
    return db->path;
}


int
hdb_grow(hdb_t *db)
{
    MDB_envinfo  info;

    mdb_env_info(db->env, &info);

    return mdb_env_set_mapsize(db->env, 2 * info.me_mapsize);
}


int
hdb_map_reserved(const hdb_t *db)
{
    return db->reserved;
}


size_t
hdb_mapsize(hdb_t *db)
{
    MDB_envinfo  info;

    mdb_env_info(db->env, &info);

    return info.me_mapsize;
}
