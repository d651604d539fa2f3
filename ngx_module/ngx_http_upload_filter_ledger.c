/*
 * The upload ledger: what the filter hashed of a request, for
 * $upload_filter_hashes, so that an operator's access_log keeps every
 * upload's digests and PDQ hashes and "hashdb rescan" can match them
 * against a later list without anything stored being read again.
 *
 * The value is one token, "ufh1:" and one entry per object hashed,
 * separated by ";", each a list of key=value separated by ",":
 *
 *     ufh1:part=2,name=photo,filename=a%20b.jpg,size=1234,sha1=HEX,pdq=HEX
 *
 * (part: as the log line names it; pdq: each frame hashed, as is).
 * Names are percent-encoded beyond [A-Za-z0-9._-], so the token never
 * holds a byte that access_log's escaping (default or json) changes, and
 * rescan finds it in any log_format: it ends at the first byte outside
 * [A-Za-z0-9._%=,;:-].
 */

#include "ngx_http_upload_filter.h"


#define NGX_HTTP_UPLOAD_FILTER_LEDGER_PDQ  4     /* frames kept per entry */


struct ngx_http_upload_filter_ledger_s {
    u_char                             *where;
    ngx_str_t                           name;
    ngx_str_t                           filename;
    u_char                             *decoded;
    off_t                               size;
    unsigned                            types;
    u_char                              md[HDB_NDIGESTS][HDB_DIGEST_MAX];
    ngx_uint_t                          npdq;
    u_char                              pdq[NGX_HTTP_UPLOAD_FILTER_LEDGER_PDQ]
                                           [HDB_PDQ_SIZE];

    /* for the verdict zone (ctx->keep_frames): every frame, whole */
    int                                 media;      /* hdb_media_type_t */
    unsigned                            total;
    ngx_array_t                        *frames;     /* hdb_media_frame_t */
};


static u_char *ngx_http_upload_filter_ledger_copy(ngx_pool_t *pool,
    const u_char *p, size_t len);
static size_t ngx_http_upload_filter_pct_len(ngx_str_t *s);
static u_char *ngx_http_upload_filter_pct(u_char *p, ngx_str_t *s);


