/* test_cli_yaml.c -- the CLI with YAML, against a real server and PostgreSQL: a two-document
 * YAML file submits both jobs, a syntax error names line and column and submits nothing,
 * the first refused document stops the run, get -o yaml|wide and events, and the bash
 * completion script sourced in a real bash completing verbs and job names. */
#include "tests/support/itest.h"

#include "base/err.h"
#include "base/mem.h"
#include "client/yaml.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct itest_server srv;
static char dsn[1024];

static void suite_setup(void)
{
    itest_create_db(dsn, sizeof(dsn));
    itest_server_start(&srv, dsn, NULL, 1);
}

static void suite_teardown(void)
{
    itest_server_stop(&srv, SIGTERM);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *data;
    long n;

    if (!f)
        return xstrdup("");
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = xmalloc((size_t)n + 1);
    n = (long)fread(data, 1, (size_t)n, f);
    data[n] = '\0';
    fclose(f);
    return data;
}

/* Runs fedsched args against the test server; returns the exit code, *out and *err (may
 * be NULL) get stdout and stderr. */
static int cli(const char *const *args, char **out, char **err)
{
    char o[128], e[128];
    const char *argv[32];
    int n = 0, status = 0;
    pid_t pid;

    snprintf(o, sizeof(o), "/tmp/fedsched-cliyaml-%d.out", (int)getpid());
    snprintf(e, sizeof(e), "/tmp/fedsched-cliyaml-%d.err", (int)getpid());
    argv[n++] = "fedsched";
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(e, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        dup2(fo, 1);
        dup2(fe, 2);
        setenv("FEDSCHED_URL", srv.base, 1);
        unsetenv("FEDSCHED_NAMESPACE");
        execv(getenv("FEDSCHED_BIN"), (char *const *)argv);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (out)
        *out = slurp(o);
    if (err)
        *err = slurp(e);
    unlink(o);
    unlink(e);
    ck_assert_msg(WIFEXITED(status), "fedsched did not exit normally (status %d)", status);
    return WEXITSTATUS(status);
}

static char *write_file(const char *tag, const char *text)
{
    char *path = xasprintf("/tmp/fedsched-cliyaml-%s-%d.yaml", tag, (int)getpid());
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static char *count_jobs(const char *ns)
{
    char sql[256];

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM jobs WHERE namespace = '%s'", ns);
    return itest_sql(dsn, sql);
}

#define HEAD "apiVersion: fedsched.io/v1\nkind: TrainingJob\n"

/* Two jobs in YAML, sharing their resources through an anchor. */
static const char two_jobs[] = "# two jobs in one file\n"
                               "apiVersion: fedsched.io/v1\n"
                               "kind: TrainingJob\n"
                               "metadata:\n"
                               "  name: yaml-a\n"
                               "spec:\n"
                               "  resources: &res\n"
                               "    instanceType: a100-80gb\n"
                               "    gpuCount: 8\n"
                               "  code:\n"
                               "    image: 't:1'\n"
                               "---\n"
                               "apiVersion: fedsched.io/v1\n"
                               "kind: TrainingJob\n"
                               "metadata: {name: yaml-b}\n"
                               "spec:\n"
                               "  resources: {instanceType: a100-80gb, gpuCount: 16}\n"
                               "  code: {image: \"t:2\"}\n";

START_TEST(two_document_yaml_submits_both)
{
    char *file = write_file("two", two_jobs), *out = NULL, *n;
    const char *sub[] = {"submit", "-n", "yml-two", "-f", file, NULL};
    const char *get_yaml[] = {"get", "-n", "yml-two", "yaml-b", "-o", "yaml", NULL};
    const char *get_wide[] = {"get", "-n", "yml-two", "yaml-a", "-o", "wide", NULL};
    const char *events[] = {"events", "-n", "yml-two", "yaml-a", NULL};
    json_t *docs = NULL, *res;
    struct err e = {0};

    ck_assert_int_eq(cli(sub, &out, NULL), 0);
    ck_assert_str_eq(out, "trainingjob yml-two/yaml-a created\n"
                          "trainingjob yml-two/yaml-b created\n");
    free(out);
    n = count_jobs("yml-two");
    ck_assert_str_eq(n, "2");
    free(n);
    n = itest_sql(dsn, "SELECT string_agg(name || ':' || gpu_count, ',' ORDER BY name) FROM "
                       "jobs WHERE namespace = 'yml-two'");
    ck_assert_str_eq(n, "yaml-a:8,yaml-b:16");
    free(n);

    /* get -o yaml reads back as the job. */
    ck_assert_int_eq(cli(get_yaml, &out, NULL), 0);
    ck_assert_msg(yaml_parse_all(out, strlen(out), &docs, &e) == 0, "%s\n%s", e.msg, out);
    ck_assert_uint_eq(json_array_size(docs), 1);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_array_get(docs, 0), "metadata"), "name")),
                     "yaml-b");
    res = json_object_get(json_object_get(json_array_get(docs, 0), "spec"), "resources");
    ck_assert_int_eq(json_integer_value(json_object_get(res, "gpuCount")), 16);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_array_get(docs, 0), "status"), "phase")),
                     "Queued");
    json_decref(docs);
    free(out);

    /* -o wide has the extra columns; events has the submission. */
    ck_assert_int_eq(cli(get_wide, &out, NULL), 0);
    ck_assert_msg(strstr(out, "PRIORITY") && strstr(out, "ATTEMPT") && strstr(out, "PREEMPTIONS") &&
                      strstr(out, "REASON") && strstr(out, "yaml-a"),
                  "%s", out);
    free(out);
    ck_assert_int_eq(cli(events, &out, NULL), 0);
    ck_assert_msg(strncmp(out, "TIME", 4) == 0 && strstr(out, "Submitted") && strstr(out, "Queued"),
                  "%s", out);
    free(out);
    unlink(file);
    free(file);
}
END_TEST

