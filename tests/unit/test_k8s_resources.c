/* test_k8s_resources.c -- per-node CPU and memory (issue 15): the nodes' allocatable in every
 * quantity form, and the pods' requests counted as the kube-scheduler counts them (requests
 * else limits, init containers, sidecars before and after them, spec.overhead), added up per
 * node from real-shaped NodeList/PodList pages (testdata/k8s/resources-*.json, made by
 * make-resource-fixtures.py), and bad quantities refused naming the field. */
#include "base/err.h"
#include "base/sku.h"
#include "cluster/cluster_config.h"
#include "cluster/inventory.h"
#include "cluster/k8s.h"
#include "cluster/k8s_json.h"
#include "policy/snapshot.h"
#include "tests/support/k8s_fixture.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define MIB (INT64_C(1) << 20)

static struct cluster_config cfg;
static struct inventory inv;
static struct k8s_json doc;

static void setup(void)
{
    cluster_config_init(&cfg);
    inventory_init(&inv);
    k8s_json_init(&doc);
}

static void teardown(void)
{
    inventory_free(&inv);
    k8s_json_free(&doc);
}

static void add_page(const char *file, bool nodes)
{
    size_t len;
    char *body = k8s_fixture_read(file, &len);
    char cont[256];
    struct err e = {0};
    int rc;

    if (nodes)
        rc = inventory_add_nodes(&inv, body, len, &cfg, sku_defaults(), cont, sizeof(cont), &e);
    else
        rc = inventory_add_pods(&inv, body, len, &cfg, sku_defaults(), cont, sizeof(cont), &e);
    ck_assert_msg(rc == 0, "%s: %s %s", file, e.field, e.msg);
    ck_assert_int_eq(inv.stats.bad_items, 0);
    free(body);
}

static const struct snapshot_node *node(const char *name)
{
    const struct snapshot_node *n = inventory_node(&inv, name);

    ck_assert_msg(n != NULL, "node %s missing", name);
    return n;
}

START_TEST(node_allocatable_in_every_quantity_form)
{
    static const struct {
        const char *name;
        int64_t cpu_m, mem_mib;
    } want[] = {
        {"gpu-h100-a1", 191450, 2048722}, /* "191450m", "2097892156Ki" (2048722.8 MiB) */
        {"gpu-a100-b1", 96000, 524288},   /* "96", "512Gi" */
        {"gpu-l4-c1", 1000000, 953674},   /* "1e3", "1e12" (953674.3 MiB) */
        {"gpu-t4-d1", 2500, 1031928},     /* "2.5", "1056694686Ki" (1031928.4 MiB) */
        {"gpu-v100-e1", 0, 0},            /* neither given: unknown */
    };

    add_page("k8s/resources-nodes.json", true);
    ck_assert_int_eq(inv.n_nodes, 5); /* cpu-f1 has no GPUs and is not kept */
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct snapshot_node *n = node(want[i].name);

        ck_assert_msg(n->cpu_alloc_m == want[i].cpu_m, "%s cpu %lld", want[i].name,
                      (long long)n->cpu_alloc_m);
        ck_assert_msg(n->mem_alloc_mib == want[i].mem_mib, "%s memory %lld", want[i].name,
                      (long long)n->mem_alloc_mib);
    }
}
END_TEST

