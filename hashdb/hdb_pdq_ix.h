/*
 * The PDQ near-match index (internal: its layout, shared by the read
 * side, hdb_pdq_index_read.c, in the workers, and the write side,
 * hdb_pdq_index_write.c, in the tool): multi-index hashing over the
 * sixteen 16-bit words of a hash, kept in LMDB so that a worker reads it
 * straight from the map.
 *
 * Two hashes at distance d <= tau differ in d bits spread over 16 words,
 * so at least one word differs in at most tau / 16 bits: for the default
 * limit of 31, one word is equal or one bit off.  Table i files every
 * listed hash under its word i; a query looks, in each table, under the
 * query's word and its neighbours within that radius (17 buckets per
 * table at 31, 272 per variant, 2176 for all eight).
 *
 * The pigeonring principle (Qin and Xiao, VLDB 2018) says more: taking
 * the words as a ring, some word i starts a run whose first l words
 * differ in at most l * tau / 16 bits, for every l.  For l = 1 that is the
 * bucket above; for l = 2, words i and i + 1 together differ in at most
 * tau / 8 bits (3 at 31).  So each record of table i carries the hash's
 * word i + 1 beside its id, and a candidate whose bucket word and next
 * word differ from the query's in more than tau / 8 bits is passed over
 * without another read: all but ~1 in 200 of the random ones.  A query
 * reads two bytes per candidate, in one array per bucket that vector
 * instructions scan.
 *
 * The survivors are compared in full with the hash their id names, kept
 * 1023 to an LMDB value ("pdq_id" chunks) so that a reader reaches a hash
 * through a pointer it keeps, not a B-tree descent.  Per listed hash the
 * index takes 16 records of 5 bytes and its 32 bytes in a chunk.
 *
 * Storage: the buckets of four consecutive words form one block, one
 * LMDB value (key: table, word >> 2), so that a query costs no B-tree
 * descent once a reader has seen a block: readers keep the block and
 * chunk pointers of their snapshot (hdb_reader.c drops them when a commit
 * or a map resize makes them stale).  Writers do not touch blocks per
 * row: the hashes that gained their first entry or lost their last one
 * are noted, and at commit each block and chunk that changes is rewritten
 * once.  The ids of removed hashes are reused ("pdq_free"), so that the
 * chunks stay as large as the set.
 */

#ifndef HDB_PDQ_IX_H
#define HDB_PDQ_IX_H

#include <string.h>

#include "hdb_internal.h"

#define HDB_PDQ_WORDS        16
#define HDB_PDQ_BLOCK_SHIFT  2
#define HDB_PDQ_SUB          (1 << HDB_PDQ_BLOCK_SHIFT)
#define HDB_PDQ_BLOCKS       (65536 >> HDB_PDQ_BLOCK_SHIFT)

static inline unsigned
hdb_pdq_word(const unsigned char *hash, int i)
{
    return (unsigned) hash[2 * i] << 8 | hash[2 * i + 1];
}

/* table i's filter: the word after word i, around the ring */
static inline uint16_t
hdb_pdq_filter(const unsigned char *hash, int table)
{
    return (uint16_t) hdb_pdq_word(hash, (table + 1) % HDB_PDQ_WORDS);
}

static inline void
hdb_pdq_block_key(int table, unsigned block, unsigned char key[3])
{
    key[0] = (unsigned char) table;
    key[1] = (unsigned char) (block >> 8);
    key[2] = (unsigned char) block;
}

/*
 * A block: the number of id segments S (an id is its segment, id >> 24,
 * and 24 bits), the record offsets of each sub-bucket's segments, the
 * records' filters, then their ids' low 24 bits (3 bytes, little-endian):
 *
 *     uint32_t  nseg;
 *     uint32_t  off[HDB_PDQ_SUB * nseg + 1];   sub-bucket s, segment g:
 *                                             off[s * nseg + g] ..
 *     uint16_t  filter[n];                    n = off[HDB_PDQ_SUB * nseg]
 *     uint8_t   id[n][3];
 *
 * Five bytes a record where a full id would make six: the index is then
 * 16 * 5 bytes per listed hash, plus 32 in the hash store, under 4x the
 * hashes themselves.  Segments are few (one per 16 M ids given out).
 */
#define HDB_PDQ_SEG_SHIFT    24
#define HDB_PDQ_SEG_MAX      (1u << (32 - HDB_PDQ_SEG_SHIFT))
#define HDB_PDQ_REC          (sizeof(uint16_t) + 3)

static inline uint32_t
hdb_pdq_u32(const unsigned char *p, size_t k)
{
    uint32_t  v;

    memcpy(&v, p + k * sizeof(uint32_t), sizeof(v));
    return v;
}

static inline uint32_t
hdb_pdq_nseg(const unsigned char *block)
{
    return hdb_pdq_u32(block, 0);
}

static inline size_t
hdb_pdq_hdr(uint32_t nseg)
{
    return (2 + (size_t) HDB_PDQ_SUB * nseg) * sizeof(uint32_t);
}

