/* forecast.h -- the serving pools' capacity samples, read for the serving-demand forecast
 * (policy/forecast.h): every sample of pool "serving" since a horizon, in one query, in
 * the order the forecast takes them (per cluster and SKU, oldest first), handed to a
 * callback a row at a time so that weeks of samples never sit in memory at once.
 * Not responsible for the forecast itself: store/ does not include policy/ (the layer
 * rule), so the caller turns each row into a demand with forecast_demand(). */
#ifndef STORE_FORECAST_H
#define STORE_FORECAST_H

#include <stdbool.h>
#include <stdint.h>

struct err;
struct store;

/* Rows are read from the database in batches of this many. */
#define STORE_FORECAST_BATCH 10000

/* One serving-pool sample. The strings are valid for the callback's duration only. */
struct store_serving_sample {
    const char *cluster;
    const char *sku;
    int64_t ts_ms;
    int total, used, borrowed, pending_demand;
};

/* Called for each row; a non-zero return stops the read, and store_serving_samples()
 * returns -1 with the error the callback filled in e. */
typedef int (*store_serving_sample_fn)(const struct store_serving_sample *x, void *arg,
                                       struct err *e);

/* Reads the samples of pool "serving" with since_ms <= ts < until_ms taken while their
 * cluster was healthy (an unhealthy cluster's figures are stale or partial, so they say
 * nothing about demand), ordered by cluster, SKU and time, and calls fn for each. One
 * SELECT through a cursor in a read-only transaction, fetched STORE_FORECAST_BATCH rows at
 * a time. Fails with ERR_INVALID (field "since") when since_ms >= until_ms, ERR_DB and the
 * like as store_exec() does, or fn's error. */
int store_serving_samples(struct store *s, int64_t since_ms, int64_t until_ms,
                          store_serving_sample_fn fn, void *arg, struct err *e);

#endif
