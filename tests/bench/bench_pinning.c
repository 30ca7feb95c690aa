/* bench_pinning.c -- pin each worker's pod to its planned node, or leave placement to the
 * member cluster's scheduler with the plan as a feasibility witness? (issue 15). In process,
 * with the simulator as a library: a member cluster of 8-GPU nodes (64 or 128 cores, 1 TiB),
 * partly used; its snapshot built as the connector builds it (cluster/inventory.c from the
 * NodeList and the PodList); policy_decide() plans a queue of gangs of mixed shapes with
 * CPU and memory requests; then, before the planned pods are created, other pods arrive
 * (serving replicas, other teams' pods), taking a share of the free GPUs, as in the seconds
 * between a snapshot and dispatch. The plans are then created four ways, each on a fresh
 * copy of the same cluster with the same arrivals:
 *   pin worker:   one Job per worker, requiredDuringScheduling nodeAffinity
 *                 kubernetes.io/hostname In [its planned node] (a Job has one pod template,
 *                 so per-worker pinning needs a Job per worker, or scheduling gates);
 *   pin gang set: one Indexed Job per gang, the same affinity with the gang's planned nodes
 *                 (what one template can say);
 *   unpinned:     one Indexed Job per gang (parallelism = workers), as cluster/manifest.c
 *                 writes it, placed by the simulator's scheduler.
 *   unpinned, CPU first: the same, the gangs created in order of their workers' CPU, then
 *                 memory, then GPU requests (largest first) instead of decision order.
 * Once scheduling has settled, a gang with a pod still Pending is one that would reach the
 * start timeout (900 s). Printed per cluster, queue load (50 or 100 % of the free GPUs),
 * where the arrivals go (the simulator's best fit, or the kube-scheduler's default
 * LeastAllocated spreading on cpu and memory, computed here) and contention level (0, 10,
 * 25, 50 % of the free GPUs taken by arrivals), summed over seeds.
 * The simulator's own scheduler is best fit on GPUs (docs/simulator.md) and has no
 * spreading mode, so the gangs' unpinned pods are always placed by best fit.
 * This is a measurement with no target: it exits 0 unless the run itself breaks, then 2: a
 * request refused, the copies of the cluster diverging before dispatch, or a pinned gang
 * left Pending when no other pod arrived (the plan was no feasibility witness: the policy
 * and the cluster count CPU, memory or GPUs differently).
 * BENCH_MODE=smoke: one seed, one 16-node cluster, well under 2 s. */
#include "base/err.h"
#include "base/mem.h"
#include "base/sku.h"
#include "cluster/cluster_config.h"
#include "cluster/inventory.h"
#include "policy/policy.h"
#include "policy/snapshot.h"
#include "tests/support/defaults.h"
#include "tools/kubesim/kubesim_cluster.h"
#include "tools/kubesim/kubesim_scenario.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GANGS_MAX    512
#define WORKERS_MAX  8
#define NODES_MAX    256
#define BODY_MAX     4096
#define START_MS     1795824000000LL /* 2026-11-28T00:00:00Z */
#define GANG_NS      "fedsched-jobs"
#define OTHER_NS     "default"
#define RUN_SECONDS  864000 /* nothing finishes while we look */
#define SETTLE_TICKS 3

struct rng {
    uint64_t s;
};

static uint64_t next(struct rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static int pick(struct rng *r, int n)
{
    return (int)(next(r) % (uint64_t)n);
}

/* A member cluster: n64 nodes of 64 cores and n128 of 128, all 8 x H100 and 1 TiB. */
struct shape_cluster {
    const char *name;
    int n64, n128;
};

/* One queued gang as the policy sees it and as the Jobs request it. */
struct gang {
    int workers, gpw;
    int64_t cpu_m, mem_mib; /* per worker */
};

/* One seed's world: the scenario, the background pods, the queue and the plans. */
struct world {
    struct sim_scenario *scn;
    struct sim_clock clk;
    struct rng rng;
    uint64_t seed;
    struct gang queue[GANGS_MAX];
    size_t n_queue;
    /* plans: for placed gang g (in decision order), its queue index and workers' nodes */
    size_t plan_gang[GANGS_MAX];
    char plan_node[GANGS_MAX][WORKERS_MAX][64];
    size_t n_plans;
    int free_gpus; /* at snapshot time, on schedulable nodes */
};

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_pinning: %s: %s\n", what, detail);
    exit(2);
}

