/* test_cluster_poller.c -- acceptance 3: readers hammer the RCU-published capacity snapshot
 * (rendering /v1/capacity and /v1/clusters as the API does) from several threads while the
 * poller publishes continuously and the cluster set changes under them. Run under ASAN
 * (make asan) and, when available, ThreadSanitizer. Also: the initial snapshot, the sample
 * sink, the JSON and Prometheus renderings. */
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "cluster/poller.h"
#include "tests/support/k8s_sim.h"
#include "tools/kubesim/kubesim.h"
#include "tools/kubesim/kubesim_cluster.h"
#include "tests/support/defaults.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READERS 4

static struct k8s_env env;
static struct poller *poller;
static int stop_readers; /* accessed atomically */

static void start(int interval_ms, poller_sink_fn sink, void *arg)
{
    struct poller_options o;
    struct err e = {0};

    defaults_poller(&o);
    o.interval_ms = interval_ms;
    o.publish_delay_ms = 5;
    o.request_timeout_ms = 2000;
    o.sink = sink;
    o.sink_arg = arg;
    o.sample_interval_ms = 100;
    k8s_env_start(&env, "sim/faults.json", true);
    ck_assert_msg(poller_create(env.cfgs, env.n, &o, &poller, &e) == 0, "%s", e.msg);
}

static void stop(void)
{
    poller_free(&poller);
    k8s_env_stop(&env);
}

struct reader_stats {
    long reads;
    long bad;
    uint64_t last_seq;
    char why[200];
};

/* Checks what a reader must always see: a whole, consistent snapshot. */
static int check_snapshot(const struct cluster_snapshot *s, struct reader_stats *st)
{
    struct err e = {0};
    int64_t nodes_total = 0, agg_total = 0;

    if (s->snap->seq < st->last_seq) {
        snprintf(st->why, sizeof(st->why), "seq went back %llu -> %llu",
                 (unsigned long long)st->last_seq, (unsigned long long)s->snap->seq);
        return -1;
    }
    st->last_seq = s->snap->seq;
    if (snapshot_validate(s->snap, &e) != 0) {
        snprintf(st->why, sizeof(st->why), "invalid: %.150s", e.msg);
        return -1;
    }
    for (size_t i = 0; i < s->snap->n_nodes; i++)
        if (s->snap->nodes[i].sku >= 0)
            nodes_total += s->snap->nodes[i].allocatable;
    for (size_t c = 0; c < s->snap->n_clusters; c++) {
        if (strcmp(s->status[c].name, s->snap->clusters[c].name) != 0) {
            snprintf(st->why, sizeof(st->why), "status %zu is for another cluster", c);
            return -1;
        }
        for (size_t k = 0; k < s->snap->n_skus; k++)
            for (int p = 0; p < SNAPSHOT_POOL_COUNT; p++)
                agg_total += snapshot_agg_const(s->snap, c, (enum snapshot_pool)p, (int)k)->total;
    }
    if (nodes_total != agg_total) {
        snprintf(st->why, sizeof(st->why), "nodes say %lld GPUs, aggregates %lld",
                 (long long)nodes_total, (long long)agg_total);
        return -1;
    }
    return 0;
}

static void *reader(void *arg)
{
    struct reader_stats *st = arg;

    while (!__atomic_load_n(&stop_readers, __ATOMIC_ACQUIRE)) {
        const struct cluster_snapshot *s = poller_read_begin(poller);
        json_t *cap, *all;
        char *text;

        if (check_snapshot(s, st) != 0)
            st->bad++;
        /* what GET /v1/capacity and GET /v1/clusters do inside the read section */
        cap = cluster_snapshot_capacity_json(s, clock_realtime_ms());
        all = cluster_snapshot_clusters_json(s, clock_realtime_ms());
        text = json_dumps(cap, JSON_COMPACT);
        if (!text || !strstr(text, "\"capacity\""))
            st->bad++;
        free(text);
        json_decref(cap);
        json_decref(all);
        poller_read_end(poller);
        st->reads++;
    }
    return NULL;
}

