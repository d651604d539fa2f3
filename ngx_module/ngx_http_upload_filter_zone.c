
/*
 * The verdict zone (upload_filter_zone, upload_filter_response_zone):
 * what the response side judged, remembered across requests and
 * workers, in the shape of nginx's limit_req zone (a red-black tree by
 * the key's CRC32, an LRU queue, the slab allocator; the least recently
 * used entries go when it is full).
 *
 * An entry is one object: its key (key=, default $scheme$host$uri), its
 * validators (ETag, Last-Modified, length: an object that changed is
 * another object), whether it was listed, and what was hashed of it (the
 * digests and PDQ frames of every object the inspection found in it).
 * The hash set's version at the verdict (hdb_reader_version()) says
 * whether the verdict still holds:
 *
 *   clean, same version      passed on, not held, read or hashed
 *   clean, the set changed   its kept hashes are looked up again (no
 *                            byte of the object is read), then the
 *                            response passes or is refused
 *   listed                   its kept hashes are looked up again, so
 *                            that the log line, the variables, the
 *                            action and the allow list are as for a
 *                            fresh match; the request (HEAD and Range
 *                            too) is refused before a byte is sent
 *
 * An entry whose kept hashes cannot answer for the set of now (the set
 * now asks for a digest type or PDQ that was not computed, or the
 * inspection stopped at a match that is no longer listed) is forgotten
 * and the object inspected again.  Objects without validators (no ETag,
 * no Last-Modified) are never remembered: their URL may serve anything.
 */

#include "ngx_http_upload_filter.h"


/* frames kept as all eight variants (images) or as is (video frames) */
#define NGX_HTTP_UPLOAD_FILTER_KEPT_MAX  (256 * 1024)
#define NGX_HTTP_UPLOAD_FILTER_ETAG_MAX  512

/* entries let go, at most, to make room for one */
#define NGX_HTTP_UPLOAD_FILTER_EVICT     64


typedef struct {
    ngx_rbtree_t                        rbtree;
    ngx_rbtree_node_t                   sentinel;
    ngx_queue_t                         queue;      /* most recent first */
    ngx_uint_t                          entries;
    ngx_uint_t                          listed;
} ngx_http_upload_filter_zone_sh_t;


typedef struct {
    ngx_http_upload_filter_zone_sh_t   *sh;
    ngx_slab_pool_t                    *shpool;
    ngx_http_complex_value_t            key;
} ngx_http_upload_filter_zone_ctx_t;


typedef struct {
    ngx_rbtree_node_t                   node;       /* key: CRC32 */
    ngx_queue_t                         queue;
    uint64_t                            version;    /* of the set */
    time_t                              since;      /* judged, listed */
    off_t                               length;     /* -1: unknown */
    time_t                              last_modified;
    ngx_uint_t                          refused;
    uint32_t                            plan;       /* what it answers for */
    uint32_t                            kept_len;
    u_short                             key_len;
    u_short                             etag_len;
    u_short                             facts_len;
    u_char                              listed;
    u_char                              partial;    /* stopped at a match */
    u_char                              data[1];    /* key, etag, facts,
                                                       kept */
} ngx_http_upload_filter_zone_node_t;


/* what the zone knew of a response's object, copied into r->pool */
struct ngx_http_upload_filter_known_s {
    ngx_http_upload_filter_zone_ctx_t  *zone;
    ngx_str_t                           key;
    ngx_str_t                           etag;
    uint32_t                            hash;
    time_t                              last_modified;
    off_t                               length;
    uint64_t                            now;        /* the set, at find */
    unsigned                            plan_now;   /* what it asks for */

    /* the entry, when there was one */
    unsigned                            plan;
    u_char                             *kept;
    size_t                              kept_len;
    unsigned                            partial:1;
    unsigned                            rejudged:1;
};


