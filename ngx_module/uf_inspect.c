/*
 * The inspection of one body; see uf_inspect.h.
 *
 * A body is a tree of streams.  A stream is a run of bytes with the
 * consumers that read it: the sink's object (its bytes hashed as they
 * are), a decoder (whose output is a stream of its own), a multipart
 * parser (each part a stream), an urlencoded form or a JSON scan.  The
 * root stream is the body; the tree is as deep as multipart nests, which
 * max_depth bounds.  Closing a stream judges its own object first, then
 * finishes its consumers, so a listed file is found even when the
 * framing after it is broken.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uf_chars.h"
#include "uf_inspect.h"
#include "uf_content_type.h"
#include "uf_decode.h"
#include "uf_form.h"
#include "uf_json.h"
#include "uf_multipart.h"

#define UF_WHERE_MAX    64
#define UF_DECODED_MAX  40
#define UF_NAME_MAX     64      /* of a form key kept for the log */
#define UF_SNIFF_MAX    256     /* of a data: URI's header */

typedef struct uf_stream_s  uf_stream_t;
typedef struct uf_dec_s     uf_dec_t;
typedef struct uf_mpnode_s  uf_mpnode_t;
typedef struct uf_fnode_s   uf_fnode_t;
typedef struct uf_jnode_s   uf_jnode_t;

struct uf_stream_s {
    uf_inspect_t   *in;
    void           *obj;
    uf_dec_t       *dec;
    uf_mpnode_t    *mp;
    uf_fnode_t     *form;
    uf_jnode_t     *json;
    unsigned        sniffing:1;     /* no JSON type: is it JSON? */
    const char     *sniff_decoded;  /* the label of what it would be */
};

enum {
    UF_D_BASE64 = 0,
    UF_D_QP,
    UF_D_INFLATE
};

struct uf_dec_s {
    unsigned        kind;
    uf_base64_t     b64;
    uf_qp_t         qp;
    uf_inflate_t   *z;
    uf_stream_t     out;
};

struct uf_mpnode_s {
    uf_mp_t         mp;
    uf_inspect_t   *in;
    unsigned        depth;
    const char     *decoded;        /* of the bytes the parser reads */
    char            prefix[UF_WHERE_MAX];
    uf_stream_t     part;
};

/* a form field or JSON string: opened once it reaches field_min bytes */
typedef struct {
    void           *obj;
    size_t          len;
    unsigned char  *small;          /* field_min bytes */
} uf_lazy_t;

struct uf_fnode_s {
    uf_form_t       form;
    uf_inspect_t   *in;
    const char     *decoded;
    unsigned        n;
    uf_lazy_t       lz;
    unsigned char   key[UF_NAME_MAX];
    size_t          key_len;
    unsigned        key_done;
};

enum {
    UF_J_SNIFF = 0,
    UF_J_BASE64,
    UF_J_SKIP
};

struct uf_jnode_s {
    uf_json_t       json;
    uf_inspect_t   *in;
    const char     *decoded;
    unsigned        n;
    unsigned        mode;
    uf_base64_t     b64;
    uf_lazy_t       lz;
    size_t          head_len;
    unsigned char   head[UF_SNIFF_MAX];
};

struct uf_inspect_s {
    uf_inspect_conf_t   conf;
    const uf_sink_t    *sink;
    void               *data;
    unsigned            parts;
    const char         *why;
    uf_stream_t         body;
};


static int uf_stream_write(uf_stream_t *s, const unsigned char *p,
    size_t len);
static int uf_stream_close(uf_stream_t *s, int truncated);
static void uf_stream_free(uf_stream_t *s);

static uf_mpnode_t *uf_mpnode_new(uf_inspect_t *in, const unsigned char *b,
    size_t blen, const char *prefix, unsigned depth, const char *decoded);
static int uf_mp_on_begin(void *data, const uf_mp_part_t *part);
static int uf_mp_on_body(void *data, const unsigned char *p, size_t len);
static int uf_mp_on_end(void *data, const uf_mp_part_t *part,
    int truncated);

static int uf_form_on_data(void *data, const unsigned char *p, size_t len);
static int uf_form_on_end(void *data, unsigned value);

