/* test_whatif.c -- `fedsched simulate`: a short simulated run is deterministic for a seed
 * (same digest and figures twice, different with another seed), borrowing raises serving-
 * pool use without leaving serving demand unmet past the reclaim bound, reclaims lose only
 * the work since the last checkpoint, the baselines keep their defining orders, and the
 * inputs (layouts, split node lists, job files, policy knobs) fail with the field named. */
#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "policy/policy.h"
#include "whatif/trace.h"
#include "whatif/whatif.h"
#include "whatif/whatif_engine.h"
#include "whatif/whatif_model.h"
#include "tests/support/defaults.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The configuration table's policy defaults (what `fedsched simulate` starts from). */
static const struct policy_config *test_policy(void)
{
    static struct policy_config c;
    static int done;

    if (!done) {
        defaults_policy(&c);
        done = 1;
    }
    return &c;
}

static char *path_of(const char *rel)
{
    const char *src = getenv("FEDSCHED_SRC");

    return xasprintf("%s/%s", src ? src : ".", rel);
}

static struct whatif_layout *layout_file(const char *rel)
{
    char *p = path_of(rel);
    struct whatif_layout *l = NULL;
    struct err e = {0};

    ck_assert_msg(whatif_layout_load(p, &l, &e) == 0, "%s", e.msg);
    free(p);
    return l;
}

static struct whatif_layout *layout_text(const char *json)
{
    struct whatif_layout *l = NULL;
    struct err e = {0};

    ck_assert_msg(whatif_layout_parse(json, strlen(json), "t", &l, &e) == 0, "%s", e.msg);
    return l;
}

static struct whatif_jobs *jobs_text(const struct whatif_layout *l, const char *json)
{
    struct whatif_jobs *j = NULL;
    struct err e = {0};

    ck_assert_msg(whatif_jobs_parse(json, strlen(json), "j", l, &j, &e) == 0, "%s", e.msg);
    return j;
}

static struct whatif_report *run(const struct whatif_layout *l, const struct whatif_jobs *j,
                                 enum whatif_sched s, const struct whatif_opts *o)
{
    struct whatif_report *r = NULL;
    struct err e = {0};

    ck_assert_msg(whatif_run(l, j, s, o, &r, &e) == 0, "%s", e.msg);
    return r;
}

/* ---- determinism ------------------------------------------------------------------------- */

START_TEST(short_run_is_deterministic)
{
    struct whatif_layout *l = layout_file("testdata/whatif/small-layout.json");
    char *jp = path_of("testdata/whatif/small-jobs.json");
    struct whatif_jobs *j = NULL;
    struct whatif_opts o;

    ck_assert_int_eq(whatif_jobs_load(jp, l, &j, NULL), 0);
    whatif_opts_defaults(&o, test_policy());
    for (int s = 0; s < WHATIF_SCHED_COUNT; s++) {
        struct whatif_report *a = run(l, j, (enum whatif_sched)s, &o);
        struct whatif_report *b = run(l, j, (enum whatif_sched)s, &o);
        struct buf ba, bb;

        ck_assert_uint_eq(a->digest, b->digest);
        ck_assert_uint_eq(a->completed, b->completed);
        ck_assert(a->avg_jct_s == b->avg_jct_s && a->p95_wait_s == b->p95_wait_s);
        ck_assert(a->overall_util == b->overall_util);
        ck_assert_uint_eq(a->completed, 60); /* the trace is small enough to drain */
        ck_assert_uint_eq(a->overcommits, 0);
        /* The whole JSON report is identical byte for byte. */
        buf_init(&ba, 0);
        buf_init(&bb, 0);
        ck_assert_int_eq(whatif_reports_json(l, &a, 1, &ba), 0);
        ck_assert_int_eq(whatif_reports_json(l, &b, 1, &bb), 0);
        ck_assert_str_eq(ba.data, bb.data);
        buf_free(&ba);
        buf_free(&bb);
        whatif_report_free(&a);
        whatif_report_free(&b);
        ck_assert_ptr_null(a);
    }
    whatif_jobs_free(&j);
    whatif_layout_free(&l);
    free(jp);
}
END_TEST

