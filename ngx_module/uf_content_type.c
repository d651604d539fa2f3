/*
 * Content-Type values (RFC 9110 media types, RFC 2046 boundaries); see
 * uf_content_type.h.
 */

#include <string.h>

#include "uf_chars.h"
#include "uf_content_type.h"
#include "uf_multipart.h"

/* RFC 2046 bchars (space only inside, and only quoted) */
static int
uf_ct_bchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9')
           || (c && strchr("'()+_,-./:=? ", c) != NULL);
}

/* case-insensitive search of s in p[0 .. len) */
static int
uf_ct_contains(const unsigned char *p, size_t len, const char *s)
{
    size_t  i, j, n;

    n = strlen(s);

    for (i = 0; i + n <= len; i++) {
        for (j = 0; j < n && uf_lower(p[i + j]) == s[j]; j++) {
            /* void */
        }

        if (j == n) {
            return 1;
        }
    }

    return 0;
}

static const unsigned char *
uf_ct_ows(const unsigned char *p, const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    return p;
}

static const unsigned char *
uf_ct_token(const unsigned char *p, const unsigned char *end)
{
    while (p < end && uf_tchar(*p)) {
        p++;
    }

    return p;
}

static int
uf_ct_malformed(uf_ctype_t *ct, const char *why)
{
    ct->why = why;
    return UF_CT_MALFORMED;
}

int
uf_content_type(const unsigned char *v, size_t len, uf_ctype_t *ct)
{
    int                   multipart, urlencoded, nboundary;
    size_t                n;
    const unsigned char  *p, *end, *type, *sub, *subend, *name, *nend;
    const unsigned char  *val, *vend;

    memset(ct, 0, sizeof(uf_ctype_t));

    p = v;
    end = v + len;

    multipart = uf_ct_contains(v, len, "multipart");
    urlencoded = uf_ct_contains(v, len, "x-www-form-urlencoded");

    /* type "/" subtype */
    p = uf_ct_ows(p, end);
    type = p;
    p = uf_ct_token(p, end);

    if (p == type || p == end || *p != '/') {
        goto unparsed;
    }

    sub = ++p;
    p = uf_ct_token(p, end);
    subend = p;

    if (p == sub) {
        goto unparsed;
    }

    if (multipart && !uf_iequal(type, (size_t) (sub - 1 - type),
                                   "multipart"))
    {
        return uf_ct_malformed(ct, "\"multipart\" outside a multipart type");
    }

    if (urlencoded
        && !(uf_iequal(type, (size_t) (sub - 1 - type), "application")
             && uf_iequal(sub, (size_t) (subend - sub),
                             "x-www-form-urlencoded")))
    {
        return uf_ct_malformed(ct, "\"x-www-form-urlencoded\" outside "
                                   "its type");
    }

    nboundary = 0;

    /* *( OWS ";" OWS name "=" ( token / quoted-string ) ) OWS */
    for ( ;; ) {
        p = uf_ct_ows(p, end);

        if (p == end) {
            break;
        }

        if (*p != ';') {
            goto unparsed;
        }

        p = uf_ct_ows(p + 1, end);
        name = p;
        p = uf_ct_token(p, end);
        nend = p;

        if (p == name || p == end || *p != '=') {
            goto unparsed;
        }

        p++;

        if (p < end && *p == '"') {
            val = ++p;

            while (p < end && *p != '"') {
                if (*p == '\\') {
                    if (multipart) {
                        /* parsers keep or drop the backslash */
                        return uf_ct_malformed(ct, "quoted pair in a "
                                                   "multipart Content-Type");
                    }

                    p++;
                }

                if (p < end) {
                    p++;
                }
            }

            if (p == end) {
                goto unparsed;
            }

            vend = p++;

        } else {
            val = p;
            p = uf_ct_token(p, end);
            vend = p;

            if (val == vend) {
                goto unparsed;
            }
        }

        if (!multipart) {
            continue;
        }

        n = (size_t) (nend - name);

        if (uf_iequal(name, n, "boundary")) {
            nboundary++;
            ct->boundary = val;
            ct->boundary_len = (size_t) (vend - val);
            continue;
        }

        if (uf_ct_contains(name, n, "boundary")
            || uf_ct_contains(val, (size_t) (vend - val), "boundary"))
        {
            return uf_ct_malformed(ct, "a second boundary parameter");
        }
    }

    if (multipart) {
        if (nboundary != 1) {
            return uf_ct_malformed(ct, nboundary ? "two boundary parameters"
                                                 : "multipart without "
                                                   "a boundary");
        }

        if (ct->boundary_len == 0 || ct->boundary_len > UF_MP_BOUNDARY_MAX) {
            return uf_ct_malformed(ct, "multipart boundary too long");
        }

        for (n = 0; n < ct->boundary_len; n++) {
            if (!uf_ct_bchar(ct->boundary[n])) {
                return uf_ct_malformed(ct, "multipart boundary with a "
                                           "character RFC 2046 forbids");
            }
        }

        if (ct->boundary[ct->boundary_len - 1] == ' ') {
            return uf_ct_malformed(ct, "multipart boundary ending in "
                                       "a space");
        }

        return UF_CT_MULTIPART;
    }

    if (urlencoded) {
        return UF_CT_URLENCODED;
    }

    if (uf_iequal(sub, (size_t) (subend - sub), "json")
        || ((size_t) (subend - sub) > 5
            && uf_iequal(subend - 5, 5, "+json")))
    {
        return UF_CT_JSON;
    }

    return UF_CT_RAW;

unparsed:

    if (multipart) {
        return uf_ct_malformed(ct, "multipart Content-Type that does "
                                   "not parse");
    }

    if (urlencoded) {
        return uf_ct_malformed(ct, "urlencoded Content-Type that does "
                                   "not parse");
    }

    /* some other type the application cannot take for a form either */
    return UF_CT_RAW;
}
