/*
 * The PDQ near-match index at scale: N random PDQ hashes in a fresh hash
 * set, then full 8-variant queries at the default distance 31, as the
 * upload filter makes them.  Prints the import rate, the size on disk per
 * hash, and p50/p99/max of the query time (wall clock, warm map), next to
 * a brute-force scan of the same hashes in memory measured in the same
 * run.
 *
 *   build/bench/pdq_index DIR N [QUERIES]
 *
 * Half the queries carry one variant 20 bits from a listed hash (they
 * must match), the other half are random (they must not).  With
 * PDQ_EXPORT=DIR in the environment the hashes (DIR/hashes.bin, 32 bytes
 * each) and the queries (DIR/queries.bin: a byte, 1 if planted, then the
 * 8 variants) are written for the other indexes bench/pdq_index.sh
 * measures on the same data.  With PDQ_REUSE in the environment DIR is
 * the set an earlier run made with the same N: only the queries run.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <lmdb.h>

#include "hashdb.h"
#include "hdb_internal.h"

static uint64_t  rng = 0x2545f4914f6cdd1dull;
static volatile int  sink;

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

static double
now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* the bytes a named database takes in data.mdb: its pages */
static double
db_bytes(hdb_t *db, MDB_dbi dbi)
{
    MDB_txn  *txn;
    MDB_stat  st;
    double    bytes = 0;

    if (mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn) == 0) {
        if (mdb_stat(txn, dbi, &st) == 0) {
            bytes = (double) (st.ms_branch_pages + st.ms_leaf_pages
                              + st.ms_overflow_pages) * st.ms_psize;
        }
        mdb_txn_abort(txn);
    }

    return bytes;
}

