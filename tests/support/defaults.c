/* defaults.c -- the configuration table's defaults, one subsystem at a time. */
#include "tests/support/defaults.h"

#include "cmd/config.h"
#include "store/store.h"

#include <stdlib.h>

/* struct config is large (the SKU catalogue); keep it off small test stacks. */
static struct config *defaults(void)
{
    struct config *c = calloc(1, sizeof(*c));

    if (!c)
        abort();
    config_defaults(c);
    return c;
}

void defaults_policy(struct policy_config *out)
{
    struct config *c = defaults();

    *out = c->policy;
    config_free(c);
    free(c);
}

void defaults_poller(struct poller_options *out)
{
    struct config *c = defaults();

    *out = c->poller;
    config_free(c);
    free(c);
}

void defaults_sched(struct sched_options *out)
{
    struct config *c = defaults();

    *out = c->scheduler;
    config_free(c);
    free(c);
}

void defaults_store(struct store_config *out, const char *dsn, int pool_size)
{
    struct config *c = defaults();

    config_store_options(c, out);
    out->dsn = dsn;
    out->pool_size = pool_size;
    config_free(c);
    free(c);
}
