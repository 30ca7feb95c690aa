/* router.c -- maps method + path to a handler, capturing {ns} and {name}. A small table,
 * matched segment by segment; no allocation. */
#include "api/internal.h"

#include <stdio.h>
#include <string.h>

struct route {
    const char *method;
    const char *pattern; /* segments; {ns} and {name} capture one segment each */
    api_handler handler;
    enum perm perm;
    /* The query parameters it takes, as docs/openapi.yaml lists them (test_schemas holds
     * the two together); "" none; NULL any (probes, and /ui/'s cache busters). */
    const char *query;
};

/* A job list's filters and pages, and its watch. */
#define LIST_QUERY                                                                                 \
    "limit, continue, order, phase, sku, labelSelector, cluster, createdAfter, createdBefore, "    \
    "watch, resourceVersion, timeoutSeconds, allowWatchBookmarks"

static const struct route routes[] = {
    {"GET", "/", h_root, PERM_PUBLIC, NULL},
    {"GET", "/healthz", h_healthz, PERM_PUBLIC, NULL},
    {"GET", "/readyz", h_readyz, PERM_PUBLIC, NULL},
    {"GET", "/metrics", h_metrics, PERM_PUBLIC, NULL},
    {"GET", "/v1/trainingjobs", h_job_list, PERM_READ, LIST_QUERY},
    {"POST", "/v1/trainingjobs:cancel", h_job_bulk_cancel, PERM_ADMIN, "labelSelector"},
    {"POST", "/v1/trainingjobs:hold", h_job_bulk_hold, PERM_ADMIN, "labelSelector"},
    {"POST", "/v1/trainingjobs:release", h_job_bulk_release, PERM_ADMIN, "labelSelector"},
    {"POST", "/v1/trainingjobs:reprioritize", h_job_bulk_reprioritize, PERM_ADMIN, "labelSelector"},
    {"GET", "/v1/namespaces/{ns}/trainingjobs", h_job_list, PERM_NS_READ, LIST_QUERY},
    {"POST", "/v1/namespaces/{ns}/trainingjobs", h_job_create, PERM_NS_WRITE, "dryRun"},
    {"POST", "/v1/namespaces/{ns}/trainingjobs:cancel", h_job_bulk_cancel, PERM_NS_WRITE,
     "labelSelector"},
    {"POST", "/v1/namespaces/{ns}/trainingjobs:hold", h_job_bulk_hold, PERM_NS_WRITE,
     "labelSelector"},
    {"POST", "/v1/namespaces/{ns}/trainingjobs:release", h_job_bulk_release, PERM_NS_WRITE,
     "labelSelector"},
    {"POST", "/v1/namespaces/{ns}/trainingjobs:reprioritize", h_job_bulk_reprioritize,
     PERM_NS_WRITE, "labelSelector"},
    {"GET", "/v1/namespaces/{ns}/queue", h_queue_view, PERM_NS_READ, "sku, limit, offset"},
    {"GET", "/v1/namespaces/{ns}/trainingjobs/{name}", h_job_get, PERM_NS_READ,
     "watch, resourceVersion, timeoutSeconds"},
    {"DELETE", "/v1/namespaces/{ns}/trainingjobs/{name}", h_job_cancel, PERM_NS_WRITE, ""},
    {"PATCH", "/v1/namespaces/{ns}/trainingjobs/{name}", h_job_patch, PERM_NS_WRITE, ""},
    {"GET", "/v1/namespaces/{ns}/trainingjobs/{name}/events", h_job_events, PERM_NS_READ, ""},
    {"GET", "/v1/namespaces/{ns}/trainingjobs/{name}/explain", h_job_explain, PERM_NS_READ, ""},
    {"POST", "/v1/namespaces/{ns}/trainingjobs/{name}/checkpoint", h_job_checkpoint, PERM_NS_WRITE,
     ""},
    {"GET", "/v1/namespaces/{ns}/trainingjobs/{name}/checkpoint", h_job_checkpoint_request,
     PERM_NS_WRITE, ""},
    {"GET", "/v1/leader", h_leader, PERM_READ, ""},
    {"GET", "/v1/reports/capacity", h_report_capacity, PERM_READ,
     "from, to, step, cluster, sku, pool, format"},
    {"GET", "/v1/reports/queue", h_report_queue, PERM_READ, ""},
    {"GET", "/v1/queue", h_queue_view, PERM_READ, "sku, limit, offset"},
    {"GET", "/v1/clusters", h_cluster_list, PERM_READ, ""},
    {"GET", "/v1/clusters/{name}", h_cluster_get, PERM_READ, ""},
    {"PUT", "/v1/clusters/{name}", h_cluster_put, PERM_ADMIN, ""},
    {"DELETE", "/v1/clusters/{name}", h_cluster_delete, PERM_ADMIN, ""},
    {"GET", "/v1/clusters/{name}/nodes", h_cluster_nodes, PERM_READ, "sku, pool, limit, continue"},
    {"POST", "/v1/clusters/{name}/cordon", h_cluster_cordon, PERM_ADMIN, ""},
    {"POST", "/v1/clusters/{name}/uncordon", h_cluster_uncordon, PERM_ADMIN, ""},
    {"GET", "/v1/capacity", h_capacity, PERM_READ, "sku, pool"},
    {"GET", "/v1/audit", h_audit_list, PERM_ADMIN, "limit, before, token"},
    {"GET", "/v1/reclaims", h_reclaim_list, PERM_READ,
     "cluster, namespace, sku, cause, since, until, limit, continue"},
    {"GET", "/v1/quotas", h_quota_list, PERM_READ, "namespace, sku"},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* Matches path against pattern; on success copies captures into p. An empty segment
 * (double slash, trailing slash) never matches a capture. */
static int match(const char *pattern, const char *path, struct route_params *p)
{
    const char *pp = pattern, *sp = path;
    size_t used = 0;

    p->ns = NULL;
    p->name = NULL;
    while (*pp && *sp) {
        if (*pp == '{') {
            const char *close = strchr(pp, '}');
            size_t seglen = strcspn(sp, "/");
            int is_ns = strncmp(pp, "{ns}", 4) == 0;

            if (seglen == 0 || used + seglen + 1 > sizeof(p->buf))
                return -1;
            memcpy(p->buf + used, sp, seglen);
            p->buf[used + seglen] = '\0';
            if (is_ns)
                p->ns = p->buf + used;
            else
                p->name = p->buf + used;
            used += seglen + 1;
            pp = close + 1;
            sp += seglen;
            continue;
        }
        if (*pp != *sp)
            return -1;
        pp++;
        sp++;
    }
    return *pp == '\0' && *sp == '\0' ? 0 : -1;
}

int api_route(const char *method, const char *path, api_handler *h, enum perm *perm,
              const char **query, struct route_params *p, struct api_response *resp)
{
    char allow[64] = "";
    const char *tmpl = NULL;
    size_t used = 0;

    /* The dashboard owns everything under /ui. */
    if (strcmp(path, "/ui") == 0 || strncmp(path, "/ui/", 4) == 0) {
        snprintf(resp->route, sizeof(resp->route), "/ui/");
        if (strcmp(method, "GET") == 0) {
            *h = h_ui;
            *perm = PERM_PUBLIC;
            *query = NULL;
            return 0;
        }
        snprintf(resp->allow, sizeof(resp->allow), "GET");
        resp_errorf(resp, ERR_METHOD, NULL, "method %s not allowed on %s; allowed: GET", method,
                    path);
        return -1;
    }
    for (size_t i = 0; i < NROUTES; i++) {
        if (match(routes[i].pattern, path, p))
            continue;
        tmpl = routes[i].pattern;
        if (strcmp(routes[i].method, method) == 0) {
            *h = routes[i].handler;
            *perm = routes[i].perm;
            *query = routes[i].query;
            snprintf(resp->route, sizeof(resp->route), "%s", routes[i].pattern);
            return 0;
        }
        used += (size_t)snprintf(allow + used, sizeof(allow) - used, "%s%s", used ? ", " : "",
                                 routes[i].method);
    }
    if (tmpl) {
        snprintf(resp->route, sizeof(resp->route), "%s", tmpl);
        resp_errorf(resp, ERR_METHOD, NULL, "method %s not allowed on %s; allowed: %s", method,
                    path, allow);
        snprintf(resp->allow, sizeof(resp->allow), "%s", allow);
        return -1;
    }
    snprintf(resp->route, sizeof(resp->route), "unmatched");
    resp_errorf(resp, ERR_NOT_FOUND, NULL, "no such path: %s", path);
    return -1;
}

/* Whether key is one of the ", "-separated names in list. */
static bool listed(const char *list, const char *key)
{
    size_t n = strlen(key);

    for (const char *s = list; *s; s += strspn(s, ", ")) {
        size_t len = strcspn(s, ",");

        if (len == n && memcmp(s, key, n) == 0)
            return true;
        s += len;
    }
    return false;
}

int api_check_query(const char *known, const struct api_request *req, struct api_response *resp)
{
    struct err_causes c = {0};

    if (!known)
        return 0;
    for (size_t i = 0; i < req->n_query; i++) {
        const char *k = req->query[i].key;
        struct err e = {0};
        size_t before = 0; /* uses of k before this one */

        for (size_t j = 0; j < i; j++)
            before += strcmp(req->query[j].key, k) == 0;
        if (before == 0 && !listed(known, k))
            err_set(&e, ERR_MALFORMED, k, "unknown query parameter \"%s\"; %s%s", k,
                    *known ? "known: " : "this endpoint takes none", known);
        else if (before == 1 && listed(known, k)) /* once per name, unknown ones once above */
            err_set(&e, ERR_MALFORMED, k, "query parameter \"%s\" is given more than once", k);
        else
            continue;
        err_cause(&c, &e);
    }
    return api_causes_answer(&c, resp) ? -1 : 0;
}

size_t api_route_count(void)
{
    return NROUTES;
}

void api_route_at(size_t i, const char **method, const char **pattern, const char **query)
{
    *method = routes[i].method;
    *pattern = routes[i].pattern;
    *query = routes[i].query;
}
