/*
 * hashdb: the hash set shared by the nginx module and the hashdb tool.
 *
 * Functions return 0 on success, HDB_NOTFOUND where a lookup finds
 * nothing, and any other non-zero value on error: an errno value, an
 * LMDB error code or one of the HDB_E* codes below.  hdb_strerror()
 * turns each into a message.  Callers need not include <lmdb.h>.
 *
 * The library does no nginx and no stdio of its own; it is plain C11.
 */

#ifndef HASHDB_H
#define HASHDB_H

#include <stddef.h>
#include <stdint.h>

/*
 * The cryptographic digests come first: they are computed over every
 * byte of an upload (HDB_NDIGESTS of them).  PDQ, the perceptual hash of
 * an image, is matched by distance; a lookup by its exact value is the
 * distance-0 case.
 */
typedef enum {
    HDB_MD5 = 0,
    HDB_SHA1,
    HDB_SHA256,
    HDB_PDQ,
    HDB_NTYPES
} hdb_type_t;

#define HDB_NDIGESTS        3
#define HDB_TYPE_BIT(t)     (1u << (t))
#define HDB_ALL_TYPES       ((1u << HDB_NTYPES) - 1)
#define HDB_DIGEST_TYPES    ((1u << HDB_NDIGESTS) - 1)
#define HDB_DIGEST_MAX      32
#define HDB_PDQ_SIZE        32
#define HDB_PDQ_VARIANTS    8       /* rotations and mirrors, see hdb_pdq.h */
#define HDB_PDQ_HEX_LEN     (2 * HDB_PDQ_SIZE)
#define HDB_HEX_MAX         (2 * HDB_DIGEST_MAX)

/*
 * What the module and the tool both default to: a PDQ hash matches a
 * listed one within 31 bits (Meta's recommended threshold), over hashes
 * of quality 50 or more (flat images hash alike below).
 */
/* the release of upload-filter: the module, the library and the tool */
#define HDB_VERSION  "0.13.0"

#define HDB_PDQ_DISTANCE_DEFAULT  31
#define HDB_PDQ_QUALITY_DEFAULT   50

/*
 * The media layer's defaults (hdb_media.h), the module's and the tool's:
 * frames hashed per animation (sampled evenly beyond it), pixels per
 * image or canvas, and pixels decoded over all the frames of a file (or,
 * in the module, of an upload).
 */
#define HDB_MEDIA_FRAMES_DEFAULT        32
#define HDB_MEDIA_PIXELS_DEFAULT        (64 * 1024 * 1024)
#define HDB_MEDIA_TOTAL_PIXELS_DEFAULT  (256 * 1024 * 1024)

/*
 * Video: one frame hashed per second (vPDQ's interval, what lists use),
 * at most two hours declared, 7200 frames hashed and 432 000 decoded
 * (two hours at 60 frames a second).
 */
#define HDB_VIDEO_INTERVAL_DEFAULT      1.0
#define HDB_VIDEO_SECONDS_DEFAULT       7200
#define HDB_VIDEO_FRAMES_DEFAULT        7200
#define HDB_VIDEO_DECODED_DEFAULT       432000

/*
 * vPDQ's matching rule (the reference's): frames match within 31 bits,
 * frames of quality under 50 are not counted, and a video matches a
 * listed one when 80 % of the listed video's unique frames and 0 % of
 * the upload's have a match.
 */
#define HDB_VPDQ_PC_DEFAULT             80
#define HDB_VPDQ_PQ_DEFAULT             0

/*
 * The name of PDQ variant 0 .. HDB_PDQ_VARIANTS - 1, as log lines write
 * it: "as-is", "rot90", "rot180", "rot270", "flipx", "flipy",
 * "flip-plus1", "flip-minus1" (the reference's order).
 */
const char *hdb_pdq_variant_name(unsigned variant);

#define HDB_SOURCE_MAX      64
#define HDB_VIDEO_NAME_MAX  200
#define HDB_CATEGORY_MAX    8

/* a lookup found nothing: LMDB's MDB_NOTFOUND, checked in hdb_env.c */
#define HDB_NOTFOUND  (-30798)

