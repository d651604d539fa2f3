/*
 * hashdb pull DB --source NAME [OPTIONS] URL
 *
 * Brings a source up to date from a feed (feed.h) that "hashdb publish"
 * wrote and a web server serves at URL: the index (a conditional GET),
 * then the chain of deltas from the set's own sequence to the latest,
 * each checked against the index (size, SHA-256), inflated under a size
 * cap, and verified as "hashdb apply" verifies a list (a key trusted for
 * the source, its kind, its sequence on its base), all applied in one
 * transaction.  When the set is further behind than the deltas kept, or
 * a delta is missing or refused, the full list is pulled instead (as
 * "hashdb sync").  Downloads go to a private temporary directory; the
 * set changes only at the one commit, so an interrupted pull (a network
 * error, kill -9) leaves it as it was.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "feed.h"
#include "fetch.h"
#include "tool.h"
#include "update.h"

static const char  pull_usage[] =
    "usage: hashdb pull DB --source NAME [OPTIONS] URL\n"
    "\n"
    "Brings the source NAME up to date from the feed at URL (the directory\n"
    "\"hashdb publish\" writes, served over HTTP or HTTPS): the deltas from\n"
    "the set's sequence to the feed's latest, or the full list when the\n"
    "set is further behind than the deltas kept, all in one transaction.\n"
    "\n"
    "  --source NAME    the source (keys trusted for it: hashdb trust)\n"
    "  --jitter SECS    wait a random 0 .. SECS first, so that a fleet's\n"
    "                   nodes do not all ask at once (default 0)\n"
    "  --timeout SECS   to connect, and a transfer's stall (default 30)\n"
    "  --max-size SIZE  largest file, downloaded or inflated (default 4g;\n"
    "                   k, m, g)\n"
    "  --retries N      retries of a failed download, with backoff from 1 s\n"
    "                   (default 3)\n"
    "  --full           pull the full list, not deltas\n"
    "  --allow-shrink   as hashdb sync's\n"
    "  --shadow         as hashdb sync's: what the update adds is staged,\n"
    "                   logged only, until \"hashdb promote\"\n"
    "\n"
    "TLS certificates are verified; proxies come from the environment\n"
    "(https_proxy, http_proxy, no_proxy).  Exit status 0 when the source is\n"
    "up to date, 2 when it could not be brought up to date (nothing\n"
    "applied).\n";

typedef struct {
    const char     *db_path;
    const char     *source;
    const char     *url;
    char            tmp[3000];
    fetch_t         fetch;
    uint64_t        max_size;
    uint64_t        seq;                /* the set's */
    unsigned char   keys[16][HDB_KEY_SIZE];
    size_t          nkeys;
    uint64_t        downloaded;
} pull_t;

typedef struct {
    char           gz[4096];
    char           csv[4096];
    char           sig[4096];
    char           label[FEED_NAME_MAX + 16];
} pull_file_t;

/* the set's sequence for the source, and the keys trusted for it */
static int
pull_state(pull_t *p)
{
    int            rc;
    hdb_t         *db;
    hdb_source_t   src;
    hdb_reader_t  *rd;

    if (tool_open(&db, p->db_path, HDB_OPEN_RDONLY) != TOOL_OK) {
        return TOOL_FAILED;
    }

    rc = hdb_reader_new(db, &rd);
    if (rc == 0) {
        rc = hdb_reader_begin(rd);
        if (rc == 0) {
            rc = hdb_reader_source(rd, p->source, &src);
            if (rc == 0) {
                p->seq = src.seq;
            } else if (rc == HDB_NOTFOUND) {
                rc = 0;
            }
        }
        if (rc == 0) {
            rc = hdb_reader_keys(rd, p->source, p->keys, 16, &p->nkeys);
        }
        hdb_reader_free(rd);
    }

    hdb_close(db);

    if (rc != 0) {
        tool_error("%s: %s", p->db_path, hdb_strerror(rc));
        return TOOL_FAILED;
    }

    if (p->nkeys == 0) {
        tool_error("no key is trusted for source \"%s\" (hashdb trust); "
                   "nothing applied", p->source);
        return TOOL_FAILED;
    }

    return TOOL_OK;
}

