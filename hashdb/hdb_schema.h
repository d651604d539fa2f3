/*
 * The on-disk layout of a hash set: one LMDB environment (a directory
 * holding data.mdb and lock.mdb) with these named databases.
 *
 *   "meta"       key "schema"          -> uint32_t HDB_SCHEMA_VERSION
 *                key "next_source_id"  -> uint32_t
 *                key "next_pdq_id"     -> uint32_t
 *                key "policy/" + source name -> struct hdb_policy_rec
 *                key "flood/" + entry name ("sha256:HEX", "pdq:HEX",
 *                "video:NAME", "*") -> int64_t: when its flood demotions
 *                were lifted (hdb_flood_clear()), in ms since the epoch
 *
 *                Policies and flood clears are in "meta" rather than in
 *                databases of their own: a worker that opened the set
 *                before they existed sees them at its next transaction
 *                (a named database made later is seen only when the set
 *                is opened again).
 *
 *   "sources"    key source name (1..HDB_SOURCE_MAX bytes)
 *                -> struct hdb_source_rec
 *
 *   "source_ids" key uint32_t source id, big-endian
 *                -> source name (so a match can name its list)
 *
 *   "md5", "sha1", "sha256", "pdq"
 *                key raw digest bytes (16, 20, 32, 32)
 *                -> struct hdb_entry_rec, MDB_DUPSORT | MDB_DUPFIXED:
 *                the generation's top bit (HDB_GEN_STAGED) marks an entry
 *                that a shadow update added and no promote made live;
 *                one duplicate per source that lists the digest.  The
 *                record starts with the big-endian source id, so the
 *                duplicates sort by source and one source's entry is
 *                found with MDB_GET_BOTH_RANGE.
 *
 *   "pdq_ix"     the PDQ near-match index (hdb_pdq_ix.h): key 3 bytes,
 *                table number 0..15 and a block number 0..16383 (big-
 *                endian), the block of words 4 * block .. 4 * block + 3
 *                of table "table" -> uint32_t nseg, uint32_t offsets
 *                per word and id segment, n uint16_t filters (each
 *                record's hash's next word), n 3-byte hash ids (their
 *                low 24 bits): the layout is in hdb_pdq_ix.h
 *
 *   "pdq_id"     key uint32_t chunk number (MDB_INTEGERKEY) -> up to
 *                HDB_PDQ_CHUNK 32-byte PDQ hashes: hash id k is slot
 *                k % HDB_PDQ_CHUNK of chunk k / HDB_PDQ_CHUNK, the hashes
 *                the index records point to (a free id's slot is zero)
 *
 *   "pdq_free"   key uint32_t hash id (MDB_INTEGERKEY) -> empty: the ids
 *                of removed hashes, given to the next hashes added
 *
 *   "allow"      key type byte + raw digest, or HDB_ALLOW_VIDEO + source
 *                name + NUL + video name (a listed video allowed by its
 *                name) -> struct hdb_allow_rec followed by the reason
 *                text: the local allow list, kept apart from the sources
 *                so that no sync touches it
 *
 *   "keys"       key source name -> n * 32 bytes: the raw Ed25519 public
 *                keys whose signatures the source's updates must carry
 *
 *   "video"      key uint32_t video number (MDB_INTEGERKEY) -> struct
 *                hdb_video_rec, then its nframes unique 32-byte frame
 *                hashes, then its name (the id its list gives it)
 *
 *   "video_name" key big-endian source id + the video's name -> uint32_t
 *                video number: a list names its videos, we number them
 *
 *   "vpdq"       key 32-byte frame hash -> big-endian uint32_t video
 *                numbers, MDB_DUPSORT | MDB_DUPFIXED: the listed videos
 *                with that frame.  A frame hash is filed in "pdq_ix" like
 *                a listed image's ("pdq"): the index holds every hash that
 *                "pdq" or "vpdq" lists, so that one query finds both.
 *
 *                The three video databases are made by the first writer
 *                that opens a set of schema 2 without them: a reader that
 *                finds none matches no video.
 *
 * Integers other than the big-endian source ids are in host byte order:
 * LMDB files are not portable between byte orders anyway.
 */

#ifndef HDB_SCHEMA_H
#define HDB_SCHEMA_H

#include <stdint.h>

#include "hashdb.h"

