/* sched.c -- the scheduler's PostgreSQL side: the leader session (advisory lock, fencing
 * epoch, LISTEN), live jobs, fenced transitions with their events, checkpoints, ledger. */
#include "store/sched.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "store/conn.h"
#include "store/store.h"

#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Key of the session-level advisory lock the leader holds (any fixed number no other code
 * uses; the migration lock is ...108). */
#define LEADER_LOCK_KEY "7378659448023109"

/* ---- leader session ---------------------------------------------------------------------- */

struct store_leader {
    char *dsn;
    char *holder;
    PGconn *pg;
    bool locked;
};

int store_leader_open(const char *dsn, const char *holder, struct store_leader **out, struct err *e)
{
    struct store_leader *l;

    if (!dsn || !*dsn)
        return err_set(e, ERR_CONFIG, "database.dsn", "database DSN is empty");
    l = xcalloc(1, sizeof(*l));
    l->dsn = xstrdup(dsn);
    l->holder = xstrdup(holder && *holder ? holder : "fedsched");
    *out = l;
    return 0;
}

static void leader_disconnect(struct store_leader *l)
{
    if (l->pg)
        PQfinish(l->pg);
    l->pg = NULL;
    l->locked = false;
}

void store_leader_close(struct store_leader **lp)
{
    struct store_leader *l;

    if (!lp || !*lp)
        return;
    l = *lp;
    leader_disconnect(l);
    free(l->dsn);
    free(l->holder);
    free(l);
    *lp = NULL;
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Keepalives make a silently dead network path end the session within seconds, so a
 * partitioned leader's lock is released and it learns it no longer leads. */
static int leader_connect(struct store_leader *l, struct err *e)
{
    const char *keys[] = {"dbname",           "connect_timeout",  "application_name",
                          "keepalives",       "keepalives_idle",  "keepalives_interval",
                          "keepalives_count", "tcp_user_timeout", NULL};
    const char *vals[] = {l->dsn, "3", "fedsched-leader", "1", "2", "1", "3", "5000", NULL};
    char msg[256];

    if (l->pg && PQstatus(l->pg) == CONNECTION_OK)
        return 0;
    leader_disconnect(l);
    l->pg = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(l->pg) != CONNECTION_OK) {
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(l->pg));
        msg[strcspn(msg, "\n")] = '\0';
        leader_disconnect(l);
        return err_set(e, ERR_DB, NULL, "database unreachable: %s", msg);
    }
    PQsetNoticeProcessor(l->pg, ignore_notice, NULL);
    return 0;
}

/* Runs sql on the session; a failure breaks the session (and so the lock). */
static int leader_exec(struct store_leader *l, const char *sql, int nparams,
                       const char *const *params, PGresult **out, struct err *e)
{
    PGresult *r = PQexecParams(l->pg, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    char msg[256];

    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        if (out)
            *out = r;
        else
            PQclear(r);
        return 0;
    }
    snprintf(msg, sizeof(msg), "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(l->pg));
    msg[strcspn(msg, "\n")] = '\0';
    PQclear(r);
    leader_disconnect(l);
    return err_set(e, ERR_DB, NULL, "leader session: %s", msg);
}

int store_leader_try(struct store_leader *l, bool *acquired, int64_t *epoch, struct err *e)
{
    const char *params[1] = {l->holder};
    PGresult *r = NULL;
    bool got;

    if (leader_connect(l, e))
        return -1;
    if (leader_exec(l, "SELECT pg_try_advisory_lock(" LEADER_LOCK_KEY ")", 0, NULL, &r, e))
        return -1;
    got = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!got) {
        *acquired = false;
        return 0;
    }
    l->locked = true;
    /* LISTEN before the epoch moves, so nothing submitted after the takeover is missed. */
    if (leader_exec(l, "LISTEN fedsched_jobs", 0, NULL, NULL, e) ||
        leader_exec(l, "LISTEN fedsched_changes", 0, NULL, NULL, e))
        return -1;
    if (leader_exec(l,
                    "UPDATE leader SET epoch = epoch + 1, holder = $1, acquired_at = now(),"
                    " renewed_at = now() WHERE id = 1 RETURNING epoch",
                    1, params, &r, e))
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        leader_disconnect(l);
        return err_set(e, ERR_INTERNAL, NULL, "the leader row is missing");
    }
    *epoch = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    *acquired = true;
    PQclear(r);
    return 0;
}

