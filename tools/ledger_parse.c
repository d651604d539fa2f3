/*
 * The upload ledger's token, read back; see ledger_parse.h.
 */

#include <string.h>

#include "ledger_parse.h"

static int
ledger_token_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || (c != '\0' && strchr("._%=,;:-", c));
}

size_t
ledger_token_len(const char *p)
{
    size_t  n;

    for (n = 0; ledger_token_char((unsigned char) p[n]); n++) {
        /* void */
    }

    return n;
}

static int
ledger_hex(unsigned char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
           : -1;
}

/* v[0 .. n) into out, percent-decoded, truncated to size - 1 */
static void
ledger_value(char *out, size_t size, const char *v, size_t n, int pct)
{
    size_t  k = 0;

    for (size_t i = 0; i < n && k + 1 < size; i++) {
        if (pct && v[i] == '%' && i + 2 < n
            && ledger_hex((unsigned char) v[i + 1]) >= 0
            && ledger_hex((unsigned char) v[i + 2]) >= 0)
        {
            out[k++] = (char) (ledger_hex((unsigned char) v[i + 1]) << 4
                               | ledger_hex((unsigned char) v[i + 2]));
            i += 2;
            continue;
        }

        out[k++] = v[i];
    }

    out[k] = '\0';
}

static void
ledger_field(ledger_entry_t *e, const char *k, size_t kn, const char *v,
    size_t vn)
{
    hdb_type_t      t;
    ledger_hash_t  *h;

#define KEY(s)  (kn == sizeof(s) - 1 && memcmp(k, s, kn) == 0)

    if (KEY("part")) {
        ledger_value(e->part, sizeof(e->part), v, vn, 0);

    } else if (KEY("size")) {
        ledger_value(e->size, sizeof(e->size), v, vn, 0);

    } else if (KEY("name")) {
        ledger_value(e->name, sizeof(e->name), v, vn, 1);

    } else if (KEY("filename")) {
        ledger_value(e->filename, sizeof(e->filename), v, vn, 1);

    } else if (hdb_type_from_name(k, kn, &t) == 0
               && vn == 2 * hdb_type_size(t)
               && e->nhashes < LEDGER_HASHES_MAX)
    {
        h = &e->hashes[e->nhashes];

        if (hdb_hex_decode(v, vn, h->md) == 0) {
            h->type = t;
            memcpy(h->text, k, kn);
            h->text[kn] = ':';
            memcpy(h->text + kn + 1, v, vn);
            h->text[kn + 1 + vn] = '\0';
            e->nhashes++;
        }
    }

#undef KEY
}

int
ledger_parse(const char *p, size_t len, ledger_cb cb, void *data)
{
    int              rc;
    size_t           i, start, eq;
    const char      *end, *stop;
    ledger_entry_t   e;

    end = p + len;

    while (p < end) {
        /* one object: up to the next ";" */
        stop = memchr(p, ';', (size_t) (end - p));

        if (stop == NULL) {
            stop = end;
        }

        memset(&e, 0, sizeof(e));

        for (i = 0, start = 0; i <= (size_t) (stop - p); i++) {
            if (i < (size_t) (stop - p) && p[i] != ',') {
                continue;
            }

            /* p[start .. i) is "key=value" */
            for (eq = start; eq < i && p[eq] != '='; eq++) {
                /* void */
            }

            if (eq < i) {
                ledger_field(&e, p + start, eq - start, p + eq + 1,
                             i - eq - 1);
            }

            start = i + 1;
        }

        if (e.part[0] || e.nhashes) {
            rc = cb(data, &e);
            if (rc != 0) {
                return rc;
            }
        }

        p = stop + 1;
    }

    return 0;
}
