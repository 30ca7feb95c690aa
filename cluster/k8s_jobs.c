/* k8s_jobs.c -- synchronous Job/RayJob calls against a member cluster's API server. */
#include "cluster/k8s_jobs.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "cluster/credentials.h"
#include "cluster/k8s_json.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JOBS_BODY_MAX ((size_t)64 << 20)

struct k8s_client {
    struct cluster_config cfg;
    CURL *easy;
    struct curl_slist *headers;
    struct cluster_token token;
    struct cluster_ca ca;
    struct buf body;
    struct k8s_json json; /* reused to read a created object's uid */
    int timeout_ms;
    int retry_after_s; /* the last answer's Retry-After (delta-seconds); 0: none */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct k8s_client *c = arg;

    return buf_append(&c->body, data, size * n) == 0 ? size * n : 0;
}

/* Keeps the Retry-After of the answer (delta-seconds only, capped at an hour; an HTTP-date
 * counts as none and the caller falls back to its own back-off). */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct k8s_client *c = arg;
    size_t len = size * n;

    if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
        long secs = 0;
        size_t i = 12;

        while (i < len && (data[i] == ' ' || data[i] == '\t'))
            i++;
        if (i < len && data[i] >= '0' && data[i] <= '9') {
            for (; i < len && data[i] >= '0' && data[i] <= '9' && secs <= 3600; i++)
                secs = secs * 10 + (data[i] - '0');
            c->retry_after_s = secs > 3600 ? 3600 : (int)secs;
        }
    }
    return len;
}

/* Re-reads the token file when it is new or changed (tokens are rotated in place) and
 * rebuilds the headers around it; re-reads the CA bundle when it changed. Both come from
 * the secrets directory, checked again on every call. */
static int load_token(struct k8s_client *c, struct err *e)
{
    bool changed, ca_changed;

    if (cluster_token_refresh(&c->token, c->cfg.token_file, &changed, e) ||
        cluster_tls_refresh(&c->ca, &c->cfg, &ca_changed, e))
        return -1;
    if (changed) {
        curl_slist_free_all(c->headers);
        c->headers = cluster_token_headers(&c->token);
    }
    return 0;
}

int k8s_client_new(const struct cluster_config *cfg, int timeout_ms, struct k8s_client **out,
                   struct err *e)
{
    struct k8s_client *c;

    pthread_once(&curl_once, curl_init_once);
    c = xcalloc(1, sizeof(*c));
    c->cfg = *cfg;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    buf_init(&c->body, JOBS_BODY_MAX);
    k8s_json_init(&c->json);
    c->easy = curl_easy_init();
    if (!c->easy) {
        free(c);
        return err_set(e, ERR_INTERNAL, NULL, "curl_easy_init failed");
    }
    if (load_token(c, e) != 0) {
        k8s_client_free(&c);
        return -1;
    }
    if (cfg->insecure_skip_tls_verify)
        LOG(LOG_WARN, "cluster",
            "cluster=%s event=insecure_tls msg=\"TLS verification is off (development only)\"",
            cfg->name);
    *out = c;
    return 0;
}

void k8s_client_free(struct k8s_client **cp)
{
    struct k8s_client *c;

    if (!cp || !*cp)
        return;
    c = *cp;
    if (c->easy)
        curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->headers);
    cluster_token_clear(&c->token);
    cluster_ca_clear(&c->ca);
    buf_free(&c->body);
    k8s_json_free(&c->json);
    free(c);
    *cp = NULL;
}

int k8s_client_retry_after_s(const struct k8s_client *c)
{
    return c ? c->retry_after_s : 0;
}

static const struct {
    const char *name, *path, *plural;
    bool cluster_scoped;
} kinds[] = {
    [K8S_KIND_JOB] = {"Job", "apis/batch/v1", "jobs", false},
    [K8S_KIND_RAYJOB] = {"RayJob", "apis/ray.io/v1", "rayjobs", false},
    [K8S_KIND_SERVICE] = {"Service", "api/v1", "services", false},
    [K8S_KIND_SECRET] = {"Secret", "api/v1", "secrets", false},
    [K8S_KIND_NAMESPACE] = {"Namespace", "api/v1", "namespaces", true},
    [K8S_KIND_POD] = {"Pod", "api/v1", "pods", false},
};

const char *k8s_kind_name(enum k8s_job_kind kind)
{
    return kinds[kind].name;
}

