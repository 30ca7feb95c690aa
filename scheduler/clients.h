/* clients.h -- the scheduler's pool of member-cluster Job clients (cluster/k8s_jobs.h),
 * kept equal to the cluster registry in PostgreSQL.
 * Not responsible for what is created with them (cluster/manifest.h, sched.c). */
#ifndef SCHEDULER_CLIENTS_H
#define SCHEDULER_CLIENTS_H

#include "cluster/k8s_jobs.h"

#include <stdbool.h>
#include <stddef.h>

struct cluster_config;
struct err;
struct sku_catalogue;
struct store;

struct sched_clients;

/* An empty pool. request_timeout_ms bounds each call. Caller owns *out. */
struct sched_clients *sched_clients_new(int request_timeout_ms);
void sched_clients_free(struct sched_clients **c); /* NULL-safe */

/* Re-reads the registry: new clusters get a client, changed ones a new one, removed ones
 * are dropped. Rows that do not parse are skipped. Not thread-safe: one owner thread. */
int sched_clients_sync(struct sched_clients *c, struct store *s, const struct sku_catalogue *skus,
                       struct err *e);

/* The client and config of cluster name, or NULL (unknown, or its client could not be
 * made). Valid until the next sync. */
struct k8s_client *sched_clients_get(struct sched_clients *c, const char *name,
                                     const struct cluster_config **cfg);

/* Member namespaces known to exist in cluster name (made or found by this scheduler since
 * its client was made): dispatch ensures each once, not before every create. set with
 * known = false forgets one (a create said it is gone). Unknown clusters: false / no-op. */
bool sched_clients_ns_known(const struct sched_clients *c, const char *name, const char *ns);
void sched_clients_ns_set(struct sched_clients *c, const char *name, const char *ns, bool known);

size_t sched_clients_count(const struct sched_clients *c);
/* The i-th cluster's name (i < count). */
const char *sched_clients_name(const struct sched_clients *c, size_t i);

#endif
