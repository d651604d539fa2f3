/*
 * The PDQ near-match index: multi-index hashing over the sixteen 16-bit
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

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hdb_internal.h"

#define HDB_PDQ_WORDS        16
#define HDB_PDQ_BLOCK_SHIFT  2
#define HDB_PDQ_SUB          (1 << HDB_PDQ_BLOCK_SHIFT)
#define HDB_PDQ_BLOCKS       (65536 >> HDB_PDQ_BLOCK_SHIFT)

/* a block: record offsets of its sub-buckets, then the records */
#define HDB_PDQ_HDR          ((HDB_PDQ_SUB + 1) * sizeof(uint32_t))

typedef struct hdb_pdq_ix_rec  hdb_rec_t;

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

static unsigned
hdb_pdq_word(const unsigned char *hash, int i)
{
    return (unsigned) hash[2 * i] << 8 | hash[2 * i + 1];
}

static void
hdb_pdq_block_key(int table, unsigned block, unsigned char key[3])
{
    key[0] = (unsigned char) table;
    key[1] = (unsigned char) (block >> 8);
    key[2] = (unsigned char) block;
}

/* the six words after word i, wrapping around: table i's filter */
static void
hdb_pdq_filter(const unsigned char *hash, int table, unsigned char *filter)
{
    for (int k = 0; k < HDB_PDQ_FILTER_WORDS; k++) {
        int  w = (table + 1 + k) % HDB_PDQ_WORDS;

        filter[2 * k] = hash[2 * w];
        filter[2 * k + 1] = hash[2 * w + 1];
    }
}

static uint32_t
hdb_pdq_off(const unsigned char *block, int k)
{
    uint32_t  v;

    memcpy(&v, block + k * sizeof(uint32_t), sizeof(v));
    return v;
}

/* a block as read from LMDB: its offsets must describe its size */
static int
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


/* ------------------------------------------------------------------ */
/* the write side                                                      */

typedef struct {
    unsigned char  hash[HDB_PDQ_SIZE];
    uint32_t       seq;
    uint32_t       was_indexed;
} hdb_pdq_touch_t;

typedef struct {
    unsigned char  hash[HDB_PDQ_SIZE];
    uint32_t       id;
    uint32_t       remove;
} hdb_pdq_change_t;

/* one table's view of a change: sorted by word, removals first */
typedef struct {
    uint16_t       word;
    uint16_t       remove;
    hdb_rec_t      rec;
} hdb_pdq_op_t;

struct hdb_pdq_pending {
    hdb_pdq_touch_t  *touch;
    size_t            n, cap;
};

int
hdb_pdq_touch(hdb_pdq_pending_t **pp, const unsigned char *hash,
    int was_indexed)
{
    hdb_pdq_touch_t    *grown;
    hdb_pdq_pending_t  *p = *pp;

    if (p == NULL) {
        p = calloc(1, sizeof(hdb_pdq_pending_t));
        if (p == NULL) {
            return ENOMEM;
        }
        *pp = p;
    }

    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 1024;
        grown = realloc(p->touch, p->cap * sizeof(hdb_pdq_touch_t));
        if (grown == NULL) {
            return ENOMEM;
        }
        p->touch = grown;
    }

    memcpy(p->touch[p->n].hash, hash, HDB_PDQ_SIZE);
    p->touch[p->n].seq = (uint32_t) p->n;
    p->touch[p->n].was_indexed = (uint32_t) was_indexed;
    p->n++;

    return 0;
}

void
hdb_pdq_pending_free(hdb_pdq_pending_t *p)
{
    if (p) {
        free(p->touch);
        free(p);
    }
}

