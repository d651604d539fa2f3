/*
 * Unit tests of the hashdb library against real LMDB files: schema,
 * writes, lookups, the digest plan, digests and hex.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "hashdb.h"
#include "hdb_digest.h"
#include "tap.h"

static char  dir[] = "/tmp/hdb-unit-XXXXXX";

static void
digest_of(const char *s, hdb_digests_t *out)
{
    hdb_digest_t  *d = hdb_digest_new(HDB_DIGEST_TYPES);

    hdb_digest_reset(d);
    hdb_digest_update(d, s, strlen(s));
    hdb_digest_final(d, out);
    hdb_digest_free(d);
}

static int
add_rows(hdb_t *db, const char *source, const char *category,
    const char **files, int n, unsigned types)
{
    int             rc;
    hdb_row_t       row;
    hdb_writer_t   *w;
    hdb_digests_t   dg;

    rc = hdb_writer_begin(db, source, HDB_WRITE_ADD, &w);
    if (rc != 0) {
        return rc;
    }

    for (int i = 0; i < n; i++) {
        digest_of(files[i], &dg);
        memset(&row, 0, sizeof(row));
        row.types = types;
        memcpy(row.digests, dg.md, sizeof(dg.md));
        row.category = category;

        rc = hdb_writer_add(w, &row);
        if (rc != 0) {
            hdb_writer_abort(w);
            return rc;
        }
    }

    return hdb_writer_commit(w, NULL);
}

static int
lookup(hdb_t *db, hdb_type_t type, const char *file, hdb_match_t *m)
{
    int             rc;
    hdb_reader_t   *rd;
    hdb_digests_t   dg;

    digest_of(file, &dg);

    if (hdb_reader_new(db, &rd) != 0) {
        return -1;
    }

    rc = hdb_reader_begin(rd);
    if (rc == 0) {
        rc = hdb_reader_lookup(rd, type, dg.md[type], m);
    }

    hdb_reader_free(rd);
    return rc;
}

static unsigned
plan(hdb_t *db)
{
    unsigned        types = 999;
    hdb_reader_t   *rd;

    hdb_reader_new(db, &rd);
    hdb_reader_begin(rd);
    hdb_reader_plan(rd, &types);
    hdb_reader_free(rd);
    return types;
}

static void
test_digests(void)
{
    char           hex[HDB_HEX_MAX + 1];
    unsigned char  raw[32];
    hdb_digests_t  dg;

    digest_of("abc", &dg);
    hdb_hex_encode(dg.md[HDB_MD5], 16, hex);
    ok(strcmp(hex, "900150983cd24fb0d6963f7d28e17f72") == 0, "MD5(abc)");
    hdb_hex_encode(dg.md[HDB_SHA1], 20, hex);
    ok(strcmp(hex, "a9993e364706816aba3e25717850c26c9cd0d89d") == 0,
       "SHA-1(abc)");
    hdb_hex_encode(dg.md[HDB_SHA256], 32, hex);
    ok(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223"
                   "b00361a396177a9cb410ff61f20015ad") == 0, "SHA-256(abc)");

    ok(hdb_hex_decode("BA7816bf", 8, raw) == 0 && raw[0] == 0xba
       && raw[3] == 0xbf, "hex decodes either case");
    ok(hdb_hex_decode("zz", 2, raw) != 0, "hex refuses non-hex digits");
    ok(hdb_hex_decode("abc", 3, raw) != 0, "hex refuses odd lengths");
}

/*
 * A reader opened for threads (HDB_OPEN_THREADS) maps room for growth:
 * the writer grows the map many times over and the reader, never
 * remapped, sees every commit; a plain reader remaps as LMDB does.
 */
