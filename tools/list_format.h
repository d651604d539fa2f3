/*
 * Hash-list formats that hashdb reads (import, sync, apply):
 *
 *   hex     one file per line: one or more hex digests (MD5, SHA-1,
 *           SHA-256, told apart by length) separated by blanks or commas
 *   csv     a header line naming the columns: type and hash, or md5, sha1,
 *           sha256; optional category, added (YYYY-MM-DD or unix time), id
 *           (consecutive rows with the same id are one file) and op
 *   typed   "<type> <hash>" per line, as Meta's tooling writes them
 *   clamav  ClamAV .hdb/.hsb signatures: "hash:size:name"
 *   pdq     PDQ hashes, "hash[,quality[,name]]" as Meta's pdq-photo-hasher
 *           writes them (never guessed: a PDQ hash looks like a SHA-256)
 *
 * PDQ hashes also come as "pdq <hash> [quality]" lines in typed lists and
 * as a pdq column (or type pdq) with an optional quality column in csv.
 *
 * In a delta (hashdb apply) a line may start with '+' (add, the default)
 * or '-' (remove); the csv op column says add or remove.  '#' starts a
 * comment in all but csv fields; blank lines are skipped.
 */

#ifndef LIST_FORMAT_H
#define LIST_FORMAT_H

#include <stddef.h>

#include "hashdb.h"

#define LIST_LINE_MAX  4096
#define LIST_ID_MAX    128

#define LIST_ROW    1     /* *row holds a row */
#define LIST_SKIP   0     /* nothing yet: blank, comment, header, grouping */
#define LIST_BAD   (-1)   /* *why says what is wrong */

typedef enum {
    LIST_FMT_AUTO = 0,
    LIST_FMT_HEX,
    LIST_FMT_CSV,
    LIST_FMT_TYPED,
    LIST_FMT_CLAMAV,
    LIST_FMT_PDQ,
    LIST_FMT_VPDQ           /* videos: list_vpdq.h */
} list_fmt_t;

typedef struct {
    hdb_row_t  row;
    int        remove;                          /* a delta's '-' */
    int        quality;                         /* PDQ's; -1: not given */
    char       category[HDB_CATEGORY_MAX + 1];
} list_row_t;

typedef struct {
    list_fmt_t  fmt;
    int         delta;          /* '-' lines allowed */
    const char *category;       /* default category, or NULL */

    int         have_header;
    int         col_type, col_hash, col_category, col_added, col_id, col_op;
    int         col_quality;
    int         col_digest[HDB_NTYPES];

    int         pending;        /* a csv row waiting for more of its id */
    list_row_t  pend;
    char        pend_id[LIST_ID_MAX + 1];
} list_parser_t;

void list_parser_init(list_parser_t *p, list_fmt_t fmt, int delta,
    const char *category);
/* line without its newline; may be modified */
int list_parse_line(list_parser_t *p, char *line, size_t len,
    list_row_t *row, const char **why);
/* at the end of the input: a last grouped row, or LIST_SKIP */
int list_parse_end(list_parser_t *p, list_row_t *row);

int list_format_from_name(const char *name, list_fmt_t *fmt);

/*
 * Splits the CSV line s[0 .. n) in place into at most max fields (f[i],
 * fl[i] bytes; quoted fields may hold commas and ""); their number.
 */
int list_csv_split(char *s, size_t n, char **f, size_t *fl, int max);
const char *list_format_name(list_fmt_t fmt);

#endif /* LIST_FORMAT_H */