/* error codes of our own, outside LMDB's range (-30800 .. -30780) */
#define HDB_ESCHEMA   (-30700)    /* not a hash set, or another version */
#define HDB_ENAME     (-30701)    /* bad source name or category */
#define HDB_ETYPE     (-30702)    /* bad digest type or length */
#define HDB_EOLD      (-30703)    /* a set of an older schema: a reader
                                     cannot use it, hdb_upgrade() can */

typedef struct hdb         hdb_t;
typedef struct hdb_reader  hdb_reader_t;
typedef struct hdb_writer  hdb_writer_t;

/* digest types */

/** The name of a type: "md5", "sha1", "sha256", "pdq"; "?" otherwise. */
const char *hdb_type_name(hdb_type_t type);

/** The size in bytes of a type's value (16, 20, 32, 32); 0 otherwise. */
size_t hdb_type_size(hdb_type_t type);

/**
 * The type named name[0 .. len), in either case, into *type.
 * Returns 0, or HDB_ETYPE for a name that is no type.
 */
int hdb_type_from_name(const char *name, size_t len, hdb_type_t *type);

/**
 * The cryptographic digest type of a value of size bytes, into *type.
 * PDQ is never guessed (it has SHA-256's size).  Returns 0 or HDB_ETYPE.
 */
int hdb_type_from_size(size_t size, hdb_type_t *type);

/** The digest types, cheapest to compute first: SHA-1, SHA-256, MD5. */
extern const hdb_type_t hdb_types_by_cost[HDB_NDIGESTS];

/** Writes the n bytes of in as 2n lowercase hex digits and a NUL to out. */
void hdb_hex_encode(const unsigned char *in, size_t n, char *out);

/**
 * Decodes the len hex digits of in (either case) into len / 2 bytes.
 * Returns 0, or HDB_ETYPE for an odd length or a byte that is no digit.
 */
int hdb_hex_decode(const char *in, size_t len, unsigned char *out);

/** A message for any return code of this library: errno, LMDB, HDB_E*. */
const char *hdb_strerror(int rc);

/* opening */

#define HDB_OPEN_RDONLY  0x1u    /* readers: the nginx workers, lookups */
#define HDB_OPEN_CREATE  0x2u    /* hashdb init: create directory and DBs */
#define HDB_OPEN_NORDAHEAD 0x4u  /* a page fault reads that page only */
#define HDB_OPEN_THREADS 0x8u    /* with RDONLY: readers in several threads
                                    (hdb_map_reserved()) */
#define HDB_OPEN_UPGRADE 0x10u   /* a writer: accept a set of the previous
                                    schema, for hdb_upgrade() */

/**
 * Opens the hash set in the directory path (an LMDB environment made by
 * "hashdb init") into *db, with HDB_OPEN_* flags.  An environment must be
 * used only in the process that opened it: nginx opens one per worker,
 * after fork.  Returns 0, an errno value (ENOENT: no such directory),
 * HDB_ESCHEMA (not a hash set, or of another schema version), HDB_EOLD
 * (a set of the schema before this one, unless HDB_OPEN_UPGRADE), or an
 * LMDB error.  Opened with HDB_OPEN_UPGRADE, a set of the previous schema
 * must be brought up to date with hdb_upgrade() before anything else.
 */
int hdb_open(hdb_t **db, const char *path, unsigned flags);

/**
 * Brings db, opened for writing (with HDB_OPEN_UPGRADE if it may be of
 * the schema before), up to this schema if it is of the one before
 * (schema 2 to 3: rebuilds the PDQ index from the listed hashes, in one
 * transaction, the map grown as it needs), and sets *upgraded to 1; if
 * it is of this schema already (another upgrade may have come first),
 * does nothing and sets it to 0.  A process of the release before that
 * still has the set open then fails its PDQ lookups (MDB_CORRUPTED)
 * until it opens the set again.  Returns 0 or an LMDB error (the set is
 * then as it was).
 */
int hdb_upgrade(hdb_t *db, int *upgraded);

