/*
 * Metrics for Prometheus: "upload_filter_metrics;" in a location serves
 * the text exposition format (version 0.0.4).
 *
 * Counters live in one shared zone ("upload_filter_metrics", made when
 * the filter is used): every worker adds to the same numbers with atomic
 * increments, so a scrape of any worker sees the sum.  Matches are
 * counted per (source, category, kind, action) in a fixed table of label
 * sets, inserted under the zone's mutex; a table that fills counts the
 * rest under source="other".  Histograms have fixed buckets, in seconds.
 * The hash set's gauges (entries per source and type, last update, map
 * size, the share in memory) are read at scrape time by the worker that
 * answers, from its own reader.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_upload_filter.h"


#define NGX_HTTP_UPLOAD_FILTER_METRICS_SIZE  (256 * 1024)
#define NGX_HTTP_UPLOAD_FILTER_LABEL_SETS    512
#define NGX_HTTP_UPLOAD_FILTER_BUCKETS       12
#define NGX_HTTP_UPLOAD_FILTER_MEDIA_TYPES   (HDB_MEDIA_MPEGTS + 1)


/* upper bounds of the buckets, in milliseconds; then +Inf */
static const ngx_msec_t  ngx_http_upload_filter_buckets[] = {
    1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000, 30000
};

static const char  *ngx_http_upload_filter_kinds[] = {
    "digest", "pdq", "vpdq"
};

/* by NGX_HTTP_UPLOAD_FILTER_RANK_* */
static const char  *ngx_http_upload_filter_actions_names[] = {
    "none", "allow", "shadow", "log", "block"
};

static const char  *ngx_http_upload_filter_verdict_kinds[] = {
    "digests", "images", "video"
};

static const char  *ngx_http_upload_filter_result_names[] = {
    "none", "clean", "match", "error", "allowed", "shadow"
};


typedef struct {
    ngx_atomic_t   count[NGX_HTTP_UPLOAD_FILTER_BUCKETS + 1];
    ngx_atomic_t   sum_ms;
    ngx_atomic_t   n;
} ngx_http_upload_filter_hist_t;


typedef struct {
    ngx_atomic_t   count;
    ngx_uint_t     used;
    u_char         kind;
    u_char         action;
    u_char         source[HDB_SOURCE_MAX + 1];
    u_char         category[HDB_CATEGORY_MAX + 1];
} ngx_http_upload_filter_label_set_t;


typedef struct {
    ngx_atomic_t                        requests;
    ngx_atomic_t                        responses;
    ngx_atomic_t                        uninspected[2];   /* range,
                                                             streamed */
    ngx_atomic_t                        zone[3];    /* hit, recheck, miss */
    ngx_atomic_t                        bytes;
    ngx_atomic_t                        parts;
    ngx_atomic_t                        media[
                                         NGX_HTTP_UPLOAD_FILTER_MEDIA_TYPES];
    ngx_atomic_t                        errors[NGX_HTTP_UPLOAD_FILTER_NCASES];
    ngx_atomic_t                        verdicts[
                                          NGX_HTTP_UPLOAD_FILTER_NRESULTS];
    ngx_atomic_t                        other_matches;
    ngx_http_upload_filter_hist_t       verdict[3];
    ngx_http_upload_filter_hist_t       queue;
    ngx_http_upload_filter_label_set_t  sets[NGX_HTTP_UPLOAD_FILTER_LABEL_SETS];
} ngx_http_upload_filter_metrics_t;


static ngx_shm_zone_t                    *ngx_http_upload_filter_metrics_zone;
static ngx_http_upload_filter_metrics_t  *ngx_http_upload_filter_m;


static ngx_int_t ngx_http_upload_filter_metrics_init_zone(
    ngx_shm_zone_t *shm_zone, void *data);
static ngx_int_t ngx_http_upload_filter_metrics_handler(
    ngx_http_request_t *r);


