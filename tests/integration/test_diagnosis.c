/* test_diagnosis.c -- what the scheduler learns about a placed job's pods reaches the job's
 * status and history: store_job_note() against a real PostgreSQL (fenced by the leader
 * epoch, bound to the attempt, one event per change of words), and end to end through
 * `fedsched serve` and kubesim (issue 13, acceptance 7): an OOM kill and an exit code in a
 * PodFailed event and the Failed message, ImagePullBackOff as a Diagnosis then a failure
 * after scheduler.imagePullTimeoutS, a Job the member cluster suspends reported and
 * requeued. Not responsible for reading pod statuses one by one (tests/unit/test_pod_status.c). */
#include "tests/integration/test_sched_env.h"

#include "base/err.h"
#include "store/election.h"
#include "store/live_jobs.h"
#include "store/store.h"
#include "tests/support/defaults.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEC                                                                                       \
    "'{\"framework\": \"pytorch\", \"resources\": {\"instanceType\": \"a100-80gb\","               \
    " \"gpuCount\": 8}, \"code\": {\"image\": \"trainer:1\", \"command\": [\"python\","            \
    " \"train.py\"]}, \"scheduling\": {}}'"

static char dsn[1024];

static long sql_long(const char *sql)
{
    char *v = itest_sql(dsn, sql);
    long n = v ? strtol(v, NULL, 10) : -1;

    free(v);
    return n;
}

/* A fresh database with one Dispatched job (attempt 2) and a leader at *epoch. */
static struct store *open_with_job(struct store_leader **l, int64_t *epoch, int64_t *id)
{
    struct store_config sc = {0};
    struct store *s = NULL;
    bool acquired = false;
    struct err e = {0};

    itest_create_db(dsn, sizeof(dsn));
    defaults_store(&sc, dsn, 2);
    ck_assert_int_eq(store_open(&sc, &s, &e), 0);
    ck_assert_msg(store_migrate(s, NULL, &e) == 0, "%s", e.msg);
    free(itest_sql(dsn,
                   "INSERT INTO jobs (namespace, name, api_version, spec, sku, gpu_count,"
                   " gpus_per_worker, phase, cluster, pool, sku_placed, attempt,"
                   " admitted_at, dispatched_at) VALUES ('team-a', 'oom', 'fedsched.io/v1', " SPEC
                   ", 'a100-80gb', 8, 8, 'Dispatched', 'east', 'training', 'a100-80gb', 2,"
                   " now(), now())"));
    *id = sql_long("SELECT id FROM jobs WHERE name = 'oom'");
    ck_assert_int_gt(*id, 0);
    ck_assert_int_eq(store_leader_open(dsn, "tester", l, &e), 0);
    ck_assert_int_eq(store_leader_try(*l, &acquired, epoch, &e), 0);
    ck_assert(acquired);
    return s;
}

START_TEST(a_note_sets_the_status_and_adds_one_event)
{
    struct store_leader *l = NULL;
    int64_t epoch = 0, id = 0;
    struct store *s = open_with_job(&l, &epoch, &id);
    struct store_note n = {id, 2, "Diagnosis", "ImagePullBackOff",
                           "pods not all running in east: pod p0 container trainer: "
                           "ImagePullBackOff: Back-off pulling image \"x\""};
    bool noted = false;
    char *v;
    struct err e = {0};

    ck_assert_int_eq(store_job_note(s, epoch, &n, &noted, &e), 0);
    ck_assert(noted);
    v = itest_sql(dsn, "SELECT phase || '|' || reason || '|' || message FROM jobs"
                       " WHERE name = 'oom'");
    ck_assert_str_eq(v, "Dispatched|ImagePullBackOff|pods not all running in east: pod p0"
                        " container trainer: ImagePullBackOff: Back-off pulling image \"x\"");
    free(v);
    v = itest_sql(dsn, "SELECT type || '|' || reason || '|' || from_phase || '|' || to_phase"
                       " FROM job_events WHERE type = 'Diagnosis'");
    ck_assert_str_eq(v, "Diagnosis|ImagePullBackOff|Dispatched|Dispatched");
    free(v);
    /* The same words again (the next minute's look): no second event. */
    ck_assert_int_eq(store_job_note(s, epoch, &n, &noted, &e), 0);
    ck_assert(!noted);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM job_events WHERE type = 'Diagnosis'"), 1);
    /* Other words: a second one. */
    n.type = "PodFailed";
    n.reason = "OOMKilled";
    n.message = "pod p0 container trainer: OOMKilled (exit code 137)";
    ck_assert_int_eq(store_job_note(s, epoch, &n, &noted, &e), 0);
    ck_assert(noted);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM job_events WHERE type IN ('Diagnosis',"
                              " 'PodFailed')"),
                     2);
    store_leader_close(&l);
    store_close(&s);
}
END_TEST

