/* packing.h -- node-level packing quality on the Alibaba openb traces, set up exactly as the
 * ATC'23 paper "Beware of Fragmentation" (Weng et al.) and its artifact do: the pod list in a
 * seeded random order, then pods sampled at random from it appended until the GPU requests
 * would pass tune_ratio x the cluster's GPU capacity; pods arrive one by one and are never
 * removed (or the artifact's own draws: struct packing_order); each is placed on one node
 * (CPU, memory, GPU model, whole or shared devices) or fails. The measure is the GPU allocation ratio (allocated / total milli-GPUs) while the
 * arrived GPU requests were p% of capacity, for p = 0..130, as the artifact's analysis
 * script computes it.
 * Not responsible for reading the traces (sim/trace.c) or for our scoring itself
 * (policy/nodefit.c, which PACKING_NODEFIT calls).
 * Threads: packing_run() uses only its arguments and may run concurrently with itself. */
#ifndef WHATIF_PACKING_H
#define WHATIF_PACKING_H

#include "whatif/trace.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

enum packing_policy {
    PACKING_RANDOM = 0, /* a random feasible node; a random device with room (paper: Random) */
    PACKING_BESTFIT,    /* least CPU + GPU left (0.5/0.5, scores 0..100 as the artifact
                           quantises them), first among equals; tightest device (BestFit) */
    PACKING_FGD,        /* our reimplementation of Fragmentation Gradient Descent, for
                           reference beside its published figures */
    PACKING_NODEFIT,    /* ours: policy/nodefit.c, deterministic */
    PACKING_POLICY_COUNT
};

/* "random", "bestfit", "fgd", "nodefit". */
const char *packing_policy_name(enum packing_policy p);
/* Parses a name above. Returns 0, or -1 with ERR_INVALID listing the names. */
int packing_policy_parse(const char *s, enum packing_policy *out, struct err *e);

#define PACKING_CURVE_MAX 131 /* arrived workload 0..130 % of GPU capacity */

struct packing_opts {
    uint64_t seed;     /* the artifact used 42..51 */
    double tune_ratio; /* GPU requests to arrive as a share of capacity; the paper used 1.3 */
    bool shuffle;      /* random arrival order (the paper's setting); false = name order */
    /* The artifact's own draws for this seed (struct packing_order, tools/openb-order), or
     * NULL for ours. order[n_order]: the arriving pods as indices into the list sorted by
     * name, in place of the shuffle and the sampling (shuffle and tune_ratio are then
     * unused). node_rank[n_nodes]: each node's place in the order the scheduler breaks
     * ties in, for the nodes sorted by name. */
    const uint32_t *order;
    size_t n_order;
    const uint32_t *node_rank;
    size_t n_node_rank;
    /* Ours: how nodefit weighs its shapes. PACKING_REHEARSE (the default) rehearses the
     * list's work on the empty cluster (nodefit_profile_rehearse(), PACKING_REHEARSALS runs,
     * its own draws: the choice does not depend on the seed, so a caller running many seeds
     * may take it from the first run's result); else an enum nodefit_weights. */
    int nodefit_weights;
};

#define PACKING_REHEARSE   (-1)
#define PACKING_REHEARSALS 3

/* Fills o with the paper's set-up for one seed. */
void packing_opts_defaults(struct packing_opts *o, uint64_t seed);

struct packing_result {
    /* Allocation ratio (%) averaged over the arrivals at which the arrived GPU requests,
     * rounded to a whole percent of capacity, were p; < 0 when no arrival fell there
     * (the artifact then widens to p +/- 1, and so do we before giving up). */
    double alloc_pct[PACKING_CURVE_MAX];
    size_t pods;       /* pods that arrived (original + sampled) */
    size_t failed;     /* pods no node could take */
    size_t failed_gpu; /* of which asked for GPUs */
    double final_alloc_pct;
    double final_arrived_pct;
    int64_t total_gpu_milli;
    double seconds; /* wall time of the run */
    /* Ours: the weighting used (enum nodefit_weights), and when it was rehearsed, the
     * milli-GPUs each weighting turned away there and the milli-GPUs drawn. */
    int nodefit_weights;
    double rehearsal_lost[2], rehearsal_arrived;
};

