/* cli.c -- the client verbs (submit, get, list, cancel, wait, explain, logs-url, report,
 * events, completion):
 * command lines in, REST calls out, tables or JSON on stdout, reasons on stderr. */
#include "client/cli.h"

#include "base/wire.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/num.h"
#include "client/cli_bulk.h"
#include "client/cli_cluster.h"
#include "client/cli_completion.h"
#include "client/cli_http.h"
#include "client/cli_out.h"
#include "client/yaml.h"
#include "client/yaml_emit.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_URL       "http://127.0.0.1:8080"
#define DEFAULT_RETRY_MS  (60 * 1000)
#define REQUEST_TIMEOUT_S 60
#define WATCH_MAX_S       60
#define POLL_MIN_MS       1000
#define POLL_MAX_MS       10000
#define LAST_LOOK_S       5 /* the GET at a wait's deadline that says why the job waits */
/* A waiting job's reason is looked up again at most this often: each look may cost the
 * server a what-if (one at a time, reused for 10 s), and a pipeline's log needs no more. */
#define RECHECK_MS (5 * 60 * 1000)
/* The same with --fail-if-unschedulable, which needs the figures a plain GET carries: the
 * server reuses a job's for 10 s, so this costs it no more what-ifs. */
#define RECHECK_FAST_MS (10 * 1000)
#define JOB_FILE_MAX    (1024 * 1024)

struct opts {
    const char *url, *token, *ns, *output, *file, *phase, *sku, *selector;
    const char *from, *to, *step, *format, *out, *idem_key, *cluster, *pool;
    int64_t timeout_ms; /* 0: none */
    int64_t retry_ms;
    int limit;
    bool wait, dry_run, all_pages, newest, ns_given, quiet, verbose;
    bool fail_unschedulable; /* wait: stop when the job can never start (exit 6) */
};

struct ctx {
    struct opts o;
    struct cli_http *http;
    const char *verb;
};

static const char *const verbs[] = {"submit", "get",    "list",      "queue",   "cancel",
                                    "wait",   "hold",   "release",   "explain", "logs-url",
                                    "report", "events", "completion"};

bool cli_is_verb(const char *name)
{
    if (cli_cluster_is_verb(name))
        return true;
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strcmp(name, verbs[i]) == 0)
            return true;
    return false;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: fedsched <verb> [options]\n"
        "verbs:\n"
        "  submit -f job.yaml [--wait [--timeout 2h]]  submit TrainingJobs, one per YAML or "
        "JSON document\n"
        "  submit -f job.yaml --dry-run                  check them and say where each would "
        "stand,\n"
        "                                                creating nothing\n"
        "  get NAME                                      one job\n"
        "  events NAME                                   the job's events, oldest first\n"
        "  list [--phase P,...] [--sku S] [-l k=v] [--limit N] [--all] [--newest]\n"
        "  queue [--sku S] [--limit N]                   queued jobs in the policy's order: "
        "place,\n"
        "                                                estimated start, why each waits\n"
        "  cancel NAME | -l SELECTOR                     cancel a job, or every job the label\n"
        "                                                selector matches in the namespace\n"
        "  hold -l SELECTOR                              keep the matched jobs from being "
        "placed\n"
        "  release -l SELECTOR                           let held jobs be placed again\n"
        "  wait NAME [--timeout 2h]                      until the job ends; exit 0 on "
        "Succeeded\n"
        "      [--fail-if-unschedulable]                 (also submit --wait) exit 6 at once if "
        "it\n"
        "                                                can never start as the federation "
        "stands\n"
        "  explain NAME                                  why pending / why this cluster\n"
        "  logs-url NAME                                 kubectl command (and URL) for the logs\n"
        "  report [--from T] [--to T] [--step D] [--format csv|json|md|html] [--out FILE]\n"
        "      [--cluster C,..] [--sku S,..] [--pool training|serving]  only these rows\n"
        "  completion bash|zsh                           print a shell completion script\n"
        "options:\n"
        "  -n, --namespace NS   namespace (default $FEDSCHED_NAMESPACE or \"default\"; list: "
        "all)\n"
        "  -o, --output FMT     table (default), wide, json, yaml or name\n"
        "      --url URL        API base URL (default $FEDSCHED_URL or %s)\n"
        "      --token TOKEN    bearer token (default $FEDSCHED_TOKEN)\n"
        "      --retry-for D    keep retrying network errors and 503s this long (default 60s)\n"
        "      --idempotency-key K  key for submit (default: a new random key per run)\n"
        "  -q, --quiet          no progress lines on stderr\n"
        "  -v, --verbose        say when a request is retried\n"
        "exit codes: 0 ok/Succeeded, 1 job Failed or Cancelled, 2 usage, 3 API error,\n"
        "            4 API unreachable, 5 timeout, 6 never starts (--fail-if-unschedulable)\n",
        DEFAULT_URL);
}

/* ---- helpers ---- */

