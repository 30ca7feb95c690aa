/* test_sim_cluster.c -- the simulated cluster answers like an API server: list shapes,
 * pagination with continue tokens (and their expiry), field and label selectors, Status
 * errors, the diurnal serving curve, scenario validation, and the HTTP front (auth, path
 * prefixes, faults) over loopback. */
#include "base/err.h"
#include "tools/kubesim/kubesim.h"
#include "tools/kubesim/kubesim_authz.h"
#include "tools/kubesim/kubesim_cluster.h"
#include "tools/kubesim/kubesim_scenario.h"

#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *scn_text =
    "{\"startTime\":\"2026-11-28T18:00:00Z\",\"timeScale\":1,\"clusters\":[{\"name\":\"c1\","
    "\"token\":\"tok\",\"nodePools\":["
    "{\"name\":\"h100\",\"count\":5,\"product\":\"NVIDIA-H100-80GB-HBM3\",\"gpus\":8,"
    "\"memoryMiB\":81559,\"busy\":1,\"notReady\":1,\"cordoned\":1,"
    "\"taints\":[{\"key\":\"nvidia.com/gpu\",\"value\":\"present\",\"effect\":\"NoSchedule\"}]},"
    "{\"name\":\"l4\",\"count\":2,\"product\":\"NVIDIA-L4\",\"gpus\":4,\"pool\":\"serving\"}],"
    "\"deployments\":[{\"name\":\"eta\",\"namespace\":\"serving\",\"gpusPerReplica\":1,"
    "\"product\":\"NVIDIA-L4\",\"minReplicas\":2,\"maxReplicas\":10,\"peakHour\":18}],"
    "\"pods\":[{\"name\":\"done\",\"namespace\":\"research\",\"node\":\"h100-1\",\"gpus\":8,"
    "\"phase\":\"Succeeded\"}]},"
    "{\"name\":\"c2\",\"nodePools\":[{\"name\":\"t4\",\"count\":1,\"product\":\"Tesla-T4\","
    "\"gpus\":4}]}]}";

static struct sim_scenario *scn;
static struct sim_clock clk;
static struct sim_cluster *c1;

static void setup(void)
{
    struct err e = {0};

    ck_assert_msg(sim_scenario_parse(scn_text, strlen(scn_text), &scn, &e) == 0, "%s", e.msg);
    sim_clock_init(&clk, scn->time_scale, scn->start_ms);
    ck_assert_int_eq(sim_cluster_new(&scn->clusters[0], &clk, 60000, &c1, &e), 0);
}

static void teardown(void)
{
    sim_cluster_free(&c1);
    sim_scenario_free(&scn);
}

static json_t *get(const char *path, const struct sim_query *q, int want)
{
    struct sim_query none;
    struct sim_reply r;
    json_t *j;

    memset(&none, 0, sizeof(none));
    sim_cluster_handle(c1, "GET", path, q ? q : &none, "", 0, &r);
    ck_assert_msg(r.status == want, "%s: %d %.*s", path, r.status, (int)r.len, r.body);
    j = json_loadb(r.body, r.len, 0, NULL);
    free(r.body);
    ck_assert_ptr_nonnull(j);
    return j;
}

static const char *str(const json_t *j, const char *a, const char *b)
{
    const json_t *v = json_object_get(j, a);

    if (b)
        v = json_object_get(v, b);
    return json_string_value(v);
}

START_TEST(node_list_shape)
{
    json_t *l = get("/api/v1/nodes", NULL, 200), *n;
    size_t i;
    int ready = 0, unsched = 0;

    ck_assert_str_eq(str(l, "kind", NULL), "NodeList");
    ck_assert_str_eq(str(l, "apiVersion", NULL), "v1");
    ck_assert(json_is_string(json_object_get(json_object_get(l, "metadata"), "resourceVersion")));
    ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 7);
    json_array_foreach(json_object_get(l, "items"), i, n)
    {
        const json_t *st = json_object_get(n, "status");
        const json_t *labels = json_object_get(json_object_get(n, "metadata"), "labels");
        const json_t *c;
        size_t k;

        ck_assert(
            json_is_string(json_object_get(json_object_get(n, "metadata"), "resourceVersion")));
        ck_assert(json_is_string(json_object_get(labels, "nvidia.com/gpu.product")));
        ck_assert(
            json_is_string(json_object_get(json_object_get(st, "allocatable"), "nvidia.com/gpu")));
        ck_assert(json_is_string(json_object_get(json_object_get(st, "capacity"), "memory")));
        json_array_foreach(json_object_get(st, "conditions"), k, c)
        {
            if (strcmp(str(c, "type", NULL), "Ready") == 0)
                ready += strcmp(str(c, "status", NULL), "True") == 0;
        }
        unsched += json_is_true(json_object_get(json_object_get(n, "spec"), "unschedulable"));
    }
    ck_assert_int_eq(ready, 6);
    ck_assert_int_eq(unsched, 1);
    json_decref(l);
    l = get("/api/v1/nodes/l4-1", NULL, 200);
    ck_assert_str_eq(str(l, "kind", NULL), "Node");
    ck_assert_str_eq(str(l, "metadata", "name"), "l4-1");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(json_object_get(l, "metadata"), "labels"),
                                          "fedsched.io/pool")),
        "serving");
    json_decref(l);
    l = get("/api/v1/nodes/nope", NULL, 404);
    ck_assert_str_eq(str(l, "kind", NULL), "Status");
    ck_assert_str_eq(str(l, "reason", NULL), "NotFound");
    ck_assert_int_eq(json_integer_value(json_object_get(l, "code")), 404);
    json_decref(l);
}
END_TEST

START_TEST(pagination_visits_every_item_once)
{
    struct sim_query q;
    char cont[2048] = "";
    int seen = 0, pages = 0;

    memset(&q, 0, sizeof(q));
    q.limit = "2";
    do {
        json_t *l;
        const char *next;

        q.cont = cont[0] ? cont : NULL;
        l = get("/api/v1/nodes", &q, 200);
        seen += (int)json_array_size(json_object_get(l, "items"));
        pages++;
        next = json_string_value(json_object_get(json_object_get(l, "metadata"), "continue"));
        if (next)
            ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(l, "metadata"),
                                                                "remainingItemCount")),
                             7 - seen);
        snprintf(cont, sizeof(cont), "%s", next ? next : "");
        json_decref(l);
    } while (cont[0]);
    ck_assert_int_eq(seen, 7);
    ck_assert_int_eq(pages, 4);
    q.cont = "not-a-token!";
    json_decref(get("/api/v1/nodes", &q, 400));
    q.limit = "-1";
    q.cont = NULL;
    json_decref(get("/api/v1/nodes", &q, 400));
}
END_TEST

