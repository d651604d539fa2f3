/*
 * A feed's index: parsed and formatted; see feed.h.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "feed.h"

static int
feed_fail(char *err, size_t errlen, const char *what, unsigned line)
{
    if (line) {
        snprintf(err, errlen, "%s:%u: %s", FEED_INDEX, line, what);
    } else {
        snprintf(err, errlen, "%s: %s", FEED_INDEX, what);
    }

    return -1;
}

/* a file name a feed may hold: no directory, nothing hidden */
static int
feed_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > FEED_NAME_MAX || s[0] == '.') {
        return 0;
    }

    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_'
              || s[i] == '-'))
        {
            return 0;
        }
    }

    return 1;
}

static int
feed_number(const char *s, uint64_t *v)
{
    char  *end;

    if (*s < '0' || *s > '9') {
        return -1;
    }

    *v = strtoull(s, &end, 10);
    return *end == '\0' && *v != UINT64_MAX ? 0 : -1;
}

/* "full: SEQ NAME SIZE SHA256" or "delta: SEQ BASE NAME SIZE SHA256" */
static int
feed_file_line(char *v, int full, feed_file_t *f)
{
    char  *tok[5], *save;
    int    n, want;

    want = full ? 4 : 5;
    n = 0;

    for (char *t = strtok_r(v, " ", &save); t; t = strtok_r(NULL, " ", &save))
    {
        if (n == want) {
            return -1;
        }
        tok[n++] = t;
    }

    if (n != want) {
        return -1;
    }

    memset(f, 0, sizeof(*f));
    f->full = full;
    f->base = SIG_NO_BASE;

    if (feed_number(tok[0], &f->seq) != 0
        || (!full && feed_number(tok[1], &f->base) != 0)
        || !feed_name_ok(tok[want - 3], strlen(tok[want - 3]))
        || feed_number(tok[want - 2], &f->size) != 0
        || strlen(tok[want - 1]) != 64
        || hdb_hex_decode(tok[want - 1], 64, f->sha256) != 0)
    {
        return -1;
    }

    strcpy(f->name, tok[want - 3]);

    return 0;
}

int
feed_index_parse(const char *text, size_t len, feed_index_t *ix, char *err,
    size_t errlen)
{
    char           *buf, *p, *nl, *v, sigerr[256];
    size_t          body;
    unsigned        line;
    const char     *mark;
    unsigned char   sha[32];
    unsigned int    shalen;

    static const char  sigmark[] = "\nupload-filter signature v1\n";

    memset(ix, 0, sizeof(*ix));

    if (len > FEED_INDEX_MAX) {
        return feed_fail(err, errlen, "too large", 0);
    }

    if (len < sizeof(FEED_MAGIC) - 1
        || memcmp(text, FEED_MAGIC, sizeof(FEED_MAGIC) - 1) != 0)
    {
        return feed_fail(err, errlen, "not an upload-filter feed index", 0);
    }

    /* the lines, then the signature over them */
    mark = NULL;
    for (size_t i = 0; i + sizeof(sigmark) - 1 <= len; i++) {
        if (memcmp(text + i, sigmark, sizeof(sigmark) - 1) == 0) {
            mark = text + i;
            break;
        }
    }

    if (mark == NULL) {
        return feed_fail(err, errlen, "no signature", 0);
    }

    body = (size_t) (mark - text) + 1;

    if (sig_parse(text + body, len - body, FEED_INDEX, &ix->sig, sigerr,
                  sizeof(sigerr)) != 0)
    {
        return feed_fail(err, errlen, sigerr, 0);
    }

    if (!EVP_Digest(text, body, sha, &shalen, EVP_sha256(), NULL)
        || memcmp(sha, ix->sig.sha256, 32) != 0)
    {
        return feed_fail(err, errlen, "the signature is for other lines "
                         "(altered or truncated)", 0);
    }

    buf = malloc(body + 1);
    if (buf == NULL) {
        return feed_fail(err, errlen, "out of memory", 0);
    }

    memcpy(buf, text, body);
    buf[body] = '\0';

    p = buf + sizeof(FEED_MAGIC) - 1;
    line = 1;

    for ( /* void */ ; *p; p = nl + 1) {
        line++;
        nl = strchr(p, '\n');
        if (nl == NULL) {
            break;
        }
        *nl = '\0';

        if (strncmp(p, "source: ", 8) == 0) {
            v = p + 8;
            if (!hdb_valid_name(v) || strlen(v) > HDB_SOURCE_MAX) {
                goto bad;
            }
            strcpy(ix->source, v);

        } else if (strncmp(p, "latest: ", 8) == 0) {
            if (feed_number(p + 8, &ix->latest) != 0) {
                goto bad;
            }

        } else if (strncmp(p, "full: ", 6) == 0
                   || strncmp(p, "delta: ", 7) == 0)
        {
            if (ix->nfiles == FEED_MAX_FILES
                || feed_file_line(strchr(p, ' ') + 1, p[0] == 'f',
                                  &ix->files[ix->nfiles]) != 0)
            {
                goto bad;
            }
            ix->nfiles++;

        } else if (*p != '\0' && *p != '#') {
            goto bad;
        }
    }

    free(buf);

    if (ix->source[0] == '\0' || ix->latest == 0) {
        return feed_fail(err, errlen, "no source or latest line", 0);
    }

    if (strcmp(ix->sig.kind, "index") != 0
        || strcmp(ix->sig.source, ix->source) != 0
        || ix->sig.seq != ix->latest)
    {
        return feed_fail(err, errlen, "signed for another kind, source or "
                         "sequence", 0);
    }

    return 0;

bad:

    free(buf);
    return feed_fail(err, errlen, "bad line", line);
}

