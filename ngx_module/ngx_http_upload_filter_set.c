/*
 * The hash set as a worker holds it, for the pool threads.
 *
 * The event loop reads the set through one reader of its own
 * (umcf->reader).  A pool thread that has hashed an upload looks its
 * hashes up itself (hundreds of index queries for a video: tens of
 * milliseconds that the event loop must not spend), with a reader lent
 * by the set: readers are not shared by threads, and one kept from task
 * to task keeps its cache of index blocks.
 *
 * The watch replaces the set when its file is replaced, at any moment of
 * the event loop, while threads may still be reading the old one.  So a
 * task holds a reference on the set it was posted with, taken and given
 * back in the event loop (no atomics needed): a replaced set is retired,
 * and closed once the last task that holds it is done.  Readers in
 * several threads need a map that is never remapped under them
 * (hdb_map_reserved()); without one, lookups stay in the event loop.
 */

#include "ngx_http_upload_filter.h"


#define NGX_HTTP_UPLOAD_FILTER_SPARE  16


struct ngx_http_upload_filter_set_s {
    hdb_t                      *db;
    ngx_uint_t                  refs;       /* event loop only */
    ngx_uint_t                  retired;
#if (NGX_THREADS)
    ngx_thread_mutex_t          mutex;      /* the spare readers */
#endif
    ngx_uint_t                  nspare;
    hdb_reader_t               *spare[NGX_HTTP_UPLOAD_FILTER_SPARE];
};


static void ngx_http_upload_filter_set_close(ngx_http_upload_filter_set_t *set);


ngx_http_upload_filter_set_t *
ngx_http_upload_filter_set_new(hdb_t *db, ngx_log_t *log)
{
    ngx_http_upload_filter_set_t  *set;

    /* not from a pool: it may outlive the cycle's replacement of it */
    set = ngx_calloc(sizeof(ngx_http_upload_filter_set_t), log);
    if (set == NULL) {
        return NULL;
    }

    set->db = db;

#if (NGX_THREADS)
    if (ngx_thread_mutex_create(&set->mutex, log) != NGX_OK) {
        ngx_free(set);
        return NULL;
    }
#endif

    return set;
}


/* whether a thread may read this set: its map is never remapped */
ngx_uint_t
ngx_http_upload_filter_set_threads(ngx_http_upload_filter_set_t *set)
{
    return set && hdb_map_reserved(set->db);
}


/* a task takes the set with it (event loop) */
ngx_http_upload_filter_set_t *
ngx_http_upload_filter_set_hold(ngx_http_upload_filter_set_t *set)
{
    set->refs++;
    return set;
}


/* a task is done with it (event loop): a retired set closes at the last */
void
ngx_http_upload_filter_set_release(ngx_http_upload_filter_set_t *set)
{
    if (--set->refs == 0 && set->retired) {
        ngx_http_upload_filter_set_close(set);
    }
}


/*
 * The set was replaced, or the worker exits (event loop).  At exit the
 * pool threads have been stopped already (the thread pool module's
 * exit_process runs before ours): a task whose completion never came
 * holds nothing any more.
 */
void
ngx_http_upload_filter_set_retire(ngx_http_upload_filter_set_t *set,
    ngx_uint_t exiting)
{
    if (set == NULL) {
        return;
    }

    set->retired = 1;

    if (set->refs == 0 || exiting) {
        ngx_http_upload_filter_set_close(set);
    }
}


static void
ngx_http_upload_filter_set_close(ngx_http_upload_filter_set_t *set)
{
    ngx_uint_t  i;

    for (i = 0; i < set->nspare; i++) {
        hdb_reader_free(set->spare[i]);
    }

#if (NGX_THREADS)
    (void) ngx_thread_mutex_destroy(&set->mutex, ngx_cycle->log);
#endif

    hdb_close(set->db);
    ngx_free(set);
}


#if (NGX_THREADS)

/*
 * A reader for a pool thread: a spare one, or a new one; NULL if none
 * can be made (the lookups are then done in the event loop).  Called in
 * a pool thread: malloc and LMDB only.
 */
hdb_reader_t *
ngx_http_upload_filter_set_lend(ngx_http_upload_filter_set_t *set,
    ngx_log_t *log)
{
    hdb_reader_t  *rd;

    rd = NULL;

    if (ngx_thread_mutex_lock(&set->mutex, log) == NGX_OK) {
        if (set->nspare) {
            rd = set->spare[--set->nspare];
        }

        (void) ngx_thread_mutex_unlock(&set->mutex, log);
    }

    if (rd == NULL && hdb_reader_new(set->db, &rd) != 0) {
        return NULL;
    }

    return rd;
}


/* the reader back (pool thread), kept for the next task if there is room */
void
ngx_http_upload_filter_set_give_back(ngx_http_upload_filter_set_t *set,
    hdb_reader_t *rd, ngx_log_t *log)
{
    if (ngx_thread_mutex_lock(&set->mutex, log) == NGX_OK) {
        if (set->nspare < NGX_HTTP_UPLOAD_FILTER_SPARE) {
            set->spare[set->nspare++] = rd;
            rd = NULL;
        }

        (void) ngx_thread_mutex_unlock(&set->mutex, log);
    }

    hdb_reader_free(rd);
}

#endif
