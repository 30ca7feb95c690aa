/* api.c -- the api object, dispatch, responses and error-to-status mapping. */
#include "api/internal.h"

#include "api/trainingjob.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/utf8.h"

#include <pthread.h>
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
    watches_init(a);
    access_init(a);
    *out = a;
    return 0;
}

void api_free(struct api **ap)
{
    if (!ap || !*ap)
        return;
    access_free(*ap);
    watches_free(*ap);
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

/* The body answered when a response cannot be rendered: fixed, so it cannot fail. */
static const char render_failed[] =
    "{\"error\":{\"code\":\"internal\",\"message\":\"the response could not be rendered\"}}";

void resp_json(struct api_response *resp, int status, json_t *body)
{
    free(resp->body);
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
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

void resp_error(struct api_response *resp, const struct err *e)
{
    int status = api_status_for(e->code);
    const char *fixed = public_message(e->code);
    char msg[sizeof(e->msg) * 4], field[sizeof(e->field) * 4];
    json_t *inner;

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
    inner = json_pack("{s:s, s:s}", "code", err_code_name(e->code), "message", msg);
    if (inner && field[0] && !fixed)
        json_object_set_new(inner, "field", json_string(field));
    if (status == 503)
        snprintf(resp->retry_after, sizeof(resp->retry_after), "1");
    resp_json(resp, status, inner ? json_pack("{s:o}", "error", inner) : NULL);
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
    bool read_ok = !p->ns || access_may_read(who, p->ns);

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
        if (!read_ok || (perm == PERM_NS_WRITE && !access_may_write(who, p->ns))) {
            resp_errorf(resp, ERR_FORBIDDEN, "metadata.namespace",
                        "token %s (%s) may not %s in namespace %s", who->name, who->role_name,
                        perm == PERM_NS_WRITE ? "write" : "read", p->ns);
            return -1;
        }
        return 0;
    }
    return -1;
}

/* One call between its headers and its answer. */
struct api_call {
    api_handler h;
    enum perm perm;
    struct route_params p;
    struct principal who;
    bool mutating;
    char route[64]; /* the route's template, for metrics */
};

static void audit(struct api *a, struct api_call *c, const struct api_request *req,
                  const struct api_response *resp)
{
    char detail[32] = "";

    if (!c->mutating || resp->audited)
        return;
    if (resp->status >= 400 && resp->body) {
        /* The error code, for filtering the audit log by outcome. */
        const char *code = strstr(resp->body, "\"code\":\"");

        if (code)
            snprintf(detail, sizeof(detail), "%.*s", (int)strcspn(code + 8, "\""), code + 8);
    }
    access_audit(a, &c->who, req->remote, req->method, req->path, c->p.ns, resp->status,
               detail[0] ? detail : NULL);
}

int api_call_begin(struct api *a, const struct api_request *req, struct api_call **out,
                   struct api_response *resp)
{
    struct api_call *c = xcalloc(1, sizeof(*c));
    struct err e = {0};
    int retry = 0;

    memset(resp, 0, sizeof(*resp));
    *out = c;
    c->perm = PERM_ADMIN;
    c->mutating = strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0;
    if (api_route(req->method, req->path, &c->h, &c->perm, &c->p, resp))
        goto done;
    snprintf(c->route, sizeof(c->route), "%s", resp->route);
    if (c->perm == PERM_PUBLIC)
        return 0;
    if (access_authenticate(a, req->authorization, &c->who, &e)) {
        resp_error(resp, &e);
        if (e.code == ERR_UNAUTHORIZED)
            snprintf(resp->www_authenticate, sizeof(resp->www_authenticate),
                     "Bearer realm=\"fedsched\"");
        goto done;
    }
    /* One bucket per token. With authentication off (development) nothing is limited. */
    if (c->who.authenticated && access_rate_limit(a, c->who.name, &retry)) {
        resp_errorf(resp, ERR_RATE_LIMITED, NULL,
                    "rate limit of %.0f requests/s for token %s exceeded", a->cfg.rate_per_s,
                    c->who.name);
        snprintf(resp->retry_after, sizeof(resp->retry_after), "%d", retry);
        goto done;
    }
    if (authorize(&c->who, c->perm, &c->p, resp))
        goto done;
    return 0;
done:
    audit(a, c, req, resp);
    return -1;
}

void api_call_finish(struct api *a, struct api_call *c, const struct api_request *req,
                     struct api_response *resp)
{
    struct api_request r = *req;

    memset(resp, 0, sizeof(*resp));
    if (c->perm != PERM_PUBLIC)
        r.who = &c->who;
    c->h(a, &r, &c->p, resp);
    snprintf(resp->route, sizeof(resp->route), "%s", c->route);
    if (!resp->wait)
        audit(a, c, req, resp);
}

void api_call_free(struct api *a, struct api_call **cp, struct api_wait *w)
{
    if (!cp || !*cp)
        return;
    if (w && w->cap_key[0])
        api_watch_release(a, w);
    access_principal_clear(&(*cp)->who);
    free(*cp);
    *cp = NULL;
}

void api_handle(struct api *a, const struct api_request *req, struct api_response *resp)
{
    struct api_call *c = NULL;
    struct api_request r = *req;

    r.wait = NULL; /* no server to suspend the call: watches answer at once */
    if (api_call_begin(a, &r, &c, resp) == 0)
        api_call_finish(a, c, &r, resp);
    api_call_free(a, &c, NULL);
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