/**
 * As hdb_open(); with HDB_OPEN_CREATE a new hash set gets mapsize bytes
 * of map (0: the default), which hdb_grow() doubles when it fills.
 */
int hdb_create(hdb_t **db, const char *path, unsigned flags, size_t mapsize);

/** Closes db and frees it; NULL is ignored.  No reader may be left. */
void hdb_close(hdb_t *db);

/** The directory db was opened from. */
const char *hdb_path(const hdb_t *db);

/**
 * After a write failed with MDB_MAP_FULL: doubles the map (no
 * transaction may be active); the write is then retried from the start.
 * Returns 0 or an LMDB error.
 */
int hdb_grow(hdb_t *db);

/** The map's size in bytes now. */
size_t hdb_mapsize(hdb_t *db);

/**
 * The bytes of data.mdb that rd's snapshot counts as free pages: pages
 * earlier writes replaced, which later writes reuse (LMDB gives a write's
 * freed pages out from the write after next, so a set that is updated
 * carries about two updates' rewrites of free space).  Returns 0 or an
 * LMDB error.
 */
int hdb_reader_free_bytes(hdb_reader_t *rd, size_t *bytes);

/**
 * 1 if db, opened HDB_OPEN_RDONLY | HDB_OPEN_THREADS, maps room for any
 * growth of the set (1 TiB of address space on a 64-bit system): its
 * readers then never remap, so that readers in several threads may use
 * it at once (each with its own hdb_reader_t).  0 when the address space
 * was refused, or for a writer: then hdb_reader_begin() remaps after the
 * set grew, which must not happen while another thread reads.
 */
int hdb_map_reserved(const hdb_t *db);

/*
 * reading: one reader per thread, one read transaction at a time (and
 * readers of one db in several threads only if hdb_map_reserved())
 */

#define HDB_REASON_MAX  200

typedef struct {
    hdb_type_t     type;
    char           source[HDB_SOURCE_MAX + 1];
    char           category[HDB_CATEGORY_MAX + 1];
    int64_t        added;
    int            allowed;                    /* on the local allow list */
    char           reason[HDB_REASON_MAX + 1]; /* why it is allowed */

    /* PDQ: the listed hash, its distance, the upload's variant (0..7) */
    unsigned char  listed[HDB_PDQ_SIZE];
    unsigned       distance;
    unsigned       variant;

    /* a still that matched a frame of a listed video: the video's name */
    char           video[HDB_VIDEO_NAME_MAX + 1];

    /* what the match does by its source's policy: HDB_ACTION_* */
    int            action;
} hdb_match_t;

/*
 * What a match does, by the policy of the source that lists the entry
 * (hdb_policy_set()), strongest first: where several sources list it,
 * a match names the strongest (then the nearest).
 *
 *   HDB_ACTION_BLOCK   the default
 *   HDB_ACTION_SHADOW  the entry was added by a shadow update
 *                      (hdb_writer_stage()) not yet promoted: it would
 *                      block, and is only logged until hdb_promote()
 *   HDB_ACTION_LOG     the source only logs (its action), or the entry's
 *                      category is not among those its policy blocks
 */
#define HDB_ACTION_BLOCK   0
#define HDB_ACTION_SHADOW  1
#define HDB_ACTION_LOG     2

/** "block", "shadow", "log"; "?" otherwise. */
const char *hdb_action_name(int action);

/**
 * A reader of db into *rd: one per thread, reused for every lookup (its
 * LMDB read transaction is reset and renewed, not made anew).
 * Returns 0, ENOMEM or an LMDB error.
 */
int hdb_reader_new(hdb_t *db, hdb_reader_t **rd);

/** Frees rd; NULL is ignored. */
void hdb_reader_free(hdb_reader_t *rd);

/**
 * Starts a read transaction: the lookups until hdb_reader_end() see the
 * newest update committed before it, whatever is committed meanwhile.
 * Returns 0 or an LMDB error.
 */
int hdb_reader_begin(hdb_reader_t *rd);

/** Ends the read transaction begun by hdb_reader_begin(). */
void hdb_reader_end(hdb_reader_t *rd);

