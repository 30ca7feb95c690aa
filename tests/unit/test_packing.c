/* test_packing.c -- policy/nodefit (fit rules, the stranded-capacity measure, device choice,
 * ordering) and the openb packing harness (workload generation, determinism for a seed, the
 * published figures, the curve), on hand-built nodes and the testdata/traces/ extract. */
#include "base/err.h"
#include "base/mem.h"
#include "policy/nodefit.h"
#include "whatif/packing.h"
#include "whatif/trace.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct nodefit_node node(int64_t cpu, int64_t mem, int gpus)
{
    struct nodefit_node n;

    memset(&n, 0, sizeof(n));
    n.cpu_cap = n.cpu_free = cpu;
    n.mem_cap = n.mem_free = mem;
    n.n_gpus = gpus;
    for (int j = 0; j < gpus; j++)
        n.gpu_free[j] = NODEFIT_MILLI;
    return n;
}

static struct nodefit_req req(int64_t cpu, int64_t mem, int gpus, int milli)
{
    struct nodefit_req r = {cpu, mem, gpus, milli, 0};

    return r;
}

/* A profile of whole-GPU pods of 8 cores and 32 GiB each (one GPU, or eight). */
static struct nodefit_profile *profile_whole(void)
{
    struct nodefit_req shapes[2] = {req(8000, 32768, 1, 1000), req(64000, 262144, 8, 1000)};
    double w[2] = {3, 1};
    struct nodefit_profile *p = NULL;

    ck_assert_int_eq(nodefit_profile_new(shapes, w, 2, &p, NULL), 0);
    return p;
}

static bool fits(const struct nodefit_node *n, struct nodefit_req r)
{
    return nodefit_fits(n, &r);
}

START_TEST(fits_checks_every_dimension)
{
    struct nodefit_node n = node(16000, 65536, 2);

    ck_assert(fits(&n, req(16000, 65536, 2, 1000)));
    ck_assert(!fits(&n, req(16001, 1, 0, 0)));
    ck_assert(!fits(&n, req(1, 65537, 0, 0)));
    ck_assert(!fits(&n, req(1, 1, 3, 1000)));
    n.gpu_free[0] = 300;
    /* A shared device needs one device with room; whole devices must be fully free. */
    ck_assert(fits(&n, req(1, 1, 1, 300)));
    ck_assert(!fits(&n, req(1, 1, 2, 1000)));
    n.gpu_free[1] = 200;
    ck_assert(!fits(&n, req(1, 1, 1, 300 + 1)));
}
END_TEST

START_TEST(profile_rejects_bad_shapes)
{
    struct nodefit_req s = req(1000, 10, 2, 500);
    double w = 1, zero = 0;
    struct nodefit_profile *p = NULL;
    struct err e = {0};

    ck_assert_int_eq(nodefit_profile_new(&s, &w, 1, &p, &e), -1);
    ck_assert_str_eq(e.field, "shapes");
    ck_assert_msg(strstr(e.msg, "shapes[0].milli 500"), "%s", e.msg);
    s = req(1000, 10, 1, 500);
    ck_assert_int_eq(nodefit_profile_new(&s, &zero, 1, &p, &e), -1);
    ck_assert_str_eq(e.field, "weights");
    ck_assert_ptr_null(p);
}
END_TEST

START_TEST(frag_counts_unusable_and_unfed_capacity)
{
    struct nodefit_profile *p = profile_whole();
    struct nodefit_node n = node(96000, 786432, 8);

    /* Idle: every shape fits and CPU feeds every GPU. */
    ck_assert(fabs(nodefit_frag(p, &n)) < 1e-9);
    /* Shapes weigh by the GPU demand they bring: three 1-GPU pods to one 8-GPU pod is 3 to
     * 8 of the demand. A half-used device cannot take a whole-GPU pod: its 500 milli are
     * stranded for both shapes, and the 8-GPU shape fits no more, stranding everything. */
    n.gpu_free[3] = 500;
    ck_assert(fabs(nodefit_frag(p, &n) - (3.0 / 11 * 500 + 8.0 / 11 * 7500)) < 1e-6);
    /* The profile brings 8 cores per GPU ((3 x 8 + 64) / (3 + 8)); with 16 free cores only
     * two of the eight idle GPUs can be fed, and the 8-GPU shape no longer fits. */
    n = node(96000, 786432, 8);
    n.cpu_free = 16000;
    ck_assert(fabs(nodefit_frag(p, &n) - (6000 + 8.0 / 11 * 8000)) < 1e-6);
    nodefit_profile_free(&p);
    ck_assert_ptr_null(p);
}
END_TEST

/* Weighted by count, a shape weighs by its share of the requests (1 in 4 is an 8-GPU pod),
 * not of the GPUs (8 in 11); the node kinds' claims stay shares of the GPU demand. */
START_TEST(count_weights_weigh_shapes_by_their_requests)
{
    struct nodefit_profile *p = profile_whole();
    struct nodefit_node n = node(96000, 786432, 8), kinds[2];
    struct nodefit_req one = req(8000, 32768, 1, 1000);
    struct nodefit_eval by_demand, by_count;

    ck_assert_int_eq(nodefit_profile_weights(p), NODEFIT_WEIGHT_DEMAND);
    n.gpu_free[3] = 500;
    nodefit_profile_weigh(p, NODEFIT_WEIGHT_COUNT);
    ck_assert_int_eq(nodefit_profile_weights(p), NODEFIT_WEIGHT_COUNT);
    ck_assert(fabs(nodefit_frag(p, &n) - (3.0 / 4 * 500 + 1.0 / 4 * 7500)) < 1e-6);
    nodefit_profile_weigh(p, NODEFIT_WEIGHT_DEMAND);
    ck_assert(fabs(nodefit_frag(p, &n) - (3.0 / 11 * 500 + 8.0 / 11 * 7500)) < 1e-6);
    /* One 8-GPU node and 32 1-GPU nodes: the 8-GPU shape claims its only kind 8/11 of the
     * demand over 8/40 of the capacity, the 1-GPU shape 3/11 over all of it, so the kind is
     * claimed 43/11 times over whatever the measure's weights. A 1-GPU pod on an idle 8-GPU
     * node pays 1 - 11/43 of its milli there, plus the measure's change: the 8-GPU shape no
     * longer fits (7000 milli, at 8/11 or 1/4). */
    kinds[0] = node(96000, 786432, 8);
    kinds[1] = node(12000, 98304, 1);
    {
        struct nodefit_node all[33];

        all[0] = kinds[0];
        for (int i = 1; i < 33; i++)
            all[i] = kinds[1];
        /* Told of the nodes while weighted by count: the claims do not follow. */
        nodefit_profile_weigh(p, NODEFIT_WEIGHT_COUNT);
        ck_assert_int_eq(nodefit_profile_set_nodes(p, all, 33, NULL), 0);
    }
    n = kinds[0];
    ck_assert_int_eq(nodefit_score(p, &n, nodefit_frag(p, &n), &one, &by_count), 0);
    nodefit_profile_weigh(p, NODEFIT_WEIGHT_DEMAND);
    ck_assert_int_eq(nodefit_score(p, &n, nodefit_frag(p, &n), &one, &by_demand), 0);
    ck_assert(fabs(by_demand.frag_delta - (8.0 / 11 * 7000 + (1 - 11.0 / 43) * 1000)) < 1e-6);
    ck_assert(fabs(by_count.frag_delta - (1.0 / 4 * 7000 + (1 - 11.0 / 43) * 1000)) < 1e-6);
    nodefit_profile_free(&p);
}
END_TEST

