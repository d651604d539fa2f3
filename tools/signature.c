/*
 * Ed25519 signatures of lists; see signature.h.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "signature.h"

#define SIG_MAGIC  "upload-filter signature v1\n"

static int
fail(char *err, size_t errlen, const char *what, const char *path)
{
    snprintf(err, errlen, "%s: %s", path, what);
    return -1;
}

int
sig_keygen(const char *secret_path, const char *public_path, char *err,
    size_t errlen)
{
    int        fd, rc;
    FILE      *f;
    EVP_PKEY  *pkey;

    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (pkey == NULL) {
        return fail(err, errlen, "key generation failed", "ED25519");
    }

    /* the secret key is readable by its owner only */
    fd = open(secret_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        EVP_PKEY_free(pkey);
        return fail(err, errlen, strerror(errno), secret_path);
    }

    f = fdopen(fd, "w");
    rc = f && PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
    if (f) {
        rc = (fclose(f) == 0) && rc;
    }

    if (!rc) {
        EVP_PKEY_free(pkey);
        return fail(err, errlen, "cannot write the secret key", secret_path);
    }

    f = fopen(public_path, "w");
    rc = f && PEM_write_PUBKEY(f, pkey);
    if (f) {
        rc = (fclose(f) == 0) && rc;
    }

    EVP_PKEY_free(pkey);

    if (!rc) {
        return fail(err, errlen, "cannot write the public key", public_path);
    }

    return 0;
}

int
sig_load_public(const char *path, unsigned char *pub, char *err,
    size_t errlen)
{
    FILE      *f;
    size_t     n;
    EVP_PKEY  *pkey;

    f = fopen(path, "r");
    if (f == NULL) {
        return fail(err, errlen, strerror(errno), path);
    }

    pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);

    n = HDB_KEY_SIZE;

    if (pkey == NULL || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519
        || !EVP_PKEY_get_raw_public_key(pkey, pub, &n) || n != HDB_KEY_SIZE)
    {
        EVP_PKEY_free(pkey);
        return fail(err, errlen, "not an Ed25519 public key (PEM)", path);
    }

    EVP_PKEY_free(pkey);
    return 0;
}

static int
sig_message(char *buf, size_t size, const char *source, const char *kind,
    uint64_t seq, uint64_t base, const unsigned char *sha256,
    const unsigned char *key)
{
    char  h1[65], h2[65], b[40];
    int   n;

    hdb_hex_encode(sha256, 32, h1);
    hdb_hex_encode(key, HDB_KEY_SIZE, h2);

    /* a feed's delta says which sequence it applies to (hashdb publish) */
    b[0] = '\0';
    if (base != SIG_NO_BASE) {
        snprintf(b, sizeof(b), "base: %llu\n", (unsigned long long) base);
    }

    n = snprintf(buf, size, SIG_MAGIC "source: %s\nkind: %s\nseq: %llu\n"
                 "%ssha256: %s\nkey: %s\n", source, kind,
                 (unsigned long long) seq, b, h1, h2);

    return n > 0 && (size_t) n < size ? n : -1;
}

int
sig_sign(const char *secret_path, const char *source, const char *kind,
    uint64_t seq, const unsigned char *sha256, const char *out_path,
    char *err, size_t errlen)
{
    FILE  *f;
    char   text[SIG_TEXT_MAX];

    if (sig_sign_text(secret_path, source, kind, seq, SIG_NO_BASE, sha256,
                      text, sizeof(text), err, errlen) != 0)
    {
        return -1;
    }

    f = fopen(out_path, "w");
    if (f == NULL) {
        return fail(err, errlen, strerror(errno), out_path);
    }

    fputs(text, f);

    if (fclose(f) != 0) {
        return fail(err, errlen, strerror(errno), out_path);
    }

    return 0;
}

int
sig_sign_text(const char *secret_path, const char *source, const char *kind,
    uint64_t seq, uint64_t base, const unsigned char *sha256, char *out,
    size_t outlen, char *err, size_t errlen)
{
    int            n, ok;
    FILE          *f;
    char           msg[1024], hex[2 * SIG_SIZE + 1];
    size_t         keylen, siglen;
    EVP_PKEY      *pkey;
    EVP_MD_CTX    *md;
    unsigned char  pub[HDB_KEY_SIZE], sig[SIG_SIZE];

    f = fopen(secret_path, "r");
    if (f == NULL) {
        return fail(err, errlen, strerror(errno), secret_path);
    }

    pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);

    keylen = HDB_KEY_SIZE;

    if (pkey == NULL || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519
        || !EVP_PKEY_get_raw_public_key(pkey, pub, &keylen))
    {
        EVP_PKEY_free(pkey);
        return fail(err, errlen, "not an Ed25519 secret key (PEM)",
                    secret_path);
    }

    n = sig_message(msg, sizeof(msg), source, kind, seq, base, sha256, pub);

    md = EVP_MD_CTX_new();
    siglen = SIG_SIZE;
    ok = n > 0 && md
         && EVP_DigestSignInit(md, NULL, NULL, NULL, pkey) == 1
         && EVP_DigestSign(md, sig, &siglen, (unsigned char *) msg,
                           (size_t) n) == 1;

    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);

    if (!ok) {
        return fail(err, errlen, "signing failed", secret_path);
    }

    hdb_hex_encode(sig, SIG_SIZE, hex);

    n = snprintf(out, outlen, "%ssignature: %s\n", msg, hex);
    if (n < 0 || (size_t) n >= outlen) {
        return fail(err, errlen, "signature too long", source);
    }

    return 0;
}