START_TEST(continue_tokens_expire)
{
    struct sim_cluster *c = NULL;
    struct sim_query q;
    struct sim_reply r;
    json_t *l, *st;
    char cont[2048];

    ck_assert_int_eq(sim_cluster_new(&scn->clusters[0], &clk, 1, &c, NULL), 0);
    memset(&q, 0, sizeof(q));
    q.limit = "3";
    sim_cluster_handle(c, "GET", "/api/v1/nodes", &q, "", 0, &r);
    l = json_loadb(r.body, r.len, 0, NULL);
    free(r.body);
    snprintf(cont, sizeof(cont), "%s",
             json_string_value(json_object_get(json_object_get(l, "metadata"), "continue")));
    json_decref(l);
    usleep(5000);
    q.cont = cont;
    sim_cluster_handle(c, "GET", "/api/v1/nodes", &q, "", 0, &r);
    ck_assert_int_eq(r.status, 410);
    st = json_loadb(r.body, r.len, 0, NULL);
    free(r.body);
    ck_assert_str_eq(str(st, "reason", NULL), "Expired");
    json_decref(st);
    sim_cluster_free(&c);
}
END_TEST

START_TEST(pod_selectors)
{
    struct sim_query q;
    json_t *l;

    memset(&q, 0, sizeof(q));
    /* 18:00 is the peak: 10 replicas (8 fit on two L4 nodes), a busy pod, a Succeeded one */
    l = get("/api/v1/pods", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 12);
    json_decref(l);
    q.field_selector = "status.phase!=Succeeded,status.phase!=Failed";
    l = get("/api/v1/pods", &q, 200);
    ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 11);
    json_decref(l);
    q.field_selector = "status.phase=Pending";
    l = get("/api/v1/pods", &q, 200);
    ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 2);
    json_decref(l);
    q.field_selector = "spec.nodeName=h100-4";
    l = get("/api/v1/pods", &q, 200);
    ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 1);
    ck_assert_str_eq(str(json_array_get(json_object_get(l, "items"), 0), "metadata", "name"),
                     "load-h100-4");
    json_decref(l);
    q.field_selector = "spec.color=blue";
    l = get("/api/v1/pods", &q, 400);
    ck_assert_str_eq(str(l, "reason", NULL), "BadRequest");
    json_decref(l);
    q.field_selector = NULL;
    q.label_selector = "app=eta";
    l = get("/api/v1/namespaces/serving/pods", &q, 200);
    ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 10);
    json_decref(l);
    q.label_selector = "app notin (eta),app";
    l = get("/api/v1/pods", &q, 200);
    ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 1);
    json_decref(l);
    q.label_selector = "!app";
    l = get("/api/v1/pods", &q, 200);
    ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 1); /* the static pod */
    json_decref(l);
}
END_TEST

START_TEST(diurnal_replicas)
{
    const struct sim_deployment *d = &scn->clusters[0].deployments[0];
    int64_t day = scn->start_ms - 18 * 3600000LL;
    int bound, pending, term;

    ck_assert_int_eq(sim_deployment_replicas(d, day + 18 * 3600000LL), 10);
    ck_assert_int_eq(sim_deployment_replicas(d, day + 6 * 3600000LL), 2);
    ck_assert_int_eq(sim_deployment_replicas(d, day + 12 * 3600000LL), 6);
    sim_cluster_pod_counts(c1, &bound, &pending, &term);
    ck_assert_int_eq(bound, 8 + 1);
    ck_assert_int_eq(pending, 2);
    sim_clock_skip(&clk, 12 * 3600000LL); /* 06:00: trough */
    sim_cluster_pod_counts(c1, &bound, &pending, &term);
    ck_assert_int_eq(pending, 0); /* unscheduled ones go first */
    ck_assert_int_eq(bound, 2 + 1);
    ck_assert_int_eq(term, 6); /* the rest terminate over their grace period */
    sim_clock_skip(&clk, 31 * 1000LL);
    sim_cluster_pod_counts(c1, &bound, &pending, &term);
    ck_assert_int_eq(term, 0);
}
END_TEST

START_TEST(errors_are_status_objects)
{
    struct sim_query q;
    struct sim_reply r;
    json_t *st;

    memset(&q, 0, sizeof(q));
    st = get("/apis/apps/v1/statefulsets", NULL, 404);
    ck_assert_str_eq(str(st, "kind", NULL), "Status");
    ck_assert_str_eq(str(st, "status", NULL), "Failure");
    json_decref(st);
    sim_cluster_handle(c1, "DELETE", "/api/v1/nodes", &q, "", 0, &r);
    ck_assert_int_eq(r.status, 405);
    st = json_loadb(r.body, r.len, 0, NULL);
    ck_assert_str_eq(str(st, "reason", NULL), "MethodNotAllowed");
    json_decref(st);
    free(r.body);
    sim_cluster_handle(c1, "POST", "/apis/batch/v1/namespaces/x/jobs", &q, "{nope", 5, &r);
    ck_assert_int_eq(r.status, 400);
    free(r.body);
    st = get("/apis/batch/v1/namespaces/x/jobs/missing", NULL, 404);
    ck_assert_str_eq(str(st, "message", NULL), "jobs.batch \"missing\" not found");
    ck_assert_str_eq(str(st, "details", "kind"), "jobs");
    ck_assert_str_eq(str(st, "details", "group"), "batch");
    json_decref(st);
    st = get("/version", NULL, 200);
    ck_assert_str_eq(str(st, "major", NULL), "1");
    json_decref(st);
}
END_TEST

START_TEST(scenario_errors_name_the_member)
{
    static const struct {
        const char *text, *field;
    } bad[] = {
        {"{\"clusters\":[]}", "clusters"},
        {"{\"clusters\":[{\"name\":\"Bad_Name\"}]}", "clusters[0].name"},
        {"{\"clusters\":[{\"name\":\"a\",\"nodePools\":[{\"name\":\"p\",\"gpus\":65}]}]}",
         "clusters[0].nodePools[0].gpus"},
        {"{\"clusters\":[{\"name\":\"a\",\"nodePools\":[{\"name\":\"p\",\"pool\":\"x\"}]}]}",
         "clusters[0].nodePools[0].pool"},
        {"{\"clusters\":[{\"name\":\"a\",\"deployments\":[{\"name\":\"d\",\"minReplicas\":3,"
         "\"maxReplicas\":1}]}]}",
         "clusters[0].deployments[0].maxReplicas"},
        {"{\"clusters\":[{\"name\":\"a\"},{\"name\":\"a\"}]}", "clusters[].name"},
        {"{\"timeScale\":0,\"clusters\":[{\"name\":\"a\"}]}", "timeScale"},
        {"{\"startTime\":\"yesterday\",\"clusters\":[{\"name\":\"a\"}]}", "startTime"},
        {"{\"clusters\":[{\"name\":\"a\",\"apis\":[\"rayio\"]}]}", "clusters[0].apis"},
        {"{\"clusters\":[{\"name\":\"a\",\"forbidden\":[\"create\"]}]}", "clusters[0].forbidden"},
        {"{\"clusters\":[{\"name\":\"a\",\"namespaces\":[\"A_b\"]}]}", "clusters[0].namespaces"},
        {"{\"clusters\":[{\"name\":\"a\",\"nodePools\":[{\"name\":\"p\",\"cpu\":0}]}]}",
         "clusters[0].nodePools[0].cpu"},
    };
    struct sim_scenario *s = NULL;
    struct err e;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&e, 0, sizeof(e));
        ck_assert_msg(sim_scenario_parse(bad[i].text, strlen(bad[i].text), &s, &e) == -1, "%s",
                      bad[i].text);
        ck_assert_msg(strcmp(e.field, bad[i].field) == 0, "%s: field %s, want %s", bad[i].text,
                      e.field, bad[i].field);
    }
    ck_assert_ptr_null(s);
}
END_TEST

