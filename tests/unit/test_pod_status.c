/* test_pod_status.c -- what a job's pods say went wrong (OOMKilled, exit codes, image pulls,
 * evictions, unschedulable), the one-line diagnosis, and a Job's Suspended, resumed and
 * finished times, over fixtures shaped like the Kubernetes API reference's (testdata/k8s/diag/). */
#include "cluster/pod_status.h"

#include "base/clock.h"
#include "tests/support/k8s_fixture.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *load(const char *rel)
{
    size_t len = 0;
    char *text = k8s_fixture_read(rel, &len);
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);

    ck_assert_msg(j != NULL, "%s: %s", rel, je.text);
    free(text);
    return j;
}

/* Diagnoses the items of a PodList fixture and formats the line into line. */
static bool diagnose(const char *rel, struct pod_diag *d, char *line, size_t size)
{
    json_t *list = load(rel);
    bool found = pod_status_diagnose(json_object_get(list, "items"), d);

    pod_diag_format(d, line, size);
    json_decref(list);
    return found;
}

START_TEST(oomkilled_beats_a_plain_error)
{
    struct pod_diag d;
    char line[512];

    ck_assert(diagnose("k8s/diag/pods-oomkilled.json", &d, line, sizeof(line)));
    ck_assert_int_eq(d.kind, POD_TROUBLE_OOM);
    ck_assert_str_eq(d.pod, "fj-0b6d1f6e-2-1-q9z4d");
    ck_assert_str_eq(d.container, "trainer");
    ck_assert_str_eq(d.reason, "OOMKilled");
    ck_assert(d.has_exit_code);
    ck_assert_int_eq(d.exit_code, 137);
    ck_assert_int_eq(d.n_pods, 2);
    ck_assert_str_eq(line, "pod fj-0b6d1f6e-2-1-q9z4d container trainer: OOMKilled (exit code 137)"
                           " (and 1 more pod in trouble)");
}
END_TEST

START_TEST(image_pull_back_off_names_the_image)
{
    struct pod_diag d;
    char line[512];

    ck_assert(diagnose("k8s/diag/pods-imagepullbackoff.json", &d, line, sizeof(line)));
    ck_assert_int_eq(d.kind, POD_TROUBLE_WAITING);
    ck_assert_str_eq(d.reason, "ImagePullBackOff");
    ck_assert(!d.has_exit_code);
    /* ContainerCreating is no trouble: only one pod counts. */
    ck_assert_int_eq(d.n_pods, 1);
    ck_assert(pod_diag_image_trouble(&d));
    ck_assert_str_eq(line, "pod fj-0b6d1f6e-1-0-abcde container trainer: ImagePullBackOff: "
                           "Back-off pulling image \"registry.example/trainer:nope\"");
}
END_TEST

START_TEST(evicted_is_a_pod_level_reason)
{
    struct pod_diag d;
    char line[512];

    ck_assert(diagnose("k8s/diag/pods-evicted.json", &d, line, sizeof(line)));
    ck_assert_int_eq(d.kind, POD_TROUBLE_POD_FAILED);
    ck_assert_str_eq(d.reason, "Evicted");
    ck_assert_str_eq(d.container, "");
    ck_assert(!pod_diag_image_trouble(&d));
    ck_assert_str_eq(line, "pod fj-0b6d1f6e-1-0-evict: Evicted: The node was low on resource: "
                           "memory. Threshold quantity: 100Mi, available: 51200Ki. ");
}
END_TEST

START_TEST(unschedulable_carries_the_scheduler_message)
{
    struct pod_diag d;
    char line[512];

    ck_assert(diagnose("k8s/diag/pods-unschedulable.json", &d, line, sizeof(line)));
    ck_assert_int_eq(d.kind, POD_TROUBLE_UNSCHEDULABLE);
    ck_assert_str_eq(line, "pod fj-0b6d1f6e-1-0-unsch: Unschedulable: 0/3 nodes are available: "
                           "3 Insufficient nvidia.com/gpu.");
}
END_TEST

