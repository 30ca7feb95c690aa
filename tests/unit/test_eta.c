/* test_eta.c -- queue position and estimated start (policy/eta.c) on hand-made inputs: one
 * 8-GPU node, a running job and a queue, with the answers worked out by hand. */
#include "base/buf.h"
#include "base/err.h"
#include "policy/eta.h"
#include "policy/policy.h"
#include "tests/support/defaults.h"

#include <check.h>
#include <jansson.h>
#include <string.h>

#define H     3600000LL
#define NOW   1790000000000LL /* 2026-09-21, any instant will do */
#define SKU_A 0
#define SKU_B 1

struct fx {
    struct snapshot *snap;
    struct policy_config cfg;
    struct policy_job q[8];
    struct policy_running r[4];
    int64_t run_max[4];
    struct job_node_use plan[4];
    struct policy_input in;
    struct eta_opts o;
};

/* Cluster az1: one node of 8 GPUs of SKU a (n0) and one of SKU b (n1), polled now. */
static void fx_init(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    ck_assert_int_eq(snapshot_new(1, 2, 2, &f->snap, NULL), 0);
    snprintf(f->snap->sku_names[SKU_A], sizeof(f->snap->sku_names[0]), "a100-80gb");
    snprintf(f->snap->sku_names[SKU_B], sizeof(f->snap->sku_names[1]), "h100-80gb");
    snprintf(f->snap->clusters[0].name, sizeof(f->snap->clusters[0].name), "az1");
    f->snap->clusters[0].n_nodes = 2;
    f->snap->clusters[0].health = SNAPSHOT_HEALTH_READY;
    f->snap->clusters[0].last_poll_ms = NOW;
    f->snap->taken_ms = NOW;
    f->snap->nodes[0] = (struct snapshot_node){.name = "n0",
                                               .sku = SKU_A,
                                               .pool = SNAPSHOT_POOL_TRAINING,
                                               .allocatable = 8,
                                               .schedulable = true};
    f->snap->nodes[1] = (struct snapshot_node){.name = "n1",
                                               .sku = SKU_B,
                                               .pool = SNAPSHOT_POOL_TRAINING,
                                               .allocatable = 8,
                                               .schedulable = true};
    snapshot_compute_aggregates(f->snap);
    defaults_policy(&f->cfg);
    f->in.snap = f->snap;
    f->in.queue = f->q;
    f->in.running = f->r;
    f->in.cfg = &f->cfg;
    f->in.now_ms = NOW;
    f->o.default_runtime_s = 4 * 3600;
    f->o.step_s = 3600;
    f->o.max_events = 100;
    f->o.max_work = 1000000;
}

static void fx_free(struct fx *f)
{
    snapshot_free(&f->snap);
}

static struct policy_job *add_job(struct fx *f, const char *name, int sku, int gpus,
                                  int64_t max_runtime_s, int64_t created_ms)
{
    struct policy_job *j = &f->q[f->in.n_queue];

    memset(j, 0, sizeof(*j));
    j->id = f->in.n_queue + 100;
    j->ns = "team";
    j->name = name;
    j->sku = sku;
    j->gpu_count = gpus;
    j->gpus_per_worker = gpus;
    j->created_ms = created_ms;
    j->max_runtime_s = max_runtime_s;
    f->in.n_queue++;
    return j;
}

/* A running job on n0 (counted in the snapshot), started at started_ms. */
static void add_running(struct fx *f, int gpus, int64_t started_ms, int64_t max_runtime_s)
{
    size_t i = f->in.n_running++;
    struct policy_running *ru = &f->r[i];

    f->plan[i] = (struct job_node_use){"n0", gpus};
    memset(ru, 0, sizeof(*ru));
    ru->id = i + 1;
    ru->ns = "team";
    ru->name = "running";
    ru->cluster = "az1";
    ru->sku = SKU_A;
    ru->gpus = gpus;
    ru->started_ms = started_ms;
    ru->in_snapshot = true;
    ru->plan = &f->plan[i];
    ru->n_plan = 1;
    f->run_max[i] = max_runtime_s;
    f->snap->nodes[0].used += gpus;
    snapshot_compute_aggregates(f->snap);
}