START_TEST(a_note_needs_the_attempt_the_phase_and_the_epoch)
{
    struct store_leader *l = NULL;
    int64_t epoch = 0, id = 0;
    struct store *s = open_with_job(&l, &epoch, &id);
    struct store_note n = {id, 1, "Suspended", "Suspended", "suspended in east"};
    bool noted = true;
    struct err e = {0};

    /* An older attempt's pods say nothing about this one. */
    ck_assert_int_eq(store_job_note(s, epoch, &n, &noted, &e), 0);
    ck_assert(!noted);
    /* A superseded leader writes nothing. */
    n.attempt = 2;
    ck_assert_int_eq(store_job_note(s, epoch + 1, &n, &noted, &e), -1);
    ck_assert_int_eq(e.code, ERR_CONFLICT);
    ck_assert_str_eq(e.field, "leader.epoch");
    /* A finished job keeps its final status. */
    free(itest_sql(dsn, "UPDATE jobs SET phase = 'Failed', reason = 'BackoffLimitExceeded'"));
    noted = true;
    ck_assert_int_eq(store_job_note(s, epoch, &n, &noted, &e), 0);
    ck_assert(!noted);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM job_events"), 0);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM jobs WHERE reason = 'BackoffLimitExceeded'"),
                     1);
    /* A note without words is refused, naming the field. */
    n.message = NULL;
    ck_assert_int_eq(store_job_note(s, epoch, &n, &noted, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_str_eq(e.field, "note");
    store_leader_close(&l);
    store_close(&s);
}
END_TEST

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

/* A string member of the job's status ("" when absent). */
static const char *status_str(json_t *job, const char *key)
{
    const char *v = json_string_value(json_object_get(json_object_get(job, "status"), key));

    return v ? v : "";
}

/* reason|message of the job's only event of type (NULL when none). Caller frees. */
static char *event_of(const char *name, const char *type)
{
    char sql[512];

    ck_assert_int_eq(senv_events(&env, "team-d", name, type), 1);
    snprintf(sql, sizeof(sql),
             "SELECT e.reason || '|' || e.message FROM job_events e JOIN jobs j ON j.id ="
             " e.job_id WHERE j.name = '%s' AND e.type = '%s'",
             name, type);
    return itest_sql(env.dsn, sql);
}

/* The pods of job uid in cluster (a list, caller json_decref()s). */
static json_t *job_pods(const char *cluster, const char *uid)
{
    struct sim_query q;
    struct sim_reply r;
    char sel[128];
    json_t *list;

    snprintf(sel, sizeof(sel), "fedsched.io/job-uid=%s", uid);
    memset(&q, 0, sizeof(q));
    q.label_selector = sel;
    sim_cluster_handle(sim_get_cluster(env.sim, cluster), "GET", "/api/v1/pods", &q, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    list = json_loadb(r.body, r.len, 0, NULL);
    free(r.body);
    ck_assert_ptr_nonnull(list);
    return list;
}

/* The name of the job's one pod in phase (caller frees). */
static char *pod_in_phase(const char *cluster, const char *uid, const char *phase)
{
    json_t *list = job_pods(cluster, uid), *it;
    char *name = NULL;
    size_t i;

    json_array_foreach(json_object_get(list, "items"), i, it)
    {
        const char *ph = json_string_value(json_object_get(json_object_get(it, "status"), "phase"));

        if (ph && strcmp(ph, phase) == 0) {
            ck_assert_msg(!name, "more than one %s pod", phase);
            name = xstrdup(
                json_string_value(json_object_get(json_object_get(it, "metadata"), "name")));
        }
    }
    json_decref(list);
    ck_assert_msg(name, "no %s pod of %s in %s", phase, uid, cluster);
    return name;
}

/* A 2-worker job whose last worker's container ends as outcome says: the job fails with
 * the Job's reason, and the pod, its container, the kubelet's reason and the exit code
 * reach a PodFailed event (logged before the Failed one) and the end of the message. */
static void expect_pod_failure(const char *outcome, const char *reason, int exit_code)
{
    char *base = xasprintf(FAST_BASE ", \"finishedTtlSeconds\": 36000, \"jobAnnotations\":"
                                     " {\"sim.fedsched.io/outcome\": \"%s\"}}",
                           outcome);
    char *uid, *pod, *line, *want_event, *ev;
    const char *msg;
    json_t *j;

    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env, base, "", NULL);
    senv_serve(&env, 0, NULL);
    uid = senv_submit(senv_base(&env), "team-d", "dies", "a100-80gb", 16, NULL, "");
    j = senv_wait_phase(senv_base(&env), "team-d", "dies", "Failed", 20000);
    pod = pod_in_phase(status_str(j, "cluster"), uid, "Failed");
    ck_assert_ptr_nonnull(strstr(pod, "-1-")); /* the highest completion index */
    line = xasprintf("pod %s container trainer: %s (exit code %d)", pod, reason, exit_code);
    ck_assert_str_eq(status_str(j, "reason"), "BackoffLimitExceeded");
    msg = status_str(j, "message");
    ck_assert_msg(strlen(msg) > strlen(line) && strcmp(msg + strlen(msg) - strlen(line), line) == 0,
                  "message '%s' does not end with '%s'", msg, line);
    want_event = xasprintf("%s|%s", reason, line);
    ev = event_of("dies", "PodFailed");
    ck_assert_str_eq(ev, want_event);
    ck_assert_int_eq(senv_events(&env, "team-d", "dies", "Failed"), 1);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM job_events a, job_events b WHERE"
                                         " a.type = 'PodFailed' AND b.type = 'Failed' AND a.id <"
                                         " b.id"),
                     1);
    free(ev);
    free(want_event);
    free(line);
    free(pod);
    free(uid);
    json_decref(j);
    free(base);
}

