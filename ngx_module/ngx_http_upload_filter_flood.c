
/*
 * upload_filter_flood: one listed entry matching more distinct client
 * addresses than it should within a time is a sign of a wrong entry (a
 * list that flags a common image) or of material going viral; both need
 * a person.  The entries that matched are counted in a shared zone, in
 * the shape of limit_req's: an rbtree by CRC32 of the entry's name, an
 * LRU queue, and per entry the clients seen in the window.  Past the
 * threshold a warn line and a metric; with action=log the entry is also
 * demoted to log-only on this node until "hashdb flood-clear" lifts it
 * (read from the hash set at the entry's next match).
 */

#include "ngx_http_upload_filter.h"


typedef struct {
    uint32_t                    addr;       /* CRC32 of the address */
    time_t                      last;
} ngx_http_upload_filter_flood_client_t;


typedef struct {
    u_char                      color;
    u_char                      dummy;
    u_short                     len;
    ngx_queue_t                 queue;
    time_t                      alarmed;    /* the last warn line; 0 */
    int64_t                     demoted;    /* since when, in ms since
                                               the epoch; 0: not */
    ngx_uint_t                  nclients;
    ngx_uint_t                  cap;
    ngx_http_upload_filter_flood_client_t  *clients;   /* after entry */
    u_char                      entry[1];
} ngx_http_upload_filter_flood_node_t;


typedef struct {
    ngx_rbtree_t                rbtree;
    ngx_rbtree_node_t           sentinel;
    ngx_queue_t                 queue;
    ngx_atomic_t                demoted;    /* entries demoted now */
    ngx_atomic_t                alarms;
    ngx_atomic_t                demotions;
} ngx_http_upload_filter_flood_sh_t;


typedef struct {
    ngx_http_upload_filter_flood_sh_t  *sh;
    ngx_slab_pool_t                    *shpool;
} ngx_http_upload_filter_flood_ctx_t;


static ngx_int_t ngx_http_upload_filter_flood_init(ngx_shm_zone_t *shm_zone,
    void *data);


/*
 * upload_filter_flood off | N per TIME [action=warn|log] [zone=SIZE]
 */
char *
ngx_http_upload_filter_flood(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_upload_filter_main_conf_t *umcf = conf;

    ssize_t                              size;
    ngx_int_t                            n;
    ngx_str_t                           *value, s, name;
    ngx_uint_t                           i;
    ngx_shm_zone_t                      *shm_zone;
    ngx_http_upload_filter_flood_ctx_t  *ctx;

    if (umcf->flood_n != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        umcf->flood_n = 0;
        return NGX_CONF_OK;
    }

    if (cf->args->nelts < 4 || ngx_strcmp(value[2].data, "per") != 0) {
        return "takes \"off\" or \"N per TIME [action=warn|log] "
               "[zone=SIZE]\"";
    }

    n = ngx_atoi(value[1].data, value[1].len);
    if (n < 1 || n > 10000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of clients \"%V\" (1 to 10000)",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    umcf->flood_n = (ngx_uint_t) n;

    umcf->flood_period = ngx_parse_time(&value[3], 1);
    if (umcf->flood_period == (time_t) NGX_ERROR || umcf->flood_period < 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid time \"%V\"",
                           &value[3]);
        return NGX_CONF_ERROR;
    }

    umcf->flood_demote = 0;
    size = 1024 * 1024;

    for (i = 4; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "action=warn") == 0) {
            umcf->flood_demote = 0;
            continue;
        }

        if (ngx_strcmp(value[i].data, "action=log") == 0) {
            umcf->flood_demote = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            size = ngx_parse_size(&s);
            if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\" (at least "
                                   "%uz)", &value[i], 8 * ngx_pagesize);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_upload_filter_flood_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&name, "upload_filter_flood");

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_upload_filter_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_upload_filter_flood_init;
    shm_zone->data = ctx;
    umcf->flood_zone = shm_zone;

    return NGX_CONF_OK;
}


static void
ngx_http_upload_filter_flood_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t                    **p;
    ngx_http_upload_filter_flood_node_t   *fn, *fnt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            fn = (ngx_http_upload_filter_flood_node_t *) &node->color;
            fnt = (ngx_http_upload_filter_flood_node_t *) &temp->color;

            p = (ngx_memn2cmp(fn->entry, fnt->entry, fn->len, fnt->len) < 0)
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


