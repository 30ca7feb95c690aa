/* rollup_plan.h -- which parts of a capacity report's window are read from the summed
 * capacity samples (capacity_rollup, migration 0030) and which from the samples
 * themselves. Sums are kept for quarter hours, hours and days (UTC), each once every
 * part below it is summed. A part of the window is read from a sum when the sum exists and
 * lies whole inside one step of the report; the rest from the samples. Both give the
 * same GPU-milliseconds (store/reports.c says why).
 * Pure: the sums that exist are given. Not responsible for SQL (store/reports.c). */
#ifndef STORE_ROLLUP_PLAN_H
#define STORE_ROLLUP_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define ROLLUP_QUARTER_MS (15 * 60 * 1000LL)
#define ROLLUP_HOUR_MS    (60 * 60 * 1000LL)
#define ROLLUP_DAY_MS     (24 * 60 * 60 * 1000LL)

/* The sums that exist, by width: starts in ms, ascending. */
struct rollup_marks {
    const int64_t *quarters, *hours, *days;
    size_t n_quarters, n_hours, n_days;
};

/* Where each part of [from, to) is read from. Raw ranges are disjoint, ascending and
 * never adjacent (adjacent ones are one range), inside [from, to). Sums are (width in
 * seconds, start in ms), each inside [from, to) and inside one step. */
struct rollup_plan {
    int64_t *raw_lo, *raw_hi;
    size_t n_raw;
    int *sum_width_s;
    int64_t *sum_start;
    size_t n_sums;
};

/* Fills *out for the window [from, to) by steps of step (> 0) from `from`: every step is
 * covered, from its start, by the widest sum that starts there, lies inside the step and
 * exists (a day, then an hour, then a quarter hour), else by samples up to the next
 * quarter hour (or the step's end). Caller frees with rollup_plan_free(). */
void rollup_plan_build(int64_t from, int64_t to, int64_t step, const struct rollup_marks *m,
                       struct rollup_plan *out);

void rollup_plan_free(struct rollup_plan *p); /* NULL-safe, zeroes *p */

#endif
