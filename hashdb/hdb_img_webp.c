/*
 * WebP through libwebp: lossy, lossless, with alpha, and animations.
 * A still is decoded straight to RGB (WebPDecodeRGBInto, libwebp's
 * default fancy upsampling, alpha not applied): the pixels Pillow gets
 * from WebPAnimDecoder's RGBA, without its canvas copy (a third of the
 * time at 12 MP).  An animation's frames are the canvases WebPAnimDecoder
 * composites, as Pillow reads them.  The canvas and the frame count come
 * from the headers (WebPGetFeatures, WebPAnimDecoderGetInfo) and are
 * admitted before any pixel is decoded.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>
#include <webp/demux.h>

#include "hdb_media_decoder.h"

static int
hdb_img_webp_sniff(const unsigned char *p, size_t len)
{
    return hdb_media_pattern(p, len, "RIFF????WEBP", sizeof("RIFF????WEBP") - 1);
}

static int
hdb_img_webp_hash(const unsigned char *p, size_t len,
    const hdb_media_limits_t *limits, hdb_media_result_t *out)
{
    int                      rc, ts, prev;
    uint8_t                 *px;
    unsigned                 i, n;
    WebPData                 data;
    WebPAnimInfo             info;
    WebPAnimDecoder         *dec;
    WebPBitstreamFeatures    f;
    WebPAnimDecoderOptions   opts;

    if (WebPGetFeatures(p, len, &f) != VP8_STATUS_OK) {
        return hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                              "WebP: bad or truncated headers");
    }

    out->width = f.width;
    out->height = f.height;

    /* the canvas, before the decoder allocates it */
    rc = hdb_media_admit(out, limits, (uint64_t) f.width,
                         (uint64_t) f.height);
    if (rc != HDB_MEDIA_OK) {
        return rc;
    }

    if (!f.has_animation) {
        size_t    stride = (size_t) f.width * 3;
        uint8_t  *rgb = malloc(stride * f.height);

        if (rgb == NULL) {
            return HDB_MEDIA_ENOMEM;
        }

        out->total = 1;

        if (WebPDecodeRGBInto(p, len, rgb, stride * f.height, (int) stride)
            == NULL)
        {
            free(rgb);
            return hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                                  "WebP: the image does not decode");
        }

        rc = hdb_media_frame(out, limits, rgb, f.width, f.height, 3, stride,
                             0, 0);
        free(rgb);
        return rc;
    }

    if (!WebPAnimDecoderOptionsInit(&opts)) {
        return hdb_media_fail(out, HDB_MEDIA_ECORRUPT, "WebP: library");
    }

    opts.color_mode = MODE_RGBA;
    opts.use_threads = 0;

    data.bytes = p;
    data.size = len;

    dec = WebPAnimDecoderNew(&data, &opts);
    if (dec == NULL) {
        return hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                              "WebP: the demuxer refused it");
    }

    if (!WebPAnimDecoderGetInfo(dec, &info) || info.frame_count == 0) {
        rc = hdb_media_fail(out, HDB_MEDIA_ECORRUPT, "WebP: no frame");
        goto done;
    }

    n = info.frame_count;
    out->total = n;

    /* every frame is a canvas composited: all of them admitted first */
    for (i = 1; i < n && rc == HDB_MEDIA_OK; i++) {
        rc = hdb_media_admit(out, limits, info.canvas_width,
                             info.canvas_height);
    }

    prev = 0;

    for (i = 0; i < n && rc == HDB_MEDIA_OK; i++) {
        if (!WebPAnimDecoderGetNext(dec, &px, &ts)) {
            rc = hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                                "WebP: frame %u does not decode", i);
            break;
        }

        if (hdb_media_sampled(limits, i, n)) {
            /* a frame's time is when it is shown: the previous end */
            rc = hdb_media_frame(out, limits, px, (int) info.canvas_width,
                                 (int) info.canvas_height, 4,
                                 (size_t) info.canvas_width * 4, i,
                                 prev / 1000.0);
        }

        prev = ts;

        if (limits->max_frames && out->nframes == limits->max_frames) {
            break;
        }
    }

done:

    WebPAnimDecoderDelete(dec);

    return rc;
}

static const char *
hdb_img_webp_version(void)
{
    int          v;
    static char  s[32];

    v = WebPGetDecoderVersion();
    snprintf(s, sizeof(s), "libwebp %d.%d.%d", v >> 16, v >> 8 & 0xff,
             v & 0xff);
    return s;
}

const hdb_media_decoder_t  hdb_img_webp = {
    HDB_MEDIA_WEBP,
    "webp",
    hdb_img_webp_sniff,
    hdb_img_webp_hash,
    hdb_img_webp_version
};
