/* test_sim_watch.c -- the simulated cluster's watches against the model itself: a list then
 * a watch from its resourceVersion rebuilds exactly what a fresh list shows after 1,000+
 * random changes; resourceVersions only grow; selectors turn objects that stop matching
 * into DELETED; bookmarks; 410 Expired for a resourceVersion the history no longer holds
 * and an ERROR event for a watcher it passes by; over HTTP (loopback): the chunked stream,
 * one event per line, changes seen without requests, bookmarks, timeoutSeconds, 410 and
 * the watch faults (drop, stall, garble). */
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "tools/kubesim/kubesim.h"
#include "tools/kubesim/kubesim_cluster.h"
#include "tools/kubesim/kubesim_scenario.h"

#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct sim_scenario *scn;
static struct sim_clock clk;
static struct sim_cluster *c1;

/* One cluster with serving replicas on a diurnal curve (they move as time passes), a busy
 * node and room for Jobs; history as given. */
static void make_cluster(int history)
{
    struct err e = {0};
    char text[2048];

    snprintf(text, sizeof(text),
             "{\"startTime\":\"2026-11-28T06:00:00Z\",\"clusters\":[{\"name\":\"w1\","
             "\"watchHistory\":%d,\"nodePools\":["
             "{\"name\":\"a\",\"count\":4,\"product\":\"NVIDIA-A100\",\"gpus\":8,\"busy\":1},"
             "{\"name\":\"l4\",\"count\":3,\"product\":\"NVIDIA-L4\",\"gpus\":4,"
             "\"pool\":\"serving\"}],"
             "\"deployments\":[{\"name\":\"eta\",\"namespace\":\"serving\","
             "\"gpusPerReplica\":1,\"product\":\"NVIDIA-L4\",\"minReplicas\":1,"
             "\"maxReplicas\":10,\"peakHour\":18}]}]}",
             history);
    ck_assert_msg(sim_scenario_parse(text, strlen(text), &scn, &e) == 0, "%s", e.msg);
    sim_clock_init(&clk, 1, scn->start_ms);
    ck_assert_int_eq(sim_cluster_new(&scn->clusters[0], &clk, 60000, &c1, &e), 0);
}

static void teardown(void)
{
    sim_cluster_free(&c1);
    sim_scenario_free(&scn);
}

static json_t *call(const char *method, const char *path, const char *body, int want)
{
    struct sim_query q;
    struct sim_reply r;
    json_t *j;

    memset(&q, 0, sizeof(q));
    sim_cluster_handle(c1, method, path, &q, body ? body : "", body ? strlen(body) : 0, &r);
    ck_assert_msg(r.status == want, "%s %s: %d %.*s", method, path, r.status, (int)r.len, r.body);
    j = json_loadb(r.body, r.len, 0, NULL);
    free(r.body);
    ck_assert_ptr_nonnull(j);
    return j;
}

static const char *md(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), k));
}

static unsigned long long rv_of(const json_t *o)
{
    const char *v = md(o, "resourceVersion");

    ck_assert_ptr_nonnull(v);
    return strtoull(v, NULL, 10);
}

/* namespace/name -> "uid@resourceVersion" of every item of a list. */
static json_t *state_of_list(const json_t *list)
{
    json_t *st = json_object(), *it;
    size_t i;

    json_array_foreach(json_object_get(list, "items"), i, it)
    {
        char k[400], v[100];

        snprintf(k, sizeof(k), "%s/%s", md(it, "namespace") ? md(it, "namespace") : "",
                 md(it, "name"));
        snprintf(v, sizeof(v), "%s@%s", md(it, "uid"), md(it, "resourceVersion"));
        json_object_set_new(st, k, json_string(v));
    }
    return st;
}

/* A watch and the state it rebuilt from its events. */
struct watcher {
    struct sim_watch *w;
    json_t *state;
    unsigned long long last_rv;
    int events, bookmarks;
};

static struct sim_watch *open_watch(const char *path, const char *rv, const char *fields, int want)
{
    struct sim_query q;
    struct sim_reply rep;
    struct sim_watch *w = NULL;
    int rc;

