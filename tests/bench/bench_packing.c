/* bench_packing.c -- node-level packing quality on the Alibaba openb traces beside the
 * figures the ATC'23 paper "Beware of Fragmentation" published for them: Random and BestFit
 * (our reimplementations, to calibrate the harness), FGD (our reimplementation and the
 * published figure) and ours (policy/nodefit.c), each the mean over seeds 42..51 of the GPU
 * allocation ratio at 100 % arrived workload, with the wall time.
 *
 * Full mode (default): the 10-seed run on one pod list (openb_pod_list_default), timed; the
 * target is under 60 s on the 2-core development machine. BENCH_MODE=smoke: ten seeds on the
 * small extract in testdata/traces/, in about a second, for CI.
 * Options: --lists a,b,... (pod list names under the data directory, or "all"), --seeds N,
 * --policies random,bestfit,fgd,nodefit, --markdown (the table of docs/benchmarks.md),
 * --data DIR (default $FEDSCHED_DATA, else $FEDSCHED_SRC/../shared/data/alibaba-openb-2023,
 * else ../shared/data/alibaba-openb-2023; tools/openb-lists.sh makes a directory with every
 * list of the public release), --stress (the stress variants of openb_pod_list_default
 * instead, BestFit, FGD and ours, or those of --policies; --stress-from BASE:POOL1,POOL2
 * and --resample-seed N draw them from other lists or with another seed, --variants
 * "multi-GPU 50,all three" only those whose label starts so), --nodes NAME
 * (another node list of the data directory than openb_node_list_gpu_node, such as
 * openb_node_list_all_node with its CPU-only nodes), --order DIR (the artifact's own
 * arrival and node orders for each list and seed, DIR/LIST.SEED.order, written by
 * tools/openb-order.sh; not with --stress), --per-seed (each seed's figure, to set beside
 * the artifact's per-seed results). Ours minus BestFit and minus FGD come with the standard
 * error of the seeds' paired differences (per list, and for the stress worst cases).
 * Exit status 1
 * when a calibration check fails or, in the default full run (no options), when it takes
 * 60 s or more ("OVER TARGET"). */
#include "base/clock.h"
#include "base/err.h"
#include "base/mem.h"
#include "policy/nodefit.h"
#include "whatif/packing.h"
#include "whatif/trace.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LISTS_MAX 32
#define SEED0     42

/* Issue 15's development lists (docs/benchmarks.md, "Held-out protocol"); every other list
 * was held out while the policy was developed. */
static const char *const dev_lists[] = {"openb_pod_list_default",    "openb_pod_list_cpu050",
                                        "openb_pod_list_cpu200",     "openb_pod_list_gpushare40",
                                        "openb_pod_list_gpuspec10",  "openb_pod_list_gpuspec25",
                                        "openb_pod_list_multigpu20", "openb_pod_list_multigpu40"};

static bool is_dev(const char *list)
{
    for (size_t i = 0; i < sizeof(dev_lists) / sizeof(dev_lists[0]); i++)
        if (strcmp(dev_lists[i], list) == 0)
            return true;
    return false;
}

