/*
 * hashdb lookup, hashdb stats: read-only views of a hash set.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>


#include "tool.h"

static const char  lookup_usage[] =
    "usage: hashdb lookup [--distance N] DB HEX...\n"
    "\n"
    "Prints, for each digest, whether the hash set lists it and with which\n"
    "source, category and date.  A digest is HEX (MD5, SHA-1, SHA-256 by its\n"
    "length) or TYPE:HEX; pdq:HEX finds the nearest listed PDQ hash within\n"
    "the distance (default 31, as the module).  Exit status: 0 if any is\n"
    "listed, 1 if none is, 2 on error.\n";

static const char  stats_usage[] =
    "usage: hashdb stats [--json | --prometheus] DB\n"
    "\n"
    "Prints the sources of a hash set, their entries per digest type, when\n"
    "each was last updated and its sequence number, the size on disk, and\n"
    "which digests the upload filter computes for this set.  --prometheus\n"
    "writes the hash set's gauges as upload_filter_metrics serves them, for\n"
    "node_exporter's textfile collector (write to a temporary file, then\n"
    "rename it into the collector's directory).\n";

static int
open_reader(const char *path, hdb_t **db, hdb_reader_t **rd)
{
    int  rc;

    /*
     * A few lookups need a few pages: without readahead a fault does not
     * read megabytes around them, and "stats" does not bring into memory
     * the set whose residency it reports.
     */
    rc = tool_open(db, path, HDB_OPEN_RDONLY | HDB_OPEN_NORDAHEAD);
    if (rc != TOOL_OK) {
        return rc;
    }

    rc = hdb_reader_new(*db, rd);
    if (rc == 0) {
        rc = hdb_reader_begin(*rd);
        if (rc != 0) {
            hdb_reader_free(*rd);
        }
    }

    if (rc != 0) {
        tool_error("%s: %s", path, hdb_strerror(rc));
        hdb_close(*db);
        return TOOL_FAILED;
    }

    return TOOL_OK;
}

static int
lookup_one(hdb_reader_t *rd, const char *arg, unsigned distance,
    hdb_match_t *m)
{
    hdb_type_t     type;
    unsigned char  digest[HDB_DIGEST_MAX];

    tool_parse_digest(arg, &type, digest);

    if (type != HDB_PDQ) {
        return hdb_reader_lookup(rd, type, digest, m);
    }

    /*
     * The hash as given: its rotations and mirrors come from the image's
     * DCT, not from the hash (hashdb hash --db FILE.jpg checks all 8).
     */
    return hdb_reader_pdq_match(rd, (const unsigned char (*)[HDB_PDQ_SIZE])
                                digest, 1, distance, m);
}

