/* test_reports.c -- the capacity report's options and renderers without a database:
 * durations, times, formats, window checks, and CSV/JSON/Markdown/HTML output of a report
 * built by hand (the numbers themselves are tested against PostgreSQL in
 * tests/integration/test_reports.c). */
#include "api/reports_format.h"

#include "base/err.h"
#include "store/reports.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H  (3600LL * 1000)
#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */

START_TEST(durations)
{
    struct err e = {0};
    int64_t ms = 0;

    ck_assert_int_eq(wire_parse_duration("90s", "step", &ms, &e), 0);
    ck_assert_int_eq(ms, 90000);
    ck_assert_int_eq(wire_parse_duration("1h30m", "step", &ms, &e), 0);
    ck_assert_int_eq(ms, 90 * 60 * 1000);
    ck_assert_int_eq(wire_parse_duration("2d", "step", &ms, &e), 0);
    ck_assert_int_eq(ms, 48 * H);
    ck_assert_int_eq(wire_parse_duration("1w", "step", &ms, &e), 0);
    ck_assert_int_eq(ms, 7 * 24 * H);
    ck_assert_int_eq(wire_parse_duration("250ms", "step", &ms, &e), 0);
    ck_assert_int_eq(ms, 250);
    ms = 7;
    ck_assert_int_eq(wire_parse_duration("0s", "step", &ms, &e), -1);
    ck_assert_int_eq(ms, 7); /* untouched on failure */
    ck_assert_int_eq(e.code, ERR_MALFORMED);
    ck_assert_str_eq(e.field, "step");
    ck_assert_ptr_nonnull(strstr(e.msg, "\"0s\""));
    ck_assert_int_eq(wire_parse_duration("h", "step", &ms, &e), -1);
    ck_assert_int_eq(wire_parse_duration("5", "--timeout", &ms, &e), -1);
    ck_assert_str_eq(e.field, "--timeout");
    ck_assert_int_eq(wire_parse_duration("5x", "step", &ms, &e), -1);
    ck_assert_int_eq(wire_parse_duration("", "step", &ms, &e), -1);
    ck_assert_int_eq(wire_parse_duration("99999999999999w", "step", &ms, &e), -1);
}
END_TEST

START_TEST(times)
{
    struct err e = {0};
    int64_t now = T0 + 5 * H, ms = 0;

    ck_assert_int_eq(reports_parse_time("now", now, "to", &ms, &e), 0);
    ck_assert_int_eq(ms, now);
    ck_assert_int_eq(reports_parse_time("now-24h", now, "from", &ms, &e), 0);
    ck_assert_int_eq(ms, now - 24 * H);
    ck_assert_int_eq(reports_parse_time("-2h", now, "from", &ms, &e), 0);
    ck_assert_int_eq(ms, now - 2 * H);
    ck_assert_int_eq(reports_parse_time("2026-01-01", now, "from", &ms, &e), 0);
    ck_assert_int_eq(ms, T0);
    ck_assert_int_eq(reports_parse_time("2026-01-01T01:00:00+01:00", now, "from", &ms, &e), 0);
    ck_assert_int_eq(ms, T0);
    /* Midnight UTC, and rounding down to the hour or the day after the offset. */
    ck_assert_int_eq(reports_parse_time("today", now + 17 * 60000 + 312, "from", &ms, &e), 0);
    ck_assert_int_eq(ms, T0);
    ck_assert_int_eq(reports_parse_time("today-7d", now, "from", &ms, &e), 0);
    ck_assert_int_eq(ms, T0 - 7 * 24 * H);
    ck_assert_int_eq(reports_parse_time("now/h", now + 17 * 60000 + 312, "to", &ms, &e), 0);
    ck_assert_int_eq(ms, now);
    ck_assert_int_eq(reports_parse_time("now-24h/h", now + 59 * 60000, "from", &ms, &e), 0);
    ck_assert_int_eq(ms, now - 24 * H);
    ck_assert_int_eq(reports_parse_time("-90m/h", now, "from", &ms, &e), 0);
    ck_assert_int_eq(ms, now - 2 * H);
    ck_assert_int_eq(reports_parse_time("now-1d/d", now, "from", &ms, &e), 0);
    ck_assert_int_eq(ms, T0 - 24 * H);
    ck_assert_int_eq(reports_parse_time("today/h", now, "to", &ms, &e), 0);
    ck_assert_int_eq(ms, T0);
    ck_assert_int_eq(reports_parse_time("today-", now, "from", &ms, &e), -1);
    ck_assert_int_eq(reports_parse_time("now/w", now, "from", &ms, &e), -1);
    ck_assert_int_eq(reports_parse_time("todayx", now, "from", &ms, &e), -1);
    ck_assert_int_eq(reports_parse_time("2026-01-01/d", now, "from", &ms, &e), -1);
    ck_assert_int_eq(reports_parse_time("yesterday", now, "from", &ms, &e), -1);
    ck_assert_msg(strstr(e.msg, "today-7d"), "%s", e.msg);
    ck_assert_str_eq(e.field, "from");
    ck_assert_int_eq(reports_parse_time("now-", now, "to", &ms, &e), -1);
    ck_assert_str_eq(e.field, "to");
}
END_TEST

