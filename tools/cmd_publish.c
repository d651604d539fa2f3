/*
 * hashdb publish FEEDDIR --source NAME --key SECRET.pem [--seq N]
 *     [--keep N] [--format F] LIST
 *
 * Turns a new full list into the next sequence of a feed (feed.h): the
 * list in canonical csv, gzip-compressed and signed; the delta from the
 * feed's previous full list, signed with its base; a new signed index.
 * Every file is written under a temporary name, flushed and renamed; the
 * index is renamed last, so that a reader never sees an index that names
 * a file not yet there.  Deltas beyond --keep, and full lists older than
 * the one before, are removed after the new index is in place.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "feed.h"
#include "list_format.h"
#include "tool.h"

static const char  publish_usage[] =
    "usage: hashdb publish FEEDDIR --source NAME --key SECRET.pem [OPTIONS] "
    "LIST\n"
    "\n"
    "Makes LIST, a full list, the next sequence of the feed in FEEDDIR,\n"
    "which a web server serves to \"hashdb pull\": the list, the delta\n"
    "from the previous one, both signed and gzip-compressed, and a signed\n"
    "index (index.txt), written last.\n"
    "\n"
    "  --source NAME    the feed's source\n"
    "  --key FILE       the Ed25519 secret key (hashdb keygen)\n"
    "  --seq N          the sequence (default: the feed's latest + 1, or 1)\n"
    "  --keep N         deltas kept (default 30): a node further behind\n"
    "                   pulls the full list\n"
    "  --format F       LIST's format (default auto; not vpdq)\n";

/* the canonical rows of a list, sorted */
typedef struct {
    char    **lines;
    size_t    n;
    size_t    cap;
} publish_rows_t;

static int
publish_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static int
publish_push(publish_rows_t *r, const char *line)
{
    char  **p;

    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 4096;
        p = realloc(r->lines, r->cap * sizeof(char *));
        if (p == NULL) {
            return -1;
        }
        r->lines = p;
    }

    r->lines[r->n] = strdup(line);
    return r->lines[r->n++] ? 0 : -1;
}

static void
publish_free(publish_rows_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->lines[i]);
    }
    free(r->lines);
    memset(r, 0, sizeof(*r));
}

/* a row as "category,md5,sha1,sha256,pdq,quality" */
static void
publish_canonical(const list_row_t *lr, char *out, size_t size)
{
    char    hex[2 * HDB_DIGEST_MAX + 1];
    size_t  len;

    len = (size_t) snprintf(out, size, "%s", lr->category);

    for (int t = 0; t < HDB_NTYPES; t++) {
        hex[0] = '\0';
        if (lr->row.types & HDB_TYPE_BIT(t)) {
            hdb_hex_encode(lr->row.digests[t], hdb_type_size((hdb_type_t) t),
                           hex);
        }
        len += (size_t) snprintf(out + len, size - len, ",%s", hex);
    }

    if (lr->quality >= 0 && (lr->row.types & HDB_TYPE_BIT(HDB_PDQ))) {
        snprintf(out + len, size - len, ",%d", lr->quality);
    } else {
        snprintf(out + len, size - len, ",");
    }
}

