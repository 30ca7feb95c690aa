/* forecast_set.c -- the incremental learner of every serving pool's forecast
 * (forecast_set.h). */
#include "policy/forecast_set.h"

#include "base/err.h"
#include "base/mem.h"
#include "policy/tz.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char *cluster;
    char *sku;
    struct forecast *f;
};

struct forecast_set {
    struct entry *e;
    size_t n, cap;
    int64_t read_until_ms; /* samples before this have been learned; 0: none read yet */
};

struct forecast_set *forecast_set_new(void)
{
    return xcalloc(1, sizeof(struct forecast_set));
}

void forecast_set_free(struct forecast_set **sp)
{
    struct forecast_set *s;

    if (!sp || !*sp)
        return;
    s = *sp;
    for (size_t i = 0; i < s->n; i++) {
        free(s->e[i].cluster);
        free(s->e[i].sku);
        forecast_free(&s->e[i].f);
    }
    free(s->e);
    free(s);
    *sp = NULL;
}

int64_t forecast_set_read_from(const struct forecast_set *s, int64_t now_ms)
{
    return s->read_until_ms ? s->read_until_ms - FORECAST_SET_OVERLAP_MS
                            : now_ms - FORECAST_SET_HORIZON_MS;
}

void forecast_set_read_done(struct forecast_set *s, int64_t until_ms)
{
    s->read_until_ms = until_ms;
}

static struct entry *entry_find(struct forecast_set *s, const char *cluster, const char *sku)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->e[i].cluster, cluster) == 0 && strcmp(s->e[i].sku, sku) == 0)
            return &s->e[i];
    return NULL;
}

int forecast_set_learn(struct forecast_set *s, const char *cluster, const char *sku,
                       const char *tz_text, int64_t ts_ms, int demand, struct err *e)
{
    struct entry *en = entry_find(s, cluster, sku);

    if (!en) {
        struct forecast_params p;
        struct tz_rule tz;
        struct forecast *fc = NULL;
        struct err te = {0};

        if (tz_parse(tz_text ? tz_text : "", &tz, &te))
            return err_set(e, ERR_INVALID, "timeZone", "cluster %s: %s", cluster, te.msg);
        forecast_params_default(&p);
        if (forecast_new(&p, &tz, &fc, e))
            return -1;
        if (s->n == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 8;
            s->e = xrealloc(s->e, s->cap * sizeof(*s->e));
        }
        s->e[s->n] = (struct entry){.cluster = xstrdup(cluster), .sku = xstrdup(sku), .f = fc};
        en = &s->e[s->n++];
    }
    /* Already learned: reads overlap, and a read that failed half-way is read again. */
    if (ts_ms <= forecast_latest(en->f))
        return 0;
    return forecast_observe(en->f, ts_ms, demand, e);
}

size_t forecast_set_count(const struct forecast_set *s)
{
    return s->n;
}

const struct forecast *forecast_set_at(const struct forecast_set *s, size_t i, const char **cluster,
                                       const char **sku)
{
    *cluster = s->e[i].cluster;
    *sku = s->e[i].sku;
    return s->e[i].f;
}

void forecast_set_high(const struct forecast *f, int64_t from_ms, int *high, int n)
{
    for (int i = 0; i < n; i++) {
        struct forecast_estimate est;

        forecast_predict(f, from_ms + (int64_t)i * FORECAST_SLOT_MS, &est);
        high[i] = est.known ? (int)ceil(est.p95 - 1e-9) : -1;
    }
}
