
/*
 * The response side: what a CDN edge or an origin serves, from any
 * content source (upstreams, proxy_cache hits, static files), goes
 * through the same inspection as an upload: upload_filter_responses.
 *
 * In the shape of nginx's image filter: the header filter holds the
 * headers of a 200 response, the body filter copies the body, as it
 * streams through, into a buffer of the filter's own (so that the
 * upstream's and the copy filter's buffers are free again at once) and
 * into the inspection.  At the last buffer the verdict is reached (PDQ
 * and video in the thread pool, the request waiting as for an aio read),
 * then the response goes on unchanged, or is replaced by
 * upload_filter_response_status (451) with no byte of it sent.
 *
 * This module sits before nginx's copy filter (config: ngx_module_order),
 * so that file buffers (sendfile, cache hits) reach it in memory
 * (main_filter_need_in_memory), and before the range filter, which is
 * why a request with a Range header is passed uninspected: the range
 * filter would cut what the inspection must see whole.  A response
 * larger than upload_filter_response_buffer, by its Content-Length or as
 * it grows, is passed on uninspected too, and counted.
 */

#include "ngx_http_upload_filter.h"


/* r->buffered: a held response (the image filter's bit; see README) */
#define NGX_HTTP_UPLOAD_FILTER_BUFFERED  0x08


/* the metrics' counts of responses not held: see metrics_uninspected() */
#define NGX_HTTP_UPLOAD_FILTER_RANGE     0
#define NGX_HTTP_UPLOAD_FILTER_STREAMED  1


static ngx_int_t ngx_http_upload_filter_response_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_upload_filter_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_upload_filter_response_body_filter(
    ngx_http_request_t *r, ngx_chain_t *in);
static ngx_int_t ngx_http_upload_filter_hold(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx, ngx_buf_t *b);
static ngx_int_t ngx_http_upload_filter_judged(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx);
static ngx_int_t ngx_http_upload_filter_release(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx);
static ngx_int_t ngx_http_upload_filter_send_held(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx, ngx_uint_t last);
static void ngx_http_upload_filter_stream(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx);
static ngx_int_t ngx_http_upload_filter_streamed(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx, ngx_chain_t *in);
static ngx_int_t ngx_http_upload_filter_grown(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx, ngx_chain_t *in);
static ngx_int_t ngx_http_upload_filter_blocked_by(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx);
static void ngx_http_upload_filter_uninspected(ngx_http_request_t *r);
static void ngx_http_upload_filter_response_cleanup(void *data);


static ngx_http_module_t  ngx_http_upload_filter_response_module_ctx = {
    NULL,                                    /* preconfiguration */
    ngx_http_upload_filter_response_init,    /* postconfiguration */

    NULL,                                    /* create main configuration */
    NULL,                                    /* init main configuration */

    NULL,                                    /* create server configuration */
    NULL,                                    /* merge server configuration */

    NULL,                                    /* create location configuration */
    NULL                                     /* merge location configuration */
};


