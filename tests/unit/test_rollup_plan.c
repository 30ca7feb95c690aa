/* test_rollup_plan.c -- which parts of a report's window come from the sums
 * (store/rollup_plan.h): the widest sum that starts where a step's cover has got to and
 * lies inside the step, samples up to the next quarter hour otherwise; ranges of samples
 * joined when they touch; every millisecond of the window covered once. */
#include "store/rollup_plan.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#define Q   ROLLUP_QUARTER_MS
#define H   ROLLUP_HOUR_MS
#define D   ROLLUP_DAY_MS
#define T0  1772323200000LL /* 2026-03-01T00:00:00Z */
#define MIN 60000LL

/* Every quarter, hour and day of [T0 - 1 d, T0 + 3 d) summed but those in skip_from..to. */
static int64_t quarters[4 * 24 * 4], hours[24 * 4], days[4];

static struct rollup_marks all_but(int64_t skip_from, int64_t skip_to)
{
    struct rollup_marks m = {quarters, hours, days, 0, 0, 0};

    for (int64_t t = T0 - D; t < T0 + 3 * D; t += Q) {
        if (t >= skip_from && t < skip_to)
            continue;
        quarters[m.n_quarters++] = t;
        if (t % H == 0 && (t + H <= skip_from || t >= skip_to))
            hours[m.n_hours++] = t;
        if (t % D == 0 && (t + D <= skip_from || t >= skip_to))
            days[m.n_days++] = t;
    }
    return m;
}

/* Every millisecond of [from, to) is in exactly one part, and no sum crosses a step. */
static void assert_covers(const struct rollup_plan *p, int64_t from, int64_t to, int64_t step)
{
    int64_t covered = 0;

    for (size_t i = 0; i < p->n_raw; i++) {
        ck_assert_int_lt(p->raw_lo[i], p->raw_hi[i]);
        ck_assert_int_ge(p->raw_lo[i], from);
        ck_assert_int_le(p->raw_hi[i], to);
        if (i)
            ck_assert_int_gt(p->raw_lo[i], p->raw_hi[i - 1]); /* apart, not touching */
        covered += p->raw_hi[i] - p->raw_lo[i];
    }
    for (size_t i = 0; i < p->n_sums; i++) {
        int64_t a = p->sum_start[i], b = a + p->sum_width_s[i] * 1000LL;

        ck_assert_int_ge(a, from);
        ck_assert_int_le(b, to);
        ck_assert_int_eq((a - from) / step, (b - 1 - from) / step);
        for (size_t r = 0; r < p->n_raw; r++)
            ck_assert(b <= p->raw_lo[r] || a >= p->raw_hi[r]);
        for (size_t j = 0; j < i; j++)
            ck_assert(p->sum_start[j] + p->sum_width_s[j] * 1000LL <= a || p->sum_start[j] >= b);
        covered += b - a;
    }
    ck_assert_int_eq(covered, to - from);
}

START_TEST(nothing_summed_is_one_range)
{
    struct rollup_marks none = {0};
    struct rollup_plan p;

    rollup_plan_build(T0 + 7, T0 + 2 * D + 5, H, &none, &p);
    ck_assert_uint_eq(p.n_raw, 1);
    ck_assert_uint_eq(p.n_sums, 0);
    ck_assert_int_eq(p.raw_lo[0], T0 + 7);
    ck_assert_int_eq(p.raw_hi[0], T0 + 2 * D + 5);
    rollup_plan_free(&p);
}
END_TEST

