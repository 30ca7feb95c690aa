/* test_retry_config.c -- the configuration's retryDefaults (cmd/retry_config.h): namespace
 * keys and "*", each policy checked and made canonical as spec.scheduling.retry is, errors
 * with ERR_CONFIG naming the field and the value. */
#include "cmd/retry_config.h"

#include "base/err.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static json_t *parse_ok(const char *text)
{
    json_t *v = json_loads(text, 0, NULL), *out = NULL;
    struct err e = {0};

    ck_assert_ptr_nonnull(v);
    ck_assert_msg(retry_config_parse(v, &out, &e) == 0, "%s: %s", e.field, e.msg);
    json_decref(v);
    return out;
}

static void parse_bad(const char *text, const char *field, const char *msg)
{
    json_t *v = json_loads(text, 0, NULL), *out = (json_t *)&out;
    struct err e = {0};

    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(retry_config_parse(v, &out, &e), -1);
    ck_assert_ptr_eq(out, (json_t *)&out);
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_str_eq(e.field, field);
    ck_assert_msg(strstr(e.msg, msg), "message \"%s\" lacks \"%s\"", e.msg, msg);
    json_decref(v);
}

START_TEST(defaults_are_made_canonical)
{
    json_t *out = parse_ok("{\"team-a\": {\"maxRetries\": 3, \"rules\": [{\"class\": \"OOM\","
                           " \"action\": \"Fail\"}]}, \"*\": {\"maxRetries\": 1}}");
    char *text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);

    ck_assert_str_eq(text, "{\"*\":{\"backoffSeconds\":10,\"maxBackoffSeconds\":600,"
                           "\"maxRetries\":1},\"team-a\":{\"backoffSeconds\":10,"
                           "\"maxBackoffSeconds\":600,\"maxRetries\":3,\"rules\":[{\"action\":"
                           "\"Fail\",\"class\":\"OOM\"}]}}");
    free(text);
    json_decref(out);
    out = parse_ok("{}");
    ck_assert_int_eq(json_object_size(out), 0);
    json_decref(out);
}
END_TEST

START_TEST(bad_defaults_name_the_field)
{
    parse_bad("[]", "retryDefaults", "must be an object");
    parse_bad("{\"Team_A\": {\"maxRetries\": 1}}", "retryDefaults",
              "\"Team_A\" is not a namespace name or \"*\"");
    parse_bad("{\"team-a\": 3}", "retryDefaults.team-a", "retry must be an object");
    parse_bad("{\"team-a\": {\"maxRetries\": 101}}", "retryDefaults.team-a.maxRetries",
              "retryDefaults.team-a.maxRetries: maxRetries 101 is out of range 0..100");
    parse_bad("{\"*\": {\"maxRetries\": 1, \"rules\": [{\"class\": \"Disk\", \"action\":"
              " \"Retry\"}]}}",
              "retryDefaults.*.rules[0].class", "class \"Disk\" is not one of");
    parse_bad("{\"*\": {\"retries\": 1}}", "retryDefaults.*.retries", "unknown field \"retries\"");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("retry_config");
    TCase *tc = tcase_create("parse");

    tcase_add_test(tc, defaults_are_made_canonical);
    tcase_add_test(tc, bad_defaults_name_the_field);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    int failed;

    srunner_run_all(r, CK_NORMAL);
    failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
