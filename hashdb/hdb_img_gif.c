/*
 * GIF (87a, 89a) through giflib, read record by record (never
 * DGifSlurp(), which would hold every frame).  A still is its one
 * image; an animation's frame i is the canvas a viewer shows after
 * drawing image i, as Pillow composites it: the first image on a canvas
 * of its transparent (else first) palette colour, each later one pasted
 * over the last canvas but for its transparent pixels, after the
 * previous image's disposal (2: its rectangle to the background or
 * transparent colour, 3: its rectangle back to what it was).
 *
 * A first pass counts the images without decoding them, so that a file
 * of 100 000 frames is refused by the pixel limits before any is
 * decoded and the sampled frames are known.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gif_lib.h>

#include "hdb_media_decoder.h"

typedef struct {
    const unsigned char  *p;
    size_t                len;
    size_t                pos;
} hdb_gif_src_t;

typedef struct {
    GifFileType          *gif;
    hdb_gif_src_t         src;
    int                   w;
    int                   h;
    unsigned char        *canvas;       /* RGB; indices when indexed */
    int                   indexed;      /* a still: hashed from indices */
    unsigned char         pal[256][3];  /* the last image's colours */
    unsigned char        *saved;        /* disposal 3: what was under */
    unsigned char        *line;
    /* the last image, to dispose of before the next is drawn */
    int                   disposal;
    int                   dx, dy, dw, dh;
    unsigned char         fill[3];
} hdb_gif_t;

static int
hdb_img_gif_sniff(const unsigned char *p, size_t len)
{
    return hdb_media_pattern(p, len, "GIF8[79]a", sizeof("GIF8[79]a") - 1);
}

static int
hdb_gif_read(GifFileType *gif, GifByteType *buf, int n)
{
    size_t          k;
    hdb_gif_src_t  *s = gif->UserData;

    k = s->len - s->pos;
    if ((size_t) n < k) {
        k = (size_t) n;
    }

    memcpy(buf, s->p + s->pos, k);
    s->pos += k;

    return (int) k;
}

static int
hdb_gif_open(hdb_gif_t *g, hdb_media_result_t *out)
{
    int  err;

    g->src.pos = 0;
    g->gif = DGifOpen(&g->src, hdb_gif_read, &err);

    if (g->gif == NULL) {
        return hdb_media_fail(out, HDB_MEDIA_ECORRUPT, "GIF: %s",
                              GifErrorString(err) ? GifErrorString(err)
                                                  : "not opened");
    }

    return HDB_MEDIA_OK;
}

static int
hdb_gif_error(hdb_gif_t *g, hdb_media_result_t *out)
{
    const char  *why;

    /* giflib has no word for what we refuse ourselves: no colour table */
    why = g->gif->Error ? GifErrorString(g->gif->Error) : NULL;

    return hdb_media_fail(out, HDB_MEDIA_ECORRUPT, "GIF: %s",
                          why ? why : "an image without a colour table");
}

/*
 * The next image's descriptor, its graphics control and the number of
 * images before it; GIF_OK with *done at the trailer.  giflib keeps a
 * record of every image read: it is dropped as we go, so that memory
 * does not grow with the number of frames.
 */
static int
hdb_gif_next(hdb_gif_t *g, GraphicsControlBlock *gcb, int *done)
{
    int             ext;
    GifByteType    *b;
    GifRecordType   type;

    gcb->DisposalMode = DISPOSAL_UNSPECIFIED;
    gcb->TransparentColor = NO_TRANSPARENT_COLOR;
    gcb->DelayTime = 0;
    *done = 0;

    for ( ;; ) {
        if (DGifGetRecordType(g->gif, &type) != GIF_OK) {
            return GIF_ERROR;
        }

        switch (type) {

        case IMAGE_DESC_RECORD_TYPE:
            GifFreeSavedImages(g->gif);
            g->gif->ImageCount = 0;
            return DGifGetImageDesc(g->gif);

        case EXTENSION_RECORD_TYPE:
            if (DGifGetExtension(g->gif, &ext, &b) != GIF_OK) {
                return GIF_ERROR;
            }

            if (ext == GRAPHICS_EXT_FUNC_CODE && b != NULL
                && DGifExtensionToGCB(b[0], b + 1, gcb) != GIF_OK)
            {
                return GIF_ERROR;
            }

            while (b != NULL) {
                if (DGifGetExtensionNext(g->gif, &b) != GIF_OK) {
                    return GIF_ERROR;
                }
            }

            break;

        case TERMINATE_RECORD_TYPE:
            *done = 1;
            return GIF_OK;

        default:
            /* giflib refuses any other record */
            return GIF_ERROR;
        }
    }
}

