/* kubesim.c -- fedsched-kubesim: the HTTP front of the simulated clusters (libmicrohttpd),
 * authentication (bearer tokens, TLS client certificates whose CN is the user), faults, and the
 * command line with its certificates. A test and development tool, never linked into fedsched. */
#include "tools/kubesim/kubesim.h"
#include "tools/kubesim/kubesim_authz.h"
#include "tools/kubesim/kubesim_discovery.h"
#include "tools/kubesim/kubesim_openapi.h"
#include "tools/kubesim/kubesim_table.h"
#include "tools/kubesim/kubesim_watch.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define BODY_MAX ((size_t)4 << 20)
#define PEM_MAX  ((size_t)64 << 10)

struct listener {
    struct sim *sim;
    struct MHD_Daemon *d;
    int port;
    long single; /* the cluster served at "/", or -1 when shared (/c/NAME/) */
};

struct parked {
    int64_t due_ms;
    struct MHD_Connection *conn;
};

struct sim {
    struct sim_scenario *scn;
    struct sim_clock clock;
    struct sim_cluster **clusters;
    size_t n;
    size_t *by_name; /* cluster indices sorted by name */
    char **urls;
    struct listener *listeners;
    size_t n_listeners;
    char *tls_cert, *tls_key; /* copies of the options' PEM (MHD keeps pointers); NULL: HTTP */
    char *tls_trust;          /* the client CA's PEM; NULL: client certificates not asked for */

    pthread_mutex_t flock; /* faults, requests, rnd */
    struct sim_faults *faults;
    uint64_t *requests;
    unsigned rnd;

    pthread_mutex_t tlock; /* parked connections */
    pthread_cond_t tcond;
    pthread_t timer;
    bool timer_started;
    bool stopping;
    struct parked *parked;
    size_t n_parked, cap_parked;
    int suspended; /* parked and not yet re-entered */
    struct sim_watchers *watchers;
};

/* Per-request state, kept across MHD's calls of the handler. */
struct req {
    struct buf body;
    bool too_large;
    bool routed;
    bool parked;
    long cluster;
    char prefix[72]; /* "/c/NAME" on a shared port, else "" */
    char path[1024];
    struct sim_faults f;
    bool faulty;
};

/* ---- the timer that wakes parked (delayed) requests --------------------------------------- */

static void *timer_main(void *arg)
{
    struct sim *s = arg;

    pthread_mutex_lock(&s->tlock);
    for (;;) {
        int64_t now = clock_mono_ms(), next = now + 1000;
        size_t i = 0;

        while (i < s->n_parked) {
            if (s->stopping || s->parked[i].due_ms <= now) {
                MHD_resume_connection(s->parked[i].conn);
                s->parked[i] = s->parked[--s->n_parked];
                continue;
            }
            if (s->parked[i].due_ms < next)
                next = s->parked[i].due_ms;
            i++;
        }
        if (s->stopping)
            break;
        {
            struct timespec ts;
            int64_t wait = next - now;

            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += wait / 1000;
            ts.tv_nsec += (wait % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->tcond, &s->tlock, &ts);
        }
    }
    pthread_mutex_unlock(&s->tlock);
    return NULL;
}

/* Parks conn for ms; false when stopping (answer now instead). */
static bool park(struct sim *s, struct MHD_Connection *conn, int ms)
{
    bool ok = false;

    pthread_mutex_lock(&s->tlock);
    if (!s->stopping) {
        if (s->n_parked == s->cap_parked) {
            s->cap_parked = s->cap_parked ? s->cap_parked * 2 : 64;
            s->parked = xrealloc(s->parked, s->cap_parked * sizeof(*s->parked));
        }
        s->parked[s->n_parked].due_ms = clock_mono_ms() + ms;
        s->parked[s->n_parked].conn = conn;
        s->n_parked++;
        s->suspended++;
        MHD_suspend_connection(conn);
        pthread_cond_signal(&s->tcond);
        ok = true;
    }
    pthread_mutex_unlock(&s->tlock);
    return ok;
}

/* ---- faults ------------------------------------------------------------------------------- */

/* The faults that apply to this request (method method); counts it. */
static bool take_faults(struct sim *s, size_t c, const char *method, struct sim_faults *out)
{
    struct sim_faults *f = &s->faults[c];
    bool any;

    pthread_mutex_lock(&s->flock);
    s->requests[c]++;
    *out = *f;
    any = f->latency_ms || f->status || f->expire_continue || f->drop || f->malformed ||
          f->unauthorized || f->watch_drop_after || f->watch_stall || f->watch_garble;
    if (any && f->probability > 0 && f->probability < 1 &&
        (double)rand_r(&s->rnd) / RAND_MAX >= f->probability)
        any = false;
    if (any && f->method[0] && strcasecmp(method, f->method) != 0)
        any = false;
    pthread_mutex_unlock(&s->flock);
    return any;
}

/* A fault took effect on a request: count it against `remaining`. Faults that did not
 * apply (an expired-continue fault on a first page) are not used up. */
static void consume(struct sim *s, size_t c)
{
    struct sim_faults *f = &s->faults[c];

    pthread_mutex_lock(&s->flock);
    if (f->remaining > 0 && --f->remaining == 0)
        memset(f, 0, sizeof(*f));
    pthread_mutex_unlock(&s->flock);
}

/* ---- answering ----------------------------------------------------------------------------- */

/* Sends body (freed here); warnings: NULL or an array of messages, each sent as a Warning
 * header (299 - "message", RFC 7234) as the API server sends them. */
