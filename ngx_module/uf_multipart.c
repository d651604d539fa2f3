/*
 * A strict, incremental multipart parser; see uf_multipart.h.
 *
 * The scan for delimiters looks for every occurrence of the dash-boundary
 * ("--" boundary), not only for CRLF "--" boundary: an occurrence that is
 * not preceded by CRLF is an error, not data.  It runs Knuth-Morris-Pratt
 * over the dash-boundary (boundaries start with dashes, so a failed
 * partial match must fall back, not restart) and holds back the bytes
 * that may still turn out to be a delimiter: the CR or CR LF before a
 * candidate and the candidate itself.  Those held bytes need no copy
 * when the candidate runs on into the next piece of the body, because
 * they are by definition "\r\n" and dash[0 .. kmp).  Everything else is
 * passed to the body callback straight from the caller's buffer.  Where
 * nothing is held, memmem() jumps to the next occurrence (glibc's search
 * runs at many GB/s) and the byte loop only looks at the few bytes around
 * it.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE         /* memmem() */
#endif

#include <stdlib.h>
#include <string.h>

#include "uf_chars.h"
#include "uf_multipart.h"

enum {
    UF_MP_S_PREAMBLE = 0,   /* before the first delimiter */
    UF_MP_S_AFTER_DELIM,    /* CRLF opens a part, "--" closes the body */
    UF_MP_S_DELIM_LF,
    UF_MP_S_CLOSE_DASH,
    UF_MP_S_AFTER_CLOSE,    /* CRLF or the end of the body */
    UF_MP_S_CLOSE_LF,
    UF_MP_S_HEADERS,
    UF_MP_S_BODY,
    UF_MP_S_EPILOGUE,
    UF_MP_S_ERROR
};


/* the states that each take one fixed byte, and where it leads */
static const struct {
    unsigned char  byte;
    unsigned char  next;
} uf_mp_fixed[] = {
    [UF_MP_S_DELIM_LF]    = { '\n', UF_MP_S_HEADERS },
    [UF_MP_S_CLOSE_DASH]  = { '-', UF_MP_S_AFTER_CLOSE },
    [UF_MP_S_AFTER_CLOSE] = { '\r', UF_MP_S_CLOSE_LF },
    [UF_MP_S_CLOSE_LF]    = { '\n', UF_MP_S_EPILOGUE },
};

static int uf_mp_scan(uf_mp_t *mp, const unsigned char **pp,
    const unsigned char *end, int *found);
static int uf_mp_emit(uf_mp_t *mp, const unsigned char *p, size_t len);
static int uf_mp_drop_crlf(uf_mp_t *mp);
static int uf_mp_drop_dash(uf_mp_t *mp, size_t n);
static int uf_mp_flush(uf_mp_t *mp);
static int uf_mp_end_part(uf_mp_t *mp, int truncated);
static int uf_mp_header_byte(uf_mp_t *mp, unsigned char c, int *done);
static int uf_mp_parse_headers(uf_mp_t *mp);
static void uf_mp_parse_disposition(uf_mp_t *mp, const unsigned char *p,
    const unsigned char *end);


static size_t
uf_mp_min(size_t a, size_t b)
{
    return a < b ? a : b;
}

/*
 * The next "; name=value" parameter of a Content-Disposition value:
 * value a token or a quoted string.  Returns 0 at the end of the value.
 * Only the log uses what it finds, so it is lenient.
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
uf_mp_init(uf_mp_t *mp, const unsigned char *boundary, size_t len,
    size_t header_max, const uf_mp_callbacks_t *cb, void *data)
{
    size_t  k, f;

    memset(mp, 0, sizeof(uf_mp_t));

    if (len == 0 || len > UF_MP_BOUNDARY_MAX) {
        return UF_MP_EDELIMITER;
    }

    mp->cb = cb;
    mp->data = data;
    mp->state = UF_MP_S_PREAMBLE;
    mp->hdr_max = header_max ? header_max : UF_MP_HEADER_MAX;

    mp->dash[0] = '-';
    mp->dash[1] = '-';
    memcpy(mp->dash + 2, boundary, len);
    mp->dash_len = 2 + len;

    /* fail[k]: the longest proper border of dash[0 .. k) */
    mp->fail[0] = 0;
    mp->fail[1] = 0;
    f = 0;

    for (k = 1; k < mp->dash_len; k++) {
        while (f > 0 && mp->dash[k] != mp->dash[f]) {
            f = mp->fail[f];
        }

        if (mp->dash[k] == mp->dash[f]) {
            f++;
        }

        mp->fail[k + 1] = (unsigned short) f;
    }

    /*
     * The first delimiter may open the body without a CRLF before it:
     * start as if one had been seen, one that is never data.
     */
    mp->crlf = 2;
    mp->virt = 1;
    mp->ext = 2;

    return UF_MP_OK;
}


