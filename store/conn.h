/* conn.h -- store-internal: borrowing a pooled connection and running statements on it.
 * Only store/ C files include this; nothing outside store/ sees libpq. */
#ifndef STORE_CONN_H
#define STORE_CONN_H

#include <libpq-fe.h>
#include <stdint.h>

/* Statements prepared on each connection the first time it runs them. The SQL text of
 * each is in stmt_sql (jobs.c). At most 64. */
enum stmt_id {
    STMT_JOB_INSERT = 0,
    STMT_JOB_EXISTING,
    STMT_JOB_GET,
    STMT_JOB_EVENTS,
    STMT_JOB_COUNTS,
    STMT_COUNT
};
extern const char *const stmt_sql[STMT_COUNT];

struct err;
struct store;

struct store_conn {
    PGconn *pg;
    int slot;
    uint64_t *prepared; /* the pool's bitmask of statements prepared on this connection */
};

/* Borrows a connected connection (connecting or reconnecting as needed).
 * ERR_DB when the database cannot be reached, ERR_TIMEOUT when the pool stays busy. */
int conn_acquire(struct store *s, struct store_conn *c, struct err *e);
/* Gives it back; a connection whose socket broke is closed so the next user reconnects. */
void conn_release(struct store *s, struct store_conn *c);

/* Runs sql with text params; on success *out holds the result (caller PQclear()s).
 * Maps failures to err codes: 23505 -> ERR_CONFLICT, 57014 -> ERR_TIMEOUT, lost
 * connection -> ERR_DB, anything else -> ERR_INTERNAL. */
int conn_exec(struct store_conn *c, const char *sql, int nparams, const char *const *params,
              PGresult **out, struct err *e);

/* Runs a prepared statement (preparing it on this connection first when needed). */
int conn_exec_stmt(struct store_conn *c, enum stmt_id id, int nparams, const char *const *params,
                   PGresult **out, struct err *e);
int store_exec_stmt(struct store *s, enum stmt_id id, int nparams, const char *const *params,
                    PGresult **out, struct err *e);

/* Like conn_exec on a connection of its own, retried once on a fresh connection when the
 * pooled one turned out dead (the database restarted under it). Only for statements
 * that are safe to run twice: reads and idempotent single-statement writes. */
int store_exec(struct store *s, const char *sql, int nparams, const char *const *params,
               PGresult **out, struct err *e);

#endif
