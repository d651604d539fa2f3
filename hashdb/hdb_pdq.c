/*
 * PDQ; see hdb_pdq.h.  Step numbers refer to notes/pdq.md.
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hdb_pdq.h"

#define PDQ_SIDE      64
#define PDQ_DCT       16
#define PDQ_RESIZE    HDB_PDQ_RESIZE

static float  pdq_dct[PDQ_DCT][PDQ_SIDE];
static int    pdq_dct_ready;

/* step 7: D[i][j] = sqrt(2/64) cos(pi/128 (i + 1)(2j + 1)) */
static void
pdq_dct_init(void)
{
    double  scale = sqrt(2.0 / 64.0);

    for (int i = 0; i < PDQ_DCT; i++) {
        for (int j = 0; j < PDQ_SIDE; j++) {
            pdq_dct[i][j] = (float) (scale * cos((M_PI / 2 / 64.0)
                                                 * (i + 1) * (2 * j + 1)));
        }
    }

    pdq_dct_ready = 1;
}

/*
 * Step 4: a running mean with half window (w + 2) / 2; at both ends the
 * mean is over the samples the window covers.
 *
 * "lanes" such runs side by side, lane k starting at in + k * lane: each
 * lane gets exactly the arithmetic of a run alone, so the result is the
 * reference's bit for bit, but the lanes' additions and divisions
 * overlap, and 16 adjacent columns walk memory a row at a time (which
 * the compiler vectorises).  Inlined with constant lane counts.
 */
#define PDQ_LANES  16

static inline __attribute__((always_inline)) void
pdq_box(const float *in, float *out, int n, int stride, int w, int lanes,
    size_t lane)
{
    int    half = (w + 2) / 2;
    int    phase1 = half - 1;
    int    phase2 = w - half + 1;
    int    phase3 = n - w;
    int    phase4 = half - 1;
    int    size = 0;
    float  sum[PDQ_LANES];
    size_t li = 0, ri = 0, oi = 0;

    for (int k = 0; k < lanes; k++) {
        sum[k] = 0.0f;
    }

    for (int i = 0; i < phase1; i++) {
        for (int k = 0; k < lanes; k++) {
            sum[k] += in[ri + k * lane];
        }
        size++;
        ri += stride;
    }

    for (int i = 0; i < phase2; i++) {
        size++;
        for (int k = 0; k < lanes; k++) {
            sum[k] += in[ri + k * lane];
            out[oi + k * lane] = sum[k] / size;
        }
        ri += stride;
        oi += stride;
    }

    for (int i = 0; i < phase3; i++) {
        for (int k = 0; k < lanes; k++) {
            sum[k] += in[ri + k * lane];
            sum[k] -= in[li + k * lane];
            out[oi + k * lane] = sum[k] / size;
        }
        li += stride;
        ri += stride;
        oi += stride;
    }

    for (int i = 0; i < phase4; i++) {
        size--;
        for (int k = 0; k < lanes; k++) {
            sum[k] -= in[li + k * lane];
            out[oi + k * lane] = sum[k] / size;
        }
        li += stride;
        oi += stride;
    }
}

static void
pdq_jarosz(float *a, float *b, int rows, int cols, int wrows, int wcols)
{
    int  i, j;

    for (int rep = 0; rep < 2; rep++) {
        /* along each row: 8 rows side by side, then the rest one by one */
        for (i = 0; i + 8 <= rows; i += 8) {
            pdq_box(a + (size_t) i * cols, b + (size_t) i * cols, cols, 1,
                    wrows, 8, cols);
        }

        for ( /* void */ ; i < rows; i++) {
            pdq_box(a + (size_t) i * cols, b + (size_t) i * cols, cols, 1,
                    wrows, 1, 0);
        }

        /* along each column: 16 adjacent columns at a time */
        for (j = 0; j + PDQ_LANES <= cols; j += PDQ_LANES) {
            pdq_box(b + j, a + j, rows, cols, wcols, PDQ_LANES, 1);
        }

        for ( /* void */ ; j < cols; j++) {
            pdq_box(b + j, a + j, rows, cols, wcols, 1, 0);
        }
    }
}

static int
pdq_cmp(const void *a, const void *b)
{
    float  x = *(const float *) a, y = *(const float *) b;

    return (x > y) - (x < y);
}

