/* test_k8s_jobs.c -- where a Job or RayJob stands, read from its status: every KubeRay
 * jobStatus and jobDeploymentStatus (ray.io/v1, KubeRay 1.x) and the combinations that
 * matter, one row each. The phase each state becomes is test_sched's (ray_stopped_...). */
#include "cluster/k8s_jobs.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A RayJob whose status has jobStatus js and jobDeploymentStatus ds (NULL: absent) and,
 * when given, status.reason. */
static json_t *rayjob(const char *js, const char *ds, const char *reason)
{
    json_t *st = json_object();

    if (js)
        json_object_set_new(st, "jobStatus", json_string(js));
    if (ds)
        json_object_set_new(st, "jobDeploymentStatus", json_string(ds));
    if (reason)
        json_object_set_new(st, "reason", json_string(reason));
    return json_pack("{s:s, s:s, s:o}", "apiVersion", "ray.io/v1", "kind", "RayJob", "status", st);
}

static const struct {
    const char *js, *ds, *reason; /* the RayJob's status */
    enum k8s_job_state want;
    const char *want_reason;
} rows[] = {
    /* Not started yet, or between attempts. */
    {NULL, NULL, NULL, K8S_JOB_PENDING, ""},
    {"", "", NULL, K8S_JOB_PENDING, ""},
    {"", "Initializing", NULL, K8S_JOB_PENDING, "Initializing"},
    {"PENDING", "Initializing", NULL, K8S_JOB_PENDING, "Initializing"},
    {"PENDING", "Running", NULL, K8S_JOB_PENDING, ""},
    {"", "Waiting", NULL, K8S_JOB_PENDING, "Waiting"},
    {"", "Scheduling", NULL, K8S_JOB_PENDING, "Scheduling"},
    {"SCHEDULED", "Scheduled", NULL, K8S_JOB_PENDING, "Scheduled"},
    /* Running. */
    {"RUNNING", "Running", NULL, K8S_JOB_RUNNING, ""},
    {"RUNNING", NULL, NULL, K8S_JOB_RUNNING, ""},
    /* Suspended or retrying: not running, whatever the last attempt's jobStatus says. */
    {"RUNNING", "Suspending", NULL, K8S_JOB_PENDING, "Suspending"},
    {"STOPPED", "Suspended", NULL, K8S_JOB_PENDING, "Suspended"},
    {"FAILED", "Retrying", NULL, K8S_JOB_PENDING, "Retrying"},
    {"SUCCEEDED", "Retrying", NULL, K8S_JOB_PENDING, "Retrying"},
    /* Succeeded: the Ray job said so. */
    {"SUCCEEDED", "Complete", NULL, K8S_JOB_SUCCEEDED, ""},
    {"SUCCEEDED", "Running", NULL, K8S_JOB_SUCCEEDED, ""},
    {"SUCCEEDED", NULL, NULL, K8S_JOB_SUCCEEDED, ""},
    /* Failed, by the job or by the operator, reason kept. */
    {"FAILED", "Complete", NULL, K8S_JOB_FAILED, "Failed"},
    {"FAILED", "Failed", "AppFailed", K8S_JOB_FAILED, "AppFailed"},
    {"FAILED", "Running", NULL, K8S_JOB_FAILED, "Failed"},
    {"RUNNING", "Failed", "DeadlineExceeded", K8S_JOB_FAILED, "DeadlineExceeded"},
    {"", "Failed", "SubmissionFailed", K8S_JOB_FAILED, "SubmissionFailed"},
    {"STOPPED", "Failed", "DeadlineExceeded", K8S_JOB_FAILED, "DeadlineExceeded"},
    {"", "ValidationFailed", NULL, K8S_JOB_FAILED, "ValidationFailed"},
    {"RUNNING", "ValidationFailed", "ValidationFailed", K8S_JOB_FAILED, "ValidationFailed"},
    /* Stopped from outside (ray job stop): neither success nor the job's failure. */
    {"STOPPED", "Complete", NULL, K8S_JOB_STOPPED, "Stopped"},
    {"STOPPED", "Running", NULL, K8S_JOB_STOPPED, "Stopped"},
    {"STOPPED", NULL, NULL, K8S_JOB_STOPPED, "Stopped"},
    /* Complete with no terminal jobStatus: success was never seen. */
    {"", "Complete", NULL, K8S_JOB_FAILED, "NoJobStatus"},
    {"RUNNING", "Complete", NULL, K8S_JOB_FAILED, "NoJobStatus"},
    /* Values from a KubeRay newer than this table: not final. */
    {"SOMETHING_NEW", "SomethingNew", NULL, K8S_JOB_PENDING, ""},
};