static void *reshaper(void *arg)
{
    struct err e = {0};
    int round = 0;

    (void)arg;
    /* Alternate between all three clusters and two of them, so snapshots change shape. */
    while (!__atomic_load_n(&stop_readers, __ATOMIC_ACQUIRE)) {
        size_t n = round++ % 2 ? env.n : env.n - 1;

        poller_set_clusters(poller, env.cfgs, n, &e);
        usleep(30 * 1000);
    }
    return NULL;
}

START_TEST(readers_never_block_or_see_half_snapshots)
{
    pthread_t th[READERS], rs;
    struct reader_stats st[READERS];
    struct err e = {0};
    uint64_t before;
    long reads = 0;

    start(10, NULL, NULL);
    memset(st, 0, sizeof(st));
    __atomic_store_n(&stop_readers, 0, __ATOMIC_RELEASE);
    before = poller_published(poller);
    ck_assert_int_eq(poller_start(poller, &e), 0);
    for (int i = 0; i < READERS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, reader, &st[i]), 0);
    ck_assert_int_eq(pthread_create(&rs, NULL, reshaper, NULL), 0);
    usleep(1500 * 1000);
    __atomic_store_n(&stop_readers, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < READERS; i++)
        pthread_join(th[i], NULL);
    pthread_join(rs, NULL);
    for (int i = 0; i < READERS; i++) {
        ck_assert_msg(st[i].bad == 0, "reader %d: %ld bad reads (%s)", i, st[i].bad, st[i].why);
        reads += st[i].reads;
    }
    ck_assert_msg(poller_published(poller) - before >= 20, "only %llu publications",
                  (unsigned long long)(poller_published(poller) - before));
    ck_assert_msg(reads >= 200, "only %ld reads", reads);
    stop();
}
END_TEST

START_TEST(initial_snapshot_before_any_poll)
{
    const struct cluster_snapshot *s;
    struct err e = {0};

    start(1000, NULL, NULL);
    ck_assert(poller_loaded(poller)); /* the clusters were given at creation */
    s = poller_read_begin(poller);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->snap->n_clusters, 3);
    ck_assert_int_eq(s->snap->n_nodes, 0);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(s->snap->clusters[i].health, SNAPSHOT_HEALTH_UNKNOWN);
        ck_assert_int_eq(cluster_snapshot_data_age(s, i, clock_realtime_ms()), -1);
    }
    poller_read_end(poller);
    ck_assert_int_eq(poller_poll_once(poller, &e), 0);
    s = poller_read_begin(poller);
    ck_assert_int_eq(s->snap->clusters[0].health, SNAPSHOT_HEALTH_READY);
    ck_assert_int_eq(s->snap->n_nodes, 5 + 7 + 3);
    poller_read_end(poller);
    /* poll_once is for the caller's own thread only */
    ck_assert_int_eq(poller_start(poller, &e), 0);
    ck_assert_int_eq(poller_start(poller, &e), -1);
    ck_assert_int_eq(poller_poll_once(poller, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    poller_stop(poller);
    stop();
}
END_TEST

/* Tracking's store of fedsched's Jobs holds what tracking reads (apiVersion, kind,
 * metadata, status) and never the spec, which is not even parsed, nor managedFields. */
START_TEST(tracked_jobs_are_kept_without_spec)
{
    static const char job[] =
        "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"tj-1\","
        "\"labels\":{\"app.kubernetes.io/managed-by\":\"fedsched\",\"fedsched.io/job-uid\":\"u1\"},"
        "\"annotations\":{\"note\":\"\\u00e9t\\u00e9 \\\"quoted\\\"\"}},\"spec\":{\"template\":"
        "{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\","
        "\"image\":\"trainer:1\"}]}}}}";
    struct sim_reply r;
    struct sim_query q;
    struct err e = {0};
    json_t *items = NULL, *o = NULL, *md;
    size_t i;

    start(1000, NULL, NULL);
    memset(&q, 0, sizeof(q));
    sim_cluster_handle(sim_get_cluster(env.sim, env.cfgs[0].name), "POST",
                       "/apis/batch/v1/namespaces/default/jobs", &q, job, strlen(job), &r);
    ck_assert_msg(r.status == 201, "%d %.*s", r.status, (int)r.len, r.body);
    free(r.body);
    ck_assert_int_eq(poller_poll_once(poller, &e), 0);
    ck_assert_msg(poller_objects(poller, env.cfgs[0].name, K8S_KIND_JOB, &items, &e) == 0, "%s",
                  e.msg);
    json_array_foreach(items, i, o)
    {
        if (json_is_string(json_object_get(json_object_get(o, "metadata"), "name")) &&
            strcmp(json_string_value(json_object_get(json_object_get(o, "metadata"), "name")),
                   "tj-1") == 0)
            break;
    }
    ck_assert_msg(i < json_array_size(items), "tj-1 not in the store");
    md = json_object_get(o, "metadata");
    ck_assert_str_eq(json_string_value(json_object_get(o, "apiVersion")), "batch/v1");
    ck_assert_str_eq(json_string_value(json_object_get(o, "kind")), "Job");
    ck_assert_ptr_null(json_object_get(o, "spec"));
    ck_assert_ptr_null(json_object_get(md, "managedFields"));
    ck_assert(json_is_string(json_object_get(md, "uid")));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(md, "labels"), "fedsched.io/job-uid")),
        "u1");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(md, "annotations"), "note")),
                     "\xc3\xa9t\xc3\xa9 \"quoted\"");
    json_decref(items);
    stop();
}
END_TEST

