/* api.c -- the api object, dispatch, responses and error-to-status mapping. */
#include "api/internal.h"

#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int api_new(const struct api_config *c, struct store *s, struct api **out, struct err *e)
{
    struct api *a;

    if (c->max_body_bytes < 1)
        return err_set(e, ERR_CONFIG, "http.maxBodyBytes", "must be positive, got %ld",
                       c->max_body_bytes);
    a = xcalloc(1, sizeof(*a));
    a->cfg = *c;
    a->store = s;
    a->metrics = metrics_new();
    *out = a;
    return 0;
}

void api_free(struct api **ap)
{
    if (!ap || !*ap)
        return;
    metrics_free(&(*ap)->metrics);
    free(*ap);
    *ap = NULL;
}

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

void resp_json(struct api_response *resp, int status, json_t *body)
{
    free(resp->body);
    resp->status = status;
    resp->body = json_dumps(body, JSON_COMPACT);
    resp->content_type = "application/json";
    json_decref(body);
    if (!resp->body) /* only on allocation failure inside jansson */
        abort();
}

void resp_text(struct api_response *resp, int status, const char *content_type, char *body)
{
    free(resp->body);
    resp->status = status;
    resp->body = body;
    resp->content_type = content_type;
}

void resp_error(struct api_response *resp, const struct err *e)
{
    int status = api_status_for(e->code);
    json_t *inner = json_pack("{s:s, s:s}", "code", err_code_name(e->code), "message",
                              e->msg[0] ? e->msg : err_code_name(e->code));

    if (e->field[0])
        json_object_set_new(inner, "field", json_string(e->field));
    if (status == 503)
        snprintf(resp->retry_after, sizeof(resp->retry_after), "1");
    resp_json(resp, status, json_pack("{s:o}", "error", inner));
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

void api_handle(struct api *a, const struct api_request *req, struct api_response *resp)
{
    struct route_params p;
    api_handler h;

    memset(resp, 0, sizeof(*resp));
    if (api_route(req->method, req->path, &h, &p, resp))
        return;
    h(a, req, &p, resp);
}

void api_response_clear(struct api_response *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

void api_observe(struct api *a, const char *method, const char *route, int status,
                 int64_t duration_ns)
{
    metrics_observe(a->metrics, method, route, status, duration_ns);
}
