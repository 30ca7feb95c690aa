/* test_sched_metrics.c -- the scheduler's Prometheus text before it ever led: every family
 * present with HELP/TYPE, standing by (leader 0), and options checked at creation (there
 * are no defaults in the scheduler: a zero or a missing policy is refused). */
#include "scheduler/sched.h"

#include "base/buf.h"
#include "base/err.h"
#include "cluster/poller.h"
#include "cmd/config.h"
#include "policy/policy.h"
#include "store/store.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(metrics_of_a_standby)
{
    struct store_config sc;
    struct store *st = NULL;
    struct poller *p = NULL;
    struct sched *s = NULL;
    struct sched_options o;
    struct poller_options po;
    struct sched_status status;
    struct err e = {0};
    struct buf b;
    struct config *c = calloc(1, sizeof(*c));
    static const char *const families[] = {
        "fedsched_scheduler_leader 0",
        "# TYPE fedsched_scheduler_cycle_seconds histogram",
        "fedsched_scheduler_cycle_seconds_bucket{le=\"+Inf\"} 0",
        "fedsched_scheduler_placements_total 0",
        "# TYPE fedsched_scheduler_dispatch_errors_total counter",
        "# TYPE fedsched_scheduler_jobs gauge",
        "# TYPE fedsched_scheduler_borrowed_gpus gauge",
        "fedsched_scheduler_reclaims_total 0",
        "fedsched_scheduler_reclaim_request_seconds{quantile=\"0.99\"} NaN",
        "fedsched_scheduler_reclaim_request_seconds_sum 0.000",
        "fedsched_scheduler_reclaim_freed_seconds_count 0",
    };

    config_defaults(c);
    config_store_options(c, &sc);
    sc.dsn = "host=127.0.0.1 port=1 dbname=none";
    sc.pool_size = 1;
    ck_assert_int_eq(store_open(&sc, &st, &e), 0); /* connects lazily: nothing runs here */
    config_poller_options(c, &po);
    ck_assert_int_eq(poller_create(NULL, 0, &po, &p, &e), 0);
    config_sched_options(c, &o);
    o.dsn = sc.dsn;
    ck_assert_int_eq(sched_new(&o, st, p, &s, &e), 0);
    sched_get_status(s, &status);
    ck_assert(!status.leader);
    ck_assert_int_eq(status.epoch, 0);
    buf_init(&b, 0);
    ck_assert_int_eq(sched_metrics(s, &b), 0);
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
        ck_assert_msg(strstr(b.data, families[i]), "missing \"%s\" in:\n%s", families[i], b.data);
    buf_free(&b);
    sched_free(&s);
    ck_assert_ptr_null(s);
    poller_free(&p);
    store_close(&st);
    config_free(c);
    free(c);
}
END_TEST

START_TEST(options_are_checked)
{
    struct sched_options o;
    struct policy_config pc;
    struct sched *s = NULL;
    struct err e = {0};
    struct config *c = calloc(1, sizeof(*c));

    config_defaults(c);
    config_sched_options(c, &o);
    o.dsn = NULL;
    ck_assert_int_eq(sched_new(&o, NULL, NULL, &s, &e), -1); /* no DSN */
    ck_assert_str_eq(e.field, "database.dsn");
    o.dsn = "dbname=x";
    o.max_dispatch_failures = 0;
    ck_assert_int_eq(sched_new(&o, NULL, NULL, &s, &e), -1);
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_str_eq(e.field, "scheduler.max_dispatch_failures");
    /* No defaults to fall back on: a zero interval or no policy is an error, not 1000 ms. */
    config_sched_options(c, &o);
    o.cycle_interval_ms = 0;
    ck_assert_int_eq(sched_new(&o, NULL, NULL, &s, &e), -1);
    ck_assert_str_eq(e.field, "scheduler.cycle_interval_ms");
    config_sched_options(c, &o);
    o.default_lost_timeout_s = 0;
    ck_assert_int_eq(sched_new(&o, NULL, NULL, &s, &e), -1);
    ck_assert_str_eq(e.field, "scheduler.default_lost_timeout_s");
    /* Each row of the configuration table is bounded alone, so only sched_new() sees a
     * maximum backoff below the base: the doubling would start above its own cap. */
    config_sched_options(c, &o);
    o.backoff_base_s = 30;
    o.backoff_max_s = 29;
    ck_assert_int_eq(sched_new(&o, NULL, NULL, &s, &e), -1);
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_str_eq(e.field, "scheduler.backoff_max_s");
    config_sched_options(c, &o);
    o.policy = NULL;
    ck_assert_int_eq(sched_new(&o, NULL, NULL, &s, &e), -1);
    ck_assert_str_eq(e.field, "policy");
    config_sched_options(c, &o);
    pc = c->policy;
    pc.reclaim_k = 0;
    o.policy = &pc;
    ck_assert_int_eq(sched_new(&o, NULL, NULL, &s, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.field, "reclaim_k"));
    ck_assert_ptr_null(s);
    config_free(c);
    free(c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sched_metrics");
    TCase *tc = tcase_create("metrics");

    tcase_add_test(tc, metrics_of_a_standby);
    tcase_add_test(tc, options_are_checked);
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
