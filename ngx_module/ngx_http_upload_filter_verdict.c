/*
 * The verdict and its report: the one place where a match is recorded
 * (variables, the single log line, the allow list), where a failure gets
 * its policy, and where a request goes on or is rejected once the verdict
 * is in.  Every caller (the objects, the PDQ thread's results, later the
 * response side) goes through here.
 */

#include "ngx_http_upload_filter.h"


ngx_http_upload_filter_case_t  ngx_http_upload_filter_cases[] = {
    { ngx_string("unavailable"), NGX_HTTP_SERVICE_UNAVAILABLE },
    { ngx_string("too_large"), NGX_HTTP_REQUEST_ENTITY_TOO_LARGE },
    { ngx_string("too_many_parts"), NGX_HTTP_BAD_REQUEST },
    { ngx_string("malformed"), NGX_HTTP_BAD_REQUEST },
    { ngx_string("internal"), NGX_HTTP_INTERNAL_SERVER_ERROR },
    { ngx_string("unhashable"), 422 },
    { ngx_string("timeout"), NGX_HTTP_SERVICE_UNAVAILABLE }
};


/*
 * The variables name the first listed digest (for PDQ: the upload's hash,
 * the listed entry and the distance) of those that do most: a match that
 * blocks, then one only logged, then a shadow update's, then the allow
 * list's.
 */
ngx_int_t
ngx_http_upload_filter_set_match(ngx_http_upload_filter_ctx_t *ctx,
    const hdb_match_t *m, const char *digest, ngx_uint_t rank)
{
    u_char  *p;
    size_t   len;

    if (rank <= ctx->match_rank) {
        return NGX_OK;
    }

    ctx->match_rank = rank;

    len = ngx_strlen(digest);

    p = ngx_pnalloc(ctx->request->pool,
                    len + sizeof("pdq:") + 2 * HDB_PDQ_SIZE + HDB_SOURCE_MAX
                    + HDB_CATEGORY_MAX + NGX_INT_T_LEN
                    + ngx_strlen(m->video));
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

    ctx->video.data = p;
    p = ngx_cpymem(p, m->video, ngx_strlen(m->video));
    ctx->video.len = p - ctx->video.data;

    ctx->result = rank == NGX_HTTP_UPLOAD_FILTER_RANK_ALLOWED
                  ? NGX_HTTP_UPLOAD_FILTER_ALLOWED
                  : rank == NGX_HTTP_UPLOAD_FILTER_RANK_SHADOW
                  ? NGX_HTTP_UPLOAD_FILTER_SHADOW
                  : NGX_HTTP_UPLOAD_FILTER_MATCH;

    return NGX_OK;
}


/* what a match does by the hash set's say alone: RANK_ALLOWED .. _BLOCK */
ngx_uint_t
ngx_http_upload_filter_match_rank(const hdb_match_t *m)
{
    return m->allowed ? NGX_HTTP_UPLOAD_FILTER_RANK_ALLOWED
           : m->action == HDB_ACTION_SHADOW ? NGX_HTTP_UPLOAD_FILTER_RANK_SHADOW
           : m->action == HDB_ACTION_LOG ? NGX_HTTP_UPLOAD_FILTER_RANK_LOG
           : NGX_HTTP_UPLOAD_FILTER_RANK_BLOCK;
}


/*
 * A verdict cannot be reached: log it once and apply
 * upload_filter_on_error.  A match that blocked earlier in the body
 * stands; one that was only logged (monitor mode, a source's policy, a
 * shadow update) does not decide the rest of the body, so the policy
 * applies.
 */
