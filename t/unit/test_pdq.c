/*
 * PDQ against the reference's hashes (t/data/pdq-vectors): every image,
 * bit for bit, its quality, and the 8 dihedral variants.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>

#include "hdb_jpeg.h"
#include "hdb_pdq.h"
#include "hdb_jpeg.h"
#include "hdb_media.h"
#include "hdb_pdq.h"
#include "tap.h"

#define VECTORS "t/data/pdq-vectors"

static unsigned char *
slurp(const char *path, size_t *len)
{
    FILE           *f = fopen(path, "rb");
    unsigned char  *buf;
    long            n;

    if (f == NULL) {
        return NULL;
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t) n);
    if (buf && fread(buf, 1, (size_t) n, f) != (size_t) n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t) n;
    return buf;
}

static int media(const unsigned char *jpeg, size_t len, int exact,
    hdb_media_frame_t *f, const char **why);

/*
 * A vector's PDQ through the media layer, as the module and "hashdb
 * hash" get it: the exact path (the reference's full RGB decode) or the
 * fast one (scaled greyscale); the frame's hashes back as hdb_pdq_hash_t.
 */
static int
hash_file_media(const char *name, int exact, hdb_pdq_hash_t *h,
    hdb_pdq_hash_t *v, int *quality)
{
    char                hex[HDB_PDQ_HEX_LEN + 1], path[512];
    size_t              len;
    const char         *why;
    unsigned char      *jpeg;
    hdb_media_frame_t   fr;

    snprintf(path, sizeof(path), VECTORS "/images/%s", name);
    jpeg = slurp(path, &len);
    if (jpeg == NULL) {
        return -1;
    }

    if (media(jpeg, len, exact, &fr, &why) != HDB_MEDIA_OK) {
        free(jpeg);
        return -1;
    }

    free(jpeg);

    for (int i = 0; i < HDB_PDQ_VARIANTS; i++) {
        hdb_hex_encode(fr.variants[i], HDB_PDQ_SIZE, hex);
        hdb_pdq_from_hex(hex, HDB_PDQ_HEX_LEN, i == 0 ? h : &v[i]);
        if (v && i == 0) {
            v[0] = *h;
        }
        if (v == NULL) {
            break;
        }
    }

    *quality = fr.quality;
    return 0;
}

static int
hash_file_fast(const char *name, hdb_pdq_hash_t *h)
{
    int  quality;

    return hash_file_media(name, 0, h, NULL, &quality);
}

static int
hash_file(const char *name, hdb_pdq_hash_t *h, hdb_pdq_hash_t *v,
    int *quality)
{
    return hash_file_media(name, 1, h, v, quality);
}

/*
 * Fills the stack below the caller with 0x7f bytes, so that a callee
 * that reads a local it never wrote sees a huge value, not a lucky 0.
 */
static __attribute__((noinline)) void
dirty_stack(void)
{
    volatile unsigned char  junk[16384];

    for (size_t i = 0; i < sizeof(junk); i++) {
        junk[i] = 0x7f;
    }
}

/* a JPEG's PDQ as the module and hashdb hash get it: the media layer */
static int
media(const unsigned char *jpeg, size_t len, int exact,
    hdb_media_frame_t *f, const char **why)
{
    int                  rc;
    hdb_media_limits_t   lim = { .exact = exact };
    static hdb_media_result_t  r;

    rc = hdb_media_hash(jpeg, len, &lim, &r);
    if (rc == HDB_MEDIA_OK) {
        *f = r.frames[0];
    }

    *why = r.why;
    hdb_media_free(&r);
    return rc;
}

