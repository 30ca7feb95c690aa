/* test_sched.c -- the scheduler against a real PostgreSQL, `fedsched serve` and an
 * in-process simulator: jobs placed, dispatched and tracked to their end, member-cluster
 * failures, cancellation, checkpoints, garbage collection, leader election and the
 * fencing epoch. */
#include "tests/integration/test_sched_env.h"

#include "api/trainingjob.h"
#include "base/job_token.h"
#include "cluster/k8s.h"
#include "cluster/manifest.h"
#include "policy/policy.h"
#include "policy/snapshot.h"
#include "scheduler/sched.h"
#include "scheduler/specs.h"
#include "store/election.h"
#include "store/live_jobs.h"
#include "store/store.h"
#include "tests/support/defaults.h"

#include <check.h>
#include <inttypes.h>

#define FAST_BASE                                                                                  \
    "\"poller\": {\"intervalMs\": 200, \"sampleIntervalS\": 5, \"registrySyncS\": 1},"             \
    "\"scheduler\": {\"cycleIntervalMs\": 200, \"gcIntervalS\": 1, \"missingGraceS\": 3,"          \
    "\"dispatchBackoffBaseS\": 1, \"dispatchBackoffMaxS\": 2, \"leaderRetryMs\": 200,"             \
    "\"leaderRenewMs\": 200"

static struct senv env;

static void teardown(void)
{
    senv_stop(&env);
}

/* Jobs of several SKUs and sizes run to Succeeded, each transition an event, the
 * placement and node plan stored, the leader visible; fedsched leaves finished objects to
 * their ttlSecondsAfterFinished (here an hour, a real second in this simulation), and the
 * member cluster's TTL controller removes them. */
START_TEST(jobs_run_to_succeeded)
{
    static const struct {
        const char *name, *sku;
        int gpus;
    } jobs[] = {{"a1", "a100-80gb", 16}, {"a2", "a100-80gb", 8}, {"h1", "h100-80gb", 8},
                {"v1", "v100-32gb", 32}, {"l1", "l4", 4},        {"h2", "h100-80gb", 16}};
    json_t *leader = NULL;
    char want_holder[32];

    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env, FAST_BASE ", \"finishedTtlSeconds\": 3600}", "", NULL);
    senv_serve(&env, 0, NULL);
    for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++)
        free(senv_submit(env.srv[0].base, "team-a", jobs[i].name, jobs[i].sku, jobs[i].gpus, NULL,
                         "\"priority\": 5"));
    for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++) {
        json_t *j = senv_wait_phase(env.srv[0].base, "team-a", jobs[i].name, "Succeeded", 20000);
        const json_t *st = json_object_get(j, "status");

        ck_assert_ptr_nonnull(json_string_value(json_object_get(st, "cluster")));
        ck_assert_str_eq(json_string_value(json_object_get(st, "pool")), "training");
        ck_assert_ptr_nonnull(json_string_value(json_object_get(st, "completionTime")));
        ck_assert_int_eq(senv_events(&env, "team-a", jobs[i].name, "Admitted"), 1);
        ck_assert_int_eq(senv_events(&env, "team-a", jobs[i].name, "Dispatched"), 1);
        ck_assert_int_eq(senv_events(&env, "team-a", jobs[i].name, "Succeeded"), 1);
        json_decref(j);
    }
    /* The explanation of each placement and the node plan are kept. */
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM jobs WHERE placement->>'status'"
                                         " = 'placed' AND jsonb_array_length(node_plan) > 0"),
                     6);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM jobs WHERE placement->'score'->>"
                                         "'cluster' = cluster"),
                     6);
    /* v100 x 32 = 4 workers of 8: the plan holds 32 GPUs. */
    ck_assert_int_eq(senv_sql_long(&env, "SELECT sum((p->>1)::int) FROM jobs,"
                                         " jsonb_array_elements(node_plan) p WHERE name = 'v1'"),
                     32);
    ck_assert_int_eq(itest_get_json(env.srv[0].base, "/v1/leader", &leader), 200);
    snprintf(want_holder, sizeof(want_holder), ":%d:%d", (int)env.srv[0].pid, env.srv[0].port);
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(leader, "holder")), want_holder));
    ck_assert(json_is_true(json_object_get(leader, "active")));
    ck_assert_int_ge(json_integer_value(json_object_get(leader, "epoch")), 1);
    json_decref(leader);
    /* The policy state (here: team-a's fair-share usage) is saved for the next leader. */
    for (int i = 0;
         senv_sql_long(&env, "SELECT count(*) FROM scheduler_state, jsonb_array_elements("
                             "state->'usage') u WHERE u->>'ns' = 'team-a'") == 0;
         i++) {
        ck_assert_msg(i < 80, "policy state not saved within 8 s");
        usleep(100 * 1000);
    }
    /* The TTL controller took the finished objects: none of ours stay. */
    for (int i = 0; i < 100; i++) {
        size_t n =
            senv_sim_objects(&env, "east", false, "app.kubernetes.io/managed-by", "fedsched") +
            senv_sim_objects(&env, "west", false, "app.kubernetes.io/managed-by", "fedsched") +
            senv_sim_objects(&env, "onprem", false, "app.kubernetes.io/managed-by", "fedsched");
        if (n == 0)
            break;
        ck_assert_msg(i < 99, "%zu finished objects not collected", n);
        usleep(100 * 1000);
    }
}
END_TEST

/* A RayJob for framework ray: created, tracked, succeeded. */
START_TEST(ray_job_runs)
{
    json_t *j;

    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env, FAST_BASE "}", "", NULL);
    senv_serve(&env, 0, NULL);
    free(senv_submit(env.srv[0].base, "team-r", "ray1", "h100-80gb", 16, "ray", ""));
    j = senv_wait_phase(env.srv[0].base, "team-r", "ray1", "Succeeded", 20000);
    ck_assert_int_eq(senv_events(&env, "team-r", "ray1", "Dispatched"), 1);
    ck_assert_ptr_nonnull(strstr(
        json_string_value(json_object_get(json_object_get(j, "status"), "message")), "completed"));
    json_decref(j);
}
END_TEST

/* Pods in any namespace of a simulated cluster with label fedsched.io/job-uid=uid. */
static size_t sim_job_pods(const char *cluster, const char *uid)
{
    struct sim_query q;
    struct sim_reply r;
    char sel[128];
    json_t *list;
    size_t n;

    snprintf(sel, sizeof(sel), "fedsched.io/job-uid=%s", uid);
    memset(&q, 0, sizeof(q));
    q.label_selector = sel;
    sim_cluster_handle(sim_get_cluster(env.sim, cluster), "GET", "/api/v1/pods", &q, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    list = json_loadb(r.body, r.len, 0, NULL);
    free(r.body);
    n = json_array_size(json_object_get(list, "items"));
    json_decref(list);
    return n;
}

/* A Ray job stopped in the member cluster (KubeRay: jobStatus STOPPED, deployment
 * Complete) ends Cancelled with reason Stopped, not Succeeded. The RayJob stays for
 * reading; after its ttlSecondsAfterFinished KubeRay shuts its Ray cluster down (the pods
 * go, the RayJob stays, as with shutdownAfterJobFinishes). */
START_TEST(ray_stopped_is_cancelled)
{
    json_t *j;
    const json_t *st;
    char *uid;

    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env,
                FAST_BASE ", \"finishedTtlSeconds\": 3600, \"jobAnnotations\": "
                          "{\"sim.fedsched.io/outcome\": \"Stopped\"}}",
                "", NULL);
    senv_serve(&env, 0, NULL);
    uid = senv_submit(env.srv[0].base, "team-r", "stopped", "h100-80gb", 16, "ray", "");
    j = senv_wait_phase(env.srv[0].base, "team-r", "stopped", "Cancelled", 20000);
    st = json_object_get(j, "status");
    ck_assert_str_eq(json_string_value(json_object_get(st, "reason")), "Stopped");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(st, "message")), "stopped in"));
    ck_assert_int_eq(senv_events(&env, "team-r", "stopped", "Succeeded"), 0);
    ck_assert_int_eq(senv_events(&env, "team-r", "stopped", "Cancelled"), 1);
    json_decref(j);
    for (int i = 0;
         sim_job_pods("east", uid) + sim_job_pods("west", uid) + sim_job_pods("onprem", uid) > 0;
         i++) {
        ck_assert_msg(i < 100, "the stopped Ray job's cluster was not shut down after its TTL");
        usleep(100 * 1000);
    }
    ck_assert_int_eq(senv_sim_objects(&env, "east", true, "fedsched.io/job-uid", uid) +
                         senv_sim_objects(&env, "west", true, "fedsched.io/job-uid", uid) +
                         senv_sim_objects(&env, "onprem", true, "fedsched.io/job-uid", uid),
                     1);
    free(uid);
}
END_TEST

/* The member cluster's failure reason and message reach the job. */
START_TEST(failed_job_reports_member_reason)
{
    json_t *j;
    const char *reason;

    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env, FAST_BASE ", \"jobAnnotations\": {\"sim.fedsched.io/outcome\": \"Failed\"}}",
                "", NULL);
    senv_serve(&env, 0, NULL);
    free(senv_submit(env.srv[0].base, "team-f", "bad", "a100-80gb", 8, NULL, ""));
    j = senv_wait_phase(env.srv[0].base, "team-f", "bad", "Failed", 20000);
    reason = json_string_value(json_object_get(json_object_get(j, "status"), "reason"));
    ck_assert_str_eq(reason, "BackoffLimitExceeded");
    ck_assert_ptr_nonnull(strstr(
        json_string_value(json_object_get(json_object_get(j, "status"), "message")), "backoff"));
    ck_assert_int_eq(senv_events(&env, "team-f", "bad", "Failed"), 1);
    json_decref(j);
}
END_TEST

static long http_delete(const char *base, const char *ns, const char *name)
{
    char url[256];

    snprintf(url, sizeof(url), "%s/v1/namespaces/%s/trainingjobs/%s", base, ns, name);
    return itest_http("DELETE", url, NULL, NULL, NULL);
}

/* Submits an 8-GPU-per-worker job to a member cluster whose scheduler is held (kubesim's
 * lever for a kube-scheduler that is down): fedsched places it, since every figure it reads
 * says it fits, and its pods stay Pending, unbound. The hold stays for the rest of the test.
 * Returns the uid (caller frees). */
static char *submit_stuck(struct senv *v, const char *ns, const char *name, int gpus)
{
    char path[128], *uid;
    char *body = xasprintf(
        "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":"
        "\"%s\"},\"spec\":{\"framework\":\"pytorch\",\"resources\":{\"instanceType\":"
        "\"a100-80gb\",\"gpuCount\":%d,\"gpusPerWorker\":8},\"code\":"
        "{\"image\":\"trainer:1\",\"command\":[\"python\",\"train.py\"]}}}",
        name, gpus);
    json_t *out = NULL;
    long st;

    sim_cluster_scheduler_hold(sim_get_cluster(v->sim, "solo"), true);
    snprintf(path, sizeof(path), "/v1/namespaces/%s/trainingjobs", ns);
    st = itest_post_json(v->srv[0].base, path, body, &out);
    ck_assert_msg(st == 201, "submit %s/%s: %ld", ns, name, st);
    uid = xstrdup(json_string_value(json_object_get(json_object_get(out, "metadata"), "uid")));
    json_decref(out);
    free(body);
    return uid;
}

/* Snapshots only on change (and every 20 s), samples and registry syncs rarely. */
#define SLOW_POLL                                                                                  \
    "\"poller\": {\"intervalMs\": 20000, \"sampleIntervalS\": 60, \"registrySyncS\": 60},"

