/* test_sim_serving.c -- the simulated cluster's serving deployments as API objects: apps/v1
 * Deployments, leaderworkerset.x-k8s.io/v1 LeaderWorkerSets and autoscaling/v2
 * HorizontalPodAutoscalers (shapes, lists with continue, watch events, discovery,
 * read-only), an announced scale-up that the autoscaler shows first, the workload's
 * spec.replicas after the autoscaler's delay and its pods after the rollout delay; and a
 * cluster without LeaderWorkerSets answering their group 404 as one without the CRD. */
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

/* A scale the scenario announces from its start (autoscaler.desiredReplicas): the HPA wants
 * 3 at once while the Deployment stays at minReplicas 1, even at its curve's peak (peakHour
 * 6 at 06:00 would give maxReplicas 4), until delaySeconds later. Beyond maxReplicas is
 * refused, naming the field. */
START_TEST(scenario_desired_replicas_announced_from_the_start)
{
    static const char *text =
        "{\"startTime\":\"2026-11-28T06:00:00Z\",\"timeScale\":1,\"clusters\":[{\"name\":"
        "\"c\",\"nodePools\":[{\"name\":\"l4\",\"count\":4,\"product\":\"NVIDIA-L4\","
        "\"gpus\":4,\"pool\":\"serving\"}],\"deployments\":[{\"name\":\"burst\","
        "\"gpusPerReplica\":2,\"product\":\"NVIDIA-L4\",\"minReplicas\":1,\"maxReplicas\":4,"
        "\"peakHour\":6,\"autoscaler\":{\"delaySeconds\":60,\"desiredReplicas\":3}}]}]}";
    static const char *too_many =
        "{\"clusters\":[{\"name\":\"c\",\"deployments\":[{\"name\":\"a\",\"maxReplicas\":2,"
        "\"autoscaler\":{\"desiredReplicas\":3}}]}]}";
    struct sim_scenario *s = NULL;
    struct sim_cluster *saved = c1;
    struct err e = {0};
    json_t *d, *h;

    ck_assert_msg(sim_scenario_parse(text, strlen(text), &s, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(sim_cluster_new(&s->clusters[0], &clk, 60000, &c1, &e), 0);
    h = call("GET", "/apis/autoscaling/v2/namespaces/serving/horizontalpodautoscalers/burst", NULL,
             NULL, 200);
    d = call("GET", "/apis/apps/v1/namespaces/serving/deployments/burst", NULL, NULL, 200);
    ck_assert_int_eq(num(h, "status", "desiredReplicas"), 3);
    ck_assert_int_eq(num(d, "spec", "replicas"), 1);
    ck_assert_int_eq(num(d, "status", "replicas"), 1);
    json_decref(h);
    json_decref(d);
    sim_clock_skip(&clk, 61000);
    d = call("GET", "/apis/apps/v1/namespaces/serving/deployments/burst", NULL, NULL, 200);
    ck_assert_int_eq(num(d, "spec", "replicas"), 3);
    ck_assert_int_eq(num(d, "status", "replicas"), 3);
    json_decref(d);
    sim_cluster_free(&c1);
    c1 = saved;
    sim_scenario_free(&s);
    ck_assert_int_eq(sim_scenario_parse(too_many, strlen(too_many), &s, &e), -1);
    ck_assert_msg(
        strstr(e.msg, "deployments[0].autoscaler.desiredReplicas 3 is above maxReplicas 2"), "%s",
        e.msg);
}
END_TEST

/* ---- LeaderWorkerSets ------------------------------------------------------------------ */

/* llm: groups of 4 pods, a leader without GPUs (a leaderTemplate of its own) and 3 workers
 * of 8 H100s, autoscaled; tiny: size 2, no leaderTemplate (the leader is a worker's copy). */
static const char *lws_text =
    "{\"startTime\":\"2026-11-28T06:00:00Z\",\"timeScale\":1,\"clusters\":[{\"name\":\"c1\","
    "\"nodePools\":[{\"name\":\"h100\",\"count\":12,\"product\":\"NVIDIA-H100-80GB-HBM3\","
    "\"gpus\":8,\"pool\":\"serving\"}],"
    "\"deployments\":[{\"kind\":\"LeaderWorkerSet\",\"name\":\"llm\",\"namespace\":\"serving\","
    "\"size\":4,\"leaderGpus\":0,\"gpusPerReplica\":8,\"product\":\"NVIDIA-H100-80GB-HBM3\","
    "\"minReplicas\":1,\"maxReplicas\":3,\"autoscaler\":{\"delaySeconds\":30},"
    "\"rolloutDelaySeconds\":20},"
    "{\"kind\":\"LeaderWorkerSet\",\"name\":\"tiny\",\"namespace\":\"serving\",\"size\":2,"
    "\"gpusPerReplica\":1,\"minReplicas\":1,\"maxReplicas\":1}]}]}";

static struct sim_scenario *lscn;

static void lws_setup(void)
{
    struct err e = {0};

    ck_assert_msg(sim_scenario_parse(lws_text, strlen(lws_text), &lscn, &e) == 0, "%s", e.msg);
    sim_clock_init(&clk, 0.000001, lscn->start_ms);
    ck_assert_int_eq(sim_cluster_new(&lscn->clusters[0], &clk, 60000, &c1, &e), 0);
}

static void lws_teardown(void)
{
    sim_cluster_free(&c1);
    sim_scenario_free(&lscn);
}

#define LWS_PATH "/apis/leaderworkerset.x-k8s.io/v1"

static const char *label(const json_t *pod, const char *key)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(pod, "metadata"), "labels"), key));
}

