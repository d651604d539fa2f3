/*
 * An incremental multipart parser; see uf_multipart.h.
 *
 * The delimiter is CRLF "--" boundary.  The scanner keeps only a count of
 * delimiter bytes matched so far: a match that straddles two pieces of
 * the body needs no copy of the first piece, because the bytes held are
 * by definition delim[0 .. matched).  The boundary may not contain CR
 * (RFC 2046 allows only a few printable characters), so a failed partial
 * match can restart at the current byte without any KMP-style fallback.
 */

#include <string.h>

#include "uf_multipart.h"

enum {
    UF_MP_PREAMBLE = 0,     /* before the first delimiter */
    UF_MP_AFTER_DELIM,      /* "--" closes, LWSP* CRLF opens a part */
    UF_MP_LWSP,
    UF_MP_CLOSE_DASH,
    UF_MP_DELIM_LF,
    UF_MP_HEADERS,
    UF_MP_BODY,
    UF_MP_EPILOGUE,
    UF_MP_ERROR
};

static int uf_mp_scan(uf_mp_t *mp, const unsigned char **pp,
    const unsigned char *end, int emit, int *found);
static int uf_mp_header_byte(uf_mp_t *mp, unsigned char c, int *done);
static void uf_mp_parse_headers(uf_mp_t *mp);
static void uf_mp_parse_disposition(uf_mp_t *mp, const unsigned char *p,
    const unsigned char *end);

static int
uf_mp_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c | 0x20 : c;
}

static int
uf_mp_prefix(const unsigned char *p, const unsigned char *end, const char *s)
{
    size_t  n = strlen(s);

    if ((size_t) (end - p) < n) {
        return 0;
    }

    for (size_t i = 0; i < n; i++) {
        if (uf_mp_lower(p[i]) != s[i]) {
            return 0;
        }
    }

    return 1;
}

/*
 * The next "; name=value" parameter of a header value (RFC 2045): value
 * a token or a quoted string, whose backslash escapes are kept as they
 * are.  Returns 0 at the end of the value.
 */
static int
uf_mp_next_param(const unsigned char **pp, const unsigned char *end,
    const unsigned char **name, size_t *name_len, const unsigned char **v,
    const unsigned char **vend)
{
    const unsigned char  *p = *pp;

    for ( ;; ) {
        /* to the next ';', over quoted strings */
        while (p < end && *p != ';') {
            if (*p++ == '"') {
                while (p < end && *p != '"') {
                    p += (*p == '\\' && p + 1 < end) ? 2 : 1;
                }
                p += p < end;
            }
        }

        if (p == end) {
            *pp = p;
            return 0;
        }

        p++;

        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }

        *name = p;
        while (p < end && *p != '=' && *p != ';' && *p != ' ' && *p != '\t')
        {
            p++;
        }
        *name_len = (size_t) (p - *name);

        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (p < end && *p == '=') {
            break;
        }
    }

    p++;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if (p < end && *p == '"') {
        *v = ++p;

        while (p < end && *p != '"') {
            p += (*p == '\\' && p + 1 < end) ? 2 : 1;
        }

        *vend = p < end ? p : end;
        p += p < end;

    } else {
        *v = p;
        while (p < end && *p != ';' && *p != ' ' && *p != '\t') {
            p++;
        }
        *vend = p;
    }

    *pp = p;
    return 1;
}

int
uf_mp_boundary(const unsigned char *ct, size_t len,
    const unsigned char **boundary, size_t *boundary_len)
{
    const unsigned char  *p, *end, *name, *v, *vend;
    size_t                name_len;

    p = ct;
    end = ct + len;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if (!uf_mp_prefix(p, end, "multipart/")) {
        return 0;
    }

    while (uf_mp_next_param(&p, end, &name, &name_len, &v, &vend)) {
        if (name_len == 8 && uf_mp_prefix(name, name + 8, "boundary")) {
            if (vend == v || (size_t) (vend - v) > UF_MP_BOUNDARY_MAX
                || memchr(v, '\r', (size_t) (vend - v))
                || memchr(v, '\n', (size_t) (vend - v)))
            {
                return UF_MP_EDELIMITER;
            }

            *boundary = v;
            *boundary_len = (size_t) (vend - v);
            return 1;
        }
    }

    return UF_MP_EDELIMITER;
}


