/*
 * hashdb rescan: past uploads matched against the hash set as it is now,
 * from the access logs nginx wrote with $upload_filter_hashes (see
 * ngx_module/ngx_http_upload_filter_ledger.c for the token).  Each line
 * of each log (gzipped or not) is searched for the token, whatever
 * log_format was wrapped around it; each object's digests and PDQ
 * hashes are looked up, and each listed one is reported with the line it
 * came from, so that after a daily sync the hoster learns which stored
 * uploads became listed, without reading any of them.
 */

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "ledger_parse.h"
#include "tool.h"

static const char  rescan_usage[] =
    "usage: hashdb rescan DB [--json] [--distance N] LOG...\n"
    "\n"
    "Reads access logs (\"-\": standard input; gzipped ones too) that\n"
    "nginx wrote with $upload_filter_hashes in their log_format, and\n"
    "prints every past upload whose digests or PDQ hashes the hash set\n"
    "lists now, with the log line it came from:\n"
    "    LOG:LINE: part=P size=N TYPE:HEX source=S category=C listed=DATE | LINE\n"
    "(--json: one object per line, with the line, and its fields where it\n"
    "is a JSON object).  PDQ hashes match within --distance (default 31),\n"
    "as logged (not rotated).  Exit status: 0 nothing listed, 1 something\n"
    "listed, 2 errors (and nothing listed).\n";


typedef struct {
    int            json;
    unsigned       distance;
    hdb_reader_t  *rd;
    uint64_t       lines, uploads, listed, errors;
} rescan_t;

/* whether the line could be a JSON object: braces and quotes balanced */
static int
rescan_is_object(const char *s)
{
    int     depth = 0, str = 0;
    size_t  n = strlen(s);

    while (n && isspace((unsigned char) s[n - 1])) {
        n--;
    }

    if (n < 2 || s[0] != '{' || s[n - 1] != '}') {
        return 0;
    }

    for (size_t i = 0; i < n; i++) {
        if (str) {
            if (s[i] == '\\') {
                i++;
            } else if (s[i] == '"') {
                str = 0;
            }

        } else if (s[i] == '"') {
            str = 1;

        } else if (s[i] == '{' || s[i] == '[') {
            depth++;

        } else if ((s[i] == '}' || s[i] == ']') && --depth == 0
                   && i != n - 1)
        {
            return 0;
        }
    }

    return depth == 0 && !str;
}

static void
rescan_report(rescan_t *rs, const char *log, uint64_t lineno,
    const char *line, const char *part, const char *size, const char *name,
    const char *filename, const char *match, const hdb_match_t *m, int pdq)
{
    char  listed[32], entry[HDB_PDQ_HEX_LEN + 1];

    tool_format_time(m->added, listed, sizeof(listed));
    hdb_hex_encode(m->listed, HDB_PDQ_SIZE, entry);
    rs->listed++;

    if (rs->json) {
        fputs("{\"log\":", stdout);
        tool_json_string(stdout, log);
        printf(",\"line_number\":%llu,\"part\":", (unsigned long long) lineno);
        tool_json_string(stdout, part);
        printf(",\"size\":%s,\"name\":", size[0] ? size : "0");
        tool_json_string(stdout, name);
        fputs(",\"filename\":", stdout);
        tool_json_string(stdout, filename);
        printf(",\"match\":\"%s\"", match);
        if (pdq) {
            printf(",\"entry\":\"pdq:%s\",\"distance\":%u", entry, m->distance);
        } else {
            printf(",\"entry\":\"%s\",\"distance\":0", match);
        }
        fputs(",\"source\":", stdout);
        tool_json_string(stdout, m->source);
        fputs(",\"category\":", stdout);
        tool_json_string(stdout, m->category);
        printf(",\"listed\":\"%s\",\"allowed\":%s,\"line\":", listed,
               m->allowed ? "true" : "false");
        tool_json_string(stdout, line);
        if (rescan_is_object(line)) {
            fputs(",\"fields\":", stdout);
            fputs(line, stdout);
        }
        fputs("}\n", stdout);
        return;
    }

    printf("%s:%llu: part=%s size=%s", log, (unsigned long long) lineno,
           part, size);
    /* the names are the client's: escaped, so that a line stays a line */
    if (name[0]) {
        fputs(" name=\"", stdout);
        tool_text_escaped(stdout, name);
        fputc('"', stdout);
    }
    if (filename[0]) {
        fputs(" filename=\"", stdout);
        tool_text_escaped(stdout, filename);
        fputc('"', stdout);
    }
    printf(" %s", match);
    if (pdq) {
        printf(" entry=pdq:%s distance=%u", entry, m->distance);
    }
    printf(" source=%s category=%s listed=%s%s | %s\n", m->source,
           m->category[0] ? m->category : "-", listed,
           m->allowed ? " allowed" : "", line);
}

/* what the current line is, for the callback */
typedef struct {
    rescan_t      *rs;
    const char    *log;
    uint64_t       lineno;
    const char    *line;
} rescan_ctx_t;

