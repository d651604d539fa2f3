
/*
 * ngx_http_upload_filter_module: rejects uploads whose MD5, SHA-1 or
 * SHA-256 digest is listed in a hash set (an LMDB directory kept by the
 * hashdb tool).
 *
 * How a body is judged:
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



static ngx_int_t ngx_http_upload_filter_handler(ngx_http_request_t *r);
static void ngx_http_upload_filter_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_upload_filter_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_upload_filter_start(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx);
static ngx_int_t ngx_http_upload_filter_feed(ngx_http_upload_filter_ctx_t *ctx,
    u_char *p, size_t len);
static ngx_int_t ngx_http_upload_filter_finish(
    ngx_http_upload_filter_ctx_t *ctx);
static void ngx_http_upload_filter_inspect_error(
    ngx_http_upload_filter_ctx_t *ctx, int rc);
static ngx_table_elt_t *ngx_http_upload_filter_header(ngx_http_request_t *r,
    ngx_str_t *name, ngx_uint_t *n);

static ngx_http_upload_filter_ctx_t *ngx_http_upload_filter_get_ctx(
    ngx_http_request_t *r);
static ngx_http_upload_filter_ctx_t *ngx_http_upload_filter_create_ctx(
    ngx_http_request_t *r);
static void ngx_http_upload_filter_cleanup(void *data);

static ngx_int_t ngx_http_upload_filter_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_upload_filter_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static void *ngx_http_upload_filter_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_upload_filter_init_main_conf(ngx_conf_t *cf,
    void *conf);
static void *ngx_http_upload_filter_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_upload_filter_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_upload_filter_db(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_upload_filter_on_error(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
#if (NGX_THREADS)
static char *ngx_http_upload_filter_thread_pool(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
#endif
static ngx_int_t ngx_http_upload_filter_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_upload_filter_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_upload_filter_init_process(ngx_cycle_t *cycle);
static void ngx_http_upload_filter_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_upload_filter_actions[] = {
    { ngx_string("block"), NGX_HTTP_UPLOAD_FILTER_BLOCK },
    { ngx_string("log"), NGX_HTTP_UPLOAD_FILTER_LOG },
    { ngx_null_string, 0 }
};


typedef struct {
    ngx_str_t    name;
    ngx_uint_t   status;        /* sent when the case is rejected */
} ngx_http_upload_filter_case_t;


static ngx_http_upload_filter_case_t  ngx_http_upload_filter_cases[] = {
    { ngx_string("unavailable"), NGX_HTTP_SERVICE_UNAVAILABLE },
    { ngx_string("too_large"), NGX_HTTP_REQUEST_ENTITY_TOO_LARGE },
    { ngx_string("too_many_parts"), NGX_HTTP_BAD_REQUEST },
    { ngx_string("malformed"), NGX_HTTP_BAD_REQUEST },
    { ngx_string("internal"), NGX_HTTP_INTERNAL_SERVER_ERROR },
    { ngx_string("unhashable"), 422 },
    { ngx_string("timeout"), NGX_HTTP_SERVICE_UNAVAILABLE }
};


static ngx_conf_num_bounds_t  ngx_http_upload_filter_status_bounds = {
    ngx_conf_check_num_bounds, 400, 599
};


static ngx_conf_num_bounds_t  ngx_http_upload_filter_distance_bounds = {
    ngx_conf_check_num_bounds, 0, HDB_PDQ_DISTANCE_MAX
};


static ngx_conf_num_bounds_t  ngx_http_upload_filter_headers_bounds = {
    ngx_conf_check_num_bounds, 1024, 16 * 1024 * 1024
};


static ngx_conf_num_bounds_t  ngx_http_upload_filter_quality_bounds = {
    ngx_conf_check_num_bounds, 0, 100
};