void
uf_mp_init(uf_mp_t *mp, const unsigned char *boundary, size_t len,
    const uf_mp_callbacks_t *cb, void *data)
{
    mp->cb = cb;
    mp->data = data;
    mp->state = UF_MP_PREAMBLE;

    memcpy(mp->delim, "\r\n--", 4);
    memcpy(mp->delim + 4, boundary, len);
    mp->delim_len = 4 + len;

    /*
     * The first delimiter may open the body without a CRLF before it:
     * start as if that CRLF had been seen.
     */
    mp->matched = 2;

    memset(&mp->part, 0, sizeof(mp->part));
    mp->hdr_len = 0;
}

int
uf_mp_feed(uf_mp_t *mp, const unsigned char *p, size_t len)
{
    int                   rc, found, done;
    const unsigned char  *end;

    end = p + len;

    while (p < end) {

        switch (mp->state) {

        case UF_MP_PREAMBLE:
        case UF_MP_BODY:
            rc = uf_mp_scan(mp, &p, end, mp->state == UF_MP_BODY, &found);
            if (rc != 0) {
                goto failed;
            }

            if (!found) {
                break;
            }

            if (mp->state == UF_MP_BODY && mp->cb->end) {
                rc = mp->cb->end(mp->data, &mp->part, 0);
                if (rc != 0) {
                    goto failed;
                }
            }

            mp->state = UF_MP_AFTER_DELIM;
            break;

        case UF_MP_AFTER_DELIM:
            if (*p == '-') {
                mp->state = UF_MP_CLOSE_DASH;
                p++;
                break;
            }

            mp->state = UF_MP_LWSP;
            /* fall through */

        case UF_MP_LWSP:
            if (*p == ' ' || *p == '\t') {
                p++;
                break;
            }

            if (*p == '\r') {
                mp->state = UF_MP_DELIM_LF;
                p++;
                break;
            }

            rc = UF_MP_EDELIMITER;
            goto failed;

        case UF_MP_CLOSE_DASH:
            if (*p != '-') {
                rc = UF_MP_EDELIMITER;
                goto failed;
            }

            mp->state = UF_MP_EPILOGUE;
            p++;
            break;

        case UF_MP_DELIM_LF:
            if (*p != '\n') {
                rc = UF_MP_EDELIMITER;
                goto failed;
            }

            p++;
            mp->hdr_len = 0;
            mp->part.index++;
            mp->state = UF_MP_HEADERS;
            break;

        case UF_MP_HEADERS:
            rc = uf_mp_header_byte(mp, *p++, &done);
            if (rc != 0) {
                goto failed;
            }

            if (!done) {
                break;
            }

            uf_mp_parse_headers(mp);

            if (mp->cb->begin) {
                rc = mp->cb->begin(mp->data, &mp->part);
                if (rc != 0) {
                    goto failed;
                }
            }

            mp->matched = 0;
            mp->state = UF_MP_BODY;
            break;

        case UF_MP_EPILOGUE:
            return UF_MP_OK;

        default: /* UF_MP_ERROR */
            return UF_MP_EDELIMITER;
        }
    }

    return UF_MP_OK;

failed:

    mp->state = UF_MP_ERROR;
    return rc;
}

/*
 * Scans for the delimiter.  Data before it is passed to the body callback
 * when emit is set (a part) and dropped otherwise (the preamble).
 */
static int
uf_mp_scan(uf_mp_t *mp, const unsigned char **pp, const unsigned char *end,
    int emit, int *found)
{
    int                   rc;
    const unsigned char  *p, *start, *cand, *q;

    *found = 0;

    p = *pp;
    start = p;
    cand = NULL;    /* where a candidate began, if in this piece */

    while (p < end) {

        if (mp->matched == 0) {
            q = memchr(p, mp->delim[0], (size_t) (end - p));
            if (q == NULL) {
                p = end;
                break;
            }

            p = q;
        }

        if (*p == mp->delim[mp->matched]) {
            if (mp->matched == 0) {
                cand = p;
            }

            mp->matched++;
            p++;

            if (mp->matched < mp->delim_len) {
                continue;
            }

            /* the whole delimiter: the data ends where it began */
            mp->matched = 0;
            *pp = p;
            *found = 1;

            if (emit && cand && cand > start && mp->cb->body) {
                return mp->cb->body(mp->data, start, (size_t) (cand - start));
            }

            return 0;
        }

        if (cand == NULL && emit && mp->cb->body) {
            /* a candidate from an earlier piece turned out to be data */
            rc = mp->cb->body(mp->data, mp->delim, mp->matched);
            if (rc != 0) {
                return rc;
            }
        }

        if (cand == NULL) {
            start = p;
        }

        mp->matched = 0;
        cand = NULL;
    }

    *pp = end;

    if (mp->matched) {
        /* a candidate runs on into the next piece: hold it back */
        end = cand ? cand : start;
    }

    if (emit && end > start && mp->cb->body) {
        return mp->cb->body(mp->data, start, (size_t) (end - start));
    }

    return 0;
}

