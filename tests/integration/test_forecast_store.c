/* test_forecast_store.c -- the serving-demand forecast learned from PostgreSQL: capacity
 * samples inserted as the sampler writes them (store_capacity_samples_insert), read back by
 * store_serving_samples() (serving pool, healthy, in the horizon, per cluster and SKU in
 * time order, in several batches) and fed to policy/forecast.h; the learned forecast
 * gives each cluster's pattern in its own local time; and the same through
 * api/forecast_json.h, learned incrementally between requests, as GET /v1/capacity
 * renders it. */
#include "tests/support/defaults.h"
#include "tests/support/itest.h"

#include "api/forecast_json.h"
#include "base/err.h"
#include "policy/forecast.h"
#include "policy/tz.h"
#include "store/forecast.h"
#include "store/store.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_MS  INT64_C(60000)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS  (24 * HOUR_MS)
#define WEEK_MS (7 * DAY_MS)
#define STEP_MS (5 * MIN_MS)

static const char *const LA = "PST8PDT,M3.2.0,M11.1.0";

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return (tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60) * 1000;
}

/* Sunday 2026-05-03 07:00Z: 00:00 PDT. Three weeks of samples from here. */
static int64_t start(void)
{
    return utc(2026, 5, 3, 7, 0);
}

static struct store *open_fresh(void)
{
    struct store_config sc = {0};
    struct store *s = NULL;
    struct err e = {0};
    char dsn[1024];

    itest_create_db(dsn, sizeof(dsn));
    defaults_store(&sc, dsn, 2);
    ck_assert_int_eq(store_open(&sc, &s, &e), 0);
    ck_assert_msg(store_migrate(s, NULL, &e) == 0, "%s", e.msg);
    return s;
}

/* The serving load of a cluster at t in its zone: weekdays 09:00-17:00 local 30 GPUs used
 * by serving; otherwise 15 used of which 5 borrowed by fedsched (demand 10); Wednesday
 * 12:00-12:15 local 4 more pending (demand 34). */
static void serving_at(const struct tz_rule *tz, int64_t t, int *used, int *borrowed, int *pending)
{
    struct tz_local l;
    bool day;

    tz_local_at(tz, t, &l);
    day = l.wday >= 1 && l.wday <= 5 && l.minute_of_day >= 9 * 60 && l.minute_of_day < 17 * 60;
    *used = day ? 30 : 15;
    *borrowed = day ? 0 : 5;
    *pending = l.wday == 3 && l.minute_of_day >= 12 * 60 && l.minute_of_day < 12 * 60 + 15 ? 4 : 0;
}

/* Inserts three weeks of samples every 5 minutes for east (UTC) and west (Los Angeles),
 * serving pool and training pool (whose figures must not be learned: 99 used), and
 * samples that must be left out: east unhealthy on Tuesdays 03:00-04:00 UTC (77 used),
 * and a day before the horizon (88 used). Returns how many serving, healthy rows are in
 * the horizon. */
static long seed(struct store *s)
{
    struct tz_rule tz[2];
    const char *names[2] = {"east", "west"};
    struct store_capacity_sample rows[512];
    struct err e = {0};
    long expected = 0;
    size_t n = 0;

    ck_assert_int_eq(tz_parse("UTC0", &tz[0], NULL), 0);
    ck_assert_int_eq(tz_parse(LA, &tz[1], NULL), 0);
    for (int64_t t = start() - DAY_MS; t < start() + 3 * WEEK_MS; t += STEP_MS) {
        for (int c = 0; c < 2; c++) {
            struct tz_local l;
            int used, borrowed, pending;
            bool sick;

            serving_at(&tz[c], t, &used, &borrowed, &pending);
            tz_local_at(&tz[c], t, &l);
            sick = c == 0 && l.wday == 2 && l.minute_of_day / 60 == 3;
            if (t < start())
                used = 88;
            if (sick)
                used = 77;
            rows[n++] = (struct store_capacity_sample){
                .ts_ms = t,
                .cluster = names[c],
                .sku = "a100-80gb",
                .pool = "serving",
                .total = 40,
                .used = used,
                .free = 40 - used,
                .borrowed = borrowed,
                .pending_demand = pending,
                .healthy = !sick,
            };
            rows[n++] = (struct store_capacity_sample){
                .ts_ms = t,
                .cluster = names[c],
                .sku = "a100-80gb",
                .pool = "training",
                .total = 100,
                .used = 99,
                .free = 1,
                .healthy = true,
            };
            expected += !sick && t >= start();
        }
        if (n + 4 > sizeof(rows) / sizeof(rows[0])) {
            ck_assert_msg(store_capacity_samples_insert(s, rows, n, &e) == 0, "%s", e.msg);
            n = 0;
        }
    }
    ck_assert_msg(store_capacity_samples_insert(s, rows, n, &e) == 0, "%s", e.msg);
    return expected;
}

