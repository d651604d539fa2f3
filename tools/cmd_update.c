/*
 * hashdb import, sync, apply: bring a list into the hash set.
 *
 * Two passes over the input.  The first checks every line (and the
 * signature), so that a bad list is refused before anything is written.
 * The second applies the list in one LMDB write transaction: readers see
 * the old set or the new one, never a mix, and a crash or kill -9 at any
 * moment leaves the old set.  A transaction that fills the LMDB map is
 * retried with the map doubled.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <openssl/evp.h>

#include <dirent.h>
#include <sys/stat.h>

#include "list_format.h"
#include "list_vpdq.h"
#include "signature.h"
#include "tool.h"
#include "update.h"

typedef struct {
    const char  *cmd;           /* import, sync, apply */
    int          mode;          /* HDB_WRITE_ADD or HDB_WRITE_REPLACE */
    int          delta;         /* removals allowed */
    const char  *kind;          /* of the signature: full or delta */
    const char  *usage;
} update_cmd_t;

static const char  update_usage_tail[] =
    "  --source NAME    the list: 1-64 letters, digits, '.', '_', '-'\n"
    "  --category C     a label stored with each entry (up to 8 chars)\n"
    "  --format F       auto (default), hex, csv, typed, clamav, pdq or vpdq\n"
    "  --video-id ID    a one-video vpdq list's id (default: its file name\n"
    "                   without the extension)\n"
    "  --sig FILE       the list's signature (default: LIST.sig)\n"
    "  --unsigned       apply a list that has no signature\n"
    "  --pdq-min-quality Q\n"
    "                   skip PDQ hashes whose quality is given and below Q\n"
    "                   (default 50: such hashes match too much)\n"
    "  --allow-shrink   sync: accept a list that is empty or under half of\n"
    "                   what the source holds (refused otherwise)\n"
    "  --pdq-distance N the source's own PDQ distance limit, stricter than\n"
    "                   the module's (0 clears it)\n"
    "  --shadow         stage what the list adds: logged as action=shadow,\n"
    "                   not blocked, until \"hashdb promote\"; what it\n"
    "                   removes goes at once (import, sync, apply)\n"
    "\n"
    "Formats: hex (one file per line, one or more hex digests), csv (a\n"
    "header naming type and hash, or md5/sha1/sha256 columns, and\n"
    "optionally category, added, id, op), typed (\"<type> <hash>\"),\n"
    "clamav (\"hash:size:name\", .hdb/.hsb), pdq (\"hash[,quality[,name]]\"\n"
    "as pdq-photo-hasher writes; typed and csv lists may hold pdq too: a\n"
    "64-digit hash is a SHA-256 unless its type says pdq), vpdq (videos:\n"
    "the reference's frame,quality,hash,seconds lines for one video, a\n"
    "csv with a header naming video and hash columns for many, or a\n"
    "directory of one-video files, unsigned).  A signed list\n"
    "must verify against a key trusted for the source (hashdb trust) and\n"
    "carry a sequence number above the last one applied.  A bad line or\n"
    "signature refuses the whole list; nothing is applied.\n";

static const update_cmd_t  update_cmds[] = {
    { "import", HDB_WRITE_ADD, 0, "delta",
      "usage: hashdb import DB --source NAME [OPTIONS] LIST|-\n"
      "\nAdds the digests in LIST to the source NAME.\n\n" },
    { "sync", HDB_WRITE_REPLACE, 0, "full",
      "usage: hashdb sync DB --source NAME [OPTIONS] LIST|-\n"
      "\nMakes the source NAME hold exactly the digests in LIST: entries\n"
      "gone from the list are removed; other sources are not touched.\n\n" },
    { "apply", HDB_WRITE_ADD, 1, "delta",
      "usage: hashdb apply DB --source NAME [OPTIONS] DELTA|-\n"
      "\nApplies a delta to the source NAME: lines starting with '-' (or a\n"
      "csv op of remove) remove, others add.\n\n" },
};

