/*
 * An incremental multipart (RFC 2046, RFC 7578) parser.
 *
 * It takes the body in pieces of any size, as nginx hands them over, and
 * reports each part through callbacks: its headers once, its data in
 * pieces, its end.  It holds no body data: the only state besides a few
 * counters is the current part's header block (at most UF_MP_HEADER_MAX
 * bytes), so memory stays constant whatever the size of the upload.
 *
 * Plain C with no nginx types, so that the unit tests and the fuzzer can
 * drive it on its own.
 */

#ifndef UF_MULTIPART_H
#define UF_MULTIPART_H

#include <stddef.h>

#define UF_MP_BOUNDARY_MAX  200     /* RFC 2046 says 70; clients exceed it */
#define UF_MP_HEADER_MAX    8192    /* one part's header block */

/* the parser's own errors; callbacks return 0 or a positive code */
#define UF_MP_OK            0
#define UF_MP_EDELIMITER   (-1)    /* a delimiter followed by garbage */
#define UF_MP_EHEADER      (-2)    /* part headers too large or broken */
#define UF_MP_ETRUNCATED   (-3)    /* the body ended inside a part */
#define UF_MP_ENOPARTS     (-4)    /* no delimiter in the whole body */

typedef struct {
    const unsigned char  *name;         /* Content-Disposition name */
    size_t                name_len;
    const unsigned char  *filename;     /* NULL: no filename parameter */
    size_t                filename_len;
    unsigned              index;        /* 1 for the first part */
} uf_mp_part_t;

/*
 * The part passed to begin stays valid (and unchanged) until end has
 * returned; truncated is 1 when the body ended inside the part.
 */
typedef struct {
    int  (*begin)(void *data, const uf_mp_part_t *part);
    int  (*body)(void *data, const unsigned char *p, size_t len);
    int  (*end)(void *data, const uf_mp_part_t *part, int truncated);
} uf_mp_callbacks_t;

typedef struct {
    const uf_mp_callbacks_t  *cb;
    void                     *data;

    unsigned                  state;
    size_t                    matched;      /* delimiter bytes matched */
    size_t                    delim_len;
    unsigned char             delim[4 + UF_MP_BOUNDARY_MAX];

    uf_mp_part_t              part;
    size_t                    hdr_len;
    unsigned char             hdr[UF_MP_HEADER_MAX];
} uf_mp_t;

/*
 * Finds the boundary in a Content-Type value.  Returns 1 and sets
 * boundary for multipart/ types, 0 for other types, UF_MP_EDELIMITER for
 * multipart without a usable boundary parameter.
 */
int uf_mp_boundary(const unsigned char *ct, size_t len,
    const unsigned char **boundary, size_t *boundary_len);

void uf_mp_init(uf_mp_t *mp, const unsigned char *boundary, size_t len,
    const uf_mp_callbacks_t *cb, void *data);

/* returns UF_MP_OK, a parser error, or the first non-zero callback code */
int uf_mp_feed(uf_mp_t *mp, const unsigned char *p, size_t len);

/* at the end of the body: the closing delimiter must have been seen */
int uf_mp_finish(uf_mp_t *mp);

const char *uf_mp_strerror(int rc);

#endif /* UF_MULTIPART_H */
