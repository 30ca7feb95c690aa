/* test_policy_unit.c -- the smaller pieces of policy/: config defaults and validation,
 * carried state (usage decay and accrual), lending windows, reason sentences, JSON. */
#include "base/buf.h"
#include "base/err.h"
#include "policy/explain.h"
#include "policy/lend.h"
#include "policy/policy.h"
#include "policy/policy_json.h"
#include "policy/tz.h"
#include "tests/support/defaults.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return (tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60) * 1000;
}

START_TEST(test_config_defaults_and_validation)
{
    struct policy_config c;
    struct err e;

    defaults_policy(&c);
    ck_assert_int_eq(policy_config_validate(&c, &e), 0);
    ck_assert_int_eq(c.reclaim_k, 1);
    ck_assert_int_eq(c.reclaim_settle_s, 5);
    c.reclaim_settle_s = -1;
    ck_assert_int_eq(policy_config_validate(&c, &e), -1);
    ck_assert_str_eq(e.field, "policy.reclaim_settle_s");
    defaults_policy(&c);
    c.reclaim_k = 0;
    ck_assert_int_eq(policy_config_validate(&c, &e), -1);
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_str_eq(e.field, "policy.reclaim_k");
    defaults_policy(&c);
    c.w_cost = -1;
    ck_assert_int_eq(policy_config_validate(&c, &e), -1);
    ck_assert_str_eq(e.field, "policy.w_cost");
    defaults_policy(&c);
    c.w_fit = NAN;
    ck_assert_int_eq(policy_config_validate(&c, &e), -1);
    defaults_policy(&c);
    c.relend_backoff_max_s = 10;
    ck_assert_int_eq(policy_config_validate(&c, &e), -1);
    ck_assert_str_eq(e.field, "policy.relend_backoff_max_s");
    defaults_policy(&c);
    c.cost_reference = 0;
    ck_assert_int_eq(policy_config_validate(&c, &e), -1);
}
END_TEST

/* The preemption knobs: each bad value named; the window matters only with preemption on
 * (a config without the knobs is valid, preemption off). The window counts the cluster's
 * preemptions in (now - window, now]. */
START_TEST(test_preempt_knobs_and_window)
{
    struct policy_config c;
    struct policy_state *s = policy_state_new();
    struct policy_preempt_log *l;
    struct err e;
    const int64_t now = 1800000000000;

    defaults_policy(&c);
    c.preemption = true;
    c.preempt_window_s = 600;
    c.preempt_budget = POLICY_PREEMPT_BUDGET_MAX;
    ck_assert_int_eq(policy_config_validate(&c, &e), 0);
    c.preempt_budget = POLICY_PREEMPT_BUDGET_MAX + 1;
    ck_assert_int_eq(policy_config_validate(&c, &e), -1);
    ck_assert_str_eq(e.field, "policy.preempt_budget");
    ck_assert_ptr_nonnull(strstr(e.msg, "not 65"));
    c.preempt_budget = 4;
    c.preempt_window_s = 0;
    ck_assert_int_eq(policy_config_validate(&c, &e), -1);
    ck_assert_str_eq(e.field, "policy.preempt_window_s");
    c.preemption = false;
    ck_assert_int_eq(policy_config_validate(&c, &e), 0);
    c.preempt_min_runtime_s = -1;
    ck_assert_int_eq(policy_config_validate(&c, &e), -1);
    ck_assert_str_eq(e.field, "policy.preempt_min_runtime_s");

    ck_assert_ptr_null(policy_state_preempts(s, "az1", false));
    ck_assert_int_eq(policy_preempts_in_window(NULL, now, 600), 0);
    l = policy_state_preempts(s, "az1", true);
    l->at_ms[0] = now - 600000; /* just outside: the window is (now - 600 s, now] */
    l->at_ms[1] = now - 599000;
    l->at_ms[2] = now;
    l->next = 3;
    ck_assert_int_eq(policy_preempts_in_window(l, now, 600), 2);
    ck_assert_int_eq(policy_preempts_in_window(l, now, 1), 1);
    ck_assert_ptr_eq(policy_state_preempts(s, "az1", false), l);
    policy_state_free(&s);
}
END_TEST

