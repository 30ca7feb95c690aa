/* snapshot.c -- allocation, aggregation and validation of capacity snapshots. */
#include "policy/snapshot.h"

#include "base/err.h"
#include "base/mem.h"

#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

const char *snapshot_health_name(enum snapshot_health h)
{
    switch (h) {
    case SNAPSHOT_HEALTH_UNKNOWN: return "Unknown";
    case SNAPSHOT_HEALTH_READY: return "Ready";
    case SNAPSHOT_HEALTH_DEGRADED: return "Degraded";
    case SNAPSHOT_HEALTH_UNREACHABLE: return "Unreachable";
    case SNAPSHOT_HEALTH_UNAUTHORIZED: return "Unauthorized";
    }
    return "Unknown";
}

const char *snapshot_prereq_name(enum snapshot_prereq p)
{
    switch (p) {
    case SNAPSHOT_PREREQ_NAMESPACE: return "NamespaceReady";
    case SNAPSHOT_PREREQ_PERMISSIONS: return "PermissionsGranted";
    case SNAPSHOT_PREREQ_PRIORITY_CLASS: return "PriorityClassReady";
    case SNAPSHOT_PREREQ_PRIORITY_CLASS_BORROWED: return "BorrowedPriorityClassReady";
    case SNAPSHOT_PREREQ_KUBERAY: return "KubeRayInstalled";
    case SNAPSHOT_PREREQ_RAY_PERMISSIONS: return "RayPermissionsGranted";
    }
    return "Unknown";
}

const char *snapshot_pool_name(enum snapshot_pool p)
{
    return p == SNAPSHOT_POOL_SERVING ? "serving" : "training";
}

const char *snapshot_lend_policy_name(enum snapshot_lend_policy p)
{
    switch (p) {
    case SNAPSHOT_LEND_NEVER: return "never";
    case SNAPSHOT_LEND_WINDOW: return "window";
    case SNAPSHOT_LEND_IDLE: return "idle";
    case SNAPSHOT_LEND_WINDOW_OR_IDLE: return "window-or-idle";
    case SNAPSHOT_LEND_FORECAST: return "forecast";
    }
    return "never";
}

int snapshot_new(size_t n_clusters, size_t n_nodes, size_t n_skus, struct snapshot **out,
                 struct err *e)
{
    struct snapshot *s;

    if (n_skus > SNAPSHOT_SKU_MAX)
        return err_set(e, ERR_INVALID, "n_skus", "n_skus %zu is above the maximum %d", n_skus,
                       SNAPSHOT_SKU_MAX);
    s = xcalloc(1, sizeof(*s));
    s->n_clusters = n_clusters;
    s->n_nodes = n_nodes;
    s->n_skus = n_skus;
    s->clusters = xcalloc(n_clusters ? n_clusters : 1, sizeof(*s->clusters));
    s->nodes = xcalloc(n_nodes ? n_nodes : 1, sizeof(*s->nodes));
    s->aggs = xcalloc(n_clusters * SNAPSHOT_POOL_COUNT * n_skus + 1, sizeof(*s->aggs));
    *out = s;
    return 0;
}

void snapshot_free(struct snapshot **s)
{
    if (!s || !*s)
        return;
    free((*s)->clusters);
    free((*s)->nodes);
    free((*s)->aggs);
    free(*s);
    *s = NULL;
}

struct snapshot_agg *snapshot_agg(struct snapshot *s, size_t c, enum snapshot_pool p, int k)
{
    if (c >= s->n_clusters || (unsigned)p >= SNAPSHOT_POOL_COUNT || k < 0 || (size_t)k >= s->n_skus)
        return NULL;
    return &s->aggs[(c * SNAPSHOT_POOL_COUNT + (size_t)p) * s->n_skus + (size_t)k];
}

const struct snapshot_agg *snapshot_agg_const(const struct snapshot *s, size_t c,
                                              enum snapshot_pool p, int k)
{
    return snapshot_agg((struct snapshot *)s, c, p, k);
}

