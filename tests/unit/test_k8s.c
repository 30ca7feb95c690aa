/* test_k8s.c -- Node, Pod and Status readers on small hand-made objects, one rule each. */
#include "base/err.h"
#include "base/sku.h"
#include "cluster/cluster_config.h"
#include "cluster/k8s.h"
#include "cluster/k8s_json.h"
#include "tests/support/k8s_fixture.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static struct k8s_json doc;
static struct cluster_config cfg;

static void setup(void)
{
    k8s_json_init(&doc);
    cluster_config_init(&cfg);
    cfg.serving.enabled = true;
    snprintf(cfg.serving.selector[0].key, sizeof(cfg.serving.selector[0].key), "pool");
    snprintf(cfg.serving.selector[0].value, sizeof(cfg.serving.selector[0].value), "serving");
    cfg.serving.n_selector = 1;
}

static void teardown(void)
{
    k8s_json_free(&doc);
}

static struct k8s_pod pod(const char *json)
{
    struct k8s_pod p;
    struct err e = {0};

    ck_assert_int_eq(k8s_json_parse(&doc, json, strlen(json), 0, NULL), 0);
    ck_assert_msg(k8s_pod_read(&doc, 0, &p, &e) == 0, "%s", e.msg);
    return p;
}

static struct k8s_node node(const char *json)
{
    struct k8s_node n;
    struct err e = {0};

    ck_assert_int_eq(k8s_json_parse(&doc, json, strlen(json), 0, NULL), 0);
    ck_assert_msg(k8s_node_read(&doc, 0, &cfg, sku_defaults(), &n, &e) == 0, "%s", e.msg);
    return n;
}

#define C(res)    "{\"name\":\"c\",\"resources\":" res "}"
#define POD(spec) "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\"},\"spec\":" spec "}"

START_TEST(pod_requests_win_over_limits)
{
    ck_assert_int_eq(pod(POD("{\"containers\":[" C("{\"requests\":{\"nvidia.com/gpu\":\"2\"},"
                                                   "\"limits\":{\"nvidia.com/gpu\":\"2\"}}") "]}"))
                         .gpus,
                     2);
    ck_assert_int_eq(
        pod(POD("{\"containers\":[" C("{\"limits\":{\"nvidia.com/gpu\":\"3\"}}") "]}")).gpus, 3);
    /* requests without GPUs, limits with: the GPU request defaults to the limit */
    ck_assert_int_eq(pod(POD("{\"containers\":[" C("{\"requests\":{\"cpu\":\"1\"},\"limits\":"
                                                   "{\"nvidia.com/gpu\":\"1\"}}") "]}"))
                         .gpus,
                     1);
    ck_assert_int_eq(pod(POD("{\"containers\":[" C("{}") "," C("{\"limits\":{\"nvidia.com/gpu\":"
                                                               "\"4\"}}") "]}"))
                         .gpus,
                     4);
}
END_TEST

START_TEST(pod_init_containers_and_sidecars)
{
    /* app 2+2=4; init 3 runs alone: max(4, 3) = 4 */
    ck_assert_int_eq(
        pod(POD("{\"initContainers\":[" C(
                "{\"limits\":{\"nvidia.com/gpu\":\"3\"}}") "],"
                                                           "\"containers\":[" C(
                                                               "{\"limits\":{\"nvidia.com/"
                                                               "gpu\":\"2\"}}") "," C("{\"limits\":"
                                                                                      "{\"nvidia."
                                                                                      "com/"
                                                                                      "gpu\":\"2\"}"
                                                                                      "}") "]}"))
            .gpus,
        4);
    /* init 6 beats app 4 */
    ck_assert_int_eq(
        pod(POD("{\"initContainers\":[" C(
                "{\"limits\":{\"nvidia.com/gpu\":\"6\"}}") "],"
                                                           "\"containers\":[" C(
                                                               "{\"limits\":{\"nvidia.com/"
                                                               "gpu\":\"4\"}}") "]}"))
            .gpus,
        6);
    /* a native sidecar (restartPolicy Always) with 1 GPU keeps running beside the app: 1+4;
     * a later init container of 4 runs beside the sidecar: 1+4 as well */
    ck_assert_int_eq(
        pod(POD("{\"initContainers\":[{\"name\":\"s\",\"restartPolicy\":\"Always\",\"resources\":"
                "{\"limits\":{\"nvidia.com/gpu\":\"1\"}}}," C(
                    "{\"limits\":{\"nvidia.com/gpu\":"
                    "\"4\"}}") "],"
                               "\"containers\":[" C(
                                   "{\"limits\":{\"nvidia.com/gpu\":\"4\"}}") "]}"))
            .gpus,
        5);
    /* overhead adds */
    ck_assert_int_eq(pod(POD("{\"overhead\":{\"nvidia.com/gpu\":\"1\"},\"containers\":[" C(
                             "{\"limits\":{\"nvidia.com/gpu\":\"2\"}}") "]}"))
                         .gpus,
                     3);
}
END_TEST

