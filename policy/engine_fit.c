/* engine_fit.c -- node-level fit in the decision cycle: each node's free CPU and memory
 * beside its free GPUs, whether one worker of a job fits a node, how many workers fit a
 * group, and which node a worker goes to, scored with policy/nodefit.c (the function
 * bench_packing measures on the openb traces). */
#include "policy/engine.h"

#include "base/mem.h"
#include "policy/nodefit.h"

#include <stdlib.h>
#include <string.h>

/* ---- the expected work -------------------------------------------------------------- */

/* Shapes are rounded up to whole cores and whole GiB before they are counted, so a queue of
 * many near-equal requests gives a few shapes; the heaviest ENGINE_FIT_SHAPES are kept. */
#define ENGINE_FIT_SHAPES 32
/* The rehearsal that picks the profile's weighting (nodefit_profile_rehearse()): runs per
 * weighting, and at most this many free nodes, evenly spaced, so its cost per cycle is
 * bounded whatever the federation's size. */
#define ENGINE_FIT_REHEARSALS     2
#define ENGINE_FIT_REHEARSE_NODES 128

struct fit_shape {
    struct nodefit_req r;
    double w;
};

static int cmp_shape_key(const void *a, const void *b)
{
    const struct nodefit_req *x = &((const struct fit_shape *)a)->r;
    const struct nodefit_req *y = &((const struct fit_shape *)b)->r;

    if (x->n_gpus != y->n_gpus)
        return x->n_gpus < y->n_gpus ? -1 : 1;
    if (x->cpu != y->cpu)
        return x->cpu < y->cpu ? -1 : 1;
    if (x->mem != y->mem)
        return x->mem < y->mem ? -1 : 1;
    return (x->models > y->models) - (x->models < y->models);
}

static int cmp_shape_weight(const void *a, const void *b)
{
    const struct fit_shape *x = a, *y = b;

    if (x->w != y->w)
        return x->w > y->w ? -1 : 1;
    return cmp_shape_key(a, b);
}

static int64_t round_up(int64_t v, int64_t unit)
{
    return v <= 0 ? 0 : (v + unit - 1) / unit * unit;
}

/* A node's CPU or memory allocatable, or more than any request when the snapshot does not
 * know it (0). */
static int64_t cap_or_unmetered(int64_t v)
{
    return v > 0 ? v : ENGINE_UNMETERED;
}

/* A node's size as nodefit sees it (capacity only; the free amounts are left 0). A node
 * whose CPU or memory the snapshot does not know is given more than any request, so it never
 * binds. False for a node nodefit cannot score (no GPUs, more than NODEFIT_GPUS_MAX). */
static bool fit_kind(const struct snapshot_node *n, struct nodefit_node *out)
{
    if (n->allocatable < 1 || n->allocatable > NODEFIT_GPUS_MAX)
        return false;
    memset(out, 0, sizeof(*out));
    out->n_gpus = n->allocatable;
    out->model = n->sku >= 0 && n->sku < NODEFIT_MODELS_MAX ? n->sku + 1 : 0;
    out->cpu_cap = cap_or_unmetered(n->cpu_alloc_m);
    out->mem_cap = cap_or_unmetered(n->mem_alloc_mib);
    return true;
}

/* The node as nodefit sees it: whole devices, the free ones first, its free CPU and memory
 * as the cycle has left them. */
static bool fit_node(const struct engine *en, size_t node, struct nodefit_node *out)
{
    int f = en->nfree[node];

    if (!fit_kind(&en->s->nodes[node], out))
        return false;
    for (int d = 0; d < out->n_gpus; d++)
        out->gpu_free[d] = d < f ? NODEFIT_MILLI : 0;
    out->cpu_free = en->ncpu[node];
    out->mem_free = en->nmem[node];
    return true;
}

/* Tells the profile the federation's schedulable nodes, so a worker that lands on a kind of
 * node the queue needs more than it has (8-GPU workers of 120 cores, which only the 128-core
 * nodes of their SKU take) pays for the demand it turns away there, as bench_packing's
 * policy does. The claims are counted per SKU: the engine has chosen the SKU (with the
 * cluster) before nodefit picks a node. Then rehearses the queue's workers on those of the
 * nodes with a free GPU, as this cycle finds them, to pick how the measure weighs the
 * queue's shapes (by their GPUs or by their count of workers), as bench_packing's policy
 * does on the empty cluster. */
