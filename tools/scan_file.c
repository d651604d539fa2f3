/*
 * hashdb scan: one file hashed and looked up.  With --cache, a file whose
 * size, mtime and ctime are as cached is not read at all: its cached
 * hashes are looked up.  Otherwise the file is read once, sequentially
 * (posix_fadvise), through the digests the hash set can match; an image
 * (told by its first bytes) is also kept, up to a size, and the PDQ hash
 * of each of its frames computed by the media layer, as the module
 * computes an upload's.  The pages read are dropped from the page cache
 * afterwards, so that a scan of a large store does not push the server's
 * working set out of memory.  The file is never written.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scan.h"

int
scan_video_room(scan_video_t *v, size_t n)
{
    hdb_vpdq_frame_t  *grown;

    if (n <= v->cap) {
        return 0;
    }

    grown = realloc(v->frames, n * sizeof(hdb_vpdq_frame_t));
    if (grown == NULL) {
        return ENOMEM;
    }

    v->frames = grown;
    v->cap = n;

    return 0;
}

static void
scan_media(scan_worker_t *w, const scan_opts_t *o, const unsigned char *img,
    size_t len, scan_hashes_t *h)
{
    hdb_media_limits_t   l;
    hdb_media_result_t   media;

    hdb_media_limits_default(&l);
    l.max_frames = SCAN_FRAMES_MAX;
    l.sampling = o->sampling;

    h->media = 1;
    h->media_rc = hdb_media_hash(img, len, &l, &media);
    h->format = media.type;
    h->total = media.total;

    if (h->media_rc == HDB_MEDIA_EFORMAT && hdb_media_is_video(media.type)) {
        /* audio in a video container: nothing to hash */
        h->media_rc = HDB_MEDIA_OK;
        h->format = HDB_MEDIA_NONE;
    }

    if (hdb_media_is_video(media.type)) {
        /* a video's frames are matched as is, by vPDQ's rule */
        if (media.nframes && scan_video_room(&w->video, media.nframes) != 0)
        {
            h->media_rc = HDB_MEDIA_ENOMEM;
            media.nframes = 0;
        }

        for (unsigned k = 0; k < media.nframes; k++) {
            memcpy(w->video.frames[k].hash, media.frames[k].variants[0],
                   HDB_PDQ_SIZE);
            w->video.frames[k].quality = media.frames[k].quality;
            w->video.frames[k].time = media.frames[k].time;
        }

        h->video = w->video.frames;
        h->nvideo = media.nframes;
        hdb_media_free(&media);
        return;
    }

    for (unsigned k = 0; k < media.nframes && k < SCAN_FRAMES_MAX; k++) {
        h->frames[k].index = media.frames[k].index;
        h->frames[k].quality = media.frames[k].quality;
        memcpy(h->frames[k].variants, media.frames[k].variants,
               sizeof(h->frames[k].variants));
        h->nframes = k + 1;
    }

    hdb_media_free(&media);
}

