/* test_list_watch.c -- GET /v1/trainingjobs?watch=true against a real `fedsched serve` and
 * PostgreSQL: events for a creation, a phase change and a cancellation; the list's
 * filters (namespace, labelSelector, phase) applied to what is sent; a resumed watch gets
 * exactly the changes it missed; a resourceVersion too old (or from the future) gets the
 * ERROR event with a 410 Status that Kubernetes sends; bookmarks; a client that stops
 * reading is cut off; bad parameters and too many watchers get 4xx naming the parameter; a
 * change that commits after one with a higher version is not skipped, and a list started
 * while a change is in flight waits for it.
 * The stream is read with a small HTTP/1.1 client of its own (chunked, line by line). */
#include "tests/support/itest.h"

#include "base/mem.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <check.h>
#include <libpq-fe.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char dsn[1024], cfg_path[256], cap_cfg_path[256];
static struct itest_server srv;
static const char *const serve_args[] = {"--config", cfg_path, NULL};

/* ---- a streaming client ---- */

struct stream {
    int fd;
    int status;
    char raw[1 << 16]; /* bytes read, not yet de-chunked */
    size_t raw_len;
    char *text; /* de-chunked body not yet returned as lines */
    size_t text_len;
    size_t chunk_left; /* bytes of the current chunk still to come */
    bool ended;        /* the terminating zero chunk arrived */
    bool closed;       /* the server closed the connection */
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads what is there within wait_ms into s->raw; false on close (or a reset). */
static bool fill(struct stream *s, int wait_ms)
{
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    ssize_t n;

    if (s->closed || poll(&p, 1, wait_ms) <= 0)
        return !s->closed;
    n = read(s->fd, s->raw + s->raw_len, sizeof(s->raw) - s->raw_len);
    if (n <= 0) {
        s->closed = true;
        return false;
    }
    s->raw_len += (size_t)n;
    return true;
}

static void consume(struct stream *s, size_t n)
{
    memmove(s->raw, s->raw + n, s->raw_len - n);
    s->raw_len -= n;
}

/* Moves whole chunks' data from raw to text. */
static void dechunk(struct stream *s)
{
    for (;;) {
        if (s->chunk_left) {
            size_t n = s->raw_len < s->chunk_left ? s->raw_len : s->chunk_left;

            if (!n)
                return;
            s->text = xrealloc(s->text, s->text_len + n + 1);
            memcpy(s->text + s->text_len, s->raw, n);
            s->text_len += n;
            s->text[s->text_len] = '\0';
            consume(s, n);
            s->chunk_left -= n; /* at 0, the CRLF after the data is skipped below */
            continue;
        }
        if (s->ended)
            return;
        {
            char *crlf = memmem(s->raw, s->raw_len, "\r\n", 2);
            size_t size;

            if (!crlf)
                return;
            if (crlf == s->raw) { /* the CRLF that ends a chunk's data */
                consume(s, 2);
                continue;
            }
            size = strtoul(s->raw, NULL, 16);
            consume(s, (size_t)(crlf - s->raw) + 2);
            if (size == 0) {
                s->ended = true;
                return;
            }
            s->chunk_left = size;
        }
    }
}

/* Opens GET path and reads the status line and headers. rcvbuf > 0 shrinks the socket's
 * receive buffer first (a client that reads slowly). */
static void stream_open(struct stream *s, const char *path, int rcvbuf)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port)};
    char req[1024], *end = NULL;
    int64_t deadline = now_ms() + 10000;

    memset(s, 0, sizeof(*s));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(s->fd, 0);
    if (rcvbuf > 0)
        setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    ck_assert_int_eq(connect(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    ck_assert_int_eq(write(s->fd, req, strlen(req)), (ssize_t)strlen(req));
    if (rcvbuf > 0)
        return; /* the caller reads nothing for now */
    while (!(end = memmem(s->raw, s->raw_len, "\r\n\r\n", 4)) && now_ms() < deadline)
        fill(s, 200);
    ck_assert_msg(end != NULL, "no headers for %s", path);
    s->status = (int)strtol(s->raw + 9, NULL, 10);
    *end = '\0';
    ck_assert_msg(strstr(s->raw, "Transfer-Encoding: chunked"), "not a stream: %s", s->raw);
    consume(s, (size_t)(end - s->raw) + 4);
}

static void stream_close(struct stream *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    free(s->text);
    s->text = NULL;
}

/* The next event within wait_ms, parsed; NULL when none came (or the stream ended). */
static json_t *next_event(struct stream *s, int wait_ms)
{
    int64_t deadline = now_ms() + wait_ms;

    for (;;) {
        char *nl = s->text ? memchr(s->text, '\n', s->text_len) : NULL;

        if (nl) {
            json_error_t err;
            json_t *ev;

            *nl = '\0';
            ev = json_loads(s->text, 0, &err);
            ck_assert_msg(ev != NULL, "not JSON: %s (%s)", s->text, err.text);
            s->text_len -= (size_t)(nl + 1 - s->text);
            memmove(s->text, nl + 1, s->text_len + 1);
            return ev;
        }
        if (s->ended || now_ms() >= deadline)
            return NULL;
        if (!fill(s, (int)(deadline - now_ms())) && s->raw_len == 0)
            return NULL;
        dechunk(s);
    }
}

static const char *ev_type(json_t *ev)
{
    return json_string_value(json_object_get(ev, "type"));
}

static const char *ev_meta(json_t *ev, const char *key)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(ev, "object"), "metadata"), key));
}

