/*
 * The inspection of one body: what of it an application could extract,
 * as a set of objects to hash.
 *
 * It takes the body's bytes in pieces, as they arrive, and the values of
 * its Content-Type and Content-Encoding headers, and hands every object
 * an application parser could make of those bytes to a sink, as a
 * stream: open, write, write, ..., close.  The sink hashes and judges
 * them (in the module: digests, JPEGs for PDQ, the lookup, the verdict).
 *
 *   body --[Content-Encoding: gzip, deflate]--> content
 *   raw or JSON or urlencoded body  -> object "body" (and the decoded one)
 *   multipart content -> parts, preamble, epilogue -> objects "1", "2"
 *        a part's Content-Transfer-Encoding base64, quoted-printable
 *                                   -> the decoded object as well
 *        a part that is multipart itself -> its parts "2.1", "2.2"
 *   urlencoded content -> every key and value of at least field_min
 *                         bytes, percent-decoded -> objects "form.N"
 *   JSON content (a JSON type, or any other body that opens with "{" or
 *   "[") -> every string that is base64 or a base64 data: URI and
 *                   decodes to at least field_min bytes -> "json.N"
 *
 * Several objects can be open at once (a part and its decoded view); the
 * sink keeps one state per object.  Framing that application parsers
 * would read differently is an error (UF_IN_EMALFORMED), never a guess.
 * Memory is bounded: the parsers' header blocks, the decoders' windows,
 * and the nesting depth.  Plain C, no nginx types.
 */

#ifndef UF_INSPECT_H
#define UF_INSPECT_H

#include <stddef.h>
#include <stdint.h>

#define UF_IN_OK           0
#define UF_IN_EMALFORMED  (-100)
#define UF_IN_ETOOMANY    (-101)    /* more parts than max_parts */
#define UF_IN_ETOOLARGE   (-102)    /* decodes to more than allowed */
#define UF_IN_ENOMEM      (-103)

/* what an object is, for the sink's log line; valid during open() */
typedef struct {
    const char           *where;    /* "body", "2", "2.1", "preamble",
                                       "form.3", "json.1" */
    const char           *decoded;  /* NULL, or how: "gzip", "base64" */
    const unsigned char  *name;     /* the part's or the form field's */
    size_t                name_len;
    const unsigned char  *filename; /* NULL: none */
    size_t                filename_len;
    size_t                size_hint;    /* 0: unknown */
} uf_obj_info_t;

/*
 * open() returns the sink's state of a new object, NULL on failure
 * (UF_IN_ENOMEM); write() and close() return 0, or a code (positive, or
 * a UF_IN_E* one) that stops the inspection and is returned by
 * uf_inspect_feed() or uf_inspect_finish().  close() judges the object
 * and releases it; discard() releases it unjudged (on an error, or when
 * the object turned out not to be one, like a JSON string that was not
 * base64 after all).
 */
typedef struct {
    void  *(*open)(void *data, const uf_obj_info_t *info);
    int    (*write)(void *data, void *obj, const unsigned char *p,
                    size_t len);
    int    (*close)(void *data, void *obj, int truncated);
    void   (*discard)(void *data, void *obj);
} uf_sink_t;

typedef struct {
    size_t     header_max;      /* one part's header block */
    unsigned   max_parts;       /* 0: no limit */
    unsigned   max_depth;       /* multipart nested in parts */
    size_t     field_min;       /* shortest field or string inspected */
    uint64_t   inflate_max;     /* Content-Encoding: decoded bytes */
    unsigned   inflate_ratio;
} uf_inspect_conf_t;

typedef struct uf_inspect_s  uf_inspect_t;

/*
 * Sets up the inspection of a body of the given Content-Type and
 * Content-Encoding (either NULL when absent).  Returns UF_IN_OK, or
 * UF_IN_EMALFORMED for headers that cannot be read unambiguously (then
 * *pin is still set, for uf_inspect_why() and uf_inspect_free()).
 */
int uf_inspect_new(uf_inspect_t **pin, const uf_inspect_conf_t *conf,
    const uf_sink_t *sink, void *data, const unsigned char *type,
    size_t type_len, const unsigned char *encoding, size_t encoding_len,
    size_t size_hint);

int uf_inspect_feed(uf_inspect_t *in, const unsigned char *p, size_t len);

/* the end of the body: closes (judges) every object still open */
int uf_inspect_finish(uf_inspect_t *in);

/* discards whatever is still open; in may be NULL */
void uf_inspect_free(uf_inspect_t *in);

/* why the last UF_IN_E* error, for the log */
const char *uf_inspect_why(uf_inspect_t *in);

#endif /* UF_INSPECT_H */
