/*
 * Character classes the body parsers and decoders share: hex digits,
 * ASCII case folding, RFC 9110 token characters.  Locale-free on
 * purpose: what a byte means must not depend on the environment.
 */

#ifndef UF_CHARS_H
#define UF_CHARS_H

#include <stddef.h>
#include <string.h>

/* the value of a hex digit of either case, or -1 */
static inline int
uf_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

static inline int
uf_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c | 0x20 : c;
}

/* p[0 .. len) equals the lower-case s, ignoring ASCII case */
static inline int
uf_iequal(const unsigned char *p, size_t len, const char *s)
{
    size_t  i;

    if (len != strlen(s)) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (uf_lower(p[i]) != s[i]) {
            return 0;
        }
    }

    return 1;
}

static inline int
uf_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9')
           || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

#endif /* UF_CHARS_H */
