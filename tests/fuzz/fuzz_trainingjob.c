/* fuzz_trainingjob.c -- libFuzzer target for the TrainingJob parser and validator
 * (api/trainingjob.h), the code every submitted body goes through. Besides memory safety it
 * checks the header's promises: a failure fills a known code and UTF-8 field and message
 * (the API puts both into JSON), and a job that was accepted, rendered the way GET renders
 * it and submitted again parses to the same canonical spec, labels and name. */
#include "api/trainingjob.h"
#include "base/err.h"
#include "base/job.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS "maps-team"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *a, const char *b)
{
    fprintf(stderr, "fuzz_trainingjob: %s\n  first:  %s\n  second: %s\n", what, a ? a : "(null)",
            b ? b : "(null)");
    abort();
}

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* jansson refuses invalid UTF-8, so json_string() doubles as the validity check the API's
 * error writer depends on. */
static void check_utf8(const char *s, const char *what)
{
    json_t *v;

    if (!memchr(s, '\0', sizeof(((struct err *)0)->msg)))
        fail("error text not terminated", what, NULL);
    v = json_string(s);
    if (!v)
        fail("error text is not valid UTF-8", what, s);
    json_decref(v);
}

static void round_trip(const struct job *j)
{
    json_t *o = trainingjob_to_json(j);
    char *text = json_dumps(o, JSON_COMPACT);
    struct job *again = NULL;
    struct err e = {0};

    if (!text)
        fail("rendered job cannot be encoded", j->spec_json, NULL);
    if (trainingjob_parse(text, strlen(text), NS, NULL, &again, &e) != 0)
        fail("rendered job is refused on resubmission", text, e.msg);
    if (!same(j->spec_json, again->spec_json))
        fail("spec changes across a round trip", j->spec_json, again->spec_json);
    if (!same(j->labels_json, again->labels_json))
        fail("labels change across a round trip", j->labels_json, again->labels_json);
    if (!same(j->name, again->name) || !same(j->api_version, again->api_version))
        fail("name or apiVersion changes across a round trip", j->name, again->name);
    if (j->gpu_count != again->gpu_count || j->priority != again->priority ||
        j->preemptible != again->preemptible || j->n_alt_skus != again->n_alt_skus ||
        j->n_cluster_affinity != again->n_cluster_affinity)
        fail("lifted fields change across a round trip", j->spec_json, again->spec_json);
    job_free(&again);
    free(text);
    json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct job *j = NULL;
    struct err_causes c;

    if (trainingjob_parse_all((const char *)data, size, NS, NULL, &j, &c) != 0) {
        if (j != NULL)
            fail("*out written on failure", NULL, NULL);
        if (c.n == 0 || c.n > ERR_CAUSES_MAX || (c.more && c.n < ERR_CAUSES_MAX))
            fail("failure without causes, or with too many", NULL, NULL);
        for (size_t i = 0; i < c.n; i++) {
            const struct err *e = &c.items[i];

            if (e->code != ERR_MALFORMED && e->code != ERR_INVALID &&
                (c.n > 1 || (e->code != ERR_TOO_LARGE && e->code != ERR_INTERNAL)))
                fail("failure with an unexpected error code", e->field, e->msg);
            check_utf8(e->field, "field");
            check_utf8(e->msg, "msg");
            if (!e->msg[0])
                fail("failure without a message", e->field, NULL);
        }
        return 0;
    }
    if (c.n != 0)
        fail("accepted with causes", c.items[0].field, c.items[0].msg);
    if (!j || !j->name || !j->ns || strcmp(j->ns, NS) != 0 || !j->spec_json || !j->labels_json ||
        j->phase != PHASE_QUEUED)
        fail("accepted job lacks a required field", j ? j->name : NULL, j ? j->spec_json : NULL);
    round_trip(j);
    job_free(&j);
    return 0;
}
