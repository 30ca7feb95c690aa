/* test_forecast_set.c -- the shared incremental learner (policy/forecast_set.h): where reads
 * start, samples already learned skipped, one forecast per (cluster, SKU) in its zone, and
 * the high quantile per step rounded up with -1 where unknown. */
#include "base/err.h"
#include "policy/forecast_set.h"

#include <check.h>

#define MIN  (60 * 1000LL)
#define T0   (1700000000000LL - 1700000000000LL % FORECAST_SLOT_MS)
#define WEEK (7 * 24 * 60 * MIN)

START_TEST(test_read_window)
{
    struct forecast_set *s = forecast_set_new();

    ck_assert_int_eq(forecast_set_read_from(s, T0), T0 - FORECAST_SET_HORIZON_MS);
    forecast_set_read_done(s, T0 + 1);
    ck_assert_int_eq(forecast_set_read_from(s, T0 + 10 * MIN), T0 + 1 - FORECAST_SET_OVERLAP_MS);
    forecast_set_free(&s);
    ck_assert_ptr_null(s);
    forecast_set_free(&s);
}
END_TEST

START_TEST(test_learn_and_high)
{
    struct forecast_set *s = forecast_set_new();
    struct err e = {0};
    const char *cl, *sku;
    const struct forecast *f;
    int high[4];

    /* A week ago, the slot at T0 saw 3 GPUs, the next 5; samples every minute. */
    for (int64_t t = T0 - WEEK; t < T0 - WEEK + 2 * FORECAST_SLOT_MS; t += MIN) {
        int d = t < T0 - WEEK + FORECAST_SLOT_MS ? 3 : 5;

        ck_assert_int_eq(forecast_set_learn(s, "az1", "h100", "", t, d, &e), 0);
    }
    /* Read again (an overlapping read): skipped, not counted twice, not an error. */
    ck_assert_int_eq(forecast_set_learn(s, "az1", "h100", "", T0 - WEEK, 40, &e), 0);
    ck_assert_int_eq(forecast_set_learn(s, "az2", "h100", "UTC0", T0 - WEEK, 1, &e), 0);
    ck_assert_uint_eq(forecast_set_count(s), 2);
    f = forecast_set_at(s, 0, &cl, &sku);
    ck_assert_str_eq(cl, "az1");
    ck_assert_str_eq(sku, "h100");
    forecast_set_high(f, T0, high, 4);
    ck_assert_int_eq(high[0], 3);
    ck_assert_int_eq(high[1], 5);
    ck_assert_int_eq(high[2], -1);
    ck_assert_int_eq(high[3], -1);
    /* A zone that does not parse names the field. */
    ck_assert_int_eq(forecast_set_learn(s, "az3", "h100", "Not/AZone,,", T0, 1, &e), -1);
    ck_assert_str_eq(e.field, "timeZone");
    ck_assert_uint_eq(forecast_set_count(s), 2);
    forecast_set_free(&s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("forecast_set");
    TCase *tc = tcase_create("set");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_read_window);
    tcase_add_test(tc, test_learn_and_high);
    suite_add_tcase(su, tc);
    sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
