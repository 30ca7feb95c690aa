/* live_jobs.c -- the scheduler's job rows: the live list (rows.h decodes it), fenced
 * transitions with their events and ledger rows, the policy state, checkpoints. */
#include "store/live_jobs.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "store/conn.h"
#include "store/rows.h"
#include "store/store.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- live jobs ---------------------------------------------------------------------------- */

#define STR_(x) #x
#define STR(x)  STR_(x)
#define MS(col) "COALESCE((extract(epoch FROM " col ") * 1000)::bigint, 0)"
#define LIST(x)                                                                                    \
    "ARRAY(SELECT v FROM jsonb_array_elements_text(" x ") WITH ORDINALITY l(v, o) ORDER BY o)"
#define PLAN(x)                                                                                    \
    "ARRAY(SELECT " x " FROM jsonb_array_elements(node_plan) WITH ORDINALITY l(p, o) ORDER BY o)"

/* A worker's request in the units the manifest writes (cluster/manifest.c, resources():
 * millicores and MiB, rounded half up); 0 when the spec gives none. */
#define REQ(key, scale)                                                                            \
    "COALESCE(floor((spec->'resources'->>'" key "')::float8 * " scale " + 0.5), 0)::bigint"

/* spec.resources.relativeThroughput lined up with the job's SKUs: its figure for the sku
 * column (instanceType) first, then one for each alternative in the order of LIST's, 0
 * for a SKU without one; no entries when the spec has no map. The API holds every stored
 * figure to a number > 0 for every SKU the job accepts. */
#define FIGURES(map, alts)                                                                         \
    "CASE WHEN jsonb_typeof(" map ") = 'object' THEN ARRAY[COALESCE((" map "->>sku)::float8, 0)]"  \
    " || ARRAY(SELECT COALESCE((" map "->>v)::float8, 0) FROM jsonb_array_elements_text(" alts     \
    ") WITH ORDINALITY l(v, o) ORDER BY o) ELSE '{}'::float8[] END"

