/* k8s.c -- reading Nodes, Pods and Status objects out of API JSON. */
#include "cluster/k8s.h"

#include "cluster/cluster_config.h"
#include "cluster/quantity.h"

#include <stdio.h>
#include <string.h>

static const char *const resource_names[K8S_RESOURCES] = {K8S_GPU_RESOURCE, "cpu", "memory"};

int64_t k8s_resource_max(enum k8s_resource r)
{
    switch (r) {
    case K8S_RES_GPU: return K8S_GPUS_MAX;
    case K8S_RES_CPU: return K8S_CPU_M_MAX;
    case K8S_RES_MEMORY: return K8S_MEM_B_MAX;
    }
    return 0;
}

/* a + b for values in 0..max+1, stopping at max+1: the bounds leave room, so nothing wraps,
 * and a total over max still reads as over it. */
static int64_t sat_add(int64_t a, int64_t b, int r)
{
    int64_t cap = k8s_resource_max((enum k8s_resource)r) + 1;

    return a + b > cap ? cap : a + b;
}

void k8s_requests_add_app(struct k8s_requests *r, const int64_t c[K8S_RESOURCES])
{
    for (int i = 0; i < K8S_RESOURCES; i++)
        r->app[i] = sat_add(r->app[i], c[i], i);
}

void k8s_requests_add_init(struct k8s_requests *r, const int64_t c[K8S_RESOURCES], bool sidecar)
{
    for (int i = 0; i < K8S_RESOURCES; i++) {
        /* A sidecar keeps running beside every container started after it, and so is part
         * of both the app figure and each later init container's. A regular init container
         * runs alone (beside the sidecars before it) and is done before the next starts. */
        int64_t during = sat_add(c[i], r->sidecars[i], i);

        if (sidecar)
            r->sidecars[i] = during;
        if (during > r->init[i])
            r->init[i] = during;
    }
}

void k8s_requests_total(const struct k8s_requests *r, const int64_t overhead[K8S_RESOURCES],
                        int64_t out[K8S_RESOURCES])
{
    for (int i = 0; i < K8S_RESOURCES; i++) {
        int64_t run = sat_add(r->app[i], r->sidecars[i], i);

        out[i] = sat_add(run > r->init[i] ? run : r->init[i], overhead ? overhead[i] : 0, i);
    }
}

/* Reads resource r from a resource map (allocatable, requests, limits, overhead) into *out
 * in its unit (enum k8s_resource); 0 when absent. path names the map in errors
 * ("status.allocatable"). */
static int read_quantity(const struct k8s_json *d, int map, const char *path, int r, int64_t *out,
                         struct err *e)
{
    const char *name = resource_names[r];
    int t = k8s_json_get(d, map, name);
    int64_t max = k8s_resource_max((enum k8s_resource)r);
    char field[128];
    const char *raw;
    size_t len;
    int64_t v;
    int rc;

    *out = 0;
    if (t < 0)
        return 0;
    snprintf(field, sizeof(field), "%s.%s", path, name);
    if (k8s_json_type(d, t) == K8S_JSON_NUMBER) {
        /* Go always writes quantities as strings, but a hand-written manifest echoed
         * back may carry a number; accept whole ones. */
        if (k8s_json_int(d, t, 0, r == K8S_RES_CPU ? max / 1000 : max, &v) != 0)
            return err_set(e, ERR_MALFORMED, field, "%s is not a whole %s quantity", field, name);
        *out = r == K8S_RES_CPU ? v * 1000 : v;
        return 0;
    }
    if (k8s_json_type(d, t) != K8S_JSON_STRING || d->toks[t].escaped)
        return err_set(e, ERR_MALFORMED, field, "%s must be a quantity string", field);
    raw = k8s_json_raw(d, t, &len);
    /* CPU counts in millicores; GPUs and memory in whole units, rounded up as the API
     * server's Quantity.Value() does. */
    rc = r == K8S_RES_CPU ? quantity_parse_milli(raw, len, &v, NULL)
                          : quantity_parse_value(raw, len, &v, NULL);
    if (rc != 0 || v < 0 || v > max)
        return err_set(e, ERR_MALFORMED, field, "%s \"%.*s\" is not a %s quantity%s", field,
                       (int)(len > 32 ? 32 : len), raw, r == K8S_RES_GPU ? "GPU" : name,
                       rc == 0 && v < 0 ? " (negative)"
                       : rc == 0        ? " (too large)"
                                        : "");
    *out = v;
    return 0;
}

