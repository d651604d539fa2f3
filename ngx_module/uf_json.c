/*
 * JSON strings; see uf_json.h.
 */

#include <string.h>

#include "uf_chars.h"
#include "uf_decode.h"
#include "uf_json.h"

#define UF_JSON_BUF  4096

enum {
    UF_JSON_OUT = 0,        /* between strings */
    UF_JSON_STR,
    UF_JSON_ESC,            /* after "\" */
    UF_JSON_U,              /* in \uXXXX */
    UF_JSON_DEAD            /* not JSON: the scan gave up */
};

/* a code point as UTF-8; lone surrogates as their 3 bytes (WTF-8) */
static size_t
uf_json_utf8(uint32_t u, unsigned char *b)
{
    if (u < 0x80) {
        b[0] = (unsigned char) u;
        return 1;
    }

    if (u < 0x800) {
        b[0] = (unsigned char) (0xc0 | u >> 6);
        b[1] = (unsigned char) (0x80 | (u & 0x3f));
        return 2;
    }

    if (u < 0x10000) {
        b[0] = (unsigned char) (0xe0 | u >> 12);
        b[1] = (unsigned char) (0x80 | (u >> 6 & 0x3f));
        b[2] = (unsigned char) (0x80 | (u & 0x3f));
        return 3;
    }

    b[0] = (unsigned char) (0xf0 | u >> 18);
    b[1] = (unsigned char) (0x80 | (u >> 12 & 0x3f));
    b[2] = (unsigned char) (0x80 | (u >> 6 & 0x3f));
    b[3] = (unsigned char) (0x80 | (u & 0x3f));
    return 4;
}

void
uf_json_init(uf_json_t *j, const uf_json_callbacks_t *cb, void *data)
{
    /* between strings (UF_JSON_OUT) */
    *j = (uf_json_t) { .cb = cb, .data = data };
}

static int
uf_json_give_up(uf_json_t *j)
{
    j->state = UF_JSON_DEAD;
    return j->cb->end(j->data, 0);
}

/* RFC 8259 7: the one-letter escapes, and what each stands for */
static const char  uf_json_escapes[] = "\"\\/bfnrt";
static const char  uf_json_escaped[] = "\"\\/\b\f\n\r\t";


int
uf_json_feed(uf_json_t *j, const unsigned char *p, size_t len)
{
    int            h, rc;
    const char    *e;
    size_t         i, k;
    uint32_t       u;
    unsigned char  c, buf[UF_JSON_BUF + 8];

    k = 0;

    for (i = 0; i < len; i++) {
        c = p[i];

        switch (j->state) {

        case UF_JSON_OUT:
            if (c == '"') {
                rc = j->cb->begin(j->data);
                if (rc != 0) {
                    return rc;
                }

                j->state = UF_JSON_STR;
            }

            continue;

        case UF_JSON_STR:
            if (j->high && c != '\\') {
                k += uf_json_utf8(j->high, buf + k);
                j->high = 0;
            }

            if (c == '"') {
                rc = uf_dec_drain(j->cb->data, j->data, buf, &k, 1);
                if (rc != 0) {
                    return rc;
                }

                j->state = UF_JSON_OUT;

                rc = j->cb->end(j->data, 1);
                if (rc != 0) {
                    return rc;
                }

                continue;
            }

            if (c == '\\') {
                j->state = UF_JSON_ESC;
                continue;
            }

            if (c < 0x20) {
                /* control characters must be escaped */
                goto dead;
            }

            buf[k++] = c;
            break;

        case UF_JSON_U:
            h = uf_hex(c);
            if (h < 0) {
                goto dead;
            }

            j->u = j->u << 4 | (uint32_t) h;

            if (++j->digits < 4) {
                continue;
            }

            u = j->u;
            j->state = UF_JSON_STR;

            if (j->high && u >= 0xdc00 && u < 0xe000) {
                u = 0x10000 + ((j->high - 0xd800) << 10) + (u - 0xdc00);
                j->high = 0;

            } else {
                if (j->high) {
                    k += uf_json_utf8(j->high, buf + k);
                    j->high = 0;
                }

                if (u >= 0xd800 && u < 0xdc00) {
                    j->high = u;
                    continue;
                }
            }

            k += uf_json_utf8(u, buf + k);
            break;

        case UF_JSON_ESC:
            if (c == 'u') {
                j->state = UF_JSON_U;
                j->digits = 0;
                j->u = 0;
                continue;
            }

            if (j->high) {
                k += uf_json_utf8(j->high, buf + k);
                j->high = 0;
            }

            e = memchr(uf_json_escapes, c, sizeof(uf_json_escapes) - 1);
            if (e == NULL) {
                goto dead;
            }

            buf[k++] = (unsigned char) uf_json_escaped[e - uf_json_escapes];

            j->state = UF_JSON_STR;
            break;

        default: /* UF_JSON_DEAD */
            return 0;
        }

        rc = uf_dec_drain(j->cb->data, j->data, buf, &k, UF_JSON_BUF);
        if (rc != 0) {
            return rc;
        }
    }

    return uf_dec_flush(j->cb->data, j->data, buf, k, 0);

dead:

    /* what was unescaped goes out first, however the input was split */
    rc = uf_dec_drain(j->cb->data, j->data, buf, &k, 1);
    if (rc != 0) {
        return rc;
    }

    return uf_json_give_up(j);
}

int
uf_json_finish(uf_json_t *j)
{
    if (j->state == UF_JSON_OUT || j->state == UF_JSON_DEAD) {
        return 0;
    }

    /* the body ended inside a string */
    return uf_json_give_up(j);
}
