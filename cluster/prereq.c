/* prereq.c -- checks a member cluster's prerequisites (CRDs, namespace, PriorityClasses,
 * permissions) through the Job client (k8s_jobs.h, k8s_client_call()) and reads the answers. */
#include "cluster/prereq.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/mem.h"
#include "cluster/k8s_jobs.h"
#include "cluster/k8s_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Groups whose versions are recorded as capabilities: the workload CRDs fedsched can (or
 * may later) dispatch as. */
static const char *const cap_groups[] = {"ray.io", "kubeflow.org", "jobset.x-k8s.io"};

/* Every verb fedsched uses on a member cluster. Lists of Jobs and RayJobs span all
 * namespaces (tracking and garbage collection), as do node and pod lists (the poller);
 * the rest happen in the job namespace. */
struct perm {
    const char *verb, *group, *resource;
    bool cluster_wide;
    enum snapshot_prereq prereq;
};

static const struct perm perms[] = {
    {"list", "", "nodes", true, SNAPSHOT_PREREQ_PERMISSIONS},
    {"list", "", "pods", true, SNAPSHOT_PREREQ_PERMISSIONS},
    {"create", "batch", "jobs", false, SNAPSHOT_PREREQ_PERMISSIONS},
    {"get", "batch", "jobs", false, SNAPSHOT_PREREQ_PERMISSIONS},
    {"list", "batch", "jobs", true, SNAPSHOT_PREREQ_PERMISSIONS},
    {"delete", "batch", "jobs", false, SNAPSHOT_PREREQ_PERMISSIONS},
    {"patch", "batch", "jobs", false, SNAPSHOT_PREREQ_PERMISSIONS},
    {"create", "", "services", false, SNAPSHOT_PREREQ_PERMISSIONS},
    {"get", "", "services", false, SNAPSHOT_PREREQ_PERMISSIONS},
    {"list", "", "services", false, SNAPSHOT_PREREQ_PERMISSIONS},
    {"delete", "", "services", false, SNAPSHOT_PREREQ_PERMISSIONS},
    {"create", "", "secrets", false, SNAPSHOT_PREREQ_PERMISSIONS},
    {"get", "", "secrets", false, SNAPSHOT_PREREQ_PERMISSIONS},
    {"list", "", "secrets", false, SNAPSHOT_PREREQ_PERMISSIONS},
    {"delete", "", "secrets", false, SNAPSHOT_PREREQ_PERMISSIONS},
    {"create", "ray.io", "rayjobs", false, SNAPSHOT_PREREQ_RAY_PERMISSIONS},
    {"get", "ray.io", "rayjobs", false, SNAPSHOT_PREREQ_RAY_PERMISSIONS},
    {"list", "ray.io", "rayjobs", true, SNAPSHOT_PREREQ_RAY_PERMISSIONS},
    {"delete", "ray.io", "rayjobs", false, SNAPSHOT_PREREQ_RAY_PERMISSIONS},
    {"patch", "ray.io", "rayjobs", false, SNAPSHOT_PREREQ_RAY_PERMISSIONS},
};

/* ---- conditions ------------------------------------------------------------------------ */

void prereq_set(struct prereq_result *r, enum snapshot_prereq p, const char *status,
                const char *reason, const char *fmt, ...)
{
    struct prereq_condition *c = &r->conds[p];
    va_list ap;

    snprintf(c->status, sizeof(c->status), "%s", status);
    snprintf(c->reason, sizeof(c->reason), "%s", reason);
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof(c->message), fmt, ap);
    va_end(ap);
}

void prereq_init(struct prereq_result *r)
{
    memset(r, 0, sizeof(*r));
    for (int p = 0; p < SNAPSHOT_PREREQ_COUNT; p++)
        prereq_set(r, (enum snapshot_prereq)p, "Unknown", "NotChecked", "not checked yet");
}

void prereq_carry_times(struct prereq_result *r, const struct prereq_result *prev, int64_t now_ms)
{
    for (int p = 0; p < SNAPSHOT_PREREQ_COUNT; p++) {
        struct prereq_condition *c = &r->conds[p];

        if (prev && prev->conds[p].last_transition_ms &&
            strcmp(prev->conds[p].status, c->status) == 0)
            c->last_transition_ms = prev->conds[p].last_transition_ms;
        else
            c->last_transition_ms = now_ms;
    }
}