static size_t sink(char *p, size_t s, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return s * n;
}

static long http_get(const char *url, const char *token)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hd = NULL;
    long code = 0;
    char auth[128];

    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hd = curl_slist_append(hd, auth);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 3000L);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return code;
}

START_TEST(http_front_shared_port)
{
    struct sim_options o;
    struct sim *s = NULL;
    struct sim_faults f;
    struct err e = {0};
    char url[256], u[320];

    memset(&o, 0, sizeof(o));
    o.scenario_text = scn_text;
    o.scenario_len = strlen(scn_text);
    o.shared = true;
    ck_assert_int_eq(sim_start(&o, &s, &e), 0);
    ck_assert_int_eq(sim_cluster_count(s), 2);
    ck_assert_int_eq(sim_url(s, "c1", url, sizeof(url), &e), 0);
    ck_assert_ptr_nonnull(strstr(url, "/c/c1"));
    snprintf(u, sizeof(u), "%s/api/v1/nodes", url);
    ck_assert_int_eq(http_get(u, "tok"), 200);
    ck_assert_int_eq(http_get(u, NULL), 401);
    ck_assert_int_eq(http_get(u, "wrong"), 401);
    ck_assert_int_eq(sim_url(s, "c2", url, sizeof(url), &e), 0);
    snprintf(u, sizeof(u), "%s/api/v1/nodes", url);
    ck_assert_int_eq(http_get(u, NULL), 200); /* c2 has no token */
    snprintf(u + strlen(u) - strlen("/c/c2/api/v1/nodes"), 64, "/c/c9/api/v1/nodes");
    ck_assert_int_eq(http_get(u, NULL), 404);
    ck_assert_int_eq(sim_url(s, "c9", url, sizeof(url), &e), -1);
    ck_assert_int_eq(e.code, ERR_NOT_FOUND);
    /* a fault applies to its cluster only, and `remaining` bounds it */
    memset(&f, 0, sizeof(f));
    f.status = 503;
    f.retry_after_s = 7;
    f.remaining = 2;
    ck_assert_int_eq(sim_set_faults(s, "c2", &f, &e), 0);
    ck_assert_int_eq(sim_url(s, "c2", url, sizeof(url), &e), 0);
    snprintf(u, sizeof(u), "%s/api/v1/nodes", url);
    ck_assert_int_eq(http_get(u, NULL), 503);
    ck_assert_int_eq(http_get(u, NULL), 503);
    ck_assert_int_eq(http_get(u, NULL), 200);
    ck_assert_uint_eq(sim_requests(s, "c2"), 4);
    sim_stop(&s);
    ck_assert_ptr_null(s);
}
END_TEST

/* ---- the stricter simulator (issue 13) ------------------------------------------------ */

static json_t *call(struct sim_cluster *c, const char *method, const char *path, const char *body,
                    int want)
{
    struct sim_query q;
    struct sim_reply r;
    json_t *j;

    memset(&q, 0, sizeof(q));
    sim_cluster_handle(c, method, path, &q, body ? body : "", body ? strlen(body) : 0, &r);
    ck_assert_msg(r.status == want, "%s %s: %d %.*s", method, path, r.status, (int)r.len, r.body);
    j = json_loadb(r.body, r.len, 0, NULL);
    free(r.body);
    ck_assert_ptr_nonnull(j);
    return j;
}

/* call() with a body it frees. */
static json_t *call_freeing(struct sim_cluster *c, const char *method, const char *path, char *body,
                            int want)
{
    json_t *j = call(c, method, path, body, want);

    free(body);
    return j;
}

static void call0(struct sim_cluster *c, const char *method, const char *path, const char *body,
                  int want)
{
    json_decref(call(c, method, path, body, want));
}

/* A cluster of its own: one untainted CPU+GPU pool, whatever else extra adds. */
static struct sim_cluster *strict_cluster(const char *extra, struct sim_scenario **sp)
{
    struct sim_cluster *c = NULL;
    struct err e = {0};
    char text[2048];

