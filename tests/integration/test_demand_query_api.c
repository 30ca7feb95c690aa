/* test_demand_query_api.c -- a serving pool's demand query end to end (issue 17): `fedsched
 * serve` reads servingPool.demandQuery from its config file for sim-onprem
 * (testdata/sim/forecast-browser.json: an L4 serving pool whose HPA already announces 6
 * GPUs, 2 in use) and asks a fake Prometheus (tests/support/fake_prom.h) in this process.
 * The figure shows in GET /v1/clusters/{name} (demandQuery, announcedServing) and /metrics;
 * a broken answer is counted and leaves the cluster Ready and the figure counting; PUT
 * /v1/clusters/{name} refuses a bad demandQuery naming the member. The fake runs in this
 * process's parent (an unchecked fixture) and answers from a file the tests write. */
#include "tests/support/fake_prom.h"
#include "tests/support/itest.h"

#include "base/mem.h"

#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct itest_server srv;
static struct fake_prom *prom;
static pid_t sim_pid;
static char dsn[1024], dir[128], base_cfg[256], clusters_cfg[256], secrets_env[200], answer[256];
static const char *const serve_args[] = {"--config", base_cfg, "--config", clusters_cfg, NULL};
static const char *const serve_env[] = {secrets_env, NULL};

/* The simulator's clusters.json with sim-onprem's serving pool asking the fake. */
static void write_clusters(void)
{
    char in[256];
    json_error_t je;
    json_t *j, *c;
    size_t i;
    int found = 0;

    snprintf(in, sizeof(in), "%s/clusters.json", dir);
    j = json_load_file(in, 0, &je);
    ck_assert_msg(j != NULL, "%s: %s", in, je.text);
    json_array_foreach(json_object_get(j, "clusters"), i, c)
    {
        json_t *sp = json_object_get(c, "servingPool");

        if (strcmp(json_string_value(json_object_get(c, "name")), "sim-onprem") != 0)
            continue;
        ck_assert_msg(json_is_object(sp), "sim-onprem has no serving pool in %s", in);
        json_object_set_new(sp, "demandQuery",
                            json_pack("{s:s,s:s,s:i,s:i}", "url", fake_prom_url(prom), "query",
                                      "sum(llm_gpus_wanted)", "intervalMs", 1000, "timeoutMs",
                                      1000));
        found++;
    }
    ck_assert_int_eq(found, 1);
    ck_assert_int_eq(json_dump_file(j, clusters_cfg, 0), 0);
    json_decref(j);
}

static void suite_setup(void)
{
    FILE *f;

    snprintf(dir, sizeof(dir), "/tmp/fedsched-dq-%d", (int)getpid());
    mkdir(dir, 0755);
    char body[512];

    prom = fake_prom_start();
    snprintf(answer, sizeof(answer), "%s/prom-answer", dir);
    fake_prom_vector_body("12", body, sizeof(body));
    fake_prom_write_answer(answer, 200, body);
    fake_prom_answer_from(prom, answer);
    sim_pid = itest_sim_start("testdata/sim/forecast-browser.json", dir);
    snprintf(base_cfg, sizeof(base_cfg), "%s/base.json", dir);
    snprintf(clusters_cfg, sizeof(clusters_cfg), "%s/clusters-dq.json", dir);
    write_clusters();
    f = fopen(base_cfg, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"poller\": {\"intervalMs\": 500}}", f);
    fclose(f);
    itest_create_db(dsn, sizeof(dsn));
    snprintf(secrets_env, sizeof(secrets_env), "FEDSCHED_SECRETS_DIR=%s", dir);
    itest_server_start_args(&srv, dsn, serve_env, serve_args, 1);
}

static void suite_teardown(void)
{
    itest_server_stop(&srv, SIGTERM);
    if (sim_pid > 0) {
        kill(sim_pid, SIGTERM);
        sim_pid = 0;
    }
    fake_prom_stop(&prom);
}

/* GET /v1/clusters/sim-onprem's status; caller decrefs the returned cluster object. */
static json_t *onprem(json_t **status)
{
    json_t *c = NULL;

    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/sim-onprem", &c), 200);
    *status = json_object_get(c, "status");
    return c;
}