static int uf_json_node_feed(uf_stream_t *s, const unsigned char *p,
    size_t len);
static uf_jnode_t *uf_jnode_new(uf_inspect_t *in, const char *decoded);
static int uf_json_on_begin(void *data);
static int uf_json_on_data(void *data, const unsigned char *p, size_t len);
static int uf_json_on_end(void *data, int complete);


static const uf_mp_callbacks_t  uf_inspect_mp_cb = {
    uf_mp_on_begin, uf_mp_on_body, uf_mp_on_end
};

static const uf_form_callbacks_t  uf_inspect_form_cb = {
    uf_form_on_data, uf_form_on_end
};

static const uf_json_callbacks_t  uf_inspect_json_cb = {
    uf_json_on_begin, uf_json_on_data, uf_json_on_end
};


static int
uf_malformed(uf_inspect_t *in, const char *why)
{
    in->why = why;
    return UF_IN_EMALFORMED;
}

static void *
uf_open(uf_inspect_t *in, const char *where, const char *decoded,
    const unsigned char *name, size_t name_len,
    const unsigned char *filename, size_t filename_len, size_t size_hint)
{
    uf_obj_info_t  info;

    info.where = where;
    info.decoded = decoded;
    info.name = name;
    info.name_len = name_len;
    info.filename = filename;
    info.filename_len = filename_len;
    info.size_hint = size_hint;

    return in->sink->open(in->data, &info);
}

/* "gzip" and "base64" make "gzip+base64" */
static const char *
uf_decoded(char *buf, const char *outer, const char *inner)
{
    if (outer == NULL) {
        return inner;
    }

    if (inner == NULL) {
        return outer;
    }

    snprintf(buf, UF_DECODED_MAX, "%s+%s", outer, inner);
    return buf;
}


/* decoders */

static int
uf_dec_out(void *data, const unsigned char *p, size_t len)
{
    uf_dec_t  *d = data;

    return uf_stream_write(&d->out, p, len);
}

static int
uf_dec_rc(uf_inspect_t *in, uf_dec_t *d, int rc)
{
    static const char  *invalid[] = {
        "invalid base64 in a part",
        "invalid quoted-printable in a part",
        "invalid compressed body"
    };

    switch (rc) {
    case UF_DEC_EINVALID:
    case UF_DEC_EPADDED:
        return uf_malformed(in, invalid[d->kind]);
    case UF_DEC_ELIMIT:
        in->why = "compressed body decodes to more than allowed";
        return UF_IN_ETOOLARGE;
    case UF_DEC_ENOMEM:
        return UF_IN_ENOMEM;
    default:
        return rc;
    }
}

static uf_dec_t *
uf_dec_new(uf_inspect_t *in, unsigned kind, unsigned zkind)
{
    uf_dec_t  *d;

    d = calloc(1, sizeof(uf_dec_t));
    if (d == NULL) {
        return NULL;
    }

    d->kind = kind;
    d->out.in = in;

    switch (kind) {
    case UF_D_BASE64:
        uf_base64_init(&d->b64, UF_B64_MIME);
        break;
    case UF_D_QP:
        uf_qp_init(&d->qp);
        break;
    default:
        if (uf_inflate_new(&d->z, zkind, in->conf.inflate_max,
                           in->conf.inflate_ratio) != 0)
        {
            free(d);
            return NULL;
        }
    }

    return d;
}

static int
uf_dec_feed(uf_inspect_t *in, uf_dec_t *d, const unsigned char *p,
    size_t len)
{
    int  rc;

    switch (d->kind) {
    case UF_D_BASE64:
        rc = uf_base64_feed(&d->b64, p, len, uf_dec_out, d);
        break;
    case UF_D_QP:
        rc = uf_qp_feed(&d->qp, p, len, uf_dec_out, d);
        break;
    default:
        rc = uf_inflate_feed(d->z, p, len, uf_dec_out, d);
    }

    return uf_dec_rc(in, d, rc);
}