static const char *jstr(json_t *o, const char *path)
{
    char key[64];
    const char *dot;

    while ((dot = strchr(path, '.')) != NULL) {
        snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
        o = json_object_get(o, key);
        path = dot + 1;
    }
    o = json_object_get(o, path);
    return json_is_string(o) ? json_string_value(o) : NULL;
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

/* A span of d seconds as "42s", "17m", "5h" or "3d". */
static void span_text(int64_t d, char *out, size_t size)
{
    if (d < 0)
        d = 0;
    if (d < 120)
        snprintf(out, size, "%" PRId64 "s", d);
    else if (d < 7200)
        snprintf(out, size, "%" PRId64 "m", d / 60);
    else if (d < 172800)
        snprintf(out, size, "%" PRId64 "h", d / 3600);
    else
        snprintf(out, size, "%" PRId64 "d", d / 86400);
}

static void age_text(const char *rfc3339, char *out, size_t size)
{
    int64_t t;

    if (!rfc3339 || clock_parse_rfc3339(rfc3339, &t)) {
        snprintf(out, size, "-");
        return;
    }
    span_text((clock_realtime_ms() - t) / 1000, out, size);
}

static const char *const job_header[] = {"NAMESPACE", "NAME", "PHASE", "SKU",    "GPUS",
                                         "CLUSTER",   "POOL", "AGE",   "MESSAGE"};
/* -o wide: the same, then priority, attempt, preemptions and reason before the message. */
static const char *const job_header_wide[] = {
    "NAMESPACE", "NAME",     "PHASE",   "SKU",         "GPUS",   "CLUSTER", "POOL",
    "AGE",       "PRIORITY", "ATTEMPT", "PREEMPTIONS", "REASON", "MESSAGE"};
/* list: queue position and estimated start before the message. */
static const char *const list_header[] = {"NAMESPACE", "NAME",    "PHASE",  "SKU",
                                          "GPUS",      "CLUSTER", "POOL",   "AGE",
                                          "POSITION",  "ETA",     "MESSAGE"};
static const char *const list_header_wide[] = {
    "NAMESPACE", "NAME",    "PHASE",       "SKU",    "GPUS",     "CLUSTER", "POOL",   "AGE",
    "PRIORITY",  "ATTEMPT", "PREEMPTIONS", "REASON", "POSITION", "ETA",     "MESSAGE"};
#define LIST_COLS      11
#define LIST_COLS_WIDE 15
/* list takes the position, ETA and reason of queued jobs from one queue view of at most
 * LIST_VIEW_MAX jobs (GET /v1/queue); from a server without it, from explain for at most
 * LIST_ETA_MAX: each answer costs the server a simulation (docs/scheduler.md, "Queue
 * position and estimated start"). */
#define LIST_VIEW_MAX 1000
#define LIST_ETA_MAX  20

static bool wide(const struct ctx *c)
{
    return strcmp(c->o.output, "wide") == 0;
}

static void int_cell(json_t *v, char *out, size_t size)
{
    if (json_is_integer(v))
        snprintf(out, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        snprintf(out, size, "-");
}

/* An estimated start (RFC 3339, or NULL when there is none) as ETA: "now", "in 2h";
 * without one "never" when why (the answer's noEstimate) says no GPU that frees up can take
 * the job, else "?" (the simulation stopped at its cap). */
static void eta_text(const char *start, const char *why, char *eta, size_t eta_size)
{
    int64_t t;

    if (!start && why && strcmp(why, "never") == 0)
        snprintf(eta, eta_size, "never");
    else if (!start || clock_parse_rfc3339(start, &t))
        snprintf(eta, eta_size, "?");
    else if (t <= clock_realtime_ms() + 1000)
        snprintf(eta, eta_size, "now");
    else {
        char span[24];

        span_text((t - clock_realtime_ms()) / 1000, span, sizeof(span));
        snprintf(eta, eta_size, "in %s", span);
    }
}

/* An estimate as a sentence's end: "in 2h", or why there is none. */
static const char *no_estimate_text(const char *eta)
{
    if (strcmp(eta, "never") == 0)
        return "never as the federation stands: no GPU that frees up can take it";
    if (strcmp(eta, "?") == 0)
        return "unknown: the simulation stopped at its cap before placing it";
    return eta;
}

/* POSITION and ETA from q, explain's queue object ("-" without one; "never" or "?" when
 * the estimate is null). */
static void queue_cells(json_t *q, char *pos, size_t pos_size, char *eta, size_t eta_size)
{
    int_cell(json_object_get(q, "position"), pos, pos_size);
    if (q)
        eta_text(jstr(q, "estimatedStart"), jstr(q, "noEstimate"), eta, eta_size);
    else
        snprintf(eta, eta_size, "-");
}

/* Why queued job j waits: x's reason when x (its explanation) says it is pending, else
 * the status.pendingReason a GET of one queued job carries; NULL for a job not known to
 * wait. */
static json_t *pending_reason(json_t *j, json_t *x)
{
    const char *status = jstr(x, "status");

    if (status && strcmp(status, "pending") == 0 && json_is_object(json_object_get(x, "reason")))
        return json_object_get(x, "reason");
    return json_object_get(json_object_get(j, "status"), "pendingReason");
}

/* One row of t: 9 columns, 13 for -o wide; list's tables (11, 15) add POSITION and ETA
 * before the message, from x (the explanation of a queued job; NULL: "-"). A queued job
 * that waits shows why in REASON and MESSAGE (pending_reason()). */
static void job_row_queue(struct cli_table *t, json_t *j, json_t *x)
{
    json_t *res = json_object_get(json_object_get(j, "spec"), "resources");
    json_t *st = json_object_get(j, "status"), *pend = pending_reason(j, x);
    bool w = t->ncols == 13 || t->ncols == LIST_COLS_WIDE;
    bool list = t->ncols == LIST_COLS || t->ncols == LIST_COLS_WIDE;
    char gpus[24], age[24], prio[24], attempt[24], preempt[24], pos[24], eta[32];
    const char *cells[LIST_COLS_WIDE], *reason = jstr(j, "status.reason");
    const char *message = jstr(j, "status.message");
    size_t n = 0;

    if (pend && ((!reason && !message) || strcmp(or_dash(jstr(st, "phase")), "Queued") == 0)) {
        /* Why it waits now, rather than why it was last requeued (that is in its events). */
        reason = jstr(pend, "reason");
        message = jstr(pend, "message");
    }
    snprintf(gpus, sizeof(gpus), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(res, "gpuCount")));
    age_text(jstr(j, "metadata.creationTimestamp"), age, sizeof(age));
    cells[n++] = jstr(j, "metadata.namespace");
    cells[n++] = jstr(j, "metadata.name");
    cells[n++] = jstr(j, "status.phase");
    cells[n++] = jstr(res, "instanceType");
    cells[n++] = gpus;
    cells[n++] = or_dash(jstr(j, "status.cluster"));
    cells[n++] = or_dash(jstr(j, "status.pool"));
    cells[n++] = age;
    if (w) {
        int_cell(
            json_object_get(json_object_get(json_object_get(j, "spec"), "scheduling"), "priority"),
            prio, sizeof(prio));
        int_cell(json_object_get(st, "attempt"), attempt, sizeof(attempt));
        int_cell(json_object_get(st, "preemptions"), preempt, sizeof(preempt));
        cells[n++] = prio;
        cells[n++] = attempt;
        cells[n++] = preempt;
        cells[n++] = or_dash(reason);
    }
    if (list) {
        queue_cells(json_object_get(x, "queue"), pos, sizeof(pos), eta, sizeof(eta));
        cells[n++] = pos;
        cells[n++] = eta;
    }
    cells[n++] = or_dash(message);
    cli_table_row(t, cells);
}

static void job_row(struct cli_table *t, json_t *j)
{
    job_row_queue(t, j, NULL);
}

/* A new job table with its header, narrow or wide as -o says. */
static struct cli_table job_table(const struct ctx *c)
{
    struct cli_table t = {.ncols = wide(c) ? 13 : 9};

    cli_table_row(&t, wide(c) ? job_header_wide : job_header);
    return t;
}

/* -o json, yaml or name: the API's object as it came (name: metadata.name, or each item's
 * of a list). Returns false for the table outputs. */
static bool print_doc(const struct ctx *c, json_t *v)
{
    if (strcmp(c->o.output, "yaml") == 0) {
        char *text = yaml_emit(v);

        fputs(text, stdout);
        free(text);
    } else if (strcmp(c->o.output, "name") == 0) {
        json_t *items = json_object_get(v, "items"), *it;
        size_t i;

        if (!items)
            printf("%s\n", or_dash(jstr(v, "metadata.name")));
        json_array_foreach(items, i, it)
        {
            printf("%s\n", or_dash(jstr(it, "metadata.name")));
        }
    } else if (strcmp(c->o.output, "json") == 0) {
        cli_print_json(v);
    } else {
        return false;
    }
    return true;
}

/* Reports a request that got no answer; returns the exit code. */
static int transport_failure(struct ctx *c, const char *what, const struct err *e)
{
    fprintf(stderr, "fedsched: %s %s: cannot reach the API: %s\n", c->verb, what, e->msg);
    return e->code == ERR_UNAVAILABLE ? CLI_EXIT_UNREACHABLE : CLI_EXIT_API;
}

/* Reports a non-2xx reply; returns the exit code. */
static int reply_failure(struct ctx *c, const char *what, const struct cli_http_reply *r)
{
    char text[4096];

    cli_http_error_text(r, text, sizeof(text));
    fprintf(stderr, "fedsched: %s %s: %s\n", c->verb, what, text);
    if (r->status == 401)
        fprintf(stderr, "fedsched: hint: set FEDSCHED_TOKEN (or --token) to a valid API token\n");
    if (r->status == 404 && strstr(r->body, "no such path"))
        fprintf(stderr, "fedsched: hint: this server does not offer that endpoint (older "
                        "version?) or FEDSCHED_URL points elsewhere\n");
    return CLI_EXIT_API;
}

/* GET/DELETE/POST path and parse a JSON reply. On success *out holds it (caller
 * json_decref()s) and *status the HTTP status. */
static int call_json(struct ctx *c, const char *method, const char *path, const char *body,
                     const char *idem_key, const char *what, long *status, json_t **out)
{
    struct cli_http_reply r = {0};
    struct err e = {0};
    json_t *v;
    int rc;

    if (cli_http_do(c->http, method, path, body, idem_key, REQUEST_TIMEOUT_S, &r, &e))
        return transport_failure(c, what, &e);
    if (r.status < 200 || r.status > 299) {
        rc = reply_failure(c, what, &r);
        cli_http_reply_clear(&r);
        return rc;
    }
    v = json_loads(r.body, 0, NULL);
    if (!v) {
        fprintf(stderr, "fedsched: %s %s: HTTP %ld but the reply is not JSON: %.200s\n", c->verb,
                what, r.status, r.body);
        cli_http_reply_clear(&r);
        return CLI_EXIT_API;
    }
    *status = r.status;
    *out = v;
    cli_http_reply_clear(&r);
    return CLI_EXIT_OK;
}

static char *job_path(const char *ns, const char *name, const char *suffix)
{
    struct buf b;

    buf_init(&b, 0);
    buf_puts(&b, "/v1/namespaces/");
    buf_url_escape(&b, ns);
    buf_puts(&b, "/trainingjobs");
    if (name) {
        buf_puts(&b, "/");
        buf_url_escape(&b, name);
    }
    buf_puts(&b, suffix ? suffix : "");
    return buf_steal(&b);
}

/* method on the job ns/name (path suffix appended), as call_json(); what receives
 * "ns/name" for the messages. */
static int call_job(struct ctx *c, const char *method, const char *name, const char *suffix,
                    char *what, size_t what_size, long *status, json_t **out)
{
    char *path = job_path(c->o.ns, name, suffix);
    int rc;

    snprintf(what, what_size, "%s/%s", c->o.ns, name);
    rc = call_json(c, method, path, NULL, NULL, what, status, out);
    free(path);
    return rc;
}

/* ---- wait ---- */

static bool terminal(const char *phase)
{
    return phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0 ||
                     strcmp(phase, "Cancelled") == 0);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (ms > 0 && nanosleep(&ts, &ts) != 0)
        ;
}

