/* reclaim.h -- internal to policy/: serving-pool bookkeeping for one cycle. Counts deficit
 * streaks, picks borrowed jobs to give GPUs back (lease ends and sustained deficits),
 * applies the per-pool rate limit and re-lend back-off, and decides which pools lend this
 * cycle and with what lease. Non-borrowed jobs are never candidates.
 * Not responsible for placing borrowers (policy.c, engine.c). */
#ifndef POLICY_RECLAIM_H
#define POLICY_RECLAIM_H

#include <stdbool.h>

struct engine;
struct policy_running;
struct policy_result;
struct policy_state;

/* Fills r->reclaims and r->pools, sets en->lend for every cluster x SKU, and updates the
 * pool entries of st. */
void reclaim_run(struct engine *en, struct policy_state *st, struct policy_result *r);

/* The one victim order of every reclaim and preemption: true when x (losing lost_x
 * GPU-hours) goes before y: least lost work, then lowest priority, then youngest, then id. */
bool reclaim_victim_before(const struct policy_running *x, double lost_x,
                           const struct policy_running *y, double lost_y);

#endif
