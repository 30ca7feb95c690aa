/* test_sim_binary.c -- `fedsched sim` as a process: it prints its clusters, writes the
 * member-cluster configs (--clusters-out) that fedsched reads, serves them until SIGTERM,
 * and the poller finds every cluster Ready through those configs. */
#include "base/clock.h"
#include "base/err.h"
#include "cluster/cluster_config.h"
#include "cluster/secrets.h"
#include "cluster/poller.h"
#include "tests/support/k8s_fixture.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void binary(char *out, size_t size)
{
    const char *bin = getenv("FEDSCHED_BIN");
    const char *src = getenv("FEDSCHED_SRC");

    if (bin && *bin)
        snprintf(out, size, "%s", bin);
    else
        snprintf(out, size, "%s/build/fedsched", src && *src ? src : ".");
}

START_TEST(serves_until_sigterm_with_usable_configs)
{
    char bin[1024], scenario[1024], dir[] = "/tmp/fedsched-simbin-XXXXXX", out[1200], log[1200];
    struct cluster_config cfgs[3];
    struct poller *p = NULL;
    struct err e = {0};
    const struct cluster_snapshot *s;
    json_t *root = NULL, *c;
    pid_t pid;
    int status = 0, lines = 0;
    size_t i;
    FILE *f;
    char line[512];

    binary(bin, sizeof(bin));
    k8s_fixture_path("sim/faults.json", scenario, sizeof(scenario));
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(out, sizeof(out), "%s/clusters.json", dir);
    snprintf(log, sizeof(log), "%s/sim.log", dir);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (!freopen(log, "w", stdout))
            _exit(127);
        execl(bin, bin, "sim", "--scenario", scenario, "--clusters-out", out, (char *)NULL);
        _exit(127);
    }
    for (int t = 0; t < 200 && access(out, R_OK) != 0; t++)
        usleep(25000);
    ck_assert_msg(access(out, R_OK) == 0, "%s wrote no %s", bin, out);
    usleep(100000);
    f = fopen(log, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f))
        lines += strncmp(line, "cluster ", 8) == 0 && strstr(line, "http://127.0.0.1:");
    fclose(f);
    ck_assert_int_eq(lines, 3);

    root = json_load_file(out, 0, NULL);
    ck_assert_int_eq(json_array_size(json_object_get(root, "clusters")), 3);
    json_array_foreach(json_object_get(root, "clusters"), i, c)
    {
        ck_assert_msg(cluster_config_from_json(c, sku_defaults(), &cfgs[i], &e) == 0, "%s", e.msg);
    }
    json_decref(root);
    ck_assert(cfgs[1].serving.enabled); /* beta has serving nodes */
    ck_assert(cfgs[0].token_file[0]);   /* alpha needs a token */
    /* The simulator writes token files beside its clusters file: our secrets directory. */
    ck_assert_int_eq(cluster_secrets_set_dir(dir, &e), 0);
    ck_assert_int_eq(poller_create(cfgs, 3, NULL, &p, &e), 0);
    ck_assert_int_eq(poller_poll_once(p, &e), 0);
    s = poller_read_begin(p);
    for (i = 0; i < 3; i++)
        ck_assert_msg(s->snap->clusters[i].health == SNAPSHOT_HEALTH_READY, "%s: %s",
                      s->snap->clusters[i].name, s->status[i].last_error);
    ck_assert_int_eq(s->snap->n_nodes, 5 + 7 + 3);
    poller_read_end(p);
    poller_free(&p);

    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    for (i = 0; i < 3; i++)
        if (cfgs[i].token_file[0])
            unlink(cfgs[i].token_file);
    unlink(out);
    unlink(log);
    rmdir(dir);
}
END_TEST

START_TEST(bad_arguments_exit_2)
{
    char bin[1024], cmd[1400];

    binary(bin, sizeof(bin));
    snprintf(cmd, sizeof(cmd), "%s sim --port nope --scenario x >/dev/null 2>&1", bin);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof(cmd), "%s sim >/dev/null 2>&1", bin);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof(cmd), "%s sim --scenario /nonexistent.json >/dev/null 2>&1", bin);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 1);
    snprintf(cmd, sizeof(cmd), "%s sim --help | grep -q -- --clusters-out", bin);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_binary");
    TCase *tc = tcase_create("process");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, serves_until_sigterm_with_usable_configs);
    tcase_add_test(tc, bad_arguments_exit_2);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
