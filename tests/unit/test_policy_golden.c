/* test_policy_golden.c -- every scenario in testdata/policy/ (one .json per scenario): its input through
 * policy_decide(), cycle by cycle, must give exactly the expected decisions. */
#include "base/err.h"
#include "tests/support/policy_scenario.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SCENARIOS 256

static char *paths[MAX_SCENARIOS];
static int n_paths;

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_scenarios(void)
{
    const char *src = getenv("FEDSCHED_SRC");
    char dir[1024];
    DIR *d;
    struct dirent *de;

    snprintf(dir, sizeof(dir), "%s/testdata/policy", src ? src : ".");
    d = opendir(dir);
    if (!d)
        return;
    while ((de = readdir(d)) && n_paths < MAX_SCENARIOS) {
        size_t len = strlen(de->d_name);

        if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0) {
            char p[1400];

            snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
            paths[n_paths++] = strdup(p);
        }
    }
    closedir(d);
    qsort(paths, (size_t)n_paths, sizeof(*paths), cmp_path);
}

START_TEST(test_scenario)
{
    struct policy_scenario *sc = NULL;
    struct err e;
    char msg[4096];

    ck_assert_msg(_i < n_paths, "scenario %d missing", _i);
    ck_assert_msg(policy_scenario_load(paths[_i], &sc, &e) == 0, "%s: %s", paths[_i], e.msg);
    for (size_t c = 0; c < policy_scenario_cycles(sc); c++) {
        msg[0] = '\0';
        ck_assert_msg(policy_scenario_run(sc, c, msg, sizeof(msg)) == 0, "%s: %s", paths[_i], msg);
    }
    policy_scenario_free(&sc);
}
END_TEST

START_TEST(test_enough_scenarios)
{
    /* The issue asks for at least 30 scenarios covering every rule. */
    ck_assert_int_ge(n_paths, 30);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("policy_golden");
    TCase *tc = tcase_create("scenarios");

    list_scenarios();
    tcase_add_test(tc, test_enough_scenarios);
    tcase_add_loop_test(tc, test_scenario, 0, n_paths > 0 ? n_paths : 1);
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
    for (int i = 0; i < n_paths; i++)
        free(paths[i]);
    return failed ? 1 : 0;
}