static int
uf_dec_finish(uf_inspect_t *in, uf_dec_t *d)
{
    int  rc;

    switch (d->kind) {
    case UF_D_BASE64:
        rc = uf_base64_finish(&d->b64, uf_dec_out, d);
        break;
    case UF_D_QP:
        rc = uf_qp_finish(&d->qp, uf_dec_out, d);
        break;
    default:
        rc = uf_inflate_finish(d->z);
    }

    return uf_dec_rc(in, d, rc);
}

static void
uf_dec_free(uf_dec_t *d)
{
    uf_stream_free(&d->out);
    uf_inflate_free(d->z);
    free(d);
}


/* lazily opened objects: form fields, JSON strings */

static int
uf_lazy_write(uf_inspect_t *in, uf_lazy_t *lz, const char *kind, unsigned n,
    const char *outer, const char *inner, const unsigned char *name,
    size_t name_len, const unsigned char *p, size_t len)
{
    int   rc;
    char  where[UF_WHERE_MAX], label[UF_DECODED_MAX];

    if (lz->obj == NULL) {
        if (lz->len + len < in->conf.field_min) {
            memcpy(lz->small + lz->len, p, len);
            lz->len += len;
            return 0;
        }

        /* named only when it becomes an object: "form.3", "json.1" */
        snprintf(where, sizeof(where), "%s.%u", kind, n);

        lz->obj = uf_open(in, where, uf_decoded(label, outer, inner), name,
                          name_len, NULL, 0, 0);
        if (lz->obj == NULL) {
            return UF_IN_ENOMEM;
        }

        if (lz->len) {
            rc = in->sink->write(in->data, lz->obj, lz->small, lz->len);
            if (rc != 0) {
                return rc;
            }
        }
    }

    return in->sink->write(in->data, lz->obj, p, len);
}

static int
uf_lazy_close(uf_inspect_t *in, uf_lazy_t *lz)
{
    void  *obj = lz->obj;

    lz->obj = NULL;
    lz->len = 0;

    return obj ? in->sink->close(in->data, obj, 0) : 0;
}

static void
uf_lazy_discard(uf_inspect_t *in, uf_lazy_t *lz)
{
    if (lz->obj) {
        in->sink->discard(in->data, lz->obj);
        lz->obj = NULL;
    }

    lz->len = 0;
}


/* streams */

static int
uf_mp_rc(uf_inspect_t *in, int rc)
{
    if (rc == UF_MP_ENOMEM) {
        return UF_IN_ENOMEM;
    }

    if (rc < 0 && rc > UF_IN_EMALFORMED) {
        return uf_malformed(in, uf_mp_strerror(rc));
    }

    return rc;
}

static int
uf_stream_write(uf_stream_t *s, const unsigned char *p, size_t len)
{
    int            rc;
    uf_inspect_t  *in = s->in;

    if (s->obj) {
        rc = in->sink->write(in->data, s->obj, p, len);
        if (rc != 0) {
            return rc;
        }
    }

    if (s->dec) {
        rc = uf_dec_feed(in, s->dec, p, len);
        if (rc != 0) {
            return rc;
        }
    }

    if (s->mp) {
        rc = uf_mp_rc(in, uf_mp_feed(&s->mp->mp, p, len));
        if (rc != 0) {
            return rc;
        }
    }

    if (s->form) {
        rc = uf_form_feed(&s->form->form, p, len);
        if (rc != 0) {
            return rc;
        }
    }

    if (s->sniffing || s->json) {
        rc = uf_json_node_feed(s, p, len);
        if (rc != 0) {
            return rc;
        }
    }

    return 0;
}

/* judges what the stream holds; what is left on an error, free discards */
static int
uf_stream_close(uf_stream_t *s, int truncated)
{
    int            rc;
    void          *obj;
    uf_inspect_t  *in = s->in;

    if (s->obj) {
        obj = s->obj;
        s->obj = NULL;

        rc = in->sink->close(in->data, obj, truncated);
        if (rc != 0) {
            return rc;
        }
    }

    if (s->dec) {
        rc = uf_dec_finish(in, s->dec);
        if (rc == 0) {
            rc = uf_stream_close(&s->dec->out, truncated);
        }

        if (rc != 0) {
            return rc;
        }

        uf_dec_free(s->dec);
        s->dec = NULL;
    }

    if (s->mp) {
        rc = uf_mp_rc(in, uf_mp_finish(&s->mp->mp));
        if (rc != 0) {
            return rc;
        }
    }

    if (s->form) {
        rc = uf_form_finish(&s->form->form);
        if (rc != 0) {
            return rc;
        }
    }

    if (s->json) {
        rc = uf_json_finish(&s->json->json);
        if (rc != 0) {
            return rc;
        }
    }

    uf_stream_free(s);
    return 0;
}

