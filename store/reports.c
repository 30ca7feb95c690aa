/* reports.c -- capacity report queries: GPU-hours from capacity_samples, job outcomes and
 * queue waits from job_events, preemptions and their losses from the ledger (reclaims),
 * per step/cluster/SKU/pool. */
#include "store/reports.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/buf.h"
#include "store/conn.h"
#include "store/rollup_plan.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* More rows than this is a report nobody reads; a larger step is the answer. */
#define REPORT_MAX_ROWS 200000

/* The filters (struct store_report_opts): parameter $n is NULL for every name, else a list
 * joined by commas. Outside clang-format, which would break these lines mid-string. */
/* clang-format off */
#define SQL_IN(col, n) " AND ($" #n "::text IS NULL OR " col " = ANY(string_to_array($" #n ", ',')))"
#define SQL_KEEP_C     SQL_IN("c.cluster", 9) SQL_IN("c.sku", 10) SQL_IN("c.pool", 11)
#define SQL_KEEP_EV    SQL_IN("ev.cluster", 4) SQL_IN("ev.sku", 5) SQL_IN("ev.pool", 6)
#define SQL_KEEP_R     SQL_IN("r.cluster", 4) SQL_IN("r.sku", 5) SQL_IN("COALESCE(r.pool, '-')", 6)
/* clang-format on */

/* Parameters: $1 from, $2 to, $3 step, $4 max gap (all milliseconds); $5 and $6 the
 * ranges read from samples (their starts and ends), $7 and $8 the sums read (their widths
 * in seconds and starts), as rollup_plan_build() chose them; $9, $10 and $11 the filters
 * on cluster, SKU and pool (SQL_KEEP_C). Sums are GPU-milliseconds.
 *
 * A range is read from its samples: each sample's interval [a, b) (until the next sample
 * of its cluster/SKU/pool, at most the max gap) is cut to the range and at step boundaries
 * with generate_series, so a sample that spans two steps counts in both, each for its
 * share. The samples read are those in the range and in the max gap before it (a sample
 * from then lasts into it); two ranges are at least a quarter hour apart, more than the
 * gap, so none is read twice. A sample whose next one was not read (it lies past the
 * range) is cut at the range's end, where the next one would have cut it or later. So a
 * range gives the same sums as the samples of the whole window would there, and a sum,
 * made by this query over its span alone, gives them too. A sum lies inside one step. */