START_TEST(options_and_window_checks)
{
    struct store_report_opts o;
    struct err e = {0};
    enum wire_report_format f;

    ck_assert_int_eq(reports_parse_opts(NULL, NULL, NULL, T0 + 48 * H, &o, &e), 0);
    ck_assert_int_eq(o.to_ms, T0 + 48 * H);
    ck_assert_int_eq(o.from_ms, T0 + 24 * H);
    ck_assert_int_eq(o.step_ms, H);
    ck_assert_int_eq(reports_parse_opts("2026-01-02", "2026-01-01", "1h", T0, &o, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_str_eq(e.field, "from");
    ck_assert_int_eq(reports_parse_opts("2025-06-01", "2026-01-01", "1m", T0, &o, &e), -1);
    ck_assert_str_eq(e.field, "step");
    ck_assert_int_eq(reports_parse_opts("2020-01-01", "2026-01-01", "1d", T0, &o, &e), -1);
    ck_assert_str_eq(e.field, "from");
    ck_assert_int_eq(wire_parse_report_format("CSV", &f, &e), 0);
    ck_assert_int_eq(f, WIRE_REPORT_CSV);
    ck_assert_int_eq(wire_parse_report_format("markdown", &f, &e), 0);
    ck_assert_int_eq(f, WIRE_REPORT_MD);
    ck_assert_int_eq(wire_parse_report_format("pdf", &f, &e), -1);
    ck_assert_str_eq(e.field, "format");
    ck_assert_str_eq(reports_content_type(WIRE_REPORT_HTML), "text/html; charset=utf-8");
}
END_TEST

/* Two steps of one cluster, one pool, plus a row from events only. */
static struct store_report *sample(void)
{
    struct store_report *r = calloc(1, sizeof(*r));

    r->opts = (struct store_report_opts){.from_ms = T0, .to_ms = T0 + 2 * H, .step_ms = H};
    r->n_rows = 3;
    r->rows = calloc(3, sizeof(*r->rows));
    r->rows[0] = (struct store_report_row){.start_ms = T0,
                                           .end_ms = T0 + H,
                                           .cluster = "az<1>",
                                           .sku = "l4",
                                           .pool = "serving",
                                           .gpu_hours_total = 8,
                                           .gpu_hours_used = 6,
                                           .gpu_hours_training = 2,
                                           .gpu_hours_serving = 4,
                                           .gpu_hours_borrowed = 2,
                                           .gpu_hours_idle = 2,
                                           .gpu_hours_unavailable = 0.5,
                                           .utilisation_pct = 75,
                                           .jobs_placed = 2,
                                           .wait_p50_s = 12.5,
                                           .wait_p95_s = 30,
                                           .gpu_hours_lost = 0.25};
    r->rows[1] = r->rows[0];
    r->rows[1].start_ms = T0 + H;
    r->rows[1].end_ms = T0 + 2 * H;
    r->rows[1].jobs_placed = 0;
    r->rows[1].wait_p50_s = -1;
    r->rows[1].wait_p95_s = -1;
    r->rows[1].forecast_known = true;
    r->rows[1].forecast_p50 = 3.5;
    r->rows[1].forecast_p95 = 6.25;
    r->rows[2] = (struct store_report_row){.start_ms = T0 + H,
                                           .end_ms = T0 + 2 * H,
                                           .cluster = "-",
                                           .sku = "l4",
                                           .pool = "-",
                                           .jobs_failed = 1,
                                           .wait_p50_s = -1,
                                           .wait_p95_s = -1};
    r->n_waits = 1;
    r->waits = calloc(1, sizeof(*r->waits));
    r->waits[0] = (struct store_report_wait){.sku = "l4", .jobs = 2, .p50_s = 12.5, .p95_s = 30};
    return r;
}

START_TEST(csv_rows_and_empty_waits)
{
    struct store_report *r = sample();
    char *csv = reports_render(r, WIRE_REPORT_CSV);

    ck_assert_ptr_nonnull(strstr(csv, "start,end,cluster,sku,pool,gpu_hours_total,"));
    ck_assert_ptr_nonnull(strstr(csv, "\n2026-01-01T00:00:00.000Z,2026-01-01T01:00:00.000Z,"
                                      "az<1>,l4,serving,8.000,6.000,2.000,4.000,2.000,2.000,75.0,"
                                      "2,0,0,0,12.500,30.000,0.250,4.000,,,0.500\n"));
    /* Serving rows have the mean serving GPUs and the forecast (empty when unknown), other
     * pools three empty columns; then the unavailable GPU-hours, last so that the older
     * columns keep their places. */
    ck_assert_ptr_nonnull(strstr(csv, ",forecast_p95,gpu_hours_unavailable\n"));
    ck_assert_ptr_nonnull(strstr(csv, ",75.0,0,0,0,0,,,0.250,4.000,3.500,6.250,0.500\n"));
    ck_assert_ptr_nonnull(strstr(csv, ",-,l4,-,0.000,"));
    ck_assert_ptr_nonnull(strstr(csv, ",0,0,1,0,,,0.000,,,,0.000\n"));
    free(csv);
    store_report_free(&r);
    ck_assert_ptr_null(r);
}
END_TEST

START_TEST(json_totals_and_federation)
{
    struct store_report *r = sample();
    char *text = reports_render(r, WIRE_REPORT_JSON);
    json_t *root = json_loads(text, 0, NULL), *tot, *fed;

    ck_assert_ptr_nonnull(root);
    ck_assert_int_eq(json_integer_value(json_object_get(root, "stepSeconds")), 3600);
    tot = json_object_get(root, "totals");
    ck_assert_int_eq(json_array_size(tot), 2);
    /* "-" sorts before "az<1>"; az<1> serving sums both steps. */
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(tot, 1), "cluster")),
                     "az<1>");
    ck_assert_double_eq_tol(
        json_real_value(json_object_get(json_array_get(tot, 1), "gpuHoursTotal")), 16, 1e-9);
    ck_assert_double_eq_tol(
        json_real_value(json_object_get(json_array_get(tot, 1), "gpuHoursLostToReclaim")), 0.5,
        1e-9);
    ck_assert_double_eq_tol(
        json_real_value(json_object_get(json_array_get(tot, 1), "gpuHoursUnavailable")), 1, 1e-9);
    fed = json_object_get(root, "federation");
    ck_assert_int_eq(json_array_size(fed), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(fed, 1), "jobsFailed")), 1);
    ck_assert(json_is_null(
        json_object_get(json_array_get(json_object_get(root, "rows"), 1), "queueWaitP50Seconds")));
    json_decref(root);
    free(text);
    store_report_free(&r);
}
END_TEST