START_TEST(pod_flags)
{
    struct k8s_pod p = pod(
        "{\"metadata\":{\"name\":\"x\",\"namespace\":\"serving\",\"deletionTimestamp\":"
        "\"2026-11-28T00:00:00Z\",\"labels\":{\"app.kubernetes.io/managed-by\":\"fedsched\"}},"
        "\"spec\":{\"nodeName\":\"n1\",\"nodeSelector\":{\"nvidia.com/gpu.product\":\"NVIDIA-L4\","
        "\"nvidia.com/"
        "gpu.memory\":\"23034\"},\"containers\":[]},\"status\":{\"phase\":\"Running\"}}");

    ck_assert(p.terminating);
    ck_assert(p.ours);
    ck_assert_str_eq(p.node, "n1");
    ck_assert_str_eq(p.ns, "serving");
    ck_assert_str_eq(p.product, "NVIDIA-L4");
    ck_assert_int_eq(p.memory_mib, 23034);
    ck_assert_int_eq(p.phase, K8S_POD_RUNNING);
    p = pod("{\"metadata\":{\"name\":\"y\",\"labels\":{\"fedsched.io/job-uid\":\"u\"}},"
            "\"spec\":{},\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":"
            "\"PodScheduled\",\"status\":\"False\",\"reason\":\"Unschedulable\"}]}}");
    ck_assert(p.ours);
    ck_assert(!p.terminating);
    ck_assert(p.unschedulable);
    ck_assert_int_eq(p.phase, K8S_POD_PENDING);
    ck_assert_int_eq(p.gpus, 0);
    ck_assert(!p.gated);
    p = pod("{\"metadata\":{\"name\":\"z\"},\"spec\":{}}");
    ck_assert_int_eq(p.phase, K8S_POD_PENDING); /* no status yet */
    /* Pod scheduling readiness: gates hold it back until their controllers remove them. */
    p = pod("{\"metadata\":{\"name\":\"g\"},\"spec\":{\"schedulingGates\":[{\"name\":"
            "\"kueue.x-k8s.io/admission\"}]},\"status\":{\"phase\":\"Pending\",\"conditions\":"
            "[{\"type\":\"PodScheduled\",\"status\":\"False\",\"reason\":\"SchedulingGated\"}]}}");
    ck_assert(p.gated);
    ck_assert(!p.unschedulable);
    p = pod("{\"metadata\":{\"name\":\"g\"},\"spec\":{\"schedulingGates\":[]}}");
    ck_assert(!p.gated);
}
END_TEST

START_TEST(pod_bad_quantity_names_field)
{
    const char *j = POD("{\"containers\":[" C("{\"limits\":{\"nvidia.com/gpu\":\"x2\"}}") "]}");
    struct k8s_pod p;
    struct err e = {0};

    ck_assert_int_eq(k8s_json_parse(&doc, j, strlen(j), 0, NULL), 0);
    ck_assert_int_eq(k8s_pod_read(&doc, 0, &p, &e), -1);
    ck_assert_int_eq(e.code, ERR_MALFORMED);
    ck_assert_str_eq(e.field, "spec.containers[0].resources.limits.nvidia.com/gpu");
    ck_assert_ptr_nonnull(strstr(e.msg, "x2"));
}
END_TEST

