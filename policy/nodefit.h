/* nodefit.h -- node-level fit scoring for nodes with CPU, memory and shareable GPUs: where on
 * one node a request goes (which GPU devices) and how good that node is for it, judged by
 * how much of the node's free GPU capacity the placement leaves unusable for the work that
 * is expected next (expected stranded milli-GPUs), then by how tightly it fits.
 * Pure: no I/O, no clock, no randomness; the same inputs always give the same answer, so a
 * simulator and the scheduler choose identically.
 * Not responsible for choosing clusters (policy.c, engine.c) or for the GPU-count-only best
 * fit the engine falls back to; docs/benchmarks.md measures this scoring
 * against published node-placement policies on the Alibaba openb traces.
 *
 * Units: CPU in millicores, memory in MiB, GPU in milli-GPUs (1000 = one whole device). A
 * request asks for n_gpus devices with milli each; milli < 1000 (sharing a device) only
 * with n_gpus == 1, as in Kubernetes GPU-sharing device plugins.
 * Threads: a profile is immutable after nodefit_profile_new(); any number of threads may
 * score with it at once. Nodes are plain values owned by the caller. */
#ifndef POLICY_NODEFIT_H
#define POLICY_NODEFIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

#define NODEFIT_GPUS_MAX 16
#define NODEFIT_MILLI    1000

#define NODEFIT_MODELS_MAX 64 /* GPU model ids 1..64: bit id-1 of a request's mask */

/* Zero-initialised fields mean "not known / unconstrained": a node of model 0 takes any
 * request that has no model mask, and a request with mask 0 takes any node. */
struct nodefit_node {
    int64_t cpu_cap, cpu_free;
    int64_t mem_cap, mem_free;
    int n_gpus;
    int gpu_free[NODEFIT_GPUS_MAX]; /* per device, 0..1000 */
    int model;                      /* GPU model id, 1..NODEFIT_MODELS_MAX; 0 = not known */
};

struct nodefit_req {
    int64_t cpu, mem;
    int n_gpus;      /* 0 = CPU only */
    int milli;       /* per device; 1000 for whole devices */
    uint64_t models; /* GPU models it may use (bit id-1 for model id); 0 = any. A request
                        with a mask fits only nodes of a model in it (never model 0); a
                        CPU-only request ignores it. */
};

/* The mask bit of model id m (1..NODEFIT_MODELS_MAX). */
#define NODEFIT_MODEL_BIT(m) (1ULL << ((m)-1))

/* Devices a request takes on a node (n entries; empty for CPU-only requests). */
struct nodefit_choice {
    int dev[NODEFIT_GPUS_MAX];
    int n;
};

/* The outcome of scoring one request on one node. Lower is better, compared with
 * nodefit_eval_cmp(). */
struct nodefit_eval {
    double frag_delta; /* expected stranded milli-GPUs after minus before (+ displaced) */
    double tight;      /* leftover after placement, normalised: smaller = tighter fit */
    struct nodefit_choice choice;
};

/* The expected workload: request shapes and their relative frequencies. */
struct nodefit_profile;

/* How the measure's first part (nodefit_frag()) weighs the GPU shapes:
 * - by demand: a shape weighs by the GPU demand it brings (weight x n_gpus x milli). The
 *   measure is of milli-GPUs left unused, and a milli of an 8-GPU request turned away is as
 *   lost as a milli of a shared one. It keeps whole nodes for big requests that are a small
 *   share of the requests.
 * - by count: a shape weighs by its share of the requests, the chance that the next request
 *   is of that shape (FGD's weighting). It packs the scraps small requests can use.
 * Neither is better on every workload (docs/benchmarks.md, "Issue 15, fifteenth look"), so
 * nodefit_profile_rehearse() tries both on the work itself. The kinds of node are claimed
 * by shares of the demand under either. */
enum nodefit_weights { NODEFIT_WEIGHT_DEMAND, NODEFIT_WEIGHT_COUNT };

/* Builds a profile from n shapes with weights (> 0: how many requests of each shape are
 * expected; they are normalised), weighted by demand in the measure. Shapes without GPUs are kept out of it (they never use a GPU) but count in the CPU and
 * memory the work needs per GPU (they take cores on GPU nodes too). A shape's model mask
 * is part of it. Caller owns *out; nodefit_profile_free(). ERR_INVALID naming the shape
 * ("shapes[3].milli") when a shape is out of range. */
int nodefit_profile_new(const struct nodefit_req *shapes, const double *weights, size_t n,
                        struct nodefit_profile **out, struct err *e);
void nodefit_profile_free(struct nodefit_profile **p); /* NULL-safe; sets *p to NULL */

/* Tells p the cluster's nodes: their capacity (cpu_cap, mem_cap, n_gpus, model; the free
 * amounts are not read). Optional (without it, nothing is charged): a shape that asks for
 * the share d of the GPU demand and can use the share a of the capacity, the kinds of node
 * (same model, device count, CPU and memory) it fits when they are empty, claims d / a of
 * each milli of those, so a shape too big for most nodes claims the few it fits as a shape
 * constrained to a GPU model claims that model's. A node of a kind claimed c > 1 times over
 * charges a request 1 - 1/c of its milli-GPUs; nodes of a kind p was not told of, nothing.
 * The CPU is claimed the same way: when the work asks for c > 1 times the cores per GPU the
 * nodes have (nodes without GPUs included), the measure counts cores stranded for CPU-only
 * shapes (nodefit_frag()).
 * ERR_INVALID when a node has more than NODEFIT_GPUS_MAX devices. */
int nodefit_profile_set_nodes(struct nodefit_profile *p, const struct nodefit_node *nodes, size_t n,
                              struct err *e);

