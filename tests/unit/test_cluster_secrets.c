/* test_cluster_secrets.c -- credential files only from the secrets directory: the path
 * check (cluster/secrets.c), the token and CA readers that re-check it at every read
 * (cluster/credentials.c) and the config-level check the admin API runs (cluster_config.c). */
#include "base/err.h"
#include "cluster/cluster_config.h"
#include "cluster/secrets.h"
#include "cluster/credentials.h"
#include "cmd/config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* base/                  the temporary root
 *   outside.token        a secret that is not in the secrets directory
 *   secrets/             the secrets directory
 *     a.token            a valid token
 *     sub/b.token        a valid token one level down
 *   secrets-evil/x.token a sibling whose name starts like the secrets directory */
static char base[64], dir[128], path[256];

static const char *at(const char *rel)
{
    snprintf(path, sizeof(path), "%s/%s", base, rel);
    return path;
}

/* symlink(base/target, base/name); target as given when absolute. */
static void link_to(const char *target, const char *name)
{
    char t[256];

    if (target[0] == '/')
        snprintf(t, sizeof(t), "%s", target);
    else
        snprintf(t, sizeof(t), "%s/%s", base, target);
    ck_assert_msg(symlink(t, at(name)) == 0, "symlink %s: %s", name, strerror(errno));
}

static void write_file(const char *rel, const char *text)
{
    FILE *f = fopen(at(rel), "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    snprintf(base, sizeof(base), "/tmp/fedsched-secrets-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(base));
    ck_assert_int_eq(chmod(base, 0755), 0);
    snprintf(dir, sizeof(dir), "%s/secrets", base);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    ck_assert_int_eq(mkdir(at("secrets/sub"), 0755), 0);
    ck_assert_int_eq(mkdir(at("secrets-evil"), 0755), 0);
    write_file("outside.token", "OUTSIDE-SECRET\n");
    write_file("secrets/a.token", "token-a\n");
    write_file("secrets/sub/b.token", "token-b");
    write_file("secrets-evil/x.token", "EVIL-SECRET\n");
    ck_assert_int_eq(cluster_secrets_set_dir(dir, NULL), 0);
}

static void teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
    ck_assert_int_eq(system(cmd), 0);
}

/* Reads p through the secrets directory; returns the error (code ERR_NONE on success). */
static struct err read_err(const char *p)
{
    struct err e = {0};
    struct stat st;
    char *out = NULL;
    size_t len = 0;

    if (cluster_secrets_read(dir, p, "tokenFile", CLUSTER_TOKEN_MAX, &out, &len, &st, &e) == 0) {
        ck_assert_ptr_nonnull(out);
        free(out);
        e.code = ERR_NONE;
    } else {
        ck_assert_ptr_null(out);
    }
    return e;
}

/* p is refused with ERR_INVALID naming tokenFile, quoting p and with `want` in the message;
 * nothing of what any file holds shows in it. */
static void refused(const char *p, const char *want)
{
    struct err e = read_err(p);
    struct stat st;

    ck_assert_msg(e.code == ERR_INVALID, "%s was read", p);
    ck_assert_str_eq(e.field, "tokenFile");
    ck_assert_msg(strstr(e.msg, p), "message does not quote %s: %s", p, e.msg);
    ck_assert_msg(strstr(e.msg, want), "message lacks \"%s\": %s", want, e.msg);
    ck_assert_ptr_null(strstr(e.msg, "SECRET"));
    ck_assert_ptr_null(strstr(e.msg, "PATH="));
    /* The cheap check the token reader runs before every read agrees, except on what
     * only reading shows (size). */
    memset(&e, 0, sizeof(e));
    if (!strstr(want, "empty") && !strstr(want, "over")) {
        ck_assert_int_eq(cluster_secrets_stat(dir, p, "tokenFile", &st, &e), -1);
        ck_assert_str_eq(e.field, "tokenFile");
    }
}