/* Runs one policy over one pod list on one node list (the paper uses the GPU nodes,
 * openb_node_list_gpu_node.csv). ERR_INVALID when no node has GPUs, a node has more than
 * NODEFIT_GPUS_MAX devices, the pod list has no GPU requests, an order names a pod the list
 * does not have, or node_rank is not an order of the n_nodes nodes. */
int packing_run(const struct trace_openb_node *nodes, size_t n_nodes,
                const struct trace_openb_pod *pods, size_t n_pods, enum packing_policy policy,
                const struct packing_opts *o, struct packing_result *out, struct err *e);

/* The artifact's random draws for one pod list and seed, which only Go's math/rand can
 * reproduce (tools/openb-order writes them): its arrival order (the list sorted by name,
 * shuffled, then sampled up or down to tune_ratio x capacity) and its node order (it
 * renames the nodes, sorted by name, "%04d-" rank + name, and breaks ties by name). The
 * file has two lines of decimal indices: the pods, then the nodes' ranks. */
struct packing_order {
    uint32_t *pods;
    size_t n_pods;
    uint32_t *node_rank;
    size_t n_nodes;
};

/* Parses the two lines. Returns 0, or -1 with ERR_INVALID naming the line and the text that
 * is not an index (the ranges are checked by packing_run). */
int packing_order_parse(const char *text, size_t len, const char *what, struct packing_order *out,
                        struct err *e);
int packing_order_load(const char *path, struct packing_order *out, struct err *e);
void packing_order_free(struct packing_order *o);

/* The allocation ratio at p% arrived as the artifact reports it (with the +/- 1 widening),
 * or -1. */
double packing_alloc_at(const struct packing_result *r, int p);

/* ---- stress variants: pod lists resampled with other shares of kinds of pods ---------- */

/* The kind of a pod, the first that applies: constrained to some GPU models (gpu_spec set),
 * multi-GPU (num_gpu > 1), CPU-heavy (CPU only, or more cores per GPU it asks for than
 * cores_per_gpu, the cluster's), plain. */
enum packing_kind {
    PACKING_KIND_SPEC = 0,
    PACKING_KIND_MULTI,
    PACKING_KIND_HEAVY,
    PACKING_KIND_PLAIN,
    PACKING_KIND_COUNT
};

enum packing_kind packing_pod_kind(const struct trace_openb_pod *p, double cores_per_gpu);

/* Cores per GPU of a node list (total CPU / total GPUs); 0 when it has no GPUs. */
double packing_cores_per_gpu(const struct trace_openb_node *nodes, size_t n);

/* Draws a list as long as base: each pod's kind k with probability share[k] (for the
 * first three kinds; share < 0 keeps base's share of that kind), plain for the rest; the pod
 * uniformly from the pods of that kind in base and pool (plain ones from base only), copied
 * and renamed stress-NNNNNN. Deterministic for a seed. Caller owns *out (free()).
 * ERR_INVALID when the shares add up to more than 1 or a kind asked for has no pods. */
int packing_resample(const struct trace_openb_pod *base, size_t n_base,
                     const struct trace_openb_pod *pool, size_t n_pool,
                     const double share[PACKING_KIND_PLAIN], double cores_per_gpu, uint64_t seed,
                     struct trace_openb_pod **out, size_t *n_out, struct err *e);

/* Published figures of the paper's artifact (expected_results/analysis_allo_discrete.csv:
 * mean over seeds 42..51 at 100% arrived) for a pod list name ("openb_pod_list_default")
 * and a policy name ("Random", "BestFit", "FGD", "DotProd", "GpuClustering",
 * "GpuPacking"); -1 when the paper has no figure for it. */
double packing_published(const char *pod_list, const char *policy);

#endif
