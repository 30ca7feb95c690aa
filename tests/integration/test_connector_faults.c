/* test_connector_faults.c -- the connector (LIST+WATCH reflectors) against in-process
 * simulated clusters with every injected fault (latency/hang, 5xx, 429 with Retry-After,
 * expired continue tokens, dropped connections, malformed bodies, 401 and 403, a rotated
 * token). Watches are asked to end after 1 to 2 s here, so the faults, which the simulator
 * applies to each new request, reach the watch requests within seconds. For each: the
 * affected cluster's health and last error are reported, the other clusters keep fresh
 * data, and the cluster recovers by itself once the fault is gone. */
#include "base/clock.h"
#include "base/err.h"
#include "cluster/poller.h"
#include "tools/kubesim/kubesim.h"
#include "tests/support/k8s_sim.h"
#include "tests/support/defaults.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct k8s_env env;
static struct poller *poller;

/* Short timings so each fault shows up and heals within a couple of seconds. */
static void wait_health(const char *cluster, enum snapshot_health h, int timeout_ms);

/* Starts the poller on the three clusters and waits until every one is Ready: the tests
 * fault one and check that the others stay Ready and fresh (others_fresh()), which says
 * nothing unless they were Ready before (under asan, with a suite beside it, a cluster
 * once was still Unknown when that check came). */
