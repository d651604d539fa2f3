/*
 * hashdb init, allow, unallow, allowed, disable, enable, trust, keygen,
 * sign: the hash set's small administrative commands.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "signature.h"
#include "tool.h"

static const char  init_usage[] =
    "usage: hashdb init [--map-size SIZE] DB\n"
    "\n"
    "Creates an empty hash set in the directory DB (created if missing,\n"
    "mode 0750; the files are 0640: a list is sensitive).  Running it on\n"
    "an existing hash set changes nothing.  --map-size sets the initial\n"
    "LMDB map (default 256M; it doubles whenever an update needs more).\n";

static const char  allow_usage[] =
    "usage: hashdb allow DB HEX|video:SOURCE/NAME --reason TEXT\n"
    "       hashdb unallow DB HEX|video:SOURCE/NAME\n"
    "       hashdb allowed DB\n"
    "\n"
    "The local allow list: an allowed digest never blocks an upload (the\n"
    "module logs the match as allowed).  It survives every import and sync.\n"
    "HEX is a digest (MD5, SHA-1, SHA-256 by its length) or TYPE:HEX; a\n"
    "listed PDQ hash is pdq:HEX, as the module's log names it, and allowing\n"
    "it allows every upload that matches it.  video:SOURCE/NAME is a listed\n"
    "video, by the source= and video= of the log line: uploads that match\n"
    "it, whole or a frame of it, are allowed.\n";

/* the entry an allow command names: a digest, or video:SOURCE/NAME */
typedef struct {
    hdb_type_t     type;
    unsigned char  digest[HDB_DIGEST_MAX];
    char           source[HDB_SOURCE_MAX + 1];
    const char    *video;       /* NULL: a digest */
} allow_entry_t;

static int
parse_allow_entry(const char *arg, allow_entry_t *e)
{
    size_t       n;
    const char  *name, *slash;

    memset(e, 0, sizeof(*e));

    if (strncmp(arg, "video:", 6) != 0) {
        return tool_parse_digest(arg, &e->type, e->digest);
    }

    /* a source name has no "/": a video's name may */
    name = arg + 6;
    slash = strchr(name, '/');
    n = slash ? (size_t) (slash - name) : 0;

    if (n == 0 || n > HDB_SOURCE_MAX || slash[1] == '\0') {
        tool_error("%s: video:SOURCE/NAME wanted, as the log line's "
                   "source= and video=", arg);
        return TOOL_FAILED;
    }

    memcpy(e->source, name, n);
    e->video = slash + 1;

    if (!hdb_valid_name(e->source)
        || !hdb_valid_video_name(e->video, strlen(e->video)))
    {
        tool_error("%s: not a source and video name", arg);
        return TOOL_FAILED;
    }

    return TOOL_OK;
}

static const char  disable_usage[] =
    "usage: hashdb disable DB --source NAME\n"
    "       hashdb enable DB --source NAME\n"
    "       hashdb no-stills DB --source NAME\n"
    "       hashdb stills DB --source NAME\n"
    "\n"
    "A disabled source keeps its entries, but none of them matches.  The\n"
    "frames of a no-stills source's videos match videos only, not images\n"
    "(by default a still of a listed video is listed material).\n";

static const char  upgrade_usage[] =
    "usage: hashdb upgrade DB\n"
    "\n"
    "Brings a hash set made by an older release up to this one's schema,\n"
    "in one transaction (other commands and nginx refuse an older set and\n"
    "say so).  Then reload nginx: workers of the release before that still\n"
    "have the set open fail their PDQ lookups until they open it again.\n";

static const char  trust_usage[] =
    "usage: hashdb trust DB --source NAME PUBLIC.pem\n"
    "\n"
    "Trusts an Ed25519 public key for the updates of a source: from then on\n"
    "a signed import, sync or apply must carry its signature.\n";

static const char  keygen_usage[] =
    "usage: hashdb keygen --secret SECRET.pem --public PUBLIC.pem\n"
    "\n"
    "Creates an Ed25519 key pair for signing lists (the secret key 0600).\n";

