/* fuzz_podlist.c -- libFuzzer target for a member cluster's PodList page as the poller
 * receives it (inventory_add_pods: k8s_json, k8s_pod_read with requests/limits, init
 * containers, sidecars and overhead, then usage, borrowing and serving demand), on top of a
 * fixed NodeList with training and serving nodes named as in testdata/k8s/. Besides memory
 * safety it checks that usage, borrowing and demand never go negative, borrowing stays
 * within usage, and that forgetting the pods (inventory_reset_pods(), what the poller does
 * after 410 Expired) and adding the page again gives the same figures; and that the nodes
 * each kept pending serving pod may not use (its nodeSelector, required node affinity and
 * tolerations against the serving nodes' labels and taints) are marked on serving nodes
 * only, with the bits of kept pods only. */
#include "base/err.h"
#include "base/sku.h"
#include "cluster/cluster_config.h"
#include "cluster/inventory.h"
#include "policy/snapshot.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char cluster_json[] =
    "{\"name\":\"fixture-west\",\"apiServer\":\"https://10.20.0.1:6443\",\"timezone\":\"UTC\","
    "\"servingPool\":{\"nodeSelector\":{\"fedsched.io/pool\":\"serving\"},"
    "\"namespaces\":[\"serving\"],\"reserveGpus\":2,\"lendPolicy\":\"idle\",\"idleMinutes\":30}}";

#define NODE_T(name, product, pool, gpus, taints)                                                  \
    "{\"metadata\":{\"name\":\"" name "\",\"labels\":{\"nvidia.com/gpu.product\":\"" product       \
    "\",\"kubernetes.io/hostname\":\"" name "\",\"fedsched.io/pool\":\"" pool                      \
    "\"}},\"spec\":{\"taints\":[" taints                                                           \
    "]},\"status\":{\"allocatable\":{\"nvidia.com/gpu\":\"" gpus                                   \
    "\"},\"capacity\":{\"nvidia.com/gpu\":\"" gpus "\"},\"conditions\":[{\"type\":\"Ready\","      \
    "\"status\":\"True\"}]}}"
#define NODE(name, product, pool, gpus) NODE_T(name, product, pool, gpus, "")

static const char nodes_json[] =
    "{\"kind\":\"NodeList\",\"apiVersion\":\"v1\",\"metadata\":{},\"items\":[" NODE(
        "h100-a1", "NVIDIA-H100-80GB-HBM3", "training",
        "8") "," NODE("h100-a2", "NVIDIA-H100-80GB-HBM3", "training",
                      "8") "," NODE("h100-a3", "NVIDIA-H100-80GB-HBM3", "training",
                                    "8") "," NODE("h100-a7", "NVIDIA-H100-80GB-HBM3", "training",
                                                  "8") "," NODE("a100-b1", "NVIDIA-A100-SXM4-80GB",
                                                                "training",
                                                                "8") "," NODE("l4-s1", "NVIDIA-L4",
                                                                              "serving",
                                                                              "4") "," NODE_T("l4-"
                                                                                              "s2",
                                                                                              "NVID"
                                                                                              "IA-"
                                                                                              "L4",
                                                                                              "serv"
                                                                                              "ing",
                                                                                              "4",
                                                                                              "{\"k"
                                                                                              "ey\""
                                                                                              ":\"d"
                                                                                              "edic"
                                                                                              "ated"
                                                                                              "\","
                                                                                              "\"va"
                                                                                              "lue"
                                                                                              "\":"
                                                                                              "\"ch"
                                                                                              "at\""
                                                                                              ",\"e"
                                                                                              "ffec"
                                                                                              "t\":"
                                                                                              "\"No"
                                                                                              "Sche"
                                                                                              "dule"
                                                                                              "\"}") "]}";

static struct cluster_config cfg;

