/* test_trace.c -- the trace loaders: openb node and pod CSV (columns by name, optional
 * times, GPU-sharing rules, errors naming file, line and column), gpu_spec matching, the
 * Philly/Gavel job lines and the throughput table with its extrapolation rules, against the
 * extracts in testdata/traces/. */
#include "base/err.h"
#include "base/mem.h"
#include "whatif/trace.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *fixture(const char *name)
{
    const char *src = getenv("FEDSCHED_SRC");

    return xasprintf("%s/testdata/traces/%s", src ? src : ".", name);
}

START_TEST(openb_nodes_from_extract)
{
    char *path = fixture("openb_node_list_smoke.csv");
    struct trace_openb_node *v = NULL;
    size_t n = 0;
    struct err e = {0};
    int gpus = 0;

    ck_assert_msg(trace_openb_nodes_load(path, &v, &n, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(n, 61);
    ck_assert_str_eq(v[0].name, "openb-node-0000");
    ck_assert_int_eq(v[0].cpu_milli, 64000);
    ck_assert_int_eq(v[0].memory_mib, 262144);
    ck_assert_int_eq(v[0].gpus, 2);
    ck_assert_str_eq(v[0].model, "P100");
    for (size_t i = 0; i < n; i++)
        gpus += v[i].gpus;
    ck_assert_int_gt(gpus, 200);
    free(v);
    free(path);
}
END_TEST

START_TEST(openb_pods_from_extract)
{
    char *path = fixture("openb_pod_list_smoke.csv");
    struct trace_openb_pod *v = NULL;
    size_t n = 0, shared = 0, cpu_only = 0, pending = 0;
    struct err e = {0};

    ck_assert_msg(trace_openb_pods_load(path, &v, &n, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(n, 408);
    ck_assert_str_eq(v[0].name, "openb-pod-0000");
    ck_assert_int_eq(v[0].cpu_milli, 12000);
    ck_assert_int_eq(v[0].num_gpu, 1);
    ck_assert_int_eq(v[0].gpu_milli, 1000);
    ck_assert_str_eq(v[0].qos, "LS");
    ck_assert_int_eq(v[0].deletion_s, 12537496);
    for (size_t i = 0; i < n; i++) {
        shared += v[i].num_gpu == 1 && v[i].gpu_milli < 1000;
        cpu_only += v[i].num_gpu == 0;
        /* Pending pods have no scheduled time: read as -1, not 0. */
        pending += v[i].scheduled_s == -1;
    }
    ck_assert_uint_gt(shared, 50);
    ck_assert_uint_gt(cpu_only, 20);
    ck_assert_uint_gt(pending, 10);
    free(v);
    free(path);
}
END_TEST

START_TEST(openb_columns_found_by_name)
{
    const char *csv =
        "model,gpu,memory_mib,cpu_milli,sn\nV100M32,8,786432,96000,n1\n,0,1024,8000,n2\n";
    struct trace_openb_node *v = NULL;
    size_t n = 0;

    ck_assert_int_eq(trace_openb_nodes_parse(csv, strlen(csv), "t.csv", &v, &n, NULL), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(v[0].name, "n1");
    ck_assert_str_eq(v[0].model, "V100M32");
    ck_assert_int_eq(v[0].gpus, 8);
    ck_assert_int_eq(v[1].gpus, 0);
    ck_assert_str_eq(v[1].model, "");
    free(v);
}
END_TEST

static struct err pods_fail(const char *csv)
{
    struct trace_openb_pod *v = NULL;
    size_t n = 0;
    struct err e = {0};

    ck_assert_int_eq(trace_openb_pods_parse(csv, strlen(csv), "p.csv", &v, &n, &e), -1);
    ck_assert_ptr_null(v);
    return e;
}

#define POD_HDR                                                                                    \
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"            \
    "deletion_time,scheduled_time\n"

START_TEST(openb_errors_name_line_and_column)
{
    struct err e;

    e = pods_fail(POD_HDR "p1,1000,10,1,500,,LS,Running,0,5,0\np2,x,10,0,0,,LS,Running,0,5,0\n");
    ck_assert_int_eq(e.code, ERR_MALFORMED);
    ck_assert_str_eq(e.field, "cpu_milli");
    ck_assert_msg(strstr(e.msg, "p.csv:3") && strstr(e.msg, "'x'"), "%s", e.msg);
    e = pods_fail(POD_HDR "p1,1000,10,2,500,,LS,Running,0,5,0\n");
    ck_assert_str_eq(e.field, "gpu_milli");
    ck_assert_msg(strstr(e.msg, "only 1-GPU pods may share"), "%s", e.msg);
    e = pods_fail(POD_HDR "p1,1000,10,1,1500,,LS,Running,0,5,0\n");
    ck_assert_str_eq(e.field, "gpu_milli");
    e = pods_fail(POD_HDR "p1,1000,10,1\n");
    ck_assert_msg(strstr(e.msg, "p.csv:2") && strstr(e.msg, "11 comma-separated"), "%s", e.msg);
    e = pods_fail("name,cpu_milli\np1,5\n");
    ck_assert_msg(strstr(e.msg, "no column 'memory_mib'"), "%s", e.msg);
    e = pods_fail("");
    ck_assert_str_eq(e.field, "header");
}
END_TEST

START_TEST(gpu_spec_matching)
{
    ck_assert(trace_openb_spec_allows("", "G2"));
    ck_assert(trace_openb_spec_allows("V100M16|V100M32", "V100M32"));
    ck_assert(trace_openb_spec_allows("V100M16|V100M32", "V100M16"));
    ck_assert(!trace_openb_spec_allows("V100M16|V100M32", "V100M"));
    ck_assert(!trace_openb_spec_allows("V100M16", "V100M160"));
    ck_assert(!trace_openb_spec_allows("T4", "G2"));
}
END_TEST

START_TEST(philly_lines)
{
    char *path = fixture("philly-small.trace");
    struct trace_philly_job *v = NULL;
    size_t n = 0;
    struct err e = {0};

    ck_assert_msg(trace_philly_load(path, &v, &n, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(n, 7);
    ck_assert_str_eq(v[0].type, "Transformer (batch size 128)");
    ck_assert_int_eq(v[0].total_steps, 16553419);
    ck_assert(v[0].arrival_s == 0);
    ck_assert_int_eq(v[1].gpus, 8);
    ck_assert(fabs(v[1].arrival_s - 201694) < 1e-9);
    ck_assert_int_eq(v[5].gpus, 16);
    ck_assert_int_eq(v[6].gpus, 12);
    free(v);
    free(path);
    {
        const char *bad = "ResNet\tcmd\t-n\t1\t100\tsoon\t1\n";

        ck_assert_int_eq(trace_philly_parse(bad, strlen(bad), "b.trace", &v, &n, &e), -1);
        ck_assert_str_eq(e.field, "arrival_time");
        ck_assert_msg(strstr(e.msg, "b.trace:1"), "%s", e.msg);
    }
}
END_TEST

START_TEST(throughputs_and_extrapolation)
{
    char *path = fixture("throughputs-small.json");
    struct trace_throughputs *t = NULL;
    struct err e = {0};
    double r8;

    ck_assert_msg(trace_throughputs_load(path, &t, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(trace_throughputs_n_gpu_types(t), 3);
    ck_assert(fabs(trace_throughput(t, "v100", "ResNet-50 (batch size 128)", 1) -
                   2.4967655780898292) < 1e-12);
    /* Measured as 0: the job does not run there. */
    ck_assert(trace_throughput(t, "k80", "ResNet-50 (batch size 128)", 2) == 0);
    /* 16 GPUs: twice the 8-GPU rate; 12: 1.5 times it. */
    r8 = trace_throughput(t, "v100", "ResNet-18 (batch size 32)", 8);
    ck_assert(r8 > 300);
    ck_assert(fabs(trace_throughput(t, "v100", "ResNet-18 (batch size 32)", 16) - 2 * r8) < 1e-9);
    r8 = trace_throughput(t, "v100", "ResNet-50 (batch size 32)", 8);
    ck_assert(fabs(trace_throughput(t, "v100", "ResNet-50 (batch size 32)", 12) - 1.5 * r8) < 1e-9);
    /* Only the 1-GPU rate is known: 8 GPUs scale it linearly. */
    ck_assert(fabs(trace_throughput(t, "v100", "Recommendation (batch size 8192)", 8) -
                   8 * 2.841510364354536) < 1e-9);
    ck_assert(trace_throughput(t, "a100", "ResNet-18 (batch size 32)", 1) == 0);
    ck_assert(trace_throughput(t, "v100", "No such model", 1) == 0);
    trace_throughputs_free(&t);
    ck_assert_ptr_null(t);
    free(path);
    {
        const char *bad = "{\"v100\": {\"ResNet-18, 1\": {\"null\": 1}}}";

        ck_assert_int_eq(trace_throughputs_parse(bad, strlen(bad), "x.json", &t, &e), -1);
        ck_assert_msg(strstr(e.msg, "is not ('job type', GPUs)"), "%s", e.msg);
    }
}
END_TEST

START_TEST(missing_file_is_io_error)
{
    struct trace_openb_node *v = NULL;
    size_t n = 0;
    struct err e = {0};

    ck_assert_int_eq(trace_openb_nodes_load("/nonexistent/nodes.csv", &v, &n, &e), -1);
    ck_assert_int_eq(e.code, ERR_IO);
    ck_assert_msg(strstr(e.msg, "/nonexistent/nodes.csv"), "%s", e.msg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("trace");
    TCase *tc = tcase_create("loaders");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, openb_nodes_from_extract);
    tcase_add_test(tc, openb_pods_from_extract);
    tcase_add_test(tc, openb_columns_found_by_name);
    tcase_add_test(tc, openb_errors_name_line_and_column);
    tcase_add_test(tc, gpu_spec_matching);
    tcase_add_test(tc, philly_lines);
    tcase_add_test(tc, throughputs_and_extrapolation);
    tcase_add_test(tc, missing_file_is_io_error);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