void
uf_mp_free(uf_mp_t *mp)
{
    /* the parser can no longer take a header; a second free is harmless */
    free(mp->hdr);
    mp->hdr = NULL;
    mp->hdr_len = mp->hdr_cap = 0;
}


int
uf_mp_feed(uf_mp_t *mp, const unsigned char *p, size_t len)
{
    int                   rc, found, done;
    unsigned char         c;
    const unsigned char  *end;

    end = p + len;

    while (p < end) {

        switch (mp->state) {

        case UF_MP_S_PREAMBLE:
        case UF_MP_S_BODY:
        case UF_MP_S_EPILOGUE:
            rc = uf_mp_scan(mp, &p, end, &found);
            if (rc != 0) {
                goto failed;
            }

            if (!found) {
                break;
            }

            if (mp->open) {
                rc = uf_mp_end_part(mp, 0);
                if (rc != 0) {
                    goto failed;
                }
            }

            mp->state = UF_MP_S_AFTER_DELIM;
            break;

        case UF_MP_S_AFTER_DELIM:
            c = *p++;

            if (c == '\r') {
                mp->state = UF_MP_S_DELIM_LF;
                break;
            }

            if (c != '-') {
                rc = UF_MP_EDELIMITER;
                goto failed;
            }

            if (mp->parts == 0) {
                /* "--B--" first: the parts hide in the preamble */
                rc = UF_MP_ENOPARTS;
                goto failed;
            }

            mp->state = UF_MP_S_CLOSE_DASH;
            break;

        case UF_MP_S_DELIM_LF:
        case UF_MP_S_CLOSE_DASH:
        case UF_MP_S_AFTER_CLOSE:
        case UF_MP_S_CLOSE_LF:
            /* the fixed rest of a delimiter: LF, or "-" CR LF */
            if (*p++ != uf_mp_fixed[mp->state].byte) {
                rc = UF_MP_EDELIMITER;
                goto failed;
            }

            mp->state = uf_mp_fixed[mp->state].next;

            if (mp->state == UF_MP_S_HEADERS) {
                mp->hdr_len = 0;
                mp->parts++;
            }

            break;

        case UF_MP_S_HEADERS:
            rc = uf_mp_header_byte(mp, *p++, &done);
            if (rc != 0) {
                goto failed;
            }

            if (!done) {
                break;
            }

            rc = uf_mp_parse_headers(mp);
            if (rc != 0) {
                goto failed;
            }

            mp->part.kind = UF_MP_PART;
            mp->part.index = mp->parts;
            mp->open = 1;

            if (mp->cb->begin) {
                rc = mp->cb->begin(mp->data, &mp->part);
                if (rc != 0) {
                    goto failed;
                }
            }

            mp->state = UF_MP_S_BODY;
            break;

        default: /* UF_MP_S_ERROR */
            return UF_MP_EDELIMITER;
        }
    }

    return UF_MP_OK;

failed:

    mp->state = UF_MP_S_ERROR;
    return rc;
}


/*
 * Scans part data (or the preamble, or the epilogue) for the next
 * dash-boundary.  *found is set when it is a delimiter; in the epilogue,
 * and anywhere it is not preceded by CRLF, it is an error.
 */