/* The JSON is written by hand: it must parse, escape names, make bad UTF-8 valid, and
 * print each figure as jansson prints a real (the bytes the tree gave before). */
START_TEST(json_numbers_and_names_as_jansson_writes_them)
{
    struct store_report *r = sample();
    char *text;
    json_t *root, *row;

    r->rows[0].gpu_hours_unavailable = 1234567890123.4567; /* 16 digits: 15 written */
    r->rows[1].gpu_hours_unavailable = 2.5e17;             /* an exponent, without "+" */
    r->rows[2].gpu_hours_unavailable = 0.0004;             /* rounds to 0 */
    r->rows[0].forecast_known = true;
    r->rows[0].forecast_p50 = NAN; /* not a number: null */
    r->rows[0].forecast_p95 = 1.0 / 3;
    snprintf(r->rows[2].sku, sizeof(r->rows[2].sku), "q\"u\\o\xff");
    text = reports_render(r, WIRE_REPORT_JSON);
    root = json_loads(text, 0, NULL);
    ck_assert_msg(root != NULL, "%s", text);
    ck_assert_ptr_nonnull(strstr(text, "\"gpuHoursUnavailable\":1234567890123.46,"));
    ck_assert_ptr_nonnull(strstr(text, "\"gpuHoursUnavailable\":2.5e17,"));
    ck_assert_ptr_nonnull(strstr(text, "\"gpuHoursUnavailable\":0.0,"));
    ck_assert_ptr_nonnull(strstr(text, "\"gpuHoursTotal\":8.0,\"gpuHoursUsed\":6.0,"));
    ck_assert_ptr_nonnull(strstr(text, "\"utilisationPct\":75.0,\"jobsPlaced\":2,"));
    ck_assert_ptr_nonnull(strstr(text, "\"forecastP50\":null,\"forecastP95\":0.333}"));
    ck_assert_ptr_nonnull(strstr(text, "\"queueWaitP50Seconds\":12.5,"));
    row = json_array_get(json_object_get(root, "rows"), 2);
    ck_assert_str_eq(json_string_value(json_object_get(row, "sku")), "q\"u\\o\\xFF");
    ck_assert_ptr_nonnull(json_object_get(root, "filters"));
    ck_assert_int_eq(json_object_size(json_object_get(root, "filters")), 0);
    json_decref(root);
    free(text);
    store_report_free(&r);
}
END_TEST

