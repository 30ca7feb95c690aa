/* fuzz_request.c -- libFuzzer target for the whole HTTP request path. Each input is the raw
 * bytes a client writes on one TCP connection (request line, headers, body; possibly a second
 * pipelined request), sent to a real API server in this process: libmicrohttpd and
 * api/server.c, the router, authentication with tokens on, the handlers and the error
 * rendering, over a real PostgreSQL (FEDSCHED_FUZZ_DSN; tests/fuzz/run-fuzz.sh starts a
 * private one). Besides "no crash, no sanitizer report in any server thread" it checks what
 * a client can rely on: every response starts with "HTTP/1.x NNN", is complete when the
 * server closes, every application/json body parses (one without a Content-Length, a watch
 * stream, chunked or closed, is one {type, object} a line; jansson refuses invalid UTF-8) and
 * every JSON error is {"error": {"code": ..., "message": ...}}; a request the server neither
 * answers nor closes within READ_TIMEOUT_MS is allowed (a watch may wait) only while
 * /healthz still answers on a new connection.
 * Not responsible for slow-client or load behaviour: each input is one short connection. */
#include "api/api.h"
#include "api/trainingjob.h"
#include "base/err.h"
#include "base/job.h"
#include "base/log.h"
#include "base/sha256.h"
#include "base/sku.h"
#include "cluster/poller.h"
#include "cmd/config.h"
#include "scheduler/sched.h"
#include "store/election.h"
#include "store/live_jobs.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WRITE_TIMEOUT_MS 2000
#define READ_TIMEOUT_MS  2000
#define PROBE_TIMEOUT_MS 3000
#define QUIET_MS         50 /* after whole responses, how long to wait for more or the close */
#define RESPONSE_MAX     (8 * 1024 * 1024) /* bytes kept of one connection's responses */
#define DB_WAIT_S        120               /* how long setup waits for the database */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fixed tokens, so the dictionary and the seeds can carry them (docs/fuzzing.md). */
struct fuzz_token {
    const char *name;
    const char *role;
    const char *token;
    const char *ns[2];
    size_t n_ns;
    bool revoke;
};

static const struct fuzz_token fuzz_tokens[] = {
    {"fuzz-admin-1", "admin", "fst_fuzzAdmin1000000000000000000000000000000000", {NULL}, 0, false},
    {"fuzz-admin-2", "admin", "fst_fuzzAdmin2000000000000000000000000000000000", {NULL}, 0, false},
    {"fuzz-submitter-maps",
     "submitter",
     "fst_fuzzSubmitterMaps00000000000000000000000000",
     {"maps-team"},
     1,
     false},
    {"fuzz-submitter-two",
     "submitter",
     "fst_fuzzSubmitterTwo000000000000000000000000000",
     {"maps-team", "search-team"},
     2,
     false},
    {"fuzz-viewer-all",
     "viewer",
     "fst_fuzzViewerAll000000000000000000000000000000",
     {NULL},
     0,
     false},
    {"fuzz-viewer-maps",
     "viewer",
     "fst_fuzzViewerMaps00000000000000000000000000000",
     {"maps-team"},
     1,
     false},
    {"fuzz-revoked", "admin", "fst_fuzzRevoked00000000000000000000000000000000", {NULL}, 0, true},
};

/* Jobs the seeds name; `to` is the phase setup drives each to; `backoff`: run, then
 * requeued for a retry 30 days off (Queued, out of the policy's queue all run long). */
struct fuzz_job {
    const char *ns;
    const char *name;
    enum job_phase to;
    bool backoff;
};

static const struct fuzz_job fuzz_jobs[] = {
    {"maps-team", "fuzz-queued", PHASE_QUEUED, false},
    {"maps-team", "fuzz-running", PHASE_RUNNING, false},
    {"maps-team", "fuzz-succeeded", PHASE_SUCCEEDED, false},
    {"maps-team", "fuzz-cancel", PHASE_QUEUED, false},
    {"maps-team", "fuzz-backoff", PHASE_QUEUED, true},
    {"search-team", "fuzz-other", PHASE_QUEUED, false},
};

