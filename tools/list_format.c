/*
 * Hash-list line formats; see list_format.h.
 */

#include <string.h>

#include "list_format.h"

static int
list_is_sep(char c)
{
    return c == ' ' || c == '\t' || c == ',' || c == '\r';
}

int
list_parse_hex_line(const char *line, size_t len, hdb_row_t *row,
    const char **why)
{
    size_t       i, start;
    hdb_type_t   type;

    row->types = 0;

    for (i = 0; i < len; ) {
        while (i < len && list_is_sep(line[i])) {
            i++;
        }

        if (i == len || line[i] == '#') {
            break;
        }

        start = i;
        while (i < len && !list_is_sep(line[i]) && line[i] != '#') {
            i++;
        }

        if (hdb_type_from_size((i - start) / 2, &type) != 0
            || (i - start) % 2 != 0)
        {
            *why = "not a hex MD5 (32), SHA-1 (40) or SHA-256 (64) digest";
            return LIST_BAD;
        }

        if (row->types & HDB_TYPE_BIT(type)) {
            *why = "two digests of the same type on one line";
            return LIST_BAD;
        }

        if (hdb_hex_decode(line + start, i - start, row->digests[type]) != 0)
        {
            *why = "not a hex digit";
            return LIST_BAD;
        }

        row->types |= HDB_TYPE_BIT(type);
    }

    return row->types ? LIST_ROW : LIST_SKIP;
}
