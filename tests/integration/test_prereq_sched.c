/* test_prereq_sched.c -- member-cluster prerequisites seen end to end (issue 13, acceptance 3
 * and 5): kubesim clusters each missing one piece (KubeRay, the job namespace, a
 * PriorityClass, a verb), `fedsched serve` checking them into conditions on /v1/clusters,
 * the scheduler placing jobs only where nothing they need is missing, and the explanation
 * of a job that waits naming the condition. Not responsible for the checks' answers one by
 * one (tests/unit/test_prereq.c) nor for the policy's reasons in isolation
 * (tests/unit/test_policy_unit.c). */
#include "tests/integration/test_sched_env.h"

#include <check.h>

#define FAST_BASE                                                                                  \
    "\"poller\": {\"intervalMs\": 200, \"sampleIntervalS\": 5, \"registrySyncS\": 1,"              \
    " \"prereqIntervalSeconds\": 1},"                                                              \
    "\"scheduler\": {\"cycleIntervalMs\": 200, \"gcIntervalS\": 1, \"missingGraceS\": 3,"          \
    "\"dispatchBackoffBaseS\": 1, \"dispatchBackoffMaxS\": 2, \"leaderRetryMs\": 200,"             \
    "\"leaderRenewMs\": 200, \"jobAnnotations\": "                                                 \
    "{\"sim.fedsched.io/duration-seconds\": \"360000\"}"

/* Borrowed capacity lent all day, nothing reserved. */
#define SERVING_POOL                                                                               \
    "{\"nodeSelector\": {\"fedsched.io/pool\": \"serving\"}, \"namespaces\": [\"serving\"],"       \
    " \"reserveGpus\": 0, \"lendPolicy\": \"window\","                                             \
    " \"lendingWindows\": [{\"start\": \"00:00\", \"end\": \"00:00\"}]}"

static struct senv env;

/* One cluster's extra config members: name, then the members without braces. */
struct extra {
    const char *cluster, *members;
};

static void teardown(void)
{
    senv_stop(&env);
}

/* senv_config, then the clusters file again with members for some clusters only (a fixed
 * jobNamespace for one, a lower price for the broken ones so the policy would prefer them
 * if it did not know better). */
static void config(const char *base, const struct extra *extras, size_t n_extras,
                   const char *serving)
{
    FILE *f;

    senv_config(&env, base, "", serving);
    f = fopen(env.clusters_cfg, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"clusters\": [");
    for (size_t i = 0; i < sim_cluster_count(env.sim); i++) {
        const char *name = sim_cluster_name_at(env.sim, i);
        const char *more = "";
        char url[256];
        struct err e = {0};

        for (size_t k = 0; k < n_extras; k++)
            if (strcmp(extras[k].cluster, name) == 0)
                more = extras[k].members;
        ck_assert_int_eq(sim_url(env.sim, name, url, sizeof(url), &e), 0);
        fprintf(f,
                "%s{\"name\": \"%s\", \"apiServer\": \"%s\", \"region\": \"sim\","
                " \"timezone\": \"UTC\", \"allowInsecureHttp\": true%s%s%s%s}",
                i ? ", " : "", name, url, *more ? ", " : "", more,
                serving ? ", \"servingPool\": " : "", serving ? serving : "");
    }
    fprintf(f, "]}\n");
    fclose(f);
}

/* The condition of type on cluster from GET /v1/clusters (NULL when absent). */
static json_t *condition(const char *cluster, const char *type)
{
    json_t *list = NULL, *it, *c, *found = NULL;
    size_t i, k;

    ck_assert_int_eq(itest_get_json(senv_base(&env), "/v1/clusters", &list), 200);
    json_array_foreach(json_object_get(list, "items"), i, it)
    {
        if (strcmp(json_string_value(json_object_get(it, "name")), cluster) != 0)
            continue;
        json_array_foreach(json_object_get(json_object_get(it, "status"), "conditions"), k, c)
        {
            if (strcmp(json_string_value(json_object_get(c, "type")), type) == 0)
                found = json_incref(c);
        }
    }
    json_decref(list);
    return found;
}

