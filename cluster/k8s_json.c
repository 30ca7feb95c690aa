/* k8s_json.c -- a recursive-descent JSON tokenizer with on-demand string decoding. */
#include "cluster/k8s_json.h"

#include "base/err.h"
#include "base/mem.h"
#include "base/num.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    struct k8s_json *d;
    const char *s;
    size_t len;
    size_t pos;
    int max_depth;
    struct err *e;
};

static int fail(struct parser *p, const char *what)
{
    return err_set(p->e, ERR_MALFORMED, "body", "malformed JSON at byte %zu: %s", p->pos, what);
}

static void skip_ws(struct parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];

        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            return;
        p->pos++;
    }
}

static uint32_t push(struct parser *p, enum k8s_json_type type, size_t start)
{
    struct k8s_json *d = p->d;
    struct k8s_json_tok *t;

    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 1024;
        d->toks = xrealloc(d->toks, d->cap * sizeof(*d->toks));
    }
    t = &d->toks[d->n];
    t->start = (uint32_t)start;
    t->len = 0;
    t->count = 0;
    t->type = (uint8_t)type;
    t->escaped = 0;
    t->next = (uint32_t)(d->n + 1);
    return (uint32_t)d->n++;
}

static int parse_string(struct parser *p)
{
    size_t start = ++p->pos; /* after the quote */
    uint8_t escaped = 0;
    uint32_t idx;

    for (;;) {
        unsigned char c;

        if (p->pos >= p->len)
            return fail(p, "unterminated string");
        c = (unsigned char)p->s[p->pos];
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(p, "control character in string");
        if (c != '\\') {
            p->pos++;
            continue;
        }
        escaped = 1;
        if (p->pos + 1 >= p->len)
            return fail(p, "unterminated escape");
        c = (unsigned char)p->s[p->pos + 1];
        if (c == 'u') {
            if (p->pos + 6 > p->len)
                return fail(p, "short \\u escape");
            for (int k = 2; k < 6; k++)
                if (num_hex_digit(p->s[p->pos + (size_t)k]) < 0)
                    return fail(p, "bad \\u escape");
            p->pos += 6;
            continue;
        }
        if (!strchr("\"\\/bfnrt", c))
            return fail(p, "bad escape");
        p->pos += 2;
    }
    idx = push(p, K8S_JSON_STRING, start);
    p->d->toks[idx].len = (uint32_t)(p->pos - start);
    p->d->toks[idx].escaped = escaped;
    p->pos++; /* closing quote */
    return 0;
}

static int digits(struct parser *p)
{
    size_t from = p->pos;

    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
        p->pos++;
    return p->pos > from ? 0 : -1;
}

static int parse_number(struct parser *p)
{
    size_t start = p->pos;
    uint32_t idx;

    if (p->s[p->pos] == '-')
        p->pos++;
    if (p->pos < p->len && p->s[p->pos] == '0')
        p->pos++;
    else if (digits(p) != 0)
        return fail(p, "bad number");
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        if (digits(p) != 0)
            return fail(p, "bad fraction");
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        if (digits(p) != 0)
            return fail(p, "bad exponent");
    }
    idx = push(p, K8S_JSON_NUMBER, start);
    p->d->toks[idx].len = (uint32_t)(p->pos - start);
    return 0;
}

static int parse_literal(struct parser *p, const char *word, enum k8s_json_type type)
{
    size_t n = strlen(word);
    uint32_t idx;

    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return fail(p, "unexpected character");
    idx = push(p, type, p->pos);
    p->d->toks[idx].len = (uint32_t)n;
    p->pos += n;
    return 0;
}

static int parse_value(struct parser *p, int depth);

static int parse_container(struct parser *p, int depth, bool object)
{
    uint32_t idx = push(p, object ? K8S_JSON_OBJECT : K8S_JSON_ARRAY, p->pos);
    char close = object ? '}' : ']';
    uint32_t count = 0;

    if (depth >= p->max_depth)
        return err_set(p->e, ERR_TOO_LARGE, "body", "JSON nested deeper than %d at byte %zu",
                       p->max_depth, p->pos);
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        goto done;
    }
    for (;;) {
        if (object) {
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != '"')
                return fail(p, "expected member name");
            if (parse_string(p) != 0)
                return -1;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':')
                return fail(p, "expected ':'");
            p->pos++;
        }
        if (parse_value(p, depth + 1) != 0)
            return -1;
        count++;
        skip_ws(p);
        if (p->pos >= p->len)
            return fail(p, "unterminated container");
        if (p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->s[p->pos] == close) {
            p->pos++;
            break;
        }
        return fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
