/* internal.h -- what api/ files share: the api struct, response helpers, routing,
 * metrics. Not included outside api/. */
#ifndef API_INTERNAL_H
#define API_INTERNAL_H

#include <jansson.h>
#include <stdarg.h>

#include "api/api.h"
#include "base/buf.h"
#include "base/err.h"

struct api_metrics;

struct api {
    struct api_config cfg;
    struct store *store;
    struct api_metrics *metrics;
    struct poller *poller;              /* NULL until api_attach_clusters() */
    const struct sku_catalogue *skus;   /* catalogue for cluster configs */
    const struct policy_config *policy; /* knobs for explain's what-if cycle; NULL: defaults */
    void (*clusters_changed)(void *arg);
    void *clusters_changed_arg;
};

/* Path parameters captured by the router. */
struct route_params {
    const char *ns;
    const char *name;
    char buf[512]; /* backing store for ns and name */
};

typedef void (*api_handler)(struct api *a, const struct api_request *req,
                            const struct route_params *p, struct api_response *resp);

/* Finds the handler for method + path. Returns 0 with *h set; or fills resp with 404
 * (no such path) or 405 (path exists, method does not; Allow set) and returns -1. */
int api_route(const char *method, const char *path, api_handler *h, struct route_params *p,
              struct api_response *resp);

/* HTTP status for an err code. */
int api_status_for(enum err_code code);

/* Responses. resp_json steals the reference to body. */
void resp_json(struct api_response *resp, int status, json_t *body);
void resp_text(struct api_response *resp, int status, const char *content_type, char *body);
void resp_error(struct api_response *resp, const struct err *e);
void resp_errorf(struct api_response *resp, enum err_code code, const char *field, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

/* Value of query argument key, or NULL. */
const char *req_query(const struct api_request *req, const char *key);

/* Handlers. */
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
void h_job_explain(struct api *a, const struct api_request *req, const struct route_params *p,
                   struct api_response *resp);
void h_job_checkpoint(struct api *a, const struct api_request *req, const struct route_params *p,
                      struct api_response *resp);
void h_leader(struct api *a, const struct api_request *req, const struct route_params *p,
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
void h_capacity(struct api *a, const struct api_request *req, const struct route_params *p,
                struct api_response *resp);
/* Appends the connector's metrics when a poller is attached. */
void clusters_metrics(struct api *a, struct buf *out);
void h_metrics(struct api *a, const struct api_request *req, const struct route_params *p,
               struct api_response *resp);
void h_report_capacity(struct api *a, const struct api_request *req, const struct route_params *p,
                       struct api_response *resp);
void h_report_queue(struct api *a, const struct api_request *req, const struct route_params *p,
                    struct api_response *resp);

/* Metrics store (metrics.c). */
struct api_metrics *metrics_new(void);
void metrics_free(struct api_metrics **m);
void metrics_observe(struct api_metrics *m, const char *method, const char *route, int status,
                     int64_t duration_ns);
/* Appends the request metrics in Prometheus text format to *out (a growing string). */
void metrics_render(struct api_metrics *m, struct buf *out);

#endif
