/* test_cluster_inventory.c -- acceptance 1: real-shaped NodeList/PodList pages from
 * testdata/k8s/ added up into exact per-node and per pool x SKU figures. The fixture
 * (make-fixtures.py) covers quantities, requests vs limits, init containers and sidecars,
 * terminating and terminal pods, NotReady/cordoned/tainted nodes, a device plugin that is
 * down, MIG and unknown products, pagination and the serving-pool split. A second fixture
 * (two-serving-*.json) has two serving SKUs for where unassigned serving demand goes. */
#include "base/err.h"
#include "base/sku.h"
#include "cluster/cluster_config.h"
#include "cluster/inventory.h"
#include "cluster/k8s.h"
#include "policy/snapshot.h"
#include "tests/support/k8s_fixture.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static struct cluster_config cfg;
static struct inventory inv;

static void add_page(const char *file, bool nodes, const char *want_cont)
{
    size_t len;
    char *body = k8s_fixture_read(file, &len);
    char cont[1024];
    struct err e = {0};
    int rc;

    if (nodes)
        rc = inventory_add_nodes(&inv, body, len, &cfg, sku_defaults(), cont, sizeof(cont), &e);
    else
        rc = inventory_add_pods(&inv, body, len, &cfg, sku_defaults(), cont, sizeof(cont), &e);
    ck_assert_msg(rc == 0, "%s: %s %s", file, e.field, e.msg);
    ck_assert_str_eq(cont, want_cont);
    free(body);
}

static void load_all(void)
{
    add_page("k8s/nodes-page1.json", true,
             "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6ODgxMjM0NSwic3RhcnQiOiJiMjAwLXgxXHUwMDAwIn0");
    add_page("k8s/nodes-page2.json", true, "");
    add_page("k8s/pods-page1.json", false,
             "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6ODgxMjM0NSwic3RhcnQiOiJzZXJ2aW5nL3NpZGVjYXItcH"
             "JveHktenpcdTAwMDAifQ");
    add_page("k8s/pods-page2.json", false, "");
    inventory_finish(&inv);
}

static void setup(void)
{
    size_t len;
    char *text = k8s_fixture_read("k8s/cluster.json", &len);
    struct err e = {0};

    ck_assert_msg(cluster_config_parse(text, len, sku_defaults(), &cfg, &e) == 0, "%s", e.msg);
    free(text);
    inventory_init(&inv);
}

static void teardown(void)
{
    inventory_free(&inv);
}

static const struct snapshot_node *node(const char *name)
{
    const struct snapshot_node *n = inventory_node(&inv, name);

    ck_assert_msg(n != NULL, "node %s missing", name);
    return n;
}

static void expect_node(const char *name, int alloc, int used, int borrowed, bool sched,
                        enum snapshot_pool pool, const char *sku)
{
    const struct snapshot_node *n = node(name);

    ck_assert_msg(n->allocatable == alloc, "%s allocatable %d", name, n->allocatable);
    ck_assert_msg(n->used == used, "%s used %d, want %d", name, n->used, used);
    ck_assert_msg(n->borrowed == borrowed, "%s borrowed %d", name, n->borrowed);
    ck_assert_msg(n->schedulable == sched, "%s schedulable %d", name, n->schedulable);
    ck_assert_msg(n->pool == pool, "%s pool %d", name, n->pool);
    if (sku)
        ck_assert_int_eq(n->sku, sku_find(sku_defaults(), sku));
    else
        ck_assert_int_eq(n->sku, -1);
}

