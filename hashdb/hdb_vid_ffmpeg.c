/*
 * Video through FFmpeg (libavformat, libavcodec, libswscale): MP4, MOV,
 * M4V and 3GP; Matroska and WebM; AVI; MPEG-TS.  Whatever codec Debian's
 * FFmpeg decodes among H.264, HEVC, VP8, VP9, AV1, MPEG-4 part 2, H.263
 * and MPEG-1/2.
 *
 * The file is read from memory through an AVIOContext of our own: no
 * path, no URL, no protocol; a demuxer that would open another file (a
 * MOV reference, a playlist) is refused by io_open, and only the
 * containers and codecs above are allowed.  Probing is bounded.
 *
 * Frames are sampled as vPDQ samples them (../shared/notes/vpdq.md):
 *
 * - exact: every frame is decoded, and decoder frame n (from 0) is kept
 *   when n % int(interval * avg_frame_rate) == 0, at time n / fps: the
 *   reference's frames, bit for bit where the RGB conversion is the same;
 * - fast: frames no other frame refers to are not decoded, nor the loop
 *   filter run, and the first frame decoded in each interval is kept at
 *   its presentation time; and of each group of pictures (a key frame
 *   and the packets up to the next), only the packets up to the last one
 *   whose frame is on the grid are decoded (hdb_vid_gop_send()): with
 *   key frames every second, one frame a second is decoded;
 * - keyframes: only key frames are decoded (non-key packets are not even
 *   sent to the decoder), the first of each interval kept.
 *
 * How close the fast samplings come to the reference's hashes, and what
 * they cost, is measured by bench/vpdq.sh.
 *
 * Kept frames are converted to RGB24 by swscale with SWS_AREA, the
 * reference's conversion, at the frame's own size, and hashed whole, as
 * the reference hashes them (no 512x512 resize as for stills): that way,
 * and only that way, the hashes of every sample video that the reference
 * made on this machine are reproduced bit for bit (t/17).
 *
 * FFmpeg's own messages go nowhere but into out->why (the last error of
 * this thread), so that nothing is written to nginx's stderr.
 */

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/common.h>
#include <libavutil/imgutils.h>
#include <libavutil/mem.h>
#include <libswscale/swscale.h>

#include "hdb_media_decoder.h"
#include "hdb_pdq.h"

#define HDB_VID_IOBUF       65536
#define HDB_VID_PROBESIZE   (4 << 20)       /* bytes read to find streams */
#define HDB_VID_ANALYZE     (5 * AV_TIME_BASE)
#define HDB_VID_ALIGN       64              /* swscale's output rows */
#define HDB_VID_GOP_MAX     600             /* packets held for a group */

static const char  hdb_vid_formats[] =
    "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts";

static const char  hdb_vid_codecs[] =
    "h264,hevc,vp8,vp9,av1,libdav1d,libaom-av1,mpeg4,h263,mpeg1video,"
    "mpeg2video";

typedef struct {
    const unsigned char  *p;
    size_t                len;
    size_t                pos;
} hdb_vid_src_t;

typedef struct {
    const hdb_media_limits_t  *l;
    hdb_media_result_t        *out;
    AVFormatContext           *fmt;
    AVCodecContext            *dec;
    AVFrame                   *frame;
    AVPacket                  *pkt;
    struct SwsContext         *sws;
    unsigned char             *rgb;
    size_t                     rgb_size;
    int                        stream;
    AVRational                 tb;
    int64_t                    start;       /* the stream's first pts */
    double                     fps;
    uint64_t                   every;       /* exact: keep n % every == 0 */
    uint64_t                   decoded;
    int64_t                    slot;        /* keyframes: the last kept */
    int                        rc;
    int                        bad;         /* packets the decoder refused */

    /* fast: the group of pictures held until its end is seen */
    AVPacket                  *gop[HDB_VID_GOP_MAX];
    unsigned                   ngop;
    int                        gop_through; /* too long: sent as read */
} hdb_vid_t;

