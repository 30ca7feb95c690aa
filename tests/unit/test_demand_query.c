/* test_demand_query.c -- issue 17's optional serving-demand signal: a serving pool's
 * Prometheus demand query (servingPool.demandQuery) asked by the connector against a fake
 * Prometheus (tests/support/fake_prom.h) beside the simulator. Its figure (serving GPUs
 * wanted in all) adds to announced_serving only what goes beyond serving use, pending and
 * announced demand, and shows in GET /v1/clusters/{name}, GET /v1/capacity and /metrics;
 * every failed or hostile answer is ignored without touching the cluster's health (the last
 * good figure counts until maxAgeSeconds, then none); off by default; asked without
 * blocking the poller thread. */
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "cluster/cluster_snapshot.h"
#include "cluster/poller.h"
#include "tests/support/defaults.h"
#include "tests/support/fake_prom.h"
#include "tests/support/k8s_sim.h"
#include "tools/kubesim/kubesim.h"
#include "tools/kubesim/kubesim_cluster.h"

#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 06:00 UTC, peakHour 18: chat's curve is flat at 1 replica of 8 H100s, so serving uses 8
 * of 32 serving GPUs; free 24, reserve 1. */
#define CLUSTER(name)                                                                              \
    "{\"name\":\"" name "\",\"nodePools\":[{\"name\":\"h100\",\"count\":4,\"product\":"            \
    "\"NVIDIA-H100-80GB-HBM3\",\"gpus\":8,\"pool\":\"serving\"}],\"deployments\":[{\"name\":"      \
    "\"chat\",\"namespace\":\"serving\",\"gpusPerReplica\":8,\"product\":"                         \
    "\"NVIDIA-H100-80GB-HBM3\",\"minReplicas\":1,\"maxReplicas\":3,\"autoscaler\":"                \
    "{\"delaySeconds\":600},\"rolloutDelaySeconds\":600}]}"

static const char *scn_text = "{\"startTime\":\"2026-11-28T06:00:00Z\",\"timeScale\":1,"
                              "\"clusters\":[" CLUSTER("dq") "," CLUSTER("plain") "]}";

static struct k8s_env env;
static struct poller *poller;
static struct fake_prom *prom;

/* A poller over the scenario with cluster dq's demand query pointing at the fake. */
static void start_poller(int interval_ms, int max_age_ms, int timeout_ms)
{
    struct cluster_config *cfgs = calloc(env.n, sizeof(*cfgs));
    struct cluster_demand_query *q = &cfgs[k8s_env_index(&env, "dq")].serving.demand_query;
    struct poller_options o;
    struct err e = {0};

    memcpy(cfgs, env.cfgs, env.n * sizeof(*cfgs));
    q->enabled = true;
    snprintf(q->url, sizeof(q->url), "%s/", fake_prom_url(prom));
    snprintf(q->query, sizeof(q->query), "%s", "sum(llm_gpus_wanted{pool=\"serving\"})");
    q->timeout_ms = timeout_ms;
    q->interval_ms = interval_ms;
    q->max_age_ms = max_age_ms;
    ck_assert_msg(cluster_config_validate(&cfgs[k8s_env_index(&env, "dq")], NULL, &e) == 0, "%s",
                  e.msg);
    defaults_poller(&o);
    o.request_timeout_ms = 2000;
    ck_assert_msg(poller_create(cfgs, env.n, &o, &poller, &e) == 0, "%s", e.msg);
    free(cfgs);
}

static void setup(void)
{
    k8s_env_start_text(&env, scn_text, true);
    prom = fake_prom_start();
}

static void teardown(void)
{
    poller_free(&poller);
    fake_prom_stop(&prom);
    k8s_env_stop(&env);
}

struct view {
    int announced, lendable, free, reserve, serving_used, pending;
    enum snapshot_health health;
    char last_error[256];
    struct cluster_demand_status dq;
};

static struct view read_view(const char *name)
{
    const struct cluster_snapshot *s = poller_read_begin(poller);
    size_t c = k8s_env_index(&env, name);
    int k = snapshot_sku_find(s->snap, "h100-80gb");
    const struct snapshot_agg *a = snapshot_agg_const(s->snap, c, SNAPSHOT_POOL_SERVING, k);
    struct view v = {a->announced_serving,
                     a->lendable,
                     a->free,
                     a->reserve,
                     a->used - a->borrowed,
                     a->pending_serving,
                     s->snap->clusters[c].health,
                     "",
                     s->status[c].demand};