/* The forecasts being learned: one per cluster and SKU, in the cluster's zone. */
struct learner {
    struct forecast *f[2];
    char key[2][64];
    int n;
    long rows;
    int64_t min_ts;
};

static int learn_row(const struct store_serving_sample *x, void *arg, struct err *e)
{
    struct learner *l = arg;
    char key[64];
    int i;

    snprintf(key, sizeof(key), "%s/%s", x->cluster, x->sku);
    for (i = 0; i < l->n && strcmp(l->key[i], key) != 0; i++)
        ;
    if (i == l->n) {
        struct forecast_params p;
        struct tz_rule tz;

        ck_assert_int_lt(l->n, 2);
        ck_assert_int_eq(tz_parse(strcmp(x->cluster, "west") == 0 ? LA : "UTC0", &tz, NULL), 0);
        forecast_params_default(&p);
        ck_assert_int_eq(forecast_new(&p, &tz, &l->f[i], NULL), 0);
        snprintf(l->key[i], sizeof(l->key[i]), "%s", key);
        l->n++;
    }
    l->rows++;
    if (l->rows == 1 || x->ts_ms < l->min_ts)
        l->min_ts = x->ts_ms;
    return forecast_observe(l->f[i], x->ts_ms,
                            forecast_demand(x->used, x->borrowed, x->pending_demand), e);
}

static struct forecast *find(struct learner *l, const char *key)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->key[i], key) == 0)
            return l->f[i];
    ck_abort_msg("no forecast for %s", key);
    return NULL;
}

static double p(struct forecast *f, int64_t t, double q)
{
    double v = forecast_quantile(f, t, q);

    ck_assert_msg(v >= 0, "unknown at %lld", (long long)t);
    return v;
}