    snprintf(text, sizeof(text),
             "{\"startTime\":\"2026-11-28T18:00:00Z\",\"clusters\":[{\"name\":\"s1\","
             "\"nodePools\":[{\"name\":\"a\",\"count\":2,\"product\":\"NVIDIA-A100\",\"gpus\":8,"
             "\"cpu\":64,\"memoryGib\":512},{\"name\":\"l\",\"count\":1,\"product\":\"NVIDIA-L4\","
             "\"gpus\":4,\"labels\":{\"team\":\"ml\"}}]%s}]}",
             extra);
    ck_assert_msg(sim_scenario_parse(text, strlen(text), sp, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(sim_cluster_new(&(*sp)->clusters[0], &clk, 60000, &c, &e), 0);
    return c;
}

/* A batch/v1 Job body: n Indexed workers of image img, spec_extra and pod_extra spliced
 * into the Job's and the pod's spec, annotations on the Job. */
static char *job_body(const char *name, int n, const char *annotations, const char *spec_extra,
                      const char *pod_extra)
{
    char *b = malloc(4096);

    snprintf(b, 4096,
             "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"%s\","
             "\"annotations\":{%s}},\"spec\":{\"parallelism\":%d,\"completions\":%d,"
             "\"completionMode\":\"Indexed\",\"backoffLimit\":0%s,\"template\":{\"metadata\":"
             "{\"labels\":{\"app\":\"%s\"}},\"spec\":{\"restartPolicy\":\"Never\"%s,"
             "\"containers\":[{\"name\":\"main\",\"image\":\"registry.local/train:1\","
             "\"env\":[{\"name\":\"A\",\"value\":\"1\"}],\"resources\":{\"limits\":"
             "{\"nvidia.com/gpu\":\"1\"}}}]}}}}",
             name, annotations, n, n, spec_extra, name, pod_extra);
    return b;
}

static void post_job(struct sim_cluster *c, const char *ns, char *body, int want)
{
    char path[256];

    snprintf(path, sizeof(path), "/apis/batch/v1/namespaces/%s/jobs", ns);
    call0(c, "POST", path, body, want);
    free(body);
}

static json_t *job_pods_of(struct sim_cluster *c, const char *ns, const char *job)
{
    struct sim_query q;
    struct sim_reply r;
    char sel[128], path[128];
    json_t *l;

    memset(&q, 0, sizeof(q));
    snprintf(sel, sizeof(sel), "batch.kubernetes.io/job-name=%s", job);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
    q.label_selector = sel;
    sim_cluster_handle(c, "GET", path, &q, "", 0, &r);
    l = json_loadb(r.body, r.len, 0, NULL);
    free(r.body);
    return l;
}

static json_t *condition_of(const json_t *obj, const char *type)
{
    const json_t *x;
    size_t i;

    json_array_foreach(json_object_get(json_object_get(obj, "status"), "conditions"), i, x)
    {
        if (strcmp(str(x, "type", NULL), type) == 0)
            return (json_t *)x;
    }
    return NULL;
}

START_TEST(namespaces_services_secrets)
{
    json_t *o;

    call0(c1, "POST", "/api/v1/namespaces",
          "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"team-a\"}}", 201);
    o = call(c1, "GET", "/api/v1/namespaces/team-a", NULL, 200);
    ck_assert_str_eq(str(o, "status", "phase"), "Active");
    json_decref(o);
    o = call(c1, "POST", "/api/v1/namespaces/nope/services",
             "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},"
             "\"spec\":{\"clusterIP\":\"None\"}}",
             404);
    ck_assert_str_eq(str(o, "message", NULL), "namespaces \"nope\" not found");
    json_decref(o);
    o = call_freeing(c1, "POST", "/apis/batch/v1/namespaces/nope/jobs",
                     job_body("j", 1, "", "", ""), 404);
    ck_assert_str_eq(str(o, "message", NULL), "namespaces \"nope\" not found");
    json_decref(o);
    o = call(
        c1, "POST", "/api/v1/namespaces/team-a/services",
        "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"w\","
        "\"labels\":{\"x\":\"1\"}},\"spec\":{\"clusterIP\":\"None\",\"selector\":{\"a\":\"b\"},"
        "\"ports\":[{\"name\":\"r\",\"port\":29500}]}}",
        201);
    ck_assert_str_eq(str(o, "spec", "type"), "ClusterIP");
    ck_assert_str_eq(str(o, "spec", "clusterIP"), "None");
    ck_assert_int_eq(
        json_integer_value(json_object_get(
            json_array_get(json_object_get(json_object_get(o, "spec"), "ports"), 0), "targetPort")),
        29500);
    json_decref(o);
    o = call(c1, "POST", "/api/v1/namespaces/team-a/services",
             "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"v\"},"
             "\"spec\":{}}",
             422);
    ck_assert_str_eq(str(o, "message", NULL),
                     "Service \"v\" is invalid: spec.ports: Required value");
    json_decref(o);
    o = call(c1, "POST", "/api/v1/namespaces/team-a/secrets",
             "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"w-ckpt\"},"
             "\"stringData\":{\"token\":\"s3cret\"}}",
             201);
    ck_assert_str_eq(str(o, "type", NULL), "Opaque");
    ck_assert_str_eq(str(o, "data", "token"), "czNjcmV0");
    ck_assert_ptr_null(json_object_get(o, "stringData"));
    json_decref(o);
    call0(c1, "POST", "/api/v1/namespaces/team-a/secrets",
          "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"w-ckpt\"}}", 409);
    call0(c1, "POST", "/api/v1/namespaces/team-a/secrets",
          "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"b\"},"
          "\"data\":{\"k\":\"not base64!\"}}",
          400);
    o = call(c1, "GET", "/api/v1/namespaces/team-a/services", NULL, 200);
    ck_assert_str_eq(str(o, "kind", NULL), "ServiceList");
    ck_assert_int_eq(json_array_size(json_object_get(o, "items")), 1);
    json_decref(o);
    call0(c1, "DELETE", "/api/v1/namespaces/team-a/secrets/w-ckpt", NULL, 200);
    o = call(c1, "GET", "/api/v1/namespaces/team-a/secrets/w-ckpt", NULL, 404);
    ck_assert_str_eq(str(o, "message", NULL), "secrets \"w-ckpt\" not found");
    json_decref(o);
    /* Deleting the namespace deletes what is in it. */
    call0(c1, "DELETE", "/api/v1/namespaces/team-a", NULL, 200);
    call0(c1, "GET", "/api/v1/namespaces/team-a/services/w", NULL, 404);
    call0(c1, "GET", "/api/v1/namespaces/team-a", NULL, 404);
}
END_TEST

START_TEST(priority_classes)
{
    json_t *o = call(c1, "GET", "/apis/scheduling.k8s.io/v1/priorityclasses", NULL, 200);
    const json_t *x;
    size_t i;
    int seen = 0;

    ck_assert_str_eq(str(o, "kind", NULL), "PriorityClassList");
    json_array_foreach(json_object_get(o, "items"), i, x)
    {
        const char *n = str(x, "metadata", "name");

        seen += strcmp(n, "fedsched-borrowed") == 0 || strcmp(n, "system-cluster-critical") == 0 ||
                strcmp(n, "system-node-critical") == 0;
    }
    ck_assert_int_eq(seen, 3);
    json_decref(o);
    call0(c1, "POST", "/apis/scheduling.k8s.io/v1/priorityclasses",
          "{\"apiVersion\":\"scheduling.k8s.io/v1\",\"kind\":\"PriorityClass\","
          "\"metadata\":{\"name\":\"system-mine\"},\"value\":1}",
          422);
    call0(c1, "POST", "/apis/scheduling.k8s.io/v1/priorityclasses",
          "{\"apiVersion\":\"scheduling.k8s.io/v1\",\"kind\":\"PriorityClass\","
          "\"metadata\":{\"name\":\"low\"}}",
          422);
    o = call(c1, "POST", "/apis/scheduling.k8s.io/v1/priorityclasses",
             "{\"apiVersion\":\"scheduling.k8s.io/v1\",\"kind\":\"PriorityClass\","
             "\"metadata\":{\"name\":\"low\"},\"value\":-5}",
             201);
    ck_assert_str_eq(str(o, "preemptionPolicy", NULL), "PreemptLowerPriority");
    json_decref(o);
    call0(c1, "GET", "/apis/scheduling.k8s.io/v1/priorityclasses/low", NULL, 200);
}
END_TEST

START_TEST(owners_cascade)
{
    char body[1024];
    const char *uid;
    json_t *job = call_freeing(c1, "POST", "/apis/batch/v1/namespaces/fedsched-jobs/jobs",
                               job_body("own", 1, "", "", ""), 201);
    json_t *job2 = call_freeing(c1, "POST", "/apis/batch/v1/namespaces/fedsched-jobs/jobs",
                                job_body("own2", 1, "", "", ""), 201);
    json_t *o;

    uid = str(job, "metadata", "uid");
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"own-ckpt\","
             "\"ownerReferences\":[{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"name\":\"own\","
             "\"uid\":\"%s\"}]},\"stringData\":{\"token\":\"t\"}}",
             uid);
    call0(c1, "POST", "/api/v1/namespaces/fedsched-jobs/secrets", body, 201);
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"own2\","
             "\"ownerReferences\":[{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"name\":\"own2\","
             "\"uid\":\"%s\"}]},\"spec\":{\"clusterIP\":\"None\"}}",
             str(job2, "metadata", "uid"));
    call0(c1, "POST", "/api/v1/namespaces/fedsched-jobs/services", body, 201);
    call0(c1, "GET", "/api/v1/namespaces/fedsched-jobs/secrets/own-ckpt", NULL, 200);
    call0(c1, "DELETE", "/apis/batch/v1/namespaces/fedsched-jobs/jobs/own",
          "{\"propagationPolicy\":\"Background\"}", 200);
    call0(c1, "GET", "/api/v1/namespaces/fedsched-jobs/secrets/own-ckpt", NULL, 404);
    /* Orphan: the Service stays, without its owner reference. */
    call0(c1, "DELETE", "/apis/batch/v1/namespaces/fedsched-jobs/jobs/own2",
          "{\"propagationPolicy\":\"Orphan\"}", 200);
    o = call(c1, "GET", "/api/v1/namespaces/fedsched-jobs/services/own2", NULL, 200);
    ck_assert_ptr_null(json_object_get(json_object_get(o, "metadata"), "ownerReferences"));
    json_decref(o);
    json_decref(job);
    json_decref(job2);
}
END_TEST

