/* state.c -- the policy state kept across cycles: serving pools' hysteresis and
 * back-off, namespaces' decayed usage and clusters' recent priority preemptions, each found
 * by name and made on first use. */
#include "policy/policy.h"

#include "base/mem.h"

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
    free(*s);
    *s = NULL;
}

struct policy_pool_state *policy_state_pool(struct policy_state *s, const char *cluster,
                                            bool create)
{
    struct policy_pool_state *p;

    for (size_t i = 0; i < s->n_pools; i++)
        if (strcmp(s->pools[i].cluster, cluster) == 0)
            return &s->pools[i];
    if (!create)
        return NULL;
    if (s->n_pools == s->cap_pools) {
        s->cap_pools = s->cap_pools ? s->cap_pools * 2 : 8;
        s->pools = xrealloc(s->pools, s->cap_pools * sizeof(*s->pools));
    }
    p = &s->pools[s->n_pools++];
    memset(p, 0, sizeof(*p));
    snprintf(p->cluster, sizeof(p->cluster), "%s", cluster);
    return p;
}

struct policy_usage *policy_state_usage(struct policy_state *s, const char *ns, bool create)
{
    struct policy_usage *u;

    for (size_t i = 0; i < s->n_usage; i++)
        if (strcmp(s->usage[i].ns, ns) == 0)
            return &s->usage[i];
    if (!create)
        return NULL;
    if (s->n_usage == s->cap_usage) {
        s->cap_usage = s->cap_usage ? s->cap_usage * 2 : 8;
        s->usage = xrealloc(s->usage, s->cap_usage * sizeof(*s->usage));
    }
    u = &s->usage[s->n_usage++];
    memset(u, 0, sizeof(*u));
    snprintf(u->ns, sizeof(u->ns), "%s", ns);
    return u;
}

struct policy_preempt_log *policy_state_preempts(struct policy_state *s, const char *cluster,
                                                 bool create)
{
    struct policy_preempt_log *l;

    for (size_t i = 0; i < s->n_preempts; i++)
        if (strcmp(s->preempts[i].cluster, cluster) == 0)
            return &s->preempts[i];
    if (!create)
        return NULL;
    if (s->n_preempts == s->cap_preempts) {
        s->cap_preempts = s->cap_preempts ? s->cap_preempts * 2 : 8;
        s->preempts = xrealloc(s->preempts, s->cap_preempts * sizeof(*s->preempts));
    }
    l = &s->preempts[s->n_preempts++];
    memset(l, 0, sizeof(*l));
    snprintf(l->cluster, sizeof(l->cluster), "%s", cluster);
    return l;
}

int policy_preempts_in_window(const struct policy_preempt_log *l, int64_t now_ms, int64_t window_s)
{
    int n = 0;

    for (size_t i = 0; l && i < POLICY_PREEMPT_BUDGET_MAX; i++)
        if (l->at_ms[i] > 0 && l->at_ms[i] > now_ms - window_s * 1000 && l->at_ms[i] <= now_ms)
            n++;
    return n;
}