static int
uf_mp_scan(uf_mp_t *mp, const unsigned char **pp, const unsigned char *end,
    int *found)
{
    int                   rc, skipped;
    size_t                held, f;
    unsigned char         c;
    const unsigned char  *p, *q, *start;

    *found = 0;
    skipped = 0;

    p = *pp;
    start = p;

    while (p < end) {

        if (mp->kmp == 0 && mp->crlf == 0 && !skipped) {
            /*
             * Nothing held: no occurrence of the dash-boundary starts
             * before the first one memmem() finds, so the bytes up to
             * the CR LF that may precede it are data.  With none in the
             * piece, only its last bytes may begin one that runs on into
             * the next.  Either way the byte loop below takes over from
             * there, fresh.
             */
            q = memmem(p, (size_t) (end - p), mp->dash, mp->dash_len);

            if (q == NULL) {
                q = end - uf_mp_min((size_t) (end - p), mp->dash_len + 1);

            } else {
                q -= uf_mp_min((size_t) (q - p), 2);
            }

            p = q;
            skipped = 1;

            if (p == end) {
                break;
            }
        }

        c = *p;

        if (mp->kmp == 0) {
            if (c == '-') {
                if (mp->crlf == 1) {
                    rc = uf_mp_drop_crlf(mp);
                    if (rc != 0) {
                        return rc;
                    }
                }

                mp->kmp = 1;

            } else if (c == '\n' && mp->crlf == 1) {
                mp->crlf = 2;

            } else {
                rc = uf_mp_drop_crlf(mp);
                if (rc != 0) {
                    return rc;
                }

                if (c == '\r') {
                    mp->crlf = 1;
                }
            }

            p++;
            continue;
        }

        if (c == mp->dash[mp->kmp]) {
            mp->kmp++;
            p++;

            if (mp->kmp < mp->dash_len) {
                continue;
            }

            /* the data ends before the dash-boundary and its CR LF */
            held = mp->crlf + mp->kmp - mp->ext;
            rc = uf_mp_emit(mp, start, (size_t) (p - held - start));

            if (rc == 0
                && (mp->crlf != 2 || mp->state == UF_MP_S_EPILOGUE))
            {
                /* Django takes it for a delimiter, PHP after a lone LF */
                rc = UF_MP_EBOUNDARY;
            }

            mp->kmp = 0;
            mp->crlf = 0;
            mp->virt = 0;
            mp->ext = 0;

            *pp = p;
            *found = 1;
            return rc;
        }

        /* not a delimiter after all: fall back, then look at c again */
        rc = uf_mp_drop_crlf(mp);
        if (rc != 0) {
            return rc;
        }

        f = mp->fail[mp->kmp];
        rc = uf_mp_drop_dash(mp, mp->kmp - f);
        if (rc != 0) {
            return rc;
        }
    }

    /* the end of the piece: what is not held back is data */
    held = mp->crlf + mp->kmp - mp->ext;
    rc = uf_mp_emit(mp, start, (size_t) (p - held - start));

    mp->ext = mp->crlf + mp->kmp;
    *pp = end;

    return rc;
}


/* data for the current part, which the preamble and epilogue open lazily */
static int
uf_mp_emit(uf_mp_t *mp, const unsigned char *p, size_t len)
{
    int  rc;

    if (len == 0) {
        return 0;
    }

    if (!mp->open) {
        memset(&mp->part, 0, sizeof(uf_mp_part_t));
        mp->part.kind = mp->state == UF_MP_S_PREAMBLE ? UF_MP_PREAMBLE
                                                      : UF_MP_EPILOGUE;
        mp->open = 1;

        if (mp->cb->begin) {
            rc = mp->cb->begin(mp->data, &mp->part);
            if (rc != 0) {
                return rc;
            }
        }
    }

    return mp->cb->body ? mp->cb->body(mp->data, p, len) : 0;
}


/*
 * The held CR or CR LF turned out to be data.  Held bytes from earlier
 * pieces are emitted from constants; those of this piece stay in the
 * caller's range.
 */
static int
uf_mp_drop_crlf(uf_mp_t *mp)
{
    size_t  n;

    n = mp->ext < mp->crlf ? mp->ext : mp->crlf;
    mp->ext -= n;
    mp->crlf = 0;

    if (mp->virt) {
        /* the start of the body is no data */
        mp->virt = 0;
        return 0;
    }

    return uf_mp_emit(mp, (const unsigned char *) "\r\n", n);
}


/* the first n bytes of a partial match turned out to be data */
static int
uf_mp_drop_dash(uf_mp_t *mp, size_t n)
{
    size_t  m;

    m = mp->ext < n ? mp->ext : n;
    mp->ext -= m;
    mp->kmp -= n;

    /* what is left, dash[n .. kmp + n), is dash[0 .. kmp) by the border */
    return uf_mp_emit(mp, mp->dash, m);
}


/* the body ended: whatever is held is data */
static int
uf_mp_flush(uf_mp_t *mp)
{
    int  rc;

    mp->ext = mp->crlf + mp->kmp;

    rc = uf_mp_drop_crlf(mp);
    if (rc != 0) {
        return rc;
    }

    return uf_mp_drop_dash(mp, mp->kmp);
}


static int
uf_mp_end_part(uf_mp_t *mp, int truncated)
{
    mp->open = 0;

    return mp->cb->end ? mp->cb->end(mp->data, &mp->part, truncated) : 0;
}


static int
uf_mp_header_byte(uf_mp_t *mp, unsigned char c, int *done)
{
    size_t          cap;
    unsigned char  *h;

    *done = 0;

    if (mp->hdr_len == mp->hdr_max) {
        return UF_MP_EHEADER_SIZE;
    }

    if (mp->hdr_len == mp->hdr_cap) {
        cap = mp->hdr_cap ? 2 * mp->hdr_cap : 512;
        if (cap > mp->hdr_max) {
            cap = mp->hdr_max;
        }

        h = realloc(mp->hdr, cap);
        if (h == NULL) {
            return UF_MP_ENOMEM;
        }

        mp->hdr = h;
        mp->hdr_cap = cap;
    }

    h = mp->hdr;
    h[mp->hdr_len++] = c;

    if (c != '\n') {
        /* a CR is only ever the first half of CRLF */
        if (mp->hdr_len >= 2 && h[mp->hdr_len - 2] == '\r') {
            return UF_MP_EHEADER;
        }

        return 0;
    }

    if (mp->hdr_len < 2 || h[mp->hdr_len - 2] != '\r') {
        /* a lone LF ends a line for PHP, Go, werkzeug, but not here */
        return UF_MP_EHEADER;
    }

    /* an empty line ends the block: CRLF alone, or CRLF CRLF */
    if (mp->hdr_len == 2
        || (mp->hdr_len >= 4 && h[mp->hdr_len - 3] == '\n'))
    {
        *done = 1;
    }

    return 0;
}


