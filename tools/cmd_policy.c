/*
 * hashdb policy, promote, flood-clear: what a source's matches do on
 * this node, shadow updates made live, flood demotions lifted.  Each is
 * one short write; running workers apply it at their next lookup.
 */

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static const char  policy_usage[] =
    "usage: hashdb policy DB --source NAME [--action block|log]\n"
    "                        [--categories C1,C2,... | --all-categories]\n"
    "\n"
    "What the source's matches do on this node, kept apart from its list\n"
    "(no sync changes it).  --action log: its matches are logged, never\n"
    "blocked.  --categories: only entries of these categories block; the\n"
    "others (and entries without one) are logged.  Without an option,\n"
    "prints the policy.  Running nginx workers apply a change at their\n"
    "next request.\n";

static const char  promote_usage[] =
    "usage: hashdb promote DB --source NAME\n"
    "\n"
    "Makes live what shadow updates (sync, apply or pull --shadow) of the\n"
    "source staged: its staged entries block from now on.  Prints how many\n"
    "were staged.\n";

static const char  flood_usage[] =
    "usage: hashdb flood-clear DB ENTRY... | --all\n"
    "\n"
    "Lifts the demotions that upload_filter_flood made on this node's\n"
    "nginx: ENTRY as its warn line's entry= names it (sha256:HEX, pdq:HEX,\n"
    "video:NAME).  The entry blocks again, and its count starts over.\n";

/* "c1,c2" into at most HDB_POLICY_CATEGORIES_MAX names in buf */
static int
policy_categories(char *list, const char **cats, size_t *n)
{
    char  *p, *save;

    *n = 0;

    for (p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (*n == HDB_POLICY_CATEGORIES_MAX) {
            tool_error("--categories: more than %d",
                       HDB_POLICY_CATEGORIES_MAX);
            return TOOL_FAILED;
        }

        cats[(*n)++] = p;
    }

    if (*n == 0) {
        tool_error("--categories: none given (--all-categories for all)");
        return TOOL_FAILED;
    }

    return TOOL_OK;
}

/* the source's policy, in a read transaction of its own */
static int
policy_read(hdb_t *db, const char *source, hdb_policy_t *p)
{
    int            rc;
    hdb_reader_t  *rd;

    rc = hdb_reader_new(db, &rd);
    if (rc == 0) {
        rc = hdb_reader_begin(rd);
        if (rc == 0) {
            rc = hdb_reader_policy(rd, source, p);
            hdb_reader_end(rd);
        }
        hdb_reader_free(rd);
    }

    return rc;
}

static int
policy_print(hdb_t *db, const char *path, const char *source)
{
    int           rc;
    char          when[32];
    hdb_policy_t  p;

    rc = policy_read(db, source, &p);
    if (rc != 0) {
        return tool_source_result(path, source, rc);
    }

    printf("source: %s\naction: %s\ncategories: ", source,
           hdb_action_name(p.action));

    if (p.ncategories == 0) {
        printf("all\n");
    }

    for (size_t i = 0; i < p.ncategories; i++) {
        printf("%s%s", p.categories[i], i + 1 < p.ncategories ? "," : "\n");
    }

    if (p.staged) {
        tool_format_time(p.staged_at, when, sizeof(when));
        printf("staged: %" PRIu64 " (shadow update of %s; hashdb promote)\n",
               p.staged_added, when);
    } else {
        printf("staged: none\n");
    }

    return TOOL_OK;
}