START_TEST(seed_changes_the_run)
{
    struct whatif_layout *l = layout_file("testdata/whatif/small-layout.json");
    char *tpp = path_of("testdata/traces/throughputs-small.json");
    char *tr = path_of("testdata/traces/philly-small.trace");
    struct trace_throughputs *tp = NULL;
    struct whatif_job_opts jo;
    struct whatif_jobs *j1 = NULL, *j2 = NULL, *j3 = NULL;
    struct whatif_opts o;
    struct whatif_report *a, *b, *c;
    size_t dropped = 0;
    bool differs = false;

    ck_assert_int_eq(trace_throughputs_load(tpp, &tp, NULL), 0);
    whatif_job_opts_defaults(&jo);
    /* Every job at once, so the seeded priorities decide who runs first. */
    jo.time_scale = 1e6;
    jo.high_priority_pct = 50;
    jo.seed = 7;
    ck_assert_int_eq(whatif_jobs_philly(tr, tp, l, &jo, &j1, &dropped, NULL), 0);
    ck_assert_int_eq(whatif_jobs_philly(tr, tp, l, &jo, &j2, &dropped, NULL), 0);
    jo.seed = 8;
    ck_assert_int_eq(whatif_jobs_philly(tr, tp, l, &jo, &j3, &dropped, NULL), 0);
    ck_assert_uint_eq(j1->n, 7);
    ck_assert_str_eq(j1->v[0].ns, "philly-small");
    /* Fastest SKU first: a V100 runs a Transformer faster than a K80. */
    ck_assert_str_eq(l->skus[j1->v[0].skus[0]], "v100");
    ck_assert(j1->v[0].duration_s[0] < j1->v[0].duration_s[1]);
    for (size_t i = 0; i < j1->n; i++)
        differs = differs || j1->v[i].preemptible != j3->v[i].preemptible ||
                  j1->v[i].priority != j3->v[i].priority;
    ck_assert_msg(differs, "seeds 7 and 8 marked the same jobs preemptible and urgent");
    whatif_opts_defaults(&o, test_policy());
    o.drain_s = 2 * 86400;
    a = run(l, j1, WHATIF_OURS, &o);
    b = run(l, j2, WHATIF_OURS, &o);
    c = run(l, j3, WHATIF_OURS, &o);
    ck_assert_uint_eq(a->digest, b->digest);
    ck_assert(a->avg_wait_s == b->avg_wait_s);
    ck_assert_uint_ne(a->digest, c->digest);
    whatif_report_free(&a);
    whatif_report_free(&b);
    whatif_report_free(&c);
    whatif_jobs_free(&j1);
    whatif_jobs_free(&j2);
    whatif_jobs_free(&j3);
    trace_throughputs_free(&tp);
    whatif_layout_free(&l);
    free(tpp);
    free(tr);
}
END_TEST

/* ---- borrowing and reclaim ------------------------------------------------------------------ */

/* One cluster: 8 training GPUs and 16 serving GPUs that lend 20:00-08:00 UTC. Serving
 * demand is low at night and high by day. */
#define LEND_LAYOUT                                                                                \
    "{\"start\":\"2026-01-05T18:00:00Z\",\"clusters\":[{\"name\":\"c\",\"pools\":["                \
    "{\"pool\":\"training\",\"sku\":\"v100\",\"nodes\":1,\"gpus_per_node\":8},"                    \
    "{\"pool\":\"serving\",\"sku\":\"v100\",\"nodes\":2,\"gpus_per_node\":8}],"                    \
    "\"serving\":{\"reserve_gpus\":%d,\"lend_policy\":\"window\","                                 \
    "\"windows\":[{\"start\":\"20:00\",\"end\":\"08:00\"}],"                                       \
    "\"demand\":[{\"sku\":\"v100\",\"hourly\":[%s]}]}}]}"

static struct whatif_layout *lend(int reserve, const char *hourly)
{
    char *t = xasprintf(LEND_LAYOUT, reserve, hourly);
    struct whatif_layout *l = layout_text(t);

    free(t);
    return l;
}

/* Twelve 4-GPU preemptible jobs of 6 hours arriving at 20:00 local. */
static struct whatif_jobs *night_jobs(const struct whatif_layout *l, int64_t ckpt)
{
    struct buf b;
    struct whatif_jobs *j;

    buf_init(&b, 0);
    buf_puts(&b, "{\"jobs\":[");
    for (int i = 0; i < 12; i++)
        buf_printf(&b,
                   "%s{\"name\":\"n%d\",\"namespace\":\"%s\",\"arrival_s\":%d,\"gpus\":4,"
                   "\"skus\":[\"v100\"],\"duration_s\":[21600],\"preemptible\":true,"
                   "\"checkpoint_s\":%lld}",
                   i ? "," : "", i, i % 2 ? "maps" : "ads", 7200 + i, (long long)ckpt);
    buf_puts(&b, "]}");
    j = jobs_text(l, b.data);
    buf_free(&b);
    return j;
}

static const char *day_curve = "0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.9,0.9,0.9,0.9,"
                               "0.9,0.9,0.9,0.9,0.9,0.9,0.9,0.9,0.1,0.1,0.1,0.1";

START_TEST(borrowing_raises_use_and_cuts_waiting)
{
    struct whatif_layout *l = lend(2, day_curve);
    struct whatif_jobs *j = night_jobs(l, 1800);
    struct whatif_opts o;
    struct whatif_report *ours, *closed;

    whatif_opts_defaults(&o, test_policy());
    o.window_s = 86400; /* the jobs arrive within seconds; measure the whole day */
    ours = run(l, j, WHATIF_OURS, &o);
    closed = run(l, j, WHATIF_OURS_NO_BORROW, &o);
    ck_assert(ours->borrowed_gpu_hours > 0);
    ck_assert(closed->borrowed_gpu_hours == 0);
    ck_assert_uint_eq(closed->reclaims, 0);
    ck_assert(ours->serving_util > closed->serving_util);
    ck_assert_msg(ours->avg_wait_s < closed->avg_wait_s, "ours waits %.0f s, closed %.0f s",
                  ours->avg_wait_s, closed->avg_wait_s);
    ck_assert_uint_eq(ours->completed, 12);
    ck_assert_uint_eq(closed->completed, 12);
    ck_assert_uint_eq(ours->overcommits, 0);
    /* Serving demand is never left waiting longer than the bound the config implies. */
    ck_assert_msg(ours->max_unmet_borrowed_s <= ours->reclaim_bound_s, "%.0f s > bound %.0f s",
                  ours->max_unmet_borrowed_s, ours->reclaim_bound_s);
    whatif_report_free(&ours);
    whatif_report_free(&closed);
    whatif_jobs_free(&j);
    whatif_layout_free(&l);
}
END_TEST

