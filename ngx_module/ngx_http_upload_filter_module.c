
/*
 * ngx_http_upload_filter_module: rejects uploads, and responses
 * (ngx_http_upload_filter_response.c), whose digests or perceptual hashes
 * are listed in a hash set, an LMDB directory kept by the hashdb tool.
 *
 * This file is the module's skeleton, in the shape of nginx's mirror
 * module: the directives, the configuration, and the set-up of each
 * process.  How a body travels through the rest:
 *
 *   request (ngx_http_upload_filter_request.c: PRECONTENT handler,
 *            request body filter)
 *     -> inspection (uf_inspect.c: what of the body an application can
 *        extract: parts, decoded views)
 *     -> objects (ngx_http_upload_filter_object.c: digests, images kept
 *        for PDQ)
 *     -> perceptual hashes (ngx_http_upload_filter_pdq.c: the thread
 *        pool, hdb_media_hash())
 *     -> verdict (ngx_http_upload_filter_verdict.c: the match recorded
 *        and logged once, the rejection, the request resumed)
 *     -> variables (ngx_http_upload_filter_variables.c)
 */

#include "ngx_http_upload_filter.h"


static void *ngx_http_upload_filter_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_upload_filter_init_main_conf(ngx_conf_t *cf,
    void *conf);
static void *ngx_http_upload_filter_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_upload_filter_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_upload_filter_db(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_upload_filter_on_error(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_upload_filter_vpdq_match(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_upload_filter_set_enum(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_upload_filter_check_bounds(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_upload_filter_enable(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_upload_filter_sources(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
#if (NGX_THREADS)
static char *ngx_http_upload_filter_thread_pool(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
#endif
static ngx_int_t ngx_http_upload_filter_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_upload_filter_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_upload_filter_init_process(ngx_cycle_t *cycle);
static void ngx_http_upload_filter_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_upload_filter_actions[] = {
    { ngx_string("block"), NGX_HTTP_UPLOAD_FILTER_BLOCK },
    { ngx_string("log"), NGX_HTTP_UPLOAD_FILTER_LOG },
    { ngx_null_string, 0 }
};


static ngx_conf_num_bounds_t  ngx_http_upload_filter_status_bounds = {
    ngx_http_upload_filter_check_bounds, 400, 599
};


static ngx_conf_num_bounds_t  ngx_http_upload_filter_distance_bounds = {
    ngx_http_upload_filter_check_bounds, 0, HDB_PDQ_DISTANCE_MAX
};


static ngx_conf_num_bounds_t  ngx_http_upload_filter_headers_bounds = {
    ngx_http_upload_filter_check_bounds, 1024, 16 * 1024 * 1024
};


static ngx_conf_num_bounds_t  ngx_http_upload_filter_quality_bounds = {
    ngx_http_upload_filter_check_bounds, 0, 100
};


static ngx_conf_num_bounds_t  ngx_http_upload_filter_frames_bounds = {
    ngx_http_upload_filter_check_bounds, 1, 10000
};


static ngx_conf_enum_t  ngx_http_upload_filter_samplings[] = {
    { ngx_string("exact"), HDB_VIDEO_EXACT },
    { ngx_string("fast"), HDB_VIDEO_FAST },
    { ngx_string("keyframes"), HDB_VIDEO_KEYFRAMES },
    { ngx_null_string, 0 }
};


#if (NGX_THREADS)
static ngx_conf_enum_t  ngx_http_upload_filter_priorities[] = {
    { ngx_string("normal"), NGX_HTTP_UPLOAD_FILTER_PRIO_NORMAL },
    { ngx_string("batch"), NGX_HTTP_UPLOAD_FILTER_PRIO_BATCH },
    { ngx_string("idle"), NGX_HTTP_UPLOAD_FILTER_PRIO_IDLE },
    { ngx_null_string, 0 }
};
#endif


static ngx_command_t  ngx_http_upload_filter_commands[] = {

    { ngx_string("upload_filter"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_upload_filter_enable,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, enable),
      NULL },

    { ngx_string("upload_filter_db"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_upload_filter_db,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_filter_resident"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_upload_filter_resident_conf,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_filter_action"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_upload_filter_set_enum,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, action),
      &ngx_http_upload_filter_actions },

    { ngx_string("upload_filter_status"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, status),
      &ngx_http_upload_filter_status_bounds },

    { ngx_string("upload_filter_max_body_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, max_body_size),
      NULL },

    { ngx_string("upload_filter_max_parts"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, max_parts),
      NULL },

    { ngx_string("upload_filter_part_headers_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, part_headers_size),
      &ngx_http_upload_filter_headers_bounds },

    { ngx_string("upload_filter_max_decompressed_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, max_decompressed_size),
      NULL },

    { ngx_string("upload_filter_max_compression_ratio"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, max_compression_ratio),
      NULL },

    { ngx_string("upload_filter_grpc"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, grpc),
      NULL },

    { ngx_string("upload_filter_responses"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_upload_filter_enable,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, responses),
      NULL },

    { ngx_string("upload_filter_response_buffer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, response_buffer),
      NULL },

    { ngx_string("upload_filter_response_status"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, response_status),
      &ngx_http_upload_filter_status_bounds },

    { ngx_string("upload_filter_response_link"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, response_link),
      NULL },

    { ngx_string("upload_filter_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE23,
      ngx_http_upload_filter_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_filter_response_zone"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_upload_filter_response_zone,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_filter_blocked"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_upload_filter_blocked,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_filter_sources"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_upload_filter_sources,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_filter_flood"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_upload_filter_flood,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_filter_on_error"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_upload_filter_on_error,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("upload_filter_pdq_distance"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, pdq_distance),
      &ngx_http_upload_filter_distance_bounds },

    { ngx_string("upload_filter_pdq_min_quality"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, pdq_min_quality),
      &ngx_http_upload_filter_quality_bounds },

    { ngx_string("upload_filter_pdq_max_pixels"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, pdq_max_pixels),
      NULL },

    { ngx_string("upload_filter_pdq_max_total_pixels"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, pdq_max_total_pixels),
      NULL },

    { ngx_string("upload_filter_pdq_max_frames"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, pdq_max_frames),
      &ngx_http_upload_filter_frames_bounds },

    { ngx_string("upload_filter_pdq_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, pdq_max_size),
      NULL },

    { ngx_string("upload_filter_budget"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, budget),
      NULL },

    { ngx_string("upload_filter_video_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, video_max_size),
      NULL },

    { ngx_string("upload_filter_video_budget"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, video_budget),
      NULL },

    { ngx_string("upload_filter_video_max_duration"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, video_max_duration),
      NULL },

    { ngx_string("upload_filter_video_sampling"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_upload_filter_set_enum,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, video_sampling),
      &ngx_http_upload_filter_samplings },

    { ngx_string("upload_filter_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_upload_filter_metrics,
      0,
      0,
      NULL },

    { ngx_string("upload_filter_vpdq_match"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_upload_filter_vpdq_match,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

#if (NGX_THREADS)
    { ngx_string("upload_filter_thread_priority"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_upload_filter_set_enum,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_upload_filter_loc_conf_t, thread_priority),
      &ngx_http_upload_filter_priorities },

    { ngx_string("upload_filter_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_upload_filter_thread_pool,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },
#endif

      ngx_null_command
};


static ngx_http_module_t  ngx_http_upload_filter_module_ctx = {
    ngx_http_upload_filter_add_variables,    /* preconfiguration */
    ngx_http_upload_filter_init,             /* postconfiguration */

    ngx_http_upload_filter_create_main_conf, /* create main configuration */
    ngx_http_upload_filter_init_main_conf,   /* init main configuration */

    NULL,                                    /* create server configuration */
    NULL,                                    /* merge server configuration */

    ngx_http_upload_filter_create_loc_conf,  /* create location configuration */
    ngx_http_upload_filter_merge_loc_conf    /* merge location configuration */
};


ngx_module_t  ngx_http_upload_filter_module = {
    NGX_MODULE_V1,
    &ngx_http_upload_filter_module_ctx,      /* module context */
    ngx_http_upload_filter_commands,         /* module directives */
    NGX_HTTP_MODULE,                         /* module type */
    NULL,                                    /* init master */
    ngx_http_upload_filter_init_module,      /* init module */
    ngx_http_upload_filter_init_process,     /* init process */
    NULL,                                    /* init thread */
    NULL,                                    /* exit thread */
    ngx_http_upload_filter_exit_process,     /* exit process */
    NULL,                                    /* exit master */
    NGX_MODULE_V1_PADDING
};


/* the worker's hash set, opened after fork in init_process */
ngx_http_upload_filter_main_conf_t  *ngx_http_upload_filter_worker;


static void *
ngx_http_upload_filter_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_upload_filter_main_conf_t  *umcf;

    umcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_upload_filter_main_conf_t));
    if (umcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     umcf->db_path = { 0, NULL };
     *     umcf->db = NULL;
     *     umcf->reader = NULL;
     *     umcf->used = 0;
     */

    umcf->resident = NGX_CONF_UNSET_UINT;
    umcf->resident_period = NGX_CONF_UNSET_MSEC;
    umcf->flood_n = NGX_CONF_UNSET_UINT;

    return umcf;
}


static char *
ngx_http_upload_filter_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_upload_filter_main_conf_t *umcf = conf;

    ngx_conf_init_uint_value(umcf->resident, 0);

    /*
     * The hosts we run on page out what has not been touched in any of
     * ten samples over 5 s: a page must be read about every second.
     */
    ngx_conf_init_msec_value(umcf->resident_period, 1000);

    /* upload_filter_flood: off unless asked (see README for why) */
    ngx_conf_init_uint_value(umcf->flood_n, 0);

    return NGX_CONF_OK;
}


static void *
ngx_http_upload_filter_create_loc_conf(ngx_conf_t *cf)
{
    ngx_uint_t                          i;
    ngx_http_upload_filter_loc_conf_t  *conf;

    conf = ngx_palloc(cf->pool, sizeof(ngx_http_upload_filter_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /* upload_filter_on_error: one policy per case */
    for (i = 0; i < NGX_HTTP_UPLOAD_FILTER_NCASES; i++) {
        conf->on_error[i] = NGX_CONF_UNSET_UINT;
    }

    conf->enable = NGX_CONF_UNSET;
    conf->action = NGX_CONF_UNSET_UINT;
    conf->sources = NGX_CONF_UNSET_PTR;
    conf->status = NGX_CONF_UNSET_UINT;
    conf->max_body_size = NGX_CONF_UNSET;
    conf->max_parts = NGX_CONF_UNSET_UINT;
    conf->part_headers_size = NGX_CONF_UNSET_SIZE;
    conf->max_decompressed_size = NGX_CONF_UNSET_SIZE;
    conf->max_compression_ratio = NGX_CONF_UNSET_UINT;
    conf->grpc = NGX_CONF_UNSET;
    conf->pdq_distance = NGX_CONF_UNSET_UINT;
    conf->pdq_min_quality = NGX_CONF_UNSET_UINT;
    conf->pdq_max_pixels = NGX_CONF_UNSET_SIZE;
    conf->pdq_max_total_pixels = NGX_CONF_UNSET_SIZE;
    conf->pdq_max_frames = NGX_CONF_UNSET_UINT;
    conf->pdq_max_size = NGX_CONF_UNSET_SIZE;
    conf->budget = NGX_CONF_UNSET_MSEC;
    conf->video_max_size = NGX_CONF_UNSET_SIZE;
    conf->video_budget = NGX_CONF_UNSET_MSEC;
    conf->video_max_duration = NGX_CONF_UNSET;
    conf->video_sampling = NGX_CONF_UNSET_UINT;
    conf->vpdq_pc = NGX_CONF_UNSET_UINT;
    conf->vpdq_pq = NGX_CONF_UNSET_UINT;
    conf->responses = NGX_CONF_UNSET;
    conf->response_buffer = NGX_CONF_UNSET_SIZE;
    conf->response_status = NGX_CONF_UNSET_UINT;
    ngx_str_null(&conf->response_link);
    conf->response_zone = NGX_CONF_UNSET_PTR;
#if (NGX_THREADS)
    conf->thread_pool = NGX_CONF_UNSET_PTR;
    conf->no_threads = 0;
    conf->thread_priority = NGX_CONF_UNSET_UINT;
#endif

    return conf;
}


static char *
ngx_http_upload_filter_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_upload_filter_loc_conf_t *prev = parent;
    ngx_http_upload_filter_loc_conf_t *conf = child;

    ngx_uint_t                           i;
    ngx_http_upload_filter_main_conf_t  *umcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_uint_value(conf->action, prev->action,
                              NGX_HTTP_UPLOAD_FILTER_BLOCK);
    ngx_conf_merge_ptr_value(conf->sources, prev->sources, NULL);
    ngx_conf_merge_uint_value(conf->status, prev->status,
                              NGX_HTTP_FORBIDDEN);
    ngx_conf_merge_off_value(conf->max_body_size, prev->max_body_size, 0);
    ngx_conf_merge_uint_value(conf->max_parts, prev->max_parts, 1000);
    ngx_conf_merge_size_value(conf->part_headers_size,
                              prev->part_headers_size, UF_MP_HEADER_MAX);
    ngx_conf_merge_size_value(conf->max_decompressed_size,
                              prev->max_decompressed_size,
                              64 * 1024 * 1024);
    ngx_conf_merge_uint_value(conf->max_compression_ratio,
                              prev->max_compression_ratio, 100);
    ngx_conf_merge_value(conf->grpc, prev->grpc, 0);
    for (i = 0; i < NGX_HTTP_UPLOAD_FILTER_NCASES; i++) {
        ngx_conf_merge_uint_value(conf->on_error[i], prev->on_error[i],
                                  NGX_HTTP_UPLOAD_FILTER_REJECT);
    }

    ngx_conf_merge_uint_value(conf->pdq_distance, prev->pdq_distance,
                              HDB_PDQ_DISTANCE_DEFAULT);
    ngx_conf_merge_uint_value(conf->pdq_min_quality, prev->pdq_min_quality,
                              HDB_PDQ_QUALITY_DEFAULT);
    ngx_conf_merge_size_value(conf->pdq_max_pixels, prev->pdq_max_pixels,
                              HDB_MEDIA_PIXELS_DEFAULT);
    ngx_conf_merge_size_value(conf->pdq_max_total_pixels,
                              prev->pdq_max_total_pixels,
                              HDB_MEDIA_TOTAL_PIXELS_DEFAULT);
    ngx_conf_merge_uint_value(conf->pdq_max_frames, prev->pdq_max_frames,
                              HDB_MEDIA_FRAMES_DEFAULT);
    ngx_conf_merge_size_value(conf->pdq_max_size, prev->pdq_max_size,
                              32 * 1024 * 1024);
    ngx_conf_merge_msec_value(conf->budget, prev->budget, 1000);
    ngx_conf_merge_size_value(conf->video_max_size, prev->video_max_size,
                              128 * 1024 * 1024);
    ngx_conf_merge_msec_value(conf->video_budget, prev->video_budget, 30000);
    ngx_conf_merge_sec_value(conf->video_max_duration,
                             prev->video_max_duration,
                             HDB_VIDEO_SECONDS_DEFAULT);
    ngx_conf_merge_uint_value(conf->video_sampling, prev->video_sampling,
                              HDB_VIDEO_FAST);

    if (conf->vpdq_pc == NGX_CONF_UNSET_UINT) {
        conf->vpdq_pc = prev->vpdq_pc == NGX_CONF_UNSET_UINT
                        ? HDB_VPDQ_PC_DEFAULT : prev->vpdq_pc;
        conf->vpdq_pq = prev->vpdq_pq == NGX_CONF_UNSET_UINT
                        ? HDB_VPDQ_PQ_DEFAULT : prev->vpdq_pq;
    }

    ngx_conf_merge_value(conf->responses, prev->responses, 0);
    ngx_conf_merge_size_value(conf->response_buffer, prev->response_buffer,
                              16 * 1024 * 1024);
    ngx_conf_merge_uint_value(conf->response_status, prev->response_status,
                              451);
    ngx_conf_merge_str_value(conf->response_link, prev->response_link, "");
    ngx_conf_merge_ptr_value(conf->response_zone, prev->response_zone, NULL);

#if (NGX_THREADS)
    ngx_conf_merge_uint_value(conf->thread_priority, prev->thread_priority,
                              NGX_HTTP_UPLOAD_FILTER_PRIO_BATCH);

    if (conf->thread_pool == NGX_CONF_UNSET_PTR) {
        conf->thread_pool = prev->thread_pool;
        conf->no_threads = prev->no_threads;
    }

    if (conf->thread_pool == NGX_CONF_UNSET_PTR) {
        conf->thread_pool = NULL;
    }

    if ((conf->enable || conf->responses)
        && conf->thread_pool == NULL && !conf->no_threads)
    {
        /* nginx's "default" pool, made on first use like aio threads */
        conf->thread_pool = ngx_thread_pool_add(cf, NULL);
        if (conf->thread_pool == NULL) {
            return NGX_CONF_ERROR;
        }
    }
#endif

    if (conf->enable || conf->responses) {
        umcf = ngx_http_conf_get_module_main_conf(cf,
                                                ngx_http_upload_filter_module);
        umcf->used = 1;
        umcf->responses |= conf->responses;
#if (NGX_THREADS)
        umcf->threads |= (conf->thread_pool != NULL);
#endif
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_upload_filter_db(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upload_filter_main_conf_t *umcf = conf;

    int         rc;
    hdb_t      *db;
    ngx_str_t  *value;

    if (umcf->db_path.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    umcf->db_path = value[1];

    if (ngx_conf_full_name(cf->cycle, &umcf->db_path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * Open it once here so that "nginx -t" and a reload catch a missing
     * or foreign hash set; workers open their own after fork.
     */
    rc = hdb_open(&db, (char *) umcf->db_path.data, HDB_OPEN_RDONLY);
    if (rc != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "upload_filter_db \"%V\": %s",
                           &umcf->db_path, hdb_strerror(rc));
        return NGX_CONF_ERROR;
    }

    hdb_close(db);

    return NGX_CONF_OK;
}


/* upload_filter_on_error reject|pass [case ...]: no case means all */
static char *
ngx_http_upload_filter_on_error(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_filter_loc_conf_t *ulcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i, j, action;

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "reject") == 0) {
        action = NGX_HTTP_UPLOAD_FILTER_REJECT;

    } else if (ngx_strcmp(value[1].data, "pass") == 0) {
        action = NGX_HTTP_UPLOAD_FILTER_PASS;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\", it must be \"reject\" or "
                           "\"pass\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 2) {
        for (j = 0; j < NGX_HTTP_UPLOAD_FILTER_NCASES; j++) {
            ulcf->on_error[j] = action;
        }

        return NGX_CONF_OK;
    }

    for (i = 2; i < cf->args->nelts; i++) {
        for (j = 0; j < NGX_HTTP_UPLOAD_FILTER_NCASES; j++) {
            if (value[i].len == ngx_http_upload_filter_cases[j].name.len
                && ngx_strcmp(value[i].data,
                              ngx_http_upload_filter_cases[j].name.data) == 0)
            {
                ulcf->on_error[j] = action;
                break;
            }
        }

        if (j == NGX_HTTP_UPLOAD_FILTER_NCASES) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown case \"%V\": use unavailable, "
                               "too_large, too_many_parts, malformed, "
                               "internal, unhashable or timeout", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* upload_filter on|off, remembering where it was first turned on */
/*
 * upload_filter_sources NAME... | all: the sources whose entries match in
 * the location (a new list in log-only mode for some tenants first is a
 * policy: hashdb policy).  A name the set does not hold matches nothing.
 */
static char *
ngx_http_upload_filter_sources(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_filter_loc_conf_t *ulcf = conf;

    ngx_str_t    *value;
    ngx_uint_t    i;
    const char  **name;

    if (ulcf->sources != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "all") == 0) {
        ulcf->sources = NULL;
        return NGX_CONF_OK;
    }

    ulcf->sources = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                     sizeof(const char *));
    if (ulcf->sources == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        /* the parser ends each argument with a NUL */
        if (!hdb_valid_name((char *) value[i].data)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid source name \"%V\" (1-%d letters, "
                               "digits, '.', '_', '-')", &value[i],
                               HDB_SOURCE_MAX);
            return NGX_CONF_ERROR;
        }

        if (ngx_strcmp(value[i].data, "all") == 0) {
            return "takes \"all\" alone";
        }

        name = ngx_array_push(ulcf->sources);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        *name = (const char *) value[i].data;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_upload_filter_enable(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                                *rv;
    ngx_http_upload_filter_loc_conf_t   *ulcf = conf;
    ngx_http_upload_filter_main_conf_t  *umcf;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);

    if (rv == NGX_CONF_OK && *(ngx_flag_t *) ((char *) ulcf + cmd->offset)) {
        umcf = ngx_http_conf_get_module_main_conf(cf,
                                                ngx_http_upload_filter_module);

        if (umcf->on_file.len == 0) {
            umcf->on_file = cf->conf_file->file.name;
            umcf->on_line = cf->conf_file->line;
            umcf->on_name = cmd->name;
        }
    }

    return rv;
}


/*
 * An enum directive: as ngx_conf_set_enum_slot(), but an unknown value
 * is answered with the directive's name and the values it takes.
 */
static char *
ngx_http_upload_filter_set_enum(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    u_char           *p, *last, buf[256];
    ngx_str_t        *value;
    ngx_uint_t       *np;
    ngx_conf_enum_t  *e;

    np = (ngx_uint_t *) ((char *) conf + cmd->offset);

    if (*np != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (e = cmd->post; e->name.len; e++) {
        if (e->name.len == value[1].len
            && ngx_strcasecmp(e->name.data, value[1].data) == 0)
        {
            *np = e->value;
            return NGX_CONF_OK;
        }
    }

    p = buf;
    last = buf + sizeof(buf);

    for (e = cmd->post; e->name.len; e++) {
        p = ngx_slprintf(p, last, "%s\"%V\"",
                         e == cmd->post ? "" : e[1].name.len ? ", " : " or ",
                         &e->name);
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" takes %*s, not \"%V\"", &cmd->name,
                       p - buf, buf, &value[1]);

    return NGX_CONF_ERROR;
}


/* a number's bounds, said with the value given */
static char *
ngx_http_upload_filter_check_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t               *value;
    ngx_int_t               *np = data;
    ngx_conf_num_bounds_t   *bounds = post;

    if (*np >= bounds->low && *np <= bounds->high) {
        return NGX_CONF_OK;
    }

    value = cf->args->elts;

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" takes %i to %i, not %i", &value[0],
                       bounds->low, bounds->high, *np);

    return NGX_CONF_ERROR;
}


/* upload_filter_vpdq_match PC PQ: the percentages of vPDQ's rule */
static char *
ngx_http_upload_filter_vpdq_match(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_filter_loc_conf_t *ulcf = conf;

    ngx_int_t    n[2];
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (ulcf->vpdq_pc != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 0; i < 2; i++) {
        n[i] = ngx_atoi(value[i + 1].data, value[i + 1].len);

        if (n[i] == NGX_ERROR || n[i] > 100) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\": a percentage from 0 to 100",
                               &value[i + 1]);
            return NGX_CONF_ERROR;
        }
    }

    if (n[0] == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "a listed video's share must be over 0%%: "
                           "any video would match");
        return NGX_CONF_ERROR;
    }

    ulcf->vpdq_pc = (ngx_uint_t) n[0];
    ulcf->vpdq_pq = (ngx_uint_t) n[1];

    return NGX_CONF_OK;
}


#if (NGX_THREADS)

/*
 * upload_filter_thread_pool NAME | off: where images are decoded and
 * hashed; "off" hashes them in the event loop
 */
static char *
ngx_http_upload_filter_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_filter_loc_conf_t *ulcf = conf;

    ngx_str_t  *value;

    if (ulcf->thread_pool != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ulcf->thread_pool = NULL;
        ulcf->no_threads = 1;
        return NGX_CONF_OK;
    }

    ulcf->thread_pool = ngx_thread_pool_add(cf, &value[1]);
    if (ulcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}

#endif


static ngx_int_t
ngx_http_upload_filter_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt                 *h;
    ngx_http_core_main_conf_t           *cmcf;
    ngx_http_upload_filter_main_conf_t  *umcf;

    umcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_upload_filter_module);

    /* the counters: every configuration has them, used or not */
    if (ngx_http_upload_filter_metrics_zone_add(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!umcf->used) {
        return NGX_OK;
    }

    if (umcf->db_path.data == NULL) {
        /* where it is on, not where the configuration happens to end */
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%V on\" in %V:%ui needs the hash set: "
                      "\"upload_filter_db PATH;\" in the http block",
                      &umcf->on_name, &umcf->on_file, umcf->on_line);
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_upload_filter_handler;

    if (ngx_http_upload_filter_handlers_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_upload_filter_body_filter_init();

    return NGX_OK;
}


static ngx_int_t
ngx_http_upload_filter_init_module(ngx_cycle_t *cycle)
{
    ngx_http_upload_filter_main_conf_t  *umcf;

    umcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_upload_filter_module);

    if (umcf == NULL || !umcf->used) {
        return NGX_OK;
    }

    return ngx_http_upload_filter_resident_init_module(cycle, umcf);
}


static ngx_int_t
ngx_http_upload_filter_init_process(ngx_cycle_t *cycle)
{
    int                                  rc;
    ngx_http_upload_filter_main_conf_t  *umcf;

    umcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_upload_filter_module);

    if (umcf == NULL || !umcf->used) {
        return NGX_OK;
    }

    ngx_http_upload_filter_worker = umcf;

#if (NGX_THREADS && defined M_ARENA_MAX)
    if (umcf->threads) {
        /*
         * glibc gives each new thread a malloc arena of its own, so the
         * first image a pool thread hashes faults in fresh pages for its
         * buffers (8 ms more for a 0.3 MP image here), and with the 32
         * threads of nginx's default pool most uploads met a cold
         * thread.  Pool threads that share one arena keep it warm.
         * nginx's own thread tasks (aio reads and writes) do not
         * allocate, so nothing else sees the change.
         */
        if (mallopt(M_ARENA_MAX, 2) != 1) {
            ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                          "upload_filter: mallopt(M_ARENA_MAX) failed");
        }
    }
#endif

    /*
     * A hash set that cannot be opened does not stop the worker: every
     * inspected upload then gets the upload_filter_on_error policy.
     */
    rc = ngx_http_upload_filter_open_set(umcf, cycle->log);
    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "upload_filter: cannot open hash set \"%V\": %s",
                      &umcf->db_path, hdb_strerror(rc));
    }

    ngx_http_upload_filter_resident_start(cycle, umcf);
    ngx_http_upload_filter_watch_start(cycle, umcf);

    return NGX_OK;
}


static void
ngx_http_upload_filter_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_upload_filter_main_conf_t  *umcf;

    umcf = ngx_http_upload_filter_worker;

    if (umcf == NULL) {
        return;
    }

    ngx_http_upload_filter_objects_exit();

    ngx_http_upload_filter_resident_stop();
    ngx_http_upload_filter_watch_stop();

    hdb_reader_free(umcf->reader);
    ngx_http_upload_filter_set_retire(umcf->set, 1);

    umcf->reader = NULL;
    umcf->db = NULL;
    umcf->set = NULL;
}


/*
 * Opens the hash set with the event loop's reader: umcf->set, db and
 * reader, which the caller has retired and freed, or never had.  0 or
 * the error (nothing opened).
 *
 * No readahead: a lookup needs a few pages, and a page fault on a set
 * the host has paged out would otherwise read megabytes around it
 * (8 MiB here): p99 after a page-out 5.0 to 6.0 ms with it, 0.6 to
 * 2.4 ms without (bench/cold_set.sh).  HDB_OPEN_THREADS: pool threads
 * read it too.
 */
int
ngx_http_upload_filter_open_set(ngx_http_upload_filter_main_conf_t *umcf,
    ngx_log_t *log)
{
    int                            rc;
    hdb_t                         *db;
    hdb_reader_t                  *rd;
    ngx_http_upload_filter_set_t  *set;

    rc = hdb_open(&db, (char *) umcf->db_path.data,
                  HDB_OPEN_RDONLY | HDB_OPEN_NORDAHEAD | HDB_OPEN_THREADS);
    if (rc != 0) {
        return rc;
    }

    rc = hdb_reader_new(db, &rd);
    if (rc != 0) {
        hdb_close(db);
        return rc;
    }

    set = ngx_http_upload_filter_set_new(db, log);
    if (set == NULL) {
        hdb_reader_free(rd);
        hdb_close(db);
        return ENOMEM;
    }

    umcf->set = set;
    umcf->db = db;
    umcf->reader = rd;

    if (umcf->threads && !hdb_map_reserved(db)) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "upload_filter: hash set \"%V\" mapped at its size, "
                      "without room to grow (the address space is "
                      "limited): its lookups stay in the event loop",
                      &umcf->db_path);
    }

    return 0;
}