/* Waits until the first poll of every cluster succeeded. */
static void wait_polled(struct senv *v)
{
    for (int i = 0; i < 100; i++) {
        json_t *list = NULL, *it;
        size_t k, ready = 0;

        ck_assert_int_eq(itest_get_json(v->srv[0].base, "/v1/clusters", &list), 200);
        json_array_foreach(json_object_get(list, "items"), k, it)
        {
            const char *h =
                json_string_value(json_object_get(json_object_get(it, "status"), "health"));

            ready += h && strcmp(h, "Ready") == 0;
        }
        k = json_array_size(json_object_get(list, "items"));
        json_decref(list);
        if (k > 0 && ready == k)
            return;
        usleep(50 * 1000);
    }
    ck_abort_msg("clusters not polled within 5 s");
}

/* Waits until every cluster's prerequisites were checked once (the checks POST
 * SelfSubjectAccessReviews, which would take a fault meant for a create). */
static void wait_prereqs_checked(struct senv *v)
{
    for (int i = 0; i < 200; i++) {
        json_t *list = NULL, *it;
        size_t k, checked = 0;

        ck_assert_int_eq(itest_get_json(v->srv[0].base, "/v1/clusters", &list), 200);
        json_array_foreach(json_object_get(list, "items"), k, it) checked += json_is_string(
            json_object_get(json_object_get(it, "status"), "prerequisitesCheckedAt"));
        k = json_array_size(json_object_get(list, "items"));
        json_decref(list);
        if (k > 0 && checked == k)
            return;
        usleep(50 * 1000);
    }
    ck_abort_msg("cluster prerequisites not checked within 10 s");
}

/* Cancelling a queued, a dispatched (pods pending) and a running job ends each Cancelled
 * and removes its member-cluster object. */
START_TEST(cancel_queued_dispatched_running)
{
    json_t *j;
    char *uid_run, *uid_disp;

    senv_sim(&env, "testdata/sim/sched-solo.json");
    senv_config(&env,
                SLOW_POLL "\"scheduler\": {\"cycleIntervalMs\": 200, \"gcIntervalS\": 1,"
                          " \"missingGraceS\": 30, \"jobAnnotations\":"
                          " {\"sim.fedsched.io/duration-seconds\": \"3600000\"}}",
                "", NULL);
    senv_serve(&env, 0, NULL);
    /* Running: 16 of the 32 GPUs. */
    uid_run = senv_submit(env.srv[0].base, "team-c", "run", "a100-80gb", 16, NULL, "");
    json_decref(senv_wait_phase(env.srv[0].base, "team-c", "run", "Running", 15000));
    /* The other 16 go to a job whose pods the member cluster does not start (its scheduler
     * is held): it stays Dispatched. */
    uid_disp = submit_stuck(&env, "team-c", "disp", 16);
    json_decref(senv_wait_phase(env.srv[0].base, "team-c", "disp", "Dispatched", 3000));
    /* Queued: nothing is left for it. */
    free(senv_submit(env.srv[0].base, "team-c", "queued", "a100-80gb", 32, NULL, ""));
    usleep(500 * 1000);
    j = senv_get(env.srv[0].base, "team-c", "queued");
    ck_assert_str_eq(senv_phase(j), "Queued");
    json_decref(j);
    ck_assert_int_eq(senv_sim_objects(&env, "solo", false, "fedsched.io/job-uid", uid_run), 1);
    ck_assert_int_eq(senv_sim_objects(&env, "solo", false, "fedsched.io/job-uid", uid_disp), 1);

    ck_assert_int_eq(http_delete(env.srv[0].base, "team-c", "queued"), 200);
    ck_assert_int_eq(http_delete(env.srv[0].base, "team-c", "disp"), 202);
    ck_assert_int_eq(http_delete(env.srv[0].base, "team-c", "run"), 202);
    json_decref(senv_wait_phase(env.srv[0].base, "team-c", "queued", "Cancelled", 1000));
    json_decref(senv_wait_phase(env.srv[0].base, "team-c", "disp", "Cancelled", 5000));
    json_decref(senv_wait_phase(env.srv[0].base, "team-c", "run", "Cancelled", 5000));
    ck_assert_int_eq(senv_sim_objects(&env, "solo", false, "fedsched.io/job-uid", uid_run), 0);
    ck_assert_int_eq(senv_sim_objects(&env, "solo", false, "fedsched.io/job-uid", uid_disp), 0);
    ck_assert_int_eq(senv_events(&env, "team-c", "run", "Cancelled"), 1);
    ck_assert_int_eq(senv_events(&env, "team-c", "disp", "Running"), 0);
    free(uid_run);
    free(uid_disp);
}
END_TEST

/* A job whose pods the member cluster does not start (its scheduler is held, which
 * fedsched's snapshot does not see) is deleted and requeued after the start timeout, under a
 * new attempt. */
START_TEST(stuck_dispatch_is_requeued)
{
    char *uid;

    senv_sim(&env, "testdata/sim/sched-solo.json");
    senv_config(&env,
                SLOW_POLL "\"scheduler\": {\"cycleIntervalMs\": 200, \"gcIntervalS\": 1,"
                          " \"startTimeoutS\": 2}",
                "", NULL);
    senv_serve(&env, 0, NULL);
    wait_polled(&env);
    uid = submit_stuck(&env, "team-s", "stuck", 8);
    json_decref(senv_wait_phase(env.srv[0].base, "team-s", "stuck", "Dispatched", 3000));
    ck_assert_int_eq(senv_sim_objects(&env, "solo", false, "fedsched.io/job-uid", uid), 1);
    /* The scheduler may place it again at once, so look at the timeline rather than the
     * phase. */
    for (int i = 0; senv_events(&env, "team-s", "stuck", "Queued") < 2; i++) {
        ck_assert_msg(i < 80, "not requeued within 8 s");
        usleep(100 * 1000);
    }
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM job_events WHERE reason ="
                                         " 'StartTimeout' AND from_phase = 'Dispatched'"),
                     1);
    ck_assert_int_ge(senv_sql_long(&env, "SELECT attempt FROM jobs WHERE name = 'stuck'"), 1);
    /* The first attempt's object is gone; no attempt ever ran. */
    ck_assert_int_eq(senv_sim_objects(&env, "solo", false, "fedsched.io/attempt", "0"), 0);
    ck_assert_int_eq(senv_events(&env, "team-s", "stuck", "Running"), 0);
    free(uid);
}
END_TEST

/* Three clusters, a 2 s start timeout, jobs that run for an hour; returns the API's base. */
static const char *start_with_timeout(void)
{
    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env,
                SLOW_POLL "\"scheduler\": {\"cycleIntervalMs\": 200, \"gcIntervalS\": 1,"
                          " \"startTimeoutS\": 2, \"jobAnnotations\":"
                          " {\"sim.fedsched.io/duration-seconds\": \"3600000\"}}",
                "", NULL);
    senv_serve(&env, 0, NULL);
    wait_polled(&env);
    return env.srv[0].base;
}

/* A job whose workers did not start in one cluster is placed in another next time: east's
 * scheduler is held (fedsched's snapshot does not see it), the job prefers east and times out
 * there, then goes to west and runs; a policy blind to the timed-out start would place it in
 * east again, and again. */
START_TEST(timed_out_start_goes_to_another_cluster)
{
    const char *base;

    base = start_with_timeout();
    sim_cluster_scheduler_hold(sim_get_cluster(env.sim, "east"), true);
    free(senv_submit(base, "team-t", "retry", "a100-80gb", 8, NULL,
                     "\"clusterAffinity\": [\"east\", \"west\"]"));
    json_decref(senv_wait_phase(base, "team-t", "retry", "Running", 15000));
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM job_events WHERE reason ="
                                         " 'StartTimeout' AND cluster = 'east'"),
                     1);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM job_events WHERE reason ="
                                         " 'StartTimeout'"),
                     1);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM jobs WHERE name = 'retry' AND"
                                         " cluster = 'west' AND phase = 'Running'"),
                     1);
    /* The placement says why it is not in the cluster the job prefers. */
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM job_events WHERE reason ="
                                         " 'Placed' AND cluster = 'west' AND message LIKE"
                                         " '%; its last start timed out in east'"),
                     1);
}
END_TEST

/* A job whose start timed out in two clusters is not sent back to the first: east's and
 * west's schedulers are held, the job prefers east, then west, then onprem; it times out in
 * east, then in west, then runs in onprem. A policy that remembered only the last cluster
 * would send it back to east after west, and so on between the two. */
START_TEST(timed_out_starts_are_all_remembered)
{
    const char *base;

    base = start_with_timeout();
    sim_cluster_scheduler_hold(sim_get_cluster(env.sim, "east"), true);
    sim_cluster_scheduler_hold(sim_get_cluster(env.sim, "west"), true);
    /* a100 in east and west, h100 in east and onprem. */
    free(senv_submit_with(base, "team-t", "wander", "a100-80gb", 8, NULL,
                          "\"alternativeInstanceTypes\": [\"h100-80gb\"]",
                          "\"clusterAffinity\": [\"east\", \"west\", \"onprem\"]"));
    json_decref(senv_wait_phase(base, "team-t", "wander", "Running", 20000));
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM job_events WHERE reason ="
                                         " 'StartTimeout' AND cluster = 'east'"),
                     1);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM job_events WHERE reason ="
                                         " 'StartTimeout' AND cluster = 'west'"),
                     1);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM jobs WHERE name = 'wander' AND"
                                         " cluster = 'onprem' AND phase = 'Running'"),
                     1);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM job_events WHERE reason ="
                                         " 'Placed' AND cluster = 'onprem' AND message LIKE"
                                         " '%; its starts timed out in west, east'"),
                     1);
}
END_TEST

/* Checkpoints are recorded while a job runs, refused otherwise. */
START_TEST(checkpoints_are_recorded)
{
    json_t *j = NULL;
    char url[256], *reply = NULL;
    static const char *const hdr[] = {"Content-Type: application/json", NULL};
    char when[40], body[96];

    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env,
                FAST_BASE ", \"jobAnnotations\": {\"sim.fedsched.io/duration-seconds\": "
                          "\"3600000\"}}",
                "", NULL);
    senv_serve(&env, 0, NULL);
    free(senv_submit(env.srv[0].base, "team-k", "ck", "h100-80gb", 8, NULL, ""));
    /* Too big to place anywhere: stays Queued. */
    free(senv_submit(env.srv[0].base, "team-k", "big", "h100-80gb", 4096, NULL, ""));
    json_decref(senv_wait_phase(env.srv[0].base, "team-k", "ck", "Running", 15000));
    snprintf(url, sizeof(url), "%s/v1/namespaces/team-k/trainingjobs/ck/checkpoint",
             env.srv[0].base);
    ck_assert_int_eq(itest_http("POST", url, NULL, NULL, NULL), 200);
    clock_format_rfc3339(clock_realtime_ms() + 3600000, when, sizeof(when));
    snprintf(body, sizeof(body), "{\"time\": \"%s\"}", when);
    ck_assert_int_eq(itest_http("POST", url, hdr, body, &reply), 422);
    ck_assert_ptr_nonnull(strstr(reply, "future"));
    free(reply);
    ck_assert_int_eq(itest_http("POST", url, hdr, "{\"when\": 1}", NULL), 400);
    j = senv_get(env.srv[0].base, "team-k", "ck");
    ck_assert_ptr_nonnull(
        json_string_value(json_object_get(json_object_get(j, "status"), "lastCheckpointTime")));
    json_decref(j);
    ck_assert_int_eq(senv_events(&env, "team-k", "ck", "Checkpoint"), 1);
    snprintf(url, sizeof(url), "%s/v1/namespaces/team-k/trainingjobs/big/checkpoint",
             env.srv[0].base);
    ck_assert_int_eq(itest_http("POST", url, NULL, NULL, NULL), 409);
    snprintf(url, sizeof(url), "%s/v1/namespaces/team-k/trainingjobs/nope/checkpoint",
             env.srv[0].base);
    ck_assert_int_eq(itest_http("POST", url, NULL, NULL, NULL), 404);
}
END_TEST

/* Creates that are refused some of the time: failed dispatches go back to the queue
 * with a reason and a back-off, and every job still ends Succeeded exactly once. */
