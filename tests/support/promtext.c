/* promtext.c -- a strict checker of the Prometheus text format for tests (promtext.h).
 * Written from the format's description, independently of base/prom.c, so the two do
 * not share a mistake. */
#include "tests/support/promtext.h"

#include "base/buf.h"
#include "base/mem.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum ftype { F_NONE = 0, F_COUNTER, F_GAUGE, F_HISTOGRAM, F_SUMMARY, F_UNTYPED };

struct label {
    char *name;
    char *raw;   /* as written, escapes included: the canonical form (escapes are unique) */
    char *value; /* decoded */
};

/* One histogram or summary series: the family's samples with the same labels, le and
 * quantile aside. */
struct group {
    char *key;
    size_t n_buckets;
    double last_le, last_bucket;
    bool has_inf, has_sum, has_count;
    double inf_count, count;
    size_t line; /* of its first sample */
};

struct family {
    char *name;
    enum ftype type;
    bool help, samples, ended;
};

struct series_key {
    char *key;
    size_t line;
};

struct ctx {
    char *err;
    size_t errsize;
    size_t line;
    struct family *fam;
    size_t n_fam;
    struct family *cur; /* the family whose lines we are in; NULL before the first */
    struct group *grp;  /* groups of cur */
    size_t n_grp;
    struct series_key *keys;
    size_t n_keys;
    size_t samples;
};

static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct ctx *c, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (!c->errsize)
        return -1;
    n = snprintf(c->err, c->errsize, "line %zu: ", c->line);
    if (n < 0 || (size_t)n >= c->errsize)
        return -1;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errsize - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- lexical pieces ------------------------------------------------------------------- */

static bool utf8_valid(const unsigned char *s, size_t len, size_t *bad)
{
    size_t i = 0;

    while (i < len) {
        unsigned char b = s[i];
        size_t need;
        unsigned int cp, min;

        if (b == 0) {
            *bad = i;
            return false;
        }
        if (b < 0x80) {
            i++;
            continue;
        }
        if ((b & 0xE0) == 0xC0) {
            need = 1, cp = b & 0x1F, min = 0x80;
        } else if ((b & 0xF0) == 0xE0) {
            need = 2, cp = b & 0x0F, min = 0x800;
        } else if ((b & 0xF8) == 0xF0) {
            need = 3, cp = b & 0x07, min = 0x10000;
        } else {
            *bad = i;
            return false;
        }
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= len || (s[i + k] & 0xC0) != 0x80) {
                *bad = i;
                return false;
            }
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            *bad = i;
            return false;
        }
        i += need + 1;
    }
    return true;
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static const char *skip_blanks(const char *p, const char *end)
{
    while (p < end && is_blank(*p))
        p++;
    return p;
}

static bool name_start(char ch, bool colon)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
           (colon && ch == ':');
}

static bool name_char(char ch, bool colon)
{
    return name_start(ch, colon) || (ch >= '0' && ch <= '9');
}

/* A metric name (colon true) or label name at p; returns its length, 0 when none. */
static size_t scan_name(const char *p, const char *end, bool colon)
{
    size_t n = 0;

    if (p >= end || !name_start(*p, colon))
        return 0;
    while (p + n < end && name_char(p[n], colon))
        n++;
    return n;
}

/* The token up to the next blank or end. */
static size_t scan_token(const char *p, const char *end)
{
    size_t n = 0;

    while (p + n < end && !is_blank(p[n]))
        n++;
    return n;
}

/* A float as Prometheus writes one: [+-]digits[.digits][e[+-]digits], .5, +Inf, -Inf,
 * NaN. Hex, "inf", "Infinity" and the like are refused. */