START_TEST(test_state_entries)
{
    struct policy_state *s = policy_state_new();
    struct policy_pool_state *p;

    ck_assert_ptr_null(policy_state_pool(s, "az1", false));
    p = policy_state_pool(s, "az1", true);
    ck_assert_ptr_nonnull(p);
    p->streak[1] = 2;
    for (int i = 0; i < 20; i++) {
        char name[16];

        snprintf(name, sizeof(name), "c%d", i);
        ck_assert_ptr_nonnull(policy_state_pool(s, name, true));
    }
    ck_assert_int_eq(policy_state_pool(s, "az1", false)->streak[1], 2);
    ck_assert_uint_eq(s->n_pools, 21);
    ck_assert_ptr_nonnull(policy_state_usage(s, "maps", true));
    ck_assert_ptr_null(policy_state_usage(s, "eats", false));
    policy_state_free(&s);
    ck_assert_ptr_null(s);
    policy_state_free(&s);
}
END_TEST

/* One cluster, one SKU, one running 8-GPU job: usage accrues per cycle and decays. */
START_TEST(test_usage_accrues_and_decays)
{
    struct snapshot *snap = NULL;
    struct policy_config cfg;
    struct policy_running ru;
    struct policy_input in;
    struct policy_state *st = policy_state_new();
    struct policy_result *r = NULL;
    struct policy_usage *u;
    int64_t t0 = utc(2026, 11, 28, 12, 0);

    ck_assert_int_eq(snapshot_new(1, 1, 1, &snap, NULL), 0);
    snprintf(snap->sku_names[0], sizeof(snap->sku_names[0]), "h100-80gb");
    snprintf(snap->clusters[0].name, sizeof(snap->clusters[0].name), "az1");
    snap->clusters[0].n_nodes = 1;
    snap->clusters[0].health = SNAPSHOT_HEALTH_READY;
    snap->nodes[0] = (struct snapshot_node){.name = "n0",
                                            .sku = 0,
                                            .pool = SNAPSHOT_POOL_TRAINING,
                                            .allocatable = 8,
                                            .used = 8,
                                            .borrowed = 0,
                                            .schedulable = true};
    snapshot_compute_aggregates(snap);
    defaults_policy(&cfg);
    cfg.fair_share_half_life_s = 3600;
    memset(&ru, 0, sizeof(ru));
    ru.ns = "maps";
    ru.name = "r";
    ru.cluster = "az1";
    ru.sku = 0;
    ru.gpus = 8;
    ru.started_ms = t0 - 3600000;
    ru.in_snapshot = true;
    memset(&in, 0, sizeof(in));
    in.snap = snap;
    in.running = &ru;
    in.n_running = 1;
    in.cfg = &cfg;
    for (int i = 0; i < 3; i++) {
        in.now_ms = t0 + (int64_t)i * 3600000;
        snap->clusters[0].last_poll_ms = in.now_ms;
        ck_assert_int_eq(policy_decide(&in, st, &r, NULL), 0);
        policy_result_free(&r);
    }
    /* Cycle 1 starts the clock; cycle 2 adds 8 GPU-hours; cycle 3 halves them (one
     * half-life) and adds 8 more. */
    u = policy_state_usage(st, "maps", false);
    ck_assert_ptr_nonnull(u);
    ck_assert_double_eq_tol(u->gpu_hours[0], 12.0, 1e-9);
    ck_assert_int_eq(st->last_now_ms, t0 + 2 * 3600000);
    /* A failing cycle leaves the state untouched. */
    cfg.reclaim_k = 0;
    in.now_ms += 3600000;
    ck_assert_int_eq(policy_decide(&in, st, &r, NULL), -1);
    ck_assert_ptr_null(r);
    ck_assert_double_eq_tol(u->gpu_hours[0], 12.0, 1e-9);
    policy_state_free(&st);
    snapshot_free(&snap);
}
END_TEST

