/* test_store.c -- store/store.c against a real PostgreSQL: how database errors become err
 * codes. The other store modules are tested through the API and the scheduler. */
#include "tests/support/itest.h"

#include "base/err.h"
#include "base/job.h"
#include "base/sha256.h"
#include "store/store.h"
#include "tests/support/defaults.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dsn[1024]; /* of the last database open_fresh() made */

static struct store *open_fresh(void)
{
    struct store_config sc = {0};
    struct store *s = NULL;
    struct err e = {0};

    itest_create_db(dsn, sizeof(dsn));
    defaults_store(&sc, dsn, 2);
    ck_assert_int_eq(store_open(&sc, &s, &e), 0);
    ck_assert_msg(store_migrate(s, NULL, &e) == 0, "%s", e.msg);
    return s;
}

/* A unique violation (SQLSTATE 23505) is ERR_CONFLICT. The SQLSTATE used to be read after
 * PQclear() had freed it: fuzz_request found the heap-use-after-free (ASan) on the first
 * failing statement; under `make asan` or valgrind this test fails without the fix. */
START_TEST(unique_violation_is_conflict)
{
    struct store *s = open_fresh();
    char hash[2 * SHA256_LEN + 1];
    struct err e = {0};

    sha256_hex("fst_test", 8, hash);
    ck_assert_int_eq(store_token_create(s, "twice", "admin", NULL, 0, hash, &e), 0);
    ck_assert_int_eq(store_token_create(s, "twice", "admin", NULL, 0, hash, &e), -1);
    ck_assert_int_eq(e.code, ERR_CONFLICT);
    store_close(&s);
}
END_TEST

/* Bytes PostgreSQL refuses (invalid UTF-8 in a parameter, SQLSTATE 22021) are an error
 * that names the state, not a crash: GET /v1/clusters/%ff reached exactly this. */
START_TEST(refused_bytes_are_an_error_naming_the_state)
{
    struct store *s = open_fresh();
    struct store_cluster *c = NULL;
    struct job *j = NULL;
    struct err e = {0};

    ck_assert_int_eq(store_cluster_get(s, "bad\xff", &c, &e), -1);
    ck_assert_int_eq(e.code, ERR_INTERNAL);
    ck_assert_msg(strstr(e.msg, "22021") != NULL, "%s", e.msg);
    ck_assert_ptr_null(c);
    memset(&e, 0, sizeof(e));
    ck_assert_int_eq(store_job_get(s, "maps-team", "x\xc3", &j, &e), -1);
    ck_assert_int_eq(e.code, ERR_INTERNAL);
    ck_assert_msg(strstr(e.msg, "22021") != NULL, "%s", e.msg);
    /* The connection is fine afterwards. */
    ck_assert_int_eq(store_ping(s, &e), 0);
    store_close(&s);
}
END_TEST

struct reader_arg {
    struct store *s;
    int id;
    int wrong;
};

/* Reads its own job and a missing one, 200 times: with eight threads at once the reads
 * are coalesced, and each caller must still get exactly its own row. */
static void *read_own(void *arg)
{
    struct reader_arg *a = arg;
    char name[32];

    snprintf(name, sizeof(name), "job-%d", a->id);
    for (int i = 0; i < 200; i++) {
        struct job *j = NULL;
        struct err e = {0};

        if (store_job_get(a->s, "reads", name, &j, &e) || strcmp(j->name, name) != 0)
            a->wrong++;
        job_free(&j);
        if (store_job_get(a->s, "reads", "missing", &j, &e) == 0 || e.code != ERR_NOT_FOUND)
            a->wrong++;
        job_free(&j);
    }
    return NULL;
}

START_TEST(coalesced_reads_give_each_caller_its_own_row)
{
    struct store *s = open_fresh();
    struct reader_arg args[8];
    pthread_t t[8];
    char sql[256];

    for (int i = 0; i < 8; i++) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO jobs (namespace, name, api_version, labels, spec, priority,"
                 " preemptible, sku, gpu_count, gpus_per_worker) VALUES ('reads', 'job-%d',"
                 " 'fedsched.io/v1', '{}', '{}', 0, false, 'a100-80gb', 8, 8)",
                 i);
        free(itest_sql(dsn, sql));
    }
    for (int i = 0; i < 8; i++) {
        args[i] = (struct reader_arg){.s = s, .id = i};
        pthread_create(&t[i], NULL, read_own, &args[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(args[i].wrong, 0);
    }
    store_close(&s);
}
END_TEST

/* The store keeps no defaults of its own (they are the configuration table's): options
 * without timeouts are refused, naming the section, rather than quietly made up. */
START_TEST(options_without_timeouts_are_refused)
{
    struct store_config sc = {.dsn = "host=127.0.0.1 port=1", .pool_size = 1};
    struct store *s = NULL;
    struct err e = {0};

    ck_assert_int_eq(store_open(&sc, &s, &e), -1);
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_str_eq(e.field, "database");
    ck_assert_ptr_null(s);
    defaults_store(&sc, "host=127.0.0.1 port=1", 1);
    ck_assert_int_eq(store_open(&sc, &s, &e), 0); /* connects lazily */
    store_close(&s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("errors");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, options_without_timeouts_are_refused);
    tcase_add_test(tc, unique_violation_is_conflict);
    tcase_add_test(tc, refused_bytes_are_an_error_naming_the_state);
    tcase_add_test(tc, coalesced_reads_give_each_caller_its_own_row);
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