/* One progress line: the phase, the cluster, and the message, or for a queued job that
 * waits the reason and its message ("Queued, never_fits: h100-80gb: needs ..."). */
static void progress(struct ctx *c, const char *ns, const char *name, json_t *j)
{
    const char *cluster = jstr(j, "status.cluster"), *msg = jstr(j, "status.message");
    const char *why = msg ? NULL : jstr(j, "status.pendingReason.reason");
    char t[40];

    if (c->o.quiet)
        return;
    if (why)
        msg = jstr(j, "status.pendingReason.message");
    clock_format_rfc3339(clock_realtime_ms(), t, sizeof(t));
    fprintf(stderr, "%s %s/%s %s%s%s%s%s%s%s\n", t, ns, name, or_dash(jstr(j, "status.phase")),
            cluster ? " in " : "", cluster ? cluster : "", why ? ", " : "", why ? why : "",
            msg ? ": " : "", msg ? msg : "");
}

/* Waits for ns/name to reach a final phase, with the watch long-poll when the server
 * answers it and polling with back-off otherwise. While the job is queued, a watch that
 * ends with no change is followed by a plain GET, whose status.pendingReason says why it
 * waits, when the last plain GET is RECHECK_MS old and at the deadline: a new reason is
 * printed, and the last one is in the timeout's message. deadline_ms is on the monotonic
 * clock, 0 for none. */
static int wait_job(struct ctx *c, const char *ns, const char *name, int64_t deadline_ms)
{
    char *plain = job_path(ns, name, NULL), last_phase[32] = "", last_why[64] = "";
    char why_text[512] = "";
    int64_t rv = -1, poll_ms = POLL_MIN_MS, looked_ms = 0;
    bool watch_ok = true, recheck = false;
    int rc = CLI_EXIT_API;

    for (;;) {
        int64_t now = clock_mono_ms(), left = deadline_ms ? deadline_ms - now : INT64_MAX;
        int64_t recheck_ms = c->o.fail_unschedulable ? RECHECK_FAST_MS : RECHECK_MS;
        long cap_s = c->o.fail_unschedulable ? RECHECK_FAST_MS / 1000 : WATCH_MAX_S;
        long watch_s = left / 1000 < cap_s ? (long)(left / 1000) : cap_s;
        struct cli_http_reply r = {0};
        struct err e = {0};
        char path[1200], what[300];
        const char *phase, *rvs, *why;
        json_t *j;
        int64_t new_rv = -1;
        bool used_watch = watch_ok && rv >= 0 && watch_s >= 1 && !recheck;
        bool last_look = recheck && deadline_ms && left <= 0; /* why it still waits */

        recheck = false;
        if (deadline_ms && left <= 0 && !last_look) {
            fprintf(stderr,
                    "fedsched: wait %s/%s: timed out; the job is still %s%s%s%s (waiting "
                    "stopped, not the job; cancel it with 'fedsched cancel -n %s %s')\n",
                    ns, name, last_phase[0] ? last_phase : "unknown", last_why[0] ? ", " : "",
                    last_why, why_text, ns, name);
            rc = CLI_EXIT_TIMEOUT;
            goto out;
        }
        if (used_watch)
            snprintf(path, sizeof(path),
                     "%s?watch=true&resourceVersion=%" PRId64 "&timeoutSeconds=%ld", plain, rv,
                     watch_s);
        else
            snprintf(path, sizeof(path), "%s", plain);
        snprintf(what, sizeof(what), "%s/%s", ns, name);
        /* Network errors and 503s are retried until the deadline: a server restart
         * during a long wait is routine, not a failure. */
        cli_http_set_retry(c->http, deadline_ms ? left : INT64_MAX / 4);
        if (cli_http_do(c->http, "GET", path, NULL, NULL,
                        used_watch  ? watch_s + 15
                        : last_look ? LAST_LOOK_S
                                    : 30,
                        &r, &e)) {
            if (last_look ||
                (e.code == ERR_UNAVAILABLE && deadline_ms && clock_mono_ms() >= deadline_ms))
                continue; /* report it as the timeout it is */
            rc = transport_failure(c, what, &e);
            goto out;
        }
        if (r.status == 400 && used_watch) {
            /* A server without watch rejects the parameters: poll instead. */
            watch_ok = false;
            cli_http_reply_clear(&r);
            continue;
        }
        if (r.status != 200 && last_look) {
            cli_http_reply_clear(&r);
            continue;
        }
        if (r.status != 200) {
            rc = reply_failure(c, what, &r);
            cli_http_reply_clear(&r);
            goto out;
        }
        j = json_loads(r.body, 0, NULL);
        cli_http_reply_clear(&r);
        phase = jstr(j, "status.phase");
        rvs = jstr(j, "metadata.resourceVersion");
        if (!j || !phase) {
            fprintf(stderr, "fedsched: wait %s: the reply is not a TrainingJob\n", what);
            json_decref(j);
            goto out;
        }
        if (rvs)
            num_parse_i64(rvs, 0, INT64_MAX, &new_rv);
        why = strcmp(phase, "Queued") == 0 ? jstr(j, "status.pendingReason.reason") : NULL;
        if (strcmp(phase, last_phase) != 0 || (why && strcmp(why, last_why) != 0)) {
            progress(c, ns, name, j);
            snprintf(last_phase, sizeof(last_phase), "%s", phase);
            poll_ms = POLL_MIN_MS;
        }
        if (why || strcmp(phase, "Queued") != 0) {
            const char *m = why ? jstr(j, "status.pendingReason.message") : NULL;

            snprintf(last_why, sizeof(last_why), "%s", why ? why : "");
            snprintf(why_text, sizeof(why_text), "%s%s", m ? ": " : "", m ? m : "");
        }
        if (c->o.fail_unschedulable && strcmp(phase, "Queued") == 0 &&
            strcmp(or_dash(jstr(j, "status.noEstimate")), "never") == 0) {
            fprintf(stderr,
                    "fedsched: wait %s: the job can never start as the federation stands%s%s%s "
                    "(it stays queued; cancel it with 'fedsched cancel -n %s %s')\n",
                    what, last_why[0] ? ", " : "", last_why, why_text, ns, name);
            rc = CLI_EXIT_UNSCHEDULABLE;
            json_decref(j);
            goto out;
        }
        if (!used_watch)
            looked_ms = clock_mono_ms();
        recheck = used_watch && new_rv == rv && strcmp(phase, "Queued") == 0 &&
                  (clock_mono_ms() - looked_ms >= recheck_ms ||
                   (deadline_ms && clock_mono_ms() >= deadline_ms));
        if (terminal(phase)) {
            if (strcmp(phase, "Succeeded") == 0) {
                rc = CLI_EXIT_OK;
            } else {
                fprintf(stderr, "fedsched: job %s %s: %s: %s\n", what, phase,
                        or_dash(jstr(j, "status.reason")), or_dash(jstr(j, "status.message")));
                rc = CLI_EXIT_JOB_FAILED;
            }
            if (strcmp(c->o.output, "json") == 0)
                cli_print_json(j);
            json_decref(j);
            goto out;
        }
        json_decref(j);
        if (used_watch && new_rv == rv && clock_mono_ms() - now < 500)
            watch_ok = false; /* answered at once with nothing new: watch is ignored */
        if (!used_watch && rv >= 0) {
            int64_t nap = poll_ms;

            if (deadline_ms && clock_mono_ms() + nap > deadline_ms)
                nap = deadline_ms - clock_mono_ms();
            sleep_ms(nap);
            poll_ms = poll_ms * 2 > POLL_MAX_MS ? POLL_MAX_MS : poll_ms * 2;
        }
        rv = new_rv >= 0 ? new_rv : rv;
        if (rv < 0)
            rv = 0;
    }
out:
    free(plain);
    return rc;
}

/* ---- verbs ---- */