    memset(&q, 0, sizeof(q));
    q.resource_version = rv;
    q.field_selector = fields;
    rc = sim_cluster_watch_open(c1, path, &q, &w, &rep);
    if (want == 0) {
        ck_assert_msg(rc == 0, "watch %s from %s: %d %.*s", path, rv, rep.status, (int)rep.len,
                      rep.body);
        return w;
    }
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(rep.status, want);
    ck_assert_ptr_null(w);
    free(rep.body);
    return NULL;
}

/* Applies one event line; checks its shape and that resourceVersions only grow. */
static void apply(struct watcher *x, const char *line, size_t len)
{
    json_t *ev = json_loadb(line, len, 0, NULL), *o;
    const char *type;
    char k[400], v[100];

    ck_assert_msg(ev != NULL, "not JSON: %.*s", (int)len, line);
    type = json_string_value(json_object_get(ev, "type"));
    o = json_object_get(ev, "object");
    ck_assert_ptr_nonnull(type);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(o, "kind")));
    ck_assert_msg(rv_of(o) > x->last_rv, "%s rv %llu after %llu", type, rv_of(o), x->last_rv);
    x->last_rv = rv_of(o);
    snprintf(k, sizeof(k), "%s/%s", md(o, "namespace") ? md(o, "namespace") : "", md(o, "name"));
    snprintf(v, sizeof(v), "%s@%s", md(o, "uid"), md(o, "resourceVersion"));
    if (strcmp(type, "ADDED") == 0) {
        ck_assert_msg(!json_object_get(x->state, k), "ADDED twice: %s", k);
        json_object_set_new(x->state, k, json_string(v));
    } else if (strcmp(type, "MODIFIED") == 0) {
        ck_assert_msg(json_object_get(x->state, k) != NULL, "MODIFIED unknown: %s", k);
        json_object_set_new(x->state, k, json_string(v));
    } else if (strcmp(type, "DELETED") == 0) {
        ck_assert_msg(json_object_del(x->state, k) == 0, "DELETED unknown: %s", k);
    } else {
        ck_assert_str_eq(type, "BOOKMARK");
        x->bookmarks++;
    }
    x->events++;
    json_decref(ev);
}

/* Reads every pending event in small slices (as a slow reader would). Returns the read's
 * result (1: ended with ERROR). */
static int drain(struct watcher *x)
{
    struct buf b;
    int rc = 0;

    buf_init(&b, 0);
    for (;;) {
        size_t at = 0;

        buf_reset(&b);
        rc = sim_cluster_watch_read(c1, x->w, &b, 4096);
        if (b.len == 0 || rc)
            break;
        while (at < b.len) {
            char *nl = memchr(b.data + at, '\n', b.len - at);

            ck_assert_ptr_nonnull(nl);
            apply(x, b.data + at, (size_t)(nl - (b.data + at)));
            at = (size_t)(nl - b.data) + 1;
        }
    }
    buf_free(&b);
    return rc;
}

static char *job_body(const char *name, int n, int seconds)
{
    char *b = malloc(2048);

    snprintf(b, 2048,
             "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"%s\","
             "\"annotations\":{\"sim.fedsched.io/duration-seconds\":\"%d\"}},"
             "\"spec\":{\"parallelism\":%d,\"completions\":%d,\"ttlSecondsAfterFinished\":%d,"
             "\"template\":{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":"
             "\"main\",\"image\":\"registry.local/train:1\",\"resources\":{\"limits\":"
             "{\"nvidia.com/gpu\":\"1\"}}}]}}}}",
             name, seconds, n, n, seconds);
    return b;
}

/* One random change: Jobs created and deleted, nodes flipped, secrets created and
 * deleted, time passing (Jobs finish, TTLs delete them, replicas follow the curve). */
