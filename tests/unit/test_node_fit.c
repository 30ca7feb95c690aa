/* test_node_fit.c -- node-level fit in the live engine: a worker goes only to a node with
 * its GPUs, CPU and memory free; the node is chosen by nodefit_score() (policy/nodefit.c,
 * the function bench_packing measures), and explain says which resource is short. */
#include "base/buf.h"
#include "base/mem.h"
#include "policy/explain.h"
#include "policy/nodefit.h"
#include "policy/policy.h"
#include "policy/policy_json.h"
#include "tests/support/defaults.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define NOW 1800000000000LL

struct node_spec {
    const char *name;
    int gpus, gpus_used;
    int64_t cpu_m, cpu_used_m; /* allocatable 0: unknown */
    int64_t mem_mib, mem_used_mib;
};

struct run {
    struct snapshot *snap;
    struct policy_config cfg;
    struct policy_job q[4];
    struct policy_running ru[4];
    struct policy_input in;
    struct policy_state *st;
    struct policy_result *r;
};

static void world(struct run *x, const struct node_spec *nodes, size_t n)
{
    memset(x, 0, sizeof(*x));
    ck_assert_int_eq(snapshot_new(1, n, 1, &x->snap, NULL), 0);
    snprintf(x->snap->sku_names[0], SNAPSHOT_SKU_NAME_MAX, "h100-80gb");
    snprintf(x->snap->clusters[0].name, SNAPSHOT_NAME_MAX, "az1");
    x->snap->clusters[0].n_nodes = n;
    x->snap->clusters[0].health = SNAPSHOT_HEALTH_READY;
    x->snap->clusters[0].last_poll_ms = NOW;
    x->snap->taken_ms = NOW;
    for (size_t i = 0; i < n; i++) {
        struct snapshot_node *sn = &x->snap->nodes[i];

        snprintf(sn->name, sizeof(sn->name), "%s", nodes[i].name);
        sn->sku = 0;
        sn->pool = SNAPSHOT_POOL_TRAINING;
        sn->allocatable = nodes[i].gpus;
        sn->used = nodes[i].gpus_used;
        sn->schedulable = true;
        sn->cpu_alloc_m = nodes[i].cpu_m;
        sn->cpu_used_m = nodes[i].cpu_used_m;
        sn->mem_alloc_mib = nodes[i].mem_mib;
        sn->mem_used_mib = nodes[i].mem_used_mib;
    }
    snapshot_compute_aggregates(x->snap);
    defaults_policy(&x->cfg);
    x->st = policy_state_new();
    x->in.snap = x->snap;
    x->in.queue = x->q;
    x->in.running = x->ru;
    x->in.cfg = &x->cfg;
    x->in.now_ms = NOW;
}

static struct policy_job *job(struct run *x, const char *name, int gpus, int per_worker,
                              int64_t cpu_m, int64_t mem_mib)
{
    struct policy_job *j = &x->q[x->in.n_queue];

    memset(j, 0, sizeof(*j));
    j->id = x->in.n_queue + 1;
    j->ns = "team";
    j->name = name;
    j->sku = 0;
    j->gpu_count = gpus;
    j->gpus_per_worker = per_worker;
    j->cpu_m_per_worker = cpu_m;
    j->mem_mib_per_worker = mem_mib;
    j->created_ms = NOW - 1000;
    x->in.n_queue++;
    return j;
}

static void decide(struct run *x)
{
    ck_assert_int_eq(policy_decide(&x->in, x->st, &x->r, NULL), 0);
}

static void done(struct run *x)
{
    policy_result_free(&x->r);
    policy_state_free(&x->st);
    snapshot_free(&x->snap);
}

static const char *node_of(const struct run *x, size_t placement, size_t worker)
{
    return x->snap->nodes[x->r->placements[placement].workers[worker].node].name;
}

/* nodefit's verdict on one worker of (g GPUs, cpu, mem) on a node of the world, computed
 * here straight from policy/nodefit.h with the profile the engine builds from a queue of
 * that one shape. */
static double nodefit_delta(const struct node_spec *n, int g, int64_t cpu, int64_t mem)
{
    struct nodefit_req shape = {.cpu = (cpu + 999) / 1000 * 1000,
                                .mem = (mem + 1023) / 1024 * 1024,
                                .n_gpus = g,
                                .milli = NODEFIT_MILLI};
    struct nodefit_req r = {.cpu = cpu, .mem = mem, .n_gpus = g, .milli = NODEFIT_MILLI};
    double w = 1;
    struct nodefit_profile *p = NULL;
    struct nodefit_node nn;
    struct nodefit_eval ev;

    memset(&nn, 0, sizeof(nn));
    nn.n_gpus = n->gpus;
    for (int d = 0; d < n->gpus; d++)
        nn.gpu_free[d] = d < n->gpus - n->gpus_used ? NODEFIT_MILLI : 0;
    nn.cpu_cap = n->cpu_m;
    nn.cpu_free = n->cpu_m - n->cpu_used_m;
    nn.mem_cap = n->mem_mib;
    nn.mem_free = n->mem_mib - n->mem_used_mib;
    ck_assert_int_eq(nodefit_profile_new(&shape, &w, 1, &p, NULL), 0);
    ck_assert_int_eq(nodefit_score(p, &nn, nodefit_frag(p, &nn), &r, &ev), 0);
    nodefit_profile_free(&p);
    return ev.frag_delta / NODEFIT_MILLI;
}

/* A node of the world (its SKU is model 1, its memory unused) as nodefit sees it. */
static struct nodefit_node as_nodefit(const struct node_spec *n)
{
    struct nodefit_node nn;

    memset(&nn, 0, sizeof(nn));
    nn.n_gpus = n->gpus;
    nn.model = 1;
    for (int d = 0; d < n->gpus - n->gpus_used; d++)
        nn.gpu_free[d] = NODEFIT_MILLI;
    nn.cpu_cap = n->cpu_m;
    nn.cpu_free = n->cpu_m - n->cpu_used_m;
    nn.mem_cap = nn.mem_free = n->mem_mib;
    return nn;
}

/* A job of one 8-GPU, 128-core worker in the world of nodes (down: bit i set when node i
 * takes no pods of ours) never fits, and its reason reads want. */
