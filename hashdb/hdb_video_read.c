/*
 * Listed videos, the read side: vPDQ's matching rule over the PDQ index
 * (hdb_reader_vpdq_match()), and a still against listed frames
 * (hdb_video_still()).  See hashdb.h and hdb_schema.h.
 *
 * The reference compares an upload with every listed video, frame by
 * frame.  Here each unique frame of the upload is one index query for
 * every listed hash within the distance; each hash found names the
 * videos that have it ("vpdq"), and only those videos are counted: the
 * cost follows the upload's frames and the near hashes, not the list.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hdb_internal.h"

/* one upload frame near one listed frame of one video */
typedef struct {
    uint32_t       num;             /* the video, host order */
    uint32_t       q;               /* the upload's unique frame */
    uint32_t       d;
    unsigned char  listed[HDB_PDQ_SIZE];
} hdb_vpdq_pair_t;

typedef struct {
    hdb_reader_t      *rd;
    MDB_cursor        *cur;
    uint32_t           q;
    hdb_vpdq_pair_t   *pairs;
    size_t             n, cap;
} hdb_vpdq_collect_t;

typedef struct {
    unsigned char  hash[HDB_PDQ_SIZE];
    double         time;
} hdb_vpdq_q_t;

/* a video's record, checked: its frames and name follow it */
static int
hdb_video_rec(hdb_reader_t *rd, uint32_t num, struct hdb_video_rec *rec,
    const char **name)
{
    int      rc;
    MDB_val  key, val;

    key.mv_data = &num;
    key.mv_size = sizeof(num);

    rc = mdb_get(rd->txn, rd->db->video, &key, &val);
    if (rc != 0) {
        return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    }

    if (val.mv_size < sizeof(*rec)) {
        return MDB_CORRUPTED;
    }

    memcpy(rec, val.mv_data, sizeof(*rec));

    if (rec->name_len > HDB_VIDEO_NAME_MAX
        || val.mv_size != sizeof(*rec) + (size_t) rec->nframes * HDB_PDQ_SIZE
                          + rec->name_len)
    {
        return MDB_CORRUPTED;
    }

    *name = (const char *) val.mv_data + sizeof(*rec)
            + (size_t) rec->nframes * HDB_PDQ_SIZE;
    return 0;
}

/* the match's source, category, date and video from the video's record */
static int
hdb_video_fill(hdb_reader_t *rd, const struct hdb_video_rec *rec,
    const char *vname, hdb_match_t *m, struct hdb_source_rec *src)
{
    int      rc;
    size_t   n;
    MDB_val  name;

    rc = hdb_reader_source_rec(rd, rec->source_id, &name, src);
    if (rc != 0) {
        return rc;
    }

    memset(m, 0, sizeof(*m));
    m->type = HDB_PDQ;
    n = name.mv_size < HDB_SOURCE_MAX ? name.mv_size : HDB_SOURCE_MAX;
    memcpy(m->source, name.mv_data, n);
    memcpy(m->category, rec->category, HDB_CATEGORY_MAX);
    m->added = rec->added;
    memcpy(m->video, vname, rec->name_len);

    return 0;
}

int
hdb_video_still(hdb_reader_t *rd, const unsigned char *listed, unsigned d,
    hdb_match_t *m, int have)
{
    int                    rc, action, found;
    uint32_t               num;
    MDB_val                key, val;
    MDB_cursor            *cur;
    const char            *vname;
    hdb_match_t            cand;
    struct hdb_video_rec   rec;
    struct hdb_source_rec  src;

    if (rd->db->vpdq == 0) {
        return MDB_NOTFOUND;
    }

    rc = mdb_cursor_open(rd->txn, rd->db->vpdq, &cur);
    if (rc != 0) {
        return rc;
    }

    key.mv_data = (void *) listed;
    key.mv_size = HDB_PDQ_SIZE;
    found = 0;

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET);
         rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT_DUP))
    {
        if (val.mv_size != 4) {
            rc = MDB_CORRUPTED;
            break;
        }

        num = hdb_source_id_decode(val.mv_data);

        rc = hdb_video_rec(rd, num, &rec, &vname);
        if (rc == 0) {
            rc = hdb_video_fill(rd, &rec, vname, &cand, &src);
        }
        if (rc != 0) {
            break;
        }

        if ((src.flags & HDB_SOURCE_NO_STILLS)
            || (src.pdq_distance && d > src.pdq_distance))
        {
            continue;
        }

        rc = hdb_entry_action(rd, cand.source, &src, rec.category,
                              (rec.flags & HDB_VIDEO_STAGED) != 0, &action);
        if (rc != 0) {
            break;
        }

        if (action < 0 || ((have || found) && action >= m->action)) {
            continue;
        }

        *m = cand;
        memcpy(m->listed, listed, HDB_PDQ_SIZE);
        m->distance = d;
        m->action = action;
        found = 1;

        if (action == HDB_ACTION_BLOCK) {
            break;
        }
    }

    mdb_cursor_close(cur);

    if (rc == MDB_NOTFOUND && found) {
        rc = 0;
    }

    return rc;
}