static struct eta_result estimate(struct fx *f, size_t job)
{
    struct eta_result r;
    struct eta_runtimes rt = {f->run_max, NULL, NULL};
    struct err e = {0};

    ck_assert_msg(eta_estimate(&f->in, &rt, NULL, job, &f->o, &r, &e) == 0, "%s", e.msg);
    return r;
}

/* The brief's example: the node is busy for 2 more hours; first's estimate is then, the
 * second's 2 h + the first's 3 h runtime. */
START_TEST(test_two_queued_behind_a_running_job)
{
    struct fx f;
    struct eta_result r;

    fx_init(&f);
    add_running(&f, 8, NOW - 1 * H, 3 * 3600); /* ends at NOW + 2 h */
    add_job(&f, "first", SKU_A, 8, 3 * 3600, NOW - 2 * H);
    add_job(&f, "second", SKU_A, 8, 1 * 3600, NOW - 1 * H);
    r = estimate(&f, 0);
    ck_assert_int_eq(r.position, 1);
    ck_assert_int_eq(r.ahead_jobs, 0);
    ck_assert(r.placed);
    ck_assert_int_eq(r.start_ms, NOW + 2 * H);
    ck_assert_int_eq(r.running_known, 1);
    ck_assert_int_eq(r.running_assumed, 0);
    r = estimate(&f, 1);
    ck_assert_int_eq(r.position, 2);
    ck_assert_int_eq(r.ahead_jobs, 1);
    ck_assert_int_eq(r.ahead_gpus, 8);
    ck_assert(r.placed);
    ck_assert(!r.capped);
    ck_assert_int_eq(r.start_ms, NOW + 5 * H);
    fx_free(&f);
}
END_TEST

/* Priority comes first in the policy's order: the later, higher-priority job is ahead. */
START_TEST(test_priority_orders_the_queue)
{
    struct fx f;
    struct eta_result r;

    fx_init(&f);
    add_running(&f, 8, NOW - 1 * H, 3 * 3600);
    add_job(&f, "old", SKU_A, 8, 3 * 3600, NOW - 2 * H);
    add_job(&f, "urgent", SKU_A, 8, 1 * 3600, NOW - 1 * H)->priority = 1000;
    r = estimate(&f, 1);
    ck_assert_int_eq(r.position, 1);
    ck_assert_int_eq(r.start_ms, NOW + 2 * H);
    r = estimate(&f, 0);
    ck_assert_int_eq(r.position, 2);
    ck_assert_int_eq(r.ahead_gpus, 8);
    ck_assert_int_eq(r.start_ms, NOW + 3 * H);
    fx_free(&f);
}
END_TEST

/* Jobs of another SKU are not in the job's queue and do not delay it; a job that fits now
 * starts now. */
START_TEST(test_other_sku_is_another_queue)
{
    struct fx f;
    struct eta_result r;

    fx_init(&f);
    add_running(&f, 8, NOW - 1 * H, 3 * 3600);
    add_job(&f, "a-job", SKU_A, 8, 3600, NOW - 2 * H);
    add_job(&f, "b-job", SKU_B, 4, 3600, NOW - 1 * H);
    r = estimate(&f, 1);
    ck_assert_int_eq(r.position, 1);
    ck_assert_int_eq(r.ahead_jobs, 0);
    ck_assert(r.placed);
    ck_assert_int_eq(r.start_ms, NOW);
    ck_assert_int_eq(r.events, 1);
    fx_free(&f);
}
END_TEST

/* A job whose alternative is the SKU is in that SKU's queue too; within one priority the
 * namespace with less fair-share usage goes first, whatever the submission order. */