static int
cmp(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

static int
import(hdb_t *db, const unsigned char *hashes, size_t n)
{
    int            rc;
    hdb_row_t      row;
    hdb_writer_t  *w;

    for (int tries = 0; tries < 16; tries++) {
        rc = hdb_writer_begin(db, "bench", HDB_WRITE_ADD, &w);
        if (rc != 0) {
            return rc;
        }

        for (size_t i = 0; rc == 0 && i < n; i++) {
            memset(&row, 0, sizeof(row));
            row.types = HDB_TYPE_BIT(HDB_PDQ);
            memcpy(row.digests[HDB_PDQ], hashes + i * HDB_PDQ_SIZE,
                   HDB_PDQ_SIZE);
            rc = hdb_writer_add(w, &row);
        }

        if (rc != 0) {
            hdb_writer_abort(w);
        } else {
            rc = hdb_writer_commit(w, NULL);
        }

        if (rc != MDB_MAP_FULL) {
            return rc;
        }

        rc = hdb_grow(db);
        if (rc != 0) {
            return rc;
        }
    }

    return MDB_MAP_FULL;
}

/* the nearest of n hashes to any of 8 variants, by scanning them all */
static int
brute(const unsigned char *hashes, size_t n, unsigned char (*v)[32])
{
    int       best = 32;
    uint64_t  a[4], b[4];

    for (size_t i = 0; i < n; i++) {
        memcpy(a, hashes + i * HDB_PDQ_SIZE, 32);

        for (int k = 0; k < 8; k++) {
            int  d;

            memcpy(b, v[k], 32);
            d = __builtin_popcountll(a[0] ^ b[0])
                + __builtin_popcountll(a[1] ^ b[1])
                + __builtin_popcountll(a[2] ^ b[2])
                + __builtin_popcountll(a[3] ^ b[3]);
            if (d < best) {
                best = d;
            }
        }
    }

    return best;
}

int
main(int argc, char **argv)
{
    int             rc, nq, wrong, reuse;
    char            path[4096];
    FILE           *xq;
    size_t          n;
    const char     *export;
    double          t0, t, import_ms, brute_ms, *times, ix, store;
    hdb_t          *db;
    hdb_match_t     m;
    struct stat     st;
    hdb_reader_t   *rd;
    unsigned char  *hashes, v[8][HDB_PDQ_SIZE];

    if (argc < 3) {
        fprintf(stderr, "usage: pdq_index DIR N [QUERIES]\n");
        return 2;
    }

    n = strtoul(argv[2], NULL, 10);
    nq = argc > 3 ? atoi(argv[3]) : 2000;

    hashes = malloc(n * HDB_PDQ_SIZE);
    times = malloc(nq * sizeof(double));
    if (hashes == NULL || times == NULL) {
        return 1;
    }

    for (size_t i = 0; i < n; i++) {
        random_hash(hashes + i * HDB_PDQ_SIZE);
    }

    /*
     * The map sized for the set, as "hashdb init --map-size" would: an
     * import that fills the map starts over with it doubled, which at
     * 50 M would redo the import several times.
     */
    reuse = getenv("PDQ_REUSE") != NULL;

    /* PDQ_REUSE: as the workers open it (read-only, no readahead) */
    rc = reuse ? hdb_open(&db, argv[1], HDB_OPEN_RDONLY | HDB_OPEN_NORDAHEAD)
               : hdb_create(&db, argv[1], HDB_OPEN_CREATE,
                            n * 512 > ((size_t) 256 << 20) ? n * 512 : 0);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", argv[1], hdb_strerror(rc));
        return 1;
    }

    /* PDQ_REUSE: DIR holds the same N hashes from an earlier run */
    t0 = now_ms();
    rc = reuse ? 0 : import(db, hashes, n);
    import_ms = now_ms() - t0;

    if (rc != 0) {
        fprintf(stderr, "import: %s\n", hdb_strerror(rc));
        return 1;
    }

    snprintf(path, sizeof(path), "%s/data.mdb", argv[1]);
    stat(path, &st);

    hdb_reader_new(db, &rd);
    wrong = 0;

    export = getenv("PDQ_EXPORT");
    xq = NULL;

    if (export) {
        FILE  *xh;

        snprintf(path, sizeof(path), "%s/hashes.bin", export);
        xh = fopen(path, "wb");
        snprintf(path, sizeof(path), "%s/queries.bin", export);
        xq = fopen(path, "wb");

        if (xh == NULL || xq == NULL
            || fwrite(hashes, HDB_PDQ_SIZE, n, xh) != n || fclose(xh) != 0)
        {
            fprintf(stderr, "PDQ_EXPORT %s: cannot write\n", export);
            return 1;
        }
    }

    /* one pass to warm the map, as a serving worker's would be */
    for (int pass = 0; pass < 2; pass++) {
        rng = 0x1234567;

        for (int q = 0; q < nq; q++) {
            int  planted = q % 2 == 0;

            for (int k = 0; k < 8; k++) {
                random_hash(v[k]);
            }

            if (planted) {
                memcpy(v[3], hashes + (next_rand() % n) * HDB_PDQ_SIZE, 32);
                for (int b = 0; b < 20; b++) {
                    /* 20 flips, some may repeat: at most 20 bits off */
                    int  bit = (int) (next_rand() % 256);

                    v[3][bit / 8] ^= (unsigned char) (1u << (bit % 8));
                }
            }

            t0 = now_ms();
            hdb_reader_begin(rd);
            rc = hdb_reader_pdq_match(rd,
                                      (const unsigned char (*)[32]) v, 8, 31,
                                      &m);
            hdb_reader_end(rd);
            t = now_ms() - t0;

            if (pass == 1) {
                times[q] = t;
                wrong += planted ? rc != 0 : rc != MDB_NOTFOUND;

                if (xq) {
                    unsigned char  flag = (unsigned char) planted;

                    fwrite(&flag, 1, 1, xq);
                    fwrite(v, HDB_PDQ_SIZE, 8, xq);
                }
            }
        }
    }

    if (xq && fclose(xq) != 0) {
        fprintf(stderr, "PDQ_EXPORT %s: cannot write\n", export);
        return 1;
    }

    /* brute force over the same hashes in memory, a few queries */
    t0 = now_ms();
    for (int q = 0; q < 5; q++) {
        for (int k = 0; k < 8; k++) {
            random_hash(v[k]);
        }
        sink += brute(hashes, n, v);
    }
    brute_ms = (now_ms() - t0) / 5;

    qsort(times, nq, sizeof(double), cmp);

    printf("hashes            %zu\n", n);
    printf("import            %.0f hashes/s (%.1f s)\n",
           n / (import_ms / 1e3), import_ms / 1e3);
    printf("data.mdb          %.1f MiB, %.0f bytes per hash (%.1fx the 32 "
           "raw bytes)\n", st.st_size / 1048576.0, (double) st.st_size / n,
           (double) st.st_size / n / 32);
    ix = db_bytes(db, db->pdq_ix);
    store = db_bytes(db, db->pdq_id);
    printf("index             %.0f bytes per hash in records (%.1fx), %.0f "
           "in the hash store: %.1fx the 32 raw bytes\n", ix / n,
           ix / n / 32, store / n, (ix + store) / n / 32);
    printf("8-variant query   p50 %.3f ms  p99 %.3f ms  max %.3f ms "
           "(%d queries)\n", times[nq / 2], times[nq * 99 / 100],
           times[nq - 1], nq);
    printf("brute force       %.1f ms per query: the index is %.0fx faster "
           "at p50\n", brute_ms, brute_ms / times[nq / 2]);
    printf("wrong answers     %d\n", wrong);

    hdb_reader_free(rd);
    hdb_close(db);
    free(hashes);
    free(times);

    return wrong ? 1 : 0;
}