static char *read_file(const char *path, struct err *e)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    struct buf b;
    char chunk[8192];
    size_t n;

    if (!f) {
        err_set(e, ERR_IO, "-f", "cannot open %s", path);
        return NULL;
    }
    buf_init(&b, JOB_FILE_MAX);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (buf_append(&b, chunk, n)) {
            err_set(e, ERR_TOO_LARGE, "-f", "%s is larger than %d bytes", path, JOB_FILE_MAX);
            buf_free(&b);
            if (f != stdin)
                fclose(f);
            return NULL;
        }
    }
    if (f != stdin)
        fclose(f);
    if (!b.data)
        buf_puts(&b, "");
    return buf_steal(&b);
}

/* The line a dry run prints for reply (a new job as it would be stored, with the figures
 * a GET would carry; or the job that exists already): "ns/name (dry run, not created):
 * queue position 4, estimated start in 2h" or "..., never_fits: MESSAGE". */
static void dry_run_line(const char *ns, json_t *reply)
{
    json_t *st = json_object_get(reply, "status");
    const char *why = jstr(st, "pendingReason.reason");
    char pos[24], eta[32];

    printf("trainingjob %s/%s ", ns, or_dash(jstr(reply, "metadata.name")));
    if (jstr(reply, "metadata.uid")) {
        printf("exists with this spec (dry run): %s\n", or_dash(jstr(st, "phase")));
        return;
    }
    printf("is valid (dry run, not created)");
    if (!json_object_get(st, "queuePosition")) {
        printf("; the server gave no queue figures (no scheduler on that replica)\n");
        return;
    }
    int_cell(json_object_get(st, "queuePosition"), pos, sizeof(pos));
    eta_text(jstr(st, "estimatedStartTime"), jstr(st, "noEstimate"), eta, sizeof(eta));
    printf(": queue position %s, estimated start %s", pos, no_estimate_text(eta));
    if (why)
        printf(", %s: %s", why, or_dash(jstr(st, "pendingReason.message")));
    printf("\n");
}

/* POSTs document i (0-based) of count; on success appends {"ns", "name"} to placed and
 * prints the outcome (or the reply, for -o json|yaml|name without --wait). */
static int submit_doc(struct ctx *c, json_t *doc, size_t i, size_t count, json_t *placed)
{
    char key[96], what[400], *body, *path;
    const char *ns, *name;
    json_t *reply = NULL;
    long status = 0;
    int rc;

    ns = c->o.ns_given ? c->o.ns : jstr(doc, "metadata.namespace");
    if (!ns)
        ns = c->o.ns;
    /* Each document gets its own key, derived from a given one so a re-run stays safe. */
    if (c->o.idem_key && count > 1)
        snprintf(key, sizeof(key), "%s-%zu", c->o.idem_key, i + 1);
    else if (c->o.idem_key)
        snprintf(key, sizeof(key), "%s", c->o.idem_key);
    else
        cli_http_new_key(key, sizeof(key));
    if (count > 1)
        snprintf(what, sizeof(what), "document %zu of %zu (%s/%s)", i + 1, count, ns,
                 or_dash(jstr(doc, "metadata.name")));
    else
        snprintf(what, sizeof(what), "%s", ns);
    body = json_dumps(doc, JSON_COMPACT);
    path = job_path(ns, NULL, c->o.dry_run ? "?dryRun=All" : NULL);
    rc = call_json(c, "POST", path, body, key, what, &status, &reply);
    free(body);
    free(path);
    if (rc)
        return rc;
    name = jstr(reply, "metadata.name");
    if (strcmp(c->o.output, "yaml") == 0 && count > 1 && !c->o.wait)
        fputs("---\n", stdout);
    if (c->o.dry_run && status == 201) {
        /* A server older than dry runs ignores the query and creates the job. */
        fprintf(stderr,
                "fedsched: submit: the server does not do dry runs and created trainingjob "
                "%s/%s; cancel it with 'fedsched cancel -n %s %s'\n",
                ns, or_dash(name), ns, or_dash(name));
        json_decref(reply);
        return CLI_EXIT_API;
    }
    if (c->o.dry_run) {
        if (!print_doc(c, reply))
            dry_run_line(ns, reply);
        json_decref(reply);
        return CLI_EXIT_OK;
    }
    if (c->o.wait || !print_doc(c, reply)) {
        if (!c->o.quiet || !c->o.wait)
            fprintf(c->o.wait ? stderr : stdout, "trainingjob %s/%s %s\n", ns, or_dash(name),
                    status == 201 ? "created" : "unchanged (already submitted with this spec)");
    }
    if (name)
        json_array_append_new(placed, json_pack("{s:s, s:s}", "ns", ns, "name", name));
    json_decref(reply);
    return CLI_EXIT_OK;
}

/* Every document must be a mapping before any is sent. */
static int check_docs(struct ctx *c, json_t *docs)
{
    size_t i;
    json_t *doc;

    if (json_array_size(docs) == 0) {
        fprintf(stderr, "fedsched: submit: %s holds no document\n", c->o.file);
        return CLI_EXIT_USAGE;
    }
    json_array_foreach(docs, i, doc)
    {
        if (!json_is_object(doc)) {
            fprintf(stderr,
                    "fedsched: submit: %s: document %zu is not a mapping (a TrainingJob "
                    "object)\n",
                    c->o.file, i + 1);
            return CLI_EXIT_USAGE;
        }
    }
    return CLI_EXIT_OK;
}

/* -f FILE holds one job per YAML or JSON document. They are sent in order; the first
 * refusal stops the run, and the jobs before it stay submitted (each POST is its own
 * transaction; a re-run after the fix answers "unchanged" for them). */