static int
hdb_pdq_touch_cmp(const void *a, const void *b)
{
    const hdb_pdq_touch_t  *x = a, *y = b;
    int                     c = memcmp(x->hash, y->hash, HDB_PDQ_SIZE);

    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int
hdb_pdq_op_cmp(const void *a, const void *b)
{
    const hdb_pdq_op_t  *x = a, *y = b;

    if (x->word != y->word) {
        return x->word < y->word ? -1 : 1;
    }

    return (int) y->remove - (int) x->remove;
}

/* the id a listed hash is filed under: its bucket in table 0 tells */
static int
hdb_pdq_find_id(hdb_t *db, MDB_txn *txn, const unsigned char *hash,
    uint32_t *id)
{
    int               rc;
    unsigned          word;
    uint32_t          from, to, cand;
    MDB_val           key, val, hval;
    unsigned char     k[3], filter[2 * HDB_PDQ_FILTER_WORDS];
    const hdb_rec_t  *r;

    word = hdb_pdq_word(hash, 0);
    hdb_pdq_block_key(0, word >> HDB_PDQ_BLOCK_SHIFT, k);
    hdb_pdq_filter(hash, 0, filter);

    key.mv_data = k;
    key.mv_size = sizeof(k);

    rc = mdb_get(txn, db->pdq_ix, &key, &val);
    if (rc != 0) {
        return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    }

    if (!hdb_pdq_block_valid(&val)) {
        return MDB_CORRUPTED;
    }

    from = hdb_pdq_off(val.mv_data, word & (HDB_PDQ_SUB - 1));
    to = hdb_pdq_off(val.mv_data, (word & (HDB_PDQ_SUB - 1)) + 1);
    r = (const hdb_rec_t *) ((const unsigned char *) val.mv_data
                             + HDB_PDQ_HDR);

    for (uint32_t j = from; j < to; j++) {
        if (memcmp(r[j].filter, filter, sizeof(filter)) != 0) {
            continue;
        }

        cand = hdb_source_id_decode(r[j].id);
        key.mv_data = &cand;
        key.mv_size = sizeof(cand);

        rc = mdb_get(txn, db->pdq_id, &key, &hval);
        if (rc != 0) {
            return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
        }

        if (hval.mv_size == HDB_PDQ_SIZE
            && memcmp(hval.mv_data, hash, HDB_PDQ_SIZE) == 0)
        {
            *id = cand;
            return 0;
        }
    }

    /* a hash that had entries is always indexed */
    return MDB_CORRUPTED;
}

/* one block rewritten: the old records less the removed, plus the added */
static int
hdb_pdq_id_cmp(const void *a, const void *b)
{
    uint32_t  x = *(const uint32_t *) a, y = *(const uint32_t *) b;

    return (x > y) - (x < y);
}

static int
hdb_pdq_merge_block(hdb_t *db, MDB_txn *txn, int table, unsigned block,
    const hdb_pdq_op_t *ops, size_t nops, unsigned char **buf, size_t *cap,
    uint32_t *gone)
{
    int               rc;
    size_t            need, n, old_n, ngone;
    uint32_t          id;
    uint32_t          off[HDB_PDQ_SUB + 1], from, to;
    MDB_val           key, val;
    unsigned char     k[3], *grown;
    const hdb_rec_t  *old;
    hdb_rec_t        *out;

    hdb_pdq_block_key(table, block, k);
    key.mv_data = k;
    key.mv_size = sizeof(k);

    rc = mdb_get(txn, db->pdq_ix, &key, &val);

    if (rc == MDB_NOTFOUND) {
        val.mv_data = NULL;
        old_n = 0;

    } else if (rc != 0) {
        return rc;

    } else if (!hdb_pdq_block_valid(&val)) {
        return MDB_CORRUPTED;

    } else {
        old_n = hdb_pdq_off(val.mv_data, HDB_PDQ_SUB);
    }

    need = HDB_PDQ_HDR + (old_n + nops) * sizeof(hdb_rec_t);

    if (need > *cap) {
        grown = realloc(*buf, need);
        if (grown == NULL) {
            return ENOMEM;
        }
        *buf = grown;
        *cap = need;
    }

    old = val.mv_data ? (const hdb_rec_t *) ((const unsigned char *)
                                             val.mv_data + HDB_PDQ_HDR)
                      : NULL;
    out = (hdb_rec_t *) (*buf + HDB_PDQ_HDR);
    n = 0;

    /* ids are unique: one sorted list of the removed serves all words */
    ngone = 0;
    for (size_t o = 0; o < nops; o++) {
        if (ops[o].remove) {
            gone[ngone++] = hdb_source_id_decode(ops[o].rec.id);
        }
    }

    qsort(gone, ngone, sizeof(uint32_t), hdb_pdq_id_cmp);

    for (unsigned s = 0; s < HDB_PDQ_SUB; s++) {
        off[s] = (uint32_t) n;

        from = old ? hdb_pdq_off(val.mv_data, (int) s) : 0;
        to = old ? hdb_pdq_off(val.mv_data, (int) s + 1) : 0;

        for (uint32_t j = from; j < to; j++) {
            id = hdb_source_id_decode(old[j].id);

            if (ngone == 0
                || bsearch(&id, gone, ngone, sizeof(uint32_t),
                           hdb_pdq_id_cmp) == NULL)
            {
                out[n++] = old[j];
            }
        }

        for (size_t o = 0; o < nops; o++) {
            if (!ops[o].remove && (ops[o].word & (HDB_PDQ_SUB - 1)) == s) {
                out[n++] = ops[o].rec;
            }
        }
    }

    off[HDB_PDQ_SUB] = (uint32_t) n;

    if (n == 0) {
        rc = old ? mdb_del(txn, db->pdq_ix, &key, NULL) : 0;
        return rc;
    }

    memcpy(*buf, off, HDB_PDQ_HDR);
    val.mv_data = *buf;
    val.mv_size = HDB_PDQ_HDR + n * sizeof(hdb_rec_t);

    if (old == NULL) {
        /*
         * New blocks come in key order: appended, they fill their pages
         * (an import writes the index this way) where splits in the
         * middle would leave them half empty.
         */
        rc = mdb_put(txn, db->pdq_ix, &key, &val, MDB_APPEND);
        if (rc != MDB_KEYEXIST) {
            return rc;
        }
    }

    return mdb_put(txn, db->pdq_ix, &key, &val, 0);
}

/* every block of one table that the changes touch */
static int
hdb_pdq_apply_table(hdb_t *db, MDB_txn *txn, int table,
    const hdb_pdq_change_t *ch, size_t nch, hdb_pdq_op_t *ops,
    unsigned char **buf, size_t *cap, uint32_t *gone)
{
    int     rc;
    size_t  i, j;

    for (i = 0; i < nch; i++) {
        ops[i].word = (uint16_t) hdb_pdq_word(ch[i].hash, table);
        ops[i].remove = (uint16_t) ch[i].remove;
        hdb_pdq_filter(ch[i].hash, table, ops[i].rec.filter);
        hdb_source_id_encode(ch[i].id, ops[i].rec.id);
    }

    qsort(ops, nch, sizeof(hdb_pdq_op_t), hdb_pdq_op_cmp);

    for (i = 0; i < nch; i = j) {
        unsigned  block = ops[i].word >> HDB_PDQ_BLOCK_SHIFT;

        for (j = i + 1;
             j < nch && (unsigned) (ops[j].word >> HDB_PDQ_BLOCK_SHIFT)
                        == block;
             j++)
        {
            /* the ops of one block */
        }

        rc = hdb_pdq_merge_block(db, txn, table, block, ops + i, j - i, buf,
                                 cap, gone);
        if (rc != 0) {
            return rc;
        }
    }

    return 0;
}

static int
hdb_pdq_next_ids(hdb_t *db, MDB_txn *txn, size_t n, uint32_t *first)
{
    int       rc;
    MDB_val   key, val;
    uint32_t  id, next;

    key.mv_data = "next_pdq_id";
    key.mv_size = sizeof("next_pdq_id") - 1;

    rc = mdb_get(txn, db->meta, &key, &val);
    if (rc != 0 || val.mv_size != sizeof(id)) {
        return rc ? rc : MDB_CORRUPTED;
    }

    memcpy(&id, val.mv_data, sizeof(id));

    if ((uint64_t) id + n >= UINT32_MAX) {
        return ERANGE;
    }

    next = id + (uint32_t) n;
    val.mv_data = &next;
    val.mv_size = sizeof(next);

    *first = id;

    return mdb_put(txn, db->meta, &key, &val, 0);
}

int
hdb_pdq_index_commit(hdb_t *db, MDB_txn *txn, hdb_pdq_pending_t *p)
{
    int                rc;
    size_t             i, j, nch, nadd, cap;
    uint32_t           first;
    MDB_val            key, val;
    uint32_t          *gone;
    hdb_pdq_op_t      *ops;
    unsigned char     *buf;
    hdb_pdq_change_t  *ch;

    if (p == NULL || p->n == 0) {
        return 0;
    }

    qsort(p->touch, p->n, sizeof(hdb_pdq_touch_t), hdb_pdq_touch_cmp);

    ch = malloc(p->n * sizeof(hdb_pdq_change_t));
    ops = malloc(p->n * sizeof(hdb_pdq_op_t));
    gone = malloc(p->n * sizeof(uint32_t));
    buf = NULL;
    cap = 0;

    if (ch == NULL || ops == NULL || gone == NULL) {
        rc = ENOMEM;
        goto done;
    }

    /*
     * Per hash: indexed before this write (its first touch says) and
     * listed after it (the pdq database says).  Removals find their ids
     * while the index is still as it was.
     */
    nch = 0;
    nadd = 0;

    for (i = 0; i < p->n; i = j) {
        int  now;

        for (j = i + 1;
             j < p->n && memcmp(p->touch[j].hash, p->touch[i].hash,
                                HDB_PDQ_SIZE) == 0;
             j++)
        {
            /* later touches of the same hash */
        }

        key.mv_data = p->touch[i].hash;
        key.mv_size = HDB_PDQ_SIZE;

        rc = mdb_get(txn, db->types[HDB_PDQ], &key, &val);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            goto done;
        }

        now = rc == 0;

        if (now == (int) p->touch[i].was_indexed) {
            continue;
        }

        memcpy(ch[nch].hash, p->touch[i].hash, HDB_PDQ_SIZE);
        ch[nch].remove = !now;

        if (!now) {
            rc = hdb_pdq_find_id(db, txn, ch[nch].hash, &ch[nch].id);
            if (rc != 0) {
                goto done;
            }
        } else {
            nadd++;
        }

        nch++;
    }

    rc = hdb_pdq_next_ids(db, txn, nadd, &first);
    if (rc != 0) {
        goto done;
    }

    /* ids only grow: appending keeps the id table's pages full */
    for (i = 0; i < nch; i++) {
        key.mv_data = &ch[i].id;
        key.mv_size = sizeof(uint32_t);

        if (ch[i].remove) {
            rc = mdb_del(txn, db->pdq_id, &key, NULL);

        } else {
            ch[i].id = first++;
            val.mv_data = ch[i].hash;
            val.mv_size = HDB_PDQ_SIZE;
            rc = mdb_put(txn, db->pdq_id, &key, &val, MDB_APPEND);
        }

        if (rc != 0) {
            goto done;
        }
    }

    for (int t = 0; t < HDB_PDQ_TABLES; t++) {
        rc = hdb_pdq_apply_table(db, txn, t, ch, nch, ops, &buf, &cap,
                                 gone);
        if (rc != 0) {
            goto done;
        }
    }

    rc = 0;

done:

    free(ch);
    free(ops);
    free(gone);
    free(buf);

    return rc;
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
 * A candidate that passed the filter: its full distance, then the first
 * enabled source that lists it and allows that distance.
 */
static int
hdb_pdq_check(hdb_pdq_query_t *q, const unsigned char *variant,
    unsigned variant_no, uint32_t id)
{
    int                    rc;
    unsigned               d;
    MDB_val                key, val, name;
    MDB_cursor            *cur;
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

    rc = mdb_cursor_open(q->txn, q->rd->db->types[HDB_PDQ], &cur);
    if (rc != 0) {
        return rc;
    }

    key.mv_data = listed;
    key.mv_size = HDB_PDQ_SIZE;

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

        if ((rec.flags & HDB_SOURCE_DISABLED)
            || (rec.pdq_distance && d > rec.pdq_distance))
        {
            continue;
        }

        hdb_source_from_rec(&src, name.mv_data, name.mv_size, &rec);

        memset(q->match, 0, sizeof(*q->match));
        q->match->type = HDB_PDQ;
        memcpy(q->match->source, src.name, sizeof(src.name));
        memcpy(q->match->category, entry.category, HDB_CATEGORY_MAX);
        q->match->added = entry.added;
        memcpy(q->match->listed, listed, HDB_PDQ_SIZE);
        q->match->distance = d;
        q->match->variant = variant_no;

        q->found = 1;
        q->limit = d;
        break;
    }

    mdb_cursor_close(cur);

    return rc == MDB_NOTFOUND ? 0 : rc;
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

int
hdb_reader_pdq_match(hdb_reader_t *rd,
    const unsigned char (*variants)[HDB_PDQ_SIZE], size_t n,
    unsigned max_distance, hdb_match_t *match)
{
    int               rc;
    size_t            nmasks, txnid;
    hdb_pdq_probe_t  *probes;
    hdb_pdq_query_t   q;

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

    /* the block pointers hold for one snapshot: see hdb_reader_begin() */
    txnid = mdb_txn_id(rd->txn);

    if (rd->pdq_txnid != txnid) {
        memset(rd->pdq_blocks, 0,
               HDB_PDQ_TABLES * HDB_PDQ_BLOCKS * sizeof(hdb_pdq_blk_t));
        rd->pdq_txnid = txnid;
    }

    /* the radius per word: see the top of this file */
    nmasks = max_distance < 16 ? 1 : max_distance < 32 ? 17 : 137;

    q.rd = rd;
    q.txn = rd->txn;
    q.limit = max_distance + 1;
    q.found = 0;
    q.match = match;
    rc = 0;

    probes = malloc(HDB_PDQ_PROBES_MAX * sizeof(hdb_pdq_probe_t));
    if (probes == NULL) {
        return ENOMEM;
    }

    for (size_t v = 0; rc == 0 && v < n; v++) {
        rc = hdb_pdq_query_variant(&q, variants[v], (unsigned) v, nmasks,
                                   probes);
    }

    free(probes);

    if (rc != 0) {
        return rc;
    }

    if (!q.found) {
        return MDB_NOTFOUND;
    }

    return hdb_reader_allow_check(rd, HDB_PDQ, match->listed, match);
}
