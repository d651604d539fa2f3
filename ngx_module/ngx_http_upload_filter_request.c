/*
 * The request side: where a body enters the filter, and where the request
 * waits for the verdict.
 *
 *   - A PRECONTENT phase handler reads the whole body before the content
 *     handler (proxy_pass, fastcgi_pass, ...) runs, as the mirror module
 *     does, so that nothing reaches an upstream before the verdict, also
 *     with proxy_request_buffering off.  Locations without a content
 *     handler (static files, WebDAV) are not read early: WebDAV reads the
 *     body itself, into a temporary file, and stores it only at the end.
 *   - A request body filter sees every piece of the body once, while it
 *     streams in and before nginx writes it to a temporary file: raw
 *     bodies are hashed whole, multipart bodies part by part.
 *   - A listed digest stops the read at once: the request is finalized
 *     with upload_filter_status, and the connection is closed, so the
 *     unread rest of the body can never be parsed as a new request.
 *   - The verdict lives in a request pool cleanup, which an internal
 *     redirect (error_page, try_files) does not wipe as it wipes r->ctx.
 */

#include "ngx_http_upload_filter.h"


static void ngx_http_upload_filter_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_upload_filter_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_upload_filter_start(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx);
static ngx_int_t ngx_http_upload_filter_header(
    ngx_http_upload_filter_ctx_t *ctx, const char *name, const char *two,
    ngx_str_t *value);
static ngx_http_upload_filter_ctx_t *ngx_http_upload_filter_create_ctx(
    ngx_http_request_t *r);
static void ngx_http_upload_filter_cleanup(void *data);


static ngx_http_request_body_filter_pt   ngx_http_next_request_body_filter;


void
ngx_http_upload_filter_body_filter_init(void)
{
    ngx_http_next_request_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_upload_filter_body_filter;
}


ngx_int_t
ngx_http_upload_filter_handler(ngx_http_request_t *r)
{
    ngx_int_t                           rc;
    ngx_http_core_loc_conf_t           *clcf;
    ngx_http_upload_filter_ctx_t       *ctx;
    ngx_http_upload_filter_loc_conf_t  *ulcf;

    if (r != r->main) {
        /* subrequests share the main request's body and its verdict */
        return NGX_DECLINED;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    ulcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_filter_module);

    ctx = ngx_http_upload_filter_get_ctx(r);

    if (ctx && ctx->state == NGX_HTTP_UPLOAD_FILTER_REJECTED) {
        /*
         * An internal redirect after a rejection (error_page, or a
         * named location).  A static error page may be served; anything
         * that could pass the request on, or store what was read of the
         * body, gets the rejection again.
         */
        if ((r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))
            && clcf->handler == NULL)
        {
            return NGX_DECLINED;
        }

        r->keepalive = 0;
        return ctx->status;
    }

    if (ctx == NULL) {
        if (!ulcf->enable) {
            return NGX_DECLINED;
        }

        if (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked) {
            return NGX_DECLINED;
        }

        if (ngx_http_upload_filter_not_read_here(r, ulcf)) {
            return NGX_DECLINED;
        }

        /*
         * From here on the body owes a verdict, wherever it is read: a
         * try_files or a named location may hand the request on to a
         * location where the filter is off.
         */
        ctx = ngx_http_upload_filter_create_ctx(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* too large by its headers: reject before "100 Continue" */
        if (ulcf->max_body_size
            && r->headers_in.content_length_n > ulcf->max_body_size)
        {
            ngx_http_upload_filter_fail(ctx, NGX_LOG_WARN,
                                        NGX_HTTP_UPLOAD_FILTER_TOO_LARGE,
                                        "body larger than "
                                        "upload_filter_max_body_size");

            if (ctx->state == NGX_HTTP_UPLOAD_FILTER_REJECTED) {
                return ngx_http_upload_filter_verdict(r, ctx);
            }

            return NGX_DECLINED;
        }
    }

    if (ctx->state != NGX_HTTP_UPLOAD_FILTER_NEW || ctx->reading) {
        return NGX_DECLINED;
    }

    if (clcf->handler == NULL) {
        /* static or WebDAV: the body filter judges whatever reads it */
        return NGX_DECLINED;
    }

    if (ulcf->enable) {
        ctx->conf = ulcf;
    }

    ctx->reading = 1;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "upload filter reads body");

    rc = ngx_http_read_client_request_body(r,
                                         ngx_http_upload_filter_body_handler);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    ngx_http_finalize_request(r, NGX_DONE);
    return NGX_DONE;
}