START_TEST(rayjob_states)
{
    json_t *obj = rayjob(rows[_i].js, rows[_i].ds, rows[_i].reason);
    char reason[64];
    enum k8s_job_state got = k8s_job_state_of(K8S_KIND_RAYJOB, obj, reason, sizeof(reason));

    ck_assert_msg(got == rows[_i].want && strcmp(reason, rows[_i].want_reason) == 0,
                  "jobStatus %s / jobDeploymentStatus %s: %s (%s), want %s (%s)",
                  rows[_i].js ? rows[_i].js : "-", rows[_i].ds ? rows[_i].ds : "-",
                  k8s_job_state_name(got), reason, k8s_job_state_name(rows[_i].want),
                  rows[_i].want_reason);
    json_decref(obj);
}
END_TEST

/* Every jobStatus KubeRay defines appears in the table, so none is mapped by accident. */
START_TEST(every_kuberay_status_has_a_row)
{
    static const char *const js[] = {"", "PENDING", "RUNNING", "STOPPED", "SUCCEEDED", "FAILED"};
    static const char *const ds[] = {"",        "Initializing", "Running",   "Complete",
                                     "Failed",  "Suspending",   "Suspended", "Retrying",
                                     "Waiting", "Scheduling",   "Scheduled", "ValidationFailed"};

    for (size_t i = 0; i < sizeof(js) / sizeof(js[0]); i++) {
        bool seen = false;

        for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
            seen |= rows[r].js && strcmp(rows[r].js, js[i]) == 0;
        ck_assert_msg(seen, "jobStatus \"%s\" has no row", js[i]);
    }
    for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
        bool seen = false;

        for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
            seen |= rows[r].ds && strcmp(rows[r].ds, ds[i]) == 0;
        ck_assert_msg(seen, "jobDeploymentStatus \"%s\" has no row", ds[i]);
    }
}
END_TEST

/* A batch/v1 Job: final only by its Complete or Failed condition. */
START_TEST(job_states)
{
    json_t *obj = json_pack("{s:{s:i, s:i}}", "status", "active", 2, "ready", 1);
    char reason[64];

    ck_assert_int_eq(k8s_job_state_of(K8S_KIND_JOB, obj, reason, sizeof(reason)), K8S_JOB_PENDING);
    json_object_set_new(json_object_get(obj, "status"), "ready", json_integer(2));
    ck_assert_int_eq(k8s_job_state_of(K8S_KIND_JOB, obj, reason, sizeof(reason)), K8S_JOB_RUNNING);
    json_object_set_new(json_object_get(obj, "status"), "conditions",
                        json_pack("[{s:s, s:s, s:s}]", "type", "Failed", "status", "True", "reason",
                                  "DeadlineExceeded"));
    ck_assert_int_eq(k8s_job_state_of(K8S_KIND_JOB, obj, reason, sizeof(reason)), K8S_JOB_FAILED);
    ck_assert_str_eq(reason, "DeadlineExceeded");
    json_decref(obj);
    ck_assert_str_eq(k8s_job_state_name(K8S_JOB_STOPPED), "Stopped");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("k8s_jobs");
    TCase *tc = tcase_create("states");

    tcase_add_loop_test(tc, rayjob_states, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(tc, every_kuberay_status_has_a_row);
    tcase_add_test(tc, job_states);
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