typedef struct {
    const update_cmd_t  *cmd;
    const char          *db_path;
    const char          *source;
    const char          *category;
    const char          *sig_path;
    const char          *file;
    list_fmt_t           fmt;
    int                  unsigned_ok;
    FILE                *in;
    uint64_t             lines;
    uint64_t             rows;
    unsigned char        sha256[32];
    sig_file_t           sig;
    int                  signed_list;
    int                  progress;
    int                  pdq_min_quality;
    long                 pdq_distance;      /* -1: leave as it is */
    uint64_t             low_quality;       /* PDQ hashes skipped */
    const char          *video_id;          /* --video-id */
    char                 video_name[HDB_VIDEO_NAME_MAX + 1];
    uint64_t             flat_videos;       /* no frame of quality */
    int                  allow_shrink;
    int                  shadow;            /* --shadow */
    double               pass_start;        /* progress: this pass's */
    double               last_progress;
} update_t;

/* the parser of the list's format: hash lists or vPDQ's videos */
typedef struct {
    list_parser_t   list;
    vpdq_parser_t   vpdq;
    int             started;        /* a line was read */
} update_parser_t;

static int update_write(update_t *u, hdb_writer_t *w);

static void
update_parser_init(update_t *u, update_parser_t *p)
{
    p->started = 0;
    list_parser_init(&p->list, u->fmt, u->cmd->delta, u->category);
    vpdq_parser_init(&p->vpdq, u->cmd->delta, u->pdq_min_quality,
                     u->category, u->video_name[0] ? u->video_name : NULL);
}

/* a line, or the end (line NULL): LIST_ROW with *row or *video set */
static int
update_parse(update_t *u, update_parser_t *p, char *line, size_t len,
    list_row_t *row, vpdq_video_t *video, const char **why)
{
    /* a UTF-8 byte order mark (spreadsheet exports) before the first line */
    if (line && !p->started && len >= 3
        && memcmp(line, "\xef\xbb\xbf", 3) == 0)
    {
        line += 3;
        len -= 3;
    }

    if (line) {
        p->started = 1;
    }

    if (u->fmt == LIST_FMT_VPDQ) {
        return line ? vpdq_parse_line(&p->vpdq, line, len, video, why)
                    : vpdq_parse_end(&p->vpdq, video, why);
    }

    return line ? list_parse_line(&p->list, line, len, row, why)
                : list_parse_end(&p->list, row);
}

/*
 * On a terminal: lines so far, once a second, with the share read and an
 * ETA where the list's size is known (a file, not a pipe).
 */
static void
progress(update_t *u, const char *what, uint64_t n, int done)
{
    long             pos;
    double           now, share;
    struct stat      st;
    struct timespec  ts;

    if (!u->progress || (!done && n % 4096)) {
        return;
    }

    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (double) ts.tv_sec + ts.tv_nsec / 1e9;

    if (u->pass_start == 0) {
        /* the first line at once, then one a second */
        u->pass_start = now;
        u->last_progress = now - 1;
    }

    if (!done && now - u->last_progress < 1) {
        return;
    }

    u->last_progress = now;
    fprintf(stderr, "\r%s: %s: %llu lines", tool_name, what,
            (unsigned long long) n);

    pos = ftell(u->in);

    if (!done && pos > 0 && fstat(fileno(u->in), &st) == 0
        && S_ISREG(st.st_mode) && st.st_size > 0)
    {
        share = (double) pos / (double) st.st_size;
        fprintf(stderr, ", %.0f %%, ETA %.0f s", 100 * share,
                share > 0 ? (now - u->pass_start) * (1 - share) / share : 0);
    }

    fputs(done ? "\n" : "   ", stderr);
}

