/* test_checkpoint_first.c -- issue 17, acceptance 4: a serving scale-up announced by an HPA
 * gets its GPUs back before its pods exist, with no serving pod Pending longer than 5 s, and
 * the borrower in the way is asked to checkpoint before it is deleted: `fedsched serve` with
 * policy.proactive_reclaim against the simulator (testdata/sim/checkpoint-first.json), the
 * test acting as the borrower's pod on the checkpoint channel. Two cases: the pod reports a
 * checkpoint (deleted at once after it, before the deadline), and the pod never does
 * (deleted at the deadline). Not responsible for the policy's choice (the golden scenarios
 * 82-84) nor for the connector's signals (test_serving_signals). */
#include "tests/integration/test_sched_env.h"

#include "tools/kubesim/kubesim_cluster.h"

#include <check.h>

/* Cycles and polls every 200 ms; a 6 s grace period for the borrower's pods, so that a
 * reclaim that waits for Pending serving pods (proactive_reclaim off) leaves them Pending
 * longer than 5 s, while one made ahead of demand has the GPUs free before the pods exist
 * (the autoscaler's decision reaches the Deployment 10 s after the HPA shows it, its pods 5 s
 * after that). */
#define BASE_FMT                                                                                   \
    "\"poller\": {\"intervalMs\": 200, \"sampleIntervalS\": 3600, \"registrySyncS\": 1},"          \
    "\"scheduler\": {\"cycleIntervalMs\": 200, \"gcIntervalS\": 1, \"missingGraceS\": 3,"          \
    "\"dispatchBackoffBaseS\": 1, \"dispatchBackoffMaxS\": 2, \"leaderRetryMs\": 200,"             \
    "\"leaderRenewMs\": 200, \"jobAnnotations\": "                                                 \
    "{\"sim.fedsched.io/duration-seconds\": \"360000\"}}, \"policy\": {\"min_lease_s\": 0,"        \
    " \"min_runtime_s\": 0, \"reclaim_settle_s\": 1, \"grace_period_s\": 6,"                       \
    " \"proactive_reclaim\": true, \"checkpoint_deadline_s\": %d}"

/* Lent all day, nothing reserved. */
#define SERVING_POOL                                                                               \
    "{\"nodeSelector\": {\"fedsched.io/pool\": \"serving\"}, \"namespaces\": [\"serving\"],"       \
    " \"reserveGpus\": 0, \"lendPolicy\": \"window\","                                             \
    " \"lendingWindows\": [{\"start\": \"00:00\", \"end\": \"00:00\"}]}"

#define NS   "team-cf"
#define NAME "borrower"

static struct senv env;

static void teardown(void)
{
    senv_stop(&env);
}

static json_t *sim_get(const char *path, long *status)
{
    struct sim_query q;
    struct sim_reply r;
    json_t *out;

    memset(&q, 0, sizeof(q));
    sim_cluster_handle(sim_get_cluster(env.sim, "cf"), "GET", path, &q, NULL, 0, &r);
    *status = r.status;
    out = json_loadb(r.body, r.len, 0, NULL);
    free(r.body);
    return out;
}

static int64_t ts_ms(const json_t *v)
{
    int64_t ms = 0;

    ck_assert_msg(json_is_string(v) && clock_parse_rfc3339(json_string_value(v), &ms) == 0,
                  "not a timestamp");
    return ms;
}

/* How the borrower's object stands in the member cluster. */
enum obj_state { OBJ_LIVE, OBJ_DELETING, OBJ_GONE };

static enum obj_state object_state(const char *mns, const char *name, char *annotation, size_t size)
{
    char path[512];
    long st;
    json_t *o, *md;
    const char *a;

    snprintf(path, sizeof(path), "/apis/batch/v1/namespaces/%s/jobs/%s", mns, name);
    o = sim_get(path, &st);
    if (st == 404) {
        json_decref(o);
        return OBJ_GONE;
    }
    ck_assert_int_eq(st, 200);
    md = json_object_get(o, "metadata");
    a = json_string_value(
        json_object_get(json_object_get(md, "annotations"), "fedsched.io/checkpoint-requested"));
    if (annotation)
        snprintf(annotation, size, "%s", a ? a : "");
    st = json_object_get(md, "deletionTimestamp") ? OBJ_DELETING : OBJ_LIVE;
    json_decref(o);
    return (enum obj_state)st;
}

/* The serving pods: how many are bound, and the longest any of them waited for a node
 * (creation to PodScheduled=True, or to now while unbound), by the simulator's records. */
