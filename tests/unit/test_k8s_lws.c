/* test_k8s_lws.c -- the LeaderWorkerSet reader (k8s_lws_read) on small hand-made objects in
 * the shape of the CRD (kubernetes-sigs/lws v0.10.0, testdata/schemas/): fields, defaults,
 * leader template absent or present, bad values named with field and value; HPAs that
 * target a LeaderWorkerSet; and the announced GPUs a group adds to the inventory
 * (inventory_add_announced_lws), by SKU. */
#include "base/err.h"
#include "base/sku.h"
#include "cluster/cluster_config.h"
#include "cluster/inventory.h"
#include "cluster/k8s.h"
#include "cluster/k8s_json.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static struct k8s_json doc;

static void setup(void)
{
    k8s_json_init(&doc);
}

static void teardown(void)
{
    k8s_json_free(&doc);
}

static struct k8s_lws lws(const char *json)
{
    struct k8s_lws l;
    struct err e = {0};

    ck_assert_int_eq(k8s_json_parse(&doc, json, strlen(json), 0, NULL), 0);
    ck_assert_msg(k8s_lws_read(&doc, 0, &l, &e) == 0, "%s", e.msg);
    return l;
}

/* Reads json, which must be refused; returns the error. */
static struct err lws_bad(const char *json)
{
    struct k8s_lws l;
    struct err e = {0};

    ck_assert_int_eq(k8s_json_parse(&doc, json, strlen(json), 0, NULL), 0);
    ck_assert_int_eq(k8s_lws_read(&doc, 0, &l, &e), -1);
    ck_assert_int_eq(e.code, ERR_MALFORMED);
    return e;
}

#define META    "\"metadata\":{\"name\":\"llm\",\"namespace\":\"serving\"}"
#define GPU(n)  "{\"name\":\"c\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"" n "\"}}}"
#define TMPL(c) "{\"spec\":{\"containers\":[" c "]}}"
#define H100_TMPL(c)                                                                               \
    "{\"spec\":{\"nodeSelector\":{\"nvidia.com/gpu.product\":\"NVIDIA-H100-80GB-HBM3\"},"          \
    "\"containers\":[" c "]}}"
#define LWS(spec) "{" META ",\"spec\":" spec "}"

START_TEST(defaults_of_a_minimal_set)
{
    /* Only the required workerTemplate: one group of one pod, its leader the worker's copy. */
    struct k8s_lws l =
        lws(LWS("{\"leaderWorkerTemplate\":{\"workerTemplate\":" TMPL(GPU("8")) "}}"));

    ck_assert_str_eq(l.group.name, "llm");
    ck_assert_str_eq(l.group.ns, "serving");
    ck_assert_int_eq(l.group.spec_replicas, 1);
    ck_assert_int_eq(l.group.status_replicas, 0);
    ck_assert_int_eq(l.ready_replicas, 0);
    ck_assert_int_eq(l.size, 1);
    ck_assert(!l.leader_template);
    ck_assert_int_eq(l.worker_gpus, 8);
    ck_assert_int_eq(l.leader_gpus, 8);
    ck_assert_int_eq(l.group.gpus_per_replica, 8);
}
END_TEST

