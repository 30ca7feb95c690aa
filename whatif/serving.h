/* serving.h -- serving demand from real traces for `fedsched simulate`: serving pods that
 * arrive, wait for GPUs and leave, built from the latency-sensitive (LS) GPU pods of an openb
 * pod list, or from Azure's LLM-inference request trace turned into replicas by a documented
 * rule and stretched into a diurnal week; and the checkpoint-first victim's timing.
 * docs/simulation.md, "Lending against real serving traces", describes the construction.
 * Not responsible for placing the pods or simulating anything (whatif/whatif_engine.c).
 *
 * Ownership: whatif_serving_* return objects the caller owns and frees with
 * whatif_serving_free(); immutable afterwards (several runs may read one at once). Failures:
 * ERR_IO, ERR_MALFORMED (file and line), ERR_INVALID naming the field or option.
 * Times are milliseconds unless named _s. */
#ifndef WHATIF_SERVING_H
#define WHATIF_SERVING_H

#include "whatif/trace.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

#define WHATIF_WEEK_MS     (7 * 86400 * 1000LL)
#define WHATIF_MINUTE_MS   (60 * 1000LL)
#define WHATIF_WEEK_MIN    (7 * 24 * 60)
#define WHATIF_SPODS_MAX   5000000 /* serving pods one run may hold */
#define WHATIF_AZURE_ROWS  1440    /* minutes of Azure requests a file may hold */
#define WHATIF_SPOD_GPUSMX 64      /* GPUs of the largest serving pod */

/* One serving pod: wanted from arrive to leave (ms of simulated time), gpus GPUs. */
struct whatif_spod {
    int64_t arrive_ms, leave_ms;
    int gpus;
};

/* One minute of the reduced Azure trace (testdata/whatif/azure-llm-*.csv). */
struct whatif_azure_minute {
    int64_t requests, context_tokens, generated_tokens;
};

/* The replicas-per-load rule and the diurnal week (docs/simulation.md):
 *   load(m)      = ctx(m) / 60 / prefill_tps + gen(m) / 60 / decode_tps   (replicas busy)
 *   replicas(m)  = ceil(load(m) x factor(m) / target_util)
 * and a replica is kept for scale_down_s after the rule last asked for it (the HPA's
 * scale-down stabilisation window: the replicas are the highest figure of that window).
 * factor(m), the diurnal week: a cosine between night and 1.0 at peak_hour local, times
 * weekend on Saturday and Sunday; the trace's hour is taken to be the peak's level (factor
 * 1), and minute m of any hour of the week replays the trace's minute (m + 17 h) mod n, h
 * the hour's index in the week, so no two hours repeat the same minute order. */
struct whatif_azure_rule {
    double prefill_tps;   /* context tokens a replica takes per second (800) */
    double decode_tps;    /* generated tokens a replica gives per second (40) */
    double target_util;   /* replicas run at most this busy (0.8) */
    int gpus_per_replica; /* (1) */
    double night;         /* factor at the trough, 12 h from the peak (0.25) */
    double peak_hour;     /* local hour of the peak (14) */
    double weekend;       /* Saturday and Sunday factor (0.6) */
    int64_t scale_down_s; /* (300, Kubernetes' default) */
};

void whatif_azure_rule_defaults(struct whatif_azure_rule *r);

/* Parses the reduced Azure CSV: lines starting with '#' are comments, then the header
 * minute,requests,context_tokens,generated_tokens and one row per minute 0, 1, 2, ... in
 * order (at most WHATIF_AZURE_ROWS). Caller owns *out (free()). */
int whatif_azure_parse(const char *text, size_t len, const char *what,
                       struct whatif_azure_minute **out, size_t *n, struct err *e);

/* Replicas of one minute of load (after the diurnal factor) by the rule, before the
 * scale-down window. */
int whatif_azure_replicas(const struct whatif_azure_rule *r, const struct whatif_azure_minute *m,
                          double factor);

