/* jobs.c -- jobs and their events in PostgreSQL. Every change is one transaction with
 * its event. Inserts go through the batcher (batch.c). */
#include "store/store.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/num.h"
#include "store/conn.h"
#include "store/rows.h"
#include "store/watch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* After a conflict: the job that holds the idempotency key, else the one with the name;
 * `same` tells whether the request is a retry of it. */
static const struct stmt stmt_existing = {
    STMT_JOB_EXISTING, "SELECT " JOB_COLUMNS ", (spec = $3::jsonb AND labels = $4::jsonb) AS same"
                       " FROM jobs WHERE namespace = $1 AND (name = $2 OR idempotency_key = $5)"
                       " ORDER BY (idempotency_key IS NOT DISTINCT FROM $5) DESC LIMIT 1"};
static const struct stmt stmt_events = {
    STMT_JOB_EVENTS, "SELECT j.id, e.id, (extract(epoch FROM e.ts) * 1000)::bigint,"
                     " e.type, e.reason, e.message, e.from_phase, e.to_phase"
                     " FROM jobs j LEFT JOIN job_events e ON e.job_id = j.id"
                     " WHERE j.namespace = $1 AND j.name = $2 ORDER BY e.id"};
static const struct stmt stmt_counts = {STMT_JOB_COUNTS,
                                        "SELECT phase, count(*) FROM jobs GROUP BY phase"};

static char *col_str(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : xstrdup(PQgetvalue(r, row, col));
}

static int64_t col_i64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int store_job_existing(struct store *s, const struct job *j, const char *idempotency_key,
                       struct job **out, struct err *e)
{
    const char *existing[5] = {j->ns, j->name, j->spec_json, j->labels_json, idempotency_key};
    PGresult *r = NULL;

    *out = NULL;
    if (store_exec_stmt(s, &stmt_existing, 5, existing, &r, e))
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 0;
    }
    if (PQgetvalue(r, 0, JOB_NCOLUMNS)[0] != 't') {
        bool by_key = idempotency_key && strcmp(PQgetvalue(r, 0, 3), j->name) != 0;

        if (by_key)
            err_set(e, ERR_CONFLICT, "Idempotency-Key",
                    "Idempotency-Key %s was used for job %s/%s with a different spec",
                    idempotency_key, j->ns, PQgetvalue(r, 0, 3));
        else
            err_set(e, ERR_CONFLICT, "metadata.name",
                    "trainingjob %s/%s already exists with a different spec or labels", j->ns,
                    j->name);
        PQclear(r);
        return -1;
    }
    *out = store_job_from_row(r, 0);
    PQclear(r);
    return 0;
}

int store_job_insert(struct store *s, const struct job *j, const char *idempotency_key,
                     const struct store_audit *audit, bool *created, struct job **out,
                     struct err *e)
{
    bool conflict = false;
    struct job *found;

    if (batch_insert(s, j, idempotency_key, audit, &conflict, out, e))
        return -1;
    if (!conflict) {
        *created = true;
        return 0;
    }
    if (store_job_existing(s, j, idempotency_key, &found, e))
        return -1;
    if (!found)
        return err_set(e, ERR_INTERNAL, NULL, "job %s/%s conflicted but cannot be found", j->ns,
                       j->name);
    /* A replay changes nothing, but the client sees it acknowledged like a creation, so
     * its row is written before the answer too. */
    if (audit) {
        struct store_audit replay = *audit;

        replay.status = audit->status_alt;
        if (store_audit_insert(s, &replay, 1, e)) {
            job_free(&found);
            if (e && e->code == ERR_INVALID) /* our row, not the caller's input */
                e->code = ERR_INTERNAL;
            return -1;
        }
    }
    *out = found;
    *created = false;
    return 0;
}

/* The WHERE terms of f after the first, appended to sql at *len with their parameters
 * (params[*np...], text kept in t); with mutable false the terms on what a job's changes
 * can alter (phase, cluster) are left out. */
struct filter_text {
    char phases[256], c_after[24], c_before[24];
    char *ns_list;
};

