/* whatif.c -- `fedsched simulate`: options, inputs, runs and the side-by-side report. */
#include "whatif/whatif.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/num.h"
#include "policy/policy.h"
#include "policy/policy_json.h"
#include "whatif/serving.h"
#include "whatif/trace.h"
#include "whatif/whatif_engine.h"
#include "whatif/whatif_model.h"

#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: fedsched simulate FEDERATION JOBS [options]\n"
    "\n"
    "Replays a job trace through the real placement policy (the code `fedsched serve` runs)\n"
    "over a modelled federation in simulated time, beside baseline schedulers, and reports\n"
    "what happened. Deterministic: the same inputs and --seed give the same output.\n"
    "\n"
    "FEDERATION (one of):\n"
    "  --layout FILE            layout JSON: clusters, nodes per SKU and pool, serving pools\n"
    "                           with reserve, lending windows and diurnal demand\n"
    "                           (docs/simulation.md; testdata/whatif/*.json)\n"
    "  --split-nodes FILE       split one openb node list (CSV) into clusters instead:\n"
    "    --clusters N           clusters to deal the nodes into (3)\n"
    "    --serving-share F      share of each cluster's nodes per GPU model that serve (0.3)\n"
    "    --demand MIN:MAX:HOUR  diurnal serving demand, shares of serving GPUs (0.2:0.9:14)\n"
    "    --reserve N            serving GPUs never lent, per cluster (2)\n"
    "    --window HH:MM-HH:MM   daily lending window, local time (20:00-08:00)\n"
    "    --tz RULE              POSIX TZ rule of every cluster (UTC)\n"
    "\n"
    "JOBS (one of):\n"
    "  --philly PATH            Philly-derived Gavel trace: a .trace file or a directory of\n"
    "                           them (one namespace per file)\n"
    "    --throughputs FILE     Gavel's simulation_throughputs.json (default: beside PATH)\n"
    "  --openb-pods FILE        openb pod list: GPU pods become jobs (creation to deletion)\n"
    "  --jobs FILE              job JSON: {\"jobs\":[{\"arrival_s\":0,\"gpus\":8,...}]}\n"
    "  --start-s S, --length-s S  keep arrivals in [S, S+L) (default: all)\n"
    "  --time-scale X           divide arrival times by X (1)\n"
    "  --preemptible-share F    share of jobs marked preemptible (0.5)\n"
    "  --checkpoint-s S         preemptible jobs checkpoint this often (1800)\n"
    "  --high-priority-pct P    share of jobs at priority 100, the rest at 0 (10)\n"
    "  --seed N                 seed of those per-job choices (1)\n"
    "\n"
    "POLICY AND SIMULATION:\n"
    "  --policy FILE            policy knobs JSON ({\"reclaim_k\":3,...}; docs/policy.md)\n"
    "  --cycle-s S              decision cadence (60)\n"
    "  --demand-step-s S        serving demand re-evaluated this often (300)\n"
    "  --window-s S             measure utilisation over [0, S) (default: up to the last\n"
    "                           arrival)\n"
    "  --drain-days D           keep running at most D days after the last arrival (30)\n"
    "  --schedulers LIST        comma-separated, default the first five: ours,\n"
    "                           ours-no-borrow, fifo, most-free, ordered-first-fit;\n"
    "                           also ours-forecast, ours-proactive\n"
    "  --lending-compare        the four lending policies: ours-no-borrow (no lending), ours\n"
    "                           (today's reactive lending), ours-forecast (lending from the\n"
    "                           forecast, reactive reclaim), ours-proactive (and proactive,\n"
    "                           checkpoint-first reclaim), with the targets of issue 17\n"
    "  --checkpoint-write-s S   a checkpoint-first victim takes this long to checkpoint (60)\n"
    "  --declared-throughput    every job declares its relative throughput on each SKU\n"
    "                           (from its durations) and the policy prices work, not GPU\n"
    "                           time (spec.resources.relativeThroughput)\n"
    "  --forecast-history-days D  the forecasts start with D days of serving demand from\n"
    "                           before the run, as a pool with history (0: a new pool)\n"
    "  --forecast-lending MODE  how ours-forecast and ours-proactive lend: any-hour\n"
    "                           (lend_policy forecast, no windows; default) or rules (the\n"
    "                           layout's windows, leases shortened by the forecast)\n"
    "\n"
    "SERVING DEMAND FROM A TRACE (instead of the layout's curves; in every serving pool,\n"
    "read in its cluster's local time, trace time 0 = Monday 00:00):\n"
    "  --serving-trace KIND:FILE  openb-ls:FILE (the LS GPU pods of an openb pod list) or\n"
    "                           azure:FILE (a per-minute reduction of Azure's LLM inference\n"
    "                           trace, testdata/whatif/azure-llm-*.csv)\n"
    "    --serving-start-s S    openb: the window's start in the list (10454400: day 121)\n"
    "    --serving-length-s S   openb: its length, then it repeats (2419200: 28 days)\n"
    "    --azure-prefill-tps X  context tokens a replica takes per second (800)\n"
    "    --azure-decode-tps X   generated tokens a replica gives per second (40)\n"
    "    --azure-util X         replicas run at most this busy (0.8)\n"
    "    --azure-gpus N         GPUs per replica (1)\n"
    "  --eta MODE               measure queue ETAs (explain's estimatedStart) against actual\n"
    "                           starts under ours and ours-no-borrow: history (runtimes nobody\n"
    "                           declared are taken from the namespace's finished jobs) or\n"
    "                           oracle (every job's true runtime); off (default)\n"
    "    --eta-max-events N     cap on decisions one estimate simulates (2000)\n"
    "    --eta-step-s S         longest simulated gap between two decisions (3600)\n"
    "    --eta-default-runtime-s S  runtime assumed before any job has finished (14400)\n"
    "\n"
    "OUTPUT:\n"
    "  --json FILE              also write the report as JSON ('-' = stdout, table off)\n"
    "  --per-namespace          add a table per namespace and per pool\n"
    "  --help                   this text\n"
    "\n"
    "The report has, per scheduler: GPU utilisation of training pools, of serving pools\n"
    "(replicas + borrowers) and overall; average and p95 job completion time and queueing\n"
    "delay (overall and per namespace); borrowed GPU-hours; reclaims; GPU-hours lost since\n"
    "the last checkpoint; jobs never placed; serving demand left unmet (GPU-hours and the\n"
    "longest stretch) beside the reclaim bound the policy config implies.\n";

