/* nodefit.c -- expected stranded GPU capacity per node and the device choice that adds the
 * least of it. */
#include "policy/nodefit.h"

#include "base/err.h"
#include "base/hash.h"
#include "base/mem.h"

#include <stdlib.h>
#include <string.h>

struct shape {
    int64_t cpu, mem;
    int n_gpus;
    int milli;
    uint64_t models; /* 0 = any */
    double w;        /* weight in the measure (GPU shapes) or share of the CPU-only demand */
    double demand;   /* GPU shapes: share of the GPU demand (the claims are counted on it) */
    double count;    /* share of all requests, CPU-only ones included */
};

struct nodefit_profile {
    struct shape *s; /* GPU shapes only, by milli ascending */
    size_t n;
    /* CPU-only shapes, w their share of the CPU those shapes ask for. */
    struct shape *cpu_only;
    size_t n_cpu_only;
    /* CPU (millicores) and memory (MiB) the expected work asks for per whole GPU it asks
     * for, CPU-only requests included: they land on GPU nodes too and eat the same cores. */
    double cpu_per_gpu, mem_per_gpu;
    /* Per kind of node, after nodefit_profile_set_nodes(): the share of a milli-GPU placed
     * there that displaces demand with nowhere else to go, the capacity a shape can use
     * being the kinds of node it fits when they are empty. */
    struct node_class *cls;
    size_t n_cls;
    /* After nodefit_profile_set_nodes*(): when the work asks for c > 1 times the CPU the
     * nodes have per GPU, 1 - 1/c (the share of CPU taken elsewhere that turns demand
     * away); 0 otherwise. */
    double cpu_displace;
    enum nodefit_weights weights;
    double count_gpu; /* share of the requests that ask for GPUs */
};

/* Nodes of the same GPU model, device count, CPU and memory. */
struct node_class {
    int64_t cpu_cap, mem_cap;
    int n_gpus, model;
    double milli; /* GPU capacity of all nodes of the kind */
    double claim, displace;
};

static int cmp_shape(const void *a, const void *b)
{
    const struct shape *x = a, *y = b;

    if (x->milli != y->milli)
        return x->milli < y->milli ? -1 : 1;
    if (x->n_gpus != y->n_gpus)
        return x->n_gpus < y->n_gpus ? -1 : 1;
    if (x->cpu != y->cpu)
        return x->cpu < y->cpu ? -1 : 1;
    if (x->mem != y->mem)
        return x->mem < y->mem ? -1 : 1;
    return (x->models > y->models) - (x->models < y->models);
}

static int check_req(const struct nodefit_req *r, const char *what, size_t i, struct err *e)
{
    if (r->cpu < 0 || r->mem < 0)
        return err_set(e, ERR_INVALID, what, "%s[%zu]: cpu and memory must be >= 0", what, i);
    if (r->n_gpus < 0 || r->n_gpus > NODEFIT_GPUS_MAX)
        return err_set(e, ERR_INVALID, what, "%s[%zu].n_gpus %d is not in [0, %d]", what, i,
                       r->n_gpus, NODEFIT_GPUS_MAX);
    if (r->n_gpus > 0 && (r->milli < 1 || r->milli > NODEFIT_MILLI))
        return err_set(e, ERR_INVALID, what, "%s[%zu].milli %d is not in [1, 1000]", what, i,
                       r->milli);
    if (r->n_gpus > 1 && r->milli != NODEFIT_MILLI)
        return err_set(e, ERR_INVALID, what,
                       "%s[%zu].milli %d: only single-device requests may share a device", what, i,
                       r->milli);
    return 0;
}

static bool model_in(uint64_t models, int model);

int nodefit_profile_new(const struct nodefit_req *shapes, const double *weights, size_t n,
                        struct nodefit_profile **out, struct err *e)
{
    struct nodefit_profile *p;
    double total = 0, wsum = 0, csum = 0, csum_gpu = 0;

