/* trace.h -- loaders for the public traces the what-if simulator and the packing benchmark
 * replay: Alibaba's openb 2023 node and pod lists (CSV) and the Philly-derived per-tenant
 * job traces with Gavel's throughput table (tab-separated text and JSON).
 * Not responsible for turning records into jobs or nodes of a federation (whatif/whatif.c) or
 * for placing them (sim/packing.c).
 *
 * Ownership: every loader returns one array the caller owns and releases with free() (the
 * records hold no pointers), except the throughput table, which is opaque and released
 * with trace_throughputs_free(). Loaded data is immutable; any number of threads may read
 * it. Failures: ERR_IO when the file cannot be read, ERR_MALFORMED naming the file, line
 * and column ("openb_pod_list_default.csv:12: cpu_milli: 'x' is not an integer"). */
#ifndef WHATIF_TRACE_H
#define WHATIF_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

#define TRACE_NAME_MAX  64
#define TRACE_MODEL_MAX 16
#define TRACE_SPEC_MAX  64
#define TRACE_MAX_BYTES (64u << 20) /* no trace file we read is near this; a bound anyway */

/* ---- Alibaba openb 2023 ------------------------------------------------------------- */

/* One row of openb_node_list_*.csv: sn,cpu_milli,memory_mib,gpu,model. */
struct trace_openb_node {
    char name[TRACE_NAME_MAX];
    int64_t cpu_milli;
    int64_t memory_mib;
    int gpus;                    /* 0 for CPU-only nodes */
    char model[TRACE_MODEL_MAX]; /* "V100M16", "G2", ...; empty for CPU-only nodes */
};

/* One row of openb_pod_list_*.csv. Times are seconds from the trace start; -1 = empty.
 * Columns: name, cpu_milli, memory_mib, num_gpu and gpu_milli are required; the public
 * release has lists with only these five (openb_pod_list_multigpu*). The others are optional
 * and, when the header lacks them, every row reads them as empty fields: gpu_spec "" (any GPU
 * model), qos "" and phase "" (unknown), creation_s, deletion_s and scheduled_s -1. */
struct trace_openb_pod {
    char name[TRACE_NAME_MAX];
    int64_t cpu_milli;
    int64_t memory_mib;
    int num_gpu;                   /* 0..8 */
    int gpu_milli;                 /* per GPU, 0..1000; < 1000 only when num_gpu == 1 */
    char gpu_spec[TRACE_SPEC_MAX]; /* "V100M16|V100M32"; empty = any GPU model */
    char qos[16];
    char phase[16];
    int64_t creation_s, deletion_s, scheduled_s;
};

/* Parses node / pod CSV text (header line first; columns found by name, so their order
 * does not matter). what names the source in error messages. Caller owns *out (free()). */
int trace_openb_nodes_parse(const char *text, size_t len, const char *what,
                            struct trace_openb_node **out, size_t *n, struct err *e);
int trace_openb_pods_parse(const char *text, size_t len, const char *what,
                           struct trace_openb_pod **out, size_t *n, struct err *e);

/* Read path, then parse as above. */
int trace_openb_nodes_load(const char *path, struct trace_openb_node **out, size_t *n,
                           struct err *e);
int trace_openb_pods_load(const char *path, struct trace_openb_pod **out, size_t *n, struct err *e);

/* True when a pod with gpu_spec (models separated by '|', empty = any) may use a GPU of
 * model. */
bool trace_openb_spec_allows(const char *gpu_spec, const char *model);

/* ---- Philly-derived traces (Gavel format) --------------------------------------------- */

/* One job line of a *.trace file: job type, command, steps argument, needs-data-dir flag,
 * total steps, arrival time (s), GPUs ("scale factor"), tab-separated. */
struct trace_philly_job {
    char type[TRACE_NAME_MAX]; /* "ResNet-50 (batch size 128)" */
    int64_t total_steps;
    double arrival_s;
    int gpus;
};

int trace_philly_parse(const char *text, size_t len, const char *what,
                       struct trace_philly_job **out, size_t *n, struct err *e);
int trace_philly_load(const char *path, struct trace_philly_job **out, size_t *n, struct err *e);

/* Gavel's simulation_throughputs.json: steps per second of (job type, GPUs) alone on each
 * GPU type ("k80", "p100", "v100"). Opaque. */
struct trace_throughputs;

int trace_throughputs_parse(const char *text, size_t len, const char *what,
                            struct trace_throughputs **out, struct err *e);
int trace_throughputs_load(const char *path, struct trace_throughputs **out, struct err *e);
void trace_throughputs_free(struct trace_throughputs **t); /* NULL-safe; sets *t to NULL */

/* Steps per second of type with gpus GPUs on gpu_type, or 0 when the table has no figure
 * (the job cannot run there). The table covers 1, 2, 4 and 8 GPUs; other counts are
 * extrapolated linearly from the largest covered count below them (16 GPUs = 2 x the 8-GPU
 * rate; 12 = 1.5 x the 8-GPU rate; 3 = 1.5 x the 2-GPU rate), which is what Gavel's own
 * simulator assumes for data-parallel scaling beyond its measurements. */
double trace_throughput(const struct trace_throughputs *t, const char *gpu_type, const char *type,
                        int gpus);

/* Number of GPU types in the table and the i-th name ("k80"); NULL when out of range. */
size_t trace_throughputs_n_gpu_types(const struct trace_throughputs *t);
const char *trace_throughputs_gpu_type(const struct trace_throughputs *t, size_t i);

/* ---- helpers ------------------------------------------------------------------------ */

/* Reads a whole file (at most TRACE_MAX_BYTES) into a NUL-terminated buffer the caller
 * frees. ERR_IO naming the path, ERR_TOO_LARGE when over the bound. */
int trace_read_file(const char *path, char **out, size_t *len, struct err *e);

#endif
