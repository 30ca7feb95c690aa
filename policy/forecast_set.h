/* forecast_set.h -- the serving-demand forecasts of every (cluster, SKU) serving pool, learned
 * incrementally: each read of the capacity samples starts a little before the previous read
 * ended, and samples already learned are skipped. One learner for the API (GET /v1/capacity,
 * api/forecast_json.c) and the scheduler (lending, scheduler/forecasts.c); each keeps its own
 * set and reads samples with store_serving_samples(), feeding each row to
 * forecast_set_learn().
 * Not responsible for reading samples (store/forecast.h; store/ does not include policy/) or
 * for locking: pure, one user at a time. */
#ifndef POLICY_FORECAST_SET_H
#define POLICY_FORECAST_SET_H

#include "policy/forecast.h"

#include <stddef.h>
#include <stdint.h>

struct err;
struct forecast_set;

/* How far back the first read goes: four weeks. */
#define FORECAST_SET_HORIZON_MS (28LL * 24 * 3600 * 1000)
/* Each read starts this long before the previous one ended: the sampler stamps a row with
 * its snapshot's time and inserts it a moment later, so a row can appear behind a read. */
#define FORECAST_SET_OVERLAP_MS (5LL * 60 * 1000)

struct forecast_set *forecast_set_new(void);       /* caller owns; never fails */
void forecast_set_free(struct forecast_set **set); /* NULL-safe; sets *set to NULL */

/* Where the next read of samples starts for a read up to now_ms (the horizon on the first). */
int64_t forecast_set_read_from(const struct forecast_set *set, int64_t now_ms);
/* Records that every sample before until_ms has been read (call after a read succeeded). */
void forecast_set_read_done(struct forecast_set *set, int64_t until_ms);

/* Learns one sample of (cluster, sku): its forecast is created on first sight in zone tz
 * (POSIX TZ rule; "" or NULL: UTC; a zone changed later needs a restart). A sample at or
 * before the forecast's latest is skipped (reads overlap). Fails with ERR_INVALID naming
 * "timeZone" when tz does not parse, or forecast_observe()'s error. */
int forecast_set_learn(struct forecast_set *set, const char *cluster, const char *sku,
                       const char *tz, int64_t ts_ms, int demand, struct err *e);

size_t forecast_set_count(const struct forecast_set *set);
/* Entry i (< count) in order of first sight: its cluster, SKU and forecast. */
const struct forecast *forecast_set_at(const struct forecast_set *set, size_t i,
                                       const char **cluster, const char **sku);

/* high[i] = the p95 of f in the slot starting at from_ms + i * FORECAST_SLOT_MS, rounded up
 * to whole GPUs; -1 where unknown. */
void forecast_set_high(const struct forecast *f, int64_t from_ms, int *high, int n);

#endif
