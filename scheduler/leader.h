/* leader.h -- leader election for the scheduler: one replica decides and dispatches, the
 * others answer the API and stand by. Built on the store's leader session (a PostgreSQL
 * session-level advisory lock plus a fencing epoch incremented on every takeover); every
 * decision write is conditional on the epoch, so a deposed leader cannot write.
 * Not responsible for what the leader does (sched.c). */
#ifndef SCHEDULER_LEADER_H
#define SCHEDULER_LEADER_H

#include <stdbool.h>
#include <stdint.h>

struct err;
struct leader;

/* holder names this replica ("host:pid"). retry_ms: how often a standby tries the lock;
 * renew_ms: how often the leader confirms it still leads. Caller owns *out (leader_free).
 * One thread at a time. */
int leader_new(const char *dsn, const char *holder, int retry_ms, int renew_ms, struct leader **out,
               struct err *e);
void leader_free(struct leader **l); /* NULL-safe; resigns */

/* Tries to lead (a standby, at most every retry_ms) or confirms leadership (a leader, at
 * most every renew_ms). Returns whether this replica leads now; *epoch is the fencing
 * epoch while it does; *gained is true on the call that took over. Never fails: a broken
 * database means "not leading" (and is logged). */
bool leader_poll(struct leader *l, int64_t *epoch, bool *gained);

/* The write path found the epoch superseded, or the caller stops: lead no longer. */
void leader_resign(struct leader *l);

/* True when leadership was confirmed within max_age_ms; callers check this before acting
 * on member clusters, which the database fence does not cover. */
bool leader_fresh(const struct leader *l, int64_t max_age_ms);

/* Waits up to timeout_ms for a submission or job change notification (leaders only; a
 * standby just sleeps). Returns true when one came. */
bool leader_wait(struct leader *l, int timeout_ms);

#endif
