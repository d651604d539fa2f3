/*
 * The variables: $upload_filter_result, _match, _source, _category,
 * _entry, _distance, _video, _reason, _hashes, for access_log and the rest
 * of the configuration.  They read the request's verdict, which survives
 * internal redirects.  $upload_filter_response_result, _match, ... read
 * the response's (upload_filter_responses): a request can have both.
 */

#include "ngx_http_upload_filter.h"


static ngx_int_t ngx_http_upload_filter_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_upload_filter_response_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_upload_filter_value(
    ngx_http_upload_filter_ctx_t *ctx, ngx_http_variable_value_t *v,
    uintptr_t data);


/*
 * A variable's data is where its string lies in the request's context,
 * or one of these two, for what is not kept as a string there.
 */
#define NGX_HTTP_UPLOAD_FILTER_VAR_RESULT  ((uintptr_t) -1)
#define NGX_HTTP_UPLOAD_FILTER_VAR_REASON  ((uintptr_t) -2)
#define NGX_HTTP_UPLOAD_FILTER_VAR_HASHES  ((uintptr_t) -3)

#define ngx_http_upload_filter_var(name, data)                              \
    { ngx_string(name), NULL, ngx_http_upload_filter_variable, data,      \
      NGX_HTTP_VAR_NOCACHEABLE, 0 }

#define ngx_http_upload_filter_ctx_str(field)                               \
    offsetof(ngx_http_upload_filter_ctx_t, field)

static ngx_http_variable_t  ngx_http_upload_filter_vars[] = {

    ngx_http_upload_filter_var("upload_filter_result",
                               NGX_HTTP_UPLOAD_FILTER_VAR_RESULT),
    ngx_http_upload_filter_var("upload_filter_match",
                               ngx_http_upload_filter_ctx_str(match)),
    ngx_http_upload_filter_var("upload_filter_source",
                               ngx_http_upload_filter_ctx_str(source)),
    ngx_http_upload_filter_var("upload_filter_category",
                               ngx_http_upload_filter_ctx_str(category)),
    ngx_http_upload_filter_var("upload_filter_entry",
                               ngx_http_upload_filter_ctx_str(entry)),
    ngx_http_upload_filter_var("upload_filter_distance",
                               ngx_http_upload_filter_ctx_str(distance)),
    ngx_http_upload_filter_var("upload_filter_video",
                               ngx_http_upload_filter_ctx_str(video)),
    ngx_http_upload_filter_var("upload_filter_reason",
                               NGX_HTTP_UPLOAD_FILTER_VAR_REASON),
    ngx_http_upload_filter_var("upload_filter_hashes",
                               NGX_HTTP_UPLOAD_FILTER_VAR_HASHES),

#define ngx_http_upload_filter_rvar(name, data)                             \
    { ngx_string(name), NULL, ngx_http_upload_filter_response_variable,   \
      data, NGX_HTTP_VAR_NOCACHEABLE, 0 }

    ngx_http_upload_filter_rvar("upload_filter_response_result",
                                NGX_HTTP_UPLOAD_FILTER_VAR_RESULT),
    ngx_http_upload_filter_rvar("upload_filter_response_match",
                                ngx_http_upload_filter_ctx_str(match)),
    ngx_http_upload_filter_rvar("upload_filter_response_source",
                                ngx_http_upload_filter_ctx_str(source)),
    ngx_http_upload_filter_rvar("upload_filter_response_category",
                                ngx_http_upload_filter_ctx_str(category)),
    ngx_http_upload_filter_rvar("upload_filter_response_entry",
                                ngx_http_upload_filter_ctx_str(entry)),
    ngx_http_upload_filter_rvar("upload_filter_response_distance",
                                ngx_http_upload_filter_ctx_str(distance)),
    ngx_http_upload_filter_rvar("upload_filter_response_video",
                                ngx_http_upload_filter_ctx_str(video)),
    ngx_http_upload_filter_rvar("upload_filter_response_reason",
                                NGX_HTTP_UPLOAD_FILTER_VAR_REASON),

    ngx_http_null_variable
};


static ngx_str_t  ngx_http_upload_filter_results[] = {
    ngx_null_string,
    ngx_string("clean"),
    ngx_string("match"),
    ngx_string("error"),
    ngx_string("allowed"),
    ngx_string("shadow")
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
    return ngx_http_upload_filter_value(
                                        ngx_http_upload_filter_get_ctx(r->main),
                                        v, data);
}


static ngx_int_t
ngx_http_upload_filter_response_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    return ngx_http_upload_filter_value(
                                  ngx_http_upload_filter_response_ctx(r->main),
                                  v, data);
}


static ngx_int_t
ngx_http_upload_filter_value(ngx_http_upload_filter_ctx_t *ctx,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t  reason, hashes, *s;

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_UPLOAD_FILTER_VAR_RESULT:
        s = &ngx_http_upload_filter_results[ctx->result];
        break;

    case NGX_HTTP_UPLOAD_FILTER_VAR_REASON:
        reason.data = (u_char *) ctx->reason;
        reason.len = ctx->reason ? ngx_strlen(ctx->reason) : 0;
        s = &reason;
        break;

    case NGX_HTTP_UPLOAD_FILTER_VAR_HASHES:
        if (ngx_http_upload_filter_ledger_value(ctx, &hashes) != NGX_OK) {
            return NGX_ERROR;
        }

        s = &hashes;
        break;

    default:
        s = (ngx_str_t *) ((u_char *) ctx + data);
    }

    /* an empty string is "not found": access_log writes "-" for it */
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