START_TEST(group_of_leader_and_workers)
{
    /* 3 groups of 4: a leader without GPUs and 3 workers of 8 H100s; 2 groups created, one
     * ready. */
    struct k8s_lws l =
        lws(LWS("{\"replicas\":3,\"leaderWorkerTemplate\":{\"size\":4,\"leaderTemplate\":" TMPL(
            "{\"name\":\"l\"}") ",\"workerTemplate\":" H100_TMPL(GPU("8")) "}}") "");
    struct k8s_lws st;

    ck_assert_int_eq(l.group.spec_replicas, 3);
    ck_assert_int_eq(l.size, 4);
    ck_assert(l.leader_template);
    ck_assert_int_eq(l.leader_gpus, 0);
    ck_assert_int_eq(l.worker_gpus, 8);
    ck_assert_int_eq(l.group.gpus_per_replica, 24);
    ck_assert_str_eq(l.group.product, "NVIDIA-H100-80GB-HBM3");
    ck_assert_str_eq(l.leader_product, "");
    st = lws("{" META ",\"spec\":{\"replicas\":3,\"leaderWorkerTemplate\":{\"size\":4,"
             "\"workerTemplate\":" TMPL(GPU(
                 "8")) "}},\"status\":{\"replicas\":2,"
                       "\"readyReplicas\":1,\"updatedReplicas\":2,\"hpaPodSelector\":\"x=y\"}}");
    ck_assert_int_eq(st.group.status_replicas, 2);
    ck_assert_int_eq(st.ready_replicas, 1);
    /* No leader template: the leader is a worker's copy, so the group is 4 x 8. */
    ck_assert(!st.leader_template);
    ck_assert_int_eq(st.group.gpus_per_replica, 32);
}
END_TEST

START_TEST(leader_template_counts_with_the_pod_rules)
{
    /* The leader's effective request: max(app 1, init 2) = 2 (requests win over limits);
     * a worker's 4 from requests. 2 + 2 x 4. */
    struct k8s_lws l = lws(LWS(
        "{\"leaderWorkerTemplate\":{\"size\":3,\"leaderTemplate\":{\"spec\":{\"containers\":["
        "{\"name\":\"a\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"1\"}}}],"
        "\"initContainers\":[{\"name\":\"i\",\"resources\":{\"limits\":{\"nvidia.com/gpu\":"
        "\"2\"}}}],\"nodeSelector\":{\"nvidia.com/gpu.product\":\"NVIDIA-L4\"}}},"
        "\"workerTemplate\":{\"spec\":{\"containers\":[{\"name\":\"w\",\"resources\":"
        "{\"requests\":{\"nvidia.com/gpu\":\"4\"},\"limits\":{\"nvidia.com/gpu\":\"4\"}}}]}}}}"));

    ck_assert_int_eq(l.leader_gpus, 2);
    ck_assert_int_eq(l.worker_gpus, 4);
    ck_assert_int_eq(l.group.gpus_per_replica, 10);
    ck_assert_str_eq(l.leader_product, "NVIDIA-L4");
    ck_assert_str_eq(l.group.product, "");
    /* A null leaderTemplate is an absent one. */
    l = lws(LWS("{\"leaderWorkerTemplate\":{\"size\":2,\"leaderTemplate\":null,"
                "\"workerTemplate\":" TMPL(GPU("2")) "}}"));
    ck_assert(!l.leader_template);
    ck_assert_int_eq(l.group.gpus_per_replica, 4);
}
END_TEST

