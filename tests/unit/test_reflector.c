/* test_reflector.c -- the LIST+WATCH reflector (cluster/reflector.h) against the simulator
 * running in-process: the first list in pages, watch events applied to the store,
 * bookmarks, 410 and broken events that re-list, dropped and stalled streams resumed from
 * the last resourceVersion with nothing lost or applied twice, 10,000 random changes (with
 * dropped watches) after which the store equals the simulator's own lists, every connector
 * fault on the list and on the watch (its kind in the stats, recovery once it clears) and
 * the byte caps on events and list pages. The test drives the reflectors on its own curl
 * multi handle, as the poller does.
 * Not responsible for what the poller makes of the store (test_cluster_poller). */
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "cluster/k8s.h"
#include "cluster/reflector.h"
#include "tests/support/k8s_sim.h"

#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLUSTER "r1"
#define TOKEN   "r1-secret"

static struct k8s_env env;
static CURLM *multi;
static struct sim_cluster *cl;

/* ---- the simulated cluster ------------------------------------------------------------- */

/* One cluster "r1" with four training nodes a-0..a-3 and the given watch history; busy adds
 * serving nodes and a deployment whose replicas follow the clock. faults (or NULL) are set
 * before anything is requested. */
static void start_sim(int history, bool busy, const struct sim_faults *faults)
{
    char text[2048];
    struct err e = {0};

    snprintf(text, sizeof(text),
             "{\"startTime\":\"2026-11-28T06:00:00Z\",\"continueTtlSeconds\":60,"
             "\"watchBookmarkSeconds\":2,"
             "\"clusters\":[{\"name\":\"" CLUSTER "\",\"token\":\"" TOKEN "\","
             "\"watchHistory\":%d,\"nodePools\":["
             "{\"name\":\"a\",\"count\":4,\"product\":\"NVIDIA-A100-SXM4-80GB\",\"gpus\":8,"
             "\"pool\":\"training\"}%s]%s}]}",
             history,
             busy ? ",{\"name\":\"l4\",\"count\":3,\"product\":\"NVIDIA-L4\",\"gpus\":4,"
                    "\"pool\":\"serving\"}"
                  : "",
             busy ? ",\"deployments\":[{\"name\":\"eta\",\"namespace\":\"serving\","
                    "\"gpusPerReplica\":1,\"product\":\"NVIDIA-L4\",\"minReplicas\":1,"
                    "\"maxReplicas\":10,\"peakHour\":18}]"
                  : "");
    k8s_env_start_text(&env, text, true);
    cl = sim_get_cluster(env.sim, CLUSTER);
    ck_assert_ptr_nonnull(cl);
    if (faults)
        ck_assert_int_eq(sim_set_faults(env.sim, CLUSTER, faults, &e), 0);
    multi = curl_multi_init();
    ck_assert_ptr_nonnull(multi);
}

static void stop_sim(struct reflector **rs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        reflector_free(&rs[i], multi);
    curl_multi_cleanup(multi);
    multi = NULL;
    k8s_env_stop(&env);
    cl = NULL;
}

static void set_faults(const struct sim_faults *f)
{
    struct err e = {0};

    ck_assert_msg(sim_set_faults(env.sim, CLUSTER, f, &e) == 0, "%s", e.msg);
}

static void clear_faults(void)
{
    struct sim_faults f;

    memset(&f, 0, sizeof(f));
    set_faults(&f);
}

/* A request answered by the model itself (no HTTP, no faults); returns the status. */
static int sim_call_q(const char *method, const char *path, const char *fields, const char *body,
                      json_t **out)
{
    struct sim_query q;
    struct sim_reply r;

    memset(&q, 0, sizeof(q));
    q.field_selector = fields;
    if (strcmp(method, "DELETE") == 0)
        q.propagation_policy = "Background";
    sim_cluster_handle(cl, method, path, &q, body ? body : "", body ? strlen(body) : 0, &r);
    if (out)
        *out = json_loadb(r.body, r.len, 0, NULL);
    free(r.body);
    return r.status;
}

static int sim_call(const char *method, const char *path, const char *body, json_t **out)
{
    return sim_call_q(method, path, NULL, body, out);
}

/* Creates Job name in default with n pods that ask for no GPU and run for seconds. */
static int create_job(const char *name, int n, int seconds)
{
    char body[1024];

    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"%s\","
             "\"annotations\":{\"sim.fedsched.io/duration-seconds\":\"%d\"}},"
             "\"spec\":{\"parallelism\":%d,\"completions\":%d,\"ttlSecondsAfterFinished\":30,"
             "\"template\":{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":"
             "\"main\",\"image\":\"registry.local/train:1\"}]}}}}",
             name, seconds, n, n);
    return sim_call("POST", "/apis/batch/v1/namespaces/default/jobs", body, NULL);
}

static int delete_job(const char *name)
{
    char path[256];

    snprintf(path, sizeof(path), "/apis/batch/v1/namespaces/default/jobs/%s", name);
    return sim_call("DELETE", path, NULL, NULL);
}

/* Creates a Secret: the cluster's resourceVersion moves, no node or pod changes. Returns
 * the Secret's resourceVersion. */
static unsigned long long touch_secret(const char *name)
{
    char body[256];
    json_t *j = NULL;
    unsigned long long rv;

    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"%s\"}}", name);
    ck_assert_int_eq(sim_call("POST", "/api/v1/namespaces/default/secrets", body, &j), 201);
    rv = strtoull(
        json_string_value(json_object_get(json_object_get(j, "metadata"), "resourceVersion")), NULL,
        10);
    json_decref(j);
    return rv;
}

static void set_node(int i, bool ready, bool cordoned)
{
    char name[16];
    struct err e = {0};

    snprintf(name, sizeof(name), "a-%d", i);
    ck_assert_msg(sim_cluster_set_node(cl, name, ready, cordoned, &e) == 0, "%s", e.msg);
}

/* ---- decoding -------------------------------------------------------------------------- */

/* What the decode callbacks saw. After the first sync every decoded object comes from an
 * event, and the events of one resource only grow in resourceVersion: a repeat shows as
 * one that does not. */
struct dctx {
    const struct cluster_config *cfg;
    bool check_order;
    unsigned long long max_rv;
    int out_of_order;
    char first_out_of_order[200];
    int changed;
    json_t *seen; /* or NULL; "key@resourceVersion" -> times decoded, in order mode */
};

/* The simple item: who it is, its version and the fields the tests change. */
struct item {
    char key[200];
    char rv[24];
    char phase[16];
    char node[64];
    bool unschedulable;
    bool terminating;
};

static void md_str(const struct k8s_json *d, int tok, const char *k, char *out, size_t size)
{
    out[0] = '\0';
    k8s_json_str(d, k8s_json_path(d, tok, "metadata", k, K8S_JSON_END), out, size);
}

static void note_rv(struct dctx *x, const char *key, const char *rv)
{
    unsigned long long v = strtoull(rv, NULL, 10);

    if (x->check_order && v <= x->max_rv && x->out_of_order++ == 0)
        snprintf(x->first_out_of_order, sizeof(x->first_out_of_order), "%s at %llu after %llu", key,
                 v, x->max_rv);
    if (v > x->max_rv)
        x->max_rv = v;
    if (x->check_order && x->seen) {
        char k[260];

        snprintf(k, sizeof(k), "%s@%s", key, rv);
        json_object_set_new(x->seen, k,
                            json_integer(json_integer_value(json_object_get(x->seen, k)) + 1));
    }
}

static int decode_item(const struct k8s_json *d, int tok, void *out, void *arg, struct err *e)
{
    struct item *it = out;
    char ns[64], name[128];

    md_str(d, tok, "name", name, sizeof(name));
    md_str(d, tok, "namespace", ns, sizeof(ns));
    md_str(d, tok, "resourceVersion", it->rv, sizeof(it->rv));
    if (!name[0] || !it->rv[0])
        return err_set(e, ERR_MALFORMED, "metadata", "no name or resourceVersion");
    snprintf(it->key, sizeof(it->key), "%s%s%s", ns, ns[0] ? "/" : "", name);
    k8s_json_str(d, k8s_json_path(d, tok, "status", "phase", K8S_JSON_END), it->phase,
                 sizeof(it->phase));
    k8s_json_str(d, k8s_json_path(d, tok, "spec", "nodeName", K8S_JSON_END), it->node,
                 sizeof(it->node));
    it->unschedulable =
        k8s_json_true(d, k8s_json_path(d, tok, "spec", "unschedulable", K8S_JSON_END));
    it->terminating = k8s_json_path(d, tok, "metadata", "deletionTimestamp", K8S_JSON_END) >= 0;
    note_rv(arg, it->key, it->rv);
    return 0;
}