START_TEST(test_lending_windows)
{
    struct snapshot_serving_pool sp;
    struct tz_rule utc0, la;
    int64_t end = 0;

    ck_assert_int_eq(tz_parse("UTC0", &utc0, NULL), 0);
    ck_assert_int_eq(tz_parse("PST8PDT,M3.2.0,M11.1.0", &la, NULL), 0);
    memset(&sp, 0, sizeof(sp));
    sp.n_windows = 1;
    sp.windows[0] = (struct snapshot_window){0x7f, 22 * 60, 6 * 60};
    /* 2026-11-28 is a Saturday. */
    ck_assert(lend_window_open(&sp, &utc0, utc(2026, 11, 28, 23, 0), &end));
    ck_assert_int_eq(end, utc(2026, 11, 29, 6, 0));
    ck_assert(lend_window_open(&sp, &utc0, utc(2026, 11, 28, 5, 59), &end));
    ck_assert_int_eq(end, utc(2026, 11, 28, 6, 0));
    ck_assert(!lend_window_open(&sp, &utc0, utc(2026, 11, 28, 6, 0), NULL));
    ck_assert(lend_window_open(&sp, &utc0, utc(2026, 11, 28, 22, 0), NULL));
    ck_assert(!lend_window_open(&sp, &utc0, utc(2026, 11, 28, 21, 59), NULL));
    /* Only Sundays (bit 0): Saturday night closed, Sunday night open into Monday. */
    sp.windows[0].days = 0x01;
    ck_assert(!lend_window_open(&sp, &utc0, utc(2026, 11, 28, 23, 0), NULL));
    ck_assert(lend_window_open(&sp, &utc0, utc(2026, 11, 30, 1, 0), &end));
    ck_assert_int_eq(end, utc(2026, 11, 30, 6, 0));
    /* Chained windows: Friday 20:00-24:00 then Saturday 00:00-08:00 (bit 5, bit 6). */
    sp.n_windows = 2;
    sp.windows[0] = (struct snapshot_window){1u << 5, 20 * 60, 24 * 60};
    sp.windows[1] = (struct snapshot_window){1u << 6, 0, 8 * 60};
    ck_assert(lend_window_open(&sp, &utc0, utc(2026, 11, 27, 21, 0), &end));
    ck_assert_int_eq(end, utc(2026, 11, 28, 8, 0));
    /* Local time: 22:00-06:00 in Los Angeles is open at 07:00Z (23:00 PST). */
    sp.n_windows = 1;
    sp.windows[0] = (struct snapshot_window){0, 22 * 60, 6 * 60}; /* 0 = every day */
    ck_assert(lend_window_open(&sp, &la, utc(2026, 11, 28, 7, 0), &end));
    ck_assert_int_eq(end, utc(2026, 11, 28, 14, 0));
    ck_assert(!lend_window_open(&sp, &la, utc(2026, 11, 28, 20, 0), NULL));
    /* Idle rule. */
    sp.idle_minutes = 30;
    sp.idle_since_ms = utc(2026, 11, 28, 11, 0);
    ck_assert(lend_idle_enough(&sp, utc(2026, 11, 28, 11, 30)));
    ck_assert(!lend_idle_enough(&sp, utc(2026, 11, 28, 11, 29)));
    sp.idle_since_ms = 0;
    ck_assert(!lend_idle_enough(&sp, utc(2026, 11, 28, 23, 0)));
}
END_TEST

START_TEST(test_reason_sentences)
{
    struct snapshot *snap = NULL;
    struct policy_why w;
    char out[256];

    ck_assert_int_eq(snapshot_new(1, 0, 1, &snap, NULL), 0);
    snprintf(snap->sku_names[0], sizeof(snap->sku_names[0]), "h100-80gb");
    snprintf(snap->clusters[0].name, sizeof(snap->clusters[0].name), "az1");
    memset(&w, 0, sizeof(w));
    w.reason = POLICY_REASON_INSUFFICIENT;
    w.cluster = 0;
    w.sku = 0;
    w.workers = 8;
    w.per_worker = 8;
    w.have = 5;
    w.nodes = 5;
    policy_why_format(&w, snap, out, sizeof(out));
    ck_assert_str_eq(out, "h100-80gb: needs 8 workers of 8 GPUs, 5 nodes have 8 free");
    w.reason = POLICY_REASON_STALE;
    w.value = 95;
    policy_why_format(&w, snap, out, sizeof(out));
    ck_assert_str_eq(out, "cluster stale for 95 s");
    w.reason = POLICY_REASON_LENDING_CLOSED;
    policy_why_format(&w, snap, out, sizeof(out));
    ck_assert_str_eq(out, "h100-80gb: outside lending window");
    w.reason = POLICY_REASON_QUOTA;
    w.ns = "maps-team";
    w.have = 16;
    w.need = 8;
    w.value = 16;
    w.value2 = 16;
    policy_why_format(&w, snap, out, sizeof(out));
    ck_assert_str_eq(out, "quota maps-team/h100-80gb exhausted: uses 16 GPUs, needs 8 more, limit "
                          "16 (nominal 16)");
    for (int r = 0; r < POLICY_REASON_COUNT; r++) {
        w.reason = (enum policy_reason)r;
        policy_why_format(&w, snap, out, sizeof(out));
        ck_assert_uint_gt(strlen(out), 0);
        ck_assert_str_ne(policy_reason_name((enum policy_reason)r), "unknown");
    }
    snapshot_free(&snap);
}
END_TEST