static bool parse_float(const char *s, size_t n, double *out)
{
    char tmp[64], *endp;
    size_t i = 0, digits = 0;

    if ((n == 4 && memcmp(s, "+Inf", 4) == 0)) {
        *out = INFINITY;
        return true;
    }
    if (n == 4 && memcmp(s, "-Inf", 4) == 0) {
        *out = -INFINITY;
        return true;
    }
    if (n == 3 && memcmp(s, "NaN", 3) == 0) {
        *out = NAN;
        return true;
    }
    if (n == 0 || n >= sizeof(tmp))
        return false;
    if (s[i] == '+' || s[i] == '-')
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, digits++;
    }
    if (!digits)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t ed = 0;

        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, ed++;
        if (!ed)
            return false;
    }
    if (i != n)
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    *out = strtod(tmp, &endp);
    return *endp == '\0';
}

static bool parse_timestamp(const char *s, size_t n)
{
    size_t i = s[0] == '-' ? 1 : 0;

    if (n == i || n - i > 19)
        return false;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* ---- families and series -------------------------------------------------------------- */

static void labels_free(struct label *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(l[i].name);
        free(l[i].raw);
        free(l[i].value);
    }
    free(l);
}

static int cmp_label(const void *a, const void *b)
{
    return strcmp(((const struct label *)a)->name, ((const struct label *)b)->name);
}

/* name{l1="v1",...} with labels sorted, leaving out the label called skip (may be NULL). */
static char *series_key(const char *name, const struct label *l, size_t n, const char *skip)
{
    struct buf b;
    bool first = true;

    buf_init(&b, 0);
    buf_puts(&b, name);
    buf_puts(&b, "{");
    for (size_t i = 0; i < n; i++) {
        if (skip && strcmp(l[i].name, skip) == 0)
            continue;
        buf_printf(&b, "%s%s=\"%s\"", first ? "" : ",", l[i].name, l[i].raw);
        first = false;
    }
    buf_puts(&b, "}");
    return buf_steal(&b);
}

static struct family *family_find(struct ctx *c, const char *name, size_t n)
{
    for (size_t i = 0; i < c->n_fam; i++)
        if (strlen(c->fam[i].name) == n && memcmp(c->fam[i].name, name, n) == 0)
            return &c->fam[i];
    return NULL;
}

static void groups_free(struct ctx *c)
{
    for (size_t i = 0; i < c->n_grp; i++)
        free(c->grp[i].key);
    free(c->grp);
    c->grp = NULL;
    c->n_grp = 0;
}

/* Checks cur's histogram or summary series, then leaves it for good. */
static int family_end(struct ctx *c)
{
    struct family *f = c->cur;
    int rc = 0;

    if (!f)
        return 0;
    for (size_t i = 0; i < c->n_grp && rc == 0; i++) {
        const struct group *g = &c->grp[i];

        c->line = g->line;
        if (f->type == F_HISTOGRAM) {
            if (!g->n_buckets)
                rc = fail(c, "histogram series %s has no buckets", g->key);
            else if (!g->has_inf)
                rc = fail(c, "histogram series %s has no le=\"+Inf\" bucket", g->key);
            else if (!g->has_count || !g->has_sum)
                rc = fail(c, "histogram series %s lacks _sum or _count", g->key);
            else if (g->inf_count != g->count)
                rc = fail(c, "histogram series %s: +Inf bucket %g != _count %g", g->key,
                          g->inf_count, g->count);
        }
    }
    f->ended = true;
    c->cur = NULL;
    groups_free(c);
    return rc;
}

static struct family *family_begin(struct ctx *c, const char *name, size_t n)
{
    struct family *f = family_find(c, name, n);

    if (f)
        return f;
    c->fam = xrealloc(c->fam, (c->n_fam + 1) * sizeof(*c->fam));
    f = &c->fam[c->n_fam++];
    memset(f, 0, sizeof(*f));
    f->name = xmalloc(n + 1);
    memcpy(f->name, name, n);
    f->name[n] = '\0';
    return f;
}

static struct group *group_get(struct ctx *c, char *key)
{
    struct group *g;