/* The columns of a live job after its id, in select order (rows.h). */
/* clang-format off */
#define LIVE_COLUMN_LIST(X)                                                                        \
    X("uid", COL_CHARS, uid, uid)                                                                  \
    X("namespace", COL_CHARS, ns, ns)                                                              \
    X("name", COL_CHARS, name, name)                                                               \
    X("phase", COL_PHASE, phase, phase)                                                            \
    X("COALESCE(cluster, '')", COL_CHARS, cluster, cluster)                                        \
    X("COALESCE(pool, '')", COL_CHARS, pool, pool)                                                 \
    X("sku", COL_CHARS, sku, sku)                                                                  \
    X("COALESCE(sku_placed, '')", COL_CHARS, sku_placed, sku_placed)                               \
    X("COALESCE(member_namespace, '')", COL_CHARS, member_ns, member_ns)                           \
    X("COALESCE(spec->>'framework', 'pytorch')", COL_CHARS, framework, framework)                  \
    X(LIST("spec->'resources'->'alternativeInstanceTypes'"), COL_NAMES, alt_skus, n_alt_skus)      \
    X(FIGURES("spec->'resources'->'relativeThroughput'",                                           \
              "spec->'resources'->'alternativeInstanceTypes'"),                                    \
      COL_NUMS, throughput, n_throughput)                                                          \
    X(LIST("spec->'scheduling'->'clusterAffinity'"), COL_NAMES, affinity, n_affinity)              \
    X(PLAN("p->>0"), COL_PLAN_NODES, plan, n_plan)                                                 \
    X(PLAN("(p->>1)::int"), COL_PLAN_GPUS, plan, n_plan)                                           \
    X("gpu_count", COL_INT, gpu_count, gpu_count)                                                  \
    X("gpus_per_worker", COL_INT, gpus_per_worker, gpus_per_worker)                                \
    X("priority", COL_INT, priority, priority)                                                     \
    X("preemptible", COL_BOOL, preemptible, preemptible)                                           \
    X("over_quota", COL_BOOL, over_quota, over_quota)                                              \
    X("cancel_requested", COL_BOOL, cancel_requested, cancel_requested)                            \
    X("held", COL_BOOL, held, held)                                                                \
    X("attempt", COL_INT, attempt, attempt)                                                        \
    X("retries", COL_INT, retries, retries)                                                        \
    X("preemptions", COL_INT, preemptions, preemptions)                                            \
    X("dispatch_failures", COL_INT, dispatch_failures, dispatch_failures)                          \
    X("COALESCE((spec->'scheduling'->>'maxRuntimeSeconds')::bigint, 0)", COL_I64,                  \
      max_runtime_s, max_runtime_s)                                                                \
    X("COALESCE((spec->'scheduling'->>'checkpointIntervalSeconds')::bigint, 0)", COL_I64,          \
      checkpoint_interval_s, checkpoint_interval_s)                                                \
    X(REQ("cpu", "1000"), COL_I64, cpu_m_per_worker, cpu_m_per_worker)                             \
    X(REQ("memoryGb", "1024"), COL_I64, mem_mib_per_worker, mem_mib_per_worker)                    \
    X(MS("created_at"), COL_I64, created_ms, created_ms)                                           \
    X(MS("queued_at"), COL_I64, queued_ms, queued_ms)                                              \
    X(MS("admitted_at"), COL_I64, admitted_ms, admitted_ms)                                        \
    X(MS("dispatched_at"), COL_I64, dispatched_ms, dispatched_ms)                                  \
    X(MS("started_at"), COL_I64, started_ms, started_ms)                                           \
    X(MS("last_checkpoint_at"), COL_I64, last_checkpoint_ms, last_checkpoint_ms)                   \
    X(MS("lease_end_at"), COL_I64, lease_end_ms, lease_end_ms)                                     \
    X(MS("not_before"), COL_I64, not_before_ms, not_before_ms)                                     \
    X(MS("preempt_requested_at"), COL_I64, preempt_requested_ms, preempt_requested_ms)             \
    X(MS("checkpoint_requested_at"), COL_I64, checkpoint_requested_ms, checkpoint_requested_ms)    \
    X(MS("checkpoint_deadline"), COL_I64, checkpoint_deadline_ms, checkpoint_deadline_ms)          \
    X("CASE WHEN phase = 'Queued' AND reason = 'StartTimeout' THEN ARRAY(SELECT t.cluster FROM"    \
      " (SELECT e.cluster, max(e.id) AS last FROM job_events e WHERE e.job_id = jobs.id"           \
      " AND e.reason = 'StartTimeout' AND e.cluster IS NOT NULL AND e.id > COALESCE((SELECT"       \
      " max(r.id) FROM job_events r WHERE r.job_id = jobs.id AND r.to_phase = 'Running'), 0)"      \
      " GROUP BY e.cluster ORDER BY last DESC LIMIT " STR(STORE_SCHED_AVOID_MAX) ") t"              \
      " ORDER BY t.last DESC) ELSE '{}'::text[] END",                                              \
      COL_NAMES, start_timeout_clusters, n_start_timeout_clusters)
/* clang-format on */

#define LIVE_ROW(sql, type, field, count) COL_ROW(struct store_sched_job, sql, type, field, count)
static const struct col live_cols[] = {COL_ROW(struct store_sched_job, "id", COL_I64, id, id)
                                           LIVE_COLUMN_LIST(LIVE_ROW)};
#define LIVE_NCOLS (sizeof(live_cols) / sizeof(live_cols[0]))

#define SQL_LOAD                                                                                   \
    "SELECT id" LIVE_COLUMN_LIST(                                                                  \
        COL_SQL) " FROM jobs"                                                                      \
                 " WHERE phase NOT IN ('Succeeded', 'Failed', 'Cancelled')"                        \
                 " ORDER BY id"
static const char sql_load[] = SQL_LOAD;
/* The same over the table and one more row, a job not stored ($1: its columns as a JSON
 * object): the CTE named jobs hides the table from the query after it. */
static const char sql_load_with[] =
    "WITH jobs AS (SELECT * FROM jobs UNION ALL"
    " SELECT (jsonb_populate_record(NULL::jobs, $1::jsonb)).*) " SQL_LOAD;

