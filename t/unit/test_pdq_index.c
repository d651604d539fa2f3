/*
 * Unit tests of the PDQ near-match index against a real LMDB file: every
 * answer is checked against a brute-force scan of the same hashes, after
 * imports, a full sync that drops half of them and delta removals; and
 * the source rules (shared hashes, disabled sources, a source's stricter
 * distance, the allow list).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "hashdb.h"
#include "hdb_internal.h"
#include "tap.h"

#define NHASH  20000

static char           dir[] = "/tmp/hdb-pdq-XXXXXX";
static unsigned char  hashes[NHASH][HDB_PDQ_SIZE];
static int            listed[NHASH];
static uint64_t       rng = 0x9e3779b97f4a7c15ull;

static uint64_t
next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void
random_hash(unsigned char *h)
{
    for (int i = 0; i < HDB_PDQ_SIZE; i += 8) {
        uint64_t  r = next_rand();

        memcpy(h + i, &r, 8);
    }
}

/* flips k distinct bits */
static void
flip_bits(unsigned char *h, int k)
{
    unsigned char  done[256];

    memset(done, 0, sizeof(done));

    while (k > 0) {
        int  b = (int) (next_rand() % 256);

        if (!done[b]) {
            done[b] = 1;
            h[b / 8] ^= (unsigned char) (1u << (b % 8));
            k--;
        }
    }
}

static int
distance(const unsigned char *a, const unsigned char *b)
{
    int  d = 0;

    for (int i = 0; i < HDB_PDQ_SIZE; i++) {
        d += __builtin_popcount(a[i] ^ b[i]);
    }

    return d;
}

/* the nearest listed hash by brute force, or -1 beyond max */
static int
brute(const unsigned char *q, int max)
{
    int  best = -1;

    for (int i = 0; i < NHASH; i++) {
        int  d;

        if (!listed[i]) {
            continue;
        }

        d = distance(q, hashes[i]);

        if (d <= max && (best < 0 || d < best)) {
            best = d;
        }
    }

    return best;
}

static int
write_hashes(hdb_t *db, const char *source, int mode, int from, int to,
    int step, int remove)
{
    int            rc;
    hdb_row_t      row;
    hdb_writer_t  *w;

    rc = hdb_writer_begin(db, source, mode, &w);
    if (rc != 0) {
        return rc;
    }

    for (int i = from; i < to; i += step) {
        memset(&row, 0, sizeof(row));
        row.types = HDB_TYPE_BIT(HDB_PDQ);
        memcpy(row.digests[HDB_PDQ], hashes[i], HDB_PDQ_SIZE);

        rc = remove ? hdb_writer_remove(w, &row) : hdb_writer_add(w, &row);
        if (rc != 0) {
            hdb_writer_abort(w);
            return rc;
        }
    }

    return hdb_writer_commit(w, NULL);
}

/* n queries near listed (and unlisted) hashes: index against brute force */
static void
check_queries(hdb_t *db, int n, int max, const char *what)
{
    int            rc, want, got, bad;
    hdb_match_t    m;
    hdb_reader_t  *rd;
    unsigned char  q[1][HDB_PDQ_SIZE];

    bad = 0;
    hdb_reader_new(db, &rd);
    hdb_reader_begin(rd);

    for (int i = 0; i < n; i++) {
        if (i % 4 == 3) {
            random_hash(q[0]);
        } else {
            memcpy(q[0], hashes[next_rand() % NHASH], HDB_PDQ_SIZE);
            flip_bits(q[0], (int) (next_rand() % (max + 10)));
        }

        want = brute(q[0], max);
        rc = hdb_reader_pdq_match(rd, (const unsigned char (*)[32]) q, 1,
                                  (unsigned) max, &m);
        got = rc == 0 ? (int) m.distance : rc == MDB_NOTFOUND ? -1 : -2;

        if (got != want
            || (got >= 0 && distance(m.listed, q[0]) != got))
        {
            if (bad++ < 5) {
                printf("#   query %d: index %d, brute force %d\n", i, got,
                       want);
            }
        }
    }

    hdb_reader_free(rd);

    ok(bad == 0, "%s: %d queries within %d agree with brute force", what, n,
       max);
}

static int
lookup(hdb_t *db, const unsigned char *q, unsigned max, hdb_match_t *m)
{
    int            rc;
    hdb_reader_t  *rd;

    hdb_reader_new(db, &rd);
    hdb_reader_begin(rd);
    rc = hdb_reader_pdq_match(rd, (const unsigned char (*)[32]) q, 1, max, m);
    hdb_reader_free(rd);

    return rc;
}