/* {server}/{group path}[/namespaces/{ns}]/{plural}: ns NULL lists across namespaces. */
static char *collection_url(struct k8s_client *c, enum k8s_job_kind kind, const char *ns)
{
    char *ens, *url;

    if (!ns || kinds[kind].cluster_scoped)
        return xasprintf("%s/%s/%s", c->cfg.api_server, kinds[kind].path, kinds[kind].plural);
    ens = curl_easy_escape(c->easy, ns, 0);
    url = xasprintf("%s/%s/namespaces/%s/%s", c->cfg.api_server, kinds[kind].path, ens,
                    kinds[kind].plural);
    curl_free(ens);
    return url;
}

/* One request with a body of type ctype (NULL: application/json). Returns 0 with *code the
 * HTTP status (any), -1 on transport failure. */
static int request_as(struct k8s_client *c, const char *method, const char *url, const char *ctype,
                      const char *body, long *code, struct err *e)
{
    char ctype_hdr[96];

    struct curl_slist *hdrs = NULL, *h;
    CURLcode rc;

    if (load_token(c, e) != 0)
        return -1;
    curl_easy_reset(c->easy);
    buf_reset(&c->body);
    c->retry_after_s = 0;
    for (h = c->headers; h; h = h->next)
        hdrs = curl_slist_append(hdrs, h->data);
    snprintf(ctype_hdr, sizeof(ctype_hdr), "Content-Type: %s", ctype ? ctype : "application/json");
    if (body)
        hdrs = curl_slist_append(hdrs, ctype_hdr);
    curl_easy_setopt(c->easy, CURLOPT_URL, url);
    curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(c->timeout_ms < 3000 ? c->timeout_ms : 3000));
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    if (body) {
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    cluster_ca_apply(&c->ca, c->easy); /* read by us; curl_easy_reset() dropped it */
    if (c->cfg.insecure_skip_tls_verify) {
        curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    rc = curl_easy_perform(c->easy);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK)
        return err_set(e, rc == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT : ERR_UNAVAILABLE, NULL,
                       "%s %s: %s", method, url, curl_easy_strerror(rc));
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, code);
    return 0;
}

static int request(struct k8s_client *c, const char *method, const char *url, const char *body,
                   long *code, struct err *e)
{
    return request_as(c, method, url, NULL, body, code, e);
}

int k8s_client_call(struct k8s_client *c, const char *method, const char *path, const char *body,
                    long *status, const char **resp, size_t *len, struct err *e)
{
    char *url = xasprintf("%s%s", c->cfg.api_server, path);
    int rc = request(c, method, url, body, status, e);

    free(url);
    if (rc)
        return -1;
    *resp = c->body.data ? c->body.data : "";
    *len = c->body.len;
    return 0;
}

/* Turns a non-2xx answer into an error. */
static int status_error(struct k8s_client *c, long code, struct k8s_status *st, struct err *e)
{
    struct k8s_status tmp;

    k8s_status_read(c->body.data, c->body.len, (int)code, &tmp);
    if (st)
        *st = tmp;
    return k8s_status_err(&tmp, e);
}

/* request(), with any answer but a 2xx turned into an error (and *st, when given). */
static int request_2xx(struct k8s_client *c, const char *method, const char *url, const char *body,
                       struct k8s_status *st, struct err *e)
{
    long code = 0;

    if (request(c, method, url, body, &code, e) != 0)
        return -1;
    if (code < 200 || code > 299)
        return status_error(c, code, st, e);
    return 0;
}

static int parse_body(struct k8s_client *c, json_t **out, struct err *e)
{
    json_error_t je;
    json_t *j = json_loadb(c->body.data ? c->body.data : "", c->body.len, 0, &je);

    if (!j)
        return err_set(e, ERR_MALFORMED, "body", "cluster %s answered with malformed JSON: %s",
                       c->cfg.name, je.text);
    *out = j;
    return 0;
}

static char *object_url(struct k8s_client *c, enum k8s_job_kind kind, const char *ns,
                        const char *name)
{
    char *base = collection_url(c, kind, ns), *ename, *url;

    if (!name)
        return base;
    ename = curl_easy_escape(c->easy, name, 0);
    url = xasprintf("%s/%s", base, ename);
    curl_free(ename);
    free(base);
    return url;
}

/* The created object's metadata.uid, read from the answer without building its tree: the
 * answer echoes the whole object, pod template and all, and the uid is all a create needs. */