static void expect_never_fits(const struct node_spec *nodes, size_t n, unsigned down,
                              const char *want)
{
    struct run x;
    char msg[512];

    world(&x, nodes, n);
    for (size_t i = 0; i < n; i++)
        x.snap->nodes[i].schedulable = !(down & (1U << i));
    snapshot_compute_aggregates(x.snap);
    job(&x, "huge", 8, 8, 128000, 0);
    decide(&x);
    ck_assert_uint_eq(x.r->n_placements, 0);
    ck_assert_int_eq(x.r->pending[0].why.reason, POLICY_REASON_NEVER_FITS);
    policy_why_format(&x.r->pending[0].why, x.snap, msg, sizeof(msg));
    ck_assert_str_eq(msg, want);
    done(&x);
}

/* Best fit by GPUs alone would take "tight" (4 free GPUs, the fullest); but a worker of 2
 * GPUs and 8 cores there leaves 2 GPUs without a core to run beside them. nodefit sees
 * that and takes "roomy"; the engine must choose as nodefit does, and report its figure. */
START_TEST(test_engine_chooses_the_node_nodefit_scores_best)
{
    static const struct node_spec nodes[] = {
        {"tight", 8, 4, 64000, 56000, 1048576, 0},
        {"roomy", 8, 2, 64000, 0, 1048576, 0},
    };
    struct run x;
    double d_tight = nodefit_delta(&nodes[0], 2, 8000, 0);
    double d_roomy = nodefit_delta(&nodes[1], 2, 8000, 0);
    struct buf b;

    ck_assert(d_tight > d_roomy); /* the premise: nodefit prefers roomy */
    world(&x, nodes, 2);
    job(&x, "one", 2, 2, 8000, 0);
    decide(&x);
    ck_assert_uint_eq(x.r->n_placements, 1);
    ck_assert_str_eq(node_of(&x, 0, 0), "roomy");
    ck_assert(x.r->placements[0].workers[0].scored);
    ck_assert(fabs(x.r->placements[0].workers[0].stranded_gpus - d_roomy) < 1e-9);
    /* explain's plan carries the figure */
    buf_init(&b, 4096);
    ck_assert_int_eq(policy_result_json(&x.in, x.r, &b), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "\"node\":\"roomy\",\"gpus\":2,\"strandedGpus\":"));
    buf_free(&b);
    done(&x);

    /* Without CPU requests there is nothing to strand: best fit's choice stands. */
    world(&x, nodes, 2);
    job(&x, "one", 2, 2, 0, 0);
    decide(&x);
    ck_assert_str_eq(node_of(&x, 0, 0), "tight");
    done(&x);
}
END_TEST

/* The queue's 8-GPU, 120-core worker fits only "rich" (128 cores), half the SKU's capacity,
 * and waits for it to drain. A 2-GPU, 24-core job placed meanwhile: the stranded capacity
 * alone prefers rich (4 free GPUs that wide cannot use now anyway), but that kind of node
 * is claimed 0.8 / 0.5 + 0.2 = 1.8 times over (wide brings 8 of the queue's 10 GPUs and can
 * use half the capacity; small, anywhere), so a worker placed there turns away 1 - 1/1.8 of
 * its GPUs, and it goes to "lean". The engine's figure is nodefit's with the nodes told per
 * SKU (nodefit_profile_set_nodes_per_model(), as bench_packing's policy is told them). */
START_TEST(test_queued_wide_worker_keeps_its_kind_of_node)
{
    static const struct node_spec nodes[] = {
        {"rich", 8, 4, 128000, 64000, 1048576, 0},
        {"lean", 8, 3, 64000, 24000, 1048576, 0},
    };
    struct nodefit_req shapes[2] = {{.cpu = 120000, .n_gpus = 8, .milli = NODEFIT_MILLI},
                                    {.cpu = 24000, .n_gpus = 2, .milli = NODEFIT_MILLI}};
    struct nodefit_req r = shapes[1];
    double w[2] = {1, 1}, with[2], without[2];
    struct nodefit_node nn[2];
    struct nodefit_profile *p = NULL;
    struct nodefit_eval ev;
    struct run x;

    for (int i = 0; i < 2; i++)
        nn[i] = as_nodefit(&nodes[i]);
    shapes[0].models = shapes[1].models = r.models = NODEFIT_MODEL_BIT(1);
    ck_assert_int_eq(nodefit_profile_new(shapes, w, 2, &p, NULL), 0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(nodefit_score(p, &nn[i], nodefit_frag(p, &nn[i]), &r, &ev), 0);
        without[i] = ev.frag_delta / NODEFIT_MILLI;
    }
    ck_assert_int_eq(nodefit_profile_set_nodes_per_model(p, nn, 2, NULL), 0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(nodefit_score(p, &nn[i], nodefit_frag(p, &nn[i]), &r, &ev), 0);
        with[i] = ev.frag_delta / NODEFIT_MILLI;
    }
    nodefit_profile_free(&p);
    ck_assert(without[0] < without[1]); /* the premise: without the claims, rich */
    ck_assert(fabs(with[0] - without[0] - (1 - 1 / 1.8) * 2) < 1e-9);
    ck_assert(fabs(with[1] - without[1]) < 1e-9);
    ck_assert(with[0] > with[1]);

    world(&x, nodes, 2);
    x.cfg.reserve_after_s = 3600; /* wide has waited a second: it holds no node yet */
    job(&x, "wide", 8, 8, 120000, 0);
    job(&x, "small", 2, 2, 24000, 0);
    decide(&x);
    ck_assert_uint_eq(x.r->n_placements, 1);
    ck_assert_uint_eq(x.r->placements[0].job, 1);
    ck_assert_str_eq(node_of(&x, 0, 0), "lean");
    ck_assert(fabs(x.r->placements[0].workers[0].stranded_gpus - with[1]) < 1e-9);
    done(&x);
}
END_TEST

/* The engine weighs the queue's shapes as a rehearsal of the queue on the free nodes finds
 * better (nodefit_profile_rehearse(), two runs, seed 1): here, by count (three workers of 2
 * GPUs and 24 cores, two of 2 GPUs and 8 cores, two of 4 GPUs and 32 cores on a 64-core
 * node and a half-used 128-core one: weighted by demand the rehearsals turn 4 GPUs away,
 * by count none). The figure explain reports for a worker is nodefit's under that weighting. */