#define CLUSTER_JSON                                                                               \
    "{\"name\":\"fuzz-west\",\"apiServer\":\"https://127.0.0.1:9\","                               \
    "\"tokenFile\":\"/nonexistent/fedsched-fuzz.token\",\"region\":\"us-west-2\","                 \
    "\"provider\":\"aws\",\"costPerGpuHour\":{\"a100-80gb\":2.9},"                                 \
    "\"timezone\":\"America/Los_Angeles\",\"jobNamespace\":\"fedsched-jobs\"}"

static struct {
    struct config cfg;
    struct store *store;
    struct poller *poller;
    struct sched *sched;
    struct api *api;
    struct api_server *srv;
    int port;
    int report_fd; /* stderr as it was before libFuzzer's -close_fd_mask closed it */
    bool verbose;  /* FEDSCHED_FUZZ_VERBOSE=1: print every exchange */
    /* statistics, printed at exit */
    unsigned long execs, responses, no_response, timeouts, resets, held_open, mhd_twice;
    unsigned long by_class[6];
    char first_5xx[3][200];  /* the first distinct 5xx bodies, printed at exit */
    char first_slow[3][200]; /* and request lines left unanswered for READ_TIMEOUT_MS */
} g = {.report_fd = 2};

/* ---- reporting ---------------------------------------------------------------------- */

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vdprintf(g.report_fd, fmt, ap);
    va_end(ap);
}

/* Prints up to 600 bytes of s with control and non-ASCII bytes escaped. */
static void report_bytes(const char *label, const char *s, size_t n)
{
    char out[2600];
    size_t o = 0;

    for (size_t i = 0; i < n && i < 600; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", c);
    }
    out[o] = '\0';
    report("  %s (%zu bytes): %s%s\n", label, n, out, n > 600 ? "..." : "");
}

static const char *cur_in;
static size_t cur_in_len;

