/* cluster_config.c -- member-cluster configuration: defaults, JSON, validation, TZ rules. */
#include "cluster/cluster_config.h"

#include "base/clock.h"
#include "base/dns.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/sha256.h"
#include "cluster/credentials.h"
#include "policy/tz.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const day_names[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

void cluster_config_init(struct cluster_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->job_namespace, sizeof(c->job_namespace), "%s", "fedsched-{ns}");
    snprintf(c->timezone, sizeof(c->timezone), "%s", "UTC");
    c->lost_timeout_s = 900;
    snprintf(c->tolerations[0].key, sizeof(c->tolerations[0].key), "%s", "nvidia.com/gpu");
    c->tolerations[0].exists = true;
    c->n_tolerations = 1;
}

/* ---- small validators ---------------------------------------------------------------- */

/* Label keys: optional DNS-subdomain prefix and "/", then a name of [A-Za-z0-9._-]. */
static bool label_key(const char *s)
{
    const char *name = strrchr(s, '/');
    size_t n;

    name = name ? name + 1 : s;
    n = strlen(name);
    if (n == 0 || n > 63 || (name > s && name - s - 1 > 253))
        return false;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("._-/", *p)))
            return false;
    return isalnum((unsigned char)name[0]) && isalnum((unsigned char)name[n - 1]);
}

static bool label_value(const char *s)
{
    size_t n = strlen(s);

    if (n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || strchr("._-", s[i])))
            return false;
    return n == 0 || (isalnum((unsigned char)s[0]) && isalnum((unsigned char)s[n - 1]));
}

static bool zone_name(const char *s)
{
    if (!*s || s[0] == '/' || strstr(s, ".."))
        return false;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("/_+-", *p)))
            return false;
    return true;
}

#define NS_PLACEHOLDER "{ns}"

/* Expands template with ns for each "{ns}", without any cut. False when the result does not
 * fit in size. A stray '{' or '}' is copied, and fails the DNS label check after. */
static bool ns_expand(const char *tmpl, const char *ns, char *out, size_t size)
{
    size_t n = 0, pl = strlen(NS_PLACEHOLDER), nl = strlen(ns);

    for (const char *p = tmpl; *p;) {
        const char *piece = p;
        size_t len = 1;

        if (strncmp(p, NS_PLACEHOLDER, pl) == 0) {
            piece = ns;
            len = nl;
            p += pl;
        } else {
            p++;
        }
        if (n + len >= size)
            return false;
        memcpy(out + n, piece, len);
        n += len;
    }
    out[n] = '\0';
    return true;
}

/* A template is valid when its expansion with a one-letter namespace is a DNS label:
 * [a-z0-9-] around the placeholders, starting and ending with a letter, digit or {ns}. */
static int job_namespace_check(const char *tmpl, struct err *e)
{
    char x[128];

    if (!ns_expand(tmpl, "x", x, sizeof(x)) || !dns_label_ok(x, strlen(x)))
        return err_set(e, ERR_INVALID, "jobNamespace",
                       "jobNamespace \"%s\" is not a namespace template: lower-case letters, "
                       "digits, '-' and {ns} (the TrainingJob's namespace), starting and ending "
                       "with a letter, digit or {ns}, at most 62 characters besides {ns}",
                       tmpl);
    return 0;
}

int cluster_member_namespace(const struct cluster_config *c, const char *ns, char *out, size_t size,
                             struct err *e)
{
    char full[CLUSTER_PATH_MAX], hex[65];
    size_t n;

    if (!ns || !dns_label_ok(ns, strlen(ns)) ||
        !ns_expand(c->job_namespace, ns, full, sizeof(full)))
        return err_set(e, ERR_INVALID, "jobNamespace",
                       "jobNamespace \"%s\" cannot be expanded for namespace \"%s\"",
                       c->job_namespace, ns ? ns : "");
    n = strlen(full);
    if (n > 63) {
        /* Two long namespaces sharing their first 54 characters still differ by the hash. */
        sha256_hex(full, n, hex);
        n = 54;
        while (n > 0 && full[n - 1] == '-')
            n--;
        snprintf(full + n, sizeof(full) - n, "-%.8s", hex);
        n = strlen(full);
    }
    if (!dns_label_ok(full, n) || n >= size)
        return err_set(e, ERR_INVALID, "jobNamespace",
                       "jobNamespace \"%s\" gives \"%s\" for namespace \"%s\", not a namespace",
                       c->job_namespace, full, ns);
    memcpy(out, full, n + 1);
    return 0;
}

/* A URL we may put in front of "/api/v1/query?query=": http(s), a host, no query, no
 * fragment, nothing but printable ASCII. */
static bool query_base_ok(const char *u)
{
    const char *host = strncmp(u, "https://", 8) == 0  ? u + 8
                       : strncmp(u, "http://", 7) == 0 ? u + 7
                                                       : NULL;

    if (!host || !*host || *host == '/' || *host == ':')
        return false;
    for (const char *p = u; *p; p++)
        if (*p <= ' ' || *p > '~' || *p == '?' || *p == '#')
            return false;
    return true;
}

