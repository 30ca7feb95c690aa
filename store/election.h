/* election.h -- the scheduler's leader session in PostgreSQL: a session-level advisory
 * lock held while this replica leads, the fencing epoch counted in the leader row, and
 * LISTEN for submissions and job changes.
 * Not responsible for what a leader does (scheduler/) or its writes (live_jobs.h). */
#ifndef STORE_ELECTION_H
#define STORE_ELECTION_H

#include <stdbool.h>
#include <stdint.h>

struct err;
struct store;

/* A dedicated session (its own connection, outside the pool) that holds the scheduler's
 * session-level advisory lock while this replica leads, and LISTENs for new submissions
 * and job changes. PostgreSQL releases the lock when the session ends, so a leader that
 * dies (kill -9, lost network) frees it at once. */
struct store_leader;

/* Makes a session for dsn (connected lazily: the first try connects, and again after it
 * broke). holder names this replica in the leader row ("host:pid"). Caller owns *out; free
 * with store_leader_close(). One thread at a time per session. */
int store_leader_open(const char *dsn, const char *holder, struct store_leader **out,
                      struct err *e);
void store_leader_close(struct store_leader **l); /* NULL-safe; ends the session (and
                                                     leadership) */

/* Tries to take the lock. On success *epoch is the new fencing epoch (the leader row's
 * counter, incremented now) and *acquired true; when another session holds the lock,
 * *acquired is false. ERR_DB when the database cannot be reached. */
int store_leader_try(struct store_leader *l, bool *acquired, int64_t *epoch, struct err *e);

/* Confirms that this session still leads at epoch (and notes renewed_at). Fails with
 * ERR_CONFLICT when another leader took over, ERR_DB when the session broke: either way
 * this replica no longer leads and must stop deciding. */
int store_leader_renew(struct store_leader *l, int64_t epoch, struct err *e);

/* Gives up leadership (unlock) without closing the session. */
void store_leader_release(struct store_leader *l);

/* Waits up to timeout_ms for a notification (a submission or a job change); *woken tells
 * whether one came. Returns at once when notifications are already pending. ERR_DB when
 * the session broke (the caller then no longer leads). */
int store_leader_wait(struct store_leader *l, int timeout_ms, bool *woken, struct err *e);

struct store_leader_info {
    int64_t epoch;    /* 0 before anyone ever led */
    char holder[128]; /* "" when none */
    int64_t acquired_ms;
    int64_t renewed_ms;
    bool locked; /* some session holds the advisory lock now */
};

/* Reads the leader row (any replica, through the pool). */
int store_leader_get(struct store *s, struct store_leader_info *out, struct err *e);

#endif