/* Copies the string tok into out like k8s_json_str(), but only when it fits whole and holds
 * no NUL byte: a "\u0000" escape would cut the C string short, turning "a\u0000b" into "a"
 * (or into the empty name) and so into another object's name. Returns the length, 0 when
 * tok is absent or not a string, -1 when the value cannot be held. */
static long str_whole(const struct k8s_json *d, int tok, char *out, size_t size)
{
    long n = k8s_json_str(d, tok, out, size);

    if (n < 0) {
        out[0] = '\0';
        return 0;
    }
    if ((size_t)n >= size || strlen(out) != (size_t)n) {
        out[0] = '\0';
        return -1;
    }
    return n;
}

/* What every listed item must be before its fields are read: an object with a usable
 * metadata.name, copied into name. kind names it in the message ("a node must be an
 * object"). */
static int read_named(const struct k8s_json *d, int tok, const char *kind, char *name, size_t size,
                      struct err *e)
{
    if (k8s_json_type(d, tok) != K8S_JSON_OBJECT)
        return err_set(e, ERR_MALFORMED, "items[]", "a %s must be an object", kind);
    if (str_whole(d, k8s_json_path(d, tok, "metadata", "name", K8S_JSON_END), name, size) <= 0)
        return err_set(e, ERR_MALFORMED, "metadata.name", "%s without a valid metadata.name", kind);
    return 0;
}

static bool labels_match(const struct k8s_json *d, int labels,
                         const struct cluster_serving_config *s)
{
    if (!s->enabled || s->n_selector == 0)
        return false;
    for (size_t i = 0; i < s->n_selector; i++)
        if (!k8s_json_str_eq(d, k8s_json_get(d, labels, s->selector[i].key), s->selector[i].value))
            return false;
    return true;
}

int k8s_node_read(const struct k8s_json *d, int tok, const struct cluster_config *cfg,
                  const struct sku_catalogue *skus, struct k8s_node *out, struct err *e)
{
    struct k8s_node n;
    int meta = k8s_json_get(d, tok, "metadata");
    int labels = k8s_json_get(d, meta, "labels");
    int spec = k8s_json_get(d, tok, "spec");
    int status = k8s_json_get(d, tok, "status");
    int taints = k8s_json_get(d, spec, "taints");
    int conds = k8s_json_get(d, status, "conditions");
    int alloc = k8s_json_get(d, status, "allocatable");
    int64_t mem, gpus, cap_gpus, mem_b;

    memset(&n, 0, sizeof(n));
    if (read_named(d, tok, "node", n.name, sizeof(n.name), e) != 0)
        return -1;
    if (read_quantity(d, alloc, "status.allocatable", K8S_RES_GPU, &gpus, e) != 0 ||
        read_quantity(d, k8s_json_get(d, status, "capacity"), "status.capacity", K8S_RES_GPU,
                      &cap_gpus, e) != 0 ||
        read_quantity(d, alloc, "status.allocatable", K8S_RES_CPU, &n.cpu_m, e) != 0 ||
        read_quantity(d, alloc, "status.allocatable", K8S_RES_MEMORY, &mem_b, e) != 0)
        return -1;
    n.allocatable = (int)gpus;
    n.capacity = (int)cap_gpus;
    n.mem_mib = mem_b / K8S_MIB; /* rounded down: never more than the node has */
    k8s_json_str(d, k8s_json_get(d, labels, K8S_LABEL_GPU_PRODUCT), n.product, sizeof(n.product));
    if (k8s_json_int(d, k8s_json_get(d, labels, K8S_LABEL_GPU_MEMORY), 1, 10000000, &mem) == 0)
        n.memory_mib = (int)mem;
    n.mig = k8s_json_get(d, labels, K8S_LABEL_MIG) >= 0;
    n.gpu = n.allocatable > 0 || n.capacity > 0 || n.product[0];
    /* A MIG product names a slice ("...-MIG-1g.5gb") and counts slices, never whole GPUs,
     * so it must not match a whole-GPU SKU even when an operator's catalogue lists it. */
    n.sku = n.product[0] ? sku_match_product(skus, n.product, n.memory_mib) : -1;
    if (n.mig && strstr(n.product, "MIG"))
        n.sku = -1;
    n.pool =
        labels_match(d, labels, &cfg->serving) ? SNAPSHOT_POOL_SERVING : SNAPSHOT_POOL_TRAINING;
    n.unschedulable = k8s_json_true(d, k8s_json_get(d, spec, "unschedulable"));
    for (int c = k8s_json_child(d, conds); c >= 0; c = k8s_json_next(d, conds, c)) {
        if (k8s_json_str_eq(d, k8s_json_get(d, c, "type"), "Ready")) {
            n.ready = k8s_json_str_eq(d, k8s_json_get(d, c, "status"), "True");
            break;
        }
    }
    for (int t = k8s_json_child(d, taints); t >= 0; t = k8s_json_next(d, taints, t)) {
        char key[CLUSTER_LABEL_KEY_MAX], value[CLUSTER_LABEL_VALUE_MAX], effect[24];

        k8s_json_str(d, k8s_json_get(d, t, "effect"), effect, sizeof(effect));
        if (strcmp(effect, "NoSchedule") != 0 && strcmp(effect, "NoExecute") != 0)
            continue; /* PreferNoSchedule only steers, it never blocks */
        k8s_json_str(d, k8s_json_get(d, t, "key"), key, sizeof(key));
        k8s_json_str(d, k8s_json_get(d, t, "value"), value, sizeof(value));
        if (!cluster_config_tolerates(cfg, key, value, effect)) {
            n.tainted = true;
            break;
        }
    }
    n.schedulable = n.ready && !n.unschedulable && !n.tainted;
    if (n.pool == SNAPSHOT_POOL_SERVING)
        node_labels_read(d, tok, &n.labels);
    *out = n;
    return 0;
}

