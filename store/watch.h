/* watch.h -- what list watches read: the jobs changed after a resource version, how many
 * there are, and the version a list was read at. The notifications that wake a watch are
 * store_job_subscribe() in store.h (job_id 0: any job changed or was created).
 * Not responsible for rendering events or deciding their type (api/list_watch.c). */
#ifndef STORE_WATCH_H
#define STORE_WATCH_H

#include <stdint.h>

#include "store/store.h"

/* The jobs with resource_version > after_rv that match f, in resource_version order, at
 * most limit (1..1000). Only f's terms a change cannot alter apply (namespace(s), sku,
 * labels, creation time); phase_mask and cluster are the caller's to test, since a job
 * leaving them must still be reported. Caller frees with store_jobs_free(). */
int store_job_changes(struct store *s, const struct store_job_filter *f, int64_t after_rv,
                      int limit, struct job ***out, size_t *n, struct err *e);

/* How many jobs store_job_changes() would return without a limit, counted up to cap
 * (*count <= cap), and the latest resource version handed out (*latest), which may be a
 * change not yet committed. */
int store_job_changes_count(struct store *s, const struct store_job_filter *f, int64_t after_rv,
                            int cap, int64_t *count, int64_t *latest, struct err *e);

/* The highest resource_version of any job (0 when there is none). Read before a list,
 * it is a version to watch from: every change after it is newer than the list. */
int store_jobs_version(struct store *s, int64_t *rv, struct err *e);

#endif