static void fail(const char *resp, size_t resp_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
static void fail(const char *resp, size_t resp_len, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    report("fuzz_request: %s\n", msg);
    if (cur_in)
        report_bytes("request", cur_in, cur_in_len);
    if (resp)
        report_bytes("response", resp, resp_len);
    abort();
}

static void print_stats(void)
{
    report("fuzz_request: %lu connections, %lu responses (1xx %lu, 2xx %lu, 3xx %lu, 4xx %lu, "
           "5xx %lu), %lu with no response, %lu timed out, %lu reset, %lu kept open after "
           "the answers, %lu header blocks sent twice by libmicrohttpd\n",
           g.execs, g.responses, g.by_class[1], g.by_class[2], g.by_class[3], g.by_class[4],
           g.by_class[5], g.no_response, g.timeouts, g.resets, g.held_open, g.mhd_twice);
    for (int i = 0; i < 3 && g.first_5xx[i][0]; i++)
        report("fuzz_request: a 5xx answer: %s\n", g.first_5xx[i]);
    for (int i = 0; i < 3 && g.first_slow[i][0]; i++)
        report("fuzz_request: unanswered for %d ms: %s\n", READ_TIMEOUT_MS, g.first_slow[i]);
}

/* Keeps the first three distinct samples (prefix, then bytes up to a CR or the end, made
 * printable) in slots: a 500 or an unanswered request is allowed but worth a look. */
static void note_sample(char (*slots)[200], const char *prefix, const char *p, size_t len)
{
    char line[200];
    size_t o;

    o = (size_t)snprintf(line, sizeof(line), "%s", prefix);
    for (size_t i = 0; i < len && p[i] != '\r' && o < sizeof(line) - 1; i++)
        line[o++] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '.';
    line[o] = '\0';
    for (int i = 0; i < 3; i++) {
        if (strcmp(slots[i], line) == 0)
            return;
        if (!slots[i][0]) {
            snprintf(slots[i], sizeof(slots[i]), "%s", line);
            return;
        }
    }
}

/* ---- setup: database rows and the server ---------------------------------------------- */

static void die(const char *what, const struct err *e)
{
    report("fuzz_request: setup: %s: %s%s%s\n", what, e ? e->msg : "", e && e->field[0] ? " @" : "",
           e && e->field[0] ? e->field : "");
    exit(1);
}

static void setup_tokens(void)
{
    for (size_t i = 0; i < sizeof(fuzz_tokens) / sizeof(fuzz_tokens[0]); i++) {
        const struct fuzz_token *t = &fuzz_tokens[i];
        char hash[2 * SHA256_LEN + 1];
        struct err e = {0};

        sha256_hex(t->token, strlen(t->token), hash);
        /* Runs again in every process on the same database: a taken name is the same token. */
        if (store_token_create(g.store, t->name, t->role, t->ns, t->n_ns, hash, &e) &&
            e.code != ERR_CONFLICT)
            die("store_token_create", &e);
        if (t->revoke && store_token_revoke(g.store, t->name, &e))
            die("store_token_revoke", &e);
    }
}

/* One fenced phase change of job j (skipped when it is not in `from` any more). */
static void move(int64_t epoch, const struct job *j, enum job_phase from, enum job_phase to)
{
    struct store_transition t = {0};
    struct err e = {0};

    t.job_id = j->id;
    t.from = from;
    t.attempt = j->attempt;
    t.to = to;
    t.reason = "Fuzz";
    t.message = "set up by fuzz_request";
    if (to == PHASE_QUEUED) {
        t.retry = true;
        t.not_before_ms = (int64_t)time(NULL) * 1000 + 30LL * 86400 * 1000;
    }
    if (to == PHASE_ADMITTED) {
        t.cluster = "fuzz-west";
        t.pool = "training";
        t.sku = "a100-80gb";
        t.plan = &(struct job_node_use){"fuzz-node-a", 8};
        t.n_plan = 1;
        t.placement_json = "{\"cluster\":\"fuzz-west\",\"pool\":\"training\",\"score\":1.5}";
    }
    if (store_sched_apply(g.store, epoch, &t, 1, NULL, &e))
        die("store_sched_apply", &e);
}

static void setup_jobs(const char *dsn)
{
    struct store_leader *leader = NULL;
    struct err e = {0};
    int64_t epoch = 0;
    bool acquired = false;

    for (size_t i = 0; i < sizeof(fuzz_jobs) / sizeof(fuzz_jobs[0]); i++) {
        const struct fuzz_job *fj = &fuzz_jobs[i];
        struct job *in = NULL, *stored = NULL;
        char body[1024];
        bool created;

        snprintf(body, sizeof(body),
                 "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\","
                 "\"metadata\":{\"name\":\"%s\",\"labels\":{\"team\":\"fuzz\","
                 "\"pipeline\":\"deepeta\"}},\"spec\":{\"resources\":{\"instanceType\":"
                 "\"a100-80gb\",\"gpuCount\":8},\"code\":{\"image\":"
                 "\"registry.local/ml/train:1\"},\"scheduling\":{\"preemptible\":true,"
                 "\"checkpointIntervalSeconds\":600}}}",
                 fj->name);
        if (trainingjob_parse(body, strlen(body), fj->ns, NULL, &in, &e))
            die("trainingjob_parse", &e);
        if (store_job_insert(g.store, in, NULL, NULL, &created, &stored, &e))
            die("store_job_insert", &e);
        job_free(&in);
        if (fj->to != PHASE_QUEUED || fj->backoff) {
            if (!leader) {
                if (store_leader_open(dsn, "fuzz_request", &leader, &e) ||
                    store_leader_try(leader, &acquired, &epoch, &e))
                    die("store_leader_try", &e);
            }
            /* Another process holds the lock: it sets the rows up the same way. */
            if (acquired && stored->phase == PHASE_QUEUED) {
                move(epoch, stored, PHASE_QUEUED, PHASE_ADMITTED);
                move(epoch, stored, PHASE_ADMITTED, PHASE_DISPATCHED);
                move(epoch, stored, PHASE_DISPATCHED, PHASE_RUNNING);
                if (fj->to == PHASE_SUCCEEDED)
                    move(epoch, stored, PHASE_RUNNING, PHASE_SUCCEEDED);
                if (fj->backoff)
                    move(epoch, stored, PHASE_RUNNING, PHASE_QUEUED);
            }
        }
        job_free(&stored);
    }
    store_leader_close(&leader);
}

static void setup_rows(void)
{
    struct store_capacity_sample rows[4];
    int64_t now_ms = (int64_t)time(NULL) * 1000;
    struct err e = {0};

    if (store_cluster_put(g.store, "fuzz-west", CLUSTER_JSON, false, true, "api", NULL, &e))
        die("store_cluster_put", &e);
    /* A few hours of capacity so the reports have rows to render. */
    for (int i = 0; i < 4; i++) {
        rows[i] = (struct store_capacity_sample){
            .ts_ms = now_ms - (int64_t)(4 - i) * 3600 * 1000,
            .cluster = "fuzz-west",
            .sku = "a100-80gb",
            .pool = i % 2 ? "serving" : "training",
            .total = 64,
            .used = 8 * i,
            .free = 64 - 8 * i,
            .borrowed = i,
            .pending_demand = 2 * i,
            .lendable = 4,
            .healthy = true,
        };
    }
    if (store_capacity_samples_insert(g.store, rows, 4, &e))
        die("store_capacity_samples_insert", &e);
}

static int explain_source(void *arg, const char *ns, const char *name, const struct job *unsaved,
                          struct buf *out, struct err *e)
{
    return unsaved ? sched_explain_new(arg, unsaved, out, e) : sched_explain(arg, ns, name, out, e);
}

static int queue_source(void *arg, const struct api_queue_query *q, struct buf *out, struct err *e)
{
    const struct sched_queue_query sq = {q->ns,  q->namespaces, q->n_namespaces,
                                         q->sku, q->offset,     q->limit};

    return sched_queue_view(arg, &sq, out, e);
}

static void start_server(const char *dsn)
{
    struct api_config ac = {0};
    struct poller_options po;
    struct sched_options so;
    struct err e = {0};

    config_poller_options(&g.cfg, &po);
    /* No clusters and never started: the cluster endpoints read its (empty) snapshot and
     * nothing leaves the machine. It is given the empty registry, as `serve` gives it the
     * registry, so the replica is ready. */
    if (poller_create(NULL, 0, &po, &g.poller, &e) || poller_set_clusters(g.poller, NULL, 0, &e) ||
        poller_poll_once(g.poller, &e))
        die("poller", &e);
    ac.max_body_bytes = g.cfg.http.max_body_bytes;
    ac.max_connections = g.cfg.http.max_connections;
    ac.request_timeout_s = g.cfg.http.request_timeout_s;
    ac.auth_enabled = true;
    ac.rate_per_s = 0; /* unlimited: the fuzzer sends thousands per second */
    ac.rate_burst = g.cfg.auth.burst;
    ac.max_header_bytes = g.cfg.http.max_header_bytes;
    ac.threads = g.cfg.http.threads;
    ac.max_connections_per_ip = g.cfg.http.max_connections; /* every input comes from 127.0.0.1 */
    ac.header_timeout_s = g.cfg.http.header_timeout_s;
    ac.body_timeout_s = g.cfg.http.body_timeout_s;
    /* Watches that outlive their connection must not pile up over a long run. */
    ac.max_watches = 8;
    ac.max_watches_per_token = 2;
    ac.tls_priorities = NULL;
    if (api_new(&ac, g.store, &g.api, &e))
        die("api_new", &e);
    api_attach_clusters(g.api, g.poller, &g.cfg.skus, NULL, NULL);
    config_sched_options(&g.cfg, &so);
    so.dsn = dsn;
    so.holder = "fuzz_request";
    if (sched_new(&so, g.store, g.poller, &g.sched, &e))
        die("sched_new", &e);
    api_attach_explainer(g.api, explain_source, g.sched);
    api_attach_queue_view(g.api, queue_source, g.sched);
    if (api_server_start(g.api, "127.0.0.1", 0, &g.srv, &e))
        die("api_server_start", &e);
    g.port = api_server_port(g.srv);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dsn = getenv("FEDSCHED_FUZZ_DSN");
    const char *lvl = getenv("FEDSCHED_FUZZ_LOG");
    struct store_config sc = {0};
    struct err e = {0};
    enum log_level level = LOG_ERROR;
    time_t give_up = time(NULL) + DB_WAIT_S;

    (void)argc;
    (void)argv;
    /* libFuzzer's -close_fd_mask closes stderr after this; keep a way to say what failed. */
    g.report_fd = dup(2);
    if (g.report_fd < 0)
        g.report_fd = 2;
    signal(SIGPIPE, SIG_IGN);
    if (!dsn || !*dsn) {
        report("fuzz_request: set FEDSCHED_FUZZ_DSN to a PostgreSQL database it may fill "
               "(tests/fuzz/run-fuzz.sh starts a private one)\n");
        exit(1);
    }
    g.verbose =
        getenv("FEDSCHED_FUZZ_VERBOSE") && strcmp(getenv("FEDSCHED_FUZZ_VERBOSE"), "1") == 0;
    if (lvl && log_parse_level(lvl, &level))
        level = LOG_ERROR;
    log_set_level(level);
    config_defaults(&g.cfg);
    sku_set_catalogue(&g.cfg.skus);
    sc.dsn = dsn;
    sc.pool_size = 8;
    sc.statement_timeout_ms = 5000;
    sc.connect_timeout_s = 5;
    sc.acquire_timeout_ms = 5000;
    if (store_open(&sc, &g.store, &e))
        die("store_open", &e);
    /* The database may still be starting (CI): retry until it answers. */
    while (store_migrate(g.store, NULL, &e)) {
        if (e.code == ERR_CONFIG || time(NULL) >= give_up)
            die("store_migrate", &e);
        sleep(1);
    }
    setup_tokens();
    setup_jobs(dsn);
    setup_rows();
    start_server(dsn);
    atexit(print_stats);
    report("fuzz_request: server on 127.0.0.1:%d, database ready\n", g.port);
    return 0;
}

/* ---- one exchange ------------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A non-blocking socket connected to the server within timeout_ms, or -1. */
static int connect_server(int timeout_ms)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g.port)};
    struct pollfd p;
    int fd, err = 0;
    socklen_t len = sizeof(err);
    /* Closing with a reset leaves no TIME_WAIT behind: thousands of connections per second
     * would otherwise use up the ephemeral ports. */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        return fd;
    if (errno != EINPROGRESS)
        goto fail;
    p = (struct pollfd){.fd = fd, .events = POLLOUT};
    if (poll(&p, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || err)
        goto fail;
    return fd;
fail:
    close(fd);
    return -1;
}