/* reads the file: its digests and, if it is an image, its PDQ hashes */
static int
scan_read(scan_worker_t *w, const scan_opts_t *o, const char *path,
    const struct stat *st, scan_result_t *r)
{
    int             fd, image;
    size_t          len, cap;
    ssize_t         n;
    struct stat     fst;
    hdb_digests_t   dg;
    unsigned char  *img, *grown;
    scan_hashes_t  *h = &r->hashes;

    fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC
                    | (o->follow ? 0 : O_NOFOLLOW));
    if (fd == -1) {
        r->error = errno;
        return -1;
    }

    /* what is read must be what was walked: not a file swapped in since */
    if (fstat(fd, &fst) == -1 || !S_ISREG(fst.st_mode)
        || fst.st_ino != st->st_ino || fst.st_dev != st->st_dev)
    {
        r->error = errno ? errno : ESTALE;
        r->why = "changed while scanned";
        close(fd);
        return -1;
    }

    r->st = fst;
    (void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

    hdb_digest_reset(w->digest);
    img = NULL;
    len = 0;
    cap = 0;
    image = -1;     /* not told yet */

    while ((n = read(fd, w->buf, w->bufsize)) > 0) {
        if (o->rate) {
            scan_rate_take(o->rate, (size_t) n);
        }

        hdb_digest_update(w->digest, w->buf, (size_t) n);

        if (image == -1) {
            int  type = hdb_media_sniff(w->buf, (size_t) n);

            image = type > HDB_MEDIA_NONE
                    && (size_t) fst.st_size <= (hdb_media_is_video(type)
                                                ? o->max_video : o->max_image)
                    && (o->types & HDB_TYPE_BIT(HDB_PDQ));
        }

        if (image != 1) {
            continue;
        }

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

    /* the pages are not ours to keep */
    (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);

    if (n < 0 || close(fd) != 0) {
        r->error = errno;
        free(img);
        return -1;
    }

    if (hdb_digest_final(w->digest, &dg) != 0) {
        r->error = EIO;
        r->why = "digest failed";
        free(img);
        return -1;
    }

    h->types = dg.types;
    memcpy(h->md, dg.md, sizeof(h->md));
    h->media = (o->types & HDB_TYPE_BIT(HDB_PDQ)) != 0
               && (size_t) fst.st_size <= o->max_image;
    h->format = HDB_MEDIA_NONE;
    h->media_rc = HDB_MEDIA_OK;

    if (img) {
        scan_media(w, o, img, len, h);
        free(img);
    }

    /* an image refused for want of memory is not cached as refused */
    r->store = r->media_error[0] == '\0';

    return 0;
}

/* the cached hashes serve if they hold every kind this set needs */
static int
scan_cached(scan_worker_t *w, const scan_opts_t *o, const struct stat *st,
    scan_hashes_t *h)
{
    unsigned  need;

    if (w->cache == NULL || scan_cache_get(w->cache, st, h, &w->video) != 0)
    {
        return 0;
    }

    need = o->types & HDB_DIGEST_TYPES;

    if ((h->types & need) != need
        || ((o->types & HDB_TYPE_BIT(HDB_PDQ)) && !h->media
            && (size_t) st->st_size <= o->max_image))
    {
        return 0;
    }

    return 1;
}

static void
scan_hit(scan_result_t *r, const char *match, const hdb_match_t *m, int pdq,
    int frame)
{
    scan_hit_t  *hit;

    if (r->nhits == SCAN_HITS_MAX) {
        return;
    }

    hit = &r->hits[r->nhits++];
    snprintf(hit->match, sizeof(hit->match), "%s", match);
    hit->m = *m;
    hit->pdq = pdq;
    hit->frame = frame;
    hit->time = -1;
    hit->vpdq = 0;
}

/* a video's frames: vPDQ's rule, then each frame as a still */
static void
scan_video(scan_worker_t *w, const scan_opts_t *o, scan_result_t *r)
{
    char                    hex[HDB_PDQ_HEX_LEN + 1];
    char                    match[sizeof(r->hits[0].match)];
    scan_hit_t             *hit;
    hdb_match_t             m;
    hdb_vpdq_rule_t         rule;
    hdb_vpdq_match_t        vm;
    scan_hashes_t          *h = &r->hashes;
    const hdb_vpdq_frame_t *f;

    rule.distance = o->distance;
    rule.quality = o->min_quality;
    rule.pc = HDB_VPDQ_PC_DEFAULT;
    rule.pq = HDB_VPDQ_PQ_DEFAULT;
    rule.sparse = o->sampling == HDB_VIDEO_KEYFRAMES;

    if (hdb_reader_vpdq_match(w->rd, h->video, h->nvideo, &rule, &vm) == 0
        && r->nhits < SCAN_HITS_MAX)
    {
        hdb_hex_encode(vm.m.listed, HDB_PDQ_SIZE, hex);
        snprintf(match, sizeof(match), "pdq:%s", hex);
        scan_hit(r, match, &vm.m, 1, -1);

        hit = &r->hits[r->nhits - 1];
        hit->time = vm.time;
        hit->vpdq = 1;
        hit->listed_matched = vm.listed_matched;
        hit->listed_frames = vm.listed_frames;
        hit->matched = vm.matched;
        hit->frames = vm.frames;
    }

    for (unsigned k = 0; k < h->nvideo; k++) {
        f = &h->video[k];

        if ((unsigned) f->quality < o->min_quality
            || hdb_reader_pdq_match_flags(w->rd,
                                   (const unsigned char (*)[HDB_PDQ_SIZE])
                                   f->hash, 1, o->distance, HDB_MATCH_IMAGES,
                                   &m) != 0)
        {
            continue;
        }

        hdb_hex_encode(f->hash, HDB_PDQ_SIZE, hex);
        snprintf(match, sizeof(match), "pdq:%s", hex);
        if (r->nhits < SCAN_HITS_MAX) {
            scan_hit(r, match, &m, 1, -1);
            r->hits[r->nhits - 1].time = f->time;
        }
    }
}

/* the hashes against the hash set */
static void
scan_lookup(scan_worker_t *w, const scan_opts_t *o, scan_result_t *r)
{
    char            hex[HDB_HEX_MAX + 1], match[sizeof(r->hits[0].match)];
    hdb_match_t     m;
    scan_hashes_t  *h = &r->hashes;

    /*
     * A read transaction per file: a scan of hours must not pin the
     * pages an update frees (LMDB could not reuse them meanwhile).
     */
    if (hdb_reader_begin(w->rd) != 0) {
        r->error = EIO;
        r->why = "the hash set cannot be read";
        return;
    }

    for (int i = 0; i < HDB_NDIGESTS; i++) {
        hdb_type_t  t = hdb_types_by_cost[i];

        if ((h->types & o->types & HDB_TYPE_BIT(t))
            && hdb_reader_lookup(w->rd, t, h->md[t], &m) == 0)
        {
            hdb_hex_encode(h->md[t], hdb_type_size(t), hex);
            snprintf(match, sizeof(match), "%s:%s", hdb_type_name(t), hex);
            scan_hit(r, match, &m, 0, -1);
        }
    }

    if (h->media && h->format != HDB_MEDIA_NONE) {
        r->format = hdb_media_name(h->format);

        if (h->media_rc != HDB_MEDIA_OK && r->media_error[0] == '\0') {
            snprintf(r->media_error, sizeof(r->media_error), "%s",
                     hdb_media_strerror(h->media_rc, NULL));
        }
    }

    if (h->nvideo && (o->types & HDB_TYPE_BIT(HDB_PDQ))) {
        scan_video(w, o, r);
    }

    for (unsigned k = 0; k < h->nframes && (o->types & HDB_TYPE_BIT(HDB_PDQ));
         k++)
    {
        scan_frame_t  *f = &h->frames[k];

        if ((unsigned) f->quality < o->min_quality
            || hdb_reader_pdq_match(w->rd,
                                    (const unsigned char (*)[HDB_PDQ_SIZE])
                                    f->variants, HDB_PDQ_VARIANTS,
                                    o->distance, &m) != 0)
        {
            continue;
        }

        hdb_hex_encode(f->variants[m.variant], HDB_PDQ_SIZE, hex);
        snprintf(match, sizeof(match), "pdq:%s", hex);
        scan_hit(r, match, &m, 1, h->total > 1 ? (int) f->index : -1);
    }

    hdb_reader_end(w->rd);
}

void
scan_file(scan_worker_t *w, const scan_opts_t *o, const char *path,
    const struct stat *st, scan_result_t *r)
{
    memset(r, 0, sizeof(scan_result_t));   /* the frames stay in w->video */
    r->path = path;
    r->st = *st;

    if (scan_cached(w, o, st, &r->hashes)) {
        r->cached = 1;

    } else {
        memset(&r->hashes, 0, sizeof(r->hashes));

        if (scan_read(w, o, path, st, r) != 0) {
            return;
        }
    }

    scan_lookup(w, o, r);
}