/* an object's digests, when it is closed; its index into *index */
ngx_int_t
ngx_http_upload_filter_ledger_add(ngx_http_upload_filter_ctx_t *ctx,
    ngx_http_upload_filter_obj_t *obj, const hdb_digests_t *dg,
    ngx_uint_t *index)
{
    ngx_pool_t                       *pool;
    ngx_http_upload_filter_ledger_t  *e;

    pool = ctx->request->pool;

    if (ctx->ledger == NULL) {
        ctx->ledger = ngx_array_create(pool, 4,
                                       sizeof(ngx_http_upload_filter_ledger_t));
        if (ctx->ledger == NULL) {
            return NGX_ERROR;
        }
    }

    e = ngx_array_push(ctx->ledger);
    if (e == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(e, sizeof(ngx_http_upload_filter_ledger_t));

    /* the object's names live as long as the object: copies */
    e->where = ngx_http_upload_filter_ledger_copy(pool, obj->where,
                                                  ngx_strlen(obj->where));
    e->decoded = ngx_http_upload_filter_ledger_copy(pool, obj->decoded,
                                                    ngx_strlen(obj->decoded));
    e->name.len = obj->name_len;
    e->name.data = ngx_http_upload_filter_ledger_copy(pool, obj->name,
                                                      obj->name_len);
    e->filename.len = obj->filename_len;
    e->filename.data = ngx_http_upload_filter_ledger_copy(pool,
                                                          obj->filename,
                                                          obj->filename_len);

    if (e->where == NULL || e->decoded == NULL || e->name.data == NULL
        || e->filename.data == NULL)
    {
        return NGX_ERROR;
    }

    e->size = obj->size;
    e->types = dg->types;
    ngx_memcpy(e->md, dg->md, sizeof(e->md));

    *index = ctx->ledger->nelts - 1;

    return NGX_OK;
}


/*
 * A frame hashed of the image that entry index was: its hash as is for
 * the variable, and, when the verdict zone keeps them, the whole frame
 * (all variants, quality, time).  NGX_ERROR: no memory for the latter,
 * and the entry can no longer be kept (ctx->keep_frames off).
 */
void
ngx_http_upload_filter_ledger_pdq(ngx_http_upload_filter_ctx_t *ctx,
    ngx_uint_t index, const hdb_media_result_t *media,
    const hdb_media_frame_t *f)
{
    hdb_media_frame_t                *kept;
    ngx_http_upload_filter_ledger_t  *e;

    if (ctx->ledger == NULL || index >= ctx->ledger->nelts) {
        return;
    }

    e = (ngx_http_upload_filter_ledger_t *) ctx->ledger->elts + index;

    if (e->npdq < NGX_HTTP_UPLOAD_FILTER_LEDGER_PDQ) {
        ngx_memcpy(e->pdq[e->npdq++], f->variants[0], HDB_PDQ_SIZE);
    }

    if (!ctx->keep_frames) {
        return;
    }

    e->media = media->type;
    e->total = media->total;

    if (e->frames == NULL) {
        e->frames = ngx_array_create(ctx->request->pool, 1,
                                     sizeof(hdb_media_frame_t));
        if (e->frames == NULL) {
            ctx->keep_frames = 0;
            return;
        }
    }

    kept = ngx_array_push(e->frames);
    if (kept == NULL) {
        ctx->keep_frames = 0;
        return;
    }

    *kept = *f;
}


/* entry i of what was hashed, for the verdict zone; NGX_DECLINED: no more */
ngx_int_t
ngx_http_upload_filter_ledger_get(ngx_http_upload_filter_ctx_t *ctx,
    ngx_uint_t i, ngx_http_upload_filter_kept_t *k)
{
    ngx_http_upload_filter_ledger_t  *e;

    if (ctx->ledger == NULL || i >= ctx->ledger->nelts) {
        return NGX_DECLINED;
    }

    e = (ngx_http_upload_filter_ledger_t *) ctx->ledger->elts + i;

    k->where = e->where;
    k->size = e->size;
    k->types = e->types;
    k->md = (const u_char (*)[HDB_DIGEST_MAX]) e->md;
    k->media = e->frames ? e->media : HDB_MEDIA_NONE;
    k->total = e->frames ? e->total : 0;
    k->nframes = e->frames ? e->frames->nelts : 0;
    k->frames = e->frames ? e->frames->elts : NULL;

    return NGX_OK;
}


/* the value of $upload_filter_hashes, in r->pool; empty: nothing hashed */
ngx_int_t
ngx_http_upload_filter_ledger_value(ngx_http_upload_filter_ctx_t *ctx,
    ngx_str_t *value)
{
    size_t                            len;
    u_char                           *p, hex[HDB_HEX_MAX + 1];
    ngx_str_t                         d;
    ngx_uint_t                        i, k;
    hdb_type_t                        t;
    ngx_http_upload_filter_ledger_t  *e;

    ngx_str_null(value);

    if (ctx->ledger == NULL || ctx->ledger->nelts == 0) {
        return NGX_OK;
    }

    e = ctx->ledger->elts;
    len = sizeof("ufh1:") - 1;

    for (i = 0; i < ctx->ledger->nelts; i++) {
        len += sizeof(";part=,size=,name=,filename=,decoded=") - 1
               + ngx_strlen(e[i].where) + NGX_OFF_T_LEN
               + ngx_http_upload_filter_pct_len(&e[i].name)
               + ngx_http_upload_filter_pct_len(&e[i].filename)
               + 3 * ngx_strlen(e[i].decoded)
               + HDB_NDIGESTS * (sizeof(",sha256=") + HDB_HEX_MAX)
               + e[i].npdq * (sizeof(",pdq=") + HDB_PDQ_HEX_LEN);
    }

    p = ngx_pnalloc(ctx->request->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value->data = p;
    p = ngx_cpymem(p, "ufh1:", sizeof("ufh1:") - 1);

    for (i = 0; i < ctx->ledger->nelts; i++) {
        if (i) {
            *p++ = ';';
        }

        p = ngx_sprintf(p, "part=%s,size=%O", e[i].where, e[i].size);

        if (e[i].name.len) {
            p = ngx_cpymem(p, ",name=", sizeof(",name=") - 1);
            p = ngx_http_upload_filter_pct(p, &e[i].name);
        }

        if (e[i].filename.len) {
            p = ngx_cpymem(p, ",filename=", sizeof(",filename=") - 1);
            p = ngx_http_upload_filter_pct(p, &e[i].filename);
        }

        if (e[i].decoded[0]) {
            /* " decoded=base64": the word alone */
            d.data = (u_char *) ngx_strchr(e[i].decoded, '=');
            d.data = d.data ? d.data + 1 : e[i].decoded;
            d.len = ngx_strlen(d.data);
            p = ngx_cpymem(p, ",decoded=", sizeof(",decoded=") - 1);
            p = ngx_http_upload_filter_pct(p, &d);
        }

        for (k = 0; k < HDB_NDIGESTS; k++) {
            t = hdb_types_by_cost[k];

            if (e[i].types & HDB_TYPE_BIT(t)) {
                hdb_hex_encode(e[i].md[t], hdb_type_size(t), (char *) hex);
                p = ngx_sprintf(p, ",%s=%s", hdb_type_name(t), hex);
            }
        }

        for (k = 0; k < e[i].npdq; k++) {
            hdb_hex_encode(e[i].pdq[k], HDB_PDQ_SIZE, (char *) hex);
            p = ngx_sprintf(p, ",pdq=%s", hex);
        }
    }

    value->len = p - value->data;

    return NGX_OK;
}


static u_char *
ngx_http_upload_filter_ledger_copy(ngx_pool_t *pool, const u_char *p,
    size_t len)
{
    u_char  *c;

    c = ngx_pnalloc(pool, len + 1);
    if (c == NULL) {
        return NULL;
    }

    if (len) {
        ngx_memcpy(c, p, len);
    }

    c[len] = '\0';

    return c;
}


static ngx_uint_t
ngx_http_upload_filter_pct_plain(u_char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}


static size_t
ngx_http_upload_filter_pct_len(ngx_str_t *s)
{
    size_t      n;
    ngx_uint_t  i;

    for (n = 0, i = 0; i < s->len; i++) {
        n += ngx_http_upload_filter_pct_plain(s->data[i]) ? 1 : 3;
    }

    return n;
}


static u_char *
ngx_http_upload_filter_pct(u_char *p, ngx_str_t *s)
{
    ngx_uint_t  i;

    static u_char  hex[] = "0123456789ABCDEF";

    for (i = 0; i < s->len; i++) {
        if (ngx_http_upload_filter_pct_plain(s->data[i])) {
            *p++ = s->data[i];
            continue;
        }

        *p++ = '%';
        *p++ = hex[s->data[i] >> 4];
        *p++ = hex[s->data[i] & 0xf];
    }

    return p;
}
