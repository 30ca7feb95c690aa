/* kubesim_scenario.c -- reading scenario files for the simulated clusters. */
#include "tools/kubesim/kubesim_scenario.h"

#include "base/clock.h"
#include "base/dns.h"
#include "base/err.h"
#include "base/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCENARIO_MAX_BYTES ((size_t)64 << 20)

static int bad(struct err *e, const char *field, const char *what)
{
    return err_set(e, ERR_INVALID, field, "%s %s", field, what);
}

static int get_str(const json_t *o, const char *key, const char *prefix, char *out, size_t size,
                   bool required, struct err *e)
{
    const json_t *v = json_object_get(o, key);
    char field[256];

    snprintf(field, sizeof(field), "%s%s", prefix, key);
    if (!v) {
        if (required)
            return bad(e, field, "is required");
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) >= size)
        return err_set(e, ERR_INVALID, field, "%s must be a string shorter than %zu bytes", field,
                       size);
    snprintf(out, size, "%s", json_string_value(v));
    return 0;
}

static int get_int(const json_t *o, const char *key, const char *prefix, int min, int max, int *out,
                   struct err *e)
{
    const json_t *v = json_object_get(o, key);
    char field[256];

    if (!v)
        return 0;
    snprintf(field, sizeof(field), "%s%s", prefix, key);
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return err_set(e, ERR_INVALID, field, "%s %s must be an integer in %d..%d", field,
                       json_is_integer(v) ? "value" : "(not an integer)", min, max);
    *out = (int)json_integer_value(v);
    return 0;
}

int sim_faults_from_json(const json_t *j, const char *field, struct sim_faults *out, struct err *e)
{
    struct sim_faults f;
    char prefix[160];
    const json_t *v;

    memset(&f, 0, sizeof(f));
    if (!json_is_object(j))
        return bad(e, field, "must be an object");
    snprintf(prefix, sizeof(prefix), "%s.", field);
    if (get_int(j, "latencyMs", prefix, 0, 3600000, &f.latency_ms, e) != 0 ||
        get_int(j, "status", prefix, 0, 599, &f.status, e) != 0 ||
        get_int(j, "retryAfterSeconds", prefix, 0, 86400, &f.retry_after_s, e) != 0 ||
        get_int(j, "remaining", prefix, 0, 1 << 30, &f.remaining, e) != 0 ||
        get_int(j, "watchDropAfterEvents", prefix, 0, 1 << 30, &f.watch_drop_after, e) != 0)
        return -1;
    if (f.status && (f.status < 400 || f.status > 599))
        return err_set(e, ERR_INVALID, "status", "%s.status %d must be 4xx or 5xx", field,
                       f.status);
    f.expire_continue = json_is_true(json_object_get(j, "expireContinue"));
    f.drop = json_is_true(json_object_get(j, "dropConnection"));
    f.malformed = json_is_true(json_object_get(j, "malformedBody"));
    f.unauthorized = json_is_true(json_object_get(j, "unauthorized"));
    f.watch_stall = json_is_true(json_object_get(j, "watchStall"));
    f.watch_garble = json_is_true(json_object_get(j, "watchGarble"));
    if ((v = json_object_get(j, "probability"))) {
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1)
            return err_set(e, ERR_INVALID, "probability", "%s.probability must be in 0..1", field);
        f.probability = json_number_value(v);
    }
    if ((v = json_object_get(j, "method"))) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) >= sizeof(f.method))
            return err_set(e, ERR_INVALID, "method", "%s.method must be an HTTP method", field);
        snprintf(f.method, sizeof(f.method), "%s", json_string_value(v));
    }
    *out = f;
    return 0;
}

