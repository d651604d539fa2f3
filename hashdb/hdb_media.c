/*
 * The media layer's entry points and its registry of decoders; see
 * hdb_media.h.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdb_media_decoder.h"

static const hdb_media_decoder_t  *hdb_media_decoders[] = {
    &hdb_img_jpeg,
    NULL
};

int
hdb_media_sniff(const unsigned char *p, size_t len)
{
    int                          rc, more;
    const hdb_media_decoder_t  **d;

    more = 0;

    for (d = hdb_media_decoders; *d; d++) {
        rc = (*d)->sniff(p, len);

        if (rc == 1) {
            return (*d)->type;
        }

        more |= (rc == HDB_MEDIA_MORE);
    }

    return more && len < HDB_MEDIA_SNIFF_MAX ? HDB_MEDIA_MORE
                                             : HDB_MEDIA_NONE;
}

const char *
hdb_media_name(int type)
{
    const hdb_media_decoder_t  **d;

    for (d = hdb_media_decoders; *d; d++) {
        if ((*d)->type == type) {
            return (*d)->name;
        }
    }

    return "none";
}

int
hdb_media_hash(const unsigned char *p, size_t len,
    const hdb_media_limits_t *limits, hdb_media_result_t *out)
{
    int                          rc;
    const hdb_media_decoder_t  **d;

    memset(out, 0, sizeof(hdb_media_result_t));

    for (d = hdb_media_decoders; *d; d++) {
        if ((*d)->sniff(p, len) == 1) {
            break;
        }
    }

    if (*d == NULL) {
        return HDB_MEDIA_EFORMAT;
    }

    out->type = (*d)->type;

    if (limits->max_bytes && len > limits->max_bytes) {
        snprintf(out->why, sizeof(out->why), "%zu bytes, more than %zu",
                 len, limits->max_bytes);
        return HDB_MEDIA_ETOOLARGE;
    }

    rc = (*d)->hash(p, len, limits, out);

    if (rc != HDB_MEDIA_OK) {
        hdb_media_free(out);
        out->type = (*d)->type;
    }

    return rc;
}

void
hdb_media_free(hdb_media_result_t *r)
{
    free(r->frames);
    r->frames = NULL;
    r->nframes = 0;
}

const char *
hdb_media_strerror(int rc, const hdb_media_result_t *r)
{
    const char  *what;

    switch (rc) {
    case HDB_MEDIA_OK:
        return "ok";
    case HDB_MEDIA_EFORMAT:
        return "not an image format the filter decodes";
    case HDB_MEDIA_ETOOLARGE:
        what = "too large to decode";
        break;
    case HDB_MEDIA_ECORRUPT:
        what = "corrupt or not supported by the decoder";
        break;
    case HDB_MEDIA_ENOMEM:
        return "out of memory";
    default:
        return "unknown media error";
    }

    return r && r->why[0] ? r->why : what;
}