/**
 * Limits the lookups of the transaction under way to the n named sources
 * (a location's upload_filter_sources): entries of other sources match
 * nothing.  names (and its strings) must stay valid until
 * hdb_reader_end(), which lifts the limit; NULL or n 0: every source.
 */
void hdb_reader_scope(hdb_reader_t *rd, const char *const *names, size_t n);

/**
 * Which set the reader's transaction sees: an opaque value, the same for
 * two transactions that saw the same committed update of the same file,
 * and another after any commit (an update, the allow list, a source
 * enabled) or when the set is another file.  For callers that remember
 * a verdict and must know when to check it again.  0 outside
 * hdb_reader_begin() .. hdb_reader_end().
 */
uint64_t hdb_reader_version(const hdb_reader_t *rd);

/**
 * The digest types a filter must compute so that every listed file can
 * match, as HDB_TYPE_BIT()s into *types (HDB_PDQ's bit when PDQ hashes
 * are listed): per source, the cheapest type that every entry carries, or
 * all the types the source holds where no one type covers it.  0 for an
 * empty set.  Cached per transaction.  Returns 0 or an LMDB error.
 */
int hdb_reader_plan(hdb_reader_t *rd, unsigned *types);

/**
 * Looks up the digest of the given type (hdb_type_size() bytes).  Fills
 * *match with the first enabled source that lists it (and the allow
 * list's say) and returns 0; HDB_NOTFOUND when no enabled source does;
 * an LMDB error otherwise.
 */
int hdb_reader_lookup(hdb_reader_t *rd, hdb_type_t type,
    const unsigned char *digest, hdb_match_t *match);

/**
 * PDQ near matches: the listed hash nearest to any of the n variants
 * (hashes of the upload in the PDQ byte order: the reference's hex,
 * decoded), within max_distance and within the stricter distance a source
 * may set.  A frame of a listed video is listed material as a still too
 * (match->video names its video) unless its source says otherwise
 * (HDB_SOURCE_NO_STILLS).  Fills *match (listed, distance, variant) and
 * returns 0;
 * HDB_NOTFOUND when none is that close; an LMDB error otherwise.  The
 * multi-index lookup behind it is described in hdb_pdq_ix.h.
 */
#define HDB_PDQ_DISTANCE_MAX  47
int hdb_reader_pdq_match(hdb_reader_t *rd,
    const unsigned char (*variants)[HDB_PDQ_SIZE], size_t n,
    unsigned max_distance, hdb_match_t *match);

/** Listed images only, not the frames of listed videos: a video's frame. */
#define HDB_MATCH_IMAGES  0x1u

/** hdb_reader_pdq_match() with HDB_MATCH_* flags. */
int hdb_reader_pdq_match_flags(hdb_reader_t *rd,
    const unsigned char (*variants)[HDB_PDQ_SIZE], size_t n,
    unsigned max_distance, unsigned flags, hdb_match_t *match);

/*
 * Videos (vPDQ).  An upload's frames match a listed video by the
 * reference's rule: frames of quality under "quality" are dropped on the
 * upload's side (the listed side dropped them when it was imported), each
 * side is taken as its set of unique hashes, and the video matches when
 * at least pc % of the listed video's frames are within "distance" of a
 * frame of the upload and at least pq % of the upload's frames are
 * within it of a frame of the listed video.
 */
typedef struct {
    unsigned char  hash[HDB_PDQ_SIZE];
    int            quality;
    double         time;            /* seconds from the start */
} hdb_vpdq_frame_t;

typedef struct {
    unsigned  distance;             /* HDB_PDQ_DISTANCE_DEFAULT */
    unsigned  quality;              /* HDB_PDQ_QUALITY_DEFAULT */
    unsigned  pc;                   /* HDB_VPDQ_PC_DEFAULT */
    unsigned  pq;                   /* HDB_VPDQ_PQ_DEFAULT */
    int       sparse;               /* the upload's frames are key frames
                                       only (HDB_VIDEO_KEYFRAMES): they
                                       cannot cover pc % of a video listed
                                       at one frame a second, so pc
                                       applies to the upload's frames, and
                                       at least two listed frames (or all
                                       of a shorter video) must match */
} hdb_vpdq_rule_t;