static int demand_query_check(const struct cluster_demand_query *q,
                              const struct sku_catalogue *skus, struct err *e)
{
    if (!q->enabled)
        return 0;
    if (!query_base_ok(q->url))
        return err_set(e, ERR_INVALID, "servingPool.demandQuery.url",
                       "servingPool.demandQuery.url \"%.200s\" must be an http:// or https:// "
                       "base URL without query or fragment",
                       q->url);
    if (!q->query[0])
        return err_set(e, ERR_INVALID, "servingPool.demandQuery.query",
                       "servingPool.demandQuery.query must not be empty");
    for (const char *p = q->query; *p; p++)
        if ((unsigned char)*p < ' ' && *p != '\n' && *p != '\t')
            return err_set(e, ERR_INVALID, "servingPool.demandQuery.query",
                           "servingPool.demandQuery.query holds a control character");
    if (q->sku[0] && skus && sku_find(skus, q->sku) < 0)
        return err_set(e, ERR_INVALID, "servingPool.demandQuery.sku",
                       "servingPool.demandQuery.sku names unknown SKU \"%s\"", q->sku);
    if (q->timeout_ms < 100 || q->timeout_ms > 30000 || q->interval_ms < 1000 ||
        q->interval_ms > 3600000 || q->max_age_ms < 1000 || q->max_age_ms > 86400000)
        return err_set(e, ERR_INVALID, "servingPool.demandQuery",
                       "servingPool.demandQuery timeoutMs %d, intervalMs %d or maxAgeSeconds %d "
                       "is out of range",
                       q->timeout_ms, q->interval_ms, q->max_age_ms / 1000);
    return 0;
}

/* ---- Causes ---------------------------------------------------------------------------- */

/* Whether cs holds a cause within the top-level member `member` ("servingPool" for the
 * field "servingPool.lendingWindows[1].start"), so its checks are not run on a default. */
static bool part_failed(const struct err_causes *cs, const char *member)
{
    size_t len = strlen(member);

    for (size_t i = 0; i < cs->n; i++) {
        const char *f = cs->items[i].field;

        if (strncmp(f, member, len) == 0 && (f[len] == '\0' || f[len] == '.' || f[len] == '['))
            return true;
    }
    return false;
}

/* ---- Validation, one part of the config at a time ------------------------------------- */

static int check_name(const struct cluster_config *c, const struct sku_catalogue *skus,
                      struct err *e)
{
    (void)skus;
    if (!dns_label_ok(c->name, strlen(c->name)))
        return err_set(e, ERR_INVALID, "name",
                       "name \"%s\" must be 1-63 lower-case letters, digits or '-'", c->name);
    return 0;
}

static int check_api_server(const struct cluster_config *c, const struct sku_catalogue *skus,
                            struct err *e)
{
    (void)skus;
    if (strncmp(c->api_server, "https://", 8) != 0 && strncmp(c->api_server, "http://", 7) != 0)
        return err_set(e, ERR_INVALID, "apiServer",
                       "apiServer \"%s\" must be an http:// or https:// URL", c->api_server);
    if (strlen(c->api_server) <= 8 || strchr(c->api_server, ' ') || strchr(c->api_server, '?'))
        return err_set(e, ERR_INVALID, "apiServer", "apiServer \"%s\" is not a valid URL",
                       c->api_server);
    return 0;
}

static int check_job_namespace(const struct cluster_config *c, const struct sku_catalogue *skus,
                               struct err *e)
{
    (void)skus;
    return job_namespace_check(c->job_namespace, e);
}

static int check_costs(const struct cluster_config *c, const struct sku_catalogue *skus,
                       struct err *e)
{
    for (size_t i = 0; i < c->n_costs; i++) {
        char field[96];

        snprintf(field, sizeof(field), "costPerGpuHour.%s", c->costs[i].sku);
        if (skus && sku_find(skus, c->costs[i].sku) < 0)
            return err_set(e, ERR_INVALID, field, "costPerGpuHour names unknown SKU \"%s\"",
                           c->costs[i].sku);
        if (!(c->costs[i].per_gpu_hour >= 0 && c->costs[i].per_gpu_hour < 1e6))
            return err_set(e, ERR_INVALID, field, "cost %g for SKU \"%s\" is out of range",
                           c->costs[i].per_gpu_hour, c->costs[i].sku);
    }
    return 0;
}

static int check_timezone(const struct cluster_config *c, const struct sku_catalogue *skus,
                          struct err *e)
{
    char rule[SNAPSHOT_TZ_MAX];

    (void)skus;
    if (!zone_name(c->timezone))
        return err_set(e, ERR_INVALID, "timezone", "timezone \"%s\" is not a zone name",
                       c->timezone);
    return cluster_config_tz_rule(c->timezone, rule, sizeof(rule), e);
}

static int check_lost_timeout(const struct cluster_config *c, const struct sku_catalogue *skus,
                              struct err *e)
{
    (void)skus;
    if (c->lost_timeout_s < 10 || c->lost_timeout_s > 7 * 86400)
        return err_set(e, ERR_INVALID, "lostTimeoutSeconds",
                       "lostTimeoutSeconds %lld must be within 10..604800",
                       (long long)c->lost_timeout_s);
    return 0;
}

static int check_tolerations(const struct cluster_config *c, const struct sku_catalogue *skus,
                             struct err *e)
{
    (void)skus;
    for (size_t i = 0; i < c->n_tolerations; i++) {
        const struct cluster_toleration *t = &c->tolerations[i];

        if ((t->key[0] && !label_key(t->key)) || (!t->key[0] && !t->exists))
            return err_set(e, ERR_INVALID, "tolerations",
                           "tolerations[%zu].key \"%s\" is not valid", i, t->key);
        if (t->effect[0] && strcmp(t->effect, "NoSchedule") != 0 &&
            strcmp(t->effect, "NoExecute") != 0 && strcmp(t->effect, "PreferNoSchedule") != 0)
            return err_set(e, ERR_INVALID, "tolerations",
                           "tolerations[%zu].effect \"%s\" is "
                           "not NoSchedule, PreferNoSchedule or NoExecute",
                           i, t->effect);
    }
    return 0;
}

