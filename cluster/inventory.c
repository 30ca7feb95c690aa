/* inventory.c -- adding up one cluster's nodes and pods into per-node GPU, CPU and memory
 * figures. */
#include "cluster/inventory.h"

#include "base/err.h"
#include "base/hash.h"
#include "base/mem.h"
#include "cluster/cluster_config.h"
#include "cluster/k8s.h"
#include "cluster/k8s_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(SNAPSHOT_PENDING_MAX <= 16, "snapshot_node.pending_barred: a bit per pending pod");

void inventory_init(struct inventory *inv)
{
    memset(inv, 0, sizeof(*inv));
}

void inventory_use_parser(struct inventory *inv, void *d)
{
    if (inv->json_owned) {
        k8s_json_free(inv->json);
        free(inv->json);
    }
    inv->json = d;
    inv->json_owned = false;
}

/* The token array, created on first use when none was lent. */
static struct k8s_json *parser(struct inventory *inv)
{
    if (!inv->json) {
        inv->json = xcalloc(1, sizeof(struct k8s_json));
        k8s_json_init(inv->json);
        inv->json_owned = true;
    }
    return inv->json;
}

void inventory_free(struct inventory *inv)
{
    if (inv->json_owned) {
        k8s_json_free(inv->json);
        free(inv->json);
    }
    free(inv->nodes);
    free(inv->mem_used_b);
    free(inv->labels);
    free(inv->index);
    free(inv->jobs);
    memset(inv, 0, sizeof(*inv));
}

void inventory_reset_pods(struct inventory *inv)
{
    for (size_t i = 0; i < inv->n_nodes; i++) {
        inv->nodes[i].used = 0;
        inv->nodes[i].borrowed = 0;
        inv->nodes[i].cpu_used_m = 0;
        inv->nodes[i].mem_used_mib = 0;
        inv->mem_used_b[i] = 0;
    }
    memset(inv->pending_serving, 0, sizeof(inv->pending_serving));
    inv->pending_unassigned = 0;
    inv->n_pending_pods = 0;
    memset(inv->announced_serving, 0, sizeof(inv->announced_serving));
    inv->announced_unassigned = 0;
    inv->stats.pods = inv->stats.gpu_pods = inv->stats.terminal_skipped = 0;
    inv->stats.pods_unknown_node = inv->stats.pending_serving_pods = 0;
    inv->stats.announcing_workloads = 0;
    inv->n_jobs = 0;
}

void inventory_reset(struct inventory *inv)
{
    inv->n_nodes = 0;
    inv->n_jobs = 0;
    if (inv->index)
        memset(inv->index, 0, inv->index_cap * sizeof(*inv->index));
    memset(inv->pending_serving, 0, sizeof(inv->pending_serving));
    inv->pending_unassigned = 0;
    inv->n_pending_pods = 0;
    memset(inv->announced_serving, 0, sizeof(inv->announced_serving));
    inv->announced_unassigned = 0;
    inv->n_unknown = 0;
    memset(&inv->stats, 0, sizeof(inv->stats));
    inv->last_item_error[0] = '\0';
}

/* Adds GPU counts, each within 0..K8S_GPUS_MAX, stopping at K8S_GPUS_MAX: a list that
 * claims more (a broken or hostile API server) must not wrap an int, and "more GPUs than
 * any node has" is all the capacity model needs to know. */
static int add_gpus(int a, int b)
{
    return a + b > K8S_GPUS_MAX ? K8S_GPUS_MAX : a + b;
}

/* The same for CPU (millicores) and memory (bytes), at their k8s.h bounds. */
static int64_t add_bounded(int64_t a, int64_t b, int64_t max)
{
    return a + b > max ? max : a + b;
}

static void index_put(struct inventory *inv, size_t pos)
{
    size_t mask = inv->index_cap - 1;
    size_t i = (size_t)hash_fnv1a_str(inv->nodes[pos].name) & mask;

    while (inv->index[i])
        i = (i + 1) & mask;
    inv->index[i] = (unsigned)pos + 1;
}

static void index_grow(struct inventory *inv)
{
    size_t cap = inv->index_cap ? inv->index_cap : 64;

    while (cap < (inv->n_nodes + 1) * 2)
        cap *= 2;
    if (cap == inv->index_cap)
        return;
    free(inv->index);
    inv->index = xcalloc(cap, sizeof(*inv->index));
    inv->index_cap = cap;
    for (size_t i = 0; i < inv->n_nodes; i++)
        index_put(inv, i);
}