static int verb_submit(struct ctx *c)
{
    char *text = NULL;
    json_t *docs = NULL, *placed = json_array(), *doc, *p;
    struct err e = {0};
    int64_t deadline;
    size_t i, count;
    int rc;

    if (!c->o.file) {
        json_decref(placed);
        return cli_usage_error("<verb>", "submit needs -f FILE (or -f - for stdin)");
    }
    if (c->o.dry_run && c->o.wait) {
        json_decref(placed);
        return cli_usage_error("<verb>", "--dry-run creates nothing to --wait for");
    }
    if (!(text = read_file(c->o.file, &e))) {
        fprintf(stderr, "fedsched: submit: %s\n", e.msg);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    if (yaml_parse_all(text, strlen(text), &docs, &e)) {
        fprintf(stderr, "fedsched: submit: %s: %s\n", c->o.file, e.msg);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    if ((rc = check_docs(c, docs)))
        goto out;
    count = json_array_size(docs);
    json_array_foreach(docs, i, doc)
    {
        if ((rc = submit_doc(c, doc, i, count, placed))) {
            if (count > 1 && c->o.dry_run)
                fprintf(stderr, "fedsched: submit: stopped at document %zu of %zu (dry run)\n",
                        i + 1, count);
            else if (count > 1)
                fprintf(stderr,
                        "fedsched: submit: stopped at document %zu of %zu; the %zu before it "
                        "stay submitted\n",
                        i + 1, count, i);
            goto out;
        }
    }
    deadline = c->o.timeout_ms ? clock_mono_ms() + c->o.timeout_ms : 0;
    json_array_foreach(placed, i, p)
    {
        int w = c->o.wait ? wait_job(c, jstr(p, "ns"), jstr(p, "name"), deadline) : CLI_EXIT_OK;

        if (w && !rc)
            rc = w;
    }
out:
    json_decref(docs);
    json_decref(placed);
    free(text);
    return rc;
}

static int need_name(struct ctx *c, int argc, char **argv, const char **name)
{
    if (optind >= argc) {
        cli_usage_error("<verb>", "%s needs a job NAME", c->verb);
        return -1;
    }
    if (optind + 1 < argc) {
        cli_usage_error("<verb>", "unexpected argument '%s'", argv[optind + 1]);
        return -1;
    }
    *name = argv[optind];
    return 0;
}

static int verb_get(struct ctx *c, const char *name)
{
    char what[300];
    json_t *j = NULL;
    long status;
    int rc;

    rc = call_job(c, "GET", name, NULL, what, sizeof(what), &status, &j);
    if (rc)
        return rc;
    if (!print_doc(c, j)) {
        struct cli_table t = job_table(c);

        job_row(&t, j);
        cli_table_print(&t);
    }
    json_decref(j);
    return CLI_EXIT_OK;
}

/* GET path quietly: the parsed answer of a 200, else NULL (caller json_decref()s). A list
 * does not fail for want of an estimate. */
static json_t *get_quiet(struct ctx *c, const char *path)
{
    struct cli_http_reply r = {0};
    struct err e = {0};
    json_t *v = NULL;

    if (cli_http_do(c->http, "GET", path, NULL, NULL, REQUEST_TIMEOUT_S, &r, &e) == 0 &&
        r.status == 200)
        v = json_loads(r.body, 0, NULL);
    cli_http_reply_clear(&r);
    return v;
}

/* The explanation of the queued job it (NULL when the server gives none: no scheduler on
 * that replica, an older server). Caller json_decref()s. */
static json_t *explanation_of(struct ctx *c, json_t *it)
{
    const char *ns = jstr(it, "metadata.namespace"), *name = jstr(it, "metadata.name");
    json_t *x;
    char *path;

    if (!ns || !name)
        return NULL;
    path = job_path(ns, name, "/explain");
    x = get_quiet(c, path);
    free(path);
    return x;
}

/* The queue view's path for c: one namespace with -n, else every one; ?limit=limit and
 * the SKU filter. Caller frees. */
static char *queue_path(const struct ctx *c, int limit, const char *sku)
{
    struct buf b;

    buf_init(&b, 0);
    if (c->o.ns_given) {
        buf_puts(&b, "/v1/namespaces/");
        buf_url_escape(&b, c->o.ns);
        buf_puts(&b, "/queue");
    } else {
        buf_puts(&b, "/v1/queue");
    }
    buf_printf(&b, "?limit=%d", limit);
    cli_query_param(&b, "sku", sku);
    return buf_steal(&b);
}

/* "namespace/name" of a job or a queue view's item (both carry metadata), into key. */
static const char *job_key(json_t *it, char *key, size_t size)
{
    snprintf(key, size, "%s/%s", or_dash(jstr(it, "metadata.namespace")),
             or_dash(jstr(it, "metadata.name")));
    return key;
}

/* A queue view's item in the shape of an explanation (its "queue" member, and its status
 * and reason when it waits), which job_row_queue() reads. A job the view lists after the
 * queue (held, or in a retry backoff) has no "queue" member. */
static json_t *item_as_explanation(json_t *it)
{
    json_t *pr = json_object_get(it, "pendingReason");
    json_t *x = json_is_integer(json_object_get(it, "order"))
                    ? json_pack("{s:{s:O, s:O, s:O*}}", "queue", "position",
                                json_object_get(it, "position"), "estimatedStart",
                                json_object_get(it, "estimatedStart"), "noEstimate",
                                json_object_get(it, "noEstimate"))
                    : json_object();

    if (pr) {
        json_object_set_new(x, "status", json_string("pending"));
        json_object_set(x, "reason", pr);
    }
    return x;
}

/* The table: every job; the queued ones with their position, ETA and pending reason from
 * one queue view (its first LIST_VIEW_MAX jobs), or, from a server without the view,
 * explain's for the first LIST_ETA_MAX. */
static void list_table(struct ctx *c, json_t *all)
{
    struct cli_table t = {.ncols = wide(c) ? LIST_COLS_WIDE : LIST_COLS};
    char *path = queue_path(c, LIST_VIEW_MAX, NULL);
    json_t *view = get_quiet(c, path), *byname = json_object(), *it;
    size_t i, asked = 0, queued = 0, known;

    free(path);
    json_array_foreach(json_object_get(view, "items"), i, it)
    {
        char key[600];

        json_object_set_new(byname, job_key(it, key, sizeof(key)), item_as_explanation(it));
    }
    known = view ? json_object_size(byname) : 0;
    cli_table_row(&t, wide(c) ? list_header_wide : list_header);
    json_array_foreach(all, i, it)
    {
        json_t *x = NULL;
        const char *phase = jstr(it, "status.phase");
        char key[600];

        if (phase && strcmp(phase, "Queued") == 0) {
            queued++;
            if (view)
                x = json_incref(json_object_get(byname, job_key(it, key, sizeof(key))));
            else if (asked < LIST_ETA_MAX)
                x = explanation_of(c, it);
            asked += x != NULL;
        }
        job_row_queue(&t, it, x);
        json_decref(x);
    }
    cli_table_print(&t);
    cli_table_free(&t);
    if (queued > asked && !c->o.quiet && (!view || known >= LIST_VIEW_MAX))
        fprintf(stderr,
                "fedsched: POSITION, ETA and why they wait shown for the first %d queued jobs "
                "only\n",
                view ? LIST_VIEW_MAX : LIST_ETA_MAX);
    json_decref(byname);
    json_decref(view);
}

static int verb_list(struct ctx *c)
{
    json_t *all = json_array();
    char *cont = NULL;
    int rc = CLI_EXIT_OK;

    do {
        struct buf b;
        json_t *page = NULL, *items, *it;
        long status;
        char *path;
        size_t i;

        buf_init(&b, 0);
        if (c->o.ns_given) {
            char *base = job_path(c->o.ns, NULL, NULL);

            buf_puts(&b, base);
            free(base);
        } else {
            buf_puts(&b, "/v1/trainingjobs");
        }
        buf_printf(&b, "?limit=%d", c->o.limit);
        cli_query_param(&b, "phase", c->o.phase);
        cli_query_param(&b, "sku", c->o.sku);
        cli_query_param(&b, "labelSelector", c->o.selector);
        cli_query_param(&b, "order", c->o.newest ? "newest" : NULL);
        cli_query_param(&b, "continue", cont);
        path = buf_steal(&b);
        rc = call_json(c, "GET", path, NULL, NULL, "jobs", &status, &page);
        free(path);
        free(cont);
        cont = NULL;
        if (rc)
            break;
        items = json_object_get(page, "items");
        json_array_foreach(items, i, it)
        {
            json_array_append(all, it);
        }
        if (jstr(page, "metadata.continue"))
            cont = xstrdup(jstr(page, "metadata.continue"));
        json_decref(page);
        if (cont && !c->o.all_pages && !c->o.quiet)
            fprintf(stderr, "fedsched: more jobs follow; use --all to list every page\n");
    } while (cont && c->o.all_pages);
    if (rc == CLI_EXIT_OK) {
        json_t *list = json_pack("{s:s, s:s, s:O}", "apiVersion", "fedsched.io/v1", "kind",
                                 "TrainingJobList", "items", all);

        if (!print_doc(c, list))
            list_table(c, all);
        json_decref(list);
    }
    free(cont);
    json_decref(all);
    return rc;
}

/* queue: the view of GET /v1/queue (one namespace with -n), as a table in the policy's
 * order, or the document for -o json|yaml|name. */
static int verb_queue(struct ctx *c)
{
    static const char *const header[] = {"NAMESPACE", "NAME",     "ORDER", "PRIORITY", "GPUS",
                                         "SKUS",      "POSITION", "ETA",   "REASON",   "MESSAGE"};
    static const char *const header_wide[] = {
        "NAMESPACE", "NAME",       "ORDER", "PRIORITY", "GPUS",   "SKUS",   "POSITION",
        "AHEAD",     "AHEAD-GPUS", "START", "ETA",      "REASON", "MESSAGE"};
    struct cli_table t = {.ncols = wide(c) ? 13 : 10};
    char *path = queue_path(c, c->o.limit, c->o.sku);
    json_t *v = NULL, *it;
    long status;
    size_t i;
    int rc = call_json(c, "GET", path, NULL, NULL, "queue", &status, &v);

    free(path);
    if (rc)
        return rc;
    if (print_doc(c, v)) {
        json_decref(v);
        return CLI_EXIT_OK;
    }
    cli_table_row(&t, wide(c) ? header_wide : header);
    json_array_foreach(json_object_get(v, "items"), i, it)
    {
        json_t *ahead = json_object_get(it, "ahead"), *pr = json_object_get(it, "pendingReason");
        char order[24], prio[24], gpus[24], pos[24], aj[24], ag[24], eta[32], skus[256] = "";
        const char *cells[13];
        size_t n = 0, k, len = 0;
        json_t *sku;

        json_array_foreach(json_object_get(it, "skus"), k, sku)
        {
            len += (size_t)snprintf(skus + len, len < sizeof(skus) ? sizeof(skus) - len : 0, "%s%s",
                                    k ? "," : "", json_string_value(sku));
        }
        int_cell(json_object_get(it, "order"), order, sizeof(order));
        int_cell(json_object_get(it, "priority"), prio, sizeof(prio));
        int_cell(json_object_get(it, "gpus"), gpus, sizeof(gpus));
        int_cell(json_object_get(it, "position"), pos, sizeof(pos));
        int_cell(json_object_get(ahead, "jobs"), aj, sizeof(aj));
        int_cell(json_object_get(ahead, "gpus"), ag, sizeof(ag));
        if (json_is_integer(json_object_get(it, "order")))
            eta_text(jstr(it, "estimatedStart"), jstr(it, "noEstimate"), eta, sizeof(eta));
        else /* held, or in a retry backoff: after the queue, not estimated */
            snprintf(eta, sizeof(eta), "-");
        cells[n++] = jstr(it, "metadata.namespace");
        cells[n++] = jstr(it, "metadata.name");
        cells[n++] = order;
        cells[n++] = prio;
        cells[n++] = gpus;
        cells[n++] = skus;
        cells[n++] = pos;
        if (wide(c)) {
            cells[n++] = aj;
            cells[n++] = ag;
            cells[n++] = or_dash(jstr(it, "estimatedStart"));
        }
        cells[n++] = eta;
        cells[n++] = pr ? or_dash(jstr(pr, "reason")) : "starts now";
        cells[n++] = or_dash(jstr(pr, "message"));
        cli_table_row(&t, cells);
    }
    cli_table_print(&t);
    cli_table_free(&t);
    {
        json_int_t total =
            json_integer_value(json_object_get(json_object_get(v, "metadata"), "total"));

        json_int_t held =
            json_integer_value(json_object_get(json_object_get(v, "metadata"), "held"));

        if (held > 0 && !c->o.quiet)
            fprintf(stderr,
                    "fedsched: %" JSON_INTEGER_FORMAT " held jobs follow the queue; "
                    "fedsched release -l SELECTOR lets the scheduler take them\n",
                    held);
        if ((size_t)total > json_array_size(json_object_get(v, "items")) && !c->o.quiet)
            fprintf(stderr,
                    "fedsched: %zu of %" JSON_INTEGER_FORMAT " queued jobs shown; "
                    "--limit shows up to 1000\n",
                    json_array_size(json_object_get(v, "items")), total);
    }
    json_decref(v);
    return CLI_EXIT_OK;
}

/* The job's events, oldest first: a table, or the API's list for -o json|yaml. */
static int verb_events(struct ctx *c, const char *name)
{
    static const char *const header[] = {"TIME", "TYPE", "REASON", "FROM", "TO", "MESSAGE"};
    struct cli_table t = {.ncols = 6};
    char what[300];
    json_t *list = NULL, *ev;
    long status;
    size_t i;
    int rc;

    rc = call_job(c, "GET", name, "/events", what, sizeof(what), &status, &list);
    if (rc)
        return rc;
    if (strcmp(c->o.output, "name") != 0 && print_doc(c, list)) {
        json_decref(list);
        return CLI_EXIT_OK;
    }
    cli_table_row(&t, header);
    json_array_foreach(json_object_get(list, "items"), i, ev)
    {
        const char *cells[6] = {jstr(ev, "time"),    jstr(ev, "type"),
                                jstr(ev, "reason"),  or_dash(jstr(ev, "fromPhase")),
                                jstr(ev, "toPhase"), or_dash(jstr(ev, "message"))};

        cli_table_row(&t, cells);
    }
    cli_table_print(&t);
    json_decref(list);
    return CLI_EXIT_OK;
}

/* completion SHELL: the verbs of this file and cli_cluster.c's. */
static int verb_completion(const char *shell)
{
    static const char *const cluster_verbs[] = {"cluster", "clusters", "capacity", "quotas"};
    const char *all[sizeof(verbs) / sizeof(verbs[0]) + 4];
    size_t n = 0;

    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        all[n++] = verbs[i];
    for (size_t i = 0; i < 4; i++)
        if (cli_cluster_is_verb(cluster_verbs[i]))
            all[n++] = cluster_verbs[i];
    if (cli_completion(stdout, shell, all, n))
        return cli_usage_error("<verb>", "completion needs one shell: bash or zsh, not '%s'",
                               shell);
    return CLI_EXIT_OK;
}

static int verb_cancel(struct ctx *c, const char *name)
{
    char what[300];
    json_t *j = NULL;
    long status;
    int rc;

    rc = call_job(c, "DELETE", name, NULL, what, sizeof(what), &status, &j);
    if (rc)
        return rc;
    if (strcmp(c->o.output, "json") == 0)
        cli_print_json(j);
    else if (status == 202)
        printf("trainingjob %s cancel requested; it is being stopped in cluster %s\n", what,
               or_dash(jstr(j, "status.cluster")));
    else
        printf("trainingjob %s cancelled\n", what);
    json_decref(j);
    return CLI_EXIT_OK;
}

/* cancel -l, hold and release: one call for every job the selector matches. */
static int verb_bulk(struct ctx *c)
{
    struct buf q;
    char *path;
    json_t *j = NULL;
    long status;
    int rc;

    if (!c->o.selector)
        return cli_usage_error("<verb>", "%s needs -l SELECTOR", c->verb);
    buf_init(&q, 0);
    buf_printf(&q, ":%s?labelSelector=", c->verb);
    buf_url_escape(&q, c->o.selector);
    path = job_path(c->o.ns, NULL, q.data);
    rc = call_json(c, "POST", path, NULL, NULL, c->o.ns, &status, &j);
    if (rc == CLI_EXIT_OK)
        cli_bulk_print(j, c->o.output);
    json_decref(j);
    free(path);
    buf_free(&q);
    return rc;
}

static void print_why(json_t *w, const char *indent)
{
    const char *cluster = jstr(w, "cluster"), *sku = jstr(w, "sku"), *pool = jstr(w, "pool");

    printf("%s- %s", indent, or_dash(jstr(w, "reason")));
    if (cluster || sku || pool)
        printf(" [%s%s%s%s%s]", cluster ? cluster : "", cluster && (sku || pool) ? " " : "",
               sku ? sku : "", sku && pool ? "/" : "", pool ? pool : "");
    printf(": %s\n", or_dash(jstr(w, "message")));
}

static int verb_explain(struct ctx *c, const char *name)
{
    char what[300];
    json_t *x = NULL, *v;
    const char *status, *key;
    long st;
    size_t i;
    int rc;

    rc = call_job(c, "GET", name, "/explain", what, sizeof(what), &st, &x);
    if (rc)
        return rc;
    status = jstr(x, "status");
    if (strcmp(c->o.output, "json") == 0 || !status) {
        cli_print_json(x);
    } else if (strcmp(status, "placed") == 0) {
        const char *phase = jstr(x, "phase");
        json_t *score = json_object_get(x, "score");

        /* A job still Queued is a what-if; any other phase, the decision taken. */
        printf("%s: %s %s (pool %s, sku %s)\n", what,
               phase && strcmp(phase, "Queued") != 0 ? "placed in" : "would be placed in",
               or_dash(jstr(x, "cluster")), or_dash(jstr(x, "pool")), or_dash(jstr(x, "sku")));
        printf("score:\n  %-16s %.3f\n", "total",
               json_number_value(json_object_get(score, "total")));
        json_object_foreach(json_object_get(score, "terms"), key, v)
        {
            printf("  %-16s %.3f\n", key, json_number_value(v));
        }
        if ((v = json_object_get(x, "runner_up")) && json_is_object(v))
            printf("runner-up: %s (total %.3f)\n", or_dash(jstr(v, "cluster")),
                   json_number_value(json_object_get(v, "total")));
        /* What the cost term priced; decisions recorded before it was reported have none. */
        if ((v = json_object_get(score, "pricePerGpuHour")) && json_is_number(v)) {
            json_t *f = json_object_get(score, "workFactor");

            printf("cost term: %.3f per GPU-hour", json_number_value(v));
            if (json_is_number(f) && json_number_value(f) != 1.0)
                printf(" x %.3f for the job's throughput here (per unit of work)",
                       json_number_value(f));
            printf("\n");
        }
    } else {
        json_t *cl;

        printf("%s: %s\n", what, status);
        if ((v = json_object_get(x, "reason")) && json_is_object(v))
            print_why(v, "");
        json_array_foreach(json_object_get(x, "quota"), i, v)
        {
            print_why(v, "quota ");
        }
        json_array_foreach(json_object_get(x, "clusters"), i, cl)
        {
            size_t k;

            printf("cluster %s%s\n", or_dash(jstr(cl, "cluster")),
                   json_is_true(json_object_get(cl, "fits")) ? " (fits)" : "");
            json_array_foreach(json_object_get(cl, "reasons"), k, v)
            {
                print_why(v, "  ");
            }
        }
    }
    if (strcmp(c->o.output, "json") != 0 && status && (v = json_object_get(x, "queue"))) {
        json_int_t ahead = json_integer_value(json_object_get(json_object_get(v, "ahead"), "jobs"));
        char pos[24], eta[32];

        queue_cells(v, pos, sizeof(pos), eta, sizeof(eta));
        /* "estimated start T (in 2h)", or why there is none. */
        printf("queue: position %s, %" JSON_INTEGER_FORMAT " job%s and %" JSON_INTEGER_FORMAT
               " GPUs ahead; estimated start %s%s%s%s\n",
               pos, ahead, ahead == 1 ? "" : "s",
               json_integer_value(json_object_get(json_object_get(v, "ahead"), "gpus")),
               jstr(v, "estimatedStart") ? jstr(v, "estimatedStart") : no_estimate_text(eta),
               jstr(v, "estimatedStart") ? " (" : "", jstr(v, "estimatedStart") ? eta : "",
               jstr(v, "estimatedStart") ? ")" : "");
    }
    json_decref(x);
    return CLI_EXIT_OK;
}

/* Replaces {namespace}, {name}, {uid}, {cluster}, {attempt} in tmpl. */
static char *expand(const char *tmpl, json_t *j)
{
    static const char *const keys[][2] = {{"{namespace}", "metadata.namespace"},
                                          {"{name}", "metadata.name"},
                                          {"{uid}", "metadata.uid"},
                                          {"{cluster}", "status.cluster"}};
    struct buf b;

    buf_init(&b, 0);
    for (const char *p = tmpl; *p;) {
        size_t k = 0;

        for (; k < 4; k++) {
            size_t n = strlen(keys[k][0]);

            if (strncmp(p, keys[k][0], n) == 0) {
                struct buf esc;
                char *v;

                buf_init(&esc, 0);
                buf_url_escape(&esc, or_dash(jstr(j, keys[k][1])));
                v = buf_steal(&esc);
                buf_puts(&b, v ? v : "");
                free(v);
                p += n;
                break;
            }
        }
        if (k < 4)
            continue;
        if (strncmp(p, "{attempt}", 9) == 0) {
            buf_printf(
                &b, "%" JSON_INTEGER_FORMAT,
                json_integer_value(json_object_get(json_object_get(j, "status"), "attempt")));
            p += 9;
            continue;
        }
        buf_append(&b, p++, 1);
    }
    if (!b.data)
        buf_puts(&b, "");
    return buf_steal(&b);
}

/* The kubectl commands that print a placed job's logs from its member cluster: the pods
 * of its attempt by their labels (every worker, every container, each line prefixed with
 * its pod; --tail=-1 because a selector otherwise shows only 10 lines per pod) and, for
 * ray, the output of the entrypoint, which KubeRay's submitter Job (named like the
 * RayJob) prints. False, printing nothing, when the answer lacks the cluster, member
 * namespace or uid. */
static bool shell_word(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '.' || *s == '_'))
            return false;
    return true;
}

