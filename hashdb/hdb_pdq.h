/*
 * PDQ, Meta's open perceptual image hash (256 bits), in our own C after
 * the reference pipeline (notes/pdq.md): luma, Jarosz filter, 64x64
 * decimation, quality, 16x16 DCT, median threshold.  The float arithmetic
 * follows the reference step for step, so that the same pixels give the
 * identical hash.  All 8 dihedral variants come from the one DCT.
 */

#ifndef HDB_PDQ_H
#define HDB_PDQ_H

#include <stddef.h>
#include <stdint.h>

#include "hashdb.h"

typedef struct {
    uint16_t  w[16];    /* word i holds DCT row i; bit j is column j */
} hdb_pdq_hash_t;

/*
 * The reference's step 1: an image wider or taller than this is sampled
 * to this many pixels a side, nearest neighbour (pixel j of n comes from
 * j * side / n).  A decoder that samples itself (hdb_media.c) must agree.
 */
#define HDB_PDQ_RESIZE  512

/* the variants, in the reference's order */
enum {
    HDB_PDQ_ORIG = 0, HDB_PDQ_ROT90, HDB_PDQ_ROT180, HDB_PDQ_ROT270,
    HDB_PDQ_FLIPX, HDB_PDQ_FLIPY, HDB_PDQ_FLIP_PLUS1, HDB_PDQ_FLIP_MINUS1
};

/*
 * The hash of a luma image (row-major floats, rows x cols); work needs
 * rows * cols floats of scratch.  variants may be NULL; else it gets all
 * 8, variants[0] being *hash.  Returns the quality, 0..100.
 */
int hdb_pdq_hash_luma(float *luma, float *work, int rows, int cols,
    hdb_pdq_hash_t *hash, hdb_pdq_hash_t *variants);

/* the hash set's byte order: word 15 first, big-endian */
void hdb_pdq_to_bytes(const hdb_pdq_hash_t *h, unsigned char *out);

/* word 15 first, as the reference prints it */
void hdb_pdq_to_hex(const hdb_pdq_hash_t *h, char *hex);
int hdb_pdq_from_hex(const char *hex, size_t len, hdb_pdq_hash_t *h);
int hdb_pdq_hash_distance(const hdb_pdq_hash_t *a, const hdb_pdq_hash_t *b);

/*
 * The reference-exact path from 8-bit pixels: 1 (grey) or 3 (RGB)
 * channels, resized to 512x512 by nearest neighbour when larger, as the
 * reference's image loader does.  Returns the quality, or -1 when memory
 * runs out.
 */
int hdb_pdq_hash_pixels(const unsigned char *px, int width, int height,
    int channels, hdb_pdq_hash_t *hash, hdb_pdq_hash_t *variants);

/*
 * The same with rows of stride bytes, and 4 channels (RGBA: the alpha
 * is not looked at, as the reference's tooling drops it).  Only the
 * pixels nearest-neighbour sampling reads are touched.  With flags
 * HDB_PDQ_WHOLE a large image is hashed at its own size, not resized:
 * vPDQ's reference hashes video frames so (its hashes of every sample
 * video are reproduced bit for bit that way, and only that way).
 */
#define HDB_PDQ_WHOLE  0x1

int hdb_pdq_hash_image(const unsigned char *px, int width, int height,
    int channels, size_t stride, unsigned flags, hdb_pdq_hash_t *hash,
    hdb_pdq_hash_t *variants);

#endif /* HDB_PDQ_H */
