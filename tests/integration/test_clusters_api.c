/* test_clusters_api.c -- the cluster registry and capacity end to end: `fedsched sim`
 * serving three simulated clusters, `fedsched serve` polling them. */
#include "tests/support/itest.h"

#include "base/mem.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct itest_server srv;
static char dsn[1024], dir[256], base_cfg[300], clusters_cfg[300];
static pid_t sim_pid;

static const char *const serve_args[] = {"--config", base_cfg, "--config", clusters_cfg, NULL};

static void suite_setup(void)
{
    FILE *f;

    snprintf(dir, sizeof(dir), "/tmp/fedsched-clusters-%d", (int)getpid());
    mkdir(dir, 0755);
    sim_pid = itest_sim_start("testdata/sim/three-clusters.json", dir);
    snprintf(base_cfg, sizeof(base_cfg), "%s/base.json", dir);
    snprintf(clusters_cfg, sizeof(clusters_cfg), "%s/clusters.json", dir);
    f = fopen(base_cfg, "w");
    fprintf(f, "{\"poller\": {\"intervalMs\": 300, \"sampleIntervalS\": 1, \"registrySyncS\": 1},"
               " \"quotas\": [{\"namespace\": \"capped\", \"sku\": \"a100-80gb\", \"nominal\": 8,"
               " \"borrowingLimit\": 0}]}");
    fclose(f);
    itest_create_db(dsn, sizeof(dsn));
    itest_server_start_args(&srv, dsn, NULL, serve_args, 1);
}

static void suite_teardown(void)
{
    itest_server_stop(&srv, SIGTERM);
    kill(sim_pid, SIGTERM);
    waitpid(sim_pid, NULL, 0);
}

static json_t *find_item(json_t *list, const char *name)
{
    size_t i;
    json_t *it;

    json_array_foreach(json_object_get(list, "items"), i,
                       it) if (strcmp(json_string_value(json_object_get(it, "name")), name) ==
                               0) return it;
    return NULL;
}

static const char *health_of(json_t *cluster)
{
    const char *h =
        json_string_value(json_object_get(json_object_get(cluster, "status"), "health"));

    return h ? h : "";
}

/* Polls GET /v1/clusters until every listed cluster is Ready (10 s at most). */
static json_t *wait_ready(int expect)
{
    for (int i = 0; i < 100; i++) {
        json_t *list = NULL;
        size_t k, ready = 0;
        json_t *it;

        ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters", &list), 200);
        json_array_foreach(json_object_get(list, "items"), k, it) ready +=
            strcmp(health_of(it), "Ready") == 0;
        if ((int)ready == expect && (int)json_array_size(json_object_get(list, "items")) == expect)
            return list;
        json_decref(list);
        usleep(100 * 1000);
    }
    ck_abort_msg("clusters did not all become Ready");
    return NULL;
}

START_TEST(config_clusters_become_ready)
{
    json_t *list = wait_ready(3);
    json_t *east = find_item(list, "sim-east");

    ck_assert_ptr_nonnull(east);
    ck_assert_str_eq(json_string_value(json_object_get(east, "source")), "config");
    ck_assert_ptr_nonnull(find_item(list, "sim-west"));
    ck_assert_ptr_nonnull(find_item(list, "sim-onprem"));
    /* The token file is named, the token itself never shown. */
    {
        char *text = json_dumps(list, 0);

        ck_assert_ptr_null(strstr(text, "sim-east-token\""));
        free(text);
    }
    json_decref(list);
}
END_TEST

static const json_t *capacity_row(json_t *cap, const char *sku, const char *pool)
{
    size_t i;
    json_t *row;

    json_array_foreach(json_object_get(cap, "capacity"), i,
                       row) if (strcmp(json_string_value(json_object_get(row, "sku")), sku) == 0 &&
                                strcmp(json_string_value(json_object_get(row, "pool")), pool) ==
                                    0) return row;
    return NULL;
}

