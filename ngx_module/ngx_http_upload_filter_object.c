/*
 * The objects of a body: the sink that uf_inspect hands every body, part,
 * decoded part, form field and JSON string to.  Each object gets the
 * digests the hash set can match, computed while its bytes stream in,
 * and, when the set holds PDQ hashes, its bytes kept if it is an image;
 * closing it looks the digests up, logs a match and sets the verdict.
 */

#include "ngx_http_upload_filter.h"



/* a sink code that stops the inspection: the verdict is in */
#define NGX_HTTP_UPLOAD_FILTER_STOP    1


static void *ngx_http_upload_filter_obj_open(void *data,
    const uf_obj_info_t *info);
static int ngx_http_upload_filter_obj_write(void *data, void *o,
    const u_char *p, size_t len);
static int ngx_http_upload_filter_obj_close(void *data, void *o,
    int truncated);
static void ngx_http_upload_filter_obj_discard(void *data, void *o);
static ngx_int_t ngx_http_upload_filter_obj_check(
    ngx_http_upload_filter_ctx_t *ctx, ngx_http_upload_filter_obj_t *obj);
static void ngx_http_upload_filter_obj_release(
    ngx_http_upload_filter_ctx_t *ctx, ngx_http_upload_filter_obj_t *obj);
static hdb_digest_t *ngx_http_upload_filter_digest_get(unsigned types);
static void ngx_http_upload_filter_digest_put(hdb_digest_t *d);


const uf_sink_t  ngx_http_upload_filter_sink = {
    ngx_http_upload_filter_obj_open,
    ngx_http_upload_filter_obj_write,
    ngx_http_upload_filter_obj_close,
    ngx_http_upload_filter_obj_discard
};


/*
 * Digest contexts of finished objects, kept for the next ones: setting
 * up OpenSSL contexts costs more than hashing a small upload.
 */
#define NGX_HTTP_UPLOAD_FILTER_SPARE_DIGESTS  32

static hdb_digest_t  *ngx_http_upload_filter_spare[
                                      NGX_HTTP_UPLOAD_FILTER_SPARE_DIGESTS];
static ngx_uint_t     ngx_http_upload_filter_nspare;


static void *
ngx_http_upload_filter_obj_open(void *data, const uf_obj_info_t *info)
{
    ngx_http_upload_filter_ctx_t  *ctx = data;
    ngx_http_upload_filter_obj_t  *obj;

    obj = ctx->spare_objs;

    if (obj) {
        ctx->spare_objs = obj->next;

    } else {
        /* objects are reused, so the pool grows with open ones only */
        obj = ngx_palloc(ctx->request->pool,
                         sizeof(ngx_http_upload_filter_obj_t));
        if (obj == NULL) {
            return NULL;
        }
    }

    ngx_memzero(obj, sizeof(ngx_http_upload_filter_obj_t));

    obj->name = info->name;
    obj->name_len = info->name_len;
    obj->filename = info->filename;
    obj->filename_len = info->filename_len;

    ngx_cpystrn(obj->where, (u_char *) info->where, sizeof(obj->where));

    if (info->decoded) {
        ngx_snprintf(obj->decoded, sizeof(obj->decoded) - 1,
                     " decoded=%s%Z", info->decoded);
    }

    obj->digest = ngx_http_upload_filter_digest_get(ctx->digest_types);

    if (obj->digest == NULL || hdb_digest_reset(obj->digest) != 0
        || ngx_http_upload_filter_image_begin(ctx, obj, info->size_hint)
           != NGX_OK)
    {
        ngx_http_upload_filter_obj_release(ctx, obj);
        ngx_http_upload_filter_fail(ctx, NGX_LOG_ALERT,
                                    NGX_HTTP_UPLOAD_FILTER_INTERNAL,
                                    "digest setup failed");
        return NULL;
    }

    return obj;
}


static int
ngx_http_upload_filter_obj_write(void *data, void *o, const u_char *p,
    size_t len)
{
    ngx_http_upload_filter_ctx_t  *ctx = data;
    ngx_http_upload_filter_obj_t  *obj = o;

    obj->size += len;

    if (hdb_digest_update(obj->digest, p, len) != 0
        || ngx_http_upload_filter_image_feed(ctx, obj, p, len) != NGX_OK)
    {
        ngx_http_upload_filter_fail(ctx, NGX_LOG_ALERT,
                                    NGX_HTTP_UPLOAD_FILTER_INTERNAL,
                                    "digest failed");
        return NGX_HTTP_UPLOAD_FILTER_STOP;
    }

    return 0;
}


static int
ngx_http_upload_filter_obj_close(void *data, void *o, int truncated)
{
    ngx_int_t                      rc;
    ngx_http_upload_filter_ctx_t  *ctx = data;
    ngx_http_upload_filter_obj_t  *obj = o;

    (void) truncated;

    ctx->parts++;

    /* the digests first: the ledger entry is the image's too */
    rc = ngx_http_upload_filter_obj_check(ctx, obj);

    if (rc == NGX_OK) {
        rc = ngx_http_upload_filter_image_end(ctx, obj);
    }

    ngx_http_upload_filter_obj_release(ctx, obj);

    if (rc != NGX_OK || ctx->state != NGX_HTTP_UPLOAD_FILTER_INSPECTING) {
        return NGX_HTTP_UPLOAD_FILTER_STOP;
    }

    return 0;
}


static void
ngx_http_upload_filter_obj_discard(void *data, void *o)
{
    ngx_http_upload_filter_obj_release(data, o);
}