int store_leader_renew(struct store_leader *l, int64_t epoch, struct err *e)
{
    char ep[24];
    const char *params[1] = {ep};
    PGresult *r = NULL;
    bool ours;

    if (!l->pg || !l->locked || PQstatus(l->pg) != CONNECTION_OK) {
        leader_disconnect(l);
        return err_set(e, ERR_DB, NULL, "leader session lost");
    }
    snprintf(ep, sizeof(ep), "%" PRId64, epoch);
    if (leader_exec(l, "UPDATE leader SET renewed_at = now() WHERE id = 1 AND epoch = $1", 1,
                    params, &r, e))
        return -1;
    ours = strcmp(PQcmdTuples(r), "1") == 0;
    PQclear(r);
    if (!ours) {
        store_leader_release(l);
        return err_set(e, ERR_CONFLICT, "leader.epoch", "epoch %" PRId64 " was superseded", epoch);
    }
    return 0;
}

void store_leader_release(struct store_leader *l)
{
    if (!l->pg || !l->locked)
        return;
    if (leader_exec(l, "SELECT pg_advisory_unlock(" LEADER_LOCK_KEY ")", 0, NULL, NULL, NULL) == 0)
        leader_exec(l, "UNLISTEN *", 0, NULL, NULL, NULL);
    l->locked = false;
}

int store_leader_wait(struct store_leader *l, int timeout_ms, bool *woken, struct err *e)
{
    struct pollfd pfd;
    PGnotify *n;

    *woken = false;
    if (!l->pg || PQstatus(l->pg) != CONNECTION_OK) {
        leader_disconnect(l);
        return err_set(e, ERR_DB, NULL, "leader session lost");
    }
    for (int round = 0; round < 2; round++) {
        if (!PQconsumeInput(l->pg)) {
            char msg[256];

            snprintf(msg, sizeof(msg), "%s", PQerrorMessage(l->pg));
            msg[strcspn(msg, "\n")] = '\0';
            leader_disconnect(l);
            return err_set(e, ERR_DB, NULL, "leader session: %s", msg);
        }
        while ((n = PQnotifies(l->pg))) {
            *woken = true;
            PQfreemem(n);
        }
        if (*woken || round == 1 || timeout_ms <= 0)
            return 0;
        pfd.fd = PQsocket(l->pg);
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, timeout_ms) <= 0)
            return 0;
    }
    return 0;
}

int store_leader_get(struct store *s, struct store_leader_info *out, struct err *e)
{
    static const char sql[] =
        "SELECT epoch, COALESCE(holder, ''),"
        " COALESCE((extract(epoch FROM acquired_at) * 1000)::bigint, 0),"
        " COALESCE((extract(epoch FROM renewed_at) * 1000)::bigint, 0),"
        " EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
        "  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        "  AND classid = (" LEADER_LOCK_KEY "::bigint >> 32)::oid"
        "  AND objid = (" LEADER_LOCK_KEY "::bigint & 4294967295)::oid AND objsubid = 1)"
        " FROM leader WHERE id = 1";
    PGresult *r;

    if (store_exec(s, sql, 0, NULL, &r, e))
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return err_set(e, ERR_INTERNAL, NULL, "the leader row is missing");
    }
    memset(out, 0, sizeof(*out));
    out->epoch = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    snprintf(out->holder, sizeof(out->holder), "%s", PQgetvalue(r, 0, 1));
    out->acquired_ms = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    out->renewed_ms = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
    out->locked = PQgetvalue(r, 0, 4)[0] == 't';
    PQclear(r);
    return 0;
}

/* ---- live jobs ---------------------------------------------------------------------------- */

#define MS(col) "COALESCE((extract(epoch FROM " col ") * 1000)::bigint, 0)"
#define LIST(x)                                                                                    \
    "ARRAY(SELECT v FROM jsonb_array_elements_text(" x ") WITH ORDINALITY l(v, o) ORDER BY o)"