/* the last FFmpeg error of this thread, for out->why */
static __thread char           *hdb_vid_why;
static __thread size_t          hdb_vid_why_size;
static pthread_once_t           hdb_vid_once = PTHREAD_ONCE_INIT;


static void
hdb_vid_log(void *avcl, int level, const char *fmt, va_list ap)
{
    size_t  n;

    (void) avcl;

    if (level > AV_LOG_ERROR || hdb_vid_why == NULL) {
        return;
    }

    n = (size_t) snprintf(hdb_vid_why, hdb_vid_why_size, "video: ");
    vsnprintf(hdb_vid_why + n, hdb_vid_why_size - n, fmt, ap);

    /* FFmpeg's lines end in a newline */
    n = strlen(hdb_vid_why);
    while (n && (hdb_vid_why[n - 1] == '\n' || hdb_vid_why[n - 1] == '.')) {
        hdb_vid_why[--n] = '\0';
    }
}

static void
hdb_vid_init(void)
{
    av_log_set_callback(hdb_vid_log);
}

/* ------------------------------------------------------------------ */
/* telling the containers apart                                        */

/*
 * ISO base media files that are video: ftyp with a video brand (HEIF and
 * AVIF, told first, are images; "M4A " is audio), or an old QuickTime
 * file that starts with its movie, data or padding atom.
 */
static int
hdb_vid_mp4_sniff(const unsigned char *p, size_t len)
{
    static const char  *brands[] = {
        "isom", "iso2", "iso3", "iso4", "iso5", "iso6", "iso8", "mp41",
        "mp42", "avc1", "M4V ", "M4VH", "M4VP", "qt  ", "3gp4", "3gp5",
        "3gp6", "3gp7", "3gg6", "3g2a", "3g2b", "3g2c", "dash", "mmp4",
        "MSNV", "f4v ", "XAVC", "NDAS", "mp71", "av01", NULL
    };

    int  rc;

    /* no ftyp: a QuickTime atom of a plausible size (under 16 MB) first */
    for (const char *atom = "moovmdatwidefreeskip"; *atom; atom += 4) {
        unsigned char  pat[8] = { 0, '?', '?', '?' };

        memcpy(pat + 4, atom, 4);
        rc = hdb_media_pattern(p, len, (const char *) pat, 8);

        if (rc == 1 && hdb_be32(p) >= 8) {
            return 1;
        }

        if (rc == HDB_MEDIA_MORE) {
            return rc;
        }
    }

    rc = hdb_media_pattern(p, len, "????ftyp????", 12);
    if (rc != 1) {
        return rc;
    }

    for (const char **b = brands; *b; b++) {
        if (memcmp(p + 8, *b, 4) == 0) {
            return 1;
        }
    }

    return 0;
}

static int
hdb_vid_mkv_sniff(const unsigned char *p, size_t len)
{
    return hdb_media_pattern(p, len, "\x1a\x45\xdf\xa3", 4);
}

static int
hdb_vid_avi_sniff(const unsigned char *p, size_t len)
{
    return hdb_media_pattern(p, len, "RIFF????AVI[ X]", 15);
}

/* three 188-byte packets, each starting with the sync byte */
static int
hdb_vid_mpegts_sniff(const unsigned char *p, size_t len)
{
    for (size_t off = 0; off <= 2 * 188; off += 188) {
        if (off >= len) {
            return HDB_MEDIA_MORE;
        }

        if (p[off] != 0x47) {
            return 0;
        }
    }

    return 1;
}

/* ------------------------------------------------------------------ */
/* the reader: memory, nothing else                                    */

static int
hdb_vid_read(void *opaque, uint8_t *buf, int size)
{
    size_t          n;
    hdb_vid_src_t  *s = opaque;

    n = s->len - s->pos;
    if ((size_t) size < n) {
        n = (size_t) size;
    }

    if (n == 0) {
        return AVERROR_EOF;
    }

    memcpy(buf, s->p + s->pos, n);
    s->pos += n;

    return (int) n;
}

