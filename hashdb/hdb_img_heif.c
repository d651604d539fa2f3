/*
 * HEIF (HEIC: HEVC) and AVIF (AV1) through libheif: the primary image,
 * with its grid assembled and its rotation, mirroring and crop applied
 * as a viewer shows it, to 8-bit RGB (HDR converted to 8 bits, alpha
 * dropped).  Debian's libheif decodes HEVC with libde265 and AV1 with
 * dav1d or libaom.
 *
 * Before libheif reads the file, its item count (a grid is one item per
 * tile) is read from the meta box's iinf: libheif 1.15 has no way to
 * stop a grid of thousands of tiles once it has started decoding it.
 * Tiles are decoded in the calling thread (no threads of libheif's own
 * in nginx's thread pool); AV1 by libaom, see below.
 */

#include <stdio.h>
#include <string.h>

#include <libheif/heif.h>

#include "hdb_media_decoder.h"

/* items in one file: an iPhone's 48 MP HEIC is 192 tiles and ~20 more */
#define HDB_HEIF_MAX_ITEMS  1024

/*
 * AV1 through libaom where libheif has it: libheif 1.15's dav1d plugin
 * leaks 40 bytes on every AV1 item without data (found by fuzz_heif),
 * which a client could send forever to a long-lived worker; libaom costs
 * 1.7x dav1d's time (380 against 220 ms at 12 MP), within the budget.
 */
#define HDB_HEIF_AV1_DECODER  "aom"

static const char *
hdb_heif_av1_decoder(void)
{
    int                                    n;
    const struct heif_decoder_descriptor  *d[8];

    n = heif_get_decoder_descriptors(heif_compression_AV1, d, 8);

    for (int i = 0; i < n; i++) {
        if (strcmp(heif_decoder_descriptor_get_id_name(d[i]),
                   HDB_HEIF_AV1_DECODER) == 0)
        {
            return HDB_HEIF_AV1_DECODER;
        }
    }

    return NULL;        /* libheif's first choice */
}

static int
hdb_heif_brand(const unsigned char *p, size_t len)
{
    size_t    size, off;
    uint32_t  b;
    int       rc;

    rc = hdb_media_pattern(p, len, "????ftyp", 8);
    if (rc != 1) {
        return rc;
    }

    if (len < 12) {
        return HDB_MEDIA_MORE;
    }

    b = hdb_be32(p + 8);

    switch (b) {
    case 0x61766966:            /* avif */
    case 0x61766973:            /* avis */
        return HDB_MEDIA_AVIF;
    case 0x68656963:            /* heic */
    case 0x68656978:            /* heix */
    case 0x6865696d:            /* heim */
    case 0x68656973:            /* heis */
    case 0x68657663:            /* hevc */
    case 0x68657678:            /* hevx */
        return HDB_MEDIA_HEIF;
    case 0x6d696631:            /* mif1 */
    case 0x6d736631:            /* msf1 */
        break;
    default:
        return HDB_MEDIA_NONE;
    }

    /* mif1: AVIF when the compatible brands (at 16 on) name it */
    size = hdb_be32(p);

    for (off = 16; off + 4 <= size; off += 4) {
        if (off + 4 > len) {
            return len < HDB_MEDIA_SNIFF_MAX ? HDB_MEDIA_MORE
                                             : HDB_MEDIA_HEIF;
        }

        if (memcmp(p + off, "avif", 4) == 0) {
            return HDB_MEDIA_AVIF;
        }
    }

    return HDB_MEDIA_HEIF;
}

static int
hdb_img_heif_sniff(const unsigned char *p, size_t len)
{
    int  rc = hdb_heif_brand(p, len);

    return rc == HDB_MEDIA_HEIF ? 1 : rc == HDB_MEDIA_MORE ? rc : 0;
}

static int
hdb_img_avif_sniff(const unsigned char *p, size_t len)
{
    int  rc = hdb_heif_brand(p, len);

    return rc == HDB_MEDIA_AVIF ? 1 : rc == HDB_MEDIA_MORE ? rc : 0;
}

/*
 * The box of type t in p[0 .. len), its payload in *body; -1 when there
 * is none or a size does not fit.
 */
static int
hdb_heif_box(const unsigned char *p, size_t len, const char *t,
    const unsigned char **body, size_t *blen)
{
    uint64_t  size, hdr;

    while (len >= 8) {
        size = hdb_be32(p);
        hdr = 8;

        if (size == 1) {
            if (len < 16) {
                return -1;
            }

            size = (uint64_t) hdb_be32(p + 8) << 32 | hdb_be32(p + 12);
            hdr = 16;

        } else if (size == 0) {
            size = len;
        }

        if (size < hdr || size > len) {
            return -1;
        }

        if (memcmp(p + 4, t, 4) == 0) {
            *body = p + hdr;
            *blen = (size_t) (size - hdr);
            return 0;
        }

        p += size;
        len -= (size_t) size;
    }

    return -1;
}