#define SQL_CAPACITY                                                                               \
    "WITH p AS (SELECT $1::bigint AS f, $2::bigint AS t, $3::bigint AS st, $4::bigint AS gap),"    \
    " rr AS (SELECT lo, hi FROM unnest($5::bigint[], $6::bigint[]) AS r(lo, hi)),"                 \
    " s AS (SELECT c.cluster, c.sku, c.pool, c.total::bigint AS total, c.used::bigint AS used,"    \
    "   c.free::bigint AS free, c.borrowed::bigint AS borrowed, rr.lo, rr.hi,"                     \
    "   (extract(epoch FROM c.ts) * 1000)::bigint AS a,"                                           \
    "   (extract(epoch FROM lead(c.ts) OVER (PARTITION BY c.cluster, c.sku, c.pool ORDER BY"       \
    " c.ts))"                                                                                      \
    "    * 1000)::bigint AS nxt"                                                                   \
    "  FROM rr CROSS JOIN p JOIN capacity_samples c"                                               \
    "   ON c.ts >= to_timestamp((rr.lo - p.gap) / 1000.0) AND c.ts < to_timestamp(rr.hi / "        \
    "1000.0)" SQL_KEEP_C "),"                                                                      \
    " iv AS (SELECT cluster, sku, pool, total, used, free, borrowed, GREATEST(s.a, s.lo) AS a,"    \
    "   LEAST(COALESCE(s.nxt, s.a + p.gap), s.a + p.gap, s.hi) AS b FROM s, p),"                   \
    " parts AS (SELECT k, cluster, sku, pool, total, used, free, borrowed,"                        \
    "   LEAST(iv.b, p.f + (k + 1) * p.st) - GREATEST(iv.a, p.f + k * p.st) AS ov"                  \
    "  FROM iv, p, generate_series((iv.a - p.f) / p.st, (iv.b - 1 - p.f) / p.st) AS k"             \
    "  WHERE iv.b > iv.a),"                                                                        \
    " u AS (SELECT k, cluster, sku, pool, total * ov AS tot, used * ov AS usd,"                    \
    "   CASE WHEN pool = 'serving' THEN borrowed ELSE used END * ov AS trn,"                       \
    "   CASE WHEN pool = 'serving' THEN GREATEST(used - borrowed, 0) ELSE 0 END * ov AS srv,"      \
    "   CASE WHEN pool = 'serving' THEN borrowed ELSE 0 END * ov AS brw,"                          \
    "   GREATEST(total - used, 0) * ov AS idl, GREATEST(total - used - free, 0) * ov AS una"       \
    "  FROM parts"                                                                                 \
    "  UNION ALL SELECT (x.ms - p.f) / p.st, c.cluster, c.sku, c.pool, c.total_ms, c.used_ms,"     \
    "   c.training_ms, c.serving_ms, c.borrowed_ms, c.idle_ms, c.unavailable_ms"                   \
    "  FROM unnest($7::int[], $8::bigint[]) AS x(w, ms) CROSS JOIN p JOIN capacity_rollup c"       \
    "   ON c.width_s = x.w AND c.start = to_timestamp(x.ms / 1000.0)" SQL_KEEP_C ")"               \
    " SELECT k, cluster, sku, pool, sum(tot), sum(usd), sum(trn), sum(srv), sum(brw), sum(idl),"   \
    "  sum(una)"                                                                                   \
    " FROM u GROUP BY 1, 2, 3, 4"                                                                  \
    " ORDER BY k, cluster COLLATE \"C\", sku COLLATE \"C\", pool COLLATE \"C\""

static const char sql_capacity[] = SQL_CAPACITY;

#define SQL_ROLLUP_SET                                                                             \
    " ON CONFLICT (width_s, start, cluster, sku, pool) DO UPDATE SET"                              \
    "  total_ms = EXCLUDED.total_ms, used_ms = EXCLUDED.used_ms,"                                  \
    "  training_ms = EXCLUDED.training_ms, serving_ms = EXCLUDED.serving_ms,"                      \
    "  borrowed_ms = EXCLUDED.borrowed_ms, idle_ms = EXCLUDED.idle_ms,"                            \
    "  unavailable_ms = EXCLUDED.unavailable_ms"

/* A run of quarter hours [$1, $2) summed from the samples: the report's query over the run
 * alone ($5, $6: the one range; $7, $8: no sums; no filter), by quarter hours, stored with each
 * quarter marked, in one statement. A quarter already marked (by another leader, a moment
 * before this one lost its lease) adds no rows; one whose mark an operator deleted to have
 * it summed again (samples written late; docs/operations.md) replaces its rows. */
static const char sql_rollup_quarters[] =
    "WITH q(k, cluster, sku, pool, tot, usd, trn, srv, brw, idl, una) AS (" SQL_CAPACITY "),"
    " mark AS (INSERT INTO capacity_rollup_marks (width_s, start)"
    "  SELECT 900, to_timestamp(g / 1000.0)"
    "  FROM generate_series($1::bigint, $2::bigint - 900000, 900000) AS g"
    "  ON CONFLICT DO NOTHING RETURNING start)"
    " INSERT INTO capacity_rollup (width_s, start, cluster, sku, pool, total_ms, used_ms,"
    "  training_ms, serving_ms, borrowed_ms, idle_ms, unavailable_ms)"
    " SELECT 900, m.start, q.cluster, q.sku, q.pool, q.tot, q.usd, q.trn, q.srv, q.brw, q.idl,"
    "  q.una FROM q JOIN mark m ON m.start = to_timestamp(($1::bigint + q.k * 900000) / "
    "1000.0)" SQL_ROLLUP_SET;

/* Every span of $1 seconds whose $3 parts of $2 seconds are all summed, and which is not
 * marked yet: its sums from its parts', marked. */
