/*
 * hashdb scan: stored files against the hash set, after the fact.
 * Walks files and directories (fts: no symlink followed and no file
 * system crossed unless asked, special files skipped) or reads a list
 * of paths, and hands each regular file to one of N worker threads
 * (each with its own LMDB reader, digest state and buffer) that hashes
 * it, decodes it if it is an image (the media layer, as the module) and
 * looks everything up (scan_file.c); what is listed is reported
 * (scan_report.c), errors go to stderr, a summary ends the run.  Exit
 * status as grep's and clamscan's: 0 nothing listed, 1 something listed,
 * 2 errors and nothing listed.
 */

#include <errno.h>
#include <fts.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "scan.h"
#include "tool.h"

static const char  scan_usage[] =
    "usage: hashdb scan DB [--json] [-j N] [--follow] [--cross-devices]\n"
    "                   [--distance N] [--max-image SIZE] [--max-video SIZE]\n"
    "                   [--sampling exact|fast|keyframes] [--cache FILE]\n"
    "                   [--prune] [--shard I/N] [--rate MB/S] [--progress]\n"
    "                   (PATH... | --files-from FILE [--null])\n"
    "\n"
    "Hashes every regular file below the PATHs (or named in FILE, \"-\":\n"
    "standard input, one per line or NUL-separated with --null) with the\n"
    "digests the hash set can match, and every image (JPEG, PNG, GIF,\n"
    "WebP, HEIC, AVIF, BMP, TIFF; told by its content) by PDQ, frame by\n"
    "frame, and every video (MP4, MOV, WebM, MKV, AVI, MPEG-TS) by vPDQ\n"
    "(one frame a second, --sampling as hashdb hash, default exact, matched\n"
    "by the reference's rule), and prints each file that is listed:\n"
    "    PATH: TYPE:HEX source=S category=C listed=DATE\n"
    "(--json: one JSON object per line).  Symbolic links are not followed\n"
    "unless --follow, other file systems not entered unless\n"
    "--cross-devices; special files are skipped; a file with several hard\n"
    "links is read once and reported with every path.  Files are never\n"
    "written.  -j N: N threads (default: the cores).  --distance: PDQ\n"
    "(default 31); --max-image: largest image decoded (default 64m);\n"
    "--max-video: largest video (default 512m).\n"
    "--cache FILE keeps each file's hashes (by device, inode, size, mtime,\n"
    "ctime): a file unchanged since is not read again, its hashes are\n"
    "looked up in the set as it is now; --prune then drops the records\n"
    "of files not walked this time.  --shard I/N scans the I-th of N\n"
    "parts of the files (by inode), so that N scans share a store.  --rate\n"
    "caps the bytes read per second; --progress (on a terminal: the\n"
    "default) shows files and bytes as it goes.\n"
    "A summary goes to standard error.  Exit status: 0 nothing listed,\n"
    "1 something listed, 2 errors (and nothing listed).\n";

#define SCAN_QUEUE  1024

typedef struct {
    char         *path;
    struct stat   st;
} scan_item_t;

typedef struct {
    scan_opts_t       opts;
    hdb_t            *db;
    scan_cache_t     *cache;
    unsigned          shard, nshards;   /* 0 .. nshards-1 */
    int               progress;
    double            start, shown;     /* the scan's start, the last line */
    uint64_t          total;            /* files to scan, where known */
    unsigned          running;          /* workers not yet ended */

    pthread_mutex_t   lock;
    pthread_cond_t    more;         /* an item in the queue, or the end */
    pthread_cond_t    room;
    scan_item_t       queue[SCAN_QUEUE];
    size_t            head, count;
    int               ended;

    scan_report_t    *report;       /* under lock */
    uint64_t          files, bytes, listed, errors, skipped, cached;
} scan_t;

static void
scan_push(scan_t *s, const char *path, const struct stat *st)
{
    char  *copy;

    copy = strdup(path);
    if (copy == NULL) {
        tool_error("%s: out of memory", path);
        s->errors++;
        return;
    }

    pthread_mutex_lock(&s->lock);

    while (s->count == SCAN_QUEUE) {
        pthread_cond_wait(&s->room, &s->lock);
    }

    s->queue[(s->head + s->count) % SCAN_QUEUE].path = copy;
    s->queue[(s->head + s->count) % SCAN_QUEUE].st = *st;
    s->count++;

    pthread_cond_signal(&s->more);
    pthread_mutex_unlock(&s->lock);
}