/* step 8: bits above the lower median of the 256 coefficients */
static void
pdq_threshold(const float b[PDQ_DCT][PDQ_DCT], hdb_pdq_hash_t *h)
{
    float  sorted[PDQ_DCT * PDQ_DCT], median;

    memcpy(sorted, b, sizeof(sorted));
    qsort(sorted, PDQ_DCT * PDQ_DCT, sizeof(float), pdq_cmp);
    median = sorted[PDQ_DCT * PDQ_DCT / 2 - 1];

    memset(h, 0, sizeof(*h));

    for (int i = 0; i < PDQ_DCT; i++) {
        for (int j = 0; j < PDQ_DCT; j++) {
            if (b[i][j] > median) {
                h->w[i] |= (uint16_t) (1u << j);
            }
        }
    }
}

/* the dihedral variants, from the one DCT (notes/pdq.md, the table) */
static void
pdq_variants(const float a[PDQ_DCT][PDQ_DCT], hdb_pdq_hash_t *out)
{
    float  b[PDQ_DCT][PDQ_DCT];

    for (int v = 0; v < HDB_PDQ_VARIANTS; v++) {
        for (int i = 0; i < PDQ_DCT; i++) {
            for (int j = 0; j < PDQ_DCT; j++) {
                float  x = a[i][j];

                switch (v) {
                case HDB_PDQ_ORIG:
                    b[i][j] = x;
                    break;
                case HDB_PDQ_ROT90:
                    b[j][i] = (j & 1) ? x : -x;
                    break;
                case HDB_PDQ_ROT180:
                    b[i][j] = ((i + j) & 1) ? -x : x;
                    break;
                case HDB_PDQ_ROT270:
                    b[j][i] = (i & 1) ? x : -x;
                    break;
                case HDB_PDQ_FLIPX:
                    b[i][j] = (i & 1) ? x : -x;
                    break;
                case HDB_PDQ_FLIPY:
                    b[i][j] = (j & 1) ? x : -x;
                    break;
                case HDB_PDQ_FLIP_PLUS1:
                    b[j][i] = x;
                    break;
                default: /* HDB_PDQ_FLIP_MINUS1 */
                    b[j][i] = ((i + j) & 1) ? -x : x;
                    break;
                }
            }
        }

        pdq_threshold((const float (*)[PDQ_DCT]) b, &out[v]);
    }
}

int
hdb_pdq_hash_luma(float *luma, float *work, int rows, int cols, hdb_pdq_hash_t *hash,
    hdb_pdq_hash_t *variants)
{
    int    quality, gradient;
    float  a[PDQ_SIDE][PDQ_SIDE], t[PDQ_DCT][PDQ_SIDE], b[PDQ_DCT][PDQ_DCT];

    if (!pdq_dct_ready) {
        pdq_dct_init();
    }

    /* step 3 */
    if (rows < 5 || cols < 5) {
        memset(hash, 0, sizeof(*hash));
        if (variants) {
            memset(variants, 0, HDB_PDQ_VARIANTS * sizeof(*variants));
        }
        return 0;
    }

    /* step 4: windows ceil(n / 128) */
    pdq_jarosz(luma, work, rows, cols, (cols + 127) / 128, (rows + 127) / 128);

    /* step 5 */
    for (int i = 0; i < PDQ_SIDE; i++) {
        int  ini = (int) ((i + 0.5) * rows / PDQ_SIDE);

        for (int j = 0; j < PDQ_SIDE; j++) {
            int  inj = (int) ((j + 0.5) * cols / PDQ_SIDE);

            a[i][j] = luma[(size_t) ini * cols + inj];
        }
    }

    /* step 6 */
    gradient = 0;

    for (int i = 0; i < PDQ_SIDE - 1; i++) {
        for (int j = 0; j < PDQ_SIDE; j++) {
            float  d = (a[i][j] - a[i + 1][j]) * 100 / 255;

            gradient += (int) fabsf(d);
        }
    }

    for (int i = 0; i < PDQ_SIDE; i++) {
        for (int j = 0; j < PDQ_SIDE - 1; j++) {
            float  d = (a[i][j] - a[i][j + 1]) * 100 / 255;

            gradient += (int) fabsf(d);
        }
    }

    quality = gradient / 90;
    if (quality > 100) {
        quality = 100;
    }

    /* step 7: B = D A D^T, summed in the reference's order */
    for (int i = 0; i < PDQ_DCT; i++) {
        for (int j = 0; j < PDQ_SIDE; j++) {
            float  sum = 0.0f;

            for (int k = 0; k < PDQ_SIDE; k++) {
                sum += pdq_dct[i][k] * a[k][j];
            }

            t[i][j] = sum;
        }
    }

    for (int i = 0; i < PDQ_DCT; i++) {
        for (int j = 0; j < PDQ_DCT; j++) {
            float  sum = 0.0f;

            for (int k = 0; k < PDQ_SIDE; k++) {
                sum += t[i][k] * pdq_dct[j][k];
            }

            b[i][j] = sum;
        }
    }

    if (variants) {
        pdq_variants((const float (*)[PDQ_DCT]) b, variants);
        *hash = variants[HDB_PDQ_ORIG];

    } else {
        pdq_threshold((const float (*)[PDQ_DCT]) b, hash);
    }

    return quality;
}