static const char *published_name(enum packing_policy p)
{
    switch (p) {
    case PACKING_RANDOM: return "Random";
    case PACKING_BESTFIT: return "BestFit";
    case PACKING_FGD: return "FGD";
    default: return NULL;
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every openb_pod_list_*.csv in dir, by name. */
static size_t all_lists(const char *dir, char **out, size_t max)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    if (!d)
        return 0;
    while ((de = readdir(d)) && n < max) {
        size_t l = strlen(de->d_name);

        if (strncmp(de->d_name, "openb_pod_list_", 15) == 0 && l > 4 &&
            strcmp(de->d_name + l - 4, ".csv") == 0)
            out[n++] = xstrndup(de->d_name, l - 4);
    }
    closedir(d);
    qsort(out, n, sizeof(*out), cmp_str);
    return n;
}

static size_t split_list(const char *s, char **out, size_t max)
{
    size_t n = 0;

    while (*s && n < max) {
        const char *c = strchr(s, ',');
        size_t l = c ? (size_t)(c - s) : strlen(s);

        out[n++] = xstrndup(s, l);
        if (!c)
            break;
        s = c + 1;
    }
    return n;
}

#define SEEDS_MAX 1000

struct row {
    double mean[PACKING_POLICY_COUNT];
    double mean130[PACKING_POLICY_COUNT];
    double secs[PACKING_POLICY_COUNT];
    bool ran[PACKING_POLICY_COUNT];
    double at100[PACKING_POLICY_COUNT][SEEDS_MAX]; /* each seed's figure */
    int seeds;
    /* Ours: the weighting it ran with, and the rehearsal's milli-GPUs turned away by each
     * (lost[0] < 0 when the weighting was given, not rehearsed). */
    int weights;
    double lost[2];
};

/* The standard error of the mean of a's figure minus b's, seed by seed (both ran on the
 * same arrivals, so the seeds' own spread cancels); -1 with fewer than two seeds. */
static double paired_se(const struct row *r, int a, int b)
{
    double m = 0, ss = 0;

    if (r->seeds < 2)
        return -1;
    for (int s = 0; s < r->seeds; s++)
        m += (r->at100[a][s] - r->at100[b][s]) / r->seeds;
    for (int s = 0; s < r->seeds; s++) {
        double d = r->at100[a][s] - r->at100[b][s] - m;

        ss += d * d;
    }
    return sqrt(ss / (r->seeds - 1) / r->seeds);
}

static void fmt_pct(char *out, size_t size, double v)
{
    if (v < 0)
        snprintf(out, size, "n/a");
    else
        snprintf(out, size, "%.2f", v);
}

/* The smallest ours - baseline over the stress variants, where both ran. */
struct worst {
    double d, se; /* se < 0: fewer than two seeds */
    const char *at;
    bool seen;
};

/* Formats ours - baseline of row into out ("n/a" unless both ran) and keeps the worst. */
static void diff_cell(const struct row *r, int base, const char *label, struct worst *w, char *out,
                      size_t size)
{
    double d;

    if (!r->ran[PACKING_NODEFIT] || !r->ran[base]) {
        snprintf(out, size, "n/a");
        return;
    }
    d = r->mean[PACKING_NODEFIT] - r->mean[base];
    snprintf(out, size, "%+.2f", d);
    if (!w->seen || d < w->d) {
        w->d = d;
        w->se = paired_se(r, PACKING_NODEFIT, base);
        w->at = label;
        w->seen = true;
    }
}

static void print_worst(const char *base, const struct worst *w)
{
    if (w->seen && w->se >= 0)
        printf("ours - %s %+.2f +/- %.2f (%s)", base, w->d, w->se, w->at);
    else if (w->seen) /* one seed: no spread to give */
        printf("ours - %s %+.2f (%s)", base, w->d, w->at);
    else
        printf("ours - %s n/a (%s not run)", base, base);
}

/* --order DIR: the artifact's own draws, DIR/LIST.SEED.order (tools/openb-order.sh);
 * --per-seed: each seed's figure, for the artifact's per-seed results. */
struct draws {
    const char *order_dir;
    const char *list;
    bool per_seed;
    int weights; /* ours: PACKING_REHEARSE or an enum nodefit_weights */
};

/* Ours' weighting and, when it was rehearsed, the share of the drawn milli-GPUs each
 * weighting turned away there; "n/a" when ours did not run. */
static void weights_note(const struct row *r, char *buf, size_t size)
{
    const char *name = r->weights == NODEFIT_WEIGHT_COUNT ? "count" : "demand";

    if (!r->ran[PACKING_NODEFIT])
        snprintf(buf, size, "n/a");
    else if (r->lost[0] < 0)
        snprintf(buf, size, "%s (given)", name);
    else
        snprintf(buf, size, "%s (rehearsed: %.2f %% / %.2f %% turned away)", name, r->lost[0],
                 r->lost[1]);
}

static int run_pods(const struct trace_openb_node *nodes, size_t n_nodes,
                    const struct trace_openb_pod *pods, size_t n_pods, const char *what,
                    const bool *pol, int seeds, const struct draws *d, struct row *row)
{
    struct err e = {0};

    memset(row, 0, sizeof(*row));
    row->seeds = seeds;
    row->weights = d->weights;
    row->lost[0] = -1;
    for (int p = 0; p < PACKING_POLICY_COUNT; p++) {
        int64_t t0 = clock_mono_ms();

        if (!pol[p])
            continue;
        if (d->per_seed)
            printf("  %-8s per seed:", packing_policy_name((enum packing_policy)p));
        for (int s = 0; s < seeds; s++) {
            struct packing_opts o;
            struct packing_result r;
            struct packing_order ord = {0};
            int rc;

            packing_opts_defaults(&o, (uint64_t)(SEED0 + s));
            /* The rehearsal does not depend on the seed: the first run's choice holds. */
            o.nodefit_weights = row->weights;
            if (d->order_dir) {
                char path[1200];

                snprintf(path, sizeof(path), "%s/%s.%d.order", d->order_dir, d->list, SEED0 + s);
                if (packing_order_load(path, &ord, &e)) {
                    fprintf(stderr, "bench_packing: %s\n", e.msg);
                    return -1;
                }
                o.order = ord.pods;
                o.n_order = ord.n_pods;
                o.node_rank = ord.node_rank;
                o.n_node_rank = ord.n_nodes;
            }
            rc = packing_run(nodes, n_nodes, pods, n_pods, (enum packing_policy)p, &o, &r, &e);
            packing_order_free(&ord);
            if (rc) {
                fprintf(stderr, "bench_packing: %s: %s\n", what, e.msg);
                return -1;
            }
            if (p == PACKING_NODEFIT && row->weights == PACKING_REHEARSE) {
                row->weights = r.nodefit_weights;
                row->lost[0] = r.rehearsal_lost[0] / r.rehearsal_arrived * 100;
                row->lost[1] = r.rehearsal_lost[1] / r.rehearsal_arrived * 100;
            }
            if (d->per_seed)
                printf(" %.2f", packing_alloc_at(&r, 100));
            row->at100[p][s] = packing_alloc_at(&r, 100);
            row->mean[p] += packing_alloc_at(&r, 100) / seeds;
            row->mean130[p] += packing_alloc_at(&r, 130) / seeds;
        }
        if (d->per_seed)
            printf("\n");
        row->secs[p] = (double)(clock_mono_ms() - t0) / 1000.0;
        row->ran[p] = true;
    }
    return 0;
}

static int run_list(const struct trace_openb_node *nodes, size_t n_nodes, const char *path,
                    const bool *pol, int seeds, const struct draws *d, struct row *row)
{
    struct trace_openb_pod *pods = NULL;
    size_t n_pods = 0;
    struct err e = {0};
    int rc;

    if (trace_openb_pods_load(path, &pods, &n_pods, &e)) {
        fprintf(stderr, "bench_packing: %s\n", e.msg);
        return -1;
    }
    rc = run_pods(nodes, n_nodes, pods, n_pods, path, pol, seeds, d, row);
    free(pods);
    return rc;
}

/* The stress variants: the base list resampled with other shares of GPU-model-constrained,
 * multi-GPU and CPU-heavy pods (packing_resample; the pods of each kind drawn from the base
 * and the pool lists, which are development lists only). -1 keeps the base's share. */
static const struct {
    const char *label;
    double share[PACKING_KIND_PLAIN];
} variants[] = {
    {"constrained 0 %", {0.00, -1, -1}},
    {"constrained 10 %", {0.10, -1, -1}},
    {"constrained 20 %", {0.20, -1, -1}},
    {"constrained 33 %", {0.33, -1, -1}},
    {"multi-GPU 0 %", {-1, 0.00, -1}},
    {"multi-GPU 25 %", {-1, 0.25, -1}},
    {"multi-GPU 50 %", {-1, 0.50, -1}},
    {"CPU-heavy 0 %", {-1, -1, 0.00}},
    {"CPU-heavy 25 %", {-1, -1, 0.25}},
    {"CPU-heavy 50 %", {-1, -1, 0.50}},
    {"all three: 20/25/25 %", {0.20, 0.25, 0.25}},
};

#define STRESS_BASE "openb_pod_list_default"
#define STRESS_POOL "openb_pod_list_gpuspec25,openb_pod_list_multigpu40,openb_pod_list_cpu200"

/* What the stress variants are drawn from: a base list, the pool lists and the resampling
 * seed. The default is the development lists and seed 1 (docs/benchmarks.md, "Stress
 * variants"); --stress-from and --resample-seed build others, held-out lists among them. */
struct stress_src {
    const char *base;
    const char *pool;
    uint64_t seed;
    const char *only; /* --variants: label prefixes, comma-separated; NULL for all */
    int weights;      /* ours: --weights */
};

/* True when label starts with one of the comma-separated prefixes in only (NULL: all). */
static bool variant_picked(const char *only, const char *label)
{
    for (const char *p = only; p && *p;) {
        size_t n = strcspn(p, ",");

        if (n > 0 && strncmp(label, p, n) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return only == NULL;
}

/* The first item of --variants that starts no variant's label, or NULL. */
static const char *variant_unknown(const char *only, char *item, size_t size)
{
    for (const char *p = only; p && *p;) {
        size_t n = strcspn(p, ",");
        bool found = false;

        snprintf(item, size, "%.*s", (int)n, p);
        for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]) && n > 0; i++)
            found |= variant_picked(item, variants[i].label);
        if (!found)
            return item;
        p += n + (p[n] == ',');
    }
    return NULL;
}

