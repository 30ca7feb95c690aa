/* test_promtext.c -- the strict Prometheus text checker used by the /metrics tests
 * (tests/support/promtext.c): it accepts well-formed pages and refuses each kind of
 * mistake, so a test that relies on it can be seen to fail. */
#include "tests/support/promtext.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static int check(const char *text, char *err, size_t errsize)
{
    return promtext_check(text, strlen(text), NULL, err, errsize);
}

#define GOOD(text)                                                                                 \
    do {                                                                                           \
        char err_[256];                                                                            \
        ck_assert_msg(check((text), err_, sizeof(err_)) == 0, "refused: %s\n%s", err_, (text));    \
    } while (0)

/* BAD also checks the message, so each case fails for the reason it is meant to. */
#define BAD(text, why)                                                                             \
    do {                                                                                           \
        char err_[256];                                                                            \
        ck_assert_msg(check((text), err_, sizeof(err_)) == -1, "accepted:\n%s", (text));           \
        ck_assert_msg(strstr(err_, (why)) != NULL, "message '%s' lacks '%s'", err_, (why));        \
    } while (0)

static const char hist[] = "# HELP h_seconds Latency.\n"
                           "# TYPE h_seconds histogram\n"
                           "h_seconds_bucket{route=\"/a\",le=\"0.1\"} 1\n"
                           "h_seconds_bucket{route=\"/a\",le=\"1\"} 3\n"
                           "h_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"
                           "h_seconds_sum{route=\"/a\"} 2.5\n"
                           "h_seconds_count{route=\"/a\"} 4\n"
                           "h_seconds_bucket{route=\"/b\",le=\"+Inf\"} 0\n"
                           "h_seconds_sum{route=\"/b\"} 0\n"
                           "h_seconds_count{route=\"/b\"} 0\n";