/* the next id the hash store would give out: how far it has grown */
static uint32_t
next_pdq_id(hdb_t *db)
{
    MDB_txn   *txn;
    uint32_t   id = 0;

    if (mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn) == 0) {
        if (hdb_meta_get_u32(db, txn, "next_pdq_id", &id) != 0) {
            id = 0;
        }
        mdb_txn_abort(txn);
    }

    return id;
}

/*
 * The ids given out from here on: the test's hashes straddle the 2^24
 * boundary, so that blocks hold records of two id segments.
 */
static int
set_next_pdq_id(hdb_t *db, uint32_t id)
{
    int       rc;
    MDB_txn  *txn;

    rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = hdb_meta_put_u32(db, txn, "next_pdq_id", id);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }

    return mdb_txn_commit(txn);
}

/* a set as the release before this one left it: schema 2, its old index */
static int
make_old(hdb_t *db)
{
    int        rc;
    MDB_txn   *txn;
    MDB_val    key, val;

    rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = hdb_meta_put_u32(db, txn, "schema", 2);

    /* old blocks, their records 16 bytes: nothing the new side can read */
    if (rc == 0) {
        rc = mdb_drop(txn, db->pdq_ix, 0);
    }
    if (rc == 0) {
        key.mv_data = "\0\0\0";
        key.mv_size = 3;
        val.mv_data = "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
                      "0123456789abcdef";
        val.mv_size = 36;
        rc = mdb_put(txn, db->pdq_ix, &key, &val, 0);
    }
    if (rc == 0) {
        rc = mdb_drop(txn, db->pdq_free, 1);
    }

    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }

    return mdb_txn_commit(txn);
}

static unsigned
plan(hdb_t *db)
{
    unsigned       types = 0;
    hdb_reader_t  *rd;

    hdb_reader_new(db, &rd);
    hdb_reader_begin(rd);
    hdb_reader_plan(rd, &types);
    hdb_reader_free(rd);

    return types;
}