    snprintf(v.last_error, sizeof(v.last_error), "%s", s->status[c].last_error);
    poller_read_end(poller);
    return v;
}

static struct view poll_view(const char *name)
{
    struct err e = {0};

    ck_assert_msg(poller_poll_once(poller, &e) == 0, "%s", e.msg);
    return read_view(name);
}

/* The serving h100-80gb entry of a capacity array: its announcedServing and lendable. */
static void capacity_entry(json_t *cap, json_int_t *announced, json_int_t *lendable)
{
    json_t *x;
    size_t i;

    *announced = *lendable = -1;
    json_array_foreach(cap, i, x)
    {
        if (strcmp(json_string_value(json_object_get(x, "sku")), "h100-80gb") == 0 &&
            strcmp(json_string_value(json_object_get(x, "pool")), "serving") == 0) {
            *announced = json_integer_value(json_object_get(x, "announcedServing"));
            *lendable = json_integer_value(json_object_get(x, "lendable"));
        }
    }
}

START_TEST(figure_reaches_announced_serving_and_the_api)
{
    const struct cluster_snapshot *s;
    struct view v;
    json_t *one, *cap, *dq;
    json_int_t announced, lendable;
    char line[512];
    struct buf b;

    start_poller(1000, 120000, 1000);
    fake_prom_set_vector(prom, "19.5");
    v = poll_view("dq");
    ck_assert_int_eq(v.health, SNAPSHOT_HEALTH_READY);
    ck_assert_int_eq(v.serving_used, 8);
    ck_assert_int_eq(v.pending, 0);
    /* Wanted 20 (19.5 rounded up) in all, 8 in use: 12 more announced. */
    ck_assert_int_eq(v.announced, 12);
    ck_assert_int_eq(v.dq.added, 12);
    ck_assert_int_eq(v.lendable, v.free - v.reserve - 12);
    ck_assert_str_eq(v.dq.sku, "h100-80gb");
    ck_assert_int_eq(v.dq.last, PROMQ_OK);
    ck_assert_uint_eq(v.dq.results[PROMQ_OK], 1);
    fake_prom_last_request(prom, line, sizeof(line));
    ck_assert_str_eq(line, "GET /api/v1/query?query=sum%28llm_gpus_wanted%7Bpool%3D%22serving%22"
                           "%7D%29 HTTP/1.1");
    /* Cluster plain has no query: nothing of it there. */
    ck_assert_int_eq(read_view("plain").announced, 0);
    ck_assert(!read_view("plain").dq.configured);

    s = poller_read_begin(poller);
    one = cluster_snapshot_cluster_json(s, k8s_env_index(&env, "dq"), clock_realtime_ms());
    cap = cluster_snapshot_capacity_json(s, clock_realtime_ms());
    buf_init(&b, 1 << 20);
    ck_assert_int_eq(cluster_snapshot_prometheus(s, clock_realtime_ms(), &b), 0);
    poller_read_end(poller);
    capacity_entry(json_object_get(one, "capacity"), &announced, &lendable);
    ck_assert_int_eq(announced, 12);
    capacity_entry(json_object_get(cap, "capacity"), &announced, &lendable);
    ck_assert_int_eq(announced, 12); /* plain adds 0 */
    dq = json_object_get(one, "demandQuery");
    ck_assert_double_eq(json_real_value(json_object_get(dq, "figure")), 19.5);
    ck_assert_int_eq(json_integer_value(json_object_get(dq, "addedGpus")), 12);
    ck_assert_str_eq(json_string_value(json_object_get(dq, "sku")), "h100-80gb");
    ck_assert_str_eq(json_string_value(json_object_get(dq, "lastResult")), "ok");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(dq, "results"), "ok")), 1);
    ck_assert(json_is_string(json_object_get(dq, "figureAt")));
    ck_assert_ptr_nonnull(
        strstr(b.data, "fedsched_cluster_gpus{cluster=\"dq\",sku=\"h100-80gb\",pool=\"serving\","
                       "state=\"announced_serving\"} 12\n"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "fedsched_cluster_demand_query_total{cluster=\"dq\",result=\"ok\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "fedsched_cluster_demand_query_gpus{cluster=\"dq\",kind=\"added\"} 12\n"));
    ck_assert_ptr_null(strstr(b.data, "fedsched_cluster_demand_query_total{cluster=\"plain\""));
    buf_free(&b);
    json_decref(one);
    json_decref(cap);
}
END_TEST

