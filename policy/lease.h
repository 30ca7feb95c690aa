/* lease.h -- internal to policy/: how much a serving pool may lend, and for how long, when
 * a serving-demand forecast is known (docs/policy.md, "Borrowing serving GPUs").
 *
 * For a lease of length L the pool lends free - reserve - max(pending, P(L) - use), where
 * P(L) is the forecast's high quantile of serving demand at its peak over [now, now + L)
 * and use is what serving holds now (used - borrowed). The lease a borrower gets ends at
 * the first forecast step that would lower that figure below what the minimum lease
 * already allows (the forecast peak), at the end of what the forecast knows (24 h, or an
 * unknown step), or at the fixed rules' end (window end, idle lease), whichever comes
 * first: a window is an upper bound the forecast may only shorten.
 *
 * Pure: no I/O, no clock. Not responsible for whether the pool lends at all (windows, idle,
 * back-off: reclaim.c, lend.c) nor for learning the forecast (policy/forecast.h). */
#ifndef POLICY_LEASE_H
#define POLICY_LEASE_H

#include <stddef.h>
#include <stdint.h>

struct engine;
struct engine_lend;
struct policy_forecast;

#define LEASE_STEPS   96                 /* forecast steps: 24 h */
#define LEASE_STEP_MS (15 * 60 * 1000LL) /* one step */

/* Which bound set a lend decision's figures (stable snake_case names: lease_bound_name). */
enum lease_bound {
    LEASE_BOUND_NONE = 0,   /* the pool does not lend: no lease */
    LEASE_BOUND_WINDOW_END, /* the lending window's end */
    LEASE_BOUND_IDLE_LEASE, /* the idle policy's lease length */
    LEASE_BOUND_FORECAST,   /* the forecast's demand peak at peak_at_ms */
    LEASE_BOUND_HORIZON,    /* the end of what the forecast knows (24 h or unknown step) */
    LEASE_BOUND_MIN_LEASE,  /* the forecast peak within the minimum lease left nothing */
};
const char *lease_bound_name(enum lease_bound b);

/* The high quantile of serving demand per step: high[i] GPUs over [from_ms + i step,
 * from_ms + (i + 1) step); -1 = unknown. */
struct lease_forecast {
    int64_t from_ms;
    const int *high; /* LEASE_STEPS entries */
};

struct lease_in {
    int64_t now_ms;
    int64_t end_ms;             /* the lease end the fixed rules give */
    enum lease_bound end_bound; /* WINDOW_END or IDLE_LEASE: which rule gave end_ms */
    int free_gpus;              /* free now (in-flight placements taken out) */
    int reserve;
    int pending;     /* pending serving demand now */
    int serving_use; /* GPUs serving holds now: used - borrowed */
    int64_t min_lease_ms;
};

struct lease_out {
    int lendable; /* may be <= 0 */
    int64_t end_ms;
    enum lease_bound bound;
    int peak;           /* forecast GPUs the lease leaves to serving; -1 without a forecast */
    int64_t peak_at_ms; /* FORECAST: start of the step whose rise ends the lease;
                           MIN_LEASE: of the peak step within the minimum lease */
};

/* Fits a lease to the forecast f (NULL, or its step at now unknown: the fixed rules alone,
 * lendable = free - reserve - pending). */
void lease_fit(const struct lease_in *in, const struct lease_forecast *f, struct lease_out *out);

/* The input's forecast of cluster c's serving pool of SKU k, or NULL. */
const struct policy_forecast *lease_forecast_of(const struct engine *en, size_t c, int k);

/* The forecast's high quantile of serving demand at its peak over [now, now + lead_ms)
 * (the step at now always counts), or -1 when there is no forecast or its step at now is
 * unknown. An unknown step later ends the look-ahead. */
int lease_peak_ahead(const struct policy_forecast *pf, int64_t now_ms, int64_t lead_ms);

/* The hook of reclaim.c's lending(): fits the lease of cluster c's serving pool of SKU k
 * (open by the fixed rules until end_ms, which end_bound names; lendable GPUs by them)
 * to the input's forecast of that pool, if any, into L->lease and L->lease_end_ms, and
 * returns the GPUs lendable. */
int lease_pool(const struct engine *en, size_t c, int k, int lendable, int64_t end_ms,
               enum lease_bound end_bound, struct engine_lend *L);

#endif