int
main(void)
{
    hdb_t          *db;
    hdb_match_t     m;
    unsigned char   q[HDB_PDQ_SIZE], v[8][HDB_PDQ_SIZE];
    hdb_reader_t   *rd;

    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }

    for (int i = 0; i < NHASH; i++) {
        random_hash(hashes[i]);
    }

    ok(hdb_create(&db, dir, HDB_OPEN_CREATE, 0) == 0, "hash set created");
    is_int(set_next_pdq_id(db, (1u << 24) - NHASH / 2), 0,
           "ids given out from 2^24 - %d: two id segments", NHASH / 2);

    /* --- import, and the index against brute force --- */

    is_int(write_hashes(db, "meta", HDB_WRITE_ADD, 0, NHASH, 1, 0), 0,
           "%d PDQ hashes imported", NHASH);
    for (int i = 0; i < NHASH; i++) {
        listed[i] = 1;
    }

    is_int(plan(db), HDB_TYPE_BIT(HDB_PDQ),
           "a set of PDQ hashes only: the filter computes PDQ, no digest");

    check_queries(db, 1000, 31, "after import");
    check_queries(db, 500, 15, "after import");
    check_queries(db, 200, 47, "after import");

    /* --- a full sync keeps every other hash --- */

    is_int(write_hashes(db, "meta", HDB_WRITE_REPLACE, 0, NHASH, 2, 0), 0,
           "a full sync of every second hash");
    for (int i = 1; i < NHASH; i += 2) {
        listed[i] = 0;
    }

    check_queries(db, 1000, 31, "after the sync");

    /* --- a delta removes some more --- */

    is_int(write_hashes(db, "meta", HDB_WRITE_ADD, 0, NHASH, 6, 1), 0,
           "a delta removes every sixth hash");
    for (int i = 0; i < NHASH; i += 6) {
        listed[i] = 0;
    }

    check_queries(db, 1000, 31, "after the delta");

    /* --- the removed come back: they take the ids that were freed --- */

    {
        uint32_t  before = next_pdq_id(db);

        is_int(write_hashes(db, "meta", HDB_WRITE_ADD, 0, NHASH, 1, 0), 0,
               "a delta lists every hash again");
        for (int i = 0; i < NHASH; i++) {
            listed[i] = 1;
        }

        ok(before == (1u << 24) + NHASH / 2 && next_pdq_id(db) == before,
           "the hashes that came back took the freed ids: the hash store "
           "did not grow (next id %u, %u before)", next_pdq_id(db), before);
    }

    check_queries(db, 1000, 31, "after the removed came back");

    /* --- sources --- */

    memcpy(q, hashes[2], HDB_PDQ_SIZE);
    flip_bits(q, 20);

    is_int(write_hashes(db, "other", HDB_WRITE_ADD, 2, 3, 1, 0), 0,
           "a second source lists a hash the first lists too");
    is_int(write_hashes(db, "meta", HDB_WRITE_ADD, 2, 3, 1, 1), 0,
           "the first source removes it");
    ok(lookup(db, q, 31, &m) == 0 && strcmp(m.source, "other") == 0
       && m.distance == 20,
       "the hash still matches, for the second source, at distance 20");

    is_int(hdb_source_set_disabled(db, "other", 1), 0, "source disabled");
    is_int(lookup(db, q, 31, &m), MDB_NOTFOUND,
           "a disabled source's hash does not match");
    is_int(hdb_source_set_disabled(db, "other", 0), 0, "source enabled");

    {
        hdb_writer_t  *w;

        hdb_writer_begin(db, "other", HDB_WRITE_ADD, &w);
        is_int(hdb_writer_set_pdq_distance(w, 16), 0,
               "the source sets its own distance 16");
        hdb_writer_commit(w, NULL);
    }

    is_int(lookup(db, q, 31, &m), MDB_NOTFOUND,
           "distance 20 is beyond the source's 16");
    memcpy(q, hashes[2], HDB_PDQ_SIZE);
    flip_bits(q, 12);
    ok(lookup(db, q, 31, &m) == 0 && m.distance == 12,
       "distance 12 is within it");
    is_int(lookup(db, q, 10, &m), MDB_NOTFOUND,
           "and beyond a filter's own limit of 10");

    is_int(hdb_allow_add(db, HDB_PDQ, hashes[2], "test"), 0,
           "the listed hash allowed");
    ok(lookup(db, q, 31, &m) == 0 && m.allowed,
       "a match of an allowed hash is reported as allowed");

    is_int(write_hashes(db, "other", HDB_WRITE_REPLACE, 0, 0, 1, 0), 0,
           "the second source synced to an empty list");
    is_int(lookup(db, q, 31, &m), MDB_NOTFOUND,
           "its hash is gone from the index");

    /* --- variants: the best of several --- */

    for (int i = 0; i < 8; i++) {
        random_hash(v[i]);
    }
    memcpy(v[5], hashes[4], HDB_PDQ_SIZE);
    flip_bits(v[5], 9);
    memcpy(v[6], hashes[4], HDB_PDQ_SIZE);
    flip_bits(v[6], 3);

    hdb_reader_new(db, &rd);
    hdb_reader_begin(rd);
    ok(hdb_reader_pdq_match(rd, (const unsigned char (*)[32]) v, 8, 31, &m)
       == 0 && m.variant == 6 && m.distance == 3,
       "of 8 variants the nearest one matches (variant %u, distance %u)",
       m.variant, m.distance);
    ok(hdb_reader_lookup(rd, HDB_PDQ, hashes[4], &m) == 0,
       "an exact lookup finds a listed PDQ hash");
    is_int(hdb_reader_pdq_match(rd, (const unsigned char (*)[32]) v, 8, 48,
                                &m), EINVAL,
           "a distance above 47 is refused");
    hdb_reader_free(rd);

    /* --- a set of the schema before: readers refuse it, a writer
     *     upgrades it --- */

    {
        int     up = -1;
        hdb_t  *old;

        is_int(make_old(db), 0, "the set made as the release before left it");
        hdb_close(db);

        is_int(hdb_open(&old, dir, HDB_OPEN_RDONLY), HDB_EOLD,
               "a reader refuses it: %s", hdb_strerror(HDB_EOLD));

        is_int(hdb_open(&old, dir, 0), HDB_EOLD,
               "so does a writer that does not upgrade");
        is_int(hdb_open(&db, dir, HDB_OPEN_UPGRADE), 0,
               "a writer opens it to upgrade");
        is_int(hdb_upgrade(db, &up), 0, "and upgrades it");
        is_int(up, 1, "saying so");
        is_int(hdb_upgrade(db, &up), 0, "a second upgrade");
        is_int(up, 0, "does nothing");
        hdb_close(db);

        is_int(hdb_open(&db, dir, HDB_OPEN_RDONLY), 0,
               "a reader opens the upgraded set");
        check_queries(db, 1000, 31, "after the upgrade");
        check_queries(db, 200, 47, "after the upgrade");
    }

    hdb_close(db);

    {
        char  cmd[256];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0) {
            printf("# could not remove %s\n", dir);
        }
    }

    return done_testing();
}