/* the directives are ngx_http_upload_filter_module's: one configuration */
ngx_module_t  ngx_http_upload_filter_response_module = {
    NGX_MODULE_V1,
    &ngx_http_upload_filter_response_module_ctx, /* module context */
    NULL,                                    /* module directives */
    NGX_HTTP_MODULE,                         /* module type */
    NULL,                                    /* init master */
    NULL,                                    /* init module */
    NULL,                                    /* init process */
    NULL,                                    /* init thread */
    NULL,                                    /* exit thread */
    NULL,                                    /* exit process */
    NULL,                                    /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_int_t
ngx_http_upload_filter_response_init(ngx_conf_t *cf)
{
    ngx_http_upload_filter_main_conf_t  *umcf;

    umcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_upload_filter_module);

    if (!umcf->responses) {
        return NGX_OK;
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_upload_filter_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_upload_filter_response_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_filter_header_filter(ngx_http_request_t *r)
{
    off_t                               len;
    ngx_int_t                           rc;
    ngx_str_t                           ce;
    ngx_pool_cleanup_t                 *cln;
    ngx_http_upload_filter_ctx_t       *ctx;
    ngx_http_upload_filter_loc_conf_t  *ulcf;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_upload_filter_response_ctx(r);

    if (ctx) {
        /* the refusal itself, or its error_page */
        if (ctx->state == NGX_HTTP_UPLOAD_FILTER_REJECTED
            && ngx_http_upload_filter_blocked_by(r, ctx) != NGX_OK)
        {
            return NGX_ERROR;
        }

        return ngx_http_next_header_filter(r);
    }

    ulcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_filter_module);

    if (!ulcf->responses || r->headers_out.status != NGX_HTTP_OK) {
        return ngx_http_next_header_filter(r);
    }

    /* what the verdict zone knows goes for HEAD and Range requests too */
    if (ulcf->response_zone == NULL
        && (r->header_only || r->method == NGX_HTTP_HEAD
            || r->headers_out.content_length_n == 0))
    {
        return ngx_http_next_header_filter(r);
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_upload_filter_ctx_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    ctx = cln->data;
    ngx_memzero(ctx, sizeof(ngx_http_upload_filter_ctx_t));

    ctx->request = r;
    ctx->conf = ulcf;
    ctx->response = 1;

    cln->handler = ngx_http_upload_filter_response_cleanup;

    ngx_http_set_ctx(r, ctx, ngx_http_upload_filter_response_module);

    rc = ngx_http_upload_filter_zone_find(ctx);

    switch (rc) {

    case NGX_ERROR:
        return NGX_ERROR;

    case NGX_OK:
        /* judged before, under this same set: not read again */
        ngx_http_upload_filter_metrics_known(0);
        ctx->result = NGX_HTTP_UPLOAD_FILTER_CLEAN;
        ctx->released = 1;
        return ngx_http_next_header_filter(r);

    case NGX_AGAIN:
        ngx_http_upload_filter_metrics_known(1);

        rc = ngx_http_upload_filter_zone_rejudge(ctx);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            ctx->released = 1;

            if (ctx->state == NGX_HTTP_UPLOAD_FILTER_REJECTED) {
                /* no byte of it was read, none is sent */
                return ngx_http_filter_finalize_request(r,
                                      &ngx_http_upload_filter_response_module,
                                      ctx->status);
            }

            return ngx_http_next_header_filter(r);
        }

        /* its kept hashes cannot answer: inspected as new */
        break;

    default: /* NGX_DECLINED */
        break;
    }

    if (ctx->known) {
        ngx_http_upload_filter_metrics_known(2);
    }

    if (r->header_only || r->method == NGX_HTTP_HEAD
        || r->headers_out.content_length_n == 0)
    {
        ctx->released = 1;
        return ngx_http_next_header_filter(r);
    }

    if (r->headers_in.range) {
        ctx->released = 1;
        ngx_http_upload_filter_uninspected(r);
        return ngx_http_next_header_filter(r);
    }

    len = r->headers_out.content_length_n;

    ngx_str_null(&ce);
    if (r->headers_out.content_encoding) {
        ce = r->headers_out.content_encoding->value;
    }

    ctx->keep_frames = (ctx->known != NULL);

    ngx_http_upload_filter_inspect_start(ctx, &r->headers_out.content_type,
                                         &ce, len);

    if (ctx->state == NGX_HTTP_UPLOAD_FILTER_INSPECTED
        && ctx->result != NGX_HTTP_UPLOAD_FILTER_ERROR)
    {
        /* nothing can match (an empty set): not held */
        ctx->released = 1;
        return ngx_http_next_header_filter(r);
    }

    /* file buffers (sendfile, cache hits) are read into memory for us */
    r->main_filter_need_in_memory = 1;

    if (len > (off_t) ulcf->response_buffer) {
        ngx_http_upload_filter_stream(r, ctx);
        return ngx_http_next_header_filter(r);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_filter_response_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in)
{
    ngx_int_t                      rc;
    ngx_chain_t                   *cl;
    ngx_http_upload_filter_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upload_filter_response_module);

    if (ctx == NULL || ctx->released) {
        return ngx_http_next_body_filter(r, in);
    }

    if (ctx->streamed) {
        return ngx_http_upload_filter_streamed(r, ctx, in);
    }

    if (ctx->state == NGX_HTTP_UPLOAD_FILTER_HASHING) {
        /* ngx_http_writer, while the thread works */
        return NGX_OK;
    }

    for (cl = in; cl; cl = cl->next) {

        rc = ngx_http_upload_filter_hold(r, ctx, cl->buf);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_DECLINED) {
            /* grown past the buffer: what is held goes, the rest streams */
            return ngx_http_upload_filter_grown(r, ctx, cl);
        }

        if (cl->buf->last_buf) {
            ctx->complete = 1;
        }
    }

    if (!ctx->complete) {
        r->buffered |= NGX_HTTP_UPLOAD_FILTER_BUFFERED;
        return NGX_OK;
    }

    if (ctx->state == NGX_HTTP_UPLOAD_FILTER_INSPECTING) {
        ngx_http_upload_filter_inspect_finish(ctx);
    }

    if (ctx->images && ctx->state != NGX_HTTP_UPLOAD_FILTER_REJECTED
        && ngx_http_upload_filter_pdq_post(r, ctx) == NGX_AGAIN)
    {
        /* when it is done, ngx_http_writer calls again with in == NULL */
        r->buffered |= NGX_HTTP_UPLOAD_FILTER_BUFFERED;
        return NGX_OK;
    }

    ngx_http_upload_filter_zone_store(ctx);

    return ngx_http_upload_filter_judged(r, ctx);
}


