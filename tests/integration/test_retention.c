/* test_retention.c -- the retention.* settings against `fedsched serve` and a real
 * PostgreSQL: rows older than their retention (capacity samples, audit rows, finished
 * jobs with their events and ledger rows) are deleted by the leader at its collection
 * pass, and nothing younger, nor any job still queued or running, goes with them; the
 * counts show in /metrics. The capacity samples' sums go by the same retention, and the
 * leader sums the quarter hours of the samples kept. Not responsible for the bounds of the settings (test_config). */
#include "tests/integration/test_sched_env.h"

#include <check.h>

#define BASE                                                                                       \
    "\"poller\": {\"intervalMs\": 200, \"sampleIntervalS\": 5, \"registrySyncS\": 1},"             \
    "\"scheduler\": {\"cycleIntervalMs\": 200, \"gcIntervalS\": 1, \"leaderRetryMs\": 200,"        \
    "\"leaderRenewMs\": 200},"                                                                     \
    "\"retention\": {\"capacitySamplesDays\": 30, \"auditDays\": 2, \"finishedJobsDays\": 3}"

static struct senv env;

static void teardown(void)
{
    senv_stop(&env);
}

/* A job row of phase, last changed (finished, for a finished one) days ago, with one event. */
static void old_job(const char *name, const char *phase, int days, bool finished)
{
    char *at = finished ? xasprintf("now() - interval '%d days'", days) : xstrdup("NULL");
    char *sql = xasprintf(
        "WITH j AS (INSERT INTO jobs (namespace, name, api_version, spec, sku, gpu_count,"
        " gpus_per_worker, phase, created_at, updated_at, finished_at)"
        " VALUES ('keep', '%s', 'fedsched.io/v1', '{\"resources\":{\"instanceType\":\"t4\","
        "\"gpuCount\":1},\"code\":{\"image\":\"t:1\"}}', 't4', 1, 1, '%s',"
        " now() - interval '%d days 1 hour', now() - interval '%d days',"
        " %s) RETURNING id)"
        " INSERT INTO job_events (job_id, ts, type, reason, message, to_phase)"
        " SELECT id, now() - interval '%d days', 'Queued', 'Submitted', 'accepted', 'Queued'"
        " FROM j",
        name, phase, days, days, at, days);

    free(itest_sql(env.dsn, sql));
    free(sql);
    free(at);
}

static long count(const char *sql)
{
    return senv_sql_long(&env, sql);
}

/* fedsched_retention_deleted_total{table="table"} from /metrics; -1 when absent. */
static long deleted_metric(const char *table)
{
    char name[128];

    snprintf(name, sizeof(name), "fedsched_retention_deleted_total{table=\"%s\"}", table);
    return senv_counter(&env, name);
}

