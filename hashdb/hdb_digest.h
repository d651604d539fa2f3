/*
 * Streaming digests: MD5, SHA-1 and SHA-256 of one stream in one pass,
 * computing only the types asked for (OpenSSL 3 EVP).
 */

#ifndef HDB_DIGEST_H
#define HDB_DIGEST_H

#include <stddef.h>

#include "hashdb.h"

typedef struct hdb_digest  hdb_digest_t;

typedef struct {
    unsigned       types;
    unsigned char  md[HDB_NDIGESTS][HDB_DIGEST_MAX];
} hdb_digests_t;

/* NULL on allocation failure or when OpenSSL lacks an algorithm */
hdb_digest_t *hdb_digest_new(unsigned types);
void hdb_digest_free(hdb_digest_t *d);
/* at exit: frees the algorithms fetched once per process */
void hdb_digest_shutdown(void);
unsigned hdb_digest_types(const hdb_digest_t *d);

/* starts a new stream; needed after hdb_digest_new() and each final */
int hdb_digest_reset(hdb_digest_t *d);
int hdb_digest_update(hdb_digest_t *d, const void *data, size_t len);
int hdb_digest_final(hdb_digest_t *d, hdb_digests_t *out);

#endif /* HDB_DIGEST_H */