static int
update_is_dir(const char *path)
{
    struct stat  st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
update_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * A directory of one-video vPDQ files as one many-video list: "video,
 * frame,quality,hash,seconds" lines in a temporary file, the files in
 * name order, each named by its base name.
 */
static FILE *
update_spool_dir(const char *dir)
{
    int             ok;
    DIR            *d;
    FILE           *out, *in;
    char           *line, **names, **grown, path[4096];
    char            name[HDB_VIDEO_NAME_MAX + 1];
    size_t          n, cap, lcap;
    ssize_t         len;
    struct dirent  *e;

    d = opendir(dir);
    out = tmpfile();

    if (d == NULL || out == NULL) {
        tool_error("%s: %s", dir, strerror(errno));
        if (d) {
            closedir(d);
        }
        if (out) {
            fclose(out);
        }
        return NULL;
    }

    names = NULL;
    n = 0;
    cap = 0;
    ok = 1;

    while (ok && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }

        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            grown = realloc(names, cap * sizeof(char *));
            ok = grown != NULL;
            if (!ok) {
                break;
            }
            names = grown;
        }

        names[n] = strdup(e->d_name);
        ok = names[n++] != NULL;
    }

    closedir(d);
    if (n > 1) {
        qsort(names, n, sizeof(char *), update_name_cmp);
    }

    fputs("video,frame,quality,hash,timestamp\n", out);
    line = NULL;
    lcap = 0;

    for (size_t i = 0; ok && i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);

        if (update_is_dir(path)) {
            continue;
        }

        in = fopen(path, "r");
        if (in == NULL) {
            tool_error("%s: %s; nothing applied", path, strerror(errno));
            ok = 0;
            break;
        }

        vpdq_name_from_path(names[i], name, sizeof(name));

        while ((len = getline(&line, &lcap, in)) > 0) {
            if (line[0] == '#' || line[0] == '\n') {
                continue;
            }

            /* a name with a comma or a quote is quoted, as csv quotes */
            fputc('"', out);
            for (const char *c = name; *c; c++) {
                if (*c == '"') {
                    fputc('"', out);
                }
                fputc(*c, out);
            }
            fputs("\",", out);
            fwrite(line, 1, (size_t) len, out);

            if (line[len - 1] != '\n') {
                fputc('\n', out);
            }
        }

        fclose(in);
    }

    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }

    free(names);
    free(line);

    if (!ok || ferror(out)) {
        if (ok) {
            tool_error("%s: cannot spool: %s", dir, strerror(errno));
        }
        fclose(out);
        return NULL;
    }

    rewind(out);
    return out;
}

/*
 * A full sync replaces what the source holds: a list that is empty, or
 * less than half of what the source lists now, is far likelier a
 * truncated download or a publisher's mistake than a real day's change.
 * Refused, signed or not, unless --allow-shrink.
 */
static int
update_shrink_check(update_t *u, hdb_t *db)
{
    int            rc;
    hdb_source_t   src;
    hdb_reader_t  *rd;

    rc = hdb_reader_new(db, &rd);
    if (rc == 0) {
        rc = hdb_reader_begin(rd);
        if (rc == 0) {
            rc = hdb_reader_source(rd, u->source, &src);
            hdb_reader_end(rd);
        }
        hdb_reader_free(rd);
    }

    if (rc == HDB_NOTFOUND) {
        return TOOL_OK;
    }

    if (rc != 0) {
        tool_error("%s: %s", u->db_path, hdb_strerror(rc));
        return TOOL_FAILED;
    }

    if (src.files == 0) {
        return TOOL_OK;
    }

    if (u->rows == 0) {
        tool_error("%s: the list is empty: a sync would remove all %llu "
                   "entries of source \"%s\" (--allow-shrink if that is "
                   "meant); nothing applied", u->file,
                   (unsigned long long) src.files, u->source);
        return TOOL_FAILED;
    }

    if (u->rows * 2 < src.files) {
        tool_error("%s: %llu rows, and source \"%s\" lists %llu files: a "
                   "sync would remove more than half of it (--allow-shrink "
                   "if that is meant); nothing applied", u->file,
                   (unsigned long long) u->rows, u->source,
                   (unsigned long long) src.files);
        return TOOL_FAILED;
    }

    return TOOL_OK;
}