void prereq_to_snapshot(const struct prereq_result *r, struct snapshot_cluster *sc)
{
    for (int p = 0; p < SNAPSHOT_PREREQ_COUNT; p++) {
        const struct prereq_condition *c = &r->conds[p];
        struct snapshot_prereq_status *ps = &sc->prereqs[p];

        if (r->checked && strcmp(c->status, "True") == 0)
            ps->state = SNAPSHOT_PREREQ_MET;
        else if (r->checked && strcmp(c->status, "False") == 0)
            ps->state = SNAPSHOT_PREREQ_MISSING;
        else
            ps->state = SNAPSHOT_PREREQ_UNKNOWN;
        snprintf(ps->message, sizeof(ps->message), "%s", c->message);
    }
}

json_t *prereq_conditions_json(const struct prereq_result *r)
{
    json_t *a = json_array();

    for (int p = 0; p < SNAPSHOT_PREREQ_COUNT; p++) {
        const struct prereq_condition *c = &r->conds[p];
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:s}", "type", snapshot_prereq_name((enum snapshot_prereq)p),
                      "status", c->status, "reason", c->reason, "message", c->message);

        if (c->last_transition_ms) {
            char ts[40];

            clock_format_rfc3339(c->last_transition_ms, ts, sizeof(ts));
            json_object_set_new(o, "lastTransitionTime", json_string(ts));
        }
        json_array_append_new(a, o);
    }
    return a;
}

json_t *prereq_capabilities_json(const struct prereq_result *r)
{
    json_t *a = json_array();

    for (size_t i = 0; i < r->n_caps; i++)
        json_array_append_new(a, json_string(r->capabilities[i]));
    return a;
}

/* ---- reading answers --------------------------------------------------------------------- */

static int parse(struct k8s_json *d, const char *body, size_t len, struct err *e)
{
    if (len > PREREQ_BODY_MAX)
        return err_set(e, ERR_TOO_LARGE, "body", "answer over %zu bytes", PREREQ_BODY_MAX);
    return k8s_json_parse(d, body ? body : "", len, PREREQ_DEPTH_MAX, e);
}

static bool is_cap_group(const struct k8s_json *d, int name)
{
    for (size_t i = 0; i < sizeof(cap_groups) / sizeof(cap_groups[0]); i++)
        if (k8s_json_str_eq(d, name, cap_groups[i]))
            return true;
    return false;
}

static void add_versions(const struct k8s_json *d, int versions, struct prereq_result *r)
{
    for (int v = k8s_json_child(d, versions); v >= 0; v = k8s_json_next(d, versions, v)) {
        char gv[PREREQ_CAP_LEN];

        if (r->n_caps >= PREREQ_CAPS_MAX)
            return;
        if (k8s_json_str(d, k8s_json_get(d, v, "groupVersion"), gv, sizeof(gv)) <= 0 ||
            strlen(gv) >= sizeof(gv) - 1)
            continue;
        snprintf(r->capabilities[r->n_caps++], PREREQ_CAP_LEN, "%s", gv);
    }
}

int prereq_read_groups(const char *body, size_t len, struct prereq_result *r, struct err *e)
{
    struct k8s_json d;
    int groups, rc = -1;

    k8s_json_init(&d);
    if (parse(&d, body, len, e) != 0)
        goto out;
    groups = k8s_json_get(&d, 0, "groups");
    if (!k8s_json_str_eq(&d, k8s_json_get(&d, 0, "kind"), "APIGroupList") ||
        k8s_json_type(&d, groups) != K8S_JSON_ARRAY) {
        err_set(e, ERR_MALFORMED, "groups", "GET /apis did not answer an APIGroupList");
        goto out;
    }
    r->n_caps = 0;
    for (int g = k8s_json_child(&d, groups); g >= 0; g = k8s_json_next(&d, groups, g))
        if (is_cap_group(&d, k8s_json_get(&d, g, "name")))
            add_versions(&d, k8s_json_get(&d, g, "versions"), r);
    rc = 0;
out:
    k8s_json_free(&d);
    return rc;
}

