/*
 * The media layer: what a file is, and what its perceptual hashes are.
 *
 * One entry point for every caller (the nginx module in its thread pool,
 * "hashdb hash", the tests), so that a format added here is understood
 * everywhere: hdb_media_sniff() tells the format from the first bytes,
 * never from a name or a Content-Type; hdb_media_hash() decodes under
 * limits and returns the frames, each with its PDQ hash (all 8 dihedral
 * variants), its quality and, for video, its time.  A still image is one
 * frame.
 *
 * Each format is one decoder behind a registry (hdb_media.c): JPEG
 * (hdb_img_jpeg.c, TurboJPEG), PNG (hdb_img_png.c, libspng), GIF
 * (hdb_img_gif.c, giflib), WebP (hdb_img_webp.c, libwebp), HEIF and AVIF
 * (hdb_img_heif.c, libheif), BMP (hdb_img_bmp.c, our own), TIFF
 * (hdb_img_tiff.c, libtiff); video in MP4/MOV/3GP, Matroska/WebM, AVI
 * and MPEG-TS (hdb_vid_ffmpeg.c, FFmpeg), sampled as vPDQ samples it.
 * The PDQ arithmetic (hdb_pdq.c) knows no format.
 *
 * Pixels are hashed as a viewer shows them, in RGB as Pillow's
 * convert('RGB') gives them: palette expanded, grey replicated, alpha
 * dropped (not composited), 16-bit samples reduced to their high byte;
 * an animation's frames are the canvases a viewer composites.
 */

#ifndef HDB_MEDIA_H
#define HDB_MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include "hashdb.h"

/*
 * How a video's frames are sampled:
 *
 * EXACT      every frame is decoded, and those the reference keeps are
 *            hashed: its hashes, bit for bit.
 * FAST       frames that no other frame refers to (most B-frames) are not
 *            decoded, nor is the loop filter run; the first frame decoded
 *            in each interval is hashed: a frame or two from the
 *            reference's, and its pixels a little blurred, for about half
 *            the decoding.
 * KEYFRAMES  only key frames are decoded (the other packets are not even
 *            read into the decoder), the first in each interval hashed:
 *            far cheaper, but key frames come every 2 to 10 s, so only
 *            that share of a listed video's frames can be matched.
 */
#define HDB_VIDEO_EXACT       0
#define HDB_VIDEO_FAST        1
#define HDB_VIDEO_KEYFRAMES   2

/* hdb_media_hash() results */
#define HDB_MEDIA_OK          0
#define HDB_MEDIA_EFORMAT    (-1)   /* no format this library decodes */
#define HDB_MEDIA_ETOOLARGE  (-2)   /* over a limit: pixels, bytes, frames */
#define HDB_MEDIA_ECORRUPT   (-3)   /* the decoder refused it */
#define HDB_MEDIA_ENOMEM     (-4)
#define HDB_MEDIA_ETIME      (-5)   /* the deadline passed */

typedef enum {
    HDB_MEDIA_NONE = 0,             /* not a format we decode */
    HDB_MEDIA_JPEG,
    HDB_MEDIA_PNG,
    HDB_MEDIA_GIF,
    HDB_MEDIA_WEBP,
    HDB_MEDIA_HEIF,                 /* HEIC and other HEIF brands */
    HDB_MEDIA_AVIF,
    HDB_MEDIA_BMP,
    HDB_MEDIA_TIFF,
    HDB_MEDIA_MP4,                  /* ISO base media: MP4, MOV, M4V, 3GP */
    HDB_MEDIA_MKV,                  /* Matroska, WebM */
    HDB_MEDIA_AVI,
    HDB_MEDIA_MPEGTS
} hdb_media_type_t;

/* the video containers, HDB_MEDIA_MP4 .. HDB_MEDIA_MPEGTS */
#define hdb_media_is_video(type)                                              \
    ((type) >= HDB_MEDIA_MP4 && (type) <= HDB_MEDIA_MPEGTS)

/*
 * hdb_media_sniff() needs at most this many bytes to decide: an MPEG-TS
 * stream is told by the sync bytes of its first three 188-byte packets.
 */
#define HDB_MEDIA_SNIFF_MAX   384