static int parse_pool(const json_t *j, const char *prefix, struct sim_node_pool *p, struct err *e)
{
    const json_t *v;
    char field[256];

    if (!json_is_object(j))
        return bad(e, prefix, "must be an object");
    snprintf(p->zone, sizeof(p->zone), "%s", "sim-zone-a");
    snprintf(p->pool, sizeof(p->pool), "%s", "training");
    snprintf(p->instance_type, sizeof(p->instance_type), "%s", "sim.gpu");
    p->count = 1;
    p->memory_mib = 0;
    if (get_str(j, "name", prefix, p->name, sizeof(p->name), true, e) != 0 ||
        get_str(j, "product", prefix, p->product, sizeof(p->product), false, e) != 0 ||
        get_str(j, "family", prefix, p->family, sizeof(p->family), false, e) != 0 ||
        get_str(j, "instanceType", prefix, p->instance_type, sizeof(p->instance_type), false, e) !=
            0 ||
        get_str(j, "zone", prefix, p->zone, sizeof(p->zone), false, e) != 0 ||
        get_str(j, "pool", prefix, p->pool, sizeof(p->pool), false, e) != 0 ||
        get_str(j, "mig", prefix, p->mig, sizeof(p->mig), false, e) != 0 ||
        get_int(j, "count", prefix, 0, 100000, &p->count, e) != 0 ||
        get_int(j, "gpus", prefix, 0, 64, &p->gpus, e) != 0 ||
        get_int(j, "memoryMiB", prefix, 0, 10000000, &p->memory_mib, e) != 0 ||
        get_int(j, "notReady", prefix, 0, 100000, &p->not_ready, e) != 0 ||
        get_int(j, "cordoned", prefix, 0, 100000, &p->cordoned, e) != 0 ||
        get_int(j, "busy", prefix, 0, 100000, &p->busy, e) != 0 ||
        get_int(j, "cpu", prefix, 1, 100000, &p->cpu, e) != 0 ||
        get_int(j, "memoryGib", prefix, 1, 1000000, &p->memory_gib, e) != 0)
        return -1;
    snprintf(field, sizeof(field), "%sname", prefix);
    if (!dns_subdomain_ok(p->name, strlen(p->name), 40))
        return err_set(e, ERR_INVALID, field, "%s \"%s\" must be a DNS name of at most 40", field,
                       p->name);
    if (p->product[0] && p->gpus == 0)
        p->gpus = 8;
    if (strcmp(p->pool, "training") != 0 && strcmp(p->pool, "serving") != 0) {
        snprintf(field, sizeof(field), "%spool", prefix);
        return err_set(e, ERR_INVALID, field, "%s \"%s\" must be training or serving", field,
                       p->pool);
    }
    if ((v = json_object_get(j, "labels"))) {
        snprintf(field, sizeof(field), "%slabels", prefix);
        if (!json_is_object(v))
            return bad(e, field, "must be an object");
        p->labels = json_deep_copy(v);
    }
    if ((v = json_object_get(j, "taints"))) {
        size_t i;
        const json_t *t;

        snprintf(field, sizeof(field), "%staints", prefix);
        if (!json_is_array(v))
            return bad(e, field, "must be an array");
        json_array_foreach(v, i, t)
        {
            if (!json_is_string(json_object_get(t, "key")) ||
                !json_is_string(json_object_get(t, "effect")))
                return bad(e, field, "entries need key and effect");
        }
        p->taints = json_deep_copy(v);
    }
    return 0;
}

static int parse_deployment(const json_t *j, const char *prefix, struct sim_deployment *d,
                            struct err *e)
{
    const json_t *v;
    char field[256];