/* Waits until cluster's condition type has status, then checks its reason and message
 * exactly. */
static void expect_condition(const char *cluster, const char *type, const char *status,
                             const char *reason, const char *message)
{
    json_t *c = NULL;

    for (int i = 0;; i++) {
        c = condition(cluster, type);
        if (c && strcmp(json_string_value(json_object_get(c, "status")), status) == 0)
            break;
        ck_assert_msg(i < 100, "%s: %s never became %s", cluster, type, status);
        json_decref(c);
        usleep(100 * 1000);
    }
    ck_assert_str_eq(json_string_value(json_object_get(c, "reason")), reason);
    ck_assert_str_eq(json_string_value(json_object_get(c, "message")), message);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(c, "lastTransitionTime")));
    json_decref(c);
}

/* GET .../explain of team-p/name. */
static json_t *explain(const char *name)
{
    char path[256];
    json_t *x = NULL;

    snprintf(path, sizeof(path), "/v1/namespaces/team-p/trainingjobs/%s/explain", name);
    ck_assert_int_eq(itest_get_json(senv_base(&env), path, &x), 200);
    return x;
}

/* The explanation's reasons for cluster (borrowed reference; NULL when absent). */
static json_t *explain_reasons(json_t *x, const char *cluster)
{
    json_t *it;
    size_t i;

    json_array_foreach(json_object_get(x, "clusters"), i, it)
    {
        if (strcmp(json_string_value(json_object_get(it, "cluster")), cluster) == 0)
            return json_object_get(it, "reasons");
    }
    return NULL;
}

/* Waits until name is Running; checks that it runs on want and that it was never sent
 * anywhere else (one Admitted event, no dispatch failure). */
static void expect_runs_on(const char *name, const char *want)
{
    json_t *j = senv_wait_phase(senv_base(&env), "team-p", name, "Running", 20000);
    char sql[256];

    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "status"), "cluster")),
                     want);
    json_decref(j);
    ck_assert_int_eq(senv_events(&env, "team-p", name, "Admitted"), 1);
    snprintf(sql, sizeof(sql),
             "SELECT dispatch_failures FROM jobs WHERE namespace = 'team-p' AND name = '%s'", name);
    ck_assert_int_eq(senv_sql_long(&env, sql), 0);
}

/* A job that waits stays Queued for several scheduling cycles. */
static void expect_queued(const char *name)
{
    json_t *j;

    usleep(1500 * 1000);
    j = senv_get(senv_base(&env), "team-p", name);
    ck_assert_str_eq(senv_phase(j), "Queued");
    json_decref(j);
}

/* The explanation of a queued job says, for cluster, once, that the condition cond is
 * False, with the condition's own message (cond_message). */
static void expect_explained(const char *name, const char *cluster, const char *cond,
                             const char *cond_message)
{
    json_t *x = explain(name), *reasons, *r;
    char want[512];
    size_t i;
    int seen = 0;

    ck_assert_str_eq(json_string_value(json_object_get(x, "status")), "pending");
    reasons = explain_reasons(x, cluster);
    ck_assert_msg(json_array_size(reasons) > 0, "no reasons for %s", cluster);
    snprintf(want, sizeof(want), "cluster %s: %s is False: %s", cluster, cond, cond_message);
    json_array_foreach(reasons, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "reason")), "missing_prerequisite") != 0)
            continue;
        ck_assert_str_eq(json_string_value(json_object_get(r, "condition")), cond);
        ck_assert_str_eq(json_string_value(json_object_get(r, "message")), want);
        seen++;
    }
    ck_assert_msg(seen == 1, "%s: %d missing_prerequisite reasons", cluster, seen);
    json_decref(x);
}

/* Acceptance 3: ray jobs land only where KubeRay is, even when the cluster without it is
 * larger and cheaper; once the KubeRay cluster is full a ray job waits and its
 * explanation names KubeRayInstalled for the other, which still takes a PyTorch job. */
