/*
 * Unit tests of the multipart parser: every body is fed whole, split in
 * two at every byte offset, and one byte at a time; each way must give
 * the same parts, the same bytes and the same result.
 */

#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "uf_content_type.h"
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

    if (part->kind == UF_MP_PREAMBLE) {
        emitf(t, "[Bpre]");
        return 0;
    }

    if (part->kind == UF_MP_EPILOGUE) {
        emitf(t, "[Bepi]");
        return 0;
    }

    snprintf(buf, sizeof(buf), "[B%u name=", part->index);
    emitf(t, buf);
    emit(t, part->name ? (const char *) part->name : "(none)",
         part->name ? part->name_len : 6);
    emitf(t, " filename=");
    emit(t, part->filename ? (const char *) part->filename : "(none)",
         part->filename ? part->filename_len : 6);
    if (part->type) {
        emitf(t, " type=");
        emit(t, part->type, part->type_len);
    }
    if (part->encoding) {
        emitf(t, " cte=");
        emit(t, part->encoding, part->encoding_len);
    }
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

    snprintf(buf, sizeof(buf), "[E%s%s]",
             part->kind == UF_MP_PREAMBLE ? "pre"
             : part->kind == UF_MP_EPILOGUE ? "epi" : "",
             truncated ? " truncated" : "");
    emitf(data, buf);
    return 0;
}

static const uf_mp_callbacks_t  callbacks = { on_begin, on_body, on_end };

/* feeds body in the given pieces; returns the parser's final result */
static size_t  header_max;

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
               header_max, &callbacks, t);

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

    uf_mp_free(mp);
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
test_content_type(void)
{
    int         rc;
    uf_ctype_t  ct;

#define CT(s) (const unsigned char *) (s), strlen(s)
#define BOUNDARY_IS(s) \
    (ct.boundary_len == strlen(s) && memcmp(ct.boundary, s, strlen(s)) == 0)

    rc = uf_content_type(CT("multipart/form-data; boundary=abc123"), &ct);
    ok(rc == UF_CT_MULTIPART && BOUNDARY_IS("abc123"), "plain boundary");

    rc = uf_content_type(CT("Multipart/Form-Data; charset=utf-8; "
                            "BOUNDARY=\"a b(c)\""), &ct);
    ok(rc == UF_CT_MULTIPART && BOUNDARY_IS("a b(c)"),
       "quoted boundary, any case, after another parameter");

    rc = uf_content_type(CT("multipart/mixed; boundary=yes ; x=\"y;z\""),
                         &ct);
    ok(rc == UF_CT_MULTIPART && BOUNDARY_IS("yes"),
       "white space and a quoted ';' around parameters");

    is_int(uf_content_type(CT("application/octet-stream"), &ct), UF_CT_RAW,
           "other types are raw");
    is_int(uf_content_type(CT("text/plain; boundary=x"), &ct), UF_CT_RAW,
           "a boundary parameter alone does not make multipart");
    is_int(uf_content_type(CT("Application/X-WWW-Form-Urlencoded; "
                              "charset=UTF-8"), &ct),
           UF_CT_URLENCODED, "urlencoded");
    is_int(uf_content_type(CT("application/json"), &ct), UF_CT_JSON, "json");
    is_int(uf_content_type(CT("application/vnd.api+json"), &ct), UF_CT_JSON,
           "+json");
    is_int(uf_content_type(CT("not a type"), &ct), UF_CT_RAW,
           "a value that does not parse and names no form is raw");

    /* every one of these is read as multipart by some parser */
    static const char  *bad[] = {
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\"\"",
        "multipart/form-data; boundary=a; boundary=b",
        "multipart/form-data; boundary=a; BOUNDARY=a",
        "multipart/form-data; boundary=\"X\\\"Y\"",
        "multipart/form-data; boundary*=UTF-8''abc",
        "multipart/form-data; boundary*0=abc; boundary=abc",
        "multipart/form-data; xboundary=abc; boundary=abc",
        "multipart/form-data; name=\"boundary=abc\"; boundary=def",
        "multipart/form-data; boundary=abc;",
        "multipart/form-data; boundary=abc, text/plain",
        "multipart/form-data; boundary=a\"b",
        "multipart/form-data; boundary=\"a b \"",
        "multipart/form-data; boundary=\"a;b\"",
        "\vmultipart/form-data; boundary=abc",
        "\xc2\xa0multipart/form-data; boundary=abc",
        "\xa0multipart/form-data; boundary=abc",
        "application/x-multipart; boundary=abc",
        "text/plain; note=multipart",
        "multipart/ form-data; boundary=abc",
        "multipart /form-data; boundary=abc",
        "application/x-www-form-urlencoded\v",
        "text/x-www-form-urlencoded",
        NULL
    };

    for (int i = 0; bad[i]; i++) {
        is_int(uf_content_type(CT(bad[i]), &ct), UF_CT_MALFORMED,
               "malformed: %s", bad[i]);
    }

    char  longct[400];
    snprintf(longct, sizeof(longct), "multipart/form-data; boundary=%0*d",
             UF_MP_BOUNDARY_MAX + 1, 0);
    is_int(uf_content_type(CT(longct), &ct), UF_CT_MALFORMED,
           "a boundary over %d bytes is malformed", UF_MP_BOUNDARY_MAX);
}