/* Writes what the server takes of data before the deadline; stops early when it closed. */
static void send_all(int fd, const uint8_t *data, size_t size, int64_t deadline)
{
    size_t off = 0;

    while (off < size) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int64_t left = deadline - now_ms();
        ssize_t n;

        if (left <= 0 || poll(&p, 1, (int)left) != 1)
            return;
        n = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0)
            return; /* EPIPE, ECONNRESET: the server answered early (413) or closed */
        off += (size_t)n;
    }
}

enum end { END_EOF, END_RESET, END_TIMEOUT, END_FULL, END_QUIET };

struct resp_buf {
    char *data;
    size_t len, cap;
};

static bool walk_responses(char *buf, size_t len, bool eof, bool has_head, bool check);

/* Reads until the server closes, resets, or the deadline passes, or QUIET_MS after the
 * data so far forms whole responses (has_head: the request may be HEAD, whose answer has no
 * body): a client that has its answers need not wait for the close. */
static enum end recv_all(int fd, struct resp_buf *b, int64_t deadline, bool has_head)
{
    bool whole = false;

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - now_ms();
        ssize_t n;

        if (b->len == RESPONSE_MAX)
            return END_FULL;
        if (b->cap - b->len < 65536) {
            size_t cap = b->cap ? b->cap * 2 : 131072;

            if (cap > RESPONSE_MAX)
                cap = RESPONSE_MAX;
            b->data = realloc(b->data, cap + 1);
            if (!b->data)
                abort();
            b->cap = cap;
        }
        if (whole && left > QUIET_MS)
            left = QUIET_MS;
        if (left <= 0 || poll(&p, 1, (int)left) != 1)
            return whole ? END_QUIET : END_TIMEOUT;
        n = recv(fd, b->data + b->len, b->cap - b->len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0)
            return END_RESET;
        if (n == 0)
            return END_EOF;
        b->len += (size_t)n;
        whole = walk_responses(b->data, b->len, false, has_head, false);
    }
}