START_TEST(inside_is_read)
{
    char resolved[PATH_MAX], *out = NULL, abs[200];
    struct err e = {0};
    struct stat st;
    size_t len = 0;

    ck_assert_int_eq(
        cluster_secrets_resolve(dir, "a.token", "tokenFile", resolved, sizeof(resolved), &e), 0);
    ck_assert_str_eq(resolved, at("secrets/a.token"));
    ck_assert_int_eq(cluster_secrets_read(dir, "sub/b.token", "tokenFile", 64, &out, &len, &st, &e),
                     0);
    ck_assert_str_eq(out, "token-b");
    ck_assert_uint_eq(len, 7);
    free(out);
    /* Absolute inside, and `..` that stays inside. */
    snprintf(abs, sizeof(abs), "%s/a.token", dir);
    ck_assert_int_eq(read_err(abs).code, ERR_NONE);
    ck_assert_int_eq(read_err("sub/../a.token").code, ERR_NONE);
    /* Symlinks that stay inside are fine (Kubernetes secret volumes are built of them). */
    ck_assert_int_eq(symlink("sub/b.token", at("secrets/link.token")), 0);
    ck_assert_int_eq(read_err("link.token").code, ERR_NONE);
}
END_TEST

START_TEST(dotdot_escape_is_refused)
{
    refused("../outside.token", "outside the secrets directory");
    refused("sub/../../outside.token", "outside the secrets directory");
    refused("../../../../../../etc/passwd", "outside the secrets directory");
}
END_TEST

START_TEST(absolute_outside_is_refused)
{
    char p[200];

    snprintf(p, sizeof(p), "%s/outside.token", base);
    refused(p, "outside the secrets directory");
    refused("/etc/passwd", "outside the secrets directory");
    refused("/proc/self/environ", "outside the secrets directory");
}
END_TEST

START_TEST(symlink_leading_out_is_refused)
{
    link_to("outside.token", "secrets/out.token");
    refused("out.token", "outside the secrets directory");
    link_to("/proc/self/environ", "secrets/environ");
    refused("environ", "outside the secrets directory");
    /* A directory symlink leading out, with a file name after it. */
    link_to(base, "secrets/up");
    refused("up/outside.token", "outside the secrets directory");
}
END_TEST

START_TEST(sibling_with_the_same_prefix_is_refused)
{
    char p[200];

    snprintf(p, sizeof(p), "%s/secrets-evil/x.token", base);
    refused(p, "outside the secrets directory");
    refused("../secrets-evil/x.token", "outside the secrets directory");
}
END_TEST

START_TEST(missing_directory_fifo_and_empty_are_refused)
{
    refused("missing.token", "does not exist");
    refused("sub", "a directory");
    ck_assert_int_eq(mkfifo(at("secrets/fifo"), 0600), 0);
    refused("fifo", "a FIFO"); /* and it does not block waiting for a writer */
    write_file("secrets/empty.token", "");
    refused("empty.token", "is empty");
    refused("/dev/null", "outside the secrets directory");
}
END_TEST

START_TEST(over_the_cap_is_refused)
{
    char *big = malloc(CLUSTER_TOKEN_MAX + 2);

    memset(big, 'x', CLUSTER_TOKEN_MAX + 1);
    big[CLUSTER_TOKEN_MAX + 1] = '\0';
    write_file("secrets/big.token", big);
    free(big);
    refused("big.token", "over 16384 bytes");
}
END_TEST

/* When we are root (root reads anything) the read runs in a child as nobody, so the mode
 * bits count. */
