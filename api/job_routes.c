/* job_routes.c -- the TrainingJob endpoints: create, get (and watch), list (and its watch,
 * list_watch.c), cancel, events. */
#include "api/internal.h"

#include "api/list_token.h"
#include "api/list_watch.h"
#include "api/trainingjob.h"
#include "base/clock.h"
#include "base/mem.h"
#include "base/num.h"
#include "base/selector.h"
#include "base/sku.h"
#include "store/store.h"
#include "store/watch.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LIST_DEFAULT_LIMIT  100
#define LIST_MAX_LIMIT      1000
#define IDEMPOTENCY_KEY_MAX 128

static int check_path(const struct route_params *p, struct api_response *resp)
{
    struct err e = {0};

    if (p->ns && trainingjob_check_namespace(p->ns, &e)) {
        resp_error(resp, &e);
        return -1;
    }
    if (p->name && trainingjob_check_name(p->name, &e)) {
        /* A name that cannot exist is simply not found. */
        resp_errorf(resp, ERR_NOT_FOUND, NULL, "trainingjob %s/%s not found", p->ns, p->name);
        return -1;
    }
    return 0;
}

/* application/json, optionally with parameters ("; charset=utf-8"). */
static int is_json(const char *content_type)
{
    size_t n = strlen("application/json");

    return content_type && strncasecmp(content_type, "application/json", n) == 0 &&
           (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

static int check_idempotency_key(const char *key, struct api_response *resp)
{
    size_t len;

    if (!key)
        return 0;
    len = strlen(key);
    if (len == 0 || len > IDEMPOTENCY_KEY_MAX) {
        resp_errorf(resp, ERR_MALFORMED, "Idempotency-Key",
                    "Idempotency-Key must be 1..%d characters, got %zu", IDEMPOTENCY_KEY_MAX, len);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (!isgraph((unsigned char)key[i])) {
            resp_errorf(resp, ERR_MALFORMED, "Idempotency-Key",
                        "Idempotency-Key must be printable ASCII without spaces");
            return -1;
        }
    }
    return 0;
}

/* The query of POST .../trainingjobs: dryRun=All (Kubernetes' only dry-run mode) or
 * nothing. */
static int parse_create_query(const struct api_request *req, bool *dry_run, struct err *e)
{
    *dry_run = false;
    for (size_t i = 0; i < req->n_query; i++) { /* dryRun, once: the only one the route takes */
        const char *v = req->query[i].value ? req->query[i].value : "";

        if (strcmp(v, "All") != 0)
            return err_set(e, ERR_MALFORMED, "dryRun",
                           "dryRun must be \"All\" (the only dry-run mode), got \"%s\"", v);
        *dry_run = true;
    }
    return 0;
}

/* A dry-run create of in (parsed and admitted, not stored): what a POST would answer,
 * without writing anything. A job of that name (or Idempotency-Key) answers as the POST
 * would (200 with it when spec and labels are the same, else 409); a new one 200 (never
 * 201: nothing was created) with the job as it would be stored and, from a what-if cycle
 * with it queued now beside the live jobs, the figures a GET right after would carry
 * (queuePosition, estimatedStartTime, pendingReason; none without a scheduler on this
 * replica). The what-if takes the replica's one slot (queue_memo_begin()): while another
 * runs, 503 with Retry-After, so a flood of dry runs costs one what-if at a time. */
static void create_dry_run(struct api *a, const struct api_request *req, struct job *in,
                           struct api_response *resp)
{
    struct job *old = NULL;
    struct err e = {0};
    struct buf b;
    json_t *o, *f;

    if (a->explainer && !queue_memo_begin(a)) {
        resp_errorf(resp, ERR_UNAVAILABLE, NULL,
                    "another what-if is running on this replica; retry the dry run");
        return;
    }
    if (store_job_existing(a->store, in, req->idempotency_key, &old, &e)) {
        resp_error(resp, &e);
    } else if (old) {
        resp_job(resp, 200, old);
        job_free(&old);
    } else {
        in->created_ms = clock_realtime_ms();
        o = trainingjob_to_json(in);
        buf_init(&b, 0);
        if (a->explainer && a->explainer(a->explainer_arg, in->ns, in->name, in, &b, &e) == 0 &&
            (f = queue_figures(b.data, b.len))) {
            queue_figures_apply(o, f);
            json_decref(f);
        }
        buf_free(&b);
        resp_json(resp, 200, o);
    }
    if (a->explainer)
        queue_memo_end(a);
}

void h_job_create(struct api *a, const struct api_request *req, const struct route_params *p,
                  struct api_response *resp)
{
    struct job *in = NULL, *stored = NULL;
    struct store_audit audit;
    struct err e = {0};
    struct err_causes causes;
    bool created = false, dry_run;

    if (check_path(p, resp) || check_idempotency_key(req->idempotency_key, resp))
        return;
    if (parse_create_query(req, &dry_run, &e)) {
        resp_error(resp, &e);
        return;
    }
    if (!is_json(req->content_type)) {
        resp_errorf(resp, ERR_MEDIA_TYPE, "Content-Type",
                    "Content-Type must be application/json, got %s",
                    req->content_type ? req->content_type : "none");
        return;
    }
    /* A reference the namespace's rules do not allow is refused as Kubernetes admission
     * refuses a policy violation: 403, after the spec is known to be well formed. */
    if (trainingjob_parse_all(req->body ? req->body : "", req->body_len, p->ns, NULL, &in,
                              &causes)) {
        resp_error_causes(resp, causes.items, causes.n, causes.more);
        goto out;
    }
    if (trainingjob_check_tenant(in, a->cfg.tenants, &e)) {
        resp_error(resp, &e);
        goto out;
    }
    if (dry_run) {
        create_dry_run(a, req, in, resp);
        goto out;
    }
    /* 201 committed with the job; a replay's 200 written before we answer. */
    access_audit_row(req, p->ns, 201, 200, &audit);
    if (store_job_insert(a->store, in, req->idempotency_key, &audit, &created, &stored, &e)) {
        resp_error(resp, &e);
        goto out;
    }
    resp->audited = true;
    if (created)
        snprintf(resp->location, sizeof(resp->location), "/v1/namespaces/%s/trainingjobs/%s",
                 stored->ns, stored->name);
    resp_job(resp, created ? 201 : 200, stored);
out:
    job_free(&in);
    job_free(&stored);
}

#define WATCH_DEFAULT_S 60
#define WATCH_MAX_S     300

/* watch=true or false (1 or 0); *watch false when absent. Returns -1, a cause in c, when
 * it is neither. */
static int parse_watch_flag(const struct api_request *req, bool *watch, struct err_causes *c)
{
    const char *w = req_query(req, "watch");

    *watch = w && (strcmp(w, "true") == 0 || strcmp(w, "1") == 0);
    if (w && !*watch && strcmp(w, "false") != 0 && strcmp(w, "0") != 0) {
        err_causef(c, ERR_MALFORMED, "watch", "watch must be true or false, got \"%s\"", w);
        return -1;
    }
    return 0;
}

/* resourceVersion (the version the caller last saw: *after, -1 when absent) and
 * timeoutSeconds (1..max_s, *timeout_s = def_s when absent); each problem a cause in c. */
static void parse_watch_since(const struct api_request *req, int64_t *after, int *timeout_s,
                              int def_s, int max_s, struct err_causes *c)
{
    const char *rv = req_query(req, "resourceVersion"), *to = req_query(req, "timeoutSeconds");
    int64_t n;

    *after = -1;
    if (rv && *rv && num_parse_i64(rv, 0, INT64_MAX, after))
        err_causef(c, ERR_MALFORMED, "resourceVersion",
                   "resourceVersion \"%s\" is not a non-negative integer", rv);
    *timeout_s = def_s;
    if (to) {
        if (num_parse_i64(to, 1, max_s, &n))
            err_causef(c, ERR_MALFORMED, "timeoutSeconds",
                       "timeoutSeconds \"%s\" is not an integer in 1..%d", to, max_s);
        else
            *timeout_s = (int)n;
    }
}

/* ?watch=true&resourceVersion=N&timeoutSeconds=S: answers when the job's version passes
 * N (the version the caller last saw; default: the current one, i.e. the next change),
 * or with the unchanged job after S seconds. */
static void parse_watch(const struct api_request *req, bool *watch, int64_t *after, int *timeout_s,
                        struct err_causes *c)
{
    parse_watch_flag(req, watch, c);
    parse_watch_since(req, after, timeout_s, WATCH_DEFAULT_S, WATCH_MAX_S, c);
}

/* A queued job's answer to a plain GET: the job with status.queuePosition,
 * status.estimatedStartTime and, when it would wait, status.pendingReason from the
 * scheduler's what-if (explain's "queue" and "reason" members, the same computation), at
 * most a few seconds old (queue_memo.c). Without a scheduler on this replica, when the
 * what-if fails, or while another GET's what-if runs and this job has no recent figures,
 * the job as stored. */
static void resp_queued_job(struct api *a, const struct job *j, struct api_response *resp)
{
    char *members = a->explainer ? queue_memo_get(a, j) : NULL;
    struct buf b;

    buf_init(&b, 0);
    trainingjob_render_with(j, members, &b);
    free(members);
    resp_text(resp, 200, "application/json", buf_steal(&b));
}

/* A watch answers when the job's version passes the one the caller saw, or at its
 * deadline. Without a server to suspend the call (req->wait NULL) it answers at once. */
void h_job_get(struct api *a, const struct api_request *req, const struct route_params *p,
               struct api_response *resp)
{
    struct api_wait *w = req->wait;
    struct job *j = NULL;
    struct err e = {0};
    json_t *aside;
    bool watch;
    int64_t after;
    int timeout_s = WATCH_DEFAULT_S;

    if (check_path(p, resp))
        return;
    if (!w || !w->active) {
        struct err_causes causes = {0};

        parse_watch(req, &watch, &after, &timeout_s, &causes);
        if (api_causes_answer(&causes, resp))
            return;
    } else {
        watch = true;
        after = w->after_rv;
    }
    if (store_job_get(a->store, p->ns, p->name, &j, &e)) {
        resp_error(resp, &e);
        return;
    }
    if (watch && w && !w->active) {
        /* No version given: wait for the next change after the current one. */
        w->after_rv = after < 0 ? j->resource_version : after;
        w->deadline_ms = clock_realtime_ms() + (int64_t)timeout_s * 1000;
        if (api_watch_acquire(a, req, w, &e)) {
            job_free(&j);
            resp_error(resp, &e);
            return;
        }
        w->active = true;
    }
    if (watch && w && j->resource_version <= w->after_rv && !w->stopping &&
        clock_realtime_ms() < w->deadline_ms) {
        w->job_id = j->id;
        resp->wait = true;
        job_free(&j);
        return;
    }
    if (!watch && (aside = queue_aside_reason(j))) {
        /* Out of the policy's queue: why, without a what-if (it would not see the job). */
        json_t *o = trainingjob_to_json(j);

        json_object_set_new(json_object_get(o, "status"), "pendingReason", aside);
        resp_json(resp, 200, o);
    } else if (!watch && j->phase == PHASE_QUEUED) {
        resp_queued_job(a, j, resp);
    } else {
        resp_job(resp, 200, j);
    }
    job_free(&j);
}

void h_job_cancel(struct api *a, const struct api_request *req, const struct route_params *p,
                  struct api_response *resp)
{
    struct job *j = NULL;
    struct store_audit audit;
    struct err e = {0};
    bool marked = false;

    if (check_path(p, resp))
        return;
    /* 200: cancelled (now or before); 202: only marked, the job still has to be stopped in
     * its member cluster. The row is committed with the change, with the status answered. */
    access_audit_row(req, p->ns, 200, 202, &audit);
    if (store_job_cancel(a->store, p->ns, p->name, &audit, &marked, &j, &e)) {
        resp_error(resp, &e);
        return;
    }
    resp->audited = true;
    resp_job(resp, marked ? 202 : 200, j);
    job_free(&j);
}

void h_job_events(struct api *a, const struct api_request *req, const struct route_params *p,
                  struct api_response *resp)
{
    struct job_event *evs = NULL;
    size_t n = 0;
    struct err e = {0};
    json_t *items;

    (void)req;
    if (check_path(p, resp))
        return;
    if (store_job_events(a->store, p->ns, p->name, &evs, &n, &e)) {
        resp_error(resp, &e);
        return;
    }
    items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, trainingjob_event_to_json(&evs[i]));
    store_events_free(&evs, n);
    resp_json(resp, 200,
              json_pack("{s:s, s:s, s:o}", "apiVersion", "fedsched.io/v1", "kind",
                        "TrainingJobEventList", "items", items));
}

/* ---- list: filters and the opaque continue token ---- */

/* The token binds the cursor to the filters it was issued for (api/list_token.h). The
 * hash is the same as before list_token.c, so tokens handed out stay valid. */
static uint64_t filter_hash(const struct store_job_filter *f)
{
    char times[48];
    uint64_t h = LIST_TOKEN_HASH_INIT;

    snprintf(times, sizeof(times), "%" PRId64 "/%" PRId64, f->created_after_ms,
             f->created_before_ms);
    h = list_token_hash(h, f->ns, 0xff);
    h = list_token_hash(h, f->sku, 0xff);
    h = list_token_hash(h, f->labels_json, 0xff);
    h = list_token_hash(h, f->cluster, 0xff);
    h = list_token_hash(h, times, 0xff);
    for (size_t i = 0; i < f->n_namespaces; i++)
        h = list_token_hash(h, f->namespaces[i], 0xfe);
    /* Folded in only when newest first, so creation-order tokens keep their hash. */
    if (f->newest_first)
        h = list_token_hash(h, "newest", 0xfd);
    return (h ^ f->phase_mask) * 1099511628211ULL;
}

/* "k=v,k2=v2" -> {"k":"v","k2":"v2"}, read by the one selector parser (base/selector.h);
 * only equality here, as that is what the index serves. */
static json_t *parse_selector(const char *text, struct err *e)
{
    struct selector *sel = NULL;
    json_t *obj;

    if (selector_parse(text, "labelSelector", &sel, e))
        return NULL;
    obj = json_object();
    for (size_t i = 0; i < sel->n; i++) {
        if (sel->reqs[i].op != SELECTOR_EQ) {
            err_set(e, ERR_MALFORMED, "labelSelector",
                    "labelSelector \"%s\": requirement %zu on %s is not key=value (a list "
                    "supports only equality)",
                    text, i + 1, sel->reqs[i].key);
            json_decref(obj);
            obj = NULL;
            break;
        }
        json_object_set_new(obj, sel->reqs[i].key, json_string(sel->reqs[i].values[0]));
    }
    selector_free(&sel);
    return obj;
}

static int parse_phases(const char *s, unsigned *mask, struct err *e)
{
    char *copy = xstrdup(s), *save = NULL;

    *mask = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        enum job_phase ph;

        if (job_phase_parse(t, &ph)) {
            err_set(e, ERR_MALFORMED, "phase",
                    "unknown phase \"%s\"; phases are Queued, Admitted, Dispatched, Running, "
                    "Succeeded, Failed, Cancelled, Preempting, Lost",
                    t);
            free(copy);
            return -1;
        }
        *mask |= 1u << ph;
    }
    free(copy);
    return 0;
}

