/*
 * hashdb hash: the digests the upload filter computes for a file.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdb_digest.h"
#include "hdb_media.h"
#include "tool.h"

static const char  hash_usage[] =
    "usage: hashdb hash [--db DB [--distance N]] [--variants] [--exact]\n"
    "                   [--frames N] [--sampling exact|fast|keyframes]\n"
    "                   [--interval SECONDS] [--format vpdq] FILE...\n"
    "       hashdb hash --formats\n"
    "\n"
    "Prints TYPE:HEX  FILE for each digest of each file (\"-\": standard\n"
    "input).  Without --db: MD5, SHA-1 and SHA-256.  With --db: only the\n"
    "digests the upload filter computes for that hash set.  For an image\n"
    "(JPEG, PNG, GIF, WebP, HEIC, AVIF, BMP, told by its content) also its\n"
    "PDQ hash and quality as the upload filter computes them, one line per\n"
    "frame of an animation (\"frame=N\", up to --frames, default 32,\n"
    "sampled evenly beyond); --exact decodes JPEGs as the reference\n"
    "implementation does; --variants adds the 7 rotated and mirrored\n"
    "variants.  With --db, each frame's nearest listed PDQ hash within the\n"
    "distance (default 31) over all 8 variants is printed too.\n"
    "For a video (MP4, MOV, 3GP, WebM, MKV, AVI, MPEG-TS), one line per\n"
    "sampled frame (\"frame=N time=T\"), one per --interval seconds\n"
    "(default 1, vPDQ's; 0: every frame); --sampling exact (the default)\n"
    "decodes every frame and keeps the reference's, fast skips the frames\n"
    "nothing refers to and the loop filter, keyframes decodes key frames\n"
    "only (see README: Video).  --format vpdq\n"
    "writes the reference's vPDQ lines instead (frame,quality,hash,time),\n"
    "for a list of one video.  With --db, a video's nearest listed video\n"
    "and its match percentages are printed.\n"
    "--formats lists the formats this build decodes, and with what.\n";

typedef struct {
    int            variants;
    int            exact;
    int            sampling;
    int            vpdq;        /* --format vpdq */
    double         interval;
    unsigned       frames;
    unsigned       distance;
    hdb_reader_t  *rd;          /* with --db */
} hash_opts_t;


/*
 * The PDQ hashes of a whole image in memory (each sampled frame of an
 * animation), and the nearest listed one of each frame.
 */
/* a video's nearest listed video by vPDQ's rule, at the default rule */
static int
hash_video_match(const hdb_media_result_t *r, const char *path,
    const hash_opts_t *o)
{
    int                rc;
    char               hex[HDB_PDQ_HEX_LEN + 1];
    hdb_vpdq_rule_t    rule;
    hdb_vpdq_match_t   m;
    hdb_vpdq_frame_t  *frames;

    frames = malloc((r->nframes ? r->nframes : 1) * sizeof(*frames));
    if (frames == NULL) {
        tool_error("%s: out of memory", path);
        return TOOL_FAILED;
    }

    for (unsigned k = 0; k < r->nframes; k++) {
        memcpy(frames[k].hash, r->frames[k].variants[0], HDB_PDQ_SIZE);
        frames[k].quality = r->frames[k].quality;
        frames[k].time = r->frames[k].time;
    }

    rule.distance = o->distance;
    rule.quality = HDB_PDQ_QUALITY_DEFAULT;
    rule.pc = HDB_VPDQ_PC_DEFAULT;
    rule.pq = HDB_VPDQ_PQ_DEFAULT;
    rule.sparse = o->sampling == HDB_VIDEO_KEYFRAMES;

    rc = hdb_reader_vpdq_match(o->rd, frames, r->nframes, &rule, &m);
    free(frames);

    if (rc == HDB_NOTFOUND) {
        printf("vpdq: no listed video matched  %s\n", path);
        return TOOL_OK;
    }

    if (rc != 0) {
        tool_error("%s", hdb_strerror(rc));
        return TOOL_FAILED;
    }

    hdb_hex_encode(m.m.listed, HDB_PDQ_SIZE, hex);
    printf("vpdq: listed video \"%s\"  %s  source=%s category=%s "
           "listed_frames=%u/%u (%u%%) frames=%u/%u (%u%%) time=%.3f "
           "pdq:%s distance=%u%s\n", m.video, path, m.m.source,
           m.m.category[0] ? m.m.category : "-", m.listed_matched,
           m.listed_frames, m.listed_matched * 100 / m.listed_frames,
           m.matched, m.frames, m.frames ? m.matched * 100 / m.frames : 0,
           m.time, hex, m.m.distance, m.m.allowed ? " allowed" : "");

    return TOOL_OK;
}