START_TEST(html_is_escaped_and_self_contained)
{
    struct store_report *r = sample();
    char *html = reports_render(r, WIRE_REPORT_HTML), *md = reports_render(r, WIRE_REPORT_MD);

    ck_assert_ptr_nonnull(strstr(html, "<td>az&lt;1&gt;</td>"));
    ck_assert_ptr_null(strstr(html, "az<1>"));
    ck_assert_ptr_nonnull(strstr(html, "<svg"));
    ck_assert_ptr_null(strstr(html, "<script"));
    ck_assert_ptr_null(strstr(html, "http://www.w3.org/2000/svg\" width=\"0\""));
    ck_assert_ptr_nonnull(strstr(md, "| az<1> | l4 | serving | 16.000 | 4.000 | 8.000 | 4.000 | "
                                     "4.000 | 1.000 | 75.0 |"));
    ck_assert_ptr_nonnull(strstr(html, "<th>idle</th><th>of it unavailable</th><th>util %</th>"));
    ck_assert_ptr_nonnull(strstr(html, "<td>4.000</td><td>1.000</td><td>75.0</td>"));
    ck_assert_ptr_nonnull(strstr(md, "| l4 | 2 | 12.500 | 30.000 |"));
    free(html);
    free(md);
    store_report_free(&r);
}
END_TEST

