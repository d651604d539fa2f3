/*
 * Hash-list formats; see list_format.h.
 */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "list_format.h"

static const char  *fmt_names[] = { "auto", "hex", "csv", "typed", "clamav",
                                    "pdq", "vpdq" };

int
list_format_from_name(const char *name, list_fmt_t *fmt)
{
    for (size_t i = 0; i < sizeof(fmt_names) / sizeof(fmt_names[0]); i++) {
        if (strcmp(name, fmt_names[i]) == 0) {
            *fmt = (list_fmt_t) i;
            return 0;
        }
    }

    return -1;
}

const char *
list_format_name(list_fmt_t fmt)
{
    return fmt_names[fmt];
}

void
list_parser_init(list_parser_t *p, list_fmt_t fmt, int delta,
    const char *category)
{
    memset(p, 0, sizeof(*p));
    p->fmt = fmt;
    p->delta = delta;
    p->category = category;
    p->col_type = p->col_hash = p->col_category = p->col_added = -1;
    p->col_id = p->col_op = p->col_quality = -1;

    for (int t = 0; t < HDB_NTYPES; t++) {
        p->col_digest[t] = -1;
    }
}

static int
is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char) s[i])) {
            return 0;
        }
    }

    return n > 0;
}

static void
lower(char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        s[i] = (char) tolower((unsigned char) s[i]);
    }
}

/* a hex digest of any supported type into the row */
static int
add_digest(hdb_row_t *row, const char *s, size_t n, const char **why)
{
    hdb_type_t  type;

    if (n % 2 || hdb_type_from_size(n / 2, &type) != 0) {
        *why = "not a hex MD5 (32), SHA-1 (40) or SHA-256 (64) digest";
        return LIST_BAD;
    }

    if (row->types & HDB_TYPE_BIT(type)) {
        *why = "two digests of the same type for one file";
        return LIST_BAD;
    }

    if (hdb_hex_decode(s, n, row->digests[type]) != 0) {
        *why = "not a hex digit";
        return LIST_BAD;
    }

    row->types |= HDB_TYPE_BIT(type);
    return LIST_ROW;
}

/* a PDQ hash: 64 hex digits, told from SHA-256 only by its type */
static int
add_pdq(hdb_row_t *row, const char *s, size_t n, const char **why)
{
    if (n != 2 * HDB_PDQ_SIZE) {
        *why = "a PDQ hash is 64 hex digits";
        return LIST_BAD;
    }

    if (row->types & HDB_TYPE_BIT(HDB_PDQ)) {
        *why = "two PDQ hashes for one file";
        return LIST_BAD;
    }

    if (hdb_hex_decode(s, n, row->digests[HDB_PDQ]) != 0) {
        *why = "not a hex digit";
        return LIST_BAD;
    }

    row->types |= HDB_TYPE_BIT(HDB_PDQ);
    return LIST_ROW;
}

/* a PDQ quality, 0..100 */
static int
parse_quality(const char *s, size_t n, int *quality, const char **why)
{
    int  q = 0;

    if (n == 0 || n > 3) {
        *why = "PDQ quality is not a number from 0 to 100";
        return LIST_BAD;
    }

    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char) s[i])) {
            *why = "PDQ quality is not a number from 0 to 100";
            return LIST_BAD;
        }
        q = q * 10 + (s[i] - '0');
    }

    if (q > 100) {
        *why = "PDQ quality is not a number from 0 to 100";
        return LIST_BAD;
    }

    *quality = q;
    return LIST_ROW;
}

/*
 * pdq-photo-hasher output and plain PDQ lists: "HASH[,QUALITY[,NAME]]",
 * blanks as well as commas between the fields.
 */
