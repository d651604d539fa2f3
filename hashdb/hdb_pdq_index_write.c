/*
 * The PDQ near-match index, the write side: what an import, a sync or a
 * delta changes, applied block by block at commit; see hdb_pdq_ix.h.
 * Only the tool links it.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hdb_pdq_ix.h"


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
hdb_pdq_listed(hdb_t *db, MDB_txn *txn, const unsigned char *hash)
{
    int      rc;
    MDB_val  key, val;

    key.mv_data = (void *) hash;
    key.mv_size = HDB_PDQ_SIZE;

    rc = mdb_get(txn, db->types[HDB_PDQ], &key, &val);

    if (rc == MDB_NOTFOUND && db->vpdq) {
        rc = mdb_get(txn, db->vpdq, &key, &val);
    }

    return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : rc;
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

        now = hdb_pdq_listed(db, txn, p->touch[i].hash);
        if (now < 0) {
            rc = now;
            goto done;
        }

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


