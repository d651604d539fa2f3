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
 * Each format is one decoder behind a registry (hdb_media.c): JPEG today
 * (hdb_img_jpeg.c).  The PDQ arithmetic (hdb_pdq.c) knows no format.
 */

#ifndef HDB_MEDIA_H
#define HDB_MEDIA_H

#include <stddef.h>

#include "hashdb.h"

/* hdb_media_hash() results */
#define HDB_MEDIA_OK          0
#define HDB_MEDIA_EFORMAT    (-1)   /* no format this library decodes */
#define HDB_MEDIA_ETOOLARGE  (-2)   /* over a limit: pixels, bytes, frames */
#define HDB_MEDIA_ECORRUPT   (-3)   /* the decoder refused it */
#define HDB_MEDIA_ENOMEM     (-4)

typedef enum {
    HDB_MEDIA_NONE = 0,             /* not a format we decode */
    HDB_MEDIA_JPEG
} hdb_media_type_t;

/* hdb_media_sniff() needs at most this many bytes to decide */
#define HDB_MEDIA_SNIFF_MAX   16

/* hdb_media_sniff(): too few bytes yet to tell */
#define HDB_MEDIA_MORE        (-1)

/*
 * The format of the file that starts with p[0 .. len): a hdb_media_type_t,
 * HDB_MEDIA_NONE, or HDB_MEDIA_MORE when len < HDB_MEDIA_SNIFF_MAX and
 * more bytes could still make it one.
 */
int hdb_media_sniff(const unsigned char *p, size_t len);

/* "jpeg", ...; "none" */
const char *hdb_media_name(int type);

typedef struct {
    size_t     max_pixels;      /* per frame, by the declared size; 0: none */
    size_t     max_bytes;       /* of the file; 0: none */
    unsigned   max_frames;      /* 0: none */
    int        exact;           /* the reference's decoding path, not the
                                   fast one (a few bits apart) */
} hdb_media_limits_t;

typedef struct {
    int            quality;     /* 0 .. 100 */
    double         time;        /* seconds from the start; 0 for images */
    unsigned char  variants[HDB_PDQ_VARIANTS][HDB_PDQ_SIZE];
                                /* [0]: as is; hdb_pdq_variant_name() */
} hdb_media_frame_t;

typedef struct {
    int                  type;      /* hdb_media_type_t */
    unsigned             nframes;
    hdb_media_frame_t   *frames;    /* malloc()ed: hdb_media_free() */
    char                 why[128];  /* the decoder's words on an error */
} hdb_media_result_t;

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