long
feed_index_format(const feed_index_t *ix, char *buf, size_t size)
{
    char    hex[65];
    size_t  len;
    int     n;

    n = snprintf(buf, size, FEED_MAGIC "source: %s\nlatest: %llu\n",
                 ix->source, (unsigned long long) ix->latest);
    if (n < 0 || (size_t) n >= size) {
        return -1;
    }
    len = (size_t) n;

    for (size_t i = 0; i < ix->nfiles; i++) {
        const feed_file_t  *f = &ix->files[i];

        hdb_hex_encode(f->sha256, 32, hex);

        if (f->full) {
            n = snprintf(buf + len, size - len, "full: %llu %s %llu %s\n",
                         (unsigned long long) f->seq, f->name,
                         (unsigned long long) f->size, hex);
        } else {
            n = snprintf(buf + len, size - len,
                         "delta: %llu %llu %s %llu %s\n",
                         (unsigned long long) f->seq,
                         (unsigned long long) f->base, f->name,
                         (unsigned long long) f->size, hex);
        }

        if (n < 0 || (size_t) n >= size - len) {
            return -1;
        }
        len += (size_t) n;
    }

    return (long) len;
}

const feed_file_t *
feed_index_full(const feed_index_t *ix, uint64_t seq)
{
    for (size_t i = 0; i < ix->nfiles; i++) {
        if (ix->files[i].full && ix->files[i].seq == seq) {
            return &ix->files[i];
        }
    }

    return NULL;
}

const feed_file_t *
feed_index_delta(const feed_index_t *ix, uint64_t base)
{
    for (size_t i = 0; i < ix->nfiles; i++) {
        if (!ix->files[i].full && ix->files[i].base == base) {
            return &ix->files[i];
        }
    }

    return NULL;
}


int
feed_hash_file(const char *path, unsigned char *sha, uint64_t *size)
{
    FILE          *f;
    size_t         n;
    unsigned char  buf[65536];
    EVP_MD_CTX    *md;

    f = fopen(path, "rb");
    md = EVP_MD_CTX_new();

    if (f == NULL || md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
    {
        if (f) {
            fclose(f);
        }
        EVP_MD_CTX_free(md);
        return -1;
    }

    *size = 0;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        EVP_DigestUpdate(md, buf, n);
        *size += n;
    }

    n = (size_t) ferror(f);
    fclose(f);
    EVP_DigestFinal_ex(md, sha, NULL);
    EVP_MD_CTX_free(md);

    return n ? -1 : 0;
}