START_TEST(oom_kill_reaches_the_events)
{
    expect_pod_failure("OOMKilled", "OOMKilled", 137);
}
END_TEST

START_TEST(exit_code_reaches_the_events)
{
    expect_pod_failure("Error:3", "Error", 3);
}
END_TEST

/* Pods that cannot pull their image: while Dispatched the job's status and one Diagnosis
 * event say so, naming the pod, the container and the image; after imagePullTimeoutS the
 * job fails with reason ImagePullBackOff and its object is deleted. */
START_TEST(image_pull_back_off_is_diagnosed_then_fails)
{
    char *uid, *pod, *line, *want, *ev;
    json_t *j = NULL;
    const char *cluster;
    char cl[64];

    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env,
                FAST_BASE ", \"imagePullTimeoutS\": 2, \"jobAnnotations\":"
                          " {\"sim.fedsched.io/outcome\": \"ImagePullBackOff\"}}",
                "", NULL);
    senv_serve(&env, 0, NULL);
    uid = senv_submit(senv_base(&env), "team-d", "pull", "a100-80gb", 8, NULL, "");
    for (int i = 0; senv_events(&env, "team-d", "pull", "Diagnosis") == 0; i++) {
        ck_assert_msg(i < 100, "no Diagnosis within 5 s");
        usleep(50 * 1000);
    }
    j = senv_get(senv_base(&env), "team-d", "pull");
    cluster = status_str(j, "cluster");
    snprintf(cl, sizeof(cl), "%s", cluster);
    pod = pod_in_phase(cl, uid, "Pending");
    line = xasprintf("pod %s container trainer: ImagePullBackOff: Back-off pulling image"
                     " \"trainer:1\"",
                     pod);
    want = xasprintf("pods not all running in %s: %s", cl, line);
    ev = event_of("pull", "Diagnosis");
    ck_assert_str_eq(senv_phase(j), "Dispatched");
    ck_assert_str_eq(status_str(j, "reason"), "ImagePullBackOff");
    ck_assert_str_eq(status_str(j, "message"), want);
    ck_assert_str_eq(strchr(ev, '|') + 1, want);
    ck_assert_int_eq(strncmp(ev, "ImagePullBackOff|", 17), 0);
    json_decref(j);
    free(ev);
    free(want);
    j = senv_wait_phase(senv_base(&env), "team-d", "pull", "Failed", 10000);
    want = xasprintf("image not pulled in %s within 2 s: %s; deleted", cl, line);
    ck_assert_str_eq(status_str(j, "reason"), "ImagePullBackOff");
    ck_assert_str_eq(status_str(j, "message"), want);
    /* The same words every pass made one event; the timeout was waited out. */
    ck_assert_int_eq(senv_events(&env, "team-d", "pull", "Diagnosis"), 1);
    ck_assert_int_ge(senv_sql_long(&env, "SELECT extract(epoch FROM max(e.ts) - min(e.ts)) * 1000"
                                         " FROM job_events e WHERE e.type IN ('Diagnosis',"
                                         " 'Failed')"),
                     1900);
    for (int i = 0; senv_sim_objects(&env, cl, false, "fedsched.io/job-uid", uid) > 0; i++) {
        ck_assert_msg(i < 100, "the object of a job that could not pull was not deleted");
        usleep(50 * 1000);
    }
    json_decref(j);
    free(want);
    free(line);
    free(pod);
    free(uid);
}
END_TEST