static void fit_profile_nodes(struct engine *en)
{
    const struct snapshot *s = en->s;
    struct nodefit_node *v = xcalloc(s->n_nodes + 1, sizeof(*v));
    struct nodefit_rehearsal rh = {
        .runs = ENGINE_FIT_REHEARSALS, .max_nodes = ENGINE_FIT_REHEARSE_NODES, .seed = 1};
    size_t n = 0, m = 0;

    for (size_t i = 0; i < s->n_nodes; i++)
        if (en->ngroup[i] >= 0 && s->nodes[i].schedulable && fit_node(en, i, &v[n]))
            n++;
    /* Every node was checked by fit_kind() (device counts in range). */
    if (nodefit_profile_set_nodes_per_model(en->profile, v, n, NULL)) {
        nodefit_profile_free(&en->profile);
        free(v);
        return;
    }
    /* fit_node() puts the free devices first. */
    for (size_t k = 0; k < n; k++)
        if (v[k].gpu_free[0] > 0)
            v[m++] = v[k];
    nodefit_profile_rehearse(en->profile, v, m, &rh);
    free(v);
}

/* The profile nodefit scores against: the workers the queue asks for, by shape, each
 * weighted by how many workers of it are queued, and by their GPUs or their count as a
 * rehearsal finds better. Without a queue of GPU work there is nothing to protect, and
 * nodes are chosen by best fit alone. */
void engine_fit_profile(struct engine *en)
{
    const struct policy_input *in = en->in;
    struct fit_shape *v = xcalloc(in->n_queue + 1, sizeof(*v));
    struct nodefit_req *shapes;
    double *weights;
    size_t n = 0, u = 0;

    for (size_t j = 0; j < in->n_queue; j++) {
        const struct engine_job *ej = &en->jobs[j];

        if (ej->invalid || ej->per_worker < 1 || ej->per_worker > NODEFIT_GPUS_MAX)
            continue;
        v[n].r.n_gpus = ej->per_worker;
        v[n].r.milli = NODEFIT_MILLI;
        v[n].r.cpu = round_up(ej->cpu, 1000);
        v[n].r.mem = round_up(ej->mem, 1024);
        /* The SKUs it may run on are its GPU models: a node's fragments count only for the
         * shapes that can use that node's SKU. */
        for (int o = 0; o < ej->n_opts; o++)
            if (ej->opts[o] >= 0 && ej->opts[o] < NODEFIT_MODELS_MAX)
                v[n].r.models |= NODEFIT_MODEL_BIT(ej->opts[o] + 1);
        v[n].w = ej->workers;
        n++;
    }
    if (n == 0) {
        free(v);
        return;
    }
    qsort(v, n, sizeof(*v), cmp_shape_key);
    for (size_t i = 0; i < n; i++) {
        if (u > 0 && cmp_shape_key(&v[u - 1], &v[i]) == 0)
            v[u - 1].w += v[i].w;
        else
            v[u++] = v[i];
    }
    qsort(v, u, sizeof(*v), cmp_shape_weight);
    if (u > ENGINE_FIT_SHAPES)
        u = ENGINE_FIT_SHAPES;
    shapes = xcalloc(u, sizeof(*shapes));
    weights = xcalloc(u, sizeof(*weights));
    for (size_t i = 0; i < u; i++) {
        shapes[i] = v[i].r;
        weights[i] = v[i].w;
    }
    /* Every shape was checked above (GPUs in range, whole devices, requests >= 0). */
    if (nodefit_profile_new(shapes, weights, u, &en->profile, NULL))
        en->profile = NULL;
    else
        fit_profile_nodes(en);
    free(shapes);
    free(weights);
    free(v);
}

static int cmp_kind(const void *a, const void *b)
{
    const struct engine_kind *x = a, *y = b;

    if (x->gpus != y->gpus)
        return x->gpus < y->gpus ? -1 : 1;
    if (x->cpu != y->cpu)
        return x->cpu < y->cpu ? -1 : 1;
    return (x->mem > y->mem) - (x->mem < y->mem);
}

static void build_kinds(struct engine *en, struct engine_group *G)
{
    size_t u = 0;

    G->kinds = xcalloc(G->n + 1, sizeof(*G->kinds));
    for (size_t i = 0; i < G->n; i++) {
        const struct snapshot_node *n = &en->s->nodes[G->nodes[i]];
        struct engine_kind *k = &G->kinds[G->n_kinds];

        if (!n->schedulable || n->allocatable <= 0)
            continue;
        k->gpus = n->allocatable;
        k->cpu = cap_or_unmetered(n->cpu_alloc_m);
        k->mem = cap_or_unmetered(n->mem_alloc_mib);
        k->count = 1;
        G->n_kinds++;
    }
    if (G->n_kinds > 1)
        qsort(G->kinds, G->n_kinds, sizeof(*G->kinds), cmp_kind);
    for (size_t i = 0; i < G->n_kinds; i++) {
        if (u > 0 && cmp_kind(&G->kinds[u - 1], &G->kinds[i]) == 0)
            G->kinds[u - 1].count++;
        else
            G->kinds[u++] = G->kinds[i];
    }
    G->n_kinds = u;
}