/* Created without clusters (as `serve` does, before it has read the registry), the poller
 * is not loaded until a snapshot holding the set it is given afterwards is published. */
START_TEST(loaded_once_the_given_set_is_published)
{
    struct poller_options o;
    struct poller *p = NULL;
    const struct cluster_snapshot *s;
    struct err e = {0};

    defaults_poller(&o);
    o.request_timeout_ms = 2000;
    k8s_env_start(&env, "sim/faults.json", true);
    ck_assert_msg(poller_create(NULL, 0, &o, &p, &e) == 0, "%s", e.msg);
    ck_assert(!poller_loaded(p));
    ck_assert_int_eq(poller_set_clusters(p, env.cfgs, env.n, &e), 0);
    ck_assert(!poller_loaded(p)); /* handed over, not yet published */
    ck_assert_int_eq(poller_poll_once(p, &e), 0);
    ck_assert(poller_loaded(p));
    s = poller_read_begin(p);
    ck_assert_int_eq(s->snap->n_clusters, 3);
    poller_read_end(p);
    poller_free(&p);
    k8s_env_stop(&env);
}
END_TEST

struct sink_log {
    pthread_mutex_t lock;
    int calls;
    int clusters_ready;
    int l4_total;
};

static void sink(const struct cluster_snapshot *s, void *arg)
{
    struct sink_log *log = arg;
    int c = cluster_snapshot_find(s, "beta");

    pthread_mutex_lock(&log->lock);
    log->calls++;
    log->clusters_ready = 0;
    for (size_t i = 0; i < s->snap->n_clusters; i++)
        log->clusters_ready += s->snap->clusters[i].health == SNAPSHOT_HEALTH_READY;
    if (c >= 0)
        log->l4_total = snapshot_agg_const(s->snap, (size_t)c, SNAPSHOT_POOL_SERVING,
                                           snapshot_sku_find(s->snap, "l4"))
                            ->total;
    pthread_mutex_unlock(&log->lock);
}

START_TEST(sink_gets_samples_at_its_cadence)
{
    struct sink_log log = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    struct err e = {0};
    int calls;

    start(20, sink, &log);
    ck_assert_int_eq(poller_start(poller, &e), 0);
    usleep(650 * 1000);
    poller_stop(poller);
    pthread_mutex_lock(&log.lock);
    calls = log.calls;
    /* 100 ms cadence over 650 ms: about 6-7 calls, never one per publication */
    ck_assert_msg(calls >= 3 && calls <= 9, "%d sink calls", calls);
    ck_assert_int_eq(log.clusters_ready, 3);
    ck_assert_int_eq(log.l4_total, 16);
    pthread_mutex_unlock(&log.lock);
    stop();
}
END_TEST

