/* test_serving_signals.c -- issue 17, acceptance 1 (connector): the serving-demand signals
 * the connector reads from the simulator's HorizontalPodAutoscalers, Deployments and
 * LeaderWorkerSets reach the published snapshot as the serving aggregates'
 * announced_serving, before any pod is Pending; a LeaderWorkerSet's replica is a whole
 * group (leader and workers), and an HPA counts for the kind it targets; a cluster that
 * refuses HPA lists, or does not serve LeaderWorkerSets (no CRD: 404), stays Ready and
 * keeps the other signals; a cluster without a serving pool is not asked for them. */
#include "base/buf.h"
#include "base/err.h"
#include "cluster/cluster_snapshot.h"
#include "cluster/poller.h"
#include "tests/support/defaults.h"
#include "tests/support/k8s_sim.h"
#include "tools/kubesim/kubesim.h"
#include "tools/kubesim/kubesim_cluster.h"

#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 06:00 UTC with peakHour 18: every curve is at its minimum and flat, so only the announced
 * scales move the deployments. chat (2 GPUs a replica) has an autoscaler whose decision
 * reaches the Deployment 600 s later; embed (1 GPU) has none; both take 600 s more to make
 * pods. batch-infer is not in a serving namespace. */
#define DEPLOYMENTS                                                                                \
    "\"deployments\":[{\"name\":\"chat\",\"namespace\":\"serving\",\"gpusPerReplica\":2,"          \
    "\"product\":\"NVIDIA-L4\",\"minReplicas\":1,\"maxReplicas\":6,\"autoscaler\":"                \
    "{\"delaySeconds\":600},\"rolloutDelaySeconds\":600},"                                         \
    "{\"name\":\"embed\",\"namespace\":\"serving\",\"gpusPerReplica\":1,"                          \
    "\"product\":\"NVIDIA-L4\",\"minReplicas\":1,\"maxReplicas\":4,\"rolloutDelaySeconds\":600},"  \
    "{\"name\":\"batch-infer\",\"namespace\":\"research\",\"gpusPerReplica\":1,"                   \
    "\"product\":\"NVIDIA-L4\",\"minReplicas\":1,\"maxReplicas\":4,\"autoscaler\":{},"             \
    "\"rolloutDelaySeconds\":600}]"
#define POOLS                                                                                      \
    "\"nodePools\":[{\"name\":\"l4\",\"count\":4,\"product\":\"NVIDIA-L4\",\"gpus\":4,"            \
    "\"pool\":\"serving\"}]"

/* lws: llm is a LeaderWorkerSet of groups of 4 pods, a leader without GPUs and 3 workers
 * of 8 H100s (24 GPUs a group), with an autoscaler; a Deployment of the same name and no
 * autoscaler stands beside it (that HPA is not its). */
#define LWS                                                                                        \
    "\"deployments\":[{\"kind\":\"LeaderWorkerSet\",\"name\":\"llm\",\"namespace\":\"serving\","   \
    "\"size\":4,\"leaderGpus\":0,\"gpusPerReplica\":8,\"product\":\"NVIDIA-H100-80GB-HBM3\","      \
    "\"minReplicas\":1,\"maxReplicas\":3,\"autoscaler\":{\"delaySeconds\":600},"                   \
    "\"rolloutDelaySeconds\":600},"                                                                \
    "{\"name\":\"llm\",\"namespace\":\"serving\",\"gpusPerReplica\":1,"                            \
    "\"product\":\"NVIDIA-H100-80GB-HBM3\",\"minReplicas\":1,\"maxReplicas\":3,"                   \
    "\"rolloutDelaySeconds\":600}]"
#define LWS_POOLS                                                                                  \
    "\"nodePools\":[{\"name\":\"h100\",\"count\":12,\"product\":\"NVIDIA-H100-80GB-HBM3\","        \
    "\"gpus\":8,\"pool\":\"serving\"}]"

static const char *scn_text =
    "{\"startTime\":\"2026-11-28T06:00:00Z\",\"timeScale\":1,\"clusters\":["
    "{\"name\":\"sv\"," POOLS "," DEPLOYMENTS "},"
    "{\"name\":\"nohpa\"," POOLS "," DEPLOYMENTS
    ",\"forbidden\":[\"list horizontalpodautoscalers.autoscaling\"]},"
    "{\"name\":\"train\",\"nodePools\":[{\"name\":\"h100\",\"count\":1,"
    "\"product\":\"NVIDIA-H100-80GB-HBM3\",\"gpus\":8}]},"
    "{\"name\":\"lws\"," LWS_POOLS "," LWS "}]}";

static struct k8s_env env;
static struct poller *poller;

