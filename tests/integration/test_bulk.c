/* test_bulk.c -- job sets: cancel, hold, release and reprioritise by label selector, and PATCH
 * of a job's priority, against a real `fedsched serve` and PostgreSQL; the scheduler's side
 * (a held job is not placed, a reprioritised one goes first) with the in-process
 * simulator. */
#include "tests/integration/test_sched_env.h"

#include <check.h>
#include <inttypes.h>

/* The API tests' server: tokens on, no member clusters (jobs stay Queued). */
static struct itest_server srv;
static char dsn[1024];
static char tok_admin[64], tok_sub_a[64], tok_sub_b[64];
static struct senv env; /* the scheduler tests' */

/* The 200 submissions of one token stay within its rate limit. */
static void api_setup(void)
{
    const char *envv[] = {"FEDSCHED_AUTH_MODE=tokens", NULL};
    char cfg[128];
    const char *args[] = {"--config", cfg, NULL};
    FILE *f;

    snprintf(cfg, sizeof(cfg), "/tmp/fedsched-bulk-%d.json", (int)getpid());
    f = fopen(cfg, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"auth\": {\"ratePerSecond\": 1000, \"burst\": 1000}}\n");
    fclose(f);
    itest_create_db(dsn, sizeof(dsn));
    itest_server_start_args(&srv, dsn, envv, args, 1);
    unlink(cfg);
    itest_create_token(dsn, "admin", "admin", NULL, tok_admin);
    itest_create_token(dsn, "sub-a", "submitter", "team-a", tok_sub_a);
    itest_create_token(dsn, "sub-b", "submitter", "team-b", tok_sub_b);
}

static void api_teardown(void)
{
    itest_server_stop(&srv, SIGTERM);
}

static void sched_teardown(void)
{
    senv_stop(&env);
}

/* One request to base with a token (NULL: none) and a body of content_type (NULL: none).
 * Returns the status; *reply (may be NULL) the parsed JSON, NULL when not JSON. */
static long req_at(const char *base, const char *token, const char *method, const char *path,
                   const char *content_type, const char *body, json_t **reply)
{
    char url[1024], auth[128], ctype[128];
    const char *hdr[3] = {NULL, NULL, NULL};
    char *out = NULL;
    int n = 0;
    long st;

    snprintf(url, sizeof(url), "%s%s", base, path);
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hdr[n++] = auth;
    }
    if (content_type) {
        snprintf(ctype, sizeof(ctype), "Content-Type: %s", content_type);
        hdr[n++] = ctype;
    }
    st = itest_http(method, url, hdr, body, &out);
    if (reply)
        *reply = out ? json_loads(out, 0, NULL) : NULL;
    free(out);
    return st;
}

static long req(const char *token, const char *method, const char *path, const char *content_type,
                const char *body, json_t **reply)
{
    return req_at(srv.base, token, method, path, content_type, body, reply);
}

/* A TrainingJob named name in ns with labels (a JSON object's members, without braces) and
 * gpus A100s at priority prio. */
static void submit_at(const char *base, const char *token, const char *ns, const char *name,
                      const char *labels, int gpus, int prio)
{
    char path[256];
    char *body = xasprintf(
        "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":"
        "\"%s\",\"labels\":{%s}},\"spec\":{\"framework\":\"pytorch\",\"resources\":"
        "{\"instanceType\":\"a100-80gb\",\"gpuCount\":%d},\"code\":{\"image\":\"trainer:1\","
        "\"command\":[\"python\",\"train.py\"]},\"scheduling\":{\"priority\":%d}}}",
        name, labels, gpus, prio);
    json_t *out = NULL;
    long st;

    snprintf(path, sizeof(path), "/v1/namespaces/%s/trainingjobs", ns);
    st = req_at(base, token, "POST", path, "application/json", body, &out);
    ck_assert_msg(st == 201, "submit %s/%s: %ld", ns, name, st);
    json_decref(out);
    free(body);
}

static void submit(const char *ns, const char *name, const char *labels)
{
    submit_at(srv.base, tok_admin, ns, name, labels, 8, 0);
}

static long sql_long(const char *sql)
{
    char *v = itest_sql(dsn, sql);
    long n = v ? strtol(v, NULL, 10) : 0;

    free(v);
    return n;
}

