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

static int
hdb_img_jpeg_sniff(const unsigned char *p, size_t len)
{
    return hdb_media_pattern(p, len, "\xff\xd8\xff", 3);
}

static int
hdb_img_jpeg_hash(const unsigned char *p, size_t len,
    const hdb_media_limits_t *limits, hdb_media_result_t *out)
{
    int             rc, w, h, ch;
    const char     *why;
    unsigned char  *px;

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

    out->total = 1;
    out->width = w;
    out->height = h;

    rc = hdb_media_admit(out, limits, (uint64_t) w, (uint64_t) h);

    if (rc == HDB_MEDIA_OK) {
        rc = hdb_media_frame(out, limits, px, w, h, ch, (size_t) w * ch, 0, 0);
    }

    free(px);

    return rc;
}

static const char *
hdb_img_jpeg_version(void)
{
    return "libjpeg-turbo (TurboJPEG)";
}

const hdb_media_decoder_t  hdb_img_jpeg = {
    HDB_MEDIA_JPEG,
    "jpeg",
    hdb_img_jpeg_sniff,
    hdb_img_jpeg_hash,
    hdb_img_jpeg_version
};