    for (size_t i = 0; i < c->n_grp; i++)
        if (strcmp(c->grp[i].key, key) == 0) {
            free(key);
            return &c->grp[i];
        }
    c->grp = xrealloc(c->grp, (c->n_grp + 1) * sizeof(*c->grp));
    g = &c->grp[c->n_grp++];
    memset(g, 0, sizeof(*g));
    g->key = key;
    g->line = c->line;
    return g;
}

/* ---- lines ---------------------------------------------------------------------------- */

/* HELP and TYPE; other comments are ignored. p is just past '#'. */
static int comment_line(struct ctx *c, const char *p, const char *end)
{
    static const char *const types[] = {"", "counter", "gauge", "histogram", "summary", "untyped"};
    size_t n, tn;
    const char *name;
    bool help;
    struct family *f;

    p = skip_blanks(p, end);
    n = scan_token(p, end);
    if (n == 4 && memcmp(p, "HELP", 4) == 0)
        help = true;
    else if (n == 4 && memcmp(p, "TYPE", 4) == 0)
        help = false;
    else
        return 0;
    p = skip_blanks(p + 4, end);
    name = p;
    n = scan_name(p, end, true);
    if (!n || (p + n < end && !is_blank(p[n])))
        return fail(c, "%s: bad metric name", help ? "HELP" : "TYPE");
    f = family_find(c, name, n);
    if (f && f != c->cur)
        return fail(c, "%.*s: family resumed after other lines", (int)n, name);
    if (f && f->samples)
        return fail(c, "%s for %.*s after its samples", help ? "HELP" : "TYPE", (int)n, name);
    if (!f) {
        if (family_end(c))
            return -1;
        f = family_begin(c, name, n);
        c->cur = f;
    }
    p += n;
    if (help) {
        if (f->help)
            return fail(c, "second HELP for %s", f->name);
        f->help = true;
        if (p < end)
            p++; /* the one blank before the text */
        for (; p < end; p++)
            if (*p == '\\') {
                if (p + 1 >= end || (p[1] != '\\' && p[1] != 'n'))
                    return fail(c, "HELP for %s: invalid escape", f->name);
                p++;
            }
        return 0;
    }
    if (f->type != F_NONE)
        return fail(c, "second TYPE for %s", f->name);
    p = skip_blanks(p, end);
    tn = scan_token(p, end);
    for (int t = 1; t <= F_UNTYPED; t++)
        if (tn == strlen(types[t]) && memcmp(p, types[t], tn) == 0)
            f->type = (enum ftype)t;
    if (f->type == F_NONE)
        return fail(c, "TYPE for %s: unknown type '%.*s'", f->name, (int)tn, p);
    if (skip_blanks(p + tn, end) != end)
        return fail(c, "TYPE for %s: trailing text", f->name);
    return 0;
}