static bool has_group(const json_t *groups, const char *name)
{
    const json_t *g;
    size_t i;

    json_array_foreach(json_object_get(groups, "groups"), i, g)
    {
        if (strcmp(str(g, "name", NULL), name) == 0)
            return true;
    }
    return false;
}

START_TEST(discovery_and_crds)
{
    struct sim_scenario *sp = NULL;
    struct sim_cluster *c = NULL;
    json_t *o = call(c1, "GET", "/api", NULL, 200);

    ck_assert_str_eq(str(o, "kind", NULL), "APIVersions");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(o, "versions"), 0)), "v1");
    json_decref(o);
    o = call(c1, "GET", "/apis", NULL, 200);
    ck_assert_str_eq(str(o, "kind", NULL), "APIGroupList");
    ck_assert(has_group(o, "ray.io") && has_group(o, "batch") &&
              has_group(o, "scheduling.k8s.io") && has_group(o, "authorization.k8s.io"));
    ck_assert(!has_group(o, "kubeflow.org"));
    json_decref(o);
    o = call(c1, "GET", "/apis/ray.io/v1", NULL, 200);
    ck_assert_str_eq(str(o, "kind", NULL), "APIResourceList");
    ck_assert_str_eq(str(o, "groupVersion", NULL), "ray.io/v1");
    json_decref(o);
    o = call(c1, "GET", "/apis/batch", NULL, 200);
    ck_assert_str_eq(str(o, "kind", NULL), "APIGroup");
    ck_assert_str_eq(str(o, "preferredVersion", "groupVersion"), "batch/v1");
    json_decref(o);

    c = strict_cluster(",\"apis\":[\"kubeflow.org/v1\"]", &sp);
    o = call(c, "GET", "/apis", NULL, 200);
    ck_assert(has_group(o, "kubeflow.org") && !has_group(o, "ray.io"));
    json_decref(o);
    o = call(c, "GET", "/apis/ray.io/v1/namespaces/fedsched-jobs/rayjobs", NULL, 404);
    ck_assert_str_eq(str(o, "message", NULL), "the server could not find the requested resource");
    ck_assert_str_eq(str(o, "reason", NULL), "NotFound");
    json_decref(o);
    call0(c, "GET", "/apis/ray.io/v1", NULL, 404);
    o = call(c, "GET", "/apis/kubeflow.org/v1", NULL, 200);
    ck_assert_str_eq(str(json_array_get(json_object_get(o, "resources"), 3), "name", NULL),
                     "pytorchjobs");
    json_decref(o);
    sim_cluster_free(&c);
    sim_scenario_free(&sp);
}
END_TEST

START_TEST(forbidden_verbs)
{
    struct sim_scenario *sp = NULL;
    struct sim_cluster *c = strict_cluster(
        ",\"forbidden\":[\"create secrets\",\"create jobs.batch\",\"list pods\"]", &sp);
    json_t *o;

    o = call(c, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
             "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SelfSubjectAccessReview\","
             "\"spec\":{\"resourceAttributes\":{\"namespace\":\"x\",\"verb\":\"create\","
             "\"resource\":\"secrets\"}}}",
             201);
    ck_assert(json_is_false(json_object_get(json_object_get(o, "status"), "allowed")));
    json_decref(o);
    o = call(c, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
             "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SelfSubjectAccessReview\","
             "\"spec\":{\"resourceAttributes\":{\"namespace\":\"x\",\"verb\":\"create\","
             "\"group\":\"ray.io\",\"resource\":\"rayjobs\"}}}",
             201);
    ck_assert(json_is_true(json_object_get(json_object_get(o, "status"), "allowed")));
    json_decref(o);
    o = call_freeing(c, "POST", "/apis/batch/v1/namespaces/fedsched-jobs/jobs",
                     job_body("j", 1, "", "", ""), 403);
    ck_assert_str_eq(str(o, "reason", NULL), "Forbidden");
    ck_assert_str_eq(str(o, "message", NULL),
                     "jobs.batch is forbidden: User \"" SIM_AUTHZ_USER "\" cannot create resource "
                     "\"jobs\" in API group \"batch\" in the namespace \"fedsched-jobs\"");
    json_decref(o);
    o = call(c, "GET", "/api/v1/pods", NULL, 403);
    ck_assert_str_eq(str(o, "message", NULL),
                     "pods is forbidden: User \"" SIM_AUTHZ_USER "\" cannot list resource \"pods\" "
                     "in API group \"\" at the cluster scope");
    json_decref(o);
    call0(c, "POST", "/api/v1/namespaces/default/secrets",
          "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"}}", 403);
    call0(c, "POST", "/api/v1/namespaces/default/services",
          "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},"
          "\"spec\":{\"clusterIP\":\"None\"}}",
          201);
    sim_cluster_free(&c);
    sim_scenario_free(&sp);
}
END_TEST

static const json_t *ctr_status(const json_t *pod)
{
    return json_array_get(json_object_get(json_object_get(pod, "status"), "containerStatuses"), 0);
}

/* The pod of job with the given completion index. */
static json_t *pod_at(const json_t *list, int index)
{
    const json_t *p;
    size_t i;
    char want[8];

    snprintf(want, sizeof(want), "%d", index);
    json_array_foreach(json_object_get(list, "items"), i, p)
    {
        const char *v = json_string_value(
            json_object_get(json_object_get(json_object_get(p, "metadata"), "labels"),
                            "batch.kubernetes.io/job-completion-index"));

        if (v && strcmp(v, want) == 0)
            return (json_t *)p;
    }
    return NULL;
}

