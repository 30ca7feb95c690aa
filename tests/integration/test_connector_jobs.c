/* test_connector_jobs.c -- Job and RayJob calls (cluster/k8s_jobs.c) against the simulator,
 * which runs what it is given: pods bound to nodes with free GPUs of the requested product
 * (Pending when none), completion after the duration annotation, Status objects with
 * AlreadyExists/NotFound/Invalid, propagationPolicy, DisruptionTarget and termination after
 * the grace period on delete. */
#include "base/clock.h"
#include "base/err.h"
#include "cluster/k8s_jobs.h"
#include "tools/kubesim/kubesim.h"
#include "tests/support/k8s_sim.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct k8s_env env;
static struct k8s_client *client;

static void setup(void)
{
    struct err e = {0};

    k8s_env_start(&env, "sim/faults.json", false);
    ck_assert_msg(k8s_client_new(&env.cfgs[k8s_env_index(&env, "alpha")], 5000, &client, &e) == 0,
                  "%s", e.msg);
}

static void teardown(void)
{
    k8s_client_free(&client);
    k8s_env_stop(&env);
}

/* A Job of `pods` pods with `gpus` H100s each, running `secs` simulated seconds. */
static json_t *job(const char *name, int pods, int gpus, int secs, const char *outcome)
{
    char g[8], d[16];

    snprintf(g, sizeof(g), "%d", gpus);
    snprintf(d, sizeof(d), "%d", secs);
    return json_pack(
        "{s:s,s:s,s:{s:s,s:{s:s,s:s},s:{s:s,s:s}},s:{s:i,s:i,s:{s:{s:{s:s,s:s}},"
        "s:{s:s,s:i,s:{s:s},s:[{s:s,s:s,s:s}],s:[{s:s,s:s,s:{s:{s:s}}}]}}}}",
        "apiVersion", "batch/v1", "kind", "Job", "metadata", "name", name, "labels",
        "app.kubernetes.io/managed-by", "fedsched", "fedsched.io/job-uid", name, "annotations",
        "sim.fedsched.io/duration-seconds", d, "sim.fedsched.io/outcome",
        outcome ? outcome : "Succeeded", "spec", "parallelism", pods, "backoffLimit", 0, "template",
        "metadata", "labels", "app.kubernetes.io/managed-by", "fedsched", "fedsched.io/job-uid",
        name, "spec", "restartPolicy", "Never", "terminationGracePeriodSeconds", 60, "nodeSelector",
        "nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3", "tolerations", "key", "nvidia.com/gpu",
        "operator", "Exists", "effect", "NoSchedule", "containers", "name", "trainer", "image",
        "trainer:1", "resources", "limits", "nvidia.com/gpu", g);
}

/* The pods of job uid as the simulator lists them. */
static json_t *pods_of(const char *uid)
{
    struct sim_cluster *sc = sim_get_cluster(env.sim, "alpha");
    struct sim_query q;
    struct sim_reply r;
    char sel[128];
    json_t *list, *items;

    memset(&q, 0, sizeof(q));
    snprintf(sel, sizeof(sel), "fedsched.io/job-uid=%s", uid);
    q.label_selector = sel;
    sim_cluster_handle(sc, "GET", "/api/v1/pods", &q, "", 0, &r);
    ck_assert_int_eq(r.status, 200);
    list = json_loadb(r.body, r.len, 0, NULL);
    free(r.body);
    items = json_incref(json_object_get(list, "items"));
    json_decref(list);
    return items;
}

static int used_gpus(void)
{
    struct sim_node_view v[16];
    size_t n = sim_cluster_nodes(sim_get_cluster(env.sim, "alpha"), v, 16);
    int used = 0;

    for (size_t i = 0; i < n; i++)
        used += v[i].used;
    return used;
}

static enum k8s_job_state state(enum k8s_job_kind k, const char *name, char *reason, size_t size)
{
    json_t *obj = NULL;
    struct err e = {0};
    enum k8s_job_state s;

