/* serving.c -- serving pods from the openb LS pods and the Azure LLM trace (serving.h). */
#include "whatif/serving.h"

#include "base/err.h"
#include "base/mem.h"
#include "base/num.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

void whatif_azure_rule_defaults(struct whatif_azure_rule *r)
{
    r->prefill_tps = 800;
    r->decode_tps = 40;
    r->target_util = 0.8;
    r->gpus_per_replica = 1;
    r->night = 0.25;
    r->peak_hour = 14;
    r->weekend = 0.6;
    r->scale_down_s = 300;
}

/* ---- the reduced Azure trace ------------------------------------------------------------- */

/* The next line of text[*pos..len) into line (NUL-terminated, at most size - 1 bytes; a
 * longer line is an error); false at the end. */
static int next_line(const char *text, size_t len, size_t *pos, char *line, size_t size, bool *ok)
{
    size_t a = *pos, b = a;

    *ok = true;
    if (a >= len)
        return 0;
    while (b < len && text[b] != '\n')
        b++;
    *pos = b < len ? b + 1 : b;
    if (b > a && text[b - 1] == '\r')
        b--;
    if (b - a >= size) {
        *ok = false;
        return 1;
    }
    memcpy(line, text + a, b - a);
    line[b - a] = '\0';
    return 1;
}

int whatif_azure_parse(const char *text, size_t len, const char *what,
                       struct whatif_azure_minute **out, size_t *n, struct err *e)
{
    struct whatif_azure_minute *v = NULL;
    size_t pos = 0, k = 0, lineno = 0;
    bool header = false, ok;
    char line[256];

    v = xcalloc(WHATIF_AZURE_ROWS + 1, sizeof(*v));
    while (next_line(text, len, &pos, line, sizeof(line), &ok)) {
        int64_t f[4];
        char *p = line;

        lineno++;
        if (!ok) {
            err_set(e, ERR_MALFORMED, "line", "%s:%zu: line too long", what, lineno);
            goto fail;
        }
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (!header) {
            if (strcmp(line, "minute,requests,context_tokens,generated_tokens") != 0) {
                err_set(e, ERR_MALFORMED, "header",
                        "%s:%zu: header is not minute,requests,context_tokens,generated_tokens",
                        what, lineno);
                goto fail;
            }
            header = true;
            continue;
        }
        for (int i = 0; i < 4; i++) {
            char *c = strchr(p, ',');

            if ((c == NULL) != (i == 3)) {
                err_set(e, ERR_MALFORMED, "row", "%s:%zu: a row has 4 fields", what, lineno);
                goto fail;
            }
            if (c)
                *c = '\0';
            if (num_parse_i64(p, 0, INT64_MAX / 4, &f[i])) {
                err_set(e, ERR_MALFORMED, "row", "%s:%zu: field %d '%s' is not a count", what,
                        lineno, i + 1, p);
                goto fail;
            }
            p = c ? c + 1 : p;
        }
        if (f[0] != (int64_t)k) {
            err_set(e, ERR_MALFORMED, "minute", "%s:%zu: minute %lld, expected %zu", what, lineno,
                    (long long)f[0], k);
            goto fail;
        }
        if (k == WHATIF_AZURE_ROWS) {
            err_set(e, ERR_INVALID, "minute", "%s: more than %d minutes", what, WHATIF_AZURE_ROWS);
            goto fail;
        }
        v[k].requests = f[1];
        v[k].context_tokens = f[2];
        v[k].generated_tokens = f[3];
        k++;
    }
    if (k == 0) {
        err_set(e, ERR_INVALID, "minute", "%s: no minute of requests", what);
        goto fail;
    }
    *out = v;
    *n = k;
    return 0;
fail:
    free(v);
    return -1;
}

int whatif_azure_replicas(const struct whatif_azure_rule *r, const struct whatif_azure_minute *m,
                          double factor)
{
    double load = (double)m->context_tokens / 60.0 / r->prefill_tps +
                  (double)m->generated_tokens / 60.0 / r->decode_tps;
    /* A hair below a whole number is that number: the factor's cosine is not exact. */
    double x = ceil(load * factor / r->target_util - 1e-9);

    return x < 0 ? 0 : x > 1e6 ? 1000000 : (int)x;
}

double whatif_azure_factor(const struct whatif_azure_rule *r, int64_t m)
{
    int64_t day = m / 1440;
    double h = (double)(m % 1440) / 60.0;
    double f = r->night + (1.0 - r->night) * 0.5 * (1.0 + cos(2 * PI * (h - r->peak_hour) / 24.0));

    return day >= 5 ? f * r->weekend : f; /* days 5 and 6: Saturday, Sunday */
}

static struct whatif_serving *serving_new(const char *what)
{
    struct whatif_serving *s = xcalloc(1, sizeof(*s));

    snprintf(s->what, sizeof(s->what), "%s", what);
    return s;
}

int whatif_serving_azure(const struct whatif_azure_minute *rows, size_t n,
                         const struct whatif_azure_rule *r, const char *what,
                         struct whatif_serving **out, struct err *e)
{
    struct whatif_serving *s;
    int *raw;
    int64_t keep = r->scale_down_s / 60;