static int64_t
hdb_vid_seek(void *opaque, int64_t offset, int whence)
{
    int64_t         to;
    hdb_vid_src_t  *s = opaque;

    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE:
        return (int64_t) s->len;
    case SEEK_SET:
        to = offset;
        break;
    case SEEK_CUR:
        to = (int64_t) s->pos + offset;
        break;
    case SEEK_END:
        to = (int64_t) s->len + offset;
        break;
    default:
        return AVERROR(EINVAL);
    }

    if (to < 0 || to > (int64_t) s->len) {
        return AVERROR(EINVAL);
    }

    s->pos = (size_t) to;
    return to;
}

/* a demuxer that wants another file (a reference, a playlist) gets none */
static int
hdb_vid_io_open(struct AVFormatContext *s, AVIOContext **pb, const char *url,
    int flags, AVDictionary **options)
{
    (void) s;
    (void) pb;
    (void) url;
    (void) flags;
    (void) options;

    return AVERROR(EPERM);
}

/* ------------------------------------------------------------------ */
/* decoding                                                            */

static int64_t
hdb_vid_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
hdb_vid_averror(hdb_vid_t *v, int err, const char *what)
{
    char  buf[AV_ERROR_MAX_STRING_SIZE];

    if (err == AVERROR(ENOMEM)) {
        return HDB_MEDIA_ENOMEM;
    }

    if (v->out->why[0] == '\0') {
        av_strerror(err, buf, sizeof(buf));
        hdb_media_fail(v->out, HDB_MEDIA_ECORRUPT, "video: %s: %s", what,
                       buf);
    }

    return HDB_MEDIA_ECORRUPT;
}

/*
 * Audio and nothing else: a container of streams that are all audio (or
 * subtitles, data), not a broken file whose streams could not be read.
 */
static int
hdb_vid_audio(const AVFormatContext *fmt)
{
    int  audio = 0;

    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        switch (fmt->streams[i]->codecpar->codec_type) {
        case AVMEDIA_TYPE_AUDIO:
            audio = 1;
            break;
        case AVMEDIA_TYPE_SUBTITLE:
        case AVMEDIA_TYPE_DATA:
            break;
        default:
            return 0;
        }
    }

    return audio;
}

/*
 * The streams' parameters, which FFmpeg finds by decoding a few frames of
 * each: with decoders of one thread, as ours (left to themselves they
 * start a thread per core, per file).
 */
static int
hdb_vid_find_streams(AVFormatContext *fmt)
{
    int             rc;
    unsigned        n;
    AVDictionary  **opts;

    n = fmt->nb_streams;
    opts = n ? av_calloc(n, sizeof(AVDictionary *)) : NULL;

    if (n && opts == NULL) {
        return AVERROR(ENOMEM);
    }

    rc = 0;

    for (unsigned i = 0; rc >= 0 && i < n; i++) {
        rc = av_dict_set(&opts[i], "threads", "1", 0);
    }

    if (rc >= 0) {
        rc = avformat_find_stream_info(fmt, opts);
    }

    for (unsigned i = 0; i < n; i++) {
        av_dict_free(&opts[i]);
    }

    av_free(opts);

    return rc;
}

