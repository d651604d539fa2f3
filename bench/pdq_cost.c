/*
 * Cost of a PDQ hash per image at 0.3, 3 and 12 megapixels: the full
 * decode alone, the reference-exact path (full RGB decode + PDQ) and the
 * fast path (scaled greyscale decode + PDQ), with the fast path's
 * distance to the exact hash.  The test images are made from a benign
 * vector image, scaled up and encoded at quality 90.  CPU time of this
 * thread, median of the runs.
 *
 * Then the same images encoded progressive: the fast path on the first k
 * scans only (the file cut after scan k, an EOI appended: what a decoder
 * that stopped there would see), its time and its distance to the hash
 * of all scans.
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
#include "bench_time.h"

#define RUNS  9

/* offsets just past each scan of a JPEG (its SOS header and data) */
static int
scan_ends(const unsigned char *p, size_t len, size_t *ends, int max)
{
    int     n = 0;
    size_t  i = 2;

    while (i + 4 <= len && p[i] == 0xFF && p[i + 1] != 0xD9) {
        unsigned  marker = p[i + 1];

        i += 2 + ((size_t) p[i + 2] << 8 | p[i + 3]);

        if (marker == 0xDA) {
            /* entropy-coded data: up to a marker other than FF00, RSTn */
            while (i + 1 < len
                   && !(p[i] == 0xFF && p[i + 1] != 0
                        && (p[i + 1] < 0xD0 || p[i + 1] > 0xD7)))
            {
                i++;
            }

            if (n < max) {
                ends[n++] = i;
            }
        }
    }

    return n;
}

#define now_ms()   bench_cpu_ms()
#define median(v)  bench_median(v, RUNS)

/* the image scaled (nearest neighbour) to mp megapixels, encoded at q90 */
static unsigned char *
make_jpeg(const unsigned char *px, int w, int h, int ch, double mp, int flags,
    unsigned long *jlen, int *tw, int *th)
{
    double          scale;
    tjhandle        tj;
    unsigned char  *big, *jpeg = NULL;

    scale = mp * 1e6 / ((double) w * h);
    *tw = (int) (w * __builtin_sqrt(scale));
    *th = (int) (h * __builtin_sqrt(scale));

    big = malloc((size_t) *tw * *th * 3);
    if (big == NULL) {
        exit(2);
    }

    for (int y = 0; y < *th; y++) {
        for (int x = 0; x < *tw; x++) {
            memcpy(big + ((size_t) y * *tw + x) * 3,
                   px + ((size_t) (y * h / *th) * w + x * w / *tw) * ch, 3);
        }
    }

    *jlen = 0;
    tj = tjInitCompress();
    if (tj == NULL
        || tjCompress2(tj, big, *tw, 0, *th, TJPF_RGB, &jpeg, jlen,
                       TJSAMP_420, 90, flags) != 0)
    {
        fprintf(stderr, "encode: %s\n", tjGetErrorStr2(tj));
        exit(2);
    }

    tjDestroy(tj);
    free(big);
    return jpeg;
}

/* the fast path's hash of jpeg, and its median CPU time */
static double
fast_hash(const unsigned char *jpeg, size_t len, hdb_pdq_hash_t *hash)
{
    int             fw, fh;
    double          t[RUNS], t0;
    const char     *why;
    unsigned char  *out;

    for (int r = 0; r < RUNS; r++) {
        t0 = now_ms();
        if (hdb_jpeg_decode_fast(jpeg, len, 0, &out, &fw, &fh, &why) != 0) {
            fprintf(stderr, "fast decode: %s\n", why);
            exit(2);
        }
        hdb_pdq_hash_pixels(out, fw, fh, 1, hash, NULL);
        t[r] = now_ms() - t0;
        free(out);
    }

    return median(t);
}

int
main(int argc, char **argv)
{
    int             w, h, ch;
    FILE           *f;
    long            n;
    const char     *why;
    unsigned char  *src, *px;
    static const double  mp[] = { 0.3, 3, 12 };
    static const char   *name[] = { "0.3 MP", "3 MP", "12 MP" };

    if (argc != 2 || (f = fopen(argv[1], "rb")) == NULL) {
        fprintf(stderr, "usage: pdq_cost IMAGE.jpg\n");
        return 2;
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    src = malloc((size_t) n);
    if (src == NULL || fread(src, 1, (size_t) n, f) != (size_t) n) {
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
        int             tw, th, cw, chh, cc;
        double          td[RUNS], te[RUNS], tf, t0;
        hdb_pdq_hash_t      he, hf;
        unsigned char  *jpeg, *out;
        unsigned long   jlen;

        jpeg = make_jpeg(px, w, h, ch, mp[s], 0, &jlen, &tw, &th);

        for (int r = 0; r < RUNS; r++) {
            t0 = now_ms();
            hdb_jpeg_decode(jpeg, jlen, 0, &out, &cw, &chh, &cc, &why);
            td[r] = now_ms() - t0;
            free(out);

            t0 = now_ms();
            hdb_jpeg_decode(jpeg, jlen, 0, &out, &cw, &chh, &cc, &why);
            hdb_pdq_hash_pixels(out, cw, chh, cc, &he, NULL);
            te[r] = now_ms() - t0;
            free(out);
        }

        tf = fast_hash(jpeg, jlen, &hf);

        printf("%-8s %5dx%-5d %10lu %10.1f %10.1f %10.1f %9d\n",
               name[s], tw, th, jlen / 1024, median(td), median(te), tf,
               hdb_pdq_hash_distance(&he, &hf));

        tjFree(jpeg);
    }

    printf("\nprogressive: the fast path on the first k scans\n");
    printf("%-8s %6s %8s %10s %10s\n", "size", "scans", "bytes %", "fast ms",
           "distance");

    for (size_t s = 0; s < sizeof(mp) / sizeof(mp[0]); s++) {
        int             tw, th, nscans;
        size_t          ends[64];
        double          tk;
        hdb_pdq_hash_t      hall, hk;
        unsigned char  *jpeg, *cut;
        unsigned long   jlen;

        jpeg = make_jpeg(px, w, h, ch, mp[s], TJFLAG_PROGRESSIVE, &jlen, &tw,
                         &th);
        nscans = scan_ends(jpeg, jlen, ends, 64);
        fast_hash(jpeg, jlen, &hall);

        cut = malloc(jlen + 2);
        if (cut == NULL) {
            return 2;
        }

        for (int k = 1; k <= nscans; k++) {
            memcpy(cut, jpeg, ends[k - 1]);
            cut[ends[k - 1]] = 0xFF;
            cut[ends[k - 1] + 1] = 0xD9;

            tk = fast_hash(cut, ends[k - 1] + 2, &hk);

            printf("%-8s %3d/%-2d %8.0f %10.1f %10d\n", name[s], k, nscans,
                   100.0 * ends[k - 1] / jlen, tk, hdb_pdq_hash_distance(&hall, &hk));
        }

        free(cut);
        tjFree(jpeg);
    }

    free(px);
    free(src);
    return 0;
}