/* The figure is demand in all: what the HPA already announced is not counted twice. */
START_TEST(figure_is_not_counted_twice_with_announced_replicas)
{
    struct err e = {0};
    struct view v;

    start_poller(1000, 120000, 1000);
    fake_prom_set_vector(prom, "20");
    ck_assert_int_eq(
        sim_cluster_deployment_scale(sim_get_cluster(env.sim, "dq"), "serving", "chat", 3, &e), 0);
    /* The HPA announces (3 - 1) x 8 = 16; known 8 + 16 = 24 >= 20: the query adds nothing. */
    v = poll_view("dq");
    ck_assert_int_eq(v.announced, 16);
    ck_assert_int_eq(v.dq.added, 0);
    /* Wanting more than that: 30 - 24 = 6 on top. */
    usleep(1050 * 1000);
    fake_prom_set_vector(prom, "30");
    v = poll_view("dq");
    ck_assert_int_eq(v.announced, 22);
    ck_assert_int_eq(v.dq.added, 6);
}
END_TEST

/* Each failed or hostile answer: counted by result, the cluster stays Ready without an
 * error, the last good figure still counts (within maxAgeSeconds). */
START_TEST(failed_answers_are_ignored_without_a_health_change)
{
    static const struct {
        int status, delay_ms;
        const char *body;
        enum promq_result want;
    } answers[] = {
        {503, 0, "{\"status\":\"error\",\"errorType\":\"timeout\",\"error\":\"query timed out\"}",
         PROMQ_ERROR},
        {502, 0, "<html>bad gateway</html>", PROMQ_HTTP},
        {200, 0, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}",
         PROMQ_EMPTY},
        {200, 0, "\x7f\xff garbage {{{", PROMQ_MALFORMED},
        {200, 0,
         "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1000000000,"
         "\"40\"]}}",
         PROMQ_STALE},
        {200, 1500, "{}", PROMQ_TIMEOUT},
    };
    struct view v;

    start_poller(1000, 120000, 1000);
    fake_prom_set_vector(prom, "20");
    v = poll_view("dq");
    ck_assert_int_eq(v.announced, 12);
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        usleep(1050 * 1000); /* the next query is due */
        fake_prom_set(prom, answers[i].status, answers[i].body, answers[i].delay_ms);
        v = poll_view("dq");
        ck_assert_msg(v.dq.last == answers[i].want, "answer %zu: %s, want %s (%s)", i,
                      promq_result_name(v.dq.last), promq_result_name(answers[i].want),
                      v.dq.last_error);
        ck_assert_uint_eq(v.dq.results[answers[i].want], 1);
        ck_assert_int_eq(v.health, SNAPSHOT_HEALTH_READY);
        ck_assert_str_eq(v.last_error, "");
        ck_assert_msg(v.announced == 12, "answer %zu: announced %d", i, v.announced);
        ck_assert_str_ne(v.dq.last_error, "");
    }
    ck_assert_uint_eq(v.dq.results[PROMQ_OK], 1);
    /* Good again: the new figure replaces the old. */
    usleep(1050 * 1000);
    fake_prom_set_vector(prom, "10");
    v = poll_view("dq");
    ck_assert_int_eq(v.dq.last, PROMQ_OK);
    ck_assert_int_eq(v.announced, 2);
    ck_assert_str_eq(v.dq.last_error, "");
}
END_TEST

/* A figure older than maxAgeSeconds no longer counts; the pool lends again. */
START_TEST(a_figure_expires_after_max_age)
{
    struct view v;
    int lendable;

    start_poller(1000, 1000, 500);
    fake_prom_set_vector(prom, "20");
    v = poll_view("dq");
    ck_assert_int_eq(v.announced, 12);
    lendable = v.lendable;
    fake_prom_set(prom, 503, "", 0);
    usleep(1300 * 1000);
    v = poll_view("dq");
    ck_assert_int_eq(v.dq.last, PROMQ_HTTP);
    ck_assert_int_eq(v.dq.figure_ms, 0);
    ck_assert_int_eq(v.announced, 0);
    ck_assert_int_eq(v.dq.added, 0);
    ck_assert_int_eq(v.lendable, lendable + 12);
    ck_assert_int_eq(v.health, SNAPSHOT_HEALTH_READY);
}
END_TEST