/* an index hit: one pair per listed video that has the frame */
static int
hdb_vpdq_collect(void *data, const unsigned char *listed, unsigned d)
{
    int                  rc;
    MDB_val              key, val;
    hdb_vpdq_pair_t     *grown;
    hdb_vpdq_collect_t  *c = data;

    key.mv_data = (void *) listed;
    key.mv_size = HDB_PDQ_SIZE;

    for (rc = mdb_cursor_get(c->cur, &key, &val, MDB_SET);
         rc == 0;
         rc = mdb_cursor_get(c->cur, &key, &val, MDB_NEXT_DUP))
    {
        if (val.mv_size != 4) {
            return MDB_CORRUPTED;
        }

        if (c->n == c->cap) {
            c->cap = c->cap ? 2 * c->cap : 256;
            grown = realloc(c->pairs, c->cap * sizeof(hdb_vpdq_pair_t));
            if (grown == NULL) {
                return ENOMEM;
            }
            c->pairs = grown;
        }

        c->pairs[c->n].num = hdb_source_id_decode(val.mv_data);
        c->pairs[c->n].q = c->q;
        c->pairs[c->n].d = d;
        memcpy(c->pairs[c->n].listed, listed, HDB_PDQ_SIZE);
        c->n++;
    }

    /* an image's hash that no video has is the image path's business */
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
hdb_vpdq_pair_cmp(const void *a, const void *b)
{
    const hdb_vpdq_pair_t  *x = a, *y = b;
    int                     c;

    if (x->num != y->num) {
        return x->num < y->num ? -1 : 1;
    }

    c = memcmp(x->listed, y->listed, HDB_PDQ_SIZE);
    if (c) {
        return c;
    }

    return (x->q > y->q) - (x->q < y->q);
}

static int
hdb_vpdq_q_cmp(const void *a, const void *b)
{
    const hdb_vpdq_q_t  *x = a, *y = b;
    int                  c = memcmp(x->hash, y->hash, HDB_PDQ_SIZE);

    return c ? c : (x->time > y->time) - (x->time < y->time);
}

/* the upload's counted frames: quality enough, each hash once */
static size_t
hdb_vpdq_unique(const hdb_vpdq_frame_t *frames, size_t n, unsigned quality,
    hdb_vpdq_q_t *q)
{
    size_t  k, u;

    k = 0;

    for (size_t i = 0; i < n; i++) {
        if (frames[i].quality >= (int) quality) {
            memcpy(q[k].hash, frames[i].hash, HDB_PDQ_SIZE);
            q[k].time = frames[i].time;
            k++;
        }
    }

    if (k > 1) {
        qsort(q, k, sizeof(hdb_vpdq_q_t), hdb_vpdq_q_cmp);
    }

    /* sorted by hash then time: the first of a run is its earliest */
    u = 0;

    for (size_t i = 0; i < k; i++) {
        if (u == 0 || memcmp(q[u - 1].hash, q[i].hash, HDB_PDQ_SIZE) != 0) {
            q[u++] = q[i];
        }
    }

    return u;
}

/*
 * One candidate video: the pairs p[0 .. n) (sorted by listed hash) that
 * its source's distance allows, counted by the rule.
 */
static int
hdb_vpdq_judge(hdb_reader_t *rd, const hdb_vpdq_pair_t *p, size_t n,
    const hdb_vpdq_q_t *q, size_t nq, unsigned char *seen,
    const hdb_vpdq_rule_t *rule, hdb_vpdq_match_t *best, size_t *best_dsum,
    int *found)
{
    int                    rc;
    size_t                 cm, qm, first, dsum;
    const char            *vname;
    const unsigned char   *last;
    hdb_vpdq_match_t       m;
    struct hdb_video_rec   rec;
    struct hdb_source_rec  src;

    rc = hdb_video_rec(rd, p[0].num, &rec, &vname);
    if (rc == 0) {
        rc = hdb_video_fill(rd, &rec, vname, &m.m, &src);
    }
    if (rc != 0) {
        return rc;
    }

    rc = hdb_entry_action(rd, m.m.source, &src, rec.category,
                          (rec.flags & HDB_VIDEO_STAGED) != 0, &m.m.action);
    if (rc != 0) {
        return rc;
    }

    if (m.m.action < 0 || rec.nframes == 0) {
        return 0;
    }

    /* a video that does less than the best one found cannot be better */
    if (*found && m.m.action > hdb_match_weight(&best->m)) {
        return 0;
    }

    /* seen[q]: the nearest distance of the upload's frame q, 255: none */
    memset(seen, 255, nq);
    last = NULL;
    cm = 0;
    qm = 0;
    dsum = 0;
    first = nq;

    for (size_t i = 0; i < n; i++) {
        if (src.pdq_distance && p[i].d > src.pdq_distance) {
            continue;
        }

        if (last == NULL || memcmp(p[i].listed, last, HDB_PDQ_SIZE) != 0) {
            last = p[i].listed;
            cm++;
        }

        if (seen[p[i].q] == 255) {
            qm++;
        }

        if (p[i].d < seen[p[i].q]) {
            seen[p[i].q] = (unsigned char) p[i].d;
        }

        /* the upload's earliest matched frame, and its nearest hit */
        if (first == nq || q[p[i].q].time < q[p[first].q].time
            || (p[i].q == p[first].q && p[i].d < p[first].d))
        {
            first = i;
        }
    }

    if (rule->sparse) {
        if (qm * 100 < (size_t) rule->pc * nq
            || cm < (rec.nframes < 2 ? rec.nframes : 2))
        {
            return 0;
        }

    } else if (cm == 0
               || cm * 100 < (size_t) rule->pc * rec.nframes
               || qm * 100 < (size_t) rule->pq * nq)
    {
        return 0;
    }

    for (size_t i = 0; i < nq; i++) {
        dsum += seen[i] == 255 ? 0 : seen[i];
    }

    /*
     * The allow list's say is part of what the video does (the video by
     * its name, or the listed frame the log names): an allowed video must
     * not hide another, listed, that the upload matches too.
     */
    rc = hdb_reader_allow_pdq(rd, p[first].listed, &m.m);
    if (rc != 0) {
        return rc;
    }

    if (*found && hdb_match_weight(&m.m) > hdb_match_weight(&best->m)) {
        return 0;
    }

    /*
     * The best: the largest share of its frames matched; on a tie, more
     * of the upload's frames matched, then nearer (a video listed twice,
     * as an original and as an edit, is reported as the one it is).
     */
    if (*found && hdb_match_weight(&m.m) == hdb_match_weight(&best->m)) {
        size_t  a = cm * best->listed_frames;
        size_t  b = (size_t) best->listed_matched * rec.nframes;

        if (a < b || (a == b && (qm < best->matched
                                 || (qm == best->matched
                                     && dsum >= *best_dsum))))
        {
            return 0;
        }
    }

    *best_dsum = dsum;

    memcpy(m.video, m.m.video, sizeof(m.video));
    m.listed_frames = rec.nframes;
    m.listed_matched = (unsigned) cm;
    m.frames = (unsigned) nq;
    m.matched = (unsigned) qm;
    m.time = q[p[first].q].time;
    memcpy(m.m.listed, p[first].listed, HDB_PDQ_SIZE);
    m.m.distance = p[first].d;

    *best = m;
    *found = 1;

    return 0;
}

int
hdb_reader_vpdq_match(hdb_reader_t *rd, const hdb_vpdq_frame_t *frames,
    size_t n, const hdb_vpdq_rule_t *rule, hdb_vpdq_match_t *match)
{
    int                  rc, found;
    size_t               nq, i, j, k, dsum;
    hdb_vpdq_q_t        *q;
    unsigned char       *seen;
    hdb_vpdq_collect_t   c;

    if (rd->db->vpdq == 0 || n == 0) {
        return MDB_NOTFOUND;
    }

    q = malloc(n * (sizeof(hdb_vpdq_q_t) + 1));
    if (q == NULL) {
        return ENOMEM;
    }

    seen = (unsigned char *) (q + n);
    nq = hdb_vpdq_unique(frames, n, rule->quality, q);

    memset(&c, 0, sizeof(c));
    c.rd = rd;

    rc = mdb_cursor_open(rd->txn, rd->db->vpdq, &c.cur);

    for (i = 0; rc == 0 && i < nq; i++) {
        c.q = (uint32_t) i;
        rc = hdb_pdq_near(rd, q[i].hash, rule->distance, hdb_vpdq_collect,
                          &c);
    }

    if (c.cur) {
        mdb_cursor_close(c.cur);
    }

    found = 0;

    if (rc == 0) {
        /* by video, then listed frame: one run per candidate video */
        if (c.n > 1) {
            qsort(c.pairs, c.n, sizeof(hdb_vpdq_pair_t),
                  hdb_vpdq_pair_cmp);
        }

        /* a hash found through several tables is one hit */
        for (i = 0, k = 0; i < c.n; i++) {
            if (k == 0 || hdb_vpdq_pair_cmp(&c.pairs[k - 1], &c.pairs[i])) {
                c.pairs[k++] = c.pairs[i];
            }
        }

        for (i = 0; rc == 0 && i < k; i = j) {
            for (j = i + 1; j < k && c.pairs[j].num == c.pairs[i].num; j++) {
                /* the video's pairs */
            }

            rc = hdb_vpdq_judge(rd, c.pairs + i, j - i, q, nq, seen, rule,
                                match, &dsum, &found);
        }
    }

    free(c.pairs);
    free(q);

    if (rc != 0) {
        return rc;
    }

    return found ? 0 : MDB_NOTFOUND;
}
