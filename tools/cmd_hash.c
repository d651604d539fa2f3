/*
 * hashdb hash: the digests the upload filter computes for a file.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <stdlib.h>


#include "hdb_digest.h"
#include "hdb_media.h"
#include "tool.h"

static const char  hash_usage[] =
    "usage: hashdb hash [--db DB [--distance N]] [--variants] [--exact]\n"
    "                   FILE...\n"
    "\n"
    "Prints TYPE:HEX  FILE for each digest of each file (\"-\": standard\n"
    "input).  Without --db: MD5, SHA-1 and SHA-256.  With --db: only the\n"
    "digests the upload filter computes for that hash set.  For a JPEG\n"
    "(told by its content) also its PDQ hash and quality as the upload\n"
    "filter computes them (the fast path); --exact computes them as the\n"
    "reference implementation does; --variants adds the 7 rotated and\n"
    "mirrored variants.  With --db, a JPEG's nearest listed PDQ hash within\n"
    "the distance (default 31) over all 8 variants is printed too.\n";

typedef struct {
    int            variants;
    int            exact;
    unsigned       distance;
    hdb_reader_t  *rd;          /* with --db */
} hash_opts_t;

static const char  *pdq_variant_names[HDB_PDQ_VARIANTS] = {
    "pdq", "pdq-rot90", "pdq-rot180", "pdq-rot270", "pdq-flipx",
    "pdq-flipy", "pdq-flip-plus1", "pdq-flip-minus1"
};

/* the PDQ hash of a whole image in memory, and its nearest listed one */
static int
hash_pdq(const unsigned char *img, size_t len, const char *path,
    const hash_opts_t *o)
{
    int                  rc;
    char                 hex[HDB_PDQ_HEX_LEN + 1];
    hdb_match_t          m;
    hdb_media_limits_t   limits;
    hdb_media_result_t   r;
    hdb_media_frame_t   *f;

    /* 200 megapixels: more than any camera, less than a bomb */
    memset(&limits, 0, sizeof(limits));
    limits.max_pixels = 200000000;
    limits.exact = o->exact;

    rc = hdb_media_hash(img, len, &limits, &r);
    if (rc != HDB_MEDIA_OK) {
        tool_error("%s: no PDQ hash: %s", path, hdb_media_strerror(rc, &r));
        return TOOL_FAILED;
    }

    f = &r.frames[0];

    for (int i = 0; i < (o->variants ? HDB_PDQ_VARIANTS : 1); i++) {
        hdb_hex_encode(f->variants[i], HDB_PDQ_SIZE, hex);
        printf("%s:%s  %s  quality=%d\n", pdq_variant_names[i], hex, path,
               f->quality);
    }

    if (o->rd == NULL) {
        hdb_media_free(&r);
        return TOOL_OK;
    }

    rc = hdb_reader_pdq_match(o->rd,
                              (const unsigned char (*)[HDB_PDQ_SIZE])
                              f->variants, HDB_PDQ_VARIANTS, o->distance, &m);
    hdb_media_free(&r);

    if (rc == HDB_NOTFOUND) {
        printf("pdq: no listed hash within %u  %s\n", o->distance, path);
        return TOOL_OK;
    }

    if (rc != 0) {
        tool_error("%s", hdb_strerror(rc));
        return TOOL_FAILED;
    }

    hdb_hex_encode(m.listed, HDB_PDQ_SIZE, hex);
    printf("pdq: listed pdq:%s  %s  source=%s category=%s distance=%u "
           "variant=%s%s\n", hex, path, m.source,
           m.category[0] ? m.category : "-", m.distance,
           pdq_variant_names[m.variant], m.allowed ? " allowed" : "");

    return TOOL_OK;
}

static int
hash_file(hdb_digest_t *d, const char *path, const hash_opts_t *o)
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

        if (jlen == 0 && jpeg == NULL
            && hdb_media_sniff(buf, n) == HDB_MEDIA_NONE)
        {
            jcap = (size_t) -1;     /* not an image: keep nothing */
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

    for (int i = 0; i < HDB_NDIGESTS; i++) {
        hdb_type_t  t = hdb_types_by_cost[i];

        if (out.types & HDB_TYPE_BIT(t)) {
            hdb_hex_encode(out.md[t], hdb_type_size(t), hex);
            printf("%s:%s  %s\n", hdb_type_name(t), hex, path);
        }
    }

    if (jpeg) {
        int  rc = hash_pdq(jpeg, jlen, path, o);

        free(jpeg);
        return rc;
    }

    return TOOL_OK;
}

int
cmd_hash(int argc, char **argv)
{
    int             c, rc, status;
    char           *end;
    hdb_t          *db;
    unsigned        types;
    const char     *dbpath;
    hash_opts_t     o;
    hdb_digest_t   *d;
    unsigned long   distance;

    static const struct option  opts[] = {
        { "db", required_argument, NULL, 'd' },
        { "distance", required_argument, NULL, 'D' },
        { "variants", no_argument, NULL, 'v' },
        { "exact", no_argument, NULL, 'e' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    dbpath = NULL;
    memset(&o, 0, sizeof(o));
    o.distance = HDB_PDQ_DISTANCE_DEFAULT;
    optind = 1;

    while ((c = getopt_long(argc, argv, "d:D:veh", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dbpath = optarg;
            break;
        case 'D':
            distance = strtoul(optarg, &end, 10);
            if (*end || end == optarg || distance > HDB_PDQ_DISTANCE_MAX) {
                tool_error("--distance: not a number from 0 to %d: %s",
                           HDB_PDQ_DISTANCE_MAX, optarg);
                return TOOL_FAILED;
            }
            o.distance = (unsigned) distance;
            break;
        case 'v':
            o.variants = 1;
            break;
        case 'e':
            o.exact = 1;
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

    types = HDB_DIGEST_TYPES;
    db = NULL;

    if (dbpath) {
        rc = tool_open(&db, dbpath, HDB_OPEN_RDONLY);
        if (rc != TOOL_OK) {
            return rc;
        }

        rc = hdb_reader_new(db, &o.rd);
        if (rc == 0) {
            rc = hdb_reader_begin(o.rd);
            if (rc == 0) {
                rc = hdb_reader_plan(o.rd, &types);
            }
        }

        if (rc != 0) {
            tool_error("%s: %s", dbpath, hdb_strerror(rc));
            hdb_reader_free(o.rd);
            hdb_close(db);
            return TOOL_FAILED;
        }
    }

    status = TOOL_OK;

    d = hdb_digest_new(types);
    if (d == NULL) {
        tool_error("cannot set up the digests");
        status = TOOL_FAILED;
    }

    for (int i = optind; d && i < argc; i++) {
        if (hash_file(d, argv[i], &o) != TOOL_OK) {
            status = TOOL_FAILED;
        }
    }

    hdb_digest_free(d);
    hdb_reader_free(o.rd);
    hdb_close(db);

    return status;
}
