/*
 * What the fuzz targets record of a run, to compare a body fed whole with
 * the same body fed in pieces: a growing byte buffer.  Each target is a
 * program of its own, so these are static inline.
 */

#ifndef FUZZ_REC_H
#define FUZZ_REC_H

#include <stdlib.h>
#include <string.h>

typedef struct {
    unsigned char  *out;
    size_t          len, cap;
    size_t          name_len;   /* fuzz_inspect: an object's "{where}" */
    long            open;       /* fuzz_inspect: objects not yet ended */
} rec_t;

static inline void
rec(rec_t *r, const void *p, size_t n)
{
    if (r->len + n > r->cap) {
        r->cap = (r->len + n) * 2 + 64;
        r->out = realloc(r->out, r->cap);
        if (r->out == NULL) {
            abort();
        }
    }

    memcpy(r->out + r->len, p, n);
    r->len += n;
}

/* the same as an output callback of the decoders (uf_out_pt) */
static inline int
rec_out(void *data, const unsigned char *p, size_t n)
{
    rec(data, p, n);
    return 0;
}

#endif /* FUZZ_REC_H */
