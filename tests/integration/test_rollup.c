/* test_rollup.c -- capacity samples summed by the quarter hour, the hour and the day
 * (store_capacity_rollup(), migration 0030) against a real PostgreSQL: a report reads the
 * sums instead of the samples once they exist, and gives the same figures to the last
 * GPU-millisecond for every window and step, aligned or not, finer or coarser than a sum;
 * quarters are summed newest first, once, only after they settle, and hours and days from
 * them; retention takes the sums with the samples. The samples are irregular on purpose: intervals from 20 s to 9 min,
 * silences past the 10-minute cap, a sample on an hour boundary, clusters that start
 * late. */
#include "tests/support/defaults.h"
#include "tests/support/itest.h"

#include "base/err.h"
#include "base/mem.h"
#include "store/reports.h"
#include "store/retention.h"
#include "store/store.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_MS  INT64_C(60000)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS  (24 * HOUR_MS)
#define HOURS   30

/* 2026-03-01T00:00:00Z */
#define T0 INT64_C(1772323200000)

static char dsn[1024];

static struct store *open_fresh(void)
{
    struct store_config sc = {0};
    struct store *s = NULL;
    struct err e = {0};

    itest_create_db(dsn, sizeof(dsn));
    defaults_store(&sc, dsn, 2);
    sc.statement_timeout_ms = 60000;
    ck_assert_int_eq(store_open(&sc, &s, &e), 0);
    ck_assert_msg(store_migrate(s, NULL, &e) == 0, "%s", e.msg);
    return s;
}

static uint64_t rng = 88172645463325252ULL;

static int draw(int n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (int)(rng % (uint64_t)n);
}

/* HOURS hours of samples from T0 for three clusters, two SKUs, both pools. */
static void seed(struct store *s)
{
    static const char *const clusters[] = {"eu", "us", "ap"};
    static const char *const skus[] = {"a100", "h100"};
    static const char *const pools[] = {"training", "serving"};
    struct store_capacity_sample *rows = xcalloc(200000, sizeof(*rows));
    size_t n = 0;
    struct err e = {0};

    for (int c = 0; c < 3; c++)
        for (int k = 0; k < 2; k++)
            for (int p = 0; p < 2; p++) {
                /* "ap" starts 5 h 17 min late; the rest at T0 or a little before. */
                int64_t t = c == 2 ? T0 + 5 * HOUR_MS + 17 * MIN_MS : T0 - (1 + draw(300)) * 1000;

                while (t < T0 + HOURS * HOUR_MS) {
                    struct store_capacity_sample *r = &rows[n++];
                    int total = 8 + 8 * draw(4);

                    r->ts_ms = t;
                    r->cluster = clusters[c];
                    r->sku = skus[k];
                    r->pool = pools[p];
                    r->total = total;
                    r->used = draw(total + 3); /* now and then above total */
                    r->free = draw(total + 1);
                    r->borrowed = p == 1 ? draw(r->used + 1) : 0;
                    r->healthy = true;
                    if (draw(40) == 0)
                        t += (11 + draw(50)) * MIN_MS; /* a silence past the cap */
                    else if (draw(10) == 0)
                        t = (t / HOUR_MS + 1) * HOUR_MS; /* next on the hour */
                    else
                        t += (20 + draw(520)) * 1000;
                }
            }
    for (size_t i = 0; i < n; i += 5000)
        ck_assert_msg(store_capacity_samples_insert(s, rows + i, n - i < 5000 ? n - i : 5000, &e) ==
                          0,
                      "%s", e.msg);
    free(rows);
}

static struct store_report *report(struct store *s, int64_t from, int64_t to, int64_t step)
{
    struct store_report_opts o = {.from_ms = from, .to_ms = to, .step_ms = step};
    struct store_report *r = NULL;
    struct err e = {0};

    ck_assert_msg(store_report_capacity(s, &o, &r, &e) == 0, "%s", e.msg);
    return r;
}

struct window {
    int64_t from, to, step;
};

