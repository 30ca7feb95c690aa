/* internal.h -- what api/ files share: the api struct, the response helpers, routing,
 * access, watches and request metrics. Not included outside api/.
 *
 * The files of api/, from the bottom up; each uses only those below it:
 *   trainingjob.c          the TrainingJob resource on the wire (parse, validate, render)
 *   reports_format.c       the capacity report's options and renderings
 *   response.c             filling an answer (JSON, text, a job, an error and its status)
 *   access.c, watches.c,   who is calling and what they may do, the audit trail, the rate
 *   metrics.c              limit; the caps on watches; the request counters
 *   <resource>_routes.c    route handler files: h_* functions for the paths of one
 *                          resource (job, bulk, checkpoint, explain, cluster, report, leader,
 *                          audit, health, metrics, reclaim, quota, ui), plus that resource's
 *                          api_attach_*()
 *   router.c               the table: method + path -> handler and permission
 *   api.c                  one call's life: route, authenticate, authorise, handle, audit
 *   server.c               libmicrohttpd around api.c
 * A handler file never calls another handler file, the router or api.c. */
#ifndef API_INTERNAL_H
#define API_INTERNAL_H

#include <jansson.h>
#include <stdarg.h>

#include "api/api.h"
#include "base/buf.h"
#include "base/err.h"

struct api_metrics;
struct api_access;

/* ROLE_JOB: a job's checkpoint token (base/job_token.h); its principal's name is "job:<uid>"
 * and access_authorize_job() alone decides what it may do. */
enum role { ROLE_VIEWER = 0, ROLE_SUBMITTER, ROLE_ADMIN, ROLE_JOB };

/* The caller, once authenticated (access.c). With authentication disabled every caller is
 * an anonymous admin. */
struct principal {
    bool authenticated;
    char name[64]; /* token name */
    char role_name[16];
    enum role role;
    char **namespaces; /* empty: all (admin, or a viewer of everything) */
    size_t n_namespaces;
};

/* What a route requires. 0 is the strictest, so a route added without thought is
 * admin-only rather than open. */
enum perm {
    PERM_ADMIN = 0,
    PERM_PUBLIC,  /* no token needed: probes, metrics, the dashboard's files */
    PERM_READ,    /* any valid token */
    PERM_NS_READ, /* may read the path's namespace */
    PERM_NS_WRITE /* may write in the path's namespace */
};

struct api {
    struct api_config cfg;
    struct store *store;
    struct api_metrics *metrics;
    struct api_access *access;
    struct api_watches *watches;      /* counts behind http.maxWatches and maxWatchesPerToken */
    struct poller *poller;            /* NULL until api_attach_clusters() */
    struct api_forecasts *forecasts;  /* serving-demand forecasts for /v1/capacity */
    const struct sku_catalogue *skus; /* catalogue for cluster configs */
    int (*explainer)(void *arg, const char *ns, const char *name, const struct job *unsaved,
                     struct buf *out, struct err *e);
    void *explainer_arg;
    struct whatif_memo *queue_memo; /* queue_memo.c: GET's queue figures, per job */
    int (*queue_view)(void *arg, const struct api_queue_query *q, struct buf *out,
                      struct err *e); /* api_attach_queue_view(); NULL: none */
    void *queue_view_arg;
    struct whatif_memo *queue_views; /* queue_routes.c: the views' answers, per query */
    void (*clusters_changed)(void *arg);
    void *clusters_changed_arg;
    int (*sched_metrics)(void *arg, struct buf *b); /* api_attach_scheduler(); NULL: none */
    void *sched_metrics_arg;
};

/* Path parameters captured by the router. */
struct route_params {
    const char *ns;
    const char *name;
    char buf[512]; /* backing store for ns and name */
};

typedef void (*api_handler)(struct api *a, const struct api_request *req,
                            const struct route_params *p, struct api_response *resp);

/* Finds the handler for method + path. Returns 0 with *h, *perm and *query (the query
 * parameters it takes, for api_check_query()) set; or fills resp with 404 (no such path)
 * or 405 (path exists, method does not; Allow set) and returns -1. */
int api_route(const char *method, const char *path, api_handler *h, enum perm *perm,
              const char **query, struct route_params *p, struct api_response *resp);

/* Refuses a query with a parameter the route does not take, or one given twice (which
 * value would count is then a guess): 400 malformed, one cause per name, at most
 * ERR_CAUSES_MAX. known is the route's list ("" none; NULL any). 0 when the query
 * is acceptable, else -1 with resp filled. Values are the handlers' to check. */
int api_check_query(const char *known, const struct api_request *req, struct api_response *resp);

/* The route table, for the test that holds it to docs/openapi.yaml. */
size_t api_route_count(void);
void api_route_at(size_t i, const char **method, const char **pattern, const char **query);

/* queue_memo.c: the what-if's figures for queued job j as the members they add to its
 * status, JSON text without braces (queue_figures_apply()'s: "\"queuePosition\":4,..."; the
 * caller frees it), remembered per job for a few seconds, one what-if at a time; NULL when
 * there are none. */
