/*
 * hashdb scan --rate: the bytes all workers read, held to a rate so that
 * a scan does not starve the server it runs on of disk.  A shared clock
 * of when the bytes taken so far are due; a reader ahead of it sleeps.
 * Idle time is not saved up for a burst.
 */

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "scan.h"

struct scan_rate_s {
    pthread_mutex_t   lock;
    double            rate;         /* bytes per second */
    double            due;          /* when the bytes taken are due, s */
};

static double
scan_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

scan_rate_t *
scan_rate_new(double bytes_per_second)
{
    scan_rate_t  *r;

    r = calloc(1, sizeof(scan_rate_t));
    if (r == NULL) {
        return NULL;
    }

    pthread_mutex_init(&r->lock, NULL);
    r->rate = bytes_per_second;
    r->due = scan_now();

    return r;
}

void
scan_rate_take(scan_rate_t *r, size_t n)
{
    double           now, wait;
    struct timespec  ts;

    pthread_mutex_lock(&r->lock);

    now = scan_now();
    if (r->due < now) {
        /* idle time is not saved up for a burst */
        r->due = now;
    }

    r->due += (double) n / r->rate;
    wait = r->due - now - (double) n / r->rate;

    pthread_mutex_unlock(&r->lock);

    if (wait > 0) {
        ts.tv_sec = (time_t) wait;
        ts.tv_nsec = (long) ((wait - (double) ts.tv_sec) * 1e9);
        nanosleep(&ts, NULL);
    }
}

void
scan_rate_free(scan_rate_t *r)
{
    if (r) {
        pthread_mutex_destroy(&r->lock);
        free(r);
    }
}