/*
 * 3: the PDQ index's records carry one word and the id, the hashes are
 * kept in chunks ("pdq_id") and free ids are reused ("pdq_free").  A
 * writer upgrades a set of schema 2 (hdb_upgrade()); readers refuse it.
 */
#define HDB_SCHEMA_VERSION  3
#define HDB_SCHEMA_OLD      2

#define HDB_DB_META        "meta"
#define HDB_DB_SOURCES     "sources"
#define HDB_DB_SOURCE_IDS  "source_ids"
#define HDB_DB_ALLOW       "allow"
#define HDB_ALLOW_VIDEO    0xff     /* an "allow" key's first byte */
#define HDB_DB_KEYS        "keys"
#define HDB_DB_PDQ_IX      "pdq_ix"
#define HDB_DB_PDQ_ID      "pdq_id"
#define HDB_DB_PDQ_FREE    "pdq_free"
#define HDB_DB_VIDEO       "video"
#define HDB_DB_VIDEO_NAME  "video_name"
#define HDB_DB_VPDQ        "vpdq"

/* names of the per-type databases, indexed by hdb_type_t */
extern const char *const hdb_type_db_names[HDB_NTYPES];

struct hdb_source_rec {
    uint32_t  id;
    uint32_t  flags;
    uint64_t  count[HDB_NTYPES];    /* entries per digest type */
    uint64_t  files;                /* rows that added an entry: files */
    uint32_t  complete;             /* types that every row carries */
    uint32_t  generation;           /* of the last full sync */
    int64_t   created;              /* unix time */
    int64_t   updated;              /* unix time of the last change */
    uint64_t  seq;                  /* sequence of the last signed update */
    uint32_t  pdq_distance;         /* stricter PDQ limit; 0: none */
    uint32_t  videos;               /* listed videos (vPDQ) */
};

struct hdb_video_rec {
    unsigned char  source_id[4];            /* big-endian */
    uint32_t       added;                   /* unix time */
    char           category[HDB_CATEGORY_MAX];   /* NUL-padded */
    uint32_t       generation;              /* sync that last listed it */
    uint32_t       nframes;                 /* unique frame hashes */
    uint32_t       name_len;
    uint32_t       flags;                   /* HDB_VIDEO_STAGED */
};

/* a video that a shadow update added and no promote made live */
#define HDB_VIDEO_STAGED  0x1u

struct hdb_entry_rec {
    unsigned char  source_id[4];            /* big-endian */
    uint32_t       added;                   /* unix time */
    char           category[HDB_CATEGORY_MAX];   /* NUL-padded */
    uint32_t       generation;              /* sync that last listed it;
                                               | HDB_GEN_STAGED */
};

#define HDB_GEN_STAGED     0x80000000u
#define HDB_GEN(g)         ((g) & ~HDB_GEN_STAGED)

#define HDB_META_POLICY    "policy/"
#define HDB_META_FLOOD     "flood/"

struct hdb_policy_rec {
    uint32_t  action;               /* HDB_ACTION_BLOCK or _LOG */
    uint32_t  staged;               /* a shadow update awaits promote */
    uint64_t  staged_added;
    int64_t   staged_at;
    int64_t   updated;
    char      categories[HDB_POLICY_CATEGORIES_MAX][HDB_CATEGORY_MAX];
                                    /* NUL-padded; the first empty one
                                       ends the list */
};

/* the PDQ index's tables, and the hashes kept per "pdq_id" value */
#define HDB_PDQ_TABLES        16
#define HDB_PDQ_CHUNK         1023    /* 32 KiB, less LMDB's page header */

struct hdb_allow_rec {
    int64_t        added;
    /* followed by the reason, not NUL-terminated */
};

/*
 * The LMDB map size a writer starts with, at least: virtual address
 * space, not disk (data.mdb grows only as it is written).  A write that
 * fills the map is retried with the map doubled (hdb_grow()); readers
 * adopt the new size on their next transaction.
 */
#define HDB_MAPSIZE_MIN  ((size_t) 256 << 20)

/*
 * What a reader maps (address space, not memory) on a 64-bit system, so
 * that the set's growth never makes it remap: LMDB may only remap when no
 * transaction of the process is active, and workers read from several
 * threads (hdb_map_reserved()).
 */
#if SIZE_MAX > 0xffffffffu
#define HDB_MAP_RESERVE  ((size_t) 1 << 40)
#else
#define HDB_MAP_RESERVE  0
#endif

#define HDB_MAXREADERS  1024

#endif /* HDB_SCHEMA_H */
