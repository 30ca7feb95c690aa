/* test_prom.c -- label escaping for the Prometheus text format (base/prom.c) and the
 * emitters that use it: request metrics under hostile methods (api/metrics.c) and the
 * connector's cluster metrics with names that need escaping (cluster/cluster_snapshot.c),
 * each checked with the strict parser of tests/support/promtext.c. */
#include "base/prom.h"
#include "base/utf8.h"

#include "api/internal.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "cluster/cluster_snapshot.h"
#include "policy/snapshot.h"
#include "tests/support/promtext.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void assert_valid(const struct buf *b)
{
    char err[512];

    /* Check carries messages of a few KB at most: the page's start is enough. */
    ck_assert_msg(promtext_check(b->data, b->len, NULL, err, sizeof(err)) == 0, "%s\n%.1500s", err,
                  b->data);
}

START_TEST(escapes_what_the_format_requires)
{
    char out[PROM_LABEL_MAX];

    ck_assert_str_eq(prom_label(out, sizeof(out), "plain /v1/{ns}"), "plain /v1/{ns}");
    ck_assert_str_eq(prom_label(out, sizeof(out), "A\"B"), "A\\\"B");
    ck_assert_str_eq(prom_label(out, sizeof(out), "a\\b"), "a\\\\b");
    ck_assert_str_eq(prom_label(out, sizeof(out), "a\nb"), "a\\nb");
    ck_assert_str_eq(prom_label(out, sizeof(out), "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80"),
                     "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80");
    ck_assert_str_eq(prom_label(out, sizeof(out), ""), "");
    ck_assert_str_eq(prom_label(out, sizeof(out), NULL), "");
}
END_TEST

