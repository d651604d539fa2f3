/*
 * Streaming quoted-printable; see uf_decode.h.
 *
 * Python's a2b_qp() keeps an invalid "=XY" and trailing white space as
 * they are, Go's reader strips white space at the end of a line and
 * fails on a bad escape.  So both are refused here, as is a lone CR;
 * "=" CRLF and "=" LF are soft line breaks for both.
 */

#include "uf_chars.h"
#include "uf_decode.h"

#define UF_QP_BUF  4096

enum {
    UF_QP_TEXT = 0,
    UF_QP_EQ,           /* "=" */
    UF_QP_EQ_HEX,       /* "=" and one hex digit */
    UF_QP_EQ_CR,        /* "=" CR */
    UF_QP_CR            /* CR */
};

void
uf_qp_init(uf_qp_t *d)
{
    d->state = UF_QP_TEXT;
    d->hi = 0;
    d->ws = 0;
}

int
uf_qp_feed(uf_qp_t *d, const unsigned char *p, size_t len, uf_out_pt out,
    void *data)
{
    int                   h, rc;
    size_t                k;
    unsigned char         c, buf[UF_QP_BUF + 2];
    const unsigned char  *end;

    k = 0;
    end = p + len;

    while (p < end) {
        c = *p++;

        switch (d->state) {

        case UF_QP_TEXT:
            if (c == '=') {
                d->state = UF_QP_EQ;
                d->ws = 0;
                continue;
            }

            if (c == '\r' || c == '\n') {
                if (d->ws) {
                    goto invalid;
                }

                if (c == '\r') {
                    d->state = UF_QP_CR;
                    continue;
                }
            }

            d->ws = (c == ' ' || c == '\t');
            buf[k++] = c;
            break;

        case UF_QP_CR:
            if (c != '\n') {
                goto invalid;
            }

            buf[k++] = '\r';
            buf[k++] = '\n';
            d->state = UF_QP_TEXT;
            break;

        case UF_QP_EQ:
            if (c == '\n') {
                d->state = UF_QP_TEXT;
                continue;
            }

            if (c == '\r') {
                d->state = UF_QP_EQ_CR;
                continue;
            }

            /* "=" and the first of two hex digits */

            /* fall through */

        case UF_QP_EQ_HEX:
            h = uf_hex(c);
            if (h < 0) {
                goto invalid;
            }

            if (d->state == UF_QP_EQ) {
                d->hi = (unsigned char) h;
                d->state = UF_QP_EQ_HEX;
                continue;
            }

            buf[k++] = (unsigned char) (d->hi << 4 | h);
            d->state = UF_QP_TEXT;
            break;

        default: /* UF_QP_EQ_CR */
            if (c != '\n') {
                goto invalid;
            }

            d->state = UF_QP_TEXT;
            continue;
        }

        rc = uf_dec_drain(out, data, buf, &k, UF_QP_BUF);
        if (rc != 0) {
            return rc;
        }
    }

    return uf_dec_flush(out, data, buf, k, 0);

invalid:

    return uf_dec_flush(out, data, buf, k, UF_DEC_EINVALID);
}

int
uf_qp_finish(uf_qp_t *d, uf_out_pt out, void *data)
{
    (void) out;
    (void) data;

    /*
     * A part that ends in a soft line break ("=" before the delimiter's
     * CRLF) is what encoders write; Python and Go drop that "=".
     */
    if ((d->state != UF_QP_TEXT && d->state != UF_QP_EQ) || d->ws) {
        return UF_DEC_EINVALID;
    }

    return 0;
}
