/* bulk_routes.c -- job sets: cancel, hold, release and reprioritise every TrainingJob a label
 * selector matches (POST .../trainingjobs:cancel?labelSelector=...), in one namespace or,
 * for admins, in all; and PATCH of one job's spec.scheduling.priority (merge patch). Each
 * call is one transaction with its audit row (store/bulk.h); the answer lists what changed
 * and what did not and why, so a repeated call is seen to change nothing. */
#include "api/internal.h"

#include "api/trainingjob.h"
#include "base/job.h"
#include "base/selector.h"
#include "store/bulk.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const op_names[] = {"cancel", "hold", "release", "reprioritize"};

/* type, with parameters ("; charset=utf-8") allowed after it. */
static bool media_is(const char *content_type, const char *type)
{
    size_t n = strlen(type);

    return content_type && strncasecmp(content_type, type, n) == 0 &&
           (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

/* The body as a JSON object, after the checks run on every JSON body (trainingjob.h). */
static json_t *body_object(const struct api_request *req, struct err *e)
{
    json_error_t je;
    json_t *o;

    if (!req->body || req->body_len == 0) {
        err_set(e, ERR_MALFORMED, NULL, "the body is empty; a JSON object is required");
        return NULL;
    }
    if (api_json_prescan(req->body, req->body_len, e))
        return NULL;
    o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        err_set(e, ERR_MALFORMED, NULL, "the body is not JSON: %s at line %d column %d", je.text,
                je.line, je.column);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        err_set(e, ERR_MALFORMED, NULL, "the body must be a JSON object");
        return NULL;
    }
    return o;
}

/* A priority as spec validation holds it: an integer in JOB_PRIORITY_MIN..MAX. */
static int check_priority(const json_t *v, const char *field, int *out, struct err *e)
{
    json_int_t n;

    if (!v)
        return err_set(e, ERR_INVALID, field, "%s is required", field);
    if (json_is_null(v))
        return err_set(e, ERR_INVALID, field, "%s cannot be removed", field);
    if (!json_is_integer(v))
        return err_set(e, ERR_MALFORMED, field, "%s must be an integer", field);
    n = json_integer_value(v);
    if (n < JOB_PRIORITY_MIN || n > JOB_PRIORITY_MAX)
        return err_set(e, ERR_INVALID, field, "%s %lld is out of range %d..%d", field, (long long)n,
                       JOB_PRIORITY_MIN, JOB_PRIORITY_MAX);
    *out = (int)n;
    return 0;
}

/* :reprioritize's body, {"priority": N}; the other operations take none (or {}). */
static int parse_body(const struct api_request *req, enum store_bulk_op op, int *priority,
                      struct err *e)
{
    json_t *o;
    const char *k;
    json_t *v;
    int rc = 0;

    if (op != STORE_BULK_PRIORITY && (!req->body || req->body_len == 0))
        return 0;
    if (!media_is(req->content_type, "application/json"))
        return err_set(e, ERR_MEDIA_TYPE, "Content-Type",
                       "Content-Type must be application/json, got %s",
                       req->content_type ? req->content_type : "none");
    if (!(o = body_object(req, e)))
        return -1;
    json_object_foreach(o, k, v)
    {
        if (op != STORE_BULK_PRIORITY || strcmp(k, "priority") != 0) {
            rc = err_set(e, ERR_MALFORMED, k, "unknown field \"%s\"; %s", k,
                         op == STORE_BULK_PRIORITY ? "the body is {\"priority\": N}"
                                                   : "this operation takes no body");
            break;
        }
    }
    if (rc == 0 && op == STORE_BULK_PRIORITY)
        rc = check_priority(json_object_get(o, "priority"), "priority", priority, e);
    json_decref(o);
    return rc;
}

/* labelSelector, required and non-empty: a set cannot be everything by omission. */
static int parse_query(const struct api_request *req, struct selector **sel, struct err *e)
{
    const char *text = req_query(req, "labelSelector");

    if (!text)
        return err_set(e, ERR_MALFORMED, "labelSelector",
                       "labelSelector is required (for example labelSelector=app%%3Dtrain)");
    if (selector_parse(text, "labelSelector", sel, e))
        return -1;
    if ((*sel)->n == 0) {
        selector_free(sel);
        return err_set(e, ERR_MALFORMED, "labelSelector",
                       "labelSelector \"%s\" is empty; it must select something", text);
    }
    return 0;
}

static json_t *value_json(enum store_bulk_op op, const char *v)
{
    switch (op) {
    case STORE_BULK_CANCEL: return json_string(v);
    case STORE_BULK_HOLD:
    case STORE_BULK_RELEASE: return json_boolean(strcmp(v, "true") == 0);
    case STORE_BULK_PRIORITY: break;
    }
    return json_integer(strtol(v, NULL, 10));
}

static json_t *items_json(enum store_bulk_op op, const struct store_bulk_item *v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "namespace", v[i].ns, "name", v[i].name,
                              "uid", v[i].uid, "from", value_json(op, v[i].from));

        if (v[i].to)
            json_object_set_new(o, "to", value_json(op, v[i].to));
        else
            json_object_set_new(o, "reason", json_string(v[i].reason));
        json_array_append_new(a, o);
    }
    return a;
}