static void
test_reserved_map(void)
{
    int            rc, grown;
    char           path[256], name[32];
    hdb_t         *db, *shared, *plain;
    hdb_match_t    m;
    const char    *files[200];
    static char    names[200][32];

    snprintf(path, sizeof(path), "%s/grows", dir);
    is_int(hdb_create(&db, path, HDB_OPEN_CREATE, 64 << 10), 0,
           "a set with a 64 KiB map");
    is_int(hdb_open(&shared, path, HDB_OPEN_RDONLY | HDB_OPEN_THREADS), 0,
           "opened for readers in threads");
    is_int(hdb_map_reserved(shared), SIZE_MAX > 0xffffffffu,
           "its map is reserved (on a 64-bit system)");
    is_int(hdb_open(&plain, path, HDB_OPEN_RDONLY), 0, "and opened plainly");
    is_int(hdb_map_reserved(plain), 0, "a plain reader's map is not");

    for (int i = 0; i < 200; i++) {
        snprintf(names[i], sizeof(names[i]), "grown file %d", i);
        files[i] = names[i];
    }

    grown = 0;
    for (int batch = 0; batch < 20; batch++) {
        do {
            rc = add_rows(db, "list-grows", NULL, files, 200,
                          HDB_TYPE_BIT(HDB_SHA256) | HDB_TYPE_BIT(HDB_MD5));
            if (rc == MDB_MAP_FULL && hdb_grow(db) == 0) {
                grown++;
                continue;
            }
        } while (rc == MDB_MAP_FULL);

        if (rc != 0) {
            break;
        }

        for (int i = 0; i < 200; i++) {
            snprintf(names[i], sizeof(names[i]), "grown file %d",
                     200 * (batch + 1) + i);
        }
    }

    is_int(rc, 0, "4000 files imported");
    ok(grown >= 3, "the writer grew the map several times");
    snprintf(name, sizeof(name), "grown file %d", 3999);
    is_int(lookup(shared, HDB_SHA256, name, &m), 0,
           "the reserved reader sees the last commit without a remap");
    ok(!hdb_map_reserved(shared) || hdb_mapsize(shared) == (size_t) 1 << 40,
       "and its map is as it was: 1 TiB");
    is_int(lookup(plain, HDB_SHA256, name, &m), 0,
           "the plain reader remapped and sees it too");

    hdb_close(plain);
    hdb_close(shared);
    hdb_close(db);
}

/* hdb_resident.c: the walk covers the set, in steps, and follows growth */
static void
test_resident(hdb_t *db)
{
    int                    rc, steps;
    long                   page = sysconf(_SC_PAGESIZE);
    char                  *files[2000];
    size_t                 size, resident, first;
    hdb_resident_t        *rs;
    hdb_resident_stats_t   st;

    is_int(hdb_resident_new(db, 7, &rs), EINVAL, "an unknown mode: EINVAL");

    rc = hdb_resident_new(db, HDB_RESIDENT_WARM, &rs);
    is_int(rc, 0, "a warm walk");
    if (rc != 0) {
        return;
    }

    /* one page a step: as many steps as the set has pages */
    steps = 0;
    do {
        rc = hdb_resident_step(rs, 1, &st);
        steps++;
    } while (rc == 0 && !st.cycle_done && steps < 100000);

    is_int(rc, 0, "every step succeeds");
    ok(st.size > 0 && st.size % page == 0, "the set in use is whole pages");
    is_int(steps, st.size / page, "one page a step, to the end of the set");
    is_int(st.resident + st.readback, st.size,
           "every page was found in memory or read back");

    hdb_resident_probe(db, &size, &resident);
    is_int(size, st.size, "the probe sees the same set");

    /* the set grows: the next walk covers the new pages */
    first = st.size;
    for (int i = 0; i < 2000; i++) {
        files[i] = malloc(32);
        snprintf(files[i], 32, "grown %d", i);
    }
    is_int(add_rows(db, "list-grow", NULL, (const char **) files, 2000,
                    HDB_TYPE_BIT(HDB_SHA256)), 0, "the set grows");
    for (int i = 0; i < 2000; i++) {
        free(files[i]);
    }

    rc = hdb_resident_step(rs, 0, &st);
    ok(rc == 0 && st.size > first, "a step sees the larger set");
    if (!st.cycle_done) {
        rc = hdb_resident_step(rs, 0, &st);
    }
    ok(rc == 0 && st.cycle_done && st.resident + st.readback == st.size,
       "a whole-set step walks all of it");

    is_int(hdb_resident_mode(rs), HDB_RESIDENT_WARM, "still warm");
    hdb_resident_free(rs);
}


