/* whatif_model.c -- federation layouts and job traces for `fedsched simulate`. */
#include "whatif/whatif_model.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/mem.h"
#include "policy/tz.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_START "2026-01-05T00:00:00Z" /* a Monday */

/* ---- small JSON helpers ------------------------------------------------------------------ */

static int get_str(json_t *o, const char *key, const char *field, bool required, char *out,
                   size_t size, struct err *e)
{
    json_t *v = json_object_get(o, key);
    const char *s;

    if (!v) {
        if (required)
            return err_set(e, ERR_INVALID, field, "%s is required", field);
        return 0;
    }
    if (!json_is_string(v))
        return err_set(e, ERR_INVALID, field, "%s must be a string", field);
    s = json_string_value(v);
    if (strlen(s) >= size)
        return err_set(e, ERR_INVALID, field, "%s '%.40s' is longer than %zu bytes", field, s,
                       size - 1);
    snprintf(out, size, "%s", s);
    return 0;
}

static int get_num(json_t *o, const char *key, const char *field, bool required, double min,
                   double max, double *out, struct err *e)
{
    json_t *v = json_object_get(o, key);
    double d;

    if (!v) {
        if (required)
            return err_set(e, ERR_INVALID, field, "%s is required", field);
        return 0;
    }
    if (!json_is_number(v))
        return err_set(e, ERR_INVALID, field, "%s must be a number", field);
    d = json_number_value(v);
    if (!(d >= min && d <= max))
        return err_set(e, ERR_INVALID, field, "%s %g is not in [%g, %g]", field, d, min, max);
    *out = d;
    return 0;
}

static int get_int(json_t *o, const char *key, const char *field, bool required, int64_t min,
                   int64_t max, int64_t *out, struct err *e)
{
    double d = (double)*out;

    if (get_num(o, key, field, required, (double)min, (double)max, &d, e))
        return -1;
    if (d != floor(d))
        return err_set(e, ERR_INVALID, field, "%s %g is not a whole number", field, d);
    *out = (int64_t)d;
    return 0;
}

static int day_bit(const char *s)
{
    static const char *days[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

    for (int i = 0; i < 7; i++)
        if (strcmp(s, days[i]) == 0)
            return i;
    return -1;
}

/* ---- layout ------------------------------------------------------------------------------ */

static int sku_of(struct whatif_layout *l, const char *name, bool add)
{
    int i = whatif_layout_sku(l, name);

    if (i >= 0)
        return i;
    if (!add || l->n_skus == WHATIF_SKUS_MAX || strlen(name) >= SNAPSHOT_SKU_NAME_MAX || !*name)
        return -1;
    snprintf(l->skus[l->n_skus], SNAPSHOT_SKU_NAME_MAX, "%s", name);
    return (int)l->n_skus++;
}

int whatif_layout_sku(const struct whatif_layout *l, const char *name)
{
    for (size_t i = 0; i < l->n_skus; i++)
        if (strcmp(l->skus[i], name) == 0)
            return (int)i;
    return -1;
}

static int parse_window(json_t *w, const char *field, struct snapshot_window *out, struct err *e)
{
    char start[8] = "", end[8] = "", f[160];
    json_t *days;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(w))
        return err_set(e, ERR_INVALID, field, "%s must be an object", field);
    snprintf(f, sizeof(f), "%s.start", field);
    if (get_str(w, "start", f, true, start, sizeof(start), e))
        return -1;
    if (clock_parse_hhmm(start, &out->start_min))
        return err_set(e, ERR_INVALID, f, "%s '%s' is not HH:MM", f, start);
    snprintf(f, sizeof(f), "%s.end", field);
    if (get_str(w, "end", f, true, end, sizeof(end), e))
        return -1;
    if (clock_parse_hhmm(end, &out->end_min))
        return err_set(e, ERR_INVALID, f, "%s '%s' is not HH:MM", f, end);
    days = json_object_get(w, "days");
    snprintf(f, sizeof(f), "%s.days", field);
    if (!days || (json_is_string(days) && strcmp(json_string_value(days), "all") == 0)) {
        out->days = 0x7f;
    } else if (json_is_array(days)) {
        for (size_t i = 0; i < json_array_size(days); i++) {
            json_t *d = json_array_get(days, i);
            int b = json_is_string(d) ? day_bit(json_string_value(d)) : -1;

            if (b < 0)
                return err_set(e, ERR_INVALID, f, "%s[%zu] is not one of sun, mon, ..., sat", f, i);
            out->days |= (uint8_t)(1u << b);
        }
    } else {
        return err_set(e, ERR_INVALID, f, "%s must be \"all\" or a list of day names", f);
    }
    return 0;
}