static void mutate(unsigned *seed, int i)
{
    int what = (int)(rand_r(seed) % 6);
    char path[256], name[64], *body;
    struct sim_query q;
    struct sim_reply r;

    memset(&q, 0, sizeof(q));
    snprintf(name, sizeof(name), "j%d", (int)(rand_r(seed) % 40));
    if (what == 0) {
        body = job_body(name, 1 + (int)(rand_r(seed) % 3), 1 + (int)(rand_r(seed) % 60));
        sim_cluster_handle(c1, "POST", "/apis/batch/v1/namespaces/default/jobs", &q, body,
                           strlen(body), &r);
        free(body);
    } else if (what == 1) {
        q.propagation_policy = "Background";
        snprintf(path, sizeof(path), "/apis/batch/v1/namespaces/default/jobs/%s", name);
        sim_cluster_handle(c1, "DELETE", path, &q, "", 0, &r);
    } else if (what == 2) {
        snprintf(name, sizeof(name), "a-%d", (int)(rand_r(seed) % 4));
        ck_assert_int_eq(sim_cluster_set_node(c1, name, rand_r(seed) % 2, rand_r(seed) % 2, NULL),
                         0);
        return;
    } else if (what == 3) {
        snprintf(path, sizeof(path),
                 "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s%d\"}}",
                 i % 7);
        sim_cluster_handle(c1, "POST", "/api/v1/namespaces/default/secrets", &q, path, strlen(path),
                           &r);
    } else if (what == 4) {
        snprintf(path, sizeof(path), "/api/v1/namespaces/default/secrets/s%d", i % 7);
        sim_cluster_handle(c1, "DELETE", path, &q, "", 0, &r);
    } else {
        sim_clock_skip(&clk, (int64_t)(rand_r(seed) % 900) * 1000);
        sim_cluster_tick(c1);
        return;
    }
    free(r.body);
}

static json_t *list_state(const char *path, unsigned long long *rv)
{
    json_t *l = call("GET", path, NULL, 200), *st = state_of_list(l);

    if (rv)
        *rv = rv_of(l);
    json_decref(l);
    return st;
}

static void check_same(struct watcher *x, const char *path)
{
    json_t *want = list_state(path, NULL);
    char *a = json_dumps(x->state, JSON_SORT_KEYS), *b = json_dumps(want, JSON_SORT_KEYS);

    ck_assert_msg(json_equal(x->state, want), "%s: watch rebuilt\n%s\nlist says\n%s", path, a, b);
    free(a);
    free(b);
    json_decref(want);
}

START_TEST(list_then_watch_sees_every_change_once)
{
    static const char *const paths[] = {"/api/v1/pods", "/api/v1/nodes",
                                        "/apis/batch/v1/namespaces/default/jobs",
                                        "/api/v1/namespaces/default/secrets"};
    struct watcher x[5];
    unsigned seed = 7;
    char rv[32];

    make_cluster(100000);
    for (int k = 0; k < 4; k++) {
        unsigned long long at;

        memset(&x[k], 0, sizeof(x[k]));
        x[k].state = list_state(paths[k], &at);
        snprintf(rv, sizeof(rv), "%llu", at);
        x[k].last_rv = at;
        x[k].w = open_watch(paths[k], rv, NULL, 0);
    }
    /* And one that starts from nothing: synthetic ADDED events first. */
    memset(&x[4], 0, sizeof(x[4]));
    x[4].state = json_object();
    x[4].w = open_watch("/api/v1/pods", "", NULL, 0);
    ck_assert_int_eq(drain(&x[4]), 0);
    ck_assert_int_gt(x[4].events, 0);
    x[4].last_rv = 0;
    for (int i = 0; i < 1500; i++) {
        mutate(&seed, i);
        if (i % 97 == 0)
            for (int k = 0; k < 5; k++)
                ck_assert_int_eq(drain(&x[k]), 0);
    }
    for (int k = 0; k < 5; k++) {
        ck_assert_int_eq(drain(&x[k]), 0);
        check_same(&x[k], k == 4 ? paths[0] : paths[k]);
        ck_assert_int_gt(x[k].events, 20);
        sim_cluster_watch_free(&x[k].w);
        json_decref(x[k].state);
    }
    teardown();
}
END_TEST