static ngx_command_t  ngx_http_upload_filter_commands[] = {

    { ngx_string("upload_filter"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, enable),
      NULL },

    { ngx_string("upload_filter_db"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_upload_filter_db,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_filter_resident"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_upload_filter_resident_conf,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_filter_action"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, action),
      &ngx_http_upload_filter_actions },

    { ngx_string("upload_filter_status"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, status),
      &ngx_http_upload_filter_status_bounds },

    { ngx_string("upload_filter_max_body_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, max_body_size),
      NULL },

    { ngx_string("upload_filter_max_parts"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, max_parts),
      NULL },

    { ngx_string("upload_filter_part_headers_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, part_headers_size),
      &ngx_http_upload_filter_headers_bounds },

    { ngx_string("upload_filter_max_decompressed_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, max_decompressed_size),
      NULL },

    { ngx_string("upload_filter_max_compression_ratio"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, max_compression_ratio),
      NULL },

    { ngx_string("upload_filter_grpc"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, grpc),
      NULL },

    { ngx_string("upload_filter_on_error"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_upload_filter_on_error,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_filter_pdq_distance"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, pdq_distance),
      &ngx_http_upload_filter_distance_bounds },

    { ngx_string("upload_filter_pdq_min_quality"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, pdq_min_quality),
      &ngx_http_upload_filter_quality_bounds },

    { ngx_string("upload_filter_pdq_max_pixels"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, pdq_max_pixels),
      NULL },

    { ngx_string("upload_filter_pdq_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, pdq_max_size),
      NULL },

    { ngx_string("upload_filter_budget"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, budget),
      NULL },

#if (NGX_THREADS)
    { ngx_string("upload_filter_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_upload_filter_thread_pool,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },
#endif

      ngx_null_command
};


static ngx_http_module_t  ngx_http_upload_filter_module_ctx = {
    ngx_http_upload_filter_add_variables,    /* preconfiguration */
    ngx_http_upload_filter_init,             /* postconfiguration */

    ngx_http_upload_filter_create_main_conf, /* create main configuration */
    ngx_http_upload_filter_init_main_conf,   /* init main configuration */

    NULL,                                    /* create server configuration */
    NULL,                                    /* merge server configuration */

    ngx_http_upload_filter_create_loc_conf,  /* create location configuration */
    ngx_http_upload_filter_merge_loc_conf    /* merge location configuration */
};


ngx_module_t  ngx_http_upload_filter_module = {
    NGX_MODULE_V1,
    &ngx_http_upload_filter_module_ctx,      /* module context */
    ngx_http_upload_filter_commands,         /* module directives */
    NGX_HTTP_MODULE,                         /* module type */
    NULL,                                    /* init master */
    ngx_http_upload_filter_init_module,      /* init module */
    ngx_http_upload_filter_init_process,     /* init process */
    NULL,                                    /* init thread */
    NULL,                                    /* exit thread */
    ngx_http_upload_filter_exit_process,     /* exit process */
    NULL,                                    /* exit master */
    NGX_MODULE_V1_PADDING
};


enum {
    NGX_HTTP_UPLOAD_FILTER_VAR_RESULT = 0,
    NGX_HTTP_UPLOAD_FILTER_VAR_MATCH,
    NGX_HTTP_UPLOAD_FILTER_VAR_SOURCE,
    NGX_HTTP_UPLOAD_FILTER_VAR_CATEGORY,
    NGX_HTTP_UPLOAD_FILTER_VAR_ENTRY,
    NGX_HTTP_UPLOAD_FILTER_VAR_DISTANCE,
    NGX_HTTP_UPLOAD_FILTER_VAR_REASON
};


static ngx_http_variable_t  ngx_http_upload_filter_vars[] = {

    { ngx_string("upload_filter_result"), NULL,
      ngx_http_upload_filter_variable, NGX_HTTP_UPLOAD_FILTER_VAR_RESULT,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_filter_match"), NULL,
      ngx_http_upload_filter_variable, NGX_HTTP_UPLOAD_FILTER_VAR_MATCH,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_filter_source"), NULL,
      ngx_http_upload_filter_variable, NGX_HTTP_UPLOAD_FILTER_VAR_SOURCE,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_filter_category"), NULL,
      ngx_http_upload_filter_variable, NGX_HTTP_UPLOAD_FILTER_VAR_CATEGORY,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_filter_entry"), NULL,
      ngx_http_upload_filter_variable, NGX_HTTP_UPLOAD_FILTER_VAR_ENTRY,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_filter_distance"), NULL,
      ngx_http_upload_filter_variable, NGX_HTTP_UPLOAD_FILTER_VAR_DISTANCE,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("upload_filter_reason"), NULL,
      ngx_http_upload_filter_variable, NGX_HTTP_UPLOAD_FILTER_VAR_REASON,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_upload_filter_results[] = {
    ngx_null_string,
    ngx_string("clean"),
    ngx_string("match"),
    ngx_string("error"),
    ngx_string("allowed")
};


static ngx_http_request_body_filter_pt   ngx_http_next_request_body_filter;

/* the worker's hash set, opened after fork in init_process */
ngx_http_upload_filter_main_conf_t  *ngx_http_upload_filter_worker;

static ngx_int_t
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

    if (ctx && ctx->rejected) {
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
            ctx->done = 1;

            if (ctx->rejected) {
                return ngx_http_upload_filter_verdict(r, ctx);
            }

            return NGX_DECLINED;
        }
    }

    if (ctx->done || ctx->started || ctx->reading) {
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

    if (!ctx->done) {
        /* the body had been read before the filter could see it */
        ngx_http_upload_filter_fail(ctx, NGX_LOG_ERR,
                                    NGX_HTTP_UPLOAD_FILTER_INTERNAL,
                                    "body read before the filter saw it");
        ctx->done = 1;
    }

    if (ctx->pdq_pending && !ctx->rejected
        && ngx_http_upload_filter_pdq_post(r, ctx) == NGX_AGAIN)
    {
        /* JPEGs are hashed in a thread: the request waits for them */
        return;
    }

    if (ctx->rejected) {
        ngx_http_finalize_request(r, ngx_http_upload_filter_verdict(r, ctx));
        return;
    }

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
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

    if (ctx->done) {
        return ngx_http_next_request_body_filter(r, in);
    }

    if (!ctx->started) {
        rc = ngx_http_upload_filter_start(r, ctx);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    for (cl = in; cl && ctx->inspecting; cl = cl->next) {
        b = cl->buf;

        if (b->in_file && !ngx_buf_in_memory(b)) {
            ngx_http_upload_filter_fail(ctx, NGX_LOG_ALERT,
                                        NGX_HTTP_UPLOAD_FILTER_INTERNAL,
                                        "body buffer in a file");
            break;
        }

        if (b->last > b->pos
            && ngx_http_upload_filter_feed(ctx, b->pos, b->last - b->pos)
               != NGX_OK)
        {
            break;
        }

        if (b->last_buf) {
            ngx_http_upload_filter_finish(ctx);
            break;
        }
    }

    if (!ctx->inspecting) {
        ctx->done = 1;

        if (ctx->pdq_pending && !ctx->rejected && !ctx->reading) {
            /* no thread to wait for here: see ngx_http_upload_filter_pdq.c */
            ngx_http_upload_filter_pdq_run(ctx);
        }

        if (ctx->rejected) {
            return ngx_http_upload_filter_verdict(r, ctx);
        }
    }

    return ngx_http_next_request_body_filter(r, in);
}


/*
 * Sets up the inspection of this body: what its headers say it is, and
 * the digests the hash set asks for.
 */
static ngx_int_t
ngx_http_upload_filter_start(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx)
{
    int                                  rc;
    unsigned                             plan;
    ngx_str_t                            name;
    ngx_uint_t                           n;
    ngx_table_elt_t                     *ct, *ce;
    uf_inspect_conf_t                    conf;
    ngx_http_upload_filter_main_conf_t  *umcf;

    ctx->started = 1;
    ctx->inspecting = 1;

    umcf = ngx_http_upload_filter_worker;

    if (umcf == NULL || umcf->reader == NULL) {
        ngx_http_upload_filter_fail(ctx, NGX_LOG_ERR,
                                    NGX_HTTP_UPLOAD_FILTER_UNAVAILABLE,
                                    "hash set unavailable");
        return NGX_OK;
    }

    rc = hdb_reader_begin(umcf->reader);
    if (rc == 0) {
        rc = hdb_reader_plan(umcf->reader, &plan);
        hdb_reader_end(umcf->reader);
    }

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "upload_filter: hash set \"%V\": %s",
                      &umcf->db_path, hdb_strerror(rc));
        ngx_http_upload_filter_fail(ctx, NGX_LOG_ERR,
                                    NGX_HTTP_UPLOAD_FILTER_UNAVAILABLE,
                                    "hash set unreadable");
        return NGX_OK;
    }

    if (plan == 0) {
        /* an empty hash set: nothing can match */
        ctx->result = NGX_HTTP_UPLOAD_FILTER_CLEAN;
        ctx->inspecting = 0;
        return NGX_OK;
    }

    ctx->pdq = (plan & HDB_TYPE_BIT(HDB_PDQ)) != 0;
    ctx->digest_types = plan & HDB_DIGEST_TYPES;

    /*
     * nginx 1.22 keeps the first of two Content-Type headers, proxy_pass
     * forwards both, werkzeug joins them: which one the application
     * reads is anybody's guess.
     */
    ngx_str_set(&name, "Content-Type");
    ct = ngx_http_upload_filter_header(r, &name, &n);

    if (n > 1) {
        ngx_http_upload_filter_fail(ctx, NGX_LOG_WARN,
                                    NGX_HTTP_UPLOAD_FILTER_MALFORMED,
                                    "two Content-Type headers");
        return NGX_OK;
    }

    ngx_str_set(&name, "Content-Encoding");
    ce = ngx_http_upload_filter_header(r, &name, &n);

    if (n > 1) {
        ngx_http_upload_filter_fail(ctx, NGX_LOG_WARN,
                                    NGX_HTTP_UPLOAD_FILTER_MALFORMED,
                                    "two Content-Encoding headers");
        return NGX_OK;
    }

    conf.header_max = ctx->conf->part_headers_size;
    conf.max_parts = (unsigned) ctx->conf->max_parts;
    conf.max_depth = NGX_HTTP_UPLOAD_FILTER_MAX_DEPTH;
    conf.field_min = NGX_HTTP_UPLOAD_FILTER_FIELD_MIN;
    conf.inflate_max = (uint64_t) ctx->conf->max_decompressed_size;
    conf.inflate_ratio = (unsigned) ctx->conf->max_compression_ratio;

    rc = uf_inspect_new(&ctx->inspect, &conf, &ngx_http_upload_filter_sink,
                        ctx, ct ? ct->value.data : NULL,
                        ct ? ct->value.len : 0, ce ? ce->value.data : NULL,
                        ce ? ce->value.len : 0,
                        r->headers_in.content_length_n > 0
                        ? (size_t) r->headers_in.content_length_n : 0);

    if (rc != UF_IN_OK) {
        ngx_http_upload_filter_inspect_error(ctx, rc);
    }

    return NGX_OK;
}


/* the first header of that name, and how many there are */
static ngx_table_elt_t *
ngx_http_upload_filter_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_uint_t *n)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *first;

    first = NULL;
    *n = 0;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].key.len == name->len
                && ngx_strncasecmp(h[i].key.data, name->data, name->len)
                   == 0)
            {
                if (first == NULL) {
                    first = &h[i];
                }

                (*n)++;
            }
        }
    }

    return first;
}


/* the inspection stopped: a verdict (already set), or why none came */
static void
ngx_http_upload_filter_inspect_error(ngx_http_upload_filter_ctx_t *ctx,
    int rc)
{
    if (rc > 0 || !ctx->inspecting) {
        /* the sink set the verdict, or the failure, itself */
        ctx->inspecting = 0;
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


static ngx_int_t
ngx_http_upload_filter_feed(ngx_http_upload_filter_ctx_t *ctx, u_char *p,
    size_t len)
{
    int  rc;

    ctx->received += len;

    if (ctx->conf->max_body_size
        && ctx->received > ctx->conf->max_body_size)
    {
        ngx_http_upload_filter_fail(ctx, NGX_LOG_WARN,
                                    NGX_HTTP_UPLOAD_FILTER_TOO_LARGE,
                                    "body larger than "
                                    "upload_filter_max_body_size");
        return NGX_ERROR;
    }

    rc = uf_inspect_feed(ctx->inspect, p, len);

    if (rc != UF_IN_OK) {
        ngx_http_upload_filter_inspect_error(ctx, rc);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_filter_finish(ngx_http_upload_filter_ctx_t *ctx)
{
    int  rc;

    rc = uf_inspect_finish(ctx->inspect);

    if (rc != UF_IN_OK) {
        ngx_http_upload_filter_inspect_error(ctx, rc);
    }

    if (ctx->inspecting) {
        ctx->inspecting = 0;

        if (ctx->result == NGX_HTTP_UPLOAD_FILTER_NONE) {
            ctx->result = NGX_HTTP_UPLOAD_FILTER_CLEAN;
        }
    }

    return NGX_OK;
}


/*
 * The variables name the first listed digest (for PDQ: the upload's hash,
 * the listed entry and the distance); a match of the allow list only
 * until a real match comes.
 */
ngx_int_t
ngx_http_upload_filter_set_match(ngx_http_upload_filter_ctx_t *ctx,
    const hdb_match_t *m, const char *digest)
{
    u_char  *p;
    size_t   len;

    if (ctx->result == NGX_HTTP_UPLOAD_FILTER_MATCH
        || (m->allowed && ctx->result == NGX_HTTP_UPLOAD_FILTER_ALLOWED))
    {
        return NGX_OK;
    }

    len = ngx_strlen(digest);

    p = ngx_pnalloc(ctx->request->pool,
                    len + sizeof("pdq:") + 2 * HDB_PDQ_SIZE + HDB_SOURCE_MAX
                    + HDB_CATEGORY_MAX + NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->match.data = p;
    p = ngx_cpymem(p, digest, len);
    ctx->match.len = p - ctx->match.data;

    ctx->source.data = p;
    p = ngx_cpymem(p, m->source, ngx_strlen(m->source));
    ctx->source.len = p - ctx->source.data;

    ctx->category.data = p;
    p = ngx_cpymem(p, m->category, ngx_strlen(m->category));
    ctx->category.len = p - ctx->category.data;

    if (m->type == HDB_PDQ) {
        ctx->entry.data = p;
        p = ngx_cpymem(p, "pdq:", 4);
        hdb_hex_encode(m->listed, HDB_PDQ_SIZE, (char *) p);
        p += 2 * HDB_PDQ_SIZE;
        ctx->entry.len = p - ctx->entry.data;

    } else {
        ctx->entry = ctx->match;
    }

    ctx->distance.data = p;
    p = ngx_sprintf(p, "%ui", (ngx_uint_t) m->distance);
    ctx->distance.len = p - ctx->distance.data;

    ctx->result = m->allowed ? NGX_HTTP_UPLOAD_FILTER_ALLOWED
                             : NGX_HTTP_UPLOAD_FILTER_MATCH;

    return NGX_OK;
}


/*
 * A verdict cannot be reached: log it once and apply
 * upload_filter_on_error.  A match found earlier in the body stands.
 */
void
ngx_http_upload_filter_fail(ngx_http_upload_filter_ctx_t *ctx,
    ngx_uint_t level, ngx_uint_t which, const char *reason)
{
    ngx_http_request_t  *r = ctx->request;

    ctx->inspecting = 0;

    if (ctx->result == NGX_HTTP_UPLOAD_FILTER_MATCH) {
        return;
    }

    ctx->result = NGX_HTTP_UPLOAD_FILTER_ERROR;
    ctx->reason = reason;

    if (ctx->conf->on_error[which] == NGX_HTTP_UPLOAD_FILTER_REJECT) {
        ctx->rejected = 1;
        ctx->status = ngx_http_upload_filter_cases[which].status;
    }

    ngx_log_error(level, r->connection->log, 0,
                  "upload_filter: cannot inspect upload: %s (%V), %s",
                  reason, &ngx_http_upload_filter_cases[which].name,
                  ctx->rejected ? "rejected" : "passed uninspected");
}


ngx_int_t
ngx_http_upload_filter_verdict(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx)
{
    /*
     * The rest of the body is never read: a keepalive connection would
     * parse it as the next request.  Linger, so that the client still
     * gets the response before the close.
     */
    r->keepalive = 0;
    r->lingering_close = 1;

    return ctx->status;
}


static ngx_http_upload_filter_ctx_t *
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

    /* open objects give their digests back to the spares */
    uf_inspect_free(ctx->inspect);
    ctx->inspect = NULL;

    ngx_http_upload_filter_pdq_cleanup(ctx);
}


/*
 * Part names and file names come from the client: quotes, backslashes,
 * control and non-ASCII bytes are written as \xHH so that a log line
 * stays one line and its quoting cannot be forged.
 */
u_char *
ngx_http_upload_filter_escape(ngx_pool_t *pool, u_char *src, size_t len)
{
    u_char      *dst, *p;
    size_t       i;
    static u_char  hex[] = "0123456789abcdef";

    dst = ngx_pnalloc(pool, 4 * len + 1);
    if (dst == NULL) {
        return NULL;
    }

    p = dst;

    for (i = 0; i < len; i++) {
        if (src[i] < 0x20 || src[i] >= 0x7f || src[i] == '"'
            || src[i] == '\\')
        {
            *p++ = '\\';
            *p++ = 'x';
            *p++ = hex[src[i] >> 4];
            *p++ = hex[src[i] & 0xf];
            continue;
        }

        *p++ = src[i];
    }

    *p = '\0';

    return dst;
}


static ngx_int_t
ngx_http_upload_filter_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_upload_filter_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_filter_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                     *s;
    ngx_http_upload_filter_ctx_t  *ctx;

    ctx = ngx_http_upload_filter_get_ctx(r->main);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_UPLOAD_FILTER_VAR_RESULT:
        s = &ngx_http_upload_filter_results[ctx->result];
        break;

    case NGX_HTTP_UPLOAD_FILTER_VAR_MATCH:
        s = &ctx->match;
        break;

    case NGX_HTTP_UPLOAD_FILTER_VAR_SOURCE:
        s = &ctx->source;
        break;

    case NGX_HTTP_UPLOAD_FILTER_VAR_CATEGORY:
        s = &ctx->category;
        break;

    case NGX_HTTP_UPLOAD_FILTER_VAR_ENTRY:
        s = &ctx->entry;
        break;

    case NGX_HTTP_UPLOAD_FILTER_VAR_DISTANCE:
        s = &ctx->distance;
        break;

    default: /* NGX_HTTP_UPLOAD_FILTER_VAR_REASON */
        if (ctx->reason == NULL) {
            v->not_found = 1;
            return NGX_OK;
        }

        v->len = ngx_strlen(ctx->reason);
        v->data = (u_char *) ctx->reason;
        v->valid = 1;
        v->no_cacheable = 1;
        v->not_found = 0;
        return NGX_OK;
    }

    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s->len;
    v->data = s->data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static void *
ngx_http_upload_filter_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_upload_filter_main_conf_t  *umcf;

    umcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_upload_filter_main_conf_t));
    if (umcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     umcf->db_path = { 0, NULL };
     *     umcf->db = NULL;
     *     umcf->reader = NULL;
     *     umcf->used = 0;
     */

    umcf->resident = NGX_CONF_UNSET_UINT;
    umcf->resident_period = NGX_CONF_UNSET_MSEC;

    return umcf;
}


static char *
ngx_http_upload_filter_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_upload_filter_main_conf_t *umcf = conf;

    ngx_conf_init_uint_value(umcf->resident, 0);

    /*
     * The hosts we run on page out what has not been touched in any of
     * ten samples over 5 s: a page must be read about every second.
     */
    ngx_conf_init_msec_value(umcf->resident_period, 1000);

    return NGX_CONF_OK;
}


static void *
ngx_http_upload_filter_create_loc_conf(ngx_conf_t *cf)
{
    ngx_uint_t                          i;
    ngx_http_upload_filter_loc_conf_t  *conf;

    conf = ngx_palloc(cf->pool, sizeof(ngx_http_upload_filter_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->enable = NGX_CONF_UNSET;
    conf->action = NGX_CONF_UNSET_UINT;
    conf->status = NGX_CONF_UNSET_UINT;
    conf->max_body_size = NGX_CONF_UNSET;
    conf->max_parts = NGX_CONF_UNSET_UINT;
    conf->part_headers_size = NGX_CONF_UNSET_SIZE;
    conf->max_decompressed_size = NGX_CONF_UNSET_SIZE;
    conf->max_compression_ratio = NGX_CONF_UNSET_UINT;
    conf->grpc = NGX_CONF_UNSET;
    for (i = 0; i < NGX_HTTP_UPLOAD_FILTER_NCASES; i++) {
        conf->on_error[i] = NGX_CONF_UNSET_UINT;
    }

    conf->pdq_distance = NGX_CONF_UNSET_UINT;
    conf->pdq_min_quality = NGX_CONF_UNSET_UINT;
    conf->pdq_max_pixels = NGX_CONF_UNSET_SIZE;
    conf->pdq_max_size = NGX_CONF_UNSET_SIZE;
    conf->budget = NGX_CONF_UNSET_MSEC;
#if (NGX_THREADS)
    conf->thread_pool = NGX_CONF_UNSET_PTR;
    conf->no_threads = 0;
#endif

    return conf;
}


static char *
ngx_http_upload_filter_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_upload_filter_loc_conf_t *prev = parent;
    ngx_http_upload_filter_loc_conf_t *conf = child;

    ngx_uint_t                           i;
    ngx_http_upload_filter_main_conf_t  *umcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_uint_value(conf->action, prev->action,
                              NGX_HTTP_UPLOAD_FILTER_BLOCK);
    ngx_conf_merge_uint_value(conf->status, prev->status,
                              NGX_HTTP_FORBIDDEN);
    ngx_conf_merge_off_value(conf->max_body_size, prev->max_body_size, 0);
    ngx_conf_merge_uint_value(conf->max_parts, prev->max_parts, 1000);
    ngx_conf_merge_size_value(conf->part_headers_size,
                              prev->part_headers_size, UF_MP_HEADER_MAX);
    ngx_conf_merge_size_value(conf->max_decompressed_size,
                              prev->max_decompressed_size,
                              64 * 1024 * 1024);
    ngx_conf_merge_uint_value(conf->max_compression_ratio,
                              prev->max_compression_ratio, 100);
    ngx_conf_merge_value(conf->grpc, prev->grpc, 0);
    for (i = 0; i < NGX_HTTP_UPLOAD_FILTER_NCASES; i++) {
        ngx_conf_merge_uint_value(conf->on_error[i], prev->on_error[i],
                                  NGX_HTTP_UPLOAD_FILTER_REJECT);
    }

    ngx_conf_merge_uint_value(conf->pdq_distance, prev->pdq_distance,
                              HDB_PDQ_DISTANCE_DEFAULT);
    ngx_conf_merge_uint_value(conf->pdq_min_quality, prev->pdq_min_quality,
                              HDB_PDQ_QUALITY_DEFAULT);
    ngx_conf_merge_size_value(conf->pdq_max_pixels, prev->pdq_max_pixels,
                              64 * 1024 * 1024);
    ngx_conf_merge_size_value(conf->pdq_max_size, prev->pdq_max_size,
                              32 * 1024 * 1024);
    ngx_conf_merge_msec_value(conf->budget, prev->budget, 1000);

#if (NGX_THREADS)
    if (conf->thread_pool == NGX_CONF_UNSET_PTR) {
        conf->thread_pool = prev->thread_pool;
        conf->no_threads = prev->no_threads;
    }

    if (conf->thread_pool == NGX_CONF_UNSET_PTR) {
        conf->thread_pool = NULL;
    }

    if (conf->enable && conf->thread_pool == NULL && !conf->no_threads) {
        /* nginx's "default" pool, made on first use like aio threads */
        conf->thread_pool = ngx_thread_pool_add(cf, NULL);
        if (conf->thread_pool == NULL) {
            return NGX_CONF_ERROR;
        }
    }
#endif

    if (conf->enable) {
        umcf = ngx_http_conf_get_module_main_conf(cf,
                                                ngx_http_upload_filter_module);
        umcf->used = 1;
#if (NGX_THREADS)
        umcf->threads |= (conf->thread_pool != NULL);
#endif
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_upload_filter_db(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upload_filter_main_conf_t *umcf = conf;

    int         rc;
    hdb_t      *db;
    ngx_str_t  *value;

    if (umcf->db_path.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    umcf->db_path = value[1];

    if (ngx_conf_full_name(cf->cycle, &umcf->db_path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * Open it once here so that "nginx -t" and a reload catch a missing
     * or foreign hash set; workers open their own after fork.
     */
    rc = hdb_open(&db, (char *) umcf->db_path.data, HDB_OPEN_RDONLY);
    if (rc != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "upload_filter_db \"%V\": %s",
                           &umcf->db_path, hdb_strerror(rc));
        return NGX_CONF_ERROR;
    }

    hdb_close(db);

    return NGX_CONF_OK;
}


/* upload_filter_on_error reject|pass [case ...]: no case means all */
static char *
ngx_http_upload_filter_on_error(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_filter_loc_conf_t *ulcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i, j, action;

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "reject") == 0) {
        action = NGX_HTTP_UPLOAD_FILTER_REJECT;

    } else if (ngx_strcmp(value[1].data, "pass") == 0) {
        action = NGX_HTTP_UPLOAD_FILTER_PASS;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\", it must be \"reject\" or "
                           "\"pass\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 2) {
        for (j = 0; j < NGX_HTTP_UPLOAD_FILTER_NCASES; j++) {
            ulcf->on_error[j] = action;
        }

        return NGX_CONF_OK;
    }

    for (i = 2; i < cf->args->nelts; i++) {
        for (j = 0; j < NGX_HTTP_UPLOAD_FILTER_NCASES; j++) {
            if (value[i].len == ngx_http_upload_filter_cases[j].name.len
                && ngx_strcmp(value[i].data,
                              ngx_http_upload_filter_cases[j].name.data) == 0)
            {
                ulcf->on_error[j] = action;
                break;
            }
        }

        if (j == NGX_HTTP_UPLOAD_FILTER_NCASES) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown case \"%V\": use unavailable, "
                               "too_large, too_many_parts, malformed, "
                               "internal, unhashable or timeout", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


#if (NGX_THREADS)

/*
 * upload_filter_thread_pool NAME | off: where JPEGs are decoded and
 * hashed; "off" hashes them in the event loop
 */
static char *
ngx_http_upload_filter_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_filter_loc_conf_t *ulcf = conf;

    ngx_str_t  *value;

    if (ulcf->thread_pool != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ulcf->thread_pool = NULL;
        ulcf->no_threads = 1;
        return NGX_CONF_OK;
    }

    ulcf->thread_pool = ngx_thread_pool_add(cf, &value[1]);
    if (ulcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}

#endif


static ngx_int_t
ngx_http_upload_filter_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt                 *h;
    ngx_http_core_main_conf_t           *cmcf;
    ngx_http_upload_filter_main_conf_t  *umcf;

    umcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_upload_filter_module);

    if (!umcf->used) {
        return NGX_OK;
    }

    if (umcf->db_path.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"upload_filter\" is on, "
                           "but \"upload_filter_db\" is not set");
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_upload_filter_handler;

    if (ngx_http_upload_filter_handlers_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_next_request_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_upload_filter_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_filter_init_module(ngx_cycle_t *cycle)
{
    ngx_http_upload_filter_main_conf_t  *umcf;

    umcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_upload_filter_module);

    if (umcf == NULL || !umcf->used) {
        return NGX_OK;
    }

    return ngx_http_upload_filter_resident_init_module(cycle, umcf);
}


static ngx_int_t
ngx_http_upload_filter_init_process(ngx_cycle_t *cycle)
{
    int                                  rc;
    ngx_http_upload_filter_main_conf_t  *umcf;

    umcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_upload_filter_module);

    if (umcf == NULL || !umcf->used) {
        return NGX_OK;
    }

    ngx_http_upload_filter_worker = umcf;

#if (NGX_THREADS && defined M_ARENA_MAX)
    if (umcf->threads) {
        /*
         * glibc gives each new thread a malloc arena of its own, so the
         * first JPEG a pool thread hashes faults in fresh pages for its
         * buffers (8 ms more for a 0.3 MP image here), and with the 32
         * threads of nginx's default pool most uploads met a cold
         * thread.  Pool threads that share one arena keep it warm.
         * nginx's own thread tasks (aio reads and writes) do not
         * allocate, so nothing else sees the change.
         */
        if (mallopt(M_ARENA_MAX, 2) != 1) {
            ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                          "upload_filter: mallopt(M_ARENA_MAX) failed");
        }
    }
#endif

    /*
     * A hash set that cannot be opened does not stop the worker: every
     * inspected upload then gets the upload_filter_on_error policy.
     *
     * No readahead: a lookup needs a few pages, and a page fault on a set
     * the host has paged out would otherwise read megabytes around it
     * (8 MiB here): p99 after a page-out 5.0 to 6.0 ms with it, 0.6 to
     * 2.4 ms without (bench/cold_set.sh).
     */
    rc = hdb_open(&umcf->db, (char *) umcf->db_path.data,
                  HDB_OPEN_RDONLY | HDB_OPEN_NORDAHEAD);
    if (rc == 0) {
        rc = hdb_reader_new(umcf->db, &umcf->reader);
    }

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "upload_filter: cannot open hash set \"%V\": %s",
                      &umcf->db_path, hdb_strerror(rc));
        hdb_close(umcf->db);
        umcf->db = NULL;
        umcf->reader = NULL;
    }

    ngx_http_upload_filter_resident_start(cycle, umcf);

    return NGX_OK;
}


static void
ngx_http_upload_filter_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_upload_filter_main_conf_t  *umcf;

    umcf = ngx_http_upload_filter_worker;

    if (umcf == NULL) {
        return;
    }

    ngx_http_upload_filter_objects_exit();

    ngx_http_upload_filter_resident_stop();

    hdb_reader_free(umcf->reader);
    hdb_close(umcf->db);

    umcf->reader = NULL;
    umcf->db = NULL;
}