/* One container's requests (c is its token, list/i name it in errors): each resource's
 * request, else its limit, as the API server defaults a request from the limit. */
static int container_requests(const struct k8s_json *d, int c, const char *list, int i,
                              int64_t out[K8S_RESOURCES], struct err *e)
{
    int res = k8s_json_get(d, c, "resources");
    int req = k8s_json_get(d, res, "requests");
    int lim = k8s_json_get(d, res, "limits");
    char path[64];

    for (int r = 0; r < K8S_RESOURCES; r++) {
        bool requested = k8s_json_get(d, req, resource_names[r]) >= 0;

        snprintf(path, sizeof(path), "spec.%s[%d].resources.%s", list, i,
                 requested ? "requests" : "limits");
        if (read_quantity(d, requested ? req : lim, path, r, &out[r], e) != 0)
            return -1;
    }
    return 0;
}

static enum k8s_pod_phase parse_phase(const struct k8s_json *d, int t)
{
    static const char *const names[] = {"Pending", "Running", "Succeeded", "Failed"};

    for (int i = 0; i < 4; i++)
        if (k8s_json_str_eq(d, t, names[i]))
            return (enum k8s_pod_phase)i;
    return K8S_POD_UNKNOWN;
}

/* A Pod, or (tmpl) a pod template, which has no name of its own. */
static int pod_read(const struct k8s_json *d, int tok, bool tmpl, struct k8s_pod *out,
                    struct err *e)
{
    struct k8s_pod p;
    int meta = k8s_json_get(d, tok, "metadata");
    int spec = k8s_json_get(d, tok, "spec");
    int status = k8s_json_get(d, tok, "status");
    int labels = k8s_json_get(d, meta, "labels");
    int list, sel, conds, i;
    struct k8s_requests req = {0};
    int64_t one[K8S_RESOURCES], overhead[K8S_RESOURCES], total[K8S_RESOURCES];
    int64_t mem, att;

