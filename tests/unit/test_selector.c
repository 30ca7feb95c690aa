/* test_selector.c -- Kubernetes label selectors: every operator parsed into its
 * requirement, spaces where Kubernetes allows them, and strict refusals naming the
 * parameter. */
#include "base/err.h"
#include "base/selector.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct selector *parse_ok(const char *text)
{
    struct selector *s = NULL;
    struct err e = {0};

    ck_assert_msg(selector_parse(text, "labelSelector", &s, &e) == 0, "%s: %s", text, e.msg);
    return s;
}

START_TEST(operators)
{
    struct selector *s = parse_ok("a=1, b==2,c!=3 , d in (x, y,z),e notin(w),f,!g,"
                                  "example.com/h=v.1_2-3");

    ck_assert_uint_eq(s->n, 8);
    ck_assert_str_eq(s->reqs[0].key, "a");
    ck_assert_int_eq(s->reqs[0].op, SELECTOR_EQ);
    ck_assert_str_eq(s->reqs[0].values[0], "1");
    ck_assert_int_eq(s->reqs[1].op, SELECTOR_EQ);
    ck_assert_str_eq(s->reqs[1].values[0], "2");
    ck_assert_int_eq(s->reqs[2].op, SELECTOR_NE);
    ck_assert_str_eq(s->reqs[2].values[0], "3");
    ck_assert_int_eq(s->reqs[3].op, SELECTOR_IN);
    ck_assert_uint_eq(s->reqs[3].n_values, 3);
    ck_assert_str_eq(s->reqs[3].values[2], "z");
    ck_assert_int_eq(s->reqs[4].op, SELECTOR_NOTIN);
    ck_assert_uint_eq(s->reqs[4].n_values, 1);
    ck_assert_int_eq(s->reqs[5].op, SELECTOR_EXISTS);
    ck_assert_uint_eq(s->reqs[5].n_values, 0);
    ck_assert_int_eq(s->reqs[6].op, SELECTOR_NOT_EXISTS);
    ck_assert_str_eq(s->reqs[6].key, "g");
    ck_assert_str_eq(s->reqs[7].key, "example.com/h");
    ck_assert_str_eq(s->reqs[7].values[0], "v.1_2-3");
    selector_free(&s);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(empty_values_and_selectors)
{
    struct selector *s = parse_ok("a=,b in (x,)");

    ck_assert_str_eq(s->reqs[0].values[0], "");
    ck_assert_uint_eq(s->reqs[1].n_values, 2);
    ck_assert_str_eq(s->reqs[1].values[1], "");
    selector_free(&s);
    s = parse_ok("   ");
    ck_assert_uint_eq(s->n, 0);
    selector_free(&s);
}
END_TEST

START_TEST(refusals_name_the_parameter)
{
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"a=b=c", "expected ',' or the end"},
        {"a in ()", "empty set"},
        {"a in x", "expected '('"},
        {"a in (x", "expected ',' or ')'"},
        {"a in (x y)", "expected ',' or ')'"},
        {"a > 1", "expected an operator"},
        {"a b", "expected an operator"},
        {"=b", "expected a label key"},
        {"!", "expected a label key"},
        {"a,", "after ','"},
        {",a", "expected a label key"},
        {"a,,b", "expected a label key"},
        {"-a=1", "invalid label key"},
        {"a_=1", "invalid label key"},
        {"Bad_Domain/a=1", "invalid label key"},
        {"a/b/c=1", "invalid label key"},
        {"a=-x", "invalid label value"},
        {"a=(x)", "expected a label value"},
        {"a=x)", "expected ',' or the end"},
        {"a=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "invalid label value"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct selector *s = NULL;
        struct err e = {0};

        ck_assert_msg(selector_parse(bad[i].text, "labelSelector", &s, &e) == -1, "%s parsed",
                      bad[i].text);
        ck_assert_ptr_null(s);
        ck_assert_int_eq(e.code, ERR_MALFORMED);
        ck_assert_str_eq(e.field, "labelSelector");
        ck_assert_msg(strstr(e.msg, bad[i].msg), "%s: \"%s\" lacks \"%s\"", bad[i].text, e.msg,
                      bad[i].msg);
        ck_assert_msg(strstr(e.msg, "labelSelector \""), "%s: %s", bad[i].text, e.msg);
    }
}
END_TEST

START_TEST(limits)
{
    char text[SELECTOR_TEXT_MAX + 2];
    struct selector *s = NULL;
    struct err e = {0};
    size_t n = 0;

    memset(text, 'a', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    ck_assert_int_eq(selector_parse(text, "labelSelector", &s, &e), -1);
    ck_assert_int_eq(e.code, ERR_TOO_LARGE);
    for (int i = 0; i <= SELECTOR_REQS_MAX; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%sk%d", i ? "," : "", i);
    ck_assert_int_eq(selector_parse(text, "labelSelector", &s, &e), -1);
    ck_assert_int_eq(e.code, ERR_TOO_LARGE);
    n = (size_t)snprintf(text, sizeof(text), "a in (");
    for (int i = 0; i <= SELECTOR_SET_MAX; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%sv%d", i ? "," : "", i);
    snprintf(text + n, sizeof(text) - n, ")");
    ck_assert_int_eq(selector_parse(text, "labelSelector", &s, &e), -1);
    ck_assert_int_eq(e.code, ERR_TOO_LARGE);
    ck_assert_ptr_null(s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("selector");
    TCase *tc = tcase_create("parse");
    SRunner *r;
    int failed;

    tcase_add_test(tc, operators);
    tcase_add_test(tc, empty_values_and_selectors);
    tcase_add_test(tc, refusals_name_the_parameter);
    tcase_add_test(tc, limits);
    suite_add_tcase(su, tc);
    r = srunner_create(su);
    srunner_run_all(r, CK_NORMAL);
    failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