    if (n == 0)
        return err_set(e, ERR_INVALID, "minute", "%s: no minute of requests", what);
    if (!(r->prefill_tps > 0) || !(r->decode_tps > 0) || !(r->target_util > 0) ||
        r->target_util > 1 || r->gpus_per_replica < 1 || r->gpus_per_replica > WHATIF_SPOD_GPUSMX ||
        !(r->night >= 0) || r->night > 1 || !(r->weekend >= 0) || r->weekend > 1 ||
        !(r->peak_hour >= 0) || r->peak_hour >= 24 || r->scale_down_s < 0 ||
        r->scale_down_s > 86400)
        return err_set(e, ERR_INVALID, "azure_rule",
                       "%s: the replica rule needs prefill and decode rates > 0, a target "
                       "utilisation in (0, 1], 1 to %d GPUs a replica, night and weekend "
                       "factors in [0, 1], a peak hour in [0, 24) and a scale-down window of "
                       "0 to 86400 s",
                       what, WHATIF_SPOD_GPUSMX);
    s = serving_new(what);
    s->period_ms = WHATIF_WEEK_MS;
    s->n_curve = WHATIF_WEEK_MIN;
    s->curve = xcalloc(WHATIF_WEEK_MIN + 1, sizeof(int));
    raw = xcalloc(WHATIF_WEEK_MIN + 1, sizeof(int));
    for (int64_t m = 0; m < WHATIF_WEEK_MIN; m++) {
        int64_t hour = m / 60;
        size_t src = (size_t)(((m % 60) + 17 * hour) % (int64_t)n);

        raw[m] = whatif_azure_replicas(r, &rows[src], whatif_azure_factor(r, m));
    }
    /* The scale-down window, read around the week (it repeats). */
    for (int64_t m = 0; m < WHATIF_WEEK_MIN; m++) {
        int best = 0;

        for (int64_t k = 0; k <= keep; k++) {
            int x = raw[(m - k + WHATIF_WEEK_MIN) % WHATIF_WEEK_MIN];

            if (x > best)
                best = x;
        }
        s->curve[m] = best * r->gpus_per_replica;
        if (s->curve[m] > s->peak_gpus)
            s->peak_gpus = s->curve[m];
        s->gpu_hours += (double)s->curve[m] / 60.0;
    }
    free(raw);
    *out = s;
    return 0;
}

/* ---- openb LS pods ------------------------------------------------------------------------- */

static int cmp_spod(const void *a, const void *b)
{
    const struct whatif_spod *x = a, *y = b;

    if (x->arrive_ms != y->arrive_ms)
        return x->arrive_ms < y->arrive_ms ? -1 : 1;
    if (x->leave_ms != y->leave_ms)
        return x->leave_ms < y->leave_ms ? -1 : 1;
    return (x->gpus > y->gpus) - (x->gpus < y->gpus);
}

int whatif_serving_openb(const struct trace_openb_pod *pods, size_t n, double start_s,
                         double length_s, struct whatif_serving **out, struct err *e)
{
    struct whatif_serving *s;
    int64_t a0 = (int64_t)llround(start_s * 1000.0), len = (int64_t)llround(length_s * 1000.0);
    size_t k = 0;

    if (!(start_s >= 0) || !(length_s >= 60))
        return err_set(e, ERR_INVALID, "serving_length_s",
                       "openb LS pods: the window needs a start >= 0 and a length of 60 s or more");
    s = serving_new("openb LS pods");
    s->period_ms = len;
    s->pods = xcalloc(n + 1, sizeof(*s->pods));
    for (size_t i = 0; i < n; i++) {
        const struct trace_openb_pod *p = &pods[i];
        int64_t a, b;
        int g;

        if (strcmp(p->qos, "LS") != 0 || p->num_gpu <= 0 || p->creation_s < 0)
            continue;
        g = (int)((int64_t)p->num_gpu * p->gpu_milli + 999) / 1000;
        if (g <= 0)
            continue;
        a = p->creation_s * 1000 - a0;
        b = (p->deletion_s >= 0 ? p->deletion_s * 1000 : INT64_MAX / 4) - a0;
        if (b <= 0 || a >= len || b <= a)
            continue;
        if (a < 0)
            a = 0;
        if (b > len)
            b = len;
        s->pods[k++] = (struct whatif_spod){a, b, g > WHATIF_SPOD_GPUSMX ? WHATIF_SPOD_GPUSMX : g};
    }
    if (k == 0) {
        whatif_serving_free(&s);
        return err_set(e, ERR_INVALID, "serving_start_s",
                       "openb LS pods: no LS pod with GPUs in [%.0f, %.0f) s", start_s,
                       start_s + length_s);
    }
    s->n_pods = k;
    qsort(s->pods, k, sizeof(*s->pods), cmp_spod);
    /* Peak and GPU-hours: a sweep over arrivals and departures (departures first). */
    {
        struct whatif_spod *ev = xcalloc(2 * k + 1, sizeof(*ev));
        int cur = 0;

        for (size_t i = 0; i < k; i++) {
            ev[2 * i] = (struct whatif_spod){s->pods[i].arrive_ms, 0, s->pods[i].gpus};
            ev[2 * i + 1] = (struct whatif_spod){s->pods[i].leave_ms, 0, -s->pods[i].gpus};
            s->gpu_hours += (double)s->pods[i].gpus *
                            (double)(s->pods[i].leave_ms - s->pods[i].arrive_ms) / 3.6e6;
        }
        qsort(ev, 2 * k, sizeof(*ev), cmp_spod);
        for (size_t i = 0; i < 2 * k; i++) {
            cur += ev[i].gpus;
            if (cur > s->peak_gpus)
                s->peak_gpus = cur;
        }
        free(ev);
    }
    *out = s;
    return 0;
}

