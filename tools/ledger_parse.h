/*
 * The upload ledger's token ($upload_filter_hashes, written by
 * ngx_module/ngx_http_upload_filter_ledger.c), read back:
 *
 *     ufh1:part=2,size=12,name=a%20b,filename=x.jpg,sha1=HEX,pdq=HEX;part=3,...
 *
 * Plain C; fuzzed by fuzz/fuzz_ledger.c.
 */

#ifndef LEDGER_PARSE_H
#define LEDGER_PARSE_H

#include <stddef.h>

#include "hashdb.h"

#define LEDGER_TOKEN        "ufh1:"
#define LEDGER_HASHES_MAX   16

typedef struct {
    hdb_type_t     type;
    unsigned char  md[HDB_DIGEST_MAX];
    char           text[sizeof("sha256:") + HDB_HEX_MAX];   /* TYPE:HEX */
} ledger_hash_t;

typedef struct {
    char           part[64];
    char           size[32];
    char           name[512];           /* percent-decoded */
    char           filename[512];
    unsigned       nhashes;
    ledger_hash_t  hashes[LEDGER_HASHES_MAX];
} ledger_entry_t;

/* the length of the token's body at p (after LEDGER_TOKEN) */
size_t ledger_token_len(const char *p);

/*
 * Calls cb for each object of the token's body p[0 .. len); a non-zero
 * return stops.  Unknown keys and values that do not decode are passed
 * over (a later version may add keys).  Returns cb's code, or 0.
 */
typedef int (*ledger_cb)(void *data, const ledger_entry_t *e);

int ledger_parse(const char *p, size_t len, ledger_cb cb, void *data);

#endif /* LEDGER_PARSE_H */
