/*
 * The PDQ near-match index, the read side: the query of the workers and
 * of "hashdb hash/query"; see hdb_pdq_ix.h.
 */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hdb_pdq_ix.h"


/* 16-bit masks by the number of bits they flip: 1 + 16 + 120 of them */
static uint16_t  hdb_pdq_masks[137];
static int       hdb_pdq_mask_bits[137];

static void
hdb_pdq_masks_init(void)
{
    size_t  n = 0;

    hdb_pdq_masks[n++] = 0;

    for (int a = 0; a < 16; a++) {
        hdb_pdq_mask_bits[n] = 1;
        hdb_pdq_masks[n++] = (uint16_t) (1u << a);
    }

    for (int a = 0; a < 16; a++) {
        for (int b = a + 1; b < 16; b++) {
            hdb_pdq_mask_bits[n] = 2;
            hdb_pdq_masks[n++] = (uint16_t) (1u << a | 1u << b);
        }
    }
}

/* ------------------------------------------------------------------ */
/* the read side                                                       */

#define HDB_PDQ_SCAN  256           /* filters scanned per call at most */

/*
 * The scan of a bucket's filters: the indexes, among the n (at most
 * HDB_PDQ_SCAN) from f, of those within lim bits of q, into hit.  This
 * loop is where a query spends its time: on x86-64 it runs 16 filters at
 * a time where the CPU has AVX2 (checked once, at the first query).
 */
static size_t
hdb_pdq_scan_from(const unsigned char *f, size_t j, size_t n, uint16_t q,
    int lim, uint16_t *hit)
{
    size_t    k = 0;
    uint16_t  v;

    for ( /* void */ ; j < n; j++) {
        memcpy(&v, f + j * sizeof(v), sizeof(v));
        hit[k] = (uint16_t) j;
        k += __builtin_popcount((unsigned) (v ^ q)) <= lim;
    }

    return k;
}

static size_t
hdb_pdq_scan_c(const unsigned char *f, size_t n, uint16_t q, int lim,
    uint16_t *hit)
{
    return hdb_pdq_scan_from(f, 0, n, q, lim, hit);
}

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

__attribute__((target("avx2")))
static size_t
hdb_pdq_scan_avx2(const unsigned char *f, size_t n, uint16_t q, int lim,
    uint16_t *hit)
{
    size_t    k, j;
    unsigned  m;
    __m256i   x, c;

    /* the bits set in each nibble, looked up 32 at a time */
    const __m256i  lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3,
                                          1, 2, 2, 3, 2, 3, 3, 4,
                                          0, 1, 1, 2, 1, 2, 2, 3,
                                          1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i  low = _mm256_set1_epi8(0x0f);
    const __m256i  ones = _mm256_set1_epi8(1);
    const __m256i  vq = _mm256_set1_epi16((short) q);
    const __m256i  vl = _mm256_set1_epi16((short) (lim + 1));

    k = 0;

    for (j = 0; j + 16 <= n; j += 16) {
        x = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)
                                                (f + j * 2)), vq);
        c = _mm256_add_epi8(
                _mm256_shuffle_epi8(lut, _mm256_and_si256(x, low)),
                _mm256_shuffle_epi8(lut,
                    _mm256_and_si256(_mm256_srli_epi16(x, 4), low)));
        c = _mm256_maddubs_epi16(c, ones);

        /* two mask bits per 16-bit lane under the limit */
        m = (unsigned) _mm256_movemask_epi8(_mm256_cmpgt_epi16(vl, c));

        while (m) {
            int  bit = __builtin_ctz(m);

            hit[k++] = (uint16_t) (j + (unsigned) bit / 2);
            m &= ~(3u << bit);
        }
    }

    /* the last few one at a time */
    return k + hdb_pdq_scan_from(f, j, n, q, lim, hit + k);
}

#endif

typedef size_t (*hdb_pdq_scan_pt)(const unsigned char *f, size_t n,
    uint16_t q, int lim, uint16_t *hit);

static hdb_pdq_scan_pt  hdb_pdq_scan;