int
cmd_lookup(int argc, char **argv)
{
    int             c, rc, status, found;
    char            added[32], listed[HDB_HEX_MAX + 1];
    hdb_t          *db;
    unsigned        distance;
    hdb_type_t      type;
    hdb_match_t     m;
    hdb_reader_t   *rd;
    unsigned char   digest[HDB_DIGEST_MAX];

    static const struct option  opts[] = {
        { "distance", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    if (tool_wants_help(argc, argv, lookup_usage)) {
        return TOOL_OK;
    }

    distance = HDB_PDQ_DISTANCE_DEFAULT;

    while ((c = getopt_long(argc, argv, ":d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (tool_parse_distance(optarg, &distance) != TOOL_OK) {
                return TOOL_FAILED;
            }
            break;
        default:
            return tool_bad_option(c, argv, lookup_usage);
        }
    }

    if (argc - optind < 2) {
        return tool_usage(lookup_usage, argc == optind ? "no DB given"
                                                       : "no HEX given");
    }

    /* check every argument before opening anything */
    for (int i = optind + 1; i < argc; i++) {
        if (tool_parse_digest(argv[i], &type, digest) != TOOL_OK) {
            return TOOL_FAILED;
        }
    }

    rc = open_reader(argv[optind], &db, &rd);
    if (rc != TOOL_OK) {
        return rc;
    }

    status = TOOL_NOMATCH;
    found = 0;

    for (int i = optind + 1; i < argc; i++) {
        tool_parse_digest(argv[i], &type, digest);
        hdb_hex_encode(digest, hdb_type_size(type), listed);

        rc = lookup_one(rd, argv[i], distance, &m);

        if (rc == HDB_NOTFOUND) {
            printf("%s:%s\tnot listed\n", hdb_type_name(type), listed);
            continue;
        }

        if (rc != 0) {
            tool_error("%s: %s", argv[optind], hdb_strerror(rc));
            status = TOOL_FAILED;
            break;
        }

        tool_format_time(m.added, added, sizeof(added));
        printf("%s:%s\tlisted\tsource=%s category=%s added=%s",
               hdb_type_name(type), listed, m.source,
               m.category[0] ? m.category : "-", added);

        if (type == HDB_PDQ) {
            hdb_hex_encode(m.listed, HDB_PDQ_SIZE, listed);
            printf(" entry=pdq:%s distance=%u variant=%s", listed,
                   m.distance, hdb_pdq_variant_name(m.variant));
        }

        /* a source's policy or a shadow update that keeps it from blocking */
        if (m.action != HDB_ACTION_BLOCK) {
            printf(" action=%s", hdb_action_name(m.action));
        }

        if (m.allowed) {
            printf("\tallowed: %s", m.reason);
        }
        putchar('\n');
        found = 1;
    }

    if (status != TOOL_FAILED && found) {
        status = TOOL_OK;
    }

    hdb_reader_free(rd);
    hdb_close(db);

    return status;
}

static void
format_types(unsigned types, char *buf, size_t size)
{
    size_t  n = 0;

    buf[0] = '\0';

    for (int i = 0; i < HDB_NTYPES; i++) {
        hdb_type_t  t = i < HDB_NDIGESTS ? hdb_types_by_cost[i] : HDB_PDQ;

        if (types & HDB_TYPE_BIT(t)) {
            n += (size_t) snprintf(buf + n, size - n, "%s%s", n ? "," : "",
                                   hdb_type_name(t));
        }
    }

    if (n == 0) {
        snprintf(buf, size, "nothing (the set is empty)");
    }
}

typedef struct {
    int       json;
    int       prometheus;
    int            n;       /* sources printed */
    uint64_t       allowed;
    hdb_reader_t  *rd;
} stats_t;

static int
prometheus_write(const char *text, size_t len, void *data)
{
    (void) data;
    return fwrite(text, 1, len, stdout) == len ? 0 : errno;
}

static void
json_types(unsigned types)
{
    int  n = 0;

    putchar('[');

    for (int i = 0; i < HDB_NTYPES; i++) {
        hdb_type_t  t = i < HDB_NDIGESTS ? hdb_types_by_cost[i] : HDB_PDQ;

        if (types & HDB_TYPE_BIT(t)) {
            printf("%s\"%s\"", n++ ? "," : "", hdb_type_name(t));
        }
    }

    putchar(']');
}

static int
print_source(const hdb_source_t *src, void *data)
{
    int           rc;
    char          updated[32], created[32], complete[64], pdq[32];
    char          policy[64 + HDB_POLICY_CATEGORIES_MAX
                         * (HDB_CATEGORY_MAX + 3)];
    size_t        k;
    stats_t      *st = data;
    hdb_policy_t  p;

    rc = hdb_reader_policy(st->rd, src->name, &p);
    if (rc != 0) {
        return rc;
    }

    tool_format_time(src->updated, updated, sizeof(updated));
    tool_format_time(src->created, created, sizeof(created));
    format_types(src->complete, complete, sizeof(complete));

    if (st->json) {
        printf("%s\n    {\"name\": \"%s\", \"files\": %llu, \"md5\": %llu, "
               "\"sha1\": %llu, \"sha256\": %llu, \"pdq\": %llu, "
               "\"pdq_distance\": %u, \"videos\": %llu, \"complete\": ",
               st->n++ ? "," : "", src->name,
               (unsigned long long) src->files,
               (unsigned long long) src->count[HDB_MD5],
               (unsigned long long) src->count[HDB_SHA1],
               (unsigned long long) src->count[HDB_SHA256],
               (unsigned long long) src->count[HDB_PDQ], src->pdq_distance,
               (unsigned long long) src->videos);
        json_types(src->complete);
        printf(", \"created\": \"%s\", \"updated\": \"%s\", \"seq\": %llu, "
               "\"disabled\": %s, \"stills\": %s, \"keys\": %zu",
               created, updated, (unsigned long long) src->seq,
               (src->flags & HDB_SOURCE_DISABLED) ? "true" : "false",
               (src->flags & HDB_SOURCE_NO_STILLS) ? "false" : "true",
               src->keys);
        printf(", \"action\": \"%s\", \"categories\": [",
               hdb_action_name(p.action));
        for (size_t i = 0; i < p.ncategories; i++) {
            printf("%s\"%s\"", i ? "," : "", p.categories[i]);
        }
        printf("], \"staged\": %llu}",
               (unsigned long long) (p.staged ? p.staged_added : 0));
        return 0;
    }

    /* what keeps its matches from blocking: the policy, a shadow update */
    k = 0;
    policy[0] = '\0';

    if (p.action == HDB_ACTION_LOG) {
        k += (size_t) snprintf(policy + k, sizeof(policy) - k, " (log only)");
    }

    for (size_t i = 0; i < p.ncategories; i++) {
        k += (size_t) snprintf(policy + k, sizeof(policy) - k, "%s%s%s",
                               i ? "," : " (blocks ", p.categories[i],
                               i + 1 == p.ncategories ? ")" : "");
    }

    if (p.staged) {
        snprintf(policy + k, sizeof(policy) - k, " (staged %llu)",
                 (unsigned long long) p.staged_added);
    }

    if (src->pdq_distance) {
        snprintf(pdq, sizeof(pdq), "%llu/%u",
                 (unsigned long long) src->count[HDB_PDQ], src->pdq_distance);
    } else {
        snprintf(pdq, sizeof(pdq), "%llu",
                 (unsigned long long) src->count[HDB_PDQ]);
    }

    printf("%-24s %10llu %10llu %10llu %10llu %10s %8llu  %-20s %6llu %4zu  "
           "%s%s%s\n", src->name, (unsigned long long) src->files,
           (unsigned long long) src->count[HDB_MD5],
           (unsigned long long) src->count[HDB_SHA1],
           (unsigned long long) src->count[HDB_SHA256], pdq,
           (unsigned long long) src->videos, updated,
           (unsigned long long) src->seq, src->keys,
           src->complete ? complete : "-",
           (src->flags & HDB_SOURCE_DISABLED) ? " (disabled)" : "", policy);

    return 0;
}

static int
count_allowed(const hdb_allow_t *a, void *data)
{
    (void) a;
    ((stats_t *) data)->allowed++;
    return 0;
}

int
cmd_stats(int argc, char **argv)
{
    int             rc;
    char            path[4096], types[64];
    hdb_t          *db;
    unsigned        plan;
    size_t          used, resident, free_bytes;
    long long       size;
    const char     *dbpath;
    stats_t         st;
    struct stat     sb;
    hdb_reader_t   *rd;

    if (tool_wants_help(argc, argv, stats_usage)) {
        return TOOL_OK;
    }

    memset(&st, 0, sizeof(st));

    if (argc == 3 && strcmp(argv[1], "--json") == 0) {
        st.json = 1;
        dbpath = argv[2];

    } else if (argc == 3 && strcmp(argv[1], "--prometheus") == 0) {
        st.prometheus = 1;
        dbpath = argv[2];

    } else if (argc == 2) {
        dbpath = argv[1];

    } else {
        return tool_usage(stats_usage, argc < 2 ? "no DB given"
                                                : "one DB wanted");
    }

    rc = open_reader(dbpath, &db, &rd);
    if (rc != TOOL_OK) {
        return rc;
    }

    st.rd = rd;

    rc = hdb_reader_plan(rd, &plan);
    if (rc == 0) {
        rc = hdb_reader_allowed(rd, count_allowed, &st);
    }

    /* first, so that the pages of the free list it reads are counted */
    if (rc == 0) {
        rc = hdb_reader_free_bytes(rd, &free_bytes);
    }

    if (rc == 0) {
        /* what upload_filter_resident is about: is the set in memory? */
        rc = hdb_resident_probe(db, &used, &resident);
    }

    if (rc == 0 && st.prometheus) {
        rc = hdb_prometheus_gauges(db, rd, &used, &resident,
                                   prometheus_write, NULL);

    } else if (rc == 0) {
        format_types(plan, types, sizeof(types));
        snprintf(path, sizeof(path), "%s/data.mdb", dbpath);
        size = stat(path, &sb) == 0 ? (long long) sb.st_size : -1;

        if (st.json) {
            printf("{\n  \"path\": \"%s\",\n  \"size\": %lld,\n"
                   "  \"map_size\": %zu,\n  \"in_use\": %zu,\n"
                   "  \"free\": %zu,\n"
                   "  \"in_memory\": %zu,\n  \"computes\": ", dbpath, size,
                   hdb_mapsize(db), used, free_bytes, resident);
            json_types(plan);
            printf(",\n  \"allowed\": %llu,\n  \"sources\": [",
                   (unsigned long long) st.allowed);

        } else {
            printf("hash set:  %s\n", dbpath);
            printf("size:      %lld bytes on disk (map %zu)\n", size,
                   hdb_mapsize(db));
            printf("in memory: %zu of the %zu bytes in use (%.0f%%)\n",
                   resident, used, used ? 100.0 * resident / used : 100.0);
            printf("free:      %zu of them free pages, which later writes "
                   "reuse\n", free_bytes);
            printf("computes:  %s\n", types);
            printf("allowed:   %llu entries on the allow list\n\n",
                   (unsigned long long) st.allowed);
            printf("%-24s %10s %10s %10s %10s %10s %8s  %-20s %6s %4s  %s\n",
                   "source", "files", "md5", "sha1", "sha256", "pdq",
                   "videos", "updated", "seq", "keys", "complete");
        }

        rc = hdb_reader_sources(rd, print_source, &st);

        if (rc == 0 && st.json) {
            printf("\n  ]\n}\n");
        }
    }

    if (rc != 0) {
        tool_error("%s: %s", dbpath, hdb_strerror(rc));
    }

    hdb_reader_free(rd);
    hdb_close(db);

    return rc == 0 ? TOOL_OK : TOOL_FAILED;
}
