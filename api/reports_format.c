/* reports_format.c -- the capacity report on the wire: options from text, and the report
 * as CSV, JSON, Markdown or self-contained HTML with inline SVG charts. The numbers come
 * from store/reports.c; the routes that serve them are report_routes.c. */
#include "api/reports_format.h"
#include "api/internal.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/clock.h"
#include "base/dns.h"
#include "base/mem.h"
#include "base/utf8.h"
#include "store/reports.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_WINDOW_MS (24LL * 3600 * 1000)
#define DEFAULT_STEP_MS   (3600LL * 1000)

/* ---- options ---- */

const char *reports_content_type(enum wire_report_format f)
{
    switch (f) {
    case WIRE_REPORT_CSV: return "text/csv; charset=utf-8";
    case WIRE_REPORT_MD: return "text/markdown; charset=utf-8";
    case WIRE_REPORT_HTML: return "text/html; charset=utf-8";
    case WIRE_REPORT_JSON: break;
    }
    return "application/json";
}

/* "now" or "today" (midnight UTC), then "-DURATION", then "/h" or "/d" (down to the hour
 * or to midnight UTC); a leading "-" is "now-". 0 with *out_ms, -1 when s is not one. */
static int relative_time(const char *s, int64_t now_ms, int64_t *out_ms)
{
    char buf[64];
    size_t len = strlen(s);
    int64_t unit = 1, d = 0, t;
    const char *rest;

    if (len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len + 1);
    if (len > 2 && buf[len - 2] == '/' && (buf[len - 1] == 'h' || buf[len - 1] == 'd')) {
        unit = buf[len - 1] == 'h' ? 3600000 : 86400000;
        buf[len - 2] = '\0';
    }
    if (strncmp(buf, "now", 3) == 0) {
        t = now_ms;
        rest = buf + 3;
    } else if (strncmp(buf, "today", 5) == 0) {
        t = now_ms - now_ms % 86400000;
        rest = buf + 5;
    } else if (buf[0] == '-') {
        t = now_ms;
        rest = buf;
    } else {
        return -1;
    }
    if (*rest && (*rest != '-' || wire_parse_duration(rest + 1, "", &d, NULL)))
        return -1;
    t -= d;
    *out_ms = t - ((t % unit) + unit) % unit;
    return 0;
}

int reports_parse_time(const char *s, int64_t now_ms, const char *field, int64_t *out_ms,
                       struct err *e)
{
    char buf[64];

    if (!s || !*s)
        return err_set(e, ERR_MALFORMED, field, "%s is empty", field);
    if (relative_time(s, now_ms, out_ms) == 0)
        return 0;
    if (strlen(s) == 10) {
        snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
        if (clock_parse_rfc3339(buf, out_ms) == 0)
            return 0;
    } else if (clock_parse_rfc3339(s, out_ms) == 0) {
        return 0;
    }
    return err_set(e, ERR_MALFORMED, field,
                   "%s \"%s\" is not a time: use RFC 3339 (2026-11-28T02:00:00Z), a date "
                   "(2026-11-28), now, now-24h, today, today-7d, or one of them to the hour "
                   "or day (now-24h/h)",
                   field, s);
}

int reports_parse_opts_all(const char *from, const char *to, const char *step, int64_t now_ms,
                           struct store_report_opts *o, struct err_causes *c)
{
    struct store_report_opts r = {0};
    size_t before = c->n;
    struct err e;

    r.to_ms = now_ms;
    if (to && *to && reports_parse_time(to, now_ms, "to", &r.to_ms, &e))
        err_cause(c, &e);
    r.from_ms = r.to_ms - DEFAULT_WINDOW_MS;
    if (from && *from && reports_parse_time(from, now_ms, "from", &r.from_ms, &e))
        err_cause(c, &e);
    r.step_ms = DEFAULT_STEP_MS;
    if (step && *step && wire_parse_duration(step, "step", &r.step_ms, &e))
        err_cause(c, &e);
    if (c->n == before && store_report_check(&r, &e))
        err_cause(c, &e);
    if (c->n > before)
        return -1;
    *o = r;
    return 0;
}

/* One name of a filter list: a cluster name (a DNS label), a SKU of the catalogue or a
 * pool, each as the other queries take them (query_sku, query_pool). */
static int filter_name(const char *field, const char *name, struct err *e)
{
    int pool;

    if (strcmp(field, "sku") == 0)
        return query_sku(name, e);
    if (strcmp(field, "pool") == 0)
        return query_pool(name, &pool, e);
    if (!dns_label_ok(name, strlen(name)))
        return err_set(e, ERR_MALFORMED, "cluster",
                       "cluster \"%s\" is not a cluster name (1-63 lower-case letters, digits or "
                       "'-'); list names with commas",
                       name);
    return 0;
}

