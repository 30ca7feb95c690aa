/* test_whatif_serving.c -- serving demand from real traces in `fedsched simulate`: the openb
 * LS pods' demand equals a hand count, the Azure rule gives the documented replicas, the
 * trace is read in local time and repeats, serving pods wait only when the pool is short,
 * a checkpoint-first victim keeps its work when it checkpoints in time and not when it does
 * not, and --lending-compare runs the four lending policies in order. */
#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "policy/policy.h"
#include "whatif/serving.h"
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

#define S 1000LL

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

static struct whatif_serving *openb_small(double start_s, double length_s)
{
    char *p = path_of("testdata/whatif/openb-ls-small.csv");
    struct trace_openb_pod *pods = NULL;
    struct whatif_serving *sv = NULL;
    size_t n = 0;
    struct err e = {0};

    ck_assert_msg(trace_openb_pods_load(p, &pods, &n, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(n, 7);
    ck_assert_msg(whatif_serving_openb(pods, n, start_s, length_s, &sv, &e) == 0, "%s", e.msg);
    free(pods);
    free(p);
    return sv;
}

/* GPUs the pods want at t_ms, counted from the pod list. */
static int pods_at(const struct whatif_spod *v, size_t n, int64_t t_ms)
{
    int g = 0;

    for (size_t i = 0; i < n; i++)
        if (v[i].arrive_ms <= t_ms && t_ms < v[i].leave_ms)
            g += v[i].gpus;
    return g;
}

/* testdata/whatif/openb-ls-small.csv over [1000, 11000) s: LS pods with GPUs a [0, 7200)
 * 1 GPU, b [1800, 5400) 460 milli = 1, e [3600, 10800) 4, f [9000, 12600) 2, g [300, 1200)
 * 650 milli = 1; the BE pod and the LS pod without GPUs are not serving demand. */
START_TEST(openb_ls_demand_is_a_hand_count)
{
    struct whatif_serving *sv = openb_small(1000, 10000);
    struct whatif_spod *v = NULL;
    size_t n = 0;

    ck_assert_uint_eq(sv->n_pods, 5);
    ck_assert_int_eq(sv->period_ms, 10000 * S);
    ck_assert_int_eq(whatif_serving_at(sv, 100 * S), 2);  /* a, g */
    ck_assert_int_eq(whatif_serving_at(sv, 1000 * S), 2); /* a, b */
    ck_assert_int_eq(whatif_serving_at(sv, 3000 * S), 6); /* a, b, e */
    ck_assert_int_eq(whatif_serving_at(sv, 7000 * S), 4); /* e */
    ck_assert_int_eq(whatif_serving_at(sv, 9000 * S), 6); /* e, f */
    ck_assert_int_eq(whatif_serving_at(sv, 9900 * S), 2); /* f, clipped at the window's end */
    ck_assert_int_eq(sv->peak_gpus, 6);
    /* 6200 + 3600 + 4 x 7200 + 2 x 2000 + 200 GPU-seconds */
    ck_assert(fabs(sv->gpu_hours - 42800.0 / 3600.0) < 1e-9);
    /* Simulated time t is trace time t + 2000 s, and the window repeats. */
    ck_assert_int_eq(whatif_serving_pods(sv, 2000 * S, 30000 * S, &v, &n, NULL), 0);
    ck_assert_int_eq(pods_at(v, n, 1000 * S), 6);  /* trace 3000 */
    ck_assert_int_eq(pods_at(v, n, 8500 * S), 1);  /* trace 500 of the second period: a */
    ck_assert_int_eq(pods_at(v, n, 0), 2);         /* trace 2000: a, b, alive at 0 */
    ck_assert_int_eq(pods_at(v, n, 27500 * S), 6); /* trace 9500 of the third: e, f */
    for (int64_t t = 0; t < 30000 * S; t += 50 * S)
        ck_assert_int_eq(pods_at(v, n, t), whatif_serving_at(sv, t + 2000 * S));
    for (size_t i = 1; i < n; i++)
        ck_assert_int_le(v[i - 1].arrive_ms, v[i].arrive_ms);
    free(v);
    whatif_serving_free(&sv);
    ck_assert_ptr_null(sv);
    {
        char *p = path_of("testdata/whatif/openb-ls-small.csv");
        struct trace_openb_pod *pods = NULL;
        struct err e = {0};

        ck_assert_int_eq(trace_openb_pods_load(p, &pods, &n, NULL), 0);
        ck_assert_int_eq(whatif_serving_openb(pods, n, 20000, 1000, &sv, &e), -1);
        ck_assert_str_eq(e.field, "serving_start_s");
        free(pods);
        free(p);
    }
}
END_TEST

static struct whatif_serving *azure_conv(struct whatif_azure_minute **rows, size_t *n)
{
    char *p = path_of("testdata/whatif/azure-llm-conv-2023.csv"), *text = NULL;
    struct whatif_azure_rule r;
    struct whatif_serving *sv = NULL;
    size_t len = 0;
    struct err e = {0};

    ck_assert_msg(trace_read_file(p, &text, &len, &e) == 0, "%s", e.msg);
    ck_assert_msg(whatif_azure_parse(text, len, p, rows, n, &e) == 0, "%s", e.msg);
    whatif_azure_rule_defaults(&r);
    ck_assert_msg(whatif_serving_azure(*rows, *n, &r, "conv", &sv, &e) == 0, "%s", e.msg);
    free(text);
    free(p);
    return sv;
}

/* The rule of docs/simulation.md on the reduced conversation trace (60 minutes). */
START_TEST(azure_rule_gives_the_documented_replicas)
{
    struct whatif_azure_minute *rows = NULL;
    size_t n = 0;
    struct whatif_serving *sv = azure_conv(&rows, &n);
    struct whatif_azure_rule r;

    whatif_azure_rule_defaults(&r);
    ck_assert_uint_eq(n, 60);
    ck_assert_int_eq(rows[1].requests, 236);
    /* Minute 0: 11737 / 60 / 800 + 1826 / 60 / 40 = 1.005 replicas busy, / 0.8 -> 2. */
    ck_assert_int_eq(whatif_azure_replicas(&r, &rows[0], 1.0), 2);
    /* Minute 1: 220337 / 60 / 800 + 61283 / 60 / 40 = 30.13, / 0.8 = 37.7 -> 38. */
    ck_assert_int_eq(whatif_azure_replicas(&r, &rows[1], 1.0), 38);
    ck_assert_int_eq(whatif_azure_replicas(&r, &rows[1], 0.5), 19); /* 18.8 -> 19 */
    /* The diurnal factor: 1 at 14:00, the night's 0.25 at 02:00, x 0.6 at weekends. */
    ck_assert(fabs(whatif_azure_factor(&r, 14 * 60) - 1.0) < 1e-12);
    ck_assert(fabs(whatif_azure_factor(&r, 2 * 60) - 0.25) < 1e-12);
    ck_assert(fabs(whatif_azure_factor(&r, 5 * 1440 + 14 * 60) - 0.6) < 1e-12);
    ck_assert(fabs(whatif_azure_factor(&r, 4 * 1440 + 14 * 60) - 1.0) < 1e-12);
    /* Monday 14:00 (minute 840, hour 14): minutes 835..840 replay trace minutes 36..40 and
     * 58 ((m + 17 x 14) mod 60), whose replicas are 47, 41, 46, 45, 45, 34; the scale-down
     * window keeps the highest: 47. At 14:03: 45, 45, 34, 2, 2, 38 -> 45. */
    ck_assert_int_eq(sv->curve[840], 47);
    ck_assert_int_eq(sv->curve[843], 45);
    /* 02:00: 12, 13, 13, 13, 13, 11 at a quarter of the load -> 13; Saturday 14:00 -> 28. */
    ck_assert_int_eq(sv->curve[120], 13);
    ck_assert_int_eq(sv->curve[5 * 1440 + 840], 28);
    ck_assert_int_eq(whatif_serving_at(sv, 840 * 60 * S + 59 * S), 47);
    ck_assert_int_eq(whatif_serving_at(sv, WHATIF_WEEK_MS + 840 * 60 * S), 47); /* repeats */
    whatif_serving_free(&sv);
    /* Two GPUs a replica double every figure. */
    r.gpus_per_replica = 2;
    ck_assert_int_eq(whatif_serving_azure(rows, n, &r, "conv", &sv, NULL), 0);
    ck_assert_int_eq(sv->curve[840], 94);
    whatif_serving_free(&sv);
    r.target_util = 1.5;
    ck_assert_int_eq(whatif_serving_azure(rows, n, &r, "conv", &sv, NULL), -1);
    free(rows);
}
END_TEST

START_TEST(azure_file_errors)
{
    struct whatif_azure_minute *rows = NULL;
    size_t n = 0;
    struct err e = {0};
    const char *hdr = "# c\nminute,requests,context_tokens,generated_tokens\n";
    char *gap = xasprintf("%s0,1,2,3\n2,1,2,3\n", hdr), *bad = xasprintf("%s0,1,x,3\n", hdr);
    char *few = xasprintf("%s0,1,2\n", hdr);

    ck_assert_int_eq(whatif_azure_parse(gap, strlen(gap), "g", &rows, &n, &e), -1);
    ck_assert_str_eq(e.field, "minute");
    ck_assert_int_eq(whatif_azure_parse(bad, strlen(bad), "b", &rows, &n, &e), -1);
    ck_assert_str_eq(e.field, "row");
    ck_assert_int_eq(whatif_azure_parse(few, strlen(few), "f", &rows, &n, &e), -1);
    ck_assert_str_eq(e.field, "row");
    ck_assert_int_eq(whatif_azure_parse("x\n", 2, "h", &rows, &n, &e), -1);
    ck_assert_str_eq(e.field, "header");
    ck_assert_int_eq(whatif_azure_parse(hdr, strlen(hdr), "e", &rows, &n, &e), -1);
    ck_assert_str_eq(e.field, "minute");
    free(gap);
    free(bad);
    free(few);
}
END_TEST

/* A curve of constant GPUs, repeating every week. */
static struct whatif_serving *flat(int gpus)
{
    struct whatif_serving *sv = xcalloc(1, sizeof(*sv));

    snprintf(sv->what, sizeof(sv->what), "flat");
    sv->period_ms = WHATIF_WEEK_MS;
    sv->n_curve = WHATIF_WEEK_MIN;
    sv->curve = xcalloc(WHATIF_WEEK_MIN, sizeof(int));
    for (size_t m = 0; m < WHATIF_WEEK_MIN; m++)
        sv->curve[m] = gpus;
    sv->peak_gpus = gpus;
    return sv;
}

/* One cluster in UTC with a 16-GPU serving pool lending all day, and 8 GPUs of training. */
static const char *one_cluster =
    "{\"start\":\"2026-01-05T00:00:00Z\",\"skus\":[\"v100\"],\"clusters\":[{\"name\":\"c\","
    "\"region\":\"r\",\"tz\":\"\",\"cost_per_gpu_hour\":{\"v100\":1},\"pools\":["
    "{\"pool\":\"training\",\"sku\":\"v100\",\"nodes\":1,\"gpus_per_node\":8},"
    "{\"pool\":\"serving\",\"sku\":\"v100\",\"nodes\":2,\"gpus_per_node\":8}],"
    "\"serving\":{\"reserve_gpus\":2,\"lend_policy\":\"window\",\"windows\":[{\"days\":\"all\","
    "\"start\":\"00:00\",\"end\":\"24:00\"}]}}]}";

static const char *two_jobs =
    "{\"jobs\":[{\"name\":\"a\",\"namespace\":\"n\",\"arrival_s\":0,\"gpus\":8,"
    "\"skus\":[\"v100\"],\"duration_s\":[36000],\"preemptible\":true,\"checkpoint_s\":1800},"
    "{\"name\":\"b\",\"namespace\":\"n\",\"arrival_s\":0,\"gpus\":4,\"skus\":[\"v100\"],"
    "\"duration_s\":[36000],\"preemptible\":true,\"checkpoint_s\":1800}]}";

START_TEST(serving_pods_wait_only_when_the_pool_is_short)
{
    struct whatif_layout *l = NULL;
    struct whatif_jobs *j = NULL;
    struct whatif_serving *fit = flat(14), *over = flat(20);
    struct whatif_report *r = NULL;
    struct whatif_opts o;
    struct err e = {0};

    ck_assert_msg(whatif_layout_parse(one_cluster, strlen(one_cluster), "l", &l, &e) == 0, "%s",
                  e.msg);
    ck_assert_msg(whatif_jobs_parse(two_jobs, strlen(two_jobs), "j", l, &j, &e) == 0, "%s", e.msg);
    whatif_opts_defaults(&o, test_policy());
    o.serving = fit;
    /* No lending, 14 of 16 GPUs wanted: every pod gets its GPU at once. */
    ck_assert_msg(whatif_run(l, j, WHATIF_OURS_NO_BORROW, &o, &r, &e) == 0, "%s", e.msg);
    ck_assert(r->unmet_serving_gpu_hours == 0);
    ck_assert_uint_eq(r->spods, 14);
    ck_assert_uint_eq(r->spods_waited, 0);
    ck_assert(r->spod_wait_p99_s == 0);
    ck_assert(r->borrowed_gpu_hours == 0);
    /* 14 GPUs wanted for the whole run */
    ck_assert(fabs(r->serving_wanted_gpu_hours - 14 * r->end_s / 3600) < 1e-6);
    whatif_report_free(&r);
    /* 20 wanted of 16: four pods wait the whole run, the unmet demand is 4 GPUs for it. */
    o.serving = over;
    ck_assert_msg(whatif_run(l, j, WHATIF_OURS_NO_BORROW, &o, &r, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(r->spods, 20);
    ck_assert_uint_eq(r->spods_waited, 4);
    ck_assert(fabs(r->unmet_serving_gpu_hours - 4 * r->end_s / 3600) < 1e-6);
    ck_assert(r->spod_wait_max_s == r->end_s);
    ck_assert(r->spod_waited_p50_s == r->end_s && r->spod_wait_p50_s == 0);
    whatif_report_free(&r);
    /* Lending with 14 wanted: nothing is lendable beyond the reserve, so nothing waits. */
    o.serving = fit;
    for (int s = WHATIF_OURS; s < WHATIF_SCHED_COUNT; s++) {
        if (s == WHATIF_OURS_NO_BORROW || s == WHATIF_FIFO || s == WHATIF_MOST_FREE ||
            s == WHATIF_ORDERED_FIRST_FIT)
            continue;
        ck_assert_msg(whatif_run(l, j, (enum whatif_sched)s, &o, &r, &e) == 0, "%s", e.msg);
        ck_assert(r->unmet_serving_gpu_hours == 0);
        ck_assert(r->borrowed_gpu_hours == 0);
        ck_assert_uint_eq(r->overcommits, 0);
        whatif_report_free(&r);
    }
    whatif_serving_free(&fit);
    whatif_serving_free(&over);
    whatif_jobs_free(&j);
    whatif_layout_free(&l);
}
END_TEST

/* A victim asked at 10,000 s (started at 0, periodic checkpoints every 1,800 s) to checkpoint
 * by 10,120 s, writing one in 60 s, grace 30 s. */
START_TEST(checkpoint_first_victim)
{
    struct whatif_ckpt c;

    whatif_ckpt_first(0, 1800 * S, 10000 * S, 10120 * S, 60 * S, 30 * S, &c);
    ck_assert(c.in_time);
    ck_assert_int_eq(c.delete_ms, 10060 * S);
    ck_assert_int_eq(c.kill_ms, 10090 * S);
    ck_assert_int_eq(c.kept_ms, 10000 * S); /* everything up to the request */
    /* A 200-s write misses the deadline: deleted at it, keeps its last periodic checkpoint
     * (9,000 s) and loses the 1,150 s since. */
    whatif_ckpt_first(0, 1800 * S, 10000 * S, 10120 * S, 200 * S, 30 * S, &c);
    ck_assert(!c.in_time);
    ck_assert_int_eq(c.delete_ms, 10120 * S);
    ck_assert_int_eq(c.kill_ms, 10150 * S);
    ck_assert_int_eq(c.kept_ms, 9000 * S);
    /* Without periodic checkpoints it keeps nothing. */
    whatif_ckpt_first(0, 0, 10000 * S, 10120 * S, 200 * S, 30 * S, &c);
    ck_assert_int_eq(c.kept_ms, 0);
    /* Exactly at the deadline is in time. */
    whatif_ckpt_first(500 * S, 1800 * S, 10000 * S, 10060 * S, 60 * S, 30 * S, &c);
    ck_assert(c.in_time);
    ck_assert_int_eq(c.kept_ms, 9500 * S);
}
END_TEST

/* Serving wants 2 of 16 GPUs, and 14 from 10:00 to 18:00 every day; the forecast has learned
 * two weeks of it. One preemptible 8-GPU job (periodic checkpoints every 1,700 s) borrows
 * from 00:00 on Monday. Proactive reclaim gives its GPUs back before 10:00, checkpoint
 * first: written in 60 s (the deadline is 120 s), it loses only the write and the grace
 * (90 s x 8 GPUs = 0.2 GPU-hours) and serving never waits; a 200-s write misses the
 * deadline and loses the work since its last periodic checkpoint. */
static struct whatif_serving *day_rise(void)
{
    struct whatif_serving *sv = flat(2);

    for (size_t m = 0; m < WHATIF_WEEK_MIN; m++)
        if (m % 1440 >= 600 && m % 1440 < 1080)
            sv->curve[m] = 14;
    sv->peak_gpus = 14;
    return sv;
}

static const char *serving_only =
    "{\"start\":\"2026-01-05T00:00:00Z\",\"skus\":[\"v100\"],\"clusters\":[{\"name\":\"c\","
    "\"region\":\"r\",\"tz\":\"\",\"cost_per_gpu_hour\":{\"v100\":1},\"pools\":["
    "{\"pool\":\"serving\",\"sku\":\"v100\",\"nodes\":2,\"gpus_per_node\":8}],"
    "\"serving\":{\"reserve_gpus\":2,\"lend_policy\":\"window\",\"windows\":[{\"days\":\"all\","
    "\"start\":\"00:00\",\"end\":\"24:00\"}]}}]}";

static const char *one_borrower =
    "{\"jobs\":[{\"name\":\"a\",\"namespace\":\"n\",\"arrival_s\":0,\"gpus\":8,"
    "\"skus\":[\"v100\"],\"duration_s\":[40000],\"preemptible\":true,\"checkpoint_s\":1700}]}";

START_TEST(checkpoint_first_in_the_run)
{
    struct whatif_layout *l = NULL;
    struct whatif_jobs *j = NULL;
    struct whatif_serving *sv = day_rise();
    struct whatif_report *r = NULL;
    struct whatif_opts o;
    struct err e = {0};

    ck_assert_msg(whatif_layout_parse(serving_only, strlen(serving_only), "l", &l, &e) == 0, "%s",
                  e.msg);
    ck_assert_msg(whatif_jobs_parse(one_borrower, strlen(one_borrower), "j", l, &j, &e) == 0, "%s",
                  e.msg);
    whatif_opts_defaults(&o, test_policy());
    o.serving = sv;
    o.forecast_history_s = 14 * 86400;
    ck_assert_msg(whatif_run(l, j, WHATIF_OURS_PROACTIVE, &o, &r, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(r->completed, 1);
    ck_assert_uint_eq(r->reclaims, 1);
    ck_assert_uint_eq(r->reclaims_ahead + r->reclaims_lease_end, 1);
    ck_assert_uint_eq(r->ckpt_asked, 1);
    ck_assert_uint_eq(r->ckpt_in_time, 1);
    ck_assert_msg(fabs(r->lost_lending_gpu_hours - 0.2) < 1e-9, "lost %g",
                  r->lost_lending_gpu_hours);
    ck_assert(r->unmet_serving_gpu_hours == 0);
    ck_assert_uint_eq(r->spods_waited, 0);
    whatif_report_free(&r);
    /* The checkpoint takes longer than the deadline: deleted at it, the work since the last
     * periodic checkpoint is lost (more than the 90 s of an in-time checkpoint). */
    o.checkpoint_write_s = 200;
    ck_assert_msg(whatif_run(l, j, WHATIF_OURS_PROACTIVE, &o, &r, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(r->ckpt_asked, 1);
    ck_assert_uint_eq(r->ckpt_in_time, 0);
    ck_assert_msg(r->lost_lending_gpu_hours > 0.2 + 1e-9, "lost %g", r->lost_lending_gpu_hours);
    whatif_report_free(&r);
    /* Today's reactive lending waits for pods to be Pending: serving waits, and the victim
     * loses the work since its last periodic checkpoint. */
    o.checkpoint_write_s = 60;
    ck_assert_msg(whatif_run(l, j, WHATIF_OURS, &o, &r, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(r->ckpt_asked, 0);
    ck_assert_uint_ge(r->reclaims_deficit, 1);
    ck_assert(r->unmet_serving_gpu_hours > 0);
    ck_assert(r->lost_lending_gpu_hours > 0.2 + 1e-9);
    whatif_report_free(&r);
    whatif_serving_free(&sv);
    whatif_jobs_free(&j);
    whatif_layout_free(&l);
}
END_TEST

/* Escalation: the forecast has learned (from the week before) that serving rises to 14 of 16
 * GPUs at 10:00, but this week it rises at 09:56. Reading 420 s ahead, proactive reclaim sees
 * the rise at 09:54 and, after reclaim_settle_s, asks the 8-GPU borrower to checkpoint at
 * 09:55; its write takes 100 s, so the pods arrive while it still holds its GPUs: the policy
 * escalates it to a delete at once, and it keeps only its periodic checkpoints. */
START_TEST(checkpoint_first_escalated)
{
    struct whatif_layout *l = NULL;
    struct whatif_jobs *j = NULL;
    struct whatif_serving *sv = xcalloc(1, sizeof(*sv));
    struct whatif_report *r = NULL;
    struct whatif_opts o;
    struct err e = {0};
    int64_t run_week;

    ck_assert_msg(whatif_layout_parse(serving_only, strlen(serving_only), "l", &l, &e) == 0, "%s",
                  e.msg);
    ck_assert_msg(whatif_jobs_parse(one_borrower, strlen(one_borrower), "j", l, &j, &e) == 0, "%s",
                  e.msg);
    /* Two weeks that repeat; the run starts in the week of trace time (start - Monday 1970-01-05)
     * mod two weeks, in UTC, and the history is the other one. */
    run_week = ((l->start_epoch_ms - 4 * 86400 * 1000LL) / WHATIF_WEEK_MS) % 2;
    snprintf(sv->what, sizeof(sv->what), "two weeks");
    sv->period_ms = 2 * WHATIF_WEEK_MS;
    sv->n_curve = 2 * WHATIF_WEEK_MIN;
    sv->curve = xcalloc(sv->n_curve, sizeof(int));
    for (size_t m = 0; m < sv->n_curve; m++) {
        size_t day = m % 1440, rise = (int64_t)(m / WHATIF_WEEK_MIN) == run_week ? 596 : 600;

        sv->curve[m] = day >= rise && day < 1080 ? 14 : 2;
    }
    sv->peak_gpus = 14;
    whatif_opts_defaults(&o, test_policy());
    o.serving = sv;
    o.forecast_history_s = 7 * 86400;
    o.cfg.reclaim_lead_s = 420;
    o.checkpoint_write_s = 100;
    ck_assert_msg(whatif_run(l, j, WHATIF_OURS_PROACTIVE, &o, &r, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(r->reclaims_ahead, 1);
    ck_assert_uint_eq(r->ckpt_asked, 1);
    ck_assert_uint_eq(r->reclaims_escalated, 1);
    ck_assert_uint_eq(r->ckpt_in_time, 0);
    ck_assert_uint_eq(r->reclaims, 1); /* the escalation is the same victim */
    /* Killed at 09:56:30 after 35,790 s, it keeps its checkpoint at 21 x 1,700 = 35,700 s:
     * 90 s x 8 GPUs lost, as the write-in-time case, but of work, not of writing. */
    ck_assert_msg(fabs(r->lost_lending_gpu_hours - 0.2) < 1e-9, "lost %g",
                  r->lost_lending_gpu_hours);
    ck_assert_uint_eq(r->completed, 1);
    whatif_report_free(&r);
    /* Written in 60 s, the checkpoint is done by 09:56: no escalation. */
    o.checkpoint_write_s = 60;
    ck_assert_msg(whatif_run(l, j, WHATIF_OURS_PROACTIVE, &o, &r, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(r->reclaims_escalated, 0);
    ck_assert_uint_eq(r->ckpt_in_time, 1);
    whatif_report_free(&r);
    whatif_serving_free(&sv);
    whatif_jobs_free(&j);
    whatif_layout_free(&l);
}
END_TEST

START_TEST(lending_compare_on_the_command_line)
{
    char *layout = path_of("testdata/whatif/small-layout.json");
    char *jobs = path_of("testdata/whatif/small-jobs.json");
    char *conv = path_of("testdata/whatif/azure-llm-conv-2023.csv");
    char *trace = xasprintf("azure:%s", conv);
    char out[] = "/tmp/test_whatif_serving_XXXXXX";
    int fd = mkstemp(out);
    char *argv[] = {"simulate", "--layout",          layout,   "--jobs", jobs, "--serving-trace",
                    trace,      "--lending-compare", "--json", out,      NULL};
    char *bad[] = {"simulate", "--layout", layout, "--jobs", jobs, "--serving-trace", conv, NULL};
    static const char *order[] = {"ours-no-borrow", "ours", "ours-forecast", "ours-proactive"};
    json_error_t je;
    json_t *doc, *runs;

    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(whatif_main(7, bad, test_policy()), 2); /* no KIND: */
    ck_assert_int_eq(whatif_main(10, argv, test_policy()), 0);
    doc = json_load_file(out, 0, &je);
    ck_assert_msg(doc != NULL, "%s", je.text);
    runs = json_object_get(doc, "runs");
    ck_assert_uint_eq(json_array_size(runs), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *x = json_array_get(runs, i);

        ck_assert_str_eq(json_string_value(json_object_get(x, "scheduler")), order[i]);
        ck_assert(json_integer_value(json_object_get(x, "serving_pods")) > 0);
        ck_assert(json_is_number(json_object_get(x, "serving_pending_p99_s")));
        ck_assert(json_is_number(json_object_get(x, "lost_lending_gpu_hours")));
    }
    ck_assert(json_number_value(json_object_get(json_array_get(runs, 0), "borrowed_gpu_hours")) ==
              0);
    json_decref(doc);
    unlink(out);
    free(layout);
    free(jobs);
    free(conv);
    free(trace);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("whatif_serving");
    TCase *tc = tcase_create("serving");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, openb_ls_demand_is_a_hand_count);
    tcase_add_test(tc, azure_rule_gives_the_documented_replicas);
    tcase_add_test(tc, azure_file_errors);
    tcase_add_test(tc, serving_pods_wait_only_when_the_pool_is_short);
    tcase_add_test(tc, checkpoint_first_victim);
    tcase_add_test(tc, checkpoint_first_in_the_run);
    tcase_add_test(tc, checkpoint_first_escalated);
    tcase_add_test(tc, lending_compare_on_the_command_line);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