/* The names in a result's list (changed or unchanged), sorted, comma-joined. */
static void names_of(json_t *res, const char *list, char *out, size_t size)
{
    json_t *it;
    size_t i, used = 0;
    const char *names[64];
    size_t n = 0;

    out[0] = '\0';
    json_array_foreach(json_object_get(res, list), i, it)
    {
        if (n < 64)
            names[n++] = json_string_value(json_object_get(it, "name"));
    }
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
            if (strcmp(names[b], names[a]) < 0) {
                const char *t = names[a];

                names[a] = names[b];
                names[b] = t;
            }
    for (size_t k = 0; k < n; k++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", k ? "," : "", names[k]);
}

/* Checks an error answer: status, code and field, and that the message quotes want_text. */
/* reply is a pointer so it is read after got was computed: C leaves the order in which
 * arguments are evaluated open. */
static void expect_error(long got, json_t **reply, long status, const char *field,
                         const char *want_text)
{
    const json_t *err = json_object_get(*reply, "error");
    const char *f = json_string_value(json_object_get(err, "field"));
    const char *msg = json_string_value(json_object_get(err, "message"));

    ck_assert_msg(got == status, "status %ld, want %ld (%s)", got, status, msg ? msg : "");
    if (field)
        ck_assert_msg(f && strcmp(f, field) == 0, "field %s, want %s", f ? f : "(none)", field);
    if (want_text)
        ck_assert_msg(msg && strstr(msg, want_text), "message \"%s\" lacks \"%s\"", msg ? msg : "",
                      want_text);
}

/* Acceptance 4: 200 jobs of one label cancelled in one request, within 1 s (the issue's
 * bound; measured about 30-60 ms here). Only those 200: other labels and the same label in
 * another namespace are left alone. One audit row, one event per job; a second call
 * changes nothing and says so. */
START_TEST(bulk_cancel_200_in_one_request)
{
    char name[32], path[128];
    json_t *res = NULL, *it;
    int64_t t0, ms;
    size_t i;
    long st;

    for (int k = 0; k < 200; k++) {
        snprintf(name, sizeof(name), "sweep-%03d", k);
        submit("team-a", name, "\"set\":\"sweep-7\"");
    }
    submit("team-a", "keep-1", "\"set\":\"sweep-8\"");
    submit("team-a", "keep-2", "\"other\":\"x\"");
    submit("team-b", "keep-b", "\"set\":\"sweep-7\"");
    snprintf(path, sizeof(path), "/v1/namespaces/team-a/trainingjobs:cancel?labelSelector=%s",
             "set%3Dsweep-7");
    t0 = clock_mono_ms();
    st = req(tok_sub_a, "POST", path, NULL, NULL, &res);
    ms = clock_mono_ms() - t0;
    fprintf(stderr, "test_bulk: bulk cancel of 200 jobs: %" PRId64 " ms\n", ms);
    ck_assert_int_eq(st, 200);
    ck_assert_msg(ms < 1000, "bulk cancel of 200 jobs took %" PRId64 " ms (bound 1 s)", ms);
    ck_assert_str_eq(json_string_value(json_object_get(res, "kind")), "TrainingJobBulkResult");
    ck_assert_str_eq(json_string_value(json_object_get(res, "operation")), "cancel");
    ck_assert_int_eq(json_integer_value(json_object_get(res, "matched")), 200);
    ck_assert_int_eq(json_array_size(json_object_get(res, "changed")), 200);
    ck_assert_int_eq(json_array_size(json_object_get(res, "unchanged")), 0);
    json_array_foreach(json_object_get(res, "changed"), i, it)
    {
        ck_assert_str_eq(json_string_value(json_object_get(it, "namespace")), "team-a");
        ck_assert_int_eq(strncmp(json_string_value(json_object_get(it, "name")), "sweep-", 6), 0);
        ck_assert_int_eq(strlen(json_string_value(json_object_get(it, "uid"))), 36);
        ck_assert_str_eq(json_string_value(json_object_get(it, "from")), "Queued");
        ck_assert_str_eq(json_string_value(json_object_get(it, "to")), "Cancelled");
    }
    json_decref(res);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM jobs WHERE phase = 'Cancelled'"), 200);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM jobs WHERE phase = 'Cancelled' AND"
                              " name LIKE 'sweep-%' AND namespace = 'team-a'"),
                     200);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM job_events WHERE type = 'Cancelled'"), 200);
    /* One audit row, committed with the change: it is there when the answer is. */
    ck_assert_int_eq(sql_long("SELECT count(*) FROM audit_log WHERE path LIKE '%:cancel'"
                              " AND status = 200 AND token_name = 'sub-a'"),
                     1);
    /* Again: nothing changes, every job is listed unchanged with its reason. */
    ck_assert_int_eq(req(tok_sub_a, "POST", path, NULL, NULL, &res), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(res, "matched")), 200);
    ck_assert_int_eq(json_array_size(json_object_get(res, "changed")), 0);
    ck_assert_int_eq(json_array_size(json_object_get(res, "unchanged")), 200);
    it = json_array_get(json_object_get(res, "unchanged"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(it, "reason")), "AlreadyCancelled");
    ck_assert_str_eq(json_string_value(json_object_get(it, "from")), "Cancelled");
    ck_assert_ptr_null(json_object_get(it, "to"));
    json_decref(res);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM job_events WHERE type = 'Cancelled'"), 200);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM jobs WHERE phase = 'Queued'"), 3);
}
END_TEST