static void filter_sql(const struct store_job_filter *f, bool mutable, char *sql, size_t size,
                       int *len, const char **params, int *np, struct filter_text *t)
{
    if (f->ns) {
        params[(*np)++] = f->ns;
        *len += snprintf(sql + *len, size - (size_t)*len, " AND namespace = $%d", *np);
    }
    if (f->n_namespaces) {
        struct buf b;

        buf_init(&b, 0);
        buf_puts(&b, "{");
        for (size_t i = 0; i < f->n_namespaces; i++)
            store_array_add(&b, f->namespaces[i]);
        buf_puts(&b, "}");
        t->ns_list = buf_steal(&b);
        params[(*np)++] = t->ns_list;
        *len += snprintf(sql + *len, size - (size_t)*len, " AND namespace = ANY($%d::text[])", *np);
    }
    if (mutable && f->phase_mask) {
        size_t used = 0;

        t->phases[used++] = '{';
        for (int p = 0; p < PHASE_COUNT; p++)
            if (f->phase_mask & (1u << p))
                used += (size_t)snprintf(t->phases + used, sizeof(t->phases) - used, "%s%s",
                                         used > 1 ? "," : "", job_phase_name((enum job_phase)p));
        snprintf(t->phases + used, sizeof(t->phases) - used, "}");
        params[(*np)++] = t->phases;
        *len += snprintf(sql + *len, size - (size_t)*len, " AND phase = ANY($%d::text[])", *np);
    }
    if (f->sku) {
        params[(*np)++] = f->sku;
        *len += snprintf(sql + *len, size - (size_t)*len, " AND sku = $%d", *np);
    }
    if (f->labels_json) {
        params[(*np)++] = f->labels_json;
        *len += snprintf(sql + *len, size - (size_t)*len, " AND labels @> $%d::jsonb", *np);
    }
    if (mutable && f->cluster) {
        params[(*np)++] = f->cluster;
        *len += snprintf(sql + *len, size - (size_t)*len, " AND cluster = $%d", *np);
    }
    if (f->created_after_ms) {
        snprintf(t->c_after, sizeof(t->c_after), "%" PRId64, f->created_after_ms);
        params[(*np)++] = t->c_after;
        *len += snprintf(sql + *len, size - (size_t)*len,
                         " AND created_at >= to_timestamp($%d::bigint / 1000.0)", *np);
    }
    if (f->created_before_ms) {
        snprintf(t->c_before, sizeof(t->c_before), "%" PRId64, f->created_before_ms);
        params[(*np)++] = t->c_before;
        *len += snprintf(sql + *len, size - (size_t)*len,
                         " AND created_at < to_timestamp($%d::bigint / 1000.0)", *np);
    }
}

/* Runs sql and decodes every row as a job. */
static int jobs_of(struct store *s, const char *sql, int np, const char *const *params, size_t keep,
                   struct job ***out, size_t *n, PGresult **rows, struct err *e)
{
    PGresult *r;
    struct job **jobs;
    size_t count;

    if (store_exec(s, sql, np, params, &r, e))
        return -1;
    count = (size_t)PQntuples(r);
    if (count > keep)
        count = keep;
    jobs = xcalloc(count ? count : 1, sizeof(*jobs));
    for (size_t i = 0; i < count; i++)
        jobs[i] = store_job_from_row(r, (int)i);
    *out = jobs;
    *n = count;
    *rows = r;
    return 0;
}

int store_job_list(struct store *s, const struct store_job_filter *f, struct job ***out, size_t *n,
                   int64_t *next_after, struct err *e)
{
    char sql[1280], after[24], limit[16];
    const char *params[10];
    struct filter_text t = {.ns_list = NULL};
    int np = 0, len;
    PGresult *r = NULL;
    int rc;

    if (f->limit < 1 || f->limit > 1000)
        return err_set(e, ERR_INVALID, "limit", "limit %d not in 1..1000", f->limit);
    /* Newest first, the first page is every id below the largest. */
    snprintf(after, sizeof(after), "%" PRId64,
             f->newest_first && !f->after_id ? INT64_MAX : f->after_id);
    snprintf(limit, sizeof(limit), "%d", f->limit + 1);
    params[np++] = after;
    params[np++] = limit;
    len = snprintf(sql, sizeof(sql), "SELECT " JOB_COLUMNS " FROM jobs WHERE id %s $1",
                   f->newest_first ? "<" : ">");
    filter_sql(f, true, sql, sizeof(sql), &len, params, &np, &t);
    snprintf(sql + len, sizeof(sql) - (size_t)len, " ORDER BY id%s LIMIT $2",
             f->newest_first ? " DESC" : "");
    rc = jobs_of(s, sql, np, params, (size_t)f->limit, out, n, &r, e);
    free(t.ns_list);
    if (rc)
        return -1;
    *next_after = PQntuples(r) > f->limit ? (*out)[*n - 1]->id : 0;
    PQclear(r);
    return 0;
}

