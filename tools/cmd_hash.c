/*
 * hashdb hash: the digests the upload filter computes for a file.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "hdb_digest.h"
#include "tool.h"

static const char  hash_usage[] =
    "usage: hashdb hash [--db DB] FILE...\n"
    "\n"
    "Prints TYPE:HEX  FILE for each digest of each file (\"-\": standard\n"
    "input).  Without --db: MD5, SHA-1 and SHA-256.  With --db: only the\n"
    "digests the upload filter computes for that hash set.\n";

static int
hash_file(hdb_digest_t *d, const char *path)
{
    FILE            *in;
    char             hex[HDB_HEX_MAX + 1];
    size_t           n;
    hdb_digests_t    out;
    unsigned char    buf[65536];

    in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (in == NULL) {
        tool_error("%s: %s", path, strerror(errno));
        return TOOL_FAILED;
    }

    hdb_digest_reset(d);

    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        hdb_digest_update(d, buf, n);
    }

    if (ferror(in)) {
        tool_error("%s: %s", path, strerror(errno));
        if (in != stdin) {
            fclose(in);
        }
        return TOOL_FAILED;
    }

    if (in != stdin) {
        fclose(in);
    }

    if (hdb_digest_final(d, &out) != 0) {
        tool_error("%s: digest failed", path);
        return TOOL_FAILED;
    }

    for (int i = 0; i < HDB_NTYPES; i++) {
        hdb_type_t  t = hdb_types_by_cost[i];

        if (out.types & HDB_TYPE_BIT(t)) {
            hdb_hex_encode(out.md[t], hdb_type_size(t), hex);
            printf("%s:%s  %s\n", hdb_type_name(t), hex, path);
        }
    }

    return TOOL_OK;
}

int
cmd_hash(int argc, char **argv)
{
    int             c, rc, status;
    hdb_t          *db;
    unsigned        types;
    const char     *dbpath;
    hdb_digest_t   *d;
    hdb_reader_t   *rd;

    static const struct option  opts[] = {
        { "db", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    dbpath = NULL;
    optind = 1;

    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dbpath = optarg;
            break;
        case 'h':
            fputs(hash_usage, stdout);
            return TOOL_OK;
        default:
            fputs(hash_usage, stderr);
            return TOOL_FAILED;
        }
    }

    if (optind == argc) {
        fputs(hash_usage, stderr);
        return TOOL_FAILED;
    }

    types = HDB_ALL_TYPES;

    if (dbpath) {
        rc = tool_open(&db, dbpath, HDB_OPEN_RDONLY);
        if (rc != TOOL_OK) {
            return rc;
        }

        rc = hdb_reader_new(db, &rd);
        if (rc == 0) {
            rc = hdb_reader_begin(rd);
            if (rc == 0) {
                rc = hdb_reader_plan(rd, &types);
            }
            hdb_reader_free(rd);
        }

        hdb_close(db);

        if (rc != 0) {
            tool_error("%s: %s", dbpath, hdb_strerror(rc));
            return TOOL_FAILED;
        }
    }

    d = hdb_digest_new(types);
    if (d == NULL) {
        tool_error("cannot set up the digests");
        return TOOL_FAILED;
    }

    status = TOOL_OK;

    for (int i = optind; i < argc; i++) {
        if (hash_file(d, argv[i]) != TOOL_OK) {
            status = TOOL_FAILED;
        }
    }

    hdb_digest_free(d);

    return status;
}