static long index_find(const struct inventory *inv, const char *name)
{
    size_t mask, i;

    if (!inv->index_cap)
        return -1;
    mask = inv->index_cap - 1;
    for (i = (size_t)hash_fnv1a_str(name) & mask; inv->index[i]; i = (i + 1) & mask)
        if (strcmp(inv->nodes[inv->index[i] - 1].name, name) == 0)
            return (long)inv->index[i] - 1;
    return -1;
}

const struct snapshot_node *inventory_node(const struct inventory *inv, const char *name)
{
    long i = index_find(inv, name);

    return i < 0 ? NULL : &inv->nodes[i];
}

static void item_error(struct inventory *inv, const char *kind, const struct err *e)
{
    inv->stats.bad_items++;
    if (!inv->last_item_error[0])
        snprintf(inv->last_item_error, sizeof(inv->last_item_error), "%.4s: %.150s", kind, e->msg);
}

static void note_unknown(struct inventory *inv, const struct k8s_node *n)
{
    size_t i;

    for (i = 0; i < inv->n_unknown; i++)
        if (strcmp(inv->unknown[i].product, n->product) == 0)
            break;
    if (i == inv->n_unknown) {
        if (i == INVENTORY_UNKNOWN_MAX) {
            inv->stats.unknown_overflow++;
            return;
        }
        memset(&inv->unknown[i], 0, sizeof(inv->unknown[i]));
        snprintf(inv->unknown[i].product, sizeof(inv->unknown[i].product), "%s", n->product);
        inv->n_unknown++;
    }
    inv->unknown[i].mig |= n->mig;
    inv->unknown[i].nodes++;
    inv->unknown[i].gpus = add_gpus(inv->unknown[i].gpus, n->allocatable);
}

/* A node read from a list or a store (stats.nodes is counted by the caller). */
static void add_node(struct inventory *inv, const struct k8s_node *n)
{
    struct snapshot_node *s;

    if (!n->gpu)
        return;
    if (index_find(inv, n->name) >= 0)
        return; /* a node repeated across pages of a changing list counts once */
    inv->stats.gpu_nodes++;
    inv->stats.not_ready += !n->ready;
    inv->stats.cordoned += n->unschedulable;
    inv->stats.tainted += n->tainted;
    inv->stats.plugin_down += n->capacity > 0 && n->allocatable == 0;
    if (n->sku < 0)
        note_unknown(inv, n);
    if (inv->n_nodes == inv->cap_nodes) {
        inv->cap_nodes = inv->cap_nodes ? inv->cap_nodes * 2 : 64;
        inv->nodes = xrealloc(inv->nodes, inv->cap_nodes * sizeof(*inv->nodes));
        inv->mem_used_b = xrealloc(inv->mem_used_b, inv->cap_nodes * sizeof(*inv->mem_used_b));
        inv->labels = xrealloc(inv->labels, inv->cap_nodes * sizeof(*inv->labels));
    }
    if ((inv->n_nodes + 1) * 2 > inv->index_cap)
        index_grow(inv);
    s = &inv->nodes[inv->n_nodes];
    memset(s, 0, sizeof(*s));
    memcpy(s->name, n->name, sizeof(s->name));
    s->sku = n->sku;
    s->pool = n->pool;
    s->allocatable = n->allocatable;
    s->schedulable = n->schedulable;
    s->cpu_alloc_m = n->cpu_m;
    s->mem_alloc_mib = n->mem_mib;
    inv->mem_used_b[inv->n_nodes] = 0;
    inv->labels[inv->n_nodes] = n->labels;
    index_put(inv, inv->n_nodes);
    inv->n_nodes++;
}

/* A pod read from a list or a store (stats.pods is counted by the caller). */
static void add_job_pod(struct inventory *inv, const struct k8s_pod *p)
{
    struct inventory_job_pods *j;

    if (inv->n_jobs == inv->cap_jobs) {
        inv->cap_jobs = inv->cap_jobs ? inv->cap_jobs * 2 : 64;
        inv->jobs = xrealloc(inv->jobs, inv->cap_jobs * sizeof(*inv->jobs));
    }
    j = &inv->jobs[inv->n_jobs++];
    memcpy(j->uid, p->job_uid, sizeof(j->uid));
    j->attempt = p->attempt;
    j->pods = 1;
    j->gpus = p->gpus;
}

