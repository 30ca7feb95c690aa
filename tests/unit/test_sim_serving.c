/* test_sim_serving.c -- the simulated cluster's serving deployments as API objects: apps/v1
 * Deployments and autoscaling/v2 HorizontalPodAutoscalers (shapes, lists with continue,
 * watch events, discovery, read-only), and an announced scale-up that the autoscaler shows
 * first, the Deployment's spec.replicas after the autoscaler's delay and its pods after the
 * rollout delay. */
#include "base/buf.h"
#include "base/err.h"
#include "tools/kubesim/kubesim_cluster.h"
#include "tools/kubesim/kubesim_scenario.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* At 06:00 UTC, twelve hours from peakHour 18: the curve is at its minimum (1 replica) and
 * flat, so only the announced scale moves it. */
static const char *scn_text =
    "{\"startTime\":\"2026-11-28T06:00:00Z\",\"timeScale\":1,\"clusters\":[{\"name\":\"c1\","
    "\"nodePools\":[{\"name\":\"l4\",\"count\":4,\"product\":\"NVIDIA-L4\",\"gpus\":4,"
    "\"pool\":\"serving\"}],"
    "\"deployments\":[{\"name\":\"chat\",\"namespace\":\"serving\",\"gpusPerReplica\":2,"
    "\"product\":\"NVIDIA-L4\",\"minReplicas\":1,\"maxReplicas\":6,\"peakHour\":18,"
    "\"autoscaler\":{\"delaySeconds\":30},\"rolloutDelaySeconds\":20},"
    "{\"name\":\"embed\",\"namespace\":\"serving\",\"gpusPerReplica\":1,"
    "\"product\":\"NVIDIA-L4\",\"minReplicas\":2,\"maxReplicas\":2,\"rolloutDelaySeconds\":20}]"
    "}]}";

static struct sim_scenario *scn;
static struct sim_clock clk;
static struct sim_cluster *c1;

static void setup(void)
{
    struct err e = {0};

    ck_assert_msg(sim_scenario_parse(scn_text, strlen(scn_text), &scn, &e) == 0, "%s", e.msg);
    sim_clock_init(&clk, 0.000001, scn->start_ms); /* time moves only by sim_clock_skip() */
    ck_assert_int_eq(sim_cluster_new(&scn->clusters[0], &clk, 60000, &c1, &e), 0);
}

static void teardown(void)
{
    sim_cluster_free(&c1);
    sim_scenario_free(&scn);
}

static json_t *call(const char *method, const char *path, const char *limit, const char *cont,
                    int want)
{
    struct sim_query q;
    struct sim_reply r;
    json_t *j;

    memset(&q, 0, sizeof(q));
    q.limit = limit;
    q.cont = cont;
    sim_cluster_handle(c1, method, path, &q, "{}", 2, &r);
    ck_assert_msg(r.status == want, "%s %s: %d %.*s", method, path, r.status, (int)r.len, r.body);
    j = json_loadb(r.body, r.len, 0, NULL);
    free(r.body);
    ck_assert_ptr_nonnull(j);
    return j;
}

static json_int_t num(const json_t *o, const char *a, const char *b)
{
    return json_integer_value(json_object_get(json_object_get(o, a), b));
}

