/* test_rendezvous.c -- what a dispatched job's pods get, read back from the simulated member
 * cluster that runs them, with `fedsched serve` (tokens on), its scheduler and a real
 * PostgreSQL: for each framework a 4-worker job's pods carry the rendezvous environment
 * docs/trainingjob.md documents, resolved with each pod's completion index as the kubelet
 * would, and the job's headless Service selects exactly those 4 pods; a pod that posts its
 * checkpoint with the token of its Secret is heard, and the same token is refused for
 * another job. */
#include "tests/integration/test_sched_env.h"

#include "base/buf.h"
#include "base/num.h"
#include "cluster/manifest.h"

#include <check.h>
#include <stdio.h>

static struct senv env;
static char admin[64];

static void teardown(void)
{
    senv_stop(&env);
}

/* `fedsched migrate`, then `fedsched token create` of an admin token into admin. */
static void make_admin(void)
{
    char cmd[2048];
    FILE *p;

    snprintf(cmd, sizeof(cmd), "FEDSCHED_DATABASE_DSN='%s' '%s' migrate >/dev/null 2>&1", env.dsn,
             getenv("FEDSCHED_BIN"));
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof(cmd),
             "FEDSCHED_DATABASE_DSN='%s' '%s' token create --name admin --role admin 2>/dev/null",
             env.dsn, getenv("FEDSCHED_BIN"));
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(admin, sizeof(admin), p));
    admin[strcspn(admin, "\n")] = '\0';
    ck_assert_int_eq(pclose(p), 0);
}

/* The three simulated clusters, fedsched with tokens on; jobs run for a simulated year. */
static void start(void)
{
    const char *auth[] = {"FEDSCHED_AUTH_MODE=tokens", NULL};

    senv_sim(&env, "testdata/sim/sched-three.json");
    senv_config(&env,
                "\"auth\": {\"ratePerSecond\": 0},"
                "\"poller\": {\"intervalMs\": 200, \"sampleIntervalS\": 5, \"registrySyncS\": 1},"
                "\"scheduler\": {\"cycleIntervalMs\": 200, \"jobAnnotations\":"
                " {\"sim.fedsched.io/duration-seconds\": \"31536000\"}}",
                "", NULL);
    make_admin();
    senv_serve(&env, 0, auth);
}

/* One request as token (NULL: none); the status, and the parsed body in *out when asked. */
static long call(const char *token, const char *method, const char *path, const char *body,
                 json_t **out)
{
    char url[512], bearer[256], *reply = NULL;
    const char *hdr[3] = {NULL, NULL, NULL};
    int n = 0;
    long st;

    snprintf(url, sizeof(url), "%s%s", env.srv[0].base, path);
    if (token) {
        snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s", token);
        hdr[n++] = bearer;
    }
    if (body)
        hdr[n++] = "Content-Type: application/json";
    st = itest_http(method, url, hdr, body, &reply);
    if (out)
        *out = reply ? json_loads(reply, 0, NULL) : NULL;
    free(reply);
    return st;
}

/* Submits team-r/name, 4 workers of 1 A100 each, as the admin. */
static void submit(const char *name, const char *framework)
{
    char *body = xasprintf(
        "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":"
        "\"%s\"},\"spec\":{\"framework\":\"%s\",\"resources\":{\"instanceType\":\"a100-80gb\","
        "\"gpuCount\":4,\"gpusPerWorker\":1},\"code\":{\"image\":\"trainer:1\",\"command\":"
        "[\"python\",\"train.py\"]}}}",
        name, framework);

    ck_assert_int_eq(call(admin, "POST", "/v1/namespaces/team-r/trainingjobs", body, NULL), 201);
    free(body);
}

/* Waits until team-r/name is Running; returns the job (caller json_decref()s). */
static json_t *wait_running(const char *name)
{
    char path[256];

    snprintf(path, sizeof(path), "/v1/namespaces/team-r/trainingjobs/%s", name);
    for (int i = 0; i < 200; i++) {
        json_t *j = NULL;
        const char *phase;

        ck_assert_int_eq(call(admin, "GET", path, NULL, &j), 200);
        phase = json_string_value(json_object_get(json_object_get(j, "status"), "phase"));
        if (phase && strcmp(phase, "Running") == 0)
            return j;
        json_decref(j);
        usleep(100 * 1000);
    }
    ck_abort_msg("team-r/%s not Running within 20 s", name);
    return NULL;
}

static const char *status_str(const json_t *job, const char *key)
{
    return json_string_value(json_object_get(json_object_get(job, "status"), key));
}

