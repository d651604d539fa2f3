/*
 * libFuzzer target: the upload ledger's token as hashdb rescan reads it
 * (tools/ledger_parse.c).  Every entry handed back must be whole: its
 * strings terminated within their buffers, its hashes of a known type
 * with their text "TYPE:HEX" matching the bytes.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_parse.h"

static int
fuzz_entry(void *data, const ledger_entry_t *e)
{
    char  hex[HDB_HEX_MAX + 1];

    (void) data;

    if (memchr(e->part, '\0', sizeof(e->part)) == NULL
        || memchr(e->size, '\0', sizeof(e->size)) == NULL
        || memchr(e->name, '\0', sizeof(e->name)) == NULL
        || memchr(e->filename, '\0', sizeof(e->filename)) == NULL
        || e->nhashes > LEDGER_HASHES_MAX)
    {
        abort();
    }

    for (unsigned i = 0; i < e->nhashes; i++) {
        const ledger_hash_t  *h = &e->hashes[i];
        const char           *colon = strchr(h->text, ':');

        if (h->type >= HDB_NTYPES || colon == NULL) {
            abort();
        }

        hdb_hex_encode(h->md, hdb_type_size(h->type), hex);

        if (strcasecmp(colon + 1, hex) != 0) {
            abort();
        }
    }

    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char    *p;
    size_t   n;

    /* as rescan sees it: a line, the token's body measured in it */
    p = malloc(size + 1);
    if (p == NULL) {
        return 0;
    }

    memcpy(p, data, size);
    p[size] = '\0';

    n = ledger_token_len(p);
    if (n > size) {
        abort();
    }

    ledger_parse(p, n, fuzz_entry, NULL);
    ledger_parse(p, strlen(p), fuzz_entry, NULL);
    free(p);

    return 0;
}