static json_int_t l4_announced(json_t *status)
{
    json_t *x;
    size_t i;

    json_array_foreach(json_object_get(status, "capacity"), i, x)
    {
        if (strcmp(json_string_value(json_object_get(x, "sku")), "l4") == 0 &&
            strcmp(json_string_value(json_object_get(x, "pool")), "serving") == 0)
            return json_integer_value(json_object_get(x, "announcedServing"));
    }
    return -1;
}

/* Waits (20 s at most) until sim-onprem's demandQuery.lastResult is want; returns the cluster. */
static json_t *wait_result(const char *want, json_t **status)
{
    for (int i = 0; i < 100; i++) {
        json_t *c = onprem(status);
        const char *got = json_string_value(
            json_object_get(json_object_get(*status, "demandQuery"), "lastResult"));

        if (got && strcmp(got, want) == 0 && l4_announced(*status) >= 0)
            return c;
        json_decref(c);
        usleep(200 * 1000);
    }
    ck_abort_msg("demandQuery.lastResult never became %s", want);
    return NULL;
}

/* The value of the first sample of /metrics named by prefix (a whole series name with
 * labels, up to the space), or -1. */
static double metric(const char *prefix)
{
    char url[128], *page = NULL, *at;
    double v = -1;

    snprintf(url, sizeof(url), "%s/metrics", srv.base);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, &page), 200);
    at = strstr(page, prefix);
    if (at)
        v = strtod(at + strlen(prefix), NULL);
    free(page);
    return v;
}

/* `fedsched capacity`'s PENDING and ANNOUNCED cells ("-" or a number) on the row of sku and
 * pool; fails when there is no such row. */
static void cli_capacity_row(const char *sku, const char *pool, char pending[32],
                             char announced[32])
{
    char cmd[512], line[512];
    bool header = false, found = false;
    FILE *f;

    snprintf(cmd, sizeof(cmd), "FEDSCHED_URL=%s '%s' capacity 2>/dev/null", srv.base,
             getenv("FEDSCHED_BIN"));
    f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f)) {
        char c[10][32];

        if (sscanf(line, "%31s %31s %31s %31s %31s %31s %31s %31s %31s %31s", c[0], c[1], c[2],
                   c[3], c[4], c[5], c[6], c[7], c[8], c[9]) != 10)
            continue;
        if (strcmp(c[0], "SKU") == 0) {
            header = strcmp(c[7], "PENDING") == 0 && strcmp(c[8], "ANNOUNCED") == 0;
            continue;
        }
        if (strcmp(c[0], sku) == 0 && strcmp(c[1], pool) == 0) {
            snprintf(pending, 32, "%s", c[7]);
            snprintf(announced, 32, "%s", c[8]);
            found = true;
        }
    }
    ck_assert_int_eq(pclose(f), 0);
    ck_assert_msg(header, "fedsched capacity: no SKU ... PENDING ANNOUNCED header");
    ck_assert_msg(found, "fedsched capacity: no row for %s %s", sku, pool);
}

