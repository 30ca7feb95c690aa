/* bulk.c -- one change to every job a label selector matches, or to one named job, in one
 * transaction with the events and the audit row (see bulk.h). The jobs are selected and
 * locked first, judged here one by one (what changes and why not), then changed by one
 * statement per kind of change, keyed by an array of ids. */
#include "store/bulk.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/job.h"
#include "base/mem.h"
#include "base/selector.h"
#include "store/conn.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEL_PARAMS_MAX (2 * SELECTOR_REQS_MAX + 4)

/* The statements of each change. $1 is the changed jobs' ids (bigint[]). Cancel's two
 * are store_job_cancel()'s, for many jobs: Queued ends here; a placed job is marked for
 * the scheduler to stop it in its member cluster and then end it. */
static const char sql_cancel_now[] =
    "WITH upd AS (UPDATE jobs SET phase = 'Cancelled', cancel_requested = true,"
    " reason = 'Cancelled', message = 'cancelled by the user', finished_at = now(),"
    " updated_at = now(), resource_version = nextval('resource_version_seq')"
    " WHERE id = ANY($1::bigint[]) RETURNING id)"
    " INSERT INTO job_events (job_id, type, reason, message, from_phase, to_phase)"
    " SELECT id, 'Cancelled', 'Cancelled', 'cancelled by the user', 'Queued', 'Cancelled'"
    " FROM upd";
static const char sql_cancel_later[] =
    "WITH upd AS (UPDATE jobs SET cancel_requested = true, reason = 'CancelRequested',"
    " message = 'cancel requested; stopping it in its cluster', updated_at = now(),"
    " resource_version = nextval('resource_version_seq')"
    " WHERE id = ANY($1::bigint[]) RETURNING id, phase)"
    " INSERT INTO job_events (job_id, type, reason, message, from_phase, to_phase)"
    " SELECT id, 'CancelRequested', 'CancelRequested', 'cancel requested by the user',"
    " phase, phase FROM upd";
/* $2: held (true or false), $3 the event's type and reason, $4 its message. */
static const char sql_held[] =
    "WITH upd AS (UPDATE jobs SET held = $2::boolean, updated_at = now(),"
    " resource_version = nextval('resource_version_seq')"
    " WHERE id = ANY($1::bigint[]) RETURNING id, phase)"
    " INSERT INTO job_events (job_id, type, reason, message, from_phase, to_phase)"
    " SELECT id, $3, $3, $4, phase, phase FROM upd";
/* $2: the new priority. The spec is canonical (trainingjob_parse() always writes
 * scheduling.priority), so the column and the spec say the same. old is read in the
 * statement's snapshot, before the update. */
static const char sql_priority[] =
    "WITH old AS (SELECT id, priority FROM jobs WHERE id = ANY($1::bigint[])),"
    " upd AS (UPDATE jobs SET priority = $2::integer,"
    " spec = jsonb_set(spec, '{scheduling,priority}', to_jsonb($2::integer)),"
    " updated_at = now(), resource_version = nextval('resource_version_seq')"
    " WHERE id = ANY($1::bigint[]) RETURNING id, phase)"
    " INSERT INTO job_events (job_id, type, reason, message, from_phase, to_phase)"
    " SELECT upd.id, 'Reprioritized', 'Reprioritized',"
    " 'priority ' || old.priority || ' -> ' || $2 || ' by the user', upd.phase, upd.phase"
    " FROM upd JOIN old ON old.id = upd.id";

/* The columns judged, in select order. */
enum { C_ID, C_NS, C_NAME, C_UID, C_PHASE, C_CANCEL, C_HELD, C_PRIORITY };

/* The WHERE clause of t into sql, its parameters appended to params (strings allocated
 * into owned[] where made here). */
struct query {
    struct buf sql;
    const char *params[SEL_PARAMS_MAX];
    char *owned[SEL_PARAMS_MAX];
    int np, n_owned;
};

static int add_param(struct query *q, const char *v, bool own)
{
    q->params[q->np++] = v;
    if (own)
        q->owned[q->n_owned++] = (char *)v;
    return q->np;
}

static char *text_array(char *const *v, size_t n)
{
    struct buf b;

    buf_init(&b, 0);
    buf_puts(&b, "{");
    for (size_t i = 0; i < n; i++)
        store_array_add(&b, v[i]);
    buf_puts(&b, "}");
    return buf_steal(&b);
}

/* Kubernetes' meaning of each operator on the labels object: != and notin match a job
 * without the key. */