/* Found by fuzz_podlist (testdata/fuzz/podlist/regressions/): a pod listing 2,200 containers
 * of 1M GPUs each overflowed the int sum (UBSan: signed integer overflow in k8s_pod_read). */
START_TEST(pod_gpu_total_is_bounded)
{
    size_t len;
    char *body = k8s_fixture_read("fuzz/podlist/regressions/gpu-sum-over-int-one-pod.json", &len);
    struct k8s_pod p;
    struct err e = {0};
    int item;

    ck_assert_int_eq(k8s_json_parse(&doc, body, len, 0, NULL), 0);
    item = k8s_json_child(&doc, k8s_json_get(&doc, 0, "items"));
    ck_assert_int_ge(item, 0);
    ck_assert_int_eq(k8s_pod_read(&doc, item, &p, &e), -1);
    ck_assert_int_eq(e.code, ERR_MALFORMED);
    ck_assert_str_eq(e.field, "spec.containers[].resources");
    free(body);
    /* The bound itself is still a pod. */
    p = pod(POD("{\"containers\":[" C("{\"limits\":{\"nvidia.com/gpu\":\"1M\"}}") "]}"));
    ck_assert_int_eq(p.gpus, K8S_GPUS_MAX);
}
END_TEST

/* Found by fuzz_nodelist (testdata/fuzz/nodelist/regressions/): a "\u0000" escape in a name
 * cut the C string short, so a node could be named "" and "a\u0000b" became node "a". Names,
 * namespaces and nodeName that cannot be held whole are refused. */
START_TEST(names_with_nul_are_refused)
{
    static const char *const nodes[] = {
        "{\"metadata\":{\"name\":\"\\u0000n\"}}",
        "{\"metadata\":{\"name\":\"h100-a1\\u0000x\"}}",
    };
    static const char *const pods[] = {
        "{\"metadata\":{\"name\":\"\\u0000\"}}",
        "{\"metadata\":{\"name\":\"p\",\"namespace\":\"serving\\u0000x\"}}",
        "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"nodeName\":\"h100-a1\\u0000x\"}}",
    };
    static const char *const pod_fields[] = {"metadata.name", "metadata.namespace",
                                             "spec.nodeName"};

    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        struct k8s_node n;
        struct err e = {0};

        ck_assert_int_eq(k8s_json_parse(&doc, nodes[i], strlen(nodes[i]), 0, NULL), 0);
        ck_assert_int_eq(k8s_node_read(&doc, 0, &cfg, sku_defaults(), &n, &e), -1);
        ck_assert_str_eq(e.field, "metadata.name");
    }
    for (size_t i = 0; i < sizeof(pods) / sizeof(pods[0]); i++) {
        struct k8s_pod p;
        struct err e = {0};

        ck_assert_int_eq(k8s_json_parse(&doc, pods[i], strlen(pods[i]), 0, NULL), 0);
        ck_assert_int_eq(k8s_pod_read(&doc, 0, &p, &e), -1);
        ck_assert_int_eq(e.code, ERR_MALFORMED);
        ck_assert_str_eq(e.field, pod_fields[i]);
    }
    /* Other escapes still decode into names. */
    ck_assert_str_eq(pod("{\"metadata\":{\"name\":\"p\\u0031\"}}").name, "p1");
}
END_TEST

#define NODE(labels, spec, status)                                                                 \
    "{\"metadata\":{\"name\":\"n\",\"labels\":" labels "},\"spec\":" spec ",\"status\":" status "}"
#define READY "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]"

