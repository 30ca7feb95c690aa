/* state.c -- the policy state kept across cycles: serving pools' hysteresis and
 * back-off, namespaces' decayed usage and clusters' recent priority preemptions, each found
 * by name and made on first use. */
#include "policy/policy.h"

#include "base/mem.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct policy_state *policy_state_new(void)
{
    return xcalloc(1, sizeof(struct policy_state));
}

void policy_state_free(struct policy_state **s)
{
    if (!s || !*s)
        return;
    free((*s)->pools);
    free((*s)->usage);
    free((*s)->preempts);
    free((*s)->backfill);
    free((*s)->reserved);
    free(*s);
    *s = NULL;
}

/* Each kind of entry opens with its name. */
_Static_assert(offsetof(struct policy_pool_state, cluster) == 0, "name first");
_Static_assert(offsetof(struct policy_usage, ns) == 0, "name first");
_Static_assert(offsetof(struct policy_preempt_log, cluster) == 0, "name first");

/* The entry named name of the array whose pointer is at vp (n entries of size bytes, each
 * opening with its name in a char[name_max]); with create, added zeroed when absent. The
 * array pointer is read and written with memcpy, so one function serves every kind. */
static void *entry(void *vp, size_t *n, size_t *cap, size_t size, size_t name_max, const char *name,
                   bool create)
{
    char *v, *e;

    memcpy(&v, vp, sizeof(v));
    for (size_t i = 0; i < *n; i++)
        if (strcmp(v + i * size, name) == 0)
            return v + i * size;
    if (!create)
        return NULL;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        v = xrealloc(v, *cap * size);
        memcpy(vp, &v, sizeof(v));
    }
    e = v + (*n)++ * size;
    memset(e, 0, size);
    snprintf(e, name_max, "%s", name);
    return e;
}

struct policy_pool_state *policy_state_pool(struct policy_state *s, const char *cluster,
                                            bool create)
{
    return entry(&s->pools, &s->n_pools, &s->cap_pools, sizeof(*s->pools),
                 sizeof(s->pools->cluster), cluster, create);
}

struct policy_usage *policy_state_usage(struct policy_state *s, const char *ns, bool create)
{
    return entry(&s->usage, &s->n_usage, &s->cap_usage, sizeof(*s->usage), sizeof(s->usage->ns), ns,
                 create);
}

struct policy_preempt_log *policy_state_preempts(struct policy_state *s, const char *cluster,
                                                 bool create)
{
    return entry(&s->preempts, &s->n_preempts, &s->cap_preempts, sizeof(*s->preempts),
                 sizeof(s->preempts->cluster), cluster, create);
}

int policy_preempts_in_window(const struct policy_preempt_log *l, int64_t now_ms, int64_t window_s)
{
    int n = 0;

    for (size_t i = 0; l && i < POLICY_PREEMPT_BUDGET_MAX; i++)
        if (l->at_ms[i] > 0 && l->at_ms[i] > now_ms - window_s * 1000 && l->at_ms[i] <= now_ms)
            n++;
    return n;
}