/* the token characters of RFC 9110 */
static int
uf_mp_parse_headers(uf_mp_t *mp)
{
    const unsigned char  *p, *end, *eol, *colon, *v, *vend;

    memset(&mp->part, 0, sizeof(uf_mp_part_t));

    p = mp->hdr;
    end = mp->hdr + mp->hdr_len - 2;    /* the closing empty line */

    while (p < end) {
        /* lines end in CRLF: uf_mp_header_byte() made sure */
        eol = memchr(p, '\r', (size_t) (end - p));

        if (*p == ' ' || *p == '\t') {
            /* folded lines: some parsers join them, some do not */
            return UF_MP_EHEADER;
        }

        for (colon = p; colon < eol && uf_tchar(*colon); colon++) {
            /* void */
        }

        if (colon == p || colon == eol || *colon != ':') {
            return UF_MP_EHEADER;
        }

        v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t')) {
            v++;
        }

        vend = eol;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t')) {
            vend--;
        }

        if (uf_iequal(p, (size_t) (colon - p), "content-disposition")) {
            if (mp->part.name || mp->part.filename || mp->part.index) {
                return UF_MP_EHEADER;
            }

            /* index marks "seen" until the part is numbered */
            mp->part.index = 1;
            uf_mp_parse_disposition(mp, v, vend);

        } else if (uf_iequal(p, (size_t) (colon - p), "content-type")) {
            if (mp->part.type) {
                return UF_MP_EHEADER;
            }

            mp->part.type = v;
            mp->part.type_len = (size_t) (vend - v);

        } else if (uf_iequal(p, (size_t) (colon - p),
                                "content-transfer-encoding"))
        {
            if (mp->part.encoding) {
                return UF_MP_EHEADER;
            }

            mp->part.encoding = v;
            mp->part.encoding_len = (size_t) (vend - v);
        }

        p = eol + 2;
    }

    return 0;
}


/* form-data; name="field"; filename="a.jpg" */
static void
uf_mp_parse_disposition(uf_mp_t *mp, const unsigned char *p,
    const unsigned char *end)
{
    size_t                name_len;
    const unsigned char  *name, *v, *vend;

    while (uf_mp_next_param(&p, end, &name, &name_len, &v, &vend)) {

        if (uf_iequal(name, name_len, "name")) {
            mp->part.name = v;
            mp->part.name_len = (size_t) (vend - v);

        } else if (uf_iequal(name, name_len, "filename")
                   || (uf_iequal(name, name_len, "filename*")
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

    case UF_MP_S_AFTER_CLOSE:
        mp->state = UF_MP_S_ERROR;
        return UF_MP_OK;

    case UF_MP_S_EPILOGUE:
        rc = uf_mp_flush(mp);
        if (rc == 0 && mp->open) {
            rc = uf_mp_end_part(mp, 0);
        }

        mp->state = UF_MP_S_ERROR;
        return rc;

    case UF_MP_S_PREAMBLE:
    case UF_MP_S_BODY:
        /*
         * The body ended inside a part (or before any delimiter).  What
         * arrived of it is still reported, so that the caller can judge
         * it: a missing closing delimiter must not hide a listed file.
         */
        rc = uf_mp_flush(mp);
        if (rc == 0 && mp->open) {
            rc = uf_mp_end_part(mp, 1);
        }

        if (rc == 0) {
            rc = mp->state == UF_MP_S_PREAMBLE ? UF_MP_ENOPARTS
                                               : UF_MP_ETRUNCATED;
        }

        mp->state = UF_MP_S_ERROR;
        return rc;

    case UF_MP_S_ERROR:
        return UF_MP_EDELIMITER;

    default:
        mp->state = UF_MP_S_ERROR;
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
        return "malformed multipart part headers";
    case UF_MP_EHEADER_SIZE:
        return "multipart part headers too large";
    case UF_MP_ETRUNCATED:
        return "multipart body without closing delimiter";
    case UF_MP_ENOPARTS:
        return "multipart body without parts";
    case UF_MP_EBOUNDARY:
        return "multipart boundary outside a delimiter";
    case UF_MP_ENOMEM:
        return "out of memory";
    default:
        return "multipart callback error";
    }
}