START_TEST(selectors_turn_leavers_into_deleted)
{
    struct watcher x;
    char *body = job_body("sel", 2, 30);

    make_cluster(1000);
    memset(&x, 0, sizeof(x));
    x.state = json_object();
    x.w = open_watch("/api/v1/namespaces/default/pods", "", "status.phase=Running", 0);
    ck_assert_int_eq(drain(&x), 0);
    ck_assert_int_eq((int)json_object_size(x.state), 0);
    json_decref(call("POST", "/apis/batch/v1/namespaces/default/jobs", body, 201));
    free(body);
    sim_clock_skip(&clk, 5000);
    sim_cluster_tick(c1);
    ck_assert_int_eq(drain(&x), 0);
    ck_assert_int_eq((int)json_object_size(x.state), 2); /* ADDED as they started running */
    sim_clock_skip(&clk, 40000);
    sim_cluster_tick(c1);
    ck_assert_int_eq(drain(&x), 0);
    ck_assert_int_eq((int)json_object_size(x.state), 0); /* DELETED as they succeeded */
    sim_cluster_watch_free(&x.w);
    json_decref(x.state);
    teardown();
}
END_TEST

START_TEST(bookmarks_only_when_caught_up)
{
    struct watcher x;
    struct buf b;
    unsigned long long at;
    char rv[32];
    json_t *ev;

    make_cluster(1000);
    memset(&x, 0, sizeof(x));
    x.state = list_state("/api/v1/nodes", &at);
    snprintf(rv, sizeof(rv), "%llu", at);
    x.w = open_watch("/api/v1/nodes", rv, NULL, 0);
    ck_assert_int_eq(sim_cluster_set_node(c1, "a-0", false, false, NULL), 0);
    buf_init(&b, 0);
    ck_assert(!sim_cluster_watch_bookmark(c1, x.w, &b)); /* an event is pending */
    ck_assert_int_eq(b.len, 0);
    ck_assert_int_eq(drain(&x), 0);
    ck_assert_int_eq(x.events, 1);
    ck_assert(sim_cluster_watch_bookmark(c1, x.w, &b));
    ev = json_loadb(b.data, b.len, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "type")), "BOOKMARK");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ev, "object"), "kind")),
                     "Node");
    ck_assert_uint_ge(rv_of(json_object_get(ev, "object")), x.last_rv);
    json_decref(ev);
    buf_free(&b);
    sim_cluster_watch_free(&x.w);
    json_decref(x.state);
    teardown();
}
END_TEST

START_TEST(too_old_resource_versions_expire)
{
    struct watcher x;
    struct sim_query q;
    struct sim_reply rep;
    struct sim_watch *w = NULL;
    unsigned long long at;
    unsigned seed = 3;
    char rv[32];

    make_cluster(5);
    memset(&x, 0, sizeof(x));
    x.state = list_state("/api/v1/nodes", &at);
    snprintf(rv, sizeof(rv), "%llu", at);
    x.w = open_watch("/api/v1/nodes", rv, NULL, 0);
    for (int i = 0; i < 12; i++) {
        char node[16];

        snprintf(node, sizeof(node), "a-%d", i % 4);
        ck_assert_int_eq(sim_cluster_set_node(c1, node, i % 2 == 0, false, NULL), 0);
        mutate(&seed, i);
    }
    /* A new watch from the old list: 410 Expired naming the version. */
    memset(&q, 0, sizeof(q));
    q.resource_version = rv;
    ck_assert_int_eq(sim_cluster_watch_open(c1, "/api/v1/nodes", &q, &w, &rep), -1);
    ck_assert_int_eq(rep.status, 410);
    ck_assert_msg(strstr(rep.body, "\"Expired\"") && strstr(rep.body, "too old resource version"),
                  "%.*s", (int)rep.len, rep.body);
    free(rep.body);
    /* The live watcher the window passed by ends with an ERROR event. */
    {
        struct buf b;
        json_t *ev;

        buf_init(&b, 0);
        ck_assert_int_eq(sim_cluster_watch_read(c1, x.w, &b, 65536), 1);
        ev = json_loadb(b.data, b.len, 0, NULL);
        ck_assert_ptr_nonnull(ev);
        ck_assert_str_eq(json_string_value(json_object_get(ev, "type")), "ERROR");
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(ev, "object"), "code")),
                         410);
        json_decref(ev);
        buf_free(&b);
    }
    /* Bad starting points and paths. */
    open_watch("/api/v1/nodes", "abc", NULL, 400);
    open_watch("/api/v1/nodes/a-0", "", NULL, 404);
    open_watch("/api/v1/pods", "", "spec.bogus=1", 400);
    sim_cluster_watch_free(&x.w);
    json_decref(x.state);
    teardown();
}
END_TEST