/* ---- policy knobs ----------------------------------------------------------------------------- */

enum knob_type { K_DOUBLE, K_I64, K_INT, K_BOOL };

struct knob {
    const char *name;
    enum knob_type type;
    size_t off;
};

#define KNOB(n, t)                                                                                 \
    {                                                                                              \
#n, t, offsetof(struct policy_config, n)                                                   \
    }

static const struct knob knobs[] = {
    KNOB(w_fit, K_DOUBLE),
    KNOB(w_cost, K_DOUBLE),
    KNOB(w_locality, K_DOUBLE),
    KNOB(w_freshness, K_DOUBLE),
    KNOB(w_sku, K_DOUBLE),
    KNOB(w_borrow, K_DOUBLE),
    KNOB(cost_reference, K_DOUBLE),
    KNOB(default_cost, K_DOUBLE),
    KNOB(max_data_age_s, K_I64),
    KNOB(place_on_degraded, K_BOOL),
    KNOB(aging_per_hour, K_DOUBLE),
    KNOB(aging_max, K_DOUBLE),
    KNOB(fair_share_half_life_s, K_I64),
    KNOB(max_reservations, K_INT),
    KNOB(reserve_after_s, K_I64),
    KNOB(max_checkpoint_loss_s, K_I64),
    KNOB(min_lease_s, K_I64),
    KNOB(idle_lease_s, K_I64),
    KNOB(reclaim_k, K_INT),
    KNOB(reclaim_settle_s, K_I64),
    KNOB(min_runtime_s, K_I64),
    KNOB(reclaim_rate_per_hour, K_DOUBLE),
    KNOB(reclaim_burst, K_INT),
    KNOB(relend_backoff_s, K_I64),
    KNOB(relend_backoff_max_s, K_I64),
    KNOB(grace_period_s, K_I64),
    KNOB(grace_period_max_s, K_I64),
    KNOB(proactive_reclaim, K_BOOL),
    KNOB(reclaim_lead_s, K_I64),
    KNOB(checkpoint_deadline_s, K_I64),
    KNOB(preemption, K_BOOL),
    KNOB(preempt_min_runtime_s, K_I64),
    KNOB(preempt_budget, K_INT),
    KNOB(preempt_window_s, K_I64),
};

int whatif_policy_parse(const char *text, size_t len, const char *what, struct policy_config *cfg,
                        struct err *e)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    struct policy_config c = *cfg;
    int rc = -1;

    if (!root)
        return err_set(e, ERR_MALFORMED, "json", "%s:%d: %s", what, je.line, je.text);
    if (!json_is_object(root)) {
        err_set(e, ERR_INVALID, "policy", "%s: policy knobs are a JSON object", what);
        goto out;
    }
    for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
        const char *k = json_object_iter_key(it);
        json_t *v = json_object_iter_value(it);
        const struct knob *kn = NULL;
        char *p;

        for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]) && !kn; i++)
            if (strcmp(knobs[i].name, k) == 0)
                kn = &knobs[i];
        if (!kn) {
            err_set(e, ERR_INVALID, k, "%s: unknown policy knob '%s' (docs/policy.md lists them)",
                    what, k);
            goto out;
        }
        /* The knob's bytes inside c, written with memcpy (no type-punned stores). */
        p = (char *)&c + kn->off;
        if (kn->type == K_BOOL) {
            if (!json_is_boolean(v)) {
                err_set(e, ERR_INVALID, k, "%s: policy.%s must be true or false", what, k);
                goto out;
            }
            bool b = json_is_true(v);

            memcpy(p, &b, sizeof(b));
        } else if (!json_is_number(v)) {
            err_set(e, ERR_INVALID, k, "%s: policy.%s must be a number", what, k);
            goto out;
        } else if (kn->type == K_DOUBLE) {
            double d = json_number_value(v);

            memcpy(p, &d, sizeof(d));
        } else if (!json_is_integer(v)) {
            err_set(e, ERR_INVALID, k, "%s: policy.%s must be a whole number", what, k);
            goto out;
        } else if (kn->type == K_I64) {
            int64_t x = (int64_t)json_integer_value(v);

            memcpy(p, &x, sizeof(x));
        } else {
            json_int_t x = json_integer_value(v);

            if (x < INT32_MIN || x > INT32_MAX) {
                err_set(e, ERR_INVALID, k, "%s: policy.%s %lld is out of range", what, k,
                        (long long)x);
                goto out;
            }
            {
                int xi = (int)x;

                memcpy(p, &xi, sizeof(xi));
            }
        }
    }
    *cfg = c;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* ---- output ------------------------------------------------------------------------------------- */

static int json_num(struct buf *b, const char *k, double v, bool comma)
{
    return buf_printf(b, "%s\"%s\":%.6g", comma ? "," : "", k, v);
}

int whatif_reports_json(const struct whatif_layout *l, struct whatif_report *const *r, size_t n,
                        struct buf *b)
{
    int rc = buf_puts(b, "{\"runs\":[");