/* GET path in a simulated cluster (label_selector may be NULL); the body when 200. */
static json_t *sim_get(const char *cluster, const char *path, const char *label_selector)
{
    struct sim_query q;
    struct sim_reply r;
    json_t *out = NULL;

    memset(&q, 0, sizeof(q));
    q.label_selector = label_selector;
    sim_cluster_handle(sim_get_cluster(env.sim, cluster), "GET", path, &q, NULL, 0, &r);
    if (r.status == 200)
        out = json_loadb(r.body, r.len, 0, NULL);
    free(r.body);
    return out;
}

/* The value of env var name in a container, with $(FEDSCHED_WORKER_INDEX) replaced by index
 * and $$ by $ as the kubelet expands them; NULL when absent. Caller frees. */
static char *env_of(const json_t *container, const char *name, int index)
{
    static const char ref[] = "$(FEDSCHED_WORKER_INDEX)";
    const json_t *ev;
    size_t i;

    json_array_foreach(json_object_get(container, "env"), i, ev)
    {
        const char *v = json_string_value(json_object_get(ev, "value"));
        struct buf b;

        if (strcmp(json_string_value(json_object_get(ev, "name")), name) != 0 || !v)
            continue;
        buf_init(&b, 0);
        while (*v) {
            if (strncmp(v, ref, sizeof(ref) - 1) == 0) {
                buf_printf(&b, "%d", index);
                v += sizeof(ref) - 1;
            } else if (v[0] == '$' && v[1] == '$') {
                buf_puts(&b, "$");
                v += 2;
            } else {
                buf_append(&b, v++, 1);
            }
        }
        return buf_steal(&b);
    }
    return NULL;
}

static void want_env(const json_t *container, const char *name, int index, const char *want)
{
    char *got = env_of(container, name, index);

    ck_assert_msg(got && strcmp(got, want) == 0, "%s of worker %d: \"%s\", want \"%s\"", name,
                  index, got ? got : "(absent)", want);
    free(got);
}

/* host(i) of docs/trainingjob.md: <object>-<i>.<object>.<member namespace>.svc */
static void host(const char *obj, const char *mns, int i, char *out, size_t size)
{
    snprintf(out, size, "%s-%d.%s.%s.svc", obj, i, obj, mns);
}

/* The framework's documented variables on worker index of 4. */
static void check_framework(const char *fw, const json_t *c, int index, const char *obj,
                            const char *mns)
{
    char h0[192], hi[192], want[1024], s[16];

    host(obj, mns, 0, h0, sizeof(h0));
    snprintf(s, sizeof(s), "%d", index);
    if (strcmp(fw, "pytorch") == 0 || strcmp(fw, "deepspeed") == 0) {
        const char *port = strcmp(fw, "pytorch") == 0 ? "23456" : "29500";

        want_env(c, "MASTER_ADDR", index, h0);
        want_env(c, "MASTER_PORT", index, port);
        want_env(c, "WORLD_SIZE", index, "4");
        want_env(c, "RANK", index, s);
        want_env(c, "PET_NNODES", index, "4");
        want_env(c, "PET_NPROC_PER_NODE", index, "1");
        want_env(c, "PET_NODE_RANK", index, s);
        want_env(c, "PET_MASTER_ADDR", index, h0);
        want_env(c, "PET_MASTER_PORT", index, port);
    } else if (strcmp(fw, "tensorflow") == 0) {
        char *tf = env_of(c, "TF_CONFIG", index);
        json_t *cfg = tf ? json_loads(tf, 0, NULL) : NULL;
        const json_t *workers = json_object_get(json_object_get(cfg, "cluster"), "worker");

        ck_assert_msg(cfg, "TF_CONFIG of worker %d is not JSON: %s", index, tf);
        ck_assert_int_eq(json_array_size(workers), 4);
        for (int i = 0; i < 4; i++) {
            host(obj, mns, i, hi, sizeof(hi));
            snprintf(want, sizeof(want), "%s:2222", hi);
            ck_assert_str_eq(json_string_value(json_array_get(workers, (size_t)i)), want);
        }
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(cfg, "task"), "type")),
                         "worker");
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(cfg, "task"), "index")),
                         index);
        json_decref(cfg);
        free(tf);
    } else if (strcmp(fw, "jax") == 0) {
        snprintf(want, sizeof(want), "%s:6666", h0);
        want_env(c, "JAX_COORDINATOR_ADDRESS", index, want);
        want_env(c, "JAX_NUM_PROCESSES", index, "4");
        want_env(c, "JAX_PROCESS_ID", index, s);
    } else if (strcmp(fw, "xgboost") == 0) {
        want_env(c, "DMLC_TRACKER_URI", index, h0);
        want_env(c, "DMLC_TRACKER_PORT", index, "9999");
        want_env(c, "DMLC_NUM_WORKER", index, "4");
        want_env(c, "DMLC_TASK_ID", index, s);
        want_env(c, "DMLC_ROLE", index, "worker");
    } else { /* mpi, horovod */
        size_t used = 0;

        want_env(c, "MASTER_ADDR", index, h0);
        want_env(c, "WORLD_SIZE", index, "4");
        want_env(c, "RANK", index, s);
        for (int i = 0; i < 4; i++) {
            host(obj, mns, i, hi, sizeof(hi));
            used += (size_t)snprintf(want + used, sizeof(want) - used, "%s%s slots=1",
                                     i ? "\n" : "", hi);
        }
        want_env(c, "FEDSCHED_HOSTFILE", index, want);
    }
}

