/* lend.h -- internal to policy/: when a serving pool may lend, and until when.
 * Lending windows are weekly and in the cluster's local time (policy/tz.h); the idle policy
 * lends once the pool has been idle long enough. Pure functions, safe from any thread.
 * Not responsible for how many GPUs are lendable (reclaim.c) or who may borrow (engine.c). */
#ifndef POLICY_LEND_H
#define POLICY_LEND_H

#include "policy/snapshot.h"
#include "policy/tz.h"

#include <stdbool.h>
#include <stdint.h>

/* True when one of sp's windows is open at now_ms. *end_ms (when not NULL) receives the
 * instant the open period ends, following windows that chain or overlap (Friday 22:00-24:00
 * then Saturday 00:00-08:00 ends Saturday 08:00), at most 7 days ahead. A window's days
 * mask of 0 is read as every day. */
bool lend_window_open(const struct snapshot_serving_pool *sp, const struct tz_rule *tz,
                      int64_t now_ms, int64_t *end_ms);

/* True when the pool has been continuously idle for at least sp->idle_minutes at now_ms. */
bool lend_idle_enough(const struct snapshot_serving_pool *sp, int64_t now_ms);

#endif
