/*
 * APNG: the frames of an animated PNG, composited as the APNG
 * specification says, each hashed like a still.  libspng (like libpng)
 * reads only the default image, so each frame is rebuilt as a PNG of its
 * own (the file's IHDR with the frame's size, its PLTE and tRNS, the
 * frame's fdAT data as one IDAT) and decoded by hdb_png_decode() to
 * RGBA; the canvas starts transparent black, each frame is blended over
 * it (APNG_BLEND_OP_OVER, as Pillow pastes it) or copied (SOURCE), and
 * disposed of before the next
 * (BACKGROUND: its rectangle cleared, PREVIOUS: restored).  A default
 * image that is not part of the animation is frame 0.
 *
 * The chunks are walked here with every length and CRC checked before
 * anything is used; the frames' sizes and offsets must lie inside the
 * canvas, and every frame is admitted against the pixel limits first.
 */

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "hdb_img_png.h"

#define HDB_APNG_DISPOSE_NONE        0
#define HDB_APNG_DISPOSE_BACKGROUND  1
#define HDB_APNG_DISPOSE_PREVIOUS    2
#define HDB_APNG_BLEND_SOURCE        0

typedef struct {
    const unsigned char  *data;     /* the chunk's data */
    uint32_t              len;
    const unsigned char  *type;
} hdb_chunk_t;

typedef struct {
    uint32_t   w, h, x, y;
    unsigned   dispose, blend;
    double     delay;               /* seconds */
    size_t     first, last;         /* its data chunks: [first, last) */
} hdb_apng_frame_t;

/* the next chunk at *off: 1, 0 at the end, -1 if it does not check */
static int
hdb_png_chunk(const unsigned char *p, size_t len, size_t *off,
    hdb_chunk_t *c)
{
    uint32_t  n;

    if (*off + 12 > len) {
        return *off == len ? 0 : -1;
    }

    n = hdb_be32(p + *off);
    if (n > len - *off - 12) {
        return -1;
    }

    c->type = p + *off + 4;
    c->data = p + *off + 8;
    c->len = n;

    if ((uint32_t) crc32(0, c->type, n + 4) != hdb_be32(c->data + n)) {
        return -1;
    }

    *off += (size_t) n + 12;

    return 1;
}

static void
hdb_png_put_chunk(unsigned char **w, const char *type,
    const unsigned char *data, uint32_t len)
{
    unsigned char  *p = *w;
    uint32_t        crc;

    p[0] = (unsigned char) (len >> 24);
    p[1] = (unsigned char) (len >> 16);
    p[2] = (unsigned char) (len >> 8);
    p[3] = (unsigned char) len;
    memcpy(p + 4, type, 4);
    if (len && data != p + 8) {
        memcpy(p + 8, data, len);
    }

    crc = (uint32_t) crc32(0, p + 4, len + 4);
    p[8 + len] = (unsigned char) (crc >> 24);
    p[9 + len] = (unsigned char) (crc >> 16);
    p[10 + len] = (unsigned char) (crc >> 8);
    p[11 + len] = (unsigned char) crc;

    *w = p + 12 + len;
}

/*
 * src over dst as Pillow draws an APNG frame (paste() with the frame's
 * alpha as the mask): every channel, alpha included, is blended by the
 * source's alpha, in Pillow's rounding.  Over transparent black that
 * darkens the colour of a half-transparent pixel, which is what the
 * reference's tooling hashes once the alpha is dropped.
 */
static void
hdb_apng_over(unsigned char *d, const unsigned char *s)
{
    unsigned  m, t;

    m = s[3];

    for (int c = 0; c < 4; c++) {
        t = s[c] * m + d[c] * (255 - m) + 128;
        d[c] = (unsigned char) (((t >> 8) + t) >> 8);
    }
}