/* The report of one window with filters (lists joined by commas, NULL for all). */
static struct store_report *report_of(struct store *s, const struct window *w, const char *clusters,
                                      const char *skus, const char *pools)
{
    struct store_report_opts o = {.from_ms = w->from, .to_ms = w->to, .step_ms = w->step};
    struct store_report *r = NULL;
    struct err e = {0};

    snprintf(o.clusters, sizeof(o.clusters), "%s", clusters ? clusters : "");
    snprintf(o.skus, sizeof(o.skus), "%s", skus ? skus : "");
    snprintf(o.pools, sizeof(o.pools), "%s", pools ? pools : "");
    ck_assert_msg(store_report_capacity(s, &o, &r, &e) == 0, "%s", e.msg);
    return r;
}

static double total_used(const struct store_report *r)
{
    double sum = 0;

    for (size_t i = 0; i < r->n_rows; i++)
        sum += r->rows[i].gpu_hours_used;
    return sum;
}

/* The rows of all whose cluster is in clusters (joined by commas) and pool is pool (NULL:
 * any), as a report of their own. */
static struct store_report *rows_where(const struct store_report *all, const char *clusters,
                                       const char *pool)
{
    struct store_report *r = xcalloc(1, sizeof(*r));

    r->opts = all->opts;
    r->rows = xcalloc(all->n_rows + 1, sizeof(*r->rows));
    for (size_t i = 0; i < all->n_rows; i++)
        if (strstr(clusters, all->rows[i].cluster) && (!pool || !strcmp(pool, all->rows[i].pool)))
            r->rows[r->n_rows++] = all->rows[i];
    return r;
}

/* Same rows, same GPU-hours, exactly: both ways sum the same integers. */
static void assert_same(const struct store_report *a, const struct store_report *b,
                        const char *what)
{
    ck_assert_msg(a->n_rows == b->n_rows, "%s: %zu rows against %zu", what, a->n_rows, b->n_rows);
    for (size_t i = 0; i < a->n_rows; i++) {
        const struct store_report_row *x = &a->rows[i], *y = &b->rows[i];

        ck_assert_msg(x->start_ms == y->start_ms && strcmp(x->cluster, y->cluster) == 0 &&
                          strcmp(x->sku, y->sku) == 0 && strcmp(x->pool, y->pool) == 0,
                      "%s: row %zu differs in its key", what, i);
        ck_assert_msg(x->gpu_hours_total == y->gpu_hours_total &&
                          x->gpu_hours_used == y->gpu_hours_used &&
                          x->gpu_hours_training == y->gpu_hours_training &&
                          x->gpu_hours_serving == y->gpu_hours_serving &&
                          x->gpu_hours_borrowed == y->gpu_hours_borrowed &&
                          x->gpu_hours_idle == y->gpu_hours_idle &&
                          x->gpu_hours_unavailable == y->gpu_hours_unavailable,
                      "%s: row %zu (%s/%s/%s at %" PRId64 "): total %.9f against %.9f, used "
                      "%.9f against %.9f, unavailable %.9f against %.9f",
                      what, i, x->cluster, x->sku, x->pool, x->start_ms, x->gpu_hours_total,
                      y->gpu_hours_total, x->gpu_hours_used, y->gpu_hours_used,
                      x->gpu_hours_unavailable, y->gpu_hours_unavailable);
    }
}

static const struct window windows[] = {
    {T0, T0 + HOURS *HOUR_MS, HOUR_MS},                          /* aligned, hourly */
    {T0, T0 + DAY_MS, DAY_MS},                                   /* aligned, one day */
    {T0 + 312, T0 + HOURS *HOUR_MS - 7, HOUR_MS},                /* off by milliseconds */
    {T0 + 5 * MIN_MS, T0 + 29 * HOUR_MS, 3 * HOUR_MS},           /* off by 5 minutes */
    {T0 - 2 * HOUR_MS, T0 + 40 * HOUR_MS, 7 * HOUR_MS},          /* past both ends */
    {T0 + HOUR_MS / 2, T0 + 20 * HOUR_MS, 90 * MIN_MS},          /* steps straddle hours */
    {T0 + 2 * HOUR_MS, T0 + 9 * HOUR_MS, 15 * MIN_MS},           /* finer than an hour */
    {T0 + 3 * HOUR_MS, T0 + 3 * HOUR_MS + 40 * MIN_MS, HOUR_MS}, /* inside one hour */
    {T0 + 4 * HOUR_MS, T0 + 26 * HOUR_MS + 1, 2 * HOUR_MS},      /* last step 1 ms */
    {T0 + 7 * MIN_MS, T0 + 2 * DAY_MS, DAY_MS},                  /* days, 7 minutes off */
    {T0 - 20 * MIN_MS, T0 + 33 * HOUR_MS, 45 * MIN_MS},          /* quarters, no hours */
    {T0, T0 + 2 * DAY_MS, 2 * DAY_MS},                           /* a day, then hours */
};
#define N_WINDOWS (sizeof(windows) / sizeof(windows[0]))

