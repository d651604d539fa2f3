/*
 * What the library's files share and the users of hashdb.h need not see.
 */

#ifndef HDB_INTERNAL_H
#define HDB_INTERNAL_H

#include <string.h>

#include <lmdb.h>

#include "hashdb.h"
#include "hdb_schema.h"

struct hdb {
    MDB_env   *env;
    unsigned   flags;
    MDB_dbi    meta;
    MDB_dbi    sources;
    MDB_dbi    source_ids;
    MDB_dbi    allow;
    MDB_dbi    keys;
    MDB_dbi    types[HDB_NTYPES];
    MDB_dbi    pdq_ix;
    MDB_dbi    pdq_id;
    MDB_dbi    pdq_free;        /* 0 in a reader of an old set */
    MDB_dbi    video;           /* 0 when the set has no video tables */
    MDB_dbi    video_name;
    MDB_dbi    vpdq;
    char      *path;
    uint64_t   file_id;         /* data.mdb's device and inode, mixed */
    int        reserved;        /* mapped at HDB_MAP_RESERVE: no remap */
};

/* a reader's view of one PDQ index block (hdb_pdq_index.c) */
#define HDB_PDQ_BLK_UNKNOWN  0
#define HDB_PDQ_BLK_ABSENT   1
#define HDB_PDQ_BLK_PRESENT  2

typedef struct {
    const unsigned char  *data;     /* in the map */
    uint32_t              size;     /* of a chunk of hashes */
    uint32_t              state;
} hdb_pdq_blk_t;

#define HDB_TXNID_NONE  ((size_t) -1)

struct hdb_reader {
    hdb_t          *db;
    MDB_txn        *txn;
    int             active;

    /* the plan only changes with a commit: cached per transaction id */
    size_t          plan_txnid;
    unsigned        plan;

    /*
     * PDQ index blocks seen in this snapshot: valid while the transaction
     * id stays the same (no commit since) and the map is not remapped.
     */
    hdb_pdq_blk_t  *pdq_blocks;
    hdb_pdq_blk_t  *pdq_chunks;     /* of "pdq_id", grown as met */
    size_t          pdq_nchunks;
    size_t          pdq_txnid;

    /* hdb_reader_scope(): the sources that match, until the txn ends */
    const char *const  *scope;
    size_t              nscope;
};

/*
 * What an entry of the source (its name and record) with the category
 * (HDB_CATEGORY_MAX bytes, NUL-padded) does when it matches, by the
 * source's policy and whether a shadow update staged it: HDB_ACTION_*
 * into *action, or -1 when it matches nothing (the source is disabled or
 * outside the reader's scope).  0 or an LMDB error.
 */
int hdb_entry_action(hdb_reader_t *rd, const char *source,
    const struct hdb_source_rec *rec, const char *category, int staged,
    int *action);

/*
 * What a match does, the allow list counted: an allowed entry does
 * least, below HDB_ACTION_LOG; otherwise its action (lower does more).
 */
#define hdb_match_weight(m)  ((m)->allowed ? HDB_ACTION_LOG + 1 : (m)->action)

/* 1 if the match c (at distance d) does more than m, or as much, nearer */
#define hdb_match_better(c, d, m)                                           \
    (hdb_match_weight(c) < hdb_match_weight(m)                              \
     || (hdb_match_weight(c) == hdb_match_weight(m) && (d) < (m)->distance))

/* "policy/NAME" or "flood/ENTRY" into buf (HDB_META_KEY_MAX), as a key */
#define HDB_META_KEY_MAX  (sizeof(HDB_META_FLOOD) + HDB_FLOOD_ENTRY_MAX)
void hdb_meta_key(const char *prefix, const char *name, char *buf,
    MDB_val *key);

/* 0 if the source exists in txn, MDB_NOTFOUND, or an LMDB error */
int hdb_source_exists(hdb_t *db, MDB_txn *txn, const char *source);

/* the source's policy record (the default when none), in txn */
int hdb_policy_rec_get(MDB_txn *txn, MDB_dbi meta, const char *source,
    struct hdb_policy_rec *rec);
int hdb_policy_rec_put(MDB_txn *txn, MDB_dbi meta, const char *source,
    const struct hdb_policy_rec *rec);

/* a source's name and record by its id; MDB_CORRUPTED if it has none */
int hdb_reader_source_rec(hdb_reader_t *rd, const unsigned char id[4],
    MDB_val *name, struct hdb_source_rec *rec);
int hdb_reader_allow_check(hdb_reader_t *rd, hdb_type_t type,
    const unsigned char *digest, hdb_match_t *match);
