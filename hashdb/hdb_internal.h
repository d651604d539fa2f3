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
    MDB_dbi    pdq_ix;
    MDB_dbi    pdq_id;
    char      *path;
};

/* a reader's view of one PDQ index block (hdb_pdq_index.c) */
#define HDB_PDQ_BLK_UNKNOWN  0
#define HDB_PDQ_BLK_ABSENT   1
#define HDB_PDQ_BLK_PRESENT  2

typedef struct {
    const unsigned char  *data;     /* in the map */
    unsigned              state;
} hdb_pdq_blk_t;

#define HDB_TXNID_NONE  ((size_t) -1)

struct hdb_reader {
    hdb_t          *db;
    MDB_txn        *txn;
    int             active;

    /* the plan only changes with a commit: cached per transaction id */
    size_t          plan_txnid;
    unsigned        plan;

    /*
     * PDQ index blocks seen in this snapshot: valid while the transaction
     * id stays the same (no commit since) and the map is not remapped.
     */
    hdb_pdq_blk_t  *pdq_blocks;
    size_t          pdq_txnid;
};

/* a source's name and record by its id; MDB_CORRUPTED if it has none */
int hdb_reader_source_rec(hdb_reader_t *rd, const unsigned char id[4],
    MDB_val *name, struct hdb_source_rec *rec);
int hdb_reader_allow_check(hdb_reader_t *rd, hdb_type_t type,
    const unsigned char *digest, hdb_match_t *match);

void hdb_source_id_encode(uint32_t id, unsigned char out[4]);
uint32_t hdb_source_id_decode(const unsigned char in[4]);
void hdb_source_from_rec(hdb_source_t *src, const char *name, size_t len,
    const struct hdb_source_rec *rec);

/*
 * The PDQ index (hdb_pdq_index.c), kept by the writer: a hash that gets
 * its first entry (was_indexed 0) or loses its last one (1) is noted, and
 * the index follows at commit.
 */
typedef struct hdb_pdq_pending  hdb_pdq_pending_t;

int hdb_pdq_touch(hdb_pdq_pending_t **p, const unsigned char *hash,
    int was_indexed);
void hdb_pdq_pending_free(hdb_pdq_pending_t *p);
int hdb_pdq_index_commit(hdb_t *db, MDB_txn *txn, hdb_pdq_pending_t *p);

#endif /* HDB_INTERNAL_H */