    if (!json_is_object(j))
        return bad(e, prefix, "must be an object");
    snprintf(d->ns, sizeof(d->ns), "%s", "serving");
    d->gpus_per_replica = 1;
    d->min_replicas = 1;
    d->max_replicas = 1;
    d->peak_hour = 18;
    d->lws_size = 1;
    d->leader_gpus = -1;
    if ((v = json_object_get(j, "kind"))) {
        snprintf(field, sizeof(field), "%skind", prefix);
        if (!json_is_string(v) || (strcmp(json_string_value(v), "Deployment") != 0 &&
                                   strcmp(json_string_value(v), "LeaderWorkerSet") != 0))
            return bad(e, field, "must be \"Deployment\" or \"LeaderWorkerSet\"");
        d->lws = strcmp(json_string_value(v), "LeaderWorkerSet") == 0;
    }
    if (!d->lws && (json_object_get(j, "size") || json_object_get(j, "leaderGpus"))) {
        snprintf(field, sizeof(field), "%s%s", prefix,
                 json_object_get(j, "size") ? "size" : "leaderGpus");
        return bad(e, field, "is for \"kind\": \"LeaderWorkerSet\" only");
    }
    if (get_int(j, "size", prefix, 1, 64, &d->lws_size, e) != 0 ||
        get_int(j, "leaderGpus", prefix, 0, 64, &d->leader_gpus, e) != 0)
        return -1;
    if (get_str(j, "name", prefix, d->name, sizeof(d->name), true, e) != 0 ||
        get_str(j, "namespace", prefix, d->ns, sizeof(d->ns), false, e) != 0 ||
        get_str(j, "product", prefix, d->product, sizeof(d->product), false, e) != 0 ||
        get_int(j, "gpusPerReplica", prefix, 0, 64, &d->gpus_per_replica, e) != 0 ||
        get_int(j, "minReplicas", prefix, 0, 100000, &d->min_replicas, e) != 0 ||
        get_int(j, "maxReplicas", prefix, 0, 100000, &d->max_replicas, e) != 0 ||
        get_int(j, "rolloutDelaySeconds", prefix, 0, 86400, &d->rollout_delay_s, e) != 0)
        return -1;
    if ((v = json_object_get(j, "autoscaler"))) {
        snprintf(field, sizeof(field), "%sautoscaler", prefix);
        if (!json_is_object(v))
            return bad(e, field, "must be an object");
        d->hpa = true;
        snprintf(field, sizeof(field), "%sautoscaler.", prefix);
        if (get_int(v, "delaySeconds", field, 0, 86400, &d->hpa_delay_s, e) != 0 ||
            get_int(v, "desiredReplicas", field, 0, 100000, &d->hpa_desired, e) != 0)
            return -1;
    }
    snprintf(field, sizeof(field), "%sname", prefix);
    if (!dns_subdomain_ok(d->name, strlen(d->name), 40) ||
        !dns_subdomain_ok(d->ns, strlen(d->ns), 63))
        return err_set(e, ERR_INVALID, field, "%s \"%s\" (namespace \"%s\") must be DNS names",
                       field, d->name, d->ns);
    if (d->max_replicas < d->min_replicas) {
        snprintf(field, sizeof(field), "%smaxReplicas", prefix);
        return err_set(e, ERR_INVALID, field, "%s %d is below minReplicas %d", field,
                       d->max_replicas, d->min_replicas);
    }
    if (d->hpa_desired > d->max_replicas) {
        snprintf(field, sizeof(field), "%sautoscaler.desiredReplicas", prefix);
        return err_set(e, ERR_INVALID, field, "%s %d is above maxReplicas %d", field,
                       d->hpa_desired, d->max_replicas);
    }
    if ((v = json_object_get(j, "peakHour"))) {
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) >= 24) {
            snprintf(field, sizeof(field), "%speakHour", prefix);
            return bad(e, field, "must be in [0, 24)");
        }
        d->peak_hour = json_number_value(v);
    }
    if ((v = json_object_get(j, "nodeSelector"))) {
        if (!json_is_object(v)) {
            snprintf(field, sizeof(field), "%snodeSelector", prefix);
            return bad(e, field, "must be an object");
        }
        d->node_selector = json_deep_copy(v);
    }
    return 0;
}

static int parse_static_pod(const json_t *j, const char *prefix, struct sim_static_pod *p,
                            struct err *e)
{
    const json_t *v;

