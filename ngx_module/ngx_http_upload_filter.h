/*
 * What the upload filter's files share: configuration, the per-request
 * context, and the functions one file calls in another.  Each file has
 * one job; the calls go one way, down this list:
 *
 *   ngx_http_upload_filter_module.c    directives, configuration, process
 *                                      set-up (the module's skeleton)
 *   ngx_http_upload_filter_handlers.c  which content handlers read a
 *                                      body (not empty_gif, grpc_pass)
 *   ngx_http_upload_filter_request.c   PRECONTENT handler, request body
 *                                      filter: an upload's bytes in
 *   ngx_http_upload_filter_response.c  header and body filters: a
 *                                      response held, judged, sent or
 *                                      refused
 *   ngx_http_upload_filter_inspect.c   a body, from either, into the
 *                                      inspection
 *   uf_inspect.c                       what of a body an application can
 *                                      extract (uf_multipart, uf_form,
 *                                      uf_json, uf_base64, uf_qp,
 *                                      uf_inflate, uf_content_type)
 *   ngx_http_upload_filter_object.c    the inspection's sink: each
 *                                      object's digests and lookup
 *   ngx_http_upload_filter_pdq.c       images kept, hashed in the thread
 *                                      pool (hdb_media), near matches
 *   ngx_http_upload_filter_verdict.c   a match recorded and logged, a
 *                                      failure's policy, the rejection
 *   ngx_http_upload_filter_flood.c     upload_filter_flood: an entry that
 *                                      matches too many clients
 *   ngx_http_upload_filter_ledger.c    what was hashed, for
 *                                      $upload_filter_hashes
 *   ngx_http_upload_filter_zone.c      the verdict zone: responses judged
 *                                      before, their hashes checked again
 *                                      after an update
 *   ngx_http_upload_filter_variables.c the variables
 *   ngx_http_upload_filter_resident.c  upload_filter_resident: keeping the
 *                                      hash set in memory
 */

#ifndef _NGX_HTTP_UPLOAD_FILTER_H_INCLUDED_
#define _NGX_HTTP_UPLOAD_FILTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "hashdb.h"
#include "hdb_digest.h"
#include "hdb_media.h"
#include "uf_inspect.h"
#include "uf_multipart.h"


/* multipart nested in a part: Python's cgi reads two levels and more */
#define NGX_HTTP_UPLOAD_FILTER_MAX_DEPTH  3

/* form values and JSON strings shorter than this are not files */
#define NGX_HTTP_UPLOAD_FILTER_FIELD_MIN  64


#define NGX_HTTP_UPLOAD_FILTER_BLOCK   0
#define NGX_HTTP_UPLOAD_FILTER_LOG     1

#define NGX_HTTP_UPLOAD_FILTER_REJECT  0
#define NGX_HTTP_UPLOAD_FILTER_PASS    1

/* the ways a verdict cannot be reached; upload_filter_on_error per case */
#define NGX_HTTP_UPLOAD_FILTER_UNAVAILABLE     0
#define NGX_HTTP_UPLOAD_FILTER_TOO_LARGE       1
#define NGX_HTTP_UPLOAD_FILTER_TOO_MANY_PARTS  2
#define NGX_HTTP_UPLOAD_FILTER_MALFORMED       3
#define NGX_HTTP_UPLOAD_FILTER_INTERNAL        4
#define NGX_HTTP_UPLOAD_FILTER_UNHASHABLE      5
#define NGX_HTTP_UPLOAD_FILTER_TIMEOUT         6
#define NGX_HTTP_UPLOAD_FILTER_NCASES          7

/* the verdict, as $upload_filter_result shows it */
#define NGX_HTTP_UPLOAD_FILTER_NONE    0
#define NGX_HTTP_UPLOAD_FILTER_CLEAN   1
#define NGX_HTTP_UPLOAD_FILTER_MATCH   2
#define NGX_HTTP_UPLOAD_FILTER_ERROR   3
#define NGX_HTTP_UPLOAD_FILTER_ALLOWED 4
#define NGX_HTTP_UPLOAD_FILTER_SHADOW  5    /* a shadow update's entry */
#define NGX_HTTP_UPLOAD_FILTER_NRESULTS 6