    memset(&p, 0, sizeof(p));
    if (tmpl ? k8s_json_type(d, tok) != K8S_JSON_OBJECT
             : read_named(d, tok, "pod", p.name, sizeof(p.name), e) != 0)
        return tmpl ? err_set(e, ERR_MALFORMED, "spec.template", "not an object") : -1;
    /* The namespace decides serving demand and nodeName which node is charged, so a value
     * that would be cut short is refused rather than matched to something else. */
    if (str_whole(d, k8s_json_get(d, meta, "namespace"), p.ns, sizeof(p.ns)) < 0)
        return err_set(e, ERR_MALFORMED, "metadata.namespace", "pod with an invalid namespace");
    if (str_whole(d, k8s_json_get(d, spec, "nodeName"), p.node, sizeof(p.node)) < 0)
        return err_set(e, ERR_MALFORMED, "spec.nodeName", "pod with an invalid spec.nodeName");
    p.phase = parse_phase(d, k8s_json_get(d, status, "phase"));
    /* A pod the kubelet has not reported yet has no phase; it is Pending. */
    if (k8s_json_get(d, status, "phase") < 0)
        p.phase = K8S_POD_PENDING;
    p.terminating = k8s_json_type(d, k8s_json_get(d, meta, "deletionTimestamp")) == K8S_JSON_STRING;
    p.ours = k8s_json_str_eq(d, k8s_json_get(d, labels, K8S_LABEL_MANAGED_BY), K8S_MANAGED_BY) ||
             k8s_json_get(d, labels, K8S_LABEL_JOB_UID) >= 0;
    if (k8s_json_str(d, k8s_json_get(d, labels, K8S_LABEL_JOB_UID), p.job_uid, sizeof(p.job_uid)) >=
        (long)sizeof(p.job_uid))
        p.job_uid[0] = '\0';
    p.attempt = -1;
    if (k8s_json_int(d, k8s_json_get(d, labels, K8S_LABEL_ATTEMPT), 0, INT32_MAX, &att) == 0)
        p.attempt = (int)att;
    sel = k8s_json_get(d, spec, "nodeSelector");
    k8s_json_str(d, k8s_json_get(d, sel, K8S_LABEL_GPU_PRODUCT), p.product, sizeof(p.product));
    if (k8s_json_int(d, k8s_json_get(d, sel, K8S_LABEL_GPU_MEMORY), 1, 10000000, &mem) == 0)
        p.memory_mib = (int)mem;

    list = k8s_json_get(d, spec, "containers");
    i = 0;
    for (int c = k8s_json_child(d, list); c >= 0; c = k8s_json_next(d, list, c), i++) {
        if (container_requests(d, c, "containers", i, one, e) != 0)
            return -1;
        k8s_requests_add_app(&req, one);
    }
    list = k8s_json_get(d, spec, "initContainers");
    i = 0;
    for (int c = k8s_json_child(d, list); c >= 0; c = k8s_json_next(d, list, c), i++) {
        if (container_requests(d, c, "initContainers", i, one, e) != 0)
            return -1;
        k8s_requests_add_init(&req, one,
                              k8s_json_str_eq(d, k8s_json_get(d, c, "restartPolicy"), "Always"));
    }
    for (int r = 0; r < K8S_RESOURCES; r++)
        if (read_quantity(d, k8s_json_get(d, spec, "overhead"), "spec.overhead", r, &overhead[r],
                          e) != 0)
            return -1;
    k8s_requests_total(&req, overhead, total);
    for (int r = 0; r < K8S_RESOURCES; r++)
        if (total[r] > k8s_resource_max((enum k8s_resource)r))
            return err_set(e, ERR_MALFORMED, "spec.containers[].resources",
                           "pod requests more than %lld of %s in all; no more is believed",
                           (long long)k8s_resource_max((enum k8s_resource)r), resource_names[r]);
    p.gpus = (int)total[K8S_RES_GPU];
    p.cpu_m = total[K8S_RES_CPU];
    p.mem_b = total[K8S_RES_MEMORY];

    conds = k8s_json_get(d, status, "conditions");
    for (int c = k8s_json_child(d, conds); c >= 0; c = k8s_json_next(d, conds, c)) {
        if (k8s_json_str_eq(d, k8s_json_get(d, c, "type"), "PodScheduled") &&
            k8s_json_str_eq(d, k8s_json_get(d, c, "status"), "False") &&
            k8s_json_str_eq(d, k8s_json_get(d, c, "reason"), "Unschedulable"))
            p.unschedulable = true;
    }
    p.gated = k8s_json_child(d, k8s_json_get(d, spec, "schedulingGates")) >= 0;
    if (!tmpl && !p.node[0] && !p.ours && p.gpus > 0)
        pod_select_read(d, tok, &p.select);
    *out = p;
    return 0;
}