int store_job_changes(struct store *s, const struct store_job_filter *f, int64_t after_rv,
                      int64_t upto, int limit, struct job ***out, size_t *n, struct err *e)
{
    char sql[1280], after[24], lim[16], top[24];
    const char *params[11];
    struct filter_text t = {.ns_list = NULL};
    int np = 0, len;
    PGresult *r = NULL;
    int rc;

    if (limit < 1 || limit > 1000)
        return err_set(e, ERR_INVALID, "limit", "limit %d not in 1..1000", limit);
    snprintf(after, sizeof(after), "%" PRId64, after_rv);
    snprintf(lim, sizeof(lim), "%d", limit);
    params[np++] = after;
    params[np++] = lim;
    len =
        snprintf(sql, sizeof(sql), "SELECT " JOB_COLUMNS " FROM jobs WHERE resource_version > $1");
    if (upto > 0) {
        snprintf(top, sizeof(top), "%" PRId64, upto);
        params[np++] = top;
        len += snprintf(sql + len, sizeof(sql) - (size_t)len, " AND resource_version <= $%d", np);
    }
    filter_sql(f, false, sql, sizeof(sql), &len, params, &np, &t);
    snprintf(sql + len, sizeof(sql) - (size_t)len, " ORDER BY resource_version LIMIT $2");
    rc = jobs_of(s, sql, np, params, (size_t)limit, out, n, &r, e);
    free(t.ns_list);
    PQclear(r);
    return rc;
}

/* The transactions that hold the lock every writer of jobs takes before it draws a
 * version, and keeps until it has committed (and is visible to new snapshots). */
#define JOB_WRITERS                                                                                \
    "FROM pg_locks WHERE locktype = 'relation' AND relation = 'jobs'::regclass"                    \
    " AND mode = 'RowExclusiveLock' AND granted AND pid <> pg_backend_pid()"

int store_jobs_settle(struct store *s, const struct store_settle *prev, struct store_settle *now,
                      bool *drained, struct err *e)
{
    /* The sequence first, then the lock table: a version drawn before the first read is
     * committed or its writer shows in the second. */
    static const char sql[] =
        "SELECT (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END"
        " FROM resource_version_seq),"
        " (SELECT string_agg(virtualtransaction, ',') FROM (SELECT virtualtransaction " JOB_WRITERS
        " LIMIT 65) w),"
        " (SELECT count(*) " JOB_WRITERS " AND virtualtransaction = ANY($1::text[]))";
    struct buf b;
    const char *params[1];
    PGresult *r;
    const char *list;
    int rc;

    buf_init(&b, 0);
    buf_puts(&b, "{");
    for (size_t i = 0; prev && i < prev->n; i++)
        store_array_add(&b, prev->vxids[i]);
    buf_puts(&b, "}");
    params[0] = b.data;
    rc = store_exec(s, sql, 1, params, &r, e);
    buf_free(&b);
    if (rc)
        return -1;
    memset(now, 0, sizeof(*now));
    now->latest = col_i64(r, 0, 0);
    list = PQgetisnull(r, 0, 1) ? "" : PQgetvalue(r, 0, 1);
    while (*list) {
        size_t len = strcspn(list, ",");

        if (now->n == STORE_SETTLE_MAX) {
            now->overflow = true;
            break;
        }
        snprintf(now->vxids[now->n++], sizeof(now->vxids[0]), "%.*s", (int)len, list);
        list += len + (list[len] == ',');
    }
    *drained = !prev || (!prev->overflow && col_i64(r, 0, 2) == 0);
    PQclear(r);
    return 0;
}