START_TEST(bad_values_are_named)
{
    struct err e;

    e = lws_bad(LWS("{\"leaderWorkerTemplate\":{\"workerTemplate\":" TMPL(GPU("8x")) "}}"));
    ck_assert_str_eq(e.field, "spec.leaderWorkerTemplate.workerTemplate.spec.containers[0]."
                              "resources.limits.nvidia.com/gpu");
    ck_assert_msg(strstr(e.msg, "spec.leaderWorkerTemplate.workerTemplate.spec.containers[0]") &&
                      strstr(e.msg, "\"8x\""),
                  "%s", e.msg);
    e = lws_bad(LWS("{\"leaderWorkerTemplate\":{\"leaderTemplate\":" TMPL(
        GPU("-1")) ","
                   "\"workerTemplate\":" TMPL(GPU("8")) "}}"));
    ck_assert_str_eq(e.field, "spec.leaderWorkerTemplate.leaderTemplate.spec.containers[0]."
                              "resources.limits.nvidia.com/gpu");
    ck_assert_msg(strstr(e.msg, "\"-1\"") && strstr(e.msg, "negative"), "%s", e.msg);
    e = lws_bad(
        LWS("{\"leaderWorkerTemplate\":{\"size\":0,\"workerTemplate\":" TMPL(GPU("8")) "}}"));
    ck_assert_str_eq(e.field, "spec.leaderWorkerTemplate.size");
    ck_assert_msg(strstr(e.msg, "size 0"), "%s", e.msg);
    e = lws_bad(
        LWS("{\"leaderWorkerTemplate\":{\"size\":\"4\",\"workerTemplate\":" TMPL(GPU("8")) "}}"));
    ck_assert_str_eq(e.field, "spec.leaderWorkerTemplate.size");
    ck_assert_msg(strstr(e.msg, "\"4\""), "%s", e.msg);
    e = lws_bad(
        LWS("{\"replicas\":-2,\"leaderWorkerTemplate\":{\"workerTemplate\":" TMPL(GPU("8")) "}}"));
    ck_assert_str_eq(e.field, "spec.replicas");
    ck_assert_msg(strstr(e.msg, "-2"), "%s", e.msg);
    e = lws_bad("{" META ",\"spec\":{\"leaderWorkerTemplate\":{\"workerTemplate\":" TMPL(
        GPU("1")) "}},\"status\":{\"replicas\":1.5}}");
    ck_assert_str_eq(e.field, "status.replicas");
    ck_assert_msg(strstr(e.msg, "1.5"), "%s", e.msg);
    /* Both templates' holders are required by the CRD. */
    e = lws_bad(LWS("{\"leaderWorkerTemplate\":{\"size\":2}}"));
    ck_assert_str_eq(e.field, "spec.leaderWorkerTemplate.workerTemplate");
    e = lws_bad(LWS("{\"replicas\":1}"));
    ck_assert_str_eq(e.field, "spec.leaderWorkerTemplate");
    e = lws_bad("{\"metadata\":{\"name\":\"llm\"},\"spec\":{\"leaderWorkerTemplate\":"
                "{\"workerTemplate\":" TMPL(GPU("1")) "}}}");
    ck_assert_str_eq(e.field, "metadata.namespace");
    /* A group beyond K8S_GPUS_MAX GPUs is not believed (and cannot wrap an int). */
    e = lws_bad(LWS("{\"leaderWorkerTemplate\":{\"size\":2000000000,\"workerTemplate\":" TMPL(
        GPU("1000")) "}}"));
    ck_assert_str_eq(e.field, "spec.leaderWorkerTemplate.size");
}
END_TEST

static struct k8s_hpa hpa(const char *api_version, const char *kind)
{
    char json[512];
    struct k8s_hpa h;
    struct err e = {0};

    snprintf(json, sizeof(json),
             "{\"metadata\":{\"name\":\"h\",\"namespace\":\"serving\"},\"spec\":{"
             "\"scaleTargetRef\":{\"apiVersion\":\"%s\",\"kind\":\"%s\",\"name\":\"llm\"}},"
             "\"status\":{\"desiredReplicas\":3,\"currentReplicas\":1}}",
             api_version, kind);
    ck_assert_int_eq(k8s_json_parse(&doc, json, strlen(json), 0, NULL), 0);
    ck_assert_msg(k8s_hpa_read(&doc, 0, &h, &e) == 0, "%s", e.msg);
    return h;
}

START_TEST(hpa_target_kinds)
{
    struct k8s_hpa h = hpa("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet");

    ck_assert_int_eq(h.target_kind, K8S_TARGET_LEADERWORKERSET);
    ck_assert_str_eq(h.target, "llm");
    ck_assert_int_eq(h.desired, 3);
    ck_assert_int_eq(hpa("apps/v1", "Deployment").target_kind, K8S_TARGET_DEPLOYMENT);
    ck_assert_int_eq(hpa("apps/v1", "StatefulSet").target_kind, K8S_TARGET_OTHER);
    ck_assert_int_eq(hpa("leaderworkerset.x-k8s.io/v1", "Deployment").target_kind,
                     K8S_TARGET_OTHER);
    ck_assert_int_eq(hpa("apps/v1", "LeaderWorkerSet").target_kind, K8S_TARGET_OTHER);
}
END_TEST

static struct cluster_config cfg;
static struct inventory inv;