/* url/name into path; -1 with the reason in err */
static int
pull_get(pull_t *p, const char *name, const char *path, uint64_t max,
    char *err, size_t errlen)
{
    int    rc;
    FILE  *f;
    char   url[8192];

    snprintf(url, sizeof(url), "%s/%s", p->url, name);

    f = fopen(path, "w+b");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }

    p->fetch.max_size = max;
    rc = fetch_url(url, f, &p->fetch, err, errlen);
    p->downloaded += p->fetch.bytes;

    if (fclose(f) != 0 && rc == 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = -1;
    }

    return rc;
}

/* a gzip file into path, under the size cap */
static int
pull_inflate(pull_t *p, const char *gzpath, const char *path, char *err,
    size_t errlen)
{
    int       n, zerr;
    FILE     *out;
    gzFile    gz;
    char      buf[65536];
    uint64_t  total;

    gz = gzopen(gzpath, "rb");
    out = fopen(path, "wb");

    if (gz == NULL || out == NULL) {
        snprintf(err, errlen, "%s: %s", gz ? path : gzpath, strerror(errno));
        if (gz) {
            gzclose(gz);
        }
        if (out) {
            fclose(out);
        }
        return -1;
    }

    total = 0;

    while ((n = gzread(gz, buf, sizeof(buf))) > 0) {
        total += (uint64_t) n;
        if (total > p->max_size
            || fwrite(buf, 1, (size_t) n, out) != (size_t) n)
        {
            snprintf(err, errlen, "%s: %s", gzpath, total > p->max_size
                     ? "inflates past --max-size" : strerror(errno));
            n = -1;
            break;
        }
    }

    if (n < 0 && err[0] == '\0') {
        snprintf(err, errlen, "%s: not gzip, or cut short (%s)", gzpath,
                 gzerror(gz, &zerr));
    }

    gzclose(gz);

    if (fclose(out) != 0 && n == 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        n = -1;
    }

    return n < 0 ? -1 : 0;
}

/* one file the index names: downloaded, checked against it, inflated */
static int
pull_file(pull_t *p, const feed_file_t *ff, pull_file_t *pf, char *err,
    size_t errlen)
{
    char           signame[FEED_NAME_MAX + 8];
    uint64_t       size;
    unsigned char  sha[32];

    err[0] = '\0';
    snprintf(pf->gz, sizeof(pf->gz), "%s/%s", p->tmp, ff->name);
    snprintf(pf->csv, sizeof(pf->csv), "%s/%s.csv", p->tmp, ff->name);
    snprintf(pf->sig, sizeof(pf->sig), "%s/%s.sig", p->tmp, ff->name);
    snprintf(pf->label, sizeof(pf->label), "%s", ff->name);
    snprintf(signame, sizeof(signame), "%.*s.sig",
             (int) strlen(ff->name) - 3, ff->name);

    if (ff->size > p->max_size) {
        snprintf(err, errlen, "%s: %llu bytes, over --max-size", ff->name,
                 (unsigned long long) ff->size);
        return -1;
    }

    /* a byte more than the index says is already wrong */
    if (pull_get(p, ff->name, pf->gz, ff->size, err, errlen) != 0) {
        if (p->fetch.over) {
            snprintf(err, errlen, "%s: more than the %llu bytes the index "
                     "names (altered, or another file)", ff->name,
                     (unsigned long long) ff->size);
        }
        return -1;
    }

    if (feed_hash_file(pf->gz, sha, &size) != 0) {
        snprintf(err, errlen, "%s: %s", ff->name, strerror(errno));
        return -1;
    }

    if (size != ff->size) {
        snprintf(err, errlen, "%s: %llu bytes, not the %llu the index names "
                 "(cut short)", ff->name, (unsigned long long) size,
                 (unsigned long long) ff->size);
        return -1;
    }

    if (memcmp(sha, ff->sha256, 32) != 0) {
        snprintf(err, errlen, "%s: not the SHA-256 the index names "
                 "(altered)", ff->name);
        return -1;
    }

    if (pull_get(p, signame, pf->sig, SIG_TEXT_MAX, err, errlen) != 0) {
        return -1;
    }

    return pull_inflate(p, pf->gz, pf->csv, err, errlen);
}

static void
pull_remove(pull_file_t *pf)
{
    unlink(pf->gz);
    unlink(pf->csv);
    unlink(pf->sig);
}