static int64_t val_i64(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* The columns of the row store_sched_load_with() adds for extra, as a JSON object: queued
 * at its created_ms (now when 0), never placed, its id after every stored job's. */
static char *extra_row(const struct job *j)
{
    struct buf b;
    char created[40];

    clock_format_rfc3339(j->created_ms > 0 ? j->created_ms : clock_realtime_ms(), created,
                         sizeof(created));
    buf_init(&b, 0);
    buf_printf(&b, "{\"id\": %" PRId64 ", \"uid\": \"00000000-0000-0000-0000-000000000000\"",
               INT64_MAX);
    buf_puts(&b, ", \"namespace\": ");
    buf_json_str(&b, j->ns);
    buf_puts(&b, ", \"name\": ");
    buf_json_str(&b, j->name);
    buf_puts(&b, ", \"api_version\": ");
    buf_json_str(&b, j->api_version ? j->api_version : "fedsched.io/v1");
    buf_printf(&b,
               ", \"labels\": %s, \"spec\": %s, \"sku\": ", j->labels_json ? j->labels_json : "{}",
               j->spec_json);
    buf_json_str(&b, j->sku);
    buf_printf(&b,
               ", \"phase\": \"Queued\", \"gpu_count\": %d, \"gpus_per_worker\": %d, "
               "\"priority\": %d, \"preemptible\": %s, \"over_quota\": false, "
               "\"cancel_requested\": false, \"held\": false, \"attempt\": 0, \"retries\": 0, "
               "\"preemptions\": 0, \"dispatch_failures\": 0, \"created_at\": \"%s\", "
               "\"updated_at\": \"%s\"}",
               j->gpu_count, j->gpus_per_worker, j->priority, j->preemptible ? "true" : "false",
               created, created);
    return buf_steal(&b);
}

int store_sched_load(struct store *s, struct store_sched_jobs *out, struct err *e)
{
    return store_sched_load_with(s, NULL, out, e);
}

int store_sched_load_with(struct store *s, const struct job *extra, struct store_sched_jobs *out,
                          struct err *e)
{
    struct row_arena a;
    size_t n, bytes, names, uses, nums;
    char *extra_json = extra ? extra_row(extra) : NULL;
    const char *params[1] = {extra_json};
    PGresult *r;
    int rc = extra ? store_exec(s, sql_load_with, 1, params, &r, e)
                   : store_exec(s, sql_load, 0, NULL, &r, e);

    free(extra_json);
    if (rc)
        return -1;
    n = (size_t)PQntuples(r);
    store_rows_arena_size(r, live_cols, LIVE_NCOLS, &bytes, &names, &uses, &nums);
    out->v = xcalloc(n + 1, sizeof(*out->v));
    out->n = n;
    out->strs = a.next = xmalloc(bytes + 1);
    out->names = a.names = xcalloc(names + 1, sizeof(*a.names));
    out->uses = a.uses = xcalloc(uses + 1, sizeof(*a.uses));
    out->nums = a.nums = xcalloc(nums + 1, sizeof(*a.nums));
    for (int row = 0; row < (int)n; row++)
        store_row_decode(r, row, live_cols, LIVE_NCOLS, &out->v[row], &a);
    PQclear(r);
    return 0;
}

void store_sched_jobs_free(struct store_sched_jobs *jobs)
{
    if (!jobs)
        return;
    free(jobs->v);
    free(jobs->strs);
    free(jobs->names);
    free(jobs->uses);
    free(jobs->nums);
    memset(jobs, 0, sizeof(*jobs));
}

int store_sched_specs(struct store *s, const int64_t *ids, size_t n, struct store_sched_spec **out,
                      size_t *n_out, struct err *e)
{
    struct buf b;
    const char *params[1];
    PGresult *r;
    struct store_sched_spec *v;
    char num[24];

    buf_init(&b, 0);
    buf_puts(&b, "{");
    for (size_t i = 0; i < n; i++) {
        snprintf(num, sizeof(num), "%" PRId64, ids[i]);
        store_array_add(&b, num);
    }
    buf_puts(&b, "}");
    params[0] = b.data;
    if (store_exec(s,
                   "SELECT id, spec::text, labels::text FROM jobs WHERE id = ANY($1::bigint[])"
                   " ORDER BY id",
                   1, params, &r, e)) {
        buf_free(&b);
        return -1;
    }
    buf_free(&b);
    v = xcalloc((size_t)PQntuples(r) + 1, sizeof(*v));
    for (int row = 0; row < PQntuples(r); row++) {
        v[row].id = val_i64(r, row, 0);
        v[row].spec_json = xstrdup(PQgetvalue(r, row, 1));
        v[row].labels_json = xstrdup(PQgetvalue(r, row, 2));
    }
    *n_out = (size_t)PQntuples(r);
    *out = v;
    PQclear(r);
    return 0;
}

void store_sched_specs_free(struct store_sched_spec **v, size_t n)
{
    if (!v || !*v)
        return;
    for (size_t i = 0; i < n; i++) {
        free((*v)[i].spec_json);
        free((*v)[i].labels_json);
    }
    free(*v);
    *v = NULL;
}

static bool uuid_shaped(const char *u)
{
    size_t n = strlen(u);

    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? u[i] != '-'
                                                      : !isxdigit((unsigned char)u[i]))
            return false;
    return true;
}

