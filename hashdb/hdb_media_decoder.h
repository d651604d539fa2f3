/*
 * What a format's decoder gives the media layer (hdb_media.c), and what
 * the media layer gives every decoder: internal to hashdb/.  A new format
 * is one file defining one hdb_media_decoder_t and one line in the
 * registry.
 */

#ifndef HDB_MEDIA_DECODER_H
#define HDB_MEDIA_DECODER_H

#include "hdb_media.h"

typedef struct {
    int          type;          /* hdb_media_type_t */
    const char  *name;

    /* 1: it is this format; 0: it is not; HDB_MEDIA_MORE: too few bytes */
    int        (*sniff)(const unsigned char *p, size_t len);

    /*
     * Decodes and hashes through hdb_media_frame(): fills out->frames,
     * out->nframes, out->total; out->why on an error.
     */
    int        (*hash)(const unsigned char *p, size_t len,
                       const hdb_media_limits_t *limits,
                       hdb_media_result_t *out);

    /* the library and its version, for hdb_media_formats() */
    const char *(*version)(void);
} hdb_media_decoder_t;

extern const hdb_media_decoder_t  hdb_img_jpeg;
extern const hdb_media_decoder_t  hdb_img_png;
extern const hdb_media_decoder_t  hdb_img_gif;
extern const hdb_media_decoder_t  hdb_img_webp;
extern const hdb_media_decoder_t  hdb_img_heif;
extern const hdb_media_decoder_t  hdb_img_avif;
extern const hdb_media_decoder_t  hdb_img_bmp;
extern const hdb_media_decoder_t  hdb_img_tiff;
extern const hdb_media_decoder_t  hdb_vid_mp4;
extern const hdb_media_decoder_t  hdb_vid_mkv;
extern const hdb_media_decoder_t  hdb_vid_avi;
extern const hdb_media_decoder_t  hdb_vid_mpegts;

/*
 * The declared size of an image or a frame, before any pixel is
 * decoded: HDB_MEDIA_OK, or HDB_MEDIA_ETOOLARGE / HDB_MEDIA_ECORRUPT with
 * out->why set.  Each call counts width * height against
 * max_total_pixels: call it once per frame decoded.
 */
int hdb_media_admit(hdb_media_result_t *out, const hdb_media_limits_t *l,
    uint64_t width, uint64_t height);

/*
 * Whether frame i of an animation of n frames is hashed: all of them up
 * to max_frames, else max_frames sampled evenly (the first included).
 */
int hdb_media_sampled(const hdb_media_limits_t *l, unsigned i, unsigned n);

/*
 * Hashes one frame of 8-bit pixels (channels 1: grey, 3: RGB, 4: RGBA,
 * whose alpha is dropped; rows of stride bytes) and appends it to
 * out->frames.  Returns HDB_MEDIA_OK or HDB_MEDIA_ENOMEM.
 */
int hdb_media_frame(hdb_media_result_t *out, const hdb_media_limits_t *l,
    const unsigned char *px, int width, int height, int channels,
    size_t stride, unsigned index, double time);

/* the same with hdb_pdq_hash_image()'s flags: HDB_PDQ_WHOLE for video */
int hdb_media_frame_flags(hdb_media_result_t *out,
    const hdb_media_limits_t *l, const unsigned char *px, int width,
    int height, int channels, size_t stride, unsigned index, double time,
    unsigned flags);

/*
 * The same for a still of palette indices (rows of width bytes): only
 * the pixels PDQ's nearest-neighbour sampling reads get their colour,
 * which hashes the same as the whole image in RGB.
 */
int hdb_media_frame_indexed(hdb_media_result_t *out,
    const hdb_media_limits_t *l, const unsigned char *idx, int width,
    int height, const unsigned char (*pal)[3]);

/* sets out->why from a format and arguments; returns rc */
int hdb_media_fail(hdb_media_result_t *out, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* the 4-byte big- and little-endian numbers of file headers */
static inline uint32_t
hdb_be32(const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
           | (uint32_t) p[2] << 8 | p[3];
}

static inline uint32_t
hdb_le32(const unsigned char *p)
{
    return (uint32_t) p[3] << 24 | (uint32_t) p[2] << 16
           | (uint32_t) p[1] << 8 | p[0];
}

/*
 * p starts with the pattern pat[0 .. n): its bytes as they are, but "?"
 * for any byte and "[xy]" for one of a set (NULs allowed: n, not a
 * string).  1, 0, or HDB_MEDIA_MORE when len is too short to tell.
 */
int hdb_media_pattern(const unsigned char *p, size_t len, const char *pat,
    size_t n);

#endif /* HDB_MEDIA_DECODER_H */