int snapshot_pending_nodes(const struct snapshot *s, size_t c, size_t p, int *allowed)
{
    const struct snapshot_cluster *cl = &s->clusters[c];
    int sku = cl->serving.pending[p].sku, all = 0;

    *allowed = 0;
    for (size_t i = cl->node_first; i < cl->node_first + cl->n_nodes; i++) {
        if (s->nodes[i].pool != SNAPSHOT_POOL_SERVING || s->nodes[i].sku != sku)
            continue;
        all++;
        *allowed += !(s->nodes[i].pending_barred & (1u << p));
    }
    return all;
}

int snapshot_node_free(const struct snapshot_node *n)
{
    int f;

    if (!n->schedulable)
        return 0;
    f = n->allocatable - n->used;
    return f > 0 ? f : 0;
}

/* Adds v to *acc, stopping at the int range: node figures come from other systems, and
 * enough absurd nodes (the connector allows up to a million GPUs each) must saturate a
 * total rather than overflow it. */
static void sat_add(int *acc, int64_t v)
{
    int64_t sum = (int64_t)*acc + v;

    *acc = sum > INT_MAX ? INT_MAX : sum < INT_MIN ? INT_MIN : (int)sum;
}

void snapshot_compute_cluster_aggregates(struct snapshot *s, size_t c)
{
    const struct snapshot_cluster *cl = &s->clusters[c];

    for (int p = 0; p < SNAPSHOT_POOL_COUNT; p++) {
        for (size_t k = 0; k < s->n_skus; k++) {
            struct snapshot_agg *a = snapshot_agg(s, c, (enum snapshot_pool)p, (int)k);

            a->total = a->used = a->free = a->borrowed = a->lendable = 0;
        }
    }
    for (size_t i = cl->node_first; i < cl->node_first + cl->n_nodes && i < s->n_nodes; i++) {
        const struct snapshot_node *n = &s->nodes[i];
        struct snapshot_agg *a = snapshot_agg(s, c, n->pool, n->sku);

        if (!a)
            continue;
        sat_add(&a->total, n->allocatable);
        sat_add(&a->used, n->used);
        sat_add(&a->free, snapshot_node_free(n));
        sat_add(&a->borrowed, n->borrowed);
    }
    for (size_t k = 0; k < s->n_skus; k++) {
        struct snapshot_agg *a = snapshot_agg(s, c, SNAPSHOT_POOL_SERVING, (int)k);
        int64_t l = (int64_t)a->free - a->reserve - a->pending_serving - a->announced_serving;

        a->lendable = l > 0 ? (l > INT_MAX ? INT_MAX : (int)l) : 0;
    }
}

void snapshot_compute_aggregates(struct snapshot *s)
{
    for (size_t c = 0; c < s->n_clusters; c++)
        snapshot_compute_cluster_aggregates(s, c);
}