static int cmp_job_pods(const void *a, const void *b)
{
    const struct inventory_job_pods *x = a, *y = b;
    int c = strcmp(x->uid, y->uid);

    return c ? c : (x->attempt > y->attempt) - (x->attempt < y->attempt);
}

/* Sorts the job pods and folds each job attempt's into one entry. */
static void finish_job_pods(struct inventory *inv)
{
    size_t n = 0;

    if (inv->n_jobs > 1)
        qsort(inv->jobs, inv->n_jobs, sizeof(*inv->jobs), cmp_job_pods);
    for (size_t i = 0; i < inv->n_jobs; i++) {
        if (n > 0 && cmp_job_pods(&inv->jobs[n - 1], &inv->jobs[i]) == 0) {
            inv->jobs[n - 1].pods += inv->jobs[i].pods;
            inv->jobs[n - 1].gpus = add_gpus(inv->jobs[n - 1].gpus, inv->jobs[i].gpus);
        } else {
            inv->jobs[n++] = inv->jobs[i];
        }
    }
    inv->n_jobs = n;
}

int inventory_job_gpus(const struct inventory_job_pods *v, size_t n, const char *uid, int attempt)
{
    struct inventory_job_pods key;
    const struct inventory_job_pods *hit;

    if (!v || n == 0 || strlen(uid) >= sizeof(key.uid))
        return 0;
    memset(&key, 0, sizeof(key));
    memcpy(key.uid, uid, strlen(uid));
    key.attempt = attempt;
    hit = bsearch(&key, v, n, sizeof(*v), cmp_job_pods);
    return hit ? hit->gpus : 0;
}

static bool pending_pod_larger(const struct snapshot_pending_pod *a,
                               const struct snapshot_pending_pod *b)
{
    if (a->gpus != b->gpus)
        return a->gpus > b->gpus;
    if (a->cpu_m != b->cpu_m)
        return a->cpu_m > b->cpu_m;
    return a->mem_mib > b->mem_mib;
}

/* Keeps pending serving pod p (of SKU k, -1 when unknown yet) among the largest
 * SNAPSHOT_PENDING_MAX, in descending order. */
static void keep_pending_pod(struct inventory *inv, int k, const struct k8s_pod *p)
{
    struct snapshot_pending_pod pp = {.sku = k,
                                      .gpus = p->gpus,
                                      .cpu_m = p->cpu_m,
                                      .mem_mib = (p->mem_b + K8S_MIB - 1) / K8S_MIB};
    size_t at = inv->n_pending_pods;

    while (at > 0 && pending_pod_larger(&pp, &inv->pending_pods[at - 1]))
        at--;
    if (at == SNAPSHOT_PENDING_MAX)
        return;
    if (inv->n_pending_pods < SNAPSHOT_PENDING_MAX)
        inv->n_pending_pods++;
    memmove(&inv->pending_pods[at + 1], &inv->pending_pods[at],
            (inv->n_pending_pods - 1 - at) * sizeof(pp));
    memmove(&inv->pending_select[at + 1], &inv->pending_select[at],
            (inv->n_pending_pods - 1 - at) * sizeof(*inv->pending_select));
    inv->pending_pods[at] = pp;
    inv->pending_select[at] = p->select;
}

/* g announced GPUs on the SKU of product/memory_mib, else on the pool's largest SKU. */
static void announce_gpus(struct inventory *inv, int64_t gpus, const char *product, int memory_mib,
                          const struct sku_catalogue *skus)
{
    int g = gpus > K8S_GPUS_MAX ? K8S_GPUS_MAX : (int)gpus;

    if (g <= 0)
        return;
    if (product[0]) {
        int k = sku_match_product(skus, product, memory_mib);

        if (k >= 0 && k < SNAPSHOT_SKU_MAX) {
            inv->announced_serving[k] = add_gpus(inv->announced_serving[k], g);
            return;
        }
    }
    inv->announced_unassigned = add_gpus(inv->announced_unassigned, g);
}