/* the first record of segment g of sub-bucket s (g == nseg: the end) */
static inline uint32_t
hdb_pdq_off(const unsigned char *block, unsigned s, unsigned g)
{
    return hdb_pdq_u32(block, 1 + s * hdb_pdq_nseg(block) + g);
}

static inline uint32_t
hdb_pdq_nrec(const unsigned char *block)
{
    return hdb_pdq_u32(block, 1 + HDB_PDQ_SUB * hdb_pdq_nseg(block));
}

static inline const unsigned char *
hdb_pdq_filters(const unsigned char *block)
{
    return block + hdb_pdq_hdr(hdb_pdq_nseg(block));
}

static inline uint16_t
hdb_pdq_rec_filter(const unsigned char *block, uint32_t j)
{
    uint16_t  f;

    memcpy(&f, hdb_pdq_filters(block) + j * sizeof(uint16_t), sizeof(f));
    return f;
}

/* the id segment record j of sub-bucket s is filed under */
static inline uint32_t
hdb_pdq_rec_seg(const unsigned char *block, unsigned s, uint32_t j)
{
    unsigned  g;
    uint32_t  nseg = hdb_pdq_nseg(block);

    for (g = 0; g + 1 < nseg && j >= hdb_pdq_off(block, s, g + 1); g++) {
        /* the segment j is in */
    }

    return g;
}

/* where record j's low 24 id bits are: apart from the filters */
static inline const unsigned char *
hdb_pdq_rec_id24(const unsigned char *block, uint32_t j)
{
    return hdb_pdq_filters(block) + hdb_pdq_nrec(block) * sizeof(uint16_t)
           + (size_t) j * 3;
}

static inline uint32_t
hdb_pdq_id(uint32_t seg, const unsigned char *id24)
{
    return seg << HDB_PDQ_SEG_SHIFT | (uint32_t) id24[0]
           | (uint32_t) id24[1] << 8 | (uint32_t) id24[2] << 16;
}

/* the id of record j, of sub-bucket s */
static inline uint32_t
hdb_pdq_rec_id(const unsigned char *block, unsigned s, uint32_t j)
{
    return hdb_pdq_id(hdb_pdq_rec_seg(block, s, j),
                      hdb_pdq_rec_id24(block, j));
}

static inline void
hdb_pdq_put_id24(unsigned char *p, uint32_t id)
{
    p[0] = (unsigned char) id;
    p[1] = (unsigned char) (id >> 8);
    p[2] = (unsigned char) (id >> 16);
}

/* a block as read from LMDB: its offsets must describe its size */
static inline int
hdb_pdq_block_valid(const MDB_val *v)
{
    uint32_t  nseg, prev, off;

    if (v->mv_size < hdb_pdq_hdr(1)) {
        return 0;
    }

    nseg = hdb_pdq_nseg(v->mv_data);

    if (nseg == 0 || nseg > HDB_PDQ_SEG_MAX
        || v->mv_size < hdb_pdq_hdr(nseg))
    {
        return 0;
    }

    prev = 0;

    for (size_t k = 0; k <= HDB_PDQ_SUB * nseg; k++) {
        off = hdb_pdq_u32(v->mv_data, 1 + k);
        if (off < prev || (k == 0 && off != 0)) {
            return 0;
        }
        prev = off;
    }

    return v->mv_size == hdb_pdq_hdr(nseg) + (size_t) prev * HDB_PDQ_REC;
}

/* the hash store: id -> chunk id / HDB_PDQ_CHUNK, slot id % HDB_PDQ_CHUNK */
static inline int
hdb_pdq_chunk_valid(const MDB_val *v)
{
    return v->mv_size % HDB_PDQ_SIZE == 0
           && v->mv_size <= (size_t) HDB_PDQ_CHUNK * HDB_PDQ_SIZE;
}

/* the chunk that holds id, which an index record names: it must exist */
static inline int
hdb_pdq_chunk_get(hdb_t *db, MDB_txn *txn, uint32_t id, MDB_val *val)
{
    int       rc;
    MDB_val   key;
    uint32_t  chunk = id / HDB_PDQ_CHUNK;

    key.mv_data = &chunk;
    key.mv_size = sizeof(chunk);

    rc = mdb_get(txn, db->pdq_id, &key, val);
    if (rc != 0) {
        return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    }

    return hdb_pdq_chunk_valid(val) ? 0 : MDB_CORRUPTED;
}

/* id's hash in its chunk (size bytes at data), if the chunk reaches it */
static inline int
hdb_pdq_chunk_hash(const unsigned char *data, size_t size, uint32_t id,
    const unsigned char **hash)
{
    size_t  slot = id % HDB_PDQ_CHUNK;

    if ((slot + 1) * HDB_PDQ_SIZE > size) {
        return MDB_CORRUPTED;
    }

    *hash = data + slot * HDB_PDQ_SIZE;
    return 0;
}

#endif /* HDB_PDQ_IX_H */
