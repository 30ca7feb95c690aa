/* test_preempt.c -- priority preemption end to end, against a real PostgreSQL, `fedsched
 * serve` and an in-process simulator of one 8-GPU node: a held job and a job before the
 * victim's minimum runtime preempt nothing; then a high-priority job preempts the
 * low-priority one, explain names the victim while it stops, the victim is requeued with
 * its lost GPU-hours in the reclaims table, and the preemptor starts within one cycle of
 * the victim's deletion; a job kept off free GPUs by a lower-priority job's cores
 * preempts it and starts; and a job its own namespace's quota refuses preempts that
 * namespace's lower-priority job. */
#include "tests/integration/test_sched_env.h"

#include <check.h>
#include <stdlib.h>

#define CYCLE_MS 200
#define GRACE_MS 3000

/* The victim is safe for its first 5 s; a budget of 2 per 10 min; 3 s of grace, so the
 * stopping victim can be seen. */
#define PREEMPT_BASE                                                                               \
    "\"poller\": {\"intervalMs\": 200, \"sampleIntervalS\": 5, \"registrySyncS\": 1},"             \
    "\"scheduler\": {\"cycleIntervalMs\": 200, \"gcIntervalS\": 1, \"missingGraceS\": 3,"          \
    "\"dispatchBackoffBaseS\": 1, \"dispatchBackoffMaxS\": 2, \"leaderRetryMs\": 200,"             \
    "\"leaderRenewMs\": 200, \"jobAnnotations\": {\"sim.fedsched.io/duration-seconds\":"           \
    " \"3600\"}},"                                                                                 \
    "\"policy\": {\"preemption\": true, \"preempt_min_runtime_s\": 5, \"preempt_budget\": 2,"      \
    " \"preempt_window_s\": 600, \"grace_period_s\": 3}"

static struct senv env;

static void teardown(void)
{
    senv_stop(&env);
}

/* Milliseconds since the epoch of the job's last event to phase to with reason. */
static long event_ms(const char *name, const char *to, const char *reason)
{
    char sql[512];

    snprintf(sql, sizeof(sql),
             "SELECT (extract(epoch FROM max(e.ts)) * 1000)::bigint FROM job_events e"
             " JOIN jobs j ON j.id = e.job_id WHERE j.namespace = 'team-p' AND j.name = '%s'"
             " AND e.to_phase = '%s' AND e.reason = '%s'",
             name, to, reason);
    return senv_sql_long(&env, sql);
}

