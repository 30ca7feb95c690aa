/* test_forecast.c -- the serving-demand forecast (policy/forecast.h): it learns a weekly
 * pattern with noise and predicts the next week within the bounds documented in
 * docs/policy.md ("Serving-demand forecast"), follows a shifted pattern within the weeks
 * its half-life promises, reads local time across DST, weights samples by time, caps gaps,
 * and says "unknown" where it has too little data. */
#include "base/err.h"
#include "policy/forecast.h"
#include "policy/tz.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MIN_MS  INT64_C(60000)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS  (24 * HOUR_MS)
#define WEEK_MS (7 * DAY_MS)

static const char *const LA = "PST8PDT,M3.2.0,M11.1.0";

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return (tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60) * 1000;
}

/* xorshift64*: the same noise on every run. */
static uint64_t rng_state;

static double rng_unit(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * UINT64_C(2685821657736338717)) >> 11) / 9007199254740992.0;
}

/* The synthetic serving load, GPUs, at a local time: 20 at night, a day curve peaking at
 * 100 at 14:00, weekends at half the day's rise. */
static double pattern(const struct tz_rule *tz, int64_t t)
{
    struct tz_local l;
    double h, rise;

    tz_local_at(tz, t, &l);
    h = l.minute_of_day / 60.0;
    rise = (h < 6 || h >= 22) ? 0 : 80 * sin(M_PI * (h - 6) / 16);
    if (l.wday == 0 || l.wday == 6)
        rise /= 2;
    return 20 + rise;
}

/* The pattern with +-10 % uniform noise, rounded to whole GPUs. */
static int noisy(double v)
{
    return (int)lround(v * (0.9 + 0.2 * rng_unit()));
}

static struct forecast *make(const char *rule, int64_t half_life_ms)
{
    struct forecast_params p;
    struct tz_rule tz;
    struct forecast *f = NULL;
    struct err e = {0};

    ck_assert_int_eq(tz_parse(rule, &tz, &e), 0);
    forecast_params_default(&p);
    if (half_life_ms)
        p.half_life_ms = half_life_ms;
    ck_assert_int_eq(forecast_new(&p, &tz, &f, &e), 0);
    return f;
}

static void observe(struct forecast *f, int64_t t, int v)
{
    struct err e = {0};

    ck_assert_msg(forecast_observe(f, t, v, &e) == 0, "observe: %s", e.msg);
}

/* Feeds the noisy pattern every minute over [from, to). */
static void learn(struct forecast *f, const struct tz_rule *tz, int64_t from, int64_t to)
{
    for (int64_t t = from; t < to; t += MIN_MS)
        observe(f, t, noisy(pattern(tz, t)));
}

START_TEST(test_slots)
{
    struct tz_rule u, la;

    ck_assert_int_eq(tz_parse("UTC0", &u, NULL), 0);
    ck_assert_int_eq(tz_parse(LA, &la, NULL), 0);
    /* 1970-01-04 was a Sunday. */
    ck_assert_int_eq(forecast_slot(&u, utc(1970, 1, 4, 0, 0)), 0);
    ck_assert_int_eq(forecast_slot(&u, utc(1970, 1, 4, 0, 14)), 0);
    ck_assert_int_eq(forecast_slot(&u, utc(1970, 1, 4, 0, 15)), 1);
    ck_assert_int_eq(forecast_slot(&u, utc(1970, 1, 5, 0, 0)), 96);
    ck_assert_int_eq(forecast_slot(&u, utc(1970, 1, 10, 23, 59)), FORECAST_SLOTS - 1);
    /* Monday 2026-05-04 00:00 PDT is 07:00Z; Sunday 23:45 PDT the slot before. */
    ck_assert_int_eq(forecast_slot(&la, utc(2026, 5, 4, 7, 0)), 96);
    ck_assert_int_eq(forecast_slot(&la, utc(2026, 5, 4, 6, 59)), 95);
    /* Same local time in winter (PST) is 08:00Z. */
    ck_assert_int_eq(forecast_slot(&la, utc(2026, 12, 7, 8, 0)), 96);
    ck_assert_int_eq(forecast_demand(10, 4, 3), 9);
    ck_assert_int_eq(forecast_demand(2, 4, 3), 3);
    ck_assert_int_eq(forecast_demand(5, 0, -1), 5);
}
END_TEST