static void setup(void)
{
    struct poller_options o;
    struct err e = {0};

    defaults_poller(&o);
    o.request_timeout_ms = 2000;
    k8s_env_start_text(&env, scn_text, true);
    ck_assert_msg(poller_create(env.cfgs, env.n, &o, &poller, &e) == 0, "%s", e.msg);
}

static void teardown(void)
{
    poller_free(&poller);
    k8s_env_stop(&env);
}

struct serving {
    int announced;
    int pending;
    int free, reserve, lendable;
    enum snapshot_health health;
};

/* Polls once and sums cluster name's serving aggregates. */
static struct serving poll_serving(const char *name)
{
    struct serving out = {0};
    struct err e = {0};
    const struct cluster_snapshot *s;
    size_t c = k8s_env_index(&env, name);

    ck_assert_msg(poller_poll_once(poller, &e) == 0, "%s", e.msg);
    s = poller_read_begin(poller);
    ck_assert_str_eq(s->snap->clusters[c].name, name);
    for (size_t k = 0; k < s->snap->n_skus; k++) {
        const struct snapshot_agg *a =
            snapshot_agg_const(s->snap, c, SNAPSHOT_POOL_SERVING, (int)k);

        out.announced += a->announced_serving;
        out.pending += a->pending_serving;
        out.free += a->free;
        out.reserve += a->reserve;
        out.lendable += a->lendable;
    }
    out.health = s->snap->clusters[c].health;
    poller_read_end(poller);
    return out;
}

static void scale_in(const char *cluster, const char *ns, const char *name, int replicas)
{
    struct err e = {0};

    ck_assert_msg(sim_cluster_deployment_scale(sim_get_cluster(env.sim, cluster), ns, name,
                                               replicas, &e) == 0,
                  "%s", e.msg);
}

static void scale(const char *cluster, const char *name, int replicas)
{
    scale_in(cluster, "serving", name, replicas);
}

START_TEST(hpa_announces_before_the_deployment_and_its_pods)
{
    struct serving v = poll_serving("sv");

    ck_assert_int_eq(v.health, SNAPSHOT_HEALTH_READY);
    ck_assert_int_eq(v.announced, 0);
    scale("sv", "chat", 4);
    scale_in("sv", "research", "batch-infer", 4); /* not a serving namespace: not counted */
    /* The HPA wants 4, the Deployment still 1: (4 - 1) x 2 GPUs, nothing Pending yet. */
    v = poll_serving("sv");
    ck_assert_int_eq(v.announced, 6);
    ck_assert_int_eq(v.pending, 0);
    /* The published lendable leaves the announced GPUs alone. */
    ck_assert_int_gt(v.free - v.reserve - v.announced, 0);
    ck_assert_int_eq(v.lendable, v.free - v.reserve - v.pending - v.announced);
    /* The Deployment follows: counted once, not once per object. */
    sim_skip_time(env.sim, 601000);
    v = poll_serving("sv");
    ck_assert_int_eq(v.announced, 6);
    /* The pods exist: they are pods (pending or placed), no longer announced. */
    sim_skip_time(env.sim, 601000);
    v = poll_serving("sv");
    ck_assert_int_eq(v.announced, 0);
}
END_TEST

START_TEST(deployment_scale_up_announces_until_its_pods_exist)
{
    struct serving v;

    scale("sv", "embed", 3);
    v = poll_serving("sv");
    ck_assert_int_eq(v.announced, 2); /* (3 - 1) x 1 GPU */
    ck_assert_int_eq(v.pending, 0);
    sim_skip_time(env.sim, 601000);
    v = poll_serving("sv");
    ck_assert_int_eq(v.announced, 0);
}
END_TEST

START_TEST(refused_hpa_list_keeps_the_cluster_ready)
{
    struct serving v;

    scale("nohpa", "chat", 4);
    scale("nohpa", "embed", 2);
    v = poll_serving("nohpa");
    /* Only the Deployment signal: embed's (2 - 1) x 1; chat's HPA cannot be read. */
    ck_assert_int_eq(v.health, SNAPSHOT_HEALTH_READY);
    ck_assert_int_eq(v.announced, 1);
    v = poll_serving("sv");
    ck_assert_int_eq(v.announced, 0);
}
END_TEST

