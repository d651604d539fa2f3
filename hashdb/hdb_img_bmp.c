/*
 * BMP, decoded here: the format is a header and rows of pixels, and no
 * Debian library decodes it on its own (libgdk-pixbuf and ImageMagick
 * carry much more than it needs).  Read: the Windows headers (40, 52,
 * 56, 108, 124 bytes) and OS/2's 12-byte one; 1, 4, 8 bits through the
 * palette, 16 and 32 bits (bit fields, or 5-5-5 and B-G-R-x), 24 bits;
 * RLE8 and RLE4; bottom-up and top-down rows.  Pixels are what Pillow
 * gives: bit fields scaled to 8 bits, alpha dropped, palette indices
 * past the palette black, pixels an RLE stream skips palette entry 0.
 * Everything is bounds-checked against the file; nothing else is read.
 */

#include <stdlib.h>
#include <string.h>

#include "hdb_media_decoder.h"

#define HDB_BMP_RGB        0
#define HDB_BMP_RLE8       1
#define HDB_BMP_RLE4       2
#define HDB_BMP_BITFIELDS  3

typedef struct {
    const unsigned char  *p;
    size_t                len;
    int                   w;
    int                   h;
    int                   bpp;
    int                   top_down;
    unsigned              compression;
    uint32_t              mask[3];
    unsigned char         pal[256][3];
    unsigned              npal;
    size_t                bits;         /* where the pixels start */
    unsigned char        *rgb;
} hdb_bmp_t;

static int
hdb_img_bmp_sniff(const unsigned char *p, size_t len)
{
    /* "BM", then at 14 the DIB header's size: 12, 40, 52, 56, 108, 124 */
    static const char  pat[] = "BM????????????[\x0c\x28\x34\x38\x6c\x7c]"
                               "\0\0\0";

    return hdb_media_pattern(p, len, pat, sizeof(pat) - 1);
}

static uint16_t
hdb_le16(const unsigned char *p)
{
    return (uint16_t) (p[1] << 8 | p[0]);
}

/* a bit field's value scaled to 8 bits, as Pillow does */
static unsigned char
hdb_bmp_field(uint32_t v, uint32_t mask)
{
    unsigned  shift, bits;

    if (mask == 0) {
        return 0;
    }

    for (shift = 0; !(mask >> shift & 1); shift++) { /* void */ }
    for (bits = 0; shift + bits < 32 && (mask >> (shift + bits) & 1); bits++)
    { /* void */ }

    v = (v & mask) >> shift;

    if (bits >= 8) {
        return (unsigned char) (v >> (bits - 8));
    }

    return (unsigned char) (v * 255 / ((1u << bits) - 1));
}