static const char sql_rollup_up[] =
    "WITH pm AS (SELECT (extract(epoch FROM start) * 1000)::bigint AS ms"
    "  FROM capacity_rollup_marks WHERE width_s = $2::int),"
    " whole AS (SELECT ms - ms % ($1::bigint * 1000) AS b FROM pm GROUP BY 1"
    "  HAVING count(*) = $3::bigint),"
    " mark AS (INSERT INTO capacity_rollup_marks (width_s, start)"
    "  SELECT $1::int, to_timestamp(b / 1000.0) FROM whole ON CONFLICT DO NOTHING RETURNING start)"
    " INSERT INTO capacity_rollup (width_s, start, cluster, sku, pool, total_ms, used_ms,"
    "  training_ms, serving_ms, borrowed_ms, idle_ms, unavailable_ms)"
    " SELECT $1::int, m.start, r.cluster, r.sku, r.pool, sum(r.total_ms), sum(r.used_ms),"
    "  sum(r.training_ms), sum(r.serving_ms), sum(r.borrowed_ms), sum(r.idle_ms),"
    "  sum(r.unavailable_ms)"
    " FROM mark m JOIN capacity_rollup r ON r.width_s = $2::int AND r.start >= m.start"
    "  AND r.start < m.start + make_interval(secs => $1::int)"
    " GROUP BY m.start, r.cluster, r.sku, r.pool" SQL_ROLLUP_SET;

/* More quarter hours than a report's longest window: a backlog past it is counted as this
 * many. */
#define ROLLUP_MAX_TODO (STORE_REPORT_MAX_WINDOW_MS / ROLLUP_QUARTER_MS + 200)

/* The quarter hours to sum, newest first: from the oldest sample's to the last that ends
 * by $1, those not summed yet; at most $2. */
static const char sql_rollup_todo[] =
    "WITH b AS (SELECT ((extract(epoch FROM min(ts)) * 1000)::bigint / 900000) * 900000 AS lo"
    "  FROM capacity_samples)"
    " SELECT g.q FROM b, generate_series(b.lo, $1::bigint - 900000, 900000) AS g(q)"
    " WHERE NOT EXISTS (SELECT 1 FROM capacity_rollup_marks r"
    "  WHERE r.width_s = 900 AND r.start = to_timestamp(g.q / 1000.0))"
    " ORDER BY g.q DESC LIMIT $2::bigint";

/* The sums that exist in [$1, $2), by width and start. */
static const char sql_rollup_marks[] =
    "SELECT width_s, (extract(epoch FROM start) * 1000)::bigint FROM capacity_rollup_marks"
    " WHERE start >= to_timestamp($1::bigint / 1000.0) AND start < to_timestamp($2::bigint / "
    "1000.0)"
    " ORDER BY width_s, start";

_Static_assert(STORE_REPORT_SAMPLE_MAX_GAP_MS < ROLLUP_QUARTER_MS,
               "two ranges read from samples are a quarter hour apart: the gap must be less");

/* The events of interest in [from, to) with what each needs: the queue wait of an
 * Admitted event (since the job last entered Queued). Each is attributed to the cluster,
 * pool and placed SKU the event records (migration 0026); an event written before that
 * has none and falls back to the job's cluster and pool as stored now and its requested
 * SKU. Waits are grouped by the requested SKU. Event ids give the order, as they are
 * assigned in commit order per job. $4, $5 and $6 are the filters on cluster, SKU and pool,
 * applied to what the event is attributed to. */
