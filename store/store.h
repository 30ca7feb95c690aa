/* store.h -- PostgreSQL persistence: the connection pool, migrations, jobs and events.
 * PostgreSQL is the source of truth. Every function that changes a job writes the change
 * and its event in one transaction and returns only after COMMIT.
 * Not responsible for validation (api/) or decisions (policy/). */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/job.h"

struct err;
struct store;       /* a pool of connections, each with the prepared statements */
struct store_audit; /* one audit row; defined with the audit log below */

struct store_config {
    const char *dsn;          /* libpq conninfo string or postgresql:// URI */
    int pool_size;            /* connections; requests beyond wait for a free one */
    int statement_timeout_ms; /* per statement, set on each connection */
    int connect_timeout_s;
    int acquire_timeout_ms; /* how long a caller waits for a free connection */
};

/* Creates the pool. Connections are made lazily and remade after failures, so this
 * succeeds while the database is down; store_ping() tells whether it is up.
 * Caller owns *out; release with store_close(). Thread-safe after open. */
int store_open(const struct store_config *c, struct store **out, struct err *e);
void store_close(struct store **s); /* NULL-safe; sets *s to NULL */

/* Round trip to the database. ERR_DB when it cannot be reached. */
int store_ping(struct store *s, struct err *e);

/* Applies pending migrations (each in its own transaction) under an advisory lock, so
 * replicas starting together apply each once. Refuses (ERR_CONFIG) when an applied
 * migration's checksum differs from the compiled-in file: somebody edited history.
 * *applied (may be NULL) receives how many were applied now. */
int store_migrate(struct store *s, int *applied, struct err *e);

/* 0 when every compiled-in migration is applied with a matching checksum; -1 with
 * ERR_CONFIG when some are pending or edited, ERR_DB when unreachable. */
int store_migrations_check(struct store *s, struct err *e);

/* Inserts j (phase Queued, attempt 0) and its first event in one statement; returns only
 * after COMMIT. When namespace/name (or namespace/idempotency_key) exists already:
 * identical spec and labels -> *created = false and the existing job; otherwise
 * ERR_CONFLICT. idempotency_key may be NULL. Caller owns *out (job_free).
 * audit (may be NULL): a created job's audit row (audit->status) is committed in the
 * same transaction as the job; a replay's (audit->status_alt) is written before this
 * returns, and when it cannot be, the call fails (ERR_DB) rather than go unrecorded. */
int store_job_insert(struct store *s, const struct job *j, const char *idempotency_key,
                     const struct store_audit *audit, bool *created, struct job **out,
                     struct err *e);

/* What store_job_insert() would find of j without inserting it: 0 with *out NULL when
 * neither namespace/name nor namespace/idempotency_key exists; 0 with the existing job
 * when its spec and labels are j's (a replay); -1 with store_job_insert()'s ERR_CONFLICT
 * otherwise. Caller owns *out. */
int store_job_existing(struct store *s, const struct job *j, const char *idempotency_key,
                       struct job **out, struct err *e);

/* ERR_NOT_FOUND when absent. Caller owns *out. */
int store_job_get(struct store *s, const char *ns, const char *name, struct job **out,
                  struct err *e);

struct store_job_filter {
    const char *ns;                /* NULL: all namespaces */
    const char *const *namespaces; /* n_namespaces > 0: only these (what a token may read) */
    size_t n_namespaces;
    unsigned phase_mask;       /* bit (1u << phase); 0: all phases */
    const char *sku;           /* NULL: any */
    const char *cluster;       /* NULL: any; placed in this member cluster */
    int64_t created_after_ms;  /* 0: no bound; created at or after */
    int64_t created_before_ms; /* 0: no bound; created before */
    const char *labels_json;   /* JSON object every job's labels must contain; NULL: any */
    int64_t after_id;          /* keyset cursor: only jobs after it in the order; 0: none */
    bool newest_first;         /* list the newest first (ids below after_id) */
    int limit;                 /* 1..1000 */
};

/* Lists jobs in creation order, or newest first. *next_after is the cursor for the next
 * page, or 0 when this page is the last. Caller owns (*out)[i] and *out: free with store_jobs_free(). */