/*
 * A response larger than upload_filter_response_buffer is sent on as it
 * is hashed (digests only: its images are not kept for PDQ).  The chain
 * that carries its last byte (by its Content-Length, else its last
 * buffer) is passed on only after the verdict: on a match the
 * connection is closed before it, and the client has a truncated object.
 */
static void
ngx_http_upload_filter_stream(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx)
{
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "upload_filter: response streamed, larger than "
                  "upload_filter_response_buffer: digests only");

    ctx->streamed = 1;
    ctx->pdq = 0;
    ngx_http_upload_filter_pdq_cleanup(ctx);
    ngx_http_upload_filter_metrics_uninspected(
                                           NGX_HTTP_UPLOAD_FILTER_STREAMED);
}


static ngx_int_t
ngx_http_upload_filter_streamed(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx, ngx_chain_t *in)
{
    off_t         size, length;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_uint_t    last;
    ngx_chain_t  *cl;

    last = 0;
    size = 0;
    length = r->headers_out.content_length_n;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file && !ngx_buf_in_memory(b)) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "upload_filter: a response buffer in a file");
            return NGX_ERROR;
        }

        if (ngx_buf_in_memory(b) && b->last > b->pos) {
            size += b->last - b->pos;

            if (ctx->state == NGX_HTTP_UPLOAD_FILTER_INSPECTING) {
                ctx->received += b->last - b->pos;
                (void) ngx_http_upload_filter_inspect_feed(ctx, b->pos,
                                                      b->last - b->pos);
            }
        }

        if (b->last_buf) {
            last = 1;
        }
    }

    if (length >= 0 && ctx->received >= length) {
        last = 1;
    }

    if (last && !ctx->complete) {
        ctx->complete = 1;

        if (ctx->state == NGX_HTTP_UPLOAD_FILTER_INSPECTING) {
            ngx_http_upload_filter_inspect_finish(ctx);
        }

        ngx_http_upload_filter_zone_store(ctx);

        if (ctx->state == NGX_HTTP_UPLOAD_FILTER_REJECTED) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "upload_filter: response cut after %O of %O "
                          "bytes, connection closed", ctx->sent,
                          length >= 0 ? length : ctx->sent + size);

            ctx->released = 1;
            r->keepalive = 0;
            r->connection->error = 1;

            return NGX_ERROR;
        }
    }

    rc = ngx_http_next_body_filter(r, in);

    ctx->sent += size;

    return rc;
}


/*
 * A response without a length grew past upload_filter_response_buffer:
 * the held part goes on and the rest streams (ngx_http_upload_filter_
 * streamed()), its inspection going on.
 */
static ngx_int_t
ngx_http_upload_filter_grown(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx, ngx_chain_t *in)
{
    ngx_int_t  rc;

    ngx_http_upload_filter_stream(r, ctx);
    r->buffered &= ~NGX_HTTP_UPLOAD_FILTER_BUFFERED;

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return NGX_ERROR;
    }

    if (ctx->held_len) {
        rc = ngx_http_upload_filter_send_held(r, ctx, 0);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        ctx->sent = ctx->held_len;
    }

    return ngx_http_upload_filter_streamed(r, ctx, in);
}


/*
 * One buffer of the body: its bytes into the inspection and into the
 * held copy, and the buffer marked as sent, so that whoever filled it
 * fills it again.  NGX_DECLINED: the body grows past
 * upload_filter_response_buffer, the buffer is left as it is.
 */