START_TEST(pod_requests_as_the_scheduler_counts_them)
{
    static const struct {
        const char *name;
        int64_t cpu_m, mem_b;
        int gpus;
    } want[] = {
        {"plain-7x2kq", 2000, 1536 * MIB, 1},        /* app containers summed */
        {"limitonly-p4d8s", 2100, 4352 * MIB, 2},    /* limits stand for missing requests */
        {"initbig-h8v2c", 8000, 16384 * MIB, 1},     /* init 8 > app 4 + sidecar 1 */
        {"sidecarfirst-q9w4e", 9000, 9216 * MIB, 1}, /* sidecar 1 + init 8 > 5; 8+1 Gi > 3 */
        {"kata-m3n5b", 1250, 1144 * MIB, 1},         /* + spec.overhead */
        {"leaving-z2x7c", 3000, 3072 * MIB, 1},      {"agent-k7f2m", 100, 200 * MIB, 0},
        {"done-r5t6y", 50000, 512000 * MIB, 1},      {"waiting-b8n1m", 50000, 512000 * MIB, 1},
        {"decimal-j4k6l", 2500, 1000000000, 1}, /* "2.5", "1e9" */
    };
    size_t len;
    char *body = k8s_fixture_read("k8s/resources-pods.json", &len);
    int items, n = 0;

    ck_assert_int_eq(k8s_json_parse(&doc, body, len, K8S_JSON_MAX_DEPTH, NULL), 0);
    items = k8s_json_get(&doc, 0, "items");
    for (int it = k8s_json_child(&doc, items); it >= 0; it = k8s_json_next(&doc, items, it), n++) {
        struct k8s_pod p;
        struct err e = {0};

        ck_assert_msg(k8s_pod_read(&doc, it, &p, &e) == 0, "%s %s", e.field, e.msg);
        ck_assert_str_eq(p.name, want[n].name);
        ck_assert_msg(p.cpu_m == want[n].cpu_m, "%s cpu %lld", p.name, (long long)p.cpu_m);
        ck_assert_msg(p.mem_b == want[n].mem_b, "%s memory %lld", p.name, (long long)p.mem_b);
        ck_assert_msg(p.gpus == want[n].gpus, "%s gpus %d", p.name, p.gpus);
    }
    ck_assert_int_eq(n, (int)(sizeof(want) / sizeof(want[0])));
    free(body);
}
END_TEST

START_TEST(node_usage_from_bound_non_terminal_pods)
{
    struct snapshot *s = NULL;
    const struct snapshot_node *h;
    struct err e = {0};

    add_page("k8s/resources-nodes.json", true);
    add_page("k8s/resources-pods.json", false);
    inventory_finish(&inv);
    /* plain + limitonly + initbig + sidecarfirst + kata + leaving (terminating) + agent (no
     * GPUs); not done (Succeeded) nor waiting (unbound). */
    h = node("gpu-h100-a1");
    ck_assert_int_eq(h->cpu_used_m, 2000 + 2100 + 8000 + 9000 + 1250 + 3000 + 100);
    ck_assert_int_eq(h->mem_used_mib, 1536 + 4352 + 16384 + 9216 + 1144 + 3072 + 200);
    ck_assert_int_eq(h->used, 1 + 2 + 1 + 1 + 1 + 1);
    /* 1e9 bytes are 953.67 MiB: rounded up, so free memory is never overstated */
    ck_assert_int_eq(node("gpu-a100-b1")->cpu_used_m, 2500);
    ck_assert_int_eq(node("gpu-a100-b1")->mem_used_mib, 954);
    ck_assert_int_eq(node("gpu-l4-c1")->cpu_used_m, 0);
    ck_assert_int_eq(node("gpu-l4-c1")->mem_used_mib, 0);
    ck_assert_int_eq(inv.stats.terminal_skipped, 1);
    ck_assert_int_eq(inv.stats.pods_unknown_node, 0);

    /* The figures reach the snapshot the policy reads. */
    ck_assert_int_eq(snapshot_new(1, inv.n_nodes, 0, &s, &e), 0);
    inventory_copy(&inv, 0, s, 0, 0);
    for (size_t i = 0; i < s->n_nodes; i++) {
        if (strcmp(s->nodes[i].name, "gpu-h100-a1") != 0)
            continue;
        ck_assert_int_eq(s->nodes[i].cpu_alloc_m, 191450);
        ck_assert_int_eq(s->nodes[i].cpu_used_m, 25450);
        ck_assert_int_eq(s->nodes[i].mem_alloc_mib, 2048722);
        ck_assert_int_eq(s->nodes[i].mem_used_mib, 35904);
    }

    /* A pod list that starts again forgets the usage, not the allocatable. */
    inventory_reset_pods(&inv);
    h = node("gpu-h100-a1");
    ck_assert_int_eq(h->cpu_used_m, 0);
    ck_assert_int_eq(h->mem_used_mib, 0);
    ck_assert_int_eq(h->cpu_alloc_m, 191450);
    add_page("k8s/resources-pods.json", false);
    ck_assert_int_eq(node("gpu-h100-a1")->mem_used_mib, 35904);
    snapshot_free(&s);
}
END_TEST

