/*
 * Uploaded images and PDQ, the perceptual hash.
 *
 * While a body streams in, every image in it (any format the media layer
 * decodes: JPEG, PNG, GIF, WebP, HEIC, AVIF, BMP; told by its first bytes,
 * never by Content-Type or file name: the body of a raw upload, a
 * multipart part, a decoded object) is kept whole in memory, up to
 * upload_filter_pdq_max_size.  When the body is complete and no digest
 * has matched, the images are decoded and hashed (each sampled frame of
 * an animation) in nginx's thread pool: decoding a 12 MP image costs tens
 * of milliseconds that the event loop must not spend on one upload while
 * others wait.  The thread looks the hashes up too, with a reader the
 * set lends it (ngx_http_upload_filter_set.c): a video's frames are
 * hundreds of index queries.  The answers are judged (logged, counted,
 * acted on) back in the event loop when the thread is done.
 * upload_filter_budget bounds the time from the last body byte to the
 * verdict; past it, the upload gets the "timeout" failure policy and the
 * thread's late result is dropped.  upload_filter_pdq_max_pixels bounds
 * each image or canvas, upload_filter_pdq_max_total_pixels the pixels
 * decoded for the whole upload, upload_filter_pdq_max_frames the frames
 * hashed per animation.
 *
 * Videos (MP4, MOV, 3GP, WebM, MKV, AVI, MPEG-TS) go the same way, kept
 * up to upload_filter_video_max_size and sampled as vPDQ samples them
 * (upload_filter_video_sampling): their frames are matched against the
 * listed videos by vPDQ's rule (upload_filter_vpdq_match), and each
 * against the listed images, since a still of listed material is listed
 * material.  An upload with a video gets upload_filter_video_budget
 * instead of upload_filter_budget, and the decoder itself stops when it
 * runs out, so that a thread is not kept busy for a verdict nobody waits
 * for.
 *
 * Bodies that a content handler reads itself (WebDAV PUT, static
 * locations) are judged inside the request body filter, where nothing can
 * wait for a thread: there the hashing runs in the event loop, and a
 * video gets no more than upload_filter_budget.
 */

#include "ngx_http_upload_filter.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>



struct ngx_http_upload_filter_task_s {
    ngx_thread_task_t                  *task;
    ngx_http_upload_filter_ctx_t       *ctx;        /* NULL once detached */
    ngx_http_upload_filter_image_t     *images;
    ngx_http_upload_filter_set_t       *set;        /* held; NULL: no lookups
                                                       in the thread */
    ngx_http_upload_filter_loc_conf_t  *conf;
    hdb_media_limits_t                  limits;
    ngx_uint_t                          detached;
    ngx_uint_t                          priority;
    int64_t                             posted;     /* monotonic ms */
};


/* the unhashable case's reason, by format ($upload_filter_reason) */
static const char  *ngx_http_upload_filter_unhashable[] = {
    [HDB_MEDIA_NONE] = "image cannot be hashed",
    [HDB_MEDIA_JPEG] = "JPEG cannot be hashed",
    [HDB_MEDIA_PNG] = "PNG cannot be hashed",
    [HDB_MEDIA_GIF] = "GIF cannot be hashed",
    [HDB_MEDIA_WEBP] = "WebP cannot be hashed",
    [HDB_MEDIA_HEIF] = "HEIF cannot be hashed",
    [HDB_MEDIA_AVIF] = "AVIF cannot be hashed",
    [HDB_MEDIA_BMP] = "BMP cannot be hashed",
    [HDB_MEDIA_TIFF] = "TIFF cannot be hashed",
    [HDB_MEDIA_MP4] = "MP4 video cannot be hashed",
    [HDB_MEDIA_MKV] = "Matroska/WebM video cannot be hashed",
    [HDB_MEDIA_AVI] = "AVI video cannot be hashed",
    [HDB_MEDIA_MPEGTS] = "MPEG-TS video cannot be hashed"
};


static void ngx_http_upload_filter_pdq_limits(
    ngx_http_upload_filter_loc_conf_t *conf, hdb_media_limits_t *limits,
    ngx_msec_t budget);
static ngx_uint_t ngx_http_upload_filter_has_video(
    ngx_http_upload_filter_image_t *j);
static int64_t ngx_http_upload_filter_mono_ms(void);
static void ngx_http_upload_filter_image_site(ngx_http_upload_filter_image_t *j,
    ngx_http_upload_filter_site_t *site);
static void ngx_http_upload_filter_pdq_hash(ngx_http_upload_filter_image_t *j,
    const hdb_media_limits_t *limits);
static void ngx_http_upload_filter_pdq_match(hdb_reader_t *rd,
    ngx_http_upload_filter_loc_conf_t *conf,
    ngx_http_upload_filter_image_t *list);