START_TEST(deployment_and_hpa_shapes)
{
    json_t *d = call("GET", "/apis/apps/v1/namespaces/serving/deployments/chat", NULL, NULL, 200);
    json_t *h = call("GET", "/apis/autoscaling/v2/namespaces/serving/horizontalpodautoscalers/chat",
                     NULL, NULL, 200);
    const json_t *spec = json_object_get(d, "spec"), *ctr, *ref;

    ck_assert_str_eq(json_string_value(json_object_get(d, "apiVersion")), "apps/v1");
    ck_assert_str_eq(json_string_value(json_object_get(d, "kind")), "Deployment");
    ck_assert_int_eq(num(d, "spec", "replicas"), 1);
    ck_assert_int_eq(num(d, "status", "replicas"), 1);
    ck_assert_int_eq(num(d, "status", "readyReplicas"), 1);
    ck_assert_int_eq(num(d, "status", "availableReplicas"), 1);
    ck_assert_int_eq(num(d, "status", "updatedReplicas"), 1);
    ck_assert_int_eq(num(d, "status", "observedGeneration"), num(d, "metadata", "generation"));
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(spec, "selector"), "matchLabels"), "app")),
                     "chat");
    ctr = json_array_get(
        json_object_get(json_object_get(json_object_get(spec, "template"), "spec"), "containers"),
        0);
    ck_assert_str_eq(
        json_string_value(json_object_get(
            json_object_get(json_object_get(ctr, "resources"), "limits"), "nvidia.com/gpu")),
        "2");
    ck_assert_str_eq(json_string_value(json_object_get(h, "apiVersion")), "autoscaling/v2");
    ck_assert_str_eq(json_string_value(json_object_get(h, "kind")), "HorizontalPodAutoscaler");
    ref = json_object_get(json_object_get(h, "spec"), "scaleTargetRef");
    ck_assert_str_eq(json_string_value(json_object_get(ref, "kind")), "Deployment");
    ck_assert_str_eq(json_string_value(json_object_get(ref, "apiVersion")), "apps/v1");
    ck_assert_str_eq(json_string_value(json_object_get(ref, "name")), "chat");
    ck_assert_int_eq(num(h, "spec", "minReplicas"), 1);
    ck_assert_int_eq(num(h, "spec", "maxReplicas"), 6);
    ck_assert_int_eq(num(h, "status", "currentReplicas"), 1);
    ck_assert_int_eq(num(h, "status", "desiredReplicas"), 1);
    json_decref(d);
    json_decref(h);
    /* embed has no autoscaler. */
    json_decref(call("GET",
                     "/apis/autoscaling/v2/namespaces/serving/horizontalpodautoscalers/embed", NULL,
                     NULL, 404));
    /* Read-only: they come from the scenario. */
    json_decref(call("POST", "/apis/apps/v1/namespaces/serving/deployments", NULL, NULL, 405));
    json_decref(
        call("DELETE", "/apis/apps/v1/namespaces/serving/deployments/chat", NULL, NULL, 405));
}
END_TEST

START_TEST(lists_page_and_discovery)
{
    json_t *l = call("GET", "/apis/apps/v1/deployments", "1", NULL, 200), *l2, *disc;
    const char *cont =
        json_string_value(json_object_get(json_object_get(l, "metadata"), "continue"));

    ck_assert_str_eq(json_string_value(json_object_get(l, "kind")), "DeploymentList");
    ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 1);
    ck_assert_ptr_nonnull(cont);
    l2 = call("GET", "/apis/apps/v1/deployments", "1", cont, 200);
    ck_assert_int_eq(json_array_size(json_object_get(l2, "items")), 1);
    ck_assert_str_eq(
        json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(l2, "items"), 0), "metadata"), "name")),
        "embed");
    ck_assert_ptr_null(json_object_get(json_object_get(l2, "metadata"), "continue"));
    json_decref(l);
    json_decref(l2);
    l = call("GET", "/apis/autoscaling/v2/namespaces/serving/horizontalpodautoscalers", NULL, NULL,
             200);
    ck_assert_str_eq(json_string_value(json_object_get(l, "kind")), "HorizontalPodAutoscalerList");
    ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 1);
    json_decref(l);
    disc = call("GET", "/apis/autoscaling/v2", NULL, NULL, 200);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(disc, "resources"), 0), "name")),
                     "horizontalpodautoscalers");
    json_decref(disc);
    disc = call("GET", "/apis/apps/v1", NULL, NULL, 200);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(disc, "resources"), 0), "kind")),
                     "Deployment");
    json_decref(disc);
}
END_TEST

/* The events of a watch of path after resourceVersion rv, as "TYPE spec.replicas status..."
 * lines are too brittle: the last object of the stream. */
static json_t *last_event(struct sim_watch *w)
{
    struct buf b;
    json_t *last = NULL;
    size_t at = 0;

    buf_init(&b, 0);
    ck_assert_int_eq(sim_cluster_watch_read(c1, w, &b, 1 << 20), 0);
    while (at < b.len) {
        char *nl = memchr(b.data + at, '\n', b.len - at);

        ck_assert_ptr_nonnull(nl);
        json_decref(last);
        last = json_loadb(b.data + at, (size_t)(nl - (b.data + at)), 0, NULL);
        ck_assert_ptr_nonnull(last);
        at = (size_t)(nl - b.data) + 1;
    }
    buf_free(&b);
    return last;
}

