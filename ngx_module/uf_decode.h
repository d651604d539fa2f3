/*
 * Streaming decoders of the encodings applications undo before they
 * store an upload: a part's Content-Transfer-Encoding (base64,
 * quoted-printable), base64 inside JSON strings, and a request's
 * Content-Encoding (gzip, deflate).  Each takes its input in pieces of
 * any size and passes what it decodes to an output callback, in bounded
 * memory.
 *
 * Strict where decoders disagree (uf_base64.c, uf_qp.c say how), so
 * that the bytes hashed are the bytes every application gets, or the
 * body is refused.  Plain C, no nginx types.
 */

#ifndef UF_DECODE_H
#define UF_DECODE_H

#include <stddef.h>
#include <stdint.h>

#define UF_DEC_OK        0
#define UF_DEC_EINVALID (-1)    /* not valid in this encoding */
#define UF_DEC_ELIMIT   (-2)    /* decodes to more than allowed */
#define UF_DEC_ENOMEM   (-3)
#define UF_DEC_EPADDED  (-4)    /* loose base64: data after the padding */

/* returns 0, or a code that stops the decoder and is passed back */
typedef int (*uf_out_pt)(void *data, const unsigned char *p, size_t len);

/*
 * A decoder gathers what it decodes in a buffer on its stack and passes
 * it on once *n reaches size: one call per few KiB, not one per byte.
 * Returns out's code, or 0.
 */
static inline int
uf_dec_drain(uf_out_pt out, void *data, const unsigned char *buf, size_t *n,
    size_t size)
{
    int  rc;

    if (*n < size) {
        return 0;
    }

    rc = out(data, buf, *n);
    *n = 0;

    return rc;
}


/*
 * The end of a decoder's pass over its input: what it decoded goes out
 * first, even before an error, so that the output never depends on how
 * the input was split.  Returns out's code, else rc.
 */
static inline int
uf_dec_flush(uf_out_pt out, void *data, const unsigned char *buf, size_t n,
    int rc)
{
    int  orc;

    orc = n ? out(data, buf, n) : 0;

    return orc ? orc : rc;
}


/*
 * base64.  UF_B64_MIME: RFC 2045, the alphabet, CR, LF, SP and HT only;
 * padding only at the end.  UF_B64_LOOSE (JSON strings): also the URL
 * alphabet ("-" "_"); any other byte makes uf_base64_feed() return
 * UF_DEC_EINVALID, for the caller to drop the string, and data after
 * the padding UF_DEC_EPADDED: Python and Node stop decoding there, so
 * what came before is the object (uf_base64_finish() flushes it).
 */
#define UF_B64_MIME   0
#define UF_B64_LOOSE  1

typedef struct {
    unsigned   mode;
    uint32_t   acc;
    unsigned   n;           /* sextets in acc */
    unsigned   pad;         /* "=" seen */
    unsigned   n_at_pad;
} uf_base64_t;

void uf_base64_init(uf_base64_t *d, unsigned mode);
int uf_base64_feed(uf_base64_t *d, const unsigned char *p, size_t len,
    uf_out_pt out, void *data);
int uf_base64_finish(uf_base64_t *d, uf_out_pt out, void *data);


/* quoted-printable (RFC 2045 6.7) */
typedef struct {
    unsigned       state;
    unsigned char  hi;
    unsigned       ws;      /* the last byte was SP or HT */
} uf_qp_t;

void uf_qp_init(uf_qp_t *d);
int uf_qp_feed(uf_qp_t *d, const unsigned char *p, size_t len,
    uf_out_pt out, void *data);
int uf_qp_finish(uf_qp_t *d, uf_out_pt out, void *data);


/*
 * gzip and deflate (zlib-wrapped, or raw as some clients send it and
 * aiohttp accepts).  Decoded output over max bytes, or over ratio times
 * the input once past 1 MiB, is UF_DEC_ELIMIT: a decompression bomb.
 */
#define UF_INFLATE_GZIP     0
#define UF_INFLATE_DEFLATE  1

typedef struct uf_inflate_s  uf_inflate_t;

int uf_inflate_new(uf_inflate_t **pz, unsigned kind, uint64_t max,
    unsigned ratio);
int uf_inflate_feed(uf_inflate_t *z, const unsigned char *p, size_t len,
    uf_out_pt out, void *data);
/* the stream must have ended, with nothing after it */
int uf_inflate_finish(uf_inflate_t *z);
void uf_inflate_free(uf_inflate_t *z);

#endif /* UF_DECODE_H */