/* the image's data, not decoded: the first pass */
static int
hdb_gif_skip(hdb_gif_t *g)
{
    int           size;
    GifByteType  *b;

    if (DGifGetCode(g->gif, &size, &b) != GIF_OK) {
        return GIF_ERROR;
    }

    while (b != NULL) {
        if (DGifGetCodeNext(g->gif, &b) != GIF_OK) {
            return GIF_ERROR;
        }
    }

    return GIF_OK;
}

/* the previous image's disposal, before the next one is drawn */
static void
hdb_gif_dispose(hdb_gif_t *g)
{
    int             y;
    size_t          off, n;
    unsigned char  *row;

    if (g->disposal != DISPOSE_BACKGROUND && g->disposal != DISPOSE_PREVIOUS) {
        return;
    }

    for (y = g->dy; y < g->dy + g->dh; y++) {
        off = ((size_t) y * g->w + g->dx) * 3;
        n = (size_t) g->dw * 3;
        row = g->canvas + off;

        if (g->disposal == DISPOSE_PREVIOUS) {
            memcpy(row, g->saved + off, n);
            continue;
        }

        for (size_t i = 0; i < n; i += 3) {
            memcpy(row + i, g->fill, 3);
        }
    }
}

/* decodes image i into the canvas */
static int
hdb_gif_draw(hdb_gif_t *g, unsigned i, const GraphicsControlBlock *gcb)
{
    int              x, y, xn, pass, fw, fh, fx, fy, t, bg;
    size_t           n, k;
    ColorMapObject  *cmap;
    GifColorType    *c;
    unsigned char   *px, (*pal)[3];

    static const int  start[4] = { 0, 4, 2, 1 };
    static const int  step[4] = { 8, 8, 4, 2 };

    fx = g->gif->Image.Left;
    fy = g->gif->Image.Top;
    fw = g->gif->Image.Width;
    fh = g->gif->Image.Height;

    cmap = g->gif->Image.ColorMap ? g->gif->Image.ColorMap
                                  : g->gif->SColorMap;
    if (cmap == NULL || fw <= 0 || fh <= 0) {
        return GIF_ERROR;
    }

    t = gcb->TransparentColor;

    /* the colour of every index: past the table's end, its first colour */
    pal = g->pal;

    for (x = 0; x < 256; x++) {
        c = &cmap->Colors[x < cmap->ColorCount ? x : 0];
        pal[x][0] = c->Red;
        pal[x][1] = c->Green;
        pal[x][2] = c->Blue;
    }

    /* the columns on the canvas */
    xn = fx < g->w ? (fw < g->w - fx ? fw : g->w - fx) : 0;

    if (g->indexed) {
        /* a still: its indices on a canvas of its transparent index */
        memset(g->canvas, t >= 0 && t < 256 ? t : 0, (size_t) g->w * g->h);

        if (fx == 0 && fw == g->w && fh <= g->h - fy
            && !g->gif->Image.Interlace)
        {
            /* the common still: its rows straight into the canvas */
            return DGifGetLine(g->gif, g->canvas + (size_t) fy * g->w,
                               fw * fh);
        }

        for (pass = g->gif->Image.Interlace ? 0 : 3; pass < 4; pass++) {
            for (y = g->gif->Image.Interlace ? start[pass] : 0; y < fh;
                 y += g->gif->Image.Interlace ? step[pass] : 1)
            {
                if (DGifGetLine(g->gif, g->line, fw) != GIF_OK) {
                    return GIF_ERROR;
                }

                if (fy + y < g->h && xn > 0) {
                    memcpy(g->canvas + (size_t) (fy + y) * g->w + fx,
                           g->line, (size_t) xn);
                }
            }
        }

        return GIF_OK;
    }

    if (i == 0) {
        /* the canvas starts as the transparent colour, else colour 0 */
        bg = t >= 0 && t < 256 ? t : 0;
        n = (size_t) g->w * g->h * 3;

        memcpy(g->canvas, pal[bg], 3);
        for (k = 3; k < n; k *= 2) {
            memcpy(g->canvas + k, g->canvas, k < n - k ? k : n - k);
        }

        /* the first image's transparent pixels show their colour too */
        t = -1;

    } else {
        hdb_gif_dispose(g);
    }

    if (gcb->DisposalMode == DISPOSE_PREVIOUS) {
        memcpy(g->saved, g->canvas, (size_t) g->w * g->h * 3);
    }

    /* the rows in the order they are stored: four passes if interlaced */
    for (pass = g->gif->Image.Interlace ? 0 : 3; pass < 4; pass++) {
        for (y = g->gif->Image.Interlace ? start[pass] : 0; y < fh;
             y += g->gif->Image.Interlace ? step[pass] : 1)
        {
            if (DGifGetLine(g->gif, g->line, fw) != GIF_OK) {
                return GIF_ERROR;
            }

            if (fy + y >= g->h) {
                continue;
            }

            px = g->canvas + ((size_t) (fy + y) * g->w + fx) * 3;

            for (x = 0; x < xn; x++, px += 3) {
                if (g->line[x] != t) {
                    memcpy(px, pal[g->line[x]], 3);
                }
            }
        }
    }

    /* remembered for the next image */
    g->disposal = gcb->DisposalMode;
    g->dx = fx < g->w ? fx : g->w;
    g->dy = fy < g->h ? fy : g->h;
    g->dw = (fx + fw < g->w ? fx + fw : g->w) - g->dx;
    g->dh = (fy + fh < g->h ? fy + fh : g->h) - g->dy;

    bg = gcb->TransparentColor >= 0 ? gcb->TransparentColor
                                    : g->gif->SBackGroundColor;
    memcpy(g->fill, pal[bg >= 0 && bg < 256 ? bg : 0], 3);

    return GIF_OK;
}