START_TEST(dispatch_faults_are_retried)
{
    struct sim_faults f;
    struct err e = {0};
    char name[32];
    long failures;

    senv_sim(&env, "testdata/sim/sched-three.json");
    /* Each attempt POSTs a Job, a Service and a Secret, so 15 % refusals fail about 40 % of
     * attempts (30 of 70 in one run), and ten failures in a row would end one of the 40
     * jobs Failed in about one run of a hundred: the default limit of 10 is raised, as the
     * limit is not what this test is about. */
    senv_config(&env, FAST_BASE ", \"maxDispatchFailures\": 40}", "", NULL);
    senv_serve(&env, 0, NULL);
    memset(&f, 0, sizeof(f));
    /* A refusal that is not retried in place (429, 5xx and transport errors are, see
     * create_refusals_keep_the_name), so every retry is a new attempt. */
    f.status = 403;
    snprintf(f.method, sizeof(f.method), "POST");
    f.probability = 0.15;
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(sim_set_faults(env.sim, sim_cluster_name_at(env.sim, i), &f, &e), 0);
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        free(senv_submit(env.srv[0].base, "team-d", name, i % 2 ? "a100-80gb" : "h100-80gb", 8,
                         NULL, ""));
    }
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        json_decref(senv_wait_phase(env.srv[0].base, "team-d", name, "Succeeded", 60000));
        ck_assert_int_eq(senv_events(&env, "team-d", name, "Succeeded"), 1);
    }
    failures = senv_sql_long(&env, "SELECT count(*) FROM job_events WHERE reason IN"
                                   " ('DispatchFailed', 'NameTaken') AND to_phase = 'Queued'");
    ck_assert_msg(failures > 0, "no dispatch failed under 15%% faults");
    ck_assert_int_eq(senv_sql_long(&env, "SELECT sum(dispatch_failures) FROM jobs"), failures);
    /* A failed dispatch counts in the attempts: each retry has its own object name. */
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM jobs WHERE attempt <"
                                         " dispatch_failures"),
                     0);
    /* The retry waits for its back-off (dispatchBackoffBaseS 1 s, doubling to 2 s): the
     * next admission of a job whose dispatch failed comes at least a second after the cycle
     * that failed it. The event is written when that cycle applies its chunk, a little
     * after the cycle's clock, so allow half of it; a retry without back-off comes on the
     * next cycle, 200 ms later. */
    ck_assert_int_ge(senv_sql_long(&env, "SELECT COALESCE(min(extract(epoch FROM a.ts - f.ts)"
                                         " * 1000), -1)::bigint FROM job_events f CROSS JOIN"
                                         " LATERAL (SELECT ts FROM job_events a WHERE a.job_id ="
                                         " f.job_id AND a.id > f.id AND a.to_phase = 'Admitted'"
                                         " ORDER BY a.id LIMIT 1) a WHERE f.reason IN"
                                         " ('DispatchFailed', 'NameTaken') AND f.to_phase ="
                                         " 'Queued'"),
                     500);
}
END_TEST

/* Objects with fedsched's labels and this installation's origin (the default one here)
 * that no live attempt owns are deleted; others are left. */
START_TEST(orphans_are_collected)
{
    struct sim_query q;
    struct sim_reply r;
    const char *orphan =
        "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"fj-orphan-0\","
        "\"labels\":{\"app.kubernetes.io/managed-by\":\"fedsched\",\"fedsched.io/job-uid\":"
        "\"00000000-0000-0000-0000-000000000001\",\"fedsched.io/attempt\":\"0\","
        "\"fedsched.io/origin\":\"default\"}},\"spec\":"
        "{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}";
    const char *foreign =
        "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"theirs\"},"
        "\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}";

    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env, FAST_BASE "}", "", NULL);
    memset(&q, 0, sizeof(q));
    sim_cluster_handle(sim_get_cluster(env.sim, "west"), "POST",
                       "/apis/batch/v1/namespaces/fedsched-jobs/jobs", &q, orphan, strlen(orphan),
                       &r);
    ck_assert_int_eq(r.status, 201);
    free(r.body);
    sim_cluster_handle(sim_get_cluster(env.sim, "west"), "POST",
                       "/apis/batch/v1/namespaces/fedsched-jobs/jobs", &q, foreign, strlen(foreign),
                       &r);
    ck_assert_int_eq(r.status, 201);
    free(r.body);
    ck_assert_int_eq(senv_sim_objects(&env, "west", false, NULL, NULL), 2);
    senv_serve(&env, 0, NULL);
    for (int i = 0; i < 100 && senv_sim_objects(&env, "west", false, NULL, NULL) == 2; i++)
        usleep(100 * 1000);
    ck_assert_int_eq(senv_sim_objects(&env, "west", false, NULL, NULL), 1);
    ck_assert_int_eq(
        senv_sim_objects(&env, "west", false, "app.kubernetes.io/managed-by", "fedsched"), 0);
}
END_TEST

/* POSTs a batch/v1 Job named name into a simulated cluster's job namespace, labelled as
 * fedsched's (uid, attempt 0) with origin as its fedsched.io/origin (NULL: no origin). */
static void put_fedsched_job(const char *cluster, const char *name, const char *uid,
                             const char *origin)
{
    struct sim_query q;
    struct sim_reply r;
    json_t *labels = json_pack("{s:s, s:s, s:s}", "app.kubernetes.io/managed-by", "fedsched",
                               "fedsched.io/job-uid", uid, "fedsched.io/attempt", "0");
    json_t *obj;
    char *body;

    if (origin)
        json_object_set_new(labels, "fedsched.io/origin", json_string(origin));
    obj = json_pack("{s:s, s:s, s:{s:s, s:o}, s:{s:{s:{s:[{s:s, s:s}]}}}}", "apiVersion",
                    "batch/v1", "kind", "Job", "metadata", "name", name, "labels", labels, "spec",
                    "template", "spec", "containers", "name", "c", "image", "x");
    body = json_dumps(obj, JSON_COMPACT);
    memset(&q, 0, sizeof(q));
    sim_cluster_handle(sim_get_cluster(env.sim, cluster), "POST",
                       "/apis/batch/v1/namespaces/fedsched-jobs/jobs", &q, body, strlen(body), &r);
    ck_assert_int_eq(r.status, 201);
    free(r.body);
    free(body);
    json_decref(obj);
}

/* True while the Job name exists in cluster's job namespace. */
static bool sim_job_exists(const char *cluster, const char *name)
{
    struct sim_query q;
    struct sim_reply r;
    char path[256];
    int status;

    snprintf(path, sizeof(path), "/apis/batch/v1/namespaces/fedsched-jobs/jobs/%s", name);
    memset(&q, 0, sizeof(q));
    sim_cluster_handle(sim_get_cluster(env.sim, cluster), "GET", path, &q, NULL, 0, &r);
    status = r.status;
    free(r.body);
    ck_assert(status == 200 || status == 404);
    return status == 200;
}

/* Another fedsched installation shares the cluster: its Job (fedsched's managed-by label,
 * a uid we do not know, origin fs-other) survives 10 garbage-collection rounds, as does one
 * without an origin label (an older fedsched's), while each orphan of our own origin is
 * deleted. A round is proven by its effect: a new orphan of ours is put in only after the
 * previous one is gone, and each must be collected. Our live job's object carries our
 * origin and is left alone. */
START_TEST(foreign_origins_survive_gc)
{
    json_t *j;

    senv_sim(&env, "testdata/sim/sched-three.json");
    /* A simulated hour is a second here: "mine" runs through all the rounds. */
    senv_config(&env,
                FAST_BASE ", \"originId\": \"fs-main\", \"jobAnnotations\": "
                          "{\"sim.fedsched.io/duration-seconds\": \"1000000\"}}",
                "", NULL);
    put_fedsched_job("west", "fj-theirs-0", "00000000-0000-0000-0000-0000000000f1", "fs-other");
    put_fedsched_job("west", "fj-older-0", "00000000-0000-0000-0000-0000000000f2", NULL);
    senv_serve(&env, 0, NULL);
    free(senv_submit(env.srv[0].base, "team-g", "mine", "a100-80gb", 8, NULL, "\"priority\": 5"));
    json_decref(senv_wait_phase(env.srv[0].base, "team-g", "mine", "Running", 20000));
    ck_assert_int_eq(senv_sim_objects(&env, "east", false, "fedsched.io/origin", "fs-main") +
                         senv_sim_objects(&env, "west", false, "fedsched.io/origin", "fs-main") +
                         senv_sim_objects(&env, "onprem", false, "fedsched.io/origin", "fs-main"),
                     1);
    for (int round = 0; round < 10; round++) {
        char name[32];

        snprintf(name, sizeof(name), "fj-ours-%d", round);
        put_fedsched_job("west", name, "00000000-0000-0000-0000-000000000001", "fs-main");
        for (int i = 0; sim_job_exists("west", name); i++) {
            ck_assert_msg(i < 100, "round %d: our orphan %s not collected in 10 s", round, name);
            usleep(100 * 1000);
        }
        ck_assert_msg(sim_job_exists("west", "fj-theirs-0"),
                      "round %d: the other installation's Job was deleted", round);
        ck_assert_msg(sim_job_exists("west", "fj-older-0"),
                      "round %d: the Job without an origin was deleted", round);
    }
    j = senv_wait_phase(env.srv[0].base, "team-g", "mine", "Running", 1000);
    json_decref(j);
}
END_TEST

/* Two replicas: one leads; when it dies (kill -9) the other takes over within seconds
 * with a higher epoch, and jobs keep flowing. */
START_TEST(standby_takes_over)
{
    json_t *l = NULL;
    int64_t epoch1, epoch2, t0;
    int leader = -1;
    char holder[32];

    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env, FAST_BASE "}", "", NULL);
    senv_serve(&env, 0, NULL);
    senv_serve(&env, 1, NULL);
    free(senv_submit(env.srv[1].base, "team-l", "before", "a100-80gb", 8, NULL, ""));
    json_decref(senv_wait_phase(env.srv[1].base, "team-l", "before", "Succeeded", 15000));
    ck_assert_int_eq(itest_get_json(env.srv[1].base, "/v1/leader", &l), 200);
    epoch1 = json_integer_value(json_object_get(l, "epoch"));
    for (int i = 0; i < 2; i++) {
        snprintf(holder, sizeof(holder), ":%d:%d", (int)env.srv[i].pid, env.srv[i].port);
        if (strstr(json_string_value(json_object_get(l, "holder")), holder))
            leader = i;
    }
    json_decref(l);
    ck_assert_int_ge(leader, 0);
    itest_server_stop(&env.srv[leader], SIGKILL);
    t0 = clock_mono_ms();
    for (;;) {
        const char *h;

        ck_assert_int_eq(itest_get_json(env.srv[1 - leader].base, "/v1/leader", &l), 200);
        epoch2 = json_integer_value(json_object_get(l, "epoch"));
        h = json_string_value(json_object_get(l, "holder"));
        snprintf(holder, sizeof(holder), ":%d:%d", (int)env.srv[1 - leader].pid,
                 env.srv[1 - leader].port);
        if (epoch2 > epoch1 && h && strstr(h, holder) &&
            json_is_true(json_object_get(l, "active"))) {
            json_decref(l);
            break;
        }
        json_decref(l);
        ck_assert_msg(clock_mono_ms() - t0 < 5000, "no takeover within 5 s");
        usleep(50 * 1000);
    }
    free(senv_submit(env.srv[1 - leader].base, "team-l", "after", "a100-80gb", 8, NULL, ""));
    json_decref(senv_wait_phase(env.srv[1 - leader].base, "team-l", "after", "Succeeded", 15000));
}
END_TEST