static const char  sign_usage[] =
    "usage: hashdb sign --key SECRET.pem --source NAME --seq N\n"
    "                   [--kind full|delta] [--out SIG] LIST\n"
    "\n"
    "Writes LIST.sig (or SIG): a signature over the list's SHA-256, the\n"
    "source, the kind (full for hashdb sync, delta for apply and import)\n"
    "and the sequence number, which must grow with every list published.\n";

int
cmd_init(int argc, char **argv)
{
    int        c, rc;
    hdb_t     *db;
    size_t     mapsize;
    uint64_t   size;

    static const struct option  opts[] = {
        { "map-size", required_argument, NULL, 'm' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    mapsize = 0;
    optind = 1;

    while ((c = getopt_long(argc, argv, ":m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (tool_parse_size(optarg, &size) != TOOL_OK
                || size < (1 << 20))
            {
                tool_error("--map-size %s: a size of at least 1M", optarg);
                return TOOL_FAILED;
            }
            mapsize = (size_t) size;
            break;
        case 'h':
            fputs(init_usage, stdout);
            return TOOL_OK;
        default:
            return tool_bad_option(c, argv, init_usage);
        }
    }

    if (argc - optind != 1) {
        return tool_usage(init_usage, argc == optind ? "no DB given"
                                                     : "one DB, not %d",
                          argc - optind);
    }

    rc = hdb_create(&db, argv[optind], HDB_OPEN_CREATE, mapsize);
    if (rc != 0) {
        tool_error("%s: %s", argv[optind], hdb_strerror(rc));
        return TOOL_FAILED;
    }

    hdb_close(db);
    return TOOL_OK;
}

int
cmd_upgrade(int argc, char **argv)
{
    int     rc, upgraded;
    hdb_t  *db;

    if (tool_wants_help(argc, argv, upgrade_usage)) {
        return TOOL_OK;
    }

    if (argc != 2) {
        return tool_usage(upgrade_usage, "one DB wanted");
    }

    if (tool_open(&db, argv[1], HDB_OPEN_UPGRADE) != TOOL_OK) {
        return TOOL_FAILED;
    }

    rc = hdb_upgrade(db, &upgraded);
    hdb_close(db);

    if (rc != 0) {
        tool_error("%s: %s; nothing changed", argv[1], hdb_strerror(rc));
        return TOOL_FAILED;
    }

    printf("%s: %s\n", argv[1],
           upgraded ? "upgraded (the PDQ index rebuilt); now reload nginx"
                    : "already of this release's schema");

    return TOOL_OK;
}

int
cmd_allow(int argc, char **argv)
{
    int             c, rc;
    hdb_t          *db;
    const char     *reason;
    allow_entry_t   e;

    static const struct option  opts[] = {
        { "reason", required_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    reason = NULL;
    optind = 1;

    while ((c = getopt_long(argc, argv, ":r:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            reason = optarg;
            break;
        case 'h':
            fputs(allow_usage, stdout);
            return TOOL_OK;
        default:
            return tool_bad_option(c, argv, allow_usage);
        }
    }

    if (reason == NULL || reason[0] == '\0') {
        return tool_usage(allow_usage, "--reason TEXT is missing: say why");
    }

    if (argc - optind != 2) {
        return tool_usage(allow_usage, "DB and one HEX wanted, %d argument%s "
                          "given", argc - optind,
                          argc - optind == 1 ? "" : "s");
    }

    if (strlen(reason) > HDB_REASON_MAX) {
        tool_error("--reason: at most %d characters", HDB_REASON_MAX);
        return TOOL_FAILED;
    }

    if (parse_allow_entry(argv[optind + 1], &e) != TOOL_OK
        || tool_open(&db, argv[optind], 0) != TOOL_OK)
    {
        return TOOL_FAILED;
    }

    rc = e.video ? hdb_allow_video_add(db, e.source, e.video, reason)
                 : hdb_allow_add(db, e.type, e.digest, reason);
    hdb_close(db);

    if (rc != 0) {
        tool_error("%s: %s", argv[optind], hdb_strerror(rc));
        return TOOL_FAILED;
    }

    return TOOL_OK;
}

int
cmd_unallow(int argc, char **argv)
{
    int             rc;
    hdb_t          *db;
    allow_entry_t   e;

    if (tool_wants_help(argc, argv, allow_usage)) {
        return TOOL_OK;
    }

    if (argc != 3) {
        return tool_usage(allow_usage, "DB and one HEX wanted");
    }

    if (parse_allow_entry(argv[2], &e) != TOOL_OK
        || tool_open(&db, argv[1], 0) != TOOL_OK)
    {
        return TOOL_FAILED;
    }

    rc = e.video ? hdb_allow_video_remove(db, e.source, e.video)
                 : hdb_allow_remove(db, e.type, e.digest);
    hdb_close(db);

    if (rc == HDB_NOTFOUND) {
        tool_error("%s: not on the allow list", argv[2]);
        return TOOL_FAILED;
    }

    if (rc != 0) {
        tool_error("%s: %s", argv[1], hdb_strerror(rc));
        return TOOL_FAILED;
    }

    return TOOL_OK;
}

static int
print_allowed(const hdb_allow_t *a, void *data)
{
    char       hex[HDB_HEX_MAX + 1], date[32];
    time_t     t = (time_t) a->added;
    struct tm  tm;

    (void) data;

    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);

    if (a->video[0]) {
        printf("video:%s/%s\t%s\t%s\n", a->source, a->video, date,
               a->reason);
        return 0;
    }

    hdb_hex_encode(a->digest, hdb_type_size(a->type), hex);
    printf("%s:%s\t%s\t%s\n", hdb_type_name(a->type), hex, date, a->reason);

    return 0;
}

int
cmd_allowed(int argc, char **argv)
{
    int             rc;
    hdb_t          *db;
    hdb_reader_t   *rd;

    if (tool_wants_help(argc, argv, allow_usage)) {
        return TOOL_OK;
    }

    if (argc != 2) {
        return tool_usage(allow_usage, "one DB wanted");
    }

    if (tool_open(&db, argv[1], HDB_OPEN_RDONLY) != TOOL_OK) {
        return TOOL_FAILED;
    }

    rc = hdb_reader_new(db, &rd);
    if (rc == 0) {
        rc = hdb_reader_begin(rd);
        if (rc == 0) {
            rc = hdb_reader_allowed(rd, print_allowed, NULL);
        }
        hdb_reader_free(rd);
    }

    hdb_close(db);

    if (rc != 0) {
        tool_error("%s: %s", argv[1], hdb_strerror(rc));
        return TOOL_FAILED;
    }

    return TOOL_OK;
}

int
cmd_disable(int argc, char **argv)
{
    int          rc;
    hdb_t       *db;
    const char  *source;

    rc = tool_source_args(argc, argv, disable_usage, &source, 1);
    if (rc != TOOL_OK || tool_open(&db, argv[optind], 0) != TOOL_OK) {
        return TOOL_FAILED;
    }

    /* disable|enable, and no-stills|stills: a flag set or cleared */
    rc = strstr(argv[0], "stills")
         ? hdb_source_set_flag(db, source, HDB_SOURCE_NO_STILLS,
                               strcmp(argv[0], "no-stills") == 0)
         : hdb_source_set_disabled(db, source,
                                   strcmp(argv[0], "disable") == 0);
    hdb_close(db);

    return tool_source_result(argv[optind], source, rc);
}

int
cmd_trust(int argc, char **argv)
{
    int             rc;
    char            err[512];
    hdb_t          *db;
    const char     *source;
    unsigned char   pub[HDB_KEY_SIZE];

    rc = tool_source_args(argc, argv, trust_usage, &source, 2);
    if (rc != TOOL_OK) {
        return rc;
    }

    if (sig_load_public(argv[optind + 1], pub, err, sizeof(err)) != 0) {
        tool_error("%s", err);
        return TOOL_FAILED;
    }

    if (tool_open(&db, argv[optind], 0) != TOOL_OK) {
        return TOOL_FAILED;
    }

    rc = hdb_key_add(db, source, pub);
    hdb_close(db);

    if (rc != 0) {
        tool_error("%s: %s", argv[optind], hdb_strerror(rc));
        return TOOL_FAILED;
    }

    return TOOL_OK;
}

int
cmd_keygen(int argc, char **argv)
{
    int          c;
    char         err[512];
    const char  *secret, *public;

    static const struct option  opts[] = {
        { "secret", required_argument, NULL, 's' },
        { "public", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    secret = public = NULL;
    optind = 1;

    while ((c = getopt_long(argc, argv, ":s:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            secret = optarg;
            break;
        case 'p':
            public = optarg;
            break;
        case 'h':
            fputs(keygen_usage, stdout);
            return TOOL_OK;
        default:
            return tool_bad_option(c, argv, keygen_usage);
        }
    }

    if (secret == NULL || public == NULL) {
        return tool_usage(keygen_usage, "--%s FILE is missing",
                          secret == NULL ? "secret" : "public");
    }

    if (optind != argc) {
        return tool_usage(keygen_usage, "no argument wanted: %s",
                          argv[optind]);
    }

    if (sig_keygen(secret, public, err, sizeof(err)) != 0) {
        tool_error("%s", err);
        return TOOL_FAILED;
    }

    return TOOL_OK;
}

static int
file_sha256(const char *path, unsigned char *out)
{
    FILE           *f;
    size_t          n;
    EVP_MD_CTX     *md;
    unsigned char   buf[65536];

    f = fopen(path, "rb");
    if (f == NULL) {
        tool_error("%s: %s", path, strerror(errno));
        return TOOL_FAILED;
    }

    md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);

    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        EVP_DigestUpdate(md, buf, n);
    }

    EVP_DigestFinal_ex(md, out, NULL);
    EVP_MD_CTX_free(md);

    if (ferror(f)) {
        tool_error("%s: %s", path, strerror(errno));
        fclose(f);
        return TOOL_FAILED;
    }

    fclose(f);
    return TOOL_OK;
}

int
cmd_sign(int argc, char **argv)
{
    int             c;
    char            err[512], out[4096], *end;
    uint64_t        seq;
    const char     *key, *source, *kind, *outp, *seqs;
    unsigned char   sha[32];

    static const struct option  opts[] = {
        { "key", required_argument, NULL, 'k' },
        { "source", required_argument, NULL, 's' },
        { "seq", required_argument, NULL, 'n' },
        { "kind", required_argument, NULL, 'K' },
        { "out", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    key = source = outp = seqs = NULL;
    kind = "full";
    optind = 1;

    while ((c = getopt_long(argc, argv, ":k:s:n:K:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key = optarg; break;
        case 's': source = optarg; break;
        case 'n': seqs = optarg; break;
        case 'K': kind = optarg; break;
        case 'o': outp = optarg; break;
        case 'h':
            fputs(sign_usage, stdout);
            return TOOL_OK;
        default:
            return tool_bad_option(c, argv, sign_usage);
        }
    }

    if (key == NULL || source == NULL || seqs == NULL) {
        return tool_usage(sign_usage, "--%s is missing",
                          key == NULL ? "key FILE"
                          : source == NULL ? "source NAME" : "seq N");
    }

    if (argc - optind != 1) {
        return tool_usage(sign_usage, argc == optind ? "no LIST given"
                                      : "one LIST, not %d", argc - optind);
    }

    if (!hdb_valid_name(source)) {
        tool_error("--source %s: %s", source, hdb_strerror(HDB_ENAME));
        return TOOL_FAILED;
    }

    if (strcmp(kind, "full") != 0 && strcmp(kind, "delta") != 0) {
        tool_error("--kind %s: full or delta", kind);
        return TOOL_FAILED;
    }

    errno = 0;
    seq = strtoull(seqs, &end, 10);
    if (errno || *end != '\0' || seqs[0] < '0' || seqs[0] > '9') {
        tool_error("--seq %s: a number", seqs);
        return TOOL_FAILED;
    }

    if (file_sha256(argv[optind], sha) != TOOL_OK) {
        return TOOL_FAILED;
    }

    if (outp == NULL) {
        snprintf(out, sizeof(out), "%s.sig", argv[optind]);
        outp = out;
    }

    if (sig_sign(key, source, kind, seq, sha, outp, err, sizeof(err)) != 0) {
        tool_error("%s", err);
        return TOOL_FAILED;
    }

    return TOOL_OK;
}
