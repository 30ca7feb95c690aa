/* health_routes.c -- /healthz (the process answers) and /readyz (the database answers, the
 * schema is current and the cluster registry has been read). Both probes (like /metrics)
 * need no token, so what they say is fixed text: the database's own error (which names its
 * host and port) goes to the log, never into a body. */
#include "api/internal.h"

#include "base/log.h"
#include "base/mem.h"
#include "base/prom.h"
#include "cluster/poller.h"
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

/* The fixed 503 body: what each check says, and the API's error envelope. */
static void not_ready(struct api_response *resp, const char *database, const char *migrations,
                      bool clusters, const char *message)
{
    snprintf(resp->retry_after, sizeof(resp->retry_after), "1");
    resp_json(resp, 503,
              json_pack("{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s}}", "status", "unavailable", "checks",
                        "database", database, "migrations", migrations, "clusters",
                        clusters ? "ok" : "pending", "error", "code",
                        err_code_name(ERR_UNAVAILABLE), "message", message));
}

void h_readyz(struct api *a, const struct api_request *req, const struct route_params *p,
              struct api_response *resp)
{
    /* A replica that has not read the cluster registry yet would answer "no clusters" on
     * every capacity view and report: not ready until its first cluster set is published. */
    bool clusters = !a->poller || poller_loaded(a->poller);
    struct err e = {0};

    (void)req;
    (void)p;
    if (store_ping(a->store, &e) || store_migrations_check(a->store, &e)) {
        bool schema = e.code == ERR_CONFIG; /* reachable, but migrations are not applied */

        /* Pending migrations are the normal state of a start; an unreachable database is
         * worth a warning. */
        LOG(schema ? LOG_INFO : LOG_WARN, "api",
            "readyz=unavailable component=%s code=%s msg=\"%s\"",
            schema ? "migrations" : "database", err_code_name(e.code), e.msg);
        if (schema)
            not_ready(resp, "ok", "pending", clusters, "not ready: migrations are pending");
        else
            not_ready(resp, "unavailable", "unknown", clusters,
                      "not ready: the database is unavailable");
        return;
    }
    if (!clusters) {
        LOG(LOG_INFO, "api", "readyz=unavailable component=clusters msg=\"registry not read yet\"");
        not_ready(resp, "ok", "ok", false, "not ready: the cluster registry has not been read yet");
        return;
    }
    resp_json(resp, 200, json_pack("{s:s}", "status", "ready"));
}