int prereq_read_resources(const char *body, size_t len, const char *resource, bool *served,
                          struct err *e)
{
    struct k8s_json d;
    int res, rc = -1;
    bool found = false;

    k8s_json_init(&d);
    if (parse(&d, body, len, e) != 0)
        goto out;
    res = k8s_json_get(&d, 0, "resources");
    if (!k8s_json_str_eq(&d, k8s_json_get(&d, 0, "kind"), "APIResourceList") ||
        k8s_json_type(&d, res) != K8S_JSON_ARRAY) {
        err_set(e, ERR_MALFORMED, "resources", "discovery did not answer an APIResourceList");
        goto out;
    }
    for (int x = k8s_json_child(&d, res); x >= 0 && !found; x = k8s_json_next(&d, res, x))
        found = k8s_json_str_eq(&d, k8s_json_get(&d, x, "name"), resource);
    *served = found;
    rc = 0;
out:
    k8s_json_free(&d);
    return rc;
}

int prereq_read_review(const char *body, size_t len, bool *allowed, struct err *e)
{
    struct k8s_json d;
    int tok, rc = -1;

    k8s_json_init(&d);
    if (parse(&d, body, len, e) != 0)
        goto out;
    tok = k8s_json_path(&d, 0, "status", "allowed", K8S_JSON_END);
    if (k8s_json_type(&d, tok) != K8S_JSON_TRUE && k8s_json_type(&d, tok) != K8S_JSON_FALSE) {
        err_set(e, ERR_MALFORMED, "status.allowed",
                "the SelfSubjectAccessReview answer has no status.allowed");
        goto out;
    }
    *allowed = k8s_json_true(&d, tok);
    rc = 0;
out:
    k8s_json_free(&d);
    return rc;
}

bool prereq_is_not_found(const char *body, size_t len, const char *kind)
{
    struct k8s_json d;
    bool yes;

    k8s_json_init(&d);
    yes = parse(&d, body, len, NULL) == 0 &&
          k8s_json_str_eq(&d, k8s_json_get(&d, 0, "reason"), "NotFound") &&
          k8s_json_str_eq(&d, k8s_json_path(&d, 0, "details", "kind", K8S_JSON_END), kind);
    k8s_json_free(&d);
    return yes;
}

json_t *prereq_review_request(const char *verb, const char *group, const char *resource,
                              const char *ns)
{
    json_t *attrs =
        json_pack("{s:s, s:s, s:s}", "verb", verb, "group", group, "resource", resource);

    if (ns && *ns)
        json_object_set_new(attrs, "namespace", json_string(ns));
    return json_pack("{s:s, s:s, s:{s:o}}", "apiVersion", "authorization.k8s.io/v1", "kind",
                     "SelfSubjectAccessReview", "spec", "resourceAttributes", attrs);
}

/* ---- talking to the cluster ---------------------------------------------------------------- */

/* The Job client (k8s_jobs.h) and the last answer it got. */
struct client {
    const struct cluster_config *cfg;
    struct k8s_client *k;
    const char *resp; /* the last answer's body, owned by k */
    size_t len;
    char error[160]; /* the last transport or credential error, for Unknown messages */
};

/* One request to path (below the API server URL). Returns the HTTP status, or 0 when no
 * answer came (c->error says why). */
static long request(struct client *c, const char *method, const char *path, const char *body)
{
    struct err e = {0};
    long code = 0;

    c->resp = "";
    c->len = 0;
    if (k8s_client_call(c->k, method, path, body, &code, &c->resp, &c->len, &e)) {
        snprintf(c->error, sizeof(c->error), "%s", e.msg);
        return 0;
    }
    return code;
}

/* Unknown, saying what answer the check got instead of one it can read. */
static void unknown(struct prereq_result *r, enum snapshot_prereq p, const struct client *c,
                    const char *what, long code)
{
    if (code == 0)
        prereq_set(r, p, "Unknown", "CheckFailed", "%s", c->error);
    else
        prereq_set(r, p, "Unknown", "CheckFailed", "%s: HTTP %ld", what, code);
}