START_TEST(lws_group_scale_up_announces_whole_groups)
{
    struct serving v = poll_serving("lws");

    ck_assert_int_eq(v.health, SNAPSHOT_HEALTH_READY);
    ck_assert_int_eq(v.announced, 0);
    scale("lws", "llm", 3);
    /* The HPA wants 3 groups, the LeaderWorkerSet has 1: 2 x (0 + 3 x 8) GPUs. Counted as
     * one pod a group it would be 16, as the leader alone 0; and the Deployment "llm" is
     * not the HPA's target (else 2 more). */
    v = poll_serving("lws");
    ck_assert_int_eq(v.announced, 48);
    ck_assert_int_eq(v.pending, 0);
    ck_assert_int_eq(v.lendable, v.free - v.reserve - v.pending - v.announced);
    /* spec.replicas follows the HPA: counted once. */
    sim_skip_time(env.sim, 601000);
    v = poll_serving("lws");
    ck_assert_int_eq(v.announced, 48);
    /* The groups' pods exist: pods, no longer announced. */
    sim_skip_time(env.sim, 601000);
    v = poll_serving("lws");
    ck_assert_int_eq(v.announced, 0);
    ck_assert_int_eq(v.health, SNAPSHOT_HEALTH_READY);
}
END_TEST

/* The capacity API's view of the same: lendable H100s on cluster lws drop by the announced
 * GPUs, which GET /v1/capacity (cluster_snapshot_capacity_json) shows as announcedServing
 * in the federation totals, GET /v1/clusters/lws (cluster_snapshot_cluster_json) in the
 * cluster's serving pool, and /metrics as state="announced_serving". */
struct shown {
    json_int_t lendable, announced; /* /v1/capacity, serving h100-80gb */
    json_int_t cluster_announced;   /* /v1/clusters/lws, serving h100-80gb */
    bool training_has_announced;    /* a training pool carries the key: it must not */
    char metric[160];               /* the announced_serving sample line for lws */
};

static void pool_values(json_t *cap, const char *sku, json_int_t *lendable, json_int_t *announced,
                        bool *training_has)
{
    json_t *x;
    size_t i;

    json_array_foreach(cap, i, x)
    {
        const char *pool = json_string_value(json_object_get(x, "pool"));

        if (strcmp(pool, "serving") != 0) {
            *training_has |= json_object_get(x, "announcedServing") != NULL;
            continue;
        }
        if (strcmp(json_string_value(json_object_get(x, "sku")), sku) != 0)
            continue;
        if (lendable)
            *lendable = json_integer_value(json_object_get(x, "lendable"));
        /* -2: the key is missing (json_integer_value of NULL would read 0) */
        *announced = json_is_integer(json_object_get(x, "announcedServing"))
                         ? json_integer_value(json_object_get(x, "announcedServing"))
                         : -2;
    }
}

static struct shown capacity_shown(const char *sku)
{
    const struct cluster_snapshot *s;
    json_t *cap, *one;
    struct shown out = {.lendable = -1, .announced = -1, .cluster_announced = -1};
    struct err e = {0};
    struct buf b;
    const char *line;

    ck_assert_msg(poller_poll_once(poller, &e) == 0, "%s", e.msg);
    s = poller_read_begin(poller);
    cap = cluster_snapshot_capacity_json(s, 0);
    one = cluster_snapshot_cluster_json(s, k8s_env_index(&env, "lws"), 0);
    buf_init(&b, 1 << 20);
    ck_assert_int_eq(cluster_snapshot_prometheus(s, 0, &b), 0);
    poller_read_end(poller);
    pool_values(json_object_get(cap, "capacity"), sku, &out.lendable, &out.announced,
                &out.training_has_announced);
    pool_values(json_object_get(one, "capacity"), sku, NULL, &out.cluster_announced,
                &out.training_has_announced);
    line = strstr(b.data, "fedsched_cluster_gpus{cluster=\"lws\",sku=\"h100-80gb\","
                          "pool=\"serving\",state=\"announced_serving\"} ");
    if (line)
        snprintf(out.metric, sizeof(out.metric), "%.*s", (int)strcspn(line, "\n"), line);
    buf_free(&b);
    json_decref(cap);
    json_decref(one);
    return out;
}

START_TEST(lws_announced_reaches_capacity)
{
    struct shown before = capacity_shown("h100-80gb"), after;

    ck_assert_int_gt(before.lendable, 48);
    ck_assert_int_eq(before.announced, 0);
    ck_assert_int_eq(before.cluster_announced, 0);
    ck_assert_str_eq(before.metric, "fedsched_cluster_gpus{cluster=\"lws\",sku=\"h100-80gb\","
                                    "pool=\"serving\",state=\"announced_serving\"} 0");
    scale("lws", "llm", 3);
    after = capacity_shown("h100-80gb");
    ck_assert_int_eq(after.lendable, before.lendable - 48);
    /* Only cluster lws has H100 serving GPUs announced: its 48 are the federation's. */
    ck_assert_int_eq(after.announced, 48);
    ck_assert_int_eq(after.cluster_announced, 48);
    ck_assert_str_eq(after.metric, "fedsched_cluster_gpus{cluster=\"lws\",sku=\"h100-80gb\","
                                   "pool=\"serving\",state=\"announced_serving\"} 48");
    ck_assert(!after.training_has_announced);
}
END_TEST