static int parse_demand(struct whatif_layout *l, json_t *d, const char *field,
                        struct whatif_demand *out, struct err *e)
{
    char sku[SNAPSHOT_SKU_NAME_MAX] = "", f[160];
    json_t *hourly;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(d))
        return err_set(e, ERR_INVALID, field, "%s must be an object", field);
    snprintf(f, sizeof(f), "%s.sku", field);
    if (get_str(d, "sku", f, true, sku, sizeof(sku), e))
        return -1;
    out->sku = sku_of(l, sku, false);
    if (out->sku < 0)
        return err_set(e, ERR_INVALID, f, "%s '%s' has no serving nodes in this cluster", f, sku);
    hourly = json_object_get(d, "hourly");
    if (hourly) {
        snprintf(f, sizeof(f), "%s.hourly", field);
        if (!json_is_array(hourly) || json_array_size(hourly) != WHATIF_HOURS)
            return err_set(e, ERR_INVALID, f, "%s must list 24 shares (00:00 to 23:00)", f);
        for (size_t h = 0; h < WHATIF_HOURS; h++) {
            json_t *v = json_array_get(hourly, h);
            double x = json_is_number(v) ? json_number_value(v) : -1;

            if (!(x >= 0 && x <= 1))
                return err_set(e, ERR_INVALID, f, "%s[%zu] must be a share in [0, 1]", f, h);
            out->share[h] = x;
        }
        out->hourly = true;
        return 0;
    }
    out->min = 0.2;
    out->max = 0.9;
    out->peak_hour = 14;
    snprintf(f, sizeof(f), "%s.min", field);
    if (get_num(d, "min", f, false, 0, 1, &out->min, e))
        return -1;
    snprintf(f, sizeof(f), "%s.max", field);
    if (get_num(d, "max", f, false, 0, 1, &out->max, e))
        return -1;
    snprintf(f, sizeof(f), "%s.peak_hour", field);
    if (get_num(d, "peak_hour", f, false, 0, 24, &out->peak_hour, e))
        return -1;
    if (out->max < out->min)
        return err_set(e, ERR_INVALID, field, "%s.max %g is below min %g", field, out->max,
                       out->min);
    return 0;
}

static int parse_serving(struct whatif_layout *l, struct whatif_cluster *c, json_t *s,
                         const char *field, struct err *e)
{
    char pol[32] = "window", f[160];
    json_t *ws, *ds;
    int64_t reserve = 0, idle = 30;

    if (!json_is_object(s))
        return err_set(e, ERR_INVALID, field, "%s must be an object", field);
    c->serving.present = true;
    snprintf(f, sizeof(f), "%s.reserve_gpus", field);
    if (get_int(s, "reserve_gpus", f, false, 0, 1000000, &reserve, e))
        return -1;
    c->serving.reserve_gpus = (int)reserve;
    snprintf(f, sizeof(f), "%s.lend_policy", field);
    if (get_str(s, "lend_policy", f, false, pol, sizeof(pol), e))
        return -1;
    if (strcmp(pol, "never") == 0)
        c->serving.lend_policy = SNAPSHOT_LEND_NEVER;
    else if (strcmp(pol, "window") == 0)
        c->serving.lend_policy = SNAPSHOT_LEND_WINDOW;
    else if (strcmp(pol, "idle") == 0)
        c->serving.lend_policy = SNAPSHOT_LEND_IDLE;
    else if (strcmp(pol, "window_or_idle") == 0)
        c->serving.lend_policy = SNAPSHOT_LEND_WINDOW_OR_IDLE;
    else
        return err_set(e, ERR_INVALID, f, "%s '%s' is not never, window, idle or window_or_idle", f,
                       pol);
    snprintf(f, sizeof(f), "%s.idle_minutes", field);
    if (get_int(s, "idle_minutes", f, false, 0, 100000, &idle, e))
        return -1;
    c->serving.idle_minutes = (int)idle;
    ws = json_object_get(s, "windows");
    if (ws && (!json_is_array(ws) || json_array_size(ws) > SNAPSHOT_WINDOWS_MAX))
        return err_set(e, ERR_INVALID, field, "%s.windows must be a list of at most %d windows",
                       field, SNAPSHOT_WINDOWS_MAX);
    for (size_t i = 0; ws && i < json_array_size(ws); i++) {
        snprintf(f, sizeof(f), "%s.windows[%zu]", field, i);
        if (parse_window(json_array_get(ws, i), f, &c->serving.windows[i], e))
            return -1;
        c->serving.n_windows++;
    }
    ds = json_object_get(s, "demand");
    if (ds && !json_is_array(ds))
        return err_set(e, ERR_INVALID, field, "%s.demand must be a list", field);
    c->n_demand = ds ? json_array_size(ds) : 0;
    c->demand = xcalloc(c->n_demand + 1, sizeof(*c->demand));
    for (size_t i = 0; i < c->n_demand; i++) {
        snprintf(f, sizeof(f), "%s.demand[%zu]", field, i);
        if (parse_demand(l, json_array_get(ds, i), f, &c->demand[i], e))
            return -1;
    }
    return 0;
}