/* Two clusters, "a" (cheaper, 8 training GPUs and 8 serving GPUs) and "b" (8 training GPUs);
 * a's prerequisites as the test sets them, b's all met. */
static struct snapshot *prereq_snapshot(int64_t now)
{
    struct snapshot *snap = NULL;

    ck_assert_int_eq(snapshot_new(2, 3, 1, &snap, NULL), 0);
    snprintf(snap->sku_names[0], sizeof(snap->sku_names[0]), "h100-80gb");
    for (int c = 0; c < 2; c++) {
        struct snapshot_cluster *cl = &snap->clusters[c];

        snprintf(cl->name, sizeof(cl->name), "%s", c == 0 ? "a" : "b");
        cl->health = SNAPSHOT_HEALTH_READY;
        cl->last_poll_ms = now;
        cl->cost_per_gpu_hour[0] = c == 0 ? 1.0 : 9.0;
        for (int p = 0; p < SNAPSHOT_PREREQ_COUNT; p++)
            cl->prereqs[p].state = SNAPSHOT_PREREQ_MET;
    }
    snap->clusters[0].node_first = 0;
    snap->clusters[0].n_nodes = 2;
    snap->clusters[0].serving.present = true;
    snap->clusters[0].serving.lend_policy = SNAPSHOT_LEND_WINDOW;
    snap->clusters[0].serving.n_windows = 1;
    snap->clusters[0].serving.windows[0] = (struct snapshot_window){0x7f, 0, 0};
    snap->clusters[1].node_first = 2;
    snap->clusters[1].n_nodes = 1;
    snap->nodes[0] = (struct snapshot_node){.name = "a0",
                                            .sku = 0,
                                            .pool = SNAPSHOT_POOL_TRAINING,
                                            .allocatable = 8,
                                            .used = 0,
                                            .borrowed = 0,
                                            .schedulable = true};
    snap->nodes[1] = (struct snapshot_node){.name = "a1",
                                            .sku = 0,
                                            .pool = SNAPSHOT_POOL_SERVING,
                                            .allocatable = 8,
                                            .used = 0,
                                            .borrowed = 0,
                                            .schedulable = true};
    snap->nodes[2] = (struct snapshot_node){.name = "b0",
                                            .sku = 0,
                                            .pool = SNAPSHOT_POOL_TRAINING,
                                            .allocatable = 8,
                                            .used = 0,
                                            .borrowed = 0,
                                            .schedulable = true};
    snapshot_compute_aggregates(snap);
    return snap;
}

struct prereq_run {
    struct policy_config cfg;
    struct policy_job job;
    struct policy_input in;
    struct policy_state *st;
    struct policy_result *r;
};

static void prereq_decide(struct prereq_run *x, struct snapshot *snap, int64_t now)
{
    defaults_policy(&x->cfg);
    memset(&x->in, 0, sizeof(x->in));
    x->in.snap = snap;
    x->in.queue = &x->job;
    x->in.n_queue = 1;
    x->in.cfg = &x->cfg;
    x->in.now_ms = now;
    x->st = policy_state_new();
    ck_assert_int_eq(policy_decide(&x->in, x->st, &x->r, NULL), 0);
}

static void prereq_done(struct prereq_run *x)
{
    policy_result_free(&x->r);
    policy_state_free(&x->st);
}

static struct policy_job prereq_job(const char *framework, int gpus, bool preemptible)
{
    struct policy_job j;

    memset(&j, 0, sizeof(j));
    j.id = 1;
    j.ns = "ml";
    j.name = "j";
    j.sku = 0;
    j.gpu_count = gpus;
    j.preemptible = preemptible;
    j.checkpoint_interval_s = 60;
    j.prereqs = policy_framework_prereqs(framework);
    return j;
}

