/* health.c -- /healthz (the process answers), /readyz (the database answers and the
 * schema is current) and /metrics. Both probes and /metrics need no token, so what they
 * say is fixed text: the database's own error (which names its host and port) goes to the
 * log, never into a body. */
#include "api/internal.h"

#include "api/leader.h"

#include "base/log.h"
#include "base/mem.h"
#include "base/prom.h"
#include "store/store.h"

#include <stdio.h>

void h_healthz(struct api *a, const struct api_request *req, const struct route_params *p,
               struct api_response *resp)
{
    (void)a;
    (void)req;
    (void)p;
    resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

void h_readyz(struct api *a, const struct api_request *req, const struct route_params *p,
              struct api_response *resp)
{
    struct err e = {0};

    (void)req;
    (void)p;
    if (store_ping(a->store, &e) || store_migrations_check(a->store, &e)) {
        bool schema = e.code == ERR_CONFIG; /* reachable, but migrations are not applied */
        json_t *body =
            json_pack("{s:s, s:{s:s, s:s}}", "status", "unavailable", "checks", "database",
                      schema ? "ok" : "unavailable", "migrations", schema ? "pending" : "unknown");

        /* Pending migrations are the normal state of a start; an unreachable database is
         * worth a warning. */
        LOG(schema ? LOG_INFO : LOG_WARN, "api",
            "readyz=unavailable component=%s code=%s msg=\"%s\"",
            schema ? "migrations" : "database", err_code_name(e.code), e.msg);
        snprintf(resp->retry_after, sizeof(resp->retry_after), "1");
        resp_json(resp, 503, body);
        return;
    }
    resp_json(resp, 200, json_pack("{s:s}", "status", "ready"));
}

void h_metrics(struct api *a, const struct api_request *req, const struct route_params *p,
               struct api_response *resp)
{
    struct buf out;
    int64_t counts[PHASE_COUNT];
    struct err e = {0};

    (void)req;
    (void)p;
    buf_init(&out, 0);
    metrics_render(a->metrics, &out);
    /* Jobs by phase come from the database; when it is down the series are left out and
     * fedsched_store_up says why, rather than failing the whole scrape. */
    if (store_job_counts(a->store, counts, &e) == 0) {
        buf_puts(&out, "# HELP fedsched_jobs Jobs by phase.\n# TYPE fedsched_jobs gauge\n");
        for (int i = 0; i < PHASE_COUNT; i++) {
            char phase[PROM_LABEL_MAX];

            buf_printf(&out, "fedsched_jobs{phase=\"%s\"} %lld\n",
                       prom_label(phase, sizeof(phase), job_phase_name((enum job_phase)i)),
                       (long long)counts[i]);
        }
    }
    clusters_metrics(a, &out);
    api_scheduler_metrics(a, &out);
    auth_metrics(a, &out);
    buf_printf(&out,
               "# HELP fedsched_store_up Whether the last database query of this scrape "
               "succeeded.\n# TYPE fedsched_store_up gauge\nfedsched_store_up %d\n",
               e.code == ERR_NONE ? 1 : 0);
    resp_text(resp, 200, "text/plain; version=0.0.4; charset=utf-8", buf_steal(&out));
}