START_TEST(crash_loop_reports_the_last_termination)
{
    struct pod_diag d;
    char line[512];

    /* state waiting CrashLoopBackOff, lastState terminated OOMKilled: the exit code is what
     * the user needs, and the completed init container is no trouble. */
    ck_assert(diagnose("k8s/diag/pods-crashloop.json", &d, line, sizeof(line)));
    ck_assert_int_eq(d.kind, POD_TROUBLE_OOM);
    ck_assert_int_eq(d.exit_code, 137);
    ck_assert_int_eq(d.n_pods, 1);
    ck_assert_str_eq(line,
                     "pod fj-0b6d1f6e-1-0-crash container trainer: OOMKilled (exit code 137)");
}
END_TEST

START_TEST(error_exit_code_and_message)
{
    struct pod_diag d;
    char line[512];

    ck_assert(diagnose("k8s/diag/pods-error-exit.json", &d, line, sizeof(line)));
    ck_assert_int_eq(d.kind, POD_TROUBLE_TERMINATED);
    ck_assert_str_eq(d.container, "trainer");
    ck_assert_int_eq(d.n_pods, 1);
    ck_assert_str_eq(
        line, "pod fj-0b6d1f6e-1-0-exit3 container trainer: Error (exit code 3): loss is NaN");
}
END_TEST

START_TEST(healthy_pods_have_no_diagnosis)
{
    json_t *pods =
        json_pack("[{s:{s:s}, s:{s:s, s:[{s:s, s:{s:{s:i, s:s}}}], s:[{s:s, s:s}]}}]", "metadata",
                  "name", "p0", "status", "phase", "Running", "containerStatuses", "name",
                  "trainer", "state", "terminated", "exitCode", 0, "reason", "Completed",
                  "conditions", "type", "PodScheduled", "status", "True");
    struct pod_diag d;

    ck_assert_ptr_nonnull(pods);
    ck_assert(!pod_status_diagnose(pods, &d));
    ck_assert_int_eq(d.kind, POD_TROUBLE_NONE);
    ck_assert_int_eq(d.n_pods, 0);
    ck_assert(!pod_status_diagnose(NULL, &d));
    json_decref(pods);
}
END_TEST

START_TEST(an_exit_code_without_a_reason_is_an_error)
{
    json_t *pods =
        json_pack("[{s:{s:s}, s:{s:[{s:s, s:{s:{s:i}}}]}}]", "metadata", "name", "p0", "status",
                  "containerStatuses", "name", "c", "state", "terminated", "exitCode", 2);
    struct pod_diag d;
    char line[256];

    ck_assert(pod_status_diagnose(pods, &d));
    pod_diag_format(&d, line, sizeof(line));
    ck_assert_str_eq(line, "pod p0 container c: Error (exit code 2)");
    json_decref(pods);
}
END_TEST

START_TEST(among_equals_the_first_pod_is_named)
{
    json_t *pods = json_pack(
        "[{s:{s:s}, s:{s:[{s:s, s:{s:{s:s}}}]}},"
        " {s:{s:s}, s:{s:[{s:s, s:{s:{s:s}}}]}},"
        " {s:{s:s}, s:{s:[{s:s, s:{s:{s:s}}}]}}]",
        "metadata", "name", "p0", "status", "containerStatuses", "name", "c", "state", "waiting",
        "reason", "ErrImagePull", "metadata", "name", "p1", "status", "containerStatuses", "name",
        "c", "state", "waiting", "reason", "ErrImagePull", "metadata", "name", "p2", "status",
        "containerStatuses", "name", "c", "state", "waiting", "reason", "ErrImagePull");
    struct pod_diag d;
    char line[256];

    ck_assert_ptr_nonnull(pods);
    ck_assert(pod_status_diagnose(pods, &d));
    pod_diag_format(&d, line, sizeof(line));
    ck_assert_str_eq(line, "pod p0 container c: ErrImagePull (and 2 more pods in trouble)");
    ck_assert(pod_diag_image_trouble(&d));
    json_decref(pods);
}
END_TEST