int store_job_changes_count(struct store *s, const struct store_job_filter *f, int64_t after_rv,
                            int cap, int64_t *count, int64_t *latest, struct err *e)
{
    char sql[1400], after[24], lim[16];
    const char *params[10];
    struct filter_text t = {.ns_list = NULL};
    int np = 0, len;
    PGresult *r;
    int rc;

    snprintf(after, sizeof(after), "%" PRId64, after_rv);
    snprintf(lim, sizeof(lim), "%d", cap);
    params[np++] = after;
    params[np++] = lim;
    len = snprintf(sql, sizeof(sql),
                   "SELECT (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END"
                   " FROM resource_version_seq),"
                   " (SELECT count(*) FROM (SELECT 1 FROM jobs WHERE resource_version > $1");
    filter_sql(f, false, sql, sizeof(sql), &len, params, &np, &t);
    snprintf(sql + len, sizeof(sql) - (size_t)len, " LIMIT $2) c)");
    rc = store_exec(s, sql, np, params, &r, e);
    free(t.ns_list);
    if (rc)
        return -1;
    *latest = col_i64(r, 0, 0);
    *count = col_i64(r, 0, 1);
    PQclear(r);
    return 0;
}

int store_jobs_version(struct store *s, int64_t *rv, struct err *e)
{
    struct store_settle first, now;
    bool drained;

    if (store_jobs_settle(s, NULL, &first, &drained, e))
        return -1;
    for (int i = 0; first.n && i < 400; i++) {
        if (store_jobs_settle(s, &first, &now, &drained, e))
            return -1;
        if (drained)
            break;
        usleep(5 * 1000);
    }
    *rv = first.latest;
    return 0;
}

void store_jobs_free(struct job ***jobs, size_t n)
{
    if (!jobs || !*jobs)
        return;
    for (size_t i = 0; i < n; i++)
        job_free(&(*jobs)[i]);
    free(*jobs);
    *jobs = NULL;
}

int store_job_cancel(struct store *s, const char *ns, const char *name,
                     const struct store_audit *audit, bool *marked, struct job **out, struct err *e)
{
    static const char sql_lock[] =
        "SELECT id, phase FROM jobs WHERE namespace = $1 AND name = $2 FOR UPDATE";
    /* Queued: nothing runs anywhere yet, so the job ends here. Later phases have (or may
     * have) an object in a member cluster; the scheduler deletes it and then ends the
     * job, so here it is only marked. */
    static const char sql_cancel_now[] =
        "WITH upd AS (UPDATE jobs SET phase = 'Cancelled', cancel_requested = true,"
        " reason = 'Cancelled', message = 'cancelled by the user', finished_at = now(),"
        " updated_at = now(), resource_version = nextval('resource_version_seq')"
        " WHERE id = $1 RETURNING id)"
        " INSERT INTO job_events (job_id, type, reason, message, from_phase, to_phase)"
        " SELECT id, 'Cancelled', 'Cancelled', 'cancelled by the user', $2, 'Cancelled'"
        " FROM upd";
    static const char sql_cancel_later[] =
        "WITH upd AS (UPDATE jobs SET cancel_requested = true, reason = 'CancelRequested',"
        " message = 'cancel requested; stopping it in its cluster', updated_at = now(),"
        " resource_version = nextval('resource_version_seq')"
        " WHERE id = $1 AND NOT cancel_requested RETURNING id)"
        " INSERT INTO job_events (job_id, type, reason, message, from_phase, to_phase)"
        " SELECT id, 'CancelRequested', 'CancelRequested', 'cancel requested by the user',"
        " $2, $2 FROM upd";
    const char *params[2] = {ns, name};
    struct store_conn c = {0};
    PGresult *r = NULL;
    enum job_phase phase = PHASE_QUEUED;
    char id[24], phase_name[16];
    const char *upd[2] = {id, phase_name};
    int rc = -1;

    if (conn_begin(s, &c, e))
        return -1;
    if (conn_exec(&c, sql_lock, 2, params, &r, e))
        goto out;
    if (PQntuples(r) == 0) {
        PQclear(r);
        err_set(e, ERR_NOT_FOUND, NULL, "trainingjob %s/%s not found", ns, name);
        goto out;
    }
    snprintf(id, sizeof(id), "%s", PQgetvalue(r, 0, 0));
    snprintf(phase_name, sizeof(phase_name), "%s", PQgetvalue(r, 0, 1));
    job_phase_parse(phase_name, &phase);
    PQclear(r);
    if (phase == PHASE_SUCCEEDED || phase == PHASE_FAILED) {
        err_set(e, ERR_CONFLICT, "status.phase", "trainingjob %s/%s already %s", ns, name,
                phase_name);
        goto out;
    }
    if (phase != PHASE_CANCELLED) {
        if (conn_exec(&c, phase == PHASE_QUEUED ? sql_cancel_now : sql_cancel_later, 2, upd, &r, e))
            goto out;
        PQclear(r);
    }
    /* Cancelled now (or before): status; only marked, the cluster still to stop it: alt. */
    if (audit && conn_audit_insert(&c, audit, phase != PHASE_QUEUED && phase != PHASE_CANCELLED, e))
        goto out;
    rc = 0;
out:
    if (conn_finish(s, &c, rc == 0, e))
        rc = -1;
    if (rc)
        return rc;
    if (marked)
        *marked = phase != PHASE_QUEUED && phase != PHASE_CANCELLED;
    return store_job_get(s, ns, name, out, e);
}