int store_jobs_attempts(struct store *s, const char *const *uids, size_t n, int *attempt,
                        struct err *e)
{
    struct buf b;
    const char *params[1];
    PGresult *r;
    size_t asked = 0, *at = xcalloc(n + 1, sizeof(*at));
    int rc = -1;

    for (size_t i = 0; i < n; i++)
        attempt[i] = -1;
    buf_init(&b, 0);
    buf_puts(&b, "{");
    for (size_t i = 0; i < n; i++)
        if (uuid_shaped(uids[i])) {
            store_array_add(&b, uids[i]);
            at[asked++] = i; /* the asked array's k-th (from 1) is uids[at[k - 1]] */
        }
    buf_puts(&b, "}");
    params[0] = b.data;
    /* The position comes back with each row, so matching is one pass, whatever n. */
    if (asked && store_exec(s,
                            "SELECT u.k, j.attempt FROM unnest($1::uuid[]) WITH ORDINALITY"
                            " AS u(uid, k) JOIN jobs j ON j.uid = u.uid",
                            1, params, &r, e))
        goto out;
    for (int row = 0; asked && row < PQntuples(r); row++) {
        int64_t k = val_i64(r, row, 0);

        if (k >= 1 && (size_t)k <= asked)
            attempt[at[k - 1]] = (int)val_i64(r, row, 1);
    }
    if (asked)
        PQclear(r);
    rc = 0;
out:
    buf_free(&b);
    free(at);
    return rc;
}

/* ---- transitions -------------------------------------------------------------------------- */

#define TS(ms) "CASE WHEN " ms " > 0 THEN to_timestamp(" ms " / 1000.0) END"

/* One statement: the fence (the leader row locked FOR SHARE at our epoch, so a takeover's
 * epoch increment waits for us or we see it and write nothing), the rows to change, their
 * events, the reclaim ledger. The result says whether the fence held and which jobs
 * changed. */