/* hdb_media_sniff(): too few bytes yet to tell */
#define HDB_MEDIA_MORE        (-1)

/*
 * The format of the file that starts with p[0 .. len): a hdb_media_type_t,
 * HDB_MEDIA_NONE, or HDB_MEDIA_MORE when len < HDB_MEDIA_SNIFF_MAX and
 * more bytes could still make it one.
 */
int hdb_media_sniff(const unsigned char *p, size_t len);

/* "jpeg", "png", ...; "none" */
const char *hdb_media_name(int type);

/*
 * The formats this build decodes, with their libraries' versions, one
 * line each: "hashdb hash --formats" prints it.
 */
const char *hdb_media_formats(void);

/*
 * Called with each frame's pixels before they are hashed: 8-bit RGB,
 * rows of width * 3 bytes.  For tests and tools that check a decoder
 * against reference pixels.
 */
typedef void (*hdb_media_pixels_pt)(void *data, unsigned frame,
    const unsigned char *rgb, int width, int height);

typedef struct {
    size_t     max_pixels;      /* per frame (an animation's canvas), by
                                   the declared size; 0: none */
    size_t     max_bytes;       /* of the file; 0: none */
    unsigned   max_frames;      /* frames hashed; beyond it, that many
                                   sampled evenly; 0: none */
    uint64_t   max_total_pixels;/* pixels decoded over all frames; 0: none */
    int        exact;           /* the reference's decoding path, not the
                                   fast one (JPEG: a few bits apart) */

    /*
     * Video.  Frames are sampled on vPDQ's grid, one per interval seconds
     * (0: every frame), by one of the HDB_VIDEO_* samplings below.
     */
    int        sampling;
    double     interval;        /* seconds per hash (vPDQ: 1) */
    unsigned   max_seconds;     /* longest duration declared; 0: none */
    unsigned   max_video_frames;/* most frames hashed; 0: none */
    uint64_t   max_decoded;     /* most frames decoded; 0: none */
    int64_t    deadline;        /* CLOCK_MONOTONIC, ns: past it, the video
                                   is given up (HDB_MEDIA_ETIME); 0: none */
    hdb_media_pixels_pt   pixels;
    void                 *pixels_data;
} hdb_media_limits_t;

typedef struct {
    int            quality;     /* 0 .. 100 */
    unsigned       index;       /* the frame's number in the file, from 0 */
    double         time;        /* seconds from the start; 0 for stills */
    unsigned char  variants[HDB_PDQ_VARIANTS][HDB_PDQ_SIZE];
                                /* [0]: as is; hdb_pdq_variant_name() */
} hdb_media_frame_t;

typedef struct {
    int                  type;      /* hdb_media_type_t */
    unsigned             nframes;   /* hashed */
    unsigned             nalloc;    /* frames[] has room for */
    unsigned             total;     /* frames in the file (1 for a still) */
    uint64_t             pixels;    /* decoded, over all frames */
    int                  width;     /* of the image or the canvas */
    int                  height;
    double               duration;  /* video: seconds, as declared */
    double               fps;       /* video: the stream's frame rate */
    const char          *codec;     /* video: the codec's short name */
    hdb_media_frame_t   *frames;    /* malloc()ed: hdb_media_free() */
    char                 why[128];  /* the decoder's words on an error */
} hdb_media_result_t;

/* the defaults of hashdb.h into *l: HDB_MEDIA_*_DEFAULT, HDB_VIDEO_* */
void hdb_media_limits_default(hdb_media_limits_t *l);

/*
 * Decodes the file in p[0 .. len) under the limits and hashes its frames
 * into *out (zeroed first).  Returns HDB_MEDIA_OK or an HDB_MEDIA_E*
 * code, with the decoder's reason in out->why.  Safe to call from any
 * thread; it keeps no state between calls.
 */
int hdb_media_hash(const unsigned char *p, size_t len,
    const hdb_media_limits_t *limits, hdb_media_result_t *out);

void hdb_media_free(hdb_media_result_t *r);

/* the error's message, with the decoder's reason where it gave one */
const char *hdb_media_strerror(int rc, const hdb_media_result_t *r);

#endif /* HDB_MEDIA_H */