START_TEST(ray_jobs_go_only_where_kuberay_is)
{
    static const struct extra cheap[] = {{"noray", "\"costPerGpuHour\": {\"a100-80gb\": 0.5}"},
                                         {"kuberay", "\"costPerGpuHour\": {\"a100-80gb\": 6}"}};
    char name[32];

    senv_sim(&env, "testdata/sim/prereq-ray.json");
    config(FAST_BASE "}", cheap, 2, NULL);
    senv_serve(&env, 0, NULL);
    expect_condition("noray", "KubeRayInstalled", "False", "NotInstalled",
                     "the API server does not serve ray.io/v1 rayjobs: KubeRay is not installed");
    expect_condition("kuberay", "KubeRayInstalled", "True", "Served",
                     "ray.io/v1 rayjobs is served");
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "ray-%d", i);
        free(senv_submit(senv_base(&env), "team-p", name, "a100-80gb", 4, "ray", ""));
    }
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "ray-%d", i);
        expect_runs_on(name, "kuberay");
    }
    free(senv_submit(senv_base(&env), "team-p", "ray-wait", "a100-80gb", 4, "ray", ""));
    expect_queued("ray-wait");
    expect_explained("ray-wait", "noray", "KubeRayInstalled",
                     "the API server does not serve ray.io/v1 rayjobs: KubeRay is not installed");
    free(senv_submit(senv_base(&env), "team-p", "torch", "a100-80gb", 8, "pytorch", ""));
    expect_runs_on("torch", "noray");
}
END_TEST

/* Acceptance 5: each missing piece is a named condition, and jobs go to the one healthy
 * cluster although the broken ones are cheaper; an H100 job, which only the broken
 * clusters could take, waits Queued and its explanation names each cluster's condition. */
START_TEST(missing_pieces_are_conditions_and_keep_jobs_away)
{
    static const struct extra extras[] = {
        {"healthy", "\"costPerGpuHour\": {\"a100-80gb\": 6}"},
        {"nons", "\"jobNamespace\": \"ml-jobs\", \"costPerGpuHour\": {\"a100-80gb\": 0.5}"},
        {"nopc", "\"costPerGpuHour\": {\"a100-80gb\": 0.5}"},
        {"nojobs", "\"costPerGpuHour\": {\"a100-80gb\": 0.5}"}};
    static const char *const types[] = {"NamespaceReady",     "PermissionsGranted",
                                        "PriorityClassReady", "BorrowedPriorityClassReady",
                                        "KubeRayInstalled",   "RayPermissionsGranted"};
    static const char *const missing[][2] = {{"healthy", ""},
                                             {"nons", "NamespaceReady"},
                                             {"nopc", "PriorityClassReady"},
                                             {"nojobs", "PermissionsGranted"}};
    char name[32];

    senv_sim(&env, "testdata/sim/prereq-broken.json");
    config(FAST_BASE ", \"priorityClass\": \"fedsched-training\"}", extras, 4, NULL);
    senv_serve(&env, 0, NULL);
    expect_condition("nons", "NamespaceReady", "False", "Forbidden",
                     "namespace \"ml-jobs\" does not exist, and fedsched may not create"
                     " namespaces (create namespaces is forbidden)");
    expect_condition("nopc", "PriorityClassReady", "False", "NotFound",
                     "PriorityClass \"fedsched-training\" (scheduler.priorityClass) does not"
                     " exist: apply the one in docs/clusters.md");
    expect_condition("nojobs", "PermissionsGranted", "False", "Forbidden",
                     "forbidden: create jobs.batch");
    /* Each broken cluster misses that one piece only; the healthy one none. */
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        for (size_t k = 0; k < sizeof(missing) / sizeof(missing[0]); k++) {
            json_t *c = condition(missing[k][0], types[i]);

            ck_assert_msg(c, "%s has no %s", missing[k][0], types[i]);
            ck_assert_str_eq(json_string_value(json_object_get(c, "status")),
                             strcmp(missing[k][1], types[i]) == 0 ? "False" : "True");
            json_decref(c);
        }
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "a100-%d", i);
        free(senv_submit(senv_base(&env), "team-p", name, "a100-80gb", 8, NULL, ""));
    }
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "a100-%d", i);
        expect_runs_on(name, "healthy");
    }
    free(senv_submit(senv_base(&env), "team-p", "h100", "h100-80gb", 8, NULL, ""));
    expect_queued("h100");
    expect_explained("h100", "nons", "NamespaceReady",
                     "namespace \"ml-jobs\" does not exist, and fedsched may not create"
                     " namespaces (create namespaces is forbidden)");
    expect_explained("h100", "nopc", "PriorityClassReady",
                     "PriorityClass \"fedsched-training\" (scheduler.priorityClass) does not"
                     " exist: apply the one in docs/clusters.md");
    expect_explained("h100", "nojobs", "PermissionsGranted", "forbidden: create jobs.batch");
    /* Nothing was ever sent to a broken cluster. */
    ck_assert_int_eq(senv_sim_objects(&env, "nons", false, NULL, NULL) +
                         senv_sim_objects(&env, "nopc", false, NULL, NULL) +
                         senv_sim_objects(&env, "nojobs", false, NULL, NULL),
                     0);
}
END_TEST