static void
uf_stream_free(uf_stream_t *s)
{
    uf_inspect_t  *in = s->in;

    if (s->obj) {
        in->sink->discard(in->data, s->obj);
        s->obj = NULL;
    }

    if (s->dec) {
        uf_dec_free(s->dec);
        s->dec = NULL;
    }

    if (s->mp) {
        uf_stream_free(&s->mp->part);
        uf_mp_free(&s->mp->mp);
        free(s->mp);
        s->mp = NULL;
    }

    if (s->form) {
        uf_lazy_discard(in, &s->form->lz);
        free(s->form);
        s->form = NULL;
    }

    if (s->json) {
        uf_lazy_discard(in, &s->json->lz);
        free(s->json);
        s->json = NULL;
    }
}


/* multipart */

static uf_mpnode_t *
uf_mpnode_new(uf_inspect_t *in, const unsigned char *b, size_t blen,
    const char *prefix, unsigned depth, const char *decoded)
{
    uf_mpnode_t  *m;

    m = calloc(1, sizeof(uf_mpnode_t));
    if (m == NULL) {
        return NULL;
    }

    m->in = in;
    m->depth = depth;
    m->decoded = decoded;
    m->part.in = in;
    snprintf(m->prefix, sizeof(m->prefix), "%s", prefix);

    if (uf_mp_init(&m->mp, b, blen, in->conf.header_max, &uf_inspect_mp_cb,
                   m) != UF_MP_OK)
    {
        free(m);
        return NULL;
    }

    return m;
}

/* a part's Content-Transfer-Encoding: what decodes it, if anything */
static int
uf_part_encoding(uf_inspect_t *in, const uf_mp_part_t *part, int *kind)
{
    const unsigned char  *v = part->encoding;
    size_t                n = part->encoding_len;

    *kind = -1;

    if (v == NULL || uf_iequal(v, n, "7bit") || uf_iequal(v, n, "8bit")
        || uf_iequal(v, n, "binary"))
    {
        return 0;
    }

    if (uf_iequal(v, n, "base64")) {
        *kind = UF_D_BASE64;
        return 0;
    }

    if (uf_iequal(v, n, "quoted-printable")) {
        *kind = UF_D_QP;
        return 0;
    }

    return uf_malformed(in, "unknown Content-Transfer-Encoding in a part");
}

static int
uf_mp_on_begin(void *data, const uf_mp_part_t *part)
{
    int            rc, kind, ct;
    char           where[UF_WHERE_MAX + 16], label[UF_DECODED_MAX];
    uf_dec_t      *d;
    uf_ctype_t     t;
    uf_mpnode_t   *m = data;
    uf_stream_t   *s;
    uf_inspect_t  *in = m->in;

    switch (part->kind) {
    case UF_MP_PREAMBLE:
        snprintf(where, sizeof(where), "%spreamble", m->prefix);
        break;
    case UF_MP_EPILOGUE:
        snprintf(where, sizeof(where), "%sepilogue", m->prefix);
        break;
    default:
        if (in->conf.max_parts && ++in->parts > in->conf.max_parts) {
            return UF_IN_ETOOMANY;
        }

        snprintf(where, sizeof(where), "%s%u", m->prefix, part->index);
    }

    s = &m->part;
    s->obj = uf_open(in, where, m->decoded, part->name, part->name_len,
                     part->filename, part->filename_len, 0);
    if (s->obj == NULL) {
        return UF_IN_ENOMEM;
    }

    if (part->kind != UF_MP_PART) {
        return 0;
    }

    rc = uf_part_encoding(in, part, &kind);
    if (rc != 0) {
        return rc;
    }

    if (kind >= 0) {
        d = uf_dec_new(in, (unsigned) kind, 0);
        if (d == NULL) {
            return UF_IN_ENOMEM;
        }

        s->dec = d;
        d->out.obj = uf_open(in, where,
                             uf_decoded(label, m->decoded,
                                        kind == UF_D_BASE64
                                        ? "base64" : "quoted-printable"),
                             part->name, part->name_len, part->filename,
                             part->filename_len, 0);
        if (d->out.obj == NULL) {
            return UF_IN_ENOMEM;
        }
    }

    if (part->type == NULL) {
        return 0;
    }

    ct = uf_content_type(part->type, part->type_len, &t);

    if (ct == UF_CT_MALFORMED) {
        return uf_malformed(in, t.why);
    }

    if (ct != UF_CT_MULTIPART) {
        return 0;
    }

    /* multipart in a part: Python's cgi reads its parts */
    if (m->depth + 1 > in->conf.max_depth) {
        return uf_malformed(in, "multipart nested too deep");
    }

    rc = (int) strlen(where);
    if ((size_t) rc + 2 > UF_WHERE_MAX) {
        return uf_malformed(in, "multipart nested too deep");
    }

    where[rc] = '.';
    where[rc + 1] = '\0';

    s->mp = uf_mpnode_new(in, t.boundary, t.boundary_len, where,
                          m->depth + 1, m->decoded);

    return s->mp ? 0 : UF_IN_ENOMEM;
}