static ngx_int_t ngx_http_upload_filter_zone_init(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_upload_filter_zone_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_upload_filter_zone_node_t *ngx_http_upload_filter_zone_lookup(
    ngx_http_upload_filter_zone_ctx_t *z, ngx_str_t *key, uint32_t hash);
static void ngx_http_upload_filter_zone_delete(
    ngx_http_upload_filter_zone_ctx_t *z,
    ngx_http_upload_filter_zone_node_t *zn);
static ngx_uint_t ngx_http_upload_filter_zone_same(
    ngx_http_upload_filter_zone_node_t *zn,
    ngx_http_upload_filter_known_t *k);
static ngx_int_t ngx_http_upload_filter_zone_snapshot(uint64_t *v,
    unsigned *plan);
static ngx_int_t ngx_http_upload_filter_zone_keep(
    ngx_http_upload_filter_ctx_t *ctx, ngx_str_t *kept);
static ngx_int_t ngx_http_upload_filter_zone_facts(
    ngx_http_upload_filter_ctx_t *ctx, ngx_str_t *facts);
static ngx_int_t ngx_http_upload_filter_blocked_handler(
    ngx_http_request_t *r);


/* the zone's key of a response, escaped for a log line */
u_char *
ngx_http_upload_filter_known_key(ngx_http_request_t *r,
    ngx_http_upload_filter_known_t *k)
{
    return ngx_http_upload_filter_escape(r->pool, k->key.data, k->key.len);
}


/*
 * upload_filter_zone NAME SIZE [key=STRING]
 */
char *
ngx_http_upload_filter_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ssize_t                             size;
    ngx_str_t                          *value, key;
    ngx_uint_t                          i;
    ngx_shm_zone_t                     *shm_zone;
    ngx_http_compile_complex_value_t    ccv;
    ngx_http_upload_filter_zone_ctx_t  *z;

    value = cf->args->elts;

    size = ngx_parse_size(&value[2]);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small", &value[1]);
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&key, "$scheme$host$uri");

    for (i = 3; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "key=", 4) == 0
            && value[i].len > 4)
        {
            key.data = value[i].data + 4;
            key.len = value[i].len - 4;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    z = ngx_pcalloc(cf->pool, sizeof(ngx_http_upload_filter_zone_ctx_t));
    if (z == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &key;
    ccv.complex_value = &z->key;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &value[1], size,
                                     &ngx_http_upload_filter_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already defined", &value[1]);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_upload_filter_zone_init;
    shm_zone->data = z;

    return NGX_CONF_OK;
}


/* upload_filter_response_zone NAME | off */
char *
ngx_http_upload_filter_response_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_upload_filter_loc_conf_t *ulcf = conf;

    ngx_str_t  *value;

    if (ulcf->response_zone != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ulcf->response_zone = NULL;
        return NGX_CONF_OK;
    }

    /* size 0: defined by upload_filter_zone, before or after */
    ulcf->response_zone = ngx_shared_memory_add(cf, &value[1], 0,
                                              &ngx_http_upload_filter_module);
    if (ulcf->response_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_upload_filter_zone_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_upload_filter_zone_ctx_t  *oz = data;

    size_t                              len;
    ngx_http_upload_filter_zone_ctx_t  *z;

    z = shm_zone->data;

    if (z == NULL) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "upload_filter_response_zone \"%V\" has no "
                      "upload_filter_zone", &shm_zone->shm.name);
        return NGX_ERROR;
    }

    if (oz) {
        /* a reload: the verdicts stay, unless the key means another URL */
        if (z->key.value.len != oz->key.value.len
            || ngx_strncmp(z->key.value.data, oz->key.value.data,
                           z->key.value.len) != 0)
        {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "upload_filter_zone \"%V\" uses the \"%V\" key "
                          "while previously it used the \"%V\" key",
                          &shm_zone->shm.name, &z->key.value,
                          &oz->key.value);
            return NGX_ERROR;
        }

        z->sh = oz->sh;
        z->shpool = oz->shpool;
        return NGX_OK;
    }

    z->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        z->sh = z->shpool->data;
        return NGX_OK;
    }

    z->sh = ngx_slab_alloc(z->shpool,
                           sizeof(ngx_http_upload_filter_zone_sh_t));
    if (z->sh == NULL) {
        return NGX_ERROR;
    }

    z->shpool->data = z->sh;

    ngx_rbtree_init(&z->sh->rbtree, &z->sh->sentinel,
                    ngx_http_upload_filter_zone_insert);
    ngx_queue_init(&z->sh->queue);

    len = sizeof(" in upload_filter_zone \"\"") + shm_zone->shm.name.len;

    z->shpool->log_ctx = ngx_slab_alloc(z->shpool, len);
    if (z->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(z->shpool->log_ctx, " in upload_filter_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is the normal case: the oldest entries make room */
    z->shpool->log_nomem = 0;

    return NGX_OK;
}


static void
ngx_http_upload_filter_zone_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t                  **p;
    ngx_http_upload_filter_zone_node_t  *zn, *znt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            zn = (ngx_http_upload_filter_zone_node_t *) node;
            znt = (ngx_http_upload_filter_zone_node_t *) temp;

            p = (ngx_memn2cmp(zn->data, znt->data, zn->key_len,
                              znt->key_len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_http_upload_filter_zone_node_t *
ngx_http_upload_filter_zone_lookup(ngx_http_upload_filter_zone_ctx_t *z,
    ngx_str_t *key, uint32_t hash)
{
    ngx_int_t                            rc;
    ngx_rbtree_node_t                   *node, *sentinel;
    ngx_http_upload_filter_zone_node_t  *zn;

    node = z->sh->rbtree.root;
    sentinel = z->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        zn = (ngx_http_upload_filter_zone_node_t *) node;

        rc = ngx_memn2cmp(key->data, zn->data, key->len, zn->key_len);

        if (rc == 0) {
            return zn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_upload_filter_zone_delete(ngx_http_upload_filter_zone_ctx_t *z,
    ngx_http_upload_filter_zone_node_t *zn)
{
    ngx_queue_remove(&zn->queue);
    ngx_rbtree_delete(&z->sh->rbtree, &zn->node);

    z->sh->entries--;
    if (zn->listed) {
        z->sh->listed--;
    }

    ngx_slab_free_locked(z->shpool, zn);
}


/* the same object: its validators are those the entry was judged with */
static ngx_uint_t
ngx_http_upload_filter_zone_same(ngx_http_upload_filter_zone_node_t *zn,
    ngx_http_upload_filter_known_t *k)
{
    if (zn->last_modified != k->last_modified
        || zn->etag_len != k->etag.len
        || (k->etag.len
            && ngx_memcmp(zn->data + zn->key_len, k->etag.data, k->etag.len)
               != 0))
    {
        return 0;
    }

    /* a chunked response says no length: the validators answer for it */
    return zn->length == k->length || zn->length == -1 || k->length == -1;
}


/* the set of now: its version, and the hashes it asks for (one snapshot) */
static ngx_int_t
ngx_http_upload_filter_zone_snapshot(uint64_t *v, unsigned *plan)
{
    int                                  rc;
    ngx_http_upload_filter_main_conf_t  *umcf;

    umcf = ngx_http_upload_filter_worker;

    if (umcf == NULL || umcf->reader == NULL) {
        return NGX_ERROR;
    }

    rc = hdb_reader_begin(umcf->reader);
    if (rc != 0) {
        return NGX_ERROR;
    }

    *v = hdb_reader_version(umcf->reader);
    rc = hdb_reader_plan(umcf->reader, plan);
    hdb_reader_end(umcf->reader);

    return rc == 0 ? NGX_OK : NGX_ERROR;
}


/*
 * What the zone knows of this response's object, into ctx->known:
 * NGX_OK  known clean under the set of now: pass it on as it is;
 * NGX_AGAIN  known: its kept hashes are to be judged again
 *            (ngx_http_upload_filter_zone_rejudge());
 * NGX_DECLINED  not known: inspect it (ctx->known set when the verdict
 *            is to be remembered, NULL when the object cannot be:
 *            no zone, no validators);
 * NGX_ERROR  no memory.
 */
ngx_int_t
ngx_http_upload_filter_zone_find(ngx_http_upload_filter_ctx_t *ctx)
{
    ngx_str_t                            key;
    ngx_http_request_t                  *r;
    ngx_http_upload_filter_known_t      *k;
    ngx_http_upload_filter_zone_ctx_t   *z;
    ngx_http_upload_filter_zone_node_t  *zn;

    r = ctx->request;
    ctx->known = NULL;

    if (ctx->conf->response_zone == NULL) {
        return NGX_DECLINED;
    }

    z = ctx->conf->response_zone->data;

    if (r->headers_out.etag == NULL
        && r->headers_out.last_modified_time == -1)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "upload filter zone: no validators");
        return NGX_DECLINED;
    }

    if (ngx_http_complex_value(r, &z->key, &key) != NGX_OK) {
        return NGX_ERROR;
    }

    if (key.len == 0 || key.len > 65535
        || (r->headers_out.etag
            && r->headers_out.etag->value.len
               > NGX_HTTP_UPLOAD_FILTER_ETAG_MAX))
    {
        return NGX_DECLINED;
    }

    k = ngx_pcalloc(r->pool, sizeof(ngx_http_upload_filter_known_t));
    if (k == NULL) {
        return NGX_ERROR;
    }

    k->zone = z;
    k->key = key;
    k->hash = ngx_crc32_short(key.data, key.len);
    k->last_modified = r->headers_out.last_modified_time;
    k->length = r->headers_out.content_length_n;

    if (r->headers_out.etag) {
        k->etag = r->headers_out.etag->value;
    }

    if (ngx_http_upload_filter_zone_snapshot(&k->now, &k->plan_now)
        != NGX_OK)
    {
        /* the set cannot be read: the inspection says so */
        return NGX_DECLINED;
    }

    ctx->known = k;

    ngx_shmtx_lock(&z->shpool->mutex);

    zn = ngx_http_upload_filter_zone_lookup(z, &key, k->hash);

    if (zn && !ngx_http_upload_filter_zone_same(zn, k)) {
        /* the object changed: what was known of it is of no use */
        ngx_http_upload_filter_zone_delete(z, zn);
        zn = NULL;
    }

    if (zn == NULL) {
        ngx_shmtx_unlock(&z->shpool->mutex);
        return NGX_DECLINED;
    }

    ngx_queue_remove(&zn->queue);
    ngx_queue_insert_head(&z->sh->queue, &zn->queue);

    k->plan = zn->plan;
    k->partial = zn->partial;
    k->kept_len = zn->kept_len;

    if (!zn->listed && zn->version == k->now) {
        ngx_shmtx_unlock(&z->shpool->mutex);
        return NGX_OK;
    }

    k->kept = ngx_pnalloc(r->pool, ngx_max(zn->kept_len, 1));
    if (k->kept == NULL) {
        ngx_shmtx_unlock(&z->shpool->mutex);
        return NGX_ERROR;
    }

    if (zn->kept_len) {
        ngx_memcpy(k->kept, zn->data + zn->key_len + zn->etag_len
                            + zn->facts_len, zn->kept_len);
    }

    ngx_shmtx_unlock(&z->shpool->mutex);

    return NGX_AGAIN;
}


/* the kept hashes are read back in the order the zone wrote them */
#define ngx_http_upload_filter_get(p, last, v)                               \
    if ((size_t) ((last) - (p)) < sizeof(v)) { goto corrupt; }               \
    ngx_memcpy(&(v), p, sizeof(v)); (p) += sizeof(v)

#define ngx_http_upload_filter_put(p, v)                                     \
    (p) = ngx_cpymem(p, &(v), sizeof(v))


/*
 * The kept hashes of a known object judged against the set of now,
 * through the same lookups, log lines and variables as a fresh
 * inspection.  NGX_OK: the verdict is in ctx (clean, a match, or a
 * failure with its policy); NGX_DECLINED: they cannot answer for the set
 * of now, the object is to be inspected (ctx as new); NGX_ERROR.
 */
ngx_int_t
ngx_http_upload_filter_zone_rejudge(ngx_http_upload_filter_ctx_t *ctx)
{
    u_char                              *p, *last, where[40];
    int32_t                              media, quality;
    uint32_t                             len, types, total, nframes, nv;
    uint32_t                             index;
    int64_t                              size;
    double                               time;
    ngx_uint_t                           t, f, v;
    hdb_digests_t                        dg;
    hdb_media_frame_t                   *frames;
    ngx_http_request_t                  *r;
    ngx_http_upload_filter_site_t        site;
    ngx_http_upload_filter_known_t      *k;
    ngx_http_upload_filter_image_t      *images, **next, *j;

    r = ctx->request;
    k = ctx->known;

    ctx->state = NGX_HTTP_UPLOAD_FILTER_INSPECTING;
    ctx->rejudging = 1;

    images = NULL;
    next = &images;

    p = k->kept;
    last = k->kept + k->kept_len;

    while (p < last && ctx->state == NGX_HTTP_UPLOAD_FILTER_INSPECTING) {

        ngx_http_upload_filter_get(p, last, len);

        if (len >= sizeof(where) || (size_t) (last - p) < len) {
            goto corrupt;
        }

        ngx_memcpy(where, p, len);
        where[len] = '\0';
        p += len;

        ngx_http_upload_filter_get(p, last, size);
        ngx_http_upload_filter_get(p, last, types);

        ngx_memzero(&dg, sizeof(hdb_digests_t));
        dg.types = types & HDB_DIGEST_TYPES;

        for (t = 0; t < HDB_NDIGESTS; t++) {
            if (!(dg.types & HDB_TYPE_BIT(t))) {
                continue;
            }

            if ((size_t) (last - p) < hdb_type_size(t)) {
                goto corrupt;
            }

            ngx_memcpy(dg.md[t], p, hdb_type_size(t));
            p += hdb_type_size(t);
        }

        ngx_http_upload_filter_get(p, last, media);
        ngx_http_upload_filter_get(p, last, total);
        ngx_http_upload_filter_get(p, last, nframes);
        ngx_http_upload_filter_get(p, last, nv);

        if (nv == 0 || nv > HDB_PDQ_VARIANTS
            || nframes > NGX_HTTP_UPLOAD_FILTER_KEPT_MAX / HDB_PDQ_SIZE)
        {
            goto corrupt;
        }

        ngx_memzero(&site, sizeof(ngx_http_upload_filter_site_t));
        site.where = ngx_pnalloc(r->pool, len + 1);
        site.name = (u_char *) "";
        site.filename = (u_char *) "";
        site.size = (off_t) size;
        site.decoded = (u_char *) "";
        site.frame = -1;
        site.time = -1;

        if (site.where == NULL) {
            goto failed;
        }

        ngx_memcpy((u_char *) site.where, where, len + 1);

        if (ngx_http_upload_filter_digests_check(ctx, &dg, &site)
            != NGX_OK)
        {
            break;
        }

        if (nframes == 0) {
            continue;
        }

        frames = ngx_pcalloc(r->pool, nframes * sizeof(hdb_media_frame_t));
        j = ngx_pcalloc(r->pool, sizeof(ngx_http_upload_filter_image_t));
        if (frames == NULL || j == NULL) {
            goto failed;
        }

        for (f = 0; f < nframes; f++) {
            ngx_http_upload_filter_get(p, last, quality);
            ngx_http_upload_filter_get(p, last, index);
            ngx_http_upload_filter_get(p, last, time);

            frames[f].quality = quality;
            frames[f].index = index;
            frames[f].time = time;

            for (v = 0; v < nv; v++) {
                if ((size_t) (last - p) < HDB_PDQ_SIZE) {
                    goto corrupt;
                }

                ngx_memcpy(frames[f].variants[v], p, HDB_PDQ_SIZE);
                p += HDB_PDQ_SIZE;
            }
        }

        j->rc = HDB_MEDIA_OK;
        j->media.type = media;
        j->media.nframes = nframes;
        j->media.nalloc = nframes;
        j->media.total = total;
        j->media.frames = frames;
        j->where = (u_char *) site.where;
        j->name = (u_char *) "";
        j->filename = (u_char *) "";
        j->decoded = (u_char *) "";
        j->len = (size_t) size;
        j->ledger = NGX_MAX_UINT32_VALUE;

        *next = j;
        next = &j->next;
    }

    if (images && ctx->state == NGX_HTTP_UPLOAD_FILTER_INSPECTING) {
        ngx_http_upload_filter_pdq_judge(ctx, images);

        /* the frames are r->pool's: nothing for image_free() */
        for (j = images; j; j = j->next) {
            j->media.frames = NULL;
            j->media.nframes = 0;
        }
    }

    ctx->rejudging = 0;

    if (ctx->state == NGX_HTTP_UPLOAD_FILTER_INSPECTING) {
        ctx->state = NGX_HTTP_UPLOAD_FILTER_INSPECTED;
    }

    if (ctx->result == NGX_HTTP_UPLOAD_FILTER_NONE) {
        ctx->result = NGX_HTTP_UPLOAD_FILTER_CLEAN;
    }

    if (ctx->result == NGX_HTTP_UPLOAD_FILTER_CLEAN
        && (k->partial || (k->plan_now & ~k->plan)))
    {
        /* no longer listed, but never inspected whole; or a new kind */
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "upload filter zone: kept hashes answer for %xd, "
                       "the set asks for %xd", k->plan, k->plan_now);
        goto again;
    }

    if (ctx->result != NGX_HTTP_UPLOAD_FILTER_ERROR) {
        k->rejudged = 1;
        ngx_http_upload_filter_zone_store(ctx);
    }

    return NGX_OK;

corrupt:

    ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                  "upload_filter: a corrupt entry in the verdict zone");

again:

    ctx->rejudging = 0;
    ctx->state = NGX_HTTP_UPLOAD_FILTER_NEW;
    ctx->result = NGX_HTTP_UPLOAD_FILTER_NONE;

    return NGX_DECLINED;

failed:

    ctx->rejudging = 0;
    return NGX_ERROR;
}


/*
 * The object's hashes, as ngx_http_upload_filter_zone_rejudge() reads
 * them: per object its place, size, digests, and frames (all eight
 * variants of an image's, a video frame's as is).
 */
static ngx_int_t
ngx_http_upload_filter_zone_keep(ngx_http_upload_filter_ctx_t *ctx,
    ngx_str_t *kept)
{
    u_char                         *p;
    size_t                          len, frame;
    int32_t                         media, quality;
    uint32_t                        wlen, types, total, nframes, nv, index;
    int64_t                         size;
    ngx_uint_t                      i, t, f, v;
    ngx_http_upload_filter_kept_t   o;

    len = 0;

    for (i = 0; ngx_http_upload_filter_ledger_get(ctx, i, &o) == NGX_OK;
         i++)
    {
        nv = hdb_media_is_video(o.media) ? 1 : HDB_PDQ_VARIANTS;
        frame = sizeof(int32_t) + sizeof(uint32_t) + sizeof(double)
                + nv * HDB_PDQ_SIZE;

        len += sizeof(uint32_t) + ngx_min(ngx_strlen(o.where), 39)
               + sizeof(int64_t) + 5 * sizeof(uint32_t)
               + HDB_NDIGESTS * HDB_DIGEST_MAX + o.nframes * frame;
    }

    if (len > NGX_HTTP_UPLOAD_FILTER_KEPT_MAX) {
        return NGX_DECLINED;
    }

    kept->data = ngx_pnalloc(ctx->request->pool, ngx_max(len, 1));
    if (kept->data == NULL) {
        return NGX_ERROR;
    }

    p = kept->data;

    for (i = 0; ngx_http_upload_filter_ledger_get(ctx, i, &o) == NGX_OK;
         i++)
    {
        wlen = ngx_min(ngx_strlen(o.where), 39);
        ngx_http_upload_filter_put(p, wlen);
        p = ngx_cpymem(p, o.where, wlen);

        size = o.size;
        types = o.types & HDB_DIGEST_TYPES;
        ngx_http_upload_filter_put(p, size);
        ngx_http_upload_filter_put(p, types);

        for (t = 0; t < HDB_NDIGESTS; t++) {
            if (types & HDB_TYPE_BIT(t)) {
                p = ngx_cpymem(p, o.md[t], hdb_type_size(t));
            }
        }

        media = o.media;
        total = o.total;
        nframes = (uint32_t) o.nframes;
        nv = hdb_media_is_video(o.media) ? 1 : HDB_PDQ_VARIANTS;

        ngx_http_upload_filter_put(p, media);
        ngx_http_upload_filter_put(p, total);
        ngx_http_upload_filter_put(p, nframes);
        ngx_http_upload_filter_put(p, nv);

        for (f = 0; f < o.nframes; f++) {
            quality = o.frames[f].quality;
            index = o.frames[f].index;
            ngx_http_upload_filter_put(p, quality);
            ngx_http_upload_filter_put(p, index);
            ngx_http_upload_filter_put(p, o.frames[f].time);

            for (v = 0; v < nv; v++) {
                p = ngx_cpymem(p, o.frames[f].variants[v], HDB_PDQ_SIZE);
            }
        }
    }

    kept->len = p - kept->data;

    return NGX_OK;
}


/* a listed object, for the listing: a JSON object's members */
static ngx_int_t
ngx_http_upload_filter_zone_facts(ngx_http_upload_filter_ctx_t *ctx,
    ngx_str_t *facts)
{
    u_char              *p;
    size_t               len;
    ngx_uint_t           i;
    ngx_str_t            url, v[8];
    ngx_http_request_t  *r;

    static const char  *names[] = {
        "url", "type", "match", "source", "category", "entry", "distance",
        "video"
    };

    r = ctx->request;

    if (ngx_http_upload_filter_response_url(r, &url) != NGX_OK) {
        return NGX_ERROR;
    }

    v[0] = url;
    v[1] = r->headers_out.content_type;
    v[2] = ctx->match;
    v[3] = ctx->source;
    v[4] = ctx->category;
    v[5] = ctx->entry;
    v[6] = ctx->distance;
    v[7] = ctx->video;

    len = 0;
    for (i = 0; i < 8; i++) {
        len += sizeof(",\"\":\"\"") + ngx_strlen(names[i])
               + v[i].len + ngx_escape_json(NULL, v[i].data, v[i].len);
    }

    facts->data = ngx_pnalloc(r->pool, len);
    if (facts->data == NULL) {
        return NGX_ERROR;
    }

    p = facts->data;

    for (i = 0; i < 8; i++) {
        if (v[i].len == 0) {
            continue;
        }

        p = ngx_sprintf(p, ",\"%s\":\"", names[i]);
        p = (u_char *) ngx_escape_json(p, v[i].data, v[i].len);
        *p++ = '"';
    }

    facts->len = ngx_min((size_t) (p - facts->data), 65535);

    return NGX_OK;
}


/*
 * The verdict reached on this response's object remembered: after an
 * inspection of its body, or after its kept hashes were judged again.
 * A failure is not a verdict: the entry is forgotten.
 */
void
ngx_http_upload_filter_zone_store(ngx_http_upload_filter_ctx_t *ctx)
{
    u_char                              *p;
    size_t                               n;
    unsigned                             plan;
    ngx_str_t                            kept, facts;
    ngx_uint_t                           listed, refused;
    ngx_uint_t                           i;
    ngx_queue_t                         *q;
    ngx_http_request_t                  *r;
    ngx_http_upload_filter_known_t      *k;
    ngx_http_upload_filter_zone_ctx_t   *z;
    ngx_http_upload_filter_zone_node_t  *zn, *old;

    r = ctx->request;
    k = ctx->known;

    if (k == NULL) {
        return;
    }

    z = k->zone;
    ngx_str_null(&facts);

    /* a shadow update's match is logged at every request, as a listed */
    listed = (ctx->result == NGX_HTTP_UPLOAD_FILTER_MATCH
              || ctx->result == NGX_HTTP_UPLOAD_FILTER_ALLOWED
              || ctx->result == NGX_HTTP_UPLOAD_FILTER_SHADOW);

    if (ctx->result != NGX_HTTP_UPLOAD_FILTER_CLEAN && !listed) {
        kept.len = 0;
        goto forget;
    }

    if (k->rejudged) {
        kept.data = k->kept;
        kept.len = k->kept_len;
        plan = k->plan;

    } else {
        if (!ctx->keep_frames
            || ngx_http_upload_filter_zone_keep(ctx, &kept) != NGX_OK)
        {
            kept.len = 0;
            goto forget;
        }

        /* a streamed object gets no PDQ: that is its verdict's kind */
        plan = ctx->digest_types
               | ((ctx->pdq || ctx->streamed) ? HDB_TYPE_BIT(HDB_PDQ) : 0);
    }

    if (listed && ngx_http_upload_filter_zone_facts(ctx, &facts) != NGX_OK) {
        kept.len = 0;
        goto forget;
    }

    refused = (ctx->state == NGX_HTTP_UPLOAD_FILTER_REJECTED && listed);

    n = offsetof(ngx_http_upload_filter_zone_node_t, data)
        + k->key.len + k->etag.len + facts.len + kept.len;

    ngx_shmtx_lock(&z->shpool->mutex);

    old = ngx_http_upload_filter_zone_lookup(z, &k->key, k->hash);

    if (old && old->listed && listed
        && ngx_http_upload_filter_zone_same(old, k))
    {
        refused += old->refused;
    }

    if (old) {
        ngx_http_upload_filter_zone_delete(z, old);
    }

    zn = ngx_slab_alloc_locked(z->shpool, n);

    for (i = 0; zn == NULL && i < NGX_HTTP_UPLOAD_FILTER_EVICT; i++) {

        if (ngx_queue_empty(&z->sh->queue)) {
            break;
        }

        q = ngx_queue_last(&z->sh->queue);
        ngx_http_upload_filter_zone_delete(z,
                   ngx_queue_data(q, ngx_http_upload_filter_zone_node_t,
                                  queue));

        zn = ngx_slab_alloc_locked(z->shpool, n);
    }

    if (zn == NULL) {
        ngx_shmtx_unlock(&z->shpool->mutex);
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "upload_filter: no room for a verdict of %uz bytes "
                      "in upload_filter_zone \"%V\"", n,
                      &ctx->conf->response_zone->shm.name);
        return;
    }

    zn->node.key = k->hash;
    zn->version = k->now;
    zn->since = ngx_time();
    zn->length = k->length != -1 ? k->length
                 : (r->headers_out.content_length_n != -1
                    ? r->headers_out.content_length_n : -1);
    zn->last_modified = k->last_modified;
    zn->refused = refused;
    zn->plan = plan;
    zn->kept_len = (uint32_t) kept.len;
    zn->key_len = (u_short) k->key.len;
    zn->etag_len = (u_short) k->etag.len;
    zn->facts_len = (u_short) facts.len;
    zn->listed = (u_char) listed;
    zn->partial = k->rejudged ? k->partial
                  : (ctx->state == NGX_HTTP_UPLOAD_FILTER_REJECTED);

    /* (an empty string's data may be NULL: never memcpy()ed) */
    p = ngx_cpymem(zn->data, k->key.data, k->key.len);

    if (k->etag.len) {
        p = ngx_cpymem(p, k->etag.data, k->etag.len);
    }

    if (facts.len) {
        p = ngx_cpymem(p, facts.data, facts.len);
    }

    if (kept.len) {
        ngx_memcpy(p, kept.data, kept.len);
    }

    ngx_rbtree_insert(&z->sh->rbtree, &zn->node);
    ngx_queue_insert_head(&z->sh->queue, &zn->queue);

    z->sh->entries++;
    if (listed) {
        z->sh->listed++;
    }

    ngx_shmtx_unlock(&z->shpool->mutex);

    return;

forget:

    ngx_shmtx_lock(&z->shpool->mutex);

    old = ngx_http_upload_filter_zone_lookup(z, &k->key, k->hash);
    if (old) {
        ngx_http_upload_filter_zone_delete(z, old);
    }

    ngx_shmtx_unlock(&z->shpool->mutex);
}