/* As nodefit_profile_set_nodes(), with the claims counted within each GPU model on its own:
 * for a scheduler that has chosen the model before it scores nodes (the live engine picks a
 * job's SKU with its cluster), so only the kinds of one model compete for a request. A
 * model's kinds are claimed by the shapes that may use one of them, each with its share of
 * those shapes' demand, against that model's capacity; when every such shape fits every
 * kind of the model, nothing is charged there. ERR_INVALID as nodefit_profile_set_nodes(). */
int nodefit_profile_set_nodes_per_model(struct nodefit_profile *p, const struct nodefit_node *nodes,
                                        size_t n, struct err *e);

/* Sets how the measure weighs p's GPU shapes; the current weighting. */
void nodefit_profile_weigh(struct nodefit_profile *p, enum nodefit_weights w);
enum nodefit_weights nodefit_profile_weights(const struct nodefit_profile *p);

/* What a rehearsal tries (runs, max_nodes, seed) and what it found (lost, arrived). */
struct nodefit_rehearsal {
    unsigned runs;    /* rehearsals per weighting; 0 keeps the demand weighting */
    size_t max_nodes; /* when there are more nodes, this many, evenly spaced; 0 = all */
    uint64_t seed;    /* the draws; the same for both weightings */
    double lost[2];   /* milli-GPUs no node could take, over the runs, per weighting */
    double arrived;   /* milli-GPUs drawn, over the runs (each run: the nodes' free ones) */
};

/* Picks p's weighting by rehearsing p's own work on nodes as they are (free amounts
 * included): requests drawn from p's shapes, each as often as expected (CPU-only ones
 * too), until as many milli-GPUs have arrived as the nodes have free, each placed on the
 * node and devices nodefit_score() prefers (ties to the lower index). Each weighting gets
 * the same draws; the one that turns fewer milli-GPUs away is kept, demand on a tie.
 * Deterministic for its seed. Call it after nodefit_profile_set_nodes*(), whose claims
 * the rehearsal charges. Costs r->runs x 2 placements of about one node's worth of
 * requests per free node, each scoring every node (r->max_nodes bounds it). */
void nodefit_profile_rehearse(struct nodefit_profile *p, const struct nodefit_node *nodes, size_t n,
                              struct nodefit_rehearsal *r);

/* True when r may use node's GPU model (always for CPU-only requests and masks of 0). */
bool nodefit_model_ok(const struct nodefit_node *node, const struct nodefit_req *r);

/* True when node has the CPU, memory and devices for r right now, of a model r may use. */
bool nodefit_fits(const struct nodefit_node *node, const struct nodefit_req *r);

/* Expected milli-GPUs of node that will go unused, the sum of three parts:
 * - the next request: for each GPU shape of the profile, the free GPU capacity it could
 *   not take (all of it when the shape does not fit the node at all, its GPU model
 *   included, else the devices with less free than the shape needs), weighted by the
 *   shape's share of the GPU demand or of the requests (enum nodefit_weights; FGD's
 *   measure, with memory);
 * - filling up: the free GPU capacity beyond what the node's free CPU and memory can feed
 *   at the profile's CPU and memory per GPU, all requests counted (8 free GPUs beside 20
 *   free cores take one 12-core pod, then nothing: a one-step measure sees no harm until
 *   it is too late);
 * - short of CPU (only once nodefit_profile_set_nodes*() found the CPU claimed c > 1 times
 *   over): the node's free cores, for each CPU-only shape that cannot use them (weighted
 *   by its share of the CPU-only demand), times 1 - 1/c, at the profile's cores per GPU. A
 *   CPU-only request that cannot use them takes cores elsewhere, and that share of them
 *   was feeding GPUs. Counted on nodes whose GPUs are all taken, and on nodes without
 *   GPUs, too (the only part there). */
double nodefit_frag(const struct nodefit_profile *p, const struct nodefit_node *node);

/* Sorts n per-device free amounts ascending, in place: the order in which the measure
 * above (and FGD's, which it extends) walks a node's devices. An insertion sort: n is at
 * most NODEFIT_GPUS_MAX. */
void nodefit_sort_free(int *v, int n);

/* Scores r on node, trying every distinct device choice (for a shared device: each device
 * with room, one per distinct free amount; for whole devices: the fully free ones with the
 * lowest indices). frag_before is nodefit_frag(p, node), passed in so callers can cache it.
 * frag_delta is the measure after minus before, plus the demand r turns away on node's
 * kind when the profile knows the nodes (nodefit_profile_set_nodes,
 * nodefit_profile_set_nodes_per_model).
 * Returns 0 and fills *out, or -1 when r does not fit. */
int nodefit_score(const struct nodefit_profile *p, const struct nodefit_node *node,
                  double frag_before, const struct nodefit_req *r, struct nodefit_eval *out);

/* Ordering of two evaluations of the same request: less fragmentation first, then the
 * tighter fit. Returns < 0 when a is better, 0 when equal (callers then keep the node with
 * the lower index, which keeps the choice deterministic). */
int nodefit_eval_cmp(const struct nodefit_eval *a, const struct nodefit_eval *b);

/* Takes r's resources from node on the devices of c (which must come from nodefit_score
 * or nodefit_first_fit on this node state). */
void nodefit_apply(struct nodefit_node *node, const struct nodefit_req *r,
                   const struct nodefit_choice *c);

/* Devices for r without scoring: the tightest device with room for a shared request, the
 * lowest-index fully free devices otherwise. Returns 0, or -1 when r does not fit. */
int nodefit_first_fit(const struct nodefit_node *node, const struct nodefit_req *r,
                      struct nodefit_choice *c);

#endif