struct job;
struct whatif_memo *queue_memo_new(void);
char *queue_memo_get(struct api *a, const struct job *j);
/* Takes the replica's one what-if slot for another caller (a dry run) and returns true, or
 * false when a what-if runs; queue_memo_end() gives it back. */
bool queue_memo_begin(struct api *a);
void queue_memo_end(struct api *a);
void queue_memo_metrics(struct api *a, struct buf *out);
/* The figures of an explanation (explain_json()'s text): {"queue": its queue member,
 * "reason": its reason member when the job would wait}, either absent; NULL when it has
 * neither (a new reference). */
json_t *queue_figures(const char *explanation, size_t len);
/* Puts figures f into a TrainingJob's JSON (job): status.queuePosition and
 * estimatedStartTime from its queue, status.pendingReason from its reason. */
void queue_figures_apply(json_t *job, const json_t *f);
/* Why queued job j is out of the policy's queue now (job_aside_reason()), as a
 * PendingReason: {"reason", "message"} and, for a retry backoff, "retryAt" (a new
 * reference); NULL when the policy considers it. */
json_t *queue_aside_reason(const struct job *j);

/* access.c */
void access_init(struct api *a);
void access_free(struct api *a);
/* Fills *who from the Authorization header (anonymous admin when auth is disabled).
 * ERR_UNAUTHORIZED, or ERR_DB when tokens cannot be checked. Caller clears *who. */
int access_authenticate(struct api *a, const char *authorization, struct principal *who,
                        struct err *e);
void access_principal_clear(struct principal *who);
/* Takes one token from key's bucket; -1 with *retry_after_s when it is empty. */
int access_rate_limit(struct api *a, const char *key, int *retry_after_s);
/* Admins and viewers without namespaces read every namespace; so does a call without a
 * principal (auth disabled). */
bool access_reads_all(const struct principal *who);
bool access_may_read(const struct principal *who, const char *ns);
bool access_may_write(const struct principal *who, const char *ns);
/* For a ROLE_JOB caller, instead of the route's permission: only POST or GET of the checkpoint
 * route (route is the template) of the job whose uid the token names. Fills resp (403, or
 * 503 when the job cannot be looked up) and returns -1 otherwise. */
int access_authorize_job(struct api *a, const struct principal *who, const char *method,
                         const char *route, const struct route_params *p,
                         struct api_response *resp);
/* Queues one audit record (written within AUDIT_FLUSH_MS by the writer thread). */
void access_audit(struct api *a, const struct principal *who, const char *remote,
                  const char *method, const char *path, const char *ns, int status,
                  const char *detail);
/* Writes queued records now (tests and shutdown). */
void access_audit_flush(struct api *a);
/* Fills *out with req's audit row (caller, address, method, path; ns) for a handler that
 * passes it to a store mutation, which commits it with the change: status for the
 * mutation's first kind of success, status_alt for its second (see store.h). Strings are
 * borrowed from req. The handler then sets resp->audited. */
struct store_audit;
void access_audit_row(const struct api_request *req, const char *ns, int status, int status_alt,
                      struct store_audit *out);
/* Appends the audit metrics (Prometheus text): rows dropped, queue length, unauthenticated
 * failures written or sampled out. */
void access_metrics(struct api *a, struct buf *out);

/* Takes a slot of the watch caps for the caller of req (its token, or its address when
 * unauthenticated) and records it in w->cap_key; ERR_RATE_LIMITED when the caller or the
 * server holds its limit. api_call_free() gives the slot back. */
int api_watch_acquire(struct api *a, const struct api_request *req, struct api_wait *w,
                      struct err *e);
void api_watch_release(struct api *a, struct api_wait *w);
void watches_init(struct api *a);
void watches_free(struct api *a);

/* response.c: HTTP status for an err code. */
int api_status_for(enum err_code code);

/* Responses (response.c). resp_json steals the reference to body. */
void resp_json(struct api_response *resp, int status, json_t *body);
void resp_text(struct api_response *resp, int status, const char *content_type, char *body);
/* The job as the API shows it (trainingjob_render), without a jansson tree. */
struct job;
void resp_job(struct api_response *resp, int status, const struct job *j);
void resp_error(struct api_response *resp, const struct err *e);
/* Every cause of a refused body (items[0] first, n >= 1): items[0]'s code, field and
 * status, its message saying how many more there are, and "causes", each {code, message,
 * field}; more counts causes not given ("moreCauses"). An items[0] that is not
 * ERR_MALFORMED or ERR_INVALID is answered alone, as resp_error() does. */