static void bulk(struct api *a, const struct api_request *req, const struct route_params *p,
                 enum store_bulk_op op, struct api_response *resp)
{
    struct store_bulk_target t = {.ns = p->ns};
    struct store_bulk_result res = {0};
    struct selector *sel = NULL;
    struct store_audit audit;
    struct err e = {0};
    int priority = 0;

    if ((p->ns && trainingjob_check_namespace(p->ns, &e)) || parse_query(req, &sel, &e) ||
        parse_body(req, op, &priority, &e)) {
        resp_error(resp, &e);
        goto out;
    }
    t.sel = sel;
    /* The route without a namespace is for admins; a caller of fewer namespaces that got
     * here anyway is held to them, as the list is. */
    if (!p->ns && req->who && req->who->role != ROLE_ADMIN) {
        t.namespaces = (const char *const *)req->who->namespaces;
        t.n_namespaces = req->who->n_namespaces;
    }
    access_audit_row(req, p->ns, 200, 200, &audit);
    if (store_bulk_apply(a->store, op, &t, priority, &audit, &res, &e)) {
        resp_error(resp, &e);
        goto out;
    }
    resp->audited = true;
    resp_json(resp, 200,
              json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:o}", "apiVersion", "fedsched.io/v1",
                        "kind", "TrainingJobBulkResult", "operation", op_names[op], "labelSelector",
                        req_query(req, "labelSelector"), "matched", (json_int_t)res.matched,
                        "changed", items_json(op, res.changed, res.n_changed), "unchanged",
                        items_json(op, res.unchanged, res.n_unchanged)));
out:
    store_bulk_result_clear(&res);
    selector_free(&sel);
}

void h_job_bulk_cancel(struct api *a, const struct api_request *req, const struct route_params *p,
                       struct api_response *resp)
{
    bulk(a, req, p, STORE_BULK_CANCEL, resp);
}

void h_job_bulk_hold(struct api *a, const struct api_request *req, const struct route_params *p,
                     struct api_response *resp)
{
    bulk(a, req, p, STORE_BULK_HOLD, resp);
}

void h_job_bulk_release(struct api *a, const struct api_request *req, const struct route_params *p,
                        struct api_response *resp)
{
    bulk(a, req, p, STORE_BULK_RELEASE, resp);
}

void h_job_bulk_reprioritize(struct api *a, const struct api_request *req,
                             const struct route_params *p, struct api_response *resp)
{
    bulk(a, req, p, STORE_BULK_PRIORITY, resp);
}

/* The merge patch may only set spec.scheduling.priority: any other member, at any level,
 * is refused naming its path. *priority is set when the patch sets it. */
static int parse_patch(const json_t *o, bool *set, int *priority, struct err *e)
{
    static const char *const path[] = {"spec", "scheduling", "priority"};
    char field[128] = "";
    const json_t *cur = o;

    *set = false;
    for (int depth = 0; depth < 3; depth++) {
        const char *k;
        json_t *v;
        size_t used = strlen(field);

        json_object_foreach((json_t *)cur, k, v)
        {
            if (strcmp(k, path[depth]) != 0) {
                snprintf(field + used, sizeof(field) - used, "%s%s", used ? "." : "", k);
                return err_set(e, ERR_INVALID, field,
                               "%s may not be patched; only spec.scheduling.priority may change",
                               field);
            }
        }
        snprintf(field + used, sizeof(field) - used, "%s%s", used ? "." : "", path[depth]);
        v = json_object_get(cur, path[depth]);
        if (!v)
            return 0; /* an empty patch changes nothing */
        if (depth == 2)
            break;
        if (!json_is_object(v))
            return err_set(e, ERR_INVALID, field, "%s must be an object in the patch", field);
        cur = v;
    }
    *set = true;
    return check_priority(json_object_get(cur, "priority"), field, priority, e);
}

void h_job_patch(struct api *a, const struct api_request *req, const struct route_params *p,
                 struct api_response *resp)
{
    struct store_bulk_target t = {.ns = p->ns, .name = p->name};
    struct store_bulk_result res = {0};
    struct store_audit audit;
    struct job *j = NULL;
    json_t *o = NULL;
    struct err e = {0};
    int priority = 0;
    bool set;

    if (trainingjob_check_namespace(p->ns, &e)) {
        resp_error(resp, &e);
        return;
    }
    if (trainingjob_check_name(p->name, &e)) {
        resp_errorf(resp, ERR_NOT_FOUND, NULL, "trainingjob %s/%s not found", p->ns, p->name);
        return;
    }
    if (!media_is(req->content_type, "application/merge-patch+json")) {
        resp_errorf(resp, ERR_MEDIA_TYPE, "Content-Type",
                    "Content-Type must be application/merge-patch+json, got %s",
                    req->content_type ? req->content_type : "none");
        return;
    }
    if (!(o = body_object(req, &e)) || parse_patch(o, &set, &priority, &e)) {
        resp_error(resp, &e);
        goto out;
    }
    if (set) {
        access_audit_row(req, p->ns, 200, 200, &audit);
        if (store_bulk_apply(a->store, STORE_BULK_PRIORITY, &t, priority, &audit, &res, &e)) {
            resp_error(resp, &e);
            goto out;
        }
        resp->audited = true;
    }
    if (store_job_get(a->store, p->ns, p->name, &j, &e)) {
        resp_error(resp, &e);
        goto out;
    }
    resp_job(resp, 200, j);
out:
    job_free(&j);
    store_bulk_result_clear(&res);
    json_decref(o);
}