START_TEST(the_widest_sum_inside_the_step)
{
    struct rollup_marks m = all_but(T0 + D + 10 * H + 30 * MIN, T0 + 3 * D);
    struct rollup_plan p;

    /* Two days by the day: the first day whole; the second by hours to 10:00, then two
     * quarters, then samples from 10:30. */
    rollup_plan_build(T0, T0 + 2 * D, D, &m, &p);
    assert_covers(&p, T0, T0 + 2 * D, D);
    ck_assert_uint_eq(p.n_sums, 1 + 10 + 2);
    ck_assert_int_eq(p.sum_width_s[0], 86400);
    ck_assert_int_eq(p.sum_start[0], T0);
    ck_assert_int_eq(p.sum_width_s[1], 3600);
    ck_assert_int_eq(p.sum_start[1], T0 + D);
    ck_assert_int_eq(p.sum_width_s[12], 900);
    ck_assert_int_eq(p.sum_start[12], T0 + D + 10 * H + 15 * MIN);
    ck_assert_uint_eq(p.n_raw, 1);
    ck_assert_int_eq(p.raw_lo[0], T0 + D + 10 * H + 30 * MIN);
    ck_assert_int_eq(p.raw_hi[0], T0 + 2 * D);
    rollup_plan_free(&p);
}
END_TEST

START_TEST(steps_off_the_quarter_read_samples_at_their_ends)
{
    struct rollup_marks m = all_but(0, 0);
    struct rollup_plan p;

    /* Hours from 00:07: samples 00:07-00:15, quarters to 01:00, samples 01:00-01:07 and
     * 01:07-01:15 (one range), and so on. */
    rollup_plan_build(T0 + 7 * MIN, T0 + 3 * H + 7 * MIN, H, &m, &p);
    assert_covers(&p, T0 + 7 * MIN, T0 + 3 * H + 7 * MIN, H);
    ck_assert_uint_eq(p.n_raw, 4);
    ck_assert_int_eq(p.raw_lo[1], T0 + H);
    ck_assert_int_eq(p.raw_hi[1], T0 + H + 15 * MIN);
    ck_assert_uint_eq(p.n_sums, 3 * 3);
    for (size_t i = 0; i < p.n_sums; i++)
        ck_assert_int_eq(p.sum_width_s[i], 900);
    rollup_plan_free(&p);

    /* 90-minute steps from 00:30: quarters where an hour would cross a step. */
    rollup_plan_build(T0 + 30 * MIN, T0 + 12 * H + 30 * MIN, 90 * MIN, &m, &p);
    assert_covers(&p, T0 + 30 * MIN, T0 + 12 * H + 30 * MIN, 90 * MIN);
    ck_assert_uint_eq(p.n_raw, 0);
    rollup_plan_free(&p);

    /* Finer than a quarter: samples throughout, as one range. */
    rollup_plan_build(T0, T0 + 2 * H, 5 * MIN, &m, &p);
    assert_covers(&p, T0, T0 + 2 * H, 5 * MIN);
    ck_assert_uint_eq(p.n_raw, 1);
    ck_assert_uint_eq(p.n_sums, 0);
    rollup_plan_free(&p);
}
END_TEST

/* Random windows and steps over marks with a hole: always a cover. */
START_TEST(random_windows_are_covered)
{
    struct rollup_marks m = all_but(T0 + 5 * H + 45 * MIN, T0 + D + 2 * H);
    uint64_t x = 0x9e3779b97f4a7c15ULL;

    for (int i = 0; i < 2000; i++) {
        struct rollup_plan p;
        int64_t from, to, step;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        from = T0 - D + (int64_t)(x % (uint64_t)(2 * D));
        to = from + 1 + (int64_t)((x >> 20) % (uint64_t)(2 * D));
        step = 1000 * (1 + (int64_t)((x >> 40) % 100000));
        if ((to - from) / step > 5000)
            continue;
        rollup_plan_build(from, to, step, &m, &p);
        assert_covers(&p, from, to, step);
        rollup_plan_free(&p);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rollup_plan");
    TCase *tc = tcase_create("plan");
    SRunner *r;
    int failed;

    tcase_add_test(tc, nothing_summed_is_one_range);
    tcase_add_test(tc, the_widest_sum_inside_the_step);
    tcase_add_test(tc, steps_off_the_quarter_read_samples_at_their_ends);
    tcase_add_test(tc, random_windows_are_covered);
    suite_add_tcase(s, tc);
    r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