static const char *ev_phase(json_t *ev)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(ev, "object"), "status"), "phase"));
}

/* The next event that is not a BOOKMARK. */
static json_t *next_change(struct stream *s, int wait_ms)
{
    json_t *ev;

    while ((ev = next_event(s, wait_ms)) && strcmp(ev_type(ev), "BOOKMARK") == 0)
        json_decref(ev);
    return ev;
}

/* Within 2 s: a watch that missed its notification would only read at its next wake,
 * 5 s later. */
static void expect(struct stream *s, const char *type, const char *ns, const char *name,
                   const char *phase)
{
    json_t *ev = next_change(s, 2000);

    ck_assert_msg(ev != NULL, "no event (wanted %s %s/%s)", type, ns, name);
    ck_assert_msg(strcmp(ev_type(ev), type) == 0 && strcmp(ev_meta(ev, "namespace"), ns) == 0 &&
                      strcmp(ev_meta(ev, "name"), name) == 0 &&
                      (!phase || strcmp(ev_phase(ev), phase) == 0),
                  "wanted %s %s/%s %s, got %s", type, ns, name, phase ? phase : "",
                  json_dumps(ev, JSON_COMPACT));
    json_decref(ev);
}

/* ---- the jobs ---- */

static void submit(const char *ns, const char *name, const char *labels)
{
    char path[256],
        *body =
            xasprintf("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\","
                      "\"metadata\":{\"name\":\"%s\",\"labels\":%s},\"spec\":{\"framework\":"
                      "\"pytorch\",\"resources\":{\"instanceType\":\"a100-80gb\",\"gpuCount\":8},"
                      "\"code\":{\"image\":\"trainer:1\",\"command\":[\"python\",\"train.py\"]}}}",
                      name, labels);

    snprintf(path, sizeof(path), "/v1/namespaces/%s/trainingjobs", ns);
    ck_assert_int_eq(itest_post_json(srv.base, path, body, NULL), 201);
    free(body);
}

static void cancel(const char *ns, const char *name)
{
    char url[256];

    snprintf(url, sizeof(url), "%s/v1/namespaces/%s/trainingjobs/%s", srv.base, ns, name);
    ck_assert_int_eq(itest_http("DELETE", url, NULL, NULL, NULL), 200);
}

/* What the scheduler does when a job starts, as one statement (the change trigger
 * notifies the watchers as it does for the scheduler's). */