static int run_stress(const struct trace_openb_node *nodes, size_t n_nodes, const char *dir,
                      const bool *pol, int seeds, const struct stress_src *src)
{
    struct trace_openb_pod *base = NULL, *pool = NULL, *v = NULL;
    size_t n_base = 0, n_pool = 0, n_v = 0;
    char path[1200], *names[8];
    size_t n_names = split_list(src->pool, names, 8);
    double cpg = packing_cores_per_gpu(nodes, n_nodes);
    struct worst worst_bf = {0}, worst_fgd = {0};
    struct err e = {0};
    int rc = 0;

    snprintf(path, sizeof(path), "%s/%s.csv", dir, src->base);
    if (trace_openb_pods_load(path, &base, &n_base, &e)) {
        fprintf(stderr, "bench_packing: %s\n", e.msg);
        return -1;
    }
    for (size_t i = 0; i < n_names; i++) {
        struct trace_openb_pod *t = NULL;
        size_t n = 0;

        snprintf(path, sizeof(path), "%s/%s.csv", dir, names[i]);
        free(names[i]);
        if (trace_openb_pods_load(path, &t, &n, &e)) {
            fprintf(stderr, "bench_packing: %s\n", e.msg);
            rc = -1;
            continue;
        }
        pool = xrealloc(pool, (n_pool + n + 1) * sizeof(*pool));
        memcpy(pool + n_pool, t, n * sizeof(*t));
        n_pool += n;
        free(t);
    }
    printf("stress variants of %s (pool: %s; resampling seed %llu; CPU-heavy: more than %.1f "
           "cores per GPU)\n\n"
           "| variant | BestFit | FGD (ours) | ours (nodefit) | ours - BestFit | ours - FGD | "
           "ours' weights |\n"
           "|---|---|---|---|---|---|---|\n",
           src->base, src->pool, (unsigned long long)src->seed, cpg);
    for (size_t i = 0; rc == 0 && i < sizeof(variants) / sizeof(variants[0]); i++) {
        struct row row;

        if (!variant_picked(src->only, variants[i].label))
            continue;
        if (packing_resample(base, n_base, pool, n_pool, variants[i].share, cpg, src->seed, &v,
                             &n_v, &e)) {
            fprintf(stderr, "bench_packing: %s: %s\n", variants[i].label, e.msg);
            rc = -1;
            break;
        }
        struct draws own = {NULL, NULL, false, src->weights};
        char a[3][16], d[2][16], wn[96];

        rc = run_pods(nodes, n_nodes, v, n_v, variants[i].label, pol, seeds, &own, &row);
        free(v);
        if (rc)
            break;
        fmt_pct(a[0], sizeof(a[0]), row.ran[PACKING_BESTFIT] ? row.mean[PACKING_BESTFIT] : -1);
        fmt_pct(a[1], sizeof(a[1]), row.ran[PACKING_FGD] ? row.mean[PACKING_FGD] : -1);
        fmt_pct(a[2], sizeof(a[2]), row.ran[PACKING_NODEFIT] ? row.mean[PACKING_NODEFIT] : -1);
        diff_cell(&row, PACKING_BESTFIT, variants[i].label, &worst_bf, d[0], sizeof(d[0]));
        diff_cell(&row, PACKING_FGD, variants[i].label, &worst_fgd, d[1], sizeof(d[1]));
        weights_note(&row, wn, sizeof(wn));
        printf("| %s | %s | %s | %s | %s | %s | %s |\n", variants[i].label, a[0], a[1], a[2], d[0],
               d[1], wn);
        fflush(stdout);
    }
    if (rc == 0) {
        printf("\nworst case: ");
        print_worst("BestFit", &worst_bf);
        printf("; ");
        print_worst("FGD", &worst_fgd);
        printf("; +/- one standard error of the seeds' paired differences\n");
    }
    free(base);
    free(pool);
    return rc;
}

