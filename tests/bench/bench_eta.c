/* bench_eta.c -- what explain's queue estimate costs (policy/eta.c with the bounds explain
 * uses, scheduler/explain_queue.h), beside the one policy_decide() explain ran before it:
 * a federation of 20 clusters x 50 nodes of 8 GPUs, every node busy with one running job
 * (half of them with maxRuntimeSeconds), and queues of 500, 5,000 and 20,000 jobs of 1 to
 * 32 GPUs; the job estimated is the last one submitted. Then the whole queue at once (GET
 * /v1/queue, eta_estimate_queue()) beside that one estimate; its entry for the last job must
 * be the one estimate's, or the run exits 1. BENCH_MODE=smoke runs the 500-job queue only.
 * Times are CPU time. Target: an estimate, and the whole queue's, under 2 s of CPU
 * (explain's answer time on an idle core); a full run that misses it exits 1 ("OVER
 * TARGET"). */
#include "base/err.h"
#include "base/mem.h"
#include "policy/eta.h"
#include "policy/policy.h"
#include "scheduler/explain_queue.h"
#include "tests/support/defaults.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLUSTERS  20
#define NODES     50 /* per cluster */
#define NOW       1764331200000LL
#define TARGET_MS 2000.0

struct fed {
    struct snapshot *snap;
    struct policy_config cfg;
    struct policy_job *queue;
    struct policy_running *running;
    struct job_node_use *plans;
    int64_t *limits;
    char (*names)[24];
    struct policy_input in;
};

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void fed_build(struct fed *f, size_t n_queue)
{
    static const char *const ns[] = {"vision", "speech", "ranking", "llm"};
    static const int shapes[][2] = {{1, 1}, {4, 4}, {8, 8}, {16, 8}, {32, 8}};
    size_t n_nodes = CLUSTERS * NODES;
    uint64_t s = 0x9E3779B97F4A7C15ULL;

    memset(f, 0, sizeof(*f));
    if (snapshot_new(CLUSTERS, n_nodes, 2, &f->snap, NULL))
        exit(2);
    snprintf(f->snap->sku_names[0], sizeof(f->snap->sku_names[0]), "a100-80gb");
    snprintf(f->snap->sku_names[1], sizeof(f->snap->sku_names[1]), "h100-80gb");
    f->snap->taken_ms = NOW;
    f->running = xcalloc(n_nodes, sizeof(*f->running));
    f->plans = xcalloc(n_nodes, sizeof(*f->plans));
    f->limits = xcalloc(n_nodes, sizeof(*f->limits));
    for (size_t c = 0; c < CLUSTERS; c++) {
        struct snapshot_cluster *cl = &f->snap->clusters[c];

        snprintf(cl->name, sizeof(cl->name), "cluster-%02zu", c);
        cl->health = SNAPSHOT_HEALTH_READY;
        cl->last_poll_ms = NOW;
        cl->node_first = c * NODES;
        cl->n_nodes = NODES;
        for (size_t i = 0; i < NODES; i++) {
            size_t x = c * NODES + i;
            struct snapshot_node *n = &f->snap->nodes[x];
            struct policy_running *ru = &f->running[x];

            snprintf(n->name, sizeof(n->name), "%s-n%02zu", cl->name, i);
            n->sku = (int)(c % 2);
            n->pool = SNAPSHOT_POOL_TRAINING;
            n->allocatable = 8;
            n->used = 8;
            n->schedulable = true;
            f->plans[x] = (struct job_node_use){n->name, 8};
            ru->id = 1000000 + x;
            ru->ns = ns[x % 4];
            ru->name = "running";
            ru->cluster = cl->name;
            ru->sku = n->sku;
            ru->gpus = 8;
            ru->started_ms = NOW - (int64_t)(rnd(&s) % (12 * 3600)) * 1000;
            ru->in_snapshot = true;
            ru->plan = &f->plans[x];
            ru->n_plan = 1;
            f->limits[x] = rnd(&s) % 2 ? (int64_t)(4 + rnd(&s) % 20) * 3600 : 0;
        }
    }
    snapshot_compute_aggregates(f->snap);
    defaults_policy(&f->cfg);
    f->queue = xcalloc(n_queue, sizeof(*f->queue));
    f->names = xcalloc(n_queue, sizeof(*f->names));
    for (size_t j = 0; j < n_queue; j++) {
        struct policy_job *q = &f->queue[j];
        int sh = (int)(rnd(&s) % 5);

        snprintf(f->names[j], sizeof(f->names[j]), "job-%06zu", j);
        q->id = j + 1;
        q->ns = ns[rnd(&s) % 4];
        q->name = f->names[j];
        q->sku = (int)(rnd(&s) % 2);
        q->gpu_count = shapes[sh][0];
        q->gpus_per_worker = shapes[sh][1];
        q->priority = rnd(&s) % 10 == 0 ? 100 : 0;
        q->created_ms = NOW - (int64_t)(n_queue - j) * 1000;
        q->max_runtime_s = rnd(&s) % 2 ? (int64_t)(1 + rnd(&s) % 12) * 3600 : 0;
    }
    f->in.snap = f->snap;
    f->in.queue = f->queue;
    f->in.n_queue = n_queue;
    f->in.running = f->running;
    f->in.n_running = n_nodes;
    f->in.cfg = &f->cfg;
    f->in.now_ms = NOW;
}