static int
uf_mp_on_body(void *data, const unsigned char *p, size_t len)
{
    uf_mpnode_t  *m = data;

    return uf_stream_write(&m->part, p, len);
}

static int
uf_mp_on_end(void *data, const uf_mp_part_t *part, int truncated)
{
    uf_mpnode_t  *m = data;

    (void) part;

    return uf_stream_close(&m->part, truncated);
}


/* urlencoded forms */

static int
uf_form_on_data(void *data, const unsigned char *p, size_t len)
{
    size_t       n;
    uf_fnode_t  *f = data;

    if (!f->form.value) {
        /* a key: kept (its start) to name its value in the log */
        if (f->key_done) {
            f->key_len = 0;
            f->key_done = 0;
        }

        n = sizeof(f->key) - f->key_len;
        n = len < n ? len : n;
        memcpy(f->key + f->key_len, p, n);
        f->key_len += n;
    }

    return uf_lazy_write(f->in, &f->lz, "form", f->n + 1, f->decoded, NULL,
                         f->form.value ? f->key : NULL,
                         f->form.value ? f->key_len : 0, p, len);
}

static int
uf_form_on_end(void *data, unsigned value)
{
    uf_fnode_t  *f = data;

    if (value) {
        f->n++;
        f->key_len = 0;
        f->key_done = 0;

    } else {
        f->key_done = 1;
    }

    return uf_lazy_close(f->in, &f->lz);
}


/* JSON strings that are base64 */

/*
 * A body whose type says nothing of JSON is scanned when its first byte
 * (after white space) opens an object or an array: PHP's
 * json_decode(file_get_contents('php://input')) does not look at the
 * type.  Anything else (a JPEG, text) is not scanned at all.
 */
static int
uf_json_node_feed(uf_stream_t *s, const unsigned char *p, size_t len)
{
    while (s->sniffing && len) {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            p++;
            len--;
            continue;
        }

        s->sniffing = 0;

        if (*p != '{' && *p != '[') {
            return 0;
        }

        s->json = uf_jnode_new(s->in, s->sniff_decoded);
        if (s->json == NULL) {
            return UF_IN_ENOMEM;
        }
    }

    return s->json && len ? uf_json_feed(&s->json->json, p, len) : 0;
}


static uf_jnode_t *
uf_jnode_new(uf_inspect_t *in, const char *decoded)
{
    uf_jnode_t  *j;

    j = calloc(1, sizeof(uf_jnode_t) + in->conf.field_min);
    if (j == NULL) {
        return NULL;
    }

    j->in = in;
    j->decoded = decoded;
    j->lz.small = (unsigned char *) (j + 1);
    uf_json_init(&j->json, &uf_inspect_json_cb, j);

    return j;
}


