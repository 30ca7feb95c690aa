/* bench_report.c -- the capacity report over a large federation: 100 clusters of two SKUs
 * and both pools sampled every 60 s (poller.sampleIntervalS' default, 576,000 samples a
 * day) for eight days, 4.6 million samples. The baseline, in the same run, is each report
 * read from the samples alone, as before migration 0030; then the leader's sums
 * (store_capacity_rollup(): quarter hours, then hours and days from them; timed per hour
 * of samples) and the same reports again, which must give the same figures to the
 * GPU-millisecond. The reports: the last 7 days by the day; the last day by the hour; the
 * last day by 15 minutes (the dashboard's cluster page); the last day by the hour from 5
 * minutes past (a cron line's now-24h); the last day by 15 minutes of the serving pools only
 * (the cluster page asks for pool=serving), which must be the serving rows of the whole
 * report. Target: the 7-day report under 1 s with the sums (the API's statement timeout is
 * 5 s); a full run that misses it, or any difference, exits 1. The rows go under cluster names of their own (bench-report-NNN), in June 2025,
 * and are deleted at the end with their sums. BENCH_MODE=smoke: 5 clusters, 2 days. */
#include "base/err.h"
#include "store/reports.h"
#include "store/store.h"
#include "tests/support/defaults.h"

#include <libpq-fe.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOUR_MS   3600000LL
#define DAY_MS    (24 * HOUR_MS)
#define T0        1748736000000LL /* 2025-06-01T00:00:00Z */
#define TARGET_MS 1000.0

static double ms_since(const struct timespec *a)
{
    struct timespec b;

    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

/* Runs one statement; exits on failure. */
static void run_sql(const char *dsn, const char *sql)
{
    PGconn *pg = PQconnectdb(dsn);
    PGresult *r = PQexec(pg, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "bench_report: %s: %s", sql, PQerrorMessage(pg));
        exit(2);
    }
    PQclear(r);
    PQfinish(pg);
}

/* The report and its wall time; exits on failure. */
static struct store_report *timed(struct store *st, int64_t from, int64_t to, int64_t step,
                                  const char *pool, double *ms)
{
    struct store_report_opts o = {.from_ms = from, .to_ms = to, .step_ms = step};
    struct store_report *r = NULL;
    struct err e = {0};
    struct timespec t0;

    snprintf(o.pools, sizeof(o.pools), "%s", pool ? pool : "");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (store_report_capacity(st, &o, &r, &e)) {
        fprintf(stderr, "bench_report: %s\n", e.msg);
        exit(2);
    }
    *ms = ms_since(&t0);
    return r;
}

/* 0 when a's rows of pool (NULL: all) and b's rows are the same, GPU-hours exactly. */
static int differ(const struct store_report *a, const char *pool, const struct store_report *b)
{
    size_t n = 0;

    for (size_t i = 0; i < a->n_rows; i++) {
        const struct store_report_row *x = &a->rows[i], *y = &b->rows[n];

        if (pool && strcmp(x->pool, pool) != 0)
            continue;
        if (++n > b->n_rows)
            return 1;

        if (x->start_ms != y->start_ms || strcmp(x->cluster, y->cluster) ||
            strcmp(x->pool, y->pool) || strcmp(x->sku, y->sku) ||
            x->gpu_hours_total != y->gpu_hours_total || x->gpu_hours_used != y->gpu_hours_used ||
            x->gpu_hours_training != y->gpu_hours_training ||
            x->gpu_hours_serving != y->gpu_hours_serving ||
            x->gpu_hours_borrowed != y->gpu_hours_borrowed ||
            x->gpu_hours_idle != y->gpu_hours_idle ||
            x->gpu_hours_unavailable != y->gpu_hours_unavailable)
            return 1;
    }
    return n != b->n_rows;
}

