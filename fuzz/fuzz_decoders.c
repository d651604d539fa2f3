/*
 * libFuzzer target: each decoder on its own (base64 in both modes,
 * quoted-printable, gzip and deflate, urlencoded forms, JSON strings).
 * The first byte picks the decoder, the second the piece size; the rest
 * is the input.  Fed whole and in pieces, a decoder must give the same
 * output and the same result.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uf_decode.h"
#include "uf_form.h"
#include "uf_json.h"
#include "fuzz_rec.h"

static int
form_end(void *data, unsigned value)
{
    return rec_out(data, (const unsigned char *) (value ? "|V" : "|K"), 2);
}

static int
json_begin(void *data)
{
    return rec_out(data, (const unsigned char *) "<", 1);
}

static int
json_end(void *data, int complete)
{
    return rec_out(data, (const unsigned char *) (complete ? ">" : "!"), 1);
}

static const uf_form_callbacks_t  form_cb = { rec_out, form_end };
static const uf_json_callbacks_t  json_cb = { json_begin, rec_out, json_end };

static int
run(unsigned which, const unsigned char *p, size_t len, size_t piece,
    rec_t *r)
{
    int            rc = 0, rc2;
    size_t         i, n;
    uf_base64_t    b64;
    uf_qp_t        qp;
    uf_inflate_t  *z = NULL;
    uf_form_t      form;
    uf_json_t      json;

    switch (which) {
    case 0:
    case 1:
        uf_base64_init(&b64, which);
        break;
    case 2:
        uf_qp_init(&qp);
        break;
    case 3:
    case 4:
        if (uf_inflate_new(&z, which - 3, 1 << 20, 0) != 0) {
            abort();
        }
        break;
    case 5:
        uf_form_init(&form, &form_cb, r);
        break;
    default:
        uf_json_init(&json, &json_cb, r);
    }

    for (i = 0; i < len && rc == 0; i += piece) {
        n = len - i < piece ? len - i : piece;

        switch (which) {
        case 0:
        case 1:
            rc = uf_base64_feed(&b64, p + i, n, rec_out, r);
            break;
        case 2:
            rc = uf_qp_feed(&qp, p + i, n, rec_out, r);
            break;
        case 3:
        case 4:
            rc = uf_inflate_feed(z, p + i, n, rec_out, r);
            break;
        case 5:
            rc = uf_form_feed(&form, p + i, n);
            break;
        default:
            rc = uf_json_feed(&json, p + i, n);
        }
    }

    if (rc == 0) {
        switch (which) {
        case 0:
        case 1:
            rc = uf_base64_finish(&b64, rec_out, r);
            break;
        case 2:
            rc = uf_qp_finish(&qp, rec_out, r);
            break;
        case 3:
        case 4:
            rc = uf_inflate_finish(z);
            break;
        case 5:
            rc = uf_form_finish(&form);
            break;
        default:
            rc = uf_json_finish(&json);
        }
    }

    rc2 = rc;
    uf_inflate_free(z);
    return rc2;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int       rc1, rc2;
    unsigned  which;
    size_t    piece;
    rec_t     r1 = { 0 }, r2 = { 0 };

    if (size < 2) {
        return 0;
    }

    which = data[0] % 7;
    piece = 1 + data[1] % 19;

    rc1 = run(which, data + 2, size - 2, size, &r1);
    rc2 = run(which, data + 2, size - 2, piece, &r2);

    if (rc1 != rc2 || r1.len != r2.len
        || (r1.len && memcmp(r1.out, r2.out, r1.len) != 0))
    {
        abort();    /* splitting the input changed what was decoded */
    }

    free(r1.out);
    free(r2.out);
    return 0;
}
