/* forecast.c -- serving demand by time of week: decayed per-slot sketches read as
 * quantiles (the method and why: forecast.h). */
#include "policy/forecast.h"

#include "base/err.h"
#include "base/mem.h"
#include "policy/tz.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS  INT64_C(86400000)
#define WEEK_MS (7 * DAY_MS)
#define HOUR_MS INT64_C(3600000)
/* A point lighter than this (decayed seconds) is dropped: 2^-20 of one second. */
#define WEIGHT_FLOOR (1.0 / 1048576.0)

/* One slot: points sorted by value, weights as of t_ref. */
struct slot {
    int64_t t_ref;
    float v[FORECAST_POINTS];
    float w[FORECAST_POINTS];
    int n;
};

struct forecast {
    struct forecast_params p;
    struct tz_rule tz;
    bool have_last;
    int64_t last_t;
    int last_v;
    struct slot slots[FORECAST_SLOTS];
};

void forecast_params_default(struct forecast_params *p)
{
    p->half_life_ms = 7 * DAY_MS;
    p->max_gap_ms = 10 * 60 * 1000;
    p->min_weight_s = 60;
}

int forecast_new(const struct forecast_params *p, const struct tz_rule *tz, struct forecast **out,
                 struct err *e)
{
    struct forecast *f;

    if (p->half_life_ms < HOUR_MS || p->half_life_ms > 365 * DAY_MS)
        return err_set(e, ERR_INVALID, "half_life_ms",
                       "half-life must be 1 h to 365 days, got %" PRId64 " ms", p->half_life_ms);
    if (p->max_gap_ms < 1000 || p->max_gap_ms > DAY_MS)
        return err_set(e, ERR_INVALID, "max_gap_ms",
                       "max gap must be 1 s to 1 day, got %" PRId64 " ms", p->max_gap_ms);
    if (!(p->min_weight_s >= 0 && p->min_weight_s <= 7 * 86400.0))
        return err_set(e, ERR_INVALID, "min_weight_s", "min weight must be 0 to 604800 s, got %g",
                       p->min_weight_s);
    f = xcalloc(1, sizeof(*f));
    f->p = *p;
    if (tz)
        f->tz = *tz;
    else
        tz_parse(NULL, &f->tz, NULL);
    *out = f;
    return 0;
}

void forecast_free(struct forecast **f)
{
    if (!f || !*f)
        return;
    free(*f);
    *f = NULL;
}

int forecast_demand(int used, int borrowed, int pending)
{
    int serving = used - borrowed;

    return (serving > 0 ? serving : 0) + (pending > 0 ? pending : 0);
}

static int64_t floor_mod(int64_t a, int64_t m)
{
    int64_t r = a % m;

    return r < 0 ? r + m : r;
}

/* The slot of utc_ms, and (in *next, when not NULL) the UTC instant its slot ends: the
 * next local quarter hour. */
static int slot_at(const struct tz_rule *tz, int64_t utc_ms, int64_t *next)
{
    struct tz_local l;

    tz_local_at(tz, utc_ms, &l);
    if (next)
        *next = utc_ms + FORECAST_SLOT_MS -
                floor_mod(utc_ms + (int64_t)l.off_s * 1000, FORECAST_SLOT_MS);
    return l.wday * 96 + l.minute_of_day / 15;
}

int forecast_slot(const struct tz_rule *tz, int64_t utc_ms)
{
    return slot_at(tz, utc_ms, NULL);
}

int64_t forecast_latest(const struct forecast *f)
{
    return f->have_last ? f->last_t : INT64_MIN;
}

static double decay_factor(const struct forecast *f, int64_t from, int64_t to)
{
    if (to <= from)
        return 1.0;
    return exp2(-(double)(to - from) / (double)f->p.half_life_ms);
}

/* Brings s's weights forward to t, dropping points that decayed to nothing. */
static void slot_decay(const struct forecast *f, struct slot *s, int64_t t)
{
    double k = decay_factor(f, s->t_ref, t);
    int m = 0;

    if (t > s->t_ref)
        s->t_ref = t;
    if (k == 1.0)
        return;
    for (int i = 0; i < s->n; i++) {
        double w = s->w[i] * k;

        if (w < WEIGHT_FLOOR)
            continue;
        s->v[m] = s->v[i];
        s->w[m] = (float)w;
        m++;
    }
    s->n = m;
}

