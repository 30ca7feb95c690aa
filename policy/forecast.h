/* forecast.h -- serving demand by time of week, learned from capacity samples: per
 * 15-minute slot of the cluster's local week (672 slots), a decayed sketch of how many GPUs
 * serving wanted, read as quantiles (p50, p95, any q), and the high quantile's peak over a
 * coming lease. One forecast is one (cluster, serving pool, SKU).
 *
 * Not responsible for reading samples (store/forecast.h does, the caller feeds them in time
 * order) nor for lending or reclaim decisions (nothing reads it yet). Pure: no I/O, no
 * clock; "now" is the time of the latest sample. Not thread-safe: one writer, and readers
 * only while nobody observes.
 *
 * Demand. A sample's serving demand is what serving pods hold plus what they wait for:
 * (used - borrowed) + pending (forecast_demand()). Used alone would learn the pool's
 * supply, not its demand: whenever borrowers kept serving short, the shortfall sits in
 * pending_demand, and a forecast blind to it would lend the same GPUs again at the same
 * hour next week. Borrowed GPUs are fedsched's own and are what lending decides, so they
 * are taken out.
 *
 * Method. Each slot keeps at most FORECAST_POINTS (value, weight) points, the weight being
 * decayed seconds of observation. A sample counts for the time until the next sample
 * (at most max_gap_ms; a longer silence is a gap in the data, not a level), cut at slot
 * boundaries, so bursts of samples do not outweigh steady periods. A value equal to a
 * point's adds to it; otherwise it becomes a new point and, when the slot is full, the
 * two neighbouring points whose merge moves the least mass (2 w1 w2 |v1 - v2| / (w1 + w2))
 * become one at their weighted mean. Weights decay with half-life half_life_ms, applied
 * lazily per slot when it is next touched or read. A quantile is the smallest point value
 * whose cumulative weight reaches q of the slot's total (percentile_disc over time).
 *
 * Why this: it is streaming (one pass, samples in time order), bounded (672 x 16 points,
 * 95 KiB a forecast, whatever the history), follows drift (after a shift of the pattern
 * the old weeks' weight halves every half-life: with the default 7 days the new level
 * holds more than half the weight, so p50 follows, within 2 weeks, and p95 of a fall
 * within 5), and keeps exact values while a slot sees at most 16 distinct GPU counts,
 * which is the common case for a pool's serving load within a quarter hour across a few
 * weeks. Stochastic quantile estimates (one number per quantile per slot) are smaller
 * but converge slowly and have a step size to tune; a fixed-bin histogram needs the
 * pool's size in advance. */
#ifndef POLICY_FORECAST_H
#define POLICY_FORECAST_H

#include <stdbool.h>
#include <stdint.h>

struct err;
struct tz_rule;
struct forecast;

#define FORECAST_SLOT_MS (15 * 60 * 1000)
#define FORECAST_SLOTS   (7 * 24 * 4) /* 15-minute slots of a week, Sunday 00:00 local first */
#define FORECAST_POINTS  16           /* points kept per slot */

struct forecast_params {
    int64_t half_life_ms; /* weights halve every this long; 1 h .. 365 days */
    int64_t max_gap_ms;   /* a sample counts for at most this long; 1 s .. 1 day */
    double min_weight_s;  /* a slot with less decayed observation than this is unknown */
};

/* The defaults: half-life 7 days, max gap 10 minutes (as the capacity report holds a
 * sample, store/reports.h; ten default sample intervals), min weight 60 s. */
void forecast_params_default(struct forecast_params *p);

/* A new, empty forecast in the zone tz (copied; NULL: UTC). Caller owns *out; free with
 * forecast_free(). Fails with ERR_INVALID naming the parameter and its value. */
int forecast_new(const struct forecast_params *p, const struct tz_rule *tz, struct forecast **out,
                 struct err *e);
void forecast_free(struct forecast **f); /* NULL-safe; sets *f to NULL */

/* Serving demand of one sample: max(used - borrowed, 0) + pending, all at least 0. */
int forecast_demand(int used, int borrowed, int pending);

/* The slot (0 .. FORECAST_SLOTS - 1) of the local week that utc_ms falls in. */
int forecast_slot(const struct tz_rule *tz, int64_t utc_ms);

/* Records that demand GPUs were wanted from t_ms until the next sample. Samples come in
 * time order: ERR_INVALID (field "ts") for one before the previous sample, (field
 * "demand") for a negative demand; the forecast is unchanged then. A repeat of the
 * previous time replaces its value. */
int forecast_observe(struct forecast *f, int64_t t_ms, int demand, struct err *e);

/* The time of the latest sample (the forecast's "now"); INT64_MIN when none. */
int64_t forecast_latest(const struct forecast *f);

struct forecast_estimate {
    bool known;      /* false: too little data (weight below min_weight_s); p50, p95 are 0 */
    double p50, p95; /* GPUs */
    double weight_s; /* decayed seconds of observation behind it (the least, for a range) */
};

/* The q-quantile (0 < q <= 1) of demand in t_ms's slot; -1 when the slot is unknown. */
double forecast_quantile(const struct forecast *f, int64_t t_ms, double q);

/* p50 and p95 of demand in t_ms's slot. */
void forecast_predict(const struct forecast *f, int64_t t_ms, struct forecast_estimate *out);

/* The largest p50 and largest p95 over the slots that [t_ms, t_ms + len_ms) touches
 * (len_ms <= 0: t_ms's slot alone; beyond a week the week repeats): what a lease of
 * len_ms starting at t_ms must leave to serving. Unknown when any of those slots is. */
void forecast_peak(const struct forecast *f, int64_t t_ms, int64_t len_ms,
                   struct forecast_estimate *out);

#endif