    ck_assert_msg(k8s_job_get(client, k, "fedsched-jobs", name, &obj, NULL, &e) == 0, "%s", e.msg);
    s = k8s_job_state_of(k, obj, reason, size);
    json_decref(obj);
    return s;
}

START_TEST(create_runs_and_completes)
{
    json_t *j = job("tj-a-1", 2, 8, 600, NULL), *out = NULL, *pods, *p;
    struct k8s_status st;
    struct err e = {0};
    char reason[64], uid[128];
    size_t i;
    int base = used_gpus(); /* two busy nodes: 16 */

    ck_assert_int_eq(base, 16);
    ck_assert_msg(
        k8s_job_create(client, K8S_KIND_JOB, "fedsched-jobs", j, uid, sizeof(uid), &st, &e) == 0,
        "%s", e.msg);
    ck_assert_msg(k8s_job_get(client, K8S_KIND_JOB, "fedsched-jobs", "tj-a-1", &out, &st, &e) == 0,
                  "%s", e.msg);
    /* The uid read from the create's answer is the object's. */
    ck_assert_uint_gt(strlen(uid), 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "metadata"), "uid")),
                     uid);
    ck_assert(json_is_string(json_object_get(json_object_get(out, "metadata"), "resourceVersion")));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(out, "metadata"), "namespace")),
        "fedsched-jobs");
    json_decref(out);
    pods = pods_of("tj-a-1");
    ck_assert_int_eq(json_array_size(pods), 2);
    json_array_foreach(pods, i, p)
    {
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(p, "status"), "phase")),
                         "Running");
        ck_assert(json_is_string(json_object_get(json_object_get(p, "spec"), "nodeName")));
        ck_assert_str_eq(
            json_string_value(json_object_get(
                json_array_get(json_object_get(json_object_get(p, "metadata"), "ownerReferences"),
                               0),
                "kind")),
            "Job");
    }
    json_decref(pods);
    ck_assert_int_eq(used_gpus(), base + 16);
    ck_assert_int_eq(state(K8S_KIND_JOB, "tj-a-1", reason, sizeof(reason)), K8S_JOB_RUNNING);

    /* a second create of the same name: 409 AlreadyExists */
    ck_assert_int_eq(k8s_job_create(client, K8S_KIND_JOB, "fedsched-jobs", j, NULL, 0, &st, &e),
                     -1);
    ck_assert_int_eq(e.code, ERR_CONFLICT);
    ck_assert_str_eq(e.field, "AlreadyExists");
    ck_assert_int_eq(st.code, 409);
    ck_assert_ptr_nonnull(strstr(st.message, "jobs.batch \"tj-a-1\" already exists"));
    json_decref(j);

    sim_skip_time(env.sim, 601 * 1000);
    ck_assert_int_eq(state(K8S_KIND_JOB, "tj-a-1", reason, sizeof(reason)), K8S_JOB_SUCCEEDED);
    ck_assert_str_eq(reason, "CompletionsReached");
    ck_assert_int_eq(used_gpus(), base); /* succeeded pods hold nothing */
}
END_TEST