static void add_pod(struct inventory *inv, const struct k8s_pod *p,
                    const struct cluster_config *cfg, const struct sku_catalogue *skus)
{
    long at;

    if (p->phase == K8S_POD_SUCCEEDED || p->phase == K8S_POD_FAILED) {
        inv->stats.terminal_skipped++;
        return;
    }
    if (p->ours && p->job_uid[0] && p->attempt >= 0)
        add_job_pod(inv, p);
    if (p->gpus > 0)
        inv->stats.gpu_pods++;
    if (p->node[0]) {
        struct snapshot_node *n;

        if ((at = index_find(inv, p->node)) < 0) {
            /* CPU-only pods on CPU-only nodes (not kept) are the normal case. */
            inv->stats.pods_unknown_node += p->gpus > 0;
            return;
        }
        /* Every pod bound here takes CPU and memory from the node, GPUs or not (a
         * DaemonSet's agent, a CPU-only pod the member's scheduler put here). */
        n = &inv->nodes[at];
        n->cpu_used_m = add_bounded(n->cpu_used_m, p->cpu_m, K8S_CPU_M_MAX);
        inv->mem_used_b[at] = add_bounded(inv->mem_used_b[at], p->mem_b, K8S_MEM_B_MAX);
        /* Rounded up, so free memory = allocatable - used is never overstated. */
        n->mem_used_mib = (inv->mem_used_b[at] + K8S_MIB - 1) / K8S_MIB;
        if (p->gpus <= 0)
            return;
        n->used = add_gpus(n->used, p->gpus);
        if (p->ours && n->pool == SNAPSHOT_POOL_SERVING)
            n->borrowed = add_gpus(n->borrowed, p->gpus);
        return;
    }
    if (p->gpus <= 0)
        return;
    /* Unbound: demand, not usage. Only serving demand matters to the capacity model;
     * pending training pods are the scheduler's business. Terminating unbound pods
     * will never run, so they are not demand. */
    if (p->phase != K8S_POD_PENDING || p->terminating || p->ours ||
        !cluster_config_serving_namespace(cfg, p->ns))
        return;
    /* Held by its scheduling gates (a queue admitting it, Kueue's for one): the
     * kube-scheduler does not place it yet, whatever is free. It is demand coming, as an
     * HPA's scale-up is: announced, not pending. */
    if (p->gated) {
        announce_gpus(inv, p->gpus, p->product, p->memory_mib, skus);
        return;
    }
    inv->stats.pending_serving_pods++;
    if (p->product[0]) {
        int k = sku_match_product(skus, p->product, p->memory_mib);

        if (k >= 0 && k < SNAPSHOT_SKU_MAX) {
            inv->pending_serving[k] = add_gpus(inv->pending_serving[k], p->gpus);
            keep_pending_pod(inv, k, p);
            return;
        }
    }
    inv->pending_unassigned = add_gpus(inv->pending_unassigned, p->gpus);
    keep_pending_pod(inv, -1, p);
}

/* Parses one list page and checks it is a list of kind (or a kind-less list, as some
 * proxies strip it); *items_out is the items token, -1 when the list is empty. */
static int open_list(struct inventory *inv, const char *body, size_t len, const char *kind,
                     char *cont, size_t cont_size, int *items_out, struct err *e)
{
    struct k8s_json *d = parser(inv);
    int items, k;

    if (k8s_json_parse(d, body, len, K8S_JSON_MAX_DEPTH, e) != 0)
        return -1;
    if (k8s_json_type(d, 0) != K8S_JSON_OBJECT)
        return err_set(e, ERR_MALFORMED, "body", "%s body is not a JSON object", kind);
    k = k8s_json_get(d, 0, "kind");
    if (k >= 0 && !k8s_json_str_eq(d, k, kind)) {
        char got[64];

        k8s_json_str(d, k, got, sizeof(got));
        return err_set(e, ERR_MALFORMED, "kind", "expected kind %s, got \"%s\"", kind, got);
    }
    items = k8s_json_get(d, 0, "items");
    if (items >= 0 && k8s_json_type(d, items) != K8S_JSON_ARRAY &&
        k8s_json_type(d, items) != K8S_JSON_NULL)
        return err_set(e, ERR_MALFORMED, "items", "%s items is not an array", kind);
    if (items < 0 && k < 0)
        return err_set(e, ERR_MALFORMED, "items", "body is not a %s", kind);
    if (k8s_json_str(d, k8s_json_path(d, 0, "metadata", "continue", K8S_JSON_END), cont,
                     cont_size) >= (long)cont_size)
        return err_set(e, ERR_TOO_LARGE, "metadata.continue", "continue token is too long");
    *items_out = items;
    return 0;
}

