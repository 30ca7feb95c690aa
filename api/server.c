/* server.c -- the libmicrohttpd glue: a thread pool on epoll, connections that cannot be
 * held hostage (absolute deadlines for headers and body besides the idle timeout, a cap
 * per client address), authentication before the body is read, watches that wait
 * suspended instead of holding a thread, request/response conversion, metrics per
 * request, streamed answers (list watches) that also wait suspended, and draining on
 * shutdown.
 *
 * Threads: libmicrohttpd's pool runs the handlers, which may block briefly on
 * PostgreSQL; one more thread here (the warden) closes connections past their deadline
 * and resumes suspended watches. Submissions wait for the COMMIT of the batch they joined
 * (store/batch.c), which takes as long as the batch before it: they run on threads of
 * their own (http.submitThreads) with their connection suspended, so the pool's threads
 * bound neither the submissions in flight nor the jobs a commit holds, and GETs are not
 * queued behind them. Locks, in order: srv->mu, then the store's watcher lock
 * (store_job_subscribe); the watcher's callbacks only post srv->wake; srv->sub_mu alone. */
#include "api/internal.h"
#include "api/linger.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/num.h"
#include "base/mem.h"
#include "base/utf8.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_QUERY_ARGS         32
#define WARDEN_TICK_MS         200
#define DEFAULT_THREADS        8
#define DEFAULT_SUBMIT_THREADS 64
/* A refused body is read and dropped, for the answer to reach its client: up to this many
 * bytes while the request is still ours (a chunked body, which libmicrohttpd lets us
 * answer only once it has ended), and after the close (linger.h) as many again, or until
 * the client sends nothing for LINGER_IDLE_MS. The largest http.maxBodyBytes. */
#define DISCARD_MAX_BYTES ((size_t)64 << 20)
#define LINGER_IDLE_MS    5000
/* Lingering is a courtesy to clients that send what they declared; a client holding one
 * open by trickling holds a descriptor outside http.maxConnections, so few linger at
 * once, and past them the close is immediate. */
#define LINGER_MAX_SOCKS 64

struct req_ctx;

/* One TCP connection (libmicrohttpd's socket context), on srv->conns. */
struct conn {
    MHD_socket fd;
    int64_t deadline_ms; /* mono ms; the warden closes the connection after it; 0: none */
    bool bad_target;     /* the current request's target has %00 or invalid UTF-8 */
    bool linger;         /* answered with its body unread: a lingering close */
    char remote[64];
    struct conn *prev, *next;
};

struct api_server {
    struct api *api;
    struct MHD_Daemon *daemon;
    int port;
    atomic_int in_flight;
    int listen_fd_after_quiesce;
    pthread_mutex_t mu;
    struct conn *conns;      /* every open connection */
    struct req_ctx *waiting; /* suspended watches */
    bool draining;           /* watches answer now; no new ones wait */
    bool stop;               /* the warden exits */
    sem_t wake;              /* posted when a watched job changed */
    pthread_t warden;
    struct linger *linger;
    atomic_ullong deadline_closed; /* connections closed at their absolute deadline */
    /* Submissions handed to the submission threads, oldest first. */
    pthread_mutex_t sub_mu;
    pthread_cond_t sub_cv;
    struct req_ctx *sub_head, *sub_tail;
    bool sub_stop;
    int n_submitters;
    pthread_t *submitters;
};

struct query_list {
    struct api_kv kv[MAX_QUERY_ARGS];
    size_t n;
    int overflow;
};

/* One request. */
struct req_ctx {
    struct api_server *srv;
    struct MHD_Connection *mhd;
    struct conn *conn;
    struct buf body;
    bool too_large;
    size_t discarded;   /* bytes of a body over the limit read and dropped */
    bool body_expected; /* Content-Length above 0, or a Transfer-Encoding */
    bool has_early;     /* early holds an answer found from the headers */
    struct api_response early;
    struct api_call *call;
    struct api_wait wait;
    struct api_stream *stream; /* a streamed answer being sent */
    struct store_sub *sub;
    atomic_bool changed; /* set by the store's callback while suspended */
    bool suspended;
    /* A submission run on a submission thread: its request (query kept here), and its
     * answer once done is set (by that thread, before it resumes the connection). */
    struct api_request sreq;
    struct query_list sq;
    struct api_response sresp;
    atomic_bool done;
    struct req_ctx *snext;
    struct req_ctx *wprev, *wnext; /* on srv->waiting while suspended */
    int64_t start_ns;
    int status;
    char route[64];
    char method[8];
};