void resp_error_causes(struct api_response *resp, const struct err *items, size_t n, size_t more);
void resp_errorf(struct api_response *resp, enum err_code code, const char *field, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

/* The problems of a request's query parameters are gathered in a struct err_causes
 * (base/err.h), so its answer lists them all: a handler checks every parameter, keeps each
 * problem (err_cause()), then answers once. Answers with every cause of c (resp_error_causes()) and returns true, or false when c has
 * none. */
bool api_causes_answer(const struct err_causes *c, struct api_response *resp);

/* Value of query argument key, or NULL. */
const char *req_query(const struct api_request *req, const char *key);

/* The query values several routes take: sku, a name in the catalogue; pool, "training" or
 * "serving" (*pool its enum snapshot_pool). 0, or -1 with e naming the parameter. */
int query_sku(const char *v, struct err *e);
int query_pool(const char *v, int *pool, struct err *e);

/* Handlers (<resource>_routes.c). */
void h_job_create(struct api *a, const struct api_request *req, const struct route_params *p,
                  struct api_response *resp);
void h_job_list(struct api *a, const struct api_request *req, const struct route_params *p,
                struct api_response *resp);
void h_job_get(struct api *a, const struct api_request *req, const struct route_params *p,
               struct api_response *resp);
void h_job_cancel(struct api *a, const struct api_request *req, const struct route_params *p,
                  struct api_response *resp);
void h_job_events(struct api *a, const struct api_request *req, const struct route_params *p,
                  struct api_response *resp);
/* bulk_routes.c: job sets by label selector, and PATCH of a job's priority. */
void h_job_bulk_cancel(struct api *a, const struct api_request *req, const struct route_params *p,
                       struct api_response *resp);
void h_job_bulk_hold(struct api *a, const struct api_request *req, const struct route_params *p,
                     struct api_response *resp);
void h_job_bulk_release(struct api *a, const struct api_request *req, const struct route_params *p,
                        struct api_response *resp);
void h_job_bulk_reprioritize(struct api *a, const struct api_request *req,
                             const struct route_params *p, struct api_response *resp);
void h_job_patch(struct api *a, const struct api_request *req, const struct route_params *p,
                 struct api_response *resp);
void h_job_explain(struct api *a, const struct api_request *req, const struct route_params *p,
                   struct api_response *resp);
void h_job_checkpoint(struct api *a, const struct api_request *req, const struct route_params *p,
                      struct api_response *resp);
void h_job_checkpoint_request(struct api *a, const struct api_request *req,
                              const struct route_params *p, struct api_response *resp);
void h_leader(struct api *a, const struct api_request *req, const struct route_params *p,
              struct api_response *resp);
void h_audit_list(struct api *a, const struct api_request *req, const struct route_params *p,
                  struct api_response *resp);
void h_healthz(struct api *a, const struct api_request *req, const struct route_params *p,
               struct api_response *resp);
void h_readyz(struct api *a, const struct api_request *req, const struct route_params *p,
              struct api_response *resp);
void h_ui(struct api *a, const struct api_request *req, const struct route_params *p,
          struct api_response *resp);
void h_root(struct api *a, const struct api_request *req, const struct route_params *p,
            struct api_response *resp);
void h_cluster_list(struct api *a, const struct api_request *req, const struct route_params *p,
                    struct api_response *resp);
void h_cluster_get(struct api *a, const struct api_request *req, const struct route_params *p,
                   struct api_response *resp);
void h_cluster_put(struct api *a, const struct api_request *req, const struct route_params *p,
                   struct api_response *resp);
void h_cluster_delete(struct api *a, const struct api_request *req, const struct route_params *p,
                      struct api_response *resp);
void h_cluster_cordon(struct api *a, const struct api_request *req, const struct route_params *p,
                      struct api_response *resp);
void h_cluster_uncordon(struct api *a, const struct api_request *req, const struct route_params *p,
                        struct api_response *resp);
void h_cluster_nodes(struct api *a, const struct api_request *req, const struct route_params *p,
                     struct api_response *resp);
void h_capacity(struct api *a, const struct api_request *req, const struct route_params *p,
                struct api_response *resp);
void h_metrics(struct api *a, const struct api_request *req, const struct route_params *p,
               struct api_response *resp);
void h_report_capacity(struct api *a, const struct api_request *req, const struct route_params *p,
                       struct api_response *resp);
void h_report_queue(struct api *a, const struct api_request *req, const struct route_params *p,
                    struct api_response *resp);
/* queue_routes.c */
struct whatif_memo *queue_views_new(void);
void queue_views_metrics(struct api *a, struct buf *out);
void h_queue_view(struct api *a, const struct api_request *req, const struct route_params *p,
                  struct api_response *resp);
void h_reclaim_list(struct api *a, const struct api_request *req, const struct route_params *p,
                    struct api_response *resp);
void h_quota_list(struct api *a, const struct api_request *req, const struct route_params *p,
                  struct api_response *resp);

/* Metrics store (metrics.c). */
struct api_metrics *metrics_new(void);
void metrics_free(struct api_metrics **m);
/* Counts one request. method is the raw HTTP method: outside GET, HEAD, POST, PUT,
 * DELETE, PATCH and OPTIONS it counts as "other". route must be a router template (or
 * "unmatched"), never the request's path. Thread-safe. */
void metrics_observe(struct api_metrics *m, const char *method, const char *route, int status,
                     int64_t duration_ns);
/* The method label for method: itself when it is one of the known methods above (a static
 * string), else "other". */
const char *metrics_method_label(const char *method);
/* Appends the request metrics in Prometheus text format to *out (a growing string). */
void metrics_render(struct api_metrics *m, struct buf *out);

#endif