START_TEST(pending_when_no_gpus_fit_and_failures)
{
    json_t *j = job("tj-big", 4, 8, 60, NULL), *pods, *p;
    struct err e = {0};
    char reason[64];
    size_t i;
    int pending = 0;

    /* 3 free H100 nodes, 4 pods of 8: one stays Pending, unschedulable */
    ck_assert_int_eq(k8s_job_create(client, K8S_KIND_JOB, "fedsched-jobs", j, NULL, 0, NULL, &e),
                     0);
    json_decref(j);
    pods = pods_of("tj-big");
    json_array_foreach(pods, i, p)
    {
        const json_t *st = json_object_get(p, "status");

        if (strcmp(json_string_value(json_object_get(st, "phase")), "Pending") != 0)
            continue;
        pending++;
        ck_assert(!json_object_get(json_object_get(p, "spec"), "nodeName"));
        ck_assert_str_eq(json_string_value(json_object_get(
                             json_array_get(json_object_get(st, "conditions"), 0), "reason")),
                         "Unschedulable");
        ck_assert_ptr_nonnull(
            strstr(json_string_value(json_object_get(
                       json_array_get(json_object_get(st, "conditions"), 0), "message")),
                   "Insufficient nvidia.com/gpu"));
    }
    json_decref(pods);
    ck_assert_int_eq(pending, 1);
    ck_assert_int_eq(state(K8S_KIND_JOB, "tj-big", reason, sizeof(reason)), K8S_JOB_PENDING);
    ck_assert_int_eq(
        k8s_job_delete(client, K8S_KIND_JOB, "fedsched-jobs", "tj-big", NULL, 0, NULL, &e), 0);
    sim_skip_time(env.sim, 61 * 1000);

    j = job("tj-fail", 1, 8, 30, "Failed");
    ck_assert_int_eq(k8s_job_create(client, K8S_KIND_JOB, "fedsched-jobs", j, NULL, 0, NULL, &e),
                     0);
    json_decref(j);
    /* The Job controller makes its pod after the create (on the next request), then 31 s
     * pass. */
    pods = pods_of("tj-fail");
    ck_assert_int_eq(json_array_size(pods), 1);
    json_decref(pods);
    sim_skip_time(env.sim, 31 * 1000);
    ck_assert_int_eq(state(K8S_KIND_JOB, "tj-fail", reason, sizeof(reason)), K8S_JOB_FAILED);
    ck_assert_str_eq(reason, "BackoffLimitExceeded");
}
END_TEST

START_TEST(delete_background_disrupts_then_terminates)
{
    json_t *j = job("tj-del", 1, 8, 3600, NULL), *pods, *p, *conds, *c;
    struct k8s_status st;
    struct err e = {0};
    size_t i;
    bool disruption = false;
    int base = used_gpus();

    ck_assert_int_eq(k8s_job_create(client, K8S_KIND_JOB, "fedsched-jobs", j, NULL, 0, NULL, &e),
                     0);
    json_decref(j);
    ck_assert_int_eq(used_gpus(), base + 8);
    ck_assert_int_eq(
        k8s_job_delete(client, K8S_KIND_JOB, "fedsched-jobs", "tj-del", NULL, -1, NULL, &e), 0);
    /* the Job is gone at once; its pod is terminating and keeps its GPUs for its grace */
    ck_assert_int_eq(k8s_job_get(client, K8S_KIND_JOB, "fedsched-jobs", "tj-del", &j, &st, &e), -1);
    ck_assert_int_eq(e.code, ERR_NOT_FOUND);
    ck_assert_str_eq(st.reason, "NotFound");
    pods = pods_of("tj-del");
    ck_assert_int_eq(json_array_size(pods), 1);
    p = json_array_get(pods, 0);
    ck_assert(json_is_string(json_object_get(json_object_get(p, "metadata"), "deletionTimestamp")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(p, "metadata"),
                                                        "deletionGracePeriodSeconds")),
                     60);
    conds = json_object_get(json_object_get(p, "status"), "conditions");
    json_array_foreach(conds, i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "type")), "DisruptionTarget") == 0 &&
            strcmp(json_string_value(json_object_get(c, "status")), "True") == 0)
            disruption = true;
    }
    ck_assert(disruption);
    json_decref(pods);
    ck_assert_int_eq(used_gpus(), base + 8);
    sim_skip_time(env.sim, 61 * 1000);
    pods = pods_of("tj-del");
    ck_assert_int_eq(json_array_size(pods), 0);
    json_decref(pods);
    ck_assert_int_eq(used_gpus(), base);
    /* deleting again: 404 */
    ck_assert_int_eq(
        k8s_job_delete(client, K8S_KIND_JOB, "fedsched-jobs", "tj-del", NULL, -1, &st, &e), -1);
    ck_assert_int_eq(e.code, ERR_NOT_FOUND);
}
END_TEST