static int decode_node(const struct k8s_json *d, int tok, void *out, void *arg, struct err *e)
{
    const struct dctx *x = arg;

    return k8s_node_read(d, tok, x->cfg, sku_defaults(), out, e);
}

static int decode_pod(const struct k8s_json *d, int tok, void *out, void *arg, struct err *e)
{
    (void)arg;
    return k8s_pod_read(d, tok, out, e);
}

static void changed(struct reflector *r, void *arg)
{
    struct dctx *x = arg;

    (void)r;
    x->changed++;
}

/* The options the brief asks for; callers change what their case needs. */
static void options(struct reflector_options *o, const char *path, size_t item_size,
                    reflector_decode_fn decode, struct dctx *x)
{
    memset(o, 0, sizeof(*o));
    o->path = path;
    o->page_limit = 50;
    o->request_timeout_ms = 2000;
    o->connect_timeout_ms = 1000;
    o->watch_timeout_s = 5;
    o->watch_idle_ms = 3000; /* the scenario has a bookmark every 2 s */
    o->backoff_base_ms = 50;
    o->backoff_max_ms = 500;
    o->max_list_bytes = (size_t)8 << 20;
    o->max_event_bytes = (size_t)1 << 20;
    o->item_size = item_size;
    o->decode = decode;
    o->changed = changed;
    o->arg = x;
}

static struct reflector *make(const struct reflector_options *o)
{
    struct reflector *r = NULL;
    struct err e = {0};

    ck_assert_msg(reflector_new(&env.cfgs[0], o, &r, &e) == 0, "%s", e.msg);
    return r;
}

static struct reflector_stats stats(struct reflector *r)
{
    struct reflector_stats st;

    reflector_get_stats(r, &st);
    return st;
}

static unsigned long long rv_num(const struct reflector_stats *st)
{
    return strtoull(st->resource_version, NULL, 10);
}

/* errors_total counts every error errors_by_kind counts. */
static void assert_counters_add_up(struct reflector *r)
{
    struct reflector_stats st = stats(r);
    uint64_t sum = 0;
    char by[256] = "";
    size_t at = 0;

    for (int k = 0; k < CLUSTER_ERR_KINDS; k++) {
        sum += st.errors_by_kind[k];
        if (st.errors_by_kind[k] && at < sizeof(by))
            at += (size_t)snprintf(by + at, sizeof(by) - at, " %s=%llu",
                                   cluster_error_kind_name((enum cluster_error_kind)k),
                                   (unsigned long long)st.errors_by_kind[k]);
    }
    ck_assert_msg(st.errors_total == sum, "errors_total %llu, errors_by_kind add up to %llu:%s",
                  (unsigned long long)st.errors_total, (unsigned long long)sum, by);
}

/* ---- driving ---------------------------------------------------------------------------- */

typedef bool (*cond_fn)(void *arg);

/* Drives the n reflectors on the multi handle until cond(arg) holds (true) or until_ms
 * pass (false; without cond, true). cond is looked at between transfers' ends, at least
 * every 50 ms. */
static bool pump(struct reflector **rs, size_t n, int until_ms, cond_fn cond, void *arg)
{
    int64_t end = clock_mono_ms() + until_ms;

    for (;;) {
        int64_t now = clock_mono_ms(), wait = end - now;
        int running, left;
        CURLMsg *m;

        if (cond && cond(arg))
            return true;
        if (wait <= 0)
            return cond == NULL;
        for (size_t i = 0; i < n; i++) {
            int64_t d = reflector_step(rs[i], multi, now);

            ck_assert_int_le(d, 60000);
            if (d >= 0 && d < wait)
                wait = d;
        }
        curl_multi_poll(multi, NULL, 0, (int)(wait < 50 ? wait : 50), NULL);
        curl_multi_perform(multi, &running);
        while ((m = curl_multi_info_read(multi, &left))) {
            char *p = NULL;
            CURLcode rc = m->data.result;

            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
            ck_assert(reflector_is(p));
            reflector_done((struct reflector *)p, multi, rc);
        }
    }
}

static bool synced_and_watching(void *arg)
{
    struct reflector_stats st = stats(arg);

    return st.synced && st.state == REFLECTOR_WATCHING;
}

static bool healthy(void *arg)
{
    struct reflector_stats st = stats(arg);

    return st.synced && st.state == REFLECTOR_WATCHING && st.consecutive_failures == 0 &&
           st.last_error[0] == '\0';
}

static void wait_watching(struct reflector *r, int ms)
{
    struct reflector_stats st;

    if (pump(&r, 1, ms, synced_and_watching, r))
        return;
    st = stats(r);
    ck_abort_msg("not watching after %d ms: state %d synced %d lists %llu last error %s", ms,
                 (int)st.state, (int)st.synced, (unsigned long long)st.lists, st.last_error);
}

/* ---- the store against the simulator's truth ---------------------------------------------- */

static json_t *item_value(const char *rv, const char *phase, const char *node, bool unsched,
                          bool term)
{
    char v[200];

    snprintf(v, sizeof(v), "rv=%s phase=%s node=%s unschedulable=%d terminating=%d", rv, phase,
             node, (int)unsched, (int)term);
    return json_string(v);
}

/* key -> item_value of every object the simulator lists at path (one page, all) with the
 * field selector fields (decoded; NULL: none). */
static json_t *truth_of(const char *path, const char *fields)
{
    json_t *l = NULL, *st = json_object(), *o;
    size_t i;

    ck_assert_int_eq(sim_call_q("GET", path, fields, NULL, &l), 200);
    json_array_foreach(json_object_get(l, "items"), i, o)
    {
        json_t *md = json_object_get(o, "metadata"), *spec = json_object_get(o, "spec");
        const char *ns = json_string_value(json_object_get(md, "namespace"));
        const char *node = json_string_value(json_object_get(spec, "nodeName"));
        const char *phase =
            json_string_value(json_object_get(json_object_get(o, "status"), "phase"));
        char k[200];

        snprintf(k, sizeof(k), "%s%s%s", ns ? ns : "", ns ? "/" : "",
                 json_string_value(json_object_get(md, "name")));
        json_object_set_new(st, k,
                            item_value(json_string_value(json_object_get(md, "resourceVersion")),
                                       phase ? phase : "", node ? node : "",
                                       json_is_true(json_object_get(spec, "unschedulable")),
                                       json_object_get(md, "deletionTimestamp") != NULL));
    }
    json_decref(l);
    return st;
}

static json_t *truth(const char *path)
{
    return truth_of(path, NULL);
}

struct store_view {
    json_t *st;
    int bad_keys; /* items stored under another key than their own */
};

static void view_one(const char *key, const void *p, void *arg)
{
    const struct item *it = p;
    struct store_view *v = arg;

    v->bad_keys += strcmp(key, it->key) != 0;
    json_object_set_new(
        v->st, it->key,
        item_value(it->rv, it->phase, it->node, it->unschedulable, it->terminating));
}

static json_t *store_of(struct reflector *r)
{
    struct store_view v = {json_object(), 0};

    reflector_foreach(r, view_one, &v);
    ck_assert_int_eq(v.bad_keys, 0);
    ck_assert_uint_eq(reflector_count(r), json_object_size(v.st));
    return v.st;
}

struct match {
    struct reflector *r;
    const char *path;
};

static bool matches_truth(void *arg)
{
    struct match *m = arg;
    json_t *a = store_of(m->r), *b = truth(m->path);
    bool same = json_equal(a, b);

    json_decref(a);
    json_decref(b);
    return same;
}

