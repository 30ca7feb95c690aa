/* ledger.h -- reading the lost-work ledger (the reclaims table): one row per attempt whose
 * work was lost, by reclaim of borrowed or over-quota capacity, by priority preemption or
 * by a failure retried. store_sched_apply() (live_jobs.h) writes the rows; this module
 * lists them for GET /v1/reclaims and totals them for the Prometheus counters.
 * Not responsible for deciding what is lost (policy/) or rendering (api/). */
#ifndef STORE_LEDGER_H
#define STORE_LEDGER_H

#include <stddef.h>
#include <stdint.h>

struct err;
struct store;

#define STORE_LEDGER_MAX_LIMIT 1000

/* A row's cause, derived from its reason (migration 0026): "reclaim" (deficit, lease_end,
 * quota), "preemption" (priority), "retry" (retry). */
int store_ledger_cause_valid(const char *cause); /* 1 when cause is one of the three */

/* The caller fills this; NULL or 0 means no bound. */
struct store_ledger_filter {
    const char *cluster;
    const char *ns;
    const char *sku; /* the placed SKU */
    const char *cause;
    const char *const *namespaces; /* n_namespaces > 0: only these (what a token may read) */
    size_t n_namespaces;
    int64_t since_ms; /* requested at or after */
    int64_t until_ms; /* requested before */
    int64_t after_id; /* keyset cursor: only rows with id > after_id */
    int limit;        /* 1..STORE_LEDGER_MAX_LIMIT */
};

/* One ledger row with its job. Names are bounded by validation (DNS labels, the SKU
 * catalogue); a longer reason is cut. */
struct store_ledger_entry {
    int64_t id;
    char ns[64];
    char name[64];
    char uid[40];
    int attempt;
    char cluster[64];
    char pool[32]; /* "" when none was recorded */
    char sku[32];
    char cause[16];
    char reason[32];
    int gpus;
    double lost_gpu_hours;
    int64_t requested_ms;
    int64_t freed_ms; /* 0 while the GPUs are not free yet */
};

/* Lists rows in id (write) order matching f. *next_after is the cursor for the next page,
 * or 0 when this page is the last. Caller frees *out with free(). ERR_INVALID (field
 * "limit", "cause") for a filter out of range; ERR_DB, ERR_TIMEOUT. Thread-safe. */
int store_ledger_list(struct store *s, const struct store_ledger_filter *f,
                      struct store_ledger_entry **out, size_t *n, int64_t *next_after,
                      struct err *e);

/* All-time totals by cluster, placed SKU and cause, ordered by them (byte order). Rows are
 * never updated in these columns nor deleted (jobs are never deleted), so each total only
 * grows: they are counters. Caller frees *out with free(). ERR_DB, ERR_TIMEOUT. */
struct store_ledger_total {
    char cluster[64];
    char sku[32];
    char cause[16];
    int64_t count;
    double lost_gpu_hours;
};
int store_ledger_totals(struct store *s, struct store_ledger_total **out, size_t *n, struct err *e);

#endif