START_TEST(reclaims_lose_only_work_since_the_checkpoint)
{
    /* No reserve and a demand jump at 02:00 local: borrowers must give GPUs back. */
    struct whatif_layout *l = lend(0, "0.1,0.1,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,"
                                      "1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,0.1,0.1,0.1,0.1");
    struct whatif_jobs *j = night_jobs(l, 1800), *j_never = night_jobs(l, 0);
    struct whatif_opts o;
    struct whatif_report *r, *rn;

    whatif_opts_defaults(&o, test_policy());
    r = run(l, j, WHATIF_OURS, &o);
    rn = run(l, j_never, WHATIF_OURS, &o);
    ck_assert_uint_gt(r->reclaims_deficit, 0);
    ck_assert_uint_eq(r->overcommits, 0);
    /* Each reclaim loses at most a checkpoint interval plus the grace period of 4 GPUs. */
    ck_assert(r->lost_gpu_hours > 0);
    ck_assert(r->lost_gpu_hours <= (double)r->reclaims * 4 * (1800 + 30) / 3600.0 + 1e-9);
    /* Jobs that never checkpoint lose everything they ran; they are not admitted to borrow
     * past max_checkpoint_loss_s at all (lease-fit), so they do not borrow here. */
    ck_assert(rn->borrowed_gpu_hours == 0);
    ck_assert_uint_eq(r->completed, 12);
    ck_assert_msg(r->max_unmet_borrowed_s <= r->reclaim_bound_s, "%.0f s > bound %.0f s",
                  r->max_unmet_borrowed_s, r->reclaim_bound_s);
    ck_assert(r->unmet_serving_gpu_hours > 0); /* demand did go unmet, briefly */
    whatif_report_free(&r);
    whatif_report_free(&rn);
    whatif_jobs_free(&j);
    whatif_jobs_free(&j_never);
    whatif_layout_free(&l);
}
END_TEST

/* ---- baselines --------------------------------------------------------------------------------- */

/* Two clusters: "a" with one 8-GPU node, "b" with two. */
static const char *two_clusters =
    "{\"clusters\":[{\"name\":\"a\",\"pools\":[{\"sku\":\"v100\",\"nodes\":1}]},"
    "{\"name\":\"b\",\"pools\":[{\"sku\":\"v100\",\"nodes\":2}]}]}";

static double ns_wait(const struct whatif_report *r, const char *ns)
{
    for (size_t i = 0; i < r->n_ns; i++)
        if (strcmp(r->ns[i].ns, ns) == 0)
            return r->ns[i].avg_wait_s;
    ck_abort_msg("no namespace %s", ns);
    return -1;
}

/* 16 GPUs (2 x 8) fill b at t=0; then a 16-GPU job that fits only once b drains; then a
 * 4-GPU job that would fit on a right away. */
static const char *fill_big_small =
    "{\"jobs\":[{\"name\":\"fill\",\"namespace\":\"x\",\"arrival_s\":0,\"gpus\":16,"
    "\"gpus_per_worker\":8,\"skus\":[\"v100\"],\"duration_s\":[7200]},"
    "{\"name\":\"big\",\"namespace\":\"y\",\"arrival_s\":100,\"gpus\":16,"
    "\"gpus_per_worker\":8,\"skus\":[\"v100\"],\"duration_s\":[3600]},"
    "{\"name\":\"small\",\"namespace\":\"z\",\"arrival_s\":200,\"gpus\":4,"
    "\"skus\":[\"v100\"],\"duration_s\":[600]}]}";

START_TEST(fifo_blocks_behind_its_head_others_skip)
{
    struct whatif_layout *l = layout_text(two_clusters);
    struct whatif_jobs *j = jobs_text(l, fill_big_small);
    struct whatif_opts o;
    struct whatif_report *fifo, *off;

    whatif_opts_defaults(&o, test_policy());
    fifo = run(l, j, WHATIF_FIFO, &o);
    off = run(l, j, WHATIF_ORDERED_FIRST_FIT, &o);
    /* FIFO: small waits for big, which waits for fill (2 h) and then runs an hour. */
    ck_assert(ns_wait(fifo, "z") >= 6900);
    ck_assert(ns_wait(off, "z") < 120);
    ck_assert_uint_eq(fifo->completed, 3);
    ck_assert_uint_eq(off->completed, 3);
    whatif_report_free(&fifo);
    whatif_report_free(&off);
    whatif_jobs_free(&j);
    whatif_layout_free(&l);
}
END_TEST

/* The gangs' figures count the jobs of more than one worker and nothing else: with fill
 * (2 x 8, x) and big (2 x 8, y) the only gangs, their average and longest wait are those of
 * namespaces x and y, whatever small (one worker, z) waited. */
START_TEST(gang_waits_count_only_multi_worker_jobs)
{
    struct whatif_layout *l = layout_text(two_clusters);
    struct whatif_jobs *j = jobs_text(l, fill_big_small);
    struct whatif_opts o;
    struct whatif_report *fifo;
    double x, y;

    whatif_opts_defaults(&o, test_policy());
    fifo = run(l, j, WHATIF_FIFO, &o);
    x = ns_wait(fifo, "x");
    y = ns_wait(fifo, "y");
    /* big waits for fill's two hours; small waits behind big, about as long. */
    ck_assert(y >= 6900 && ns_wait(fifo, "z") >= 6900);
    ck_assert_uint_eq(fifo->gangs, 2);
    ck_assert_msg(fabs(fifo->gang_avg_wait_s - (x + y) / 2) < 1e-6, "gang wait %.0f s, want %.0f s",
                  fifo->gang_avg_wait_s, (x + y) / 2);
    ck_assert(fifo->gang_max_wait_s == (x > y ? x : y));
    whatif_report_free(&fifo);
    whatif_jobs_free(&j);
    whatif_layout_free(&l);
}
END_TEST