/* The number of the simulator's Jobs in cluster with a deletionTimestamp (Terminating). */
static size_t sim_terminating(const char *cluster)
{
    struct sim_query q;
    struct sim_reply r;
    json_t *list, *it;
    size_t n = 0, i;

    memset(&q, 0, sizeof(q));
    sim_cluster_handle(sim_get_cluster(env.sim, cluster), "GET", "/apis/batch/v1/jobs", &q, NULL, 0,
                       &r);
    ck_assert_int_eq(r.status, 200);
    list = json_loadb(r.body, r.len, 0, NULL);
    free(r.body);
    json_array_foreach(json_object_get(list, "items"), i, it)
    {
        if (json_object_get(json_object_get(it, "metadata"), "deletionTimestamp"))
            n++;
    }
    json_decref(list);
    return n;
}

/* A job finishes while fedsched is down longer than the object's TTL (60 s: 17 ms real at
 * the simulator's time scale): the TTL controller deletes the Job, our finalizer keeps it
 * Terminating with its status, and fedsched, back, records Succeeded once at the same
 * attempt, never requeued as missing; then it releases the object, which goes. Without
 * the finalizer the Job is gone and the job runs twice (attempt 2, a Queued event). */
START_TEST(finished_jobs_survive_their_ttl)
{
    long attempt;
    size_t held;

    senv_sim(&env, "testdata/sim/sched-solo.json");
    senv_config(&env,
                FAST_BASE ", \"finishedTtlSeconds\": 60, \"jobAnnotations\": "
                          "{\"sim.fedsched.io/duration-seconds\": \"7200\"}}",
                "", NULL);
    senv_serve(&env, 0, NULL);
    free(senv_submit(env.srv[0].base, "team-t", "ttl", "a100-80gb", 8, NULL, ""));
    json_decref(senv_wait_phase(env.srv[0].base, "team-t", "ttl", "Running", 15000));
    itest_server_stop(&env.srv[0], SIGKILL);
    attempt = senv_sql_long(&env, "SELECT attempt FROM jobs WHERE name = 'ttl'");
    /* Finished (2 s), then its TTL came: Terminating, held by our finalizer (or gone,
     * without it: what fedsched then makes of it is asserted first). */
    for (int i = 0;
         sim_terminating("solo") == 0 && senv_sim_objects(&env, "solo", false, NULL, NULL) > 0;
         i++) {
        ck_assert_msg(i < 100, "the TTL controller did not delete the finished Job");
        usleep(100 * 1000);
    }
    held = sim_terminating("solo");
    usleep(4000 * 1000); /* longer than missingGraceS: a lost object would be requeued */
    senv_serve(&env, 0, NULL);
    json_decref(senv_wait_phase(env.srv[0].base, "team-t", "ttl", "Succeeded", 15000));
    usleep(1000 * 1000);
    ck_assert_int_eq(senv_events(&env, "team-t", "ttl", "Succeeded"), 1);
    ck_assert_int_eq(senv_events(&env, "team-t", "ttl", "Queued"), 1); /* at submission */
    ck_assert_int_eq(senv_sql_long(&env, "SELECT attempt FROM jobs WHERE name = 'ttl'"), attempt);
    ck_assert_uint_eq(held, 1);
    for (int i = 0; senv_sim_objects(&env, "solo", false, NULL, NULL) > 0; i++) {
        ck_assert_msg(i < 50, "the released Job did not go");
        usleep(100 * 1000);
    }
}
END_TEST

/* The fence: writes at a superseded epoch change nothing and say so. */
START_TEST(deposed_epoch_cannot_write)
{
    struct store_config sc = {0};
    struct store *s = NULL;
    struct store_leader *l1 = NULL, *l2 = NULL;
    struct store_transition t;
    struct store_sched_jobs jobs = {0};
    struct err e = {0};
    bool acquired = false, applied = false;
    int64_t epoch1 = 0, epoch2 = 0;
    char dsn[1024];

    itest_create_db(dsn, sizeof(dsn));
    defaults_store(&sc, dsn, 2);
    ck_assert_int_eq(store_open(&sc, &s, &e), 0);
    ck_assert_msg(store_migrate(s, NULL, &e) == 0, "%s", e.msg);
    free(itest_sql(dsn,
                   "INSERT INTO jobs (namespace, name, api_version, spec, sku, gpu_count,"
                   " gpus_per_worker) VALUES ('ns', 'j', 'fedsched.io/v1', '{}', 'l4', 1, 1)"));
    ck_assert_int_eq(store_leader_open(dsn, "one", &l1, &e), 0);
    ck_assert_int_eq(store_leader_open(dsn, "two", &l2, &e), 0);
    ck_assert_int_eq(store_leader_try(l1, &acquired, &epoch1, &e), 0);
    ck_assert(acquired);
    ck_assert_int_eq(store_leader_try(l2, &acquired, &epoch2, &e), 0);
    ck_assert(!acquired); /* the lock is held */
    ck_assert_int_eq(store_sched_load(s, &jobs, &e), 0);
    ck_assert_uint_eq(jobs.n, 1);
    memset(&t, 0, sizeof(t));
    t.job_id = jobs.v[0].id;
    t.from = PHASE_QUEUED;
    t.to = PHASE_ADMITTED;
    t.cluster = "c1";
    t.pool = "training";
    t.sku = "l4";
    t.plan = &(struct job_node_use){"n1", 1};
    t.n_plan = 1;
    /* The first leader dies: its session ends, the second takes over. */
    store_leader_close(&l1);
    for (int i = 0; i < 50 && !acquired; i++) {
        ck_assert_int_eq(store_leader_try(l2, &acquired, &epoch2, &e), 0);
        usleep(20 * 1000);
    }
    ck_assert(acquired);
    ck_assert_int_eq(epoch2, epoch1 + 1);
    ck_assert_int_eq(store_sched_apply(s, epoch1, &t, 1, &applied, &e), -1);
    ck_assert_int_eq(e.code, ERR_CONFLICT);
    ck_assert_str_eq(e.field, "leader.epoch");
    ck_assert(!applied);
    ck_assert_int_eq(store_leader_renew(l2, epoch1, &e), -1); /* a stale epoch is not ours */
    /* The new leader writes; the same transition again (stale from-phase) is skipped. */
    ck_assert_int_eq(store_leader_try(l2, &acquired, &epoch2, &e), 0);
    ck_assert(acquired);
    ck_assert_int_eq(store_sched_apply(s, epoch2, &t, 1, &applied, &e), 0);
    ck_assert(applied);
    ck_assert_int_eq(store_sched_apply(s, epoch2, &t, 1, &applied, &e), 0);
    ck_assert(!applied);
    {
        char *v1 = itest_sql(dsn, "SELECT phase || ' ' || cluster FROM jobs");
        char *v2 = itest_sql(dsn, "SELECT count(*) FROM job_events WHERE type = 'Admitted'");

        ck_assert_str_eq(v1, "Admitted c1");
        ck_assert_str_eq(v2, "1");
        free(v1);
        free(v2);
    }
    store_sched_jobs_free(&jobs);
    store_leader_close(&l2);
    store_close(&s);
}
END_TEST

/* A checkpoint-first reclaim's request (migration 0028) is written with the transition to
 * Preempting, with its CheckpointRequested event after the phase's; Preempting again only
 * brings the deadline forward (escalation), never moves the request or adds a ledger row;
 * the requeue clears it. A reclaim without checkpoint_by_ms writes none of it. */
START_TEST(checkpoint_request_is_written_once)
{
    struct store_config sc = {0};
    struct store *s = NULL;
    struct store_leader *l = NULL;
    struct store_transition t[2];
    struct store_sched_jobs jobs = {0};
    struct job *api = NULL;
    struct err e = {0};
    bool acquired = false, applied[2] = {false, false};
    int64_t epoch = 0, now = clock_realtime_ms(), t1 = now + 60000, t0 = now + 1000, asked;
    char dsn[1024], *v;

    itest_create_db(dsn, sizeof(dsn));
    defaults_store(&sc, dsn, 2);
    ck_assert_int_eq(store_open(&sc, &s, &e), 0);
    ck_assert_msg(store_migrate(s, NULL, &e) == 0, "%s", e.msg);
    free(itest_sql(dsn, "INSERT INTO jobs (namespace, name, api_version, spec, sku, gpu_count,"
                        " gpus_per_worker, phase, cluster, pool, sku_placed) SELECT 'ns', n,"
                        " 'fedsched.io/v1', '{}', 'l4', 4, 4, 'Running', 'c1', 'serving-borrowed',"
                        " 'l4' FROM unnest(ARRAY['cf', 'now']) n"));
    ck_assert_int_eq(store_leader_open(dsn, "one", &l, &e), 0);
    ck_assert_int_eq(store_leader_try(l, &acquired, &epoch, &e), 0);
    ck_assert(acquired);
    ck_assert_int_eq(store_sched_load(s, &jobs, &e), 0);
    ck_assert_uint_eq(jobs.n, 2);
    memset(t, 0, sizeof(t));
    for (int i = 0; i < 2; i++) {
        t[i].job_id = jobs.v[i].id;
        t[i].from = PHASE_RUNNING;
        t[i].to = PHASE_PREEMPTING;
        t[i].reason = i == 0 ? "ServingAnnounced" : "ServingDemand";
        t[i].reclaim_reason = i == 0 ? "serving_announced" : "deficit";
        t[i].gpus = 4;
    }
    t[0].checkpoint_by_ms = t1;
    ck_assert_int_eq(store_sched_apply(s, epoch, t, 2, applied, &e), 0);
    ck_assert(applied[0] && applied[1]);
    store_sched_jobs_free(&jobs);
    ck_assert_int_eq(store_sched_load(s, &jobs, &e), 0);
    ck_assert_int_gt(jobs.v[0].checkpoint_requested_ms, 0);
    ck_assert_int_eq(jobs.v[0].checkpoint_requested_ms, jobs.v[0].preempt_requested_ms);
    ck_assert_int_le(llabs(jobs.v[0].checkpoint_deadline_ms - t1), 1);
    ck_assert_int_eq(jobs.v[1].checkpoint_requested_ms, 0);
    ck_assert_int_eq(jobs.v[1].checkpoint_deadline_ms, 0);
    asked = jobs.v[0].checkpoint_requested_ms;
    ck_assert_int_eq(store_job_get(s, "ns", "cf", &api, &e), 0);
    ck_assert_int_eq(api->checkpoint_requested_ms, asked);
    ck_assert_int_le(llabs(api->checkpoint_deadline_ms - t1), 1);
    job_free(&api);
    v = itest_sql(dsn, "SELECT string_agg(e.type, ',' ORDER BY e.id) FROM job_events e JOIN jobs j"
                       " ON j.id = e.job_id WHERE j.name = 'cf'");
    ck_assert_str_eq(v, "Preempting,CheckpointRequested");
    free(v);
    v = itest_sql(dsn, "SELECT count(*) FROM job_events WHERE type = 'CheckpointRequested'");
    ck_assert_str_eq(v, "1");
    free(v);
    /* Escalation: the deadline comes forward to t0, and no later one moves it back. */
    t[0].from = PHASE_PREEMPTING;
    t[0].reason = "CheckpointDeadlineAdvanced";
    t[0].checkpoint_by_ms = t0;
    usleep(20 * 1000);
    ck_assert_int_eq(store_sched_apply(s, epoch, t, 1, applied, &e), 0);
    ck_assert(applied[0]);
    t[0].checkpoint_by_ms = t1;
    ck_assert_int_eq(store_sched_apply(s, epoch, t, 1, applied, &e), 0);
    store_sched_jobs_free(&jobs);
    ck_assert_int_eq(store_sched_load(s, &jobs, &e), 0);
    ck_assert_int_eq(jobs.v[0].checkpoint_requested_ms, asked);
    ck_assert_int_eq(jobs.v[0].preempt_requested_ms, asked);
    ck_assert_int_le(llabs(jobs.v[0].checkpoint_deadline_ms - t0), 1);
    v = itest_sql(dsn, "SELECT count(*) || ' ' || (SELECT count(*) FROM job_events WHERE type ="
                       " 'CheckpointRequested') FROM reclaims");
    ck_assert_str_eq(v, "2 1");
    free(v);
    /* The work lost at the delete goes into its open ledger row, only ever upwards, and only
     * under the leader's epoch. */
    ck_assert_int_eq(store_sched_ledger_lost(s, epoch, jobs.v[0].id, jobs.v[0].attempt, 0.5, &e),
                     0);
    ck_assert_int_eq(store_sched_ledger_lost(s, epoch, jobs.v[0].id, jobs.v[0].attempt, 0.2, &e),
                     0);
    ck_assert_int_eq(store_sched_ledger_lost(s, epoch + 1, jobs.v[0].id, jobs.v[0].attempt, 9, &e),
                     -1);
    ck_assert_int_eq(e.code, ERR_CONFLICT);
    v = itest_sql(dsn, "SELECT string_agg(lost_gpu_hours::text, ' ' ORDER BY id) FROM reclaims");
    ck_assert_str_eq(v, "0.5 0");
    free(v);
    /* Requeued: the request goes with the attempt. */
    t[0].to = PHASE_QUEUED;
    t[0].reason = "Preempted";
    t[0].preempted = true;
    t[0].checkpoint_by_ms = 0;
    ck_assert_int_eq(store_sched_apply(s, epoch, t, 1, applied, &e), 0);
    ck_assert(applied[0]);
    v = itest_sql(dsn, "SELECT count(*) FROM jobs WHERE checkpoint_requested_at IS NOT NULL OR"
                       " checkpoint_deadline IS NOT NULL");
    ck_assert_str_eq(v, "0");
    free(v);
    store_sched_jobs_free(&jobs);
    store_leader_close(&l);
    store_close(&s);
}
END_TEST

