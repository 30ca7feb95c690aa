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
