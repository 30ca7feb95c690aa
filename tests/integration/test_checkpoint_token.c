/* test_checkpoint_token.c -- a job's checkpoint token end to end against a real PostgreSQL
 * and `fedsched serve` with tokens on: the installation's key is made once however many
 * callers race for it; the token made with it (as the scheduler puts it in the job's
 * Secret) lets the pod POST its own job's checkpoint and is refused (403) for another
 * job's, for reading, listing, submitting and cancelling, and a forged or malformed one is
 * refused (401). Jobs are put in phase Running with SQL (the scheduler is off), which is
 * where the checkpoint route accepts them. */
#include "tests/support/itest.h"

#include "base/err.h"
#include "base/job_token.h"
#include "store/store.h"

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RACERS 8

static struct itest_server srv;
static char dsn[1024], cfg_path[256], admin[64];
static char uid_a[64], uid_b[64], uid_c[64];
static unsigned char key[JOB_TOKEN_KEY_LEN];
static char tok_a[JOB_TOKEN_MAX];

static struct store *open_store(const char *d)
{
    struct store_config sc = {d, RACERS, 5000, 5, 5000};
    struct store *s = NULL;
    struct err e = {0};

    ck_assert_msg(store_open(&sc, &s, &e) == 0, "store_open: %s", e.msg);
    return s;
}

/* `fedsched migrate`, then `fedsched token create` of an admin token into admin. */
static void migrate_and_make_admin(void)
{
    char cmd[2048];
    FILE *p;

    snprintf(cmd, sizeof(cmd), "FEDSCHED_DATABASE_DSN='%s' '%s' migrate >/dev/null 2>&1", dsn,
             getenv("FEDSCHED_BIN"));
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof(cmd),
             "FEDSCHED_DATABASE_DSN='%s' '%s' token create --name admin --role admin 2>/dev/null",
             dsn, getenv("FEDSCHED_BIN"));
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(admin, sizeof(admin), p));
    admin[strcspn(admin, "\n")] = '\0';
    ck_assert_int_eq(pclose(p), 0);
}

/* One request with a bearer token (NULL: none). Returns the status; *body (may be NULL). */
static long call(const char *token, const char *method, const char *path, const char *json,
                 char **body)
{
    char url[512], auth[256];
    const char *hdr[3] = {NULL, NULL, NULL};
    int n = 0;

    snprintf(url, sizeof(url), "%s%s", srv.base, path);
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hdr[n++] = auth;
    }
    if (json)
        hdr[n++] = "Content-Type: application/json";
    return itest_http(method, url, hdr, json, body);
}

static void expect(const char *token, const char *method, const char *path, const char *json,
                   long status, const char *needle)
{
    char *body = NULL;
    long got = call(token, method, path, json, &body);

    ck_assert_msg(got == status, "%s %s: %ld, want %ld: %s", method, path, got, status, body);
    if (needle)
        ck_assert_msg(body && strstr(body, needle), "%s %s: no \"%s\" in %s", method, path, needle,
                      body);
    free(body);
}

/* Submits ns/name as admin and returns its uid in out. */
static void submit(const char *ns, const char *name, char out[64])
{
    char path[128], *body = itest_job_body(name, 8, "1"), *reply = NULL;
    const char *uid;

    snprintf(path, sizeof(path), "/v1/namespaces/%s/trainingjobs", ns);
    ck_assert_int_eq(call(admin, "POST", path, body, &reply), 201);
    uid = strstr(reply, "\"uid\":\"");
    ck_assert_ptr_nonnull(uid);
    snprintf(out, 64, "%.*s", (int)strcspn(uid + 7, "\""), uid + 7);
    free(body);
    free(reply);
}

static void set_running(const char *name)
{
    char sql[256];

    snprintf(sql, sizeof(sql),
             "UPDATE jobs SET phase = 'Running', started_at = now() - interval '1 minute'"
             " WHERE name = '%s' RETURNING name",
             name);
    free(itest_sql(dsn, sql));
}