/* Checks list (names joined by commas) and copies it into out; "" or NULL for all. */
static int parse_filter(const char *list, const char *field, char *out, size_t size, struct err *e)
{
    size_t len = list ? strlen(list) : 0;

    out[0] = '\0';
    if (len == 0)
        return 0;
    if (len >= size)
        return err_set(e, ERR_MALFORMED, field, "%s lists %zu bytes of names; at most %zu", field,
                       len, size - 1);
    for (const char *p = list;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char name[64];

        snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), p);
        if (n >= sizeof(name)) /* longer than any name */
            return err_set(e, ERR_MALFORMED, field, "%s \"%s...\" is too long", field, name);
        if (filter_name(field, name, e))
            return -1;
        if (!comma)
            break;
        p = comma + 1;
    }
    memcpy(out, list, len + 1);
    return 0;
}

int reports_parse_filters(const char *cluster, const char *sku, const char *pool,
                          struct store_report_opts *o, struct err_causes *c)
{
    size_t before = c->n;
    struct err e;

    if (parse_filter(cluster, "cluster", o->clusters, sizeof(o->clusters), &e))
        err_cause(c, &e);
    if (parse_filter(sku, "sku", o->skus, sizeof(o->skus), &e))
        err_cause(c, &e);
    if (parse_filter(pool, "pool", o->pools, sizeof(o->pools), &e))
        err_cause(c, &e);
    return c->n > before ? -1 : 0;
}

int reports_parse_opts(const char *from, const char *to, const char *step, int64_t now_ms,
                       struct store_report_opts *o, struct err *e)
{
    struct err_causes c = {0};

    if (reports_parse_opts_all(from, to, step, now_ms, o, &c) == 0)
        return 0;
    if (e)
        *e = c.items[0];
    return -1;
}

/* ---- aggregation for the summaries ---- */

/* One cluster/SKU/pool over the whole window, or one step of the federation. */
struct sum {
    const struct store_report_row *key; /* first row seen (names) */
    int64_t start_ms;
    double total, used, training, serving, borrowed, idle, unavailable, lost;
    int64_t placed, succeeded, failed, preempted;
};

static void sum_add(struct sum *s, const struct store_report_row *r)
{
    s->total += r->gpu_hours_total;
    s->used += r->gpu_hours_used;
    s->training += r->gpu_hours_training;
    s->serving += r->gpu_hours_serving;
    s->borrowed += r->gpu_hours_borrowed;
    s->idle += r->gpu_hours_idle;
    s->unavailable += r->gpu_hours_unavailable;
    s->lost += r->gpu_hours_lost;
    s->placed += r->jobs_placed;
    s->succeeded += r->jobs_succeeded;
    s->failed += r->jobs_failed;
    s->preempted += r->jobs_preempted;
}

static double pct(double part, double whole)
{
    return whole > 0 ? 100.0 * part / whole : 0;
}

static int same_key(const struct store_report_row *a, const struct store_report_row *b)
{
    return strcmp(a->cluster, b->cluster) == 0 && strcmp(a->sku, b->sku) == 0 &&
           strcmp(a->pool, b->pool) == 0;
}

static int sum_cmp(const void *pa, const void *pb)
{
    const struct sum *a = pa, *b = pb;
    int c;

    if ((c = strcmp(a->key->cluster, b->key->cluster)))
        return c;
    if ((c = strcmp(a->key->sku, b->key->sku)))
        return c;
    return strcmp(a->key->pool, b->key->pool);
}

/* Totals per cluster/SKU/pool, sorted by name. Caller frees. Quadratic in the number of
 * distinct keys per row only through the lookup; keys are few (clusters x SKUs x 2). */
static struct sum *totals(const struct store_report *r, size_t *n)
{
    struct sum *t = xcalloc(r->n_rows + 1, sizeof(*t));
    size_t k = 0;

    for (size_t i = 0; i < r->n_rows; i++) {
        size_t j = 0;

        while (j < k && !same_key(t[j].key, &r->rows[i]))
            j++;
        if (j == k)
            t[k++].key = &r->rows[i];
        sum_add(&t[j], &r->rows[i]);
    }
    qsort(t, k, sizeof(*t), sum_cmp);
    *n = k;
    return t;
}

/* The federation per step (rows are ordered by step). Caller frees. */
static struct sum *federation(const struct store_report *r, size_t *n)
{
    size_t steps =
        (size_t)((r->opts.to_ms - r->opts.from_ms + r->opts.step_ms - 1) / r->opts.step_ms);
    struct sum *f = xcalloc(steps + 1, sizeof(*f));