    for (size_t i = 0; i < n; i++) {
        if (check_req(&shapes[i], "shapes", i, e))
            return -1;
        if (!(weights[i] > 0))
            return err_set(e, ERR_INVALID, "weights", "weights[%zu] must be > 0, not %g", i,
                           weights[i]);
        total += weights[i];
    }
    p = xcalloc(1, sizeof(*p));
    p->s = xcalloc(n + 1, sizeof(*p->s));
    p->cpu_only = xcalloc(n + 1, sizeof(*p->cpu_only));
    {
        double cpu = 0, mem = 0, gpus = 0;

        for (size_t i = 0; i < n; i++) {
            double w = weights[i] / total;

            cpu += w * (double)shapes[i].cpu;
            mem += w * (double)shapes[i].mem;
            gpus += w * shapes[i].n_gpus * shapes[i].milli / (double)NODEFIT_MILLI;
        }
        p->cpu_per_gpu = gpus > 0 ? cpu / gpus : 0;
        p->mem_per_gpu = gpus > 0 ? mem / gpus : 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (shapes[i].n_gpus == 0) {
            struct shape *c = &p->cpu_only[p->n_cpu_only++];

            c->cpu = shapes[i].cpu;
            c->mem = shapes[i].mem;
            c->w = weights[i] * (double)shapes[i].cpu;
            c->count = weights[i] / total;
            csum += c->w;
            continue;
        }
        p->s[p->n].cpu = shapes[i].cpu;
        p->s[p->n].mem = shapes[i].mem;
        p->s[p->n].n_gpus = shapes[i].n_gpus;
        p->s[p->n].milli = shapes[i].milli;
        p->s[p->n].models = shapes[i].models;
        p->s[p->n].demand = weights[i] / total * shapes[i].n_gpus * shapes[i].milli;
        p->s[p->n].count = weights[i] / total;
        wsum += p->s[p->n].demand;
        csum_gpu += p->s[p->n].count;
        p->n++;
    }
    for (size_t i = 0; i < p->n; i++)
        p->s[i].demand /= wsum;
    p->count_gpu = csum_gpu;
    nodefit_profile_weigh(p, NODEFIT_WEIGHT_DEMAND);
    for (size_t i = 0; i < p->n_cpu_only && csum > 0; i++)
        p->cpu_only[i].w /= csum;
    if (p->n > 1)
        qsort(p->s, p->n, sizeof(*p->s), cmp_shape);
    *out = p;
    return 0;
}

/* True when shape s fits an empty node of kind c. */
static bool class_takes(const struct node_class *c, const struct shape *s)
{
    return model_in(s->models, c->model) && c->cpu_cap >= s->cpu && c->mem_cap >= s->mem &&
           c->n_gpus >= s->n_gpus;
}

/* The GPU capacity (milli-GPUs) of kind c that shape s can use. When bound (its GPU models
 * keep it off some of the kinds claimed together), what an empty node of the kind holds of
 * it: its pods are limited by the devices (a shared device holds 1000 / milli of them), the
 * cores and the memory, so a 12-core pod uses one GPU of a 16-core 2-GPU node. Otherwise all
 * of the kind's GPUs: where such a shape's cores or memory bind, the measure's CPU term
 * (unfed(), at the work's cores and memory per GPU, which the shapes free to go anywhere
 * make up) charges the GPUs it strands node by node, and charging them in the claims as well
 * raises every kind's claim at once. */
static double usable(const struct node_class *c, const struct shape *s, bool bound)
{
    int64_t pods;

    if (!bound)
        return c->milli;
    pods = s->milli == NODEFIT_MILLI ? c->n_gpus / s->n_gpus
                                     : (int64_t)c->n_gpus * (NODEFIT_MILLI / s->milli);
    if (s->cpu > 0 && c->cpu_cap / s->cpu < pods)
        pods = c->cpu_cap / s->cpu;
    if (s->mem > 0 && c->mem_cap / s->mem < pods)
        pods = c->mem_cap / s->mem;
    return c->milli * (double)(pods * s->n_gpus * s->milli) / (c->n_gpus * NODEFIT_MILLI);
}

