/*
 * The PDQ near-match index (internal: its layout, shared by the read
 * side, hdb_pdq_index_read.c, in the workers, and the write side,
 * hdb_pdq_index_write.c, in the tool): multi-index hashing over the sixteen 16-bit
 * words of a hash, kept in LMDB so that a worker reads it straight from
 * the map.
 *
 * Two hashes at distance d differ in d bits spread over 16 words, so at
 * least one word differs in at most d / 16 bits (16 words each differing
 * in more would add up to more than d): for the default limit of 31, one
 * word is equal or one bit off.  Table i files every listed hash under its
 * word i; a query looks, in each table, under the query's word and its
 * neighbours within that radius (17 buckets per table at 31, 272 per
 * variant, 2176 for all eight), and every hash filed there is a candidate.
 *
 * With random hashes a bucket holds n / 65536 of the n listed ones, so a
 * query meets ~330 000 candidates at 10 M: far too many to fetch each
 * hash.  Each record therefore carries the next six words of the hash
 * (96 bits) next to its id.  Bucket word plus filter bound the distance
 * over 112 bits from below, and that bound stays under 32 for a random
 * hash with a probability of about 2e-4; the few survivors are checked in
 * full through "pdq_id".  A record is 16 bytes, and the index 16 of them
 * per hash: the price of reading a bucket as one array instead of one
 * random read per candidate.
 *
 * Storage: the buckets of four consecutive words form one block, one
 * LMDB value (key: table, word >> 2), so that a query costs no B-tree
 * descent once a reader has seen a block: readers keep the block pointers
 * of their snapshot (hdb_reader.c drops them when a commit or a map
 * resize makes them stale).  Writers do not touch blocks per row: the
 * hashes that gained their first entry or lost their last one are noted,
 * and at commit each block that changes is rewritten once.
 */

#ifndef HDB_PDQ_IX_H
#define HDB_PDQ_IX_H

#include <string.h>

#include "hdb_internal.h"

#define HDB_PDQ_WORDS        16
#define HDB_PDQ_BLOCK_SHIFT  2
#define HDB_PDQ_SUB          (1 << HDB_PDQ_BLOCK_SHIFT)
#define HDB_PDQ_BLOCKS       (65536 >> HDB_PDQ_BLOCK_SHIFT)

/* a block: record offsets of its sub-buckets, then the records */
#define HDB_PDQ_HDR          ((HDB_PDQ_SUB + 1) * sizeof(uint32_t))

typedef struct hdb_pdq_ix_rec  hdb_rec_t;

static inline unsigned
hdb_pdq_word(const unsigned char *hash, int i)
{
    return (unsigned) hash[2 * i] << 8 | hash[2 * i + 1];
}

static inline void
hdb_pdq_block_key(int table, unsigned block, unsigned char key[3])
{
    key[0] = (unsigned char) table;
    key[1] = (unsigned char) (block >> 8);
    key[2] = (unsigned char) block;
}

/* the six words after word i, wrapping around: table i's filter */
static inline void
hdb_pdq_filter(const unsigned char *hash, int table, unsigned char *filter)
{
    for (int k = 0; k < HDB_PDQ_FILTER_WORDS; k++) {
        int  w = (table + 1 + k) % HDB_PDQ_WORDS;

        filter[2 * k] = hash[2 * w];
        filter[2 * k + 1] = hash[2 * w + 1];
    }
}

static inline uint32_t
hdb_pdq_off(const unsigned char *block, int k)
{
    uint32_t  v;

    memcpy(&v, block + k * sizeof(uint32_t), sizeof(v));
    return v;
}

/* a block as read from LMDB: its offsets must describe its size */
static inline int
hdb_pdq_block_valid(const MDB_val *v)
{
    uint32_t  prev, off;

    if (v->mv_size < HDB_PDQ_HDR) {
        return 0;
    }

    prev = 0;

    for (int k = 0; k <= HDB_PDQ_SUB; k++) {
        off = hdb_pdq_off(v->mv_data, k);
        if (off < prev) {
            return 0;
        }
        prev = off;
    }

    return hdb_pdq_off(v->mv_data, 0) == 0
           && v->mv_size == HDB_PDQ_HDR + (size_t) prev * sizeof(hdb_rec_t);
}

#endif /* HDB_PDQ_IX_H */
