/* test_diagnosis.c -- what the scheduler learns about a placed job without a phase change
 * reaches the job's status and history: store_job_note() against a real PostgreSQL (fenced
 * by the leader epoch, bound to the attempt, one event per change of words). */
#include "tests/support/itest.h"

#include "base/err.h"
#include "store/election.h"
#include "store/live_jobs.h"
#include "store/store.h"
#include "tests/support/defaults.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEC                                                                                       \
    "'{\"framework\": \"pytorch\", \"resources\": {\"instanceType\": \"a100-80gb\","               \
    " \"gpuCount\": 8}, \"code\": {\"image\": \"trainer:1\", \"command\": [\"python\","            \
    " \"train.py\"]}, \"scheduling\": {}}'"

static char dsn[1024];

static long sql_long(const char *sql)
{
    char *v = itest_sql(dsn, sql);
    long n = v ? strtol(v, NULL, 10) : -1;

    free(v);
    return n;
}

/* A fresh database with one Dispatched job (attempt 2) and a leader at *epoch. */
static struct store *open_with_job(struct store_leader **l, int64_t *epoch, int64_t *id)
{
    struct store_config sc = {0};
    struct store *s = NULL;
    bool acquired = false;
    struct err e = {0};

    itest_create_db(dsn, sizeof(dsn));
    defaults_store(&sc, dsn, 2);
    ck_assert_int_eq(store_open(&sc, &s, &e), 0);
    ck_assert_msg(store_migrate(s, NULL, &e) == 0, "%s", e.msg);
    free(itest_sql(dsn,
                   "INSERT INTO jobs (namespace, name, api_version, spec, sku, gpu_count,"
                   " gpus_per_worker, phase, cluster, pool, sku_placed, attempt,"
                   " admitted_at, dispatched_at) VALUES ('team-a', 'oom', 'fedsched.io/v1', " SPEC
                   ", 'a100-80gb', 8, 8, 'Dispatched', 'east', 'training', 'a100-80gb', 2,"
                   " now(), now())"));
    *id = sql_long("SELECT id FROM jobs WHERE name = 'oom'");
    ck_assert_int_gt(*id, 0);
    ck_assert_int_eq(store_leader_open(dsn, "tester", l, &e), 0);
    ck_assert_int_eq(store_leader_try(*l, &acquired, epoch, &e), 0);
    ck_assert(acquired);
    return s;
}

START_TEST(a_note_sets_the_status_and_adds_one_event)
{
    struct store_leader *l = NULL;
    int64_t epoch = 0, id = 0;
    struct store *s = open_with_job(&l, &epoch, &id);
    struct store_note n = {id, 2, "Diagnosis", "ImagePullBackOff",
                           "pods not all running in east: pod p0 container trainer: "
                           "ImagePullBackOff: Back-off pulling image \"x\""};
    bool noted = false;
    char *v;
    struct err e = {0};

    ck_assert_int_eq(store_job_note(s, epoch, &n, &noted, &e), 0);
    ck_assert(noted);
    v = itest_sql(dsn, "SELECT phase || '|' || reason || '|' || message FROM jobs"
                       " WHERE name = 'oom'");
    ck_assert_str_eq(v, "Dispatched|ImagePullBackOff|pods not all running in east: pod p0"
                        " container trainer: ImagePullBackOff: Back-off pulling image \"x\"");
    free(v);
    v = itest_sql(dsn, "SELECT type || '|' || reason || '|' || from_phase || '|' || to_phase"
                       " FROM job_events WHERE type = 'Diagnosis'");
    ck_assert_str_eq(v, "Diagnosis|ImagePullBackOff|Dispatched|Dispatched");
    free(v);
    /* The same words again (the next minute's look): no second event. */
    ck_assert_int_eq(store_job_note(s, epoch, &n, &noted, &e), 0);
    ck_assert(!noted);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM job_events WHERE type = 'Diagnosis'"), 1);
    /* Other words: a second one. */
    n.type = "PodFailed";
    n.reason = "OOMKilled";
    n.message = "pod p0 container trainer: OOMKilled (exit code 137)";
    ck_assert_int_eq(store_job_note(s, epoch, &n, &noted, &e), 0);
    ck_assert(noted);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM job_events WHERE type IN ('Diagnosis',"
                              " 'PodFailed')"),
                     2);
    store_leader_close(&l);
    store_close(&s);
}
END_TEST

START_TEST(a_note_needs_the_attempt_the_phase_and_the_epoch)
{
    struct store_leader *l = NULL;
    int64_t epoch = 0, id = 0;
    struct store *s = open_with_job(&l, &epoch, &id);
    struct store_note n = {id, 1, "Suspended", "Suspended", "suspended in east"};
    bool noted = true;
    struct err e = {0};

    /* An older attempt's pods say nothing about this one. */
    ck_assert_int_eq(store_job_note(s, epoch, &n, &noted, &e), 0);
    ck_assert(!noted);
    /* A superseded leader writes nothing. */
    n.attempt = 2;
    ck_assert_int_eq(store_job_note(s, epoch + 1, &n, &noted, &e), -1);
    ck_assert_int_eq(e.code, ERR_CONFLICT);
    ck_assert_str_eq(e.field, "leader.epoch");
    /* A finished job keeps its final status. */
    free(itest_sql(dsn, "UPDATE jobs SET phase = 'Failed', reason = 'BackoffLimitExceeded'"));
    noted = true;
    ck_assert_int_eq(store_job_note(s, epoch, &n, &noted, &e), 0);
    ck_assert(!noted);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM job_events"), 0);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM jobs WHERE reason = 'BackoffLimitExceeded'"),
                     1);
    /* A note without words is refused, naming the field. */
    n.message = NULL;
    ck_assert_int_eq(store_job_note(s, epoch, &n, &noted, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_str_eq(e.field, "note");
    store_leader_close(&l);
    store_close(&s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("diagnosis");
    TCase *tc = tcase_create("notes");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_note_sets_the_status_and_adds_one_event);
    tcase_add_test(tc, a_note_needs_the_attempt_the_phase_and_the_epoch);
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