/* The running placements reach the policy with their node plans, as the scheduler passes
 * them, so priority preemption works in the simulator: lo (priority 0, preemptible,
 * checkpoints every 600 s) fills the one node; hi (priority 100) arrives at 1200 s, past
 * preempt_min_runtime_s, and starts one cycle and a grace period later instead of waiting
 * the hour lo has left. lo loses the work since its checkpoint at 1200 s and finishes
 * later. */
START_TEST(priority_preemption_runs_on_plans)
{
    struct whatif_layout *l =
        layout_text("{\"clusters\":[{\"name\":\"a\",\"pools\":[{\"sku\":\"v100\",\"nodes\":1}]}]}");
    struct whatif_jobs *j = jobs_text(
        l, "{\"jobs\":[{\"name\":\"lo\",\"namespace\":\"lo\",\"arrival_s\":0,\"gpus\":8,"
           "\"skus\":[\"v100\"],\"duration_s\":[5400],\"priority\":0,\"preemptible\":true,"
           "\"checkpoint_s\":600},"
           "{\"name\":\"hi\",\"namespace\":\"hi\",\"arrival_s\":1200,\"gpus\":8,"
           "\"skus\":[\"v100\"],\"duration_s\":[600],\"priority\":100}]}");
    struct whatif_opts o;
    struct whatif_report *r;

    whatif_opts_defaults(&o, test_policy());
    r = run(l, j, WHATIF_OURS_NO_BORROW, &o);
    ck_assert_uint_eq(r->reclaims_priority, 1);
    ck_assert_uint_eq(r->reclaims, 1);
    ck_assert_msg(ns_wait(r, "hi") <= 60 + 30, "hi waited %.0f s", ns_wait(r, "hi"));
    /* lo ran 1200 to 1230 s past its checkpoint: at most 90 s of 8 GPUs lost. */
    ck_assert(r->lost_gpu_hours > 0 && r->lost_gpu_hours <= 90.0 * 8 / 3600);
    ck_assert_uint_eq(r->completed, 2);
    whatif_report_free(&r);
    whatif_jobs_free(&j);
    whatif_layout_free(&l);
}
END_TEST

/* Backfill behind a reservation, then its eviction, with no serving pool anywhere: the
 * work the evicted job loses is lost work, not lost to lending (lending took nothing). */
START_TEST(backfill_evictions_are_not_lending_losses)
{
    struct whatif_layout *l =
        layout_text("{\"clusters\":[{\"name\":\"a\",\"pools\":[{\"sku\":\"v100\",\"nodes\":2}]}]}");
    struct whatif_jobs *j = jobs_text(
        l, "{\"jobs\":[{\"name\":\"hold\",\"namespace\":\"hold\",\"arrival_s\":0,\"gpus\":8,"
           "\"skus\":[\"v100\"],\"duration_s\":[7200]},"
           "{\"name\":\"big\",\"namespace\":\"big\",\"arrival_s\":60,\"gpus\":16,"
           "\"gpus_per_worker\":8,\"skus\":[\"v100\"],\"duration_s\":[3600]},"
           "{\"name\":\"fill\",\"namespace\":\"fill\",\"arrival_s\":120,\"gpus\":4,"
           "\"skus\":[\"v100\"],\"duration_s\":[20000],\"preemptible\":true,"
           "\"checkpoint_s\":600}]}");
    struct whatif_opts o;
    struct whatif_report *r;

    whatif_opts_defaults(&o, test_policy());
    r = run(l, j, WHATIF_OURS_NO_BORROW, &o);
    ck_assert_uint_eq(r->reclaims_backfill, 1);
    ck_assert_uint_eq(r->reclaims, 1);
    /* fill ran from about 120 s to 7200 s: up to its last checkpoint's 600 s of 4 GPUs lost. */
    ck_assert_msg(r->lost_gpu_hours > 0 && r->lost_gpu_hours <= 4 * 660.0 / 3600, "lost %.3f",
                  r->lost_gpu_hours);
    ck_assert_msg(r->lost_lending_gpu_hours == 0, "lost to lending %.3f",
                  r->lost_lending_gpu_hours);
    ck_assert_msg(ns_wait(r, "big") <= 7200 + 120, "big waited %.0f s", ns_wait(r, "big"));
    ck_assert_uint_eq(r->completed, 3);
    whatif_report_free(&r);
    whatif_jobs_free(&j);
    whatif_layout_free(&l);
}
END_TEST

/* Work done counts each job's progress by the window's end at its fastest SKU: a job on a
 * SKU four times slower holds four GPU-hours for each one of work. */