START_TEST(json_and_prometheus_renderings)
{
    const struct cluster_snapshot *s;
    struct cluster_config *cfgs;
    struct err e = {0};
    json_t *j, *cap, *item;
    struct buf b;
    size_t i;
    bool seen_l4 = false;

    start(1000, NULL, NULL);
    cfgs = calloc(env.n, sizeof(*cfgs));
    memcpy(cfgs, env.cfgs, env.n * sizeof(*cfgs));
    cfgs[k8s_env_index(&env, "gamma")].cordoned = true;
    ck_assert_int_eq(poller_set_clusters(poller, cfgs, env.n, &e), 0);
    free(cfgs);
    ck_assert_int_eq(poller_poll_once(poller, &e), 0);
    s = poller_read_begin(poller);

    j = cluster_snapshot_cluster_json(s, (size_t)cluster_snapshot_find(s, "beta"),
                                      clock_realtime_ms());
    ck_assert_str_eq(json_string_value(json_object_get(j, "health")), "Ready");
    ck_assert(json_is_string(json_object_get(j, "lastSuccessfulPoll")));
    ck_assert(json_is_integer(json_object_get(j, "dataAgeMs")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "lastError")), "");
    json_array_foreach(json_object_get(j, "capacity"), i, item)
    {
        if (strcmp(json_string_value(json_object_get(item, "sku")), "l4") != 0)
            continue;
        seen_l4 = true;
        ck_assert_str_eq(json_string_value(json_object_get(item, "pool")), "serving");
        ck_assert_int_eq(json_integer_value(json_object_get(item, "total")), 16);
        ck_assert_int_eq(json_integer_value(json_object_get(item, "used")), 5);
        ck_assert_int_eq(json_integer_value(json_object_get(item, "free")), 11);
        ck_assert_int_eq(json_integer_value(json_object_get(item, "reserve")), 1);
        ck_assert_int_eq(json_integer_value(json_object_get(item, "lendable")), 10);
        ck_assert_int_eq(json_integer_value(json_object_get(item, "servingUsed")), 5);
    }
    ck_assert(seen_l4);
    json_decref(j);

    /* federation totals leave the cordoned cluster out and say so */
    cap = cluster_snapshot_capacity_json(s, clock_realtime_ms());
    ck_assert_int_eq(json_integer_value(json_object_get(cap, "clustersCounted")), 2);
    item = json_array_get(json_object_get(cap, "clustersExcluded"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(item, "name")), "gamma");
    ck_assert_str_eq(json_string_value(json_object_get(item, "reason")), "cordoned");
    json_array_foreach(json_object_get(cap, "capacity"), i, item)
    {
        ck_assert_str_ne(json_string_value(json_object_get(item, "sku")), "t4");
    }
    json_decref(cap);

    buf_init(&b, 1 << 20);
    ck_assert_int_eq(cluster_snapshot_prometheus(s, clock_realtime_ms(), &b), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "# TYPE fedsched_cluster_gpus gauge"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "fedsched_cluster_gpus{cluster=\"beta\",sku=\"l4\",pool=\"serving\","
                       "state=\"free\"} 11\n"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "fedsched_cluster_health{cluster=\"alpha\",state=\"Ready\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "fedsched_cluster_poll_errors_total{cluster=\"gamma\","
                                         "kind=\"timeout\"} 0\n"));
    buf_free(&b);
    poller_read_end(poller);
    stop();
}
END_TEST

/* Each node of s against the simulator: used and allocatable, and schedulable as the
 * first snapshot had it unless the test cordoned it (cordoned[] by snapshot index). Fails
 * naming the first node that differs. */
