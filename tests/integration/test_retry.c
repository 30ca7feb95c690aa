/* test_retry.c -- retry policies end to end (issue 16, acceptance 1): `fedsched serve`
 * against kubesim and a real PostgreSQL, jobs whose pods fail as the simulator's outcome
 * annotation says. An infrastructure failure (an image not pulled within
 * scheduler.imagePullTimeoutS, or a node lost under the job) is retried as a new attempt placed afresh, in the other
 * cluster when the first is cordoned; an exit code in a Fail rule is not retried; an OOM
 * kill follows its rule (Retry, or Fail); maxRetries exhausted fails the job; jobs without
 * a policy take their namespace's default from retryDefaults. Every event names the rule
 * that fired. Not responsible for the rules' evaluation case by case
 * (tests/unit/test_retry.c) or the spec's validation (tests/unit/test_trainingjob.c). */
#include "tests/integration/test_sched_env.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAST_BASE                                                                                  \
    "\"poller\": {\"intervalMs\": 200, \"sampleIntervalS\": 5, \"registrySyncS\": 1},"             \
    "\"scheduler\": {\"cycleIntervalMs\": 200, \"gcIntervalS\": 1, \"missingGraceS\": 3,"          \
    "\"dispatchBackoffBaseS\": 1, \"dispatchBackoffMaxS\": 2, \"leaderRetryMs\": 200,"             \
    "\"leaderRenewMs\": 200, \"podCheckIntervalS\": 0"

static struct senv env;

static void teardown(void)
{
    senv_stop(&env);
}

static const char *status_str(json_t *job, const char *key)
{
    const char *v = json_string_value(json_object_get(json_object_get(job, "status"), key));

    return v ? v : "";
}

static long status_int(json_t *job, const char *key)
{
    return (long)json_integer_value(json_object_get(json_object_get(job, "status"), key));
}

/* Starts the simulator (sched-three: east and west have A100s) and one server whose jobs'
 * objects carry the simulator's outcome annotation; extra: more scheduler knobs. */
static void start(const char *outcome, const char *extra)
{
    char *base = xasprintf(FAST_BASE "%s, \"jobAnnotations\": {\"sim.fedsched.io/outcome\":"
                                     " \"%s\"}}",
                           extra, outcome);

    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env, base, "", NULL);
    senv_serve(&env, 0, NULL);
    free(base);
}

/* "reason|message" of the job's transitions to to_phase (events), oldest first, joined by
 * newlines; "" when none. Caller frees. */