static void
hdb_pdq_scan_init(void)
{
    hdb_pdq_scan_pt  scan = hdb_pdq_scan_c;

#if defined(__x86_64__) && defined(__GNUC__)
    const char  *want = getenv("HDB_PDQ_SCAN");

    /* HDB_PDQ_SCAN=c: the plain loop, so that tests cover it too */
    __builtin_cpu_init();

    if (__builtin_cpu_supports("avx2") && !(want && strcmp(want, "c") == 0))
    {
        scan = hdb_pdq_scan_avx2;
    }
#endif

    hdb_pdq_scan = scan;
}

/* the masks and the scan, once in a process whatever thread comes first */
static pthread_once_t  hdb_pdq_once = PTHREAD_ONCE_INIT;

static void
hdb_pdq_init(void)
{
    hdb_pdq_masks_init();
    hdb_pdq_scan_init();
}

static unsigned
hdb_pdq_distance(const unsigned char *a, const unsigned char *b)
{
    unsigned  d = 0;
    uint64_t  x, y;

    for (int i = 0; i < HDB_PDQ_SIZE; i += 8) {
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        d += (unsigned) __builtin_popcountll(x ^ y);
    }

    return d;
}

typedef struct {
    hdb_reader_t   *rd;
    MDB_txn        *txn;
    unsigned        limit;      /* matches must be closer than this */
    int             found;
    hdb_match_t    *match;
    hdb_pdq_near_pt near;       /* every hash within the limit, not the
                                   nearest: hdb_pdq_near() */
    unsigned        flags;      /* HDB_MATCH_* */
    void           *data;
} hdb_pdq_query_t;

/* a block of the reader's snapshot, from its cache or from LMDB */
static int
hdb_pdq_block(hdb_reader_t *rd, hdb_pdq_blk_t *b, int table, unsigned block,
    const unsigned char **data)
{
    int             rc;
    MDB_val         key, val;
    unsigned char   k[3];

    if (b->state == HDB_PDQ_BLK_UNKNOWN) {
        hdb_pdq_block_key(table, block, k);
        key.mv_data = k;
        key.mv_size = sizeof(k);

        rc = mdb_get(rd->txn, rd->db->pdq_ix, &key, &val);

        if (rc == MDB_NOTFOUND) {
            b->state = HDB_PDQ_BLK_ABSENT;

        } else if (rc != 0) {
            return rc;

        } else if (!hdb_pdq_block_valid(&val)) {
            return MDB_CORRUPTED;

        } else {
            b->state = HDB_PDQ_BLK_PRESENT;
            b->data = val.mv_data;
        }
    }

    *data = b->state == HDB_PDQ_BLK_PRESENT ? b->data : NULL;
    return 0;
}

/*
 * A candidate that passed the filter (its hash in the map, valid for the
 * read transaction): its full distance, then the source that lists it,
 * allows that distance and does most by its policy (a listed image's,
 * else a listed video's frame as a still).  It becomes
 * the match if it does more than the one found so far, or as much and is
 * nearer; only a blocking match narrows the search.
 */