static int cmp_class(const void *a, const void *b)
{
    const struct node_class *x = a, *y = b;

    if (x->model != y->model)
        return x->model < y->model ? -1 : 1;
    if (x->n_gpus != y->n_gpus)
        return x->n_gpus < y->n_gpus ? -1 : 1;
    if (x->cpu_cap != y->cpu_cap)
        return x->cpu_cap < y->cpu_cap ? -1 : 1;
    return (x->mem_cap > y->mem_cap) - (x->mem_cap < y->mem_cap);
}

/* The node's kind in p->cls (sorted by cmp_class), or NULL. */
static const struct node_class *class_of(const struct nodefit_profile *p,
                                         const struct nodefit_node *nd)
{
    struct node_class key = {
        .cpu_cap = nd->cpu_cap, .mem_cap = nd->mem_cap, .n_gpus = nd->n_gpus, .model = nd->model};

    return p->n_cls ? bsearch(&key, p->cls, p->n_cls, sizeof(*p->cls), cmp_class) : NULL;
}

/* Replaces p's kinds of node with those of nodes, sorted (model first), each with its GPU
 * capacity; the claims are left at 0. Sets the CPU's claim from the nodes' cores per GPU
 * (nodes without GPUs included: CPU-only requests may use them). */
static int build_classes(struct nodefit_profile *p, const struct nodefit_node *nodes, size_t n,
                         struct err *e)
{
    size_t u = 0;
    double cores = 0, gpus = 0;

    for (size_t i = 0; i < n; i++)
        if (nodes[i].n_gpus < 0 || nodes[i].n_gpus > NODEFIT_GPUS_MAX)
            return err_set(e, ERR_INVALID, "nodes", "nodes[%zu].n_gpus %d is not in [0, %d]", i,
                           nodes[i].n_gpus, NODEFIT_GPUS_MAX);
    free(p->cls);
    p->cls = xcalloc(n + 1, sizeof(*p->cls));
    p->n_cls = 0;
    for (size_t i = 0; i < n; i++) {
        struct node_class *c = &p->cls[p->n_cls];

        cores += (double)nodes[i].cpu_cap;
        if (nodes[i].n_gpus == 0)
            continue;
        c->cpu_cap = nodes[i].cpu_cap;
        c->mem_cap = nodes[i].mem_cap;
        c->n_gpus = nodes[i].n_gpus;
        c->model = nodes[i].model;
        c->milli = (double)nodes[i].n_gpus * NODEFIT_MILLI;
        p->n_cls++;
        gpus += nodes[i].n_gpus;
    }
    p->cpu_displace = 0;
    if (gpus > 0 && cores > 0 && p->cpu_per_gpu * gpus > cores)
        p->cpu_displace = 1 - cores / (p->cpu_per_gpu * gpus);
    if (p->n_cls > 1)
        qsort(p->cls, p->n_cls, sizeof(*p->cls), cmp_class);
    for (size_t i = 0; i < p->n_cls; i++) {
        if (u > 0 && cmp_class(&p->cls[u - 1], &p->cls[i]) == 0)
            p->cls[u - 1].milli += p->cls[i].milli;
        else
            p->cls[u++] = p->cls[i];
    }
    p->n_cls = u;
    return 0;
}

/* Claims on kinds lo..hi-1 (capacity total) by the shapes that fit one of them, each shape's
 * share of the demand taken among those shapes when rescale, as given otherwise. Shape s
 * asks for the share d of the GPU demand and can use the share a of the capacity (usable()
 * of the kinds of node it fits when they are empty), so it claims d / a of each milli of
 * those (a kind whose nodes it can fill only half of is used up twice as fast); a kind
 * claimed c > 1 times over turns away 1 - 1/c of what lands on it. Size limits a shape as a
 * model constraint does: an 8-GPU request for 120 cores can only use the 8-GPU nodes with
 * 120 cores or more, and claims those. */