static int created_uid(struct k8s_client *c, char *uid, size_t size, struct err *e)
{
    struct err pe = {0};
    int tok;

    if (k8s_json_parse(&c->json, c->body.data ? c->body.data : "", c->body.len, K8S_JSON_MAX_DEPTH,
                       &pe))
        return err_set(e, ERR_MALFORMED, "body", "cluster %s answered with malformed JSON: %s",
                       c->cfg.name, pe.msg);
    tok = k8s_json_path(&c->json, 0, "metadata", "uid", K8S_JSON_END);
    if (k8s_json_type(&c->json, tok) != K8S_JSON_STRING ||
        k8s_json_str(&c->json, tok, uid, size) >= (long)size)
        return err_set(e, ERR_MALFORMED, "body",
                       "cluster %s answered a create without a readable metadata.uid", c->cfg.name);
    return 0;
}

int k8s_job_create(struct k8s_client *c, enum k8s_job_kind kind, const char *ns, const json_t *obj,
                   char *uid, size_t uid_size, struct k8s_status *st, struct err *e)
{
    char *url = object_url(c, kind, ns, NULL);
    char *body = json_dumps(obj, JSON_COMPACT);
    int rc = -1;

    if (!body) {
        err_set(e, ERR_INVALID, "object", "the object cannot be encoded as JSON");
        goto out;
    }
    if (request_2xx(c, "POST", url, body, st, e) != 0)
        goto out;
    if (uid && created_uid(c, uid, uid_size, e) != 0)
        goto out;
    rc = 0;
out:
    free(body);
    free(url);
    return rc;
}

int k8s_job_get(struct k8s_client *c, enum k8s_job_kind kind, const char *ns, const char *name,
                json_t **out, struct k8s_status *st, struct err *e)
{
    char *url = object_url(c, kind, ns, name);
    long code = 0;
    int rc = -1;

    if (request(c, "GET", url, NULL, &code, e) != 0)
        goto out;
    if (code != 200) {
        status_error(c, code, st, e);
        goto out;
    }
    rc = parse_body(c, out, e);
out:
    free(url);
    return rc;
}

int k8s_job_list(struct k8s_client *c, enum k8s_job_kind kind, const char *ns,
                 const char *label_selector, json_t **items, struct err *e)
{
    json_t *all = json_array();
    char *cont = NULL, *base, *sel = NULL;
    int restarts = 0, rc = -1;

    base = collection_url(c, kind, ns);
    if (label_selector)
        sel = curl_easy_escape(c->easy, label_selector, 0);
    for (;;) {
        char *ec = cont ? curl_easy_escape(c->easy, cont, 0) : NULL;
        char *url = xasprintf("%s?limit=500%s%s%s%s", base, sel ? "&labelSelector=" : "",
                              sel ? sel : "", ec ? "&continue=" : "", ec ? ec : "");
        json_t *page = NULL, *arr;
        const char *next;
        long code = 0;
        size_t i;
        json_t *it;

        curl_free(ec);
        if (request(c, "GET", url, NULL, &code, e) != 0) {
            free(url);
            goto out;
        }
        free(url);
        if (code == 410 && cont && restarts++ == 0) {
            json_array_clear(all); /* the token expired: list again from the start */
            free(cont);
            cont = NULL;
            continue;
        }
        if (code != 200) {
            status_error(c, code, NULL, e);
            goto out;
        }
        if (parse_body(c, &page, e) != 0)
            goto out;
        arr = json_object_get(page, "items");
        json_array_foreach(arr, i, it)
        {
            json_array_append(all, it);
        }
        next = json_string_value(json_object_get(json_object_get(page, "metadata"), "continue"));
        free(cont);
        cont = next && *next ? xstrdup(next) : NULL;
        json_decref(page);
        if (!cont)
            break;
    }
    *items = all;
    all = NULL;
    rc = 0;
out:
    json_decref(all);
    free(cont);
    free(base);
    curl_free(sel);
    return rc;
}

int k8s_job_delete(struct k8s_client *c, enum k8s_job_kind kind, const char *ns, const char *name,
                   const char *propagation, int grace_s, struct k8s_status *st, struct err *e)
{
    char *obj = object_url(c, kind, ns, name);
    char *url;
    char grace[48] = "";
    int rc;

    if (grace_s >= 0)
        snprintf(grace, sizeof(grace), "&gracePeriodSeconds=%d", grace_s);
    url = xasprintf("%s?propagationPolicy=%s%s", obj, propagation ? propagation : "Background",
                    grace);
    rc = request_2xx(c, "DELETE", url, NULL, st, e);
    free(url);
    free(obj);
    return rc;
}