/* the index: fetched (conditionally), verified with a trusted key */
static int
pull_index(pull_t *p, feed_index_t *ix, const char *etag, int *unchanged)
{
    FILE         *f;
    char          path[4096], err[1024], *text;
    size_t        n;

    snprintf(path, sizeof(path), "%s/%s", p->tmp, FEED_INDEX);

    p->fetch.etag_in = etag;
    err[0] = '\0';

    if (pull_get(p, FEED_INDEX, path, FEED_INDEX_MAX, err, sizeof(err)) != 0) {
        tool_error("%s; nothing applied", err);
        return TOOL_FAILED;
    }

    p->fetch.etag_in = NULL;

    if (p->fetch.not_modified) {
        *unchanged = 1;
        return TOOL_OK;
    }

    text = malloc(FEED_INDEX_MAX);
    f = fopen(path, "rb");
    n = 0;
    if (text && f) {
        n = fread(text, 1, FEED_INDEX_MAX, f);
    }
    if (f) {
        fclose(f);
    }

    if (text == NULL || feed_index_parse(text, n, ix, err, sizeof(err)) != 0)
    {
        tool_error("%s: %s; nothing applied", p->url,
                   text ? err : "out of memory");
        free(text);
        return TOOL_FAILED;
    }

    free(text);

    if (strcmp(ix->source, p->source) != 0) {
        tool_error("%s: a feed of source \"%s\", not \"%s\"; nothing applied",
                   p->url, ix->source, p->source);
        return TOOL_FAILED;
    }

    if (!tool_key_trusted((const unsigned char (*)[HDB_KEY_SIZE]) p->keys,
                          p->nkeys < 16 ? p->nkeys : 16, ix->sig.key))
    {
        tool_error("%s/%s: signed with a key not trusted for source \"%s\"; "
                   "nothing applied", p->url, FEED_INDEX, p->source);
        return TOOL_FAILED;
    }

    if (!sig_verify(&ix->sig, ix->sig.key)) {
        tool_error("%s/%s: BAD SIGNATURE; nothing applied", p->url,
                   FEED_INDEX);
        return TOOL_FAILED;
    }

    return TOOL_OK;
}

/* where the index's ETag is kept between pulls: DB/.pull-SOURCE */
static void
pull_etag_path(pull_t *p, char *path, size_t size)
{
    snprintf(path, size, "%s/.pull-%s", p->db_path, p->source);
}

static void
pull_etag_load(pull_t *p, char *etag, size_t size)
{
    FILE  *f;
    char   path[4096];
    size_t n;

    etag[0] = '\0';
    pull_etag_path(p, path, sizeof(path));

    f = fopen(path, "r");
    if (f == NULL) {
        return;
    }

    if (fgets(etag, (int) size, f) == NULL) {
        etag[0] = '\0';
    }
    fclose(f);

    n = strlen(etag);
    if (n && etag[n - 1] == '\n') {
        etag[n - 1] = '\0';
    }
}

static void
pull_etag_save(pull_t *p, const char *etag)
{
    FILE  *f;
    char   path[4096], tmp[4200];

    pull_etag_path(p, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);

    f = fopen(tmp, "w");
    if (f == NULL) {
        return;                     /* only the next GET is not conditional */
    }

    fprintf(f, "%s\n", etag);

    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
    }
}

