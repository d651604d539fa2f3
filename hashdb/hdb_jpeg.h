/*
 * JPEG decoding for PDQ, with libjpeg-turbo's TurboJPEG API: errors are
 * returned, never exit()ed, and a cap on pixels stops decompression bombs
 * before any pixel is decoded.
 */

#ifndef HDB_JPEG_H
#define HDB_JPEG_H

#include <stddef.h>

#define HDB_JPEG_OK          0
#define HDB_JPEG_NOT_JPEG   -1      /* no JPEG magic bytes */
#define HDB_JPEG_TOO_LARGE  -2      /* more pixels than allowed */
#define HDB_JPEG_CORRUPT    -3      /* the decoder refused it */
#define HDB_JPEG_NOMEM      -4

/* JPEG by content: FF D8 FF */
int hdb_is_jpeg(const unsigned char *p, size_t len);

/*
 * Decodes to 8-bit grey (1 channel) for greyscale JPEGs, else RGB.
 * *pixels is malloc()ed; max_pixels 0 means no cap.  why gets the
 * decoder's message on HDB_JPEG_CORRUPT.
 */
int hdb_jpeg_decode(const unsigned char *jpeg, size_t len, size_t max_pixels,
    unsigned char **pixels, int *width, int *height, int *channels,
    const char **why);

/*
 * The fast path for PDQ: greyscale output (the decoder's Y, no colour
 * conversion) at the smallest DCT scale that still gives at least the
 * 512 pixels per side that PDQ samples, or the full size where a side is
 * smaller.  max_pixels caps the declared size, before scaling.
 */
int hdb_jpeg_decode_fast(const unsigned char *jpeg, size_t len,
    size_t max_pixels, unsigned char **pixels, int *width, int *height,
    const char **why);

const char *hdb_jpeg_strerror(int rc, const char *why);

#endif /* HDB_JPEG_H */
