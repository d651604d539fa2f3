/*
 * TIFF through libtiff (4.5: per-file error handlers and an allocation
 * cap): the first image of the file.  8-bit RGB, RGB with unassociated
 * alpha and grey in strips are read as stored, sample for sample (what
 * Pillow gives; libtiff's RGBA interface would premultiply the colours
 * by the alpha); every other kind (palette, 1, 4 and 16 bits, YCbCr,
 * CMYK, tiles) through TIFFReadRGBAImageOriented, libtiff's own
 * conversion to 8-bit RGBA, top row first.  The file is read from
 * memory through our own procedures; libtiff's messages go to out->why,
 * never to stderr.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

#include "hdb_media_decoder.h"

/* no single allocation of libtiff's larger than this */
#define HDB_TIFF_ALLOC_MAX  ((tmsize_t) 512 << 20)

typedef struct {
    const unsigned char  *p;
    size_t                len;
    size_t                pos;
    hdb_media_result_t   *out;
} hdb_tiff_src_t;

static int
hdb_img_tiff_sniff(const unsigned char *p, size_t len)
{
    int  rc;

    /* classic ("*") and BigTIFF ("+"), either byte order */
    rc = hdb_media_pattern(p, len, "II[*+]\0", sizeof("II[*+]\0") - 1);

    return rc == 0 ? hdb_media_pattern(p, len, "MM\0[*+]", sizeof("MM\0[*+]") - 1) : rc;
}

static tmsize_t
hdb_tiff_read(thandle_t h, void *buf, tmsize_t n)
{
    size_t           k;
    hdb_tiff_src_t  *s = (hdb_tiff_src_t *) h;

    if (n <= 0 || s->pos >= s->len) {
        return 0;
    }

    k = s->len - s->pos < (size_t) n ? s->len - s->pos : (size_t) n;
    memcpy(buf, s->p + s->pos, k);
    s->pos += k;

    return (tmsize_t) k;
}

static tmsize_t
hdb_tiff_write(thandle_t h, void *buf, tmsize_t n)
{
    (void) h;
    (void) buf;
    (void) n;

    return -1;
}

static toff_t
hdb_tiff_seek(thandle_t h, toff_t off, int whence)
{
    uint64_t         base;
    hdb_tiff_src_t  *s = (hdb_tiff_src_t *) h;

    base = whence == SEEK_CUR ? s->pos : whence == SEEK_END ? s->len : 0;

    if (off > UINT64_MAX - base || base + off > s->len) {
        return (toff_t) -1;
    }

    s->pos = (size_t) (base + off);

    return s->pos;
}

static int
hdb_tiff_close(thandle_t h)
{
    (void) h;

    return 0;
}

static toff_t
hdb_tiff_size(thandle_t h)
{
    return ((hdb_tiff_src_t *) h)->len;
}

static int
hdb_tiff_map(thandle_t h, void **base, toff_t *size)
{
    hdb_tiff_src_t  *s = (hdb_tiff_src_t *) h;

    /* libtiff only reads a file opened "r": the memory is the file */
    *base = (void *) s->p;
    *size = s->len;

    return 1;
}

static void
hdb_tiff_unmap(thandle_t h, void *base, toff_t size)
{
    (void) h;
    (void) base;
    (void) size;
}

/* libtiff's first error becomes the reason; warnings are dropped */
static int
hdb_tiff_error(TIFF *tif, void *data, const char *module, const char *fmt,
    va_list ap)
{
    size_t               n;
    hdb_media_result_t  *out = data;

    (void) tif;

    if (out->why[0] == '\0') {
        n = (size_t) snprintf(out->why, sizeof(out->why), "TIFF: %s: ",
                              module ? module : "");
        if (n < sizeof(out->why)) {
            vsnprintf(out->why + n, sizeof(out->why) - n, fmt, ap);
        }
    }

    return 1;
}

static int
hdb_tiff_quiet(TIFF *tif, void *data, const char *module, const char *fmt,
    va_list ap)
{
    (void) tif;
    (void) data;
    (void) module;
    (void) fmt;
    (void) ap;

    return 1;
}