START_TEST(learns_from_samples)
{
    struct store *s = open_fresh();
    struct learner l = {0};
    struct err e = {0};
    long expected = seed(s);
    int64_t next = start() + 3 * WEEK_MS; /* Sunday 2026-05-24 00:00 PDT */
    struct forecast *east, *west;
    struct forecast_estimate est;

    ck_assert_msg(store_serving_samples(s, start(), next, learn_row, &l, &e) == 0, "%s: %s",
                  e.field, e.msg);
    /* Every serving, healthy row in the horizon, in more than one batch. */
    ck_assert_int_eq(l.rows, expected);
    ck_assert_int_gt(l.rows, STORE_FORECAST_BATCH);
    ck_assert(l.min_ts == start());
    ck_assert_int_eq(l.n, 2);
    east = find(&l, "east/a100-80gb");
    west = find(&l, "west/a100-80gb");
    /* Monday 10:00 local: 30 in both; 03:00 local: 10 (used 15 less 5 borrowed). */
    ck_assert_double_eq(p(east, next + DAY_MS + 10 * HOUR_MS - 7 * HOUR_MS, 0.5), 30);
    ck_assert_double_eq(p(west, next + DAY_MS + 10 * HOUR_MS, 0.5), 30);
    ck_assert_double_eq(p(east, next + DAY_MS + 3 * HOUR_MS - 7 * HOUR_MS, 0.95), 10);
    ck_assert_double_eq(p(west, next + DAY_MS + 3 * HOUR_MS, 0.95), 10);
    /* West at 10:00 UTC is 03:00 PDT: night. */
    ck_assert_double_eq(p(west, utc(2026, 5, 25, 10, 0), 0.5), 10);
    /* Wednesday 12:00 local: the pending serving pods count. */
    ck_assert_double_eq(p(west, utc(2026, 5, 27, 19, 5), 0.5), 34);
    ck_assert_double_eq(p(east, utc(2026, 5, 27, 12, 5), 0.5), 34);
    /* The unhealthy hour (77) and the training pool (99) were not learned: in east on
     * Tuesdays 03:00-04:00 UTC only the 10 minutes the 02:55 sample holds are known, and
     * no slot saw more than 34. */
    ck_assert_double_eq(p(east, utc(2026, 5, 26, 3, 5), 0.95), 10);
    ck_assert_double_eq(forecast_quantile(east, utc(2026, 5, 26, 3, 30), 0.95), -1);
    forecast_peak(east, utc(2026, 5, 27, 0, 0), 2 * DAY_MS, &est);
    ck_assert(est.known);
    ck_assert_double_eq(est.p95, 34);
    forecast_peak(west, next, WEEK_MS, &est);
    ck_assert(est.known);
    ck_assert_double_eq(est.p95, 34);
    /* A lease from Monday 06:00 in west for 4 hours must leave serving its 09:00 rise. */
    forecast_peak(west, utc(2026, 5, 25, 13, 0), 4 * HOUR_MS, &est);
    ck_assert_double_eq(est.p95, 30);
    forecast_peak(west, utc(2026, 5, 25, 13, 0), 2 * HOUR_MS, &est);
    ck_assert_double_eq(est.p95, 10);
    forecast_free(&l.f[0]);
    forecast_free(&l.f[1]);
    store_close(&s);
}
END_TEST

/* The callback's failure stops the read with its error, and the connection goes back to
 * the pool in a state the next read can use; a window that ends before it starts is
 * refused naming "since". */
static int fail_after_three(const struct store_serving_sample *x, void *arg, struct err *e)
{
    long *n = arg;

    (void)x;
    if (++*n == 3)
        return err_set(e, ERR_INVALID, "demand", "stop here");
    return 0;
}

static int count_row(const struct store_serving_sample *x, void *arg, struct err *e)
{
    long *n = arg;

    (void)x;
    (void)e;
    ++*n;
    return 0;
}