static const char *gpu_limit(const json_t *tmpl)
{
    const json_t *ctr =
        json_array_get(json_object_get(json_object_get(tmpl, "spec"), "containers"), 0);

    return json_string_value(json_object_get(
        json_object_get(json_object_get(ctr, "resources"), "limits"), "nvidia.com/gpu"));
}

START_TEST(lws_shape_and_group_pods)
{
    json_t *l = call("GET", LWS_PATH "/namespaces/serving/leaderworkersets/llm", NULL, NULL, 200);
    const json_t *lwt = json_object_get(json_object_get(l, "spec"), "leaderWorkerTemplate");
    json_t *pods, *h, *t;
    size_t i;
    int leaders = 0, workers = 0;
    const json_t *p;

    ck_assert_str_eq(json_string_value(json_object_get(l, "apiVersion")),
                     "leaderworkerset.x-k8s.io/v1");
    ck_assert_str_eq(json_string_value(json_object_get(l, "kind")), "LeaderWorkerSet");
    ck_assert_int_eq(num(l, "spec", "replicas"), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(lwt, "size")), 4);
    ck_assert_str_eq(gpu_limit(json_object_get(lwt, "workerTemplate")), "8");
    /* leaderGpus 0: a leader template of its own, without GPUs. */
    ck_assert_ptr_nonnull(json_object_get(lwt, "leaderTemplate"));
    ck_assert_ptr_null(gpu_limit(json_object_get(lwt, "leaderTemplate")));
    ck_assert_int_eq(num(l, "status", "replicas"), 1);
    ck_assert_int_eq(num(l, "status", "readyReplicas"), 1);
    ck_assert_int_eq(num(l, "metadata", "generation"), 1);
    json_decref(l);
    /* tiny has no leaderTemplate: its leader is made from the worker template. */
    t = call("GET", LWS_PATH "/namespaces/serving/leaderworkersets/tiny", NULL, NULL, 200);
    lwt = json_object_get(json_object_get(t, "spec"), "leaderWorkerTemplate");
    ck_assert_ptr_null(json_object_get(lwt, "leaderTemplate"));
    json_decref(t);
    /* One group of llm: the leader llm-0 and workers llm-0-1 .. llm-0-3, with the LWS
     * controller's labels; tiny-0 is a worker's copy with its GPU. */
    pods = call("GET", "/api/v1/namespaces/serving/pods", NULL, NULL, 200);
    json_array_foreach(json_object_get(pods, "items"), i, p)
    {
        const char *name =
            json_string_value(json_object_get(json_object_get(p, "metadata"), "name"));
        const char *w = label(p, "leaderworkerset.sigs.k8s.io/worker-index");

        if (strcmp(name, "tiny-0") == 0)
            ck_assert_str_eq(gpu_limit(p), "1");
        if (strncmp(name, "llm-", 4) != 0)
            continue;
        ck_assert_str_eq(label(p, "leaderworkerset.sigs.k8s.io/name"), "llm");
        ck_assert_str_eq(label(p, "leaderworkerset.sigs.k8s.io/group-index"), "0");
        ck_assert_ptr_nonnull(w);
        if (strcmp(w, "0") == 0) {
            ck_assert_str_eq(name, "llm-0");
            ck_assert_ptr_null(gpu_limit(p));
            leaders++;
        } else {
            char want[32];

            snprintf(want, sizeof(want), "llm-0-%s", w);
            ck_assert_str_eq(name, want);
            ck_assert_str_eq(gpu_limit(p), "8");
            workers++;
        }
    }
    ck_assert_int_eq(leaders, 1);
    ck_assert_int_eq(workers, 3);
    json_decref(pods);
    /* Its autoscaler targets the LeaderWorkerSet through the scale subresource. */
    h = call("GET", "/apis/autoscaling/v2/namespaces/serving/horizontalpodautoscalers/llm", NULL,
             NULL, 200);
    t = json_object_get(json_object_get(h, "spec"), "scaleTargetRef");
    ck_assert_str_eq(json_string_value(json_object_get(t, "kind")), "LeaderWorkerSet");
    ck_assert_str_eq(json_string_value(json_object_get(t, "apiVersion")),
                     "leaderworkerset.x-k8s.io/v1");
    json_decref(h);
    json_decref(call("POST", LWS_PATH "/namespaces/serving/leaderworkersets", NULL, NULL, 405));
}
END_TEST

