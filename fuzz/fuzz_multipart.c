/*
 * libFuzzer target: the multipart parser.  The first byte picks the
 * boundary length, the next bytes are the boundary, the second byte the
 * piece size; the rest is the body.  The body is fed whole and in pieces:
 * besides not crashing, both ways must give the same parts and bytes.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uf_content_type.h"
#include "uf_multipart.h"
#include "fuzz_rec.h"

static int
on_begin(void *data, const uf_mp_part_t *part)
{
    rec(data, "[B", 2);
    rec(data, part->kind == UF_MP_PART ? "p" : part->kind == UF_MP_PREAMBLE
                                               ? "<" : ">", 1);
    if (part->name) {
        rec(data, part->name, part->name_len);
    }
    rec(data, "|", 1);
    if (part->filename) {
        rec(data, part->filename, part->filename_len);
    }
    return 0;
}

static int
on_body(void *data, const unsigned char *p, size_t len)
{
    rec(data, p, len);
    return 0;
}

static int
on_end(void *data, const uf_mp_part_t *part, int truncated)
{
    (void) part;
    rec(data, truncated ? "[T]" : "[E]", 3);
    return 0;
}

static const uf_mp_callbacks_t  cb = { on_begin, on_body, on_end };

static int
run(const unsigned char *b, size_t blen, const unsigned char *body,
    size_t len, size_t piece, rec_t *r)
{
    int        rc = 0;
    uf_mp_t   *mp = malloc(sizeof(uf_mp_t));

    uf_mp_init(mp, b, blen, 0, &cb, r);

    for (size_t i = 0; i < len && rc == 0; i += piece) {
        rc = uf_mp_feed(mp, body + i, len - i < piece ? len - i : piece);
    }

    if (rc == 0) {
        rc = uf_mp_finish(mp);
    }

    uf_mp_free(mp);
    free(mp);
    return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                   rc1, rc2;
    size_t                blen, piece;
    rec_t                 r1 = { 0 }, r2 = { 0 };
    const unsigned char  *b, *body;

    if (size < 2) {
        return 0;
    }

    blen = 1 + data[0] % 40;
    piece = 1 + data[1] % 17;

    if (size < 2 + blen) {
        return 0;
    }

    b = data + 2;
    if (memchr(b, '\r', blen) || memchr(b, '\n', blen)) {
        return 0;   /* uf_content_type() refuses these */
    }

    body = data + 2 + blen;

    rc1 = run(b, blen, body, size - 2 - blen, size, &r1);
    rc2 = run(b, blen, body, size - 2 - blen, piece, &r2);

    if (rc1 != rc2 || r1.len != r2.len
        || (r1.len && memcmp(r1.out, r2.out, r1.len) != 0))
    {
        abort();    /* splitting the body changed what was parsed */
    }

    free(r1.out);
    free(r2.out);

    /* and the Content-Type parser */
    {
        uf_ctype_t  ct;

        if (uf_content_type(data, size, &ct) == UF_CT_MULTIPART
            && (ct.boundary < data || ct.boundary + ct.boundary_len
                                      > data + size))
        {
            abort();
        }
    }

    return 0;
}
