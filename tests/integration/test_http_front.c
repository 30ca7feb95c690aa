/* test_http_front.c -- the HTTP front under attack, over raw sockets against a real
 * `fedsched serve`: bytes that once aborted the server, targets with NUL or invalid
 * UTF-8, a missing Host, the header limit, authentication before the body, refused bodies
 * whose client still reads the answer, trickling
 * clients past every timeout, watches held at the per-token cap, and submissions waiting for
 * their commit. */
#include "tests/support/itest.h"

#include "base/mem.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A TCP connection to 127.0.0.1:port from the loopback address src ("127.0.0.2"), so a
 * test can be several clients. -1 when the connection is refused. */
static int connect_from(const char *src, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET}, b = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    inet_pton(AF_INET, src, &b.sin_addr);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&b, sizeof(b)), 0);
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads until the peer closes or timeout_ms passes; returns the bytes read. */
static size_t read_all(int fd, char *out, size_t size, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    size_t got = 0;

    while (got + 1 < size) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)(end - now_ms());
        ssize_t n;

        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        n = recv(fd, out + got, size - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    out[got] = '\0';
    return got;
}

/* Sends raw bytes (with Connection: close semantics left to the caller) and returns the
 * status; *body points into buf. */
static int raw(int port, const char *req, size_t len, char *buf, size_t size, const char **body)
{
    int fd = connect_from("127.0.0.1", port), status = 0;
    const char *b;

    ck_assert_int_ge(fd, 0);
    itest_send_all(fd, req, len);
    shutdown(fd, SHUT_WR);
    read_all(fd, buf, size, 10000);
    close(fd);
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    b = strstr(buf, "\r\n\r\n");
    *body = b ? b + 4 : "";
    return status;
}

/* The server is alive and well: the same process answers /healthz. */
static void assert_alive(struct itest_server *s)
{
    int st;

    char url[128];

    ck_assert_msg(waitpid(s->pid, &st, WNOHANG) == 0, "fedsched serve died (status %d)", st);
    snprintf(url, sizeof(url), "%s/healthz", s->base);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, NULL), 200);
}

/* A JSON error body with a code and a message, valid UTF-8 (jansson refuses anything
 * else when loading). */
static void assert_json_error(const char *body, const char *what)
{
    json_error_t je;
    json_t *j = json_loads(body, 0, &je), *err;

    ck_assert_msg(j != NULL, "%s: body is not valid JSON/UTF-8: %s (%s)", what, je.text, body);
    err = json_object_get(j, "error");
    ck_assert_msg(json_is_string(json_object_get(err, "code")), "%s: no error.code: %s", what,
                  body);
    ck_assert_msg(json_is_string(json_object_get(err, "message")), "%s: no error.message", what);
    json_decref(j);
}

static struct itest_server srv;
static char dsn[512];
static char dir[256];