static void check_nodes(const struct cluster_snapshot *s, const bool *sched0, const bool *cordoned)
{
    for (size_t c = 0; c < s->snap->n_clusters; c++) {
        const struct snapshot_cluster *sc = &s->snap->clusters[c];
        struct sim_cluster *cl = sim_get_cluster(env.sim, sc->name);
        int free_sum[SNAPSHOT_POOL_COUNT][SNAPSHOT_SKU_MAX] = {{0}};

        ck_assert_ptr_nonnull(cl);
        for (size_t i = sc->node_first; i < sc->node_first + sc->n_nodes; i++) {
            const struct snapshot_node *n = &s->snap->nodes[i];
            int alloc = -1, used = -1;
            struct err e = {0};

            ck_assert_int_eq(sim_cluster_node_gpus(cl, n->name, &alloc, &used, &e), 0);
            ck_assert_msg(n->allocatable == alloc && n->used == used,
                          "%s/%s: snapshot %d of %d used, simulator %d of %d", sc->name, n->name,
                          n->used, n->allocatable, used, alloc);
            ck_assert_msg(n->schedulable == (sched0[i] && !cordoned[i]),
                          "%s/%s: schedulable %d, want %d", sc->name, n->name, n->schedulable,
                          sched0[i] && !cordoned[i]);
            if (n->sku >= 0)
                free_sum[n->pool][n->sku] += snapshot_node_free(n);
        }
        for (int p = 0; p < SNAPSHOT_POOL_COUNT; p++)
            for (size_t k = 0; k < s->snap->n_skus; k++)
                ck_assert_msg(snapshot_agg_const(s->snap, c, (enum snapshot_pool)p, (int)k)->free ==
                                  free_sum[p][k],
                              "%s: aggregate free of pool %d, SKU %zu is stale", sc->name, p, k);
    }
}

/* The poller builds each snapshot into the one before the last (no reader holds it) and
 * copies only the clusters that changed: every publication must still match the
 * simulator, node by node, for changed and unchanged clusters alike. 60 cordon flips on
 * random nodes of random clusters; after each, the flip shows within 3 s and every other
 * node is as before. */
START_TEST(reused_snapshots_follow_every_change)
{
    enum { NODES_MAX = 64 };
    bool sched0[NODES_MAX], cordoned[NODES_MAX] = {false};
    char names[NODES_MAX][SNAPSHOT_NODE_NAME_MAX], clusters[NODES_MAX][SNAPSHOT_NAME_MAX];
    const struct cluster_snapshot *s;
    unsigned seed = 14;
    size_t n;
    struct err e = {0};

    start(60000, NULL, NULL);
    ck_assert_int_eq(poller_start(poller, &e), 0);
    for (int i = 0;; i++) {
        bool ready = true;

        s = poller_read_begin(poller);
        for (size_t c = 0; c < s->snap->n_clusters; c++)
            ready &= s->snap->clusters[c].health == SNAPSHOT_HEALTH_READY;
        ready &= s->snap->n_clusters == env.n && s->snap->n_nodes > 0;
        if (ready)
            break;
        poller_read_end(poller);
        ck_assert_msg(i < 200, "clusters not Ready after 10 s");
        usleep(50 * 1000);
    }
    n = s->snap->n_nodes;
    ck_assert_int_le(n, NODES_MAX);
    for (size_t c = 0; c < s->snap->n_clusters; c++) {
        const struct snapshot_cluster *sc = &s->snap->clusters[c];

        for (size_t i = sc->node_first; i < sc->node_first + sc->n_nodes; i++) {
            sched0[i] = s->snap->nodes[i].schedulable;
            snprintf(names[i], sizeof(names[i]), "%s", s->snap->nodes[i].name);
            snprintf(clusters[i], sizeof(clusters[i]), "%s", sc->name);
        }
    }
    poller_read_end(poller);
    for (int round = 0; round < 60; round++) {
        size_t i = (size_t)rand_r(&seed) % n;
        uint64_t seq = poller_published(poller);
        int64_t until = clock_mono_ms() + 3000;

        cordoned[i] = !cordoned[i];
        ck_assert_int_eq(sim_cluster_set_node(sim_get_cluster(env.sim, clusters[i]), names[i], true,
                                              cordoned[i], &e),
                         0);
        for (;;) {
            bool shown;

            s = poller_read_begin(poller);
            shown = s->snap->seq > seq && s->snap->n_nodes == n &&
                    strcmp(s->snap->nodes[i].name, names[i]) == 0 &&
                    s->snap->nodes[i].schedulable == (sched0[i] && !cordoned[i]);
            if (shown) {
                check_nodes(s, sched0, cordoned);
                poller_read_end(poller);
                break;
            }
            poller_read_end(poller);
            ck_assert_msg(clock_mono_ms() < until, "round %d: %s/%s cordoned=%d not shown in 3 s",
                          round, clusters[i], names[i], cordoned[i]);
            usleep(5 * 1000);
        }
    }
    stop();
}
END_TEST