START_TEST(config_file_query_reaches_the_api_and_metrics)
{
    json_t *status, *c = wait_result("ok", &status), *dq = json_object_get(status, "demandQuery");

    /* Wanted 12 in all; 2 in use and 6 announced by the HPA: 4 more, 10 announced. */
    ck_assert_double_eq(json_real_value(json_object_get(dq, "figure")), 12);
    ck_assert_int_eq(json_integer_value(json_object_get(dq, "addedGpus")), 4);
    ck_assert_str_eq(json_string_value(json_object_get(dq, "sku")), "l4");
    ck_assert_int_eq(l4_announced(status), 10);
    ck_assert_str_eq(json_string_value(json_object_get(status, "health")), "Ready");
    /* The config as stored and served carries the query. */
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(json_object_get(c, "spec"), "servingPool"),
                                         "demandQuery"),
                         "query")),
                     "sum(llm_gpus_wanted)");
    json_decref(c);
    ck_assert_double_ge(
        metric("fedsched_cluster_demand_query_total{cluster=\"sim-onprem\",result=\"ok\"} "), 1);
    ck_assert_double_eq(
        metric("fedsched_cluster_demand_query_gpus{cluster=\"sim-onprem\",kind=\"added\"} "), 4);
    ck_assert_double_eq(metric("fedsched_cluster_gpus{cluster=\"sim-onprem\",sku=\"l4\","
                               "pool=\"serving\",state=\"announced_serving\"} "),
                        10);
    ck_assert_double_eq(metric("fedsched_cluster_demand_query_total{cluster=\"sim-west\""), -1);
    /* The CLI's capacity table shows what GET /v1/capacity says, "-" for training pools. */
    {
        char pending[32], announced[32], want[32];
        json_t *cap, *x;
        size_t i;

        ck_assert_int_eq(itest_get_json(srv.base, "/v1/capacity", &cap), 200);
        json_array_foreach(json_object_get(cap, "capacity"), i, x)
        {
            const char *sku = json_string_value(json_object_get(x, "sku"));
            const char *pool = json_string_value(json_object_get(x, "pool"));

            cli_capacity_row(sku, pool, pending, announced);
            if (strcmp(pool, "serving") == 0) {
                snprintf(want, sizeof(want), "%" JSON_INTEGER_FORMAT,
                         json_integer_value(json_object_get(x, "pendingServing")));
                ck_assert_str_eq(pending, want);
                snprintf(want, sizeof(want), "%" JSON_INTEGER_FORMAT,
                         json_integer_value(json_object_get(x, "announcedServing")));
                ck_assert_str_eq(announced, want);
            } else {
                ck_assert_str_eq(pending, "-");
                ck_assert_str_eq(announced, "-");
            }
        }
        cli_capacity_row("l4", "serving", pending, announced);
        ck_assert_msg(strtol(announced, NULL, 10) >= 10, "l4 serving announced %s", announced);
        json_decref(cap);
    }
}
END_TEST

/* Prometheus answers 422: counted as error, the cluster stays Ready without an error, the
 * figure still counts; then good again. */
START_TEST(a_failing_query_changes_nothing_but_its_counters)
{
    json_t *status, *c;
    char body[512];

    json_decref(wait_result("ok", &status));
    fake_prom_write_answer(answer, 422,
                           "{\"status\":\"error\",\"errorType\":\"execution\",\"error\":"
                           "\"many-to-many matching not allowed\"}");
    c = wait_result("error", &status);
    ck_assert_str_eq(json_string_value(json_object_get(status, "health")), "Ready");
    ck_assert_str_eq(json_string_value(json_object_get(status, "lastError")), "");
    ck_assert_ptr_nonnull(strstr(
        json_string_value(json_object_get(json_object_get(status, "demandQuery"), "lastError")),
        "HTTP 422 execution: many-to-many"));
    ck_assert_int_eq(l4_announced(status), 10);
    json_decref(c);
    ck_assert_double_ge(
        metric("fedsched_cluster_demand_query_total{cluster=\"sim-onprem\",result=\"error\"} "), 1);
    fake_prom_vector_body("14", body, sizeof(body));
    fake_prom_write_answer(answer, 200, body);
    for (int i = 0; i < 100; i++) {
        c = wait_result("ok", &status);
        if (l4_announced(status) == 12)
            break;
        json_decref(c);
        c = NULL;
        usleep(200 * 1000);
    }
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(l4_announced(status), 12);
    json_decref(c);
}
END_TEST

/* The admin API refuses a bad demandQuery with 422 naming the member. */
START_TEST(put_refuses_a_bad_demand_query)
{
    char url[128], *body = NULL;
    json_t *j;

    snprintf(url, sizeof(url), "%s/v1/clusters/dq-bad", srv.base);
    ck_assert_int_eq(
        itest_http("PUT", url, (const char *const[]){"Content-Type: application/json", NULL},
                   "{\"apiServer\":\"https://10.0.0.9:6443\",\"servingPool\":{\"nodeSelector\":"
                   "{\"fedsched.io/pool\":\"serving\"},\"demandQuery\":{\"url\":\"ftp://prom\","
                   "\"query\":\"sum(x)\"}}}",
                   &body),
        422);
    j = json_loads(body, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "field")),
                     "servingPool.demandQuery.url");
    json_decref(j);
    free(body);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("demand_query_api");
    TCase *tc = tcase_create("api");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_test(tc, config_file_query_reaches_the_api_and_metrics);
    tcase_add_test(tc, a_failing_query_changes_nothing_but_its_counters);
    tcase_add_test(tc, put_refuses_a_bad_demand_query);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