START_TEST(test_engine_weighs_shapes_as_its_rehearsal_finds)
{
    static const struct node_spec nodes[] = {
        {"small", 8, 0, 64000, 0, 1048576, 0},
        {"big", 8, 4, 128000, 0, 1048576, 0},
    };
    struct nodefit_req shapes[3] = {{.cpu = 24000, .n_gpus = 2, .milli = NODEFIT_MILLI},
                                    {.cpu = 8000, .n_gpus = 2, .milli = NODEFIT_MILLI},
                                    {.cpu = 32000, .n_gpus = 4, .milli = NODEFIT_MILLI}};
    double w[3] = {3, 2, 2}, by[2][2];
    struct nodefit_rehearsal rh = {.runs = 2, .max_nodes = 128, .seed = 1};
    struct nodefit_node nn[2];
    struct nodefit_profile *p = NULL;
    struct nodefit_eval ev;
    struct run x;
    int at;

    for (int i = 0; i < 2; i++)
        nn[i] = as_nodefit(&nodes[i]);
    for (int k = 0; k < 3; k++)
        shapes[k].models = NODEFIT_MODEL_BIT(1);
    ck_assert_int_eq(nodefit_profile_new(shapes, w, 3, &p, NULL), 0);
    ck_assert_int_eq(nodefit_profile_set_nodes_per_model(p, nn, 2, NULL), 0);
    nodefit_profile_rehearse(p, nn, 2, &rh);
    ck_assert_msg(rh.lost[NODEFIT_WEIGHT_COUNT] < rh.lost[NODEFIT_WEIGHT_DEMAND],
                  "the premise: demand %.0f, count %.0f", rh.lost[0], rh.lost[1]);
    for (int wt = NODEFIT_WEIGHT_DEMAND; wt <= NODEFIT_WEIGHT_COUNT; wt++) {
        nodefit_profile_weigh(p, (enum nodefit_weights)wt);
        for (int i = 0; i < 2; i++) {
            ck_assert_int_eq(nodefit_score(p, &nn[i], nodefit_frag(p, &nn[i]), &shapes[0], &ev), 0);
            by[wt][i] = ev.frag_delta / NODEFIT_MILLI;
        }
    }
    nodefit_profile_free(&p);
    at = by[NODEFIT_WEIGHT_COUNT][1] < by[NODEFIT_WEIGHT_COUNT][0] ? 1 : 0;
    ck_assert(fabs(by[NODEFIT_WEIGHT_COUNT][at] - by[NODEFIT_WEIGHT_DEMAND][at]) > 1e-3);

    world(&x, nodes, 2);
    job(&x, "a", 6, 2, 24000, 0);
    job(&x, "b", 4, 2, 8000, 0);
    job(&x, "c", 8, 4, 32000, 0);
    decide(&x);
    ck_assert_uint_ge(x.r->n_placements, 1);
    ck_assert_uint_eq(x.r->placements[0].job, 0);
    ck_assert_str_eq(node_of(&x, 0, 0), nodes[at].name);
    ck_assert_msg(
        fabs(x.r->placements[0].workers[0].stranded_gpus - by[NODEFIT_WEIGHT_COUNT][at]) < 1e-9,
        "engine %.6f, count %.6f, demand %.6f", x.r->placements[0].workers[0].stranded_gpus,
        by[NODEFIT_WEIGHT_COUNT][at], by[NODEFIT_WEIGHT_DEMAND][at]);
    done(&x);
}
END_TEST

/* A node with every GPU free but too little CPU (or memory) gets no worker; when no node
 * has both, the job waits and explain says the CPU is what is short. */
START_TEST(test_node_short_of_cpu_or_memory_is_not_planned)
{
    static const struct node_spec cpu_short[] = {
        {"a-cpu-short", 8, 0, 96000, 90000, 1048576, 0},
        {"b-ok", 8, 0, 96000, 0, 1048576, 0},
    };
    static const struct node_spec mem_short[] = {
        {"a-mem-short", 8, 0, 96000, 0, 1048576, 1040000},
        {"b-ok", 8, 0, 96000, 0, 1048576, 0},
    };
    struct run x;
    struct explain *ex = NULL;
    char msg[512];
    struct buf b;

    world(&x, cpu_short, 2);
    job(&x, "big", 8, 8, 32000, 65536);
    decide(&x);
    ck_assert_uint_eq(x.r->n_placements, 1);
    ck_assert_str_eq(node_of(&x, 0, 0), "b-ok");
    done(&x);

    world(&x, mem_short, 2);
    job(&x, "big", 8, 8, 32000, 65536);
    decide(&x);
    ck_assert_uint_eq(x.r->n_placements, 1);
    ck_assert_str_eq(node_of(&x, 0, 0), "b-ok");
    done(&x);

    /* Only the short node: the job waits, though 8 GPUs are free. */
    world(&x, cpu_short, 1);
    job(&x, "big", 8, 8, 32000, 65536);
    decide(&x);
    ck_assert_uint_eq(x.r->n_placements, 0);
    ck_assert_uint_eq(x.r->n_pending, 1);
    ck_assert_int_eq(x.r->pending[0].why.reason, POLICY_REASON_NODE_RESOURCES);
    ck_assert_int_eq(x.r->pending[0].why.value, 1);  /* one node short of CPU */
    ck_assert_int_eq(x.r->pending[0].why.value2, 0); /* none of memory */
    policy_why_format(&x.r->pending[0].why, x.snap, msg, sizeof(msg));
    ck_assert_str_eq(msg, "h100-80gb: needs 1 worker of 8 GPUs, 32 CPU and 64 GiB each; 1 node "
                          "has 8 GPUs free, but with the CPU and memory beside them there is "
                          "room for 0 (1 short of CPU, 0 of memory)");
    ck_assert_int_eq(explain_job(&x.in, x.r, 0, &ex, NULL), 0);
    ck_assert_uint_eq(ex->n_clusters, 1);
    ck_assert_int_ge((int)ex->clusters[0].n_whys, 1);
    ck_assert_int_eq(ex->clusters[0].whys[0].reason, POLICY_REASON_NODE_RESOURCES);
    buf_init(&b, 4096);
    ck_assert_int_eq(policy_why_json(&b, x.snap, &ex->clusters[0].whys[0]), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "\"reason\":\"node_resources\""));
    ck_assert_ptr_nonnull(strstr(b.data, "\"nodesShortOfCpu\":1,\"nodesShortOfMemory\":0"));
    buf_free(&b);
    explain_free(&ex);
    done(&x);

    /* A worker bigger than any node's CPU never fits, and the sentence says with what;
     * the same with every GPU in use: what never fits is still the CPU, not the load. */
    {
        static const struct node_spec full[] = {
            {"a-full", 8, 8, 96000, 0, 1048576, 0},
            {"b-full", 8, 8, 96000, 0, 1048576, 0},
        };
        static const char want[] =
            "h100-80gb: needs 1 worker of 8 GPUs, 128 CPU each, only 0 fit even when idle";

        expect_never_fits(cpu_short, 2, 0, want);
        expect_never_fits(full, 2, 0, want);
    }
    /* A node that takes no pods of ours is named only when it could hold a worker idle: a
     * 128-core one is, a 96-core one is not. */
    {
        static const struct node_spec some_down[] = {
            {"a-full", 8, 8, 96000, 0, 1048576, 0},
            {"b-down", 8, 0, 96000, 0, 1048576, 0},
            {"c-down-big", 8, 0, 128000, 0, 1048576, 0},
        };

        expect_never_fits(some_down, 3, 6,
                          "h100-80gb: needs 1 worker of 8 GPUs, 128 CPU each, only 0 fit even "
                          "when idle; 1 node with 8 GPUs takes no pods of ours (NotReady, "
                          "cordoned or tainted)");
    }
}
END_TEST

