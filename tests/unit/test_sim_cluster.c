/* test_sim_cluster.c -- the simulated cluster answers like an API server: list shapes,
 * pagination with continue tokens (and their expiry), field and label selectors, Status
 * errors, the diurnal serving curve, scenario validation, and the HTTP front (auth, path
 * prefixes, faults) over loopback. */
#include "base/err.h"
#include "tools/kubesim/kubesim.h"
#include "tools/kubesim/kubesim_cluster.h"
#include "tools/kubesim/kubesim_scenario.h"

#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
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
    st = get("/apis/apps/v1/deployments", NULL, 404);
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
    tcase_add_test(th, http_front_shared_port);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, th);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