static bool print_kubectl(json_t *j)
{
    const char *cluster = jstr(j, "status.cluster"), *mns = jstr(j, "status.memberNamespace");
    const char *uid = jstr(j, "metadata.uid"), *obj = jstr(j, "status.objectName");
    const char *fw = jstr(j, "spec.framework");
    json_int_t attempt =
        json_integer_value(json_object_get(json_object_get(j, "status"), "attempt"));

    /* Names, namespaces and uids never need quoting; anything else is not printed as a
     * command someone will paste into a shell. */
    if (!shell_word(cluster) || !shell_word(mns) || !shell_word(uid))
        return false;
    printf("kubectl --context %s -n %s logs -l "
           "fedsched.io/job-uid=%s,fedsched.io/attempt=%" JSON_INTEGER_FORMAT
           " --all-containers --prefix --tail=-1\n",
           cluster, mns, uid, attempt);
    if (fw && strcmp(fw, "ray") == 0 && shell_word(obj))
        printf("kubectl --context %s -n %s logs -l job-name=%s --tail=-1\n", cluster, mns, obj);
    return true;
}

/* Prints every way to the job's logs the answer allows: status.logsUrl when the server
 * sets one, the kubectl commands while it has a cluster (its objects stay there for
 * scheduler.finishedTtlSeconds after it ends), and FEDSCHED_LOGS_URL_TEMPLATE expanded
 * when set. Exit 3 when there is none. */