START_TEST(capacity_totals_match_the_scenario)
{
    json_t *cap = NULL, *list = wait_ready(3);
    const json_t *h100, *l4;

    json_decref(list);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/capacity", &cap), 200);
    /* sim-east: 6 H100 nodes x 8 GPUs, 2 of them busy with other pods. */
    h100 = capacity_row(cap, "h100-80gb", "training");
    ck_assert_ptr_nonnull(h100);
    ck_assert_int_eq(json_integer_value(json_object_get(h100, "total")), 48);
    ck_assert_int_eq(json_integer_value(json_object_get(h100, "used")), 16);
    ck_assert_int_eq(json_integer_value(json_object_get(h100, "free")), 32);
    /* sim-west's serving pool: 10 L4 nodes x 4 GPUs with a reserve of 1. */
    l4 = capacity_row(cap, "l4", "serving");
    ck_assert_ptr_nonnull(l4);
    ck_assert_int_eq(json_integer_value(json_object_get(l4, "total")), 40);
    ck_assert_int_eq(json_integer_value(json_object_get(l4, "reserve")), 1);
    json_decref(cap);
}
END_TEST

START_TEST(cordon_and_uncordon)
{
    char url[256], *out = NULL;
    json_t *r = NULL;

    snprintf(url, sizeof(url), "%s/v1/clusters/sim-onprem/cordon", srv.base);
    ck_assert_int_eq(itest_http("POST", url, NULL, NULL, &out), 200);
    r = json_loads(out, 0, NULL);
    ck_assert(json_is_true(json_object_get(r, "cordoned")));
    json_decref(r);
    free(out);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/sim-onprem", &r), 200);
    ck_assert(json_is_true(json_object_get(r, "cordoned")));
    /* Cordoning does not turn a config-file cluster into an API one. */
    ck_assert_str_eq(json_string_value(json_object_get(r, "source")), "config");
    json_decref(r);
    snprintf(url, sizeof(url), "%s/v1/clusters/sim-onprem/uncordon", srv.base);
    ck_assert_int_eq(itest_http("POST", url, NULL, NULL, NULL), 200);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/sim-onprem", &r), 200);
    ck_assert(json_is_false(json_object_get(r, "cordoned")));
    json_decref(r);
    snprintf(url, sizeof(url), "%s/v1/clusters/nope/cordon", srv.base);
    ck_assert_int_eq(itest_http("POST", url, NULL, NULL, NULL), 404);
}
END_TEST

START_TEST(admin_api_adds_and_removes_clusters)
{
    const char *hdr[] = {"Content-Type: application/json", NULL};
    char url[256], body[512], *out = NULL, onprem_url[256];
    json_t *r = NULL, *list;

    list = wait_ready(3);
    snprintf(onprem_url, sizeof(onprem_url), "%s",
             json_string_value(json_object_get(
                 json_object_get(find_item(list, "sim-onprem"), "spec"), "apiServer")));
    json_decref(list);
    /* A second name for sim-onprem's API server: it is polled and becomes Ready. */
    snprintf(url, sizeof(url), "%s/v1/clusters/extra", srv.base);
    snprintf(body, sizeof(body), "{\"apiServer\": \"%s\", \"region\": \"dc2\"}", onprem_url);
    ck_assert_int_eq(itest_http("PUT", url, hdr, body, &out), 201);
    free(out);
    ck_assert_int_eq(itest_http("PUT", url, hdr, body, &out), 200);
    free(out);
    list = wait_ready(4);
    ck_assert_str_eq(json_string_value(json_object_get(find_item(list, "extra"), "source")), "api");
    json_decref(list);
    /* Bad input names the field. */
    ck_assert_int_eq(itest_http("PUT", url, hdr, "{\"apiServer\": \"ftp://x\"}", &out), 422);
    r = json_loads(out, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "error"), "field")),
                     "apiServer");
    json_decref(r);
    free(out);
    ck_assert_int_eq(
        itest_http("PUT", url, hdr, "{\"name\": \"other\", \"apiServer\": \"http://x\"}", &out),
        422);
    free(out);
    ck_assert_int_eq(itest_http("PUT", url, NULL, "{}", &out), 415);
    free(out);
    ck_assert_int_eq(itest_http("DELETE", url, NULL, NULL, NULL), 200);
    ck_assert_int_eq(itest_http("DELETE", url, NULL, NULL, NULL), 404);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/extra", &r), 404);
    json_decref(r);
}
END_TEST