/* "name: value\n" at *p; returns the value, NUL-terminated in place */
static char *
sig_field(char **p, const char *name)
{
    char    *v, *nl;
    size_t   n = strlen(name);

    if (strncmp(*p, name, n) != 0 || (*p)[n] != ':' || (*p)[n + 1] != ' ') {
        return NULL;
    }

    v = *p + n + 2;
    nl = strchr(v, '\n');
    if (nl == NULL) {
        return NULL;
    }

    *nl = '\0';
    *p = nl + 1;
    return v;
}

int
sig_read(const char *path, sig_file_t *sf, char *err, size_t errlen)
{
    FILE    *f;
    char     buf[SIG_TEXT_MAX];
    size_t   n;

    f = fopen(path, "r");
    if (f == NULL) {
        return fail(err, errlen, strerror(errno), path);
    }

    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);

    return sig_parse(buf, n, path, sf, err, errlen);
}

int
sig_parse(const char *text, size_t n, const char *path, sig_file_t *sf,
    char *err, size_t errlen)
{
    char    buf[SIG_TEXT_MAX], copy[SIG_TEXT_MAX], *p, *v, *end;

    if (n >= sizeof(buf)) {
        return fail(err, errlen, "signature too long", path);
    }

    memcpy(buf, text, n);
    buf[n] = '\0';

    memset(sf, 0, sizeof(*sf));
    sf->base = SIG_NO_BASE;
    memcpy(copy, buf, n + 1);

    if (strncmp(buf, SIG_MAGIC, sizeof(SIG_MAGIC) - 1) != 0) {
        return fail(err, errlen, "not an upload-filter signature", path);
    }

    p = buf + sizeof(SIG_MAGIC) - 1;

    if ((v = sig_field(&p, "source")) == NULL || strlen(v) > HDB_SOURCE_MAX) {
        return fail(err, errlen, "bad source line", path);
    }
    strcpy(sf->source, v);

    if ((v = sig_field(&p, "kind")) == NULL
        || (strcmp(v, "full") != 0 && strcmp(v, "delta") != 0
            && strcmp(v, "index") != 0))
    {
        return fail(err, errlen, "bad kind line", path);
    }
    strcpy(sf->kind, v);

    if ((v = sig_field(&p, "seq")) == NULL || *v < '0' || *v > '9') {
        return fail(err, errlen, "bad seq line", path);
    }
    sf->seq = strtoull(v, &end, 10);
    if (*end != '\0') {
        return fail(err, errlen, "bad seq line", path);
    }

    if (strncmp(p, "base: ", 6) == 0) {
        v = sig_field(&p, "base");
        if (v == NULL || *v < '0' || *v > '9') {
            return fail(err, errlen, "bad base line", path);
        }
        sf->base = strtoull(v, &end, 10);
        if (*end != '\0' || sf->base == SIG_NO_BASE) {
            return fail(err, errlen, "bad base line", path);
        }
    }

    if ((v = sig_field(&p, "sha256")) == NULL || strlen(v) != 64
        || hdb_hex_decode(v, 64, sf->sha256) != 0)
    {
        return fail(err, errlen, "bad sha256 line", path);
    }

    if ((v = sig_field(&p, "key")) == NULL || strlen(v) != 2 * HDB_KEY_SIZE
        || hdb_hex_decode(v, 2 * HDB_KEY_SIZE, sf->key) != 0)
    {
        return fail(err, errlen, "bad key line", path);
    }

    sf->message_len = (size_t) (p - buf);
    memcpy(sf->message, copy, sf->message_len);

    if ((v = sig_field(&p, "signature")) == NULL || strlen(v) != 2 * SIG_SIZE
        || hdb_hex_decode(v, 2 * SIG_SIZE, sf->sig) != 0)
    {
        return fail(err, errlen, "bad signature line", path);
    }

    return 0;
}

int
sig_verify(const sig_file_t *sf, const unsigned char *pub)
{
    int          ok;
    EVP_PKEY    *pkey;
    EVP_MD_CTX  *md;

    pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
                                       HDB_KEY_SIZE);
    md = EVP_MD_CTX_new();

    ok = pkey && md
         && EVP_DigestVerifyInit(md, NULL, NULL, NULL, pkey) == 1
         && EVP_DigestVerify(md, sf->sig, SIG_SIZE,
                             (const unsigned char *) sf->message,
                             sf->message_len) == 1;

    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);

    return ok;
}