/* Sends one request and fails the run on anything but 2xx. Caller owns the reply body. */
static char *call(struct sim_cluster *c, const char *method, const char *path, const char *body)
{
    struct sim_query q;
    struct sim_reply r;

    memset(&q, 0, sizeof(q));
    sim_cluster_handle(c, method, path, &q, body, body ? strlen(body) : 0, &r);
    if (r.status < 200 || r.status > 299) {
        fprintf(stderr, "bench_pinning: %s %s: %d %.300s\n", method, path, r.status,
                r.body ? r.body : "");
        exit(2);
    }
    return r.body;
}

/* Creates a Job of parallelism pods, each requesting gpus, cpu_m and mem_mib; with n_nodes
 * > 0, required node affinity kubernetes.io/hostname In nodes (one template for every pod
 * of the Job). The clock moves one second first, so every pod has its own
 * creation time and the scheduler's oldest-first order is the order of these calls. */
static void create_job(struct world *w, struct sim_cluster *c, const char *ns, const char *name,
                       const char *gang, int parallelism, int gpus, int64_t cpu_m, int64_t mem_mib,
                       const char *const *nodes, size_t n_nodes)
{
    char body[BODY_MAX], aff[1024] = "", vals[WORKERS_MAX * 72] = "", path[128];
    size_t len = 0;
    int n;

    for (size_t i = 0; i < n_nodes && i < WORKERS_MAX; i++)
        len += (size_t)snprintf(vals + len, sizeof(vals) - len, "%s\"%s\"", i ? "," : "", nodes[i]);
    if (n_nodes)
        snprintf(aff, sizeof(aff),
                 ",\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution"
                 "\":{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"kubernetes.io/"
                 "hostname\",\"operator\":\"In\",\"values\":[%s]}]}]}}}",
                 vals);
    n = snprintf(
        body, sizeof(body),
        "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"%s\","
        "\"annotations\":{\"sim.fedsched.io/duration-seconds\":\"%d\"}},"
        "\"spec\":{\"parallelism\":%d,\"completions\":%d,\"completionMode\":\"Indexed\","
        "\"backoffLimit\":0,\"template\":{\"metadata\":{\"labels\":{\"gang\":\"%s\"}},"
        "\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"main\","
        "\"image\":\"trainer:1\",\"resources\":{\"requests\":{\"nvidia.com/gpu\":\"%d\","
        "\"cpu\":\"%lldm\",\"memory\":\"%lldMi\"},\"limits\":{\"nvidia.com/gpu\":\"%d\"}}}]"
        "%s}}}}",
        name, RUN_SECONDS, parallelism, parallelism, gang, gpus, (long long)cpu_m,
        (long long)mem_mib, gpus, aff);
    if (n < 0 || (size_t)n >= sizeof(body))
        die("job body too long", name);
    sim_clock_skip(&w->clk, 1000);
    snprintf(path, sizeof(path), "/apis/batch/v1/namespaces/%s/jobs", ns);
    free(call(c, "POST", path, body));
}

static void scenario_new(struct world *w, const struct shape_cluster *sc)
{
    char text[1024];
    struct err e = {0};

    snprintf(text, sizeof(text),
             "{\"clusters\":[{\"name\":\"member\",\"nodePools\":["
             "{\"name\":\"c64\",\"count\":%d,\"product\":\"NVIDIA-H100-80GB-HBM3\",\"gpus\":8,"
             "\"memoryMiB\":81559,\"cpu\":64,\"memoryGib\":1024},"
             "{\"name\":\"c128\",\"count\":%d,\"product\":\"NVIDIA-H100-80GB-HBM3\",\"gpus\":8,"
             "\"memoryMiB\":81559,\"cpu\":128,\"memoryGib\":1024}]}]}",
             sc->n64, sc->n128);
    if (sim_scenario_parse(text, strlen(text), &w->scn, &e))
        die("scenario", e.msg);
}