static void *
scan_worker(void *data)
{
    int            rc;
    scan_t        *s = data;
    scan_item_t    it;
    scan_worker_t  w;
    scan_result_t  r;

    memset(&w, 0, sizeof(w));
    w.bufsize = 1 << 20;
    w.buf = malloc(w.bufsize);
    w.digest = hdb_digest_new(s->opts.types & HDB_DIGEST_TYPES);
    rc = hdb_reader_new(s->db, &w.rd);

    if (rc == 0 && s->cache) {
        rc = scan_cache_reader(s->cache, &w.cache);
    }

    if (w.buf == NULL || w.digest == NULL || rc != 0) {
        tool_error("a scan thread cannot start: %s",
                   rc ? hdb_strerror(rc) : "out of memory");
        pthread_mutex_lock(&s->lock);
        s->errors++;
        pthread_mutex_unlock(&s->lock);
        free(w.buf);
        hdb_digest_free(w.digest);
        pthread_mutex_lock(&s->lock);
        s->running--;
        pthread_mutex_unlock(&s->lock);
        return NULL;
    }

    for ( ;; ) {
        pthread_mutex_lock(&s->lock);

        while (s->count == 0 && !s->ended) {
            pthread_cond_wait(&s->more, &s->lock);
        }

        if (s->count == 0) {
            pthread_mutex_unlock(&s->lock);
            break;
        }

        it = s->queue[s->head];
        s->head = (s->head + 1) % SCAN_QUEUE;
        s->count--;
        pthread_cond_signal(&s->room);
        pthread_mutex_unlock(&s->lock);

        scan_file(&w, &s->opts, it.path, &it.st, &r);

        if (s->cache && r.store && r.error == 0
            && (rc = scan_cache_put(s->cache, &r.st, &r.hashes)) != 0)
        {
            tool_error("--cache: %s", scan_cache_strerror(rc));
        }

        pthread_mutex_lock(&s->lock);

        if (r.error) {
            tool_error("%s: %s", it.path, r.why ? r.why : strerror(r.error));
            s->errors++;

        } else {
            s->files++;
            s->bytes += (uint64_t) r.st.st_size;

            if (r.media_error[0]) {
                /* the digests were looked up; only the PDQ is missing */
                tool_error("%s: no PDQ hash (%s): %s", it.path, r.format,
                           r.media_error);
                s->errors++;
            }

            if (r.nhits) {
                s->listed++;
            }

            s->cached += r.cached;

            scan_report_add(s->report, &r);
        }

        pthread_mutex_unlock(&s->lock);
        free(it.path);
    }

    scan_cache_reader_free(w.cache);
    hdb_reader_free(w.rd);
    hdb_digest_free(w.digest);
    free(w.buf);
    free(w.video.frames);

    pthread_mutex_lock(&s->lock);
    s->running--;
    pthread_mutex_unlock(&s->lock);

    return NULL;
}

/*
 * Which shard a file is in: by its inode number, whatever the walk order
 * or the path (every hard link of a file falls in the same shard, which
 * reports it once with all its paths), and the same on every NFS client
 * of one store (device numbers differ between clients, inodes do not).
 */
static unsigned
scan_shard_of(const struct stat *st, unsigned n)
{
    uint64_t  h = (uint64_t) st->st_ino;

    /* a 64-bit mix (splitmix64's finaliser): neighbours spread out */
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    h ^= h >> 31;

    return (unsigned) (h % n);
}

static void
scan_show(scan_t *s, int last)
{
    double           now;
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = ts.tv_sec + ts.tv_nsec / 1e9;

    if (!last && now - s->shown < 0.5) {
        return;
    }

    s->shown = now;

    pthread_mutex_lock(&s->lock);

    fprintf(stderr, "\r%llu files, %.1f MB (%.1f MB/s), %llu listed, "
            "%llu errors", (unsigned long long) s->files, s->bytes / 1e6,
            s->bytes / 1e6 / (now - s->start + 1e-9),
            (unsigned long long) s->listed, (unsigned long long) s->errors);

    if (s->total && s->files && !last) {
        /* the time per file so far, for the files left */
        fprintf(stderr, ", %.0f %%, ETA %.0f s",
                100.0 * s->files / s->total,
                (now - s->start) * (double) (s->total - s->files)
                / (double) s->files);
    }

    fputs(last ? "\n" : "   ", stderr);
    pthread_mutex_unlock(&s->lock);
}