/*
 * What a match does, as the metrics' action label counts it; a higher
 * rank names the match in the variables (ctx->match_rank)
 */
#define NGX_HTTP_UPLOAD_FILTER_RANK_NONE     0
#define NGX_HTTP_UPLOAD_FILTER_RANK_ALLOWED  1
#define NGX_HTTP_UPLOAD_FILTER_RANK_SHADOW   2
#define NGX_HTTP_UPLOAD_FILTER_RANK_LOG      3
#define NGX_HTTP_UPLOAD_FILTER_RANK_BLOCK    4


/* the hash set a worker reads (ngx_http_upload_filter_set.c) */
typedef struct ngx_http_upload_filter_set_s  ngx_http_upload_filter_set_t;

typedef struct {
    ngx_str_t                  db_path;
    ngx_str_t                  on_file;     /* where "upload_filter on" */
    ngx_uint_t                 on_line;
    ngx_str_t                  on_name;     /* which "... on" */
    hdb_t                     *db;         /* set->db */
    hdb_reader_t              *reader;     /* the event loop's */
    ngx_http_upload_filter_set_t  *set;
    ngx_flag_t                 used;
    ngx_flag_t                 responses;   /* some location inspects
                                               responses */
    ngx_flag_t                 threads;     /* some location hashes in a
                                               thread pool */
    ngx_uint_t                 resident;    /* 0, HDB_RESIDENT_* */
    ngx_msec_t                 resident_period;

    /* upload_filter_flood: 0 (off), or N clients per period */
    ngx_uint_t                 flood_n;
    time_t                     flood_period;
    ngx_flag_t                 flood_demote;   /* action=log */
    ngx_shm_zone_t            *flood_zone;
} ngx_http_upload_filter_main_conf_t;


typedef struct {
    ngx_flag_t                 enable;
    ngx_uint_t                 action;
    ngx_array_t               *sources;     /* upload_filter_sources: the
                                               names (const char *); NULL:
                                               every source */
    ngx_uint_t                 status;
    off_t                      max_body_size;
    ngx_uint_t                 max_parts;
    size_t                     part_headers_size;
    size_t                     max_decompressed_size;
    ngx_uint_t                 max_compression_ratio;
    ngx_flag_t                 grpc;
    ngx_uint_t                 on_error[NGX_HTTP_UPLOAD_FILTER_NCASES];

    ngx_uint_t                 pdq_distance;
    ngx_uint_t                 pdq_min_quality;
    size_t                     pdq_max_pixels;
    size_t                     pdq_max_total_pixels;
    ngx_uint_t                 pdq_max_frames;
    size_t                     pdq_max_size;
    ngx_msec_t                 budget;
    size_t                     video_max_size;
    ngx_msec_t                 video_budget;
    time_t                     video_max_duration;
    ngx_uint_t                 video_sampling;  /* HDB_VIDEO_* */
    ngx_uint_t                 vpdq_pc;         /* percent */
    ngx_uint_t                 vpdq_pq;

    ngx_flag_t                 responses;
    size_t                     response_buffer;
    ngx_uint_t                 response_status;
    ngx_str_t                  response_link;   /* Link: rel=blocked-by */
    ngx_shm_zone_t            *response_zone;   /* ..._response_zone */
    ngx_shm_zone_t            *blocked_zone;    /* upload_filter_blocked */
#if (NGX_THREADS)
    ngx_thread_pool_t         *thread_pool;
    ngx_flag_t                 no_threads;     /* thread_pool off */
    ngx_uint_t                 thread_priority;
#endif
} ngx_http_upload_filter_loc_conf_t;


/* upload_filter_thread_priority */
#define NGX_HTTP_UPLOAD_FILTER_PRIO_NORMAL  0
#define NGX_HTTP_UPLOAD_FILTER_PRIO_BATCH   1
#define NGX_HTTP_UPLOAD_FILTER_PRIO_IDLE    2


/*
 * Where a request is, in order; a switch over it says what happens next:
 *
 *   NEW         made (the body owes a verdict), no byte inspected yet
 *   INSPECTING  its bytes go through the inspection as they arrive
 *   INSPECTED   the inspection is over: the verdict is in, clean, a
 *               match that is only logged, or a failure let pass; or
 *               images wait in ctx->images to be hashed
 *   HASHING     images are hashed in the thread pool; the request waits
 *   REJECTED    the verdict is in: the request gets ctx->status, and so
 *               does any internal redirect that could pass it on
 */