static int
hdb_bmp_header(hdb_bmp_t *b, hdb_media_result_t *out)
{
    int32_t               h;
    uint32_t              dib, ncol, entry;
    const unsigned char  *d, *pal;

    if (b->len < 26) {
        return hdb_media_fail(out, HDB_MEDIA_ECORRUPT, "BMP: truncated");
    }

    b->bits = hdb_le32(b->p + 10);
    dib = hdb_le32(b->p + 14);
    d = b->p + 14;

    if (dib > b->len - 14) {
        return hdb_media_fail(out, HDB_MEDIA_ECORRUPT, "BMP: truncated");
    }

    if (dib == 12) {
        b->w = hdb_le16(d + 4);
        h = (int16_t) hdb_le16(d + 6);
        b->bpp = hdb_le16(d + 10);
        b->compression = HDB_BMP_RGB;
        ncol = 0;
        entry = 3;

    } else {
        b->w = (int32_t) hdb_le32(d + 4);
        h = (int32_t) hdb_le32(d + 8);
        b->bpp = hdb_le16(d + 14);
        b->compression = hdb_le32(d + 16);
        ncol = hdb_le32(d + 32);
        entry = 4;
    }

    if (b->w <= 0 || h == 0 || h == INT32_MIN) {
        return hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                              "BMP: declared size %dx%d", b->w, (int) h);
    }

    b->top_down = h < 0;
    b->h = h < 0 ? -h : h;

    switch (b->compression) {
    case HDB_BMP_RGB:
        if (b->bpp != 1 && b->bpp != 4 && b->bpp != 8 && b->bpp != 16
            && b->bpp != 24 && b->bpp != 32)
        {
            goto unsupported;
        }

        break;

    case HDB_BMP_RLE8:
        if (b->bpp != 8) {
            goto unsupported;
        }

        break;

    case HDB_BMP_RLE4:
        if (b->bpp != 4) {
            goto unsupported;
        }

        break;

    case HDB_BMP_BITFIELDS:
        if (b->bpp != 16 && b->bpp != 32) {
            goto unsupported;
        }

        /* after a 40-byte header the masks follow it; else inside it */
        if (dib < 52 && 14 + dib + 12 > b->len) {
            return hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                                  "BMP: truncated");
        }

        for (int i = 0; i < 3; i++) {
            b->mask[i] = hdb_le32(d + 40 + 4 * i);
        }

        break;

    default:
        goto unsupported;
    }

    if (b->compression == HDB_BMP_RGB && b->bpp == 16) {
        b->mask[0] = 0x7c00;
        b->mask[1] = 0x03e0;
        b->mask[2] = 0x001f;
    }

    if (b->bpp <= 8) {
        b->npal = ncol && ncol < (1u << b->bpp) ? ncol : 1u << b->bpp;
        pal = d + dib
              + (b->compression == HDB_BMP_BITFIELDS && dib == 40 ? 12 : 0);

        /* a short palette: the entries that are there */
        while (b->npal
               && (size_t) (pal - b->p) + (size_t) b->npal * entry > b->len)
        {
            b->npal--;
        }

        for (unsigned i = 0; i < b->npal; i++) {
            b->pal[i][0] = pal[i * entry + 2];
            b->pal[i][1] = pal[i * entry + 1];
            b->pal[i][2] = pal[i * entry];
        }
    }

    if (b->bits >= b->len) {
        return hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                              "BMP: no pixel data");
    }

    return HDB_MEDIA_OK;

unsupported:

    return hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                          "BMP: %d bits with compression %u not supported",
                          b->bpp, b->compression);
}

static void
hdb_bmp_index(hdb_bmp_t *b, int x, int y, unsigned i)
{
    unsigned char  *d;

    if (x >= b->w || y >= b->h) {
        return;
    }

    /* rows are stored bottom-up unless the height was negative */
    d = b->rgb + ((size_t) (b->top_down ? y : b->h - 1 - y) * b->w + x) * 3;

    if (i < b->npal) {
        memcpy(d, b->pal[i], 3);

    } else {
        memset(d, 0, 3);
    }
}

static int
hdb_bmp_rows(hdb_bmp_t *b, hdb_media_result_t *out)
{
    int                   x, y;
    size_t                stride;
    uint32_t              v;
    unsigned char        *d;
    const unsigned char  *row, *s;

    stride = (((size_t) b->w * b->bpp + 31) / 32) * 4;

    if ((b->len - b->bits) / stride < (size_t) b->h) {
        return hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                              "BMP: truncated pixel data");
    }

    for (y = 0; y < b->h; y++) {
        row = b->p + b->bits + (size_t) y * stride;

        if (b->bpp <= 8) {
            for (x = 0; x < b->w; x++) {
                size_t    bit = (size_t) x * b->bpp;
                unsigned  i = row[bit / 8] >> (8 - b->bpp - bit % 8)
                              & ((1u << b->bpp) - 1);

                hdb_bmp_index(b, x, y, i);
            }

            continue;
        }

        d = b->rgb + (size_t) (b->top_down ? y : b->h - 1 - y) * b->w * 3;

        for (x = 0, s = row; x < b->w; x++, d += 3) {
            if (b->bpp == 24 || (b->bpp == 32
                                 && b->compression == HDB_BMP_RGB))
            {
                d[0] = s[2];
                d[1] = s[1];
                d[2] = s[0];
                s += b->bpp / 8;
                continue;
            }

            v = b->bpp == 16 ? hdb_le16(s) : hdb_le32(s);
            s += b->bpp / 8;

            for (int c = 0; c < 3; c++) {
                d[c] = hdb_bmp_field(v, b->mask[c]);
            }
        }
    }

    return HDB_MEDIA_OK;
}

