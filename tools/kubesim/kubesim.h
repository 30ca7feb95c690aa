/* kubesim.h -- fedsched-kubesim: simulated member clusters that speak the Kubernetes API over
 * HTTPS (HTTP when asked) on loopback, one port per cluster or all on one port under /c/NAME/ (the cheap way
 * to serve 1,000 clusters). Faults can be injected per cluster, from the scenario file or
 * at run time through this API, and the simulator's own view can be inspected. Used by
 * tests, benchmarks and `make run`; never in production.
 * Not responsible for the cluster model itself (sim_cluster.c) or scenarios
 * (sim_scenario.c). Format and URLs: docs/simulator.md. */
#ifndef TOOLS_KUBESIM_KUBESIM_H
#define TOOLS_KUBESIM_KUBESIM_H

#include "tools/kubesim/kubesim_cluster.h"
#include "tools/kubesim/kubesim_scenario.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct sim;

struct sim_options {
    const char *scenario_path; /* a scenario file, or */
    const char *scenario_text; /* scenario JSON in memory (scenario_len bytes) */
    size_t scenario_len;
    int port;                 /* > 0: cluster i listens on port + i (shared: all on port); 0: the
                          scenario's ports, else ephemeral ones */
    bool shared;              /* one port for all clusters: http://HOST:P/c/NAME/api/v1/... */
    const char *bind;         /* listen address; default "127.0.0.1" */
    int threads;              /* threads per listening port; default 2 when shared, else 1 */
    double time_scale;        /* > 0 overrides the scenario's */
    const char *tls_cert_pem; /* both set: serve HTTPS with this certificate chain and key */
    const char *tls_key_pem;  /* (PEM, copied); either NULL: plain HTTP */
    const char *tls_client_ca_pem; /* with HTTPS: client certificates are asked for and
                                      those this CA signed authenticate, as the user their
                                      CN names (a cluster's clientCertUser); NULL: none */
};

/* Starts serving. Caller owns *out; stop with sim_stop(). Fails with ERR_INVALID/
 * ERR_MALFORMED (scenario), ERR_IO (file, or a port that cannot be bound). */
int sim_start(const struct sim_options *o, struct sim **out, struct err *e);

/* Stops listening, releases parked (delayed) requests first, frees everything. NULL-safe. */
void sim_stop(struct sim **s);

size_t sim_cluster_count(const struct sim *s);
const char *sim_cluster_name_at(const struct sim *s, size_t i);

/* Base URL of a cluster's API server ("http://127.0.0.1:41234" or, shared,
 * "http://127.0.0.1:41234/c/NAME"; https:// when the options gave a certificate). ERR_NOT_FOUND when no such cluster. */
int sim_url(const struct sim *s, const char *cluster, char *out, size_t size, struct err *e);

/* The model of a cluster, for inspection (sim_cluster_nodes(), sim_cluster_node_gpus(),
 * sim_cluster_set_node() ...); NULL when no such cluster. Owned by s. */
struct sim_cluster *sim_get_cluster(struct sim *s, const char *cluster);

/* Replaces the faults of one cluster (NULL: every cluster); a zeroed struct clears them.
 * Thread-safe; takes effect for the next request. ERR_NOT_FOUND when no such cluster. */
int sim_set_faults(struct sim *s, const char *cluster, const struct sim_faults *f, struct err *e);

/* Requests a cluster has received (answered or not); 0 for an unknown cluster. */
uint64_t sim_requests(struct sim *s, const char *cluster);

/* Moves simulated time forward (all clusters). */
void sim_skip_time(struct sim *s, int64_t ms);
int64_t sim_now_ms(const struct sim *s);

/* `fedsched-kubesim --scenario F [--port P] [--shared] [--bind A] [--time-scale X]
 * [--clusters-out F] [--tls-dir D | --insecure-http]`: serves HTTPS (a CA and a server
 * certificate generated at start with the openssl command, written to D, by default the
 * directory of --clusters-out, else a new /tmp/fedsched-kubesim-XXXXXX; for each cluster
 * with a clientCertUser a client certificate and key, D/kubesim-client-NAME.crt and .key,
 * that CA signed) until SIGINT/SIGTERM. Prints "ca FILE" and then one line per
 * cluster, "cluster NAME URL", once listening. Returns the process exit status. */
int sim_main(int argc, char **argv);

#endif
