/* test_prereq.c -- cluster/prereq: reading discovery, review and Status answers, the
 * conditions' transitions, their JSON, and the policy's copy. The checks against a cluster
 * are in tests/integration/test_prereq.c. */
#include "base/err.h"
#include "cluster/cluster_config.h"
#include "cluster/prereq.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define LEN(s) strlen(s)

static const char groups[] =
    "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":["
    "{\"name\":\"batch\",\"versions\":[{\"groupVersion\":\"batch/v1\",\"version\":\"v1\"}]},"
    "{\"name\":\"ray.io\",\"versions\":[{\"groupVersion\":\"ray.io/v1\",\"version\":\"v1\"}],"
    "\"preferredVersion\":{\"groupVersion\":\"ray.io/v1\",\"version\":\"v1\"}},"
    "{\"name\":\"kubeflow.org\",\"versions\":[{\"groupVersion\":\"kubeflow.org/v1\","
    "\"version\":\"v1\"},{\"groupVersion\":\"kubeflow.org/v2beta1\",\"version\":\"v2beta1\"}]},"
    "{\"name\":\"jobset.x-k8s.io\",\"versions\":[{\"groupVersion\":\"jobset.x-k8s.io/v1alpha2\","
    "\"version\":\"v1alpha2\"}]}]}";

START_TEST(test_discovery_records_framework_groups)
{
    struct prereq_result r;
    struct err e = {0};
    bool served = true;

    prereq_init(&r);
    ck_assert_int_eq(prereq_read_groups(groups, LEN(groups), &r, &e), 0);
    ck_assert_uint_eq(r.n_caps, 4);
    ck_assert_str_eq(r.capabilities[0], "ray.io/v1");
    ck_assert_str_eq(r.capabilities[1], "kubeflow.org/v1");
    ck_assert_str_eq(r.capabilities[2], "kubeflow.org/v2beta1");
    ck_assert_str_eq(r.capabilities[3], "jobset.x-k8s.io/v1alpha2");
    /* A body that is not an APIGroupList is an error naming the field. */
    ck_assert_int_eq(prereq_read_groups("{\"kind\":\"Status\"}", 17, &r, &e), -1);
    ck_assert_int_eq(e.code, ERR_MALFORMED);
    ck_assert_str_eq(e.field, "groups");
    ck_assert_int_eq(prereq_read_groups("[", 1, &r, &e), -1);
    /* The group's resource list says whether rayjobs itself is served. */
    ck_assert_int_eq(
        prereq_read_resources("{\"kind\":\"APIResourceList\",\"groupVersion\":"
                              "\"ray.io/v1\",\"resources\":[{\"name\":\"rayclusters\"}"
                              ",{\"name\":\"rayjobs\"},{\"name\":\"rayjobs/status\"}]}",
                              LEN("{\"kind\":\"APIResourceList\",\"groupVersion\":"
                                  "\"ray.io/v1\",\"resources\":[{\"name\":"
                                  "\"rayclusters\"},{\"name\":\"rayjobs\"},{\"name\":"
                                  "\"rayjobs/status\"}]}"),
                              "rayjobs", &served, &e),
        0);
    ck_assert(served);
    ck_assert_int_eq(prereq_read_resources("{\"kind\":\"APIResourceList\",\"resources\":[{\"name\""
                                           ":\"rayclusters\"}]}",
                                           LEN("{\"kind\":\"APIResourceList\",\"resources\":[{"
                                               "\"name\":\"rayclusters\"}]}"),
                                           "rayjobs", &served, &e),
                     0);
    ck_assert(!served);
}
END_TEST

START_TEST(test_reviews_and_not_found)
{
    static const char ns_missing[] =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
        "\"namespaces \\\"x\\\" not found\",\"reason\":\"NotFound\",\"details\":{\"name\":\"x\","
        "\"kind\":\"namespaces\"},\"code\":404}";
    static const char not_served[] =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
        "\"the server could not find the requested resource\",\"reason\":\"NotFound\","
        "\"details\":{},\"code\":404}";
    bool allowed = false;
    struct err e = {0};
    json_t *req = prereq_review_request("create", "batch", "jobs", "fedsched-jobs");
    json_t *attrs = json_object_get(json_object_get(req, "spec"), "resourceAttributes");

    ck_assert_str_eq(json_string_value(json_object_get(req, "kind")), "SelfSubjectAccessReview");
    ck_assert_str_eq(json_string_value(json_object_get(req, "apiVersion")),
                     "authorization.k8s.io/v1");
    ck_assert_str_eq(json_string_value(json_object_get(attrs, "verb")), "create");
    ck_assert_str_eq(json_string_value(json_object_get(attrs, "group")), "batch");
    ck_assert_str_eq(json_string_value(json_object_get(attrs, "resource")), "jobs");
    ck_assert_str_eq(json_string_value(json_object_get(attrs, "namespace")), "fedsched-jobs");
    json_decref(req);
    req = prereq_review_request("list", "", "nodes", "");
    attrs = json_object_get(json_object_get(req, "spec"), "resourceAttributes");
    ck_assert_ptr_null(json_object_get(attrs, "namespace"));
    json_decref(req);

    ck_assert_int_eq(prereq_read_review("{\"status\":{\"allowed\":true}}", 27, &allowed, &e), 0);
    ck_assert(allowed);
    ck_assert_int_eq(
        prereq_read_review("{\"status\":{\"allowed\":false,\"reason\":\"no\"}}", 42, &allowed, &e),
        0);
    ck_assert(!allowed);
    ck_assert_int_eq(prereq_read_review("{\"status\":{}}", 13, &allowed, &e), -1);
    ck_assert_str_eq(e.field, "status.allowed");

    ck_assert(prereq_is_not_found(ns_missing, LEN(ns_missing), "namespaces"));
    ck_assert(!prereq_is_not_found(ns_missing, LEN(ns_missing), "priorityclasses"));
    /* A server that does not serve the resource has not said the object is missing. */
    ck_assert(!prereq_is_not_found(not_served, LEN(not_served), "namespaces"));
    ck_assert(!prereq_is_not_found("not json", 8, "namespaces"));
}
END_TEST

START_TEST(test_conditions_transitions_and_json)
{
    struct prereq_result prev, r;
    struct snapshot_cluster sc;
    json_t *j, *c;

    prereq_init(&prev);
    prereq_carry_times(&prev, NULL, 1000);
    r = prev;
    prereq_set(&r, SNAPSHOT_PREREQ_KUBERAY, "False", "NotInstalled", "no %s", "rayjobs");
    prereq_carry_times(&r, &prev, 5000);
    /* Only the condition whose status changed gets a new lastTransitionTime. */
    ck_assert_int_eq(r.conds[SNAPSHOT_PREREQ_KUBERAY].last_transition_ms, 5000);
    ck_assert_int_eq(r.conds[SNAPSHOT_PREREQ_NAMESPACE].last_transition_ms, 1000);

    memset(&sc, 0, sizeof(sc));
    prereq_set(&r, SNAPSHOT_PREREQ_NAMESPACE, "True", "Exists", "ok");
    prereq_to_snapshot(&r, &sc);
    /* Never checked: every condition is UNKNOWN to the policy, whatever it holds. */
    ck_assert_int_eq(sc.prereqs[SNAPSHOT_PREREQ_KUBERAY].state, SNAPSHOT_PREREQ_UNKNOWN);
    ck_assert_int_eq(sc.prereqs[SNAPSHOT_PREREQ_NAMESPACE].state, SNAPSHOT_PREREQ_UNKNOWN);
    r.checked = true;
    prereq_to_snapshot(&r, &sc);
    ck_assert_int_eq(sc.prereqs[SNAPSHOT_PREREQ_KUBERAY].state, SNAPSHOT_PREREQ_MISSING);
    ck_assert_str_eq(sc.prereqs[SNAPSHOT_PREREQ_KUBERAY].message, "no rayjobs");
    ck_assert_int_eq(sc.prereqs[SNAPSHOT_PREREQ_NAMESPACE].state, SNAPSHOT_PREREQ_MET);
    ck_assert_int_eq(sc.prereqs[SNAPSHOT_PREREQ_PERMISSIONS].state, SNAPSHOT_PREREQ_UNKNOWN);

    j = prereq_conditions_json(&r);
    ck_assert_uint_eq(json_array_size(j), SNAPSHOT_PREREQ_COUNT);
    c = json_array_get(j, SNAPSHOT_PREREQ_KUBERAY);
    ck_assert_str_eq(json_string_value(json_object_get(c, "type")), "KubeRayInstalled");
    ck_assert_str_eq(json_string_value(json_object_get(c, "status")), "False");
    ck_assert_str_eq(json_string_value(json_object_get(c, "reason")), "NotInstalled");
    ck_assert_str_eq(json_string_value(json_object_get(c, "message")), "no rayjobs");
    ck_assert_str_eq(json_string_value(json_object_get(c, "lastTransitionTime")),
                     "1970-01-01T00:00:05.000Z");
    json_decref(j);
    for (int p = 0; p < SNAPSHOT_PREREQ_COUNT; p++)
        ck_assert_str_ne(snapshot_prereq_name((enum snapshot_prereq)p), "Unknown");
}
END_TEST

/* A check that cannot reach the cluster keeps what was known: a False stays False (no
 * placement because the API server did not answer once), an unknown one says why. */
START_TEST(test_failed_check_keeps_known_conditions)
{
    struct cluster_config cfg;
    struct prereq_result prev, now;
    const struct prereq_options po = {"fedsched-training", "fedsched-borrowed", 500};

    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.name, sizeof(cfg.name), "gone");
    snprintf(cfg.api_server, sizeof(cfg.api_server), "http://127.0.0.1:1");
    prereq_init(&prev);
    prereq_set(&prev, SNAPSHOT_PREREQ_PRIORITY_CLASS_BORROWED, "False", "NotFound", "missing");
    prereq_set(&prev, SNAPSHOT_PREREQ_PRIORITY_CLASS, "True", "Exists", "there");
    prev.conds[SNAPSHOT_PREREQ_PRIORITY_CLASS_BORROWED].last_transition_ms = 1000;
    prereq_check(&cfg, &po, &prev, 5000, &now);
    ck_assert_str_eq(now.conds[SNAPSHOT_PREREQ_PRIORITY_CLASS_BORROWED].status, "False");
    ck_assert_str_eq(now.conds[SNAPSHOT_PREREQ_PRIORITY_CLASS_BORROWED].reason, "NotFound");
    ck_assert_int_eq(now.conds[SNAPSHOT_PREREQ_PRIORITY_CLASS_BORROWED].last_transition_ms, 1000);
    ck_assert_str_eq(now.conds[SNAPSHOT_PREREQ_PRIORITY_CLASS].status, "True");
    /* never known: Unknown, with the failure */
    ck_assert_str_eq(now.conds[SNAPSHOT_PREREQ_NAMESPACE].status, "Unknown");
    ck_assert_str_eq(now.conds[SNAPSHOT_PREREQ_NAMESPACE].reason, "CheckFailed");
    /* and without anything known before, all Unknown */
    prereq_check(&cfg, &po, NULL, 5000, &now);
    ck_assert_str_eq(now.conds[SNAPSHOT_PREREQ_PRIORITY_CLASS_BORROWED].status, "Unknown");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("prereq");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_discovery_records_framework_groups);
    tcase_add_test(tc, test_reviews_and_not_found);
    tcase_add_test(tc, test_conditions_transitions_and_json);
    tcase_add_test(tc, test_failed_check_keeps_known_conditions);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
