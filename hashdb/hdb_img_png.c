/*
 * PNG through libspng: 1, 2, 4, 8 and 16 bits, grey, palette, RGB, with
 * or without alpha, interlaced or not, decoded to RGB8 (16-bit samples
 * to their high byte, palette expanded, grey replicated, tRNS and alpha
 * dropped).  libspng checks every CRC and the zlib stream, and refuses
 * sizes over the limits set before the first pixel is decoded.
 *
 * An APNG's frames are composited in hdb_img_apng.c, each decoded here.
 */

#include <stdio.h>
#include <stdlib.h>

#include <spng.h>

#include "hdb_img_png.h"

static int
hdb_img_png_sniff(const unsigned char *p, size_t len)
{
    return hdb_media_pattern(p, len, "\x89PNG\r\n\x1a\n", 8);
}

int
hdb_png_decode(const unsigned char *p, size_t len, int alpha,
    const hdb_media_limits_t *limits, hdb_media_result_t *out,
    unsigned char **px, uint32_t *width, uint32_t *height)
{
    int               rc, fmt;
    size_t            size;
    spng_ctx         *ctx;
    struct spng_ihdr  ihdr;

    *px = NULL;

    ctx = spng_ctx_new(0);
    if (ctx == NULL) {
        return HDB_MEDIA_ENOMEM;
    }

    fmt = alpha ? SPNG_FMT_RGBA8 : SPNG_FMT_RGB8;

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

    rc = hdb_media_admit(out, limits, ihdr.width, ihdr.height);
    if (rc != HDB_MEDIA_OK) {
        goto done;
    }

    rc = spng_decoded_image_size(ctx, fmt, &size);
    if (rc == 0) {
        *px = malloc(size);
        if (*px == NULL) {
            rc = HDB_MEDIA_ENOMEM;
            goto done;
        }

        rc = spng_decode_image(ctx, *px, size, fmt,
                               alpha ? SPNG_DECODE_TRNS : 0);
    }

    if (rc != 0) {
        rc = hdb_media_fail(out, HDB_MEDIA_ECORRUPT, "PNG: %s",
                            spng_strerror(rc));
        free(*px);
        *px = NULL;
        goto done;
    }

    *width = ihdr.width;
    *height = ihdr.height;

done:

    spng_ctx_free(ctx);

    return rc;
}

static int
hdb_img_png_hash(const unsigned char *p, size_t len,
    const hdb_media_limits_t *limits, hdb_media_result_t *out)
{
    int             rc;
    uint32_t        w, h;
    unsigned char  *px;

    rc = hdb_apng_hash(p, len, limits, out);
    if (rc != HDB_MEDIA_EFORMAT) {
        return rc;
    }

    rc = hdb_png_decode(p, len, 0, limits, out, &px, &w, &h);
    if (rc != HDB_MEDIA_OK) {
        return rc;
    }

    out->total = 1;
    out->width = (int) w;
    out->height = (int) h;

    rc = hdb_media_frame(out, limits, px, (int) w, (int) h, 3,
                         (size_t) w * 3, 0, 0);
    free(px);

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
