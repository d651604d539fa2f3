/*
 * What a PDQ hash costs per image format, against the decoding library's
 * own floor: for each file, the library decoding it to pixels in memory
 * and nothing else (spng_decode_image RGB8, WebPDecodeRGB, DGifSlurp,
 * heif_decode_image, TurboJPEG; BMP: reading its pixels once), then the
 * media layer as the module runs it (hdb_media_hash: sniff, limits,
 * decode, RGB, PDQ with its 8 variants).  Wall-clock time,
 * median of RUNS runs; the ratio is ours over the floor.
 *
 *   build/bench/media_cost FILE...      (bench/media_cost.sh makes them)
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gif_lib.h>
#include <libheif/heif.h>
#include <spng.h>
#include <turbojpeg.h>
#include <webp/decode.h>

#include "hdb_media.h"
#include "bench_time.h"

#define RUNS  7

typedef struct {
    const unsigned char  *p;
    size_t                len, pos;
} src_t;

static int
gif_read(GifFileType *g, GifByteType *buf, int n)
{
    src_t   *s = g->UserData;
    size_t   k = s->len - s->pos < (size_t) n ? s->len - s->pos : (size_t) n;

    memcpy(buf, s->p + s->pos, k);
    s->pos += k;
    return (int) k;
}

/* the library alone: the file to pixels in memory; 0 or -1 */
static int
floor_decode(int type, const unsigned char *p, size_t len)
{
    int  rc = -1;

    switch (type) {

    case HDB_MEDIA_PNG: {
        size_t          n;
        spng_ctx       *c = spng_ctx_new(0);
        unsigned char  *px;

        spng_set_png_buffer(c, p, len);
        if (spng_decoded_image_size(c, SPNG_FMT_RGB8, &n) == 0
            && (px = malloc(n)) != NULL)
        {
            rc = spng_decode_image(c, px, n, SPNG_FMT_RGB8, 0) ? -1 : 0;
            free(px);
        }
        spng_ctx_free(c);
        break;
    }

    case HDB_MEDIA_WEBP: {
        int       w, h;
        uint8_t  *px = WebPDecodeRGB(p, len, &w, &h);

        rc = px ? 0 : -1;
        WebPFree(px);
        break;
    }

    case HDB_MEDIA_GIF: {
        int           err;
        src_t         s = { p, len, 0 };
        GifFileType  *g = DGifOpen(&s, gif_read, &err);

        if (g) {
            rc = DGifSlurp(g) == GIF_OK ? 0 : -1;
            DGifCloseFile(g, &err);
        }
        break;
    }

    case HDB_MEDIA_HEIF:
    case HDB_MEDIA_AVIF: {
        struct heif_image         *img = NULL;
        struct heif_context       *c = heif_context_alloc();
        struct heif_image_handle  *h = NULL;

        heif_context_set_max_decoding_threads(c, 0);
        if (heif_context_read_from_memory_without_copy(c, p, len, NULL).code
                == heif_error_Ok
            && heif_context_get_primary_image_handle(c, &h).code
               == heif_error_Ok
            && heif_decode_image(h, &img, heif_colorspace_RGB,
                                 heif_chroma_interleaved_RGB, NULL).code
               == heif_error_Ok)
        {
            rc = 0;
        }
        heif_image_release(img);
        heif_image_handle_release(h);
        heif_context_free(c);
        break;
    }

    case HDB_MEDIA_JPEG: {
        int             w, h, ss, cs;
        tjhandle        t = tjInitDecompress();
        unsigned char  *px;

        if (tjDecompressHeader3(t, p, (unsigned long) len, &w, &h, &ss, &cs)
                == 0
            && (px = malloc((size_t) w * h * 3)) != NULL)
        {
            rc = tjDecompress2(t, p, (unsigned long) len, px, w, 0, h,
                               TJPF_RGB, 0) ? -1 : 0;
            free(px);
        }
        tjDestroy(t);
        break;
    }

    case HDB_MEDIA_BMP: {
        /* no library: the floor is reading the pixels once */
        volatile unsigned  sum = 0;

        for (size_t i = 0; i < len; i++) {
            sum += p[i];
        }
        rc = 0;
        break;
    }
    }

    return rc;
}

int
main(int argc, char **argv)
{
    printf("| file | format | frames | library decode ms | media layer"
           " (decode + PDQ) ms | ratio |\n|---|---|---|---|---|---|\n");

    for (int a = 1; a < argc; a++) {
        int                  type;
        long                 n;
        FILE                *f;
        double               lib[RUNS], ours[RUNS], t;
        unsigned char       *p;
        const char          *base;
        hdb_media_limits_t   l = { .max_frames = HDB_MEDIA_FRAMES_DEFAULT };
        hdb_media_result_t   r;

        f = fopen(argv[a], "rb");
        if (f == NULL) {
            perror(argv[a]);
            return 1;
        }
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        rewind(f);
        p = malloc((size_t) n);
        if (p == NULL || fread(p, 1, (size_t) n, f) != (size_t) n) {
            return 1;
        }
        fclose(f);

        type = hdb_media_sniff(p, (size_t) n);

        for (int i = 0; i < RUNS; i++) {
            t = bench_wall_ms();
            if (floor_decode(type, p, (size_t) n) != 0) {
                fprintf(stderr, "%s: the library refused it\n", argv[a]);
                return 1;
            }
            lib[i] = bench_wall_ms() - t;

            t = bench_wall_ms();
            if (hdb_media_hash(p, (size_t) n, &l, &r) != HDB_MEDIA_OK) {
                fprintf(stderr, "%s: %s\n", argv[a],
                        hdb_media_strerror(HDB_MEDIA_ECORRUPT, &r));
                return 1;
            }
            ours[i] = bench_wall_ms() - t;
            if (i < RUNS - 1) {
                hdb_media_free(&r);
            }
        }


        base = strrchr(argv[a], '/');
        printf("| %s | %s | %u | %.1f | %.1f | %.2f |\n",
               base ? base + 1 : argv[a], hdb_media_name(type), r.total,
               bench_median(lib, RUNS), bench_median(ours, RUNS),
               bench_median(ours, RUNS) / bench_median(lib, RUNS));
        hdb_media_free(&r);
        free(p);
    }

    return 0;
}