START_TEST(pod_failures_by_annotation)
{
    struct sim_scenario *sp = NULL;
    struct sim_cluster *c = strict_cluster("", &sp);
    json_t *l, *j, *p;
    const json_t *st;

    post_job(
        c, "fedsched-jobs",
        job_body("oom", 2,
                 "\"sim.fedsched.io/outcome\":\"OOMKilled\","
                 "\"sim.fedsched.io/duration-seconds\":\"60\"",
                 ",\"podFailurePolicy\":{\"rules\":[{\"action\":\"FailJob\",\"onPodConditions\":"
                 "[{\"type\":\"DisruptionTarget\",\"status\":\"True\"}]}]}",
                 ""),
        201);
    post_job(c, "fedsched-jobs",
             job_body("exit42", 1,
                      "\"sim.fedsched.io/outcome\":\"Error:42\","
                      "\"sim.fedsched.io/duration-seconds\":\"60\"",
                      ",\"podFailurePolicy\":{\"rules\":[{\"action\":\"FailJob\",\"onExitCodes\":"
                      "{\"operator\":\"In\",\"values\":[42]}}]}",
                      ""),
             201);
    post_job(c, "fedsched-jobs",
             job_body("pull", 1,
                      "\"sim.fedsched.io/outcome\":\"ImagePullBackOff\","
                      "\"sim.fedsched.io/duration-seconds\":\"60\"",
                      "", ""),
             201);
    sim_clock_skip(&clk, 61000);
    l = job_pods_of(c, "fedsched-jobs", "oom");
    p = pod_at(l, 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(str(p, "status", "phase"), "Failed");
    st = json_object_get(json_object_get(ctr_status(p), "state"), "terminated");
    ck_assert_str_eq(str(st, "reason", NULL), "OOMKilled");
    ck_assert_int_eq(json_integer_value(json_object_get(st, "exitCode")), 137);
    ck_assert_int_eq(json_object_size(json_object_get(ctr_status(p), "lastState")), 0);
    json_decref(l);
    j = call(c, "GET", "/apis/batch/v1/namespaces/fedsched-jobs/jobs/oom", NULL, 200);
    ck_assert_ptr_nonnull(condition_of(j, "FailureTarget"));
    ck_assert_str_eq(str(condition_of(j, "Failed"), "reason", NULL), "BackoffLimitExceeded");
    ck_assert_ptr_null(condition_of(j, "Complete"));
    json_decref(j);
    j = call(c, "GET", "/apis/batch/v1/namespaces/fedsched-jobs/jobs/exit42", NULL, 200);
    ck_assert_str_eq(str(condition_of(j, "Failed"), "reason", NULL), "PodFailurePolicy");
    json_decref(j);
    l = job_pods_of(c, "fedsched-jobs", "exit42");
    st = json_object_get(json_object_get(ctr_status(pod_at(l, 0)), "state"), "terminated");
    ck_assert_str_eq(str(st, "reason", NULL), "Error");
    ck_assert_int_eq(json_integer_value(json_object_get(st, "exitCode")), 42);
    json_decref(l);
    l = job_pods_of(c, "fedsched-jobs", "pull");
    p = pod_at(l, 0);
    ck_assert_str_eq(str(p, "status", "phase"), "Pending");
    st = json_object_get(json_object_get(ctr_status(p), "state"), "waiting");
    ck_assert_str_eq(str(st, "reason", NULL), "ImagePullBackOff");
    ck_assert_str_eq(str(st, "message", NULL), "Back-off pulling image \"registry.local/train:1\"");
    json_decref(l);
    j = call(c, "GET", "/apis/batch/v1/namespaces/fedsched-jobs/jobs/pull", NULL, 200);
    ck_assert_ptr_null(json_object_get(json_object_get(j, "status"), "conditions"));
    json_decref(j);
    sim_cluster_free(&c);
    sim_scenario_free(&sp);
}
END_TEST

START_TEST(suspended_job_has_no_pods)
{
    struct sim_scenario *sp = NULL;
    struct sim_cluster *c = strict_cluster("", &sp);
    json_t *l, *j;

    post_job(c, "fedsched-jobs", job_body("sus", 2, "", ",\"suspend\":true", ""), 201);
    l = job_pods_of(c, "fedsched-jobs", "sus");
    ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 0);
    json_decref(l);
    j = call(c, "GET", "/apis/batch/v1/namespaces/fedsched-jobs/jobs/sus", NULL, 200);
    ck_assert_str_eq(str(condition_of(j, "Suspended"), "reason", NULL), "JobSuspended");
    ck_assert_str_eq(str(condition_of(j, "Suspended"), "status", NULL), "True");
    json_decref(j);
    sim_cluster_free(&c);
    sim_scenario_free(&sp);
}
END_TEST

START_TEST(ttl_after_finished)
{
    struct sim_scenario *sp = NULL;
    struct sim_cluster *c = strict_cluster("", &sp);
    json_t *l, *j;
    char body[512];

    post_job(c, "fedsched-jobs",
             job_body("ttl", 1, "\"sim.fedsched.io/duration-seconds\":\"10\"",
                      ",\"ttlSecondsAfterFinished\":30", ""),
             201);
    call0(c, "POST", "/apis/ray.io/v1/namespaces/fedsched-jobs/rayjobs",
          "{\"apiVersion\":\"ray.io/v1\",\"kind\":\"RayJob\",\"metadata\":{\"name\":\"ray\","
          "\"annotations\":{\"sim.fedsched.io/duration-seconds\":\"10\"}},\"spec\":"
          "{\"shutdownAfterJobFinishes\":true,\"ttlSecondsAfterFinished\":30,\"rayClusterSpec\":"
          "{\"headGroupSpec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"h\","
          "\"image\":\"ray\"}]}}}}}}",
          201);
    sim_cluster_tick(c);         /* the controllers make the pods, which run from now */
    sim_clock_skip(&clk, 30000); /* finished 20 s ago */
    j = call(c, "GET", "/apis/batch/v1/namespaces/fedsched-jobs/jobs/ttl", NULL, 200);
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"ttl-ckpt\","
             "\"ownerReferences\":[{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"name\":\"ttl\","
             "\"uid\":\"%s\"}]}}",
             str(j, "metadata", "uid"));
    json_decref(j);
    call0(c, "POST", "/api/v1/namespaces/fedsched-jobs/secrets", body, 201);
    l = call(c, "GET", "/api/v1/namespaces/fedsched-jobs/pods", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 2);
    json_decref(l);
    sim_clock_skip(&clk, 11000);
    call0(c, "GET", "/apis/batch/v1/namespaces/fedsched-jobs/jobs/ttl", NULL, 404);
    call0(c, "GET", "/api/v1/namespaces/fedsched-jobs/secrets/ttl-ckpt", NULL, 404);
    call0(c, "GET", "/apis/ray.io/v1/namespaces/fedsched-jobs/rayjobs/ray", NULL, 200);
    l = call(c, "GET", "/api/v1/namespaces/fedsched-jobs/pods", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 0);
    json_decref(l);
    sim_cluster_free(&c);
    sim_scenario_free(&sp);
}
END_TEST

/* A PATCH with Content-Type ctype (NULL: none); the answer, or NULL when not JSON. */
static json_t *patch(struct sim_cluster *c, const char *path, const char *ctype, const char *body,
                     int want)
{
    struct sim_query q;
    struct sim_reply r;
    json_t *j;

    memset(&q, 0, sizeof(q));
    q.content_type = ctype;
    sim_cluster_handle(c, "PATCH", path, &q, body, strlen(body), &r);
    ck_assert_msg(r.status == want, "PATCH %s: %d %.*s", path, r.status, (int)r.len, r.body);
    j = json_loadb(r.body, r.len, 0, NULL);
    free(r.body);
    return j;
}

#define JSON_PATCH  "application/json-patch+json"
#define MERGE_PATCH "application/merge-patch+json"
#define FIN_PATH    "/apis/batch/v1/namespaces/fedsched-jobs/jobs/fin"
#define ADD_FIN                                                                                    \
    "[{\"op\":\"add\",\"path\":\"/metadata/finalizers\",\"value\":[\"fedsched.io/result\"]}]"

static const json_t *finalizers_of(const json_t *obj)
{
    return json_object_get(json_object_get(obj, "metadata"), "finalizers");
}

/* DELETE of an object with finalizers marks it (deletionTimestamp, grace 0) and keeps it,
 * its pods too in a background deletion; no finalizer may be added then; a JSON patch
 * whose test fails changes nothing (422); the object goes with its last finalizer. */
