/*
 * JPEG decoding; see hdb_jpeg.h.
 */

#include <stdio.h>
#include <stdlib.h>

#include <turbojpeg.h>

#include "hdb_jpeg.h"

const char *
hdb_jpeg_strerror(int rc, const char *why)
{
    switch (rc) {
    case HDB_JPEG_NOT_JPEG:
        return "not a JPEG";
    case HDB_JPEG_TOO_LARGE:
        return "more pixels than allowed";
    case HDB_JPEG_CORRUPT:
        return why ? why : "corrupt JPEG";
    case HDB_JPEG_NOMEM:
        return "out of memory";
    default:
        return "ok";
    }
}

int
hdb_is_jpeg(const unsigned char *p, size_t len)
{
    return len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff;
}

static int
hdb_jpeg_decode_at(const unsigned char *jpeg, size_t len, size_t max_pixels,
    int fast, unsigned char **pixels, int *width, int *height, int *channels,
    const char **why);

int
hdb_jpeg_decode(const unsigned char *jpeg, size_t len, size_t max_pixels,
    unsigned char **pixels, int *width, int *height, int *channels,
    const char **why)
{
    return hdb_jpeg_decode_at(jpeg, len, max_pixels, 0, pixels, width,
                              height, channels, why);
}

int
hdb_jpeg_decode_fast(const unsigned char *jpeg, size_t len,
    size_t max_pixels, unsigned char **pixels, int *width, int *height,
    const char **why)
{
    int  channels;

    return hdb_jpeg_decode_at(jpeg, len, max_pixels, 1, pixels, width,
                              height, &channels, why);
}

/*
 * CMYK as JPEG files hold it (Adobe's inverted values, which TurboJPEG
 * hands out as they are) to RGB, or to grey with the weights PDQ's luma
 * uses; in place, the output being smaller than the input.
 */
static void
hdb_jpeg_from_cmyk(unsigned char *px, size_t n, int channels)
{
    for (size_t i = 0; i < n; i++) {
        unsigned  c = px[4 * i], m = px[4 * i + 1], y = px[4 * i + 2];
        unsigned  k = px[4 * i + 3];
        unsigned  r = c * k / 255, g = m * k / 255, b = y * k / 255;

        if (channels == 1) {
            px[i] = (unsigned char) ((299 * r + 587 * g + 114 * b + 500)
                                     / 1000);
        } else {
            px[3 * i] = (unsigned char) r;
            px[3 * i + 1] = (unsigned char) g;
            px[3 * i + 2] = (unsigned char) b;
        }
    }
}

/* the smallest scale whose sides are still >= min(side, 512) */
static void
hdb_jpeg_scale(int w, int h, int *sw, int *sh)
{
    int                n, best, bw, bh;
    tjscalingfactor   *sf;

    *sw = w;
    *sh = h;

    sf = tjGetScalingFactors(&n);
    if (sf == NULL) {
        return;
    }

    best = w;
    bw = w;
    bh = h;

    for (int i = 0; i < n; i++) {
        int  x = TJSCALED(w, sf[i]);
        int  y = TJSCALED(h, sf[i]);

        if (x >= (w < 512 ? w : 512) && y >= (h < 512 ? h : 512)
            && x <= w && x < best)
        {
            best = x;
            bw = x;
            bh = y;
        }
    }

    *sw = bw;
    *sh = bh;
}

/*
 * The decoder's message lives in its handle, which is gone by the time
 * the caller reads it: a copy per thread (callers that hand it to
 * another thread copy it again).
 */
static _Thread_local char  hdb_jpeg_msg[200];

static const char *
hdb_jpeg_message(tjhandle tj)
{
    snprintf(hdb_jpeg_msg, sizeof(hdb_jpeg_msg), "%s", tjGetErrorStr2(tj));
    return hdb_jpeg_msg;
}

static int
hdb_jpeg_decode_at(const unsigned char *jpeg, size_t len, size_t max_pixels,
    int fast, unsigned char **pixels, int *width, int *height, int *channels,
    const char **why)
{
    int             w, h, subsamp, colorspace, rc, cmyk;
    tjhandle        tj;
    unsigned char  *buf;

    *pixels = NULL;
    *why = NULL;

    if (!hdb_is_jpeg(jpeg, len)) {
        return HDB_JPEG_NOT_JPEG;
    }

    tj = tjInitDecompress();
    if (tj == NULL) {
        return HDB_JPEG_NOMEM;
    }

    /*
     * A file cut off before its frame header can come back as a success
     * with the sizes never written (seen with 100 bytes of a JPEG): they
     * start at 0, so that it is refused below rather than decoded at
     * whatever size the stack held.
     */
    w = 0;
    h = 0;
    colorspace = -1;

    if (tjDecompressHeader3(tj, jpeg, (unsigned long) len, &w, &h, &subsamp,
                            &colorspace) != 0)
    {
        *why = hdb_jpeg_message(tj);
        tjDestroy(tj);
        return HDB_JPEG_CORRUPT;
    }

    if (w <= 0 || h <= 0) {
        *why = "no image size";
        tjDestroy(tj);
        return HDB_JPEG_CORRUPT;
    }

    /* before any pixel is decoded: a small file can declare 4 G pixels */
    if (max_pixels && (size_t) w * (size_t) h > max_pixels) {
        tjDestroy(tj);
        return HDB_JPEG_TOO_LARGE;
    }

    *channels = (fast || colorspace == TJCS_GRAY) ? 1 : 3;
    cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;

    if (fast) {
        hdb_jpeg_scale(w, h, &w, &h);
    }

    /* CMYK is decoded as such and turned into RGB or grey below */
    buf = malloc((size_t) w * h * (cmyk ? 4 : *channels));
    if (buf == NULL) {
        tjDestroy(tj);
        return HDB_JPEG_NOMEM;
    }

    /* the defaults of the reference's decoder: accurate IDCT, fancy
     * upsampling */
    rc = tjDecompress2(tj, jpeg, (unsigned long) len, buf, w, 0, h,
                       cmyk ? TJPF_CMYK
                            : *channels == 1 ? TJPF_GRAY : TJPF_RGB, 0);

    if (rc != 0 && tjGetErrorCode(tj) == TJERR_FATAL) {
        *why = hdb_jpeg_message(tj);
        free(buf);
        tjDestroy(tj);
        return HDB_JPEG_CORRUPT;
    }

    if (cmyk) {
        hdb_jpeg_from_cmyk(buf, (size_t) w * h, *channels);
    }

    tjDestroy(tj);

    *pixels = buf;
    *width = w;
    *height = h;

    return HDB_JPEG_OK;
}