static char *transitions(const char *name, const char *to_phase)
{
    char sql[512], *v;

    snprintf(sql, sizeof(sql),
             "SELECT string_agg(e.reason || '|' || e.message, E'\\n' ORDER BY e.id) FROM"
             " job_events e JOIN jobs j ON j.id = e.job_id WHERE j.name = '%s' AND"
             " e.to_phase = '%s' AND e.from_phase <> e.to_phase",
             name, to_phase);
    v = itest_sql(env.dsn, sql);
    return v ? v : xstrdup("");
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Cordons every node of cluster, as `kubectl cordon` would. */
static void cordon_all(const char *cluster)
{
    struct sim_cluster *c = sim_get_cluster(env.sim, cluster);
    struct sim_node_view nodes[64];
    size_t n = sim_cluster_nodes(c, nodes, 64);
    struct err e = {0};

    ck_assert_int_gt(n, 0);
    for (size_t i = 0; i < n && i < 64; i++)
        ck_assert_int_eq(sim_cluster_set_node(c, nodes[i].name, true, true, &e), 0);
}

/* The first attempt's pods never get their image (an infrastructure failure) in the
 * cluster it was placed in, which is then cordoned: the job is requeued by rule 1 with its
 * back-off, placed afresh in the other cluster (attempt 1, retries 1), and when that attempt
 * fails too, maxRetries 1 is exhausted and it fails; both events name the rule. */
START_TEST(infrastructure_failure_retries_in_the_other_cluster)
{
    json_t *j;
    char first[64], second[64], *want, *got, *uid;

    start("ImagePullBackOff", ", \"imagePullTimeoutS\": 1");
    uid = senv_submit(senv_base(&env), "team-r", "infra", "a100-80gb", 8, NULL,
                      "\"retry\": {\"maxRetries\": 1, \"backoffSeconds\": 2, \"rules\":"
                      " [{\"class\": \"OOM\", \"action\": \"Fail\"},"
                      " {\"class\": \"Infrastructure\", \"action\": \"Retry\"}]}");
    j = senv_wait_phase(senv_base(&env), "team-r", "infra", "Dispatched", 10000);
    snprintf(first, sizeof(first), "%s", status_str(j, "cluster"));
    ck_assert(strcmp(first, "east") == 0 || strcmp(first, "west") == 0);
    json_decref(j);
    cordon_all(first);
    for (int i = 0; senv_sql_long(&env, "SELECT attempt FROM jobs WHERE name = 'infra'") < 1; i++) {
        ck_assert_msg(i < 200, "not requeued within 10 s");
        usleep(50 * 1000);
    }
    j = senv_wait_phase(senv_base(&env), "team-r", "infra", "Dispatched", 10000);
    snprintf(second, sizeof(second), "%s", status_str(j, "cluster"));
    ck_assert_str_ne(second, first);
    ck_assert_int_eq(status_int(j, "attempt"), 1);
    ck_assert_int_eq(status_int(j, "retries"), 1);
    json_decref(j);
    /* The retry waited its back-off: 2 s from the requeue to the next admission (its event is
     * committed after the cycle began, which the back-off counts from). */
    ck_assert_int_ge(senv_sql_long(&env, "SELECT extract(epoch FROM a.ts - q.ts) * 1000 FROM"
                                         " job_events q, job_events a WHERE q.to_phase = 'Queued'"
                                         " AND q.from_phase <> 'Queued' AND a.to_phase ="
                                         " 'Admitted' AND a.id > q.id ORDER BY a.id LIMIT 1"),
                     1500);
    j = senv_wait_phase(senv_base(&env), "team-r", "infra", "Failed", 15000);
    ck_assert_str_eq(status_str(j, "reason"), "RetriesExhausted");
    ck_assert_int_eq(status_int(j, "retries"), 1);
    /* The ledger's row: on the first cluster, nothing lost (the attempt never started). */
    want = xasprintf("SELECT count(*) FROM reclaims WHERE reason = 'retry' AND cluster = '%s'"
                     " AND gpus = 8 AND lost_gpu_hours = 0 AND freed_at IS NOT NULL",
                     first);
    ck_assert_int_eq(senv_sql_long(&env, want), 1);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM reclaims"), 1);
    free(want);
    want = xasprintf("RetryInfrastructure|rule 2 (Infrastructure: Retry) fired; retry 1 of 1 in"
                     " 2 s; image not pulled in %s within 1 s: pod ",
                     first);
    got = transitions("infra", "Queued");
    ck_assert_msg(starts_with(got, want), "requeue event '%s' does not start with '%s'", got, want);
    ck_assert_msg(strstr(got, "; deleted; requeued") && !strchr(got, '\n'), "%s", got);
    free(got);
    free(want);
    want = xasprintf("RetriesExhausted|rule 2 (Infrastructure: Retry) fired; maxRetries 1"
                     " exhausted, not retried; image not pulled in %s within 1 s: pod ",
                     second);
    got = transitions("infra", "Failed");
    ck_assert_msg(starts_with(got, want), "failure event '%s' does not start with '%s'", got, want);
    ck_assert_str_eq(status_str(j, "message"), strchr(got, '|') + 1);
    free(got);
    free(want);
    json_decref(j);
    free(uid);
}
END_TEST

/* A node lost under a running job: its pods are evicted by the taint manager once the node
 * has been NotReady for the not-ready toleration (the simulator's notReadyEvictionSeconds,
 * 300 simulated seconds: a tenth of a real second at sched-three's time scale), the Job's
 * DisruptionTarget rule fails it, and rule 1 (Infrastructure: Retry) requeues it; the rest
 * of that cluster is cordoned, so the retry lands in the other cluster. */
START_TEST(node_loss_retries_in_the_other_cluster)
{
    struct sim_cluster *c;
    struct sim_node_view nodes[64];
    struct err e = {0};
    char first[64], *want, *got;
    size_t n;
    int lost = 0;
    json_t *j;

    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env,
                FAST_BASE ", \"jobAnnotations\": {\"sim.fedsched.io/duration-seconds\":"
                          " \"360000\"}}",
                "", NULL);
    senv_serve(&env, 0, NULL);
    free(senv_submit(senv_base(&env), "team-r", "lost", "a100-80gb", 8, NULL,
                     "\"retry\": {\"maxRetries\": 1, \"backoffSeconds\": 0, \"rules\":"
                     " [{\"class\": \"Infrastructure\", \"action\": \"Retry\"}]}"));
    j = senv_wait_phase(senv_base(&env), "team-r", "lost", "Running", 15000);
    snprintf(first, sizeof(first), "%s", status_str(j, "cluster"));
    json_decref(j);
    /* The job's node goes NotReady; every node of its cluster is cordoned. */
    c = sim_get_cluster(env.sim, first);
    ck_assert_ptr_nonnull(c);
    n = sim_cluster_nodes(c, nodes, 64);
    for (size_t i = 0; i < n && i < 64; i++) {
        bool holds = nodes[i].used > 0;

        lost += holds;
        ck_assert_int_eq(sim_cluster_set_node(c, nodes[i].name, !holds, true, &e), 0);
    }
    ck_assert_int_eq(lost, 1); /* 8 GPUs: one node */
    for (int i = 0; senv_sql_long(&env, "SELECT attempt FROM jobs WHERE name = 'lost'") < 1; i++) {
        ck_assert_msg(i < 300, "not requeued within 15 s of the node loss");
        usleep(50 * 1000);
    }
    j = senv_wait_phase(senv_base(&env), "team-r", "lost", "Running", 20000);
    ck_assert_str_ne(status_str(j, "cluster"), first);
    ck_assert_int_eq(status_int(j, "attempt"), 1);
    ck_assert_int_eq(status_int(j, "retries"), 1);
    json_decref(j);
    want = xasprintf("RetryInfrastructure|rule 1 (Infrastructure: Retry) fired; retry 1 of 1 in"
                     " 0 s; a worker was evicted or preempted in %s",
                     first);
    got = transitions("lost", "Queued");
    ck_assert_msg(starts_with(got, want), "requeue event '%s' does not start with '%s'", got, want);
    free(got);
    free(want);
    /* The ledger: the lost node's work, on the cluster it ran in. */
    want = xasprintf("SELECT count(*) FROM reclaims WHERE reason = 'retry' AND cluster = '%s'"
                     " AND gpus = 8 AND lost_gpu_hours > 0",
                     first);
    ck_assert_int_eq(senv_sql_long(&env, want), 1);
    free(want);
}
END_TEST