/* Is /healthz still answered 200 on a new connection? */
static bool server_answers(void)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n";
    int64_t deadline = now_ms() + PROBE_TIMEOUT_MS;
    struct resp_buf b = {0};
    int fd = connect_server(PROBE_TIMEOUT_MS);
    bool ok;

    if (fd < 0)
        return false;
    send_all(fd, (const uint8_t *)req, sizeof(req) - 1, deadline);
    shutdown(fd, SHUT_WR);
    recv_all(fd, &b, deadline, false);
    close(fd);
    ok = b.len >= 12 && memcmp(b.data, "HTTP/1.1 200", 12) == 0;
    free(b.data);
    return ok;
}

/* ---- checking the responses --------------------------------------------------------- */

static bool header_is(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);

    return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

static const char *header_value(const char *line, size_t len, size_t *vlen)
{
    const char *v = memchr(line, ':', len), *end = line + len;

    for (v++; v < end && (*v == ' ' || *v == '\t'); v++)
        ;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *vlen = (size_t)(end - v);
    return v;
}

/* An application/json answer without a Content-Length is a watch stream, chunked, or
 * delimited by the close for an HTTP/1.0 client (which cannot take chunks); every other
 * answer has a Content-Length. Kubernetes watch events, one JSON object a line; none at all
 * when the stream ended before its first event. */