static int
parse_pdq_line(char *s, size_t n, list_row_t *row, const char **why)
{
    size_t  i, start;

    for (i = 0; i < n && s[i] != ',' && s[i] != ' ' && s[i] != '\t'; i++) {
        /* the hash */
    }

    if (add_pdq(&row->row, s, i, why) != LIST_ROW) {
        return LIST_BAD;
    }

    while (i < n && (s[i] == ',' || s[i] == ' ' || s[i] == '\t')) {
        i++;
    }

    start = i;
    while (i < n && s[i] != ',' && s[i] != ' ' && s[i] != '\t') {
        i++;
    }

    if (i > start) {
        return parse_quality(s + start, i - start, &row->quality, why);
    }

    return LIST_ROW;
}

/* a digest of a named type: the name must agree with the length */
static int
add_typed_digest(hdb_row_t *row, const char *tname, size_t tlen,
    const char *s, size_t n, const char **why)
{
    char        name[16];
    hdb_type_t  type, bylen;

    if (tlen == 0 || tlen >= sizeof(name)) {
        *why = "unknown digest type";
        return LIST_BAD;
    }

    memcpy(name, tname, tlen);
    lower(name, tlen);

    if (tlen == 5 && memcmp(name, "sha-1", 5) == 0) {
        tlen = 4;
        memcpy(name, "sha1", 4);
    } else if (tlen == 7 && memcmp(name, "sha-256", 7) == 0) {
        tlen = 6;
        memcpy(name, "sha256", 6);
    }

    if (hdb_type_from_name(name, tlen, &type) != 0) {
        *why = "unknown digest type (md5, sha1, sha256, pdq)";
        return LIST_BAD;
    }

    if (type == HDB_PDQ) {
        return add_pdq(row, s, n, why);
    }

    if (n % 2 || hdb_type_from_size(n / 2, &bylen) != 0 || bylen != type) {
        *why = "digest length does not match its type";
        return LIST_BAD;
    }

    return add_digest(row, s, n, why);
}

/* strips a delta's leading '+' or '-' */
static int
take_op(list_parser_t *p, char **s, size_t *n, list_row_t *row,
    const char **why)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }

    if (*n && (**s == '+' || **s == '-')) {
        if (**s == '-') {
            if (!p->delta) {
                *why = "a removal ('-') in a full list; use hashdb apply";
                return LIST_BAD;
            }
            row->remove = 1;
        }

        (*s)++;
        (*n)--;
    }

    return 0;
}

static size_t
strip_comment(const char *s, size_t n)
{
    const char  *hash = memchr(s, '#', n);

    n = hash ? (size_t) (hash - s) : n;

    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) {
        n--;
    }

    return n;
}

static int
parse_hex(char *s, size_t n, list_row_t *row, const char **why)
{
    size_t  i, start;

    for (i = 0; i < n; ) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) {
            i++;
        }

        if (i == n) {
            break;
        }

        start = i;
        while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != ',') {
            i++;
        }

        if (add_digest(&row->row, s + start, i - start, why) != LIST_ROW) {
            return LIST_BAD;
        }
    }

    return LIST_ROW;
}

static int
parse_typed(char *s, size_t n, list_row_t *row, const char **why)
{
    size_t  i, tlen, start;

    for (i = 0; i < n && s[i] != ' ' && s[i] != '\t'; i++) {
        /* the type */
    }

    tlen = i;

    while (i < n && (s[i] == ' ' || s[i] == '\t')) {
        i++;
    }

    start = i;
    while (i < n && s[i] != ' ' && s[i] != '\t') {
        i++;
    }

    if (start == i) {
        *why = "expected \"<type> <hash>\"";
        return LIST_BAD;
    }

    if (add_typed_digest(&row->row, s, tlen, s + start, i - start, why)
        != LIST_ROW)
    {
        return LIST_BAD;
    }

    /* "pdq <hash> <quality>": a quality may follow a PDQ hash */
    while (i < n && (s[i] == ' ' || s[i] == '\t')) {
        i++;
    }

    if (i < n && (row->row.types & HDB_TYPE_BIT(HDB_PDQ))) {
        return parse_quality(s + i, n - i, &row->quality, why);
    }

    return LIST_ROW;
}