static void set_running(const char *ns, const char *name)
{
    char *sql = xasprintf("UPDATE jobs SET phase = 'Running', cluster = 'sim-east',"
                          " updated_at = now(), resource_version = nextval('resource_version_seq')"
                          " WHERE namespace = '%s' AND name = '%s' RETURNING id",
                          ns, name);

    free(itest_sql(dsn, sql));
    free(sql);
}

/* The list's resourceVersion, for a watch that starts where it ends. */
static char *list_version(const char *path)
{
    json_t *l = NULL;
    char *rv;

    ck_assert_int_eq(itest_get_json(srv.base, path, &l), 200);
    rv = xstrdup(
        json_string_value(json_object_get(json_object_get(l, "metadata"), "resourceVersion")));
    json_decref(l);
    return rv;
}

/* ---- fixtures ---- */

static void write_config(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void suite_setup(void)
{
    itest_create_db(dsn, sizeof(dsn));
    snprintf(cfg_path, sizeof(cfg_path), "/tmp/fedsched-lw-%d.json", (int)getpid());
    snprintf(cap_cfg_path, sizeof(cap_cfg_path), "/tmp/fedsched-lw-cap-%d.json", (int)getpid());
    /* A short idle timeout: the slow reader is cut off after it. */
    write_config(cfg_path, "{\"http\": {\"requestTimeoutS\": 3}}\n");
    write_config(cap_cfg_path, "{\"http\": {\"maxWatches\": 3}}\n");
    itest_server_start_args(&srv, dsn, NULL, serve_args, 1);
}

static void suite_teardown(void)
{
    itest_server_stop(&srv, SIGTERM);
    unlink(cfg_path);
    unlink(cap_cfg_path);
}

/* ---- tests ---- */

START_TEST(events_for_create_phase_change_and_cancel)
{
    struct stream s;
    json_t *ev;

    /* No resourceVersion: the current list first (empty here), then its end as a
     * bookmark, then the changes. */
    stream_open(&s, "/v1/namespaces/lw-events/trainingjobs?watch=true&allowWatchBookmarks=true", 0);
    ck_assert_int_eq(s.status, 200);
    ev = next_event(&s, 5000);
    ck_assert_msg(
        ev && strcmp(ev_type(ev), "BOOKMARK") == 0 &&
            json_is_string(json_object_get(
                json_object_get(json_object_get(json_object_get(ev, "object"), "metadata"),
                                "annotations"),
                "k8s.io/initial-events-end")),
        "first event is not the initial-events-end bookmark");
    json_decref(ev);
    submit("lw-events", "a", "{}");
    expect(&s, "ADDED", "lw-events", "a", "Queued");
    set_running("lw-events", "a");
    expect(&s, "MODIFIED", "lw-events", "a", "Running");
    submit("lw-events", "b", "{}");
    expect(&s, "ADDED", "lw-events", "b", "Queued");
    cancel("lw-events", "b");
    expect(&s, "MODIFIED", "lw-events", "b", "Cancelled");
    stream_close(&s);

    /* A new watch without a version starts with the current list, as ADDED. */
    stream_open(&s, "/v1/namespaces/lw-events/trainingjobs?watch=true", 0);
    expect(&s, "ADDED", "lw-events", "a", "Running");
    expect(&s, "ADDED", "lw-events", "b", "Cancelled");
    stream_close(&s);
}
END_TEST

START_TEST(filters_apply)
{
    struct stream s, ph;
    char *rv = list_version("/v1/trainingjobs?limit=1"), path[256];

    snprintf(path, sizeof(path),
             "/v1/namespaces/lw-filter/trainingjobs?watch=true&labelSelector=team%%3Dmaps&"
             "resourceVersion=%s",
             rv);
    stream_open(&s, path, 0);
    ck_assert_int_eq(s.status, 200);
    snprintf(path, sizeof(path), "/v1/trainingjobs?watch=true&phase=Queued&resourceVersion=%s", rv);
    stream_open(&ph, path, 0);
    ck_assert_int_eq(ph.status, 200);
    /* Neither of the first two is for the label watch; events come in version order, so
     * the third being the first it gets shows they were not sent. */
    submit("lw-filter", "eats", "{\"team\":\"eats\"}");
    submit("lw-filter-other", "maps-elsewhere", "{\"team\":\"maps\"}");
    submit("lw-filter", "maps", "{\"team\":\"maps\"}");
    expect(&s, "ADDED", "lw-filter", "maps", "Queued");
    /* The phase watch gets all three, then the one that left Queued as DELETED. */
    expect(&ph, "ADDED", "lw-filter", "eats", "Queued");
    expect(&ph, "ADDED", "lw-filter-other", "maps-elsewhere", "Queued");
    expect(&ph, "ADDED", "lw-filter", "maps", "Queued");
    set_running("lw-filter", "eats");
    expect(&ph, "DELETED", "lw-filter", "eats", "Running");
    /* The label watch gets the change of its job only. */
    set_running("lw-filter", "eats");
    set_running("lw-filter", "maps");
    expect(&s, "MODIFIED", "lw-filter", "maps", "Running");
    stream_close(&s);
    stream_close(&ph);
    free(rv);
}
END_TEST

START_TEST(resume_gets_exactly_the_missed_changes)
{
    struct stream s;
    char *rv, path[256];
    json_t *ev;
    int n = 0;

    submit("lw-resume", "before", "{}"); /* in the list: not sent */
    rv = list_version("/v1/namespaces/lw-resume/trainingjobs");
    submit("lw-resume", "x", "{}");
    submit("lw-resume", "y", "{}");
    cancel("lw-resume", "x");
    /* x changed twice: it is sent once, in its latest state, after y. */
    snprintf(path, sizeof(path),
             "/v1/namespaces/lw-resume/trainingjobs?watch=true&resourceVersion=%s&"
             "timeoutSeconds=2",
             rv);
    stream_open(&s, path, 0);
    ck_assert_int_eq(s.status, 200);
    expect(&s, "ADDED", "lw-resume", "y", "Queued");
    expect(&s, "MODIFIED", "lw-resume", "x", "Cancelled");
    /* Nothing else before the stream ends at timeoutSeconds. */
    while ((ev = next_event(&s, 5000))) {
        n++;
        json_decref(ev);
    }
    ck_assert_msg(s.ended, "the stream did not end at timeoutSeconds");
    ck_assert_int_eq(n, 0);
    stream_close(&s);
    free(rv);
}
END_TEST

static void expect_gone(const char *path, const char *message_part)
{
    struct stream s;
    json_t *ev, *st;

    stream_open(&s, path, 0);
    /* As Kubernetes: the watch is answered 200, then one ERROR event with the Status. */
    ck_assert_int_eq(s.status, 200);
    ev = next_event(&s, 5000);
    ck_assert_ptr_nonnull(ev);
    st = json_object_get(ev, "object");
    ck_assert_str_eq(ev_type(ev), "ERROR");
    ck_assert_str_eq(json_string_value(json_object_get(st, "kind")), "Status");
    ck_assert_str_eq(json_string_value(json_object_get(st, "apiVersion")), "v1");
    ck_assert_str_eq(json_string_value(json_object_get(st, "status")), "Failure");
    ck_assert_str_eq(json_string_value(json_object_get(st, "reason")), "Expired");
    ck_assert_int_eq(json_integer_value(json_object_get(st, "code")), 410);
    ck_assert_msg(strstr(json_string_value(json_object_get(st, "message")), message_part),
                  "message: %s", json_string_value(json_object_get(st, "message")));
    json_decref(ev);
    ck_assert_ptr_null(next_event(&s, 2000));
    ck_assert_msg(s.ended, "the stream did not end after the 410");
    stream_close(&s);
}

START_TEST(too_old_resource_version_is_gone)
{
    char *rv = list_version("/v1/namespaces/lw-old/trainingjobs"), path[256];
    struct stream s;

    /* 1,001 changes in the namespace since rv: one more than a watch replays. */
    free(itest_sql(dsn, "INSERT INTO jobs (namespace, name, api_version, spec, sku, gpu_count,"
                        " gpus_per_worker) SELECT 'lw-old', 'old-' || g, 'fedsched.io/v1',"
                        " '{}'::jsonb, 'a100-80gb', 8, 8 FROM generate_series(1, 1001) g"
                        " RETURNING 1"));
    snprintf(path, sizeof(path), "/v1/namespaces/lw-old/trainingjobs?watch=true&resourceVersion=%s",
             rv);
    expect_gone(path, "too old resource version");
    expect_gone("/v1/trainingjobs?watch=true&resourceVersion=999999999", "newer than the latest");
    /* Other namespaces' changes do not count against a namespaced watch. */
    snprintf(path, sizeof(path),
             "/v1/namespaces/lw-old-quiet/trainingjobs?watch=true&resourceVersion=%s&"
             "timeoutSeconds=1",
             rv);
    stream_open(&s, path, 0);
    ck_assert_int_eq(s.status, 200);
    ck_assert_ptr_null(next_event(&s, 4000));
    ck_assert(s.ended);
    stream_close(&s);
    free(rv);
}
END_TEST

START_TEST(bookmarks_arrive)
{
    struct stream s;
    char *rv = list_version("/v1/namespaces/lw-bm/trainingjobs"), path[256];
    json_t *ev;
    int64_t t0 = now_ms();

    snprintf(path, sizeof(path),
             "/v1/namespaces/lw-bm/trainingjobs?watch=true&allowWatchBookmarks=true&"
             "resourceVersion=%s",
             rv);
    stream_open(&s, path, 0);
    ck_assert_int_eq(s.status, 200);
    /* Twice, so the connection also outlives the 3 s idle timeout between them. */
    for (int i = 0; i < 2; i++) {
        ev = next_event(&s, 8000);
        ck_assert_msg(ev && strcmp(ev_type(ev), "BOOKMARK") == 0, "no bookmark %d", i);
        ck_assert_msg(strtoll(ev_meta(ev, "resourceVersion"), NULL, 10) >= strtoll(rv, NULL, 10),
                      "bookmark version %s behind %s", ev_meta(ev, "resourceVersion"), rv);
        json_decref(ev);
    }
    ck_assert_int_ge(now_ms() - t0, 9000);
    stream_close(&s);

    /* Without allowWatchBookmarks, none. */
    snprintf(path, sizeof(path),
             "/v1/namespaces/lw-bm/trainingjobs?watch=true&resourceVersion=%s&timeoutSeconds=7",
             rv);
    stream_open(&s, path, 0);
    ck_assert_ptr_null(next_event(&s, 10000));
    ck_assert(s.ended);
    stream_close(&s);
    free(rv);
}
END_TEST

START_TEST(slow_reader_is_cut_off)
{
    struct stream s;
    char *rv = list_version("/v1/namespaces/lw-slow/trainingjobs");
    size_t got = 0;
    int64_t t0;

    free(itest_sql(dsn, "INSERT INTO jobs (namespace, name, api_version, spec, sku, gpu_count,"
                        " gpus_per_worker, message) SELECT 'lw-slow', 'slow-' || g,"
                        " 'fedsched.io/v1', '{}'::jsonb, 'a100-80gb', 8, 8, repeat('m', 2000)"
                        " FROM generate_series(1, 3000) g RETURNING 1"));
    /* A client that reads nothing, with a small receive window: the server's writes stop,
     * and after http.requestTimeoutS (3 s) without progress it closes the connection. */
    stream_open(&s, "/v1/namespaces/lw-slow/trainingjobs?watch=true", 4096);
    sleep(8);
    t0 = now_ms();
    while (!s.closed && now_ms() - t0 < 10000) {
        size_t before = s.raw_len;

        fill(&s, 1000);
        got += s.raw_len - before;
        s.raw_len = 0;
    }
    ck_assert_msg(s.closed, "the server kept the stalled stream open");
    /* Cut off: less than the 3,000 jobs (over 6 MB; the kernel's buffers on both sides
     * hold at most 4 MB here) arrived. */
    fprintf(stderr, "slow reader: %zu bytes arrived before the server closed\n", got);
    ck_assert_msg(got < 3000 * 2000, "read %zu bytes: the stream was not cut", got);
    stream_close(&s);
    free(rv);
}
END_TEST

/* Versions are drawn when a statement runs: a transaction that drew one and commits after
 * a later change committed must still be sent (the watch reads up to its settle point,
 * store/watch.h). */
START_TEST(late_commit_is_not_skipped)
{
    struct stream s;
    char *rv, path[256];
    PGconn *pg = PQconnectdb(dsn);
    PGresult *r;

    ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);
    submit("lw-late", "first", "{}");
    submit("lw-late", "second", "{}");
    rv = list_version("/v1/namespaces/lw-late/trainingjobs");
    snprintf(path, sizeof(path),
             "/v1/namespaces/lw-late/trainingjobs?watch=true&resourceVersion=%s", rv);
    stream_open(&s, path, 0);
    ck_assert_int_eq(s.status, 200);
    /* first draws its version and waits uncommitted; second's cancellation draws a higher
     * one and commits. */
    PQclear(PQexec(pg, "BEGIN"));
    r = PQexec(pg, "UPDATE jobs SET message = 'late', updated_at = now(),"
                   " resource_version = nextval('resource_version_seq')"
                   " WHERE namespace = 'lw-late' AND name = 'first'");
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(pg));
    PQclear(r);
    cancel("lw-late", "second");
    usleep(300 * 1000);
    r = PQexec(pg, "COMMIT");
    ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(pg);
    /* Both, in version order: first's change was not passed over. */
    expect(&s, "MODIFIED", "lw-late", "first", "Queued");
    expect(&s, "MODIFIED", "lw-late", "second", "Cancelled");
    stream_close(&s);
    free(rv);
}
END_TEST