START_TEST(sums_give_the_samples_figures)
{
    struct store *s = open_fresh();
    struct store_report *before[N_WINDOWS], *after, *late;
    struct err e = {0};
    long rolled = -1, left = -1;
    char *n;

    seed(s);
    for (size_t w = 0; w < N_WINDOWS; w++) {
        before[w] = report(s, windows[w].from, windows[w].to, windows[w].step);
        ck_assert_uint_gt(before[w]->n_rows, 0);
    }
    {
        /* A report past the statement timeout says what reads faster. */
        struct store_config sc = {0};
        struct store *slow = NULL;
        struct store_report_opts o = {
            .from_ms = windows[2].from, .to_ms = windows[2].to, .step_ms = windows[2].step};
        struct store_report *r = NULL;

        defaults_store(&sc, dsn, 1);
        sc.statement_timeout_ms = 1;
        ck_assert_int_eq(store_open(&sc, &slow, &e), 0);
        ck_assert_int_eq(store_report_capacity(slow, &o, &r, &e), -1);
        ck_assert_int_eq(e.code, ERR_TIMEOUT);
        ck_assert_msg(strstr(e.msg, "(1 ms, database.statementTimeoutMs)") &&
                          strstr(e.msg, "from=now-24h/h&to=now/h") && strstr(e.msg, "filter"),
                      "%s", e.msg);
        ck_assert_ptr_null(r);
        store_close(&slow);
        e = (struct err){0};
    }

    /* Now is 33 h 40 min after T0: every quarter hour that ended 30 minutes ago is summed,
     * from the oldest sample's (the last before T0) to the one ending at 33 h: 133. Then
     * the hours whose quarters are all summed (from T0 to 32 h: 33) and the days whose hours
     * are (the first). */
    ck_assert_msg(
        store_capacity_rollup(s, T0 + 33 * HOUR_MS + 40 * MIN_MS, 60000, &rolled, &left, &e) == 0,
        "%s", e.msg);
    ck_assert_int_eq(rolled, 133);
    ck_assert_int_eq(left, 0);
    n = itest_sql(dsn, "SELECT string_agg(width_s || ':' || c, ',' ORDER BY width_s) FROM"
                       " (SELECT width_s, count(*) AS c FROM capacity_rollup_marks GROUP BY 1) x");
    ck_assert_str_eq(n, "900:133,3600:33,86400:1");
    free(n);
    /* The samples end before 30 h and last at most 10 minutes past: no rows after that. */
    n = itest_sql(dsn, "SELECT max(start) FROM capacity_rollup WHERE width_s = 900");
    ck_assert_str_eq(n, "2026-03-02 06:00:00+00");
    free(n);

    for (size_t w = 0; w < N_WINDOWS; w++) {
        struct store_report *want;
        char what[64];

        snprintf(what, sizeof(what), "window %zu", w);
        after = report(s, windows[w].from, windows[w].to, windows[w].step);
        assert_same(before[w], after, what);
        store_report_free(&after);
        /* A filter reads the same sums and samples, only of its rows. */
        snprintf(what, sizeof(what), "window %zu, eu and ap serving", w);
        after = report_of(s, &windows[w], "eu,ap", NULL, "serving");
        want = rows_where(before[w], "eu,ap", "serving");
        ck_assert_uint_gt(want->n_rows, 0);
        assert_same(want, after, what);
        store_report_free(&after);
        store_report_free(&want);
    }

    /* The aligned reports read the sums: without the samples of hours 2 to 27 they say
     * the same; a report off the quarter hours reads samples at every step's ends, and
     * misses them. */
    free(itest_sql(dsn, "DELETE FROM capacity_samples WHERE ts >= '2026-03-01T02:00:00Z'"
                        " AND ts < '2026-03-02T04:00:00Z'"));
    after = report(s, windows[0].from, windows[0].to, windows[0].step);
    assert_same(before[0], after, "hourly, samples gone");
    store_report_free(&after);
    after = report(s, windows[1].from, windows[1].to, windows[1].step);
    assert_same(before[1], after, "daily, samples gone");
    store_report_free(&after);
    after = report(s, windows[6].from, windows[6].to, windows[6].step);
    assert_same(before[6], after, "by quarter hours, samples gone");
    store_report_free(&after);
    after = report(s, windows[2].from, windows[2].to, windows[2].step);
    ck_assert_double_lt(total_used(after), total_used(before[2]) * 0.95);
    store_report_free(&after);

    /* Nothing is summed twice. */
    ck_assert_int_eq(
        store_capacity_rollup(s, T0 + 33 * HOUR_MS + 40 * MIN_MS, 60000, &rolled, &left, &e), 0);
    ck_assert_int_eq(rolled, 0);
    ck_assert_int_eq(left, 0);

    /* Samples written late into a summed hour, and a sample changed, count once the
     * hour's mark is deleted (docs/operations.md): the hour is summed again, and its rows
     * replaced. */
    late = report(s, T0 + 29 * HOUR_MS, T0 + 30 * HOUR_MS, HOUR_MS);
    free(itest_sql(dsn, "INSERT INTO capacity_samples (ts, cluster, sku, pool, total, used, free)"
                        " VALUES ('2026-03-02T05:30:00Z', 'late', 'a100', 'training', 8, 8, 0);"
                        "UPDATE capacity_samples SET total = total + 1000 WHERE cluster = 'eu'"
                        " AND sku = 'a100' AND pool = 'training' AND ts >= '2026-03-02T05:00:00Z'"
                        " AND ts < '2026-03-02T06:00:00Z'"));
    after = report(s, T0 + 29 * HOUR_MS, T0 + 30 * HOUR_MS, HOUR_MS);
    assert_same(late, after, "written late, before the hour is summed again");
    store_report_free(&after);
    free(itest_sql(dsn, "DELETE FROM capacity_rollup_marks WHERE start >= '2026-03-02T05:00:00Z'"
                        " AND start < '2026-03-02T06:00:00Z'"));
    ck_assert_msg(
        store_capacity_rollup(s, T0 + 33 * HOUR_MS + 40 * MIN_MS, 60000, &rolled, &left, &e) == 0,
        "%s", e.msg);
    ck_assert_int_eq(rolled, 4);
    n = itest_sql(dsn, "SELECT count(*) FROM capacity_rollup_marks WHERE width_s = 3600 AND"
                       " start = '2026-03-02T05:00:00Z'");
    ck_assert_str_eq(n, "1");
    free(n);
    after = report(s, T0 + 29 * HOUR_MS, T0 + 30 * HOUR_MS, HOUR_MS);
    ck_assert_uint_eq(after->n_rows, late->n_rows + 1);
    for (size_t i = 0, j = 0; i < after->n_rows; i++) {
        const struct store_report_row *x = &after->rows[i];

        if (strcmp(x->cluster, "late") == 0) {
            ck_assert_double_eq_tol(x->gpu_hours_used, 8 * 10 / 60.0, 1e-9); /* 10 minutes */
            continue;
        }
        if (strcmp(x->cluster, "eu") == 0 && strcmp(x->sku, "a100") == 0 &&
            strcmp(x->pool, "training") == 0)
            ck_assert_double_gt(x->gpu_hours_total, late->rows[j].gpu_hours_total + 100);
        else
            ck_assert_double_eq(x->gpu_hours_total, late->rows[j].gpu_hours_total);
        j++;
    }
    store_report_free(&after);
    store_report_free(&late);
    for (size_t w = 0; w < N_WINDOWS; w++)
        store_report_free(&before[w]);
    store_close(&s);
}
END_TEST