/* the zone: made at configuration time when the filter is used */
ngx_int_t
ngx_http_upload_filter_metrics_zone_add(ngx_conf_t *cf)
{
    static ngx_str_t  name = ngx_string("upload_filter_metrics");

    ngx_http_upload_filter_metrics_zone = ngx_shared_memory_add(cf, &name,
                                      NGX_HTTP_UPLOAD_FILTER_METRICS_SIZE,
                                      &ngx_http_upload_filter_module);
    if (ngx_http_upload_filter_metrics_zone == NULL) {
        return NGX_ERROR;
    }

    ngx_http_upload_filter_metrics_zone->init =
                                     ngx_http_upload_filter_metrics_init_zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_filter_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t                   *shpool;
    ngx_http_upload_filter_metrics_t  *m;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (data) {
        /* a reload keeps the counts: counters only go up */
        shm_zone->data = data;
        ngx_http_upload_filter_m = data;
        return NGX_OK;
    }

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        ngx_http_upload_filter_m = shpool->data;
        return NGX_OK;
    }

    m = ngx_slab_calloc(shpool, sizeof(ngx_http_upload_filter_metrics_t));
    if (m == NULL) {
        return NGX_ERROR;
    }

    shpool->data = m;
    shm_zone->data = m;
    ngx_http_upload_filter_m = m;

    return NGX_OK;
}


/* the counting, called where things happen */

static void
ngx_http_upload_filter_observe(ngx_http_upload_filter_hist_t *h,
    ngx_msec_t ms)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_UPLOAD_FILTER_BUCKETS; i++) {
        if (ms <= ngx_http_upload_filter_buckets[i]) {
            break;
        }
    }

    /* one bucket per observation here; cumulated when written */
    (void) ngx_atomic_fetch_add(&h->count[i], 1);
    (void) ngx_atomic_fetch_add(&h->sum_ms, ms);
    (void) ngx_atomic_fetch_add(&h->n, 1);
}


void
ngx_http_upload_filter_metrics_request(ngx_http_upload_filter_ctx_t *ctx)
{
    ngx_http_upload_filter_metrics_t  *m = ngx_http_upload_filter_m;

    if (m == NULL || ctx->state < NGX_HTTP_UPLOAD_FILTER_INSPECTING) {
        return;
    }

    (void) ngx_atomic_fetch_add(ctx->response ? &m->responses : &m->requests,
                                1);
    (void) ngx_atomic_fetch_add(&m->bytes, (ngx_atomic_int_t) ctx->received);
    (void) ngx_atomic_fetch_add(&m->parts, ctx->parts);

    if (ctx->result < NGX_HTTP_UPLOAD_FILTER_NRESULTS) {
        (void) ngx_atomic_fetch_add(&m->verdicts[ctx->result], 1);
    }

    if (!ctx->hashed_media) {
        /* digests only: the verdict came with the last body byte */
        ngx_http_upload_filter_observe(&m->verdict[0], 0);
    }
}


/*
 * A response not held: 0 a Range request passed on uninspected, 1 one
 * larger than the buffer, streamed with its digests only
 */
void
ngx_http_upload_filter_metrics_uninspected(ngx_uint_t why)
{
    ngx_http_upload_filter_metrics_t  *m = ngx_http_upload_filter_m;

    if (m && why < 2) {
        (void) ngx_atomic_fetch_add(&m->uninspected[why], 1);
    }
}


/*
 * The verdict zone answered for a response: 0 known clean, passed on
 * unread; 1 its kept hashes checked again; 2 not known, inspected
 */
void
ngx_http_upload_filter_metrics_known(ngx_uint_t what)
{
    ngx_http_upload_filter_metrics_t  *m = ngx_http_upload_filter_m;

    if (m && what < 3) {
        (void) ngx_atomic_fetch_add(&m->zone[what], 1);
    }
}


void
ngx_http_upload_filter_metrics_media(int type)
{
    ngx_http_upload_filter_metrics_t  *m = ngx_http_upload_filter_m;

    if (m && type > 0 && type < NGX_HTTP_UPLOAD_FILTER_MEDIA_TYPES) {
        (void) ngx_atomic_fetch_add(&m->media[type], 1);
    }
}


void
ngx_http_upload_filter_metrics_error(ngx_uint_t which)
{
    ngx_http_upload_filter_metrics_t  *m = ngx_http_upload_filter_m;

    if (m && which < NGX_HTTP_UPLOAD_FILTER_NCASES) {
        (void) ngx_atomic_fetch_add(&m->errors[which], 1);
    }
}


void
ngx_http_upload_filter_metrics_verdict(ngx_uint_t video, ngx_msec_t ms)
{
    ngx_http_upload_filter_metrics_t  *m = ngx_http_upload_filter_m;

    if (m) {
        ngx_http_upload_filter_observe(&m->verdict[video ? 2 : 1], ms);
    }
}