START_TEST(test_alternatives_and_fair_share)
{
    struct fx f;
    struct eta_result r;
    struct eta_runtimes rt;
    struct policy_state *st = policy_state_new();
    struct policy_job *j;
    struct err e = {0};

    fx_init(&f);
    f.cfg.aging_per_hour = 0; /* one priority level: fair share decides */
    rt = (struct eta_runtimes){f.run_max, NULL, NULL};
    add_running(&f, 8, NOW - 1 * H, 3 * 3600);
    j = add_job(&f, "b-or-a", SKU_B, 8, 3600, NOW - 3 * H);
    j->alt_skus[j->n_alt_skus++] = SKU_A;
    j->ns = "heavy";
    add_job(&f, "heavy-a", SKU_A, 8, 3600, NOW - 2 * H)->ns = "heavy";
    add_job(&f, "light-a", SKU_A, 8, 3600, NOW - 1 * H)->ns = "light";
    policy_state_usage(st, "heavy", true)->gpu_hours[SKU_A] = 1000;
    policy_state_usage(st, "heavy", false)->as_of_ms = NOW;
    st->last_now_ms = NOW;
    ck_assert_int_eq(eta_estimate(&f.in, &rt, st, 2, &f.o, &r, &e), 0);
    ck_assert_int_eq(r.position, 1); /* light-a: before both of heavy's */
    ck_assert_int_eq(eta_estimate(&f.in, &rt, st, 1, &f.o, &r, &e), 0);
    ck_assert_int_eq(r.position, 3); /* heavy-a: after light-a and b-or-a (older) */
    ck_assert_int_eq(r.ahead_gpus, 16);
    policy_state_free(&st);
    fx_free(&f);
}
END_TEST

/* Without maxRuntimeSeconds the default runtime is assumed, for the running job and for
 * the jobs ahead; a running job already past it is expected to run as long again as it
 * has; one past its maxRuntimeSeconds ends at once. */
START_TEST(test_unknown_runtimes_use_the_default)
{
    struct fx f;
    struct eta_result r;

    fx_init(&f);
    add_running(&f, 8, NOW - 1 * H, 0); /* default 4 h: ends at NOW + 3 h */
    add_job(&f, "first", SKU_A, 8, 0, NOW - 2 * H);
    add_job(&f, "second", SKU_A, 8, 0, NOW - 1 * H);
    r = estimate(&f, 1);
    ck_assert_int_eq(r.running_assumed, 1);
    ck_assert_int_eq(r.running_known, 0);
    ck_assert_int_eq(r.overdue, 0);
    ck_assert_int_eq(r.default_runtime_s, 4 * 3600);
    ck_assert_int_eq(r.start_ms, NOW + 7 * H);
    fx_free(&f);

    fx_init(&f);
    add_running(&f, 8, NOW - 10 * H, 0); /* past the 4 h assumed: 10 h more */
    add_job(&f, "first", SKU_A, 8, 0, NOW - 2 * H);
    r = estimate(&f, 0);
    ck_assert_int_eq(r.overdue, 1);
    ck_assert(r.placed);
    ck_assert_int_eq(r.start_ms, NOW + 10 * H);
    fx_free(&f);

    fx_init(&f);
    add_running(&f, 8, NOW - 10 * H, 3600); /* past its 1 h limit: ends now */
    add_job(&f, "first", SKU_A, 8, 0, NOW - 2 * H);
    r = estimate(&f, 0);
    ck_assert_int_eq(r.overdue, 1);
    ck_assert_int_eq(r.running_known, 1);
    ck_assert_int_eq(r.start_ms, NOW + 1);
    fx_free(&f);
}
END_TEST

/* Runtimes the caller expects (a median, an oracle) replace the default without the policy
 * seeing them as maxRuntimeSeconds. */
