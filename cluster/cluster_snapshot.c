/* cluster_snapshot.c -- rendering published capacity snapshots as JSON and Prometheus text. */
#include "cluster/cluster_snapshot.h"

#include "base/clock.h"
#include "base/mem.h"
#include "base/prom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cluster_error_kind_name(enum cluster_error_kind k)
{
    switch (k) {
    case CLUSTER_ERR_TIMEOUT: return "timeout";
    case CLUSTER_ERR_CONNECT: return "connect";
    case CLUSTER_ERR_HTTP_5XX: return "http_5xx";
    case CLUSTER_ERR_RATE_LIMITED: return "rate_limited";
    case CLUSTER_ERR_UNAUTHORIZED: return "unauthorized";
    case CLUSTER_ERR_MALFORMED: return "malformed";
    case CLUSTER_ERR_EXPIRED: return "expired";
    case CLUSTER_ERR_OTHER: return "other";
    }
    return "other";
}

void cluster_snapshot_free(struct cluster_snapshot *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->status && s->snap && i < s->snap->n_clusters; i++)
        free(s->status[i].job_pods);
    snapshot_free(&s->snap);
    free(s->status);
    free(s->versions);
    free(s);
}

int cluster_snapshot_job_gpus(const struct cluster_snapshot *s, size_t i, const char *uid,
                              int attempt)
{
    return inventory_job_gpus(s->status[i].job_pods, s->status[i].n_job_pods, uid, attempt);
}

int cluster_snapshot_find(const struct cluster_snapshot *s, const char *name)
{
    return s && s->snap ? snapshot_cluster_find(s->snap, name) : -1;
}

double cluster_snapshot_data_age(const struct cluster_snapshot *s, size_t i, int64_t now_ms)
{
    int64_t last = s->status[i].last_success_ms;

    if (!last)
        return -1;
    return now_ms > last ? (double)(now_ms - last) / 1000.0 : 0;
}

static json_t *time_or_null(int64_t ms)
{
    char t[40];

    if (!ms)
        return json_null();
    clock_format_rfc3339(ms, t, sizeof(t));
    return json_string(t);
}

static json_t *agg_json(const struct snapshot *snap, size_t k, enum snapshot_pool p,
                        const struct snapshot_agg *a)
{
    json_t *o = json_object();

    json_object_set_new(o, "sku", json_string(snap->sku_names[k]));
    json_object_set_new(o, "pool", json_string(snapshot_pool_name(p)));
    json_object_set_new(o, "total", json_integer(a->total));
    json_object_set_new(o, "used", json_integer(a->used));
    json_object_set_new(o, "free", json_integer(a->free));
    /* Not used and not free: the free GPUs of nodes the policy cannot use (NotReady,
     * cordoned, or tainted), as sinfo's "other" beside allocated and idle. */
    json_object_set_new(
        o, "unavailable",
        json_integer(a->total > a->used + a->free ? a->total - a->used - a->free : 0));
    json_object_set_new(o, "borrowed", json_integer(a->borrowed));
    if (p == SNAPSHOT_POOL_SERVING) /* what the serving workloads themselves use */
        json_object_set_new(o, "servingUsed", json_integer(a->used - a->borrowed));
    json_object_set_new(o, "pendingServing", json_integer(a->pending_serving));
    if (p == SNAPSHOT_POOL_SERVING) /* the scale-ups lending and reclaim count (policy.md) */
        json_object_set_new(o, "announcedServing", json_integer(a->announced_serving));
    json_object_set_new(o, "reserve", json_integer(a->reserve));
    json_object_set_new(o, "lendable", json_integer(a->lendable));
    return o;
}

/* The demand query's status (docs/clusters.md, "Demand query"); null when not configured. */
static json_t *demand_json(const struct cluster_demand_status *d)
{
    json_t *o, *results;

    if (!d->configured)
        return json_null();
    o = json_object();
    results = json_object();
    json_object_set_new(o, "figure", d->figure_ms ? json_real(d->figure) : json_null());
    json_object_set_new(o, "figureAt", time_or_null(d->figure_ms));
    json_object_set_new(o, "sku", d->sku[0] ? json_string(d->sku) : json_null());
    json_object_set_new(o, "addedGpus", json_integer(d->added));
    json_object_set_new(o, "lastAnswerAt", time_or_null(d->last_ms));
    json_object_set_new(o, "lastResult",
                        d->last_ms ? json_string(promq_result_name(d->last)) : json_null());
    json_object_set_new(o, "lastError", json_string(d->last_error));
    for (int r = 0; r < PROMQ_RESULTS; r++)
        if (d->results[r])
            json_object_set_new(results, promq_result_name((enum promq_result)r),
                                json_integer((json_int_t)d->results[r]));
    json_object_set_new(o, "results", results);
    return o;
}