/* One cluster's status and the back-off its last failure chose. */
struct fail_view {
    enum snapshot_health health;
    int failures;
    int64_t backoff_ms; /* next attempt - end of the last poll */
    json_int_t json_failures;
};

static struct fail_view look_beta(void)
{
    const struct cluster_snapshot *s = poller_read_begin(poller);
    int c = cluster_snapshot_find(s, "beta");
    const struct cluster_status *st = &s->status[c];
    struct fail_view v;
    json_t *j = cluster_snapshot_cluster_json(s, (size_t)c, clock_realtime_ms());

    v.health = s->snap->clusters[c].health;
    v.failures = st->consecutive_failures;
    v.backoff_ms = st->next_attempt_ms - (st->last_attempt_ms + st->poll_duration_ms);
    v.json_failures = json_integer_value(json_object_get(j, "consecutiveFailures"));
    json_decref(j);
    poller_read_end(poller);
    return v;
}

/* Failure, failure, success, failure: the success resets the count, so the third failure
 * backs off from the base again (at most base_ms) instead of doubling on from the first
 * two (a fourth doubling step would be 4 * base, between 2 * base and 4 * base). */
START_TEST(success_resets_the_failure_count)
{
    const int base_ms = 200;
    struct poller_options o;
    struct sim_faults f;
    struct fail_view v;
    struct err e = {0};

    defaults_poller(&o);
    o.interval_ms = 60000; /* only poll_once polls */
    o.publish_delay_ms = 5;
    o.request_timeout_ms = 2000;
    o.backoff_base_ms = base_ms;
    o.backoff_max_ms = 100 * base_ms;
    k8s_env_start(&env, "sim/faults.json", true);
    ck_assert_msg(poller_create(env.cfgs, env.n, &o, &poller, &e) == 0, "%s", e.msg);
    memset(&f, 0, sizeof(f));
    f.status = 503;
    ck_assert_int_eq(sim_set_faults(env.sim, "beta", &f, &e), 0);
    ck_assert_int_eq(poller_poll_once(poller, &e), 0);
    v = look_beta();
    ck_assert_int_eq(v.health, SNAPSHOT_HEALTH_UNREACHABLE);
    ck_assert_int_eq(v.failures, 1);
    ck_assert_msg(v.backoff_ms <= base_ms + 20, "first back-off %lld ms", (long long)v.backoff_ms);
    usleep((useconds_t)(v.backoff_ms + 50) * 1000); /* a failed cluster waits its back-off */
    ck_assert_int_eq(poller_poll_once(poller, &e), 0);
    v = look_beta();
    ck_assert_int_eq(v.failures, 2);
    ck_assert_msg(v.backoff_ms >= base_ms - 20 && v.backoff_ms <= 2 * base_ms + 20,
                  "second back-off %lld ms, want %d..%d", (long long)v.backoff_ms, base_ms,
                  2 * base_ms);
    usleep((useconds_t)(v.backoff_ms + 50) * 1000);

    memset(&f, 0, sizeof(f));
    ck_assert_int_eq(sim_set_faults(env.sim, "beta", &f, &e), 0);
    ck_assert_int_eq(poller_poll_once(poller, &e), 0);
    v = look_beta();
    ck_assert_int_eq(v.health, SNAPSHOT_HEALTH_READY);
    ck_assert_int_eq(v.failures, 0);
    ck_assert_int_eq(v.json_failures, 0);

    /* A healthy cluster is polled at once by poll_once; this failure is the first again. */
    f.status = 503;
    ck_assert_int_eq(sim_set_faults(env.sim, "beta", &f, &e), 0);
    ck_assert_int_eq(poller_poll_once(poller, &e), 0);
    v = look_beta();
    ck_assert_int_eq(v.health, SNAPSHOT_HEALTH_DEGRADED);
    ck_assert_int_eq(v.failures, 1);
    ck_assert_int_eq(v.json_failures, 1);
    ck_assert_msg(v.backoff_ms <= base_ms + 20, "back-off after a success %lld ms, not from base",
                  (long long)v.backoff_ms);
    stop();
}
END_TEST

