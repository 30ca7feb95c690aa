/* test_bench_runner.c -- `make bench` (tests/bench/run-bench.sh) fails loudly: a build
 * directory holding fake benches shows that a bench missing its target in full mode makes
 * the runner exit non-zero even when a later bench passes, that a met target exits 0, that
 * smoke mode reports a miss without failing but still fails a broken run, and that a
 * failed migration stops the runner. The fake `fedsched` records the DSN it migrates, so the
 * runner is seen to use FEDSCHED_TEST_DSN instead of starting PostgreSQL. Not a test of
 * the real benches' figures (they need minutes and a quiet machine). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DSN "postgresql://fake@127.0.0.1:1/none"

static char build[64];

static void put(const char *rel, const char *text)
{
    char path[256], dir[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", build, rel);
    snprintf(dir, sizeof(dir), "%s", path);
    *strrchr(dir, '/') = '\0';
    /* mkdir -p, below the temporary directory. */
    for (char *slash = dir + strlen(build) + 1; (slash = strchr(slash, '/')) != NULL; slash++) {
        *slash = '\0';
        mkdir(dir, 0755);
        *slash = '/';
    }
    mkdir(dir, 0755);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(chmod(path, 0755), 0);
}

/* A BUILD-like directory: fedsched (only `migrate`), a bench with one target whose figure
 * comes from FAKE_FIGURE (target: under 100), and a bench that always meets its target,
 * sorted after the first so a later success must not hide an earlier failure. */
static void make_build(void)
{
    snprintf(build, sizeof(build), "/tmp/fedsched-bench-runner-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(build));
    put("fedsched", "#!/bin/sh\n"
                    "[ \"$1\" = migrate ] || exit 2\n"
                    "[ -z \"$FAKE_MIGRATE_FAIL\" ] || exit 1\n"
                    "echo \"$FEDSCHED_DATABASE_DSN\" > \"$0.migrated\"\n");
    put("tests/bench/bench_a_target",
        "#!/bin/sh\n"
        "# Like the real benches: a figure beside its target; a miss fails a full run only.\n"
        "[ -z \"$FAKE_BROKEN\" ] || { echo 'fake: the run broke' >&2; exit 2; }\n"
        "fig=${FAKE_FIGURE:?}\n"
        "if [ \"$fig\" -lt 100 ]; then echo \"fake: $fig ms (target < 100 ms) ok\"; exit 0; fi\n"
        "echo \"fake: $fig ms (target < 100 ms) OVER TARGET\"\n"
        "[ \"${BENCH_MODE:-full}\" = smoke ] && exit 0\n"
        "exit 1\n");
    put("tests/bench/bench_z_ok", "#!/bin/sh\necho 'always: 1 ms (target < 100 ms) ok'\n");
}

static void remove_build(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", build);
    ck_assert_int_eq(system(cmd), 0);
}

/* Runs the runner from the source tree with BUILD pointing at the fake directory and the
 * given extra environment ("A=1 B=2"); returns its exit status, its output in out. */
static int run_bench(const char *env, char *out, size_t size)
{
    char cmd[1024];
    size_t n;
    FILE *p;
    int st;

    snprintf(cmd, sizeof(cmd),
             "cd '%s' && env -u BENCH_MODE -u FAKE_FIGURE -u FAKE_BROKEN -u FAKE_MIGRATE_FAIL "
             "BUILD='%s' FEDSCHED_TEST_DSN='" DSN "' %s tests/bench/run-bench.sh 2>&1",
             getenv("FEDSCHED_SRC"), build, env);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    st = pclose(p);
    ck_assert_msg(WIFEXITED(st), "runner did not exit: %s", out);
    return WEXITSTATUS(st);
}

static void assert_migrated(void)
{
    char path[128], line[256] = "";
    FILE *f;

    snprintf(path, sizeof(path), "%s/fedsched.migrated", build);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "the runner did not migrate");
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
    ck_assert_str_eq(line, DSN);
}

START_TEST(a_missed_target_fails_a_full_run)
{
    char out[4096];
    int rc;

    make_build();
    rc = run_bench("FAKE_FIGURE=150", out, sizeof(out));
    ck_assert_msg(rc != 0, "exit %d with a missed target: %s", rc, out);
    ck_assert_msg(strstr(out, "OVER TARGET") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "bench bench_a_target failed") != NULL, "%s", out);
    /* The later benches still ran, and their success did not reset the status. */
    ck_assert_msg(strstr(out, "== bench_z_ok (full)") != NULL, "%s", out);
    assert_migrated();
    remove_build();
}
END_TEST

START_TEST(a_met_target_passes_a_full_run)
{
    char out[4096];
    int rc;

    make_build();
    rc = run_bench("FAKE_FIGURE=50", out, sizeof(out));
    ck_assert_msg(rc == 0, "exit %d with every target met: %s", rc, out);
    ck_assert_msg(strstr(out, "== bench_a_target (full)") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "== bench_z_ok (full)") != NULL, "%s", out);
    assert_migrated();
    remove_build();
}
END_TEST

START_TEST(smoke_reports_a_miss_and_fails_a_broken_run)
{
    char out[4096];
    int rc;

    make_build();
    rc = run_bench("BENCH_MODE=smoke FAKE_FIGURE=150", out, sizeof(out));
    ck_assert_msg(rc == 0, "smoke exit %d on a missed target: %s", rc, out);
    ck_assert_msg(strstr(out, "OVER TARGET") != NULL, "%s", out);
    rc = run_bench("BENCH_MODE=smoke FAKE_FIGURE=50 FAKE_BROKEN=1", out, sizeof(out));
    ck_assert_msg(rc != 0, "smoke exit %d on a broken run: %s", rc, out);
    ck_assert_msg(strstr(out, "bench bench_a_target failed (exit 2)") != NULL, "%s", out);
    remove_build();
}
END_TEST

START_TEST(a_failed_migration_stops_the_runner)
{
    char out[4096];
    int rc;

    make_build();
    rc = run_bench("FAKE_FIGURE=50 FAKE_MIGRATE_FAIL=1", out, sizeof(out));
    ck_assert_msg(rc != 0, "exit %d after a failed migration: %s", rc, out);
    ck_assert_msg(strstr(out, "== bench_") == NULL, "benches ran without a schema: %s", out);
    remove_build();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bench_runner");
    TCase *tc = tcase_create("bench_runner");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, a_missed_target_fails_a_full_run);
    tcase_add_test(tc, a_met_target_passes_a_full_run);
    tcase_add_test(tc, smoke_reports_a_miss_and_fails_a_broken_run);
    tcase_add_test(tc, a_failed_migration_stops_the_runner);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
