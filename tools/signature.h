/*
 * Signed lists: Ed25519 (OpenSSL) detached signatures.
 *
 * A signature file (LIST.sig) is text:
 *
 *     upload-filter signature v1
 *     source: police-nl
 *     kind: full                  (full: hashdb sync; delta: apply, import)
 *     seq: 20261122
 *     base: 20261121              (a feed's delta: the sequence it applies
 *                                  to; absent otherwise)
 *     sha256: <hex digest of the list file>
 *     key: <hex raw public key>
 *     signature: <hex Ed25519 signature of every line above, as bytes>
 *
 * The signature covers the source, the kind and the sequence number, so
 * that a list cannot be replayed for another source, as another kind, or
 * (hashdb keeps the last sequence applied per source) as an older list;
 * and a feed's delta its base, so that it cannot be applied out of its
 * chain.  Kind "index" signs a feed's index (feed.h).
 */

#ifndef SIGNATURE_H
#define SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

#include "hashdb.h"

#define SIG_SIZE  64
#define SIG_TEXT_MAX  2048
#define SIG_NO_BASE   UINT64_MAX

typedef struct {
    char           source[HDB_SOURCE_MAX + 1];
    char           kind[8];
    uint64_t       seq;
    uint64_t       base;                /* SIG_NO_BASE: none */
    unsigned char  sha256[32];
    unsigned char  key[HDB_KEY_SIZE];
    unsigned char  sig[SIG_SIZE];
    char           message[1024];       /* the signed lines */
    size_t         message_len;
} sig_file_t;

/* each returns 0, or -1 with a message in err */
int sig_keygen(const char *secret_path, const char *public_path,
    char *err, size_t errlen);
int sig_load_public(const char *path, unsigned char *pub, char *err,
    size_t errlen);
int sig_sign(const char *secret_path, const char *source, const char *kind,
    uint64_t seq, const unsigned char *sha256, const char *out_path,
    char *err, size_t errlen);
/* the signature text into out (outlen bytes), NUL-terminated */
int sig_sign_text(const char *secret_path, const char *source,
    const char *kind, uint64_t seq, uint64_t base,
    const unsigned char *sha256, char *out, size_t outlen, char *err,
    size_t errlen);
int sig_read(const char *path, sig_file_t *sf, char *err, size_t errlen);
/* a signature's text (n bytes); path names it in messages */
int sig_parse(const char *text, size_t n, const char *path, sig_file_t *sf,
    char *err, size_t errlen);
/* 1 if the signature verifies with pub */
int sig_verify(const sig_file_t *sf, const unsigned char *pub);

#endif /* SIGNATURE_H */
