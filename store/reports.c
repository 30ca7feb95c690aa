/* reports.c -- capacity report queries: GPU-hours from capacity_samples, job outcomes and
 * queue waits from job_events, preemptions and their losses from the ledger (reclaims),
 * per step/cluster/SKU/pool. */
#include "store/reports.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/mem.h"
#include "store/conn.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* More rows than this is a report nobody reads; a larger step is the answer. */
#define REPORT_MAX_ROWS 200000

/* Parameters: $1 from, $2 to, $3 step, $4 max gap (all milliseconds). Sums are
 * GPU-milliseconds.
 *
 * Every hour (UTC) touching [from, to) is read one of two ways. It is *rolled* when the
 * leader has summed it (capacity_rollup_hours; store_capacity_rollup()), it lies inside
 * [from, to) and inside one step: its sums are read from capacity_rollup. Every other hour
 * is read from its samples: each sample's interval [a, b) (until the next sample of its
 * cluster/SKU/pool, at most the max gap, at most `to`) is cut at the hour's bounds and at
 * step boundaries with generate_series, so a sample that spans two steps counts in both,
 * each for its share. The samples read are those of the hours read so, and the max gap
 * before each run of them (a sample from then lasts into the run). A sample whose next
 * one was not read (it lies in a rolled hour) is cut at its hour's end, where the next one
 * would have cut it or later, so the sums are the same whichever way an hour is read; the
 * roll-up sums an hour with this query over that hour alone. */
#define SQL_CAPACITY                                                                               \
    "WITH p AS (SELECT $1::bigint AS f, $2::bigint AS t, $3::bigint AS st, $4::bigint AS gap,"     \
    "   3600000::bigint AS hr),"                                                                   \
    " hrs AS (SELECT g.h, to_timestamp(g.h / 1000.0) AS ht,"                                       \
    "   g.h >= p.f AND g.h + p.hr <= p.t AND (g.h - p.f) / p.st = (g.h + p.hr - 1 - p.f) / p.st"   \
    "   AND EXISTS (SELECT 1 FROM capacity_rollup_hours r WHERE r.hour = to_timestamp(g.h / "      \
    "1000.0))"                                                                                     \
    "   AS rolled"                                                                                 \
    "  FROM p, generate_series(p.f - p.f % p.hr, p.t - 1, p.hr) AS g(h)),"                         \
    " raw AS (SELECT x.h, CASE WHEN x.prev THEN x.h - p.gap ELSE x.h END AS lo"                    \
    "  FROM (SELECT h, rolled, lag(rolled, 1, true) OVER (ORDER BY h) AS prev FROM hrs) x, p"      \
    "  WHERE NOT x.rolled),"                                                                       \
    " s AS (SELECT c.cluster, c.sku, c.pool, c.total::bigint AS total, c.used::bigint AS used,"    \
    "   c.free::bigint AS free, c.borrowed::bigint AS borrowed,"                                   \
    "   (extract(epoch FROM c.ts) * 1000)::bigint AS a,"                                           \
    "   (extract(epoch FROM lead(c.ts) OVER (PARTITION BY c.cluster, c.sku, c.pool ORDER BY"       \
    " c.ts))"                                                                                      \
    "    * 1000)::bigint AS nxt"                                                                   \
    "  FROM raw JOIN capacity_samples c ON c.ts >= to_timestamp(raw.lo / 1000.0)"                  \
    "   AND c.ts < to_timestamp((raw.h + 3600000) / 1000.0)),"                                     \
    " iv AS (SELECT cluster, sku, pool, total, used, free, borrowed, GREATEST(s.a, p.f) AS a,"     \
    "   LEAST(COALESCE(s.nxt, s.a + p.gap), s.a + p.gap, p.t) AS b FROM s, p),"                    \
    " hp AS (SELECT iv.cluster, iv.sku, iv.pool, iv.total, iv.used, iv.free, iv.borrowed,"         \
    "   GREATEST(iv.a, j.h) AS a, LEAST(iv.b, j.h + p.hr) AS b"                                    \
    "  FROM iv, p, generate_series(iv.a - iv.a % p.hr, iv.b - 1, p.hr) AS j(h)"                    \
    "  WHERE iv.b > iv.a AND j.h IN (SELECT h FROM raw)),"                                         \
    " parts AS (SELECT k, cluster, sku, pool, total, used, free, borrowed,"                        \
    "   LEAST(hp.b, p.f + (k + 1) * p.st) - GREATEST(hp.a, p.f + k * p.st) AS ov"                  \
    "  FROM hp, p, generate_series((hp.a - p.f) / p.st, (hp.b - 1 - p.f) / p.st) AS k),"           \
    " u AS (SELECT k, cluster, sku, pool, total * ov AS tot, used * ov AS usd,"                    \
    "   CASE WHEN pool = 'serving' THEN borrowed ELSE used END * ov AS trn,"                       \
    "   CASE WHEN pool = 'serving' THEN GREATEST(used - borrowed, 0) ELSE 0 END * ov AS srv,"      \
    "   CASE WHEN pool = 'serving' THEN borrowed ELSE 0 END * ov AS brw,"                          \
    "   GREATEST(total - used, 0) * ov AS idl, GREATEST(total - used - free, 0) * ov AS una"       \
    "  FROM parts"                                                                                 \
    "  UNION ALL SELECT (hrs.h - p.f) / p.st, c.cluster, c.sku, c.pool, c.total_ms, c.used_ms,"    \
    "   c.training_ms, c.serving_ms, c.borrowed_ms, c.idle_ms, c.unavailable_ms"                   \
    "  FROM hrs JOIN capacity_rollup c ON c.hour = hrs.ht, p WHERE hrs.rolled)"                    \
    " SELECT k, cluster, sku, pool, sum(tot), sum(usd), sum(trn), sum(srv), sum(brw), sum(idl),"   \
    "  sum(una)"                                                                                   \
    " FROM u GROUP BY 1, 2, 3, 4"                                                                  \
    " ORDER BY k, cluster COLLATE \"C\", sku COLLATE \"C\", pool COLLATE \"C\""

