/*
 * PNG through libspng: 1, 2, 4, 8 and 16 bits, grey, palette, RGB, with
 * or without alpha, interlaced or not, decoded to RGB8 (16-bit samples
 * to their high byte, palette expanded, grey replicated, tRNS and alpha
 * dropped).  libspng checks every CRC and the zlib stream, and refuses
 * sizes over the limits set before the first pixel is decoded.
 *
 * An APNG's default image is what is hashed: libspng skips the
 * animation's fcTL/fdAT chunks (see README, "Image formats").
 */

#include <stdio.h>
#include <stdlib.h>

#include <spng.h>

#include "hdb_media_decoder.h"

/* a text or other ancillary chunk larger than this is refused */
#define HDB_PNG_CHUNK_MAX   (8u << 20)
#define HDB_PNG_CACHE_MAX   (16u << 20)

static int
hdb_img_png_sniff(const unsigned char *p, size_t len)
{
    return hdb_media_magic(p, len, 0, "\x89PNG\r\n\x1a\n", 8);
}

static int
hdb_img_png_hash(const unsigned char *p, size_t len,
    const hdb_media_limits_t *limits, hdb_media_result_t *out)
{
    int               rc;
    size_t            size;
    spng_ctx         *ctx;
    unsigned char    *px;
    struct spng_ihdr  ihdr;

    ctx = spng_ctx_new(0);
    if (ctx == NULL) {
        return HDB_MEDIA_ENOMEM;
    }

    px = NULL;

    rc = spng_set_chunk_limits(ctx, HDB_PNG_CHUNK_MAX, HDB_PNG_CACHE_MAX);
    if (rc == 0) {
        rc = spng_set_png_buffer(ctx, p, len);
    }

    if (rc == 0) {
        rc = spng_get_ihdr(ctx, &ihdr);
    }

    if (rc != 0) {
        rc = hdb_media_fail(out, HDB_MEDIA_ECORRUPT, "PNG: %s",
                            spng_strerror(rc));
        goto done;
    }

    out->total = 1;
    out->width = (int) ihdr.width;
    out->height = (int) ihdr.height;

    rc = hdb_media_admit(out, limits, ihdr.width, ihdr.height);
    if (rc != HDB_MEDIA_OK) {
        goto done;
    }

    rc = spng_decoded_image_size(ctx, SPNG_FMT_RGB8, &size);
    if (rc == 0) {
        px = malloc(size);
        if (px == NULL) {
            rc = HDB_MEDIA_ENOMEM;
            goto done;
        }

        rc = spng_decode_image(ctx, px, size, SPNG_FMT_RGB8, 0);
    }

    if (rc != 0) {
        rc = hdb_media_fail(out, HDB_MEDIA_ECORRUPT, "PNG: %s",
                            spng_strerror(rc));
        goto done;
    }

    rc = hdb_media_frame(out, limits, px, (int) ihdr.width, (int) ihdr.height,
                         3, (size_t) ihdr.width * 3, 0, 0);

done:

    free(px);
    spng_ctx_free(ctx);

    return rc;
}

static const char *
hdb_img_png_version(void)
{
    static char  v[32];

    snprintf(v, sizeof(v), "libspng %s", spng_version_string());
    return v;
}

const hdb_media_decoder_t  hdb_img_png = {
    HDB_MEDIA_PNG,
    "png",
    hdb_img_png_sniff,
    hdb_img_png_hash,
    hdb_img_png_version
};