static void *commit_later(void *arg)
{
    PGconn *pg = arg;

    usleep(500 * 1000);
    PQclear(PQexec(pg, "COMMIT"));
    return NULL;
}

/* A list is read at a settle point: started while a change is in flight, it waits for it,
 * so the list shows the change and a watch from its version misses nothing. */
START_TEST(list_waits_for_changes_in_flight)
{
    PGconn *pg = PQconnectdb(dsn);
    PGresult *r;
    pthread_t t;
    json_t *l = NULL, *items;
    int64_t t0;
    const char *msg = NULL;

    ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);
    submit("lw-inflight", "first", "{}");
    PQclear(PQexec(pg, "BEGIN"));
    r = PQexec(pg, "UPDATE jobs SET message = 'late', updated_at = now(),"
                   " resource_version = nextval('resource_version_seq')"
                   " WHERE namespace = 'lw-inflight' AND name = 'first'");
    ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    pthread_create(&t, NULL, commit_later, pg);
    t0 = now_ms();
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/namespaces/lw-inflight/trainingjobs", &l), 200);
    pthread_join(t, NULL);
    PQfinish(pg);
    items = json_object_get(l, "items");
    if (json_array_size(items) == 1)
        msg = json_string_value(
            json_object_get(json_object_get(json_array_get(items, 0), "status"), "message"));
    ck_assert_msg(msg && strcmp(msg, "late") == 0, "the list did not wait for the change: %s",
                  json_dumps(l, JSON_COMPACT));
    ck_assert_int_ge(now_ms() - t0, 400);
    json_decref(l);
}
END_TEST