/* Kubernetes' selector operators each select what they should. */
START_TEST(selector_operators)
{
    static const struct {
        const char *sel, *want;
    } cases[] = {
        {"tier%3Dgold", "j1,j2"},
        {"tier%3D%3Dgold", "j1,j2"},
        {"tier!%3Dgold", "j3,j4,j5"}, /* j5 has no tier: != matches it */
        {"tier%20in%20(gold,%20silver)", "j1,j2,j3"},
        {"tier%20notin%20(gold)", "j3,j4,j5"},
        {"tier", "j1,j2,j3,j4"},
        {"!tier", "j5"},
        {"tier%3Dgold,run%3D2", "j2"},
        {"tier,!run", "j4"},
        {"example.com%2Fowner%3Dann", "j3"},
        {"tier%3D", "j4"}, /* an empty value */
    };
    char path[256], got[512];

    submit("team-a", "j1", "\"tier\":\"gold\",\"run\":\"1\"");
    submit("team-a", "j2", "\"tier\":\"gold\",\"run\":\"2\"");
    submit("team-a", "j3", "\"tier\":\"silver\",\"run\":\"3\",\"example.com/owner\":\"ann\"");
    submit("team-a", "j4", "\"tier\":\"\"");
    submit("team-a", "j5", "\"run\":\"5\"");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *res = NULL;

        /* hold then release: each call changes exactly the selected jobs. */
        snprintf(path, sizeof(path), "/v1/namespaces/team-a/trainingjobs:hold?labelSelector=%s",
                 cases[i].sel);
        ck_assert_int_eq(req(tok_sub_a, "POST", path, NULL, NULL, &res), 200);
        names_of(res, "changed", got, sizeof(got));
        ck_assert_msg(strcmp(got, cases[i].want) == 0, "%s held %s, want %s", cases[i].sel, got,
                      cases[i].want);
        json_decref(res);
        snprintf(path, sizeof(path), "/v1/namespaces/team-a/trainingjobs:release?labelSelector=%s",
                 cases[i].sel);
        ck_assert_int_eq(req(tok_sub_a, "POST", path, NULL, NULL, &res), 200);
        names_of(res, "changed", got, sizeof(got));
        ck_assert_str_eq(got, cases[i].want);
        json_decref(res);
    }
}
END_TEST

/* A selector that is not one is 400, naming labelSelector and quoting the value; so is a
 * missing or empty one and an unknown parameter. Nothing changes. */
START_TEST(bad_selector_is_400)
{
    static const struct {
        const char *query, *field, *text;
    } cases[] = {
        {"labelSelector=a%3Db%3Dc", "labelSelector", "\"a=b=c\""},
        {"labelSelector=a%20in%20()", "labelSelector", "empty set"},
        {"labelSelector=a%20in%20x", "labelSelector", "expected '('"},
        {"labelSelector=Bad%20Key%3D1", "labelSelector", "\"Bad Key=1\""},
        {"labelSelector=-a%3D1", "labelSelector", "invalid label key"},
        {"labelSelector=a%3D-x", "labelSelector", "invalid label value"},
        {"labelSelector=a%3Db,", "labelSelector", "after ','"},
        {"labelSelector=a%20%3E%201", "labelSelector", "\"a > 1\""},
        {"labelSelector=", "labelSelector", "is empty"},
        {"", "labelSelector", "required"},
        {"labelSelector=a&limit=5", "limit", "unknown query parameter"},
    };
    char path[256];

    submit("team-a", "j1", "\"a\":\"b\"");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *res = NULL;
        long st;

        snprintf(path, sizeof(path), "/v1/namespaces/team-a/trainingjobs:cancel%s%s",
                 cases[i].query[0] ? "?" : "", cases[i].query);
        st = req(tok_sub_a, "POST", path, NULL, NULL, &res);
        expect_error(st, &res, 400, cases[i].field, cases[i].text);
        json_decref(res);
    }
    ck_assert_int_eq(sql_long("SELECT count(*) FROM jobs WHERE phase = 'Queued'"), 1);
}
END_TEST

/* A team-a token cannot touch team-b's jobs: the team-b route is 403, the cluster-wide one
 * admin-only; in team-a it changes team-a's alone. An admin's cluster-wide call reaches
 * both. */
