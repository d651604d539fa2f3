/*
 * hashdb scan: the report.  Text, one line per listed thing found:
 *
 *     PATH: sha1:HEX source=S category=C listed=DATE
 *     PATH: pdq:HEX entry=pdq:HEX distance=N variant=V format=F [frame=N] ...
 *
 * or with --json one JSON object per line (path, size, mtime, match,
 * entry, distance, variant, format, frame, source, category, listed,
 * allowed).  A file with several hard links is hashed once and reported
 * once, after the walk, with every path found (also="..." / "paths").
 * Paths are written as they are, but for control bytes, quotes and
 * backslashes (text: \xHH; JSON: escaped, and a name that is not UTF-8
 * gets "path_hex" beside a lossy "path").
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scan.h"
#include "tool.h"

typedef struct scan_link_s  scan_link_t;

struct scan_link_s {
    scan_link_t    *next;
    dev_t           dev;
    ino_t           ino;
    char          **paths;
    size_t          npaths;
    scan_result_t   r;              /* set once the file is hashed */
    int             done;
};

/* the inodes with several links, hashed by inode number */
#define SCAN_LINK_BUCKETS  4096

struct scan_report_s {
    FILE           *out;
    scan_opts_t     opts;
    scan_link_t    *links[SCAN_LINK_BUCKETS];
};

scan_report_t *
scan_report_new(FILE *out, const scan_opts_t *o)
{
    scan_report_t  *rp;

    rp = calloc(1, sizeof(scan_report_t));
    if (rp == NULL) {
        return NULL;
    }

    rp->out = out;
    rp->opts = *o;

    return rp;
}

static scan_link_t *
scan_link_find(scan_report_t *rp, const struct stat *st)
{
    scan_link_t  *l;

    for (l = rp->links[st->st_ino % SCAN_LINK_BUCKETS]; l; l = l->next) {
        if (l->dev == st->st_dev && l->ino == st->st_ino) {
            return l;
        }
    }

    return NULL;
}

int
scan_report_link(scan_report_t *rp, const char *path, const struct stat *st)
{
    char        **paths;
    scan_link_t  *l;

    l = scan_link_find(rp, st);

    if (l == NULL) {
        l = calloc(1, sizeof(scan_link_t));
        if (l == NULL) {
            return -1;
        }

        l->dev = st->st_dev;
        l->ino = st->st_ino;
        l->next = rp->links[st->st_ino % SCAN_LINK_BUCKETS];
        rp->links[st->st_ino % SCAN_LINK_BUCKETS] = l;
    }

    paths = realloc(l->paths, (l->npaths + 1) * sizeof(char *));
    if (paths == NULL) {
        return -1;
    }

    l->paths = paths;
    l->paths[l->npaths] = strdup(path);
    if (l->paths[l->npaths] == NULL) {
        return -1;
    }

    /* 1: the inode was seen already, not to be hashed again */
    return l->npaths++ > 0;
}

static void
scan_json_path(FILE *out, const char *key, const char *path)
{
    char   hex[3];

    fprintf(out, "\"%s\":", key);

    if (tool_json_string(out, path)) {
        fprintf(out, ",\"%s_hex\":\"", key);
        for (const unsigned char *p = (const unsigned char *) path; *p; p++) {
            snprintf(hex, sizeof(hex), "%02x", *p);
            fputs(hex, out);
        }
        fputc('"', out);
    }
}

