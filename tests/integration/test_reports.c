/* test_reports.c -- GET /v1/reports/capacity against a known history of capacity samples
 * and job events (testdata/reports/history.sql): the CSV matches expected.csv byte for
 * byte, the other formats carry the same figures, bad options name their field. */
#include "tests/support/itest.h"

#include "base/buf.h"
#include "base/mem.h"

#include <check.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW "from=2026-01-01T00:00:00Z&to=2026-01-01T02:00:00Z&step=1h"

static struct itest_server srv;
static char dsn[1024];

static char *slurp(const char *rel)
{
    const char *src = getenv("FEDSCHED_SRC");
    char path[1024];
    FILE *f;
    char *data;
    long n;

    snprintf(path, sizeof(path), "%s/%s", src ? src : ".", rel);
    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = xmalloc((size_t)n + 1);
    ck_assert_int_eq(fread(data, 1, (size_t)n, f), (size_t)n);
    data[n] = '\0';
    fclose(f);
    return data;
}

static void suite_setup(void)
{
    char *seed;

    itest_create_db(dsn, sizeof(dsn));
    itest_server_start(&srv, dsn, NULL, 1);
    seed = slurp("testdata/reports/history.sql");
    free(itest_sql(dsn, seed));
    free(seed);
}

static void suite_teardown(void)
{
    itest_server_stop(&srv, SIGTERM);
}

static long get(const char *query, char **body)
{
    char url[512];

    snprintf(url, sizeof(url), "%s/v1/reports/capacity?%s", srv.base, query);
    return itest_http("GET", url, NULL, NULL, body);
}

START_TEST(csv_matches_the_known_history)
{
    char *want = slurp("testdata/reports/expected.csv"), *got = NULL;

    ck_assert_msg(get(WINDOW "&format=csv", &got) == 200, "%s", got);
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
}
END_TEST

START_TEST(json_carries_totals_and_waits_by_sku)
{
    char *got = NULL;
    json_t *root, *tot, *waits, *row = NULL;
    size_t i;

    ck_assert_int_eq(get(WINDOW, &got), 200);
    root = json_loads(got, 0, NULL);
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(json_string_value(json_object_get(root, "kind")), "CapacityReport");
    ck_assert_int_eq(json_array_size(json_object_get(root, "rows")), 7);
    ck_assert_int_eq(json_array_size(json_object_get(root, "federation")), 2);
    tot = json_object_get(root, "totals");
    json_array_foreach(tot, i, row)
    {
        if (strcmp(json_string_value(json_object_get(row, "cluster")), "az1") == 0 &&
            strcmp(json_string_value(json_object_get(row, "pool")), "training") == 0)
            break;
    }
    ck_assert_msg(i < json_array_size(tot), "no az1 training total");
    /* Two hours of 16 GPUs; 8 then 12 used. */
    ck_assert_double_eq_tol(json_real_value(json_object_get(row, "gpuHoursTotal")), 32.0, 1e-9);
    ck_assert_double_eq_tol(json_real_value(json_object_get(row, "utilisationPct")), 62.5, 1e-9);
    ck_assert_int_eq(json_integer_value(json_object_get(row, "jobsPlaced")), 4);
    ck_assert_double_eq_tol(json_real_value(json_object_get(row, "gpuHoursLostToReclaim")), 2.0,
                            1e-9);
    waits = json_object_get(root, "queueWaitBySku");
    ck_assert_int_eq(json_array_size(waits), 1);
    row = json_array_get(waits, 0);
    ck_assert_str_eq(json_string_value(json_object_get(row, "sku")), "a100-80gb");
    ck_assert_int_eq(json_integer_value(json_object_get(row, "jobs")), 5); /* job-e too */
    ck_assert_double_eq_tol(json_real_value(json_object_get(row, "p50Seconds")), 600.0, 1e-9);
    ck_assert_double_eq_tol(json_real_value(json_object_get(row, "p95Seconds")), 1800.0, 1e-9);
    json_decref(root);
    free(got);
}
END_TEST

/* job-e asked for a100-80gb, ran on h100-80gb in az2 and was reclaimed there; it is
 * queued again with no cluster. Its placement, its preemption and the work it lost
 * (2 GPUs x 11 minutes since its checkpoint, from the ledger) land on az2, h100-80gb,
 * training; its queue wait counts under the SKU it asked for. */
