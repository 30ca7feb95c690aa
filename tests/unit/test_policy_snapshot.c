/* test_policy_snapshot.c -- the capacity snapshot structs: allocation, aggregation and
 * validation. */
#include "base/err.h"
#include "policy/snapshot.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* Two clusters: c0 has two training h100 nodes and one serving node; c1 has one node. */
static struct snapshot *make_two(void)
{
    struct snapshot *s = NULL;
    struct err e;

    ck_assert_int_eq(snapshot_new(2, 4, 2, &s, &e), 0);
    snprintf(s->sku_names[0], sizeof(s->sku_names[0]), "a100-80gb");
    snprintf(s->sku_names[1], sizeof(s->sku_names[1]), "h100-80gb");
    snprintf(s->clusters[0].name, sizeof(s->clusters[0].name), "az1");
    s->clusters[0].node_first = 0;
    s->clusters[0].n_nodes = 3;
    snprintf(s->clusters[1].name, sizeof(s->clusters[1].name), "az2");
    s->clusters[1].node_first = 3;
    s->clusters[1].n_nodes = 1;
    s->nodes[0] = (struct snapshot_node){.name = "n0",
                                         .sku = 1,
                                         .pool = SNAPSHOT_POOL_TRAINING,
                                         .allocatable = 8,
                                         .used = 2,
                                         .borrowed = 0,
                                         .schedulable = true};
    s->nodes[1] = (struct snapshot_node){.name = "n1",
                                         .sku = 1,
                                         .pool = SNAPSHOT_POOL_TRAINING,
                                         .allocatable = 8,
                                         .used = 0,
                                         .borrowed = 0,
                                         .schedulable = false};
    s->nodes[2] = (struct snapshot_node){.name = "s0",
                                         .sku = 1,
                                         .pool = SNAPSHOT_POOL_SERVING,
                                         .allocatable = 8,
                                         .used = 3,
                                         .borrowed = 1,
                                         .schedulable = true};
    s->nodes[3] = (struct snapshot_node){.name = "m0",
                                         .sku = 0,
                                         .pool = SNAPSHOT_POOL_TRAINING,
                                         .allocatable = 4,
                                         .used = 6,
                                         .borrowed = 0,
                                         .schedulable = true};
    return s;
}

START_TEST(test_aggregates_from_nodes)
{
    struct snapshot *s = make_two();
    const struct snapshot_agg *a;

    snapshot_agg(s, 0, SNAPSHOT_POOL_SERVING, 1)->reserve = 2;
    snapshot_agg(s, 0, SNAPSHOT_POOL_SERVING, 1)->pending_serving = 1;
    snapshot_compute_aggregates(s);
    a = snapshot_agg_const(s, 0, SNAPSHOT_POOL_TRAINING, 1);
    ck_assert_int_eq(a->total, 16);
    ck_assert_int_eq(a->free, 6); /* n1 is not schedulable */
    ck_assert_int_eq(a->used, 2);
    a = snapshot_agg_const(s, 0, SNAPSHOT_POOL_SERVING, 1);
    ck_assert_int_eq(a->free, 5);
    ck_assert_int_eq(a->borrowed, 1);
    ck_assert_int_eq(a->lendable, 2); /* 5 - 2 - 1 */
    a = snapshot_agg_const(s, 1, SNAPSHOT_POOL_TRAINING, 0);
    ck_assert_int_eq(a->free, 0); /* over-committed node never goes negative */
    ck_assert_ptr_null(snapshot_agg(s, 2, SNAPSHOT_POOL_TRAINING, 0));
    ck_assert_ptr_null(snapshot_agg(s, 0, SNAPSHOT_POOL_TRAINING, 2));
    snapshot_free(&s);
    ck_assert_ptr_null(s);
}
END_TEST

/* Enough absurd nodes saturate the totals at INT_MAX instead of overflowing them (UBSan
 * in the asan build would catch an overflow). */
START_TEST(test_aggregates_saturate)
{
    struct snapshot *s = NULL;
    struct err e;
    const struct snapshot_agg *a;
    size_t n = 3000;

    ck_assert_int_eq(snapshot_new(1, n, 1, &s, &e), 0);
    snprintf(s->sku_names[0], sizeof(s->sku_names[0]), "h100-80gb");
    snprintf(s->clusters[0].name, sizeof(s->clusters[0].name), "huge");
    s->clusters[0].n_nodes = n;
    for (size_t i = 0; i < n; i++)
        s->nodes[i] = (struct snapshot_node){.name = "n",
                                             .sku = 0,
                                             .pool = SNAPSHOT_POOL_SERVING,
                                             .allocatable = 1000000,
                                             .used = 0,
                                             .borrowed = 0,
                                             .schedulable = true};
    snapshot_compute_aggregates(s);
    a = snapshot_agg_const(s, 0, SNAPSHOT_POOL_SERVING, 0);
    ck_assert_int_eq(a->total, INT_MAX);
    ck_assert_int_eq(a->free, INT_MAX);
    ck_assert_int_eq(a->lendable, INT_MAX);
    snapshot_free(&s);
}
END_TEST

START_TEST(test_validate)
{
    struct snapshot *s = make_two();
    struct err e;

    ck_assert_int_eq(snapshot_validate(s, &e), 0);
    s->clusters[1].node_first = 2;
    ck_assert_int_eq(snapshot_validate(s, &e), -1);
    ck_assert_str_eq(e.field, "clusters[1].node_first");
    s->clusters[1].node_first = 3;
    s->nodes[2].sku = 5;
    ck_assert_int_eq(snapshot_validate(s, &e), -1);
    ck_assert_str_eq(e.field, "nodes[2]");
    s->nodes[2].sku = 1;
    s->clusters[0].serving.n_windows = 1;
    s->clusters[0].serving.windows[0] = (struct snapshot_window){0x7f, 1320, 1500};
    ck_assert_int_eq(snapshot_validate(s, &e), -1);
    ck_assert_str_eq(e.field, "clusters[0].serving.windows[0]");
    snapshot_free(&s);
}
END_TEST

START_TEST(test_lookup_and_names)
{
    struct snapshot *s = make_two();
    struct snapshot *bad = NULL;
    struct err e;

    ck_assert_int_eq(snapshot_sku_find(s, "h100-80gb"), 1);
    ck_assert_int_eq(snapshot_sku_find(s, "l4"), -1);
    ck_assert_int_eq(snapshot_cluster_find(s, "az2"), 1);
    ck_assert_int_eq(snapshot_cluster_find(s, "az9"), -1);
    ck_assert_str_eq(snapshot_health_name(SNAPSHOT_HEALTH_UNAUTHORIZED), "Unauthorized");
    ck_assert_str_eq(snapshot_pool_name(SNAPSHOT_POOL_SERVING), "serving");
    ck_assert_int_eq(snapshot_new(1, 1, SNAPSHOT_SKU_MAX + 1, &bad, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_ptr_null(bad);
    snapshot_free(&s);
    snapshot_free(&s); /* NULL-safe */
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("policy_snapshot");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_aggregates_from_nodes);
    tcase_add_test(tc, test_aggregates_saturate);
    tcase_add_test(tc, test_validate);
    tcase_add_test(tc, test_lookup_and_names);
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