static enum MHD_Result send_warned(struct MHD_Connection *conn, int status, char *body, size_t len,
                                   int retry_after, const json_t *warnings)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result rc;
    size_t i;
    json_t *w;

    MHD_add_response_header(r, "Content-Type",
                            len && body[0] == '{' ? "application/json" : "text/plain");
    MHD_add_response_header(r, "Cache-Control", "no-cache, private");
    if (retry_after > 0) {
        char v[16];

        snprintf(v, sizeof(v), "%d", retry_after);
        MHD_add_response_header(r, "Retry-After", v);
    }
    json_array_foreach(warnings, i, w)
    {
        char *quoted = sim_warning_header(json_string_value(w));

        MHD_add_response_header(r, "Warning", quoted);
        free(quoted);
    }
    rc = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result send_body(struct MHD_Connection *conn, int status, char *body, size_t len,
                                 int retry_after)
{
    return send_warned(conn, status, body, len, retry_after, NULL);
}

static enum MHD_Result send_status(struct MHD_Connection *conn, int code, const char *reason,
                                   const char *msg, int retry_after)
{
    json_t *st =
        json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1",
                  "metadata", "status", "Failure", "message", msg, "reason", reason, "code", code);
    char *body;

    /* The API server repeats Retry-After in the Status (StatusDetails.retryAfterSeconds). */
    if (retry_after > 0)
        json_object_set_new(st, "details", json_pack("{s:i}", "retryAfterSeconds", retry_after));
    body = json_dumps(st, JSON_COMPACT);

    json_decref(st);
    return send_body(conn, code, body, strlen(body), retry_after);
}

static const char *reason_of(int code)
{
    switch (code) {
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    default: return code >= 500 ? "InternalError" : "BadRequest";
    }
}

static int cmp_name(const void *key, const void *elem, void *arg)
{
    const struct sim *s = arg;

    return strcmp(key, sim_cluster_name(s->clusters[*(const size_t *)elem]));
}