/* {name="value",...}; p is at '{'. Fills *out (caller frees with labels_free). */
static const char *parse_labels(struct ctx *c, const char *p, const char *end, struct label **out,
                                size_t *n_out, int *rc)
{
    struct label *l = NULL;
    size_t n = 0;

    *rc = -1;
    p = skip_blanks(p + 1, end);
    while (p < end && *p != '}') {
        size_t ln = scan_name(p, end, false);
        struct buf raw, val;
        const char *q;

        if (!ln) {
            fail(c, "bad label name");
            goto bad;
        }
        if (ln >= 2 && p[0] == '_' && p[1] == '_') {
            fail(c, "reserved label name %.*s", (int)ln, p);
            goto bad;
        }
        l = xrealloc(l, (n + 1) * sizeof(*l));
        l[n].name = xmalloc(ln + 1);
        memcpy(l[n].name, p, ln);
        l[n].name[ln] = '\0';
        l[n].raw = l[n].value = NULL;
        n++;
        p = skip_blanks(p + ln, end);
        if (p >= end || *p != '=') {
            fail(c, "label %s: '=' expected", l[n - 1].name);
            goto bad;
        }
        p = skip_blanks(p + 1, end);
        if (p >= end || *p != '"') {
            fail(c, "label %s: quoted value expected", l[n - 1].name);
            goto bad;
        }
        buf_init(&raw, 0);
        buf_init(&val, 0);
        buf_puts(&raw, "");
        buf_puts(&val, "");
        for (q = p + 1; q < end && *q != '"'; q++) {
            if (*q == '\\') {
                char e = q + 1 < end ? q[1] : '\0';

                if (e != '\\' && e != '"' && e != 'n') {
                    buf_free(&raw);
                    buf_free(&val);
                    fail(c, "label %s: invalid escape", l[n - 1].name);
                    goto bad;
                }
                buf_append(&raw, q, 2);
                buf_append(&val, e == 'n' ? "\n" : &e, 1);
                q++;
                continue;
            }
            buf_append(&raw, q, 1);
            buf_append(&val, q, 1);
        }
        l[n - 1].raw = buf_steal(&raw);
        l[n - 1].value = buf_steal(&val);
        if (q >= end) {
            fail(c, "label %s: unterminated value", l[n - 1].name);
            goto bad;
        }
        p = skip_blanks(q + 1, end);
        if (p < end && *p == ',') {
            p = skip_blanks(p + 1, end);
            continue;
        }
        if (p >= end || *p != '}') {
            fail(c, "',' or '}' expected after label %s", l[n - 1].name);
            goto bad;
        }
    }
    if (p >= end) {
        fail(c, "unterminated label set");
        goto bad;
    }
    qsort(l, n, sizeof(*l), cmp_label);
    for (size_t i = 1; i < n; i++)
        if (strcmp(l[i - 1].name, l[i].name) == 0) {
            fail(c, "label %s repeated", l[i].name);
            goto bad;
        }
    *out = l;
    *n_out = n;
    *rc = 0;
    return p + 1;
bad:
    labels_free(l, n);
    return end;
}

static const struct label *label_get(const struct label *l, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i].name, name) == 0)
            return &l[i];
    return NULL;
}

static bool has_suffix(const char *name, size_t n, const char *fam, const char *suffix)
{
    size_t fl = strlen(fam), sl = strlen(suffix);

    return n == fl + sl && memcmp(name, fam, fl) == 0 && memcmp(name + fl, suffix, sl) == 0;
}

/* Whether a sample called name belongs to f, by f's TYPE (none: to no family). */
static bool family_owns(const struct family *f, const char *name, size_t nn)
{
    bool base = nn == strlen(f->name) && memcmp(name, f->name, nn) == 0;

    switch (f->type) {
    case F_NONE: return false;
    case F_HISTOGRAM:
        return has_suffix(name, nn, f->name, "_bucket") || has_suffix(name, nn, f->name, "_sum") ||
               has_suffix(name, nn, f->name, "_count");
    case F_SUMMARY:
        return base || has_suffix(name, nn, f->name, "_sum") ||
               has_suffix(name, nn, f->name, "_count");
    default: return base;
    }
}

