/*
 * Digest types, hex encoding and error messages.
 */

#include <string.h>
#include <strings.h>

#include <lmdb.h>

#include "hdb_internal.h"

const char *const hdb_type_db_names[HDB_NTYPES] = { "md5", "sha1", "sha256",
                                                    "pdq" };

static const size_t hdb_type_sizes[HDB_NTYPES] = { 16, 20, 32, 32 };

/*
 * Measured with `openssl speed -evp` on the target machines (SHA-NI):
 * SHA-1 1.8 GB/s, SHA-256 1.7 GB/s, MD5 0.7 GB/s.  MD5 has no hardware
 * support and is computed only where a list holds nothing else.
 */
const hdb_type_t hdb_types_by_cost[HDB_NDIGESTS] = { HDB_SHA1, HDB_SHA256,
                                                   HDB_MD5 };

const char *
hdb_type_name(hdb_type_t type)
{
    return type < HDB_NTYPES ? hdb_type_db_names[type] : "?";
}

size_t
hdb_type_size(hdb_type_t type)
{
    return type < HDB_NTYPES ? hdb_type_sizes[type] : 0;
}

int
hdb_type_from_name(const char *name, size_t len, hdb_type_t *type)
{
    for (int t = 0; t < HDB_NTYPES; t++) {
        if (strlen(hdb_type_db_names[t]) == len
            && strncasecmp(hdb_type_db_names[t], name, len) == 0)
        {
            *type = (hdb_type_t) t;
            return 0;
        }
    }

    return HDB_ETYPE;
}

int
hdb_type_from_size(size_t size, hdb_type_t *type)
{
    for (int t = 0; t < HDB_NDIGESTS; t++) {
        if (hdb_type_sizes[t] == size) {
            *type = (hdb_type_t) t;
            return 0;
        }
    }

    return HDB_ETYPE;
}

void
hdb_hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char  digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0xf];
    }

    out[2 * n] = '\0';
}

static int
hdb_hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}

int
hdb_hex_decode(const char *in, size_t len, unsigned char *out)
{
    if (len % 2) {
        return HDB_ETYPE;
    }

    for (size_t i = 0; i < len; i += 2) {
        int  hi = hdb_hex_value(in[i]);
        int  lo = hdb_hex_value(in[i + 1]);

        if (hi < 0 || lo < 0) {
            return HDB_ETYPE;
        }

        out[i / 2] = (unsigned char) (hi << 4 | lo);
    }

    return 0;
}

const char *
hdb_strerror(int rc)
{
    switch (rc) {
    case HDB_ESCHEMA:
        return "not a hash set of this version (run \"hashdb init\")";
    case HDB_EOLD:
        return "a hash set of an older release's schema (run \"hashdb "
               "upgrade DB\", then reload nginx)";
    case HDB_ENAME:
        return "bad name: use 1-64 letters, digits, '.', '_' or '-'";
    case HDB_ETYPE:
        return "not a hex MD5, SHA-1, SHA-256 digest or PDQ hash";
    default:
        return mdb_strerror(rc);
    }
}

void
hdb_source_id_encode(uint32_t id, unsigned char out[4])
{
    out[0] = (unsigned char) (id >> 24);
    out[1] = (unsigned char) (id >> 16);
    out[2] = (unsigned char) (id >> 8);
    out[3] = (unsigned char) id;
}

uint32_t
hdb_source_id_decode(const unsigned char in[4])
{
    return (uint32_t) in[0] << 24 | (uint32_t) in[1] << 16
           | (uint32_t) in[2] << 8 | in[3];
}

void
hdb_source_from_rec(hdb_source_t *src, const char *name, size_t len,
    const struct hdb_source_rec *rec)
{
    memset(src, 0, sizeof(*src));
    memcpy(src->name, name, len < HDB_SOURCE_MAX ? len : HDB_SOURCE_MAX);
    src->id = rec->id;
    src->flags = rec->flags;
    memcpy(src->count, rec->count, sizeof(src->count));
    src->files = rec->files;
    src->complete = rec->complete;
    src->created = rec->created;
    src->updated = rec->updated;
    src->seq = rec->seq;
    src->pdq_distance = rec->pdq_distance;
    src->videos = rec->videos;
}

static int
hdb_name_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int
hdb_valid_name(const char *name)
{
    size_t  len = strlen(name);

    if (len == 0 || len > HDB_SOURCE_MAX) {
        return 0;
    }

    for (size_t i = 0; i < len; i++) {
        if (!hdb_name_char((unsigned char) name[i])) {
            return 0;
        }
    }

    return 1;
}

int
hdb_valid_category(const char *category)
{
    size_t  len = strlen(category);

    if (len > HDB_CATEGORY_MAX) {
        return 0;
    }

    for (size_t i = 0; i < len; i++) {
        if (!hdb_name_char((unsigned char) category[i])) {
            return 0;
        }
    }

    return 1;
}