/* A job keeps every alternative SKU the API accepted and every node of its plan: here
 * only its eleventh choice exists (the policy used to cut alternatives to eight, and
 * running plans to sixteen nodes), and its 20 one-GPU workers land on 20 nodes. */
START_TEST(wide_job_keeps_every_alternative_and_node)
{
    char skus[2048] = "", alts[512] = "", *body;
    json_t *out = NULL, *j;
    size_t o = 0, a = 0;

    for (int i = 1; i <= 12; i++) {
        o += (size_t)snprintf(skus + o, sizeof(skus) - o,
                              "%s{\"name\": \"sku-%02d\", \"products\": [\"P-%02d\"]}",
                              i > 1 ? ", " : "", i, i);
        if (i > 1)
            a +=
                (size_t)snprintf(alts + a, sizeof(alts) - a, "%s\"sku-%02d\"", i > 2 ? "," : "", i);
    }
    senv_sim(&env, "testdata/sim/sched-wide.json");
    body = xasprintf(FAST_BASE "}, \"skus\": [%s]", skus);
    senv_config(&env, body, "", NULL);
    free(body);
    senv_serve(&env, 0, NULL);
    body = xasprintf("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\","
                     "\"metadata\":{\"name\":\"wide\"},\"spec\":{\"resources\":"
                     "{\"instanceType\":\"sku-01\",\"alternativeInstanceTypes\":[%s],"
                     "\"gpuCount\":20,\"gpusPerWorker\":1},\"code\":{\"image\":\"t:1\"}}}",
                     alts);
    ck_assert_int_eq(
        itest_post_json(env.srv[0].base, "/v1/namespaces/team-a/trainingjobs", body, &out), 201);
    free(body);
    json_decref(out);
    j = senv_wait_phase(env.srv[0].base, "team-a", "wide", "Succeeded", 30000);
    json_decref(j);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM jobs WHERE name = 'wide'"
                                         " AND sku_placed = 'sku-12'"),
                     1);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(DISTINCT p->>0) FROM jobs,"
                                         " jsonb_array_elements(node_plan) p WHERE name = 'wide'"
                                         " AND (p->>1)::int = 1"),
                     20);
}
END_TEST

/* End to end, API to recorded placement: a job that declares it runs 8 times slower on
 * its alternative (the only SKU the cluster has) is placed there priced per unit of work,
 * workFactor 8 (4 / 0.5) in its stored score; the same job without the declaration is
 * priced per GPU-hour (1). Figures out of line with the SKUs would give 1 or 1/8. */
START_TEST(declared_throughput_reaches_the_placement)
{
    static const char *const fmt =
        "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":"
        "\"%s\"},\"spec\":{\"resources\":{\"instanceType\":\"sku-01\",\"alternativeInstanceTypes\":"
        "[\"sku-12\"],\"gpuCount\":2,\"gpusPerWorker\":1%s},\"code\":{\"image\":\"t:1\"}}}";
    static const char *const names[] = {"declared", "undeclared"};
    static const char *const maps[] = {",\"relativeThroughput\":{\"sku-12\":0.5,\"sku-01\":4}", ""};
    char skus[2048] = "", *body;
    size_t o = 0;

    for (int i = 1; i <= 12; i++)
        o += (size_t)snprintf(skus + o, sizeof(skus) - o,
                              "%s{\"name\": \"sku-%02d\", \"products\": [\"P-%02d\"]}",
                              i > 1 ? ", " : "", i, i);
    senv_sim(&env, "testdata/sim/sched-wide.json");
    body = xasprintf(FAST_BASE "}, \"skus\": [%s]", skus);
    senv_config(&env, body, "", NULL);
    free(body);
    senv_serve(&env, 0, NULL);
    for (int k = 0; k < 2; k++) {
        json_t *out = NULL;

        body = xasprintf(fmt, names[k], maps[k]);
        ck_assert_int_eq(
            itest_post_json(env.srv[0].base, "/v1/namespaces/team-a/trainingjobs", body, &out),
            201);
        free(body);
        json_decref(out);
    }
    for (int k = 0; k < 2; k++)
        json_decref(senv_wait_phase(env.srv[0].base, "team-a", names[k], "Succeeded", 30000));
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM jobs WHERE sku_placed = 'sku-12'"),
                     2);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT round((placement->'score'->>'workFactor')::numeric"
                                         " * 1000) FROM jobs WHERE name = 'declared'"),
                     8000);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT round((placement->'score'->>'workFactor')::numeric"
                                         " * 1000) FROM jobs WHERE name = 'undeclared'"),
                     1000);
}
END_TEST

/* Moves the one live job of jobs to phase `to` for reason (placed in cluster when it is not
 * NULL), checks the store applied it, and reloads jobs. */
static void move(struct store *s, int64_t epoch, struct store_sched_jobs *jobs, enum job_phase to,
                 const char *reason, const char *cluster)
{
    struct store_transition t;
    struct err e;
    bool applied = false;

    memset(&t, 0, sizeof(t));
    t.job_id = jobs->v[0].id;
    t.from = jobs->v[0].phase;
    t.attempt = jobs->v[0].attempt;
    t.to = to;
    t.reason = reason;
    if (cluster) {
        t.cluster = cluster;
        t.pool = "training";
        t.sku = "l4";
    }
    ck_assert_int_eq(store_sched_apply(s, epoch, &t, 1, &applied, &e), 0);
    ck_assert_msg(applied, "%s to %s not applied", reason, job_phase_name(to));
    store_sched_jobs_free(jobs);
    ck_assert_int_eq(store_sched_load(s, jobs, &e), 0);
    ck_assert_uint_eq(jobs->n, 1);
}

/* The live job list carries the spec's lists and the node plan as typed arrays, whole
 * and in order: names PostgreSQL must quote (a space, a quote, the word NULL) come back
 * as written, 40 alternatives and a 20-node plan are not cut. And the leader parses a
 * job's spec once per term: refilling finds it cached; only after it left the live list
 * (or a new term cleared the cache) is it read and parsed again. */
START_TEST(live_jobs_are_typed_and_specs_parsed_once)
{
    struct store_config sc = {0};
    struct store *s = NULL;
    struct store_leader *l = NULL;
    struct store_transition t;
    struct store_sched_jobs jobs = {0}, none = {0};
    struct job_node_use plan[20];
    struct spec_cache *cache = spec_cache_new();
    struct err e = {0};
    bool acquired = false, applied = false;
    int64_t epoch = 0, id;
    char dsn[1024], alts[1024] = "", names[20][16], *sql;
    size_t o = 0;

    itest_create_db(dsn, sizeof(dsn));
    defaults_store(&sc, dsn, 2);
    ck_assert_int_eq(store_open(&sc, &s, &e), 0);
    ck_assert_msg(store_migrate(s, NULL, &e) == 0, "%s", e.msg);
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(alts + o, sizeof(alts) - o, "%s\"alt-%02d\"", i ? "," : "", i);
    sql = xasprintf("INSERT INTO jobs (namespace, name, api_version, spec, labels, sku, gpu_count,"
                    " gpus_per_worker) VALUES ('ns', 'j', 'fedsched.io/v1', '{\"resources\":"
                    " {\"alternativeInstanceTypes\": [%s]}, \"scheduling\": {\"clusterAffinity\":"
                    " [\"a b\", \"c\\\"d\", \"NULL\", \"e,f\"]}, \"code\": {\"image\": \"t:1\"}}',"
                    " '{\"team\": \"x\"}', 'l4', 20, 1)",
                    alts);
    free(itest_sql(dsn, sql));
    free(sql);
    ck_assert_int_eq(store_leader_open(dsn, "one", &l, &e), 0);
    ck_assert_int_eq(store_leader_try(l, &acquired, &epoch, &e), 0);
    ck_assert(acquired);
    ck_assert_int_eq(store_sched_load(s, &jobs, &e), 0);
    ck_assert_uint_eq(jobs.n, 1);
    ck_assert_uint_eq(jobs.v[0].n_alt_skus, 40);
    ck_assert_str_eq(jobs.v[0].alt_skus[0], "alt-00");
    ck_assert_str_eq(jobs.v[0].alt_skus[39], "alt-39");
    ck_assert_uint_eq(jobs.v[0].n_affinity, 4);
    ck_assert_str_eq(jobs.v[0].affinity[0], "a b");
    ck_assert_str_eq(jobs.v[0].affinity[1], "c\"d");
    ck_assert_ptr_nonnull(jobs.v[0].affinity[2]);
    ck_assert_str_eq(jobs.v[0].affinity[2], "NULL");
    ck_assert_str_eq(jobs.v[0].affinity[3], "e,f");
    ck_assert_uint_eq(jobs.v[0].n_throughput, 0); /* no relativeThroughput */
    ck_assert_uint_eq(jobs.v[0].n_plan, 0);
    id = jobs.v[0].id;
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof(names[i]), "node-%02d", i);
        plan[i] = (struct job_node_use){names[i], i % 3 + 1};
    }
    memset(&t, 0, sizeof(t));
    t.job_id = id;
    t.from = PHASE_QUEUED;
    t.to = PHASE_ADMITTED;
    t.cluster = "c1";
    t.pool = "training";
    t.sku = "l4";
    t.plan = plan;
    t.n_plan = 20;
    ck_assert_int_eq(store_sched_apply(s, epoch, &t, 1, &applied, &e), 0);
    ck_assert(applied);
    store_sched_jobs_free(&jobs);
    ck_assert_int_eq(store_sched_load(s, &jobs, &e), 0);
    ck_assert_uint_eq(jobs.v[0].n_plan, 20);
    for (int i = 0; i < 20; i++) {
        ck_assert_str_eq(jobs.v[0].plan[i].node, names[i]);
        ck_assert_int_eq(jobs.v[0].plan[i].gpus, i % 3 + 1);
    }
    ck_assert_uint_eq(jobs.v[0].n_start_timeout_clusters, 0);
    /* Requeued by a start that timed out: while Queued the job carries that cluster (from
     * the transition's event); placed again, it no longer does. */
    move(s, epoch, &jobs, PHASE_QUEUED, "StartTimeout", NULL);
    ck_assert_uint_eq(jobs.v[0].n_start_timeout_clusters, 1);
    ck_assert_str_eq(jobs.v[0].start_timeout_clusters[0], "c1");
    ck_assert_str_eq(jobs.v[0].cluster, "");
    move(s, epoch, &jobs, PHASE_ADMITTED, "Placed", "c2");
    ck_assert_uint_eq(jobs.v[0].n_start_timeout_clusters, 0);
    ck_assert_str_eq(jobs.v[0].cluster, "c2");
    /* Timed out again: every cluster since it last ran, the latest first. */
    move(s, epoch, &jobs, PHASE_QUEUED, "StartTimeout", NULL);
    ck_assert_uint_eq(jobs.v[0].n_start_timeout_clusters, 2);
    ck_assert_str_eq(jobs.v[0].start_timeout_clusters[0], "c2");
    ck_assert_str_eq(jobs.v[0].start_timeout_clusters[1], "c1");
    /* Once it has run, its earlier timeouts are forgotten. */
    move(s, epoch, &jobs, PHASE_ADMITTED, "Placed", "c1");
    move(s, epoch, &jobs, PHASE_DISPATCHED, "Dispatched", NULL);
    move(s, epoch, &jobs, PHASE_RUNNING, "Started", NULL);
    move(s, epoch, &jobs, PHASE_QUEUED, "Preempted", NULL);
    ck_assert_uint_eq(jobs.v[0].n_start_timeout_clusters, 0);
    move(s, epoch, &jobs, PHASE_ADMITTED, "Placed", "c3");
    move(s, epoch, &jobs, PHASE_QUEUED, "StartTimeout", NULL);
    ck_assert_uint_eq(jobs.v[0].n_start_timeout_clusters, 1);
    ck_assert_str_eq(jobs.v[0].start_timeout_clusters[0], "c3");
    /* The spec: parsed on the first fill, cached on the second. */
    ck_assert_int_eq(spec_cache_fill(cache, s, &id, 1, &e), 0);
    ck_assert_int_eq(spec_cache_fill(cache, s, &id, 1, &e), 0);
    ck_assert_uint_eq(spec_cache_parses(cache), 1);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(spec_cache_get(cache, id)->spec, "code"), "image")),
                     "t:1");
    ck_assert_str_eq(json_string_value(json_object_get(spec_cache_get(cache, id)->labels, "team")),
                     "x");
    spec_cache_prune(cache, &jobs); /* still live: kept */
    ck_assert_uint_eq(spec_cache_size(cache), 1);
    spec_cache_prune(cache, &none); /* gone from the live list: dropped */
    ck_assert_ptr_null(spec_cache_get(cache, id));
    ck_assert_int_eq(spec_cache_fill(cache, s, &id, 1, &e), 0);
    ck_assert_uint_eq(spec_cache_parses(cache), 2);
    spec_cache_clear(cache); /* a new term */
    ck_assert_int_eq(spec_cache_fill(cache, s, &id, 1, &e), 0);
    ck_assert_uint_eq(spec_cache_parses(cache), 3);
    spec_cache_free(&cache);
    store_sched_jobs_free(&jobs);
    store_leader_close(&l);
    store_close(&s);
}
END_TEST

