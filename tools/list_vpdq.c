/*
 * vPDQ lists; see list_vpdq.h.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "list_format.h"
#include "list_vpdq.h"

#define VPDQ_COLS  16

void
vpdq_parser_init(vpdq_parser_t *p, int delta, int min_quality,
    const char *category, const char *name)
{
    memset(p, 0, sizeof(*p));
    p->delta = delta;
    p->min_quality = min_quality;
    p->category = category;
    p->col_video = p->col_hash = p->col_quality = -1;
    p->col_category = p->col_op = -1;

    if (name) {
        snprintf(p->name, sizeof(p->name), "%s", name);
    }
}

void
vpdq_parser_free(vpdq_parser_t *p)
{
    free(p->cur.frames);
    free(p->done.frames);

    for (size_t i = 0; i < p->nnames; i++) {
        free(p->names[i]);
    }

    free(p->names);
}

void
vpdq_name_from_path(const char *path, char *name, size_t size)
{
    const char  *base, *dot;
    size_t       n;

    base = strrchr(path, '/');
    base = base ? base + 1 : path;
    dot = strrchr(base, '.');
    n = dot && dot != base ? (size_t) (dot - base) : strlen(base);

    snprintf(name, size, "%.*s", (int) n, base);
}

static int
vpdq_field_is(const char *f, size_t n, const char *name)
{
    return n == strlen(name) && strncasecmp(f, name, n) == 0;
}

/* the header of the "many" form: which column is which */
static int
vpdq_header(vpdq_parser_t *p, char **f, size_t *fl, int nf, const char **why)
{
    for (int i = 0; i < nf; i++) {
        if (vpdq_field_is(f[i], fl[i], "video")
            || vpdq_field_is(f[i], fl[i], "video_id"))
        {
            p->col_video = i;

        } else if (vpdq_field_is(f[i], fl[i], "hash")
                   || vpdq_field_is(f[i], fl[i], "pdq"))
        {
            p->col_hash = i;

        } else if (vpdq_field_is(f[i], fl[i], "quality")) {
            p->col_quality = i;

        } else if (vpdq_field_is(f[i], fl[i], "category")) {
            p->col_category = i;

        } else if (vpdq_field_is(f[i], fl[i], "op")) {
            p->col_op = i;
        }
    }

    if (p->col_video < 0 || p->col_hash < 0) {
        *why = "a vpdq list with a header needs video and hash columns";
        return LIST_BAD;
    }

    if (p->col_op >= 0 && !p->delta) {
        *why = "an op column is for deltas (hashdb apply)";
        return LIST_BAD;
    }

    p->header = 1;
    return LIST_SKIP;
}

static int
vpdq_note_name(vpdq_parser_t *p, const char *name)
{
    char  **grown;

    if (p->nnames == p->names_cap) {
        p->names_cap = p->names_cap ? 2 * p->names_cap : 256;
        grown = realloc(p->names, p->names_cap * sizeof(char *));
        if (grown == NULL) {
            return -1;
        }
        p->names = grown;
    }

    p->names[p->nnames] = strdup(name);
    return p->names[p->nnames++] ? 0 : -1;
}

/* the video being gathered is complete: it becomes p->done */
static int
vpdq_finish(vpdq_parser_t *p, vpdq_video_t *out)
{
    vpdq_video_t  t;
    size_t        cap;

    if (vpdq_note_name(p, p->cur.name) != 0) {
        return LIST_BAD;
    }

    t = p->done;
    p->done = p->cur;
    cap = p->done_cap;
    p->done_cap = p->cap;

    /* the old done's buffer is reused for the next video */
    memset(&p->cur, 0, sizeof(p->cur));
    p->cur.frames = t.frames;
    p->cap = cap;
    p->have = 0;

    *out = p->done;
    return LIST_ROW;
}