START_TEST(test_expected_runtimes_given_apart)
{
    struct fx f;
    struct eta_result r;
    int64_t qrt[2] = {1800, 0}, rexp[1] = {2 * 3600};
    struct eta_runtimes rt = {NULL, rexp, qrt};
    struct err e = {0};

    fx_init(&f);
    add_running(&f, 8, NOW - 1 * H, 0); /* expected 2 h: ends at NOW + 1 h */
    add_job(&f, "first", SKU_A, 8, 0, NOW - 2 * H);
    add_job(&f, "second", SKU_A, 8, 0, NOW - 1 * H);
    ck_assert_int_eq(eta_estimate(&f.in, &rt, NULL, 1, &f.o, &r, &e), 0);
    ck_assert_int_eq(r.running_assumed, 1);
    ck_assert_int_eq(r.start_ms, NOW + 1 * H + 1800 * 1000);
    ck_assert_int_eq(f.q[0].max_runtime_s, 0);
    fx_free(&f);
}
END_TEST

/* The caps on simulated decisions and on their work: reached, the answer says so and has
 * no estimate. */
START_TEST(test_cap_on_events)
{
    struct fx f;
    struct eta_result r;
    struct buf b;
    json_t *o, *q;

    fx_init(&f);
    add_running(&f, 8, NOW - 1 * H, 3 * 3600);
    add_job(&f, "first", SKU_A, 8, 3 * 3600, NOW - 2 * H);
    add_job(&f, "second", SKU_A, 8, 1 * 3600, NOW - 1 * H);
    f.o.max_events = 2; /* NOW (nothing), NOW + 1 h (nothing): the job starts at + 5 h */
    r = estimate(&f, 1);
    ck_assert(r.capped);
    ck_assert(!r.placed);
    ck_assert_int_eq(r.events, 2);
    ck_assert_int_eq(r.position, 2);
    buf_init(&b, 0);
    eta_json(&r, &b);
    o = json_loadb(b.data, b.len, 0, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert(json_is_null(json_object_get(o, "estimatedStart")));
    ck_assert_str_eq(json_string_value(json_object_get(o, "noEstimate")), "capped");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "position")), 2);
    q = json_object_get(o, "ahead");
    ck_assert_int_eq(json_integer_value(json_object_get(q, "jobs")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(q, "gpus")), 8);
    q = json_object_get(o, "basis");
    ck_assert(json_is_true(json_object_get(q, "capped")));
    ck_assert_int_eq(json_integer_value(json_object_get(q, "decisions")), 2);
    json_decref(o);
    buf_free(&b);
    /* The work cap: the first decision sees 3 jobs, a second would make 6. */
    f.o.max_events = 100;
    f.o.max_work = 5;
    r = estimate(&f, 1);
    ck_assert(r.capped);
    ck_assert_int_eq(r.events, 1);
    ck_assert_int_eq(r.work, 3);
    f.o.max_work = 1; /* the first decision runs whatever it costs */
    r = estimate(&f, 0);
    ck_assert_int_eq(r.events, 1);
    ck_assert(r.capped);
    fx_free(&f);
}
END_TEST

/* A job that never fits: the simulation runs out of work to end and answers no estimate,
 * without claiming to be capped, and says it never starts. */