/* Reads every parameter of a list, each problem a cause in c. */
static void parse_list_query(const struct api_request *req, struct store_job_filter *f,
                             json_t **labels, struct err_causes *c)
{
    for (size_t i = 0; i < req->n_query; i++) {
        const char *k = req->query[i].key, *v = req->query[i].value ? req->query[i].value : "";
        struct err e;

        if (strcmp(k, "limit") == 0) {
            int64_t n;

            if (num_parse_i64(v, 1, LIST_MAX_LIMIT, &n))
                err_causef(c, ERR_MALFORMED, "limit", "limit \"%s\" is not an integer in 1..%d", v,
                           LIST_MAX_LIMIT);
            else
                f->limit = (int)n;
        } else if (strcmp(k, "order") == 0) {
            if (strcmp(v, "newest") != 0 && strcmp(v, "oldest") != 0)
                err_causef(c, ERR_MALFORMED, "order",
                           "order \"%s\" is neither oldest (creation order) nor newest", v);
            f->newest_first = strcmp(v, "newest") == 0;
        } else if (strcmp(k, "phase") == 0) {
            if (parse_phases(v, &f->phase_mask, &e))
                err_cause(c, &e);
        } else if (strcmp(k, "sku") == 0) {
            if (query_sku(v, &e))
                err_cause(c, &e);
            else
                f->sku = v;
        } else if (strcmp(k, "cluster") == 0) {
            f->cluster = v;
        } else if (strcmp(k, "createdAfter") == 0 || strcmp(k, "createdBefore") == 0) {
            int64_t ms;

            if (clock_parse_rfc3339(v, &ms))
                err_causef(c, ERR_MALFORMED, k,
                           "%s \"%s\" is not an RFC 3339 time (2026-11-28T02:15:38Z)", k, v);
            else if (k[7] == 'A')
                f->created_after_ms = ms;
            else
                f->created_before_ms = ms;
        } else if (strcmp(k, "labelSelector") == 0 && *v) {
            if (!(*labels = parse_selector(v, &e)))
                err_cause(c, &e);
        }
    }
}