/* Acceptance 5, borrowing: serving GPUs are lent only where the borrowed pods'
 * PriorityClass exists; with that cluster's lendable GPUs taken, a preemptible job waits
 * and its explanation names BorrowedPriorityClassReady for the other. */
START_TEST(borrowing_needs_the_borrowed_priority_class)
{
    static const struct extra cheap[] = {{"lend-nopc", "\"costPerGpuHour\": {\"l4\": 0.2}"},
                                         {"lend", "\"costPerGpuHour\": {\"l4\": 3}"}};
    const char *sched = "\"preemptible\": true, \"maxRuntimeSeconds\": 600,"
                        " \"checkpointIntervalSeconds\": 60";
    char name[32];

    senv_sim(&env, "testdata/sim/prereq-borrow.json");
    config(FAST_BASE "}, \"policy\": {\"min_lease_s\": 0, \"min_runtime_s\": 0}", cheap, 2,
           SERVING_POOL);
    senv_serve(&env, 0, NULL);
    expect_condition("lend-nopc", "BorrowedPriorityClassReady", "False", "NotFound",
                     "PriorityClass \"fedsched-borrowed\" (scheduler.priorityClassBorrowed) does"
                     " not exist: apply the one in docs/clusters.md");
    expect_condition("lend", "BorrowedPriorityClassReady", "True", "Exists",
                     "PriorityClass \"fedsched-borrowed\" exists");
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof(name), "borrow-%d", i);
        free(senv_submit(senv_base(&env), "team-p", name, "l4", 4, NULL, sched));
    }
    for (int i = 0; i < 2; i++) {
        json_t *j;

        snprintf(name, sizeof(name), "borrow-%d", i);
        expect_runs_on(name, "lend");
        j = senv_get(senv_base(&env), "team-p", name);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "status"), "pool")),
                         "serving-borrowed");
        json_decref(j);
    }
    free(senv_submit(senv_base(&env), "team-p", "borrow-wait", "l4", 4, NULL, sched));
    expect_queued("borrow-wait");
    expect_explained("borrow-wait", "lend-nopc", "BorrowedPriorityClassReady",
                     "PriorityClass \"fedsched-borrowed\" (scheduler.priorityClassBorrowed) does"
                     " not exist: apply the one in docs/clusters.md");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("prereq_sched");
    TCase *tc = tcase_create("prereq");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, ray_jobs_go_only_where_kuberay_is);
    tcase_add_test(tc, missing_pieces_are_conditions_and_keep_jobs_away);
    tcase_add_test(tc, borrowing_needs_the_borrowed_priority_class);
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
