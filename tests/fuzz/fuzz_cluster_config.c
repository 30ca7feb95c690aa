/* fuzz_cluster_config.c -- libFuzzer target for a member cluster's config as the config file
 * and PUT /v1/clusters/{name} give it (cluster/cluster_config.h: cluster_config_parse, with
 * time zones, lending windows, selectors, tolerations and prices). Besides memory safety it
 * checks the header's promises: *out is written only on success, a failure is ERR_INVALID or
 * ERR_MALFORMED (or ERR_TOO_LARGE for text over the limits) with a message, and an accepted
 * config survives cluster_config_to_json() -> cluster_config_from_json() unchanged (the
 * registry stores configs that way); a refused object lists its causes, the first the
 * error (cluster_config_from_json_all). */
#include "base/err.h"
#include "base/sku.h"
#include "cluster/cluster_config.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const struct err *e)
{
    fprintf(stderr, "fuzz_cluster_config: %s (%s: %s)\n", what, e ? e->field : "", e ? e->msg : "");
    abort();
}

/* A refused object (text that parses as JSON) lists 1 to 16 causes, the first the error
 * e, each with a known code and a message, and more only when all 16 are used. */
static void check_causes(const char *data, size_t size, const struct err *e)
{
    struct cluster_config *c = malloc(sizeof(*c));
    struct err_causes *cs = malloc(sizeof(*cs));
    json_t *j = json_loadb(data, size, JSON_REJECT_DUPLICATES, NULL);

    if (j && size <= (1u << 20)) {
        if (cluster_config_from_json_all(j, sku_defaults(), c, cs) == 0)
            fail("refused as text, accepted as an object", e);
        if (cs->n < 1 || cs->n > ERR_CAUSES_MAX || (cs->more && cs->n < ERR_CAUSES_MAX))
            fail("cause count out of range", e);
        if (strcmp(cs->items[0].field, e->field) != 0 || strcmp(cs->items[0].msg, e->msg) != 0)
            fail("the first cause is not the error", &cs->items[0]);
        for (size_t i = 0; i < cs->n; i++)
            if ((cs->items[i].code != ERR_INVALID && cs->items[i].code != ERR_MALFORMED) ||
                !cs->items[i].msg[0])
                fail("a cause without a known code or a message", &cs->items[i]);
    }
    json_decref(j);
    free(cs);
    free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cluster_config *c = malloc(sizeof(*c)), *again = malloc(sizeof(*again));
    struct cluster_config *guard = malloc(sizeof(*guard));
    struct err e = {0};
    json_t *j = NULL;

    memset(c, 0xA5, sizeof(*c));
    memset(guard, 0xA5, sizeof(*guard));
    if (cluster_config_parse((const char *)data, size, sku_defaults(), c, &e) != 0) {
        if (e.code != ERR_INVALID && e.code != ERR_MALFORMED && e.code != ERR_TOO_LARGE)
            fail("failure with an unexpected error code", &e);
        if (!e.msg[0] || !memchr(e.msg, '\0', sizeof(e.msg)))
            fail("failure without a message", &e);
        if (memcmp(c, guard, sizeof(*c)) != 0)
            fail("*out written on failure", &e);
        check_causes((const char *)data, size, &e);
        goto out;
    }
    if (cluster_config_validate(c, sku_defaults(), &e) != 0)
        fail("an accepted config does not validate", &e);
    j = cluster_config_to_json(c);
    memset(again, 0xA5, sizeof(*again));
    if (cluster_config_from_json(j, sku_defaults(), again, &e) != 0)
        fail("the rendered config is refused", &e);
    {
        /* Byte-compare would see the bytes after each string's NUL; render both and compare
         * the JSON instead, which is what the registry stores. */
        json_t *k = cluster_config_to_json(again);

        if (!json_equal(j, k)) {
            char *a = json_dumps(j, JSON_SORT_KEYS), *b = json_dumps(k, JSON_SORT_KEYS);

            fprintf(stderr, "first:  %s\nsecond: %s\n", a, b);
            fail("a config changes across to_json -> from_json", NULL);
        }
        json_decref(k);
    }
out:
    json_decref(j);
    free(c);
    free(again);
    free(guard);
    return 0;
}
