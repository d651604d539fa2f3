/*
 * The body of the image decoders' libFuzzer targets (fuzz_png.c,
 * fuzz_gif.c, ...): each defines FUZZ_FORMATS, the hdb_media_type_t
 * values it fuzzes, and includes this.  The input goes through the media
 * layer as the module and "hashdb hash" run it; the limits are small so
 * that the fuzzer spends its time in the parsers, and are part of what
 * is tested: a header declaring more must be refused before decoding.
 * Checked: a result is whole (frames within the limits, numbered in
 * order, qualities 0 .. 100) or an error with a message, never both.
 * (A video container without a video stream is "not media": no frames.)
 */

#include <stdint.h>
#include <stdlib.h>

#include "hdb_media.h"

#define FUZZ_MAX_PIXELS  (1024 * 1024)
#define FUZZ_MAX_FRAMES  4

static const int  fuzz_formats[] = FUZZ_FORMATS;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 rc, type;
    size_t              i;
    hdb_media_limits_t  limits = { .max_pixels = FUZZ_MAX_PIXELS,
                                   .max_frames = FUZZ_MAX_FRAMES,
                                   .max_total_pixels = 4 * FUZZ_MAX_PIXELS,
                                   .max_video_frames = FUZZ_MAX_FRAMES,
                                   .max_decoded = 64,
                                   .max_seconds = 3600,
                                   .interval = 0.1 };
    hdb_media_result_t  r;

    type = hdb_media_sniff(data, size);

    for (i = 0; i < sizeof(fuzz_formats) / sizeof(fuzz_formats[0]); i++) {
        if (fuzz_formats[i] == type) {
            break;
        }
    }

    if (i == sizeof(fuzz_formats) / sizeof(fuzz_formats[0])) {
        return 0;
    }

    /* a video's last byte picks the sampling: each is fuzzed */
    limits.sampling = size ? data[size - 1] % 3 : 0;

    rc = hdb_media_hash(data, size, &limits, &r);

    if (rc == HDB_MEDIA_OK) {
        if ((r.nframes == 0 && !hdb_media_is_video(type))
            || r.nframes > FUZZ_MAX_FRAMES
            || r.nframes > r.total || r.type != type
            || (r.pixels > limits.max_total_pixels
                && !hdb_media_is_video(type)))
        {
            abort();
        }

        for (unsigned k = 0; k < r.nframes; k++) {
            /* a video's sparse samplings number frames by their time */
            if (r.frames[k].quality < 0 || r.frames[k].quality > 100
                || (r.frames[k].index >= r.total && !hdb_media_is_video(type))
                || (k > 0 && r.frames[k].index <= r.frames[k - 1].index))
            {
                abort();
            }
        }

    } else if (r.nframes != 0 || r.frames != NULL
               || hdb_media_strerror(rc, &r) == NULL)
    {
        abort();
    }

    hdb_media_free(&r);

    return 0;
}
