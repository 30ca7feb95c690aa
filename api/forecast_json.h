/* forecast_json.h -- the serving-demand forecast in GET /v1/capacity: one forecast per
 * cluster and SKU of the serving pool (policy/forecast.h), learned from the capacity
 * samples (store/forecast.h) and kept in memory between requests, each request reading
 * only the samples written since the previous one; rendered as the current slot's p50/p95
 * and the next 24 hours in 15-minute steps; and the mean over any span for the capacity
 * report's steps (api_forecasts_mean()). The learner is policy/forecast_set.h, shared
 * with the scheduler (which keeps its own set for lending).
 * Not responsible for lending or reclaim. */
#ifndef API_FORECAST_JSON_H
#define API_FORECAST_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct forecast_estimate;
struct store;
struct api_forecasts; /* the forecasts learned so far, behind a mutex */

/* Steps of "next24h". */
#define API_FORECAST_STEPS 96

/* One cluster the response covers, with its POSIX TZ rule ("" or NULL: UTC). */
struct api_forecast_cluster {
    const char *name;
    const char *tz;
};

/* Caller owns *out; free with api_forecasts_free(). Never fails. */
struct api_forecasts *api_forecasts_new(void);
void api_forecasts_free(struct api_forecasts **f); /* NULL-safe; sets *f to NULL */

/* Learns the samples written since the previous call (the first reads the last
 * FORECAST_SET_HORIZON_MS) and returns a new JSON array: per cluster of clusters[] (in
 * that order) and SKU with serving samples, {"cluster", "sku", "pool": "serving",
 * "now": {"slotStart", "p50", "p95"}, "next24h": [{"at", "p50", "p95"} x 96]}, where p50
 * and p95 are null for a slot the forecast does not know. Samples of clusters not in
 * clusters[] are not learned. A cluster's zone is the one it had when it was first seen
 * (a changed zone needs a restart). Thread-safe: concurrent calls take turns. Fails with
 * ERR_DB and the like when the samples cannot be read (what was learned stays); ERR_INVALID
 * naming the cluster's "timeZone" when its rule does not parse. */
json_t *api_forecasts_json(struct api_forecasts *f, struct store *s,
                           const struct api_forecast_cluster *clusters, size_t n, int64_t now_ms,
                           struct err *e);

/* Learns the samples written since the previous call, as api_forecasts_json() does, and
 * returns nothing else: for a caller that then asks api_forecasts_mean(). Same errors. */
int api_forecasts_refresh(struct api_forecasts *f, struct store *s,
                          const struct api_forecast_cluster *clusters, size_t n, int64_t now_ms,
                          struct err *e);

/* The mean p50 and mean p95 over the 15-minute slots that [from_ms, to_ms) touches, of the
 * forecast learned so far for cluster and SKU (what a report step of that span expected);
 * out->known false when there is none, from_ms >= to_ms, or any slot is unknown;
 * out->weight_s the least behind a slot. Reads no samples. Thread-safe. */
void api_forecasts_mean(struct api_forecasts *f, const char *cluster, const char *sku,
                        int64_t from_ms, int64_t to_ms, struct forecast_estimate *out);

#endif
