/* test_retry.c -- retry policies (scheduler/retry.h): failures classified from a pod
 * diagnosis, the canonical object read, the first matching rule deciding, the back-off
 * doubling to its cap, maxRetries exhausting, and the namespace defaults. */
#include "scheduler/retry.h"

#include "cluster/pod_status.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A policy from canonical JSON text (the test fails when it does not read). */
static void policy(const char *text, struct retry_policy *p)
{
    json_t *v = json_loads(text, 0, NULL);

    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(retry_policy_read(v, p), 0);
    json_decref(v);
}

static struct retry_failure failure(enum retry_class cls, int code)
{
    struct retry_failure f = {cls, code};

    return f;
}

#define FOUR_RULES                                                                                 \
    "{\"maxRetries\": 3, \"backoffSeconds\": 30, \"maxBackoffSeconds\": 100, \"rules\": ["         \
    "{\"class\": \"ExitCode\", \"operator\": \"In\", \"values\": [2, 3], \"action\": \"Fail\"},"   \
    "{\"class\": \"OOM\", \"action\": \"Retry\"},"                                                 \
    "{\"class\": \"Infrastructure\", \"action\": \"Fail\"},"                                       \
    "{\"class\": \"ExitCode\", \"operator\": \"NotIn\", \"values\": [0, 1], \"action\": "          \
    "\"Retry\"}]}"

START_TEST(a_diagnosis_gives_the_class)
{
    struct pod_diag d;
    struct retry_failure f;

    memset(&d, 0, sizeof(d));
    d.kind = POD_TROUBLE_OOM;
    d.has_exit_code = true;
    d.exit_code = 137;
    f = retry_classify(false, false, &d);
    ck_assert_int_eq(f.cls, RETRY_CLASS_OOM);
    ck_assert_int_eq(f.exit_code, 137);
    d.kind = POD_TROUBLE_TERMINATED;
    d.exit_code = 3;
    f = retry_classify(false, false, &d);
    ck_assert_int_eq(f.cls, RETRY_CLASS_EXIT_CODE);
    ck_assert_int_eq(f.exit_code, 3);
    /* An eviction, by its pod's reason or by fedsched's DisruptionTarget rule, a lost node
     * and an image that would not come are the infrastructure's doing. */
    memset(&d, 0, sizeof(d));
    d.kind = POD_TROUBLE_POD_FAILED;
    snprintf(d.reason, sizeof(d.reason), "Evicted");
    ck_assert_int_eq(retry_classify(false, false, &d).cls, RETRY_CLASS_INFRASTRUCTURE);
    snprintf(d.reason, sizeof(d.reason), "DeadlineExceeded");
    ck_assert_int_eq(retry_classify(false, false, &d).cls, RETRY_CLASS_NONE);
    ck_assert_int_eq(retry_classify(true, false, &d).cls, RETRY_CLASS_INFRASTRUCTURE);
    ck_assert_int_eq(retry_classify(false, true, NULL).cls, RETRY_CLASS_INFRASTRUCTURE);
    memset(&d, 0, sizeof(d));
    d.kind = POD_TROUBLE_WAITING;
    snprintf(d.reason, sizeof(d.reason), "ErrImagePull");
    ck_assert_int_eq(retry_classify(false, false, &d).cls, RETRY_CLASS_INFRASTRUCTURE);
    snprintf(d.reason, sizeof(d.reason), "CreateContainerConfigError");
    ck_assert_int_eq(retry_classify(false, false, &d).cls, RETRY_CLASS_NONE);
    /* No pods to read: nothing a rule can name. */
    ck_assert_int_eq(retry_classify(false, false, NULL).cls, RETRY_CLASS_NONE);
}
END_TEST