    for (size_t i = 0; i < n && !rc; i++) {
        const struct whatif_report *x = r[i];

        rc = buf_printf(b, "%s{\"scheduler\":\"%s\"", i ? "," : "", whatif_sched_name(x->sched));
        rc = rc ? rc
                : buf_printf(b,
                             ",\"jobs\":%zu,\"completed\":%zu,\"never_placed\":%zu,"
                             "\"unfinished\":%zu,\"reclaims\":%zu,\"reclaims_deficit\":%zu,"
                             "\"reclaims_lease_end\":%zu,\"reclaims_priority\":%zu,"
                             "\"reclaims_quota\":%zu,\"reclaims_backfill\":%zu,\"cycles\":%zu,"
                             "\"decisions\":%zu",
                             x->jobs, x->completed, x->never_placed, x->unfinished, x->reclaims,
                             x->reclaims_deficit, x->reclaims_lease_end, x->reclaims_priority,
                             x->reclaims_quota, x->reclaims_backfill, x->cycles, x->decisions);
        rc = rc ? rc : json_num(b, "avg_jct_s", x->avg_jct_s, true);
        rc = rc ? rc : json_num(b, "p95_jct_s", x->p95_jct_s, true);
        rc = rc ? rc : json_num(b, "avg_wait_s", x->avg_wait_s, true);
        rc = rc ? rc : json_num(b, "p95_wait_s", x->p95_wait_s, true);
        rc = rc ? rc : buf_printf(b, ",\"gangs\":%zu", x->gangs);
        rc = rc ? rc : json_num(b, "gang_avg_wait_s", x->gang_avg_wait_s, true);
        rc = rc ? rc : json_num(b, "gang_max_wait_s", x->gang_max_wait_s, true);
        rc = rc ? rc : json_num(b, "training_util", x->training_util, true);
        rc = rc ? rc : json_num(b, "serving_util", x->serving_util, true);
        rc = rc ? rc : json_num(b, "overall_util", x->overall_util, true);
        rc = rc ? rc : json_num(b, "work_gpu_hours", x->work_gpu_hours, true);
        rc = rc ? rc : json_num(b, "idle_queued_gpu_hours", x->idle_queued_gpu_hours, true);
        rc = rc ? rc : json_num(b, "borrowed_gpu_hours", x->borrowed_gpu_hours, true);
        rc = rc ? rc : json_num(b, "lost_gpu_hours", x->lost_gpu_hours, true);
        rc = rc ? rc : json_num(b, "unmet_serving_gpu_hours", x->unmet_serving_gpu_hours, true);
        rc = rc ? rc : json_num(b, "max_unmet_s", x->max_unmet_s, true);
        rc = rc ? rc : json_num(b, "max_unmet_borrowed_s", x->max_unmet_borrowed_s, true);
        rc = rc ? rc : json_num(b, "reclaim_bound_s", x->reclaim_bound_s, true);
        rc = rc ? rc
                : buf_printf(b,
                             ",\"reclaims_ahead\":%zu,\"checkpoints_asked\":%zu,"
                             "\"checkpoints_in_time\":%zu,\"reclaims_escalated\":%zu",
                             x->reclaims_ahead, x->ckpt_asked, x->ckpt_in_time,
                             x->reclaims_escalated);
        rc = rc ? rc : json_num(b, "lost_lending_gpu_hours", x->lost_lending_gpu_hours, true);
        rc = rc ? rc : json_num(b, "serving_wanted_gpu_hours", x->serving_wanted_gpu_hours, true);
        rc = rc ? rc
                : buf_printf(b, ",\"serving_pods\":%zu,\"serving_pods_waited\":%zu", x->spods,
                             x->spods_waited);
        rc = rc ? rc : json_num(b, "serving_pending_avg_s", x->spod_wait_avg_s, true);
        rc = rc ? rc : json_num(b, "serving_pending_p50_s", x->spod_wait_p50_s, true);
        rc = rc ? rc : json_num(b, "serving_pending_p99_s", x->spod_wait_p99_s, true);
        rc = rc ? rc : json_num(b, "serving_pending_max_s", x->spod_wait_max_s, true);
        rc = rc ? rc : json_num(b, "serving_waited_p50_s", x->spod_waited_p50_s, true);
        rc = rc ? rc : json_num(b, "serving_waited_p99_s", x->spod_waited_p99_s, true);
        rc = rc ? rc : json_num(b, "window_s", x->window_s, true);
        rc = rc ? rc : json_num(b, "end_s", x->end_s, true);
        rc = rc ? rc
                : buf_printf(b, ",\"overcommits\":%zu,\"digest\":\"%016llx\",\"namespaces\":[",
                             x->overcommits, (unsigned long long)x->digest);
        for (size_t k = 0; k < x->n_ns && !rc; k++) {
            const struct whatif_ns_stats *s = &x->ns[k];

            rc = buf_printf(b, "%s{\"namespace\":", k ? "," : "");
            rc = rc ? rc : policy_json_str(b, s->ns);
            rc = rc ? rc : buf_printf(b, ",\"jobs\":%zu,\"completed\":%zu", s->jobs, s->completed);
            rc = rc ? rc : json_num(b, "avg_jct_s", s->avg_jct_s, true);
            rc = rc ? rc : json_num(b, "p95_jct_s", s->p95_jct_s, true);
            rc = rc ? rc : json_num(b, "avg_wait_s", s->avg_wait_s, true);
            rc = rc ? rc : json_num(b, "p95_wait_s", s->p95_wait_s, true);
            rc = rc ? rc : buf_puts(b, "}");
        }
        rc = rc ? rc : buf_puts(b, "],\"pools\":[");
        for (size_t k = 0; k < x->n_pools && !rc; k++) {
            const struct whatif_pool_stats *p = &x->pools[k];

            rc = buf_printf(b, "%s{\"cluster\":", k ? "," : "");
            rc = rc ? rc : policy_json_str(b, l->clusters[p->cluster].name);
            rc = rc ? rc : buf_printf(b, ",\"pool\":\"%s\",\"sku\":", snapshot_pool_name(p->pool));
            rc = rc ? rc : policy_json_str(b, l->skus[p->sku]);
            rc = rc ? rc : buf_printf(b, ",\"gpus\":%d", p->gpus);
            rc = rc ? rc : json_num(b, "util", p->util, true);
            rc = rc ? rc : json_num(b, "serving_util", p->serving_util, true);
            rc = rc ? rc : buf_puts(b, "}");
        }
        rc = rc ? rc : buf_puts(b, "]");
        if (x->eta_mode != WHATIF_ETA_OFF && !rc) {
            const struct whatif_eta_stats *t = &x->eta;

            rc = buf_printf(b,
                            ",\"eta\":{\"mode\":\"%s\",\"estimated\":%zu,\"no_estimate\":%zu,"
                            "\"capped\":%zu,\"measured\":%zu,\"waited\":%zu",
                            whatif_eta_name(x->eta_mode), t->estimated, t->no_estimate, t->capped,
                            t->measured, t->waited);
            rc = rc ? rc : json_num(b, "p50_abs_h", t->p50_abs_h, true);
            rc = rc ? rc : json_num(b, "p90_abs_h", t->p90_abs_h, true);
            rc = rc ? rc : json_num(b, "p50_abs_waited_h", t->p50_abs_waited_h, true);
            rc = rc ? rc : json_num(b, "p90_abs_waited_h", t->p90_abs_waited_h, true);
            rc = rc ? rc : json_num(b, "p50_rel", t->p50_rel, true);
            rc = rc ? rc : json_num(b, "p90_rel", t->p90_rel, true);
            rc = rc ? rc : json_num(b, "p50_signed_h", t->p50_signed_h, true);
            rc = rc ? rc : json_num(b, "cpu_s", t->cpu_s, true);
            rc = rc ? rc : buf_puts(b, "}");
        }
        rc = rc ? rc : buf_puts(b, "}");
    }
    return rc ? rc : buf_puts(b, "]}\n");
}