START_TEST(finalizers_keep_a_deleted_job)
{
    struct sim_scenario *sp = NULL;
    struct sim_cluster *c = strict_cluster("", &sp);
    json_t *j, *l;
    struct sim_query q;
    struct sim_reply r;

    post_job(c, "fedsched-jobs",
             job_body("fin", 1, "\"sim.fedsched.io/duration-seconds\":\"600\"", "", ""), 201);
    json_decref(patch(c, FIN_PATH, NULL, ADD_FIN, 415));
    json_decref(patch(c, FIN_PATH, JSON_PATCH, "{\"op\":\"add\"}", 400));
    j = patch(c, FIN_PATH, JSON_PATCH, ADD_FIN, 200);
    ck_assert_str_eq(json_string_value(json_array_get(finalizers_of(j), 0)), "fedsched.io/result");
    json_decref(j);
    json_decref(patch(c, FIN_PATH, JSON_PATCH,
                      "[{\"op\":\"replace\",\"path\":\"/spec/parallelism\",\"value\":2}]", 422));
    memset(&q, 0, sizeof(q));
    q.propagation_policy = "Background";
    sim_cluster_handle(c, "DELETE", FIN_PATH, &q, "", 0, &r);
    ck_assert_int_eq(r.status, 200);
    free(r.body);
    j = call(c, "GET", FIN_PATH, NULL, 200);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(j, "metadata"), "deletionTimestamp"));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "metadata"),
                                                        "deletionGracePeriodSeconds")),
                     0);
    json_decref(j);
    l = job_pods_of(c, "fedsched-jobs", "fin");
    ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 1);
    ck_assert_ptr_null(
        json_object_get(json_object_get(json_array_get(json_object_get(l, "items"), 0), "metadata"),
                        "deletionTimestamp"));
    json_decref(l);
    /* A second DELETE of a marked object answers it again. */
    call0(c, "DELETE", FIN_PATH, NULL, 200);
    json_decref(patch(c, FIN_PATH, JSON_PATCH,
                      "[{\"op\":\"add\",\"path\":\"/metadata/finalizers/-\",\"value\":\"x.io/y\"}]",
                      422));
    json_decref(patch(c, FIN_PATH, JSON_PATCH,
                      "[{\"op\":\"test\",\"path\":\"/metadata/finalizers/0\",\"value\":\"x.io/y\"},"
                      "{\"op\":\"remove\",\"path\":\"/metadata/finalizers/0\"}]",
                      422));
    json_decref(patch(c, FIN_PATH, MERGE_PATCH,
                      "{\"metadata\":{\"resourceVersion\":\"1\",\"finalizers\":null}}", 409));
    j = call(c, "GET", FIN_PATH, NULL, 200);
    ck_assert_int_eq(json_array_size(finalizers_of(j)), 1);
    json_decref(j);
    json_decref(
        patch(c, FIN_PATH, JSON_PATCH,
              "[{\"op\":\"test\",\"path\":\"/metadata/finalizers/0\",\"value\":"
              "\"fedsched.io/result\"},{\"op\":\"remove\",\"path\":\"/metadata/finalizers/0\"}]",
              200));
    call0(c, "GET", FIN_PATH, NULL, 404);
    l = job_pods_of(c, "fedsched-jobs", "fin");
    ck_assert_ptr_nonnull(
        json_object_get(json_object_get(json_array_get(json_object_get(l, "items"), 0), "metadata"),
                        "deletionTimestamp"));
    json_decref(l);
    sim_cluster_free(&c);
    sim_scenario_free(&sp);
}
END_TEST

/* The TTL controller deletes a finished Job in the foreground: its pods go and
 * foregroundDeletion comes off, but another finalizer keeps the Job, status and all, until
 * a merge patch takes it. */
START_TEST(ttl_deletion_waits_for_finalizers)
{
    struct sim_scenario *sp = NULL;
    struct sim_cluster *c = strict_cluster("", &sp);
    json_t *j, *l;

    post_job(c, "fedsched-jobs",
             job_body("fin", 1, "\"sim.fedsched.io/duration-seconds\":\"10\"",
                      ",\"ttlSecondsAfterFinished\":30", ""),
             201);
    json_decref(patch(c, FIN_PATH, JSON_PATCH, ADD_FIN, 200));
    sim_clock_skip(&clk, 41000);
    j = call(c, "GET", FIN_PATH, NULL, 200);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(j, "metadata"), "deletionTimestamp"));
    ck_assert_int_eq(json_array_size(finalizers_of(j)), 1);
    ck_assert_str_eq(json_string_value(json_array_get(finalizers_of(j), 0)), "fedsched.io/result");
    ck_assert_str_eq(str(condition_of(j, "Complete"), "status", NULL), "True");
    json_decref(j);
    l = job_pods_of(c, "fedsched-jobs", "fin");
    ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 0);
    json_decref(l);
    json_decref(patch(c, FIN_PATH, MERGE_PATCH, "{\"metadata\":{\"finalizers\":null}}", 200));
    call0(c, "GET", FIN_PATH, NULL, 404);
    sim_cluster_free(&c);
    sim_scenario_free(&sp);
}
END_TEST

static const char *node_of(struct sim_cluster *c, const char *job, char *out, size_t size)
{
    json_t *l = job_pods_of(c, "fedsched-jobs", job);
    const char *n = str(json_array_get(json_object_get(l, "items"), 0), "spec", "nodeName");

    snprintf(out, size, "%s", n ? n : "");
    json_decref(l);
    return out;
}

#define AFF                                                                                        \
    ",\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"         \
    "{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":%s}]}]}}}"