START_TEST(work_counts_progress_at_the_fastest_sku)
{
    struct whatif_layout *l =
        layout_text("{\"clusters\":[{\"name\":\"a\",\"pools\":[{\"sku\":\"v100\",\"nodes\":1},"
                    "{\"sku\":\"k80\",\"nodes\":1}]}]}");
    struct whatif_jobs *j = jobs_text(
        l, "{\"jobs\":[{\"name\":\"hog\",\"namespace\":\"hog\",\"arrival_s\":0,\"gpus\":8,"
           "\"skus\":[\"v100\"],\"duration_s\":[100000]},"
           "{\"name\":\"slow\",\"namespace\":\"slow\",\"arrival_s\":0,\"gpus\":8,"
           "\"skus\":[\"v100\",\"k80\"],\"duration_s\":[3600,14400]}]}");
    struct whatif_opts o;
    struct whatif_report *r;

    whatif_opts_defaults(&o, test_policy());
    o.window_s = 7200;
    r = run(l, j, WHATIF_MOST_FREE, &o);
    /* hog: 7,200 of 100,000 s of 8 GPUs, 16 GPU-hours of work; slow on k80: half of its
     * 14,400 s, worth 1,800 s of 8 v100s, 4 GPU-hours. GPU-time held: 32 GPU-hours. */
    ck_assert_msg(fabs(r->work_gpu_hours - 20.0) < 0.01, "work %.3f GPU-hours", r->work_gpu_hours);
    ck_assert_msg(fabs(r->training_util - 1.0) < 0.01, "util %.3f", r->training_util);
    whatif_report_free(&r);
    whatif_jobs_free(&j);
    whatif_layout_free(&l);
}
END_TEST

/* Idle while work waited: "big" (8 V100s, V100 only) waits the whole hour behind "fill" (4
 * of the node's 8 V100s), so 4 V100s sit free with a job queued for them: 4 GPU-hours. The
 * K80 node is free too, but nothing queued accepts a K80. When big also accepts the K80 it
 * starts there at once and nothing waits. */
START_TEST(idle_counts_only_gpus_a_queued_job_would_take)
{
    struct whatif_layout *l =
        layout_text("{\"clusters\":[{\"name\":\"a\",\"pools\":[{\"sku\":\"v100\",\"nodes\":1},"
                    "{\"sku\":\"k80\",\"nodes\":1}]}]}");
    static const char *const fmt =
        "{\"jobs\":[{\"name\":\"fill\",\"namespace\":\"x\",\"arrival_s\":0,\"gpus\":4,"
        "\"skus\":[\"v100\"],\"duration_s\":[7200]},"
        "{\"name\":\"big\",\"namespace\":\"y\",\"arrival_s\":0,\"gpus\":8,"
        "\"skus\":[%s],\"duration_s\":[%s]}]}";
    char text[600];
    struct whatif_jobs *j;
    struct whatif_opts o;
    struct whatif_report *r;

    whatif_opts_defaults(&o, test_policy());
    o.window_s = 3600;
    snprintf(text, sizeof(text), fmt, "\"v100\"", "3600");
    j = jobs_text(l, text);
    r = run(l, j, WHATIF_MOST_FREE, &o);
    ck_assert_msg(fabs(r->idle_queued_gpu_hours - 4.0) < 0.1, "idle while queued %.3f GPU-hours",
                  r->idle_queued_gpu_hours);
    ck_assert_msg(fabs(r->training_util - 0.25) < 0.01, "util %.3f", r->training_util);
    whatif_report_free(&r);
    whatif_jobs_free(&j);
    snprintf(text, sizeof(text), fmt, "\"v100\",\"k80\"", "3600,7200");
    j = jobs_text(l, text);
    r = run(l, j, WHATIF_MOST_FREE, &o);
    ck_assert_msg(r->idle_queued_gpu_hours < 0.01, "idle while queued %.3f GPU-hours",
                  r->idle_queued_gpu_hours);
    ck_assert_msg(fabs(r->training_util - 0.75) < 0.01, "util %.3f", r->training_util);
    whatif_report_free(&r);
    whatif_jobs_free(&j);
    whatif_layout_free(&l);
}
END_TEST

/* Cost per unit of work: a job 10x slower on a K80 at 0.45 per GPU-hour than on a V100 at
 * 2.48 goes to the K80 when priced per GPU-hour, and to the V100 when it declares its
 * throughputs (4.5 per V100-hour of work on the K80). Work done in the first hour tells
 * where it ran: 8 GPU-hours on the V100, a tenth of that on the K80. */
START_TEST(declared_throughput_prices_work)
{
    struct whatif_layout *l = layout_text(
        "{\"clusters\":[{\"name\":\"a\",\"cost_per_gpu_hour\":{\"v100\":2.48,\"k80\":0.45},"
        "\"pools\":[{\"sku\":\"v100\",\"nodes\":1},{\"sku\":\"k80\",\"nodes\":1}]}]}");
    struct whatif_jobs *j =
        jobs_text(l, "{\"jobs\":[{\"name\":\"slow\",\"namespace\":\"x\",\"arrival_s\":0,"
                     "\"gpus\":8,\"skus\":[\"v100\",\"k80\"],\"duration_s\":[3600,36000]}]}");
    struct whatif_opts o;
    struct whatif_report *r;

    whatif_opts_defaults(&o, test_policy());
    o.window_s = 3600;
    r = run(l, j, WHATIF_OURS, &o);
    ck_assert_msg(fabs(r->work_gpu_hours - 0.8) < 0.05, "undeclared: work %.3f GPU-hours",
                  r->work_gpu_hours);
    whatif_report_free(&r);
    o.declared_throughput = true;
    r = run(l, j, WHATIF_OURS, &o);
    ck_assert_msg(fabs(r->work_gpu_hours - 8.0) < 0.2, "declared: work %.3f GPU-hours",
                  r->work_gpu_hours);
    whatif_report_free(&r);
    whatif_jobs_free(&j);
    whatif_layout_free(&l);
}
END_TEST

/* Queue ETAs against actual starts: one 8-GPU node busy for 2 h, two 8-GPU jobs behind.
 * Told the true runtimes the estimates are exact; from history (none finished yet: the
 * 4 h default) they are 2 h and 5 h late. Baselines measure nothing. */
