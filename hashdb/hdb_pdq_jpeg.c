/*
 * PDQ of a JPEG in memory: the decoder and the hash put together.
 */

#include <stdlib.h>

#include "hdb_pdq_jpeg.h"

void
hdb_pdq_bytes(const pdq_hash_t *h, unsigned char *out)
{
    /* word 15 first, big-endian: the reference's hex, decoded */
    for (int i = 0; i < 16; i++) {
        out[2 * i] = (unsigned char) (h->w[15 - i] >> 8);
        out[2 * i + 1] = (unsigned char) h->w[15 - i];
    }
}

int
hdb_pdq_jpeg(const unsigned char *jpeg, size_t len, size_t max_pixels,
    int exact, hdb_pdq_result_t *out, const char **why)
{
    int             rc, w, h, ch, q;
    pdq_hash_t      hash, v[PDQ_VARIANTS];
    unsigned char  *px;

    *why = NULL;

    if (exact) {
        rc = hdb_jpeg_decode(jpeg, len, max_pixels, &px, &w, &h, &ch, why);
    } else {
        ch = 1;
        rc = hdb_jpeg_decode_fast(jpeg, len, max_pixels, &px, &w, &h, why);
    }

    if (rc != HDB_JPEG_OK) {
        return rc;
    }

    q = pdq_hash_pixels(px, w, h, ch, &hash, v);
    free(px);

    if (q < 0) {
        return HDB_JPEG_NOMEM;
    }

    out->quality = q;

    for (int i = 0; i < PDQ_VARIANTS; i++) {
        hdb_pdq_bytes(&v[i], out->variants[i]);
    }

    return HDB_JPEG_OK;
}