/* Newest first, the quarters of one hour a statement, one statement a call when the budget
 * is spent; a quarter that ended less than STORE_ROLLUP_SETTLE_MS ago waits; an hour is
 * summed once its four quarters are; the reports are the same while some spans are summed
 * and some are not. */
START_TEST(newest_first_and_only_once_settled)
{
    struct store *s = open_fresh();
    struct store_report *before, *after;
    struct err e = {0};
    long rolled = -1, left = -1;
    char *n;

    seed(s);
    before = report(s, T0, T0 + HOURS * HOUR_MS, HOUR_MS);
    /* At 10:20 the quarters up to the one ending at 09:45 have settled. */
    ck_assert_int_eq(
        store_capacity_rollup(s, T0 + 10 * HOUR_MS + 20 * MIN_MS, 0, &rolled, &left, &e), 0);
    ck_assert_int_eq(rolled, 3);
    ck_assert_int_eq(left, 37); /* from 23:45 the day before */
    n = itest_sql(dsn, "SELECT string_agg(width_s || '@' || to_char(start AT TIME ZONE 'UTC',"
                       " 'HH24:MI'), ',' ORDER BY width_s, start) FROM capacity_rollup_marks");
    ck_assert_str_eq(n, "900@09:00,900@09:15,900@09:30");
    free(n);
    after = report(s, T0, T0 + HOURS * HOUR_MS, HOUR_MS);
    assert_same(before, after, "three quarters summed");
    store_report_free(&after);
    ck_assert_int_eq(
        store_capacity_rollup(s, T0 + 10 * HOUR_MS + 40 * MIN_MS, 0, &rolled, &left, &e), 0);
    ck_assert_int_eq(rolled, 1);
    n = itest_sql(dsn, "SELECT string_agg(width_s || '@' || to_char(start AT TIME ZONE 'UTC',"
                       " 'HH24:MI'), ',' ORDER BY width_s, start) FROM capacity_rollup_marks");
    ck_assert_str_eq(n, "900@09:00,900@09:15,900@09:30,900@09:45,3600@09:00");
    free(n);
    after = report(s, T0, T0 + HOURS * HOUR_MS, HOUR_MS);
    assert_same(before, after, "an hour summed");
    store_report_free(&after);
    store_report_free(&before);
    store_close(&s);
}
END_TEST

