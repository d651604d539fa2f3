/*
 * What a format's decoder gives the media layer (hdb_media.c): internal
 * to hashdb/.  A new format is one file defining one of these and one
 * line in the registry.
 */

#ifndef HDB_MEDIA_DECODER_H
#define HDB_MEDIA_DECODER_H

#include "hdb_media.h"

typedef struct {
    int          type;          /* hdb_media_type_t */
    const char  *name;

    /* 1: it is this format; 0: it is not; HDB_MEDIA_MORE: too few bytes */
    int        (*sniff)(const unsigned char *p, size_t len);

    /* fills out->frames and out->nframes; out->why on an error */
    int        (*hash)(const unsigned char *p, size_t len,
                       const hdb_media_limits_t *limits,
                       hdb_media_result_t *out);
} hdb_media_decoder_t;

extern const hdb_media_decoder_t  hdb_img_jpeg;

#endif /* HDB_MEDIA_DECODER_H */
