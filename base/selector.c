/* selector.c -- Kubernetes label selectors parsed strictly (see selector.h). The grammar and
 * the tokens are apimachinery's (labels.Parse): identifiers are runs of anything but
 * spaces and the symbols ! = , ( ), and "in" and "notin" are operators after a key. */
#include "base/selector.h"

#include "base/dns.h"
#include "base/err.h"
#include "base/mem.h"

#include <stdlib.h>
#include <string.h>

#define SHOW_MAX 64 /* bytes of the selector quoted in a message */

enum tok { T_END, T_IDENT, T_NOT, T_EQ, T_DEQ, T_NE, T_LPAREN, T_RPAREN, T_COMMA };

struct lexer {
    const char *s, *p;
    enum tok t;
    const char *tstart; /* the current token's text (T_IDENT) */
    size_t tlen;
    const char *field, *text;
    struct err *e;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_symbol(char c)
{
    return c == '!' || c == '=' || c == ',' || c == '(' || c == ')';
}

static void next(struct lexer *l)
{
    while (is_space(*l->p))
        l->p++;
    l->tstart = l->p;
    l->tlen = 0;
    switch (*l->p) {
    case '\0': l->t = T_END; return;
    case ',': l->t = T_COMMA; break;
    case '(': l->t = T_LPAREN; break;
    case ')': l->t = T_RPAREN; break;
    case '=':
        l->t = l->p[1] == '=' ? T_DEQ : T_EQ;
        l->p += l->t == T_DEQ;
        break;
    case '!':
        l->t = l->p[1] == '=' ? T_NE : T_NOT;
        l->p += l->t == T_NE;
        break;
    default:
        while (*l->p && !is_space(*l->p) && !is_symbol(*l->p))
            l->p++;
        l->t = T_IDENT;
        l->tlen = (size_t)(l->p - l->tstart);
        return;
    }
    l->p++;
}

/* Every failure names the parameter, quotes the selector, and says what is wrong where. */
static int fail(struct lexer *l, const char *what)
{
    size_t at = (size_t)(l->tstart - l->s);

    return err_set(l->e, ERR_MALFORMED, l->field,
                   "%s \"%.*s%s\" is not a label selector: %s at %zu", l->field, SHOW_MAX, l->text,
                   strlen(l->text) > SHOW_MAX ? "..." : "", what, at);
}

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool selector_value_ok(const char *s, size_t n)
{
    if (n == 0)
        return true;
    if (n > 63 || !alnum(s[0]) || !alnum(s[n - 1]))
        return false;
    for (size_t i = 1; i + 1 < n; i++)
        if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

bool selector_key_ok(const char *s, size_t n)
{
    const char *slash = memchr(s, '/', n);

    if (slash) {
        size_t plen = (size_t)(slash - s);

        if (!dns_subdomain_ok(s, plen, 253))
            return false;
        s = slash + 1;
        n -= plen + 1;
    }
    return n > 0 && selector_value_ok(s, n);
}

static int key(struct lexer *l, struct selector_req *r)
{
    if (l->t != T_IDENT)
        return fail(l, "expected a label key");
    if (!selector_key_ok(l->tstart, l->tlen))
        return fail(l, "invalid label key (an optional DNS subdomain and '/', then 1-63 letters, "
                       "digits, '-', '_' or '.', starting and ending with a letter or digit)");
    r->key = xstrndup(l->tstart, l->tlen);
    next(l);
    return 0;
}

/* A value where the token may also be the end of the value (an empty one). */
static int value(struct lexer *l, struct selector_req *r)
{
    size_t n = 0;
    const char *v = "";

    if (l->t == T_IDENT) {
        v = l->tstart;
        n = l->tlen;
    } else if (l->t != T_COMMA && l->t != T_END && l->t != T_RPAREN) {
        return fail(l, "expected a label value");
    }
    if (!selector_value_ok(v, n))
        return fail(l, "invalid label value (at most 63 letters, digits, '-', '_' or '.', starting "
                       "and ending with a letter or digit)");
    if (r->n_values == SELECTOR_SET_MAX)
        return err_set(l->e, ERR_TOO_LARGE, l->field, "%s has a set of more than %d values",
                       l->field, SELECTOR_SET_MAX);
    r->values = xrealloc(r->values, (r->n_values + 1) * sizeof(*r->values));
    r->values[r->n_values++] = xstrndup(v, n);
    if (l->t == T_IDENT)
        next(l);
    return 0;
}

static int set(struct lexer *l, struct selector_req *r)
{
    if (l->t != T_LPAREN)
        return fail(l, "expected '(' after in or notin");
    next(l);
    if (l->t == T_RPAREN)
        return fail(l, "the values of in and notin cannot be an empty set");
    for (;;) {
        if (value(l, r))
            return -1;
        if (l->t == T_RPAREN)
            break;
        if (l->t != T_COMMA)
            return fail(l, "expected ',' or ')' in a set of values");
        next(l);
    }
    next(l);
    return 0;
}

static int requirement(struct lexer *l, struct selector_req *r)
{
    if (l->t == T_NOT) {
        next(l);
        r->op = SELECTOR_NOT_EXISTS;
        return key(l, r);
    }
    if (key(l, r))
        return -1;
    switch (l->t) {
    case T_END:
    case T_COMMA: r->op = SELECTOR_EXISTS; return 0;
    case T_EQ:
    case T_DEQ:
    case T_NE:
        r->op = l->t == T_NE ? SELECTOR_NE : SELECTOR_EQ;
        next(l);
        return value(l, r);
    case T_IDENT:
        if (l->tlen == 2 && memcmp(l->tstart, "in", 2) == 0)
            r->op = SELECTOR_IN;
        else if (l->tlen == 5 && memcmp(l->tstart, "notin", 5) == 0)
            r->op = SELECTOR_NOTIN;
        else
            return fail(l, "expected an operator (=, ==, !=, in, notin)");
        next(l);
        return set(l, r);
    default: return fail(l, "expected an operator (=, ==, !=, in, notin), ',' or the end");
    }
}

int selector_parse(const char *text, const char *field, struct selector **out, struct err *e)
{
    struct lexer l = {.s = text, .p = text, .field = field, .text = text, .e = e};
    struct selector *s;

    if (strlen(text) > SELECTOR_TEXT_MAX)
        return err_set(e, ERR_TOO_LARGE, field, "%s is longer than %d bytes", field,
                       SELECTOR_TEXT_MAX);
    s = xcalloc(1, sizeof(*s));
    next(&l);
    while (l.t != T_END) {
        if (s->n == SELECTOR_REQS_MAX) {
            err_set(e, ERR_TOO_LARGE, field, "%s has more than %d requirements", field,
                    SELECTOR_REQS_MAX);
            goto fail;
        }
        s->reqs = xrealloc(s->reqs, (s->n + 1) * sizeof(*s->reqs));
        memset(&s->reqs[s->n], 0, sizeof(s->reqs[0]));
        if (requirement(&l, &s->reqs[s->n++]))
            goto fail;
        if (l.t == T_COMMA) {
            next(&l);
            if (l.t == T_END) {
                fail(&l, "expected a requirement after ','");
                goto fail;
            }
        } else if (l.t != T_END) {
            fail(&l, "expected ',' or the end after a requirement");
            goto fail;
        }
    }
    *out = s;
    return 0;
fail:
    selector_free(&s);
    return -1;
}

void selector_free(struct selector **sp)
{
    struct selector *s;

    if (!sp || !*sp)
        return;
    s = *sp;
    for (size_t i = 0; i < s->n; i++) {
        free(s->reqs[i].key);
        for (size_t k = 0; k < s->reqs[i].n_values; k++)
            free(s->reqs[i].values[k]);
        free(s->reqs[i].values);
    }
    free(s->reqs);
    free(s);
    *sp = NULL;
}