    if (!json_is_object(j))
        return bad(e, prefix, "must be an object");
    snprintf(p->ns, sizeof(p->ns), "%s", "default");
    snprintf(p->phase, sizeof(p->phase), "%s", "Running");
    if (get_str(j, "name", prefix, p->name, sizeof(p->name), true, e) != 0 ||
        get_str(j, "namespace", prefix, p->ns, sizeof(p->ns), false, e) != 0 ||
        get_str(j, "node", prefix, p->node, sizeof(p->node), false, e) != 0 ||
        get_str(j, "phase", prefix, p->phase, sizeof(p->phase), false, e) != 0 ||
        get_str(j, "product", prefix, p->product, sizeof(p->product), false, e) != 0 ||
        get_int(j, "gpus", prefix, 0, 64, &p->gpus, e) != 0)
        return -1;
    if (!p->node[0] && strcmp(p->phase, "Running") == 0)
        snprintf(p->phase, sizeof(p->phase), "%s", "Pending");
    p->terminating = json_is_true(json_object_get(j, "terminating"));
    if ((v = json_object_get(j, "labels")) && json_is_object(v))
        p->labels = json_deep_copy(v);
    return 0;
}

/* One entry of a string list is well formed: "group/version" (apis), a DNS label
 * (namespaces), a DNS subdomain (priorityClasses), "VERB RESOURCE[.GROUP]" (forbidden). */
static bool list_entry_ok(const char *key, const char *v)
{
    size_t n = strlen(v);

    if (strcmp(key, "apis") == 0) {
        const char *slash = strchr(v, '/');

        return slash && slash != v && dns_subdomain_ok(v, (size_t)(slash - v), 253) &&
               dns_subdomain_ok(slash + 1, strlen(slash + 1), 63) && !strchr(slash + 1, '.');
    }
    if (strcmp(key, "namespaces") == 0)
        return dns_subdomain_ok(v, n, 63) && !strchr(v, '.');
    if (strcmp(key, "priorityClasses") == 0)
        return dns_subdomain_ok(v, n, 253);
    {
        const char *sp = strchr(v, ' ');

        return sp && sp != v && sp[1] && !strchr(sp + 1, ' ');
    }
}

/* Reads the optional string list at key (apis, namespaces, ...) into *out. */
static int parse_names(const json_t *j, const char *key, const char *prefix, json_t **out,
                       struct err *e)
{
    const json_t *v = json_object_get(j, key), *x;
    char field[160];
    size_t i;

    if (!v)
        return 0;
    snprintf(field, sizeof(field), "%s%s", prefix, key);
    if (!json_is_array(v))
        return bad(e, field, "must be an array of strings");
    json_array_foreach(v, i, x)
    {
        if (!json_is_string(x) || !list_entry_ok(key, json_string_value(x)))
            return err_set(e, ERR_INVALID, field, "%s[%zu] \"%s\" is not a valid entry (%s)", field,
                           i, json_is_string(x) ? json_string_value(x) : "?",
                           strcmp(key, "apis") == 0         ? "group/version"
                           : strcmp(key, "forbidden") == 0  ? "\"VERB RESOURCE[.GROUP]\""
                           : strcmp(key, "namespaces") == 0 ? "a DNS label"
                                                            : "a DNS subdomain");
    }
    *out = json_deep_copy(v);
    return 0;
}

/* A cluster with LeaderWorkerSets serves their group, as one with the CRD installed does;
 * without any the group is not served (404), as where LWS is not installed. "apis" absent
 * means the default (KubeRay's ray.io/v1), kept. */
static void serve_lws(struct sim_cluster_spec *c)
{
    bool any = false;
    const json_t *x;
    size_t i;

    for (i = 0; i < c->n_deployments; i++)
        any |= c->deployments[i].lws;
    if (!any)
        return;
    if (!c->apis)
        c->apis = json_pack("[s]", "ray.io/v1");
    json_array_foreach(c->apis, i, x)
    {
        if (strcmp(json_string_value(x), SIM_LWS_GV) == 0)
            return;
    }
    json_array_append_new(c->apis, json_string(SIM_LWS_GV));
}