START_TEST(scheduling_rules)
{
    struct sim_scenario *sp = NULL;
    struct sim_cluster *c = strict_cluster(",\"priorityClasses\":[]", &sp);
    char node[64];
    json_t *l;
    char x[512];

    snprintf(x, sizeof(x), AFF,
             "\"nvidia.com/gpu.product\",\"operator\":\"In\",\"values\":[\"NVIDIA-L4\"]");
    post_job(c, "fedsched-jobs", job_body("in", 1, "", "", x), 201);
    ck_assert_str_eq(node_of(c, "in", node, sizeof(node)), "l-0");
    snprintf(x, sizeof(x), AFF,
             "\"nvidia.com/gpu.product\",\"operator\":\"NotIn\",\"values\":[\"NVIDIA-A100\"]");
    post_job(c, "fedsched-jobs", job_body("notin", 1, "", "", x), 201);
    ck_assert_str_eq(node_of(c, "notin", node, sizeof(node)), "l-0");
    snprintf(x, sizeof(x), AFF, "\"team\",\"operator\":\"DoesNotExist\"");
    post_job(c, "fedsched-jobs", job_body("dne", 1, "", "", x), 201);
    ck_assert_str_eq(node_of(c, "dne", node, sizeof(node)), "a-0");
    snprintf(x, sizeof(x), AFF, "\"no-such-label\",\"operator\":\"Exists\"");
    post_job(c, "fedsched-jobs", job_body("exists", 1, "", "", x), 201);
    ck_assert_str_eq(node_of(c, "exists", node, sizeof(node)), "");
    /* cpu: 64 cores per A100 node, none on the L4 (default 95450m, GPUs full) */
    post_job(c, "fedsched-jobs",
             job_body("cpu", 1, "", "",
                      ",\"nodeSelector\":{\"nvidia.com/gpu.product\":\"NVIDIA-A100\"},"
                      "\"initContainers\":[{\"name\":\"i\",\"image\":\"x\",\"resources\":"
                      "{\"requests\":{\"cpu\":\"65\"}}}]"),
             201);
    l = job_pods_of(c, "fedsched-jobs", "cpu");
    ck_assert_ptr_nonnull(strstr(
        str(json_array_get(
                json_object_get(
                    json_object_get(json_array_get(json_object_get(l, "items"), 0), "status"),
                    "conditions"),
                0),
            "message", NULL),
        "2 Insufficient cpu"));
    json_decref(l);
    /* No PriorityClass "fedsched-borrowed" here: no pods, until it exists. */
    post_job(c, "fedsched-jobs",
             job_body("pc", 1, "", "", ",\"priorityClassName\":\"fedsched-borrowed\""), 201);
    l = job_pods_of(c, "fedsched-jobs", "pc");
    ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 0);
    json_decref(l);
    call0(c, "POST", "/apis/scheduling.k8s.io/v1/priorityclasses",
          "{\"apiVersion\":\"scheduling.k8s.io/v1\",\"kind\":\"PriorityClass\","
          "\"metadata\":{\"name\":\"fedsched-borrowed\"},\"value\":-10}",
          201);
    l = job_pods_of(c, "fedsched-jobs", "pc");
    ck_assert_int_eq(json_array_size(json_object_get(l, "items")), 1);
    json_decref(l);
    sim_cluster_free(&c);
    sim_scenario_free(&sp);
}
END_TEST

START_TEST(workers_wait_for_their_service)
{
    struct sim_scenario *sp = NULL;
    struct sim_cluster *c = strict_cluster("", &sp);
    json_t *j, *l, *p;
    const json_t *env;

    post_job(c, "fedsched-jobs",
             job_body("rdv", 2, "\"sim.fedsched.io/duration-seconds\":\"10\"", "",
                      ",\"subdomain\":\"rdv\""),
             201);
    l = job_pods_of(c, "fedsched-jobs", "rdv");
    p = pod_at(l, 1);
    ck_assert_str_eq(str(p, "spec", "subdomain"), "rdv");
    ck_assert_str_eq(str(p, "spec", "hostname"), "rdv-1");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(p, "metadata"), "annotations"),
                         "batch.kubernetes.io/job-completion-index")),
                     "1");
    env = json_object_get(
        json_array_get(json_object_get(json_object_get(p, "spec"), "containers"), 0), "env");
    ck_assert_str_eq(str(json_array_get(env, 0), "name", NULL), "A");
    ck_assert_str_eq(str(json_array_get(env, 1), "name", NULL), "JOB_COMPLETION_INDEX");
    json_decref(l);
    sim_clock_skip(&clk, 20000);
    j = call(c, "GET", "/apis/batch/v1/namespaces/fedsched-jobs/jobs/rdv", NULL, 200);
    ck_assert_ptr_null(condition_of(j, "Complete"));
    json_decref(j);
    call0(c, "POST", "/api/v1/namespaces/fedsched-jobs/services",
          "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"rdv\"},"
          "\"spec\":{\"clusterIP\":\"None\"}}",
          201);
    sim_clock_skip(&clk, 11000);
    j = call(c, "GET", "/apis/batch/v1/namespaces/fedsched-jobs/jobs/rdv", NULL, 200);
    ck_assert_ptr_nonnull(condition_of(j, "Complete"));
    json_decref(j);
    sim_cluster_free(&c);
    sim_scenario_free(&sp);
}
END_TEST

struct grab {
    char body[2048];
    size_t len;
    char retry_after[16];
};

static size_t grab_body(char *p, size_t sz, size_t n, void *arg)
{
    struct grab *g = arg;
    size_t k = sz * n;

    if (g->len + k < sizeof(g->body)) {
        memcpy(g->body + g->len, p, k);
        g->len += k;
        g->body[g->len] = '\0';
    }
    return k;
}

static size_t grab_header(char *p, size_t sz, size_t n, void *arg)
{
    struct grab *g = arg;
    size_t k = sz * n;

    if (k > 13 && strncasecmp(p, "Retry-After: ", 13) == 0)
        snprintf(g->retry_after, sizeof(g->retry_after), "%.*s", (int)strcspn(p + 13, "\r\n"),
                 p + 13);
    return k;
}

START_TEST(injected_429_says_when_to_retry)
{
    struct sim_options o;
    struct sim *s = NULL;
    struct sim_faults f;
    struct err e = {0};
    struct grab g;
    char url[256], u[320];
    CURL *h = curl_easy_init();
    long code = 0;
    json_t *st;

    memset(&o, 0, sizeof(o));
    memset(&g, 0, sizeof(g));
    o.scenario_text = scn_text;
    o.scenario_len = strlen(scn_text);
    ck_assert_int_eq(sim_start(&o, &s, &e), 0);
    memset(&f, 0, sizeof(f));
    f.status = 429;
    f.retry_after_s = 5;
    ck_assert_int_eq(sim_set_faults(s, "c2", &f, &e), 0);
    ck_assert_int_eq(sim_url(s, "c2", url, sizeof(url), &e), 0);
    snprintf(u, sizeof(u), "%s/apis/batch/v1/namespaces/fedsched-jobs/jobs", url);
    curl_easy_setopt(h, CURLOPT_URL, u);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, grab_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &g);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, grab_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &g);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 3000L);
    ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    ck_assert_int_eq(code, 429);
    ck_assert_str_eq(g.retry_after, "5");
    st = json_loads(g.body, 0, NULL);
    ck_assert_str_eq(str(st, "reason", NULL), "TooManyRequests");
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(st, "details"), "retryAfterSeconds")),
        5);
    json_decref(st);
    sim_stop(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_cluster");
    TCase *tc = tcase_create("model");
    TCase *th = tcase_create("http");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, node_list_shape);
    tcase_add_test(tc, pagination_visits_every_item_once);
    tcase_add_test(tc, continue_tokens_expire);
    tcase_add_test(tc, pod_selectors);
    tcase_add_test(tc, diurnal_replicas);
    tcase_add_test(tc, errors_are_status_objects);
    tcase_add_test(tc, scenario_errors_name_the_member);
    tcase_add_test(tc, namespaces_services_secrets);
    tcase_add_test(tc, priority_classes);
    tcase_add_test(tc, owners_cascade);
    tcase_add_test(tc, discovery_and_crds);
    tcase_add_test(tc, forbidden_verbs);
    tcase_add_test(tc, pod_failures_by_annotation);
    tcase_add_test(tc, suspended_job_has_no_pods);
    tcase_add_test(tc, ttl_after_finished);
    tcase_add_test(tc, finalizers_keep_a_deleted_job);
    tcase_add_test(tc, ttl_deletion_waits_for_finalizers);
    tcase_add_test(tc, scheduling_rules);
    tcase_add_test(tc, workers_wait_for_their_service);
    tcase_add_test(th, http_front_shared_port);
    tcase_add_test(th, injected_429_says_when_to_retry);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, th);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