int inventory_add_nodes(struct inventory *inv, const char *body, size_t len,
                        const struct cluster_config *cfg, const struct sku_catalogue *skus,
                        char *cont, size_t cont_size, struct err *e)
{
    struct k8s_json *d = parser(inv);
    int items;

    if (open_list(inv, body, len, "NodeList", cont, cont_size, &items, e) != 0)
        return -1;
    for (int it = k8s_json_child(d, items); it >= 0; it = k8s_json_next(d, items, it)) {
        struct k8s_node n;
        struct err ie = {0};

        inv->stats.nodes++;
        if (k8s_node_read(d, it, cfg, skus, &n, &ie) != 0) {
            item_error(inv, "node", &ie);
            continue;
        }
        add_node(inv, &n);
    }
    return 0;
}

void inventory_add_node(struct inventory *inv, const struct k8s_node *n)
{
    inv->stats.nodes++;
    add_node(inv, n);
}

int inventory_add_pods(struct inventory *inv, const char *body, size_t len,
                       const struct cluster_config *cfg, const struct sku_catalogue *skus,
                       char *cont, size_t cont_size, struct err *e)
{
    struct k8s_json *d = parser(inv);
    int items;

    if (open_list(inv, body, len, "PodList", cont, cont_size, &items, e) != 0)
        return -1;
    for (int it = k8s_json_child(d, items); it >= 0; it = k8s_json_next(d, items, it)) {
        struct k8s_pod p;
        struct err ie = {0};

        inv->stats.pods++;
        if (k8s_pod_read(d, it, &p, &ie) != 0) {
            item_error(inv, "pod", &ie);
            continue;
        }
        add_pod(inv, &p, cfg, skus);
    }
    return 0;
}

void inventory_add_pod(struct inventory *inv, const struct k8s_pod *p,
                       const struct cluster_config *cfg, const struct sku_catalogue *skus)
{
    inv->stats.pods++;
    add_pod(inv, p, cfg, skus);
}

/* Replicas w wants that have no pods yet, 0 when none or when w is not serving. */
static int missing_replicas(const struct k8s_deployment *w, int hpa_desired,
                            const struct cluster_config *cfg)
{
    int want = hpa_desired > w->spec_replicas ? hpa_desired : w->spec_replicas;

    if (want <= w->status_replicas || w->gpus_per_replica <= 0 ||
        !cluster_config_serving_namespace(cfg, w->ns))
        return 0;
    return want - w->status_replicas;
}

void inventory_add_announced(struct inventory *inv, const struct k8s_deployment *w, int hpa_desired,
                             const struct cluster_config *cfg, const struct sku_catalogue *skus)
{
    int missing = missing_replicas(w, hpa_desired, cfg);

    if (missing == 0)
        return;
    inv->stats.announcing_workloads++;
    announce_gpus(inv, (int64_t)missing * w->gpus_per_replica, w->product, w->memory_mib, skus);
}

void inventory_add_announced_lws(struct inventory *inv, const struct k8s_lws *l, int hpa_desired,
                                 const struct cluster_config *cfg, const struct sku_catalogue *skus)
{
    const struct k8s_deployment *w = &l->group;
    int missing = missing_replicas(w, hpa_desired, cfg);
    int64_t leader = l->leader_gpus;

    if (missing == 0)
        return;
    inv->stats.announcing_workloads++;
    /* The leader's GPUs go with the workers' unless its template names another product. */
    if (!l->leader_product[0] ||
        (strcmp(l->leader_product, w->product) == 0 && l->leader_memory_mib == w->memory_mib)) {
        announce_gpus(inv, (int64_t)missing * w->gpus_per_replica, w->product, w->memory_mib, skus);
        return;
    }
    announce_gpus(inv, (int64_t)missing * (w->gpus_per_replica - leader), w->product, w->memory_mib,
                  skus);
    announce_gpus(inv, (int64_t)missing * leader, l->leader_product, l->leader_memory_mib, skus);
}