/* Exit code 3 is in rule 1's Fail list: the job fails at once, not retried, with the
 * rule in its reason and message; the PodFailed diagnosis is still recorded. */
START_TEST(exit_code_in_the_fail_list_does_not_retry)
{
    json_t *j;
    char *got;

    start("Error:3", "");
    free(senv_submit(senv_base(&env), "team-r", "code", "a100-80gb", 8, NULL,
                     "\"retry\": {\"maxRetries\": 3, \"backoffSeconds\": 0, \"rules\":"
                     " [{\"class\": \"ExitCode\", \"operator\": \"In\", \"values\": [1, 3],"
                     " \"action\": \"Fail\"}, {\"class\": \"OOM\", \"action\": \"Retry\"}]}"));
    j = senv_wait_phase(senv_base(&env), "team-r", "code", "Failed", 20000);
    ck_assert_str_eq(status_str(j, "reason"), "FailExitCode");
    ck_assert_int_eq(status_int(j, "retries"), 0);
    ck_assert_int_eq(status_int(j, "attempt"), 0);
    got = transitions("code", "Failed");
    ck_assert_msg(starts_with(got, "FailExitCode|rule 1 (ExitCode 3: Fail) fired; not retried;"
                                   " failed in "),
                  "%s", got);
    ck_assert_msg(strstr(got, "container trainer: Error (exit code 3)"), "%s", got);
    free(got);
    got = transitions("code", "Queued");
    ck_assert_str_eq(got, "");
    free(got);
    ck_assert_int_eq(senv_events(&env, "team-r", "code", "PodFailed"), 1);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM reclaims"), 0);
    json_decref(j);
}
END_TEST

/* OOM under "OOM: Retry" with maxRetries 2: two retries, each event naming rule 2 and
 * counting, then maxRetries exhausted fails the job. */
