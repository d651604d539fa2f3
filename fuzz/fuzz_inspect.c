/*
 * libFuzzer target: the whole inspection of a body (uf_inspect.c, and
 * through it the multipart parser, the Content-Type parser, base64,
 * quoted-printable, gzip/deflate, urlencoded forms and JSON strings).
 * The first byte picks the Content-Type and Content-Encoding from the
 * table below (or, past its end, takes the next line of the input as the
 * Content-Type), the second the piece size; the rest is the body.  Fed
 * whole and in pieces, it must give the same objects, the same bytes and
 * the same result, and every object opened must be closed or discarded.
 * (The bytes of an object discarded on an error are not compared: how
 * far the inspection got before it stopped depends on the pieces.)
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uf_inspect.h"
#include "fuzz_rec.h"

/* each object collects its bytes; its record is written when it ends */
typedef struct {
    rec_t  *r;
    rec_t   self;       /* "{where|decoded}" then the bytes */
} obj_t;

static void *
s_open(void *data, const uf_obj_info_t *info)
{
    obj_t  *o;

    o = calloc(1, sizeof(obj_t));
    if (o == NULL) {
        abort();
    }

    o->r = data;
    rec(&o->self, "{", 1);
    rec(&o->self, info->where, strlen(info->where));
    if (info->decoded) {
        rec(&o->self, "|", 1);
        rec(&o->self, info->decoded, strlen(info->decoded));
    }
    rec(&o->self, "}", 1);
    o->self.name_len = o->self.len;
    o->r->open++;
    return o;
}

static int
s_write(void *data, void *obj, const unsigned char *p, size_t len)
{
    obj_t  *o = obj;

    (void) data;
    rec(&o->self, p, len);
    return 0;
}

static void
s_end(obj_t *o, const char *how)
{
    /*
     * An object discarded on an error holds what arrived before the
     * inspection stopped, which depends on the pieces: only its name.
     */
    rec(o->r, o->self.out, how[1] == 'D' ? o->self.name_len : o->self.len);
    rec(o->r, how, 3);
    o->r->open--;
    free(o->self.out);
    free(o);
}

static int
s_close(void *data, void *obj, int truncated)
{
    (void) data;
    s_end(obj, truncated ? "{T}" : "{E}");
    return 0;
}

static void
s_discard(void *data, void *obj)
{
    (void) data;
    s_end(obj, "{D}");
}

static const uf_sink_t  sink = { s_open, s_write, s_close, s_discard };

static const char  *types[][2] = {
    { "multipart/form-data; boundary=b", NULL },
    { "multipart/form-data; boundary=--x", NULL },
    { "multipart/mixed; boundary=b", "gzip" },
    { "application/x-www-form-urlencoded", NULL },
    { "application/json", NULL },
    { "application/json", "deflate" },
    { "application/octet-stream", "gzip" },
    { NULL, NULL }
};

#define NTYPES  (sizeof(types) / sizeof(types[0]))

static int
run(const char *type, size_t tlen, const char *enc,
    const unsigned char *body, size_t len, size_t piece, rec_t *r)
{
    int                rc;
    uf_inspect_t      *in;
    uf_inspect_conf_t  conf = { 4096, 50, 3, 8, 1 << 20, 0 };

    /* no ratio: it is checked as the input arrives, so by piece size */

    rc = uf_inspect_new(&in, &conf, &sink, r, (const unsigned char *) type,
                        tlen, (const unsigned char *) enc,
                        enc ? strlen(enc) : 0, len);

    for (size_t i = 0; i < len && rc == 0; i += piece) {
        rc = uf_inspect_feed(in, body + i, len - i < piece ? len - i : piece);
    }

    if (rc == 0) {
        rc = uf_inspect_finish(in);
    }

    uf_inspect_free(in);

    if (r->open != 0) {
        abort();    /* an object neither closed nor discarded */
    }

    return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                   rc1, rc2;
    size_t                piece, tlen, n;
    rec_t                 r1 = { 0 }, r2 = { 0 };
    const char           *type, *enc, *nl;
    const unsigned char  *body;

    if (size < 2) {
        return 0;
    }

    n = data[0] % (NTYPES + 1);
    piece = 1 + data[1] % 23;
    body = data + 2;
    size -= 2;

    if (n < NTYPES) {
        type = types[n][0];
        tlen = type ? strlen(type) : 0;
        enc = types[n][1];

    } else {
        nl = memchr(body, '\n', size);
        if (nl == NULL) {
            return 0;
        }

        type = (const char *) body;
        tlen = (size_t) (nl - type);
        enc = NULL;
        size -= tlen + 1;
        body += tlen + 1;
    }

    rc1 = run(type, tlen, enc, body, size, size ? size : 1, &r1);
    rc2 = run(type, tlen, enc, body, size, piece, &r2);

    if (rc1 != rc2 || r1.len != r2.len
        || (r1.len && memcmp(r1.out, r2.out, r1.len) != 0))
    {
        abort();    /* splitting the body changed what was inspected */
    }

    free(r1.out);
    free(r2.out);
    return 0;
}
