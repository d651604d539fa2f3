/*
 * Unit tests of the inspection of a body (uf_inspect.c): which objects an
 * application could extract come out, decoded as applications decode
 * them, and which framings are refused.  Every body is fed whole and one
 * byte at a time; both must give the same objects.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tap.h"
#include "uf_inspect.h"

typedef struct {
    char    out[65536];
    size_t  len;
    long    open;
} transcript_t;

typedef struct {
    transcript_t  *t;
    char           head[160];
    char          *data;
    size_t         len;
} obj_t;

static void
emit(transcript_t *t, const char *p, size_t n)
{
    if (t->len + n < sizeof(t->out)) {
        memcpy(t->out + t->len, p, n);
        t->len += n;
        t->out[t->len] = '\0';
    }
}

static void *
s_open(void *data, const uf_obj_info_t *info)
{
    obj_t  *o = calloc(1, sizeof(obj_t));

    o->t = data;
    snprintf(o->head, sizeof(o->head), "[%s%s%s(%.*s):", info->where,
             info->decoded ? "|" : "", info->decoded ? info->decoded : "",
             (int) info->name_len, info->name ? (char *) info->name : "");
    o->t->open++;
    return o;
}

static int
s_write(void *data, void *obj, const unsigned char *p, size_t len)
{
    obj_t  *o = obj;

    (void) data;
    o->data = realloc(o->data, o->len + len + 1);
    memcpy(o->data + o->len, p, len);
    o->len += len;
    return 0;
}

static int
s_close(void *data, void *obj, int truncated)
{
    obj_t   *o = obj;
    char     n[32];
    size_t   i;

    (void) data;
    emit(o->t, o->head, strlen(o->head));

    for (i = 0; i < o->len && o->data[i] >= 0x20 && o->data[i] < 0x7f; i++) {
        /* void */
    }

    if (i == o->len) {
        emit(o->t, o->data ? o->data : "", o->len);
    } else {
        snprintf(n, sizeof(n), "#%zu", o->len);   /* binary: its size */
        emit(o->t, n, strlen(n));
    }

    emit(o->t, truncated ? "~]" : "]", truncated ? 2 : 1);
    o->t->open--;
    free(o->data);
    free(o);
    return 0;
}

static void
s_discard(void *data, void *obj)
{
    obj_t  *o = obj;

    (void) data;
    emit(o->t, o->head, strlen(o->head));
    emit(o->t, "discarded]", 10);
    o->t->open--;
    free(o->data);
    free(o);
}

static const uf_sink_t  sink = { s_open, s_write, s_close, s_discard };

static uf_inspect_conf_t  conf = { 4096, 20, 2, 64, 1 << 20, 100 };

static int
run(const char *type, const char *enc, const char *body, size_t len,
    size_t piece, transcript_t *t, const char **why)
{
    int            rc;
    uf_inspect_t  *in;

    memset(t, 0, sizeof(*t));

    rc = uf_inspect_new(&in, &conf, &sink, t, (const unsigned char *) type,
                        type ? strlen(type) : 0, (const unsigned char *) enc,
                        enc ? strlen(enc) : 0, 0);

    for (size_t i = 0; i < len && rc == 0; i += piece) {
        rc = uf_inspect_feed(in, (const unsigned char *) body + i,
                             len - i < piece ? len - i : piece);
    }

    if (rc == 0) {
        rc = uf_inspect_finish(in);
    }

    *why = rc ? uf_inspect_why(in) : "";
    uf_inspect_free(in);
    return rc;
}