START_TEST(job_suspended_and_resumed)
{
    json_t *sus = load("k8s/diag/job-suspended.json"), *res = load("k8s/diag/job-resumed.json");
    json_t *failed = load("k8s/diag/job-failed.json");
    int64_t since = -1, want = 0;
    char msg[64];

    ck_assert_int_eq(clock_parse_rfc3339("2026-03-01T10:05:00Z", &want), 0);
    ck_assert(pod_status_suspended(K8S_KIND_JOB, sus, &since, msg, sizeof(msg)));
    ck_assert_int_eq(since, want);
    ck_assert_str_eq(msg, "Job suspended");
    ck_assert_int_eq(pod_status_resumed_ms(K8S_KIND_JOB, sus), 0);

    ck_assert(!pod_status_suspended(K8S_KIND_JOB, res, &since, msg, sizeof(msg)));
    ck_assert_str_eq(msg, "");
    ck_assert_int_eq(clock_parse_rfc3339("2026-03-01T10:20:00Z", &want), 0);
    ck_assert_int_eq(pod_status_resumed_ms(K8S_KIND_JOB, res), want);

    ck_assert(!pod_status_suspended(K8S_KIND_JOB, failed, &since, NULL, 0));
    ck_assert_int_eq(pod_status_finished_ms(K8S_KIND_JOB, sus), 0);
    json_decref(sus);
    json_decref(res);
    json_decref(failed);
}
END_TEST

START_TEST(finished_times)
{
    json_t *failed = load("k8s/diag/job-failed.json");
    json_t *done =
        json_pack("{s:{s:s, s:[{s:s, s:s}]}}", "status", "completionTime", "2026-03-01T11:00:00Z",
                  "conditions", "type", "Complete", "status", "True");
    json_t *ray = json_pack("{s:{s:s, s:s, s:s}}", "status", "jobStatus", "SUCCEEDED",
                            "jobDeploymentStatus", "Complete", "endTime", "2026-03-01T12:00:00Z");
    json_t *ray_sus = json_pack("{s:{s:s}}", "status", "jobDeploymentStatus", "Suspended");
    int64_t want = 0, since = -1;

    /* The Failed condition's time, not the earlier FailureTarget's. */
    ck_assert_int_eq(clock_parse_rfc3339("2026-03-01T10:04:11Z", &want), 0);
    ck_assert_int_eq(pod_status_finished_ms(K8S_KIND_JOB, failed), want);
    ck_assert_int_eq(clock_parse_rfc3339("2026-03-01T11:00:00Z", &want), 0);
    ck_assert_int_eq(pod_status_finished_ms(K8S_KIND_JOB, done), want);
    ck_assert_int_eq(clock_parse_rfc3339("2026-03-01T12:00:00Z", &want), 0);
    ck_assert_int_eq(pod_status_finished_ms(K8S_KIND_RAYJOB, ray), want);
    ck_assert(!pod_status_suspended(K8S_KIND_RAYJOB, ray, &since, NULL, 0));
    ck_assert(pod_status_suspended(K8S_KIND_RAYJOB, ray_sus, &since, NULL, 0));
    ck_assert_int_eq(since, 0);
    ck_assert_int_eq(pod_status_finished_ms(K8S_KIND_RAYJOB, ray_sus), 0);
    json_decref(failed);
    json_decref(done);
    json_decref(ray);
    json_decref(ray_sus);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("pod_status");
    TCase *tc = tcase_create("diagnosis");

    tcase_add_test(tc, oomkilled_beats_a_plain_error);
    tcase_add_test(tc, image_pull_back_off_names_the_image);
    tcase_add_test(tc, evicted_is_a_pod_level_reason);
    tcase_add_test(tc, unschedulable_carries_the_scheduler_message);
    tcase_add_test(tc, crash_loop_reports_the_last_termination);
    tcase_add_test(tc, error_exit_code_and_message);
    tcase_add_test(tc, healthy_pods_have_no_diagnosis);
    tcase_add_test(tc, an_exit_code_without_a_reason_is_an_error);
    tcase_add_test(tc, among_equals_the_first_pod_is_named);
    tcase_add_test(tc, job_suspended_and_resumed);
    tcase_add_test(tc, finished_times);
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
