/* cli_cluster.h -- the member-cluster verbs of the fedsched binary: `cluster add NAME
 * --kubeconfig FILE [--context C]`, `cluster list|get|cordon|uncordon|check|remove`, and the
 * top-level `clusters` (= cluster list) and `capacity`. They talk to the REST API like the
 * job verbs (FEDSCHED_URL, FEDSCHED_TOKEN; exit codes of cli.h).
 * `cluster add` reads a kubeconfig (YAML), writes the credentials it holds inline into the
 * secrets directory (docs/clusters.md, "From a kubeconfig") and registers the cluster with
 * PUT /v1/clusters/NAME naming those files.
 * Not responsible for HTTP (cli_http.c), YAML (yaml.c) or the job verbs (cli.c). */
#ifndef CLIENT_CLI_CLUSTER_H
#define CLIENT_CLI_CLUSTER_H

#include <stdbool.h>

/* True for "cluster", "clusters" and "capacity". */
bool cli_cluster_is_verb(const char *name);

/* Runs verb argv[0] with its arguments; returns an enum cli_exit value. Reads the
 * environment (FEDSCHED_URL, FEDSCHED_TOKEN, FEDSCHED_SECRETS_DIR); results on stdout,
 * messages on stderr. Single-threaded. */
int cli_cluster_main(int argc, char **argv);

#endif