static int
hdb_pdq_check(hdb_pdq_query_t *q, const unsigned char *variant,
    unsigned variant_no, const unsigned char *listed)
{
    int                    rc, action, found;
    unsigned               d;
    MDB_val                key, val, name;
    MDB_cursor            *cur;
    hdb_match_t            cand;
    hdb_source_t           src;
    struct hdb_entry_rec   entry;
    struct hdb_source_rec  rec;

    d = hdb_pdq_distance(listed, variant);
    if (d >= q->limit) {
        return 0;
    }

    if (q->near) {
        return q->near(q->data, listed, d);
    }

    /* a far candidate that cannot do more than the match is not looked up */
    if (q->found && hdb_match_weight(q->match) == HDB_ACTION_BLOCK
        && d >= q->match->distance)
    {
        return 0;
    }

    rc = mdb_cursor_open(q->txn, q->rd->db->types[HDB_PDQ], &cur);
    if (rc != 0) {
        return rc;
    }

    key.mv_data = (void *) listed;
    key.mv_size = HDB_PDQ_SIZE;
    found = 0;

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT_DUP))
    {
        if (val.mv_size != sizeof(entry)) {
            rc = MDB_CORRUPTED;
            break;
        }

        memcpy(&entry, val.mv_data, sizeof(entry));

        rc = hdb_reader_source_rec(q->rd, entry.source_id, &name, &rec);
        if (rc != 0) {
            break;
        }

        if (rec.pdq_distance && d > rec.pdq_distance) {
            continue;
        }

        hdb_source_from_rec(&src, name.mv_data, name.mv_size, &rec);

        rc = hdb_entry_action(q->rd, src.name, &rec, entry.category,
                              (entry.generation & HDB_GEN_STAGED) != 0,
                              &action);
        if (rc != 0) {
            break;
        }

        if (action < 0 || (found && action >= cand.action)) {
            continue;
        }

        memset(&cand, 0, sizeof(cand));
        cand.type = HDB_PDQ;
        memcpy(cand.source, src.name, sizeof(src.name));
        memcpy(cand.category, entry.category, HDB_CATEGORY_MAX);
        cand.added = entry.added;
        cand.action = action;
        found = 1;

        if (action == HDB_ACTION_BLOCK) {
            break;
        }
    }

    mdb_cursor_close(cur);

    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    if ((!found || cand.action != HDB_ACTION_BLOCK)
        && !(q->flags & HDB_MATCH_IMAGES))
    {
        /* no image lists it so that it blocks: a listed video's frame may */
        rc = hdb_video_still(q->rd, listed, d, &cand, found);

        if (rc == 0) {
            found = 1;

        } else if (rc != MDB_NOTFOUND) {
            return rc;
        }
    }

    if (!found) {
        return 0;
    }

    /*
     * The allow list's say is part of what the candidate does: an allowed
     * entry near the upload must not hide a listed one a little further.
     * A listed video's frame is allowed with its video, too.
     */
    rc = hdb_reader_allow_pdq(q->rd, listed, &cand);
    if (rc != 0) {
        return rc;
    }

    if (q->found && !hdb_match_better(&cand, d, q->match)) {
        return 0;
    }

    memcpy(cand.listed, listed, HDB_PDQ_SIZE);
    cand.distance = d;
    cand.variant = variant_no;
    *q->match = cand;
    q->found = 1;

    if (hdb_match_weight(&cand) == HDB_ACTION_BLOCK) {
        q->limit = d;
    }

    return 0;
}

/* a hash of the reader's snapshot by its id, through its chunk */
static int
hdb_pdq_hash(hdb_reader_t *rd, uint32_t id, const unsigned char **hash)
{
    int             rc;
    size_t          c, cap;
    MDB_val         val;
    hdb_pdq_blk_t  *b;

    c = id / HDB_PDQ_CHUNK;

    if (c >= rd->pdq_nchunks) {
        cap = rd->pdq_nchunks ? rd->pdq_nchunks : 64;
        while (cap <= c) {
            cap *= 2;
        }

        b = realloc(rd->pdq_chunks, cap * sizeof(hdb_pdq_blk_t));
        if (b == NULL) {
            return ENOMEM;
        }

        memset(b + rd->pdq_nchunks, 0,
               (cap - rd->pdq_nchunks) * sizeof(hdb_pdq_blk_t));
        rd->pdq_chunks = b;
        rd->pdq_nchunks = cap;
    }

    b = &rd->pdq_chunks[c];

    if (b->state == HDB_PDQ_BLK_UNKNOWN) {
        rc = hdb_pdq_chunk_get(rd->db, rd->txn, id, &val);
        if (rc != 0) {
            return rc;
        }

        b->state = HDB_PDQ_BLK_PRESENT;
        b->data = val.mv_data;
        b->size = (uint32_t) val.mv_size;
    }

    return hdb_pdq_chunk_hash(b->data, b->size, id, hash);
}

/* one probe of a query: a bucket and the bits its word is off by */
typedef struct {
    hdb_pdq_blk_t        *blk;
    const unsigned char  *block;
    unsigned              table;
    unsigned              word;
    int                   base;
} hdb_pdq_probe_t;

#define HDB_PDQ_PROBES_MAX  (HDB_PDQ_TABLES * 137)
#define HDB_PDQ_SURVIVORS   512

/*
 * The candidates a variant's scans let through, checked a batch at once:
 * each as its id segment and where its id's low bits are, in the block.
 */
typedef struct {
    size_t                n;
    uint32_t              seg[HDB_PDQ_SURVIVORS];
    const unsigned char  *id24[HDB_PDQ_SURVIVORS];
    const unsigned char  *hash[HDB_PDQ_SURVIVORS];
} hdb_pdq_batch_t;