static int ngx_http_upload_filter_pdq_match_frames(hdb_reader_t *rd,
    ngx_http_upload_filter_loc_conf_t *conf,
    ngx_http_upload_filter_image_t *j);
static int ngx_http_upload_filter_vpdq_match(hdb_reader_t *rd,
    ngx_http_upload_filter_loc_conf_t *conf,
    ngx_http_upload_filter_image_t *j);
static void ngx_http_upload_filter_pdq_forget(
    ngx_http_upload_filter_image_t *j);
static ngx_int_t ngx_http_upload_filter_image_judge(
    ngx_http_upload_filter_ctx_t *ctx, ngx_http_upload_filter_image_t *j);
static ngx_int_t ngx_http_upload_filter_pdq_hit(
    ngx_http_upload_filter_ctx_t *ctx, ngx_http_upload_filter_image_t *j,
    hdb_media_frame_t *f, hdb_match_t *m);
#if (NGX_THREADS)
static void ngx_http_upload_filter_pdq_thread(void *data, ngx_log_t *log);
static void ngx_http_upload_filter_pdq_done(ngx_event_t *ev);
static void ngx_http_upload_filter_pdq_timeout(ngx_event_t *ev);
static void ngx_http_upload_filter_pdq_continue(ngx_http_request_t *r);
#endif




