/* fuzz_yaml.c -- libFuzzer target for the YAML reader (client/yaml.h). Besides memory
 * safety it checks what holds for every input: success gives an array of documents none
 * of which is null, nested no deeper than the bound; failure leaves the output untouched
 * and says ERR_MALFORMED or ERR_TOO_LARGE with a message that starts "line L, column C". */
#include "base/err.h"
#include "client/yaml.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *msg)
{
    fprintf(stderr, "fuzz_yaml: %s (%s)\n", what, msg);
    abort();
}

static int depth_of(json_t *v)
{
    int deepest = 0;

    if (json_is_array(v)) {
        size_t i;
        json_t *item;

        json_array_foreach(v, i, item)
        {
            int d = depth_of(item);
            if (d > deepest)
                deepest = d;
        }
        return 1 + deepest;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *item;

        json_object_foreach(v, k, item)
        {
            int d = depth_of(item);
            if (d > deepest)
                deepest = d;
        }
        return 1 + deepest;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *untouched = (json_t *)&size, *docs = untouched;
    struct err e = {0};
    unsigned long line, col;
    size_t i;
    json_t *doc;

    if (yaml_parse_all((const char *)data, size, &docs, &e) != 0) {
        if (docs != untouched)
            fail("output written on failure", e.msg);
        if (e.code != ERR_MALFORMED && e.code != ERR_TOO_LARGE)
            fail("failure with an unexpected code", e.msg);
        if (sscanf(e.msg, "line %lu, column %lu: ", &line, &col) != 2 || line == 0 || col == 0)
            fail("failure without a 1-based line and column", e.msg);
        return 0;
    }
    if (!json_is_array(docs))
        fail("documents are not an array", "");
    json_array_foreach(docs, i, doc)
    {
        if (json_is_null(doc))
            fail("an empty document was kept", "");
        if (depth_of(doc) > YAML_MAX_DEPTH)
            fail("nested deeper than the bound", "");
    }
    json_decref(docs);
    return 0;
}