void whatif_serving_free(struct whatif_serving **s)
{
    if (!s || !*s)
        return;
    free((*s)->curve);
    free((*s)->pods);
    free(*s);
    *s = NULL;
}

static int64_t mod(int64_t a, int64_t m)
{
    int64_t r = a % m;

    return r < 0 ? r + m : r;
}

int whatif_serving_at(const struct whatif_serving *s, int64_t t_ms)
{
    int64_t t = mod(t_ms, s->period_ms);
    int g = 0;

    if (s->curve)
        return s->curve[(size_t)(t / WHATIF_MINUTE_MS) % s->n_curve];
    for (size_t i = 0; i < s->n_pods && s->pods[i].arrive_ms <= t; i++)
        if (s->pods[i].leave_ms > t)
            g += s->pods[i].gpus;
    return g;
}

struct pods {
    struct whatif_spod *v;
    size_t n, cap;
};

static int pods_add(struct pods *p, int64_t a, int64_t b, int g, struct err *e)
{
    if (p->n == WHATIF_SPODS_MAX)
        return err_set(e, ERR_INVALID, "serving",
                       "more than %d serving pods over the run: shorten it", WHATIF_SPODS_MAX);
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 1024;
        p->v = xrealloc(p->v, p->cap * sizeof(*p->v));
    }
    p->v[p->n++] = (struct whatif_spod){a, b, g};
    return 0;
}

int whatif_serving_pods(const struct whatif_serving *s, int64_t shift_ms, int64_t horizon_ms,
                        struct whatif_spod **out, size_t *n, struct err *e)
{
    struct pods p = {0};
    int64_t sh = mod(shift_ms, s->period_ms);

    if (s->curve) {
        /* Level k (1-based GPUs) opened at open[k - 1]; the curve is read per minute. */
        int64_t *open = NULL;
        int level = 0, cap = 0;

        for (int64_t t = 0;; t += WHATIF_MINUTE_MS) {
            int want = t < horizon_ms ? whatif_serving_at(s, t + sh) : 0;

            if (want > cap) {
                open = xrealloc(open, (size_t)want * sizeof(*open));
                cap = want;
            }
            for (; level < want; level++)
                open[level] = t;
            for (; level > want; level--)
                if (pods_add(&p, open[level - 1], t, 1, e)) {
                    free(open);
                    free(p.v);
                    return -1;
                }
            if (t >= horizon_ms)
                break;
        }
        free(open);
    } else {
        for (int64_t w = 0; w * s->period_ms - sh < horizon_ms; w++)
            for (size_t i = 0; i < s->n_pods; i++) {
                int64_t a = s->pods[i].arrive_ms + w * s->period_ms - sh;
                int64_t b = s->pods[i].leave_ms + w * s->period_ms - sh;

                if (b <= 0 || a >= horizon_ms)
                    continue;
                if (pods_add(&p, a < 0 ? 0 : a, b > horizon_ms ? horizon_ms : b, s->pods[i].gpus,
                             e)) {
                    free(p.v);
                    return -1;
                }
            }
    }
    if (p.n)
        qsort(p.v, p.n, sizeof(*p.v), cmp_spod);
    *out = p.v ? p.v : xcalloc(1, sizeof(*p.v));
    *n = p.n;
    return 0;
}

void whatif_ckpt_first(int64_t start_ms, int64_t checkpoint_ms, int64_t request_ms,
                       int64_t deadline_ms, int64_t write_ms, int64_t grace_ms,
                       struct whatif_ckpt *out)
{
    int64_t ran;

    if (request_ms + write_ms <= deadline_ms) {
        out->in_time = true;
        out->delete_ms = request_ms + write_ms;
        out->kill_ms = out->delete_ms + grace_ms;
        out->kept_ms = request_ms - start_ms;
        return;
    }
    out->in_time = false;
    out->delete_ms = deadline_ms > request_ms ? deadline_ms : request_ms;
    out->kill_ms = out->delete_ms + grace_ms;
    ran = out->kill_ms - start_ms;
    out->kept_ms = checkpoint_ms > 0 ? ran / checkpoint_ms * checkpoint_ms : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

double whatif_pct(double *v, size_t n, double p)
{
    size_t k;

    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), cmp_double);
    k = (size_t)ceil(p * (double)n) - 1;
    if (k >= n)
        k = n - 1;
    return v[k];
}
