/* election.c -- the leader session: its own connection outside the pool, the advisory
 * lock, the epoch in the leader row, and the LISTEN wake-ups. */
#include "store/election.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "store/conn.h"
#include "store/rows.h"
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
 * partitioned leader's lock is released and it learns it no longer leads. A read-write
 * session only: after a failover the lock is taken again on the new primary (a standby
 * would grant the lock and then refuse the leader row's update). */
static int leader_connect(struct store_leader *l, struct err *e)
{
    const char *keys[] = {"dbname",
                          "connect_timeout",
                          "application_name",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          "target_session_attrs",
                          NULL};
    const char *vals[] = {l->dsn, "3",    "fedsched-leader", "1", "2", "1",
                          "3",    "5000", "read-write",      NULL};
    char msg[512];

    if (l->pg && PQstatus(l->pg) == CONNECTION_OK)
        return 0;
    leader_disconnect(l);
    l->pg = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(l->pg) != CONNECTION_OK) {
        conn_error_line(msg, sizeof(msg), PQerrorMessage(l->pg));
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