/* A fresh copy of the member cluster with the seed's background pods bound: each node
 * partly used by a GPU pod (0..8 GPUs, 4..12 cores and 32..128 GiB per GPU) and, on some,
 * a CPU-only pod, every one pinned to its node so that every copy is the same. The
 * simulated clock is frozen (time scale 1e-6) and moved by hand. */
static struct sim_cluster *cluster_new(struct world *w)
{
    static const int used_of[] = {0, 0, 0, 1, 2, 2, 4, 4, 6, 7, 8};
    struct sim_node_view nodes[NODES_MAX];
    struct sim_cluster *c = NULL;
    struct rng r = {w->seed * 0x2545F4914F6CDD1DULL + 7};
    struct err e = {0};
    size_t n;

    sim_clock_init(&w->clk, 1e-6, START_MS);
    if (sim_cluster_new(&w->scn->clusters[0], &w->clk, 60000, &c, &e))
        die("cluster", e.msg);
    n = sim_cluster_nodes(c, nodes, NODES_MAX);
    if (n > NODES_MAX)
        die("cluster", "too many nodes");
    for (size_t i = 0; i < n; i++) {
        int64_t cores = strncmp(nodes[i].name, "c128", 4) == 0 ? 128 : 64;
        int used = used_of[pick(&r, (int)(sizeof(used_of) / sizeof(used_of[0])))];
        int64_t cpu_m = used * (4 + pick(&r, 9)) * 1000LL;
        const char *node[1] = {nodes[i].name};
        char name[96];

        if (cpu_m > cores * 1000 - 4000)
            cpu_m = cores * 1000 - 4000;
        if (used) {
            snprintf(name, sizeof(name), "bg-%zu", i);
            create_job(w, c, OTHER_NS, name, "bg", 1, used, cpu_m,
                       used * (32 + pick(&r, 97)) * 1024LL, node, 1);
        }
        /* Some nodes also run CPU-only work: GPUs free beside too few cores. */
        if (pick(&r, 4) == 0) {
            int64_t cpu_only = (8 + pick(&r, 33)) * 1000LL;

            if (cpu_m + cpu_only <= cores * 1000 - 2000) {
                snprintf(name, sizeof(name), "cpu-%zu", i);
                create_job(w, c, OTHER_NS, name, "bg", 1, 0, cpu_only, 65536, node, 1);
            }
        }
    }
    sim_cluster_tick(c);
    return c;
}

/* The snapshot as the connector builds it: the NodeList and PodList through inventory. */
static struct snapshot *take_snapshot(struct sim_cluster *c, int64_t now)
{
    static const char cfg_text[] = "{\"name\":\"member\",\"apiServer\":\"https://10.0.0.1:6443\"}";
    const struct sku_catalogue *cat = sku_defaults();
    static struct cluster_config cfg; /* about 20 KiB */
    struct inventory inv;
    struct snapshot *s = NULL;
    struct err e = {0};
    char cont[1024];
    char *body;

    if (cluster_config_parse(cfg_text, strlen(cfg_text), cat, &cfg, &e))
        die("cluster config", e.msg);
    inventory_init(&inv);
    body = call(c, "GET", "/api/v1/nodes", NULL);
    if (inventory_add_nodes(&inv, body, strlen(body), &cfg, cat, cont, sizeof(cont), &e))
        die("node list", e.msg);
    free(body);
    body = call(c, "GET", "/api/v1/pods", NULL);
    if (inventory_add_pods(&inv, body, strlen(body), &cfg, cat, cont, sizeof(cont), &e))
        die("pod list", e.msg);
    free(body);
    inventory_finish(&inv);
    if (snapshot_new(1, inv.n_nodes, cat->n, &s, &e))
        die("snapshot", e.msg);
    for (size_t k = 0; k < cat->n; k++)
        snprintf(s->sku_names[k], sizeof(s->sku_names[k]), "%s", cat->skus[k].name);
    s->taken_ms = now;
    s->seq = 1;
    snprintf(s->clusters[0].name, sizeof(s->clusters[0].name), "member");
    s->clusters[0].health = SNAPSHOT_HEALTH_READY;
    s->clusters[0].last_poll_ms = now;
    inventory_copy(&inv, 0, s, 0, 0);
    snapshot_compute_aggregates(s);
    inventory_free(&inv);
    return s;
}

