/* store.c -- the connection pool, statement execution with error mapping, migrations. */
#include "store/store.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "store/conn.h"
#include "store/migrations.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Key of the session-level advisory lock that serialises migrations (any fixed number
 * no other code uses). */
#define MIGRATE_LOCK_KEY "7378659448023108"

struct store {
    char *dsn;
    int n;
    PGconn **conns;     /* NULL slot: not connected */
    uint64_t *prepared; /* per slot: bit i set once statement i is prepared there */
    bool *busy;
    int statement_timeout_ms;
    int connect_timeout_s;
    int acquire_timeout_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct batcher *batcher;
    struct reader *reader;
    struct watcher *watcher; /* made on first watch; guarded by mu */
};

/* Flusher threads of the insert batcher. One: while it commits a batch the next one
 * forms in the queue, so batches grow with load; measured on 2 cores, one flusher gave
 * 1.26x pgbench's single-row insert rate and two gave 0.75x (smaller batches, more
 * commits). See docs/benchmarks.md. */
#define BATCH_THREADS 1

int store_open(const struct store_config *c, struct store **out, struct err *e)
{
    struct store *s;

    if (!c->dsn || !*c->dsn)
        return err_set(e, ERR_CONFIG, "database.dsn", "database DSN is empty");
    if (c->pool_size < 1 || c->pool_size > 1000)
        return err_set(e, ERR_CONFIG, "database.poolSize", "pool size %d not in 1..1000",
                       c->pool_size);
    s = xcalloc(1, sizeof(*s));
    s->dsn = xstrdup(c->dsn);
    s->n = c->pool_size;
    s->conns = xcalloc((size_t)s->n, sizeof(*s->conns));
    s->busy = xcalloc((size_t)s->n, sizeof(*s->busy));
    s->prepared = xcalloc((size_t)s->n, sizeof(*s->prepared));
    s->statement_timeout_ms = c->statement_timeout_ms > 0 ? c->statement_timeout_ms : 5000;
    s->connect_timeout_s = c->connect_timeout_s > 0 ? c->connect_timeout_s : 3;
    s->acquire_timeout_ms = c->acquire_timeout_ms > 0 ? c->acquire_timeout_ms : 5000;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->batcher = batch_new(s, BATCH_THREADS);
    s->reader = reader_new(s);
    *out = s;
    return 0;
}

void store_close(struct store **sp)
{
    struct store *s;

    if (!sp || !*sp)
        return;
    s = *sp;
    batch_free(&s->batcher);
    reader_free(&s->reader);
    watch_free(&s->watcher);
    for (int i = 0; i < s->n; i++)
        if (s->conns[i])
            PQfinish(s->conns[i]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->conns);
    free(s->busy);
    free(s->prepared);
    free(s->dsn);
    free(s);
    *sp = NULL;
}

/* Server NOTICEs (e.g. "relation already exists, skipping") are not errors; libpq would
 * print them on stderr, outside our log format. */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* PQconnectdbParams with expand_dbname: the DSN comes first and our settings after it,
 * so connect_timeout and application_name apply whatever form the DSN takes. */
static PGconn *connect_db(struct store *s, struct err *e)
{
    char timeout[16], setting[64];
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {s->dsn, timeout, "fedsched", NULL};
    PGconn *pg;
    PGresult *r;

    snprintf(timeout, sizeof(timeout), "%d", s->connect_timeout_s);
    pg = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(pg) != CONNECTION_OK) {
        char msg[256];

        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(pg));
        msg[strcspn(msg, "\n")] = '\0';
        PQfinish(pg);
        err_set(e, ERR_DB, NULL, "database unreachable: %s", msg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, ignore_notice, NULL);
    snprintf(setting, sizeof(setting), "SET statement_timeout = %d", s->statement_timeout_ms);
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

struct batcher *store_batcher(struct store *s)
{
    return s->batcher;
}

struct reader *store_reader(struct store *s)
{
    return s->reader;
}

struct watcher *store_watcher(struct store *s)
{
    struct watcher *w;

