/*
 * libFuzzer target: the hash-list parsers of hashdb, every format, as
 * full lists and as deltas.  The input is split into lines.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "list_format.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char           *buf;
    const char     *why;
    list_row_t      row;
    list_parser_t   p;

    buf = malloc(size + 1);
    if (buf == NULL) {
        return 0;
    }

    for (int fmt = LIST_FMT_AUTO; fmt <= LIST_FMT_CLAMAV; fmt++) {
        for (int delta = 0; delta < 2; delta++) {
            size_t  start = 0;

            memcpy(buf, data, size);
            list_parser_init(&p, (list_fmt_t) fmt, delta, "cat");

            for (size_t i = 0; i <= size; i++) {
                if (i < size && buf[i] != '\n') {
                    continue;
                }

                if (i - start <= LIST_LINE_MAX
                    && list_parse_line(&p, buf + start, i - start, &row, &why)
                       == LIST_BAD)
                {
                    break;
                }

                start = i + 1;
            }

            (void) list_parse_end(&p, &row);
        }
    }

    free(buf);
    return 0;
}
