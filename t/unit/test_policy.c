/*
 * Unit tests of policies against a real LMDB file: which source names a
 * match when several list an entry (digests, PDQ near matches, stills of
 * listed videos, vPDQ), what a source's action and categories make of
 * it, the reader's scope, what shadow writes stage and promote makes
 * live, and flood clears.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "hashdb.h"
#include "tap.h"

static char  dir[] = "/tmp/hdb-policy-XXXXXX";

static uint64_t  rng = 0x2545f4914f6cdd1dull;

static void
random_hash(unsigned char *h)
{
    for (int i = 0; i < HDB_PDQ_SIZE; i += 8) {
        uint64_t  r;

        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        r = rng;
        memcpy(h + i, &r, 8);
    }
}

/* a copy of h with the first k bits flipped */
static void
near_copy(const unsigned char *h, int k, unsigned char *out)
{
    memcpy(out, h, HDB_PDQ_SIZE);

    for (int b = 0; b < k; b++) {
        out[b / 8] ^= (unsigned char) (1u << (b % 8));
    }
}

/* one row of one type into the source: a write of its own */
static int
put(hdb_t *db, const char *source, int mode, int stage, hdb_type_t type,
    const unsigned char *value, const char *category)
{
    int            rc;
    hdb_row_t      row;
    hdb_writer_t  *w;

    rc = hdb_writer_begin(db, source, mode, &w);
    if (rc != 0) {
        return rc;
    }

    if (stage) {
        hdb_writer_stage(w);
    }

    memset(&row, 0, sizeof(row));
    row.types = HDB_TYPE_BIT(type);
    memcpy(row.digests[type], value, hdb_type_size(type));
    row.category = category;

    rc = hdb_writer_add(w, &row);
    if (rc != 0) {
        hdb_writer_abort(w);
        return rc;
    }

    return hdb_writer_commit(w, NULL);
}

static int
put_video(hdb_t *db, const char *source, int stage, const char *name,
    unsigned char (*frames)[HDB_PDQ_SIZE], size_t n)
{
    int            rc;
    hdb_video_t    v;
    hdb_writer_t  *w;

    rc = hdb_writer_begin(db, source, HDB_WRITE_ADD, &w);
    if (rc != 0) {
        return rc;
    }

    if (stage) {
        hdb_writer_stage(w);
    }

    memset(&v, 0, sizeof(v));
    v.name = name;
    v.nframes = n;
    v.frames = (const unsigned char (*)[HDB_PDQ_SIZE]) frames;

    rc = hdb_writer_add_video(w, &v);
    if (rc != 0) {
        hdb_writer_abort(w);
        return rc;
    }

    return hdb_writer_commit(w, NULL);
}

/* a lookup (digest or PDQ) in a transaction of its own, scoped or not */
static int
find(hdb_t *db, hdb_type_t type, const unsigned char *value,
    const char *const *scope, size_t nscope, hdb_match_t *m)
{
    int            rc;
    hdb_reader_t  *rd;

    if (hdb_reader_new(db, &rd) != 0) {
        return -1;
    }

    rc = hdb_reader_begin(rd);
    if (rc == 0) {
        hdb_reader_scope(rd, scope, nscope);
        rc = type == HDB_PDQ
             ? hdb_reader_pdq_match(rd,
                   (const unsigned char (*)[HDB_PDQ_SIZE]) value, 1, 31, m)
             : hdb_reader_lookup(rd, type, value, m);
        hdb_reader_end(rd);
    }

    hdb_reader_free(rd);
    return rc;
}

static int
find_video(hdb_t *db, unsigned char (*frames)[HDB_PDQ_SIZE], size_t n,
    hdb_vpdq_match_t *m)
{
    int                rc;
    hdb_reader_t      *rd;
    hdb_vpdq_rule_t    rule;
    hdb_vpdq_frame_t  *f;

    f = calloc(n, sizeof(*f));
    if (f == NULL || hdb_reader_new(db, &rd) != 0) {
        free(f);
        return -1;
    }

    for (size_t i = 0; i < n; i++) {
        memcpy(f[i].hash, frames[i], HDB_PDQ_SIZE);
        f[i].quality = 100;
        f[i].time = (double) i;
    }

    memset(&rule, 0, sizeof(rule));
    rule.distance = 31;
    rule.quality = 50;
    rule.pc = 80;

    rc = hdb_reader_begin(rd);
    if (rc == 0) {
        rc = hdb_reader_vpdq_match(rd, f, n, &rule, m);
        hdb_reader_end(rd);
    }

    hdb_reader_free(rd);
    free(f);
    return rc;
}

