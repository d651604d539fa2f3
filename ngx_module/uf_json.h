/*
 * The strings of a JSON body (RFC 8259), unescaped, in a streaming scan
 * with no tree: APIs take files as base64 or data: URIs in JSON strings,
 * and the filter must hash what they decode.  Only the string syntax is
 * followed; a body that stops being JSON ends the scan quietly (the body
 * itself is still hashed whole).  Plain C, no nginx types.
 */

#ifndef UF_JSON_H
#define UF_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int  (*begin)(void *data);                  /* a string opens */
    int  (*data)(void *data, const unsigned char *p, size_t len);
    int  (*end)(void *data, int complete);      /* 0: the scan gave up */
} uf_json_callbacks_t;

typedef struct {
    const uf_json_callbacks_t  *cb;
    void                       *data;
    unsigned                    state;
    unsigned                    digits;     /* of \uXXXX */
    uint32_t                    u;
    uint32_t                    high;       /* a high surrogate, waiting */
} uf_json_t;

void uf_json_init(uf_json_t *j, const uf_json_callbacks_t *cb, void *data);
/* return 0 or the first non-zero callback code */
int uf_json_feed(uf_json_t *j, const unsigned char *p, size_t len);
int uf_json_finish(uf_json_t *j);

#endif /* UF_JSON_H */
