/* test_sched_state.c -- the policy state survives a trip through JSON (so a new leader
 * continues the old one's streaks, buckets, back-off and fair share), and bad text is
 * refused with the member named. */
#include "scheduler/sched_state.h"

#include "base/err.h"
#include "policy/policy.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(state_round_trips)
{
    struct policy_state *a = policy_state_new(), *b = policy_state_new();
    struct policy_pool_state *p = policy_state_pool(a, "az1", true), *q;
    struct policy_usage *u = policy_state_usage(a, "maps-team", true), *v;
    struct err e = {0};
    char *text, *again;

    p->streak[3] = 2;
    p->last_seq = 41;
    p->tokens_milli = 2500;
    p->tokens_at_ms = 1700000000123;
    p->backoff_until_ms = 1700000600000;
    p->backoff_level = 2;
    p->last_reclaim_ms = 1700000000000;
    u->gpu_hours[0] = 12.5;
    u->gpu_hours[5] = 0.25;
    u->as_of_ms = 1700000000456;
    a->last_now_ms = 1700000000789;
    policy_state_pool(a, "az2", true);
    text = sched_state_to_json(a);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(sched_state_from_json(text, b, &e), 0);
    ck_assert_uint_eq(b->n_pools, 2);
    ck_assert_uint_eq(b->n_usage, 1);
    q = policy_state_pool(b, "az1", false);
    ck_assert_ptr_nonnull(q);
    ck_assert_int_eq(q->streak[3], 2);
    ck_assert_int_eq(q->streak[2], 0);
    ck_assert_int_eq(q->tokens_milli, 2500);
    ck_assert_int_eq(q->tokens_at_ms, 1700000000123);
    ck_assert_int_eq(q->backoff_until_ms, 1700000600000);
    ck_assert_int_eq(q->backoff_level, 2);
    ck_assert_int_eq(q->last_reclaim_ms, 1700000000000);
    ck_assert_uint_eq(q->last_seq, 0); /* another process's snapshot numbers */
    v = policy_state_usage(b, "maps-team", false);
    ck_assert_ptr_nonnull(v);
    ck_assert_double_eq_tol(v->gpu_hours[0], 12.5, 1e-9);
    ck_assert_double_eq_tol(v->gpu_hours[5], 0.25, 1e-9);
    ck_assert_int_eq(v->as_of_ms, 1700000000456);
    ck_assert_int_eq(b->last_now_ms, 1700000000789);
    /* Stable text: saving an unchanged state writes the same bytes. */
    again = sched_state_to_json(b);
    ck_assert_str_eq(text, again);
    free(text);
    free(again);
    policy_state_free(&a);
    policy_state_free(&b);
}
END_TEST

START_TEST(bad_state_names_the_member)
{
    static const struct {
        const char *text, *field;
    } bad[] = {
        {"[]", ""},
        {"{\"pools\":[{\"streak\":[1]}]}", "cluster"},
        {"{\"pools\":[{\"cluster\":\"az1\",\"streak\":[-1]}]}", "streak"},
        {"{\"pools\":[{\"cluster\":\"az1\",\"tokensMilli\":\"3\"}]}", "tokensMilli"},
        {"{\"usage\":[{\"ns\":\"a\",\"gpuHours\":[\"x\"]}]}", "gpuHours"},
        {"{\"lastNowMs\":1.5}", "lastNowMs"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct policy_state *st = policy_state_new();
        struct err e = {0};

        ck_assert_msg(sched_state_from_json(bad[i].text, st, &e) == -1, "%s", bad[i].text);
        ck_assert_int_eq(e.code, ERR_MALFORMED);
        ck_assert_str_eq(e.field, bad[i].field);
        policy_state_free(&st);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sched_state");
    TCase *tc = tcase_create("json");

    tcase_add_test(tc, state_round_trips);
    tcase_add_test(tc, bad_state_names_the_member);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    int failed;

    srunner_run_all(r, CK_NORMAL);
    failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