/* the iinf entry count of the top-level meta box; -1 if not found */
static long
hdb_heif_items(const unsigned char *p, size_t len)
{
    size_t                meta_len, iinf_len;
    const unsigned char  *meta, *iinf;

    if (hdb_heif_box(p, len, "meta", &meta, &meta_len) != 0
        || meta_len < 4
        || hdb_heif_box(meta + 4, meta_len - 4, "iinf", &iinf, &iinf_len)
           != 0
        || iinf_len < 6)
    {
        return -1;
    }

    /* a full box: version 0 counts in 16 bits, later versions in 32 */
    if (iinf[0] == 0) {
        return (long) iinf[4] << 8 | iinf[5];
    }

    return iinf_len < 8 ? -1 : (long) hdb_be32(iinf + 4);
}

static int
hdb_img_heif_hash(const unsigned char *p, size_t len,
    const hdb_media_limits_t *limits, hdb_media_result_t *out)
{
    int                             rc, w, h, stride;
    long                            items;
    const uint8_t                  *px;
    struct heif_error               err;
    struct heif_image              *img;
    struct heif_context            *ctx;
    struct heif_image_handle       *handle;
    struct heif_decoding_options   *opts;

    items = hdb_heif_items(p, len);

    if (items < 0) {
        return hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                              "HEIF: no item information");
    }

    if (items > HDB_HEIF_MAX_ITEMS) {
        return hdb_media_fail(out, HDB_MEDIA_ETOOLARGE,
                              "HEIF: %ld items (tiles), more than %d",
                              items, HDB_HEIF_MAX_ITEMS);
    }

    ctx = heif_context_alloc();
    if (ctx == NULL) {
        return HDB_MEDIA_ENOMEM;
    }

    handle = NULL;
    img = NULL;
    opts = NULL;

    heif_context_set_max_decoding_threads(ctx, 0);

    err = heif_context_read_from_memory_without_copy(ctx, p, len, NULL);
    if (err.code == heif_error_Ok) {
        err = heif_context_get_primary_image_handle(ctx, &handle);
    }

    if (err.code != heif_error_Ok) {
        rc = hdb_media_fail(out, HDB_MEDIA_ECORRUPT, "HEIF: %s",
                            err.message);
        goto done;
    }

    w = heif_image_handle_get_width(handle);
    h = heif_image_handle_get_height(handle);
    out->total = 1;
    out->width = w;
    out->height = h;

    rc = hdb_media_admit(out, limits, (uint64_t) (w > 0 ? w : 0),
                         (uint64_t) (h > 0 ? h : 0));
    if (rc != HDB_MEDIA_OK) {
        goto done;
    }

    opts = heif_decoding_options_alloc();
    if (opts == NULL) {
        rc = HDB_MEDIA_ENOMEM;
        goto done;
    }

    opts->convert_hdr_to_8bit = 1;

    /* a decoder of another codec is passed over for HEVC: any brand */
    opts->decoder_id = hdb_heif_av1_decoder();

    err = heif_decode_image(handle, &img, heif_colorspace_RGB,
                            heif_chroma_interleaved_RGB, opts);
    if (err.code != heif_error_Ok) {
        rc = hdb_media_fail(out, HDB_MEDIA_ECORRUPT, "HEIF: %s",
                            err.message);
        goto done;
    }

    /* the decoded size: a crop or a rotation changes it */
    w = heif_image_get_width(img, heif_channel_interleaved);
    h = heif_image_get_height(img, heif_channel_interleaved);
    px = heif_image_get_plane_readonly(img, heif_channel_interleaved,
                                       &stride);

    if (px == NULL || w <= 0 || h <= 0 || stride < 3 * w) {
        rc = hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                            "HEIF: no 8-bit RGB plane");
        goto done;
    }

    rc = hdb_media_frame(out, limits, px, w, h, 3, (size_t) stride, 0, 0);

done:

    heif_decoding_options_free(opts);
    heif_image_release(img);
    heif_image_handle_release(handle);
    heif_context_free(ctx);

    return rc;
}

/* the library's version, and whether it has a decoder for the codec */
static const char *
hdb_heif_version(char *buf, size_t size, const char *codec,
    enum heif_compression_format format)
{
    snprintf(buf, size, "libheif %s (%s: %s)", heif_get_version(), codec,
             heif_have_decoder_for_format(format) ? "yes" : "no decoder");
    return buf;
}

static const char *
hdb_img_heif_version(void)
{
    static char  v[96];

    return hdb_heif_version(v, sizeof(v), "HEVC", heif_compression_HEVC);
}

static const char *
hdb_img_avif_version(void)
{
    static char  v[96];

    return hdb_heif_version(v, sizeof(v),
                            hdb_heif_av1_decoder() ? "AV1 by libaom" : "AV1",
                            heif_compression_AV1);
}

const hdb_media_decoder_t  hdb_img_heif = {
    HDB_MEDIA_HEIF,
    "heif",
    hdb_img_heif_sniff,
    hdb_img_heif_hash,
    hdb_img_heif_version
};

const hdb_media_decoder_t  hdb_img_avif = {
    HDB_MEDIA_AVIF,
    "avif",
    hdb_img_avif_sniff,
    hdb_img_heif_hash,
    hdb_img_avif_version
};