void inventory_finish(struct inventory *inv)
{
    int by_sku[SNAPSHOT_SKU_MAX] = {0};
    int best = -1;
    size_t kept = 0;

    finish_job_pods(inv);
    if (inv->pending_unassigned == 0 && inv->announced_unassigned == 0)
        return;
    for (size_t i = 0; i < inv->n_nodes; i++) {
        const struct snapshot_node *n = &inv->nodes[i];

        if (n->pool == SNAPSHOT_POOL_SERVING && n->sku >= 0 && n->sku < SNAPSHOT_SKU_MAX)
            by_sku[n->sku] = add_gpus(by_sku[n->sku], n->allocatable);
    }
    for (int k = 0; k < SNAPSHOT_SKU_MAX; k++)
        if (by_sku[k] > 0 && (best < 0 || by_sku[k] > by_sku[best]))
            best = k;
    /* Pods without a product go where their GPUs are counted (dropped with them when the
     * cluster has no serving SKU). */
    for (size_t i = 0; i < inv->n_pending_pods; i++) {
        if (inv->pending_pods[i].sku < 0)
            inv->pending_pods[i].sku = best;
        if (inv->pending_pods[i].sku >= 0) {
            inv->pending_select[kept] = inv->pending_select[i];
            inv->pending_pods[kept++] = inv->pending_pods[i];
        }
    }
    inv->n_pending_pods = kept;
    if (best >= 0) {
        inv->pending_serving[best] = add_gpus(inv->pending_serving[best], inv->pending_unassigned);
        inv->pending_unassigned = 0;
        inv->announced_serving[best] =
            add_gpus(inv->announced_serving[best], inv->announced_unassigned);
        inv->announced_unassigned = 0;
    }
}

void inventory_copy(const struct inventory *inv, int reserve_gpus, struct snapshot *s, size_t c,
                    size_t node_first)
{
    bool serving_sku[SNAPSHOT_SKU_MAX] = {false};

    if (inv->n_nodes)
        memcpy(&s->nodes[node_first], inv->nodes, inv->n_nodes * sizeof(*inv->nodes));
    s->clusters[c].node_first = node_first;
    s->clusters[c].n_nodes = inv->n_nodes;
    for (size_t i = 0; i < inv->n_nodes; i++)
        if (inv->nodes[i].pool == SNAPSHOT_POOL_SERVING && inv->nodes[i].sku >= 0 &&
            inv->nodes[i].sku < SNAPSHOT_SKU_MAX)
            serving_sku[inv->nodes[i].sku] = true;
    for (size_t k = 0; k < s->n_skus; k++) {
        struct snapshot_agg *a = snapshot_agg(s, c, SNAPSHOT_POOL_SERVING, (int)k);

        a->pending_serving = inv->pending_serving[k];
        a->announced_serving = inv->announced_serving[k];
        a->reserve = serving_sku[k] ? reserve_gpus : 0;
    }
    s->clusters[c].serving.n_pending = 0;
    for (size_t i = 0; i < inv->n_pending_pods; i++) {
        const struct snapshot_pending_pod *pp = &inv->pending_pods[i];
        size_t p = s->clusters[c].serving.n_pending;
        int allowed;

        if ((size_t)pp->sku >= s->n_skus)
            continue;
        s->clusters[c].serving.pending[p] = *pp;
        s->clusters[c].serving.n_pending++;
        for (size_t j = 0; j < inv->n_nodes; j++)
            if (inv->nodes[j].pool == SNAPSHOT_POOL_SERVING &&
                !pod_select_allows(&inv->pending_select[i], &inv->labels[j], inv->nodes[j].name))
                s->nodes[node_first + j].pending_barred |= (uint16_t)(1u << p);
        /* A pod that no serving node of its SKU may take is not the pool's demand: the
         * GPUs lent there stand in nobody's way. */
        if (snapshot_pending_nodes(s, c, p, &allowed) > 0 && allowed == 0) {
            struct snapshot_agg *a = snapshot_agg(s, c, SNAPSHOT_POOL_SERVING, pp->sku);

            a->pending_serving = a->pending_serving > pp->gpus ? a->pending_serving - pp->gpus : 0;
        }
    }
}