static int
uf_mp_header_byte(uf_mp_t *mp, unsigned char c, int *done)
{
    unsigned char  *h;

    *done = 0;

    if (mp->hdr_len == UF_MP_HEADER_MAX) {
        return UF_MP_EHEADER;
    }

    h = mp->hdr;
    h[mp->hdr_len++] = c;

    if (c != '\n' || mp->hdr_len < 2 || h[mp->hdr_len - 2] != '\r') {
        return 0;
    }

    /* an empty line ends the block: CRLF alone, or CRLF CRLF */
    if (mp->hdr_len == 2
        || (mp->hdr_len >= 4 && h[mp->hdr_len - 3] == '\n'
            && h[mp->hdr_len - 4] == '\r'))
    {
        *done = 1;
    }

    return 0;
}

static void
uf_mp_parse_headers(uf_mp_t *mp)
{
    const unsigned char  *p, *end, *eol, *q;

    mp->part.name = NULL;
    mp->part.name_len = 0;
    mp->part.filename = NULL;
    mp->part.filename_len = 0;

    p = mp->hdr;
    end = mp->hdr + mp->hdr_len;

    while (p < end) {
        /* lines end in CRLF; a lone LF is part of the line */
        for (eol = p; eol + 1 < end; eol++) {
            if (eol[0] == '\r' && eol[1] == '\n') {
                break;
            }
        }

        if (eol + 1 >= end) {
            break;
        }

        if (uf_mp_prefix(p, eol, "content-disposition")) {
            q = p + sizeof("content-disposition") - 1;

            while (q < eol && (*q == ' ' || *q == '\t')) {
                q++;
            }

            if (q < eol && *q == ':') {
                uf_mp_parse_disposition(mp, q + 1, eol);
            }
        }

        p = eol + 2;
    }
}

/* form-data; name="field"; filename="a.jpg" */
static void
uf_mp_parse_disposition(uf_mp_t *mp, const unsigned char *p,
    const unsigned char *end)
{
    size_t                name_len;
    const unsigned char  *name, *v, *vend;

    while (uf_mp_next_param(&p, end, &name, &name_len, &v, &vend)) {

        if (name_len == 4 && uf_mp_prefix(name, end, "name")) {
            mp->part.name = v;
            mp->part.name_len = (size_t) (vend - v);

        } else if ((name_len == 8 && uf_mp_prefix(name, end, "filename"))
                   || (name_len == 9 && uf_mp_prefix(name, end, "filename*")
                       && mp->part.filename == NULL))
        {
            mp->part.filename = v;
            mp->part.filename_len = (size_t) (vend - v);
        }
    }
}


int
uf_mp_finish(uf_mp_t *mp)
{
    int  rc;

    switch (mp->state) {

    case UF_MP_EPILOGUE:
        return UF_MP_OK;

    case UF_MP_PREAMBLE:
        mp->state = UF_MP_ERROR;
        return UF_MP_ENOPARTS;

    case UF_MP_BODY:
        /*
         * The body ended inside a part.  What arrived of it is still
         * reported, so that the caller can judge it: a missing closing
         * delimiter must not hide a listed file.
         */
        if (mp->matched && mp->cb->body) {
            rc = mp->cb->body(mp->data, mp->delim, mp->matched);
            if (rc != 0) {
                mp->state = UF_MP_ERROR;
                return rc;
            }
        }

        mp->matched = 0;

        if (mp->cb->end) {
            rc = mp->cb->end(mp->data, &mp->part, 1);
            if (rc != 0) {
                mp->state = UF_MP_ERROR;
                return rc;
            }
        }

        mp->state = UF_MP_ERROR;
        return UF_MP_ETRUNCATED;

    case UF_MP_ERROR:
        return UF_MP_EDELIMITER;

    default:
        mp->state = UF_MP_ERROR;
        return UF_MP_ETRUNCATED;
    }
}

const char *
uf_mp_strerror(int rc)
{
    switch (rc) {
    case UF_MP_OK:
        return "ok";
    case UF_MP_EDELIMITER:
        return "malformed multipart delimiter";
    case UF_MP_EHEADER:
        return "multipart part headers too large";
    case UF_MP_ETRUNCATED:
        return "multipart body without closing delimiter";
    case UF_MP_ENOPARTS:
        return "multipart body without any delimiter";
    default:
        return "multipart callback error";
    }
}
