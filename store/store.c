/* store.c -- opening and closing the store (its pool, batcher and reader), and the
 * migrations. Statements run through pool.c. */
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
    /* No defaults here: they are the configuration table's (cmd/config.c). */
    if (c->statement_timeout_ms < 1 || c->connect_timeout_s < 1 || c->acquire_timeout_ms < 1)
        return err_set(e, ERR_CONFIG, "database",
                       "statement, connect and acquire timeouts must be set (got %d ms, %d s, "
                       "%d ms)",
                       c->statement_timeout_ms, c->connect_timeout_s, c->acquire_timeout_ms);
    s = xcalloc(1, sizeof(*s));
    s->dsn = xstrdup(c->dsn);
    s->n = c->pool_size;
    s->conns = xcalloc((size_t)s->n, sizeof(*s->conns));
    s->busy = xcalloc((size_t)s->n, sizeof(*s->busy));
    s->prepared = xcalloc((size_t)s->n, sizeof(*s->prepared));
    s->statement_timeout_ms = c->statement_timeout_ms;
    s->connect_timeout_s = c->connect_timeout_s;
    s->acquire_timeout_ms = c->acquire_timeout_ms;
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
