/*
 * vPDQ lists (hashdb import/sync/apply --format vpdq): videos, each a set
 * of frame hashes under the id its list gives it.
 *
 *   one video   the reference's own output, "frame,quality,hash,seconds"
 *               per line (vpdq-hash-video, "hashdb hash --format vpdq");
 *               the video's id is the file's name without its extension
 *               (or --video-id)
 *   many        a header line naming the columns video (or video_id),
 *               hash (or pdq), and optionally quality, frame, timestamp,
 *               category, op; one line per frame, each video's lines
 *               together.  A delta's op "remove" takes the video off
 *               (its line needs no hash).
 *   directory   a directory of one-video files: hashdb turns it into the
 *               "many" form (unsigned only: a signature covers one file)
 */

#ifndef LIST_VPDQ_H
#define LIST_VPDQ_H

#include <stddef.h>

#include "hashdb.h"

typedef struct {
    char             name[HDB_VIDEO_NAME_MAX + 1];
    char             category[HDB_CATEGORY_MAX + 1];
    int              remove;
    size_t           nframes;   /* those of quality enough */
    size_t           low;       /* frames under the quality floor */
    unsigned char  (*frames)[HDB_PDQ_SIZE];
} vpdq_video_t;

typedef struct {
    int            delta;
    int            min_quality;
    const char    *category;        /* --category */
    char           name[HDB_VIDEO_NAME_MAX + 1];    /* one-video lists */

    int            header;          /* the "many" form */
    int            started;
    int            col_video, col_hash, col_quality, col_category, col_op;

    vpdq_video_t   cur;             /* being gathered */
    size_t         cap;
    int            have;
    vpdq_video_t   done;            /* the last complete one */
    size_t         done_cap;

    char         **names;           /* seen, to refuse a split video */
    size_t         nnames, names_cap;
} vpdq_parser_t;

/*
 * name: the id of a one-video list (the file's base name); min_quality:
 * frames under it are counted in low, not listed.
 */
void vpdq_parser_init(vpdq_parser_t *p, int delta, int min_quality,
    const char *category, const char *name);
void vpdq_parser_free(vpdq_parser_t *p);

/*
 * One line without its newline (modified).  LIST_ROW when a video is
 * complete (the line began the next one): *out is valid until the next
 * call; LIST_SKIP; LIST_BAD with *why.
 */
int vpdq_parse_line(vpdq_parser_t *p, char *line, size_t len,
    vpdq_video_t *out, const char **why);

/* the last video: LIST_ROW, LIST_SKIP, or LIST_BAD (a split video) */
int vpdq_parse_end(vpdq_parser_t *p, vpdq_video_t *out, const char **why);

/* the id of a one-video file at path: its base name without extension */
void vpdq_name_from_path(const char *path, char *name, size_t size);

#endif /* LIST_VPDQ_H */