#define PLAN(x)                                                                                    \
    "ARRAY(SELECT " x " FROM jsonb_array_elements(node_plan) WITH ORDINALITY l(p, o) ORDER BY o)"

/* The columns in the order load_row() reads them; the lists as text arrays. */
/* clang-format off */
static const char sql_load[] =
    "SELECT id, uid, namespace, name, phase, COALESCE(cluster, ''), COALESCE(pool, ''), sku,"
    " COALESCE(sku_placed, ''), COALESCE(spec->>'framework', 'pytorch'),"
    " " LIST("spec->'resources'->'alternativeInstanceTypes'") ","
    " " LIST("spec->'scheduling'->'clusterAffinity'") ","
    " " PLAN("p->>0") ", " PLAN("(p->>1)::int") ","
    " gpu_count, gpus_per_worker, priority, preemptible, over_quota, cancel_requested,"
    " attempt, preemptions, dispatch_failures,"
    " COALESCE((spec->'scheduling'->>'maxRuntimeSeconds')::bigint, 0),"
    " COALESCE((spec->'scheduling'->>'checkpointIntervalSeconds')::bigint, 0),"
    " " MS("created_at") ", " MS("queued_at") ", " MS("admitted_at") ", " MS("dispatched_at") ","
    " " MS("started_at") ", " MS("last_checkpoint_at") ", " MS("lease_end_at") ","
    " " MS("not_before") ", " MS("preempt_requested_at")
    " FROM jobs WHERE phase NOT IN ('Succeeded', 'Failed', 'Cancelled') ORDER BY id";
/* clang-format on */

enum { COL_ALTS = 10, COL_AFFINITY, COL_PLAN_NODES, COL_PLAN_GPUS, COL_GPU_COUNT };