    for (size_t k = 0; k < steps; k++)
        f[k].start_ms = r->opts.from_ms + (int64_t)k * r->opts.step_ms;
    for (size_t i = 0; i < r->n_rows; i++) {
        size_t k = (size_t)((r->rows[i].start_ms - r->opts.from_ms) / r->opts.step_ms);

        if (k < steps)
            sum_add(&f[k], &r->rows[i]);
    }
    *n = steps;
    return f;
}

/* Per cluster over everything: name and the sums. Caller frees. */
static struct sum *by_cluster(const struct store_report *r, size_t *n)
{
    struct sum *c = xcalloc(r->n_rows + 1, sizeof(*c));
    size_t k = 0;

    for (size_t i = 0; i < r->n_rows; i++) {
        size_t j = 0;

        while (j < k && strcmp(c[j].key->cluster, r->rows[i].cluster) != 0)
            j++;
        if (j == k)
            c[k++].key = &r->rows[i];
        sum_add(&c[j], &r->rows[i]);
    }
    qsort(c, k, sizeof(*c), sum_cmp);
    *n = k;
    return c;
}

/* ---- CSV ---- */

static void time_text(int64_t ms, char *out, size_t size)
{
    clock_format_rfc3339(ms, out, size);
}

static void wait_text(double s, char *out, size_t size)
{
    if (s < 0)
        out[0] = '\0';
    else
        snprintf(out, size, "%.3f", s);
}

/* A serving row's mean serving GPUs (GPU-hours over the step's hours): the actual beside
 * its forecast. */
static double serving_mean(const struct store_report_row *w)
{
    double h = (double)(w->end_ms - w->start_ms) / 3600000.0;

    return h > 0 ? w->gpu_hours_serving / h : 0;
}

static bool is_serving(const struct store_report_row *w)
{
    return strcmp(w->pool, "serving") == 0;
}

/* The forecast columns: empty outside pool "serving" and where the forecast is unknown. */
static void forecast_text(const struct store_report_row *w, char *mean, char *p50, char *p95,
                          size_t size)
{
    mean[0] = p50[0] = p95[0] = '\0';
    if (!is_serving(w))
        return;
    snprintf(mean, size, "%.3f", serving_mean(w));
    if (w->forecast_known) {
        snprintf(p50, size, "%.3f", w->forecast_p50);
        snprintf(p95, size, "%.3f", w->forecast_p95);
    }
}

static void render_csv(const struct store_report *r, struct buf *b)
{
    buf_puts(b, "start,end,cluster,sku,pool,gpu_hours_total,gpu_hours_used,gpu_hours_training,"
                "gpu_hours_serving,gpu_hours_borrowed,gpu_hours_idle,utilisation_pct,"
                "jobs_placed,jobs_succeeded,jobs_failed,jobs_preempted,queue_wait_p50_s,"
                "queue_wait_p95_s,gpu_hours_lost_reclaim,serving_gpus_mean,forecast_p50,"
                "forecast_p95,gpu_hours_unavailable\n");
    for (size_t i = 0; i < r->n_rows; i++) {
        const struct store_report_row *w = &r->rows[i];
        char a[40], z[40], p50[32], p95[32], fm[32], f50[32], f95[32];

        time_text(w->start_ms, a, sizeof(a));
        time_text(w->end_ms, z, sizeof(z));
        wait_text(w->wait_p50_s, p50, sizeof(p50));
        wait_text(w->wait_p95_s, p95, sizeof(p95));
        forecast_text(w, fm, f50, f95, sizeof(fm));
        /* Names are DNS labels and SKU names: no commas or quotes to escape. */
        buf_printf(b,
                   "%s,%s,%s,%s,%s,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.1f,%" PRId64 ",%" PRId64
                   ",%" PRId64 ",%" PRId64 ",%s,%s,%.3f,%s,%s,%s,%.3f\n",
                   a, z, w->cluster, w->sku, w->pool, w->gpu_hours_total, w->gpu_hours_used,
                   w->gpu_hours_training, w->gpu_hours_serving, w->gpu_hours_borrowed,
                   w->gpu_hours_idle, w->utilisation_pct, w->jobs_placed, w->jobs_succeeded,
                   w->jobs_failed, w->jobs_preempted, p50, p95, w->gpu_hours_lost, fm, f50, f95,
                   w->gpu_hours_unavailable);
    }
}

/* ---- JSON ----
 * Written straight into the buffer: a report by 15 minutes over a day of 100 clusters has
 * 38,400 rows, and a tree of them cost more than the query. */