/* Asks a SelfSubjectAccessReview; 1 allowed, 0 denied, -1 no usable answer. */
static int review(struct client *c, const char *verb, const char *group, const char *resource,
                  const char *ns, long *code)
{
    json_t *req = prereq_review_request(verb, group, resource, ns);
    char *text = json_dumps(req, JSON_COMPACT);
    bool allowed;

    *code = request(c, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", text);
    free(text);
    json_decref(req);
    if (*code != 201 && *code != 200)
        return -1;
    if (prereq_read_review(c->resp, c->len, &allowed, NULL) != 0)
        return -1;
    return allowed ? 1 : 0;
}

/* ---- the checks ------------------------------------------------------------------------ */

static void check_discovery(struct client *c, struct prereq_result *r)
{
    long code = request(c, "GET", "/apis", NULL);
    bool served = false;
    struct err e = {0};

    if (code != 200 || prereq_read_groups(c->resp, c->len, r, &e) != 0) {
        if (code == 200)
            prereq_set(r, SNAPSHOT_PREREQ_KUBERAY, "Unknown", "CheckFailed", "GET /apis: %s",
                       e.msg);
        else
            unknown(r, SNAPSHOT_PREREQ_KUBERAY, c, "GET /apis", code);
        return;
    }
    for (size_t i = 0; i < r->n_caps; i++)
        if (strcmp(r->capabilities[i], "ray.io/v1") == 0) {
            code = request(c, "GET", "/apis/ray.io/v1", NULL);
            if (code != 200 ||
                prereq_read_resources(c->resp, c->len, "rayjobs", &served, NULL) != 0)
                return unknown(r, SNAPSHOT_PREREQ_KUBERAY, c, "GET /apis/ray.io/v1", code);
        }
    if (served)
        prereq_set(r, SNAPSHOT_PREREQ_KUBERAY, "True", "Served", "ray.io/v1 rayjobs is served");
    else
        prereq_set(r, SNAPSHOT_PREREQ_KUBERAY, "False", "NotInstalled",
                   "the API server does not serve ray.io/v1 rayjobs: KubeRay is not installed");
}

static void may_create_namespaces(struct client *c, struct prereq_result *r, const char *why)
{
    long code;
    int ok = review(c, "create", "", "namespaces", "", &code);

    if (ok < 0)
        unknown(r, SNAPSHOT_PREREQ_NAMESPACE, c, "SelfSubjectAccessReview", code);
    else if (ok)
        prereq_set(r, SNAPSHOT_PREREQ_NAMESPACE, "True", "WillCreate",
                   "%s; fedsched may create namespaces", why);
    else
        prereq_set(r, SNAPSHOT_PREREQ_NAMESPACE, "False", "Forbidden",
                   "%s, and fedsched may not create namespaces (create namespaces is forbidden)",
                   why);
}

/* A jobNamespace with "{ns}" in it makes one namespace per tenant, created by fedsched at
 * dispatch: what must hold is the permission. A fixed one must exist, or be creatable. */
static void check_namespace(struct client *c, struct prereq_result *r)
{
    const char *ns = c->cfg->job_namespace;
    char path[256], why[160];
    long code;

    if (strstr(ns, "{ns}")) {
        snprintf(why, sizeof(why), "jobNamespace \"%s\" makes one namespace per tenant", ns);
        return may_create_namespaces(c, r, why);
    }
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s", ns);
    code = request(c, "GET", path, NULL);
    if (code == 200)
        return prereq_set(r, SNAPSHOT_PREREQ_NAMESPACE, "True", "Exists", "namespace \"%s\" exists",
                          ns);
    if (code == 404 && prereq_is_not_found(c->resp, c->len, "namespaces")) {
        snprintf(why, sizeof(why), "namespace \"%s\" does not exist", ns);
        return may_create_namespaces(c, r, why);
    }
    unknown(r, SNAPSHOT_PREREQ_NAMESPACE, c, path, code);
}

static void check_priority_class(struct client *c, struct prereq_result *r, enum snapshot_prereq p,
                                 const char *name, const char *key)
{
    char path[256];
    long code;

    if (!name || !*name)
        return prereq_set(r, p, "True", "NotRequired", "%s is not set", key);
    snprintf(path, sizeof(path), "/apis/scheduling.k8s.io/v1/priorityclasses/%s", name);
    code = request(c, "GET", path, NULL);
    if (code == 200)
        return prereq_set(r, p, "True", "Exists", "PriorityClass \"%s\" exists", name);
    if (code == 404 && prereq_is_not_found(c->resp, c->len, "priorityclasses"))
        return prereq_set(r, p, "False", "NotFound",
                          "PriorityClass \"%s\" (%s) does not exist: apply the one in "
                          "docs/clusters.md",
                          name, key);
    unknown(r, p, c, path, code);
}

/* "create jobs.batch" -- the resource as RBAC names it. */
static void perm_name(const struct perm *pm, char *out, size_t size)
{
    snprintf(out, size, "%s %s%s%s", pm->verb, pm->resource, pm->group[0] ? "." : "", pm->group);
}

static void check_permissions(struct client *c, struct prereq_result *r, enum snapshot_prereq p)
{
    const char *ns = strstr(c->cfg->job_namespace, "{ns}") ? "" : c->cfg->job_namespace;
    char denied[SNAPSHOT_PREREQ_MSG_MAX] = "", one[64];
    size_t used = 0;
    long code = 0;

    for (size_t i = 0; i < sizeof(perms) / sizeof(perms[0]); i++) {
        int ok;

        if (perms[i].prereq != p)
            continue;
        ok = review(c, perms[i].verb, perms[i].group, perms[i].resource,
                    perms[i].cluster_wide ? "" : ns, &code);
        if (ok < 0)
            return unknown(r, p, c, "SelfSubjectAccessReview", code);
        if (ok)
            continue;
        perm_name(&perms[i], one, sizeof(one));
        used += (size_t)snprintf(denied + used, used < sizeof(denied) ? sizeof(denied) - used : 0,
                                 "%s%s", used ? ", " : "", one);
        if (used >= sizeof(denied))
            used = sizeof(denied);
    }
    if (!denied[0])
        prereq_set(r, p, "True", "Granted", "every verb fedsched uses is allowed");
    else
        prereq_set(r, p, "False", "Forbidden", "forbidden: %s", denied);
}

void prereq_check(const struct cluster_config *cfg, const struct prereq_options *o,
                  const struct prereq_result *prev, int64_t now_ms, struct prereq_result *out)
{
    struct prereq_result r;
    struct client c;
    struct err e = {0};

    prereq_init(&r);
    memset(&c, 0, sizeof(c));
    c.cfg = cfg;
    if (k8s_client_new(cfg, o->timeout_ms, &c.k, &e) != 0) {
        for (int p = 0; p < SNAPSHOT_PREREQ_COUNT; p++)
            prereq_set(&r, (enum snapshot_prereq)p, "Unknown", "CheckFailed", "%s", e.msg);
    } else {
        check_discovery(&c, &r);
        check_namespace(&c, &r);
        check_priority_class(&c, &r, SNAPSHOT_PREREQ_PRIORITY_CLASS, o->priority_class,
                             "scheduler.priorityClass");
        check_priority_class(&c, &r, SNAPSHOT_PREREQ_PRIORITY_CLASS_BORROWED,
                             o->priority_class_borrowed, "scheduler.priorityClassBorrowed");
        check_permissions(&c, &r, SNAPSHOT_PREREQ_PERMISSIONS);
        check_permissions(&c, &r, SNAPSHOT_PREREQ_RAY_PERMISSIONS);
    }
    k8s_client_free(&c.k);
    /* A check that could not be made says nothing new: a condition keeps the status it
     * had, so that a False never becomes a placement because the API server was slow to
     * answer once (the cluster's health shows that it is failing). */
    for (int p = 0; prev && p < SNAPSHOT_PREREQ_COUNT; p++)
        if (strcmp(r.conds[p].reason, "CheckFailed") == 0 &&
            (strcmp(prev->conds[p].status, "True") == 0 ||
             strcmp(prev->conds[p].status, "False") == 0))
            r.conds[p] = prev->conds[p];
    r.checked = true;
    r.checked_ms = now_ms;
    prereq_carry_times(&r, prev, now_ms);
    *out = r;
}