#define SQL_EVENTS                                                                                 \
    "WITH p AS (SELECT $1::bigint AS f, $2::bigint AS t, $3::bigint AS st),"                       \
    " ev AS (SELECT e.id, e.job_id, e.to_phase, (extract(epoch FROM e.ts) * 1000)::bigint AS ms,"  \
    "   COALESCE(e.cluster, j.cluster, '-') AS cluster, COALESCE(e.sku, j.sku) AS sku,"            \
    "   COALESCE(e.pool, j.pool, '-') AS pool, j.sku AS req_sku"                                   \
    "  FROM job_events e JOIN jobs j ON j.id = e.job_id, p"                                        \
    "  WHERE e.ts >= to_timestamp(p.f / 1000.0) AND e.ts < to_timestamp(p.t / 1000.0)"             \
    "   AND e.to_phase IN ('Admitted', 'Succeeded', 'Failed')),"                                   \
    " x AS (SELECT ev.*, (ev.ms - p.f) / p.st AS k,"                                               \
    "   CASE WHEN ev.to_phase = 'Admitted' THEN ev.ms - (extract(epoch FROM qd.ts) * "             \
    "1000)::bigint"                                                                                \
    "   END AS wait_ms"                                                                            \
    "  FROM ev CROSS JOIN p"                                                                       \
    "  LEFT JOIN LATERAL (SELECT q.ts FROM job_events q WHERE q.job_id = ev.job_id"                \
    "   AND q.id < ev.id AND q.to_phase = 'Queued' ORDER BY q.id DESC LIMIT 1) qd"                 \
    "   ON ev.to_phase = 'Admitted'"                                                               \
    "  WHERE true" SQL_KEEP_EV ")"

/* The preemptions come from the ledger (store/ledger.h): each reclaim and priority
 * preemption requested in [from, to), on the cluster, pool and placed SKU the job ran
 * on, with the GPU-hours of work it lost (kept in GPU-milliseconds like the rest).
 * Failure retries are in the ledger too but are not preemptions. */
static const char sql_events[] =
    SQL_EVENTS ","
               " led AS (SELECT ((extract(epoch FROM r.requested_at) * 1000)::bigint - p.f) / p.st"
               "   AS k, r.cluster, r.sku, COALESCE(r.pool, '-') AS pool,"
               "   r.lost_gpu_hours * 3600000.0 AS lost"
               "  FROM reclaims r, p WHERE r.cause IN ('reclaim', 'preemption')"
               "   AND r.requested_at >= to_timestamp(p.f / 1000.0)"
               "   AND r.requested_at < to_timestamp(p.t / 1000.0)" SQL_KEEP_R "),"
               " u AS (SELECT k, cluster, sku, pool, to_phase, wait_ms, 0::float8 AS lost FROM x"
               "  UNION ALL SELECT k, cluster, sku, pool, 'Preempting', NULL, lost FROM led)"
               " SELECT k, cluster, sku, pool,"
               "  count(*) FILTER (WHERE to_phase = 'Admitted'),"
               "  count(*) FILTER (WHERE to_phase = 'Succeeded'),"
               "  count(*) FILTER (WHERE to_phase = 'Failed'),"
               "  count(*) FILTER (WHERE to_phase = 'Preempting'),"
               "  percentile_disc(0.5) WITHIN GROUP (ORDER BY wait_ms),"
               "  percentile_disc(0.95) WITHIN GROUP (ORDER BY wait_ms), sum(lost)"
               " FROM u GROUP BY 1, 2, 3, 4"
               " ORDER BY k, cluster COLLATE \"C\", sku COLLATE \"C\", pool COLLATE \"C\"";

static const char sql_waits[] =
    SQL_EVENTS " SELECT req_sku, count(wait_ms),"
               "  percentile_disc(0.5) WITHIN GROUP (ORDER BY wait_ms),"
               "  percentile_disc(0.95) WITHIN GROUP (ORDER BY wait_ms)"
               " FROM x WHERE wait_ms IS NOT NULL GROUP BY 1 ORDER BY req_sku COLLATE \"C\"";

#define MS_PER_HOUR 3600000.0

int store_report_check(const struct store_report_opts *o, struct err *e)
{
    int64_t steps;

    if (o->step_ms <= 0)
        return err_set(e, ERR_INVALID, "step", "step must be positive, got %" PRId64 " ms",
                       o->step_ms);
    if (o->from_ms >= o->to_ms)
        return err_set(e, ERR_INVALID, "from",
                       "from must be before to (from %" PRId64 " ms, to %" PRId64 " ms)",
                       o->from_ms, o->to_ms);
    if (o->to_ms - o->from_ms > STORE_REPORT_MAX_WINDOW_MS)
        return err_set(e, ERR_INVALID, "from", "window of %" PRId64 " days is longer than %lld",
                       (o->to_ms - o->from_ms) / 86400000,
                       (long long)(STORE_REPORT_MAX_WINDOW_MS / 86400000));
    steps = (o->to_ms - o->from_ms + o->step_ms - 1) / o->step_ms;
    if (steps > STORE_REPORT_MAX_STEPS)
        return err_set(e, ERR_INVALID, "step",
                       "%" PRId64 " steps in the window; at most %d: use a larger step", steps,
                       STORE_REPORT_MAX_STEPS);
    return 0;
}