START_TEST(namespace_isolation)
{
    json_t *res = NULL;
    long st;
    char got[256];

    submit("team-a", "a1", "\"grp\":\"x\"");
    submit("team-b", "b1", "\"grp\":\"x\"");
    st = req(tok_sub_a, "POST", "/v1/namespaces/team-b/trainingjobs:cancel?labelSelector=grp", NULL,
             NULL, &res);
    expect_error(st, &res, 403, NULL, "team-b");
    json_decref(res);
    st = req(tok_sub_a, "POST", "/v1/trainingjobs:hold?labelSelector=grp", NULL, NULL, &res);
    expect_error(st, &res, 403, NULL, "admin only");
    json_decref(res);
    st = req(tok_sub_b, "POST", "/v1/namespaces/team-a/trainingjobs:reprioritize?labelSelector=grp",
             "application/json", "{\"priority\": 9}", &res);
    expect_error(st, &res, 403, NULL, "team-a");
    json_decref(res);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM jobs WHERE held OR priority <> 0 OR"
                              " phase <> 'Queued'"),
                     0);
    ck_assert_int_eq(req(tok_sub_a, "POST",
                         "/v1/namespaces/team-a/trainingjobs:hold?labelSelector=grp", NULL, NULL,
                         &res),
                     200);
    names_of(res, "changed", got, sizeof(got));
    ck_assert_str_eq(got, "a1");
    json_decref(res);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM jobs WHERE held AND namespace = 'team-b'"), 0);
    ck_assert_int_eq(
        req(tok_admin, "POST", "/v1/trainingjobs:hold?labelSelector=grp", NULL, NULL, &res), 200);
    ck_assert_int_eq(json_integer_value(json_object_get(res, "matched")), 2);
    names_of(res, "changed", got, sizeof(got));
    ck_assert_str_eq(got, "b1");
    names_of(res, "unchanged", got, sizeof(got));
    ck_assert_str_eq(got, "a1");
    json_decref(res);
}
END_TEST

/* Hold, release and reprioritise: each changed job gets its event and a new
 * resourceVersion, status.held and the priority show it, explain says a held job is held;
 * a repeated call changes nothing (no event, same version) and lists why. */
