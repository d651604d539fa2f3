/*
 * The PDQ hashes of a JPEG in memory, as the upload filter and hashdb
 * hash compute them: decode (with the pixel cap), hash, and the 8
 * dihedral variants in the hash set's byte order.
 */

#ifndef HDB_PDQ_JPEG_H
#define HDB_PDQ_JPEG_H

#include <stddef.h>

#include "hashdb.h"
#include "hdb_jpeg.h"
#include "hdb_pdq.h"

typedef struct {
    int            quality;                         /* 0..100 */
    unsigned char  variants[PDQ_VARIANTS][HDB_PDQ_SIZE];  /* [0]: as is */
} hdb_pdq_result_t;

/*
 * exact: the reference's path (full RGB decode); else the fast path
 * (scaled greyscale decode, within a few bits of it).  Returns
 * HDB_JPEG_OK or an HDB_JPEG_* error, with the decoder's words in *why.
 */
int hdb_pdq_jpeg(const unsigned char *jpeg, size_t len, size_t max_pixels,
    int exact, hdb_pdq_result_t *out, const char **why);

/* a hash from pdq_hash_luma() and friends in the hash set's byte order */
void hdb_pdq_bytes(const pdq_hash_t *h, unsigned char *out);

#endif /* HDB_PDQ_JPEG_H */