static int parse_cluster(struct whatif_layout *l, json_t *jc, size_t ci, struct err *e)
{
    struct whatif_cluster *c = &l->clusters[ci];
    char f[160];
    json_t *pools, *cost, *serving;

    snprintf(f, sizeof(f), "clusters[%zu]", ci);
    if (!json_is_object(jc))
        return err_set(e, ERR_INVALID, f, "%s must be an object", f);
    snprintf(f, sizeof(f), "clusters[%zu].name", ci);
    if (get_str(jc, "name", f, true, c->name, sizeof(c->name), e))
        return -1;
    for (size_t k = 0; k < ci; k++)
        if (strcmp(l->clusters[k].name, c->name) == 0)
            return err_set(e, ERR_INVALID, f, "%s '%s' is used twice", f, c->name);
    snprintf(f, sizeof(f), "clusters[%zu].region", ci);
    if (get_str(jc, "region", f, false, c->region, sizeof(c->region), e))
        return -1;
    snprintf(f, sizeof(f), "clusters[%zu].tz", ci);
    if (get_str(jc, "tz", f, false, c->tz, sizeof(c->tz), e))
        return -1;
    {
        struct tz_rule r;

        if (tz_parse(c->tz, &r, NULL))
            return err_set(e, ERR_INVALID, f, "%s '%s' is not a POSIX TZ rule", f, c->tz);
    }
    pools = json_object_get(jc, "pools");
    snprintf(f, sizeof(f), "clusters[%zu].pools", ci);
    if (!json_is_array(pools) || json_array_size(pools) == 0)
        return err_set(e, ERR_INVALID, f, "%s must be a non-empty list", f);
    c->n_pools = json_array_size(pools);
    c->pools = xcalloc(c->n_pools + 1, sizeof(*c->pools));
    for (size_t i = 0; i < c->n_pools; i++) {
        json_t *jp = json_array_get(pools, i);
        struct whatif_pool *p = &c->pools[i];
        char pool[16] = "training", sku[SNAPSHOT_SKU_NAME_MAX] = "";
        int64_t nodes = 0, gpn = 8;

        snprintf(f, sizeof(f), "clusters[%zu].pools[%zu]", ci, i);
        if (!json_is_object(jp))
            return err_set(e, ERR_INVALID, f, "%s must be an object", f);
        snprintf(f, sizeof(f), "clusters[%zu].pools[%zu].pool", ci, i);
        if (get_str(jp, "pool", f, false, pool, sizeof(pool), e))
            return -1;
        if (strcmp(pool, "training") == 0)
            p->pool = SNAPSHOT_POOL_TRAINING;
        else if (strcmp(pool, "serving") == 0)
            p->pool = SNAPSHOT_POOL_SERVING;
        else
            return err_set(e, ERR_INVALID, f, "%s '%s' is not training or serving", f, pool);
        snprintf(f, sizeof(f), "clusters[%zu].pools[%zu].sku", ci, i);
        if (get_str(jp, "sku", f, true, sku, sizeof(sku), e))
            return -1;
        p->sku = sku_of(l, sku, true);
        if (p->sku < 0)
            return err_set(e, ERR_INVALID, f, "%s '%s': at most %d SKUs", f, sku, WHATIF_SKUS_MAX);
        snprintf(f, sizeof(f), "clusters[%zu].pools[%zu].nodes", ci, i);
        if (get_int(jp, "nodes", f, true, 0, WHATIF_NODES_MAX, &nodes, e))
            return -1;
        snprintf(f, sizeof(f), "clusters[%zu].pools[%zu].gpus_per_node", ci, i);
        if (get_int(jp, "gpus_per_node", f, false, 1, 64, &gpn, e))
            return -1;
        p->nodes = (int)nodes;
        p->gpus_per_node = (int)gpn;
    }
    cost = json_object_get(jc, "cost_per_gpu_hour");
    if (cost) {
        snprintf(f, sizeof(f), "clusters[%zu].cost_per_gpu_hour", ci);
        if (!json_is_object(cost))
            return err_set(e, ERR_INVALID, f, "%s must map SKU names to numbers", f);
        for (void *it = json_object_iter(cost); it; it = json_object_iter_next(cost, it)) {
            const char *k = json_object_iter_key(it);
            json_t *v = json_object_iter_value(it);
            int s = sku_of(l, k, false);

            if (s < 0 || !json_is_number(v) || json_number_value(v) < 0)
                return err_set(e, ERR_INVALID, f, "%s.%s must be a known SKU with a cost >= 0", f,
                               k);
            c->cost[s] = json_number_value(v);
        }
    }
    serving = json_object_get(jc, "serving");
    if (serving) {
        snprintf(f, sizeof(f), "clusters[%zu].serving", ci);
        if (parse_serving(l, c, serving, f, e))
            return -1;
    }
    return 0;
}

