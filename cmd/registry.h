/* registry.h -- keeps the poller's cluster set equal to the registry in PostgreSQL
 * (config-file clusters plus those added over the admin API), and writes capacity
 * samples. Not responsible for polling (cluster/) or the HTTP side (api/). */
#ifndef CMD_REGISTRY_H
#define CMD_REGISTRY_H

#include <stddef.h>

struct cluster_config;
struct cluster_snapshot;
struct err;
struct poller;
struct sku_catalogue;
struct store;

/* Writes the config file's clusters into the registry (source "config"), replacing
 * stored ones of the same name; clusters added over the API are left alone. */
int registry_import(struct store *s, const struct cluster_config *cfgs, size_t n, struct err *e);

/* Reads the registry and hands it to the poller (poller_set_clusters). Rows that no
 * longer parse are skipped with a warning. Thread-safe. */
int registry_sync(struct store *s, struct poller *p, const struct sku_catalogue *skus,
                  struct err *e);

/* A poller sink (poller_sink_fn) that appends one capacity sample per cluster x pool x
 * SKU with GPUs to PostgreSQL; arg is the struct store. Failures are logged, not fatal. */
void registry_sample_sink(const struct cluster_snapshot *snap, void *arg);

#endif
