/* fuzz_config.c -- libFuzzer target for the process configuration file (cmd/config.h:
 * config_apply_json over the embedded defaults, including "skus" and "clusters"). The input
 * is copied and NUL-terminated, as config_load_file() does. Besides memory safety (and
 * leaks: every accepted config is released with config_free()) it checks the header's
 * promises: a failure is ERR_CONFIG with a message and leaves the config unchanged, and a
 * file that applied once applies again on top of its own result with the same outcome. */
#include "base/err.h"
#include "cluster/cluster_config.h"
#include "cmd/config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const struct err *e)
{
    fprintf(stderr, "fuzz_config: %s (%s: %s)\n", what, e ? e->field : "", e ? e->msg : "");
    abort();
}

/* A config owns three lists (clusters, quotas, namespace weights); compare those by content
 * and everything else byte for byte. A new owned pointer in struct config must be added here
 * and in config_free(), or this target reports a difference. */
static int config_same(const struct config *a, const struct config *b)
{
    struct config x = *a, y = *b;

    if (a->n_clusters != b->n_clusters || a->n_quotas != b->n_quotas ||
        a->n_weights != b->n_weights)
        return 0;
    if (a->n_clusters && memcmp(a->clusters, b->clusters, a->n_clusters * sizeof(*a->clusters)))
        return 0;
    if (a->n_quotas && memcmp(a->quotas, b->quotas, a->n_quotas * sizeof(*a->quotas)))
        return 0;
    for (size_t i = 0; i < a->n_weights; i++)
        if (strcmp(a->weights[i].ns, b->weights[i].ns) != 0 ||
            a->weights[i].weight != b->weights[i].weight)
            return 0;
    x.clusters = y.clusters = NULL;
    x.quotas = y.quotas = NULL;
    x.weights = y.weights = NULL;
    if (!a->tenants != !b->tenants) /* the tenants' rules are opaque: compared by presence */
        return 0;
    x.tenants = y.tenants = NULL;
    return memcmp(&x, &y, sizeof(x)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    struct config once, twice, before;
    struct err e = {0};

    memcpy(text, data, size);
    text[size] = '\0';
    config_defaults(&once);
    config_defaults(&twice);
    config_defaults(&before);
    if (config_apply_json(&once, text, &e) != 0) {
        if (e.code != ERR_CONFIG || !e.msg[0] || !memchr(e.msg, '\0', sizeof(e.msg)))
            fail("failure without ERR_CONFIG and a message", &e);
        if (!config_same(&once, &before))
            fail("config changed by a failed apply", &e);
        goto out;
    }
    /* Applying the same file twice (a file named twice on the command line) must give the
     * same result, and the second apply must release the lists of the first (LeakSanitizer
     * reports it otherwise). */
    if (config_apply_json(&twice, text, &e) != 0 || config_apply_json(&twice, text, &e) != 0)
        fail("a config that applied once fails on top of itself", &e);
    if (!config_same(&once, &twice))
        fail("applying the same config twice changes it", NULL);
out:
    config_free(&once);
    config_free(&twice);
    config_free(&before);
    free(text);
    return 0;
}
