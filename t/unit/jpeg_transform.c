/*
 * Makes the altered copies that the PDQ tests and the robustness table
 * need from a benign JPEG: re-encoded, resized, cropped, overlaid,
 * rotated, mirrored, grey.  libjpeg-turbo only; no image library.
 *
 *   jpeg_transform IN OUT OP [ARG] [QUALITY]
 *
 *   OP: reencode | resize PERCENT | crop PERCENT | overlay PERCENT |
 *       rotate 90|180|270 | mirror | gray | scale-up FACTOR |
 *       tile X Y NX NY (tile X, Y of an NX x NY grid; quality 90)
 *   QUALITY: of the output, default 90
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>

typedef struct {
    int             w, h;
    unsigned char  *px;         /* RGB */
} image_t;

static unsigned char *
read_file(const char *path, size_t *len)
{
    FILE           *f;
    long            n;
    unsigned char  *buf;

    f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
        perror(path);
        exit(1);
    }

    rewind(f);
    buf = malloc((size_t) n);
    if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n) {
        perror(path);
        exit(1);
    }

    fclose(f);
    *len = (size_t) n;
    return buf;
}

static image_t
decode(const char *path)
{
    int             ss, cs;
    size_t          len;
    image_t         im;
    tjhandle        tj = tjInitDecompress();
    unsigned char  *jpeg = read_file(path, &len);

    if (tjDecompressHeader3(tj, jpeg, len, &im.w, &im.h, &ss, &cs) != 0) {
        fprintf(stderr, "%s: %s\n", path, tjGetErrorStr2(tj));
        exit(1);
    }

    im.px = malloc((size_t) im.w * im.h * 3);
    if (im.px == NULL
        || tjDecompress2(tj, jpeg, len, im.px, im.w, 0, im.h, TJPF_RGB, 0)
           != 0)
    {
        fprintf(stderr, "%s: %s\n", path, tjGetErrorStr2(tj));
        exit(1);
    }

    tjDestroy(tj);
    free(jpeg);
    return im;
}