static int serving_pods(int64_t *max_pending_ms)
{
    long st;
    json_t *list = sim_get("/api/v1/namespaces/serving/pods", &st), *p;
    int64_t now = sim_now_ms(env.sim);
    size_t i;
    int bound = 0;

    ck_assert_int_eq(st, 200);
    json_array_foreach(json_object_get(list, "items"), i, p)
    {
        int64_t created =
            ts_ms(json_object_get(json_object_get(p, "metadata"), "creationTimestamp"));
        int64_t waited = now - created;
        const json_t *c;
        size_t k;

        json_array_foreach(json_object_get(json_object_get(p, "status"), "conditions"), k, c)
        {
            if (strcmp(json_string_value(json_object_get(c, "type")), "PodScheduled") == 0 &&
                strcmp(json_string_value(json_object_get(c, "status")), "True") == 0) {
                waited = ts_ms(json_object_get(c, "lastTransitionTime")) - created;
                bound++;
            }
        }
        if (waited > *max_pending_ms)
            *max_pending_ms = waited;
    }
    json_decref(list);
    return bound;
}

static void get_channel(json_t **out)
{
    long st = itest_get_json(senv_base(&env),
                             "/v1/namespaces/" NS "/trainingjobs/" NAME "/checkpoint", out);

    ck_assert_int_eq(st, 200);
}

/* A job's event's time (ms since the epoch) by type, from the database; 0 when none. */
static int64_t event_ms(const char *type, const char *reason)
{
    char sql[512];

    snprintf(sql, sizeof(sql),
             "SELECT (extract(epoch FROM max(e.ts)) * 1000)::bigint FROM job_events e"
             " JOIN jobs j ON j.id = e.job_id WHERE j.name = '" NAME "' AND e.type = '%s'%s%s%s",
             type, reason ? " AND e.reason = '" : "", reason ? reason : "", reason ? "'" : "");
    return senv_sql_long(&env, sql);
}

/* The borrower's object is not live where the test needs it to be: fail with the job's
 * events, which say who deleted it and why. */
static void assert_live(const char *mns, const char *obj, const char *when)
{
    char *events;

    if (object_state(mns, obj, NULL, 0) == OBJ_LIVE)
        return;
    events = itest_sql(env.dsn, "SELECT string_agg(to_char(e.ts, 'HH24:MI:SS.MS') || ' ' ||"
                                " e.type || '/' || COALESCE(e.reason, '') || ': ' ||"
                                " COALESCE(e.message, ''), ' | ' ORDER BY e.id) FROM job_events e"
                                " JOIN jobs j ON j.id = e.job_id WHERE j.name = '" NAME "'");
    ck_abort_msg("the borrower's object is deleting %s; its events: %s", when,
                 events ? events : "(none)");
}

struct run {
    int64_t scaled;                 /* when the test announced the scale-up */
    int64_t requested_at, deadline; /* from the channel */
    int64_t seen;                   /* when the test first saw the request */
    int64_t posted;                 /* when the test posted its checkpoint; 0: never */
    int64_t live_last;              /* the last time the object was seen not deleting */
    int64_t deleting_first;         /* the first time it was seen deleting or gone */
    int64_t max_pending_ms;
};

/* Runs the scale-up; checkpoint: whether the test, as the pod, reports a checkpoint 1 s
 * after it sees the request; restart: whether the leader is killed (SIGKILL) once the
 * request is on the object, and another replica takes over before the pod reports. */