/* Fails with the differences (a few of each) when the store is not the truth. */
static void assert_matches(struct reflector *r, const char *path)
{
    json_t *a = store_of(r), *b = truth(path), *v;
    const char *k;
    char diff[2048] = "";
    size_t at = 0;
    int shown = 0;

    json_object_foreach(b, k, v)
    {
        json_t *mine = json_object_get(a, k);

        if ((!mine || !json_equal(mine, v)) && shown++ < 6)
            at +=
                (size_t)snprintf(diff + at, sizeof(diff) - at, "\n  %s: store %s, sim %s", k,
                                 mine ? json_string_value(mine) : "(absent)", json_string_value(v));
    }
    json_object_foreach(a, k, v)
    {
        if (!json_object_get(b, k) && shown++ < 12 && at < sizeof(diff))
            at += (size_t)snprintf(diff + at, sizeof(diff) - at, "\n  %s: store %s, sim (absent)",
                                   k, json_string_value(v));
    }
    ck_assert_msg(shown == 0, "%s: store (%zu) differs from the simulator (%zu):%s", path,
                  json_object_size(a), json_object_size(b), diff);
    json_decref(a);
    json_decref(b);
}

/* Pumps until the store equals the simulator's list (or ms pass), then asserts it. */
static void converge(struct reflector **rs, size_t n, struct reflector *r, const char *path, int ms)
{
    struct match m = {r, path};

    pump(rs, n, ms, matches_truth, &m);
    assert_matches(r, path);
}

/* ---- 1. the first list ------------------------------------------------------------------ */

/* Between transfers: the store stays empty and unsynced until the last page is in. */
struct paging_watch {
    struct reflector *r;
    int violations;
    char why[200];
};

static bool paging_done(void *arg)
{
    struct paging_watch *w = arg;
    struct reflector_stats st = stats(w->r);
    size_t n = reflector_count(w->r);

    if (!st.synced && n != 0 && w->violations++ == 0)
        snprintf(w->why, sizeof(w->why), "%zu items before sync, after %llu pages", n,
                 (unsigned long long)st.lists);
    if (st.synced && st.lists < 5 && w->violations++ == 0)
        snprintf(w->why, sizeof(w->why), "synced after %llu pages", (unsigned long long)st.lists);
    return st.synced;
}

START_TEST(first_list_comes_in_pages)
{
    struct reflector_options o;
    struct reflector *r;
    struct dctx x = {0};
    struct paging_watch w = {0};
    struct reflector_stats st;
    struct k8s_pod pod;
    json_t *t, *v;
    const char *k;

    start_sim(1000, false, NULL);
    ck_assert_int_eq(create_job("many", 250, 36000), 201);
    t = truth("/api/v1/pods");
    ck_assert_uint_eq(json_object_size(t), 250);
    options(&o, "/api/v1/pods", sizeof(struct k8s_pod), decode_pod, &x);
    r = make(&o);
    st = stats(r);
    ck_assert_int_eq(st.state, REFLECTOR_IDLE);
    ck_assert(!st.synced && !reflector_synced(r));
    ck_assert_uint_eq(st.lists, 0);
    ck_assert_uint_eq(reflector_count(r), 0);
    ck_assert_str_eq(reflector_path(r), "/api/v1/pods");

    w.r = r;
    ck_assert(pump(&r, 1, 5000, paging_done, &w));
    ck_assert_msg(w.violations == 0, "%s", w.why);
    st = stats(r);
    ck_assert_uint_eq(st.lists, 5); /* 250 pods, 50 a page */
    ck_assert_uint_eq(st.relists, 0);
    ck_assert_uint_eq(st.bad_items, 0);
    ck_assert_uint_eq(st.errors_total, 0);
    ck_assert(reflector_synced(r));
    ck_assert_uint_eq(reflector_count(r), 250);
    ck_assert_uint_ge(reflector_generation(r), 1);
    ck_assert_int_ge(x.changed, 1);
    ck_assert_int_gt(st.last_ok_ms, 0);
    /* every pod under namespace/name, as the real decoder read it */
    json_object_foreach(t, k, v)
    {
        memset(&pod, 0, sizeof(pod));
        ck_assert_msg(reflector_get(r, k, &pod) == 0, "no %s in the store", k);
        ck_assert_str_eq(pod.ns, "default");
        ck_assert_int_eq(pod.phase, K8S_POD_RUNNING);
        ck_assert_str_ne(pod.node, "");
    }
    ck_assert_int_eq(reflector_get(r, "default/nothing", &pod), -1);
    json_decref(t);
    /* and then it watches from the list's resourceVersion */
    wait_watching(r, 2000);
    ck_assert_uint_eq(stats(r).watches, 1);
    stop_sim(&r, 1);
}
END_TEST