static long find_cluster(const struct sim *s, const char *name)
{
    size_t lo = 0, hi = s->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = cmp_name(name, &s->by_name[mid], (void *)s);

        if (r == 0)
            return (long)s->by_name[mid];
        if (r > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Resolves which cluster and which API path a URL means. */
static int route(struct listener *l, const char *url, struct req *r)
{
    const char *path = url;

    if (l->single >= 0) {
        r->cluster = l->single;
    } else {
        char name[64];
        size_t len;

        if (strncmp(url, "/c/", 3) != 0)
            return -1;
        len = strcspn(url + 3, "/");
        if (len == 0 || len >= sizeof(name))
            return -1;
        memcpy(name, url + 3, len);
        name[len] = '\0';
        r->cluster = find_cluster(l->sim, name);
        if (r->cluster < 0)
            return -1;
        path = url + 3 + len;
        snprintf(r->prefix, sizeof(r->prefix), "/c/%s", name);
    }
    snprintf(r->path, sizeof(r->path), "%s", *path ? path : "/");
    return 0;
}

/* The aggregated discovery version a GET of /api or /apis asks for; NULL for any other
 * request (kubectl asks, and reads the per-group documents when the answer is not of the
 * media type it asked for). */
static const char *wants_aggregated(struct MHD_Connection *conn, const char *method,
                                    const char *path)
{
    if (strcmp(method, "GET") != 0 || (strcmp(path, "/api") != 0 && strcmp(path, "/apis") != 0))
        return NULL;
    return sim_discovery_wants_aggregated(
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept"));
}

/* The APIGroupDiscoveryList of the cluster spec describes, as the media type asked for. */
static enum MHD_Result send_aggregated(struct MHD_Connection *conn,
                                       const struct sim_cluster_spec *spec, bool core,
                                       const char *version)
{
    /* The cluster model's default when the scenario names no "apis": KubeRay installed. */
    json_t *dflt = json_pack("[s]", "ray.io/v1");
    json_t *doc = sim_discovery_aggregated(spec->apis ? spec->apis : dflt, core, version);
    char *body = json_dumps(doc, JSON_COMPACT);
    char type[96];
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result rc;

    json_decref(doc);
    json_decref(dflt);
    snprintf(type, sizeof(type),
             "application/json;g=apidiscovery.k8s.io;v=%s;as=APIGroupDiscoveryList", version);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-cache, private");
    MHD_add_response_header(r, "Vary", "Accept");
    rc = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return rc;
}

/* GET /openapi/v3[/...]: the OpenAPI v3 index or a group/version's document. */
static enum MHD_Result send_openapi(struct MHD_Connection *conn,
                                    const struct sim_cluster_spec *spec, const struct req *r)
{
    json_t *dflt = json_pack("[s]", "ray.io/v1"); /* the model's default: KubeRay installed */
    struct sim_openapi_reply o;
    struct MHD_Response *resp;
    enum MHD_Result rc;

    sim_openapi_serve(spec->apis ? spec->apis : dflt, r->path,
                      MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "hash"), r->prefix,
                      &o);
    json_decref(dflt);
    if (o.status == 404)
        return send_status(conn, 404, "NotFound",
                           "the server could not find the requested resource", 0);
    resp = MHD_create_response_from_buffer(o.len, o.body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (o.status == 301)
        MHD_add_response_header(resp, "Location", o.location);
    /* A document asked for by its hash never changes; the index and unhashed ones may. */
    MHD_add_response_header(resp, "Cache-Control",
                            o.immutable ? "public, immutable" : "no-cache, private");
    rc = MHD_queue_response(conn, (unsigned)o.status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* fieldValidation of a create (kubesim_openapi.h): true when the request is refused (the
 * Status queued, MHD's result in *rc); else *warnings holds the Warning messages to send
 * with the answer (NULL: none). */
static bool refuse_fields(struct MHD_Connection *conn, const struct sim_cluster_spec *spec,
                          const struct req *r, json_t **warnings, enum MHD_Result *rc)
{
    int code;
    char *msg;
    struct sim_attrs at;

    /* The API server authorizes before it decodes: a forbidden create is 403 whatever its
     * body (the cluster answers that). */
    sim_authz_attrs("POST", r->path, &at);
    if (!sim_authz_allowed(spec->forbidden, &at))
        return false;
    if (sim_openapi_check_create(
            r->path, MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "fieldValidation"),
            r->body.data ? r->body.data : "", r->body.len, warnings, &code, &msg) == 0)
        return false;
    *rc = send_status(conn, code, code == 422 ? "Invalid" : "BadRequest", msg, 0);
    free(msg);
    return true;
}

/* The user a connection's client certificate names (its CN) when the certificate verified
 * against the client CA, as the API server's x509 authenticator has it; false when none was
 * presented or it did not verify. */
static bool cert_user(struct MHD_Connection *conn, char *cn, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    const gnutls_datum_t *peers;
    gnutls_x509_crt_t crt;
    unsigned status = 0, n = 0;
    size_t len = size;
    bool ok;

    if (!ci || !ci->tls_session)
        return false;
    if (gnutls_certificate_verify_peers2((gnutls_session_t)ci->tls_session, &status) != 0 ||
        status != 0)
        return false;
    peers = gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n);
    if (!peers || n == 0 || gnutls_x509_crt_init(&crt) != 0)
        return false;
    ok = gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) == 0 &&
         gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &len) == 0;
    gnutls_x509_crt_deinit(crt);
    return ok;
}

/* Authentication as the API server does it: a verified client certificate first (its CN is
 * the user), then the bearer token. A cluster with neither a token nor a clientCertUser takes
 * anyone. A certificate for another user authenticates that user, who has no rights here:
 * 403, as RBAC answers. *rc is the refusal when false is returned. */
static bool authenticate(struct MHD_Connection *conn, const struct sim_cluster_spec *spec,
                         enum MHD_Result *rc)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    char cn[128], want[160], msg[256];

    if (!spec->token[0] && !spec->cert_user[0])
        return true;
    if (spec->cert_user[0] && cert_user(conn, cn, sizeof(cn))) {
        if (strcmp(cn, spec->cert_user) == 0)
            return true;
        snprintf(msg, sizeof(msg), "forbidden: User \"%s\" cannot access this cluster", cn);
        *rc = send_status(conn, 403, "Forbidden", msg, 0);
        return false;
    }
    snprintf(want, sizeof(want), "Bearer %s", spec->token);
    if (spec->token[0] && auth && strcmp(auth, want) == 0)
        return true;
    *rc = send_status(conn, 401, "Unauthorized", "Unauthorized", 0);
    return false;
}

static enum MHD_Result answer(struct sim *s, struct MHD_Connection *conn, const char *method,
                              struct req *r)
{
    const struct sim_cluster_spec *spec = &s->scn->clusters[r->cluster];
    struct sim_cluster *c = s->clusters[r->cluster];
    const char *aggregated;
    struct sim_query q;
    struct sim_reply rep;
    json_t *warnings = NULL;
    enum MHD_Result rc;

    if (r->faulty && r->f.drop) {
        consume(s, (size_t)r->cluster);
        return MHD_NO; /* MHD closes the socket without a response */
    }
    if (r->faulty && r->f.unauthorized) {
        consume(s, (size_t)r->cluster);
        return send_status(conn, 401, "Unauthorized", "Unauthorized", 0);
    }
    if (!authenticate(conn, spec, &rc))
        return rc;
    if (r->faulty && r->f.status) {
        char msg[128];

        consume(s, (size_t)r->cluster);
        snprintf(msg, sizeof(msg), "simulated failure (HTTP %d)", r->f.status);
        if (r->f.status == 429)
            snprintf(msg, sizeof(msg), "%s", "Too many requests, please try again later.");
        return send_status(conn, r->f.status, reason_of(r->f.status), msg, r->f.retry_after_s);
    }
    memset(&q, 0, sizeof(q));
    q.limit = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
    q.cont = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "continue");
    q.field_selector = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "fieldSelector");
    q.label_selector = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "labelSelector");
    q.propagation_policy =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "propagationPolicy");
    q.grace_period_seconds =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "gracePeriodSeconds");
    q.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    q.resource_version =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "resourceVersion");
    if (strcmp(method, "GET") == 0 && sim_watch_requested(conn)) {
        bool wf = r->faulty && (r->f.watch_drop_after || r->f.watch_stall || r->f.watch_garble);

        if (wf)
            consume(s, (size_t)r->cluster);
        return sim_watch_serve(s->watchers, (size_t)r->cluster, conn, r->path, &q,
                               wf ? &r->f : NULL);
    }
    if (r->faulty && r->f.expire_continue && q.cont && *q.cont) {
        consume(s, (size_t)r->cluster);
        return send_status(conn, 410, "Expired",
                           "The provided continue parameter is too old to display a consistent "
                           "list result. You can start a new list without the continue "
                           "parameter.",
                           0);
    }
    if (r->too_large)
        return send_status(conn, 413, "RequestEntityTooLarge", "request body too large", 0);
    aggregated = wants_aggregated(conn, method, r->path);
    if (aggregated)
        return send_aggregated(conn, spec, strcmp(r->path, "/api") == 0, aggregated);
    if (strcmp(method, "GET") == 0 && strncmp(r->path, "/openapi/v3", 11) == 0)
        return send_openapi(conn, spec, r);
    if (strcmp(method, "POST") == 0 && refuse_fields(conn, spec, r, &warnings, &rc))
        return rc;
    sim_cluster_handle(c, method, r->path, &q, r->body.data ? r->body.data : "", r->body.len, &rep);
    if (strcmp(method, "GET") == 0)
        sim_table_reply(r->path, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept"),
                        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "includeObject"),
                        sim_clock_now(&s->clock), &rep);
    if (r->faulty && r->f.malformed && rep.list && rep.len > 8) {
        /* Cut the list mid-item and end it with bytes no JSON parser accepts. */
        size_t keep = rep.len / 2;

        consume(s, (size_t)r->cluster);
        snprintf(rep.body + keep - 4, 5, "%s", "\"\x01{");
        rep.len = keep;
    }
    rc = send_warned(conn, rep.status, rep.body, rep.len, 0, warnings);
    json_decref(warnings);
    return rc;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    struct listener *l = cls;
    struct sim *s = l->sim;
    struct req *r = *con_cls;

    (void)version;
    if (!r) {
        r = xcalloc(1, sizeof(*r));
        buf_init(&r->body, BODY_MAX);
        r->cluster = -1;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (buf_append(&r->body, upload_data, *upload_data_size) != 0)
            r->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->parked) {
        pthread_mutex_lock(&s->tlock);
        s->suspended--;
        pthread_mutex_unlock(&s->tlock);
        r->parked = false;
        if (s->stopping)
            return send_status(conn, 503, "ServiceUnavailable", "simulator stopping", 0);
        return answer(s, conn, method, r);
    }
    if (!r->routed) {
        r->routed = true;
        if (route(l, url, r) != 0)
            return send_status(conn, 404, "NotFound",
                               "the server could not find the requested resource", 0);
        r->faulty = take_faults(s, (size_t)r->cluster, method, &r->f);
        if (r->faulty && r->f.latency_ms > 0 && park(s, conn, r->f.latency_ms)) {
            consume(s, (size_t)r->cluster);
            r->parked = true;
            return MHD_YES;
        }
    }
    return answer(s, conn, method, r);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct req *r = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (!r)
        return;
    buf_free(&r->body);
    free(r);
    *con_cls = NULL;
}