/* CPU time of this process, ns: the machine is shared, wall time would measure the others. */
static int64_t cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void fed_free(struct fed *f)
{
    snapshot_free(&f->snap);
    free(f->queue);
    free(f->running);
    free(f->plans);
    free(f->limits);
    free(f->names);
}

/* One queue size; returns the slower of the estimate's and the whole queue's time in ms,
 * or a negative figure when the whole queue's entry for the job differs from its estimate. */
static double run(size_t n_queue)
{
    struct eta_opts o = {SCHED_ETA_DEFAULT_RUNTIME_S, SCHED_ETA_STEP_S, SCHED_ETA_MAX_EVENTS,
                         SCHED_ETA_MAX_WORK};
    struct fed f;
    struct eta_runtimes rt;
    struct eta_result r;
    struct policy_state *st = policy_state_new();
    struct policy_result *res = NULL;
    struct err e = {0};
    struct eta_queue q;
    const struct eta_queue_entry *x;
    int64_t t0, t1, t2, t3;
    size_t placed = 0;
    bool same;

    fed_build(&f, n_queue);
    rt = (struct eta_runtimes){f.limits, NULL, NULL};
    t0 = cpu_ns();
    if (policy_decide(&f.in, st, &res, &e)) {
        fprintf(stderr, "bench_eta: policy_decide: %s\n", e.msg);
        exit(2);
    }
    t1 = cpu_ns();
    if (eta_estimate(&f.in, &rt, st, n_queue - 1, &o, &r, &e)) {
        fprintf(stderr, "bench_eta: eta_estimate: %s\n", e.msg);
        exit(2);
    }
    t2 = cpu_ns();
    printf("  queue %6zu  estimate %8.1f ms CPU  (%3d decisions, %s, position %d)  one "
           "policy_decide %6.1f ms  ratio %5.1f x\n",
           n_queue, (double)(t2 - t1) / 1e6, r.events,
           r.placed   ? "placed"
           : r.capped ? "capped"
                      : "never",
           r.position, (double)(t1 - t0) / 1e6,
           (t1 > t0) ? (double)(t2 - t1) / (double)(t1 - t0) : 0.0);
    if (eta_estimate_queue(&f.in, &rt, st, &o, &q, &e)) {
        fprintf(stderr, "bench_eta: eta_estimate_queue: %s\n", e.msg);
        exit(2);
    }
    t3 = cpu_ns();
    for (size_t i = 0; i < q.n; i++)
        placed += q.v[i].placed;
    x = &q.v[n_queue - 1];
    same = x->position == r.position && x->placed == r.placed &&
           (!r.placed || x->start_ms == r.start_ms);
    printf("  queue %6zu  whole queue %5.1f ms CPU  (%3d decisions, %zu of %zu estimated)  "
           "ratio to the one estimate %5.2f x  last job as alone: %s\n",
           n_queue, (double)(t3 - t2) / 1e6, q.basis.events, placed, n_queue,
           (t2 > t1) ? (double)(t3 - t2) / (double)(t2 - t1) : 0.0, same ? "yes" : "NO");
    eta_queue_free(&q);
    policy_result_free(&res);
    policy_state_free(&st);
    fed_free(&f);
    if (!same)
        return -1;
    return (double)(t3 - t2) > (double)(t2 - t1) ? (double)(t3 - t2) / 1e6
                                                 : (double)(t2 - t1) / 1e6;
}

int main(void)
{
    const char *mode = getenv("BENCH_MODE");
    bool smoke = mode && strcmp(mode, "smoke") == 0;
    static const size_t sizes[] = {500, 5000, 20000};
    double worst = 0;
    bool differ = false;

    printf("queue estimate (explain): %d clusters x %d nodes of 8 GPUs, all busy\n", CLUSTERS,
           NODES);
    for (size_t i = 0; i < (smoke ? 1 : sizeof(sizes) / sizeof(sizes[0])); i++) {
        double ms = run(sizes[i]);

        differ |= ms < 0;
        if (ms > worst)
            worst = ms;
    }
    if (differ)
        return 1;
    if (!smoke)
        printf("  target         %s (every estimate under %.0f ms)\n",
               worst < TARGET_MS ? "met" : "OVER TARGET", TARGET_MS);
    return !smoke && worst >= TARGET_MS ? 1 : 0;
}