/* clang-format off */
static const char sql_apply[] =
    "WITH fence AS (SELECT epoch FROM leader WHERE id = 1 AND epoch = $1::bigint FOR SHARE),"
    " i AS (SELECT * FROM unnest($2::bigint[], $3::text[], $4::int[], $5::text[], $6::text[],"
    "  $7::text[], $8::text[], $9::bigint[], $10::text[], $11::text[], $12::text[],"
    "  $13::jsonb[], $14::jsonb[], $15::bigint[], $16::bool[], $17::bigint[], $18::bool[],"
    "  $19::bool[], $20::text[], $21::int[], $22::int[], $23::float8[], $24::int[],"
    "  $25::bigint[], $26::text[], $27::bool[], $28::bigint[])"
    "  AS t(id, from_phase, attempt, to_phase, type, reason, message, at_ms, cluster, pool,"
    "  sku, plan, placement, lease_end_ms, over_quota, not_before_ms, preempted, failed,"
    "  rc_reason, gpus, deficit, lost, grace_s, snap_ms, member_ns, retry, ckpt_by_ms)),"
    /* The rows as they were (every CTE reads the statement's snapshot): where a requeued
     * or failed attempt ran, after upd has cleared it. */
    " pre AS (SELECT id, cluster, pool, sku_placed FROM jobs WHERE id = ANY($2::bigint[])),"
    " upd AS (UPDATE jobs j SET phase = i.to_phase, reason = i.reason, message = i.message,"
    "  cluster = CASE i.to_phase WHEN 'Admitted' THEN i.cluster WHEN 'Queued' THEN NULL"
    "   ELSE j.cluster END,"
    "  pool = CASE i.to_phase WHEN 'Admitted' THEN i.pool WHEN 'Queued' THEN NULL"
    "   ELSE j.pool END,"
    "  sku_placed = CASE i.to_phase WHEN 'Admitted' THEN i.sku WHEN 'Queued' THEN NULL"
    "   ELSE j.sku_placed END,"
    "  node_plan = CASE i.to_phase WHEN 'Admitted' THEN i.plan WHEN 'Queued' THEN NULL"
    "   ELSE j.node_plan END,"
    "  placement = CASE i.to_phase WHEN 'Admitted' THEN i.placement ELSE j.placement END,"
    "  member_namespace = CASE i.to_phase WHEN 'Dispatched' THEN i.member_ns"
    "   WHEN 'Queued' THEN NULL ELSE j.member_namespace END,"
    "  lease_end_at = CASE i.to_phase WHEN 'Admitted' THEN " TS("i.lease_end_ms")
    "   WHEN 'Queued' THEN NULL ELSE j.lease_end_at END,"
    "  over_quota = CASE i.to_phase WHEN 'Admitted' THEN i.over_quota"
    "   WHEN 'Queued' THEN false ELSE j.over_quota END,"
    "  admitted_at = CASE i.to_phase WHEN 'Admitted' THEN now() ELSE j.admitted_at END,"
    "  dispatched_at = CASE i.to_phase WHEN 'Dispatched' THEN COALESCE(" TS("i.at_ms") ", now())"
    "   WHEN 'Queued' THEN NULL"
    "   ELSE j.dispatched_at END,"
    "  started_at = CASE WHEN i.to_phase = 'Running' AND i.from_phase <> 'Running'"
    "   THEN COALESCE(" TS("i.at_ms") ", now()) WHEN i.to_phase = 'Queued' THEN NULL"
    "   ELSE j.started_at END,"
    "  finished_at = CASE WHEN i.to_phase IN ('Succeeded', 'Failed', 'Cancelled')"
    "   THEN COALESCE(" TS("i.at_ms") ", now()) ELSE j.finished_at END,"
    "  attempt = j.attempt + CASE WHEN i.to_phase = 'Queued' AND i.from_phase <> 'Queued'"
    "   THEN 1 ELSE 0 END,"
    "  preemptions = j.preemptions + CASE WHEN i.preempted THEN 1 ELSE 0 END,"
    "  dispatch_failures = j.dispatch_failures + CASE WHEN i.failed THEN 1 ELSE 0 END,"
    "  retries = j.retries + CASE WHEN i.retry THEN 1 ELSE 0 END,"
    "  queued_at = CASE i.to_phase WHEN 'Queued' THEN now() ELSE j.queued_at END,"
    "  not_before = CASE i.to_phase WHEN 'Queued' THEN " TS("i.not_before_ms")
    "   ELSE j.not_before END,"
    "  preempt_requested_at = CASE WHEN i.to_phase = 'Preempting'"
    "   AND i.from_phase <> 'Preempting' THEN now()"
    "   WHEN i.to_phase = 'Queued' THEN NULL ELSE j.preempt_requested_at END,"
    /* The checkpoint request is written once, on entering Preempting: a repeated
     * transition never moves it (nor its deadline). */
    "  checkpoint_requested_at = CASE WHEN i.to_phase = 'Preempting'"
    "   AND i.from_phase <> 'Preempting' THEN CASE WHEN i.ckpt_by_ms > 0 THEN now() END"
    "   WHEN i.to_phase = 'Queued' THEN NULL ELSE j.checkpoint_requested_at END,"
    "  checkpoint_deadline = CASE WHEN i.to_phase = 'Preempting'"
    "   AND i.from_phase <> 'Preempting' THEN " TS("i.ckpt_by_ms")
    /* Preempting again (escalation): the deadline only ever comes forward. */
    "   WHEN i.to_phase = 'Preempting' AND i.ckpt_by_ms > 0"
    "   THEN LEAST(j.checkpoint_deadline, " TS("i.ckpt_by_ms") ")"
    "   WHEN i.to_phase = 'Queued' THEN NULL ELSE j.checkpoint_deadline END,"
    "  updated_at = now(), resource_version = nextval('resource_version_seq')"
    "  FROM i JOIN pre ON pre.id = i.id"
    "  WHERE j.id = i.id AND j.phase = i.from_phase AND j.attempt = i.attempt"
    "   AND EXISTS (SELECT 1 FROM fence)"
    "  RETURNING j.id, j.namespace, COALESCE(j.cluster, pre.cluster) AS cluster,"
    "   COALESCE(j.sku_placed, pre.sku_placed) AS sku_placed, COALESCE(j.pool, pre.pool) AS pool,"
    "   i.attempt, i.from_phase, i.to_phase, i.type, i.reason, i.message, i.rc_reason, i.gpus,"
    "   i.deficit, i.lost, i.grace_s, i.snap_ms, i.retry, i.ckpt_by_ms,"
    "   j.checkpoint_requested_at AS ckpt_at, j.checkpoint_deadline AS ckpt_deadline),"
    /* The phase's event, then (one INSERT, so the ids keep this order) a checkpoint-first
     * victim's CheckpointRequested. */
    " ev AS (INSERT INTO job_events (job_id, type, reason, message, from_phase, to_phase,"
    "  cluster, pool, sku)"
    "  SELECT id, type, reason, message, from_phase, to_phase, cluster, pool, sku_placed"
    "  FROM (SELECT id, 0 AS o, COALESCE(type, to_phase) AS type, reason, message, from_phase,"
    "   to_phase, cluster, pool, sku_placed FROM upd"
    "   UNION ALL SELECT id, 1, 'CheckpointRequested', 'CheckpointRequested',"
    "   'asked to checkpoint by ' || to_char(ckpt_deadline AT TIME ZONE 'UTC',"
    "   'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') || ' (annotation " JOB_CHECKPOINT_ANNOTATION
    " and GET .../checkpoint); deleted at its next checkpoint or at that deadline',"
    "   to_phase, to_phase, cluster, pool, sku_placed FROM upd"
    "   WHERE to_phase = 'Preempting' AND from_phase <> 'Preempting' AND ckpt_deadline IS NOT NULL)"
    "  x ORDER BY id, o RETURNING job_id),"
    /* The ledger: a reclaim or a priority preemption when the job enters Preempting (its
     * GPUs are freed when it leaves), a failure retry when the job is requeued with retry
     * (its work is already gone). */
    " led AS (INSERT INTO reclaims (job_id, namespace, cluster, sku, pool, attempt, reason,"
    "  gpus, deficit, lost_gpu_hours, grace_s, snapshot_at, freed_at)"
    "  SELECT id, namespace, COALESCE(cluster, '-'), COALESCE(sku_placed, '-'), pool, attempt,"
    "  CASE WHEN retry THEN 'retry' ELSE COALESCE(rc_reason, 'unknown') END, gpus, deficit,"
    "  lost, grace_s, " TS("snap_ms") ", CASE WHEN retry THEN now() END"
    "  FROM upd WHERE (to_phase = 'Preempting' AND from_phase <> 'Preempting')"
    "   OR (retry AND to_phase = 'Queued') RETURNING 1),"
    " freed AS (UPDATE reclaims r SET freed_at = now() FROM upd"
    "  WHERE r.job_id = upd.id AND upd.from_phase = 'Preempting'"
    "  AND upd.to_phase <> 'Preempting' AND r.freed_at IS NULL RETURNING 1)"
    " SELECT (SELECT count(*) FROM fence), (SELECT string_agg(job_id::text, ',') FROM ev),"
    " (SELECT count(*) FROM led), (SELECT count(*) FROM freed)";