START_TEST(hold_release_reprioritize_idempotent)
{
    json_t *res = NULL, *j = NULL, *it;
    const char *rv0;
    char rv[32];
    long st;

    submit("team-a", "h1", "\"grp\":\"y\"");
    submit("team-a", "h2", "\"grp\":\"y\"");
    ck_assert_int_eq(req(tok_sub_a, "GET", "/v1/namespaces/team-a/trainingjobs/h1", NULL, NULL, &j),
                     200);
    rv0 = json_string_value(json_object_get(json_object_get(j, "metadata"), "resourceVersion"));
    snprintf(rv, sizeof(rv), "%s", rv0);
    json_decref(j);
    ck_assert_int_eq(req(tok_sub_a, "POST",
                         "/v1/namespaces/team-a/trainingjobs:hold?labelSelector=grp%3Dy", NULL,
                         NULL, &res),
                     200);
    it = json_array_get(json_object_get(res, "changed"), 0);
    ck_assert(json_is_false(json_object_get(it, "from")));
    ck_assert(json_is_true(json_object_get(it, "to")));
    json_decref(res);
    ck_assert_int_eq(req(tok_sub_a, "GET", "/v1/namespaces/team-a/trainingjobs/h1", NULL, NULL, &j),
                     200);
    ck_assert(json_is_true(json_object_get(json_object_get(j, "status"), "held")));
    ck_assert_str_ne(
        json_string_value(json_object_get(json_object_get(j, "metadata"), "resourceVersion")), rv);
    snprintf(rv, sizeof(rv), "%s",
             json_string_value(json_object_get(json_object_get(j, "metadata"), "resourceVersion")));
    json_decref(j);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM job_events WHERE type = 'Held'"), 2);
    /* Explain answers for a held job without a scheduler's what-if. */
    ck_assert_int_eq(
        req(tok_sub_a, "GET", "/v1/namespaces/team-a/trainingjobs/h1/explain", NULL, NULL, &j),
        200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "pending");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "reason"), "reason")),
                     "Held");
    ck_assert(json_is_true(json_object_get(j, "held")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "phase")), "Queued");
    json_decref(j);
    /* Again: unchanged, AlreadyHeld, no event, same version. */
    ck_assert_int_eq(req(tok_sub_a, "POST",
                         "/v1/namespaces/team-a/trainingjobs:hold?labelSelector=grp%3Dy", NULL,
                         NULL, &res),
                     200);
    ck_assert_int_eq(json_array_size(json_object_get(res, "changed")), 0);
    it = json_array_get(json_object_get(res, "unchanged"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(it, "reason")), "AlreadyHeld");
    json_decref(res);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM job_events WHERE type = 'Held'"), 2);
    ck_assert_int_eq(req(tok_sub_a, "GET", "/v1/namespaces/team-a/trainingjobs/h1", NULL, NULL, &j),
                     200);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(j, "metadata"), "resourceVersion")), rv);
    json_decref(j);
    /* Release, twice. */
    ck_assert_int_eq(req(tok_sub_a, "POST",
                         "/v1/namespaces/team-a/trainingjobs:release?labelSelector=grp%3Dy", NULL,
                         NULL, &res),
                     200);
    ck_assert_int_eq(json_array_size(json_object_get(res, "changed")), 2);
    json_decref(res);
    ck_assert_int_eq(req(tok_sub_a, "POST",
                         "/v1/namespaces/team-a/trainingjobs:release?labelSelector=grp%3Dy", NULL,
                         NULL, &res),
                     200);
    it = json_array_get(json_object_get(res, "unchanged"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(it, "reason")), "NotHeld");
    json_decref(res);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM job_events WHERE type = 'Released'"), 2);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM jobs WHERE held"), 0);
    /* Reprioritise: the column and the spec, an event naming both priorities. */
    ck_assert_int_eq(req(tok_sub_a, "POST",
                         "/v1/namespaces/team-a/trainingjobs:reprioritize?labelSelector=grp%3Dy",
                         "application/json", "{\"priority\": 250}", &res),
                     200);
    it = json_array_get(json_object_get(res, "changed"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(it, "from")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(it, "to")), 250);
    json_decref(res);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM jobs WHERE priority = 250 AND"
                              " (spec->'scheduling'->>'priority')::int = 250"),
                     2);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM job_events WHERE type = 'Reprioritized'"
                              " AND message = 'priority 0 -> 250 by the user'"),
                     2);
    st = req(tok_sub_a, "POST",
             "/v1/namespaces/team-a/trainingjobs:reprioritize?labelSelector=grp%3Dy",
             "application/json", "{\"priority\": 250}", &res);
    ck_assert_int_eq(st, 200);
    it = json_array_get(json_object_get(res, "unchanged"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(it, "reason")), "SamePriority");
    ck_assert_int_eq(json_integer_value(json_object_get(it, "from")), 250);
    json_decref(res);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM job_events WHERE type = 'Reprioritized'"), 2);
    /* A cancelled job is finished: hold and reprioritise leave it. */
    ck_assert_int_eq(
        req(tok_sub_a, "DELETE", "/v1/namespaces/team-a/trainingjobs/h2", NULL, NULL, NULL), 200);
    ck_assert_int_eq(req(tok_sub_a, "POST",
                         "/v1/namespaces/team-a/trainingjobs:hold?labelSelector=grp%3Dy", NULL,
                         NULL, &res),
                     200);
    it = json_array_get(json_object_get(res, "unchanged"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(it, "name")), "h2");
    ck_assert_str_eq(json_string_value(json_object_get(it, "reason")), "Finished");
    json_decref(res);
}
END_TEST

/* :reprioritize's body: required, {"priority": N} in range, JSON. */
START_TEST(reprioritize_body_errors)
{
    static const char *const path =
        "/v1/namespaces/team-a/trainingjobs:reprioritize?labelSelector=grp";
    json_t *res = NULL;

    submit("team-a", "r1", "\"grp\":\"z\"");
    expect_error(req(tok_sub_a, "POST", path, "application/json", "{}", &res), &res, 422,
                 "priority", "required");
    json_decref(res);
    expect_error(req(tok_sub_a, "POST", path, "application/json", "{\"priority\": 1001}", &res),
                 &res, 422, "priority", "1001");
    json_decref(res);
    expect_error(req(tok_sub_a, "POST", path, "application/json", "{\"priority\": \"high\"}", &res),
                 &res, 400, "priority", "integer");
    json_decref(res);
    expect_error(
        req(tok_sub_a, "POST", path, "application/json", "{\"priority\": 5, \"x\": 1}", &res), &res,
        400, "x", "unknown field");
    json_decref(res);
    expect_error(req(tok_sub_a, "POST", path, "text/plain", "{\"priority\": 5}", &res), &res, 415,
                 "Content-Type", "text/plain");
    json_decref(res);
    expect_error(req(tok_sub_a, "POST", path, "application/json", "{\"priority\": ", &res), &res,
                 400, NULL, "not JSON");
    json_decref(res);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM jobs WHERE priority <> 0"), 0);
}
END_TEST