START_TEST(high_priority_job_preempts_and_starts_after_the_victim)
{
    const char *base;
    json_t *j = NULL;
    long gone_ms, admitted_ms, requeued_ms;
    int64_t until;
    bool named = false;

    senv_sim(&env, "testdata/sim/preempt.json");
    senv_config(&env, PREEMPT_BASE, "", NULL);
    senv_serve(&env, 0, NULL);
    base = senv_base(&env);
    free(senv_submit(base, "team-p", "low", "a100-80gb", 8, NULL,
                     "\"priority\": 0, \"preemptible\": true"));
    json_decref(senv_wait_phase(base, "team-p", "low", "Running", 20000));

    /* A held job is not in the policy's queue: it preempts nothing, however urgent. */
    free(senv_submit(base, "team-p", "held", "a100-80gb", 8, NULL, "\"priority\": 500"));
    ck_assert_int_eq(senv_sql_long(&env, "WITH u AS (UPDATE jobs SET held = true WHERE name ="
                                         " 'held' AND phase = 'Queued' RETURNING 1)"
                                         " SELECT count(*) FROM u"),
                     1);
    /* Past the victim's minimum runtime (5 s) and a few cycles more. */
    usleep(7000 * 1000);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM reclaims"), 0);
    j = senv_get(base, "team-p", "low");
    ck_assert_str_eq(senv_phase(j), "Running");
    json_decref(j);

    free(senv_submit(base, "team-p", "high", "a100-80gb", 8, NULL, "\"priority\": 100"));
    json_decref(senv_wait_phase(base, "team-p", "low", "Preempting", 10000));
    /* While the victim stops (3 s of grace), explain says what high waits for. */
    until = clock_mono_ms() + 2500;
    while (!named && clock_mono_ms() < until) {
        json_t *x = NULL;

        if (itest_get_json(base, "/v1/namespaces/team-p/trainingjobs/high/explain", &x) == 200) {
            const char *msg =
                json_string_value(json_object_get(json_object_get(x, "preemption"), "message"));

            named = msg && strcmp(msg, "waiting for the preemption of team-p/low in cluster "
                                       "solo") == 0;
        }
        json_decref(x);
        if (!named)
            usleep(50 * 1000);
    }
    ck_assert_msg(named, "explain of high never named its victim");

    j = senv_wait_phase(base, "team-p", "high", "Running", 20000);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "status"), "cluster")),
                     "solo");
    json_decref(j);
    /* The victim: back in the queue, its preemption and lost work on the ledger. */
    json_decref(senv_wait_phase(base, "team-p", "low", "Queued", 5000));
    ck_assert_int_eq(senv_sql_long(&env, "SELECT preemptions FROM jobs WHERE name = 'low'"), 1);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM reclaims r JOIN jobs j ON"
                                         " j.id = r.job_id WHERE j.name = 'low' AND r.reason ="
                                         " 'priority' AND r.cluster = 'solo' AND r.gpus = 8"
                                         " AND r.lost_gpu_hours > 0 AND r.freed_at IS NOT NULL"),
                     1);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM reclaims"), 1);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM job_events e JOIN jobs j ON"
                                         " j.id = e.job_id WHERE j.name = 'low' AND e.to_phase ="
                                         " 'Preempting' AND e.reason = 'PriorityPreemption' AND"
                                         " e.message LIKE 'preempted for team-p/high (priority"
                                         " 100, this job 0): 8 a100-80gb GPUs in solo;%'"),
                     1);
    /* Within one cycle of the victim's deletion. The delete request goes out in the cycle
     * that moves it to Preempting, and the member cluster removes its pod when the grace
     * period ends: the GPUs are free from then, and the preemptor must not start before. */
    gone_ms = event_ms("low", "Preempting", "PriorityPreemption") + GRACE_MS;
    admitted_ms = event_ms("high", "Admitted", "Placed");
    requeued_ms = event_ms("low", "Queued", "Preempted");
    fprintf(stderr,
            "preempt: high admitted %ld ms after the victim's grace ended, %ld ms from the"
            " victim's requeue\n",
            admitted_ms - gone_ms, admitted_ms - requeued_ms);
    ck_assert_int_gt(gone_ms, GRACE_MS);
    ck_assert_int_gt(requeued_ms, 0);
    ck_assert_int_ge(admitted_ms, gone_ms);
    ck_assert_msg(admitted_ms - gone_ms <= CYCLE_MS + 300,
                  "high admitted %ld ms after the victim was gone (cycle %d ms)",
                  admitted_ms - gone_ms, CYCLE_MS);
    ck_assert_msg(labs(admitted_ms - requeued_ms) <= CYCLE_MS + 300,
                  "high admitted %ld ms from the victim's requeue (cycle %d ms)",
                  admitted_ms - requeued_ms, CYCLE_MS);
    /* The held job is still held in the queue, and nothing else was preempted. */
    j = senv_get(base, "team-p", "held");
    ck_assert_str_eq(senv_phase(j), "Queued");
    json_decref(j);
}
END_TEST

/* low goes to Preempting, high runs in solo, low is back in the queue, and the ledger has
 * low's one priority reclaim of gpus GPUs. */
static void low_preempted_for_high(const char *base, int gpus)
{
    char sql[256];
    json_t *j;

    json_decref(senv_wait_phase(base, "team-p", "low", "Preempting", 10000));
    j = senv_wait_phase(base, "team-p", "high", "Running", 20000);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "status"), "cluster")),
                     "solo");
    json_decref(j);
    json_decref(senv_wait_phase(base, "team-p", "low", "Queued", 5000));
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM reclaims r JOIN jobs j ON j.id = r.job_id WHERE j.name ="
             " 'low' AND r.reason = 'priority' AND r.gpus = %d",
             gpus);
    ck_assert_int_eq(senv_sql_long(&env, sql), 1);
}