/* Acceptance 2 of issue 17. Four weeks of the pattern, sampled every minute (the sampler's
 * default) in Los Angeles, from Sunday 2026-05-03 00:00 PDT; then the fifth week is drawn
 * and compared with the forecast made before it, sample by sample (10,080 of them). The
 * documented bounds (measured figures in brackets):
 * - mean absolute error of p50 against the noise-free pattern <= 2 GPUs (0.72);
 * - mean absolute error of p50 against the noisy actuals at most 1 GPU above that of the
 *   noise-free pattern itself, the best any forecast can do (2.54 against 2.46);
 * - coverage: actual <= p95 for >= 90 % of the samples (97.1 %);
 * - p95 not wasteful: mean (p95 - pattern) <= 8 GPUs (4.50; the noise reaches 10 %, up
 *   to 10 GPUs at the peak). */
START_TEST(test_learns_weekly_pattern)
{
    struct tz_rule tz;
    struct forecast *f = make(LA, 0);
    int64_t start = utc(2026, 5, 3, 7, 0), test0 = start + 4 * WEEK_MS;
    double mae_true = 0, mae_actual = 0, mae_oracle = 0, pad = 0;
    long n = 0, covered = 0;
    struct forecast_estimate est;

    ck_assert_int_eq(tz_parse(LA, &tz, NULL), 0);
    rng_state = 0x9e3779b97f4a7c15u;
    learn(f, &tz, start, test0);
    for (int64_t t = test0; t < test0 + WEEK_MS; t += MIN_MS) {
        double truth = pattern(&tz, t);
        int actual = noisy(truth);

        forecast_predict(f, t, &est);
        ck_assert_msg(est.known, "slot %d unknown", forecast_slot(&tz, t));
        mae_true += fabs(est.p50 - truth);
        mae_actual += fabs(est.p50 - actual);
        mae_oracle += fabs(truth - actual);
        covered += actual <= est.p95;
        pad += est.p95 - truth;
        n++;
    }
    mae_true /= (double)n;
    mae_actual /= (double)n;
    mae_oracle /= (double)n;
    pad /= (double)n;
    printf("forecast next week: MAE of p50 %.2f GPUs against the pattern, %.2f against the "
           "actuals (the pattern itself: %.2f), p95 coverage %.1f %% (%ld of %ld), mean p95 - "
           "pattern %.2f GPUs\n",
           mae_true, mae_actual, mae_oracle, 100.0 * (double)covered / (double)n, covered, n, pad);
    ck_assert_msg(mae_true <= 2.0, "MAE of p50 against the pattern %.2f > 2 GPUs", mae_true);
    ck_assert_msg(mae_actual <= mae_oracle + 1.0,
                  "MAE of p50 against the actuals %.2f > %.2f (the pattern's) + 1 GPU", mae_actual,
                  mae_oracle);
    ck_assert_msg((double)covered >= 0.90 * (double)n, "p95 covers %.1f %% < 90 %%",
                  100.0 * (double)covered / (double)n);
    ck_assert_msg(pad <= 8.0, "p95 sits %.2f GPUs above the pattern on average (> 8)", pad);
    /* The shape: Wednesday 14:00 local is the peak, 03:00 the trough, Saturday's peak
     * is lower. */
    forecast_predict(f, utc(2026, 6, 3, 21, 0), &est);
    ck_assert_msg(est.p50 >= 90 && est.p50 <= 110, "Wednesday 14:00 p50 %.1f", est.p50);
    forecast_predict(f, utc(2026, 6, 3, 10, 0), &est);
    ck_assert_msg(est.p50 >= 18 && est.p50 <= 22, "Wednesday 03:00 p50 %.1f", est.p50);
    forecast_predict(f, utc(2026, 6, 6, 21, 0), &est);
    ck_assert_msg(est.p50 >= 55 && est.p50 <= 65, "Saturday 14:00 p50 %.1f", est.p50);
    forecast_free(&f);
    ck_assert_ptr_null(f);
}
END_TEST

/* The peak of p95 over a lease: a lease from Wednesday 06:00 local for 8 hours reaches
 * the 14:00 peak; one for 2 hours does not; one of 0 is the slot itself. */