/* As an API server: a list's resourceVersion is the store's now, even when nodes did not
 * change since the last list (the simulator keeps that list's items), and the watch history
 * is kept per resource, so Secrets and Jobs changing more often than the history holds
 * expire neither a node list's version nor a node watcher. Found by the scheduler's
 * kill -9 run: 1,000 pod and Job events between two node lists left the second list's
 * version behind the history, and every watch from it was 410, for minutes. */
START_TEST(busy_resources_expire_only_their_own_watches)
{
    struct watcher x;
    unsigned long long first, second, secrets_at;
    struct sim_query q;
    struct sim_reply r;
    char body[160], rv[32];

    make_cluster(5);
    memset(&x, 0, sizeof(x));
    json_decref(list_state("/api/v1/nodes", &first));
    json_decref(list_state("/api/v1/namespaces/default/secrets", &secrets_at));
    x.state = list_state("/api/v1/nodes", NULL);
    snprintf(rv, sizeof(rv), "%llu", first);
    x.w = open_watch("/api/v1/nodes", rv, NULL, 0);
    memset(&q, 0, sizeof(q));
    for (int i = 0; i < 12; i++) {
        snprintf(body, sizeof(body),
                 "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":"
                 "\"busy-%d\"}}",
                 i);
        sim_cluster_handle(c1, "POST", "/api/v1/namespaces/default/secrets", &q, body, strlen(body),
                           &r);
        ck_assert_int_eq(r.status, 201);
        free(r.body);
    }
    /* The nodes are as they were; the list's version moved on with the store. */
    json_decref(list_state("/api/v1/nodes", &second));
    ck_assert_msg(second >= first + 12, "node list at %llu after 12 changes from %llu", second,
                  first);
    /* From either node version a watch starts; the node watcher is not passed by. */
    for (int i = 0; i < 2; i++) {
        struct sim_watch *w;

        snprintf(rv, sizeof(rv), "%llu", i ? second : first);
        w = open_watch("/api/v1/nodes", rv, NULL, 0);
        sim_cluster_watch_free(&w);
    }
    ck_assert_int_eq(drain(&x), 0);
    check_same(&x, "/api/v1/nodes");
    /* Secrets' own history went past: a Secret watch from before them is 410. */
    snprintf(rv, sizeof(rv), "%llu", secrets_at);
    open_watch("/api/v1/namespaces/default/secrets", rv, NULL, 410);
    sim_cluster_watch_free(&x.w);
    json_decref(x.state);
    teardown();
}
END_TEST

/* Without watchHistory a cluster records from its first watch: a watch from a LIST taken
 * before it is 410 (the client re-lists), one from a LIST after it resumes. */
START_TEST(history_starts_at_the_first_watch)
{
    static const char *text =
        "{\"clusters\":[{\"name\":\"w0\",\"watchHistory\":0,\"nodePools\":[{\"name\":"
        "\"a\",\"count\":2,\"product\":\"NVIDIA-A100\",\"gpus\":8}]}]}";
    struct err e = {0};
    struct watcher x;
    unsigned long long at;
    char rv[32];

    ck_assert_msg(sim_scenario_parse(text, strlen(text), &scn, &e) == 0, "%s", e.msg);
    sim_clock_init(&clk, 1, scn->start_ms);
    ck_assert_int_eq(sim_cluster_new(&scn->clusters[0], &clk, 60000, &c1, &e), 0);
    memset(&x, 0, sizeof(x));
    x.state = list_state("/api/v1/nodes", &at);
    ck_assert_int_eq(sim_cluster_set_node(c1, "a-0", false, false, NULL), 0);
    snprintf(rv, sizeof(rv), "%llu", at);
    open_watch("/api/v1/nodes", rv, NULL, 410);
    json_decref(x.state);
    x.state = list_state("/api/v1/nodes", &at);
    snprintf(rv, sizeof(rv), "%llu", at);
    x.last_rv = at;
    x.w = open_watch("/api/v1/nodes", rv, NULL, 0);
    ck_assert_int_eq(sim_cluster_set_node(c1, "a-1", false, true, NULL), 0);
    ck_assert_int_eq(drain(&x), 0);
    ck_assert_int_eq(x.events, 1);
    check_same(&x, "/api/v1/nodes");
    sim_cluster_watch_free(&x.w);
    json_decref(x.state);
    teardown();
}
END_TEST