static int
policy(hdb_t *db, const char *source, hdb_policy_t *p)
{
    int            rc;
    hdb_reader_t  *rd;

    if (hdb_reader_new(db, &rd) != 0) {
        return -1;
    }

    rc = hdb_reader_begin(rd);
    if (rc == 0) {
        rc = hdb_reader_policy(rd, source, p);
        hdb_reader_end(rd);
    }

    hdb_reader_free(rd);
    return rc;
}

static int64_t
cleared(hdb_t *db, const char *entry)
{
    int64_t        when = -1;
    hdb_reader_t  *rd;

    if (hdb_reader_new(db, &rd) == 0 && hdb_reader_begin(rd) == 0) {
        hdb_reader_flood_cleared(rd, entry, &when);
        hdb_reader_end(rd);
    }

    hdb_reader_free(rd);
    return when;
}

int
main(void)
{
    char              path[256];
    hdb_t            *db;
    uint64_t          n;
    hdb_match_t       m;
    hdb_policy_t      p;
    hdb_vpdq_match_t  vm;
    unsigned char     d1[32], d2[32], img[32], img_near[32], far[32];
    unsigned char     frames[6][HDB_PDQ_SIZE], upload[6][HDB_PDQ_SIZE];
    const char       *only_b[] = { "src-b" };
    const char       *cats[] = { "A1" };

    if (mkdtemp(dir) == NULL) {
        return 1;
    }

    snprintf(path, sizeof(path), "%s/set", dir);
    if (hdb_open(&db, path, HDB_OPEN_CREATE) != 0) {
        return 1;
    }

    random_hash(d1);
    random_hash(d2);

    /* digests: the first source wins among equals, the strongest else */
    is_int(put(db, "src-a", HDB_WRITE_ADD, 0, HDB_SHA256, d1, "A1"), 0,
           "src-a lists d1");
    is_int(put(db, "src-b", HDB_WRITE_ADD, 0, HDB_SHA256, d1, "B1"), 0,
           "src-b lists d1 too");
    is_int(find(db, HDB_SHA256, d1, NULL, 0, &m), 0, "d1 found");
    ok(strcmp(m.source, "src-a") == 0 && m.action == HDB_ACTION_BLOCK,
       "two blocking sources: the first names it, and blocks");

    is_int(policy(db, "src-a", &p), 0, "src-a's policy read");
    ok(p.action == HDB_ACTION_BLOCK && p.ncategories == 0 && p.updated == 0,
       "the default policy: block, every category, never set");
    is_int(policy(db, "nope", &p), MDB_NOTFOUND, "no such source's policy");

    is_int(hdb_policy_set(db, "src-a", HDB_ACTION_LOG, NULL, 0), 0,
           "src-a logs only");
    is_int(find(db, HDB_SHA256, d1, NULL, 0, &m), 0, "d1 found");
    ok(strcmp(m.source, "src-b") == 0 && m.action == HDB_ACTION_BLOCK,
       "the blocking source names the match over a log-only one");

    is_int(hdb_policy_set(db, "src-b", HDB_ACTION_BLOCK, cats, 1), 0,
           "src-b blocks category A1 only");
    is_int(find(db, HDB_SHA256, d1, NULL, 0, &m), 0, "d1 found");
    ok(m.action == HDB_ACTION_LOG && strcmp(m.source, "src-a") == 0,
       "no source blocks it: logged, named by the first");
    is_int(policy(db, "src-b", &p), 0, "src-b's policy read");
    ok(p.ncategories == 1 && strcmp(p.categories[0], "A1") == 0
       && p.updated > 0, "its categories and when it was set");

    is_int(hdb_policy_set(db, "src-b", 7, NULL, 0), EINVAL,
           "another action is refused");
    is_int(hdb_policy_set(db, "nope", HDB_ACTION_LOG, NULL, 0), MDB_NOTFOUND,
           "no such source: not found");
    {
        const char  *bad[] = { "not valid" };

        is_int(hdb_policy_set(db, "src-b", HDB_ACTION_LOG, bad, 1), HDB_ENAME,
               "a bad category is refused");
    }

    hdb_policy_set(db, "src-a", HDB_ACTION_BLOCK, NULL, 0);
    hdb_policy_set(db, "src-b", HDB_ACTION_BLOCK, NULL, 0);

    /* the reader's scope */
    is_int(find(db, HDB_SHA256, d1, only_b, 1, &m), 0, "scoped to src-b");
    ok(strcmp(m.source, "src-b") == 0, "only src-b can name it");
    is_int(put(db, "src-a", HDB_WRITE_ADD, 0, HDB_SHA256, d2, NULL), 0,
           "src-a lists d2");
    is_int(find(db, HDB_SHA256, d2, only_b, 1, &m), MDB_NOTFOUND,
           "scoped to src-b: src-a's entry matches nothing");
    is_int(find(db, HDB_SHA256, d2, NULL, 0, &m), 0,
           "unscoped: it matches");

    /* PDQ: a nearer log-only entry does not hide a farther blocking one */
    random_hash(img);
    near_copy(img, 20, far);
    near_copy(img, 4, img_near);
    is_int(put(db, "pdq-log", HDB_WRITE_ADD, 0, HDB_PDQ, img_near, NULL), 0,
           "pdq-log lists a hash at distance 4");
    is_int(put(db, "pdq-block", HDB_WRITE_ADD, 0, HDB_PDQ, far, NULL), 0,
           "pdq-block lists one at distance 20");
    is_int(find(db, HDB_PDQ, img, NULL, 0, &m), 0, "a near match");
    ok(strcmp(m.source, "pdq-log") == 0 && m.distance == 4,
       "both block: the nearest names it");
    hdb_policy_set(db, "pdq-log", HDB_ACTION_LOG, NULL, 0);
    is_int(find(db, HDB_PDQ, img, NULL, 0, &m), 0, "a near match");
    ok(strcmp(m.source, "pdq-block") == 0 && m.distance == 20
       && m.action == HDB_ACTION_BLOCK,
       "the nearer one logs only: the farther blocking one names it");
    hdb_policy_set(db, "pdq-block", HDB_ACTION_LOG, NULL, 0);
    is_int(find(db, HDB_PDQ, img, NULL, 0, &m), 0, "a near match");
    ok(strcmp(m.source, "pdq-log") == 0 && m.distance == 4
       && m.action == HDB_ACTION_LOG, "both log only: the nearest again");
    {
        const char  *scope[] = { "pdq-block" };

        is_int(find(db, HDB_PDQ, img, scope, 1, &m), 0, "scoped PDQ");
        ok(strcmp(m.source, "pdq-block") == 0, "the scope's source only");
    }

    /* PDQ: an allowed entry near the upload does not hide a listed one */
    {
        unsigned char  img2[32], near2[32], far2[32];

        random_hash(img2);
        near_copy(img2, 3, near2);
        near_copy(img2, 18, far2);
        put(db, "allow-a", HDB_WRITE_ADD, 0, HDB_PDQ, near2, NULL);
        put(db, "allow-b", HDB_WRITE_ADD, 0, HDB_PDQ, far2, NULL);
        is_int(hdb_allow_add(db, HDB_PDQ, near2, "a false positive"), 0,
               "the nearer PDQ entry allowed");
        is_int(find(db, HDB_PDQ, img2, NULL, 0, &m), 0, "a near match");
        ok(!m.allowed && m.distance == 18
           && strcmp(m.source, "allow-b") == 0,
           "the listed entry a little further names it, not allowed");
        is_int(hdb_allow_add(db, HDB_PDQ, far2, "another"), 0,
               "the further one allowed too");
        is_int(find(db, HDB_PDQ, img2, NULL, 0, &m), 0, "a near match");
        ok(m.allowed && m.distance == 3,
           "both allowed: the nearest, allowed (distance %u)", m.distance);
    }

    /* shadow writes */
    {
        unsigned char  s1[32], s2[32];

        random_hash(s1);
        random_hash(s2);

        is_int(put(db, "feed", HDB_WRITE_ADD, 0, HDB_SHA256, s1, NULL), 0,
               "feed lists s1, live");
        is_int(put(db, "feed", HDB_WRITE_ADD, 1, HDB_SHA256, s2, NULL), 0,
               "a shadow write adds s2");
        find(db, HDB_SHA256, s2, NULL, 0, &m);
        is_int(m.action, HDB_ACTION_SHADOW, "s2 is staged");
        is_int(put(db, "feed", HDB_WRITE_ADD, 1, HDB_SHA256, s1, NULL), 0,
               "a shadow write lists s1 again");
        find(db, HDB_SHA256, s1, NULL, 0, &m);
        is_int(m.action, HDB_ACTION_BLOCK,
               "a live entry it confirms stays live");
        policy(db, "feed", &p);
        ok(p.staged && p.staged_added == 1 && p.staged_at > 0,
           "the policy says one entry is staged");

        /* a full shadow sync that drops s1: gone at once */
        is_int(put(db, "feed", HDB_WRITE_REPLACE, 1, HDB_SHA256, s2, NULL), 0,
               "a shadow sync of s2 alone");
        is_int(find(db, HDB_SHA256, s1, NULL, 0, &m), MDB_NOTFOUND,
               "what it drops goes at once");
        find(db, HDB_SHA256, s2, NULL, 0, &m);
        is_int(m.action, HDB_ACTION_SHADOW, "s2 still staged");

        is_int(hdb_promote(db, "feed", &n), 0, "promote");
        is_int(n, 1, "one entry was staged");
        find(db, HDB_SHA256, s2, NULL, 0, &m);
        is_int(m.action, HDB_ACTION_BLOCK, "promoted: s2 blocks");
        policy(db, "feed", &p);
        ok(!p.staged, "nothing staged after promote");
        is_int(hdb_promote(db, "nope", &n), MDB_NOTFOUND,
               "promote of no such source");

        /* a plain sync makes a staged entry live */
        put(db, "feed", HDB_WRITE_ADD, 1, HDB_SHA256, s1, NULL);
        find(db, HDB_SHA256, s1, NULL, 0, &m);
        is_int(m.action, HDB_ACTION_SHADOW, "s1 staged again");
        is_int(put(db, "feed", HDB_WRITE_REPLACE, 0, HDB_SHA256, s1, NULL), 0,
               "a plain sync listing s1");
        find(db, HDB_SHA256, s1, NULL, 0, &m);
        is_int(m.action, HDB_ACTION_BLOCK, "a plain sync lists it live");
        policy(db, "feed", &p);
        ok(!p.staged, "and leaves nothing staged");

        /* a staged entry that a blocking source lists too: it blocks */
        put(db, "feed", HDB_WRITE_ADD, 1, HDB_SHA256, d2, NULL);
        find(db, HDB_SHA256, d2, NULL, 0, &m);
        ok(m.action == HDB_ACTION_BLOCK && strcmp(m.source, "src-a") == 0,
           "staged in one source, live in another: blocks");
    }

    /* videos: staged, as stills and as videos; promoted */
    for (int i = 0; i < 6; i++) {
        random_hash(frames[i]);
        near_copy(frames[i], 3, upload[i]);
    }

    is_int(put_video(db, "vfeed", 1, "clip-1", frames, 6), 0,
           "a shadow write lists a video");
    is_int(find_video(db, upload, 6, &vm), 0, "its edit matches it");
    ok(strcmp(vm.video, "clip-1") == 0 && vm.m.action == HDB_ACTION_SHADOW,
       "as a staged video");
    is_int(find(db, HDB_PDQ, upload[2], NULL, 0, &m), 0,
           "a still of it matches a frame");
    ok(strcmp(m.video, "clip-1") == 0 && m.action == HDB_ACTION_SHADOW,
       "as a staged frame");
    is_int(hdb_promote(db, "vfeed", &n), 0, "promote the video source");
    is_int(n, 1, "one video was staged");
    find_video(db, upload, 6, &vm);
    is_int(vm.m.action, HDB_ACTION_BLOCK, "promoted: the video blocks");
    find(db, HDB_PDQ, upload[2], NULL, 0, &m);
    is_int(m.action, HDB_ACTION_BLOCK, "and its stills");

    hdb_policy_set(db, "vfeed", HDB_ACTION_LOG, NULL, 0);
    find_video(db, upload, 6, &vm);
    is_int(vm.m.action, HDB_ACTION_LOG, "a log-only source's video logs");
    is_int(put_video(db, "vfeed2", 0, "clip-1-again", frames, 6), 0,
           "another source lists the same frames");
    find_video(db, upload, 6, &vm);
    ok(vm.m.action == HDB_ACTION_BLOCK && strcmp(vm.m.source, "vfeed2") == 0,
       "the blocking source's video names the match");

    /* flood clears */
    is_int(cleared(db, "sha256:00"), 0, "never cleared: 0");
    is_int(hdb_flood_clear(db, "sha256:00"), 0, "clear an entry");
    ok(cleared(db, "sha256:00") > 0, "its clear time is kept");
    is_int(cleared(db, "sha256:11"), 0, "another entry's is not");
    is_int(hdb_flood_clear(db, "*"), 0, "clear every entry");
    ok(cleared(db, "sha256:11") > 0, "\"*\" covers every entry");
    is_int(hdb_flood_clear(db, ""), HDB_ENAME, "an empty entry is refused");

    hdb_close(db);

    {
        char  cmd[300];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0) {
            return 1;
        }
    }

    return done_testing();
}