static void expect_400(const char *path, const char *field)
{
    char url[512], *body = NULL;
    json_t *j;
    long st;

    snprintf(url, sizeof(url), "%s%s", srv.base, path);
    st = itest_http("GET", url, NULL, NULL, &body);
    ck_assert_msg(st == 400, "%s: status %ld", path, st);
    j = json_loads(body, 0, NULL);
    ck_assert_msg(j != NULL, "%s: %s", path, body);
    ck_assert_msg(strcmp(json_string_value(json_object_get(json_object_get(j, "error"), "field")),
                         field) == 0,
                  "%s: %s", path, body);
    json_decref(j);
    free(body);
}

START_TEST(bad_parameters_name_themselves)
{
    expect_400("/v1/trainingjobs?watch=true&resourceVersion=abc", "resourceVersion");
    expect_400("/v1/trainingjobs?watch=true&resourceVersion=-1", "resourceVersion");
    expect_400("/v1/trainingjobs?watch=true&timeoutSeconds=86400000", "timeoutSeconds");
    expect_400("/v1/trainingjobs?watch=true&timeoutSeconds=0", "timeoutSeconds");
    expect_400("/v1/trainingjobs?watch=true&allowWatchBookmarks=perhaps", "allowWatchBookmarks");
    expect_400("/v1/trainingjobs?watch=yes", "watch");
    expect_400("/v1/trainingjobs?watch=true&limit=10", "limit");
    expect_400("/v1/trainingjobs?resourceVersion=5", "resourceVersion");
    expect_400("/v1/trainingjobs?timeoutSeconds=5", "timeoutSeconds");
    expect_400("/v1/trainingjobs?watch=true&phase=Sleeping", "phase");
    expect_400("/v1/trainingjobs?watch=true&labelSelector=team", "labelSelector");
}
END_TEST