typedef enum {
    NGX_HTTP_UPLOAD_FILTER_NEW = 0,
    NGX_HTTP_UPLOAD_FILTER_INSPECTING,
    NGX_HTTP_UPLOAD_FILTER_INSPECTED,
    NGX_HTTP_UPLOAD_FILTER_HASHING,
    NGX_HTTP_UPLOAD_FILTER_REJECTED
} ngx_http_upload_filter_state_e;


/*
 * An image of the upload (the body, one part, a decoded object: any format
 * the media layer decodes), kept whole for PDQ
 */
typedef struct ngx_http_upload_filter_image_s  ngx_http_upload_filter_image_t;
typedef struct ngx_http_upload_filter_hit_s  ngx_http_upload_filter_hit_t;

/* a frame whose hash is near a listed one */
struct ngx_http_upload_filter_hit_s {
    ngx_http_upload_filter_hit_t       *next;
    unsigned                            frame;      /* in media.frames */
    hdb_match_t                         m;
};

struct ngx_http_upload_filter_image_s {
    ngx_http_upload_filter_image_t     *next;

    u_char                             *data;       /* ngx_alloc()ed */
    size_t                              len;
    size_t                              cap;
    u_char                              head[HDB_MEDIA_SNIFF_MAX];

    u_char                             *where;      /* "body", "2", ... */
    u_char                             *name;       /* raw, r->pool */
    size_t                              name_len;
    u_char                             *filename;
    size_t                              filename_len;
    u_char                             *decoded;    /* "" or " decoded=" */

    ngx_uint_t                          ledger;     /* its entry */
    int                                 type;       /* sniffed; MORE */

    /* what the thread found */
    int                                 rc;         /* HDB_MEDIA_* */
    hdb_media_result_t                  media;

    /*
     * The hash set's answers for its frames, found by the thread too when
     * it could read the set (ngx_http_upload_filter_pdq_match()), else in
     * the event loop before judging; ngx_alloc()ed.
     */
    ngx_uint_t                          looked_up;
    int                                 lookup_rc;  /* 0 or an LMDB error
                                                       met after the hits */
    hdb_vpdq_match_t                   *vpdq;       /* a listed video */
    ngx_http_upload_filter_hit_t       *hits;       /* in frame order */
};


/* one object of the body (see uf_inspect.h): the body, a part, ... */
typedef struct ngx_http_upload_filter_obj_s  ngx_http_upload_filter_obj_t;

struct ngx_http_upload_filter_obj_s {
    ngx_http_upload_filter_obj_t       *next;       /* spare list */
    hdb_digest_t                       *digest;
    ngx_http_upload_filter_image_t     *image;
    off_t                               size;
    ngx_uint_t                          ledger;     /* its entry */

    /* valid until close: see uf_inspect.h */
    const u_char                       *name;
    size_t                              name_len;
    const u_char                       *filename;
    size_t                              filename_len;
    u_char                              where[80];
    u_char                              decoded[48];
};


typedef struct ngx_http_upload_filter_task_s  ngx_http_upload_filter_task_t;

typedef struct ngx_http_upload_filter_known_s  ngx_http_upload_filter_known_t;

