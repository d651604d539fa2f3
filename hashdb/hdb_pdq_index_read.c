/*
 * The PDQ near-match index, the read side: the query of the workers and
 * of "hashdb hash/query"; see hdb_pdq_ix.h.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hdb_pdq_ix.h"


/* 16-bit masks by the number of bits they flip: 1 + 16 + 120 of them */
static uint16_t  hdb_pdq_masks[137];
static int       hdb_pdq_mask_bits[137];
static int       hdb_pdq_masks_ready;

static void
hdb_pdq_masks_init(void)
{
    size_t  n = 0;

    if (hdb_pdq_masks_ready) {
        return;
    }

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

    /* the table is the same in every thread: a racing init is harmless */
    hdb_pdq_masks_ready = 1;
}

/* ------------------------------------------------------------------ */
/* the read side                                                       */

/*
 * The scan of one bucket: the first record from index "from" whose lower
 * bound is under "limit".  This loop is where a query spends its time;
 * on x86-64 it is also built with the POPCNT instruction, chosen at load
 * time where the CPU has it.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("popcnt", "default")))
#endif
static size_t
hdb_pdq_scan(const hdb_rec_t *r, size_t from, size_t n, uint64_t f0,
    uint32_t f1, int base, int limit)
{
    uint64_t  r0;
    uint32_t  r1;

    for (size_t j = from; j < n; j++) {
        memcpy(&r0, r[j].filter, sizeof(r0));
        memcpy(&r1, r[j].filter + sizeof(r0), sizeof(r1));

        if (base + __builtin_popcountll(f0 ^ r0)
            + __builtin_popcount(f1 ^ r1) < limit)
        {
            return j;
        }
    }

    return n;
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
 * A candidate that passed the filter: its full distance, then the source
 * that lists it, allows that distance and does most by its policy (a
 * listed image's, else a listed video's frame as a still).  It becomes
 * the match if it does more than the one found so far, or as much and is
 * nearer; only a blocking match narrows the search.
 */
static int
hdb_pdq_check(hdb_pdq_query_t *q, const unsigned char *variant,
    unsigned variant_no, uint32_t id)
{
    int                    rc, action, found;
    unsigned               d;
    MDB_val                key, val, name;
    MDB_cursor            *cur;
    hdb_match_t            cand;
    hdb_source_t           src;
    struct hdb_entry_rec   entry;
    struct hdb_source_rec  rec;
    unsigned char          listed[HDB_PDQ_SIZE];

    key.mv_data = &id;
    key.mv_size = sizeof(id);

    rc = mdb_get(q->txn, q->rd->db->pdq_id, &key, &val);
    if (rc != 0 || val.mv_size != HDB_PDQ_SIZE) {
        return rc == 0 || rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    }

    memcpy(listed, val.mv_data, HDB_PDQ_SIZE);

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

    key.mv_data = listed;
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
     */
    rc = hdb_reader_allow_check(q->rd, HDB_PDQ, listed, &cand);
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

/* one probe of a query: a bucket and the lower bound it starts from */
typedef struct {
    hdb_pdq_blk_t        *blk;
    const unsigned char  *block;
    unsigned              table;
    unsigned              word;
    int                   base;
} hdb_pdq_probe_t;

#define HDB_PDQ_PROBES_MAX  (HDB_PDQ_TABLES * 137)

/*
 * One variant against every table.  The probes go in three passes so that
 * the CPU fetches the reader's block pointers, then the block headers, of
 * all buckets at once rather than one cache miss after another.
 */
static int
hdb_pdq_query_variant(hdb_pdq_query_t *q, const unsigned char *variant,
    unsigned variant_no, size_t nmasks, hdb_pdq_probe_t *pr)
{
    int               rc;
    size_t            np, j, n;
    unsigned          word, sub;
    uint64_t          f0[HDB_PDQ_TABLES];
    uint32_t          f1[HDB_PDQ_TABLES], from;
    unsigned char     filter[2 * HDB_PDQ_FILTER_WORDS];
    const hdb_rec_t  *r;

    np = 0;

    for (int t = 0; t < HDB_PDQ_TABLES; t++) {
        word = hdb_pdq_word(variant, t);
        hdb_pdq_filter(variant, t, filter);
        memcpy(&f0[t], filter, sizeof(f0[t]));
        memcpy(&f1[t], filter + sizeof(f0[t]), sizeof(f1[t]));

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

    for (size_t i = 0; i < np && q->limit > 0; i++) {
        if (pr[i].block == NULL) {
            continue;
        }

        sub = pr[i].word & (HDB_PDQ_SUB - 1);
        from = hdb_pdq_off(pr[i].block, (int) sub);
        n = hdb_pdq_off(pr[i].block, (int) sub + 1);
        r = (const hdb_rec_t *) (pr[i].block + HDB_PDQ_HDR);

        for (j = hdb_pdq_scan(r, from, n, f0[pr[i].table], f1[pr[i].table],
                              pr[i].base, (int) q->limit);
             j < n;
             j = hdb_pdq_scan(r, j + 1, n, f0[pr[i].table],
                              f1[pr[i].table], pr[i].base, (int) q->limit))
        {
            rc = hdb_pdq_check(q, variant, variant_no,
                               hdb_source_id_decode(r[j].id));
            if (rc != 0) {
                return rc;
            }
        }
    }

    return 0;
}

/* the reader's block cache for its snapshot: see hdb_reader_begin() */
static int
hdb_pdq_query_begin(hdb_reader_t *rd, unsigned max_distance, size_t *nmasks)
{
    size_t  txnid;

    if (max_distance > HDB_PDQ_DISTANCE_MAX) {
        return EINVAL;
    }

    hdb_pdq_masks_init();

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
        rd->pdq_txnid = txnid;
    }

    /* the radius per word: see the top of this file */
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

    rc = hdb_pdq_query_begin(rd, max_distance, &nmasks);
    if (rc != 0) {
        return rc;
    }

    q->rd = rd;
    q->txn = rd->txn;
    q->limit = max_distance + 1;

    probes = malloc(HDB_PDQ_PROBES_MAX * sizeof(hdb_pdq_probe_t));
    if (probes == NULL) {
        return ENOMEM;
    }

    for (size_t v = 0; rc == 0 && v < n; v++) {
        rc = hdb_pdq_query_variant(q, variants[v], (unsigned) v, nmasks,
                                   probes);
    }

    free(probes);

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