START_TEST(oom_retries_by_its_rule_until_exhausted)
{
    json_t *j;
    char *got;

    start("OOMKilled", "");
    free(senv_submit(senv_base(&env), "team-r", "oom", "a100-80gb", 8, NULL,
                     "\"retry\": {\"maxRetries\": 2, \"backoffSeconds\": 0, \"rules\":"
                     " [{\"class\": \"ExitCode\", \"operator\": \"In\", \"values\": [3],"
                     " \"action\": \"Fail\"}, {\"class\": \"OOM\", \"action\": \"Retry\"}]}"));
    j = senv_wait_phase(senv_base(&env), "team-r", "oom", "Failed", 30000);
    ck_assert_str_eq(status_str(j, "reason"), "RetriesExhausted");
    ck_assert_int_eq(status_int(j, "retries"), 2);
    ck_assert_int_eq(status_int(j, "attempt"), 2);
    got = transitions("oom", "Queued");
    ck_assert_msg(starts_with(got, "RetryOOM|rule 2 (OOM: Retry) fired; retry 1 of 2 in 0 s;"
                                   " failed in "),
                  "%s", got);
    ck_assert_msg(strstr(got, "\nRetryOOM|rule 2 (OOM: Retry) fired; retry 2 of 2 in 0 s;"
                              " failed in "),
                  "%s", got);
    ck_assert_msg(strstr(got, "OOMKilled (exit code 137); requeued"), "%s", got);
    free(got);
    /* Each retry is a ledger row: the attempt's GPUs and the work since it started. */
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM reclaims WHERE reason = 'retry'"
                                         " AND cluster IN ('east', 'west') AND gpus = 8 AND"
                                         " lost_gpu_hours > 0 AND attempt IN (0, 1)"),
                     2);
    got = transitions("oom", "Failed");
    ck_assert_msg(starts_with(got, "RetriesExhausted|rule 2 (OOM: Retry) fired; maxRetries 2"
                                   " exhausted, not retried; failed in "),
                  "%s", got);
    ck_assert_msg(!strchr(got, '\n'), "%s", got);
    free(got);
    json_decref(j);
}
END_TEST

/* While a retried job waits out its back-off it is Queued but not in the policy's queue:
 * the queue view lists it after the queue, without a place, with the time it joins the
 * queue again (the stored not_before, 60 s after its requeue); explain and a GET of the job
 * give the same reason. */
START_TEST(a_job_in_its_backoff_is_in_the_queue_view)
{
    json_t *v = NULL, *it, *pr;
    int64_t at = 0, stored, requeued;

    start("OOMKilled", "");
    free(senv_submit(senv_base(&env), "team-r", "later", "a100-80gb", 8, NULL,
                     "\"retry\": {\"maxRetries\": 1, \"backoffSeconds\": 60, \"rules\":"
                     " [{\"class\": \"OOM\", \"action\": \"Retry\"}]}"));
    for (int i = 0; senv_sql_long(&env, "SELECT attempt FROM jobs WHERE name = 'later'") < 1; i++) {
        ck_assert_msg(i < 400, "not requeued within 20 s");
        usleep(50 * 1000);
    }
    ck_assert_int_eq(itest_get_json(senv_base(&env), "/v1/queue", &v), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(v, "metadata"), "queued")),
                     0);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(v, "metadata"), "retryBackoff")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(v, "metadata"), "total")),
                     1);
    ck_assert_uint_eq(json_array_size(json_object_get(v, "items")), 1);
    it = json_array_get(json_object_get(v, "items"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(it, "metadata"), "name")),
                     "later");
    ck_assert(json_is_null(json_object_get(it, "order")));
    ck_assert(json_is_null(json_object_get(it, "estimatedStart")));
    pr = json_object_get(it, "pendingReason");
    ck_assert_str_eq(json_string_value(json_object_get(pr, "reason")), "RetryBackoff");
    ck_assert_int_eq(clock_parse_rfc3339(json_string_value(json_object_get(pr, "retryAt")), &at),
                     0);
    stored = senv_sql_long(&env, "SELECT (extract(epoch FROM not_before) * 1000)::bigint FROM jobs"
                                 " WHERE name = 'later'");
    requeued =
        senv_sql_long(&env, "SELECT (extract(epoch FROM max(e.ts)) * 1000)::bigint FROM"
                            " job_events e JOIN jobs j ON j.id = e.job_id WHERE j.name ="
                            " 'later' AND e.to_phase = 'Queued' AND e.from_phase <> 'Queued'");
    ck_assert_int_eq(at, stored);
    /* explain and a GET of the job give the same reason. */
    {
        json_t *x = NULL, *j = senv_get(senv_base(&env), "team-r", "later");

        ck_assert_int_eq(
            itest_get_json(senv_base(&env), "/v1/namespaces/team-r/trainingjobs/later/explain", &x),
            200);
        ck_assert_str_eq(json_string_value(json_object_get(x, "status")), "pending");
        ck_assert(json_equal(json_object_get(x, "reason"), pr));
        ck_assert(json_equal(json_object_get(json_object_get(j, "status"), "pendingReason"), pr));
        json_decref(x);
        json_decref(j);
    }
    ck_assert_msg(at - requeued > 58000 && at - requeued <= 60000,
                  "retryAt %lld ms after the requeue", (long long)(at - requeued));
    json_decref(v);
}
END_TEST