static void hours(char *out, size_t n, double s)
{
    snprintf(out, n, "%.2f", s / 3600.0);
}

/* Estimated start against actual start, for the runs that measured it. */
static void eta_table(struct whatif_report *const *r, size_t n, FILE *f)
{
    bool any = false;

    for (size_t i = 0; i < n; i++) {
        const struct whatif_report *x = r[i];
        const struct whatif_eta_stats *t = &x->eta;

        if (x->eta_mode == WHATIF_ETA_OFF)
            continue;
        if (!any)
            fprintf(f,
                    "\nestimated start vs actual (each job estimated when first queued; error = "
                    "|estimate - actual|)\n%-18s %-7s %6s %6s %6s %7s %7s %7s %8s %8s %7s %7s "
                    "%8s\n",
                    "scheduler", "mode", "jobs", "null", "capped", "measrd", "p50_h", "p90_h",
                    "waited", "p50w_h", "p90w_h", "p50rel", "p90rel");
        any = true;
        fprintf(f, "%-18s %-7s %6zu %6zu %6zu %7zu %7.2f %7.2f %8zu %8.2f %7.2f %7.2f %8.2f\n",
                whatif_sched_name(x->sched), whatif_eta_name(x->eta_mode), t->estimated,
                t->no_estimate, t->capped, t->measured, t->p50_abs_h, t->p90_abs_h, t->waited,
                t->p50_abs_waited_h, t->p90_abs_waited_h, t->p50_rel, t->p90_rel);
    }
    if (any)
        for (size_t i = 0; i < n; i++)
            if (r[i]->eta_mode != WHATIF_ETA_OFF)
                fprintf(f,
                        "(%s: median signed error of the jobs that waited %+.2f h, negative = "
                        "later than estimated; %.1f s spent estimating)\n",
                        whatif_sched_name(r[i]->sched), r[i]->eta.p50_signed_h, r[i]->eta.cpu_s);
}

void whatif_reports_table(const struct whatif_layout *l, struct whatif_report *const *r, size_t n,
                          int per_ns, FILE *f)
{
    fprintf(f, "%-18s %6s %6s %6s %10s %8s %8s %8s %8s %8s %8s %9s %7s %8s %6s %9s %9s %9s\n",
            "scheduler", "train%", "serve%", "all%", "idleQdGPUh", "avgJCT_h", "p95JCT_h",
            "avgWt_h", "p95Wt_h", "gangWt_h", "gangMx_h", "borrowGPUh", "reclaim", "lostGPUh",
            "never", "unmetGPUh", "maxUnmet_s", "bound_s");
    for (size_t i = 0; i < n; i++) {
        const struct whatif_report *x = r[i];
        char a[16], b[16], c[16], d[16], g[16], m[16];

        hours(a, sizeof(a), x->avg_jct_s);
        hours(b, sizeof(b), x->p95_jct_s);
        hours(c, sizeof(c), x->avg_wait_s);
        hours(d, sizeof(d), x->p95_wait_s);
        hours(g, sizeof(g), x->gang_avg_wait_s);
        hours(m, sizeof(m), x->gang_max_wait_s);
        fprintf(
            f,
            "%-18s %6.1f %6.1f %6.1f %10.1f %8s %8s %8s %8s %8s %8s %9.1f %7zu %8.1f %6zu %9.1f "
            "%9.0f %9.0f\n",
            whatif_sched_name(x->sched), 100 * x->training_util, 100 * x->serving_util,
            100 * x->overall_util, x->idle_queued_gpu_hours, a, b, c, d, g, m,
            x->borrowed_gpu_hours, x->reclaims, x->lost_gpu_hours, x->never_placed,
            x->unmet_serving_gpu_hours, x->max_unmet_borrowed_s, x->reclaim_bound_s);
    }
    if (n > 0)
        fprintf(f,
                "(%zu jobs, %zu of them gangs of more than one worker (gangWt_h, gangMx_h: their "
                "average and longest wait); utilisation over the first %.1f days; %zu completed by "
                "day %.1f under %s; idleQdGPUh: training GPU-hours left free in the window while a "
                "queued job accepted their SKU; maxUnmet_s counts stretches while borrowers held "
                "the pool's GPUs)\n",
                r[0]->jobs, r[0]->gangs, r[0]->window_s / 86400.0, r[0]->completed,
                r[0]->end_s / 86400.0, whatif_sched_name(r[0]->sched));
    eta_table(r, n, f);
    if (!per_ns)
        return;
    for (size_t i = 0; i < n; i++) {
        const struct whatif_report *x = r[i];

        fprintf(f, "\n%s: per namespace\n%-16s %6s %6s %9s %9s %9s %9s\n",
                whatif_sched_name(x->sched), "namespace", "jobs", "done", "avgJCT_h", "p95JCT_h",
                "avgWait_h", "p95Wait_h");
        for (size_t k = 0; k < x->n_ns; k++) {
            const struct whatif_ns_stats *s = &x->ns[k];

            fprintf(f, "%-16s %6zu %6zu %9.2f %9.2f %9.2f %9.2f\n", s->ns, s->jobs, s->completed,
                    s->avg_jct_s / 3600, s->p95_jct_s / 3600, s->avg_wait_s / 3600,
                    s->p95_wait_s / 3600);
        }
        fprintf(f, "%s: per pool\n%-12s %-9s %-10s %6s %8s %8s\n", whatif_sched_name(x->sched),
                "cluster", "pool", "sku", "gpus", "jobs%", "serving%");
        for (size_t k = 0; k < x->n_pools; k++) {
            const struct whatif_pool_stats *p = &x->pools[k];

            fprintf(f, "%-12s %-9s %-10s %6d %8.1f %8.1f\n", l->clusters[p->cluster].name,
                    snapshot_pool_name(p->pool), l->skus[p->sku], p->gpus, 100 * p->util,
                    100 * p->serving_util);
        }
    }
}