static int verb_logs_url(struct ctx *c, const char *name)
{
    char what[300], *url;
    const char *direct, *cluster, *tmpl = getenv("FEDSCHED_LOGS_URL_TEMPLATE");
    json_t *j = NULL;
    bool any;
    long st;
    int rc;

    rc = call_job(c, "GET", name, NULL, what, sizeof(what), &st, &j);
    if (rc)
        return rc;
    direct = jstr(j, "status.logsUrl");
    cluster = jstr(j, "status.cluster");
    if (direct)
        printf("%s\n", direct);
    any = print_kubectl(j) || direct;
    if (tmpl && *tmpl) {
        if (!cluster)
            fprintf(stderr, "fedsched: note: %s is %s and not placed yet; {cluster} is \"-\"\n",
                    what, or_dash(jstr(j, "status.phase")));
        url = expand(tmpl, j);
        printf("%s\n", url);
        free(url);
        any = true;
    }
    if (cluster && !jstr(j, "status.memberNamespace"))
        fprintf(stderr,
                "fedsched: %s: %s has no objects in cluster %s yet (not dispatched), or was "
                "dispatched by a fedsched that did not record their namespace, so there is no "
                "kubectl command\n",
                any ? "note" : "logs-url", what, cluster);
    else if (!any)
        fprintf(stderr,
                "fedsched: logs-url %s: the job is %s and not placed yet, so it has no logs\n",
                what, or_dash(jstr(j, "status.phase")));
    if (!any) {
        fprintf(stderr, "fedsched: set FEDSCHED_LOGS_URL_TEMPLATE for a URL, e.g. "
                        "'https://logs.example/?cluster={cluster}&ns={namespace}&job={name}'\n");
        rc = CLI_EXIT_API;
    }
    json_decref(j);
    return rc;
}

/* Writes data to path through a temporary file and rename, so a reader (a mailer run by
 * cron) never sees half a report. */