typedef struct {
    hdb_match_t  m;                 /* source, category, added, allowed;
                                       listed and distance: the upload's
                                       first matched frame's nearest */
    char         video[HDB_VIDEO_NAME_MAX + 1];
    unsigned     listed_frames;     /* the listed video's unique frames */
    unsigned     listed_matched;    /* of them, matched */
    unsigned     frames;            /* the upload's counted frames */
    unsigned     matched;           /* of them, matched */
    double       time;              /* the upload's first matched frame */
} hdb_vpdq_match_t;

/**
 * The listed video that the n frames match best by the rule (the highest
 * share of its frames matched), found through the PDQ index: each of the
 * upload's unique frames is one query for every listed frame within the
 * distance, and only the videos so found are counted.  Fills *match and
 * returns 0; HDB_NOTFOUND when no video matches; ENOMEM or an LMDB error
 * otherwise.
 */
int hdb_reader_vpdq_match(hdb_reader_t *rd, const hdb_vpdq_frame_t *frames,
    size_t n, const hdb_vpdq_rule_t *rule, hdb_vpdq_match_t *match);

/* sources, for stats */

/* the source is kept, but its entries are not matched */
#define HDB_SOURCE_DISABLED  0x1u
/* the frames of its videos match videos only, not stills (see
   hdb_reader_pdq_match()) */
#define HDB_SOURCE_NO_STILLS 0x2u

typedef struct {
    char      name[HDB_SOURCE_MAX + 1];
    size_t    keys;         /* trusted signing keys */
    uint32_t  id;
    uint32_t  flags;
    uint64_t  count[HDB_NTYPES];
    uint64_t  files;
    unsigned  complete;
    int64_t   created;
    int64_t   updated;
    uint64_t  seq;
    unsigned  pdq_distance;     /* the source's own PDQ limit; 0: none */
    uint64_t  videos;           /* listed videos */
} hdb_source_t;

/**
 * The named source into *src, in the reader's transaction.  Returns 0,
 * HDB_NOTFOUND (no such source) or an LMDB error.
 */
int hdb_reader_source(hdb_reader_t *rd, const char *name, hdb_source_t *src);

/** Called for each source; a non-zero return stops the walk. */
typedef int (*hdb_source_cb)(const hdb_source_t *src, void *data);

/**
 * Calls cb for every source in a read transaction of its own.  Returns
 * 0, cb's non-zero code, or an LMDB error.
 */
int hdb_reader_sources(hdb_reader_t *rd, hdb_source_cb cb, void *data);

/** Called with each piece of a text; a non-zero return stops the writer. */
typedef int (*hdb_text_cb)(const char *text, size_t len, void *data);

/**
 * Writes the hash set's gauges in Prometheus' text format (HELP and TYPE
 * lines included): entries per source and type, each source's last update
 * time and sequence, the map size, and, when used and resident are given
 * (see hdb_resident_probe()), the bytes in use and in memory.  The module's
 * metrics and "hashdb stats --prometheus" both write them with this.
 * Returns 0, cb's non-zero code, an LMDB error, or EOVERFLOW (a line
 * longer than the writer's buffer: never for valid source names).
 */
int hdb_prometheus_gauges(hdb_t *db, hdb_reader_t *rd, const size_t *used,
    const size_t *resident, hdb_text_cb cb, void *data);

/* writing: one writer at a time (LMDB serialises write transactions) */

typedef struct {
    unsigned       types;                    /* which digests[] are set */
    unsigned char  digests[HDB_NTYPES][HDB_DIGEST_MAX];
    const char    *category;                 /* NULL: none */
    int64_t        added;                    /* 0: now */
} hdb_row_t;

typedef struct {
    uint64_t  rows;
    uint64_t  added;        /* new (digest, source) entries */
    uint64_t  existing;     /* already listed by this source */
    uint64_t  removed;      /* entries removed (delta, or gone in a sync) */
} hdb_write_stats_t;

