/*
 * Streaming base64; see uf_decode.h.
 *
 * Decoders disagree about everything but the plain alphabet: Python's
 * b64decode() drops any other byte and stops after padding, PHP's
 * base64_decode() goes on after padding, Node's Buffer takes the URL
 * alphabet.  MIME mode therefore refuses anything but the alphabet and
 * line breaks, and anything after padding; loose mode (JSON strings,
 * where apps pick the decoder) also takes the URL alphabet.
 */

#include "uf_decode.h"

#define UF_B64_BUF  3072

static int
uf_b64_value(unsigned mode, unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == '+' || (c == '-' && mode == UF_B64_LOOSE)) {
        return 62;
    }

    if (c == '/' || (c == '_' && mode == UF_B64_LOOSE)) {
        return 63;
    }

    if (c == '\r' || c == '\n' || c == ' ' || c == '\t') {
        return -1;  /* skipped */
    }

    if (c == '=') {
        return -2;
    }

    return -3;
}

void
uf_base64_init(uf_base64_t *d, unsigned mode)
{
    d->mode = mode;
    d->acc = 0;
    d->n = 0;
    d->pad = 0;
    d->n_at_pad = 0;
}

int
uf_base64_feed(uf_base64_t *d, const unsigned char *p, size_t len,
    uf_out_pt out, void *data)
{
    int            v, rc, err;
    size_t         i, k;
    unsigned char  buf[UF_B64_BUF];

    k = 0;
    err = 0;

    for (i = 0; i < len; i++) {
        v = uf_b64_value(d->mode, p[i]);

        if (v == -1) {
            continue;
        }

        if (v == -3) {
            err = UF_DEC_EINVALID;
            break;
        }

        if (v == -2) {
            /* "=" completes a quantum of 2 or 3 sextets */
            if (!d->pad) {
                if (d->n < 2) {
                    err = UF_DEC_EINVALID;
                    break;
                }

                d->pad = 1;
                d->n_at_pad = d->n;
            }

            if (++d->n > 4) {
                err = UF_DEC_EINVALID;
                break;
            }

            continue;
        }

        if (d->pad) {
            /* data after padding: decoders part ways here */
            err = d->mode == UF_B64_LOOSE ? UF_DEC_EPADDED : UF_DEC_EINVALID;
            break;
        }

        d->acc = (d->acc << 6) | (uint32_t) v;

        if (++d->n < 4) {
            continue;
        }

        buf[k++] = (unsigned char) (d->acc >> 16);
        buf[k++] = (unsigned char) (d->acc >> 8);
        buf[k++] = (unsigned char) d->acc;
        d->acc = 0;
        d->n = 0;

        rc = uf_dec_drain(out, data, buf, &k, UF_B64_BUF);
        if (rc != 0) {
            return rc;
        }
    }

    return uf_dec_flush(out, data, buf, k, err);
}

int
uf_base64_finish(uf_base64_t *d, uf_out_pt out, void *data)
{
    unsigned       n;
    unsigned char  buf[2];

    n = d->pad ? d->n_at_pad : d->n;

    if (d->pad && d->n != 4) {
        return UF_DEC_EINVALID;
    }

    /* the quantum is spent: a second finish adds nothing */
    d->n = 0;
    d->pad = 0;

    switch (n) {
    case 0:
        return 0;
    case 2:
        buf[0] = (unsigned char) (d->acc >> 4);
        return out(data, buf, 1);
    case 3:
        buf[0] = (unsigned char) (d->acc >> 10);
        buf[1] = (unsigned char) (d->acc >> 2);
        return out(data, buf, 2);
    default:
        return UF_DEC_EINVALID;
    }
}
