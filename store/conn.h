/* conn.h -- store-internal: borrowing a pooled connection and running statements on it.
 * Only store/ C files include this; nothing outside store/ sees libpq. */
#ifndef STORE_CONN_H
#define STORE_CONN_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A statement prepared on each connection the first time it runs there, under its id
 * (at most 64 of them); its text is defined beside the code that runs it. */
enum stmt_id {
    STMT_JOB_INSERT = 0,
    STMT_JOB_EXISTING,
    STMT_JOB_GET,
    STMT_JOB_EVENTS,
    STMT_JOB_COUNTS,
    STMT_JOB_GET_MANY,
    STMT_COUNT
};
struct stmt {
    enum stmt_id id;
    const char *sql;
};

struct err;
struct batcher;
struct reader;
struct watcher;

/* The store (pool.c runs statements on it; store.c opens and closes it). */
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
    struct batcher *batcher; /* made by store_open */
    struct reader *reader;   /* made by store_open */
    struct watcher *watcher; /* made on first watch (watch.c); guarded by mu */
};

struct store_conn {
    PGconn *pg;
    int slot;
    uint64_t *prepared; /* the pool's bitmask of statements prepared on this connection */
    bool read_only;     /* the server refused a write as read-only: close it at release */
};

/* Copies libpq's error message msg into dst as one line: with several hosts in the DSN it
 * holds a line per host tried, and each says why that host was not taken. */
void conn_error_line(char *dst, size_t size, const char *msg);

/* Borrows a connected connection (connecting or reconnecting as needed).
 * ERR_DB when the database cannot be reached, ERR_TIMEOUT when the pool stays busy. */
int conn_acquire(struct store *s, struct store_conn *c, struct err *e);
/* Gives it back; a connection whose socket broke is closed so the next user reconnects. */
void conn_release(struct store *s, struct store_conn *c);

/* Runs sql with text params; on success *out holds the result (caller PQclear()s).
 * Maps failures to err codes: 23505 -> ERR_CONFLICT, 57014 -> ERR_TIMEOUT, lost
 * connection or a read-only server (25006) -> ERR_DB, anything else -> ERR_INTERNAL. */
int conn_exec(struct store_conn *c, const char *sql, int nparams, const char *const *params,
              PGresult **out, struct err *e);

/* Runs a prepared statement (preparing it on this connection first when needed). */
int conn_exec_stmt(struct store_conn *c, const struct stmt *st, int nparams,
                   const char *const *params, PGresult **out, struct err *e);
int store_exec_stmt(struct store *s, const struct stmt *st, int nparams, const char *const *params,
                    PGresult **out, struct err *e);

/* Like conn_exec on a connection of its own, retried once on a fresh connection when the
 * pooled one turned out dead (the database restarted under it). Only for statements
 * that are safe to run twice: reads and idempotent single-statement writes. */
int store_exec(struct store *s, const char *sql, int nparams, const char *const *params,
               PGresult **out, struct err *e);

/* The insert batcher (batch.c): concurrent submissions are inserted together, one
 * statement and one commit for all of them, each caller woken after COMMIT. */
/* The point-read coalescer (reads.c): store_job_get() goes through it. */
struct reader *reader_new(struct store *s);
void reader_free(struct reader **r); /* no read may be in progress */

struct batcher *batch_new(struct store *s, int threads);
void batch_free(struct batcher **b); /* stops its threads after the queue drains */

/* Inserts j with its first event, and audit's row (audit->status; may be NULL) when the
 * job is created, all in the batch's one transaction; returns after COMMIT. *conflict is
 * set (and *out left alone, and no audit row written) when namespace/name or the
 * idempotency key already exists; the caller decides between "idempotent retry" and
 * "conflict". ERR_DB and the like otherwise. */
struct job;
struct store_audit;
int batch_insert(struct store *s, const struct job *j, const char *idempotency_key,
                 const struct store_audit *audit, bool *conflict, struct job **out, struct err *e);

/* ---- audit rows inside a mutation's transaction (auth.c) ---- */

/* Borrows a connection and opens a transaction on it. A pooled connection found dead at
 * BEGIN (the database restarted) is replaced once, as nothing has run yet. */
int conn_begin(struct store *s, struct store_conn *c, struct err *e);
/* COMMIT, or on failure ROLLBACK (when the connection still works); then releases c. */
int conn_finish(struct store *s, struct store_conn *c, bool commit, struct err *e);
/* The audit rows' columns as PostgreSQL array literals, in sql_audit_insert's order
 * (ts, token, role, remote, method, path, namespace, status, detail): init and fill
 * (rows NULL: n NULL placeholders), or add one row (a NULL: a placeholder) to columns
 * that a caller closes with "}" itself. status_alt instead of status when alt. */
#define AUDIT_NCOLS 9
struct buf;
void store_audit_columns(struct buf *cols, const struct store_audit *rows, size_t n, bool alt);
void store_audit_column_add(struct buf *cols, const struct store_audit *a, bool alt);
/* Inserts one audit row on c (inside the caller's transaction): status, or status_alt
 * when alt. */
int conn_audit_insert(struct store_conn *c, const struct store_audit *a, bool alt, struct err *e);

/* What a single-statement mutation did, judged from its result by the caller's
 * function: no change (no audit row; the caller reports the error), or a change of the
 * first or second kind (the row gets status or status_alt). */
enum audit_outcome { AUDIT_NONE = 0, AUDIT_STATUS, AUDIT_STATUS_ALT };

/* Runs sql and, when outcome(result) says it changed something, audit's row, in one
 * transaction; *out is the statement's result (caller PQclear()s). audit NULL: plain
 * store_exec(). Not retried once the statement ran: a COMMIT whose answer was lost
 * must not run twice. */
int store_exec_audited(struct store *s, const char *sql, int nparams, const char *const *params,
                       const struct store_audit *audit,
                       enum audit_outcome (*outcome)(const PGresult *r), PGresult **out,
                       struct err *e);

/* PostgreSQL array literals (pgarray.c). */
struct buf;
/* Appends one element to a PostgreSQL array literal being built in b (which starts with
 * "{"): NULL, or a double-quoted string with backslash and quote escaped. */
void store_array_add(struct buf *b, const char *v);
/* How many elements the one-dimensional array literal text holds (0 for "{}" or not an
 * array). */
size_t store_array_count(const char *text);
/* Reads up to max elements of text into out[], each a NUL-terminated copy written at *dst
 * (which needs strlen(text) + 1 bytes at most, and is advanced past them), NULL for an
 * SQL null. Returns how many. */
size_t store_array_parse(const char *text, char **dst, const char **out, size_t max);
/* Reads up to max elements of a float8[] text (or any array of numbers) into out[]: an
 * element that is NULL or not a finite number is 0. Returns how many. */
size_t store_array_numbers(const char *text, double *out, size_t max);

/* The change listener (watch.c), started on first use. */
void watch_free(struct watcher **w);

#endif