static const char *reason_for_code(int code)
{
    switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "Conflict";
    case 410: return "Expired";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return code >= 500 ? "InternalError" : "Unknown";
    }
}

void k8s_status_read(const char *body, size_t len, int http_code, struct k8s_status *out)
{
    struct k8s_json d;
    int64_t code;

    memset(out, 0, sizeof(*out));
    out->code = http_code;
    k8s_json_init(&d);
    if (body && len && k8s_json_parse(&d, body, len, 16, NULL) == 0 &&
        k8s_json_str_eq(&d, k8s_json_get(&d, 0, "kind"), "Status")) {
        k8s_json_str(&d, k8s_json_get(&d, 0, "reason"), out->reason, sizeof(out->reason));
        k8s_json_str(&d, k8s_json_get(&d, 0, "message"), out->message, sizeof(out->message));
        if (k8s_json_int(&d, k8s_json_get(&d, 0, "code"), 100, 599, &code) == 0 && !http_code)
            out->code = (int)code;
    } else if (body && len) {
        size_t n = len < sizeof(out->message) - 1 ? len : sizeof(out->message) - 1;

        /* Keep only printable bytes: the excerpt ends up in logs and API answers. */
        for (size_t i = 0; i < n; i++)
            out->message[i] = (body[i] >= 0x20 && body[i] < 0x7f) ? body[i] : '?';
        out->message[n] = '\0';
    }
    if (!out->reason[0])
        snprintf(out->reason, sizeof(out->reason), "%s", reason_for_code(out->code));
    k8s_json_free(&d);
}

enum err_code k8s_status_code(const struct k8s_status *s)
{
    static const struct {
        const char *reason;
        enum err_code code;
    } map[] = {
        {"AlreadyExists", ERR_CONFLICT},
        {"Conflict", ERR_CONFLICT},
        {"NotFound", ERR_NOT_FOUND},
        {"Unauthorized", ERR_UNAUTHORIZED},
        {"Forbidden", ERR_FORBIDDEN},
        {"TooManyRequests", ERR_RATE_LIMITED},
        {"Invalid", ERR_INVALID},
        {"BadRequest", ERR_INVALID},
        {"Expired", ERR_CONFLICT},
        {"Gone", ERR_CONFLICT},
        {"Timeout", ERR_TIMEOUT},
        {"ServiceUnavailable", ERR_UNAVAILABLE},
        {"InternalError", ERR_UNAVAILABLE},
        {"MethodNotAllowed", ERR_METHOD},
        {"UnsupportedMediaType", ERR_MEDIA_TYPE},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].reason, s->reason) == 0)
            return map[i].code;
    if (s->code >= 500)
        return ERR_UNAVAILABLE;
    if (s->code == 401)
        return ERR_UNAUTHORIZED;
    if (s->code == 403)
        return ERR_FORBIDDEN;
    if (s->code == 404)
        return ERR_NOT_FOUND;
    if (s->code == 409)
        return ERR_CONFLICT;
    if (s->code == 429)
        return ERR_RATE_LIMITED;
    return ERR_INVALID;
}

int k8s_status_err(const struct k8s_status *s, struct err *e)
{
    return err_set(e, k8s_status_code(s), s->reason, "%s (HTTP %d): %s", s->reason, s->code,
                   s->message[0] ? s->message : "no message");
}

int k8s_pod_read(const struct k8s_json *d, int tok, struct k8s_pod *out, struct err *e)
{
    return pod_read(d, tok, false, out, e);
}

/* spec.replicas-like int32 at tok; absent is dflt. */
static int read_count(const struct k8s_json *d, int tok, const char *field, int dflt, int *out,
                      struct err *e)
{
    int64_t v;

    if (tok < 0) {
        *out = dflt;
        return 0;
    }
    /* An int32 field: a JSON number (the API server refuses "4"). */
    if (k8s_json_type(d, tok) != K8S_JSON_NUMBER || k8s_json_int(d, tok, 0, INT32_MAX, &v) != 0) {
        size_t len = 0;
        const char *raw = k8s_json_raw(d, tok, &len);
        const char *q = k8s_json_type(d, tok) == K8S_JSON_STRING ? "\"" : "";

        return err_set(e, ERR_MALFORMED, field,
                       "%s %s%.*s%s is not a count (a whole number, 0 to 2147483647)", field, q,
                       raw ? (int)(len > 32 ? 32 : len) : 0, raw ? raw : "", q);
    }
    *out = (int)v;
    return 0;
}

