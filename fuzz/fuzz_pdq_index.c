/*
 * libFuzzer target: the PDQ near-match index and the video records as a
 * worker reads them from a hash set that is corrupt (a torn copy, a disk
 * error, a set of another build).  The input plants, in a real LMDB set,
 * an index block where the query looks, the first chunk of the hash
 * store, and a listed video's record; then an image query (8 variants)
 * and a video query (the query hash and the store's first hashes as its
 * frames) run on it.  Whatever the bytes, a query must answer
 * a match, no match or MDB_CORRUPTED: never read outside what LMDB gave
 * it, never crash.
 *
 * The input: the query hash (32 bytes), the table to plant the block in
 * (1 byte, mod 16), then the block, the chunk and the video record, the
 * first two each after its 2-byte little-endian length.  Seeds:
 * fuzz/make-index-seeds.py.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hdb_pdq_ix.h"

static hdb_t  *fuzz_db;

/* a set in a directory of its own, with a few hashes and one video */
static void
fuzz_init(void)
{
    char           dir[] = "/tmp/fuzz-pdq-index.XXXXXX";
    char           path[sizeof(dir) + 16];
    unsigned char  frames[3][HDB_PDQ_SIZE];
    hdb_row_t      row;
    hdb_video_t    video;
    hdb_writer_t  *w;

    if (mkdtemp(dir) == NULL
        || hdb_create(&fuzz_db, dir, HDB_OPEN_CREATE, 64 << 20) != 0
        || hdb_writer_begin(fuzz_db, "fuzz", HDB_WRITE_ADD, &w) != 0)
    {
        abort();
    }

    for (int i = 0; i < 3; i++) {
        memset(frames[i], 0x11 * (i + 1), HDB_PDQ_SIZE);
        memset(&row, 0, sizeof(row));
        row.types = HDB_TYPE_BIT(HDB_PDQ);
        memcpy(row.digests[HDB_PDQ], frames[i], HDB_PDQ_SIZE);

        if (hdb_writer_add(w, &row) != 0) {
            abort();
        }
    }

    memset(&video, 0, sizeof(video));
    video.name = "v1";
    video.nframes = 3;
    video.frames = (const unsigned char (*)[HDB_PDQ_SIZE]) frames;

    if (hdb_writer_add_video(w, &video) != 0
        || hdb_writer_commit(w, NULL) != 0)
    {
        abort();
    }

    /* the set's files stay open: the directory can go now */
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
}

/* the next length-prefixed field of the input, or what is left */
static void
fuzz_field(const uint8_t **p, size_t *left, int prefixed, MDB_val *v)
{
    size_t  n = *left;

    if (prefixed && *left < 2) {
        /* a stray byte where a length should be: the input ends there */
        n = 0;
        *p += *left;
        *left = 0;

    } else if (prefixed) {
        n = (size_t) ((*p)[0] | (*p)[1] << 8);
        *p += 2;
        *left -= 2;
        n = n < *left ? n : *left;
    }

    v->mv_data = (void *) *p;
    v->mv_size = n;
    *p += n;
    *left -= n;
}

static void
fuzz_put(MDB_txn *txn, MDB_dbi dbi, void *k, size_t klen, MDB_val *val)
{
    MDB_val  key;

    key.mv_data = k;
    key.mv_size = klen;

    /* an empty value stands for the record being absent */
    if (val->mv_size == 0) {
        return;
    }

    if (mdb_put(txn, dbi, &key, val, 0) != 0) {
        abort();
    }
}

static void
fuzz_answer(int rc)
{
    if (rc != 0 && rc != MDB_NOTFOUND && rc != MDB_CORRUPTED) {
        fprintf(stderr, "a query answered %d (%s)\n", rc, mdb_strerror(rc));
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                   table;
    size_t                left, nframes;
    uint32_t              chunk, num;
    MDB_txn              *txn;
    MDB_val               block, chunk_val, video;
    hdb_match_t           m;
    hdb_reader_t         *rd;
    unsigned char         q[8][HDB_PDQ_SIZE], key[3];
    hdb_vpdq_rule_t       rule;
    hdb_vpdq_match_t      vm;
    hdb_vpdq_frame_t      frames[4];
    const uint8_t        *p;
    const unsigned char  *src;

    if (fuzz_db == NULL) {
        fuzz_init();
    }

    if (size < HDB_PDQ_SIZE + 1) {
        return 0;
    }

    /* the query, and seven neighbours of it (as a flip of an image) */
    for (int v = 0; v < 8; v++) {
        memcpy(q[v], data, HDB_PDQ_SIZE);
        q[v][v] ^= (unsigned char) (v ? 0x80 : 0);
    }

    table = data[HDB_PDQ_SIZE] % HDB_PDQ_WORDS;
    p = data + HDB_PDQ_SIZE + 1;
    left = size - HDB_PDQ_SIZE - 1;
    fuzz_field(&p, &left, 1, &block);
    fuzz_field(&p, &left, 1, &chunk_val);
    fuzz_field(&p, &left, 0, &video);

    /* the index, the store and the videos: only what this input plants */
    if (mdb_txn_begin(fuzz_db->env, NULL, 0, &txn) != 0
        || mdb_drop(txn, fuzz_db->pdq_ix, 0) != 0
        || mdb_drop(txn, fuzz_db->pdq_id, 0) != 0
        || mdb_drop(txn, fuzz_db->video, 0) != 0)
    {
        abort();
    }

    hdb_pdq_block_key(table, hdb_pdq_word(q[0], table) >> HDB_PDQ_BLOCK_SHIFT,
                      key);
    fuzz_put(txn, fuzz_db->pdq_ix, key, sizeof(key), &block);
    chunk = 0;
    fuzz_put(txn, fuzz_db->pdq_id, &chunk, sizeof(chunk), &chunk_val);
    num = 1;
    fuzz_put(txn, fuzz_db->video, &num, sizeof(num), &video);

    if (mdb_txn_commit(txn) != 0 || hdb_reader_new(fuzz_db, &rd) != 0) {
        abort();
    }

    if (hdb_reader_begin(rd) == 0) {
        fuzz_answer(hdb_reader_pdq_match(rd,
                        (const unsigned char (*)[HDB_PDQ_SIZE]) q, 8,
                        HDB_PDQ_DISTANCE_DEFAULT, &m));

        memset(&rule, 0, sizeof(rule));
        rule.distance = HDB_PDQ_DISTANCE_DEFAULT;
        rule.quality = HDB_PDQ_QUALITY_DEFAULT;
        rule.pc = HDB_VPDQ_PC_DEFAULT;
        rule.pq = HDB_VPDQ_PQ_DEFAULT;

        /* the upload's frames: the query, then the store's first hashes */
        for (nframes = 0; nframes < 4; nframes++) {
            src = nframes ? (const unsigned char *) chunk_val.mv_data
                            + (nframes - 1) * HDB_PDQ_SIZE
                          : q[0];
            if (nframes && chunk_val.mv_size < nframes * HDB_PDQ_SIZE) {
                break;
            }
            memcpy(frames[nframes].hash, src, HDB_PDQ_SIZE);
            frames[nframes].quality = 100;
            frames[nframes].time = (double) nframes;
        }

        fuzz_answer(hdb_reader_vpdq_match(rd, frames, nframes, &rule, &vm));

        hdb_reader_end(rd);
    }

    hdb_reader_free(rd);

    return 0;
}