static void
ngx_http_upload_filter_body_handler(ngx_http_request_t *r)
{
    ngx_http_upload_filter_ctx_t  *ctx;

    ctx = ngx_http_upload_filter_get_ctx(r);

    ctx->reading = 0;

    if (ctx->state < NGX_HTTP_UPLOAD_FILTER_INSPECTED) {
        /* the body had been read before the filter could see it */
        ngx_http_upload_filter_fail(ctx, NGX_LOG_ERR,
                                    NGX_HTTP_UPLOAD_FILTER_INTERNAL,
                                    "body read before the filter saw it");
    }

    if (ctx->images && ctx->state != NGX_HTTP_UPLOAD_FILTER_REJECTED
        && ngx_http_upload_filter_pdq_post(r, ctx) == NGX_AGAIN)
    {
        /* images are hashed in a thread: the request waits for them */
        return;
    }

    ngx_http_upload_filter_resume(r, ctx);
}


static ngx_int_t
ngx_http_upload_filter_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t                           rc;
    ngx_buf_t                          *b;
    ngx_chain_t                        *cl;
    ngx_http_upload_filter_ctx_t       *ctx;
    ngx_http_upload_filter_loc_conf_t  *ulcf;

    if (r != r->main || in == NULL) {
        return ngx_http_next_request_body_filter(r, in);
    }

    ctx = ngx_http_upload_filter_get_ctx(r);

    if (ctx == NULL) {
        /* the body is read by the content handler: WebDAV PUT, static */
        ulcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_filter_module);

        if (!ulcf->enable || ngx_http_upload_filter_not_read_here(r, ulcf)) {
            return ngx_http_next_request_body_filter(r, in);
        }

        ctx = ngx_http_upload_filter_create_ctx(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (ctx->state >= NGX_HTTP_UPLOAD_FILTER_INSPECTED) {
        return ngx_http_next_request_body_filter(r, in);
    }

    if (ctx->state == NGX_HTTP_UPLOAD_FILTER_NEW) {
        rc = ngx_http_upload_filter_start(r, ctx);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    for (cl = in;
         cl && ctx->state == NGX_HTTP_UPLOAD_FILTER_INSPECTING;
         cl = cl->next)
    {
        b = cl->buf;

        if (b->in_file && !ngx_buf_in_memory(b)) {
            ngx_http_upload_filter_fail(ctx, NGX_LOG_ALERT,
                                        NGX_HTTP_UPLOAD_FILTER_INTERNAL,
                                        "body buffer in a file");
            break;
        }

        if (b->last > b->pos) {
            ctx->received += b->last - b->pos;

            if (ctx->conf->max_body_size
                && ctx->received > ctx->conf->max_body_size)
            {
                ngx_http_upload_filter_fail(ctx, NGX_LOG_WARN,
                                            NGX_HTTP_UPLOAD_FILTER_TOO_LARGE,
                                            "body larger than "
                                            "upload_filter_max_body_size");
                break;
            }

            if (ngx_http_upload_filter_inspect_feed(ctx, b->pos,
                                                    b->last - b->pos)
                != NGX_OK)
            {
                break;
            }
        }

        if (b->last_buf) {
            ngx_http_upload_filter_inspect_finish(ctx);
            break;
        }
    }

    if (ctx->state != NGX_HTTP_UPLOAD_FILTER_INSPECTING) {

        if (ctx->images && ctx->state != NGX_HTTP_UPLOAD_FILTER_REJECTED
            && !ctx->reading)
        {
            /* no thread to wait for here: see ngx_http_upload_filter_pdq.c */
            ngx_http_upload_filter_pdq_run(ctx);
        }

        if (ctx->state == NGX_HTTP_UPLOAD_FILTER_REJECTED) {
            return ngx_http_upload_filter_verdict(r, ctx);
        }
    }

    return ngx_http_next_request_body_filter(r, in);
}


/*
 * Sets up the inspection of this body: what its headers say it is.  Two
 * Content-Type or Content-Encoding headers are malformed.
 */
static ngx_int_t
ngx_http_upload_filter_start(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx)
{
    ngx_str_t  ct, ce;

    ctx->state = NGX_HTTP_UPLOAD_FILTER_INSPECTING;

    if (ngx_http_upload_filter_header(ctx, "Content-Type",
                                      "two Content-Type headers", &ct)
        != NGX_OK
        || ngx_http_upload_filter_header(ctx, "Content-Encoding",
                                         "two Content-Encoding headers", &ce)
           != NGX_OK)
    {
        return NGX_OK;
    }

    ngx_http_upload_filter_inspect_start(ctx, &ct, &ce,
                                         r->headers_in.content_length_n);

    return NGX_OK;
}


/*
 * The value of a request header the inspection depends on, empty when
 * absent.  Two of them fail the inspection as malformed: nginx 1.22
 * keeps the first Content-Type, proxy_pass forwards both, werkzeug
 * joins them; which one the application reads is anybody's guess.
 */
static ngx_int_t
ngx_http_upload_filter_header(ngx_http_upload_filter_ctx_t *ctx,
    const char *name, const char *two, ngx_str_t *value)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    ngx_str_null(value);

    part = &ctx->request->headers_in.headers.part;

    for ( /* void */ ; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].key.len != len
                || ngx_strncasecmp(h[i].key.data, (u_char *) name, len) != 0)
            {
                continue;
            }

            if (value->data != NULL) {
                ngx_http_upload_filter_fail(ctx, NGX_LOG_WARN,
                                            NGX_HTTP_UPLOAD_FILTER_MALFORMED,
                                            two);
                return NGX_DECLINED;
            }

            *value = h[i].value;
        }
    }

    return NGX_OK;
}