START_TEST(too_many_watchers_get_429)
{
    struct itest_server cap;
    const char *const args[] = {"--config", cap_cfg_path, NULL};
    struct stream s[3];
    char url[256], *body = NULL;
    struct itest_server keep = srv;

    itest_server_start_args(&cap, dsn, NULL, args, 1);
    srv = cap; /* stream_open() talks to srv */
    for (int i = 0; i < 3; i++) {
        stream_open(&s[i], "/v1/namespaces/lw-cap/trainingjobs?watch=true&timeoutSeconds=60", 0);
        ck_assert_int_eq(s[i].status, 200);
    }
    snprintf(url, sizeof(url), "%s/v1/trainingjobs?watch=true&timeoutSeconds=60", cap.base);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, &body), 429);
    ck_assert_msg(strstr(body, "\"field\":\"watch\"") && strstr(body, "limit of 3 watches"), "%s",
                  body);
    free(body);
    /* A slot given back is free again: the server notices the closed connection at the
     * stream's next wake (5 s at most). */
    stream_close(&s[0]);
    snprintf(url, sizeof(url), "%s/v1/trainingjobs?watch=true&timeoutSeconds=1", cap.base);
    {
        long st = 0;

        for (int i = 0; i < 40 && st != 200; i++) {
            st = itest_http("GET", url, NULL, NULL, NULL);
            if (st != 200)
                usleep(250 * 1000);
        }
        ck_assert_int_eq(st, 200);
    }
    for (int i = 1; i < 3; i++)
        stream_close(&s[i]);
    srv = keep;
    itest_server_stop(&cap, SIGTERM);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("list_watch");
    TCase *tc = tcase_create("list_watch");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, events_for_create_phase_change_and_cancel);
    tcase_add_test(tc, filters_apply);
    tcase_add_test(tc, resume_gets_exactly_the_missed_changes);
    tcase_add_test(tc, too_old_resource_version_is_gone);
    tcase_add_test(tc, bookmarks_arrive);
    tcase_add_test(tc, slow_reader_is_cut_off);
    tcase_add_test(tc, late_commit_is_not_skipped);
    tcase_add_test(tc, list_waits_for_changes_in_flight);
    tcase_add_test(tc, bad_parameters_name_themselves);
    tcase_add_test(tc, too_many_watchers_get_429);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
