/*
 * JPEG, the first decoder of the media layer: TurboJPEG (hdb_jpeg.c)
 * decodes under the pixel cap, PDQ hashes the pixels.  The fast path
 * decodes greyscale at the smallest DCT scale PDQ can use (within a few
 * bits of the reference); the exact path is the reference's, full RGB.
 */

#include <stdio.h>
#include <stdlib.h>

#include "hdb_jpeg.h"
#include "hdb_media_decoder.h"
#include "hdb_pdq.h"

static int
hdb_img_jpeg_sniff(const unsigned char *p, size_t len)
{
    static const unsigned char  magic[3] = { 0xff, 0xd8, 0xff };

    for (size_t i = 0; i < 3; i++) {
        if (i == len) {
            return HDB_MEDIA_MORE;
        }

        if (p[i] != magic[i]) {
            return 0;
        }
    }

    return 1;
}

static int
hdb_img_jpeg_hash(const unsigned char *p, size_t len,
    const hdb_media_limits_t *limits, hdb_media_result_t *out)
{
    int                 rc, w, h, ch, q;
    const char         *why;
    unsigned char      *px;
    hdb_pdq_hash_t      hash, v[HDB_PDQ_VARIANTS];
    hdb_media_frame_t  *f;

    why = NULL;

    if (limits->exact) {
        rc = hdb_jpeg_decode(p, len, limits->max_pixels, &px, &w, &h, &ch,
                             &why);
    } else {
        ch = 1;
        rc = hdb_jpeg_decode_fast(p, len, limits->max_pixels, &px, &w, &h,
                                  &why);
    }

    if (rc != HDB_JPEG_OK) {
        snprintf(out->why, sizeof(out->why), "%s",
                 hdb_jpeg_strerror(rc, why));

        switch (rc) {
        case HDB_JPEG_TOO_LARGE:
            return HDB_MEDIA_ETOOLARGE;
        case HDB_JPEG_NOMEM:
            return HDB_MEDIA_ENOMEM;
        default:
            return HDB_MEDIA_ECORRUPT;
        }
    }

    q = hdb_pdq_hash_pixels(px, w, h, ch, &hash, v);
    free(px);

    f = calloc(1, sizeof(hdb_media_frame_t));

    if (q < 0 || f == NULL) {
        free(f);
        return HDB_MEDIA_ENOMEM;
    }

    f->quality = q;

    for (int i = 0; i < HDB_PDQ_VARIANTS; i++) {
        hdb_pdq_to_bytes(&v[i], f->variants[i]);
    }

    out->frames = f;
    out->nframes = 1;

    return HDB_MEDIA_OK;
}

const hdb_media_decoder_t  hdb_img_jpeg = {
    HDB_MEDIA_JPEG,
    "jpeg",
    hdb_img_jpeg_sniff,
    hdb_img_jpeg_hash
};