static json_t *submit_and_explain(const char *name, const char *sku, int gpus,
                                  const char *scheduling)
{
    char body[1024], path[256];
    json_t *x = NULL;

    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":"
             "{\"name\":\"%s\"},\"spec\":{\"resources\":{\"instanceType\":\"%s\","
             "\"gpuCount\":%d},\"code\":{\"image\":\"x:1\"},\"scheduling\":%s}}",
             name, sku, gpus, scheduling);
    ck_assert_int_eq(itest_post_json(srv.base, "/v1/namespaces/explain/trainingjobs", body, NULL),
                     201);
    snprintf(path, sizeof(path), "/v1/namespaces/explain/trainingjobs/%s/explain", name);
    ck_assert_int_eq(itest_get_json(srv.base, path, &x), 200);
    return x;
}

START_TEST(explain_uses_the_live_snapshot)
{
    json_t *x, *clusters, *it;
    size_t i;
    int saw_east = 0;

    json_decref(wait_ready(3));
    /* 8 H100s fit in sim-east, the only cluster with H100s: either still queued (what-if
     * says placed) or already admitted by the scheduler (its recorded decision). */
    x = submit_and_explain("fits", "h100-80gb", 8, "{}");
    ck_assert_str_eq(json_string_value(json_object_get(x, "status")), "placed");
    ck_assert_str_eq(json_string_value(json_object_get(x, "cluster")), "sim-east");
    ck_assert_ptr_nonnull(json_object_get(x, "score"));
    json_decref(x);
    for (int tries = 0; tries < 100; tries++) {
        char *ph;

        ck_assert_int_eq(itest_get_json(srv.base, "/v1/namespaces/explain/trainingjobs/fits", &x),
                         200);
        ph = xstrdup(json_string_value(json_object_get(json_object_get(x, "status"), "phase")));
        json_decref(x);
        if (strcmp(ph, "Queued") != 0) {
            free(ph);
            break;
        }
        free(ph);
        usleep(100 * 1000);
    }
    ck_assert_int_eq(
        itest_get_json(srv.base, "/v1/namespaces/explain/trainingjobs/fits/explain", &x), 200);
    ck_assert_str_ne(json_string_value(json_object_get(x, "phase")), "Queued");
    ck_assert_str_eq(json_string_value(json_object_get(x, "status")), "placed");
    ck_assert_str_eq(json_string_value(json_object_get(x, "cluster")), "sim-east");
    ck_assert_ptr_nonnull(json_object_get(x, "score"));
    json_decref(x);
    /* 128 H100s (16 workers of 8) do not: sim-east says how many workers fit. */
    x = submit_and_explain("too-big", "h100-80gb", 128, "{}");
    ck_assert_str_eq(json_string_value(json_object_get(x, "status")), "pending");
    clusters = json_object_get(x, "clusters");
    ck_assert_int_ge(json_array_size(clusters), 3); /* the others may still list "extra" */
    json_array_foreach(clusters, i, it)
    {
        if (strcmp(json_string_value(json_object_get(it, "cluster")), "sim-east") == 0) {
            char *text = json_dumps(it, 0);

            saw_east = 1;
            ck_assert_msg(strstr(text, "needs 16 workers of 8 GPUs"), "%s", text);
            free(text);
        }
    }
    ck_assert(saw_east);
    json_decref(x);
    /* Affinity to a cluster without H100s is named as the reason. */
    x = submit_and_explain("affine", "h100-80gb", 8, "{\"clusterAffinity\":[\"sim-west\"]}");
    ck_assert_str_eq(json_string_value(json_object_get(x, "status")), "pending");
    {
        char *text = json_dumps(x, 0);

        ck_assert_msg(strstr(text, "affinity"), "%s", text);
        free(text);
    }
    json_decref(x);
    ck_assert_int_eq(
        itest_get_json(srv.base, "/v1/namespaces/explain/trainingjobs/nope/explain", &x), 404);
    json_decref(x);
}
END_TEST