/* ---- the command ------------------------------------------------------------------------------------ */

struct args {
    const char *layout, *split_nodes, *philly, *throughputs, *openb_pods, *jobs, *policy, *json;
    const char *schedulers, *serving_trace;
    double serving_start_s, serving_length_s;
    struct whatif_azure_rule azure;
    int lending_compare;
    struct whatif_split split;
    struct whatif_job_opts jo;
    struct whatif_opts wo;
    int per_ns;
};

static int num_arg(const char *opt, const char *v, double min, double max, double *out)
{
    if (num_parse_double(v, out) || !(*out >= min && *out <= max)) {
        fprintf(stderr, "fedsched simulate: %s '%s' is not a number in [%g, %g]\n", opt, v, min,
                max);
        return -1;
    }
    return 0;
}

static int int_arg(const char *opt, const char *v, int64_t min, int64_t max, int64_t *out)
{
    if (num_parse_i64(v, min, max, out)) {
        fprintf(stderr, "fedsched simulate: %s '%s' is not a whole number in [%lld, %lld]\n", opt,
                v, (long long)min, (long long)max);
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, const struct policy_config *policy, struct args *a)
{
    memset(a, 0, sizeof(*a));
    whatif_split_defaults(&a->split);
    whatif_job_opts_defaults(&a->jo);
    whatif_opts_defaults(&a->wo, policy);
    whatif_azure_rule_defaults(&a->azure);
    a->serving_start_s = 121 * 86400.0;
    a->serving_length_s = 28 * 86400.0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        int64_t x;

        if (strcmp(o, "--per-namespace") == 0) {
            a->per_ns = 1;
            continue;
        }
        if (strcmp(o, "--lending-compare") == 0) {
            a->lending_compare = 1;
            continue;
        }
        if (strcmp(o, "--declared-throughput") == 0) {
            a->wo.declared_throughput = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "fedsched simulate: unknown option or missing value: %s\n", o);
            return -1;
        }
        i++;
        if (strcmp(o, "--layout") == 0) {
            a->layout = v;
        } else if (strcmp(o, "--split-nodes") == 0) {
            a->split_nodes = v;
        } else if (strcmp(o, "--clusters") == 0) {
            if (int_arg(o, v, 1, 64, &x))
                return -1;
            a->split.clusters = (int)x;
        } else if (strcmp(o, "--serving-share") == 0) {
            if (num_arg(o, v, 0, 0.99, &a->split.serving_share))
                return -1;
        } else if (strcmp(o, "--demand") == 0) {
            char *dup = xstrdup(v), *c1 = strchr(dup, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
            int bad = !c1 || !c2;

            if (!bad) {
                *c1 = *c2 = '\0';
                bad = num_parse_double(dup, &a->split.demand_min) ||
                      num_parse_double(c1 + 1, &a->split.demand_max) ||
                      num_parse_double(c2 + 1, &a->split.peak_hour);
            }
            free(dup);
            if (bad) {
                fprintf(stderr, "fedsched simulate: --demand '%s' is not MIN:MAX:PEAK_HOUR\n", v);
                return -1;
            }
        } else if (strcmp(o, "--reserve") == 0) {
            if (int_arg(o, v, 0, 100000, &x))
                return -1;
            a->split.reserve_gpus = (int)x;
        } else if (strcmp(o, "--window") == 0) {
            char s1[8], s2[8];
            const char *dash = strchr(v, '-');

            if (!dash || dash - v != 5 || strlen(dash + 1) != 5) {
                fprintf(stderr, "fedsched simulate: --window '%s' is not HH:MM-HH:MM\n", v);
                return -1;
            }
            snprintf(s1, sizeof(s1), "%.5s", v);
            snprintf(s2, sizeof(s2), "%s", dash + 1);
            if (clock_parse_hhmm(s1, &a->split.window.start_min) ||
                clock_parse_hhmm(s2, &a->split.window.end_min)) {
                fprintf(stderr, "fedsched simulate: --window '%s' is not HH:MM-HH:MM\n", v);
                return -1;
            }
        } else if (strcmp(o, "--tz") == 0) {
            a->split.tz = v;
        } else if (strcmp(o, "--philly") == 0) {
            a->philly = v;
        } else if (strcmp(o, "--throughputs") == 0) {
            a->throughputs = v;
        } else if (strcmp(o, "--openb-pods") == 0) {
            a->openb_pods = v;
        } else if (strcmp(o, "--jobs") == 0) {
            a->jobs = v;
        } else if (strcmp(o, "--start-s") == 0) {
            if (num_arg(o, v, 0, 1e12, &a->jo.window_start_s))
                return -1;
        } else if (strcmp(o, "--length-s") == 0) {
            if (num_arg(o, v, 0, 1e12, &a->jo.window_length_s))
                return -1;
        } else if (strcmp(o, "--time-scale") == 0) {
            if (num_arg(o, v, 1e-6, 1e6, &a->jo.time_scale))
                return -1;
        } else if (strcmp(o, "--preemptible-share") == 0) {
            if (num_arg(o, v, 0, 1, &a->jo.preemptible_share))
                return -1;
        } else if (strcmp(o, "--checkpoint-s") == 0) {
            if (int_arg(o, v, 0, INT32_MAX, &a->jo.checkpoint_s))
                return -1;
        } else if (strcmp(o, "--high-priority-pct") == 0) {
            if (int_arg(o, v, 0, 100, &x))
                return -1;
            a->jo.high_priority_pct = (int)x;
        } else if (strcmp(o, "--seed") == 0) {
            if (int_arg(o, v, 0, INT64_MAX, &x))
                return -1;
            a->jo.seed = (uint64_t)x;
        } else if (strcmp(o, "--policy") == 0) {
            a->policy = v;
        } else if (strcmp(o, "--cycle-s") == 0) {
            if (int_arg(o, v, 1, 86400, &a->wo.cycle_s))
                return -1;
        } else if (strcmp(o, "--demand-step-s") == 0) {
            if (int_arg(o, v, 1, 86400, &a->wo.demand_step_s))
                return -1;
        } else if (strcmp(o, "--window-s") == 0) {
            if (num_arg(o, v, 0, 1e12, &a->wo.window_s))
                return -1;
        } else if (strcmp(o, "--drain-days") == 0) {
            if (num_arg(o, v, 0, 3650, &d))
                return -1;
            a->wo.drain_s = d * 86400.0;
        } else if (strcmp(o, "--eta") == 0) {
            struct err e = {0};

            if (whatif_eta_parse(v, &a->wo.eta, &e)) {
                fprintf(stderr, "fedsched simulate: --eta: %s\n", e.msg);
                return -1;
            }
        } else if (strcmp(o, "--eta-max-events") == 0) {
            if (int_arg(o, v, 1, 1000000, &x))
                return -1;
            a->wo.eta_opts.max_events = (int)x;
        } else if (strcmp(o, "--eta-step-s") == 0) {
            if (int_arg(o, v, 1, 30 * 86400, &a->wo.eta_opts.step_s))
                return -1;
        } else if (strcmp(o, "--eta-default-runtime-s") == 0) {
            if (int_arg(o, v, 1, INT32_MAX, &a->wo.eta_opts.default_runtime_s))
                return -1;
        } else if (strcmp(o, "--schedulers") == 0) {
            a->schedulers = v;
        } else if (strcmp(o, "--forecast-lending") == 0) {
            if (strcmp(v, "any-hour") == 0) {
                a->wo.forecast_lending = WHATIF_FORECAST_LEND_ANY_HOUR;
            } else if (strcmp(v, "rules") == 0) {
                a->wo.forecast_lending = WHATIF_FORECAST_LEND_RULES;
            } else {
                fprintf(stderr,
                        "fedsched simulate: --forecast-lending '%s' is not any-hour or rules\n", v);
                return -1;
            }
        } else if (strcmp(o, "--forecast-history-days") == 0) {
            if (num_arg(o, v, 0, 28, &d))
                return -1;
            a->wo.forecast_history_s = (int64_t)(d * 86400.0);
        } else if (strcmp(o, "--checkpoint-write-s") == 0) {
            if (int_arg(o, v, 0, 86400, &a->wo.checkpoint_write_s))
                return -1;
        } else if (strcmp(o, "--serving-trace") == 0) {
            if (strncmp(v, "openb-ls:", 9) != 0 && strncmp(v, "azure:", 6) != 0) {
                fprintf(stderr,
                        "fedsched simulate: --serving-trace '%s' is not openb-ls:FILE or "
                        "azure:FILE\n",
                        v);
                return -1;
            }
            a->serving_trace = v;
        } else if (strcmp(o, "--serving-start-s") == 0) {
            if (num_arg(o, v, 0, 1e12, &a->serving_start_s))
                return -1;
        } else if (strcmp(o, "--serving-length-s") == 0) {
            if (num_arg(o, v, 60, 1e12, &a->serving_length_s))
                return -1;
        } else if (strcmp(o, "--azure-prefill-tps") == 0) {
            if (num_arg(o, v, 1e-3, 1e9, &a->azure.prefill_tps))
                return -1;
        } else if (strcmp(o, "--azure-decode-tps") == 0) {
            if (num_arg(o, v, 1e-3, 1e9, &a->azure.decode_tps))
                return -1;
        } else if (strcmp(o, "--azure-util") == 0) {
            if (num_arg(o, v, 0.01, 1, &a->azure.target_util))
                return -1;
        } else if (strcmp(o, "--azure-gpus") == 0) {
            if (int_arg(o, v, 1, WHATIF_SPOD_GPUSMX, &x))
                return -1;
            a->azure.gpus_per_replica = (int)x;
        } else if (strcmp(o, "--json") == 0) {
            a->json = v;
        } else {
            fprintf(stderr, "fedsched simulate: unknown option %s\n", o);
            return -1;
        }
    }
    if ((a->layout != NULL) == (a->split_nodes != NULL)) {
        fprintf(stderr, "fedsched simulate: give exactly one of --layout and --split-nodes\n");
        return -1;
    }
    if ((a->philly != NULL) + (a->openb_pods != NULL) + (a->jobs != NULL) != 1) {
        fprintf(stderr, "fedsched simulate: give exactly one of --philly, --openb-pods, --jobs\n");
        return -1;
    }
    return 0;
}