int whatif_layout_parse(const char *text, size_t len, const char *what, struct whatif_layout **out,
                        struct err *e)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je), *clusters, *skus;
    struct whatif_layout *l = NULL;
    char start[64] = DEFAULT_START;
    int rc = -1;

    if (!root)
        return err_set(e, ERR_MALFORMED, "json", "%s:%d: %s", what, je.line, je.text);
    l = xcalloc(1, sizeof(*l));
    if (!json_is_object(root)) {
        err_set(e, ERR_INVALID, "layout", "%s: a layout is a JSON object", what);
        goto out;
    }
    if (get_str(root, "start", "start", false, start, sizeof(start), e))
        goto out;
    if (clock_parse_rfc3339(start, &l->start_epoch_ms)) {
        err_set(e, ERR_INVALID, "start", "start '%s' is not an RFC 3339 time", start);
        goto out;
    }
    skus = json_object_get(root, "skus");
    for (size_t i = 0; json_is_array(skus) && i < json_array_size(skus); i++) {
        json_t *s = json_array_get(skus, i);

        if (!json_is_string(s) || sku_of(l, json_string_value(s), true) < 0) {
            err_set(e, ERR_INVALID, "skus", "skus[%zu] must be a name (at most %d SKUs)", i,
                    WHATIF_SKUS_MAX);
            goto out;
        }
    }
    clusters = json_object_get(root, "clusters");
    if (!json_is_array(clusters) || json_array_size(clusters) == 0) {
        err_set(e, ERR_INVALID, "clusters", "%s: clusters must be a non-empty list", what);
        goto out;
    }
    l->n_clusters = json_array_size(clusters);
    l->clusters = xcalloc(l->n_clusters + 1, sizeof(*l->clusters));
    for (size_t i = 0; i < l->n_clusters; i++)
        if (parse_cluster(l, json_array_get(clusters, i), i, e))
            goto out;
    *out = l;
    l = NULL;
    rc = 0;
out:
    whatif_layout_free(&l);
    json_decref(root);
    return rc;
}

int whatif_layout_load(const char *path, struct whatif_layout **out, struct err *e)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (trace_read_file(path, &text, &len, e))
        return -1;
    rc = whatif_layout_parse(text, len, path, out, e);
    free(text);
    return rc;
}

void whatif_layout_free(struct whatif_layout **l)
{
    if (!l || !*l)
        return;
    for (size_t i = 0; (*l)->clusters && i < (*l)->n_clusters; i++) {
        free((*l)->clusters[i].pools);
        free((*l)->clusters[i].demand);
    }
    free((*l)->clusters);
    free(*l);
    *l = NULL;
}

void whatif_split_defaults(struct whatif_split *s)
{
    memset(s, 0, sizeof(*s));
    s->clusters = 3;
    s->serving_share = 0.3;
    s->demand_min = 0.2;
    s->demand_max = 0.9;
    s->peak_hour = 14;
    s->reserve_gpus = 2;
    s->window.days = 0x7f;
    s->window.start_min = 20 * 60;
    s->window.end_min = 8 * 60;
    s->tz = "";
}

/* The layout SKU an openb node model stands for: the model in lower case ("V100M16" ->
 * "v100m16"), cut to fit. */
static void sku_name(const char *model, char *out, size_t size)
{
    size_t j;

    for (j = 0; model[j] && j + 1 < size; j++)
        out[j] = (char)(model[j] >= 'A' && model[j] <= 'Z' ? model[j] - 'A' + 'a' : model[j]);
    out[j] = '\0';
}