static int
uf_json_out(void *data, const unsigned char *p, size_t len)
{
    uf_jnode_t  *j = data;

    return uf_lazy_write(j->in, &j->lz, "json", j->n, j->decoded, "base64",
                         NULL, 0, p, len);
}

static int
uf_json_on_begin(void *data)
{
    uf_jnode_t  *j = data;

    j->n++;
    j->mode = UF_J_SNIFF;
    j->head_len = 0;
    uf_base64_init(&j->b64, UF_B64_LOOSE);

    return 0;
}

static int
uf_json_b64(uf_jnode_t *j, const unsigned char *p, size_t len)
{
    int  rc;

    rc = uf_base64_feed(&j->b64, p, len, uf_json_out, j);

    if (rc == UF_DEC_EINVALID) {
        /* not base64 after all */
        uf_lazy_discard(j->in, &j->lz);
        j->mode = UF_J_SKIP;
        return 0;
    }

    if (rc == UF_DEC_EPADDED) {
        /* the decoders that stop at the padding get this much */
        rc = uf_base64_finish(&j->b64, uf_json_out, j);
        if (rc == 0) {
            rc = uf_lazy_close(j->in, &j->lz);
        }

        j->mode = UF_J_SKIP;
        return rc == UF_DEC_EINVALID ? 0 : rc;
    }

    return rc;
}

/*
 * What the string is, from its first bytes: a data: URI (base64 only
 * after ";base64,"), or maybe plain base64.
 */
static int
uf_json_sniff(uf_jnode_t *j, const unsigned char **pp, size_t *plen)
{
    size_t                n, i;
    const unsigned char  *h;

    n = sizeof(j->head) - j->head_len;
    n = *plen < n ? *plen : n;
    memcpy(j->head + j->head_len, *pp, n);
    j->head_len += n;
    *pp += n;
    *plen -= n;

    h = j->head;

    if (j->head_len < 5) {
        return 0;
    }

    if (!uf_iequal(h, 5, "data:")) {
        j->mode = UF_J_BASE64;
        return uf_json_b64(j, h, j->head_len);
    }

    for (i = 5; i < j->head_len && h[i] != ','; i++) {
        /* void */
    }

    if (i == j->head_len) {
        if (j->head_len == sizeof(j->head)) {
            j->mode = UF_J_SKIP;
        }

        return 0;
    }

    if (i < 5 + 7 || !uf_iequal(h + i - 7, 7, ";base64")) {
        /* percent-encoded data: not decoded here */
        j->mode = UF_J_SKIP;
        return 0;
    }

    j->mode = UF_J_BASE64;
    return uf_json_b64(j, h + i + 1, j->head_len - i - 1);
}

static int
uf_json_on_data(void *data, const unsigned char *p, size_t len)
{
    int          rc;
    uf_jnode_t  *j = data;

    if (j->mode == UF_J_SNIFF) {
        rc = uf_json_sniff(j, &p, &len);
        if (rc != 0) {
            return rc;
        }
    }

    if (j->mode != UF_J_BASE64 || len == 0) {
        return 0;
    }

    return uf_json_b64(j, p, len);
}

static int
uf_json_on_end(void *data, int complete)
{
    int          rc;
    uf_jnode_t  *j = data;

    if (j->mode != UF_J_BASE64 || !complete) {
        uf_lazy_discard(j->in, &j->lz);
        return 0;
    }

    rc = uf_base64_finish(&j->b64, uf_json_out, j);

    if (rc == UF_DEC_EINVALID) {
        uf_lazy_discard(j->in, &j->lz);
        return 0;
    }

    if (rc != 0) {
        return rc;
    }

    return uf_lazy_close(j->in, &j->lz);
}


/* the body */

static int
uf_body_encoding(uf_inspect_t *in, const unsigned char *v, size_t len,
    int *kind, const char **name)
{
    while (len && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }

    while (len && (v[len - 1] == ' ' || v[len - 1] == '\t')) {
        len--;
    }

    *kind = -1;
    *name = NULL;

    if (len == 0 || uf_iequal(v, len, "identity")) {
        return 0;
    }

    if (uf_iequal(v, len, "gzip") || uf_iequal(v, len, "x-gzip")) {
        *kind = UF_INFLATE_GZIP;
        *name = "gzip";
        return 0;
    }

    if (uf_iequal(v, len, "deflate")) {
        *kind = UF_INFLATE_DEFLATE;
        *name = "deflate";
        return 0;
    }

    /* br, zstd, a list of codings: refused rather than passed unread */
    return uf_malformed(in, "unsupported Content-Encoding");
}

