/*
 * What the library's files share and the users of hashdb.h need not see.
 */

#ifndef HDB_INTERNAL_H
#define HDB_INTERNAL_H

#include <lmdb.h>

#include "hashdb.h"
#include "hdb_schema.h"

struct hdb {
    MDB_env   *env;
    unsigned   flags;
    MDB_dbi    meta;
    MDB_dbi    sources;
    MDB_dbi    source_ids;
    MDB_dbi    allow;
    MDB_dbi    keys;
    MDB_dbi    types[HDB_NTYPES];
    char      *path;
};

void hdb_source_id_encode(uint32_t id, unsigned char out[4]);
uint32_t hdb_source_id_decode(const unsigned char in[4]);
void hdb_source_from_rec(hdb_source_t *src, const char *name, size_t len,
    const struct hdb_source_rec *rec);

#endif /* HDB_INTERNAL_H */