int hdb_reader_allow_pdq(hdb_reader_t *rd, const unsigned char *listed,
    hdb_match_t *match);

/* the "allow" keys (see hdb_schema.h), made into buf: their length.  A
   digest's: buf holds 1 + HDB_DIGEST_MAX bytes */
static inline size_t
hdb_allow_digest_key_make(unsigned char *buf, hdb_type_t type,
    const unsigned char *digest)
{
    buf[0] = (unsigned char) type;
    memcpy(buf + 1, digest, hdb_type_size(type));

    return 1 + hdb_type_size(type);
}

/* a listed video's: buf holds HDB_ALLOW_VIDEO_KEY_MAX bytes */
#define HDB_ALLOW_VIDEO_KEY_MAX  (2 + HDB_SOURCE_MAX + HDB_VIDEO_NAME_MAX)

static inline size_t
hdb_allow_video_key_make(unsigned char *buf, const char *source, size_t ns,
    const char *video, size_t nv)
{
    buf[0] = HDB_ALLOW_VIDEO;
    memcpy(buf + 1, source, ns);
    buf[1 + ns] = '\0';
    memcpy(buf + 2 + ns, video, nv);

    return 2 + ns + nv;
}

void hdb_source_id_encode(uint32_t id, unsigned char out[4]);
uint32_t hdb_source_id_decode(const unsigned char in[4]);
void hdb_source_from_rec(hdb_source_t *src, const char *name, size_t len,
    const struct hdb_source_rec *rec);

/*
 * The PDQ index (hdb_pdq_index.c), kept by the writer: a hash that gets
 * its first entry (was_indexed 0) or loses its last one (1) is noted, and
 * the index follows at commit.
 */
typedef struct hdb_pdq_pending  hdb_pdq_pending_t;

/*
 * A uint32_t under name in "meta": MDB_NOTFOUND when there is none,
 * MDB_CORRUPTED when the value is not 4 bytes; and its writing.
 */
int hdb_meta_get_u32(hdb_t *db, MDB_txn *txn, const char *name,
    uint32_t *v);
int hdb_meta_put_u32(hdb_t *db, MDB_txn *txn, const char *name, uint32_t v);

int hdb_pdq_touch(hdb_pdq_pending_t **p, const unsigned char *hash,
    int was_indexed);
void hdb_pdq_pending_free(hdb_pdq_pending_t *p);
int hdb_pdq_index_commit(hdb_t *db, MDB_txn *txn, hdb_pdq_pending_t *p);

/*
 * Whether the PDQ hash is listed, as an image ("pdq") or as a frame of a
 * video ("vpdq"): what the index holds.  1, 0, or an LMDB error (< 0).
 */
int hdb_pdq_listed(hdb_t *db, MDB_txn *txn, const unsigned char *hash);

/*
 * Every listed hash within max_distance of hash (as is), through the
 * index: near() is called with each, possibly more than once with the
 * same one (a hash is filed in 16 tables); a non-zero return stops the
 * query and is returned.
 */
typedef int (*hdb_pdq_near_pt)(void *data, const unsigned char *listed,
    unsigned distance);

int hdb_pdq_near(hdb_reader_t *rd, const unsigned char *hash,
    unsigned max_distance, hdb_pdq_near_pt near, void *data);

/*
 * A still (an image upload, a frame compared as an image) at distance d
 * of the listed frame hash: of the listed videos that have it, whose
 * source matches, lets its frames match stills and allows that distance,
 * the one whose policy does most, into *m (video, source, category,
 * action, listed, distance); when "have" is set, only if it does more
 * than *m does already.  0, MDB_NOTFOUND or an LMDB error.
 */
int hdb_video_still(hdb_reader_t *rd, const unsigned char *listed,
    unsigned d, hdb_match_t *m, int have);

/* the writer, shared by hdb_writer.c and hdb_video_write.c */
struct hdb_writer {
    hdb_t                  *db;
    MDB_txn                *txn;
    MDB_cursor             *cur[HDB_NTYPES];
    struct hdb_source_rec   rec;
    char                    name[HDB_SOURCE_MAX + 1];
    int                     mode;
    uint32_t                generation;     /* stamped on entries */
    uint64_t                seq_before;
    hdb_write_stats_t       stats;
    int64_t                 now;
    hdb_pdq_pending_t      *pdq;        /* index changes, made at commit */
    int                     stage;      /* hdb_writer_stage() */
    uint64_t                staged;     /* entries and videos it staged */
};

int hdb_valid_category(const char *category);

/* the end of a full sync for videos: those it did not list go */
int hdb_video_sweep(hdb_writer_t *w);

#endif /* HDB_INTERNAL_H */
