/*
 * What a body is, by its Content-Type (and, for a part, by the part's
 * Content-Type): raw bytes, multipart with its boundary, an urlencoded
 * form, or JSON.
 *
 * Strict where application parsers disagree: a value that mentions
 * "multipart" or "x-www-form-urlencoded" anywhere but does not parse
 * cleanly as that type is malformed, never raw (formidable takes any
 * Content-Type containing "multipart" as multipart; werkzeug, cgi,
 * aiohttp and Go skip a leading \v or NBSP; busboy finds "boundary=" in
 * another parameter's value).  A multipart type needs exactly one
 * well-formed boundary parameter: a token, or a quoted string without
 * quoted pairs, of the characters RFC 2046 allows; no RFC 2231 forms
 * (boundary*=, boundary*0=), no other parameter whose name or value
 * holds "boundary".
 *
 * Plain C, no nginx types.
 */

#ifndef UF_CONTENT_TYPE_H
#define UF_CONTENT_TYPE_H

#include <stddef.h>

#define UF_CT_RAW           0
#define UF_CT_MULTIPART     1
#define UF_CT_URLENCODED    2
#define UF_CT_JSON          3
#define UF_CT_MALFORMED    (-1)

typedef struct {
    const unsigned char  *boundary;     /* into the value */
    size_t                boundary_len;
    const char           *why;          /* of UF_CT_MALFORMED */
} uf_ctype_t;

/* Returns a UF_CT_* kind; sets ct->boundary for UF_CT_MULTIPART. */
int uf_content_type(const unsigned char *v, size_t len, uf_ctype_t *ct);

#endif /* UF_CONTENT_TYPE_H */