/* clang-format on */

/* The plan as the node_plan column holds it: [["node-a", 8], ...]; NULL when none. */
static char *plan_json(const struct job_node_use *plan, size_t n)
{
    struct buf b;

    if (n == 0)
        return NULL;
    buf_init(&b, 0);
    buf_puts(&b, "[");
    for (size_t i = 0; i < n; i++) {
        buf_puts(&b, i ? ",[" : "[");
        buf_json_str(&b, plan[i].node);
        buf_printf(&b, ",%d]", plan[i].gpus);
    }
    buf_puts(&b, "]");
    return buf_steal(&b);
}

#define APPLY_PARAMS 28

int store_sched_apply(struct store *s, int64_t epoch, const struct store_transition *t, size_t n,
                      bool *applied, struct err *e)
{
    struct buf b[APPLY_PARAMS - 1];
    const char *params[APPLY_PARAMS];
    char ep[24], num[64];
    PGresult *r = NULL;
    int rc = -1;

    if (applied)
        memset(applied, 0, n * sizeof(*applied));
    if (n == 0)
        return 0;
    for (int k = 0; k < APPLY_PARAMS - 1; k++) {
        buf_init(&b[k], 0);
        buf_puts(&b[k], "{");
    }
    for (size_t i = 0; i < n; i++) {
        const struct store_transition *x = &t[i];
        char *plan;

#define ADD_STR(k, v) store_array_add(&b[k], (v))
#define ADD_NUM(k, fmt, v)                                                                         \
    do {                                                                                           \
        snprintf(num, sizeof(num), fmt, v);                                                        \
        store_array_add(&b[k], num);                                                               \
    } while (0)
        ADD_NUM(0, "%" PRId64, x->job_id);
        ADD_STR(1, job_phase_name(x->from));
        ADD_NUM(2, "%d", x->attempt);
        ADD_STR(3, job_phase_name(x->to));
        ADD_STR(4, x->type);
        ADD_STR(5, x->reason);
        ADD_STR(6, x->message);
        ADD_NUM(7, "%" PRId64, x->at_ms);
        ADD_STR(8, x->cluster);
        ADD_STR(9, x->pool);
        ADD_STR(10, x->sku);
        plan = plan_json(x->plan, x->n_plan);
        ADD_STR(11, plan);
        free(plan);
        ADD_STR(12, x->placement_json);
        ADD_NUM(13, "%" PRId64, x->lease_end_ms);
        ADD_STR(14, x->over_quota ? "t" : "f");
        ADD_NUM(15, "%" PRId64, x->not_before_ms);
        ADD_STR(16, x->preempted ? "t" : "f");
        ADD_STR(17, x->failed_dispatch ? "t" : "f");
        ADD_STR(18, x->reclaim_reason);
        ADD_NUM(19, "%d", x->gpus);
        ADD_NUM(20, "%d", x->deficit);
        ADD_NUM(21, "%.6f", x->lost_gpu_hours);
        ADD_NUM(22, "%d", x->grace_s);
        ADD_NUM(23, "%" PRId64, x->snapshot_ms);
        ADD_STR(24, x->member_ns);
        ADD_STR(25, x->retry ? "t" : "f");
        ADD_NUM(26, "%" PRId64, x->checkpoint_by_ms);
#undef ADD_STR
#undef ADD_NUM
    }
    snprintf(ep, sizeof(ep), "%" PRId64, epoch);
    params[0] = ep;
    for (int k = 0; k < APPLY_PARAMS - 1; k++) {
        buf_puts(&b[k], "}");
        params[k + 1] = b[k].data;
    }
    /* One statement is one transaction; retrying it on a fresh connection after a broken
     * one is safe because every row is conditional on the phase and attempt it expects. */
    if (store_exec(s, sql_apply, APPLY_PARAMS, params, &r, e))
        goto out;
    if (strcmp(PQgetvalue(r, 0, 0), "1") != 0) {
        err_set(e, ERR_CONFLICT, "leader.epoch", "epoch %" PRId64 " is no longer the leader's",
                epoch);
        goto out;
    }
    if (applied && !PQgetisnull(r, 0, 1)) {
        const char *p = PQgetvalue(r, 0, 1);

        while (*p) {
            char *end;
            long long id = strtoll(p, &end, 10);

            if (end == p)
                break;
            /* n is small per call and ids come back in id order; a linear scan is fine. */
            for (size_t i = 0; i < n; i++)
                if (t[i].job_id == id)
                    applied[i] = true;
            p = *end == ',' ? end + 1 : end;
        }
    }
    rc = 0;
out:
    PQclear(r);
    for (int k = 0; k < APPLY_PARAMS - 1; k++)
        buf_free(&b[k]);
    return rc;
}

