/* state.c -- the policy state kept across cycles: serving pools' hysteresis and
 * back-off, and namespaces' decayed usage, each found by name and made on first use. */
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