/* Adds weight w (seconds) at value v to s, whose weights are current. */
static void slot_add(struct slot *s, float v, double w)
{
    float vv[FORECAST_POINTS + 1], ww[FORECAST_POINTS + 1];
    int n = 0, at = 0, best = -1;
    double best_cost = 0;

    for (int i = 0; i < s->n; i++) {
        if (s->v[i] == v) {
            s->w[i] = (float)(s->w[i] + w);
            return;
        }
    }
    while (at < s->n && s->v[at] < v)
        at++;
    for (int i = 0; i < s->n; i++) {
        if (i == at) {
            vv[n] = v;
            ww[n++] = (float)w;
        }
        vv[n] = s->v[i];
        ww[n++] = s->w[i];
    }
    if (at == s->n) {
        vv[n] = v;
        ww[n++] = (float)w;
    }
    if (n > FORECAST_POINTS) {
        /* Merge the neighbours whose merge moves the least mass. */
        for (int i = 0; i + 1 < n; i++) {
            double w1 = ww[i], w2 = ww[i + 1];
            double cost = 2 * w1 * w2 * (double)(vv[i + 1] - vv[i]) / (w1 + w2);

            if (best < 0 || cost < best_cost) {
                best = i;
                best_cost = cost;
            }
        }
        vv[best] = (float)(((double)vv[best] * ww[best] + (double)vv[best + 1] * ww[best + 1]) /
                           ((double)ww[best] + ww[best + 1]));
        ww[best] = ww[best] + ww[best + 1];
        memmove(&vv[best + 1], &vv[best + 2], (size_t)(n - best - 2) * sizeof(vv[0]));
        memmove(&ww[best + 1], &ww[best + 2], (size_t)(n - best - 2) * sizeof(ww[0]));
        n--;
    }
    memcpy(s->v, vv, (size_t)n * sizeof(vv[0]));
    memcpy(s->w, ww, (size_t)n * sizeof(ww[0]));
    s->n = n;
}

/* Credits value v over [a, b), slot by slot. */
static void credit(struct forecast *f, int v, int64_t a, int64_t b)
{
    while (a < b) {
        int64_t next;
        int k = slot_at(&f->tz, a, &next);
        int64_t end = next < b ? next : b;
        struct slot *s = &f->slots[k];

        slot_decay(f, s, end);
        slot_add(s, (float)v, (double)(end - a) / 1000.0);
        a = end;
    }
}

int forecast_observe(struct forecast *f, int64_t t_ms, int demand, struct err *e)
{
    if (demand < 0)
        return err_set(e, ERR_INVALID, "demand", "demand must be at least 0, got %d", demand);
    if (f->have_last && t_ms < f->last_t)
        return err_set(e, ERR_INVALID, "ts",
                       "sample at %" PRId64 " ms is before the previous one at %" PRId64 " ms",
                       t_ms, f->last_t);
    if (f->have_last && t_ms > f->last_t) {
        int64_t end = t_ms - f->last_t > f->p.max_gap_ms ? f->last_t + f->p.max_gap_ms : t_ms;

        credit(f, f->last_v, f->last_t, end);
    }
    f->have_last = true;
    f->last_t = t_ms;
    f->last_v = demand;
    return 0;
}

/* The slot's decayed total as of the latest sample. */
static double slot_weight(const struct forecast *f, const struct slot *s)
{
    double total = 0;

    for (int i = 0; i < s->n; i++)
        total += s->w[i];
    return total * decay_factor(f, s->t_ref, f->last_t);
}

/* The q-quantile of s, which must hold some weight. */
static double slot_quantile(const struct slot *s, double q)
{
    double total = 0, cum = 0;

    for (int i = 0; i < s->n; i++)
        total += s->w[i];
    for (int i = 0; i < s->n; i++) {
        cum += s->w[i];
        if (cum >= q * total * (1 - 1e-9))
            return s->v[i];
    }
    return s->v[s->n - 1];
}

static bool slot_known(const struct forecast *f, const struct slot *s, double *weight)
{
    *weight = slot_weight(f, s);
    return s->n > 0 && *weight >= f->p.min_weight_s && *weight > 0;
}

double forecast_quantile(const struct forecast *f, int64_t t_ms, double q)
{
    const struct slot *s = &f->slots[slot_at(&f->tz, t_ms, NULL)];
    double w;

    if (!slot_known(f, s, &w) || !(q > 0 && q <= 1))
        return -1;
    return slot_quantile(s, q);
}

void forecast_predict(const struct forecast *f, int64_t t_ms, struct forecast_estimate *out)
{
    forecast_peak(f, t_ms, 0, out);
}

void forecast_peak(const struct forecast *f, int64_t t_ms, int64_t len_ms,
                   struct forecast_estimate *out)
{
    int64_t a = t_ms, b = t_ms + (len_ms > WEEK_MS ? WEEK_MS : len_ms);
    struct forecast_estimate r = {.known = true, .weight_s = INFINITY};

    do {
        int64_t next;
        const struct slot *s = &f->slots[slot_at(&f->tz, a, &next)];
        double w;

        if (!slot_known(f, s, &w)) {
            *out = (struct forecast_estimate){.known = false, .weight_s = w};
            return;
        }
        r.p50 = fmax(r.p50, slot_quantile(s, 0.5));
        r.p95 = fmax(r.p95, slot_quantile(s, 0.95));
        r.weight_s = fmin(r.weight_s, w);
        a = next;
    } while (a < b);
    *out = r;
}