int main(int argc, char **argv)
{
    const char *mode = getenv("BENCH_MODE");
    bool smoke = mode && strcmp(mode, "smoke") == 0;
    bool markdown = false, stress = false, paper, pol[PACKING_POLICY_COUNT];
    struct stress_src stress_src = {STRESS_BASE, STRESS_POOL, 1, NULL, PACKING_REHEARSE};
    struct draws draws = {NULL, NULL, false, PACKING_REHEARSE};
    const char *lists_arg = NULL, *pol_arg = NULL, *data = getenv("FEDSCHED_DATA");
    const char *node_list = "openb_node_list_gpu_node";
    const char *src = getenv("FEDSCHED_SRC");
    char dir[1024], path[1200];
    char *lists[LISTS_MAX];
    size_t n_lists = 0;
    int seeds = 10, status = 0;
    struct trace_openb_node *nodes = NULL;
    size_t n_nodes = 0;
    struct err e = {0};
    int64_t t_all = clock_mono_ms();

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--markdown") == 0) {
            markdown = true;
        } else if (strcmp(argv[i], "--stress") == 0) {
            stress = true;
        } else if (strcmp(argv[i], "--per-seed") == 0) {
            draws.per_seed = true;
        } else if (i + 1 < argc && strcmp(argv[i], "--order") == 0) {
            draws.order_dir = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--weights") == 0) {
            i++;
            if (strcmp(argv[i], "demand") == 0)
                draws.weights = NODEFIT_WEIGHT_DEMAND;
            else if (strcmp(argv[i], "count") == 0)
                draws.weights = NODEFIT_WEIGHT_COUNT;
            else if (strcmp(argv[i], "rehearse") != 0) {
                fprintf(stderr, "bench_packing: --weights: '%s' is not demand, count or rehearse\n",
                        argv[i]);
                return 2;
            }
        } else if (i + 1 < argc && strcmp(argv[i], "--lists") == 0) {
            lists_arg = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--policies") == 0) {
            pol_arg = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--data") == 0) {
            data = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--nodes") == 0) {
            node_list = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--stress-from") == 0) {
            char *colon = strchr(argv[++i], ':');

            if (colon == NULL) {
                fprintf(stderr, "bench_packing: --stress-from: '%s' is not BASE:POOL1,POOL2\n",
                        argv[i]);
                return 2;
            }
            *colon = '\0';
            stress_src.base = argv[i];
            stress_src.pool = colon + 1;
        } else if (i + 1 < argc && strcmp(argv[i], "--variants") == 0) {
            char item[64];

            stress_src.only = argv[++i];
            if (variant_unknown(stress_src.only, item, sizeof(item))) {
                fprintf(stderr, "bench_packing: --variants: '%s' starts no variant's label\n",
                        item);
                return 2;
            }
        } else if (i + 1 < argc && strcmp(argv[i], "--resample-seed") == 0) {
            char *end = NULL;

            stress_src.seed = strtoull(argv[++i], &end, 10);
            if (end == argv[i] || *end) {
                fprintf(stderr, "bench_packing: --resample-seed: '%s' is not a number\n", argv[i]);
                return 2;
            }
        } else if (i + 1 < argc && strcmp(argv[i], "--seeds") == 0) {
            seeds = (int)strtol(argv[++i], NULL, 10);
            if (seeds < 1 || seeds > SEEDS_MAX) {
                fprintf(stderr, "bench_packing: --seeds must be in [1, %d]\n", SEEDS_MAX);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: bench_packing [--lists a,b|all] [--seeds N] "
                            "[--policies random,bestfit,fgd,nodefit] [--markdown] [--data DIR] "
                            "[--nodes NODE_LIST] [--order DIR] [--per-seed] "
                            "[--weights demand|count|rehearse] "
                            "[--stress [--stress-from BASE:POOL1,POOL2,...] "
                            "[--resample-seed N] [--variants LABEL,...]]\n");
            return 2;
        }
    }
    if (draws.order_dir && (stress || smoke)) {
        fprintf(stderr, "bench_packing: --order is for the release's pod lists, not for "
                        "--stress or the smoke extract\n");
        return 2;
    }
    if (smoke)
        snprintf(dir, sizeof(dir), "%s/testdata/traces", src ? src : ".");
    else if (data)
        snprintf(dir, sizeof(dir), "%s", data);
    else
        snprintf(dir, sizeof(dir), "%s/../shared/data/alibaba-openb-2023", src ? src : ".");
    for (int p = 0; p < PACKING_POLICY_COUNT; p++)
        pol[p] = pol_arg == NULL;
    if (pol_arg) {
        char *names[PACKING_POLICY_COUNT + 4];
        size_t n = split_list(pol_arg, names, PACKING_POLICY_COUNT + 4);

        for (size_t i = 0; i < n; i++) {
            enum packing_policy p;

            if (packing_policy_parse(names[i], &p, &e)) {
                fprintf(stderr, "bench_packing: %s\n", e.msg);
                return 2;
            }
            pol[p] = true;
            free(names[i]);
        }
    }
    if (smoke) {
        lists[n_lists++] = xstrdup("openb_pod_list_smoke");
    } else if (lists_arg && strcmp(lists_arg, "all") == 0) {
        n_lists = all_lists(dir, lists, LISTS_MAX);
    } else {
        n_lists = split_list(lists_arg ? lists_arg : "openb_pod_list_default", lists, LISTS_MAX);
    }
    if (smoke)
        node_list = "openb_node_list_smoke";
    snprintf(path, sizeof(path), "%s/%s.csv", dir, node_list);
    if (trace_openb_nodes_load(path, &nodes, &n_nodes, &e)) {
        fprintf(stderr, "bench_packing: %s\n", e.msg);
        return 1;
    }
    printf("bench_packing: %zu nodes (%s), %d seed%s from %d, tune ratio 1.3, %s; "
           "GPU allocation %% at 100%% arrived\n",
           n_nodes, node_list, seeds, seeds == 1 ? "" : "s", SEED0,
           draws.order_dir ? "the artifact's arrival and node orders" : "shuffled");
    if (stress) {
        bool sp[PACKING_POLICY_COUNT] = {false, true, true, true};

        if (pol_arg)
            for (int p = 0; p < PACKING_POLICY_COUNT; p++)
                sp[p] = pol[p] && p != PACKING_RANDOM;
        stress_src.weights = draws.weights;
        status = run_stress(nodes, n_nodes, dir, sp, seeds, &stress_src) ? 1 : 0;
        for (size_t l = 0; l < n_lists; l++)
            free(lists[l]);
        free(nodes);
        return status;
    }
    /* The paper's figures are for its cluster, openb_node_list_gpu_node. */
    paper = strcmp(node_list, "openb_node_list_gpu_node") == 0;
    if (markdown)
        printf("\n| pod list | set | Random (ours / paper) | BestFit (ours / paper) | FGD (ours / "
               "paper) | ours (nodefit) | ours - FGD paper | ours - BestFit (ours) | ours' weights "
               "|\n"
               "|---|---|---|---|---|---|---|---|---|\n");
    for (size_t l = 0; l < n_lists; l++) {
        struct row row;
        char a[4][16], pb[4][16];

        snprintf(path, sizeof(path), "%s/%s.csv", dir, lists[l]);
        draws.list = lists[l];
        if (!markdown && draws.per_seed)
            printf("%s, per seed:\n", lists[l]);
        if (run_list(nodes, n_nodes, path, pol, seeds, &draws, &row)) {
            status = 1;
            continue;
        }
        for (int p = 0; p < 3; p++) {
            fmt_pct(a[p], sizeof(a[p]), row.ran[p] ? row.mean[p] : -1);
            fmt_pct(pb[p], sizeof(pb[p]),
                    paper ? packing_published(lists[l], published_name((enum packing_policy)p))
                          : -1);
        }
        fmt_pct(a[3], sizeof(a[3]), row.ran[PACKING_NODEFIT] ? row.mean[PACKING_NODEFIT] : -1);
        if (markdown) {
            double fgd = paper ? packing_published(lists[l], "FGD") : -1;
            char d[16] = "n/a", dbf[16] = "n/a", wn[96];

            if (fgd >= 0 && row.ran[PACKING_NODEFIT])
                snprintf(d, sizeof(d), "%+.2f", row.mean[PACKING_NODEFIT] - fgd);
            if (row.ran[PACKING_BESTFIT] && row.ran[PACKING_NODEFIT])
                snprintf(dbf, sizeof(dbf), "%+.2f",
                         row.mean[PACKING_NODEFIT] - row.mean[PACKING_BESTFIT]);
            weights_note(&row, wn, sizeof(wn));
            printf("| %s | %s | %s / %s | %s / %s | %s / %s | %s | %s | %s | %s |\n", lists[l],
                   is_dev(lists[l]) ? "dev" : "held out", a[0], pb[0], a[1], pb[1], a[2], pb[2],
                   a[3], d, dbf, wn);
            fflush(stdout);
        } else {
            printf("%s:\n", lists[l]);
            for (int p = 0; p < PACKING_POLICY_COUNT; p++) {
                const char *pn = published_name((enum packing_policy)p);
                double pub = pn && paper ? packing_published(lists[l], pn) : -1;
                char ps[16];

                if (!row.ran[p])
                    continue;
                fmt_pct(ps, sizeof(ps), pub);
                printf("  %-8s %6.2f %%  (at 130%%: %6.2f %%)  paper %6s  %6.2f s\n",
                       packing_policy_name((enum packing_policy)p), row.mean[p], row.mean130[p], ps,
                       row.secs[p]);
                /* Calibration: Random and BestFit must land within 1 point of the paper. */
                if (!smoke && seeds >= 10 && pub >= 0 &&
                    (p == PACKING_RANDOM || p == PACKING_BESTFIT) &&
                    (row.mean[p] - pub > 1.0 || pub - row.mean[p] > 1.0)) {
                    printf("  CALIBRATION FAILED: %s is %.2f points from the paper\n",
                           packing_policy_name((enum packing_policy)p), row.mean[p] - pub);
                    status = 1;
                }
            }
            if (row.ran[PACKING_NODEFIT]) {
                char wn[96];

                weights_note(&row, wn, sizeof(wn));
                printf("  nodefit weights: %s\n", wn);
            }
            if (row.ran[PACKING_NODEFIT] && seeds >= 2)
                for (int p = PACKING_BESTFIT; p <= PACKING_FGD; p++)
                    if (row.ran[p])
                        printf("  nodefit - %-8s %+.2f +/- %.2f (paired over the seeds)\n",
                               packing_policy_name((enum packing_policy)p),
                               row.mean[PACKING_NODEFIT] - row.mean[p],
                               paired_se(&row, PACKING_NODEFIT, p));
            fflush(stdout);
        }
        free(lists[l]);
    }
    {
        double secs = (double)(clock_mono_ms() - t_all) / 1000.0;
        /* The 60 s target is for the default run: one list, ten seeds, every policy. */
        bool timed = !smoke && argc == 1;

        printf("bench_packing: total %.2f s%s%s\n", secs, timed ? " (target < 60 s) " : "",
               timed ? (secs < 60.0 ? "ok" : "OVER TARGET") : "");
        if (timed && secs >= 60.0)
            status = 1;
    }
    free(nodes);
    return status;
}