/* ---- life cycle ------------------------------------------------------------------------------ */

static int listen_on(struct sim *s, struct listener *l, const char *bind_addr, int port,
                     int threads, struct err *e)
{
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *info;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    /* Without a certificate the key option below ends the list; without a client CA, the
     * trust option does. */
    enum MHD_OPTION tls_key = s->tls_cert ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END;
    enum MHD_OPTION trust = s->tls_trust ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END;

    if (s->tls_cert) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
            return err_set(e, ERR_INTERNAL, "tls", "this libmicrohttpd has no TLS support");
        flags |= MHD_USE_TLS;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1)
        return err_set(e, ERR_INVALID, "bind", "bind address \"%s\" is not IPv4", bind_addr);
    l->sim = s;
    l->d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, handler, l, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(threads > 0 ? threads : 1), MHD_OPTION_CONNECTION_LIMIT, (unsigned)8192,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)4096, tls_key, s->tls_key, MHD_OPTION_HTTPS_MEM_CERT, s->tls_cert, trust,
        s->tls_trust, MHD_OPTION_END);
    if (!l->d)
        return err_set(e, ERR_IO, "port", "cannot listen on %s:%d", bind_addr, port);
    info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_BIND_PORT);
    l->port = info ? info->port : port;
    return 0;
}

static int cmp_index(const void *a, const void *b, void *arg)
{
    const struct sim *s = arg;

    return strcmp(sim_cluster_name(s->clusters[*(const size_t *)a]),
                  sim_cluster_name(s->clusters[*(const size_t *)b]));
}