int
cmd_policy(int argc, char **argv)
{
    int            c, rc, action, cats_given;
    size_t         n;
    hdb_t         *db;
    char          *list;
    hdb_policy_t   p;
    const char    *source, *cats[HDB_POLICY_CATEGORIES_MAX];

    static const struct option  opts[] = {
        { "source", required_argument, NULL, 's' },
        { "action", required_argument, NULL, 'a' },
        { "categories", required_argument, NULL, 'c' },
        { "all-categories", no_argument, NULL, 'A' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    source = NULL;
    list = NULL;
    action = -1;
    cats_given = 0;
    n = 0;
    optind = 1;

    while ((c = getopt_long(argc, argv, ":s:a:c:Ah", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            source = optarg;
            break;
        case 'a':
            if (strcmp(optarg, "block") == 0) {
                action = HDB_ACTION_BLOCK;
            } else if (strcmp(optarg, "log") == 0) {
                action = HDB_ACTION_LOG;
            } else {
                return tool_usage(policy_usage,
                                  "--action %s: block or log", optarg);
            }
            break;
        case 'c':
            list = optarg;
            cats_given = 1;
            break;
        case 'A':
            list = NULL;
            cats_given = 1;
            break;
        case 'h':
            fputs(policy_usage, stdout);
            return TOOL_OK;
        default:
            return tool_bad_option(c, argv, policy_usage);
        }
    }

    if (source == NULL) {
        return tool_usage(policy_usage, "--source NAME is missing");
    }

    if (argc - optind != 1) {
        return tool_usage(policy_usage, "one DB wanted");
    }

    if (list && policy_categories(list, cats, &n) != TOOL_OK) {
        return TOOL_FAILED;
    }

    if (tool_open(&db, argv[optind],
                  action >= 0 || cats_given ? 0 : HDB_OPEN_RDONLY)
        != TOOL_OK)
    {
        return TOOL_FAILED;
    }

    if (action < 0 && !cats_given) {
        rc = policy_print(db, argv[optind], source);
        hdb_close(db);
        return rc;
    }

    rc = 0;

    if (action < 0 || !cats_given) {
        /* what is not given stays as it was */
        rc = policy_read(db, source, &p);

        if (rc == 0 && action < 0) {
            action = p.action;
        }

        if (rc == 0 && !cats_given) {
            for (n = 0; n < p.ncategories; n++) {
                cats[n] = p.categories[n];
            }
        }
    }

    if (rc == 0) {
        rc = hdb_policy_set(db, source, action, cats, n);
    }

    hdb_close(db);

    return tool_source_result(argv[optind], source, rc);
}

int
cmd_promote(int argc, char **argv)
{
    int          rc;
    uint64_t     n;
    hdb_t       *db;
    const char  *source;

    if (tool_source_args(argc, argv, promote_usage, &source, 1) != TOOL_OK
        || tool_open(&db, argv[optind], 0) != TOOL_OK)
    {
        return TOOL_FAILED;
    }

    rc = hdb_promote(db, source, &n);
    hdb_close(db);

    if (tool_source_result(argv[optind], source, rc) != TOOL_OK) {
        return TOOL_FAILED;
    }

    printf("%s: %" PRIu64 " staged entries and videos promoted\n", source, n);
    return TOOL_OK;
}

/*
 * An entry as nginx names it: TYPE:HEX in lowercase (written back into
 * arg, which is no longer), or video:NAME as it is
 */
static int
flood_entry(char *arg)
{
    size_t         len;
    hdb_type_t     type;
    unsigned char  digest[HDB_DIGEST_MAX];

    len = strlen(arg);

    if (strncmp(arg, "video:", 6) == 0) {
        return len > 6 && len <= HDB_FLOOD_ENTRY_MAX ? TOOL_OK : TOOL_FAILED;
    }

    if (strchr(arg, ':') == NULL
        || tool_parse_digest(arg, &type, digest) != TOOL_OK)
    {
        return TOOL_FAILED;
    }

    len = strlen(hdb_type_name(type));
    memcpy(arg, hdb_type_name(type), len);
    arg[len] = ':';
    hdb_hex_encode(digest, hdb_type_size(type), arg + len + 1);

    return TOOL_OK;
}

int
cmd_flood_clear(int argc, char **argv)
{
    int     c, rc, all;
    hdb_t  *db;

    static const struct option  opts[] = {
        { "all", no_argument, NULL, 'a' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    all = 0;
    optind = 1;

    while ((c = getopt_long(argc, argv, ":ah", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            all = 1;
            break;
        case 'h':
            fputs(flood_usage, stdout);
            return TOOL_OK;
        default:
            return tool_bad_option(c, argv, flood_usage);
        }
    }

    if (argc - optind < 1 || (all && argc - optind != 1)
        || (!all && argc - optind < 2))
    {
        return tool_usage(flood_usage, "DB and ENTRY... or --all wanted");
    }

    for (int i = optind + 1; i < argc; i++) {
        if (flood_entry(argv[i]) != TOOL_OK) {
            return tool_usage(flood_usage, "%s: not an entry (TYPE:HEX or "
                              "video:NAME)", argv[i]);
        }
    }

    if (tool_open(&db, argv[optind], 0) != TOOL_OK) {
        return TOOL_FAILED;
    }

    rc = 0;

    if (all) {
        rc = hdb_flood_clear(db, "*");
    }

    for (int i = optind + 1; rc == 0 && i < argc; i++) {
        rc = hdb_flood_clear(db, argv[i]);
    }

    hdb_close(db);

    if (rc != 0) {
        tool_error("%s: %s", argv[optind], hdb_strerror(rc));
        return TOOL_FAILED;
    }

    return TOOL_OK;
}