/* ?watch=true&resourceVersion=N&timeoutSeconds=S&allowWatchBookmarks=true: the list's
 * watch. The three belong to a watch only, and a watch has no pages and no order. Each
 * problem is a cause in c. */
static void parse_list_watch(const struct api_request *req, bool *watch, struct list_watch_opts *o,
                             struct err_causes *c)
{
    const char *bm = req_query(req, "allowWatchBookmarks");
    static const char *const watch_only[] = {"resourceVersion", "timeoutSeconds",
                                             "allowWatchBookmarks"};
    static const char *const pages[] = {"limit", "continue", "order"};

    if (parse_watch_flag(req, watch, c))
        return;
    if (!*watch) {
        for (size_t i = 0; i < sizeof(watch_only) / sizeof(watch_only[0]); i++)
            if (req_query(req, watch_only[i]))
                err_causef(c, ERR_MALFORMED, watch_only[i], "%s applies only with watch=true",
                           watch_only[i]);
        return;
    }
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
        if (req_query(req, pages[i]))
            err_causef(c, ERR_MALFORMED, pages[i],
                       "a watch has no pages and no order: %s does not apply with watch=true",
                       pages[i]);
    parse_watch_since(req, &o->after_rv, &o->timeout_s, LIST_WATCH_DEFAULT_S, LIST_WATCH_MAX_S, c);
    o->bookmarks = bm && strcmp(bm, "true") == 0;
    if (bm && !o->bookmarks && strcmp(bm, "false") != 0)
        err_causef(c, ERR_MALFORMED, "allowWatchBookmarks",
                   "allowWatchBookmarks must be true or false, got \"%s\"", bm);
}