ngx_http_upload_filter_ctx_t *
ngx_http_upload_filter_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_upload_filter_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upload_filter_module);

    if (ctx || !(r->internal || r->filter_finalize)) {
        return ctx;
    }

    /* r->ctx is wiped by internal redirects: the cleanup is not */
    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_upload_filter_cleanup) {
            ctx = cln->data;
            ngx_http_set_ctx(r, ctx, ngx_http_upload_filter_module);
            return ctx;
        }
    }

    return NULL;
}


static ngx_http_upload_filter_ctx_t *
ngx_http_upload_filter_create_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_upload_filter_ctx_t  *ctx;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_upload_filter_ctx_t));
    if (cln == NULL) {
        return NULL;
    }

    ctx = cln->data;
    ngx_memzero(ctx, sizeof(ngx_http_upload_filter_ctx_t));

    ctx->request = r;
    ctx->conf = ngx_http_get_module_loc_conf(r, ngx_http_upload_filter_module);

    cln->handler = ngx_http_upload_filter_cleanup;

    ngx_http_set_ctx(r, ctx, ngx_http_upload_filter_module);

    return ctx;
}


static void
ngx_http_upload_filter_cleanup(void *data)
{
    ngx_http_upload_filter_ctx_t  *ctx = data;

    ngx_http_upload_filter_metrics_request(ctx);
    ngx_http_upload_filter_inspect_stop(ctx);
}