/* one object of a token: its hashes looked up */
static int
rescan_entry(void *data, const ledger_entry_t *e)
{
    int            rc;
    hdb_match_t    m;
    rescan_ctx_t  *x = data;
    rescan_t      *rs = x->rs;

    rs->uploads++;

    for (unsigned i = 0; i < e->nhashes; i++) {
        const ledger_hash_t  *h = &e->hashes[i];

        rc = h->type == HDB_PDQ
             ? hdb_reader_pdq_match(rs->rd,
                                    (const unsigned char (*)[HDB_PDQ_SIZE])
                                    h->md, 1, rs->distance, &m)
             : hdb_reader_lookup(rs->rd, h->type, h->md, &m);

        if (rc == HDB_NOTFOUND) {
            continue;
        }

        if (rc != 0) {
            tool_error("%s", hdb_strerror(rc));
            rs->errors++;
            return rc;
        }

        rescan_report(rs, x->log, x->lineno, x->line, e->part, e->size,
                      e->name, e->filename, h->text, &m, h->type == HDB_PDQ);
    }

    return 0;
}

static void
rescan_line(rescan_t *rs, const char *log, uint64_t lineno, char *line)
{
    char          *p;
    size_t         n;
    rescan_ctx_t   x;

    n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        line[--n] = '\0';
    }

    x.rs = rs;
    x.log = log;
    x.lineno = lineno;
    x.line = line;

    for (p = strstr(line, LEDGER_TOKEN); p; p = strstr(p, LEDGER_TOKEN)) {
        p += sizeof(LEDGER_TOKEN) - 1;
        n = ledger_token_len(p);

        if (hdb_reader_begin(rs->rd) != 0) {
            tool_error("the hash set cannot be read");
            rs->errors++;
            return;
        }

        (void) ledger_parse(p, n, rescan_entry, &x);
        hdb_reader_end(rs->rd);
        p += n;
    }
}

static void
rescan_log(rescan_t *rs, const char *path)
{
    int          err;
    char        *line, *grown;
    size_t       cap, len;
    gzFile       gz;
    uint64_t     lineno;
    const char  *msg;

    gz = strcmp(path, "-") == 0 ? gzdopen(0, "rb") : gzopen(path, "rb");
    if (gz == NULL) {
        tool_error("%s: %s", path, strerror(errno ? errno : ENOMEM));
        rs->errors++;
        return;
    }

    cap = 65536;
    line = malloc(cap);
    lineno = 0;

    while (line && gzgets(gz, line, (int) cap) != NULL) {
        len = strlen(line);

        /* a line longer than the buffer: read on into a larger one */
        while (len == cap - 1 && line[len - 1] != '\n') {
            grown = realloc(line, 2 * cap);
            if (grown == NULL) {
                break;
            }

            line = grown;
            cap *= 2;

            if (gzgets(gz, line + len, (int) (cap - len)) == NULL) {
                break;
            }

            len += strlen(line + len);
        }

        rs->lines++;
        rescan_line(rs, path, ++lineno, line);
    }

    if (line == NULL) {
        tool_error("out of memory");
        rs->errors++;
    }

    msg = gzerror(gz, &err);

    if (err != Z_OK && err != Z_STREAM_END) {
        /* zlib's own message names the file already */
        if (err == Z_ERRNO) {
            tool_error("%s: %s", path, strerror(errno));
        } else {
            tool_error("%s", msg);
        }
        rs->errors++;
    }

    free(line);
    gzclose(gz);
}

int
cmd_rescan(int argc, char **argv)
{
    int             c, rc;
    hdb_t          *db;
    rescan_t        rs;

    static const struct option  opts[] = {
        { "json", no_argument, NULL, 'J' },
        { "distance", required_argument, NULL, 'D' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    memset(&rs, 0, sizeof(rs));
    rs.distance = HDB_PDQ_DISTANCE_DEFAULT;
    optind = 1;

    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'J':
            rs.json = 1;
            break;
        case 'D':
            if (tool_parse_distance(optarg, &rs.distance) != TOOL_OK) {
                return TOOL_FAILED;
            }
            break;
        case 'h':
            fputs(rescan_usage, stdout);
            return TOOL_OK;
        default:
            return tool_bad_option(c, argv, rescan_usage);
        }
    }

    if (argc - optind < 2) {
        return tool_usage(rescan_usage, argc == optind ? "no DB given"
                                                       : "no LOG given");
    }

    if (tool_open(&db, argv[optind], HDB_OPEN_RDONLY) != TOOL_OK) {
        return TOOL_FAILED;
    }

    rc = hdb_reader_new(db, &rs.rd);
    if (rc != 0) {
        tool_error("%s: %s", argv[optind], hdb_strerror(rc));
        hdb_close(db);
        return TOOL_FAILED;
    }

    for (int i = optind + 1; i < argc; i++) {
        rescan_log(&rs, argv[i]);
    }

    fflush(stdout);
    fprintf(stderr, "hashdb rescan: %llu lines, %llu uploaded objects, "
            "%llu listed, %llu errors\n", (unsigned long long) rs.lines,
            (unsigned long long) rs.uploads, (unsigned long long) rs.listed,
            (unsigned long long) rs.errors);

    hdb_reader_free(rs.rd);
    hdb_close(db);

    return rs.listed ? TOOL_LISTED : rs.errors ? TOOL_FAILED : TOOL_OK;
}
