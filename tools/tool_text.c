/*
 * How the hashdb command writes strings that come from outside (paths,
 * file names clients chose, log lines) into its reports: text with the
 * bytes that would break a line or a quoted field escaped, and JSON
 * strings that are valid UTF-8 whatever the input.
 */

#include <stdio.h>

#include "tool.h"

void
tool_text_escaped(FILE *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\') {
            fprintf(out, "\\x%02x", *p);

        } else {
            fputc(*p, out);
        }
    }
}

/* the length of the UTF-8 sequence at p, or 0 if it is none */
static size_t
tool_utf8(const unsigned char *p)
{
    size_t  n;

    if (p[0] < 0x80) {
        return 1;
    }

    n = p[0] >= 0xf0 ? (p[0] < 0xf5 ? 4 : 0)
        : p[0] >= 0xe0 ? 3
        : p[0] >= 0xc2 ? 2 : 0;

    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
    }

    return n;
}

int
tool_json_string(FILE *out, const char *s)
{
    int                   lossy;
    size_t                n;
    const unsigned char  *p = (const unsigned char *) s;

    lossy = 0;
    fputc('"', out);

    while (*p) {
        if (*p == '"' || *p == '\\') {
            fprintf(out, "\\%c", *p++);

        } else if (*p < 0x20 || *p == 0x7f) {
            fprintf(out, "\\u%04x", *p++);

        } else if ((n = tool_utf8(p)) == 0) {
            fputs("\\ufffd", out);
            p++;
            lossy = 1;

        } else {
            fwrite(p, 1, n, out);
            p += n;
        }
    }

    fputc('"', out);

    return lossy;
}