static void check_watch_stream(const char *resp, size_t resp_len, int status, const char *body,
                               size_t len)
{
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(body + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (body + at)) : len - at;
        json_error_t je;
        json_t *ev = json_loadb(body + at, n, 0, &je);

        if (!ev)
            fail(resp, resp_len, "status %d: watch event does not parse: %s", status, je.text);
        if (!json_is_object(ev) || !json_is_string(json_object_get(ev, "type")) ||
            !json_is_object(json_object_get(ev, "object")))
            fail(resp, resp_len, "status %d: watch event is not {type, object}", status);
        json_decref(ev);
        if (!nl)
            fail(resp, resp_len, "status %d: watch stream ends inside an event", status);
        at += n + 1;
    }
}

static void check_json(const char *resp, size_t resp_len, int status, const char *body, size_t len)
{
    json_error_t je;
    json_t *v = json_loadb(body, len, 0, &je), *err, *code, *msg;

    if (!v)
        fail(resp, resp_len, "status %d: application/json body does not parse: %s", status,
             je.text);
    if (status >= 400) {
        err = json_object_get(v, "error");
        code = json_object_get(err, "code");
        msg = json_object_get(err, "message");
        if (!json_is_object(err) || !json_is_string(code) || !json_is_string(msg) ||
            !json_string_length(code))
            fail(resp, resp_len,
                 "status %d: JSON error body is not {\"error\":{\"code\":..., "
                 "\"message\":...}}",
                 status);
    }
    json_decref(v);
}

/* Decodes a chunked body in place into out (same storage is fine: output never overtakes
 * input), or only measures it when out is NULL. Returns the bytes consumed, 0 when
 * incomplete, -1 when malformed. */
