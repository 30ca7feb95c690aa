/* test_promq.c -- the demand query's reader (cluster/promq.c): the Prometheus HTTP API's
 * instant-query answers (vector of one series, scalar) give a figure; every other answer,
 * hostile bytes included, gives a named result and no figure; the URL is percent-encoded;
 * what a figure adds to a serving aggregate's announced demand. */
#include "base/err.h"
#include "cluster/k8s.h"
#include "cluster/promq.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW_MS 1764748800000LL /* 2025-12-03T08:00:00Z */
#define NOW_S  "1764748800"
#define AGE_MS 120000

static struct promq_answer parse(long status, const char *body)
{
    struct promq_answer a;

    promq_parse(status, body, body ? strlen(body) : 0, NOW_MS, AGE_MS, &a);
    return a;
}

#define VECTOR(v)                                                                                  \
    "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},"      \
    "\"value\":[" NOW_S ".781,\"" v "\"]}]}}"

START_TEST(vector_and_scalar_give_the_figure)
{
    struct promq_answer a = parse(200, VECTOR("24"));

    ck_assert_int_eq(a.result, PROMQ_OK);
    ck_assert(a.value == 24.0);
    ck_assert_int_eq(a.at_ms, NOW_MS + 781);
    ck_assert_str_eq(a.error, "");
    a = parse(200, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[" NOW_S
                   ",\"7.5\"]},\"warnings\":[\"w\"]}");
    ck_assert_int_eq(a.result, PROMQ_OK);
    ck_assert(a.value == 7.5);
    /* Labels of the one series do not matter; nor does member order. */
    a = parse(200, "{\"data\":{\"result\":[{\"value\":[" NOW_S ",\"3\"],\"metric\":{\"pool\":"
                   "\"serving\",\"sku\":\"h100\"}}],\"resultType\":\"vector\"},\"status\":"
                   "\"success\"}");
    ck_assert_int_eq(a.result, PROMQ_OK);
    ck_assert(a.value == 3.0);
    a = parse(200, VECTOR("-0"));
    ck_assert_int_eq(a.result, PROMQ_OK);
    ck_assert(a.value == 0.0 && !signbit(a.value));
    a = parse(200, VECTOR("1e3"));
    ck_assert_int_eq(a.result, PROMQ_OK);
    ck_assert(a.value == 1000.0);
}
END_TEST

/* Each row: HTTP status, body, the result it must give, a piece of its error text. */
static const struct {
    long status;
    const char *body;
    enum promq_result want;
    const char *says;
} bad[] = {
    {200, VECTOR("NaN"), PROMQ_NOT_A_NUMBER, "\"NaN\""},
    {200, VECTOR("+Inf"), PROMQ_NOT_A_NUMBER, "+Inf"},
    {200, VECTOR("-Inf"), PROMQ_NOT_A_NUMBER, "-Inf"},
    {200, VECTOR("1e999"), PROMQ_NOT_A_NUMBER, "1e999"},
    {200, VECTOR("nan"), PROMQ_MALFORMED, "\"nan\""},
    {200, VECTOR("inf"), PROMQ_MALFORMED, "not a number"},
    {200, VECTOR("0x10"), PROMQ_MALFORMED, "0x10"},
    {200, VECTOR(" 5"), PROMQ_MALFORMED, "not a number"},
    {200, VECTOR("5 "), PROMQ_MALFORMED, "not a number"},
    {200, VECTOR(""), PROMQ_MALFORMED, "not a number"},
    {200, VECTOR("12abc"), PROMQ_MALFORMED, "12abc"},
    {200, VECTOR("-3"), PROMQ_NEGATIVE, "-3"},
    {200, VECTOR("-0.5"), PROMQ_NEGATIVE, "negative"},
    {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}",
     PROMQ_EMPTY, "no series"},
    {200,
     "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},"
     "\"value\":[" NOW_S ",\"1\"]},{\"metric\":{},\"value\":[" NOW_S ",\"2\"]}]}}",
     PROMQ_SEVERAL, "2 series"},
    {200,
     "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},"
     "\"histogram\":[" NOW_S ",{\"count\":\"1\"}]}]}}",
     PROMQ_NOT_A_NUMBER, "histogram"},
    {200,
     "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},"
     "\"values\":[[" NOW_S ",\"1\"]]}]}}",
     PROMQ_MALFORMED, "resultType \"matrix\""},
    {200,
     "{\"status\":\"success\",\"data\":{\"resultType\":\"string\",\"result\":[" NOW_S ",\"x\"]}}",
     PROMQ_MALFORMED, "resultType \"string\""},
    /* A sample evaluated an hour ago, or an hour ahead (a clock far off), is stale. */
    {200,
     "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1764745200,"
     "\"4\"]}}",
     PROMQ_STALE, "3600 s"},
    {200,
     "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1764752400,"
     "\"4\"]}}",
     PROMQ_STALE, "3600 s"},
    /* Errors as Prometheus sends them, and what is not Prometheus at all. */
    {400,
     "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter "
     "\\\"query\\\": 1:5: parse error\"}",
     PROMQ_ERROR, "HTTP 400 bad_data: invalid parameter ?query?: 1:5: parse error"},
    {422, "{\"status\":\"error\",\"errorType\":\"execution\",\"error\":\"many-to-many\"}",
     PROMQ_ERROR, "HTTP 422 execution"},
    {503, "{\"status\":\"error\",\"errorType\":\"timeout\",\"error\":\"query timed out\"}",
     PROMQ_ERROR, "HTTP 503 timeout"},
    {502, "<html>Bad Gateway</html>", PROMQ_HTTP, "HTTP 502"},
    {404, "404 page not found", PROMQ_HTTP, "HTTP 404"},
    {500, VECTOR("3"), PROMQ_HTTP, "HTTP 500"},
    {200, "", PROMQ_MALFORMED, "not a JSON object"},
    {200, "[]", PROMQ_MALFORMED, "not a JSON object"},
    {200, "null", PROMQ_MALFORMED, "not a JSON object"},
    {200, "{\"status\":\"success\"", PROMQ_MALFORMED, "not a JSON object"},
    {200, "{\"status\":\"ok\",\"data\":{}}", PROMQ_MALFORMED, "status"},
    {200, "{\"status\":\"success\"}", PROMQ_MALFORMED, "resultType"},
    {200, "{\"status\":\"success\",\"data\":[]}", PROMQ_MALFORMED, "resultType"},
    {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":{}}}",
     PROMQ_MALFORMED, "not an array"},
    {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[3]}}",
     PROMQ_MALFORMED, "not an object"},
    {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{}]}}",
     PROMQ_MALFORMED, "sample"},
    {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[" NOW_S "]}}",
     PROMQ_MALFORMED, "sample"},
    {200,
     "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[" NOW_S
     ",\"1\",\"2\"]}}",
     PROMQ_MALFORMED, "sample"},
    {200,
     "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[\"" NOW_S
     "\",\"1\"]}}",
     PROMQ_MALFORMED, "time"},
    {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[-1,\"1\"]}}",
     PROMQ_MALFORMED, "time"},
    {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1e300,\"1\"]}}",
     PROMQ_MALFORMED, "time"},
    {200, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[" NOW_S ",1]}}",
     PROMQ_MALFORMED, "not a string"},
    {200,
     "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[" NOW_S
     ",\"\\u0000\"]}}",
     PROMQ_MALFORMED, "not a number"},
    /* Deeper than the reader goes: refused before anything is looked at. */
    {200, "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]}", PROMQ_MALFORMED, "JSON"},
};