START_TEST(per_node_training_figures)
{
    load_all();
    /* requests 4 + limits-only 2 */
    expect_node("h100-a1", 8, 6, 0, true, SNAPSHOT_POOL_TRAINING, "h100-80gb");
    /* init container 8 beats app container 4 */
    expect_node("h100-a2", 8, 8, 0, true, SNAPSHOT_POOL_TRAINING, "h100-80gb");
    /* cordoned: usage still counted, not schedulable */
    expect_node("h100-a3", 8, 2, 0, false, SNAPSHOT_POOL_TRAINING, "h100-80gb");
    /* Ready Unknown */
    expect_node("h100-a4", 8, 0, 0, false, SNAPSHOT_POOL_TRAINING, "h100-80gb");
    /* dedicated=web:NoSchedule is not tolerated */
    expect_node("h100-a5", 8, 0, 0, false, SNAPSHOT_POOL_TRAINING, "h100-80gb");
    /* device plugin down: capacity 8, allocatable 0 */
    expect_node("h100-a6", 0, 0, 0, true, SNAPSHOT_POOL_TRAINING, "h100-80gb");
    /* terminating 4 + bound Pending 2; Succeeded and Failed pods skipped; PreferNoSchedule
     * does not block */
    expect_node("h100-a7", 8, 6, 0, true, SNAPSHOT_POOL_TRAINING, "h100-80gb");
    /* app 1 + a native sidecar without GPUs */
    expect_node("a100-b1", 8, 1, 0, true, SNAPSHOT_POOL_TRAINING, "a100-80gb");
    /* MIG slice and an unknown product are kept with sku -1 */
    expect_node("a100-mig1", 7, 0, 0, true, SNAPSHOT_POOL_TRAINING, NULL);
    expect_node("b200-x1", 8, 0, 0, true, SNAPSHOT_POOL_TRAINING, NULL);
    ck_assert_ptr_null(inventory_node(&inv, "cpu-1"));
}
END_TEST

START_TEST(per_node_serving_figures)
{
    load_all();
    /* two serving pods (one limits-only) + one fedsched pod = 3, of which 1 borrowed */
    expect_node("l4-s1", 4, 3, 1, true, SNAPSHOT_POOL_SERVING, "l4");
    /* a 4-GPU pod and a CPU-only sidecar pod */
    expect_node("l4-s2", 4, 4, 0, true, SNAPSHOT_POOL_SERVING, "l4");
    expect_node("l4-s3", 4, 0, 0, true, SNAPSHOT_POOL_SERVING, "l4");
    expect_node("l4-s4", 4, 0, 0, false, SNAPSHOT_POOL_SERVING, "l4");
    expect_node("l4-s5", 4, 0, 0, true, SNAPSHOT_POOL_SERVING, "l4");
}
END_TEST

START_TEST(stats_and_unknown_products)
{
    load_all();
    ck_assert_int_eq(inv.n_nodes, 15);
    ck_assert_int_eq(inv.stats.nodes, 16);
    ck_assert_int_eq(inv.stats.gpu_nodes, 15);
    ck_assert_int_eq(inv.stats.not_ready, 2);
    ck_assert_int_eq(inv.stats.cordoned, 1);
    ck_assert_int_eq(inv.stats.tainted, 4); /* cordon taint, dedicated, 2x unreachable */
    ck_assert_int_eq(inv.stats.plugin_down, 1);
    ck_assert_int_eq(inv.stats.pods, 21);
    ck_assert_int_eq(inv.stats.terminal_skipped, 2);
    ck_assert_int_eq(inv.stats.pods_unknown_node, 1);
    ck_assert_int_eq(inv.stats.pending_serving_pods, 2);
    ck_assert_int_eq(inv.stats.bad_items, 0);
    ck_assert_int_eq(inv.n_unknown, 2);
    ck_assert_str_eq(inv.unknown[0].product, "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb");
    ck_assert(inv.unknown[0].mig);
    ck_assert_int_eq(inv.unknown[0].nodes, 1);
    ck_assert_int_eq(inv.unknown[0].gpus, 7);
    ck_assert_str_eq(inv.unknown[1].product, "NVIDIA-B200");
    ck_assert(!inv.unknown[1].mig);
    ck_assert_int_eq(inv.unknown[1].gpus, 8);
}
END_TEST