/* Without demandQuery nothing is asked and nothing shows. */
START_TEST(off_by_default)
{
    struct poller_options o;
    struct err e = {0};
    const struct cluster_snapshot *s;
    json_t *one;
    struct buf b;

    fake_prom_set_vector(prom, "20");
    defaults_poller(&o);
    o.request_timeout_ms = 2000;
    ck_assert_msg(poller_create(env.cfgs, env.n, &o, &poller, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(poll_view("dq").announced, 0);
    ck_assert_uint_eq(fake_prom_requests(prom), 0);
    s = poller_read_begin(poller);
    one = cluster_snapshot_cluster_json(s, k8s_env_index(&env, "dq"), 0);
    buf_init(&b, 1 << 20);
    ck_assert_int_eq(cluster_snapshot_prometheus(s, 0, &b), 0);
    poller_read_end(poller);
    ck_assert(json_is_null(json_object_get(one, "demandQuery")));
    ck_assert_ptr_null(strstr(b.data, "fedsched_cluster_demand_query_total{"));
    buf_free(&b);
    json_decref(one);
}
END_TEST

/* Running: the query is asked on its own thread, every intervalMs. While it hangs (the fake
 * answers after 2.5 s) the poller thread goes on: a scale-up announced meanwhile is
 * published before the answer comes; then the figure adds what goes beyond it. */
static int want_announced;

static bool announced_is(void *arg)
{
    (void)arg;
    return read_view("dq").announced == want_announced;
}

START_TEST(a_hanging_query_does_not_hold_up_the_poller)
{
    struct err e = {0};
    char body[512];
    int64_t t0;

    start_poller(1000, 120000, 10000);
    snprintf(body, sizeof(body),
             "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[%.3f,"
             "\"20\"]}}",
             (double)clock_realtime_ms() / 1000.0 + 2.5);
    fake_prom_set(prom, 200, body, 2500);
    ck_assert_int_eq(poller_start(poller, &e), 0);
    t0 = clock_mono_ms();
    usleep(200 * 1000);
    ck_assert_int_eq(
        sim_cluster_deployment_scale(sim_get_cluster(env.sim, "dq"), "serving", "chat", 2, &e), 0);
    want_announced = 8; /* (2 - 1) x 8 from the HPA, the query still unanswered */
    ck_assert(k8s_wait_until(announced_is, NULL, 1500));
    ck_assert_msg(clock_mono_ms() - t0 < 2400, "seen only after %lld ms",
                  (long long)(clock_mono_ms() - t0));
    ck_assert(!read_view("dq").dq.last_ms);
    want_announced = 12; /* 20 wanted, 8 used + 8 announced: 4 more */
    ck_assert(k8s_wait_until(announced_is, NULL, 5000));
    poller_stop(poller);
    ck_assert_uint_ge(fake_prom_requests(prom), 1);
    ck_assert_int_eq(read_view("dq").health, SNAPSHOT_HEALTH_READY);
}
END_TEST

/* Stopping the poller cancels a query in flight: no wait for a slow Prometheus. */
START_TEST(stopping_cancels_a_query_in_flight)
{
    struct err e = {0};
    int64_t t0;

    start_poller(1000, 120000, 20000);
    fake_prom_set(prom, 200, "{}", 3000);
    ck_assert_int_eq(poller_start(poller, &e), 0);
    usleep(400 * 1000);
    ck_assert_uint_eq(fake_prom_requests(prom), 1); /* asked, not answered */
    t0 = clock_mono_ms();
    poller_stop(poller);
    ck_assert_msg(clock_mono_ms() - t0 < 1500, "poller_stop took %lld ms",
                  (long long)(clock_mono_ms() - t0));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("demand_query");
    TCase *tc = tcase_create("demand_query");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, figure_reaches_announced_serving_and_the_api);
    tcase_add_test(tc, figure_is_not_counted_twice_with_announced_replicas);
    tcase_add_test(tc, failed_answers_are_ignored_without_a_health_change);
    tcase_add_test(tc, a_figure_expires_after_max_age);
    tcase_add_test(tc, off_by_default);
    tcase_add_test(tc, a_hanging_query_does_not_hold_up_the_poller);
    tcase_add_test(tc, stopping_cancels_a_query_in_flight);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