/* v rounded like the CSV, so every format shows the same figures, then written as jansson
 * writes a real (15 digits, ".0" when it reads as an integer, an exponent without "+" or
 * leading zeros); null when not finite. */
static void put_num(struct buf *b, double v, int decimals)
{
    char t[64], u[64], *x;
    size_t n;

    if (!isfinite(v)) {
        buf_puts(b, "null");
        return;
    }
    n = (size_t)snprintf(t, sizeof(t), "%.*f", decimals, v);
    if (fabs(v) < 1e11 && decimals > 0) {
        /* Under 15 digits, the shortest form is t without its trailing zeros. */
        while (t[n - 1] == '0')
            n--;
        buf_append(b, t, n);
        if (t[n - 1] == '.')
            buf_puts(b, "0");
        return;
    }
    snprintf(u, sizeof(u), "%.15g", strtod(t, NULL));
    if ((x = strchr(u, 'e'))) {
        char *from = x + 1, *to = x + 1;

        if (*from == '+')
            from++;
        else if (*from == '-')
            from = ++to;
        while (*from == '0' && from[1])
            from++;
        memmove(to, from, strlen(from) + 1);
    }
    buf_puts(b, u);
    if (!strpbrk(u, ".e"))
        buf_puts(b, ".0");
}

static void put_key(struct buf *b, const char *key)
{
    buf_printf(b, ",\"%s\":", key);
}

/* A name from the database as a JSON string, made valid UTF-8 when it is not. */
static void put_clean(struct buf *b, const char *v)
{
    char clean[256];

    if (!utf8_valid(v, strlen(v))) {
        utf8_sanitize(clean, sizeof(clean), v);
        v = clean;
    }
    buf_json_str(b, v);
}

static void put_name(struct buf *b, const char *key, const char *v)
{
    put_key(b, key);
    put_clean(b, v);
}

static void put_time(struct buf *b, const char *key, int64_t ms)
{
    char t[40];

    time_text(ms, t, sizeof(t));
    buf_printf(b, ",\"%s\":\"%s\"", key, t);
}

/* The figures of s as the members of an object opened by the caller (with "{" and no
 * member yet). */
static void put_sum(struct buf *b, const struct sum *s)
{
    const struct {
        const char *key;
        double v;
        int decimals;
    } gpu_hours[] = {
        {"gpuHoursTotal", s->total, 3},
        {"gpuHoursUsed", s->used, 3},
        {"gpuHoursTraining", s->training, 3},
        {"gpuHoursServing", s->serving, 3},
        {"gpuHoursBorrowed", s->borrowed, 3},
        {"gpuHoursIdle", s->idle, 3},
        {"gpuHoursUnavailable", s->unavailable, 3},
        {"utilisationPct", pct(s->used, s->total), 1},
    };

    for (size_t i = 0; i < sizeof(gpu_hours) / sizeof(gpu_hours[0]); i++) {
        buf_printf(b, "%s\"%s\":", i ? "," : "", gpu_hours[i].key);
        put_num(b, gpu_hours[i].v, gpu_hours[i].decimals);
    }
    buf_printf(b,
               ",\"jobsPlaced\":%" PRId64 ",\"jobsSucceeded\":%" PRId64 ",\"jobsFailed\":%" PRId64
               ",\"jobsPreempted\":%" PRId64,
               s->placed, s->succeeded, s->failed, s->preempted);
    put_key(b, "gpuHoursLostToReclaim");
    put_num(b, s->lost, 3);
}

/* A figure that may be unknown (null). */
static void put_opt(struct buf *b, const char *key, bool known, double v)
{
    put_key(b, key);
    if (known)
        put_num(b, v, 3);
    else
        buf_puts(b, "null");
}

/* The filters of o, each a list of the names it keeps: {} when none is set. */
static void put_filters(struct buf *b, const struct store_report_opts *o)
{
    const char *const keys[3] = {"cluster", "sku", "pool"};
    const char *const lists[3] = {o->clusters, o->skus, o->pools};
    bool first = true;

    buf_puts(b, "{");
    for (int i = 0; i < 3; i++) {
        const char *p = lists[i];

        if (!*p)
            continue;
        buf_printf(b, "%s\"%s\":[", first ? "" : ",", keys[i]);
        first = false;
        for (bool one = true;; one = false) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            char name[STORE_REPORT_FILTER_MAX];

            snprintf(name, sizeof(name), "%.*s", (int)n, p);
            if (!one)
                buf_puts(b, ",");
            buf_json_str(b, name);
            if (!comma)
                break;
            p = comma + 1;
        }
        buf_puts(b, "]");
    }
    buf_puts(b, "}");
}

