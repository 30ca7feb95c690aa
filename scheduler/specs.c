/* specs.c -- the leader's parsed specs: an array sorted by job id, filled from the store
 * for the jobs about to be dispatched and pruned to the live jobs each cycle. */
#include "scheduler/specs.h"

#include "base/err.h"
#include "base/mem.h"
#include "store/live_jobs.h"

#include <stdlib.h>
#include <string.h>

struct spec_cache {
    struct spec_entry *v; /* ascending id */
    size_t n, cap;
    uint64_t parses;
};

struct spec_cache *spec_cache_new(void)
{
    return xcalloc(1, sizeof(struct spec_cache));
}

static void entry_clear(struct spec_entry *x)
{
    json_decref(x->spec);
    json_decref(x->labels);
}

void spec_cache_clear(struct spec_cache *c)
{
    for (size_t i = 0; i < c->n; i++)
        entry_clear(&c->v[i]);
    c->n = 0;
}

void spec_cache_free(struct spec_cache **cp)
{
    if (!cp || !*cp)
        return;
    spec_cache_clear(*cp);
    free((*cp)->v);
    free(*cp);
    *cp = NULL;
}

/* The index of id, or of where it would go. */
static size_t lower_bound(const struct spec_cache *c, int64_t id)
{
    size_t lo = 0, hi = c->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (c->v[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const struct spec_entry *spec_cache_get(const struct spec_cache *c, int64_t id)
{
    size_t i = lower_bound(c, id);

    return i < c->n && c->v[i].id == id ? &c->v[i] : NULL;
}

static int by_id(const void *a, const void *b)
{
    const struct spec_entry *x = a, *y = b;

    return (x->id > y->id) - (x->id < y->id);
}

int spec_cache_fill(struct spec_cache *c, struct store *s, const int64_t *ids, size_t n,
                    struct err *e)
{
    int64_t *missing = xcalloc(n + 1, sizeof(*missing));
    struct store_sched_spec *rows = NULL;
    size_t n_missing = 0, n_rows = 0;

    for (size_t i = 0; i < n; i++)
        if (!spec_cache_get(c, ids[i]))
            missing[n_missing++] = ids[i];
    if (n_missing == 0) {
        free(missing);
        return 0;
    }
    if (store_sched_specs(s, missing, n_missing, &rows, &n_rows, e)) {
        free(missing);
        return -1;
    }
    free(missing);
    if (c->n + n_rows > c->cap) {
        c->cap = (c->n + n_rows) * 2;
        c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
    }
    for (size_t i = 0; i < n_rows; i++) {
        struct spec_entry *x = &c->v[c->n++];

        x->id = rows[i].id;
        x->spec = json_loads(rows[i].spec_json, 0, NULL);
        if (!json_is_object(x->spec)) {
            json_decref(x->spec);
            x->spec = NULL;
        }
        x->labels = json_loads(rows[i].labels_json, 0, NULL);
        if (!json_is_object(x->labels)) {
            json_decref(x->labels);
            x->labels = json_object();
        }
        c->parses++;
    }
    store_sched_specs_free(&rows, n_rows);
    qsort(c->v, c->n, sizeof(*c->v), by_id);
    return 0;
}

void spec_cache_prune(struct spec_cache *c, const struct store_sched_jobs *live)
{
    size_t keep = 0, k = 0;

    /* Both lists are in ascending id order. */
    for (size_t i = 0; i < c->n; i++) {
        while (k < live->n && live->v[k].id < c->v[i].id)
            k++;
        if (k < live->n && live->v[k].id == c->v[i].id)
            c->v[keep++] = c->v[i];
        else
            entry_clear(&c->v[i]);
    }
    c->n = keep;
}

uint64_t spec_cache_parses(const struct spec_cache *c)
{
    return c->parses;
}

size_t spec_cache_size(const struct spec_cache *c)
{
    return c->n;
}