static const struct snapshot_agg *agg(struct snapshot *s, enum snapshot_pool p, const char *sku)
{
    const struct snapshot_agg *a = snapshot_agg_const(s, 0, p, snapshot_sku_find(s, sku));

    ck_assert_ptr_nonnull(a);
    return a;
}

START_TEST(pool_and_sku_aggregates)
{
    const struct sku_catalogue *cat = sku_defaults();
    struct snapshot *s = NULL;
    const struct snapshot_agg *a;
    struct err e = {0};

    load_all();
    ck_assert_int_eq(snapshot_new(1, inv.n_nodes, cat->n, &s, &e), 0);
    for (size_t k = 0; k < cat->n; k++)
        snprintf(s->sku_names[k], sizeof(s->sku_names[k]), "%s", cat->skus[k].name);
    inventory_copy(&inv, cfg.serving.reserve_gpus, s, 0, 0);
    snapshot_compute_aggregates(s);
    ck_assert_msg(snapshot_validate(s, &e) == 0, "%s", e.msg);

    a = agg(s, SNAPSHOT_POOL_TRAINING, "h100-80gb");
    ck_assert_int_eq(a->total, 48);
    ck_assert_int_eq(a->used, 22);
    ck_assert_int_eq(a->free, 4);
    ck_assert_int_eq(a->borrowed, 0);
    ck_assert_int_eq(a->pending_serving, 0);
    ck_assert_int_eq(a->lendable, 0);

    a = agg(s, SNAPSHOT_POOL_TRAINING, "a100-80gb");
    ck_assert_int_eq(a->total, 8);
    ck_assert_int_eq(a->used, 1);
    ck_assert_int_eq(a->free, 7);

    a = agg(s, SNAPSHOT_POOL_SERVING, "l4");
    ck_assert_int_eq(a->total, 20);
    ck_assert_int_eq(a->used, 7);
    ck_assert_int_eq(a->borrowed, 1);
    ck_assert_int_eq(a->free, 9);
    /* 1 GPU selecting NVIDIA-L4 + 2 GPUs without a selector, attributed to the largest
     * serving SKU; the pending training pod and the terminating one are not demand */
    ck_assert_int_eq(a->pending_serving, 3);
    ck_assert_int_eq(a->reserve, 2);
    ck_assert_int_eq(a->lendable, 4); /* 9 free - 2 reserve - 3 pending */

    /* no serving nodes of this SKU: no reserve, nothing lendable */
    a = agg(s, SNAPSHOT_POOL_SERVING, "h100-80gb");
    ck_assert_int_eq(a->total, 0);
    ck_assert_int_eq(a->reserve, 0);
    ck_assert_int_eq(a->lendable, 0);
    snapshot_free(&s);
}
END_TEST

/* Unbound serving pods that select no product are demand on the serving SKU with the most
 * GPUs (inventory_finish). two-serving-*.json has serving L4 20 GPUs and serving H100 16,
 * and 16 training H100 GPUs that must not count: the 5 unassigned GPUs go to L4. */
