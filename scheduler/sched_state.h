/* sched_state.h -- the policy state (policy_state of policy.h) as JSON, so a new leader
 * continues with the old one's reclaim streaks, token buckets, lending back-off and
 * fair-share usage. Snapshot sequence numbers are per process and are not carried over.
 * Not responsible for storing the text (store/live_jobs.c) or for when to save (sched.c). */
#ifndef SCHEDULER_SCHED_STATE_H
#define SCHEDULER_SCHED_STATE_H

struct err;
struct policy_state;

/* {"lastNowMs":..,"pools":[{"cluster":..,"streak":[..],"tokensMilli":..,"tokensAtMs":..,
 * "backoffUntilMs":..,"backoffLevel":..,"lastReclaimMs":..}],"usage":[{"ns":..,
 * "gpuHours":[..],"asOfMs":..}]}. Caller frees the text. */
char *sched_state_to_json(const struct policy_state *st);

/* Reads such text into st (which should be empty: entries are added). Fails with
 * ERR_MALFORMED naming the member; st may then hold part of the entries (callers start
 * afresh with an empty state, which is always safe). */
int sched_state_from_json(const char *text, struct policy_state *st, struct err *e);

#endif
