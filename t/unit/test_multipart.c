/*
 * Unit tests of the multipart parser: every body is fed whole, split in
 * two at every byte offset, and one byte at a time; each way must give
 * the same parts, the same bytes and the same result.
 */

#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "uf_multipart.h"

typedef struct {
    char    out[65536];
    size_t  len;
    int     stop_at_part;   /* begin returns 7 for this part index */
} transcript_t;

static void
emit(transcript_t *t, const void *p, size_t n)
{
    if (t->len + n < sizeof(t->out)) {
        memcpy(t->out + t->len, p, n);
        t->len += n;
        t->out[t->len] = '\0';
    }
}

static void
emitf(transcript_t *t, const char *s)
{
    emit(t, s, strlen(s));
}

static int
on_begin(void *data, const uf_mp_part_t *part)
{
    transcript_t  *t = data;
    char           buf[32];

    if (t->stop_at_part && (int) part->index == t->stop_at_part) {
        return 7;
    }

    snprintf(buf, sizeof(buf), "[B%u name=", part->index);
    emitf(t, buf);
    emit(t, part->name ? (const char *) part->name : "(none)",
         part->name ? part->name_len : 6);
    emitf(t, " filename=");
    emit(t, part->filename ? (const char *) part->filename : "(none)",
         part->filename ? part->filename_len : 6);
    emitf(t, "]");
    return 0;
}

static int
on_body(void *data, const unsigned char *p, size_t len)
{
    emit(data, p, len);
    return 0;
}

static int
on_end(void *data, const uf_mp_part_t *part, int truncated)
{
    char  buf[32];

    snprintf(buf, sizeof(buf), "[E%u%s]", part->index,
             truncated ? " truncated" : "");
    emitf(data, buf);
    return 0;
}

static const uf_mp_callbacks_t  callbacks = { on_begin, on_body, on_end };

/* feeds body in the given pieces; returns the parser's final result */
static int
run(const char *boundary, const char *body, size_t len, const size_t *cuts,
    size_t ncuts, transcript_t *t, int stop_at_part)
{
    int        rc;
    size_t     from;
    uf_mp_t   *mp;

    memset(t, 0, sizeof(*t));
    t->stop_at_part = stop_at_part;

    mp = malloc(sizeof(uf_mp_t));
    uf_mp_init(mp, (const unsigned char *) boundary, strlen(boundary),
               &callbacks, t);

    rc = UF_MP_OK;
    from = 0;

    for (size_t i = 0; i <= ncuts && rc == UF_MP_OK; i++) {
        size_t  to = i < ncuts ? cuts[i] : len;

        rc = uf_mp_feed(mp, (const unsigned char *) body + from, to - from);
        from = to;
    }

    if (rc == UF_MP_OK) {
        rc = uf_mp_finish(mp);
    }

    free(mp);
    return rc;
}

static void
check(const char *what, const char *boundary, const char *body, int want_rc,
    const char *want)
{
    int            rc;
    size_t         len, cut, bad, *cuts;
    transcript_t  *t;

    t = malloc(sizeof(*t));
    len = strlen(body);

    rc = run(boundary, body, len, NULL, 0, t, 0);
    is_int(rc, want_rc, "%s: whole body gives %s", what,
           uf_mp_strerror(want_rc));
    ok(strcmp(t->out, want) == 0, "%s: whole body gives the parts", what);
    if (strcmp(t->out, want) != 0) {
        printf("#   got  \"%s\"\n#   want \"%s\"\n", t->out, want);
    }

    bad = 0;
    for (cut = 0; cut <= len; cut++) {
        rc = run(boundary, body, len, &cut, 1, t, 0);
        if (rc != want_rc || strcmp(t->out, want) != 0) {
            if (bad++ == 0) {
                printf("#   split at %zu: rc %d, got \"%s\"\n",
                       cut, rc, t->out);
            }
        }
    }
    ok(bad == 0, "%s: the same split at each of %zu offsets", what, len + 1);

    cuts = malloc((len + 1) * sizeof(size_t));
    for (size_t i = 0; i < len; i++) {
        cuts[i] = i;
    }
    rc = run(boundary, body, len, cuts, len, t, 0);
    ok(rc == want_rc && strcmp(t->out, want) == 0,
       "%s: the same fed one byte at a time", what);
    free(cuts);
    free(t);
}

static void
test_boundary(void)
{
    const unsigned char  *b;
    size_t                n;
    int                   rc;

#define CT(s) (const unsigned char *) (s), strlen(s)

    rc = uf_mp_boundary(CT("multipart/form-data; boundary=abc123"), &b, &n);
    ok(rc == 1 && n == 6 && memcmp(b, "abc123", 6) == 0, "plain boundary");

    rc = uf_mp_boundary(CT("Multipart/Form-Data; charset=utf-8; "
                           "BOUNDARY=\"a b;c\""), &b, &n);
    ok(rc == 1 && n == 5 && memcmp(b, "a b;c", 5) == 0,
       "quoted boundary, any case, after another parameter");

    rc = uf_mp_boundary(CT("multipart/mixed; name=\"x;boundary=no\"; "
                           "boundary=yes"), &b, &n);
    ok(rc == 1 && n == 3 && memcmp(b, "yes", 3) == 0,
       "a quoted ';' in another parameter is skipped");

    is_int(uf_mp_boundary(CT("multipart/form-data"), &b, &n),
           UF_MP_EDELIMITER, "multipart without boundary is an error");
    is_int(uf_mp_boundary(CT("multipart/form-data; boundary="), &b, &n),
           UF_MP_EDELIMITER, "empty boundary is an error");
    is_int(uf_mp_boundary(CT("application/octet-stream"), &b, &n), 0,
           "other types are not multipart");
    is_int(uf_mp_boundary(CT("text/plain; boundary=x"), &b, &n), 0,
           "a boundary parameter alone does not make multipart");

    char  longct[400];
    snprintf(longct, sizeof(longct), "multipart/form-data; boundary=%0*d",
             UF_MP_BOUNDARY_MAX + 1, 0);
    is_int(uf_mp_boundary(CT(longct), &b, &n), UF_MP_EDELIMITER,
           "a boundary over %d bytes is an error", UF_MP_BOUNDARY_MAX);
}