int snapshot_validate(const struct snapshot *s, struct err *e)
{
    size_t next = 0;

    if (s->n_skus > SNAPSHOT_SKU_MAX)
        return err_set(e, ERR_INVALID, "n_skus", "n_skus %zu is above %d", s->n_skus,
                       SNAPSHOT_SKU_MAX);
    for (size_t c = 0; c < s->n_clusters; c++) {
        const struct snapshot_cluster *cl = &s->clusters[c];
        char f[64];

        if (cl->node_first != next || cl->node_first + cl->n_nodes > s->n_nodes) {
            snprintf(f, sizeof(f), "clusters[%zu].node_first", c);
            return err_set(e, ERR_INVALID, f,
                           "cluster %s nodes [%zu, +%zu) do not follow the previous "
                           "cluster's (expected first %zu of %zu)",
                           cl->name, cl->node_first, cl->n_nodes, next, s->n_nodes);
        }
        next = cl->node_first + cl->n_nodes;
        if (cl->serving.n_windows > SNAPSHOT_WINDOWS_MAX) {
            snprintf(f, sizeof(f), "clusters[%zu].serving.n_windows", c);
            return err_set(e, ERR_INVALID, f, "%zu windows, at most %d", cl->serving.n_windows,
                           SNAPSHOT_WINDOWS_MAX);
        }
        for (size_t w = 0; w < cl->serving.n_windows; w++) {
            const struct snapshot_window *win = &cl->serving.windows[w];

            if (win->start_min < 0 || win->start_min > SNAPSHOT_MINUTES_PER_DAY ||
                win->end_min < 0 || win->end_min > SNAPSHOT_MINUTES_PER_DAY) {
                snprintf(f, sizeof(f), "clusters[%zu].serving.windows[%zu]", c, w);
                return err_set(e, ERR_INVALID, f, "window %d-%d minutes is outside [0, 1440]",
                               win->start_min, win->end_min);
            }
        }
        if (cl->serving.n_pending > SNAPSHOT_PENDING_MAX) {
            snprintf(f, sizeof(f), "clusters[%zu].serving.n_pending", c);
            return err_set(e, ERR_INVALID, f, "%zu pending pods, at most %d", cl->serving.n_pending,
                           SNAPSHOT_PENDING_MAX);
        }
        for (size_t p = 0; p < cl->serving.n_pending; p++) {
            const struct snapshot_pending_pod *pp = &cl->serving.pending[p];

            if (pp->sku < 0 || (size_t)pp->sku >= s->n_skus || pp->gpus <= 0 || pp->cpu_m < 0 ||
                pp->mem_mib < 0) {
                snprintf(f, sizeof(f), "clusters[%zu].serving.pending[%zu]", c, p);
                return err_set(e, ERR_INVALID, f,
                               "sku %d, %d GPUs, %lld m CPU, %lld MiB: out of range", pp->sku,
                               pp->gpus, (long long)pp->cpu_m, (long long)pp->mem_mib);
            }
        }
        if (cl->serving.reserve_gpus < 0 || cl->serving.idle_minutes < 0) {
            snprintf(f, sizeof(f), "clusters[%zu].serving", c);
            return err_set(e, ERR_INVALID, f, "negative reserve %d or idle minutes %d",
                           cl->serving.reserve_gpus, cl->serving.idle_minutes);
        }
    }
    if (next != s->n_nodes)
        return err_set(e, ERR_INVALID, "nodes", "clusters cover %zu of %zu nodes", next,
                       s->n_nodes);
    for (size_t i = 0; i < s->n_nodes; i++) {
        const struct snapshot_node *n = &s->nodes[i];
        char f[64];

        snprintf(f, sizeof(f), "nodes[%zu]", i);
        if (n->sku < -1 || n->sku >= (int)s->n_skus)
            return err_set(e, ERR_INVALID, f, "node %s sku %d is outside [-1, %zu)", n->name,
                           n->sku, s->n_skus);
        if ((unsigned)n->pool >= SNAPSHOT_POOL_COUNT)
            return err_set(e, ERR_INVALID, f, "node %s pool %d is unknown", n->name, (int)n->pool);
        if (n->allocatable < 0 || n->used < 0 || n->borrowed < 0 || n->borrowed > n->used)
            return err_set(e, ERR_INVALID, f,
                           "node %s counts allocatable %d used %d borrowed %d are invalid", n->name,
                           n->allocatable, n->used, n->borrowed);
    }
    return 0;
}

int snapshot_sku_find(const struct snapshot *s, const char *name)
{
    for (size_t k = 0; k < s->n_skus; k++)
        if (strcmp(s->sku_names[k], name) == 0)
            return (int)k;
    return -1;
}

int snapshot_cluster_find(const struct snapshot *s, const char *name)
{
    for (size_t c = 0; c < s->n_clusters; c++)
        if (strcmp(s->clusters[c].name, name) == 0)
            return (int)c;
    return -1;
}