START_TEST(options_are_checked)
{
    struct reflector_options o;
    struct reflector *r = NULL;
    struct dctx x = {0};
    struct err e = {0};

    start_sim(1000, false, NULL);
    options(&o, "/api/v1/nodes", sizeof(struct item), decode_item, &x);
    o.page_limit = 0;
    ck_assert_int_eq(reflector_new(&env.cfgs[0], &o, &r, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_msg(strstr(e.msg, "page_limit") || strstr(e.field, "page_limit"), "%s / %s", e.field,
                  e.msg);
    ck_assert_ptr_null(r);
    options(&o, "/api/v1/nodes", sizeof(struct item), NULL, &x);
    ck_assert_int_eq(reflector_new(&env.cfgs[0], &o, &r, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    options(&o, NULL, sizeof(struct item), decode_item, &x);
    ck_assert_int_eq(reflector_new(&env.cfgs[0], &o, &r, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    reflector_free(&r, NULL); /* NULL-safe */
    stop_sim(&r, 0);
}
END_TEST

/* The selectors go to the list and the watch: pods that finish leave a store that asks for
 * non-terminal pods (DELETED for that watch), and a label selector keeps other Jobs' pods
 * out. */
static bool selected_pods_gone(void *arg)
{
    struct reflector **rs = arg;

    return reflector_count(rs[0]) == 0 && stats(rs[0]).events[2] >= 2;
}

START_TEST(selectors_filter_list_and_watch)
{
    struct reflector_options o;
    struct reflector *rs[2];
    struct dctx x0 = {0}, x1 = {0};
    json_t *t, *mine;

    start_sim(1000, false, NULL);
    ck_assert_int_eq(create_job("sel", 2, 30), 201);
    ck_assert_int_eq(create_job("other", 3, 36000), 201);
    options(&o, "/api/v1/pods", sizeof(struct item), decode_item, &x0);
    o.field_selector = K8S_POD_FIELD_SELECTOR;
    o.label_selector = "job-name%3Dsel";
    rs[0] = make(&o);
    options(&o, "/api/v1/namespaces/default/pods", sizeof(struct item), decode_item, &x1);
    o.field_selector = K8S_POD_FIELD_SELECTOR;
    rs[1] = make(&o);
    ck_assert(pump(rs, 2, 3000, synced_and_watching, rs[0]));
    ck_assert(pump(rs, 2, 3000, synced_and_watching, rs[1]));
    ck_assert_uint_eq(reflector_count(rs[0]), 2);
    ck_assert_uint_eq(reflector_count(rs[1]), 5);
    sim_skip_time(env.sim, 40 * 1000); /* sel's pods succeed (and stay for the TTL, 30 s) */
    ck_assert(pump(rs, 2, 3000, selected_pods_gone, rs));
    pump(rs, 2, 300, NULL, NULL);
    t = truth_of("/api/v1/pods", "status.phase!=Succeeded,status.phase!=Failed");
    mine = store_of(rs[1]);
    ck_assert_uint_eq(json_object_size(t), 3);
    ck_assert(json_equal(mine, t));
    json_decref(t);
    t = truth("/api/v1/pods"); /* still there, Succeeded */
    ck_assert_uint_eq(json_object_size(t), 5);
    json_decref(t);
    json_decref(mine);
    stop_sim(rs, 2);
}
END_TEST

/* Readers on other threads while the store is listed again and again: never an empty or
 * half-listed store, never unsynced. */
struct reader {
    struct reflector *r;
    size_t want;
    int stop; /* accessed atomically */
    long reads, bad;
    char why[160];
};

static void count_one(const char *key, const void *item, void *arg)
{
    (void)key;
    (void)item;
    (*(size_t *)arg)++;
}

static void *read_loop(void *arg)
{
    struct reader *rd = arg;

    while (!__atomic_load_n(&rd->stop, __ATOMIC_ACQUIRE)) {
        size_t n = reflector_count(rd->r), m = 0;

        reflector_foreach(rd->r, count_one, &m);
        if ((n != rd->want || m != rd->want || !reflector_synced(rd->r)) && rd->bad++ == 0)
            snprintf(rd->why, sizeof(rd->why), "count %zu, foreach %zu, synced %d", n, m,
                     (int)reflector_synced(rd->r));
        rd->reads++;
    }
    return NULL;
}

static bool relisted_n(void *arg)
{
    struct reader *rd = arg;

    return stats(rd->r).relists >= (uint64_t)rd->reads && healthy(rd->r);
}

START_TEST(readers_never_see_a_half_listed_store)
{
    struct reflector_options o;
    struct reflector *r;
    struct dctx x = {0};
    struct reader rd;
    struct reader goal;
    pthread_t th;

    start_sim(1000, false, NULL);
    ck_assert_int_eq(create_job("many", 250, 36000), 201);
    options(&o, "/api/v1/pods", sizeof(struct item), decode_item, &x);
    r = make(&o);
    wait_watching(r, 5000);
    memset(&rd, 0, sizeof(rd));
    rd.r = r;
    rd.want = 250;
    ck_assert_int_eq(pthread_create(&th, NULL, read_loop, &rd), 0);
    for (int i = 1; i <= 10; i++) {
        memset(&goal, 0, sizeof(goal));
        goal.r = r;
        goal.reads = i; /* relists to reach */
        reflector_relist(r, multi);
        ck_assert(pump(&r, 1, 3000, relisted_n, &goal));
    }
    __atomic_store_n(&rd.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    ck_assert_msg(rd.bad == 0, "%ld of %ld reads saw a partial store (%s)", rd.bad, rd.reads,
                  rd.why);
    ck_assert_int_gt(rd.reads, 100);
    ck_assert_uint_eq(stats(r).lists, 5 * 11);
    stop_sim(&r, 1);
}
END_TEST

/* ---- 2. watch events -------------------------------------------------------------------- */

struct two {
    struct reflector *pods, *nodes;
    size_t want_pods;
};

static bool pods_running_and_cordoned(void *arg)
{
    struct two *t = arg;
    struct k8s_node n;

    if (reflector_count(t->pods) != t->want_pods)
        return false;
    memset(&n, 0, sizeof(n));
    return reflector_get(t->nodes, "a-1", &n) == 0 && n.unschedulable && !n.schedulable;
}

static void count_running(const char *key, const void *p, void *arg)
{
    const struct k8s_pod *pod = p;

    (void)key;
    *(int *)arg += pod->phase == K8S_POD_RUNNING && !pod->terminating;
}

static bool all_running(void *arg)
{
    struct two *t = arg;
    int n = 0;

    reflector_foreach(t->pods, count_running, &n);
    return (size_t)n == t->want_pods && reflector_count(t->pods) == t->want_pods;
}

START_TEST(watch_events_change_the_store)
{
    struct reflector_options o;
    struct reflector *rs[2];
    struct dctx xp = {0}, xn = {0};
    struct two t;
    struct reflector_stats sp, sn;
    uint64_t gen;

    start_sim(1000, false, NULL);
    options(&o, "/api/v1/pods", sizeof(struct k8s_pod), decode_pod, &xp);
    rs[0] = make(&o);
    xn.cfg = &env.cfgs[0];
    options(&o, "/api/v1/nodes", sizeof(struct k8s_node), decode_node, &xn);
    o.watch_timeout_s = 30;
    rs[1] = make(&o);
    t.pods = rs[0];
    t.nodes = rs[1];
    ck_assert(pump(rs, 2, 3000, synced_and_watching, rs[0]));
    ck_assert(pump(rs, 2, 3000, synced_and_watching, rs[1]));
    ck_assert_uint_eq(reflector_count(rs[0]), 0);
    ck_assert_uint_eq(reflector_count(rs[1]), 4);
    gen = reflector_generation(rs[1]);

    /* ADDED and MODIFIED */
    ck_assert_int_eq(create_job("w", 3, 3600), 201);
    set_node(1, true, true);
    t.want_pods = 3;
    ck_assert(pump(rs, 2, 3000, pods_running_and_cordoned, &t));
    ck_assert(pump(rs, 2, 3000, all_running, &t));
    sp = stats(rs[0]);
    sn = stats(rs[1]);
    ck_assert_uint_ge(sp.events[0], 3);
    ck_assert_uint_eq(sn.events[1], 1);
    ck_assert_uint_eq(sn.events[0] + sn.events[2], 0);
    ck_assert_uint_gt(reflector_generation(rs[1]), gen);
    ck_assert_int_gt(sn.last_event_mono, 0);
    ck_assert_int_le(sn.last_event_mono, clock_mono_ms());

    /* DELETED: the Job goes, its pods terminate over their grace period, then go */
    ck_assert_int_eq(delete_job("w"), 200);
    sim_skip_time(env.sim, 60 * 1000);
    t.want_pods = 0;
    ck_assert(pump(rs, 2, 3000, all_running, &t));
    sp = stats(rs[0]);
    ck_assert_uint_ge(sp.events[2], 3);
    ck_assert_uint_eq(sp.lists, 1);
    ck_assert_uint_eq(sp.relists + stats(rs[1]).relists, 0);
    ck_assert_uint_eq(sp.watches, 1);
    ck_assert_uint_eq(sp.errors_total, 0);
    ck_assert_str_eq(sp.last_error, "");
    ck_assert_int_ge(xn.changed, 2);
    stop_sim(rs, 2);
}
END_TEST

/* ---- 3. bookmarks ----------------------------------------------------------------------- */

START_TEST(bookmarks_move_the_resource_version)
{
    struct reflector_options o;
    struct reflector *r;
    struct dctx x = {0};
    struct reflector_stats st;
    unsigned long long before, secret_rv;

    start_sim(1000, false, NULL);
    options(&o, "/api/v1/nodes", sizeof(struct item), decode_item, &x);
    o.watch_timeout_s = 30;
    r = make(&o);
    wait_watching(r, 3000);
    st = stats(r);
    before = rv_num(&st);
    secret_rv = touch_secret("s1"); /* no node changes: only a bookmark can tell */
    ck_assert_uint_gt(secret_rv, before);
    /* 5 s of quiet watching: bookmarks every 2 s, and no idle timeout (watch_idle_ms 3 s) */
    pump(&r, 1, 5000, NULL, NULL);
    st = stats(r);
    ck_assert_uint_ge(st.events[3], 2);
    ck_assert_uint_eq(st.events[0] + st.events[1] + st.events[2] + st.events[4], 0);
    ck_assert_msg(rv_num(&st) >= secret_rv, "resourceVersion %s, bookmark at %llu or later",
                  st.resource_version, secret_rv);
    ck_assert_uint_eq(st.watches, 1);
    ck_assert_uint_eq(st.watch_restarts, 0);
    ck_assert_uint_eq(st.errors_total, 0);
    ck_assert_uint_eq(st.bad_items, 0); /* a bookmark is not an item */
    ck_assert_uint_eq(reflector_count(r), 4);
    ck_assert_int_ge(st.last_ok_ms, clock_realtime_ms() - 2500);
    stop_sim(&r, 1);
}
END_TEST

/* ---- 4. 410: re-list -------------------------------------------------------------------- */

static bool first_event(void *arg)
{
    return stats(arg).events[1] >= 1;
}

static bool relisted(void *arg)
{
    return stats(arg).relists >= 1 && healthy(arg);
}

START_TEST(expired_watch_lists_again)
{
    struct reflector_options o;
    struct reflector *r;
    struct dctx x = {0};
    struct reflector_stats st;

    start_sim(5, false, NULL); /* a history of 5 events */
    options(&o, "/api/v1/nodes", sizeof(struct item), decode_item, &x);
    o.watch_timeout_s = 30;
    r = make(&o);
    wait_watching(r, 3000);
    /* A live watch (one event through) the history passes by: an ERROR event with a 410
     * Status. */
    set_node(0, true, true);
    ck_assert(pump(&r, 1, 3000, first_event, r));
    /* Held, so the stream cannot keep up with the changes (it is woken by each) */
    sim_cluster_watch_hold(cl, true);
    for (int i = 0; i < 20; i++)
        set_node(i % 4, true, (i / 4) % 2 == 1);
    sim_cluster_watch_hold(cl, false);
    ck_assert(pump(&r, 1, 4000, relisted, r));
    converge(&r, 1, r, "/api/v1/nodes", 2000);
    st = stats(r);
    ck_assert_uint_eq(st.relists, 1);
    ck_assert_uint_eq(st.events[4], 1);
    ck_assert_uint_eq(st.lists, 2);
    stop_sim(&r, 1);

    /* A watch that ended while the history moved on: 410 when it is opened again. */
    start_sim(5, false, NULL);
    options(&o, "/api/v1/nodes", sizeof(struct item), decode_item, &x);
    o.watch_timeout_s = 1;
    r = make(&o);
    wait_watching(r, 3000);
    usleep(2300 * 1000); /* the server ends the watch (1-2 s); nothing reads meanwhile */
    for (int i = 0; i < 20; i++)
        set_node(i % 4, true, (i / 4) % 2 == 1);
    ck_assert(pump(&r, 1, 4000, relisted, r));
    converge(&r, 1, r, "/api/v1/nodes", 2000);
    st = stats(r);
    ck_assert_uint_eq(st.relists, 1);
    ck_assert_uint_eq(st.events[4], 0); /* the 410 was the watch's answer */
    ck_assert_uint_ge(st.watches, 2);
    stop_sim(&r, 1);
}
END_TEST

/* ---- 5, 6, 7. dropped, stalled and garbled streams ------------------------------------- */

/* Waits for the sync, then checks from the list's resourceVersion on that every decoded
 * object is newer than all before it (no event applied twice). */
static void watch_in_order(struct reflector *r, struct dctx *x)
{
    struct reflector_stats st;

    ck_assert(pump(&r, 1, 3000, synced_and_watching, r));
    st = stats(r);
    x->max_rv = rv_num(&st);
    x->check_order = true;
}

START_TEST(dropped_watch_resumes_where_it_was)
{
    struct reflector_options o;
    struct reflector *r;
    struct dctx x = {0};
    struct reflector_stats st;
    struct sim_faults f;

    memset(&f, 0, sizeof(f));
    f.watch_drop_after = 3;
    f.remaining = 4;
    start_sim(10000, false, &f);
    options(&o, "/api/v1/nodes", sizeof(struct item), decode_item, &x);
    o.watch_timeout_s = 30;
    r = make(&o);
    watch_in_order(r, &x);
    for (int i = 0; i < 40; i++) {
        set_node(i % 4, true, (i / 4) % 2 == 0); /* every call changes the node */
        pump(&r, 1, 25, NULL, NULL);
    }
    converge(&r, 1, r, "/api/v1/nodes", 3000);
    st = stats(r);
    ck_assert_msg(x.out_of_order == 0, "%d events again: %s", x.out_of_order, x.first_out_of_order);
    ck_assert_uint_eq(st.events[1], 40); /* each change once */
    ck_assert_uint_ge(st.watch_restarts, 4);
    ck_assert_uint_eq(st.relists, 0);
    ck_assert_uint_eq(st.lists, 1);
    ck_assert_uint_eq(st.bad_events, 0);
    assert_counters_add_up(r);
    stop_sim(&r, 1);
}
END_TEST

START_TEST(stalled_watch_is_ended_and_resumed)
{
    struct reflector_options o;
    struct reflector *r;
    struct dctx x = {0};
    struct reflector_stats st;
    struct sim_faults f;
    int64_t t0, took;

    memset(&f, 0, sizeof(f));
    f.watch_stall = true;
    f.remaining = 1;
    start_sim(1000, false, &f);
    options(&o, "/api/v1/nodes", sizeof(struct item), decode_item, &x);
    o.watch_timeout_s = 30; /* the server would end the stalled stream only after 30-60 s */
    o.watch_idle_ms = 2500;
    r = make(&o);
    watch_in_order(r, &x);
    t0 = clock_mono_ms();
    set_node(2, false, true);
    converge(&r, 1, r, "/api/v1/nodes", 6000);
    took = clock_mono_ms() - t0;
    st = stats(r);
    ck_assert_msg(took >= 2000 && took < 5000, "caught up after %lld ms (idle limit 2500)",
                  (long long)took);
    ck_assert_uint_ge(st.watch_restarts, 1);
    ck_assert_uint_eq(st.relists, 0);
    ck_assert_uint_ge(st.errors_by_kind[CLUSTER_ERR_TIMEOUT], 1);
    ck_assert_uint_eq(st.events[1], 1);
    ck_assert_int_eq(x.out_of_order, 0);
    ck_assert(pump(&r, 1, 2000, healthy, r));
    assert_counters_add_up(r);
    stop_sim(&r, 1);
}
END_TEST

START_TEST(garbled_event_lists_again)
{
    struct reflector_options o;
    struct reflector *r;
    struct dctx x = {0};
    struct reflector_stats st;
    struct sim_faults f;

    memset(&f, 0, sizeof(f));
    f.watch_garble = true;
    f.remaining = 1;
    start_sim(1000, false, &f);
    options(&o, "/api/v1/nodes", sizeof(struct item), decode_item, &x);
    o.watch_timeout_s = 30;
    r = make(&o);
    wait_watching(r, 3000);
    set_node(3, true, true); /* the first line of the watch, garbled */
    ck_assert(pump(&r, 1, 4000, relisted, r));
    converge(&r, 1, r, "/api/v1/nodes", 2000);
    st = stats(r);
    ck_assert_uint_ge(st.bad_events, 1);
    ck_assert_uint_eq(st.relists, 1);
    ck_assert_uint_eq(st.events[1], 0); /* the change came with the new list */
    stop_sim(&r, 1);
}
END_TEST

/* ---- 8. 10,000 random changes ----------------------------------------------------------- */

/* One random change: Jobs created (1-3 pods, run 1-600 s, TTL 30 s) and deleted (their pods
 * terminate), nodes made ready or not and cordoned or not, time skipped (runs end, TTLs
 * delete, pods finish terminating, the serving replicas follow the clock). */
static void mutate(unsigned *seed)
{
    int what = (int)(rand_r(seed) % 8);
    char name[32];

    snprintf(name, sizeof(name), "j%d", (int)(rand_r(seed) % 60));
    if (what <= 3) {
        create_job(name, 1 + (int)(rand_r(seed) % 3), 1 + (int)(rand_r(seed) % 600));
    } else if (what <= 5) {
        set_node((int)(rand_r(seed) % 4), rand_r(seed) % 4 != 0, rand_r(seed) % 2);
    } else if (what == 6) {
        sim_skip_time(env.sim, (int64_t)(rand_r(seed) % 120) * 1000);
    } else {
        delete_job(name);
    }
}

/* The model's own watch of path from resourceVersion rv, read in-process (no HTTP, no
 * faults): every ADDED and MODIFIED object the reflector must have decoded, once. */
struct reference {
    struct sim_watch *w;
    json_t *want; /* "key@resourceVersion" -> 1 */
};

static void reference_open(struct reference *ref, const char *path, unsigned long long rv)
{
    struct sim_query q;
    struct sim_reply rep;
    char v[32];

    snprintf(v, sizeof(v), "%llu", rv);
    memset(&q, 0, sizeof(q));
    q.resource_version = v;
    ref->w = NULL;
    ck_assert_msg(sim_cluster_watch_open(cl, path, &q, &ref->w, &rep) == 0, "%d %.*s", rep.status,
                  (int)rep.len, rep.body);
    ref->want = json_object();
}

static void reference_line(struct reference *ref, const char *line, size_t len)
{
    json_t *ev = json_loadb(line, len, 0, NULL), *md;
    const char *type, *ns;
    char k[260];

    ck_assert_msg(ev != NULL, "reference watch: %.*s", (int)len, line);
    type = json_string_value(json_object_get(ev, "type"));
    md = json_object_get(json_object_get(ev, "object"), "metadata");
    ns = json_string_value(json_object_get(md, "namespace"));
    if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
        snprintf(k, sizeof(k), "%s%s%s@%s", ns ? ns : "", ns ? "/" : "",
                 json_string_value(json_object_get(md, "name")),
                 json_string_value(json_object_get(md, "resourceVersion")));
        ck_assert_ptr_null(json_object_get(ref->want, k));
        json_object_set_new(ref->want, k, json_integer(1));
    }
    json_decref(ev);
}

static void reference_drain(struct reference *ref)
{
    struct buf b;

    buf_init(&b, 0);
    for (;;) {
        size_t at = 0;

        buf_reset(&b);
        ck_assert_int_eq(sim_cluster_watch_read(cl, ref->w, &b, 1 << 20), 0);
        if (b.len == 0)
            break;
        while (at < b.len) {
            char *nl = memchr(b.data + at, '\n', b.len - at);

            ck_assert_ptr_nonnull(nl);
            reference_line(ref, b.data + at, (size_t)(nl - (b.data + at)));
            at = (size_t)(nl - b.data) + 1;
        }
    }
    buf_free(&b);
}

/* The reflector decoded exactly the reference's objects, each once. */
static void reference_check(struct reference *ref, const struct dctx *x, const char *what)
{
    const char *k;
    json_t *v;
    char diff[1024] = "";
    size_t at = 0;
    int bad = 0;

    reference_drain(ref);
    json_object_foreach(ref->want, k, v)
    {
        if (!json_object_get(x->seen, k) && bad++ < 5 && at < sizeof(diff))
            at += (size_t)snprintf(diff + at, sizeof(diff) - at, " lost %s;", k);
    }
    json_object_foreach(x->seen, k, v)
    {
        if ((!json_object_get(ref->want, k) || json_integer_value(v) != 1) && bad++ < 10 &&
            at < sizeof(diff))
            at += (size_t)snprintf(diff + at, sizeof(diff) - at, " %s decoded %lld times;", k,
                                   (long long)json_integer_value(v));
    }
    ck_assert_msg(bad == 0, "%s: %d events lost or repeated (of %zu):%s", what, bad,
                  json_object_size(ref->want), diff);
    sim_cluster_watch_free(&ref->w);
    json_decref(ref->want);
}

START_TEST(ten_thousand_changes_leave_the_store_exact)
{
    struct reflector_options o;
    struct reflector *rs[2];
    struct dctx xp = {0}, xn = {0};
    struct reflector_stats sp, sn;
    struct reference refp, refn;
    struct sim_faults f;
    unsigned seed = 14;

    memset(&f, 0, sizeof(f));
    f.watch_drop_after = 11;
    f.remaining = 4;
    start_sim(200000, true, &f);
    xp.seen = json_object();
    xn.seen = json_object();
    options(&o, "/api/v1/pods", sizeof(struct item), decode_item, &xp);
    rs[0] = make(&o);
    options(&o, "/api/v1/nodes", sizeof(struct item), decode_item, &xn);
    rs[1] = make(&o);
    watch_in_order(rs[0], &xp);
    watch_in_order(rs[1], &xn);
    reference_open(&refp, "/api/v1/pods", xp.max_rv);
    reference_open(&refn, "/api/v1/nodes", xn.max_rv);
    for (int i = 0; i < 10000; i++) {
        mutate(&seed);
        if (i % 2500 == 1249) {
            f.watch_drop_after = 5 + (int)(rand_r(&seed) % 30);
            f.remaining = 4;
            set_faults(&f);
        }
        if (i % 50 == 49) {
            pump(rs, 2, 5, NULL, NULL);
            reference_drain(&refp);
            reference_drain(&refn);
        }
    }
    clear_faults();
    converge(rs, 2, rs[0], "/api/v1/pods", 8000);
    converge(rs, 2, rs[1], "/api/v1/nodes", 3000);
    reference_check(&refp, &xp, "pods");
    reference_check(&refn, &xn, "nodes");
    sp = stats(rs[0]);
    sn = stats(rs[1]);
    ck_assert_msg(xp.out_of_order == 0, "pods: %d events again: %s", xp.out_of_order,
                  xp.first_out_of_order);
    ck_assert_msg(xn.out_of_order == 0, "nodes: %d events again: %s", xn.out_of_order,
                  xn.first_out_of_order);
    ck_assert_uint_eq(sp.relists + sn.relists, 0);
    ck_assert_uint_ge(sp.watch_restarts + sn.watch_restarts, 4);
    ck_assert_uint_gt(sp.events[0], 500);
    ck_assert_uint_gt(sp.events[2], 500);
    ck_assert_uint_gt(sn.events[1], 1000);
    ck_assert_uint_eq(sp.bad_items + sn.bad_items + sp.bad_events + sn.bad_events, 0);
    json_decref(xp.seen);
    json_decref(xn.seen);
    stop_sim(rs, 2);
}
END_TEST

/* ---- 9. the connector's faults ---------------------------------------------------------- */

struct failing {
    struct reflector *r;
    enum cluster_error_kind kind;
    uint64_t before; /* errors of the kind before the fault */
    int times;       /* consecutive failures to see */
};

static bool failed_with(void *arg)
{
    struct failing *w = arg;
    struct reflector_stats st = stats(w->r);

    return st.errors_by_kind[w->kind] > w->before && st.consecutive_failures >= w->times;
}

static void see_failure(struct failing *w, const char *what, int ms)
{
    struct reflector_stats st;

    if (!pump(&w->r, 1, ms, failed_with, w)) {
        st = stats(w->r);
        ck_abort_msg("%s: no %s failure (x%d) in %d ms: errors_by_kind %llu, consecutive %d, "
                     "last error %s",
                     what, cluster_error_kind_name(w->kind), w->times, ms,
                     (unsigned long long)st.errors_by_kind[w->kind], st.consecutive_failures,
                     st.last_error);
    }
    st = stats(w->r);
    ck_assert_msg(st.last_error[0] != '\0', "%s: no last_error", what);
    ck_assert_msg(st.last_error_kind == w->kind, "%s: last_error_kind %s (%s)", what,
                  cluster_error_kind_name(st.last_error_kind), st.last_error);
}

static void recover(struct reflector *r, const char *what, int ms)
{
    struct reflector_stats st;

    if (!pump(&r, 1, ms, healthy, r)) {
        st = stats(r);
        ck_abort_msg("%s: not healthy %d ms after the fault cleared: state %d, consecutive %d, "
                     "last error %s",
                     what, ms, (int)st.state, st.consecutive_failures, st.last_error);
    }
    converge(&r, 1, r, "/api/v1/nodes", 3000);
}

enum phase { ON_WATCH = 1, ON_LIST = 2 };

/* Healthy, then the fault on the next watch request (watches last 1-2 s) and/or on a
 * re-list; each time the failure shows with its kind, a node changes meanwhile, and once
 * the fault is cleared the reflector is healthy again with that change in its store. */
static void fault_case(const struct sim_faults *f, enum cluster_error_kind kind, int phases,
                       int times)
{
    struct reflector_options o;
    struct reflector *r;
    struct dctx x = {0};
    struct failing w;
    uint64_t relists;

    start_sim(1000, false, NULL);
    options(&o, "/api/v1/nodes", sizeof(struct item), decode_item, &x);
    o.watch_timeout_s = 1;
    o.request_timeout_ms = 1000;
    o.watch_idle_ms = 2500;
    r = make(&o);
    ck_assert(pump(&r, 1, 3000, healthy, r));
    w.r = r;
    w.kind = kind;
    w.times = times;
    if (phases & ON_WATCH) {
        w.before = stats(r).errors_by_kind[kind];
        set_faults(f);
        set_node(0, true, true);
        see_failure(&w, "watch", 9000);
        clear_faults();
        recover(r, "watch", 4000);
    }
    if (phases & ON_LIST) {
        w.before = stats(r).errors_by_kind[kind];
        relists = stats(r).relists;
        set_faults(f);
        reflector_relist(r, multi);
        set_node(0, true, false);
        see_failure(&w, "list", 6000);
        ck_assert(reflector_synced(r)); /* the old store stays */
        ck_assert_uint_eq(reflector_count(r), 4);
        clear_faults();
        recover(r, "list", 4000);
        ck_assert_uint_gt(stats(r).relists, relists);
    }
    assert_counters_add_up(r);
    stop_sim(&r, 1);
}

START_TEST(fault_503)
{
    struct sim_faults f;

    memset(&f, 0, sizeof(f));
    f.status = 503;
    fault_case(&f, CLUSTER_ERR_HTTP_5XX, ON_WATCH | ON_LIST, 2);
}
END_TEST

START_TEST(fault_500)
{
    struct sim_faults f;

    memset(&f, 0, sizeof(f));
    f.status = 500;
    fault_case(&f, CLUSTER_ERR_HTTP_5XX, ON_LIST, 2);
}
END_TEST

START_TEST(fault_hang)
{
    struct sim_faults f;

    memset(&f, 0, sizeof(f));
    f.latency_ms = 8000;
    fault_case(&f, CLUSTER_ERR_TIMEOUT, ON_WATCH | ON_LIST, 1);
}
END_TEST

START_TEST(fault_dropped_connection)
{
    struct sim_faults f;

    memset(&f, 0, sizeof(f));
    f.drop = true;
    fault_case(&f, CLUSTER_ERR_CONNECT, ON_WATCH | ON_LIST, 2);
}
END_TEST

START_TEST(fault_malformed_list)
{
    struct sim_faults f;

    memset(&f, 0, sizeof(f));
    f.malformed = true;
    fault_case(&f, CLUSTER_ERR_MALFORMED, ON_LIST, 2);
}
END_TEST

START_TEST(fault_401)
{
    struct sim_faults f;

    memset(&f, 0, sizeof(f));
    f.unauthorized = true;
    fault_case(&f, CLUSTER_ERR_UNAUTHORIZED, ON_WATCH | ON_LIST, 2);
}
END_TEST

/* 429 with Retry-After: 2 s: no request before they pass, though the back-off is 500 ms at
 * most; a 503 after it, without Retry-After, waits the back-off only. */
static bool requested(void *arg)
{
    return sim_requests(env.sim, CLUSTER) > *(uint64_t *)arg;
}

START_TEST(fault_429_retry_after)
{
    struct reflector_options o;
    struct reflector *r;
    struct dctx x = {0};
    struct sim_faults f;
    struct failing w;
    struct reflector_stats st;
    uint64_t n0;
    int64_t t0, gap;

    start_sim(1000, false, NULL);
    options(&o, "/api/v1/nodes", sizeof(struct item), decode_item, &x);
    r = make(&o);
    ck_assert(pump(&r, 1, 3000, healthy, r));
    memset(&f, 0, sizeof(f));
    f.status = 429;
    f.retry_after_s = 2;
    set_faults(&f);
    reflector_relist(r, multi);
    w.r = r;
    w.kind = CLUSTER_ERR_RATE_LIMITED;
    w.before = 0;
    w.times = 1;
    see_failure(&w, "429", 3000);
    /* The fault also ends the open watch, so a second request (its re-open, or the list)
     * may be on its way: let it get its 429 too, then count from there. The last 429 came
     * at most 300 ms before t0, so the next request is due 1.7 to 2 s after it. */
    pump(&r, 1, 300, NULL, NULL);
    t0 = clock_mono_ms();
    n0 = sim_requests(env.sim, CLUSTER);
    st = stats(r);
    ck_assert_int_eq(st.retry_after_s, 2);
    ck_assert_int_eq(st.last_error_code, ERR_RATE_LIMITED);
    ck_assert(pump(&r, 1, 4000, requested, &n0));
    gap = clock_mono_ms() - t0;
    ck_assert_msg(gap >= 1500 && gap < 3000, "asked again %lld ms after a Retry-After of 2 s",
                  (long long)gap);
    /* Then a 503 without Retry-After: the 429's 2 s are over, and the next request waits
     * only the back-off (500 ms at most). */
    memset(&f, 0, sizeof(f));
    f.status = 503;
    set_faults(&f);
    w.kind = CLUSTER_ERR_HTTP_5XX;
    w.before = 0;
    see_failure(&w, "503 after a 429", 4000);
    t0 = clock_mono_ms();
    n0 = sim_requests(env.sim, CLUSTER);
    st = stats(r);
    ck_assert_int_eq(st.retry_after_s, 0);
    ck_assert_int_eq(st.last_error_kind, CLUSTER_ERR_HTTP_5XX);
    ck_assert(pump(&r, 1, 4000, requested, &n0));
    gap = clock_mono_ms() - t0;
    ck_assert_msg(gap < 1500, "asked again %lld ms after a 503 without Retry-After",
                  (long long)gap);
    clear_faults();
    recover(r, "429", 4000);
    stop_sim(&r, 1);
}
END_TEST

static bool expired_seen(void *arg)
{
    struct failing *w = arg;

    return stats(w->r).errors_by_kind[CLUSTER_ERR_EXPIRED] > w->before;
}

/* 410 on the continue token: the list starts again from its first page. Once: that start
 * is the recovery; always: it fails (backs off) until the fault clears. */
static void continue_expired(int remaining)
{
    struct reflector_options o;
    struct reflector *r;
    struct dctx x = {0};
    struct sim_faults f;
    struct failing w;
    struct reflector_stats st;

    start_sim(1000, false, NULL);
    options(&o, "/api/v1/nodes", sizeof(struct item), decode_item, &x);
    o.page_limit = 2; /* 4 nodes: two pages */
    r = make(&o);
    ck_assert(pump(&r, 1, 3000, healthy, r));
    ck_assert_uint_eq(stats(r).lists, 2);
    memset(&f, 0, sizeof(f));
    f.expire_continue = true;
    f.remaining = remaining;
    set_faults(&f);
    set_node(1, true, true);
    reflector_relist(r, multi);
    w.r = r;
    w.kind = CLUSTER_ERR_EXPIRED;
    w.before = 0;
    w.times = 1;
    ck_assert(pump(&r, 1, 3000, expired_seen, &w));
    if (remaining == 0) {
        see_failure(&w, "410 on continue, always", 3000);
        clear_faults();
    }
    recover(r, "410 on continue", 4000);
    st = stats(r);
    if (remaining == 1) {
        ck_assert_uint_eq(st.errors_by_kind[CLUSTER_ERR_EXPIRED], 1);
        ck_assert_uint_eq(st.lists, 2 + 2 + 2); /* first list, the page before the 410, again */
    }
    ck_assert_uint_ge(st.relists, 2); /* ours, and the start again after the 410 */
    assert_counters_add_up(r);
    stop_sim(&r, 1);
}

START_TEST(fault_continue_expired_once)
{
    continue_expired(1);
}
END_TEST

START_TEST(fault_continue_expired_always)
{
    continue_expired(0);
}
END_TEST

static void write_token(const char *token)
{
    FILE *f;

    usleep(20 * 1000); /* a distinct mtime */
    f = fopen(env.cfgs[0].token_file, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%s\n", token);
    fclose(f);
}

/* The token file is rewritten: the next request carries the new token. */
START_TEST(rotated_token_is_used_at_the_next_request)
{
    struct reflector_options o;
    struct reflector *r;
    struct dctx x = {0};
    struct failing w;

    start_sim(1000, false, NULL);
    options(&o, "/api/v1/nodes", sizeof(struct item), decode_item, &x);
    o.watch_timeout_s = 1;
    r = make(&o);
    ck_assert(pump(&r, 1, 3000, healthy, r));
    w.r = r;
    w.kind = CLUSTER_ERR_UNAUTHORIZED;
    w.before = 0;
    w.times = 2;
    /* on the next watch */
    write_token("stale-token");
    set_node(0, true, true);
    see_failure(&w, "stale token, watch", 4000);
    ck_assert_int_eq(stats(r).last_error_code, ERR_UNAUTHORIZED);
    write_token(TOKEN);
    recover(r, "rotated token, watch", 3000);
    /* on a list */
    w.before = stats(r).errors_by_kind[CLUSTER_ERR_UNAUTHORIZED];
    write_token("stale-token");
    reflector_relist(r, multi);
    see_failure(&w, "stale token, list", 3000);
    write_token(TOKEN);
    set_node(0, true, false);
    recover(r, "rotated token, list", 3000);
    stop_sim(&r, 1);
}
END_TEST

/* ---- 10. byte caps ---------------------------------------------------------------------- */

struct errors_reach {
    struct reflector *r;
    uint64_t n;
};

static bool errors_reached(void *arg)
{
    struct errors_reach *w = arg;

    return stats(w->r).errors_total >= w->n;
}

START_TEST(oversized_event_fails_cleanly)
{
    struct reflector_options o;
    struct reflector *r;
    struct dctx x = {0};
    struct reflector_stats st;
    struct errors_reach w;
    uint64_t n0;

    start_sim(1000, false, NULL);
    options(&o, "/api/v1/nodes", sizeof(struct item), decode_item, &x);
    o.watch_timeout_s = 30;
    o.max_event_bytes = 400; /* a bookmark fits, a Node does not */
    r = make(&o);
    ck_assert(pump(&r, 1, 3000, healthy, r));
    set_node(2, true, true);
    w.r = r;
    w.n = 1;
    if (!pump(&r, 1, 3000, errors_reached, &w)) {
        st = stats(r);
        ck_abort_msg("no error for an event over max_event_bytes: errors %llu, last %s",
                     (unsigned long long)st.errors_total, st.last_error);
    }
    st = stats(r);
    ck_assert_str_ne(st.last_error, "");
    ck_assert_int_eq(st.last_error_code, ERR_TOO_LARGE);
    ck_assert_uint_eq(st.events[1], 0); /* not applied */
    /* and it does not spin: back-off between attempts */
    n0 = sim_requests(env.sim, CLUSTER);
    pump(&r, 1, 1000, NULL, NULL);
    ck_assert_uint_le(sim_requests(env.sim, CLUSTER) - n0, 12);
    ck_assert_uint_eq(reflector_count(r), 4);
    /* The event is lost to the watch: only a new list brings the change. */
    converge(&r, 1, r, "/api/v1/nodes", 2000);
    ck_assert_uint_ge(stats(r).relists, 1);
    stop_sim(&r, 1);
}
END_TEST

START_TEST(oversized_list_page_fails_cleanly)
{
    struct reflector_options o;
    struct reflector *r;
    struct dctx x = {0};
    struct reflector_stats st;
    struct errors_reach w;

    start_sim(1000, false, NULL);
    ck_assert_int_eq(create_job("big", 120, 36000), 201);
    options(&o, "/api/v1/pods", sizeof(struct item), decode_item, &x);
    o.max_list_bytes = 16384; /* a page of 50 pods is far more */
    r = make(&o);
    w.r = r;
    w.n = 2;
    ck_assert(pump(&r, 1, 3000, errors_reached, &w));
    st = stats(r);
    ck_assert(!st.synced);
    ck_assert_uint_eq(reflector_count(r), 0);
    ck_assert_str_ne(st.last_error, "");
    ck_assert_int_eq(st.last_error_code, ERR_TOO_LARGE);
    ck_assert_int_ge(st.consecutive_failures, 2);
    ck_assert_uint_eq(st.watches, 0);
    stop_sim(&r, 1);
}
END_TEST

/* Watches that get nowhere back off, growing: one ended cleanly at once without an event
 * (a server shutting down, or ending every watch as it starts) is no failure but waits
 * before the next; broken first events, each after a 200 that resets the failure count,
 * still double the pause. Without a socket: reflector_feed(). */
START_TEST(watches_that_get_nowhere_back_off)
{
    static const char list[] =
        "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"7\"},"
        "\"items\":[]}";
    static const char event[] =
        "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":"
        "{\"name\":\"p\",\"namespace\":\"a\",\"resourceVersion\":\"8\"},\"spec\":{},"
        "\"status\":{\"phase\":\"Pending\"}}}\n";
    struct cluster_config cfg;
    struct reflector_options o;
    struct reflector *r = NULL;
    struct dctx x;
    struct err e = {0};
    int64_t prev = 0;

    memset(&cfg, 0, sizeof(cfg));
    memset(&x, 0, sizeof(x));
    snprintf(cfg.name, sizeof(cfg.name), "fed");
    snprintf(cfg.api_server, sizeof(cfg.api_server), "https://127.0.0.1:1");
    options(&o, "/api/v1/pods", sizeof(struct k8s_pod), decode_pod, &x);
    o.backoff_base_ms = 100;
    o.backoff_max_ms = 60000;
    ck_assert_int_eq(reflector_new(&cfg, &o, &r, &e), 0);
    ck_assert_int_eq(reflector_feed(r, true, list, strlen(list), 0), 0);
    ck_assert(stats(r).synced);
    /* An empty watch, ended at once: no failure, but a pause. */
    ck_assert_int_eq(reflector_feed(r, false, "", 0, 0), 0);
    ck_assert_int_eq(stats(r).consecutive_failures, 0);
    ck_assert_int_gt(reflector_next_request_mono(r), clock_mono_ms());
    /* Garbled first events: each lists again after a pause that doubles (equal jitter:
     * between half and all of 100, 200, 400 ... ms). */
    for (int i = 0; i < 6; i++) {
        int64_t wait;

        ck_assert_int_eq(reflector_feed(r, true, list, strlen(list), 0), 0);
        ck_assert_int_eq(reflector_feed(r, false, "{not json}\n", 11, 0), 0);
        wait = reflector_next_request_mono(r) - clock_mono_ms();
        ck_assert_msg(wait >= (100LL << (i + 1)) / 2 - 5, "pause %lld ms after %d", (long long)wait,
                      i + 2);
        ck_assert_int_ge(wait, prev / 2);
        prev = wait;
    }
    ck_assert_uint_eq(stats(r).bad_events, 6);
    /* A watch that applies an event resets it: the next quick failure pauses briefly. */
    ck_assert_int_eq(reflector_feed(r, true, list, strlen(list), 0), 0);
    ck_assert_int_eq(reflector_feed(r, false, event, strlen(event), 7), 0);
    ck_assert_uint_eq(reflector_count(r), 1);
    ck_assert_int_eq(reflector_feed(r, false, "{not json}\n", 11, 0), 0);
    ck_assert_int_le(reflector_next_request_mono(r) - clock_mono_ms(), 100);
    reflector_free(&r, NULL);
}
END_TEST

static TCase *tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return tc;
}

/* Cases by area, so that one can be run alone: CK_RUN_CASE=faults. */
int main(void)
{
    Suite *s = suite_create("reflector");
    TCase *tc;
    SRunner *sr;
    int failed;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    tc = tcase(s, "list");
    tcase_add_test(tc, first_list_comes_in_pages);
    tcase_add_test(tc, options_are_checked);
    tcase_add_test(tc, selectors_filter_list_and_watch);
    tcase_add_test(tc, readers_never_see_a_half_listed_store);
    tc = tcase(s, "watch");
    tcase_add_test(tc, watch_events_change_the_store);
    tcase_add_test(tc, bookmarks_move_the_resource_version);
    tcase_add_test(tc, expired_watch_lists_again);
    tcase_add_test(tc, dropped_watch_resumes_where_it_was);
    tcase_add_test(tc, stalled_watch_is_ended_and_resumed);
    tcase_add_test(tc, garbled_event_lists_again);
    tcase_add_test(tc, watches_that_get_nowhere_back_off);
    tc = tcase(s, "changes");
    tcase_add_test(tc, ten_thousand_changes_leave_the_store_exact);
    tc = tcase(s, "faults");
    tcase_add_test(tc, fault_503);
    tcase_add_test(tc, fault_500);
    tcase_add_test(tc, fault_hang);
    tcase_add_test(tc, fault_dropped_connection);
    tcase_add_test(tc, fault_malformed_list);
    tcase_add_test(tc, fault_401);
    tcase_add_test(tc, fault_429_retry_after);
    tcase_add_test(tc, fault_continue_expired_once);
    tcase_add_test(tc, fault_continue_expired_always);
    tcase_add_test(tc, rotated_token_is_used_at_the_next_request);
    tc = tcase(s, "caps");
    tcase_add_test(tc, oversized_event_fails_cleanly);
    tcase_add_test(tc, oversized_list_page_fails_cleanly);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