int store_job_list(struct store *s, const struct store_job_filter *f, struct job ***out, size_t *n,
                   int64_t *next_after, struct err *e);
void store_jobs_free(struct job ***jobs, size_t n);

/* Cancels a job: Queued becomes Cancelled at once (with its event); a job already placed
 * is marked cancel-requested for the scheduler to finish (*marked = true; may be NULL);
 * Cancelled is returned as is. ERR_NOT_FOUND, or ERR_CONFLICT when it already Succeeded
 * or Failed. audit (may be NULL) is inserted in the same transaction: with audit->status
 * when the job is Cancelled by this call or before, with audit->status_alt when it is
 * only marked. Caller owns *out (the job after the change). */
int store_job_cancel(struct store *s, const char *ns, const char *name,
                     const struct store_audit *audit, bool *marked, struct job **out,
                     struct err *e);

/* The job's timeline, oldest first. ERR_NOT_FOUND when the job does not exist.
 * Caller frees with store_events_free(). */
int store_job_events(struct store *s, const char *ns, const char *name, struct job_event **out,
                     size_t *n, struct err *e);
void store_events_free(struct job_event **events, size_t n);

/* Change notifications for long-polls, woken by the NOTIFY that every job UPDATE sends
 * (migration 0002), so a waiting watch costs nothing until its job changes.
 * store_change_seq() numbers the notifications seen so far: read it before reading a
 * job, then subscribe with it, and a change in between is not missed.
 * store_job_subscribe() returns 1 (nothing registered) when job_id (0: any job) changed
 * after since_seq; else 0 with *out registered: fn(arg) is then called once, from the
 * listener thread with its lock held (fn must only hand the event on, never call back
 * into the store), when a NOTIFY names the job or after a lost LISTEN connection. Caller releases *out with store_job_unsubscribe() whether or
 * not fn was called; after it returns fn is not running and will not run. Thread-safe. */
struct store_sub;
uint64_t store_change_seq(struct store *s);
int store_job_subscribe(struct store *s, int64_t job_id, uint64_t since_seq, void (*fn)(void *arg),
                        void *arg, struct store_sub **out);
void store_job_unsubscribe(struct store *s, struct store_sub **sub); /* NULL-safe */

/* ---- member clusters ---- */

struct store_cluster {
    char *name;
    char *config_json; /* as validated by cluster_config_from_json(); never secrets */
    bool cordoned;
    char *source; /* "config" (from the config file) or "api" */
    int64_t resource_version;
};

/* Inserts or replaces a cluster. keep_cordon: an existing row keeps its cordon (the
 * config file re-imported at start must not undo an operator's cordon). *created (may
 * be NULL) tells which happened. */
int store_cluster_put(struct store *s, const char *name, const char *config_json, bool cordoned,
                      bool keep_cordon, const char *source, bool *created, struct err *e);
/* store_cluster_put with audit's row in the same transaction: audit->status when the
 * cluster was created, audit->status_alt when it replaced one. audit may be NULL. */
int store_cluster_put_audited(struct store *s, const char *name, const char *config_json,
                              bool cordoned, bool keep_cordon, const char *source,
                              const struct store_audit *audit, bool *created, struct err *e);
/* Cordons or uncordons (the column is what the poller and policy use). ERR_NOT_FOUND.
 * audit (may be NULL; audit->status) is inserted in the same transaction. */
int store_cluster_set_cordoned(struct store *s, const char *name, bool cordoned,
                               const struct store_audit *audit, struct err *e);
/* ERR_NOT_FOUND when absent. Caller frees *out with store_clusters_free(out, 1). */
int store_cluster_get(struct store *s, const char *name, struct store_cluster **out, struct err *e);
/* All clusters by name. Caller frees with store_clusters_free(). */
int store_cluster_list(struct store *s, struct store_cluster **out, size_t *n, struct err *e);
/* ERR_NOT_FOUND when absent. audit (may be NULL; audit->status) is inserted in the same
 * transaction. */
int store_cluster_delete(struct store *s, const char *name, const struct store_audit *audit,
                         struct err *e);