/* LIST parsed, canonical, sorted, without duplicates */
static int
publish_read_list(const char *path, list_fmt_t fmt, publish_rows_t *r)
{
    int             rc;
    FILE           *in;
    char           *line, canon[512];
    size_t          cap, len, k;
    ssize_t         n;
    uint64_t        lineno;
    const char     *why;
    list_row_t      row;
    list_parser_t   p;

    in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (in == NULL) {
        tool_error("%s: %s", path, strerror(errno));
        return TOOL_FAILED;
    }

    list_parser_init(&p, fmt, 0, NULL);
    line = NULL;
    cap = 0;
    lineno = 0;
    rc = TOOL_OK;

    for ( ;; ) {
        n = getline(&line, &cap, in);

        if (n < 0) {
            rc = list_parse_end(&p, &row);
        } else {
            lineno++;
            len = (size_t) n;
            if (len && line[len - 1] == '\n') {
                len--;
            }
            rc = len > LIST_LINE_MAX ? LIST_BAD
                 : list_parse_line(&p, line, len, &row, &why);
            if (len > LIST_LINE_MAX) {
                why = "line longer than 4096 bytes";
            }
        }

        if (rc == LIST_BAD) {
            tool_error("%s:%llu: %s; nothing published", path,
                       (unsigned long long) lineno, why);
            rc = TOOL_FAILED;
            break;
        }

        if (rc == LIST_ROW) {
            if (row.row.category && row.category[0] == '\0') {
                snprintf(row.category, sizeof(row.category), "%s",
                         row.row.category);
            }
            publish_canonical(&row, canon, sizeof(canon));
            if (publish_push(r, canon) != 0) {
                tool_error("out of memory");
                rc = TOOL_FAILED;
                break;
            }
        }

        rc = TOOL_OK;

        if (n < 0) {
            break;
        }
    }

    free(line);
    if (in != stdin) {
        fclose(in);
    }

    if (rc != TOOL_OK) {
        return rc;
    }

    qsort(r->lines, r->n, sizeof(char *), publish_cmp);

    /* a file listed twice is one row */
    for (k = 0, len = 0; k < r->n; k++) {
        if (len && strcmp(r->lines[len - 1], r->lines[k]) == 0) {
            free(r->lines[k]);
            continue;
        }
        r->lines[len++] = r->lines[k];
    }
    r->n = len;

    return TOOL_OK;
}

/* the rows of a feed's full list (gzip csv), sorted as written */
static int
publish_read_full(const char *path, publish_rows_t *r)
{
    char    buf[1024];
    gzFile  gz;
    size_t  len;
    int     first;

    gz = gzopen(path, "rb");
    if (gz == NULL) {
        tool_error("%s: %s", path, strerror(errno));
        return TOOL_FAILED;
    }

    first = 1;

    while (gzgets(gz, buf, sizeof(buf)) != NULL) {
        len = strlen(buf);
        if (len && buf[len - 1] == '\n') {
            buf[--len] = '\0';
        }

        if (first) {
            first = 0;
            continue;               /* the header */
        }

        if (publish_push(r, buf) != 0) {
            gzclose(gz);
            tool_error("out of memory");
            return TOOL_FAILED;
        }
    }

    gzclose(gz);
    return TOOL_OK;
}

/*
 * A gzip file written under a temporary name: the text is hashed (the
 * signature's SHA-256, of what a node inflates) and so is the file (the
 * index's).  publish_gz_close() flushes and renames it.
 */
typedef struct {
    char         tmp[4096];
    char         path[4096];
    gzFile       gz;
    EVP_MD_CTX  *text;
} publish_gz_t;