int store_job_events(struct store *s, const char *ns, const char *name, struct job_event **out,
                     size_t *n, struct err *e)
{
    const char *params[2] = {ns, name};
    PGresult *r;
    struct job_event *evs;
    size_t count = 0;

    if (store_exec_stmt(s, &stmt_events, 2, params, &r, e))
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return err_set(e, ERR_NOT_FOUND, NULL, "trainingjob %s/%s not found", ns, name);
    }
    evs = xcalloc((size_t)PQntuples(r), sizeof(*evs));
    for (int row = 0; row < PQntuples(r); row++) {
        struct job_event *ev;

        if (PQgetisnull(r, row, 1))
            continue; /* a job without events (cannot happen, but LEFT JOIN allows it) */
        ev = &evs[count++];
        ev->id = col_i64(r, row, 1);
        ev->ts_ms = col_i64(r, row, 2);
        ev->type = col_str(r, row, 3);
        ev->reason = col_str(r, row, 4);
        ev->message = col_str(r, row, 5);
        ev->from_phase = col_str(r, row, 6);
        ev->to_phase = col_str(r, row, 7);
    }
    PQclear(r);
    *out = evs;
    *n = count;
    return 0;
}

void store_events_free(struct job_event **events, size_t n)
{
    if (!events || !*events)
        return;
    for (size_t i = 0; i < n; i++)
        job_event_clear(&(*events)[i]);
    free(*events);
    *events = NULL;
}

int store_job_counts(struct store *s, int64_t counts[PHASE_COUNT], struct err *e)
{
    PGresult *r;

    if (store_exec_stmt(s, &stmt_counts, 0, NULL, &r, e))
        return -1;
    memset(counts, 0, sizeof(int64_t) * PHASE_COUNT);
    for (int row = 0; row < PQntuples(r); row++) {
        enum job_phase p;

        if (job_phase_parse(PQgetvalue(r, row, 0), &p) == 0)
            counts[p] = col_i64(r, row, 1);
    }
    PQclear(r);
    return 0;
}

int store_job_placement(struct store *s, const char *ns, const char *name, char **out,
                        struct err *e)
{
    const char *params[2] = {ns, name};
    PGresult *r;

    if (store_exec(s, "SELECT placement::text FROM jobs WHERE namespace = $1 AND name = $2", 2,
                   params, &r, e))
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return err_set(e, ERR_NOT_FOUND, NULL, "trainingjob %s/%s not found", ns, name);
    }
    *out = PQgetisnull(r, 0, 0) ? NULL : xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}