static const char sql_capacity[] = SQL_CAPACITY;

/* One hour summed: the report's query over [$1, $2 = $1 + 1 h) with a one-hour step,
 * stored with the hour marked, in one statement. An hour already marked (by another
 * leader, a moment before this one lost its lease) adds no rows. An hour whose mark an
 * operator deleted to have it summed again (samples written late; docs/operations.md)
 * replaces its rows. */
static const char sql_rollup[] =
    "WITH q(k, cluster, sku, pool, tot, usd, trn, srv, brw, idl, una) AS (" SQL_CAPACITY "),"
    " mark AS (INSERT INTO capacity_rollup_hours (hour) VALUES (to_timestamp($1::bigint / 1000.0))"
    "  ON CONFLICT DO NOTHING RETURNING hour)"
    " INSERT INTO capacity_rollup (hour, cluster, sku, pool, total_ms, used_ms, training_ms,"
    "  serving_ms, borrowed_ms, idle_ms, unavailable_ms)"
    " SELECT to_timestamp(($1::bigint + q.k * 3600000) / 1000.0), q.cluster, q.sku, q.pool,"
    "  q.tot, q.usd, q.trn, q.srv, q.brw, q.idl, q.una FROM q WHERE EXISTS (SELECT 1 FROM mark)"
    " ON CONFLICT (hour, cluster, sku, pool) DO UPDATE SET total_ms = EXCLUDED.total_ms,"
    "  used_ms = EXCLUDED.used_ms, training_ms = EXCLUDED.training_ms,"
    "  serving_ms = EXCLUDED.serving_ms, borrowed_ms = EXCLUDED.borrowed_ms,"
    "  idle_ms = EXCLUDED.idle_ms, unavailable_ms = EXCLUDED.unavailable_ms";

/* More hours than a report's longest window: a backlog past it is counted as this many. */
#define ROLLUP_MAX_TODO (STORE_REPORT_MAX_WINDOW_MS / 3600000 + 48)