/* Whether the request target, once percent-decoded as libmicrohttpd will decode it, is
 * free of NUL (which would cut the path short) and is valid UTF-8. */
static bool target_ok(const char *uri)
{
    char out[4096];
    size_t n = 0;

    for (const char *p = uri; *p; p++) {
        char c = *p;

        if (c == '%' && num_hex_digit(p[1]) >= 0 && num_hex_digit(p[2]) >= 0) {
            c = (char)(num_hex_digit(p[1]) * 16 + num_hex_digit(p[2]));
            p += 2;
            if (c == '\0')
                return false;
        }
        /* Query separators end a component; a sequence may not span them. */
        if (c == '?' || c == '&' || c == '=') {
            if (!utf8_valid(out, n))
                return false;
            n = 0;
            continue;
        }
        if (n == sizeof(out)) {
            if (!utf8_valid(out, n - 3)) /* keep any sequence cut at the edge */
                return false;
            memmove(out, out + n - 3, 3);
            n = 3;
        }
        out[n++] = c;
    }
    return utf8_valid(out, n);
}

static void peer_address(struct MHD_Connection *conn, char *out, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;

    out[0] = '\0';
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)size);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)size);
}

static void set_deadline(struct api_server *srv, struct conn *c, int64_t deadline_ms)
{
    pthread_mutex_lock(&srv->mu);
    c->deadline_ms = deadline_ms;
    pthread_mutex_unlock(&srv->mu);
}

static void on_connection(void *cls, struct MHD_Connection *mhd, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct api_server *srv = cls;
    struct conn *c = *socket_context;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(mhd, MHD_CONNECTION_INFO_CONNECTION_FD);

        c = xcalloc(1, sizeof(*c));
        c->fd = ci ? ci->connect_fd : MHD_INVALID_SOCKET;
        peer_address(mhd, c->remote, sizeof(c->remote));
        pthread_mutex_lock(&srv->mu);
        /* The first request line and headers must be in within the header timeout of
         * the accept, however slowly they trickle. */
        c->deadline_ms = clock_mono_ms() + (int64_t)srv->api->cfg.header_timeout_s * 1000;
        c->next = srv->conns;
        if (srv->conns)
            srv->conns->prev = c;
        srv->conns = c;
        pthread_mutex_unlock(&srv->mu);
        *socket_context = c;
        return;
    }
    if (!c)
        return;
    /* libmicrohttpd has sent the answer and a FIN, and closes the socket after this: a
     * client still sending the body it declared would then meet a reset, and the reset
     * can destroy the answer before the client reads it. Past the limit of lingering
     * sockets the close is the end, as before. */
    if (c->linger && c->fd != MHD_INVALID_SOCKET)
        (void)linger_add(srv->linger, c->fd);
    pthread_mutex_lock(&srv->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&srv->mu);
    free(c);
    *socket_context = NULL;
}

static struct conn *conn_of(struct MHD_Connection *mhd)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mhd, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci ? ci->socket_context : NULL;
}