int sim_start(const struct sim_options *o, struct sim **out, struct err *e)
{
    struct sim *s = xcalloc(1, sizeof(*s));
    const char *bind_addr = o->bind && *o->bind ? o->bind : "127.0.0.1";
    const char *scheme = o->tls_cert_pem && o->tls_key_pem ? "https" : "http";
    int rc = -1;

    pthread_mutex_init(&s->flock, NULL);
    pthread_mutex_init(&s->tlock, NULL);
    pthread_cond_init(&s->tcond, NULL);
    s->rnd = (unsigned)clock_mono_ns();
    if (o->tls_cert_pem && o->tls_key_pem) {
        s->tls_cert = xstrdup(o->tls_cert_pem);
        s->tls_key = xstrdup(o->tls_key_pem);
        s->tls_trust = o->tls_client_ca_pem ? xstrdup(o->tls_client_ca_pem) : NULL;
    }
    if (o->scenario_text)
        rc = sim_scenario_parse(o->scenario_text, o->scenario_len, &s->scn, e);
    else if (o->scenario_path)
        rc = sim_scenario_load(o->scenario_path, &s->scn, e);
    else
        rc = err_set(e, ERR_INVALID, "scenario", "no scenario given");
    if (rc != 0)
        goto fail;
    rc = -1;
    sim_clock_init(&s->clock, o->time_scale > 0 ? o->time_scale : s->scn->time_scale,
                   s->scn->start_ms);
    s->n = s->scn->n_clusters;
    s->clusters = xcalloc(s->n, sizeof(*s->clusters));
    s->faults = xcalloc(s->n, sizeof(*s->faults));
    s->requests = xcalloc(s->n, sizeof(*s->requests));
    s->urls = xcalloc(s->n, sizeof(*s->urls));
    s->by_name = xcalloc(s->n, sizeof(*s->by_name));
    for (size_t i = 0; i < s->n; i++) {
        if (sim_cluster_new(&s->scn->clusters[i], &s->clock, s->scn->continue_ttl_ms,
                            &s->clusters[i], e) != 0)
            goto fail;
        s->faults[i] = s->scn->clusters[i].faults;
        s->by_name[i] = i;
    }
    qsort_r(s->by_name, s->n, sizeof(*s->by_name), cmp_index, s);
    if (pthread_create(&s->timer, NULL, timer_main, s) != 0) {
        err_set(e, ERR_INTERNAL, NULL, "cannot start the simulator's timer thread");
        goto fail;
    }
    s->timer_started = true;
    s->watchers = sim_watchers_new(s->clusters, s->n, &s->clock, s->scn->bookmark_ms);
    if (o->shared) {
        s->listeners = xcalloc(1, sizeof(*s->listeners));
        s->n_listeners = 1;
        s->listeners[0].single = -1;
        if (listen_on(s, &s->listeners[0], bind_addr, o->port, o->threads > 0 ? o->threads : 2,
                      e) != 0)
            goto fail;
        for (size_t i = 0; i < s->n; i++)
            s->urls[i] = xasprintf("%s://%s:%d/c/%s", scheme, bind_addr, s->listeners[0].port,
                                   sim_cluster_name(s->clusters[i]));
    } else {
        s->listeners = xcalloc(s->n, sizeof(*s->listeners));
        for (size_t i = 0; i < s->n; i++) {
            int port = o->port > 0 ? o->port + (int)i : s->scn->clusters[i].port;

            s->listeners[i].single = (long)i;
            s->n_listeners++;
            if (listen_on(s, &s->listeners[i], bind_addr, port, o->threads > 0 ? o->threads : 1,
                          e) != 0)
                goto fail;
            s->urls[i] = xasprintf("%s://%s:%d", scheme, bind_addr, s->listeners[i].port);
        }
    }
    *out = s;
    return 0;
fail:
    sim_stop(&s);
    return -1;
}

void sim_stop(struct sim **sp)
{
    struct sim *s;

    if (!sp || !*sp)
        return;
    s = *sp;
    pthread_mutex_lock(&s->tlock);
    s->stopping = true;
    pthread_cond_signal(&s->tcond);
    pthread_mutex_unlock(&s->tlock);
    sim_watchers_stop(s->watchers);
    if (s->timer_started)
        pthread_join(s->timer, NULL);
    /* MHD refuses to stop with suspended connections: wait until every resumed one has
     * been answered (bounded, in case a daemon thread is gone). */
    for (int i = 0; i < 5000; i++) {
        int n;

        pthread_mutex_lock(&s->tlock);
        n = s->suspended;
        pthread_mutex_unlock(&s->tlock);
        if (n <= 0)
            break;
        usleep(1000);
    }
    for (size_t i = 0; i < s->n_listeners; i++)
        if (s->listeners[i].d)
            MHD_stop_daemon(s->listeners[i].d);
    sim_watchers_free(&s->watchers);
    for (size_t i = 0; i < s->n; i++) {
        sim_cluster_free(&s->clusters[i]);
        if (s->urls)
            free(s->urls[i]);
    }
    free(s->listeners);
    free(s->clusters);
    free(s->urls);
    free(s->faults);
    free(s->requests);
    free(s->by_name);
    free(s->parked);
    free(s->tls_cert);
    free(s->tls_key);
    free(s->tls_trust);
    sim_scenario_free(&s->scn);
    pthread_mutex_destroy(&s->flock);
    pthread_mutex_destroy(&s->tlock);
    pthread_cond_destroy(&s->tcond);
    free(s);
    *sp = NULL;
}

size_t sim_cluster_count(const struct sim *s)
{
    return s->n;
}

const char *sim_cluster_name_at(const struct sim *s, size_t i)
{
    return i < s->n ? sim_cluster_name(s->clusters[i]) : NULL;
}

int sim_url(const struct sim *s, const char *cluster, char *out, size_t size, struct err *e)
{
    long i = find_cluster(s, cluster);

    if (i < 0)
        return err_set(e, ERR_NOT_FOUND, "cluster", "no simulated cluster \"%s\"", cluster);
    snprintf(out, size, "%s", s->urls[i]);
    return 0;
}

struct sim_cluster *sim_get_cluster(struct sim *s, const char *cluster)
{
    long i = find_cluster(s, cluster);

    return i < 0 ? NULL : s->clusters[i];
}

int sim_set_faults(struct sim *s, const char *cluster, const struct sim_faults *f, struct err *e)
{
    long i = cluster ? find_cluster(s, cluster) : -1;

    if (cluster && i < 0)
        return err_set(e, ERR_NOT_FOUND, "cluster", "no simulated cluster \"%s\"", cluster);
    pthread_mutex_lock(&s->flock);
    for (size_t k = 0; k < s->n; k++)
        if (!cluster || (long)k == i)
            s->faults[k] = *f;
    pthread_mutex_unlock(&s->flock);
    for (size_t k = 0; k < s->n; k++)
        if (!cluster || (long)k == i)
            sim_watchers_fault(s->watchers, k, f);
    return 0;
}

uint64_t sim_requests(struct sim *s, const char *cluster)
{
    long i = find_cluster(s, cluster);
    uint64_t n;

    if (i < 0)
        return 0;
    pthread_mutex_lock(&s->flock);
    n = s->requests[i];
    pthread_mutex_unlock(&s->flock);
    return n;
}