/* Filters: names joined by commas, each checked; every bad one named with its value. */
START_TEST(filters_are_checked_and_rendered)
{
    struct store_report_opts o = {0};
    struct err_causes c = {0};
    struct store_report *r;
    char long_list[STORE_REPORT_FILTER_MAX + 8], *html;

    ck_assert_int_eq(reports_parse_filters("az1,eu-2", "a100-80gb,l4", "serving", &o, &c), 0);
    ck_assert_str_eq(o.clusters, "az1,eu-2");
    ck_assert_str_eq(o.skus, "a100-80gb,l4");
    ck_assert_str_eq(o.pools, "serving");
    ck_assert_int_eq(reports_parse_filters(NULL, "", NULL, &o, &c), 0);
    ck_assert_str_eq(o.clusters, "");
    ck_assert_str_eq(o.skus, "");
    ck_assert_int_eq(c.n, 0);
    ck_assert_int_eq(reports_parse_filters("az1,", "x\ty", "training,gpu", &o, &c), -1);
    ck_assert_int_eq(c.n, 3);
    ck_assert_str_eq(c.items[0].field, "cluster");
    ck_assert_msg(strstr(c.items[0].msg, "cluster \"\" is not a cluster name") != NULL, "%s",
                  c.items[0].msg);
    ck_assert_str_eq(c.items[1].field, "sku");
    ck_assert_str_eq(c.items[2].field, "pool");
    ck_assert_msg(strstr(c.items[2].msg, "\"gpu\"") != NULL, "%s", c.items[2].msg);
    c.n = 0;
    memset(long_list, 'a', sizeof(long_list) - 1);
    long_list[sizeof(long_list) - 1] = '\0';
    ck_assert_int_eq(reports_parse_filters(NULL, NULL, long_list, &o, &c), -1);
    ck_assert_str_eq(c.items[0].field, "pool");
    c.n = 0;
    ck_assert_int_eq(reports_parse_filters("a-very-long-cluster-name-that-is-longer-than-a-dns-"
                                           "label-may-be-x",
                                           NULL, NULL, &o, &c),
                     -1);
    r = sample();
    snprintf(r->opts.clusters, sizeof(r->opts.clusters), "az<1>");
    html = reports_render(r, WIRE_REPORT_HTML);
    ck_assert_ptr_nonnull(strstr(html, "; cluster az&lt;1&gt;</p>"));
    free(html);
    store_report_free(&r);
}
END_TEST

START_TEST(empty_report_renders)
{
    struct store_report r = {.opts = {.from_ms = T0, .to_ms = T0 + 90 * 60 * 1000, .step_ms = H}};
    char *csv = reports_render(&r, WIRE_REPORT_CSV), *html = reports_render(&r, WIRE_REPORT_HTML);
    char *text = reports_render(&r, WIRE_REPORT_JSON);
    json_t *root = json_loads(text, 0, NULL);

    ck_assert_ptr_null(strchr(strchr(csv, '\n') + 1, '\n')); /* the header only */
    ck_assert_ptr_nonnull(strstr(html, "no data in this window"));
    /* 90 minutes at 1 h: two steps, the second cut short. */
    ck_assert_int_eq(json_array_size(json_object_get(root, "federation")), 2);
    json_decref(root);
    free(csv);
    free(html);
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reports");
    TCase *tc = tcase_create("render");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, durations);
    tcase_add_test(tc, times);
    tcase_add_test(tc, options_and_window_checks);
    tcase_add_test(tc, csv_rows_and_empty_waits);
    tcase_add_test(tc, json_totals_and_federation);
    tcase_add_test(tc, json_numbers_and_names_as_jansson_writes_them);
    tcase_add_test(tc, html_is_escaped_and_self_contained);
    tcase_add_test(tc, filters_are_checked_and_rendered);
    tcase_add_test(tc, empty_report_renders);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
