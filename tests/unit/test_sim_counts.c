/* test_sim_counts.c -- a simulated cluster counts the requests its model answers by verb
 * and resource, as the API server's audit log names them (bench_apiload reads these):
 * lists and gets, creates in a group, watches, and non-resource paths. */
#include "base/buf.h"
#include "base/err.h"
#include "tools/kubesim/kubesim_cluster.h"
#include "tools/kubesim/kubesim_scenario.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static const char *scn_text =
    "{\"timeScale\":1,\"clusters\":[{\"name\":\"c1\",\"nodePools\":[{\"name\":\"h100\","
    "\"count\":2,\"product\":\"NVIDIA-H100-80GB-HBM3\",\"gpus\":8,\"memoryMiB\":81559}]}]}";

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

static void call(const char *method, const char *path, const char *body)
{
    struct sim_query q;
    struct sim_reply r;

    memset(&q, 0, sizeof(q));
    sim_cluster_handle(c1, method, path, &q, body, strlen(body), &r);
    free(r.body);
}

/* The count of what, 0 when it is not there. */
static uint64_t count_of(const char *what)
{
    struct sim_request_count rows[32];
    size_t n = sim_cluster_request_counts(c1, rows, 32);

    ck_assert_uint_le(n, 32);
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].what, what) == 0)
            return rows[i].n;
    return 0;
}

START_TEST(counts_by_verb_and_resource)
{
    ck_assert_uint_eq(sim_cluster_request_counts(c1, NULL, 0), 0);
    call("GET", "/api/v1/nodes", "");
    call("GET", "/api/v1/nodes", "");
    call("GET", "/api/v1/nodes/h100-0", "");
    call("GET", "/api/v1/namespaces/default/pods", "");
    call("POST", "/api/v1/namespaces",
         "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"x\"}}");
    call("GET", "/apis/batch/v1/namespaces/x/jobs", "");
    call("DELETE", "/apis/batch/v1/namespaces/x/jobs/nope", "");
    call("GET", "/version", "");
    ck_assert_uint_eq(count_of("list nodes"), 2);
    ck_assert_uint_eq(count_of("get nodes"), 1);
    ck_assert_uint_eq(count_of("list pods"), 1);
    ck_assert_uint_eq(count_of("create namespaces"), 1);
    ck_assert_uint_eq(count_of("list jobs.batch"), 1);
    ck_assert_uint_eq(count_of("delete jobs.batch"), 1);
    ck_assert_uint_eq(count_of("GET nonresource"), 1);
    ck_assert_uint_eq(count_of("list jobs"), 0);
}
END_TEST

START_TEST(a_watch_counts_once_when_opened)
{
    struct sim_query q;
    struct sim_reply rep;
    struct sim_watch *w = NULL;
    struct buf b;

    memset(&q, 0, sizeof(q));
    ck_assert_int_eq(sim_cluster_watch_open(c1, "/api/v1/nodes", &q, &w, &rep), 0);
    buf_init(&b, 0);
    sim_cluster_watch_read(c1, w, &b, 1 << 20);
    sim_cluster_watch_read(c1, w, &b, 1 << 20);
    buf_free(&b);
    sim_cluster_watch_free(&w);
    ck_assert_uint_eq(count_of("watch nodes"), 1);
    ck_assert_uint_eq(count_of("list nodes"), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_counts");
    TCase *tc = tcase_create("counts");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, counts_by_verb_and_resource);
    tcase_add_test(tc, a_watch_counts_once_when_opened);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