/* conditions, capabilities and prerequisitesCheckedAt; a status nobody filled in (a
 * snapshot built by hand) reads as not checked. */
static void prereq_json(json_t *o, const struct prereq_result *in)
{
    struct prereq_result r = *in;

    if (!r.conds[0].status[0])
        prereq_init(&r);
    json_object_set_new(o, "conditions", prereq_conditions_json(&r));
    json_object_set_new(o, "capabilities", prereq_capabilities_json(&r));
    json_object_set_new(o, "prerequisitesCheckedAt", time_or_null(r.checked_ms));
}

/* {"nodes": {"watching": true, "lists": 1, "watches": 3, ...}, "pods": {...}} */
static json_t *watches_json(const struct cluster_status *st)
{
    static const char *const keys[5] = {"added", "modified", "deleted", "bookmarks", "errors"};
    json_t *o = json_object();

    for (int r = 0; r < CLUSTER_RESOURCES; r++) {
        const struct cluster_watch_stats *w = &st->watch[r];
        json_t *one = json_object(), *ev = json_object();

        json_object_set_new(one, "watching", json_boolean(w->watching));
        json_object_set_new(one, "served", json_boolean(!w->absent));
        json_object_set_new(one, "lists", json_integer((json_int_t)w->lists));
        json_object_set_new(one, "watches", json_integer((json_int_t)w->watches));
        json_object_set_new(one, "relists", json_integer((json_int_t)w->relists));
        json_object_set_new(one, "watchRestarts", json_integer((json_int_t)w->watch_restarts));
        json_object_set_new(one, "badEvents", json_integer((json_int_t)w->bad_events));
        for (int t = 0; t < 5; t++)
            json_object_set_new(ev, keys[t], json_integer((json_int_t)w->events[t]));
        json_object_set_new(one, "events", ev);
        json_object_set_new(o, cluster_resource_name(r), one);
    }
    return o;
}