static void start(int page_limit)
{
    struct poller_options o;
    struct err e = {0};

    defaults_poller(&o);
    o.interval_ms = 200;
    o.request_timeout_ms = 500;
    o.connect_timeout_ms = 500;
    o.backoff_base_ms = 100;
    o.backoff_max_ms = 400;
    o.unreachable_after_ms = 5000;
    o.publish_delay_ms = 100;
    o.watch_timeout_s = 1;
    o.watch_idle_ms = 2500; /* watches end every second (watch_timeout_s) */
    o.page_limit = page_limit;
    /* No prerequisite checks: their requests would take the faults meant for the polls and
     * count in the requests these tests count (test_prereq covers them). */
    o.prereq_interval_ms = 0;
    k8s_env_start(&env, "sim/faults.json", false);
    ck_assert_msg(poller_create(env.cfgs, env.n, &o, &poller, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(poller_start(poller, &e), 0);
    wait_health("alpha", SNAPSHOT_HEALTH_READY, 10000);
    wait_health("beta", SNAPSHOT_HEALTH_READY, 10000);
    wait_health("gamma", SNAPSHOT_HEALTH_READY, 10000);
}

static void stop(void)
{
    poller_free(&poller);
    k8s_env_stop(&env);
}

static void set_fault(const char *cluster, const struct sim_faults *f)
{
    struct err e = {0};

    ck_assert_int_eq(sim_set_faults(env.sim, cluster, f, &e), 0);
}

/* A copy of one cluster's status and serving/training totals from the current snapshot. */
struct view {
    enum snapshot_health health;
    char error[256];
    int64_t age_ms;
    uint64_t errors_by_kind[CLUSTER_ERR_KINDS];
    int total_gpus;
    int nodes;
    int64_t last_attempt_ms; /* wall clock, start of the last poll */
    int64_t poll_ms;         /* how long it took */
    int64_t next_attempt_ms; /* wall clock of the next poll: the back-off shows here */
};

static struct view look(const char *name)
{
    const struct cluster_snapshot *s = poller_read_begin(poller);
    int i = cluster_snapshot_find(s, name);
    struct view v;

    memset(&v, 0, sizeof(v));
    ck_assert_int_ge(i, 0);
    v.health = s->snap->clusters[i].health;
    snprintf(v.error, sizeof(v.error), "%s", s->status[i].last_error);
    v.age_ms =
        s->status[i].last_success_ms ? clock_realtime_ms() - s->status[i].last_success_ms : -1;
    memcpy(v.errors_by_kind, s->status[i].errors_by_kind, sizeof(v.errors_by_kind));
    v.last_attempt_ms = s->status[i].last_attempt_ms;
    v.poll_ms = s->status[i].poll_duration_ms;
    v.next_attempt_ms = s->status[i].next_attempt_ms;
    v.nodes = (int)s->snap->clusters[i].n_nodes;
    for (size_t k = 0; k < s->snap->n_skus; k++)
        for (int p = 0; p < SNAPSHOT_POOL_COUNT; p++)
            v.total_gpus +=
                snapshot_agg_const(s->snap, (size_t)i, (enum snapshot_pool)p, (int)k)->total;
    poller_read_end(poller);
    return v;
}

/* Makes the cluster list again (a changed config does), as a 410 on its watch would. */
static void relist(const char *cluster)
{
    struct err e = {0};
    size_t i = k8s_env_index(&env, cluster);

    snprintf(env.cfgs[i].region, sizeof(env.cfgs[i].region), "region-%lld",
             (long long)clock_mono_ms());
    ck_assert_int_eq(poller_set_clusters(poller, env.cfgs, env.n, &e), 0);
}

struct want {
    const char *cluster;
    enum snapshot_health health;
};

static bool has_health(void *arg)
{
    const struct want *w = arg;

    return look(w->cluster).health == w->health;
}

static void wait_health(const char *cluster, enum snapshot_health h, int timeout_ms)
{
    struct want w = {cluster, h};

    ck_assert_msg(k8s_wait_until(has_health, &w, timeout_ms), "%s not %s after %d ms (is %s: %s)",
                  cluster, snapshot_health_name(h), timeout_ms,
                  snapshot_health_name(look(cluster).health), look(cluster).error);
}

/* The clusters that were not touched are Ready with data younger than 2 s (ten poll
 * intervals of 200 ms: a stale cluster would be many seconds old; 1 s was missed by 9 ms
 * under asan with another suite beside it). */
static void others_fresh(const char *faulty)
{
    static const char *const all[] = {"alpha", "beta", "gamma"};

    for (int i = 0; i < 3; i++) {
        struct view v;

        if (strcmp(all[i], faulty) == 0)
            continue;
        v = look(all[i]);
        ck_assert_msg(v.health == SNAPSHOT_HEALTH_READY, "%s is %s", all[i],
                      snapshot_health_name(v.health));
        ck_assert_msg(v.age_ms >= 0 && v.age_ms < 2000, "%s data is %lld ms old", all[i],
                      (long long)v.age_ms);
    }
}

static void heal_and_check(const char *cluster)
{
    struct sim_faults none;
    struct view v;

    memset(&none, 0, sizeof(none));
    set_fault(cluster, &none);
    wait_health(cluster, SNAPSHOT_HEALTH_READY, 4000);
    v = look(cluster);
    ck_assert_str_eq(v.error, "");
    /* Its data is from after the heal: a serving cluster relists five resources (nodes,
     * pods, jobs, and since issue 17 deployments and HPAs), each after its own back-off,
     * which took 2.8 s under the CI's load; stale data would be the fault's age. */
    ck_assert_int_lt(v.age_ms, 4000);
    others_fresh(cluster);
}

START_TEST(all_ready_and_figures_match_the_simulator)
{
    struct view v;

    start(500);
    wait_health("alpha", SNAPSHOT_HEALTH_READY, 3000);
    wait_health("beta", SNAPSHOT_HEALTH_READY, 3000);
    wait_health("gamma", SNAPSHOT_HEALTH_READY, 3000);
    v = look("alpha");
    ck_assert_int_eq(v.nodes, 5);
    ck_assert_int_eq(v.total_gpus, 40);
    v = look("beta");
    ck_assert_int_eq(v.total_gpus, 24 + 16);
    {
        /* per-node usage agrees with the simulator's own placement */
        const struct cluster_snapshot *s = poller_read_begin(poller);
        int c = cluster_snapshot_find(s, "beta");
        struct sim_cluster *sc = sim_get_cluster(env.sim, "beta");
        int used_total = 0;

        for (size_t i = 0; i < s->snap->clusters[c].n_nodes; i++) {
            const struct snapshot_node *n = &s->snap->nodes[s->snap->clusters[c].node_first + i];
            int alloc, used;

            ck_assert_int_eq(sim_cluster_node_gpus(sc, n->name, &alloc, &used, NULL), 0);
            ck_assert_int_eq(n->allocatable, alloc);
            ck_assert_int_eq(n->used, used);
            used_total += used;
        }
        ck_assert_int_eq(used_total, 8 + 5); /* one busy A100 node, 5 serving replicas */
        poller_read_end(poller);
    }
    stop();
}
END_TEST

START_TEST(hung_cluster_times_out_without_delaying_others)
{
    struct sim_faults f;
    struct view v;

    start(500);
    wait_health("alpha", SNAPSHOT_HEALTH_READY, 3000);
    memset(&f, 0, sizeof(f));
    f.latency_ms = 5000; /* far beyond the 500 ms request timeout */
    set_fault("alpha", &f);
    wait_health("alpha", SNAPSHOT_HEALTH_DEGRADED, 6000);
    others_fresh("alpha");
    wait_health("alpha", SNAPSHOT_HEALTH_UNREACHABLE, 8000);
    v = look("alpha");
    ck_assert_msg(strstr(v.error, "Timeout") || strstr(v.error, "timed out"), "%s", v.error);
    ck_assert_int_ge(v.errors_by_kind[CLUSTER_ERR_TIMEOUT], 1);
    ck_assert_int_eq(v.nodes, 5); /* the last good data is kept, only marked stale */
    others_fresh("alpha");
    heal_and_check("alpha");
    stop();
}
END_TEST

START_TEST(server_errors_degrade_then_heal)
{
    struct sim_faults f;
    struct view v;

    start(500);
    wait_health("beta", SNAPSHOT_HEALTH_READY, 3000);
    memset(&f, 0, sizeof(f));
    f.status = 503;
    set_fault("beta", &f);
    wait_health("beta", SNAPSHOT_HEALTH_DEGRADED, 6000);
    v = look("beta");
    ck_assert_msg(strstr(v.error, "HTTP 503") && strstr(v.error, "ServiceUnavailable"), "%s",
                  v.error);
    ck_assert_int_ge(v.errors_by_kind[CLUSTER_ERR_HTTP_5XX], 1);
    others_fresh("beta");
    heal_and_check("beta");
    f.status = 500;
    set_fault("beta", &f);
    wait_health("beta", SNAPSHOT_HEALTH_DEGRADED, 6000);
    ck_assert_ptr_nonnull(strstr(look("beta").error, "HTTP 500"));
    heal_and_check("beta");
    stop();
}
END_TEST

START_TEST(rate_limit_honours_retry_after)
{
    struct sim_faults f;
    struct view v;
    uint64_t before, after;

    start(500);
    wait_health("gamma", SNAPSHOT_HEALTH_READY, 3000);
    memset(&f, 0, sizeof(f));
    f.status = 429;
    f.retry_after_s = 3;
    f.remaining = 1; /* one 429, then the cluster is fine again */
    set_fault("gamma", &f);
    wait_health("gamma", SNAPSHOT_HEALTH_DEGRADED, 6000);
    v = look("gamma");
    ck_assert_msg(strstr(v.error, "HTTP 429") && strstr(v.error, "TooManyRequests"), "%s", v.error);
    ck_assert_int_eq(v.errors_by_kind[CLUSTER_ERR_RATE_LIMITED], 1);
    /* Our own backoff would retry after at most 400 ms; Retry-After says 3 s. */
    before = sim_requests(env.sim, "gamma");
    usleep(1200 * 1000);
    after = sim_requests(env.sim, "gamma");
    ck_assert_msg(after == before, "%llu requests during Retry-After",
                  (unsigned long long)(after - before));
    others_fresh("gamma");
    wait_health("gamma", SNAPSHOT_HEALTH_READY, 5000);
    ck_assert_str_eq(look("gamma").error, "");
    stop();
}
END_TEST

/* Retry-After belongs to the answer that carried it. A 429 asking for 3 s, then a 503 that
 * asks for nothing: the 503 gets our own back-off (at most backoff_max_ms = 400 ms), not the
 * 429's stale 3 s. */
static bool has_5xx(void *arg)
{
    return look(arg).errors_by_kind[CLUSTER_ERR_HTTP_5XX] > 0;
}

START_TEST(retry_after_does_not_outlive_its_response)
{
    struct sim_faults f;
    struct view v;

    start(500);
    wait_health("gamma", SNAPSHOT_HEALTH_READY, 3000);
    memset(&f, 0, sizeof(f));
    f.status = 429;
    f.retry_after_s = 3;
    f.remaining = 1;
    set_fault("gamma", &f);
    wait_health("gamma", SNAPSHOT_HEALTH_DEGRADED, 6000);
    ck_assert_msg(strstr(look("gamma").error, "HTTP 429"), "%s", look("gamma").error);
    /* The poller now waits 3 s; the request after the wait gets a 503 without Retry-After. */
    memset(&f, 0, sizeof(f));
    f.status = 503;
    f.remaining = 1;
    set_fault("gamma", &f);
    /* Counted, not necessarily shown: the retry after 50 to 100 ms may succeed before the
     * next snapshot (at most one a 100 ms) would show the error. */
    ck_assert_msg(k8s_wait_until(has_5xx, "gamma", 6000), "no 503 counted: %s",
                  look("gamma").error);
    v = look("gamma");
    ck_assert_int_eq(v.errors_by_kind[CLUSTER_ERR_RATE_LIMITED], 1);
    ck_assert_int_eq(v.errors_by_kind[CLUSTER_ERR_HTTP_5XX], 1);
    /* the 503 is retried after our own back-off (at most 400 ms), and the cluster is
     * healthy again well before a stale 3 s would end */
    wait_health("gamma", SNAPSHOT_HEALTH_READY, 1500);
    others_fresh("gamma");
    stop();
}
END_TEST

static bool expired_seen(void *arg)
{
    return look(arg).errors_by_kind[CLUSTER_ERR_EXPIRED] > 0;
}

START_TEST(expired_continue_restarts_the_list)
{
    struct sim_faults f;
    struct view v;
    uint64_t polls_before;

    start(2); /* two items a page: every list needs continue tokens */
    wait_health("alpha", SNAPSHOT_HEALTH_READY, 3000);
    memset(&f, 0, sizeof(f));
    f.expire_continue = true;
    f.remaining = 1; /* the next continue request gets 410 once */
    set_fault("alpha", &f);
    {
        const struct cluster_snapshot *s = poller_read_begin(poller);

        polls_before = s->status[cluster_snapshot_find(s, "alpha")].polls_total;
        poller_read_end(poller);
    }
    relist("alpha");
    /* The re-list meets the 410 on its second page, within the cluster's rate limit. */
    ck_assert_msg(k8s_wait_until(expired_seen, "alpha", 6000), "no expired continue counted");
    usleep(500 * 1000); /* and the restarted list completes */
    v = look("alpha");
    ck_assert_int_eq(v.errors_by_kind[CLUSTER_ERR_EXPIRED], 1);
    /* the restart happened inside one list: still Ready, with the full, undoubled list */
    ck_assert_int_eq(v.health, SNAPSHOT_HEALTH_READY);
    ck_assert_int_eq(v.nodes, 5);
    ck_assert_int_eq(v.total_gpus, 40);
    {
        const struct cluster_snapshot *s = poller_read_begin(poller);
        int c = cluster_snapshot_find(s, "alpha");

        ck_assert_uint_gt(s->status[c].polls_total, polls_before);
        /* counted, and recovered at once: no failure in a row */
        ck_assert_int_eq(s->status[c].errors_total, 1);
        ck_assert_int_eq(s->status[c].consecutive_failures, 0);
        ck_assert_int_eq(snapshot_agg_const(s->snap, (size_t)c, SNAPSHOT_POOL_TRAINING,
                                            snapshot_sku_find(s->snap, "h100-80gb"))
                             ->used,
                         16);
        poller_read_end(poller);
    }
    /* When every continue expires, the list gives up after a few restarts. */
    f.remaining = 0;
    set_fault("alpha", &f);
    relist("alpha");
    wait_health("alpha", SNAPSHOT_HEALTH_DEGRADED, 6000);
    ck_assert_ptr_nonnull(strstr(look("alpha").error, "expired"));
    others_fresh("alpha");
    heal_and_check("alpha");
    stop();
}
END_TEST

START_TEST(dropped_connections)
{
    struct sim_faults f;
    struct view v;

    start(500);
    wait_health("beta", SNAPSHOT_HEALTH_READY, 3000);
    memset(&f, 0, sizeof(f));
    f.drop = true;
    set_fault("beta", &f);
    wait_health("beta", SNAPSHOT_HEALTH_DEGRADED, 6000);
    v = look("beta");
    ck_assert_int_ge(v.errors_by_kind[CLUSTER_ERR_CONNECT], 1);
    /* The error names the request of the resource failing most: any of the four (the
     * fault cuts every open watch of the cluster at once). */
    ck_assert_msg(strstr(v.error, " /api/v1/") || strstr(v.error, " /apis/"), "%s", v.error);
    others_fresh("beta");
    wait_health("beta", SNAPSHOT_HEALTH_UNREACHABLE, 8000);
    heal_and_check("beta");
    stop();
}
END_TEST

START_TEST(malformed_bodies)
{
    struct sim_faults f;
    struct view v;

    start(500);
    wait_health("gamma", SNAPSHOT_HEALTH_READY, 3000);
    memset(&f, 0, sizeof(f));
    f.malformed = true;
    f.watch_garble = true; /* the watch's first event is broken: it lists again */
    set_fault("gamma", &f);
    usleep(2500 * 1000); /* the watches open now are the faulty ones */
    {
        /* an event for the watch to carry: a node cordoned */
        struct sim_node_view n;
        struct sim_cluster *sc = sim_get_cluster(env.sim, "gamma");

        ck_assert_uint_ge(sim_cluster_nodes(sc, &n, 1), 1);
        ck_assert_int_eq(sim_cluster_set_node(sc, n.name, true, true, NULL), 0);
    }
    wait_health("gamma", SNAPSHOT_HEALTH_DEGRADED, 6000);
    v = look("gamma");
    ck_assert_int_ge(v.errors_by_kind[CLUSTER_ERR_MALFORMED], 1);
    ck_assert_msg(strstr(v.error, "malformed JSON"), "%s", v.error);
    ck_assert_int_eq(v.nodes, 3); /* a bad body never replaces good data */
    others_fresh("gamma");
    heal_and_check("gamma");
    stop();
}
END_TEST

START_TEST(unauthorized)
{
    struct sim_faults f;
    struct view v;

    start(500);
    wait_health("alpha", SNAPSHOT_HEALTH_READY, 3000);
    memset(&f, 0, sizeof(f));
    f.unauthorized = true;
    set_fault("alpha", &f);
    wait_health("alpha", SNAPSHOT_HEALTH_UNAUTHORIZED, 6000);
    v = look("alpha");
    ck_assert_msg(strstr(v.error, "HTTP 401"), "%s", v.error);
    ck_assert_int_ge(v.errors_by_kind[CLUSTER_ERR_UNAUTHORIZED], 1);
    others_fresh("alpha");
    heal_and_check("alpha");
    stop();
}
END_TEST

/* 403 is the other authorization failure: a valid token whose service account lacks the
 * RBAC to list nodes or pods. The server answers with a Status, reason Forbidden; the
 * cluster is Unauthorized (an operator must fix its credentials), not Degraded. */
START_TEST(forbidden)
{
    struct sim_faults f;
    struct view v;
    const struct cluster_snapshot *s;
    int c;

    start(500);
    wait_health("alpha", SNAPSHOT_HEALTH_READY, 3000);
    memset(&f, 0, sizeof(f));
    f.status = 403;
    set_fault("alpha", &f);
    wait_health("alpha", SNAPSHOT_HEALTH_UNAUTHORIZED, 6000);
    v = look("alpha");
    ck_assert_msg(strstr(v.error, "HTTP 403") && strstr(v.error, "Forbidden"), "%s", v.error);
    ck_assert_int_ge(v.errors_by_kind[CLUSTER_ERR_UNAUTHORIZED], 1);
    ck_assert_int_eq(v.errors_by_kind[CLUSTER_ERR_OTHER], 0);
    s = poller_read_begin(poller);
    c = cluster_snapshot_find(s, "alpha");
    ck_assert_int_eq(s->status[c].last_error_code, ERR_FORBIDDEN);
    poller_read_end(poller);
    others_fresh("alpha");
    heal_and_check("alpha");
    stop();
}
END_TEST

START_TEST(rotated_token_is_picked_up)
{
    size_t i;
    FILE *f;

    start(500);
    wait_health("beta", SNAPSHOT_HEALTH_READY, 3000);
    i = k8s_env_index(&env, "beta");
    /* a wrong token: the server says 401 */
    usleep(20 * 1000); /* a distinct mtime */
    f = fopen(env.cfgs[i].token_file, "w");
    ck_assert_ptr_nonnull(f);
    fputs("stale-token\n", f);
    fclose(f);
    wait_health("beta", SNAPSHOT_HEALTH_UNAUTHORIZED, 6000);
    others_fresh("beta");
    usleep(20 * 1000);
    f = fopen(env.cfgs[i].token_file, "w");
    fputs("beta-secret\n", f);
    fclose(f);
    wait_health("beta", SNAPSHOT_HEALTH_READY, 3000);
    stop();
}
END_TEST

START_TEST(cluster_set_changes_at_runtime)
{
    struct cluster_config *two;
    struct err e = {0};
    const struct cluster_snapshot *s;

    start(500);
    wait_health("gamma", SNAPSHOT_HEALTH_READY, 3000);
    /* drop alpha, keep beta and gamma, cordon gamma */
    two = calloc(2, sizeof(*two));
    two[0] = env.cfgs[k8s_env_index(&env, "beta")];
    two[1] = env.cfgs[k8s_env_index(&env, "gamma")];
    two[1].cordoned = true;
    ck_assert_int_eq(poller_set_clusters(poller, two, 2, &e), 0);
    usleep(500 * 1000);
    s = poller_read_begin(poller);
    ck_assert_int_eq(s->snap->n_clusters, 2);
    ck_assert_int_eq(cluster_snapshot_find(s, "alpha"), -1);
    ck_assert(s->snap->clusters[cluster_snapshot_find(s, "gamma")].cordoned);
    ck_assert_int_eq(s->snap->clusters[cluster_snapshot_find(s, "gamma")].health,
                     SNAPSHOT_HEALTH_READY);
    poller_read_end(poller);
    /* duplicates are refused */
    two[0] = two[1];
    ck_assert_int_eq(poller_set_clusters(poller, two, 2, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    free(two);
    stop();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("connector_faults");
    TCase *tc = tcase_create("faults");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, all_ready_and_figures_match_the_simulator);
    tcase_add_test(tc, hung_cluster_times_out_without_delaying_others);
    tcase_add_test(tc, server_errors_degrade_then_heal);
    tcase_add_test(tc, rate_limit_honours_retry_after);
    tcase_add_test(tc, retry_after_does_not_outlive_its_response);
    tcase_add_test(tc, expired_continue_restarts_the_list);
    tcase_add_test(tc, dropped_connections);
    tcase_add_test(tc, malformed_bodies);
    tcase_add_test(tc, unauthorized);
    tcase_add_test(tc, forbidden);
    tcase_add_test(tc, rotated_token_is_picked_up);
    tcase_add_test(tc, cluster_set_changes_at_runtime);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