START_TEST(test_peak_over_lease)
{
    struct tz_rule tz;
    struct forecast *f = make(LA, 0);
    int64_t start = utc(2026, 5, 3, 7, 0), wed6 = utc(2026, 6, 3, 13, 0);
    struct forecast_estimate at, two, eight, late, day;

    ck_assert_int_eq(tz_parse(LA, &tz, NULL), 0);
    rng_state = 42;
    learn(f, &tz, start, start + 4 * WEEK_MS);
    forecast_predict(f, wed6, &at);
    forecast_peak(f, wed6, 0, &two);
    ck_assert(at.known && two.known);
    ck_assert_double_eq(at.p95, two.p95);
    forecast_peak(f, wed6, 2 * HOUR_MS, &two);
    forecast_peak(f, wed6, 8 * HOUR_MS + 15 * MIN_MS, &eight);
    forecast_peak(f, wed6 + 8 * HOUR_MS, 15 * MIN_MS, &late);
    forecast_peak(f, wed6, DAY_MS, &day);
    ck_assert_msg(two.p95 >= at.p95 && two.p95 < 60, "2 h from 06:00: p95 %.1f", two.p95);
    ck_assert_msg(eight.p95 >= 100, "8 h from 06:00 reaches the peak: p95 %.1f", eight.p95);
    ck_assert(day.p95 >= eight.p95);
    ck_assert_double_eq(late.p95, forecast_quantile(f, wed6 + 8 * HOUR_MS, 0.95));
    ck_assert(eight.p50 < eight.p95);
    forecast_free(&f);
}
END_TEST

/* Drift: four weeks at a flat 40 GPUs, then the load falls to 20. With the default
 * half-life of 7 days p50 follows within 2 weeks and p95 within 5; without decay (a
 * half-life of a year) p50 is still 40 after 2 weeks. A rise shows in p95 within a
 * week. */
static void flat(struct forecast *f, int64_t from, int64_t to, double level)
{
    for (int64_t t = from; t < to; t += MIN_MS)
        observe(f, t, noisy(level));
}

START_TEST(test_follows_drift)
{
    struct forecast *f = make("UTC0", 0), *slow = make("UTC0", 365 * DAY_MS);
    int64_t t0 = utc(2026, 1, 4, 0, 0), shift = t0 + 4 * WEEK_MS, probe;
    struct forecast_estimate est;

    rng_state = 7;
    flat(f, t0, shift, 40);
    rng_state = 7;
    flat(slow, t0, shift, 40);
    probe = shift + 3 * DAY_MS + 12 * HOUR_MS; /* a Wednesday noon slot */
    forecast_predict(f, probe, &est);
    ck_assert_msg(fabs(est.p50 - 40) <= 2, "before the shift p50 %.1f", est.p50);
    rng_state = 8;
    flat(f, shift, shift + 2 * WEEK_MS, 20);
    rng_state = 8;
    flat(slow, shift, shift + 2 * WEEK_MS, 20);
    forecast_predict(f, probe, &est);
    ck_assert_msg(fabs(est.p50 - 20) <= 1, "2 weeks after the fall p50 %.1f (want 20 +- 1)",
                  est.p50);
    ck_assert_msg(est.p95 > 30, "2 weeks after the fall p95 %.1f already fell (too fast)", est.p95);
    forecast_predict(slow, probe, &est);
    ck_assert_msg(est.p50 >= 36, "without decay p50 %.1f followed the fall", est.p50);
    flat(f, shift + 2 * WEEK_MS, shift + 5 * WEEK_MS, 20);
    forecast_predict(f, probe, &est);
    ck_assert_msg(est.p95 <= 22, "5 weeks after the fall p95 %.1f (want <= 22)", est.p95);
    /* A rise to 60: one week is enough for p95. */
    flat(f, shift + 5 * WEEK_MS, shift + 6 * WEEK_MS, 60);
    forecast_predict(f, probe, &est);
    ck_assert_msg(est.p95 >= 57, "a week after a rise to 60 p95 %.1f", est.p95);
    forecast_free(&f);
    forecast_free(&slow);
}
END_TEST

/* DST: a load that peaks at 09:00-10:00 local in Los Angeles, learned over the four
 * weeks before the fall-back of 2026-11-01, is predicted at 09:00 local after it
 * (17:00Z in PST, 16:00Z in PDT); in UTC slots the peak would be an hour early. */