static int check_serving(const struct cluster_config *c, const struct sku_catalogue *skus,
                         struct err *e)
{
    if (!c->serving.enabled)
        return 0;
    if (c->serving.n_selector == 0)
        return err_set(e, ERR_INVALID, "servingPool.nodeSelector",
                       "servingPool.nodeSelector must name at least one label");
    for (size_t i = 0; i < c->serving.n_selector; i++) {
        if (!label_key(c->serving.selector[i].key))
            return err_set(e, ERR_INVALID, "servingPool.nodeSelector",
                           "label key \"%s\" is not valid", c->serving.selector[i].key);
        if (!label_value(c->serving.selector[i].value))
            return err_set(e, ERR_INVALID, "servingPool.nodeSelector",
                           "label value \"%s\" is not valid", c->serving.selector[i].value);
    }
    for (size_t i = 0; i < c->serving.n_namespaces; i++)
        if (!dns_label_ok(c->serving.namespaces[i], strlen(c->serving.namespaces[i])))
            return err_set(e, ERR_INVALID, "servingPool.namespaces",
                           "namespace \"%s\" is not valid", c->serving.namespaces[i]);
    if (c->serving.reserve_gpus < 0 || c->serving.reserve_gpus > 100000)
        return err_set(e, ERR_INVALID, "servingPool.reserveGpus", "reserveGpus %d is out of range",
                       c->serving.reserve_gpus);
    if (c->serving.idle_minutes < 0 || c->serving.idle_minutes > 100000)
        return err_set(e, ERR_INVALID, "servingPool.idleMinutes", "idleMinutes %d is out of range",
                       c->serving.idle_minutes);
    for (size_t i = 0; i < c->serving.n_windows; i++) {
        const struct snapshot_window *w = &c->serving.windows[i];

        if (w->start_min < 0 || w->start_min > 1440 || w->end_min < 0 || w->end_min > 1440 ||
            w->days == 0 || w->days > 0x7f)
            return err_set(e, ERR_INVALID, "servingPool.lendingWindows",
                           "lendingWindows[%zu] is out of range", i);
    }
    if ((c->serving.lend_policy == SNAPSHOT_LEND_WINDOW ||
         c->serving.lend_policy == SNAPSHOT_LEND_WINDOW_OR_IDLE) &&
        c->serving.n_windows == 0)
        return err_set(e, ERR_INVALID, "servingPool.lendingWindows",
                       "lendPolicy \"%s\" needs at least one lending window",
                       snapshot_lend_policy_name(c->serving.lend_policy));
    return demand_query_check(&c->serving.demand_query, skus, e);
}

/* The parts of a config, in the order their problems are listed; each stops at its first. */
static const struct {
    const char *member;
    int (*check)(const struct cluster_config *, const struct sku_catalogue *, struct err *);
} parts[] = {
    {"name", check_name},
    {"apiServer", check_api_server},
    {"jobNamespace", check_job_namespace},
    {"costPerGpuHour", check_costs},
    {"timezone", check_timezone},
    {"lostTimeoutSeconds", check_lost_timeout},
    {"tolerations", check_tolerations},
    {"servingPool", check_serving},
};

/* Every part's first problem into cs, but for the parts that already have one (the member
 * could not be read, and the check would judge its default). */
static void validate_into(const struct cluster_config *c, const struct sku_catalogue *skus,
                          struct err_causes *cs)
{
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        struct err e = {0};

        if (!part_failed(cs, parts[i].member) && parts[i].check(c, skus, &e) != 0)
            err_cause(cs, &e);
    }
}

int cluster_config_validate(const struct cluster_config *c, const struct sku_catalogue *skus,
                            struct err *e)
{
    struct err_causes cs = {0};

    validate_into(c, skus, &cs);
    if (cs.n == 0)
        return 0;
    if (e)
        *e = cs.items[0];
    return -1;
}

/* ---- JSON in --------------------------------------------------------------------------- */

static int get_str(const json_t *obj, const char *key, const char *field, char *out, size_t size,
                   struct err *e)
{
    const json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_string(v))
        return err_set(e, ERR_INVALID, field, "%s must be a string", field);
    if (json_string_length(v) >= size || strlen(json_string_value(v)) != json_string_length(v))
        return err_set(e, ERR_INVALID, field, "%s \"%.40s...\" is longer than %zu bytes", field,
                       json_string_value(v), size - 1);
    snprintf(out, size, "%s", json_string_value(v));
    return 0;
}

static int get_bool(const json_t *obj, const char *key, bool *out, struct err *e)
{
    const json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return err_set(e, ERR_INVALID, key, "%s must be true or false", key);
    *out = json_is_true(v);
    return 0;
}

static int get_int(const json_t *obj, const char *key, const char *field, int64_t min, int64_t max,
                   int64_t *out, struct err *e)
{
    const json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        char txt[64] = "";

        if (json_is_integer(v))
            snprintf(txt, sizeof(txt), " %lld", (long long)json_integer_value(v));
        return err_set(e, ERR_INVALID, field, "%s%s must be an integer within %lld..%lld", field,
                       txt, (long long)min, (long long)max);
    }
    *out = json_integer_value(v);
    return 0;
}

/* Whether key is in the NULL-ended list known. */
static bool member_known(const char *const *known, const char *key)
{
    for (size_t i = 0; known[i]; i++)
        if (strcmp(known[i], key) == 0)
            return true;
    return false;
}

