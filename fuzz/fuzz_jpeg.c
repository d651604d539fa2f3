/*
 * libFuzzer target: the media layer on JPEGs, as the module runs it on
 * an upload (hdb_media_hash, fast path), and the reference-exact path of
 * "hashdb hash --exact".  The pixel cap is small so that the fuzzer
 * spends its time in the parsers, not in decoding large images; the cap
 * itself is part of what is tested (a header that declares more must be
 * refused before any pixel is decoded).
 */

#include <stdint.h>
#include <stdlib.h>

#include "hdb_media.h"

#define FUZZ_MAX_PIXELS  (1024 * 1024)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 rc;
    hdb_media_limits_t  limits = { .max_pixels = FUZZ_MAX_PIXELS,
                                   .max_frames = 1 };
    hdb_media_result_t  r;

    if (hdb_media_sniff(data, size) != HDB_MEDIA_JPEG) {
        return 0;
    }

    for (int exact = 0; exact < 2; exact++) {
        limits.exact = exact;
        rc = hdb_media_hash(data, size, &limits, &r);

        if (rc == HDB_MEDIA_OK
            && (r.nframes != 1 || r.frames[0].quality < 0
                || r.frames[0].quality > 100))
        {
            abort();
        }

        if (rc != HDB_MEDIA_OK && hdb_media_strerror(rc, &r) == NULL) {
            abort();
        }

        hdb_media_free(&r);
    }

    return 0;
}