START_TEST(delete_foreground_and_orphan)
{
    json_t *j = job("tj-fg", 1, 8, 3600, NULL), *obj = NULL, *pods;
    struct err e = {0};

    ck_assert_int_eq(k8s_job_create(client, K8S_KIND_JOB, "fedsched-jobs", j, NULL, 0, NULL, &e),
                     0);
    json_decref(j);
    ck_assert_int_eq(
        k8s_job_delete(client, K8S_KIND_JOB, "fedsched-jobs", "tj-fg", "Foreground", -1, NULL, &e),
        0);
    /* Foreground: the Job stays, marked for deletion, until its pods are gone */
    ck_assert_int_eq(k8s_job_get(client, K8S_KIND_JOB, "fedsched-jobs", "tj-fg", &obj, NULL, &e),
                     0);
    ck_assert(
        json_is_string(json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp")));
    json_decref(obj);
    sim_skip_time(env.sim, 61 * 1000);
    ck_assert_int_eq(k8s_job_get(client, K8S_KIND_JOB, "fedsched-jobs", "tj-fg", &obj, NULL, &e),
                     -1);
    ck_assert_int_eq(e.code, ERR_NOT_FOUND);

    j = job("tj-orph", 1, 8, 3600, NULL);
    ck_assert_int_eq(k8s_job_create(client, K8S_KIND_JOB, "fedsched-jobs", j, NULL, 0, NULL, &e),
                     0);
    json_decref(j);
    ck_assert_int_eq(
        k8s_job_delete(client, K8S_KIND_JOB, "fedsched-jobs", "tj-orph", "Orphan", -1, NULL, &e),
        0);
    pods = pods_of("tj-orph");
    ck_assert_int_eq(json_array_size(pods), 1); /* orphaned, still running */
    ck_assert(!json_object_get(json_object_get(json_array_get(pods, 0), "metadata"),
                               "deletionTimestamp"));
    ck_assert(
        !json_object_get(json_object_get(json_array_get(pods, 0), "metadata"), "ownerReferences"));
    json_decref(pods);
    /* an unknown policy is a 400 */
    ck_assert_int_eq(
        k8s_job_delete(client, K8S_KIND_JOB, "fedsched-jobs", "tj-x", "Sideways", -1, NULL, &e),
        -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_str_eq(e.field, "BadRequest");
}
END_TEST

/* k8s_job_annotate() sets one annotation with a merge patch and leaves the others; null
 * takes it off; a missing object is ERR_NOT_FOUND; a marked object may still be annotated.
 * The pods' scheduling records what the scheduler did: a pod Pending for want of GPUs shows
 * PodScheduled=True from when it was bound, not from its creation. */
START_TEST(annotate_and_bound_time)
{
    json_t *j = job("tj-ann", 1, 8, 3600, NULL), *obj = NULL, *pods, *ann;
    struct err e = {0};
    int64_t created = 0, bound = 0;
    size_t i;
    const json_t *c;

    ck_assert_int_eq(k8s_job_create(client, K8S_KIND_JOB, "fedsched-jobs", j, NULL, 0, NULL, &e),
                     0);
    json_decref(j);
    ck_assert_msg(k8s_job_annotate(client, K8S_KIND_JOB, "fedsched-jobs", "tj-ann",
                                   "fedsched.io/checkpoint-requested", "2026-01-01T00:00:00.000Z",
                                   NULL, &e) == 0,
                  "%s", e.msg);
    ck_assert_int_eq(k8s_job_get(client, K8S_KIND_JOB, "fedsched-jobs", "tj-ann", &obj, NULL, &e),
                     0);
    ann = json_object_get(json_object_get(obj, "metadata"), "annotations");
    ck_assert_str_eq(json_string_value(json_object_get(ann, "fedsched.io/checkpoint-requested")),
                     "2026-01-01T00:00:00.000Z");
    ck_assert_str_eq(json_string_value(json_object_get(ann, "sim.fedsched.io/duration-seconds")),
                     "3600");
    json_decref(obj);
    ck_assert_int_eq(
        k8s_job_delete(client, K8S_KIND_JOB, "fedsched-jobs", "tj-ann", "Foreground", -1, NULL, &e),
        0);
    ck_assert_int_eq(k8s_job_annotate(client, K8S_KIND_JOB, "fedsched-jobs", "tj-ann",
                                      "fedsched.io/checkpoint-requested", NULL, NULL, &e),
                     0);
    ck_assert_int_eq(k8s_job_get(client, K8S_KIND_JOB, "fedsched-jobs", "tj-ann", &obj, NULL, &e),
                     0);
    ann = json_object_get(json_object_get(obj, "metadata"), "annotations");
    ck_assert_ptr_null(json_object_get(ann, "fedsched.io/checkpoint-requested"));
    json_decref(obj);
    ck_assert_int_eq(
        k8s_job_annotate(client, K8S_KIND_JOB, "fedsched-jobs", "tj-none", "a", "b", NULL, &e), -1);
    ck_assert_int_eq(e.code, ERR_NOT_FOUND);

    /* Every free H100 taken (3 nodes) and given back after 90 s: the waiting pod is bound
     * no earlier than that. */
    j = job("tj-fill", 3, 8, 3600, NULL);
    ck_assert_int_eq(k8s_job_create(client, K8S_KIND_JOB, "fedsched-jobs", j, NULL, 0, NULL, &e),
                     0);
    json_decref(j);
    j = job("tj-wait", 1, 8, 3600, NULL);
    ck_assert_int_eq(k8s_job_create(client, K8S_KIND_JOB, "fedsched-jobs", j, NULL, 0, NULL, &e),
                     0);
    json_decref(j);
    pods = pods_of("tj-wait");
    ck_assert_ptr_null(
        json_object_get(json_object_get(json_array_get(pods, 0), "spec"), "nodeName"));
    json_decref(pods);
    sim_skip_time(env.sim, 90 * 1000);
    ck_assert_int_eq(k8s_job_delete(client, K8S_KIND_JOB, "fedsched-jobs", "tj-fill", "Background",
                                    -1, NULL, &e),
                     0);
    sim_skip_time(env.sim, 61 * 1000);
    json_decref(pods_of("tj-fill")); /* a request: pending pods are retried */
    pods = pods_of("tj-wait");
    ck_assert_ptr_nonnull(
        json_object_get(json_object_get(json_array_get(pods, 0), "spec"), "nodeName"));
    ck_assert_int_eq(clock_parse_rfc3339(json_string_value(json_object_get(
                                             json_object_get(json_array_get(pods, 0), "metadata"),
                                             "creationTimestamp")),
                                         &created),
                     0);
    json_array_foreach(
        json_object_get(json_object_get(json_array_get(pods, 0), "status"), "conditions"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "type")), "PodScheduled") == 0 &&
            strcmp(json_string_value(json_object_get(c, "status")), "True") == 0)
            ck_assert_int_eq(
                clock_parse_rfc3339(json_string_value(json_object_get(c, "lastTransitionTime")),
                                    &bound),
                0);
    }
    json_decref(pods);
    ck_assert_int_ge(bound - created, 90 * 1000);
}
END_TEST

