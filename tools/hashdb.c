/*
 * hashdb: keeps the hash set that the upload filter reads.
 * This file dispatches subcommands; each lives in a cmd_*.c file.
 */

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>

#include "hdb_media.h"
#include "tool.h"

const char  *tool_name = "hashdb";
const char  *tool_command = "";

static const char  usage[] =
    "usage: hashdb COMMAND [ARGS]\n"
    "\n"
    "Keeps the hash set (an LMDB directory) that the nginx upload filter\n"
    "reads.  Commands:\n"
    "  init DB                       create an empty hash set\n"
    "  upgrade DB                    bring an older release's set up to date\n"
    "  import DB --source NAME LIST  add a list's digests to a source\n"
    "  sync DB --source NAME LIST    make a source hold exactly a full list\n"
    "  apply DB --source NAME DELTA  add and remove digests of a source\n"
    "  lookup DB HEX...              show whether digests are listed\n"
    "  stats [--json] DB             sources, entries, what is computed\n"
    "  hash [--db DB] FILE...        the digests the module computes\n"
    "  scan DB PATH...               stored files against the hash set\n"
    "  rescan DB LOG...              past uploads (access logs) against it\n"
    "  allow DB HEX --reason TEXT    never block this digest (allow list)\n"
    "  unallow DB HEX                take a digest off the allow list\n"
    "  allowed DB                    list the allow list\n"
    "  disable|enable DB --source N  stop or resume matching a source\n"
    "  no-stills|stills DB --source N  do its videos' frames match images\n"
    "  policy DB --source NAME       what its matches do: block or log\n"
    "  promote DB --source NAME      make a shadow update's entries block\n"
    "  flood-clear DB ENTRY...       lift upload_filter_flood demotions\n"
    "  trust DB --source NAME KEY    trust a public key for a source\n"
    "  keygen --secret F --public F  create a signing key pair\n"
    "  sign --key F --source N --seq N LIST   sign a list\n"
    "  publish FEEDDIR --source N --key F LIST  a list into a feed\n"
    "  pull DB --source NAME URL     bring a source up to date from a feed\n"
    "\n"
    "Run \"hashdb COMMAND --help\" for a command's options, \"hashdb\n"
    "--version\" for the release and the libraries it decodes with.\n"
    "Exit status: 0 success, 1 lookup found nothing (scan: found\n"
    "something listed), 2 error.\n";

static const struct {
    const char  *name;
    int        (*run)(int argc, char **argv);
} commands[] = {
    { "init", cmd_init },
    { "upgrade", cmd_upgrade },
    { "import", cmd_update },
    { "sync", cmd_update },
    { "apply", cmd_update },
    { "lookup", cmd_lookup },
    { "stats", cmd_stats },
    { "hash", cmd_hash },
    { "scan", cmd_scan },
    { "rescan", cmd_rescan },
    { "allow", cmd_allow },
    { "unallow", cmd_unallow },
    { "allowed", cmd_allowed },
    { "disable", cmd_disable },
    { "enable", cmd_disable },
    { "no-stills", cmd_disable },
    { "stills", cmd_disable },
    { "policy", cmd_policy },
    { "promote", cmd_promote },
    { "flood-clear", cmd_flood_clear },
    { "trust", cmd_trust },
    { "keygen", cmd_keygen },
    { "sign", cmd_sign },
    { "publish", cmd_publish },
    { "pull", cmd_pull },
};