static int
hdb_vid_open(hdb_vid_t *v, hdb_vid_src_t *src)
{
    int               rc;
    double            duration;
    unsigned char    *buf;
    AVStream         *st;
    AVIOContext      *pb;
    const AVCodec    *codec;
    AVFormatContext  *fmt;

    buf = av_malloc(HDB_VID_IOBUF);
    if (buf == NULL) {
        return HDB_MEDIA_ENOMEM;
    }

    pb = avio_alloc_context(buf, HDB_VID_IOBUF, 0, src, hdb_vid_read, NULL,
                            hdb_vid_seek);
    if (pb == NULL) {
        av_free(buf);
        return HDB_MEDIA_ENOMEM;
    }

    fmt = avformat_alloc_context();
    if (fmt == NULL) {
        av_free(pb->buffer);
        avio_context_free(&pb);
        return HDB_MEDIA_ENOMEM;
    }

    fmt->pb = pb;
    fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    fmt->probesize = HDB_VID_PROBESIZE;
    fmt->format_probesize = HDB_VID_IOBUF;
    fmt->max_analyze_duration = HDB_VID_ANALYZE;
    fmt->io_open = hdb_vid_io_open;
    fmt->format_whitelist = av_strdup(hdb_vid_formats);
    fmt->codec_whitelist = av_strdup(hdb_vid_codecs);
    fmt->protocol_whitelist = av_strdup("none");

    if (fmt->format_whitelist == NULL || fmt->codec_whitelist == NULL
        || fmt->protocol_whitelist == NULL)
    {
        avformat_free_context(fmt);
        av_free(pb->buffer);
        avio_context_free(&pb);
        return HDB_MEDIA_ENOMEM;
    }

    /* on failure avformat_open_input() frees fmt, never the custom pb */
    v->fmt = NULL;
    rc = avformat_open_input(&fmt, NULL, NULL, NULL);

    if (rc < 0) {
        av_free(pb->buffer);
        avio_context_free(&pb);
        return hdb_vid_averror(v, rc, "not opened");
    }

    v->fmt = fmt;

    rc = hdb_vid_find_streams(fmt);
    if (rc < 0) {
        return hdb_vid_averror(v, rc, "no stream found");
    }

    rc = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);

    if (rc == AVERROR_STREAM_NOT_FOUND && hdb_vid_audio(fmt)) {
        /* audio in a video container: not something PDQ hashes */
        v->out->why[0] = '\0';
        return HDB_MEDIA_EFORMAT;
    }

    if (rc < 0) {
        return hdb_vid_averror(v, rc, rc == AVERROR_STREAM_NOT_FOUND
                                      ? "no stream" : "no video stream "
                                                      "decodable");
    }

    v->stream = rc;
    st = fmt->streams[rc];

    if (st->disposition & AV_DISPOSITION_ATTACHED_PIC) {
        /* an audio file's cover art, not a video */
        v->out->why[0] = '\0';
        return HDB_MEDIA_EFORMAT;
    }
    v->tb = st->time_base;
    v->start = st->start_time == AV_NOPTS_VALUE ? 0 : st->start_time;
    v->out->codec = codec->name;
    v->out->width = st->codecpar->width;
    v->out->height = st->codecpar->height;

    duration = fmt->duration > 0 ? (double) fmt->duration / AV_TIME_BASE
               : st->duration > 0 ? (double) st->duration * av_q2d(v->tb)
               : 0;
    v->out->duration = duration;

    if (v->l->max_seconds && duration > v->l->max_seconds) {
        return hdb_media_fail(v->out, HDB_MEDIA_ETOOLARGE,
                              "video of %.0f s, longer than %u s",
                              duration, v->l->max_seconds);
    }

    /* the declared size, before the decoder allocates a frame of it */
    rc = hdb_media_admit(v->out, &(hdb_media_limits_t) {
                             .max_pixels = v->l->max_pixels },
                         (uint64_t) st->codecpar->width,
                         (uint64_t) st->codecpar->height);
    if (rc != HDB_MEDIA_OK) {
        return rc;
    }

    /* the reference's rate: the stream's average, else a guess */
    v->fps = av_q2d(st->avg_frame_rate);
    if (!(v->fps > 0 && v->fps < 1000)) {
        v->fps = av_q2d(av_guess_frame_rate(fmt, st, NULL));
    }
    if (!(v->fps > 0 && v->fps < 1000)) {
        v->fps = 25;
    }

    v->out->fps = v->fps;
    v->every = (uint64_t) (v->l->interval * v->fps);
    if (v->every == 0) {
        v->every = 1;
    }

    v->dec = avcodec_alloc_context3(codec);
    if (v->dec == NULL) {
        return HDB_MEDIA_ENOMEM;
    }

    rc = avcodec_parameters_to_context(v->dec, st->codecpar);
    if (rc < 0) {
        return hdb_vid_averror(v, rc, "codec parameters");
    }

    /* the caller's thread is the one to spend: nginx's pool bounds them */
    v->dec->thread_count = 1;
    v->dec->codec_whitelist = av_strdup(hdb_vid_codecs);

    if (v->dec->codec_whitelist == NULL) {
        return HDB_MEDIA_ENOMEM;
    }

    v->dec->pkt_timebase = v->tb;

    if (v->l->sampling == HDB_VIDEO_KEYFRAMES) {
        v->dec->skip_frame = AVDISCARD_NONKEY;

    }

    rc = avcodec_open2(v->dec, codec, NULL);
    if (rc < 0) {
        return hdb_vid_averror(v, rc, "codec not opened");
    }

    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        if ((int) i != v->stream) {
            fmt->streams[i]->discard = AVDISCARD_ALL;
        }
    }

    v->frame = av_frame_alloc();
    v->pkt = av_packet_alloc();

    return v->frame && v->pkt ? HDB_MEDIA_OK : HDB_MEDIA_ENOMEM;
}