/* RLE8 and RLE4: runs, literal runs, end of line, delta, end of bitmap */
static int
hdb_bmp_rle(hdb_bmp_t *b, hdb_media_result_t *out)
{
    int                   x, y, rle4;
    unsigned              n, c, k;
    const unsigned char  *s, *end;

    rle4 = b->compression == HDB_BMP_RLE4;
    s = b->p + b->bits;
    end = b->p + b->len;
    x = 0;
    y = 0;

    for (size_t i = 0; i < (size_t) b->w * b->h; i++) {
        hdb_bmp_index(b, (int) (i % b->w), (int) (i / b->w), 0);
    }

    while (y < b->h) {
        if (end - s < 2) {
            return hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                                  "BMP: truncated RLE data");
        }

        n = s[0];
        c = s[1];
        s += 2;

        if (n > 0) {
            /* a run of n pixels of c (RLE4: its two nibbles by turns) */
            for (k = 0; k < n; k++, x++) {
                hdb_bmp_index(b, x, y,
                              rle4 ? (k & 1 ? c & 15 : c >> 4) : c);
            }

            continue;
        }

        switch (c) {
        case 0:
            x = 0;
            y++;
            break;

        case 1:
            return HDB_MEDIA_OK;

        case 2:
            if (end - s < 2) {
                return hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                                      "BMP: truncated RLE data");
            }

            x += s[0];
            y += s[1];
            s += 2;
            break;

        default:
            /* c literal pixels, padded to 16 bits */
            k = rle4 ? (c + 1) / 2 : c;

            if ((size_t) (end - s) < k) {
                return hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                                      "BMP: truncated RLE data");
            }

            for (unsigned j = 0; j < c; j++, x++) {
                hdb_bmp_index(b, x, y,
                              rle4 ? (j & 1 ? s[j / 2] & 15 : s[j / 2] >> 4)
                                   : s[j]);
            }

            s += k + (k & 1);
            if (s > end) {
                s = end;
            }
        }
    }

    return HDB_MEDIA_OK;
}

static int
hdb_img_bmp_hash(const unsigned char *p, size_t len,
    const hdb_media_limits_t *limits, hdb_media_result_t *out)
{
    int        rc;
    hdb_bmp_t  b;

    memset(&b, 0, sizeof(hdb_bmp_t));
    b.p = p;
    b.len = len;

    rc = hdb_bmp_header(&b, out);
    if (rc != HDB_MEDIA_OK) {
        return rc;
    }

    out->total = 1;
    out->width = b.w;
    out->height = b.h;

    rc = hdb_media_admit(out, limits, (uint64_t) b.w, (uint64_t) b.h);
    if (rc != HDB_MEDIA_OK) {
        return rc;
    }

    b.rgb = malloc((size_t) b.w * b.h * 3);
    if (b.rgb == NULL) {
        return HDB_MEDIA_ENOMEM;
    }

    rc = b.compression == HDB_BMP_RLE8 || b.compression == HDB_BMP_RLE4
         ? hdb_bmp_rle(&b, out) : hdb_bmp_rows(&b, out);

    if (rc == HDB_MEDIA_OK) {
        rc = hdb_media_frame(out, limits, b.rgb, b.w, b.h, 3,
                             (size_t) b.w * 3, 0, 0);
    }

    free(b.rgb);

    return rc;
}

static const char *
hdb_img_bmp_version(void)
{
    return "built in (hdb_img_bmp.c)";
}

const hdb_media_decoder_t  hdb_img_bmp = {
    HDB_MEDIA_BMP,
    "bmp",
    hdb_img_bmp_sniff,
    hdb_img_bmp_hash,
    hdb_img_bmp_version
};
