/* kubesim_scenario.h -- the scenario file of the simulated member clusters: per cluster its
 * GPU node pools, serving deployments that follow a diurnal curve, static pods, faults,
 * and the clock (start time, time scale). Format: docs/simulator.md; examples in
 * testdata/sim/.
 * Not responsible for running anything (sim_cluster.c) or serving HTTP (sim.c). */
#ifndef TOOLS_KUBESIM_KUBESIM_SCENARIO_H
#define TOOLS_KUBESIM_KUBESIM_SCENARIO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

/* Faults a cluster answers with. All zero means healthy. */
struct sim_faults {
    int latency_ms;       /* delay every answer (the connection is parked, no thread waits) */
    int status;           /* answer every request with this HTTP status and a Status body:
                             429, 500, 503, ... */
    int retry_after_s;    /* Retry-After header with status 429/503 */
    bool expire_continue; /* any request carrying continue= gets 410 Expired */
    bool drop;            /* close the connection without answering */
    bool malformed;       /* list answers are 200 with a truncated, unparsable body */
    bool unauthorized;    /* 401 Unauthorized */
    int remaining;        /* > 0: the faults apply to this many more requests, then clear */
    double probability;   /* 0 or >= 1: every request; else the chance per request */
    char method[8];       /* "": every method; else only requests with it ("POST") */
    /* Watches only (kubesim_watch.c): */
    int watch_drop_after; /* > 0: close the stream abruptly after this many events */
    bool watch_stall;     /* send the headers, then nothing until timeoutSeconds */
    bool watch_garble;    /* one event line (the first sent) is not JSON */
};

struct sim_node_pool {
    char name[48]; /* node names are <name>-<i> */
    int count;
    char product[64]; /* nvidia.com/gpu.product; "" for CPU-only nodes */
    int gpus;         /* per node */
    int memory_mib;
    char family[32];
    char instance_type[48];
    char zone[48];
    char pool[16];  /* "training" or "serving": label fedsched.io/pool */
    char mig[16];   /* nvidia.com/mig.strategy, "" when none */
    json_t *labels; /* extra labels (object), owned */
    json_t *taints; /* array of {key, value, effect}, owned */
    int not_ready;  /* the first not_ready nodes report Ready=False */
    int cordoned;   /* the next cordoned nodes are cordoned */
    int busy;       /* the last busy nodes run a static pod that uses all their GPUs */
    int cpu;        /* allocatable cores per node; 0: the default (95450m of 96) */
    int memory_gib; /* allocatable memory per node in GiB; 0: the default (~998 GiB) */
};

struct sim_deployment {
    char name[64];
    char ns[64];
    int gpus_per_replica;
    char product[64];      /* nodeSelector nvidia.com/gpu.product, "" for none */
    json_t *node_selector; /* extra nodeSelector labels (object), owned */
    int min_replicas;
    int max_replicas;
    double peak_hour; /* UTC hour of the day at which max_replicas is reached */
    /* The apps/v1 Deployment and autoscaling/v2 HorizontalPodAutoscaler that stand for it
     * (docs/simulator.md): with an autoscaler, its desiredReplicas follows the curve at once,
     * the Deployment's spec.replicas hpa_delay_s later; pods follow spec.replicas
     * rollout_delay_s later. */
    bool hpa;            /* "autoscaler" present */
    int hpa_delay_s;     /* "autoscaler": {"delaySeconds"} */
    int hpa_desired;     /* "autoscaler": {"desiredReplicas"}: a scale announced at the start
                            (the Deployment stays at minReplicas until hpa_delay_s later); 0:
                            none, the curve */
    int rollout_delay_s; /* "rolloutDelaySeconds" */
    /* "kind": "LeaderWorkerSet" serves it as a leaderworkerset.x-k8s.io/v1 LeaderWorkerSet
     * instead (the scenario's clusters then serve that group): a replica is a group of
     * lws_size pods, a leader and lws_size - 1 workers of gpus_per_replica GPUs each. */
    bool lws;
    int lws_size;    /* "size": pods per group, leader included; 1 by default */
    int leader_gpus; /* "leaderGpus": the leader's GPUs, in a leaderTemplate of its own; -1
                        (absent): no leaderTemplate, the leader is made from the worker's */
};

/* The group/version a scenario's LeaderWorkerSets are served in. */
#define SIM_LWS_GV "leaderworkerset.x-k8s.io/v1"

struct sim_static_pod {
    char name[128];
    char ns[64];
    char node[64]; /* "" for an unbound Pending pod */
    int gpus;
    char phase[16]; /* Pending, Running, Succeeded, Failed */
    json_t *labels; /* owned, may be NULL */
    char product[64];
    bool terminating;
};

struct sim_cluster_spec {
    char name[64];
    int port;                 /* 0: ephemeral (or the shared port) */
    char token[128];          /* "" accepts any request; else "Authorization: Bearer <token>" */
    char cert_user[64];       /* "clientCertUser": a client certificate the simulator's CA signed
                           with this CN authenticates too (with TLS; "" none) */
    int watch_history;        /* watch events kept ("watchHistory"); 0: the default, 1000 */
    bool watch_lazy;          /* "watchHistory": 0: record from the first watch, not the start */
    int not_ready_eviction_s; /* "notReadyEvictionSeconds": a NotReady node's pods are
                                 evicted after this long; 0: 300, the default toleration */
    struct sim_node_pool *pools;
    size_t n_pools;
    struct sim_deployment *deployments;
    size_t n_deployments;
    struct sim_static_pod *pods;
    size_t n_pods;
    struct sim_faults faults;
    /* Each of these is owned and NULL when the scenario leaves it out (then the defaults of
     * docs/simulator.md apply): */
    json_t *apis;             /* "group/version" strings served besides the built-in ones */
    json_t *namespaces;       /* names of the namespaces that exist at start */
    json_t *priority_classes; /* names of the PriorityClasses besides the system ones */
    json_t *forbidden;        /* "VERB RESOURCE[.GROUP]" strings the credentials may not do */
};

struct sim_scenario {
    double time_scale;       /* simulated seconds per real second; default 1 */
    int64_t start_ms;        /* simulated clock at start; 0 means now */
    int64_t continue_ttl_ms; /* continue tokens older than this (real time) expire */
    int64_t bookmark_ms;     /* BOOKMARK interval of a watch ("watchBookmarkSeconds"); 60 s */
    struct sim_cluster_spec *clusters;
    size_t n_clusters;
};

/* Parses scenario text (JSON, at most 64 MiB). Caller owns *out; free with
 * sim_scenario_free(). Fails with ERR_MALFORMED or ERR_INVALID naming the member
 * ("clusters[1].nodePools[0].gpus") and its value. */
int sim_scenario_parse(const char *text, size_t len, struct sim_scenario **out, struct err *e);

/* Reads and parses the file at path; ERR_IO when it cannot be read. */
int sim_scenario_load(const char *path, struct sim_scenario **out, struct err *e);

void sim_scenario_free(struct sim_scenario **s); /* NULL-safe; sets *s to NULL */

/* Reads a faults object ({"latencyMs": 2000, "status": 503, ...}); field prefixes error
 * names. Used by the scenario and by the simulator's fault API. */
int sim_faults_from_json(const json_t *j, const char *field, struct sim_faults *out, struct err *e);

#endif
