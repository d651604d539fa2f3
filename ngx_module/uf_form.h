/*
 * application/x-www-form-urlencoded bodies, split into keys and values
 * and percent-decoded as PHP's $_POST, Go's PostForm and Python's
 * parse_qsl() decode them: "+" is a space, "%XY" a byte, a "%" without
 * two hex digits stays as it is, pairs end at "&" and a key at the
 * first "=".  Streams in constant memory.  Plain C, no nginx types.
 */

#ifndef UF_FORM_H
#define UF_FORM_H

#include <stddef.h>

typedef struct {
    /* decoded bytes of the current key or value */
    int  (*data)(void *data, const unsigned char *p, size_t len);
    /* the key (value 0) or the value (value 1) ended */
    int  (*end)(void *data, unsigned value);
} uf_form_callbacks_t;

typedef struct {
    const uf_form_callbacks_t  *cb;
    void                       *data;
    unsigned                    state;
    unsigned                    value;      /* in a value, not a key */
    unsigned char               hi;
} uf_form_t;

void uf_form_init(uf_form_t *f, const uf_form_callbacks_t *cb, void *data);
/* return 0 or the first non-zero callback code */
int uf_form_feed(uf_form_t *f, const unsigned char *p, size_t len);
int uf_form_finish(uf_form_t *f);

#endif /* UF_FORM_H */