static int
publish_gz_open(publish_gz_t *g, const char *dir, const char *name)
{
    int  fd;

    snprintf(g->path, sizeof(g->path), "%s/%s", dir, name);
    snprintf(g->tmp, sizeof(g->tmp), "%s/.%s.tmp", dir, name);

    fd = open(g->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    g->gz = fd >= 0 ? gzdopen(fd, "wb6") : NULL;
    g->text = EVP_MD_CTX_new();

    if (g->gz == NULL || g->text == NULL
        || !EVP_DigestInit_ex(g->text, EVP_sha256(), NULL))
    {
        tool_error("%s: %s", g->tmp, strerror(errno));
        return TOOL_FAILED;
    }

    return TOOL_OK;
}

static int
publish_gz_write(publish_gz_t *g, const char *s)
{
    size_t  n = strlen(s);

    EVP_DigestUpdate(g->text, s, n);
    return gzwrite(g->gz, s, (unsigned) n) == (int) n ? 0 : -1;
}

static int
publish_sync_path(const char *path)
{
    int  fd, rc;

    fd = open(path, O_RDONLY);
    if (fd < 0) {
        return -1;
    }

    rc = fsync(fd);
    close(fd);
    return rc;
}

/*
 * Closes g; its text's signature into NAME.sig (with base for a delta),
 * the file into f (name, size, hash); both renamed into place.
 */
static int
publish_gz_close(publish_gz_t *g, const char *dir, const char *key,
    const char *source, int full, uint64_t seq, uint64_t base,
    const char *name, feed_file_t *f)
{
    int            fd;
    char           sig[SIG_TEXT_MAX], err[512], sigpath[4096], sigtmp[4200];
    size_t         n, stem;
    unsigned char  sha[32];

    EVP_DigestFinal_ex(g->text, sha, NULL);
    EVP_MD_CTX_free(g->text);
    g->text = NULL;

    if (gzclose(g->gz) != Z_OK) {
        g->gz = NULL;
        tool_error("%s: write failed", g->tmp);
        return TOOL_FAILED;
    }
    g->gz = NULL;

    if (sig_sign_text(key, source, full ? "full" : "delta", seq, base, sha,
                      sig, sizeof(sig), err, sizeof(err)) != 0)
    {
        tool_error("%s", err);
        return TOOL_FAILED;
    }

    /* full-7.csv.gz: full-7.csv.sig */
    stem = strlen(name) - 3;
    snprintf(sigpath, sizeof(sigpath), "%s/%.*s.sig", dir, (int) stem, name);
    snprintf(sigtmp, sizeof(sigtmp), "%s.tmp", sigpath);

    fd = open(sigtmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    n = strlen(sig);

    if (fd < 0 || write(fd, sig, n) != (ssize_t) n || fsync(fd) != 0
        || close(fd) != 0)
    {
        tool_error("%s: %s", sigtmp, strerror(errno));
        return TOOL_FAILED;
    }

    memset(f, 0, sizeof(*f));
    f->full = full;
    f->seq = seq;
    f->base = base;
    snprintf(f->name, sizeof(f->name), "%s", name);

    if (publish_sync_path(g->tmp) != 0
        || feed_hash_file(g->tmp, f->sha256, &f->size) != 0
        || rename(sigtmp, sigpath) != 0 || rename(g->tmp, g->path) != 0)
    {
        tool_error("%s: %s", g->path, strerror(errno));
        return TOOL_FAILED;
    }

    return TOOL_OK;
}

/* removes a feed file and its signature */
static void
publish_unlink(const char *dir, const char *name)
{
    char  path[4096];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
    snprintf(path, sizeof(path), "%s/%.*s.sig", dir,
             (int) strlen(name) - 3, name);
    unlink(path);
}

int
cmd_publish(int argc, char **argv)
{
    int              c, rc, have_prev, fd;
    DIR             *dp;
    struct dirent   *de;
    char            *end, name[FEED_NAME_MAX + 1], line[600];
    char             path[4096], tmp[4096], err[512];
    char             sig[SIG_TEXT_MAX];
    char            *text;
    long             len;
    size_t           i, j, adds, removes, keep;
    uint64_t         seq;
    FILE            *f;
    list_fmt_t       fmt;
    const char      *dir, *source, *key, *list;
    publish_gz_t     g;
    publish_rows_t   rows, prev;
    feed_index_t    *old, *ix;
    unsigned char    sha[32];
    unsigned int     shalen;

    static const struct option  opts[] = {
        { "source", required_argument, NULL, 's' },
        { "key", required_argument, NULL, 'k' },
        { "seq", required_argument, NULL, 'n' },
        { "keep", required_argument, NULL, 'K' },
        { "format", required_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    source = NULL;
    key = NULL;
    seq = 0;
    keep = 30;
    fmt = LIST_FMT_AUTO;
    optind = 1;

    while ((c = getopt_long(argc, argv, ":s:k:n:K:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            source = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'n':
            seq = strtoull(optarg, &end, 10);
            if (*end || end == optarg || seq == 0 || seq == UINT64_MAX) {
                tool_error("--seq: not a positive number: %s", optarg);
                return TOOL_FAILED;
            }
            break;
        case 'K':
            keep = (size_t) strtoul(optarg, &end, 10);
            if (*end || end == optarg || keep >= FEED_MAX_FILES - 2) {
                tool_error("--keep: a number from 0 to %d: %s",
                           FEED_MAX_FILES - 3, optarg);
                return TOOL_FAILED;
            }
            break;
        case 'f':
            if (list_format_from_name(optarg, &fmt) != 0
                || fmt == LIST_FMT_VPDQ)
            {
                tool_error("--format %s: use auto, hex, csv, typed, clamav "
                           "or pdq", optarg);
                return TOOL_FAILED;
            }
            break;
        case 'h':
            fputs(publish_usage, stdout);
            return TOOL_OK;
        default:
            return tool_bad_option(c, argv, publish_usage);
        }
    }

    if (argc - optind != 2) {
        return tool_usage(publish_usage, "%s", argc - optind < 2
                          ? "FEEDDIR and LIST are needed"
                          : "one FEEDDIR and one LIST: more given");
    }

    if (source == NULL || key == NULL) {
        return tool_usage(publish_usage, "%s", source == NULL
                          ? "--source NAME is missing"
                          : "--key SECRET.pem is missing");
    }

    if (!hdb_valid_name(source)) {
        tool_error("--source %s: %s", source, hdb_strerror(HDB_ENAME));
        return TOOL_FAILED;
    }

    dir = argv[optind];
    list = argv[optind + 1];

    old = calloc(1, sizeof(feed_index_t));
    ix = calloc(1, sizeof(feed_index_t));
    text = malloc(FEED_INDEX_MAX);
    memset(&rows, 0, sizeof(rows));
    memset(&prev, 0, sizeof(prev));
    memset(&g, 0, sizeof(g));
    rc = TOOL_FAILED;

    if (old == NULL || ix == NULL || text == NULL) {
        tool_error("out of memory");
        goto done;
    }

    /* the feed as it is: its own index, checked as a node would */
    have_prev = 0;
    snprintf(path, sizeof(path), "%s/%s", dir, FEED_INDEX);
    f = fopen(path, "rb");

    if (f) {
        len = (long) fread(text, 1, FEED_INDEX_MAX, f);
        fclose(f);

        if (feed_index_parse(text, (size_t) len, old, err, sizeof(err)) != 0)
        {
            tool_error("%s: %s; nothing published", dir, err);
            goto done;
        }

        if (strcmp(old->source, source) != 0) {
            tool_error("%s: a feed of source \"%s\", not \"%s\"; nothing "
                       "published", dir, old->source, source);
            goto done;
        }

        have_prev = feed_index_full(old, old->latest) != NULL;

    } else if (errno != ENOENT) {
        tool_error("%s: %s", path, strerror(errno));
        goto done;
    }

    if (seq == 0) {
        seq = old->latest + 1;
    }

    if (seq <= old->latest) {
        tool_error("--seq %llu: the feed is at %llu already; nothing "
                   "published", (unsigned long long) seq,
                   (unsigned long long) old->latest);
        goto done;
    }

    if (publish_read_list(list, fmt, &rows) != TOOL_OK) {
        goto done;
    }

    strcpy(ix->source, source);
    ix->latest = seq;

    /* the full list */
    snprintf(name, sizeof(name), "full-%llu.csv.gz",
             (unsigned long long) seq);

    if (publish_gz_open(&g, dir, name) != TOOL_OK
        || publish_gz_write(&g, FEED_FULL_HEADER) != 0)
    {
        goto done;
    }

    for (i = 0; i < rows.n; i++) {
        snprintf(line, sizeof(line), "%s\n", rows.lines[i]);
        if (publish_gz_write(&g, line) != 0) {
            tool_error("%s: write failed", g.tmp);
            goto done;
        }
    }

    if (publish_gz_close(&g, dir, key, source, 1, seq, SIG_NO_BASE, name,
                         &ix->files[ix->nfiles++]) != TOOL_OK)
    {
        goto done;
    }

    /* the delta from the previous full list: removals, then additions */
    adds = removes = 0;

    if (have_prev) {
        const feed_file_t  *pf = feed_index_full(old, old->latest);

        snprintf(path, sizeof(path), "%s/%s", dir, pf->name);
        if (publish_read_full(path, &prev) != TOOL_OK) {
            goto done;
        }

        snprintf(name, sizeof(name), "delta-%llu.csv.gz",
                 (unsigned long long) seq);

        if (publish_gz_open(&g, dir, name) != TOOL_OK
            || publish_gz_write(&g, FEED_DELTA_HEADER) != 0)
        {
            goto done;
        }

        for (int pass = 0; pass < 2; pass++) {
            i = j = 0;

            while (i < prev.n || j < rows.n) {
                c = i == prev.n ? 1 : j == rows.n ? -1
                    : strcmp(prev.lines[i], rows.lines[j]);

                line[0] = '\0';
                if (c < 0) {
                    if (pass == 0) {
                        snprintf(line, sizeof(line), "remove,%s\n",
                                 prev.lines[i]);
                        removes++;
                    }
                    i++;
                } else if (c > 0) {
                    if (pass == 1) {
                        snprintf(line, sizeof(line), "add,%s\n",
                                 rows.lines[j]);
                        adds++;
                    }
                    j++;
                } else {
                    i++;
                    j++;
                }

                if (line[0] && publish_gz_write(&g, line) != 0) {
                    tool_error("%s: write failed", g.tmp);
                    goto done;
                }
            }
        }

        if (publish_gz_close(&g, dir, key, source, 0, seq, old->latest,
                             name, &ix->files[ix->nfiles++]) != TOOL_OK)
        {
            goto done;
        }
    }

    /* the deltas kept: the newest first */
    for (i = 0; i < old->nfiles && ix->nfiles < keep + 1; i++) {
        if (!old->files[i].full) {
            ix->files[ix->nfiles++] = old->files[i];
        }
    }

    if (keep == 0 && have_prev) {
        ix->nfiles = 1;
    }

    /* the index: its lines, signed, renamed into place last */
    len = feed_index_format(ix, text, FEED_INDEX_MAX - SIG_TEXT_MAX);

    if (len < 0
        || !EVP_Digest(text, (size_t) len, sha, &shalen, EVP_sha256(), NULL)
        || sig_sign_text(key, source, "index", seq, SIG_NO_BASE, sha, sig,
                         sizeof(sig), err, sizeof(err)) != 0)
    {
        tool_error("%s", len < 0 ? "the index is too large" : err);
        goto done;
    }

    snprintf(path, sizeof(path), "%s/%s", dir, FEED_INDEX);
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, FEED_INDEX);

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, (size_t) len) != len
        || write(fd, sig, strlen(sig)) != (ssize_t) strlen(sig)
        || fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0
        || publish_sync_path(dir) != 0)
    {
        tool_error("%s: %s", path, strerror(errno));
        goto done;
    }

    /*
     * What the new index no longer names goes; the previous full list
     * stays one round, for nodes that read the index before this one.
     */
    dp = opendir(dir);
    while (dp && (de = readdir(dp)) != NULL) {
        uint64_t  n;
        int       named;

        if (sscanf(de->d_name, "full-%" SCNu64, &n) == 1) {
            named = n == seq || (have_prev && n == old->latest);
        } else if (sscanf(de->d_name, "delta-%" SCNu64, &n) == 1) {
            named = 0;
            for (j = 0; j < ix->nfiles && !named; j++) {
                named = !ix->files[j].full && ix->files[j].seq == n;
            }
        } else {
            continue;
        }

        len = (long) strlen(de->d_name);
        if (!named && len > 7
            && strcmp(de->d_name + len - 7, ".csv.gz") == 0)
        {
            publish_unlink(dir, de->d_name);
        }
    }
    if (dp) {
        closedir(dp);
    }

    printf("%s: published sequence %llu: %zu rows", source,
           (unsigned long long) seq, rows.n);
    if (have_prev) {
        printf(", delta from %llu: %zu added, %zu removed",
               (unsigned long long) old->latest, adds, removes);
    }
    printf(", %zu deltas kept\n", ix->nfiles - 1);

    rc = TOOL_OK;

done:

    if (g.gz) {
        gzclose(g.gz);
        unlink(g.tmp);
    }
    EVP_MD_CTX_free(g.text);
    publish_free(&rows);
    publish_free(&prev);
    free(text);
    free(old);
    free(ix);
    return rc;
}