/* Acceptance 5 at the connector: each missing piece shows as a named condition (False,
 * message naming it) in the status and as MISSING in the policy's copy; a complete cluster
 * has every condition True. */
static const char prereq_scenario[] =
    "{\"clusters\":["
    "{\"name\":\"whole\",\"token\":\"w\",\"nodePools\":[{\"name\":\"h\",\"count\":1,"
    "\"product\":\"NVIDIA-H100-80GB-HBM3\",\"gpus\":8,\"pool\":\"training\"}]},"
    "{\"name\":\"bare\",\"token\":\"b\",\"apis\":[],\"namespaces\":[\"default\"],"
    "\"priorityClasses\":[],\"forbidden\":[\"create secrets\",\"create namespaces\"],"
    "\"nodePools\":[{\"name\":\"h\",\"count\":1,\"product\":\"NVIDIA-H100-80GB-HBM3\","
    "\"gpus\":8,\"pool\":\"training\"}]}]}";

static const struct prereq_condition *cond(const struct cluster_snapshot *s, const char *cl,
                                           enum snapshot_prereq p)
{
    int i = cluster_snapshot_find(s, cl);

    ck_assert_int_ge(i, 0);
    return &s->status[i].prereq.conds[p];
}

START_TEST(prerequisites_become_conditions)
{
    struct poller_options o;
    struct err e = {0};
    const struct cluster_snapshot *s;
    int bare;

    defaults_poller(&o);
    o.prereq_interval_ms = 60000;
    o.priority_class = "";
    o.priority_class_borrowed = "fedsched-borrowed";
    k8s_env_start_text(&env, prereq_scenario, true);
    ck_assert_msg(poller_create(env.cfgs, env.n, &o, &poller, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(poller_poll_once(poller, &e), 0);
    s = poller_read_begin(poller);
    for (int p = 0; p < SNAPSHOT_PREREQ_COUNT; p++)
        ck_assert_msg(strcmp(cond(s, "whole", (enum snapshot_prereq)p)->status, "True") == 0,
                      "whole %s: %s %s", snapshot_prereq_name((enum snapshot_prereq)p),
                      cond(s, "whole", (enum snapshot_prereq)p)->status,
                      cond(s, "whole", (enum snapshot_prereq)p)->message);
    ck_assert_str_eq(cond(s, "bare", SNAPSHOT_PREREQ_KUBERAY)->status, "False");
    ck_assert_str_eq(cond(s, "bare", SNAPSHOT_PREREQ_NAMESPACE)->status, "False");
    ck_assert_str_eq(cond(s, "bare", SNAPSHOT_PREREQ_PRIORITY_CLASS_BORROWED)->status, "False");
    ck_assert_str_eq(cond(s, "bare", SNAPSHOT_PREREQ_PERMISSIONS)->status, "False");
    ck_assert_str_eq(cond(s, "bare", SNAPSHOT_PREREQ_PERMISSIONS)->message,
                     "forbidden: create secrets");
    ck_assert_str_eq(cond(s, "bare", SNAPSHOT_PREREQ_PRIORITY_CLASS)->status, "True");
    bare = cluster_snapshot_find(s, "bare");
    ck_assert_int_eq(s->snap->clusters[bare].prereqs[SNAPSHOT_PREREQ_KUBERAY].state,
                     SNAPSHOT_PREREQ_MISSING);
    ck_assert_uint_eq(s->status[cluster_snapshot_find(s, "whole")].prereq.n_caps, 1);
    poller_read_end(poller);
    stop();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cluster_poller");
    TCase *tc = tcase_create("rcu");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, readers_never_block_or_see_half_snapshots);
    tcase_add_test(tc, initial_snapshot_before_any_poll);
    tcase_add_test(tc, loaded_once_the_given_set_is_published);
    tcase_add_test(tc, sink_gets_samples_at_its_cadence);
    tcase_add_test(tc, json_and_prometheus_renderings);
    tcase_add_test(tc, success_resets_the_failure_count);
    tcase_add_test(tc, reused_snapshots_follow_every_change);
    tcase_add_test(tc, prerequisites_become_conditions);
    tcase_add_test(tc, tracked_jobs_are_kept_without_spec);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