/* Workers of one gang and of later jobs in the same cycle use up CPU as they go; a plan not
 * yet in the snapshot holds its CPU too; a node of unknown CPU is checked for GPUs only. */
START_TEST(test_cpu_is_counted_across_workers_and_in_flight_plans)
{
    static const struct node_spec nodes[] = {
        {"n0", 8, 0, 64000, 0, 0, 0},
    };
    static const struct node_spec busy[] = {
        {"n0", 8, 0, 128000, 64000, 0, 0},
    };
    static const struct node_spec unknown[] = {
        {"n0", 8, 0, 0, 0, 0, 0},
    };
    static const struct job_node_use plan[] = {{"n0", 2}};
    struct run x;

    /* Four workers of 2 GPUs and 24 cores: GPUs for four, CPU for two now (five when the
     * node is idle). */
    world(&x, busy, 1);
    job(&x, "gang", 8, 2, 24000, 0);
    decide(&x);
    ck_assert_uint_eq(x.r->n_placements, 0);
    ck_assert_int_eq(x.r->pending[0].why.reason, POLICY_REASON_NODE_RESOURCES);
    ck_assert_int_eq(x.r->pending[0].why.have, 2);
    done(&x);

    /* Two jobs of 2 GPUs and 40 cores: the first takes the CPU the second needs. */
    world(&x, nodes, 1);
    job(&x, "first", 2, 2, 40000, 0);
    job(&x, "second", 2, 2, 40000, 0);
    decide(&x);
    ck_assert_uint_eq(x.r->n_placements, 1);
    ck_assert_uint_eq(x.r->n_pending, 1);
    ck_assert_int_eq(x.r->pending[0].why.reason, POLICY_REASON_NODE_RESOURCES);
    done(&x);

    /* A job admitted a moment ago holds 2 GPUs and 40 cores there, not yet in the
     * snapshot: the next job of 40 cores does not fit beside it. */
    world(&x, nodes, 1);
    x.ru[0] = (struct policy_running){.id = 9,
                                      .ns = "team",
                                      .name = "admitted",
                                      .cluster = "az1",
                                      .sku = 0,
                                      .gpus = 2,
                                      .gpus_per_worker = 2,
                                      .cpu_m_per_worker = 40000,
                                      .started_ms = NOW,
                                      .plan = plan,
                                      .n_plan = 1};
    x.in.n_running = 1;
    job(&x, "next", 2, 2, 40000, 0);
    decide(&x);
    ck_assert_uint_eq(x.r->n_placements, 0);
    ck_assert_int_eq(x.r->pending[0].why.reason, POLICY_REASON_NODE_RESOURCES);
    done(&x);

    /* Unknown CPU (allocatable 0, as a writer that does not read it leaves it): GPUs only. */
    world(&x, unknown, 1);
    job(&x, "gang", 8, 2, 24000, 0);
    decide(&x);
    ck_assert_uint_eq(x.r->n_placements, 1);
    done(&x);
}
END_TEST

/* The queue's shapes count for a node only if their jobs may run on its SKU. a100 nodes:
 * "a-3free" (3 of 8 GPUs free) and "a-empty"; the only h100 node is full, and ten 3-GPU
 * workers wait for h100. A 1-GPU a100 job fits both a100 nodes. Were the h100 shapes
 * counted on a100 nodes, the 1-GPU worker on "a-3free" would strand the 2 GPUs left there
 * for them (on "a-empty" it strands 1 fewer), and it would go to "a-empty"; they cannot
 * use a100, nothing is stranded either way, and best fit takes "a-3free". */