/* A queue of gangs asking for load_pct % of the free GPUs: mixed shapes, small ones more
 * often, 4..12 cores and 16..112 GiB per GPU (12 cores x 8 GPUs do not fit a 64-core node). */
static void make_queue(struct world *w, int load_pct)
{
    static const int shapes[][2] = {{1, 1}, {1, 1}, {1, 1}, {1, 2}, {1, 2}, {1, 4},
                                    {1, 4}, {1, 8}, {2, 4}, {2, 8}, {4, 8}};
    int want = w->free_gpus * load_pct / 100, have = 0;

    w->n_queue = 0;
    while (have < want && w->n_queue < GANGS_MAX) {
        struct gang *g = &w->queue[w->n_queue++];
        int sh = pick(&w->rng, (int)(sizeof(shapes) / sizeof(shapes[0])));

        g->workers = shapes[sh][0];
        g->gpw = shapes[sh][1];
        g->cpu_m = g->gpw * (4 + pick(&w->rng, 9)) * 1000LL;
        g->mem_mib = g->gpw * (16 + pick(&w->rng, 97)) * 1024LL;
        have += g->workers * g->gpw;
    }
}

/* Plans the queue on snapshot s: each placement's workers' node names, in decision order. */
static void plan(struct world *w, const struct snapshot *s, int64_t now)
{
    static struct policy_job jobs[GANGS_MAX];
    static char names[GANGS_MAX][16];
    struct policy_config cfg;
    struct policy_input in;
    struct policy_state *st = policy_state_new();
    struct policy_result *res = NULL;
    struct err e = {0};
    int sku = snapshot_sku_find(s, "h100-80gb");

    defaults_policy(&cfg);
    memset(jobs, 0, sizeof(jobs));
    for (size_t i = 0; i < w->n_queue; i++) {
        snprintf(names[i], sizeof(names[i]), "g%zu", i);
        jobs[i] = (struct policy_job){
            .id = i + 1,
            .ns = "team-a",
            .name = names[i],
            .sku = sku,
            .gpu_count = w->queue[i].workers * w->queue[i].gpw,
            .gpus_per_worker = w->queue[i].gpw,
            .cpu_m_per_worker = w->queue[i].cpu_m,
            .mem_mib_per_worker = w->queue[i].mem_mib,
            .created_ms = now - 60000 + (int64_t)i,
            .attempt = 1,
        };
    }
    memset(&in, 0, sizeof(in));
    in.snap = s;
    in.queue = jobs;
    in.n_queue = w->n_queue;
    in.cfg = &cfg;
    in.now_ms = now;
    if (policy_decide(&in, st, &res, &e))
        die("policy_decide", e.msg);
    w->n_plans = 0;
    for (size_t p = 0; p < res->n_placements; p++) {
        const struct policy_placement *pl = &res->placements[p];

        if (pl->n_workers > WORKERS_MAX)
            die("plan", "too many workers");
        w->plan_gang[w->n_plans] = pl->job;
        for (size_t k = 0; k < pl->n_workers; k++)
            snprintf(w->plan_node[w->n_plans][k], sizeof(w->plan_node[0][0]), "%s",
                     s->nodes[pl->workers[k].node].name);
        w->n_plans++;
    }
    policy_result_free(&res);
    policy_state_free(&st);
}

/* The node the kube-scheduler's default scoring would give a pod of gpus, cpu_m and
 * mem_mib: NodeResourcesFit LeastAllocated over cpu and memory with equal weights (the
 * default; nvidia.com/gpu is checked for fit but not scored), the lowest index among
 * equals; -1 when none fits. Read from a snapshot taken now (the connector's own view). */