/* Called once the request line is in: checks the raw target (before libmicrohttpd
 * decodes it) and starts the header deadline of a request on a kept-alive connection. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mhd)
{
    struct api_server *srv = cls;
    struct conn *c = conn_of(mhd);
    int64_t deadline = clock_mono_ms() + (int64_t)srv->api->cfg.header_timeout_s * 1000;

    if (!c)
        return NULL;
    c->bad_target = !target_ok(uri);
    pthread_mutex_lock(&srv->mu);
    if (!c->deadline_ms || c->deadline_ms > deadline)
        c->deadline_ms = deadline;
    pthread_mutex_unlock(&srv->mu);
    return NULL;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct query_list *q = cls;

    (void)kind;
    if (q->n == MAX_QUERY_ARGS) {
        q->overflow = 1;
        return MHD_NO;
    }
    q->kv[q->n].key = key;
    q->kv[q->n].value = value ? value : "";
    q->n++;
    return MHD_YES;
}

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    size_t *n = cls;

    (void)kind;
    *n += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
    return MHD_YES;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max);

static enum MHD_Result send_response(struct MHD_Connection *conn, struct req_ctx *ctx,
                                     struct api_response *r)
{
    size_t len = r->body_len ? r->body_len : r->body ? strlen(r->body) : 0;
    struct MHD_Response *mr;
    enum MHD_Result rc;

    if (r->stream) { /* chunked, as the client takes it */
        ctx->stream = r->stream;
        r->stream = NULL;
        mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, ctx, NULL);
    } else {
        mr = MHD_create_response_from_buffer(len, r->body, MHD_RESPMEM_MUST_FREE);
        r->body = NULL; /* MHD frees it */
    }
    if (!mr)
        return MHD_NO;
    if (r->content_type)
        MHD_add_response_header(mr, "Content-Type", r->content_type);
    MHD_add_response_header(mr, "Cache-Control", "no-store");
    if (r->allow[0])
        MHD_add_response_header(mr, "Allow", r->allow);
    if (r->location[0])
        MHD_add_response_header(mr, "Location", r->location);
    if (r->retry_after[0])
        MHD_add_response_header(mr, "Retry-After", r->retry_after);
    if (r->www_authenticate[0])
        MHD_add_response_header(mr, "WWW-Authenticate", r->www_authenticate);
    ctx->status = r->status;
    snprintf(ctx->route, sizeof(ctx->route), "%s", r->route[0] ? r->route : "unmatched");
    rc = MHD_queue_response(conn, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    return rc;
}

/* Answers r, found from the headers alone: at once when a body is on its way (it is then
 * never read: libmicrohttpd closes the connection after the answer, and the close lingers,
 * see on_connection()), else when the request ends, so a kept-alive connection stays
 * open. Takes r's body. */
static enum MHD_Result answer_early(struct MHD_Connection *conn, struct req_ctx *ctx,
                                    struct api_response *r)
{
    enum MHD_Result rc;

    if (!ctx->body_expected) {
        ctx->early = *r;
        ctx->has_early = true;
        memset(r, 0, sizeof(*r));
        return MHD_YES;
    }
    if (ctx->conn)
        ctx->conn->linger = true;
    rc = send_response(conn, ctx, r);
    api_response_clear(r);
    return rc;
}

/* An error built here, before or instead of the handler. */
static enum MHD_Result send_error(struct MHD_Connection *conn, struct req_ctx *ctx, int status,
                                  enum err_code code, const char *field, const char *route,
                                  const char *msg)
{
    struct api_response r = {0};

    resp_errorf(&r, code, field, "%s", msg);
    r.status = status;
    snprintf(r.route, sizeof(r.route), "%s", route);
    return answer_early(conn, ctx, &r);
}

/* Fills req from the connection; the strings live as long as the request. */
static void fill_request(struct MHD_Connection *conn, struct req_ctx *ctx, const char *url,
                         const char *method, struct query_list *q, struct api_request *req)
{
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, q);
    memset(req, 0, sizeof(*req));
    req->method = method;
    req->path = url;
    req->query = q->kv;
    req->n_query = q->n;
    req->content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    req->idempotency_key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
    req->body = ctx->body.len ? ctx->body.data : NULL;
    req->body_len = ctx->body.len;
    req->authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    req->remote = ctx->conn ? ctx->conn->remote : "";
    req->wait = &ctx->wait;
}

/* The store's callback for a watched job: runs under the store's lock, so it only
 * marks the request and wakes the warden. */
static void on_change(void *arg)
{
    struct req_ctx *ctx = arg;

    atomic_store(&ctx->changed, true);
    sem_post(&ctx->srv->wake);
}

/* Under srv->mu: takes ctx off the waiting list and resumes its connection, so
 * libmicrohttpd calls the handler again. */
