/*
 * Keeping the hash set in memory.
 *
 * The set is an mmap'd LMDB file: a lookup that meets a page the kernel
 * has dropped waits for the disk.  Hosts reclaim memory left untouched
 * for a while (the VMs we run on page out anything idle for 60 s through
 * DAMON; elsewhere it is memory pressure), so the first uploads after a
 * quiet spell stall.  Two remedies, a step at a time so that no step
 * blocks its caller for long:
 *
 *   WARM  every page in use is read once per cycle, and pages found
 *         paged out are read back in the background (MADV_WILLNEED):
 *         the set never looks idle.  Costs a page touch per page and
 *         cycle; protects only if a cycle is shorter than the host's
 *         idea of idle.
 *   LOCK  mlock(): reclaim cannot take locked pages at all.  Needs
 *         RLIMIT_MEMLOCK as large as the set; if mlock() fails the walk
 *         goes on as WARM and the step says why once.
 *
 * The walk goes over a mapping of data.mdb of its own, not LMDB's: a
 * page is one page of the page cache whichever mapping touches or locks
 * it, and LMDB's map may move when a reader adopts the updater's larger
 * map size.  The range walked is the part of the file that holds pages,
 * [0, (last_pgno + 1) * psize), read anew at each step: the updater grows
 * the file.  If it outgrows the mapping, a larger one replaces it and the
 * walk starts over (the old mapping took its locks with it).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hdb_internal.h"

struct hdb_resident {
    hdb_t          *db;
    int             mode;
    size_t          page;

    unsigned char  *map;        /* our mapping of data.mdb */
    size_t          maplen;
    size_t          pos;        /* next byte to visit */
    size_t          locked;     /* LOCK: [0, locked) is locked */
    size_t          cycle_resident;

    unsigned char  *vec;        /* mincore() */
    size_t          nvec;
};


static int hdb_resident_region(hdb_resident_t *rs, size_t *len);
static int hdb_resident_incore(hdb_resident_t *rs, size_t off, size_t n);
static int hdb_resident_warm(hdb_resident_t *rs, size_t len, size_t chunk,
    hdb_resident_stats_t *st);
static int hdb_resident_lock(hdb_resident_t *rs, size_t len, size_t chunk,
    hdb_resident_stats_t *st);


int
hdb_resident_new(hdb_t *db, int mode, hdb_resident_t **out)
{
    long             page;
    hdb_resident_t  *rs;

    *out = NULL;

    if (mode != HDB_RESIDENT_WARM && mode != HDB_RESIDENT_LOCK) {
        return EINVAL;
    }

    page = sysconf(_SC_PAGESIZE);
    if (page <= 0) {
        return EINVAL;
    }

    rs = calloc(1, sizeof(hdb_resident_t));
    if (rs == NULL) {
        return ENOMEM;
    }

    rs->db = db;
    rs->mode = mode;
    rs->page = (size_t) page;

    *out = rs;
    return 0;
}


void
hdb_resident_free(hdb_resident_t *rs)
{
    if (rs == NULL) {
        return;
    }

    /* unmapping unlocks */
    if (rs->map) {
        (void) munmap(rs->map, rs->maplen);
    }

    free(rs->vec);
    free(rs);
}


int
hdb_resident_mode(const hdb_resident_t *rs)
{
    return rs->mode;
}


int
hdb_resident_step(hdb_resident_t *rs, size_t bytes, hdb_resident_stats_t *st)
{
    int     rc;
    size_t  len, chunk;

    memset(st, 0, sizeof(hdb_resident_stats_t));

    rc = hdb_resident_region(rs, &len);

    st->size = len;

    if (rc != 0 || len == 0) {
        return rc;
    }

    /* whole pages, at least one */
    chunk = bytes == 0 || bytes > len ? len : bytes;
    chunk = (chunk + rs->page - 1) / rs->page * rs->page;

    if (rs->mode == HDB_RESIDENT_LOCK) {
        return hdb_resident_lock(rs, len, chunk, st);
    }

    return hdb_resident_warm(rs, len, chunk, st);
}