START_TEST(hostile_and_failed_answers_give_no_figure)
{
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct promq_answer a = parse(bad[i].status, bad[i].body);

        ck_assert_msg(a.result == bad[i].want, "row %zu (%s): result %s, want %s (%s)", i,
                      bad[i].body, promq_result_name(a.result), promq_result_name(bad[i].want),
                      a.error);
        ck_assert_msg(a.value == 0 && a.at_ms == 0, "row %zu: a figure from a failure", i);
        ck_assert_msg(strstr(a.error, bad[i].says) != NULL, "row %zu: error \"%s\" lacks \"%s\"", i,
                      a.error, bad[i].says);
    }
}
END_TEST

/* Bytes no server should send: invalid UTF-8 in an error, NUL bytes, an answer over the
 * cap, every prefix of a good answer. None crashes; the text reported is valid UTF-8. */
START_TEST(bytes_are_never_trusted)
{
    static const char bin[] = "{\"status\":\"error\",\"errorType\":\"\xff\xfe\",\"error\":\"a\x7f"
                              "b\xc3\x28\\u0001\"}";
    const char *good = VECTOR("24");
    char *big = malloc(PROMQ_BODY_MAX + 2);
    struct promq_answer a;
    char with_nul[] = "{\"status\":\"success\"}\0{\"x\":1}";

    promq_parse(400, bin, sizeof(bin) - 1, NOW_MS, AGE_MS, &a);
    ck_assert_int_eq(a.result, PROMQ_ERROR);
    for (const char *p = a.error; *p; p++)
        ck_assert_msg((unsigned char)*p >= ' ' && (unsigned char)*p < 0x7f, "byte %02x in \"%s\"",
                      (unsigned char)*p, a.error);
    promq_parse(200, with_nul, sizeof(with_nul) - 1, NOW_MS, AGE_MS, &a);
    ck_assert_int_eq(a.result, PROMQ_MALFORMED);
    memset(big, ' ', PROMQ_BODY_MAX + 1);
    memcpy(big, good, strlen(good));
    promq_parse(200, big, PROMQ_BODY_MAX + 1, NOW_MS, AGE_MS, &a);
    ck_assert_int_eq(a.result, PROMQ_MALFORMED);
    ck_assert_msg(strstr(a.error, "over"), "%s", a.error);
    promq_parse(200, big, PROMQ_BODY_MAX, NOW_MS, AGE_MS, &a); /* at the cap: read */
    ck_assert_int_eq(a.result, PROMQ_OK);
    free(big);
    for (size_t n = 0; n < strlen(good); n++) {
        promq_parse(200, good, n, NOW_MS, AGE_MS, &a);
        ck_assert_msg(a.result != PROMQ_OK, "prefix of %zu bytes gave a figure", n);
    }
    promq_parse(200, NULL, 0, NOW_MS, AGE_MS, &a);
    ck_assert_int_eq(a.result, PROMQ_MALFORMED);
}
END_TEST