/*
 * HDB_WRITE_ADD adds to a source (import, delta).  HDB_WRITE_REPLACE is a
 * full sync: at commit, every entry of the source that the sync did not
 * add or confirm is removed, and the source's file count and complete
 * types are those of the new list.  Entries of other sources are never
 * touched.
 */
#define HDB_WRITE_ADD      0
#define HDB_WRITE_REPLACE  1

/**
 * 1 if name can name a source: 1 to HDB_SOURCE_MAX bytes of letters,
 * digits, '-', '_' and '.'; 0 otherwise.
 */
int hdb_valid_name(const char *name);

/**
 * Begins one write transaction on the source (created when new) into
 * *w, in an HDB_WRITE_* mode.  Readers go on seeing the old set until
 * hdb_writer_commit().  Returns 0, HDB_ENAME, ENOMEM or an LMDB error.
 */
int hdb_writer_begin(hdb_t *db, const char *source, int mode,
    hdb_writer_t **w);

/**
 * Adds the row's digests (and PDQ hash) to the source.  Returns 0,
 * HDB_ENAME (bad category) or an LMDB error; MDB_MAP_FULL asks for
 * hdb_writer_abort(), hdb_grow() and the write again.
 */
int hdb_writer_add(hdb_writer_t *w, const hdb_row_t *row);

/* a listed video (vPDQ): its frames' PDQ hashes under its list's id */

typedef struct {
    const char           *name;     /* 1 .. HDB_VIDEO_NAME_MAX bytes, no
                                       control characters */
    const char           *category; /* NULL: none */
    int64_t               added;    /* 0: now */
    size_t                nframes;
    const unsigned char (*frames)[HDB_PDQ_SIZE];
                                    /* in any order, repeats allowed: the
                                       video is its set of unique frames.
                                       Low-quality frames are the caller's
                                       to drop (hashdb drops those under
                                       HDB_PDQ_QUALITY_DEFAULT) */
} hdb_video_t;

/**
 * 1 if name[0 .. len) can name a video: 1 to HDB_VIDEO_NAME_MAX bytes,
 * no control characters (names go into log lines); 0 otherwise.
 */
int hdb_valid_video_name(const char *name, size_t len);

/**
 * Lists the video under its name in the source, replacing what the
 * source listed under that name before (counted in stats as existing when
 * its frames are the same).  Its frames join the PDQ index.  Returns 0,
 * HDB_ENAME (bad name or category), EINVAL (no frames) or an LMDB error,
 * as hdb_writer_add().
 */
int hdb_writer_add_video(hdb_writer_t *w, const hdb_video_t *video);

/** Takes the named video off the source: 0, or as hdb_writer_add(). */
int hdb_writer_remove_video(hdb_writer_t *w, const char *name);

/**
 * Makes the write a shadow update: the entries and videos it adds to the
 * source are staged (HDB_ACTION_SHADOW: logged, not blocked) until
 * hdb_promote(); what it removes goes at once, and what the source
 * listed before stays as it was.  A write that is not staged lists what
 * it adds or confirms as live, staged entries included.
 */
void hdb_writer_stage(hdb_writer_t *w);

/** Removes the row's entries from the source; as hdb_writer_add(). */
int hdb_writer_remove(hdb_writer_t *w, const hdb_row_t *row);

/** A stricter PDQ distance for the source's entries (0: none). */
int hdb_writer_set_pdq_distance(hdb_writer_t *w, unsigned distance);

/** The source's sequence number before this write. */
uint64_t hdb_writer_seq(const hdb_writer_t *w);

/** The sequence number the source gets when this write commits. */
void hdb_writer_set_seq(hdb_writer_t *w, uint64_t seq);

/**
 * Commits the write (with HDB_WRITE_REPLACE, after sweeping what the new
 * list dropped) and frees w, whatever the result; stats may be NULL.
 * Returns 0 or an LMDB error (then nothing of the write is applied).
 */
int hdb_writer_commit(hdb_writer_t *w, hdb_write_stats_t *stats);

/** Drops the write and frees w. */
void hdb_writer_abort(hdb_writer_t *w);

