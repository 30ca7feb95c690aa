/* api.c -- the api object and the life of one call: route, authenticate, rate-limit,
 * authorise, run the handler, audit. The top of api/: it uses the router, access.c,
 * watches.c, metrics.c and response.c, and nothing of api/ uses it.
 * Not responsible for the socket (server.c) or for rendering answers (response.c). */
#include "api/internal.h"

#include "api/forecast_json.h"
#include "api/whatif_memo.h"
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
    a->forecasts = api_forecasts_new();
    a->queue_memo = queue_memo_new();
    a->queue_views = queue_views_new();
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
    api_forecasts_free(&(*ap)->forecasts);
    whatif_memo_free(&(*ap)->queue_memo);
    whatif_memo_free(&(*ap)->queue_views);
    free(*ap);
    *ap = NULL;
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

static void audit_call(struct api *a, struct api_call *c, const struct api_request *req,
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
    } else if (req_query(req, "dryRun")) {
        snprintf(detail, sizeof(detail), "dryRun"); /* it changed nothing */
    }
    access_audit(a, &c->who, req->remote, req->method, req->path, c->p.ns, resp->status,
                 detail[0] ? detail : NULL);
}

int api_call_begin(struct api *a, const struct api_request *req, struct api_call **out,
                   struct api_response *resp)
{
    struct api_call *c = xcalloc(1, sizeof(*c));
    const char *query = NULL;
    struct err e = {0};
    int retry = 0;

    memset(resp, 0, sizeof(*resp));
    *out = c;
    c->perm = PERM_ADMIN;
    c->mutating = strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0;
    if (api_route(req->method, req->path, &c->h, &c->perm, &query, &c->p, resp))
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
    if (c->who.role == ROLE_JOB
            ? access_authorize_job(a, &c->who, req->method, c->route, &c->p, resp)
            : authorize(&c->who, c->perm, &c->p, resp))
        goto done;
    if (api_check_query(query, req, resp)) /* before the body is read */
        goto done;
    return 0;
done:
    audit_call(a, c, req, resp);
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
        audit_call(a, c, req, resp);
}

bool api_call_commits(const struct api_call *c)
{
    return c && c->h == h_job_create;
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

void api_observe(struct api *a, const char *method, const char *route, int status,
                 int64_t duration_ns)
{
    metrics_observe(a->metrics, method, route, status, duration_ns);
}