START_TEST(the_first_matching_rule_fires)
{
    struct retry_policy p;
    struct retry_verdict v;
    struct retry_failure f;

    policy(FOUR_RULES, &p);
    ck_assert_int_eq(p.n_rules, 4);
    f = failure(RETRY_CLASS_EXIT_CODE, 3);
    retry_decide(&p, &f, 0, &v);
    ck_assert(v.by_policy);
    ck_assert(!v.retry);
    ck_assert_int_eq(v.rule, 1);
    ck_assert_str_eq(v.reason, "FailExitCode");
    ck_assert_str_eq(v.message, "rule 1 (ExitCode 3: Fail) fired; not retried");
    f = failure(RETRY_CLASS_OOM, 137);
    retry_decide(&p, &f, 0, &v);
    ck_assert(v.retry);
    ck_assert_int_eq(v.rule, 2);
    ck_assert_str_eq(v.reason, "RetryOOM");
    ck_assert_str_eq(v.message, "rule 2 (OOM: Retry) fired; retry 1 of 3 in 30 s");
    ck_assert_int_eq(v.backoff_ms, 30000);
    f = failure(RETRY_CLASS_INFRASTRUCTURE, 0);
    retry_decide(&p, &f, 0, &v);
    ck_assert(!v.retry);
    ck_assert_int_eq(v.rule, 3);
    ck_assert_str_eq(v.reason, "FailInfrastructure");
    /* 7 is not In [2, 3] (rule 1) but is NotIn [0, 1] (rule 4). */
    f = failure(RETRY_CLASS_EXIT_CODE, 7);
    retry_decide(&p, &f, 1, &v);
    ck_assert(v.retry);
    ck_assert_int_eq(v.rule, 4);
    ck_assert_str_eq(v.message, "rule 4 (ExitCode 7: Retry) fired; retry 2 of 3 in 60 s");
    /* 1 matches no rule: retried, as Kubernetes counts it against backoffLimit. */
    f = failure(RETRY_CLASS_EXIT_CODE, 1);
    retry_decide(&p, &f, 2, &v);
    ck_assert(v.retry);
    ck_assert_int_eq(v.rule, 0);
    ck_assert_str_eq(v.reason, "RetryExitCode");
    ck_assert_str_eq(v.message,
                     "no rule matched ExitCode 1 (Retry by default); retry 3 of 3 in 100 s");
    retry_policy_clear(&p);
    ck_assert_ptr_null(p.rules);
}
END_TEST

START_TEST(max_retries_exhausts)
{
    struct retry_policy p;
    struct retry_verdict v;
    struct retry_failure f = failure(RETRY_CLASS_OOM, 137);

    policy(FOUR_RULES, &p);
    retry_decide(&p, &f, 3, &v);
    ck_assert(v.by_policy);
    ck_assert(!v.retry);
    ck_assert_int_eq(v.rule, 2);
    ck_assert_str_eq(v.reason, "RetriesExhausted");
    ck_assert_str_eq(v.message, "rule 2 (OOM: Retry) fired; maxRetries 3 exhausted, not retried");
    retry_policy_clear(&p);
}
END_TEST

/* maxRetries 0 is the behaviour without a policy, and a failure no class names (a
 * deadline, pods that could not be read) is left to the caller too. */
START_TEST(no_say_without_retries_or_a_class)
{
    struct retry_policy p;
    struct retry_verdict v;
    struct retry_failure f = failure(RETRY_CLASS_OOM, 137);

    policy("{\"maxRetries\": 0, \"backoffSeconds\": 10, \"maxBackoffSeconds\": 600, \"rules\":"
           " [{\"class\": \"OOM\", \"action\": \"Fail\"}]}",
           &p);
    retry_decide(&p, &f, 0, &v);
    ck_assert(!v.by_policy);
    ck_assert(!v.retry);
    ck_assert_str_eq(v.reason, "");
    retry_policy_clear(&p);
    policy(FOUR_RULES, &p);
    f = failure(RETRY_CLASS_NONE, 0);
    retry_decide(&p, &f, 0, &v);
    ck_assert(!v.by_policy);
    retry_policy_clear(&p);
}
END_TEST

START_TEST(back_off_doubles_to_its_cap)
{
    struct retry_policy p;

    policy("{\"maxRetries\": 100, \"backoffSeconds\": 7, \"maxBackoffSeconds\": 50}", &p);
    ck_assert_int_eq(retry_backoff_ms(&p, 1), 7000);
    ck_assert_int_eq(retry_backoff_ms(&p, 2), 14000);
    ck_assert_int_eq(retry_backoff_ms(&p, 3), 28000);
    ck_assert_int_eq(retry_backoff_ms(&p, 4), 50000);
    ck_assert_int_eq(retry_backoff_ms(&p, 100), 50000);
    retry_policy_clear(&p);
    policy("{\"maxRetries\": 1, \"backoffSeconds\": 0, \"maxBackoffSeconds\": 0}", &p);
    ck_assert_int_eq(retry_backoff_ms(&p, 5), 0);
    retry_policy_clear(&p);
}
END_TEST