/* "; cluster a,b; pool serving" for the filters of o, "" when none is set. */
static void filters_text(const struct store_report_opts *o, struct buf *b)
{
    if (*o->clusters)
        buf_printf(b, "; cluster %s", o->clusters);
    if (*o->skus)
        buf_printf(b, "; sku %s", o->skus);
    if (*o->pools)
        buf_printf(b, "; pool %s", o->pools);
}

static void render_json(const struct store_report *r, struct buf *b)
{
    struct sum *t, *f;
    size_t nt, nf;

    buf_puts(b, "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"CapacityReport\"");
    put_time(b, "from", r->opts.from_ms);
    put_time(b, "to", r->opts.to_ms);
    buf_printf(b, ",\"stepSeconds\":%" PRId64 ",\"filters\":", r->opts.step_ms / 1000);
    put_filters(b, &r->opts);
    buf_puts(b, ",\"rows\":[");
    for (size_t i = 0; i < r->n_rows; i++) {
        const struct store_report_row *w = &r->rows[i];
        struct sum one = {.key = w};

        sum_add(&one, w);
        buf_puts(b, i ? ",{" : "{");
        put_sum(b, &one);
        put_time(b, "start", w->start_ms);
        put_time(b, "end", w->end_ms);
        put_name(b, "cluster", w->cluster);
        put_name(b, "sku", w->sku);
        put_name(b, "pool", w->pool);
        put_opt(b, "queueWaitP50Seconds", w->wait_p50_s >= 0, w->wait_p50_s);
        put_opt(b, "queueWaitP95Seconds", w->wait_p95_s >= 0, w->wait_p95_s);
        if (is_serving(w)) {
            put_opt(b, "servingGpusMean", true, serving_mean(w));
            put_opt(b, "forecastP50", w->forecast_known, w->forecast_p50);
            put_opt(b, "forecastP95", w->forecast_known, w->forecast_p95);
        }
        buf_puts(b, "}");
    }
    buf_puts(b, "],\"totals\":[");
    t = totals(r, &nt);
    for (size_t i = 0; i < nt; i++) {
        buf_puts(b, i ? ",{" : "{");
        put_sum(b, &t[i]);
        put_name(b, "cluster", t[i].key->cluster);
        put_name(b, "sku", t[i].key->sku);
        put_name(b, "pool", t[i].key->pool);
        buf_puts(b, "}");
    }
    buf_puts(b, "],\"federation\":[");
    f = federation(r, &nf);
    for (size_t i = 0; i < nf; i++) {
        buf_puts(b, i ? ",{" : "{");
        put_sum(b, &f[i]);
        put_time(b, "start", f[i].start_ms);
        buf_puts(b, "}");
    }
    buf_puts(b, "],\"queueWaitBySku\":[");
    for (size_t i = 0; i < r->n_waits; i++) {
        buf_puts(b, i ? ",{\"sku\":" : "{\"sku\":");
        put_clean(b, r->waits[i].sku);
        buf_printf(b, ",\"jobs\":%" PRId64, r->waits[i].jobs);
        put_opt(b, "p50Seconds", true, r->waits[i].p50_s);
        put_opt(b, "p95Seconds", true, r->waits[i].p95_s);
        buf_puts(b, "}");
    }
    buf_puts(b, "]}");
    free(t);
    free(f);
}

/* ---- Markdown ---- */

/* Whether r has a row of pool "serving": the forecast sections show only then. */
static bool has_serving(const struct store_report *r)
{
    for (size_t i = 0; i < r->n_rows; i++)
        if (is_serving(&r->rows[i]))
            return true;
    return false;
}

static void forecast_table(const struct store_report *r, struct buf *b, bool html);

