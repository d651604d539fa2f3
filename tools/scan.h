/*
 * hashdb scan: what its files share.  cmd_scan.c walks the paths and
 * runs the workers, scan_file.c hashes one file and looks it up,
 * scan_report.c writes what was found.
 */

#ifndef SCAN_H
#define SCAN_H

#include <stdio.h>
#include <pthread.h>
#include <sys/stat.h>

#include "hashdb.h"
#include "hdb_digest.h"
#include "hdb_media.h"

typedef struct {
    unsigned        types;          /* the digests the set can match */
    unsigned        distance;       /* PDQ */
    unsigned        min_quality;
    size_t          max_image;      /* bytes of an image kept to decode */
    int             json;
    int             follow;
    int             one_fs;
} scan_opts_t;

/* one listed thing found in a file: a digest, or a frame's PDQ hash */
typedef struct {
    char            match[sizeof("sha256:") + HDB_HEX_MAX];
    hdb_match_t     m;
    int             pdq;
    int             frame;          /* -1: a still */
} scan_hit_t;

#define SCAN_HITS_MAX  8

/* what scan_file() found in one file */
typedef struct {
    const char     *path;
    struct stat     st;
    int             error;          /* errno, or 0 */
    const char     *why;            /* of an error, or NULL */
    char            media_error[128];   /* an image not hashed: why */
    const char     *format;         /* of an image, or NULL */
    unsigned        nhits;
    scan_hit_t      hits[SCAN_HITS_MAX];
} scan_result_t;

/* a worker's own: its reader, its digest state, its buffer */
typedef struct {
    hdb_reader_t   *rd;
    hdb_digest_t   *digest;
    unsigned char  *buf;
    size_t          bufsize;
} scan_worker_t;

/*
 * Hashes the regular file at path (as walked: *st) and looks up its
 * digests and, if it is an image, the PDQ hash of each frame; fills *r.
 */
void scan_file(scan_worker_t *w, const scan_opts_t *o, const char *path,
    const struct stat *st, scan_result_t *r);

/* the report: one writer, called under the caller's lock */
typedef struct scan_report_s  scan_report_t;

scan_report_t *scan_report_new(FILE *out, const scan_opts_t *o);
/*
 * A file with more than one link, as walked: 0 the first time its inode
 * is seen (hash it), 1 after (its path is added, not hashed); -1: ENOMEM
 */
int scan_report_link(scan_report_t *rp, const char *path,
    const struct stat *st);
/* a result; files with more than one link are held until the end */
int scan_report_add(scan_report_t *rp, const scan_result_t *r);
/* the held hard links, each inode once with all its paths */
int scan_report_finish(scan_report_t *rp);
void scan_report_free(scan_report_t *rp);

#endif /* SCAN_H */