START_TEST(only_canonical_objects_read)
{
    static const char *const bad[] = {
        "[]",
        "{\"backoffSeconds\": 10, \"maxBackoffSeconds\": 600}",
        "{\"maxRetries\": -1, \"backoffSeconds\": 10, \"maxBackoffSeconds\": 600}",
        "{\"maxRetries\": 1, \"backoffSeconds\": 10, \"maxBackoffSeconds\": 600, \"rules\": {}}",
        "{\"maxRetries\": 1, \"backoffSeconds\": 10, \"maxBackoffSeconds\": 600, \"rules\":"
        " [{\"class\": \"Disk\", \"action\": \"Retry\"}]}",
        "{\"maxRetries\": 1, \"backoffSeconds\": 10, \"maxBackoffSeconds\": 600, \"rules\":"
        " [{\"class\": \"OOM\", \"action\": \"Ignore\"}]}",
        "{\"maxRetries\": 1, \"backoffSeconds\": 10, \"maxBackoffSeconds\": 600, \"rules\":"
        " [{\"class\": \"ExitCode\", \"action\": \"Fail\", \"operator\": \"In\"}]}",
        "{\"maxRetries\": 1, \"backoffSeconds\": 10, \"maxBackoffSeconds\": 600, \"rules\":"
        " [{\"class\": \"ExitCode\", \"action\": \"Fail\", \"operator\": \"In\", \"values\":"
        " [300]}]}",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *v = json_loads(bad[i], 0, NULL);
        struct retry_policy p;

        ck_assert_ptr_nonnull(v);
        ck_assert_msg(retry_policy_read(v, &p) == -1, "read %s", bad[i]);
        ck_assert_int_eq(p.max_retries, 0);
        ck_assert_ptr_null(p.rules);
        json_decref(v);
    }
}
END_TEST

/* The spec's policy wins; then the job's namespace's default, then "*", then none. */
START_TEST(namespace_defaults_apply_when_the_spec_has_none)
{
    json_t *defaults = json_loads(
        "{\"team-a\": {\"maxRetries\": 2, \"backoffSeconds\": 1, \"maxBackoffSeconds\": 1},"
        " \"*\": {\"maxRetries\": 5, \"backoffSeconds\": 1, \"maxBackoffSeconds\": 1}}",
        0, NULL);
    json_t *own = json_loads("{\"scheduling\": {\"retry\": {\"maxRetries\": 9, \"backoffSeconds\":"
                             " 1, \"maxBackoffSeconds\": 1}}}",
                             0, NULL);
    json_t *none = json_loads("{\"scheduling\": {}}", 0, NULL);
    struct retry_policy p;

    retry_policy_for(none, "team-a", &p);
    ck_assert_int_eq(p.max_retries, 0);
    retry_defaults_set(defaults);
    json_decref(defaults);
    retry_policy_for(own, "team-a", &p);
    ck_assert_int_eq(p.max_retries, 9);
    retry_policy_clear(&p);
    retry_policy_for(none, "team-a", &p);
    ck_assert_int_eq(p.max_retries, 2);
    retry_policy_clear(&p);
    retry_policy_for(none, "team-b", &p);
    ck_assert_int_eq(p.max_retries, 5);
    retry_policy_clear(&p);
    retry_defaults_set(NULL);
    retry_policy_for(none, "team-b", &p);
    ck_assert_int_eq(p.max_retries, 0);
    json_decref(own);
    json_decref(none);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("retry");
    TCase *tc = tcase_create("policy");

    tcase_add_test(tc, a_diagnosis_gives_the_class);
    tcase_add_test(tc, the_first_matching_rule_fires);
    tcase_add_test(tc, max_retries_exhausts);
    tcase_add_test(tc, no_say_without_retries_or_a_class);
    tcase_add_test(tc, back_off_doubles_to_its_cap);
    tcase_add_test(tc, only_canonical_objects_read);
    tcase_add_test(tc, namespace_defaults_apply_when_the_spec_has_none);
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