static void
encode(const image_t *im, const char *path, int quality)
{
    FILE           *f;
    unsigned long   len = 0;
    unsigned char  *out = NULL;
    tjhandle        tj = tjInitCompress();

    if (tjCompress2(tj, im->px, im->w, 0, im->h, TJPF_RGB, &out, &len,
                    TJSAMP_420, quality, 0) != 0)
    {
        fprintf(stderr, "encode: %s\n", tjGetErrorStr2(tj));
        exit(1);
    }

    f = fopen(path, "wb");
    if (f == NULL || fwrite(out, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }

    tjFree(out);
    tjDestroy(tj);
}

static image_t
blank(int w, int h)
{
    image_t  im;

    im.w = w;
    im.h = h;
    im.px = calloc((size_t) w * h, 3);
    if (im.px == NULL) {
        exit(1);
    }
    return im;
}

/* area-averaged resize: what image editors do when shrinking */
static image_t
resize(const image_t *in, int w, int h)
{
    image_t  out = blank(w, h);

    for (int y = 0; y < h; y++) {
        int  y0 = y * in->h / h, y1 = (y + 1) * in->h / h;

        if (y1 <= y0) {
            y1 = y0 + 1;
        }

        for (int x = 0; x < w; x++) {
            int   x0 = x * in->w / w, x1 = (x + 1) * in->w / w;
            long  sum[3] = { 0, 0, 0 }, n = 0;

            if (x1 <= x0) {
                x1 = x0 + 1;
            }

            for (int yy = y0; yy < y1; yy++) {
                for (int xx = x0; xx < x1; xx++) {
                    const unsigned char  *p = in->px + 3 * (yy * in->w + xx);

                    sum[0] += p[0];
                    sum[1] += p[1];
                    sum[2] += p[2];
                    n++;
                }
            }

            for (int c = 0; c < 3; c++) {
                out.px[3 * (y * w + x) + c] = (unsigned char) (sum[c] / n);
            }
        }
    }

    return out;
}

int
main(int argc, char **argv)
{
    int          arg, quality;
    image_t      in, out;
    const char  *op;

    if (argc < 4) {
        fprintf(stderr, "usage: jpeg_transform IN OUT OP [ARG] [QUALITY]\n");
        return 2;
    }

    op = argv[3];
    arg = argc > 4 ? atoi(argv[4]) : 0;
    quality = 90;

    in = decode(argv[1]);

    if (strcmp(op, "reencode") == 0) {
        quality = arg ? arg : 90;
        out = in;

    } else if (strcmp(op, "resize") == 0) {
        out = resize(&in, in.w * arg / 100, in.h * arg / 100);

    } else if (strcmp(op, "scale-up") == 0) {
        out = blank(in.w * arg, in.h * arg);
        for (int y = 0; y < out.h; y++) {
            for (int x = 0; x < out.w; x++) {
                memcpy(out.px + 3 * (y * out.w + x),
                       in.px + 3 * ((y / arg) * in.w + x / arg), 3);
            }
        }

    } else if (strcmp(op, "crop") == 0) {
        /* arg percent of each dimension, half from each side */
        int  dx = in.w * arg / 200, dy = in.h * arg / 200;

        out = blank(in.w - 2 * dx, in.h - 2 * dy);
        for (int y = 0; y < out.h; y++) {
            memcpy(out.px + 3 * y * out.w, in.px + 3 * ((y + dy) * in.w + dx),
                   3 * (size_t) out.w);
        }

    } else if (strcmp(op, "tile") == 0 && argc > 7) {
        int  nx = atoi(argv[6]), ny = atoi(argv[7]);
        int  tw = in.w / nx, th = in.h / ny;
        int  x0 = arg * tw, y0 = atoi(argv[5]) * th;

        out = blank(tw, th);
        for (int y = 0; y < th; y++) {
            memcpy(out.px + 3 * y * tw, in.px + 3 * ((y0 + y) * in.w + x0),
                   3 * (size_t) tw);
        }
        argc = 5;

    } else if (strcmp(op, "overlay") == 0) {
        /* a caption bar: white box with dark "text" strokes, arg % wide */
        int  bw = in.w * arg / 100, bh = bw / 4 + 1;

        out = in;
        for (int y = in.h - bh - 4; y < in.h - 4; y++) {
            for (int x = 4; x < 4 + bw && x < in.w; x++) {
                unsigned char  *p = out.px + 3 * (y * in.w + x);
                int             ink = ((x / 3) % 4 == 0)
                                      && y > in.h - bh && y < in.h - 8;

                memset(p, ink ? 30 : 245, 3);
            }
        }

    } else if (strcmp(op, "rotate") == 0) {
        int  quarter = arg / 90;

        out = blank(quarter % 2 ? in.h : in.w, quarter % 2 ? in.w : in.h);
        for (int y = 0; y < in.h; y++) {
            for (int x = 0; x < in.w; x++) {
                int  nx, ny;

                switch (quarter) {
                case 1: nx = in.h - 1 - y; ny = x; break;
                case 2: nx = in.w - 1 - x; ny = in.h - 1 - y; break;
                default: nx = y; ny = in.w - 1 - x; break;
                }

                memcpy(out.px + 3 * (ny * out.w + nx),
                       in.px + 3 * (y * in.w + x), 3);
            }
        }

    } else if (strcmp(op, "mirror") == 0) {
        out = blank(in.w, in.h);
        for (int y = 0; y < in.h; y++) {
            for (int x = 0; x < in.w; x++) {
                memcpy(out.px + 3 * (y * in.w + x),
                       in.px + 3 * (y * in.w + in.w - 1 - x), 3);
            }
        }

    } else if (strcmp(op, "gray") == 0) {
        out = in;
        for (int i = 0; i < in.w * in.h; i++) {
            unsigned char  *p = out.px + 3 * i;
            int             l = (299 * p[0] + 587 * p[1] + 114 * p[2]) / 1000;

            memset(p, l, 3);
        }

    } else {
        fprintf(stderr, "jpeg_transform: unknown operation %s\n", op);
        return 2;
    }

    if (argc > 5) {
        quality = atoi(argv[5]);
    }

    encode(&out, argv[2], quality);

    if (out.px != in.px) {
        free(out.px);
    }
    free(in.px);

    return 0;
}
