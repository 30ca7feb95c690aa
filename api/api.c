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
    auth_init(a);
    *out = a;
    return 0;
}

void api_free(struct api **ap)
{
    if (!ap || !*ap)
        return;
    auth_free(*ap);
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

/* May who do perm on the path's namespace? Fills resp and returns -1 when not. A job in
 * a namespace the caller may not read is answered exactly like a missing one. */
static int authorize(const struct principal *who, enum perm perm, const struct route_params *p,
                     struct api_response *resp)
{
    bool read_ok = !p->ns || auth_may_read(who, p->ns);

    switch (perm) {
    case PERM_PUBLIC:
    case PERM_READ: return 0;
    case PERM_ADMIN:
        if (who->role == ROLE_ADMIN)
            return 0;
        resp_errorf(resp, ERR_FORBIDDEN, NULL, "token %s (%s) may not do this; admin only",
                    who->name, who->role_name);
        return -1;
    case PERM_NS_READ:
    case PERM_NS_WRITE:
        if (!read_ok && p->name) {
            resp_errorf(resp, ERR_NOT_FOUND, NULL, "trainingjob %s/%s not found", p->ns, p->name);
            return -1;
        }
        if (!read_ok || (perm == PERM_NS_WRITE && !auth_may_write(who, p->ns))) {
            resp_errorf(resp, ERR_FORBIDDEN, "metadata.namespace",
                        "token %s (%s) may not %s in namespace %s", who->name, who->role_name,
                        perm == PERM_NS_WRITE ? "write" : "read", p->ns);
            return -1;
        }
        return 0;
    }
    return -1;
}

void api_handle(struct api *a, const struct api_request *req, struct api_response *resp)
{
    struct route_params p;
    struct principal who = {0};
    struct api_request r = *req;
    struct err e = {0};
    enum perm perm = PERM_ADMIN;
    api_handler h;
    int retry = 0;
    bool mutating = strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0;

    memset(resp, 0, sizeof(*resp));
    if (api_route(req->method, req->path, &h, &perm, &p, resp))
        return;
    if (perm == PERM_PUBLIC) {
        h(a, req, &p, resp);
        return;
    }
    if (auth_authenticate(a, req->authorization, &who, &e)) {
        resp_error(resp, &e);
        if (e.code == ERR_UNAUTHORIZED)
            snprintf(resp->www_authenticate, sizeof(resp->www_authenticate),
                     "Bearer realm=\"fedsched\"");
        goto out;
    }
    /* One bucket per token. With authentication off (development) nothing is limited. */
    if (who.authenticated && auth_rate_limit(a, who.name, &retry)) {
        resp_errorf(resp, ERR_RATE_LIMITED, NULL,
                    "rate limit of %.0f requests/s for token %s exceeded", a->cfg.rate_per_s,
                    who.name);
        snprintf(resp->retry_after, sizeof(resp->retry_after), "%d", retry);
        goto out;
    }
    if (authorize(&who, perm, &p, resp))
        goto out;
    r.who = &who;
    h(a, &r, &p, resp);
out:
    if (mutating) {
        char detail[32] = "";

        if (resp->status >= 400 && resp->body) {
            /* The error code, for filtering the audit log by outcome. */
            const char *c = strstr(resp->body, "\"code\":\"");

            if (c)
                snprintf(detail, sizeof(detail), "%.*s", (int)strcspn(c + 8, "\""), c + 8);
        }
        auth_audit(a, &who, req->remote, req->method, req->path, p.ns, resp->status,
                   detail[0] ? detail : NULL);
    }
    auth_principal_clear(&who);
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