int whatif_layout_split(const struct trace_openb_node *nodes, size_t n,
                        const struct whatif_split *s, struct whatif_layout **out, struct err *e)
{
    struct whatif_layout *l = NULL;
    /* per cluster x SKU x gpus-per-node x pool: node counts */
    int *count = NULL, *seen = NULL;
    size_t K, C;
    int rc = -1;

    if (s->clusters < 1 || s->clusters > 64)
        return err_set(e, ERR_INVALID, "split.clusters", "split.clusters %d is not in [1, 64]",
                       s->clusters);
    if (!(s->serving_share >= 0 && s->serving_share < 1))
        return err_set(e, ERR_INVALID, "split.serving_share",
                       "split.serving_share %g is not in [0, 1)", s->serving_share);
    if (!(s->demand_min >= 0 && s->demand_max <= 1 && s->demand_min <= s->demand_max))
        return err_set(e, ERR_INVALID, "split.demand", "split.demand %g..%g is not within [0, 1]",
                       s->demand_min, s->demand_max);
    l = xcalloc(1, sizeof(*l));
    if (clock_parse_rfc3339(DEFAULT_START, &l->start_epoch_ms))
        abort();
    for (size_t i = 0; i < n; i++) {
        char sku[SNAPSHOT_SKU_NAME_MAX];

        if (nodes[i].gpus <= 0)
            continue;
        sku_name(nodes[i].model, sku, sizeof(sku));
        if (sku_of(l, sku, true) < 0) {
            err_set(e, ERR_INVALID, "nodes", "more than %d GPU models", WHATIF_SKUS_MAX);
            goto out;
        }
    }
    if (l->n_skus == 0) {
        err_set(e, ERR_INVALID, "nodes", "no node has GPUs");
        goto out;
    }
    K = l->n_skus;
    C = (size_t)s->clusters;
    /* [cluster][sku][gpus 1..64][pool] */
    count = xcalloc(C * K * 65 * 2 + 1, sizeof(int));
    seen = xcalloc(K * 65 + 1, sizeof(int));
    for (size_t i = 0; i < n; i++) {
        char sku[SNAPSHOT_SKU_NAME_MAX];
        size_t k, g = (size_t)nodes[i].gpus, c;

        if (nodes[i].gpus <= 0 || nodes[i].gpus > 64)
            continue;
        sku_name(nodes[i].model, sku, sizeof(sku));
        k = (size_t)sku_of(l, sku, false);
        /* Deal nodes of each (model, size) round-robin so every cluster gets a fair share. */
        c = (size_t)seen[k * 65 + g]++ % C;
        count[((c * K + k) * 65 + g) * 2 + 0]++;
    }
    l->n_clusters = C;
    l->clusters = xcalloc(C + 1, sizeof(*l->clusters));
    for (size_t c = 0; c < C; c++) {
        struct whatif_cluster *cl = &l->clusters[c];
        size_t np = 0;

        snprintf(cl->name, sizeof(cl->name), "c%zu", c + 1);
        snprintf(cl->region, sizeof(cl->region), "r%zu", c + 1);
        snprintf(cl->tz, sizeof(cl->tz), "%s", s->tz ? s->tz : "");
        cl->pools = xcalloc(K * 65 * 2 + 1, sizeof(*cl->pools));
        cl->demand = xcalloc(K + 1, sizeof(*cl->demand));
        for (size_t k = 0; k < K; k++) {
            bool serving_sku = false;

            for (size_t g = 1; g <= 64; g++) {
                int total = count[((c * K + k) * 65 + g) * 2];
                int srv = (int)floor((double)total * s->serving_share + 0.5);

                if (total == 0)
                    continue;
                if (srv > 0) {
                    cl->pools[np++] =
                        (struct whatif_pool){SNAPSHOT_POOL_SERVING, (int)k, srv, (int)g};
                    serving_sku = true;
                }
                if (total - srv > 0)
                    cl->pools[np++] =
                        (struct whatif_pool){SNAPSHOT_POOL_TRAINING, (int)k, total - srv, (int)g};
            }
            if (serving_sku) {
                struct whatif_demand *d = &cl->demand[cl->n_demand++];

                d->sku = (int)k;
                d->min = s->demand_min;
                d->max = s->demand_max;
                d->peak_hour = s->peak_hour;
            }
        }
        cl->n_pools = np;
        if (cl->n_demand > 0) {
            cl->serving.present = true;
            cl->serving.reserve_gpus = s->reserve_gpus;
            cl->serving.lend_policy = SNAPSHOT_LEND_WINDOW;
            cl->serving.windows[0] = s->window;
            cl->serving.n_windows = 1;
        }
    }
    *out = l;
    l = NULL;
    rc = 0;
out:
    free(count);
    free(seen);
    whatif_layout_free(&l);
    return rc;
}

int whatif_layout_gpus(const struct whatif_layout *l, enum snapshot_pool p)
{
    int n = 0;

    for (size_t c = 0; c < l->n_clusters; c++)
        for (size_t i = 0; i < l->clusters[c].n_pools; i++)
            if (l->clusters[c].pools[i].pool == p)
                n += l->clusters[c].pools[i].nodes * l->clusters[c].pools[i].gpus_per_node;
    return n;
}

double whatif_demand_share(const struct whatif_layout *l, size_t c, size_t d, double t_s)
{
    const struct whatif_cluster *cl = &l->clusters[c];
    const struct whatif_demand *dm = &cl->demand[d];
    struct tz_rule r;
    struct tz_local loc;
    double h;

    if (tz_parse(cl->tz, &r, NULL))
        memset(&r, 0, sizeof(r)); /* validated at load; UTC if it ever fails */
    tz_local_at(&r, l->start_epoch_ms + (int64_t)(t_s * 1000.0), &loc);
    h = (double)loc.second_of_day / 3600.0;
    if (dm->hourly) {
        int h0 = (int)floor(h) % WHATIF_HOURS;
        int h1 = (h0 + 1) % WHATIF_HOURS;
        double f = h - floor(h);

        return dm->share[h0] * (1 - f) + dm->share[h1] * f;
    }
    return dm->min +
           (dm->max - dm->min) * 0.5 * (1.0 + cos(2.0 * M_PI * (h - dm->peak_hour) / 24.0));
}

/* ---- jobs ---------------------------------------------------------------------------------- */

