/* retry.c -- retry policies read from their canonical JSON, failures classified, and the
 * first matching rule's verdict, as Kubernetes' podFailurePolicy picks its rule. */
#include "scheduler/retry.h"

#include "base/mem.h"
#include "cluster/pod_status.h"

#include <stdio.h>
#include <string.h>

/* Process-wide configuration (retryDefaults), set once at start: see retry.h. */
static json_t *defaults;

static const char *const class_names[] = {[RETRY_CLASS_NONE] = "Other",
                                          [RETRY_CLASS_INFRASTRUCTURE] = "Infrastructure",
                                          [RETRY_CLASS_EXIT_CODE] = "ExitCode",
                                          [RETRY_CLASS_OOM] = "OOM"};

const char *retry_class_name(enum retry_class c)
{
    return c <= RETRY_CLASS_OOM ? class_names[c] : "Other";
}

struct retry_failure retry_classify(bool disrupted, bool image_timeout, const struct pod_diag *d)
{
    struct retry_failure f = {RETRY_CLASS_NONE, 0};

    if (disrupted || image_timeout) {
        f.cls = RETRY_CLASS_INFRASTRUCTURE;
        return f;
    }
    if (!d)
        return f;
    switch (d->kind) {
    case POD_TROUBLE_OOM:
        f.cls = RETRY_CLASS_OOM;
        f.exit_code = d->has_exit_code ? d->exit_code : 137;
        break;
    case POD_TROUBLE_TERMINATED:
        if (d->has_exit_code && d->exit_code != 0) {
            f.cls = RETRY_CLASS_EXIT_CODE;
            f.exit_code = d->exit_code;
        }
        break;
    case POD_TROUBLE_POD_FAILED:
        if (strcmp(d->reason, "Evicted") == 0)
            f.cls = RETRY_CLASS_INFRASTRUCTURE;
        break;
    case POD_TROUBLE_WAITING:
        if (pod_diag_image_trouble(d))
            f.cls = RETRY_CLASS_INFRASTRUCTURE;
        break;
    default: break;
    }
    return f;
}

void retry_policy_clear(struct retry_policy *p)
{
    for (size_t i = 0; i < p->n_rules; i++)
        free(p->rules[i].codes);
    free(p->rules);
    memset(p, 0, sizeof(*p));
}

static int class_of(const char *s, enum retry_class *out)
{
    for (int c = RETRY_CLASS_INFRASTRUCTURE; c <= RETRY_CLASS_OOM; c++)
        if (s && strcmp(s, class_names[c]) == 0) {
            *out = (enum retry_class)c;
            return 0;
        }
    return -1;
}

static int read_rule(const json_t *r, struct retry_rule *out)
{
    const char *action = json_string_value(json_object_get(r, "action"));
    const char *op = json_string_value(json_object_get(r, "operator"));
    const json_t *values = json_object_get(r, "values"), *x;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (class_of(json_string_value(json_object_get(r, "class")), &out->cls) || !action ||
        (strcmp(action, "Retry") != 0 && strcmp(action, "Fail") != 0))
        return -1;
    out->action = strcmp(action, "Fail") == 0 ? RETRY_ACTION_FAIL : RETRY_ACTION_RETRY;
    if (out->cls != RETRY_CLASS_EXIT_CODE)
        return 0;
    if (!op || !json_is_array(values) || json_array_size(values) == 0)
        return -1;
    out->not_in = strcmp(op, "NotIn") == 0;
    out->codes = xcalloc(json_array_size(values), 1);
    json_array_foreach(values, i, x)
    {
        json_int_t v = json_integer_value(x);

        if (!json_is_integer(x) || v < 0 || v > 255)
            return -1;
        out->codes[out->n_codes++] = (uint8_t)v;
    }
    return 0;
}

/* A non-negative integer at key; the range was checked where the object was made. */
static int int_at(const json_t *v, const char *key, int *out)
{
    const json_t *x = json_object_get(v, key);

    if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > INT32_MAX)
        return -1;
    *out = (int)json_integer_value(x);
    return 0;
}

