/* test_lend_forecast.c -- the scheduler lends from the serving-demand forecast (issue 17):
 * `fedsched serve` learns the forecast from the capacity samples in the database and passes
 * it to the policy each cycle, so a serving pool lends only what the forecast leaves free.
 * Not responsible for the bound itself (tests/unit/test_policy_lease.c, the golden
 * scenarios 49 and 50) nor for the learner (tests/unit/test_forecast_set.c). */
#include "tests/integration/test_sched_env.h"

#include <check.h>

#define FAST_BASE                                                                                  \
    "\"poller\": {\"intervalMs\": 200, \"sampleIntervalS\": 3600, \"registrySyncS\": 1},"          \
    "\"scheduler\": {\"cycleIntervalMs\": 200, \"gcIntervalS\": 1, \"missingGraceS\": 3,"          \
    "\"dispatchBackoffBaseS\": 1, \"dispatchBackoffMaxS\": 2, \"leaderRetryMs\": 200,"             \
    "\"leaderRenewMs\": 200, \"jobAnnotations\": "                                                 \
    "{\"sim.fedsched.io/duration-seconds\": \"360000\"}}, \"policy\": {\"min_lease_s\": 0,"        \
    " \"min_runtime_s\": 0}"

/* Lent all day, nothing reserved. */
#define SERVING_POOL                                                                               \
    "{\"nodeSelector\": {\"fedsched.io/pool\": \"serving\"}, \"namespaces\": [\"serving\"],"       \
    " \"reserveGpus\": 0, \"lendPolicy\": \"window\","                                             \
    " \"lendingWindows\": [{\"start\": \"00:00\", \"end\": \"00:00\"}]}"

static struct senv env;

static void teardown(void)
{
    senv_stop(&env);
}

/* The serving pool of 8 GPUs is idle now, but the same hours a week ago serving held 4 of
 * them: the forecast keeps 4 for serving, so one 4-GPU job borrows and the next waits
 * (with no samples, test_prereq_sched's borrowing lends all 8). */
START_TEST(forecast_keeps_gpus_for_serving)
{
    const char *sched = "\"preemptible\": true, \"maxRuntimeSeconds\": 600,"
                        " \"checkpointIntervalSeconds\": 60";
    json_t *j;
    char *r;

    senv_sim(&env, "testdata/sim/lend-forecast.json");
    senv_config(&env, FAST_BASE, "", SERVING_POOL);
    /* A first start migrates the database; the samples go in before the start that learns. */
    senv_serve(&env, 0, NULL);
    itest_server_stop(&env.srv[0], SIGTERM);
    env.srv[0].pid = 0;
    r = itest_sql(env.dsn, "INSERT INTO capacity_samples (ts, cluster, sku, pool, total, used,"
                           " free) SELECT g, 'lend', 'l4', 'serving', 8, 4, 4 FROM"
                           " generate_series(now() - interval '7 days 1 hour', now() -"
                           " interval '6 days 21 hours', interval '1 minute') g");
    free(r);
    ck_assert_int_ge(senv_sql_long(&env, "SELECT count(*) FROM capacity_samples"), 200);
    senv_serve(&env, 0, NULL);
    free(senv_submit(senv_base(&env), "team-p", "borrow-0", "l4", 4, NULL, sched));
    j = senv_wait_phase(senv_base(&env), "team-p", "borrow-0", "Running", 20000);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "status"), "pool")),
                     "serving-borrowed");
    json_decref(j);
    /* The lease ends where the forecast stops knowing (the samples cover 3 hours ahead),
     * and the Admitted event says so. */
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM job_events WHERE type ="
                                         " 'Admitted' AND message LIKE '%; lease until 20%"
                                         " (forecast_horizon)'"),
                     1);
    free(senv_submit(senv_base(&env), "team-p", "borrow-1", "l4", 4, NULL, sched));
    usleep(2000 * 1000); /* ten scheduling cycles */
    j = senv_get(senv_base(&env), "team-p", "borrow-1");
    ck_assert_str_eq(senv_phase(j), "Queued");
    json_decref(j);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("lend_forecast");
    TCase *tc = tcase_create("lend");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, forecast_keeps_gpus_for_serving);
    suite_add_tcase(s, tc);
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