static void suite_setup(void)
{
    const char *env[] = {"FEDSCHED_AUTH_MODE=tokens", NULL};
    const char *args[] = {"--config", cfg_path, NULL};
    struct store *s;
    struct err e = {0};
    FILE *f;

    itest_create_db(dsn, sizeof(dsn));
    snprintf(cfg_path, sizeof(cfg_path), "/tmp/fedsched-ckpt-token-%d.json", (int)getpid());
    f = fopen(cfg_path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"auth\": {\"ratePerSecond\": 0}, \"scheduler\": {\"enabled\": false}}\n");
    fclose(f);
    migrate_and_make_admin();
    itest_server_start_args(&srv, dsn, env, args, 1);
    submit("team-a", "ck-a", uid_a);
    submit("team-a", "ck-b", uid_b);
    submit("team-b", "ck-c", uid_c);
    set_running("ck-a");
    set_running("ck-b");
    set_running("ck-c");
    /* The key as the scheduler gets it, and the token it puts in ck-a's Secret. */
    s = open_store(dsn);
    ck_assert_msg(store_job_token_key(s, key, &e) == 0, "key: %s", e.msg);
    store_close(&s);
    job_token_make(key, uid_a, tok_a, sizeof(tok_a));
    ck_assert_int_eq(strncmp(tok_a, "fjt_", 4), 0);
}

static void suite_teardown(void)
{
    itest_server_stop(&srv, SIGTERM);
    unlink(cfg_path);
}

struct racer {
    struct store *s;
    unsigned char key[JOB_TOKEN_KEY_LEN];
    int rc;
};

static void *race(void *arg)
{
    struct racer *r = arg;

    r->rc = store_job_token_key(r->s, r->key, NULL);
    return NULL;
}

/* Replicas starting together all end with one key, and it stays that key. */
START_TEST(key_is_made_once)
{
    char fresh[1024], *n;
    struct racer r[RACERS];
    pthread_t t[RACERS];
    struct store *s;
    unsigned char again[JOB_TOKEN_KEY_LEN];
    struct err e = {0};
    int applied = 0;

    itest_create_db(fresh, sizeof(fresh));
    s = open_store(fresh);
    ck_assert_msg(store_migrate(s, &applied, &e) == 0, "migrate: %s", e.msg);
    for (int i = 0; i < RACERS; i++) {
        r[i].s = s;
        pthread_create(&t[i], NULL, race, &r[i]);
    }
    for (int i = 0; i < RACERS; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(r[i].rc, 0);
        ck_assert_int_eq(memcmp(r[i].key, r[0].key, JOB_TOKEN_KEY_LEN), 0);
    }
    ck_assert_int_eq(store_job_token_key(s, again, &e), 0);
    ck_assert_int_eq(memcmp(again, r[0].key, JOB_TOKEN_KEY_LEN), 0);
    n = itest_sql(fresh, "SELECT count(*) FROM job_token_key");
    ck_assert_str_eq(n, "1");
    free(n);
    /* Another installation (database) has another key. */
    ck_assert_int_ne(memcmp(again, key, JOB_TOKEN_KEY_LEN), 0);
    store_close(&s);
}
END_TEST

/* The pod's one-line curl: its job's checkpoint is recorded, and audited under the job. */
START_TEST(pod_posts_its_checkpoint)
{
    char sql[256], *who;

    expect(tok_a, "POST", "/v1/namespaces/team-a/trainingjobs/ck-a/checkpoint", NULL, 200,
           "\"lastCheckpointTime\"");
    expect(tok_a, "POST", "/v1/namespaces/team-a/trainingjobs/ck-a/checkpoint", "{}", 200, NULL);
    snprintf(sql, sizeof(sql),
             "SELECT token_name || ' ' || role || ' ' || status FROM audit_log WHERE path ="
             " '/v1/namespaces/team-a/trainingjobs/ck-a/checkpoint' AND status = 200"
             " ORDER BY id LIMIT 1");
    who = itest_sql(dsn, sql);
    snprintf(sql, sizeof(sql), "job:%s job 200", uid_a);
    ck_assert_str_eq(who, sql);
    free(who);
    /* Existing tokens keep working on the same route. */
    expect(admin, "POST", "/v1/namespaces/team-a/trainingjobs/ck-b/checkpoint", NULL, 200, NULL);
    /* The pod reads its checkpoint request (none: it is Running), and not another job's. */
    expect(tok_a, "GET", "/v1/namespaces/team-a/trainingjobs/ck-a/checkpoint", NULL, 200,
           "\"requested\"");
    expect(tok_a, "GET", "/v1/namespaces/team-a/trainingjobs/ck-b/checkpoint", NULL, 403,
           "valid only for its own job");
    expect(admin, "GET", "/v1/namespaces/team-a/trainingjobs/ck-b/checkpoint", NULL, 200,
           "\"phase\"");
}
END_TEST