START_TEST(unassigned_demand_goes_to_the_largest_serving_sku)
{
    const struct sku_catalogue *cat = sku_defaults();
    int l4 = sku_find(cat, "l4"), h100 = sku_find(cat, "h100-80gb");
    struct snapshot *s = NULL;
    const struct snapshot_agg *a;
    struct err e = {0};

    add_page("k8s/two-serving-nodes.json", true, "");
    add_page("k8s/two-serving-pods.json", false, "");
    ck_assert_int_eq(inv.stats.pending_serving_pods, 4);
    ck_assert_int_eq(inv.pending_unassigned, 5); /* 3 + 2 GPUs without a product selector */
    inventory_finish(&inv);
    ck_assert_int_eq(inv.pending_unassigned, 0);
    ck_assert_msg(inv.pending_serving[l4] == 1 + 5, "l4 pending %d, h100 pending %d",
                  inv.pending_serving[l4], inv.pending_serving[h100]);
    ck_assert_int_eq(inv.pending_serving[h100], 2);

    ck_assert_int_eq(snapshot_new(1, inv.n_nodes, cat->n, &s, &e), 0);
    for (size_t k = 0; k < cat->n; k++)
        snprintf(s->sku_names[k], sizeof(s->sku_names[k]), "%s", cat->skus[k].name);
    inventory_copy(&inv, cfg.serving.reserve_gpus, s, 0, 0);
    snapshot_compute_aggregates(s);
    a = agg(s, SNAPSHOT_POOL_SERVING, "l4");
    ck_assert_int_eq(a->total, 20);
    ck_assert_int_eq(a->free, 19);
    ck_assert_int_eq(a->pending_serving, 6);
    ck_assert_int_eq(a->lendable, 11); /* 19 free - 2 reserve - 6 pending */
    a = agg(s, SNAPSHOT_POOL_SERVING, "h100-80gb");
    ck_assert_int_eq(a->total, 16);
    ck_assert_int_eq(a->pending_serving, 2);
    ck_assert_int_eq(a->lendable, 12); /* 16 free - 2 reserve - 2 pending */
    a = agg(s, SNAPSHOT_POOL_TRAINING, "h100-80gb");
    ck_assert_int_eq(a->total, 16);
    ck_assert_int_eq(a->pending_serving, 0);
    /* Each pending serving pod, largest first, on its SKU (the ones without a product on
     * L4's), with its CPU and memory requests (4 cores, 32 GiB); the training pod is not. */
    {
        const struct snapshot_serving_pool *sv = &s->clusters[0].serving;
        static const struct {
            const char *sku;
            int gpus;
        } want[] = {{"l4", 3}, {"l4", 2}, {"h100-80gb", 2}, {"l4", 1}};

        ck_assert_uint_eq(sv->n_pending, 4);
        for (size_t i = 0; i < 4; i++) {
            ck_assert_str_eq(s->sku_names[sv->pending[i].sku], want[i].sku);
            ck_assert_int_eq(sv->pending[i].gpus, want[i].gpus);
            ck_assert_int_eq(sv->pending[i].cpu_m, 4000);
            ck_assert_int_eq(sv->pending[i].mem_mib, 32768);
        }
    }
    ck_assert_msg(snapshot_validate(s, &e) == 0, "%s", e.msg);
    snapshot_free(&s);
}
END_TEST

/* More pending serving pods than the snapshot keeps: the SNAPSHOT_PENDING_MAX largest, in
 * descending order of GPUs, then CPU; all of their GPUs still count as demand. A pod list
 * that restarts forgets them. */
START_TEST(pending_serving_pods_keep_the_largest)
{
    int l4 = sku_find(sku_defaults(), "l4"), sum = 0;

    for (int i = 0; i < 40; i++) {
        struct k8s_pod p = {.phase = K8S_POD_PENDING, .attempt = -1};

        snprintf(p.ns, sizeof(p.ns), "serving");
        snprintf(p.name, sizeof(p.name), "web-%d", i);
        snprintf(p.product, sizeof(p.product), "NVIDIA-L4");
        p.gpus = i % 4 + 1;
        p.cpu_m = 1000 * (i % 7);
        sum += p.gpus;
        inventory_add_pod(&inv, &p, &cfg, sku_defaults());
    }
    inventory_finish(&inv);
    ck_assert_int_eq(inv.pending_serving[l4], sum);
    ck_assert_uint_eq(inv.n_pending_pods, SNAPSHOT_PENDING_MAX);
    /* 10 pods of 4 GPUs (cores 3, 0, 4, 1, 5, 2, 6, 3, 0, 4 thousand) and 6 of 3 GPUs */
    ck_assert_int_eq(inv.pending_pods[0].gpus, 4);
    ck_assert_int_eq(inv.pending_pods[0].cpu_m, 6000);
    ck_assert_int_eq(inv.pending_pods[9].gpus, 4);
    ck_assert_int_eq(inv.pending_pods[9].cpu_m, 0);
    ck_assert_int_eq(inv.pending_pods[10].gpus, 3);
    ck_assert_int_eq(inv.pending_pods[SNAPSHOT_PENDING_MAX - 1].gpus, 3);
    for (size_t i = 0; i < SNAPSHOT_PENDING_MAX; i++)
        ck_assert_int_eq(inv.pending_pods[i].sku, l4);
    inventory_reset_pods(&inv);
    ck_assert_uint_eq(inv.n_pending_pods, 0);
}
END_TEST