START_TEST(lws_list_watch_and_discovery)
{
    json_t *l = call("GET", LWS_PATH "/leaderworkersets", "1", NULL, 200), *disc, *g;
    const char *rv =
        json_string_value(json_object_get(json_object_get(l, "metadata"), "resourceVersion"));
    struct sim_query q;
    struct sim_reply rep;
    struct sim_watch *w = NULL;
    struct err e = {0};
    json_t *ev;
    size_t i;
    const json_t *x;
    bool listed = false;

    ck_assert_str_eq(json_string_value(json_object_get(l, "kind")), "LeaderWorkerSetList");
    ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 1);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(l, "metadata"), "continue"));
    disc = call("GET", LWS_PATH, NULL, NULL, 200);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(disc, "resources"), 0), "name")),
                     "leaderworkersets");
    json_decref(disc);
    g = call("GET", "/apis", NULL, NULL, 200);
    json_array_foreach(json_object_get(g, "groups"), i, x)
    {
        listed |=
            strcmp(json_string_value(json_object_get(x, "name")), "leaderworkerset.x-k8s.io") == 0;
    }
    ck_assert_msg(listed, "the group is not in /apis");
    json_decref(g);

    memset(&q, 0, sizeof(q));
    q.resource_version = rv;
    ck_assert_int_eq(sim_cluster_watch_open(c1, LWS_PATH "/leaderworkersets", &q, &w, &rep), 0);
    /* Two groups wanted: the autoscaler first, spec.replicas 30 s later, pods 20 s after. */
    ck_assert_int_eq(sim_cluster_deployment_scale(c1, "serving", "llm", 2, &e), 0);
    sim_clock_skip(&clk, 31000);
    json_decref(l);
    l = call("GET", LWS_PATH "/namespaces/serving/leaderworkersets/llm", NULL, NULL, 200);
    ck_assert_int_eq(num(l, "spec", "replicas"), 2);
    ev = last_event(w);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "type")), "MODIFIED");
    ck_assert_int_eq(num(json_object_get(ev, "object"), "spec", "replicas"), 2);
    ck_assert_int_eq(num(json_object_get(ev, "object"), "status", "replicas"), 1);
    json_decref(ev);
    sim_clock_skip(&clk, 21000);
    json_decref(l);
    l = call("GET", LWS_PATH "/namespaces/serving/leaderworkersets/llm", NULL, NULL, 200);
    ck_assert_int_eq(num(l, "status", "replicas"), 2);
    ck_assert_int_eq(num(l, "status", "readyReplicas"), 2);
    json_decref(l);
    l = call("GET", "/api/v1/namespaces/serving/pods/llm-1-3", NULL, NULL, 200);
    ck_assert_str_eq(label(l, "leaderworkerset.sigs.k8s.io/group-index"), "1");
    json_decref(l);
    /* Down to one group: group 1 goes whole. */
    ck_assert_int_eq(sim_cluster_deployment_scale(c1, "serving", "llm", 1, &e), 0);
    sim_clock_skip(&clk, 52000 + 600000);
    l = call("GET", LWS_PATH "/namespaces/serving/leaderworkersets/llm", NULL, NULL, 200);
    ck_assert_int_eq(num(l, "spec", "replicas"), 1);
    ck_assert_int_eq(num(l, "status", "replicas"), 1);
    json_decref(l);
    json_decref(call("GET", "/api/v1/namespaces/serving/pods/llm-1", NULL, NULL, 404));
    json_decref(call("GET", "/api/v1/namespaces/serving/pods/llm-1-2", NULL, NULL, 404));
    sim_cluster_watch_free(&w);
}
END_TEST