typedef struct {
    ngx_http_request_t                 *request;
    ngx_http_upload_filter_loc_conf_t  *conf;

    uf_inspect_t                       *inspect;
    unsigned                            digest_types;
    ngx_http_upload_filter_obj_t       *spare_objs;

    off_t                               received;

    ngx_uint_t                          result;
    ngx_uint_t                          match_rank; /* of the variables' */
    ngx_uint_t                          status;     /* of a rejection */
    const char                         *reason;     /* of an error */

    ngx_str_t                           match;      /* type:hex */
    ngx_str_t                           source;
    ngx_str_t                           category;
    ngx_str_t                           entry;      /* the listed hash */
    ngx_str_t                           distance;
    ngx_str_t                           video;      /* the listed video */

    ngx_array_t                        *ledger;     /* what was hashed */

    /* PDQ: the images read, the thread's task */
    ngx_http_upload_filter_image_t     *images;
    ngx_http_upload_filter_task_t      *task;
    ngx_event_t                         budget;
    ngx_msec_t                          pdq_start;
    ngx_msec_t                          budget_ms;  /* the one that runs */
    ngx_uint_t                          parts;      /* objects closed */
    ngx_uint_t                          hashed_media;
    ngx_uint_t                          budget_video;

    ngx_http_upload_filter_state_e      state;

    /* a response's body, held until the verdict (ngx_alloc()ed) */
    u_char                             *held;
    size_t                              held_len;
    size_t                              held_cap;

    /* the verdict zone: what it knew of the object, in r->pool */
    ngx_http_upload_filter_known_t     *known;
    off_t                               sent;       /* streamed: bytes on */

    /* the PRECONTENT handler's read is under way: who waits for the body */
    unsigned                            reading:1;
    unsigned                            pdq:1;          /* set holds PDQ */
    unsigned                            response:1;     /* not an upload */
    unsigned                            released:1;     /* response sent on */
    unsigned                            complete:1;     /* its last buffer */
    unsigned                            link_sent:1;
    unsigned                            streamed:1;     /* larger than the
                                                           buffer: sent on
                                                           as it is hashed */
    unsigned                            keep_frames:1;  /* for the zone */
    unsigned                            rejudging:1;    /* the zone's kept
                                                           hashes */
} ngx_http_upload_filter_ctx_t;


extern ngx_module_t  ngx_http_upload_filter_module;

/* the worker's hash set, opened after fork in init_process */
extern ngx_http_upload_filter_main_conf_t  *ngx_http_upload_filter_worker;


typedef struct {
    ngx_str_t    name;
    ngx_uint_t   status;        /* sent when the case is rejected */
} ngx_http_upload_filter_case_t;

/* by NGX_HTTP_UPLOAD_FILTER_UNAVAILABLE ... _TIMEOUT */
extern ngx_http_upload_filter_case_t  ngx_http_upload_filter_cases[];


/* ngx_http_upload_filter_request.c */
ngx_int_t ngx_http_upload_filter_handler(ngx_http_request_t *r);
void ngx_http_upload_filter_body_filter_init(void);
ngx_http_upload_filter_ctx_t *ngx_http_upload_filter_get_ctx(
    ngx_http_request_t *r);

/* ngx_http_upload_filter_inspect.c */
void ngx_http_upload_filter_inspect_start(ngx_http_upload_filter_ctx_t *ctx,
    ngx_str_t *ct, ngx_str_t *ce, off_t length);
ngx_int_t ngx_http_upload_filter_inspect_feed(
    ngx_http_upload_filter_ctx_t *ctx, u_char *p, size_t len);
ngx_int_t ngx_http_upload_filter_inspect_finish(
    ngx_http_upload_filter_ctx_t *ctx);
void ngx_http_upload_filter_inspect_stop(ngx_http_upload_filter_ctx_t *ctx);

/* ngx_http_upload_filter_response.c */
extern ngx_module_t  ngx_http_upload_filter_response_module;
ngx_http_upload_filter_ctx_t *ngx_http_upload_filter_response_ctx(
    ngx_http_request_t *r);
ngx_int_t ngx_http_upload_filter_response_facts(
    ngx_http_upload_filter_ctx_t *ctx, ngx_str_t *facts);
ngx_int_t ngx_http_upload_filter_response_url(ngx_http_request_t *r,
    ngx_str_t *url);

/* ngx_http_upload_filter_variables.c */
ngx_int_t ngx_http_upload_filter_add_variables(ngx_conf_t *cf);

/* where in the body an object was, for the log line */
typedef struct {
    const u_char                       *where;      /* "body", "2", ... */
    const u_char                       *name;       /* raw, from the client */
    size_t                              name_len;
    const u_char                       *filename;
    size_t                              filename_len;
    off_t                               size;
    const u_char                       *decoded;    /* "" or " decoded=..." */
    const char                         *format;     /* of an image: "png" */
    ngx_int_t                           frame;      /* of an animation; -1 */
    double                              time;       /* of a video's frame */
    const hdb_vpdq_match_t             *video;      /* a vPDQ match */
} ngx_http_upload_filter_site_t;

/* ngx_http_upload_filter_verdict.c */
void ngx_http_upload_filter_unreadable(ngx_http_upload_filter_ctx_t *ctx,
    int rc);