#define L4_NODE(name, labels, taints)                                                              \
    "{\"metadata\":{\"name\":\"" name "\",\"labels\":{\"fedsched.io/pool\":\"serving\","           \
    "\"nvidia.com/gpu.product\":\"NVIDIA-L4\"," labels "}},\"spec\":{\"taints\":[" taints "]},"    \
    "\"status\":{\"allocatable\":{\"nvidia.com/gpu\":\"8\"},\"conditions\":[{\"type\":\"Ready\","  \
    "\"status\":\"True\"}]}}"
#define SERVING_POD(name, gpus, spec)                                                              \
    "{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"serving\"},\"spec\":{" spec              \
    "\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{\"nvidia.com/gpu\":\"" gpus      \
    "\"}}}]},\"status\":{\"phase\":\"Pending\"}}"

/* Each pending serving pod's own constraints against the serving nodes' labels and taints:
 * the nodes each may not use are marked with its bit (its place in serving.pending), and a
 * pod no serving node of its SKU may take leaves the pool's pending demand. */
START_TEST(pending_serving_pods_carry_the_nodes_they_may_not_use)
{
    static const char nodes[] =
        "{\"kind\":\"NodeList\",\"items\":[" L4_NODE("s-a", "\"zone\":\"a\"", "") "," L4_NODE(
            "s-b", "\"zone\":\"b\"",
            "{\"key\":\"dedicated\",\"value\":\"chat\",\"effect\":\"NoSchedule\"}") "]}";
    static const char web[] = SERVING_POD(
        "web", "3", "\"nodeSelector\":{\"zone\":\"b\",\"nvidia.com/gpu.product\":\"NVIDIA-L4\"},");
    static const char chat[] =
        SERVING_POD("chat", "2",
                    "\"nodeSelector\":{\"zone\":\"b\"},"
                    "\"tolerations\":[{\"key\":\"dedicated\",\"operator\":\"Exists\"}],");
    static const char any[] = SERVING_POD("any", "1", "");
    char pods[2048];
    const struct sku_catalogue *cat = sku_defaults();
    struct snapshot *s = NULL;
    const struct snapshot_serving_pool *sv;
    char cont[64];
    struct err e = {0};

    ck_assert_msg(
        inventory_add_nodes(&inv, nodes, strlen(nodes), &cfg, cat, cont, sizeof(cont), &e) == 0,
        "%s", e.msg);
    snprintf(pods, sizeof(pods), "{\"kind\":\"PodList\",\"items\":[%s,%s,%s]}", web, chat, any);
    ck_assert_msg(inventory_add_pods(&inv, pods, strlen(pods), &cfg, cat, cont, sizeof(cont), &e) ==
                      0,
                  "%s", e.msg);
    inventory_finish(&inv);
    ck_assert_int_eq(snapshot_new(1, inv.n_nodes, cat->n, &s, &e), 0);
    for (size_t k = 0; k < cat->n; k++)
        snprintf(s->sku_names[k], sizeof(s->sku_names[k]), "%s", cat->skus[k].name);
    inventory_copy(&inv, 0, s, 0, 0);
    sv = &s->clusters[0].serving;
    ck_assert_uint_eq(sv->n_pending, 3);
    ck_assert_int_eq(sv->pending[0].gpus, 3); /* web: zone b, but not tolerating its taint */
    ck_assert_int_eq(sv->pending[1].gpus, 2); /* chat: zone b, tolerating it */
    ck_assert_int_eq(sv->pending[2].gpus, 1); /* any: no selector, no toleration */
    ck_assert_str_eq(s->nodes[0].name, "s-a");
    ck_assert_int_eq(s->nodes[0].pending_barred, 1 | 2); /* zone a */
    ck_assert_int_eq(s->nodes[1].pending_barred, 1 | 4); /* the untolerated taint */
    /* web may use neither node: its 3 GPUs are not the pool's demand. */
    ck_assert_int_eq(inv.pending_serving[sku_find(cat, "l4")], 6);
    snapshot_compute_aggregates(s);
    ck_assert_int_eq(agg(s, SNAPSHOT_POOL_SERVING, "l4")->pending_serving, 3);
    ck_assert_msg(snapshot_validate(s, &e) == 0, "%s", e.msg);
    snapshot_free(&s);
}
END_TEST

