/*
 * What the filter makes of a body, for tests and for people debugging a
 * refused upload: every object with its size and SHA-256, or the reason
 * the body is refused.
 *
 *   inspect_body CONTENT-TYPE [CONTENT-ENCODING] < body
 */

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uf_inspect.h"

typedef struct {
    EVP_MD_CTX  *md;
    char         where[128];
    size_t       size;
} obj_t;

static void *
s_open(void *data, const uf_obj_info_t *info)
{
    obj_t  *o = calloc(1, sizeof(obj_t));

    (void) data;
    if (o == NULL || (o->md = EVP_MD_CTX_new()) == NULL
        || !EVP_DigestInit_ex(o->md, EVP_sha256(), NULL))
    {
        return NULL;
    }

    snprintf(o->where, sizeof(o->where), "%s%s%s", info->where,
             info->decoded ? " decoded=" : "",
             info->decoded ? info->decoded : "");
    return o;
}

static int
s_write(void *data, void *obj, const unsigned char *p, size_t len)
{
    obj_t  *o = obj;

    (void) data;
    o->size += len;
    return EVP_DigestUpdate(o->md, p, len) ? 0 : UF_IN_ENOMEM;
}

static void
s_free(obj_t *o)
{
    EVP_MD_CTX_free(o->md);
    free(o);
}

static int
s_close(void *data, void *obj, int truncated)
{
    obj_t          *o = obj;
    unsigned char   md[32];
    unsigned int    n;

    (void) data;
    EVP_DigestFinal_ex(o->md, md, &n);
    for (unsigned i = 0; i < n; i++) {
        printf("%02x", md[i]);
    }
    printf(" %s size=%zu%s\n", o->where, o->size,
           truncated ? " truncated" : "");
    s_free(o);
    return 0;
}

static void
s_discard(void *data, void *obj)
{
    (void) data;
    s_free(obj);
}

static const uf_sink_t  sink = { s_open, s_write, s_close, s_discard };

int
main(int argc, char **argv)
{
    int                rc;
    size_t             n;
    unsigned char      buf[65536];
    uf_inspect_t      *in;
    uf_inspect_conf_t  conf = { 65536, 1000, 3, 64, 64 << 20, 100 };

    if (argc < 2) {
        fprintf(stderr, "usage: %s CONTENT-TYPE [CONTENT-ENCODING] "
                        "< body\n", argv[0]);
        return 2;
    }

    rc = uf_inspect_new(&in, &conf, &sink, NULL,
                        (unsigned char *) argv[1], strlen(argv[1]),
                        (unsigned char *) (argc > 2 ? argv[2] : NULL),
                        argc > 2 ? strlen(argv[2]) : 0, 0);

    while (rc == 0 && (n = fread(buf, 1, sizeof(buf), stdin)) > 0) {
        rc = uf_inspect_feed(in, buf, n);
    }

    if (rc == 0) {
        rc = uf_inspect_finish(in);
    }

    if (rc != 0) {
        printf("refused: %s\n", rc == UF_IN_ETOOMANY ? "too many parts"
                                                      : uf_inspect_why(in));
    }

    uf_inspect_free(in);
    return rc != 0;
}