/* The port the framework's Service carries (docs/trainingjob.md). */
static int framework_port(const char *fw)
{
    static const struct {
        const char *fw;
        int port;
    } ports[] = {{"pytorch", 23456}, {"deepspeed", 29500}, {"tensorflow", 2222}, {"jax", 6666},
                 {"xgboost", 9999},  {"mpi", 22},          {"horovod", 22}};

    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
        if (strcmp(ports[i].fw, fw) == 0)
            return ports[i].port;
    return -1;
}

/* For each framework but ray: 4 pods, each reachable as host(index) through the Service
 * (hostname and subdomain), each with its framework's variables resolved to its own index,
 * and the Service's selector picking exactly those 4 pods. */
START_TEST(every_framework_finds_its_workers)
{
    static const char *const fws[] = {"pytorch", "deepspeed", "tensorflow", "jax",
                                      "xgboost", "mpi",       "horovod"};

    start();
    for (size_t f = 0; f < sizeof(fws) / sizeof(fws[0]); f++) {
        char name[32];

        snprintf(name, sizeof(name), "rdv-%s", fws[f]);
        submit(name, fws[f]);
    }
    for (size_t f = 0; f < sizeof(fws) / sizeof(fws[0]); f++) {
        char name[32], path[320], selector[256] = "", obj[MANIFEST_NAME_MAX], mns[64], cluster[64];
        char uid_sel[128];
        json_t *j, *svc, *by_service, *by_uid;
        const json_t *it, *v, *port;
        const char *k;
        size_t i;
        bool seen[4] = {false, false, false, false};

        snprintf(name, sizeof(name), "rdv-%s", fws[f]);
        j = wait_running(name);
        snprintf(cluster, sizeof(cluster), "%s", status_str(j, "cluster"));
        snprintf(obj, sizeof(obj), "%s", status_str(j, "objectName"));
        snprintf(mns, sizeof(mns), "%s", status_str(j, "memberNamespace"));
        ck_assert_str_eq(mns, "fedsched-team-r");
        snprintf(uid_sel, sizeof(uid_sel), "fedsched.io/job-uid=%s",
                 json_string_value(json_object_get(json_object_get(j, "metadata"), "uid")));
        json_decref(j);

        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services/%s", mns, obj);
        svc = sim_get(cluster, path, NULL);
        ck_assert_msg(svc != NULL, "%s: no Service %s", fws[f], obj);
        ck_assert_str_eq(
            json_string_value(json_object_get(json_object_get(svc, "spec"), "clusterIP")), "None");
        port = json_array_get(json_object_get(json_object_get(svc, "spec"), "ports"), 0);
        ck_assert_int_eq(json_integer_value(json_object_get(port, "port")), framework_port(fws[f]));
        json_object_foreach(json_object_get(json_object_get(svc, "spec"), "selector"), k, v)
        {
            size_t len = strlen(selector);

            snprintf(selector + len, sizeof(selector) - len, "%s%s=%s", len ? "," : "", k,
                     json_string_value(v));
        }
        json_decref(svc);

        /* The Service selects exactly the job's pods, across every namespace. */
        by_service = sim_get(cluster, "/api/v1/pods", selector);
        by_uid = sim_get(cluster, "/api/v1/pods", uid_sel);
        ck_assert_int_eq(json_array_size(json_object_get(by_service, "items")), 4);
        ck_assert_int_eq(json_array_size(json_object_get(by_uid, "items")), 4);
        json_array_foreach(json_object_get(by_service, "items"), i, it)
        {
            const json_t *md = json_object_get(it, "metadata"), *ps = json_object_get(it, "spec");
            const char *idx = json_string_value(json_object_get(
                json_object_get(md, "annotations"), "batch.kubernetes.io/job-completion-index"));
            const json_t *c0 = json_array_get(json_object_get(ps, "containers"), 0);
            char hn[128];
            int64_t index;
            bool in_uid_list = false;
            size_t u;
            const json_t *other;

            json_array_foreach(json_object_get(by_uid, "items"), u, other) in_uid_list |=
                strcmp(
                    json_string_value(json_object_get(json_object_get(other, "metadata"), "name")),
                    json_string_value(json_object_get(md, "name"))) == 0;
            ck_assert_msg(in_uid_list, "%s: the Service selects a pod of another job", fws[f]);
            ck_assert_msg(idx && num_parse_i64(idx, 0, 3, &index) == 0, "completion index %s",
                          idx ? idx : "(none)");
            ck_assert(!seen[index]);
            seen[index] = true;
            ck_assert_str_eq(json_string_value(json_object_get(md, "namespace")), mns);
            snprintf(hn, sizeof(hn), "%s-%d", obj, (int)index);
            ck_assert_str_eq(json_string_value(json_object_get(ps, "hostname")), hn);
            ck_assert_str_eq(json_string_value(json_object_get(ps, "subdomain")), obj);
            check_framework(fws[f], c0, (int)index, obj, mns);
        }
        json_decref(by_service);
        json_decref(by_uid);
    }
}
END_TEST

