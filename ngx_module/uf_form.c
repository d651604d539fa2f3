/*
 * urlencoded forms; see uf_form.h.
 */

#include "uf_chars.h"
#include "uf_decode.h"
#include "uf_form.h"

#define UF_FORM_BUF  4096

enum {
    UF_FORM_TEXT = 0,
    UF_FORM_PCT,            /* "%" */
    UF_FORM_PCT_HEX         /* "%" and one hex digit */
};

void
uf_form_init(uf_form_t *f, const uf_form_callbacks_t *cb, void *data)
{
    /* in a key, in plain text (UF_FORM_TEXT) */
    *f = (uf_form_t) { .cb = cb, .data = data };
}

/* the pending "%" or "%X" that did not become a byte */
static size_t
uf_form_literal(uf_form_t *f, unsigned char *buf, size_t k)
{
    if (f->state == UF_FORM_PCT || f->state == UF_FORM_PCT_HEX) {
        buf[k++] = '%';
    }

    if (f->state == UF_FORM_PCT_HEX) {
        buf[k++] = f->hi;     /* the digit as it came */
    }

    f->state = UF_FORM_TEXT;
    return k;
}

int
uf_form_feed(uf_form_t *f, const unsigned char *p, size_t len)
{
    int            h, rc;
    size_t         i, k;
    unsigned char  c, buf[UF_FORM_BUF + 4];

    k = 0;

    for (i = 0; i < len; i++) {
        c = p[i];

        if (f->state == UF_FORM_PCT) {
            h = uf_hex(c);

            if (h >= 0) {
                f->hi = c;
                f->state = UF_FORM_PCT_HEX;
                continue;
            }

            k = uf_form_literal(f, buf, k);

        } else if (f->state == UF_FORM_PCT_HEX) {
            h = uf_hex(c);

            if (h >= 0) {
                buf[k++] = (unsigned char) (uf_hex(f->hi) << 4 | h);
                f->state = UF_FORM_TEXT;
                goto flush;
            }

            k = uf_form_literal(f, buf, k);
        }

        if (c == '&' || (c == '=' && !f->value)) {
            rc = uf_dec_drain(f->cb->data, f->data, buf, &k, 1);
            if (rc != 0) {
                return rc;
            }

            rc = f->cb->end(f->data, f->value);
            if (rc != 0) {
                return rc;
            }

            f->value = (c == '=');
            continue;
        }

        if (c == '%') {
            f->state = UF_FORM_PCT;
            continue;
        }

        buf[k++] = (c == '+') ? ' ' : c;

    flush:

        rc = uf_dec_drain(f->cb->data, f->data, buf, &k, UF_FORM_BUF);
        if (rc != 0) {
            return rc;
        }
    }

    return uf_dec_flush(f->cb->data, f->data, buf, k, 0);
}

int
uf_form_finish(uf_form_t *f)
{
    int            rc;
    size_t         k;
    unsigned char  buf[4];

    k = uf_form_literal(f, buf, 0);

    rc = uf_dec_drain(f->cb->data, f->data, buf, &k, 1);
    if (rc != 0) {
        return rc;
    }

    return f->cb->end(f->data, f->value);
}
