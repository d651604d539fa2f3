/*
 * A feed: what "hashdb publish" writes into a directory that any static
 * web server or CDN serves, and "hashdb pull" reads (cmd_publish.c,
 * cmd_pull.c).  Its files:
 *
 *     index.txt              the signed index (below), written last
 *     full-SEQ.csv.gz        the full list at SEQ, gzip, canonical csv
 *     full-SEQ.csv.sig       its signature (kind full), as hashdb sync's
 *     delta-SEQ.csv.gz       what changed from the sequence before
 *     delta-SEQ.csv.sig      (kind delta, with its base)
 *
 * The index is text, then its signature (kind index, seq = latest, the
 * SHA-256 of the lines before it):
 *
 *     upload-filter feed v1
 *     source: police-nl
 *     latest: 20261202
 *     full: 20261202 full-20261202.csv.gz 48213107 <sha256 of the .gz>
 *     delta: 20261202 20261201 delta-20261202.csv.gz 412337 <sha256>
 *     delta: 20261201 20261130 delta-20261201.csv.gz 409812 <sha256>
 *     upload-filter signature v1
 *     ...
 *
 * The canonical csv has one row per listed file ("category,md5,sha1,
 * sha256,pdq,quality"), sorted, so that a delta is the difference of two
 * sorted lists: removals first ("op,category,..." with op remove), then
 * additions.  Sizes and hashes of the .gz files let a node refuse a
 * truncated or altered download before it is even inflated.
 */

#ifndef FEED_H
#define FEED_H

#include <stddef.h>
#include <stdint.h>

#include "signature.h"

#define FEED_INDEX        "index.txt"
#define FEED_MAGIC        "upload-filter feed v1\n"
#define FEED_MAX_FILES    1024
#define FEED_NAME_MAX     64
#define FEED_INDEX_MAX    (256 * 1024)

#define FEED_FULL_HEADER  "category,md5,sha1,sha256,pdq,quality\n"
#define FEED_DELTA_HEADER "op,category,md5,sha1,sha256,pdq,quality\n"

typedef struct {
    int            full;
    uint64_t       seq;
    uint64_t       base;                    /* a delta's */
    char           name[FEED_NAME_MAX + 1];
    uint64_t       size;
    unsigned char  sha256[32];
} feed_file_t;

typedef struct {
    char           source[HDB_SOURCE_MAX + 1];
    uint64_t       latest;
    size_t         nfiles;
    feed_file_t    files[FEED_MAX_FILES];
    sig_file_t     sig;
} feed_index_t;

/*
 * Parses an index (text, len bytes) into *ix: its lines, and its
 * signature, which must be of kind index, for its source and latest
 * sequence, over the lines before it.  The key is not checked here
 * (feed_index_trusted()).  0, or -1 with a message in err.
 */
int feed_index_parse(const char *text, size_t len, feed_index_t *ix,
    char *err, size_t errlen);

/* the index's lines (without the signature) into buf; their length, -1 */
long feed_index_format(const feed_index_t *ix, char *buf, size_t size);

/* the file of ix that is the full list at seq, or the delta onto base */
const feed_file_t *feed_index_full(const feed_index_t *ix, uint64_t seq);
const feed_file_t *feed_index_delta(const feed_index_t *ix, uint64_t base);

/* a file's SHA-256 and size; 0, or -1 (errno) */
int feed_hash_file(const char *path, unsigned char *sha, uint64_t *size);

#endif /* FEED_H */