static const struct store_sched_job *live_job(const struct store_sched_jobs *jobs, const char *name)
{
    for (size_t i = 0; i < jobs->n; i++)
        if (strcmp(jobs->v[i].name, name) == 0)
            return &jobs->v[i];
    ck_abort_msg("no live job %s", name);
    return NULL;
}

/* A job not stored (a dry run's) loads as the same job does once the API has stored it:
 * every typed column alike but its id (after the stored jobs'), its uid (zeros) and its
 * creation time (now); and nothing of it is written. */
START_TEST(unsaved_job_loads_as_if_stored)
{
    static const char body[] =
        "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":"
        "\"NAME\",\"labels\":{\"team\":\"maps\"}},\"spec\":{\"framework\":\"ray\",\"resources\":"
        "{\"instanceType\":\"a100-80gb\",\"gpuCount\":16,\"gpusPerWorker\":8,\"cpu\":12.5,"
        "\"memoryGb\":40,\"alternativeInstanceTypes\":[\"h100-80gb\",\"l4\"],"
        "\"relativeThroughput\":{\"a100-80gb\":1,\"h100-80gb\":2,\"l4\":0.25}},\"code\":"
        "{\"image\":\"t:1\"},\"scheduling\":{\"priority\":7,\"preemptible\":true,"
        "\"maxRuntimeSeconds\":7200,\"checkpointIntervalSeconds\":600,\"clusterAffinity\":"
        "[\"east\",\"west\"]}}}";
    struct store_config sc = {0};
    struct store *s = NULL;
    struct store_sched_jobs stored = {0}, with = {0};
    struct job *j = NULL, *saved = NULL;
    const struct store_sched_job *a, *b;
    struct err e = {0};
    char dsn[1024], *text;
    bool created = false;
    int64_t now = clock_realtime_ms();

    itest_create_db(dsn, sizeof(dsn));
    defaults_store(&sc, dsn, 2);
    ck_assert_int_eq(store_open(&sc, &s, &e), 0);
    ck_assert_msg(store_migrate(s, NULL, &e) == 0, "%s", e.msg);
    text = xstrdup(body);
    memcpy(strstr(text, "NAME"), "keep", 4);
    ck_assert_msg(trainingjob_parse(text, strlen(text), "ns", NULL, &j, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(store_job_insert(s, j, NULL, NULL, &created, &saved, &e), 0);
    job_free(&saved);
    job_free(&j);
    memcpy(strstr(text, "keep"), "dryr", 4);
    ck_assert_msg(trainingjob_parse(text, strlen(text), "ns", NULL, &j, &e) == 0, "%s", e.msg);
    ck_assert_msg(store_sched_load_with(s, j, &with, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(store_sched_load(s, &stored, &e), 0);
    ck_assert_uint_eq(stored.n, 1);
    ck_assert_uint_eq(with.n, 2);
    a = live_job(&stored, "keep");
    b = &with.v[1];
    ck_assert_str_eq(b->name, "dryr");
    ck_assert_str_eq(b->ns, "ns");
    ck_assert_int_gt(b->id, a->id);
    ck_assert_str_eq(b->uid, "00000000-0000-0000-0000-000000000000");
    ck_assert_int_ge(b->created_ms, now - 5000);
    ck_assert_int_le(b->created_ms, clock_realtime_ms() + 5000);
    ck_assert_int_eq(b->phase, PHASE_QUEUED);
    ck_assert_str_eq(b->sku, a->sku);
    ck_assert_str_eq(b->framework, a->framework);
    ck_assert_str_eq(b->cluster, "");
    ck_assert_uint_eq(b->n_alt_skus, a->n_alt_skus);
    for (size_t i = 0; i < a->n_alt_skus; i++)
        ck_assert_str_eq(b->alt_skus[i], a->alt_skus[i]);
    ck_assert_uint_eq(b->n_throughput, a->n_throughput);
    for (size_t i = 0; i < a->n_throughput; i++)
        ck_assert_double_eq(b->throughput[i], a->throughput[i]);
    ck_assert_uint_eq(b->n_affinity, 2);
    for (size_t i = 0; i < a->n_affinity; i++)
        ck_assert_str_eq(b->affinity[i], a->affinity[i]);
    ck_assert_uint_eq(b->n_plan, 0);
    ck_assert_int_eq(b->gpu_count, a->gpu_count);
    ck_assert_int_eq(b->gpus_per_worker, a->gpus_per_worker);
    ck_assert_int_eq(b->priority, 7);
    ck_assert_int_eq(b->priority, a->priority);
    ck_assert(b->preemptible && a->preemptible);
    ck_assert(!b->over_quota && !b->cancel_requested && !b->held);
    ck_assert_int_eq(b->attempt + b->retries + b->preemptions + b->dispatch_failures, 0);
    ck_assert_int_eq(b->max_runtime_s, a->max_runtime_s);
    ck_assert_int_eq(b->checkpoint_interval_s, a->checkpoint_interval_s);
    ck_assert_int_eq(b->cpu_m_per_worker, 12500);
    ck_assert_int_eq(b->cpu_m_per_worker, a->cpu_m_per_worker);
    ck_assert_int_eq(b->mem_mib_per_worker, a->mem_mib_per_worker);
    ck_assert_int_eq(b->queued_ms + b->admitted_ms + b->started_ms + b->lease_end_ms, 0);
    ck_assert_uint_eq(b->n_start_timeout_clusters, 0);
    store_sched_jobs_free(&stored);
    store_sched_jobs_free(&with);
    job_free(&j);
    free(text);
    store_close(&s);
}
END_TEST

/* spec.resources.relativeThroughput reaches policy_job.throughput[] lined up with sku and
 * alt_skus: whatever order the map's keys were written in, whatever ids the snapshot gives
 * the SKUs (one it lacks included), none (NULL) for a job without the map, and 0 for a SKU a map
 * written past the API leaves out or gives no finite number. Jobs go in as the API stores
 * them. */
START_TEST(throughput_reaches_the_policy_job)
{
    static const char *const bodies[] = {
        /* keys in another order than the alternatives */
        "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":"
        "\"mixed\"},\"spec\":{\"resources\":{\"instanceType\":\"a100-80gb\",\"gpuCount\":8,"
        "\"alternativeInstanceTypes\":[\"h100-80gb\",\"v100-32gb\",\"l4\"],"
        "\"relativeThroughput\":{\"l4\":0.25,\"v100-32gb\":0.4,\"a100-80gb\":1,"
        "\"h100-80gb\":2.5}},\"code\":{\"image\":\"t:1\"}}}",
        /* none declared */
        "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":"
        "\"plain\"},\"spec\":{\"resources\":{\"instanceType\":\"l4\",\"gpuCount\":1,"
        "\"alternativeInstanceTypes\":[\"t4\"]},\"code\":{\"image\":\"t:1\"}}}",
        /* no alternatives */
        "{\"apiVersion\":\"michelangelo.uber.com/v1\",\"kind\":\"TrainingJob\",\"metadata\":"
        "{\"name\":\"single\"},\"spec\":{\"resources\":{\"instanceType\":\"l4\",\"gpuCount\":1,"
        "\"relativeThroughput\":{\"l4\":3}},\"code\":{\"image\":\"t:1\"}}}",
        /* an alternative the snapshot does not know */
        "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":"
        "\"unknown\"},\"spec\":{\"resources\":{\"instanceType\":\"h100-80gb\",\"gpuCount\":8,"
        "\"alternativeInstanceTypes\":[\"h200-141gb\",\"a100-80gb\"],\"relativeThroughput\":"
        "{\"a100-80gb\":0.5,\"h200-141gb\":1.6,\"h100-80gb\":1}},\"code\":{\"image\":\"t:1\"}}}",
    };
    static const char *const snap_skus[] = {"l4", "v100-32gb", "h100-80gb", "a100-80gb", "t4"};
    struct store_config sc = {0};
    struct store *s = NULL;
    struct store_sched_jobs jobs = {0};
    struct snapshot *snap = NULL;
    struct policy_job q;
    struct err e = {0};
    char dsn[1024];

    itest_create_db(dsn, sizeof(dsn));
    defaults_store(&sc, dsn, 2);
    ck_assert_int_eq(store_open(&sc, &s, &e), 0);
    ck_assert_msg(store_migrate(s, NULL, &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct job *j = NULL, *saved = NULL;
        bool created = false;

        ck_assert_msg(trainingjob_parse(bodies[i], strlen(bodies[i]), "ns", NULL, &j, &e) == 0,
                      "%s: %s", e.field, e.msg);
        ck_assert_msg(store_job_insert(s, j, NULL, NULL, &created, &saved, &e) == 0, "%s", e.msg);
        ck_assert(created);
        job_free(&saved);
        job_free(&j);
    }
    /* Written past the API: a map without a figure for t4 and a NaN for a10 (the string
     * casts to float8 in PostgreSQL): both come back 0, the others in place. */
    free(itest_sql(dsn, "INSERT INTO jobs (namespace, name, api_version, spec, labels, sku,"
                        " gpu_count, gpus_per_worker) VALUES ('ns', 'partial', 'fedsched.io/v1',"
                        " '{\"resources\": {\"instanceType\": \"l4\", \"alternativeInstanceTypes\":"
                        " [\"t4\", \"a10\", \"v100-32gb\"], \"relativeThroughput\": {\"l4\": 2,"
                        " \"a10\": \"NaN\", \"v100-32gb\": 0.5}}, \"code\": {\"image\": \"t:1\"}}',"
                        " '{}', 'l4', 1, 1)"));
    ck_assert_int_eq(store_sched_load(s, &jobs, &e), 0);
    ck_assert_uint_eq(jobs.n, 5);
    ck_assert_uint_eq(live_job(&jobs, "mixed")->n_throughput, 4);
    ck_assert_uint_eq(live_job(&jobs, "plain")->n_throughput, 0);
    ck_assert_uint_eq(live_job(&jobs, "single")->n_throughput, 1);
    ck_assert_uint_eq(live_job(&jobs, "partial")->n_throughput, 4);
    ck_assert_int_eq(snapshot_new(0, 0, 5, &snap, &e), 0);
    for (size_t k = 0; k < 5; k++)
        snprintf(snap->sku_names[k], sizeof(snap->sku_names[k]), "%s", snap_skus[k]);

    memset(&q, 0, sizeof(q));
    sched_policy_job(snap, live_job(&jobs, "mixed"), &q);
    ck_assert_int_eq(q.sku, 3);
    ck_assert_uint_eq(q.n_alt_skus, 3);
    ck_assert_int_eq(q.alt_skus[0], 2);
    ck_assert_int_eq(q.alt_skus[1], 1);
    ck_assert_int_eq(q.alt_skus[2], 0);
    ck_assert_double_eq(q.throughput[0], 1);    /* a100-80gb */
    ck_assert_double_eq(q.throughput[1], 2.5);  /* h100-80gb */
    ck_assert_double_eq(q.throughput[2], 0.4);  /* v100-32gb */
    ck_assert_double_eq(q.throughput[3], 0.25); /* l4 */

    memset(&q, 0, sizeof(q));
    sched_policy_job(snap, live_job(&jobs, "plain"), &q);
    ck_assert_int_eq(q.sku, 0);
    ck_assert_uint_eq(q.n_alt_skus, 1);
    ck_assert_int_eq(q.alt_skus[0], 4);
    ck_assert_ptr_null(q.throughput);

    memset(&q, 0, sizeof(q));
    sched_policy_job(snap, live_job(&jobs, "single"), &q);
    ck_assert_uint_eq(q.n_alt_skus, 0);
    ck_assert_ptr_nonnull(q.throughput);
    ck_assert_double_eq(q.throughput[0], 3);

    memset(&q, 0, sizeof(q));
    sched_policy_job(snap, live_job(&jobs, "unknown"), &q);
    ck_assert_int_eq(q.sku, 2);
    ck_assert_uint_eq(q.n_alt_skus, 2);
    ck_assert_int_eq(q.alt_skus[0], -1); /* h200-141gb: not in this snapshot */
    ck_assert_int_eq(q.alt_skus[1], 3);
    ck_assert_double_eq(q.throughput[0], 1);
    ck_assert_double_eq(q.throughput[1], 1.6);
    ck_assert_double_eq(q.throughput[2], 0.5);

    memset(&q, 0, sizeof(q));
    sched_policy_job(snap, live_job(&jobs, "partial"), &q);
    ck_assert_uint_eq(q.n_alt_skus, 3);
    ck_assert_int_eq(q.alt_skus[1], -1); /* a10: not in this snapshot */
    ck_assert_double_eq(q.throughput[0], 2);
    ck_assert_double_eq(q.throughput[1], 0); /* t4: no figure */
    ck_assert_double_eq(q.throughput[2], 0); /* a10: NaN */
    ck_assert_double_eq(q.throughput[3], 0.5);

    snapshot_free(&snap);
    store_sched_jobs_free(&jobs);
    store_close(&s);
}
END_TEST

/* The fence keeps the database right by itself; what the deposed flag adds is that the
 * cycle which first meets the superseded epoch stops there, creating and deleting nothing
 * more in member clusters, and gives up the lock. Here the fence moves under a running
 * leader (as when the database took its session for dead and another replica won), in the
 * same transaction as the new leader's work: an Admitted job not yet dispatched, and a Lost
 * one whose requeue is the old leader's first write of its next cycle. That write fails, so
 * the cycle must not go on to dispatch the Admitted job. Leases renew only every 4 s, so
 * the old leader cannot learn of the takeover any other way first; the test then takes the
 * lock itself (the old leader retries only after 2 s) so that nobody dispatches. */
#define DEPOSED_BASE                                                                               \
    "\"poller\": {\"intervalMs\": 200, \"sampleIntervalS\": 5, \"registrySyncS\": 1},"             \
    "\"scheduler\": {\"cycleIntervalMs\": 200, \"gcIntervalS\": 1, \"missingGraceS\": 3,"          \
    "\"dispatchBackoffBaseS\": 1, \"dispatchBackoffMaxS\": 2, \"leaderRetryMs\": 2000,"            \
    "\"leaderRenewMs\": 4000}"
#define DEPOSED_SPEC                                                                               \
    "'{\"framework\": \"pytorch\", \"resources\": {\"instanceType\": \"a100-80gb\","               \
    " \"gpuCount\": 8}, \"code\": {\"image\": \"trainer:1\", \"command\": [\"python\","            \
    " \"train.py\"]}, \"scheduling\": {}}'"

START_TEST(deposed_leader_stops_creating)
{
    struct store_leader *usurper = NULL;
    struct err e = {0};
    bool acquired = false;
    int64_t epoch = 0, t0;
    size_t objects = 0;
    json_t *l = NULL;

    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env, DEPOSED_BASE, "", NULL);
    senv_serve(&env, 0, NULL);
    t0 = clock_mono_ms();
    for (;;) {
        ck_assert_int_eq(itest_get_json(env.srv[0].base, "/v1/leader", &l), 200);
        if (json_is_true(json_object_get(l, "active")))
            break;
        json_decref(l);
        l = NULL;
        ck_assert_msg(clock_mono_ms() - t0 < 10000, "no leader within 10 s");
        usleep(50 * 1000);
    }
    json_decref(l);
    usleep(500 * 1000); /* past the first cycles of the term */
    free(itest_sql(env.dsn,
                   "BEGIN;"
                   " UPDATE leader SET epoch = epoch + 1, holder = 'usurper' WHERE id = 1;"
                   " INSERT INTO jobs (namespace, name, api_version, spec, sku, gpu_count,"
                   " gpus_per_worker, phase, cluster, pool, sku_placed, node_plan, queued_at,"
                   " admitted_at) VALUES ('team-x', 'admitted', 'fedsched.io/v1', " DEPOSED_SPEC
                   ", 'a100-80gb', 8, 8, 'Admitted', 'east', 'training', 'a100-80gb',"
                   " '[[\"a100-0\", 8]]', now(), now()),"
                   " ('team-x', 'lost', 'fedsched.io/v1', " DEPOSED_SPEC
                   ", 'a100-80gb', 8, 8, 'Lost', 'west', 'training', 'a100-80gb',"
                   " '[[\"a100-0\", 8]]', now(), now());"
                   " NOTIFY fedsched_jobs;"
                   " COMMIT"));
    ck_assert_int_eq(store_leader_open(env.dsn, "usurper", &usurper, &e), 0);
    t0 = clock_mono_ms();
    while (!acquired) {
        ck_assert_int_eq(store_leader_try(usurper, &acquired, &epoch, &e), 0);
        ck_assert_msg(acquired || clock_mono_ms() - t0 < 10000, "the old leader kept the lock");
        if (!acquired)
            usleep(10 * 1000);
    }
    usleep(300 * 1000);
    for (size_t i = 0; i < sim_cluster_count(env.sim); i++)
        objects += senv_sim_objects(&env, sim_cluster_name_at(env.sim, i), false, NULL, NULL);
    ck_assert_msg(objects == 0, "the deposed leader created %zu objects", objects);
    /* And the fence held: neither job moved. */
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM jobs WHERE (name, phase) IN"
                                         " (('admitted', 'Admitted'), ('lost', 'Lost'))"),
                     2);
    store_leader_close(&usurper);
}
END_TEST

/* Sets the same create-only fault on every cluster of the three-cluster scenario: status,
 * with Retry-After retry_after_s when > 0, for the next POST each cluster gets. */
static void fault_next_create(int status, int retry_after_s)
{
    struct sim_faults f;
    struct err e = {0};

    memset(&f, 0, sizeof(f));
    f.status = status;
    f.retry_after_s = retry_after_s;
    f.remaining = 1;
    snprintf(f.method, sizeof(f.method), "POST");
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(sim_set_faults(env.sim, sim_cluster_name_at(env.sim, i), &f, &e), 0);
}

/* Milliseconds from the job's Admitted event to its Dispatched event. */
static long admitted_to_dispatched_ms(const char *name)
{
    char *q = xasprintf("SELECT (extract(epoch FROM d.ts - a.ts) * 1000)::bigint FROM jobs j"
                        " JOIN job_events a ON a.job_id = j.id AND a.to_phase = 'Admitted'"
                        " JOIN job_events d ON d.job_id = j.id AND d.to_phase = 'Dispatched'"
                        " WHERE j.name = '%s'",
                        name);
    long ms = senv_sql_long(&env, q);

    free(q);
    return ms;
}

/* A create refused with 429 and Retry-After, or with a 503 with or without one, does not
 * burn an attempt or a name: the job stays Admitted at attempt 0 (one Admitted event, no
 * requeue, no dispatch failure counted), its object is created as fj-<uid>-0, and the create
 * is retried no earlier than the Retry-After (4 s and 3 s, well over the back-off) or the
 * back-off (dispatchBackoffBaseS 1 s). A 429 also calms the whole cluster for its
 * Retry-After; a 503's Retry-After is kept by the job's own wait alone.
 * Without a refusal the object is created in the cycle that admits the job. */
START_TEST(create_refusals_keep_the_name)
{
    static const struct {
        const char *name;
        int status, retry_after_s;
        long min_ms;
    } cases[] = {{"bo503", 503, 0, 800}, {"ra429", 429, 4, 3700}, {"ra503", 503, 3, 2700}};
    char *q;

    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env, FAST_BASE "}", "", NULL);
    senv_serve(&env, 0, NULL);
    wait_prereqs_checked(&env);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fault_next_create(cases[i].status, cases[i].retry_after_s);
        free(senv_submit(env.srv[0].base, "team-d", cases[i].name, "h100-80gb", 8, NULL, ""));
        json_decref(senv_wait_phase(env.srv[0].base, "team-d", cases[i].name, "Running", 30000));
        fault_next_create(0, 0); /* clear the clusters the job did not go to */
        q = xasprintf("SELECT count(*) FROM jobs WHERE name = '%s' AND attempt = 0 AND"
                      " dispatch_failures = 0",
                      cases[i].name);
        ck_assert_int_eq(senv_sql_long(&env, q), 1);
        free(q);
        ck_assert_int_eq(senv_events(&env, "team-d", cases[i].name, "Admitted"), 1);
        ck_assert_int_eq(senv_events(&env, "team-d", cases[i].name, "Dispatched"), 1);
        q = xasprintf("SELECT count(*) FROM job_events v JOIN jobs j ON j.id = v.job_id WHERE"
                      " j.name = '%s' AND v.to_phase = 'Dispatched' AND v.message LIKE"
                      " '%%/fj-' || j.uid || '-0 in %%'",
                      cases[i].name);
        ck_assert_int_eq(senv_sql_long(&env, q), 1);
        free(q);
        ck_assert_int_ge(admitted_to_dispatched_ms(cases[i].name), cases[i].min_ms);
    }
    /* The same path without a refusal is fast, so the waits above are the refusals'. */
    free(senv_submit(env.srv[0].base, "team-d", "plain", "h100-80gb", 8, NULL, ""));
    json_decref(senv_wait_phase(env.srv[0].base, "team-d", "plain", "Running", 30000));
    ck_assert_int_lt(admitted_to_dispatched_ms("plain"), 800);
}
END_TEST