static void where_selector(struct query *q, const struct selector *sel)
{
    for (size_t i = 0; sel && i < sel->n; i++) {
        const struct selector_req *r = &sel->reqs[i];
        int k = add_param(q, r->key, false), v = 0;

        switch (r->op) {
        case SELECTOR_EQ:
        case SELECTOR_NE:
            v = add_param(q, r->values[0], false);
            buf_printf(&q->sql, " AND labels ->> $%d %s $%d", k,
                       r->op == SELECTOR_EQ ? "=" : "IS DISTINCT FROM", v);
            break;
        case SELECTOR_IN:
        case SELECTOR_NOTIN:
            v = add_param(q, text_array(r->values, r->n_values), true);
            buf_printf(&q->sql, " AND %scoalesce(labels ->> $%d = ANY($%d::text[]), false)",
                       r->op == SELECTOR_IN ? "" : "NOT ", k, v);
            break;
        case SELECTOR_EXISTS: buf_printf(&q->sql, " AND labels ? $%d", k); break;
        case SELECTOR_NOT_EXISTS: buf_printf(&q->sql, " AND NOT labels ? $%d", k); break;
        }
    }
}

static void query_build(struct query *q, const struct store_bulk_target *t, const char *limit)
{
    buf_init(&q->sql, 0);
    q->np = q->n_owned = 0;
    buf_puts(&q->sql, "SELECT id, namespace, name, uid, phase, cancel_requested, held, priority"
                      " FROM jobs WHERE true");
    if (t->ns)
        buf_printf(&q->sql, " AND namespace = $%d", add_param(q, t->ns, false));
    if (t->n_namespaces)
        buf_printf(&q->sql, " AND namespace = ANY($%d::text[])",
                   add_param(q, text_array((char *const *)t->namespaces, t->n_namespaces), true));
    if (t->name)
        buf_printf(&q->sql, " AND name = $%d", add_param(q, t->name, false));
    where_selector(q, t->sel);
    buf_printf(&q->sql, " ORDER BY id LIMIT $%d FOR UPDATE", add_param(q, limit, false));
}

static void query_free(struct query *q)
{
    buf_free(&q->sql);
    for (int i = 0; i < q->n_owned; i++)
        free(q->owned[i]);
}

/* The change op makes to one locked row, or why none: *to (static or made into tobuf) is
 * NULL when unchanged, with *reason; *kind picks the statement (cancel's two). */
static const char *judge(enum store_bulk_op op, const PGresult *r, int row, int priority,
                         char *tobuf, size_t tosize, const char **reason, int *kind)
{
    enum job_phase ph = PHASE_QUEUED;
    bool cancel = PQgetvalue(r, row, C_CANCEL)[0] == 't';
    bool held = PQgetvalue(r, row, C_HELD)[0] == 't';
    bool finished;

    job_phase_parse(PQgetvalue(r, row, C_PHASE), &ph);
    finished = job_phase_terminal(ph);
    *kind = 0;
    switch (op) {
    case STORE_BULK_CANCEL:
        if (ph == PHASE_CANCELLED)
            *reason = "AlreadyCancelled";
        else if (finished)
            *reason = "Finished";
        else if (cancel)
            *reason = "CancelAlreadyRequested";
        else if (ph == PHASE_QUEUED)
            return "Cancelled";
        else {
            *kind = 1;
            return "CancelRequested";
        }
        return NULL;
    case STORE_BULK_HOLD:
        if (finished)
            *reason = "Finished";
        else if (cancel)
            *reason = "CancelRequested";
        else if (held)
            *reason = "AlreadyHeld";
        else
            return "true";
        return NULL;
    case STORE_BULK_RELEASE:
        if (held)
            return "false";
        *reason = "NotHeld";
        return NULL;
    case STORE_BULK_PRIORITY:
        if (finished)
            *reason = "Finished";
        else if (strtol(PQgetvalue(r, row, C_PRIORITY), NULL, 10) == priority)
            *reason = "SamePriority";
        else {
            snprintf(tobuf, tosize, "%d", priority);
            return tobuf;
        }
        return NULL;
    }
    return NULL;
}

static const char *old_value(enum store_bulk_op op, const PGresult *r, int row)
{
    switch (op) {
    case STORE_BULK_CANCEL: return PQgetvalue(r, row, C_PHASE);
    case STORE_BULK_HOLD:
    case STORE_BULK_RELEASE: return PQgetvalue(r, row, C_HELD)[0] == 't' ? "true" : "false";
    case STORE_BULK_PRIORITY: break;
    }
    return PQgetvalue(r, row, C_PRIORITY);
}

static void item_set(struct store_bulk_item *it, const PGresult *r, int row, const char *from,
                     const char *to, const char *reason)
{
    it->ns = xstrdup(PQgetvalue(r, row, C_NS));
    it->name = xstrdup(PQgetvalue(r, row, C_NAME));
    it->uid = xstrdup(PQgetvalue(r, row, C_UID));
    it->from = xstrdup(from);
    it->to = to ? xstrdup(to) : NULL;
    it->reason = reason;
}