static ngx_int_t
ngx_http_upload_filter_hold(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx, ngx_buf_t *b)
{
    u_char  *p;
    size_t   size, cap;

    if (b->in_file && !ngx_buf_in_memory(b)) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "upload_filter: a response buffer in a file");
        return NGX_ERROR;
    }

    size = ngx_buf_in_memory(b) ? (size_t) (b->last - b->pos) : 0;

    if (size == 0) {
        return NGX_OK;
    }

    if (ctx->held_len + size > ctx->conf->response_buffer) {
        return NGX_DECLINED;
    }

    if (ctx->held_len + size > ctx->held_cap) {
        cap = r->headers_out.content_length_n > 0
              ? (size_t) r->headers_out.content_length_n
              : ngx_max(2 * ctx->held_cap, 64 * 1024);
        cap = ngx_max(cap, ctx->held_len + size);
        cap = ngx_min(cap, ctx->conf->response_buffer);

        p = ngx_alloc(cap, r->connection->log);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (ctx->held_len) {
            ngx_memcpy(p, ctx->held, ctx->held_len);
        }

        ngx_free(ctx->held);
        ctx->held = p;
        ctx->held_cap = cap;
    }

    ngx_memcpy(ctx->held + ctx->held_len, b->pos, size);
    ctx->held_len += size;

    if (ctx->state == NGX_HTTP_UPLOAD_FILTER_INSPECTING) {
        ctx->received += size;
        (void) ngx_http_upload_filter_inspect_feed(ctx, b->pos, size);
    }

    b->pos = b->last;

    if (b->in_file) {
        b->file_pos = b->file_last;
    }

    return NGX_OK;
}


/* the verdict is in: the response goes on, or is refused */
static ngx_int_t
ngx_http_upload_filter_judged(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx)
{
    if (ctx->state != NGX_HTTP_UPLOAD_FILTER_REJECTED) {
        return ngx_http_upload_filter_release(r, ctx);
    }

    r->buffered &= ~NGX_HTTP_UPLOAD_FILTER_BUFFERED;
    ctx->released = 1;

    /* not a byte of it goes out */
    ngx_free(ctx->held);
    ctx->held = NULL;
    ctx->held_len = 0;
    ctx->held_cap = 0;

    /*
     * As the image filter does: the headers are cleared, the special
     * response (or its error_page) is sent, and the connection closed.
     */
    return ngx_http_filter_finalize_request(r,
                                      &ngx_http_upload_filter_response_module,
                                      ctx->status);
}


/* the held headers and body go on, unchanged: the body is whole */
static ngx_int_t
ngx_http_upload_filter_release(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx)
{
    ngx_int_t  rc;

    r->buffered &= ~NGX_HTTP_UPLOAD_FILTER_BUFFERED;
    ctx->released = 1;

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return NGX_ERROR;
    }

    return ngx_http_upload_filter_send_held(r, ctx, 1);
}


/* the held copy lives as long as the request: freed by the cleanup */
static ngx_int_t
ngx_http_upload_filter_send_held(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx, ngx_uint_t last)
{
    ngx_buf_t    *b;
    ngx_chain_t   out;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = ctx->held;
    b->last = ctx->held + ctx->held_len;
    b->memory = (ctx->held_len != 0);
    b->last_buf = last;
    b->last_in_chain = last;
    b->sync = (ctx->held_len == 0);

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


/* RFC 7725: who asked for the block, when the configuration says */
static ngx_int_t
ngx_http_upload_filter_blocked_by(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx)
{
    u_char           *p;
    ngx_table_elt_t  *h;

    if (ctx->conf->response_link.len == 0 || ctx->link_sent) {
        return NGX_OK;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, ctx->conf->response_link.len
                             + sizeof("<>; rel=\"blocked-by\"") - 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Link");
    h->value.data = p;
    p = ngx_cpymem(p, "<", 1);
    p = ngx_cpymem(p, ctx->conf->response_link.data,
                   ctx->conf->response_link.len);
    p = ngx_cpymem(p, ">; rel=\"blocked-by\"",
                   sizeof(">; rel=\"blocked-by\"") - 1);
    h->value.len = p - h->value.data;

    ctx->link_sent = 1;

    return NGX_OK;
}


/* a Range request for an object the verdict zone does not know */
static void
ngx_http_upload_filter_uninspected(ngx_http_request_t *r)
{
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "upload_filter: response passed uninspected: "
                  "a Range request");

    ngx_http_upload_filter_metrics_uninspected(NGX_HTTP_UPLOAD_FILTER_RANGE);
}


/* the response's verdict, also after an internal redirect (error_page) */
ngx_http_upload_filter_ctx_t *
ngx_http_upload_filter_response_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_upload_filter_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upload_filter_response_module);

    if (ctx || !r->internal) {
        return ctx;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_upload_filter_response_cleanup) {
            ctx = cln->data;
            ngx_http_set_ctx(r, ctx, ngx_http_upload_filter_response_module);
            return ctx;
        }
    }

    return NULL;
}