json_t *cluster_snapshot_cluster_json(const struct cluster_snapshot *s, size_t i, int64_t now_ms)
{
    const struct snapshot_cluster *c = &s->snap->clusters[i];
    const struct cluster_status *st = &s->status[i];
    json_t *o = json_object(), *nodes = json_object(), *unknown = json_array();
    json_t *cap = json_array(), *errs = json_object();
    double age = cluster_snapshot_data_age(s, i, now_ms);

    json_object_set_new(o, "name", json_string(c->name));
    json_object_set_new(o, "apiServer", json_string(st->api_server));
    json_object_set_new(o, "region", json_string(c->region));
    json_object_set_new(o, "provider", json_string(c->provider));
    json_object_set_new(o, "cordoned", json_boolean(c->cordoned));
    json_object_set_new(o, "health", json_string(snapshot_health_name(c->health)));
    json_object_set_new(o, "lastSuccessfulPoll", time_or_null(st->last_success_ms));
    json_object_set_new(o, "lastAttempt", time_or_null(st->last_attempt_ms));
    json_object_set_new(o, "nextAttempt", time_or_null(st->next_attempt_ms));
    json_object_set_new(o, "dataAgeMs",
                        age < 0 ? json_null() : json_integer((json_int_t)(age * 1000)));
    json_object_set_new(o, "lastError", json_string(st->last_error));
    json_object_set_new(o, "lastErrorCode",
                        json_string(st->last_error[0] ? err_code_name(st->last_error_code) : ""));
    json_object_set_new(o, "pollDurationMs", json_integer(st->poll_duration_ms));
    json_object_set_new(o, "polls", json_integer((json_int_t)st->polls_total));
    json_object_set_new(o, "errors", json_integer((json_int_t)st->errors_total));
    for (int k = 0; k < CLUSTER_ERR_KINDS; k++)
        if (st->errors_by_kind[k])
            json_object_set_new(errs, cluster_error_kind_name((enum cluster_error_kind)k),
                                json_integer((json_int_t)st->errors_by_kind[k]));
    json_object_set_new(o, "errorsByKind", errs);
    json_object_set_new(o, "watches", watches_json(st));
    json_object_set_new(o, "consecutiveFailures", json_integer(st->consecutive_failures));
    json_object_set_new(o, "lostTimeoutSeconds", json_integer(st->lost_timeout_s));
    json_object_set_new(nodes, "listed", json_integer(st->stats.nodes));
    json_object_set_new(nodes, "gpuNodes", json_integer(st->stats.gpu_nodes));
    json_object_set_new(nodes, "notReady", json_integer(st->stats.not_ready));
    json_object_set_new(nodes, "cordoned", json_integer(st->stats.cordoned));
    json_object_set_new(nodes, "tainted", json_integer(st->stats.tainted));
    json_object_set_new(nodes, "devicePluginDown", json_integer(st->stats.plugin_down));
    json_object_set_new(nodes, "skippedObjects", json_integer(st->stats.bad_items));
    json_object_set_new(o, "nodes", nodes);
    if (st->item_error[0])
        json_object_set_new(o, "skippedObjectError", json_string(st->item_error));
    for (size_t u = 0; u < st->n_unknown; u++)
        json_array_append_new(unknown,
                              json_pack("{s:s,s:b,s:i,s:i}", "product", st->unknown[u].product,
                                        "mig", st->unknown[u].mig, "nodes", st->unknown[u].nodes,
                                        "gpus", st->unknown[u].gpus));
    json_object_set_new(o, "unknownProducts", unknown);
    for (size_t k = 0; k < s->snap->n_skus; k++) {
        for (int p = 0; p < SNAPSHOT_POOL_COUNT; p++) {
            const struct snapshot_agg *a =
                snapshot_agg_const(s->snap, i, (enum snapshot_pool)p, (int)k);

            if (a && (a->total || a->used || a->pending_serving || a->announced_serving))
                json_array_append_new(cap, agg_json(s->snap, k, (enum snapshot_pool)p, a));
        }
    }
    json_object_set_new(o, "capacity", cap);
    json_object_set_new(o, "demandQuery", demand_json(&st->demand));
    prereq_json(o, &st->prereq);
    return o;
}

static int cmp_node_name(const void *a, const void *b)
{
    return strcmp((*(const struct snapshot_node *const *)a)->name,
                  (*(const struct snapshot_node *const *)b)->name);
}

/* {"allocatable", "requested", "free"}, or null when allocatable is unknown (0). */
static json_t *amount_json(int64_t alloc, int64_t used)
{
    if (alloc <= 0)
        return json_null();
    return json_pack("{s:I, s:I, s:I}", "allocatable", (json_int_t)alloc, "requested",
                     (json_int_t)used, "free", (json_int_t)(alloc > used ? alloc - used : 0));
}

json_t *cluster_snapshot_nodes_json(const struct cluster_snapshot *s, size_t i, const char *sku,
                                    int pool, const char *after, size_t limit, bool *more)
{
    const struct snapshot_cluster *c = &s->snap->clusters[i];
    const struct snapshot_node **by = xcalloc(c->n_nodes + 1, sizeof(*by));
    json_t *items = json_array();
    size_t n = 0;

    for (size_t k = 0; k < c->n_nodes; k++) {
        const struct snapshot_node *nd = &s->snap->nodes[c->node_first + k];
        const char *name = nd->sku >= 0 ? s->snap->sku_names[nd->sku] : NULL;

        if ((sku && (!name || strcmp(name, sku) != 0)) || (pool >= 0 && (int)nd->pool != pool) ||
            (after && strcmp(nd->name, after) <= 0))
            continue;
        by[n++] = nd;
    }
    qsort(by, n, sizeof(*by), cmp_node_name);
    *more = limit > 0 && n > limit;
    if (*more)
        n = limit;
    for (size_t k = 0; k < n; k++) {
        const struct snapshot_node *nd = by[k];

        json_array_append_new(
            items,
            json_pack("{s:s, s:s?, s:s, s:b, s:{s:i, s:i, s:i, s:i}, s:o, s:o}", "name", nd->name,
                      "sku", nd->sku >= 0 ? s->snap->sku_names[nd->sku] : NULL, "pool",
                      snapshot_pool_name(nd->pool), "schedulable", nd->schedulable, "gpus",
                      "allocatable", nd->allocatable, "requested", nd->used, "free",
                      nd->allocatable > nd->used ? nd->allocatable - nd->used : 0, "borrowed",
                      nd->borrowed, "cpuMillicores", amount_json(nd->cpu_alloc_m, nd->cpu_used_m),
                      "memoryMiB", amount_json(nd->mem_alloc_mib, nd->mem_used_mib)));
    }
    free(by);
    return items;
}