START_TEST(a_requeued_jobs_preemption_lands_where_it_ran)
{
    char *got = NULL;
    json_t *root, *row = NULL;
    size_t i;
    int found = 0;

    ck_assert_int_eq(get(WINDOW, &got), 200);
    root = json_loads(got, 0, NULL);
    ck_assert_ptr_nonnull(root);
    json_array_foreach(json_object_get(root, "rows"), i, row)
    {
        const char *cl = json_string_value(json_object_get(row, "cluster"));

        /* Nothing of job-e on a cluster-less row or under its requested SKU in az2. */
        ck_assert_int_eq(json_integer_value(json_object_get(row, "jobsPreempted")) > 0 &&
                             strcmp(cl, "-") == 0,
                         0);
        if (strcmp(cl, "az2") != 0 ||
            strcmp(json_string_value(json_object_get(row, "start")), "2026-01-01T00:00:00.000Z"))
            continue;
        found++;
        ck_assert_str_eq(json_string_value(json_object_get(row, "sku")), "h100-80gb");
        ck_assert_str_eq(json_string_value(json_object_get(row, "pool")), "training");
        ck_assert_int_eq(json_integer_value(json_object_get(row, "jobsPlaced")), 1);
        ck_assert_int_eq(json_integer_value(json_object_get(row, "jobsPreempted")), 1);
        ck_assert_double_eq_tol(json_real_value(json_object_get(row, "gpuHoursLostToReclaim")),
                                0.367, 1e-9);
    }
    ck_assert_int_eq(found, 1);
    json_decref(root);
    free(got);
}
END_TEST

START_TEST(markdown_and_html_are_self_contained)
{
    char *md = NULL, *html = NULL;

    ck_assert_int_eq(get(WINDOW "&format=md", &md), 200);
    ck_assert_ptr_nonnull(strstr(md, "| az1 | a100-80gb | training | 32.000 |"));
    ck_assert_ptr_nonnull(strstr(md, "| a100-80gb | 5 | 600.000 | 1800.000 |"));
    ck_assert_int_eq(get(WINDOW "&format=html", &html), 200);
    ck_assert_ptr_nonnull(strstr(html, "<svg"));
    ck_assert_ptr_nonnull(strstr(html, "<td>az2</td><td>h100-80gb</td>"));
    /* Nothing to fetch: no scripts, no external references. */
    ck_assert_ptr_null(strstr(html, "<script"));
    ck_assert_ptr_null(strstr(html, "src="));
    ck_assert_ptr_null(strstr(html, "href="));
    free(md);
    free(html);
}
END_TEST

START_TEST(a_step_finer_than_the_samples_splits_them)
{
    char *got = NULL;

    /* 00:55-01:05 of az2's last sample falls in two 5-minute steps of 0.5 GPU-h each. */
    ck_assert_int_eq(
        get("from=2026-01-01T00:55:00Z&to=2026-01-01T01:05:00Z&step=5m&format=csv", &got), 200);
    ck_assert_ptr_nonnull(strstr(got, "2026-01-01T00:55:00.000Z,2026-01-01T01:00:00.000Z,az2,"
                                      "h100-80gb,training,0.500,0.000,"));
    ck_assert_ptr_nonnull(strstr(got, "2026-01-01T01:00:00.000Z,2026-01-01T01:05:00.000Z,az2,"
                                      "h100-80gb,training,0.500,0.000,"));
    free(got);
}
END_TEST

/* The CSV lines of body (header first) whose cluster, SKU and pool (columns 3 to 5) pass
 * keep(), joined again. */
static char *csv_lines_where(const char *body, const char *cluster, const char *sku,
                             const char *pool)
{
    struct buf b;
    const char *line = body;

    buf_init(&b, 0);
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line + 1) : strlen(line);
        char row[512], *f[5] = {0}, *save = NULL;
        bool keep = line == body;

        snprintf(row, sizeof(row), "%.*s", (int)n, line);
        f[0] = strtok_r(row, ",", &save);
        for (int i = 1; i < 5 && f[i - 1]; i++)
            f[i] = strtok_r(NULL, ",", &save);
        if (!keep && f[4])
            keep = (!cluster || strstr(cluster, f[2])) && (!sku || strcmp(sku, f[3]) == 0) &&
                   (!pool || strcmp(pool, f[4]) == 0);
        if (keep)
            buf_append(&b, line, n);
        line += n;
    }
    return buf_steal(&b);
}

/* A filtered report is the unfiltered one's rows of those clusters, SKUs and pools, to the
 * digit, whether the rows come from samples, events or the ledger. */
START_TEST(filters_keep_exactly_their_rows)
{
    static const struct {
        const char *query, *cluster, *sku, *pool;
    } cases[] = {
        {"&cluster=az2", "az2", NULL, NULL},
        {"&pool=serving", NULL, NULL, "serving"},
        {"&sku=a100-80gb&pool=training", NULL, "a100-80gb", "training"},
        {"&cluster=az1,az2&pool=training", "az1,az2", NULL, "training"},
        {"&cluster=az3", "az3", NULL, NULL},
    };
    char *all = NULL;

    ck_assert_int_eq(get(WINDOW "&format=csv", &all), 200);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char q[256], *got = NULL, *want;

        snprintf(q, sizeof(q), WINDOW "&format=csv%s", cases[i].query);
        ck_assert_msg(get(q, &got) == 200, "%s: %s", q, got);
        want = csv_lines_where(all, cases[i].cluster, cases[i].sku, cases[i].pool);
        ck_assert_msg(strcmp(got, want) == 0, "%s:\n%s\nwant\n%s", q, got, want);
        free(got);
        free(want);
    }
    free(all);
}
END_TEST