START_TEST(test_never_fits_has_no_estimate)
{
    struct fx f;
    struct eta_result r;
    struct buf b;
    json_t *o;

    fx_init(&f);
    add_running(&f, 8, NOW - 1 * H, 3 * 3600);
    add_job(&f, "huge", SKU_A, 16, 3600, NOW - 2 * H)->gpus_per_worker = 16;
    f.o.max_events = 1000;
    r = estimate(&f, 0);
    ck_assert(!r.placed);
    ck_assert(!r.capped);
    ck_assert_int_lt(r.events, 1000);
    buf_init(&b, 0);
    eta_json(&r, &b);
    o = json_loadb(b.data, b.len, 0, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert(json_is_null(json_object_get(o, "estimatedStart")));
    ck_assert_str_eq(json_string_value(json_object_get(o, "noEstimate")), "never");
    json_decref(o);
    buf_free(&b);
    fx_free(&f);
}
END_TEST

/* Cores as well as GPUs: n0 has 64 cores. A running job holds 4 GPUs and 56 cores until
 * NOW + 2 h; a queued job of 4 GPUs and 32 cores fits the free GPUs but not the cores, so
 * it starts when the running job ends and gives its cores back. Before, an ending job gave
 * back its GPUs only, and the estimate never came. */
START_TEST(test_an_ending_job_gives_its_cores_back)
{
    struct fx f;
    struct eta_result r;

    fx_init(&f);
    f.snap->nodes[0].cpu_alloc_m = 64000;
    add_running(&f, 4, NOW - 1 * H, 3 * 3600); /* ends at NOW + 2 h */
    f.r[0].gpus_per_worker = 4;
    f.r[0].cpu_m_per_worker = 56000;
    f.snap->nodes[0].cpu_used_m = 56000;
    add_job(&f, "cores", SKU_A, 4, 3600, NOW - 1 * H)->cpu_m_per_worker = 32000;
    r = estimate(&f, 0);
    ck_assert(r.placed);
    ck_assert_int_eq(r.start_ms, NOW + 2 * H);
    fx_free(&f);
}
END_TEST

/* A start the simulation makes holds its cores: "first" (4 GPUs, 48 of n0's 64 cores, 3 h)
 * starts now; "second" (4 GPUs, 32 cores) fits the GPUs beside it but not the cores, so it
 * starts when first ends, at NOW + 3 h. Before, the simulated start held its GPUs only and
 * second was estimated at the next step (NOW + 1 h). */
START_TEST(test_a_simulated_start_holds_its_cores)
{
    struct fx f;
    struct eta_result r;

    fx_init(&f);
    f.snap->nodes[0].cpu_alloc_m = 64000;
    add_job(&f, "first", SKU_A, 4, 3 * 3600, NOW - 2 * H)->cpu_m_per_worker = 48000;
    add_job(&f, "second", SKU_A, 4, 3600, NOW - 1 * H)->cpu_m_per_worker = 32000;
    r = estimate(&f, 0);
    ck_assert(r.placed);
    ck_assert_int_eq(r.start_ms, NOW);
    r = estimate(&f, 1);
    ck_assert(r.placed);
    ck_assert_int_eq(r.start_ms, NOW + 3 * H);
    fx_free(&f);
}
END_TEST

/* The estimate renders as RFC 3339; the inputs and the policy state are left as they were. */
START_TEST(test_json_and_inputs_untouched)
{
    struct fx f;
    struct eta_result r;
    struct eta_runtimes rt = {f.run_max, NULL, NULL};
    struct policy_state *st;
    struct buf b;
    json_t *o;

    fx_init(&f);
    add_running(&f, 8, NOW - 1 * H, 3 * 3600);
    add_job(&f, "first", SKU_A, 8, 3 * 3600, NOW - 2 * H);
    st = policy_state_new();
    policy_state_usage(st, "team", true)->gpu_hours[SKU_A] = 5;
    st->last_now_ms = NOW - H;
    ck_assert_int_eq(eta_estimate(&f.in, &rt, st, 0, &f.o, &r, NULL), 0);
    ck_assert_double_eq(policy_state_usage(st, "team", false)->gpu_hours[SKU_A], 5);
    ck_assert_int_eq(st->last_now_ms, NOW - H);
    policy_state_free(&st);
    ck_assert_int_eq(f.snap->nodes[0].used, 8);
    ck_assert_uint_eq(f.in.n_queue, 1);
    ck_assert_uint_eq(f.in.n_running, 1);
    buf_init(&b, 0);
    eta_json(&r, &b);
    o = json_loadb(b.data, b.len, 0, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(json_string_value(json_object_get(o, "estimatedStart")),
                     "2026-09-21T16:13:20.000Z");
    ck_assert_ptr_null(json_object_get(o, "noEstimate")); /* only beside a null */
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(o, "basis"), "runningWithMaxRuntime")),
        1);
    json_decref(o);
    buf_free(&b);
    fx_free(&f);
}
END_TEST