    pthread_mutex_lock(&s->mu);
    if (!s->watcher)
        s->watcher = watch_new(s->dsn);
    w = s->watcher;
    pthread_mutex_unlock(&s->mu);
    return w;
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
    if (PQstatus(c->pg) != CONNECTION_OK || PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        /* A broken socket, or a transaction somebody left open after an error: either
         * way the next user deserves a clean connection. */
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

int conn_exec_stmt(struct store_conn *c, enum stmt_id id, int nparams, const char *const *params,
                   PGresult **out, struct err *e)
{
    char name[16];
    PGresult *r;

    snprintf(name, sizeof(name), "s%d", (int)id);
    if (!(*c->prepared & (UINT64_C(1) << id))) {
        r = PQprepare(c->pg, name, stmt_sql[id], nparams, NULL);
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

/* Runs one statement (prepared id, or plain sql when id == STMT_COUNT) on a pooled
 * connection, once more on a fresh one when the pooled connection turned out dead. */
static int exec_retry(struct store *s, enum stmt_id id, const char *sql, int nparams,
                      const char *const *params, PGresult **out, struct err *e)
{
    for (int attempt = 0;; attempt++) {
        struct store_conn c = {0};
        struct err local;
        int rc;

        if (conn_acquire(s, &c, e))
            return -1;
        if (id == STMT_COUNT)
            rc = conn_exec(&c, sql, nparams, params, out, &local);
        else
            rc = conn_exec_stmt(&c, id, nparams, params, out, &local);
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

int store_exec_stmt(struct store *s, enum stmt_id id, int nparams, const char *const *params,
                    PGresult **out, struct err *e)
{
    return exec_retry(s, id, NULL, nparams, params, out, e);
}

int store_exec(struct store *s, const char *sql, int nparams, const char *const *params,
               PGresult **out, struct err *e)
{
    return exec_retry(s, STMT_COUNT, sql, nparams, params, out, e);
}

int store_ping(struct store *s, struct err *e)
{
    PGresult *r;

    if (store_exec(s, "SELECT 1", 0, NULL, &r, e))
        return -1;
    PQclear(r);
    return 0;
}

/* ---- migrations ---- */

static const char sql_schema_table[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

static const char sql_checksum[] = "SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')";

/* Compares every applied migration with the compiled-in one; counts those pending. */
static int check_applied(struct store_conn *c, int *pending, struct err *e)
{
    PGresult *applied = NULL;
    int rc = -1;

    *pending = 0;
    if (conn_exec(c, "SELECT version, name, checksum FROM schema_migrations ORDER BY version", 0,
                  NULL, &applied, e))
        return -1;
    for (int i = 0; i < migrations_count; i++) {
        const struct migration *m = &migrations[i];
        const char *params[1] = {m->sql};
        PGresult *sum = NULL;
        int found = -1;

        for (int row = 0; row < PQntuples(applied); row++)
            if (strtol(PQgetvalue(applied, row, 0), NULL, 10) == m->version)
                found = row;
        if (found < 0) {
            (*pending)++;
            continue;
        }
        if (conn_exec(c, sql_checksum, 1, params, &sum, e))
            goto out;
        if (strcmp(PQgetvalue(sum, 0, 0), PQgetvalue(applied, found, 2)) != 0) {
            err_set(e, ERR_CONFIG, "migrations",
                    "migration %s was edited after it was applied (checksum %.12s... in "
                    "database, %.12s... in this binary); add a new migration instead",
                    m->name, PQgetvalue(applied, found, 2), PQgetvalue(sum, 0, 0));
            PQclear(sum);
            goto out;
        }
        PQclear(sum);
    }
    rc = 0;
out:
    PQclear(applied);
    return rc;
}

static int apply_one(struct store_conn *c, const struct migration *m, struct err *e)
{
    char version[16];
    const char *params[3] = {version, m->name, m->sql};
    PGresult *r;

    snprintf(version, sizeof(version), "%d", m->version);
    r = PQexec(c->pg, "BEGIN");
    PQclear(r);
    /* PQexec (not PQexecParams) because a migration holds several statements. */
    r = PQexec(c->pg, m->sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        err_set(e, ERR_DB, "migrations", "migration %s failed: %s", m->name,
                PQresultErrorMessage(r));
        PQclear(r);
        PQclear(PQexec(c->pg, "ROLLBACK"));
        return -1;
    }
    PQclear(r);
    if (conn_exec(c,
                  "INSERT INTO schema_migrations (version, name, checksum) VALUES "
                  "($1, $2, encode(sha256(convert_to($3, 'UTF8')), 'hex'))",
                  3, params, &r, e)) {
        PQclear(PQexec(c->pg, "ROLLBACK"));
        return -1;
    }
    PQclear(r);
    if (conn_exec(c, "COMMIT", 0, NULL, &r, e))
        return -1;
    PQclear(r);
    LOG(LOG_INFO, "store", "event=migration_applied name=%s", m->name);
    return 0;
}

int store_migrate(struct store *s, int *applied_out, struct err *e)
{
    struct store_conn c = {0};
    PGresult *r = NULL;
    int pending = 0, applied = 0, locked = 0, rc = -1;

    if (conn_acquire(s, &c, e))
        return -1;
    /* Session-level lock: a second replica blocks here until the first has finished,
     * then finds nothing pending. */
    if (conn_exec(&c, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", 0, NULL, &r, e))
        goto out;
    PQclear(r);
    locked = 1;
    if (conn_exec(&c, sql_schema_table, 0, NULL, &r, e))
        goto out;
    PQclear(r);
    if (check_applied(&c, &pending, e))
        goto out;
    for (int i = 0; i < migrations_count && pending > 0; i++) {
        const char *params[1];
        char version[16];

        snprintf(version, sizeof(version), "%d", migrations[i].version);
        params[0] = version;
        if (conn_exec(&c, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, params, &r, e))
            goto out;
        if (PQntuples(r) == 0) {
            PQclear(r);
            if (apply_one(&c, &migrations[i], e))
                goto out;
            applied++;
        } else {
            PQclear(r);
        }
    }
    rc = 0;
    if (applied_out)
        *applied_out = applied;
out:
    if (locked && PQstatus(c.pg) == CONNECTION_OK)
        PQclear(PQexec(c.pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
    conn_release(s, &c);
    return rc;
}

int store_migrations_check(struct store *s, struct err *e)
{
    struct store_conn c = {0};
    PGresult *r = NULL;
    int pending = 0, rc = -1;

    if (conn_acquire(s, &c, e))
        return -1;
    if (conn_exec(&c, "SELECT to_regclass('schema_migrations') IS NOT NULL", 0, NULL, &r, e))
        goto out;
    if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
        PQclear(r);
        err_set(e, ERR_CONFIG, "migrations", "no migrations applied");
        goto out;
    }
    PQclear(r);
    if (check_applied(&c, &pending, e))
        goto out;
    if (pending) {
        err_set(e, ERR_CONFIG, "migrations", "%d migration(s) pending", pending);
        goto out;
    }
    rc = 0;
out:
    conn_release(s, &c);
    return rc;
}