done:
    p->d->toks[idx].count = count;
    p->d->toks[idx].next = (uint32_t)p->d->n;
    p->d->toks[idx].len = (uint32_t)(p->pos - p->d->toks[idx].start);
    return 0;
}

static int parse_value(struct parser *p, int depth)
{
    char c;

    skip_ws(p);
    if (p->pos >= p->len)
        return fail(p, "unexpected end");
    c = p->s[p->pos];
    switch (c) {
    case '{': return parse_container(p, depth, true);
    case '[': return parse_container(p, depth, false);
    case '"': return parse_string(p);
    case 't': return parse_literal(p, "true", K8S_JSON_TRUE);
    case 'f': return parse_literal(p, "false", K8S_JSON_FALSE);
    case 'n': return parse_literal(p, "null", K8S_JSON_NULL);
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return parse_number(p);
        return fail(p, "unexpected character");
    }
}

void k8s_json_init(struct k8s_json *d)
{
    memset(d, 0, sizeof(*d));
}

void k8s_json_free(struct k8s_json *d)
{
    free(d->toks);
    memset(d, 0, sizeof(*d));
}

int k8s_json_parse(struct k8s_json *d, const char *s, size_t len, int max_depth, struct err *e)
{
    struct parser p = {d, s, len, 0, max_depth, e};

    d->n = 0;
    d->src = s;
    if (len > K8S_JSON_MAX_BYTES)
        return err_set(e, ERR_TOO_LARGE, "body", "JSON body of %zu bytes is over the limit", len);
    if (p.max_depth <= 0 || p.max_depth > K8S_JSON_MAX_DEPTH)
        p.max_depth = K8S_JSON_MAX_DEPTH;
    if (parse_value(&p, 0) != 0)
        goto fail;
    skip_ws(&p);
    if (p.pos != len) {
        fail(&p, "trailing data");
        goto fail;
    }
    return 0;
fail:
    d->n = 0;
    return -1;
}

static bool valid(const struct k8s_json *d, int tok)
{
    return tok >= 0 && (size_t)tok < d->n;
}

int k8s_json_type(const struct k8s_json *d, int tok)
{
    return valid(d, tok) ? d->toks[tok].type : 0;
}

int k8s_json_child(const struct k8s_json *d, int tok)
{
    if (!valid(d, tok) || d->toks[tok].count == 0)
        return -1;
    return tok + 1;
}

int k8s_json_next(const struct k8s_json *d, int parent, int child)
{
    uint32_t n;

    if (!valid(d, parent) || !valid(d, child))
        return -1;
    if (d->toks[parent].type == K8S_JSON_OBJECT)
        n = d->toks[child + 1].next; /* step over the key and its value */
    else
        n = d->toks[child].next;
    return n < d->toks[parent].next ? (int)n : -1;
}

/* Decodes string tok into out (up to size bytes, no NUL) and returns the decoded length;
 * with out NULL it only measures. */