/* Runs sql with the ids array (and the rest of params) when any id was gathered. */
static int run_change(struct store_conn *c, const char *sql, struct buf *ids, int nparams,
                      const char **params, struct err *e)
{
    PGresult *r = NULL;

    if (ids->len <= 1)
        return 0;
    buf_puts(ids, "}");
    params[0] = ids->data;
    if (conn_exec(c, sql, nparams, params, &r, e))
        return -1;
    PQclear(r);
    return 0;
}

int store_bulk_apply(struct store *s, enum store_bulk_op op, const struct store_bulk_target *t,
                     int priority, const struct store_audit *audit, struct store_bulk_result *out,
                     struct err *e)
{
    struct store_bulk_result res = {0};
    struct store_conn c = {0};
    struct query q;
    struct buf ids[2];
    char limit[16], prio[16];
    PGresult *r = NULL;
    int rc = -1, n;

    snprintf(limit, sizeof(limit), "%d", STORE_BULK_MAX + 1);
    snprintf(prio, sizeof(prio), "%d", priority);
    query_build(&q, t, limit);
    buf_init(&ids[0], 0);
    buf_init(&ids[1], 0);
    buf_puts(&ids[0], "{");
    buf_puts(&ids[1], "{");
    if (conn_begin(s, &c, e))
        goto out;
    if (conn_exec(&c, q.sql.data, q.np, q.params, &r, e))
        goto finish;
    n = PQntuples(r);
    if (n > STORE_BULK_MAX) {
        err_set(e, ERR_INVALID, "labelSelector",
                "labelSelector matches more than %d jobs; narrow it", STORE_BULK_MAX);
        goto finish;
    }
    if (t->name && n == 0) {
        err_set(e, ERR_NOT_FOUND, NULL, "trainingjob %s/%s not found", t->ns, t->name);
        goto finish;
    }
    res.changed = xcalloc((size_t)n + 1, sizeof(*res.changed));
    res.unchanged = xcalloc((size_t)n + 1, sizeof(*res.unchanged));
    res.matched = (size_t)n;
    for (int row = 0; row < n; row++) {
        char tobuf[16];
        const char *reason = NULL, *to;
        int kind;

        to = judge(op, r, row, priority, tobuf, sizeof(tobuf), &reason, &kind);
        if (!to) {
            if (t->name && strcmp(reason, "Finished") == 0) {
                err_set(e, ERR_CONFLICT, "status.phase", "trainingjob %s/%s already %s", t->ns,
                        t->name, PQgetvalue(r, row, C_PHASE));
                goto finish;
            }
            item_set(&res.unchanged[res.n_unchanged++], r, row, old_value(op, r, row), NULL,
                     reason);
            continue;
        }
        item_set(&res.changed[res.n_changed++], r, row, old_value(op, r, row), to, NULL);
        if (ids[kind].len > 1)
            buf_puts(&ids[kind], ",");
        buf_puts(&ids[kind], PQgetvalue(r, row, C_ID));
    }
    PQclear(r);
    r = NULL;
    {
        const char *params[4] = {NULL, op == STORE_BULK_HOLD ? "true" : "false",
                                 op == STORE_BULK_HOLD ? "Held" : "Released",
                                 op == STORE_BULK_HOLD
                                     ? "held by the user: not placed until released"
                                     : "released by the user: back in the queue"};

        switch (op) {
        case STORE_BULK_CANCEL:
            if (run_change(&c, sql_cancel_now, &ids[0], 1, params, e) ||
                run_change(&c, sql_cancel_later, &ids[1], 1, params, e))
                goto finish;
            break;
        case STORE_BULK_HOLD:
        case STORE_BULK_RELEASE:
            if (run_change(&c, sql_held, &ids[0], 4, params, e))
                goto finish;
            break;
        case STORE_BULK_PRIORITY:
            params[1] = prio;
            if (run_change(&c, sql_priority, &ids[0], 2, params, e))
                goto finish;
            break;
        }
    }
    if (audit && conn_audit_insert(&c, audit, false, e))
        goto finish;
    rc = 0;
finish:
    PQclear(r);
    if (conn_finish(s, &c, rc == 0, e))
        rc = -1;
out:
    query_free(&q);
    buf_free(&ids[0]);
    buf_free(&ids[1]);
    if (rc)
        store_bulk_result_clear(&res);
    else
        *out = res;
    return rc;
}

static void items_free(struct store_bulk_item *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].ns);
        free(v[i].name);
        free(v[i].uid);
        free(v[i].from);
        free(v[i].to);
    }
    free(v);
}

void store_bulk_result_clear(struct store_bulk_result *r)
{
    if (!r)
        return;
    items_free(r->changed, r->n_changed);
    items_free(r->unchanged, r->n_unchanged);
    memset(r, 0, sizeof(*r));
}
