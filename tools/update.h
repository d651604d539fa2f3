/*
 * A chain of signed lists applied in one transaction (cmd_update.c), for
 * hashdb pull: one full list (as hashdb sync), or deltas in order (as
 * hashdb apply), each verified as those commands verify a list, and
 * each delta's signed base the sequence before it.
 */

#ifndef UPDATE_H
#define UPDATE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char  *path;          /* the list, csv */
    const char  *sig_path;      /* its signature */
    const char  *label;         /* its name in messages */
    int          full;          /* 1: a full list; 0: a delta */
} update_file_t;

typedef struct {
    uint64_t     from;          /* the source's sequence before */
    uint64_t     to;            /* and after */
    uint64_t     rows;
    uint64_t     added;
    uint64_t     removed;
} update_result_t;

#define UPDATE_ALLOW_SHRINK  0x1u   /* as sync's --allow-shrink */
#define UPDATE_SHADOW        0x2u   /* as its --shadow: what it adds is
                                       staged (hdb_writer_stage()) */

/*
 * Applies files[0 .. n) to source in db_path with UPDATE_* flags;
 * TOOL_OK, or TOOL_FAILED with the reason written and nothing applied.
 */
int update_chain(const char *db_path, const char *source,
    const update_file_t *files, size_t n, unsigned flags,
    update_result_t *res);

#endif /* UPDATE_H */