START_TEST(test_shapes_count_only_on_their_skus)
{
    struct run x;

    memset(&x, 0, sizeof(x));
    ck_assert_int_eq(snapshot_new(1, 3, 2, &x.snap, NULL), 0);
    snprintf(x.snap->sku_names[0], SNAPSHOT_SKU_NAME_MAX, "a100-80gb");
    snprintf(x.snap->sku_names[1], SNAPSHOT_SKU_NAME_MAX, "h100-80gb");
    snprintf(x.snap->clusters[0].name, SNAPSHOT_NAME_MAX, "az1");
    x.snap->clusters[0].n_nodes = 3;
    x.snap->clusters[0].health = SNAPSHOT_HEALTH_READY;
    x.snap->clusters[0].last_poll_ms = NOW;
    x.snap->taken_ms = NOW;
    for (size_t i = 0; i < 3; i++) {
        struct snapshot_node *sn = &x.snap->nodes[i];
        static const char *const names[] = {"a-3free", "a-empty", "h-full"};
        static const int used[] = {5, 0, 8};

        snprintf(sn->name, sizeof(sn->name), "%s", names[i]);
        sn->sku = i < 2 ? 0 : 1;
        sn->pool = SNAPSHOT_POOL_TRAINING;
        sn->allocatable = 8;
        sn->used = used[i];
        sn->schedulable = true;
    }
    snapshot_compute_aggregates(x.snap);
    defaults_policy(&x.cfg);
    x.st = policy_state_new();
    x.in.snap = x.snap;
    x.in.queue = x.q;
    x.in.running = x.ru;
    x.in.cfg = &x.cfg;
    x.in.now_ms = NOW;
    job(&x, "small", 1, 1, 0, 0);
    /* One queued job of ten 3-GPU workers on h100 (30 GPUs): weight 10 in the profile. */
    job(&x, "wide", 30, 3, 0, 0)->sku = 1;
    decide(&x);
    ck_assert_uint_eq(x.r->n_placements, 1);
    ck_assert_str_eq(x.r->placements[0].job == 0 ? node_of(&x, 0, 0) : "not small", "a-3free");
    done(&x);
}
END_TEST

/* A running placement of the world, in the snapshot: gpus on one node, per-worker CPU. */
static void running(struct run *x, const char *name, const struct job_node_use *plan, int gpus,
                    int64_t cpu_m, int priority, int64_t last_checkpoint_ms)
{
    size_t r = x->in.n_running++;

    x->ru[r] = (struct policy_running){.id = 100 + r,
                                       .ns = "team",
                                       .name = name,
                                       .cluster = "az1",
                                       .pool = SNAPSHOT_POOL_TRAINING,
                                       .sku = 0,
                                       .gpus = gpus,
                                       .priority = priority,
                                       .preemptible = true,
                                       .started_ms = NOW - 7200 * 1000LL,
                                       .last_checkpoint_ms = last_checkpoint_ms,
                                       .in_snapshot = true,
                                       .gpus_per_worker = gpus,
                                       .cpu_m_per_worker = cpu_m,
                                       .plan = plan,
                                       .n_plan = 1};
}

/* GPUs free but not the CPU beside them: "hog" (priority 0, 4 GPUs and 56 of the node's 64
 * cores) keeps a 4-GPU, 32-core job of priority 100 off a node with 4 GPUs free. Stopping
 * the hog frees the cores, so the job preempts it; before, the GPUs alone were counted,
 * the job "fitted" without a victim, and nothing was preempted. */
START_TEST(test_preemption_frees_the_cpu_the_job_needs)
{
    static const struct node_spec nodes[] = {
        {"n0", 8, 4, 64000, 56000, 0, 0},
    };
    static const struct job_node_use plan[] = {{"n0", 4}};
    struct run x;

    world(&x, nodes, 1);
    running(&x, "hog", plan, 4, 56000, 0, 0);
    job(&x, "hi", 4, 4, 32000, 0)->priority = 100;
    decide(&x);
    ck_assert_uint_eq(x.r->n_placements, 0);
    ck_assert_uint_eq(x.r->n_pending, 1);
    ck_assert(x.r->pending[0].preempting);
    ck_assert_uint_eq(x.r->n_reclaims, 1);
    ck_assert_uint_eq(x.r->reclaims[0].running, 0);
    ck_assert_int_eq(x.r->reclaims[0].reason, POLICY_RECLAIM_PRIORITY);
    ck_assert_uint_eq(x.r->reclaims[0].for_job, 0);
    done(&x);

    /* A victim of lower priority whose cores would not be enough is no preemption: with
     * 40 more cores held by pods the policy does not know, the job still would not fit. */
    {
        static const struct node_spec crowded[] = {
            {"n0", 8, 4, 64000, 64000, 0, 0},
        };
        static const struct job_node_use small[] = {{"n0", 4}};

        world(&x, crowded, 1);
        running(&x, "small", small, 4, 24000, 0, 0);
        job(&x, "hi", 4, 4, 32000, 0)->priority = 100;
        decide(&x);
        ck_assert_uint_eq(x.r->n_reclaims, 0);
        ck_assert(!x.r->pending[0].preempting);
        done(&x);
    }
}
END_TEST

/* Two full nodes, each running one preemptible priority-0 job of 8 GPUs and 8 cores: "a"
 * on "crowded" (the other 56 cores held by pods outside the policy) checkpointed a minute
 * ago, "b" on "calm" never. By lost work "a" goes first, but a 32-core job could not use
 * "crowded" once "a" stopped: the victim is "b". */
START_TEST(test_preemption_picks_victims_whose_nodes_have_the_cpu)
{
    static const struct node_spec nodes[] = {
        {"crowded", 8, 8, 64000, 64000, 0, 0},
        {"calm", 8, 8, 64000, 8000, 0, 0},
    };
    static const struct job_node_use on_crowded[] = {{"crowded", 8}};
    static const struct job_node_use on_calm[] = {{"calm", 8}};
    struct run x;

    world(&x, nodes, 2);
    running(&x, "a", on_crowded, 8, 8000, 0, NOW - 60 * 1000);
    running(&x, "b", on_calm, 8, 8000, 0, 0);
    job(&x, "hi", 8, 8, 32000, 0)->priority = 100;
    decide(&x);
    ck_assert_uint_eq(x.r->n_reclaims, 1);
    ck_assert_str_eq(x.ru[x.r->reclaims[0].running].name, "b");
    ck_assert(x.r->pending[0].preempting);
    done(&x);

    /* The same without CPU figures for the job: lost work decides, and "a" goes. */
    world(&x, nodes, 2);
    running(&x, "a", on_crowded, 8, 8000, 0, NOW - 60 * 1000);
    running(&x, "b", on_calm, 8, 8000, 0, 0);
    job(&x, "hi", 8, 8, 0, 0)->priority = 100;
    decide(&x);
    ck_assert_uint_eq(x.r->n_reclaims, 1);
    ck_assert_str_eq(x.ru[x.r->reclaims[0].running].name, "a");
    done(&x);
}
END_TEST