START_TEST(unreadable_is_refused)
{
    pid_t pid;
    int status = 0;

    write_file("secrets/locked.token", "token\n");
    ck_assert_int_eq(chmod(at("secrets/locked.token"), 0), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct err e;

        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(2);
        e = read_err("locked.token");
        _exit(e.code == ERR_INVALID && strcmp(e.field, "tokenFile") == 0 &&
                      strstr(e.msg, "cannot be opened") && strstr(e.msg, "locked.token")
                  ? 0
                  : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

START_TEST(secrets_dir_is_resolved_too)
{
    char linked[200];

    /* The configured directory may itself be a symlink (/etc/fedsched/secrets -> /run/...):
     * files are inside when they are inside where it leads. */
    snprintf(linked, sizeof(linked), "%s/secrets-link", base);
    ck_assert_int_eq(symlink(dir, linked), 0);
    ck_assert_int_eq(cluster_secrets_set_dir(linked, NULL), 0);
    {
        struct err e = {0};
        struct stat st;
        char *out = NULL;
        size_t len;

        ck_assert_int_eq(cluster_secrets_read(linked, "a.token", "caFile", 64, &out, &len, &st, &e),
                         0);
        free(out);
        ck_assert_int_eq(
            cluster_secrets_read(linked, "../outside.token", "caFile", 64, &out, &len, &st, &e),
            -1);
        ck_assert_str_eq(e.field, "caFile");
    }
    /* A directory that does not exist refuses every file. */
    {
        struct err e = {0};
        char resolved[PATH_MAX];

        ck_assert_int_eq(cluster_secrets_resolve(at("nowhere"), "a.token", "tokenFile", resolved,
                                                 sizeof(resolved), &e),
                         -1);
        ck_assert_ptr_nonnull(strstr(e.msg, "secrets directory"));
    }
    ck_assert_int_eq(cluster_secrets_set_dir("", NULL), -1);
}
END_TEST

/* The token reader checks the path again at every refresh: a file replaced by a symlink
 * leading out after it was first read is refused, and the old token kept. */
START_TEST(token_refresh_rechecks_the_path)
{
    struct cluster_token t = {0};
    struct err e = {0};
    bool changed = false;

    ck_assert_int_eq(cluster_token_refresh(&t, "a.token", &changed, &e), 0);
    ck_assert(changed);
    ck_assert_str_eq(t.value, "token-a");
    ck_assert_int_eq(cluster_token_refresh(&t, "a.token", &changed, &e), 0);
    ck_assert(!changed);
    ck_assert_int_eq(unlink(at("secrets/a.token")), 0);
    link_to("/proc/self/environ", "secrets/a.token");
    ck_assert_int_eq(cluster_token_refresh(&t, "a.token", &changed, &e), -1);
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_str_eq(e.field, "tokenFile");
    ck_assert_ptr_null(strstr(e.msg, "PATH="));
    ck_assert_str_eq(t.value, "token-a");
    /* A rotated token (new file, same name) is picked up. */
    ck_assert_int_eq(unlink(at("secrets/a.token")), 0);
    write_file("secrets/a.token", "token-a2\n");
    ck_assert_int_eq(cluster_token_refresh(&t, "a.token", &changed, &e), 0);
    ck_assert(changed);
    ck_assert_str_eq(t.value, "token-a2");
    cluster_token_clear(&t);
    /* Several lines are refused without quoting them. */
    write_file("secrets/two.token", "SECRET-1\nSECRET-2\n");
    ck_assert_int_eq(cluster_token_refresh(&t, "two.token", &changed, &e), -1);
    ck_assert_ptr_null(strstr(e.msg, "SECRET"));
    ck_assert_ptr_null(t.value);
}
END_TEST

START_TEST(ca_refresh_reads_from_the_secrets_dir)
{
    struct cluster_ca ca = {0};
    struct err e = {0};
    bool changed = false;

    write_file("secrets/ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    ck_assert_int_eq(cluster_ca_refresh(&ca, "ca.pem", &changed, &e), 0);
    ck_assert(changed);
    ck_assert_ptr_nonnull(strstr(ca.pem, "BEGIN CERTIFICATE"));
    ck_assert_int_eq(cluster_ca_refresh(&ca, "ca.pem", &changed, &e), 0);
    ck_assert(!changed);
    ck_assert_int_eq(cluster_ca_refresh(&ca, "/etc/ssl/certs/ca-certificates.crt", &changed, &e),
                     -1);
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_str_eq(e.field, "caFile");
    cluster_ca_clear(&ca);
    ck_assert_ptr_null(ca.pem);
}
END_TEST

/* The client certificate and key come with the CA, from the secrets directory; a rotated
 * key is read again, and clearing wipes it. */
START_TEST(tls_refresh_reads_the_client_certificate_and_key)
{
    struct cluster_config *c = calloc(1, sizeof(*c));
    struct cluster_ca ca = {0};
    struct err e = {0};
    bool changed = false;

    cluster_config_init(c);
    write_file("secrets/client.crt",
               "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n");
    write_file("secrets/client.key",
               "-----BEGIN PRIVATE KEY-----\nK1\n-----END PRIVATE KEY-----\n");
    snprintf(c->client_cert_file, sizeof(c->client_cert_file), "client.crt");
    snprintf(c->client_key_file, sizeof(c->client_key_file), "client.key");
    ck_assert_int_eq(cluster_tls_refresh(&ca, c, &changed, &e), 0);
    ck_assert(changed);
    ck_assert_ptr_nonnull(strstr(ca.cert.pem, "MIIC"));
    ck_assert_ptr_nonnull(strstr(ca.key.pem, "K1"));
    ck_assert_int_eq(cluster_tls_refresh(&ca, c, &changed, &e), 0);
    ck_assert(!changed);
    write_file("secrets/client.key",
               "-----BEGIN PRIVATE KEY-----\nK2-longer\n-----END PRIVATE KEY-----\n");
    ck_assert_int_eq(cluster_tls_refresh(&ca, c, &changed, &e), 0);
    ck_assert(changed);
    ck_assert_ptr_nonnull(strstr(ca.key.pem, "K2"));
    /* A key that leads out is refused, naming the field; the loaded one is kept. */
    snprintf(c->client_key_file, sizeof(c->client_key_file), "%s", at("outside.token"));
    ck_assert_int_eq(cluster_tls_refresh(&ca, c, &changed, &e), -1);
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_str_eq(e.field, "clientKeyFile");
    ck_assert_ptr_nonnull(ca.key.pem);
    cluster_ca_clear(&ca);
    ck_assert_ptr_null(ca.cert.pem);
    ck_assert_ptr_null(ca.key.pem);
    free(c);
}
END_TEST

START_TEST(client_cert_check_wants_a_pem_pair)
{
    struct err e = {0};

    write_file("secrets/client.crt",
               "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n");
    write_file("secrets/client.key",
               "-----BEGIN EC PRIVATE KEY-----\nK\n-----END EC PRIVATE KEY-----\n");
    ck_assert_int_eq(cluster_client_cert_check("", "", &e), 0);
    ck_assert_int_eq(cluster_client_cert_check("client.crt", "client.key", &e), 0);
    ck_assert_int_eq(cluster_client_cert_check("client.crt", "", &e), -1);
    ck_assert_str_eq(e.field, "clientKeyFile");
    ck_assert_int_eq(cluster_client_cert_check("", "client.key", &e), -1);
    ck_assert_str_eq(e.field, "clientCertificateFile");
    /* Swapped: the key file holds no certificate; the message quotes no contents. */
    ck_assert_int_eq(cluster_client_cert_check("client.key", "client.crt", &e), -1);
    ck_assert_str_eq(e.field, "clientCertificateFile");
    ck_assert_ptr_nonnull(strstr(e.msg, "holds no PEM certificate"));
    ck_assert_ptr_null(strstr(e.msg, "BEGIN"));
    ck_assert_int_eq(cluster_client_cert_check("client.crt", "missing.key", &e), -1);
    ck_assert_str_eq(e.field, "clientKeyFile");
    ck_assert_ptr_nonnull(strstr(e.msg, "missing.key"));
}
END_TEST

/* What PUT /v1/clusters/{name} and the config file's clusters go through. */
START_TEST(config_check_names_the_field)
{
    struct cluster_config *c = calloc(1, sizeof(*c));
    struct err e = {0};

    cluster_config_init(c);
    ck_assert_int_eq(cluster_config_check_files(c, &e), 0); /* neither file: nothing to read */
    snprintf(c->token_file, sizeof(c->token_file), "a.token");
    ck_assert_int_eq(cluster_config_check_files(c, &e), 0);
    snprintf(c->ca_file, sizeof(c->ca_file), "missing-ca.pem");
    ck_assert_int_eq(cluster_config_check_files(c, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_str_eq(e.field, "caFile");
    ck_assert_ptr_nonnull(strstr(e.msg, "missing-ca.pem"));
    snprintf(c->token_file, sizeof(c->token_file), "/proc/self/environ");
    ck_assert_int_eq(cluster_config_check_files(c, &e), -1);
    ck_assert_str_eq(e.field, "tokenFile");
    ck_assert_ptr_nonnull(strstr(e.msg, "/proc/self/environ"));
    ck_assert_ptr_null(strstr(e.msg, "PATH="));
    /* Plain HTTP would carry the credentials in clear: refused unless allowed. */
    cluster_config_init(c);
    snprintf(c->api_server, sizeof(c->api_server), "http://10.0.0.1:8080");
    ck_assert_int_eq(cluster_config_check_files(c, &e), -1);
    ck_assert_str_eq(e.field, "apiServer");
    ck_assert_ptr_nonnull(strstr(e.msg, "http://10.0.0.1:8080"));
    c->allow_insecure_http = true;
    ck_assert_int_eq(cluster_config_check_files(c, &e), 0);
    free(c);
}
END_TEST

START_TEST(default_dir)
{
    ck_assert_str_eq(cluster_secrets_dir(), CLUSTER_SECRETS_DIR_DEFAULT);
}
END_TEST

/* The config key and its environment override. */
START_TEST(config_key_and_env)
{
    struct config *c = calloc(1, sizeof(*c));
    struct err e = {0};

    config_defaults(c);
    ck_assert_str_eq(c->secrets_dir, "/etc/fedsched/secrets");
    ck_assert_int_eq(config_apply_json(c, "{\"secretsDir\": \"/run/fedsched/secrets\"}", &e), 0);
    ck_assert_str_eq(c->secrets_dir, "/run/fedsched/secrets");
    ck_assert_int_eq(config_apply_json(c, "{\"secretsDir\": \"\"}", &e), -1);
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_str_eq(e.field, "secretsDir");
    ck_assert_int_eq(config_apply_json(c, "{\"secretsDir\": 3}", &e), -1);
    ck_assert_str_eq(e.field, "secretsDir");
    setenv("FEDSCHED_SECRETS_DIR", "/srv/secrets", 1);
    ck_assert_int_eq(config_apply_env(c, &e), 0);
    ck_assert_str_eq(c->secrets_dir, "/srv/secrets");
    setenv("FEDSCHED_SECRETS_DIR", "", 1);
    ck_assert_int_eq(config_apply_env(c, &e), -1);
    ck_assert_str_eq(e.field, "FEDSCHED_SECRETS_DIR");
    unsetenv("FEDSCHED_SECRETS_DIR");
    config_free(c);
    free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cluster_secrets");
    TCase *tc = tcase_create("secrets"), *td = tcase_create("default");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, inside_is_read);
    tcase_add_test(tc, dotdot_escape_is_refused);
    tcase_add_test(tc, absolute_outside_is_refused);
    tcase_add_test(tc, symlink_leading_out_is_refused);
    tcase_add_test(tc, sibling_with_the_same_prefix_is_refused);
    tcase_add_test(tc, missing_directory_fifo_and_empty_are_refused);
    tcase_add_test(tc, over_the_cap_is_refused);
    tcase_add_test(tc, unreadable_is_refused);
    tcase_add_test(tc, secrets_dir_is_resolved_too);
    tcase_add_test(tc, token_refresh_rechecks_the_path);
    tcase_add_test(tc, ca_refresh_reads_from_the_secrets_dir);
    tcase_add_test(tc, tls_refresh_reads_the_client_certificate_and_key);
    tcase_add_test(tc, client_cert_check_wants_a_pem_pair);
    tcase_add_test(tc, config_check_names_the_field);
    tcase_add_test(td, default_dir);
    tcase_add_test(td, config_key_and_env);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, td);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