int
cmd_pull(int argc, char **argv)
{
    int                 c, rc, full_only, unchanged, fell;
    unsigned            flags;
    char               *end, etag[FETCH_ETAG_MAX], newetag[FETCH_ETAG_MAX];
    char                err[1024], url[4096];
    long                jitter;
    size_t              n, i;
    pull_t              p;
    feed_index_t       *ix;
    pull_file_t        *pf;
    update_file_t      *uf;
    update_result_t     res;
    const feed_file_t  *chain[FEED_MAX_FILES], *ff;
    uint64_t            base;

    static const struct option  opts[] = {
        { "source", required_argument, NULL, 's' },
        { "jitter", required_argument, NULL, 'j' },
        { "timeout", required_argument, NULL, 't' },
        { "max-size", required_argument, NULL, 'm' },
        { "retries", required_argument, NULL, 'r' },
        { "full", no_argument, NULL, 'F' },
        { "allow-shrink", no_argument, NULL, 'A' },
        { "shadow", no_argument, NULL, 'W' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    memset(&p, 0, sizeof(p));
    p.fetch.timeout = 30;
    p.fetch.retries = 3;
    p.fetch.backoff = 1;
    p.max_size = (uint64_t) 4 << 30;
    jitter = 0;
    full_only = 0;
    flags = 0;
    optind = 1;

    while ((c = getopt_long(argc, argv, ":s:j:t:m:r:FAh", opts, NULL)) != -1)
    {
        switch (c) {
        case 's':
            p.source = optarg;
            break;
        case 'j':
            jitter = strtol(optarg, &end, 10);
            if (*end || end == optarg || jitter < 0 || jitter > 86400) {
                tool_error("--jitter: seconds from 0 to 86400: %s", optarg);
                return TOOL_FAILED;
            }
            break;
        case 't':
            p.fetch.timeout = strtol(optarg, &end, 10);
            if (*end || end == optarg || p.fetch.timeout < 1
                || p.fetch.timeout > 3600)
            {
                tool_error("--timeout: seconds from 1 to 3600: %s", optarg);
                return TOOL_FAILED;
            }
            break;
        case 'm':
            if (tool_parse_size(optarg, &p.max_size) != TOOL_OK) {
                tool_error("--max-size: a size (k, m, g): %s", optarg);
                return TOOL_FAILED;
            }
            break;
        case 'r':
            p.fetch.retries = (int) strtol(optarg, &end, 10);
            if (*end || end == optarg || p.fetch.retries < 0
                || p.fetch.retries > 10)
            {
                tool_error("--retries: a number from 0 to 10: %s", optarg);
                return TOOL_FAILED;
            }
            break;
        case 'F':
            full_only = 1;
            break;
        case 'A':
            flags |= UPDATE_ALLOW_SHRINK;
            break;
        case 'W':
            flags |= UPDATE_SHADOW;
            break;
        case 'h':
            fputs(pull_usage, stdout);
            return TOOL_OK;
        default:
            return tool_bad_option(c, argv, pull_usage);
        }
    }

    if (argc - optind != 2) {
        return tool_usage(pull_usage, "%s", argc - optind < 2
                          ? "DB and URL are needed"
                          : "one DB and one URL: more given");
    }

    if (p.source == NULL) {
        return tool_usage(pull_usage, "--source NAME is missing");
    }

    if (!hdb_valid_name(p.source)) {
        tool_error("--source %s: %s", p.source, hdb_strerror(HDB_ENAME));
        return TOOL_FAILED;
    }

    p.db_path = argv[optind];
    snprintf(url, sizeof(url), "%s", argv[optind + 1]);
    n = strlen(url);
    while (n && url[n - 1] == '/') {
        url[--n] = '\0';
    }
    p.url = url;

    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
    {
        tool_error("%s: not an http:// or https:// URL", url);
        return TOOL_FAILED;
    }

    if (pull_state(&p) != TOOL_OK) {
        return TOOL_FAILED;
    }

    if (jitter) {
        unsigned int      r = 0;
        struct timespec   ts;

        if (getrandom(&r, sizeof(r), 0) != sizeof(r)) {
            r = (unsigned int) (time(NULL) ^ getpid());
        }

        r %= (unsigned int) jitter * 1000;
        printf("%s: waiting %u.%03u s first (--jitter %ld)\n", p.source,
               r / 1000, r % 1000, jitter);
        fflush(stdout);
        ts.tv_sec = r / 1000;
        ts.tv_nsec = (long) (r % 1000) * 1000000;
        nanosleep(&ts, NULL);
    }

    ix = calloc(1, sizeof(feed_index_t));
    pf = calloc(FEED_MAX_FILES, sizeof(pull_file_t));
    uf = calloc(FEED_MAX_FILES, sizeof(update_file_t));
    rc = TOOL_FAILED;

    snprintf(p.tmp, sizeof(p.tmp), "%s/hashdb-pull-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");

    if (ix == NULL || pf == NULL || uf == NULL) {
        tool_error("out of memory");
        goto done;
    }

    if (mkdtemp(p.tmp) == NULL) {
        tool_error("%s: %s", p.tmp, strerror(errno));
        p.tmp[0] = '\0';
        goto done;
    }

    if (fetch_init() != 0) {
        tool_error("cannot set up libcurl");
        goto done;
    }

    /* a set that lost its source asks for the index unconditionally */
    pull_etag_load(&p, etag, sizeof(etag));
    if (p.seq == 0) {
        etag[0] = '\0';
    }

    unchanged = 0;
    if (pull_index(&p, ix, etag, &unchanged) != TOOL_OK) {
        goto fetched;
    }

    if (unchanged) {
        printf("%s: up to date at sequence %llu (the index has not "
               "changed)\n", p.source, (unsigned long long) p.seq);
        rc = TOOL_OK;
        goto fetched;
    }

    snprintf(newetag, sizeof(newetag), "%s", p.fetch.etag_out);

    if (ix->latest < p.seq) {
        tool_error("%s: the feed's index is at sequence %llu, older than "
                   "the set's %llu (a replayed or stale index); nothing "
                   "applied", p.url, (unsigned long long) ix->latest,
                   (unsigned long long) p.seq);
        goto fetched;
    }

    if (ix->latest == p.seq) {
        pull_etag_save(&p, newetag);
        printf("%s: up to date at sequence %llu\n", p.source,
               (unsigned long long) p.seq);
        rc = TOOL_OK;
        goto fetched;
    }

    /* the deltas from the set's sequence, when the feed still has them */
    n = 0;
    fell = 0;

    if (p.seq && !full_only) {
        for (base = p.seq; base != ix->latest && n < FEED_MAX_FILES; n++) {
            ff = feed_index_delta(ix, base);
            if (ff == NULL || ff->seq <= base) {
                break;
            }
            chain[n] = ff;
            base = ff->seq;
        }

        if (base != ix->latest) {
            printf("%s: at sequence %llu, further behind than the feed's "
                   "deltas: pulling the full list\n", p.source,
                   (unsigned long long) p.seq);
            n = 0;
        }
    }

    for (i = 0; i < n; i++) {
        if (pull_file(&p, chain[i], &pf[i], err, sizeof(err)) != 0) {
            printf("%s: delta %llu: %s: pulling the full list instead\n",
                   p.source, (unsigned long long) chain[i]->seq, err);
            fflush(stdout);
            fell = 1;
            break;
        }

        uf[i].path = pf[i].csv;
        uf[i].sig_path = pf[i].sig;
        uf[i].label = pf[i].label;
        uf[i].full = 0;
    }

    if (n && !fell) {
        if (update_chain(p.db_path, p.source, uf, n, flags, &res)
            == TOOL_OK)
        {
            printf("%s: sequence %llu -> %llu through %zu deltas, %llu bytes "
                   "downloaded: %llu entries added, %llu removed\n",
                   p.source, (unsigned long long) res.from,
                   (unsigned long long) res.to, n,
                   (unsigned long long) p.downloaded,
                   (unsigned long long) res.added,
                   (unsigned long long) res.removed);
            pull_etag_save(&p, newetag);
            rc = TOOL_OK;
            goto fetched;
        }

        printf("%s: the deltas were refused: pulling the full list "
               "instead\n", p.source);
        fflush(stdout);
    }

    for (i = 0; i < n; i++) {
        pull_remove(&pf[i]);
    }

    /* the full list */
    ff = feed_index_full(ix, ix->latest);
    if (ff == NULL) {
        tool_error("%s: the index names no full list for sequence %llu; "
                   "nothing applied", p.url, (unsigned long long) ix->latest);
        goto fetched;
    }

    if (pull_file(&p, ff, &pf[0], err, sizeof(err)) != 0) {
        tool_error("%s; nothing applied", err);
        goto fetched;
    }

    uf[0].path = pf[0].csv;
    uf[0].sig_path = pf[0].sig;
    uf[0].label = pf[0].label;
    uf[0].full = 1;

    if (update_chain(p.db_path, p.source, uf, 1, flags, &res)
        != TOOL_OK)
    {
        goto fetched;
    }

    printf("%s: sequence %llu -> %llu from the full list, %llu bytes "
           "downloaded: %llu entries added, %llu removed\n", p.source,
           (unsigned long long) res.from, (unsigned long long) res.to,
           (unsigned long long) p.downloaded,
           (unsigned long long) res.added, (unsigned long long) res.removed);
    pull_etag_save(&p, newetag);
    rc = TOOL_OK;

fetched:

    fetch_cleanup();

done:

    if (p.tmp[0] && pf) {
        for (i = 0; i < FEED_MAX_FILES && pf[i].gz[0]; i++) {
            pull_remove(&pf[i]);
        }
        snprintf(url, sizeof(url), "%s/%s", p.tmp, FEED_INDEX);
        unlink(url);
        rmdir(p.tmp);
    }

    free(ix);
    free(pf);
    free(uf);
    return rc;
}
