/* whatif_model.h -- the inputs of `fedsched simulate`: a modelled federation (clusters,
 * nodes per SKU and pool, serving pools with their lending rules and diurnal demand) and a
 * job trace (arrival, GPUs, acceptable SKUs with a duration on each, priority, preemptible,
 * namespace). Built from a layout JSON file, from an openb node list split into clusters,
 * from Philly-derived per-tenant traces with Gavel's throughputs, from openb pod lists, or
 * from a job JSON file.
 * Not responsible for running the simulation (sim/whatif_engine.c) or the command line
 * (sim/whatif.c).
 *
 * Ownership: whatif_layout_* and whatif_jobs_* return objects the caller owns and releases
 * with whatif_layout_free() / whatif_jobs_free(); they are immutable afterwards, so several
 * simulations may read them at once. Failures: ERR_IO (files), ERR_MALFORMED (syntax, with
 * file and line), ERR_INVALID naming the field ("clusters[1].pools[0].sku").
 * Times are seconds from the start of the trace unless named _ms. */
#ifndef WHATIF_WHATIF_MODEL_H
#define WHATIF_WHATIF_MODEL_H

#include "policy/snapshot.h"
#include "whatif/trace.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

#define WHATIF_NAME_MAX  64
#define WHATIF_SKUS_MAX  16
#define WHATIF_ALT_MAX   4
#define WHATIF_HOURS     24
#define WHATIF_JOBS_MAX  2000000
#define WHATIF_NODES_MAX 200000

/* One group of identical nodes. */
struct whatif_pool {
    enum snapshot_pool pool;
    int sku; /* index into layout skus */
    int nodes;
    int gpus_per_node;
};

/* Serving demand of one serving pool SKU, as a share of that SKU's serving GPUs by local
 * hour: either a diurnal cosine between min and max peaking at peak_hour, or 24 explicit
 * hourly shares (linearly interpolated between hours). */
struct whatif_demand {
    int sku;
    bool hourly;
    double min, max, peak_hour;
    double share[WHATIF_HOURS];
};

struct whatif_cluster {
    char name[WHATIF_NAME_MAX];
    char region[WHATIF_NAME_MAX];
    char tz[SNAPSHOT_TZ_MAX]; /* POSIX TZ rule, empty = UTC */
    double cost[WHATIF_SKUS_MAX];
    struct whatif_pool *pools;
    size_t n_pools;
    /* The serving pool's lending rules (serving.present false = no serving pool). */
    struct snapshot_serving_pool serving;
    struct whatif_demand *demand;
    size_t n_demand;
};

struct whatif_layout {
    char skus[WHATIF_SKUS_MAX][SNAPSHOT_SKU_NAME_MAX];
    size_t n_skus;
    struct whatif_cluster *clusters;
    size_t n_clusters;
    int64_t start_epoch_ms; /* wall-clock instant of trace time 0 (lending windows, demand) */
};

/* Parses a layout document (docs/simulation.md describes it; testdata/whatif/ has
 * examples). Caller owns *out. */
int whatif_layout_parse(const char *text, size_t len, const char *what, struct whatif_layout **out,
                        struct err *e);
int whatif_layout_load(const char *path, struct whatif_layout **out, struct err *e);
void whatif_layout_free(struct whatif_layout **l); /* NULL-safe; sets *l to NULL */

/* How to split one trace's node list into a federation. */
struct whatif_split {
    int clusters;         /* nodes are dealt round-robin, per GPU model, into this many */
    double serving_share; /* this share of each cluster's nodes of each model is serving */
    double demand_min, demand_max, peak_hour; /* diurnal serving demand (shares) */
    int reserve_gpus;                         /* serving reserve per cluster */
    struct snapshot_window window;            /* lending window (local time) */
    const char *tz;                           /* every cluster's TZ rule */
};

/* Sensible defaults: 3 clusters, 30 % serving, demand 0.2..0.9 peaking at 14:00, reserve
 * 2 GPUs, lending 20:00-08:00 every day, UTC. */