START_TEST(accepts_well_formed_pages)
{
    struct promtext_stats st = {0};
    static const char page[] = "# HELP a_total Things, with a \\\\ and a \\n in the help.\n"
                               "# TYPE a_total counter\n"
                               "a_total{method=\"GET\",route=\"/v1/{ns}\"} 12\n"
                               "a_total{method=\"other\",route=\"x \\\"q\\\" \\\\ \\n\"} 1e3\n"
                               "a_total{route=\"é日本\",method=\"GET\",} 0 1700000000000\n"
                               "\n"
                               "# a free comment\n"
                               "# TYPE g gauge\n"
                               "g -1.5\n"
                               "g{x=\"1\"} +Inf\n"
                               "g{x=\"2\"} -Inf\n"
                               "g{x=\"3\"}\tNaN\n"
                               "g{x=\"4\"} .5e-3 -12\n"
                               "# TYPE s_ms summary\n"
                               "s_ms{quantile=\"0.5\"} NaN\n"
                               "s_ms{quantile=\"0.99\"} 3.2\n"
                               "s_ms_sum 10\n"
                               "s_ms_count 4\n"
                               "# TYPE u untyped\n"
                               "u{a_b=\"\"} 7\n";

    char err[256];

    ck_assert_msg(promtext_check(page, strlen(page), &st, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(st.families, 4);
    ck_assert_uint_eq(st.samples, 13);
    GOOD(hist);
    GOOD("");
    GOOD("# TYPE m:name_x counter\nm:name_x 0\n");
}
END_TEST

START_TEST(refuses_bad_lines)
{
    BAD("# TYPE a counter\na 1", "newline");
    BAD("# TYPE a counter\n1a 1\n", "bad metric name");
    BAD("# TYPE a counter\na-b 1\n", "bad metric name");
    BAD("# TYPE 9a counter\n", "bad metric name");
    BAD("# TYPE a counters\na 1\n", "unknown type");
    BAD("# TYPE a counter extra\na 1\n", "trailing text");
    BAD("# TYPE a counter\na 1 2 3\n", "trailing text");
    BAD("# TYPE a counter\na one\n", "bad value");
    BAD("# TYPE a counter\na 0x10\n", "bad value");
    BAD("# TYPE a counter\na inf\n", "bad value");
    BAD("# TYPE a counter\na 1e\n", "bad value");
    BAD("# TYPE a counter\na\n", "value expected");
    BAD("# TYPE a counter\na 1 12.5\n", "bad timestamp");
    BAD("# TYPE a counter\na -1\n", "counter a is -1");
    BAD("# HELP a bad \\t escape\n# TYPE a counter\na 1\n", "invalid escape");
}
END_TEST

START_TEST(refuses_bad_labels)
{
    BAD("# TYPE a counter\na{m=\"A\"B\"} 1\n", "',' or '}' expected");
    BAD("# TYPE a counter\na{m=\"A\\tB\"} 1\n", "invalid escape");
    BAD("# TYPE a counter\na{m=\"AB} 1\n", "unterminated");
    BAD("# TYPE a counter\na{m=A} 1\n", "quoted value expected");
    BAD("# TYPE a counter\na{9m=\"A\"} 1\n", "bad label name");
    BAD("# TYPE a counter\na{m:x=\"A\"} 1\n", "'=' expected");
    BAD("# TYPE a counter\na{__name__=\"A\"} 1\n", "reserved label");
    BAD("# TYPE a counter\na{m=\"A\",m=\"B\"} 1\n", "repeated");
    BAD("# TYPE a counter\na{m=\"A\" 1\n", "expected");
}
END_TEST

START_TEST(refuses_invalid_utf8)
{
    BAD("# TYPE a counter\na{m=\"\xff\"} 1\n", "UTF-8");
    BAD("# TYPE a counter\na{m=\"\xc3\"} 1\n", "UTF-8");             /* cut mid-character */
    BAD("# TYPE a counter\na{m=\"\xe6\x97\"} 1\n", "UTF-8");         /* cut mid-character */
    BAD("# TYPE a counter\na{m=\"\xc0\xaf\"} 1\n", "UTF-8");         /* overlong '/' */
    BAD("# TYPE a counter\na{m=\"\xed\xa0\x80\"} 1\n", "UTF-8");     /* surrogate */
    BAD("# TYPE a counter\na{m=\"\xf4\x90\x80\x80\"} 1\n", "UTF-8"); /* above U+10FFFF */
    BAD("# HELP a caf\xe9\n# TYPE a counter\na 1\n", "UTF-8");
    {
        static const char nul[] = "# TYPE a counter\na{m=\"\0\"} 1\n";
        char err[128];

        ck_assert_int_eq(promtext_check(nul, sizeof(nul) - 1, NULL, err, sizeof(err)), -1);
        ck_assert_ptr_nonnull(strstr(err, "NUL"));
    }
}
END_TEST

START_TEST(refuses_bad_structure)
{
    BAD("a 1\n", "without a TYPE");
    BAD("# HELP a only help\na 1\n", "without a TYPE");
    BAD("# TYPE a counter\n# TYPE a counter\na 1\n", "second TYPE");
    BAD("# HELP a x\n# HELP a y\n# TYPE a counter\na 1\n", "second HELP");
    BAD("# TYPE a counter\na 1\n# HELP a late\n", "after its samples");
    BAD("# TYPE a counter\na 1\n# TYPE b gauge\nb 1\na{x=\"1\"} 2\n", "was left");
    BAD("# TYPE a counter\na 1\n# TYPE b gauge\n# TYPE a counter\n", "resumed");
    BAD("# TYPE a counter\nb 1\n", "without a TYPE");
    BAD("# TYPE a counter\na{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 3\n", "duplicate series");
    BAD("# TYPE a gauge\na 1\na 2\n", "duplicate series");
    BAD("# TYPE s summary\ns{quantile=\"1.5\"} 1\ns_sum 1\ns_count 1\n", "quantile");
    BAD("# TYPE s summary\ns 1\ns_count 1\n", "valid quantile");
    BAD("# TYPE s summary\ns_sum{quantile=\"0.5\"} 1\n", "quantile label on");
    BAD("# TYPE s summary\ns_bucket 1\n", "without a TYPE");
}
END_TEST

START_TEST(refuses_bad_histograms)
{
    const char *head = "# TYPE h histogram\n";
    char page[1024];

#define HBAD(body, why)                                                                            \
    do {                                                                                           \
        snprintf(page, sizeof(page), "%s%s", head, (body));                                        \
        BAD(page, (why));                                                                          \
    } while (0)
    /* not cumulative */
    HBAD("h_bucket{le=\"1\"} 3\nh_bucket{le=\"2\"} 2\nh_bucket{le=\"+Inf\"} 3\nh_sum 1\n"
         "h_count 3\n",
         "below the previous");
    /* le not ascending */
    HBAD("h_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 3\nh_sum 1\n"
         "h_count 3\n",
         "does not ascend");
    HBAD("h_bucket{le=\"1\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n"
         "h_count 1\n",
         "does not ascend");
    /* no +Inf bucket */
    HBAD("h_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", "+Inf");
    /* +Inf bucket and _count disagree */
    HBAD("h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n", "!= _count");
    HBAD("h_bucket{le=\"+Inf\"} 2\nh_sum 1\n", "lacks _sum or _count");
    HBAD("h_bucket{le=\"+Inf\"} 2\nh_count 2\n", "lacks _sum or _count");
    HBAD("h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\nh 2\n", "sample h in histogram");
    HBAD("h_bucket 2\nh_sum 1\nh_count 2\n", "without a valid le");
    HBAD("h_bucket{le=\"x\"} 2\nh_sum 1\nh_count 2\n", "without a valid le");
    HBAD("h_bucket{le=\"+Inf\"} 2\nh_sum{le=\"1\"} 1\nh_count 2\n", "le label on");
    /* the same bucket twice */
    HBAD("h_bucket{le=\"+Inf\"} 2\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n",
         "does not ascend");
    /* a second series of the family must be complete too */
    snprintf(page, sizeof(page), "%sh_seconds_count{route=\"/c\"} 1\n", hist);
    BAD(page, "no buckets");
#undef HBAD
}
END_TEST

int main(void)
{
    Suite *s = suite_create("promtext");
    TCase *tc = tcase_create("check");
    SRunner *r;
    int failed;

    tcase_add_test(tc, accepts_well_formed_pages);
    tcase_add_test(tc, refuses_bad_lines);
    tcase_add_test(tc, refuses_bad_labels);
    tcase_add_test(tc, refuses_invalid_utf8);
    tcase_add_test(tc, refuses_bad_structure);
    tcase_add_test(tc, refuses_bad_histograms);
    suite_add_tcase(s, tc);
    r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
