/*
 * PNG internals shared by the still decoder (hdb_img_png.c) and the
 * APNG frames (hdb_img_apng.c): internal to hashdb/.
 */

#ifndef HDB_IMG_PNG_H
#define HDB_IMG_PNG_H

#include "hdb_media_decoder.h"

/* a text or other ancillary chunk larger than this is refused */
#define HDB_PNG_CHUNK_MAX   (8u << 20)
#define HDB_PNG_CACHE_MAX   (16u << 20)

/*
 * Decodes the PNG in p[0 .. len) to 8-bit pixels, RGB (alpha 0) or RGBA
 * with transparency applied (alpha 1), after admitting its size:
 * *px is malloc()ed.  HDB_MEDIA_OK or an error with out->why set.
 */
int hdb_png_decode(const unsigned char *p, size_t len, int alpha,
    const hdb_media_limits_t *limits, hdb_media_result_t *out,
    unsigned char **px, uint32_t *width, uint32_t *height);

/*
 * The frames of an APNG (a file with an acTL chunk), composited as the
 * APNG specification says and hashed; HDB_MEDIA_EFORMAT when the file
 * has no animation (the caller decodes it as a still).
 */
int hdb_apng_hash(const unsigned char *p, size_t len,
    const hdb_media_limits_t *limits, hdb_media_result_t *out);

#endif /* HDB_IMG_PNG_H */
