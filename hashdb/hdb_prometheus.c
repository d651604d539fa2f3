/*
 * The hash set's gauges in Prometheus' text format: one text for the
 * module's upload_filter_metrics and for "hashdb stats --prometheus"
 * (node_exporter's textfile collector), so that both name, label and
 * explain them alike.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hashdb.h"


typedef struct {
    hdb_text_cb   cb;
    void         *data;
    int           what;     /* 0 entries, 1 update time, 2 sequence */
    int           rc;       /* the callback's non-zero return, or
                               EOVERFLOW */
} hdb_prom_walk_t;


static const char  *hdb_prom_help[] = {
    "# HELP upload_filter_hashset_entries Entries of each source of the "
    "hash set, by type.\n"
    "# TYPE upload_filter_hashset_entries gauge\n",
    "# HELP upload_filter_hashset_updated_timestamp_seconds When each "
    "source was last updated.\n"
    "# TYPE upload_filter_hashset_updated_timestamp_seconds gauge\n",
    "# HELP upload_filter_hashset_sequence The sequence number of each "
    "source's last signed update.\n"
    "# TYPE upload_filter_hashset_sequence gauge\n"
};


/* one piece of the text to the callback; its non-zero return is kept */
static int
hdb_prom_printf(hdb_prom_walk_t *w, const char *fmt, ...)
{
    int      n;
    char     text[512];
    va_list  args;

    va_start(args, fmt);
    n = vsnprintf(text, sizeof(text), fmt, args);
    va_end(args);

    if (n < 0 || (size_t) n >= sizeof(text)) {
        w->rc = EOVERFLOW;
        return w->rc;
    }

    w->rc = w->cb(text, (size_t) n, w->data);
    return w->rc;
}


/* source names are letters, digits, '.', '_', '-': no label escaping */
static int
hdb_prom_source(const hdb_source_t *src, void *data)
{
    hdb_prom_walk_t  *w = data;

    switch (w->what) {

    case 0:
        for (int t = 0; t < HDB_NTYPES; t++) {
            if (hdb_prom_printf(w, "upload_filter_hashset_entries"
                                "{source=\"%s\",type=\"%s\"} %llu\n",
                                src->name, hdb_type_name((hdb_type_t) t),
                                (unsigned long long) src->count[t])
                != 0)
            {
                return 1;
            }
        }

        return hdb_prom_printf(w, "upload_filter_hashset_entries"
                               "{source=\"%s\",type=\"video\"} %llu\n",
                               src->name, (unsigned long long) src->videos)
               != 0;

    case 1:
        return hdb_prom_printf(w, "upload_filter_hashset_updated_timestamp_"
                               "seconds{source=\"%s\"} %lld\n", src->name,
                               (long long) src->updated)
               != 0;

    default:
        return hdb_prom_printf(w, "upload_filter_hashset_sequence"
                               "{source=\"%s\"} %llu\n", src->name,
                               (unsigned long long) src->seq)
               != 0;
    }
}


int
hdb_prometheus_gauges(hdb_t *db, hdb_reader_t *rd, const size_t *used,
    const size_t *resident, hdb_text_cb cb, void *data)
{
    int              rc;
    hdb_prom_walk_t  w;

    w.cb = cb;
    w.data = data;
    w.rc = 0;

    for (w.what = 0; w.what < 3; w.what++) {
        if (hdb_prom_printf(&w, "%s", hdb_prom_help[w.what]) != 0) {
            return w.rc;
        }

        rc = hdb_reader_sources(rd, hdb_prom_source, &w);
        if (w.rc != 0) {
            return w.rc;
        }

        if (rc != 0) {
            return rc;
        }
    }

    /* a reserved map is address space, not the set's: not a gauge */
    if (!hdb_map_reserved(db)
        && hdb_prom_printf(&w, "# HELP upload_filter_hashset_map_bytes The "
                           "LMDB map of the hash set.\n"
                           "# TYPE upload_filter_hashset_map_bytes gauge\n"
                           "upload_filter_hashset_map_bytes %zu\n",
                           hdb_mapsize(db))
           != 0)
    {
        return w.rc;
    }

    if (used == NULL || resident == NULL) {
        return 0;
    }

    return hdb_prom_printf(&w, "# HELP upload_filter_hashset_bytes The hash "
                           "set's bytes in use.\n"
                           "# TYPE upload_filter_hashset_bytes gauge\n"
                           "upload_filter_hashset_bytes %zu\n"
                           "# HELP upload_filter_hashset_resident_bytes Of "
                           "them, in memory now.\n"
                           "# TYPE upload_filter_hashset_resident_bytes "
                           "gauge\n"
                           "upload_filter_hashset_resident_bytes %zu\n",
                           *used, *resident);
}