static void render_md(const struct store_report *r, struct buf *b)
{
    char a[40], z[40];
    struct sum *t, *f;
    size_t nt, nf;

    time_text(r->opts.from_ms, a, sizeof(a));
    time_text(r->opts.to_ms, z, sizeof(z));
    buf_printf(b, "# fedsched capacity report\n\n%s to %s, step %" PRId64 " s", a, z,
               r->opts.step_ms / 1000);
    filters_text(&r->opts, b);
    buf_puts(b, "\n\n");
    buf_puts(b, "## Totals by cluster, SKU and pool\n\n"
                "| cluster | sku | pool | GPU-h total | training | serving | borrowed | idle | "
                "of it unavailable | util % | placed | succeeded | failed | preempted | GPU-h lost "
                "to reclaim |\n"
                "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    t = totals(r, &nt);
    for (size_t i = 0; i < nt; i++)
        buf_printf(b,
                   "| %s | %s | %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.1f | %" PRId64
                   " | %" PRId64 " | %" PRId64 " | %" PRId64 " | %.3f |\n",
                   t[i].key->cluster, t[i].key->sku, t[i].key->pool, t[i].total, t[i].training,
                   t[i].serving, t[i].borrowed, t[i].idle, t[i].unavailable,
                   pct(t[i].used, t[i].total), t[i].placed, t[i].succeeded, t[i].failed,
                   t[i].preempted, t[i].lost);
    if (nt == 0)
        buf_puts(b, "| (no capacity samples or job events in this window) ||||||||||||||| \n");
    buf_puts(b, "\n## Queue wait by SKU\n\n| sku | jobs placed | p50 s | p95 s |\n"
                "|---|---:|---:|---:|\n");
    for (size_t i = 0; i < r->n_waits; i++)
        buf_printf(b, "| %s | %" PRId64 " | %.3f | %.3f |\n", r->waits[i].sku, r->waits[i].jobs,
                   r->waits[i].p50_s, r->waits[i].p95_s);
    forecast_table(r, b, false);
    buf_puts(b, "\n## Federation by step\n\n| start | GPU-h total | training | serving | "
                "borrowed | idle | util % |\n|---|---:|---:|---:|---:|---:|---:|\n");
    f = federation(r, &nf);
    for (size_t i = 0; i < nf; i++) {
        time_text(f[i].start_ms, a, sizeof(a));
        buf_printf(b, "| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.1f |\n", a, f[i].total,
                   f[i].training, f[i].serving, f[i].borrowed, f[i].idle,
                   pct(f[i].used, f[i].total));
    }
    free(t);
    free(f);
}

/* ---- HTML with inline SVG ---- */

static void html_text(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '&': buf_puts(b, "&amp;"); break;
        case '"': buf_puts(b, "&quot;"); break;
        default: buf_append(b, s, 1);
        }
    }
}

#define C_TRAINING "#4e79a7"
#define C_SERVING  "#f28e2b"
#define C_IDLE     "#d7d2cc"
#define C_BORROWED "#e15759"

/* Stacked bars per step (training, serving, idle GPU-hours) with borrowed as a line. */
static void svg_timeline(struct buf *b, const struct sum *f, size_t n, int64_t step_ms)
{
    const double W = 760, H = 240, L = 56, R = 12, T = 16, B = 40;
    double pw = W - L - R, ph = H - T - B, max = 0, bw;
    char t[40];

    for (size_t i = 0; i < n; i++)
        if (f[i].training + f[i].serving + f[i].idle > max)
            max = f[i].training + f[i].serving + f[i].idle;
    if (max <= 0)
        max = 1;
    bw = n ? pw / (double)n : pw;
    buf_printf(b,
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"GPU-hours by step\" "
               "font-family=\"sans-serif\" font-size=\"11\">\n",
               W, H, W, H);
    for (int g = 0; g <= 4; g++) {
        double y = T + ph - ph * g / 4.0;

        buf_printf(b,
                   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#555\">%.1f</text>\n",
                   L, y, W - R, y, L - 4, y + 4, max * g / 4.0);
    }
    for (size_t i = 0; i < n; i++) {
        double x = L + bw * (double)i, y = T + ph;
        const double v[3] = {f[i].training, f[i].serving, f[i].idle};
        const char *c[3] = {C_TRAINING, C_SERVING, C_IDLE};

        for (int k = 0; k < 3; k++) {
            double h = ph * v[k] / max;

            if (h <= 0)
                continue;
            y -= h;
            buf_printf(b,
                       "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                       "fill=\"%s\"/>\n",
                       x + bw * 0.1, y, bw * 0.8, h, c[k]);
        }
    }
    if (n > 0) {
        buf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                   C_BORROWED);
        for (size_t i = 0; i < n; i++)
            buf_printf(b, "%.1f,%.1f ", L + bw * ((double)i + 0.5),
                       T + ph - ph * f[i].borrowed / max);
        buf_puts(b, "\"/>\n");
    }
    for (size_t i = 0; i < n; i += (n + 7) / 8) {
        time_text(f[i].start_ms, t, sizeof(t));
        /* "2026-11-28T02:00": the date matters for daily steps, the hour for the rest. */
        t[step_ms >= 86400000 ? 10 : 16] = '\0';
        buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">%s</text>\n", L + bw * (double)i,
                   H - B + 16, t);
    }
    buf_printf(
        b,
        "<g transform=\"translate(%.0f,%.0f)\">"
        "<rect width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"14\" y=\"9\">training</text>"
        "<rect x=\"80\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"94\" "
        "y=\"9\">serving</text>"
        "<rect x=\"160\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"174\" "
        "y=\"9\">idle</text>"
        "<rect x=\"220\" y=\"4\" width=\"10\" height=\"2\" fill=\"%s\"/><text x=\"234\" "
        "y=\"9\">borrowed</text></g>\n</svg>\n",
        L, H - 14, C_TRAINING, C_SERVING, C_IDLE, C_BORROWED);
}