/* an object starts: it may be an image */
ngx_int_t
ngx_http_upload_filter_image_begin(ngx_http_upload_filter_ctx_t *ctx,
    ngx_http_upload_filter_obj_t *obj, size_t size_hint)
{
    ngx_http_upload_filter_image_t  *j;

    if (!ctx->pdq) {
        return NGX_OK;
    }

    j = ngx_calloc(sizeof(ngx_http_upload_filter_image_t),
                   ctx->request->connection->log);
    if (j == NULL) {
        return NGX_ERROR;
    }

    obj->image = j;

    j->type = HDB_MEDIA_MORE;

    if (size_hint && size_hint <= ngx_max(ctx->conf->pdq_max_size,
                                          ctx->conf->video_max_size))
    {
        /* a raw body announces its size: one allocation, if an image */
        j->cap = size_hint;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_upload_filter_image_feed(ngx_http_upload_filter_ctx_t *ctx,
    ngx_http_upload_filter_obj_t *obj, const u_char *p, size_t len)
{
    size_t                          cap, n, max;
    u_char                         *data;
    ngx_http_upload_filter_image_t  *j = obj->image;

    if (j == NULL || j->rc != HDB_MEDIA_OK || len == 0) {
        return NGX_OK;
    }

    if (j->len < HDB_MEDIA_SNIFF_MAX) {
        /* an image is told by its first bytes, before any is kept */
        n = ngx_min(len, HDB_MEDIA_SNIFF_MAX - j->len);
        ngx_memcpy(j->head + j->len, p, n);

        j->type = hdb_media_sniff(j->head, j->len + n);

        if (j->type == HDB_MEDIA_NONE) {
            ngx_http_upload_filter_image_free(j);
            obj->image = NULL;
            return NGX_OK;
        }
    }

    /* a video is kept up to its own limit; undecided, up to the larger */
    max = hdb_media_is_video(j->type) ? ctx->conf->video_max_size
          : j->type == HDB_MEDIA_MORE ? ngx_max(ctx->conf->video_max_size,
                                                ctx->conf->pdq_max_size)
          : ctx->conf->pdq_max_size;

    if (j->len + len > max) {
        /* too large to keep: reported as unhashable */
        j->rc = HDB_MEDIA_ETOOLARGE;
        j->media.type = j->type;
        ngx_snprintf((u_char *) j->media.why, sizeof(j->media.why) - 1,
                     "%s larger than upload_filter_%s_max_size%Z",
                     hdb_media_is_video(j->type) ? "video" : "image",
                     hdb_media_is_video(j->type) ? "video" : "pdq");
        ngx_free(j->data);
        j->data = NULL;
        return NGX_OK;
    }

    if (j->len + len > j->cap || j->data == NULL) {
        cap = ngx_max(j->cap, 2 * (j->len + len));
        cap = ngx_max(cap, 65536);
        cap = ngx_min(cap, max);

        data = ngx_alloc(cap, ctx->request->connection->log);
        if (data == NULL) {
            return NGX_ERROR;
        }

        if (j->len) {
            ngx_memcpy(data, j->data, j->len);
        }

        ngx_free(j->data);
        j->data = data;
        j->cap = cap;
    }

    ngx_memcpy(j->data + j->len, p, len);
    j->len += len;

    return NGX_OK;
}


/*
 * The object ended: an image joins those to hash, with the names the log
 * needs once the object is gone.
 */
ngx_int_t
ngx_http_upload_filter_image_end(ngx_http_upload_filter_ctx_t *ctx,
    ngx_http_upload_filter_obj_t *obj)
{
    size_t                          n;
    ngx_pool_t                     *pool;
    ngx_http_upload_filter_image_t  *j = obj->image;

    if (j == NULL) {
        return NGX_OK;
    }

    obj->image = NULL;

    if (hdb_media_sniff(j->head, ngx_min(j->len, HDB_MEDIA_SNIFF_MAX))
        <= HDB_MEDIA_NONE)
    {
        /* too short to be an image */
        ngx_http_upload_filter_image_free(j);
        return NGX_OK;
    }

    j->next = ctx->images;
    ctx->images = j;
    j->ledger = obj->ledger;

    pool = ctx->request->pool;

    /* the object's names live as long as the object: copies */
    j->name = ngx_pnalloc(pool, obj->name_len + obj->filename_len + 1);
    n = ngx_strlen(obj->where) + 1;
    j->where = ngx_pnalloc(pool, n + sizeof(obj->decoded));

    if (j->name == NULL || j->where == NULL) {
        return NGX_ERROR;
    }

    j->name_len = obj->name_len;
    j->filename = j->name + obj->name_len;
    j->filename_len = obj->filename_len;

    if (obj->name_len) {
        ngx_memcpy(j->name, obj->name, obj->name_len);
    }

    if (obj->filename_len) {
        ngx_memcpy(j->filename, obj->filename, obj->filename_len);
    }

    ngx_memcpy(j->where, obj->where, n);
    j->decoded = j->where + n;
    ngx_cpystrn(j->decoded, obj->decoded, sizeof(obj->decoded));

    return NGX_OK;
}


void
ngx_http_upload_filter_image_free(ngx_http_upload_filter_image_t *j)
{
    ngx_http_upload_filter_image_t  *next;

    for ( /* void */ ; j; j = next) {
        next = j->next;
        ngx_http_upload_filter_pdq_forget(j);
        hdb_media_free(&j->media);
        ngx_free(j->data);
        ngx_free(j);
    }
}


/*
 * The decoders' limits; a video's deadline is the budget from now (the
 * thread may start later, but the verdict is owed from now).
 */
static void
ngx_http_upload_filter_pdq_limits(ngx_http_upload_filter_loc_conf_t *conf,
    hdb_media_limits_t *limits, ngx_msec_t budget)
{
    struct timespec  ts;

    hdb_media_limits_default(limits);
    limits->max_pixels = conf->pdq_max_pixels;
    limits->max_frames = (unsigned) conf->pdq_max_frames;
    limits->max_total_pixels = conf->pdq_max_total_pixels;
    limits->sampling = (int) conf->video_sampling;
    limits->max_seconds = (unsigned) conf->video_max_duration;

    if (budget && clock_gettime(CLOCK_MONOTONIC, &ts) == 0) {
        limits->deadline = (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec
                           + (int64_t) budget * 1000000;
    }
}


/* where the image or video was, for its log line */
static void
ngx_http_upload_filter_image_site(ngx_http_upload_filter_image_t *j,
    ngx_http_upload_filter_site_t *site)
{
    ngx_memzero(site, sizeof(ngx_http_upload_filter_site_t));
    site->where = j->where;
    site->name = j->name;
    site->name_len = j->name_len;
    site->filename = j->filename;
    site->filename_len = j->filename_len;
    site->size = (off_t) j->len;
    site->decoded = j->decoded;
    site->format = hdb_media_name(j->media.type);
    site->frame = -1;
    site->time = -1;
}


static int64_t
ngx_http_upload_filter_mono_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static ngx_uint_t
ngx_http_upload_filter_has_video(ngx_http_upload_filter_image_t *j)
{
    for ( /* void */ ; j; j = j->next) {
        if (hdb_media_is_video(j->type)) {
            return 1;
        }
    }

    return 0;
}


/*
 * Decode and hash; runs in a pool thread: no nginx calls but these.  The
 * upload's pixel budget is shared by its images, in order.
 */
static void
ngx_http_upload_filter_pdq_hash(ngx_http_upload_filter_image_t *j,
    const hdb_media_limits_t *limits)
{
    uint64_t            used;
    hdb_media_limits_t  l;

    l = *limits;
    used = 0;

    for ( /* void */ ; j; j = j->next) {
        if (j->rc != HDB_MEDIA_OK) {
            continue;
        }

        if (limits->max_total_pixels && !hdb_media_is_video(j->type)) {
            if (used >= limits->max_total_pixels) {
                j->rc = HDB_MEDIA_ETOOLARGE;
                ngx_snprintf((u_char *) j->media.why,
                             sizeof(j->media.why) - 1,
                             "the upload's images decode to more than "
                             "upload_filter_pdq_max_total_pixels%Z");
                goto next;
            }

            l.max_total_pixels = limits->max_total_pixels - used;
        }

        j->rc = hdb_media_hash(j->data, j->len, &l, &j->media);

        if (!hdb_media_is_video(j->type)) {
            /* a video's frames are bounded by its own limits */
            used += j->media.pixels;
        }

        if (j->rc == HDB_MEDIA_EFORMAT && hdb_media_is_video(j->type)) {
            /* a container without a video stream (audio): not media */
            j->rc = HDB_MEDIA_OK;
        }

    next:

        /* the pixels are hashed: the bytes are no longer needed */
        ngx_free(j->data);
        j->data = NULL;
    }
}




/*
 * Looks every hash of the list's images up in the set through rd, and
 * keeps the answers in each image for judging: in a pool thread after
 * hashing (with a reader the set lent), or in the event loop when no
 * thread could.  No nginx calls but allocation: a thread may run it.
 * One read transaction per image, so that a video is counted against one
 * snapshot of the set.
 */
static void
ngx_http_upload_filter_pdq_match(hdb_reader_t *rd,
    ngx_http_upload_filter_loc_conf_t *conf,
    ngx_http_upload_filter_image_t *list)
{
    int                              rc;
    ngx_http_upload_filter_image_t  *j;

    for (j = list; j; j = j->next) {
        if (j->rc != HDB_MEDIA_OK || j->looked_up) {
            continue;
        }

        j->looked_up = 1;

        if (j->media.nframes == 0) {
            continue;
        }

        rc = ngx_http_upload_filter_reader_begin(rd, conf);
        if (rc != 0) {
            j->lookup_rc = rc;
            continue;
        }

        if (hdb_media_is_video(j->media.type)) {
            rc = ngx_http_upload_filter_vpdq_match(rd, conf, j);
        }

        if (rc == 0) {
            rc = ngx_http_upload_filter_pdq_match_frames(rd, conf, j);
        }

        if (rc != 0) {
            j->lookup_rc = rc;
        }

        hdb_reader_end(rd);
    }
}


/*
 * Each frame against the listed images (all 8 variants of a still; a
 * video's unique frames as they are: their match with a listed video's
 * frames is vPDQ's rule to decide).  0, or the error that stopped it.
 */
static int
ngx_http_upload_filter_pdq_match_frames(hdb_reader_t *rd,
    ngx_http_upload_filter_loc_conf_t *conf, ngx_http_upload_filter_image_t *j)
{
    int                            rc;
    unsigned                       k;
    ngx_uint_t                     video;
    hdb_match_t                    m;
    hdb_media_frame_t             *f;
    ngx_http_upload_filter_hit_t  *hit, **last;

    video = hdb_media_is_video(j->media.type);
    last = &j->hits;

    for (k = 0; k < j->media.nframes; k++) {
        f = &j->media.frames[k];

        if ((ngx_uint_t) f->quality < conf->pdq_min_quality
            || (video && k
                && ngx_memcmp(f->variants[0], f[-1].variants[0],
                              HDB_PDQ_SIZE) == 0))
        {
            continue;
        }

        rc = video
             ? hdb_reader_pdq_match_flags(rd,
                                    (const unsigned char (*)[HDB_PDQ_SIZE])
                                    f->variants, 1,
                                    (unsigned) conf->pdq_distance,
                                    HDB_MATCH_IMAGES, &m)
             : hdb_reader_pdq_match(rd,
                                    (const unsigned char (*)[HDB_PDQ_SIZE])
                                    f->variants, HDB_PDQ_VARIANTS,
                                    (unsigned) conf->pdq_distance, &m);

        if (rc == HDB_NOTFOUND) {
            continue;
        }

        if (rc == 0) {
            hit = malloc(sizeof(ngx_http_upload_filter_hit_t));
            rc = hit ? 0 : ENOMEM;
        }

        if (rc != 0) {
            /* the hits so far stand: judged before the error is */
            return rc;
        }

        hit->next = NULL;
        hit->frame = k;
        hit->m = m;
        *last = hit;
        last = &hit->next;
    }

    return 0;
}


/* a video's frames against the listed videos by vPDQ's rule: 0 or error */
static int
ngx_http_upload_filter_vpdq_match(hdb_reader_t *rd,
    ngx_http_upload_filter_loc_conf_t *conf, ngx_http_upload_filter_image_t *j)
{
    int                rc;
    unsigned           k, n;
    hdb_vpdq_rule_t    rule;
    hdb_vpdq_match_t   vm;
    hdb_vpdq_frame_t  *frames;

    n = j->media.nframes;

    frames = malloc(n * sizeof(hdb_vpdq_frame_t));
    if (frames == NULL) {
        return ENOMEM;
    }

    for (k = 0; k < n; k++) {
        ngx_memcpy(frames[k].hash, j->media.frames[k].variants[0],
                   HDB_PDQ_SIZE);
        frames[k].quality = j->media.frames[k].quality;
        frames[k].time = j->media.frames[k].time;
    }

    rule.distance = (unsigned) conf->pdq_distance;
    rule.quality = (unsigned) conf->pdq_min_quality;
    rule.pc = (unsigned) conf->vpdq_pc;
    rule.pq = (unsigned) conf->vpdq_pq;
    rule.sparse = conf->video_sampling == HDB_VIDEO_KEYFRAMES;

    rc = hdb_reader_vpdq_match(rd, frames, n, &rule, &vm);

    free(frames);

    if (rc == 0) {
        j->vpdq = malloc(sizeof(hdb_vpdq_match_t));
        if (j->vpdq == NULL) {
            return ENOMEM;
        }

        *j->vpdq = vm;
    }

    return rc == HDB_NOTFOUND ? 0 : rc;
}


/* the answers, once judged (or never: a task the request left) */
static void
ngx_http_upload_filter_pdq_forget(ngx_http_upload_filter_image_t *j)
{
    ngx_http_upload_filter_hit_t  *hit, *next;

    for (hit = j->hits; hit; hit = next) {
        next = hit->next;
        free(hit);
    }

    j->hits = NULL;

    free(j->vpdq);
    j->vpdq = NULL;
}


/*
 * The hashes against the hash set, in the event loop: those the thread
 * hashed (and looked up, if it could read the set), or those the verdict
 * zone kept of an object seen before (ctx->rejudging: not counted as
 * hashed again).
 */
void
ngx_http_upload_filter_pdq_judge(ngx_http_upload_filter_ctx_t *ctx,
    ngx_http_upload_filter_image_t *list)
{
    int                                  type;
    u_char                              *name, *filename;
    ngx_http_request_t                  *r;
    ngx_http_upload_filter_image_t      *j;
    ngx_http_upload_filter_main_conf_t  *umcf;

    r = ctx->request;
    umcf = ngx_http_upload_filter_worker;

    for (j = list; j && !ctx->rejudging; j = j->next) {
        if (j->rc == HDB_MEDIA_OK && j->media.nframes) {
            ngx_http_upload_filter_metrics_media(j->media.type);
        }
    }

    /* what no thread looked up */
    for (j = list; j; j = j->next) {
        if (j->rc == HDB_MEDIA_OK && !j->looked_up) {
            if (umcf == NULL || umcf->reader == NULL) {
                j->looked_up = 1;
                j->lookup_rc = ENOENT;
                continue;
            }

            ngx_http_upload_filter_pdq_match(umcf->reader, ctx->conf, j);
        }
    }

    for (j = list; j && ctx->state != NGX_HTTP_UPLOAD_FILTER_REJECTED;
         j = j->next)
    {
        if (j->rc == HDB_MEDIA_OK) {
            if (ngx_http_upload_filter_image_judge(ctx, j) != NGX_OK) {
                break;
            }

            continue;
        }

        type = j->media.type;
        if (type < 0 || (size_t) type
                        >= sizeof(ngx_http_upload_filter_unhashable)
                           / sizeof(ngx_http_upload_filter_unhashable[0]))
        {
            type = HDB_MEDIA_NONE;
        }

        name = ngx_http_upload_filter_escape(r->pool, j->name, j->name_len);
        filename = ngx_http_upload_filter_escape(r->pool, j->filename,
                                                 j->filename_len);
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "upload_filter: no PDQ hash for part=%s "
                      "name=\"%s\" filename=\"%s\"%s format=%s: %s",
                      j->where, name ? name : (u_char *) "",
                      filename ? filename : (u_char *) "", j->decoded,
                      hdb_media_name(type),
                      hdb_media_strerror(j->rc, &j->media));
        ngx_http_upload_filter_fail(ctx, NGX_LOG_WARN,
                                    NGX_HTTP_UPLOAD_FILTER_UNHASHABLE,
                                    ngx_http_upload_filter_unhashable[type]);
    }

    for (j = list; j; j = j->next) {
        ngx_http_upload_filter_pdq_forget(j);
    }

    if (ctx->state != NGX_HTTP_UPLOAD_FILTER_REJECTED
        && ctx->result == NGX_HTTP_UPLOAD_FILTER_NONE)
    {
        ctx->result = NGX_HTTP_UPLOAD_FILTER_CLEAN;
    }
}


/*
 * One hashed image or video, by the answers looked up: a video's match
 * with a listed video first, then each frame's with the listed images,
 * in order, up to a rejection or an error met in the lookups.  NGX_OK to
 * go on (no match, a logged or allowed one), NGX_DONE when rejected or
 * the set was unreadable.
 */
static ngx_int_t
ngx_http_upload_filter_image_judge(ngx_http_upload_filter_ctx_t *ctx,
    ngx_http_upload_filter_image_t *j)
{
    char                            hex[HDB_PDQ_HEX_LEN + 1];
    char                            digest[sizeof("pdq:") + HDB_PDQ_HEX_LEN];
    unsigned                        k;
    hdb_vpdq_match_t               *vm;
    hdb_media_frame_t              *f;
    ngx_http_upload_filter_hit_t   *hit;
    ngx_http_upload_filter_site_t   site;

    if (j->media.nframes == 0) {
        /* no video stream in a video container: nothing to hash */
        return NGX_OK;
    }

    for (k = 0; k < j->media.nframes; k++) {
        ngx_http_upload_filter_ledger_pdq(ctx, j->ledger, &j->media,
                                          &j->media.frames[k]);
    }

    vm = j->vpdq;

    if (vm) {
        ngx_http_upload_filter_image_site(j, &site);
        site.time = vm->time;
        site.video = vm;

        /* the upload's first matched frame: its hash and quality logged */
        f = j->media.frames;
        for (k = 0; k < j->media.nframes; k++) {
            if (j->media.frames[k].time == vm->time) {
                f = &j->media.frames[k];
                break;
            }
        }

        hdb_hex_encode(f->variants[0], HDB_PDQ_SIZE, hex);
        ngx_snprintf((u_char *) digest, sizeof(digest), "pdq:%s%Z", hex);

        if (ngx_http_upload_filter_report(ctx, &vm->m, digest, f, &site)
            != NGX_OK
            || ctx->state == NGX_HTTP_UPLOAD_FILTER_REJECTED)
        {
            return NGX_DONE;
        }
    }

    for (hit = j->hits; hit; hit = hit->next) {
        if (ngx_http_upload_filter_pdq_hit(ctx, j,
                                           &j->media.frames[hit->frame],
                                           &hit->m)
            != NGX_OK)
        {
            return NGX_DONE;
        }
    }

    if (j->lookup_rc != 0) {
        ngx_http_upload_filter_unreadable(ctx, j->lookup_rc);
        return NGX_DONE;
    }

    return NGX_OK;
}


/* a frame near a listed image: reported; NGX_DONE when rejected */
static ngx_int_t
ngx_http_upload_filter_pdq_hit(ngx_http_upload_filter_ctx_t *ctx,
    ngx_http_upload_filter_image_t *j, hdb_media_frame_t *f, hdb_match_t *m)
{
    char                           hex[HDB_PDQ_HEX_LEN + 1];
    char                           digest[sizeof("pdq:") + HDB_PDQ_HEX_LEN];
    ngx_http_upload_filter_site_t  site;

    hdb_hex_encode(f->variants[m->variant], HDB_PDQ_SIZE, hex);
    ngx_snprintf((u_char *) digest, sizeof(digest), "pdq:%s%Z", hex);

    ngx_http_upload_filter_image_site(j, &site);
    site.frame = j->media.total > 1 ? (ngx_int_t) f->index : -1;
    site.time = hdb_media_is_video(j->media.type) ? f->time : -1;

    if (ngx_http_upload_filter_report(ctx, m, digest, f, &site) != NGX_OK) {
        return NGX_DONE;
    }

    return ctx->state == NGX_HTTP_UPLOAD_FILTER_REJECTED ? NGX_DONE : NGX_OK;
}


/* hashing in the event loop: the body filter's path */
void
ngx_http_upload_filter_pdq_run(ngx_http_upload_filter_ctx_t *ctx)
{
    hdb_media_limits_t               limits;
    ngx_http_upload_filter_image_t  *list;

    ngx_msec_t                       start;

    list = ctx->images;
    ctx->images = NULL;
    ctx->hashed_media = 1;
    start = ngx_current_msec;

    ngx_http_upload_filter_pdq_limits(ctx->conf, &limits, ctx->conf->budget);
    ngx_http_upload_filter_pdq_hash(list, &limits);
    ngx_time_update();
    ngx_http_upload_filter_metrics_verdict(
                                       ngx_http_upload_filter_has_video(list),
                                       ngx_current_msec - start);
    ngx_http_upload_filter_pdq_judge(ctx, list);
    ngx_http_upload_filter_image_free(list);
}


/*
 * Hashing in the thread pool: NGX_AGAIN while the thread works (the
 * request resumes when it is done), NGX_OK when the verdict is already
 * in (no thread pool: hashed here).
 */
ngx_int_t
ngx_http_upload_filter_pdq_post(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx)
{
#if (NGX_THREADS)
    ngx_msec_t                           budget;
    ngx_thread_task_t                   *task;
    ngx_http_upload_filter_task_t       *t;
    ngx_http_upload_filter_main_conf_t  *umcf;

    if (ctx->conf->thread_pool == NULL) {
        ngx_http_upload_filter_pdq_run(ctx);
        return NGX_OK;
    }

    /* not from r->pool: a detached task outlives its request */
    task = ngx_calloc(sizeof(ngx_thread_task_t)
                      + sizeof(ngx_http_upload_filter_task_t),
                      r->connection->log);
    if (task == NULL) {
        ngx_http_upload_filter_fail(ctx, NGX_LOG_ALERT,
                                    NGX_HTTP_UPLOAD_FILTER_INTERNAL,
                                    "no memory for a PDQ task");
        return NGX_OK;
    }

    t = (ngx_http_upload_filter_task_t *) (task + 1);
    t->task = task;
    t->ctx = ctx;
    t->images = ctx->images;
    t->conf = ctx->conf;
    t->priority = ctx->conf->thread_priority;
    t->posted = ngx_http_upload_filter_mono_ms();
    budget = ngx_http_upload_filter_has_video(ctx->images)
             ? ctx->conf->video_budget : ctx->conf->budget;
    ngx_http_upload_filter_pdq_limits(ctx->conf, &t->limits, budget);

    task->ctx = t;
    task->handler = ngx_http_upload_filter_pdq_thread;
    task->event.data = t;
    task->event.handler = ngx_http_upload_filter_pdq_done;

    if (ngx_thread_task_post(ctx->conf->thread_pool, task) != NGX_OK) {
        /* the queue is full: hash here rather than not at all */
        ngx_free(task);
        ngx_http_upload_filter_pdq_run(ctx);
        return NGX_OK;
    }

    /* the thread looks the hashes up too, in the set as it is now */
    umcf = ngx_http_upload_filter_worker;
    if (umcf && ngx_http_upload_filter_set_threads(umcf->set)) {
        t->set = ngx_http_upload_filter_set_hold(umcf->set);
    }

    ctx->images = NULL;
    ctx->task = t;
    ctx->hashed_media = 1;
    ctx->state = NGX_HTTP_UPLOAD_FILTER_HASHING;
    ctx->pdq_start = ngx_current_msec;

    r->main->blocked++;
    r->aio = 1;

    if (!ctx->response) {
        /* a response waits in ngx_http_writer, which r->aio holds back */
        r->write_event_handler = ngx_http_upload_filter_pdq_continue;
    }

    ctx->budget_ms = budget;
    ctx->budget_video = ngx_http_upload_filter_has_video(t->images);

    if (budget) {
        ctx->budget.handler = ngx_http_upload_filter_pdq_timeout;
        ctx->budget.data = ctx;
        ctx->budget.log = r->connection->log;
        ngx_add_timer(&ctx->budget, budget);
    }

    return NGX_AGAIN;
#else
    ngx_http_upload_filter_pdq_run(ctx);
    return NGX_OK;
#endif
}


#if (NGX_THREADS)

/*
 * A pool thread's first task lowers its scheduling priority, for good (a
 * thread may lower its own, not raise it back): decoding is seconds of
 * CPU that the event loops' short work must go before.  SCHED_BATCH with
 * nice 19 yields to them and still runs when the CPUs are busy;
 * SCHED_IDLE runs only on CPU time nobody else wants.
 */
static void
ngx_http_upload_filter_thread_priority(ngx_uint_t priority, ngx_log_t *log)
{
    int                        policy;
    struct sched_param         sp;
    static __thread ngx_uint_t  done;

    if (done || priority == NGX_HTTP_UPLOAD_FILTER_PRIO_NORMAL) {
        return;
    }

    done = 1;
    ngx_memzero(&sp, sizeof(sp));
    policy = priority == NGX_HTTP_UPLOAD_FILTER_PRIO_IDLE ? SCHED_IDLE
                                                          : SCHED_BATCH;

    /* on Linux, 0 is the calling thread, for both calls */
    if (sched_setscheduler(0, policy, &sp) == -1
        || (policy == SCHED_BATCH
            && setpriority(PRIO_PROCESS, (id_t) syscall(SYS_gettid), 19)
               == -1))
    {
        ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                      "upload_filter: the pool thread's priority is not "
                      "lowered");
    }
}


static void
ngx_http_upload_filter_pdq_thread(void *data, ngx_log_t *log)
{
    hdb_reader_t                   *rd;
    ngx_http_upload_filter_task_t  *t = data;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, log, 0, "upload filter PDQ thread");

    ngx_http_upload_filter_thread_priority(t->priority, log);

    /* ngx_current_msec is the event loop's: a clock of our own here */
    ngx_http_upload_filter_metrics_queue((ngx_msec_t)
                              (ngx_http_upload_filter_mono_ms() - t->posted));

    ngx_http_upload_filter_pdq_hash(t->images, &t->limits);

    if (t->set) {
        /*
         * The lookups too: a video's frames are hundreds of index queries,
         * tens of milliseconds against a set of millions of hashes.  With
         * no reader to be had, the event loop does them.
         */
        rd = ngx_http_upload_filter_set_lend(t->set, log);
        if (rd) {
            ngx_http_upload_filter_pdq_match(rd, t->conf, t->images);
            ngx_http_upload_filter_set_give_back(t->set, rd, log);
        }
    }
}