START_TEST(callback_error_and_bad_window)
{
    struct store *s = open_fresh();
    struct err e = {0};
    long expected = seed(s), n = 0;

    for (int i = 0; i < 3; i++) {
        n = 0;
        ck_assert_int_eq(
            store_serving_samples(s, start(), start() + 3 * WEEK_MS, fail_after_three, &n, &e), -1);
        ck_assert_int_eq(n, 3);
        ck_assert_str_eq(e.field, "demand");
        ck_assert_str_eq(e.msg, "stop here");
    }
    n = 0;
    ck_assert_msg(store_serving_samples(s, start(), start() + 3 * WEEK_MS, count_row, &n, &e) == 0,
                  "%s", e.msg);
    ck_assert_int_eq(n, expected);
    /* The horizon bounds the read: one day has 2 x 288 rows. */
    n = 0;
    ck_assert_int_eq(
        store_serving_samples(s, start() + WEEK_MS, start() + WEEK_MS + DAY_MS, count_row, &n, &e),
        0);
    ck_assert_int_eq(n, 2 * 288);
    ck_assert_int_eq(store_serving_samples(s, start(), start(), count_row, &n, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_str_eq(e.field, "since");
    store_close(&s);
}
END_TEST

/* The forecasts as /v1/capacity renders them: a first request on Wednesday 00:00 PDT of
 * the first week does not know Wednesday yet; a request three weeks later (Tuesday 09:50
 * PDT) reads the new samples and knows it; clusters come in the order given, only those
 * given, each in its own zone; a zone that does not parse names timeZone. */
static json_t *step_at(json_t *fc, const char *at)
{
    json_t *next = json_object_get(fc, "next24h"), *x;
    size_t i;

    ck_assert_int_eq(json_array_size(next), API_FORECAST_STEPS);
    json_array_foreach(next, i, x)
    {
        if (strcmp(json_string_value(json_object_get(x, "at")), at) == 0)
            return x;
    }
    ck_abort_msg("no step at %s", at);
    return NULL;
}

static double num(json_t *x, const char *key)
{
    json_t *v = json_object_get(x, key);

    ck_assert_msg(json_is_number(v), "%s is not a number", key);
    return json_number_value(v);
}

START_TEST(capacity_json_learns_incrementally)
{
    struct store *s = open_fresh();
    struct api_forecasts *f = api_forecasts_new();
    struct api_forecast_cluster cl[2] = {{"west", LA}, {"east", ""}};
    struct err e = {0};
    int64_t now1 = start() + 3 * DAY_MS,
            now2 = start() + 3 * WEEK_MS + 2 * DAY_MS + 9 * HOUR_MS + 50 * MIN_MS;
    json_t *j, *west, *east;

    seed(s);
    j = api_forecasts_json(f, s, cl, 2, now1, &e);
    ck_assert_msg(j != NULL, "%s", e.msg);
    ck_assert_int_eq(json_array_size(j), 2);
    west = json_array_get(j, 0);
    ck_assert_str_eq(json_string_value(json_object_get(west, "cluster")), "west");
    ck_assert_str_eq(json_string_value(json_object_get(west, "sku")), "a100-80gb");
    ck_assert_str_eq(json_string_value(json_object_get(west, "pool")), "serving");
    /* Wednesday 10:00 PDT (17:00Z) is tomorrow's: not seen yet. */
    ck_assert(json_is_null(json_object_get(step_at(west, "2026-05-06T17:00:00.000Z"), "p50")));
    json_decref(j);
    /* Three weeks later, Tuesday 09:50 PDT (16:50Z). */
    j = api_forecasts_json(f, s, cl, 2, now2, &e);
    ck_assert_msg(j != NULL, "%s", e.msg);
    ck_assert_int_eq(json_array_size(j), 2);
    west = json_array_get(j, 0);
    east = json_array_get(j, 1);
    ck_assert_str_eq(json_string_value(json_object_get(east, "cluster")), "east");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(west, "now"), "slotStart")),
                     "2026-05-26T16:45:00.000Z");
    ck_assert_double_eq(num(json_object_get(west, "now"), "p50"), 30);
    ck_assert_double_eq(num(json_object_get(east, "now"), "p95"), 30);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(west, "next24h"), 0), "at")),
                     "2026-05-26T17:00:00.000Z");
    /* 17:00Z: 10:00 in west (day), 17:00 in east (night); 00:00Z: 17:00 in west. */
    ck_assert_double_eq(num(step_at(west, "2026-05-26T17:00:00.000Z"), "p50"), 30);
    ck_assert_double_eq(num(step_at(east, "2026-05-26T17:00:00.000Z"), "p50"), 10);
    ck_assert_double_eq(num(step_at(west, "2026-05-27T00:00:00.000Z"), "p50"), 10);
    ck_assert_double_eq(num(step_at(west, "2026-05-27T16:45:00.000Z"), "p95"), 30);
    /* Wednesday 01:00 PDT: learned by this request only. */
    ck_assert_double_eq(num(step_at(west, "2026-05-27T08:00:00.000Z"), "p50"), 10);
    json_decref(j);
    /* Only the clusters asked for. */
    j = api_forecasts_json(f, s, cl, 1, now2, &e);
    ck_assert_int_eq(json_array_size(j), 1);
    json_decref(j);
    api_forecasts_free(&f);
    ck_assert_ptr_null(f);
    /* A zone that does not parse. */
    f = api_forecasts_new();
    cl[0].tz = "PST8PDT,M13.2.0,M11.1.0";
    ck_assert_ptr_null(api_forecasts_json(f, s, cl, 2, now2, &e));
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_str_eq(e.field, "timeZone");
    api_forecasts_free(&f);
    store_close(&s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("forecast_store");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, learns_from_samples);
    tcase_add_test(tc, callback_error_and_bad_window);
    tcase_add_test(tc, capacity_json_learns_incrementally);
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