START_TEST(eta_estimates_against_actual_starts)
{
    struct whatif_layout *l =
        layout_text("{\"clusters\":[{\"name\":\"a\",\"pools\":[{\"sku\":\"v100\",\"nodes\":1}]}]}");
    struct whatif_jobs *j =
        jobs_text(l, "{\"jobs\":[{\"name\":\"fill\",\"namespace\":\"x\",\"arrival_s\":0,\"gpus\":8,"
                     "\"skus\":[\"v100\"],\"duration_s\":[7200]},"
                     "{\"name\":\"next\",\"namespace\":\"y\",\"arrival_s\":100,\"gpus\":8,"
                     "\"skus\":[\"v100\"],\"duration_s\":[3600]},"
                     "{\"name\":\"last\",\"namespace\":\"y\",\"arrival_s\":200,\"gpus\":8,"
                     "\"skus\":[\"v100\"],\"duration_s\":[1800]}]}");
    struct whatif_opts o;
    struct whatif_report *r;
    struct buf b;

    whatif_opts_defaults(&o, test_policy());
    o.eta = WHATIF_ETA_ORACLE;
    r = run(l, j, WHATIF_OURS, &o);
    ck_assert_int_eq(r->eta_mode, WHATIF_ETA_ORACLE);
    ck_assert_uint_eq(r->eta.estimated, 3);
    ck_assert_uint_eq(r->eta.measured, 3);
    ck_assert_uint_eq(r->eta.waited, 2);
    ck_assert_uint_eq(r->eta.no_estimate, 0);
    ck_assert_double_eq_tol(r->eta.p90_abs_h, 0, 1e-9);
    whatif_report_free(&r);

    o.eta = WHATIF_ETA_HISTORY;
    r = run(l, j, WHATIF_OURS, &o);
    ck_assert_uint_eq(r->eta.measured, 3);
    ck_assert_double_eq_tol(r->eta.p50_abs_h, 2, 1e-6);
    ck_assert_double_eq_tol(r->eta.p90_abs_h, 5, 1e-6);
    ck_assert_double_eq_tol(r->eta.p50_signed_h, 2, 1e-6);
    /* last, estimated at the 240 s cycle: 5 h late on a wait of 10,560 s */
    ck_assert_double_eq_tol(r->eta.p90_rel, 18000.0 / 10560.0, 1e-9);
    buf_init(&b, 0);
    ck_assert_int_eq(whatif_reports_json(l, &r, 1, &b), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "\"eta\":{\"mode\":\"history\",\"estimated\":3"));
    buf_free(&b);
    whatif_report_free(&r);

    r = run(l, j, WHATIF_FIFO, &o);
    ck_assert_int_eq(r->eta_mode, WHATIF_ETA_OFF);
    ck_assert_uint_eq(r->eta.estimated, 0);
    whatif_report_free(&r);
    whatif_jobs_free(&j);
    whatif_layout_free(&l);
}
END_TEST

static double pool_util(const struct whatif_report *r, int cluster)
{
    for (size_t i = 0; i < r->n_pools; i++)
        if (r->pools[i].cluster == cluster)
            return r->pools[i].util;
    return -1;
}

START_TEST(most_free_and_ordered_first_fit_pick_clusters)
{
    struct whatif_layout *l = layout_text(two_clusters);
    struct whatif_jobs *j =
        jobs_text(l, "{\"jobs\":[{\"arrival_s\":0,\"gpus\":4,\"skus\":[\"v100\"],"
                     "\"duration_s\":[3600]},{\"arrival_s\":3600,\"gpus\":1,"
                     "\"skus\":[\"v100\"],\"duration_s\":[60]}]}");
    struct whatif_opts o;
    struct whatif_report *mf, *of;

    whatif_opts_defaults(&o, test_policy());
    mf = run(l, j, WHATIF_MOST_FREE, &o);
    of = run(l, j, WHATIF_ORDERED_FIRST_FIT, &o);
    /* Most free: b has 16 free GPUs against a's 8. Ordered: a is first in the layout. */
    ck_assert(pool_util(mf, 1) > 0 && pool_util(mf, 0) == 0);
    ck_assert(pool_util(of, 0) > 0 && pool_util(of, 1) == 0);
    whatif_report_free(&mf);
    whatif_report_free(&of);
    whatif_jobs_free(&j);
    whatif_layout_free(&l);
}
END_TEST

/* ---- inputs ---------------------------------------------------------------------------------- */

static struct err layout_fails(const char *json)
{
    struct whatif_layout *l = NULL;
    struct err e = {0};

    ck_assert_int_eq(whatif_layout_parse(json, strlen(json), "t", &l, &e), -1);
    ck_assert_ptr_null(l);
    return e;
}

