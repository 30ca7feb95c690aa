/* test_e2e.c -- the scheduler's acceptance runs against a real PostgreSQL, `fedsched serve`
 * replicas and an in-process simulator: 1,000 jobs to Succeeded without over-committing a
 * node; borrowing off-peak and reclaim at peak; kill -9 of the leader twenty times;
 * a PostgreSQL restart and a member-cluster outage. */
#include "tests/integration/test_sched_env.h"

#include <check.h>
#include <pthread.h>

static struct senv env;

static void teardown(void)
{
    senv_stop(&env);
}

/* ---- watching the simulator while a test runs ------------------------------------------- */

struct watch {
    struct senv *v;
    pthread_t thread;
    bool stop;
    pthread_mutex_t mu;
    int overcommitted; /* samples with a node above its allocatable GPUs */
    int twice;         /* samples with a job running two objects at once */
    char twice_uid[64];
    int64_t max_pending_serving_ms; /* longest a serving pod stayed unbound (real ms) */
    double time_scale;
    int samples;
};

/* Running (not finished, not being deleted) objects per job uid across all clusters. */
static void check_objects(struct watch *w)
{
    json_t *seen = json_object();

    for (size_t i = 0; i < sim_cluster_count(w->v->sim); i++) {
        struct sim_cluster *c = sim_get_cluster(w->v->sim, sim_cluster_name_at(w->v->sim, i));
        struct sim_query q;
        struct sim_reply r;
        json_t *list, *it;
        size_t k;

        memset(&q, 0, sizeof(q));
        q.label_selector = "app.kubernetes.io/managed-by=fedsched";
        sim_cluster_handle(c, "GET", "/apis/batch/v1/jobs", &q, NULL, 0, &r);
        list = json_loadb(r.body, r.len, 0, NULL);
        free(r.body);
        json_array_foreach(json_object_get(list, "items"), k, it)
        {
            const json_t *md = json_object_get(it, "metadata");
            const char *uid = json_string_value(
                json_object_get(json_object_get(md, "labels"), "fedsched.io/job-uid"));
            const json_t *conds = json_object_get(json_object_get(it, "status"), "conditions");

            if (!uid || json_object_get(md, "deletionTimestamp") || json_array_size(conds))
                continue;
            if (json_object_get(seen, uid)) {
                pthread_mutex_lock(&w->mu);
                w->twice++;
                snprintf(w->twice_uid, sizeof(w->twice_uid), "%s", uid);
                pthread_mutex_unlock(&w->mu);
            }
            json_object_set_new(seen, uid, json_true());
        }
        json_decref(list);
    }
    json_decref(seen);
}

/* Serving pods without a node: how long they have waited, in real milliseconds. */
static void check_serving(struct watch *w)
{
    for (size_t i = 0; i < sim_cluster_count(w->v->sim); i++) {
        struct sim_cluster *c = sim_get_cluster(w->v->sim, sim_cluster_name_at(w->v->sim, i));
        struct sim_query q;
        struct sim_reply r;
        json_t *list, *it;
        size_t k;
        int64_t now = sim_now_ms(w->v->sim);

        memset(&q, 0, sizeof(q));
        sim_cluster_handle(c, "GET", "/api/v1/namespaces/serving/pods", &q, NULL, 0, &r);
        list = json_loadb(r.body, r.len, 0, NULL);
        free(r.body);
        json_array_foreach(json_object_get(list, "items"), k, it)
        {
            const char *node =
                json_string_value(json_object_get(json_object_get(it, "spec"), "nodeName"));
            const char *created = json_string_value(
                json_object_get(json_object_get(it, "metadata"), "creationTimestamp"));
            int64_t at = 0, waited;

            if (node || !created || clock_parse_rfc3339(created, &at))
                continue;
            waited = (int64_t)((double)(now - at) / w->time_scale);
            pthread_mutex_lock(&w->mu);
            if (waited > w->max_pending_serving_ms)
                w->max_pending_serving_ms = waited;
            pthread_mutex_unlock(&w->mu);
        }
        json_decref(list);
    }
}

