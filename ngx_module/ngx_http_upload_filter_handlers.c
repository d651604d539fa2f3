/*
 * What a location's content handler does with a request body, for the
 * PRECONTENT handler to know whether reading the body first is right.
 *
 *   - Handlers that refuse a body without reading it (empty_gif and
 *     stub_status answer a POST with 405 and discard it): reading it
 *     first would make them wait for, or refuse as too large, a body
 *     they never take.  Nothing of it reaches anything, so there is
 *     nothing to inspect.  Their addresses are static in nginx; they are
 *     learnt by letting the modules' own directive handlers set them on
 *     a scratch location (they do nothing else).
 *   - grpc_pass always streams the body, and a client-streaming call
 *     waits for the server's first message: a body held back until its
 *     end would hang it.  Those locations are inspected only with
 *     "upload_filter_grpc on" (a static grpc_pass: its upstream is the
 *     first member of the gRPC module's location configuration).
 */

#include "ngx_http_upload_filter.h"


#define NGX_HTTP_UPLOAD_FILTER_QUIET  4

static ngx_http_handler_pt  ngx_http_upload_filter_quiet[
                                            NGX_HTTP_UPLOAD_FILTER_QUIET];
static ngx_int_t            ngx_http_upload_filter_grpc_index = -1;


static ngx_module_t *
ngx_http_upload_filter_find_module(ngx_cycle_t *cycle, const char *name)
{
    ngx_uint_t  i;

    for (i = 0; cycle->modules[i]; i++) {
        if (ngx_strcmp(cycle->modules[i]->name, name) == 0) {
            return cycle->modules[i];
        }
    }

    return NULL;
}


ngx_int_t
ngx_http_upload_filter_handlers_init(ngx_conf_t *cf)
{
    char                      *rv;
    void                     **loc;
    ngx_uint_t                 i, n;
    ngx_conf_t                 scratch;
    ngx_module_t              *m;
    ngx_command_t             *cmd;
    ngx_http_conf_ctx_t        ctx;
    ngx_http_core_loc_conf_t  *clcf;

    static const char  *quiet[][2] = {
        { "ngx_http_empty_gif_module", "empty_gif" },
        { "ngx_http_stub_status_module", "stub_status" }
    };

    loc = ngx_pcalloc(cf->pool, sizeof(void *) * ngx_http_max_module);
    clcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_core_loc_conf_t));
    if (loc == NULL || clcf == NULL) {
        return NGX_ERROR;
    }

    loc[ngx_http_core_module.ctx_index] = clcf;

    ctx = *(ngx_http_conf_ctx_t *) cf->ctx;
    ctx.loc_conf = loc;

    scratch = *cf;
    scratch.ctx = &ctx;
    scratch.args = NULL;

    n = 0;

    for (i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++) {
        m = ngx_http_upload_filter_find_module(cf->cycle, quiet[i][0]);
        if (m == NULL || m->commands == NULL) {
            continue;
        }

        for (cmd = m->commands; cmd->name.len; cmd++) {
            if (ngx_strcmp(cmd->name.data, quiet[i][1]) != 0) {
                continue;
            }

            clcf->handler = NULL;
            rv = cmd->set(&scratch, cmd, NULL);

            if (rv == NGX_CONF_OK && clcf->handler
                && n < NGX_HTTP_UPLOAD_FILTER_QUIET)
            {
                ngx_http_upload_filter_quiet[n++] = clcf->handler;
            }
        }
    }

    m = ngx_http_upload_filter_find_module(cf->cycle, "ngx_http_grpc_module");
    ngx_http_upload_filter_grpc_index = m ? (ngx_int_t) m->ctx_index : -1;

    return NGX_OK;
}


/* the body is not inspected here: see above */
ngx_int_t
ngx_http_upload_filter_not_read_here(ngx_http_request_t *r,
    ngx_http_upload_filter_loc_conf_t *ulcf)
{
    ngx_uint_t                 i;
    ngx_http_upstream_conf_t  *grpc;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->handler == NULL) {
        return 0;
    }

    for (i = 0; i < NGX_HTTP_UPLOAD_FILTER_QUIET; i++) {
        if (ngx_http_upload_filter_quiet[i] == clcf->handler) {
            return 1;
        }
    }

    if (ulcf->grpc || ngx_http_upload_filter_grpc_index < 0) {
        return 0;
    }

    grpc = r->loc_conf[ngx_http_upload_filter_grpc_index];

    if (grpc && grpc->upstream) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "upload filter: grpc_pass, not inspected");
        return 1;
    }

    return 0;
}