static void
check_len(const char *what, const char *type, const char *enc,
    const char *body, size_t len, int want_rc, const char *want_why,
    const char *want)
{
    int            rc, rc1;
    const char    *why, *why1;
    transcript_t  *t, *t1;

    t = malloc(sizeof(*t));
    t1 = malloc(sizeof(*t1));

    rc = run(type, enc, body, len, len ? len : 1, t, &why);
    is_int(rc, want_rc, "%s: result", what);

    if (want_why) {
        ok(strcmp(why, want_why) == 0, "%s: why \"%s\"", what, want_why);
        if (strcmp(why, want_why) != 0) {
            printf("#   got \"%s\"\n", why);
        }
    }

    ok(strcmp(t->out, want) == 0, "%s: the objects", what);
    if (strcmp(t->out, want) != 0) {
        printf("#   got  \"%s\"\n#   want \"%s\"\n", t->out, want);
    }

    ok(t->open == 0, "%s: every object closed or discarded", what);

    rc1 = run(type, enc, body, len, 1, t1, &why1);
    ok(rc1 == rc && strcmp(t1->out, t->out) == 0 && strcmp(why, why1) == 0,
       "%s: the same one byte at a time", what);

    free(t);
    free(t1);
}

static void
check(const char *what, const char *type, const char *enc, const char *body,
    int want_rc, const char *want_why, const char *want)
{
    check_len(what, type, enc, body, strlen(body), want_rc, want_why, want);
}