static long dechunk(const char *p, size_t len, char *out, size_t *out_len)
{
    size_t off = 0, o = 0;

    for (;;) {
        const char *eol = memmem(p + off, len - off, "\r\n", 2);
        char *end;
        unsigned long n;

        if (!eol)
            return 0;
        n = strtoul(p + off, &end, 16);
        if (end == p + off || (end != eol && *end != ';'))
            return -1;
        off = (size_t)(eol - p) + 2;
        if (n == 0) {
            /* Trailers, then an empty line. */
            const char *fin = memmem(p + off, len - off, "\r\n", 2);

            while (fin && fin != p + off) {
                off = (size_t)(fin - p) + 2;
                fin = memmem(p + off, len - off, "\r\n", 2);
            }
            if (!fin)
                return 0;
            if (out_len)
                *out_len = o;
            return (long)(off + 2);
        }
        if (n > len - off || len - off - n < 2)
            return 0;
        if (out)
            memmove(out + o, p + off, n);
        o += n;
        off += n;
        if (memcmp(p + off, "\r\n", 2) != 0)
            return -1;
        off += 2;
    }
}

/* Walks the responses in buf[0..len). With check, each must be a well-formed HTTP/1.x
 * response (complete when eof: the server closed) whose JSON body passes check_json(), and
 * the statistics count them; chunked bodies are decoded in place. Without check nothing
 * is changed or reported. Returns whether buf holds whole responses and nothing more. */