START_TEST(test_local_time_across_dst)
{
    struct tz_rule tz;
    struct forecast *f = make(LA, 0);
    int64_t from = utc(2026, 10, 4, 7, 0), to = utc(2026, 11, 1, 7, 0);
    struct forecast_estimate nine, eight, ten;

    ck_assert_int_eq(tz_parse(LA, &tz, NULL), 0);
    for (int64_t t = from; t < to; t += MIN_MS) {
        struct tz_local l;

        tz_local_at(&tz, t, &l);
        observe(f, t, l.minute_of_day / 60 == 9 ? 50 : 10);
    }
    /* Monday 2026-11-02 in PST. */
    forecast_predict(f, utc(2026, 11, 2, 17, 30), &nine);
    forecast_predict(f, utc(2026, 11, 2, 16, 30), &eight);
    forecast_predict(f, utc(2026, 11, 2, 18, 0), &ten);
    ck_assert(nine.known && eight.known && ten.known);
    ck_assert_double_eq(nine.p50, 50);
    ck_assert_double_eq(eight.p50, 10);
    ck_assert_double_eq(ten.p50, 10);
    /* The fall-back Sunday's repeated 01:00 hour lands in the 01:00 slots: learned
     * through 2026-11-01 08:00Z (01:00 PDT) and 09:00Z (01:00 PST again). */
    ck_assert_int_eq(forecast_slot(&tz, utc(2026, 11, 1, 8, 30)),
                     forecast_slot(&tz, utc(2026, 11, 1, 9, 30)));
    forecast_free(&f);
}
END_TEST

/* A sample counts for the time until the next one: a slot sampled every minute at 10 GPUs
 * for 14 minutes, then 60 samples of 50 in its last minute, has p50 10 (by count of
 * samples, 60 of 74, it would be 50). */
START_TEST(test_time_weighted)
{
    struct forecast *f = make("UTC0", 0);
    int64_t t0 = utc(2026, 1, 5, 12, 0);

    for (int i = 0; i < 14; i++)
        observe(f, t0 + i * MIN_MS, 10);
    for (int i = 0; i < 60; i++)
        observe(f, t0 + 14 * MIN_MS + i * 1000, 50);
    observe(f, t0 + 15 * MIN_MS, 10);
    ck_assert_double_eq(forecast_quantile(f, t0 + WEEK_MS, 0.5), 10);
    ck_assert_double_eq(forecast_quantile(f, t0 + WEEK_MS, 0.95), 50);
    ck_assert_double_eq(forecast_quantile(f, t0 + WEEK_MS, 0.93), 10);
    forecast_free(&f);
}
END_TEST

/* A silence longer than max_gap (10 min) is a gap, not a level: a sample at Monday 00:00
 * followed by one a day later counts for 10 minutes only. */
START_TEST(test_gap_capped)
{
    struct forecast *f = make("UTC0", 0);
    int64_t t0 = utc(2026, 1, 5, 0, 0);
    struct forecast_estimate est;

    observe(f, t0, 10);
    observe(f, t0 + DAY_MS, 0);
    forecast_predict(f, t0, &est);
    ck_assert(est.known);
    /* 600 s, decayed over the day to the latest sample. */
    ck_assert_double_eq_tol(est.weight_s, 600 * exp2(-(double)(DAY_MS - 10 * MIN_MS) / WEEK_MS),
                            1e-3);
    ck_assert_double_eq(est.p50, 10);
    forecast_predict(f, t0 + 15 * MIN_MS, &est);
    ck_assert(!est.known);
    forecast_free(&f);
}
END_TEST

/* Unknown: an empty forecast, a single sample, a slot never seen, a lease touching such
 * a slot, and a forecast whose data decayed away (one week, then ten weeks of nothing). */