int main(void)
{
    const char *dsn = getenv("FEDSCHED_TEST_DSN"), *mode = getenv("BENCH_MODE");
    int smoke = mode && strcmp(mode, "smoke") == 0;
    int clusters = smoke ? 5 : 100, days = smoke ? 2 : 8, bad = 0;
    int64_t end = T0 + days * DAY_MS;
    struct store_config sc = {0};
    struct store *st = NULL;
    const struct shape {
        const char *what;
        int64_t from, step;
        const char *pool;
    } shapes[] = {
        {smoke ? "last day by the day" : "last 7 days by the day", end - (smoke ? 1 : 7) * DAY_MS,
         DAY_MS, NULL},
        {"last day by the hour", end - DAY_MS, HOUR_MS, NULL},
        {"last day by 15 minutes", end - DAY_MS, 15 * 60000, NULL},
        {"last day by the hour, 5 min off", end - DAY_MS + 5 * 60000, HOUR_MS, NULL},
        {"last day by 15 min, pool=serving", end - DAY_MS, 15 * 60000, "serving"},
    };
    enum { N_SHAPES = sizeof(shapes) / sizeof(shapes[0]) };
    struct store_report *raw[N_SHAPES], *sum[N_SHAPES];
    double ms_raw[N_SHAPES], ms_sum[N_SHAPES], ms_roll;
    struct err e = {0};
    struct timespec t0;
    long rolled = 0, left = 1, samples = (long)clusters * 4 * days * 1440;
    char sql[1024];

    if (!dsn || !*dsn) {
        fprintf(stderr, "bench_report: FEDSCHED_TEST_DSN is not set: run through make bench\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    defaults_store(&sc, dsn, 2);
    sc.statement_timeout_ms = 600000;
    if (store_open(&sc, &st, &e))
        return 2;
    snprintf(sql, sizeof(sql),
             "INSERT INTO capacity_samples (ts, cluster, sku, pool, total, used, free, borrowed)"
             " SELECT to_timestamp(t / 1000.0), 'bench-report-' || lpad(c::text, 3, '0'), k, p,"
             "  64, (c * 7 + t / 60000) %% 65, 64 - (c * 7 + t / 60000) %% 65,"
             "  CASE WHEN p = 'serving' THEN (t / 60000) %% 5 ELSE 0 END"
             " FROM generate_series(%lld, %lld, 60000) AS t, generate_series(1, %d) AS c,"
             "  unnest(ARRAY['a100-80gb', 'h100-80gb']) AS k,"
             "  unnest(ARRAY['training', 'serving']) AS p",
             (long long)T0, (long long)(end - 60000), clusters);
    run_sql(dsn, sql);
    run_sql(dsn, "ANALYZE capacity_samples");

    for (int i = 0; i < N_SHAPES; i++)
        raw[i] = timed(st, shapes[i].from, end, shapes[i].step, shapes[i].pool, &ms_raw[i]);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (left > 0) {
        long n = 0;

        if (store_capacity_rollup(st, end + HOUR_MS, 600000, &n, &left, &e)) {
            fprintf(stderr, "bench_report: %s\n", e.msg);
            return 2;
        }
        rolled += n;
    }
    ms_roll = ms_since(&t0);
    for (int i = 0; i < N_SHAPES; i++) {
        sum[i] = timed(st, shapes[i].from, end, shapes[i].step, shapes[i].pool, &ms_sum[i]);
        if (differ(raw[i], NULL, sum[i])) {
            printf("%s: the report with the sums differs from the samples' report\n",
                   shapes[i].what);
            bad = 1;
        }
    }
    /* The filtered report is the serving rows of the whole one. */
    if (differ(sum[2], "serving", sum[N_SHAPES - 1])) {
        printf("%s: not the serving rows of \"%s\"\n", shapes[N_SHAPES - 1].what, shapes[2].what);
        bad = 1;
    }

    printf("%d clusters x 2 SKUs x 2 pools, %d days of samples a minute: %ld samples\n", clusters,
           days, samples);
    printf("summing: %ld quarter hours, %.0f ms, %.0f ms an hour of samples\n", rolled, ms_roll,
           rolled ? 4 * ms_roll / (double)rolled : 0.0);
    printf("%-34s %10s %10s %8s\n", "report", "samples", "sums", "ratio");
    for (int i = 0; i < N_SHAPES; i++)
        printf("%-34s %7.0f ms %7.0f ms %7.1fx%s\n", shapes[i].what, ms_raw[i], ms_sum[i],
               ms_raw[i] / (ms_sum[i] > 0 ? ms_sum[i] : 1),
               i                                 ? ""
               : ms_sum[i] > TARGET_MS && !smoke ? "  (target < 1000 ms) OVER TARGET"
                                                 : "  (target < 1000 ms)");

    run_sql(dsn, "DELETE FROM capacity_samples WHERE cluster LIKE 'bench-report-%'");
    run_sql(dsn, "DELETE FROM capacity_rollup WHERE cluster LIKE 'bench-report-%'");
    snprintf(sql, sizeof(sql),
             "DELETE FROM capacity_rollup_marks WHERE start >= to_timestamp(%lld / 1000.0) -"
             " interval '1 day' AND start < to_timestamp(%lld / 1000.0)",
             (long long)T0, (long long)(end + HOUR_MS));
    run_sql(dsn, sql);
    for (int i = 0; i < N_SHAPES; i++) {
        store_report_free(&raw[i]);
        store_report_free(&sum[i]);
    }
    store_close(&st);
    return bad || (ms_sum[0] > TARGET_MS && !smoke) ? 1 : 0;
}
