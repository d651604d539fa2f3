/*
 * upload_filter_resident: keeps the hash set in memory, so that the first
 * uploads after a quiet spell do not wait for the disk.
 *
 * One worker (the first) walks the set on a timer, a step at a time
 * (hashdb/hdb_resident.c does the walking): the page cache is shared, so
 * pages one worker keeps warm or locks are there for all of them.  The
 * first walk runs fast so that a fresh worker has the set in memory in
 * seconds; after it, "warm" spreads one walk over its period and "lock"
 * only looks for pages the updater has added.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/resource.h>

#include "ngx_http_upload_filter.h"


/* a step does at most this much of the set */
#define NGX_HTTP_UPLOAD_FILTER_RESIDENT_STEP   (8 * 1024 * 1024)
/* the pace of the first walk; how often "lock" looks for new pages */
#define NGX_HTTP_UPLOAD_FILTER_RESIDENT_FAST   10
#define NGX_HTTP_UPLOAD_FILTER_RESIDENT_SLOW   1000


typedef struct {
    hdb_resident_t                      *walk;
    ngx_http_upload_filter_main_conf_t  *umcf;
    ngx_event_t                          event;
    ngx_msec_t                           start;
    size_t                               size;      /* of the set */
    size_t                               readback;  /* in this cycle */
    size_t                               warmup;    /* read back before
                                                       the set was in */
    unsigned                             first:1;   /* the first walk */
    unsigned                             lock_failed:1;
} ngx_http_upload_filter_resident_t;


static void ngx_http_upload_filter_resident_handler(ngx_event_t *ev);
static void ngx_http_upload_filter_resident_lock_failed(
    ngx_http_upload_filter_resident_t *res, int err, ngx_log_t *log);
static void ngx_http_upload_filter_resident_cycle_done(
    ngx_http_upload_filter_resident_t *res, hdb_resident_stats_t *st,
    ngx_log_t *log);


static ngx_http_upload_filter_resident_t  ngx_http_upload_filter_resident;

/* a timer's data is taken for a connection in debug logs, as in nginx */
static ngx_connection_t  ngx_http_upload_filter_resident_dumb;


static ngx_conf_enum_t  ngx_http_upload_filter_resident_modes[] = {
    { ngx_string("off"), 0 },
    { ngx_string("warm"), HDB_RESIDENT_WARM },
    { ngx_string("lock"), HDB_RESIDENT_LOCK },
    { ngx_null_string, 0 }
};


/* upload_filter_resident off | warm [period] | lock */
char *
ngx_http_upload_filter_resident_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_filter_main_conf_t *umcf = conf;

    ngx_str_t        *value;
    ngx_msec_t        period;
    ngx_conf_enum_t  *e;

    if (umcf->resident != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (e = ngx_http_upload_filter_resident_modes; e->name.len; e++) {
        if (e->name.len == value[1].len
            && ngx_strcmp(e->name.data, value[1].data) == 0)
        {
            break;
        }
    }

    if (e->name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\", it must be "
                           "\"off\", \"warm\" or \"lock\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    umcf->resident = e->value;

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    if (e->value != HDB_RESIDENT_WARM) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "only \"warm\" takes a period");
        return NGX_CONF_ERROR;
    }

    period = ngx_parse_time(&value[2], 0);
    if (period == (ngx_msec_t) NGX_ERROR || period < 100) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid period \"%V\": a time of at least 100ms",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    umcf->resident_period = period;

    return NGX_CONF_OK;
}


/*
 * In the master, still root: workers lose the right to raise
 * RLIMIT_MEMLOCK with their privileges, and its default (8 MiB) locks a
 * small fraction of a real hash set.  This is the limit nginx's
 * worker_rlimit_* directives would set, had they one for it.
 */
ngx_int_t
ngx_http_upload_filter_resident_init_module(ngx_cycle_t *cycle,
    ngx_http_upload_filter_main_conf_t *umcf)
{
    struct rlimit  rl;

    if (umcf->resident != HDB_RESIDENT_LOCK) {
        return NGX_OK;
    }

    if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, ngx_errno,
                      "upload_filter_resident lock: getrlimit() failed");
        return NGX_OK;
    }

    if (rl.rlim_cur == RLIM_INFINITY) {
        return NGX_OK;
    }

    rl.rlim_cur = RLIM_INFINITY;
    rl.rlim_max = RLIM_INFINITY;

    if (setrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
        return NGX_OK;
    }

    /* not root: as far as the hard limit goes */
    if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_MEMLOCK, &rl);
    }

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "upload_filter_resident lock: RLIMIT_MEMLOCK could not "
                  "be raised past %uL bytes", (uint64_t) rl.rlim_cur);

    return NGX_OK;
}


/* in the first worker, after the hash set is open */
void
ngx_http_upload_filter_resident_start(ngx_cycle_t *cycle,
    ngx_http_upload_filter_main_conf_t *umcf)
{
    int                                 rc;
    ngx_http_upload_filter_resident_t  *res;

    if (umcf->resident == 0 || umcf->db == NULL || ngx_worker != 0
        || (ngx_process != NGX_PROCESS_WORKER
            && ngx_process != NGX_PROCESS_SINGLE))
    {
        return;
    }

    res = &ngx_http_upload_filter_resident;

    rc = hdb_resident_new(umcf->db, (int) umcf->resident, &res->walk);
    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "upload_filter_resident: %s", hdb_strerror(rc));
        return;
    }

    res->umcf = umcf;
    res->first = 1;
    res->start = ngx_current_msec;
    res->size = 0;
    res->readback = 0;

    ngx_http_upload_filter_resident_dumb.fd = (ngx_socket_t) -1;

    res->event.handler = ngx_http_upload_filter_resident_handler;
    res->event.data = &ngx_http_upload_filter_resident_dumb;
    res->event.log = cycle->log;
    res->event.cancelable = 1;

    ngx_add_timer(&res->event, 1);
}