START_TEST(cluster_without_lws_crd_keeps_its_signals)
{
    const struct cluster_snapshot *s;
    struct serving v;
    size_t c = k8s_env_index(&env, "sv");
    struct err e = {0};

    /* sv serves no leaderworkerset.x-k8s.io group: the list is answered 404. */
    scale("sv", "embed", 3);
    for (int i = 0; i < 3; i++)
        v = poll_serving("sv");
    ck_assert_int_eq(v.health, SNAPSHOT_HEALTH_READY);
    ck_assert_int_eq(v.announced, 2); /* the Deployment signal still counts */
    ck_assert_msg(poller_poll_once(poller, &e) == 0, "%s", e.msg);
    s = poller_read_begin(poller);
    ck_assert(s->status[c].watch[CLUSTER_RES_LWS].absent);
    ck_assert(!s->status[c].watch[CLUSTER_RES_DEPLOYMENTS].absent);
    ck_assert_str_eq(s->status[c].last_error, "");
    ck_assert_uint_eq(s->status[c].errors_total, 0);
    ck_assert_int_eq(s->status[c].consecutive_failures, 0);
    poller_read_end(poller);
    ck_assert_str_eq(cluster_resource_name(CLUSTER_RES_LWS), "leaderworkersets");
}
END_TEST

/* Requests cluster name's API server answered whose "verb resource" starts with what. */
static uint64_t requests(const char *name, const char *what)
{
    struct sim_request_count rc[64];
    size_t n = sim_cluster_request_counts(sim_get_cluster(env.sim, name), rc, 64);
    uint64_t sum = 0;

    for (size_t i = 0; i < n && i < 64; i++)
        if (strncmp(rc[i].what, what, strlen(what)) == 0)
            sum += rc[i].n;
    return sum;
}

START_TEST(signals_are_read_only_where_there_is_a_serving_pool)
{
    poll_serving("train");
    ck_assert_uint_gt(requests("train", "list nodes"), 0);
    ck_assert_uint_eq(requests("train", "list deployments"), 0);
    ck_assert_uint_eq(requests("train", "list horizontalpodautoscalers"), 0);
    ck_assert_uint_gt(requests("sv", "list deployments.apps"), 0);
    ck_assert_uint_gt(requests("sv", "list horizontalpodautoscalers.autoscaling"), 0);
    ck_assert_uint_eq(requests("train", "list leaderworkersets"), 0);
    ck_assert_uint_gt(requests("lws", "list leaderworkersets.leaderworkerset.x-k8s.io"), 0);
}
END_TEST

/* Running (LIST then WATCH), a cluster without the CRD is asked again only after
 * absent_recheck_ms (500 ms here), never watched: no storm of 404s; the cluster with
 * LeaderWorkerSets lists them once and then watches. */
START_TEST(absent_lws_is_asked_again_only_after_the_backoff)
{
    struct poller_options o;
    struct err e = {0};
    uint64_t lists;

    poller_free(&poller);
    defaults_poller(&o);
    o.request_timeout_ms = 2000;
    o.absent_recheck_ms = 500;
    ck_assert_msg(poller_create(env.cfgs, env.n, &o, &poller, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(poller_start(poller, &e), 0);
    usleep(2200 * 1000);
    poller_stop(poller);
    lists = requests("sv", "list leaderworkersets");
    ck_assert_uint_ge(lists, 2); /* asked again: a CRD installed later is found */
    ck_assert_uint_le(lists, 6); /* 1 + 2200 / 500 at most */
    ck_assert_uint_eq(requests("sv", "watch leaderworkersets"), 0);
    ck_assert_uint_eq(requests("sv", "list deployments"), 1); /* listed, then watched */
    ck_assert_uint_eq(requests("lws", "list leaderworkersets"), 1);
    ck_assert_uint_ge(requests("lws", "watch leaderworkersets"), 1);
    ck_assert_int_eq(poll_serving("sv").health, SNAPSHOT_HEALTH_READY);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("serving_signals");
    TCase *tc = tcase_create("signals");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, hpa_announces_before_the_deployment_and_its_pods);
    tcase_add_test(tc, deployment_scale_up_announces_until_its_pods_exist);
    tcase_add_test(tc, refused_hpa_list_keeps_the_cluster_ready);
    tcase_add_test(tc, signals_are_read_only_where_there_is_a_serving_pool);
    tcase_add_test(tc, lws_group_scale_up_announces_whole_groups);
    tcase_add_test(tc, lws_announced_reaches_capacity);
    tcase_add_test(tc, cluster_without_lws_crd_keeps_its_signals);
    tcase_add_test(tc, absent_lws_is_asked_again_only_after_the_backoff);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