START_TEST(list_with_label_selector)
{
    json_t *items = NULL, *j;
    struct err e = {0};
    const char *names[] = {"tj-l-1", "tj-l-2", "tj-l-3"};

    for (int i = 0; i < 3; i++) {
        j = job(names[i], 1, 1, 3600, NULL);
        ck_assert_int_eq(
            k8s_job_create(client, K8S_KIND_JOB, "fedsched-jobs", j, NULL, 0, NULL, &e), 0);
        json_decref(j);
    }
    ck_assert_int_eq(k8s_job_list(client, K8S_KIND_JOB, "fedsched-jobs",
                                  "app.kubernetes.io/managed-by=fedsched", &items, &e),
                     0);
    ck_assert_int_eq(json_array_size(items), 3);
    json_decref(items);
    ck_assert_int_eq(
        k8s_job_list(client, K8S_KIND_JOB, NULL, "fedsched.io/job-uid in (tj-l-2)", &items, &e), 0);
    ck_assert_int_eq(json_array_size(items), 1);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_array_get(items, 0), "metadata"), "name")),
                     "tj-l-2");
    json_decref(items);
    ck_assert_int_eq(k8s_job_list(client, K8S_KIND_JOB, "other-ns", NULL, &items, &e), 0);
    ck_assert_int_eq(json_array_size(items), 0);
    json_decref(items);
}
END_TEST

