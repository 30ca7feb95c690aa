/* selector.h -- Kubernetes label selectors (`a=b,c!=d,e in (x,y),f notin (z),g,!h`) parsed
 * strictly into requirements, one place for every layer. Pure: matching against stored
 * labels is the store's (SQL), not this module's. */
#ifndef BASE_SELECTOR_H
#define BASE_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

struct err;

#define SELECTOR_TEXT_MAX 4096 /* bytes of a selector */
#define SELECTOR_REQS_MAX 64   /* requirements in one selector */
#define SELECTOR_SET_MAX  64   /* values in one in/notin set */

enum selector_op {
    SELECTOR_EQ,        /* key=value, key==value */
    SELECTOR_NE,        /* key!=value: absent keys match, as in Kubernetes */
    SELECTOR_IN,        /* key in (v1,v2) */
    SELECTOR_NOTIN,     /* key notin (v1,v2): absent keys match */
    SELECTOR_EXISTS,    /* key */
    SELECTOR_NOT_EXISTS /* !key */
};

struct selector_req {
    char *key;
    enum selector_op op;
    char **values; /* EQ and NE: one; IN and NOTIN: 1..SELECTOR_SET_MAX; else none */
    size_t n_values;
};

/* Every requirement must hold (AND). */
struct selector {
    struct selector_req *reqs;
    size_t n;
};

/* Parses text as Kubernetes' labels.Parse does, keys and values checked as label keys
 * and values. An empty selector (only spaces) parses to no requirements. Fails with
 * ERR_MALFORMED naming field (the query parameter it came from) and quoting the text,
 * or ERR_TOO_LARGE past the limits above. Caller owns *out; free with selector_free(). */
int selector_parse(const char *text, const char *field, struct selector **out, struct err *e);
void selector_free(struct selector **s); /* NULL-safe; sets *s to NULL */

/* A label key: an optional DNS-subdomain prefix and '/', then a name. */
bool selector_key_ok(const char *s, size_t n);
/* A label value: empty, or [A-Za-z0-9]([-_.A-Za-z0-9]*[A-Za-z0-9])? of at most 63. */
bool selector_value_ok(const char *s, size_t n);

#endif