/* seconds from the stream's start of a timestamp; frame n's if none */
static double
hdb_vid_time(hdb_vid_t *v, int64_t pts, uint64_t n)
{
    double  t;

    t = pts == AV_NOPTS_VALUE ? (double) n / v->fps
                              : (double) (pts - v->start) * av_q2d(v->tb);

    return t > 0 ? t : 0;
}

/*
 * Whether a packet's frame is one the grid keeps, by its number from its
 * time: 1 or 0; -1 for a packet without a time.
 */
static int
hdb_vid_on_grid(hdb_vid_t *v, const AVPacket *pkt)
{
    if (pkt->pts == AV_NOPTS_VALUE) {
        return -1;
    }

    return llround(hdb_vid_time(v, pkt->pts, 0) * v->fps)
           % (int64_t) v->every == 0;
}

/*
 * Fast sampling: a packet whose frame is one the grid keeps is decoded
 * whole; any other is decoded only if other frames refer to it, and
 * without its loop filter.  The decoder runs in this thread (no frame
 * threads), so the setting holds for this packet.
 */
static void
hdb_vid_fast(hdb_vid_t *v, const AVPacket *pkt)
{
    if (hdb_vid_on_grid(v, pkt) != 0) {
        v->dec->skip_frame = AVDISCARD_DEFAULT;
        v->dec->skip_loop_filter = AVDISCARD_DEFAULT;

    } else {
        v->dec->skip_frame = AVDISCARD_NONREF;
        v->dec->skip_loop_filter = AVDISCARD_ALL;
    }
}