/* Acceptance 3 and 5 at the policy: a cluster lacking a prerequisite of the job is never
 * chosen, and the explanation names the condition and the connector's message. */
START_TEST(test_missing_prerequisite_is_skipped_and_explained)
{
    int64_t now = utc(2026, 11, 28, 12, 0);
    struct snapshot *snap = prereq_snapshot(now);
    struct prereq_run x;
    struct explain *ex = NULL;
    struct buf b;
    char msg[256];

    ck_assert_uint_eq(policy_framework_prereqs("pytorch"), 0);
    ck_assert_uint_ne(policy_framework_prereqs("ray") & (1u << SNAPSHOT_PREREQ_KUBERAY), 0);
    /* Every prerequisite met: the cheaper cluster a wins. */
    x.job = prereq_job("ray", 8, false);
    prereq_decide(&x, snap, now);
    ck_assert_uint_eq(x.r->n_placements, 1);
    ck_assert_int_eq(x.r->placements[0].cluster, 0);
    prereq_done(&x);
    /* a lacks KubeRay: a ray job goes to b, a pytorch job still to a. */
    snap->clusters[0].prereqs[SNAPSHOT_PREREQ_KUBERAY].state = SNAPSHOT_PREREQ_MISSING;
    snprintf(snap->clusters[0].prereqs[SNAPSHOT_PREREQ_KUBERAY].message, SNAPSHOT_PREREQ_MSG_MAX,
             "%s", "KubeRay is not installed");
    prereq_decide(&x, snap, now);
    ck_assert_uint_eq(x.r->n_placements, 1);
    ck_assert_int_eq(x.r->placements[0].cluster, 1);
    prereq_done(&x);
    /* With b cordoned the ray job waits; the explanation of a names the condition. */
    snap->clusters[1].cordoned = true;
    prereq_decide(&x, snap, now);
    snap->clusters[1].cordoned = false;
    ck_assert_uint_eq(x.r->n_placements, 0);
    ck_assert_int_eq(explain_job(&x.in, x.r, 0, &ex, NULL), 0);
    ck_assert_uint_eq(ex->n_clusters, 2);
    ck_assert_int_ge((int)ex->clusters[0].n_whys, 1);
    ck_assert_int_eq(ex->clusters[0].whys[0].reason, POLICY_REASON_MISSING_PREREQ);
    ck_assert_int_eq(ex->clusters[0].whys[0].prereq, SNAPSHOT_PREREQ_KUBERAY);
    policy_why_format(&ex->clusters[0].whys[0], snap, msg, sizeof(msg));
    ck_assert_str_eq(msg, "cluster a: KubeRayInstalled is False: KubeRay is not installed");
    buf_init(&b, 4096);
    ck_assert_int_eq(policy_why_json(&b, snap, &ex->clusters[0].whys[0]), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "\"reason\":\"missing_prerequisite\""));
    ck_assert_ptr_nonnull(strstr(b.data, "\"condition\":\"KubeRayInstalled\""));
    buf_free(&b);
    explain_free(&ex);
    prereq_done(&x);
    x.job = prereq_job("pytorch", 8, false);
    prereq_decide(&x, snap, now);
    ck_assert_uint_eq(x.r->n_placements, 1);
    ck_assert_int_eq(x.r->placements[0].cluster, 0);
    prereq_done(&x);
    /* a's namespace is missing and b is full: the job waits, and says why. */
    snap->clusters[0].prereqs[SNAPSHOT_PREREQ_NAMESPACE].state = SNAPSHOT_PREREQ_MISSING;
    x.job = prereq_job("pytorch", 16, false);
    snap->clusters[1].n_nodes = 1;
    prereq_decide(&x, snap, now);
    ck_assert_uint_eq(x.r->n_placements, 0);
    ck_assert_uint_eq(x.r->n_pending, 1);
    prereq_done(&x);
    x.job = prereq_job("pytorch", 8, false);
    snap->nodes[2].used = 8;
    snapshot_compute_aggregates(snap);
    prereq_decide(&x, snap, now);
    ck_assert_uint_eq(x.r->n_placements, 0);
    ck_assert_int_eq(x.r->pending[0].why.reason, POLICY_REASON_MISSING_PREREQ);
    ck_assert_int_eq(x.r->pending[0].why.prereq, SNAPSHOT_PREREQ_NAMESPACE);
    ck_assert(x.r->pending[0].why.room);
    prereq_done(&x);
    /* Not checked (the zero value, as whatif writes it) and not answered yet: placeable. */
    snap->clusters[0].prereqs[SNAPSHOT_PREREQ_NAMESPACE].state = SNAPSHOT_PREREQ_UNKNOWN;
    snap->clusters[0].prereqs[SNAPSHOT_PREREQ_KUBERAY].state = SNAPSHOT_PREREQ_NOT_CHECKED;
    x.job = prereq_job("ray", 8, false);
    prereq_decide(&x, snap, now);
    ck_assert_uint_eq(x.r->n_placements, 1);
    ck_assert_int_eq(x.r->placements[0].cluster, 0);
    prereq_done(&x);
    snapshot_free(&snap);
}
END_TEST

