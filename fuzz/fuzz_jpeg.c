/*
 * libFuzzer target: the JPEG + PDQ path as the module runs it on an
 * upload (hdb_pdq_jpeg, fast path), and the reference-exact path of
 * "hashdb hash --exact".  The pixel cap is small so that the fuzzer
 * spends its time in the parsers, not in decoding large images; the cap
 * itself is part of what is tested (a header that declares more must be
 * refused before any pixel is decoded).
 */

#include <stdint.h>
#include <stdlib.h>

#include "hdb_pdq_jpeg.h"

#define FUZZ_MAX_PIXELS  (1024 * 1024)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int               rc;
    const char       *why;
    hdb_pdq_result_t  r;

    if (!hdb_is_jpeg(data, size)) {
        return 0;
    }

    for (int exact = 0; exact < 2; exact++) {
        why = NULL;
        rc = hdb_pdq_jpeg(data, size, FUZZ_MAX_PIXELS, exact, &r, &why);

        if (rc == HDB_JPEG_OK && (r.quality < 0 || r.quality > 100)) {
            abort();
        }

        if (rc != HDB_JPEG_OK && hdb_jpeg_strerror(rc, why) == NULL) {
            abort();
        }
    }

    return 0;
}