/* The same token for anything else: 403, and nothing recorded. */
START_TEST(token_is_refused_for_anything_else)
{
    static const struct {
        const char *method, *path, *body;
    } other[] = {
        {"POST", "/v1/namespaces/team-a/trainingjobs/ck-b/checkpoint", NULL},
        {"POST", "/v1/namespaces/team-b/trainingjobs/ck-c/checkpoint", NULL},
        {"POST", "/v1/namespaces/team-a/trainingjobs/nope/checkpoint", NULL},
        {"POST", "/v1/namespaces/team-b/trainingjobs/ck-a/checkpoint", NULL},
        {"GET", "/v1/namespaces/team-a/trainingjobs/ck-a", NULL},
        {"GET", "/v1/namespaces/team-a/trainingjobs", NULL},
        {"GET", "/v1/trainingjobs", NULL},
        {"GET", "/v1/namespaces/team-a/trainingjobs/ck-a/explain", NULL},
        {"GET", "/v1/clusters", NULL},
        {"GET", "/v1/audit", NULL},
        {"DELETE", "/v1/namespaces/team-a/trainingjobs/ck-a", NULL},
    };
    char *body = itest_job_body("smuggled", 8, "1"), *n;

    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
        expect(tok_a, other[i].method, other[i].path, other[i].body, 403, "\"forbidden\"");
    expect(tok_a, "POST", "/v1/namespaces/team-a/trainingjobs", body, 403,
           "may only POST /v1/namespaces/{ns}/trainingjobs/{name}/checkpoint");
    expect(tok_a, "POST", "/v1/namespaces/team-a/trainingjobs/ck-b/checkpoint", NULL, 403,
           "may not post checkpoints of trainingjob team-a/ck-b");
    free(body);
    n = itest_sql(dsn, "SELECT count(*) FROM jobs WHERE name = 'smuggled' OR"
                       " (name IN ('ck-b', 'ck-c') AND last_checkpoint_at IS NOT NULL) OR"
                       " phase <> 'Running'");
    ck_assert_str_eq(n, "0");
    free(n);
}
END_TEST

/* A changed MAC, a token made under another key, a token that names one job with the MAC of
 * another, and malformed ones: 401, whatever they ask for. */
START_TEST(forged_tokens_are_refused)
{
    char bad[2 * JOB_TOKEN_MAX], *n;
    unsigned char other_key[JOB_TOKEN_KEY_LEN];
    const char *path = "/v1/namespaces/team-a/trainingjobs/ck-a/checkpoint";
    size_t last = strlen(tok_a) - 1;

    snprintf(bad, sizeof(bad), "%s", tok_a);
    bad[last] = bad[last] == '0' ? '1' : '0';
    expect(bad, "POST", path, NULL, 401, "invalid job token");
    memcpy(other_key, key, sizeof(other_key));
    other_key[0] ^= 1;
    job_token_make(other_key, uid_a, bad, sizeof(bad));
    expect(bad, "POST", path, NULL, 401, "invalid job token");
    snprintf(bad, sizeof(bad), "fjt_%s%s", uid_b, strchr(tok_a, '.'));
    expect(bad, "POST", "/v1/namespaces/team-a/trainingjobs/ck-b/checkpoint", NULL, 401,
           "invalid job token");
    expect("fjt_", "POST", path, NULL, 401, "malformed job token");
    expect("fjt_not-a-token", "GET", "/v1/trainingjobs", NULL, 401, "malformed job token");
    /* Runs before pod_posts_its_checkpoint: no checkpoint is recorded yet. */
    n = itest_sql(dsn, "SELECT count(*) FROM jobs WHERE last_checkpoint_at IS NOT NULL");
    ck_assert_str_eq(n, "0");
    free(n);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("checkpoint_token");
    TCase *tc = tcase_create("checkpoint_token");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_test(tc, key_is_made_once);
    tcase_add_test(tc, forged_tokens_are_refused);
    tcase_add_test(tc, token_is_refused_for_anything_else);
    tcase_add_test(tc, pod_posts_its_checkpoint);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
