/*
 * HTTP(S) downloads for hashdb pull (fetch.c, libcurl).
 */

#ifndef FETCH_H
#define FETCH_H

#include <stdint.h>
#include <stdio.h>

#define FETCH_ETAG_MAX  256

typedef struct {
    long         timeout;          /* seconds to connect; a transfer gets
                                      ten times that, and is given up
                                      when it stalls that long */
    uint64_t     max_size;         /* bytes; 0: none */
    int          retries;          /* after the first attempt */
    unsigned     backoff;          /* seconds before the first retry,
                                      doubled for each next one */
    const char  *etag_in;          /* a conditional GET: If-None-Match */

    /* what came */
    char         etag_out[FETCH_ETAG_MAX];
    int          not_modified;     /* 304 */
    int          over;             /* more than max_size came */
    long         status;
    uint64_t     bytes;            /* over all attempts */
} fetch_t;

int fetch_init(void);
void fetch_cleanup(void);

/*
 * GET url into out (truncated and written again on a retry).  0 on a 200
 * (the body in out) or a 304 (f->not_modified); -1 with a message in err.
 */
int fetch_url(const char *url, FILE *out, fetch_t *f, char *err,
    size_t errlen);

#endif /* FETCH_H */