int retry_policy_read(const json_t *v, struct retry_policy *out)
{
    const json_t *rules = json_object_get(v, "rules"), *r;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(v) || int_at(v, "maxRetries", &out->max_retries) ||
        int_at(v, "backoffSeconds", &out->backoff_s) ||
        int_at(v, "maxBackoffSeconds", &out->max_backoff_s) || (rules && !json_is_array(rules)))
        goto bad;
    out->rules = xcalloc(json_array_size(rules) + 1, sizeof(*out->rules));
    json_array_foreach(rules, i, r)
    {
        int rc = read_rule(r, &out->rules[out->n_rules]);

        out->n_rules++; /* counted either way, so clear() frees its codes */
        if (rc)
            goto bad;
    }
    return 0;
bad:
    retry_policy_clear(out);
    return -1;
}

void retry_defaults_set(const json_t *by_ns)
{
    json_decref(defaults);
    defaults = by_ns ? json_deep_copy(by_ns) : NULL;
}

void retry_policy_for(const json_t *spec, const char *ns, struct retry_policy *out)
{
    const json_t *v = json_object_get(json_object_get(spec, "scheduling"), "retry");

    if (!v)
        v = json_object_get(defaults, ns);
    if (!v)
        v = json_object_get(defaults, "*");
    if (retry_policy_read(v, out))
        memset(out, 0, sizeof(*out));
}

static bool rule_matches(const struct retry_rule *r, const struct retry_failure *f)
{
    bool in = false;

    if (r->cls != f->cls)
        return false;
    if (r->cls != RETRY_CLASS_EXIT_CODE)
        return true;
    for (size_t i = 0; i < r->n_codes; i++)
        in |= r->codes[i] == f->exit_code;
    return r->not_in ? !in : in;
}

int64_t retry_backoff_ms(const struct retry_policy *p, int n)
{
    int64_t s = p->backoff_s;

    for (int i = 1; i < n && s < p->max_backoff_s; i++)
        s *= 2;
    if (s > p->max_backoff_s)
        s = p->max_backoff_s;
    return s * 1000;
}

/* "rule 2 (OOM: Retry) fired" or "no rule matched ExitCode 3 (Retry by default)". */
static void describe(const struct retry_policy *p, size_t rule, const struct retry_failure *f,
                     char *out, size_t size)
{
    char what[32] = "";

    if (f->cls == RETRY_CLASS_EXIT_CODE)
        snprintf(what, sizeof(what), " %d", f->exit_code);
    if (rule)
        snprintf(out, size, "rule %zu (%s%s: %s) fired", rule,
                 retry_class_name(p->rules[rule - 1].cls), what,
                 p->rules[rule - 1].action == RETRY_ACTION_FAIL ? "Fail" : "Retry");
    else
        snprintf(out, size, "no rule matched %s%s (Retry by default)", retry_class_name(f->cls),
                 what);
}

void retry_decide(const struct retry_policy *p, const struct retry_failure *f, int retries,
                  struct retry_verdict *out)
{
    enum retry_action action = RETRY_ACTION_RETRY;
    char rule[96];

    memset(out, 0, sizeof(*out));
    if (p->max_retries == 0 || f->cls == RETRY_CLASS_NONE)
        return;
    out->by_policy = true;
    for (size_t i = 0; i < p->n_rules && !out->rule; i++)
        if (rule_matches(&p->rules[i], f)) {
            out->rule = i + 1;
            action = p->rules[i].action;
        }
    describe(p, out->rule, f, rule, sizeof(rule));
    if (action == RETRY_ACTION_FAIL) {
        snprintf(out->reason, sizeof(out->reason), "Fail%s", retry_class_name(f->cls));
        snprintf(out->message, sizeof(out->message), "%s; not retried", rule);
        return;
    }
    if (retries >= p->max_retries) {
        snprintf(out->reason, sizeof(out->reason), "RetriesExhausted");
        snprintf(out->message, sizeof(out->message), "%s; maxRetries %d exhausted, not retried",
                 rule, p->max_retries);
        return;
    }
    out->retry = true;
    out->backoff_ms = retry_backoff_ms(p, retries + 1);
    snprintf(out->reason, sizeof(out->reason), "Retry%s", retry_class_name(f->cls));
    snprintf(out->message, sizeof(out->message), "%s; retry %d of %d in %lld s", rule, retries + 1,
             p->max_retries, (long long)(out->backoff_ms / 1000));
}