void whatif_split_defaults(struct whatif_split *s);

/* Builds a layout from an openb node list: GPU nodes only, SKU = GPU model in lower case,
 * clusters named "c1".."cN". ERR_INVALID when the options are out of range or no node has
 * GPUs. */
int whatif_layout_split(const struct trace_openb_node *nodes, size_t n,
                        const struct whatif_split *s, struct whatif_layout **out, struct err *e);

/* Index of a SKU of the layout, or -1. */
int whatif_layout_sku(const struct whatif_layout *l, const char *name);

/* Total GPUs of the layout in a pool. */
int whatif_layout_gpus(const struct whatif_layout *l, enum snapshot_pool p);

/* Serving demand share (0..1) of cluster c's serving SKU demand entry d at trace time t_s,
 * evaluated in the cluster's local time. */
double whatif_demand_share(const struct whatif_layout *l, size_t c, size_t d, double t_s);

/* ---- jobs ---------------------------------------------------------------------------- */

struct whatif_job {
    char name[WHATIF_NAME_MAX];
    char ns[WHATIF_NAME_MAX];
    double arrival_s;
    int gpus;
    int gpus_per_worker;
    int skus[1 + WHATIF_ALT_MAX];          /* acceptable SKUs (layout indices), preferred first */
    double duration_s[1 + WHATIF_ALT_MAX]; /* running time alone on each of them */
    int n_skus;
    int priority;
    bool preemptible;
    int64_t checkpoint_s;  /* 0 = never checkpoints */
    int64_t max_runtime_s; /* 0 = unknown */
};

struct whatif_jobs {
    struct whatif_job *v;
    size_t n;
};

/* How trace records become jobs where the trace does not say. */
struct whatif_job_opts {
    uint64_t seed;
    double preemptible_share; /* jobs marked preemptible, chosen by a hash of seed and name */
    int64_t checkpoint_s;     /* preemptible jobs checkpoint this often */
    double window_start_s;    /* keep arrivals in [start, start + length); length 0 = all */
    double window_length_s;
    double time_scale;     /* arrival times are divided by this (1 = as recorded) */
    int max_node_gpus;     /* gangs larger than this are split into workers that fit */
    int high_priority_pct; /* this % of jobs get priority 100, the rest 0 */
};

void whatif_job_opts_defaults(struct whatif_job_opts *o);

/* Philly-derived traces: every *.trace in dir (or the one file), namespace = file name
 * without .trace, durations from the throughput table for every layout SKU it has a rate
 * for (a job no layout SKU can run is dropped and counted in *dropped). Jobs are sorted by
 * arrival, then namespace and line. */
int whatif_jobs_philly(const char *path, const struct trace_throughputs *tp,
                       const struct whatif_layout *l, const struct whatif_job_opts *o,
                       struct whatif_jobs **out, size_t *dropped, struct err *e);

/* openb pod lists: GPU pods become jobs of ceil(num_gpu x gpu_milli / 1000) GPUs on their
 * model (gpu_spec, else any layout SKU), arriving at creation_time and running until
 * deletion_time; namespace = QoS class. */
int whatif_jobs_openb(const struct trace_openb_pod *pods, size_t n, const struct whatif_layout *l,
                      const struct whatif_job_opts *o, struct whatif_jobs **out, size_t *dropped,
                      struct err *e);

/* A job JSON file: {"jobs":[{"name":..,"namespace":..,"arrival_s":..,"gpus":..,
 * "gpus_per_worker":..,"skus":["v100","p100"],"duration_s":[3600,5400],"priority":..,
 * "preemptible":..,"checkpoint_s":..,"max_runtime_s":..}]}. */
int whatif_jobs_parse(const char *text, size_t len, const char *what, const struct whatif_layout *l,
                      struct whatif_jobs **out, struct err *e);
int whatif_jobs_load(const char *path, const struct whatif_layout *l, struct whatif_jobs **out,
                     struct err *e);

void whatif_jobs_free(struct whatif_jobs **j); /* NULL-safe; sets *j to NULL */

#endif