/* The waits by SKU are those of the jobs placed where the filters say: job-e's 300 s in
 * az2; the JSON names the filters, Markdown and HTML say them. */
START_TEST(filters_narrow_the_waits_and_are_named)
{
    char *got = NULL;
    json_t *root, *w;

    ck_assert_int_eq(get(WINDOW "&cluster=az2", &got), 200);
    root = json_loads(got, 0, NULL);
    ck_assert_ptr_nonnull(root);
    w = json_object_get(root, "queueWaitBySku");
    ck_assert_int_eq(json_array_size(w), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(w, 0), "jobs")), 1);
    ck_assert_double_eq_tol(json_real_value(json_object_get(json_array_get(w, 0), "p50Seconds")),
                            300.0, 1e-9);
    ck_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(json_object_get(root, "filters"), "cluster"), 0)),
                     "az2");
    ck_assert_ptr_null(json_object_get(json_object_get(root, "filters"), "pool"));
    json_decref(root);
    free(got);
    ck_assert_int_eq(get(WINDOW "&format=md&pool=serving&sku=a100-80gb", &got), 200);
    ck_assert_msg(strstr(got, "step 3600 s; sku a100-80gb; pool serving\n") != NULL, "%s", got);
    ck_assert_ptr_null(strstr(got, "| a100-80gb | training |"));
    ck_assert_ptr_nonnull(strstr(got, "| az1 | a100-80gb | serving | 16.000 |"));
    free(got);
    ck_assert_int_eq(get(WINDOW "&format=html&cluster=az1", &got), 200);
    ck_assert_ptr_nonnull(strstr(got, "step 3600 s; cluster az1</p>"));
    free(got);
}
END_TEST

static void expect_error(const char *query, long status, const char *field)
{
    char *got = NULL;
    json_t *root;
    long st = get(query, &got);

    ck_assert_msg(st == status, "%s: status %ld, want %ld: %s", query, st, status, got);
    root = json_loads(got, 0, NULL);
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(root, "error"), "field")),
                     field);
    json_decref(root);
    free(got);
}

START_TEST(bad_options_name_their_field)
{
    expect_error(WINDOW "&format=xml", 400, "format");
    expect_error("step=0h", 400, "step");
    expect_error("step=fortnight", 400, "step");
    expect_error("from=yesterday", 400, "from");
    expect_error("from=2026-01-02&to=2026-01-01", 422, "from");
    expect_error("from=2025-06-01&to=2026-01-01&step=1m", 422, "step");
    expect_error("color=blue", 400, "color");
    expect_error("cluster=US_West", 400, "cluster");
    expect_error("cluster=az1,,az2", 400, "cluster");
    expect_error("pool=inference", 400, "pool");
    expect_error("sku=a%01b", 400, "sku");
}
END_TEST

/* Every problem of the query at once, each naming its field and value. */
START_TEST(every_bad_option_is_named)
{
    char *got = NULL;
    json_t *root, *causes;

    ck_assert_int_eq(get("step=0h&cluster=Az1&pool=gpu", &got), 400);
    root = json_loads(got, 0, NULL);
    ck_assert_ptr_nonnull(root);
    causes = json_object_get(json_object_get(root, "error"), "causes");
    ck_assert_msg(json_array_size(causes) == 3, "%s", got);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(causes, 1), "field")),
                     "cluster");
    ck_assert_ptr_nonnull(strstr(
        json_string_value(json_object_get(json_array_get(causes, 1), "message")), "\"Az1\""));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(causes, 2), "field")),
                     "pool");
    json_decref(root);
    free(got);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reports");
    TCase *tc = tcase_create("capacity");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, csv_matches_the_known_history);
    tcase_add_test(tc, json_carries_totals_and_waits_by_sku);
    tcase_add_test(tc, a_requeued_jobs_preemption_lands_where_it_ran);
    tcase_add_test(tc, markdown_and_html_are_self_contained);
    tcase_add_test(tc, a_step_finer_than_the_samples_splits_them);
    tcase_add_test(tc, filters_keep_exactly_their_rows);
    tcase_add_test(tc, filters_narrow_the_waits_and_are_named);
    tcase_add_test(tc, bad_options_name_their_field);
    tcase_add_test(tc, every_bad_option_is_named);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