/* ---- over HTTP -------------------------------------------------------------------------- */

static const char *http_scn =
    "{\"startTime\":\"2026-11-28T06:00:00Z\",\"clusters\":[{\"name\":\"h1\",\"watchHistory\":1000,"
    "\"nodePools\":[{\"name\":\"l4\",\"count\":3,\"product\":\"NVIDIA-L4\",\"gpus\":4,"
    "\"pool\":\"serving\"}],\"deployments\":[{\"name\":\"eta\",\"namespace\":\"serving\","
    "\"gpusPerReplica\":1,\"product\":\"NVIDIA-L4\",\"minReplicas\":1,\"maxReplicas\":10,"
    "\"peakHour\":18}]}]}";

struct stream {
    struct buf body;
    char ctype[64];
    long code;
    CURLcode rc;
    double secs;
};

static size_t keep(char *p, size_t sz, size_t n, void *arg)
{
    struct buf *b = arg;

    buf_append(b, p, sz * n);
    return sz * n;
}

static void fetch(struct sim *s, const char *query, struct stream *out)
{
    CURL *h = curl_easy_init();
    char url[512], base[256];
    char *ct = NULL;
    int64_t t0 = clock_mono_ms();

    ck_assert_int_eq(sim_url(s, "h1", base, sizeof(base), NULL), 0);
    snprintf(url, sizeof(url), "%s/api/v1/%s", base, query);
    buf_init(&out->body, 0);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    out->rc = curl_easy_perform(h);
    out->code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->code);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(out->ctype, sizeof(out->ctype), "%s", ct ? ct : "");
    curl_easy_cleanup(h);
    buf_append(&out->body, "", 1);
    out->body.len--;
    out->secs = (double)(clock_mono_ms() - t0) / 1000;
}

/* Counts the stream's lines by type; fails on a line that is not a WatchEvent. */
static int count_type(const struct stream *st, const char *type, int *lines)
{
    const char *l = st->body.data, *end = st->body.data + st->body.len;
    int n = 0;

    *lines = 0;
    while (l < end) {
        const char *nl = memchr(l, '\n', (size_t)(end - l));
        size_t len = nl ? (size_t)(nl - l) : (size_t)(end - l);
        json_t *ev = json_loadb(l, len, 0, NULL);

        ck_assert_msg(ev && json_object_get(ev, "object"), "not a WatchEvent: %.*s", (int)len, l);
        n += strcmp(json_string_value(json_object_get(ev, "type")), type) == 0;
        (*lines)++;
        json_decref(ev);
        l += len + 1;
    }
    return n;
}

static void *skip_later(void *arg)
{
    usleep(500000);
    sim_skip_time(arg, 6 * 3600 * 1000LL); /* to the serving peak: replicas grow */
    return NULL;
}

static struct sim *start_http(void)
{
    struct sim_options o;
    struct sim *s = NULL;
    struct err e = {0};

    memset(&o, 0, sizeof(o));
    o.scenario_text = http_scn;
    o.scenario_len = strlen(http_scn);
    ck_assert_msg(sim_start(&o, &s, &e) == 0, "%s", e.msg);
    return s;
}