void whatif_job_opts_defaults(struct whatif_job_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = 1;
    o->preemptible_share = 0.5;
    o->checkpoint_s = 1800;
    o->time_scale = 1;
    o->max_node_gpus = 8;
    o->high_priority_pct = 10;
}

void whatif_jobs_free(struct whatif_jobs **j)
{
    if (!j || !*j)
        return;
    free((*j)->v);
    free(*j);
    *j = NULL;
}

/* A stable hash of (seed, text) in [0, 1): the same job gets the same coin for a seed. */
static double coin(uint64_t seed, const char *s, uint64_t salt)
{
    uint64_t h = 1469598103934665603ULL ^ (seed * 0x9E3779B97F4A7C15ULL) ^ salt;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (double)(h >> 11) / 9007199254740992.0;
}

/* Workers of a gang: the whole job when it fits a node, else the largest divisor of gpus
 * that does (12 GPUs on 8-GPU nodes run as 3 workers of 4). */
static int per_worker(int gpus, int max_node)
{
    if (gpus <= max_node)
        return gpus;
    for (int w = max_node; w > 1; w--)
        if (gpus % w == 0)
            return w;
    return 1;
}

static void add_job(struct whatif_jobs *J, size_t *cap, const struct whatif_job *j)
{
    if (J->n == *cap) {
        *cap = *cap ? *cap * 2 : 1024;
        J->v = xrealloc(J->v, *cap * sizeof(*J->v));
    }
    J->v[J->n++] = *j;
}

static void decorate(struct whatif_job *j, const struct whatif_job_opts *o)
{
    j->preemptible = coin(o->seed, j->name, 1) < o->preemptible_share;
    j->checkpoint_s = j->preemptible ? o->checkpoint_s : 0;
    j->priority = coin(o->seed, j->name, 2) * 100.0 < o->high_priority_pct ? 100 : 0;
    j->gpus_per_worker = per_worker(j->gpus, o->max_node_gpus > 0 ? o->max_node_gpus : 8);
}

static bool in_window(const struct whatif_job_opts *o, double t)
{
    if (o->window_length_s <= 0)
        return t >= o->window_start_s;
    return t >= o->window_start_s && t < o->window_start_s + o->window_length_s;
}