int
uf_inspect_new(uf_inspect_t **pin, const uf_inspect_conf_t *conf,
    const uf_sink_t *sink, void *data, const unsigned char *type,
    size_t type_len, const unsigned char *encoding, size_t encoding_len,
    size_t size_hint)
{
    int            rc, kind, zkind;
    const char    *zname;
    uf_dec_t      *d;
    uf_ctype_t     t;
    uf_stream_t   *s, *c;
    uf_inspect_t  *in;

    in = calloc(1, sizeof(uf_inspect_t));
    if (in == NULL) {
        *pin = NULL;
        return UF_IN_ENOMEM;
    }

    *pin = in;

    in->conf = *conf;
    in->sink = sink;
    in->data = data;
    in->body.in = in;

    if (in->conf.field_min == 0) {
        in->conf.field_min = 1;
    }

    kind = type ? uf_content_type(type, type_len, &t) : UF_CT_RAW;

    if (kind == UF_CT_MALFORMED) {
        return uf_malformed(in, t.why);
    }

    rc = encoding ? uf_body_encoding(in, encoding, encoding_len, &zkind,
                                     &zname)
                  : (zkind = -1, zname = NULL, 0);
    if (rc != 0) {
        return rc;
    }

    s = &in->body;

    /*
     * The body as it is, unless it is plain multipart: its bytes as a
     * whole are then framing, never a file an application could get.
     */
    if (kind != UF_CT_MULTIPART || zkind >= 0) {
        s->obj = uf_open(in, "body", NULL, NULL, 0, NULL, 0, size_hint);
        if (s->obj == NULL) {
            return UF_IN_ENOMEM;
        }
    }

    c = s;

    if (zkind >= 0) {
        d = uf_dec_new(in, UF_D_INFLATE, (unsigned) zkind);
        if (d == NULL) {
            return UF_IN_ENOMEM;
        }

        s->dec = d;
        c = &d->out;

        if (kind != UF_CT_MULTIPART) {
            c->obj = uf_open(in, "body", zname, NULL, 0, NULL, 0, 0);
            if (c->obj == NULL) {
                return UF_IN_ENOMEM;
            }
        }
    }

    switch (kind) {

    case UF_CT_MULTIPART:
        c->mp = uf_mpnode_new(in, t.boundary, t.boundary_len, "", 0, zname);
        if (c->mp == NULL) {
            return UF_IN_ENOMEM;
        }

        break;

    case UF_CT_URLENCODED:
        c->form = calloc(1, sizeof(uf_fnode_t) + in->conf.field_min);
        if (c->form == NULL) {
            return UF_IN_ENOMEM;
        }

        c->form->in = in;
        c->form->decoded = zname;
        c->form->lz.small = (unsigned char *) (c->form + 1);
        uf_form_init(&c->form->form, &uf_inspect_form_cb, c->form);
        break;

    case UF_CT_JSON:
        c->json = uf_jnode_new(in, zname);
        if (c->json == NULL) {
            return UF_IN_ENOMEM;
        }

        break;

    case UF_CT_RAW:
        /* scanned only if it opens like JSON: see uf_json_node_feed() */
        c->sniffing = 1;
        c->sniff_decoded = zname;
        break;

    default:
        break;
    }

    return UF_IN_OK;
}

int
uf_inspect_feed(uf_inspect_t *in, const unsigned char *p, size_t len)
{
    return len ? uf_stream_write(&in->body, p, len) : 0;
}

int
uf_inspect_finish(uf_inspect_t *in)
{
    return uf_stream_close(&in->body, 0);
}

void
uf_inspect_free(uf_inspect_t *in)
{
    if (in == NULL) {
        return;
    }

    uf_stream_free(&in->body);
    free(in);
}

const char *
uf_inspect_why(uf_inspect_t *in)
{
    return in && in->why ? in->why : "malformed body";
}
