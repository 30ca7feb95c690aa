/* err.c -- filling and naming struct err. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_set(struct err *e, enum err_code code, const char *field, const char *fmt, ...)
{
    va_list ap;

    if (!e)
        return -1;
    e->code = code;
    snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return -1;
}

void err_cause(struct err_causes *c, const struct err *e)
{
    if (c->n < ERR_CAUSES_MAX)
        c->items[c->n++] = *e;
    else
        c->more++;
}

void err_causef(struct err_causes *c, enum err_code code, const char *field, const char *fmt, ...)
{
    struct err e = {.code = code};
    va_list ap;

    snprintf(e.field, sizeof(e.field), "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
    va_end(ap);
    err_cause(c, &e);
}

int err_join(struct err *e, enum err_code code, const char *prefix, const struct err_causes *c)
{
    enum { COUNT_ROOM = 24 }; /* " (and 18446744073709551615 more)" never needs more */
    char field[sizeof(e->field)], msg[sizeof(e->msg)] = "";
    size_t len = 0, left = c->more;

    for (size_t k = 0; k < c->n; k++) {
        const struct err *ce = &c->items[k];
        char one[sizeof(e->msg)];
        int n = prefix ? snprintf(one, sizeof(one), "%s%s%s%s: %s", k ? "; " : "", prefix,
                                  ce->field[0] ? "." : "", ce->field, ce->msg)
                       : snprintf(one, sizeof(one), "%s%s", k ? "; " : "", ce->msg);

        /* Room is kept for the count of those left out; the first is cut to fit. */
        if (n < 0 || (k && len + (size_t)n + COUNT_ROOM >= sizeof(msg))) {
            left += c->n - k;
            break;
        }
        len += (size_t)snprintf(msg + len, sizeof(msg) - COUNT_ROOM - len, "%s", one);
        if (len > sizeof(msg) - COUNT_ROOM - 1)
            len = sizeof(msg) - COUNT_ROOM - 1;
    }
    if (left)
        snprintf(msg + len, sizeof(msg) - len, "%s(and %zu more)", len ? " " : "", left);
    if (prefix)
        snprintf(field, sizeof(field), "%s%s%s", prefix, c->items[0].field[0] ? "." : "",
                 c->items[0].field);
    else
        snprintf(field, sizeof(field), "%s", c->items[0].field);
    return err_set(e, code, field, "%s", msg);
}

void err_clear(struct err *e)
{
    if (!e)
        return;
    e->code = ERR_NONE;
    e->field[0] = '\0';
    e->msg[0] = '\0';
}

const char *err_code_name(enum err_code code)
{
    switch (code) {
    case ERR_NONE: return "none";
    case ERR_MALFORMED: return "malformed";
    case ERR_INVALID: return "invalid";
    case ERR_NOT_FOUND: return "not_found";
    case ERR_CONFLICT: return "conflict";
    case ERR_TOO_LARGE: return "too_large";
    case ERR_MEDIA_TYPE: return "unsupported_media_type";
    case ERR_METHOD: return "method_not_allowed";
    case ERR_DB: return "database_unavailable";
    case ERR_UNAVAILABLE: return "unavailable";
    case ERR_IO: return "io";
    case ERR_CONFIG: return "config";
    case ERR_UNAUTHORIZED: return "unauthorized";
    case ERR_FORBIDDEN: return "forbidden";
    case ERR_RATE_LIMITED: return "rate_limited";
    case ERR_TIMEOUT: return "timeout";
    case ERR_INTERNAL: return "internal";
    }
    return "unknown";
}