/* A serving pod held by scheduling gates is demand coming, not demand the pool can meet
 * now: announced on its SKU, never pending, never kept for the stuck check. */
START_TEST(gated_serving_pods_are_announced_demand)
{
    int l4 = sku_find(sku_defaults(), "l4");
    struct k8s_pod p = {.phase = K8S_POD_PENDING, .attempt = -1, .gpus = 2, .gated = true};

    snprintf(p.ns, sizeof(p.ns), "serving");
    snprintf(p.name, sizeof(p.name), "chat-gated");
    snprintf(p.product, sizeof(p.product), "NVIDIA-L4");
    inventory_add_pod(&inv, &p, &cfg, sku_defaults());
    p.gated = false;
    p.gpus = 1;
    snprintf(p.name, sizeof(p.name), "chat-open");
    inventory_add_pod(&inv, &p, &cfg, sku_defaults());
    inventory_finish(&inv);
    ck_assert_int_eq(inv.announced_serving[l4], 2);
    ck_assert_int_eq(inv.pending_serving[l4], 1);
    ck_assert_uint_eq(inv.n_pending_pods, 1);
    ck_assert_int_eq(inv.pending_pods[0].gpus, 1);
    ck_assert_int_eq(inv.stats.pending_serving_pods, 1);
}
END_TEST

START_TEST(restart_pods_after_expired_continue)
{
    const struct snapshot_node *n;

    load_all();
    /* A 410 on the second pod page restarts the pod list: the first page is added again
     * on top of a reset, and the figures must come out the same, not doubled. */
    inventory_reset_pods(&inv);
    add_page("k8s/pods-page1.json", false,
             "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6ODgxMjM0NSwic3RhcnQiOiJzZXJ2aW5nL3NpZGVjYXItcH"
             "JveHktenpcdTAwMDAifQ");
    add_page("k8s/pods-page2.json", false, "");
    inventory_finish(&inv);
    n = node("h100-a1");
    ck_assert_int_eq(n->used, 6);
    ck_assert_int_eq(node("l4-s1")->borrowed, 1);
    ck_assert_int_eq(inv.pending_serving[sku_find(sku_defaults(), "l4")], 3);
    ck_assert_int_eq(inv.stats.pods, 21);
}
END_TEST

/* fedsched's pods by job attempt, bound or not, terminal ones left out: what tells the
 * scheduler a dispatched job's pods are in the data (scheduler/decide.c). */
#define POD(name, labels, node, gpus, phase, extra)                                                \
    "{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"fedsched-x\",\"labels\":{" labels        \
    "}" extra "},\"spec\":{" node "\"containers\":[{\"name\":\"c\",\"resources\":{\"limits\":"     \
    "{\"nvidia.com/gpu\":\"" gpus "\"}}}]},\"status\":{\"phase\":\"" phase "\"}}"
#define OURS(uid, attempt)                                                                         \
    "\"fedsched.io/job-uid\":\"" uid "\",\"fedsched.io/attempt\":\"" attempt "\""