/* one decoded frame: kept or not, then converted and hashed */
static int
hdb_vid_frame(hdb_vid_t *v, AVFrame *f)
{
    int       rc, w, h, stride;
    double    t;
    int64_t   slot;
    uint64_t  n;
    unsigned  index;
    size_t    size;

    n = v->decoded++;

    if (v->l->max_decoded && v->decoded > v->l->max_decoded) {
        return hdb_media_fail(v->out, HDB_MEDIA_ETOOLARGE,
                              "more than %llu frames to decode",
                              (unsigned long long) v->l->max_decoded);
    }

    if (v->l->sampling == HDB_VIDEO_KEYFRAMES) {
        t = hdb_vid_time(v, f->best_effort_timestamp, n);

        slot = v->l->interval > 0 ? (int64_t) floor(t / v->l->interval)
                                  : (int64_t) n;
        if (slot <= v->slot) {
            return HDB_MEDIA_OK;
        }

        v->slot = slot;
        index = (unsigned) llround(t * v->fps);

    } else if (v->l->sampling == HDB_VIDEO_FAST) {
        /* the frame's number from its time: frames were skipped */
        t = hdb_vid_time(v, f->best_effort_timestamp, n);
        slot = llround(t * v->fps);

        if (slot % (int64_t) v->every != 0 || slot <= v->slot) {
            return HDB_MEDIA_OK;
        }

        v->slot = slot;
        index = (unsigned) slot;
        t = (double) slot / v->fps;

    } else {
        if (n % v->every != 0) {
            return HDB_MEDIA_OK;
        }

        index = (unsigned) n;
        t = (double) n / v->fps;
    }

    if (v->l->max_video_frames && v->out->nframes >= v->l->max_video_frames) {
        return hdb_media_fail(v->out, HDB_MEDIA_ETOOLARGE,
                              "more than %u frames to hash",
                              v->l->max_video_frames);
    }

    w = f->width;
    h = f->height;

    /* a stream may change size midway: each frame is admitted */
    rc = hdb_media_admit(v->out, &(hdb_media_limits_t) {
                             .max_pixels = v->l->max_pixels },
                         (uint64_t) w, (uint64_t) h);
    if (rc != HDB_MEDIA_OK) {
        return rc;
    }

    v->sws = sws_getCachedContext(v->sws, w, h, f->format, w, h,
                                  AV_PIX_FMT_RGB24, SWS_AREA, NULL, NULL,
                                  NULL);
    if (v->sws == NULL) {
        return hdb_media_fail(v->out, HDB_MEDIA_ECORRUPT,
                              "video: no conversion from %s to RGB",
                              av_get_pix_fmt_name(f->format)
                              ? av_get_pix_fmt_name(f->format) : "?");
    }

    /*
     * swscale's SIMD writes whole vectors: rows aligned, and room past
     * the last one (valgrind saw it write 16 bytes into a 2 x 1 frame)
     */
    stride = FFALIGN(w * 3, HDB_VID_ALIGN);
    size = (size_t) stride * h + HDB_VID_ALIGN;

    if (size > v->rgb_size) {
        av_free(v->rgb);
        v->rgb = av_malloc(size);
        v->rgb_size = v->rgb ? size : 0;

        if (v->rgb == NULL) {
            return HDB_MEDIA_ENOMEM;
        }
    }

    sws_scale(v->sws, (const uint8_t *const *) f->data, f->linesize, 0, h,
              (uint8_t *const[]) { v->rgb }, (const int[]) { stride });

    return hdb_media_frame_flags(v->out, v->l, v->rgb, w, h, 3,
                                 (size_t) stride, index, t, HDB_PDQ_WHOLE);
}

/* frames the decoder has ready; HDB_MEDIA_OK when it wants more input */
static int
hdb_vid_drain(hdb_vid_t *v)
{
    int  rc;

    for ( ;; ) {
        rc = avcodec_receive_frame(v->dec, v->frame);

        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) {
            return HDB_MEDIA_OK;
        }

        if (rc < 0) {
            return hdb_vid_averror(v, rc, "frame not decoded");
        }

        rc = hdb_vid_frame(v, v->frame);
        av_frame_unref(v->frame);

        if (rc != HDB_MEDIA_OK) {
            return rc;
        }

        if (v->l->deadline && hdb_vid_now() > v->l->deadline) {
            return hdb_media_fail(v->out, HDB_MEDIA_ETIME,
                                  "video not hashed in the time allowed "
                                  "(%llu frames decoded)",
                                  (unsigned long long) v->decoded);
        }
    }
}