static void *watch_main(void *arg)
{
    struct watch *w = arg;

    for (;;) {
        bool stop;

        pthread_mutex_lock(&w->mu);
        stop = w->stop;
        pthread_mutex_unlock(&w->mu);
        if (stop)
            break;
        for (size_t i = 0; i < sim_cluster_count(w->v->sim); i++) {
            struct sim_node_view nodes[128];
            size_t n = sim_cluster_nodes(
                sim_get_cluster(w->v->sim, sim_cluster_name_at(w->v->sim, i)), nodes, 128);

            for (size_t k = 0; k < n && k < 128; k++) {
                if (nodes[k].used > nodes[k].allocatable) {
                    pthread_mutex_lock(&w->mu);
                    w->overcommitted++;
                    pthread_mutex_unlock(&w->mu);
                }
            }
        }
        check_objects(w);
        check_serving(w);
        pthread_mutex_lock(&w->mu);
        w->samples++;
        pthread_mutex_unlock(&w->mu);
        usleep(50 * 1000);
    }
    return NULL;
}

static void watch_start(struct watch *w, struct senv *v, double time_scale)
{
    memset(w, 0, sizeof(*w));
    w->v = v;
    w->time_scale = time_scale;
    pthread_mutex_init(&w->mu, NULL);
    ck_assert_int_eq(pthread_create(&w->thread, NULL, watch_main, w), 0);
}

static void watch_stop(struct watch *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
}

/* Waits until no job of the database is live, or fails after timeout_ms. */
static void wait_all_final(struct senv *v, int timeout_ms)
{
    int64_t until = clock_mono_ms() + timeout_ms;
    long live = -1;

    while (clock_mono_ms() < until) {
        live = senv_sql_long(v, "SELECT count(*) FROM jobs WHERE phase NOT IN"
                                " ('Succeeded', 'Failed', 'Cancelled')");
        if (live == 0)
            return;
        usleep(200 * 1000);
    }
    /* What they are doing, so a failure says where they stuck. */
    {
        char *what =
            itest_sql(v->dsn, "SELECT string_agg(format('%s %s cluster=%s attempt=%s reason=%s"
                              " message=%s idle=%ss', name, phase, cluster, attempt, reason,"
                              " message, round(extract(epoch FROM now() - updated_at))), '; ')"
                              " FROM jobs WHERE phase NOT IN ('Succeeded', 'Failed',"
                              " 'Cancelled')");

        ck_abort_msg("%ld jobs still live after %d ms: %s", live, timeout_ms, what ? what : "");
    }
}

/* Every job ended exactly once, as Succeeded. */
static void assert_each_succeeded_once(struct senv *v, long jobs)
{
    ck_assert_int_eq(senv_sql_long(v, "SELECT count(*) FROM jobs"), jobs);
    ck_assert_int_eq(senv_sql_long(v, "SELECT count(*) FROM jobs WHERE phase = 'Succeeded'"), jobs);
    ck_assert_int_eq(senv_sql_long(v, "SELECT count(*) FROM job_events WHERE to_phase IN"
                                      " ('Succeeded', 'Failed', 'Cancelled')"),
                     jobs);
}

#define E2E_BASE                                                                                   \
    "\"poller\": {\"intervalMs\": 200, \"sampleIntervalS\": 5, \"registrySyncS\": 1},"             \
    "\"scheduler\": {\"cycleIntervalMs\": 200, \"gcIntervalS\": 1, \"missingGraceS\": 5,"          \
    "\"dispatchBackoffBaseS\": 1, \"dispatchBackoffMaxS\": 2, \"leaderRetryMs\": 200,"             \
    "\"leaderRenewMs\": 200"

/* 1. 1,000 jobs of mixed SKUs and sizes over the API to three clusters: all Succeeded, each
 * once, and no node ever had more GPUs placed than allocatable (the simulator's view). */
