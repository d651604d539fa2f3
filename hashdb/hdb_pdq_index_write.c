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
    uint16_t       filter;
    uint32_t       id;
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

/* the hash kept under id, in the write transaction */
static int
hdb_pdq_stored(hdb_t *db, MDB_txn *txn, uint32_t id,
    const unsigned char **hash)
{
    int      rc;
    MDB_val  val;

    rc = hdb_pdq_chunk_get(db, txn, id, &val);
    if (rc != 0) {
        return rc;
    }

    return hdb_pdq_chunk_hash(val.mv_data, val.mv_size, id, hash);
}

/* the id a listed hash is filed under: its bucket in table 0 tells */
static int
hdb_pdq_find_id(hdb_t *db, MDB_txn *txn, const unsigned char *hash,
    uint32_t *id)
{
    int                   rc;
    unsigned              word, sub;
    uint16_t              filter;
    uint32_t              from, to, cand;
    MDB_val               key, val;
    unsigned char         k[3];
    const unsigned char  *stored;

    word = hdb_pdq_word(hash, 0);
    hdb_pdq_block_key(0, word >> HDB_PDQ_BLOCK_SHIFT, k);
    filter = hdb_pdq_filter(hash, 0);

    key.mv_data = k;
    key.mv_size = sizeof(k);

    rc = mdb_get(txn, db->pdq_ix, &key, &val);
    if (rc != 0) {
        return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    }

    if (!hdb_pdq_block_valid(&val)) {
        return MDB_CORRUPTED;
    }

    sub = word & (HDB_PDQ_SUB - 1);
    from = hdb_pdq_off(val.mv_data, sub, 0);
    to = hdb_pdq_off(val.mv_data, sub, hdb_pdq_nseg(val.mv_data));

    for (uint32_t j = from; j < to; j++) {
        if (hdb_pdq_rec_filter(val.mv_data, j) != filter) {
            continue;
        }

        cand = hdb_pdq_rec_id(val.mv_data, sub, j);

        rc = hdb_pdq_stored(db, txn, cand, &stored);
        if (rc != 0) {
            return rc;
        }

        if (memcmp(stored, hash, HDB_PDQ_SIZE) == 0) {
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
    int                   rc;
    size_t                need, n, max, ngone, hdr;
    uint32_t              id, nseg, old_nseg, from, to, *off;
    uint16_t              filter;
    MDB_val               key, val;
    unsigned char         k[3], *grown, *outf, *outi;
    const unsigned char  *old;

    hdb_pdq_block_key(table, block, k);
    key.mv_data = k;
    key.mv_size = sizeof(k);

    rc = mdb_get(txn, db->pdq_ix, &key, &val);

    if (rc == MDB_NOTFOUND) {
        val.mv_data = NULL;
        max = nops;
        old_nseg = 0;

    } else if (rc != 0) {
        return rc;

    } else if (!hdb_pdq_block_valid(&val)) {
        return MDB_CORRUPTED;

    } else {
        max = hdb_pdq_nrec(val.mv_data) + nops;
        old_nseg = hdb_pdq_nseg(val.mv_data);
    }

    old = val.mv_data;

    /* the segments: as many as the block had, or as the ids added need */
    nseg = old_nseg ? old_nseg : 1;
    for (size_t o = 0; o < nops; o++) {
        if (!ops[o].remove && (ops[o].id >> HDB_PDQ_SEG_SHIFT) >= nseg) {
            nseg = (ops[o].id >> HDB_PDQ_SEG_SHIFT) + 1;
        }
    }

    /* the header, then room for max filters, then for max ids */
    hdr = hdb_pdq_hdr(nseg);
    need = hdr + max * HDB_PDQ_REC;

    if (need > *cap) {
        grown = realloc(*buf, need);
        if (grown == NULL) {
            return ENOMEM;
        }
        *buf = grown;
        *cap = need;
    }

    off = (uint32_t *) (void *) *buf;
    outf = *buf + hdr;
    outi = outf + max * sizeof(uint16_t);
    n = 0;

    /* ids are unique: one sorted list of the removed serves all words */
    ngone = 0;
    for (size_t o = 0; o < nops; o++) {
        if (ops[o].remove) {
            gone[ngone++] = ops[o].id;
        }
    }

    qsort(gone, ngone, sizeof(uint32_t), hdb_pdq_id_cmp);

    for (unsigned s = 0; s < HDB_PDQ_SUB; s++) {
        for (unsigned g = 0; g < nseg; g++) {
            off[1 + s * nseg + g] = (uint32_t) n;

            /* old_nseg is 0 without an old block */
            from = g < old_nseg ? hdb_pdq_off(old, s, g) : 0;
            to = g < old_nseg ? hdb_pdq_off(old, s, g + 1) : 0;

            for (uint32_t j = from; j < to; j++) {
                id = hdb_pdq_rec_id(old, s, j);

                if (ngone == 0
                    || bsearch(&id, gone, ngone, sizeof(uint32_t),
                               hdb_pdq_id_cmp) == NULL)
                {
                    filter = hdb_pdq_rec_filter(old, j);
                    memcpy(outf + n * sizeof(filter), &filter,
                           sizeof(filter));
                    hdb_pdq_put_id24(outi + n * 3, id);
                    n++;
                }
            }

            for (size_t o = 0; o < nops; o++) {
                if (!ops[o].remove && (ops[o].word & (HDB_PDQ_SUB - 1)) == s
                    && ops[o].id >> HDB_PDQ_SEG_SHIFT == g)
                {
                    memcpy(outf + n * sizeof(filter), &ops[o].filter,
                           sizeof(filter));
                    hdb_pdq_put_id24(outi + n * 3, ops[o].id);
                    n++;
                }
            }
        }
    }

    off[0] = nseg;
    off[1 + HDB_PDQ_SUB * nseg] = (uint32_t) n;

    if (n == 0) {
        rc = old ? mdb_del(txn, db->pdq_ix, &key, NULL) : 0;
        return rc;
    }

    /* the ids follow the n filters directly */
    memmove(outf + n * sizeof(uint16_t), outi, n * 3);
    val.mv_data = *buf;
    val.mv_size = hdr + n * HDB_PDQ_REC;

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
        ops[i].filter = hdb_pdq_filter(ch[i].hash, table);
        ops[i].id = ch[i].id;
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

/*
 * Ids for the added hashes: the free ones first (the lowest, so that the
 * chunks fill from the front), then new ones from the counter.
 */
static int
hdb_pdq_take_ids(hdb_t *db, MDB_txn *txn, hdb_pdq_change_t *ch, size_t nch)
{
    int          rc;
    size_t       i;
    MDB_val      key, val;
    uint32_t     next;
    MDB_cursor  *cur;

    rc = mdb_cursor_open(txn, db->pdq_free, &cur);
    if (rc != 0) {
        return rc;
    }

    for (i = 0; i < nch; i++) {
        if (ch[i].remove) {
            continue;
        }

        rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
        if (rc != 0) {
            break;
        }

        if (key.mv_size != sizeof(ch[i].id)) {
            rc = MDB_CORRUPTED;
            break;
        }

        memcpy(&ch[i].id, key.mv_data, sizeof(ch[i].id));

        rc = mdb_cursor_del(cur, 0);
        if (rc != 0) {
            break;
        }
    }

    mdb_cursor_close(cur);

    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    if (i == nch) {
        return 0;
    }

    rc = hdb_meta_get_u32(db, txn, "next_pdq_id", &next);
    if (rc != 0) {
        return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    }

    for ( /* void */ ; i < nch; i++) {
        if (ch[i].remove) {
            continue;
        }

        if (next == UINT32_MAX) {
            return ERANGE;
        }

        ch[i].id = next++;
    }

    return hdb_meta_put_u32(db, txn, "next_pdq_id", next);
}

/* the changes by id: the hash store is rewritten a chunk at a time */
static int
hdb_pdq_change_id_cmp(const void *a, const void *b)
{
    const hdb_pdq_change_t  *x = a, *y = b;

    return (x->id > y->id) - (x->id < y->id);
}

/*
 * The hash store after the changes: each chunk they touch rewritten once,
 * an added hash in its slot, a removed one's slot zeroed and its id free.
 * Sorts ch by id.
 */
static int
hdb_pdq_store(hdb_t *db, MDB_txn *txn, hdb_pdq_change_t *ch, size_t nch)
{
    int             rc;
    size_t          i, j, size, slot;
    MDB_val         key, val, none;
    uint32_t        chunk;
    unsigned char  *buf;

    qsort(ch, nch, sizeof(hdb_pdq_change_t), hdb_pdq_change_id_cmp);

    buf = malloc((size_t) HDB_PDQ_CHUNK * HDB_PDQ_SIZE);
    if (buf == NULL) {
        return ENOMEM;
    }

    none.mv_data = NULL;
    none.mv_size = 0;
    rc = 0;

    for (i = 0; rc == 0 && i < nch; i = j) {
        chunk = ch[i].id / HDB_PDQ_CHUNK;
        key.mv_data = &chunk;
        key.mv_size = sizeof(chunk);

        rc = mdb_get(txn, db->pdq_id, &key, &val);

        if (rc == MDB_NOTFOUND) {
            size = 0;
            rc = 0;

        } else if (rc != 0) {
            break;

        } else if (!hdb_pdq_chunk_valid(&val)) {
            rc = MDB_CORRUPTED;
            break;

        } else {
            size = val.mv_size;
            memcpy(buf, val.mv_data, size);
        }

        for (j = i; j < nch && ch[j].id / HDB_PDQ_CHUNK == chunk; j++) {
            slot = ch[j].id % HDB_PDQ_CHUNK;

            if ((slot + 1) * HDB_PDQ_SIZE > size) {
                if (ch[j].remove) {
                    rc = MDB_CORRUPTED;     /* an id never given out */
                    break;
                }

                memset(buf + size, 0, (slot + 1) * HDB_PDQ_SIZE - size);
                size = (slot + 1) * HDB_PDQ_SIZE;
            }

            if (ch[j].remove) {
                memset(buf + slot * HDB_PDQ_SIZE, 0, HDB_PDQ_SIZE);

                key.mv_data = &ch[j].id;
                rc = mdb_put(txn, db->pdq_free, &key, &none, 0);
                key.mv_data = &chunk;
                if (rc != 0) {
                    break;
                }

            } else {
                memcpy(buf + slot * HDB_PDQ_SIZE, ch[j].hash, HDB_PDQ_SIZE);
            }
        }

        if (rc == 0) {
            val.mv_data = buf;
            val.mv_size = size;
            rc = mdb_put(txn, db->pdq_id, &key, &val, 0);
        }
    }

    free(buf);

    return rc;
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
    size_t             i, j, nch, cap;
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
        }

        nch++;
    }

    rc = hdb_pdq_take_ids(db, txn, ch, nch);
    if (rc == 0) {
        rc = hdb_pdq_store(db, txn, ch, nch);
    }
    if (rc != 0) {
        goto done;
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
/* schema 2 to 3                                                       */

/* the index and the hash store made anew from every listed PDQ hash */
static int
hdb_pdq_reindex(hdb_t *db, MDB_txn *txn)
{
    int                 rc;
    MDB_val             key, val;
    MDB_cursor         *cur;
    MDB_dbi             lists[2];
    hdb_pdq_pending_t  *p = NULL;

    rc = mdb_drop(txn, db->pdq_ix, 0);
    if (rc == 0) {
        rc = mdb_drop(txn, db->pdq_id, 0);
    }
    if (rc == 0) {
        rc = mdb_drop(txn, db->pdq_free, 0);
    }
    if (rc != 0) {
        return rc;
    }

    rc = hdb_meta_put_u32(db, txn, "next_pdq_id", 1);
    if (rc != 0) {
        return rc;
    }

    lists[0] = db->types[HDB_PDQ];
    lists[1] = db->vpdq;

    for (int l = 0; rc == 0 && l < 2 && lists[l]; l++) {
        rc = mdb_cursor_open(txn, lists[l], &cur);
        if (rc != 0) {
            break;
        }

        for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
             rc == 0;
             rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT_NODUP))
        {
            if (key.mv_size != HDB_PDQ_SIZE) {
                rc = MDB_CORRUPTED;
                break;
            }

            rc = hdb_pdq_touch(&p, key.mv_data, 0);
            if (rc != 0) {
                break;
            }
        }

        mdb_cursor_close(cur);

        if (rc == MDB_NOTFOUND) {
            rc = 0;
        }
    }

    if (rc == 0) {
        rc = hdb_pdq_index_commit(db, txn, p);
    }

    hdb_pdq_pending_free(p);

    if (rc != 0) {
        return rc;
    }

    return hdb_meta_put_u32(db, txn, "schema", HDB_SCHEMA_VERSION);
}

int
hdb_upgrade(hdb_t *db, int *upgraded)
{
    int       rc;
    MDB_txn  *txn;
    uint32_t  version;

    *upgraded = 0;

    for ( ;; ) {
        rc = mdb_txn_begin(db->env, NULL, 0, &txn);
        if (rc != 0) {
            return rc;
        }

        /* asked in the write transaction: another upgrade may have won */
        rc = hdb_meta_get_u32(db, txn, "schema", &version);

        if (rc == 0 && version == HDB_SCHEMA_VERSION) {
            mdb_txn_abort(txn);
            return 0;
        }

        if (rc == 0) {
            rc = version == HDB_SCHEMA_OLD ? hdb_pdq_reindex(db, txn)
                                           : HDB_ESCHEMA;
        }

        if (rc == 0) {
            rc = mdb_txn_commit(txn);
        } else {
            mdb_txn_abort(txn);
        }

        if (rc != MDB_MAP_FULL) {
            break;
        }

        rc = hdb_grow(db);
        if (rc != 0) {
            return rc;
        }
    }

    if (rc == 0) {
        *upgraded = 1;
    }

    return rc;
}