int k8s_deployment_read(const struct k8s_json *d, int tok, struct k8s_deployment *out,
                        struct err *e)
{
    struct k8s_deployment w;
    struct k8s_pod tmpl;
    int spec = k8s_json_get(d, tok, "spec"), status = k8s_json_get(d, tok, "status");

    memset(&w, 0, sizeof(w));
    if (read_named(d, tok, "deployment", w.name, sizeof(w.name), e) != 0)
        return -1;
    if (str_whole(d, k8s_json_path(d, tok, "metadata", "namespace", K8S_JSON_END), w.ns,
                  sizeof(w.ns)) <= 0)
        return err_set(e, ERR_MALFORMED, "metadata.namespace",
                       "deployment without a valid namespace");
    /* spec.replicas defaults to 1 (the API server fills it in). */
    if (read_count(d, k8s_json_get(d, spec, "replicas"), "spec.replicas", 1, &w.spec_replicas, e) !=
            0 ||
        read_count(d, k8s_json_get(d, status, "replicas"), "status.replicas", 0, &w.status_replicas,
                   e) != 0 ||
        pod_read(d, k8s_json_get(d, spec, "template"), true, &tmpl, e) != 0)
        return -1;
    w.gpus_per_replica = tmpl.gpus;
    memcpy(w.product, tmpl.product, sizeof(w.product));
    w.memory_mib = tmpl.memory_mib;
    *out = w;
    return 0;
}

int k8s_hpa_read(const struct k8s_json *d, int tok, struct k8s_hpa *out, struct err *e)
{
    struct k8s_hpa h;
    int ref = k8s_json_path(d, tok, "spec", "scaleTargetRef", K8S_JSON_END);
    int status = k8s_json_get(d, tok, "status");

    memset(&h, 0, sizeof(h));
    if (read_named(d, tok, "horizontalpodautoscaler", h.name, sizeof(h.name), e) != 0)
        return -1;
    if (str_whole(d, k8s_json_path(d, tok, "metadata", "namespace", K8S_JSON_END), h.ns,
                  sizeof(h.ns)) <= 0)
        return err_set(e, ERR_MALFORMED, "metadata.namespace", "HPA without a valid namespace");
    if (k8s_json_str_eq(d, k8s_json_get(d, ref, "kind"), "Deployment") &&
        k8s_json_str_eq(d, k8s_json_get(d, ref, "apiVersion"), "apps/v1"))
        h.target_kind = K8S_TARGET_DEPLOYMENT;
    else if (k8s_json_str_eq(d, k8s_json_get(d, ref, "kind"), "LeaderWorkerSet") &&
             k8s_json_str_eq(d, k8s_json_get(d, ref, "apiVersion"), "leaderworkerset.x-k8s.io/v1"))
        h.target_kind = K8S_TARGET_LEADERWORKERSET;
    if (str_whole(d, k8s_json_get(d, ref, "name"), h.target, sizeof(h.target)) <= 0)
        return err_set(e, ERR_MALFORMED, "spec.scaleTargetRef.name",
                       "HPA without a valid scaleTargetRef.name");
    /* desiredReplicas is required in autoscaling/v2; currentReplicas is omitted at 0. */
    if (k8s_json_get(d, status, "desiredReplicas") < 0)
        return err_set(e, ERR_MALFORMED, "status.desiredReplicas", "HPA without a status yet");
    if (read_count(d, k8s_json_get(d, status, "desiredReplicas"), "status.desiredReplicas", 0,
                   &h.desired, e) != 0 ||
        read_count(d, k8s_json_get(d, status, "currentReplicas"), "status.currentReplicas", 0,
                   &h.current, e) != 0)
        return -1;
    *out = h;
    return 0;
}

/* A pod template of a LeaderWorkerSet at tok, read like a Deployment's; errors name the
 * template (prefix) before the field the pod reader names. */
static int lws_template(const struct k8s_json *d, int tok, const char *prefix, struct k8s_pod *out,
                        struct err *e)
{
    struct err inner = {0};