void engine_fit_build(struct engine *en)
{
    const struct snapshot *s = en->s;

    for (size_t gi = 0; gi < en->n_groups; gi++)
        build_kinds(en, &en->groups[gi]);

    en->ncpu = xcalloc(s->n_nodes + 1, sizeof(*en->ncpu));
    en->nmem = xcalloc(s->n_nodes + 1, sizeof(*en->nmem));
    for (size_t i = 0; i < s->n_nodes; i++) {
        const struct snapshot_node *n = &s->nodes[i];
        int64_t c = n->cpu_alloc_m - n->cpu_used_m, m = n->mem_alloc_mib - n->mem_used_mib;

        en->ncpu[i] = n->cpu_alloc_m > 0 ? (c > 0 ? c : 0) : ENGINE_UNMETERED;
        en->nmem[i] = n->mem_alloc_mib > 0 ? (m > 0 ? m : 0) : ENGINE_UNMETERED;
    }
}

void engine_fit_free(struct engine *en)
{
    for (size_t gi = 0; en->groups && gi < en->n_groups; gi++)
        free(en->groups[gi].kinds);
    free(en->ncpu);
    free(en->nmem);
    nodefit_profile_free(&en->profile);
}

/* ---- one node --------------------------------------------------------------------- */

int engine_workers_on(const struct engine_job *ej, int f, int64_t cpu, int64_t mem)
{
    int64_t k = f / ej->per_worker;

    if (ej->cpu > 0 && cpu / ej->cpu < k)
        k = cpu / ej->cpu;
    if (ej->mem > 0 && mem / ej->mem < k)
        k = mem / ej->mem;
    return (int)k;
}

void engine_node_use(struct engine *en, size_t node, size_t j, int sign)
{
    const struct engine_job *ej = &en->jobs[j];

    if (en->ncpu[node] != ENGINE_UNMETERED)
        en->ncpu[node] -= sign * ej->cpu;
    if (en->nmem[node] != ENGINE_UNMETERED)
        en->nmem[node] -= sign * ej->mem;
}

void engine_node_take_resources(struct engine *en, size_t node, int64_t cpu, int64_t mem)
{
    if (en->ncpu[node] != ENGINE_UNMETERED)
        en->ncpu[node] = en->ncpu[node] > cpu ? en->ncpu[node] - cpu : 0;
    if (en->nmem[node] != ENGINE_UNMETERED)
        en->nmem[node] = en->nmem[node] > mem ? en->nmem[node] - mem : 0;
}

bool engine_fit_score(const struct engine *en, size_t node, size_t j, struct nodefit_eval *out)
{
    const struct engine_job *ej = &en->jobs[j];
    struct nodefit_node nn;
    struct nodefit_req r;

    if (!en->profile || ej->per_worker > NODEFIT_GPUS_MAX || !fit_node(en, node, &nn))
        return false;
    memset(&r, 0, sizeof(r));
    r.n_gpus = ej->per_worker;
    r.milli = NODEFIT_MILLI;
    r.cpu = ej->cpu;
    r.mem = ej->mem;
    return nodefit_score(en->profile, &nn, nodefit_frag(en->profile, &nn), &r, out) == 0;
}

/* ---- a group ---------------------------------------------------------------------- */

int engine_fit_slots(const struct engine *en, const struct engine_group *G, size_t j, int stop,
                     struct policy_why *w)
{
    const struct engine_job *ej = &en->jobs[j];
    int slots = 0, short_cpu = 0, short_mem = 0;

    for (size_t i = 0; i < G->n; i++) {
        size_t node = G->nodes[i];
        size_t holder = en->reserved_by[node];
        int f = en->nfree[node];

        if (f < ej->per_worker || (holder && holder != j + 1))
            continue;
        slots += engine_workers_on(ej, f, en->ncpu[node], en->nmem[node]);
        short_cpu += en->ncpu[node] < ej->cpu;
        short_mem += en->nmem[node] < ej->mem;
        if (!w && slots >= stop)
            break;
    }
    if (w) {
        w->value = short_cpu;
        w->value2 = short_mem;
    }
    return slots;
}

void engine_group_down(const struct engine *en, const struct engine_group *G,
                       const struct engine_job *ej, struct policy_why *w)
{
    for (size_t i = 0; i < G->n; i++) {
        const struct snapshot_node *n = &en->s->nodes[G->nodes[i]];

        /* Only a node that could hold a worker when idle is worth naming. */
        if (!n->schedulable &&
            engine_workers_on(ej, n->allocatable, cap_or_unmetered(n->cpu_alloc_m),
                              cap_or_unmetered(n->mem_alloc_mib)) > 0) {
            w->down_nodes++;
            w->down_gpus += n->allocatable;
        }
    }
}

int engine_fit_slots_empty(const struct engine *en, const struct engine_group *G, size_t j)
{
    const struct engine_job *ej = &en->jobs[j];
    int slots = 0;

    for (size_t k = 0; k < G->n_kinds; k++)
        slots += G->kinds[k].count *
                 engine_workers_on(ej, G->kinds[k].gpus, G->kinds[k].cpu, G->kinds[k].mem);
    return slots;
}