START_TEST(job_pods_by_attempt)
{
    /* clang-format off */
    static const char body[] =
        "{\"apiVersion\":\"v1\",\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"7\"},"
        "\"items\":["
        POD("u1-a", OURS("u1", "2"), "\"nodeName\":\"h100-a1\",", "4", "Running", "") ","
        POD("u1-b", OURS("u1", "2"), "", "4", "Pending", "") ","
        POD("u1-old", OURS("u1", "1"), "\"nodeName\":\"h100-a1\",", "8", "Succeeded", "") ","
        POD("u2-a", OURS("u2", "0"), "\"nodeName\":\"h100-a1\",", "2", "Running",
            ",\"deletionTimestamp\":\"2026-12-03T10:00:00Z\"") ","
        POD("other", "\"app\":\"x\"", "\"nodeName\":\"h100-a1\",", "1", "Running", "") ","
        POD("u3-a", OURS("u3", "x"), "", "1", "Pending", "")
        "]}";
    /* clang-format on */
    char cont[64];
    struct err e = {0};

    add_page("k8s/nodes-page1.json", true,
             "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6ODgxMjM0NSwic3RhcnQiOiJiMjAwLXgxXHUwMDAwIn0");
    ck_assert_msg(inventory_add_pods(&inv, body, strlen(body), &cfg, sku_defaults(), cont,
                                     sizeof(cont), &e) == 0,
                  "%s %s", e.field, e.msg);
    inventory_finish(&inv);
    ck_assert_uint_eq(inv.n_jobs, 2);
    ck_assert_int_eq(inventory_job_gpus(inv.jobs, inv.n_jobs, "u1", 2), 8);
    ck_assert_int_eq(inv.jobs[0].pods, 2);
    ck_assert_int_eq(inventory_job_gpus(inv.jobs, inv.n_jobs, "u1", 1), 0);
    ck_assert_int_eq(inventory_job_gpus(inv.jobs, inv.n_jobs, "u2", 0), 2);
    ck_assert_int_eq(inventory_job_gpus(inv.jobs, inv.n_jobs, "u3", 0), 0);
    ck_assert_int_eq(inventory_job_gpus(inv.jobs, inv.n_jobs, "u2", 1), 0);
    inventory_reset_pods(&inv);
    ck_assert_uint_eq(inv.n_jobs, 0);
    ck_assert_int_eq(inventory_job_gpus(inv.jobs, inv.n_jobs, "u1", 2), 0);
}
END_TEST

START_TEST(repeated_node_across_pages_counts_once)
{
    add_page("k8s/nodes-page1.json", true,
             "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6ODgxMjM0NSwic3RhcnQiOiJiMjAwLXgxXHUwMDAwIn0");
    add_page("k8s/nodes-page1.json", true,
             "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6ODgxMjM0NSwic3RhcnQiOiJiMjAwLXgxXHUwMDAwIn0");
    ck_assert_int_eq(inv.n_nodes, 10);
    inventory_reset(&inv);
    ck_assert_int_eq(inv.n_nodes, 0);
    ck_assert_ptr_null(inventory_node(&inv, "h100-a1"));
    add_page("k8s/nodes-page2.json", true, "");
    ck_assert_int_eq(inv.n_nodes, 5);
}
END_TEST

/* Found by fuzz_podlist (testdata/fuzz/podlist/regressions/): 2,200 pods of 1M GPUs on one
 * node overflowed the node's int usage (UBSan: signed integer overflow in
 * inventory_add_pods). Usage now stops at K8S_GPUS_MAX, which still reads as full; a single
 * pod claiming more than that is skipped as a bad item. */