void ngx_http_upload_filter_resume(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx);
ngx_int_t ngx_http_upload_filter_report(ngx_http_upload_filter_ctx_t *ctx,
    const hdb_match_t *m, const char *digest, const hdb_media_frame_t *frame,
    const ngx_http_upload_filter_site_t *site);
void ngx_http_upload_filter_fail(ngx_http_upload_filter_ctx_t *ctx,
    ngx_uint_t level, ngx_uint_t which, const char *reason);
ngx_int_t ngx_http_upload_filter_verdict(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx);
ngx_int_t ngx_http_upload_filter_set_match(ngx_http_upload_filter_ctx_t *ctx,
    const hdb_match_t *m, const char *digest, ngx_uint_t rank);
int ngx_http_upload_filter_reader_begin(hdb_reader_t *rd,
    ngx_http_upload_filter_loc_conf_t *conf);
ngx_uint_t ngx_http_upload_filter_match_rank(const hdb_match_t *m);

/* ngx_http_upload_filter_flood.c: upload_filter_flood */
char *ngx_http_upload_filter_flood(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_upload_filter_flood_check(ngx_http_upload_filter_ctx_t *ctx,
    const hdb_match_t *m, const char *digest);
void ngx_http_upload_filter_flood_counts(
    ngx_http_upload_filter_main_conf_t *umcf, ngx_uint_t *alarms,
    ngx_uint_t *demotions, ngx_uint_t *demoted);
u_char *ngx_http_upload_filter_escape(ngx_pool_t *pool, u_char *src,
    size_t len);

/* ngx_http_upload_filter_handlers.c */
ngx_int_t ngx_http_upload_filter_handlers_init(ngx_conf_t *cf);
ngx_int_t ngx_http_upload_filter_not_read_here(ngx_http_request_t *r,
    ngx_http_upload_filter_loc_conf_t *ulcf);

/* ngx_http_upload_filter_object.c */
extern const uf_sink_t  ngx_http_upload_filter_sink;
ngx_int_t ngx_http_upload_filter_digests_check(
    ngx_http_upload_filter_ctx_t *ctx, const hdb_digests_t *dg,
    const ngx_http_upload_filter_site_t *site);
void ngx_http_upload_filter_objects_exit(void);

/* ngx_http_upload_filter_ledger.c */
typedef struct ngx_http_upload_filter_ledger_s
    ngx_http_upload_filter_ledger_t;

ngx_int_t ngx_http_upload_filter_ledger_add(ngx_http_upload_filter_ctx_t *ctx,
    ngx_http_upload_filter_obj_t *obj, const hdb_digests_t *dg,
    ngx_uint_t *index);
void ngx_http_upload_filter_ledger_pdq(ngx_http_upload_filter_ctx_t *ctx,
    ngx_uint_t index, const hdb_media_result_t *media,
    const hdb_media_frame_t *f);

/* one object hashed, as the verdict zone keeps it */
typedef struct {
    const u_char                       *where;
    off_t                               size;
    unsigned                            types;
    const u_char                      (*md)[HDB_DIGEST_MAX];
    int                                 media;      /* HDB_MEDIA_NONE: no
                                                       frames */
    unsigned                            total;
    ngx_uint_t                          nframes;
    const hdb_media_frame_t            *frames;
} ngx_http_upload_filter_kept_t;

ngx_int_t ngx_http_upload_filter_ledger_get(ngx_http_upload_filter_ctx_t *ctx,
    ngx_uint_t i, ngx_http_upload_filter_kept_t *k);
ngx_int_t ngx_http_upload_filter_ledger_value(
    ngx_http_upload_filter_ctx_t *ctx, ngx_str_t *value);

/* ngx_http_upload_filter_pdq.c */
ngx_int_t ngx_http_upload_filter_image_begin(ngx_http_upload_filter_ctx_t *ctx,
    ngx_http_upload_filter_obj_t *obj, size_t size_hint);
ngx_int_t ngx_http_upload_filter_image_feed(ngx_http_upload_filter_ctx_t *ctx,
    ngx_http_upload_filter_obj_t *obj, const u_char *p, size_t len);
ngx_int_t ngx_http_upload_filter_image_end(ngx_http_upload_filter_ctx_t *ctx,
    ngx_http_upload_filter_obj_t *obj);
void ngx_http_upload_filter_image_free(ngx_http_upload_filter_image_t *j);
void ngx_http_upload_filter_pdq_run(ngx_http_upload_filter_ctx_t *ctx);
ngx_int_t ngx_http_upload_filter_pdq_post(ngx_http_request_t *r,
    ngx_http_upload_filter_ctx_t *ctx);
void ngx_http_upload_filter_pdq_cleanup(ngx_http_upload_filter_ctx_t *ctx);
void ngx_http_upload_filter_pdq_judge(ngx_http_upload_filter_ctx_t *ctx,
    ngx_http_upload_filter_image_t *list);

/* ngx_http_upload_filter_zone.c: the verdict zone */
char *ngx_http_upload_filter_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_upload_filter_response_zone(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_upload_filter_blocked(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_upload_filter_zone_find(ngx_http_upload_filter_ctx_t *ctx);
ngx_int_t ngx_http_upload_filter_zone_rejudge(
    ngx_http_upload_filter_ctx_t *ctx);
void ngx_http_upload_filter_zone_store(ngx_http_upload_filter_ctx_t *ctx);
u_char *ngx_http_upload_filter_known_key(ngx_http_request_t *r,
    ngx_http_upload_filter_known_t *k);

/* ngx_http_upload_filter_resident.c */
char *ngx_http_upload_filter_resident_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_upload_filter_resident_init_module(ngx_cycle_t *cycle,
    ngx_http_upload_filter_main_conf_t *umcf);
void ngx_http_upload_filter_resident_start(ngx_cycle_t *cycle,
    ngx_http_upload_filter_main_conf_t *umcf);
void ngx_http_upload_filter_resident_stop(void);

/* ngx_http_upload_filter_metrics.c: counters for Prometheus */
ngx_int_t ngx_http_upload_filter_metrics_zone_add(ngx_conf_t *cf);
char *ngx_http_upload_filter_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_upload_filter_metrics_request(ngx_http_upload_filter_ctx_t *ctx);
void ngx_http_upload_filter_metrics_media(int type);
void ngx_http_upload_filter_metrics_error(ngx_uint_t which);
void ngx_http_upload_filter_metrics_verdict(ngx_uint_t video, ngx_msec_t ms);
void ngx_http_upload_filter_metrics_queue(ngx_msec_t ms);
void ngx_http_upload_filter_metrics_uninspected(ngx_uint_t why);
void ngx_http_upload_filter_metrics_known(ngx_uint_t what);
void ngx_http_upload_filter_metrics_match(const hdb_match_t *m,
    ngx_uint_t kind, ngx_uint_t action);

/* ngx_http_upload_filter_module.c */
int ngx_http_upload_filter_open_set(ngx_http_upload_filter_main_conf_t *umcf,
    ngx_log_t *log);

/* ngx_http_upload_filter_set.c: the set as pool threads read it too */
ngx_http_upload_filter_set_t *ngx_http_upload_filter_set_new(hdb_t *db,
    ngx_log_t *log);
ngx_uint_t ngx_http_upload_filter_set_threads(
    ngx_http_upload_filter_set_t *set);
ngx_http_upload_filter_set_t *ngx_http_upload_filter_set_hold(
    ngx_http_upload_filter_set_t *set);
void ngx_http_upload_filter_set_release(ngx_http_upload_filter_set_t *set);
void ngx_http_upload_filter_set_retire(ngx_http_upload_filter_set_t *set,
    ngx_uint_t exiting);
#if (NGX_THREADS)
hdb_reader_t *ngx_http_upload_filter_set_lend(
    ngx_http_upload_filter_set_t *set, ngx_log_t *log);
void ngx_http_upload_filter_set_give_back(ngx_http_upload_filter_set_t *set,
    hdb_reader_t *rd, ngx_log_t *log);
#endif

/* ngx_http_upload_filter_watch.c: a replaced hash set is reopened */
void ngx_http_upload_filter_watch_start(ngx_cycle_t *cycle,
    ngx_http_upload_filter_main_conf_t *umcf);
void ngx_http_upload_filter_watch_stop(void);


#endif /* _NGX_HTTP_UPLOAD_FILTER_H_INCLUDED_ */
