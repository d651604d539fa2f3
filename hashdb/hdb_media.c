/*
 * The media layer's entry points and its registry of decoders; see
 * hdb_media.h.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdb_media_decoder.h"
#include "hdb_pdq.h"

/* a side longer than this is refused whatever the limits: ints stay ints */
#define HDB_MEDIA_SIDE_MAX  (1 << 28)

static const hdb_media_decoder_t  *hdb_media_decoders[] = {
    &hdb_img_jpeg,
    &hdb_img_png,
    &hdb_img_gif,
    &hdb_img_webp,
    &hdb_img_heif,
    &hdb_img_avif,
    &hdb_img_bmp,
    &hdb_img_tiff,
    /* after HEIF and AVIF, whose brands an ISO file names first */
    &hdb_vid_mp4,
    &hdb_vid_mkv,
    &hdb_vid_avi,
    &hdb_vid_mpegts,
    NULL
};

int
hdb_media_sniff(const unsigned char *p, size_t len)
{
    int                          rc, more;
    const hdb_media_decoder_t  **d;

    more = 0;

    for (d = hdb_media_decoders; *d; d++) {
        rc = (*d)->sniff(p, len);

        if (rc == 1) {
            return (*d)->type;
        }

        more |= (rc == HDB_MEDIA_MORE);
    }

    return more && len < HDB_MEDIA_SNIFF_MAX ? HDB_MEDIA_MORE
                                             : HDB_MEDIA_NONE;
}

const char *
hdb_media_name(int type)
{
    const hdb_media_decoder_t  **d;

    for (d = hdb_media_decoders; *d; d++) {
        if ((*d)->type == type) {
            return (*d)->name;
        }
    }

    return "none";
}

void
hdb_media_limits_default(hdb_media_limits_t *l)
{
    memset(l, 0, sizeof(hdb_media_limits_t));
    l->max_pixels = HDB_MEDIA_PIXELS_DEFAULT;
    l->max_frames = HDB_MEDIA_FRAMES_DEFAULT;
    l->max_total_pixels = HDB_MEDIA_TOTAL_PIXELS_DEFAULT;
    l->interval = HDB_VIDEO_INTERVAL_DEFAULT;
    l->max_seconds = HDB_VIDEO_SECONDS_DEFAULT;
    l->max_video_frames = HDB_VIDEO_FRAMES_DEFAULT;
    l->max_decoded = HDB_VIDEO_DECODED_DEFAULT;
}

int
hdb_media_hash(const unsigned char *p, size_t len,
    const hdb_media_limits_t *limits, hdb_media_result_t *out)
{
    int                          rc;
    const hdb_media_decoder_t  **d;

    memset(out, 0, sizeof(hdb_media_result_t));

    for (d = hdb_media_decoders; *d; d++) {
        if ((*d)->sniff(p, len) == 1) {
            break;
        }
    }

    if (*d == NULL) {
        return HDB_MEDIA_EFORMAT;
    }

    out->type = (*d)->type;

    if (limits->max_bytes && len > limits->max_bytes) {
        snprintf(out->why, sizeof(out->why), "%zu bytes, more than %zu",
                 len, limits->max_bytes);
        return HDB_MEDIA_ETOOLARGE;
    }

    rc = (*d)->hash(p, len, limits, out);

    if (rc != HDB_MEDIA_OK) {
        /* no frames on an error: a caller never matches half a file */
        hdb_media_free(out);
    }

    return rc;
}

void
hdb_media_free(hdb_media_result_t *r)
{
    free(r->frames);
    r->frames = NULL;
    r->nframes = 0;
    r->nalloc = 0;     /* type, sizes and why stay for the error's report */
}

const char *
hdb_media_strerror(int rc, const hdb_media_result_t *r)
{
    const char  *what;

    switch (rc) {
    case HDB_MEDIA_OK:
        return "ok";
    case HDB_MEDIA_EFORMAT:
        return "not a format the filter decodes";
    case HDB_MEDIA_ETOOLARGE:
        what = "too large to decode";
        break;
    case HDB_MEDIA_ECORRUPT:
        what = "corrupt or not supported by the decoder";
        break;
    case HDB_MEDIA_ENOMEM:
        return "out of memory";
    case HDB_MEDIA_ETIME:
        what = "not decoded in the time allowed";
        break;
    default:
        return "unknown media error";
    }

    return r && r->why[0] ? r->why : what;
}

const char *
hdb_media_formats(void)
{
    size_t                       n;
    static char                  text[1024];
    const hdb_media_decoder_t  **d;

    /* the libraries' versions do not change while the process runs */
    if (text[0] == '\0') {
        n = 0;

        for (d = hdb_media_decoders; *d && n < sizeof(text); d++) {
            n += (size_t) snprintf(text + n, sizeof(text) - n, "%-5s %s\n",
                                   (*d)->name, (*d)->version());
        }
    }

    return text;
}

int
hdb_media_fail(hdb_media_result_t *out, int rc, const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(out->why, sizeof(out->why), fmt, ap);
    va_end(ap);

    return rc;
}