/* c1 of the first scenario declares none: the group is not served, as without the CRD. */
START_TEST(lws_group_absent_without_any)
{
    json_t *st = call("GET", LWS_PATH "/leaderworkersets", NULL, NULL, 404), *g;
    size_t i;
    const json_t *x;

    ck_assert_str_eq(json_string_value(json_object_get(st, "kind")), "Status");
    ck_assert_str_eq(json_string_value(json_object_get(st, "reason")), "NotFound");
    ck_assert_int_eq(json_integer_value(json_object_get(st, "code")), 404);
    json_decref(st);
    json_decref(call("GET", LWS_PATH, NULL, NULL, 404));
    g = call("GET", "/apis", NULL, NULL, 200);
    json_array_foreach(json_object_get(g, "groups"), i, x)
    {
        ck_assert_str_ne(json_string_value(json_object_get(x, "name")), "leaderworkerset.x-k8s.io");
    }
    json_decref(g);
}
END_TEST

START_TEST(scenario_lws_errors)
{
    static const char *size_on_deployment =
        "{\"clusters\":[{\"name\":\"c\",\"deployments\":[{\"name\":\"a\",\"size\":4}]}]}";
    static const char *bad_kind = "{\"clusters\":[{\"name\":\"c\",\"deployments\":[{\"name\":\"a\","
                                  "\"kind\":\"StatefulSet\"}]}]}";
    static const char *bad_size = "{\"clusters\":[{\"name\":\"c\",\"deployments\":[{\"name\":\"a\","
                                  "\"kind\":\"LeaderWorkerSet\",\"size\":0}]}]}";
    static const char *apis = "{\"clusters\":[{\"name\":\"c\",\"apis\":[\"kubeflow.org/v1\"],"
                              "\"deployments\":[{\"name\":\"a\",\"kind\":\"LeaderWorkerSet\"}]}]}";
    struct sim_scenario *s = NULL;
    struct err e = {0};

    ck_assert_int_eq(sim_scenario_parse(size_on_deployment, strlen(size_on_deployment), &s, &e),
                     -1);
    ck_assert_msg(strstr(e.msg, "deployments[0].size"), "%s", e.msg);
    ck_assert_int_eq(sim_scenario_parse(bad_kind, strlen(bad_kind), &s, &e), -1);
    ck_assert_msg(strstr(e.msg, "deployments[0].kind"), "%s", e.msg);
    ck_assert_int_eq(sim_scenario_parse(bad_size, strlen(bad_size), &s, &e), -1);
    ck_assert_msg(strstr(e.msg, "deployments[0].size"), "%s", e.msg);
    /* Declaring one serves the group beside the scenario's own "apis". */
    ck_assert_int_eq(sim_scenario_parse(apis, strlen(apis), &s, &e), 0);
    ck_assert_int_eq(json_array_size(s->clusters[0].apis), 2);
    ck_assert_str_eq(json_string_value(json_array_get(s->clusters[0].apis, 1)),
                     "leaderworkerset.x-k8s.io/v1");
    sim_scenario_free(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_serving");
    TCase *tc = tcase_create("serving"), *tl = tcase_create("lws");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tl, lws_setup, lws_teardown);
    tcase_add_test(tl, lws_shape_and_group_pods);
    tcase_add_test(tl, lws_list_watch_and_discovery);
    suite_add_tcase(s, tl);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, lws_group_absent_without_any);
    tcase_add_test(tc, scenario_lws_errors);
    tcase_add_test(tc, deployment_and_hpa_shapes);
    tcase_add_test(tc, lists_page_and_discovery);
    tcase_add_test(tc, announced_scale_up_hpa_then_deployment_then_pods);
    tcase_add_test(tc, scenario_autoscaler_errors);
    tcase_add_test(tc, scenario_desired_replicas_announced_from_the_start);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