/* the local allow list: survives every sync, never blocks */

typedef struct {
    hdb_type_t     type;
    unsigned char  digest[HDB_DIGEST_MAX];
    /* a listed video allowed by its name: its source and name ("" when
       the entry is a digest, of type) */
    char           source[HDB_SOURCE_MAX + 1];
    char           video[HDB_VIDEO_NAME_MAX + 1];
    int64_t        added;
    char           reason[HDB_REASON_MAX + 1];
} hdb_allow_t;

/** Called for each allowed entry; a non-zero return stops the walk. */
typedef int (*hdb_allow_cb)(const hdb_allow_t *a, void *data);

/**
 * Allows the digest (or PDQ hash) with the reason (at most
 * HDB_REASON_MAX bytes): a match on it is logged as allowed, never
 * blocked.  Returns 0 or an LMDB error.
 */
int hdb_allow_add(hdb_t *db, hdb_type_t type, const unsigned char *digest,
    const char *reason);

/** Takes the digest off the allow list: 0, or HDB_NOTFOUND if it was not. */
int hdb_allow_remove(hdb_t *db, hdb_type_t type, const unsigned char *digest);

/**
 * Allows the listed video that source lists as video (the names a match's
 * log line gives), with the reason: an upload that matches it, by vPDQ's
 * rule or in one of its frames as a still, is logged as allowed, never
 * blocked, unless another listed entry, not allowed, matches it too.
 * The video need not be listed yet; the entry survives every sync.
 * Returns 0, HDB_ENAME (a source, video name or reason not valid) or an
 * LMDB error.
 */
int hdb_allow_video_add(hdb_t *db, const char *source, const char *video,
    const char *reason);

/** As hdb_allow_remove(), for a video allowed by hdb_allow_video_add(). */
int hdb_allow_video_remove(hdb_t *db, const char *source, const char *video);

/** Calls cb for every allowed entry; 0, cb's code, or an LMDB error. */
int hdb_reader_allowed(hdb_reader_t *rd, hdb_allow_cb cb, void *data);

/* sources: disable and enable, trusted keys */

/**
 * Disables (disabled 1) or enables a source: a disabled source is kept,
 * and updated, but its entries match nothing.  Returns 0, HDB_NOTFOUND
 * for no such source, or an LMDB error.
 */
int hdb_source_set_disabled(hdb_t *db, const char *source, int disabled);

/**
 * Sets (on 1) or clears a source's HDB_SOURCE_* flag; as
 * hdb_source_set_disabled().
 */
int hdb_source_set_flag(hdb_t *db, const char *source, unsigned flag, int on);

/*
 * Policies: what a source's matches do, the operator's say on this node.
 * Kept apart from what the source's updates write (in "meta"), so that
 * no sync changes them, and read by every lookup: a change applies to
 * the workers' next transaction.
 */
#define HDB_POLICY_CATEGORIES_MAX  16

typedef struct {
    int       action;               /* HDB_ACTION_BLOCK or _LOG */
    size_t    ncategories;          /* 0: every category blocks */
    char      categories[HDB_POLICY_CATEGORIES_MAX][HDB_CATEGORY_MAX + 1];
    int64_t   updated;              /* 0: never set (the default) */

    /* the last shadow update (hdb_writer_stage()) not yet promoted */
    int       staged;
    uint64_t  staged_added;         /* entries (and videos) it added */
    int64_t   staged_at;
} hdb_policy_t;

/**
 * Sets the source's action (HDB_ACTION_BLOCK or HDB_ACTION_LOG) and the
 * categories that block (n of them; 0: all): an entry of another
 * category, or of none, is logged only.  Returns 0, HDB_NOTFOUND (no such
 * source), HDB_ENAME (bad category, more than HDB_POLICY_CATEGORIES_MAX),
 * EINVAL (another action) or an LMDB error.
 */
int hdb_policy_set(hdb_t *db, const char *source, int action,
    const char *const *categories, size_t n);

/**
 * The source's policy into *p: the default (block, every category) when
 * none was set.  Returns 0, HDB_NOTFOUND (no such source) or an LMDB
 * error.
 */
