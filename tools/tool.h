/*
 * The hashdb command: what its subcommand files share.
 */

#ifndef TOOL_H
#define TOOL_H

#include <stdio.h>

#include "hashdb.h"

/* exit codes, as grep and diff use them */
#define TOOL_OK        0
#define TOOL_NOMATCH   1    /* lookup: nothing listed */
#define TOOL_LISTED    1    /* scan: something listed (as clamscan) */
#define TOOL_FAILED    2    /* usage, input or database errors */

extern const char  *tool_name;
extern const char  *tool_command;     /* the command running: "sync" */

void tool_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
int tool_open(hdb_t **db, const char *path, unsigned flags);

/*
 * A usage error: one line saying what is wrong ("hashdb CMD: ..."), then
 * the command's usage, on stderr.  Returns TOOL_FAILED.
 */
int tool_usage(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * What getopt_long() refused (its return c: ':' for a missing value,
 * '?' for an unknown option; optstrings start with ':'), as tool_usage().
 */
int tool_bad_option(int c, char **argv, const char *usage);

/* the line tool_bad_option() writes, in a static buffer */
const char *tool_bad_option_text(int c, char **argv);
int tool_wants_help(int argc, char **argv, const char *usage);
/*
 * --source NAME (a valid name) and npos positional arguments, for the
 * small commands; --help prints usage and exits.  TOOL_OK or TOOL_FAILED
 * with the reason written.
 */
int tool_source_args(int argc, char **argv, const char *usage,
    const char **source, int npos);
/*
 * The outcome of a write to a source of the set at path: TOOL_OK for 0,
 * else TOOL_FAILED with "no source" (HDB_NOTFOUND) or the error written.
 */
int tool_source_result(const char *path, const char *source, int rc);
/* HEX (a digest, its type by its length) or TYPE:HEX, as in "pdq:..." */
int tool_parse_digest(const char *arg, hdb_type_t *type,
    unsigned char *digest);
/* a time as ISO 8601 UTC ("2026-12-01T04:00:00Z"), "-" for none */
void tool_format_time(int64_t t, char *buf, size_t size);
/*
 * Outside strings in reports (tool_text.c): text with control bytes,
 * quotes and backslashes as \xHH; a JSON string, quoted, valid UTF-8
 * (a byte that is not becomes U+FFFD: returns 1 when one was).
 */
void tool_text_escaped(FILE *out, const char *s);
int tool_json_string(FILE *out, const char *s);
/*
 * A size: digits and an optional k, m or g (KiB, MiB, GiB), above 0;
 * TOOL_OK, or TOOL_FAILED (nothing written) for anything else
 */
int tool_parse_size(const char *arg, uint64_t *size);
/* 1 if key is one of the n keys (trusted for a source) */
int tool_key_trusted(const unsigned char (*keys)[HDB_KEY_SIZE], size_t n,
    const unsigned char *key);
/* --distance N, 0 .. HDB_PDQ_DISTANCE_MAX; TOOL_OK or TOOL_FAILED */
int tool_parse_distance(const char *arg, unsigned *distance);

/* --sampling exact|fast|keyframes into an HDB_VIDEO_* value */
int tool_parse_sampling(const char *arg, int *sampling);

int cmd_init(int argc, char **argv);
int cmd_upgrade(int argc, char **argv);
int cmd_update(int argc, char **argv);      /* import, sync, apply */
int cmd_lookup(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_hash(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_rescan(int argc, char **argv);
int cmd_allow(int argc, char **argv);
int cmd_unallow(int argc, char **argv);
int cmd_allowed(int argc, char **argv);
int cmd_disable(int argc, char **argv);     /* disable, enable */
int cmd_policy(int argc, char **argv);
int cmd_promote(int argc, char **argv);
int cmd_flood_clear(int argc, char **argv);
int cmd_trust(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_pull(int argc, char **argv);

#endif /* TOOL_H */
