/*
 * A body into the inspection, whichever side it comes from: a request
 * body (ngx_http_upload_filter_request.c) or a response body
 * (ngx_http_upload_filter_response.c).  The inspection (uf_inspect.c)
 * says which objects an application or a client could extract from it;
 * the sink (ngx_http_upload_filter_object.c) hashes and looks up each.
 */

#include "ngx_http_upload_filter.h"


static void ngx_http_upload_filter_inspect_error(
    ngx_http_upload_filter_ctx_t *ctx, int rc);


/*
 * The digests the hash set asks for, and the inspection of a body of
 * this type and encoding (empty when the headers have none); length is
 * the size the headers announce, -1 when unknown.  A failure is the
 * context's verdict; the caller goes on by ctx->state.
 */
void
ngx_http_upload_filter_inspect_start(ngx_http_upload_filter_ctx_t *ctx,
    ngx_str_t *ct, ngx_str_t *ce, off_t length)
{
    int                                  rc;
    unsigned                             plan;
    uf_inspect_conf_t                    conf;
    ngx_http_upload_filter_main_conf_t  *umcf;

    ctx->state = NGX_HTTP_UPLOAD_FILTER_INSPECTING;

    umcf = ngx_http_upload_filter_worker;

    if (umcf == NULL || umcf->reader == NULL) {
        ngx_http_upload_filter_fail(ctx, NGX_LOG_ERR,
                                    NGX_HTTP_UPLOAD_FILTER_UNAVAILABLE,
                                    "hash set unavailable");
        return;
    }

    rc = hdb_reader_begin(umcf->reader);
    if (rc == 0) {
        rc = hdb_reader_plan(umcf->reader, &plan);
        hdb_reader_end(umcf->reader);
    }

    if (rc != 0) {
        ngx_http_upload_filter_unreadable(ctx, rc);
        return;
    }

    if (plan == 0) {
        /* an empty hash set: nothing can match */
        ctx->result = NGX_HTTP_UPLOAD_FILTER_CLEAN;
        ctx->state = NGX_HTTP_UPLOAD_FILTER_INSPECTED;
        return;
    }

    ctx->pdq = (plan & HDB_TYPE_BIT(HDB_PDQ)) != 0;
    ctx->digest_types = plan & HDB_DIGEST_TYPES;

    conf.header_max = ctx->conf->part_headers_size;
    conf.max_parts = (unsigned) ctx->conf->max_parts;
    conf.max_depth = NGX_HTTP_UPLOAD_FILTER_MAX_DEPTH;
    conf.field_min = NGX_HTTP_UPLOAD_FILTER_FIELD_MIN;
    conf.inflate_max = (uint64_t) ctx->conf->max_decompressed_size;
    conf.inflate_ratio = (unsigned) ctx->conf->max_compression_ratio;

    rc = uf_inspect_new(&ctx->inspect, &conf, &ngx_http_upload_filter_sink,
                        ctx, ct->data, ct->len, ce->data, ce->len,
                        length > 0 ? (size_t) length : 0);

    if (rc != UF_IN_OK) {
        ngx_http_upload_filter_inspect_error(ctx, rc);
    }
}


ngx_int_t
ngx_http_upload_filter_inspect_feed(ngx_http_upload_filter_ctx_t *ctx,
    u_char *p, size_t len)
{
    int  rc;

    rc = uf_inspect_feed(ctx->inspect, p, len);

    if (rc != UF_IN_OK) {
        ngx_http_upload_filter_inspect_error(ctx, rc);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_upload_filter_inspect_finish(ngx_http_upload_filter_ctx_t *ctx)
{
    int  rc;

    rc = uf_inspect_finish(ctx->inspect);

    if (rc != UF_IN_OK) {
        ngx_http_upload_filter_inspect_error(ctx, rc);
    }

    if (ctx->state == NGX_HTTP_UPLOAD_FILTER_INSPECTING) {
        ctx->state = NGX_HTTP_UPLOAD_FILTER_INSPECTED;

        if (ctx->result == NGX_HTTP_UPLOAD_FILTER_NONE) {
            ctx->result = NGX_HTTP_UPLOAD_FILTER_CLEAN;
        }
    }

    return NGX_OK;
}


/*
 * The inspection ends without a verdict to wait for (the request is done,
 * or the body goes on uninspected): open objects give their digests back
 * to the spares, the images and the thread's task are let go.
 */
void
ngx_http_upload_filter_inspect_stop(ngx_http_upload_filter_ctx_t *ctx)
{
    uf_inspect_free(ctx->inspect);
    ctx->inspect = NULL;

    ngx_http_upload_filter_pdq_cleanup(ctx);
}


static void
ngx_http_upload_filter_inspect_error(ngx_http_upload_filter_ctx_t *ctx,
    int rc)
{
    if (ctx->state != NGX_HTTP_UPLOAD_FILTER_INSPECTING) {
        /* the sink set the verdict, or the failure, itself */
        return;
    }

    if (rc > 0) {
        /* a sink that stopped without a verdict: no guess, a failure */
        ngx_http_upload_filter_fail(ctx, NGX_LOG_ALERT,
                                    NGX_HTTP_UPLOAD_FILTER_INTERNAL,
                                    "inspection stopped");
        return;
    }

    switch (rc) {

    case UF_IN_ETOOMANY:
        ngx_http_upload_filter_fail(ctx, NGX_LOG_WARN,
                                    NGX_HTTP_UPLOAD_FILTER_TOO_MANY_PARTS,
                                    "more parts than "
                                    "upload_filter_max_parts");
        break;

    case UF_IN_ETOOLARGE:
        ngx_http_upload_filter_fail(ctx, NGX_LOG_WARN,
                                    NGX_HTTP_UPLOAD_FILTER_TOO_LARGE,
                                    uf_inspect_why(ctx->inspect));
        break;

    case UF_IN_ENOMEM:
        ngx_http_upload_filter_fail(ctx, NGX_LOG_ALERT,
                                    NGX_HTTP_UPLOAD_FILTER_INTERNAL,
                                    "out of memory");
        break;

    default: /* UF_IN_EMALFORMED */
        ngx_http_upload_filter_fail(ctx, NGX_LOG_WARN,
                                    NGX_HTTP_UPLOAD_FILTER_MALFORMED,
                                    uf_inspect_why(ctx->inspect));
    }
}