START_TEST(replaces_invalid_utf8)
{
    char out[PROM_LABEL_MAX];
    struct buf b;

    ck_assert_str_eq(prom_label(out, sizeof(out), "a\xff"), "a\xef\xbf\xbd");
    ck_assert_str_eq(prom_label(out, sizeof(out), "\xc3"), "\xef\xbf\xbd"); /* cut */
    ck_assert_str_eq(prom_label(out, sizeof(out), "\xe6\x97"), "\xef\xbf\xbd\xef\xbf\xbd");
    ck_assert_str_eq(prom_label(out, sizeof(out), "\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");
    ck_assert_str_eq(prom_label(out, sizeof(out), "\xed\xa0\x80"),
                     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
    ck_assert_str_eq(prom_label(out, sizeof(out), "\xf4\x90\x80\x80x"),
                     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx");
    ck_assert_str_eq(prom_label(out, sizeof(out), "\x80\"\xc3\xa9"), "\xef\xbf\xbd\\\"\xc3\xa9");
    buf_init(&b, 0);
    ck_assert_int_eq(prom_label_append(&b, "x\xff\"\n\\"), 0);
    ck_assert_str_eq(b.data, "x\xef\xbf\xbd\\\"\\n\\\\");
    buf_free(&b);
    buf_init(&b, 4);
    ck_assert_int_eq(prom_label_append(&b, "\"\"\""), -1); /* the cap holds */
    buf_free(&b);
}
END_TEST

START_TEST(truncates_between_characters)
{
    char out[6];

    /* Six bytes hold two 2-byte characters and the NUL, not a third character. */
    ck_assert_str_eq(prom_label(out, sizeof(out), "\xc3\xa9\xc3\xa9\xc3\xa9"), "\xc3\xa9\xc3\xa9");
    ck_assert_str_eq(prom_label(out, sizeof(out), "abcd\""), "abcd"); /* never half an escape */
    ck_assert_str_eq(prom_label(out, sizeof(out), "ab\xff\xff"), "ab\xef\xbf\xbd");
    ck_assert_str_eq(prom_label(out, 1, "abc"), "");
}
END_TEST

START_TEST(utf8_lengths)
{
    ck_assert_uint_eq(utf8_seq_len("a", strlen("a")), 1);
    ck_assert_uint_eq(utf8_seq_len("\xc3\xa9", strlen("\xc3\xa9")), 2);
    ck_assert_uint_eq(utf8_seq_len("\xe2\x82\xac", strlen("\xe2\x82\xac")), 3);
    ck_assert_uint_eq(utf8_seq_len("\xf0\x9f\x98\x80", strlen("\xf0\x9f\x98\x80")), 4);
    ck_assert_uint_eq(utf8_seq_len("", strlen("")), 0);
    ck_assert_uint_eq(utf8_seq_len("\xc3", strlen("\xc3")), 0);
    ck_assert_uint_eq(utf8_seq_len("\xe0\x80\x80", strlen("\xe0\x80\x80")), 0); /* overlong */
    ck_assert_uint_eq(utf8_seq_len("\xc1\xbf", strlen("\xc1\xbf")), 0);         /* overlong */
    ck_assert_uint_eq(utf8_seq_len("\xf5\x80\x80\x80", strlen("\xf5\x80\x80\x80")), 0);
    ck_assert_uint_eq(utf8_seq_len("\xbf", strlen("\xbf")), 0);
}
END_TEST

/* The bug of issue 11: every distinct method was a new series, and its raw bytes went
 * into the page. */
START_TEST(request_metrics_bounded_under_hostile_methods)
{
    struct api_metrics *m = metrics_new();
    static const char charset[] = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijk";
    struct buf before, after;
    char method[32];

    buf_init(&before, 0);
    buf_init(&after, 0);
    metrics_observe(m, "GET", "/healthz", 200, 1000);
    metrics_observe(m, "GET", "unmatched", 404, 1000);
    metrics_observe(m, "OPTIONS", "/healthz", 405, 1000);
    metrics_observe(m, "other", "/healthz", 405, 1000);
    metrics_render(m, &before);
    srandom(11);
    for (int i = 0; i < 20000; i++) {
        size_t n = 1 + (size_t)random() % (sizeof(method) - 1);

        for (size_t k = 0; k < n; k++)
            method[k] = charset[(size_t)random() % (sizeof(charset) - 1)];
        method[n] = '\0';
        metrics_observe(m, method, i % 2 ? "/healthz" : "unmatched", i % 2 ? 405 : 404, 1000);
    }
    metrics_observe(m, "A\"B", "/healthz", 405, 1000);
    metrics_observe(m, "G\xc3", "/healthz", 405, 1000);
    metrics_observe(m, "\xff\xfe", "unmatched", 404, 1000);
    metrics_observe(m, "get", "/healthz", 405, 1000);
    metrics_render(m, &after);
    assert_valid(&after);
    /* one new series at most: unmatched/other/404 */
    ck_assert_uint_le(after.len, before.len + 2048);
    ck_assert_ptr_nonnull(strstr(after.data,
                                 "fedsched_http_requests_total{route=\"/healthz\",method=\"other\","
                                 "code=\"405\"} 10004\n"));
    ck_assert_ptr_nonnull(
        strstr(after.data, "fedsched_http_requests_total{route=\"/healthz\",method=\"OPTIONS\","
                           "code=\"405\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(after.data, "fedsched_http_series_overflow_total 0\n"));
    ck_assert_ptr_null(strstr(after.data, "A\"B"));
    buf_free(&before);
    buf_free(&after);
    metrics_free(&m);
    ck_assert_ptr_null(m);
}
END_TEST

START_TEST(request_metrics_have_a_series_ceiling)
{
    struct api_metrics *m = metrics_new();
    struct buf b;
    char route[32];

    /* Routes are templates, so this cannot happen through the server; the ceiling is
     * there for the day a label breaks that rule. */
    for (int i = 0; i < 3000; i++) {
        snprintf(route, sizeof(route), "/r%d", i);
        metrics_observe(m, "GET", route, 200, 1000);
    }
    buf_init(&b, 0);
    metrics_render(m, &b);
    assert_valid(&b);
    ck_assert_ptr_nonnull(strstr(b.data, "fedsched_http_series_overflow_total 1976\n"));
    ck_assert_ptr_null(strstr(b.data, "route=\"/r1024\""));
    buf_free(&b);
    metrics_free(&m);
}
END_TEST

START_TEST(cluster_metrics_escape_names)
{
    struct cluster_snapshot *cs = xcalloc(1, sizeof(*cs));
    struct err e = {0};
    struct buf b;
    struct snapshot_agg *a;

    ck_assert_int_eq(snapshot_new(2, 0, 1, &cs->snap, &e), 0);
    cs->status = xcalloc(2, sizeof(*cs->status));
    snprintf(cs->snap->clusters[0].name, SNAPSHOT_NAME_MAX, "ok-1");
    snprintf(cs->snap->clusters[1].name, SNAPSHOT_NAME_MAX, "bad\"name\\\n\xff");
    snprintf(cs->status[0].name, SNAPSHOT_NAME_MAX, "ok-1");
    snprintf(cs->status[1].name, SNAPSHOT_NAME_MAX, "bad\"name\\\n\xff");
    snprintf(cs->snap->sku_names[0], SNAPSHOT_SKU_NAME_MAX, "a100\"x");
    a = snapshot_agg(cs->snap, 1, SNAPSHOT_POOL_TRAINING, 0);
    a->total = 8;
    buf_init(&b, 0);
    ck_assert_int_eq(cluster_snapshot_prometheus(cs, 1000, &b), 0);
    assert_valid(&b);
    ck_assert_ptr_nonnull(strstr(b.data, "fedsched_cluster_gpus{cluster=\"bad\\\"name\\\\\\n"
                                         "\xef\xbf\xbd\",sku=\"a100\\\"x\",pool=\"training\","
                                         "state=\"total\"} 8\n"));
    buf_free(&b);
    cluster_snapshot_free(cs);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("prom");
    TCase *tc = tcase_create("labels");
    SRunner *r;
    int failed;

    tcase_add_test(tc, escapes_what_the_format_requires);
    tcase_add_test(tc, replaces_invalid_utf8);
    tcase_add_test(tc, truncates_between_characters);
    tcase_add_test(tc, utf8_lengths);
    tcase_add_test(tc, request_metrics_bounded_under_hostile_methods);
    tcase_add_test(tc, request_metrics_have_a_series_ceiling);
    tcase_add_test(tc, cluster_metrics_escape_names);
    suite_add_tcase(s, tc);
    r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
