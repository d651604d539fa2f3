/*
 * HTTP(S) downloads for hashdb pull, through libcurl: TLS verification
 * on (libcurl's default, never turned off here), proxies from the
 * environment (libcurl reads http_proxy, https_proxy, no_proxy), HTTP and
 * HTTPS only, no redirects to other protocols, timeouts, a size cap, and
 * retries with backoff for what may pass (no connection, a timeout, a cut
 * transfer, 429, 5xx).  See fetch.h.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "hashdb.h"
#include "fetch.h"

typedef struct {
    FILE      *out;
    uint64_t   bytes;
    uint64_t   max;
    int        over;
    char      *etag;
    size_t     etag_size;
} fetch_io_t;

static size_t
fetch_write(char *p, size_t size, size_t n, void *data)
{
    fetch_io_t  *io = data;

    n *= size;

    if (io->max && io->bytes + n > io->max) {
        io->over = 1;
        return 0;                   /* libcurl stops: CURLE_WRITE_ERROR */
    }

    if (fwrite(p, 1, n, io->out) != n) {
        return 0;
    }

    io->bytes += n;
    return n;
}

/* the response's ETag, for the next conditional GET */
static size_t
fetch_header(char *p, size_t size, size_t n, void *data)
{
    size_t       len, k;
    fetch_io_t  *io = data;

    len = size * n;

    if (io->etag && len > 5 && strncasecmp(p, "ETag:", 5) == 0) {
        k = 5;
        while (k < len && (p[k] == ' ' || p[k] == '\t')) {
            k++;
        }
        while (len > k && (p[len - 1] == '\r' || p[len - 1] == '\n'
                           || p[len - 1] == ' '))
        {
            len--;
        }
        if (len - k < io->etag_size) {
            memcpy(io->etag, p + k, len - k);
            io->etag[len - k] = '\0';
        }
    }

    return size * n;
}

int
fetch_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void
fetch_cleanup(void)
{
    curl_global_cleanup();
}

int
fetch_url(const char *url, FILE *out, fetch_t *f, char *err, size_t errlen)
{
    int                 attempt, rc;
    long                code;
    CURL               *h;
    CURLcode            cc;
    fetch_io_t          io;
    char                ebuf[CURL_ERROR_SIZE], inm[FETCH_ETAG_MAX + 32];
    struct curl_slist  *hdrs;

    f->not_modified = 0;
    f->over = 0;
    f->status = 0;
    f->bytes = 0;
    rc = -1;

    for (attempt = 0; attempt <= f->retries; attempt++) {

        if (attempt) {
            /* 1 s, 2 s, 4 s ...: a busy origin gets room */
            sleep(f->backoff << (attempt - 1));
            if (fflush(out) != 0 || ftruncate(fileno(out), 0) != 0) {
                snprintf(err, errlen, "%s: %s", url, strerror(errno));
                return -1;
            }
            rewind(out);
        }

        h = curl_easy_init();
        if (h == NULL) {
            snprintf(err, errlen, "%s: cannot set up libcurl", url);
            return -1;
        }

        memset(&io, 0, sizeof(io));
        io.out = out;
        io.max = f->max_size;
        io.etag = f->etag_out;
        io.etag_size = sizeof(f->etag_out);
        f->etag_out[0] = '\0';
        ebuf[0] = '\0';
        hdrs = NULL;

        if (f->etag_in && f->etag_in[0]) {
            snprintf(inm, sizeof(inm), "If-None-Match: %s", f->etag_in);
            hdrs = curl_slist_append(hdrs, inm);
        }

        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, f->timeout);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, f->timeout * 10);
        /* a stalled transfer: under 1 byte/s for the timeout */
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, f->timeout);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fetch_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &io);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, fetch_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &io);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "hashdb-pull/" HDB_VERSION);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "identity");
        if (hdrs) {
            curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        }

        cc = curl_easy_perform(h);
        code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(h);
        curl_slist_free_all(hdrs);

        f->status = code;
        f->bytes += io.bytes;

        if (io.over) {
            f->over = 1;
            snprintf(err, errlen, "%s: larger than %llu bytes (--max-size)",
                     url, (unsigned long long) f->max_size);
            return -1;
        }

        if (cc == CURLE_OK && code == 304) {
            f->not_modified = 1;
            return 0;
        }

        if (cc == CURLE_OK && code == 200) {
            if (fflush(out) != 0) {
                snprintf(err, errlen, "%s: %s", url, strerror(errno));
                return -1;
            }
            return 0;
        }

        if (cc == CURLE_OK) {
            snprintf(err, errlen, "%s: HTTP status %ld", url, code);
            if (code != 429 && code < 500) {
                return -1;          /* 404 and the like: no retry helps */
            }

        } else {
            snprintf(err, errlen, "%s: %s", url,
                     ebuf[0] ? ebuf : curl_easy_strerror(cc));

            if (cc != CURLE_COULDNT_CONNECT && cc != CURLE_OPERATION_TIMEDOUT
                && cc != CURLE_RECV_ERROR && cc != CURLE_SEND_ERROR
                && cc != CURLE_PARTIAL_FILE && cc != CURLE_GOT_NOTHING
                && cc != CURLE_COULDNT_RESOLVE_HOST)
            {
                return -1;
            }
        }
    }

    return rc;
}