static int parse_cluster(const json_t *j, size_t idx, struct sim_cluster_spec *c, struct err *e)
{
    char prefix[96], field[160];
    const json_t *v, *item;
    size_t i;

    snprintf(prefix, sizeof(prefix), "clusters[%zu].", idx);
    if (!json_is_object(j))
        return bad(e, "clusters[]", "entries must be objects");
    if (get_str(j, "name", prefix, c->name, sizeof(c->name), true, e) != 0 ||
        get_str(j, "token", prefix, c->token, sizeof(c->token), false, e) != 0 ||
        get_str(j, "clientCertUser", prefix, c->cert_user, sizeof(c->cert_user), false, e) != 0 ||
        get_int(j, "port", prefix, 0, 65535, &c->port, e) != 0 ||
        get_int(j, "watchHistory", prefix, 0, 1000000, &c->watch_history, e) != 0)
        return -1;
    if (get_int(j, "notReadyEvictionSeconds", prefix, 1, 86400, &c->not_ready_eviction_s, e) != 0)
        return -1;
    c->watch_lazy = json_object_get(j, "watchHistory") && c->watch_history == 0;
    snprintf(field, sizeof(field), "%sname", prefix);
    if (!dns_subdomain_ok(c->name, strlen(c->name), 63) || strchr(c->name, '.'))
        return err_set(e, ERR_INVALID, field, "%s \"%s\" must be a DNS label", field, c->name);
    if ((v = json_object_get(j, "nodePools"))) {
        if (!json_is_array(v))
            return bad(e, "nodePools", "must be an array");
        c->pools = xcalloc(json_array_size(v) + 1, sizeof(*c->pools));
        json_array_foreach(v, i, item)
        {
            snprintf(field, sizeof(field), "%snodePools[%zu].", prefix, i);
            c->n_pools++;
            if (parse_pool(item, field, &c->pools[i], e) != 0)
                return -1;
        }
    }
    if ((v = json_object_get(j, "deployments"))) {
        if (!json_is_array(v))
            return bad(e, "deployments", "must be an array");
        c->deployments = xcalloc(json_array_size(v) + 1, sizeof(*c->deployments));
        json_array_foreach(v, i, item)
        {
            snprintf(field, sizeof(field), "%sdeployments[%zu].", prefix, i);
            c->n_deployments++;
            if (parse_deployment(item, field, &c->deployments[i], e) != 0)
                return -1;
        }
    }
    if ((v = json_object_get(j, "pods"))) {
        if (!json_is_array(v))
            return bad(e, "pods", "must be an array");
        c->pods = xcalloc(json_array_size(v) + 1, sizeof(*c->pods));
        json_array_foreach(v, i, item)
        {
            snprintf(field, sizeof(field), "%spods[%zu].", prefix, i);
            c->n_pods++;
            if (parse_static_pod(item, field, &c->pods[i], e) != 0)
                return -1;
        }
    }
    if ((v = json_object_get(j, "faults"))) {
        snprintf(field, sizeof(field), "%sfaults", prefix);
        if (sim_faults_from_json(v, field, &c->faults, e) != 0)
            return -1;
    }
    if (parse_names(j, "apis", prefix, &c->apis, e) != 0 ||
        parse_names(j, "namespaces", prefix, &c->namespaces, e) != 0 ||
        parse_names(j, "priorityClasses", prefix, &c->priority_classes, e) != 0 ||
        parse_names(j, "forbidden", prefix, &c->forbidden, e) != 0)
        return -1;
    serve_lws(c);
    return 0;
}