static void
ngx_http_upload_filter_pdq_done(ngx_event_t *ev)
{
    ngx_connection_t               *c;
    ngx_http_request_t             *r;
    ngx_http_upload_filter_ctx_t   *ctx;
    ngx_http_upload_filter_task_t  *t = ev->data;

    if (t->set) {
        ngx_http_upload_filter_set_release(t->set);
        t->set = NULL;
    }

    if (t->detached) {
        /* the budget ran out and the request went on without us */
        ngx_http_upload_filter_image_free(t->images);
        ngx_free(t->task);
        return;
    }

    ctx = t->ctx;
    r = ctx->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ctx->task = NULL;
    ctx->state = NGX_HTTP_UPLOAD_FILTER_INSPECTED;

    if (ctx->budget.timer_set) {
        ngx_del_timer(&ctx->budget);
    }

    r->main->blocked--;
    r->aio = 0;

    ngx_http_upload_filter_metrics_verdict(ctx->budget_video,
                                           ngx_current_msec - ctx->pdq_start);

    /* judged even if the client went away: the match is still logged */
    ngx_http_upload_filter_pdq_judge(ctx, t->images);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "upload filter PDQ verdict after %M ms",
                   ngx_current_msec - ctx->pdq_start);

    ngx_http_upload_filter_image_free(t->images);
    ngx_free(t->task);

    r->write_event_handler(r);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_upload_filter_pdq_timeout(ngx_event_t *ev)
{
    ngx_uint_t                     video;
    ngx_connection_t              *c;
    ngx_http_request_t            *r;
    ngx_http_upload_filter_ctx_t  *ctx = ev->data;

    r = ctx->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    /* the thread's result, when it comes, is dropped */
    ctx->task->detached = 1;
    ctx->task->ctx = NULL;
    ctx->task = NULL;
    ctx->state = NGX_HTTP_UPLOAD_FILTER_INSPECTED;

    r->main->blocked--;
    r->aio = 0;

    video = ctx->budget_video;

    ngx_log_error(NGX_LOG_WARN, c->log, 0,
                  "upload_filter: no PDQ verdict %M ms after the body "
                  "(upload_filter_%sbudget %M ms)",
                  ngx_current_msec - ctx->pdq_start, video ? "video_" : "",
                  ctx->budget_ms);

    ngx_http_upload_filter_fail(ctx, NGX_LOG_WARN,
                                NGX_HTTP_UPLOAD_FILTER_TIMEOUT,
                                video ? "verdict not reached within "
                                        "upload_filter_video_budget"
                                      : "verdict not reached within "
                                        "upload_filter_budget");

    r->write_event_handler(r);
    ngx_http_run_posted_requests(c);
}


/* the request goes on once the verdict is in */
static void
ngx_http_upload_filter_pdq_continue(ngx_http_request_t *r)
{
    ngx_http_upload_filter_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_upload_filter_module);

    if (ctx == NULL || ctx->state == NGX_HTTP_UPLOAD_FILTER_HASHING) {
        /* a write event while the thread works */
        return;
    }

    if (r->connection->error) {
        /*
         * The client went away while the image was hashed (an HTTP/2
         * stream reset leaves the request to whoever holds it): the
         * request ends here; running the phases on would start the
         * upstream for a request that nobody waits for.
         */
        ngx_http_finalize_request(r, NGX_HTTP_CLIENT_CLOSED_REQUEST);
        return;
    }

    ngx_http_upload_filter_resume(r, ctx);
}

#endif


void
ngx_http_upload_filter_pdq_cleanup(ngx_http_upload_filter_ctx_t *ctx)
{
    ngx_http_upload_filter_image_free(ctx->images);
    ctx->images = NULL;

    if (ctx->task) {
        ctx->task->detached = 1;
        ctx->task->ctx = NULL;
        ctx->task = NULL;
    }

    if (ctx->budget.timer_set) {
        ngx_del_timer(&ctx->budget);
    }
}