static int check_members(const json_t *obj, const char *const *known, const char *prefix,
                         struct err *e)
{
    const char *key;
    const json_t *v;

    json_object_foreach((json_t *)obj, key, v)
    {
        (void)v;
        if (!member_known(known, key)) {
            char field[160];

            snprintf(field, sizeof(field), "%s%s", prefix, key);
            return err_set(e, ERR_INVALID, field, "unknown member \"%s\"", field);
        }
    }
    return 0;
}

static const char *str_or(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : "";
}

static int parse_window(const json_t *w, size_t i, struct snapshot_window *out, struct err *e)
{
    static const char *const known[] = {"days", "start", "end", NULL};
    char field[96];
    const json_t *days = json_object_get(w, "days");

    snprintf(field, sizeof(field), "servingPool.lendingWindows[%zu]", i);
    if (!json_is_object(w))
        return err_set(e, ERR_INVALID, field, "%s must be an object", field);
    if (check_members(w, known, "servingPool.lendingWindows[].", e) != 0)
        return -1;
    snprintf(field, sizeof(field), "servingPool.lendingWindows[%zu].start", i);
    if (clock_parse_hhmm(json_string_value(json_object_get(w, "start")), &out->start_min) != 0)
        return err_set(e, ERR_INVALID, field, "%s \"%s\" must be HH:MM", field,
                       str_or(json_object_get(w, "start")));
    snprintf(field, sizeof(field), "servingPool.lendingWindows[%zu].end", i);
    if (clock_parse_hhmm(json_string_value(json_object_get(w, "end")), &out->end_min) != 0)
        return err_set(e, ERR_INVALID, field, "%s \"%s\" must be HH:MM", field,
                       str_or(json_object_get(w, "end")));
    out->days = 0x7f;
    if (days) {
        size_t k;
        const json_t *d;

        snprintf(field, sizeof(field), "servingPool.lendingWindows[%zu].days", i);
        if (!json_is_array(days) || json_array_size(days) == 0)
            return err_set(e, ERR_INVALID, field, "%s must be a non-empty array of day names",
                           field);
        out->days = 0;
        json_array_foreach(days, k, d)
        {
            int day;

            for (day = 0; day < 7; day++)
                if (json_is_string(d) && strcasecmp(json_string_value(d), day_names[day]) == 0)
                    break;
            if (day == 7)
                return err_set(e, ERR_INVALID, field, "%s: \"%s\" is not one of Sun..Sat", field,
                               json_is_string(d) ? json_string_value(d) : "?");
            out->days |= (uint8_t)(1u << day);
        }
    }
    return 0;
}

static int parse_labels(const json_t *obj, const char *field, struct cluster_label *out, size_t max,
                        size_t *n, struct err *e)
{
    const char *key;
    const json_t *v;

    if (!json_is_object(obj))
        return err_set(e, ERR_INVALID, field, "%s must be an object of label: value", field);
    *n = 0;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (*n == max)
            return err_set(e, ERR_INVALID, field, "%s has more than %zu labels", field, max);
        if (!json_is_string(v) || strlen(key) >= sizeof(out->key) ||
            json_string_length(v) >= sizeof(out->value))
            return err_set(e, ERR_INVALID, field, "%s: label \"%s\" needs a short string value",
                           field, key);
        snprintf(out[*n].key, sizeof(out->key), "%s", key);
        snprintf(out[*n].value, sizeof(out->value), "%s", json_string_value(v));
        (*n)++;
    }
    return 0;
}

