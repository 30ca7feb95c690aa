/* watch.h -- what list watches read: the jobs changed after a resource version, how many
 * there are, and the version a list was read at. The notifications that wake a watch are
 * store_job_subscribe() in store.h (job_id 0: any job changed or was created).
 * Not responsible for rendering events or deciding their type (api/list_watch.c). */
#ifndef STORE_WATCH_H
#define STORE_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Versions are taken from the sequence when a statement runs, not when it commits, so a
 * change may commit after one with a higher version: a reader that went on from the
 * highest version it saw would skip it. A settle point says up to which version every
 * change has committed. store_jobs_settle() reads the sequence's latest value, then the
 * transactions writing jobs at that moment (their virtual transaction ids); a version up
 * to that latest value belongs to a change committed already or to one of those. Once
 * none of them is in flight any more (*drained, checked against prev), every version up
 * to prev->latest is committed; when none was in flight at all (n == 0), every version up
 * to now->latest is. Either way a read of the changes started afterwards misses none up
 * to it. */
#define STORE_SETTLE_MAX 64

struct store_settle {
    int64_t latest;
    size_t n;      /* writers in flight, at most STORE_SETTLE_MAX */
    bool overflow; /* more than that: never counted as drained */
    char vxids[STORE_SETTLE_MAX][24];
};

/* prev may be NULL (then *drained is true). */
int store_jobs_settle(struct store *s, const struct store_settle *prev, struct store_settle *now,
                      bool *drained, struct err *e);

/* The jobs with resource_version > after_rv (and <= upto, when upto > 0) that match f, in
 * resource_version order, at most limit (1..1000). Only f's terms a change cannot alter apply (namespace(s), sku,
 * labels, creation time); phase_mask and cluster are the caller's to test, since a job
 * leaving them must still be reported. Caller frees with store_jobs_free(). */
int store_job_changes(struct store *s, const struct store_job_filter *f, int64_t after_rv,
                      int64_t upto, int limit, struct job ***out, size_t *n, struct err *e);

/* How many jobs store_job_changes() would return without a limit, counted up to cap
 * (*count <= cap), and the latest resource version handed out (*latest), which may be a
 * change not yet committed. */
int store_job_changes_count(struct store *s, const struct store_job_filter *f, int64_t after_rv,
                            int cap, int64_t *count, int64_t *latest, struct err *e);

/* A version to list at: every change up to it has committed (a settle point, waited for
 * up to 2 s while writers are in flight), so a list read afterwards shows them all and a
 * watch from it misses none. */
int store_jobs_version(struct store *s, int64_t *rv, struct err *e);

#endif