/* A reservation holds as many nodes as the gang needs when they are idle, CPU included.
 * Two workers of 4 GPUs and 48 cores: n0 (4 GPUs free) has the GPUs for both once idle,
 * but the cores (64) for one, so n1 is held too, and a 2-GPU job that would have taken
 * n1's 2 free GPUs waits; explain says they are reserved (the queue summary keeps the early
 * rejection's insufficient_capacity, docs/policy.md "What is not done yet"). */
START_TEST(test_reservation_holds_enough_nodes_for_the_cpu)
{
    static const struct node_spec nodes[] = {
        {"n0", 8, 4, 64000, 8000, 0, 0},
        {"n1", 8, 6, 64000, 8000, 0, 0},
        {"n2", 8, 8, 64000, 8000, 0, 0},
    };
    struct run x;

    world(&x, nodes, 3);
    x.cfg.reserve_after_s = 0;
    job(&x, "gang", 8, 4, 48000, 0);
    job(&x, "small", 2, 2, 4000, 0);
    decide(&x);
    ck_assert_uint_eq(x.r->n_placements, 0);
    ck_assert_uint_eq(x.r->n_pending, 2);
    ck_assert_uint_eq(x.r->pending[0].job, 0);
    ck_assert(x.r->pending[0].reserving);
    ck_assert_uint_eq(x.r->pending[1].job, 1);
    {
        struct explain *ex = NULL;
        char msg[512];

        ck_assert_int_eq(explain_job(&x.in, x.r, 1, &ex, NULL), 0);
        ck_assert_uint_eq(ex->n_clusters, 1);
        ck_assert_int_ge((int)ex->clusters[0].n_whys, 1);
        ck_assert_int_eq(ex->clusters[0].whys[0].reason, POLICY_REASON_RESERVED);
        policy_why_format(&ex->clusters[0].whys[0], x.snap, msg, sizeof(msg));
        ck_assert_str_eq(msg, "h100-80gb: needs 1 worker of 2 GPUs, 0 nodes have 2 free; the "
                              "rest is reserved for team/gang");
        explain_free(&ex);
    }
    done(&x);
}
END_TEST

/* A backfilled job that holds the cores a reservation needs gives them back: "bf" (2 GPUs,
 * 40 of n0's 64 cores) went ahead of "gang" (4 GPUs, 32 cores) onto its reserved node. n0's
 * 6 free GPUs would hold the gang, its 24 free cores would not, so bf is evicted; before,
 * the GPUs alone were counted and the gang waited for bf to end by itself. The eviction
 * comes in the second cycle that gang holds n0, not in the first. */
START_TEST(test_backfill_evicted_for_the_cpu_it_holds)
{
    static const struct node_spec nodes[] = {
        {"n0", 8, 2, 64000, 40000, 0, 0},
    };
    static const struct job_node_use plan[] = {{"n0", 2}};
    struct run x;

    world(&x, nodes, 1);
    x.cfg.reserve_after_s = 0;
    running(&x, "bf", plan, 2, 40000, 0, 0);
    x.st->backfill = xcalloc(1, sizeof(*x.st->backfill));
    x.st->backfill[0] = x.ru[0].id;
    x.st->n_backfill = x.st->cap_backfill = 1;
    job(&x, "gang", 4, 4, 32000, 0);
    decide(&x);
    ck_assert_uint_eq(x.r->n_placements, 0);
    ck_assert_uint_eq(x.r->n_reclaims, 0);
    ck_assert(x.r->pending[0].reserving);
    ck_assert(!x.r->pending[0].preempting);
    policy_result_free(&x.r);
    decide(&x);
    ck_assert_uint_eq(x.r->n_placements, 0);
    ck_assert_uint_eq(x.r->n_reclaims, 1);
    ck_assert_uint_eq(x.r->reclaims[0].running, 0);
    ck_assert_int_eq(x.r->reclaims[0].reason, POLICY_RECLAIM_BACKFILL);
    ck_assert_uint_eq(x.r->reclaims[0].for_job, 0);
    ck_assert(x.r->pending[0].preempting);
    done(&x);
}
END_TEST

/* The same node, with bf of priority 10 and the gang of priority 0: bf was backfilled onto
 * a reservation of a job that outranked it, and that job has gone. The gang that holds n0
 * now is of lower priority than bf, so it waits for bf to end and never evicts it. */
START_TEST(test_backfill_outranking_the_holder_is_not_evicted)
{
    static const struct node_spec nodes[] = {
        {"n0", 8, 2, 64000, 40000, 0, 0},
    };
    static const struct job_node_use plan[] = {{"n0", 2}};
    struct run x;

    world(&x, nodes, 1);
    x.cfg.reserve_after_s = 0;
    running(&x, "bf", plan, 2, 40000, 10, 0);
    x.st->backfill = xcalloc(1, sizeof(*x.st->backfill));
    x.st->backfill[0] = x.ru[0].id;
    x.st->n_backfill = x.st->cap_backfill = 1;
    job(&x, "gang", 4, 4, 32000, 0);
    for (int cycle = 0; cycle < 3; cycle++) {
        decide(&x);
        ck_assert_uint_eq(x.r->n_placements, 0);
        ck_assert_msg(x.r->n_reclaims == 0, "cycle %d: bf (priority 10) evicted for a job of 0",
                      cycle);
        ck_assert(x.r->pending[0].reserving);
        ck_assert(!x.r->pending[0].preempting);
        policy_result_free(&x.r);
    }
    done(&x);
}
END_TEST

/* Fair share does not count the GPUs of backfilled jobs as held: "bf" (namespace a, 8 GPUs)
 * runs on a reservation's sufferance. With it counted, b's job went first; the order then
 * turned over each time bf was evicted and backfilled again, and with it which jobs
 * reserved. Here a and b have no history, so their jobs go in namespace order: a's first,
 * onto the one free slot. Without the backfill record, bf counts and b's job goes first. */