/* A profile of the four shapes mix in the proportions w, told of the 24 nodes and
 * rehearsed on them with seed (two runs). */
static struct nodefit_profile *rehearse_mix(const struct nodefit_req *mix, const double *w,
                                            const struct nodefit_node *nodes, uint64_t seed,
                                            struct nodefit_rehearsal *rh)
{
    struct nodefit_profile *p = NULL;

    ck_assert_int_eq(nodefit_profile_new(mix, w, 4, &p, NULL), 0);
    ck_assert_int_eq(nodefit_profile_set_nodes(p, nodes, 24, NULL), 0);
    rh->seed = seed;
    nodefit_profile_rehearse(p, nodes, 24, rh);
    return p;
}

/* The rehearsal: every draw of a shape no node can take is turned away, under either
 * weighting (a tie keeps demand); otherwise the weighting kept is the one that turned away
 * less, the nodes are left as they were, and the same seed gives the same figures. */
START_TEST(rehearsal_keeps_the_weighting_that_turns_away_less)
{
    struct nodefit_req too_big[1] = {req(200000, 32768, 1, 1000)};
    struct nodefit_req mix[4] = {req(4000, 16384, 1, 300), req(8000, 32768, 1, 700),
                                 req(16000, 65536, 2, 1000), req(64000, 262144, 8, 1000)};
    double w1[1] = {1}, w4a[4] = {12, 4, 1, 1}, w4b[4] = {8, 8, 1, 1};
    struct nodefit_node nodes[24], before[24];
    struct nodefit_rehearsal rh = {.runs = 2, .seed = 7}, again = {.runs = 2, .seed = 7};
    struct nodefit_profile *p = NULL;

    for (int i = 0; i < 24; i++)
        nodes[i] = i % 3 == 0 ? node(96000, 786432, 8) : node(32000, 131072, 2);
    nodes[5].gpu_free[0] = 400;
    nodes[6].cpu_free = 6000;
    memcpy(before, nodes, sizeof(nodes));
    /* 8 x 8 + 16 x 2 = 96 GPUs; two runs draw 96,000 milli-GPUs each less the 600 used. */
    ck_assert_int_eq(nodefit_profile_new(too_big, w1, 1, &p, NULL), 0);
    nodefit_profile_rehearse(p, nodes, 24, &rh);
    ck_assert(fabs(rh.arrived - 2 * 95400.0) < 1e-6);
    ck_assert(rh.lost[0] >= rh.arrived && rh.lost[0] < rh.arrived + 2 * 1000);
    ck_assert(rh.lost[0] == rh.lost[1]);
    ck_assert_int_eq(nodefit_profile_weights(p), NODEFIT_WEIGHT_DEMAND);
    nodefit_profile_free(&p);

    /* Two mixes of the same shapes where the weightings differ (found by trying a few):
     * with many small pods (12:4:1:1) demand turns away less, with as many 700-milli pods as
     * 300-milli ones (8:8:1:1) count does. */
    p = rehearse_mix(mix, w4a, nodes, 2, &rh);
    ck_assert_mem_eq(nodes, before, sizeof(nodes));
    ck_assert_msg(rh.lost[0] < rh.lost[1], "demand %.0f, count %.0f", rh.lost[0], rh.lost[1]);
    ck_assert_int_eq(nodefit_profile_weights(p), NODEFIT_WEIGHT_DEMAND);
    nodefit_profile_free(&p);
    p = rehearse_mix(mix, w4b, nodes, 6, &rh);
    ck_assert_msg(rh.lost[1] < rh.lost[0], "demand %.0f, count %.0f", rh.lost[0], rh.lost[1]);
    ck_assert(rh.lost[1] > 0 && rh.lost[0] < rh.arrived);
    ck_assert_int_eq(nodefit_profile_weights(p), NODEFIT_WEIGHT_COUNT);
    again.seed = 6;
    nodefit_profile_weigh(p, NODEFIT_WEIGHT_DEMAND);
    nodefit_profile_rehearse(p, nodes, 24, &again);
    ck_assert(again.lost[0] == rh.lost[0] && again.lost[1] == rh.lost[1]);
    /* Eight nodes, evenly spaced (every third: the 8-GPU ones), 64 GPUs. */
    again.max_nodes = 8;
    nodefit_profile_rehearse(p, nodes, 24, &again);
    ck_assert(fabs(again.arrived - 2 * 64000.0) < 1e-6);
    /* No runs: nothing is drawn, and demand is kept. */
    nodefit_profile_weigh(p, NODEFIT_WEIGHT_COUNT);
    again.runs = 0;
    nodefit_profile_rehearse(p, nodes, 24, &again);
    ck_assert(again.arrived == 0 && again.lost[0] == 0 && again.lost[1] == 0);
    ck_assert_int_eq(nodefit_profile_weights(p), NODEFIT_WEIGHT_DEMAND);
    nodefit_profile_free(&p);
}
END_TEST

/* GPU-model constraints (issue 15): a request with a model mask fits only nodes of those
 * models (a node of unknown model 0 only unconstrained ones), and for the measure a shape
 * that may not use the node's model does not fit it: all its free capacity is stranded. */
START_TEST(model_constraints_in_fit_and_measure)
{
    struct nodefit_req shapes[2] = {req(1000, 0, 1, 1000), req(1000, 0, 1, 1000)};
    double w[2] = {1, 3};
    struct nodefit_profile *p = NULL;
    struct nodefit_node n = node(64000, 1 << 20, 2);
    struct nodefit_req r = req(1000, 0, 1, 1000), cpu_only = req(1000, 0, 0, 0);

    shapes[0].models = NODEFIT_MODEL_BIT(2); /* a quarter may only use model 2 */
    r.models = NODEFIT_MODEL_BIT(2) | NODEFIT_MODEL_BIT(5);
    cpu_only.models = NODEFIT_MODEL_BIT(2);
    n.model = 1;
    ck_assert(!fits(&n, r));
    ck_assert(!nodefit_model_ok(&n, &r));
    ck_assert(fits(&n, req(1000, 0, 1, 1000)));
    ck_assert(fits(&n, cpu_only)); /* CPU-only requests ignore the mask */
    n.model = 5;
    ck_assert(fits(&n, r));
    n.model = 0;
    ck_assert(!fits(&n, r));
    ck_assert(fits(&n, req(1000, 0, 1, 1000)));
    ck_assert_int_eq(nodefit_profile_new(shapes, w, 2, &p, NULL), 0);
    n.model = 2;
    ck_assert(fabs(nodefit_frag(p, &n)) < 1e-6);
    n.model = 1;
    ck_assert(fabs(nodefit_frag(p, &n) - 0.25 * 2000) < 1e-6);
    n.model = 0;
    ck_assert(fabs(nodefit_frag(p, &n) - 0.25 * 2000) < 1e-6);
    nodefit_profile_free(&p);
}
END_TEST

/* With the nodes known, a request that may go anywhere is steered off the GPU model that
 * constrained demand claims more than once over: 1 - 1/claim of its milli-GPUs is charged
 * there. */