START_TEST(thousand_jobs_succeed)
{
    static const struct {
        const char *sku;
        int gpus[3];
    } mix[] = {{"a100-80gb", {4, 8, 16}},
               {"h100-80gb", {8, 8, 16}},
               {"v100-32gb", {4, 8, 16}},
               {"l4", {1, 2, 4}}};
    struct watch w;
    char name[32];
    int64_t t0;

    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env,
                E2E_BASE ", \"jobAnnotations\": {\"sim.fedsched.io/duration-seconds\": \"600\"}}",
                "", NULL);
    senv_serve(&env, 0, NULL);
    watch_start(&w, &env, 3600);
    t0 = clock_mono_ms();
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "job-%04d", i);
        free(senv_submit(env.srv[0].base, i % 2 ? "team-a" : "team-b", name, mix[i % 4].sku,
                         mix[i % 4].gpus[(i / 4) % 3], NULL, "\"priority\": 1"));
    }
    wait_all_final(&env, 150000);
    watch_stop(&w);
    fprintf(stderr, "thousand_jobs_succeed: %.1f s, %d samples\n",
            (double)(clock_mono_ms() - t0) / 1000, w.samples);
    assert_each_succeeded_once(&env, 1000);
    ck_assert_int_gt(w.samples, 10);
    ck_assert_msg(w.overcommitted == 0, "%d samples with an over-committed node", w.overcommitted);
    ck_assert_msg(w.twice == 0, "job %s ran two objects at once", w.twice_uid);
    /* Every SKU found its clusters. */
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(DISTINCT cluster) FROM jobs"), 3);
}
END_TEST

/* 2. Off-peak borrowing, peak reclaim: preemptible jobs borrow idle serving GPUs while
 * demand is low; as the diurnal demand rises they are reclaimed (Preempting with the
 * reason and the demand), requeued without counting as failures, and finish elsewhere or
 * later; serving pods never wait longer than the bound. */
START_TEST(borrow_off_peak_reclaim_at_peak)
{
    struct watch w;
    char name[32];
    long borrowed, reclaimed;
    const long bound_ms = 5000;

    senv_sim(&env, "testdata/sim/sched-peak.json");
    senv_config(&env,
                E2E_BASE ", \"jobAnnotations\": {\"sim.fedsched.io/duration-seconds\": \"36000\"}},"
                         "\"policy\": {\"reclaim_k\": 2, \"min_runtime_s\": 0,"
                         " \"reclaim_rate_per_hour\": 36000, \"reclaim_burst\": 50,"
                         " \"relend_backoff_s\": 3, \"relend_backoff_max_s\": 6,"
                         " \"min_lease_s\": 0, \"grace_period_s\": 1}",
                "",
                "{\"nodeSelector\": {\"fedsched.io/pool\": \"serving\"}, \"namespaces\":"
                " [\"serving\"], \"reserveGpus\": 1, \"lendPolicy\": \"window\","
                " \"lendingWindows\": [{\"start\": \"00:00\", \"end\": \"00:00\"}]}");
    senv_serve(&env, 0, NULL);
    watch_start(&w, &env, 3600);
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "borrow-%d", i);
        free(senv_submit(env.srv[0].base, "team-p", name, "l4", 4, NULL,
                         "\"preemptible\": true, \"priority\": 1, \"maxRuntimeSeconds\":"
                         " 600, \"checkpointIntervalSeconds\": 60"));
    }
    wait_all_final(&env, 80000);
    watch_stop(&w);
    borrowed = senv_sql_long(&env, "SELECT count(DISTINCT job_id) FROM job_events WHERE"
                                   " type = 'Admitted' AND message LIKE '%serving-borrowed%'");
    reclaimed = senv_sql_long(&env, "SELECT count(*) FROM reclaims");
    fprintf(stderr,
            "borrow_off_peak_reclaim_at_peak: %ld borrowed, %ld reclaims, serving pods"
            " waited at most %lld ms\n",
            borrowed, reclaimed, (long long)w.max_pending_serving_ms);
    ck_assert_int_ge(borrowed, 4);
    ck_assert_int_ge(reclaimed, 1);
    /* Each reclaim: Preempting with the reason and the demand (the pool's GPUs short, or a
     * Pending serving pod no node could take), then Queued, GPUs freed, the preemption
     * counted and the job later finished. */
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM job_events WHERE to_phase ="
                                         " 'Preempting' AND reason = 'ServingDemand' AND (message"
                                         " LIKE '%pending serving demand%' OR message LIKE"
                                         " '%a Pending serving pod of % fits no %')"),
                     reclaimed);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM reclaims WHERE freed_at IS NULL"),
                     0);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT sum(preemptions) FROM jobs"), reclaimed);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT sum(dispatch_failures) FROM jobs"), 0);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM reclaims WHERE requested_at -"
                                         " snapshot_at > interval '300 milliseconds'"),
                     0);
    assert_each_succeeded_once(&env, 10);
    ck_assert_msg(w.max_pending_serving_ms <= bound_ms, "a serving pod waited %lld ms",
                  (long long)w.max_pending_serving_ms);
    ck_assert_msg(w.twice == 0, "job %s ran two objects at once", w.twice_uid);
}
END_TEST