int
main(void)
{
    FILE        *f;
    char         line[2048], hex[HDB_PDQ_HEX_LEN + 1];
    int          n = 0;
    hdb_pdq_hash_t   h, v[HDB_PDQ_VARIANTS];

    f = fopen(VECTORS "/expected.csv", "r");
    if (f == NULL) {
        ok(0, "open " VECTORS "/expected.csv");
        return done_testing();
    }

    while (fgets(line, sizeof(line), f)) {
        char  *want = strtok(line, ",");
        char  *q = strtok(NULL, ",");
        char  *name = strtok(NULL, ",\n");
        int    quality;

        if (want == NULL || q == NULL || name == NULL) {
            continue;
        }

        if (hash_file(name, &h, NULL, &quality) != 0) {
            ok(0, "%s: decode", name);
            continue;
        }

        hdb_pdq_to_hex(&h, hex);
        ok(strcmp(hex, want) == 0, "%s: the reference's hash", name);
        if (strcmp(hex, want) != 0) {
            hdb_pdq_hash_t  ref;

            hdb_pdq_from_hex(want, strlen(want), &ref);
            printf("#   got  %s\n#   want %s (distance %d)\n", hex, want,
                   hdb_pdq_hash_distance(&h, &ref));
        }
        is_int(quality, atoi(q), "%s: quality", name);
        n++;

        /* the fast path stays within 10 bits where quality >= 80 */
        if (atoi(q) >= 80) {
            hdb_pdq_hash_t  ref, fast;

            hdb_pdq_from_hex(want, strlen(want), &ref);
            if (hash_file_fast(name, &fast) != 0) {
                ok(0, "%s: fast decode", name);
            } else {
                int  d = hdb_pdq_hash_distance(&fast, &ref);

                ok(d <= 10, "%s: fast path %d bits from the reference", name,
                   d);
            }
        }
    }

    fclose(f);
    ok(n == 29, "all %d vectors checked", n);

    f = fopen(VECTORS "/expected-dihedral.txt", "r");
    while (f && fgets(line, sizeof(line), f)) {
        char  *field[11];
        int    quality, nf = 0;

        for (char *tok = strtok(line, ",\n"); tok && nf < 11;
             tok = strtok(NULL, ",\n"))
        {
            field[nf++] = tok;
        }

        if (nf != 10 || hash_file(field[9], &h, v, &quality) != 0) {
            continue;
        }

        for (int i = 0; i < HDB_PDQ_VARIANTS; i++) {
            hdb_pdq_to_hex(&v[i], hex);
            ok(strcmp(hex, field[i]) == 0, "%s: variant %d", field[9], i);
            if (strcmp(hex, field[i]) != 0) {
                printf("#   got  %s\n#   want %s\n", hex, field[i]);
            }
        }
    }

    if (f) {
        fclose(f);
    }

    /* hostile input, through the media layer: refused, never a crash */
    {
        int                 rc;
        size_t              len;
        unsigned char      *jpeg;
        hdb_media_limits_t  capped = { .max_pixels = 50000000,
                                       .max_frames = 1 };
        hdb_media_limits_t  open = { .max_frames = 1 };
        hdb_media_result_t  r;

        rc = hdb_media_hash((const unsigned char *) "%PDF-1.7\n", 9, &open,
                            &r);
        is_int(rc, HDB_MEDIA_EFORMAT, "not a format it decodes, by content");
        is_int(hdb_media_sniff((const unsigned char *) "\xff\xd8", 2),
               HDB_MEDIA_MORE, "two bytes of a JPEG: more needed to tell");
        is_int(hdb_media_sniff((const unsigned char *) "\xff\xd8\xff", 3),
               HDB_MEDIA_JPEG, "a JPEG by its first three bytes");
        is_int(hdb_media_sniff((const unsigned char *) "PK\x03\x04", 4),
               HDB_MEDIA_MORE, "4 bytes of a zip: an ISO box could follow");
        is_int(hdb_media_sniff((const unsigned char *)
                               "PK\x03\x04\x14\0\0\0\x08\0", 10),
               HDB_MEDIA_NONE, "a zip is no image");

        /* a real JPEG whose frame header declares 3.6 G pixels */
        jpeg = slurp(VECTORS "/images/misc-images--wee.jpg", &len);
        for (size_t i = 2; jpeg && i + 9 < len && jpeg[i] == 0xff; ) {
            if (jpeg[i + 1] == 0xc0 || jpeg[i + 1] == 0xc2) {
                /* 60000 x 60000: JPEG allows up to 65500 per side */
                jpeg[i + 5] = jpeg[i + 7] = 0xea;
                jpeg[i + 6] = jpeg[i + 8] = 0x60;
                break;
            }

            i += 2 + (size_t) (jpeg[i + 2] << 8 | jpeg[i + 3]);    /* segment */
        }
        rc = hdb_media_hash(jpeg, len, &capped, &r);
        ok(rc == HDB_MEDIA_ETOOLARGE && r.nframes == 0,
           "60000 x 60000 declared: refused before decoding (%s)",
           hdb_media_strerror(rc, &r));
        free(jpeg);

        jpeg = slurp(VECTORS "/images/misc-images--wee.jpg", &len);
        for (size_t cut = 3; jpeg && cut < len; cut += len / 40 + 1) {
            rc = hdb_media_hash(jpeg, cut, &open, &r);
            hdb_media_free(&r);
        }
        ok(jpeg != NULL,
           "truncated at 40 places: decoded or refused, no crash");

        for (size_t i = 200; jpeg && i < len; i += 97) {
            jpeg[i] ^= 0x5a;   /* corrupt the entropy-coded data */
        }
        rc = hdb_media_hash(jpeg, len, &open, &r);
        ok(rc == HDB_MEDIA_OK || rc == HDB_MEDIA_ECORRUPT,
           "corrupted data: decoded or refused (%s)",
           hdb_media_strerror(rc, &r));
        hdb_media_free(&r);
        free(jpeg);

        /* cut before its frame header: no size, whatever the stack held */
        jpeg = slurp(VECTORS "/images/dih--bridge-1-original.jpg", &len);
        for (int i = 0; i < 3; i++) {
            dirty_stack();
            rc = hdb_media_hash(jpeg, 100, &open, &r);
            hdb_media_free(&r);
            if (rc != HDB_MEDIA_ECORRUPT) {
                break;
            }
        }
        is_int(rc, HDB_MEDIA_ECORRUPT,
               "the first 100 bytes of a JPEG: refused as corrupt, 3 times");

        open.max_bytes = 1000;
        rc = hdb_media_hash(jpeg, len, &open, &r);
        is_int(rc, HDB_MEDIA_ETOOLARGE, "over the byte limit: refused");
        free(jpeg);
    }

    /* grey and CMYK JPEGs hash; 12-bit is refused with a reason */
    {
        int                rc, w, hh, ch, d;
        size_t             len;
        const char        *why;
        unsigned long      jlen;
        unsigned char     *jpeg, *px, *cmyk, *out;
        tjhandle           tj;
        hdb_media_frame_t  ref, r;

        jpeg = slurp(VECTORS "/images/bridge-mods--aaa-orig.jpg", &len);
        media(jpeg, len, 1, &ref, &why);
        rc = hdb_jpeg_decode(jpeg, len, 0, &px, &w, &hh, &ch, &why);
        free(jpeg);

        tj = tjInitCompress();
        out = NULL;
        jlen = 0;
        tjCompress2(tj, px, w, 0, hh, TJPF_RGB, &out, &jlen, TJSAMP_GRAY, 90,
                    0);
        ok(media(out, jlen, 0, &r, &why) == HDB_MEDIA_OK,
           "a greyscale JPEG hashes");
        d = 0;
        for (int i = 0; i < 32; i++) {
            d += __builtin_popcount(r.variants[0][i] ^ ref.variants[0][i]);
        }
        ok(d <= 16, "close to the colour original (%d bits)", d);
        tjFree(out);

        /* CMYK as Photoshop writes it: inverted, no colour transform */
        cmyk = malloc((size_t) w * hh * 4);
        for (size_t i = 0; cmyk && i < (size_t) w * hh; i++) {
            cmyk[4 * i] = px[3 * i];
            cmyk[4 * i + 1] = px[3 * i + 1];
            cmyk[4 * i + 2] = px[3 * i + 2];
            cmyk[4 * i + 3] = 255;
        }
        out = NULL;
        jlen = 0;
        tjCompress2(tj, cmyk, w, 0, hh, TJPF_CMYK, &out, &jlen, TJSAMP_444,
                    90, 0);
        for (int exact = 0; exact <= 1; exact++) {
            rc = media(out, jlen, exact, &r, &why);
            d = 0;
            for (int i = 0; rc == HDB_MEDIA_OK && i < 32; i++) {
                d += __builtin_popcount(r.variants[0][i]
                                        ^ ref.variants[0][i]);
            }
            ok(rc == HDB_MEDIA_OK && d <= 16,
               "a CMYK JPEG, %s path: hashed, %d bits from the original "
               "(%s)", exact ? "exact" : "fast", d, why);
        }

        /* 12 bits per sample in the frame header */
        for (size_t i = 2; i + 4 < jlen && out[i] == 0xff; ) {
            if (out[i + 1] == 0xc0) {
                out[i + 4] = 12;
                break;
            }
            i += 2 + (size_t) (out[i + 2] << 8 | out[i + 3]);
        }
        rc = media(out, jlen, 0, &r, &why);
        ok(rc == HDB_MEDIA_ECORRUPT && why && *why,
           "a 12-bit JPEG is refused with the decoder's reason: %s", why);

        tjFree(out);
        tjDestroy(tj);
        free(cmyk);
        free(px);
    }

    /* hex round trip and distance */
    {
        hdb_pdq_hash_t  a, b;

        hdb_pdq_from_hex("d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d"
                     "33e6339c4e9c9b22", 64, &a);
        hdb_pdq_to_hex(&a, hex);
        ok(strcmp(hex, "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d"
                       "33e6339c4e9c9b22") == 0, "hex round trip");
        b = a;
        b.w[0] ^= 0x8001;
        b.w[15] ^= 0x0100;
        is_int(hdb_pdq_hash_distance(&a, &b), 3, "Hamming distance");
        ok(hdb_pdq_from_hex("xyz", 3, &b) != 0, "bad hex refused");
    }

    return done_testing();
}