int k8s_job_annotate(struct k8s_client *c, enum k8s_job_kind kind, const char *ns, const char *name,
                     const char *key, const char *value, struct k8s_status *st, struct err *e)
{
    json_t *patch = json_pack("{s:{s:{s:o}}}", "metadata", "annotations", key,
                              value ? json_string(value) : json_null());
    char *url = object_url(c, kind, ns, name), *body = json_dumps(patch, JSON_COMPACT);
    long code = 0;
    int rc = -1;

    if (!body)
        abort(); /* only out of memory */
    if (request_as(c, "PATCH", url, "application/merge-patch+json", body, &code, e))
        goto out;
    if (code < 200 || code > 299) {
        status_error(c, code, st, e);
        goto out;
    }
    rc = 0;
out:
    free(body);
    free(url);
    json_decref(patch);
    return rc;
}

static bool condition_true(const json_t *obj, const char *type, char *reason, size_t size)
{
    const json_t *c;
    size_t i;

    json_array_foreach(json_object_get(json_object_get(obj, "status"), "conditions"), i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *s = json_string_value(json_object_get(c, "status"));

        if (t && s && strcmp(t, type) == 0 && strcmp(s, "True") == 0) {
            const char *r = json_string_value(json_object_get(c, "reason"));

            snprintf(reason, size, "%s", r ? r : "");
            return true;
        }
    }
    return false;
}

static bool is(const char *s, const char *want)
{
    return s && strcmp(s, want) == 0;
}

/* KubeRay (ray.io/v1) reports two things: jobStatus, the Ray job's own state from the
 * dashboard ("", PENDING, RUNNING, STOPPED, SUCCEEDED, FAILED; SCHEDULED for cron RayJobs),
 * and jobDeploymentStatus, the operator's progress ("", Initializing, Running, Complete,
 * Failed, Suspending, Suspended, Retrying, Waiting, Scheduling, Scheduled,
 * ValidationFailed). Complete only says the Ray job reached a terminal jobStatus, whichever
 * it was, so it never decides success on its own; and while the operator is retrying or
 * suspending, jobStatus may still hold the previous attempt's terminal value. */
static enum k8s_job_state rayjob_state(const json_t *st, char *reason, size_t reason_size)
{
    const char *js = json_string_value(json_object_get(st, "jobStatus"));
    const char *ds = json_string_value(json_object_get(st, "jobDeploymentStatus"));
    const char *why = json_string_value(json_object_get(st, "reason"));
    static const char *const not_running[] = {"Initializing", "Suspending", "Suspended", "Retrying",
                                              "Waiting",      "Scheduling", "Scheduled"};

    if (is(ds, "ValidationFailed")) {
        snprintf(reason, reason_size, "%s", "ValidationFailed");
        return K8S_JOB_FAILED;
    }
    for (size_t i = 0; i < sizeof(not_running) / sizeof(not_running[0]); i++)
        if (is(ds, not_running[i])) {
            snprintf(reason, reason_size, "%s", ds);
            return K8S_JOB_PENDING;
        }
    if (is(js, "SUCCEEDED"))
        return K8S_JOB_SUCCEEDED;
    /* The operator's own failures (DeadlineExceeded, SubmissionFailed, ...) win over the
     * job's: a deadline stops the Ray job, which must not read as a user's stop. */
    if (is(ds, "Failed") || is(js, "FAILED")) {
        snprintf(reason, reason_size, "%s", why && *why ? why : "Failed");
        return K8S_JOB_FAILED;
    }
    if (is(js, "STOPPED")) {
        snprintf(reason, reason_size, "%s", "Stopped");
        return K8S_JOB_STOPPED;
    }
    if (is(ds, "Complete")) {
        /* Terminal by the operator's word, with no outcome we recognise: not a success. */
        snprintf(reason, reason_size, "%s", "NoJobStatus");
        return K8S_JOB_FAILED;
    }
    return is(js, "RUNNING") ? K8S_JOB_RUNNING : K8S_JOB_PENDING;
}