START_TEST(announced_scale_up_hpa_then_deployment_then_pods)
{
    json_t *l = call("GET", "/apis/apps/v1/namespaces/serving/deployments", NULL, NULL, 200);
    const char *rv =
        json_string_value(json_object_get(json_object_get(l, "metadata"), "resourceVersion"));
    struct sim_query q;
    struct sim_reply rep;
    struct sim_watch *w = NULL;
    struct err e = {0};
    json_t *d, *h, *ev;

    memset(&q, 0, sizeof(q));
    q.resource_version = rv;
    ck_assert_int_eq(
        sim_cluster_watch_open(c1, "/apis/apps/v1/namespaces/serving/deployments", &q, &w, &rep),
        0);
    ck_assert_int_eq(sim_cluster_deployment_scale(c1, "serving", "chat", 4, &e), 0);
    h = call("GET", "/apis/autoscaling/v2/namespaces/serving/horizontalpodautoscalers/chat", NULL,
             NULL, 200);
    d = call("GET", "/apis/apps/v1/namespaces/serving/deployments/chat", NULL, NULL, 200);
    ck_assert_int_eq(num(h, "status", "desiredReplicas"), 4);
    ck_assert_int_eq(num(h, "status", "currentReplicas"), 1);
    ck_assert_int_eq(num(d, "spec", "replicas"), 1);
    json_decref(h);
    json_decref(d);
    /* After the autoscaler's delay the Deployment asks for 4; its pods are not there yet. */
    sim_clock_skip(&clk, 31000);
    d = call("GET", "/apis/apps/v1/namespaces/serving/deployments/chat", NULL, NULL, 200);
    ck_assert_int_eq(num(d, "spec", "replicas"), 4);
    ck_assert_int_eq(num(d, "status", "replicas"), 1);
    ck_assert_int_eq(num(d, "metadata", "generation"), 2);
    json_decref(d);
    ev = last_event(w);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "type")), "MODIFIED");
    ck_assert_int_eq(num(json_object_get(ev, "object"), "spec", "replicas"), 4);
    json_decref(ev);
    /* After the rollout delay the pods exist and run. */
    sim_clock_skip(&clk, 21000);
    d = call("GET", "/apis/apps/v1/namespaces/serving/deployments/chat", NULL, NULL, 200);
    ck_assert_int_eq(num(d, "status", "replicas"), 4);
    ck_assert_int_eq(num(d, "status", "readyReplicas"), 4);
    json_decref(d);
    h = call("GET", "/apis/autoscaling/v2/namespaces/serving/horizontalpodautoscalers/chat", NULL,
             NULL, 200);
    ck_assert_int_eq(num(h, "status", "currentReplicas"), 4);
    json_decref(h);
    sim_cluster_watch_free(&w);
    json_decref(l);
    /* The lever's errors. */
    ck_assert_int_eq(sim_cluster_deployment_scale(c1, "serving", "nope", 1, &e), -1);
    ck_assert_int_eq(e.code, ERR_NOT_FOUND);
    ck_assert_int_eq(sim_cluster_deployment_scale(c1, "serving", "chat", 7, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_msg(strstr(e.msg, "replicas 7"), "%s", e.msg);
}
END_TEST

START_TEST(scenario_autoscaler_errors)
{
    static const char *bad =
        "{\"clusters\":[{\"name\":\"c\",\"deployments\":[{\"name\":\"a\",\"autoscaler\":3}]}]}";
    static const char *bad_delay = "{\"clusters\":[{\"name\":\"c\",\"deployments\":[{\"name\":"
                                   "\"a\",\"autoscaler\":{\"delaySeconds\":-1}}]}]}";
    struct sim_scenario *s = NULL;
    struct err e = {0};

    ck_assert_int_eq(sim_scenario_parse(bad, strlen(bad), &s, &e), -1);
    ck_assert_msg(strstr(e.msg, "deployments[0].autoscaler"), "%s", e.msg);
    ck_assert_int_eq(sim_scenario_parse(bad_delay, strlen(bad_delay), &s, &e), -1);
    ck_assert_msg(strstr(e.msg, "deployments[0].autoscaler.delaySeconds"), "%s", e.msg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_serving");
    TCase *tc = tcase_create("serving");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, deployment_and_hpa_shapes);
    tcase_add_test(tc, lists_page_and_discovery);
    tcase_add_test(tc, announced_scale_up_hpa_then_deployment_then_pods);
    tcase_add_test(tc, scenario_autoscaler_errors);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