static long spread_node(const struct snapshot *s, int gpus, int64_t cpu_m, int64_t mem_mib)
{
    long best = -1;
    double best_score = -1;

    for (size_t i = 0; i < s->n_nodes; i++) {
        const struct snapshot_node *n = &s->nodes[i];
        int64_t cpu_left = n->cpu_alloc_m - n->cpu_used_m - cpu_m;
        int64_t mem_left = n->mem_alloc_mib - n->mem_used_mib - mem_mib;
        double score;

        if (snapshot_node_free(n) < gpus || cpu_left < 0 || mem_left < 0)
            continue;
        score =
            (double)cpu_left / (double)n->cpu_alloc_m + (double)mem_left / (double)n->mem_alloc_mib;
        if (score > best_score) {
            best = (long)i;
            best_score = score;
        }
    }
    return best;
}

/* Other pods arriving between the snapshot and dispatch: serving replicas and other teams'
 * pods of 1, 2, 4 or 8 GPUs (4..12 cores, 32..128 GiB per GPU) until share_pct % of the
 * free GPUs is asked for. The same pods for every variant (rng from the seed and the
 * level). With spread false they carry no affinity and the simulator places them (best
 * fit); with spread true each goes where the kube-scheduler's default scoring would put it
 * (spread_node() on a snapshot kept up to date as they bind, then pinned there; left
 * without affinity when nothing fits). Returns the GPUs they ask for. */
static int arrivals(struct world *w, struct sim_cluster *c, int share_pct, bool spread)
{
    static const int sizes[] = {1, 1, 1, 1, 2, 2, 2, 4, 4, 8};
    struct rng r = {w->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)share_pct * 131 + 1};
    int want = w->free_gpus * share_pct / 100, have = 0, i = 0;
    struct snapshot *s = spread ? take_snapshot(c, sim_clock_now(&w->clk)) : NULL;

    while (have < want) {
        int g = sizes[pick(&r, 10)];
        int64_t cpu_m, mem_mib;
        const char *node[1] = {NULL};
        char name[32];

        if (g > want - have)
            g = want - have;
        cpu_m = g * (4 + pick(&r, 9)) * 1000LL;
        mem_mib = g * (32 + pick(&r, 97)) * 1024LL;
        if (spread) {
            long at = spread_node(s, g, cpu_m, mem_mib);

            if (at >= 0) {
                node[0] = s->nodes[at].name;
                s->nodes[at].used += g;
                s->nodes[at].cpu_used_m += cpu_m;
                s->nodes[at].mem_used_mib += mem_mib;
            }
        }
        snprintf(name, sizeof(name), "arrival-%d", i++);
        create_job(w, c, OTHER_NS, name, "arrival", 1, g, cpu_m, mem_mib, node, node[0] ? 1 : 0);
        have += g;
    }
    snapshot_free(&s);
    sim_cluster_tick(c);
    return have;
}

/* How the plans are dispatched. */
enum variant {
    PIN_WORKER,       /* one Job per worker, required affinity to its planned node */
    PIN_SET,          /* one Indexed Job per gang, required affinity to the gang's planned nodes */
    UNPINNED,         /* one Indexed Job per gang, no affinity */
    UNPINNED_ORDERED, /* the same, the gangs whose workers ask for the most CPU, then memory,
                         then GPUs created first */
    VARIANTS
};

static const struct world *order_world; /* for cmp_constrained (qsort has no argument) */

/* Plans whose workers ask for more CPU first, then more memory, then more GPUs; then in
 * decision order. */