static bool walk_responses(char *buf, size_t len, bool eof, bool has_head, bool check)
{
    size_t off = 0;
    bool complete_expected = check && eof;

    while (off < len) {
        char *r = buf + off;
        size_t left = len - off, hdr_len, line_len, ctype_len = 0, body_len = 0;
        const char *hdr_end, *line, *ctype = NULL;
        long long clen = -1;
        bool chunked = false, no_body, bad_clen = false;
        int status;

        if (left < 12) {
            if (complete_expected && memcmp(r, "HTTP/1.", left < 7 ? left : 7) != 0)
                fail(r, left, "response does not start with \"HTTP/1.\"");
            if (complete_expected)
                fail(r, left, "response cut short in the status line");
            return false;
        }
        if (memcmp(r, "HTTP/1.", 7) != 0 || (r[7] != '0' && r[7] != '1') || r[8] != ' ' ||
            r[9] < '1' || r[9] > '5' || r[10] < '0' || r[10] > '9' || r[11] < '0' || r[11] > '9' ||
            (left > 12 && r[12] != ' ' && r[12] != '\r')) {
            if (check)
                fail(r, left, "response does not start with \"HTTP/1.x NNN\"");
            return false;
        }
        status = (r[9] - '0') * 100 + (r[10] - '0') * 10 + (r[11] - '0');
        hdr_end = memmem(r, left, "\r\n\r\n", 4);
        if (!hdr_end) {
            if (complete_expected)
                fail(r, left, "status %d: headers not terminated before the server closed", status);
            return false;
        }
        if (check) {
            g.responses++;
            g.by_class[status / 100]++;
        }
        hdr_len = (size_t)(hdr_end - r) + 4;
        for (line = memmem(r, hdr_len, "\r\n", 2) + 2; line < hdr_end; line += line_len + 2) {
            const char *v;
            size_t vlen;

            line_len =
                (size_t)((const char *)memmem(line, (size_t)(hdr_end + 2 - line), "\r\n", 2) -
                         line);
            if (header_is(line, line_len, "Content-Type")) {
                ctype = header_value(line, line_len, &ctype_len);
            } else if (header_is(line, line_len, "Content-Length")) {
                char num[24], *end;

                v = header_value(line, line_len, &vlen);
                bad_clen = bad_clen || vlen == 0 || vlen >= sizeof(num) || clen >= 0;
                if (!bad_clen) {
                    memcpy(num, v, vlen);
                    num[vlen] = '\0';
                    clen = strtoll(num, &end, 10);
                    bad_clen = *end != '\0' || clen < 0;
                }
            } else if (header_is(line, line_len, "Transfer-Encoding")) {
                v = header_value(line, line_len, &vlen);
                chunked = vlen == 7 && strncasecmp(v, "chunked", 7) == 0;
            }
        }
        /* libmicrohttpd 0.9.75 sends the header block of its own 400 for a malformed
         * Content-Length twice (docs/fuzzing.md). Tolerate exactly that, and count it. */
        if (!ctype && left >= 2 * hdr_len && memcmp(r, r + hdr_len, hdr_len) == 0) {
            if (check) {
                g.mhd_twice++;
                g.responses--;
                g.by_class[status / 100]--;
            }
            off += hdr_len;
            continue;
        }
        if (bad_clen) {
            if (check)
                fail(r, left, "status %d: bad or repeated Content-Length", status);
            return false;
        }
        off += hdr_len;
        left -= hdr_len;
        r = buf + off;
        no_body = status < 200 || status == 204 || status == 304;
        if (!no_body && !chunked && clen > 0 && left == 0) {
            /* Headers alone: a HEAD answer, or the server stopped mid-response. */
            if (complete_expected && !has_head)
                fail(buf, len, "status %d: Content-Length %lld but no body", status, clen);
            if (!has_head)
                return false;
            no_body = true;
        }
        if (!no_body && !chunked && clen > 0 && left >= 7 && memcmp(r, "HTTP/1.", 7) == 0 &&
            has_head)
            no_body = true; /* a HEAD answer followed by the next response */
        if (no_body) {
            body_len = 0;
        } else if (chunked) {
            long used = dechunk(r, left, check ? r : NULL, &body_len);

            if (used < 0 && check)
                fail(buf, len, "status %d: malformed chunked body", status);
            if (used <= 0) {
                if (complete_expected)
                    fail(buf, len, "status %d: chunked body cut short", status);
                return false;
            }
            off += (size_t)used;
        } else if (clen >= 0) {
            if ((unsigned long long)clen > left) {
                if (complete_expected)
                    fail(buf, len, "status %d: body shorter than Content-Length %lld", status,
                         clen);
                return false;
            }
            body_len = (size_t)clen;
            off += body_len;
        } else {
            /* Delimited by the close: whole only once the server closed. */
            if (!eof)
                return false;
            body_len = left;
            off += body_len;
        }
        if (check && status >= 500) {
            char prefix[8];

            snprintf(prefix, sizeof(prefix), "%d ", status);
            note_sample(g.first_5xx, prefix, r, body_len);
        }
        if (check && !no_body && ctype && ctype_len >= 16 &&
            strncasecmp(ctype, "application/json", 16) == 0) {
            if (chunked || clen < 0)
                check_watch_stream(buf, len, status, r, body_len);
            else
                check_json(buf, len, status, r, body_len);
        }
    }
    return len > 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct resp_buf b = {0};
    bool has_head = memmem(data, size, "HEAD", 4) != NULL;
    enum end end;
    int64_t deadline;
    int fd;

    g.execs++;
    cur_in = (const char *)data;
    cur_in_len = size;
    fd = connect_server(WRITE_TIMEOUT_MS);
    if (fd < 0) {
        if (!server_answers())
            fail(NULL, 0, "the server accepts no connection and /healthz does not answer");
        cur_in = NULL;
        return 0;
    }
    send_all(fd, data, size, now_ms() + WRITE_TIMEOUT_MS);
    shutdown(fd, SHUT_WR);
    deadline = now_ms() + READ_TIMEOUT_MS;
    end = recv_all(fd, &b, deadline, has_head);
    close(fd);
    if (end == END_RESET)
        g.resets++;
    if (end == END_QUIET)
        g.held_open++;
    if (b.len == 0)
        g.no_response++;
    if (end == END_TIMEOUT) {
        /* Allowed for a watch; otherwise the server must still be there for others. */
        g.timeouts++;
        note_sample(g.first_slow, "", (const char *)data, size);
        if (!server_answers())
            fail(b.data, b.len, "no answer within %d ms and /healthz does not answer either",
                 READ_TIMEOUT_MS);
    }
    if (g.verbose) {
        static const char *const ends[] = {"eof", "reset", "timeout", "full", "quiet"};

        report("fuzz_request: exchange ended by %s\n", ends[end]);
        report_bytes("request", (const char *)data, size);
        report_bytes("response", b.data ? b.data : "", b.len);
    }
    walk_responses(b.data, b.len, end == END_EOF, has_head, true);
    free(b.data);
    cur_in = NULL;
    return 0;
}