void
tool_error(const char *fmt, ...)
{
    va_list  ap;

    fprintf(stderr, "%s: ", tool_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int
tool_usage(const char *usage, const char *fmt, ...)
{
    va_list  ap;

    fprintf(stderr, "%s %s: ", tool_name, tool_command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", usage);

    return TOOL_FAILED;
}

const char *
tool_bad_option_text(int c, char **argv)
{
    static char   text[256];
    const char   *opt = argv[optind - 1];

    if (c == ':') {
        snprintf(text, sizeof(text), "option %s needs a value", opt);

    } else if (optopt && opt[0] == '-' && opt[1] != '-') {
        snprintf(text, sizeof(text), "unknown option -%c", optopt);

    } else {
        snprintf(text, sizeof(text), "unknown option %s", opt);
    }

    return text;
}

int
tool_bad_option(int c, char **argv, const char *usage)
{
    return tool_usage(usage, "%s", tool_bad_option_text(c, argv));
}

int
tool_open(hdb_t **db, const char *path, unsigned flags)
{
    int  rc;

    rc = hdb_open(db, path, flags);
    if (rc != 0) {
        tool_error("%s: %s", path, hdb_strerror(rc));
        return TOOL_FAILED;
    }

    return TOOL_OK;
}

void
tool_format_time(int64_t t, char *buf, size_t size)
{
    time_t     tt = (time_t) t;
    struct tm  tm;

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
        snprintf(buf, size, "-");
        return;
    }

    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
tool_parse_sampling(const char *arg, int *sampling)
{
    static const char  *names[] = { "exact", "fast", "keyframes" };

    for (int i = 0; i < 3; i++) {
        if (strcmp(arg, names[i]) == 0) {
            *sampling = i;      /* HDB_VIDEO_EXACT, _FAST, _KEYFRAMES */
            return TOOL_OK;
        }
    }

    tool_error("--sampling: exact, fast or keyframes, not %s", arg);
    return TOOL_FAILED;
}

int
tool_parse_size(const char *arg, uint64_t *size)
{
    char                *end;
    unsigned             shift;
    unsigned long long   v;

    errno = 0;
    v = strtoull(arg, &end, 10);

    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: shift = 0; break;
    }

    if (errno || end == arg || *end != '\0' || v == 0
        || v > (UINT64_MAX >> shift))
    {
        return TOOL_FAILED;
    }

    *size = (uint64_t) v << shift;
    return TOOL_OK;
}

int
tool_key_trusted(const unsigned char (*keys)[HDB_KEY_SIZE], size_t n,
    const unsigned char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (memcmp(keys[i], key, HDB_KEY_SIZE) == 0) {
            return 1;
        }
    }

    return 0;
}

int
tool_parse_distance(const char *arg, unsigned *distance)
{
    char           *end;
    unsigned long   v;

    v = strtoul(arg, &end, 10);

    if (*end || end == arg || v > HDB_PDQ_DISTANCE_MAX) {
        tool_error("--distance: not a number from 0 to %d: %s",
                   HDB_PDQ_DISTANCE_MAX, arg);
        return TOOL_FAILED;
    }

    *distance = (unsigned) v;

    return TOOL_OK;
}

int
tool_source_args(int argc, char **argv, const char *usage,
    const char **source, int npos)
{
    int  c;

    static const struct option  opts[] = {
        { "source", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    *source = NULL;
    optind = 1;

    while ((c = getopt_long(argc, argv, ":s:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            *source = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            exit(TOOL_OK);
        default:
            return tool_bad_option(c, argv, usage);
        }
    }

    if (*source == NULL) {
        return tool_usage(usage, "--source NAME is missing");
    }

    if (argc - optind != npos) {
        return tool_usage(usage, "%d argument%s given, %d wanted",
                          argc - optind, argc - optind == 1 ? "" : "s", npos);
    }

    if (!hdb_valid_name(*source)) {
        tool_error("--source %s: %s", *source, hdb_strerror(HDB_ENAME));
        return TOOL_FAILED;
    }

    return TOOL_OK;
}

int
tool_source_result(const char *path, const char *source, int rc)
{
    if (rc == HDB_NOTFOUND) {
        tool_error("%s: no source \"%s\"", path, source);
        return TOOL_FAILED;
    }

    if (rc != 0) {
        tool_error("%s: %s", path, hdb_strerror(rc));
        return TOOL_FAILED;
    }

    return TOOL_OK;
}

int
tool_parse_digest(const char *arg, hdb_type_t *type, unsigned char *digest)
{
    size_t       len;
    const char  *hex, *colon;

    colon = strchr(arg, ':');
    hex = colon ? colon + 1 : arg;
    len = strlen(hex);

    if (colon) {
        /* "pdq:HEX" and friends: a 64-digit hash may be either kind */
        if (hdb_type_from_name(arg, (size_t) (colon - arg), type) != 0
            || len != 2 * hdb_type_size(*type))
        {
            goto bad;
        }

    } else if (len % 2 || hdb_type_from_size(len / 2, type) != 0) {
        goto bad;
    }

    if (hdb_hex_decode(hex, len, digest) == 0) {
        return TOOL_OK;
    }

bad:

    tool_error("%s: %s", arg, hdb_strerror(HDB_ETYPE));
    return TOOL_FAILED;
}

int
tool_wants_help(int argc, char **argv, const char *text)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(text, stdout);
            return 1;
        }

        if (strcmp(argv[i], "--") == 0) {
            break;
        }
    }

    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return TOOL_FAILED;
    }

    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        /* the release, LMDB's, and what decodes each format */
        printf("hashdb %s (upload-filter), %s\n", HDB_VERSION,
               mdb_version(NULL, NULL, NULL));
        fputs(hdb_media_formats(), stdout);
        return TOOL_OK;
    }

    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "help") == 0)
    {
        fputs(usage, stdout);
        return TOOL_OK;
    }

    /* the commands say what getopt refused themselves (tool_bad_option) */
    opterr = 0;

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            tool_command = commands[i].name;
            return commands[i].run(argc - 1, argv + 1);
        }
    }

    tool_error("unknown command \"%s\" (see \"hashdb --help\")", argv[1]);
    return TOOL_FAILED;
}
