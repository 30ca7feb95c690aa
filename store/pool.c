/* pool.c -- the connection pool, and statements run on it with their failures mapped to
 * err codes. */
#include "store/store.h"

#include "base/err.h"
#include "store/conn.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Server NOTICEs (e.g. "relation already exists, skipping") are not errors; libpq would
 * print them on stderr, outside our log format. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

void conn_error_line(char *dst, size_t size, const char *msg)
{
    size_t n = 0;

    for (const char *c = msg ? msg : ""; *c && n + 1 < size; c++) {
        char ch = *c == '\n' || *c == '\t' ? ' ' : *c;

        if (ch != ' ' || (n > 0 && dst[n - 1] != ' '))
            dst[n++] = ch;
    }
    while (n > 0 && dst[n - 1] == ' ')
        n--;
    dst[n] = '\0';
}

/* PQconnectdbParams with expand_dbname: the DSN comes first and our settings after it,
 * so connect_timeout and application_name apply whatever form the DSN takes. Every
 * connection asks for a read-write session: with several hosts in the DSN libpq tries
 * them in turn and takes the primary, wherever a failover moved it; a standby, which
 * would refuse every write, is never taken for it. */
static PGconn *connect_db(struct store *s, struct err *e)
{
    char timeout[16], setting[64];
    const char *keys[] = {"dbname", "connect_timeout", "application_name", "target_session_attrs",
                          NULL};
    const char *vals[] = {s->dsn, timeout, "fedsched", "read-write", NULL};
    PGconn *pg;
    PGresult *r;

    snprintf(timeout, sizeof(timeout), "%d", s->connect_timeout_s);
    pg = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(pg) != CONNECTION_OK) {
        char msg[512];

        conn_error_line(msg, sizeof(msg), PQerrorMessage(pg));
        PQfinish(pg);
        err_set(e, ERR_DB, NULL, "database unreachable: %s", msg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, ignore_notice, NULL);
    /* No JIT: the statements are short, and the capacity report's generate_series
     * estimates (1,000 rows a call) push its cost past the JIT threshold, where compiling
     * took half a second of a 3-second report and saved none of it. */
    snprintf(setting, sizeof(setting), "SET statement_timeout = %d; SET jit = off",
             s->statement_timeout_ms);
    r = PQexec(pg, setting);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        err_set(e, ERR_DB, NULL, "database setup failed: %s", PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(pg);
        return NULL;
    }
    PQclear(r);
    return pg;
}

int conn_acquire(struct store *s, struct store_conn *c, struct err *e)
{
    struct timespec deadline;
    int slot = -1;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += s->acquire_timeout_ms / 1000;
    deadline.tv_nsec += (long)(s->acquire_timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    for (;;) {
        /* Prefer a slot that is already connected. */
        for (int i = 0; i < s->n && slot < 0; i++)
            if (!s->busy[i] && s->conns[i])
                slot = i;
        for (int i = 0; i < s->n && slot < 0; i++)
            if (!s->busy[i])
                slot = i;
        if (slot >= 0)
            break;
        if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&s->mu);
            return err_set(e, ERR_TIMEOUT, NULL, "all %d database connections busy", s->n);
        }
    }
    s->busy[slot] = true;
    pthread_mutex_unlock(&s->mu);

    /* Connecting happens outside the lock: it can take connect_timeout seconds. */
    if (s->conns[slot] && PQstatus(s->conns[slot]) != CONNECTION_OK) {
        PQfinish(s->conns[slot]);
        s->conns[slot] = NULL;
    }
    if (!s->conns[slot]) {
        s->prepared[slot] = 0;
        s->conns[slot] = connect_db(s, e);
        if (!s->conns[slot]) {
            pthread_mutex_lock(&s->mu);
            s->busy[slot] = false;
            pthread_cond_signal(&s->cv);
            pthread_mutex_unlock(&s->mu);
            return -1;
        }
    }
    c->pg = s->conns[slot];
    c->slot = slot;
    c->prepared = &s->prepared[slot];
    return 0;
}

void conn_release(struct store *s, struct store_conn *c)
{
    if (!c->pg)
        return;
    if (PQstatus(c->pg) != CONNECTION_OK || PQtransactionStatus(c->pg) != PQTRANS_IDLE ||
        c->read_only) {
        /* A broken socket, a transaction somebody left open after an error, or a server
         * that turned read-only under us (a primary fenced or demoted in a switchover):
         * either way the next user deserves a clean connection, to the primary. */
        PQfinish(c->pg);
        s->conns[c->slot] = NULL;
    }
    pthread_mutex_lock(&s->mu);
    s->busy[c->slot] = false;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    c->pg = NULL;
}

