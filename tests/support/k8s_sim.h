/* k8s_sim.h -- test helper: run the simulator in-process on ephemeral loopback ports and
 * build the member-cluster configs (with token files) that point at it. No main. */
#ifndef TESTS_SUPPORT_K8S_SIM_H
#define TESTS_SUPPORT_K8S_SIM_H

#include "cluster/cluster_config.h"
#include "tools/kubesim/kubesim.h"

#include <stdbool.h>
#include <stddef.h>

struct k8s_env {
    struct sim *sim;
    struct cluster_config *cfgs; /* one per simulated cluster, in scenario order */
    size_t n;
    char dir[256]; /* temporary directory holding token files; the secrets directory */
};

/* Starts the scenario testdata/<rel> (shared: one port, /c/NAME/ prefixes). Clusters with
 * a token get a token file; clusters with serving node pools get a serving pool selecting
 * fedsched.io/pool=serving over the "serving" namespace. The process-wide secrets
 * directory (cluster/secrets.h) becomes env->dir, where the token files are. Aborts the
 * test on failure. */
void k8s_env_start(struct k8s_env *env, const char *rel, bool shared);

/* Same from scenario text. */
void k8s_env_start_text(struct k8s_env *env, const char *text, bool shared);

void k8s_env_stop(struct k8s_env *env);

/* Index of the config named name; aborts when missing. */
size_t k8s_env_index(const struct k8s_env *env, const char *name);

/* Calls cond(arg) every 20 ms until it returns true or timeout_ms pass. */
bool k8s_wait_until(bool (*cond)(void *), void *arg, int timeout_ms);

#endif