static void write_config(const char *name, const char *text, char *path, size_t size)
{
    FILE *f;

    snprintf(dir, sizeof(dir), "/tmp/fedsched-front-%d", (int)getpid());
    mkdir(dir, 0755);
    snprintf(path, size, "%s/%s", dir, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void start(const char *config_json, const char *const *env)
{
    char cfg[512];
    const char *args[] = {"--config", cfg, NULL};

    itest_create_db(dsn, sizeof(dsn));
    write_config("config.json", config_json, cfg, sizeof(cfg));
    itest_server_start_args(&srv, dsn, env, args, 1);
}

/* Every vector that once aborted the server answers a 4xx JSON error instead. */
START_TEST(attack_vectors_answer_json_and_the_server_lives)
{
    static const char *const targets[] = {
        "/%ff",
        "/v1/trainingjobs?limit=%ff",
        "/v1/trainingjobs?%ff=1",
        "/v1/trainingjobs?labelSelector=%ff",
        "/v1/namespaces/%ff/trainingjobs",
        "/v1/namespaces/ml/trainingjobs/%ff%fe",
        "/v1/namespaces/ml/trainingjobs/job-%c3",
        "/ui/%ff",
        "/ui/%e2%82",
        "/v1/reports/capacity?format=%ff",
        "/v1/audit?limit=%ff",
        "/v1/namespaces/ml/trainingjobs/ctl-valid-1%00x",
        "/v1/trainingjobs?limit=1%00",
    };
    char buf[16384], req[8192];
    const char *body;
    char *job = itest_job_body("ctl-valid-1", 8, "1");
    char *longkey;
    size_t n = 0;
    int st;

    start("{\"auth\": {\"mode\": \"disabled\"}}", NULL);
    snprintf(req, sizeof(req), "%s/v1/namespaces/ml/trainingjobs", srv.base);
    ck_assert_int_eq(itest_http("POST", req,
                                (const char *const[]){"Content-Type: application/json", NULL}, job,
                                NULL),
                     201);
    free(job);
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 targets[i]);
        st = raw(srv.port, req, strlen(req), buf, sizeof(buf), &body);
        ck_assert_msg(st == 400, "%s answered %d, not 400", targets[i], st);
        assert_json_error(body, targets[i]);
        ck_assert_msg(strstr(body, "\"field\":\"path\""), "%s: field is not path: %s", targets[i],
                      body);
    }
    /* A bad byte in the method: refused (by us or by libmicrohttpd), never fatal. */
    snprintf(req, sizeof(req), "G\xff\xfeT / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    st = raw(srv.port, req, strlen(req), buf, sizeof(buf), &body);
    ck_assert_msg(st >= 400 && st < 500, "method with bad bytes answered %d", st);
    snprintf(req, sizeof(req),
             "DELET\xc3 /v1/trainingjobs HTTP/1.1\r\nHost: x\r\n"
             "Connection: close\r\n\r\n");
    st = raw(srv.port, req, strlen(req), buf, sizeof(buf), &body);
    ck_assert_msg(st >= 400 && st < 500, "method cut mid-character answered %d", st);
    if (strstr(buf, "application/json"))
        assert_json_error(body, "method");
    /* Valid UTF-8 longer than the 512-byte message cap, so the quoted key is cut: an
     * unknown query parameter of 300 x "é", and a checkpoint body keyed the same. */
    longkey = xmalloc(300 * 6 + 1);
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(longkey + n, 7, "%%C3%%A9");
    snprintf(req, sizeof(req),
             "GET /v1/trainingjobs?%s=1 HTTP/1.1\r\nHost: x\r\n"
             "Connection: close\r\n\r\n",
             longkey);
    st = raw(srv.port, req, strlen(req), buf, sizeof(buf), &body);
    ck_assert_int_eq(st, 400);
    assert_json_error(body, "query key of 300 x e-acute");
    {
        char jb[2048];

        n = 0;
        n += (size_t)snprintf(jb + n, sizeof(jb) - n, "{\"");
        for (int i = 0; i < 300; i++)
            n += (size_t)snprintf(jb + n, sizeof(jb) - n, "\xc3\xa9");
        n += (size_t)snprintf(jb + n, sizeof(jb) - n, "\": 1}");
        snprintf(req, sizeof(req),
                 "POST /v1/namespaces/ml/trainingjobs/ctl-valid-1/checkpoint HTTP/1.1\r\n"
                 "Host: x\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n%s",
                 n, jb);
        st = raw(srv.port, req, strlen(req), buf, sizeof(buf), &body);
        ck_assert_msg(st >= 400 && st < 500, "checkpoint with a long key answered %d", st);
        assert_json_error(body, "checkpoint key of 300 x e-acute");
    }
    free(longkey);
    /* Bad bytes in a header the error quotes (the fuzzer found Content-Type). */
    snprintf(req, sizeof(req),
             "POST /v1/namespaces/ml/trainingjobs HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/\xff\xc3\r\nContent-Length: 2\r\n"
             "Connection: close\r\n\r\n{}");
    st = raw(srv.port, req, strlen(req), buf, sizeof(buf), &body);
    ck_assert_int_eq(st, 415);
    assert_json_error(body, "Content-Type with bad bytes");
    /* %00 no longer cuts the path short: the job itself is still there. */
    snprintf(req, sizeof(req), "%s/v1/namespaces/ml/trainingjobs/ctl-valid-1", srv.base);
    ck_assert_int_eq(itest_http("GET", req, NULL, NULL, NULL), 200);
    assert_alive(&srv);
    itest_server_stop(&srv, SIGTERM);
}
END_TEST

/* HTTP/1.1 without Host is refused with JSON; HTTP/1.0 needs none. Headers over the
 * documented limit answer 431 JSON; just under it they pass. */
START_TEST(host_and_header_limit)
{
    char buf[8192], req[40000], pad[20000];
    const char *body;
    int st;

    start("{\"auth\": {\"mode\": \"disabled\"}, \"http\": {\"maxHeaderBytes\": 16384}}", NULL);
    snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
    st = raw(srv.port, req, strlen(req), buf, sizeof(buf), &body);
    ck_assert_int_eq(st, 400);
    assert_json_error(body, "no Host");
    ck_assert_ptr_nonnull(strstr(body, "\"field\":\"Host\""));
    snprintf(req, sizeof(req), "GET /healthz HTTP/1.0\r\n\r\n");
    ck_assert_int_eq(raw(srv.port, req, strlen(req), buf, sizeof(buf), &body), 200);

    memset(pad, 'a', 16500);
    pad[16500] = '\0';
    snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n", pad);
    st = raw(srv.port, req, strlen(req), buf, sizeof(buf), &body);
    ck_assert_int_eq(st, 431);
    assert_json_error(body, "headers over the limit");
    pad[16000] = '\0';
    snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n", pad);
    ck_assert_int_eq(raw(srv.port, req, strlen(req), buf, sizeof(buf), &body), 200);
    assert_alive(&srv);
    itest_server_stop(&srv, SIGTERM);
}
END_TEST

/* With tokens on, a POST without a token is answered 401 from its headers alone: the
 * client never sends the body it declared, and still gets the answer. */
START_TEST(authentication_before_the_body)
{
    const char *env[] = {"FEDSCHED_AUTH_MODE=tokens", NULL};
    char buf[4096], req[512];
    const char *body;
    int fd, st = 0;
    int64_t t0;

    start("{}", env);
    fd = connect_from("127.0.0.1", srv.port);
    ck_assert_int_ge(fd, 0);
    snprintf(req, sizeof(req),
             "POST /v1/namespaces/ml/trainingjobs HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/json\r\nContent-Length: 900000\r\n\r\n");
    itest_send_all(fd, req, strlen(req));
    t0 = now_ms();
    read_all(fd, buf, sizeof(buf), 3000);
    close(fd);
    ck_assert_msg(sscanf(buf, "HTTP/1.%*d %d", &st) == 1 && st == 401,
                  "no 401 before the body (got %d after %lld ms): %.200s", st,
                  (long long)(now_ms() - t0), buf);
    body = strstr(buf, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    assert_json_error(body + 4, "401 before body");
    assert_alive(&srv);
    itest_server_stop(&srv, SIGTERM);
}
END_TEST

/* The open descriptors of the server's process. */
static int open_fds(pid_t pid)
{
    char path[64];
    struct dirent *d;
    DIR *fds;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    fds = opendir(path);
    ck_assert_ptr_nonnull(fds);
    while ((d = readdir(fds)))
        n += d->d_name[0] != '.';
    closedir(fds);
    return n;
}

/* Reads the answer on fd, closes it, and checks it is the 413 of a body over the
 * default limit. */
static void read_413(int fd, const char *what)
{
    char buf[4096];
    const char *body;
    int st = 0;

    read_all(fd, buf, sizeof(buf), 5000);
    close(fd);
    ck_assert_msg(sscanf(buf, "HTTP/1.1 %d", &st) == 1 && st == 413, "%s: %.200s", what, buf);
    body = strstr(buf, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    assert_json_error(body + 4, what);
    ck_assert_ptr_nonnull(strstr(body, "over the limit of 1048576 bytes"));
}

/* A body over the limit, sent whole by a client that does not wait for 100 Continue:
 * every byte is taken (read and dropped) and the client reads the 413, where it used to
 * meet a broken pipe mid-body; declared by Content-Length (answered at once, then a
 * lingering close) and chunked (answered when it ends: libmicrohttpd takes no answer
 * while a body comes in; it used to close without one). The lingering sockets are closed
 * once their clients are. */
START_TEST(refused_bodies_reach_their_client)
{
    size_t len = (size_t)8 << 20, chunk = 65536;
    char *big = xmalloc(len), head[512], line[32];
    int fd, before, now = 0;
    int64_t until;

    memset(big, ' ', len);
    start("{\"auth\": {\"mode\": \"disabled\"}}", NULL);
    before = open_fds(srv.pid);

    fd = connect_from("127.0.0.1", srv.port);
    ck_assert_int_ge(fd, 0);
    snprintf(head, sizeof(head),
             "POST /v1/namespaces/ml/trainingjobs HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
             len);
    itest_send_all(fd, head, strlen(head));
    ck_assert_uint_eq(itest_send_all(fd, big, len), len);
    read_413(fd, "413 by Content-Length");

    fd = connect_from("127.0.0.1", srv.port);
    ck_assert_int_ge(fd, 0);
    snprintf(head, sizeof(head),
             "POST /v1/namespaces/ml/trainingjobs HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    itest_send_all(fd, head, strlen(head));
    for (size_t off = 0; off < (size_t)3 << 20; off += chunk) {
        snprintf(line, sizeof(line), "%zx\r\n", chunk);
        ck_assert_uint_eq(itest_send_all(fd, line, strlen(line)), strlen(line));
        ck_assert_uint_eq(itest_send_all(fd, big, chunk), chunk);
        ck_assert_uint_eq(itest_send_all(fd, "\r\n", 2), 2);
    }
    ck_assert_uint_eq(itest_send_all(fd, "0\r\n\r\n", 5), 5);
    read_413(fd, "413 of a chunked body");

    until = now_ms() + 3000;
    while (now_ms() < until && (now = open_fds(srv.pid)) > before)
        usleep(50 * 1000);
    ck_assert_msg(now <= before, "%d descriptors open, %d before", now, before);
    free(big);
    assert_alive(&srv);
    itest_server_stop(&srv, SIGTERM);
}
END_TEST

/* An error answered from the headers alone (404, 405, 400 for a bad target, 401)
 * keeps a kept-alive connection open when no body was declared: the next request on it
 * is answered too. */
START_TEST(errors_keep_the_connection_alive)
{
    const char *env[] = {"FEDSCHED_AUTH_MODE=tokens", NULL};
    static const char *const first[] = {
        "GET /no/such/path HTTP/1.1\r\nHost: x\r\n\r\n",
        "PATCH /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /%ff HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /v1/trainingjobs HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    const char *second = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char buf[16384];

    start("{}", env);
    for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
        int fd = connect_from("127.0.0.1", srv.port), st = 0;
        const char *next;

        ck_assert_int_ge(fd, 0);
        itest_send_all(fd, first[i], strlen(first[i]));
        itest_send_all(fd, second, strlen(second));
        read_all(fd, buf, sizeof(buf), 5000);
        close(fd);
        ck_assert_msg(sscanf(buf, "HTTP/1.1 %d", &st) == 1 && st >= 400, "%s: %.100s", first[i],
                      buf);
        next = strstr(buf + 1, "HTTP/1.1 200");
        ck_assert_msg(next != NULL, "request %zu closed the connection: %.300s", i, buf);
    }
    assert_alive(&srv);
    itest_server_stop(&srv, SIGTERM);
}
END_TEST

/* ---- slow clients ---- */

struct trickler {
    int port;
    const char *src;
    int n;                 /* connections to open */
    int seconds;           /* trickle this long */
    bool body;             /* trickle a body after whole headers, instead of the headers */
    int opened;            /* connections the kernel accepted */
    int closed_early;      /* closed by the server before the trickle ended */
    int closed_at_once;    /* of those, within the first second: refused by the cap */
    int64_t last_close_ms; /* after the start, when the server closed the last one */
};

/* Opens n connections from src and sends one byte on each every 500 ms. */
static void *trickle(void *arg)
{
    struct trickler *t = arg;
    int *fds = xcalloc((size_t)t->n, sizeof(int));
    bool *dead = xcalloc((size_t)t->n, sizeof(bool));
    const char *head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    const char *bhead = "POST /v1/namespaces/ml/trainingjobs HTTP/1.1\r\nHost: x\r\n"
                        "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n";
    int64_t t0 = now_ms(), end = t0 + (int64_t)t->seconds * 1000;

    for (int i = 0; i < t->n; i++) {
        fds[i] = connect_from(t->src, t->port);
        if (fds[i] >= 0) {
            t->opened++;
            itest_send_all(fds[i], t->body ? bhead : "G", 1);
            if (t->body)
                itest_send_all(fds[i], bhead + 1, strlen(bhead) - 1);
        }
    }
    for (size_t k = 1; now_ms() < end; k++) {
        usleep(500 * 1000);
        for (int i = 0; i < t->n; i++) {
            char c;

            if (fds[i] < 0 || dead[i])
                continue;
            /* The server closing shows as EOF (or a reset) on a non-blocking read. */
            if (recv(fds[i], &c, 1, MSG_DONTWAIT) == 0 ||
                (errno != EAGAIN && errno != EWOULDBLOCK) ||
                send(fds[i], t->body ? "x" : head + (k % strlen(head)), 1, MSG_NOSIGNAL) < 0) {
                dead[i] = true;
                t->closed_early++;
                t->last_close_ms = now_ms() - t0;
                if (t->last_close_ms <= 1000)
                    t->closed_at_once++;
            }
        }
    }
    for (int i = 0; i < t->n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    free(dead);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* A normal client's requests for `seconds`: each on a new connection; fails the test on
 * any non-200 and returns the p99 latency in ms. */
static int64_t normal_client(int seconds, const char *path, const char *token, int *count)
{
    int64_t end = now_ms() + (int64_t)seconds * 1000, lat[4096] = {0};
    int n = 0;

    while (now_ms() < end && n < 4096) {
        char buf[8192], req[512];
        const char *body;
        int64_t t0 = now_ms();
        int st;

        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n%s%s%sConnection: close\r\n\r\n",
                 path, token ? "Authorization: Bearer " : "", token ? token : "",
                 token ? "\r\n" : "");
        st = raw(srv.port, req, strlen(req), buf, sizeof(buf), &body);
        lat[n++] = now_ms() - t0;
        ck_assert_msg(st == 200, "normal request %d answered %d while under attack", n, st);
        usleep(20 * 1000);
    }
    qsort(lat, (size_t)n, sizeof(lat[0]), cmp_i64);
    *count = n;
    return lat[(n * 99) / 100 > 0 ? (n * 99) / 100 - 1 : 0];
}

/* More trickling connections than the connection limit, from one address, for longer
 * than every timeout: the per-address cap keeps them to a few slots, the absolute
 * deadlines close those, and a normal client is served throughout. */
START_TEST(trickling_clients_do_not_lock_others_out)
{
    struct trickler heads = {.src = "127.0.0.2", .n = 40, .seconds = 9};
    struct trickler bodies = {.src = "127.0.0.3", .n = 12, .seconds = 9, .body = true};
    pthread_t t1, t2;
    int64_t p99;
    int count;

    start("{\"auth\": {\"mode\": \"disabled\"}, \"http\": {\"maxConnections\": 32, "
          "\"maxConnectionsPerIp\": 8, \"headerTimeoutS\": 2, \"bodyTimeoutS\": 3, "
          "\"requestTimeoutS\": 4, \"threads\": 4}}",
          NULL);
    heads.port = bodies.port = srv.port;
    pthread_create(&t1, NULL, trickle, &heads);
    pthread_create(&t2, NULL, trickle, &bodies);
    usleep(300 * 1000);
    p99 = normal_client(8, "/healthz", NULL, &count);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    fprintf(stderr,
            "slow clients: headers %d connections, %d closed by the server (%d at once, last "
            "at %lld ms); bodies %d, %d closed (%d at once, last at %lld ms); normal client "
            "%d requests, p99 %lld ms\n",
            heads.opened, heads.closed_early, heads.closed_at_once, (long long)heads.last_close_ms,
            bodies.opened, bodies.closed_early, bodies.closed_at_once,
            (long long)bodies.last_close_ms, count, (long long)p99);
    ck_assert_int_gt(count, 50);
    ck_assert_msg(p99 < 50, "p99 %lld ms under attack", (long long)p99);
    /* The per-address cap (8) closed the rest at once; the header deadline (2 s) and the
     * body deadline (3 s after the headers) closed the 8 it took, long before the 9 s of
     * trickling were over. */
    ck_assert_int_eq(heads.closed_early, heads.opened);
    ck_assert_int_eq(bodies.closed_early, bodies.opened);
    ck_assert_int_ge(heads.closed_at_once, heads.opened - 8);
    ck_assert_int_ge(bodies.closed_at_once, bodies.opened - 8);
    ck_assert_int_lt(heads.closed_at_once, heads.opened);
    ck_assert_int_lt(bodies.closed_at_once, bodies.opened);
    ck_assert_int_le(heads.last_close_ms, 2000 + 1500);
    ck_assert_int_le(bodies.last_close_ms, 3000 + 1500);
    assert_alive(&srv);
    itest_server_stop(&srv, SIGTERM);
}
END_TEST

static void create_token(const char *role, const char *name, char out[80])
{
    char cmd[2048];
    FILE *p;

    snprintf(cmd, sizeof(cmd),
             "FEDSCHED_DATABASE_DSN='%s' '%s' token create --name %s --role %s 2>/dev/null", dsn,
             getenv("FEDSCHED_BIN"), name, role);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(fgets(out, 80, p));
    out[strcspn(out, "\n")] = '\0';
    ck_assert_int_eq(pclose(p), 0);
}

/* A viewer token holds watches up to its cap; one more is refused with 429; the held
 * watches cost no thread, so a normal client (another token) is served throughout; and
 * a held watch still answers when its job changes. */
START_TEST(watches_at_the_cap_cost_no_thread)
{
    const char *env[] = {"FEDSCHED_AUTH_MODE=tokens", NULL};
    char viewer[80], admin[80], url[256], hdr[128], buf[8192], req[512];
    const char *body;
    const char *hdrs[] = {hdr, "Content-Type: application/json", NULL};
    char *job = itest_job_body("watched", 8, "1");
    int fds[16], count, st;
    int64_t p99;

    start("{\"http\": {\"maxWatchesPerToken\": 16, \"threads\": 2, \"maxConnectionsPerIp\": 64},"
          " \"auth\": {\"ratePerSecond\": 1000, \"burst\": 1000}}",
          env);
    create_token("viewer", "watcher", viewer);
    create_token("admin", "root", admin);
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", admin);
    snprintf(url, sizeof(url), "%s/v1/namespaces/ml/trainingjobs", srv.base);
    ck_assert_int_eq(itest_http("POST", url, hdrs, job, NULL), 201);
    free(job);
    for (int i = 0; i < 16; i++) {
        fds[i] = connect_from("127.0.0.4", srv.port);
        ck_assert_int_ge(fds[i], 0);
        snprintf(req, sizeof(req),
                 "GET /v1/namespaces/ml/trainingjobs/watched?watch=true&timeoutSeconds=300 "
                 "HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n",
                 viewer);
        itest_send_all(fds[i], req, strlen(req));
    }
    usleep(500 * 1000);
    /* The 17th watch of the same token: 429. */
    snprintf(req, sizeof(req),
             "GET /v1/namespaces/ml/trainingjobs/watched?watch=true&timeoutSeconds=300 "
             "HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n",
             viewer);
    st = raw(srv.port, req, strlen(req), buf, sizeof(buf), &body);
    ck_assert_int_eq(st, 429);
    assert_json_error(body, "watch over the cap");
    /* Two pool threads, sixteen held watches: the admin is still served at once. */
    p99 = normal_client(4, "/v1/namespaces/ml/trainingjobs/watched", admin, &count);
    fprintf(stderr, "watches: 16 held; normal client %d requests, p99 %lld ms\n", count,
            (long long)p99);
    ck_assert_int_gt(count, 30);
    ck_assert_msg(p99 < 50, "p99 %lld ms with 16 watches held", (long long)p99);
    /* Cancelling the job changes it: every held watch answers 200 with the new state. */
    snprintf(url, sizeof(url), "%s/v1/namespaces/ml/trainingjobs/watched", srv.base);
    st = (int)itest_http("DELETE", url, hdrs, NULL, NULL);
    ck_assert(st == 200 || st == 202);
    for (int i = 0; i < 16; i++) {
        int wst = 0;

        read_all(fds[i], buf, sizeof(buf), 5000);
        ck_assert_msg(sscanf(buf, "HTTP/1.%*d %d", &wst) == 1 && wst == 200,
                      "watch %d did not answer its change: %.120s", i, buf);
        ck_assert_ptr_nonnull(strstr(buf, "Cancel"));
        close(fds[i]);
    }
    assert_alive(&srv);
    itest_server_stop(&srv, SIGTERM);
}
END_TEST

struct submitter {
    pthread_t t;
    char name[32];
    long status;
    atomic_int *done;
};

static void *submit(void *arg)
{
    struct submitter *s = arg;
    char url[256], *job = itest_job_body(s->name, 8, "1");
    const char *hdrs[] = {"Content-Type: application/json", NULL};

    snprintf(url, sizeof(url), "%s/v1/namespaces/ml/trainingjobs", srv.base);
    s->status = itest_http("POST", url, hdrs, job, NULL);
    atomic_fetch_add(s->done, 1);
    free(job);
    return NULL;
}

/* Submissions waiting for their commit hold no pool thread: with one pool thread and the
 * jobs table locked (so no batch can commit), sixteen submissions wait while /healthz is
 * still answered at once; released, all sixteen are created, in two commits (the one that
 * was waiting for the lock, and the fifteen queued behind it). With the wait on the pool's
 * thread, /healthz waited for the lock too and each submission had a commit of its own. */
START_TEST(submissions_waiting_for_commit_hold_no_thread)
{
    const char *env[] = {"FEDSCHED_AUTH_MODE=disabled", NULL};
    const char *healthz = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    struct submitter subs[16] = {0};
    atomic_int done;
    char buf[4096];
    const char *body;
    PGconn *pg;
    PGresult *r;
    int64_t t0, took;
    int st;

    start("{\"http\": {\"threads\": 1}}", env);
    pg = PQconnectdb(dsn);
    ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);
    r = PQexec(pg, "BEGIN; LOCK TABLE jobs IN SHARE ROW EXCLUSIVE MODE");
    ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    atomic_init(&done, 0);
    for (int i = 0; i < 16; i++) {
        snprintf(subs[i].name, sizeof(subs[i].name), "waiting-%02d", i);
        subs[i].done = &done;
        pthread_create(&subs[i].t, NULL, submit, &subs[i]);
    }
    usleep(500 * 1000);
    t0 = now_ms();
    st = raw(srv.port, healthz, strlen(healthz), buf, sizeof(buf), &body);
    took = now_ms() - t0;
    fprintf(stderr, "submissions: 16 waiting for the lock; /healthz answered %d in %lld ms\n", st,
            (long long)took);
    ck_assert_int_eq(st, 200);
    ck_assert_msg(took < 1000, "/healthz took %lld ms behind waiting submissions", (long long)took);
    ck_assert_int_eq(atomic_load(&done), 0); /* none answered before its commit */
    r = PQexec(pg, "COMMIT");
    ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    for (int i = 0; i < 16; i++) {
        pthread_join(subs[i].t, NULL);
        ck_assert_int_eq(subs[i].status, 201);
    }
    /* Rows inserted by one transaction share its xmin. */
    r = PQexec(pg, "SELECT count(*), count(DISTINCT xmin::text) FROM jobs"
                   " WHERE name LIKE 'waiting-%'");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "16");
    fprintf(stderr, "submissions: 16 created in %s commits\n", PQgetvalue(r, 0, 1));
    ck_assert_msg(strtol(PQgetvalue(r, 0, 1), NULL, 10) <= 3, "16 submissions took %s commits",
                  PQgetvalue(r, 0, 1));
    PQclear(r);
    PQfinish(pg);
    assert_alive(&srv);
    itest_server_stop(&srv, SIGTERM);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("http_front");
    TCase *tc = tcase_create("http_front");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, attack_vectors_answer_json_and_the_server_lives);
    tcase_add_test(tc, host_and_header_limit);
    tcase_add_test(tc, authentication_before_the_body);
    tcase_add_test(tc, refused_bodies_reach_their_client);
    tcase_add_test(tc, errors_keep_the_connection_alive);
    tcase_add_test(tc, trickling_clients_do_not_lock_others_out);
    tcase_add_test(tc, watches_at_the_cap_cost_no_thread);
    tcase_add_test(tc, submissions_waiting_for_commit_hold_no_thread);
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
    return failed ? 1 : 0;
}
