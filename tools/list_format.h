/*
 * Hash-list line formats that "hashdb import" reads.
 */

#ifndef LIST_FORMAT_H
#define LIST_FORMAT_H

#include <stddef.h>

#include "hashdb.h"

#define LIST_LINE_MAX  4096

#define LIST_ROW    1     /* the line gave a row */
#define LIST_SKIP   0     /* blank line or comment */
#define LIST_BAD   (-1)   /* *why says what is wrong */

/*
 * One file per line: one or more hex digests (MD5, SHA-1, SHA-256, told
 * apart by length) separated by blanks or commas.  Several digests on a
 * line are digests of the same file; '#' starts a comment.
 */
int list_parse_hex_line(const char *line, size_t len, hdb_row_t *row,
    const char **why);

#endif /* LIST_FORMAT_H */