void h_job_list(struct api *a, const struct api_request *req, const struct route_params *p,
                struct api_response *resp)
{
    struct store_job_filter f = {.ns = p->ns, .limit = LIST_DEFAULT_LIMIT};
    json_t *labels = NULL;
    struct buf b;
    struct job **jobs = NULL;
    size_t n = 0;
    int64_t next = 0, version = 0;
    char *labels_text = NULL;
    const char *cont;
    struct list_watch_opts wo = {.after_rv = -1};
    struct err_causes causes = {0};
    bool watch = false;
    struct err e = {0};

    if (check_path(p, resp))
        return;
    /* Across namespaces, a token sees only those it may read. */
    if (!p->ns && req->who && req->who->role != ROLE_ADMIN && req->who->n_namespaces) {
        f.namespaces = (const char *const *)req->who->namespaces;
        f.n_namespaces = req->who->n_namespaces;
    }
    parse_list_query(req, &f, &labels, &causes);
    parse_list_watch(req, &watch, &wo, &causes);
    if (api_causes_answer(&causes, resp))
        goto out;
    if (labels)
        f.labels_json = labels_text = json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS);
    if (watch) {
        list_watch_start(a, req, &f, &wo, resp);
        goto out;
    }
    if ((cont = req_query(req, "continue")) && *cont &&
        list_token_decode(cont, filter_hash(&f), &f.after_id)) {
        resp_errorf(resp, ERR_MALFORMED, "continue",
                    "continue token is invalid or was issued for other filters");
        goto out;
    }
    /* The version is read first, so a watch from it sees every change the list missed. */
    if (store_jobs_version(a->store, &version, &e) ||
        store_job_list(a->store, &f, &jobs, &n, &next, &e)) {
        resp_error(resp, &e);
        goto out;
    }
    /* The list is written as text: a page of 1,000 jobs is never built as a tree. */
    buf_init(&b, 0);
    buf_printf(&b,
               "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJobList\","
               "\"metadata\":{\"resourceVersion\":\"%" PRId64 "\"",
               version);
    if (next) {
        char tok[128];

        list_token_encode(next, filter_hash(&f), tok, sizeof(tok));
        buf_puts(&b, ",\"continue\":");
        buf_json_str(&b, tok);
    }
    buf_puts(&b, "},\"items\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_puts(&b, ",");
        trainingjob_render(jobs[i], &b);
    }
    buf_puts(&b, "]}");
    resp_text(resp, 200, "application/json", buf_steal(&b));
out:
    store_jobs_free(&jobs, n);
    json_decref(labels);
    free(labels_text);
}