/*
 * upload_filter_blocked ZONE: a content handler that lists the zone's
 * listed objects, one JSON object a line, for notice and takedown
 */
char *
ngx_http_upload_filter_blocked(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t                 *value;
    ngx_shm_zone_t            *shm_zone;
    ngx_http_core_loc_conf_t  *clcf;

    value = cf->args->elts;

    shm_zone = ngx_shared_memory_add(cf, &value[1], 0,
                                     &ngx_http_upload_filter_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_upload_filter_blocked_handler;

    ((ngx_http_upload_filter_loc_conf_t *) conf)->blocked_zone = shm_zone;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_upload_filter_blocked_handler(ngx_http_request_t *r)
{
    u_char                              *p;
    size_t                               len;
    ngx_int_t                            rc;
    ngx_tm_t                             tm;
    ngx_buf_t                           *b;
    ngx_chain_t                          out;
    ngx_queue_t                         *q;
    ngx_http_upload_filter_zone_ctx_t   *z;
    ngx_http_upload_filter_zone_node_t  *zn;
    ngx_http_upload_filter_loc_conf_t   *ulcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ulcf = ngx_http_get_module_loc_conf(r, ngx_http_upload_filter_module);
    z = ulcf->blocked_zone->data;

    if (z == NULL || z->sh == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_shmtx_lock(&z->shpool->mutex);

    len = 0;

    for (q = ngx_queue_head(&z->sh->queue);
         q != ngx_queue_sentinel(&z->sh->queue);
         q = ngx_queue_next(q))
    {
        zn = ngx_queue_data(q, ngx_http_upload_filter_zone_node_t, queue);

        if (zn->listed) {
            len += sizeof("{\"key\":\"\",\"since\":\"YYYY-MM-DDTHH:MM:SSZ\","
                          "\"refused\":,\"length\":}\n")
                   + 6 * zn->key_len + zn->facts_len + 2 * NGX_OFF_T_LEN;
        }
    }

    b = ngx_create_temp_buf(r->pool, ngx_max(len, 1));
    if (b == NULL) {
        ngx_shmtx_unlock(&z->shpool->mutex);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;

    for (q = ngx_queue_head(&z->sh->queue);
         q != ngx_queue_sentinel(&z->sh->queue);
         q = ngx_queue_next(q))
    {
        zn = ngx_queue_data(q, ngx_http_upload_filter_zone_node_t, queue);

        if (!zn->listed) {
            continue;
        }

        ngx_gmtime(zn->since, &tm);

        p = ngx_cpymem(p, "{\"key\":\"", sizeof("{\"key\":\"") - 1);
        p = (u_char *) ngx_escape_json(p, zn->data, zn->key_len);
        p = ngx_sprintf(p, "\",\"since\":\"%4d-%02d-%02dT%02d:%02d:%02dZ\","
                        "\"refused\":%ui,\"length\":%O",
                        tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                        tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                        zn->refused, zn->length);
        if (zn->facts_len) {
            p = ngx_cpymem(p, zn->data + zn->key_len + zn->etag_len,
                           zn->facts_len);
        }
        *p++ = '}';
        *p++ = '\n';
    }

    ngx_shmtx_unlock(&z->shpool->mutex);

    b->last = p;
    b->last_buf = (r == r->main);
    b->last_in_chain = 1;
    b->memory = (p != b->pos);
    b->sync = (p == b->pos);

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = p - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/x-ndjson");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