/* What a member cluster's own queueing (Kueue's admission webhook) does to a Job: the
 * object is replaced by the same one with spec.suspend true. Done in-process between two
 * of fedsched's requests. */
static void member_suspends(const char *cluster, const char *uid)
{
    struct sim_cluster *sc = sim_get_cluster(env.sim, cluster);
    struct sim_query q;
    struct sim_reply r;
    char sel[128], path[512];
    json_t *list, *job, *meta;
    char *body;

    snprintf(sel, sizeof(sel), "fedsched.io/job-uid=%s", uid);
    memset(&q, 0, sizeof(q));
    q.label_selector = sel;
    sim_cluster_handle(sc, "GET", "/apis/batch/v1/jobs", &q, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    list = json_loadb(r.body, r.len, 0, NULL);
    free(r.body);
    ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 1);
    job = json_deep_copy(json_array_get(json_object_get(list, "items"), 0));
    json_decref(list);
    meta = json_object_get(job, "metadata");
    snprintf(path, sizeof(path), "/apis/batch/v1/namespaces/%s/jobs/%s",
             json_string_value(json_object_get(meta, "namespace")),
             json_string_value(json_object_get(meta, "name")));
    memset(&q, 0, sizeof(q));
    q.propagation_policy = "Background";
    sim_cluster_handle(sc, "DELETE", path, &q, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    free(r.body);
    /* fedsched's finalizer keeps the deleted Job: whoever replaces it must release it. */
    q.content_type = "application/merge-patch+json";
    sim_cluster_handle(sc, "PATCH", path, &q, "{\"metadata\":{\"finalizers\":null}}", 32, &r);
    ck_assert_int_eq(r.status, 200);
    free(r.body);
    json_object_del(job, "status");
    json_object_del(meta, "uid");
    json_object_del(meta, "resourceVersion");
    json_object_del(meta, "creationTimestamp");
    json_object_del(meta, "generation");
    json_object_set_new(json_object_get(job, "spec"), "suspend", json_true());
    *strrchr(path, '/') = '\0';
    body = json_dumps(job, JSON_COMPACT);
    memset(&q, 0, sizeof(q));
    sim_cluster_handle(sc, "POST", path, &q, body, strlen(body), &r);
    ck_assert_msg(r.status == 201, "re-create suspended: %d %.*s", r.status, (int)r.len, r.body);
    free(r.body);
    free(body);
    json_decref(job);
}

/* The member cluster suspends a dispatched Job (its pods wait for a PriorityClass, so it
 * is caught before it runs): the job is reported Suspended (status and one event) without a
 * phase change, requeued with reason Suspended after suspendedTimeoutS, and placed again as
 * a new unsuspended Job, which runs once the PriorityClass exists. Prerequisite checks are
 * off so the missing class does not keep the job away. */
START_TEST(suspended_job_is_reported_then_requeued)
{
    struct sim_query q;
    struct sim_reply r;
    const char *pc = "{\"apiVersion\":\"scheduling.k8s.io/v1\",\"kind\":\"PriorityClass\","
                     "\"metadata\":{\"name\":\"fedsched-late\"},\"value\":100}";
    char *uid, *ev;
    json_t *j;

    senv_sim(&env, "testdata/sim/diag-suspend.json");
    senv_config(&env,
                "\"poller\": {\"intervalMs\": 200, \"sampleIntervalS\": 5, \"registrySyncS\": 1,"
                " \"prereqIntervalSeconds\": 0},"
                "\"scheduler\": {\"cycleIntervalMs\": 200, \"gcIntervalS\": 1,"
                " \"missingGraceS\": 3, \"leaderRetryMs\": 200, \"leaderRenewMs\": 200,"
                " \"podCheckIntervalS\": 0, \"suspendedTimeoutS\": 2,"
                " \"priorityClass\": \"fedsched-late\"}",
                "", NULL);
    senv_serve(&env, 0, NULL);
    uid = senv_submit(senv_base(&env), "team-d", "held", "a100-80gb", 8, NULL, "");
    json_decref(senv_wait_phase(senv_base(&env), "team-d", "held", "Dispatched", 10000));
    for (int i = 0; senv_sim_objects(&env, "kueue", false, "fedsched.io/job-uid", uid) == 0; i++) {
        ck_assert_msg(i < 100, "no Job in kueue");
        usleep(50 * 1000);
    }
    member_suspends("kueue", uid);
    for (int i = 0; senv_events(&env, "team-d", "held", "Suspended") == 0; i++) {
        ck_assert_msg(i < 100, "no Suspended event within 5 s");
        usleep(50 * 1000);
    }
    j = senv_get(senv_base(&env), "team-d", "held");
    ck_assert_str_eq(senv_phase(j), "Dispatched");
    ck_assert_str_eq(status_str(j, "reason"), "Suspended");
    ck_assert_str_eq(status_str(j, "message"),
                     "suspended in kueue: Job suspended; not counted against the start timeout");
    json_decref(j);
    ev = event_of("held", "Suspended");
    ck_assert_str_eq(ev, "Suspended|suspended in kueue: Job suspended; not counted against the"
                         " start timeout");
    free(ev);
    for (int i = 0; senv_sql_long(&env, "SELECT count(*) FROM job_events WHERE to_phase ="
                                        " 'Queued' AND reason = 'Suspended'") == 0;
         i++) {
        ck_assert_msg(i < 100, "not requeued within 5 s");
        usleep(50 * 1000);
    }
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM job_events WHERE reason ="
                                         " 'Suspended' AND to_phase = 'Queued' AND message ="
                                         " 'suspended in kueue for more than 2 s: Job suspended;"
                                         " deleted and requeued'"),
                     1);
    /* Counted from the condition's lastTransitionTime rounded up (it has whole seconds, as
     * every Kubernetes time), so never early: the Suspended event comes within a tracking
     * pass of the suspension, the requeue 2 s after it. */
    ck_assert_int_ge(senv_sql_long(&env, "SELECT extract(epoch FROM r.ts - s.ts) * 1000 FROM"
                                         " job_events r, job_events s WHERE s.type = 'Suspended'"
                                         " AND r.to_phase = 'Queued' AND r.reason = 'Suspended'"),
                     1500);
    memset(&q, 0, sizeof(q));
    sim_cluster_handle(sim_get_cluster(env.sim, "kueue"), "POST",
                       "/apis/scheduling.k8s.io/v1/priorityclasses", &q, pc, strlen(pc), &r);
    ck_assert_int_eq(r.status, 201);
    free(r.body);
    j = senv_wait_phase(senv_base(&env), "team-d", "held", "Running", 10000);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "status"), "attempt")),
                     1);
    json_decref(j);
    free(uid);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("diagnosis");
    TCase *tc = tcase_create("notes");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_note_sets_the_status_and_adds_one_event);
    tcase_add_test(tc, a_note_needs_the_attempt_the_phase_and_the_epoch);
    suite_add_tcase(s, tc);
    tc = tcase_create("e2e");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, oom_kill_reaches_the_events);
    tcase_add_test(tc, exit_code_reaches_the_events);
    tcase_add_test(tc, image_pull_back_off_is_diagnosed_then_fails);
    tcase_add_test(tc, suspended_job_is_reported_then_requeued);
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