/* a variable's value, "" when it has none; NULL: no memory */
static ngx_http_variable_value_t *
ngx_http_upload_filter_var(ngx_http_request_t *r, const char *name)
{
    ngx_str_t                   n;
    ngx_http_variable_value_t  *vv;

    static ngx_http_variable_value_t  none = ngx_http_variable("");

    n.data = (u_char *) name;
    n.len = ngx_strlen(name);

    vv = ngx_http_get_variable(r, &n, ngx_hash_key(n.data, n.len));

    if (vv == NULL || !vv->not_found) {
        return vv;
    }

    return &none;
}


/* the URL the client asked for: $scheme://$host$request_uri */
ngx_int_t
ngx_http_upload_filter_response_url(ngx_http_request_t *r, ngx_str_t *url)
{
    u_char                     *p;
    ngx_http_variable_value_t  *scheme, *host, *uri;

    scheme = ngx_http_upload_filter_var(r, "scheme");
    host = ngx_http_upload_filter_var(r, "host");
    uri = ngx_http_upload_filter_var(r, "request_uri");

    if (scheme == NULL || host == NULL || uri == NULL) {
        return NGX_ERROR;
    }

    url->data = ngx_pnalloc(r->pool, scheme->len + sizeof("://") - 1
                                     + host->len + uri->len);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(url->data, scheme->data, scheme->len);
    p = ngx_cpymem(p, "://", 3);
    p = ngx_cpymem(p, host->data, host->len);
    p = ngx_cpymem(p, uri->data, uri->len);
    url->len = p - url->data;

    return NGX_OK;
}


/*
 * What a notice-and-takedown needs of a refused response, for its log
 * line: the URL, the verdict zone's key, the upstream and the cache's
 * say, the type, and how it was judged: held whole, streamed (and how
 * much of it had been sent), or known from the verdict zone.
 */
ngx_int_t
ngx_http_upload_filter_response_facts(ngx_http_upload_filter_ctx_t *ctx,
    ngx_str_t *facts)
{
    size_t                      len;
    u_char                     *p, *url, *type, *up, *cache, *key;
    ngx_str_t                   u;
    ngx_http_request_t         *r;
    ngx_http_variable_value_t  *upstream, *status;

    r = ctx->request;

    upstream = ngx_http_upload_filter_var(r, "upstream_addr");
    status = ngx_http_upload_filter_var(r, "upstream_cache_status");

    if (upstream == NULL || status == NULL
        || ngx_http_upload_filter_response_url(r, &u) != NGX_OK)
    {
        return NGX_ERROR;
    }

    url = ngx_http_upload_filter_escape(r->pool, u.data, u.len);
    type = ngx_http_upload_filter_escape(r->pool,
                                         r->headers_out.content_type.data,
                                         r->headers_out.content_type.len);
    up = ngx_http_upload_filter_escape(r->pool, upstream->data,
                                       upstream->len);
    cache = ngx_http_upload_filter_escape(r->pool, status->data,
                                          status->len);
    key = (u_char *) "";

    if (ctx->known) {
        key = ngx_http_upload_filter_known_key(r, ctx->known);
    }

    if (url == NULL || type == NULL || up == NULL || cache == NULL
        || key == NULL)
    {
        return NGX_ERROR;
    }

    len = sizeof(" url=\"\" key=\"\" type=\"\" upstream=\"\" cache=\"\"") - 1
          + ngx_strlen(url) + ngx_strlen(key) + ngx_strlen(type)
          + ngx_strlen(up) + ngx_strlen(cache)
          + sizeof(" streamed sent=") + NGX_OFF_T_LEN;

    facts->data = ngx_pnalloc(r->pool, len);
    if (facts->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(facts->data, " url=\"%s\"", url);

    if (*key) {
        p = ngx_sprintf(p, " key=\"%s\"", key);
    }

    p = ngx_sprintf(p, " type=\"%s\"", type);

    if (*up) {
        p = ngx_sprintf(p, " upstream=\"%s\"", up);
    }

    if (*cache) {
        p = ngx_sprintf(p, " cache=\"%s\"", cache);
    }

    if (ctx->rejudging) {
        p = ngx_cpymem(p, " known", 6);

    } else if (ctx->streamed) {
        p = ngx_sprintf(p, " streamed sent=%O", ctx->sent);

    } else {
        p = ngx_cpymem(p, " held", 5);
    }

    facts->len = p - facts->data;

    return NGX_OK;
}


static void
ngx_http_upload_filter_response_cleanup(void *data)
{
    ngx_http_upload_filter_ctx_t  *ctx = data;

    ngx_http_upload_filter_metrics_request(ctx);
    ngx_http_upload_filter_inspect_stop(ctx);

    ngx_free(ctx->held);
    ctx->held = NULL;
}