/* 8-bit RGB(A) or grey in strips, as stored; 0, or -1 to use RGBA */
static int
hdb_tiff_raw(TIFF *tif, uint32_t w, uint32_t h, unsigned char *rgb)
{
    uint16_t        bits, spp, photo, planar, nextra, *extra;
    unsigned char  *line;

    if (!TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits)
        || !TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp)
        || !TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar)
        || !TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo)
        || bits != 8 || planar != PLANARCONFIG_CONTIG || TIFFIsTiled(tif))
    {
        return -1;
    }

    if (!TIFFGetFieldDefaulted(tif, TIFFTAG_EXTRASAMPLES, &nextra, &extra)) {
        nextra = 0;
    }

    if (!((photo == PHOTOMETRIC_RGB && spp == 3 && nextra == 0)
          || (photo == PHOTOMETRIC_RGB && spp == 4 && nextra == 1
              && extra[0] == EXTRASAMPLE_UNASSALPHA)
          || (photo == PHOTOMETRIC_MINISBLACK && spp == 1)))
    {
        return -1;
    }

    line = malloc((size_t) TIFFScanlineSize(tif));
    if (line == NULL) {
        return -2;
    }

    for (uint32_t y = 0; y < h; y++) {
        unsigned char  *d = rgb + (size_t) y * w * 3;

        if (TIFFReadScanline(tif, line, y, 0) < 0) {
            free(line);
            return -3;
        }

        for (uint32_t x = 0; x < w; x++, d += 3) {
            const unsigned char  *s = line + (size_t) x * spp;

            d[0] = s[0];
            d[1] = s[spp >= 3 ? 1 : 0];
            d[2] = s[spp >= 3 ? 2 : 0];
        }
    }

    free(line);

    return 0;
}

static int
hdb_img_tiff_hash(const unsigned char *p, size_t len,
    const hdb_media_limits_t *limits, hdb_media_result_t *out)
{
    int               rc;
    TIFF             *tif;
    uint32_t          w, h, *rgba;
    unsigned char    *rgb;
    hdb_tiff_src_t    src;
    TIFFOpenOptions  *opts;

    opts = TIFFOpenOptionsAlloc();
    if (opts == NULL) {
        return HDB_MEDIA_ENOMEM;
    }

    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, HDB_TIFF_ALLOC_MAX);
    TIFFOpenOptionsSetErrorHandlerExtR(opts, hdb_tiff_error, out);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, hdb_tiff_quiet, NULL);

    src.p = p;
    src.len = len;
    src.pos = 0;
    src.out = out;

    tif = TIFFClientOpenExt("upload", "r", (thandle_t) &src, hdb_tiff_read,
                            hdb_tiff_write, hdb_tiff_seek, hdb_tiff_close,
                            hdb_tiff_size, hdb_tiff_map, hdb_tiff_unmap,
                            opts);
    TIFFOpenOptionsFree(opts);

    if (tif == NULL) {
        return out->why[0] ? HDB_MEDIA_ECORRUPT
                           : hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                                            "TIFF: not opened");
    }

    rgb = NULL;
    rgba = NULL;

    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w)
        || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h))
    {
        rc = hdb_media_fail(out, HDB_MEDIA_ECORRUPT, "TIFF: no image size");
        goto done;
    }

    out->total = 1;
    out->width = (int) w;
    out->height = (int) h;

    rc = hdb_media_admit(out, limits, w, h);
    if (rc != HDB_MEDIA_OK) {
        goto done;
    }

    rgb = malloc((size_t) w * h * 3);
    if (rgb == NULL) {
        rc = HDB_MEDIA_ENOMEM;
        goto done;
    }

    rc = hdb_tiff_raw(tif, w, h, rgb);

    if (rc == -2) {
        rc = HDB_MEDIA_ENOMEM;
        goto done;
    }

    if (rc == -3) {
        rc = out->why[0] ? HDB_MEDIA_ECORRUPT
                         : hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                                          "TIFF: a row does not decode");
        goto done;
    }

    if (rc == -1) {
        /* libtiff's conversion: A B G R in each 32-bit pixel */
        rgba = malloc((size_t) w * h * 4);
        if (rgba == NULL) {
            rc = HDB_MEDIA_ENOMEM;
            goto done;
        }

        if (!TIFFReadRGBAImageOriented(tif, w, h, rgba, ORIENTATION_TOPLEFT,
                                       1))
        {
            rc = out->why[0] ? HDB_MEDIA_ECORRUPT
                             : hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                                              "TIFF: not converted to RGB");
            goto done;
        }

        for (size_t i = 0; i < (size_t) w * h; i++) {
            rgb[3 * i] = (unsigned char) TIFFGetR(rgba[i]);
            rgb[3 * i + 1] = (unsigned char) TIFFGetG(rgba[i]);
            rgb[3 * i + 2] = (unsigned char) TIFFGetB(rgba[i]);
        }
    }

    rc = hdb_media_frame(out, limits, rgb, (int) w, (int) h, 3,
                         (size_t) w * 3, 0, 0);

done:

    free(rgba);
    free(rgb);
    TIFFClose(tif);

    return rc;
}

static const char *
hdb_img_tiff_version(void)
{
    static char  v[64];
    const char  *s, *e;

    /* "LIBTIFF, Version 4.5.0\n...": the version alone */
    s = TIFFGetVersion();
    e = strchr(s, '\n');
    snprintf(v, sizeof(v), "libtiff (%.*s)", e ? (int) (e - s) : 40, s);

    return v;
}

const hdb_media_decoder_t  hdb_img_tiff = {
    HDB_MEDIA_TIFF,
    "tiff",
    hdb_img_tiff_sniff,
    hdb_img_tiff_hash,
    hdb_img_tiff_version
};