/* Free GPUs, but not the cores beside them: low (4 GPUs, 56 of the node's 64 cores) keeps
 * high (4 GPUs, 32 cores, priority 100) off the 4 GPUs left. high preempts low and starts
 * once low is gone; counting GPUs alone, it would wait with node_resources for as long as
 * low runs. */
START_TEST(job_short_of_cores_preempts_the_job_holding_them)
{
    const char *base;

    senv_sim(&env, "testdata/sim/preempt-cpu.json");
    senv_config(&env, PREEMPT_BASE, "", NULL);
    senv_serve(&env, 0, NULL);
    base = senv_base(&env);
    free(senv_submit_with(base, "team-p", "low", "a100-80gb", 4, NULL, "\"cpu\": 56",
                          "\"priority\": 0, \"preemptible\": true"));
    json_decref(senv_wait_phase(base, "team-p", "low", "Running", 20000));
    /* Past the victim's minimum runtime (5 s). */
    usleep(6000 * 1000);
    free(senv_submit_with(base, "team-p", "high", "a100-80gb", 4, NULL, "\"cpu\": 32",
                          "\"priority\": 100"));
    low_preempted_for_high(base, 4);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM reclaims"), 1);
}
END_TEST

/* A quota, not the capacity: team-p's nominal quota of A100s is 8 and low (priority 0)
 * holds all 8, while the cluster's second node is free. high (priority 100) is refused by
 * its own namespace's quota, so it preempts low to run within it (Kueue's
 * withinClusterQueue: LowerPriority); low goes back to the queue and stays there, refused
 * by the quota high now uses. Before, high waited for low to finish. */
START_TEST(job_refused_by_its_quota_preempts_its_namespaces_lower_job)
{
    const char *base;
    json_t *j = NULL;

    senv_sim(&env, "testdata/sim/preempt-quota.json");
    senv_config(&env,
                PREEMPT_BASE ", \"quotas\": [{\"namespace\": \"team-p\", \"sku\":"
                             " \"a100-80gb\", \"nominal\": 8, \"borrowingLimit\": 0}]",
                "", NULL);
    senv_serve(&env, 0, NULL);
    base = senv_base(&env);
    free(senv_submit(base, "team-p", "low", "a100-80gb", 8, NULL,
                     "\"priority\": 0, \"preemptible\": true"));
    json_decref(senv_wait_phase(base, "team-p", "low", "Running", 20000));
    /* Past the victim's minimum runtime (5 s). */
    usleep(6000 * 1000);
    free(senv_submit(base, "team-p", "high", "a100-80gb", 8, NULL, "\"priority\": 100"));
    low_preempted_for_high(base, 8);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM job_events e JOIN jobs j ON"
                                         " j.id = e.job_id WHERE j.name = 'low' AND e.to_phase ="
                                         " 'Preempting' AND e.message LIKE 'preempted for"
                                         " team-p/high (priority 100, this job 0), to give back"
                                         " namespace team-p''s quota of a100-80gb: 8 a100-80gb"
                                         " GPUs in solo;%'"),
                     1);
    /* Three cycles on, low is still queued, for the quota, and high still runs. */
    usleep(3 * CYCLE_MS * 1000);
    j = senv_get(base, "team-p", "low");
    ck_assert_str_eq(senv_phase(j), "Queued");
    json_decref(j);
    ck_assert_int_eq(itest_get_json(base, "/v1/namespaces/team-p/trainingjobs/low/explain", &j),
                     200);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "reason"), "reason")),
                     "quota");
    json_decref(j);
    j = senv_get(base, "team-p", "high");
    ck_assert_str_eq(senv_phase(j), "Running");
    json_decref(j);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM reclaims"), 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("preempt");
    TCase *tc = tcase_create("e2e");

    tcase_set_timeout(tc, 90);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, high_priority_job_preempts_and_starts_after_the_victim);
    tcase_add_test(tc, job_short_of_cores_preempts_the_job_holding_them);
    tcase_add_test(tc, job_refused_by_its_quota_preempts_its_namespaces_lower_job);
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