/* A namespace with a nominal quota of 8 A100s and no borrowing gets one 8-GPU job placed;
 * the next waits, and explain names the quota. */
START_TEST(quota_holds_jobs_back)
{
    char body[1024];
    json_t *x = NULL;
    const char *phase = NULL;

    json_decref(wait_ready(3));
    for (int i = 0; i < 2; i++) {
        snprintf(body, sizeof(body),
                 "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":"
                 "{\"name\":\"capped-%d\"},\"spec\":{\"resources\":{\"instanceType\":"
                 "\"a100-80gb\",\"gpuCount\":8},\"code\":{\"image\":\"x:1\"}}}",
                 i);
        ck_assert_int_eq(
            itest_post_json(srv.base, "/v1/namespaces/capped/trainingjobs", body, NULL), 201);
    }
    for (int tries = 0; tries < 100; tries++) {
        ck_assert_int_eq(
            itest_get_json(srv.base, "/v1/namespaces/capped/trainingjobs/capped-0", &x), 200);
        phase = json_string_value(json_object_get(json_object_get(x, "status"), "phase"));
        if (strcmp(phase, "Queued") != 0)
            break;
        json_decref(x);
        x = NULL;
        usleep(100 * 1000);
    }
    ck_assert_str_ne(phase, "Queued");
    json_decref(x);
    /* Several cycles later the second is still queued, and explain says why. */
    usleep(1500 * 1000);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/namespaces/capped/trainingjobs/capped-1", &x),
                     200);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(x, "status"), "phase")),
                     "Queued");
    json_decref(x);
    ck_assert_int_eq(
        itest_get_json(srv.base, "/v1/namespaces/capped/trainingjobs/capped-1/explain", &x), 200);
    ck_assert_str_eq(json_string_value(json_object_get(x, "status")), "pending");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(x, "reason"), "reason")),
                     "quota");
    json_decref(x);
}
END_TEST

START_TEST(samples_and_metrics)
{
    char url[256], *out = NULL, *n = NULL;

    json_decref(wait_ready(3));
    for (int i = 0; i < 50; i++) {
        free(n);
        n = itest_sql(dsn, "SELECT count(DISTINCT ts) FROM capacity_samples WHERE cluster = "
                           "'sim-east' AND sku = 'h100-80gb' AND total = 48");
        if (strtol(n, NULL, 10) >= 2)
            break;
        usleep(200 * 1000);
    }
    ck_assert_int_ge(strtol(n, NULL, 10), 2);
    free(n);
    snprintf(url, sizeof(url), "%s/metrics", srv.base);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, &out), 200);
    ck_assert_ptr_nonnull(strstr(out, "cluster=\"sim-west\""));
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("clusters_api");
    TCase *tc = tcase_create("clusters_api");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, config_clusters_become_ready);
    tcase_add_test(tc, capacity_totals_match_the_scenario);
    tcase_add_test(tc, cordon_and_uncordon);
    tcase_add_test(tc, admin_api_adds_and_removes_clusters);
    tcase_add_test(tc, explain_uses_the_live_snapshot);
    tcase_add_test(tc, quota_holds_jobs_back);
    tcase_add_test(tc, samples_and_metrics);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
