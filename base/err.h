/* err.h -- the one error type every fallible function fills.
 * Not responsible for mapping codes to HTTP statuses: only api/ does that. */
#ifndef BASE_ERR_H
#define BASE_ERR_H

#include <stddef.h>

enum err_code {
    ERR_NONE = 0,
    ERR_MALFORMED, /* input cannot be parsed (bad JSON, bad number) */
    ERR_INVALID,   /* parsed but semantically wrong (unknown SKU, gpuCount 0) */
    ERR_NOT_FOUND,
    ERR_CONFLICT,    /* exists with different content, or a stale version */
    ERR_TOO_LARGE,   /* over a byte, depth or count limit */
    ERR_MEDIA_TYPE,  /* not JSON */
    ERR_METHOD,      /* method not allowed on this resource */
    ERR_DB,          /* database unreachable or failed */
    ERR_UNAVAILABLE, /* a dependency other than the database is down */
    ERR_IO,          /* file or socket error */
    ERR_CONFIG,      /* bad configuration */
    ERR_UNAUTHORIZED,
    ERR_FORBIDDEN,
    ERR_RATE_LIMITED,
    ERR_TIMEOUT,
    ERR_INTERNAL,
};

/* field names the offending input ("spec.resources.gpuCount"), empty when none. */
struct err {
    enum err_code code;
    char field[128];
    char msg[512];
};

/* Fills e (when not NULL) and returns -1, so callers can `return err_set(...)`.
 * field may be NULL. */
int err_set(struct err *e, enum err_code code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define ERR_CAUSES_MAX 16

/* Every problem of a refused input, as Kubernetes lists a Status's causes: items[0] first,
 * the rest in the order the input was checked; more counts the problems past the array. A
 * zeroed struct holds none. */
struct err_causes {
    size_t n;
    size_t more;
    struct err items[ERR_CAUSES_MAX];
};

/* Keeps *e as one more cause of c; err_causef() one it formats. */
void err_cause(struct err_causes *c, const struct err *e);
void err_causef(struct err_causes *c, enum err_code code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Fills e with every cause of c on one line, as a config error is printed: each
 * "prefix.field: msg" ("msg" alone when prefix is NULL, the message naming its field
 * already), joined by "; " while they fit e->msg, the rest counted as "(and N more)". The
 * first is always there, cut to fit if it must be. e->field is the first's, prefixed.
 * c holds at least one cause. Returns -1. */
int err_join(struct err *e, enum err_code code, const char *prefix, const struct err_causes *c);

/* Clears e (NULL-safe). */
void err_clear(struct err *e);

/* Stable snake_case name of a code ("not_found"), used on the wire and in logs. */
const char *err_code_name(enum err_code code);

#endif
