/*
 * Streaming digests over OpenSSL's EVP interface.  The algorithms are
 * fetched once per process: an implicit fetch on every init would cost
 * more than hashing a small form field.
 */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "hdb_digest.h"

struct hdb_digest {
    unsigned      types;
    EVP_MD_CTX   *ctx[HDB_NDIGESTS];
};

static EVP_MD          *hdb_mds[HDB_NDIGESTS];
static pthread_once_t   hdb_mds_once = PTHREAD_ONCE_INIT;

static void
hdb_digest_fetch(void)
{
    static const char  *names[HDB_NDIGESTS] = { "MD5", "SHA1", "SHA256" };

    for (int t = 0; t < HDB_NDIGESTS; t++) {
        hdb_mds[t] = EVP_MD_fetch(NULL, names[t], NULL);
    }
}

/*
 * Frees what hdb_digest_new() fetched; no digest may be made after it.
 * For a process that unloads this code (nginx at exit dlclose()s the
 * module): the pointers would go with it, and a leak checker calls that
 * a leak.
 */
void
hdb_digest_shutdown(void)
{
    for (int t = 0; t < HDB_NDIGESTS; t++) {
        EVP_MD_free(hdb_mds[t]);
        hdb_mds[t] = NULL;
    }
}


hdb_digest_t *
hdb_digest_new(unsigned types)
{
    hdb_digest_t  *d;

    pthread_once(&hdb_mds_once, hdb_digest_fetch);

    d = calloc(1, sizeof(hdb_digest_t));
    if (d == NULL) {
        return NULL;
    }

    d->types = types & HDB_DIGEST_TYPES;

    for (int t = 0; t < HDB_NDIGESTS; t++) {
        if (!(d->types & HDB_TYPE_BIT(t))) {
            continue;
        }

        d->ctx[t] = EVP_MD_CTX_new();

        if (d->ctx[t] == NULL || hdb_mds[t] == NULL) {
            hdb_digest_free(d);
            return NULL;
        }
    }

    return d;
}

void
hdb_digest_free(hdb_digest_t *d)
{
    if (d == NULL) {
        return;
    }

    for (int t = 0; t < HDB_NDIGESTS; t++) {
        EVP_MD_CTX_free(d->ctx[t]);
    }

    free(d);
}

unsigned
hdb_digest_types(const hdb_digest_t *d)
{
    return d->types;
}

int
hdb_digest_reset(hdb_digest_t *d)
{
    for (int t = 0; t < HDB_NDIGESTS; t++) {
        if (d->ctx[t] && !EVP_DigestInit_ex(d->ctx[t], hdb_mds[t], NULL)) {
            return EIO;
        }
    }

    return 0;
}

int
hdb_digest_update(hdb_digest_t *d, const void *data, size_t len)
{
    if (len == 0) {
        return 0;
    }

    for (int t = 0; t < HDB_NDIGESTS; t++) {
        if (d->ctx[t] && !EVP_DigestUpdate(d->ctx[t], data, len)) {
            return EIO;
        }
    }

    return 0;
}

int
hdb_digest_final(hdb_digest_t *d, hdb_digests_t *out)
{
    out->types = d->types;

    for (int t = 0; t < HDB_NDIGESTS; t++) {
        if (d->ctx[t] && !EVP_DigestFinal_ex(d->ctx[t], out->md[t], NULL)) {
            return EIO;
        }
    }

    return 0;
}