/* Borrowed capacity is lent only once the borrowed PriorityClass is known to exist. */
START_TEST(test_borrowing_needs_the_borrowed_priority_class)
{
    int64_t now = utc(2026, 11, 28, 12, 0);
    struct snapshot *snap = prereq_snapshot(now);
    struct snapshot_prereq_status *pc =
        &snap->clusters[0].prereqs[SNAPSHOT_PREREQ_PRIORITY_CLASS_BORROWED];
    struct prereq_run x;
    char msg[256];

    /* Training nodes busy everywhere: only a's serving pool has room. */
    snap->nodes[0].used = 8;
    snap->nodes[2].used = 8;
    snapshot_compute_aggregates(snap);
    x.job = prereq_job("pytorch", 8, true);
    prereq_decide(&x, snap, now);
    ck_assert_uint_eq(x.r->n_placements, 1);
    ck_assert_int_eq(x.r->placements[0].pool, SNAPSHOT_POOL_SERVING);
    prereq_done(&x);
    for (int state = SNAPSHOT_PREREQ_MISSING; state <= SNAPSHOT_PREREQ_UNKNOWN; state++) {
        pc->state = (enum snapshot_prereq_state)state;
        snprintf(pc->message, sizeof(pc->message), "%s", "PriorityClass gone");
        prereq_decide(&x, snap, now);
        ck_assert_uint_eq(x.r->n_placements, 0);
        ck_assert_int_eq(x.r->pending[0].why.reason, POLICY_REASON_MISSING_PREREQ);
        ck_assert_int_eq(x.r->pending[0].why.prereq, SNAPSHOT_PREREQ_PRIORITY_CLASS_BORROWED);
        policy_why_format(&x.r->pending[0].why, snap, msg, sizeof(msg));
        ck_assert_str_eq(msg, state == SNAPSHOT_PREREQ_MISSING
                                  ? "cluster a: BorrowedPriorityClassReady is False: "
                                    "PriorityClass gone"
                                  : "cluster a: BorrowedPriorityClassReady is not checked yet; "
                                    "serving GPUs are lent only once it is True");
        prereq_done(&x);
    }
    /* Not checked at all (checks off): lending as before. */
    pc->state = SNAPSHOT_PREREQ_NOT_CHECKED;
    prereq_decide(&x, snap, now);
    ck_assert_uint_eq(x.r->n_placements, 1);
    prereq_done(&x);
    snapshot_free(&snap);
}
END_TEST

START_TEST(test_json_escaping_and_caps)
{
    struct buf b;
    json_t *v;
    json_error_t je;

    buf_init(&b, 0);
    ck_assert_int_eq(policy_json_str(&b, "a\"b\\c\nd\x01"), 0);
    v = json_loads(b.data, JSON_DECODE_ANY, &je);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_string_value(v), "a\"b\\c\nd\x01");
    json_decref(v);
    buf_free(&b);
    buf_init(&b, 4);
    ck_assert_int_eq(policy_json_str(&b, "longer than four"), -1);
    buf_free(&b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("policy_unit");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_config_defaults_and_validation);
    tcase_add_test(tc, test_state_entries);
    tcase_add_test(tc, test_preempt_knobs_and_window);
    tcase_add_test(tc, test_usage_accrues_and_decays);
    tcase_add_test(tc, test_lending_windows);
    tcase_add_test(tc, test_reason_sentences);
    tcase_add_test(tc, test_json_escaping_and_caps);
    tcase_add_test(tc, test_missing_prerequisite_is_skipped_and_explained);
    tcase_add_test(tc, test_borrowing_needs_the_borrowed_priority_class);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