void
ngx_http_upload_filter_fail(ngx_http_upload_filter_ctx_t *ctx,
    ngx_uint_t level, ngx_uint_t which, const char *reason)
{
    ngx_http_request_t  *r = ctx->request;

    /* the rest of the body goes uninspected, whatever the policy */
    if (ctx->state < NGX_HTTP_UPLOAD_FILTER_INSPECTED) {
        ctx->state = NGX_HTTP_UPLOAD_FILTER_INSPECTED;
    }

    if (ctx->match_rank == NGX_HTTP_UPLOAD_FILTER_RANK_BLOCK) {
        return;
    }

    ngx_http_upload_filter_metrics_error(which);

    ctx->result = NGX_HTTP_UPLOAD_FILTER_ERROR;
    ctx->reason = reason;

    if (ctx->conf->on_error[which] == NGX_HTTP_UPLOAD_FILTER_REJECT) {
        ctx->state = NGX_HTTP_UPLOAD_FILTER_REJECTED;
        ctx->status = ngx_http_upload_filter_cases[which].status;
    }

    ngx_log_error(level, r->connection->log, 0,
                  "upload_filter: cannot inspect %s: %s (%V), %s",
                  ctx->response ? "response" : "upload",
                  reason, &ngx_http_upload_filter_cases[which].name,
                  ctx->state == NGX_HTTP_UPLOAD_FILTER_REJECTED
                  ? "rejected" : "passed uninspected");
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


/*
 * A listed digest or PDQ hash found in one object of the body: recorded
 * for the variables, logged on one line with what a report to a hotline
 * needs and nothing of the content, and, unless the entry is on the
 * allow list or the filter only logs, the upload rejected.
 */
ngx_int_t
ngx_http_upload_filter_report(ngx_http_upload_filter_ctx_t *ctx,
    const hdb_match_t *m, const char *digest, const hdb_media_frame_t *frame,
    const ngx_http_upload_filter_site_t *site)
{
    char                 entry[HDB_PDQ_HEX_LEN + 1];
    u_char              *reason, *name, *filename, *video;
    ngx_str_t            facts;
    u_char               pdq[sizeof(" entry=pdq: distance= variant= quality=")
                             + HDB_PDQ_HEX_LEN + 3 * NGX_INT_T_LEN + 16],
                         image[sizeof(" format= frame= time=") + 16
                               + 2 * NGX_INT_T_LEN + 8],
                         vpdq[sizeof(" listed_frames=/ (%) frames=/ (%)")
                              + 6 * NGX_INT_T_LEN];
    const char          *action;
    ngx_uint_t           sec, msec, rank, demoted;
    ngx_pool_t          *pool;
    ngx_http_request_t  *r;

    r = ctx->request;
    pool = r->pool;

    /*
     * What the match does: the allow list overrides; a shadow update's
     * entry, a source whose policy logs, the location's "log", and an
     * entry that upload_filter_flood demoted are only logged.
     */
    demoted = !m->allowed
              && ngx_http_upload_filter_flood_check(ctx, m, digest)
                 == NGX_DECLINED;

    rank = ngx_http_upload_filter_match_rank(m);

    if (rank == NGX_HTTP_UPLOAD_FILTER_RANK_BLOCK
        && (demoted || ctx->conf->action == NGX_HTTP_UPLOAD_FILTER_LOG))
    {
        rank = NGX_HTTP_UPLOAD_FILTER_RANK_LOG;
    }

    action = rank == NGX_HTTP_UPLOAD_FILTER_RANK_ALLOWED ? "allow"
             : rank == NGX_HTTP_UPLOAD_FILTER_RANK_SHADOW ? "shadow"
             : rank == NGX_HTTP_UPLOAD_FILTER_RANK_LOG ? "log" : "block";

    if (ngx_http_upload_filter_set_match(ctx, m, digest, rank) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_upload_filter_metrics_match(m, site->video ? 2 : frame ? 1 : 0,
                                         rank);

    reason = NULL;
    if (m->allowed) {
        reason = ngx_http_upload_filter_escape(pool, (u_char *) m->reason,
                                               ngx_strlen(m->reason));
        if (reason == NULL) {
            return NGX_ERROR;
        }
    }

    pdq[0] = '\0';
    image[0] = '\0';
    vpdq[0] = '\0';
    video = NULL;

    if (m->video[0]) {
        video = ngx_http_upload_filter_escape(pool, (u_char *) m->video,
                                              ngx_strlen(m->video));
        if (video == NULL) {
            return NGX_ERROR;
        }
    }

    if (site->video) {
        ngx_snprintf(vpdq, sizeof(vpdq) - 1,
                     " listed_frames=%ui/%ui (%ui%%) frames=%ui/%ui (%ui%%)%Z",
                     (ngx_uint_t) site->video->listed_matched,
                     (ngx_uint_t) site->video->listed_frames,
                     (ngx_uint_t) (site->video->listed_matched * 100
                                   / site->video->listed_frames),
                     (ngx_uint_t) site->video->matched,
                     (ngx_uint_t) site->video->frames,
                     (ngx_uint_t) (site->video->frames
                                   ? site->video->matched * 100
                                     / site->video->frames : 0));
    }

    if (frame && site->time >= 0) {
        /* a video's frame: when, in seconds and milliseconds */
        sec = (ngx_uint_t) site->time;
        msec = (ngx_uint_t) ((site->time - sec) * 1000 + 0.5);
        if (msec == 1000) {
            sec++;
            msec = 0;
        }

        if (site->frame >= 0) {
            ngx_snprintf(image, sizeof(image) - 1,
                         " format=%s frame=%i time=%ui.%03ui%Z",
                         site->format, site->frame, sec, msec);
        } else {
            ngx_snprintf(image, sizeof(image) - 1,
                         " format=%s time=%ui.%03ui%Z", site->format, sec,
                         msec);
        }

        hdb_hex_encode(m->listed, HDB_PDQ_SIZE, entry);
        ngx_snprintf(pdq, sizeof(pdq) - 1,
                     " entry=pdq:%s distance=%ui variant=%s quality=%d%Z",
                     entry, (ngx_uint_t) m->distance,
                     hdb_pdq_variant_name(m->variant), frame->quality);

    } else if (frame) {
        if (site->frame >= 0) {
            ngx_snprintf(image, sizeof(image) - 1, " format=%s frame=%i%Z",
                         site->format, site->frame);

        } else {
            ngx_snprintf(image, sizeof(image) - 1, " format=%s%Z",
                         site->format);
        }

        hdb_hex_encode(m->listed, HDB_PDQ_SIZE, entry);
        ngx_snprintf(pdq, sizeof(pdq) - 1,
                     " entry=pdq:%s distance=%ui variant=%s quality=%d%Z",
                     entry, (ngx_uint_t) m->distance,
                     hdb_pdq_variant_name(m->variant), frame->quality);
    }

    /* a digest of a raw body names no part; a PDQ line always does */
    name = NULL;
    filename = NULL;

    if (frame || ngx_strcmp(site->where, "body") != 0) {
        name = ngx_http_upload_filter_escape(pool, (u_char *) site->name,
                                             site->name_len);
        filename = ngx_http_upload_filter_escape(pool,
                                                 (u_char *) site->filename,
                                                 site->filename_len);
        if (name == NULL || filename == NULL) {
            return NGX_ERROR;
        }
    }

    ngx_str_null(&facts);

    if (ctx->response
        && ngx_http_upload_filter_response_facts(ctx, &facts) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "upload_filter: %smatch action=%s%s digest=%s%s "
                  "source=\"%s\" category=\"%s\"%s%s%s%s%s%s%s "
                  "part=%s%s%s%s%s%s size=%O%s%s%V",
                  ctx->response ? "response " : "",
                  action, demoted ? " flood=demoted" : "", digest, pdq,
                  m->source, m->category,
                  video ? " video=\"" : "", video ? (char *) video : "",
                  video ? "\"" : "", vpdq,
                  reason ? " allowed=\"" : "",
                  reason ? (char *) reason : "", reason ? "\"" : "",
                  site->where,
                  name ? " name=\"" : "", name ? (char *) name : "",
                  name ? "\" filename=\"" : "",
                  filename ? (char *) filename : "", name ? "\"" : "",
                  site->size, site->decoded, image, &facts);

    if (rank == NGX_HTTP_UPLOAD_FILTER_RANK_BLOCK) {
        ctx->state = NGX_HTTP_UPLOAD_FILTER_REJECTED;
        ctx->status = ctx->response ? ctx->conf->response_status
                                    : ctx->conf->status;
    }

    return NGX_OK;
}


/*
 * The verdict is in: a rejected request is finalized with its status,
 * any other goes on to its content handler.  For a request whose body
 * the PRECONTENT handler read, once the body is in, and once the PDQ
 * thread is done.
 */
void
ngx_http_upload_filter_resume(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx)
{
    if (ctx->state == NGX_HTTP_UPLOAD_FILTER_REJECTED) {
        ngx_http_finalize_request(r, ngx_http_upload_filter_verdict(r, ctx));
        return;
    }

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


/*
 * A read transaction of rd (the event loop's reader, or one lent to a
 * pool thread: no nginx calls here) for a request's lookups, limited to
 * the location's upload_filter_sources (until hdb_reader_end()).
 */
int
ngx_http_upload_filter_reader_begin(hdb_reader_t *rd,
    ngx_http_upload_filter_loc_conf_t *conf)
{
    int  rc;

    rc = hdb_reader_begin(rd);

    if (rc == 0 && conf->sources) {
        hdb_reader_scope(rd, conf->sources->elts, conf->sources->nelts);
    }

    return rc;
}


/* the hash set could not be read: the LMDB error logged, no verdict */
void
ngx_http_upload_filter_unreadable(ngx_http_upload_filter_ctx_t *ctx, int rc)
{
    ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                  "upload_filter: hash set \"%V\": %s",
                  &ngx_http_upload_filter_worker->db_path, hdb_strerror(rc));

    ngx_http_upload_filter_fail(ctx, NGX_LOG_ERR,
                                NGX_HTTP_UPLOAD_FILTER_UNAVAILABLE,
                                "hash set unreadable");
}