/* Reads one pod or node from json and expects it refused, naming field and value. */
static void refused(bool is_node, const char *json, const char *field, const char *value)
{
    struct k8s_pod p;
    struct k8s_node n;
    struct err e = {0};
    int rc;

    ck_assert_int_eq(k8s_json_parse(&doc, json, strlen(json), 0, NULL), 0);
    rc = is_node ? k8s_node_read(&doc, 0, &cfg, sku_defaults(), &n, &e)
                 : k8s_pod_read(&doc, 0, &p, &e);
    ck_assert_msg(rc == -1, "%s accepted", json);
    ck_assert_int_eq(e.code, ERR_MALFORMED);
    ck_assert_str_eq(e.field, field);
    ck_assert_msg(strstr(e.msg, value) != NULL, "message \"%s\" lacks %s", e.msg, value);
}

#define POD(spec) "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\"},\"spec\":" spec "}"
#define NODE(alloc)                                                                                \
    "{\"metadata\":{\"name\":\"n\",\"labels\":{\"nvidia.com/gpu.product\":\"NVIDIA-L4\"}},"        \
    "\"status\":{\"allocatable\":" alloc "}}"

START_TEST(bad_quantities_name_the_field)
{
    refused(false,
            POD("{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\",\"resources\":{\"requests\":"
                "{\"cpu\":\"two\"}}}]}"),
            "spec.containers[1].resources.requests.cpu", "\"two\"");
    refused(false,
            POD("{\"initContainers\":[{\"name\":\"i\",\"resources\":{\"limits\":{\"memory\":"
                "\"-1Gi\"}}}],\"containers\":[]}"),
            "spec.initContainers[0].resources.limits.memory", "negative");
    refused(false, POD("{\"overhead\":{\"memory\":\"12Qi\"},\"containers\":[]}"),
            "spec.overhead.memory", "\"12Qi\"");
    /* a GPU count is a whole number, CPU and memory are quantity strings */
    refused(false,
            POD("{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"memory\":"
                "true}}}]}"),
            "spec.containers[0].resources.requests.memory", "quantity string");
    refused(false,
            POD("{\"containers\":[{\"name\":\"a\",\"resources\":{\"limits\":{\"cpu\":"
                "\"1e30\"}}}]}"),
            "spec.containers[0].resources.limits.cpu", "\"1e30\"");
    refused(true, NODE("{\"nvidia.com/gpu\":\"4\",\"cpu\":\"95450q\"}"), "status.allocatable.cpu",
            "\"95450q\"");
    refused(true, NODE("{\"nvidia.com/gpu\":\"4\",\"cpu\":\"8\",\"memory\":\"lots\"}"),
            "status.allocatable.memory", "\"lots\"");
}
END_TEST

/* Many containers of the most CPU believed: the sum stops instead of wrapping, and the pod
 * is refused as asking for more than is believed. */
START_TEST(totals_are_bounded)
{
    char body[8192];
    size_t off = 0;
    struct k8s_pod p;
    struct err e = {0};

    off += (size_t)snprintf(body, sizeof(body),
                            "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[");
    for (int i = 0; i < 60; i++)
        off += (size_t)snprintf(body + off, sizeof(body) - off,
                                "%s{\"name\":\"c%d\",\"resources\":{\"requests\":{\"cpu\":"
                                "\"1G\",\"memory\":\"8Pi\"}}}",
                                i ? "," : "", i);
    snprintf(body + off, sizeof(body) - off, "]}}");
    ck_assert_int_eq(k8s_json_parse(&doc, body, strlen(body), 0, NULL), 0);
    ck_assert_int_eq(k8s_pod_read(&doc, 0, &p, &e), -1);
    ck_assert_str_eq(e.field, "spec.containers[].resources");
    ck_assert_ptr_nonnull(strstr(e.msg, "cpu"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("k8s_resources");
    TCase *tc = tcase_create("resources");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, node_allocatable_in_every_quantity_form);
    tcase_add_test(tc, pod_requests_as_the_scheduler_counts_them);
    tcase_add_test(tc, node_usage_from_bound_non_terminal_pods);
    tcase_add_test(tc, bad_quantities_name_the_field);
    tcase_add_test(tc, totals_are_bounded);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
