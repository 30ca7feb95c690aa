/* policy_scenario.c -- scenario files for the policy golden tests: JSON to policy inputs,
 * and decisions compared with expectations. */
#include "tests/support/policy_scenario.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/sku.h"
#include "cluster/cluster_config.h"
#include "cluster/inventory.h"
#include "cluster/k8s.h"
#include "cluster/k8s_json.h"
#include "policy/explain.h"
#include "policy/policy_json.h"
#include "policy/snapshot.h"
#include "tests/support/defaults.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct policy_scenario {
    char *path;
    json_t *root;
    json_t *merged; /* the current cycle's object (base with step keys replaced) */
    struct policy_state *state;
    bool state_seeded;
    /* current cycle input */
    struct snapshot *snap;
    struct policy_config cfg;
    struct policy_job *queue;
    size_t n_queue;
    struct policy_running *running;
    size_t n_running;
    struct policy_quota *quotas;
    size_t n_quotas;
    struct policy_namespace *namespaces;
    size_t n_namespaces;
    struct policy_forecast *forecasts;
    size_t n_forecasts;
    const char ***aff; /* per queued job */
    double **tp;       /* per queued job: its throughput figures, NULL when none */
    struct job_node_use **plans;
    struct policy_input in;
    int64_t now;
};

/* Local iteration macros: jansson's own foreach macros are opaque to cppcheck. */
#define ARR_EACH(a, i, v)                                                                          \
    for ((i) = 0; (i) < json_array_size(a) && ((v) = json_array_get((a), (i))) != NULL; (i)++)
#define CAT2(a, b)        a##b
#define CAT(a, b)         CAT2(a, b)
#define OBJ_EACH(o, k, v) OBJ_EACH_IT(o, k, v, CAT(it_, __LINE__))
#define OBJ_EACH_IT(o, k, v, it)                                                                   \
    for (void *it = json_object_iter(o);                                                           \
         it && ((k) = json_object_iter_key(it)) && ((v) = json_object_iter_value(it));             \
         it = json_object_iter_next((o), it))

#define FAIL(e, field, ...) err_set((e), ERR_INVALID, (field), __VA_ARGS__)

static int get_time(json_t *v, int64_t now, int64_t *out)
{
    if (json_is_string(v))
        return clock_parse_rfc3339(json_string_value(v), out);
    if (json_is_number(v)) {
        *out = now + (int64_t)(json_number_value(v) * 1000.0);
        return 0;
    }
    return -1;
}

static int time_or(json_t *obj, const char *key, int64_t now, int64_t dflt, int64_t *out,
                   struct err *e)
{
    json_t *v = json_object_get(obj, key);

    if (!v || json_is_null(v)) {
        *out = dflt;
        return 0;
    }
    if (get_time(v, now, out))
        return FAIL(e, key, "%s must be an RFC 3339 time or seconds relative to now", key);
    return 0;
}

static int64_t int_or(json_t *obj, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(obj, key);

    return json_is_number(v) ? (int64_t)json_number_value(v) : dflt;
}

static double num_or(json_t *obj, const char *key, double dflt)
{
    json_t *v = json_object_get(obj, key);

    return json_is_number(v) ? json_number_value(v) : dflt;
}