/* pass 1: every line parses; the file's SHA-256 for the signature */
static int
update_check(update_t *u)
{
    int          rc;
    char        *line;
    size_t       cap, len;
    ssize_t      n;
    const char  *why;
    list_row_t   row;
    EVP_MD_CTX  *md;
    vpdq_video_t     video;
    update_parser_t  p;

    line = NULL;
    cap = 0;
    md = EVP_MD_CTX_new();

    if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(md);
        tool_error("cannot set up SHA-256");
        return TOOL_FAILED;
    }

    update_parser_init(u, &p);
    u->pass_start = 0;
    u->lines = 0;
    u->rows = 0;
    rc = TOOL_OK;

    while ((n = getline(&line, &cap, u->in)) >= 0) {
        u->lines++;
        EVP_DigestUpdate(md, line, (size_t) n);
        progress(u, "checking", u->lines, 0);

        len = (size_t) n;
        if (len && line[len - 1] == '\n') {
            len--;
        }

        if (len > LIST_LINE_MAX) {
            why = "line longer than 4096 bytes";
            rc = LIST_BAD;
        } else {
            rc = update_parse(u, &p, line, len, &row, &video, &why);
        }

        if (rc == LIST_BAD) {
            progress(u, "checking", u->lines, 1);
            tool_error("%s:%llu: %s; nothing applied", u->file,
                       (unsigned long long) u->lines, why);
            rc = TOOL_FAILED;
            goto done;
        }

        u->rows += rc == LIST_ROW;
    }

    rc = update_parse(u, &p, NULL, 0, &row, &video, &why);
    progress(u, "checking", u->lines, 1);

    if (rc == LIST_BAD) {
        tool_error("%s: %s; nothing applied", u->file, why);
        rc = TOOL_FAILED;
        goto done;
    }

    u->rows += rc == LIST_ROW;

    if (ferror(u->in)) {
        tool_error("%s: %s; nothing applied", u->file, strerror(errno));
        rc = TOOL_FAILED;
        goto done;
    }

    EVP_DigestFinal_ex(md, u->sha256, NULL);
    rc = TOOL_OK;

done:

    EVP_MD_CTX_free(md);
    vpdq_parser_free(&p.vpdq);
    free(line);
    return rc;
}

/* the signature: right source, kind and file, and a trusted key */
static int
update_verify(update_t *u, hdb_t *db)
{
    int             rc;
    char            err[512];
    size_t          nkeys;
    hdb_reader_t   *rd;
    unsigned char   keys[16][HDB_KEY_SIZE];

    if (sig_read(u->sig_path, &u->sig, err, sizeof(err)) != 0) {
        tool_error("%s; nothing applied", err);
        return TOOL_FAILED;
    }

    if (strcmp(u->sig.source, u->source) != 0) {
        tool_error("%s: signed for source \"%s\", not \"%s\"; nothing applied",
                   u->sig_path, u->sig.source, u->source);
        return TOOL_FAILED;
    }

    if (strcmp(u->sig.kind, u->cmd->kind) != 0) {
        tool_error("%s: signed as a %s list; \"hashdb %s\" takes a %s list; "
                   "nothing applied", u->sig_path, u->sig.kind, u->cmd->cmd,
                   u->cmd->kind);
        return TOOL_FAILED;
    }

    if (memcmp(u->sig.sha256, u->sha256, 32) != 0) {
        tool_error("%s: the signature is for other content than %s; nothing "
                   "applied", u->sig_path, u->file);
        return TOOL_FAILED;
    }

    rc = hdb_reader_new(db, &rd);
    if (rc == 0) {
        rc = hdb_reader_begin(rd);
        if (rc == 0) {
            rc = hdb_reader_keys(rd, u->source, keys, 16, &nkeys);
        }
        hdb_reader_free(rd);
    }

    if (rc != 0) {
        tool_error("%s: %s", u->db_path, hdb_strerror(rc));
        return TOOL_FAILED;
    }

    if (nkeys == 0) {
        tool_error("no key is trusted for source \"%s\" (hashdb trust); "
                   "nothing applied", u->source);
        return TOOL_FAILED;
    }

    if (!tool_key_trusted((const unsigned char (*)[HDB_KEY_SIZE]) keys,
                          nkeys < 16 ? nkeys : 16, u->sig.key))
    {
        tool_error("%s: signed with a key not trusted for source \"%s\"; "
                   "nothing applied", u->sig_path, u->source);
        return TOOL_FAILED;
    }

    if (!sig_verify(&u->sig, u->sig.key)) {
        tool_error("%s: BAD SIGNATURE for %s; nothing applied", u->sig_path,
                   u->file);
        return TOOL_FAILED;
    }

    return TOOL_OK;
}

