/* test_k8s_json.c -- the list-body tokenizer: structure, lookups, decoding, rejection. */
#include "base/err.h"
#include "cluster/k8s_json.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static struct k8s_json doc;

static void setup(void)
{
    k8s_json_init(&doc);
}

static void teardown(void)
{
    k8s_json_free(&doc);
}

static int parse(const char *s)
{
    return k8s_json_parse(&doc, s, strlen(s), 0, NULL);
}

START_TEST(walks_objects_and_arrays)
{
    const char *s = "{\"kind\":\"NodeList\",\"items\":[{\"a\":1},{\"a\":[2,3]},{}],"
                    "\"metadata\":{\"continue\":\"tok\"}}";
    int items, it, n = 0;
    int64_t v;

    ck_assert_int_eq(parse(s), 0);
    ck_assert_int_eq(k8s_json_type(&doc, 0), K8S_JSON_OBJECT);
    ck_assert(k8s_json_str_eq(&doc, k8s_json_get(&doc, 0, "kind"), "NodeList"));
    items = k8s_json_get(&doc, 0, "items");
    ck_assert_int_eq(k8s_json_type(&doc, items), K8S_JSON_ARRAY);
    for (it = k8s_json_child(&doc, items); it >= 0; it = k8s_json_next(&doc, items, it))
        n++;
    ck_assert_int_eq(n, 3);
    it = k8s_json_child(&doc, items);
    ck_assert_int_eq(k8s_json_int(&doc, k8s_json_get(&doc, it, "a"), 0, 10, &v), 0);
    ck_assert_int_eq(v, 1);
    /* the walk skips nested content of the second item */
    it = k8s_json_next(&doc, items, it);
    ck_assert_int_eq(k8s_json_type(&doc, k8s_json_get(&doc, it, "a")), K8S_JSON_ARRAY);
    ck_assert(
        k8s_json_str_eq(&doc, k8s_json_path(&doc, 0, "metadata", "continue", K8S_JSON_END), "tok"));
    ck_assert_int_eq(k8s_json_path(&doc, 0, "metadata", "missing", K8S_JSON_END), -1);
    ck_assert_int_eq(k8s_json_path(&doc, -1, "metadata", K8S_JSON_END), -1);
    ck_assert_int_eq(k8s_json_get(&doc, items, "kind"), -1); /* not an object */
}
END_TEST

START_TEST(decodes_escapes)
{
    char out[64];
    long n;

    ck_assert_int_eq(
        parse("{\"nvidia.com\\/gpu\":\"8\",\"s\":\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\"}"), 0);
    /* an escaped key still matches its decoded form */
    ck_assert(k8s_json_str_eq(&doc, k8s_json_get(&doc, 0, "nvidia.com/gpu"), "8"));
    n = k8s_json_str(&doc, k8s_json_get(&doc, 0, "s"), out, sizeof(out));
    ck_assert_int_eq(n, 12);
    ck_assert_str_eq(out, "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80");
    /* truncation keeps the NUL and reports the full length */
    n = k8s_json_str(&doc, k8s_json_get(&doc, 0, "s"), out, 4);
    ck_assert_int_eq(n, 12);
    ck_assert_str_eq(out, "a\"b");
}
END_TEST

START_TEST(reads_numbers_and_literals)
{
    int64_t v = 0;

    ck_assert_int_eq(parse("[-12, 3.5, \"81559\", true, false, null, 1e3]"), 0);
    ck_assert_int_eq(k8s_json_int(&doc, 1, -100, 100, &v), 0);
    ck_assert_int_eq(v, -12);
    ck_assert_int_eq(k8s_json_int(&doc, 2, 0, 100, &v), -1); /* not whole */
    ck_assert_int_eq(k8s_json_int(&doc, 3, 0, 100000, &v), 0);
    ck_assert_int_eq(v, 81559);
    ck_assert_int_eq(k8s_json_int(&doc, 3, 0, 100, &v), -1); /* out of range */
    ck_assert(k8s_json_true(&doc, 4));
    ck_assert(!k8s_json_true(&doc, 5));
    ck_assert_int_eq(k8s_json_type(&doc, 6), K8S_JSON_NULL);
    ck_assert_int_eq(k8s_json_type(&doc, 7), K8S_JSON_NUMBER);
}
END_TEST

START_TEST(rejects_malformed)
{
    static const char *bad[] = {
        "",      "{",       "{\"a\":1,}",  "[1,]",          "{\"a\" 1}", "{a:1}", "[1 2]",
        "\"abc", "\"\\x\"", "\"\\u12g4\"", "[01]",          "[1.]",      "[-]",   "[1e]",
        "tru",   "{} x",    "\"a\tb\"",    "{\"items\":[}", "nul",       "[\"\\",
    };
    struct err e = {0};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(k8s_json_parse(&doc, bad[i], strlen(bad[i]), 0, &e) == -1, "%s", bad[i]);
        ck_assert_int_eq(e.code, ERR_MALFORMED);
        ck_assert_ptr_nonnull(strstr(e.msg, "at byte"));
        ck_assert_int_eq(doc.n, 0);
    }
}
END_TEST

START_TEST(limits_depth)
{
    char deep[200];
    struct err e = {0};

    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    ck_assert_int_eq(k8s_json_parse(&doc, deep, 200, 0, &e), -1);
    ck_assert_int_eq(e.code, ERR_TOO_LARGE);
    ck_assert_int_eq(k8s_json_parse(&doc, deep + 40, 120, 0, &e), 0); /* depth 60 is fine */
    ck_assert_int_eq(k8s_json_parse(&doc, deep + 40, 120, 10, &e), -1);
}
END_TEST

START_TEST(reuses_the_token_array)
{
    ck_assert_int_eq(parse("[1,2,3]"), 0);
    ck_assert_int_eq(doc.n, 4);
    ck_assert_int_eq(parse("{\"x\":{}}"), 0);
    ck_assert_int_eq(doc.n, 3);
    ck_assert_int_eq(k8s_json_child(&doc, k8s_json_get(&doc, 0, "x")), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("k8s_json");
    TCase *tc = tcase_create("tokens");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, walks_objects_and_arrays);
    tcase_add_test(tc, decodes_escapes);
    tcase_add_test(tc, reads_numbers_and_literals);
    tcase_add_test(tc, rejects_malformed);
    tcase_add_test(tc, limits_depth);
    tcase_add_test(tc, reuses_the_token_array);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