START_TEST(layout_errors_name_the_field)
{
    struct err e;

    e = layout_fails("{\"clusters\":[]}");
    ck_assert_str_eq(e.field, "clusters");
    e = layout_fails(
        "{\"clusters\":[{\"name\":\"a\",\"pools\":[{\"sku\":\"v100\",\"nodes\":-1}]}]}");
    ck_assert_str_eq(e.field, "clusters[0].pools[0].nodes");
    e = layout_fails("{\"clusters\":[{\"name\":\"a\",\"pools\":[{\"pool\":\"gpu\",\"sku\":\"v\","
                     "\"nodes\":1}]}]}");
    ck_assert_str_eq(e.field, "clusters[0].pools[0].pool");
    e = layout_fails("{\"clusters\":[{\"name\":\"a\",\"pools\":[{\"sku\":\"v\",\"nodes\":1}]},"
                     "{\"name\":\"a\",\"pools\":[{\"sku\":\"v\",\"nodes\":1}]}]}");
    ck_assert_str_eq(e.field, "clusters[1].name");
    e = layout_fails("{\"clusters\":[{\"name\":\"a\",\"pools\":[{\"sku\":\"v\",\"nodes\":1}],"
                     "\"serving\":{\"windows\":[{\"start\":\"25:00\",\"end\":\"08:00\"}]}}]}");
    ck_assert_str_eq(e.field, "clusters[0].serving.windows[0].start");
    e = layout_fails("{\"clusters\":[{\"name\":\"a\",\"pools\":[{\"sku\":\"v\",\"nodes\":1}],"
                     "\"serving\":{\"demand\":[{\"sku\":\"v\",\"hourly\":[0.5]}]}}]}");
    ck_assert_str_eq(e.field, "clusters[0].serving.demand[0].hourly");
    e = layout_fails("{\"start\":\"yesterday\",\"clusters\":[{\"name\":\"a\",\"pools\":[]}]}");
    ck_assert_str_eq(e.field, "start");
    e = layout_fails("{\"clusters\":");
    ck_assert_int_eq(e.code, ERR_MALFORMED);
}
END_TEST

START_TEST(demand_follows_local_time)
{
    /* Peak at 14:00 local in UTC-5 (winter): 19:00 UTC. */
    struct whatif_layout *l = layout_text(
        "{\"start\":\"2026-01-05T00:00:00Z\",\"clusters\":[{\"name\":\"e\",\"tz\":"
        "\"EST5EDT,M3.2.0,M11.1.0\",\"pools\":[{\"pool\":\"serving\",\"sku\":\"v\",\"nodes\":1}],"
        "\"serving\":{\"demand\":[{\"sku\":\"v\",\"min\":0.2,\"max\":0.8,\"peak_hour\":14}]}}]}");

    ck_assert(fabs(whatif_demand_share(l, 0, 0, 19 * 3600.0) - 0.8) < 1e-9);
    ck_assert(fabs(whatif_demand_share(l, 0, 0, 7 * 3600.0) - 0.2) < 1e-9);
    ck_assert(fabs(whatif_demand_share(l, 0, 0, 13 * 3600.0) - 0.5) < 1e-9);
    whatif_layout_free(&l);
}
END_TEST