START_TEST(rows_past_their_retention_go_and_nothing_else)
{
    long left = 1;

    senv_sim(&env, "testdata/sim/sched-solo.json");
    senv_config(&env, BASE, "", NULL);
    senv_serve(&env, 0, NULL); /* it migrates: the rows come after */
    free(itest_sql(env.dsn,
                   "INSERT INTO capacity_samples (ts, cluster, sku, pool, total, used, free)"
                   " VALUES (now() - interval '31 days', 'gone', 't4', 'training', 4, 0, 4),"
                   " (now() - interval '31 days' + interval '1 minute', 'gone', 't4', 'training',"
                   " 4, 0, 4), (now() - interval '29 days', 'kept', 't4', 'training', 4, 0, 4)"));
    free(itest_sql(env.dsn, "INSERT INTO capacity_rollup_marks (width_s, start) VALUES"
                            " (3600, date_trunc('hour', now() - interval '31 days'));"
                            "INSERT INTO capacity_rollup SELECT 3600, start, 'gone', 't4',"
                            " 'training', 1, 1, 1, 0, 0, 0, 0 FROM capacity_rollup_marks"));
    free(itest_sql(env.dsn, "INSERT INTO audit_log (ts, remote, method, path, status) VALUES"
                            " (now() - interval '3 days', 'r', 'POST', '/gone', 201),"
                            " (now() - interval '1 day', 'r', 'POST', '/kept', 201)"));
    old_job("succeeded-4d", "Succeeded", 4, true);
    old_job("failed-4d", "Failed", 4, true);
    old_job("cancelled-5d-queued", "Cancelled", 5, false); /* cancelled before it ran */
    old_job("succeeded-2d", "Succeeded", 2, true);
    old_job("held-10d", "Queued", 10, false); /* queued: never deleted, however old */
    free(itest_sql(env.dsn, "UPDATE jobs SET held = true WHERE name = 'held-10d'"));
    free(itest_sql(
        env.dsn, "INSERT INTO reclaims (job_id, namespace, attempt, cluster, sku, pool, reason,"
                 " requested_at, gpus, lost_gpu_hours) SELECT id, 'keep', 1, 'c', 't4', 'training',"
                 " 'deficit', now() - interval '5 days', 1, 0.5 FROM jobs"
                 " WHERE name = 'succeeded-4d'"));
    for (int i = 0; i < 100 && left > 0; i++) {
        usleep(200 * 1000);
        left = count("SELECT count(*) FROM capacity_samples WHERE cluster = 'gone'") +
               count("SELECT count(*) FROM capacity_rollup WHERE cluster = 'gone'") +
               count("SELECT count(*) FROM capacity_rollup_marks WHERE start < now() - interval "
                     "'30 days'") +
               count("SELECT count(*) FROM audit_log WHERE path = '/gone'") +
               count("SELECT count(*) FROM jobs WHERE name IN ('succeeded-4d', 'failed-4d',"
                     " 'cancelled-5d-queued')");
    }
    ck_assert_int_eq(left, 0);
    ck_assert_int_eq(count("SELECT count(*) FROM capacity_samples WHERE cluster = 'kept'"), 1);
    ck_assert_int_eq(count("SELECT count(*) FROM audit_log WHERE path = '/kept'"), 1);
    ck_assert_int_eq(count("SELECT count(*) FROM jobs WHERE name IN ('succeeded-2d', 'held-10d')"),
                     2);
    /* The deleted jobs' events and ledger rows went with them; the others' stayed. */
    ck_assert_int_eq(count("SELECT count(*) FROM job_events e WHERE NOT EXISTS"
                           " (SELECT 1 FROM jobs j WHERE j.id = e.job_id)"),
                     0);
    ck_assert_int_eq(count("SELECT count(*) FROM job_events e JOIN jobs j ON j.id = e.job_id"
                           " WHERE j.namespace = 'keep'"),
                     2);
    ck_assert_int_eq(count("SELECT count(*) FROM reclaims WHERE cluster = 'c'"), 0);
    ck_assert_int_ge(deleted_metric("capacity_samples"), 2);
    ck_assert_int_eq(deleted_metric("capacity_rollup"), 1);
    ck_assert_int_ge(deleted_metric("audit_log"), 1);
    ck_assert_int_eq(deleted_metric("jobs"), 3);
    /* The leader sums the quarter hours of the samples kept, newest first, the kept one's
     * too. */
    for (int i = 0; i < 150 && count("SELECT count(*) FROM capacity_rollup WHERE cluster ="
                                     " 'kept'") == 0;
         i++)
        usleep(200 * 1000);
    ck_assert_int_eq(count("SELECT sum(total_ms) FROM capacity_rollup WHERE cluster = 'kept'"
                           " AND width_s = 900"),
                     4 * 600000); /* 4 GPUs for the 10 minutes a lone sample counts */
    ck_assert_int_ge(senv_counter(&env, "fedsched_capacity_rollups_total"), 28 * 96);
    /* The API no longer has a deleted job; a kept one answers. */
    {
        char url[256];

        snprintf(url, sizeof(url), "%s/v1/namespaces/keep/trainingjobs/succeeded-4d",
                 senv_base(&env));
        ck_assert_int_eq(itest_http("GET", url, NULL, NULL, NULL), 404);
        snprintf(url, sizeof(url), "%s/v1/namespaces/keep/trainingjobs/succeeded-2d",
                 senv_base(&env));
        ck_assert_int_eq(itest_http("GET", url, NULL, NULL, NULL), 200);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("retention");
    TCase *tc = tcase_create("retention");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, rows_past_their_retention_go_and_nothing_else);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