static void inv_setup(void)
{
    setup();
    cluster_config_init(&cfg);
    cfg.serving.enabled = true;
    snprintf(cfg.serving.namespaces[0], sizeof(cfg.serving.namespaces[0]), "serving");
    cfg.serving.n_namespaces = 1;
    inventory_init(&inv);
}

static void inv_teardown(void)
{
    inventory_free(&inv);
    teardown();
}

static int announced(const char *product)
{
    return inv.announced_serving[sku_match_product(sku_defaults(), product, 0)];
}

START_TEST(announced_groups_by_sku)
{
    /* 1 group of 3 wanted, an HPA wants 3: 2 missing groups x (0 + 3 x 8) on H100. */
    struct k8s_lws l = lws(LWS("{\"leaderWorkerTemplate\":{\"size\":4,\"leaderTemplate\":" TMPL(
        "{\"name\":\"l\"}") ",\"workerTemplate\":" H100_TMPL(GPU("8")) "}}"));

    l.group.status_replicas = 1;
    inventory_add_announced_lws(&inv, &l, 3, &cfg, sku_defaults());
    ck_assert_int_eq(announced("NVIDIA-H100-80GB-HBM3"), 48);
    ck_assert_int_eq(inv.stats.announcing_workloads, 1);
    /* No HPA (-1): spec.replicas 1 against 1 created: nothing. */
    inventory_add_announced_lws(&inv, &l, -1, &cfg, sku_defaults());
    ck_assert_int_eq(announced("NVIDIA-H100-80GB-HBM3"), 48);
    /* Not a serving namespace: nothing. */
    snprintf(l.group.ns, sizeof(l.group.ns), "research");
    inventory_add_announced_lws(&inv, &l, 3, &cfg, sku_defaults());
    ck_assert_int_eq(announced("NVIDIA-H100-80GB-HBM3"), 48);
    ck_assert_int_eq(inv.announced_unassigned, 0);
}
END_TEST

START_TEST(leader_on_another_product_is_demand_there)
{
    /* Leader of 1 L4, 2 workers of 8 H100s; spec.replicas 2, none created. */
    struct k8s_lws l =
        lws(LWS("{\"replicas\":2,\"leaderWorkerTemplate\":{\"size\":3,\"leaderTemplate\":{"
                "\"spec\":{\"nodeSelector\":{\"nvidia.com/gpu.product\":\"NVIDIA-L4\"},"
                "\"containers\":[" GPU("1") "]}},\"workerTemplate\":" H100_TMPL(GPU("8")) "}}"));

    inventory_add_announced_lws(&inv, &l, -1, &cfg, sku_defaults());
    ck_assert_int_eq(announced("NVIDIA-H100-80GB-HBM3"), 32);
    ck_assert_int_eq(announced("NVIDIA-L4"), 2);
    /* A leader without a product selector goes with the workers. */
    l = lws(LWS("{\"replicas\":2,\"leaderWorkerTemplate\":{\"size\":3,\"leaderTemplate\":" TMPL(
        GPU("1")) ",\"workerTemplate\":" H100_TMPL(GPU("8")) "}}"));
    inventory_add_announced_lws(&inv, &l, -1, &cfg, sku_defaults());
    ck_assert_int_eq(announced("NVIDIA-H100-80GB-HBM3"), 32 + 34);
    ck_assert_int_eq(announced("NVIDIA-L4"), 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("k8s_lws");
    TCase *tc = tcase_create("read"), *ti = tcase_create("inventory");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, defaults_of_a_minimal_set);
    tcase_add_test(tc, group_of_leader_and_workers);
    tcase_add_test(tc, leader_template_counts_with_the_pod_rules);
    tcase_add_test(tc, bad_values_are_named);
    tcase_add_test(tc, hpa_target_kinds);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(ti, inv_setup, inv_teardown);
    tcase_add_test(ti, announced_groups_by_sku);
    tcase_add_test(ti, leader_on_another_product_is_demand_there);
    suite_add_tcase(s, ti);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
