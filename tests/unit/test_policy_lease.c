/* test_policy_lease.c -- lending from the serving-demand forecast (policy/lease.h): the
 * lendable figure falls before a forecast peak, the lease ends before it, an unknown
 * forecast leaves the fixed rules alone, and a window stays an upper bound. */
#include "policy/lease.h"

#include <check.h>
#include <string.h>

#define H      (3600 * 1000LL)
#define T0     (1700000000000LL - 1700000000000LL % LEASE_STEP_MS) /* a step start */
#define MINUTE (60 * 1000LL)

static int high[LEASE_STEPS];

static void flat(int v)
{
    for (int i = 0; i < LEASE_STEPS; i++)
        high[i] = v;
}

/* free 10, reserve 1, nothing pending, serving holds 2; window open 12 h; min lease 1 h. */
static struct lease_in base_in(void)
{
    struct lease_in in = {.now_ms = T0 + 5 * MINUTE,
                          .end_ms = T0 + 12 * H,
                          .end_bound = LEASE_BOUND_WINDOW_END,
                          .free_gpus = 10,
                          .reserve = 1,
                          .pending = 0,
                          .serving_use = 2,
                          .min_lease_ms = 1 * H};
    return in;
}

START_TEST(test_no_forecast_is_fixed_rules)
{
    struct lease_in in = base_in();
    struct lease_out o;
    struct lease_forecast f = {.from_ms = T0, .high = high};

    in.pending = 3;
    lease_fit(&in, NULL, &o);
    ck_assert_int_eq(o.lendable, 10 - 1 - 3);
    ck_assert_int_eq(o.end_ms, T0 + 12 * H);
    ck_assert_int_eq(o.bound, LEASE_BOUND_WINDOW_END);
    ck_assert_int_eq(o.peak, -1);
    /* The step at now unknown: the same. */
    flat(9);
    high[0] = -1;
    lease_fit(&in, &f, &o);
    ck_assert_int_eq(o.lendable, 6);
    ck_assert_int_eq(o.end_ms, T0 + 12 * H);
    ck_assert_int_eq(o.bound, LEASE_BOUND_WINDOW_END);
    /* A forecast that starts after now, or ended before it: the same. */
    f.from_ms = in.now_ms + MINUTE;
    flat(9);
    lease_fit(&in, &f, &o);
    ck_assert_int_eq(o.lendable, 6);
    f.from_ms = in.now_ms - 25 * H;
    lease_fit(&in, &f, &o);
    ck_assert_int_eq(o.lendable, 6);
    ck_assert_str_eq(lease_bound_name(o.bound), "window_end");
}
END_TEST

START_TEST(test_window_is_upper_bound_of_a_quiet_forecast)
{
    struct lease_in in = base_in();
    struct lease_out o;
    struct lease_forecast f = {.from_ms = T0, .high = high};

    flat(2); /* serving stays where it is */
    lease_fit(&in, &f, &o);
    ck_assert_int_eq(o.lendable, 9);
    ck_assert_int_eq(o.end_ms, T0 + 12 * H);
    ck_assert_int_eq(o.bound, LEASE_BOUND_WINDOW_END);
    ck_assert_int_eq(o.peak, 2);
    /* An idle lease, likewise. */
    in.end_ms = in.now_ms + 2 * H;
    in.end_bound = LEASE_BOUND_IDLE_LEASE;
    lease_fit(&in, &f, &o);
    ck_assert_int_eq(o.end_ms, in.now_ms + 2 * H);
    ck_assert_str_eq(lease_bound_name(o.bound), "idle_lease");
}
END_TEST

START_TEST(test_lease_ends_before_the_peak)
{
    struct lease_in in = base_in();
    struct lease_out o;
    struct lease_forecast f = {.from_ms = T0, .high = high};

    flat(2);
    for (int i = 24; i < 32; i++) /* 06:00-08:00 after T0: serving wants 8 */
        high[i] = 8;
    lease_fit(&in, &f, &o);
    ck_assert_int_eq(o.lendable, 9);
    ck_assert_int_eq(o.end_ms, T0 + 6 * H);
    ck_assert_int_eq(o.peak_at_ms, T0 + 6 * H);
    ck_assert_int_eq(o.bound, LEASE_BOUND_FORECAST);
    ck_assert_str_eq(lease_bound_name(o.bound), "forecast_peak");
    /* With no minimum lease, the step at now still counts: the lease never ends at now. */
    in.min_lease_ms = 0;
    high[0] = 4;
    lease_fit(&in, &f, &o);
    ck_assert_int_eq(o.lendable, 10 - 1 - (4 - 2));
    ck_assert_int_eq(o.peak, 4);
    ck_assert_int_eq(o.end_ms, T0 + 6 * H);
}
END_TEST

START_TEST(test_lendable_falls_before_a_peak_within_min_lease)
{
    struct lease_in in = base_in();
    struct lease_out o;
    struct lease_forecast f = {.from_ms = T0, .high = high};

    flat(2);
    high[2] = 6; /* 00:30-00:45: within the minimum lease, so it is covered, not cut */
    lease_fit(&in, &f, &o);
    ck_assert_int_eq(o.lendable, 10 - 1 - (6 - 2));
    ck_assert_int_eq(o.peak, 6);
    ck_assert_int_eq(o.end_ms, T0 + 12 * H);
    ck_assert_int_eq(o.bound, LEASE_BOUND_WINDOW_END);
    /* A peak that leaves nothing: min lease is the bound, at the peak's step. */
    high[2] = 12;
    lease_fit(&in, &f, &o);
    ck_assert_int_le(o.lendable, 0);
    ck_assert_int_eq(o.bound, LEASE_BOUND_MIN_LEASE);
    ck_assert_int_eq(o.peak_at_ms, T0 + 2 * LEASE_STEP_MS);
    /* Pending demand above the forecast's rise still counts. */
    high[2] = 3;
    in.pending = 4;
    lease_fit(&in, &f, &o);
    ck_assert_int_eq(o.lendable, 10 - 1 - 4);
}
END_TEST

START_TEST(test_horizon_and_unknown_steps)
{
    struct lease_in in = base_in();
    struct lease_out o;
    struct lease_forecast f = {.from_ms = T0, .high = high};

    flat(2);
    in.end_ms = in.now_ms + 3 * 24 * H; /* a window open for 3 days */
    lease_fit(&in, &f, &o);
    ck_assert_int_eq(o.end_ms, T0 + 24 * H); /* the forecast's last step */
    ck_assert_int_eq(o.bound, LEASE_BOUND_HORIZON);
    ck_assert_str_eq(lease_bound_name(o.bound), "forecast_horizon");
    high[40] = -1; /* 10:00 unknown: the lease ends there */
    in.end_ms = T0 + 12 * H;
    lease_fit(&in, &f, &o);
    ck_assert_int_eq(o.end_ms, T0 + 10 * H);
    ck_assert_int_eq(o.bound, LEASE_BOUND_HORIZON);
    ck_assert_int_eq(o.lendable, 9);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("policy_lease");
    TCase *tc = tcase_create("lease");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_no_forecast_is_fixed_rules);
    tcase_add_test(tc, test_window_is_upper_bound_of_a_quiet_forecast);
    tcase_add_test(tc, test_lease_ends_before_the_peak);
    tcase_add_test(tc, test_lendable_falls_before_a_peak_within_min_lease);
    tcase_add_test(tc, test_horizon_and_unknown_steps);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