/*
 * The batch's ids, then its hashes, each fetched all together (the scan
 * asked for the ids' cache lines as it found them, and the hashes' misses
 * overlap), then checked in order.  A survivor's id is in another cache
 * line than its filter, and its hash in another part of the map: read as
 * the scan found them, the ids' misses came one after the other (a sixth
 * of a query's time at 50 M hashes, by perf).
 */
static int
hdb_pdq_flush(hdb_pdq_query_t *q, hdb_pdq_batch_t *bt,
    const unsigned char *variant, unsigned variant_no)
{
    int  rc;

    for (size_t i = 0; i < bt->n; i++) {
        rc = hdb_pdq_hash(q->rd, hdb_pdq_id(bt->seg[i], bt->id24[i]),
                          &bt->hash[i]);
        if (rc != 0) {
            return rc;
        }

        __builtin_prefetch(bt->hash[i]);
    }

    for (size_t i = 0; i < bt->n; i++) {
        rc = hdb_pdq_check(q, variant, variant_no, bt->hash[i]);
        if (rc != 0) {
            return rc;
        }
    }

    bt->n = 0;

    return 0;
}

/*
 * One variant against every table.  The probes go in passes so that the
 * CPU fetches the reader's block pointers, then the block headers, of all
 * buckets at once rather than one cache miss after another; the
 * survivors of the scans go in batches (hdb_pdq_flush()).
 */
static int
hdb_pdq_query_variant(hdb_pdq_query_t *q, const unsigned char *variant,
    unsigned variant_no, size_t nmasks, hdb_pdq_probe_t *pr,
    hdb_pdq_batch_t *bt)
{
    int                   rc, lim;
    size_t                np, k;
    unsigned              word, sub;
    uint32_t              from, to, n;
    uint16_t              filter[HDB_PDQ_TABLES], hit[HDB_PDQ_SCAN];
    const unsigned char  *f, *id24;

    np = 0;

    for (int t = 0; t < HDB_PDQ_TABLES; t++) {
        word = hdb_pdq_word(variant, t);
        filter[t] = hdb_pdq_filter(variant, t);

        for (size_t m = 0; m < nmasks; m++) {
            pr[np].table = (unsigned) t;
            pr[np].word = word ^ hdb_pdq_masks[m];
            pr[np].base = hdb_pdq_mask_bits[m];
            pr[np].blk = &q->rd->pdq_blocks[t * HDB_PDQ_BLOCKS
                                            + (pr[np].word
                                               >> HDB_PDQ_BLOCK_SHIFT)];
            __builtin_prefetch(pr[np].blk);
            np++;
        }
    }

    for (size_t i = 0; i < np; i++) {
        rc = hdb_pdq_block(q->rd, pr[i].blk, (int) pr[i].table,
                           pr[i].word >> HDB_PDQ_BLOCK_SHIFT,
                           &pr[i].block);
        if (rc != 0) {
            return rc;
        }

        if (pr[i].block) {
            __builtin_prefetch(pr[i].block);
        }
    }

    bt->n = 0;

    for (size_t i = 0; i < np && q->limit > 0; i++) {
        if (pr[i].block == NULL) {
            continue;
        }

        /* the pigeonring bound over the bucket's word and the next */
        lim = (int) ((q->limit - 1) / 8) - pr[i].base;
        if (lim < 0) {
            continue;
        }

        sub = pr[i].word & (HDB_PDQ_SUB - 1);
        from = hdb_pdq_off(pr[i].block, sub, 0);
        to = hdb_pdq_off(pr[i].block, sub, hdb_pdq_nseg(pr[i].block));
        f = hdb_pdq_filters(pr[i].block);

        for ( /* void */ ; from < to; from += n) {
            n = to - from < HDB_PDQ_SCAN ? to - from : HDB_PDQ_SCAN;

            k = hdb_pdq_scan(f + from * sizeof(uint16_t), n,
                             filter[pr[i].table], lim, hit);

            for (size_t j = 0; j < k; j++) {
                if (bt->n == HDB_PDQ_SURVIVORS) {
                    rc = hdb_pdq_flush(q, bt, variant, variant_no);
                    if (rc != 0) {
                        return rc;
                    }
                }

                id24 = hdb_pdq_rec_id24(pr[i].block, from + hit[j]);
                __builtin_prefetch(id24);
                bt->id24[bt->n] = id24;
                bt->seg[bt->n++] = hdb_pdq_rec_seg(pr[i].block, sub,
                                                   from + hit[j]);
            }
        }
    }

    return hdb_pdq_flush(q, bt, variant, variant_no);
}