int
hdb_pdq_hash_pixels(const unsigned char *px, int width, int height, int channels,
    hdb_pdq_hash_t *hash, hdb_pdq_hash_t *variants)
{
    return hdb_pdq_hash_image(px, width, height, channels,
                              (size_t) width * channels, 0, hash, variants);
}

int
hdb_pdq_hash_image(const unsigned char *px, int width, int height,
    int channels, size_t stride, unsigned flags, hdb_pdq_hash_t *hash,
    hdb_pdq_hash_t *variants)
{
    int      rows, cols, q;
    int     *sj;
    float   *luma, *work;
    size_t   n;

    /* step 1: larger images are resized to 512 x 512, nearest neighbour */
    rows = height;
    cols = width;

    if ((width > PDQ_RESIZE || height > PDQ_RESIZE)
        && !(flags & HDB_PDQ_WHOLE))
    {
        rows = PDQ_RESIZE;
        cols = PDQ_RESIZE;
    }

    n = (size_t) rows * cols;
    luma = malloc(2 * n * sizeof(float) + (size_t) cols * sizeof(int));
    if (luma == NULL) {
        return -1;
    }

    work = luma + n;
    sj = (int *) (work + n);

    /* step 2; the source columns are the same on every row */
    for (int j = 0; j < cols; j++) {
        sj[j] = (int) ((long long) j * width / cols);
    }

    for (int i = 0; i < rows; i++) {
        int  si = (int) ((long long) i * height / rows);

        for (int j = 0; j < cols; j++) {
            const unsigned char  *p = px + (size_t) si * stride
                                           + (size_t) sj[j] * channels;

            if (channels == 1) {
                luma[(size_t) i * cols + j] = p[0];

            } else {
                luma[(size_t) i * cols + j] = 0.299f * p[0] + 0.587f * p[1]
                                              + 0.114f * p[2];
            }
        }
    }

    q = hdb_pdq_hash_luma(luma, work, rows, cols, hash, variants);

    free(luma);
    return q;
}

void
hdb_pdq_to_hex(const hdb_pdq_hash_t *h, char *hex)
{
    static const char  digits[] = "0123456789abcdef";

    for (int i = 0; i < 16; i++) {
        uint16_t  w = h->w[15 - i];

        hex[4 * i] = digits[w >> 12];
        hex[4 * i + 1] = digits[(w >> 8) & 0xf];
        hex[4 * i + 2] = digits[(w >> 4) & 0xf];
        hex[4 * i + 3] = digits[w & 0xf];
    }

    hex[HDB_PDQ_HEX_LEN] = '\0';
}

int
hdb_pdq_from_hex(const char *hex, size_t len, hdb_pdq_hash_t *h)
{
    if (len != HDB_PDQ_HEX_LEN) {
        return -1;
    }

    for (int i = 0; i < 16; i++) {
        uint16_t  w = 0;

        for (int k = 0; k < 4; k++) {
            char  c = hex[4 * i + k];
            int   v = (c >= '0' && c <= '9') ? c - '0'
                      : ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
                        ? (c | 0x20) - 'a' + 10 : -1;

            if (v < 0) {
                return -1;
            }

            w = (uint16_t) (w << 4 | v);
        }

        h->w[15 - i] = w;
    }

    return 0;
}

int
hdb_pdq_hash_distance(const hdb_pdq_hash_t *a, const hdb_pdq_hash_t *b)
{
    int  d = 0;

    for (int i = 0; i < 16; i++) {
        d += __builtin_popcount((unsigned) (a->w[i] ^ b->w[i]));
    }

    return d;
}


void
hdb_pdq_to_bytes(const hdb_pdq_hash_t *h, unsigned char *out)
{
    /* word 15 first, big-endian: the reference's hex, decoded */
    for (int i = 0; i < 16; i++) {
        out[2 * i] = (unsigned char) (h->w[15 - i] >> 8);
        out[2 * i + 1] = (unsigned char) h->w[15 - i];
    }
}


const char *
hdb_pdq_variant_name(unsigned variant)
{
    static const char  *names[HDB_PDQ_VARIANTS] = {
        "as-is", "rot90", "rot180", "rot270", "flipx", "flipy",
        "flip-plus1", "flip-minus1"
    };

    return variant < HDB_PDQ_VARIANTS ? names[variant] : "?";
}
