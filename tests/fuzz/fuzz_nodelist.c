/* fuzz_nodelist.c -- libFuzzer target for a member cluster's NodeList page as the poller
 * receives it (inventory_add_nodes: k8s_json, k8s_node_read, quantities, the node index).
 * The cluster has a serving pool, so both pools and the toleration rules are reachable.
 * Besides memory safety it checks what the capacity model relies on: every kept node has a
 * terminated, non-empty, unique name that the index finds again, GPU figures are not
 * negative, the counters agree with the node array, and adding the same page again after
 * inventory_reset() gives the same nodes (the poller reuses one inventory per cluster). */
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

/* testdata/k8s/cluster.json with a zone that needs no tzdata. */
static const char cluster_json[] =
    "{\"name\":\"fixture-west\",\"apiServer\":\"https://10.20.0.1:6443\","
    "\"region\":\"us-west-2\",\"provider\":\"aws\",\"timezone\":\"UTC\","
    "\"costPerGpuHour\":{\"h100-80gb\":4.1,\"a100-80gb\":2.9,\"l4\":0.8},"
    "\"tolerations\":[{\"key\":\"nvidia.com/gpu\",\"operator\":\"Exists\"},"
    "{\"key\":\"dedicated\",\"value\":\"ml\",\"effect\":\"NoSchedule\"}],"
    "\"servingPool\":{\"nodeSelector\":{\"fedsched.io/pool\":\"serving\"},"
    "\"namespaces\":[\"serving\"],\"reserveGpus\":2,\"lendPolicy\":\"window\","
    "\"lendingWindows\":[{\"days\":[\"Mon\",\"Fri\"],\"start\":\"22:00\",\"end\":\"06:00\"}]},"
    "\"lostTimeoutSeconds\":900}";

static struct cluster_config cfg;

static void fail(const char *what, size_t i)
{
    fprintf(stderr, "fuzz_nodelist: %s (node %zu)\n", what, i);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct err e = {0};

    (void)argc;
    (void)argv;
    if (cluster_config_parse(cluster_json, sizeof(cluster_json) - 1, sku_defaults(), &cfg, &e)) {
        fprintf(stderr, "fuzz_nodelist: bad built-in cluster config: %s: %s\n", e.field, e.msg);
        abort();
    }
    return 0;
}

static void check(const struct inventory *inv, const char *cont, size_t cont_size)
{
    if (!memchr(cont, '\0', cont_size))
        fail("continue token not terminated", 0);
    if (inv->n_nodes != (size_t)inv->stats.gpu_nodes || inv->stats.gpu_nodes > inv->stats.nodes)
        fail("node counters disagree with the node array", inv->n_nodes);
    if (inv->n_unknown > INVENTORY_UNKNOWN_MAX || !memchr(inv->last_item_error, '\0', 160))
        fail("unknown-product table or item error out of bounds", 0);
    for (size_t i = 0; i < inv->n_nodes; i++) {
        const struct snapshot_node *n = &inv->nodes[i];

        if (!memchr(n->name, '\0', sizeof(n->name)) || !n->name[0])
            fail("node name empty or not terminated", i);
        if (inventory_node(inv, n->name) != n)
            fail("the index does not find a node by its name", i);
        if (n->allocatable < 0 || n->used != 0 || n->borrowed != 0)
            fail("negative allocatable, or usage before any pod was added", i);
        if (n->sku >= SKU_MAX || n->sku < -1)
            fail("SKU index out of range", i);
        if (n->pool != SNAPSHOT_POOL_TRAINING && n->pool != SNAPSHOT_POOL_SERVING)
            fail("unknown pool", i);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    struct inventory inv;
    struct snapshot_node *first = NULL;
    char cont[512], cont2[512];
    struct err e = {0};
    size_t n_first = 0;
    int rc, rc2;

    inventory_init(&inv);
    rc = inventory_add_nodes(&inv, body, size, &cfg, sku_defaults(), cont, sizeof(cont), &e);
    if (rc != 0) {
        if (e.code != ERR_MALFORMED && e.code != ERR_TOO_LARGE)
            fail("failure with an unexpected error code", 0);
    } else {
        check(&inv, cont, sizeof(cont));
        n_first = inv.n_nodes;
        if (n_first) {
            first = malloc(n_first * sizeof(*first));
            memcpy(first, inv.nodes, n_first * sizeof(*first));
        }
    }
    inventory_reset(&inv);
    rc2 = inventory_add_nodes(&inv, body, size, &cfg, sku_defaults(), cont2, sizeof(cont2), NULL);
    if (rc2 != rc)
        fail("the same page parses differently after inventory_reset()", 0);
    if (rc == 0) {
        check(&inv, cont2, sizeof(cont2));
        if (inv.n_nodes != n_first || strcmp(cont, cont2) != 0 ||
            (n_first && memcmp(first, inv.nodes, n_first * sizeof(*first)) != 0))
            fail("the same page gives other nodes after inventory_reset()", 0);
        inventory_finish(&inv);
    }
    free(first);
    inventory_free(&inv);
    return 0;
}