/* Hands a good result to *out, or maps the failure to an err code and frees it. */
static int check_result(struct store_conn *c, PGresult *r, PGresult **out, struct err *e)
{
    ExecStatusType st = PQresultStatus(r);
    const char *sqlstate;
    char state[8], msg[384];

    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        *out = r;
        return 0;
    }
    /* The SQLSTATE lives in r: copy it before PQclear(r) frees it. */
    sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(state, sizeof(state), "%s", sqlstate ? sqlstate : "");
    snprintf(msg, sizeof(msg), "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(c->pg));
    msg[strcspn(msg, "\n")] = '\0';
    PQclear(r);
    if (PQstatus(c->pg) != CONNECTION_OK || strncmp(state, "08", 2) == 0 ||
        strncmp(state, "57P", 3) == 0)
        return err_set(e, ERR_DB, NULL, "database connection lost: %s", msg);
    if (strcmp(state, "25006") == 0) {
        c->read_only = true;
        return err_set(e, ERR_DB, NULL, "database is read-only (not the primary): %s", msg);
    }
    if (strcmp(state, "23505") == 0)
        return err_set(e, ERR_CONFLICT, NULL, "%s", msg);
    if (strcmp(state, "57014") == 0)
        return err_set(e, ERR_TIMEOUT, NULL, "database statement timed out");
    return err_set(e, ERR_INTERNAL, NULL, "database error %s: %s", state[0] ? state : "?", msg);
}

int conn_exec(struct store_conn *c, const char *sql, int nparams, const char *const *params,
              PGresult **out, struct err *e)
{
    return check_result(c, PQexecParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0), out, e);
}

int conn_exec_stmt(struct store_conn *c, const struct stmt *st, int nparams,
                   const char *const *params, PGresult **out, struct err *e)
{
    enum stmt_id id = st->id;
    char name[16];
    PGresult *r;

    snprintf(name, sizeof(name), "s%d", (int)id);
    if (!(*c->prepared & (UINT64_C(1) << id))) {
        r = PQprepare(c->pg, name, st->sql, nparams, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            char msg[256];

            snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
            msg[strcspn(msg, "\n")] = '\0';
            PQclear(r);
            if (PQstatus(c->pg) != CONNECTION_OK)
                return err_set(e, ERR_DB, NULL, "database connection lost: %s", msg);
            return err_set(e, ERR_INTERNAL, NULL, "preparing statement %d: %s", (int)id, msg);
        }
        PQclear(r);
        *c->prepared |= UINT64_C(1) << id;
    }
    r = PQexecPrepared(c->pg, name, nparams, params, NULL, NULL, 0);
    return check_result(c, r, out, e);
}

/* Runs one statement (prepared st, or plain sql when st is NULL) on a pooled connection,
 * once more on a fresh one when the pooled connection turned out dead. */
static int exec_retry(struct store *s, const struct stmt *st, const char *sql, int nparams,
                      const char *const *params, PGresult **out, struct err *e)
{
    for (int attempt = 0;; attempt++) {
        struct store_conn c = {0};
        struct err local;
        int rc;

        if (conn_acquire(s, &c, e))
            return -1;
        if (!st)
            rc = conn_exec(&c, sql, nparams, params, out, &local);
        else
            rc = conn_exec_stmt(&c, st, nparams, params, out, &local);
        conn_release(s, &c);
        if (rc == 0)
            return 0;
        if (local.code != ERR_DB || attempt > 0) {
            if (e)
                *e = local;
            return -1;
        }
    }
}

int store_exec_stmt(struct store *s, const struct stmt *st, int nparams, const char *const *params,
                    PGresult **out, struct err *e)
{
    return exec_retry(s, st, NULL, nparams, params, out, e);
}

int store_exec(struct store *s, const char *sql, int nparams, const char *const *params,
               PGresult **out, struct err *e)
{
    return exec_retry(s, NULL, sql, nparams, params, out, e);
}

int store_ping(struct store *s, struct err *e)
{
    PGresult *r;

    if (store_exec(s, "SELECT 1", 0, NULL, &r, e))
        return -1;
    PQclear(r);
    return 0;
}
