/* test_policy_unit.c -- the smaller pieces of policy/: config defaults and validation,
 * carried state (usage decay and accrual), lending windows, reason sentences, JSON. */
#include "base/buf.h"
#include "base/err.h"
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
    ck_assert_int_eq(c.reclaim_k, 3);
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
    snap->nodes[0] = (struct snapshot_node){"n0", 0, SNAPSHOT_POOL_TRAINING, 8, 8, 0, true};
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
    tcase_add_test(tc, test_usage_accrues_and_decays);
    tcase_add_test(tc, test_lending_windows);
    tcase_add_test(tc, test_reason_sentences);
    tcase_add_test(tc, test_json_escaping_and_caps);
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