/* The whole queue at once gives each job what an estimate of that job alone gives: the same
 * position, jobs and GPUs ahead, and start, with two SKUs, an alternative, a priority, fair
 * share, a job that never fits, and with the cap reached part way. */
static void queue_matches_each(struct fx *f, const struct policy_state *st, int *placed)
{
    struct eta_runtimes rt = {f->run_max, NULL, NULL};
    struct eta_queue q;
    struct err e = {0};

    ck_assert_msg(eta_estimate_queue(&f->in, &rt, st, &f->o, &q, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(q.n, f->in.n_queue);
    *placed = 0;
    for (size_t i = 0; i < q.n; i++) {
        struct eta_result r;

        ck_assert_int_eq(eta_estimate(&f->in, &rt, st, i, &f->o, &r, &e), 0);
        ck_assert_msg(q.v[i].position == r.position, "%s: position %d, alone %d", f->q[i].name,
                      q.v[i].position, r.position);
        ck_assert_int_eq(q.v[i].ahead_jobs, r.ahead_jobs);
        ck_assert_int_eq(q.v[i].ahead_gpus, r.ahead_gpus);
        ck_assert_msg(q.v[i].placed == r.placed, "%s: placed %d, alone %d", f->q[i].name,
                      q.v[i].placed, r.placed);
        if (r.placed)
            ck_assert_int_eq(q.v[i].start_ms, r.start_ms);
        ck_assert_int_ge(q.v[i].order, 0);
        ck_assert_int_ge(q.basis.events, r.events);
        *placed += q.v[i].placed;
    }
    eta_queue_free(&q);
}

START_TEST(test_whole_queue_as_each_alone)
{
    struct fx f;
    struct policy_state *st = policy_state_new();
    struct policy_job *j;
    int placed;

    fx_init(&f);
    add_running(&f, 4, NOW - 1 * H, 3 * 3600); /* n0: 4 free, 4 more at NOW + 2 h */
    add_job(&f, "a8", SKU_A, 8, 2 * 3600, NOW - 5 * H);
    j = add_job(&f, "b-or-a", SKU_B, 8, 3600, NOW - 4 * H);
    j->alt_skus[j->n_alt_skus++] = SKU_A;
    add_job(&f, "b4", SKU_B, 4, 5 * 3600, NOW - 3 * H)->ns = "other";
    add_job(&f, "a4-urgent", SKU_A, 4, 3600, NOW - 1 * H)->priority = 100;
    add_job(&f, "a16", SKU_A, 16, 3600, NOW - 6 * H); /* no node has 16 */
    add_job(&f, "a2", SKU_A, 2, 0, NOW - 2 * H)->ns = "other";
    add_job(&f, "b8", SKU_B, 8, 3600, NOW - 2 * H);
    policy_state_usage(st, "team", true)->gpu_hours[SKU_A] = 500;
    policy_state_usage(st, "team", false)->as_of_ms = NOW;
    st->last_now_ms = NOW;
    f.o.max_events = 400; /* a16 keeps it going to the idle horizon: 7 days of hourly steps */
    queue_matches_each(&f, st, &placed);
    ck_assert_int_eq(placed, 6); /* all but a16 */
    /* Worked by hand: a4-urgent takes n0's 4 free GPUs now. */
    {
        struct eta_queue q;
        struct eta_runtimes rt = {f.run_max, NULL, NULL};

        ck_assert_int_eq(eta_estimate_queue(&f.in, &rt, st, &f.o, &q, NULL), 0);
        ck_assert_int_eq(q.v[3].position, 1);
        ck_assert_int_eq(q.v[3].start_ms, NOW);
        ck_assert(!q.v[4].placed);
        ck_assert(!q.basis.capped);
        /* a16 never starts, and the simulation says so: the others all do. */
        for (size_t i = 0; i < q.n; i++)
            ck_assert_msg(q.v[i].never == (i == 4), "%s never %d", f.q[i].name, q.v[i].never);
        eta_queue_free(&q);
    }
    {
        /* Alone, a16's estimate stops at its first decision: never_fits will not change as
         * jobs end (before, it simulated a week of hourly steps to find out). */
        struct eta_runtimes rt = {f.run_max, NULL, NULL};
        struct eta_result r;

        ck_assert_int_eq(eta_estimate(&f.in, &rt, st, 4, &f.o, &r, NULL), 0);
        ck_assert(!r.placed);
        ck_assert(!r.capped);
        ck_assert_int_eq(r.events, 1);
    }
    f.o.max_events = 3; /* stops part way: some jobs have no estimate, as alone */
    queue_matches_each(&f, st, &placed);
    ck_assert_int_gt(placed, 0);
    ck_assert_int_lt(placed, 6);
    {
        /* Capped, a16 is still known never to start; the jobs cut short are not. */
        struct eta_runtimes rt = {f.run_max, NULL, NULL};
        struct eta_queue q;
        int unknown = 0;

        ck_assert_int_eq(eta_estimate_queue(&f.in, &rt, st, &f.o, &q, NULL), 0);
        ck_assert(q.basis.capped);
        ck_assert(q.v[4].never);
        for (size_t i = 0; i < q.n; i++)
            unknown += !q.v[i].placed && !q.v[i].never;
        ck_assert_int_gt(unknown, 0);
        eta_queue_free(&q);
    }
    policy_state_free(&st);
    fx_free(&f);
}
END_TEST

START_TEST(test_bad_options_and_index)
{
    struct fx f;
    struct eta_result r;
    struct err e = {0};

    fx_init(&f);
    add_job(&f, "first", SKU_A, 8, 3600, NOW);
    f.o.step_s = 0;
    ck_assert_int_eq(eta_estimate(&f.in, NULL, NULL, 0, &f.o, &r, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_str_eq(e.field, "eta.step_s");
    f.o.step_s = 60;
    f.o.max_events = 0;
    ck_assert_int_eq(eta_estimate(&f.in, NULL, NULL, 0, &f.o, &r, &e), -1);
    ck_assert_str_eq(e.field, "eta.max_events");
    f.o.max_events = 5;
    f.o.max_work = 0;
    ck_assert_int_eq(eta_estimate(&f.in, NULL, NULL, 0, &f.o, &r, &e), -1);
    ck_assert_str_eq(e.field, "eta.max_work");
    f.o.max_work = 100;
    ck_assert_int_eq(eta_estimate(&f.in, NULL, NULL, 1, &f.o, &r, &e), -1);
    ck_assert_int_eq(e.code, ERR_NOT_FOUND);
    fx_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("eta");
    TCase *tc = tcase_create("eta");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_two_queued_behind_a_running_job);
    tcase_add_test(tc, test_priority_orders_the_queue);
    tcase_add_test(tc, test_other_sku_is_another_queue);
    tcase_add_test(tc, test_alternatives_and_fair_share);
    tcase_add_test(tc, test_unknown_runtimes_use_the_default);
    tcase_add_test(tc, test_expected_runtimes_given_apart);
    tcase_add_test(tc, test_cap_on_events);
    tcase_add_test(tc, test_never_fits_has_no_estimate);
    tcase_add_test(tc, test_json_and_inputs_untouched);
    tcase_add_test(tc, test_bad_options_and_index);
    tcase_add_test(tc, test_an_ending_job_gives_its_cores_back);
    tcase_add_test(tc, test_a_simulated_start_holds_its_cores);
    tcase_add_test(tc, test_whole_queue_as_each_alone);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