/* The hours to sum, newest first: from the oldest sample's hour to the last hour that
 * ends by $1, those not summed yet; at most $2. */
static const char sql_rollup_todo[] =
    "WITH b AS (SELECT ((extract(epoch FROM min(ts)) * 1000)::bigint / 3600000) * 3600000 AS lo"
    "  FROM capacity_samples)"
    " SELECT g.h FROM b, generate_series(b.lo, $1::bigint - 3600000, 3600000) AS g(h)"
    " WHERE NOT EXISTS (SELECT 1 FROM capacity_rollup_hours r"
    "  WHERE r.hour = to_timestamp(g.h / 1000.0))"
    " ORDER BY g.h DESC LIMIT $2::bigint";

/* The events of interest in [from, to) with what each needs: the queue wait of an
 * Admitted event (since the job last entered Queued). Each is attributed to the cluster,
 * pool and placed SKU the event records (migration 0026); an event written before that
 * has none and falls back to the job's cluster and pool as stored now and its requested
 * SKU. Waits are grouped by the requested SKU. Event ids give the order, as they are
 * assigned in commit order per job. */
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
    "   ON ev.to_phase = 'Admitted')"

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
               "   AND r.requested_at < to_timestamp(p.t / 1000.0)),"
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
                       "the report would have %d rows; at most %d: use a larger step or a "
                       "shorter window",
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

int store_report_capacity(struct store *s, const struct store_report_opts *o,
                          struct store_report **out, struct err *e)
{
    char f[24], t[24], st[24], gap[24];
    const char *params[4] = {f, t, st, gap};
    PGresult *cap = NULL, *ev = NULL, *w = NULL;
    struct store_report *rep = NULL;
    int rc = -1;

    if (store_report_check(o, e))
        return -1;
    snprintf(f, sizeof(f), "%" PRId64, o->from_ms);
    snprintf(t, sizeof(t), "%" PRId64, o->to_ms);
    snprintf(st, sizeof(st), "%" PRId64, o->step_ms);
    snprintf(gap, sizeof(gap), "%d", STORE_REPORT_SAMPLE_MAX_GAP_MS);
    if (store_exec(s, sql_capacity, 4, params, &cap, e) ||
        store_exec(s, sql_events, 3, params, &ev, e) || store_exec(s, sql_waits, 3, params, &w, e))
        goto out;
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
    PQclear(cap);
    PQclear(ev);
    PQclear(w);
    store_report_free(&rep);
    return rc;
}

int store_capacity_rollup(struct store *s, int64_t now_ms, int64_t budget_ms, long *rolled,
                          long *left, struct err *e)
{
    char until[24], limit[24], h[24], t[24], st[24], gap[24];
    const char *todo_params[2] = {until, limit}, *params[4] = {h, t, st, gap};
    int64_t start = clock_mono_ms();
    PGresult *todo = NULL;
    int n, i;

    *rolled = 0;
    *left = 0;
    snprintf(until, sizeof(until), "%" PRId64, now_ms - STORE_ROLLUP_SETTLE_MS);
    snprintf(limit, sizeof(limit), "%lld", (long long)ROLLUP_MAX_TODO);
    if (store_exec(s, sql_rollup_todo, 2, todo_params, &todo, e)) {
        PQclear(todo);
        return -1;
    }
    n = PQntuples(todo);
    snprintf(st, sizeof(st), "%d", 3600000);
    snprintf(gap, sizeof(gap), "%d", STORE_REPORT_SAMPLE_MAX_GAP_MS);
    for (i = 0; i < n && (i == 0 || clock_mono_ms() - start < budget_ms); i++) {
        PGresult *r = NULL;
        int64_t hour = col_i(todo, i, 0);

        snprintf(h, sizeof(h), "%" PRId64, hour);
        snprintf(t, sizeof(t), "%" PRId64, hour + 3600000);
        if (store_exec(s, sql_rollup, 4, params, &r, e)) {
            PQclear(r);
            PQclear(todo);
            *left = n - i;
            return -1;
        }
        PQclear(r);
        (*rolled)++;
    }
    *left = n - i;
    PQclear(todo);
    return 0;
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