static int load_inputs(const struct args *a, struct whatif_layout **l, struct whatif_jobs **J,
                       size_t *dropped, struct err *e)
{
    struct trace_openb_node *nodes = NULL;
    struct trace_openb_pod *pods = NULL;
    struct trace_throughputs *tp = NULL;
    size_t n = 0;
    int rc = -1;

    *dropped = 0;
    if (a->layout) {
        if (whatif_layout_load(a->layout, l, e))
            goto out;
    } else {
        if (trace_openb_nodes_load(a->split_nodes, &nodes, &n, e) ||
            whatif_layout_split(nodes, n, &a->split, l, e))
            goto out;
    }
    if (a->philly) {
        char *tpath = NULL;

        if (a->throughputs) {
            tpath = xstrdup(a->throughputs);
        } else {
            const char *slash = strrchr(a->philly, '/');
            size_t len = strlen(a->philly);

            /* A directory: the table sits inside; a file: beside it. */
            if (len > 6 && strcmp(a->philly + len - 6, ".trace") == 0)
                tpath = slash ? xasprintf("%.*s/simulation_throughputs.json",
                                          (int)(slash - a->philly), a->philly)
                              : xstrdup("simulation_throughputs.json");
            else
                tpath = xasprintf("%s/simulation_throughputs.json", a->philly);
        }
        rc = trace_throughputs_load(tpath, &tp, e);
        free(tpath);
        if (rc)
            goto out;
        rc = -1;
        if (whatif_jobs_philly(a->philly, tp, *l, &a->jo, J, dropped, e))
            goto out;
    } else if (a->openb_pods) {
        if (trace_openb_pods_load(a->openb_pods, &pods, &n, e) ||
            whatif_jobs_openb(pods, n, *l, &a->jo, J, dropped, e))
            goto out;
    } else if (whatif_jobs_load(a->jobs, *l, J, e)) {
        goto out;
    }
    rc = 0;
out:
    free(nodes);
    free(pods);
    trace_throughputs_free(&tp);
    return rc;
}