START_TEST(rayjob_lifecycle)
{
    json_t *rj = json_pack(
        "{s:s,s:s,s:{s:s,s:{s:s},s:{s:s}},s:{s:s,s:b,s:{s:{s:{s:{s:[{s:s,s:s}],s:[{s:s,s:s}]}}},"
        "s:[{s:s,s:i,s:i,s:i,s:{s:{s:{s:s},s:[{s:s,s:s,s:s}],s:[{s:s,s:s,s:{s:{s:s}}}]}}}]}}}",
        "apiVersion", "ray.io/v1", "kind", "RayJob", "metadata", "name", "rj-1", "labels",
        "fedsched.io/job-uid", "rj-1", "annotations", "sim.fedsched.io/duration-seconds", "120",
        "spec", "entrypoint", "python train.py", "shutdownAfterJobFinishes", 1, "rayClusterSpec",
        "headGroupSpec", "template", "spec", "containers", "name", "head", "image", "ray:2.9",
        "tolerations", "key", "nvidia.com/gpu", "operator", "Exists", "workerGroupSpecs",
        "groupName", "gpu", "replicas", 2, "minReplicas", 2, "maxReplicas", 2, "template", "spec",
        "nodeSelector", "nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3", "tolerations", "key",
        "nvidia.com/gpu", "operator", "Exists", "effect", "NoSchedule", "containers", "name",
        "worker", "image", "ray:2.9", "resources", "limits", "nvidia.com/gpu", "4");
    struct err e = {0};
    char reason[64];
    int base = used_gpus();

    ck_assert_ptr_nonnull(rj);
    ck_assert_msg(k8s_job_create(client, K8S_KIND_RAYJOB, "fedsched-jobs", rj, NULL, 0, NULL, &e) ==
                      0,
                  "%s", e.msg);
    json_decref(rj);
    ck_assert_int_eq(used_gpus(), base + 8); /* head has no GPUs, 2 workers x 4 */
    ck_assert_int_eq(state(K8S_KIND_RAYJOB, "rj-1", reason, sizeof(reason)), K8S_JOB_RUNNING);
    sim_skip_time(env.sim, 121 * 1000);
    ck_assert_int_eq(state(K8S_KIND_RAYJOB, "rj-1", reason, sizeof(reason)), K8S_JOB_SUCCEEDED);
    ck_assert_int_eq(used_gpus(), base); /* shutdownAfterJobFinishes removed the cluster */
    ck_assert_int_eq(
        k8s_job_delete(client, K8S_KIND_RAYJOB, "fedsched-jobs", "rj-1", NULL, -1, NULL, &e), 0);
}
END_TEST