static void
ngx_http_upload_filter_obj_release(ngx_http_upload_filter_ctx_t *ctx,
    ngx_http_upload_filter_obj_t *obj)
{
    if (obj->digest) {
        ngx_http_upload_filter_digest_put(obj->digest);
        obj->digest = NULL;
    }

    ngx_http_upload_filter_image_free(obj->image);
    obj->image = NULL;

    obj->next = ctx->spare_objs;
    ctx->spare_objs = obj;
}


/*
 * Looks up the digests of one object; a match goes to the verdict.  With
 * action "block" it ends the inspection; with "log" the inspection goes
 * on.
 */
static ngx_int_t
ngx_http_upload_filter_obj_check(ngx_http_upload_filter_ctx_t *ctx,
    ngx_http_upload_filter_obj_t *obj)
{
    hdb_digests_t                  dg;
    ngx_http_upload_filter_site_t  site;

    if (hdb_digest_final(obj->digest, &dg) != 0) {
        ngx_http_upload_filter_fail(ctx, NGX_LOG_ALERT,
                                    NGX_HTTP_UPLOAD_FILTER_INTERNAL,
                                    "digest failed");
        return NGX_ERROR;
    }

    if (ngx_http_upload_filter_ledger_add(ctx, obj, &dg, &obj->ledger)
        != NGX_OK)
    {
        ngx_http_upload_filter_fail(ctx, NGX_LOG_ALERT,
                                    NGX_HTTP_UPLOAD_FILTER_INTERNAL,
                                    "no memory for the ledger");
        return NGX_ERROR;
    }

    site.where = obj->where;
    site.name = obj->name;
    site.name_len = obj->name_len;
    site.filename = obj->filename;
    site.filename_len = obj->filename_len;
    site.size = obj->size;
    site.decoded = obj->decoded;
    site.format = NULL;
    site.frame = -1;
    site.time = -1;
    site.video = NULL;

    return ngx_http_upload_filter_digests_check(ctx, &dg, &site);
}


/*
 * An object's digests against the set, cheapest type first: the first
 * listed one goes to the verdict (also for digests the verdict zone kept
 * of an object seen before).  NGX_OK to go on, NGX_ERROR when the set
 * could not be read or the report failed.
 */
ngx_int_t
ngx_http_upload_filter_digests_check(ngx_http_upload_filter_ctx_t *ctx,
    const hdb_digests_t *dg, const ngx_http_upload_filter_site_t *site)
{
    int                                  rc, found;
    char                                 hex[HDB_HEX_MAX + 1];
    char                                 digest[sizeof("sha256:")
                                                + HDB_HEX_MAX];
    ngx_uint_t                           i;
    hdb_type_t                           t;
    hdb_match_t                          m, cand;
    ngx_http_upload_filter_main_conf_t  *umcf;

    umcf = ngx_http_upload_filter_worker;

    found = 0;
    t = HDB_NTYPES;

    rc = ngx_http_upload_filter_reader_begin(umcf->reader, ctx->conf);

    /*
     * The cheapest digest that blocks names the match; one that only
     * logs (its source's policy, a shadow update, the allow list) lets
     * the others be looked up still: another list may hold another type.
     */
    for (i = 0; rc == 0 && i < HDB_NDIGESTS; i++) {
        if (!(dg->types & HDB_TYPE_BIT(hdb_types_by_cost[i]))) {
            continue;
        }

        rc = hdb_reader_lookup(umcf->reader, hdb_types_by_cost[i],
                               dg->md[hdb_types_by_cost[i]], &cand);

        if (rc == HDB_NOTFOUND) {
            rc = 0;
            continue;
        }

        if (rc != 0) {
            break;
        }

        if (!found || ngx_http_upload_filter_match_rank(&cand)
                      > ngx_http_upload_filter_match_rank(&m))
        {
            m = cand;
            t = hdb_types_by_cost[i];
            found = 1;
        }

        if (!m.allowed && m.action == HDB_ACTION_BLOCK) {
            break;
        }
    }

    hdb_reader_end(umcf->reader);

    if (rc != 0) {
        ngx_http_upload_filter_unreadable(ctx, rc);
        return NGX_ERROR;
    }

    if (!found) {
        return NGX_OK;
    }

    /* a listed digest */

    hdb_hex_encode(dg->md[t], hdb_type_size(t), hex);
    ngx_snprintf((u_char *) digest, sizeof(digest), "%s:%s%Z",
                 hdb_type_name(t), hex);

    return ngx_http_upload_filter_report(ctx, &m, digest, NULL, site);
}


static hdb_digest_t *
ngx_http_upload_filter_digest_get(unsigned types)
{
    hdb_digest_t  *d;

    while (ngx_http_upload_filter_nspare) {
        d = ngx_http_upload_filter_spare[--ngx_http_upload_filter_nspare];

        if (hdb_digest_types(d) == types) {
            return d;
        }

        /* the hash set now asks for other types */
        hdb_digest_free(d);
    }

    return hdb_digest_new(types);
}


static void
ngx_http_upload_filter_digest_put(hdb_digest_t *d)
{
    if (ngx_http_upload_filter_nspare < NGX_HTTP_UPLOAD_FILTER_SPARE_DIGESTS)
    {
        ngx_http_upload_filter_spare[ngx_http_upload_filter_nspare++] = d;
        return;
    }

    hdb_digest_free(d);
}


/* at worker exit */
void
ngx_http_upload_filter_objects_exit(void)
{
    while (ngx_http_upload_filter_nspare) {
        hdb_digest_free(
            ngx_http_upload_filter_spare[--ngx_http_upload_filter_nspare]);
    }

    hdb_digest_shutdown();
}