START_TEST(test_backfilled_gpus_not_in_fair_share)
{
    static const struct node_spec nodes[] = {
        {"n0", 8, 8, 64000, 32000, 0, 0},
        {"n1", 8, 4, 64000, 0, 0, 0},
    };
    static const struct job_node_use plan[] = {{"n0", 8}};

    for (int recorded = 0; recorded < 2; recorded++) {
        struct run x;

        world(&x, nodes, 2);
        running(&x, "bf", plan, 8, 32000, 0, 0);
        x.ru[0].ns = "a";
        if (recorded) {
            x.st->backfill = xcalloc(1, sizeof(*x.st->backfill));
            x.st->backfill[0] = x.ru[0].id;
            x.st->n_backfill = x.st->cap_backfill = 1;
        }
        job(&x, "x", 4, 4, 8000, 0)->ns = "b";
        job(&x, "y", 4, 4, 8000, 0)->ns = "a";
        decide(&x);
        ck_assert_uint_eq(x.r->n_placements, 1);
        ck_assert_str_eq(x.q[x.r->placements[0].job].name, recorded ? "y" : "x");
        done(&x);
    }
}
END_TEST

/* The world's nodes as az1's serving pool (reserve 2 GPUs, never lending), their used GPUs
 * all borrowed, with the Pending serving pods pods (n) and their GPUs as demand; the
 * deficit is acted on at its first snapshot. */
static void serving_world(struct run *x, const struct node_spec *nodes, size_t n,
                          const struct snapshot_pending_pod *pods, size_t n_pods)
{
    struct snapshot_serving_pool *sv;
    struct snapshot_agg *a;

    world(x, nodes, n);
    for (size_t i = 0; i < n; i++) {
        x->snap->nodes[i].pool = SNAPSHOT_POOL_SERVING;
        x->snap->nodes[i].borrowed = x->snap->nodes[i].used;
    }
    snapshot_compute_aggregates(x->snap);
    sv = &x->snap->clusters[0].serving;
    sv->present = true;
    sv->reserve_gpus = 2;
    sv->lend_policy = SNAPSHOT_LEND_NEVER;
    a = snapshot_agg(x->snap, 0, SNAPSHOT_POOL_SERVING, 0);
    a->reserve = 2;
    for (size_t p = 0; p < n_pods; p++) {
        sv->pending[sv->n_pending++] = pods[p];
        a->pending_serving += pods[p].gpus;
    }
    x->cfg.reclaim_k = 1;
    x->cfg.reclaim_settle_s = 0;
    x->cfg.min_runtime_s = 0;
}

/* A borrower on the serving pool (running() on pool serving, one worker). */
static void borrower(struct run *x, const char *name, const struct job_node_use *plan, int gpus,
                     int64_t cpu_m, int64_t last_checkpoint_ms)
{
    running(x, name, plan, gpus, cpu_m, 0, last_checkpoint_ms);
    x->ru[x->in.n_running - 1].pool = SNAPSHOT_POOL_SERVING;
}

/* A Pending serving pod of 4 GPUs and 16 cores, in a pool with 8 GPUs free (6 on s0, 2 on
 * s1) against 4 pending + 2 reserve: no GPU deficit, but no node can take the pod. s0 has
 * the GPUs, and borrower "a" holds 60 of its 64 cores; s1 has 2 GPUs free, and "c" (the
 * least lost work) holds 1 more there, "b" the other 5. Going by GPUs, nothing was short;
 * node by node, "a" goes, and the pod fits s0 (evicting "c" would leave s1 at 3 GPUs). */
START_TEST(test_serving_pod_short_of_cores_reclaims_the_borrower_holding_them)
{
    static const struct node_spec nodes[] = {
        {"s0", 8, 2, 64000, 60000, 0, 0},
        {"s1", 8, 6, 64000, 8000, 0, 0},
    };
    static const struct snapshot_pending_pod pod = {.sku = 0, .gpus = 4, .cpu_m = 16000};
    static const struct job_node_use on_a[] = {{"s0", 2}}, on_b[] = {{"s1", 5}},
                                     on_c[] = {{"s1", 1}};
    const struct policy_pool_status *ps;
    struct run x;

    serving_world(&x, nodes, 2, &pod, 1);
    borrower(&x, "a", on_a, 2, 60000, NOW - 1800 * 1000LL);
    borrower(&x, "b", on_b, 5, 4000, NOW - 7200 * 1000LL);
    borrower(&x, "c", on_c, 1, 4000, NOW - 60 * 1000LL);
    decide(&x);
    ck_assert_uint_eq(x.r->n_reclaims, 1);
    ck_assert_uint_eq(x.r->reclaims[0].running, 0);
    ck_assert_int_eq(x.r->reclaims[0].reason, POLICY_RECLAIM_DEFICIT);
    ck_assert_int_eq(x.r->reclaims[0].checkpoint_by_ms, 0);
    ck_assert_ptr_nonnull(x.r->reclaims[0].pod);
    ck_assert_int_eq(x.r->reclaims[0].pod->gpus, 4);
    ck_assert_str_eq(x.r->reclaims[0].node, "s0");
    ck_assert_uint_eq(x.r->n_pools, 1);
    ps = &x.r->pools[0];
    ck_assert_int_le(ps->deficit, 0);
    ck_assert_int_eq(ps->stuck, 4);
    ck_assert_int_eq(ps->reclaimed, 2);
    done(&x);
}
END_TEST

/* A Pending serving pod whose own constraints (nodeSelector, affinity, tolerations) keep it
 * off s0, which has the 6 free GPUs: it fits no node it may use, so the borrower on s1
 * goes, and the pod is counted as stuck. A pod that no node of the pool may take is not
 * the pool's to serve: nothing is stuck and nobody is reclaimed for it. */
/* The pool of the test below with the pending pod barred (pending_barred) from s0 by bar0
 * and from s1 by bar1, decided. */
static void barred_world(struct run *x, uint16_t bar0, uint16_t bar1)
{
    static const struct node_spec nodes[] = {
        {"s0", 8, 2, 64000, 8000, 0, 0},
        {"s1", 8, 6, 64000, 8000, 0, 0},
    };
    static const struct snapshot_pending_pod pod = {.sku = 0, .gpus = 4, .cpu_m = 4000};
    static const struct job_node_use on_a[] = {{"s0", 2}}, on_b[] = {{"s1", 6}};

    serving_world(x, nodes, 2, &pod, 1);
    x->snap->nodes[0].pending_barred = bar0;
    x->snap->nodes[1].pending_barred = bar1;
    borrower(x, "a", on_a, 2, 4000, NOW - 1800 * 1000LL);
    borrower(x, "b", on_b, 6, 4000, NOW - 7200 * 1000LL);
    decide(x);
}