START_TEST(nodes_steer_flexible_requests_off_claimed_models)
{
    /* Half the demand may only use model 1, which has a tenth of the capacity (one 2-GPU
     * node of ten): model 1 is claimed 0.5 + 0.5 / 0.1 = 5.5 times over, model 2 0.5 times. */
    struct nodefit_req shapes[2] = {req(1000, 0, 1, 1000), req(1000, 0, 1, 1000)};
    double w[2] = {1, 1};
    struct nodefit_profile *p = NULL;
    struct nodefit_node nodes[10];
    struct nodefit_req r = req(1000, 0, 1, 1000);
    struct nodefit_eval ea, eb;
    struct err e = {0};

    shapes[0].models = NODEFIT_MODEL_BIT(1);
    for (int i = 0; i < 10; i++) {
        nodes[i] = node(64000, 1 << 20, 2);
        nodes[i].model = i == 0 ? 1 : 2;
    }
    ck_assert_int_eq(nodefit_profile_new(shapes, w, 2, &p, NULL), 0);
    /* Without the nodes: on a model-1 node the model-1 shape still fits (no change); on a
     * model-2 node, where it may not go, the capacity taken was stranded for it (-0.5 x
     * 1000). */
    ck_assert_int_eq(nodefit_score(p, &nodes[0], nodefit_frag(p, &nodes[0]), &r, &ea), 0);
    ck_assert_int_eq(nodefit_score(p, &nodes[1], nodefit_frag(p, &nodes[1]), &r, &eb), 0);
    ck_assert(fabs(ea.frag_delta - 0) < 1e-6);
    ck_assert(fabs(eb.frag_delta - -0.5 * 1000) < 1e-6); /* it holds stranded model-1 demand */
    ck_assert_int_eq(nodefit_profile_set_nodes(p, nodes, 10, &e), 0);
    ck_assert_int_eq(nodefit_score(p, &nodes[0], nodefit_frag(p, &nodes[0]), &r, &ea), 0);
    ck_assert_int_eq(nodefit_score(p, &nodes[1], nodefit_frag(p, &nodes[1]), &r, &eb), 0);
    ck_assert(fabs(ea.frag_delta - (1 - 1 / 5.5) * 1000) < 1e-6);
    ck_assert(fabs(eb.frag_delta - -0.5 * 1000) < 1e-6);
    ck_assert_int_lt(nodefit_eval_cmp(&eb, &ea), 0);
    nodefit_profile_free(&p);
}
END_TEST

START_TEST(node_kinds_steer_requests_off_nodes_only_big_shapes_fit)
{
    /* 8-GPU pods of 120 cores fit only the one 128-core node; they bring a fifth of the GPU
     * demand (1 x 8 against 32 x 1) and may use a tenth of the capacity: that kind is
     * claimed 0.8 + 0.2 / 0.1 = 2.8 times over, the 96-core kind 0.8 times. */
    struct nodefit_req shapes[2] = {req(8000, 0, 1, 1000), req(120000, 0, 8, 1000)};
    double w[2] = {32, 1};
    struct nodefit_node nodes[10];
    struct nodefit_profile *p = NULL;
    struct nodefit_req r = req(8000, 0, 1, 1000);
    struct nodefit_eval big0, small0, big, small;
    struct err e = {0};

    for (int i = 0; i < 10; i++)
        nodes[i] = node(i == 0 ? 128000 : 96000, 1 << 20, 8);
    ck_assert_int_eq(nodefit_profile_new(shapes, w, 2, &p, NULL), 0);
    ck_assert_int_eq(nodefit_score(p, &nodes[0], nodefit_frag(p, &nodes[0]), &r, &big0), 0);
    ck_assert_int_eq(nodefit_score(p, &nodes[1], nodefit_frag(p, &nodes[1]), &r, &small0), 0);
    ck_assert_int_eq(nodefit_profile_set_nodes(p, nodes, 10, &e), 0);
    ck_assert_int_eq(nodefit_score(p, &nodes[0], nodefit_frag(p, &nodes[0]), &r, &big), 0);
    ck_assert_int_eq(nodefit_score(p, &nodes[1], nodefit_frag(p, &nodes[1]), &r, &small), 0);
    ck_assert(fabs(big.frag_delta - big0.frag_delta - (1 - 1 / 2.8) * 1000) < 1e-6);
    ck_assert(fabs(small.frag_delta - small0.frag_delta) < 1e-6);
    ck_assert_int_lt(nodefit_eval_cmp(&small, &big), 0);
    /* A kind it was not told of is charged nothing. */
    {
        struct nodefit_node other = node(112000, 1 << 20, 8);
        struct nodefit_eval o0, o;

        nodefit_profile_free(&p);
        ck_assert_int_eq(nodefit_profile_new(shapes, w, 2, &p, NULL), 0);
        ck_assert_int_eq(nodefit_score(p, &other, nodefit_frag(p, &other), &r, &o0), 0);
        ck_assert_int_eq(nodefit_profile_set_nodes(p, nodes, 10, &e), 0);
        ck_assert_int_eq(nodefit_score(p, &other, nodefit_frag(p, &other), &r, &o), 0);
        ck_assert(fabs(o.frag_delta - o0.frag_delta) < 1e-6);
    }
    nodes[3].n_gpus = NODEFIT_GPUS_MAX + 1;
    ck_assert_int_eq(nodefit_profile_set_nodes(p, nodes, 10, &e), -1);
    ck_assert_str_eq(e.field, "nodes");
    nodefit_profile_free(&p);
}
END_TEST

/* The live engine has chosen a job's SKU before it scores nodes, so it counts the claims
 * within each GPU model: with one model that is the same as counting them over the nodes
 * together; across models, a model the demand needs more than its share of is no longer
 * charged for as a whole, only the kinds within it that some of its shapes cannot use. */
