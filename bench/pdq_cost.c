/*
 * Cost of a PDQ hash per image at 0.3, 3 and 12 megapixels: the full
 * decode alone, the reference-exact path (full RGB decode + PDQ) and the
 * fast path (scaled greyscale decode + PDQ), with the fast path's
 * distance to the exact hash.  The test images are made from a benign
 * vector image, scaled up and encoded at quality 90.  CPU time of this
 * thread, median of the runs.
 *
 *   build/bench/pdq_cost t/data/pdq-vectors/images/dih--bridge-1-original.jpg
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <turbojpeg.h>

#include "hdb_jpeg.h"
#include "hdb_pdq.h"

#define RUNS  9

static double
now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

static double
median(double *v)
{
    qsort(v, RUNS, sizeof(double), cmp);
    return v[RUNS / 2];
}

int
main(int argc, char **argv)
{
    int             w, h, ch;
    FILE           *f;
    long            n;
    size_t          len;
    const char     *why;
    unsigned char  *src, *px;
    static const double  mp[] = { 0.3, 3, 12 };

    if (argc != 2 || (f = fopen(argv[1], "rb")) == NULL) {
        fprintf(stderr, "usage: pdq_cost IMAGE.jpg\n");
        return 2;
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    src = malloc((size_t) n);
    if (fread(src, 1, (size_t) n, f) != (size_t) n) {
        return 2;
    }
    fclose(f);

    if (hdb_jpeg_decode(src, (size_t) n, 0, &px, &w, &h, &ch, &why) != 0) {
        fprintf(stderr, "%s: cannot decode\n", argv[1]);
        return 2;
    }

    printf("%-8s %-11s %10s %10s %10s %10s %9s\n", "size", "pixels", "jpeg KB",
           "decode ms", "exact ms", "fast ms", "distance");

    for (size_t s = 0; s < sizeof(mp) / sizeof(mp[0]); s++) {
        int             tw, th, fw, fh;
        double          scale, td[RUNS], te[RUNS], tf[RUNS], t0;
        tjhandle        tj;
        pdq_hash_t      he, hf;
        unsigned char  *big, *jpeg = NULL, *out;
        unsigned long   jlen = 0;

        scale = mp[s] * 1e6 / ((double) w * h);
        tw = (int) (w * __builtin_sqrt(scale));
        th = (int) (h * __builtin_sqrt(scale));

        /* nearest-neighbour upscale, then encode at quality 90 */
        big = malloc((size_t) tw * th * 3);
        for (int y = 0; y < th; y++) {
            for (int x = 0; x < tw; x++) {
                memcpy(big + ((size_t) y * tw + x) * 3,
                       px + ((size_t) (y * h / th) * w + x * w / tw) * ch, 3);
            }
        }

        tj = tjInitCompress();
        tjCompress2(tj, big, tw, 0, th, TJPF_RGB, &jpeg, &jlen, TJSAMP_420,
                    90, 0);
        tjDestroy(tj);
        free(big);
        len = jlen;

        for (int r = 0; r < RUNS; r++) {
            int  cw, chh, cc;

            t0 = now_ms();
            hdb_jpeg_decode(jpeg, len, 0, &out, &cw, &chh, &cc, &why);
            td[r] = now_ms() - t0;
            free(out);

            t0 = now_ms();
            hdb_jpeg_decode(jpeg, len, 0, &out, &cw, &chh, &cc, &why);
            pdq_hash_pixels(out, cw, chh, cc, &he, NULL);
            te[r] = now_ms() - t0;
            free(out);

            t0 = now_ms();
            hdb_jpeg_decode_fast(jpeg, len, 0, &out, &fw, &fh, &why);
            pdq_hash_pixels(out, fw, fh, 1, &hf, NULL);
            tf[r] = now_ms() - t0;
            free(out);
        }

        printf("%-8s %5dx%-5d %10lu %10.1f %10.1f %10.1f %9d\n",
               s == 0 ? "0.3 MP" : s == 1 ? "3 MP" : "12 MP", tw, th,
               jlen / 1024, median(td), median(te), median(tf),
               pdq_distance(&he, &hf));

        tjFree(jpeg);
    }

    free(px);
    free(src);
    return 0;
}