/* gzip (wbits 31), zlib (15) or raw deflate (-15) */
static size_t
compress_as(int wbits, const char *in, size_t len, unsigned char *out,
    size_t cap)
{
    z_stream  zs;

    memset(&zs, 0, sizeof(zs));
    deflateInit2(&zs, 9, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = (unsigned char *) in;
    zs.avail_in = (uInt) len;
    zs.next_out = out;
    zs.avail_out = (uInt) cap;
    deflate(&zs, Z_FINISH);
    deflateEnd(&zs);
    return cap - zs.avail_out;
}

#define MP  "multipart/form-data; boundary=b"

int
main(void)
{
    char            buf[8192], a100[101], b64[200];
    unsigned char   z[8192];
    size_t          n;

    memset(a100, 'A', 100);
    a100[100] = '\0';
    /* base64 of 100 'A's */
    strcpy(b64, "");
    for (int i = 0; i < 33; i++) {
        strcat(b64, "QUFB");
    }
    strcat(b64, "QQ==");

    check("a raw body", "application/octet-stream", NULL, "hello",
          0, NULL, "[body():hello]");

    check("no Content-Type", NULL, NULL, "hello", 0, NULL, "[body():hello]");

    check("a multipart body: parts only", MP, NULL,
          "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n"
          "--b--\r\n", 0, NULL, "[1(f):x]");

    check("preamble and epilogue", MP, NULL,
          "pre\r\n--b\r\n\r\nx\r\n--b--\r\npost", 0, NULL,
          "[preamble():pre][1():x][epilogue():post]");

    check("a base64 part: raw and decoded", MP, NULL,
          "--b\r\nContent-Transfer-Encoding: BASE64\r\n\r\n"
          "aGVs\r\nbG8=\r\n--b--", 0, NULL,
          "[1():#10][1|base64():hello]");

    check("a quoted-printable part", MP, NULL,
          "--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
          "caf=C3=A9 =\r\nx=3d\r\n--b--", 0, NULL,
          "[1():#17][1|quoted-printable():#8]");

    check("7bit, 8bit, binary are not decoded", MP, NULL,
          "--b\r\nContent-Transfer-Encoding: 8bit\r\n\r\nx\r\n--b--", 0, NULL,
          "[1():x]");

    check("invalid base64", MP, NULL,
          "--b\r\nContent-Transfer-Encoding: base64\r\n\r\naGVs!\r\n--b--",
          UF_IN_EMALFORMED, "invalid base64 in a part",
          "[1():discarded][1|base64():discarded]");

    check("base64 data after padding", MP, NULL,
          "--b\r\nContent-Transfer-Encoding: base64\r\n\r\naGk=aGk=\r\n--b--",
          UF_IN_EMALFORMED, "invalid base64 in a part",
          "[1():discarded][1|base64():discarded]");

    check("quoted-printable: a bad escape", MP, NULL,
          "--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
          "a=zz\r\n--b--", UF_IN_EMALFORMED,
          "invalid quoted-printable in a part",
          "[1():discarded][1|quoted-printable():discarded]");

    check("quoted-printable: white space at the end of a line", MP, NULL,
          "--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
          "a \r\nb\r\n--b--", UF_IN_EMALFORMED,
          "invalid quoted-printable in a part",
          "[1():discarded][1|quoted-printable():discarded]");

    check("an unknown transfer encoding", MP, NULL,
          "--b\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nx\r\n--b--",
          UF_IN_EMALFORMED, "unknown Content-Transfer-Encoding in a part",
          "[1():discarded]");

    check("multipart in a part", MP, NULL,
          "--b\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n"
          "--in\r\n\r\none\r\n--in\r\n\r\ntwo\r\n--in--\r\n--b--", 0, NULL,
          "[1.1():one][1.2():two][1():#32]");

    check("a malformed nested Content-Type", MP, NULL,
          "--b\r\nContent-Type: multipart/mixed\r\n\r\nx\r\n--b--",
          UF_IN_EMALFORMED, "multipart without a boundary",
          "[1():discarded]");

    check("multipart nested too deep", MP, NULL,
          "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n"
          "--c\r\nContent-Type: multipart/mixed; boundary=d\r\n\r\n"
          "--d\r\nContent-Type: multipart/mixed; boundary=e\r\n\r\n"
          "x\r\n--d--\r\n--c--\r\n--b--", UF_IN_EMALFORMED,
          "multipart nested too deep",
          "[1():discarded][1.1():discarded][1.1.1():discarded]");

    check("a broken nested body", MP, NULL,
          "--b\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n"
          "--in\r\n\r\none\r\n--b--", UF_IN_EMALFORMED,
          "multipart body without closing delimiter",
          "[1():#11][1.1():one~]");

    {
        transcript_t  *t = malloc(sizeof(*t));
        const char    *why;
        char           want[512];

        /* "%41" and "A" alternate: 50 of each make 100 A */
        strcpy(buf, "a=short&fi%6Ce=");
        for (int i = 0; i < 50; i++) {
            strcat(buf, "%41A");
        }
        strcat(buf, "&k=v+w&%zz");

        is_int(run("application/x-www-form-urlencoded", NULL, buf,
                   strlen(buf), 7, t, &why), 0, "urlencoded: inspected");
        snprintf(want, sizeof(want), "[form.2(file):%s]", a100);
        ok(strstr(t->out, want) != NULL,
           "urlencoded: a long value, percent-decoded, named by its key");
        ok(strstr(t->out, "[body():") != NULL,
           "urlencoded: the body itself too");
        ok(strstr(t->out, "[form.1") == NULL && strstr(t->out, "[form.3")
           == NULL, "urlencoded: short values are not objects");
        free(t);
    }

    snprintf(buf, sizeof(buf),
             "{\"img\": \"%s\", \"d\": \"data:image/png;base64,%s\", "
             "\"esc\": \"\\/\\/\\/\\/%s\", \"t\": \"%s and more.\"}",
             b64, b64, b64, a100);
    {
        transcript_t  *t = malloc(sizeof(*t));
        const char    *why;
        char           want[512];

        is_int(run("application/json", NULL, buf, strlen(buf), 5, t, &why),
               0, "json: inspected");
        snprintf(want, sizeof(want), "[json.2|base64():%s]", a100);
        ok(strstr(t->out, want) != NULL, "json: a base64 string");
        snprintf(want, sizeof(want), "[json.4|base64():%s]", a100);
        ok(strstr(t->out, want) != NULL, "json: a base64 data: URI");
        ok(strstr(t->out, "[json.8|base64():discarded]") != NULL,
           "json: a long text that is not base64 is dropped");
        ok(strstr(t->out, "[json.1") == NULL && strstr(t->out, "[json.3")
           == NULL, "json: short strings are not objects");
        ok(strstr(t->out, "[json.6|base64():#103]") != NULL,
           "json: escapes (\\/) are undone first");
        free(t);
    }

    snprintf(buf, sizeof(buf), "[\"%sQUFB\"]", b64);
    {
        transcript_t  *t = malloc(sizeof(*t));
        const char    *why;
        char           want[512];

        is_int(run("application/json", NULL, buf, strlen(buf), 3, t, &why),
               0, "json: data after the padding");
        snprintf(want, sizeof(want), "[json.1|base64():%s]", a100);
        ok(strstr(t->out, want) != NULL,
           "json: what Python and Node decode, up to the padding");
        free(t);
    }

    snprintf(buf, sizeof(buf), " \r\n[\"%s\"]", b64);
    {
        transcript_t  *t = malloc(sizeof(*t));
        const char    *why;
        char           want[512];

        is_int(run("text/plain", NULL, buf, strlen(buf), 2, t, &why), 0,
               "a body of another type that opens like JSON");
        snprintf(want, sizeof(want), "[json.1|base64():%s]", a100);
        ok(strstr(t->out, want) != NULL, "is scanned as JSON");

        is_int(run(NULL, NULL, b64, strlen(b64), 2, t, &why), 0,
               "a body that does not open like JSON");
        ok(strstr(t->out, "[json") == NULL, "is not scanned");
        free(t);
    }

    /* Content-Encoding */
    snprintf(buf, sizeof(buf), "plain text, compressed");
    n = compress_as(31, buf, strlen(buf), z, sizeof(z));
    check_len("gzip raw body", "text/plain", "gzip", (char *) z, n, 0, NULL,
              "[body():#42][body|gzip():plain text, compressed]");

    n = compress_as(15, buf, strlen(buf), z, sizeof(z));
    check_len("deflate (zlib)", "text/plain", "deflate", (char *) z, n, 0,
              NULL, "[body():#30][body|deflate():plain text, compressed]");

    n = compress_as(-15, buf, strlen(buf), z, sizeof(z));
    check_len("deflate (raw)", NULL, " Deflate ", (char *) z, n, 0, NULL,
              "[body():#24][body|deflate():plain text, compressed]");

    snprintf(buf, sizeof(buf), "--b\r\nContent-Transfer-Encoding: base64"
             "\r\n\r\naGk=\r\n--b--");
    n = compress_as(31, buf, strlen(buf), z, sizeof(z));
    check_len("gzip multipart", MP, "x-gzip", (char *) z, n, 0, NULL,
              "[1|gzip():aGk=][1|gzip+base64():hi][body():#73]");

    n = compress_as(31, "abc", 3, z, sizeof(z));
    memcpy(z + n, z, n);
    check_len("two gzip members", NULL, "gzip", (char *) z, 2 * n,
              UF_IN_EMALFORMED, "invalid compressed body",
              "[body():discarded][body|gzip():discarded]");

    check("not gzip at all", NULL, "gzip", "plain", UF_IN_EMALFORMED,
          "invalid compressed body",
          "[body():discarded][body|gzip():discarded]");

    check("br", NULL, "br", "x", UF_IN_EMALFORMED,
          "unsupported Content-Encoding", "");
    check("a list of codings", NULL, "gzip, identity", "x", UF_IN_EMALFORMED,
          "unsupported Content-Encoding", "");
    check("identity", NULL, "identity", "x", 0, NULL, "[body():x]");

    {
        char  *zeros = calloc(1, 4 << 20);

        n = compress_as(31, zeros, 4 << 20, z, sizeof(z));
        check_len("a decompression bomb", NULL, "gzip", (char *) z, n,
                  UF_IN_ETOOLARGE,
                  "compressed body decodes to more than allowed",
                  "[body():discarded][body|gzip():discarded]");
        free(zeros);
    }

    check("a malformed Content-Type", "multipart/form-data; boundary=a;"
          " boundary=b", NULL, "x", UF_IN_EMALFORMED, "two boundary parameters",
          "");

    buf[0] = '\0';
    for (int i = 0; i < 21; i++) {
        strcat(buf, "--b\r\n\r\nx\r\n");
    }
    strcat(buf, "--b--");
    check("more parts than max_parts", MP, NULL, buf, UF_IN_ETOOMANY, NULL,
          "[1():x][2():x][3():x][4():x][5():x][6():x][7():x][8():x][9():x]"
          "[10():x][11():x][12():x][13():x][14():x][15():x][16():x][17():x]"
          "[18():x][19():x][20():x]");

    return done_testing();
}