void
ngx_http_upload_filter_metrics_queue(ngx_msec_t ms)
{
    ngx_http_upload_filter_metrics_t  *m = ngx_http_upload_filter_m;

    /* from a pool thread: atomics only */
    if (m) {
        ngx_http_upload_filter_observe(&m->queue, ms);
    }
}


void
ngx_http_upload_filter_metrics_match(const hdb_match_t *m, ngx_uint_t kind,
    ngx_uint_t action)
{
    size_t                               slen, clen;
    ngx_uint_t                           i, h;
    ngx_slab_pool_t                     *shpool;
    ngx_http_upload_filter_metrics_t    *mt = ngx_http_upload_filter_m;
    ngx_http_upload_filter_label_set_t  *s;

    if (mt == NULL) {
        return;
    }

    slen = ngx_strlen(m->source);
    clen = ngx_strlen(m->category);
    h = ngx_hash_key((u_char *) m->source, slen) ^ (kind << 4 | action);

    shpool = (ngx_slab_pool_t *) ngx_http_upload_filter_metrics_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    for (i = 0; i < NGX_HTTP_UPLOAD_FILTER_LABEL_SETS; i++) {
        s = &mt->sets[(h + i) % NGX_HTTP_UPLOAD_FILTER_LABEL_SETS];

        if (!s->used) {
            s->used = 1;
            s->kind = (u_char) kind;
            s->action = (u_char) action;
            ngx_memcpy(s->source, m->source, slen + 1);
            ngx_memcpy(s->category, m->category, clen + 1);
            break;
        }

        if (s->kind == kind && s->action == action
            && ngx_strcmp(s->source, m->source) == 0
            && ngx_strcmp(s->category, m->category) == 0)
        {
            break;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (i == NGX_HTTP_UPLOAD_FILTER_LABEL_SETS) {
        (void) ngx_atomic_fetch_add(&mt->other_matches, 1);
        return;
    }

    (void) ngx_atomic_fetch_add(&s->count, 1);
}


/* the exposition */

typedef struct {
    ngx_chain_t   *first;
    ngx_chain_t  **last;
    ngx_pool_t    *pool;
    size_t         size;
} ngx_http_upload_filter_out_t;


/* appends printf-style text to the response */
static ngx_int_t
ngx_http_upload_filter_out(ngx_http_upload_filter_out_t *o, const char *fmt,
    ...)
{
    u_char       *p, buf[1024];
    va_list       args;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    b = ngx_create_temp_buf(o->pool, p - buf);
    cl = ngx_alloc_chain_link(o->pool);
    if (b == NULL || cl == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_cpymem(b->pos, buf, p - buf);
    cl->buf = b;
    cl->next = NULL;
    *o->last = cl;
    o->last = &cl->next;
    o->size += p - buf;

    return NGX_OK;
}


/* a label value as the text format wants it: \\, \" and \n escaped */
static u_char *
ngx_http_upload_filter_label(ngx_pool_t *pool, const u_char *s)
{
    size_t   n;
    u_char  *d, *p;

    n = 0;
    for (p = (u_char *) s; *p; p++) {
        n += (*p == '\\' || *p == '"' || *p == '\n') ? 2 : 1;
    }

    d = ngx_pnalloc(pool, n + 1);
    if (d == NULL) {
        return NULL;
    }

    for (p = d; *s; s++) {
        if (*s == '\\' || *s == '"' || *s == '\n') {
            *p++ = '\\';
            *p++ = *s == '\n' ? 'n' : *s;
            continue;
        }
        *p++ = *s;
    }

    *p = '\0';
    return d;
}


static ngx_int_t
ngx_http_upload_filter_out_hist(ngx_http_upload_filter_out_t *o,
    const char *name, const char *labels, ngx_http_upload_filter_hist_t *h)
{
    ngx_uint_t        i;
    ngx_atomic_uint_t  cum;

    cum = 0;

    for (i = 0; i <= NGX_HTTP_UPLOAD_FILTER_BUCKETS; i++) {
        cum += h->count[i];

        if (i < NGX_HTTP_UPLOAD_FILTER_BUCKETS) {
            if (ngx_http_upload_filter_out(o,
                    "%s_bucket{%s%sle=\"%.3f\"} %uA\n",
                    name, labels, labels[0] ? "," : "",
                    (double) ngx_http_upload_filter_buckets[i] / 1000, cum)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

        } else if (ngx_http_upload_filter_out(o,
                       "%s_bucket{%s%sle=\"+Inf\"} %uA\n", name, labels,
                       labels[0] ? "," : "", cum)
                   != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_upload_filter_out(o,
                                      "%s_sum%s%s%s %.3f\n%s_count%s%s%s %uA\n",
                                      name, labels[0] ? "{" : "", labels,
                                      labels[0] ? "}" : "",
                                      (double) h->sum_ms / 1000, name,
                                      labels[0] ? "{" : "", labels,
                                      labels[0] ? "}" : "", h->n);
}


/* hdb_prometheus_gauges()'s text into the response */
static int
ngx_http_upload_filter_out_text(const char *text, size_t len, void *data)
{
    ngx_http_upload_filter_out_t  *o = data;

    return ngx_http_upload_filter_out(o, "%*s", len, text) == NGX_OK ? 0 : 1;
}


#define out(...)                                                              \
    if (ngx_http_upload_filter_out(&o, __VA_ARGS__) != NGX_OK) {              \
        return NGX_HTTP_INTERNAL_SERVER_ERROR;                                \
    }

static ngx_int_t
ngx_http_upload_filter_metrics_handler(ngx_http_request_t *r)
{
    int                                  hrc, probed;
    size_t                               used, resident;
    u_char                              *src, *cat, labels[64];
    ngx_int_t                            rc;
    ngx_uint_t                           i, any, alarms, demotions,
                                         demoted;
    ngx_http_upload_filter_out_t         o;
    ngx_http_upload_filter_metrics_t    *m = ngx_http_upload_filter_m;
    ngx_http_upload_filter_main_conf_t  *umcf;
    ngx_http_upload_filter_label_set_t  *s;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (m == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    o.first = NULL;
    o.last = &o.first;
    o.pool = r->pool;
    o.size = 0;

    out("# HELP upload_filter_requests_total Request bodies inspected.\n"
        "# TYPE upload_filter_requests_total counter\n"
        "upload_filter_requests_total %uA\n", m->requests);
    out("# HELP upload_filter_responses_total Response bodies inspected.\n"
        "# TYPE upload_filter_responses_total counter\n"
        "upload_filter_responses_total %uA\n", m->responses);
    out("# HELP upload_filter_responses_uninspected_total Responses passed "
        "on uninspected, by why.\n"
        "# TYPE upload_filter_responses_uninspected_total counter\n"
        "upload_filter_responses_uninspected_total{reason=\"range\"} %uA\n",
        m->uninspected[0]);
    out("# HELP upload_filter_responses_streamed_total Responses larger "
        "than upload_filter_response_buffer, sent on as they were hashed "
        "(digests only).\n"
        "# TYPE upload_filter_responses_streamed_total counter\n"
        "upload_filter_responses_streamed_total %uA\n",
        m->uninspected[1]);
    out("# HELP upload_filter_response_zone_total Responses the verdict "
        "zone answered for: known clean (passed unread), checked again "
        "from kept hashes, not known (inspected).\n"
        "# TYPE upload_filter_response_zone_total counter\n"
        "upload_filter_response_zone_total{result=\"hit\"} %uA\n"
        "upload_filter_response_zone_total{result=\"recheck\"} %uA\n"
        "upload_filter_response_zone_total{result=\"miss\"} %uA\n",
        m->zone[0], m->zone[1], m->zone[2]);
    out("# HELP upload_filter_hashed_bytes_total Body bytes inspected.\n"
        "# TYPE upload_filter_hashed_bytes_total counter\n"
        "upload_filter_hashed_bytes_total %uA\n", m->bytes);
    out("# HELP upload_filter_parts_total Objects inspected: bodies, parts, "
        "decoded objects.\n"
        "# TYPE upload_filter_parts_total counter\n"
        "upload_filter_parts_total %uA\n", m->parts);

    out("# HELP upload_filter_media_hashed_total Images and videos hashed, "
        "by format.\n"
        "# TYPE upload_filter_media_hashed_total counter\n");
    for (i = 1; i < NGX_HTTP_UPLOAD_FILTER_MEDIA_TYPES; i++) {
        out("upload_filter_media_hashed_total{format=\"%s\"} %uA\n",
            hdb_media_name((int) i), m->media[i]);
    }

    out("# HELP upload_filter_matches_total Listed uploads found, by source, "
        "category, kind and action.\n"
        "# TYPE upload_filter_matches_total counter\n");
    any = 0;
    for (i = 0; i < NGX_HTTP_UPLOAD_FILTER_LABEL_SETS; i++) {
        s = &m->sets[i];
        if (!s->used) {
            continue;
        }

        src = ngx_http_upload_filter_label(r->pool, s->source);
        cat = ngx_http_upload_filter_label(r->pool, s->category);
        if (src == NULL || cat == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        out("upload_filter_matches_total{source=\"%s\",category=\"%s\","
            "kind=\"%s\",action=\"%s\"} %uA\n", src, cat,
            ngx_http_upload_filter_kinds[s->kind],
            ngx_http_upload_filter_actions_names[s->action], s->count);
        any = 1;
    }
    if (m->other_matches || !any) {
        out("upload_filter_matches_total{source=\"other\",category=\"\","
            "kind=\"digest\",action=\"block\"} %uA\n", m->other_matches);
    }

    out("# HELP upload_filter_errors_total Uploads without a verdict, by "
        "case of upload_filter_on_error.\n"
        "# TYPE upload_filter_errors_total counter\n");
    for (i = 0; i < NGX_HTTP_UPLOAD_FILTER_NCASES; i++) {
        out("upload_filter_errors_total{case=\"%V\"} %uA\n",
            &ngx_http_upload_filter_cases[i].name, m->errors[i]);
    }

    out("# HELP upload_filter_verdicts_total Inspected requests by result.\n"
        "# TYPE upload_filter_verdicts_total counter\n");
    for (i = 1; i < NGX_HTTP_UPLOAD_FILTER_NRESULTS; i++) {
        out("upload_filter_verdicts_total{result=\"%s\"} %uA\n",
            ngx_http_upload_filter_result_names[i], m->verdicts[i]);
    }

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upload_filter_module);

    if (umcf->flood_zone) {
        ngx_http_upload_filter_flood_counts(umcf, &alarms, &demotions,
                                            &demoted);

        out("# HELP upload_filter_flood_alarms_total Listed entries that "
            "matched more distinct clients than upload_filter_flood "
            "allows (one per entry per window).\n"
            "# TYPE upload_filter_flood_alarms_total counter\n"
            "upload_filter_flood_alarms_total %ui\n"
            "# HELP upload_filter_flood_demotions_total Entries demoted to "
            "log-only on this node by upload_filter_flood action=log.\n"
            "# TYPE upload_filter_flood_demotions_total counter\n"
            "upload_filter_flood_demotions_total %ui\n"
            "# HELP upload_filter_flood_demoted Entries demoted now, until "
            "hashdb flood-clear.\n"
            "# TYPE upload_filter_flood_demoted gauge\n"
            "upload_filter_flood_demoted %ui\n", alarms, demotions,
            demoted);
    }

    out("# HELP upload_filter_verdict_seconds From the last body byte to "
        "the verdict.\n"
        "# TYPE upload_filter_verdict_seconds histogram\n");
    for (i = 0; i < 3; i++) {
        ngx_sprintf(labels, "kind=\"%s\"%Z",
                    ngx_http_upload_filter_verdict_kinds[i]);
        if (ngx_http_upload_filter_out_hist(&o,
                "upload_filter_verdict_seconds", (char *) labels,
                &m->verdict[i])
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    out("# HELP upload_filter_queue_wait_seconds How long hashing tasks "
        "waited for a thread of the pool.\n"
        "# TYPE upload_filter_queue_wait_seconds histogram\n");
    if (ngx_http_upload_filter_out_hist(&o, "upload_filter_queue_wait_seconds",
                                        "", &m->queue)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the hash set, as this worker's reader sees it now */
    umcf = ngx_http_upload_filter_worker;

    if (umcf && umcf->reader && hdb_reader_begin(umcf->reader) == 0) {
        probed = hdb_resident_probe(umcf->db, &used, &resident) == 0;

        hrc = hdb_prometheus_gauges(umcf->db, umcf->reader,
                                    probed ? &used : NULL,
                                    probed ? &resident : NULL,
                                    ngx_http_upload_filter_out_text, &o);
        hdb_reader_end(umcf->reader);

        if (hrc != 0) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = o.size;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only || o.first == NULL) {
        return rc;
    }

    (*o.last) = NULL;
    for (ngx_chain_t *cl = o.first; cl; cl = cl->next) {
        if (cl->next == NULL) {
            cl->buf->last_buf = 1;
        }
    }

    return ngx_http_output_filter(r, o.first);
}

#undef out


/* upload_filter_metrics: this location answers with the metrics */
char *
ngx_http_upload_filter_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_upload_filter_metrics_handler;

    return NGX_CONF_OK;
}