int
main(void)
{
    int           rc;
    char          path[256];
    hdb_t        *db;
    hdb_match_t   m;
    struct stat   st;

    const char *one[] = { "file one" };
    const char *two[] = { "file two", "file three" };

    test_digests();

    if (mkdtemp(dir) == NULL) {
        return 1;
    }

    snprintf(path, sizeof(path), "%s/set", dir);

    is_int(hdb_open(&db, path, HDB_OPEN_RDONLY), ENOENT,
           "opening a missing hash set: ENOENT");

    rc = hdb_open(&db, path, HDB_OPEN_CREATE);
    is_int(rc, 0, "create a hash set");

    snprintf(path, sizeof(path), "%s/set/data.mdb", dir);
    ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640,
       "data.mdb is 0640, not world-readable");

    is_int(plan(db), 0, "an empty set computes nothing");
    is_int(lookup(db, HDB_SHA256, "file one", &m), MDB_NOTFOUND,
           "an empty set lists nothing");

    is_int(add_rows(db, "list-a", "A1", one, 1, HDB_TYPE_BIT(HDB_SHA256)), 0,
           "import one SHA-256 entry");
    is_int(lookup(db, HDB_SHA256, "file one", &m), 0, "the entry is found");
    ok(strcmp(m.source, "list-a") == 0 && strcmp(m.category, "A1") == 0,
       "with its source and category");
    ok(m.added > 0, "and the date it was added");
    is_int(lookup(db, HDB_SHA256, "file two", &m), MDB_NOTFOUND,
           "another file is not found");
    is_int(plan(db), HDB_TYPE_BIT(HDB_SHA256),
           "a SHA-256 list computes SHA-256 only");

    is_int(add_rows(db, "list-b", NULL, two, 2, HDB_TYPE_BIT(HDB_MD5)), 0,
           "import two MD5 entries into another source");
    is_int(plan(db), HDB_TYPE_BIT(HDB_SHA256) | HDB_TYPE_BIT(HDB_MD5),
           "two sources: both types computed");
    is_int(lookup(db, HDB_MD5, "file three", &m), 0, "MD5 entry found");
    ok(strcmp(m.source, "list-b") == 0 && m.category[0] == '\0',
       "from its own source, without category");

    is_int(add_rows(db, "list-c", "B", two, 2, HDB_DIGEST_TYPES), 0,
           "import rows carrying MD5, SHA-1 and SHA-256");
    is_int(plan(db), HDB_TYPE_BIT(HDB_SHA256) | HDB_TYPE_BIT(HDB_MD5)
                     | HDB_TYPE_BIT(HDB_SHA1),
           "a complete source adds only its cheapest type (SHA-1)");
    is_int(lookup(db, HDB_MD5, "file two", &m), 0,
           "a digest listed by two sources is found");

    /* a source whose every row has all types, alone in a set */
    {
        hdb_t  *db2;

        snprintf(path, sizeof(path), "%s/set2", dir);
        hdb_open(&db2, path, HDB_OPEN_CREATE);
        add_rows(db2, "full", NULL, two, 2, HDB_DIGEST_TYPES);
        is_int(plan(db2), HDB_TYPE_BIT(HDB_SHA1),
               "only SHA-1 computed when every row has all three types");
        add_rows(db2, "full", NULL, one, 1,
                 HDB_TYPE_BIT(HDB_SHA256) | HDB_TYPE_BIT(HDB_MD5));
        is_int(plan(db2), HDB_TYPE_BIT(HDB_SHA256),
               "a row without SHA-1: SHA-256 is the cheapest that covers");
        hdb_close(db2);
    }

    /* an aborted writer leaves nothing behind */
    {
        hdb_writer_t   *w;
        hdb_row_t       row;
        hdb_digests_t   dg;

        digest_of("aborted", &dg);
        memset(&row, 0, sizeof(row));
        row.types = HDB_TYPE_BIT(HDB_SHA1);
        memcpy(row.digests, dg.md, sizeof(dg.md));

        hdb_writer_begin(db, "list-d", HDB_WRITE_ADD, &w);
        hdb_writer_add(w, &row);
        hdb_writer_abort(w);
        is_int(lookup(db, HDB_SHA1, "aborted", &m), MDB_NOTFOUND,
               "an aborted import is not visible");
    }

    is_int(add_rows(db, "bad name!", NULL, one, 1, HDB_TYPE_BIT(HDB_MD5)),
           HDB_ENAME, "a bad source name is refused");
    is_int(add_rows(db, "list-e", "way-too-long", one, 1,
                    HDB_TYPE_BIT(HDB_MD5)),
           HDB_ENAME, "a category over 8 characters is refused");

    test_resident(db);

    hdb_close(db);

    /* a directory that is an LMDB environment, but not a hash set */
    {
        MDB_env  *env;
        MDB_txn  *txn;

        snprintf(path, sizeof(path), "%s/foreign", dir);
        mkdir(path, 0700);
        mdb_env_create(&env);
        mdb_env_open(env, path, 0, 0600);
        mdb_txn_begin(env, NULL, 0, &txn);
        mdb_txn_commit(txn);
        mdb_env_close(env);

        is_int(hdb_open(&db, path, HDB_OPEN_RDONLY), HDB_ESCHEMA,
               "a foreign LMDB environment is refused");
    }

    /* a corrupt data file */
    {
        FILE  *f;

        snprintf(path, sizeof(path), "%s/corrupt", dir);
        mkdir(path, 0700);
        snprintf(path, sizeof(path), "%s/corrupt/data.mdb", dir);
        f = fopen(path, "w");
        for (int i = 0; i < 20000; i++) {
            fputc(i * 31, f);
        }
        fclose(f);
        snprintf(path, sizeof(path), "%s/corrupt", dir);
        ok(hdb_open(&db, path, HDB_OPEN_RDONLY) != 0,
           "a corrupt data file is refused");
    }

    test_reserved_map();

    snprintf(path, sizeof(path), "rm -rf %s", dir);
    if (system(path) != 0) {
        return 1;
    }

    return done_testing();
}
