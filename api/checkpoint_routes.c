/* checkpoint_routes.c -- the checkpoint channel. POST .../trainingjobs/{name}/checkpoint: a
 * running job reports that it wrote a checkpoint, so a reclaim loses only the work since then
 * (the policy chooses victims by that loss). GET of the same path: whether fedsched asks the
 * job to checkpoint now (a checkpoint-first reclaim, docs/scheduler.md), and by when. The body is optional: {"time": "RFC 3339"} when the checkpoint
 * was written earlier than the request. Who may call it is settled before the handler
 * runs, the same for both: the namespace's submitters and admins, and the job's own checkpoint
 * token from inside its pods (access_authorize_job() in access.c checks that the token's uid
 * is this job's). */
#include "api/internal.h"

#include "api/trainingjob.h"
#include "base/clock.h"
#include "base/job.h"
#include "store/live_jobs.h"
#include "store/store.h"

#include <string.h>

#define CHECKPOINT_BODY_MAX 4096

void h_job_checkpoint(struct api *a, const struct api_request *req, const struct route_params *p,
                      struct api_response *resp)
{
    struct err e = {0};
    struct store_audit audit;
    struct job *j = NULL;
    int64_t at_ms = 0;

    if (trainingjob_check_namespace(p->ns, &e)) {
        resp_error(resp, &e);
        return;
    }
    if (trainingjob_check_name(p->name, &e)) {
        resp_errorf(resp, ERR_NOT_FOUND, NULL, "trainingjob %s/%s not found", p->ns, p->name);
        return;
    }
    if (req->body && req->body_len) {
        json_error_t je;
        json_t *body, *time;
        const char *key;
        json_t *v;

        if (req->body_len > CHECKPOINT_BODY_MAX) {
            resp_errorf(resp, ERR_TOO_LARGE, NULL, "checkpoint body over %d bytes",
                        CHECKPOINT_BODY_MAX);
            return;
        }
        body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(body)) {
            json_decref(body);
            resp_errorf(resp, ERR_MALFORMED, NULL, "checkpoint body is not a JSON object: %s",
                        je.text);
            return;
        }
        json_object_foreach(body, key, v)
        {
            if (strcmp(key, "time") != 0) {
                resp_errorf(resp, ERR_MALFORMED, key, "%s: unknown field \"%s\"", key, key);
                json_decref(body);
                return;
            }
        }
        time = json_object_get(body, "time");
        if (time &&
            (!json_is_string(time) || clock_parse_rfc3339(json_string_value(time), &at_ms))) {
            resp_errorf(resp, ERR_INVALID, "time", "time: must be an RFC 3339 timestamp");
            json_decref(body);
            return;
        }
        json_decref(body);
    }
    access_audit_row(req, p->ns, 200, 200, &audit);
    if (store_job_checkpoint(a->store, p->ns, p->name, at_ms, &audit, &j, &e)) {
        resp_error(resp, &e);
        return;
    }
    resp->audited = true; /* committed with the checkpoint */
    resp_job(resp, 200, j);
    job_free(&j);
}

/* The request stands while the job is Preempting with a checkpoint request; the pod has
 * answered it once lastCheckpointTime is at or after requestedAt. */
void h_job_checkpoint_request(struct api *a, const struct api_request *req,
                              const struct route_params *p, struct api_response *resp)
{
    struct err e = {0};
    struct job *j = NULL;
    json_t *body;
    char t[40];

    (void)req;
    if (trainingjob_check_namespace(p->ns, &e)) {
        resp_error(resp, &e);
        return;
    }
    if (trainingjob_check_name(p->name, &e)) {
        resp_errorf(resp, ERR_NOT_FOUND, NULL, "trainingjob %s/%s not found", p->ns, p->name);
        return;
    }
    if (store_job_get(a->store, p->ns, p->name, &j, &e)) {
        resp_error(resp, &e);
        return;
    }
    body = json_pack("{s:b, s:s}", "requested",
                     j->phase == PHASE_PREEMPTING && j->checkpoint_requested_ms > 0, "phase",
                     job_phase_name(j->phase));
    if (j->checkpoint_requested_ms > 0) {
        clock_format_rfc3339(j->checkpoint_requested_ms, t, sizeof(t));
        json_object_set_new(body, "requestedAt", json_string(t));
    }
    if (j->checkpoint_deadline_ms > 0) {
        clock_format_rfc3339(j->checkpoint_deadline_ms, t, sizeof(t));
        json_object_set_new(body, "deadline", json_string(t));
    }
    if (j->last_checkpoint_ms > 0) {
        clock_format_rfc3339(j->last_checkpoint_ms, t, sizeof(t));
        json_object_set_new(body, "lastCheckpointTime", json_string(t));
    }
    job_free(&j);
    resp_json(resp, 200, body);
}
