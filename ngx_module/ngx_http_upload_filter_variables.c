/*
 * The variables: $upload_filter_result, _match, _source, _category,
 * _entry, _distance, _reason, for access_log and the rest of the
 * configuration.  They read the request's verdict, which survives
 * internal redirects.
 */

#include "ngx_http_upload_filter.h"


static ngx_int_t ngx_http_upload_filter_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


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


ngx_int_t
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
