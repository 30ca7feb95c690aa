/* api.h -- the HTTP API: request handling independent of the socket (api_handle) and the
 * libmicrohttpd server around it (api_server_*). Only api/ maps err codes to statuses.
 * Not responsible for validation rules of the resource (trainingjob.c) or storage. */
#ifndef API_API_H
#define API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/response.h"

struct err;
struct principal;
struct store;
struct trainingjob_tenants;
struct policy_quota_spec;
struct api; /* handlers' shared state: config, store, metrics */

struct api_config {
    long max_body_bytes;       /* larger bodies get 413 */
    int max_connections;       /* beyond this, new connections are refused */
    int request_timeout_s;     /* a connection idle (or trickling) this long is closed */
    bool auth_enabled;         /* false: every caller is an anonymous admin (development) */
    double rate_per_s;         /* requests per second per token; 0: unlimited */
    double rate_burst;         /* bucket size */
    const char *tls_cert_file; /* both set: serve HTTPS (PEM files) */
    const char *tls_key_file;
    int max_header_bytes;        /* request line and headers */
    int threads;                 /* libmicrohttpd's thread pool size (epoll) */
    int submit_threads;          /* threads submissions wait on for their COMMIT */
    int max_connections_per_ip;  /* concurrent connections from one address */
    int header_timeout_s;        /* absolute deadline for request line + headers */
    int body_timeout_s;          /* absolute deadline for the body once headers are in */
    int max_watches;             /* suspended watches in total; beyond: 429 */
    int max_watches_per_token;   /* per token (per address when auth is off); beyond: 429 */
    const char *tls_priorities;  /* GnuTLS priority string; NULL: the library's default */
    int unauth_audit_per_minute; /* audit rows of 401s per client address per minute */
    /* What each namespace's specs may reference (config "tenants"); NULL: anything. Not
     * copied: it must outlive the api. */
    const struct trainingjob_tenants *tenants;
    /* GPU quotas per namespace and SKU (config "quotas") for GET /v1/quotas. Not copied: they
     * must outlive the api. */
    const struct policy_quota_spec *quotas;
    size_t n_quotas;
};

/* Caller keeps store alive until api_free(). Caller owns *out. */
int api_new(const struct api_config *c, struct store *s, struct api **out, struct err *e);
void api_free(struct api **a); /* NULL-safe; sets *a to NULL */

struct poller;
struct sku_catalogue;

/* Gives the cluster endpoints their poller (for live status) and the catalogue used to
 * validate cluster configs. changed(arg) is called after the registry was edited so the
 * caller can hand the new set to the poller. Call before the server starts. */
void api_attach_clusters(struct api *a, struct poller *p, const struct sku_catalogue *skus,
                         void (*changed)(void *arg), void *arg);

struct buf;

/* Gives /metrics a source of more Prometheus text (the scheduler's sched_metrics()). Call
 * before the server starts; fn runs on request threads, so it must be thread-safe, and arg
 * must outlive the api. */
void api_attach_scheduler(struct api *a, int (*fn)(void *arg, struct buf *b), void *arg);

/* Gives GET .../explain its source for queued jobs: fn explains stored job ns/name
 * (unsaved NULL; the scheduler's sched_explain()) or, for a dry-run create, unsaved, a
 * parsed job not stored (sched_explain_new()). Called on request threads: fn must be
 * thread-safe, arg must outlive the api. */
struct job;
void api_attach_explainer(struct api *a,
                          int (*fn)(void *arg, const char *ns, const char *name,
                                    const struct job *unsaved, struct buf *out, struct err *e),
                          void *arg);

/* What GET /v1/queue and GET /v1/namespaces/{ns}/queue ask of the scheduler. */
struct api_queue_query {
    const char *ns;                /* the path's namespace; NULL: every one */
    const char *const *namespaces; /* a token's readable namespaces; n_namespaces 0: every one */
    size_t n_namespaces;
    const char *sku;      /* ?sku: jobs that accept it; NULL: every job */
    size_t offset, limit; /* ?offset (0), ?limit (100, at most 1000) */
};

/* Gives the queue view its source: fn writes the QueueView object for q into out (the
 * scheduler's sched_queue_view()). Called on request threads: fn must be thread-safe, arg
 * must outlive the api. Without one, the view answers 503. */
void api_attach_queue_view(struct api *a,
                           int (*fn)(void *arg, const struct api_queue_query *q, struct buf *out,
                                     struct err *e),
                           void *arg);

/* Handles req and fills resp (caller releases it with api_response_clear()). Never fails:
 * every error becomes a JSON error response. A watch answers at once (nothing can
 * suspend it here). Thread-safe. */
void api_handle(struct api *a, const struct api_request *req, struct api_response *resp);

/* The same in steps, for the server: api_call_begin() routes, authenticates and
 * authorises from the request line and headers alone (req->body is not read yet) and
 * returns 0 when the call may go on, or -1 with resp filled: answer it without reading
 * the body. api_call_finish() runs the handler with the whole request; when it sets
 * resp->wait, the server waits for req->wait->job_id to change or its deadline, then
 * calls it again with the same req->wait. Caller owns *call and frees it with
 * api_call_free() (which gives back w's watch slot) in every case. Thread-safe. */
struct api_call;
int api_call_begin(struct api *a, const struct api_request *req, struct api_call **call,
                   struct api_response *resp);
void api_call_finish(struct api *a, struct api_call *call, const struct api_request *req,
                     struct api_response *resp);
void api_call_free(struct api *a, struct api_call **call, struct api_wait *w);
/* Whether the call's handler waits for a batch's COMMIT (a submission): the server runs
 * it on its submission threads, with the connection suspended. */
bool api_call_commits(const struct api_call *call);

/* Watches holding a slot now (for metrics and tests). */
int api_watch_count(struct api *a);

/* Records one finished request in the metrics (the server calls it). Thread-safe. */
void api_observe(struct api *a, const char *method, const char *route, int status,
                 int64_t duration_ns);

struct api_server;

/* Listens on host:port (port 0 picks a free one; see api_server_port) with a pool of
 * threads on epoll (a handler blocking on the database stalls only its own thread's
 * connections, briefly), absolute deadlines for headers and body, a cap per client
 * address, and suspended watches. Zero config fields take their defaults.
 * Caller owns *out; stop with api_server_stop(). ERR_IO when it cannot bind. */
int api_server_start(struct api *a, const char *host, int port, struct api_server **out,
                     struct err *e);
int api_server_port(const struct api_server *srv);

/* Connections closed so far because their headers or body missed the absolute deadline. */
uint64_t api_server_deadline_closed(struct api_server *srv);

/* Stops accepting connections and waits up to timeout_s for requests in flight to finish.
 * Returns the number still running when it gave up (0 when drained). */
int api_server_drain(struct api_server *srv, int timeout_s);
void api_server_stop(struct api_server **srv); /* NULL-safe; closes everything */

#endif