START_TEST(yaml_syntax_error_names_line_and_column)
{
    /* Line 4 is indented by one space less than its siblings. */
    char *file = write_file("bad", "apiVersion: fedsched.io/v1\n"
                                   "metadata:\n"
                                   "  name: yaml-bad\n"
                                   " namespace: x\n"
                                   "spec: {}\n"),
         *err = NULL, *n;
    const char *sub[] = {"submit", "-n", "yml-bad", "-f", file, NULL};

    ck_assert_int_eq(cli(sub, NULL, &err), 2);
    ck_assert_msg(strstr(err, "line 4, column 2: did not find expected key"), "stderr: %s", err);
    ck_assert_ptr_nonnull(strstr(err, file));
    free(err);
    n = count_jobs("yml-bad");
    ck_assert_str_eq(n, "0");
    free(n);
    unlink(file);
    free(file);
}
END_TEST

START_TEST(the_first_refused_document_stops_the_run)
{
    char *file = write_file("stop", HEAD "metadata: {name: ok-1}\n"
                                         "spec: {resources: {instanceType: a100-80gb, gpuCount: 8},"
                                         " code: {image: 't:1'}}\n"
                                         "---\n" HEAD "metadata: {name: bad-2}\n"
                                         "spec: {resources: {instanceType: a100-80gb, gpuCount: 0},"
                                         " code: {image: 't:1'}}\n"
                                         "---\n" HEAD "metadata: {name: never-3}\n"
                                         "spec: {resources: {instanceType: a100-80gb, gpuCount: 8},"
                                         " code: {image: 't:1'}}\n"),
         *err = NULL, *n;
    const char *sub[] = {"submit", "-n", "yml-stop", "-f", file, NULL};

    ck_assert_int_eq(cli(sub, NULL, &err), 3);
    ck_assert_msg(strstr(err, "document 2 of 3 (yml-stop/bad-2): 422 invalid: "
                              "spec.resources.gpuCount") &&
                      strstr(err, "stopped at document 2 of 3; the 1 before it stay submitted"),
                  "stderr: %s", err);
    free(err);
    n = itest_sql(dsn, "SELECT string_agg(name, ',') FROM jobs WHERE namespace = 'yml-stop'");
    ck_assert_str_eq(n, "ok-1");
    free(n);
    unlink(file);
    free(file);
}
END_TEST

/* Sources `fedsched completion bash` in bash --norc, sets COMP_WORDS to words (a bash
 * array body) and prints COMPREPLY one per line, after `complete -p fedsched`. */