/* Base64 (RFC 4648) of a Secret's data into out; the length, or -1. */
static long b64_decode(const char *in, char *out, size_t size)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned acc = 0;
    int bits = 0;
    size_t n = 0;

    for (; in && *in && *in != '='; in++) {
        const char *p = strchr(tab, *in);

        if (!p || n + 1 >= size)
            return -1;
        acc = (acc << 6) | (unsigned)(p - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[n] = '\0';
    return in ? (long)n : -1;
}

/* What a training loop does after saving: POST its checkpoint with the token the pod got
 * from its Secret (FEDSCHED_CHECKPOINT_TOKEN). It is heard (lastCheckpointTime set); the
 * same token is refused for another job, and for reading its own. */
START_TEST(pod_posts_its_checkpoint_with_its_secret)
{
    json_t *a, *b, *secret, *after = NULL;
    char path[320], token[256];
    const json_t *c0 = NULL;
    json_t *pods;
    char *ref_name = NULL;
    const json_t *ev;
    size_t i;

    start();
    submit("ckpt-a", "pytorch");
    submit("ckpt-b", "pytorch");
    a = wait_running("ckpt-a");
    b = wait_running("ckpt-b");

    /* The pod's env names the Secret and key the token comes from. */
    snprintf(path, sizeof(path), "fedsched.io/job-uid=%s",
             json_string_value(json_object_get(json_object_get(a, "metadata"), "uid")));
    pods = sim_get(status_str(a, "cluster"), "/api/v1/pods", path);
    c0 = json_array_get(
        json_object_get(json_object_get(json_array_get(json_object_get(pods, "items"), 0), "spec"),
                        "containers"),
        0);
    json_array_foreach(json_object_get(c0, "env"), i, ev)
    {
        const json_t *ref = json_object_get(json_object_get(ev, "valueFrom"), "secretKeyRef");

        if (strcmp(json_string_value(json_object_get(ev, "name")), "FEDSCHED_CHECKPOINT_TOKEN") ==
            0) {
            ck_assert_str_eq(json_string_value(json_object_get(ref, "key")), "token");
            ref_name = xstrdup(json_string_value(json_object_get(ref, "name")));
        }
    }
    json_decref(pods);
    ck_assert_ptr_nonnull(ref_name);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s",
             status_str(a, "memberNamespace"), ref_name);
    free(ref_name);
    secret = sim_get(status_str(a, "cluster"), path, NULL);
    ck_assert_ptr_nonnull(secret);
    ck_assert_int_gt(
        b64_decode(json_string_value(json_object_get(json_object_get(secret, "data"), "token")),
                   token, sizeof(token)),
        0);
    json_decref(secret);

    ck_assert_int_eq(
        call(token, "POST", "/v1/namespaces/team-r/trainingjobs/ckpt-a/checkpoint", "{}", NULL),
        200);
    ck_assert_int_eq(call(admin, "GET", "/v1/namespaces/team-r/trainingjobs/ckpt-a", NULL, &after),
                     200);
    ck_assert_ptr_nonnull(status_str(after, "lastCheckpointTime"));
    json_decref(after);
    ck_assert_int_eq(
        call(token, "POST", "/v1/namespaces/team-r/trainingjobs/ckpt-b/checkpoint", "{}", NULL),
        403);
    ck_assert_int_eq(call(token, "GET", "/v1/namespaces/team-r/trainingjobs/ckpt-a", NULL, NULL),
                     403);
    ck_assert_int_eq(call(admin, "GET", "/v1/namespaces/team-r/trainingjobs/ckpt-b", NULL, &after),
                     200);
    ck_assert_ptr_null(status_str(after, "lastCheckpointTime"));
    json_decref(after);
    json_decref(a);
    json_decref(b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("rendezvous");
    TCase *tc = tcase_create("rendezvous");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, every_framework_finds_its_workers);
    tcase_add_test(tc, pod_posts_its_checkpoint_with_its_secret);
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
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