static int write_atomic(const char *path, const char *data, size_t len)
{
    char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    int rc = -1;

    if (f && fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0) {
        fclose(f);
        f = NULL;
        rc = rename(tmp, path);
    }
    if (f)
        fclose(f);
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

static int verb_report(struct ctx *c)
{
    struct cli_http_reply r = {0};
    struct err e = {0};
    enum wire_report_format fmt;
    struct buf b;
    char *path;
    int rc = CLI_EXIT_OK;

    if (wire_parse_report_format(c->o.format, &fmt, &e))
        return cli_usage_error("<verb>", "%s", e.msg);
    buf_init(&b, 0);
    buf_puts(&b, "/v1/reports/capacity?format=");
    buf_url_escape(&b, c->o.format);
    cli_query_param(&b, "from", c->o.from);
    cli_query_param(&b, "to", c->o.to);
    cli_query_param(&b, "step", c->o.step);
    cli_query_param(&b, "cluster", c->o.cluster);
    cli_query_param(&b, "sku", c->o.sku);
    cli_query_param(&b, "pool", c->o.pool);
    path = buf_steal(&b);
    if (cli_http_do(c->http, "GET", path, NULL, NULL, 300, &r, &e)) {
        rc = transport_failure(c, "capacity", &e);
        goto out;
    }
    if (r.status != 200) {
        rc = reply_failure(c, "capacity", &r);
        goto out;
    }
    if (c->o.out) {
        if (write_atomic(c->o.out, r.body, r.len)) {
            fprintf(stderr, "fedsched: report: cannot write %s\n", c->o.out);
            rc = CLI_EXIT_USAGE;
        }
    } else if (fwrite(r.body, 1, r.len, stdout) != r.len || fflush(stdout) != 0) {
        fprintf(stderr, "fedsched: report: cannot write to stdout\n");
        rc = CLI_EXIT_USAGE;
    }
out:
    cli_http_reply_clear(&r);
    free(path);
    return rc;
}

/* ---- entry ---- */

enum {
    OPT_URL = 256,
    OPT_TOKEN,
    OPT_WAIT,
    OPT_TIMEOUT,
    OPT_PHASE,
    OPT_SKU,
    OPT_LIMIT,
    OPT_ALL,
    OPT_NEWEST,
    OPT_FROM,
    OPT_TO,
    OPT_STEP,
    OPT_CLUSTER,
    OPT_POOL,
    OPT_FORMAT,
    OPT_OUT,
    OPT_RETRY,
    OPT_IDEM,
    OPT_DRY_RUN,
    OPT_FAIL_UNSCHEDULABLE,
};

static int parse(int argc, char **argv, struct opts *o)
{
    static const struct option opts[] = {
        {"namespace", required_argument, NULL, 'n'},
        {"output", required_argument, NULL, 'o'},
        {"file", required_argument, NULL, 'f'},
        {"selector", required_argument, NULL, 'l'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"url", required_argument, NULL, OPT_URL},
        {"token", required_argument, NULL, OPT_TOKEN},
        {"wait", no_argument, NULL, OPT_WAIT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"phase", required_argument, NULL, OPT_PHASE},
        {"sku", required_argument, NULL, OPT_SKU},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"all", no_argument, NULL, OPT_ALL},
        {"newest", no_argument, NULL, OPT_NEWEST},
        {"from", required_argument, NULL, OPT_FROM},
        {"to", required_argument, NULL, OPT_TO},
        {"step", required_argument, NULL, OPT_STEP},
        {"cluster", required_argument, NULL, OPT_CLUSTER},
        {"pool", required_argument, NULL, OPT_POOL},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"out", required_argument, NULL, OPT_OUT},
        {"retry-for", required_argument, NULL, OPT_RETRY},
        {"idempotency-key", required_argument, NULL, OPT_IDEM},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"fail-if-unschedulable", no_argument, NULL, OPT_FAIL_UNSCHEDULABLE},
        {NULL, 0, NULL, 0},
    };
    struct err e = {0};
    int64_t n;
    int ch;

    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":n:o:f:l:qvh", opts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            o->ns = optarg;
            o->ns_given = true;
            break;
        case 'o':
            if (strcmp(optarg, "json") && strcmp(optarg, "table") && strcmp(optarg, "yaml") &&
                strcmp(optarg, "wide") && strcmp(optarg, "name"))
                return cli_usage_error(
                    "<verb>", "-o must be table, wide, json, yaml or name, not '%s'", optarg);
            o->output = optarg;
            break;
        case 'f': o->file = optarg; break;
        case 'l': o->selector = optarg; break;
        case 'q': o->quiet = true; break;
        case 'v': o->verbose = true; break;
        case 'h': usage(stdout); return -1;
        case OPT_URL: o->url = optarg; break;
        case OPT_TOKEN: o->token = optarg; break;
        case OPT_WAIT: o->wait = true; break;
        case OPT_DRY_RUN: o->dry_run = true; break;
        case OPT_FAIL_UNSCHEDULABLE: o->fail_unschedulable = true; break;
        case OPT_TIMEOUT:
            if (wire_parse_duration(optarg, "--timeout", &o->timeout_ms, &e))
                return cli_usage_error("<verb>", "%s", e.msg);
            break;
        case OPT_RETRY:
            if (wire_parse_duration(optarg, "--retry-for", &o->retry_ms, &e))
                return cli_usage_error("<verb>", "%s", e.msg);
            break;
        case OPT_PHASE: o->phase = optarg; break;
        case OPT_SKU: o->sku = optarg; break;
        case OPT_LIMIT:
            if (num_parse_i64(optarg, 1, 1000, &n))
                return cli_usage_error("<verb>", "--limit must be an integer in 1..1000, not '%s'",
                                       optarg);
            o->limit = (int)n;
            break;
        case OPT_ALL: o->all_pages = true; break;
        case OPT_NEWEST: o->newest = true; break;
        case OPT_FROM: o->from = optarg; break;
        case OPT_TO: o->to = optarg; break;
        case OPT_STEP: o->step = optarg; break;
        case OPT_CLUSTER: o->cluster = optarg; break;
        case OPT_POOL: o->pool = optarg; break;
        case OPT_FORMAT: o->format = optarg; break;
        case OPT_OUT: o->out = optarg; break;
        case OPT_IDEM: o->idem_key = optarg; break;
        case ':': return cli_usage_error("<verb>", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("<verb>", "unknown option '%s'", argv[optind - 1]);
        }
    }
    return 0;
}

int cli_main(int argc, char **argv)
{
    struct ctx c = {.verb = argv[0]};
    struct cli_http_opts ho;
    struct err e = {0};
    const char *env, *name = NULL;
    int rc;

    if (cli_cluster_is_verb(c.verb))
        return cli_cluster_main(argc, argv);
    c.o.url = (env = getenv("FEDSCHED_URL")) && *env ? env : DEFAULT_URL;
    c.o.token = getenv("FEDSCHED_TOKEN");
    c.o.ns = (env = getenv("FEDSCHED_NAMESPACE")) && *env ? env : "default";
    c.o.output = "table";
    c.o.format = "csv";
    c.o.limit = 100;
    c.o.retry_ms = DEFAULT_RETRY_MS;
    if ((rc = parse(argc, argv, &c.o)))
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (c.o.fail_unschedulable && strcmp(c.verb, "wait") != 0 &&
        !(strcmp(c.verb, "submit") == 0 && c.o.wait))
        return cli_usage_error(c.verb, "--fail-if-unschedulable applies to wait and submit --wait");
    if (getenv("FEDSCHED_NAMESPACE") && *getenv("FEDSCHED_NAMESPACE") && !c.o.ns_given &&
        strcmp(c.verb, "list") != 0 && strcmp(c.verb, "queue") != 0)
        c.o.ns_given = true;
    ho = (struct cli_http_opts){
        .base_url = c.o.url, .token = c.o.token, .retry_ms = c.o.retry_ms, .verbose = c.o.verbose};
    if (cli_http_new(&ho, &c.http, &e)) {
        fprintf(stderr, "fedsched: %s\n", e.msg);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(c.verb, "submit") == 0 || strcmp(c.verb, "list") == 0 ||
        strcmp(c.verb, "queue") == 0 || strcmp(c.verb, "report") == 0) {
        if (optind < argc) {
            rc = cli_usage_error("<verb>", "unexpected argument '%s'", argv[optind]);
            goto out;
        }
        rc = strcmp(c.verb, "submit") == 0  ? verb_submit(&c)
             : strcmp(c.verb, "list") == 0  ? verb_list(&c)
             : strcmp(c.verb, "queue") == 0 ? verb_queue(&c)
                                            : verb_report(&c);
        goto out;
    }
    if (strcmp(c.verb, "completion") == 0) {
        rc = optind + 1 == argc
                 ? verb_completion(argv[optind])
                 : cli_usage_error("<verb>", "completion needs one shell: bash or zsh");
        goto out;
    }
    if (cli_bulk_is_verb(c.verb) || (strcmp(c.verb, "cancel") == 0 && c.o.selector)) {
        rc = optind < argc
                 ? cli_usage_error("<verb>", "unexpected argument '%s' with -l", argv[optind])
                 : verb_bulk(&c);
        goto out;
    }
    if (need_name(&c, argc, argv, &name)) {
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    if (strcmp(c.verb, "get") == 0)
        rc = verb_get(&c, name);
    else if (strcmp(c.verb, "cancel") == 0)
        rc = verb_cancel(&c, name);
    else if (strcmp(c.verb, "explain") == 0)
        rc = verb_explain(&c, name);
    else if (strcmp(c.verb, "logs-url") == 0)
        rc = verb_logs_url(&c, name);
    else if (strcmp(c.verb, "events") == 0)
        rc = verb_events(&c, name);
    else
        rc = wait_job(&c, c.o.ns, name, c.o.timeout_ms ? clock_mono_ms() + c.o.timeout_ms : 0);
out:
    cli_http_free(&c.http);
    return rc;
}
