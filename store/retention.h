/* retention.h -- deleting what is kept past its retention: capacity samples and their
 * sums, audit rows and finished jobs (with their events and ledger rows, which cascade), a
 * bounded batch at a time so no statement holds its locks for long. The scheduler's leader calls it at each
 * collection pass (scheduler.gcIntervalS) with the retention.* settings.
 * Not responsible for deciding the periods (cmd/config.c, docs/configuration.md). */
#ifndef STORE_RETENTION_H
#define STORE_RETENTION_H

#include <stdint.h>

struct err;
struct store;

enum store_retained {
    STORE_RETAINED_SAMPLES, /* capacity_samples, by ts */
    STORE_RETAINED_AUDIT,   /* audit_log, by ts */
    STORE_RETAINED_JOBS,    /* jobs Succeeded, Failed or Cancelled, by when they finished */
    STORE_RETAINED_ROLLUP,  /* capacity_rollup and its marks, by the span's start */
    STORE_RETAINED_COUNT
};

/* The table's name, for logs and metrics labels. */
const char *store_retained_name(enum store_retained what);

/* Deletes what's rows from before before_ms (Unix ms), at most batch rows a statement and
 * about max_rows in all (the statement that reaches it finishes), and adds the rows deleted
 * to *deleted. A job's events and ledger rows go with it. Fails as the database does
 * (ERR_DB, ERR_UNAVAILABLE), with the rows of the statements that committed counted. */
int store_purge(struct store *s, enum store_retained what, int64_t before_ms, long batch,
                long max_rows, long *deleted, struct err *e);

#endif