START_TEST(http_stream_sees_changes_without_requests)
{
    struct sim *s = start_http();
    struct stream list, st;
    pthread_t t;
    json_t *l;
    char q[256];
    int lines;

    fetch(s, "pods", &list);
    l = json_loads(list.body.data, 0, NULL);
    ck_assert_ptr_nonnull(l);
    snprintf(q, sizeof(q),
             "pods?watch=true&resourceVersion=%s&timeoutSeconds=5"
             "&allowWatchBookmarks=true",
             md(l, "resourceVersion"));
    json_decref(l);
    buf_free(&list.body);
    pthread_create(&t, NULL, skip_later, s);
    fetch(s, q, &st);
    pthread_join(t, NULL);
    ck_assert_int_eq(st.code, 200);
    ck_assert_int_eq(st.rc, CURLE_OK); /* a clean end of the chunked stream */
    ck_assert_str_eq(st.ctype, "application/json");
    ck_assert_msg(st.secs > 4.5 && st.secs < 7, "timeoutSeconds=5 ended after %.1f s", st.secs);
    ck_assert_int_gt(count_type(&st, "ADDED", &lines), 0); /* the new replicas */
    /* Bookmarks as the API server's watch cache sends them: every minute, and one 2 s
     * before the deadline; a 5 s watch gets just that one (at 3 s). */
    ck_assert_int_eq(count_type(&st, "BOOKMARK", &lines), 1);
    buf_free(&st.body);
    /* From a version the history no longer holds: 410 Expired. */
    fetch(s, "nodes?watch=1&resourceVersion=3", &st);
    ck_assert_int_eq(st.code, 410);
    ck_assert_ptr_nonnull(strstr(st.body.data, "too old resource version"));
    buf_free(&st.body);
    fetch(s, "nodes?watch=1&timeoutSeconds=x", &st);
    ck_assert_int_eq(st.code, 400);
    ck_assert_ptr_nonnull(strstr(st.body.data, "timeoutSeconds"));
    buf_free(&st.body);
    sim_stop(&s);
}
END_TEST

START_TEST(http_watch_faults)
{
    struct sim *s = start_http();
    struct sim_faults f;
    struct stream st;
    json_t *ev;
    int lines;

    memset(&f, 0, sizeof(f));
    f.watch_drop_after = 2;
    f.remaining = 1;
    ck_assert_int_eq(sim_set_faults(s, "h1", &f, NULL), 0);
    fetch(s, "nodes?watch=true&timeoutSeconds=2", &st);
    ck_assert_int_ne(st.rc, CURLE_OK); /* closed mid-stream, no terminating chunk */
    ck_assert_int_eq(count_type(&st, "ADDED", &lines), 2);
    ck_assert(st.secs < 1.5);
    buf_free(&st.body);
    /* used up: the next watch is whole */
    fetch(s, "nodes?watch=true&timeoutSeconds=1", &st);
    ck_assert_int_eq(st.rc, CURLE_OK);
    ck_assert_int_eq(count_type(&st, "ADDED", &lines), 3);
    buf_free(&st.body);

    memset(&f, 0, sizeof(f));
    f.watch_stall = true;
    ck_assert_int_eq(sim_set_faults(s, "h1", &f, NULL), 0);
    fetch(s, "nodes?watch=true&timeoutSeconds=1", &st);
    ck_assert_int_eq(st.code, 200);
    ck_assert_int_eq(st.rc, CURLE_OK);
    ck_assert_int_eq(st.body.len, 0);
    ck_assert(st.secs > 0.8);
    buf_free(&st.body);

    memset(&f, 0, sizeof(f));
    f.watch_garble = true;
    ck_assert_int_eq(sim_set_faults(s, "h1", &f, NULL), 0);
    fetch(s, "nodes?watch=true&timeoutSeconds=1", &st);
    ck_assert_int_eq(st.rc, CURLE_OK);
    ev = json_loadb(st.body.data, strcspn(st.body.data, "\n"), 0, NULL);
    ck_assert_ptr_null(ev); /* the first line is broken */
    ev = json_loads(strchr(st.body.data, '\n') + 1, JSON_DISABLE_EOF_CHECK, NULL);
    ck_assert_ptr_nonnull(ev); /* the next is whole */
    json_decref(ev);
    buf_free(&st.body);
    sim_stop(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_watch");
    TCase *tc = tcase_create("model");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, list_then_watch_sees_every_change_once);
    tcase_add_test(tc, selectors_turn_leavers_into_deleted);
    tcase_add_test(tc, bookmarks_only_when_caught_up);
    tcase_add_test(tc, too_old_resource_versions_expire);
    tcase_add_test(tc, busy_resources_expire_only_their_own_watches);
    tcase_add_test(tc, history_starts_at_the_first_watch);
    tcase_add_test(tc, http_stream_sees_changes_without_requests);
    tcase_add_test(tc, http_watch_faults);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