static char *complete_in_bash(const char *words)
{
    char *script = xasprintf("/tmp/fedsched-cliyaml-compl-%d.bash", (int)getpid());
    char *bin = xstrdup(getenv("FEDSCHED_BIN")), *cmd, *out = NULL;
    const char *args[] = {"completion", "bash", NULL};
    char text[8192];
    size_t len = 0, got;
    FILE *p, *f;

    ck_assert_int_eq(cli(args, &out, NULL), 0);
    f = fopen(script, "w");
    ck_assert_ptr_nonnull(f);
    fputs(out, f);
    fclose(f);
    free(out);
    cmd = xasprintf("env -i PATH='%s:/usr/bin:/bin' FEDSCHED_URL='%s' FEDSCHED_NAMESPACE=yml-two "
                    "bash --norc --noprofile -c 'source %s && complete -p fedsched && "
                    "COMP_WORDS=(%s) && COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) && _fedsched && "
                    "printf \"%%s\\n\" \"${COMPREPLY[@]}\"' 2>&1",
                    dirname(bin), srv.base, script, words);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    while ((got = fread(text + len, 1, sizeof(text) - 1 - len, p)) > 0)
        len += got;
    text[len] = '\0';
    ck_assert_int_eq(pclose(p), 0);
    unlink(script);
    free(script);
    free(cmd);
    free(bin);
    return xstrdup(text);
}

START_TEST(bash_completion_completes_verbs_and_job_names)
{
    char *file = write_file("compl-jobs", two_jobs), *out;
    char *other = write_file("compl-other", HEAD "metadata: {name: other-1}\n"
                                                 "spec: {resources: {instanceType: a100-80gb, "
                                                 "gpuCount: 8}, code: {image: 't:1'}}\n");
    const char *sub[] = {"submit", "-n", "yml-two", "-f", file, NULL};
    const char *sub_other[] = {"submit", "-n", "yml-other", "-f", other, NULL};

    /* Created, or unchanged after two_document_yaml_submits_both: either is fine. */
    ck_assert_int_eq(cli(sub, NULL, NULL), 0);
    ck_assert_int_eq(cli(sub_other, NULL, NULL), 0);
    out = complete_in_bash("fedsched g");
    ck_assert_msg(strstr(out, "complete -F _fedsched fedsched\n") && strstr(out, "\nget\n"), "%s",
                  out);
    ck_assert_msg(!strstr(out, "submit"), "only verbs starting with g: %s", out);
    free(out);
    out = complete_in_bash("fedsched c");
    ck_assert_msg(strstr(out, "\ncancel\n") && strstr(out, "\ncompletion\n") &&
                      strstr(out, "\ncluster\n") && strstr(out, "\nclusters\n") &&
                      strstr(out, "\ncapacity\n"),
                  "%s", out);
    free(out);
    out = complete_in_bash("fedsched e");
    ck_assert_msg(strstr(out, "\nevents\n") && strstr(out, "\nexplain\n"), "%s", out);
    free(out);
    out = complete_in_bash("fedsched q");
    ck_assert_msg(strstr(out, "\nquotas\n"), "%s", out);
    free(out);
    /* Job names from the server, in FEDSCHED_NAMESPACE and in -n's namespace. */
    out = complete_in_bash("fedsched get \"\"");
    ck_assert_msg(strstr(out, "\nyaml-a\n") && strstr(out, "\nyaml-b\n"), "%s", out);
    free(out);
    out = complete_in_bash("fedsched events -n yml-other o");
    ck_assert_msg(strstr(out, "\nother-1\n") && !strstr(out, "yaml-a"), "%s", out);
    free(out);
    out = complete_in_bash("fedsched cluster add c1 --kube");
    ck_assert_msg(strstr(out, "\n--kubeconfig\n"), "%s", out);
    free(out);
    out = complete_in_bash("fedsched cluster n");
    ck_assert_msg(strstr(out, "\nnodes\n"), "%s", out);
    free(out);
    out = complete_in_bash("fedsched cluster nodes c1 --chunk");
    ck_assert_msg(strstr(out, "\n--chunk-size\n"), "%s", out);
    free(out);
    out = complete_in_bash("fedsched capacity --po");
    ck_assert_msg(strstr(out, "\n--pool\n"), "%s", out);
    free(out);
    out = complete_in_bash("fedsched get -o y");
    ck_assert_msg(strstr(out, "\nyaml\n") && !strstr(out, "json"), "%s", out);
    free(out);
    unlink(file);
    free(file);
    unlink(other);
    free(other);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_yaml");
    TCase *tc = tcase_create("yaml");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, two_document_yaml_submits_both);
    tcase_add_test(tc, yaml_syntax_error_names_line_and_column);
    tcase_add_test(tc, the_first_refused_document_stops_the_run);
    tcase_add_test(tc, bash_completion_completes_verbs_and_job_names);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
