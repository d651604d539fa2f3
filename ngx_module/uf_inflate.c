/*
 * Request Content-Encoding gzip and deflate, with zlib; see uf_decode.h.
 *
 * "deflate" is meant to be zlib-wrapped (RFC 9110), but some clients send
 * raw deflate and aiohttp takes both: it looks at the first byte, as
 * here.  What follows the end of the compressed stream is refused:
 * decoders drop it or fail.
 */

#include <stdlib.h>
#include <zlib.h>

#include "uf_decode.h"

#define UF_INFLATE_BUF  16384

struct uf_inflate_s {
    z_stream   zs;
    unsigned   kind;
    unsigned   started;     /* inflateInit2() done */
    unsigned   ended;       /* Z_STREAM_END */
    uint64_t   in;
    uint64_t   out;
    uint64_t   max;
    unsigned   ratio;
};

int
uf_inflate_new(uf_inflate_t **pz, unsigned kind, uint64_t max, unsigned ratio)
{
    uf_inflate_t  *z;

    z = malloc(sizeof(uf_inflate_t));
    if (z == NULL) {
        return UF_DEC_ENOMEM;
    }

    *z = (uf_inflate_t) { .kind = kind, .max = max, .ratio = ratio };

    *pz = z;
    return 0;
}

int
uf_inflate_feed(uf_inflate_t *z, const unsigned char *p, size_t len,
    uf_out_pt out, void *data)
{
    int            rc, rc2, wbits, over;
    size_t         n;
    unsigned char  buf[UF_INFLATE_BUF];

    if (len == 0) {
        return 0;
    }

    if (z->ended) {
        return UF_DEC_EINVALID;
    }

    if (!z->started) {
        if (z->kind == UF_INFLATE_GZIP) {
            wbits = 16 + MAX_WBITS;

        } else {
            /* a zlib header's first byte names method 8 */
            wbits = (p[0] & 0x0f) == 8 ? MAX_WBITS : -MAX_WBITS;
        }

        if (inflateInit2(&z->zs, wbits) != Z_OK) {
            return UF_DEC_ENOMEM;
        }

        z->started = 1;
    }

    z->in += len;
    z->zs.next_in = (unsigned char *) p;
    z->zs.avail_in = (uInt) len;

    for ( ;; ) {
        z->zs.next_out = buf;
        z->zs.avail_out = sizeof(buf);

        rc = inflate(&z->zs, Z_NO_FLUSH);

        if (rc == Z_MEM_ERROR) {
            return UF_DEC_ENOMEM;
        }

        /* what was decoded goes out before an error, as with any split */
        n = sizeof(buf) - z->zs.avail_out;
        over = 0;

        if (z->max && z->out + n > z->max) {
            /* up to the limit exactly, however the input was split */
            n = (size_t) (z->max - z->out);
            over = 1;
        }

        z->out += n;

        if (z->ratio && z->out > 1024 * 1024 && z->out / z->ratio > z->in) {
            over = 1;
        }

        if (n) {
            rc2 = out(data, buf, n);
            if (rc2 != 0) {
                return rc2;
            }
        }

        if (over) {
            return UF_DEC_ELIMIT;
        }

        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            return UF_DEC_EINVALID;
        }

        if (rc == Z_STREAM_END) {
            z->ended = 1;

            /* a second gzip member, or garbage: decoders differ */
            return z->zs.avail_in ? UF_DEC_EINVALID : 0;
        }

        if (z->zs.avail_out != 0) {
            /* all of the input is taken */
            return 0;
        }
    }
}


int
uf_inflate_finish(uf_inflate_t *z)
{
    return z->ended ? 0 : UF_DEC_EINVALID;
}


void
uf_inflate_free(uf_inflate_t *z)
{
    if (z == NULL) {
        return;
    }

    if (z->started) {
        inflateEnd(&z->zs);
    }

    free(z);
}
