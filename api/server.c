/* server.c -- the libmicrohttpd glue: body collection with a byte cap, request/response
 * conversion, metrics per request, and draining on shutdown. One thread per connection,
 * because handlers block on PostgreSQL (and later on long-polls). */
#include "api/internal.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_QUERY_ARGS 32

struct api_server {
    struct api *api;
    struct MHD_Daemon *daemon;
    int port;
    atomic_int in_flight;
    int listen_fd_after_quiesce;
};

struct req_ctx {
    char remote[64];
    struct buf body;
    int too_large;
    int64_t start_ns;
    int status;
    char route[64];
    char method[8];
};

struct query_list {
    struct api_kv kv[MAX_QUERY_ARGS];
    size_t n;
    int overflow;
};

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

static enum MHD_Result send_response(struct MHD_Connection *conn, struct req_ctx *ctx,
                                     struct api_response *r)
{
    size_t len = r->body_len ? r->body_len : r->body ? strlen(r->body) : 0;
    struct MHD_Response *mr;
    enum MHD_Result rc;

    mr = MHD_create_response_from_buffer(len, r->body, MHD_RESPMEM_MUST_FREE);
    r->body = NULL; /* MHD frees it */
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

static enum MHD_Result too_large(struct api_server *srv, struct MHD_Connection *conn,
                                 struct req_ctx *ctx)
{
    struct api_response r = {0};

    resp_errorf(&r, ERR_TOO_LARGE, NULL, "request body over the limit of %ld bytes",
                srv->api->cfg.max_body_bytes);
    snprintf(r.route, sizeof(r.route), "body_too_large");
    return send_response(conn, ctx, &r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct api_server *srv = cls;
    struct req_ctx *ctx = *con_cls;
    struct api_request req = {0};
    struct api_response resp;
    struct query_list q = {.n = 0};
    enum MHD_Result rc;

    (void)version;
    if (!ctx) {
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");

        ctx = xcalloc(1, sizeof(*ctx));
        ctx->start_ns = clock_mono_ns();
        peer_address(conn, ctx->remote, sizeof(ctx->remote));
        snprintf(ctx->method, sizeof(ctx->method), "%s", method);
        buf_init(&ctx->body, (size_t)srv->api->cfg.max_body_bytes);
        atomic_fetch_add(&srv->in_flight, 1);
        *con_cls = ctx;
        /* Refuse a declared oversize body before reading any of it. */
        if (cl && strtoull(cl, NULL, 10) > (unsigned long long)srv->api->cfg.max_body_bytes)
            return too_large(srv, conn, ctx);
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!ctx->too_large && buf_append(&ctx->body, upload_data, *upload_data_size))
            ctx->too_large = 1; /* keep reading, discard, then answer 413 */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (ctx->too_large)
        return too_large(srv, conn, ctx);

    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
    req.method = method;
    req.path = url;
    req.query = q.kv;
    req.n_query = q.n;
    req.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    req.idempotency_key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
    req.body = ctx->body.len ? ctx->body.data : NULL;
    req.body_len = ctx->body.len;
    req.authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    req.remote = ctx->remote;
    if (q.overflow) {
        memset(&resp, 0, sizeof(resp));
        resp_errorf(&resp, ERR_MALFORMED, NULL, "more than %d query parameters", MAX_QUERY_ARGS);
    } else {
        api_handle(srv->api, &req, &resp);
    }
    rc = send_response(conn, ctx, &resp);
    api_response_clear(&resp);
    return rc;
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
        LOG(LOG_DEBUG, "api", "method=%s route=%s status=%d duration_us=%lld", ctx->method,
            ctx->route, ctx->status, (long long)((clock_mono_ns() - ctx->start_ns) / 1000));
    } else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        LOG(LOG_DEBUG, "api", "event=request_aborted method=%s reason=%d", ctx->method, (int)toe);
    }
    buf_free(&ctx->body);
    free(ctx);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->in_flight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];

    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    LOG(LOG_WARN, "http", "event=mhd msg=\"%s\"", line);
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
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_USE_POLL;

    char *cert = NULL, *key = NULL;

    if (a->cfg.tls_cert_file && a->cfg.tls_key_file) {
        if (!(cert = read_file(a->cfg.tls_cert_file)) || !(key = read_file(a->cfg.tls_key_file))) {
            free(cert);
            return err_set(e, ERR_CONFIG, "http.tlsCertFile",
                           "cannot read the TLS certificate %s or key %s", a->cfg.tls_cert_file,
                           a->cfg.tls_key_file);
        }
        flags |= MHD_USE_TLS;
    }
    snprintf(portstr, sizeof(portstr), "%d", port);
    if (getaddrinfo(host, portstr, &hints, &ai) || !ai)
        return err_set(e, ERR_CONFIG, "listen", "listen address %s:%d is not a numeric IP", host,
                       port);
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv = xcalloc(1, sizeof(*srv));
    srv->api = a;
    srv->listen_fd_after_quiesce = -1;
    atomic_init(&srv->in_flight, 0);
    {
        /* Options that only apply to TLS go last, so a plain server ends the list early. */
        unsigned mem = a->cfg.max_header_bytes > 0 ? (unsigned)a->cfg.max_header_bytes * 2 : 0;

        srv->daemon = MHD_start_daemon(
            flags, (uint16_t)port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
            on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED,
            on_completed, srv, MHD_OPTION_CONNECTION_LIMIT, (unsigned)a->cfg.max_connections,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)a->cfg.request_timeout_s,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(mem ? mem : 32 * 1024),
            cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
            MHD_OPTION_END);
    }
    free(cert);
    free(key);
    freeaddrinfo(ai);
    if (!srv->daemon) {
        free(srv);
        return err_set(e, ERR_IO, "listen", "cannot listen on %s:%d (address in use?)", host, port);
    }
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

int api_server_drain(struct api_server *srv, int timeout_s)
{
    int64_t deadline = clock_mono_ms() + (int64_t)timeout_s * 1000;
    int left;

    if (srv->listen_fd_after_quiesce < 0)
        srv->listen_fd_after_quiesce = MHD_quiesce_daemon(srv->daemon);
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
    MHD_stop_daemon(srv->daemon);
    if (srv->listen_fd_after_quiesce >= 0)
        close(srv->listen_fd_after_quiesce);
    free(srv);
    *sp = NULL;
}