/* pass 2: one write transaction; MDB_MAP_FULL makes it start over */
static int
update_apply(update_t *u, hdb_t *db, hdb_write_stats_t *st)
{
    int             rc;
    hdb_writer_t   *w;

    rc = hdb_writer_begin(db, u->source, u->cmd->mode, &w);
    if (rc != 0) {
        return rc;
    }

    if (u->signed_list && u->sig.seq <= hdb_writer_seq(w)) {
        tool_error("%s: sequence %llu is not newer than %llu, the last applied "
                   "to source \"%s\" (a replayed or older list); nothing "
                   "applied", u->file, (unsigned long long) u->sig.seq,
                   (unsigned long long) hdb_writer_seq(w), u->source);
        hdb_writer_abort(w);
        return -1;
    }

    if (u->pdq_distance >= 0) {
        hdb_writer_set_pdq_distance(w, (unsigned) u->pdq_distance);
    }

    if (u->shadow) {
        hdb_writer_stage(w);
    }

    rc = update_write(u, w);

    if (rc != 0) {
        hdb_writer_abort(w);
        return rc;
    }

    if (u->signed_list) {
        hdb_writer_set_seq(w, u->sig.seq);
    }

    return hdb_writer_commit(w, st);
}

/* the list's rows into the writer's transaction (pass 2's work) */
static int
update_write(update_t *u, hdb_writer_t *w)
{
    int             rc, prc;
    char           *line;
    size_t          cap, len;
    ssize_t         n;
    uint64_t        lineno;
    const char     *why;
    list_row_t      row;
    vpdq_video_t    video;
    update_parser_t p;

    line = NULL;
    cap = 0;
    lineno = 0;
    rc = 0;
    u->low_quality = 0;
    u->flat_videos = 0;
    u->pass_start = 0;
    update_parser_init(u, &p);
    rewind(u->in);

    for ( ;; ) {
        n = getline(&line, &cap, u->in);

        if (n < 0) {
            prc = update_parse(u, &p, NULL, 0, &row, &video, &why);
        } else {
            lineno++;
            progress(u, "applying", lineno, 0);
            len = (size_t) n;
            if (len && line[len - 1] == '\n') {
                len--;
            }
            prc = update_parse(u, &p, line, len, &row, &video, &why);
        }

        if (prc == LIST_ROW && u->fmt == LIST_FMT_VPDQ) {
            u->low_quality += video.low;

            if (video.remove) {
                rc = hdb_writer_remove_video(w, video.name);

            } else if (video.nframes == 0) {
                /* nothing of it would count: every frame is flat */
                u->flat_videos++;

            } else {
                rc = hdb_writer_add_video(w, &(hdb_video_t) {
                    .name = video.name,
                    .category = video.category[0] ? video.category : NULL,
                    .nframes = video.nframes,
                    .frames = (const unsigned char (*)[HDB_PDQ_SIZE])
                              video.frames });
            }

            if (rc != 0) {
                break;
            }

            prc = LIST_SKIP;
        }

        if (prc == LIST_ROW && !row.remove && row.quality >= 0
            && row.quality < u->pdq_min_quality
            && (row.row.types & HDB_TYPE_BIT(HDB_PDQ)))
        {
            /* the quality gate: a flat image's hash matches too much */
            row.row.types &= ~HDB_TYPE_BIT(HDB_PDQ);
            u->low_quality++;

            if (row.row.types == 0) {
                prc = LIST_SKIP;
            }
        }

        if (prc == LIST_ROW) {
            rc = row.remove ? hdb_writer_remove(w, &row.row)
                            : hdb_writer_add(w, &row.row);
            if (rc != 0) {
                break;
            }
        }

        if (n < 0) {
            break;
        }
    }

    free(line);
    vpdq_parser_free(&p.vpdq);
    progress(u, "applying", lineno, 1);

    return rc;
}

/* a usage error of import, sync or apply: the line, then their usage */
static int
update_usage_error(update_t *u, const char *what)
{
    char  usage[4096];

    snprintf(usage, sizeof(usage), "%s%s", u->cmd->usage, update_usage_tail);
    return tool_usage(usage, "%s", what);
}