void store_clusters_free(struct store_cluster **cs, size_t n);

/* One row of capacity_samples: a cluster x SKU x pool at one time. */
struct store_capacity_sample {
    int64_t ts_ms;
    const char *cluster;
    const char *sku;
    const char *pool; /* "training" or "serving" */
    int total, used, free, borrowed, pending_demand, lendable;
    bool healthy;
};

/* Appends rows in one statement (a repeated timestamp for the same key is ignored). */
int store_capacity_samples_insert(struct store *s, const struct store_capacity_sample *rows,
                                  size_t n, struct err *e);

/* ---- API tokens and the audit log ---- */

struct store_token {
    char *name;
    char *role;        /* "admin", "submitter" or "viewer" */
    char **namespaces; /* empty: all namespaces (admin, or a viewer of everything) */
    size_t n_namespaces;
    int64_t created_ms;
    int64_t last_used_ms;
    bool revoked;
};

/* Stores a new token by its SHA-256 (hex); the token itself never reaches the database.
 * ERR_CONFLICT (field "name") when the name is taken. */
int store_token_create(struct store *s, const char *name, const char *role,
                       const char *const *namespaces, size_t n_ns, const char *hash_hex,
                       struct err *e);
/* Finds the token with this hash (revoked ones too: check ->revoked) and marks it used.
 * ERR_UNAUTHORIZED when none. Caller releases *out with store_token_clear(). */
int store_token_lookup(struct store *s, const char *hash_hex, struct store_token *out,
                       struct err *e);
int store_token_list(struct store *s, struct store_token **out, size_t *n, struct err *e);
/* Revokes by name (idempotent). ERR_NOT_FOUND when no such token. */
int store_token_revoke(struct store *s, const char *name, struct err *e);
void store_token_clear(struct store_token *t);
void store_tokens_free(struct store_token **v, size_t n);

/* The installation's 32-byte key for checkpoint tokens (base/job_token.h): made from
 * getrandom() by the first caller and kept in PostgreSQL; every later call, from any
 * replica, reads the same key (replicas racing to make it all end with the winner's).
 * ERR_DB when the database cannot be reached, ERR_INTERNAL when no randomness. */
int store_job_token_key(struct store *s, unsigned char key[32], struct err *e);

/* One audited call. Strings are borrowed by store_audit_insert and the mutations that
 * take one, and owned in a page. Strings must be valid UTF-8 (the column type). */
struct store_audit {
    int64_t ts_ms;
    const char *token_name; /* NULL: authentication disabled */
    const char *role;
    const char *remote;
    const char *method;
    const char *path;
    const char *ns; /* NULL when the call is not about one namespace */
    int status;
    /* Mutations with two successful outcomes (created or replayed/replaced, cancelled or
     * only marked) record this for the second; see each mutation. Not stored as such. */
    int status_alt;
    const char *detail; /* error code for failures, else NULL */
};

/* Appends rows in one statement. Safe to call again after a failure (ERR_DB when the
 * database is unreachable, ERR_INTERNAL when a row is refused, e.g. invalid UTF-8). */
int store_audit_insert(struct store *s, const struct store_audit *rows, size_t n, struct err *e);

struct store_audit_page {
    struct store_audit *rows; /* newest first; strings owned */
    int64_t *ids;
    size_t n;
};

/* Up to limit rows with id < before_id (0: newest), optionally of one token. Caller frees
 * with store_audit_page_free(). */
int store_audit_list(struct store *s, int64_t before_id, int limit, const char *token_name,
                     struct store_audit_page *out, struct err *e);
void store_audit_page_free(struct store_audit_page *p);

/* The explanation the scheduler recorded when it admitted the job (JSON text; *out NULL
 * when it never was). ERR_NOT_FOUND. Caller frees *out. */
int store_job_placement(struct store *s, const char *ns, const char *name, char **out,
                        struct err *e);

/* Jobs per phase across all namespaces, indexed by enum job_phase. */
int store_job_counts(struct store *s, int64_t counts[PHASE_COUNT], struct err *e);

#endif
