/*
 * A strict, incremental multipart (RFC 2046, RFC 7578) parser.
 *
 * It takes the body in pieces of any size, as nginx hands them over, and
 * reports each part through callbacks: its headers once, its data in
 * pieces, its end.  The text before the first delimiter (the preamble)
 * and after the closing one (the epilogue) are reported as parts of
 * their own kinds when they hold any byte, so that the caller can hash
 * them like parts: PHP and Django go on parsing past the closing
 * delimiter, and a body whose framing starts one byte late hides all of
 * its parts in the preamble.
 *
 * Strict, because the filter must see what every application parser
 * sees: where parsers disagree, the body is refused.  So:
 *   - every occurrence of "--" boundary in the body must be a delimiter
 *     the parser recognised: preceded by CRLF (or at the very start) and
 *     followed by CRLF (a part follows) or "--" (the closing delimiter,
 *     then CRLF or the end of the body).  Django takes any occurrence as
 *     a delimiter, PHP, Go and werkzeug also take one after a lone LF;
 *     an occurrence anywhere else is UF_MP_EBOUNDARY;
 *   - no transport padding after a delimiter (PHP compares the whole
 *     line);
 *   - part header lines end in CRLF, never a lone CR or LF; no folded
 *     lines; each line has a colon; Content-Type, Content-Disposition
 *     and Content-Transfer-Encoding appear at most once;
 *   - a body whose first delimiter is the closing one has no parts.
 *
 * Memory: a few counters and the current part's header block, which
 * grows on demand up to the caller's limit.  Plain C with no nginx
 * types, so that the unit tests and the fuzzer can drive it on its own.
 */

#ifndef UF_MULTIPART_H
#define UF_MULTIPART_H

#include <stddef.h>

#define UF_MP_BOUNDARY_MAX  200     /* RFC 2046 says 70; clients exceed it */
#define UF_MP_HEADER_MAX    65536   /* default limit of one header block */

/* the parser's own errors; a callback's non-zero code is passed through */
#define UF_MP_OK            0
#define UF_MP_EDELIMITER   (-1)    /* a delimiter followed by garbage */
#define UF_MP_EHEADER      (-2)    /* part headers broken */
#define UF_MP_ETRUNCATED   (-3)    /* the body ended inside a part */
#define UF_MP_ENOPARTS     (-4)    /* no delimiter, or only a closing one */
#define UF_MP_EHEADER_SIZE (-5)    /* part headers over the limit */
#define UF_MP_EBOUNDARY    (-6)    /* the boundary where no delimiter is */
#define UF_MP_ENOMEM       (-7)

/* kinds of parts */
#define UF_MP_PART          0
#define UF_MP_PREAMBLE      1
#define UF_MP_EPILOGUE      2

typedef struct {
    const unsigned char  *name;         /* Content-Disposition name */
    size_t                name_len;
    const unsigned char  *filename;     /* NULL: no filename parameter */
    size_t                filename_len;
    const unsigned char  *type;         /* Content-Type value, or NULL */
    size_t                type_len;
    const unsigned char  *encoding;     /* Content-Transfer-Encoding */
    size_t                encoding_len;
    unsigned              index;        /* 1 for the first part */
    unsigned              kind;         /* UF_MP_PART, ... */
} uf_mp_part_t;

/*
 * The part passed to begin stays valid (and unchanged) until end has
 * returned; truncated is 1 when the body ended inside the part.  A
 * callback returns 0 to go on; anything else stops the parser, and
 * uf_mp_feed() returns it.
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
    unsigned                  parts;

    /* the scan for "--" boundary: see uf_multipart.c */
    size_t                    kmp;          /* bytes of dash matched */
    unsigned                  crlf;         /* CR, CR LF held before it */
    unsigned                  virt;         /* that CR LF is the start */
    size_t                    ext;          /* held bytes of past pieces */
    unsigned                  open;         /* begin called, no end yet */

    size_t                    dash_len;
    unsigned char             dash[2 + UF_MP_BOUNDARY_MAX];
    unsigned short            fail[3 + UF_MP_BOUNDARY_MAX];

    uf_mp_part_t              part;
    unsigned char            *hdr;          /* malloc()ed, grows */
    size_t                    hdr_len;
    size_t                    hdr_cap;
    size_t                    hdr_max;
} uf_mp_t;

/*
 * Sets up a parser for the boundary (1 to UF_MP_BOUNDARY_MAX bytes, no
 * CR or LF: uf_content_type() checks it) and a header block limit
 * (0: UF_MP_HEADER_MAX).  Returns UF_MP_OK; the parser holds no memory
 * until a part's headers arrive.  uf_mp_free() releases it.
 */
int uf_mp_init(uf_mp_t *mp, const unsigned char *boundary, size_t len,
    size_t header_max, const uf_mp_callbacks_t *cb, void *data);

/* returns UF_MP_OK, a parser error, or the first non-zero callback code */
int uf_mp_feed(uf_mp_t *mp, const unsigned char *p, size_t len);

/*
 * At the end of the body: the closing delimiter must have been seen.
 * A part the body ended in is still reported whole (end with truncated
 * set) before UF_MP_ETRUNCATED, so that what arrived can be judged.
 */
int uf_mp_finish(uf_mp_t *mp);

void uf_mp_free(uf_mp_t *mp);

const char *uf_mp_strerror(int rc);

#endif /* UF_MULTIPART_H */