int
main(void)
{
    transcript_t  *t;

    test_boundary();

    check("one file", "XyZ",
          "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; "
          "filename=\"a.bin\"\r\nContent-Type: image/jpeg\r\n\r\n"
          "DATA\r\n--XyZ--\r\n",
          UF_MP_OK, "[B1 name=f filename=a.bin]DATA[E1]");

    check("field and file", "b",
          "--b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n"
          "hello\r\n--b\r\ncontent-disposition: form-data; name=upload; "
          "filename=x.jpg\r\n\r\n\x01\x02\r\n--b--",
          UF_MP_OK,
          "[B1 name=title filename=(none)]hello[E1]"
          "[B2 name=upload filename=x.jpg]\x01\x02[E2]");

    check("near-delimiters inside data", "bound",
          "--bound\r\n\r\n"
          "a\r\n--boun\r\n-\r\r\n--bounx--bound\n--bound\r--bound\r\n\r\n"
          "\r\n--bound--",
          UF_MP_OK,
          "[B1 name=(none) filename=(none)]"
          "a\r\n--boun\r\n-\r\r\n--bounx--bound\n--bound\r--bound\r\n\r\n"
          "[E1]");

    check("preamble, epilogue, leading CRLF", "zz",
          "\r\nthis is a preamble\r\n--zz\r\n\r\nP\r\n--zz--\r\nepilogue\r\n"
          "--zz\r\n\r\nignored",
          UF_MP_OK, "[B1 name=(none) filename=(none)]P[E1]");

    check("transport padding after delimiters", "q",
          "--q \t\r\n\r\none\r\n--q  \r\n\r\ntwo\r\n--q--",
          UF_MP_OK,
          "[B1 name=(none) filename=(none)]one[E1]"
          "[B2 name=(none) filename=(none)]two[E2]");

    check("empty parts", "e",
          "--e\r\n\r\n\r\n--e\r\nContent-Disposition: form-data; "
          "name=\"n\"; filename=\"\"\r\n\r\n\r\n--e--",
          UF_MP_OK,
          "[B1 name=(none) filename=(none)][E1][B2 name=n filename=][E2]");

    check("escaped quote, lone LF and filename*", "e",
          "--e\r\nContent-Disposition: form-data; name=\"a\\\"b\"; "
          "filename=\"x\"\r\n\r\n1\r\n--e\r\nContent-Disposition: form-data;"
          " name=k; filename*=UTF-8''%e2%82%ac.txt\r\n\r\n2\r\n--e\r\n"
          "Content-Disposition: form-data; name=\"l\"; filename=\"a\nb\"\r\n"
          "\r\n3\r\n--e--",
          UF_MP_OK,
          "[B1 name=a\\\"b filename=x]1[E1]"
          "[B2 name=k filename=UTF-8''%e2%82%ac.txt]2[E2]"
          "[B3 name=l filename=a\nb]3[E3]");

    check("no closing delimiter", "c",
          "--c\r\n\r\nfirst\r\n--c\r\n\r\nsecond part\r\n--",
          UF_MP_ETRUNCATED,
          "[B1 name=(none) filename=(none)]first[E1]"
          "[B2 name=(none) filename=(none)]second part\r\n--[E2 truncated]");

    check("ends inside part headers", "c",
          "--c\r\nContent-Disposition: form-da",
          UF_MP_ETRUNCATED, "");

    check("no delimiter at all", "c", "just some bytes\r\n-c\r\n",
          UF_MP_ENOPARTS, "");

    check("delimiter followed by garbage", "c",
          "--c\r\n\r\nx\r\n--cGARBAGE\r\n\r\n",
          UF_MP_EDELIMITER, "[B1 name=(none) filename=(none)]x[E1]");

    {
        size_t  n = UF_MP_HEADER_MAX + 100;
        char   *big = malloc(n + 64);
        transcript_t  *tt = malloc(sizeof(*tt));

        strcpy(big, "--h\r\nX-Long: ");
        memset(big + strlen(big), 'a', n);
        strcpy(big + 13 + n, "\r\n\r\nd\r\n--h--");
        is_int(run("h", big, strlen(big), NULL, 0, tt, 0), UF_MP_EHEADER,
               "part headers over %d bytes are refused", UF_MP_HEADER_MAX);
        free(big);
        free(tt);
    }

    t = malloc(sizeof(*t));
    is_int(run("s", "--s\r\n\r\na\r\n--s\r\n\r\nb\r\n--s--", 24, NULL, 0,
               t, 2), 7, "a callback's code stops the parser");
    ok(strcmp(t->out, "[B1 name=(none) filename=(none)]a[E1]") == 0,
       "nothing is reported after a callback stops the parser");
    free(t);

    return done_testing();
}
