/*
 * The media layer against the reference: for each row of a vectors
 * table (file, frame, pdq, ..., rgb_sha256; the format of
 * ../shared/pdq-vectors-formats/expected.csv), the frame's decoded RGB
 * must have the reference's SHA-256 and its PDQ hash must be the
 * reference's, bit for bit.  JPEG rows are decoded by TurboJPEG, not by
 * the reference's libjpeg: there the pixels may differ, and the hash
 * must be within a few bits.  Rows of a format this build does not
 * decode (TIFF) are reported as skipped, never passed.
 *
 * A row with no pdq checks the pixels alone (fuzz/seed-pixels.csv:
 * Pillow's pixels of the fuzz seeds).
 *
 * usage: test_media TABLE.csv     (files named relative to its folder)
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hdb_media.h"
#include "hdb_pdq.h"
#include "tap.h"

#define JPEG_BITS  8        /* TurboJPEG against libjpeg: a few bits */

typedef struct {
    unsigned  want;
    char      sha[65];
} pixels_t;

static void
sha256_rgb(void *data, unsigned frame, const unsigned char *rgb, int w, int h)
{
    pixels_t       *px = data;
    unsigned char   md[32];
    unsigned int    n;

    if (frame != px->want) {
        return;
    }

    EVP_Digest(rgb, (size_t) w * h * 3, md, &n, EVP_sha256(), NULL);

    for (int i = 0; i < 32; i++) {
        snprintf(px->sha + 2 * i, 3, "%02x", md[i]);
    }
}

static unsigned char *
slurp(const char *path, size_t *len)
{
    FILE           *f;
    long            n;
    unsigned char  *p;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    p = malloc(n > 0 ? (size_t) n : 1);

    if (p && fread(p, 1, (size_t) n, f) != (size_t) n) {
        free(p);
        p = NULL;
    }

    fclose(f);
    *len = (size_t) n;
    return p;
}

/* the i-th comma-separated field of line (no quoting in these tables) */
static void
field(const char *line, int i, char *out, size_t size)
{
    size_t  n;

    while (i-- > 0 && line) {
        line = strchr(line, ',');
        line = line ? line + 1 : NULL;
    }

    if (line == NULL) {
        out[0] = '\0';
        return;
    }

    n = strcspn(line, ",\r\n");
    n = n < size - 1 ? n : size - 1;
    memcpy(out, line, n);
    out[n] = '\0';
}

int
main(int argc, char **argv)
{
    int                  rc, rc2, d, col_rgb, col_fmt;
    char                 line[4096], path[1024], file[512], frame[16],
                         pdq[80], fmt[16], rgb[80], name[64], hex[65],
                         dir[512], *slash;
    FILE                *csv;
    size_t               len;
    unsigned             k;
    pixels_t             px;
    unsigned char       *img;
    hdb_pdq_hash_t       want, got;
    hdb_media_limits_t   lim;
    hdb_media_result_t   r, r2;

    if (argc != 2) {
        fprintf(stderr, "usage: test_media TABLE.csv\n");
        return 2;
    }

    csv = fopen(argv[1], "r");
    if (csv == NULL) {
        perror(argv[1]);
        return 2;
    }

    /* the folder the table's file names are relative to */
    snprintf(dir, sizeof(dir), "%s", argv[1]);
    slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
    } else {
        snprintf(dir, sizeof(dir), ".");
    }

    /* the columns, by name */
    col_rgb = col_fmt = -1;

    if (fgets(line, sizeof(line), csv)) {
        for (int i = 0; i < 40; i++) {
            field(line, i, name, sizeof(name));

            if (strcmp(name, "rgb_sha256") == 0) {
                col_rgb = i;
            }

            if (strcmp(name, "format") == 0) {
                col_fmt = i;
            }
        }
    }

    if (col_rgb < 0 || col_fmt < 0) {
        fprintf(stderr, "%s: no rgb_sha256 or format column\n", argv[1]);
        return 2;
    }

    while (fgets(line, sizeof(line), csv)) {
        field(line, 0, file, sizeof(file));
        field(line, 1, frame, sizeof(frame));
        field(line, 2, pdq, sizeof(pdq));
        field(line, col_fmt, fmt, sizeof(fmt));
        field(line, col_rgb, rgb, sizeof(rgb));

        snprintf(path, sizeof(path), "%s/%s", dir, file);
        img = slurp(path, &len);
        ok(img != NULL, "%s: read", file);
        if (img == NULL) {
            continue;
        }

        if (hdb_media_sniff(img, len) == HDB_MEDIA_NONE) {
            printf("ok %d - # skip %s: %s is not a format this build "
                   "decodes\n", ++tap_n, file, fmt);
            free(img);
            continue;
        }

        memset(&lim, 0, sizeof(lim));
        memset(&px, 0, sizeof(px));
        px.want = (unsigned) atoi(frame);
        lim.exact = 1;
        lim.pixels = sha256_rgb;
        lim.pixels_data = &px;

        rc = hdb_media_hash(img, len, &lim, &r);

        /* the module's path: no pixels asked for (a still GIF is then
           hashed from its indices) */
        lim.pixels = NULL;
        rc2 = hdb_media_hash(img, len, &lim, &r2);
        free(img);

        ok(rc == HDB_MEDIA_OK, "%s: decoded as %s", file,
           hdb_media_name(r.type));
        if (rc != HDB_MEDIA_OK) {
            printf("#   %s\n", hdb_media_strerror(rc, &r));
            hdb_media_free(&r2);
            continue;
        }

        for (k = 0; k < r.nframes && r.frames[k].index != px.want; k++) {
            /* void */
        }

        ok(k < r.nframes, "%s: frame %u of %u", file, px.want, r.total);
        if (k == r.nframes) {
            hdb_media_free(&r);
            hdb_media_free(&r2);
            continue;
        }

        ok(rc2 == HDB_MEDIA_OK && k < r2.nframes
           && memcmp(r2.frames[k].variants, r.frames[k].variants,
                     sizeof(r.frames[k].variants)) == 0,
           "%s frame %s: the same hashes without the pixels", file, frame);
        hdb_media_free(&r2);

        hdb_hex_encode(r.frames[k].variants[0], HDB_PDQ_SIZE, hex);
        hdb_pdq_from_hex(pdq, strlen(pdq), &want);
        hdb_pdq_from_hex(hex, strlen(hex), &got);
        d = hdb_pdq_hash_distance(&want, &got);

        if (pdq[0] == '\0') {
            ok(strcmp(px.sha, rgb) == 0, "%s frame %s: Pillow's pixels",
               file, frame);
            if (strcmp(px.sha, rgb) != 0) {
                printf("#   got %s\n#  want %s\n", px.sha, rgb);
            }

        } else if (r.type == HDB_MEDIA_JPEG) {
            ok(d <= JPEG_BITS, "%s frame %s: PDQ within %d bits (%d)", file,
               frame, JPEG_BITS, d);

        } else {
            ok(strcmp(px.sha, rgb) == 0, "%s frame %s: the reference's "
               "pixels", file, frame);
            if (strcmp(px.sha, rgb) != 0) {
                printf("#   got %s\n#  want %s\n", px.sha, rgb);
            }

            ok(d == 0, "%s frame %s: the reference's PDQ hash", file, frame);
            if (d != 0) {
                printf("#   got %s\n#  want %s (%d bits)\n", hex, pdq, d);
            }
        }

        hdb_media_free(&r);
    }

    fclose(csv);

    return done_testing();
}
