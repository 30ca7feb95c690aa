/* whatif_memo.h -- answers of an expensive what-if kept per key for a few seconds, with one
 * what-if at a time: a GET of a queued job's queue figures (queue_memo.c) and the queue
 * view (queue_routes.c) both cost a simulation of the queue, and callers poll them.
 * Thread-safe. Not responsible for what the answers say. */
#ifndef API_WHATIF_MEMO_H
#define API_WHATIF_MEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct whatif_memo;

/* slots keys kept (a key takes the slot its hash names); an answer is fresh for ttl_ms and
 * may stand in for stale_ms while another what-if runs. */
struct whatif_memo *whatif_memo_new(size_t slots, int64_t ttl_ms, int64_t stale_ms);
void whatif_memo_free(struct whatif_memo **m); /* NULL-safe */

/* The answer for key at version rv (0 when the key has none): the kept one when it is for
 * rv and fresh; else, while another what-if runs, the kept one for key when younger than
 * stale_ms (whatever its version), or NULL with *busy true; else make(arg), run outside the
 * lock as the one what-if, kept when not NULL. Returns a copy (caller frees) or NULL. */
char *whatif_memo_get(struct whatif_memo *m, const char *key, int64_t rv, char *(*make)(void *arg),
                      void *arg, bool *busy);

/* Takes the one what-if slot for a caller that keeps nothing (a dry run) and returns true,
 * or false while a what-if runs; whatif_memo_end() gives it back. */
bool whatif_memo_begin(struct whatif_memo *m);
void whatif_memo_end(struct whatif_memo *m);

/* What-ifs run, answers given from the kept ones, and calls that got none while another
 * what-if ran. */
struct whatif_memo_counts {
    uint64_t made, reused, busy;
};
void whatif_memo_counts(struct whatif_memo *m, struct whatif_memo_counts *out);

#endif