static int cmp_constrained(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    const struct gang *gx = &order_world->queue[order_world->plan_gang[x]];
    const struct gang *gy = &order_world->queue[order_world->plan_gang[y]];

    if (gx->cpu_m != gy->cpu_m)
        return gx->cpu_m > gy->cpu_m ? -1 : 1;
    if (gx->mem_mib != gy->mem_mib)
        return gx->mem_mib > gy->mem_mib ? -1 : 1;
    if (gx->gpw != gy->gpw)
        return gx->gpw > gy->gpw ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Dispatches the plans as variant v says. */
static void dispatch(struct world *w, struct sim_cluster *c, enum variant v)
{
    size_t order[GANGS_MAX];

    for (size_t i = 0; i < w->n_plans; i++)
        order[i] = i;
    if (v == UNPINNED_ORDERED) {
        order_world = w;
        qsort(order, w->n_plans, sizeof(order[0]), cmp_constrained);
    }
    for (size_t i = 0; i < w->n_plans; i++) {
        size_t p = order[i];
        const struct gang *g = &w->queue[w->plan_gang[p]];
        const char *nodes[WORKERS_MAX];
        char gang[16], name[32];

        for (int k = 0; k < g->workers; k++)
            nodes[k] = w->plan_node[p][k];
        snprintf(gang, sizeof(gang), "g%zu", w->plan_gang[p]);
        if (v != PIN_WORKER) {
            create_job(w, c, GANG_NS, gang, gang, g->workers, g->gpw, g->cpu_m, g->mem_mib, nodes,
                       v == PIN_SET ? (size_t)g->workers : 0);
            continue;
        }
        for (int k = 0; k < g->workers; k++) {
            snprintf(name, sizeof(name), "%s-w%d", gang, k);
            create_job(w, c, GANG_NS, name, gang, 1, g->gpw, g->cpu_m, g->mem_mib, nodes + k, 1);
        }
    }
    for (int i = 0; i < SETTLE_TICKS; i++)
        sim_cluster_tick(c);
}

/* Gangs with a pod still unbound, and such pods, from the gang namespace's PodList. */
static void count_stuck(struct sim_cluster *c, int *gangs, int *pods)
{
    char *body = call(c, "GET", "/api/v1/namespaces/" GANG_NS "/pods", NULL);
    json_error_t je;
    json_t *list = json_loads(body, 0, &je), *items, *it;
    json_t *stuck = json_object();
    size_t i;

    free(body);
    if (!list)
        die("pod list", je.text);
    items = json_object_get(list, "items");
    *pods = 0;
    json_array_foreach(items, i, it)
    {
        const char *gang = json_string_value(
            json_object_get(json_object_get(json_object_get(it, "metadata"), "labels"), "gang"));

        if (json_object_get(json_object_get(it, "spec"), "nodeName"))
            continue;
        if (!gang)
            die("pod list", "a pod without its gang label");
        (*pods)++;
        json_object_set_new(stuck, gang, json_true());
    }
    *gangs = (int)json_object_size(stuck);
    json_decref(stuck);
    json_decref(list);
}

/* GPUs used per node, to check that the two copies are the same before dispatch. */
static void usage_of(struct sim_cluster *c, int *out, size_t *n)
{
    struct sim_node_view v[NODES_MAX];

    *n = sim_cluster_nodes(c, v, NODES_MAX);
    for (size_t i = 0; i < *n && i < NODES_MAX; i++)
        out[i] = v[i].used;
}

/* One variant at one contention level: a fresh cluster, the arrivals, the plans. */
static void run_variant(struct world *w, int share_pct, bool spread, enum variant v, int *used,
                        size_t *n_used, int *stuck, int *pods, int *arrived)
{
    struct sim_cluster *c = cluster_new(w);

    *arrived = arrivals(w, c, share_pct, spread);
    usage_of(c, used, n_used);
    dispatch(w, c, v);
    count_stuck(c, stuck, pods);
    sim_cluster_free(&c);
}

/* One row of the table, summed over seeds. */
struct tally {
    int gangs, arrival_gpus;
    int stuck[VARIANTS], pods[VARIANTS];
};

/* One cluster, load, arrival placement and level: every variant on its own fresh copy. */
static void run_level(struct world *w, int share_pct, bool spread, struct tally *x)
{
    int used[VARIANTS][NODES_MAX], arrived[VARIANTS];
    size_t n_used[VARIANTS];

    for (int v = 0; v < VARIANTS; v++) {
        int stuck, pods;

        run_variant(w, share_pct, spread, (enum variant)v, used[v], &n_used[v], &stuck, &pods,
                    &arrived[v]);
        x->stuck[v] += stuck;
        x->pods[v] += pods;
        /* Nothing changed since the snapshot: every plan must fit where it was planned, or
         * the plan is no feasibility witness (the policy and the cluster count differently). */
        if (share_pct == 0 && v == PIN_WORKER && stuck)
            die("a plan does not fit", "a pinned gang is Pending with no other pod arriving");
        if (n_used[v] != n_used[0] || arrived[v] != arrived[0] ||
            memcmp(used[v], used[0], n_used[0] * sizeof(int)) != 0)
            die("copies diverged", "the arrivals bound differently in two copies");
    }
    x->gangs += (int)w->n_plans;
    x->arrival_gpus += arrived[0];
}

int main(void)
{
    const char *mode = getenv("BENCH_MODE");
    bool smoke = mode && strcmp(mode, "smoke") == 0;
    static const struct shape_cluster smoke_clusters[] = {{"16 nodes, mixed", 8, 8}};
    static const struct shape_cluster full_clusters[] = {
        {"32 x 64-core", 32, 0}, {"32 x 128-core", 0, 32}, {"64 nodes, mixed", 32, 32}};
    static const int loads[] = {50, 100};
    static const int levels[] = {0, 10, 25, 50};
    static const char *const placed_by[] = {"bestfit", "spread"};
    const struct shape_cluster *clusters = smoke ? smoke_clusters : full_clusters;
    size_t n_clusters = smoke ? 1 : 3;
    int seeds = smoke ? 1 : 20;
    static struct world w;
    static struct tally t[3][2][2][4]; /* cluster, load, arrivals placed by, level */

    for (size_t ci = 0; ci < n_clusters; ci++) {
        scenario_new(&w, &clusters[ci]);
        for (int seed = 1; seed <= seeds; seed++) {
            struct sim_cluster *c;
            struct snapshot *s;
            int64_t now;

            w.seed = (uint64_t)seed;
            w.rng.s = (uint64_t)seed * 0xD1B54A32D192ED03ULL + ci;
            c = cluster_new(&w);
            now = sim_clock_now(&w.clk);
            s = take_snapshot(c, now);
            sim_cluster_free(&c);
            w.free_gpus = 0;
            for (size_t i = 0; i < s->n_nodes; i++)
                w.free_gpus += snapshot_node_free(&s->nodes[i]);
            for (size_t li = 0; li < 2; li++) {
                make_queue(&w, loads[li]);
                plan(&w, s, now);
                for (size_t ai = 0; ai < 2; ai++)
                    for (size_t v = 0; v < 4; v++)
                        run_level(&w, levels[v], ai == 1, &t[ci][li][ai][v]);
            }
            snapshot_free(&s);
        }
        sim_scenario_free(&w.scn);
    }

    printf("pinning: gangs stuck (a pod still Pending once scheduling settles: would reach the "
           "900 s start timeout)\n");
    printf("  and their Pending pods, summed over %d seed(s); other pods take a share of the "
           "free GPUs before dispatch\n",
           seeds);
    printf("  %-16s %4s %-8s %6s %7s %8s %16s %16s %16s %16s\n", "cluster", "load", "arrivals",
           "arrive", "planned", "arr GPUs", "pin worker", "pin gang set", "unpinned",
           "unpin CPU first");
    for (size_t ci = 0; ci < n_clusters; ci++)
        for (size_t li = 0; li < 2; li++)
            for (size_t ai = 0; ai < 2; ai++)
                for (size_t v = 0; v < 4; v++) {
                    const struct tally *x = &t[ci][li][ai][v];

                    printf("  %-16s %3d%% %-8s %5d%% %7d %8d", clusters[ci].name, loads[li],
                           placed_by[ai], levels[v], x->gangs, x->arrival_gpus);
                    for (int k = 0; k < VARIANTS; k++)
                        printf(" %4d (%4d pods)", x->stuck[k], x->pods[k]);
                    printf("\n");
                }
    printf("  load: the queue asks for this share of the free GPUs; arrive: the share other pods "
           "take first,\n  placed by the simulator (bestfit) or where LeastAllocated on cpu and "
           "memory would put them (spread)\n");
    return 0;
}