int
cmd_update(int argc, char **argv)
{
    int                  c, rc;
    char                *end;
    hdb_t               *db;
    char                 sigbuf[4096];
    update_t             u;
    hdb_write_stats_t    st;

    static const struct option  opts[] = {
        { "source", required_argument, NULL, 's' },
        { "category", required_argument, NULL, 'c' },
        { "format", required_argument, NULL, 'f' },
        { "sig", required_argument, NULL, 'S' },
        { "unsigned", no_argument, NULL, 'u' },
        { "pdq-min-quality", required_argument, NULL, 'Q' },
        { "pdq-distance", required_argument, NULL, 'D' },
        { "video-id", required_argument, NULL, 'V' },
        { "allow-shrink", no_argument, NULL, 'A' },
        { "shadow", no_argument, NULL, 'W' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    memset(&u, 0, sizeof(u));

    for (size_t i = 0; i < sizeof(update_cmds) / sizeof(update_cmds[0]); i++)
    {
        if (strcmp(argv[0], update_cmds[i].cmd) == 0) {
            u.cmd = &update_cmds[i];
        }
    }

    optind = 1;

    u.pdq_min_quality = 50;
    u.pdq_distance = -1;

    while ((c = getopt_long(argc, argv, ":s:c:f:S:uh", opts, NULL)) != -1) {
        switch (c) {
        case 'Q':
            u.pdq_min_quality = (int) strtol(optarg, &end, 10);
            if (*end || end == optarg || u.pdq_min_quality < 0
                || u.pdq_min_quality > 100)
            {
                tool_error("--pdq-min-quality: not a number from 0 to 100: "
                           "%s", optarg);
                return TOOL_FAILED;
            }
            break;
        case 'D':
            u.pdq_distance = strtol(optarg, &end, 10);
            if (*end || end == optarg || u.pdq_distance < 0
                || u.pdq_distance > HDB_PDQ_DISTANCE_MAX)
            {
                tool_error("--pdq-distance: not a number from 0 to %d: %s",
                           HDB_PDQ_DISTANCE_MAX, optarg);
                return TOOL_FAILED;
            }
            break;
        case 's':
            u.source = optarg;
            break;
        case 'V':
            u.video_id = optarg;
            break;
        case 'A':
            u.allow_shrink = 1;
            break;
        case 'W':
            u.shadow = 1;
            break;
        case 'c':
            u.category = optarg;
            break;
        case 'f':
            if (list_format_from_name(optarg, &u.fmt) != 0) {
                tool_error("--format %s: use auto, hex, csv, typed, clamav, "
                           "pdq or vpdq", optarg);
                return TOOL_FAILED;
            }
            break;
        case 'S':
            u.sig_path = optarg;
            break;
        case 'u':
            u.unsigned_ok = 1;
            break;
        case 'h':
            fputs(u.cmd->usage, stdout);
            fputs(update_usage_tail, stdout);
            return TOOL_OK;
        default:
            return update_usage_error(&u, c == ':' || c == '?'
                                      ? tool_bad_option_text(c, argv)
                                      : "bad option");
        }
    }

    if (u.source == NULL) {
        return update_usage_error(&u, "--source NAME is missing");
    }

    if (argc - optind != 2) {
        return update_usage_error(&u, argc - optind < 2
                                      ? (argc == optind ? "no DB given"
                                                        : "no LIST given")
                                      : "one DB and one LIST: more given");
    }

    u.db_path = argv[optind];
    u.file = argv[optind + 1];

    if (!hdb_valid_name(u.source)) {
        tool_error("--source %s: %s", u.source, hdb_strerror(HDB_ENAME));
        return TOOL_FAILED;
    }

    if (u.category && (strlen(u.category) > HDB_CATEGORY_MAX
                       || !hdb_valid_name(u.category)))
    {
        tool_error("--category %s: use up to %d letters, digits, '.', '_' "
                   "or '-'", u.category, HDB_CATEGORY_MAX);
        return TOOL_FAILED;
    }

    if (u.unsigned_ok && u.sig_path) {
        tool_error("--sig and --unsigned exclude each other");
        return TOOL_FAILED;
    }

    if (u.video_id) {
        snprintf(u.video_name, sizeof(u.video_name), "%s", u.video_id);

    } else if (strcmp(u.file, "-") != 0) {
        vpdq_name_from_path(u.file, u.video_name, sizeof(u.video_name));
    }

    if (u.fmt == LIST_FMT_VPDQ && update_is_dir(u.file)) {
        if (!u.unsigned_ok) {
            tool_error("%s: a directory of vPDQ files cannot carry a "
                       "signature: sign a many-video list, or use "
                       "--unsigned", u.file);
            return TOOL_FAILED;
        }

        u.in = update_spool_dir(u.file);
        if (u.in == NULL) {
            return TOOL_FAILED;
        }

    } else if (strcmp(u.file, "-") == 0) {
        if (!u.unsigned_ok && u.sig_path == NULL) {
            tool_error("a list on standard input needs --sig FILE or "
                       "--unsigned");
            return TOOL_FAILED;
        }

        /* spooled: the list is read twice */
        u.in = tmpfile();
        if (u.in == NULL) {
            tool_error("cannot create a temporary file: %s", strerror(errno));
            return TOOL_FAILED;
        }

        while ((c = getchar()) != EOF) {
            if (putc(c, u.in) == EOF) {
                tool_error("spooling standard input: %s", strerror(errno));
                fclose(u.in);
                return TOOL_FAILED;
            }
        }

        rewind(u.in);
        u.file = "(stdin)";

    } else {
        u.in = fopen(u.file, "r");
        if (u.in == NULL) {
            tool_error("%s: %s", u.file, strerror(errno));
            return TOOL_FAILED;
        }
    }

    if (!u.unsigned_ok && u.sig_path == NULL) {
        snprintf(sigbuf, sizeof(sigbuf), "%s.sig", u.file);
        u.sig_path = sigbuf;

        if (access(sigbuf, F_OK) != 0) {
            tool_error("%s: no signature (%s); sign the list, or apply it "
                       "with --unsigned", u.file, sigbuf);
            fclose(u.in);
            return TOOL_FAILED;
        }
    }

    u.signed_list = !u.unsigned_ok;
    u.progress = isatty(STDERR_FILENO);

    rc = update_check(&u);
    if (rc != TOOL_OK) {
        fclose(u.in);
        return rc;
    }

    rc = tool_open(&db, u.db_path, 0);
    if (rc != TOOL_OK) {
        fclose(u.in);
        return rc;
    }

    if (u.signed_list && update_verify(&u, db) != TOOL_OK) {
        rc = TOOL_FAILED;
        goto done;
    }

    if (u.cmd->mode == HDB_WRITE_REPLACE && !u.allow_shrink
        && update_shrink_check(&u, db) != TOOL_OK)
    {
        rc = TOOL_FAILED;
        goto done;
    }

    for (int tries = 0; ; tries++) {
        rc = update_apply(&u, db, &st);

        if (rc != MDB_MAP_FULL || tries == 16) {
            break;
        }

        rc = hdb_grow(db);
        if (rc != 0) {
            break;
        }
    }

    if (rc == -1) {
        rc = TOOL_FAILED;
        goto done;
    }

    if (rc != 0) {
        tool_error("%s: %s; nothing applied", u.db_path, hdb_strerror(rc));
        rc = TOOL_FAILED;
        goto done;
    }

    if (u.flat_videos) {
        printf("%s: %llu videos without a frame of quality %d or more "
               "skipped\n", u.source, (unsigned long long) u.flat_videos,
               u.pdq_min_quality);
    }

    printf("%s: %s of %s: %llu rows, %llu entries added, %llu removed, "
           "%llu already listed%s\n", u.source, u.cmd->cmd, u.file,
           (unsigned long long) st.rows, (unsigned long long) st.added,
           (unsigned long long) st.removed, (unsigned long long) st.existing,
           u.signed_list ? ", signature good" : "");
    if (u.low_quality) {
        printf("%s: %llu PDQ hashes of quality below %d skipped\n", u.source,
               (unsigned long long) u.low_quality, u.pdq_min_quality);
    }
    if (u.signed_list) {
        printf("%s: sequence %llu\n", u.source,
               (unsigned long long) u.sig.seq);
    }

    rc = TOOL_OK;

done:

    hdb_close(db);
    fclose(u.in);
    return rc;
}

/* see update.h */
int
update_chain(const char *db_path, const char *source,
    const update_file_t *files, size_t n, unsigned flags,
    update_result_t *res)
{
    int                 rc;
    size_t              i;
    hdb_t              *db;
    uint64_t            prev;
    update_t           *u;
    hdb_writer_t       *w;
    hdb_write_stats_t   st, sum;

    memset(res, 0, sizeof(*res));

    u = calloc(n ? n : 1, sizeof(update_t));
    if (u == NULL) {
        tool_error("out of memory");
        return TOOL_FAILED;
    }

    db = NULL;
    rc = tool_open(&db, db_path, 0);
    if (rc != TOOL_OK) {
        free(u);
        return rc;
    }

    /* pass 1 for every file, and its signature, before anything is written */
    for (i = 0; i < n; i++) {
        u[i].cmd = &update_cmds[files[i].full ? 1 : 2];
        u[i].db_path = db_path;
        u[i].source = source;
        u[i].file = files[i].label;
        u[i].sig_path = files[i].sig_path;
        u[i].fmt = LIST_FMT_CSV;
        u[i].signed_list = 1;
        u[i].pdq_min_quality = 50;
        u[i].pdq_distance = -1;
        u[i].in = fopen(files[i].path, "r");

        if (u[i].in == NULL) {
            tool_error("%s: %s", files[i].path, strerror(errno));
            rc = TOOL_FAILED;
            goto done;
        }

        if (update_check(&u[i]) != TOOL_OK || update_verify(&u[i], db)
                                               != TOOL_OK)
        {
            rc = TOOL_FAILED;
            goto done;
        }

        if (files[i].full && !(flags & UPDATE_ALLOW_SHRINK)
            && update_shrink_check(&u[i], db) != TOOL_OK)
        {
            rc = TOOL_FAILED;
            goto done;
        }
    }

    for (int tries = 0; ; tries++) {
        rc = hdb_writer_begin(db, source,
                              n && files[0].full ? HDB_WRITE_REPLACE
                                                 : HDB_WRITE_ADD, &w);
        if (rc != 0) {
            break;
        }

        if (flags & UPDATE_SHADOW) {
            hdb_writer_stage(w);
        }

        prev = res->from = hdb_writer_seq(w);
        memset(&sum, 0, sizeof(sum));

        /* the chain: each newer than the last, each delta on its base */
        for (i = 0; rc == 0 && i < n; i++) {
            if (u[i].sig.seq <= prev
                || (!files[i].full && u[i].sig.base != prev))
            {
                tool_error("%s: sequence %llu%s%s does not follow %llu, the "
                           "%s; nothing applied", u[i].file,
                           (unsigned long long) u[i].sig.seq,
                           files[i].full ? "" : " on base ",
                           files[i].full ? "" : (u[i].sig.base == SIG_NO_BASE
                                                 ? "(none)" : "another"),
                           (unsigned long long) prev,
                           i ? "delta before it" : "set's own");
                rc = -1;
                break;
            }

            rc = update_write(&u[i], w);
            prev = u[i].sig.seq;
        }

        if (rc == 0) {
            hdb_writer_set_seq(w, prev);
            rc = hdb_writer_commit(w, &st);
            sum = st;
        } else {
            hdb_writer_abort(w);
        }

        if (rc != MDB_MAP_FULL || tries == 16) {
            break;
        }

        rc = hdb_grow(db);
        if (rc != 0) {
            break;
        }

        for (i = 0; i < n; i++) {
            rewind(u[i].in);
        }
    }

    if (rc == -1) {
        rc = TOOL_FAILED;
        goto done;
    }

    if (rc != 0) {
        tool_error("%s: %s; nothing applied", db_path, hdb_strerror(rc));
        rc = TOOL_FAILED;
        goto done;
    }

    res->to = prev;
    res->rows = sum.rows;
    res->added = sum.added;
    res->removed = sum.removed;
    rc = TOOL_OK;

done:

    for (i = 0; i < n; i++) {
        if (u[i].in) {
            fclose(u[i].in);
        }
    }

    free(u);
    hdb_close(db);
    return rc;
}