int hdb_reader_policy(hdb_reader_t *rd, const char *source, hdb_policy_t *p);

/**
 * Promotes what shadow updates of the source staged: its entries and
 * videos block from the commit on.  *n (may be NULL) is how many were
 * staged.  Returns 0, HDB_NOTFOUND (no such source) or an LMDB error.
 */
int hdb_promote(hdb_t *db, const char *source, uint64_t *n);

/*
 * Flood alarms (upload_filter_flood): nginx demotes an entry that matched
 * too many clients to log-only on its node, in its own memory; the
 * operator lifts that here, and the workers see it at their next match
 * of the entry.  An entry is named as the log line's entry= names it
 * ("sha256:HEX", "pdq:HEX") or "video:NAME" for a listed video; "*"
 * names every entry.
 */
#define HDB_FLOOD_ENTRY_MAX  (sizeof("video:") - 1 + HDB_VIDEO_NAME_MAX)

/**
 * Lifts the demotions of the entry made before now (all of them for "*",
 * which also forgets the entries' own records).  Returns 0, HDB_ENAME
 * (an empty or too long name) or an LMDB error.
 */
int hdb_flood_clear(hdb_t *db, const char *entry);

/**
 * When the entry's demotions were last lifted (the later of its own
 * clear and "*"'s), in milliseconds since the epoch, into *when: 0 if
 * never.  Returns 0 or an LMDB error.
 */
int hdb_reader_flood_cleared(hdb_reader_t *rd, const char *entry,
    int64_t *when);

#define HDB_KEY_SIZE  32    /* an Ed25519 public key */

/**
 * Trusts the Ed25519 public key for the source's signed updates.
 * Returns 0, HDB_ENAME or an LMDB error.
 */
int hdb_key_add(hdb_t *db, const char *source, const unsigned char *key);

/**
 * Copies up to max of the source's trusted keys into keys; *n is how many
 * it has.  Returns 0 or an LMDB error.
 */
int hdb_reader_keys(hdb_reader_t *rd, const char *source,
    unsigned char (*keys)[HDB_KEY_SIZE], size_t max, size_t *n);

/*
 * Keeping the set in memory (hdb_resident.c): WARM touches every page
 * once per cycle and reads paged-out ones back, LOCK mlock()s them.  Each
 * step does up to bytes of the set (0: all of it); a step of LOCK whose
 * mlock() fails returns its errno and the walk goes on as WARM.
 */
#define HDB_RESIDENT_WARM  1
#define HDB_RESIDENT_LOCK  2

typedef struct hdb_resident  hdb_resident_t;

typedef struct {
    size_t  size;           /* bytes of the set in use */
    size_t  resident;       /* WARM: found in memory this cycle so far;
                               LOCK: locked */
    size_t  readback;       /* WARM: found paged out by this step */
    int     cycle_done;     /* the step reached the end of the set */
} hdb_resident_stats_t;

/**
 * A walker of db's pages in HDB_RESIDENT_WARM or _LOCK mode into *rs,
 * with a mapping of the data file of its own.  Returns 0 or an errno.
 */
int hdb_resident_new(hdb_t *db, int mode, hdb_resident_t **rs);

/** Unmaps (and so unlocks) and frees rs; NULL is ignored. */
void hdb_resident_free(hdb_resident_t *rs);

/** The mode now: LOCK falls back to WARM when mlock() fails. */
int hdb_resident_mode(const hdb_resident_t *rs);

/**
 * One step of the walk over up to bytes of the set (0: all of it),
 * following the set as it grows; *st says what it found.  Returns 0, or
 * the errno of a failed mlock() (the walk then goes on as WARM) or of
 * fstat() or mincore().
 */
int hdb_resident_step(hdb_resident_t *rs, size_t bytes,
    hdb_resident_stats_t *st);

/**
 * How much of the set the page cache holds now: *size bytes in use,
 * *resident of them in memory.  Returns 0 or an errno.
 */
int hdb_resident_probe(hdb_t *db, size_t *size, size_t *resident);

#endif /* HASHDB_H */
