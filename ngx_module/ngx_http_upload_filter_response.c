
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


/* why a response passes uninspected: the metric's reason, then the log's */
#define NGX_HTTP_UPLOAD_FILTER_RANGE     0
#define NGX_HTTP_UPLOAD_FILTER_LARGE     1
#define NGX_HTTP_UPLOAD_FILTER_GREW      2

static const char  *ngx_http_upload_filter_uninspected_why[] = {
    "a Range request",
    "larger than upload_filter_response_buffer",
    "grew larger than upload_filter_response_buffer"
};


static ngx_int_t ngx_http_upload_filter_response_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_upload_filter_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_upload_filter_response_body_filter(
    ngx_http_request_t *r, ngx_chain_t *in);
static ngx_int_t ngx_http_upload_filter_hold(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx, ngx_buf_t *b);
static ngx_int_t ngx_http_upload_filter_judged(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx);
static ngx_int_t ngx_http_upload_filter_release(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx, ngx_uint_t last);
static ngx_int_t ngx_http_upload_filter_blocked_by(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx);
static void ngx_http_upload_filter_uninspected(ngx_http_request_t *r,
    ngx_uint_t why);
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

    if (!ulcf->responses
        || r->headers_out.status != NGX_HTTP_OK
        || r->header_only
        || r->method == NGX_HTTP_HEAD
        || r->headers_out.content_length_n == 0)
    {
        return ngx_http_next_header_filter(r);
    }

    if (r->headers_in.range) {
        ngx_http_upload_filter_uninspected(r, NGX_HTTP_UPLOAD_FILTER_RANGE);
        return ngx_http_next_header_filter(r);
    }

    len = r->headers_out.content_length_n;

    if (len > (off_t) ulcf->response_buffer) {
        ngx_http_upload_filter_uninspected(r, NGX_HTTP_UPLOAD_FILTER_LARGE);
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

    ngx_str_null(&ce);
    if (r->headers_out.content_encoding) {
        ce = r->headers_out.content_encoding->value;
    }

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
            /* grown past the buffer: the rest goes on uninspected */
            if (ngx_http_upload_filter_release(r, ctx, 0) == NGX_ERROR) {
                return NGX_ERROR;
            }

            return ngx_http_next_body_filter(r, cl);
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

    return ngx_http_upload_filter_judged(r, ctx);
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
        ngx_http_upload_filter_uninspected(r, NGX_HTTP_UPLOAD_FILTER_GREW);
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
        return ngx_http_upload_filter_release(r, ctx, 1);
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


/*
 * The held headers and body go on, unchanged; "last": the body is whole
 * (else the rest follows, uninspected).
 */
static ngx_int_t
ngx_http_upload_filter_release(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx, ngx_uint_t last)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->buffered &= ~NGX_HTTP_UPLOAD_FILTER_BUFFERED;
    ctx->released = 1;

    if (!last) {
        /* no verdict will come: the inspection stops here */
        ngx_http_upload_filter_inspect_stop(ctx);
        ctx->state = NGX_HTTP_UPLOAD_FILTER_INSPECTED;
        ctx->result = NGX_HTTP_UPLOAD_FILTER_NONE;
    }

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return NGX_ERROR;
    }

    if (ctx->held_len == 0 && !last) {
        return NGX_OK;
    }

    /* the held copy lives as long as the request: freed by the cleanup */
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


static void
ngx_http_upload_filter_uninspected(ngx_http_request_t *r, ngx_uint_t why)
{
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "upload_filter: response passed uninspected: %s",
                  ngx_http_upload_filter_uninspected_why[why]);

    /* the metric counts Range requests and sizes */
    ngx_http_upload_filter_metrics_uninspected(
                                       why == NGX_HTTP_UPLOAD_FILTER_RANGE
                                       ? 0 : 1);
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


/*
 * What a notice-and-takedown needs of a refused response, for its log
 * line: the URL, the upstream and the cache's say, the type.
 */
ngx_int_t
ngx_http_upload_filter_response_facts(ngx_http_upload_filter_ctx_t *ctx,
    ngx_str_t *facts)
{
    size_t                      len;
    u_char                     *p, *url, *type, *up, *cache;
    ngx_str_t                   name;
    ngx_uint_t                  i;
    ngx_http_request_t         *r;
    ngx_http_variable_value_t  *vv;

    static ngx_str_t  names[] = {
        ngx_string("scheme"), ngx_string("host"),
        ngx_string("request_uri"), ngx_string("upstream_addr"),
        ngx_string("upstream_cache_status")
    };
    u_char           *val[sizeof(names) / sizeof(names[0])];
    size_t            vlen[sizeof(names) / sizeof(names[0])];

    r = ctx->request;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        name = names[i];
        vv = ngx_http_get_variable(r, &name,
                                   ngx_hash_key(name.data, name.len));
        if (vv == NULL) {
            return NGX_ERROR;
        }

        if (vv->not_found) {
            val[i] = (u_char *) "";
            vlen[i] = 0;

        } else {
            val[i] = vv->data;
            vlen[i] = vv->len;
        }
    }

    len = vlen[0] + sizeof("://") - 1 + vlen[1] + vlen[2];
    url = ngx_pnalloc(r->pool, len + 1);
    if (url == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(url, val[0], vlen[0]);
    p = ngx_cpymem(p, "://", 3);
    p = ngx_cpymem(p, val[1], vlen[1]);
    p = ngx_cpymem(p, val[2], vlen[2]);

    url = ngx_http_upload_filter_escape(r->pool, url, p - url);
    type = ngx_http_upload_filter_escape(r->pool,
                                         r->headers_out.content_type.data,
                                         r->headers_out.content_type.len);
    up = ngx_http_upload_filter_escape(r->pool, val[3], vlen[3]);
    cache = ngx_http_upload_filter_escape(r->pool, val[4], vlen[4]);

    if (url == NULL || type == NULL || up == NULL || cache == NULL) {
        return NGX_ERROR;
    }

    len = sizeof(" url=\"\" type=\"\" upstream=\"\" cache=\"\" held") - 1
          + ngx_strlen(url) + ngx_strlen(type) + ngx_strlen(up)
          + ngx_strlen(cache);

    facts->data = ngx_pnalloc(r->pool, len + 1);
    if (facts->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(facts->data, " url=\"%s\" type=\"%s\"", url, type);

    if (*up) {
        p = ngx_sprintf(p, " upstream=\"%s\"", up);
    }

    if (*cache) {
        p = ngx_sprintf(p, " cache=\"%s\"", cache);
    }

    p = ngx_cpymem(p, " held", 5);
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