/* Checks one sample against its family's type and records it. */
static int sample_typed(struct ctx *c, const char *name, size_t nn, const struct label *l,
                        size_t nl, double v)
{
    struct family *f = c->cur;
    bool base = nn == strlen(f->name) && memcmp(name, f->name, nn) == 0;
    const struct label *le = label_get(l, nl, "le"), *qt = label_get(l, nl, "quantile");
    struct group *g;
    double bound;

    switch (f->type) {
    case F_COUNTER:
        if (!base)
            return fail(c, "sample %.*s in counter family %s", (int)nn, name, f->name);
        if (!(v >= 0))
            return fail(c, "counter %s is %g", f->name, v);
        return 0;
    case F_GAUGE:
    case F_UNTYPED:
    case F_NONE: return base ? 0 : fail(c, "sample %.*s in family %s", (int)nn, name, f->name);
    case F_HISTOGRAM:
        g = group_get(c, series_key(f->name, l, nl, "le"));
        if (has_suffix(name, nn, f->name, "_bucket")) {
            if (!le || !parse_float(le->value, strlen(le->value), &bound) || isnan(bound))
                return fail(c, "%s_bucket without a valid le", f->name);
            if (!(v >= 0) || isinf(v))
                return fail(c, "%s_bucket count %g", f->name, v);
            if (g->n_buckets && !(bound > g->last_le))
                return fail(c, "%s: le=\"%s\" does not ascend", g->key, le->value);
            if (g->n_buckets && v < g->last_bucket)
                return fail(c, "%s: bucket le=\"%s\" (%g) below the previous (%g)", g->key,
                            le->value, v, g->last_bucket);
            g->n_buckets++;
            g->last_le = bound;
            g->last_bucket = v;
            if (isinf(bound)) {
                g->has_inf = true;
                g->inf_count = v;
            }
            return 0;
        }
        if (le)
            return fail(c, "le label on %.*s", (int)nn, name);
        if (has_suffix(name, nn, f->name, "_sum")) {
            g->has_sum = true;
            return 0;
        }
        if (has_suffix(name, nn, f->name, "_count")) {
            if (!(v >= 0))
                return fail(c, "%s_count is %g", f->name, v);
            g->has_count = true;
            g->count = v;
            return 0;
        }
        return fail(c, "sample %.*s in histogram family %s", (int)nn, name, f->name);
    case F_SUMMARY:
        g = group_get(c, series_key(f->name, l, nl, "quantile"));
        if (base) {
            if (!qt || !parse_float(qt->value, strlen(qt->value), &bound) || !(bound >= 0) ||
                bound > 1)
                return fail(c, "%s without a valid quantile", f->name);
            return 0;
        }
        if (qt)
            return fail(c, "quantile label on %.*s", (int)nn, name);
        if (has_suffix(name, nn, f->name, "_sum")) {
            g->has_sum = true;
            return 0;
        }
        if (has_suffix(name, nn, f->name, "_count")) {
            if (!(v >= 0))
                return fail(c, "%s_count is %g", f->name, v);
            g->has_count = true;
            return 0;
        }
        return fail(c, "sample %.*s in summary family %s", (int)nn, name, f->name);
    }
    return 0;
}

static int sample_line(struct ctx *c, const char *p, const char *end)
{
    const char *name = p;
    size_t nn = scan_name(p, end, true), nl = 0, vn, tn;
    struct label *l = NULL;
    double v;
    int rc = 0;

    if (!nn)
        return fail(c, "bad metric name");
    p += nn;
    if (p < end && *p == '{') {
        p = parse_labels(c, p, end, &l, &nl, &rc);
        if (rc)
            return -1;
    } else if (p < end && !is_blank(*p)) {
        return fail(c, "bad metric name");
    }
    if (p >= end || !is_blank(*p)) {
        rc = fail(c, "blank and value expected");
        goto out;
    }
    p = skip_blanks(p, end);
    vn = scan_token(p, end);
    if (!parse_float(p, vn, &v)) {
        rc = fail(c, "bad value '%.*s'", (int)vn, p);
        goto out;
    }
    p = skip_blanks(p + vn, end);
    if (p < end) {
        tn = scan_token(p, end);
        if (!parse_timestamp(p, tn)) {
            rc = fail(c, "bad timestamp '%.*s'", (int)tn, p);
            goto out;
        }
        if (skip_blanks(p + tn, end) != end) {
            rc = fail(c, "trailing text");
            goto out;
        }
    }
    if (!c->cur || !family_owns(c->cur, name, nn)) {
        const struct family *f = NULL;

        for (size_t i = 0; i < c->n_fam && !f; i++)
            if (family_owns(&c->fam[i], name, nn))
                f = &c->fam[i];
        if (f)
            rc = fail(c, "sample %.*s after its family %s was left", (int)nn, name, f->name);
        else if (c->cur && c->cur->type != F_NONE && strlen(c->cur->name) == nn &&
                 memcmp(c->cur->name, name, nn) == 0)
            rc = fail(c, "sample %.*s in %s family %s", (int)nn, name,
                      c->cur->type == F_HISTOGRAM ? "histogram" : "typed", c->cur->name);
        else
            rc = fail(c, "sample %.*s without a TYPE before it", (int)nn, name);
        goto out;
    }
    rc = sample_typed(c, name, nn, l, nl, v);
    if (rc == 0) {
        char *nm = xmalloc(nn + 1);

        memcpy(nm, name, nn);
        nm[nn] = '\0';
        c->keys = xrealloc(c->keys, (c->n_keys + 1) * sizeof(*c->keys));
        c->keys[c->n_keys].key = series_key(nm, l, nl, NULL);
        c->keys[c->n_keys].line = c->line;
        c->n_keys++;
        c->cur->samples = true;
        c->samples++;
        free(nm);
    }
out:
    labels_free(l, nl);
    return rc;
}