static void scale_up(int deadline_s, bool checkpoint, bool restart, struct run *r)
{
    const char *sched = "\"preemptible\": true, \"maxRuntimeSeconds\": 600,"
                        " \"checkpointIntervalSeconds\": 60";
    char base[2048], mns[64], obj[128], annotation[64];
    json_t *j, *ch;
    struct err e = {0};
    int64_t until;
    int bound = 0;

    memset(r, 0, sizeof(*r));
    senv_sim(&env, "testdata/sim/checkpoint-first.json");
    snprintf(base, sizeof(base), BASE_FMT, deadline_s);
    senv_config(&env, base, "", SERVING_POOL);
    senv_serve(&env, 0, NULL);
    ck_assert_int_eq(serving_pods(&r->max_pending_ms), 2);
    free(senv_submit(senv_base(&env), NS, NAME, "l4", 4, NULL, sched));
    j = senv_wait_phase(senv_base(&env), NS, NAME, "Running", 20000);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "status"), "pool")),
                     "serving-borrowed");
    snprintf(mns, sizeof(mns), "%s",
             json_string_value(json_object_get(json_object_get(j, "status"), "memberNamespace")));
    snprintf(obj, sizeof(obj), "%s",
             json_string_value(json_object_get(json_object_get(j, "status"), "objectName")));
    json_decref(j);
    get_channel(&ch);
    ck_assert(json_is_false(json_object_get(ch, "requested")));
    json_decref(ch);

    /* The autoscaler wants 4 more replicas (4 GPUs; 2 are free): nothing is Pending yet. */
    ck_assert_msg(
        sim_cluster_deployment_scale(sim_get_cluster(env.sim, "cf"), "serving", "chat", 6, &e) == 0,
        "%s", e.msg);
    r->scaled = clock_realtime_ms();
    until = clock_realtime_ms() + 15000;
    while (!r->seen) {
        ck_assert_msg(clock_realtime_ms() < until, "no checkpoint request within 15 s");
        assert_live(mns, obj, "before the checkpoint request was seen");
        r->live_last = clock_realtime_ms();
        get_channel(&ch);
        if (json_is_true(json_object_get(ch, "requested"))) {
            r->seen = clock_realtime_ms();
            r->requested_at = ts_ms(json_object_get(ch, "requestedAt"));
            r->deadline = ts_ms(json_object_get(ch, "deadline"));
        }
        json_decref(ch);
        serving_pods(&r->max_pending_ms);
        usleep(50 * 1000);
    }
    /* The request is on the object too, as its deadline. */
    until = clock_realtime_ms() + 3000;
    for (;;) {
        int64_t at = 0;

        ck_assert_int_eq(object_state(mns, obj, annotation, sizeof(annotation)), OBJ_LIVE);
        r->live_last = clock_realtime_ms();
        if (annotation[0] && clock_parse_rfc3339(annotation, &at) == 0) {
            ck_assert_int_eq(at, r->deadline);
            break;
        }
        ck_assert_msg(clock_realtime_ms() < until, "no annotation on the object within 3 s");
        usleep(50 * 1000);
    }
    if (restart) {
        itest_server_stop(&env.srv[0], SIGKILL);
        env.srv[0].pid = 0;
        senv_serve(&env, 1, NULL);
    }
    /* The pod takes its time: meanwhile nothing is deleted. */
    until = checkpoint ? clock_realtime_ms() + (restart ? 2000 : 1000) : r->deadline + 20000;
    while (clock_realtime_ms() < until) {
        enum obj_state s = object_state(mns, obj, NULL, 0);

        if (s != OBJ_LIVE) {
            r->deleting_first = clock_realtime_ms();
            break;
        }
        r->live_last = clock_realtime_ms();
        serving_pods(&r->max_pending_ms);
        usleep(50 * 1000);
    }
    if (checkpoint) {
        ck_assert_msg(r->deleting_first == 0, "deleted before the checkpoint was reported");
        r->posted = clock_realtime_ms();
        ck_assert_int_eq(itest_post_json(senv_base(&env),
                                         "/v1/namespaces/" NS "/trainingjobs/" NAME "/checkpoint",
                                         NULL, NULL),
                         200);
        until = clock_realtime_ms() + 10000;
        while (!r->deleting_first) {
            ck_assert_msg(clock_realtime_ms() < until, "not deleted within 10 s of the checkpoint");
            if (object_state(mns, obj, NULL, 0) != OBJ_LIVE)
                r->deleting_first = clock_realtime_ms();
            else
                r->live_last = clock_realtime_ms();
            serving_pods(&r->max_pending_ms);
            usleep(50 * 1000);
        }
    }
    ck_assert_msg(r->deleting_first, "never deleted");
    /* The scale-up lands: every replica bound, none Pending long. */
    until = clock_realtime_ms() + 40000;
    while ((bound = serving_pods(&r->max_pending_ms)) < 6 && clock_realtime_ms() < until)
        usleep(100 * 1000);
    ck_assert_int_eq(bound, 6);
    /* The borrower went back to the queue: its second Queued event (the first is its
     * submission). Its phase may already have moved on: when GPUs are free again it is
     * placed again, and a poll of the phase can miss the Queued between (seen under ASan
     * on a loaded machine: "did not reach Queued (last Dispatched)"). */
    until = clock_realtime_ms() + 20000;
    while (senv_events(&env, NS, NAME, "Queued") < 2) {
        ck_assert_msg(clock_realtime_ms() < until, "%s/%s not queued again within 20 s", NS, NAME);
        usleep(50 * 1000);
    }
}

/* DELETEs of Jobs the simulated cluster answered. */
static uint64_t job_deletes(void)
{
    struct sim_request_count rc[128];
    size_t n = sim_cluster_request_counts(sim_get_cluster(env.sim, "cf"), rc, 128);
    uint64_t d = 0;

    for (size_t i = 0; i < n && i < 128; i++)
        if (strcmp(rc[i].what, "delete jobs.batch") == 0)
            d += rc[i].n;
    return d;
}