START_TEST(node_schedulability)
{
    struct k8s_node n;

    n = node(NODE("{\"nvidia.com/gpu.product\":\"NVIDIA-L4\"}", "{}",
                  "{\"allocatable\":{\"nvidia.com/gpu\":\"4\"}," READY "}"));
    ck_assert(n.schedulable);
    ck_assert_int_eq(n.allocatable, 4);
    ck_assert_int_eq(n.sku, sku_find(sku_defaults(), "l4"));
    ck_assert_int_eq(n.pool, SNAPSHOT_POOL_TRAINING);
    n = node(NODE("{\"pool\":\"serving\"}", "{\"unschedulable\":true}",
                  "{\"allocatable\":{\"nvidia.com/gpu\":\"4\"}," READY "}"));
    ck_assert(!n.schedulable);
    ck_assert(n.unschedulable);
    ck_assert_int_eq(n.pool, SNAPSHOT_POOL_SERVING);
    ck_assert_int_eq(n.sku, -1); /* no product label */
    n = node(NODE("{}", "{}",
                  "{\"allocatable\":{\"nvidia.com/gpu\":\"4\"},\"conditions\":[{\"type\":"
                  "\"Ready\",\"status\":\"False\"}]}"));
    ck_assert(!n.ready);
    ck_assert(!n.schedulable);
    n = node(NODE("{}", "{}", "{\"allocatable\":{\"nvidia.com/gpu\":\"4\"}}"));
    ck_assert(!n.ready); /* no Ready condition at all */
    n = node(NODE("{}",
                  "{\"taints\":[{\"key\":\"nvidia.com/gpu\",\"value\":\"present\",\"effect\":"
                  "\"NoSchedule\"},{\"key\":\"x\",\"effect\":\"PreferNoSchedule\"}]}",
                  "{\"allocatable\":{\"nvidia.com/gpu\":\"8\"}," READY "}"));
    ck_assert(n.schedulable);
    n = node(NODE("{}", "{\"taints\":[{\"key\":\"x\",\"effect\":\"NoExecute\"}]}",
                  "{\"allocatable\":{\"nvidia.com/gpu\":\"8\"}," READY "}"));
    ck_assert(n.tainted);
    ck_assert(!n.schedulable);
}
END_TEST

START_TEST(node_products_and_quantities)
{
    struct k8s_node n;

    /* the memory label tells the two V100 PCIe boards apart */
    n = node(NODE("{\"nvidia.com/gpu.product\":\"Tesla-V100-PCIE\",\"nvidia.com/gpu.memory\":"
                  "\"32768\"}",
                  "{}", "{\"allocatable\":{\"nvidia.com/gpu\":\"4\"}," READY "}"));
    ck_assert_int_eq(n.sku, sku_find(sku_defaults(), "v100-32gb"));
    n = node(NODE("{\"nvidia.com/gpu.product\":\"Tesla-V100-PCIE\",\"nvidia.com/gpu.memory\":"
                  "\"16160\"}",
                  "{}", "{\"allocatable\":{\"nvidia.com/gpu\":\"4\"}," READY "}"));
    ck_assert_int_eq(n.sku, sku_find(sku_defaults(), "v100-16gb"));
    n = node(
        NODE("{\"nvidia.com/gpu.product\":\"NVIDIA-A100-SXM4-40GB\",\"nvidia.com/mig.strategy\""
             ":\"mixed\"}",
             "{}", "{\"capacity\":{\"nvidia.com/gpu\":\"0\"},\"allocatable\":{}," READY "}"));
    ck_assert(n.mig);
    ck_assert(n.gpu);
    ck_assert_int_eq(n.allocatable, 0);
    n = node(NODE("{}", "{}", "{\"allocatable\":{\"cpu\":\"4\"}," READY "}"));
    ck_assert(!n.gpu);
    n = node(NODE("{}", "{}",
                  "{\"capacity\":{\"nvidia.com/gpu\":\"8\"},\"allocatable\":{\"nvidia.com/gpu\":"
                  "\"0\"}," READY "}"));
    ck_assert(n.gpu);
    ck_assert_int_eq(n.capacity, 8);
    ck_assert_int_eq(n.allocatable, 0);
    n = node(NODE("{}", "{}", "{\"allocatable\":{\"nvidia.com/gpu\":\"8e0\"}," READY "}"));
    ck_assert_int_eq(n.allocatable, 8);
}
END_TEST