static int parse_demand_query(const json_t *v, struct cluster_demand_query *q, struct err *e)
{
    static const char *const known[] = {"url",        "query",         "sku", "timeoutMs",
                                        "intervalMs", "maxAgeSeconds", NULL};
    int64_t n;

    if (json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return err_set(e, ERR_INVALID, "servingPool.demandQuery",
                       "servingPool.demandQuery must be an object");
    q->timeout_ms = 2000;
    q->interval_ms = 30000;
    q->max_age_ms = 120000;
    if (check_members(v, known, "servingPool.demandQuery.", e) != 0)
        return -1;
    if (!json_object_get(v, "url") || !json_object_get(v, "query"))
        return err_set(e, ERR_INVALID,
                       json_object_get(v, "url") ? "servingPool.demandQuery.query"
                                                 : "servingPool.demandQuery.url",
                       "servingPool.demandQuery needs url and query");
    q->enabled = true;
    if (get_str(v, "url", "servingPool.demandQuery.url", q->url, sizeof(q->url), e) != 0 ||
        get_str(v, "query", "servingPool.demandQuery.query", q->query, sizeof(q->query), e) != 0 ||
        get_str(v, "sku", "servingPool.demandQuery.sku", q->sku, sizeof(q->sku), e) != 0)
        return -1;
    n = q->timeout_ms;
    if (get_int(v, "timeoutMs", "servingPool.demandQuery.timeoutMs", 100, 30000, &n, e) != 0)
        return -1;
    q->timeout_ms = (int)n;
    n = q->interval_ms;
    if (get_int(v, "intervalMs", "servingPool.demandQuery.intervalMs", 1000, 3600000, &n, e) != 0)
        return -1;
    q->interval_ms = (int)n;
    n = q->max_age_ms / 1000;
    if (get_int(v, "maxAgeSeconds", "servingPool.demandQuery.maxAgeSeconds", 1, 86400, &n, e) != 0)
        return -1;
    q->max_age_ms = (int)n * 1000;
    return 0;
}

static int parse_serving(const json_t *sp, struct cluster_serving_config *s, struct err *e)
{
    static const char *const known[] = {"nodeSelector", "namespaces",  "reserveGpus",
                                        "lendPolicy",   "idleMinutes", "lendingWindows",
                                        "demandQuery",  NULL};
    const json_t *v;
    int64_t n;
    size_t i;

    if (json_is_null(sp))
        return 0;
    if (!json_is_object(sp))
        return err_set(e, ERR_INVALID, "servingPool", "servingPool must be an object");
    if (check_members(sp, known, "servingPool.", e) != 0)
        return -1;
    s->enabled = true;
    if ((v = json_object_get(sp, "nodeSelector")) &&
        parse_labels(v, "servingPool.nodeSelector", s->selector, CLUSTER_LABELS_MAX, &s->n_selector,
                     e) != 0)
        return -1;
    if ((v = json_object_get(sp, "namespaces"))) {
        const json_t *ns;

        if (!json_is_array(v) || json_array_size(v) > CLUSTER_NAMESPACES_MAX)
            return err_set(e, ERR_INVALID, "servingPool.namespaces",
                           "servingPool.namespaces must be an array of at most %d names",
                           CLUSTER_NAMESPACES_MAX);
        json_array_foreach(v, i, ns)
        {
            if (!json_is_string(ns) || json_string_length(ns) >= sizeof(s->namespaces[0]))
                return err_set(e, ERR_INVALID, "servingPool.namespaces",
                               "servingPool.namespaces[%zu] must be a namespace name", i);
            snprintf(s->namespaces[i], sizeof(s->namespaces[0]), "%s", json_string_value(ns));
        }
        s->n_namespaces = json_array_size(v);
    }
    n = s->reserve_gpus;
    if (get_int(sp, "reserveGpus", "servingPool.reserveGpus", 0, 100000, &n, e) != 0)
        return -1;
    s->reserve_gpus = (int)n;
    n = s->idle_minutes;
    if (get_int(sp, "idleMinutes", "servingPool.idleMinutes", 0, 100000, &n, e) != 0)
        return -1;
    s->idle_minutes = (int)n;
    if ((v = json_object_get(sp, "lendingWindows"))) {
        const json_t *w;

        if (!json_is_array(v) || json_array_size(v) > SNAPSHOT_WINDOWS_MAX)
            return err_set(e, ERR_INVALID, "servingPool.lendingWindows",
                           "servingPool.lendingWindows must be an array of at most %d windows",
                           SNAPSHOT_WINDOWS_MAX);
        json_array_foreach(v, i, w)
        {
            if (parse_window(w, i, &s->windows[i], e) != 0)
                return -1;
        }
        s->n_windows = json_array_size(v);
    }
    s->lend_policy = s->n_windows ? SNAPSHOT_LEND_WINDOW : SNAPSHOT_LEND_NEVER;
    if ((v = json_object_get(sp, "lendPolicy"))) {
        int k;

        for (k = 0; k < SNAPSHOT_LEND_COUNT; k++)
            if (json_is_string(v) &&
                strcmp(json_string_value(v),
                       snapshot_lend_policy_name((enum snapshot_lend_policy)k)) == 0)
                break;
        if (k == SNAPSHOT_LEND_COUNT)
            return err_set(e, ERR_INVALID, "servingPool.lendPolicy",
                           "servingPool.lendPolicy \"%s\" is not one of never, window, idle, "
                           "window-or-idle, forecast",
                           json_is_string(v) ? json_string_value(v) : "?");
        s->lend_policy = (enum snapshot_lend_policy)k;
    }
    if ((v = json_object_get(sp, "demandQuery")) && parse_demand_query(v, &s->demand_query, e) != 0)
        return -1;
    return 0;
}

static int parse_tolerations(const json_t *v, struct cluster_config *c, struct err *e)
{
    static const char *const known[] = {"key", "operator", "value", "effect", NULL};
    const json_t *t;
    size_t i;

    if (!json_is_array(v) || json_array_size(v) > CLUSTER_TOLERATIONS_MAX)
        return err_set(e, ERR_INVALID, "tolerations",
                       "tolerations must be an array of at most %d objects",
                       CLUSTER_TOLERATIONS_MAX);
    c->n_tolerations = 0;
    json_array_foreach(v, i, t)
    {
        struct cluster_toleration *o = &c->tolerations[i];
        char op[16] = "Equal";
        char field[64];

        snprintf(field, sizeof(field), "tolerations[%zu]", i);
        if (!json_is_object(t))
            return err_set(e, ERR_INVALID, field, "%s must be an object", field);
        if (check_members(t, known, "tolerations[].", e) != 0 ||
            get_str(t, "key", "tolerations[].key", o->key, sizeof(o->key), e) != 0 ||
            get_str(t, "value", "tolerations[].value", o->value, sizeof(o->value), e) != 0 ||
            get_str(t, "effect", "tolerations[].effect", o->effect, sizeof(o->effect), e) != 0 ||
            get_str(t, "operator", "tolerations[].operator", op, sizeof(op), e) != 0)
            return -1;
        if (strcmp(op, "Exists") != 0 && strcmp(op, "Equal") != 0)
            return err_set(e, ERR_INVALID, "tolerations[].operator",
                           "tolerations[%zu].operator \"%s\" is not Exists or Equal", i, op);
        o->exists = strcmp(op, "Exists") == 0;
        c->n_tolerations++;
    }
    return 0;
}

static int parse_costs(const json_t *v, struct cluster_config *c, struct err *e)
{
    const char *sku;
    const json_t *cost;

    if (!json_is_object(v))
        return err_set(e, ERR_INVALID, "costPerGpuHour", "costPerGpuHour must be an object");
    json_object_foreach((json_t *)v, sku, cost)
    {
        char field[96];

        snprintf(field, sizeof(field), "costPerGpuHour.%s", sku);
        if (c->n_costs == SKU_MAX || strlen(sku) >= sizeof(c->costs[0].sku))
            return err_set(e, ERR_INVALID, field, "costPerGpuHour names unknown SKU \"%s\"", sku);
        if (!json_is_number(cost))
            return err_set(e, ERR_INVALID, field, "%s must be a number", field);
        snprintf(c->costs[c->n_costs].sku, sizeof(c->costs[0].sku), "%s", sku);
        c->costs[c->n_costs++].per_gpu_hour = json_number_value(cost);
    }
    return 0;
}

/* Credentials as a kubeconfig holds them inline, each with the member that names a file
 * instead. */
static const char *const inline_to_file[][2] = {
    {"token", "tokenFile"},
    {"caData", "caFile"},
    {"clientCertificateData", "clientCertificateFile"},
    {"clientKeyData", "clientKeyFile"},
};

#define N_INLINE (sizeof(inline_to_file) / sizeof(inline_to_file[0]))

/* Credentials inline are refused with the reason, each: a config is stored in PostgreSQL and
 * returned by the API, where secrets never go (docs/security.md). */
static void inline_credentials(const json_t *j, struct err_causes *cs)
{
    for (size_t i = 0; i < N_INLINE; i++) {
        struct err e;

        if (!json_object_get(j, inline_to_file[i][0]))
            continue;
        err_set(&e, ERR_INVALID, inline_to_file[i][0],
                "%s: credentials are not accepted inline (the configuration is stored in "
                "PostgreSQL and returned by the API); write it to a file in secretsDir and "
                "name that file in %s",
                inline_to_file[i][0], inline_to_file[i][1]);
        err_cause(cs, &e);
    }
}

/* Every top-level member the config does not know, each a cause (inline credentials are
 * inline_credentials()'s). */
static void unknown_members(const json_t *j, const char *const *known, struct err_causes *cs)
{
    const char *key;
    const json_t *v;

    json_object_foreach((json_t *)j, key, v)
    {
        bool is_inline = false;
        struct err e;

        (void)v;
        for (size_t i = 0; i < N_INLINE && !is_inline; i++)
            is_inline = strcmp(inline_to_file[i][0], key) == 0;
        if (member_known(known, key) || is_inline)
            continue;
        err_set(&e, ERR_INVALID, key, "unknown member \"%s\"", key);
        err_cause(cs, &e);
    }
}

int cluster_config_from_json_all(const json_t *j, const struct sku_catalogue *skus,
                                 struct cluster_config *out, struct err_causes *cs)
{
    static const char *const known[] = {"name",
                                        "apiServer",
                                        "tokenFile",
                                        "caFile",
                                        "clientCertificateFile",
                                        "clientKeyFile",
                                        "insecureSkipTLSVerify",
                                        "allowInsecureHttp",
                                        "region",
                                        "provider",
                                        "costPerGpuHour",
                                        "timezone",
                                        "jobNamespace",
                                        "servingPool",
                                        "tolerations",
                                        "lostTimeoutSeconds",
                                        "cordoned",
                                        NULL};
    struct cluster_config *c = xcalloc(1, sizeof(*c));
    const json_t *v;
    struct err e;
    int rc = -1;

    memset(cs, 0, sizeof(*cs));
    cluster_config_init(c);
    if (!json_is_object(j)) {
        err_set(&e, ERR_MALFORMED, "", "a cluster must be a JSON object");
        err_cause(cs, &e);
        goto out;
    }
    inline_credentials(j, cs);
    unknown_members(j, known, cs);
    /* Each member on its own: one that cannot be read does not hide the next. */
    if (get_str(j, "name", "name", c->name, sizeof(c->name), &e) ||
        (!c->name[0] && err_set(&e, ERR_INVALID, "name", "name is required")))
        err_cause(cs, &e);
    if (get_str(j, "apiServer", "apiServer", c->api_server, sizeof(c->api_server), &e) ||
        (!c->api_server[0] && err_set(&e, ERR_INVALID, "apiServer", "apiServer is required")))
        err_cause(cs, &e);
    if (get_str(j, "tokenFile", "tokenFile", c->token_file, sizeof(c->token_file), &e))
        err_cause(cs, &e);
    if (get_str(j, "caFile", "caFile", c->ca_file, sizeof(c->ca_file), &e))
        err_cause(cs, &e);
    if (get_str(j, "clientCertificateFile", "clientCertificateFile", c->client_cert_file,
                sizeof(c->client_cert_file), &e))
        err_cause(cs, &e);
    if (get_str(j, "clientKeyFile", "clientKeyFile", c->client_key_file, sizeof(c->client_key_file),
                &e))
        err_cause(cs, &e);
    if (get_bool(j, "insecureSkipTLSVerify", &c->insecure_skip_tls_verify, &e))
        err_cause(cs, &e);
    if (get_bool(j, "allowInsecureHttp", &c->allow_insecure_http, &e))
        err_cause(cs, &e);
    if (get_str(j, "region", "region", c->region, sizeof(c->region), &e))
        err_cause(cs, &e);
    if (get_str(j, "provider", "provider", c->provider, sizeof(c->provider), &e))
        err_cause(cs, &e);
    if (get_str(j, "timezone", "timezone", c->timezone, sizeof(c->timezone), &e))
        err_cause(cs, &e);
    if (get_str(j, "jobNamespace", "jobNamespace", c->job_namespace, sizeof(c->job_namespace), &e))
        err_cause(cs, &e);
    if (get_bool(j, "cordoned", &c->cordoned, &e))
        err_cause(cs, &e);
    if (get_int(j, "lostTimeoutSeconds", "lostTimeoutSeconds", 10, 7 * 86400, &c->lost_timeout_s,
                &e))
        err_cause(cs, &e);
    if ((v = json_object_get(j, "costPerGpuHour")) && parse_costs(v, c, &e))
        err_cause(cs, &e);
    if ((v = json_object_get(j, "servingPool")) && parse_serving(v, &c->serving, &e))
        err_cause(cs, &e);
    if ((v = json_object_get(j, "tolerations")) && parse_tolerations(v, c, &e))
        err_cause(cs, &e);
    validate_into(c, skus, cs);
    if (cs->n == 0) {
        *out = *c;
        rc = 0;
    }
out:
    free(c);
    return rc;
}

int cluster_config_from_json(const json_t *j, const struct sku_catalogue *skus,
                             struct cluster_config *out, struct err *e)
{
    struct err_causes *cs = xcalloc(1, sizeof(*cs));
    int rc = cluster_config_from_json_all(j, skus, out, cs);

    if (rc && e)
        *e = cs->items[0];
    free(cs);
    return rc;
}

int cluster_config_parse(const char *text, size_t len, const struct sku_catalogue *skus,
                         struct cluster_config *out, struct err *e)
{
    json_error_t je;
    json_t *j;
    int rc;

    if (len > (1u << 20))
        return err_set(e, ERR_TOO_LARGE, "", "cluster config of %zu bytes is over 1 MiB", len);
    /* Depth is bounded by the shape (at most 4 levels); anything deeper is rejected by the
     * member checks before use, and jansson itself caps nesting at 2048. */
    j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return err_set(e, ERR_MALFORMED, "", "cluster config is not JSON: %s at line %d", je.text,
                       je.line);
    rc = cluster_config_from_json(j, skus, out, e);
    json_decref(j);
    return rc;
}

/* ---- JSON out -------------------------------------------------------------------------- */

static json_t *hhmm(int min)
{
    char s[16];

    snprintf(s, sizeof(s), "%02d:%02d", min / 60, min % 60);
    return json_string(s);
}

json_t *cluster_tolerations_json(const struct cluster_config *c)
{
    json_t *a = json_array();

    for (size_t i = 0; i < c->n_tolerations; i++) {
        const struct cluster_toleration *t = &c->tolerations[i];
        json_t *o = json_object();

        if (t->key[0])
            json_object_set_new(o, "key", json_string(t->key));
        json_object_set_new(o, "operator", json_string(t->exists ? "Exists" : "Equal"));
        if (!t->exists)
            json_object_set_new(o, "value", json_string(t->value));
        if (t->effect[0])
            json_object_set_new(o, "effect", json_string(t->effect));
        json_array_append_new(a, o);
    }
    return a;
}

json_t *cluster_config_to_json(const struct cluster_config *c)
{
    json_t *j = json_object(), *costs = json_object();

    json_object_set_new(j, "name", json_string(c->name));
    json_object_set_new(j, "apiServer", json_string(c->api_server));
    json_object_set_new(j, "tokenFile", json_string(c->token_file));
    json_object_set_new(j, "caFile", json_string(c->ca_file));
    json_object_set_new(j, "clientCertificateFile", json_string(c->client_cert_file));
    json_object_set_new(j, "clientKeyFile", json_string(c->client_key_file));
    json_object_set_new(j, "insecureSkipTLSVerify", json_boolean(c->insecure_skip_tls_verify));
    json_object_set_new(j, "allowInsecureHttp", json_boolean(c->allow_insecure_http));
    json_object_set_new(j, "region", json_string(c->region));
    json_object_set_new(j, "provider", json_string(c->provider));
    for (size_t i = 0; i < c->n_costs; i++)
        json_object_set_new(costs, c->costs[i].sku, json_real(c->costs[i].per_gpu_hour));
    json_object_set_new(j, "costPerGpuHour", costs);
    json_object_set_new(j, "timezone", json_string(c->timezone));
    json_object_set_new(j, "jobNamespace", json_string(c->job_namespace));
    if (c->serving.enabled) {
        const struct cluster_serving_config *s = &c->serving;
        json_t *sp = json_object(), *sel = json_object(), *ns = json_array(), *ws = json_array();

        for (size_t i = 0; i < s->n_selector; i++)
            json_object_set_new(sel, s->selector[i].key, json_string(s->selector[i].value));
        for (size_t i = 0; i < s->n_namespaces; i++)
            json_array_append_new(ns, json_string(s->namespaces[i]));
        for (size_t i = 0; i < s->n_windows; i++) {
            json_t *w = json_object(), *days = json_array();

            for (int d = 0; d < 7; d++)
                if (s->windows[i].days & (1u << d))
                    json_array_append_new(days, json_string(day_names[d]));
            json_object_set_new(w, "days", days);
            json_object_set_new(w, "start", hhmm(s->windows[i].start_min));
            json_object_set_new(w, "end", hhmm(s->windows[i].end_min));
            json_array_append_new(ws, w);
        }
        json_object_set_new(sp, "nodeSelector", sel);
        json_object_set_new(sp, "namespaces", ns);
        json_object_set_new(sp, "reserveGpus", json_integer(s->reserve_gpus));
        json_object_set_new(sp, "lendPolicy",
                            json_string(snapshot_lend_policy_name(s->lend_policy)));
        json_object_set_new(sp, "idleMinutes", json_integer(s->idle_minutes));
        json_object_set_new(sp, "lendingWindows", ws);
        if (s->demand_query.enabled) {
            const struct cluster_demand_query *q = &s->demand_query;

            json_object_set_new(sp, "demandQuery",
                                json_pack("{s:s,s:s,s:s,s:i,s:i,s:i}", "url", q->url, "query",
                                          q->query, "sku", q->sku, "timeoutMs", q->timeout_ms,
                                          "intervalMs", q->interval_ms, "maxAgeSeconds",
                                          q->max_age_ms / 1000));
        } else {
            json_object_set_new(sp, "demandQuery", json_null());
        }
        json_object_set_new(j, "servingPool", sp);
    } else {
        json_object_set_new(j, "servingPool", json_null());
    }
    json_object_set_new(j, "tolerations", cluster_tolerations_json(c));
    json_object_set_new(j, "lostTimeoutSeconds", json_integer(c->lost_timeout_s));
    json_object_set_new(j, "cordoned", json_boolean(c->cordoned));
    return j;
}

/* ---- helpers --------------------------------------------------------------------------- */

int cluster_config_check_files(const struct cluster_config *c, struct err *e)
{
    /* A bearer token or a client certificate sent over plain HTTP can be read on the way. */
    if (strncmp(c->api_server, "http://", 7) == 0 && !c->allow_insecure_http)
        return err_set(e, ERR_INVALID, "apiServer",
                       "apiServer \"%s\" is plain HTTP: credentials would travel in clear; use "
                       "https://, or set allowInsecureHttp: true for a simulator or local "
                       "development",
                       c->api_server);
    if (cluster_token_check(c->token_file, e) || cluster_ca_check(c->ca_file, e) ||
        cluster_client_cert_check(c->client_cert_file, c->client_key_file, e))
        return -1;
    return 0;
}

int cluster_config_tz_rule(const char *zone, char *out, size_t size, struct err *e)
{
    const char *dir = getenv("TZDIR");
    char path[CLUSTER_PATH_MAX], buf[4096], rule[SNAPSHOT_TZ_MAX];
    FILE *f = NULL;
    long end;
    size_t n, len;
    char *nl;
    struct tz_rule parsed;
    int rc = -1;

    if (!zone[0] || strcmp(zone, "UTC") == 0 || strcmp(zone, "Etc/UTC") == 0) {
        snprintf(out, size, "%s", "UTC0");
        return 0;
    }
    if (!zone_name(zone))
        return err_set(e, ERR_INVALID, "timezone", "timezone \"%s\" is not a zone name", zone);
    snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", zone);
    f = fopen(path, "rb");
    if (!f) {
        err_set(e, ERR_INVALID, "timezone", "timezone \"%s\" is unknown (no %s)", zone, path);
        goto out;
    }
    /* TZif version 2+ files end with "\n<POSIX TZ rule>\n"; read the tail and take the
     * last line. */
    if (fseek(f, 0, SEEK_END) != 0 || (end = ftell(f)) < 6)
        goto bad;
    if (fseek(f, end > (long)sizeof(buf) - 1 ? end - (long)sizeof(buf) + 1 : 0, SEEK_SET) != 0)
        goto bad;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    if (n < 2 || buf[n - 1] != '\n')
        goto bad;
    buf[n - 1] = '\0';
    nl = memrchr(buf, '\n', n - 1); /* the file is binary before the footer */
    if (!nl)
        goto bad;
    len = strlen(nl + 1);
    if (len == 0 || len >= sizeof(rule))
        goto bad;
    snprintf(rule, sizeof(rule), "%s", nl + 1);
    for (size_t i = 0; i < len; i++)
        if (!isprint((unsigned char)rule[i]))
            goto bad;
    if (tz_parse(rule, &parsed, NULL) != 0)
        goto bad;
    snprintf(out, size, "%s", rule);
    rc = 0;
    goto out;
bad:
    err_set(e, ERR_INVALID, "timezone", "timezone \"%s\": %s has no POSIX TZ footer", zone, path);
out:
    if (f)
        fclose(f);
    return rc;
}

bool cluster_config_tolerates(const struct cluster_config *c, const char *key, const char *value,
                              const char *effect)
{
    for (size_t i = 0; i < c->n_tolerations; i++) {
        const struct cluster_toleration *t = &c->tolerations[i];

        if (t->effect[0] && strcmp(t->effect, effect) != 0)
            continue;
        if (!t->key[0] && t->exists)
            return true;
        if (strcmp(t->key, key) != 0)
            continue;
        if (t->exists || strcmp(t->value, value ? value : "") == 0)
            return true;
    }
    return false;
}

bool cluster_config_serving_namespace(const struct cluster_config *c, const char *ns)
{
    for (size_t i = 0; i < c->serving.n_namespaces; i++)
        if (strcmp(c->serving.namespaces[i], ns) == 0)
            return true;
    return false;
}

double cluster_config_cost(const struct cluster_config *c, const char *sku)
{
    for (size_t i = 0; i < c->n_costs; i++)
        if (strcmp(c->costs[i].sku, sku) == 0)
            return c->costs[i].per_gpu_hour;
    return 0;
}