int
hdb_apng_hash(const unsigned char *p, size_t len,
    const hdb_media_limits_t *limits, hdb_media_result_t *out)
{
    int                rc, k;
    size_t             off, n, data, nchunks, cap;
    uint32_t           w, h, fw, fh, nframes, x, y;
    unsigned           i, f, total, first;
    double             time;
    hdb_chunk_t        c, ihdr, plte, trns, *chunks;
    unsigned char     *png, *wp, *px, *canvas, *saved, *row;
    hdb_apng_frame_t  *frames, *fr, *prev;

    /* pass 1: the chunks, the frames and their data */
    off = 8;
    memset(&ihdr, 0, sizeof(ihdr));
    memset(&plte, 0, sizeof(plte));
    memset(&trns, 0, sizeof(trns));
    nframes = 0;
    chunks = NULL;
    frames = NULL;
    nchunks = 0;
    cap = 0;
    f = 0;
    first = 0;          /* the default image is frame 0 of the animation */
    canvas = NULL;
    saved = NULL;
    png = NULL;

    while ((k = hdb_png_chunk(p, len, &off, &c)) == 1) {
        if (memcmp(c.type, "IHDR", 4) == 0 && c.len == 13) {
            ihdr = c;

        } else if (memcmp(c.type, "PLTE", 4) == 0) {
            plte = c;

        } else if (memcmp(c.type, "tRNS", 4) == 0) {
            trns = c;

        } else if (memcmp(c.type, "acTL", 4) == 0 && c.len == 8
                   && frames == NULL)
        {
            nframes = hdb_be32(c.data);
            if (nframes == 0 || nframes > 1u << 20) {
                return hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                                      "APNG: %u frames", nframes);
            }

            frames = calloc(nframes, sizeof(hdb_apng_frame_t));
            if (frames == NULL) {
                return HDB_MEDIA_ENOMEM;
            }

        } else if (memcmp(c.type, "fcTL", 4) == 0 && frames && c.len == 26) {
            if (f == nframes) {
                rc = hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                                    "APNG: more frames than acTL says");
                goto done;
            }

            fr = &frames[f++];
            fr->w = hdb_be32(c.data + 4);
            fr->h = hdb_be32(c.data + 8);
            fr->x = hdb_be32(c.data + 12);
            fr->y = hdb_be32(c.data + 16);
            n = (size_t) (c.data[20] << 8 | c.data[21]);
            data = (size_t) (c.data[22] << 8 | c.data[23]);
            fr->delay = (double) n / (data ? data : 100);
            fr->dispose = c.data[24];
            fr->blend = c.data[25];
            fr->first = fr->last = nchunks;

        } else if (memcmp(c.type, "IDAT", 4) == 0
                   || (memcmp(c.type, "fdAT", 4) == 0 && f > 0 && c.len >= 4))
        {
            if (memcmp(c.type, "IDAT", 4) == 0 && (frames == NULL || f == 0)) {
                /* IDAT before any fcTL: not part of the animation */
                first = 1;
                continue;
            }

            if (nchunks == cap) {
                hdb_chunk_t  *grown;

                cap = cap ? 2 * cap : 64;
                grown = realloc(chunks, cap * sizeof(hdb_chunk_t));
                if (grown == NULL) {
                    rc = HDB_MEDIA_ENOMEM;
                    goto done;
                }

                chunks = grown;
            }

            if (memcmp(c.type, "fdAT", 4) == 0) {
                c.data += 4;        /* the sequence number */
                c.len -= 4;
            }

            chunks[nchunks++] = c;
            frames[f - 1].last = nchunks;

        } else if (memcmp(c.type, "IEND", 4) == 0) {
            break;
        }
    }

    if (frames == NULL || (nframes == 1 && first == 0)) {
        /* not animated: a still (or a one-frame animation, the same) */
        free(chunks);
        free(frames);
        return HDB_MEDIA_EFORMAT;
    }

    if (k < 0 || ihdr.data == NULL || f == 0) {
        rc = hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                            "APNG: a chunk does not check (length, CRC)");
        goto done;
    }

    w = hdb_be32(ihdr.data);
    h = hdb_be32(ihdr.data + 4);
    nframes = f;
    total = nframes + first;
    out->total = total;
    out->width = (int) w;
    out->height = (int) h;

    /* every frame is a canvas composited: all admitted first */
    for (i = 0; i < total; i++) {
        rc = hdb_media_admit(out, limits, w, h);
        if (rc != HDB_MEDIA_OK) {
            goto done;
        }
    }

    /* the counts above were for the limits: the decodes count again */
    out->pixels = 0;

    if (first && hdb_media_sampled(limits, 0, total)) {
        uint32_t  dw, dh;

        rc = hdb_png_decode(p, len, 0, limits, out, &px, &dw, &dh);
        if (rc != HDB_MEDIA_OK) {
            goto done;
        }

        rc = hdb_media_frame(out, limits, px, (int) dw, (int) dh, 3,
                             (size_t) dw * 3, 0, 0);
        free(px);
        if (rc != HDB_MEDIA_OK) {
            goto done;
        }
    }

    canvas = calloc((size_t) w * h, 4);
    saved = malloc((size_t) w * h * 4);

    /* the largest rebuilt PNG: the data of the file at most */
    png = malloc(len + 8 + 25 + 12 + 12);

    if (canvas == NULL || saved == NULL || png == NULL) {
        rc = HDB_MEDIA_ENOMEM;
        goto done;
    }

    time = 0;
    prev = NULL;

    for (i = 0; i < nframes; i++) {
        fr = &frames[i];

        if (fr->w == 0 || fr->h == 0 || fr->x > w || fr->w > w - fr->x
            || fr->y > h || fr->h > h - fr->y || fr->first == fr->last)
        {
            rc = hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                                "APNG: frame %u outside the canvas or "
                                "without data", i);
            goto done;
        }

        /* the previous frame's disposal */
        if (prev && prev->dispose != HDB_APNG_DISPOSE_NONE) {
            for (y = prev->y; y < prev->y + prev->h; y++) {
                row = canvas + ((size_t) y * w + prev->x) * 4;

                if (prev->dispose == HDB_APNG_DISPOSE_PREVIOUS && i > 1) {
                    memcpy(row, saved + (row - canvas), (size_t) prev->w * 4);

                } else {
                    /* BACKGROUND; PREVIOUS on the first frame is too */
                    memset(row, 0, (size_t) prev->w * 4);
                }
            }
        }

        if (fr->dispose == HDB_APNG_DISPOSE_PREVIOUS) {
            memcpy(saved, canvas, (size_t) w * h * 4);
        }

        /* the frame as a PNG of its own */
        wp = png;
        memcpy(wp, "\x89PNG\r\n\x1a\n", 8);
        wp += 8;

        {
            unsigned char  hd[13];

            memcpy(hd, ihdr.data, 13);
            fw = fr->w;
            fh = fr->h;
            hd[0] = (unsigned char) (fw >> 24);
            hd[1] = (unsigned char) (fw >> 16);
            hd[2] = (unsigned char) (fw >> 8);
            hd[3] = (unsigned char) fw;
            hd[4] = (unsigned char) (fh >> 24);
            hd[5] = (unsigned char) (fh >> 16);
            hd[6] = (unsigned char) (fh >> 8);
            hd[7] = (unsigned char) fh;
            hdb_png_put_chunk(&wp, "IHDR", hd, 13);
        }

        if (plte.data) {
            hdb_png_put_chunk(&wp, "PLTE", plte.data, plte.len);
        }

        if (trns.data) {
            hdb_png_put_chunk(&wp, "tRNS", trns.data, trns.len);
        }

        /* one IDAT: the frame's data chunks joined */
        n = 0;
        for (size_t j = fr->first; j < fr->last; j++) {
            memcpy(wp + 8 + n, chunks[j].data, chunks[j].len);
            n += chunks[j].len;
        }

        hdb_png_put_chunk(&wp, "IDAT", wp + 8, (uint32_t) n);
        hdb_png_put_chunk(&wp, "IEND", NULL, 0);

        rc = hdb_png_decode(png, (size_t) (wp - png), 1, limits, out, &px,
                            &fw, &fh);
        if (rc != HDB_MEDIA_OK) {
            goto done;
        }

        for (y = 0; y < fr->h; y++) {
            row = canvas + ((size_t) (fr->y + y) * w + fr->x) * 4;

            /* the first frame is the image as it is (Pillow's too) */
            if (fr->blend == HDB_APNG_BLEND_SOURCE || i == 0) {
                memcpy(row, px + (size_t) y * fr->w * 4, (size_t) fr->w * 4);
                continue;
            }

            for (x = 0; x < fr->w; x++) {
                hdb_apng_over(row + x * 4, px + ((size_t) y * fr->w + x) * 4);
            }
        }

        free(px);

        if (hdb_media_sampled(limits, i + first, total)) {
            rc = hdb_media_frame(out, limits, canvas, (int) w, (int) h, 4,
                                 (size_t) w * 4, i + first, time);
            if (rc != HDB_MEDIA_OK) {
                goto done;
            }
        }

        time += fr->delay;
        prev = fr;

        if (limits->max_frames && out->nframes == limits->max_frames) {
            break;
        }
    }

    rc = HDB_MEDIA_OK;

done:

    free(png);
    free(saved);
    free(canvas);
    free(chunks);
    free(frames);

    return rc;
}