/* PATCH: merge patch of spec.scheduling.priority only. */
START_TEST(patch_priority)
{
    static const char *const path = "/v1/namespaces/team-a/trainingjobs/p1";
    static const char *const mp = "application/merge-patch+json";
    json_t *res = NULL;
    long st;

    submit("team-a", "p1", "\"grp\":\"p\"");
    st = req(tok_sub_a, "PATCH", path, mp, "{\"spec\":{\"scheduling\":{\"priority\":42}}}", &res);
    ck_assert_int_eq(st, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(json_object_get(res, "spec"), "scheduling"), "priority")),
                     42);
    json_decref(res);
    ck_assert_int_eq(sql_long("SELECT priority FROM jobs WHERE name = 'p1'"), 42);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM job_events WHERE type = 'Reprioritized'"), 1);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM audit_log WHERE method = 'PATCH' AND"
                              " status = 200 AND token_name = 'sub-a'"),
                     1);
    /* The same patch again: 200, no event. */
    st = req(tok_sub_a, "PATCH", path, mp, "{\"spec\":{\"scheduling\":{\"priority\":42}}}", NULL);
    ck_assert_int_eq(st, 200);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM job_events WHERE type = 'Reprioritized'"), 1);
    /* Errors, each naming its field. */
    expect_error(req(tok_sub_a, "PATCH", path, "application/json",
                     "{\"spec\":{\"scheduling\":{\"priority\":1}}}", &res),
                 &res, 415, "Content-Type", "application/merge-patch+json");
    json_decref(res);
    expect_error(req(tok_sub_a, "PATCH", path, NULL, "{}", &res), &res, 415, "Content-Type", NULL);
    json_decref(res);
    expect_error(
        req(tok_sub_a, "PATCH", path, mp, "{\"metadata\":{\"labels\":{\"a\":\"b\"}}}", &res), &res,
        422, "metadata", "only spec.scheduling.priority");
    json_decref(res);
    expect_error(
        req(tok_sub_a, "PATCH", path, mp, "{\"spec\":{\"code\":{\"image\":\"x:2\"}}}", &res), &res,
        422, "spec.code", NULL);
    json_decref(res);
    expect_error(req(tok_sub_a, "PATCH", path, mp,
                     "{\"spec\":{\"scheduling\":{\"priority\":3,\"preemptible\":true}}}", &res),
                 &res, 422, "spec.scheduling.preemptible", NULL);
    json_decref(res);
    expect_error(
        req(tok_sub_a, "PATCH", path, mp, "{\"spec\":{\"scheduling\":{\"priority\":5000}}}", &res),
        &res, 422, "spec.scheduling.priority", "5000");
    json_decref(res);
    expect_error(
        req(tok_sub_a, "PATCH", path, mp, "{\"spec\":{\"scheduling\":{\"priority\":null}}}", &res),
        &res, 422, "spec.scheduling.priority", "removed");
    json_decref(res);
    expect_error(req(tok_sub_a, "PATCH", path, mp, "{\"spec\":7}", &res), &res, 422, "spec",
                 "object");
    json_decref(res);
    expect_error(req(tok_sub_a, "PATCH", path, mp, "[1]", &res), &res, 400, NULL, "object");
    json_decref(res);
    expect_error(req(tok_sub_a, "PATCH", "/v1/namespaces/team-a/trainingjobs/nope", mp,
                     "{\"spec\":{\"scheduling\":{\"priority\":1}}}", &res),
                 &res, 404, NULL, "nope");
    json_decref(res);
    expect_error(
        req(tok_sub_b, "PATCH", path, mp, "{\"spec\":{\"scheduling\":{\"priority\":1}}}", &res),
        &res, 404, NULL, NULL);
    json_decref(res);
    ck_assert_int_eq(sql_long("SELECT priority FROM jobs WHERE name = 'p1'"), 42);
    /* A finished job's priority is not changed: 409. */
    ck_assert_int_eq(req(tok_sub_a, "DELETE", path, NULL, NULL, NULL), 200);
    expect_error(
        req(tok_sub_a, "PATCH", path, mp, "{\"spec\":{\"scheduling\":{\"priority\":1}}}", &res),
        &res, 409, "status.phase", "Cancelled");
    json_decref(res);
    ck_assert_int_eq(sql_long("SELECT priority FROM jobs WHERE name = 'p1'"), 42);
}
END_TEST

/* Runs the fedsched binary with args (a shell word list) against srv with token; returns
 * its exit status, stdout in out. */