json_t *cluster_snapshot_clusters_json(const struct cluster_snapshot *s, int64_t now_ms)
{
    json_t *arr = json_array();

    for (size_t i = 0; s && i < s->snap->n_clusters; i++)
        json_array_append_new(arr, cluster_snapshot_cluster_json(s, i, now_ms));
    return json_pack("{s:o}", "clusters", arr);
}

json_t *cluster_snapshot_capacity_json(const struct cluster_snapshot *s, int64_t now_ms)
{
    json_t *o = json_object(), *cap = json_array(), *excluded = json_array();
    size_t n_skus = s ? s->snap->n_skus : 0;
    struct snapshot_agg *sum = xcalloc(n_skus * SNAPSHOT_POOL_COUNT + 1, sizeof(*sum));
    int counted = 0;

    for (size_t i = 0; s && i < s->snap->n_clusters; i++) {
        const struct snapshot_cluster *c = &s->snap->clusters[i];
        const char *why = NULL;

        if (c->cordoned)
            why = "cordoned";
        else if (c->health != SNAPSHOT_HEALTH_READY && c->health != SNAPSHOT_HEALTH_DEGRADED)
            why = snapshot_health_name(c->health);
        if (why) {
            json_array_append_new(excluded, json_pack("{s:s,s:s}", "name", c->name, "reason", why));
            continue;
        }
        counted++;
        for (size_t k = 0; k < n_skus; k++) {
            for (int p = 0; p < SNAPSHOT_POOL_COUNT; p++) {
                const struct snapshot_agg *a =
                    snapshot_agg_const(s->snap, i, (enum snapshot_pool)p, (int)k);
                struct snapshot_agg *t = &sum[k * SNAPSHOT_POOL_COUNT + (size_t)p];

                t->total += a->total;
                t->used += a->used;
                t->free += a->free;
                t->borrowed += a->borrowed;
                t->pending_serving += a->pending_serving;
                t->announced_serving += a->announced_serving;
                t->reserve += a->reserve;
                t->lendable += a->lendable;
            }
        }
    }
    for (size_t k = 0; k < n_skus; k++)
        for (int p = 0; p < SNAPSHOT_POOL_COUNT; p++) {
            const struct snapshot_agg *t = &sum[k * SNAPSHOT_POOL_COUNT + (size_t)p];

            if (t->total || t->used || t->pending_serving || t->announced_serving)
                json_array_append_new(cap, agg_json(s->snap, k, (enum snapshot_pool)p, t));
        }
    free(sum);
    json_object_set_new(o, "takenAt", time_or_null(s ? s->snap->taken_ms : 0));
    json_object_set_new(o, "dataAgeMs",
                        json_integer(s && s->snap->taken_ms && now_ms > s->snap->taken_ms
                                         ? now_ms - s->snap->taken_ms
                                         : 0));
    json_object_set_new(o, "clustersCounted", json_integer(counted));
    json_object_set_new(o, "clustersExcluded", excluded);
    json_object_set_new(o, "capacity", cap);
    return o;
}

static const char *const event_types[5] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};

const char *cluster_resource_name(int r)
{
    static const char *const names[CLUSTER_RESOURCES] = {
        "nodes",           "pods", "jobs", "rayjobs", "deployments", "horizontalpodautoscalers",
        "leaderworkersets"};

    return r >= 0 && r < CLUSTER_RESOURCES ? names[r] : "";
}