static int64_t val_i64(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void copy_str(char *dst, size_t size, const PGresult *r, int row, int col)
{
    snprintf(dst, size, "%s", PQgetvalue(r, row, col));
}

/* The arenas of a job list: strings, name pointers and plan entries, each sized by a first
 * pass over the result so no list is ever cut. */
struct arenas {
    char *next; /* the next free byte of the strings */
    const char **names;
    struct job_node_use *uses;
    size_t n_names, n_uses; /* used so far */
};

static const char **take_names(struct arenas *a, const PGresult *r, int row, int col, size_t *n)
{
    const char *text = PQgetvalue(r, row, col);
    const char **out = a->names + a->n_names;

    *n = store_array_parse(text, &a->next, out, store_array_count(text));
    a->n_names += *n;
    return out;
}

/* The plan: node names and their GPUs, two arrays of one length in the same order. */
static struct job_node_use *take_plan(struct arenas *a, const PGresult *r, int row, size_t *n)
{
    const char *gtext = PQgetvalue(r, row, COL_PLAN_GPUS);
    size_t n_nodes, n_gpus = store_array_count(gtext);
    const char **nodes = take_names(a, r, row, COL_PLAN_NODES, &n_nodes);
    const char **gpus = a->names + a->n_names; /* scratch: read into numbers at once */
    struct job_node_use *out = a->uses + a->n_uses;
    char *scratch = a->next;

    n_gpus = store_array_parse(gtext, &scratch, gpus, n_gpus);
    *n = n_nodes < n_gpus ? n_nodes : n_gpus;
    for (size_t i = 0; i < *n; i++) {
        out[i].node = nodes[i];
        out[i].gpus = gpus[i] ? (int)strtol(gpus[i], NULL, 10) : 0;
    }
    a->n_uses += *n;
    return out;
}

static void load_row(const PGresult *r, int row, struct store_sched_job *j, struct arenas *a)
{
    enum job_phase ph = PHASE_QUEUED;

    j->id = val_i64(r, row, 0);
    copy_str(j->uid, sizeof(j->uid), r, row, 1);
    copy_str(j->ns, sizeof(j->ns), r, row, 2);
    copy_str(j->name, sizeof(j->name), r, row, 3);
    job_phase_parse(PQgetvalue(r, row, 4), &ph); /* the CHECK constraint guards it */
    j->phase = ph;
    copy_str(j->cluster, sizeof(j->cluster), r, row, 5);
    copy_str(j->pool, sizeof(j->pool), r, row, 6);
    copy_str(j->sku, sizeof(j->sku), r, row, 7);
    copy_str(j->sku_placed, sizeof(j->sku_placed), r, row, 8);
    copy_str(j->framework, sizeof(j->framework), r, row, 9);
    j->alt_skus = take_names(a, r, row, COL_ALTS, &j->n_alt_skus);
    j->affinity = take_names(a, r, row, COL_AFFINITY, &j->n_affinity);
    j->plan = take_plan(a, r, row, &j->n_plan);
    j->gpu_count = (int)val_i64(r, row, COL_GPU_COUNT);
    j->gpus_per_worker = (int)val_i64(r, row, COL_GPU_COUNT + 1);
    j->priority = (int)val_i64(r, row, COL_GPU_COUNT + 2);
    j->preemptible = PQgetvalue(r, row, COL_GPU_COUNT + 3)[0] == 't';
    j->over_quota = PQgetvalue(r, row, COL_GPU_COUNT + 4)[0] == 't';
    j->cancel_requested = PQgetvalue(r, row, COL_GPU_COUNT + 5)[0] == 't';
    j->attempt = (int)val_i64(r, row, COL_GPU_COUNT + 6);
    j->preemptions = (int)val_i64(r, row, COL_GPU_COUNT + 7);
    j->dispatch_failures = (int)val_i64(r, row, COL_GPU_COUNT + 8);
    j->max_runtime_s = val_i64(r, row, COL_GPU_COUNT + 9);
    j->checkpoint_interval_s = val_i64(r, row, COL_GPU_COUNT + 10);
    j->created_ms = val_i64(r, row, COL_GPU_COUNT + 11);
    j->queued_ms = val_i64(r, row, COL_GPU_COUNT + 12);
    j->admitted_ms = val_i64(r, row, COL_GPU_COUNT + 13);
    j->dispatched_ms = val_i64(r, row, COL_GPU_COUNT + 14);
    j->started_ms = val_i64(r, row, COL_GPU_COUNT + 15);
    j->last_checkpoint_ms = val_i64(r, row, COL_GPU_COUNT + 16);
    j->lease_end_ms = val_i64(r, row, COL_GPU_COUNT + 17);
    j->not_before_ms = val_i64(r, row, COL_GPU_COUNT + 18);
    j->preempt_requested_ms = val_i64(r, row, COL_GPU_COUNT + 19);
}

int store_sched_load(struct store *s, struct store_sched_jobs *out, struct err *e)
{
    struct arenas a = {0};
    size_t n, bytes = 0, names = 0, uses = 0;
    PGresult *r;

    if (store_exec(s, sql_load, 0, NULL, &r, e))
        return -1;
    n = (size_t)PQntuples(r);
    for (int row = 0; row < (int)n; row++) {
        for (int col = COL_ALTS; col <= COL_PLAN_GPUS; col++) {
            bytes += (size_t)PQgetlength(r, row, col) + 1;
            names += store_array_count(PQgetvalue(r, row, col));
        }
        uses += store_array_count(PQgetvalue(r, row, COL_PLAN_NODES));
    }
    out->v = xcalloc(n + 1, sizeof(*out->v));
    out->n = n;
    out->strs = a.next = xmalloc(bytes + 1);
    out->names = a.names = xcalloc(names + 1, sizeof(*a.names));
    out->uses = a.uses = xcalloc(uses + 1, sizeof(*a.uses));
    for (int row = 0; row < (int)n; row++)
        load_row(r, row, &out->v[row], &a);
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
    "  $25::bigint[])"
    "  AS t(id, from_phase, attempt, to_phase, type, reason, message, at_ms, cluster, pool,"
    "  sku, plan, placement, lease_end_ms, over_quota, not_before_ms, preempted, failed,"
    "  rc_reason, gpus, deficit, lost, grace_s, snap_ms)),"
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
    "  lease_end_at = CASE i.to_phase WHEN 'Admitted' THEN " TS("i.lease_end_ms")
    "   WHEN 'Queued' THEN NULL ELSE j.lease_end_at END,"
    "  over_quota = CASE i.to_phase WHEN 'Admitted' THEN i.over_quota"
    "   WHEN 'Queued' THEN false ELSE j.over_quota END,"
    "  admitted_at = CASE i.to_phase WHEN 'Admitted' THEN now() ELSE j.admitted_at END,"
    "  dispatched_at = CASE i.to_phase WHEN 'Dispatched' THEN now() WHEN 'Queued' THEN NULL"
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
    "  queued_at = CASE i.to_phase WHEN 'Queued' THEN now() ELSE j.queued_at END,"
    "  not_before = CASE i.to_phase WHEN 'Queued' THEN " TS("i.not_before_ms")
    "   ELSE j.not_before END,"
    "  preempt_requested_at = CASE i.to_phase WHEN 'Preempting' THEN now()"
    "   WHEN 'Queued' THEN NULL ELSE j.preempt_requested_at END,"
    "  updated_at = now(), resource_version = nextval('resource_version_seq')"
    "  FROM i WHERE j.id = i.id AND j.phase = i.from_phase AND j.attempt = i.attempt"
    "   AND EXISTS (SELECT 1 FROM fence)"
    "  RETURNING j.id, j.namespace, j.cluster, j.sku_placed, j.pool, i.attempt, i.from_phase,"
    "   i.to_phase, i.type, i.reason, i.message, i.rc_reason, i.gpus, i.deficit, i.lost,"
    "   i.grace_s, i.snap_ms),"
    " ev AS (INSERT INTO job_events (job_id, type, reason, message, from_phase, to_phase)"
    "  SELECT id, COALESCE(type, to_phase), reason, message, from_phase, to_phase FROM upd"
    "  ORDER BY id RETURNING job_id),"
    " led AS (INSERT INTO reclaims (job_id, namespace, cluster, sku, pool, attempt, reason,"
    "  gpus, deficit, lost_gpu_hours, grace_s, snapshot_at)"
    "  SELECT id, namespace, COALESCE(cluster, '-'), COALESCE(sku_placed, '-'), pool, attempt,"
    "  COALESCE(rc_reason, 'unknown'), gpus, deficit, lost, grace_s, " TS("snap_ms")
    "  FROM upd WHERE to_phase = 'Preempting' AND from_phase <> 'Preempting' RETURNING 1),"
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

#define APPLY_PARAMS 25

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

/* ---- ledger ------------------------------------------------------------------------------- */

int store_reclaim_stats(struct store *s, int64_t since_ms, struct store_reclaim_stats *out,
                        struct err *e)
{
    static const char sql[] =
        "WITH r AS (SELECT lost_gpu_hours, freed_at,"
        "  extract(epoch FROM requested_at - snapshot_at) * 1000 AS req_ms,"
        "  extract(epoch FROM freed_at - snapshot_at) * 1000 AS freed_ms FROM reclaims"
        "  WHERE requested_at >= to_timestamp($1::bigint / 1000.0))"
        " SELECT count(*), count(freed_at), COALESCE(sum(lost_gpu_hours), 0),"
        " COALESCE(percentile_cont(0.5) WITHIN GROUP (ORDER BY req_ms), -1),"
        " COALESCE(percentile_cont(0.99) WITHIN GROUP (ORDER BY req_ms), -1),"
        " COALESCE(percentile_cont(0.5) WITHIN GROUP (ORDER BY freed_ms), -1),"
        " COALESCE(percentile_cont(0.99) WITHIN GROUP (ORDER BY freed_ms), -1) FROM r";
    char since[24];
    const char *params[1] = {since};
    PGresult *r;

    snprintf(since, sizeof(since), "%" PRId64, since_ms);
    if (store_exec(s, sql, 1, params, &r, e))
        return -1;
    out->reclaims = val_i64(r, 0, 0);
    out->freed = val_i64(r, 0, 1);
    out->lost_gpu_hours = strtod(PQgetvalue(r, 0, 2), NULL);
    out->request_p50_ms = strtod(PQgetvalue(r, 0, 3), NULL);
    out->request_p99_ms = strtod(PQgetvalue(r, 0, 4), NULL);
    out->freed_p50_ms = strtod(PQgetvalue(r, 0, 5), NULL);
    out->freed_p99_ms = strtod(PQgetvalue(r, 0, 6), NULL);
    PQclear(r);
    return 0;
}
