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

typedef struct scan_rate_s  scan_rate_t;

typedef struct {
    unsigned        types;          /* the digests the set can match */
    scan_rate_t    *rate;           /* --rate: shared by the workers */
    unsigned        distance;       /* PDQ */
    unsigned        min_quality;
    size_t          max_image;      /* bytes of an image kept to decode */
    size_t          max_video;      /* of a video */
    int             json;
    int             follow;
    int             one_fs;
    int             sampling;       /* a video's: HDB_VIDEO_* */
} scan_opts_t;

/* a video's frames (as is, with quality and time): a worker's buffer */
typedef struct {
    hdb_vpdq_frame_t  *frames;
    size_t             cap;
} scan_video_t;

/* room for n frames in *v: 0, or ENOMEM */
int scan_video_room(scan_video_t *v, size_t n);

/* the hashes of one file: what a scan computes, and what --cache keeps */
#define SCAN_FRAMES_MAX  HDB_MEDIA_FRAMES_DEFAULT

typedef struct {
    uint32_t        index;
    int32_t         quality;
    unsigned char   variants[HDB_PDQ_VARIANTS][HDB_PDQ_SIZE];
} scan_frame_t;

typedef struct {
    unsigned        types;          /* digests computed, HDB_TYPE_BIT()s */
    unsigned char   md[HDB_NDIGESTS][HDB_DIGEST_MAX];
    int             media;          /* looked at for PDQ */
    int             format;         /* hdb_media_type_t; NONE: no image */
    int             media_rc;       /* HDB_MEDIA_OK, or why no PDQ */
    unsigned        total;          /* frames in the file */
    unsigned        nframes;        /* hashed */
    scan_frame_t    frames[SCAN_FRAMES_MAX];
    unsigned        nvideo;         /* a video's frames, instead */
    const hdb_vpdq_frame_t  *video; /* in the worker's scan_video_t */
} scan_hashes_t;

/* one listed thing found in a file: a digest, or a frame's PDQ hash */
typedef struct {
    char            match[sizeof("sha256:") + HDB_HEX_MAX];
    hdb_match_t     m;
    int             pdq;
    int             frame;          /* -1: a still */
    double          time;           /* of a video's frame; -1 */
    int             vpdq;           /* a video match, by the rule: */
    unsigned        listed_matched, listed_frames, matched, frames;
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
    int             cached;         /* hashes from the cache: not read */
    int             store;          /* hashes to put into the cache */
    scan_hashes_t   hashes;
} scan_result_t;

/*
 * The digest cache (scan_cache.c, --cache FILE): an LMDB file of its own
 * keyed by device and inode, holding each file's size, mtime and ctime
 * (nanoseconds) and its hashes.  A file whose stat is unchanged is not
 * read again: its hashes are looked up in the (new) hash set.
 */
typedef struct scan_cache_s         scan_cache_t;
typedef struct scan_cache_reader_s  scan_cache_reader_t;

int scan_cache_open(scan_cache_t **c, const char *path);
void scan_cache_close(scan_cache_t *c);
int scan_cache_reader(scan_cache_t *c, scan_cache_reader_t **rd);
void scan_cache_reader_free(scan_cache_reader_t *rd);
/* 0: *h holds the file's cached hashes; HDB_NOTFOUND: none, or stale */
int scan_cache_get(scan_cache_reader_t *rd, const struct stat *st,
    scan_hashes_t *h, scan_video_t *video);
/* queued; written in batches, and by scan_cache_flush() (one thread) */
int scan_cache_put(scan_cache_t *c, const struct stat *st,
    const scan_hashes_t *h);
int scan_cache_flush(scan_cache_t *c);
/* --prune: remember each file walked; at the end, drop the others */
void scan_cache_pruning(scan_cache_t *c);
int scan_cache_seen(scan_cache_t *c, const struct stat *st);
int scan_cache_prune(scan_cache_t *c, uint64_t *pruned);
const char *scan_cache_strerror(int rc);

/* a worker's own: its readers, its digest state, its buffer */
typedef struct {
    hdb_reader_t   *rd;
    scan_cache_reader_t  *cache;    /* NULL without --cache */
    hdb_digest_t   *digest;
    unsigned char  *buf;
    size_t          bufsize;
    scan_video_t    video;
} scan_worker_t;

/*
 * Hashes the regular file at path (as walked: *st) and looks up its
 * digests and, if it is an image, the PDQ hash of each frame; fills *r.
 */
void scan_file(scan_worker_t *w, const scan_opts_t *o, const char *path,
    const struct stat *st, scan_result_t *r);

/*
 * --rate: the bytes read by all workers held to a rate (token bucket);
 * scan_rate_take() sleeps the caller until n more bytes are due.
 */
scan_rate_t *scan_rate_new(double bytes_per_second);
void scan_rate_take(scan_rate_t *r, size_t n);
void scan_rate_free(scan_rate_t *r);

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