START_TEST(url_is_percent_encoded)
{
    char out[256];
    struct err e = {0};

    ck_assert_int_eq(promq_url("http://prom:9090/", "sum(x{a=\"b c\"}) / 8", out, sizeof(out), &e),
                     0);
    ck_assert_str_eq(out,
                     "http://prom:9090/api/v1/query?query=sum%28x%7Ba%3D%22b%20c%22%7D%29%20%2F"
                     "%208");
    ck_assert_int_eq(promq_url("https://m.example/prometheus", "a&b=c#d+e\n", out, sizeof(out), &e),
                     0);
    ck_assert_str_eq(out, "https://m.example/prometheus/api/v1/query?query=a%26b%3Dc%23d%2Be%0A");
    ck_assert_int_eq(promq_url("http://p", "x", out, 20, &e), -1);
    ck_assert_int_eq(e.code, ERR_TOO_LARGE);
    ck_assert_int_eq(promq_url("http://p", "x", out, 34, &e), 0); /* exactly fits */
    ck_assert_str_eq(out, "http://p/api/v1/query?query=x");
}
END_TEST

/* The figure is the pool's serving GPUs wanted in all: it adds only what goes beyond what
 * serving uses, waits for and has announced. */
START_TEST(figure_adds_beyond_what_is_known)
{
    struct snapshot_agg a = {.total = 64,
                             .used = 24,
                             .borrowed = 8,
                             .free = 40,
                             .pending_serving = 2,
                             .announced_serving = 4,
                             .reserve = 4};

    a.lendable = 40 - 4 - 2 - 4;
    /* serving uses 24 - 8 = 16; known demand 16 + 2 + 4 = 22 */
    ck_assert_int_eq(promq_announce(&a, 22), 0);
    ck_assert_int_eq(a.announced_serving, 4);
    ck_assert_int_eq(promq_announce(&a, 10), 0);
    ck_assert_int_eq(a.lendable, 30);
    ck_assert_int_eq(promq_announce(&a, 29.2), 8); /* rounded up: 30 - 22 */
    ck_assert_int_eq(a.announced_serving, 12);
    ck_assert_int_eq(a.lendable, 40 - 4 - 2 - 12);
    ck_assert_int_eq(promq_announce(&a, 1e9), K8S_GPUS_MAX - 30);
    ck_assert_int_eq(a.lendable, 0);
    a.announced_serving = 0;
    ck_assert_int_eq(promq_announce(&a, NAN), 0);
    ck_assert_int_eq(promq_announce(&a, -5), 0);
    ck_assert_int_eq(promq_announce(&a, INFINITY), 0);
    ck_assert_int_eq(a.announced_serving, 0);
}
END_TEST

START_TEST(result_names)
{
    ck_assert_str_eq(promq_result_name(PROMQ_OK), "ok");
    ck_assert_str_eq(promq_result_name(PROMQ_NOT_A_NUMBER), "not_a_number");
    ck_assert_str_eq(promq_result_name(PROMQ_STALE), "stale");
    ck_assert_str_eq(promq_result_name((enum promq_result)PROMQ_RESULTS), "malformed");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("promq");
    TCase *tc = tcase_create("promq");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, vector_and_scalar_give_the_figure);
    tcase_add_test(tc, hostile_and_failed_answers_give_no_figure);
    tcase_add_test(tc, bytes_are_never_trusted);
    tcase_add_test(tc, url_is_percent_encoded);
    tcase_add_test(tc, figure_adds_beyond_what_is_known);
    tcase_add_test(tc, result_names);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