    if (k8s_json_type(d, tok) != K8S_JSON_OBJECT)
        return err_set(e, ERR_MALFORMED, prefix, "%s must be a pod template (an object)", prefix);
    if (pod_read(d, tok, true, out, &inner) == 0)
        return 0;
    /* The pod reader's messages begin with the field they name ("spec.containers[0]..."). */
    if (inner.field[0] && strncmp(inner.msg, inner.field, strlen(inner.field)) == 0) {
        char field[sizeof(inner.field)];

        snprintf(field, sizeof(field), "%s.%s", prefix, inner.field);
        return err_set(e, inner.code, field, "%s.%s", prefix, inner.msg);
    }
    return err_set(e, inner.code, prefix, "%s: %s", prefix, inner.msg);
}

#define LWT "spec.leaderWorkerTemplate"

int k8s_lws_read(const struct k8s_json *d, int tok, struct k8s_lws *out, struct err *e)
{
    struct k8s_lws l;
    struct k8s_pod worker, leader;
    int spec = k8s_json_get(d, tok, "spec"), status = k8s_json_get(d, tok, "status");
    int lwt = k8s_json_get(d, spec, "leaderWorkerTemplate");
    int leader_tok = k8s_json_get(d, lwt, "leaderTemplate");
    int64_t gpus;

    memset(&l, 0, sizeof(l));
    if (read_named(d, tok, "leaderworkerset", l.group.name, sizeof(l.group.name), e) != 0)
        return -1;
    if (str_whole(d, k8s_json_path(d, tok, "metadata", "namespace", K8S_JSON_END), l.group.ns,
                  sizeof(l.group.ns)) <= 0)
        return err_set(e, ERR_MALFORMED, "metadata.namespace",
                       "leaderworkerset without a valid namespace");
    /* spec.replicas and size default to 1 (the CRD's defaults, filled in by the API server). */
    if (read_count(d, k8s_json_get(d, spec, "replicas"), "spec.replicas", 1, &l.group.spec_replicas,
                   e) != 0 ||
        read_count(d, k8s_json_get(d, status, "replicas"), "status.replicas", 0,
                   &l.group.status_replicas, e) != 0 ||
        read_count(d, k8s_json_get(d, status, "readyReplicas"), "status.readyReplicas", 0,
                   &l.ready_replicas, e) != 0)
        return -1;
    if (k8s_json_type(d, lwt) != K8S_JSON_OBJECT)
        return err_set(e, ERR_MALFORMED, LWT, "%s is required (an object)", LWT);
    if (read_count(d, k8s_json_get(d, lwt, "size"), LWT ".size", 1, &l.size, e) != 0)
        return -1;
    if (l.size < 1)
        return err_set(e, ERR_MALFORMED, LWT ".size",
                       LWT ".size %d: a group has at least its leader (1)", l.size);
    if (lws_template(d, k8s_json_get(d, lwt, "workerTemplate"), LWT ".workerTemplate", &worker,
                     e) != 0)
        return -1;
    /* Without a leader template the leader is made from the worker template. A null one
     * is an absent one (the API server drops nulls of optional fields). */
    l.leader_template = leader_tok >= 0 && k8s_json_type(d, leader_tok) != K8S_JSON_NULL;
    if (l.leader_template) {
        if (lws_template(d, leader_tok, LWT ".leaderTemplate", &leader, e) != 0)
            return -1;
    } else {
        leader = worker;
    }
    gpus = (int64_t)leader.gpus + (int64_t)(l.size - 1) * worker.gpus;
    if (gpus > K8S_GPUS_MAX)
        return err_set(e, ERR_MALFORMED, LWT ".size",
                       "a group of %d pods needs %lld GPUs, more than %d; no more is believed",
                       l.size, (long long)gpus, K8S_GPUS_MAX);
    l.worker_gpus = worker.gpus;
    l.leader_gpus = leader.gpus;
    l.group.gpus_per_replica = (int)gpus;
    memcpy(l.group.product, worker.product, sizeof(l.group.product));
    l.group.memory_mib = worker.memory_mib;
    memcpy(l.leader_product, leader.product, sizeof(l.leader_product));
    l.leader_memory_mib = leader.memory_mib;
    *out = l;
    return 0;
}