void sim_skip_time(struct sim *s, int64_t ms)
{
    sim_clock_skip(&s->clock, ms);
}

int64_t sim_now_ms(const struct sim *s)
{
    return sim_clock_now(&s->clock);
}

/* ---- command line ------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: fedsched-kubesim --scenario FILE [options]\n"
               "Serves simulated Kubernetes member clusters on loopback until SIGINT/SIGTERM.\n"
               "  --scenario FILE      scenario (see docs/simulator.md, testdata/sim/)\n"
               "  --port P             cluster i listens on P+i (with --shared: all on P)\n"
               "  --shared             one port, clusters under http://HOST:P/c/NAME/\n"
               "  --bind ADDR          listen address (default 127.0.0.1)\n"
               "  --time-scale X       simulated seconds per real second (overrides the file)\n"
               "  --threads N          threads per listening port\n"
               "  --clusters-out FILE  write the member-cluster configs fedsched needs (JSON),\n"
               "                       with token files and the CA (caFile) beside it\n"
               "  --tls-dir DIR        where to write the generated CA and server certificate\n"
               "                       (default: the directory of --clusters-out)\n"
               "  --insecure-http      serve plain HTTP, no certificates (debugging only)\n"
               "  --help               this text\n"
               "Prints \"cluster NAME URL\" per cluster once listening.\n");
}

/* Sets clientCertificateFile and clientKeyFile of cluster name: the files make_client_cert()
 * wrote in the CA's directory. */
static void client_files(json_t *o, const char *ca_file, const char *name)
{
    int dl = (int)(strrchr(ca_file, '/') - ca_file);
    char *crt = xasprintf("%.*s/kubesim-client-%s.crt", dl, ca_file, name);
    char *key = xasprintf("%.*s/kubesim-client-%s.key", dl, ca_file, name);

    json_object_set_new(o, "clientCertificateFile", json_string(crt));
    json_object_set_new(o, "clientKeyFile", json_string(key));
    free(crt);
    free(key);
}

/* Writes {"clusters":[...]} in the shape cluster_config_from_json() reads; ca_file (NULL:
 * plain HTTP) is every cluster's caFile. */