int store_sched_ledger_lost(struct store *s, int64_t epoch, int64_t job_id, int attempt,
                            double lost_gpu_hours, struct err *e)
{
    char ep[24], id[24], at[16], lost[32];
    const char *params[4] = {ep, id, at, lost};
    PGresult *r;
    bool fenced;

    snprintf(ep, sizeof(ep), "%" PRId64, epoch);
    snprintf(id, sizeof(id), "%" PRId64, job_id);
    snprintf(at, sizeof(at), "%d", attempt);
    snprintf(lost, sizeof(lost), "%.6f", lost_gpu_hours > 0 ? lost_gpu_hours : 0);
    if (store_exec(s,
                   "WITH fence AS (SELECT epoch FROM leader WHERE id = 1 AND epoch = $1::bigint"
                   " FOR SHARE),"
                   " upd AS (UPDATE reclaims SET lost_gpu_hours ="
                   " GREATEST(lost_gpu_hours, $4::float8) WHERE job_id = $2::bigint"
                   " AND attempt = $3::int AND freed_at IS NULL"
                   " AND EXISTS (SELECT 1 FROM fence) RETURNING 1)"
                   " SELECT (SELECT count(*) FROM fence), (SELECT count(*) FROM upd)",
                   4, params, &r, e))
        return -1;
    fenced = strcmp(PQgetvalue(r, 0, 0), "1") == 0;
    PQclear(r);
    if (!fenced)
        return err_set(e, ERR_CONFLICT, "leader.epoch",
                       "epoch %" PRId64 " is no longer the leader's", epoch);
    return 0;
}

/* ---- policy state ------------------------------------------------------------------------ */

