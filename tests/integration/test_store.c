/* test_store.c -- store/store.c against a real PostgreSQL: how database errors become err
 * codes. The other store modules are tested through the API and the scheduler. */
#include "tests/support/itest.h"

#include "base/err.h"
#include "base/job.h"
#include "base/sha256.h"
#include "store/store.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static struct store *open_fresh(void)
{
    static char dsn[1024];
    struct store_config sc = {0};
    struct store *s = NULL;
    struct err e = {0};

    itest_create_db(dsn, sizeof(dsn));
    sc.dsn = dsn;
    sc.pool_size = 2;
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

static Suite *suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("errors");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, unique_violation_is_conflict);
    tcase_add_test(tc, refused_bytes_are_an_error_naming_the_state);
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