int
vpdq_parse_line(vpdq_parser_t *p, char *line, size_t len, vpdq_video_t *out,
    const char **why)
{
    int                rc, nf, quality, remove, cat_col;
    char              *f[VPDQ_COLS], *end, *vname;
    size_t             fl[VPDQ_COLS], vlen, ncap;
    unsigned char      hash[HDB_PDQ_SIZE];
    unsigned char    (*grown)[HDB_PDQ_SIZE];
    const char        *hex;
    size_t             hexlen;
    char               qbuf[8];

    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ')) {
        len--;
    }

    if (len == 0 || line[0] == '#') {
        return LIST_SKIP;
    }

    nf = list_csv_split(line, len, f, fl, VPDQ_COLS);

    if (!p->started) {
        p->started = 1;

        if (!isdigit((unsigned char) f[0][0])) {
            return vpdq_header(p, f, fl, nf, why);
        }

        if (p->name[0] == '\0') {
            *why = "a one-video vpdq list needs a name: a file, not "
                   "standard input, or the many-video form with a header";
            return LIST_BAD;
        }
    }

    remove = 0;
    cat_col = -1;

    if (p->header) {
        remove = p->col_op >= 0 && p->col_op < nf
                 && vpdq_field_is(f[p->col_op], fl[p->col_op], "remove");

        if (p->col_video >= nf) {
            *why = "a line without its video column";
            return LIST_BAD;
        }

        if (p->col_op >= 0 && p->col_op < nf && fl[p->col_op]
            && !remove && !vpdq_field_is(f[p->col_op], fl[p->col_op], "add"))
        {
            *why = "op: add or remove";
            return LIST_BAD;
        }

        vname = f[p->col_video];
        vlen = fl[p->col_video];
        hex = p->col_hash < nf ? f[p->col_hash] : "";
        hexlen = p->col_hash < nf ? fl[p->col_hash] : 0;
        quality = -1;

        if (p->col_quality >= 0 && p->col_quality < nf
            && fl[p->col_quality])
        {
            snprintf(qbuf, sizeof(qbuf), "%.*s", (int) fl[p->col_quality],
                     f[p->col_quality]);
            quality = (int) strtol(qbuf, &end, 10);
            if (*end || quality < 0 || quality > 100) {
                *why = "quality: not a number from 0 to 100";
                return LIST_BAD;
            }
        }

        cat_col = p->col_category < nf ? p->col_category : -1;

    } else {
        /* the reference's frame,quality,hash,seconds */
        if (nf < 3) {
            *why = "not a vPDQ line (frame,quality,hash,seconds)";
            return LIST_BAD;
        }

        vname = p->name;
        vlen = strlen(p->name);
        hex = f[2];
        hexlen = fl[2];
        snprintf(qbuf, sizeof(qbuf), "%.*s", (int) fl[1], f[1]);
        quality = (int) strtol(qbuf, &end, 10);

        if (fl[1] == 0 || *end || quality < 0 || quality > 100) {
            *why = "quality: not a number from 0 to 100";
            return LIST_BAD;
        }
    }

    if (!hdb_valid_video_name(vname, vlen)) {
        *why = "video id: 1 to 200 bytes, no control characters";
        return LIST_BAD;
    }

    if (!remove) {
        if (hexlen != HDB_PDQ_HEX_LEN
            || hdb_hex_decode(hex, hexlen, hash) != 0)
        {
            *why = "not a PDQ hash (64 hex digits)";
            return LIST_BAD;
        }
    }

    if (remove && !p->delta) {
        *why = "a removal outside a delta";
        return LIST_BAD;
    }

    rc = LIST_SKIP;

    if (p->have && (strlen(p->cur.name) != vlen
                    || memcmp(p->cur.name, vname, vlen) != 0
                    || p->cur.remove != remove))
    {
        rc = vpdq_finish(p, out);
        if (rc == LIST_BAD) {
            *why = "out of memory";
            return rc;
        }
    }

    if (!p->have) {
        memcpy(p->cur.name, vname, vlen);
        p->cur.name[vlen] = '\0';
        p->cur.remove = remove;
        p->cur.nframes = 0;
        p->cur.low = 0;
        p->cur.category[0] = '\0';

        if (cat_col >= 0 && fl[cat_col]) {
            if (fl[cat_col] > HDB_CATEGORY_MAX) {
                *why = "category longer than 8 characters";
                return LIST_BAD;
            }
            memcpy(p->cur.category, f[cat_col], fl[cat_col]);
            p->cur.category[fl[cat_col]] = '\0';

        } else if (p->category) {
            snprintf(p->cur.category, sizeof(p->cur.category), "%s",
                     p->category);
        }

        p->have = 1;
    }

    if (remove) {
        return rc;
    }

    if (quality >= 0 && quality < p->min_quality) {
        /* flat frames hash alike: such a hash matches too much */
        p->cur.low++;
        return rc;
    }

    if (p->cur.nframes == p->cap) {
        ncap = p->cap ? 2 * p->cap : 64;
        grown = realloc(p->cur.frames, ncap * HDB_PDQ_SIZE);
        if (grown == NULL) {
            *why = "out of memory";
            return LIST_BAD;
        }
        p->cur.frames = grown;
        p->cap = ncap;
    }

    memcpy(p->cur.frames[p->cur.nframes++], hash, HDB_PDQ_SIZE);

    return rc;
}

static int
vpdq_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

int
vpdq_parse_end(vpdq_parser_t *p, vpdq_video_t *out, const char **why)
{
    static char  msg[HDB_VIDEO_NAME_MAX + 64];
    int          rc;

    rc = LIST_SKIP;

    if (p->have) {
        rc = vpdq_finish(p, out);
        if (rc == LIST_BAD) {
            *why = "out of memory";
            return rc;
        }
    }

    /* a video whose lines are apart would be listed by its last part */
    if (p->nnames > 1) {
        qsort(p->names, p->nnames, sizeof(char *), vpdq_name_cmp);
    }

    for (size_t i = 1; i < p->nnames; i++) {
        if (strcmp(p->names[i - 1], p->names[i]) == 0) {
            snprintf(msg, sizeof(msg), "the lines of video \"%s\" are not "
                     "together", p->names[i]);
            *why = msg;
            return LIST_BAD;
        }
    }

    return rc;
}