static void
scan_write(scan_report_t *rp, const scan_result_t *r, char **paths,
    size_t npaths)
{
    char         listed[32], mtime[32], entry[HDB_PDQ_HEX_LEN + 1];
    FILE        *out = rp->out;
    const char  *path = npaths ? paths[0] : r->path;

    tool_format_time((int64_t) r->st.st_mtime, mtime, sizeof(mtime));

    for (unsigned i = 0; i < r->nhits; i++) {
        const scan_hit_t  *h = &r->hits[i];

        tool_format_time(h->m.added, listed, sizeof(listed));
        hdb_hex_encode(h->m.listed, HDB_PDQ_SIZE, entry);

        if (rp->opts.json) {
            fputc('{', out);
            scan_json_path(out, "path", path);

            if (npaths > 1) {
                fputs(",\"paths\":[", out);
                for (size_t k = 0; k < npaths; k++) {
                    fputs(k ? "," : "", out);
                    tool_json_string(out, paths[k]);
                }
                fputc(']', out);
            }

            fprintf(out, ",\"size\":%lld,\"mtime\":\"%s\",\"match\":\"%s\"",
                    (long long) r->st.st_size, mtime, h->match);

            if (h->pdq) {
                fprintf(out, ",\"entry\":\"pdq:%s\",\"distance\":%u,"
                        "\"variant\":\"%s\",\"format\":\"%s\"", entry,
                        h->m.distance, hdb_pdq_variant_name(h->m.variant),
                        r->format);
                if (h->frame >= 0) {
                    fprintf(out, ",\"frame\":%d", h->frame);
                }
                if (h->time >= 0) {
                    fprintf(out, ",\"time\":%.3f", h->time);
                }
                if (h->m.video[0]) {
                    fputs(",\"video\":", out);
                    tool_json_string(out, h->m.video);
                }
                if (h->vpdq) {
                    fprintf(out, ",\"listed_frames\":%u,"
                            "\"listed_frames_matched\":%u,\"frames\":%u,"
                            "\"frames_matched\":%u", h->listed_frames,
                            h->listed_matched, h->frames, h->matched);
                }

            } else {
                fprintf(out, ",\"entry\":\"%s\",\"distance\":0", h->match);
            }

            fputs(",\"source\":", out);
            tool_json_string(out, h->m.source);
            fputs(",\"category\":", out);
            tool_json_string(out, h->m.category);
            fprintf(out, ",\"listed\":\"%s\",\"allowed\":%s}\n", listed,
                    h->m.allowed ? "true" : "false");
            continue;
        }

        tool_text_escaped(out, path);
        fprintf(out, ": %s", h->match);

        if (h->pdq) {
            fprintf(out, " entry=pdq:%s distance=%u variant=%s format=%s",
                    entry, h->m.distance, hdb_pdq_variant_name(h->m.variant),
                    r->format);
            if (h->frame >= 0) {
                fprintf(out, " frame=%d", h->frame);
            }
            if (h->time >= 0) {
                fprintf(out, " time=%.3f", h->time);
            }
            if (h->m.video[0]) {
                fputs(" video=\"", out);
                tool_text_escaped(out, h->m.video);
                fputc('"', out);
            }
            if (h->vpdq) {
                fprintf(out, " listed_frames=%u/%u frames=%u/%u",
                        h->listed_matched, h->listed_frames, h->matched,
                        h->frames);
            }
        }

        fprintf(out, " source=%s category=%s listed=%s%s", h->m.source,
                h->m.category[0] ? h->m.category : "-", listed,
                h->m.allowed ? " allowed" : "");

        for (size_t k = 1; k < npaths; k++) {
            fputs(" also=\"", out);
            tool_text_escaped(out, paths[k]);
            fputc('"', out);
        }

        fputc('\n', out);
    }
}

int
scan_report_add(scan_report_t *rp, const scan_result_t *r)
{
    scan_link_t  *l;

    if (r->st.st_nlink > 1 && (l = scan_link_find(rp, &r->st)) != NULL) {
        /* reported at the end, with every path */
        l->r = *r;
        l->r.path = NULL;
        l->done = 1;
        return 0;
    }

    scan_write(rp, r, NULL, 0);

    return 0;
}

int
scan_report_finish(scan_report_t *rp)
{
    for (size_t b = 0; b < SCAN_LINK_BUCKETS; b++) {
        for (scan_link_t *l = rp->links[b]; l; l = l->next) {
            if (l->done) {
                scan_write(rp, &l->r, l->paths, l->npaths);
            }
        }
    }

    return fflush(rp->out) == 0 ? 0 : -1;
}

void
scan_report_free(scan_report_t *rp)
{
    scan_link_t  *l, *next;

    if (rp == NULL) {
        return;
    }

    for (size_t b = 0; b < SCAN_LINK_BUCKETS; b++) {
        for (l = rp->links[b]; l; l = next) {
            next = l->next;
            for (size_t k = 0; k < l->npaths; k++) {
                free(l->paths[k]);
            }
            free(l->paths);
            free(l);
        }
    }

    free(rp);
}