/* The serving trace of --serving-trace, NULL without one. */
static int load_serving(const struct args *a, struct whatif_serving **out, struct err *e)
{
    char *text = NULL;
    size_t len = 0;
    int rc = -1;

    *out = NULL;
    if (!a->serving_trace)
        return 0;
    if (strncmp(a->serving_trace, "openb-ls:", 9) == 0) {
        struct trace_openb_pod *pods = NULL;
        size_t n = 0;

        rc = trace_openb_pods_load(a->serving_trace + 9, &pods, &n, e);
        rc = rc ? rc
                : whatif_serving_openb(pods, n, a->serving_start_s, a->serving_length_s, out, e);
        free(pods);
        return rc;
    }
    {
        const char *path = a->serving_trace + 6, *slash = strrchr(path, '/');
        struct whatif_azure_minute *rows = NULL;
        size_t n = 0;

        if (trace_read_file(path, &text, &len, e) ||
            whatif_azure_parse(text, len, path, &rows, &n, e) ||
            whatif_serving_azure(rows, n, &a->azure, slash ? slash + 1 : path, out, e))
            rc = -1;
        else
            rc = 0;
        free(rows);
        free(text);
    }
    return rc;
}

/* What lending does to serving and training, per policy, and the targets of issue 17
 * (ours-proactive against ours: >= 50 % less unmet serving demand, >= 90 % of its borrowed
 * GPU-hours, fewer training GPU-hours lost). */
static void lending_table(struct whatif_report *const *r, size_t n, FILE *f)
{
    const struct whatif_report *reactive = NULL, *pro = NULL;

    fprintf(f, "\nlending and serving\n%-16s %9s %8s %7s %9s %14s %10s %14s %14s %8s %8s %8s\n",
            "scheduler", "unmetGPUh", "srvPods", "waited", "p50/p99_s", "wtd50/99/max_s",
            "borrowGPUh", "rcl_def/end/ahd", "ckpt_ask/ok/esc", "lostLend", "avgWt_h", "p95Wt_h");
    for (size_t i = 0; i < n; i++) {
        const struct whatif_report *x = r[i];
        char p[32], w[40], rc[40], ck[40];

        if (!(x->sched == WHATIF_OURS || x->sched == WHATIF_OURS_NO_BORROW ||
              x->sched == WHATIF_OURS_FORECAST || x->sched == WHATIF_OURS_PROACTIVE))
            continue;
        if (x->sched == WHATIF_OURS)
            reactive = x;
        if (x->sched == WHATIF_OURS_PROACTIVE)
            pro = x;
        snprintf(p, sizeof(p), "%.0f/%.0f", x->spod_wait_p50_s, x->spod_wait_p99_s);
        snprintf(w, sizeof(w), "%.0f/%.0f/%.0f", x->spod_waited_p50_s, x->spod_waited_p99_s,
                 x->spod_wait_max_s);
        snprintf(rc, sizeof(rc), "%zu/%zu/%zu", x->reclaims_deficit, x->reclaims_lease_end,
                 x->reclaims_ahead);
        snprintf(ck, sizeof(ck), "%zu/%zu/%zu", x->ckpt_asked, x->ckpt_in_time,
                 x->reclaims_escalated);
        fprintf(f, "%-16s %9.1f %8zu %7zu %9s %14s %10.1f %14s %14s %8.1f %8.2f %8.2f\n",
                whatif_sched_name(x->sched), x->unmet_serving_gpu_hours, x->spods, x->spods_waited,
                p, w, x->borrowed_gpu_hours, rc, ck, x->lost_lending_gpu_hours,
                x->avg_wait_s / 3600.0, x->p95_wait_s / 3600.0);
    }
    fprintf(f,
            "(serving wanted %.1f GPU-hours; srvPods: serving pods, waited: those that waited "
            "for GPUs; p50/p99_s: pending time over every pod, wtd50/99/max_s: over those that "
            "waited; rcl_def/end/ahd: reclaims for a deficit, at lease end, ahead of demand; "
            "ckpt_ask/ok/esc: victims asked to checkpoint first, those that wrote it in time, "
            "those deleted at once after all as pods were Pending; lostLend: training GPU-hours "
            "lost to those reclaims; avgWt_h, p95Wt_h: training queueing delay)\n",
            n ? r[0]->serving_wanted_gpu_hours : 0.0);
    if (reactive && pro) {
        double cut = reactive->unmet_serving_gpu_hours > 0
                         ? 1 - pro->unmet_serving_gpu_hours / reactive->unmet_serving_gpu_hours
                         : 0;
        double share = reactive->borrowed_gpu_hours > 0
                           ? pro->borrowed_gpu_hours / reactive->borrowed_gpu_hours
                           : 0;
        bool met1 =
            reactive->unmet_serving_gpu_hours > 0 ? cut >= 0.5 : pro->unmet_serving_gpu_hours <= 0;

        fprintf(f,
                "targets, ours-proactive against ours: unmet serving demand %.1f against %.1f "
                "GPU-hours (%+.0f %%, target -50 %% or better: %s); borrowed %.1f against %.1f "
                "GPU-hours (%.0f %%, target >= 90 %%: %s); training GPU-hours lost to lending "
                "%.1f against %.1f (target fewer: %s)\n",
                pro->unmet_serving_gpu_hours, reactive->unmet_serving_gpu_hours, -100 * cut,
                met1 ? "met" : "MISSED", pro->borrowed_gpu_hours, reactive->borrowed_gpu_hours,
                100 * share, share >= 0.9 ? "met" : "MISSED", pro->lost_lending_gpu_hours,
                reactive->lost_lending_gpu_hours,
                pro->lost_lending_gpu_hours < reactive->lost_lending_gpu_hours ? "met" : "MISSED");
    }
}

