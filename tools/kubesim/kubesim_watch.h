/* kubesim_watch.h -- the simulator's watch streams over HTTP: `?watch=true` on a list path
 * answers with a chunked application/json stream of WatchEvents, one per line, as the
 * Kubernetes API server does; bookmarks, timeoutSeconds, a bounded number of watchers per
 * cluster and the watch faults (drop, stall, garble); with as=Table in Accept (kubectl get -w),
 * events whose objects are one-row Tables (kubesim_table.h). A change reaches the streams of its
 * cluster at once; a timer lets simulated time act on clusters that have watchers, so a
 * watcher sees changes without sending requests.
 * Not responsible for the events themselves (kubesim_cluster.c: sim_cluster_watch_*) or
 * for routing, authentication and the other faults (kubesim.c). */
#ifndef TOOLS_KUBESIM_KUBESIM_WATCH_H
#define TOOLS_KUBESIM_KUBESIM_WATCH_H

#include "tools/kubesim/kubesim_cluster.h"
#include "tools/kubesim/kubesim_scenario.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#define SIM_WATCHERS_MAX 100 /* open watches per cluster; beyond: 429 */

struct sim_watchers;

/* The watchers of a simulator's clusters (borrowed, as clock, the clusters' time for the AGE
 * of Table rows; they outlive it). With allowWatchBookmarks=true a stream gets a BOOKMARK
 * every bookmark_ms and one 2 s before its deadline, as the API server's watch cache sends
 * them (every minute by default). Hooks itself to the clusters' changes (one set of
 * watchers per cluster); starts the timer thread. */
struct sim_watchers *sim_watchers_new(struct sim_cluster **clusters, size_t n,
                                      const struct sim_clock *clock, int64_t bookmark_ms);

/* Ends every stream (a clean end of stream) and stops the timer; call before
 * MHD_stop_daemon() (no connection may stay suspended). NULL-safe. */
void sim_watchers_stop(struct sim_watchers *ws);

/* Frees it, after MHD_stop_daemon() (the streams' callbacks use it until then). */
void sim_watchers_free(struct sim_watchers **ws);

/* Whether the request asks for a watch (watch=true or watch=1). */
bool sim_watch_requested(struct MHD_Connection *conn);

/* Answers a watch of path on cluster i: the stream, or a Status (400 bad parameter, 404,
 * 410 Expired, 429 too many watchers). f: the faults that apply to it, or NULL. */
enum MHD_Result sim_watch_serve(struct sim_watchers *ws, size_t i, struct MHD_Connection *conn,
                                const char *path, const struct sim_query *q,
                                const struct sim_faults *f);

/* A fault set on cluster i reaches the watches open there, as on an API server that went
 * bad: `drop` cuts them (no final chunk), `latencyMs` stalls them (nothing more is sent),
 * a `status` or `unauthorized` ends them cleanly (as a server shutting down ends its
 * watches; the watch opened again then gets the fault). Other faults, and faults that
 * are one-shot (remaining), occasional (probability) or for another method than GET,
 * apply to new requests only. */
void sim_watchers_fault(struct sim_watchers *ws, size_t i, const struct sim_faults *f);

/* Open watches of cluster i (for tests). */
int sim_watchers_open(struct sim_watchers *ws, size_t i);

#endif