static bool bool_or(json_t *obj, const char *key, bool dflt)
{
    json_t *v = json_object_get(obj, key);

    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static const char *str_or(json_t *obj, const char *key, const char *dflt)
{
    json_t *v = json_object_get(obj, key);

    return json_is_string(v) ? json_string_value(v) : dflt;
}

static int sku_of(const struct snapshot *s, json_t *v, const char *field, int *out, struct err *e)
{
    if (!json_is_string(v))
        return FAIL(e, field, "%s must be a SKU name", field);
    *out = snapshot_sku_find(s, json_string_value(v));
    /* Unknown names are kept as -1: the policy must cope with them. */
    return 0;
}

static int parse_hhmm(const char *s, int *out)
{
    int h, m;
    char tail;

    if (sscanf(s, "%d:%d%c", &h, &m, &tail) != 2 || h < 0 || h > 24 || m < 0 || m > 59 ||
        (h == 24 && m != 0))
        return -1;
    *out = h * 60 + m;
    return 0;
}

static int parse_days(json_t *v, uint8_t *out)
{
    static const char *names[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
    size_t i;
    json_t *d;

    *out = 0;
    if (!v || (json_is_string(v) && strcmp(json_string_value(v), "daily") == 0)) {
        *out = 0x7f;
        return 0;
    }
    if (!json_is_array(v))
        return -1;
    ARR_EACH(v, i, d)
    {
        int k;

        for (k = 0; k < 7; k++)
            if (json_is_string(d) && strcasecmp(json_string_value(d), names[k]) == 0)
                break;
        if (k == 7)
            return -1;
        *out |= (uint8_t)(1u << k);
    }
    return 0;
}

static int parse_health(const char *s, enum snapshot_health *out)
{
    for (int h = 0; h < SNAPSHOT_HEALTH_COUNT; h++)
        if (strcasecmp(s, snapshot_health_name((enum snapshot_health)h)) == 0) {
            *out = (enum snapshot_health)h;
            return 0;
        }
    return -1;
}

static int parse_lend(const char *s, enum snapshot_lend_policy *out)
{
    for (int p = SNAPSHOT_LEND_NEVER; p < SNAPSHOT_LEND_COUNT; p++)
        if (strcmp(s, snapshot_lend_policy_name((enum snapshot_lend_policy)p)) == 0) {
            *out = (enum snapshot_lend_policy)p;
            return 0;
        }
    return -1;
}

static int parse_pool(const char *s, enum snapshot_pool *out)
{
    if (strcmp(s, "training") == 0)
        *out = SNAPSHOT_POOL_TRAINING;
    else if (strcmp(s, "serving") == 0)
        *out = SNAPSHOT_POOL_SERVING;
    else
        return -1;
    return 0;
}

static size_t node_count(json_t *n)
{
    int64_t c = int_or(n, "count", 1);

    return c > 0 ? (size_t)c : 0;
}

/* Announced GPUs of serving workloads given as API objects, counted by the connector's
 * own readers and rule (k8s_deployment_read / k8s_lws_read, inventory_add_announced /
 * inventory_add_announced_lws), so that a golden fails when the counting does: each entry
 * is {"object": a Deployment or LeaderWorkerSet, "hpa_desired": n (optional)}; its
 * namespace counts as serving. Adds them to cluster ci's serving aggregates by SKU name. */
static int add_workloads(struct snapshot *s, size_t ci, json_t *workloads, struct err *e)
{
    size_t w;
    json_t *x;

    ARR_EACH(workloads, w, x)
    {
        json_t *obj = json_object_get(x, "object");
        const char *kind = json_string_value(json_object_get(obj, "kind"));
        json_t *hd = json_object_get(x, "hpa_desired");
        int desired = hd ? (int)json_integer_value(hd) : -1;
        char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
        struct k8s_json d;
        struct cluster_config cfg;
        struct inventory inv;
        struct k8s_deployment dep;
        struct k8s_lws lws;
        int rc = -1;

        if (!text || !kind)
            return FAIL(e, "serving.workloads", "workloads[%zu] needs an \"object\" with a kind",
                        w);
        k8s_json_init(&d);
        cluster_config_init(&cfg);
        inventory_init(&inv);
        cfg.serving.enabled = true;
        cfg.serving.n_namespaces = 1;
        snprintf(cfg.serving.namespaces[0], sizeof(cfg.serving.namespaces[0]), "%s",
                 json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace")));
        if (k8s_json_parse(&d, text, strlen(text), 0, e) != 0)
            goto next;
        if (strcmp(kind, "LeaderWorkerSet") == 0) {
            if (k8s_lws_read(&d, 0, &lws, e) != 0)
                goto next;
            inventory_add_announced_lws(&inv, &lws, desired, &cfg, sku_defaults());
        } else if (strcmp(kind, "Deployment") == 0) {
            if (k8s_deployment_read(&d, 0, &dep, e) != 0)
                goto next;
            inventory_add_announced(&inv, &dep, desired, &cfg, sku_defaults());
        } else {
            FAIL(e, "serving.workloads", "workloads[%zu]: kind %s is not a serving workload", w,
                 kind);
            goto next;
        }
        if (inv.announced_unassigned) {
            FAIL(e, "serving.workloads", "workloads[%zu] needs a GPU product selector", w);
            goto next;
        }
        rc = 0;
        for (size_t k = 0; k < sku_defaults()->n && k < SNAPSHOT_SKU_MAX; k++) {
            int sk = snapshot_sku_find(s, sku_defaults()->skus[k].name);

            if (inv.announced_serving[k] && sk < 0) {
                rc = FAIL(e, "serving.workloads", "workloads[%zu]: SKU %s is not in \"skus\"", w,
                          sku_defaults()->skus[k].name);
                break;
            }
            if (sk >= 0)
                snapshot_agg(s, ci, SNAPSHOT_POOL_SERVING, sk)->announced_serving +=
                    inv.announced_serving[k];
        }
    next:
        inventory_free(&inv);
        k8s_json_free(&d);
        free(text);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int build_snapshot(struct policy_scenario *sc, json_t *root, struct err *e)
{
    json_t *skus = json_object_get(root, "skus");
    json_t *clusters = json_object_get(root, "clusters");
    size_t n_nodes = 0, ni = 0, i, j;
    json_t *cl, *n;
    struct snapshot *s = NULL;

    if (!json_is_array(skus) || !json_is_array(clusters))
        return FAIL(e, "skus", "a scenario needs \"skus\" and \"clusters\" arrays");
    ARR_EACH(clusters, i, cl)
    {
        ARR_EACH(json_object_get(cl, "nodes"), j, n) n_nodes += node_count(n);
    }
    if (snapshot_new(json_array_size(clusters), n_nodes, json_array_size(skus), &s, e))
        return -1;
    ARR_EACH(skus, i, n)
    snprintf(s->sku_names[i], sizeof(s->sku_names[i]), "%s", json_string_value(n));
    s->seq = (uint64_t)int_or(root, "seq", 1);
    if (time_or(root, "taken", sc->now, sc->now, &s->taken_ms, e))
        goto fail;
    ARR_EACH(clusters, i, cl)
    {
        struct snapshot_cluster *c = &s->clusters[i];
        json_t *sv = json_object_get(cl, "serving");
        json_t *cost = json_object_get(cl, "cost");
        const char *key;
        json_t *v;

        snprintf(c->name, sizeof(c->name), "%s", str_or(cl, "name", "?"));
        snprintf(c->region, sizeof(c->region), "%s", str_or(cl, "region", ""));
        snprintf(c->provider, sizeof(c->provider), "%s", str_or(cl, "provider", ""));
        snprintf(c->tz, sizeof(c->tz), "%s", str_or(cl, "tz", ""));
        c->cordoned = bool_or(cl, "cordoned", false);
        if (parse_health(str_or(cl, "health", "Ready"), &c->health)) {
            FAIL(e, "health", "cluster %s: unknown health", c->name);
            goto fail;
        }
        if (time_or(cl, "last_poll", sc->now, sc->now, &c->last_poll_ms, e))
            goto fail;
        OBJ_EACH(cost, key, v)
        {
            int k = snapshot_sku_find(s, key);

            if (k >= 0)
                c->cost_per_gpu_hour[k] = json_number_value(v);
        }
        if (sv) {
            json_t *w, *pend = json_object_get(sv, "pending");
            size_t wi;

            c->serving.present = true;
            c->serving.reserve_gpus = (int)int_or(sv, "reserve", 0);
            c->serving.idle_minutes = (int)int_or(sv, "idle_minutes", 0);
            if (parse_lend(str_or(sv, "lend_policy", "window"), &c->serving.lend_policy)) {
                FAIL(e, "lend_policy", "cluster %s: unknown lend_policy", c->name);
                goto fail;
            }
            if (time_or(sv, "idle_since", sc->now, 0, &c->serving.idle_since_ms, e))
                goto fail;
            ARR_EACH(json_object_get(sv, "windows"), wi, w)
            {
                struct snapshot_window *win = &c->serving.windows[c->serving.n_windows];

                if (wi >= SNAPSHOT_WINDOWS_MAX ||
                    parse_days(json_object_get(w, "days"), &win->days) ||
                    parse_hhmm(str_or(w, "start", ""), &win->start_min) ||
                    parse_hhmm(str_or(w, "end", ""), &win->end_min)) {
                    FAIL(e, "windows", "cluster %s: window %zu is malformed", c->name, wi);
                    goto fail;
                }
                c->serving.n_windows++;
            }
            (void)pend;
        }
        c->node_first = ni;
        ARR_EACH(json_object_get(cl, "nodes"), j, n)
        {
            size_t cnt = node_count(n);

            for (size_t r = 0; r < cnt; r++) {
                struct snapshot_node *nd = &s->nodes[ni++];
                const char *name = str_or(n, "name", "node");

                if (json_object_get(n, "count"))
                    snprintf(nd->name, sizeof(nd->name), "%s-%zu", name, r);
                else
                    snprintf(nd->name, sizeof(nd->name), "%s", name);
                if (sku_of(s, json_object_get(n, "sku"), "nodes.sku", &nd->sku, e))
                    goto fail;
                if (parse_pool(str_or(n, "pool", "training"), &nd->pool)) {
                    FAIL(e, "nodes.pool", "node %s: unknown pool", nd->name);
                    goto fail;
                }
                nd->allocatable = (int)int_or(n, "alloc", 8);
                nd->used = (int)int_or(n, "used", 0);
                nd->borrowed = (int)int_or(n, "borrowed", 0);
                nd->schedulable = bool_or(n, "schedulable", true);
            }
        }
        c->n_nodes = ni - c->node_first;
    }
    /* Per-SKU serving figures: the configured reserve applies to every SKU of the pool. */
    ARR_EACH(clusters, i, cl)
    {
        json_t *sv = json_object_get(cl, "serving");
        json_t *pend = json_object_get(sv, "pending");
        json_t *ann = json_object_get(sv, "announced");
        json_t *rsv = json_object_get(sv, "reserve_by_sku");
        const char *key;
        json_t *v;

        if (!sv)
            continue;
        for (size_t k = 0; k < s->n_skus; k++)
            snapshot_agg(s, i, SNAPSHOT_POOL_SERVING, (int)k)->reserve =
                s->clusters[i].serving.reserve_gpus;
        OBJ_EACH(rsv, key, v)
        {
            int k = snapshot_sku_find(s, key);

            if (k >= 0)
                snapshot_agg(s, i, SNAPSHOT_POOL_SERVING, k)->reserve = (int)json_integer_value(v);
        }
        OBJ_EACH(pend, key, v)
        {
            int k = snapshot_sku_find(s, key);

            if (k >= 0)
                snapshot_agg(s, i, SNAPSHOT_POOL_SERVING, k)->pending_serving =
                    (int)json_integer_value(v);
        }
        OBJ_EACH(ann, key, v)
        {
            int k = snapshot_sku_find(s, key);

            if (k >= 0)
                snapshot_agg(s, i, SNAPSHOT_POOL_SERVING, k)->announced_serving =
                    (int)json_integer_value(v);
        }
        if (add_workloads(s, i, json_object_get(sv, "workloads"), e) != 0)
            goto fail;
    }
    snapshot_compute_aggregates(s);
    sc->snap = s;
    return 0;
fail:
    snapshot_free(&s);
    return -1;
}

static int build_queue(struct policy_scenario *sc, json_t *arr, struct err *e)
{
    size_t i, a;
    json_t *j, *v;

    sc->n_queue = json_array_size(arr);
    sc->queue = xcalloc(sc->n_queue + 1, sizeof(*sc->queue));
    sc->aff = xcalloc(sc->n_queue + 1, sizeof(*sc->aff));
    sc->tp = xcalloc(sc->n_queue + 1, sizeof(*sc->tp));
    ARR_EACH(arr, i, j)
    {
        struct policy_job *q = &sc->queue[i];
        json_t *aff = json_object_get(j, "affinity"), *avoid = json_object_get(j, "avoid");
        size_t n_aff = json_array_size(aff), n_avoid = json_array_size(avoid);

        q->id = (uint64_t)int_or(j, "id", (int64_t)i + 1);
        q->ns = str_or(j, "ns", "default");
        q->name = str_or(j, "name", "?");
        if (sku_of(sc->snap, json_object_get(j, "sku"), "queue.sku", &q->sku, e))
            return -1;
        ARR_EACH(json_object_get(j, "alt"), a, v)
        {
            if (a < POLICY_ALT_SKUS_MAX &&
                sku_of(sc->snap, v, "queue.alt", &q->alt_skus[q->n_alt_skus++], e))
                return -1;
        }
        if (json_is_array(json_object_get(j, "throughput"))) {
            /* One figure per SKU entry (sku, then alt); missing ones are 0. */
            sc->tp[i] = xcalloc(1 + q->n_alt_skus, sizeof(double));
            ARR_EACH(json_object_get(j, "throughput"), a, v)
            {
                if (a <= q->n_alt_skus)
                    sc->tp[i][a] = json_number_value(v);
            }
            q->throughput = sc->tp[i];
        }
        q->gpu_count = (int)int_or(j, "gpus", 8);
        q->gpus_per_worker = (int)int_or(j, "per_worker", 0);
        q->priority = (int)int_or(j, "priority", 0);
        q->preemptible = bool_or(j, "preemptible", false);
        if (time_or(j, "created", sc->now, sc->now - 60000, &q->created_ms, e) ||
            time_or(j, "queued", sc->now, 0, &q->queued_ms, e))
            return -1;
        q->attempt = (int)int_or(j, "attempt", 1);
        q->max_runtime_s = int_or(j, "max_runtime_s", 0);
        q->checkpoint_interval_s = int_or(j, "checkpoint_s", 0);
        q->region = str_or(j, "region", NULL);
        /* Cluster names: the affinity list, then the clusters where starts timed out. */
        sc->aff[i] = xcalloc(n_aff + n_avoid + 1, sizeof(char *));
        ARR_EACH(aff, a, v) sc->aff[i][a] = json_string_value(v);
        ARR_EACH(avoid, a, v) sc->aff[i][n_aff + a] = json_string_value(v);
        q->affinity = sc->aff[i];
        q->n_affinity = n_aff;
        q->avoid_clusters = sc->aff[i] + n_aff;
        q->n_avoid_clusters = n_avoid;
    }
    return 0;
}

static int build_running(struct policy_scenario *sc, json_t *arr, struct err *e)
{
    size_t i, p;
    json_t *j, *v;

    sc->n_running = json_array_size(arr);
    sc->running = xcalloc(sc->n_running + 1, sizeof(*sc->running));
    sc->plans = xcalloc(sc->n_running + 1, sizeof(*sc->plans));
    ARR_EACH(arr, i, j)
    {
        struct policy_running *r = &sc->running[i];
        json_t *plan = json_object_get(j, "plan");

        r->id = (uint64_t)int_or(j, "id", 1000 + (int64_t)i);
        r->ns = str_or(j, "ns", "default");
        r->name = str_or(j, "name", "?");
        r->cluster = str_or(j, "cluster", "");
        if (parse_pool(str_or(j, "pool", "training"), &r->pool))
            return FAIL(e, "running.pool", "running %s: unknown pool", r->name);
        if (sku_of(sc->snap, json_object_get(j, "sku"), "running.sku", &r->sku, e))
            return -1;
        r->gpus = (int)int_or(j, "gpus", 8);
        r->priority = (int)int_or(j, "priority", 0);
        r->preemptible = bool_or(j, "preemptible", r->pool == SNAPSHOT_POOL_SERVING);
        if (time_or(j, "started", sc->now, sc->now - 3600000, &r->started_ms, e) ||
            time_or(j, "last_checkpoint", sc->now, 0, &r->last_checkpoint_ms, e) ||
            time_or(j, "lease_end", sc->now, 0, &r->lease_end_ms, e) ||
            time_or(j, "checkpoint_by", sc->now, 0, &r->checkpoint_by_ms, e))
            return -1;
        r->reclaiming = bool_or(j, "reclaiming", false);
        r->in_snapshot = bool_or(j, "in_snapshot", true);
        if (json_is_array(plan)) {
            sc->plans[i] = xcalloc(json_array_size(plan) + 1, sizeof(**sc->plans));
            ARR_EACH(plan, p, v)
            {
                sc->plans[i][p].node = str_or(v, "node", "");
                sc->plans[i][p].gpus = (int)int_or(v, "gpus", 0);
            }
            r->plan = sc->plans[i];
            r->n_plan = json_array_size(plan);
        }
    }
    return 0;
}

static int build_quotas(struct policy_scenario *sc, json_t *arr, struct err *e)
{
    size_t i;
    json_t *j;

    sc->n_quotas = json_array_size(arr);
    sc->quotas = xcalloc(sc->n_quotas + 1, sizeof(*sc->quotas));
    ARR_EACH(arr, i, j)
    {
        struct policy_quota *q = &sc->quotas[i];

        q->ns = str_or(j, "ns", "default");
        if (sku_of(sc->snap, json_object_get(j, "sku"), "quotas.sku", &q->sku, e))
            return -1;
        q->nominal = (int)int_or(j, "nominal", 0);
        q->borrowing_limit = (int)int_or(j, "borrowing_limit", -1);
        q->lending_limit = (int)int_or(j, "lending_limit", -1);
    }
    return 0;
}

static void build_namespaces(struct policy_scenario *sc, json_t *arr)
{
    size_t i;
    json_t *j;

    sc->n_namespaces = json_array_size(arr);
    sc->namespaces = xcalloc(sc->n_namespaces + 1, sizeof(*sc->namespaces));
    ARR_EACH(arr, i, j)
    {
        sc->namespaces[i].ns = str_or(j, "ns", "default");
        sc->namespaces[i].weight = num_or(j, "weight", 1.0);
    }
}

/* "forecasts": [{"cluster", "sku", "from" (a time; the steps run 24 h from it), "high"
 * (GPUs every step wants; default -1: unknown), "peaks": [{"from", "to", "high"}]}]: a step
 * whose start lies in [from, to) wants the peak's high instead. */
static int build_forecasts(struct policy_scenario *sc, json_t *arr, struct err *e)
{
    size_t i, p;
    json_t *j, *pk;

    sc->n_forecasts = json_array_size(arr);
    sc->forecasts = xcalloc(sc->n_forecasts + 1, sizeof(*sc->forecasts));
    ARR_EACH(arr, i, j)
    {
        struct policy_forecast *f = &sc->forecasts[i];

        f->cluster = str_or(j, "cluster", "");
        f->sku = snapshot_sku_find(sc->snap, str_or(j, "sku", ""));
        if (f->sku < 0)
            return FAIL(e, "forecasts", "unknown sku %s", str_or(j, "sku", ""));
        if (get_time(json_object_get(j, "from"), sc->now, &f->from_ms))
            return FAIL(e, "forecasts", "forecast %zu needs \"from\" as a time", i);
        for (int s = 0; s < POLICY_FORECAST_STEPS; s++)
            f->high[s] = (int)int_or(j, "high", -1);
        ARR_EACH(json_object_get(j, "peaks"), p, pk)
        {
            int64_t from, to;

            if (get_time(json_object_get(pk, "from"), sc->now, &from) ||
                get_time(json_object_get(pk, "to"), sc->now, &to))
                return FAIL(e, "forecasts", "peak %zu needs \"from\" and \"to\" times", p);
            for (int s = 0; s < POLICY_FORECAST_STEPS; s++) {
                int64_t at = f->from_ms + (int64_t)s * 15 * 60 * 1000;

                if (at >= from && at < to)
                    f->high[s] = (int)int_or(pk, "high", -1);
            }
        }
    }
    return 0;
}

/* Overrides every config knob named in obj; unknown knobs are an error so typos show. */
static int build_config(struct policy_config *c, json_t *obj, struct err *e)
{
    const char *key;
    json_t *v;

    defaults_policy(c);
    OBJ_EACH(obj, key, v)
    {
        double x = json_number_value(v);

#define D(f)                                                                                       \
    if (strcmp(key, #f) == 0) {                                                                    \
        c->f = x;                                                                                  \
        continue;                                                                                  \
    }
#define I(f)                                                                                       \
    if (strcmp(key, #f) == 0) {                                                                    \
        c->f = (int64_t)x;                                                                         \
        continue;                                                                                  \
    }
        D(w_fit) D(w_cost) D(w_locality) D(w_freshness) D(w_sku) D(w_borrow) D(cost_reference);
        D(default_cost) I(max_data_age_s) D(aging_per_hour) D(aging_max);
        I(fair_share_half_life_s) I(max_reservations) I(reserve_after_s);
        I(max_checkpoint_loss_s) I(min_lease_s) I(idle_lease_s) I(reclaim_k) I(min_runtime_s);
        I(reclaim_settle_s);
        D(reclaim_rate_per_hour) I(reclaim_burst) I(relend_backoff_s) I(relend_backoff_max_s);
        I(grace_period_s) I(grace_period_max_s) I(reclaim_lead_s) I(checkpoint_deadline_s);
        I(preempt_min_runtime_s) I(preempt_budget) I(preempt_window_s);
#undef D
#undef I
        if (strcmp(key, "place_on_degraded") == 0) {
            c->place_on_degraded = json_is_true(v);
            continue;
        }
        if (strcmp(key, "quota_reclaim") == 0) {
            c->quota_reclaim = json_is_true(v);
            continue;
        }
        if (strcmp(key, "preemption") == 0) {
            c->preemption = json_is_true(v);
            continue;
        }
        if (strcmp(key, "proactive_reclaim") == 0) {
            c->proactive_reclaim = json_is_true(v);
            continue;
        }
        return FAIL(e, key, "unknown config knob %s", key);
    }
    return 0;
}

/* Sets the serving pools' pending (announced: announced) demand from obj[key]:
 * {"cluster": {"sku": n}}. */
static int set_serving(struct policy_scenario *sc, json_t *obj, const char *key, bool announced,
                       struct err *e)
{
    const char *cname, *kname;
    json_t *per, *v;

    OBJ_EACH(json_object_get(obj, key), cname, per)
    {
        int c = snapshot_cluster_find(sc->snap, cname);

        OBJ_EACH(per, kname, v)
        {
            int k = snapshot_sku_find(sc->snap, kname);
            struct snapshot_agg *a;

            if (c < 0 || k < 0)
                return FAIL(e, key, "unknown pool %s/%s", cname, kname);
            a = snapshot_agg(sc->snap, (size_t)c, SNAPSHOT_POOL_SERVING, k);
            *(announced ? &a->announced_serving : &a->pending_serving) = (int)json_integer_value(v);
        }
    }
    return 0;
}

/* State seeded once from the base object: namespaces' usage and "state". */
static int seed_state(struct policy_scenario *sc, json_t *root, struct err *e)
{
    json_t *st = json_object_get(root, "state");
    json_t *j;
    size_t i;

    ARR_EACH(json_object_get(root, "namespaces"), i, j)
    {
        json_t *usage = json_object_get(j, "usage");
        const char *key;
        json_t *v;

        if (!usage)
            continue;
        struct policy_usage *u = policy_state_usage(sc->state, str_or(j, "ns", "default"), true);

        u->as_of_ms = sc->now;
        OBJ_EACH(usage, key, v)
        {
            int k = snapshot_sku_find(sc->snap, key);

            if (k >= 0)
                u->gpu_hours[k] = json_number_value(v);
        }
    }
    if (time_or(st, "last_now", sc->now, 0, &sc->state->last_now_ms, e))
        return -1;
    ARR_EACH(json_object_get(st, "pools"), i, j)
    {
        struct policy_pool_state *p = policy_state_pool(sc->state, str_or(j, "cluster", "?"), true);
        json_t *streak = json_object_get(j, "streak");
        const char *key;
        json_t *v;

        OBJ_EACH(streak, key, v)
        {
            int k = snapshot_sku_find(sc->snap, key);

            if (k >= 0)
                p->streak[k] = (int)json_integer_value(v);
        }
        if (json_object_get(j, "last_seq"))
            p->last_seq = (uint64_t)int_or(j, "last_seq", 0) + 1;
        if (json_object_get(j, "tokens")) {
            p->tokens_milli = (int64_t)(num_or(j, "tokens", 0) * 1000.0);
            p->tokens_at_ms = sc->now;
        }
        p->backoff_level = (int)int_or(j, "backoff_level", 0);
        if (time_or(j, "backoff_until", sc->now, 0, &p->backoff_until_ms, e) ||
            time_or(j, "last_reclaim", sc->now, 0, &p->last_reclaim_ms, e))
            return -1;
    }
    return 0;
}

static void clear_cycle(struct policy_scenario *sc)
{
    snapshot_free(&sc->snap);
    for (size_t i = 0; i < sc->n_queue; i++) {
        free(sc->aff[i]);
        free(sc->tp[i]);
    }
    for (size_t i = 0; i < sc->n_running; i++)
        free(sc->plans[i]);
    free(sc->aff);
    free(sc->tp);
    free(sc->plans);
    free(sc->queue);
    free(sc->running);
    free(sc->quotas);
    free(sc->namespaces);
    free(sc->forecasts);
    sc->forecasts = NULL;
    sc->n_forecasts = 0;
    sc->aff = NULL;
    sc->tp = NULL;
    sc->plans = NULL;
    sc->queue = NULL;
    sc->running = NULL;
    sc->quotas = NULL;
    sc->namespaces = NULL;
    sc->n_queue = sc->n_running = sc->n_quotas = sc->n_namespaces = 0;
    if (sc->merged)
        json_decref(sc->merged);
    sc->merged = NULL;
}

int policy_scenario_input(struct policy_scenario *sc, size_t i, const struct policy_input **in,
                          struct err *e)
{
    json_t *obj, *step = NULL, *steps = json_object_get(sc->root, "steps");
    int64_t now;

    clear_cycle(sc);
    if (i > json_array_size(steps))
        return FAIL(e, "steps", "scenario has no cycle %zu", i);
    obj = json_copy(sc->root);
    if (i > 0) {
        step = json_array_get(steps, i - 1);
        json_object_update(obj, step);
    }
    sc->merged = obj;
    if (!json_object_get(obj, "now") || get_time(json_object_get(obj, "now"), 0, &now))
        return FAIL(e, "now", "scenario needs \"now\" as an RFC 3339 time");
    sc->now = now;
    if (build_config(&sc->cfg, json_object_get(obj, "config"), e) ||
        build_snapshot(sc, json_object_get(obj, "snapshot"), e) ||
        build_queue(sc, json_object_get(obj, "queue"), e) ||
        build_running(sc, json_object_get(obj, "running"), e) ||
        build_quotas(sc, json_object_get(obj, "quotas"), e) ||
        build_forecasts(sc, json_object_get(obj, "forecasts"), e))
        return -1;
    build_namespaces(sc, json_object_get(obj, "namespaces"));
    {
        /* "serving_pending" / "serving_announced": {"cluster": {"sku": n}} change pending /
         * announced serving demand without restating the whole snapshot (steps use them). */
        if (set_serving(sc, obj, "serving_pending", false, e) ||
            set_serving(sc, obj, "serving_announced", true, e))
            return -1;
        if (json_object_get(obj, "seq"))
            sc->snap->seq = (uint64_t)int_or(obj, "seq", 1);
        snapshot_compute_aggregates(sc->snap);
    }
    if (!sc->state_seeded) {
        if (seed_state(sc, sc->root, e))
            return -1;
        sc->state_seeded = true;
    }
    memset(&sc->in, 0, sizeof(sc->in));
    sc->in.snap = sc->snap;
    sc->in.queue = sc->queue;
    sc->in.n_queue = sc->n_queue;
    sc->in.running = sc->running;
    sc->in.n_running = sc->n_running;
    sc->in.quotas = sc->quotas;
    sc->in.n_quotas = sc->n_quotas;
    sc->in.namespaces = sc->namespaces;
    sc->in.n_namespaces = sc->n_namespaces;
    sc->in.forecasts = sc->forecasts;
    sc->in.n_forecasts = sc->n_forecasts;
    sc->in.cfg = &sc->cfg;
    sc->in.now_ms = sc->now;
    *in = &sc->in;
    return 0;
}

int policy_scenario_load(const char *path, struct policy_scenario **out, struct err *e)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    struct policy_scenario *sc;

    if (!root)
        return err_set(e, ERR_MALFORMED, path, "%s:%d: %s", path, je.line, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return err_set(e, ERR_MALFORMED, path, "%s: not a JSON object", path);
    }
    sc = xcalloc(1, sizeof(*sc));
    sc->path = xstrdup(path);
    sc->root = root;
    sc->state = policy_state_new();
    *out = sc;
    return 0;
}

void policy_scenario_free(struct policy_scenario **psc)
{
    struct policy_scenario *sc;

    if (!psc || !*psc)
        return;
    sc = *psc;
    clear_cycle(sc);
    policy_state_free(&sc->state);
    json_decref(sc->root);
    free(sc->path);
    free(sc);
    *psc = NULL;
}

const char *policy_scenario_name(const struct policy_scenario *sc)
{
    return str_or(sc->root, "name", sc->path);
}

size_t policy_scenario_cycles(const struct policy_scenario *sc)
{
    return 1 + json_array_size(json_object_get(sc->root, "steps"));
}

struct policy_state *policy_scenario_state(struct policy_scenario *sc)
{
    return sc->state;
}

/* ---- comparison -------------------------------------------------------------------- */

static int mismatch(char *msg, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int mismatch(char *msg, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, size, fmt, ap);
    va_end(ap);
    return -1;
}

static void job_key(const char *ns, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", ns, name);
}

static int check_placement(const struct policy_scenario *sc, const struct policy_result *r,
                           json_t *x, char *msg, size_t size)
{
    const char *want = str_or(x, "job", "");
    const struct snapshot *s = sc->snap;
    json_t *nodes = json_object_get(x, "nodes");
    json_t *ru = json_object_get(x, "runner_up");

    for (size_t i = 0; i < r->n_placements; i++) {
        const struct policy_placement *p = &r->placements[i];
        const struct policy_job *job = &sc->queue[p->job];
        char key[200];
        const char *v;

        job_key(job->ns, job->name, key, sizeof(key));
        if (strcmp(key, want) != 0)
            continue;
        if ((v = str_or(x, "cluster", NULL)) && strcmp(v, s->clusters[p->cluster].name) != 0)
            return mismatch(msg, size, "%s placed on %s, expected %s", want,
                            s->clusters[p->cluster].name, v);
        if ((v = str_or(x, "pool", NULL)) && strcmp(v, snapshot_pool_name(p->pool)) != 0)
            return mismatch(msg, size, "%s placed in pool %s, expected %s", want,
                            snapshot_pool_name(p->pool), v);
        if ((v = str_or(x, "sku", NULL)) && strcmp(v, s->sku_names[p->sku]) != 0)
            return mismatch(msg, size, "%s placed on sku %s, expected %s", want,
                            s->sku_names[p->sku], v);
        if (json_object_get(x, "over_quota") && bool_or(x, "over_quota", false) != p->over_quota)
            return mismatch(msg, size, "%s over_quota %d, expected the opposite", want,
                            p->over_quota);
        if (json_is_array(nodes)) {
            size_t k;
            json_t *nv;

            if (json_array_size(nodes) != p->n_workers)
                return mismatch(msg, size, "%s has %zu workers, expected %zu", want, p->n_workers,
                                json_array_size(nodes));
            ARR_EACH(nodes, k, nv)
            {
                if (strcmp(json_string_value(nv), s->nodes[p->workers[k].node].name) != 0)
                    return mismatch(msg, size, "%s worker %zu on %s, expected %s", want, k,
                                    s->nodes[p->workers[k].node].name, json_string_value(nv));
            }
        }
        if (json_is_null(ru) && p->has_runner_up)
            return mismatch(msg, size, "%s has runner-up %s, expected none", want,
                            s->clusters[p->runner_up.cluster].name);
        if (json_is_string(ru) &&
            (!p->has_runner_up ||
             strcmp(json_string_value(ru), s->clusters[p->runner_up.cluster].name) != 0))
            return mismatch(msg, size, "%s runner-up %s, expected %s", want,
                            p->has_runner_up ? s->clusters[p->runner_up.cluster].name : "none",
                            json_string_value(ru));
        if (json_object_get(x, "lease_end")) {
            int64_t t;

            if (get_time(json_object_get(x, "lease_end"), sc->now, &t) || t != p->lease_end_ms) {
                char got[40];

                clock_format_rfc3339(p->lease_end_ms, got, sizeof(got));
                return mismatch(msg, size, "%s lease ends %s, expected %s", want, got,
                                json_dumps(json_object_get(x, "lease_end"), JSON_ENCODE_ANY));
            }
        }
        if (json_object_get(x, "min_score") && p->chosen.total < num_or(x, "min_score", 0) - 1e-9)
            return mismatch(msg, size, "%s score %.6f below %.6f", want, p->chosen.total,
                            num_or(x, "min_score", 0));
        return 0;
    }
    return mismatch(msg, size, "%s was not placed", want);
}

static int check_pending(const struct policy_scenario *sc, const struct policy_result *r, json_t *x,
                         char *msg, size_t size)
{
    const char *want = str_or(x, "job", "");

    for (size_t i = 0; i < r->n_pending; i++) {
        const struct policy_pending *p = &r->pending[i];
        const struct policy_job *job = &sc->queue[p->job];
        char key[200], text[256];
        const char *v;

        job_key(job->ns, job->name, key, sizeof(key));
        if (strcmp(key, want) != 0)
            continue;
        policy_why_format(&p->why, sc->snap, text, sizeof(text));
        if ((v = str_or(x, "reason", NULL)) && strcmp(v, policy_reason_name(p->why.reason)) != 0)
            return mismatch(msg, size, "%s pending for %s (%s), expected %s", want,
                            policy_reason_name(p->why.reason), text, v);
        if ((v = str_or(x, "message", NULL)) && strcmp(v, text) != 0)
            return mismatch(msg, size, "%s message \"%s\", expected \"%s\"", want, text, v);
        if (json_object_get(x, "reserving") && bool_or(x, "reserving", false) != p->reserving)
            return mismatch(msg, size, "%s reserving=%d, expected the opposite", want,
                            p->reserving);
        if (json_object_get(x, "reclaiming") && bool_or(x, "reclaiming", false) != p->reclaiming)
            return mismatch(msg, size, "%s reclaiming=%d, expected the opposite", want,
                            p->reclaiming);
        if (json_object_get(x, "preempting") && bool_or(x, "preempting", false) != p->preempting)
            return mismatch(msg, size, "%s preempting=%d, expected the opposite", want,
                            p->preempting);
        return 0;
    }
    return mismatch(msg, size, "%s is not pending", want);
}

static int check_reclaim(const struct policy_scenario *sc, const struct policy_result *r, json_t *x,
                         char *msg, size_t size)
{
    const char *want = str_or(x, "job", "");

    for (size_t i = 0; i < r->n_reclaims; i++) {
        const struct policy_reclaim *rc = &r->reclaims[i];
        const struct policy_running *ru = &sc->running[rc->running];
        char key[200];
        const char *v;

        job_key(ru->ns, ru->name, key, sizeof(key));
        if (strcmp(key, want) != 0)
            continue;
        if ((v = str_or(x, "reason", NULL)) &&
            strcmp(v, policy_reclaim_reason_name(rc->reason)) != 0)
            return mismatch(msg, size, "%s reclaimed for %s, expected %s", want,
                            policy_reclaim_reason_name(rc->reason), v);
        if ((v = str_or(x, "for", NULL))) {
            const struct policy_job *fj = &sc->queue[rc->for_job];
            char fk[200];

            job_key(fj->ns, fj->name, fk, sizeof(fk));
            if ((rc->reason != POLICY_RECLAIM_QUOTA && rc->reason != POLICY_RECLAIM_PRIORITY &&
                 rc->reason != POLICY_RECLAIM_BACKFILL) ||
                strcmp(v, fk) != 0)
                return mismatch(msg, size, "%s reclaimed for %s, expected for %s", want, fk, v);
        }
        if (json_object_get(x, "grace_s") && int_or(x, "grace_s", 0) != rc->grace_s)
            return mismatch(msg, size, "%s grace %lld s, expected %lld", want,
                            (long long)rc->grace_s, (long long)int_or(x, "grace_s", 0));
        if (json_object_get(x, "checkpoint_by")) {
            int64_t t = 0;
            json_t *cb = json_object_get(x, "checkpoint_by");

            /* null: deleted at once */
            if ((!json_is_null(cb) && get_time(cb, sc->now, &t)) || t != rc->checkpoint_by_ms) {
                char got[40] = "none";

                if (rc->checkpoint_by_ms)
                    clock_format_rfc3339(rc->checkpoint_by_ms, got, sizeof(got));
                return mismatch(msg, size, "%s checkpoint by %s, expected otherwise", want, got);
            }
        }
        return 0;
    }
    return mismatch(msg, size, "%s was not reclaimed", want);
}

static int check_pool(const struct policy_scenario *sc, const struct policy_result *r, json_t *x,
                      char *msg, size_t size)
{
    const char *cl = str_or(x, "cluster", ""), *sku = str_or(x, "sku", "");

    for (size_t i = 0; i < r->n_pools; i++) {
        const struct policy_pool_status *p = &r->pools[i];
        const char *v;

        if (strcmp(sc->snap->clusters[p->cluster].name, cl) != 0 ||
            strcmp(sc->snap->sku_names[p->sku], sku) != 0)
            continue;
        if (json_object_get(x, "lending") && bool_or(x, "lending", false) != p->lending)
            return mismatch(msg, size, "pool %s/%s lending=%d (%s), expected the opposite", cl, sku,
                            p->lending, policy_reason_name(p->closed_reason));
        if ((v = str_or(x, "closed_reason", NULL)) &&
            strcmp(v, policy_reason_name(p->closed_reason)) != 0)
            return mismatch(msg, size, "pool %s/%s closed for %s, expected %s", cl, sku,
                            policy_reason_name(p->closed_reason), v);
#define CHECK_INT(f)                                                                               \
    if (json_object_get(x, #f) && int_or(x, #f, 0) != p->f)                                        \
        return mismatch(msg, size, "pool %s/%s " #f " %lld, expected %lld", cl, sku,               \
                        (long long)p->f, (long long)int_or(x, #f, 0));
        CHECK_INT(deficit) CHECK_INT(streak) CHECK_INT(reclaimed) CHECK_INT(short_by);
        CHECK_INT(lendable) CHECK_INT(lent) CHECK_INT(forecast_peak);
        CHECK_INT(deficit_now) CHECK_INT(ahead_peak) CHECK_INT(stuck);
#undef CHECK_INT
        if ((v = str_or(x, "lease_bound", NULL)) &&
            strcmp(v, p->lease_bound ? p->lease_bound : "none") != 0)
            return mismatch(msg, size, "pool %s/%s lease bound %s, expected %s", cl, sku,
                            p->lease_bound ? p->lease_bound : "none", v);
        if (json_object_get(x, "rate_limited") &&
            bool_or(x, "rate_limited", false) != p->rate_limited)
            return mismatch(msg, size, "pool %s/%s rate_limited=%d, expected the opposite", cl, sku,
                            p->rate_limited);
        if (json_object_get(x, "lease_end")) {
            int64_t t;

            if (get_time(json_object_get(x, "lease_end"), sc->now, &t) || t != p->lease_end_ms) {
                char got[40];

                clock_format_rfc3339(p->lease_end_ms, got, sizeof(got));
                return mismatch(msg, size, "pool %s/%s lease ends %s, expected otherwise", cl, sku,
                                got);
            }
        }
        return 0;
    }
    return mismatch(msg, size, "no status for pool %s/%s", cl, sku);
}

static int check_state(struct policy_scenario *sc, json_t *x, char *msg, size_t size)
{
    size_t i;
    json_t *j;

    ARR_EACH(json_object_get(x, "pools"), i, j)
    {
        const char *cl = str_or(j, "cluster", "");
        struct policy_pool_state *p = policy_state_pool(sc->state, cl, false);
        const char *key;
        json_t *v;

        if (!p)
            return mismatch(msg, size, "no state for pool %s", cl);
        OBJ_EACH(json_object_get(j, "streak"), key, v)
        {
            int k = snapshot_sku_find(sc->snap, key);

            if (k < 0 || p->streak[k] != json_integer_value(v))
                return mismatch(msg, size, "pool %s streak %s = %d, expected %lld", cl, key,
                                k >= 0 ? p->streak[k] : -1, (long long)json_integer_value(v));
        }
        if (json_object_get(j, "backoff_until")) {
            int64_t t;

            if (get_time(json_object_get(j, "backoff_until"), sc->now, &t) ||
                t != p->backoff_until_ms)
                return mismatch(msg, size, "pool %s backoff until %lld, expected %lld", cl,
                                (long long)p->backoff_until_ms, (long long)t);
        }
        if (json_object_get(j, "backoff_level") &&
            int_or(j, "backoff_level", 0) != p->backoff_level)
            return mismatch(msg, size, "pool %s backoff level %d, expected %lld", cl,
                            p->backoff_level, (long long)int_or(j, "backoff_level", 0));
        if (json_object_get(j, "tokens") &&
            (int64_t)(num_or(j, "tokens", 0) * 1000.0) != p->tokens_milli)
            return mismatch(msg, size, "pool %s tokens %.3f, expected %.3f", cl,
                            (double)p->tokens_milli / 1000.0, num_or(j, "tokens", 0));
    }
    return 0;
}

static int check_explain(struct policy_scenario *sc, const struct policy_result *r, json_t *x,
                         char *msg, size_t size)
{
    const char *want = str_or(x, "job", "");
    const char *slash = strchr(want, '/');
    char ns[128];
    long j;
    struct explain *ex = NULL;
    struct buf b;
    size_t i;
    json_t *s;
    int rc = 0;

    snprintf(ns, sizeof(ns), "%.*s", slash ? (int)(slash - want) : 0, want);
    j = explain_find(&sc->in, ns, slash ? slash + 1 : "");
    if (j < 0)
        return mismatch(msg, size, "explain: %s is not queued", want);
    if (explain_job(&sc->in, r, (size_t)j, &ex, NULL))
        return mismatch(msg, size, "explain: %s failed", want);
    buf_init(&b, 0);
    if (explain_json(&sc->in, ex, &b)) {
        rc = mismatch(msg, size, "explain: %s JSON failed", want);
        goto out;
    }
    {
        json_error_t je;
        json_t *parsed = json_loads(b.data, 0, &je);

        if (!parsed) {
            rc = mismatch(msg, size, "explain: %s JSON does not parse: %s", want, je.text);
            goto out;
        }
        json_decref(parsed);
    }
    ARR_EACH(json_object_get(x, "contains"), i, s)
    {
        if (!strstr(b.data, json_string_value(s))) {
            rc = mismatch(msg, size, "explain %s lacks \"%s\": %s", want, json_string_value(s),
                          b.data);
            goto out;
        }
    }
    ARR_EACH(json_object_get(x, "once"), i, s)
    {
        const char *at = strstr(b.data, json_string_value(s));

        if (!at || strstr(at + 1, json_string_value(s))) {
            rc = mismatch(msg, size, "explain %s has \"%s\" %s: %s", want, json_string_value(s),
                          at ? "more than once" : "nowhere", b.data);
            goto out;
        }
    }
out:
    buf_free(&b);
    explain_free(&ex);
    return rc;
}

/* Every key of an expectation must be one the checks read: a misspelt key ("lendabel")
 * would otherwise check nothing and pass. */
static int known_keys(json_t *obj, const char *const *allowed, const char *what, char *msg,
                      size_t size)
{
    const char *key;
    json_t *v;

    if (obj && !json_is_object(obj))
        return mismatch(msg, size, "%s must be an object", what);
    OBJ_EACH(obj, key, v)
    {
        size_t i;

        for (i = 0; allowed[i] && strcmp(allowed[i], key) != 0; i++)
            ;
        if (!allowed[i])
            return mismatch(msg, size, "%s: unknown key \"%s\"", what, key);
    }
    return 0;
}

/* Each entry of an expected list is an object with known keys, naming a job not named by
 * an earlier entry: with a repeated name, two entries could match one decision, the counts
 * would still agree and another decision would go unchecked. */
static int valid_entries(json_t *list, const char *const *allowed, const char *what, char *msg,
                         size_t size)
{
    size_t i, k;
    json_t *x, *y;

    ARR_EACH(list, i, x)
    {
        if (known_keys(x, allowed, what, msg, size))
            return -1;
        if (!json_is_string(json_object_get(x, "job")))
            return mismatch(msg, size, "%s entry %zu names no \"job\"", what, i);
        for (k = 0; k < i; k++) {
            y = json_array_get(list, k);
            if (strcmp(str_or(x, "job", ""), str_or(y, "job", "")) == 0)
                return mismatch(msg, size, "%s names %s twice", what, str_or(x, "job", ""));
        }
    }
    return 0;
}

static int valid_expect(json_t *expect, char *msg, size_t size)
{
    static const char *const top[] = {"placements", "pending", "reclaims", "ordered",
                                      "pools",      "state",   "explain",  NULL};
    static const char *const placement[] = {"job",       "cluster",    "pool",      "sku",
                                            "nodes",     "over_quota", "runner_up", "lease_end",
                                            "min_score", NULL};
    static const char *const pending[] = {"job",        "reason",     "message", "reserving",
                                          "reclaiming", "preempting", NULL};
    static const char *const reclaim[] = {"job", "reason", "for", "grace_s", "checkpoint_by", NULL};
    static const char *const pool[] = {
        "cluster",     "sku",           "lending",     "closed_reason", "lendable",     "lent",
        "deficit",     "streak",        "reclaimed",   "short_by",      "rate_limited", "lease_end",
        "lease_bound", "forecast_peak", "deficit_now", "ahead_peak",    "stuck",        NULL};
    static const char *const state[] = {"pools", NULL};
    static const char *const state_pool[] = {"cluster",       "streak", "backoff_until",
                                             "backoff_level", "tokens", NULL};
    static const char *const explain[] = {"job", "contains", "once", NULL};
    size_t i;
    json_t *x;

    if (known_keys(expect, top, "expect", msg, size) ||
        valid_entries(json_object_get(expect, "placements"), placement, "placements", msg, size) ||
        valid_entries(json_object_get(expect, "pending"), pending, "pending", msg, size) ||
        valid_entries(json_object_get(expect, "reclaims"), reclaim, "reclaims", msg, size) ||
        valid_entries(json_object_get(expect, "explain"), explain, "explain", msg, size) ||
        known_keys(json_object_get(expect, "state"), state, "state", msg, size))
        return -1;
    ARR_EACH(json_object_get(expect, "pools"), i, x)
    {
        if (known_keys(x, pool, "pools", msg, size))
            return -1;
    }
    ARR_EACH(json_object_get(json_object_get(expect, "state"), "pools"), i, x)
    {
        if (known_keys(x, state_pool, "state.pools", msg, size))
            return -1;
    }
    return 0;
}

static int check_all(struct policy_scenario *sc, const struct policy_result *r, json_t *expect,
                     char *msg, size_t size)
{
    json_t *pl = json_object_get(expect, "placements");
    json_t *pe = json_object_get(expect, "pending");
    json_t *rc = json_object_get(expect, "reclaims");
    json_t *x;
    size_t i;

    if (valid_expect(expect, msg, size))
        return -1;
    /* Exact sets: every decision expected, nothing more. */
    if (json_array_size(pl) != r->n_placements || json_array_size(pe) != r->n_pending ||
        json_array_size(rc) != r->n_reclaims) {
        struct buf b;
        int ret;

        buf_init(&b, 0);
        policy_result_json(&sc->in, r, &b);
        ret = mismatch(msg, size, "expected %zu placed / %zu pending / %zu reclaimed, got %s",
                       json_array_size(pl), json_array_size(pe), json_array_size(rc), b.data);
        buf_free(&b);
        return ret;
    }
    ARR_EACH(pl, i, x) if (check_placement(sc, r, x, msg, size)) return -1;
    if (bool_or(expect, "ordered", false)) {
        ARR_EACH(pl, i, x)
        {
            const struct policy_job *job = &sc->queue[r->placements[i].job];
            char key[200];

            job_key(job->ns, job->name, key, sizeof(key));
            if (strcmp(key, str_or(x, "job", "")) != 0)
                return mismatch(msg, size, "placement %zu is %s, expected %s", i, key,
                                str_or(x, "job", ""));
        }
    }
    ARR_EACH(pe, i, x) if (check_pending(sc, r, x, msg, size)) return -1;
    ARR_EACH(rc, i, x) if (check_reclaim(sc, r, x, msg, size)) return -1;
    ARR_EACH(json_object_get(expect, "pools"), i, x) if (check_pool(sc, r, x, msg, size)) return -1;
    if (check_state(sc, json_object_get(expect, "state"), msg, size))
        return -1;
    ARR_EACH(json_object_get(expect, "explain"), i, x)
    if (check_explain(sc, r, x, msg, size))
        return -1;
    return 0;
}

int policy_scenario_run(struct policy_scenario *sc, size_t i, char *msg, size_t size)
{
    const struct policy_input *in = NULL;
    struct policy_result *r = NULL;
    struct err e;
    json_t *expect;
    int rc;

    err_clear(&e);
    if (policy_scenario_input(sc, i, &in, &e))
        return mismatch(msg, size, "cycle %zu: bad scenario: %s (%s)", i, e.msg, e.field);
    if (policy_decide(in, sc->state, &r, &e))
        return mismatch(msg, size, "cycle %zu: policy_decide failed: %s", i, e.msg);
    expect = json_object_get(sc->merged, "expect");
    rc = check_all(sc, r, expect, msg, size);
    if (rc) {
        char tmp[1024];

        snprintf(tmp, sizeof(tmp), "cycle %zu: %s", i, msg);
        snprintf(msg, size, "%s", tmp);
    }
    policy_result_free(&r);
    return rc;
}
