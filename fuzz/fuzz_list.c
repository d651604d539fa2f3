/*
 * libFuzzer target: the hash-list parsers of hashdb, every format, as
 * full lists and as deltas, and the vPDQ lists (list_vpdq.c): one video
 * or many.  The input is split into lines.  Checked for a video: a name,
 * and its frames within what was read.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "list_format.h"
#include "list_vpdq.h"

static void
fuzz_vpdq(char *buf, const uint8_t *data, size_t size, int delta,
    const char *name)
{
    int            rc;
    size_t         start, lines;
    const char    *why;
    vpdq_video_t   v;
    vpdq_parser_t  p;

    memcpy(buf, data, size);
    vpdq_parser_init(&p, delta, 50, "cat", name);
    start = 0;
    lines = 0;
    rc = LIST_SKIP;

    for (size_t i = 0; i <= size && rc != LIST_BAD; i++) {
        if (i < size && buf[i] != '\n') {
            continue;
        }

        rc = vpdq_parse_line(&p, buf + start, i - start, &v, &why);
        lines++;
        start = i + 1;

        if (rc == LIST_ROW && (v.name[0] == '\0' || v.nframes > lines)) {
            abort();
        }
    }

    if (rc != LIST_BAD) {
        rc = vpdq_parse_end(&p, &v, &why);
        if (rc == LIST_ROW && (v.name[0] == '\0' || v.nframes > lines)) {
            abort();
        }
    }

    vpdq_parser_free(&p);
}

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

    for (int delta = 0; delta < 2; delta++) {
        fuzz_vpdq(buf, data, size, delta, NULL);
        fuzz_vpdq(buf, data, size, delta, "video");
    }

    free(buf);
    return 0;
}