int sim_scenario_parse(const char *text, size_t len, struct sim_scenario **out, struct err *e)
{
    struct sim_scenario *s = NULL;
    json_error_t je;
    json_t *j = NULL;
    const json_t *v, *item;
    size_t i;
    int rc = -1;

    if (len > SCENARIO_MAX_BYTES)
        return err_set(e, ERR_TOO_LARGE, "", "scenario of %zu bytes is over 64 MiB", len);
    j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return err_set(e, ERR_MALFORMED, "", "scenario is not JSON: %s (line %d)", je.text,
                       je.line);
    s = xcalloc(1, sizeof(*s));
    s->time_scale = 1;
    s->continue_ttl_ms = 300000;
    s->bookmark_ms = 60000;
    if (!json_is_object(j)) {
        err_set(e, ERR_MALFORMED, "", "scenario must be a JSON object");
        goto out;
    }
    if ((v = json_object_get(j, "timeScale"))) {
        if (!json_is_number(v) || json_number_value(v) <= 0 || json_number_value(v) > 1e6) {
            err_set(e, ERR_INVALID, "timeScale", "timeScale must be a number in (0, 1e6]");
            goto out;
        }
        s->time_scale = json_number_value(v);
    }
    if ((v = json_object_get(j, "startTime"))) {
        if (!json_is_string(v) || clock_parse_rfc3339(json_string_value(v), &s->start_ms) != 0) {
            err_set(e, ERR_INVALID, "startTime", "startTime \"%s\" is not RFC 3339",
                    json_is_string(v) ? json_string_value(v) : "?");
            goto out;
        }
    }
    if ((v = json_object_get(j, "continueTtlSeconds"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            err_set(e, ERR_INVALID, "continueTtlSeconds", "continueTtlSeconds must be >= 1");
            goto out;
        }
        s->continue_ttl_ms = json_integer_value(v) * 1000;
    }
    if ((v = json_object_get(j, "watchBookmarkSeconds"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 3600) {
            err_set(e, ERR_INVALID, "watchBookmarkSeconds",
                    "watchBookmarkSeconds must be an integer in 1..3600");
            goto out;
        }
        s->bookmark_ms = json_integer_value(v) * 1000;
    }
    v = json_object_get(j, "clusters");
    if (!json_is_array(v) || json_array_size(v) == 0) {
        err_set(e, ERR_INVALID, "clusters", "clusters must be a non-empty array");
        goto out;
    }
    s->clusters = xcalloc(json_array_size(v), sizeof(*s->clusters));
    json_array_foreach(v, i, item)
    {
        s->n_clusters++;
        if (parse_cluster(item, i, &s->clusters[i], e) != 0)
            goto out;
        for (size_t k = 0; k < i; k++) {
            if (strcmp(s->clusters[k].name, s->clusters[i].name) == 0) {
                err_set(e, ERR_INVALID, "clusters[].name", "cluster name \"%s\" is repeated",
                        s->clusters[i].name);
                goto out;
            }
        }
    }
    *out = s;
    s = NULL;
    rc = 0;
out:
    sim_scenario_free(&s);
    json_decref(j);
    return rc;
}

int sim_scenario_load(const char *path, struct sim_scenario **out, struct err *e)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    long n;
    int rc = -1;

    if (!f)
        return err_set(e, ERR_IO, "scenario", "cannot open scenario \"%s\"", path);
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        err_set(e, ERR_IO, "scenario", "cannot read scenario \"%s\"", path);
        goto out;
    }
    if ((size_t)n > SCENARIO_MAX_BYTES) {
        err_set(e, ERR_TOO_LARGE, "scenario", "scenario \"%s\" is over 64 MiB", path);
        goto out;
    }
    text = xmalloc((size_t)n + 1);
    if (fread(text, 1, (size_t)n, f) != (size_t)n) {
        err_set(e, ERR_IO, "scenario", "short read on scenario \"%s\"", path);
        goto out;
    }
    rc = sim_scenario_parse(text, (size_t)n, out, e);
out:
    free(text);
    fclose(f);
    return rc;
}

void sim_scenario_free(struct sim_scenario **sp)
{
    struct sim_scenario *s;

    if (!sp || !*sp)
        return;
    s = *sp;
    for (size_t c = 0; c < s->n_clusters; c++) {
        struct sim_cluster_spec *cl = &s->clusters[c];

        for (size_t i = 0; i < cl->n_pools; i++) {
            json_decref(cl->pools[i].labels);
            json_decref(cl->pools[i].taints);
        }
        for (size_t i = 0; i < cl->n_deployments; i++)
            json_decref(cl->deployments[i].node_selector);
        for (size_t i = 0; i < cl->n_pods; i++)
            json_decref(cl->pods[i].labels);
        json_decref(cl->apis);
        json_decref(cl->namespaces);
        json_decref(cl->priority_classes);
        json_decref(cl->forbidden);
        free(cl->pools);
        free(cl->deployments);
        free(cl->pods);
    }
    free(s->clusters);
    free(s);
    *sp = NULL;
}