static int
hdb_img_gif_hash(const unsigned char *p, size_t len,
    const hdb_media_limits_t *limits, hdb_media_result_t *out)
{
    int                   rc, done, err;
    double                time;
    unsigned              n, i;
    hdb_gif_t             g;
    GraphicsControlBlock  gcb;

    memset(&g, 0, sizeof(hdb_gif_t));
    g.src.p = p;
    g.src.len = len;

    /* pass 1: the screen and the number of images */
    rc = hdb_gif_open(&g, out);
    if (rc != HDB_MEDIA_OK) {
        return rc;
    }

    g.w = g.gif->SWidth;
    g.h = g.gif->SHeight;
    out->width = g.w;
    out->height = g.h;

    rc = hdb_media_admit(out, limits, (uint64_t) g.w, (uint64_t) g.h);

    for (n = 0; rc == HDB_MEDIA_OK; n++) {
        if (hdb_gif_next(&g, &gcb, &done) != GIF_OK) {
            rc = hdb_gif_error(&g, out);
            break;
        }

        if (done) {
            break;
        }

        if (hdb_gif_skip(&g) != GIF_OK) {
            rc = hdb_gif_error(&g, out);
            break;
        }

        /* every image is a canvas to composite */
        if (n > 0) {
            rc = hdb_media_admit(out, limits, (uint64_t) g.w,
                                 (uint64_t) g.h);
        }
    }

    DGifCloseFile(g.gif, &err);
    g.gif = NULL;

    if (rc != HDB_MEDIA_OK) {
        return rc;
    }

    if (n == 0) {
        return hdb_media_fail(out, HDB_MEDIA_ECORRUPT, "GIF: no image");
    }

    out->total = n;

    /*
     * pass 2: composite, hash the sampled frames; a still is kept as
     * indices and only the pixels PDQ samples get their colour
     */
    g.indexed = (n == 1);
    g.canvas = malloc((size_t) g.w * g.h * (g.indexed ? 1 : 3));
    g.saved = g.indexed ? NULL : malloc((size_t) g.w * g.h * 3);
    g.line = malloc(65536);

    if (g.canvas == NULL || (g.saved == NULL && !g.indexed)
        || g.line == NULL)
    {
        rc = HDB_MEDIA_ENOMEM;
        goto done;
    }

    rc = hdb_gif_open(&g, out);
    if (rc != HDB_MEDIA_OK) {
        goto done;
    }

    time = 0;

    for (i = 0; i < n; i++) {
        if (hdb_gif_next(&g, &gcb, &done) != GIF_OK || done
            || hdb_gif_draw(&g, i, &gcb) != GIF_OK)
        {
            rc = done ? hdb_media_fail(out, HDB_MEDIA_ECORRUPT,
                                       "GIF: changed between passes")
                      : hdb_gif_error(&g, out);
            break;
        }

        if (hdb_media_sampled(limits, i, n)) {
            rc = g.indexed
                 ? hdb_media_frame_indexed(out, limits, g.canvas, g.w, g.h,
                                           (const unsigned char (*)[3]) g.pal)
                 : hdb_media_frame(out, limits, g.canvas, g.w, g.h, 3,
                                   (size_t) g.w * 3, i, time);
            if (rc != HDB_MEDIA_OK) {
                break;
            }
        }

        time += gcb.DelayTime / 100.0;

        if (limits->max_frames && out->nframes == limits->max_frames) {
            /* the last frame sampled: the rest is not decoded */
            break;
        }
    }

done:

    if (g.gif) {
        DGifCloseFile(g.gif, &err);
    }

    free(g.canvas);
    free(g.saved);
    free(g.line);

    return rc;
}

static const char *
hdb_img_gif_version(void)
{
    static char  v[32];

    snprintf(v, sizeof(v), "giflib %d.%d.%d", GIFLIB_MAJOR, GIFLIB_MINOR,
             GIFLIB_RELEASE);
    return v;
}

const hdb_media_decoder_t  hdb_img_gif = {
    HDB_MEDIA_GIF,
    "gif",
    hdb_img_gif_sniff,
    hdb_img_gif_hash,
    hdb_img_gif_version
};