static int
parse_clamav(char *s, size_t n, list_row_t *row, const char **why)
{
    char    *c1, *c2;
    size_t   i;

    c1 = memchr(s, ':', n);
    c2 = c1 ? memchr(c1 + 1, ':', n - (size_t) (c1 + 1 - s)) : NULL;

    if (c2 == NULL || c2 + 1 == s + n) {
        *why = "expected ClamAV \"hash:size:name\"";
        return LIST_BAD;
    }

    for (i = 1; c1 + i < c2; i++) {
        if (!isdigit((unsigned char) c1[i]) && !(c1[i] == '*' && i == 1)) {
            *why = "ClamAV size is not a number or '*'";
            return LIST_BAD;
        }
    }

    if (c1 + 1 == c2) {
        *why = "ClamAV size is empty";
        return LIST_BAD;
    }

    return add_digest(&row->row, s, (size_t) (c1 - s), why);
}

/* splits a CSV line in place; quoted fields may hold commas and "" */
int
list_csv_split(char *s, size_t n, char **f, size_t *fl, int max)
{
    int     nf = 0;
    size_t  i = 0, o;

    while (nf < max) {
        f[nf] = s + i;
        o = i;

        if (i < n && s[i] == '"') {
            i++;
            while (i < n) {
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"') {
                        s[o++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                s[o++] = s[i++];
            }
            fl[nf] = o - (size_t) (f[nf] - s);

            while (i < n && s[i] != ',') {
                i++;
            }

        } else {
            while (i < n && s[i] != ',') {
                i++;
            }
            fl[nf] = i - o;
        }

        while (fl[nf]
               && (f[nf][fl[nf] - 1] == ' ' || f[nf][fl[nf] - 1] == '\r'))
        {
            fl[nf]--;
        }
        while (fl[nf] && f[nf][0] == ' ') {
            f[nf]++;
            fl[nf]--;
        }

        nf++;

        if (i >= n) {
            break;
        }

        i++;    /* ',' */
    }

    return nf;
}

#define CSV_MAX_COLS  32

static int
csv_header(list_parser_t *p, char *s, size_t n, const char **why)
{
    int      nf;
    char    *f[CSV_MAX_COLS];
    size_t   fl[CSV_MAX_COLS];

    nf = list_csv_split(s, n, f, fl, CSV_MAX_COLS);

    for (int i = 0; i < nf; i++) {
        hdb_type_t  t;

        lower(f[i], fl[i]);

#define COL(name) (fl[i] == sizeof(name) - 1 && memcmp(f[i], name, fl[i]) == 0)

        if (COL("type")) {
            p->col_type = i;
        } else if (COL("hash") || COL("digest")) {
            p->col_hash = i;
        } else if (COL("category")) {
            p->col_category = i;
        } else if (COL("added") || COL("date")) {
            p->col_added = i;
        } else if (COL("id")) {
            p->col_id = i;
        } else if (COL("op")) {
            p->col_op = i;
        } else if (COL("quality")) {
            p->col_quality = i;
        } else if (hdb_type_from_name(f[i], fl[i], &t) == 0) {
            p->col_digest[t] = i;
        }

#undef COL
    }

    if ((p->col_type < 0) != (p->col_hash < 0)) {
        *why = "CSV header names type without hash, or hash without type";
        return LIST_BAD;
    }

    if (p->col_hash < 0 && p->col_digest[HDB_MD5] < 0
        && p->col_digest[HDB_SHA1] < 0 && p->col_digest[HDB_SHA256] < 0
        && p->col_digest[HDB_PDQ] < 0)
    {
        *why = "CSV header names no hash column (type and hash, or "
               "md5, sha1, sha256, pdq)";
        return LIST_BAD;
    }

    p->have_header = 1;
    return LIST_SKIP;
}

static int
parse_date(const char *s, size_t n, int64_t *out)
{
    char       buf[32];
    char      *end;
    struct tm  tm;

    if (n == 0 || n >= sizeof(buf)) {
        return -1;
    }

    memcpy(buf, s, n);
    buf[n] = '\0';

    if (is_hex(buf, n) && strspn(buf, "0123456789") == n) {
        *out = strtoll(buf, NULL, 10);
        return 0;
    }

    memset(&tm, 0, sizeof(tm));
    end = strptime(buf, "%Y-%m-%d", &tm);

    if (end && (*end == 'T' || *end == ' ')) {
        end = strptime(end + 1, "%H:%M:%S", &tm);
        if (end && *end == 'Z') {
            end++;
        }
    }

    if (end == NULL || *end != '\0') {
        return -1;
    }

    *out = (int64_t) timegm(&tm);
    return 0;
}

static int
csv_row(list_parser_t *p, char *s, size_t n, list_row_t *row, char *id,
    const char **why)
{
    int      nf;
    char    *f[CSV_MAX_COLS];
    size_t   fl[CSV_MAX_COLS];

#define FIELD(c) ((c) >= 0 && (c) < nf ? fl[c] : 0)

    nf = list_csv_split(s, n, f, fl, CSV_MAX_COLS);

    if (p->col_hash >= 0 && FIELD(p->col_hash)) {
        if (add_typed_digest(&row->row, f[p->col_type], FIELD(p->col_type),
                             f[p->col_hash], fl[p->col_hash], why)
            != LIST_ROW)
        {
            return LIST_BAD;
        }
    }

    for (int t = 0; t < HDB_NTYPES; t++) {
        int  c = p->col_digest[t];

        if (FIELD(c) && add_typed_digest(&row->row, hdb_type_name(t),
                                         strlen(hdb_type_name(t)), f[c],
                                         fl[c], why) != LIST_ROW)
        {
            return LIST_BAD;
        }
    }

    if (row->row.types == 0) {
        *why = "no digest in this row";
        return LIST_BAD;
    }

    if (FIELD(p->col_category)) {
        if (fl[p->col_category] > HDB_CATEGORY_MAX) {
            *why = "category longer than 8 characters";
            return LIST_BAD;
        }
        memcpy(row->category, f[p->col_category], fl[p->col_category]);
        row->category[fl[p->col_category]] = '\0';
    }

    if (FIELD(p->col_added)
        && parse_date(f[p->col_added], fl[p->col_added], &row->row.added)
           != 0)
    {
        *why = "added is not a date (YYYY-MM-DD[THH:MM:SSZ]) or unix time";
        return LIST_BAD;
    }

    if (FIELD(p->col_quality)
        && parse_quality(f[p->col_quality], fl[p->col_quality], &row->quality,
                         why) != LIST_ROW)
    {
        return LIST_BAD;
    }

    if (FIELD(p->col_op)) {
        char  *op = f[p->col_op];
        size_t l = fl[p->col_op];

        lower(op, l);

        if ((l == 6 && memcmp(op, "remove", 6) == 0)
            || (l == 6 && memcmp(op, "delete", 6) == 0)
            || (l == 1 && op[0] == '-'))
        {
            if (!p->delta) {
                *why = "a removal in a full list; use hashdb apply";
                return LIST_BAD;
            }
            row->remove = 1;

        } else if (!((l == 3 && memcmp(op, "add", 3) == 0)
                     || (l == 1 && op[0] == '+')))
        {
            *why = "op is neither add nor remove";
            return LIST_BAD;
        }
    }

    if (FIELD(p->col_id)) {
        if (fl[p->col_id] > LIST_ID_MAX) {
            *why = "id longer than 128 characters";
            return LIST_BAD;
        }
        memcpy(id, f[p->col_id], fl[p->col_id]);
        id[fl[p->col_id]] = '\0';
    }

#undef FIELD

    return LIST_ROW;
}

/* guesses the format from the first line that holds data */
static list_fmt_t
detect(const char *s, size_t n)
{
    size_t       i;
    const char  *colon;

    while (n && (*s == '+' || *s == '-' || *s == ' ' || *s == '\t')) {
        s++;
        n--;
    }

    colon = memchr(s, ':', n);
    if (colon && is_hex(s, (size_t) (colon - s))) {
        return LIST_FMT_CLAMAV;
    }

    for (i = 0; i < n && s[i] != ' ' && s[i] != '\t' && s[i] != ','; i++) {
        /* first token */
    }

    if (memchr(s, ',', n) && !is_hex(s, i)) {
        return LIST_FMT_CSV;
    }

    if (i < n && (s[i] == ' ' || s[i] == '\t') && !is_hex(s, i)) {
        return LIST_FMT_TYPED;
    }

    return LIST_FMT_HEX;
}

static void
finish_row(list_parser_t *p, list_row_t *row)
{
    if (row->category[0] == '\0' && p->category) {
        strcpy(row->category, p->category);
    }

    row->row.category = row->category[0] ? row->category : NULL;
}

int
list_parse_line(list_parser_t *p, char *line, size_t len, list_row_t *row,
    const char **why)
{
    int         rc;
    char        id[LIST_ID_MAX + 1];
    list_row_t  cur;

    memset(&cur, 0, sizeof(cur));
    cur.quality = -1;

    if (p->fmt != LIST_FMT_CSV) {
        len = strip_comment(line, len);
    }

    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ')) {
        len--;
    }

    if (len == 0 || (p->fmt == LIST_FMT_CSV && line[0] == '#')) {
        return LIST_SKIP;
    }

    if (p->fmt == LIST_FMT_AUTO) {
        p->fmt = detect(line, len);
    }

    switch (p->fmt) {

    case LIST_FMT_CSV:
        if (!p->have_header) {
            return csv_header(p, line, len, why);
        }

        id[0] = '\0';
        rc = csv_row(p, line, len, &cur, id, why);
        if (rc != LIST_ROW) {
            return rc;
        }

        /* consecutive rows with one id are the digests of one file */
        if (p->pending && id[0] && strcmp(id, p->pend_id) == 0
            && cur.remove == p->pend.remove)
        {
            for (int t = 0; t < HDB_NTYPES; t++) {
                if (!(cur.row.types & HDB_TYPE_BIT(t))) {
                    continue;
                }

                if (p->pend.row.types & HDB_TYPE_BIT(t)) {
                    *why = "two digests of the same type for one id";
                    return LIST_BAD;
                }

                memcpy(p->pend.row.digests[t], cur.row.digests[t],
                       HDB_DIGEST_MAX);
                p->pend.row.types |= HDB_TYPE_BIT(t);
            }

            if (p->pend.category[0] == '\0') {
                strcpy(p->pend.category, cur.category);
            }

            if (cur.quality >= 0) {
                p->pend.quality = cur.quality;
            }

            return LIST_SKIP;
        }

        rc = LIST_SKIP;

        if (p->pending) {
            *row = p->pend;
            finish_row(p, row);
            rc = LIST_ROW;
        }

        p->pend = cur;
        strcpy(p->pend_id, id);
        p->pending = 1;
        return rc;

    case LIST_FMT_TYPED:
    case LIST_FMT_CLAMAV:
    case LIST_FMT_HEX:
    default:
        if (take_op(p, &line, &len, &cur, why) != 0) {
            return LIST_BAD;
        }

        rc = p->fmt == LIST_FMT_TYPED ? parse_typed(line, len, &cur, why)
             : p->fmt == LIST_FMT_CLAMAV ? parse_clamav(line, len, &cur, why)
             : p->fmt == LIST_FMT_PDQ ? parse_pdq_line(line, len, &cur, why)
             : parse_hex(line, len, &cur, why);

        if (rc != LIST_ROW) {
            return rc;
        }

        if (cur.row.types == 0) {
            *why = "no digest on this line";
            return LIST_BAD;
        }

        *row = cur;
        finish_row(p, row);
        return LIST_ROW;
    }
}

int
list_parse_end(list_parser_t *p, list_row_t *row)
{
    if (!p->pending) {
        return LIST_SKIP;
    }

    *row = p->pend;
    finish_row(p, row);
    p->pending = 0;
    return LIST_ROW;
}
