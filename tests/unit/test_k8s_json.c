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

/* The range is inclusive at both ends and not a value wider: [min, max] accepts min and
 * max, refuses min - 1 and max + 1, as numbers and as digit strings alike. */
START_TEST(int_range_is_exact_at_both_ends)
{
    int64_t v = -1;

    ck_assert_int_eq(parse("[10, 11, \"10\", \"11\", 0, -1, 7]"), 0);
    ck_assert_int_eq(k8s_json_int(&doc, 1, 0, 10, &v), 0);
    ck_assert_int_eq(v, 10);
    v = -1;
    ck_assert_int_eq(k8s_json_int(&doc, 2, 0, 10, &v), -1); /* max + 1 */
    ck_assert_int_eq(v, -1);                                /* not written on failure */
    ck_assert_int_eq(k8s_json_int(&doc, 3, 0, 10, &v), 0);
    ck_assert_int_eq(v, 10);
    ck_assert_int_eq(k8s_json_int(&doc, 4, 0, 10, &v), -1);
    ck_assert_int_eq(k8s_json_int(&doc, 5, 0, 10, &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(k8s_json_int(&doc, 6, 0, 10, &v), -1); /* min - 1 */
    /* a one-value range */
    ck_assert_int_eq(k8s_json_int(&doc, 7, 7, 7, &v), 0);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(k8s_json_int(&doc, 7, 8, 8, &v), -1);
    ck_assert_int_eq(k8s_json_int(&doc, 7, 6, 6, &v), -1);
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

/* n arrays, or n objects, nested in one another: [[[]]] or {"a":{"a":{}}}. */
static char *nested(int n, bool objects)
{
    size_t at = 0;
    char *s = malloc((size_t)n * 6 + 1);

    ck_assert_ptr_nonnull(s);
    for (int i = 0; i < n; i++) {
        const char *open = objects && i < n - 1 ? "{\"a\":" : objects ? "{" : "[";

        memcpy(s + at, open, strlen(open));
        at += strlen(open);
    }
    memset(s + at, objects ? '}' : ']', (size_t)n);
    s[at + (size_t)n] = '\0';
    return s;
}

/* The limit is the number of nested containers allowed: exactly max_depth parses, one
 * more is refused, for a caller's limit and for the cap K8S_JSON_MAX_DEPTH alike. */
START_TEST(depth_limit_is_exact)
{
    static const int limits[] = {1, 2, 10, 16, K8S_JSON_MAX_DEPTH};
    struct err e = {0};

    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        for (int objects = 0; objects < 2; objects++) {
            int max = limits[i];
            char *at = nested(max, objects), *over = nested(max + 1, objects);

            ck_assert_msg(k8s_json_parse(&doc, at, strlen(at), max, &e) == 0,
                          "depth %d refused with limit %d: %s", max, max, e.msg);
            ck_assert_int_eq(doc.n, (size_t)max * (objects ? 2 : 1) - (objects ? 1 : 0));
            memset(&e, 0, sizeof(e));
            ck_assert_msg(k8s_json_parse(&doc, over, strlen(over), max, &e) == -1,
                          "depth %d accepted with limit %d", max + 1, max);
            ck_assert_int_eq(e.code, ERR_TOO_LARGE);
            ck_assert_int_eq(doc.n, 0);
            free(at);
            free(over);
        }
    }
    /* 0 means the cap */
    {
        char *at = nested(K8S_JSON_MAX_DEPTH, false), *over = nested(K8S_JSON_MAX_DEPTH + 1, false);

        ck_assert_int_eq(k8s_json_parse(&doc, at, strlen(at), 0, &e), 0);
        ck_assert_int_eq(k8s_json_parse(&doc, over, strlen(over), 0, &e), -1);
        ck_assert_int_eq(e.code, ERR_TOO_LARGE);
        free(at);
        free(over);
    }
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
    tcase_add_test(tc, int_range_is_exact_at_both_ends);
    tcase_add_test(tc, rejects_malformed);
    tcase_add_test(tc, limits_depth);
    tcase_add_test(tc, depth_limit_is_exact);
    tcase_add_test(tc, reuses_the_token_array);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
