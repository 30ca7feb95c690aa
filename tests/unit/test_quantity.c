/* test_quantity.c -- the Kubernetes quantity grammar, value by value. */
#include "base/err.h"
#include "cluster/quantity.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int64_t milli(const char *s)
{
    int64_t v = -12345;
    struct err e = {0};

    ck_assert_msg(quantity_parse_milli(s, strlen(s), &v, &e) == 0, "%s: %s", s, e.msg);
    return v;
}

static int64_t value(const char *s)
{
    int64_t v = -12345;

    ck_assert_msg(quantity_parse_value(s, strlen(s), &v, NULL) == 0, "%s", s);
    return v;
}

static enum err_code fails(const char *s)
{
    int64_t v = 777;
    struct err e = {0};

    ck_assert_msg(quantity_parse_milli(s, strlen(s), &v, &e) == -1, "%s parsed", s);
    ck_assert_int_eq(v, 777); /* untouched on failure */
    ck_assert_str_eq(e.field, "quantity");
    return e.code;
}

START_TEST(plain_integers)
{
    ck_assert_int_eq(milli("8"), 8000);
    ck_assert_int_eq(milli("0"), 0);
    ck_assert_int_eq(milli("110"), 110000);
    ck_assert_int_eq(value("8"), 8);
    ck_assert_int_eq(milli("+3"), 3000);
    ck_assert_int_eq(milli("-2"), -2000);
}
END_TEST

START_TEST(decimal_suffixes)
{
    ck_assert_int_eq(milli("1500m"), 1500);
    ck_assert_int_eq(value("1500m"), 2); /* rounds up like Quantity.Value() */
    ck_assert_int_eq(value("191450m"), 192);
    ck_assert_int_eq(milli("2k"), 2000000);
    ck_assert_int_eq(value("3M"), 3000000);
    ck_assert_int_eq(value("1G"), 1000000000);
    ck_assert_int_eq(value("2T"), 2000000000000LL);
    ck_assert_int_eq(value("1P"), 1000000000000000LL);
    ck_assert_int_eq(value("9P"), 9000000000000000LL);
}
END_TEST

START_TEST(binary_suffixes)
{
    ck_assert_int_eq(value("1Ki"), 1024);
    ck_assert_int_eq(value("64Gi"), 64LL << 30);
    ck_assert_int_eq(value("2113389372Ki"), 2113389372LL * 1024);
    ck_assert_int_eq(value("1Mi"), 1 << 20);
    ck_assert_int_eq(value("3Ti"), 3LL << 40);
    ck_assert_int_eq(value("1Pi"), 1LL << 50);
    ck_assert_int_eq(value("1.5Gi"), 3LL << 29);
}
END_TEST

START_TEST(exponents_and_fractions)
{
    ck_assert_int_eq(value("1e3"), 1000);
    ck_assert_int_eq(value("1E3"), 1000);
    ck_assert_int_eq(milli("1e-3"), 1);
    ck_assert_int_eq(value("12e+2"), 1200);
    ck_assert_int_eq(milli("0.5"), 500);
    ck_assert_int_eq(milli(".5"), 500);
    ck_assert_int_eq(milli("5."), 5000);
    ck_assert_int_eq(milli("0.0001"), 1); /* below a milli-unit rounds up */
    ck_assert_int_eq(milli("0.0000"), 0);
    ck_assert_int_eq(milli("-0.0001"), 0); /* towards +infinity */
    ck_assert_int_eq(value("-1500m"), -1);
}
END_TEST

START_TEST(length_bounds_the_input)
{
    int64_t v = 0;

    /* The parser reads len bytes, so a token inside a larger buffer works. */
    ck_assert_int_eq(quantity_parse_value("64Gi\",\"pods\"", 4, &v, NULL), 0);
    ck_assert_int_eq(v, 64LL << 30);
    ck_assert_int_eq(quantity_parse_value("8xyz", 1, &v, NULL), 0);
    ck_assert_int_eq(v, 8);
}
END_TEST

START_TEST(rejects_malformed)
{
    ck_assert_int_eq(fails(""), ERR_MALFORMED);
    ck_assert_int_eq(fails("abc"), ERR_MALFORMED);
    ck_assert_int_eq(fails("1.5.3"), ERR_MALFORMED);
    ck_assert_int_eq(fails("8 "), ERR_MALFORMED);
    ck_assert_int_eq(fails(" 8"), ERR_MALFORMED);
    ck_assert_int_eq(fails("1ki"), ERR_MALFORMED); /* only Ki is binary kilo */
    ck_assert_int_eq(fails("1KB"), ERR_MALFORMED);
    ck_assert_int_eq(fails("1e"), ERR_MALFORMED);
    ck_assert_int_eq(fails("1e+"), ERR_MALFORMED);
    ck_assert_int_eq(fails("-"), ERR_MALFORMED);
    ck_assert_int_eq(fails("."), ERR_MALFORMED);
    ck_assert_int_eq(fails("1mi"), ERR_MALFORMED);
}
END_TEST

/* Found by fuzz_quantity (testdata/fuzz/quantity/regressions/): a NUL byte where the suffix
 * goes matched the suffix table's terminator, so "0\0" parsed as 0 and "2\0" as 2 exa. */
START_TEST(rejects_nul_as_suffix)
{
    static const struct {
        const char *s;
        size_t len;
    } cases[] = {{"0\0", 2}, {"2\0", 2}, {"5\0i", 3}, {"1.5\0", 4}};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t v = 777;
        struct err e = {0};

        ck_assert_msg(quantity_parse_milli(cases[i].s, cases[i].len, &v, &e) == -1,
                      "case %zu parsed as %lld", i, (long long)v);
        ck_assert_int_eq(e.code, ERR_MALFORMED);
        ck_assert_int_eq(v, 777);
    }
}
END_TEST

/* Found by fuzz_quantity: text with more than 30 digits that is not a quantity at all was
 * reported as too large ("too many digits") instead of malformed. */
START_TEST(too_many_digits_then_garbage_is_malformed)
{
    ck_assert_int_eq(fails("62222222222222222222222222222222222e"), ERR_MALFORMED);
    ck_assert_int_eq(fails("1111111111111111111111111111111abc"), ERR_MALFORMED);
    ck_assert_int_eq(fails("0.1111111111111111111111111111111x"), ERR_MALFORMED);
    ck_assert_int_eq(fails("1111111111111111111111111111111Ki"), ERR_TOO_LARGE);
}
END_TEST

START_TEST(rejects_out_of_range)
{
    ck_assert_int_eq(fails("1E"), ERR_TOO_LARGE); /* 10^18 units = 10^21 milli-units */
    ck_assert_int_eq(fails("9999999999999999999"), ERR_TOO_LARGE);
    ck_assert_int_eq(fails("1e30"), ERR_TOO_LARGE);
    ck_assert_int_eq(fails("1234567890123456789012345678901"), ERR_TOO_LARGE);
    ck_assert_int_eq(fails("8Ei"), ERR_TOO_LARGE);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("quantity");
    TCase *tc = tcase_create("parse");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, plain_integers);
    tcase_add_test(tc, decimal_suffixes);
    tcase_add_test(tc, binary_suffixes);
    tcase_add_test(tc, exponents_and_fractions);
    tcase_add_test(tc, length_bounds_the_input);
    tcase_add_test(tc, rejects_malformed);
    tcase_add_test(tc, rejects_nul_as_suffix);
    tcase_add_test(tc, too_many_digits_then_garbage_is_malformed);
    tcase_add_test(tc, rejects_out_of_range);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