START_TEST(invalid_objects_and_bad_credentials)
{
    json_t *bad = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "batch/v2", "kind", "Job",
                            "metadata", "name", "x");
    struct k8s_client *other = NULL;
    struct cluster_config cfg;
    struct k8s_status st;
    struct err e = {0};
    FILE *f;

    ck_assert_int_eq(k8s_job_create(client, K8S_KIND_JOB, "fedsched-jobs", bad, NULL, 0, &st, &e),
                     -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_int_eq(st.code, 400);
    json_decref(bad);
    bad = json_pack("{s:s,s:s,s:{s:s},s:{}}", "apiVersion", "batch/v1", "kind", "Job", "metadata",
                    "name", "no-template", "spec");
    ck_assert_int_eq(k8s_job_create(client, K8S_KIND_JOB, "fedsched-jobs", bad, NULL, 0, &st, &e),
                     -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_str_eq(st.reason, "Invalid");
    ck_assert_int_eq(st.code, 422);
    ck_assert_ptr_nonnull(strstr(st.message, "spec.template.spec.containers"));
    json_decref(bad);

    cfg = env.cfgs[k8s_env_index(&env, "alpha")];
    snprintf(cfg.token_file, sizeof(cfg.token_file), "%s/wrong.token", env.dir);
    f = fopen(cfg.token_file, "w");
    fputs("not-the-token\n", f);
    fclose(f);
    ck_assert_int_eq(k8s_client_new(&cfg, 2000, &other, &e), 0);
    ck_assert_int_eq(k8s_job_list(other, K8S_KIND_JOB, "fedsched-jobs", NULL, &bad, &e), -1);
    ck_assert_int_eq(e.code, ERR_UNAUTHORIZED);
    k8s_client_free(&other);
    unlink(cfg.token_file);
    snprintf(cfg.token_file, sizeof(cfg.token_file), "%s/missing.token", env.dir);
    ck_assert_int_eq(k8s_client_new(&cfg, 2000, &other, &e), -1);
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_str_eq(e.field, "tokenFile");
}
END_TEST

/* A 429 on create is ERR_RATE_LIMITED with its Retry-After kept for the caller; the next
 * answer without one clears it; a 503 without one gives 0. */
START_TEST(create_keeps_retry_after)
{
    struct sim_faults f;
    struct err e = {0};
    json_t *j = job("ra-1", 1, 1, 5, NULL);

    memset(&f, 0, sizeof(f));
    f.status = 429;
    f.retry_after_s = 7;
    f.remaining = 1;
    snprintf(f.method, sizeof(f.method), "POST");
    ck_assert_int_eq(sim_set_faults(env.sim, "alpha", &f, &e), 0);
    ck_assert_int_eq(k8s_job_create(client, K8S_KIND_JOB, "fedsched-jobs", j, NULL, 0, NULL, &e),
                     -1);
    ck_assert_int_eq(e.code, ERR_RATE_LIMITED);
    ck_assert_int_eq(k8s_client_retry_after_s(client), 7);
    f.status = 503;
    f.retry_after_s = 0;
    f.remaining = 1;
    ck_assert_int_eq(sim_set_faults(env.sim, "alpha", &f, &e), 0);
    ck_assert_int_eq(k8s_job_create(client, K8S_KIND_JOB, "fedsched-jobs", j, NULL, 0, NULL, &e),
                     -1);
    ck_assert_int_eq(e.code, ERR_UNAVAILABLE);
    ck_assert_int_eq(k8s_client_retry_after_s(client), 0);
    ck_assert_int_eq(k8s_job_create(client, K8S_KIND_JOB, "fedsched-jobs", j, NULL, 0, NULL, &e),
                     0);
    ck_assert_int_eq(k8s_client_retry_after_s(client), 0);
    ck_assert_int_eq(k8s_client_retry_after_s(NULL), 0);
    json_decref(j);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("connector_jobs");
    TCase *tc = tcase_create("jobs");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, create_runs_and_completes);
    tcase_add_test(tc, pending_when_no_gpus_fit_and_failures);
    tcase_add_test(tc, delete_background_disrupts_then_terminates);
    tcase_add_test(tc, delete_foreground_and_orphan);
    tcase_add_test(tc, annotate_and_bound_time);
    tcase_add_test(tc, list_with_label_selector);
    tcase_add_test(tc, rayjob_lifecycle);
    tcase_add_test(tc, invalid_objects_and_bad_credentials);
    tcase_add_test(tc, create_keeps_retry_after);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