static int
hash_pdq(const unsigned char *img, size_t len, const char *path,
    const hash_opts_t *o)
{
    int                  rc, status;
    char                 hex[HDB_PDQ_HEX_LEN + 1], frame[32];
    hdb_match_t          m;
    hdb_media_limits_t   limits;
    hdb_media_result_t   r;
    hdb_media_frame_t   *f;

    /* 200 megapixels: more than any camera, less than a bomb */
    hdb_media_limits_default(&limits);
    limits.max_pixels = 200000000;
    limits.max_frames = o->frames;
    limits.max_total_pixels = 4 * (uint64_t) HDB_MEDIA_TOTAL_PIXELS_DEFAULT;
    limits.exact = o->exact;
    limits.sampling = o->sampling;
    limits.interval = o->interval;

    rc = hdb_media_hash(img, len, &limits, &r);
    if (rc != HDB_MEDIA_OK) {
        tool_error("%s: no PDQ hash: %s (%s)", path,
                   hdb_media_strerror(rc, &r), hdb_media_name(r.type));
        return TOOL_FAILED;
    }

    status = TOOL_OK;

    if (o->vpdq) {
        /* the reference's lines: frame,quality,hash,seconds */
        for (unsigned k = 0; k < r.nframes; k++) {
            f = &r.frames[k];
            hdb_hex_encode(f->variants[0], HDB_PDQ_SIZE, hex);
            printf("%u,%d,%s,%.3f\n", f->index, f->quality, hex, f->time);
        }

        hdb_media_free(&r);
        return status;
    }

    if (hdb_media_is_video(r.type) && o->rd) {
        status = hash_video_match(&r, path, o);
    }

    for (unsigned k = 0; k < r.nframes; k++) {
        f = &r.frames[k];
        frame[0] = '\0';

        if (hdb_media_is_video(r.type)) {
            snprintf(frame, sizeof(frame), " frame=%u time=%.3f", f->index,
                     f->time);

        } else if (r.total > 1) {
            snprintf(frame, sizeof(frame), " frame=%u", f->index);
        }

        for (int i = 0; i < (o->variants ? HDB_PDQ_VARIANTS : 1); i++) {
            /* the variants' names as the module's log lines give them */
            hdb_hex_encode(f->variants[i], HDB_PDQ_SIZE, hex);
            printf("pdq:%s  %s  quality=%d%s%s%s\n", hex, path, f->quality,
                   frame, o->variants ? " variant=" : "",
                   o->variants ? hdb_pdq_variant_name((unsigned) i) : "");
        }

        if (o->rd == NULL || hdb_media_is_video(r.type)) {
            continue;
        }

        rc = hdb_reader_pdq_match(o->rd,
                                  (const unsigned char (*)[HDB_PDQ_SIZE])
                                  f->variants, HDB_PDQ_VARIANTS, o->distance,
                                  &m);

        if (rc == HDB_NOTFOUND) {
            printf("pdq: no listed hash within %u  %s%s\n", o->distance,
                   path, frame);
            continue;
        }

        if (rc != 0) {
            tool_error("%s", hdb_strerror(rc));
            status = TOOL_FAILED;
            break;
        }

        hdb_hex_encode(m.listed, HDB_PDQ_SIZE, hex);
        printf("pdq: listed pdq:%s  %s  source=%s category=%s distance=%u "
               "variant=%s%s%s%s%s\n", hex, path, m.source,
               m.category[0] ? m.category : "-", m.distance,
               hdb_pdq_variant_name(m.variant), frame,
               m.video[0] ? " video=" : "", m.video,
               m.allowed ? " allowed" : "");
    }

    hdb_media_free(&r);

    return status;
}

static int
hash_file(hdb_digest_t *d, const char *path, const hash_opts_t *o)
{
    int              rc;
    FILE            *in;
    char             hex[HDB_HEX_MAX + 1];
    size_t           n, ilen, icap;
    hdb_digests_t    out;
    unsigned char   *img, *grown;
    unsigned char    buf[65536];

    in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (in == NULL) {
        tool_error("%s: %s", path, strerror(errno));
        return TOOL_FAILED;
    }

    hdb_digest_reset(d);

    /* an image is also kept whole, for PDQ */
    img = NULL;
    ilen = 0;
    icap = 0;

    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        hdb_digest_update(d, buf, n);

        if (ilen == 0 && img == NULL
            && hdb_media_sniff(buf, n) == HDB_MEDIA_NONE)
        {
            icap = (size_t) -1;     /* not an image: keep nothing */
        }

        if (icap != (size_t) -1) {
            if (ilen + n > icap) {
                icap = 2 * (ilen + n);
                grown = realloc(img, icap);
                if (grown == NULL) {
                    free(img);
                    tool_error("%s: out of memory", path);
                    return TOOL_FAILED;
                }
                img = grown;
            }

            memcpy(img + ilen, buf, n);
            ilen += n;
        }
    }

    if (ferror(in)) {
        tool_error("%s: %s", path, strerror(errno));
        if (in != stdin) {
            fclose(in);
        }
        free(img);
        return TOOL_FAILED;
    }

    if (in != stdin) {
        fclose(in);
    }

    if (hdb_digest_final(d, &out) != 0) {
        tool_error("%s: digest failed", path);
        free(img);
        return TOOL_FAILED;
    }

    for (int i = 0; !o->vpdq && i < HDB_NDIGESTS; i++) {
        hdb_type_t   t = hdb_types_by_cost[i];
        hdb_match_t  m;

        if (!(out.types & HDB_TYPE_BIT(t))) {
            continue;
        }

        hdb_hex_encode(out.md[t], hdb_type_size(t), hex);
        printf("%s:%s  %s\n", hdb_type_name(t), hex, path);

        if (o->rd == NULL) {
            continue;
        }

        /* with --db, whether it is listed, as for PDQ below */
        rc = hdb_reader_lookup(o->rd, t, out.md[t], &m);

        if (rc == HDB_NOTFOUND) {
            printf("%s: not listed  %s\n", hdb_type_name(t), path);

        } else if (rc != 0) {
            tool_error("%s", hdb_strerror(rc));
            free(img);
            return TOOL_FAILED;

        } else {
            printf("%s: listed %s:%s  %s  source=%s category=%s%s\n",
                   hdb_type_name(t), hdb_type_name(t), hex, path, m.source,
                   m.category[0] ? m.category : "-",
                   m.allowed ? " allowed" : "");
        }
    }

    if (img) {
        rc = hash_pdq(img, ilen, path, o);

        free(img);
        return rc;
    }

    return TOOL_OK;
}