static double col_d(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtod(PQgetvalue(r, row, col), NULL);
}

static int64_t col_i(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Orders like the queries' ORDER BY (step, then byte order of the names). */
static int key_cmp(int64_t ka, const char *ca, const char *sa, const char *pa, const PGresult *r,
                   int row)
{
    int64_t kb = col_i(r, row, 0);
    int c;

    if (ka != kb)
        return ka < kb ? -1 : 1;
    if ((c = strcmp(ca, PQgetvalue(r, row, 1))))
        return c;
    if ((c = strcmp(sa, PQgetvalue(r, row, 2))))
        return c;
    return strcmp(pa, PQgetvalue(r, row, 3));
}

static void row_key(struct store_report_row *w, const struct store_report_opts *o,
                    const PGresult *r, int row)
{
    int64_t k = col_i(r, row, 0);

    w->start_ms = o->from_ms + k * o->step_ms;
    w->end_ms = w->start_ms + o->step_ms < o->to_ms ? w->start_ms + o->step_ms : o->to_ms;
    snprintf(w->cluster, sizeof(w->cluster), "%s", PQgetvalue(r, row, 1));
    snprintf(w->sku, sizeof(w->sku), "%s", PQgetvalue(r, row, 2));
    snprintf(w->pool, sizeof(w->pool), "%s", PQgetvalue(r, row, 3));
    w->wait_p50_s = -1;
    w->wait_p95_s = -1;
}

static void fill_capacity(struct store_report_row *w, const PGresult *r, int row)
{
    w->gpu_hours_total = col_d(r, row, 4) / MS_PER_HOUR;
    w->gpu_hours_used = col_d(r, row, 5) / MS_PER_HOUR;
    w->gpu_hours_training = col_d(r, row, 6) / MS_PER_HOUR;
    w->gpu_hours_serving = col_d(r, row, 7) / MS_PER_HOUR;
    w->gpu_hours_borrowed = col_d(r, row, 8) / MS_PER_HOUR;
    w->gpu_hours_idle = col_d(r, row, 9) / MS_PER_HOUR;
    w->gpu_hours_unavailable = col_d(r, row, 10) / MS_PER_HOUR;
    w->utilisation_pct =
        w->gpu_hours_total > 0 ? 100.0 * w->gpu_hours_used / w->gpu_hours_total : 0;
}

static void fill_events(struct store_report_row *w, const PGresult *r, int row)
{
    w->jobs_placed = col_i(r, row, 4);
    w->jobs_succeeded = col_i(r, row, 5);
    w->jobs_failed = col_i(r, row, 6);
    w->jobs_preempted = col_i(r, row, 7);
    if (!PQgetisnull(r, row, 8)) {
        w->wait_p50_s = col_d(r, row, 8) / 1000.0;
        w->wait_p95_s = col_d(r, row, 9) / 1000.0;
    }
    w->gpu_hours_lost = col_d(r, row, 10) / MS_PER_HOUR;
}

/* Merges the two sorted results into rep->rows. */
static int merge(struct store_report *rep, const PGresult *cap, const PGresult *ev, struct err *e)
{
    int nc = PQntuples(cap), ne = PQntuples(ev), i = 0, j = 0;
    size_t n = 0;

    if ((size_t)nc + (size_t)ne > REPORT_MAX_ROWS)
        return err_set(e, ERR_TOO_LARGE, "step",
                       "the report would have %d rows; at most %d: use a larger step, a "
                       "shorter window or a filter (cluster, sku, pool)",
                       nc + ne, REPORT_MAX_ROWS);
    rep->rows = xcalloc((size_t)(nc + ne) + 1, sizeof(*rep->rows));
    while (i < nc || j < ne) {
        struct store_report_row *w = &rep->rows[n++];
        int c;

        if (i >= nc)
            c = 1;
        else if (j >= ne)
            c = -1;
        else
            c = key_cmp(col_i(cap, i, 0), PQgetvalue(cap, i, 1), PQgetvalue(cap, i, 2),
                        PQgetvalue(cap, i, 3), ev, j);
        row_key(w, &rep->opts, c <= 0 ? cap : ev, c <= 0 ? i : j);
        if (c <= 0)
            fill_capacity(w, cap, i++);
        if (c >= 0)
            fill_events(w, ev, j++);
    }
    rep->n_rows = n;
    return 0;
}

/* A filter's parameter: NULL for every name. */
static const char *filter_param(const char *list)
{
    return *list ? list : NULL;
}

/* Runs sql (SQL_CAPACITY's parameters) for [f, t) by step st with plan's ranges and sums,
 * and the filters of o (NULL: none). */
static int capacity_exec(struct store *s, const char *sql, int64_t f, int64_t t, int64_t st,
                         const struct rollup_plan *plan, const struct store_report_opts *o,
                         PGresult **out, struct err *e)
{
    char fs[24], ts[24], sts[24], gap[24];
    struct buf arr[4];
    const char *params[11] = {fs, ts, sts, gap};
    int rc;

    snprintf(fs, sizeof(fs), "%" PRId64, f);
    snprintf(ts, sizeof(ts), "%" PRId64, t);
    snprintf(sts, sizeof(sts), "%" PRId64, st);
    snprintf(gap, sizeof(gap), "%d", STORE_REPORT_SAMPLE_MAX_GAP_MS);
    for (int i = 0; i < 4; i++) {
        buf_init(&arr[i], 0);
        buf_puts(&arr[i], "{");
    }
    for (size_t i = 0; i < plan->n_raw; i++) {
        buf_printf(&arr[0], "%s%" PRId64, i ? "," : "", plan->raw_lo[i]);
        buf_printf(&arr[1], "%s%" PRId64, i ? "," : "", plan->raw_hi[i]);
    }
    for (size_t i = 0; i < plan->n_sums; i++) {
        buf_printf(&arr[2], "%s%d", i ? "," : "", plan->sum_width_s[i]);
        buf_printf(&arr[3], "%s%" PRId64, i ? "," : "", plan->sum_start[i]);
    }
    for (int i = 0; i < 4; i++) {
        buf_puts(&arr[i], "}");
        params[4 + i] = arr[i].data;
    }
    params[8] = o ? filter_param(o->clusters) : NULL;
    params[9] = o ? filter_param(o->skus) : NULL;
    params[10] = o ? filter_param(o->pools) : NULL;
    rc = store_exec(s, sql, 11, params, out, e);
    for (int i = 0; i < 4; i++)
        buf_free(&arr[i]);
    return rc;
}

/* The plan for o from the sums that exist in its window. */
static int capacity_plan(struct store *s, const struct store_report_opts *o,
                         struct rollup_plan *plan, struct err *e)
{
    char f[24], t[24];
    const char *params[2] = {f, t};
    PGresult *r = NULL;
    int64_t *v[3];
    size_t n[3] = {0, 0, 0};
    struct rollup_marks m;
    int rows;

    snprintf(f, sizeof(f), "%" PRId64, o->from_ms);
    snprintf(t, sizeof(t), "%" PRId64, o->to_ms);
    if (store_exec(s, sql_rollup_marks, 2, params, &r, e)) {
        PQclear(r);
        return -1;
    }
    rows = PQntuples(r);
    for (int i = 0; i < 3; i++)
        v[i] = xcalloc((size_t)rows + 1, sizeof(int64_t));
    for (int row = 0; row < rows; row++) {
        int64_t w = col_i(r, row, 0);
        int i = w == ROLLUP_DAY_MS / 1000 ? 2 : w == ROLLUP_HOUR_MS / 1000 ? 1 : 0;

        v[i][n[i]++] = col_i(r, row, 1);
    }
    PQclear(r);
    m = (struct rollup_marks){v[0], v[1], v[2], n[0], n[1], n[2]};
    rollup_plan_build(o->from_ms, o->to_ms, o->step_ms, &m, plan);
    for (int i = 0; i < 3; i++)
        free(v[i]);
    return 0;
}

int store_report_capacity(struct store *s, const struct store_report_opts *o,
                          struct store_report **out, struct err *e)
{
    char f[24], t[24], st[24];
    const char *params[6] = {
        f, t, st, filter_param(o->clusters), filter_param(o->skus), filter_param(o->pools)};
    PGresult *cap = NULL, *ev = NULL, *w = NULL;
    struct store_report *rep = NULL;
    struct rollup_plan plan = {0};
    int rc = -1;

    if (store_report_check(o, e))
        return -1;
    snprintf(f, sizeof(f), "%" PRId64, o->from_ms);
    snprintf(t, sizeof(t), "%" PRId64, o->to_ms);
    snprintf(st, sizeof(st), "%" PRId64, o->step_ms);
    if (capacity_plan(s, o, &plan, e) ||
        capacity_exec(s, sql_capacity, o->from_ms, o->to_ms, o->step_ms, &plan, o, &cap, e) ||
        store_exec(s, sql_events, 6, params, &ev, e) ||
        store_exec(s, sql_waits, 6, params, &w, e)) {
        if (e && e->code == ERR_TIMEOUT) /* the caller can ask for less: say how */
            err_set(e, ERR_TIMEOUT, NULL,
                    "the report took longer than the database's statement timeout (%d ms, "
                    "database.statementTimeoutMs): steps of whole hours or days read sums "
                    "(from=now-24h/h&to=now/h, from=today-7d&to=today), and a larger step, a "
                    "shorter window or a filter (cluster, sku, pool) read less",
                    s->statement_timeout_ms);
        goto out;
    }
    rep = xcalloc(1, sizeof(*rep));
    rep->opts = *o;
    if (merge(rep, cap, ev, e))
        goto out;
    rep->n_waits = (size_t)PQntuples(w);
    rep->waits = xcalloc(rep->n_waits + 1, sizeof(*rep->waits));
    for (int row = 0; row < PQntuples(w); row++) {
        struct store_report_wait *x = &rep->waits[row];

        snprintf(x->sku, sizeof(x->sku), "%s", PQgetvalue(w, row, 0));
        x->jobs = col_i(w, row, 1);
        x->p50_s = col_d(w, row, 2) / 1000.0;
        x->p95_s = col_d(w, row, 3) / 1000.0;
    }
    *out = rep;
    rep = NULL;
    rc = 0;
out:
    rollup_plan_free(&plan);
    PQclear(cap);
    PQclear(ev);
    PQclear(w);
    store_report_free(&rep);
    return rc;
}

/* Sums the quarter hours [lo, hi) (one run, inside one hour) from their samples. */
static int rollup_quarters(struct store *s, int64_t lo, int64_t hi, struct err *e)
{
    int64_t one_lo[1] = {lo}, one_hi[1] = {hi};
    struct rollup_plan plan = {.raw_lo = one_lo, .raw_hi = one_hi, .n_raw = 1};
    PGresult *r = NULL;
    int rc = capacity_exec(s, sql_rollup_quarters, lo, hi, ROLLUP_QUARTER_MS, &plan, NULL, &r, e);

    PQclear(r);
    return rc;
}

/* The hours whose quarters are all summed, then the days whose hours are. */
static int rollup_up(struct store *s, struct err *e)
{
    static const char *const levels[2][3] = {{"3600", "900", "4"}, {"86400", "3600", "24"}};

    for (int i = 0; i < 2; i++) {
        PGresult *r = NULL;
        int rc = store_exec(s, sql_rollup_up, 3, levels[i], &r, e);

        PQclear(r);
        if (rc)
            return -1;
    }
    return 0;
}

int store_capacity_rollup(struct store *s, int64_t now_ms, int64_t budget_ms, long *rolled,
                          long *left, struct err *e)
{
    char until[24], limit[24];
    const char *params[2] = {until, limit};
    int64_t start = clock_mono_ms();
    PGresult *todo = NULL;
    int n, i = 0, rc = 0;

    *rolled = 0;
    *left = 0;
    snprintf(until, sizeof(until), "%" PRId64, now_ms - STORE_ROLLUP_SETTLE_MS);
    snprintf(limit, sizeof(limit), "%lld", (long long)ROLLUP_MAX_TODO);
    if (store_exec(s, sql_rollup_todo, 2, params, &todo, e)) {
        PQclear(todo);
        return -1;
    }
    n = PQntuples(todo);
    /* Newest first, a run of the quarters of one hour a statement. */
    while (i < n && (i == 0 || clock_mono_ms() - start < budget_ms)) {
        int64_t hi = col_i(todo, i, 0) + ROLLUP_QUARTER_MS, lo = hi - ROLLUP_QUARTER_MS;
        int j = i + 1;

        while (j < n && col_i(todo, j, 0) == lo - ROLLUP_QUARTER_MS &&
               (lo - ROLLUP_QUARTER_MS) / ROLLUP_HOUR_MS == (hi - 1) / ROLLUP_HOUR_MS) {
            lo -= ROLLUP_QUARTER_MS;
            j++;
        }
        if ((rc = rollup_quarters(s, lo, hi, e)))
            break;
        *rolled += j - i;
        i = j;
    }
    *left = n - i;
    PQclear(todo);
    if (rc == 0 && *rolled > 0)
        rc = rollup_up(s, e);
    return rc;
}

void store_report_free(struct store_report **r)
{
    if (!r || !*r)
        return;
    free((*r)->rows);
    free((*r)->waits);
    free(*r);
    *r = NULL;
}

int store_report_queue(struct store *s, struct store_queue_sku **out, size_t *n, struct err *e)
{
    static const char sql[] =
        "SELECT sku, count(*), sum(gpu_count), (extract(epoch FROM min(created_at)) * 1000)::bigint"
        " FROM jobs WHERE phase = 'Queued' GROUP BY sku ORDER BY sku COLLATE \"C\"";
    struct store_queue_sku *q;
    PGresult *r;

    if (store_exec(s, sql, 0, NULL, &r, e))
        return -1;
    q = xcalloc((size_t)PQntuples(r) + 1, sizeof(*q));
    for (int row = 0; row < PQntuples(r); row++) {
        snprintf(q[row].sku, sizeof(q[row].sku), "%s", PQgetvalue(r, row, 0));
        q[row].jobs = col_i(r, row, 1);
        q[row].gpus = col_i(r, row, 2);
        q[row].oldest_ms = col_i(r, row, 3);
    }
    *n = (size_t)PQntuples(r);
    *out = q;
    PQclear(r);
    return 0;
}

int store_quota_usage(struct store *s, struct store_quota_use **out, size_t *n, struct err *e)
{
    static const char sql[] =
        "SELECT namespace, k, sum(gpu_count) FILTER (WHERE phase <> 'Queued'),"
        " count(*) FILTER (WHERE phase = 'Queued'), sum(gpu_count) FILTER (WHERE phase = 'Queued')"
        " FROM (SELECT namespace, phase, gpu_count, CASE WHEN phase = 'Queued' THEN sku"
        "  ELSE coalesce(nullif(sku_placed, ''), sku) END AS k FROM jobs"
        "  WHERE phase IN ('Admitted', 'Dispatched', 'Running', 'Preempting')"
        "  OR (phase = 'Queued' AND NOT held)) u"
        " GROUP BY namespace, k ORDER BY namespace COLLATE \"C\", k COLLATE \"C\"";
    struct store_quota_use *q;
    PGresult *r;

    if (store_exec(s, sql, 0, NULL, &r, e))
        return -1;
    q = xcalloc((size_t)PQntuples(r) + 1, sizeof(*q));
    for (int row = 0; row < PQntuples(r); row++) {
        snprintf(q[row].ns, sizeof(q[row].ns), "%s", PQgetvalue(r, row, 0));
        snprintf(q[row].sku, sizeof(q[row].sku), "%s", PQgetvalue(r, row, 1));
        q[row].held_gpus = col_i(r, row, 2);
        q[row].queued_jobs = col_i(r, row, 3);
        q[row].queued_gpus = col_i(r, row, 4);
    }
    *n = (size_t)PQntuples(r);
    *out = q;
    PQclear(r);
    return 0;
}