/* What both cases assert about the request and the serving pods. */
static void common_checks(const struct run *r, int deadline_s)
{
    int64_t asked = event_ms("CheckpointRequested", NULL);

    /* Deleted once: no second DELETE while the watch catches up, nor by a new leader. */
    ck_assert_int_eq(job_deletes(), 1);

    ck_assert_int_eq(senv_events(&env, NS, NAME, "CheckpointRequested"), 1);
    ck_assert_int_gt(asked, 0);
    /* Asked before deleted, and the pod could see it while its object was live. */
    ck_assert_int_le(r->requested_at, r->seen);
    ck_assert_int_lt(r->requested_at, r->deleting_first);
    ck_assert_int_lt(asked, r->deleting_first);
    ck_assert_int_le(r->seen, r->live_last);
    ck_assert_int_lt(llabs(r->deadline - r->requested_at - deadline_s * 1000), 1500);
    /* The scale-up was announced by the HPA, not by Pending pods. */
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM job_events WHERE to_phase ="
                                         " 'Preempting' AND reason = 'ServingAnnounced'"),
                     1);
    ck_assert_msg(r->max_pending_ms <= 5000, "a serving pod was Pending %lld ms",
                  (long long)r->max_pending_ms);
    fprintf(stderr,
            "checkpoint_first: requested +%lld ms after scale, seen +%lld, deleted (seen) at "
            "+%lld ms from the request, deadline +%lld, posted +%lld; longest serving Pending "
            "%lld ms\n",
            (long long)(r->requested_at - r->scaled), (long long)(r->seen - r->requested_at),
            (long long)(r->deleting_first - r->requested_at),
            (long long)(r->deadline - r->requested_at),
            r->posted ? (long long)(r->posted - r->requested_at) : -1LL,
            (long long)r->max_pending_ms);
}

START_TEST(deleted_at_the_checkpoint)
{
    struct run r;

    scale_up(60, true, false, &r);
    common_checks(&r, 60);
    /* Deleted after the checkpoint, promptly, long before the deadline. */
    ck_assert_int_ge(r.deleting_first, r.posted);
    ck_assert_int_lt(r.deleting_first - r.posted, 3000);
    ck_assert_int_lt(r.deleting_first, r.deadline);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM job_events WHERE type ="
                                         " 'ReclaimDelete' AND reason = 'DeletedAtCheckpoint'"),
                     1);
    ck_assert_int_eq(senv_events(&env, NS, NAME, "ReclaimDelete"), 1);
    ck_assert_int_lt(event_ms("CheckpointRequested", NULL), event_ms("Checkpoint", NULL));
    ck_assert_int_le(event_ms("Checkpoint", NULL), event_ms("ReclaimDelete", NULL));
    /* The ledger counts the work since the checkpoint at the delete: under a GPU-second. */
    ck_assert_int_lt(senv_sql_long(&env, "SELECT (lost_gpu_hours * 3600000)::bigint FROM reclaims"),
                     1000);
}
END_TEST

START_TEST(deleted_at_the_deadline)
{
    struct run r;

    scale_up(4, false, false, &r);
    common_checks(&r, 4);
    /* Not a moment before the deadline, and soon after it. */
    ck_assert_int_ge(r.live_last, r.deadline - 300);
    ck_assert_int_ge(r.deleting_first, r.deadline);
    ck_assert_int_lt(r.deleting_first - r.deadline, 2500);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM job_events WHERE type ="
                                         " 'ReclaimDelete' AND reason = 'DeletedAtDeadline'"),
                     1);
    ck_assert_int_eq(senv_events(&env, NS, NAME, "Checkpoint"), 0);
    /* No checkpoint: all its work since the start is lost, 4 GPUs for more than 4 s. */
    ck_assert_int_gt(senv_sql_long(&env, "SELECT (lost_gpu_hours * 3600000)::bigint FROM reclaims"),
                     4 * 4000);
}
END_TEST

/* The leader dies while the pod has not checkpointed yet: the new leader neither deletes at
 * once nor asks again; it deletes at the checkpoint. */
START_TEST(a_new_leader_keeps_the_request)
{
    struct run r;

    scale_up(60, true, true, &r);
    common_checks(&r, 60);
    ck_assert_int_ge(r.deleting_first, r.posted);
    ck_assert_int_lt(r.deleting_first - r.posted, 3000);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM job_events WHERE type ="
                                         " 'ReclaimDelete' AND reason = 'DeletedAtCheckpoint'"),
                     1);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM reclaims"), 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("checkpoint_first");
    TCase *tc = tcase_create("reclaim");

    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, deleted_at_the_checkpoint);
    tcase_add_test(tc, deleted_at_the_deadline);
    tcase_add_test(tc, a_new_leader_keeps_the_request);
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