static size_t decode(const struct k8s_json *d, const struct k8s_json_tok *t, char *out, size_t size)
{
    const char *s = d->src + t->start;
    size_t n = 0;

    for (size_t i = 0; i < t->len;) {
        unsigned char buf[4];
        size_t k = 0;

        if (s[i] != '\\') {
            buf[k++] = (unsigned char)s[i++];
        } else if (s[i + 1] != 'u') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";

            buf[k++] = (unsigned char)to[strchr(from, s[i + 1]) - from];
            i += 2;
        } else {
            unsigned cp = 0;

            for (int h = 2; h < 6; h++)
                cp = cp * 16 + (unsigned)num_hex_digit(s[i + (size_t)h]);
            i += 6;
            if (cp >= 0xD800 && cp < 0xDC00 && i + 6 <= t->len && s[i] == '\\' && s[i + 1] == 'u') {
                unsigned lo = 0;

                for (int h = 2; h < 6; h++)
                    lo = lo * 16 + (unsigned)num_hex_digit(s[i + (size_t)h]);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
            }
            if (cp >= 0xD800 && cp < 0xE000)
                cp = 0xFFFD; /* a lone surrogate cannot be encoded in UTF-8 */
            if (cp < 0x80) {
                buf[k++] = (unsigned char)cp;
            } else if (cp < 0x800) {
                buf[k++] = (unsigned char)(0xC0 | (cp >> 6));
                buf[k++] = (unsigned char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                buf[k++] = (unsigned char)(0xE0 | (cp >> 12));
                buf[k++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                buf[k++] = (unsigned char)(0x80 | (cp & 0x3F));
            } else {
                buf[k++] = (unsigned char)(0xF0 | (cp >> 18));
                buf[k++] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
                buf[k++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                buf[k++] = (unsigned char)(0x80 | (cp & 0x3F));
            }
        }
        for (size_t j = 0; j < k; j++, n++)
            if (out && n < size)
                out[n] = (char)buf[j];
    }
    return n;
}

static bool tok_eq(const struct k8s_json *d, const struct k8s_json_tok *t, const char *s)
{
    size_t n = strlen(s);

    if (!t->escaped)
        return t->len == n && memcmp(d->src + t->start, s, n) == 0;
    if (n > t->len) /* escapes only ever shrink the text */
        return false;
    {
        char tmp[512];
        size_t got;

        if (n >= sizeof(tmp))
            return false;
        got = decode(d, t, tmp, sizeof(tmp));
        return got == n && memcmp(tmp, s, n) == 0;
    }
}

bool k8s_json_str_eq(const struct k8s_json *d, int tok, const char *s)
{
    if (!valid(d, tok) || d->toks[tok].type != K8S_JSON_STRING)
        return false;
    return tok_eq(d, &d->toks[tok], s);
}

int k8s_json_get(const struct k8s_json *d, int obj, const char *key)
{
    if (!valid(d, obj) || d->toks[obj].type != K8S_JSON_OBJECT)
        return -1;
    for (int k = k8s_json_child(d, obj); k >= 0; k = k8s_json_next(d, obj, k))
        if (tok_eq(d, &d->toks[k], key))
            return k + 1;
    return -1;
}

int k8s_json_path(const struct k8s_json *d, int tok, ...)
{
    va_list ap;
    const char *key;

    va_start(ap, tok);
    while (tok >= 0 && (key = va_arg(ap, const char *)) != NULL)
        tok = k8s_json_get(d, tok, key);
    va_end(ap);
    return tok;
}

long k8s_json_str(const struct k8s_json *d, int tok, char *out, size_t size)
{
    size_t n;

    if (!valid(d, tok) || d->toks[tok].type != K8S_JSON_STRING) {
        if (size)
            out[0] = '\0';
        return -1;
    }
    n = decode(d, &d->toks[tok], out, size ? size - 1 : 0);
    if (size)
        out[n < size - 1 ? n : size - 1] = '\0';
    return (long)n;
}

const char *k8s_json_raw(const struct k8s_json *d, int tok, size_t *len)
{
    if (!valid(d, tok)) {
        *len = 0;
        return NULL;
    }
    *len = d->toks[tok].len;
    return d->src + d->toks[tok].start;
}

int k8s_json_int(const struct k8s_json *d, int tok, int64_t min, int64_t max, int64_t *out)
{
    const struct k8s_json_tok *t;
    const char *s;
    int64_t v = 0;
    bool neg = false;
    size_t i = 0;

    if (!valid(d, tok))
        return -1;
    t = &d->toks[tok];
    if ((t->type != K8S_JSON_NUMBER && t->type != K8S_JSON_STRING) || t->escaped || !t->len)
        return -1;
    s = d->src + t->start;
    if (s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == t->len || t->len - i > 18)
        return -1;
    for (; i < t->len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (neg)
        v = -v;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

bool k8s_json_true(const struct k8s_json *d, int tok)
{
    return valid(d, tok) && d->toks[tok].type == K8S_JSON_TRUE;
}
