/*
 * The hash set's file, watched: a set deleted and made anew under a
 * running nginx (hashdb init after rm -rf, a restore from backup, a new
 * directory moved into place) would otherwise go unnoticed, the workers
 * serving the deleted files they still have mapped.  Once a second each
 * worker compares the device and inode of the set's data.mdb with those
 * of the file it opened; when they differ it opens the new set, logs a
 * notice, and only then lets the old one go.  A worker that could not
 * open the set at start (not made yet) opens it the same way once it is
 * there.  Updates by hashdb (sync, apply, import) write into the same
 * file: they need none of this, readers see each commit.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_upload_filter.h"


#define NGX_HTTP_UPLOAD_FILTER_WATCH_PERIOD  1000


typedef struct {
    ngx_http_upload_filter_main_conf_t  *umcf;
    ngx_event_t                          event;
    ngx_cycle_t                         *cycle;
    u_char                              *data_path;   /* .../data.mdb */
    dev_t                                dev;
    ino_t                                ino;
    ngx_uint_t                           missing_logged;
} ngx_http_upload_filter_watch_t;


static ngx_http_upload_filter_watch_t  *ngx_http_upload_filter_watch;


static void ngx_http_upload_filter_watch_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_upload_filter_watch_open(
    ngx_http_upload_filter_watch_t *w, ngx_uint_t level);


/* the set as opened now: its file's identity */
static void
ngx_http_upload_filter_watch_note(ngx_http_upload_filter_watch_t *w)
{
    ngx_file_info_t  fi;

    if (ngx_file_info(w->data_path, &fi) == NGX_FILE_ERROR) {
        w->dev = 0;
        w->ino = 0;
        return;
    }

    w->dev = fi.st_dev;
    w->ino = fi.st_ino;
}


void
ngx_http_upload_filter_watch_start(ngx_cycle_t *cycle,
    ngx_http_upload_filter_main_conf_t *umcf)
{
    size_t                           n;
    ngx_http_upload_filter_watch_t  *w;

    w = ngx_pcalloc(cycle->pool, sizeof(ngx_http_upload_filter_watch_t));
    n = umcf->db_path.len + sizeof("/data.mdb");

    if (w == NULL || (w->data_path = ngx_pnalloc(cycle->pool, n)) == NULL) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "upload_filter: no memory to watch the hash set");
        return;
    }

    ngx_sprintf(w->data_path, "%V/data.mdb%Z", &umcf->db_path);

    w->umcf = umcf;
    w->cycle = cycle;
    w->event.handler = ngx_http_upload_filter_watch_handler;
    w->event.data = w;
    w->event.log = cycle->log;
    w->event.cancelable = 1;

    if (umcf->db) {
        ngx_http_upload_filter_watch_note(w);
    }

    ngx_http_upload_filter_watch = w;
    ngx_add_timer(&w->event, NGX_HTTP_UPLOAD_FILTER_WATCH_PERIOD);
}


void
ngx_http_upload_filter_watch_stop(void)
{
    ngx_http_upload_filter_watch_t  *w = ngx_http_upload_filter_watch;

    if (w && w->event.timer_set) {
        ngx_del_timer(&w->event);
    }

    ngx_http_upload_filter_watch = NULL;
}


static void
ngx_http_upload_filter_watch_handler(ngx_event_t *ev)
{
    ngx_file_info_t                  fi;
    ngx_http_upload_filter_watch_t  *w = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (ngx_file_info(w->data_path, &fi) == NGX_FILE_ERROR) {
        /* gone, or not made yet: the set in use (if any) stays */
        if (!w->missing_logged && w->umcf->db) {
            ngx_log_error(NGX_LOG_WARN, ev->log, ngx_errno,
                          "upload_filter: hash set \"%V\" is gone; "
                          "the one opened before is still used",
                          &w->umcf->db_path);
            w->missing_logged = 1;
        }

    } else if (w->umcf->db == NULL
               || fi.st_dev != w->dev || fi.st_ino != w->ino)
    {
        w->missing_logged = 0;
        (void) ngx_http_upload_filter_watch_open(w, NGX_LOG_NOTICE);
    }

    ngx_add_timer(ev, NGX_HTTP_UPLOAD_FILTER_WATCH_PERIOD);
}


/*
 * Opens the set anew; on success the old reader is freed and the old set
 * retired (closed when no pool thread reads it any more).  Runs in the
 * event loop, between requests' uses of the reader (each lookup begins
 * and ends its read transaction in one call).
 */
static ngx_int_t
ngx_http_upload_filter_watch_open(ngx_http_upload_filter_watch_t *w,
    ngx_uint_t level)
{
    int                                  rc;
    hdb_reader_t                        *old_rd;
    ngx_http_upload_filter_set_t        *old_set;
    ngx_http_upload_filter_main_conf_t  *umcf = w->umcf;

    old_set = umcf->set;
    old_rd = umcf->reader;

    rc = ngx_http_upload_filter_open_set(umcf, w->event.log);

    if (rc != 0) {
        /* a set being made: tried again in a second, logged once */
        if (w->dev != (dev_t) -1) {
            ngx_log_error(NGX_LOG_ERR, w->event.log, 0,
                          "upload_filter: cannot open the new hash set "
                          "\"%V\": %s", &umcf->db_path, hdb_strerror(rc));
        }

        w->dev = (dev_t) -1;
        return NGX_ERROR;
    }

    /* the walker of the old set's pages: stopped before the set goes */
    ngx_http_upload_filter_resident_stop();

    hdb_reader_free(old_rd);
    ngx_http_upload_filter_set_retire(old_set, 0);

    ngx_http_upload_filter_watch_note(w);
    ngx_http_upload_filter_resident_start(w->cycle, umcf);

    ngx_log_error(level, w->event.log, 0,
                  "upload_filter: hash set \"%V\" %s: opened", &umcf->db_path,
                  old_set ? "replaced" : "now there");

    return NGX_OK;
}