int store_sched_state_save(struct store *s, int64_t epoch, const char *state_json, struct err *e)
{
    char ep[24];
    const char *params[2] = {ep, state_json};
    PGresult *r;
    bool saved;

    snprintf(ep, sizeof(ep), "%" PRId64, epoch);
    if (store_exec(s,
                   "WITH fence AS (SELECT epoch FROM leader WHERE id = 1 AND epoch = $1::bigint"
                   " FOR SHARE)"
                   " INSERT INTO scheduler_state (id, state, epoch) SELECT 1, $2::jsonb, epoch"
                   " FROM fence ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state,"
                   " epoch = EXCLUDED.epoch, updated_at = now()",
                   2, params, &r, e))
        return -1;
    saved = strcmp(PQcmdTuples(r), "1") == 0;
    PQclear(r);
    if (!saved)
        return err_set(e, ERR_CONFLICT, "leader.epoch",
                       "epoch %" PRId64 " is no longer the leader's", epoch);
    return 0;
}

int store_sched_state_load(struct store *s, char **state_json, struct err *e)
{
    PGresult *r;

    if (store_exec(s, "SELECT state::text FROM scheduler_state WHERE id = 1", 0, NULL, &r, e))
        return -1;
    *state_json = PQntuples(r) ? xstrdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    return 0;
}

/* ---- checkpoints -------------------------------------------------------------------------- */

/* The checkpoint statement's second column: rows updated (1 when it was recorded). */
static enum audit_outcome checkpoint_outcome(const PGresult *r)
{
    return strcmp(PQgetvalue(r, 0, 1), "1") == 0 ? AUDIT_STATUS : AUDIT_NONE;
}

int store_job_checkpoint(struct store *s, const char *ns, const char *name, int64_t at_ms,
                         const struct store_audit *audit, struct job **out, struct err *e)
{
    /* The row lock orders us with the scheduler's transitions; the phase check and the
     * update are one statement. */
    static const char sql[] =
        "WITH j AS (SELECT id, phase, started_at, dispatched_at FROM jobs"
        "  WHERE namespace = $1 AND name = $2 FOR UPDATE),"
        " t AS (SELECT CASE WHEN $3::bigint > 0 THEN to_timestamp($3::bigint / 1000.0)"
        "  ELSE now() END AS ts),"
        " ok AS (SELECT j.id, j.phase FROM j, t WHERE j.phase IN ('Dispatched', 'Running',"
        "  'Preempting') AND t.ts <= now() + interval '5 seconds'"
        "  AND t.ts >= COALESCE(j.started_at, j.dispatched_at, '-infinity')),"
        " upd AS (UPDATE jobs SET last_checkpoint_at = GREATEST(last_checkpoint_at, t.ts),"
        "  updated_at = now(), resource_version = nextval('resource_version_seq')"
        "  FROM ok, t WHERE jobs.id = ok.id RETURNING jobs.id),"
        " ev AS (INSERT INTO job_events (job_id, type, reason, message, from_phase, to_phase)"
        "  SELECT ok.id, 'Checkpoint', 'CheckpointReported', 'checkpoint written at ' ||"
        "  to_char(t.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), ok.phase,"
        "  ok.phase FROM ok, t RETURNING 1)"
        " SELECT (SELECT phase FROM j), (SELECT count(*) FROM upd),"
        " (SELECT t.ts > now() + interval '5 seconds' FROM t)";
    char at[24];
    const char *params[3] = {ns, name, at};
    PGresult *r;
    const char *phase;

    snprintf(at, sizeof(at), "%" PRId64, at_ms > 0 ? at_ms : 0);
    if (store_exec_audited(s, sql, 3, params, audit, checkpoint_outcome, &r, e))
        return -1;
    if (PQgetisnull(r, 0, 0)) {
        PQclear(r);
        return err_set(e, ERR_NOT_FOUND, NULL, "trainingjob %s/%s not found", ns, name);
    }
    phase = PQgetvalue(r, 0, 0);
    if (strcmp(PQgetvalue(r, 0, 1), "1") != 0) {
        if (strcmp(phase, "Dispatched") != 0 && strcmp(phase, "Running") != 0 &&
            strcmp(phase, "Preempting") != 0)
            err_set(e, ERR_CONFLICT, "status.phase",
                    "trainingjob %s/%s is %s; checkpoints are recorded only while it runs", ns,
                    name, phase);
        else if (PQgetvalue(r, 0, 2)[0] == 't')
            err_set(e, ERR_INVALID, "time", "checkpoint time is in the future");
        else
            err_set(e, ERR_INVALID, "time", "checkpoint time is before the job started");
        PQclear(r);
        return -1;
    }
    PQclear(r);
    if (out)
        return store_job_get(s, ns, name, out, e);
    return 0;
}
