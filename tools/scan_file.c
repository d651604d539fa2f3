/*
 * hashdb scan: one file hashed and looked up.  The file is read once,
 * sequentially (posix_fadvise), through the digests the hash set can
 * match; an image (told by its first bytes) is also kept, up to a size,
 * and its frames' PDQ hashes are matched as the module matches an
 * upload's.  The pages read are dropped from the page cache afterwards,
 * so that a scan of a large store does not push the server's working set
 * out of memory.  The file is never written.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scan.h"

static void
scan_hit_digest(scan_result_t *r, hdb_type_t t, const unsigned char *md,
    const hdb_match_t *m)
{
    char         hex[HDB_HEX_MAX + 1];
    scan_hit_t  *h;

    if (r->nhits == SCAN_HITS_MAX) {
        return;
    }

    h = &r->hits[r->nhits++];
    hdb_hex_encode(md, hdb_type_size(t), hex);
    snprintf(h->match, sizeof(h->match), "%s:%s", hdb_type_name(t), hex);
    h->m = *m;
    h->pdq = 0;
    h->frame = -1;
}

static void
scan_media(scan_worker_t *w, const scan_opts_t *o, const unsigned char *img,
    size_t len, scan_result_t *r)
{
    int                  rc;
    char                 hex[HDB_PDQ_HEX_LEN + 1];
    scan_hit_t          *h;
    hdb_match_t          m;
    hdb_media_limits_t   l;
    hdb_media_result_t   media;

    memset(&l, 0, sizeof(l));
    l.max_pixels = HDB_MEDIA_PIXELS_DEFAULT;
    l.max_frames = HDB_MEDIA_FRAMES_DEFAULT;
    l.max_total_pixels = HDB_MEDIA_TOTAL_PIXELS_DEFAULT;

    rc = hdb_media_hash(img, len, &l, &media);
    r->format = hdb_media_name(media.type);

    if (rc != HDB_MEDIA_OK) {
        snprintf(r->media_error, sizeof(r->media_error), "%s",
                 hdb_media_strerror(rc, &media));
        return;
    }

    for (unsigned k = 0; k < media.nframes; k++) {
        hdb_media_frame_t  *f = &media.frames[k];

        if ((unsigned) f->quality < o->min_quality) {
            continue;
        }

        rc = hdb_reader_pdq_match(w->rd,
                                  (const unsigned char (*)[HDB_PDQ_SIZE])
                                  f->variants, HDB_PDQ_VARIANTS,
                                  o->distance, &m);
        if (rc != 0 || r->nhits == SCAN_HITS_MAX) {
            continue;
        }

        h = &r->hits[r->nhits++];
        hdb_hex_encode(f->variants[m.variant], HDB_PDQ_SIZE, hex);
        snprintf(h->match, sizeof(h->match), "pdq:%s", hex);
        h->m = m;
        h->pdq = 1;
        h->frame = media.total > 1 ? (int) f->index : -1;
    }

    hdb_media_free(&media);
}

void
scan_file(scan_worker_t *w, const scan_opts_t *o, const char *path,
    const struct stat *st, scan_result_t *r)
{
    int             fd, image;
    size_t          len, cap;
    ssize_t         n;
    hdb_match_t     m;
    struct stat     fst;
    hdb_digests_t   dg;
    unsigned char  *img, *grown;

    memset(r, 0, sizeof(scan_result_t));
    r->path = path;
    r->st = *st;

    fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC
                    | (o->follow ? 0 : O_NOFOLLOW));
    if (fd == -1) {
        r->error = errno;
        return;
    }

    /* what is read must be what was walked: not a file swapped in since */
    if (fstat(fd, &fst) == -1 || !S_ISREG(fst.st_mode)
        || fst.st_ino != st->st_ino || fst.st_dev != st->st_dev)
    {
        r->error = errno ? errno : ESTALE;
        r->why = "changed while scanned";
        close(fd);
        return;
    }

    r->st = fst;
    (void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

    hdb_digest_reset(w->digest);
    img = NULL;
    len = 0;
    cap = 0;
    image = -1;     /* not told yet */

    while ((n = read(fd, w->buf, w->bufsize)) > 0) {
        hdb_digest_update(w->digest, w->buf, (size_t) n);

        if (image == -1) {
            image = hdb_media_sniff(w->buf, (size_t) n) > HDB_MEDIA_NONE
                    && (size_t) fst.st_size <= o->max_image
                    && (o->types & HDB_TYPE_BIT(HDB_PDQ));
        }

        if (image == 1) {
            if (len + (size_t) n > cap) {
                cap = (size_t) fst.st_size > len + (size_t) n
                      ? (size_t) fst.st_size : 2 * (len + (size_t) n);
                grown = realloc(img, cap);
                if (grown == NULL) {
                    image = 0;
                    free(img);
                    img = NULL;
                    len = 0;
                    snprintf(r->media_error, sizeof(r->media_error),
                             "out of memory");
                    continue;
                }

                img = grown;
            }

            memcpy(img + len, w->buf, (size_t) n);
            len += (size_t) n;
        }
    }

    if (n < 0) {
        r->error = errno;
        free(img);
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
        return;
    }

    /* the pages are not ours to keep */
    (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);

    if (hdb_digest_final(w->digest, &dg) != 0) {
        r->error = EIO;
        r->why = "digest failed";
        free(img);
        return;
    }

    /*
     * A read transaction per file: a scan of hours must not pin the
     * pages an update frees (LMDB could not reuse them meanwhile).
     */
    if (hdb_reader_begin(w->rd) != 0) {
        r->error = EIO;
        r->why = "the hash set cannot be read";
        free(img);
        return;
    }

    for (int i = 0; i < HDB_NDIGESTS; i++) {
        hdb_type_t  t = hdb_types_by_cost[i];

        if ((dg.types & HDB_TYPE_BIT(t))
            && hdb_reader_lookup(w->rd, t, dg.md[t], &m) == 0)
        {
            scan_hit_digest(r, t, dg.md[t], &m);
        }
    }

    if (img) {
        scan_media(w, o, img, len, r);
        free(img);
    }

    hdb_reader_end(w->rd);
}