int
hdb_media_admit(hdb_media_result_t *out, const hdb_media_limits_t *l,
    uint64_t width, uint64_t height)
{
    uint64_t  n;

    if (width == 0 || height == 0) {
        return hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                              "declared size %llux%llu",
                              (unsigned long long) width,
                              (unsigned long long) height);
    }

    /* no format declares more than 2^32 a side: n cannot overflow */
    n = width * height;

    if ((l->max_pixels && n > l->max_pixels)
        || width > HDB_MEDIA_SIDE_MAX || height > HDB_MEDIA_SIDE_MAX)
    {
        return hdb_media_fail(out, HDB_MEDIA_ETOOLARGE,
                              "%llux%llu pixels, more than %zu",
                              (unsigned long long) width,
                              (unsigned long long) height,
                              l->max_pixels ? l->max_pixels
                                            : (size_t) HDB_MEDIA_SIDE_MAX);
    }

    if (l->max_total_pixels && out->pixels + n > l->max_total_pixels) {
        return hdb_media_fail(out, HDB_MEDIA_ETOOLARGE,
                              "more than %llu pixels to decode in all",
                              (unsigned long long) l->max_total_pixels);
    }

    out->pixels += n;

    return HDB_MEDIA_OK;
}

int
hdb_media_sampled(const hdb_media_limits_t *l, unsigned i, unsigned n)
{
    uint64_t  k, m;

    m = l->max_frames;

    if (m == 0 || n <= m) {
        return i < n;
    }

    /* frames floor(k * n / m), k = 0 .. m-1: is i one of them? */
    k = ((uint64_t) i * m + n - 1) / n;

    return k < m && k * n / m == i;
}

int
hdb_media_frame(hdb_media_result_t *out, const hdb_media_limits_t *l,
    const unsigned char *px, int width, int height, int channels,
    size_t stride, unsigned index, double time)
{
    return hdb_media_frame_flags(out, l, px, width, height, channels, stride,
                                 index, time, 0);
}

int
hdb_media_frame_flags(hdb_media_result_t *out, const hdb_media_limits_t *l,
    const unsigned char *px, int width, int height, int channels,
    size_t stride, unsigned index, double time, unsigned flags)
{
    int                 q;
    size_t              n;
    hdb_pdq_hash_t      hash, v[HDB_PDQ_VARIANTS];
    hdb_media_frame_t  *f;

    if (l->pixels) {
        unsigned char  *rgb, *d;

        rgb = malloc((size_t) width * height * 3);
        if (rgb == NULL) {
            return HDB_MEDIA_ENOMEM;
        }

        d = rgb;

        for (int y = 0; y < height; y++) {
            const unsigned char  *s = px + (size_t) y * stride;

            for (int x = 0; x < width; x++, s += channels, d += 3) {
                d[0] = s[0];
                d[1] = s[channels >= 3 ? 1 : 0];
                d[2] = s[channels >= 3 ? 2 : 0];
            }
        }

        l->pixels(l->pixels_data, index, rgb, width, height);
        free(rgb);
    }

    q = hdb_pdq_hash_image(px, width, height, channels, stride, flags, &hash,
                           v);
    if (q < 0) {
        return HDB_MEDIA_ENOMEM;
    }

    if (out->nframes == out->nalloc) {
        /* a video brings hundreds: grown by half each time */
        n = out->nalloc ? out->nalloc + out->nalloc / 2 + 1 : 1;

        f = realloc(out->frames, n * sizeof(hdb_media_frame_t));
        if (f == NULL) {
            return HDB_MEDIA_ENOMEM;
        }

        out->frames = f;
        out->nalloc = (unsigned) n;
    }

    f = out->frames + out->nframes++;

    f->quality = q;
    f->index = index;
    f->time = time;

    for (int i = 0; i < HDB_PDQ_VARIANTS; i++) {
        hdb_pdq_to_bytes(&v[i], f->variants[i]);
    }

    return HDB_MEDIA_OK;
}

int
hdb_media_frame_indexed(hdb_media_result_t *out, const hdb_media_limits_t *l,
    const unsigned char *idx, int width, int height,
    const unsigned char (*pal)[3])
{
    int             rc, rows, cols, si, sj;
    unsigned char  *rgb, *d;

    /* PDQ's step 1, done here on the indices: the same pixels sampled */
    rows = height;
    cols = width;

    if (l->pixels == NULL
        && (width > HDB_PDQ_RESIZE || height > HDB_PDQ_RESIZE))
    {
        rows = HDB_PDQ_RESIZE;
        cols = HDB_PDQ_RESIZE;
    }

    rgb = malloc((size_t) rows * cols * 3);
    if (rgb == NULL) {
        return HDB_MEDIA_ENOMEM;
    }

    d = rgb;

    for (int i = 0; i < rows; i++) {
        si = (int) ((long long) i * height / rows);

        for (int j = 0; j < cols; j++, d += 3) {
            sj = (int) ((long long) j * width / cols);
            memcpy(d, pal[idx[(size_t) si * width + sj]], 3);
        }
    }

    rc = hdb_media_frame(out, l, rgb, cols, rows, 3, (size_t) cols * 3, 0, 0);
    free(rgb);

    return rc;
}

int
hdb_media_pattern(const unsigned char *p, size_t len, const char *pat,
    size_t n)
{
    size_t       i, k, e;
    const char  *set;

    for (i = 0, k = 0; k < n; i++) {
        if (i >= len) {
            return HDB_MEDIA_MORE;
        }

        if (pat[k] == '?') {
            k++;
            continue;
        }

        if (pat[k] == '[') {
            set = pat + k + 1;
            for (e = k + 1; e < n && pat[e] != ']'; e++) { /* void */ }

            if (memchr(set, p[i], e - k - 1) == NULL) {
                return 0;
            }

            k = e + 1;
            continue;
        }

        if ((unsigned char) pat[k] != p[i]) {
            return 0;
        }

        k++;
    }

    return 1;
}