START_TEST(test_serving_pod_barred_from_the_free_node_reclaims_where_it_may_go)
{
    struct run x;

    barred_world(&x, 1, 0);
    ck_assert_int_eq(x.r->pools[0].stuck, 4);
    ck_assert_uint_eq(x.r->n_reclaims, 1);
    ck_assert_uint_eq(x.r->reclaims[0].running, 1);
    ck_assert_str_eq(x.r->reclaims[0].node, "s1");
    done(&x);

    /* Another pending pod's bit bars nothing for this one. */
    barred_world(&x, 2, 0);
    ck_assert_int_eq(x.r->pools[0].stuck, 0);
    ck_assert_uint_eq(x.r->n_reclaims, 0);
    done(&x);

    barred_world(&x, 1, 1);
    ck_assert_int_eq(x.r->pools[0].stuck, 0);
    ck_assert_uint_eq(x.r->n_reclaims, 0);
    done(&x);
}
END_TEST

/* The same pool, but the pod asks for 4 cores: it fits s0 as it is, so nothing is stuck and
 * nobody is reclaimed, unless s0 is cordoned; and a pod that no eviction can make room for (more memory than a
 * node has) is stuck, lends nothing (2 GPUs would be lendable by GPUs), and takes no
 * victim. */
START_TEST(test_serving_pod_reclaims_only_what_makes_it_fit)
{
    static const struct node_spec nodes[] = {
        {"s0", 8, 2, 64000, 60000, 512000, 0},
        {"s1", 8, 6, 64000, 8000, 512000, 0},
    };
    static const struct snapshot_pending_pod small = {.sku = 0, .gpus = 4, .cpu_m = 4000},
                                             huge = {.sku = 0, .gpus = 4, .mem_mib = 1024000};
    static const struct job_node_use on_a[] = {{"s0", 2}}, on_b[] = {{"s1", 6}};
    struct run x;

    serving_world(&x, nodes, 2, &small, 1);
    borrower(&x, "a", on_a, 2, 60000, NOW - 1800 * 1000LL);
    borrower(&x, "b", on_b, 6, 8000, NOW - 7200 * 1000LL);
    decide(&x);
    ck_assert_int_eq(x.r->pools[0].stuck, 0);
    ck_assert_uint_eq(x.r->n_reclaims, 0);
    done(&x);

    /* s0 cordoned: no place for the pod, however free; b goes (s1 then has 8 GPUs). */
    serving_world(&x, nodes, 2, &small, 1);
    x.snap->nodes[0].schedulable = false;
    snapshot_compute_aggregates(x.snap);
    borrower(&x, "a", on_a, 2, 60000, NOW - 1800 * 1000LL);
    borrower(&x, "b", on_b, 6, 8000, NOW - 7200 * 1000LL);
    decide(&x);
    ck_assert_int_eq(x.r->pools[0].stuck, 4);
    ck_assert_uint_eq(x.r->n_reclaims, 1);
    ck_assert_uint_eq(x.r->reclaims[0].running, 1);
    done(&x);

    serving_world(&x, nodes, 2, &huge, 1);
    x.snap->clusters[0].serving.lend_policy = SNAPSHOT_LEND_WINDOW; /* all day */
    x.snap->clusters[0].serving.n_windows = 1;
    borrower(&x, "a", on_a, 2, 60000, NOW - 1800 * 1000LL);
    borrower(&x, "b", on_b, 6, 8000, NOW - 7200 * 1000LL);
    job(&x, "wants-to-borrow", 1, 1, 0, 0)->preemptible = true;
    decide(&x);
    ck_assert_int_eq(x.r->pools[0].lendable, 0);
    ck_assert_int_eq(x.r->pools[0].stuck, 4);
    ck_assert_uint_eq(x.r->n_reclaims, 0);
    /* And the job that would borrow is told why. */
    ck_assert_uint_eq(x.r->n_placements, 0);
    {
        char msg[256];

        policy_why_format(&x.r->pending[0].why, x.snap, msg, sizeof(msg));
        ck_assert_str_eq(
            msg, "h100-80gb: nothing lent while 4 GPUs of Pending serving pods fit no node");
    }
    done(&x);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("node_fit");
    TCase *tc = tcase_create("engine");

    tcase_add_test(tc, test_engine_chooses_the_node_nodefit_scores_best);
    tcase_add_test(tc, test_node_short_of_cpu_or_memory_is_not_planned);
    tcase_add_test(tc, test_cpu_is_counted_across_workers_and_in_flight_plans);
    tcase_add_test(tc, test_shapes_count_only_on_their_skus);
    tcase_add_test(tc, test_queued_wide_worker_keeps_its_kind_of_node);
    tcase_add_test(tc, test_engine_weighs_shapes_as_its_rehearsal_finds);
    suite_add_tcase(s, tc);
    tc = tcase_create("victims");
    tcase_add_test(tc, test_preemption_frees_the_cpu_the_job_needs);
    tcase_add_test(tc, test_preemption_picks_victims_whose_nodes_have_the_cpu);
    tcase_add_test(tc, test_reservation_holds_enough_nodes_for_the_cpu);
    tcase_add_test(tc, test_backfill_evicted_for_the_cpu_it_holds);
    tcase_add_test(tc, test_backfill_outranking_the_holder_is_not_evicted);
    tcase_add_test(tc, test_backfilled_gpus_not_in_fair_share);
    suite_add_tcase(s, tc);
    tc = tcase_create("serving");
    tcase_add_test(tc, test_serving_pod_short_of_cores_reclaims_the_borrower_holding_them);
    tcase_add_test(tc, test_serving_pod_reclaims_only_what_makes_it_fit);
    tcase_add_test(tc, test_serving_pod_barred_from_the_free_node_reclaims_where_it_may_go);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