static void resume(struct api_server *srv, struct req_ctx *ctx)
{
    store_job_unsubscribe(srv->api->store, &ctx->sub);
    if (ctx->wprev)
        ctx->wprev->wnext = ctx->wnext;
    else
        srv->waiting = ctx->wnext;
    if (ctx->wnext)
        ctx->wnext->wprev = ctx->wprev;
    ctx->wprev = ctx->wnext = NULL;
    ctx->suspended = false;
    MHD_resume_connection(ctx->mhd);
}

/* Under srv->mu: puts ctx on the waiting list and suspends its connection; the warden
 * resumes it when its subscription fires or at ctx->wait.deadline_ms. */
static void suspend(struct api_server *srv, struct req_ctx *ctx)
{
    atomic_store(&ctx->changed, false);
    ctx->suspended = true;
    ctx->wnext = srv->waiting;
    if (srv->waiting)
        srv->waiting->wprev = ctx;
    srv->waiting = ctx;
    MHD_suspend_connection(ctx->mhd);
}

/* libmicrohttpd's content reader for a streamed answer: what the stream has ready, or
 * nothing and the connection suspended until a job changes or the stream's wake time. */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct req_ctx *ctx = cls;
    struct api_server *srv = ctx->srv;

    (void)pos;
    /* A client gone (or one that closed its side, which TCP cannot tell apart) while the
     * stream waited: it would otherwise hold its watch slot until the stream had something
     * to write. The stream ends as a finished one does, with its last chunk, as Go's
     * server ends a watch whose client went: a half-closed client still reads a complete
     * answer (fuzz_request found the cut one). */
    if (ctx->conn && ctx->conn->fd != MHD_INVALID_SOCKET) {
        char c;

        if (recv(ctx->conn->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
            return MHD_CONTENT_READER_END_OF_STREAM;
    }
    for (;;) {
        /* Noted before the stream reads, so a change during its read is not missed. */
        uint64_t seq = store_change_seq(srv->api->store);
        int64_t wake_ms = 0;
        long n = ctx->stream->read(ctx->stream, out, max, &wake_ms);

        if (n > 0)
            return (ssize_t)n;
        if (n < 0)
            return MHD_CONTENT_READER_END_OF_STREAM;
        pthread_mutex_lock(&srv->mu);
        if (srv->draining) {
            ctx->wait.stopping = true;
            pthread_mutex_unlock(&srv->mu);
            continue;
        }
        if (store_job_subscribe(srv->api->store, 0, seq, on_change, ctx, &ctx->sub) == 0) {
            ctx->wait.deadline_ms = wake_ms;
            suspend(srv, ctx);
            pthread_mutex_unlock(&srv->mu);
            return 0;
        }
        pthread_mutex_unlock(&srv->mu);
    }
}

/* Suspends a submission's connection and queues it for a submission thread; false once
 * those are stopped (api_server_stop), and the caller runs it here as before. */
static bool hand_over(struct api_server *srv, struct MHD_Connection *conn, struct req_ctx *ctx,
                      const char *url, const char *method)
{
    pthread_mutex_lock(&srv->sub_mu);
    if (srv->sub_stop) {
        pthread_mutex_unlock(&srv->sub_mu);
        return false;
    }
    fill_request(conn, ctx, url, method, &ctx->sq, &ctx->sreq);
    MHD_suspend_connection(conn);
    if (srv->sub_tail)
        srv->sub_tail->snext = ctx;
    else
        srv->sub_head = ctx;
    srv->sub_tail = ctx;
    pthread_cond_signal(&srv->sub_cv);
    pthread_mutex_unlock(&srv->sub_mu);
    return true;
}

/* Runs the handler (again, for a watch) and answers, or suspends the connection until
 * the watched job changes or the watch's deadline passes. */
static enum MHD_Result finish(struct api_server *srv, struct MHD_Connection *conn,
                              struct req_ctx *ctx, const char *url, const char *method)
{
    struct api_request req;
    struct api_response resp;
    struct query_list q = {.n = 0};
    enum MHD_Result rc;

    if (atomic_load(&ctx->done)) { /* a submission, back from its thread */
        rc = send_response(conn, ctx, &ctx->sresp);
        api_response_clear(&ctx->sresp);
        return rc;
    }
    if (api_call_commits(ctx->call) && hand_over(srv, conn, ctx, url, method))
        return MHD_YES;
    for (;;) {
        uint64_t seq = 0;
        int sub;

        q.n = 0;
        q.overflow = 0;
        fill_request(conn, ctx, url, method, &q, &req);
        /* A watch notes the change counter before its handler reads the job. */
        if (ctx->wait.active || req_query(&req, "watch"))
            seq = store_change_seq(srv->api->store);
        api_call_finish(srv->api, ctx->call, &req, &resp);
        if (!resp.wait)
            break;
        api_response_clear(&resp);
        pthread_mutex_lock(&srv->mu);
        if (srv->draining) {
            ctx->wait.stopping = true;
            pthread_mutex_unlock(&srv->mu);
            continue;
        }
        /* A change after seq (the read happened after it) reports 1: read again. */
        sub =
            store_job_subscribe(srv->api->store, ctx->wait.job_id, seq, on_change, ctx, &ctx->sub);
        if (sub == 0) {
            suspend(srv, ctx);
            pthread_mutex_unlock(&srv->mu);
            return MHD_YES;
        }
        pthread_mutex_unlock(&srv->mu);
    }
    rc = send_response(conn, ctx, &resp);
    api_response_clear(&resp);
    return rc;
}

/* A submission thread: runs the submissions handed over by finish(), in order, and
 * resumes each connection once its answer is ready. Leaves when stopped and none is left. */
static void *submitter(void *arg)
{
    struct api_server *srv = arg;

    for (;;) {
        struct req_ctx *ctx;

        pthread_mutex_lock(&srv->sub_mu);
        while (!srv->sub_head && !srv->sub_stop)
            pthread_cond_wait(&srv->sub_cv, &srv->sub_mu);
        ctx = srv->sub_head;
        if (ctx) {
            srv->sub_head = ctx->snext;
            if (!srv->sub_head)
                srv->sub_tail = NULL;
            ctx->snext = NULL;
        }
        pthread_mutex_unlock(&srv->sub_mu);
        if (!ctx)
            return NULL;
        api_call_finish(srv->api, ctx->call, &ctx->sreq, &ctx->sresp);
        atomic_store(&ctx->done, true);
        MHD_resume_connection(ctx->mhd);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct api_server *srv = cls;
    struct req_ctx *ctx = *con_cls;
    const struct api_config *cfg = &srv->api->cfg;

    if (!ctx) {
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
        size_t header_bytes = strlen(method) + strlen(url) + strlen(version) + 4;
        struct api_request req;
        struct api_response resp;
        struct query_list q = {.n = 0};

        ctx = xcalloc(1, sizeof(*ctx));
        ctx->srv = srv;
        ctx->mhd = conn;
        ctx->conn = conn_of(conn);
        ctx->start_ns = clock_mono_ns();
        atomic_init(&ctx->changed, false);
        atomic_init(&ctx->done, false);
        snprintf(ctx->method, sizeof(ctx->method), "%s", method);
        buf_init(&ctx->body, (size_t)cfg->max_body_bytes);
        ctx->body_expected = (cl && strtoull(cl, NULL, 10) > 0) || te;
        atomic_fetch_add(&srv->in_flight, 1);
        *con_cls = ctx;
        MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header_size, &header_bytes);
        if (cfg->max_header_bytes > 0 && header_bytes > (size_t)cfg->max_header_bytes) {
            char msg[96];

            snprintf(msg, sizeof(msg), "request line and headers over the limit of %d bytes",
                     cfg->max_header_bytes);
            return send_error(conn, ctx, 431, ERR_TOO_LARGE, NULL, "headers_too_large", msg);
        }
        if (ctx->conn && ctx->conn->bad_target)
            return send_error(conn, ctx, 400, ERR_MALFORMED, "path", "bad_target",
                              "the request target has a NUL byte or invalid UTF-8 once "
                              "percent-decoded");
        if (strcmp(version, MHD_HTTP_VERSION_1_1) == 0 &&
            !MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host"))
            return send_error(conn, ctx, 400, ERR_MALFORMED, "Host", "no_host",
                              "HTTP/1.1 requests must carry a Host header");
        /* Route and authenticate before reading any of the body. */
        fill_request(conn, ctx, url, method, &q, &req);
        if (q.overflow) {
            char msg[64];

            snprintf(msg, sizeof(msg), "more than %d query parameters", MAX_QUERY_ARGS);
            return send_error(conn, ctx, 400, ERR_MALFORMED, NULL, "too_many_args", msg);
        }
        if (api_call_begin(srv->api, &req, &ctx->call, &resp))
            return answer_early(conn, ctx, &resp);
        /* Refuse a declared oversize body before reading any of it. */
        if (cl && strtoull(cl, NULL, 10) > (unsigned long long)cfg->max_body_bytes)
            ctx->too_large = true;
        else if (ctx->conn)
            set_deadline(srv, ctx->conn, clock_mono_ms() + (int64_t)cfg->body_timeout_s * 1000);
        if (!ctx->too_large)
            return MHD_YES;
    }
    if (ctx->has_early) { /* the body, if any, was not expected: drop it */
        *upload_data_size = 0;
        ctx->has_early = false;
        return send_response(conn, ctx, &ctx->early);
    }
    if (*upload_data_size) {
        if (ctx->too_large)
            ctx->discarded += *upload_data_size;
        else if (buf_append(&ctx->body, upload_data, *upload_data_size))
            ctx->too_large = true;
        *upload_data_size = 0;
        /* A chunked body over the limit: libmicrohttpd takes no answer while a body is
         * coming in, so the rest is dropped and the 413 goes when it ends; past
         * DISCARD_MAX_BYTES the connection is closed without one. */
        return ctx->discarded <= DISCARD_MAX_BYTES ? MHD_YES : MHD_NO;
    }
    if (ctx->too_large) {
        char msg[64];

        snprintf(msg, sizeof(msg), "request body over the limit of %ld bytes", cfg->max_body_bytes);
        return send_error(conn, ctx, 413, ERR_TOO_LARGE, NULL, "body_too_large", msg);
    }
    /* The body is in: the handler's own time is bounded by the database's timeouts. */
    if (ctx->conn)
        set_deadline(srv, ctx->conn, 0);
    return finish(srv, conn, ctx, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct api_server *srv = cls;
    struct req_ctx *ctx = *con_cls;

    (void)conn;
    if (!ctx)
        return;
    if (ctx->status) {
        api_observe(srv->api, ctx->method, ctx->route, ctx->status,
                    clock_mono_ns() - ctx->start_ns);
        LOG(LOG_DEBUG, "api", "route=%s status=%d duration_us=%lld", ctx->route, ctx->status,
            (long long)((clock_mono_ns() - ctx->start_ns) / 1000));
    } else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        LOG(LOG_DEBUG, "api", "event=request_aborted reason=%d", (int)toe);
    }
    /* Idle between requests of a kept-alive connection: the idle timeout's length, at
     * most, before the next request line must be in. */
    if (ctx->conn)
        set_deadline(srv, ctx->conn,
                     clock_mono_ms() + (int64_t)srv->api->cfg.request_timeout_s * 1000);
    if (ctx->stream)
        ctx->stream->free(ctx->stream);
    api_call_free(srv->api, &ctx->call, &ctx->wait);
    api_response_clear(&ctx->early);
    api_response_clear(&ctx->sresp);
    buf_free(&ctx->body);
    free(ctx);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->in_flight, 1);
}

/* The warden: closes connections past their deadline (shutdown() makes the pool thread
 * that owns the connection see its end and clean it up) and resumes the watches whose
 * job changed or whose time is up. */
static void *warden(void *arg)
{
    struct api_server *srv = arg;

    for (;;) {
        struct timespec ts;
        int64_t now_mono, now_real;
        bool stop;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += WARDEN_TICK_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        while (sem_timedwait(&srv->wake, &ts) == -1 && errno == EINTR)
            ;
        while (sem_trywait(&srv->wake) == 0) /* one pass serves every post */
            ;
        now_mono = clock_mono_ms();
        now_real = clock_realtime_ms();
        pthread_mutex_lock(&srv->mu);
        for (struct conn *c = srv->conns; c; c = c->next) {
            if (!c->deadline_ms || now_mono < c->deadline_ms || c->fd == MHD_INVALID_SOCKET)
                continue;
            c->deadline_ms = 0;
            shutdown(c->fd, SHUT_RDWR);
            atomic_fetch_add(&srv->deadline_closed, 1);
            LOG(LOG_INFO, "http", "event=deadline_closed remote=%s", c->remote);
        }
        for (struct req_ctx *r = srv->waiting, *next; r; r = next) {
            next = r->wnext;
            if (srv->draining)
                r->wait.stopping = true;
            if (atomic_load(&r->changed) || srv->draining || now_real >= r->wait.deadline_ms)
                resume(srv, r);
        }
        stop = srv->stop;
        pthread_mutex_unlock(&srv->mu);
        if (stop)
            return NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512], clean[512];

    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    utf8_sanitize(clean, sizeof(clean), line);
    LOG(LOG_WARN, "http", "event=mhd msg=\"%s\"", clean);
}

/* Whole file as a NUL-terminated string (PEM), or NULL. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct buf b;
    char chunk[4096];
    size_t n;

    if (!f)
        return NULL;
    buf_init(&b, 1024 * 1024);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (buf_append(&b, chunk, n)) {
            fclose(f);
            buf_free(&b);
            return NULL;
        }
    }
    fclose(f);
    return buf_steal(&b);
}

int api_server_start(struct api *a, const char *host, int port, struct api_server **out,
                     struct err *e)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    struct api_server *srv;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    const union MHD_DaemonInfo *info;
    char portstr[8];
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    struct api_config *cfg = &a->cfg;
    char *cert = NULL, *key = NULL;
    /* The header limit is checked here, with a JSON answer; libmicrohttpd's own buffer
     * (beyond which it answers with its own page) is 16 KiB above it. It is zeroed for
     * every request, so it is no larger than that. */
    size_t mem = (size_t)(cfg->max_header_bytes > 0 ? cfg->max_header_bytes : 16384) + 16384;

    if (cfg->threads <= 0)
        cfg->threads = DEFAULT_THREADS;
    if (cfg->submit_threads <= 0)
        cfg->submit_threads = DEFAULT_SUBMIT_THREADS;
    if (cfg->header_timeout_s <= 0)
        cfg->header_timeout_s = cfg->request_timeout_s > 0 ? cfg->request_timeout_s : 10;
    if (cfg->body_timeout_s <= 0)
        cfg->body_timeout_s = cfg->request_timeout_s > 0 ? cfg->request_timeout_s * 2 : 60;
    if (cfg->request_timeout_s <= 0)
        cfg->request_timeout_s = 30;
    if (cfg->tls_cert_file && cfg->tls_key_file) {
        if (!(cert = read_file(cfg->tls_cert_file)) || !(key = read_file(cfg->tls_key_file))) {
            free(cert);
            return err_set(e, ERR_CONFIG, "http.tlsCertFile",
                           "cannot read the TLS certificate %s or key %s", cfg->tls_cert_file,
                           cfg->tls_key_file);
        }
        flags |= MHD_USE_TLS;
    }
    snprintf(portstr, sizeof(portstr), "%d", port);
    if (getaddrinfo(host, portstr, &hints, &ai) || !ai) {
        free(cert);
        free(key);
        return err_set(e, ERR_CONFIG, "listen", "listen address %s:%d is not a numeric IP", host,
                       port);
    }
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv = xcalloc(1, sizeof(*srv));
    srv->api = a;
    srv->listen_fd_after_quiesce = -1;
    atomic_init(&srv->in_flight, 0);
    atomic_init(&srv->deadline_closed, 0);
    pthread_mutex_init(&srv->mu, NULL);
    pthread_mutex_init(&srv->sub_mu, NULL);
    pthread_cond_init(&srv->sub_cv, NULL);
    sem_init(&srv->wake, 0, 0);
    /* Before the daemon: a connection may close as soon as it listens. */
    linger_start(&(struct linger_limits){.total_ms = (int64_t)cfg->body_timeout_s * 1000,
                                         .idle_ms = LINGER_IDLE_MS,
                                         .max_bytes = DISCARD_MAX_BYTES,
                                         .max_socks = LINGER_MAX_SOCKS},
                 &srv->linger);
    /* Options that only apply to TLS go last, so a plain server ends the list early. */
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
        NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)(cfg->max_connections_per_ip > 0 ? cfg->max_connections_per_ip : 0),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->request_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem, cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
        cert, MHD_OPTION_HTTPS_MEM_KEY, key,
        cfg->tls_priorities ? MHD_OPTION_HTTPS_PRIORITIES : MHD_OPTION_END, cfg->tls_priorities,
        MHD_OPTION_END);
    free(cert);
    free(key);
    freeaddrinfo(ai);
    if (!srv->daemon) {
        linger_stop(&srv->linger);
        sem_destroy(&srv->wake);
        pthread_cond_destroy(&srv->sub_cv);
        pthread_mutex_destroy(&srv->sub_mu);
        pthread_mutex_destroy(&srv->mu);
        free(srv);
        return err_set(e, ERR_IO, "listen",
                       "cannot listen on %s:%d (address in use, or TLS settings refused)", host,
                       port);
    }
    pthread_create(&srv->warden, NULL, warden, srv);
    /* Submissions that came before these threads wait in the queue for them. */
    srv->n_submitters = cfg->submit_threads;
    srv->submitters = xcalloc((size_t)srv->n_submitters, sizeof(*srv->submitters));
    for (int i = 0; i < srv->n_submitters; i++)
        pthread_create(&srv->submitters[i], NULL, submitter, srv);
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    if (info && getsockname(info->listen_fd, (struct sockaddr *)&bound, &blen) == 0)
        srv->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                      : ((struct sockaddr_in *)&bound)->sin_port);
    *out = srv;
    return 0;
}