/* a path as walked: queued, counted as skipped, or an error */
static void
scan_entry(scan_t *s, const char *path, const struct stat *st)
{
    int  seen;

    if (!S_ISREG(st->st_mode)) {
        s->skipped++;
        return;
    }

    if (s->nshards > 1 && scan_shard_of(st, s->nshards) != s->shard) {
        return;
    }

    if (s->cache && scan_cache_seen(s->cache, st) != 0) {
        tool_error("--prune: out of memory");
        s->errors++;
    }

    if (s->progress) {
        scan_show(s, 0);
    }

    if (st->st_nlink > 1) {
        pthread_mutex_lock(&s->lock);
        seen = scan_report_link(s->report, path, st);
        pthread_mutex_unlock(&s->lock);

        if (seen != 0) {
            /* another path of an inode already hashed, or ENOMEM */
            s->errors += seen < 0;
            return;
        }
    }

    scan_push(s, path, st);
}

static void
scan_walk(scan_t *s, char **paths)
{
    int      flags;
    FTS     *fts;
    FTSENT  *e;

    flags = FTS_NOCHDIR | (s->opts.follow ? FTS_LOGICAL : FTS_PHYSICAL)
            | (s->opts.one_fs ? FTS_XDEV : 0);

    fts = fts_open(paths, flags, NULL);
    if (fts == NULL) {
        tool_error("%s", strerror(errno));
        s->errors++;
        return;
    }

    for ( ;; ) {
        errno = 0;
        e = fts_read(fts);
        if (e == NULL) {
            break;
        }

        switch (e->fts_info) {

        case FTS_F:
            scan_entry(s, e->fts_path, e->fts_statp);
            break;

        case FTS_D:
        case FTS_DP:
        case FTS_DOT:
            break;

        case FTS_DNR:
        case FTS_ERR:
        case FTS_NS:
            tool_error("%s: %s", e->fts_path, strerror(e->fts_errno));
            s->errors++;
            break;

        case FTS_DC:
            tool_error("%s: a directory cycle, not walked again",
                       e->fts_path);
            s->skipped++;
            break;

        default:
            /* FTS_SL, FTS_SLNONE (links not followed), special files */
            s->skipped++;
        }
    }

    if (errno) {
        tool_error("walking: %s", strerror(errno));
        s->errors++;
    }

    fts_close(fts);
}

/* the paths a list names, for the progress line's ETA */
static uint64_t
scan_list_count(const char *file, int sep)
{
    int        c, last;
    FILE      *in;
    uint64_t   n;

    in = fopen(file, "r");
    if (in == NULL) {
        return 0;
    }

    n = 0;
    last = sep;

    while ((c = getc(in)) != EOF) {
        n += (c == sep && last != sep);
        last = c;
    }

    n += (last != sep);
    fclose(in);

    return n;
}

static void
scan_list(scan_t *s, const char *file, int sep)
{
    FILE         *in;
    char         *line;
    size_t        cap;
    ssize_t       n;
    struct stat   st;

    in = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
    if (in == NULL) {
        tool_error("%s: %s", file, strerror(errno));
        s->errors++;
        return;
    }

    line = NULL;
    cap = 0;

    while ((n = getdelim(&line, &cap, sep, in)) > 0) {
        if (line[n - 1] == sep) {
            line[--n] = '\0';
        }

        if (n == 0) {
            continue;
        }

        if ((s->opts.follow ? stat(line, &st) : lstat(line, &st)) == -1) {
            tool_error("%s: %s", line, strerror(errno));
            s->errors++;
            continue;
        }

        scan_entry(s, line, &st);
    }

    free(line);

    if (in != stdin) {
        fclose(in);
    }
}