START_TEST(node_kinds_claimed_within_each_model)
{
    struct nodefit_req shapes[2] = {req(8000, 0, 1, 1000), req(120000, 0, 8, 1000)};
    double w[2] = {32, 1};
    struct nodefit_node nodes[10];
    struct nodefit_profile *p = NULL;
    struct nodefit_req r = req(8000, 0, 1, 1000);
    struct nodefit_eval big0, big, m1, m2;
    struct err e = {0};

    /* One model (as node_kinds_steer_requests_off_nodes_only_big_shapes_fit): the 128-core
     * kind is claimed 2.8 times over either way. */
    for (int i = 0; i < 10; i++)
        nodes[i] = node(i == 0 ? 128000 : 96000, 1 << 20, 8);
    ck_assert_int_eq(nodefit_profile_new(shapes, w, 2, &p, NULL), 0);
    ck_assert_int_eq(nodefit_score(p, &nodes[0], nodefit_frag(p, &nodes[0]), &r, &big0), 0);
    ck_assert_int_eq(nodefit_profile_set_nodes_per_model(p, nodes, 10, &e), 0);
    ck_assert_int_eq(nodefit_score(p, &nodes[0], nodefit_frag(p, &nodes[0]), &r, &big), 0);
    ck_assert(fabs(big.frag_delta - big0.frag_delta - (1 - 1 / 2.8) * 1000) < 1e-6);
    nodefit_profile_free(&p);

    /* Two models of one node size: half the demand may use only model 1 (two nodes of ten),
     * half only model 2. Over the nodes together model 1 is claimed 0.5 / 0.2 = 2.5 times
     * over, and a request that may use either pays 1 - 1 / 2.5 of its milli there; within
     * model 1, its one kind is claimed exactly once by the demand that may use it. */
    shapes[0].models = NODEFIT_MODEL_BIT(1);
    shapes[1] = req(8000, 0, 1, 1000);
    shapes[1].models = NODEFIT_MODEL_BIT(2);
    w[1] = 32;
    r.models = NODEFIT_MODEL_BIT(1) | NODEFIT_MODEL_BIT(2);
    for (int i = 0; i < 10; i++) {
        nodes[i] = node(96000, 1 << 20, 8);
        nodes[i].model = i < 2 ? 1 : 2;
    }
    ck_assert_int_eq(nodefit_profile_new(shapes, w, 2, &p, NULL), 0);
    ck_assert_int_eq(nodefit_score(p, &nodes[0], nodefit_frag(p, &nodes[0]), &r, &big0), 0);
    ck_assert_int_eq(nodefit_profile_set_nodes(p, nodes, 10, &e), 0);
    ck_assert_int_eq(nodefit_score(p, &nodes[0], nodefit_frag(p, &nodes[0]), &r, &m1), 0);
    ck_assert(fabs(m1.frag_delta - big0.frag_delta - (1 - 1 / 2.5) * 1000) < 1e-6);
    ck_assert_int_eq(nodefit_profile_set_nodes_per_model(p, nodes, 10, &e), 0);
    ck_assert_int_eq(nodefit_score(p, &nodes[0], nodefit_frag(p, &nodes[0]), &r, &m1), 0);
    ck_assert_int_eq(nodefit_score(p, &nodes[5], nodefit_frag(p, &nodes[5]), &r, &m2), 0);
    ck_assert(fabs(m1.frag_delta - big0.frag_delta) < 1e-6);
    ck_assert(fabs(m2.frag_delta - big0.frag_delta) < 1e-6);

    nodefit_profile_free(&p);

    /* Within a model, the shapes that may use it share its demand: model 1 (a 128-core and
     * a 96-core node) has 8-GPU pods of 120 cores and 1-GPU pods, 8 GPUs of demand each;
     * model 2 (eight 96-core nodes) 64 GPUs of 1-GPU pods. Among model 1's shapes the wide
     * ones bring half the demand and may use half the capacity, so the 128-core kind is
     * claimed 0.5 / 0.5 + 0.5 = 1.5 times over, however small model 1's share of all the
     * demand (a fifth). */
    {
        struct nodefit_req three[3] = {req(120000, 0, 8, 1000), req(8000, 0, 1, 1000),
                                       req(8000, 0, 1, 1000)};
        double w3[3] = {1, 8, 64};

        three[0].models = three[1].models = r.models = NODEFIT_MODEL_BIT(1);
        three[2].models = NODEFIT_MODEL_BIT(2);
        for (int i = 0; i < 10; i++) {
            nodes[i] = node(i == 0 ? 128000 : 96000, 1 << 20, 8);
            nodes[i].model = i < 2 ? 1 : 2;
        }
        ck_assert_int_eq(nodefit_profile_new(three, w3, 3, &p, NULL), 0);
        ck_assert_int_eq(nodefit_score(p, &nodes[0], nodefit_frag(p, &nodes[0]), &r, &big0), 0);
        ck_assert_int_eq(nodefit_profile_set_nodes_per_model(p, nodes, 10, &e), 0);
        ck_assert_int_eq(nodefit_score(p, &nodes[0], nodefit_frag(p, &nodes[0]), &r, &big), 0);
        ck_assert(fabs(big.frag_delta - big0.frag_delta - (1 - 1 / 1.5) * 1000) < 1e-6);
    }
    nodes[3].n_gpus = NODEFIT_GPUS_MAX + 1;
    ck_assert_int_eq(nodefit_profile_set_nodes_per_model(p, nodes, 10, &e), -1);
    ck_assert_str_eq(e.field, "nodes");
    nodefit_profile_free(&p);
}
END_TEST

/* What telling the profile of shapes its nodes adds to r's score on nodes[at]: the charge
 * for demand turned away. */
static double turned_away(const struct nodefit_req *shapes, const double *w, size_t n,
                          const struct nodefit_node *nodes, size_t n_nodes, size_t at,
                          struct nodefit_req r)
{
    struct nodefit_profile *p = NULL;
    struct nodefit_eval e0, e1;

    ck_assert_int_eq(nodefit_profile_new(shapes, w, n, &p, NULL), 0);
    ck_assert_int_eq(nodefit_score(p, &nodes[at], nodefit_frag(p, &nodes[at]), &r, &e0), 0);
    ck_assert_int_eq(nodefit_profile_set_nodes(p, nodes, n_nodes, NULL), 0);
    ck_assert_int_eq(nodefit_score(p, &nodes[at], nodefit_frag(p, &nodes[at]), &r, &e1), 0);
    nodefit_profile_free(&p);
    return e1.frag_delta - e0.frag_delta;
}

/* A shape constrained to some GPU models claims the capacity its pods can use on each kind:
 * cores, memory and a shared device's room limit them, so a kind it can fill only half of
 * is claimed twice as much. A shape that may use any model is counted on all the GPUs. */
START_TEST(constrained_shapes_claim_what_their_pods_can_use)
{
    /* Half the demand may only use model 1: one 16-core 2-GPU node, where its 12-core pods
     * fit one to a node. It can use 1 GPU of the 20, so model 1 is claimed 0.5 x 20 + 0.5 =
     * 10.5 times over (5.5 if both GPUs counted). */
    struct nodefit_req shapes[2] = {req(12000, 0, 1, 1000), req(4000, 0, 1, 1000)};
    double w[2] = {1, 1};
    struct nodefit_node nodes[10];
    struct nodefit_req r = req(4000, 0, 1, 1000);

    shapes[0].models = NODEFIT_MODEL_BIT(1);
    for (int i = 0; i < 10; i++) {
        nodes[i] = node(i == 0 ? 16000 : 64000, 1 << 20, 2);
        nodes[i].model = i == 0 ? 1 : 2;
    }
    ck_assert(fabs(turned_away(shapes, w, 2, nodes, 10, 0, r) - (1 - 1 / 10.5) * 1000) < 1e-6);

    /* Shared devices: 0.6-GPU pods fit one to a device, 1.2 GPUs of the node's 2. By GPU
     * demand they are 0.6 / 1.6 of it: claimed 0.375 x 20 / 1.2 + 0.625 = 6.875 times. */
    shapes[0] = req(1000, 0, 1, 600);
    shapes[0].models = NODEFIT_MODEL_BIT(1);
    ck_assert(fabs(turned_away(shapes, w, 2, nodes, 10, 0, r) - (1 - 1 / 6.875) * 1000) < 1e-6);

    /* A flexible 40-core shape fits one to a 64-core node, but is counted on both GPUs:
     * claimed exactly once, nothing charged. */
    shapes[0] = req(40000, 0, 1, 1000);
    ck_assert(fabs(turned_away(shapes, w, 1, nodes + 1, 9, 0, shapes[0])) < 1e-6);
}
END_TEST

START_TEST(cpu_only_work_counts_in_the_cores_per_gpu)
{
    /* Half the requests are 1-GPU pods of 8 cores, half CPU-only pods of 8 cores: the work
     * asks 16 cores per GPU, so 64 free cores feed only 4 of 8 idle GPUs. */
    struct nodefit_req shapes[2] = {req(8000, 0, 1, 1000), req(8000, 0, 0, 0)};
    double w[2] = {1, 1};
    struct nodefit_profile *p = NULL;
    struct nodefit_node n = node(64000, 1 << 20, 8);

    ck_assert_int_eq(nodefit_profile_new(shapes, w, 2, &p, NULL), 0);
    ck_assert(fabs(nodefit_frag(p, &n) - 4000) < 1e-6);
    n.cpu_free = 128000;
    ck_assert(fabs(nodefit_frag(p, &n)) < 1e-6);
    nodefit_profile_free(&p);
}
END_TEST

/* When the work asks for more CPU per GPU than the nodes have, cores a CPU-only shape
 * cannot use turn GPU work away elsewhere: a CPU-only request goes where it leaves cores a
 * CPU-only request can still use. Without the nodes (or with CPU to spare) it goes where it
 * fits tightest, as before. */