/* one packet to the decoder, and the frames it has ready then */
static int
hdb_vid_send(hdb_vid_t *v, AVPacket *pkt)
{
    int  rc;

    if (v->l->sampling == HDB_VIDEO_FAST) {
        hdb_vid_fast(v, pkt);
    }

    rc = avcodec_send_packet(v->dec, pkt);
    av_packet_unref(pkt);

    if (rc == AVERROR(ENOMEM)) {
        return HDB_MEDIA_ENOMEM;
    }

    if (rc < 0 && rc != AVERROR(EAGAIN)) {
        /* a damaged packet: skipped, as players skip it */
        v->bad++;
        return HDB_MEDIA_OK;
    }

    return hdb_vid_drain(v);
}


/*
 * Fast sampling: the group of pictures held (a key frame and what came
 * up to the next key frame or the end) goes to the decoder up to its
 * last packet whose frame is on the grid.  In decode order a frame's
 * references come before it, so the packets after that one only make
 * frames no kept frame needs; a group without a frame on the grid is not
 * decoded at all.  A packet without a time stops the reckoning: the
 * group is sent whole.  (In an open group, frames that come after the
 * next key frame in decode order but refer back into this one would
 * decode damaged: fast sampling's approximation, which exact sampling
 * does not make.)  whole: the group's end is not known, all of it goes.
 */
static int
hdb_vid_gop_send(hdb_vid_t *v, int whole)
{
    int       rc, grid;
    unsigned  i, sent;

    /* how many of the held packets go to the decoder */
    sent = whole ? v->ngop : 0;

    for (i = 0; i < v->ngop && !whole; i++) {
        grid = hdb_vid_on_grid(v, v->gop[i]);

        if (grid < 0) {
            sent = v->ngop;
            break;
        }

        if (grid) {
            sent = i + 1;
        }
    }

    rc = HDB_MEDIA_OK;

    for (i = 0; i < v->ngop; i++) {
        if (rc == HDB_MEDIA_OK && i < sent) {
            rc = hdb_vid_send(v, v->gop[i]);
        }

        av_packet_unref(v->gop[i]);
    }

    v->ngop = 0;

    return rc;
}


/* fast sampling: a packet into the group held, or on if none is */
static int
hdb_vid_hold(hdb_vid_t *v, AVPacket *pkt)
{
    int  rc;

    if (pkt->flags & AV_PKT_FLAG_KEY) {
        /* the group before ends here */
        rc = hdb_vid_gop_send(v, 0);
        if (rc != HDB_MEDIA_OK) {
            return rc;
        }

        v->gop_through = 0;

    } else if (v->gop_through || v->ngop == 0) {
        /* a group too long to hold, or packets before any key frame */
        return hdb_vid_send(v, pkt);

    } else if (v->ngop == HDB_VID_GOP_MAX) {
        /* too long to hold: what is held and the rest of it go on */
        v->gop_through = 1;
        rc = hdb_vid_gop_send(v, 1);
        return rc == HDB_MEDIA_OK ? hdb_vid_send(v, pkt) : rc;
    }

    if (v->gop[v->ngop] == NULL) {
        v->gop[v->ngop] = av_packet_alloc();
        if (v->gop[v->ngop] == NULL) {
            return HDB_MEDIA_ENOMEM;
        }
    }

    av_packet_move_ref(v->gop[v->ngop++], pkt);

    return HDB_MEDIA_OK;
}