int whatif_main(int argc, char **argv, const struct policy_config *policy)
{
    struct args a;
    struct whatif_layout *l = NULL;
    struct whatif_jobs *J = NULL;
    struct whatif_serving *sv = NULL;
    struct whatif_report *reps[WHATIF_SCHED_COUNT];
    bool want[WHATIF_SCHED_COUNT];
    size_t n_reps = 0, dropped = 0;
    struct err e = {0};
    int status = 1;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
    if (parse_args(argc, argv, policy, &a)) {
        fputs(usage_text, stderr);
        return 2;
    }
    for (int s = 0; s < WHATIF_SCHED_COUNT; s++)
        want[s] = a.schedulers == NULL && !a.lending_compare && s < WHATIF_SCHED_DEFAULT;
    if (a.lending_compare) {
        want[WHATIF_OURS_NO_BORROW] = want[WHATIF_OURS] = true;
        want[WHATIF_OURS_FORECAST] = want[WHATIF_OURS_PROACTIVE] = true;
    }
    if (a.schedulers) {
        char *dup = xstrdup(a.schedulers), *save = dup;

        for (char *tok = dup; tok && *tok;) {
            char *c = strchr(tok, ',');
            enum whatif_sched s;

            if (c)
                *c = '\0';
            if (whatif_sched_parse(tok, &s, &e)) {
                fprintf(stderr, "fedsched simulate: %s\n", e.msg);
                free(save);
                return 2;
            }
            want[s] = true;
            tok = c ? c + 1 : NULL;
        }
        free(save);
    }
    if (a.policy) {
        char *text = NULL;
        size_t len = 0;
        int r = trace_read_file(a.policy, &text, &len, &e);

        r = r ? r : whatif_policy_parse(text, len, a.policy, &a.wo.cfg, &e);
        free(text);
        if (r)
            goto fail;
    }
    if (policy_config_validate(&a.wo.cfg, &e) || load_inputs(&a, &l, &J, &dropped, &e) ||
        load_serving(&a, &sv, &e))
        goto fail;
    a.wo.serving = sv;
    if (sv)
        fprintf(stderr,
                "fedsched simulate: serving demand from %s: peak %d GPUs, %.1f GPU-hours a "
                "period of %.1f days, in every serving pool\n",
                sv->what, sv->peak_gpus, sv->gpu_hours, (double)sv->period_ms / 86400000.0);
    if (dropped)
        fprintf(stderr,
                "fedsched simulate: %zu trace records dropped (no layout SKU can run "
                "them, or no duration)\n",
                dropped);
    /* The lending policies in the order of issue 17 (1 to 4), the baselines after. */
    for (int o = 0; o < WHATIF_SCHED_COUNT; o++) {
        static const enum whatif_sched order[WHATIF_SCHED_COUNT] = {
            WHATIF_OURS_NO_BORROW, WHATIF_OURS,      WHATIF_OURS_FORECAST,    WHATIF_OURS_PROACTIVE,
            WHATIF_FIFO,           WHATIF_MOST_FREE, WHATIF_ORDERED_FIRST_FIT};
        int s = a.lending_compare ? (int)order[o] : o;

        if (!want[s])
            continue;
        if (whatif_run(l, J, (enum whatif_sched)s, &a.wo, &reps[n_reps], &e))
            goto fail;
        n_reps++;
    }
    if (!a.json || strcmp(a.json, "-") != 0) {
        whatif_reports_table(l, reps, n_reps, a.per_ns, stdout);
        if (sv || a.lending_compare)
            lending_table(reps, n_reps, stdout);
    }
    if (a.json) {
        struct buf b;
        FILE *f = strcmp(a.json, "-") == 0 ? stdout : fopen(a.json, "w");

        if (!f) {
            err_set(&e, ERR_IO, "json", "cannot write %s", a.json);
            goto fail;
        }
        buf_init(&b, 0);
        if (whatif_reports_json(l, reps, n_reps, &b) == 0)
            fputs(b.data, f);
        buf_free(&b);
        if (f != stdout && fclose(f)) {
            err_set(&e, ERR_IO, "json", "cannot write %s", a.json);
            goto fail;
        }
    }
    status = 0;
    goto out;
fail:
    fprintf(stderr, "fedsched simulate: %s\n", e.msg);
out:
    for (size_t i = 0; i < n_reps; i++)
        whatif_report_free(&reps[i]);
    whatif_jobs_free(&J);
    whatif_layout_free(&l);
    whatif_serving_free(&sv);
    return status;
}