/* The replica that leads now, or -1 (none yet). */
static int current_leader(struct senv *v)
{
    for (int i = 0; i < SENV_SERVERS; i++) {
        json_t *l = NULL;
        int found = -1;

        if (v->srv[i].pid <= 0 || itest_get_json(v->srv[i].base, "/v1/leader", &l) != 200) {
            json_decref(l);
            continue;
        }
        for (int k = 0; k < SENV_SERVERS && json_is_true(json_object_get(l, "active")); k++) {
            char holder[32];
            const char *h = json_string_value(json_object_get(l, "holder"));

            snprintf(holder, sizeof(holder), ":%d:%d", (int)v->srv[k].pid, v->srv[k].port);
            if (v->srv[k].pid > 0 && h && strstr(h, holder))
                found = k;
        }
        json_decref(l);
        return found;
    }
    return -1;
}

/* 3. kill -9 of the leader at random points of a busy run, twenty times, with a standby:
 * every job ends exactly once, no job ever runs two objects at once, and a standby takes
 * over each time. */
START_TEST(leader_killed_twenty_times)
{
    struct watch w;
    char name[32];
    int kills = 0, submitted = 0;
    unsigned seed = (unsigned)getpid();

    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env,
                E2E_BASE ", \"jobAnnotations\": {\"sim.fedsched.io/duration-seconds\": \"1800\"}}",
                "", NULL);
    senv_serve(&env, 0, NULL);
    senv_serve(&env, 1, NULL);
    watch_start(&w, &env, 3600);
    while (kills < 20) {
        int64_t t0;
        int leader;

        for (int i = 0; i < 15; i++, submitted++) {
            snprintf(name, sizeof(name), "k-%04d", submitted);
            free(senv_submit(senv_base(&env), "team-k", name, submitted % 2 ? "a100-80gb" : "l4",
                             submitted % 2 ? 8 : 2, NULL, ""));
        }
        t0 = clock_mono_ms();
        while ((leader = current_leader(&env)) < 0) {
            ck_assert_msg(clock_mono_ms() - t0 < 5000, "no leader for 5 s after kill %d", kills);
            usleep(20 * 1000);
        }
        /* Somewhere in the middle of its cycles. */
        usleep((useconds_t)(rand_r(&seed) % 400) * 1000);
        itest_server_stop(&env.srv[leader], SIGKILL);
        kills++;
        senv_serve(&env, leader, NULL);
    }
    wait_all_final(&env, 60000);
    watch_stop(&w);
    fprintf(stderr, "leader_killed_twenty_times: %d kills, %d jobs, epoch %ld\n", kills, submitted,
            senv_sql_long(&env, "SELECT epoch FROM leader"));
    assert_each_succeeded_once(&env, submitted);
    ck_assert_int_ge(senv_sql_long(&env, "SELECT epoch FROM leader"), 21);
    ck_assert_msg(w.twice == 0, "job %s ran two objects at once", w.twice_uid);
    ck_assert_msg(w.overcommitted == 0, "%d samples with an over-committed node", w.overcommitted);
}
END_TEST