static int
hdb_resident_warm(hdb_resident_t *rs, size_t len, size_t chunk,
    hdb_resident_stats_t *st)
{
    int                     rc;
    size_t                  i, n, npages, missing;
    unsigned char           sum;
    volatile unsigned char  *p;

    if (rs->pos >= len) {
        rs->pos = 0;
        rs->cycle_resident = 0;
    }

    n = len - rs->pos < chunk ? len - rs->pos : chunk;
    npages = (n + rs->page - 1) / rs->page;

    rc = hdb_resident_incore(rs, rs->pos, n);
    if (rc != 0) {
        return rc;
    }

    /*
     * Touch only what is in memory: a read of a paged-out page would wait
     * for the disk here.  Those are read back without waiting instead and
     * touched on the next cycle.
     */
    p = rs->map + rs->pos;
    sum = 0;
    missing = 0;

    for (i = 0; i < npages; i++) {
        if (rs->vec[i] & 1) {
            sum += p[i * rs->page];
        } else {
            missing++;
        }
    }

    (void) sum;

    if (missing) {
        (void) madvise(rs->map + rs->pos, n, MADV_WILLNEED);
    }

    rs->pos += n;
    rs->cycle_resident += (npages - missing) * rs->page;

    st->readback = missing * rs->page;
    st->resident = rs->cycle_resident;

    st->cycle_done = rs->pos >= len;

    return 0;
}


static int
hdb_resident_lock(hdb_resident_t *rs, size_t len, size_t chunk,
    hdb_resident_stats_t *st)
{
    int     err;
    size_t  n, ahead;

    if (rs->locked >= len) {
        /* all locked; the set may grow later */
        st->resident = rs->locked;
        return 0;
    }

    n = len - rs->locked < chunk ? len - rs->locked : chunk;

    /* mlock() reads what is not in memory; the last step asked for it */
    if (mlock(rs->map + rs->locked, n) != 0) {
        err = errno;
        rs->mode = HDB_RESIDENT_WARM;
        rs->pos = rs->locked;
        return err;
    }

    rs->locked += n;

    ahead = len - rs->locked < chunk ? len - rs->locked : chunk;
    if (ahead) {
        (void) madvise(rs->map + rs->locked, ahead, MADV_WILLNEED);
    }

    st->resident = rs->locked;
    st->cycle_done = rs->locked >= len;

    return 0;
}


/*
 * The bytes of data.mdb in use, mapped: sets *len to 0 if there are none
 * or no mapping could be made (the step is then a no-op).
 */
static int
hdb_resident_region(hdb_resident_t *rs, size_t *len)
{
    int           fd;
    void         *p;
    size_t        used, want;
    MDB_stat      ms;
    struct stat   st;
    MDB_envinfo   info;

    *len = 0;

    if (mdb_env_get_fd(rs->db->env, &fd) != 0 || fstat(fd, &st) != 0
        || mdb_env_stat(rs->db->env, &ms) != 0)
    {
        return EIO;
    }

    mdb_env_info(rs->db->env, &info);

    used = (info.me_last_pgno + 1) * (size_t) ms.ms_psize;

    /* never past the end of the file: a read there is SIGBUS */
    if (used > (size_t) st.st_size) {
        used = (size_t) st.st_size;
    }

    used = used / rs->page * rs->page;

    if (used > rs->maplen) {
        /* room to grow, as LMDB maps it: beyond the file, never read */
        want = info.me_mapsize > 2 * used ? info.me_mapsize : 2 * used;
        want = (want + rs->page - 1) / rs->page * rs->page;

        if (rs->map) {
            (void) munmap(rs->map, rs->maplen);
            rs->map = NULL;
            rs->maplen = 0;
        }

        p = mmap(NULL, want, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            return errno;
        }

        rs->map = p;
        rs->maplen = want;
        rs->pos = 0;
        rs->locked = 0;
        rs->cycle_resident = 0;
    }

    *len = used;
    return 0;
}


/* which pages of [off, off + n) of the mapping are in memory: rs->vec */
static int
hdb_resident_incore(hdb_resident_t *rs, size_t off, size_t n)
{
    size_t  npages;

    npages = (n + rs->page - 1) / rs->page;

    if (npages > rs->nvec) {
        free(rs->vec);
        rs->vec = malloc(npages);
        if (rs->vec == NULL) {
            rs->nvec = 0;
            return ENOMEM;
        }
        rs->nvec = npages;
    }

    return mincore(rs->map + off, n, rs->vec) == 0 ? 0 : errno;
}


int
hdb_resident_probe(hdb_t *db, size_t *size, size_t *resident)
{
    int              rc;
    size_t           i, len;
    hdb_resident_t   rs;

    memset(&rs, 0, sizeof(hdb_resident_t));
    rs.db = db;
    rs.page = (size_t) sysconf(_SC_PAGESIZE);

    *size = 0;
    *resident = 0;

    rc = hdb_resident_region(&rs, &len);
    if (rc != 0 || len == 0) {
        goto done;
    }

    *size = len;

    /* the page cache's view: a mapping of our own has touched nothing */
    rc = hdb_resident_incore(&rs, 0, len);

    for (i = 0; rc == 0 && i < len / rs.page; i++) {
        *resident += (rs.vec[i] & 1) * rs.page;
    }

done:

    if (rs.map) {
        (void) munmap(rs.map, rs.maplen);
    }

    free(rs.vec);

    return rc;
}