static int cmp_key(const void *a, const void *b)
{
    const struct series_key *x = a, *y = b;
    int r = strcmp(x->key, y->key);

    return r ? r : (x->line > y->line) - (x->line < y->line);
}

int promtext_check(const char *text, size_t len, struct promtext_stats *st, char *err,
                   size_t errsize)
{
    struct ctx c = {.err = err, .errsize = errsize};
    size_t pos = 0, bad = 0;
    int rc = 0;

    if (errsize)
        err[0] = '\0';
    if (!utf8_valid((const unsigned char *)text, len, &bad)) {
        c.line = 1;
        for (size_t i = 0; i < bad; i++)
            c.line += text[i] == '\n';
        return fail(&c, "invalid UTF-8 (or NUL) at byte %zu", bad);
    }
    while (pos < len && rc == 0) {
        const char *line = text + pos, *nl = memchr(line, '\n', len - pos), *p;

        c.line++;
        if (!nl) {
            rc = fail(&c, "last line does not end with a newline");
            break;
        }
        pos = (size_t)(nl - text) + 1;
        p = skip_blanks(line, nl);
        if (p == nl)
            continue;
        if (*p == '#')
            rc = comment_line(&c, p + 1, nl);
        else
            rc = sample_line(&c, p, nl);
    }
    if (rc == 0)
        rc = family_end(&c);
    if (rc == 0 && c.n_keys) {
        qsort(c.keys, c.n_keys, sizeof(*c.keys), cmp_key);
        for (size_t i = 1; i < c.n_keys && rc == 0; i++)
            if (strcmp(c.keys[i - 1].key, c.keys[i].key) == 0) {
                c.line = c.keys[i].line;
                rc = fail(&c, "duplicate series %s (first on line %zu)", c.keys[i].key,
                          c.keys[i - 1].line);
            }
    }
    if (rc == 0 && st) {
        st->families = 0;
        for (size_t i = 0; i < c.n_fam; i++)
            st->families += c.fam[i].type != F_NONE;
        st->samples = c.samples;
    }
    for (size_t i = 0; i < c.n_keys; i++)
        free(c.keys[i].key);
    free(c.keys);
    for (size_t i = 0; i < c.n_fam; i++)
        free(c.fam[i].name);
    free(c.fam);
    groups_free(&c);
    return rc;
}

int promtext_promtool(const char *text, size_t len, char *out, size_t outsize)
{
    char path[] = "/tmp/fedsched-promtool-XXXXXX", cmd[128];
    int fd = mkstemp(path), status;
    size_t n = 0;
    FILE *p;

    if (outsize)
        out[0] = '\0';
    if (fd < 0)
        return -1;
    if (write(fd, text, len) != (ssize_t)len) {
        close(fd);
        unlink(path);
        return -1;
    }
    close(fd);
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
    p = popen(cmd, "r");
    if (!p) {
        unlink(path);
        return -1;
    }
    for (int c; (c = fgetc(p)) != EOF;)
        if (n + 1 < outsize) {
            out[n++] = (char)c;
            out[n] = '\0';
        }
    status = pclose(p);
    unlink(path);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) == 127)
        return -1;
    return WEXITSTATUS(status);
}