int
main(void)
{
    transcript_t  *t;

    test_content_type();

    check("one file", "XyZ",
          "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; "
          "filename=\"a.bin\"\r\nContent-Type: image/jpeg\r\n\r\n"
          "DATA\r\n--XyZ--\r\n",
          UF_MP_OK, "[B1 name=f filename=a.bin type=image/jpeg]DATA[E]");

    check("field and file", "b",
          "--b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n"
          "hello\r\n--b\r\ncontent-disposition: form-data; name=upload; "
          "filename=x.jpg\r\nContent-Transfer-Encoding:  base64 \r\n\r\n"
          "\x01\x02\r\n--b--",
          UF_MP_OK,
          "[B1 name=title filename=(none)]hello[E]"
          "[B2 name=upload filename=x.jpg cte=base64]\x01\x02[E]");

    check("near-delimiters inside data", "bound",
          "--bound\r\n\r\n"
          "a\r\n--boun\r\n-\r\r\n--bounx\r-\r\n\r\n--boun\r\n\r\n"
          "\r\n--bound--",
          UF_MP_OK,
          "[B1 name=(none) filename=(none)]"
          "a\r\n--boun\r\n-\r\r\n--bounx\r-\r\n\r\n--boun\r\n\r\n[E]");

    check("a boundary that starts with dashes, partial matches", "--a-a",
          "----a-a\r\n\r\n---a---a-\r\n-----a-\r\n----a-b\r\n----a-a--",
          UF_MP_OK,
          "[B1 name=(none) filename=(none)]"
          "---a---a-\r\n-----a-\r\n----a-b[E]");

    check("the boundary after a dash", "--a-a",
          "----a-a\r\n\r\nx\r\n-----a-a\r\n----a-a--",
          UF_MP_EBOUNDARY, "[B1 name=(none) filename=(none)]x\r\n-");

    check("preamble and epilogue are parts", "zz",
          "\r\nthis is a preamble\r\n--zz\r\n\r\nP\r\n--zz--\r\nepilogue\r\n",
          UF_MP_OK,
          "[Bpre]\r\nthis is a preamble[Epre]"
          "[B1 name=(none) filename=(none)]P[E][Bepi]epilogue\r\n[Eepi]");

    check("a closing delimiter without CRLF ends the body", "zz",
          "--zz\r\n\r\nP\r\n--zz--", UF_MP_OK,
          "[B1 name=(none) filename=(none)]P[E]");

    check("a leading LF hides the first delimiter", "c",
          "\n--c\r\n\r\nx\r\n--c--", UF_MP_EBOUNDARY, "[Bpre]\n");

    check("text then the boundary in the preamble", "c",
          "pre--c\r\n\r\nx\r\n--c--", UF_MP_EBOUNDARY, "[Bpre]pre");

    check("LF-only delimiter lines", "c",
          "--c\n\n\nx\n--c--\n", UF_MP_EDELIMITER, "");

    check("the boundary after a lone LF in data", "c",
          "--c\r\n\r\nx\n--c\r\n\r\ny\r\n--c--", UF_MP_EBOUNDARY,
          "[B1 name=(none) filename=(none)]x\n");

    check("the CRLF ending empty headers opens no delimiter", "c",
          "--c\r\n\r\n--c\r\n\r\nx\r\n--c--", UF_MP_EBOUNDARY,
          "[B1 name=(none) filename=(none)]");

    check("the boundary in the epilogue", "c",
          "--c\r\n\r\nx\r\n--c--\r\nmore\r\n--c\r\n\r\ny\r\n--c--",
          UF_MP_EBOUNDARY,
          "[B1 name=(none) filename=(none)]x[E][Bepi]more");

    check("garbage after the closing delimiter", "c",
          "--c\r\n\r\nx\r\n--c--junk\r\n", UF_MP_EDELIMITER,
          "[B1 name=(none) filename=(none)]x[E]");

    check("the closing delimiter first", "c",
          "--c--\r\n--c\r\n\r\nx\r\n--c--", UF_MP_ENOPARTS, "");

    check("transport padding after a delimiter", "q",
          "--q \t\r\n\r\none\r\n--q--", UF_MP_EDELIMITER, "");

    check("empty parts", "e",
          "--e\r\n\r\n\r\n--e\r\nContent-Disposition: form-data; "
          "name=\"n\"; filename=\"\"\r\n\r\n\r\n--e--",
          UF_MP_OK,
          "[B1 name=(none) filename=(none)][E][B2 name=n filename=][E]");

    check("escaped quote and filename*", "e",
          "--e\r\nContent-Disposition: form-data; name=\"a\\\"b\"; "
          "filename=\"x\"\r\n\r\n1\r\n--e\r\nContent-Disposition: form-data;"
          " name=k; filename*=UTF-8''%e2%82%ac.txt\r\n\r\n2\r\n--e--",
          UF_MP_OK,
          "[B1 name=a\\\"b filename=x]1[E]"
          "[B2 name=k filename=UTF-8''%e2%82%ac.txt]2[E]");

    static const char  *bad_headers[] = {
        "--e\r\nContent-Disposition: form-data; filename=\"a\nb\"\r\n\r\n"
        "x\r\n--e--",
        "--e\r\nContent-Disposition: form-data\n\r\nx\r\n--e--",
        "--e\r\nX: a\rb\r\n\r\nx\r\n--e--",
        "--e\r\nX: a\r\n b\r\n\r\nx\r\n--e--",
        "--e\r\nno colon\r\n\r\nx\r\n--e--",
        "--e\r\nX : a\r\n\r\nx\r\n--e--",
        "--e\r\nContent-Type: a/b\r\ncontent-type: c/d\r\n\r\nx\r\n--e--",
        "--e\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nx\r\n--e--",
        "--e\r\nContent-Disposition: form-data; name=a\r\n"
        "Content-Disposition: form-data; name=b\r\n\r\nx\r\n--e--",
        NULL
    };

    for (int i = 0; bad_headers[i]; i++) {
        check("malformed part headers", "e", bad_headers[i], UF_MP_EHEADER,
              "");
    }

    check("no closing delimiter", "c",
          "--c\r\n\r\nfirst\r\n--c\r\n\r\nsecond part\r\n--",
          UF_MP_ETRUNCATED,
          "[B1 name=(none) filename=(none)]first[E]"
          "[B2 name=(none) filename=(none)]second part\r\n--[E truncated]");

    check("ends inside part headers", "c",
          "--c\r\nContent-Disposition: form-da",
          UF_MP_ETRUNCATED, "");

    check("no delimiter at all", "c", "just some bytes\r\n-c\r\n",
          UF_MP_ENOPARTS, "[Bpre]just some bytes\r\n-c\r\n[Epre truncated]");

    check("delimiter followed by garbage", "c",
          "--c\r\n\r\nx\r\n--cGARBAGE\r\n\r\n",
          UF_MP_EDELIMITER, "[B1 name=(none) filename=(none)]x[E]");

    {
        size_t         n = 70000;
        char          *big = malloc(n + 64);
        transcript_t  *tt = malloc(sizeof(*tt));

        strcpy(big, "--h\r\nX-Long: ");
        memset(big + strlen(big), 'a', n);
        strcpy(big + 13 + n, "\r\n\r\nd\r\n--h--");
        is_int(run("h", big, strlen(big), NULL, 0, tt, 0), UF_MP_EHEADER_SIZE,
               "part headers over %d bytes are refused", UF_MP_HEADER_MAX);

        big[13 + 9000] = '\0';
        strcat(big, "\r\n\r\nd\r\n--h--");
        is_int(run("h", big, strlen(big), NULL, 0, tt, 0), UF_MP_OK,
               "9 KB of part headers are read");

        header_max = 4096;
        is_int(run("h", big, strlen(big), NULL, 0, tt, 0), UF_MP_EHEADER_SIZE,
               "the header limit is the caller's");
        header_max = 0;
        free(big);
        free(tt);
    }

    t = malloc(sizeof(*t));
    is_int(run("s", "--s\r\n\r\na\r\n--s\r\n\r\nb\r\n--s--", 24, NULL, 0,
               t, 2), 7, "a callback's code stops the parser");
    ok(strcmp(t->out, "[B1 name=(none) filename=(none)]a[E]") == 0,
       "nothing is reported after a callback stops the parser");
    free(t);

    return done_testing();
}