static void claim_classes(struct nodefit_profile *p, size_t lo, size_t hi, bool rescale)
{
    double total = 0, wsum = 0;

    for (size_t c = lo; c < hi; c++)
        total += p->cls[c].milli;
    for (size_t i = 0; i < p->n && rescale; i++)
        for (size_t c = lo; c < hi; c++)
            if (class_takes(&p->cls[c], &p->s[i])) {
                wsum += p->s[i].demand;
                break;
            }
    if (total <= 0 || (rescale && wsum <= 0))
        return;
    for (size_t i = 0; i < p->n; i++) {
        const struct shape *sh = &p->s[i];
        double a = 0, d = rescale ? sh->demand / wsum : sh->demand;
        bool bound = false;

        for (size_t c = lo; c < hi; c++)
            bound |= !model_in(sh->models, p->cls[c].model);
        for (size_t c = lo; c < hi; c++)
            if (class_takes(&p->cls[c], sh))
                a += usable(&p->cls[c], sh, bound);
        if (a <= 0)
            continue;
        for (size_t c = lo; c < hi; c++)
            if (class_takes(&p->cls[c], sh))
                p->cls[c].claim += d * total / a;
    }
    for (size_t c = lo; c < hi; c++)
        p->cls[c].displace = p->cls[c].claim > 1 ? 1 - 1 / p->cls[c].claim : 0;
}

int nodefit_profile_set_nodes(struct nodefit_profile *p, const struct nodefit_node *nodes, size_t n,
                              struct err *e)
{
    if (build_classes(p, nodes, n, e))
        return -1;
    claim_classes(p, 0, p->n_cls, false);
    return 0;
}

int nodefit_profile_set_nodes_per_model(struct nodefit_profile *p, const struct nodefit_node *nodes,
                                        size_t n, struct err *e)
{
    if (build_classes(p, nodes, n, e))
        return -1;
    for (size_t lo = 0, hi; lo < p->n_cls; lo = hi) {
        for (hi = lo + 1; hi < p->n_cls && p->cls[hi].model == p->cls[lo].model; hi++)
            ;
        claim_classes(p, lo, hi, true);
    }
    return 0;
}

void nodefit_profile_free(struct nodefit_profile **p)
{
    if (!p || !*p)
        return;
    free((*p)->cls);
    free((*p)->cpu_only);
    free((*p)->s);
    free(*p);
    *p = NULL;
}

static int devices_with(const struct nodefit_node *node, int milli)
{
    int k = 0;

    for (int j = 0; j < node->n_gpus; j++)
        k += node->gpu_free[j] >= milli;
    return k;
}

static bool model_in(uint64_t models, int model)
{
    return models == 0 ||
           (model >= 1 && model <= NODEFIT_MODELS_MAX && (models & NODEFIT_MODEL_BIT(model)));
}

bool nodefit_model_ok(const struct nodefit_node *node, const struct nodefit_req *r)
{
    return r->n_gpus == 0 || model_in(r->models, node->model);
}

bool nodefit_fits(const struct nodefit_node *node, const struct nodefit_req *r)
{
    if (node->cpu_free < r->cpu || node->mem_free < r->mem)
        return false;
    if (r->n_gpus == 0)
        return true;
    return model_in(r->models, node->model) && devices_with(node, r->milli) >= r->n_gpus;
}

/* Free GPU capacity the node cannot feed: the expected work asks for cpu_per_gpu and
 * mem_per_gpu per GPU, so a node whose free CPU or memory covers fewer GPUs than it has
 * free will strand the difference once it fills, even while each next request still fits.
 * This is what a one-step measure misses: 8 free GPUs beside 20 free cores take one
 * 12-core pod and then nothing. */
static double unfed(const struct nodefit_profile *p, int64_t cpu_free, int64_t mem_free, long total)
{
    double fed = (double)total, s;

    if (p->cpu_per_gpu > 0 && (double)cpu_free / p->cpu_per_gpu * NODEFIT_MILLI < fed)
        fed = (double)cpu_free / p->cpu_per_gpu * NODEFIT_MILLI;
    if (p->mem_per_gpu > 0 && (double)mem_free / p->mem_per_gpu * NODEFIT_MILLI < fed)
        fed = (double)mem_free / p->mem_per_gpu * NODEFIT_MILLI;
    s = (double)total - fed;
    return s > 0 ? s : 0;
}

/* GPU capacity the node's free CPU will cost elsewhere: a CPU-only request that cannot use
 * it takes its cores on another node, and when the work claims more CPU than the nodes
 * have, the share cpu_displace of those cores turns away GPU work, at cpu_per_gpu each. A
 * node whose GPUs are all taken, or that has none, still counts: its spare cores are where
 * CPU-only requests cost nothing. */