void
ngx_http_upload_filter_resident_stop(void)
{
    ngx_http_upload_filter_resident_t  *res;

    res = &ngx_http_upload_filter_resident;

    if (res->event.timer_set) {
        ngx_del_timer(&res->event);
    }

    hdb_resident_free(res->walk);
    res->walk = NULL;
}


static void
ngx_http_upload_filter_resident_handler(ngx_event_t *ev)
{
    int                                 rc;
    size_t                              chunk;
    ngx_msec_t                          next;
    hdb_resident_stats_t                st;
    ngx_http_upload_filter_resident_t  *res;

    res = &ngx_http_upload_filter_resident;

    if (ngx_exiting || ngx_quit || res->walk == NULL) {
        return;
    }

    /* a tenth of the set a step, and no more than RESIDENT_STEP */
    chunk = res->size / 10;
    if (chunk == 0 || chunk > NGX_HTTP_UPLOAD_FILTER_RESIDENT_STEP) {
        chunk = NGX_HTTP_UPLOAD_FILTER_RESIDENT_STEP;
    }

    rc = hdb_resident_step(res->walk, chunk, &st);

    res->size = st.size;
    res->readback += st.readback;

    if (rc != 0 && hdb_resident_mode(res->walk) == HDB_RESIDENT_WARM
        && res->umcf->resident == HDB_RESIDENT_LOCK && !res->lock_failed)
    {
        /* mlock() failed; the walk goes on as "warm" */
        ngx_http_upload_filter_resident_lock_failed(res, rc, ev->log);
        rc = 0;
    }

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, ev->log, rc,
                      "upload_filter_resident: walking the hash set "
                      "\"%V\" failed", &res->umcf->db_path);
        ngx_add_timer(ev, NGX_HTTP_UPLOAD_FILTER_RESIDENT_SLOW);
        return;
    }

    if (st.cycle_done) {
        ngx_http_upload_filter_resident_cycle_done(res, &st, ev->log);
    }

    if (res->first) {
        next = NGX_HTTP_UPLOAD_FILTER_RESIDENT_FAST;

    } else if (hdb_resident_mode(res->walk) == HDB_RESIDENT_LOCK) {
        /* pages the updater added are locked at the first walk's pace */
        next = st.resident < st.size ? NGX_HTTP_UPLOAD_FILTER_RESIDENT_FAST
                                     : NGX_HTTP_UPLOAD_FILTER_RESIDENT_SLOW;

    } else {
        /* one walk a period: the period's share for this step's bytes */
        next = st.size ? (ngx_msec_t) ((double) res->umcf->resident_period
                                       * chunk / st.size)
                       : NGX_HTTP_UPLOAD_FILTER_RESIDENT_SLOW;
        if (next == 0) {
            next = 1;
        }

        if (next > res->umcf->resident_period) {
            next = res->umcf->resident_period;
        }
    }

    ngx_add_timer(ev, next);
}


static void
ngx_http_upload_filter_resident_lock_failed(
    ngx_http_upload_filter_resident_t *res, int err, ngx_log_t *log)
{
    struct rlimit  rl;

    res->lock_failed = 1;

    if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0) {
        rl.rlim_cur = 0;
    }

    ngx_log_error(NGX_LOG_WARN, log, err,
                  "upload_filter_resident lock: mlock() of the hash set "
                  "\"%V\" (%uz KiB) failed with RLIMIT_MEMLOCK at %uL "
                  "bytes; keeping it warm instead",
                  &res->umcf->db_path, res->size >> 10,
                  (uint64_t) rl.rlim_cur);
}


static void
ngx_http_upload_filter_resident_cycle_done(
    ngx_http_upload_filter_resident_t *res, hdb_resident_stats_t *st,
    ngx_log_t *log)
{
    if (res->first && hdb_resident_mode(res->walk) == HDB_RESIDENT_LOCK) {
        res->first = 0;
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "upload_filter_resident: hash set \"%V\" locked "
                      "in memory, %uz KiB in %M ms",
                      &res->umcf->db_path, st->size >> 10,
                      ngx_current_msec - res->start);

    } else if (res->first) {
        /*
         * Pages read back are touched by the next walk: the set is in
         * memory once a walk found nothing missing.
         */
        res->warmup += res->readback;

        if (res->readback == 0) {
            res->first = 0;
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "upload_filter_resident: hash set \"%V\" kept "
                          "warm, %uz KiB (%uz KiB read back) in memory "
                          "after %M ms, then walked every %M ms",
                          &res->umcf->db_path, st->size >> 10,
                          res->warmup >> 10, ngx_current_msec - res->start,
                          res->umcf->resident_period);
        }

    } else if (res->readback) {
        /* what the host took while nobody looked: worth knowing */
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "upload_filter_resident: %uz KiB of the hash set "
                      "\"%V\" had been paged out, read back",
                      res->readback >> 10, &res->umcf->db_path);
    }

    res->readback = 0;
}