/* the reader's block cache for its snapshot: see hdb_reader_begin() */
static int
hdb_pdq_query_begin(hdb_reader_t *rd, unsigned max_distance, size_t *nmasks)
{
    size_t  txnid;

    if (max_distance > HDB_PDQ_DISTANCE_MAX) {
        return EINVAL;
    }

    pthread_once(&hdb_pdq_once, hdb_pdq_init);

    if (rd->pdq_blocks == NULL) {
        rd->pdq_blocks = calloc(HDB_PDQ_TABLES * HDB_PDQ_BLOCKS,
                                sizeof(hdb_pdq_blk_t));
        if (rd->pdq_blocks == NULL) {
            return ENOMEM;
        }
        rd->pdq_txnid = HDB_TXNID_NONE;
    }

    txnid = mdb_txn_id(rd->txn);

    if (rd->pdq_txnid != txnid) {
        memset(rd->pdq_blocks, 0,
               HDB_PDQ_TABLES * HDB_PDQ_BLOCKS * sizeof(hdb_pdq_blk_t));
        if (rd->pdq_chunks) {
            memset(rd->pdq_chunks, 0,
                   rd->pdq_nchunks * sizeof(hdb_pdq_blk_t));
        }
        rd->pdq_txnid = txnid;
    }

    /* the radius per word: see hdb_pdq_ix.h */
    *nmasks = max_distance < 16 ? 1 : max_distance < 32 ? 17 : 137;

    return 0;
}

int
hdb_reader_pdq_match(hdb_reader_t *rd,
    const unsigned char (*variants)[HDB_PDQ_SIZE], size_t n,
    unsigned max_distance, hdb_match_t *match)
{
    return hdb_reader_pdq_match_flags(rd, variants, n, max_distance, 0,
                                      match);
}

/* the query q (its callbacks set) of the n variants, probes and all */
static int
hdb_pdq_query(hdb_reader_t *rd, hdb_pdq_query_t *q,
    const unsigned char (*variants)[HDB_PDQ_SIZE], size_t n,
    unsigned max_distance)
{
    int               rc;
    size_t            nmasks;
    hdb_pdq_probe_t  *probes;
    hdb_pdq_batch_t  *batch;

    rc = hdb_pdq_query_begin(rd, max_distance, &nmasks);
    if (rc != 0) {
        return rc;
    }

    q->rd = rd;
    q->txn = rd->txn;
    q->limit = max_distance + 1;

    probes = malloc(HDB_PDQ_PROBES_MAX * sizeof(hdb_pdq_probe_t));
    batch = malloc(sizeof(hdb_pdq_batch_t));

    if (probes == NULL || batch == NULL) {
        free(probes);
        free(batch);
        return ENOMEM;
    }

    for (size_t v = 0; rc == 0 && v < n; v++) {
        rc = hdb_pdq_query_variant(q, variants[v], (unsigned) v, nmasks,
                                   probes, batch);
    }

    free(probes);
    free(batch);

    return rc;
}

int
hdb_reader_pdq_match_flags(hdb_reader_t *rd,
    const unsigned char (*variants)[HDB_PDQ_SIZE], size_t n,
    unsigned max_distance, unsigned flags, hdb_match_t *match)
{
    int              rc;
    hdb_pdq_query_t  q;

    memset(&q, 0, sizeof(q));
    q.match = match;
    q.flags = flags;

    rc = hdb_pdq_query(rd, &q, variants, n, max_distance);
    if (rc != 0) {
        return rc;
    }

    /* each candidate's allow-list say is in: see hdb_pdq_check() */
    return q.found ? 0 : MDB_NOTFOUND;
}

int
hdb_pdq_near(hdb_reader_t *rd, const unsigned char *hash,
    unsigned max_distance, hdb_pdq_near_pt near, void *data)
{
    hdb_pdq_query_t  q;

    memset(&q, 0, sizeof(q));
    q.near = near;
    q.data = data;

    return hdb_pdq_query(rd, &q, (const unsigned char (*)[HDB_PDQ_SIZE]) hash,
                         1, max_distance);
}