static void fail(const char *what, size_t i)
{
    fprintf(stderr, "fuzz_podlist: %s (%zu)\n", what, i);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct err e = {0};

    (void)argc;
    (void)argv;
    if (cluster_config_parse(cluster_json, sizeof(cluster_json) - 1, sku_defaults(), &cfg, &e)) {
        fprintf(stderr, "fuzz_podlist: bad built-in cluster config: %s: %s\n", e.field, e.msg);
        abort();
    }
    return 0;
}

static void add_nodes(struct inventory *inv)
{
    char cont[64];
    struct err e = {0};

    if (inventory_add_nodes(inv, nodes_json, sizeof(nodes_json) - 1, &cfg, sku_defaults(), cont,
                            sizeof(cont), &e) != 0 ||
        inv->n_nodes != 7) {
        fprintf(stderr, "fuzz_podlist: bad built-in node list: %s\n", e.msg);
        abort();
    }
}

static void check(const struct inventory *inv)
{
    for (size_t i = 0; i < inv->n_nodes; i++) {
        const struct snapshot_node *n = &inv->nodes[i];

        if (n->used < 0 || n->borrowed < 0 || n->borrowed > n->used)
            fail("node usage negative or borrowing above usage", i);
        if (n->pool == SNAPSHOT_POOL_TRAINING && n->borrowed != 0)
            fail("borrowed GPUs on a training node", i);
    }
    for (size_t k = 0; k < SNAPSHOT_SKU_MAX; k++)
        if (inv->pending_serving[k] < 0)
            fail("negative serving demand", k);
    if (inv->pending_unassigned < 0 || inv->stats.gpu_pods > inv->stats.pods ||
        inv->stats.pending_serving_pods > inv->stats.gpu_pods)
        fail("pod counters inconsistent", 0);
}

static void check_barred(const struct inventory *inv)
{
    const struct sku_catalogue *cat = sku_defaults();
    struct snapshot *s = NULL;
    unsigned kept;

    if (snapshot_new(1, inv->n_nodes, cat->n, &s, NULL) != 0)
        fail("snapshot_new", 0);
    for (size_t k = 0; k < cat->n; k++)
        snprintf(s->sku_names[k], sizeof(s->sku_names[k]), "%s", cat->skus[k].name);
    inventory_copy(inv, 2, s, 0, 0);
    kept = (1u << s->clusters[0].serving.n_pending) - 1;
    for (size_t i = 0; i < s->n_nodes; i++)
        if ((s->nodes[i].pool != SNAPSHOT_POOL_SERVING && s->nodes[i].pending_barred) ||
            (s->nodes[i].pending_barred & ~kept))
            fail("a pod barred from a training node, or a bit of no pending pod", i);
    snapshot_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    struct inventory inv;
    struct snapshot_node first[7];
    int pending[SNAPSHOT_SKU_MAX];
    char cont[512];
    struct err e = {0};
    int rc, unassigned;

    inventory_init(&inv);
    add_nodes(&inv);
    rc = inventory_add_pods(&inv, body, size, &cfg, sku_defaults(), cont, sizeof(cont), &e);
    if (rc != 0) {
        if (e.code != ERR_MALFORMED && e.code != ERR_TOO_LARGE)
            fail("failure with an unexpected error code", 0);
        inventory_free(&inv);
        return 0;
    }
    if (!memchr(cont, '\0', sizeof(cont)))
        fail("continue token not terminated", 0);
    check(&inv);
    memcpy(first, inv.nodes, sizeof(first));
    memcpy(pending, inv.pending_serving, sizeof(pending));
    unassigned = inv.pending_unassigned;

    inventory_reset_pods(&inv);
    if (inventory_add_pods(&inv, body, size, &cfg, sku_defaults(), cont, sizeof(cont), NULL) != 0)
        fail("the same page fails after inventory_reset_pods()", 0);
    if (memcmp(first, inv.nodes, sizeof(first)) != 0 ||
        memcmp(pending, inv.pending_serving, sizeof(pending)) != 0 ||
        unassigned != inv.pending_unassigned)
        fail("the same page gives other figures after inventory_reset_pods()", 0);
    inventory_finish(&inv);
    check(&inv);
    check_barred(&inv);
    inventory_free(&inv);
    return 0;
}