static int cli(const char *token, const char *args, char *out, size_t size)
{
    char cmd[2048];
    size_t n = 0;
    FILE *p;
    int st;

    snprintf(cmd, sizeof(cmd),
             "FEDSCHED_URL=%s FEDSCHED_TOKEN=%s FEDSCHED_NAMESPACE= '%s' %s 2>/dev/null", srv.base,
             token, getenv("FEDSCHED_BIN"), args);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    while (n + 1 < size && (st = fgetc(p)) != EOF)
        out[n++] = (char)st;
    out[n] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* fedsched hold, release and cancel with -l: the selector reaches the API escaped, the
 * table says what changed; without -l hold is a usage error. */
START_TEST(cli_verbs_by_selector)
{
    char out[4096];

    submit("team-a", "c1", "\"grp\":\"c\"");
    submit("team-a", "c2", "\"grp\":\"d\"");
    ck_assert_int_eq(cli(tok_sub_a, "hold -n team-a -l 'grp in (c, e)'", out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "c1") && strstr(out, "not held -> held") && !strstr(out, "c2"), "%s",
                  out);
    ck_assert_ptr_nonnull(strstr(out, "hold: 1 matched, 1 changed, 0 unchanged"));
    ck_assert_int_eq(sql_long("SELECT count(*) FROM jobs WHERE held AND name = 'c1'"), 1);
    ck_assert_int_eq(cli(tok_sub_a, "hold -n team-a -l grp=c", out, sizeof(out)), 0);
    ck_assert_ptr_nonnull(strstr(out, "unchanged: AlreadyHeld"));
    ck_assert_int_eq(cli(tok_sub_a, "release -n team-a -l grp=c -o name", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "trainingjob/c1\n");
    ck_assert_int_eq(cli(tok_sub_a, "cancel -n team-a -l '!nothing' -o json", out, sizeof(out)), 0);
    ck_assert_ptr_nonnull(strstr(out, "\"matched\": 2"));
    ck_assert_int_eq(sql_long("SELECT count(*) FROM jobs WHERE phase = 'Cancelled'"), 2);
    ck_assert_int_eq(cli(tok_sub_a, "hold -n team-a", out, sizeof(out)), 2);
    ck_assert_int_eq(cli(tok_sub_a, "hold -n team-a -l 'a in ()'", out, sizeof(out)), 3);
    ck_assert_int_eq(cli(tok_sub_a, "cancel -n team-b -l grp", out, sizeof(out)), 3);
}
END_TEST

/* ---- with the scheduler ---- */

#define SCHED_BASE                                                                                 \
    "\"poller\": {\"intervalMs\": 200, \"sampleIntervalS\": 5, \"registrySyncS\": 1},"             \
    "\"scheduler\": {\"cycleIntervalMs\": 200, \"jobAnnotations\":"                                \
    " {\"sim.fedsched.io/duration-seconds\": \"3600000\"}}"

/* A replica without member clusters (the jobs submitted to it wait), then, on the same
 * database, one with the simulator's 32 GPUs. Returns the first one's address. */
static const char *serve_without_clusters(void)
{
    const char *args[] = {"--config", env.base_cfg, NULL};

    senv_sim(&env, "testdata/sim/sched-solo.json");
    senv_config(&env, SCHED_BASE, "", NULL);
    itest_server_start_args(&env.srv[0], env.dsn, NULL, args, 1);
    return env.srv[0].base;
}

/* Two queued jobs of 32 GPUs each, "first" submitted before "second": they cannot both run. */
static const char *two_full_jobs(void)
{
    const char *base = serve_without_clusters();

    submit_at(base, NULL, "team-s", "first", "\"grp\":\"a\"", 32, 0);
    usleep(20 * 1000);
    submit_at(base, NULL, "team-s", "second", "\"grp\":\"b\"", 32, 0);
    return base;
}

static void serve_with_clusters(void)
{
    itest_server_stop(&env.srv[0], SIGTERM);
    senv_serve(&env, 0, NULL);
}

static const char *phase_of(const char *name)
{
    static char out[32];
    json_t *j = senv_get(env.srv[0].base, "team-s", name);

    snprintf(out, sizeof(out), "%s", j ? senv_phase(j) : "");
    json_decref(j);
    return out;
}

/* Acceptance 4: a held job is not placed by a running scheduler while a job that fits
 * beside it is; released, it is placed. */
START_TEST(held_job_waits_until_released)
{
    const char *base;
    json_t *res = NULL;

    base = serve_without_clusters();
    submit_at(base, NULL, "team-s", "held", "\"grp\":\"h\"", 16, 0);
    ck_assert_int_eq(req_at(base, NULL, "POST",
                            "/v1/namespaces/team-s/trainingjobs:hold?labelSelector=grp%3Dh", NULL,
                            NULL, &res),
                     200);
    ck_assert_int_eq(json_array_size(json_object_get(res, "changed")), 1);
    json_decref(res);
    submit_at(base, NULL, "team-s", "free", "\"grp\":\"f\"", 16, 0);
    serve_with_clusters();
    base = env.srv[0].base;
    json_decref(senv_wait_phase(base, "team-s", "free", "Running", 20000));
    /* 16 GPUs stay free for it for 10 cycles: it is still held and Queued. */
    usleep(2000 * 1000);
    ck_assert_str_eq(phase_of("held"), "Queued");
    ck_assert_int_eq(senv_events(&env, "team-s", "held", "Admitted"), 0);
    ck_assert_int_eq(req_at(base, NULL, "POST",
                            "/v1/namespaces/team-s/trainingjobs:release?labelSelector=grp%3Dh",
                            NULL, NULL, &res),
                     200);
    ck_assert_int_eq(json_array_size(json_object_get(res, "changed")), 1);
    json_decref(res);
    json_decref(senv_wait_phase(base, "team-s", "held", "Running", 20000));
    ck_assert_int_eq(senv_events(&env, "team-s", "held", "Released"), 1);
    /* Cancelling both by label: placed jobs are marked, then stopped and Cancelled. */
    ck_assert_int_eq(
        req_at(base, NULL, "POST",
               "/v1/namespaces/team-s/trainingjobs:cancel?labelSelector=grp%20in%20(h,f)", NULL,
               NULL, &res),
        200);
    ck_assert_int_eq(json_array_size(json_object_get(res, "changed")), 2);
    ck_assert_str_eq(json_string_value(
                         json_object_get(json_array_get(json_object_get(res, "changed"), 0), "to")),
                     "CancelRequested");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(res, "changed"), 1), "from")),
                     "Running");
    json_decref(res);
    json_decref(senv_wait_phase(base, "team-s", "held", "Cancelled", 20000));
    json_decref(senv_wait_phase(base, "team-s", "free", "Cancelled", 20000));
    ck_assert_int_eq(senv_events(&env, "team-s", "free", "CancelRequested"), 1);
}
END_TEST