/* OOM under "OOM: Fail": not retried although retries remain. */
START_TEST(oom_fails_when_its_rule_says_fail)
{
    json_t *j;
    char *got;

    start("OOMKilled", "");
    free(senv_submit(senv_base(&env), "team-r", "oomfail", "a100-80gb", 8, NULL,
                     "\"retry\": {\"maxRetries\": 5, \"rules\": [{\"class\": \"Infrastructure\","
                     " \"action\": \"Retry\"}, {\"class\": \"OOM\", \"action\": \"Fail\"}]}"));
    j = senv_wait_phase(senv_base(&env), "team-r", "oomfail", "Failed", 20000);
    ck_assert_str_eq(status_str(j, "reason"), "FailOOM");
    ck_assert_int_eq(status_int(j, "retries"), 0);
    got = transitions("oomfail", "Failed");
    ck_assert_msg(starts_with(got, "FailOOM|rule 2 (OOM: Fail) fired; not retried; failed in "),
                  "%s", got);
    free(got);
    got = transitions("oomfail", "Queued");
    ck_assert_str_eq(got, "");
    free(got);
    json_decref(j);
}
END_TEST

/* The configuration's retryDefaults: a job without spec.scheduling.retry takes its
 * namespace's default (team-r: OOM fails), else the "*" default (one retry, no rule for
 * OOM); a job's own policy wins over both (maxRetries 0: the behaviour without a policy). */
START_TEST(namespace_defaults_apply_to_jobs_without_a_policy)
{
    json_t *j;
    char *got;

    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env,
                "\"retryDefaults\": {\"team-r\": {\"maxRetries\": 2, \"rules\": [{\"class\":"
                " \"OOM\", \"action\": \"Fail\"}]}, \"*\": {\"maxRetries\": 1,"
                " \"backoffSeconds\": 0}}," FAST_BASE ", \"jobAnnotations\":"
                " {\"sim.fedsched.io/outcome\": \"OOMKilled\"}}",
                "", NULL);
    senv_serve(&env, 0, NULL);
    free(senv_submit(senv_base(&env), "team-r", "by-ns", "a100-80gb", 8, NULL, ""));
    free(senv_submit(senv_base(&env), "team-s", "by-star", "a100-80gb", 8, NULL, ""));
    free(senv_submit(senv_base(&env), "team-r", "own", "a100-80gb", 8, NULL,
                     "\"retry\": {\"maxRetries\": 0}"));
    j = senv_wait_phase(senv_base(&env), "team-r", "by-ns", "Failed", 20000);
    ck_assert_str_eq(status_str(j, "reason"), "FailOOM");
    got = transitions("by-ns", "Failed");
    ck_assert_msg(starts_with(got, "FailOOM|rule 1 (OOM: Fail) fired; not retried; failed in "),
                  "%s", got);
    free(got);
    json_decref(j);
    j = senv_wait_phase(senv_base(&env), "team-s", "by-star", "Failed", 30000);
    ck_assert_str_eq(status_str(j, "reason"), "RetriesExhausted");
    got = transitions("by-star", "Queued");
    ck_assert_msg(starts_with(got, "RetryOOM|no rule matched OOM (Retry by default); retry 1 of 1"
                                   " in 0 s; failed in "),
                  "%s", got);
    ck_assert_msg(!strchr(got, '\n'), "%s", got);
    free(got);
    json_decref(j);
    j = senv_wait_phase(senv_base(&env), "team-r", "own", "Failed", 20000);
    ck_assert_str_eq(status_str(j, "reason"), "BackoffLimitExceeded");
    got = transitions("own", "Queued");
    ck_assert_str_eq(got, "");
    free(got);
    json_decref(j);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("retry");
    TCase *tc = tcase_create("e2e");

    tcase_set_timeout(tc, 90);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, infrastructure_failure_retries_in_the_other_cluster);
    tcase_add_test(tc, node_loss_retries_in_the_other_cluster);
    tcase_add_test(tc, exit_code_in_the_fail_list_does_not_retry);
    tcase_add_test(tc, oom_retries_by_its_rule_until_exhausted);
    tcase_add_test(tc, oom_fails_when_its_rule_says_fail);
    tcase_add_test(tc, a_job_in_its_backoff_is_in_the_queue_view);
    tcase_add_test(tc, namespace_defaults_apply_to_jobs_without_a_policy);
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