int api_server_port(const struct api_server *srv)
{
    return srv->port;
}

uint64_t api_server_deadline_closed(struct api_server *srv)
{
    return atomic_load(&srv->deadline_closed);
}

int api_server_drain(struct api_server *srv, int timeout_s)
{
    int64_t deadline = clock_mono_ms() + (int64_t)timeout_s * 1000;
    int left;

    if (srv->listen_fd_after_quiesce < 0)
        srv->listen_fd_after_quiesce = MHD_quiesce_daemon(srv->daemon);
    pthread_mutex_lock(&srv->mu);
    srv->draining = true; /* waiting watches answer now */
    pthread_mutex_unlock(&srv->mu);
    sem_post(&srv->wake);
    while ((left = atomic_load(&srv->in_flight)) > 0 && clock_mono_ms() < deadline)
        usleep(10 * 1000);
    return left;
}

void api_server_stop(struct api_server **sp)
{
    struct api_server *srv;

    if (!sp || !*sp)
        return;
    srv = *sp;
    /* Resume every watch first: libmicrohttpd cannot close a suspended connection. */
    pthread_mutex_lock(&srv->mu);
    srv->draining = true;
    while (srv->waiting) {
        srv->waiting->wait.stopping = true;
        resume(srv, srv->waiting);
    }
    srv->stop = true;
    pthread_mutex_unlock(&srv->mu);
    sem_post(&srv->wake);
    pthread_join(srv->warden, NULL);
    /* The submissions handed over finish (their jobs commit) and resume their connections. */
    pthread_mutex_lock(&srv->sub_mu);
    srv->sub_stop = true;
    pthread_cond_broadcast(&srv->sub_cv);
    pthread_mutex_unlock(&srv->sub_mu);
    for (int i = 0; i < srv->n_submitters; i++)
        pthread_join(srv->submitters[i], NULL);
    free(srv->submitters);
    MHD_stop_daemon(srv->daemon);
    linger_stop(&srv->linger);
    if (srv->listen_fd_after_quiesce >= 0)
        close(srv->listen_fd_after_quiesce);
    sem_destroy(&srv->wake);
    pthread_cond_destroy(&srv->sub_cv);
    pthread_mutex_destroy(&srv->sub_mu);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
    *sp = NULL;
}