/* Acceptance 4: two queued jobs that cannot both fit; the later one reprioritised above the
 * first is placed first, and the first waits. */
START_TEST(reprioritized_job_is_placed_first)
{
    const char *base;
    json_t *res = NULL;

    base = two_full_jobs();
    ck_assert_int_eq(req_at(base, NULL, "POST",
                            "/v1/namespaces/team-s/trainingjobs:reprioritize?labelSelector=grp%3Db",
                            "application/json", "{\"priority\": 100}", &res),
                     200);
    ck_assert_int_eq(json_array_size(json_object_get(res, "changed")), 1);
    json_decref(res);
    serve_with_clusters();
    base = env.srv[0].base;
    json_decref(senv_wait_phase(base, "team-s", "second", "Running", 20000));
    ck_assert_str_eq(phase_of("first"), "Queued");
    ck_assert_int_eq(senv_events(&env, "team-s", "first", "Admitted"), 0);
}
END_TEST

/* The same two jobs without the reprioritisation: the first goes first. This is what makes
 * the test above mean something. */
START_TEST(without_reprioritize_first_goes_first)
{
    const char *base;

    base = two_full_jobs();
    serve_with_clusters();
    base = env.srv[0].base;
    json_decref(senv_wait_phase(base, "team-s", "first", "Running", 20000));
    ck_assert_str_eq(phase_of("second"), "Queued");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("bulk");
    TCase *api = tcase_create("api"), *sched = tcase_create("sched");

    tcase_add_checked_fixture(api, api_setup, api_teardown);
    tcase_set_timeout(api, 60);
    tcase_add_test(api, bulk_cancel_200_in_one_request);
    tcase_add_test(api, selector_operators);
    tcase_add_test(api, bad_selector_is_400);
    tcase_add_test(api, namespace_isolation);
    tcase_add_test(api, hold_release_reprioritize_idempotent);
    tcase_add_test(api, reprioritize_body_errors);
    tcase_add_test(api, patch_priority);
    tcase_add_test(api, cli_verbs_by_selector);
    suite_add_tcase(s, api);
    tcase_add_checked_fixture(sched, NULL, sched_teardown);
    tcase_set_timeout(sched, 90);
    tcase_add_test(sched, held_job_waits_until_released);
    tcase_add_test(sched, reprioritized_job_is_placed_first);
    tcase_add_test(sched, without_reprioritize_first_goes_first);
    suite_add_tcase(s, sched);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    int failed;

    srunner_run_all(r, CK_NORMAL);
    failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