/* Horizontal bars: one value per label, scaled to max (or 100 for percentages). */
static void svg_bars(struct buf *b, const char *title, const char *const *labels,
                     const double *values, const double *second, size_t n, double max,
                     const char *unit)
{
    const double W = 760, L = 180, R = 80, row = second ? 30 : 22;
    double H = 16 + row * (double)(n ? n : 1), pw = W - L - R;

    for (size_t i = 0; max <= 0 && i < n; i++) {
        if (values[i] > max)
            max = values[i];
        if (second && second[i] > max)
            max = second[i];
    }
    if (max <= 0)
        max = 1;
    buf_printf(b,
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"",
               W, H, W, H);
    html_text(b, title);
    buf_puts(b, "\" font-family=\"sans-serif\" font-size=\"11\">\n");
    for (size_t i = 0; i < n; i++) {
        double y = 8 + row * (double)i;

        buf_printf(b, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">", L - 6, y + 12);
        html_text(b, labels[i]);
        buf_printf(b,
                   "</text><rect x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"12\" "
                   "fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">%.1f%s</text>\n",
                   L, y + 2, pw * values[i] / max, C_TRAINING, L + pw * values[i] / max + 4, y + 12,
                   values[i], unit);
        if (second)
            buf_printf(b,
                       "<rect x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"10\" fill=\"%s\"/>"
                       "<text x=\"%.1f\" y=\"%.1f\">p95 %.1f%s</text>\n",
                       L, y + 15, pw * second[i] / max, C_SERVING, L + pw * second[i] / max + 4,
                       y + 24, second[i], unit);
    }
    if (n == 0)
        buf_puts(b, "<text x=\"8\" y=\"20\" fill=\"#555\">no data in this window</text>\n");
    buf_puts(b, "</svg>\n");
}

/* Serving demand by step, cluster and SKU: the mean actual beside the forecast ("-" where
 * the forecast does not know the step), as a Markdown or an HTML table. */
static void forecast_table(const struct store_report *r, struct buf *b, bool html)
{
    if (!has_serving(r))
        return;
    buf_puts(b, html ? "<h2>Serving demand: forecast against actual</h2>\n<table><tr>"
                       "<th>start</th><th>cluster</th><th>sku</th><th>serving GPUs (mean)</th>"
                       "<th>forecast p50</th><th>forecast p95</th></tr>\n"
                     : "\n## Serving demand: forecast against actual\n\n| start | cluster | "
                       "sku | serving GPUs (mean) | forecast p50 | forecast p95 |\n"
                       "|---|---|---|---:|---:|---:|\n");
    for (size_t i = 0; i < r->n_rows; i++) {
        const struct store_report_row *w = &r->rows[i];
        char a[40], fm[32], f50[32], f95[32];

        if (!is_serving(w))
            continue;
        time_text(w->start_ms, a, sizeof(a));
        forecast_text(w, fm, f50, f95, sizeof(fm));
        if (!html) {
            buf_printf(b, "| %s | %s | %s | %s | %s | %s |\n", a, w->cluster, w->sku, fm,
                       *f50 ? f50 : "-", *f95 ? f95 : "-");
            continue;
        }
        buf_printf(b, "<tr><td>%s</td><td>", a);
        html_text(b, w->cluster);
        buf_puts(b, "</td><td>");
        html_text(b, w->sku);
        buf_printf(b, "</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", fm, *f50 ? f50 : "-",
                   *f95 ? f95 : "-");
    }
    if (html)
        buf_puts(b, "</table>\n");
}