static double cpu_stranded(const struct nodefit_profile *p, int64_t cpu_free, int64_t mem_free)
{
    double f = 0;

    if (p->cpu_displace <= 0 || cpu_free <= 0)
        return 0;
    for (size_t i = 0; i < p->n_cpu_only; i++)
        if (cpu_free < p->cpu_only[i].cpu || mem_free < p->cpu_only[i].mem)
            f += p->cpu_only[i].w;
    return f * p->cpu_displace * (double)cpu_free / p->cpu_per_gpu * NODEFIT_MILLI;
}

/* The measure, computed from the devices' free amounts sorted ascending: walking the
 * shapes by their per-device need, k devices have less than the shape needs and hold
 * `below` of the free capacity. */
static double frag_of(const struct nodefit_profile *p, int model, int64_t cpu_free,
                      int64_t mem_free, const int *free_sorted, int G)
{
    long total = 0, below = 0;
    int k = 0;
    double f = cpu_stranded(p, cpu_free, mem_free);

    for (int j = 0; j < G; j++)
        total += free_sorted[j];
    if (total == 0)
        return f;
    f += unfed(p, cpu_free, mem_free, total);
    for (size_t i = 0; i < p->n; i++) {
        const struct shape *s = &p->s[i];

        while (k < G && free_sorted[k] < s->milli)
            below += free_sorted[k++];
        if (model_in(s->models, model) && cpu_free >= s->cpu && mem_free >= s->mem &&
            G - k >= s->n_gpus)
            f += s->w * (double)below;
        else
            f += s->w * (double)total;
    }
    return f;
}

void nodefit_sort_free(int *v, int n)
{
    for (int i = 1; i < n; i++) {
        int t = v[i], j = i;

        while (j > 0 && v[j - 1] > t) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = t;
    }
}

double nodefit_frag(const struct nodefit_profile *p, const struct nodefit_node *node)
{
    int f[NODEFIT_GPUS_MAX];
    int G = node->n_gpus;

    if (G < 0)
        return 0;
    memcpy(f, node->gpu_free, sizeof(int) * (size_t)G);
    nodefit_sort_free(f, G);
    return frag_of(p, node->model, node->cpu_free, node->mem_free, f, G);
}

int nodefit_first_fit(const struct nodefit_node *node, const struct nodefit_req *r,
                      struct nodefit_choice *c)
{
    if (!nodefit_fits(node, r))
        return -1;
    c->n = 0;
    if (r->n_gpus == 0)
        return 0;
    if (r->milli < NODEFIT_MILLI) {
        int best = -1;

        for (int j = 0; j < node->n_gpus; j++)
            if (node->gpu_free[j] >= r->milli &&
                (best < 0 || node->gpu_free[j] < node->gpu_free[best]))
                best = j;
        c->dev[c->n++] = best;
        return 0;
    }
    for (int j = 0; j < node->n_gpus && c->n < r->n_gpus; j++)
        if (node->gpu_free[j] == NODEFIT_MILLI)
            c->dev[c->n++] = j;
    return 0;
}

/* How much is left after placing, as a share of the node: the mean over the dimensions the
 * node has. Best fit prefers the smallest. */
static double leftover(const struct nodefit_node *node, int64_t cpu_after, int64_t mem_after,
                       long gpu_after)
{
    double s = 0;
    int d = 0;

    if (node->cpu_cap > 0) {
        s += (double)cpu_after / (double)node->cpu_cap;
        d++;
    }
    if (node->mem_cap > 0) {
        s += (double)mem_after / (double)node->mem_cap;
        d++;
    }
    if (node->n_gpus > 0) {
        s += (double)gpu_after / (double)(node->n_gpus * NODEFIT_MILLI);
        d++;
    }
    return d ? s / d : 0;
}

/* Demand r turns away by landing on node's kind (nodefit_profile_set_nodes,
 * nodefit_profile_set_nodes_per_model); nothing before either, or on a kind p was not told
 * of. */