int cluster_snapshot_prometheus(const struct cluster_snapshot *s, int64_t now_ms, struct buf *b)
{
    static const char *const states[] = {
        "total", "used", "free", "borrowed", "pending_serving", "announced_serving", "lendable"};
    char(*name)[PROM_LABEL_MAX], (*sku)[PROM_LABEL_MAX];
    int rc = 0;

    if (!s)
        return 0;
    /* Cluster names are DNS-1123 and SKU names come from the catalogue, but every label
     * value is escaped all the same, so no configuration can make the page unparsable. */
    name = xcalloc(s->snap->n_clusters + 1, sizeof(*name));
    sku = xcalloc(s->snap->n_skus + 1, sizeof(*sku));
    for (size_t i = 0; i < s->snap->n_clusters; i++)
        prom_label(name[i], sizeof(name[i]), s->status[i].name);
    for (size_t k = 0; k < s->snap->n_skus; k++)
        prom_label(sku[k], sizeof(sku[k]), s->snap->sku_names[k]);
    rc |= buf_puts(b, "# HELP fedsched_cluster_poll_duration_seconds Duration of the last poll "
                      "of a member cluster.\n# TYPE fedsched_cluster_poll_duration_seconds "
                      "gauge\n");
    for (size_t i = 0; i < s->snap->n_clusters; i++)
        rc |= buf_printf(b, "fedsched_cluster_poll_duration_seconds{cluster=\"%s\"} %.3f\n",
                         name[i], (double)s->status[i].poll_duration_ms / 1000.0);
    rc |= buf_puts(b, "# HELP fedsched_cluster_poll_errors_total Failed polls of a member "
                      "cluster by kind.\n# TYPE fedsched_cluster_poll_errors_total counter\n");
    for (size_t i = 0; i < s->snap->n_clusters; i++)
        for (int k = 0; k < CLUSTER_ERR_KINDS; k++)
            rc |= buf_printf(b,
                             "fedsched_cluster_poll_errors_total{cluster=\"%s\",kind=\"%s\"} "
                             "%llu\n",
                             name[i], cluster_error_kind_name((enum cluster_error_kind)k),
                             (unsigned long long)s->status[i].errors_by_kind[k]);
    rc |= buf_puts(b, "# HELP fedsched_cluster_data_age_seconds Age of a member cluster's "
                      "capacity data (-1 when never polled).\n# TYPE "
                      "fedsched_cluster_data_age_seconds gauge\n");
    for (size_t i = 0; i < s->snap->n_clusters; i++)
        rc |= buf_printf(b, "fedsched_cluster_data_age_seconds{cluster=\"%s\"} %.3f\n", name[i],
                         cluster_snapshot_data_age(s, i, now_ms));
    rc |= buf_puts(b, "# HELP fedsched_cluster_health Health of a member cluster (1 for the "
                      "current state).\n# TYPE fedsched_cluster_health gauge\n");
    for (size_t i = 0; i < s->snap->n_clusters; i++)
        for (int h = 1; h < SNAPSHOT_HEALTH_COUNT; h++)
            rc |= buf_printf(b, "fedsched_cluster_health{cluster=\"%s\",state=\"%s\"} %d\n",
                             name[i], snapshot_health_name((enum snapshot_health)h),
                             s->snap->clusters[i].health == (enum snapshot_health)h);
    rc |= buf_puts(b, "# HELP fedsched_cluster_gpus GPUs of a member cluster by SKU, pool and "
                      "state.\n# TYPE fedsched_cluster_gpus gauge\n");
    for (size_t i = 0; i < s->snap->n_clusters; i++)
        for (size_t k = 0; k < s->snap->n_skus; k++)
            for (int p = 0; p < SNAPSHOT_POOL_COUNT; p++) {
                const struct snapshot_agg *a =
                    snapshot_agg_const(s->snap, i, (enum snapshot_pool)p, (int)k);
                const int v[7] = {a->total,
                                  a->used,
                                  a->free,
                                  a->borrowed,
                                  a->pending_serving,
                                  a->announced_serving,
                                  a->lendable};

                if (!a->total && !a->used && !a->pending_serving && !a->announced_serving)
                    continue;
                for (int st = 0; st < 7; st++)
                    rc |= buf_printf(b,
                                     "fedsched_cluster_gpus{cluster=\"%s\",sku=\"%s\",pool=\"%s\","
                                     "state=\"%s\"} %d\n",
                                     name[i], sku[k], snapshot_pool_name((enum snapshot_pool)p),
                                     states[st], v[st]);
            }
    rc |= buf_puts(b, "# HELP fedsched_cluster_requests_total Requests to a member cluster's API "
                      "server by verb and resource.\n# TYPE fedsched_cluster_requests_total "
                      "counter\n");
    for (size_t i = 0; i < s->snap->n_clusters; i++)
        for (int r = 0; r < CLUSTER_RESOURCES; r++) {
            const struct cluster_watch_stats *w = &s->status[i].watch[r];

            rc |= buf_printf(b,
                             "fedsched_cluster_requests_total{cluster=\"%s\",verb=\"list\","
                             "resource=\"%s\"} %llu\n"
                             "fedsched_cluster_requests_total{cluster=\"%s\",verb=\"watch\","
                             "resource=\"%s\"} %llu\n",
                             name[i], cluster_resource_name(r), (unsigned long long)w->lists,
                             name[i], cluster_resource_name(r), (unsigned long long)w->watches);
        }
    rc |= buf_puts(b, "# HELP fedsched_cluster_watch_restarts_total Watches begun again from "
                      "their resourceVersion (dropped, stalled or ended).\n# TYPE "
                      "fedsched_cluster_watch_restarts_total counter\n");
    for (size_t i = 0; i < s->snap->n_clusters; i++)
        for (int r = 0; r < CLUSTER_RESOURCES; r++)
            rc |= buf_printf(b,
                             "fedsched_cluster_watch_restarts_total{cluster=\"%s\",resource="
                             "\"%s\"} %llu\n",
                             name[i], cluster_resource_name(r),
                             (unsigned long long)s->status[i].watch[r].watch_restarts);
    rc |= buf_puts(b, "# HELP fedsched_cluster_relists_total Lists begun again (410 Expired, "
                      "an unreadable event).\n# TYPE fedsched_cluster_relists_total counter\n");
    for (size_t i = 0; i < s->snap->n_clusters; i++)
        for (int r = 0; r < CLUSTER_RESOURCES; r++)
            rc |= buf_printf(b,
                             "fedsched_cluster_relists_total{cluster=\"%s\",resource=\"%s\"} "
                             "%llu\n",
                             name[i], cluster_resource_name(r),
                             (unsigned long long)s->status[i].watch[r].relists);
    rc |= buf_puts(b, "# HELP fedsched_cluster_watch_events_total Watch events received by "
                      "type.\n# TYPE fedsched_cluster_watch_events_total counter\n");
    for (size_t i = 0; i < s->snap->n_clusters; i++)
        for (int r = 0; r < CLUSTER_RESOURCES; r++)
            for (int t = 0; t < 5; t++)
                rc |= buf_printf(b,
                                 "fedsched_cluster_watch_events_total{cluster=\"%s\",resource="
                                 "\"%s\",type=\"%s\"} %llu\n",
                                 name[i], cluster_resource_name(r), event_types[t],
                                 (unsigned long long)s->status[i].watch[r].events[t]);
    rc |= buf_puts(b, "# HELP fedsched_cluster_demand_query_total Answers to a serving pool's "
                      "demand query by result (only clusters with one).\n# TYPE "
                      "fedsched_cluster_demand_query_total counter\n");
    for (size_t i = 0; i < s->snap->n_clusters; i++)
        for (int r = 0; s->status[i].demand.configured && r < PROMQ_RESULTS; r++)
            rc |= buf_printf(b,
                             "fedsched_cluster_demand_query_total{cluster=\"%s\",result=\"%s\"} "
                             "%llu\n",
                             name[i], promq_result_name((enum promq_result)r),
                             (unsigned long long)s->status[i].demand.results[r]);
    rc |= buf_puts(b, "# HELP fedsched_cluster_demand_query_gpus The demand query's figure that "
                      "counts (GPUs wanted) and the GPUs it adds to announced serving demand; "
                      "absent while no figure counts.\n# TYPE fedsched_cluster_demand_query_gpus "
                      "gauge\n");
    for (size_t i = 0; i < s->snap->n_clusters; i++) {
        const struct cluster_demand_status *d = &s->status[i].demand;

        if (!d->configured || !d->figure_ms)
            continue;
        rc |= buf_printf(b,
                         "fedsched_cluster_demand_query_gpus{cluster=\"%s\",kind=\"figure\"} "
                         "%.3f\n"
                         "fedsched_cluster_demand_query_gpus{cluster=\"%s\",kind=\"added\"} "
                         "%d\n",
                         name[i], d->figure, name[i], d->added);
    }
    rc |= buf_puts(b, "# HELP fedsched_cluster_snapshot_lag_seconds From the oldest change a "
                      "published capacity snapshot holds to its publication.\n# TYPE "
                      "fedsched_cluster_snapshot_lag_seconds gauge\n");
    rc |= buf_printf(b, "fedsched_cluster_snapshot_lag_seconds %.3f\n", (double)s->lag_ms / 1000.0);
    free(name);
    free(sku);
    return rc ? -1 : 0;
}