int
cmd_hash(int argc, char **argv)
{
    int             c, rc, status;
    char           *end;
    hdb_t          *db;
    unsigned        types;
    const char     *dbpath;
    hash_opts_t     o;
    hdb_digest_t   *d;
    unsigned long   frames;

    static const struct option  opts[] = {
        { "db", required_argument, NULL, 'd' },
        { "distance", required_argument, NULL, 'D' },
        { "variants", no_argument, NULL, 'v' },
        { "exact", no_argument, NULL, 'e' },
        { "frames", required_argument, NULL, 'f' },
        { "formats", no_argument, NULL, 'F' },
        { "sampling", required_argument, NULL, 's' },
        { "interval", required_argument, NULL, 'i' },
        { "format", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    dbpath = NULL;
    memset(&o, 0, sizeof(o));
    o.distance = HDB_PDQ_DISTANCE_DEFAULT;
    optind = 1;

    o.frames = HDB_MEDIA_FRAMES_DEFAULT;
    o.interval = HDB_VIDEO_INTERVAL_DEFAULT;

    while ((c = getopt_long(argc, argv, ":d:D:vef:Fh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (tool_parse_sampling(optarg, &o.sampling) != TOOL_OK) {
                return TOOL_FAILED;
            }
            break;
        case 'i':
            o.interval = strtod(optarg, &end);
            if (*end || end == optarg || !(o.interval >= 0)
                || o.interval > 3600)
            {
                tool_error("--interval: not a number of seconds from 0 to "
                           "3600: %s", optarg);
                return TOOL_FAILED;
            }
            break;
        case 'o':
            if (strcmp(optarg, "vpdq") != 0) {
                tool_error("--format: only vpdq, not %s", optarg);
                return TOOL_FAILED;
            }
            o.vpdq = 1;
            break;
        case 'd':
            dbpath = optarg;
            break;
        case 'D':
            if (tool_parse_distance(optarg, &o.distance) != TOOL_OK) {
                return TOOL_FAILED;
            }
            break;
        case 'v':
            o.variants = 1;
            break;
        case 'e':
            o.exact = 1;
            break;
        case 'f':
            frames = strtoul(optarg, &end, 10);
            if (*end || end == optarg || frames == 0 || frames > 100000) {
                tool_error("--frames: not a number from 1 to 100000: %s",
                           optarg);
                return TOOL_FAILED;
            }
            o.frames = (unsigned) frames;
            break;
        case 'F':
            fputs(hdb_media_formats(), stdout);
            return TOOL_OK;
        case 'h':
            fputs(hash_usage, stdout);
            return TOOL_OK;
        default:
            return tool_bad_option(c, argv, hash_usage);
        }
    }

    if (optind == argc) {
        return tool_usage(hash_usage, "no FILE given");
    }

    types = HDB_DIGEST_TYPES;
    db = NULL;

    if (dbpath) {
        rc = tool_open(&db, dbpath, HDB_OPEN_RDONLY);
        if (rc != TOOL_OK) {
            return rc;
        }

        rc = hdb_reader_new(db, &o.rd);
        if (rc == 0) {
            rc = hdb_reader_begin(o.rd);
            if (rc == 0) {
                rc = hdb_reader_plan(o.rd, &types);
            }
        }

        if (rc != 0) {
            tool_error("%s: %s", dbpath, hdb_strerror(rc));
            hdb_reader_free(o.rd);
            hdb_close(db);
            return TOOL_FAILED;
        }
    }

    status = TOOL_OK;

    d = hdb_digest_new(types);
    if (d == NULL) {
        tool_error("cannot set up the digests");
        status = TOOL_FAILED;
    }

    for (int i = optind; d && i < argc; i++) {
        if (hash_file(d, argv[i], &o) != TOOL_OK) {
            status = TOOL_FAILED;
        }
    }

    hdb_digest_free(d);
    hdb_reader_free(o.rd);
    hdb_close(db);

    return status;
}