static int
hdb_vid_decode(hdb_vid_t *v)
{
    int  rc;

    for ( ;; ) {
        rc = av_read_frame(v->fmt, v->pkt);

        if (rc < 0) {
            /*
             * The end, or a cut or broken container: what was read is
             * decoded, as a player plays a truncated file up to the cut.
             */
            break;
        }

        if (v->pkt->stream_index != v->stream
            || (v->l->sampling == HDB_VIDEO_KEYFRAMES
                && !(v->pkt->flags & AV_PKT_FLAG_KEY)))
        {
            av_packet_unref(v->pkt);
            continue;
        }

        rc = v->l->sampling == HDB_VIDEO_FAST ? hdb_vid_hold(v, v->pkt)
                                               : hdb_vid_send(v, v->pkt);
        if (rc != HDB_MEDIA_OK) {
            return rc;
        }
    }

    /* the last group, and the frames the decoder still holds */
    rc = hdb_vid_gop_send(v, 0);
    if (rc != HDB_MEDIA_OK) {
        return rc;
    }

    rc = avcodec_send_packet(v->dec, NULL);
    if (rc == 0) {
        rc = hdb_vid_drain(v);
        if (rc != HDB_MEDIA_OK) {
            return rc;
        }
    }

    v->out->total = (unsigned) (v->decoded > UINT32_MAX ? UINT32_MAX
                                                         : v->decoded);

    if (v->out->nframes == 0) {
        return hdb_media_fail(v->out, HDB_MEDIA_ECORRUPT, "%s",
                              v->out->why[0] ? v->out->why
                              : v->bad ? "video: no frame decoded"
                                       : "video: no frame");
    }

    /* frames that did decode are hashed; FFmpeg's complaints are not ours */
    v->out->why[0] = '\0';

    return HDB_MEDIA_OK;
}


static int
hdb_vid_hash(const unsigned char *p, size_t len,
    const hdb_media_limits_t *limits, hdb_media_result_t *out)
{
    int             rc;
    hdb_vid_t       v;
    AVIOContext    *pb;
    hdb_vid_src_t   src;

    pthread_once(&hdb_vid_once, hdb_vid_init);

    memset(&v, 0, sizeof(hdb_vid_t));
    v.l = limits;
    v.out = out;
    v.slot = -1;

    src.p = p;
    src.len = len;
    src.pos = 0;

    hdb_vid_why = out->why;
    hdb_vid_why_size = sizeof(out->why);

    rc = hdb_vid_open(&v, &src);
    if (rc == HDB_MEDIA_OK) {
        rc = hdb_vid_decode(&v);
    }

    hdb_vid_why = NULL;

    sws_freeContext(v.sws);
    av_free(v.rgb);
    av_frame_free(&v.frame);
    av_packet_free(&v.pkt);

    for (unsigned i = 0; i < HDB_VID_GOP_MAX && v.gop[i]; i++) {
        av_packet_free(&v.gop[i]);
    }

    avcodec_free_context(&v.dec);

    if (v.fmt) {
        pb = v.fmt->pb;
        avformat_close_input(&v.fmt);

        if (pb) {
            av_free(pb->buffer);
            avio_context_free(&pb);
        }
    }

    return rc;
}

static const char *
hdb_vid_version(void)
{
    static char  text[96];

    snprintf(text, sizeof(text), "FFmpeg libavformat %u.%u, libavcodec "
             "%u.%u", AV_VERSION_MAJOR(avformat_version()),
             AV_VERSION_MINOR(avformat_version()),
             AV_VERSION_MAJOR(avcodec_version()),
             AV_VERSION_MINOR(avcodec_version()));

    return text;
}

const hdb_media_decoder_t  hdb_vid_mp4 = {
    HDB_MEDIA_MP4, "mp4", hdb_vid_mp4_sniff, hdb_vid_hash, hdb_vid_version
};

const hdb_media_decoder_t  hdb_vid_mkv = {
    HDB_MEDIA_MKV, "mkv", hdb_vid_mkv_sniff, hdb_vid_hash, hdb_vid_version
};

const hdb_media_decoder_t  hdb_vid_avi = {
    HDB_MEDIA_AVI, "avi", hdb_vid_avi_sniff, hdb_vid_hash, hdb_vid_version
};

const hdb_media_decoder_t  hdb_vid_mpegts = {
    HDB_MEDIA_MPEGTS, "ts", hdb_vid_mpegts_sniff, hdb_vid_hash,
    hdb_vid_version
};