/* A 429 with Retry-After on the tracking list is honoured: the scheduler calls the cluster
 * no more until the Retry-After (3 s) has passed (it listed it every 200 ms before), then
 * tracks it again, and the running job is untouched. The poller is slow here, so the
 * requests counted are the scheduler's. */
START_TEST(tracking_honours_retry_after)
{
    struct sim_faults f;
    struct err e = {0};
    uint64_t before, during;

    senv_sim(&env, "testdata/sim/sched-solo.json");
    senv_config(&env,
                SLOW_POLL "\"scheduler\": {\"cycleIntervalMs\": 200, \"gcIntervalS\": 1,"
                          " \"missingGraceS\": 30, \"jobAnnotations\":"
                          " {\"sim.fedsched.io/duration-seconds\": \"3600000\"}}",
                "", NULL);
    senv_serve(&env, 0, NULL);
    free(senv_submit(env.srv[0].base, "team-t", "run", "a100-80gb", 8, NULL, ""));
    json_decref(senv_wait_phase(env.srv[0].base, "team-t", "run", "Running", 20000));
    memset(&f, 0, sizeof(f));
    f.status = 429;
    f.retry_after_s = 3;
    f.remaining = 1;
    snprintf(f.method, sizeof(f.method), "GET");
    ck_assert_int_eq(sim_set_faults(env.sim, "solo", &f, &e), 0);
    before = sim_requests(env.sim, "solo");
    for (int i = 0; sim_requests(env.sim, "solo") == before; i++) {
        ck_assert_msg(i < 50, "no request reached the cluster in 5 s");
        usleep(100 * 1000);
    }
    before = sim_requests(env.sim, "solo"); /* the refused list */
    usleep(2500 * 1000);
    during = sim_requests(env.sim, "solo") - before;
    ck_assert_msg(during == 0, "%llu requests within the 3 s Retry-After",
                  (unsigned long long)during);
    usleep(1500 * 1000);
    ck_assert_uint_gt(sim_requests(env.sim, "solo") - before, 0);
    json_decref(senv_wait_phase(env.srv[0].base, "team-t", "run", "Running", 1000));
}
END_TEST