static double displaced(const struct nodefit_profile *p, const struct nodefit_node *node,
                        const struct nodefit_req *r)
{
    const struct node_class *c = class_of(p, node);

    return c ? c->displace * r->n_gpus * r->milli : 0;
}

int nodefit_score(const struct nodefit_profile *p, const struct nodefit_node *node,
                  double frag_before, const struct nodefit_req *r, struct nodefit_eval *out)
{
    int G = node->n_gpus;
    int64_t cpu_after = node->cpu_free - r->cpu, mem_after = node->mem_free - r->mem;
    long gpu_total = 0;
    int f[NODEFIT_GPUS_MAX];
    bool found = false;

    if (!nodefit_fits(node, r))
        return -1;
    for (int j = 0; j < G; j++)
        gpu_total += node->gpu_free[j];
    if (r->n_gpus == 0 || r->milli == NODEFIT_MILLI) {
        struct nodefit_eval ev;

        memset(&ev, 0, sizeof(ev));
        (void)nodefit_first_fit(node, r, &ev.choice);
        memcpy(f, node->gpu_free, sizeof(int) * (size_t)G);
        for (int i = 0; i < ev.choice.n; i++)
            f[ev.choice.dev[i]] = 0;
        nodefit_sort_free(f, G);
        ev.frag_delta = frag_of(p, node->model, cpu_after, mem_after, f, G) - frag_before;
        ev.frag_delta += displaced(p, node, r);
        ev.tight = leftover(node, cpu_after, mem_after,
                            gpu_total - (long)r->n_gpus * (r->n_gpus ? r->milli : 0));
        *out = ev;
        return 0;
    }
    /* A shared device: every distinct free amount with room is a different outcome. */
    for (int j = 0; j < G; j++) {
        struct nodefit_eval ev;
        bool dup = false;

        if (node->gpu_free[j] < r->milli)
            continue;
        for (int i = 0; i < j && !dup; i++)
            dup = node->gpu_free[i] == node->gpu_free[j];
        if (dup)
            continue;
        memset(&ev, 0, sizeof(ev));
        ev.choice.dev[0] = j;
        ev.choice.n = 1;
        memcpy(f, node->gpu_free, sizeof(int) * (size_t)G);
        f[j] -= r->milli;
        /* The device's own leftover breaks ties between devices: the tighter, the better. */
        ev.tight = leftover(node, cpu_after, mem_after, gpu_total - r->milli) +
                   1e-6 * (double)f[j] / NODEFIT_MILLI;
        nodefit_sort_free(f, G);
        ev.frag_delta = frag_of(p, node->model, cpu_after, mem_after, f, G) - frag_before +
                        displaced(p, node, r);
        if (!found || nodefit_eval_cmp(&ev, out) < 0)
            *out = ev;
        found = true;
    }
    return found ? 0 : -1;
}

int nodefit_eval_cmp(const struct nodefit_eval *a, const struct nodefit_eval *b)
{
    /* Differences below a thousandth of a milli-GPU are rounding, not preference. */
    double d = a->frag_delta - b->frag_delta;

    if (d < -1e-3)
        return -1;
    if (d > 1e-3)
        return 1;
    if (a->tight != b->tight)
        return a->tight < b->tight ? -1 : 1;
    return 0;
}

void nodefit_apply(struct nodefit_node *node, const struct nodefit_req *r,
                   const struct nodefit_choice *c)
{
    node->cpu_free -= r->cpu;
    node->mem_free -= r->mem;
    for (int i = 0; i < c->n; i++)
        node->gpu_free[c->dev[i]] -= r->milli;
}

/* ---- which weighting the work wants ------------------------------------------------- */

void nodefit_profile_weigh(struct nodefit_profile *p, enum nodefit_weights w)
{
    p->weights = w;
    for (size_t i = 0; i < p->n; i++)
        p->s[i].w = w == NODEFIT_WEIGHT_COUNT && p->count_gpu > 0 ? p->s[i].count / p->count_gpu
                                                                  : p->s[i].demand;
}

enum nodefit_weights nodefit_profile_weights(const struct nodefit_profile *p)
{
    return p->weights;
}