static void render_html(const struct store_report *r, struct buf *b)
{
    struct buf flt;
    char a[40], z[40];
    struct sum *t, *f, *c;
    size_t nt, nf, nc, nu;
    const char **labels;
    double *v1, *v2;

    time_text(r->opts.from_ms, a, sizeof(a));
    time_text(r->opts.to_ms, z, sizeof(z));
    t = totals(r, &nt);
    f = federation(r, &nf);
    c = by_cluster(r, &nc);
    buf_printf(b,
               "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<title>fedsched capacity report %s to %s</title>\n"
               "<style>body{font-family:sans-serif;color:#222;margin:24px;max-width:1100px}"
               "h1{font-size:20px}h2{font-size:16px;margin-top:28px}"
               "table{border-collapse:collapse;font-size:12px}"
               "th,td{border:1px solid #ddd;padding:3px 6px;text-align:right}"
               "th:nth-child(-n+3),td:nth-child(-n+3){text-align:left}"
               "th{background:#f4f4f4}.meta{color:#555}</style></head><body>\n"
               "<h1>fedsched capacity report</h1>\n<p class=\"meta\">%s to %s, step %" PRId64 " s",
               a, z, a, z, r->opts.step_ms / 1000);
    buf_init(&flt, 0);
    filters_text(&r->opts, &flt);
    html_text(b, flt.data ? flt.data : "");
    buf_free(&flt);
    buf_puts(b, "</p>\n<h2>Federation GPU-hours by step</h2>\n");
    svg_timeline(b, f, nf, r->opts.step_ms);

    labels = xcalloc(nc + r->n_waits + 1, sizeof(*labels));
    v1 = xcalloc(nc + r->n_waits + 1, sizeof(*v1));
    v2 = xcalloc(nc + r->n_waits + 1, sizeof(*v2));
    buf_puts(b, "<h2>Utilisation by cluster</h2>\n");
    /* Clusters without capacity ("-": events of jobs never placed) have no utilisation. */
    nu = 0;
    for (size_t i = 0; i < nc; i++) {
        if (c[i].total <= 0)
            continue;
        labels[nu] = c[i].key->cluster;
        v1[nu++] = pct(c[i].used, c[i].total);
    }
    svg_bars(b, "utilisation by cluster", labels, v1, NULL, nu, 100, "%");
    buf_puts(b, "<h2>Queue wait by SKU (p50, p95)</h2>\n");
    for (size_t i = 0; i < r->n_waits; i++) {
        labels[i] = r->waits[i].sku;
        v1[i] = r->waits[i].p50_s;
        v2[i] = r->waits[i].p95_s;
    }
    svg_bars(b, "queue wait by SKU", labels, v1, v2, r->n_waits, 0, " s");

    buf_puts(b, "<h2>Totals by cluster, SKU and pool</h2>\n<table><tr><th>cluster</th>"
                "<th>sku</th><th>pool</th><th>GPU-h total</th><th>training</th><th>serving</th>"
                "<th>borrowed</th><th>idle</th><th>of it unavailable</th><th>util %</th>"
                "<th>placed</th><th>succeeded</th>"
                "<th>failed</th><th>preempted</th><th>GPU-h lost to reclaim</th></tr>\n");
    for (size_t i = 0; i < nt; i++) {
        buf_puts(b, "<tr><td>");
        html_text(b, t[i].key->cluster);
        buf_puts(b, "</td><td>");
        html_text(b, t[i].key->sku);
        buf_puts(b, "</td><td>");
        html_text(b, t[i].key->pool);
        buf_printf(b,
                   "</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td>"
                   "<td>%.3f</td><td>%.1f</td><td>%" PRId64 "</td><td>%" PRId64 "</td><td>%" PRId64
                   "</td><td>%" PRId64 "</td><td>%.3f</td></tr>\n",
                   t[i].total, t[i].training, t[i].serving, t[i].borrowed, t[i].idle,
                   t[i].unavailable, pct(t[i].used, t[i].total), t[i].placed, t[i].succeeded,
                   t[i].failed, t[i].preempted, t[i].lost);
    }
    buf_puts(b, "</table>\n<h2>Queue wait by SKU</h2>\n<table><tr><th>sku</th><th>jobs placed"
                "</th><th>p50 s</th><th>p95 s</th></tr>\n");
    for (size_t i = 0; i < r->n_waits; i++) {
        buf_puts(b, "<tr><td>");
        html_text(b, r->waits[i].sku);
        buf_printf(b, "</td><td>%" PRId64 "</td><td>%.3f</td><td>%.3f</td></tr>\n",
                   r->waits[i].jobs, r->waits[i].p50_s, r->waits[i].p95_s);
    }
    buf_puts(b, "</table>\n");
    forecast_table(r, b, true);
    buf_puts(b, "</body></html>\n");
    free(labels);
    free(v1);
    free(v2);
    free(t);
    free(f);
    free(c);
}

char *reports_render(const struct store_report *r, enum wire_report_format f)
{
    struct buf b;

    buf_init(&b, 0);
    switch (f) {
    case WIRE_REPORT_CSV: render_csv(r, &b); break;
    case WIRE_REPORT_MD: render_md(r, &b); break;
    case WIRE_REPORT_HTML: render_html(r, &b); break;
    case WIRE_REPORT_JSON: render_json(r, &b); break;
    }
    if (!b.data)
        buf_puts(&b, "");
    return buf_steal(&b);
}