static int write_clusters(const struct sim *s, const char *path, const char *ca_file, struct err *e)
{
    json_t *root = json_object(), *arr = json_array();
    char *tmp = NULL;
    int rc = -1;

    for (size_t i = 0; i < s->n; i++) {
        const struct sim_cluster_spec *c = &s->scn->clusters[i];
        json_t *o = json_object();
        bool serving = false;

        for (size_t p = 0; p < c->n_pools; p++)
            serving |= strcmp(c->pools[p].pool, "serving") == 0;
        json_object_set_new(o, "name", json_string(c->name));
        json_object_set_new(o, "apiServer", json_string(s->urls[i]));
        json_object_set_new(o, "region", json_string("sim"));
        json_object_set_new(o, "provider", json_string("fedsched-sim"));
        json_object_set_new(o, "timezone", json_string("UTC"));
        if (ca_file)
            json_object_set_new(o, "caFile", json_string(ca_file));
        else /* --insecure-http: fedsched refuses http:// unless told */
            json_object_set_new(o, "allowInsecureHttp", json_true());
        if (ca_file && c->cert_user[0]) /* beside the CA (make_client_cert) */
            client_files(o, ca_file, c->name);
        if (c->token[0]) {
            char *tf = xasprintf("%s.%s.token", path, c->name);
            FILE *f = fopen(tf, "w");

            if (!f || fprintf(f, "%s\n", c->token) < 0) {
                if (f)
                    fclose(f);
                err_set(e, ERR_IO, "clusters-out", "cannot write token file %s", tf);
                free(tf);
                json_decref(o);
                goto out;
            }
            fclose(f);
            json_object_set_new(o, "tokenFile", json_string(tf));
            free(tf);
        }
        if (serving) {
            json_t *ns = json_array();

            for (size_t d = 0; d < c->n_deployments; d++) {
                bool seen = false;
                size_t k;
                json_t *v;

                json_array_foreach(ns, k, v)
                {
                    seen |= strcmp(json_string_value(v), c->deployments[d].ns) == 0;
                }
                if (!seen)
                    json_array_append_new(ns, json_string(c->deployments[d].ns));
            }
            if (json_array_size(ns) == 0)
                json_array_append_new(ns, json_string("serving"));
            json_object_set_new(o, "servingPool",
                                json_pack("{s:{s:s},s:o,s:i,s:s,s:[{s:s,s:s}]}", "nodeSelector",
                                          "fedsched.io/pool", "serving", "namespaces", ns,
                                          "reserveGpus", 1, "lendPolicy", "window",
                                          "lendingWindows", "start", "22:00", "end", "06:00"));
        }
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "clusters", arr);
    arr = NULL;
    /* Write aside and rename, so a script polling for the file never reads half of it. */
    tmp = xasprintf("%s.tmp", path);
    if (json_dump_file(root, tmp, JSON_INDENT(2)) != 0 || rename(tmp, path) != 0) {
        err_set(e, ERR_IO, "clusters-out", "cannot write %s", path);
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    json_decref(root);
    return rc;
}

/* ---- certificates ------------------------------------------------------------------------ */

/* Runs the openssl command with args (no shell), its output appended to log, and waits. */
static int openssl(const char *const args[], const char *log, struct err *e)
{
    char *argv[24];
    size_t n = 0;
    pid_t pid;
    int status = 0, rc;
    posix_spawn_file_actions_t fa;

    argv[n++] = (char *)"openssl";
    while (args[n - 1] && n < sizeof(argv) / sizeof(argv[0]) - 1) {
        argv[n] = (char *)args[n - 1];
        n++;
    }
    argv[n] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    rc = posix_spawnp(&pid, "openssl", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return err_set(e, ERR_IO, "tls", "cannot run the openssl command (is it installed?)");
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return err_set(e, ERR_IO, "tls", "openssl %s %s failed; its messages are in %s", args[0],
                       args[1], log);
    return 0;
}

/* Reads a PEM file of at most PEM_MAX bytes; caller frees *out. */
static int read_pem(const char *path, char **out, struct err *e)
{
    FILE *f = fopen(path, "rb");
    char *pem = xmalloc(PEM_MAX + 1);
    size_t n;

    if (!f) {
        free(pem);
        return err_set(e, ERR_IO, "tls", "cannot read %s: %s", path, strerror(errno));
    }
    n = fread(pem, 1, PEM_MAX + 1, f);
    fclose(f);
    if (n == 0 || n > PEM_MAX) {
        free(pem);
        return err_set(e, ERR_IO, "tls", "%s is empty or larger than %zu bytes", path, PEM_MAX);
    }
    pem[n] = '\0';
    *out = pem;
    return 0;
}

/* Generates in dir a CA (kubesim-ca.crt, the caFile clients trust) and a server key and
 * certificate it signs for 127.0.0.1, localhost and bind_addr: a fresh pair each start, so
 * a client holding an old CA file is refused as a stale one would be by a real cluster.
 * Fills the server's PEM (caller frees both) and the CA's path (caller frees). */
static int make_certs(const char *dir, const char *bind_addr, char **cert, char **key,
                      char **ca_path, struct err *e)
{
    char *ca = xasprintf("%s/kubesim-ca.crt", dir), *ca_key = xasprintf("%s/kubesim-ca.key", dir);
    char *crt = xasprintf("%s/kubesim-server.crt", dir),
         *pk = xasprintf("%s/kubesim-server.key", dir);
    char *csr = xasprintf("%s/kubesim-server.csr", dir), *san = NULL;
    char *log = xasprintf("%s/kubesim-openssl.log", dir);
    bool extra = strcmp(bind_addr, "127.0.0.1") != 0 && strcmp(bind_addr, "0.0.0.0") != 0;
    mode_t old = umask(077); /* the keys: readable by this user only */
    int rc = -1;

    san = xasprintf("subjectAltName=IP:127.0.0.1,DNS:localhost%s%s", extra ? ",IP:" : "",
                    extra ? bind_addr : "");
    {
        /* clang-format off */
        const char *mk_ca[] = {"req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                               "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca_key,
                               "-out", ca, "-days", "3650", "-subj", "/CN=fedsched-kubesim CA",
                               "-addext", "keyUsage=critical,keyCertSign,cRLSign", NULL};
        const char *mk_csr[] = {"req", "-new", "-newkey", "ec", "-pkeyopt",
                                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", pk, "-out",
                                csr, "-subj", "/CN=fedsched-kubesim", "-addext", san, "-addext",
                                "extendedKeyUsage=serverAuth", NULL};
        const char *sign[] = {"x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-days",
                              "825", "-copy_extensions", "copy", "-out", crt, NULL};
        /* clang-format on */

        if (openssl(mk_ca, log, e) || openssl(mk_csr, log, e) || openssl(sign, log, e))
            goto out;
    }
    chmod(ca, 0644);
    if (read_pem(crt, cert, e))
        goto out;
    if (read_pem(pk, key, e)) {
        free(*cert);
        goto out;
    }
    *ca_path = ca;
    ca = NULL;
    rc = 0;
out:
    umask(old);
    unlink(csr);
    free(ca);
    free(ca_key);
    free(crt);
    free(pk);
    free(csr);
    free(san);
    free(log);
    return rc;
}

/* Makes dir/kubesim-client-NAME.key and .crt: a client certificate for user (its CN, as
 * kubeadm makes them: "/CN=user") that the CA in dir signs, for clientAuth. */
static int make_client_cert(const char *dir, const char *name, const char *user, struct err *e)
{
    char *ca = xasprintf("%s/kubesim-ca.crt", dir), *ca_key = xasprintf("%s/kubesim-ca.key", dir);
    char *crt = xasprintf("%s/kubesim-client-%s.crt", dir, name),
         *pk = xasprintf("%s/kubesim-client-%s.key", dir, name);
    char *csr = xasprintf("%s/kubesim-client-%s.csr", dir, name);
    char *log = xasprintf("%s/kubesim-openssl.log", dir), *subj = xasprintf("/CN=%s", user);
    mode_t old = umask(077);
    int rc = -1;

    if (strspn(user, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:@") !=
        strlen(user)) {
        err_set(e, ERR_INVALID, "clientCertUser",
                "clientCertUser \"%s\" of cluster %s has characters a CN here may not", user, name);
        goto out;
    }
    {
        /* clang-format off */
        const char *mk_csr[] = {"req", "-new", "-newkey", "ec", "-pkeyopt",
                                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", pk, "-out",
                                csr, "-subj", subj, "-addext", "extendedKeyUsage=clientAuth",
                                NULL};
        const char *sign[] = {"x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-days",
                              "825", "-copy_extensions", "copy", "-out", crt, NULL};
        /* clang-format on */

        if (openssl(mk_csr, log, e) || openssl(sign, log, e))
            goto out;
    }
    rc = 0;
out:
    umask(old);
    unlink(csr);
    free(ca);
    free(ca_key);
    free(crt);
    free(pk);
    free(csr);
    free(log);
    free(subj);
    return rc;
}

/* Client certificates for the clusters of the scenario in path that take them, and then the
 * CA as the client CA (*trust stays NULL when no cluster takes them). */
static int client_certs_for(const char *path, const char *dir, const char *ca_path, char **trust,
                            struct err *e)
{
    struct sim_scenario *scn = NULL;
    bool any = false;
    int rc = -1;

    if (sim_scenario_load(path, &scn, e))
        return -1;
    for (size_t i = 0; i < scn->n_clusters; i++) {
        if (!scn->clusters[i].cert_user[0])
            continue;
        if (make_client_cert(dir, scn->clusters[i].name, scn->clusters[i].cert_user, e))
            goto out;
        any = true;
    }
    rc = any ? read_pem(ca_path, trust, e) : 0;
out:
    sim_scenario_free(&scn);
    return rc;
}

/* The directory for the certificates: --tls-dir, else that of --clusters-out, else a new
 * private one under /tmp (NULL when it cannot be made). */
static char *tls_dir_of(const char *tls_dir, const char *clusters_out)
{
    const char *slash;

    if (tls_dir)
        return xstrdup(tls_dir);
    if (!clusters_out) {
        char *tmp = xstrdup("/tmp/fedsched-kubesim-XXXXXX");

        if (mkdtemp(tmp))
            return tmp;
        free(tmp);
        return NULL;
    }
    slash = strrchr(clusters_out, '/');
    if (!slash)
        return xstrdup(".");
    return xasprintf("%.*s", (int)(slash == clusters_out ? 1 : slash - clusters_out), clusters_out);
}

int sim_main(int argc, char **argv)
{
    struct sim_options o;
    struct sim *s = NULL;
    struct err e = {0};
    const char *clusters_out = NULL, *tls_dir = NULL;
    char *dir = NULL, *cert = NULL, *key = NULL, *ca = NULL, *trust = NULL;
    bool insecure = false;
    sigset_t set;
    int sig = 0, rc = 1;

    memset(&o, 0, sizeof(o));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--shared") == 0) {
            o.shared = true;
            continue;
        } else if (strcmp(a, "--insecure-http") == 0) {
            insecure = true;
            continue;
        } else if (!v) {
            fprintf(stderr, "fedsched-kubesim: %s needs a value (or is unknown)\n", a);
            usage(stderr);
            return 2;
        } else if (strcmp(a, "--scenario") == 0) {
            o.scenario_path = v;
        } else if (strcmp(a, "--bind") == 0) {
            o.bind = v;
        } else if (strcmp(a, "--clusters-out") == 0) {
            clusters_out = v;
        } else if (strcmp(a, "--tls-dir") == 0) {
            tls_dir = v;
        } else if (strcmp(a, "--port") == 0) {
            long p = strtol(v, &end, 10);

            if (*end || p < 0 || p > 65535) {
                fprintf(stderr, "fedsched-kubesim: --port \"%s\" is not a port\n", v);
                return 2;
            }
            o.port = (int)p;
        } else if (strcmp(a, "--threads") == 0) {
            long t = strtol(v, &end, 10);

            if (*end || t < 1 || t > 64) {
                fprintf(stderr, "fedsched-kubesim: --threads \"%s\" must be 1..64\n", v);
                return 2;
            }
            o.threads = (int)t;
        } else if (strcmp(a, "--time-scale") == 0) {
            o.time_scale = strtod(v, &end);
            if (*end || !(o.time_scale > 0)) {
                fprintf(stderr, "fedsched-kubesim: --time-scale \"%s\" must be > 0\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "fedsched-kubesim: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (!o.scenario_path) {
        fprintf(stderr, "fedsched-kubesim: --scenario is required\n");
        usage(stderr);
        return 2;
    }
    dir = insecure ? NULL : tls_dir_of(tls_dir, clusters_out);
    if (!insecure && !dir) {
        fprintf(stderr, "fedsched-kubesim: cannot make a directory for the CA under /tmp: %s\n",
                strerror(errno));
        return 1;
    }
    if (dir && make_certs(dir, o.bind && *o.bind ? o.bind : "127.0.0.1", &cert, &key, &ca, &e)) {
        fprintf(stderr, "fedsched-kubesim: %s\n", e.msg);
        free(dir);
        return 1;
    }
    if (dir && client_certs_for(o.scenario_path, dir, ca, &trust, &e)) {
        fprintf(stderr, "fedsched-kubesim: %s\n", e.msg);
        goto out;
    }
    o.tls_cert_pem = cert;
    o.tls_key_pem = key;
    o.tls_client_ca_pem = trust;
    /* Block the stop signals before any thread starts, so they all inherit the mask and
     * only sigwait() below sees them. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (sim_start(&o, &s, &e) != 0 ||
        (clusters_out && write_clusters(s, clusters_out, ca, &e) != 0)) {
        fprintf(stderr, "fedsched-kubesim: %s\n", e.msg);
        goto out;
    }
    if (ca)
        printf("ca %s\n", ca);
    for (size_t i = 0; i < s->n; i++)
        printf("cluster %s %s\n", sim_cluster_name(s->clusters[i]), s->urls[i]);
    fflush(stdout);
    LOG(LOG_INFO, "sim", "event=listening clusters=%zu time_scale=%g", s->n, s->clock.scale);
    sigwait(&set, &sig);
    LOG(LOG_INFO, "sim", "event=stopping signal=%d", sig);
    rc = 0;
out:
    sim_stop(&s);
    free(dir);
    free(cert);
    free(key);
    free(ca);
    free(trust);
    return rc;
}