START_TEST(gpu_sums_do_not_overflow)
{
    add_page("k8s/nodes-page1.json", true,
             "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6ODgxMjM0NSwic3RhcnQiOiJiMjAwLXgxXHUwMDAwIn0");
    add_page("fuzz/podlist/regressions/gpu-sum-over-int-one-node.json", false, "");
    ck_assert_int_eq(node("h100-a1")->used, K8S_GPUS_MAX);
    ck_assert_int_eq(inv.stats.gpu_pods, 2200);
    add_page("fuzz/podlist/regressions/gpu-sum-over-int-one-pod.json", false, "");
    ck_assert_int_eq(inv.stats.bad_items, 1);
    ck_assert_int_eq(node("h100-a1")->used, K8S_GPUS_MAX);
}
END_TEST

START_TEST(rejects_bodies_that_are_not_lists)
{
    char cont[64];
    struct err e = {0};
    size_t len;
    char *body = k8s_fixture_read("k8s/status-expired.json", &len);

    ck_assert_int_eq(
        inventory_add_nodes(&inv, body, len, &cfg, sku_defaults(), cont, sizeof(cont), &e), -1);
    ck_assert_int_eq(e.code, ERR_MALFORMED);
    ck_assert_str_eq(e.field, "kind");
    free(body);
    body = k8s_fixture_read("k8s/pods-page2.json", &len);
    /* a PodList is not a NodeList */
    ck_assert_int_eq(
        inventory_add_nodes(&inv, body, len, &cfg, sku_defaults(), cont, sizeof(cont), &e), -1);
    /* truncated bodies (a dropped connection mid-transfer) are malformed */
    ck_assert_int_eq(
        inventory_add_pods(&inv, body, len / 2, &cfg, sku_defaults(), cont, sizeof(cont), &e), -1);
    ck_assert_int_eq(e.code, ERR_MALFORMED);
    free(body);
}
END_TEST

START_TEST(bad_items_are_skipped_and_reported)
{
    const char *page =
        "{\"kind\":\"NodeList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"1\"},"
        "\"items\":[{\"metadata\":{\"name\":\"ok\",\"labels\":{\"nvidia.com/gpu.product\":"
        "\"NVIDIA-L4\"}},\"status\":{\"allocatable\":{\"nvidia.com/gpu\":\"4\"},\"conditions\":"
        "[{\"type\":\"Ready\",\"status\":\"True\"}]}},{\"metadata\":{\"name\":\"bad\"},\"status\":"
        "{\"allocatable\":{\"nvidia.com/gpu\":\"four\"}}}]}";
    char cont[64];
    struct err e = {0};

    ck_assert_int_eq(
        inventory_add_nodes(&inv, page, strlen(page), &cfg, sku_defaults(), cont, sizeof(cont), &e),
        0);
    ck_assert_int_eq(inv.n_nodes, 1);
    ck_assert_int_eq(inv.stats.bad_items, 1);
    ck_assert_ptr_nonnull(strstr(inv.last_item_error, "four"));
    ck_assert_ptr_nonnull(strstr(inv.last_item_error, "status.allocatable.nvidia.com/gpu"));
    ck_assert_str_eq(cont, "");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cluster_inventory");
    TCase *tc = tcase_create("fixtures");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, per_node_training_figures);
    tcase_add_test(tc, per_node_serving_figures);
    tcase_add_test(tc, stats_and_unknown_products);
    tcase_add_test(tc, pool_and_sku_aggregates);
    tcase_add_test(tc, unassigned_demand_goes_to_the_largest_serving_sku);
    tcase_add_test(tc, pending_serving_pods_keep_the_largest);
    tcase_add_test(tc, pending_serving_pods_carry_the_nodes_they_may_not_use);
    tcase_add_test(tc, gated_serving_pods_are_announced_demand);
    tcase_add_test(tc, restart_pods_after_expired_continue);
    tcase_add_test(tc, job_pods_by_attempt);
    tcase_add_test(tc, repeated_node_across_pages_counts_once);
    tcase_add_test(tc, gpu_sums_do_not_overflow);
    tcase_add_test(tc, rejects_bodies_that_are_not_lists);
    tcase_add_test(tc, bad_items_are_skipped_and_reported);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