START_TEST(test_unknown)
{
    struct forecast *f = make("UTC0", 0);
    int64_t t0 = utc(2026, 1, 5, 0, 0);
    struct forecast_estimate est;

    ck_assert(forecast_latest(f) == INT64_MIN);
    forecast_predict(f, t0, &est);
    ck_assert(!est.known);
    ck_assert_double_eq(est.p50, 0);
    ck_assert_double_eq(forecast_quantile(f, t0, 0.5), -1);
    forecast_peak(f, t0, WEEK_MS, &est);
    ck_assert(!est.known);
    observe(f, t0, 5);
    ck_assert(forecast_latest(f) == t0);
    forecast_predict(f, t0, &est);
    ck_assert(!est.known);
    /* One minute of observation: just known (min weight 60 s). */
    observe(f, t0 + MIN_MS, 5);
    forecast_predict(f, t0, &est);
    ck_assert(est.known);
    ck_assert_double_eq(est.p95, 5);
    forecast_predict(f, t0 + HOUR_MS, &est);
    ck_assert(!est.known);
    forecast_peak(f, t0, 20 * MIN_MS, &est);
    ck_assert(!est.known);
    forecast_peak(f, t0, 15 * MIN_MS, &est);
    ck_assert(est.known);
    /* A week of data, then one sample ten weeks later: 900 s per slot decayed by 2^-10. */
    flat(f, t0 + 2 * MIN_MS, t0 + WEEK_MS, 30);
    forecast_predict(f, t0 + 3 * DAY_MS, &est);
    ck_assert(est.known);
    observe(f, t0 + 11 * WEEK_MS, 30);
    forecast_predict(f, t0 + 3 * DAY_MS, &est);
    ck_assert_msg(!est.known, "decayed to %.2f s, still known", est.weight_s);
    forecast_free(&f);
    forecast_free(&f);
}
END_TEST

/* A slot with more distinct values than it keeps points: values 0..99 each for 9 s,
 * over and over for 4 weeks, keep p50 and p95 within 5 GPUs of the truth (49.5, 94.5). */
START_TEST(test_sketch_bounded_error)
{
    struct forecast *f = make("UTC0", 0);
    int64_t t0 = utc(2026, 1, 5, 12, 0);
    double p50, p95;

    for (int w = 0; w < 4; w++) {
        int64_t s = t0 + w * WEEK_MS;

        for (int i = 0; i < 100; i++)
            observe(f, s + i * 9000, (i * 37) % 100);
        observe(f, s + 100 * 9000, 0);
    }
    p50 = forecast_quantile(f, t0, 0.5);
    p95 = forecast_quantile(f, t0, 0.95);
    ck_assert_msg(fabs(p50 - 49.5) <= 5, "p50 %.2f", p50);
    ck_assert_msg(fabs(p95 - 94.5) <= 5, "p95 %.2f", p95);
    forecast_free(&f);
}
END_TEST

START_TEST(test_bad_input)
{
    struct forecast_params p;
    struct forecast *f = NULL;
    struct err e = {0};

    forecast_params_default(&p);
    p.half_life_ms = 1000;
    ck_assert_int_eq(forecast_new(&p, NULL, &f, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_str_eq(e.field, "half_life_ms");
    ck_assert_ptr_null(f);
    forecast_params_default(&p);
    p.max_gap_ms = 0;
    ck_assert_int_eq(forecast_new(&p, NULL, &f, &e), -1);
    ck_assert_str_eq(e.field, "max_gap_ms");
    forecast_params_default(&p);
    p.min_weight_s = NAN;
    ck_assert_int_eq(forecast_new(&p, NULL, &f, &e), -1);
    ck_assert_str_eq(e.field, "min_weight_s");
    forecast_params_default(&p);
    ck_assert_int_eq(forecast_new(&p, NULL, &f, &e), 0);
    ck_assert_int_eq(forecast_observe(f, 100000, 3, &e), 0);
    ck_assert_int_eq(forecast_observe(f, 99999, 3, &e), -1);
    ck_assert_str_eq(e.field, "ts");
    ck_assert_int_eq(forecast_observe(f, 200000, -1, &e), -1);
    ck_assert_str_eq(e.field, "demand");
    ck_assert(forecast_latest(f) == 100000);
    /* A repeat of the latest time replaces its value. */
    ck_assert_int_eq(forecast_observe(f, 100000, 8, &e), 0);
    ck_assert_int_eq(forecast_observe(f, 220000, 0, &e), 0);
    ck_assert_double_eq(forecast_quantile(f, 100000, 0.5), 8);
    forecast_free(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("forecast");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_slots);
    tcase_add_test(tc, test_learns_weekly_pattern);
    tcase_add_test(tc, test_peak_over_lease);
    tcase_add_test(tc, test_follows_drift);
    tcase_add_test(tc, test_local_time_across_dst);
    tcase_add_test(tc, test_time_weighted);
    tcase_add_test(tc, test_gap_capped);
    tcase_add_test(tc, test_unknown);
    tcase_add_test(tc, test_sketch_bounded_error);
    tcase_add_test(tc, test_bad_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