START_TEST(split_deals_nodes_into_clusters)
{
    char *p = path_of("testdata/traces/openb_node_list_smoke.csv");
    struct trace_openb_node *nodes = NULL;
    size_t n = 0;
    struct whatif_split s;
    struct whatif_layout *l = NULL;
    struct err e = {0};
    int total = 0, gpus = 0, serving;

    ck_assert_int_eq(trace_openb_nodes_load(p, &nodes, &n, NULL), 0);
    whatif_split_defaults(&s);
    s.clusters = 2;
    s.serving_share = 0.25;
    ck_assert_msg(whatif_layout_split(nodes, n, &s, &l, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(l->n_clusters, 2);
    ck_assert_str_eq(l->clusters[1].name, "c2");
    ck_assert_int_ge(whatif_layout_sku(l, "g2"), 0);
    for (size_t i = 0; i < n; i++)
        total += nodes[i].gpus;
    gpus = whatif_layout_gpus(l, SNAPSHOT_POOL_TRAINING) +
           whatif_layout_gpus(l, SNAPSHOT_POOL_SERVING);
    ck_assert_int_eq(gpus, total);
    serving = whatif_layout_gpus(l, SNAPSHOT_POOL_SERVING);
    ck_assert_msg(serving > total / 6 && serving < total / 3, "serving %d of %d", serving, total);
    ck_assert(l->clusters[0].serving.present);
    ck_assert_int_eq(l->clusters[0].serving.windows[0].start_min, 20 * 60);
    ck_assert_uint_gt(l->clusters[0].n_demand, 0);
    whatif_layout_free(&l);
    s.serving_share = 1.5;
    ck_assert_int_eq(whatif_layout_split(nodes, n, &s, &l, &e), -1);
    ck_assert_str_eq(e.field, "split.serving_share");
    free(nodes);
    free(p);
}
END_TEST

START_TEST(job_file_errors_name_the_field)
{
    struct whatif_layout *l = layout_text(two_clusters);
    struct whatif_jobs *j = NULL;
    struct err e = {0};
    const char *bad1 =
        "{\"jobs\":[{\"arrival_s\":0,\"gpus\":4,\"skus\":[\"a100\"],\"duration_s\":[1]}]}";
    const char *bad2 = "{\"jobs\":[{\"arrival_s\":0,\"gpus\":6,\"gpus_per_worker\":4,"
                       "\"skus\":[\"v100\"],\"duration_s\":[1]}]}";

    ck_assert_int_eq(whatif_jobs_parse(bad1, strlen(bad1), "j", l, &j, &e), -1);
    ck_assert_str_eq(e.field, "jobs[0].skus");
    ck_assert_int_eq(whatif_jobs_parse(bad2, strlen(bad2), "j", l, &j, &e), -1);
    ck_assert_str_eq(e.field, "jobs[0].gpus_per_worker");
    ck_assert_ptr_null(j);
    whatif_layout_free(&l);
}
END_TEST

START_TEST(policy_knobs)
{
    struct policy_config c;
    struct err e = {0};
    const char *ok =
        "{\"reclaim_k\":5,\"w_fit\":2.5,\"place_on_degraded\":false,\"grace_period_s\":60}";
    const char *unknown = "{\"reclaim_kk\":5}";
    const char *type = "{\"reclaim_k\":2.5}";

    defaults_policy(&c);
    ck_assert_int_eq(whatif_policy_parse(ok, strlen(ok), "p", &c, &e), 0);
    ck_assert_int_eq(c.reclaim_k, 5);
    ck_assert(c.w_fit == 2.5);
    ck_assert(!c.place_on_degraded);
    ck_assert_int_eq(c.grace_period_s, 60);
    ck_assert_int_eq(whatif_policy_parse(unknown, strlen(unknown), "p", &c, &e), -1);
    ck_assert_str_eq(e.field, "reclaim_kk");
    ck_assert_int_eq(whatif_policy_parse(type, strlen(type), "p", &c, &e), -1);
    ck_assert_str_eq(e.field, "reclaim_k");
    ck_assert_int_eq(c.reclaim_k, 5); /* untouched on failure */
}
END_TEST

START_TEST(reclaim_bound_follows_the_config)
{
    struct whatif_opts o;

    whatif_opts_defaults(&o, test_policy());
    /* max(max(1, ceil(5 / 60) + 1) x 60, 600) + 60 + 30 */
    ck_assert(whatif_reclaim_bound_s(&o) == 690);
    o.cfg.min_runtime_s = 0;
    o.cfg.grace_period_s = 5000; /* clamped to grace_period_max_s 300 */
    ck_assert(whatif_reclaim_bound_s(&o) == 120 + 60 + 300);
    o.cfg.reclaim_k = 3; /* three snapshots: three cycles */
    ck_assert(whatif_reclaim_bound_s(&o) == 180 + 60 + 300);
    o.cfg.reclaim_k = 1;
    o.cfg.reclaim_settle_s = 150; /* the settle time: ceil(150 / 60) + 1 cycles */
    ck_assert(whatif_reclaim_bound_s(&o) == 240 + 60 + 300);
}
END_TEST

START_TEST(command_line_end_to_end)
{
    char *layout = path_of("testdata/whatif/small-layout.json");
    char *jobs = path_of("testdata/whatif/small-jobs.json");
    char out[] = "/tmp/test_whatif_XXXXXX";
    int fd = mkstemp(out);
    char *help[] = {"simulate", "--help", NULL};
    char *none[] = {"simulate", NULL};
    char *bad[] = {"simulate", "--layout", "/nonexistent.json", "--jobs", jobs, NULL};
    char *ok[] = {"simulate", "--layout",        layout, "--jobs", jobs, "--json",
                  out,        "--per-namespace", NULL};
    json_error_t je;
    json_t *doc;

    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(whatif_main(2, help, test_policy()), 0);
    ck_assert_int_eq(whatif_main(1, none, test_policy()), 2);
    ck_assert_int_eq(whatif_main(5, bad, test_policy()), 1);
    ck_assert_int_eq(whatif_main(8, ok, test_policy()), 0);
    doc = json_load_file(out, 0, &je);
    ck_assert_msg(doc != NULL, "%s", je.text);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "runs")), WHATIF_SCHED_DEFAULT);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(doc, "runs"), 0), "scheduler")),
                     "ours");
    ck_assert(
        json_is_integer(json_object_get(json_array_get(json_object_get(doc, "runs"), 0), "gangs")));
    ck_assert(json_is_number(
        json_object_get(json_array_get(json_object_get(doc, "runs"), 0), "gang_max_wait_s")));
    json_decref(doc);
    unlink(out);
    free(layout);
    free(jobs);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("whatif");
    TCase *run_tc = tcase_create("run");
    TCase *in_tc = tcase_create("inputs");
    SRunner *sr;
    int failed;

    tcase_set_timeout(run_tc, 60);
    tcase_add_test(run_tc, short_run_is_deterministic);
    tcase_add_test(run_tc, seed_changes_the_run);
    tcase_add_test(run_tc, borrowing_raises_use_and_cuts_waiting);
    tcase_add_test(run_tc, reclaims_lose_only_work_since_the_checkpoint);
    tcase_add_test(run_tc, fifo_blocks_behind_its_head_others_skip);
    tcase_add_test(run_tc, gang_waits_count_only_multi_worker_jobs);
    tcase_add_test(run_tc, priority_preemption_runs_on_plans);
    tcase_add_test(run_tc, backfill_evictions_are_not_lending_losses);
    tcase_add_test(run_tc, work_counts_progress_at_the_fastest_sku);
    tcase_add_test(run_tc, idle_counts_only_gpus_a_queued_job_would_take);
    tcase_add_test(run_tc, declared_throughput_prices_work);
    tcase_add_test(run_tc, most_free_and_ordered_first_fit_pick_clusters);
    tcase_add_test(in_tc, layout_errors_name_the_field);
    tcase_add_test(in_tc, demand_follows_local_time);
    tcase_add_test(in_tc, split_deals_nodes_into_clusters);
    tcase_add_test(in_tc, job_file_errors_name_the_field);
    tcase_add_test(in_tc, policy_knobs);
    tcase_add_test(in_tc, reclaim_bound_follows_the_config);
    tcase_add_test(in_tc, eta_estimates_against_actual_starts);
    tcase_add_test(run_tc, command_line_end_to_end);
    suite_add_tcase(s, run_tc);
    suite_add_tcase(s, in_tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