static int cmp_job(const void *a, const void *b)
{
    const struct whatif_job *x = a, *y = b;
    int c;

    if (x->arrival_s != y->arrival_s)
        return x->arrival_s < y->arrival_s ? -1 : 1;
    c = strcmp(x->ns, y->ns);
    return c ? c : strcmp(x->name, y->name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One Philly file into J. */
static int philly_file(const char *path, const char *ns, const struct trace_throughputs *tp,
                       const struct whatif_layout *l, const struct whatif_job_opts *o,
                       struct whatif_jobs *J, size_t *cap, size_t *dropped, struct err *e)
{
    struct trace_philly_job *v = NULL;
    size_t n = 0;

    if (trace_philly_load(path, &v, &n, e))
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct whatif_job j;
        double rate[WHATIF_SKUS_MAX];
        int order[WHATIF_SKUS_MAX], no = 0;

        if (!in_window(o, v[i].arrival_s))
            continue;
        memset(&j, 0, sizeof(j));
        snprintf(j.ns, sizeof(j.ns), "%s", ns);
        snprintf(j.name, sizeof(j.name), "%s-%zu", ns, i + 1);
        j.arrival_s =
            (v[i].arrival_s - o->window_start_s) / (o->time_scale > 0 ? o->time_scale : 1);
        j.gpus = v[i].gpus;
        /* Every layout SKU with a rate, fastest first. */
        for (size_t k = 0; k < l->n_skus; k++) {
            rate[k] = trace_throughput(tp, l->skus[k], v[i].type, v[i].gpus);
            if (rate[k] > 0)
                order[no++] = (int)k;
        }
        for (int a = 1; a < no; a++) {
            int t = order[a], b = a;

            while (b > 0 && rate[order[b - 1]] < rate[t]) {
                order[b] = order[b - 1];
                b--;
            }
            order[b] = t;
        }
        if (no == 0) {
            (*dropped)++;
            continue;
        }
        for (int a = 0; a < no && a < 1 + WHATIF_ALT_MAX; a++) {
            j.skus[a] = order[a];
            j.duration_s[a] = (double)v[i].total_steps / rate[order[a]];
            j.n_skus++;
        }
        decorate(&j, o);
        add_job(J, cap, &j);
    }
    free(v);
    return 0;
}

int whatif_jobs_philly(const char *path, const struct trace_throughputs *tp,
                       const struct whatif_layout *l, const struct whatif_job_opts *o,
                       struct whatif_jobs **out, size_t *dropped, struct err *e)
{
    struct whatif_jobs *J = xcalloc(1, sizeof(*J));
    struct stat st;
    size_t cap = 0;
    char *names[4096];
    size_t nn = 0;
    int rc = -1;

    *dropped = 0;
    if (stat(path, &st)) {
        err_set(e, ERR_IO, "philly", "cannot read %s", path);
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;

        if (!d) {
            err_set(e, ERR_IO, "philly", "cannot open directory %s", path);
            goto out;
        }
        while ((de = readdir(d)) && nn < sizeof(names) / sizeof(names[0])) {
            size_t len = strlen(de->d_name);

            if (len > 6 && strcmp(de->d_name + len - 6, ".trace") == 0)
                names[nn++] = xstrdup(de->d_name);
        }
        closedir(d);
        qsort(names, nn, sizeof(*names), cmp_str);
        for (size_t i = 0; i < nn; i++) {
            char *p = xasprintf("%s/%s", path, names[i]);
            char ns[WHATIF_NAME_MAX];
            int r;

            snprintf(ns, sizeof(ns), "%.*s", (int)(strlen(names[i]) - 6), names[i]);
            r = philly_file(p, ns, tp, l, o, J, &cap, dropped, e);
            free(p);
            if (r)
                goto out;
        }
    } else {
        const char *base = strrchr(path, '/');
        char ns[WHATIF_NAME_MAX];
        size_t len;

        base = base ? base + 1 : path;
        len = strlen(base);
        if (len > 6 && strcmp(base + len - 6, ".trace") == 0)
            len -= 6;
        snprintf(ns, sizeof(ns), "%.*s", (int)len, base);
        if (philly_file(path, ns, tp, l, o, J, &cap, dropped, e))
            goto out;
    }
    if (J->n > 1)
        qsort(J->v, J->n, sizeof(*J->v), cmp_job);
    *out = J;
    J = NULL;
    rc = 0;
out:
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    whatif_jobs_free(&J);
    return rc;
}

int whatif_jobs_openb(const struct trace_openb_pod *pods, size_t n, const struct whatif_layout *l,
                      const struct whatif_job_opts *o, struct whatif_jobs **out, size_t *dropped,
                      struct err *e)
{
    struct whatif_jobs *J = xcalloc(1, sizeof(*J));
    size_t cap = 0;

    (void)e;
    *dropped = 0;
    for (size_t i = 0; i < n; i++) {
        const struct trace_openb_pod *p = &pods[i];
        struct whatif_job j;
        double dur;

        if (p->num_gpu == 0 || p->creation_s < 0 || !in_window(o, (double)p->creation_s))
            continue;
        dur = p->deletion_s > p->creation_s ? (double)(p->deletion_s - p->creation_s) : 0;
        if (dur <= 0) {
            (*dropped)++;
            continue;
        }
        memset(&j, 0, sizeof(j));
        snprintf(j.name, sizeof(j.name), "%s", p->name);
        snprintf(j.ns, sizeof(j.ns), "%s", p->qos[0] ? p->qos : "default");
        j.arrival_s =
            ((double)p->creation_s - o->window_start_s) / (o->time_scale > 0 ? o->time_scale : 1);
        j.gpus = (p->num_gpu * p->gpu_milli + 999) / 1000;
        for (size_t k = 0; k < l->n_skus && j.n_skus < 1 + WHATIF_ALT_MAX; k++) {
            char up[SNAPSHOT_SKU_NAME_MAX];
            size_t c;

            for (c = 0; l->skus[k][c] && c + 1 < sizeof(up); c++)
                up[c] =
                    (char)(l->skus[k][c] >= 'a' && l->skus[k][c] <= 'z' ? l->skus[k][c] - 'a' + 'A'
                                                                        : l->skus[k][c]);
            up[c] = '\0';
            if (!trace_openb_spec_allows(p->gpu_spec, up))
                continue;
            j.skus[j.n_skus] = (int)k;
            j.duration_s[j.n_skus] = dur;
            j.n_skus++;
        }
        if (j.n_skus == 0) {
            (*dropped)++;
            continue;
        }
        decorate(&j, o);
        add_job(J, &cap, &j);
    }
    if (J->n > 1)
        qsort(J->v, J->n, sizeof(*J->v), cmp_job);
    *out = J;
    return 0;
}

int whatif_jobs_parse(const char *text, size_t len, const char *what, const struct whatif_layout *l,
                      struct whatif_jobs **out, struct err *e)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je), *jobs;
    struct whatif_jobs *J = NULL;
    size_t cap = 0;
    int rc = -1;

    if (!root)
        return err_set(e, ERR_MALFORMED, "json", "%s:%d: %s", what, je.line, je.text);
    jobs = json_object_get(root, "jobs");
    if (!json_is_array(jobs)) {
        err_set(e, ERR_INVALID, "jobs", "%s: jobs must be a list", what);
        goto out;
    }
    if (json_array_size(jobs) > WHATIF_JOBS_MAX) {
        err_set(e, ERR_TOO_LARGE, "jobs", "%s: more than %d jobs", what, WHATIF_JOBS_MAX);
        goto out;
    }
    J = xcalloc(1, sizeof(*J));
    for (size_t i = 0; i < json_array_size(jobs); i++) {
        json_t *jj = json_array_get(jobs, i), *skus, *durs, *pre;
        struct whatif_job j;
        char f[96];
        int64_t v;

        memset(&j, 0, sizeof(j));
        snprintf(f, sizeof(f), "jobs[%zu]", i);
        if (!json_is_object(jj)) {
            err_set(e, ERR_INVALID, f, "%s must be an object", f);
            goto out;
        }
        snprintf(j.name, sizeof(j.name), "job-%zu", i + 1);
        snprintf(j.ns, sizeof(j.ns), "default");
        snprintf(f, sizeof(f), "jobs[%zu].name", i);
        if (get_str(jj, "name", f, false, j.name, sizeof(j.name), e))
            goto out;
        snprintf(f, sizeof(f), "jobs[%zu].namespace", i);
        if (get_str(jj, "namespace", f, false, j.ns, sizeof(j.ns), e))
            goto out;
        snprintf(f, sizeof(f), "jobs[%zu].arrival_s", i);
        if (get_num(jj, "arrival_s", f, true, 0, 1e12, &j.arrival_s, e))
            goto out;
        v = 0;
        snprintf(f, sizeof(f), "jobs[%zu].gpus", i);
        if (get_int(jj, "gpus", f, true, 1, 100000, &v, e))
            goto out;
        j.gpus = (int)v;
        v = j.gpus;
        snprintf(f, sizeof(f), "jobs[%zu].gpus_per_worker", i);
        if (get_int(jj, "gpus_per_worker", f, false, 1, 64, &v, e))
            goto out;
        j.gpus_per_worker = (int)v;
        if (j.gpus % j.gpus_per_worker) {
            err_set(e, ERR_INVALID, f, "%s %d does not divide gpus %d", f, j.gpus_per_worker,
                    j.gpus);
            goto out;
        }
        v = 0;
        snprintf(f, sizeof(f), "jobs[%zu].priority", i);
        if (get_int(jj, "priority", f, false, -1000000, 1000000, &v, e))
            goto out;
        j.priority = (int)v;
        pre = json_object_get(jj, "preemptible");
        j.preemptible = json_is_true(pre);
        v = 0;
        snprintf(f, sizeof(f), "jobs[%zu].checkpoint_s", i);
        if (get_int(jj, "checkpoint_s", f, false, 0, INT32_MAX, &v, e))
            goto out;
        j.checkpoint_s = v;
        v = 0;
        snprintf(f, sizeof(f), "jobs[%zu].max_runtime_s", i);
        if (get_int(jj, "max_runtime_s", f, false, 0, INT32_MAX, &v, e))
            goto out;
        j.max_runtime_s = v;
        skus = json_object_get(jj, "skus");
        durs = json_object_get(jj, "duration_s");
        snprintf(f, sizeof(f), "jobs[%zu].skus", i);
        if (!json_is_array(skus) || json_array_size(skus) == 0 ||
            json_array_size(skus) > 1 + WHATIF_ALT_MAX) {
            err_set(e, ERR_INVALID, f, "%s must list 1 to %d SKU names", f, 1 + WHATIF_ALT_MAX);
            goto out;
        }
        if (!json_is_array(durs) || json_array_size(durs) != json_array_size(skus)) {
            err_set(e, ERR_INVALID, f, "jobs[%zu].duration_s must give one duration per SKU", i);
            goto out;
        }
        for (size_t k = 0; k < json_array_size(skus); k++) {
            json_t *s = json_array_get(skus, k), *d = json_array_get(durs, k);
            int sk = json_is_string(s) ? whatif_layout_sku(l, json_string_value(s)) : -1;

            if (sk < 0) {
                err_set(e, ERR_INVALID, f, "%s[%zu] is not a SKU of the layout", f, k);
                goto out;
            }
            if (!json_is_number(d) || !(json_number_value(d) > 0)) {
                err_set(e, ERR_INVALID, f, "jobs[%zu].duration_s[%zu] must be > 0", i, k);
                goto out;
            }
            j.skus[j.n_skus] = sk;
            j.duration_s[j.n_skus] = json_number_value(d);
            j.n_skus++;
        }
        add_job(J, &cap, &j);
    }
    if (J->n > 1)
        qsort(J->v, J->n, sizeof(*J->v), cmp_job);
    *out = J;
    J = NULL;
    rc = 0;
out:
    whatif_jobs_free(&J);
    json_decref(root);
    return rc;
}

int whatif_jobs_load(const char *path, const struct whatif_layout *l, struct whatif_jobs **out,
                     struct err *e)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (trace_read_file(path, &text, &len, e))
        return -1;
    rc = whatif_jobs_parse(text, len, path, l, out, e);
    free(text);
    return rc;
}