/* Retention takes the sums and their marks with the samples, by the span's start. */
START_TEST(retention_takes_the_sums)
{
    struct store *s = open_fresh();
    struct err e = {0};
    long rolled = 0, left = 0, deleted = 0;
    char *n;

    seed(s);
    ck_assert_int_eq(store_capacity_rollup(s, T0 + 40 * HOUR_MS, 60000, &rolled, &left, &e), 0);
    ck_assert_int_eq(
        store_purge(s, STORE_RETAINED_ROLLUP, T0 + 10 * HOUR_MS, 5, 1000000, &deleted, &e), 0);
    n = itest_sql(dsn, "SELECT count(*) FROM capacity_rollup WHERE start < '2026-03-01T10:00:00Z'");
    ck_assert_str_eq(n, "0");
    free(n);
    n = itest_sql(dsn, "SELECT count(*) FROM capacity_rollup_marks WHERE start < "
                       "'2026-03-01T10:00:00Z'");
    ck_assert_str_eq(n, "0");
    free(n);
    n = itest_sql(dsn, "SELECT count(*) > 0 FROM capacity_rollup WHERE start = "
                       "'2026-03-01T10:00:00Z' AND width_s = 3600");
    ck_assert_str_eq(n, "t");
    free(n);
    ck_assert_int_gt(deleted, 40 * 8); /* 41 quarters and 10 hours of 8 to 12 rows */
    ck_assert_str_eq(store_retained_name(STORE_RETAINED_ROLLUP), "capacity_rollup");
    store_close(&s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("rollup");
    TCase *tc = tcase_create("rollup");

    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, sums_give_the_samples_figures);
    tcase_add_test(tc, newest_first_and_only_once_settled);
    tcase_add_test(tc, retention_takes_the_sums);
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
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