/* The diurnal factor at minute m (0 = Monday 00:00 local) of the week. */
double whatif_azure_factor(const struct whatif_azure_rule *r, int64_t m);

/* Where serving demand comes from: a per-minute replica curve that repeats every week
 * (Azure), or pods that repeat every period_ms (openb LS pods). Trace time 0 is Monday
 * 00:00 local time in every cluster (whatif_serving_pods()). */
struct whatif_serving {
    char what[64];            /* "azure-llm-conv-2023.csv", "openb LS pods" */
    int64_t period_ms;        /* the trace repeats after this */
    int *curve;               /* GPUs wanted per minute over the period; NULL for pods */
    size_t n_curve;           /* minutes */
    struct whatif_spod *pods; /* over [0, period_ms), by arrival; NULL for a curve */
    size_t n_pods;
    int peak_gpus;    /* the most GPUs wanted at once */
    double gpu_hours; /* GPU-hours wanted over one period */
};

/* The week of replicas from the reduced trace: curve[m] = GPUs wanted at minute m of the
 * week, Monday 00:00 local first. ERR_INVALID when the rule's figures are out of range or
 * the trace has no minute. */
int whatif_serving_azure(const struct whatif_azure_minute *rows, size_t n,
                         const struct whatif_azure_rule *r, const char *what,
                         struct whatif_serving **out, struct err *e);

/* The LS pods of an openb list that want GPUs (qos "LS", num_gpu > 0), each wanting
 * ceil(num_gpu x gpu_milli / 1000) whole GPUs from creation to deletion, kept over
 * [start_s, start_s + length_s) (clipped to it) and shifted to start at 0; period length_s.
 * ERR_INVALID when the window holds no such pod. */
int whatif_serving_openb(const struct trace_openb_pod *pods, size_t n, double start_s,
                         double length_s, struct whatif_serving **out, struct err *e);

void whatif_serving_free(struct whatif_serving **s); /* NULL-safe; sets *s to NULL */

/* GPUs wanted at trace time t_ms (mod the period). */
int whatif_serving_at(const struct whatif_serving *s, int64_t t_ms);

/* The serving pods of one cluster over simulated time [0, horizon_ms): simulated time t is
 * trace time (t + shift_ms) mod period. A curve becomes one pod per replica level: the k-th
 * GPU is one pod for each stretch the curve stays at k or above, so a fall removes the
 * newest pods first, as a ReplicaSet scaling down does. Pods alive at 0 arrive at 0. Sorted
 * by arrival, then leave. Caller owns *out (free()). */
int whatif_serving_pods(const struct whatif_serving *s, int64_t shift_ms, int64_t horizon_ms,
                        struct whatif_spod **out, size_t *n, struct err *e);

/* A checkpoint-first victim (policy_reclaim.checkpoint_by_ms > 0), asked at request_ms to
 * checkpoint by deadline_ms: it takes write_ms to write a checkpoint of its work up to the
 * request (doing no further work while it writes), then it is deleted; when the write
 * would end after the deadline it is deleted at the deadline and keeps only its periodic
 * checkpoints (every checkpoint_ms since start_ms; 0 = none) up to its kill, as any
 * victim. Either way the grace period follows the delete. */
struct whatif_ckpt {
    int64_t delete_ms; /* when it is deleted */
    int64_t kill_ms;   /* delete + grace: its GPUs are free */
    int64_t kept_ms;   /* running time since start_ms whose work it keeps */
    bool in_time;      /* it wrote its checkpoint before the deadline */
};

void whatif_ckpt_first(int64_t start_ms, int64_t checkpoint_ms, int64_t request_ms,
                       int64_t deadline_ms, int64_t write_ms, int64_t grace_ms,
                       struct whatif_ckpt *out);

/* The p-quantile (nearest rank) of v[0..n); sorts v; 0 when n is 0. */
double whatif_pct(double *v, size_t n, double p);

#endif
