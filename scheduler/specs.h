/* specs.h -- the specs and labels of the jobs this leader dispatches, fetched from the
 * store and parsed once per job per leadership: a requeued job's next attempt, or a
 * dispatch retried after a failure, reuses them. A spec never changes after submission,
 * so an entry is only ever dropped, never refreshed.
 * Not thread-safe: the scheduler thread alone uses it. */
#ifndef SCHEDULER_SPECS_H
#define SCHEDULER_SPECS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct store;
struct store_sched_jobs;

struct spec_cache;

struct spec_entry {
    int64_t id;
    json_t *spec;   /* the canonical spec object; NULL when the stored text did not parse */
    json_t *labels; /* an object ({} when the stored labels did not parse) */
};

struct spec_cache *spec_cache_new(void);
void spec_cache_free(struct spec_cache **c); /* NULL-safe */

/* Drops every entry (a new term starts from the store again). */
void spec_cache_clear(struct spec_cache *c);

/* Makes sure the n jobs of ids (in ascending order) are cached: those missing are read in
 * one query and parsed. A job gone from the store meanwhile stays missing. ERR_DB and the
 * like when the query fails (nothing is added then). */
int spec_cache_fill(struct spec_cache *c, struct store *s, const int64_t *ids, size_t n,
                    struct err *e);

/* The entry of id, or NULL when it is not cached. Valid until the next fill, prune or
 * clear. */
const struct spec_entry *spec_cache_get(const struct spec_cache *c, int64_t id);

/* Drops the entries of jobs no longer in live (the cycle's live job list). */
void spec_cache_prune(struct spec_cache *c, const struct store_sched_jobs *live);

/* How many specs were parsed since the cache was made (for tests and metrics). */
uint64_t spec_cache_parses(const struct spec_cache *c);
size_t spec_cache_size(const struct spec_cache *c);

#endif