/* 4. A PostgreSQL restart mid-run and a member-cluster outage longer than its lost-timeout:
 * nothing is lost, the lost cluster's jobs finish elsewhere, and its stale copies are
 * deleted once it answers again. */
START_TEST(database_restart_and_cluster_outage)
{
    struct sim_faults down, up;
    struct err e = {0};
    char name[32], sql[256];
    const char *victim;
    long lost;

    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env,
                E2E_BASE ", \"jobAnnotations\": {\"sim.fedsched.io/duration-seconds\": \"36000\"}}",
                "\"lostTimeoutSeconds\": 10", NULL);
    senv_serve(&env, 0, NULL);
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof(name), "o-%d", i);
        free(senv_submit(env.srv[0].base, "team-o", name, "a100-80gb", 8, NULL, ""));
    }
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof(name), "o-%d", i);
        json_decref(senv_wait_phase(env.srv[0].base, "team-o", name, "Running", 10000));
    }
    /* The member cluster running o-0 stops answering, for longer than its lost-timeout:
     * its jobs may even finish there unseen, which to fedsched is the same as lost. */
    {
        char *v = itest_sql(env.dsn, "SELECT cluster FROM jobs WHERE name = 'o-0'");
        static char cl[64];

        snprintf(cl, sizeof(cl), "%s", v);
        free(v);
        victim = cl;
    }
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM jobs WHERE cluster = '%s'", victim);
    lost = senv_sql_long(&env, sql);
    memset(&down, 0, sizeof(down));
    down.status = 503;
    ck_assert_int_eq(sim_set_faults(env.sim, victim, &down, &e), 0);
    /* Meanwhile the database goes away and comes back (crash recovery can take a while). */
    itest_pg("kill");
    sleep(1);
    itest_pg("start");
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM jobs WHERE (cluster = '%s' AND phase NOT IN ('Succeeded',"
             " 'Failed', 'Cancelled')) OR phase = 'Lost'",
             victim);
    for (int i = 0; senv_sql_long(&env, sql) > 0; i++) {
        ck_assert_msg(i < 400, "jobs of %s not requeued after 40 s", victim);
        usleep(100 * 1000);
    }
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM job_events WHERE to_phase = 'Lost' AND message LIKE '%%%s%%'",
             victim);
    ck_assert_int_eq(senv_sql_long(&env, sql), lost);
    /* Its copies are still there, unreachable; once it answers they are deleted. */
    memset(&up, 0, sizeof(up));
    ck_assert_int_eq(sim_set_faults(env.sim, victim, &up, &e), 0);
    for (int i = 0; i < 100; i++) {
        if (senv_sim_objects(&env, victim, false, "app.kubernetes.io/managed-by", "fedsched") == 0)
            break;
        ck_assert_msg(i < 99, "stale copies in %s not deleted", victim);
        usleep(100 * 1000);
    }
    wait_all_final(&env, 30000);
    assert_each_succeeded_once(&env, 8);
    /* Lost runs are requeued without counting as failed dispatches. */
    ck_assert_int_eq(senv_sql_long(&env, "SELECT sum(dispatch_failures) FROM jobs"), 0);
}
END_TEST

/* One case per run, so CK_RUN_CASE=failover runs just that one. */
static void add_case(Suite *s, const char *name, const TTest *test)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 200);
    tcase_add_test(tc, test);
    suite_add_tcase(s, tc);
}

static Suite *suite(void)
{
    Suite *s = suite_create("e2e");

    add_case(s, "scale", thousand_jobs_succeed);
    add_case(s, "reclaim", borrow_off_peak_reclaim_at_peak);
    add_case(s, "failover", leader_killed_twenty_times);
    add_case(s, "outage", database_restart_and_cluster_outage);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    int failed;

    srunner_run_all(r, CK_NORMAL);
    failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
