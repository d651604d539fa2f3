/*
 * The on-disk layout of a hash set: one LMDB environment (a directory
 * holding data.mdb and lock.mdb) with these named databases.
 *
 *   "meta"       key "schema"          -> uint32_t HDB_SCHEMA_VERSION
 *                key "next_source_id"  -> uint32_t
 *
 *   "sources"    key source name (1..HDB_SOURCE_MAX bytes)
 *                -> struct hdb_source_rec
 *
 *   "source_ids" key uint32_t source id, big-endian
 *                -> source name (so a match can name its list)
 *
 *   "md5", "sha1", "sha256"
 *                key raw digest bytes (16, 20, 32)
 *                -> struct hdb_entry_rec, MDB_DUPSORT | MDB_DUPFIXED:
 *                one duplicate per source that lists the digest.  The
 *                record starts with the big-endian source id, so the
 *                duplicates sort by source and one source's entry is
 *                found with MDB_GET_BOTH_RANGE.
 *
 * Integers other than the big-endian source ids are in host byte order:
 * LMDB files are not portable between byte orders anyway.
 */

#ifndef HDB_SCHEMA_H
#define HDB_SCHEMA_H

#include <stdint.h>

#include "hashdb.h"

#define HDB_SCHEMA_VERSION  1

#define HDB_DB_META        "meta"
#define HDB_DB_SOURCES     "sources"
#define HDB_DB_SOURCE_IDS  "source_ids"

/* names of the per-type databases, indexed by hdb_type_t */
extern const char *const hdb_type_db_names[HDB_NTYPES];

struct hdb_source_rec {
    uint32_t  id;
    uint32_t  flags;
    uint64_t  count[HDB_NTYPES];    /* entries per digest type */
    uint64_t  files;                /* rows that added an entry: files */
    uint32_t  complete;             /* types that every row carries */
    uint32_t  reserved;
    int64_t   created;              /* unix time */
    int64_t   updated;              /* unix time of the last change */
    uint64_t  seq;                  /* list sequence number (issue 4) */
};

struct hdb_entry_rec {
    unsigned char  source_id[4];            /* big-endian */
    uint32_t       added;                   /* unix time */
    char           category[HDB_CATEGORY_MAX];   /* NUL-padded */
};

/*
 * The LMDB map size: virtual address space, not disk.  64 GiB holds
 * several hundred million entries; data.mdb grows only as it is written.
 */
#define HDB_MAPSIZE  ((size_t) 64 << 30)

#define HDB_MAXREADERS  1024

#endif /* HDB_SCHEMA_H */