int
cmd_scan(int argc, char **argv)
{
    int               c, rc, sep;
    long              ncpu;
    char             *end;
    scan_t            s;
    unsigned          jobs, plan;
    pthread_t        *threads;
    const char       *from, *cache;
    double            rate;
    char              tail;
    int               prune;
    uint64_t          pruned, size;
    hdb_reader_t     *rd;
    unsigned long     v;
    struct timespec   t0, t1, nap = { 0, 200 * 1000 * 1000 };

    static const struct option  opts[] = {
        { "json", no_argument, NULL, 'J' },
        { "jobs", required_argument, NULL, 'j' },
        { "follow", no_argument, NULL, 'L' },
        { "cross-devices", no_argument, NULL, 'X' },
        { "distance", required_argument, NULL, 'D' },
        { "max-image", required_argument, NULL, 'M' },
        { "max-video", required_argument, NULL, 'V' },
        { "sampling", required_argument, NULL, 's' },
        { "files-from", required_argument, NULL, 'T' },
        { "null", no_argument, NULL, '0' },
        { "cache", required_argument, NULL, 'C' },
        { "prune", no_argument, NULL, 'p' },
        { "shard", required_argument, NULL, 'S' },
        { "rate", required_argument, NULL, 'R' },
        { "progress", no_argument, NULL, 'P' },
        { "no-progress", no_argument, NULL, 'Q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    memset(&s, 0, sizeof(s));
    s.opts.distance = HDB_PDQ_DISTANCE_DEFAULT;
    s.opts.min_quality = HDB_PDQ_QUALITY_DEFAULT;
    s.opts.max_image = 64u << 20;
    s.opts.max_video = 512u << 20;
    s.opts.one_fs = 1;
    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    jobs = ncpu > 0 ? (unsigned) ncpu : 1;
    from = NULL;
    cache = NULL;
    rate = 0;
    prune = 0;
    s.progress = isatty(STDERR_FILENO);
    sep = '\n';
    optind = 1;

    while ((c = getopt_long(argc, argv, ":j:0h", opts, NULL)) != -1) {
        switch (c) {
        case 'J':
            s.opts.json = 1;
            break;
        case 'j':
            v = strtoul(optarg, &end, 10);
            if (*end || end == optarg || v == 0 || v > 256) {
                tool_error("-j: not a number from 1 to 256: %s", optarg);
                return TOOL_FAILED;
            }
            jobs = (unsigned) v;
            break;
        case 'L':
            s.opts.follow = 1;
            break;
        case 'X':
            s.opts.one_fs = 0;
            break;
        case 'D':
            if (tool_parse_distance(optarg, &s.opts.distance) != TOOL_OK) {
                return TOOL_FAILED;
            }
            break;
        case 'M':
        case 'V':
            if (tool_parse_size(optarg, &size) != TOOL_OK
                || size > SIZE_MAX)
            {
                tool_error("--max-%s: not a size: %s",
                           c == 'M' ? "image" : "video", optarg);
                return TOOL_FAILED;
            }
            *(c == 'M' ? &s.opts.max_image : &s.opts.max_video) =
                (size_t) size;
            break;
        case 's':
            if (tool_parse_sampling(optarg, &s.opts.sampling) != TOOL_OK) {
                return TOOL_FAILED;
            }
            break;
        case 'T':
            from = optarg;
            break;
        case 'C':
            cache = optarg;
            break;
        case 'p':
            prune = 1;
            break;
        case 'S':
            if (sscanf(optarg, "%u/%u%c", &s.shard, &s.nshards, &tail) != 2
                || s.nshards == 0 || s.shard == 0 || s.shard > s.nshards)
            {
                tool_error("--shard: I/N with 1 <= I <= N: %s", optarg);
                return TOOL_FAILED;
            }
            s.shard--;
            break;
        case 'R':
            rate = strtod(optarg, &end);
            if (*end || end == optarg || rate <= 0) {
                tool_error("--rate: MB per second, more than 0: %s", optarg);
                return TOOL_FAILED;
            }
            break;
        case 'P':
            s.progress = 1;
            break;
        case 'Q':
            s.progress = 0;
            break;
        case '0':
            sep = '\0';
            break;
        case 'h':
            fputs(scan_usage, stdout);
            return TOOL_OK;
        default:
            return tool_bad_option(c, argv, scan_usage);
        }
    }

    if (optind == argc) {
        return tool_usage(scan_usage, "no DB given");
    }

    if (from == NULL && optind + 1 == argc) {
        return tool_usage(scan_usage, "no PATH given (or --files-from)");
    }

    if (from != NULL && optind + 1 != argc) {
        return tool_usage(scan_usage, "PATHs and --files-from exclude "
                          "each other");
    }

    if (tool_open(&s.db, argv[optind], HDB_OPEN_RDONLY) != TOOL_OK) {
        return TOOL_FAILED;
    }

    rc = hdb_reader_new(s.db, &rd);
    if (rc == 0) {
        rc = hdb_reader_begin(rd);
        if (rc == 0) {
            rc = hdb_reader_plan(rd, &plan);
            hdb_reader_end(rd);
        }
        hdb_reader_free(rd);
    }

    if (rc != 0) {
        tool_error("%s: %s", argv[optind], hdb_strerror(rc));
        hdb_close(s.db);
        return TOOL_FAILED;
    }

    /* with the PDQ bit: images are decoded */
    s.opts.types = plan;

    if (cache && (rc = scan_cache_open(&s.cache, cache)) != 0) {
        tool_error("%s: %s", cache, scan_cache_strerror(rc));
        hdb_close(s.db);
        return TOOL_FAILED;
    }

    if (prune && s.cache == NULL) {
        tool_error("--prune goes with --cache");
        hdb_close(s.db);
        return TOOL_FAILED;
    }

    if (prune) {
        scan_cache_pruning(s.cache);
    }

    if (rate > 0 && (s.opts.rate = scan_rate_new(rate * 1e6)) == NULL) {
        tool_error("out of memory");
        scan_cache_close(s.cache);
        hdb_close(s.db);
        return TOOL_FAILED;
    }

    s.report = scan_report_new(stdout, &s.opts);
    threads = calloc(jobs, sizeof(pthread_t));

    if (s.report == NULL || threads == NULL) {
        tool_error("out of memory");
        free(threads);
        scan_report_free(s.report);
        hdb_close(s.db);
        return TOOL_FAILED;
    }

    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.more, NULL);
    pthread_cond_init(&s.room, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    s.start = t0.tv_sec + t0.tv_nsec / 1e9;

    if (s.progress && from && strcmp(from, "-") != 0) {
        s.total = scan_list_count(from, sep);
    }

    for (unsigned i = 0; i < jobs; i++) {
        pthread_mutex_lock(&s.lock);
        s.running++;
        pthread_mutex_unlock(&s.lock);

        if (pthread_create(&threads[i], NULL, scan_worker, &s) != 0) {
            pthread_mutex_lock(&s.lock);
            s.running--;
            pthread_mutex_unlock(&s.lock);
            tool_error("cannot start thread %u", i);
            jobs = i;
            s.errors++;
            break;
        }
    }

    if (jobs > 0) {
        if (from) {
            scan_list(&s, from, sep);

        } else {
            scan_walk(&s, argv + optind + 1);
        }
    }

    pthread_mutex_lock(&s.lock);
    s.ended = 1;
    pthread_cond_broadcast(&s.more);
    pthread_mutex_unlock(&s.lock);

    /* the queue drains: the progress line goes on meanwhile */
    while (s.progress) {
        pthread_mutex_lock(&s.lock);
        c = s.running > 0;
        pthread_mutex_unlock(&s.lock);

        if (!c) {
            break;
        }

        nanosleep(&nap, NULL);
        scan_show(&s, 0);
    }

    for (unsigned i = 0; i < jobs; i++) {
        pthread_join(threads[i], NULL);
    }

    /* items left in the queue when no thread ran */
    for ( ; s.count; s.count--, s.head = (s.head + 1) % SCAN_QUEUE) {
        free(s.queue[s.head].path);
    }

    if (s.cache && (rc = scan_cache_flush(s.cache)) != 0) {
        tool_error("%s: %s", cache, scan_cache_strerror(rc));
        s.errors++;
    }

    /* only a whole walk knows which files are gone */
    if (prune && s.errors == 0 && s.nshards <= 1) {
        rc = scan_cache_prune(s.cache, &pruned);
        if (rc != 0) {
            tool_error("%s: %s", cache, scan_cache_strerror(rc));
            s.errors++;

        } else {
            fprintf(stderr, "hashdb scan: %llu records of files gone "
                    "dropped from the cache\n", (unsigned long long) pruned);
        }
    }

    if (s.progress) {
        scan_show(&s, 1);
    }

    if (scan_report_finish(s.report) != 0) {
        tool_error("writing the report: %s", strerror(errno));
        s.errors++;
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);

    fprintf(stderr, "hashdb scan: %llu files, %llu bytes, %llu listed, "
            "%llu errors, %llu skipped, %llu from the cache, %.1f s\n",
            (unsigned long long) s.files, (unsigned long long) s.bytes,
            (unsigned long long) s.listed, (unsigned long long) s.errors,
            (unsigned long long) s.skipped, (unsigned long long) s.cached,
            (double) (t1.tv_sec - t0.tv_sec)
            + (t1.tv_nsec - t0.tv_nsec) / 1e9);

    free(threads);
    scan_report_free(s.report);
    scan_cache_close(s.cache);
    scan_rate_free(s.opts.rate);
    pthread_mutex_destroy(&s.lock);
    pthread_cond_destroy(&s.more);
    pthread_cond_destroy(&s.room);
    hdb_close(s.db);

    return s.listed ? TOOL_LISTED : s.errors ? TOOL_FAILED : TOOL_OK;
}