/* GET path in a simulated cluster; the parsed body when the answer is 200, else NULL. */
static json_t *sim_get(const char *cluster, const char *path, const char *label_selector)
{
    struct sim_query q;
    struct sim_reply r;
    json_t *out = NULL;

    memset(&q, 0, sizeof(q));
    q.label_selector = label_selector;
    sim_cluster_handle(sim_get_cluster(env.sim, cluster), "GET", path, &q, NULL, 0, &r);
    if (r.status == 200)
        out = json_loadb(r.body, r.len, 0, NULL);
    free(r.body);
    return out;
}

/* Standard base64 (RFC 4648) into out; the decoded length, or -1 on a bad character. */
static long b64_decode(const char *in, char *out, size_t size)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned acc = 0;
    int bits = 0;
    size_t n = 0;

    for (; *in && *in != '='; in++) {
        const char *p = strchr(tab, *in);

        if (!p || n + 1 >= size)
            return -1;
        acc = (acc << 6) | (unsigned)(p - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[n] = '\0';
    return (long)n;
}

static const char *env_value(const json_t *container, const char *name)
{
    size_t i;
    const json_t *ev;

    json_array_foreach(json_object_get(container, "env"), i, ev)
    {
        if (strcmp(json_string_value(json_object_get(ev, "name")), name) == 0)
            return json_string_value(json_object_get(ev, "value"));
    }
    return NULL;
}

/* A 4-worker PyTorch job: fedsched creates the tenant's member namespace (fedsched-<ns>),
 * the Job in it, the workers' headless Service selecting exactly the job's 4 pods, and the
 * Secret with the job's checkpoint token, the last two owned by the Job. Each pod finds
 * worker 0 through the Service's DNS name. The token in the Secret checks for this job
 * under the installation's key, and not for another. Cancelling deletes the Job, and the
 * owner references take the Service and the Secret with it. */
START_TEST(dispatch_makes_namespace_service_and_secret)
{
    json_t *j, *o, *pods;
    const json_t *sel, *it;
    char *uid, name[MANIFEST_NAME_MAX], path[320], selector[256] = "", token[256], other[64];
    char master[256], job_uid[64];
    const char *cluster;
    struct store_config sc;
    struct store *st = NULL;
    unsigned char key[32];
    struct err e = {0};
    const char *k;
    const json_t *v;
    size_t i, n;

    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env,
                FAST_BASE ", \"jobAnnotations\": {\"sim.fedsched.io/duration-seconds\": "
                          "\"1000000\"}}",
                "", NULL);
    senv_serve(&env, 0, NULL);
    uid = senv_submit(env.srv[0].base, "team-n", "dist", "v100-32gb", 32, NULL, "");
    j = senv_wait_phase(env.srv[0].base, "team-n", "dist", "Running", 20000);
    cluster = json_string_value(json_object_get(json_object_get(j, "status"), "cluster"));
    ck_assert_ptr_nonnull(cluster);
    manifest_object_name(uid, 0, name, sizeof(name));
    /* Recorded with the job at dispatch, for logs-url and the dashboard. */
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(j, "status"), "memberNamespace")),
        "fedsched-team-n");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "status"), "objectName")),
                     name);

    o = sim_get(cluster, "/api/v1/namespaces/fedsched-team-n", NULL);
    ck_assert_msg(o != NULL, "namespace fedsched-team-n was not created");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(json_object_get(o, "metadata"), "labels"),
                                          "app.kubernetes.io/managed-by")),
        "fedsched");
    json_decref(o);

    snprintf(path, sizeof(path), "/apis/batch/v1/namespaces/fedsched-team-n/jobs/%s", name);
    o = sim_get(cluster, path, NULL);
    ck_assert_ptr_nonnull(o);
    snprintf(job_uid, sizeof(job_uid), "%s",
             json_string_value(json_object_get(json_object_get(o, "metadata"), "uid")));
    json_decref(o);

    snprintf(path, sizeof(path), "/api/v1/namespaces/fedsched-team-n/services/%s", name);
    o = sim_get(cluster, path, NULL);
    ck_assert_msg(o != NULL, "no Service %s", name);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "spec"), "clusterIP")),
                     "None");
    it = json_array_get(json_object_get(json_object_get(o, "metadata"), "ownerReferences"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(it, "kind")), "Job");
    ck_assert_str_eq(json_string_value(json_object_get(it, "uid")), job_uid);
    sel = json_object_get(json_object_get(o, "spec"), "selector");
    ck_assert_int_ge(json_object_size(sel), 1);
    json_object_foreach((json_t *)sel, k, v)
    {
        size_t len = strlen(selector);

        snprintf(selector + len, sizeof(selector) - len, "%s%s=%s", len ? "," : "", k,
                 json_string_value(v));
    }
    json_decref(o);

    /* The Service's selector picks exactly the job's pods: the same 4 as its uid label. */
    pods = sim_get(cluster, "/api/v1/pods", selector);
    ck_assert_int_eq(json_array_size(json_object_get(pods, "items")), 4);
    ck_assert_int_eq(sim_job_pods(cluster, uid), 4);
    snprintf(master, sizeof(master), "%s-0.%s.fedsched-team-n.svc", name, name);
    json_array_foreach(json_object_get(pods, "items"), i, it)
    {
        const json_t *ps = json_object_get(it, "spec");
        const json_t *c0 = json_array_get(json_object_get(ps, "containers"), 0);

        ck_assert_str_eq(
            json_string_value(json_object_get(
                json_object_get(json_object_get(it, "metadata"), "labels"), K8S_LABEL_JOB_UID)),
            uid);
        ck_assert_str_eq(json_string_value(json_object_get(ps, "subdomain")), name);
        ck_assert_str_eq(env_value(c0, "MASTER_ADDR"), master);
        ck_assert_str_eq(env_value(c0, "WORLD_SIZE"), "4");
    }
    json_decref(pods);

    snprintf(path, sizeof(path), "/api/v1/namespaces/fedsched-team-n/secrets/%s-ckpt", name);
    o = sim_get(cluster, path, NULL);
    ck_assert_msg(o != NULL, "no Secret %s-ckpt", name);
    it = json_array_get(json_object_get(json_object_get(o, "metadata"), "ownerReferences"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(it, "uid")), job_uid);
    ck_assert_int_gt(
        b64_decode(json_string_value(json_object_get(json_object_get(o, "data"), "token")), token,
                   sizeof(token)),
        0);
    json_decref(o);
    defaults_store(&sc, env.dsn, 1);
    ck_assert_msg(store_open(&sc, &st, &e) == 0, "%s", e.msg);
    ck_assert_msg(store_job_token_key(st, key, &e) == 0, "%s", e.msg);
    store_close(&st);
    ck_assert(job_token_check(key, token, uid));
    snprintf(other, sizeof(other), "%.35s%c", uid, uid[35] == '0' ? '1' : '0');
    ck_assert(!job_token_check(key, token, other));

    ck_assert_int_eq(http_delete(env.srv[0].base, "team-n", "dist"), 202);
    json_decref(senv_wait_phase(env.srv[0].base, "team-n", "dist", "Cancelled", 20000));
    for (n = 0;; n++) {
        json_t *svc, *sec;

        snprintf(path, sizeof(path), "/api/v1/namespaces/fedsched-team-n/services/%s", name);
        svc = sim_get(cluster, path, NULL);
        snprintf(path, sizeof(path), "/api/v1/namespaces/fedsched-team-n/secrets/%s-ckpt", name);
        sec = sim_get(cluster, path, NULL);
        json_decref(svc);
        json_decref(sec);
        if (!svc && !sec)
            break;
        ck_assert_msg(n < 100, "the Service or Secret outlived its cancelled Job");
        usleep(100 * 1000);
    }
    json_decref(j);
    free(uid);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sched");
    TCase *tc = tcase_create("sched");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, jobs_run_to_succeeded);
    tcase_add_test(tc, ray_job_runs);
    tcase_add_test(tc, ray_stopped_is_cancelled);
    tcase_add_test(tc, failed_job_reports_member_reason);
    tcase_add_test(tc, cancel_queued_dispatched_running);
    tcase_add_test(tc, stuck_dispatch_is_requeued);
    tcase_add_test(tc, timed_out_start_goes_to_another_cluster);
    tcase_add_test(tc, timed_out_starts_are_all_remembered);
    tcase_add_test(tc, checkpoints_are_recorded);
    tcase_add_test(tc, dispatch_faults_are_retried);
    tcase_add_test(tc, orphans_are_collected);
    tcase_add_test(tc, foreign_origins_survive_gc);
    tcase_add_test(tc, standby_takes_over);
    tcase_add_test(tc, finished_jobs_survive_their_ttl);
    tcase_add_test(tc, wide_job_keeps_every_alternative_and_node);
    tcase_add_test(tc, declared_throughput_reaches_the_placement);
    tcase_add_test(tc, deposed_leader_stops_creating);
    tcase_add_test(tc, create_refusals_keep_the_name);
    tcase_add_test(tc, dispatch_makes_namespace_service_and_secret);
    tcase_add_test(tc, tracking_honours_retry_after);
    suite_add_tcase(s, tc);
    tc = tcase_create("fence");
    tcase_add_test(tc, deposed_epoch_cannot_write);
    tcase_add_test(tc, checkpoint_request_is_written_once);
    tcase_add_test(tc, live_jobs_are_typed_and_specs_parsed_once);
    tcase_add_test(tc, unsaved_job_loads_as_if_stored);
    tcase_add_test(tc, throughput_reaches_the_policy_job);
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