START_TEST(status_objects)
{
    struct k8s_status st;
    struct err e = {0};
    size_t len;
    char *body = k8s_fixture_read("k8s/status-already-exists.json", &len);

    k8s_status_read(body, len, 409, &st);
    ck_assert_int_eq(st.code, 409);
    ck_assert_str_eq(st.reason, "AlreadyExists");
    ck_assert_str_eq(st.message, "jobs.batch \"tj-42\" already exists");
    ck_assert_int_eq(k8s_status_code(&st), ERR_CONFLICT);
    ck_assert_int_eq(k8s_status_err(&st, &e), -1);
    ck_assert_int_eq(e.code, ERR_CONFLICT);
    ck_assert_str_eq(e.field, "AlreadyExists");
    ck_assert_ptr_nonnull(strstr(e.msg, "tj-42"));
    free(body);
    body = k8s_fixture_read("k8s/status-expired.json", &len);
    k8s_status_read(body, len, 410, &st);
    ck_assert_str_eq(st.reason, "Expired");
    free(body);
    /* not a Status: reason from the HTTP code, printable excerpt of the body */
    k8s_status_read("<html>\x01"
                    "bad gateway</html>",
                    24, 503, &st);
    ck_assert_str_eq(st.reason, "ServiceUnavailable");
    ck_assert_int_eq(k8s_status_code(&st), ERR_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(st.message, "?bad gateway"));
    k8s_status_read(NULL, 0, 429, &st);
    ck_assert_int_eq(k8s_status_code(&st), ERR_RATE_LIMITED);
    k8s_status_read("", 0, 401, &st);
    ck_assert_str_eq(st.reason, "Unauthorized");
    ck_assert_int_eq(k8s_status_code(&st), ERR_UNAUTHORIZED);
    k8s_status_read("{\"kind\":\"Status\",\"reason\":\"NotFound\",\"code\":404}", 47, 404, &st);
    ck_assert_int_eq(k8s_status_code(&st), ERR_NOT_FOUND);
}
END_TEST

/* A Status whose reason the table does not know (a newer server, an aggregated API, a
 * proxy in between) is classified by its code; an empty reason never reaches this, it is
 * filled in from the code when the Status is read. */
START_TEST(status_with_an_unknown_reason_maps_by_code)
{
    static const struct {
        int code;
        enum err_code want;
    } cases[] = {
        {429, ERR_RATE_LIMITED}, {401, ERR_UNAUTHORIZED}, {403, ERR_FORBIDDEN},
        {404, ERR_NOT_FOUND},    {409, ERR_CONFLICT},     {500, ERR_UNAVAILABLE},
        {503, ERR_UNAVAILABLE},  {400, ERR_INVALID},      {428, ERR_INVALID},
    };
    struct k8s_status st;
    struct err e = {0};
    char body[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = snprintf(body, sizeof(body),
                         "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                         "\"status\":\"Failure\",\"message\":\"slow down\","
                         "\"reason\":\"Throttled\",\"code\":%d}",
                         cases[i].code);

        k8s_status_read(body, (size_t)n, cases[i].code, &st);
        ck_assert_str_eq(st.reason, "Throttled"); /* kept, not replaced by the code's */
        ck_assert_msg(k8s_status_code(&st) == cases[i].want, "HTTP %d: err code %d, want %d",
                      cases[i].code, (int)k8s_status_code(&st), (int)cases[i].want);
        ck_assert_int_eq(k8s_status_err(&st, &e), -1);
        ck_assert_int_eq(e.code, cases[i].want);
        ck_assert_str_eq(e.field, "Throttled");
    }
    /* the same 429 from the fixture: a whole Status as an API server sends it */
    {
        size_t len;
        char *fixture = k8s_fixture_read("k8s/status-429-unknown-reason.json", &len);

        k8s_status_read(fixture, len, 429, &st);
        ck_assert_int_eq(st.code, 429);
        ck_assert_str_eq(st.reason, "Throttled");
        ck_assert_int_eq(k8s_status_code(&st), ERR_RATE_LIMITED);
        free(fixture);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("k8s");
    TCase *tc = tcase_create("objects");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, pod_requests_win_over_limits);
    tcase_add_test(tc, pod_init_containers_and_sidecars);
    tcase_add_test(tc, pod_flags);
    tcase_add_test(tc, pod_bad_quantity_names_field);
    tcase_add_test(tc, pod_gpu_total_is_bounded);
    tcase_add_test(tc, names_with_nul_are_refused);
    tcase_add_test(tc, node_schedulability);
    tcase_add_test(tc, node_products_and_quantities);
    tcase_add_test(tc, status_objects);
    tcase_add_test(tc, status_with_an_unknown_reason_maps_by_code);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