static ngx_int_t
ngx_http_upload_filter_flood_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_upload_filter_flood_ctx_t  *octx = data;

    ngx_http_upload_filter_flood_ctx_t  *ctx;

    ctx = shm_zone->data;

    if (octx) {
        /* a reload: the counts and demotions stay */
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        ctx->sh = ctx->shpool->data;
        return NGX_OK;
    }

    ctx->sh = ngx_slab_alloc(ctx->shpool,
                             sizeof(ngx_http_upload_filter_flood_sh_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(ctx->sh, sizeof(ngx_http_upload_filter_flood_sh_t));
    ctx->shpool->data = ctx->sh;

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_http_upload_filter_flood_insert);
    ngx_queue_init(&ctx->sh->queue);

    ctx->shpool->log_ctx = (u_char *) " in upload_filter_flood zone";

    /* a full zone is the normal case: the least recent entries go */
    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


static ngx_http_upload_filter_flood_node_t *
ngx_http_upload_filter_flood_lookup(ngx_http_upload_filter_flood_ctx_t *ctx,
    u_char *entry, size_t len, uint32_t hash)
{
    ngx_int_t                             rc;
    ngx_rbtree_node_t                    *node, *sentinel;
    ngx_http_upload_filter_flood_node_t  *fn;

    node = ctx->sh->rbtree.root;
    sentinel = ctx->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        fn = (ngx_http_upload_filter_flood_node_t *) &node->color;

        rc = ngx_memn2cmp(entry, fn->entry, len, (size_t) fn->len);

        if (rc == 0) {
            return fn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_upload_filter_flood_free(ngx_http_upload_filter_flood_ctx_t *ctx,
    ngx_http_upload_filter_flood_node_t *fn)
{
    ngx_rbtree_node_t  *node;

    if (fn->demoted) {
        (void) ngx_atomic_fetch_add(&ctx->sh->demoted, -1);
    }

    node = (ngx_rbtree_node_t *)
               ((u_char *) fn - offsetof(ngx_rbtree_node_t, color));

    ngx_queue_remove(&fn->queue);
    ngx_rbtree_delete(&ctx->sh->rbtree, node);
    ngx_slab_free_locked(ctx->shpool, node);
}


/* a new entry's node; the least recently matched make room, demoted last */
static ngx_http_upload_filter_flood_node_t *
ngx_http_upload_filter_flood_new(ngx_http_upload_filter_flood_ctx_t *ctx,
    u_char *entry, size_t len, uint32_t hash, ngx_uint_t cap)
{
    size_t                                n;
    ngx_uint_t                            i;
    ngx_queue_t                          *q;
    ngx_rbtree_node_t                    *node;
    ngx_http_upload_filter_flood_node_t  *fn;

    n = offsetof(ngx_rbtree_node_t, color)
        + offsetof(ngx_http_upload_filter_flood_node_t, entry) + len;
    n = ngx_align(n, sizeof(time_t));
    n += cap * sizeof(ngx_http_upload_filter_flood_client_t);

    node = ngx_slab_alloc_locked(ctx->shpool, n);

    for (i = 0; node == NULL && i < 16; i++) {
        if (ngx_queue_empty(&ctx->sh->queue)) {
            break;
        }

        q = ngx_queue_last(&ctx->sh->queue);
        fn = ngx_queue_data(q, ngx_http_upload_filter_flood_node_t, queue);

        if (fn->demoted) {
            /* forgetting a demotion would let a wrong entry block again */
            ngx_queue_remove(q);
            ngx_queue_insert_head(&ctx->sh->queue, q);
            continue;
        }

        ngx_http_upload_filter_flood_free(ctx, fn);
        node = ngx_slab_alloc_locked(ctx->shpool, n);
    }

    if (node == NULL) {
        return NULL;
    }

    node->key = hash;
    fn = (ngx_http_upload_filter_flood_node_t *) &node->color;
    fn->len = (u_short) len;
    ngx_memcpy(fn->entry, entry, len);
    fn->alarmed = 0;
    fn->demoted = 0;
    fn->nclients = 0;
    fn->cap = cap;
    fn->clients = (ngx_http_upload_filter_flood_client_t *)
                      ngx_align_ptr(fn->entry + len, sizeof(time_t));

    ngx_rbtree_insert(&ctx->sh->rbtree, node);
    ngx_queue_insert_head(&ctx->sh->queue, &fn->queue);

    return fn;
}


/* whether "hashdb flood-clear" lifted the demotion since it was made */
static ngx_int_t
ngx_http_upload_filter_flood_lifted(ngx_http_upload_filter_ctx_t *ctx,
    u_char *entry, int64_t demoted)
{
    int                                  rc;
    int64_t                              when;
    ngx_uint_t                           began;
    ngx_http_upload_filter_main_conf_t  *umcf = ngx_http_upload_filter_worker;

    if (umcf == NULL || umcf->reader == NULL) {
        return 0;
    }

    /* a match is reported inside the lookup's transaction, or after it */
    began = 0;

    if (hdb_reader_version(umcf->reader) == 0) {
        if (hdb_reader_begin(umcf->reader) != 0) {
            return 0;
        }

        began = 1;
    }

    rc = hdb_reader_flood_cleared(umcf->reader, (char *) entry, &when);

    if (began) {
        hdb_reader_end(umcf->reader);
    }

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "upload_filter: hash set \"%V\": %s",
                      &umcf->db_path, hdb_strerror(rc));
        return 0;
    }

    return when > demoted;
}


/*
 * The entry's name, as the log line's entry= (or video:NAME) and as
 * "hashdb flood-clear" takes it, into buf (HDB_FLOOD_ENTRY_MAX + 1)
 */
static size_t
ngx_http_upload_filter_flood_entry(const hdb_match_t *m, const char *digest,
    u_char *buf)
{
    size_t  n;

    if (m->video[0]) {
        return ngx_sprintf(buf, "video:%s%Z", m->video) - buf - 1;
    }

    if (m->type == HDB_PDQ) {
        ngx_memcpy(buf, "pdq:", 4);
        hdb_hex_encode(m->listed, HDB_PDQ_SIZE, (char *) buf + 4);
        return 4 + 2 * HDB_PDQ_SIZE;
    }

    n = ngx_min(ngx_strlen(digest), HDB_FLOOD_ENTRY_MAX);
    ngx_memcpy(buf, digest, n);
    buf[n] = '\0';

    return n;
}


/*
 * A match that is not allowed, by this request's client: counted.
 * NGX_DECLINED when the entry is demoted on this node (the match is
 * logged, not blocked), NGX_OK otherwise.
 */
ngx_int_t
ngx_http_upload_filter_flood_check(ngx_http_upload_filter_ctx_t *ctx,
    const hdb_match_t *m, const char *digest)
{
    size_t                                 len;
    time_t                                 now;
    int64_t                                demoted, now_ms;
    ngx_time_t                            *tp;
    uint32_t                               hash, addr;
    ngx_uint_t                             i, k, alarm, demote, count;
    ngx_str_t                             *text;
    ngx_http_upload_filter_flood_ctx_t    *fctx;
    ngx_http_upload_filter_flood_node_t   *fn;
    ngx_http_upload_filter_main_conf_t    *umcf;
    u_char                                 entry[HDB_FLOOD_ENTRY_MAX + 1];

    umcf = ngx_http_get_module_main_conf(ctx->request,
                                         ngx_http_upload_filter_module);

    if (umcf->flood_zone == NULL) {
        return NGX_OK;
    }

    fctx = umcf->flood_zone->data;
    len = ngx_http_upload_filter_flood_entry(m, digest, entry);
    hash = ngx_crc32_short(entry, len);

    text = &ctx->request->connection->addr_text;
    addr = ngx_crc32_short(text->data, text->len);

    tp = ngx_timeofday();
    now = tp->sec;
    now_ms = (int64_t) tp->sec * 1000 + tp->msec;
    alarm = 0;
    demote = 0;

    ngx_shmtx_lock(&fctx->shpool->mutex);

    fn = ngx_http_upload_filter_flood_lookup(fctx, entry, len, hash);

    if (fn == NULL) {
        fn = ngx_http_upload_filter_flood_new(fctx, entry, len, hash,
                                              umcf->flood_n + 1);
        if (fn == NULL) {
            ngx_shmtx_unlock(&fctx->shpool->mutex);
            ngx_log_error(NGX_LOG_ALERT, ctx->request->connection->log, 0,
                          "upload_filter: no room in the upload_filter_flood "
                          "zone for entry=%s: not counted", entry);
            return NGX_OK;
        }

    } else {
        ngx_queue_remove(&fn->queue);
        ngx_queue_insert_head(&fctx->sh->queue, &fn->queue);
    }

    demoted = fn->demoted;

    if (demoted) {
        /*
         * Whether "hashdb flood-clear" lifted it is read from the hash
         * set, outside the lock; the node may be let go meanwhile.
         */
        ngx_shmtx_unlock(&fctx->shpool->mutex);

        if (!ngx_http_upload_filter_flood_lifted(ctx, entry, demoted)) {
            return NGX_DECLINED;
        }

        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "upload_filter: flood: entry=%s blocks again (hashdb "
                      "flood-clear)", entry);

        ngx_shmtx_lock(&fctx->shpool->mutex);

        fn = ngx_http_upload_filter_flood_lookup(fctx, entry, len, hash);

        if (fn == NULL) {
            ngx_shmtx_unlock(&fctx->shpool->mutex);
            return NGX_OK;
        }

        if (fn->demoted == demoted) {
            fn->demoted = 0;
            fn->alarmed = 0;
            fn->nclients = 0;
            (void) ngx_atomic_fetch_add(&fctx->sh->demoted, -1);
        }
    }

    /* the clients of the window, this one among them */
    for (i = 0, k = 0; i < fn->nclients; i++) {
        if (fn->clients[i].last > now - (time_t) umcf->flood_period) {
            fn->clients[k++] = fn->clients[i];
        }
    }

    fn->nclients = k;

    for (i = 0; i < fn->nclients; i++) {
        if (fn->clients[i].addr == addr) {
            fn->clients[i].last = now;
            break;
        }
    }

    if (i == fn->nclients && fn->nclients < fn->cap) {
        fn->clients[fn->nclients].addr = addr;
        fn->clients[fn->nclients].last = now;
        fn->nclients++;
    }

    count = fn->nclients;

    if (count > umcf->flood_n) {
        /* one warn line per window, not one per match */
        if (fn->alarmed == 0
            || fn->alarmed <= now - (time_t) umcf->flood_period)
        {
            fn->alarmed = now;
            alarm = 1;
            (void) ngx_atomic_fetch_add(&fctx->sh->alarms, 1);
        }

        if (umcf->flood_demote && m->action == HDB_ACTION_BLOCK
            && fn->demoted == 0)
        {
            fn->demoted = now_ms;
            demote = 1;
            (void) ngx_atomic_fetch_add(&fctx->sh->demoted, 1);
            (void) ngx_atomic_fetch_add(&fctx->sh->demotions, 1);
        }
    }

    demoted = fn->demoted;

    ngx_shmtx_unlock(&fctx->shpool->mutex);

    if (alarm || demote) {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "upload_filter: flood: entry=%s source=\"%s\" "
                      "category=\"%s\" matched more than %ui distinct "
                      "clients within %T s%s",
                      entry, m->source, m->category, umcf->flood_n,
                      (time_t) umcf->flood_period,
                      demoted ? "; demoted to log-only on this node until "
                                "\"hashdb flood-clear\""
                              : "; a person should look");
    }

    return demoted ? NGX_DECLINED : NGX_OK;
}


/* for the metrics: alarms and demotions so far, entries demoted now */
void
ngx_http_upload_filter_flood_counts(ngx_http_upload_filter_main_conf_t *umcf,
    ngx_uint_t *alarms, ngx_uint_t *demotions, ngx_uint_t *demoted)
{
    ngx_http_upload_filter_flood_ctx_t  *fctx;

    *alarms = 0;
    *demotions = 0;
    *demoted = 0;

    if (umcf == NULL || umcf->flood_zone == NULL) {
        return;
    }

    fctx = umcf->flood_zone->data;

    if (fctx->sh == NULL) {
        return;
    }

    *alarms = fctx->sh->alarms;
    *demotions = fctx->sh->demotions;
    *demoted = fctx->sh->demoted;
}