START_TEST(cpu_only_requests_leave_usable_cores_when_cpu_is_short)
{
    /* 1-GPU pods of 4 cores and CPU-only pods of 16 cores, four of them per GPU pod:
     * 68 cores per GPU asked, against 32 per GPU in the nodes (claimed 2.125 times over). */
    struct nodefit_req shapes[2] = {req(4000, 0, 1, 1000), req(16000, 0, 0, 0)};
    double w[2] = {1, 4};
    struct nodefit_profile *p = NULL;
    struct nodefit_node nodes[2] = {node(32000, 1 << 20, 1), node(32000, 1 << 20, 1)};
    struct nodefit_req r = req(16000, 0, 0, 0);
    struct nodefit_eval ea, eb;
    double displace = 1 - 32.0 / 68.0;

    ck_assert_int_eq(nodefit_profile_new(shapes, w, 2, &p, NULL), 0);
    /* Both GPUs are taken; a has 20 cores free, b 32. */
    nodes[0].gpu_free[0] = nodes[1].gpu_free[0] = 0;
    nodes[0].cpu_free = 20000;
    ck_assert_int_eq(nodefit_score(p, &nodes[0], nodefit_frag(p, &nodes[0]), &r, &ea), 0);
    ck_assert_int_eq(nodefit_score(p, &nodes[1], nodefit_frag(p, &nodes[1]), &r, &eb), 0);
    ck_assert(fabs(ea.frag_delta) < 1e-9 && fabs(eb.frag_delta) < 1e-9);
    ck_assert_int_lt(nodefit_eval_cmp(&ea, &eb), 0); /* a is the tighter fit */
    ck_assert_int_eq(nodefit_profile_set_nodes(p, nodes, 2, NULL), 0);
    ck_assert(fabs(nodefit_frag(p, &nodes[1])) < 1e-9); /* 32 free cores take a 16-core pod */
    ck_assert_int_eq(nodefit_score(p, &nodes[0], nodefit_frag(p, &nodes[0]), &r, &ea), 0);
    ck_assert_int_eq(nodefit_score(p, &nodes[1], nodefit_frag(p, &nodes[1]), &r, &eb), 0);
    /* On a it leaves 4 cores no CPU-only pod can use: that share of them turns away GPU
     * work at 68 cores per GPU. On b it leaves 16, which the next one can take. */
    ck_assert(fabs(ea.frag_delta - displace * 4000.0 / 68000.0 * NODEFIT_MILLI) < 1e-6);
    ck_assert(fabs(eb.frag_delta) < 1e-9);
    ck_assert_int_lt(nodefit_eval_cmp(&eb, &ea), 0);
    /* A node without GPUs adds cores CPU-only pods may use: 72 more make 136 for the 2
     * GPUs, the 68 per GPU asked, so nothing is claimed over. */
    {
        struct nodefit_node more[3] = {nodes[0], nodes[1], node(72000, 1 << 20, 0)};

        ck_assert_int_eq(nodefit_profile_set_nodes(p, more, 3, NULL), 0);
        ck_assert_int_eq(nodefit_score(p, &nodes[0], nodefit_frag(p, &nodes[0]), &r, &ea), 0);
        ck_assert(fabs(ea.frag_delta) < 1e-9);
        more[2].cpu_cap = 71000;
        ck_assert_int_eq(nodefit_profile_set_nodes(p, more, 3, NULL), 0);
        ck_assert_int_eq(nodefit_score(p, &nodes[0], nodefit_frag(p, &nodes[0]), &r, &ea), 0);
        ck_assert(ea.frag_delta > 0);
        /* On a node without GPUs, the same measure: 10 free cores are already too few for
         * a 16-core pod, so an 8-core request there strands 8 fewer. */
        more[2].cpu_free = 10000;
        r.cpu = 8000;
        ck_assert_int_eq(nodefit_score(p, &more[2], nodefit_frag(p, &more[2]), &r, &ea), 0);
        ck_assert(fabs(ea.frag_delta - (1 - 135.0 / 136.0) * -8000.0 / 68000.0 * NODEFIT_MILLI) <
                  1e-6);
        r.cpu = 16000;
    }
    nodefit_profile_free(&p);

    /* One CPU-only pod per GPU pod: 20 cores per GPU asked, 32 in the nodes. Nothing is
     * charged and a is again the tighter fit. */
    w[1] = 1;
    ck_assert_int_eq(nodefit_profile_new(shapes, w, 2, &p, NULL), 0);
    ck_assert_int_eq(nodefit_profile_set_nodes(p, nodes, 2, NULL), 0);
    ck_assert_int_eq(nodefit_score(p, &nodes[0], nodefit_frag(p, &nodes[0]), &r, &ea), 0);
    ck_assert_int_eq(nodefit_score(p, &nodes[1], nodefit_frag(p, &nodes[1]), &r, &eb), 0);
    ck_assert(fabs(ea.frag_delta) < 1e-9);
    ck_assert_int_lt(nodefit_eval_cmp(&ea, &eb), 0);
    nodefit_profile_free(&p);
}
END_TEST

START_TEST(score_prefers_filling_a_partly_used_device)
{
    struct nodefit_req shapes[2] = {req(4000, 1024, 1, 500), req(8000, 1024, 1, 1000)};
    double w[2] = {1, 1};
    struct nodefit_profile *p = NULL;
    struct nodefit_node a = node(64000, 262144, 2), b = node(64000, 262144, 2);
    struct nodefit_eval ea, eb;
    struct nodefit_req r = req(4000, 1024, 1, 500);

    ck_assert_int_eq(nodefit_profile_new(shapes, w, 2, &p, NULL), 0);
    a.gpu_free[1] = 500; /* half of device 1 is taken */
    ck_assert_int_eq(nodefit_score(p, &a, nodefit_frag(p, &a), &r, &ea), 0);
    ck_assert_int_eq(nodefit_score(p, &b, nodefit_frag(p, &b), &r, &eb), 0);
    /* On a, the half device is the right choice, and a is better than the idle node b. */
    ck_assert_int_eq(ea.choice.n, 1);
    ck_assert_int_eq(ea.choice.dev[0], 1);
    ck_assert_int_lt(nodefit_eval_cmp(&ea, &eb), 0);
    ck_assert_int_gt(nodefit_eval_cmp(&eb, &ea), 0);
    ck_assert_int_eq(nodefit_eval_cmp(&ea, &ea), 0);
    nodefit_apply(&a, &r, &ea.choice);
    ck_assert_int_eq(a.gpu_free[1], 0);
    ck_assert_int_eq(a.gpu_free[0], 1000);
    ck_assert_int_eq(a.cpu_free, 60000);
    /* Does not fit: -1. */
    r = req(1, 1, 4, 1000);
    ck_assert_int_eq(nodefit_score(p, &b, 0, &r, &eb), -1);
    nodefit_profile_free(&p);
}
END_TEST

START_TEST(score_keeps_whole_nodes_for_big_gangs)
{
    struct nodefit_profile *p = profile_whole();
    struct nodefit_node idle = node(96000, 786432, 8), used = node(96000, 786432, 8);
    struct nodefit_eval ei, eu;
    struct nodefit_req one = req(8000, 32768, 1, 1000);

    used.gpu_free[0] = 0;
    used.cpu_free -= 8000;
    used.mem_free -= 32768;
    ck_assert_int_eq(nodefit_score(p, &idle, nodefit_frag(p, &idle), &one, &ei), 0);
    ck_assert_int_eq(nodefit_score(p, &used, nodefit_frag(p, &used), &one, &eu), 0);
    /* Breaking the idle node costs the 8-GPU shape; the used node is already broken. */
    ck_assert_int_lt(nodefit_eval_cmp(&eu, &ei), 0);
    ck_assert_int_eq(eu.choice.dev[0], 1); /* lowest fully free device */
    nodefit_profile_free(&p);
}
END_TEST

