/*
 * hashdb hash: the digests the upload filter computes for a file.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "hdb_digest.h"
#include "hdb_jpeg.h"
#include "hdb_pdq.h"
#include "tool.h"

static const char  hash_usage[] =
    "usage: hashdb hash [--db DB] [--variants] FILE...\n"
    "\n"
    "Prints TYPE:HEX  FILE for each digest of each file (\"-\": standard\n"
    "input).  Without --db: MD5, SHA-1 and SHA-256.  With --db: only the\n"
    "digests the upload filter computes for that hash set.  For a JPEG\n"
    "(told by its content) also its PDQ hash and quality, computed as the\n"
    "reference implementation does; --variants adds the 7 rotated and\n"
    "mirrored variants.\n";

static const char  *pdq_variant_names[PDQ_VARIANTS] = {
    "pdq", "pdq-rot90", "pdq-rot180", "pdq-rot270", "pdq-flipx",
    "pdq-flipy", "pdq-flip-plus1", "pdq-flip-minus1"
};

/* the PDQ hash of a whole JPEG in memory */
static int
hash_pdq(const unsigned char *jpeg, size_t len, const char *path,
    int variants)
{
    int             rc, w, h, ch, q;
    char            hex[PDQ_HEX_LEN + 1];
    const char     *why;
    pdq_hash_t      hash, v[PDQ_VARIANTS];
    unsigned char  *px;

    /* 200 megapixels: more than any camera, less than a bomb */
    rc = hdb_jpeg_decode(jpeg, len, 200000000, &px, &w, &h, &ch, &why);
    if (rc != HDB_JPEG_OK) {
        tool_error("%s: no PDQ hash: %s", path, hdb_jpeg_strerror(rc, why));
        return TOOL_FAILED;
    }

    q = pdq_hash_pixels(px, w, h, ch, &hash, v);
    free(px);

    if (q < 0) {
        tool_error("%s: out of memory", path);
        return TOOL_FAILED;
    }

    for (int i = 0; i < (variants ? PDQ_VARIANTS : 1); i++) {
        pdq_to_hex(&v[i], hex);
        printf("%s:%s  %s  quality=%d\n", pdq_variant_names[i], hex, path, q);
    }

    return TOOL_OK;
}

static int
hash_file(hdb_digest_t *d, const char *path, int variants)
{
    FILE            *in;
    char             hex[HDB_HEX_MAX + 1];
    size_t           n, jlen, jcap;
    hdb_digests_t    out;
    unsigned char   *jpeg, *grown;
    unsigned char    buf[65536];

    in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (in == NULL) {
        tool_error("%s: %s", path, strerror(errno));
        return TOOL_FAILED;
    }

    hdb_digest_reset(d);

    /* a JPEG is also kept whole, for PDQ */
    jpeg = NULL;
    jlen = 0;
    jcap = 0;

    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        hdb_digest_update(d, buf, n);

        if (jlen == 0 && jpeg == NULL && !hdb_is_jpeg(buf, n)) {
            jcap = (size_t) -1;     /* not a JPEG: keep nothing */
        }

        if (jcap != (size_t) -1) {
            if (jlen + n > jcap) {
                jcap = 2 * (jlen + n);
                grown = realloc(jpeg, jcap);
                if (grown == NULL) {
                    free(jpeg);
                    tool_error("%s: out of memory", path);
                    return TOOL_FAILED;
                }
                jpeg = grown;
            }

            memcpy(jpeg + jlen, buf, n);
            jlen += n;
        }
    }

    if (ferror(in)) {
        tool_error("%s: %s", path, strerror(errno));
        if (in != stdin) {
            fclose(in);
        }
        free(jpeg);
        return TOOL_FAILED;
    }

    if (in != stdin) {
        fclose(in);
    }

    if (hdb_digest_final(d, &out) != 0) {
        tool_error("%s: digest failed", path);
        free(jpeg);
        return TOOL_FAILED;
    }

    for (int i = 0; i < HDB_NTYPES; i++) {
        hdb_type_t  t = hdb_types_by_cost[i];

        if (out.types & HDB_TYPE_BIT(t)) {
            hdb_hex_encode(out.md[t], hdb_type_size(t), hex);
            printf("%s:%s  %s\n", hdb_type_name(t), hex, path);
        }
    }

    if (jpeg) {
        int  rc = hash_pdq(jpeg, jlen, path, variants);

        free(jpeg);
        return rc;
    }

    return TOOL_OK;
}

int
cmd_hash(int argc, char **argv)
{
    int             c, rc, status, variants;
    hdb_t          *db;
    unsigned        types;
    const char     *dbpath;
    hdb_digest_t   *d;
    hdb_reader_t   *rd;

    static const struct option  opts[] = {
        { "db", required_argument, NULL, 'd' },
        { "variants", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    dbpath = NULL;
    variants = 0;
    optind = 1;

    while ((c = getopt_long(argc, argv, "d:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dbpath = optarg;
            break;
        case 'v':
            variants = 1;
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
        if (hash_file(d, argv[i], variants) != TOOL_OK) {
            status = TOOL_FAILED;
        }
    }

    hdb_digest_free(d);

    return status;
}
