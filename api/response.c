/* response.c -- filling an answer: JSON, text or a job, errors with their HTTP status
 * (the one place that maps err codes to statuses), and the query arguments of a request.
 * Every handler uses it; it uses no handler, nor the router or api.c. */
#include "api/internal.h"

#include "api/trainingjob.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/sku.h"
#include "base/utf8.h"
#include "policy/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int api_status_for(enum err_code code)
{
    switch (code) {
    case ERR_NONE: return 200;
    case ERR_MALFORMED: return 400;
    case ERR_INVALID: return 422;
    case ERR_NOT_FOUND: return 404;
    case ERR_CONFLICT: return 409;
    case ERR_TOO_LARGE: return 413;
    case ERR_MEDIA_TYPE: return 415;
    case ERR_METHOD: return 405;
    case ERR_UNAUTHORIZED: return 401;
    case ERR_FORBIDDEN: return 403;
    case ERR_RATE_LIMITED: return 429;
    case ERR_DB:
    case ERR_UNAVAILABLE:
    case ERR_TIMEOUT: return 503;
    case ERR_IO:
    case ERR_CONFIG:
    case ERR_INTERNAL: return 500;
    }
    return 500;
}

/* The body answered when a response cannot be rendered: fixed, so it cannot fail. */
static const char render_failed[] =
    "{\"error\":{\"code\":\"internal\",\"message\":\"the response could not be rendered\"}}";

void resp_json(struct api_response *resp, int status, json_t *body)
{
    free(resp->body);
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(body);
    if (!resp->body) {
        /* A value jansson refused (invalid UTF-8 that escaped sanitising, a NULL from a
         * failed json_pack): never abort on a request, answer 500 and say so in the log. */
        LOG(LOG_ERROR, "api", "event=render_failed status=%d", status);
        resp->status = 500;
        resp->body = xstrdup(render_failed);
    }
}

void resp_job(struct api_response *resp, int status, const struct job *j)
{
    struct buf b;

    buf_init(&b, 0);
    trainingjob_render(j, &b);
    resp_text(resp, status, "application/json", buf_steal(&b));
}

void resp_text(struct api_response *resp, int status, const char *content_type, char *body)
{
    free(resp->body);
    resp->status = status;
    resp->body = body;
    resp->content_type = content_type;
}

/* Server-side failures carry infrastructure detail (database host and port, file
 * paths): it goes to the log, and the caller gets a fixed text. */
static const char *public_message(enum err_code code)
{
    switch (code) {
    case ERR_DB: return "the database is unavailable; retry later";
    case ERR_IO:
    case ERR_CONFIG:
    case ERR_INTERNAL: return "internal error; the server log has the detail";
    default: return NULL;
    }
}

/* The error object of e: code, message and field, valid UTF-8; a server failure's detail
 * goes to the log and its message is a fixed text, with no field. */
static json_t *error_object(const struct err *e)
{
    const char *fixed = public_message(e->code);
    char msg[sizeof(e->msg) * 4], field[sizeof(e->field) * 4];
    json_t *obj;

    /* Messages quote what the caller sent, which may be any bytes: make them valid
     * UTF-8 (jansson refuses anything else) without cutting a character. */
    utf8_sanitize(msg, sizeof(msg), e->msg[0] ? e->msg : err_code_name(e->code));
    utf8_sanitize(field, sizeof(field), e->field);
    if (fixed) {
        for (char *c = msg; *c; c++) /* one log line: no line breaks or quotes inside */
            if ((unsigned char)*c < 0x20 || *c == '"')
                *c = *c == '"' ? '\'' : ' ';
        LOG(LOG_WARN, "api", "event=server_error code=%s field=%s msg=\"%s\"",
            err_code_name(e->code), field, msg);
        snprintf(msg, sizeof(msg), "%s", fixed);
    }
    obj = json_pack("{s:s, s:s}", "code", err_code_name(e->code), "message", msg);
    if (obj && field[0] && !fixed)
        json_object_set_new(obj, "field", json_string(field));
    return obj;
}

static void answer_error(struct api_response *resp, enum err_code code, json_t *inner)
{
    int status = api_status_for(code);

    if (status == 503)
        snprintf(resp->retry_after, sizeof(resp->retry_after), "1");
    resp_json(resp, status, inner ? json_pack("{s:o}", "error", inner) : NULL);
}

void resp_error(struct api_response *resp, const struct err *e)
{
    answer_error(resp, e->code, error_object(e));
}

void resp_error_causes(struct api_response *resp, const struct err *items, size_t n, size_t more)
{
    json_t *inner, *causes;
    const char *msg;

    if (items[0].code != ERR_MALFORMED && items[0].code != ERR_INVALID) {
        resp_error(resp, &items[0]); /* not the body's fault: no causes */
        return;
    }
    inner = error_object(&items[0]);
    causes = json_array();
    msg = json_string_value(json_object_get(inner, "message"));
    for (size_t i = 0; i < n; i++)
        json_array_append_new(causes, error_object(&items[i]));
    if (inner && msg && n + more > 1)
        json_object_set_new(inner, "message",
                            json_sprintf("%s (and %zu more; see causes)", msg, n + more - 1));
    if (inner && more)
        json_object_set_new(inner, "moreCauses", json_integer((json_int_t)more));
    if (inner)
        json_object_set_new(inner, "causes", causes);
    else
        json_decref(causes);
    answer_error(resp, items[0].code, inner);
}

bool api_causes_answer(const struct err_causes *c, struct api_response *resp)
{
    if (c->n == 0)
        return false;
    resp_error_causes(resp, c->items, c->n, c->more);
    return true;
}

void resp_errorf(struct api_response *resp, enum err_code code, const char *field, const char *fmt,
                 ...)
{
    struct err e;
    va_list ap;

    e.code = code;
    snprintf(e.field, sizeof(e.field), "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
    va_end(ap);
    resp_error(resp, &e);
}

const char *req_query(const struct api_request *req, const char *key)
{
    for (size_t i = 0; i < req->n_query; i++)
        if (strcmp(req->query[i].key, key) == 0)
            return req->query[i].value;
    return NULL;
}

int query_sku(const char *v, struct err *e)
{
    char names[512];

    if (sku_find(sku_catalogue(), v) >= 0)
        return 0;
    sku_list_names(sku_catalogue(), names, sizeof(names));
    return err_set(e, ERR_MALFORMED, "sku", "unknown sku \"%s\"; known: %s", v, names);
}

int query_pool(const char *v, int *pool, struct err *e)
{
    for (int p = 0; p < SNAPSHOT_POOL_COUNT; p++)
        if (strcmp(v, snapshot_pool_name((enum snapshot_pool)p)) == 0) {
            *pool = p;
            return 0;
        }
    return err_set(e, ERR_MALFORMED, "pool", "unknown pool \"%s\"; pools are training, serving", v);
}

void api_response_clear(struct api_response *r)
{
    free(r->body);
    if (r->stream)
        r->stream->free(r->stream);
    memset(r, 0, sizeof(*r));
}