struct extract {
    struct trace_openb_node *nodes;
    size_t n_nodes;
    struct trace_openb_pod *pods;
    size_t n_pods;
};

static void load_extract(struct extract *x)
{
    const char *src = getenv("FEDSCHED_SRC");
    char *a = xasprintf("%s/testdata/traces/openb_node_list_smoke.csv", src ? src : ".");
    char *b = xasprintf("%s/testdata/traces/openb_pod_list_smoke.csv", src ? src : ".");
    struct err e = {0};

    ck_assert_msg(trace_openb_nodes_load(a, &x->nodes, &x->n_nodes, &e) == 0, "%s", e.msg);
    ck_assert_msg(trace_openb_pods_load(b, &x->pods, &x->n_pods, &e) == 0, "%s", e.msg);
    free(a);
    free(b);
}

/* The public release's multigpu lists have only the five basic columns (here in another
 * order): the loader takes them, the optional columns read as their documented defaults. */
START_TEST(five_column_lists_load_with_defaults)
{
    const char *src = getenv("FEDSCHED_SRC");
    char *path = xasprintf("%s/testdata/traces/openb_pod_list_fivecol.csv", src ? src : ".");
    struct trace_openb_pod *v = NULL;
    size_t n = 0;
    struct err e = {0};
    const char *no_gpus = "name,cpu_milli,memory_mib,gpu_milli\np,1,1,0\n";

    ck_assert_msg(trace_openb_pods_load(path, &v, &n, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(v[0].name, "mg-0");
    ck_assert_int_eq(v[0].cpu_milli, 88000);
    ck_assert_int_eq(v[0].memory_mib, 327680);
    ck_assert_int_eq(v[0].num_gpu, 8);
    ck_assert_int_eq(v[0].gpu_milli, 1000);
    ck_assert_int_eq(v[1].gpu_milli, 460);
    ck_assert_int_eq(v[2].num_gpu, 0);
    ck_assert_int_eq(v[3].num_gpu, 2);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(v[i].gpu_spec, "");
        ck_assert(trace_openb_spec_allows(v[i].gpu_spec, "V100M16"));
        ck_assert_str_eq(v[i].qos, "");
        ck_assert_str_eq(v[i].phase, "");
        ck_assert_int_eq(v[i].creation_s, -1);
        ck_assert_int_eq(v[i].deletion_s, -1);
        ck_assert_int_eq(v[i].scheduled_s, -1);
    }
    free(v);
    free(path);
    /* The five basic columns stay required. */
    v = NULL;
    ck_assert_int_eq(trace_openb_pods_parse(no_gpus, strlen(no_gpus), "p.csv", &v, &n, &e), -1);
    ck_assert_str_eq(e.field, "num_gpu");
    ck_assert_msg(strstr(e.msg, "no column 'num_gpu'"), "%s", e.msg);
}
END_TEST

START_TEST(packing_is_deterministic_for_a_seed)
{
    struct extract x;
    struct packing_opts o;
    struct packing_result r1, r2, r3;
    struct err e = {0};

    load_extract(&x);
    for (int p = 0; p < PACKING_POLICY_COUNT; p++) {
        packing_opts_defaults(&o, 42);
        ck_assert_msg(packing_run(x.nodes, x.n_nodes, x.pods, x.n_pods, (enum packing_policy)p, &o,
                                  &r1, &e) == 0,
                      "%s", e.msg);
        ck_assert_int_eq(packing_run(x.nodes, x.n_nodes, x.pods, x.n_pods, (enum packing_policy)p,
                                     &o, &r2, NULL),
                         0);
        ck_assert_mem_eq(r1.alloc_pct, r2.alloc_pct, sizeof(r1.alloc_pct));
        ck_assert_uint_eq(r1.failed, r2.failed);
        ck_assert_uint_eq(r1.pods, r2.pods);
        /* The tuned workload arrives to just under 130 % of the GPU capacity. */
        ck_assert(r1.final_arrived_pct > 125 && r1.final_arrived_pct <= 130.5);
        ck_assert(r1.final_alloc_pct <= 100.0);
        ck_assert(packing_alloc_at(&r1, 100) > 50 && packing_alloc_at(&r1, 100) <= 100);
        /* The curve never runs ahead of what has arrived: bucket q holds arrivals below
         * q + 0.5 %, and an empty bucket borrows its neighbours' (below q + 1.5 %). */
        for (int q = 1; q <= 100; q++)
            ck_assert_msg(packing_alloc_at(&r1, q) < q + 1.5, "%s: %.2f %% allocated at %d %%",
                          packing_policy_name((enum packing_policy)p), packing_alloc_at(&r1, q), q);
        o.seed = 43;
        ck_assert_int_eq(packing_run(x.nodes, x.n_nodes, x.pods, x.n_pods, (enum packing_policy)p,
                                     &o, &r3, NULL),
                         0);
        ck_assert_msg(memcmp(r1.alloc_pct, r3.alloc_pct, sizeof(r1.alloc_pct)) != 0,
                      "seed 43 gave the same curve as seed 42 under %s",
                      packing_policy_name((enum packing_policy)p));
    }
    free(x.nodes);
    free(x.pods);
}
END_TEST

static int ours(const struct extract *x, const struct packing_opts *o, struct packing_result *r,
                struct err *e)
{
    return packing_run(x->nodes, x->n_nodes, x->pods, x->n_pods, PACKING_NODEFIT, o, r, e);
}

/* Ours rehearses its weighting on the list's work, the same whatever the seed; a run given
 * that weighting is the same run, and a bad weighting is named. */
START_TEST(packing_rehearses_ours_weighting)
{
    struct extract x;
    struct packing_opts o;
    struct packing_result r1, r2, r3;
    struct err e = {0};

    load_extract(&x);
    packing_opts_defaults(&o, 42);
    ck_assert_int_eq(o.nodefit_weights, PACKING_REHEARSE);
    ck_assert_int_eq(ours(&x, &o, &r1, NULL), 0);
    ck_assert(r1.rehearsal_arrived > 0);
    ck_assert(r1.rehearsal_lost[0] < r1.rehearsal_arrived);
    ck_assert_int_eq(r1.nodefit_weights, r1.rehearsal_lost[1] < r1.rehearsal_lost[0]
                                             ? NODEFIT_WEIGHT_COUNT
                                             : NODEFIT_WEIGHT_DEMAND);
    o.nodefit_weights = r1.nodefit_weights;
    ck_assert_int_eq(ours(&x, &o, &r2, NULL), 0);
    ck_assert_mem_eq(r1.alloc_pct, r2.alloc_pct, sizeof(r1.alloc_pct));
    ck_assert(r2.rehearsal_arrived == 0);
    packing_opts_defaults(&o, 43);
    ck_assert_int_eq(ours(&x, &o, &r3, NULL), 0);
    ck_assert_int_eq(r3.nodefit_weights, r1.nodefit_weights);
    ck_assert(r3.rehearsal_lost[0] == r1.rehearsal_lost[0]);
    ck_assert(r3.rehearsal_lost[1] == r1.rehearsal_lost[1]);
    o.nodefit_weights = 2;
    ck_assert_int_eq(ours(&x, &o, &r3, &e), -1);
    ck_assert_str_eq(e.field, "nodefit_weights");
    ck_assert_msg(strstr(e.msg, "nodefit_weights 2 is not"), "%s", e.msg);
    free(x.nodes);
    free(x.pods);
}
END_TEST

START_TEST(packing_policies_rank_as_expected)
{
    struct extract x;
    double mean[PACKING_POLICY_COUNT] = {0};

    load_extract(&x);
    for (int p = 0; p < PACKING_POLICY_COUNT; p++)
        for (uint64_t s = 42; s < 47; s++) {
            struct packing_opts o;
            struct packing_result r;

            packing_opts_defaults(&o, s);
            ck_assert_int_eq(packing_run(x.nodes, x.n_nodes, x.pods, x.n_pods,
                                         (enum packing_policy)p, &o, &r, NULL),
                             0);
            mean[p] += packing_alloc_at(&r, 100) / 5;
        }
    /* Random scatters fractional GPUs; every packing policy beats it clearly. */
    ck_assert(mean[PACKING_BESTFIT] > mean[PACKING_RANDOM] + 2);
    ck_assert(mean[PACKING_FGD] > mean[PACKING_RANDOM] + 2);
    ck_assert(mean[PACKING_NODEFIT] >= mean[PACKING_BESTFIT]);
    free(x.nodes);
    free(x.pods);
}
END_TEST

START_TEST(packing_rejects_bad_input)
{
    struct trace_openb_node n = {"cpu-only", 32000, 65536, 0, ""};
    struct trace_openb_pod p;
    struct packing_opts o;
    struct packing_result r;
    struct err e = {0};
    enum packing_policy pol;

    memset(&p, 0, sizeof(p));
    snprintf(p.name, sizeof(p.name), "p");
    p.cpu_milli = 1000;
    p.num_gpu = 1;
    p.gpu_milli = 1000;
    packing_opts_defaults(&o, 1);
    ck_assert_int_eq(packing_run(&n, 1, &p, 1, PACKING_NODEFIT, &o, &r, &e), -1);
    ck_assert_str_eq(e.field, "nodes");
    ck_assert_int_eq(packing_policy_parse("nodefit", &pol, NULL), 0);
    ck_assert_int_eq(pol, PACKING_NODEFIT);
    ck_assert_int_eq(packing_policy_parse("fgd2", &pol, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
}
END_TEST

static struct trace_openb_pod pod(const char *name, int64_t cpu, int gpus, int milli,
                                  const char *spec)
{
    struct trace_openb_pod p;

    memset(&p, 0, sizeof(p));
    snprintf(p.name, sizeof(p.name), "%s", name);
    p.cpu_milli = cpu;
    p.memory_mib = 1024;
    p.num_gpu = gpus;
    p.gpu_milli = milli;
    snprintf(p.gpu_spec, sizeof(p.gpu_spec), "%s", spec);
    return p;
}

static struct trace_openb_node gpu_node(const char *name, const char *model)
{
    struct trace_openb_node n;

    memset(&n, 0, sizeof(n));
    snprintf(n.name, sizeof(n.name), "%s", name);
    n.cpu_milli = 64000;
    n.memory_mib = 262144;
    n.gpus = 1;
    snprintf(n.model, sizeof(n.model), "%s", model);
    return n;
}

/* The artifact's draws (bench_packing --order): the pods arrive in the given order, as
 * indices into the list sorted by name, and nothing is shuffled or sampled. */
START_TEST(packing_follows_the_artifacts_order)
{
    struct trace_openb_node n = gpu_node("n0", "A");
    struct trace_openb_pod pods[2] = {pod("b", 1000, 1, 500, ""), pod("a", 1000, 1, 600, "")};
    const uint32_t a_first[2] = {0, 1}, b_first[2] = {1, 0}, bad[2] = {0, 2};
    struct packing_opts o;
    struct packing_result r;
    struct err e = {0};

    packing_opts_defaults(&o, 42);
    o.order = a_first;
    o.n_order = 2;
    ck_assert_int_eq(packing_run(&n, 1, pods, 2, PACKING_BESTFIT, &o, &r, &e), 0);
    ck_assert_uint_eq(r.pods, 2);
    ck_assert_uint_eq(r.failed, 1);
    ck_assert_double_eq_tol(r.final_alloc_pct, 60.0, 1e-9); /* "a" took the device */
    o.order = b_first;
    ck_assert_int_eq(packing_run(&n, 1, pods, 2, PACKING_BESTFIT, &o, &r, &e), 0);
    ck_assert_double_eq_tol(r.final_alloc_pct, 50.0, 1e-9);
    ck_assert_double_eq_tol(r.final_arrived_pct, 110.0, 1e-9);
    o.order = bad;
    ck_assert_int_eq(packing_run(&n, 1, pods, 2, PACKING_BESTFIT, &o, &r, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_str_eq(e.field, "order");
    ck_assert_msg(strstr(e.msg, "arrival 2 is pod 2, but the list has 2 pods"), "%s", e.msg);
}
END_TEST

/* Equal scores go to the node the artifact names first: node_rank, for the nodes sorted by
 * name. BestFit scores both empty one-GPU nodes alike; the second pod may only use model A. */
START_TEST(packing_breaks_ties_by_the_artifacts_node_names)
{
    struct trace_openb_node nodes[2] = {gpu_node("n1", "B"), gpu_node("n0", "A")};
    struct trace_openb_pod pods[2] = {pod("p0", 1000, 1, 1000, ""), pod("p1", 1000, 1, 1000, "A")};
    const uint32_t order[2] = {0, 1}, a_first[2] = {0, 1}, b_first[2] = {1, 0};
    const uint32_t taken[2] = {1, 1};
    struct packing_opts o;
    struct packing_result r;
    struct err e = {0};

    packing_opts_defaults(&o, 42);
    o.order = order;
    o.n_order = 2;
    o.n_node_rank = 2;
    o.node_rank = a_first; /* n0 (model A) first: p0 takes it, p1 has nowhere to go */
    ck_assert_int_eq(packing_run(nodes, 2, pods, 2, PACKING_BESTFIT, &o, &r, &e), 0);
    ck_assert_uint_eq(r.failed, 1);
    o.node_rank = b_first;
    ck_assert_int_eq(packing_run(nodes, 2, pods, 2, PACKING_BESTFIT, &o, &r, &e), 0);
    ck_assert_uint_eq(r.failed, 0);
    /* Without ranks, the list's own order: n1 first. */
    o.node_rank = NULL;
    ck_assert_int_eq(packing_run(nodes, 2, pods, 2, PACKING_BESTFIT, &o, &r, &e), 0);
    ck_assert_uint_eq(r.failed, 0);
    o.node_rank = taken;
    ck_assert_int_eq(packing_run(nodes, 2, pods, 2, PACKING_BESTFIT, &o, &r, &e), -1);
    ck_assert_str_eq(e.field, "node_rank");
    ck_assert_msg(strstr(e.msg, "node n1 rank 1"), "%s", e.msg);
    o.node_rank = a_first;
    o.n_node_rank = 1;
    ck_assert_int_eq(packing_run(nodes, 2, pods, 2, PACKING_BESTFIT, &o, &r, &e), -1);
    ck_assert_str_eq(e.field, "node_rank");
}
END_TEST

START_TEST(order_file_parses_and_names_bad_text)
{
    static const char good[] = "3 1 2\n1 0\n", bad_pod[] = "3 x1 2\n1 0\n", no_nodes[] = "3 1 2\n",
                      huge[] = "1\n99999999999\n";
    struct packing_order o;
    struct err e = {0};

    ck_assert_int_eq(packing_order_parse(good, strlen(good), "o", &o, &e), 0);
    ck_assert_uint_eq(o.n_pods, 3);
    ck_assert_uint_eq(o.pods[0], 3);
    ck_assert_uint_eq(o.pods[2], 2);
    ck_assert_uint_eq(o.n_nodes, 2);
    ck_assert_uint_eq(o.node_rank[0], 1);
    packing_order_free(&o);
    ck_assert_ptr_null(o.pods);
    ck_assert_int_eq(packing_order_parse(bad_pod, strlen(bad_pod), "o", &o, &e), -1);
    ck_assert_str_eq(e.field, "order");
    ck_assert_msg(strstr(e.msg, "o: line 1: 'x1' is not an index"), "%s", e.msg);
    ck_assert_ptr_null(o.pods);
    ck_assert_int_eq(packing_order_parse(no_nodes, strlen(no_nodes), "o", &o, &e), -1);
    ck_assert_str_eq(e.field, "node_rank");
    ck_assert_msg(strstr(e.msg, "line 2 has no indices"), "%s", e.msg);
    ck_assert_int_eq(packing_order_parse(huge, strlen(huge), "o", &o, &e), -1);
    ck_assert_msg(strstr(e.msg, "'99999999999' is not an index"), "%s", e.msg);
    ck_assert_int_eq(packing_order_load("/nonexistent/x.order", &o, &e), -1);
}
END_TEST

/* The stress variants' resampling: a list as long as the base with the asked shares of
 * each kind (within sampling noise), the same for a seed, refused when it cannot be done. */
START_TEST(resample_gives_the_asked_shares)
{
    enum { N = 4000 };
    struct trace_openb_pod *base = xcalloc(N, sizeof(*base)), pool[3], *v = NULL, *v2 = NULL;
    double share[PACKING_KIND_PLAIN] = {0.33, 0.25, 0.10}, keep[PACKING_KIND_PLAIN] = {-1, -1, -1};
    double over[PACKING_KIND_PLAIN] = {0.5, 0.5, 0.5};
    size_t n = 0, n2 = 0, count[PACKING_KIND_COUNT] = {0};
    struct err e = {0};

    for (size_t i = 0; i < N; i++)
        base[i] = pod("b", 4000, 1, 1000, ""); /* plain: 4 cores per GPU */
    pool[0] = pod("s", 4000, 1, 500, "T4");
    pool[1] = pod("m", 16000, 4, 1000, "");
    pool[2] = pod("h", 64000, 1, 1000, ""); /* 64 cores for one GPU */
    ck_assert_int_eq(packing_pod_kind(&pool[0], 16), PACKING_KIND_SPEC);
    ck_assert_int_eq(packing_pod_kind(&pool[1], 16), PACKING_KIND_MULTI);
    ck_assert_int_eq(packing_pod_kind(&pool[2], 16), PACKING_KIND_HEAVY);
    ck_assert_int_eq(packing_pod_kind(&base[0], 16), PACKING_KIND_PLAIN);
    ck_assert_msg(packing_resample(base, N, pool, 3, share, 16, 7, &v, &n, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(n, N);
    for (size_t i = 0; i < n; i++)
        count[packing_pod_kind(&v[i], 16)]++;
    ck_assert_msg(fabs(count[PACKING_KIND_SPEC] / (double)N - 0.33) < 0.03, "%zu",
                  count[PACKING_KIND_SPEC]);
    ck_assert_msg(fabs(count[PACKING_KIND_MULTI] / (double)N - 0.25) < 0.03, "%zu",
                  count[PACKING_KIND_MULTI]);
    ck_assert_msg(fabs(count[PACKING_KIND_HEAVY] / (double)N - 0.10) < 0.03, "%zu",
                  count[PACKING_KIND_HEAVY]);
    ck_assert_str_eq(v[0].name, "stress-000000");
    ck_assert_int_eq(packing_resample(base, N, pool, 3, share, 16, 7, &v2, &n2, NULL), 0);
    ck_assert_mem_eq(v, v2, n * sizeof(*v));
    free(v2);
    ck_assert_int_eq(packing_resample(base, N, pool, 3, share, 16, 8, &v2, &n2, NULL), 0);
    ck_assert(memcmp(v, v2, n * sizeof(*v)) != 0);
    free(v2);
    free(v);
    /* Keeping the base's shares draws only plain pods here. */
    ck_assert_int_eq(packing_resample(base, N, pool, 3, keep, 16, 7, &v, &n, NULL), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(packing_pod_kind(&v[i], 16), PACKING_KIND_PLAIN);
    free(v);
    ck_assert_int_eq(packing_resample(base, N, pool, 3, over, 16, 7, &v, &n, &e), -1);
    ck_assert_str_eq(e.field, "share");
    ck_assert_int_eq(packing_resample(base, N, NULL, 0, share, 16, 7, &v, &n, &e), -1);
    ck_assert_msg(strstr(e.msg, "spec"), "%s", e.msg);
    free(base);
}
END_TEST

START_TEST(published_figures)
{
    ck_assert(fabs(packing_published("openb_pod_list_default", "Random") - 86.30) < 1e-9);
    ck_assert(fabs(packing_published("openb_pod_list_default", "BestFit") - 92.86) < 1e-9);
    ck_assert(fabs(packing_published("openb_pod_list_default", "FGD") - 95.23) < 1e-9);
    ck_assert(fabs(packing_published("openb_pod_list_gpuspec33", "FGD") - 87.84) < 1e-9);
    ck_assert(fabs(packing_published("openb_pod_list_multigpu50", "BestFit") - 95.62) < 1e-9);
    ck_assert(packing_published("openb_pod_list_cpu037", "FGD") < 0);
    ck_assert(packing_published("openb_pod_list_gpuspec05", "FGD") < 0);
    ck_assert(packing_published("openb_pod_list_default", "Nope") < 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("packing");
    TCase *tc = tcase_create("nodefit");
    TCase *tp = tcase_create("harness");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, fits_checks_every_dimension);
    tcase_add_test(tc, profile_rejects_bad_shapes);
    tcase_add_test(tc, frag_counts_unusable_and_unfed_capacity);
    tcase_add_test(tc, count_weights_weigh_shapes_by_their_requests);
    tcase_add_test(tc, rehearsal_keeps_the_weighting_that_turns_away_less);
    tcase_add_test(tc, model_constraints_in_fit_and_measure);
    tcase_add_test(tc, nodes_steer_flexible_requests_off_claimed_models);
    tcase_add_test(tc, node_kinds_steer_requests_off_nodes_only_big_shapes_fit);
    tcase_add_test(tc, node_kinds_claimed_within_each_model);
    tcase_add_test(tc, constrained_shapes_claim_what_their_pods_can_use);
    tcase_add_test(tc, cpu_only_work_counts_in_the_cores_per_gpu);
    tcase_add_test(tc, cpu_only_requests_leave_usable_cores_when_cpu_is_short);
    tcase_add_test(tc, score_prefers_filling_a_partly_used_device);
    tcase_add_test(tc, score_keeps_whole_nodes_for_big_gangs);
    tcase_add_test(tp, five_column_lists_load_with_defaults);
    tcase_add_test(tp, packing_is_deterministic_for_a_seed);
    tcase_add_test(tp, packing_rehearses_ours_weighting);
    tcase_add_test(tp, packing_policies_rank_as_expected);
    tcase_add_test(tp, packing_rejects_bad_input);
    tcase_add_test(tp, packing_follows_the_artifacts_order);
    tcase_add_test(tp, packing_breaks_ties_by_the_artifacts_node_names);
    tcase_add_test(tp, order_file_parses_and_names_bad_text);
    tcase_add_test(tp, resample_gives_the_asked_shares);
    tcase_add_test(tp, published_figures);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, tp);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
