/*
 * hashdb init, hashdb import.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "list_format.h"
#include "tool.h"

static const char  init_usage[] =
    "usage: hashdb init DB\n"
    "\n"
    "Creates an empty hash set in the directory DB (created if missing,\n"
    "mode 0750; the files are 0640: a list is sensitive).  Running it on\n"
    "an existing hash set changes nothing.\n";

static const char  import_usage[] =
    "usage: hashdb import DB --source NAME [--category C] FILE|-\n"
    "\n"
    "Adds the digests in FILE (\"-\": standard input) to the hash set DB as\n"
    "entries of the list NAME.  One file per line: one or more hex digests\n"
    "(MD5, SHA-1 or SHA-256, told apart by length) separated by blanks or\n"
    "commas; several on a line are digests of the same file.  Blank lines\n"
    "and text after '#' are ignored.\n"
    "\n"
    "  --source NAME    the list: 1-64 letters, digits, '.', '_', '-'\n"
    "  --category C     a label stored with each entry (up to 8 chars)\n"
    "\n"
    "A bad line stops the import with its line number; nothing is applied.\n"
    "The import is one transaction: readers see all of it or none.\n";

int
cmd_init(int argc, char **argv)
{
    int     rc;
    hdb_t  *db;

    if (tool_wants_help(argc, argv, init_usage)) {
        return TOOL_OK;
    }

    if (argc != 2) {
        fputs(init_usage, stderr);
        return TOOL_FAILED;
    }

    rc = tool_open(&db, argv[1], HDB_OPEN_CREATE);
    if (rc != TOOL_OK) {
        return rc;
    }

    hdb_close(db);
    return TOOL_OK;
}

static int
import_stream(hdb_writer_t *w, FILE *in, const char *file,
    const char *category)
{
    int          rc;
    char        *line;
    size_t       cap, len;
    ssize_t      n;
    uint64_t     lineno;
    hdb_row_t    row;
    const char  *why;

    line = NULL;
    cap = 0;
    lineno = 0;

    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        len = (size_t) n;

        if (len && line[len - 1] == '\n') {
            len--;
        }

        if (len > LIST_LINE_MAX) {
            tool_error("%s:%llu: line longer than %d bytes", file,
                       (unsigned long long) lineno, LIST_LINE_MAX);
            free(line);
            return TOOL_FAILED;
        }

        rc = list_parse_hex_line(line, len, &row, &why);

        if (rc == LIST_SKIP) {
            continue;
        }

        if (rc == LIST_BAD) {
            tool_error("%s:%llu: %s; nothing imported", file,
                       (unsigned long long) lineno, why);
            free(line);
            return TOOL_FAILED;
        }

        row.category = category;
        row.added = 0;

        rc = hdb_writer_add(w, &row);
        if (rc != 0) {
            tool_error("%s:%llu: %s; nothing imported", file,
                       (unsigned long long) lineno, hdb_strerror(rc));
            free(line);
            return TOOL_FAILED;
        }
    }

    free(line);

    if (ferror(in)) {
        tool_error("%s: %s; nothing imported", file, strerror(errno));
        return TOOL_FAILED;
    }

    return TOOL_OK;
}

int
cmd_import(int argc, char **argv)
{
    int                 c, rc;
    FILE               *in;
    hdb_t              *db;
    const char         *source, *category, *file;
    hdb_writer_t       *w;
    hdb_write_stats_t   stats;

    static const struct option  opts[] = {
        { "source", required_argument, NULL, 's' },
        { "category", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    source = NULL;
    category = NULL;
    optind = 1;

    while ((c = getopt_long(argc, argv, "s:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            source = optarg;
            break;
        case 'c':
            category = optarg;
            break;
        case 'h':
            fputs(import_usage, stdout);
            return TOOL_OK;
        default:
            fputs(import_usage, stderr);
            return TOOL_FAILED;
        }
    }

    if (argc - optind != 2 || source == NULL) {
        fputs(import_usage, stderr);
        return TOOL_FAILED;
    }

    if (!hdb_valid_name(source)) {
        tool_error("--source %s: %s", source, hdb_strerror(HDB_ENAME));
        return TOOL_FAILED;
    }

    if (category && (strlen(category) > HDB_CATEGORY_MAX
                     || !hdb_valid_name(category)))
    {
        tool_error("--category %s: use up to %d letters, digits, '.', '_' "
                   "or '-'", category, HDB_CATEGORY_MAX);
        return TOOL_FAILED;
    }

    file = argv[optind + 1];

    if (strcmp(file, "-") == 0) {
        in = stdin;
        file = "(stdin)";

    } else {
        in = fopen(file, "r");
        if (in == NULL) {
            tool_error("%s: %s", file, strerror(errno));
            return TOOL_FAILED;
        }
    }

    rc = tool_open(&db, argv[optind], 0);
    if (rc != TOOL_OK) {
        goto done;
    }

    rc = hdb_writer_begin(db, source, &w);
    if (rc != 0) {
        tool_error("%s: %s", argv[optind], hdb_strerror(rc));
        rc = TOOL_FAILED;
        goto close;
    }

    rc = import_stream(w, in, file, category);

    if (rc != TOOL_OK) {
        hdb_writer_abort(w);
        goto close;
    }

    rc = hdb_writer_commit(w, &stats);
    if (rc != 0) {
        tool_error("%s: %s; nothing imported", argv[optind],
                   hdb_strerror(rc));
        rc = TOOL_FAILED;
        goto close;
    }

    printf("%s: %llu rows, %llu entries added, %llu already listed\n",
           source, (unsigned long long) stats.rows,
           (unsigned long long) stats.added,
           (unsigned long long) stats.existing);
    rc = TOOL_OK;

close:

    hdb_close(db);

done:

    if (in != stdin) {
        fclose(in);
    }

    return rc;
}