enum k8s_job_state k8s_job_state_of(enum k8s_job_kind kind, const json_t *obj, char *reason,
                                    size_t reason_size)
{
    const json_t *st = json_object_get(obj, "status");

    snprintf(reason, reason_size, "%s", "");
    if (kind == K8S_KIND_JOB) {
        json_int_t active = json_integer_value(json_object_get(st, "active"));
        json_int_t ready = json_integer_value(json_object_get(st, "ready"));

        if (condition_true(obj, "Complete", reason, reason_size))
            return K8S_JOB_SUCCEEDED;
        if (condition_true(obj, "Failed", reason, reason_size))
            return K8S_JOB_FAILED;
        return active > 0 && ready >= active ? K8S_JOB_RUNNING : K8S_JOB_PENDING;
    }
    return rayjob_state(st, reason, reason_size);
}

const char *k8s_job_state_name(enum k8s_job_state s)
{
    switch (s) {
    case K8S_JOB_PENDING: return "Pending";
    case K8S_JOB_RUNNING: return "Running";
    case K8S_JOB_SUCCEEDED: return "Succeeded";
    case K8S_JOB_FAILED: return "Failed";
    case K8S_JOB_STOPPED: return "Stopped";
    }
    return "Pending";
}

/* The position of finalizer in obj's metadata.finalizers; -1 when absent. */
static long finalizer_index(const json_t *obj, const char *finalizer)
{
    const json_t *fin = json_object_get(json_object_get(obj, "metadata"), "finalizers"), *f;
    size_t i;

    json_array_foreach(fin, i, f)
    {
        if (json_is_string(f) && strcmp(json_string_value(f), finalizer) == 0)
            return (long)i;
    }
    return -1;
}

/* At most this many PATCHes per release: each refused test means another controller
 * changed the list in between, which is rare. */
#define RELEASE_TRIES 3

/* label as a JSON pointer segment (RFC 6901: ~ is ~0, / is ~1). */
static void pointer_segment(const char *label, char *out, size_t size)
{
    size_t n = 0;

    for (; *label && n + 3 < size; label++) {
        if (*label == '~' || *label == '/') {
            out[n++] = '~';
            out[n++] = *label == '~' ? '0' : '1';
        } else {
            out[n++] = *label;
        }
    }
    out[n] = '\0';
}

int k8s_job_release(struct k8s_client *c, enum k8s_job_kind kind, const char *ns, const char *name,
                    const json_t *seen, const char *finalizer, const char *label,
                    struct k8s_status *st, struct err *e)
{
    char seg[160] = "";
    char *url = object_url(c, kind, ns, name), *patch = NULL;
    json_t *fresh = NULL;
    const json_t *obj = seen;
    int rc = -1;
    long at, code = 0;

    for (int tries = 0; tries < RELEASE_TRIES; tries++) {
        if (!obj) {
            if (k8s_job_get(c, kind, ns, name, &fresh, st, e))
                goto out;
            obj = fresh;
        }
        at = finalizer_index(obj, finalizer);
        if (at < 0) {
            rc = 0;
            goto out;
        }
        /* The test makes the remove apply only to our entry: had another controller added
         * or removed a finalizer since obj was read, the index would point elsewhere. */
        free(patch);
        seg[0] = '\0';
        if (label && json_is_object(json_object_get(json_object_get(obj, "metadata"), "labels")))
            pointer_segment(label, seg, sizeof(seg));
        patch = xasprintf("[{\"op\":\"test\",\"path\":\"/metadata/finalizers/%ld\",\"value\":"
                          "\"%s\"},{\"op\":\"remove\",\"path\":\"/metadata/finalizers/%ld\"}"
                          "%s%s%s]",
                          at, finalizer, at,
                          seg[0] ? ",{\"op\":\"add\",\"path\":\"/metadata/labels/" : "", seg,
                          seg[0] ? "\",\"value\":\"true\"}" : "");
        if (request_as(c, "PATCH", url, "application/json-patch+json", patch, &code, e))
            goto out;
        if (code >= 200 && code <= 299) {
            rc = 0;
            goto out;
        }
        if (code != 422 && code != 409) {
            status_error(c, code, st, e);
            goto out;
        }
        json_decref(fresh);
        fresh = NULL;
        obj = NULL;
    }
    err_set(e, ERR_CONFLICT, "metadata.finalizers",
            "%s %s/%s: the finalizers kept changing; %s not removed", k8s_kind_name(kind), ns, name,
            finalizer);
out:
    free(patch);
    json_decref(fresh);
    free(url);
    return rc;
}