/* A request of the profile's work, each shape as often as it is expected. */
static struct nodefit_req draw_req(const struct nodefit_profile *p, uint64_t *x)
{
    double u = (double)(hash_splitmix64(x) >> 11) * 0x1.0p-53, cum = 0;
    const struct shape *s = NULL;
    struct nodefit_req r;

    for (size_t i = 0; i < p->n && !s; i++)
        if (u < (cum += p->s[i].count))
            s = &p->s[i];
    for (size_t i = 0; i < p->n_cpu_only && !s; i++)
        if (u < (cum += p->cpu_only[i].count))
            s = &p->cpu_only[i];
    if (!s) /* rounding: the last shape */
        s = p->n_cpu_only ? &p->cpu_only[p->n_cpu_only - 1] : &p->s[p->n - 1];
    memset(&r, 0, sizeof(r));
    r.cpu = s->cpu;
    r.mem = s->mem;
    r.n_gpus = s->n_gpus;
    r.milli = s->n_gpus ? s->milli : 0;
    r.models = s->models;
    return r;
}

/* One rehearsal: requests drawn until as many milli-GPUs have arrived as v has free, each
 * placed where nodefit_score() puts it; returns the milli-GPUs no node could take. */
static double rehearse_once(const struct nodefit_profile *p, struct nodefit_node *v, double *frag,
                            size_t n, double budget, uint64_t *x)
{
    double arrived = 0, lost = 0;

    for (size_t i = 0; i < n; i++)
        frag[i] = nodefit_frag(p, &v[i]);
    while (arrived < budget) {
        struct nodefit_req r = draw_req(p, x);
        struct nodefit_eval best = {0}, ev;
        size_t at = n;

        arrived += (double)r.n_gpus * r.milli;
        for (size_t i = 0; i < n; i++)
            if (nodefit_score(p, &v[i], frag[i], &r, &ev) == 0 &&
                (at == n || nodefit_eval_cmp(&ev, &best) < 0)) {
                best = ev;
                at = i;
            }
        if (at == n) {
            lost += (double)r.n_gpus * r.milli;
            continue;
        }
        nodefit_apply(&v[at], &r, &best.choice);
        frag[at] = nodefit_frag(p, &v[at]);
    }
    return lost;
}

void nodefit_profile_rehearse(struct nodefit_profile *p, const struct nodefit_node *nodes, size_t n,
                              struct nodefit_rehearsal *r)
{
    size_t m = r->max_nodes > 0 && n > r->max_nodes ? r->max_nodes : n;
    struct nodefit_node *v;
    double *frag, budget = 0;

    r->lost[NODEFIT_WEIGHT_DEMAND] = r->lost[NODEFIT_WEIGHT_COUNT] = 0;
    r->arrived = 0;
    for (size_t k = 0; k < m; k++)
        for (int j = 0; j < nodes[k * n / m].n_gpus; j++)
            budget += nodes[k * n / m].gpu_free[j];
    if (p->n == 0 || budget <= 0 || r->runs == 0) {
        nodefit_profile_weigh(p, NODEFIT_WEIGHT_DEMAND);
        return;
    }
    v = xcalloc(m + 1, sizeof(*v));
    frag = xcalloc(m + 1, sizeof(*frag));
    for (int w = NODEFIT_WEIGHT_DEMAND; w <= NODEFIT_WEIGHT_COUNT; w++) {
        uint64_t x = r->seed;

        nodefit_profile_weigh(p, (enum nodefit_weights)w);
        for (unsigned run = 0; run < r->runs; run++) {
            for (size_t k = 0; k < m; k++)
                v[k] = nodes[k * n / m];
            r->lost[w] += rehearse_once(p, v, frag, m, budget, &x);
        }
    }
    r->arrived = budget * r->runs;
    nodefit_profile_weigh(p, r->lost[NODEFIT_WEIGHT_COUNT] < r->lost[NODEFIT_WEIGHT_DEMAND]
                                 ? NODEFIT_WEIGHT_COUNT
                                 : NODEFIT_WEIGHT_DEMAND);
    free(frag);
    free(v);
}
