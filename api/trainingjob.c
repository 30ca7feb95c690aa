/* trainingjob.c -- TrainingJob JSON <-> struct job: input limits, validation, defaults,
 * canonical spec text, and the API rendering of jobs and events.
 * Not responsible for HTTP status mapping or storage. Field reference: docs/trainingjob.md. */
#include "api/trainingjob.h"
#include "api/trainingjob_retry.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/dns.h"
#include "base/err.h"
#include "base/job.h"
#include "base/mem.h"
#include "base/sku.h"
#include "base/utf8.h"
#include "cluster/k8s_json.h"
#include "cluster/manifest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define FIELD_BUF 256 /* paths are built here, then cut to sizeof(err.field) by err_set */
#define SHOW_MAX  64  /* bytes of a user value quoted in a message */

#define RUNTIME_MIN_S    60
#define RUNTIME_MAX_S    (30 * 24 * 3600)
#define MEMORY_GB_MAX    16384.0
#define CPU_MIN          0.001 /* one millicore, Kubernetes' finest CPU unit */
#define CPU_MAX          1024.0
#define IMAGE_MAX        1024
#define PATH_LEN_MAX     4096
#define TOKEN_MAX        253
#define ARGV_MAX         1024
#define ENV_MAX          256
#define ENV_NAME_MAX     256
#define FEATURE_SETS_MAX 256
#define URI_MAX          2048
#define REF_NAME_MAX     253 /* Secret, ConfigMap, PVC, ServiceAccount names: DNS subdomains */
#define PULL_SECRETS_MAX 16
#define POD_META_MAX     32   /* podLabels / podAnnotations entries */
#define ANNOTATION_MAX   4096 /* bytes of one podAnnotations value */
#define GENERATE_SUFFIX  5
#define THROUGHPUT_MAX   1e6 /* spec.resources.relativeThroughput: any unit, ratios count */

static const char *const api_versions[] = {"fedsched.io/v1", "michelangelo.uber.com/v1", NULL};
static const char *const frameworks[] = {"pytorch", "tensorflow", "jax", "ray", "xgboost",
                                         "horovod", "deepspeed",  "mpi", NULL};
static const char *const default_framework = "pytorch";

static const char *const top_keys[] = {"apiVersion", "kind", "metadata", "spec", "status", NULL};
/* From "uid" on, the fields are set by the server; a client that resubmits what GET
 * returned sends them back, and Kubernetes ignores them on create, so we do too. */
static const char *const metadata_keys[] = {"name",
                                            "generateName",
                                            "namespace",
                                            "labels",
                                            "annotations",
                                            "uid",
                                            "resourceVersion",
                                            "creationTimestamp",
                                            "generation",
                                            "selfLink",
                                            "managedFields",
                                            "deletionTimestamp",
                                            "deletionGracePeriodSeconds",
                                            NULL};
static const char *const spec_keys[] = {"framework",      "resources",  "code",       "data",
                                        "output",         "checkpoint", "scheduling", "podLabels",
                                        "podAnnotations", NULL};
static const char *const resources_keys[] = {
    "instanceType",       "gpuCount", "gpusPerWorker",
    "memoryGb",           "cpu",      "alternativeInstanceTypes",
    "relativeThroughput", NULL};
static const char *const code_keys[] = {
    "image", "command", "args", "env", "workingDir", "serviceAccountName", "imagePullSecrets",
    NULL};
static const char *const env_keys[] = {"name", "value", "valueFrom", NULL};
static const char *const value_from_keys[] = {"secretKeyRef", "configMapKeyRef", NULL};
static const char *const key_ref_keys[] = {"name", "key", NULL};
static const char *const data_keys[] = {"paletteFeatureSets", "hiveTable", "volume", "uri", NULL};
static const char *const output_keys[] = {"modelRegistry", "experimentId", "volume", "uri", NULL};
static const char *const data_volume_keys[] = {"claimName", "mountPath", "readOnly", NULL};
static const char *const volume_keys[] = {"claimName", "mountPath", NULL};
static const char *const scheduling_keys[] = {
    "priority", "preemptible", "maxRuntimeSeconds", "checkpointIntervalSeconds", "clusterAffinity",
    "retry",    NULL};
static const char *const retry_keys[] = {"maxRetries", "backoffSeconds", "maxBackoffSeconds",
                                         "rules", NULL};
static const char *const retry_rule_keys[] = {"class", "action", "operator", "values", NULL};
static const char *const retry_classes[] = {"Infrastructure", "ExitCode", "OOM", NULL};
static const char *const retry_actions[] = {"Retry", "Fail", NULL};
static const char *const retry_operators[] = {"In", "NotIn", NULL};

/* Kubernetes' generateName alphabet: no vowels (no accidental words), no 0/1/3 (look-alikes). */
static const char name_alphabet[] = "bcdfghjklmnpqrstvwxz2456789";

static const char *const name_rule =
    "must be lowercase letters, digits, '-' and '.', start and end with a letter or digit, "
    "at most 63 characters";

/* ---- UTF-8 and message hygiene ---- */

/* Length of the valid UTF-8 sequence at p (n > 0 bytes available), or 0 when invalid:
 * rejects overlong forms, surrogates and code points above U+10FFFF. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    size_t need;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c == 0xE0) {
        need = 2;
        lo = 0xA0;
    } else if (c == 0xED) {
        need = 2;
        hi = 0x9F;
    } else if (c >= 0xE1 && c <= 0xEF) {
        need = 2;
    } else if (c == 0xF0) {
        need = 3;
        lo = 0x90;
    } else if (c == 0xF4) {
        need = 3;
        hi = 0x8F;
    } else if (c >= 0xF1 && c <= 0xF3) {
        need = 3;
    } else {
        return 0;
    }
    if (n < need + 1 || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i <= need; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return need + 1;
}

/* Error text is built from user input and cut by snprintf at fixed sizes, which can split a
 * multi-byte character; the API puts it into JSON (jansson refuses invalid UTF-8) and logs
 * (one line per event). Replace broken sequences and control characters in place. */
static void text_repair(char *s)
{
    size_t n = strlen(s);

    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = utf8_len((const unsigned char *)s + i, n - i);

        if (k == 0 || c < 0x20 || c == 0x7f) {
            s[i] = '?';
            k = 1;
        }
        i += k;
    }
}

struct shown {
    char s[SHOW_MAX + 4];
};

/* A user value as quoted in a message: at most SHOW_MAX bytes cut on a character
 * boundary, "..." marking a cut, control characters replaced (no forged log lines). */
static const char *show(const char *s, struct shown *out)
{
    size_t n = strlen(s), i = 0, o = 0;

    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t k = utf8_len((const unsigned char *)s + i, n - i);

        if (k == 0)
            k = 1;
        if (o + k > SHOW_MAX) {
            memcpy(out->s + o, "...", 3);
            o += 3;
            break;
        }
        if (k == 1 && (c < 0x20 || c == 0x7f || c >= 0x80))
            out->s[o] = '?';
        else
            memcpy(out->s + o, s + i, k);
        o += k;
        i += k;
    }
    out->s[o] = '\0';
    return out->s;
}

/* ---- paths and typed access ---- */

/* Writes a + sep + b into out, cut to size: a path longer than the buffer is still
 * useful, and err_set cuts it again to sizeof(err.field) (text_repair mends the cut). */
static void path_join(char *out, size_t size, const char *a, const char *sep, const char *b)
{
    size_t used = 0;
    const char *parts[3] = {a, sep, b};

    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(parts[i]);

        if (n > size - 1 - used)
            n = size - 1 - used;
        memcpy(out + used, parts[i], n);
        used += n;
    }
    out[used] = '\0';
}

static void path_key(char *out, size_t size, const char *parent, const char *key)
{
    path_join(out, size, parent, *parent ? "." : "", key);
}

static void path_index(char *out, size_t size, const char *parent, size_t i)
{
    char idx[32];

    snprintf(idx, sizeof(idx), "[%zu]", i);
    path_join(out, size, parent, "", idx);
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a fractional number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* Levenshtein distance, for "did you mean" on unknown fields. Both strings <= 63 bytes
 * (callers check), so two rows on the stack suffice. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[64], prev[64];

    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = row[j - 1] + 1;

            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, row, (lb + 1) * sizeof(row[0]));
    }
    return prev[lb];
}

static const char *suggest(const char *key, const char *const *allowed)
{
    const char *best = NULL;
    size_t best_d = 3; /* only near misses: a typo, not a different word */

    if (strlen(key) >= 64)
        return NULL;
    for (size_t i = 0; allowed[i]; i++) {
        size_t d = edit_distance(key, allowed[i]);

        if (d < best_d) {
            best_d = d;
            best = allowed[i];
        }
    }
    return best;
}

/* Unknown fields are rejected so a typo in CI ("gpuCoutn") fails loudly instead of
 * silently running with a default. */
static int check_keys(json_t *obj, const char *path, const char *const *allowed, struct err *e)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v)
    {
        char f[FIELD_BUF];
        struct shown sk;
        const char *hint;

        (void)v;
        if (in_list(key, allowed))
            continue;
        path_key(f, sizeof(f), path, key);
        hint = suggest(key, allowed);
        if (hint)
            return err_set(e, ERR_MALFORMED, f, "unknown field \"%s\" (did you mean \"%s\"?)",
                           show(key, &sk), hint);
        return err_set(e, ERR_MALFORMED, f, "unknown field \"%s\"", show(key, &sk));
    }
    return 0;
}

/* A JSON null counts as absent, so YAML's "key:" with no value means "use the default". */
static json_t *get(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    return v && !json_is_null(v) ? v : NULL;
}

static int wrong_type(struct err *e, const char *f, const char *name, const char *want,
                      const json_t *v)
{
    return err_set(e, ERR_MALFORMED, f, "%s must be %s, not %s", name, want, type_name(v));
}

static int required(struct err *e, const char *path, const char *key)
{
    char f[FIELD_BUF];

    path_key(f, sizeof(f), path, key);
    return err_set(e, ERR_INVALID, f, "%s is required", key);
}

/* Keeps *e as one more cause of c when rc says a check failed; returns whether it did. */
static bool failed(struct err_causes *c, int rc, const struct err *e)
{
    if (rc == 0)
        return false;
    err_cause(c, e);
    return true;
}

/* Typed lookups: 0 with *out set (NULL / false when absent), or -1 with ERR_MALFORMED when
 * the value has the wrong JSON type. */
static int opt_typed(json_t *obj, const char *path, const char *key, json_type want, json_t **out,
                     struct err *e)
{
    static const char *const want_names[] = {[JSON_OBJECT] = "an object",
                                             [JSON_ARRAY] = "an array",
                                             [JSON_STRING] = "a string",
                                             [JSON_INTEGER] = "an integer"};
    json_t *v = get(obj, key);
    char f[FIELD_BUF];

    *out = NULL;
    if (!v)
        return 0;
    if (json_typeof(v) != want) {
        path_key(f, sizeof(f), path, key);
        return wrong_type(e, f, key, want_names[want], v);
    }
    *out = v;
    return 0;
}

static int opt_string(json_t *obj, const char *path, const char *key, const char **out,
                      struct err *e)
{
    json_t *v;

    *out = NULL;
    if (opt_typed(obj, path, key, JSON_STRING, &v, e))
        return -1;
    if (v)
        *out = json_string_value(v);
    return 0;
}

static int req_string(json_t *obj, const char *path, const char *key, const char **out,
                      struct err *e)
{
    if (opt_string(obj, path, key, out, e))
        return -1;
    return *out ? 0 : required(e, path, key);
}

/* Integers must be JSON integers: 8.0 or "8" is a type error, not a conversion. */
static int opt_int(json_t *obj, const char *path, const char *key, bool *set, json_int_t *out,
                   struct err *e)
{
    json_t *v;

    *set = false;
    if (opt_typed(obj, path, key, JSON_INTEGER, &v, e))
        return -1;
    if (v) {
        *set = true;
        *out = json_integer_value(v);
    }
    return 0;
}

static int opt_bool(json_t *obj, const char *path, const char *key, bool *out, struct err *e)
{
    json_t *v = get(obj, key);
    char f[FIELD_BUF];

    *out = false;
    if (!v)
        return 0;
    if (!json_is_boolean(v)) {
        path_key(f, sizeof(f), path, key);
        return wrong_type(e, f, key, "a boolean", v);
    }
    *out = json_is_true(v);
    return 0;
}

static int opt_number(json_t *obj, const char *path, const char *key, bool *set, double *out,
                      struct err *e)
{
    json_t *v = get(obj, key);
    char f[FIELD_BUF];

    *set = false;
    if (!v)
        return 0;
    if (!json_is_number(v)) {
        path_key(f, sizeof(f), path, key);
        return wrong_type(e, f, key, "a number", v);
    }
    *set = true;
    *out = json_number_value(v);
    return 0;
}

/* Integral values become JSON integers so that 4 and 4.0 give the same canonical text. */
static json_t *canonical_number(double d)
{
    if (d >= -9007199254740992.0 && d <= 9007199254740992.0 && (double)(json_int_t)d == d)
        return json_integer((json_int_t)d);
    return json_real(d);
}

static int out_of_range(struct err *e, const char *path, const char *key, long long v, long long lo,
                        long long hi)
{
    char f[FIELD_BUF];

    path_key(f, sizeof(f), path, key);
    return err_set(e, ERR_INVALID, f, "%s %lld is out of range %lld..%lld", key, v, lo, hi);
}

/* ---- name syntax ---- */

static bool lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alnum(char c)
{
    return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* The name part of a label key, and a non-empty label value:
 * [A-Za-z0-9]([-_.A-Za-z0-9]*[A-Za-z0-9])?, at most 63 characters. */
static bool label_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !alnum(s[0]) || !alnum(s[n - 1]))
        return false;
    for (size_t i = 1; i + 1 < n; i++)
        if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

/* fedsched.io/ labels are what fedsched puts on the objects it creates in member clusters
 * and what its orphan collector selects on; a user label there could confuse both. */
static bool domain_is(const char *p, size_t n, const char *dom)
{
    size_t dl = strlen(dom);

    if (n == dl)
        return memcmp(p, dom, dl) == 0;
    return n > dl && p[n - dl - 1] == '.' && memcmp(p + n - dl, dom, dl) == 0;
}

static bool reserved_prefix(const char *p, size_t n)
{
    return domain_is(p, n, "fedsched.io");
}

/* NULL when key is a valid label key, else why not. */
static const char *label_key_problem(const char *k, size_t n)
{
    const char *slash = memchr(k, '/', n);

    if (slash) {
        size_t plen = (size_t)(slash - k);

        if (!dns_subdomain_ok(k, plen, 253))
            return "its prefix must be a DNS subdomain: lowercase letters, digits, '-' and "
                   "'.', at most 253 characters";
        if (reserved_prefix(k, plen))
            return "the fedsched.io prefix is reserved for fedsched";
        k = slash + 1;
        n -= plen + 1;
    }
    if (!label_name_ok(k, n))
        return "its name must be 1-63 letters, digits, '-', '_' or '.', starting and ending "
               "with a letter or digit";
    return NULL;
}

/* Printable ASCII without spaces: image references, registry and experiment ids. */
static bool token_ok(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* Portable shell variable name: [A-Za-z_][A-Za-z0-9_]*, so every launcher can export it. */
static bool env_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > ENV_NAME_MAX || (!alnum(s[0]) && s[0] != '_') || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!alnum(s[i]) && s[i] != '_')
            return false;
    return true;
}

/* Hive identifiers: db.table or table, each [A-Za-z0-9_]+. */
static bool hive_table_ok(const char *s, size_t n)
{
    size_t dots = 0, run = 0;

    if (n == 0 || n > 256)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (run == 0 || ++dots > 1)
                return false;
            run = 0;
        } else if (alnum(s[i]) || s[i] == '_') {
            run++;
        } else {
            return false;
        }
    }
    return run > 0;
}

static bool control_free(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* Names of Secrets, ConfigMaps, PersistentVolumeClaims and ServiceAccounts. */
static bool ref_name_ok(const char *s, size_t n)
{
    return dns_subdomain_ok(s, n, REF_NAME_MAX);
}

static const char *const ref_name_rule =
    "must be lowercase letters, digits, '-' and '.', start and end with a letter or digit, at "
    "most 253 characters";

/* A Secret's or ConfigMap's data key: [-._a-zA-Z0-9]+. */
static bool data_key_ok(const char *s, size_t n)
{
    if (n == 0 || n > REF_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!alnum(s[i]) && !strchr("-._", s[i]))
            return false;
    return true;
}

/* scheme://rest: what object-store clients take (s3://, gs://, hdfs://, https://...). */
static bool uri_ok(const char *s, size_t n)
{
    const char *sep = strstr(s, "://");

    if (!token_ok(s, n, URI_MAX) || !sep || sep == s || !(s[0] >= 'a' && s[0] <= 'z') ||
        sep[3] == '\0')
        return false;
    for (const char *p = s; p < sep; p++)
        if (!lower_alnum(*p) && !strchr("+.-", *p))
            return false;
    return true;
}

/* Absolute, no '..' element, no ':' (Kubernetes refuses it on some platforms), not /dev/shm
 * (fedsched mounts its own there). */
static bool mount_path_ok(const char *s, size_t n)
{
    if (n < 2 || n > PATH_LEN_MAX || s[0] != '/' || !control_free(s, n) || memchr(s, ':', n) ||
        (strncmp(s, "/dev/shm", 8) == 0 && (s[8] == '\0' || s[8] == '/')))
        return false;
    for (const char *p = s; (p = strstr(p, "..")) != NULL; p += 2)
        if (p[-1] == '/' && (p[2] == '/' || p[2] == '\0'))
            return false;
    return true;
}

int trainingjob_check_namespace(const char *ns, struct err *e)
{
    struct shown sv;

    if (!ns)
        return err_set(e, ERR_INVALID, "metadata.namespace", "namespace is required");
    if (!dns_label_ok(ns, strlen(ns)))
        return err_set(e, ERR_INVALID, "metadata.namespace",
                       "namespace \"%s\" is invalid: must be lowercase letters, digits and '-', "
                       "start and end with a letter or digit, at most 63 characters",
                       show(ns, &sv));
    return 0;
}

int trainingjob_check_name(const char *name, struct err *e)
{
    struct shown sv;

    if (!name)
        return err_set(e, ERR_INVALID, "metadata.name", "name is required");
    if (!dns_subdomain_ok(name, strlen(name), TRAININGJOB_NAME_MAX))
        return err_set(e, ERR_INVALID, "metadata.name", "name \"%s\" is invalid: %s",
                       show(name, &sv), name_rule);
    return 0;
}

/* ---- pre-decode scan ---- */

/* jansson recurses once per nesting level, so depth is bounded here, before it runs, by a
 * scan that tracks strings and escapes (brackets inside strings do not count). The same
 * pass rejects NUL bytes and invalid UTF-8 with an offset the client can find. */
static int prescan(const char *body, size_t len, struct err *e)
{
    const unsigned char *p = (const unsigned char *)body;
    int depth = 0;
    bool in_str = false, esc = false;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];

        if (c == 0)
            return err_set(e, ERR_MALFORMED, NULL, "body contains a NUL byte at offset %zu", i);
        if (c >= 0x80) {
            size_t k = utf8_len(p + i, len - i);

            if (k == 0)
                return err_set(e, ERR_MALFORMED, NULL, "body is not valid UTF-8 at offset %zu", i);
            i += k - 1;
            esc = false;
            continue;
        }
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > TRAININGJOB_MAX_DEPTH)
                return err_set(e, ERR_MALFORMED, NULL,
                               "JSON is nested deeper than %d levels (offset %zu)",
                               TRAININGJOB_MAX_DEPTH, i);
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

int api_json_prescan(const char *body, size_t len, struct err *e)
{
    return prescan(body, len, e);
}

/* ---- metadata ---- */

static int random_suffix(char *out, struct err *e)
{
    unsigned char r[16];
    size_t got = 0, used = 0, n = 0;
    const size_t alpha = sizeof(name_alphabet) - 1;
    const unsigned limit = (unsigned)(256 / alpha * alpha); /* rejection avoids modulo bias */

    while (n < GENERATE_SUFFIX) {
        if (used == got) {
            ssize_t k = getrandom(r, sizeof(r), 0);

            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                return err_set(e, ERR_INTERNAL, "metadata.generateName",
                               "cannot generate a name: getrandom failed (errno %d)", errno);
            got = (size_t)k;
            used = 0;
        }
        if (r[used] < limit)
            out[n++] = name_alphabet[r[used] % alpha];
        used++;
    }
    out[n] = '\0';
    return 0;
}

static int parse_name(json_t *meta, struct job *j, struct err *e)
{
    const char *name, *gen;
    struct shown sv;
    char suffix[GENERATE_SUFFIX + 1];

    if (opt_string(meta, "metadata", "name", &name, e) ||
        opt_string(meta, "metadata", "generateName", &gen, e))
        return -1;
    /* As in Kubernetes, an explicit name wins over generateName. */
    if (name) {
        if (trainingjob_check_name(name, e))
            return -1;
        j->name = xstrdup(name);
        return 0;
    }
    if (!gen)
        return err_set(e, ERR_INVALID, "metadata.name", "name or generateName is required");
    if (strlen(gen) + GENERATE_SUFFIX > TRAININGJOB_NAME_MAX)
        return err_set(e, ERR_INVALID, "metadata.generateName",
                       "generateName \"%s\" is too long: at most %d characters, to leave room "
                       "for %d random ones",
                       show(gen, &sv), TRAININGJOB_NAME_MAX - GENERATE_SUFFIX, GENERATE_SUFFIX);
    if (random_suffix(suffix, e))
        return -1;
    j->name = xasprintf("%s%s", gen, suffix);
    if (!dns_subdomain_ok(j->name, strlen(j->name), TRAININGJOB_NAME_MAX))
        return err_set(e, ERR_INVALID, "metadata.generateName",
                       "generateName \"%s\" is invalid: with the random suffix the name %s",
                       show(gen, &sv), name_rule);
    return 0;
}

static int parse_labels(json_t *meta, struct job *j, struct err *e)
{
    json_t *in, *out = NULL, *v;
    const char *key;
    int rc = -1;

    if (opt_typed(meta, "metadata", "labels", JSON_OBJECT, &in, e))
        return -1;
    out = json_object();
    if (in && json_object_size(in) > TRAININGJOB_LABELS_MAX) {
        err_set(e, ERR_INVALID, "metadata.labels", "labels has %zu entries; at most %d allowed",
                json_object_size(in), TRAININGJOB_LABELS_MAX);
        goto out;
    }
    if (in) {
        json_object_foreach(in, key, v)
        {
            char f[FIELD_BUF];
            struct shown sk, sv;
            const char *why = label_key_problem(key, strlen(key)), *val;

            path_key(f, sizeof(f), "metadata.labels", key);
            if (why) {
                err_set(e, ERR_INVALID, f, "label key \"%s\" is invalid: %s", show(key, &sk), why);
                goto out;
            }
            if (!json_is_string(v)) {
                wrong_type(e, f, "a label value", "a string", v);
                goto out;
            }
            val = json_string_value(v);
            if (*val && !label_name_ok(val, json_string_length(v))) {
                err_set(e, ERR_INVALID, f,
                        "label value \"%s\" is invalid: must be empty or 1-63 letters, digits, "
                        "'-', '_' or '.', starting and ending with a letter or digit",
                        show(val, &sv));
                goto out;
            }
            json_object_set(out, key, v);
        }
    }
    j->labels_json = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    if (!j->labels_json) {
        err_set(e, ERR_INTERNAL, "metadata.labels", "cannot encode labels");
        goto out;
    }
    rc = 0;
out:
    json_decref(out);
    return rc;
}

static int check_namespace_field(json_t *meta, const char *path_ns, struct err *e)
{
    const char *ns;
    struct shown s1, s2;

    if (opt_string(meta, "metadata", "namespace", &ns, e))
        return -1;
    if (ns && strcmp(ns, path_ns) != 0)
        return err_set(e, ERR_INVALID, "metadata.namespace",
                       "namespace \"%s\" does not match the namespace in the request path "
                       "\"%s\"",
                       show(ns, &s1), show(path_ns, &s2));
    return 0;
}

/* struct job has nowhere to keep annotations, and accepting then dropping them would lose
 * data silently; an empty object is harmless. */
static int check_annotations(json_t *meta, struct err *e)
{
    json_t *ann;

    if (opt_typed(meta, "metadata", "annotations", JSON_OBJECT, &ann, e))
        return -1;
    if (ann && json_object_size(ann) > 0)
        return err_set(e, ERR_INVALID, "metadata.annotations",
                       "annotations are not supported (fedsched does not store them); use "
                       "labels");
    return 0;
}

static void parse_metadata(json_t *meta, const char *path_ns, struct job *j, struct err_causes *c)
{
    struct err e;

    failed(c, check_keys(meta, "metadata", metadata_keys, &e), &e);
    failed(c, parse_name(meta, j, &e), &e);
    failed(c, check_namespace_field(meta, path_ns, &e), &e);
    failed(c, parse_labels(meta, j, &e), &e);
    failed(c, check_annotations(meta, &e), &e);
}

/* ---- spec ---- */

/* Copies an optional array of strings into out[key] (dropped when empty), each element
 * checked by ok() when given. When distinct, duplicates are rejected. */
static int string_array(json_t *in, const char *path, const char *key, size_t max,
                        bool (*ok)(const char *, size_t), const char *rule, bool distinct,
                        json_t *out, struct err *e)
{
    json_t *arr, *copy = NULL, *seen = NULL, *v;
    char base[FIELD_BUF], f[FIELD_BUF];
    size_t i;
    int rc = -1;

    if (opt_typed(in, path, key, JSON_ARRAY, &arr, e))
        return -1;
    if (!arr || json_array_size(arr) == 0)
        return 0;
    path_key(base, sizeof(base), path, key);
    if (json_array_size(arr) > max)
        return err_set(e, ERR_INVALID, base, "%s has %zu entries; at most %zu allowed", key,
                       json_array_size(arr), max);
    copy = json_array();
    seen = distinct ? json_object() : NULL;
    json_array_foreach(arr, i, v)
    {
        struct shown sv;
        const char *s;

        path_index(f, sizeof(f), base, i);
        if (!json_is_string(v)) {
            char name[64];

            snprintf(name, sizeof(name), "%s[%zu]", key, i);
            wrong_type(e, f, name, "a string", v);
            goto out;
        }
        s = json_string_value(v);
        if (ok && !ok(s, json_string_length(v))) {
            err_set(e, ERR_INVALID, f, "\"%s\" is invalid: %s", show(s, &sv), rule);
            goto out;
        }
        if (seen) {
            if (json_object_get(seen, s)) {
                err_set(e, ERR_INVALID, f, "\"%s\" is listed twice", show(s, &sv));
                goto out;
            }
            json_object_set_new(seen, s, json_true());
        }
        json_array_append(copy, v);
    }
    json_object_set(out, key, copy);
    rc = 0;
out:
    json_decref(copy);
    json_decref(seen);
    return rc;
}

static char **strv_from_array(const json_t *arr, size_t *n)
{
    char **v;

    *n = arr ? json_array_size(arr) : 0;
    if (*n == 0)
        return NULL;
    v = xcalloc(*n, sizeof(*v));
    for (size_t i = 0; i < *n; i++)
        v[i] = xstrdup(json_string_value(json_array_get(arr, i)));
    return v;
}

static int unknown_sku(struct err *e, const char *f, const char *what, const char *s,
                       const struct sku_catalogue *skus)
{
    char names[512];
    struct shown sv;

    sku_list_names(skus, names, sizeof(names));
    return err_set(e, ERR_INVALID, f, "%s \"%s\" is not a known SKU; known SKUs: %s", what,
                   show(s, &sv), names);
}

/* Distinct known SKUs other than instanceType: never more than the limit later layers
 * hold (base/job.h). */
_Static_assert(JOB_ALT_SKUS_MAX >= SKU_MAX - 1, "alternatives the API accepts must fit");

static int parse_alt_skus(json_t *in, const char *sku, const struct sku_catalogue *skus,
                          json_t *out, struct err *e)
{
    static const char *const path = "spec.resources.alternativeInstanceTypes";
    json_t *arr, *copy, *v;
    size_t i;

    if (opt_typed(in, "spec.resources", "alternativeInstanceTypes", JSON_ARRAY, &arr, e))
        return -1;
    if (!arr || json_array_size(arr) == 0)
        return 0;
    copy = json_array();
    /* Every accepted entry is a distinct known SKU, so the duplicate scan below touches at
     * most SKU_MAX earlier entries: linear in the array length. */
    json_array_foreach(arr, i, v)
    {
        char f[FIELD_BUF], name[64];
        struct shown sv;
        const char *s;

        path_index(f, sizeof(f), path, i);
        snprintf(name, sizeof(name), "alternativeInstanceTypes[%zu]", i);
        if (!json_is_string(v)) {
            wrong_type(e, f, name, "a string", v);
            goto fail;
        }
        s = json_string_value(v);
        if (sku_find(skus, s) < 0) {
            unknown_sku(e, f, name, s, skus);
            goto fail;
        }
        if (strcmp(s, sku) == 0) {
            err_set(e, ERR_INVALID, f, "%s \"%s\" repeats instanceType", name, show(s, &sv));
            goto fail;
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(s, json_string_value(json_array_get(copy, k))) == 0) {
                err_set(e, ERR_INVALID, f, "%s \"%s\" is listed twice", name, show(s, &sv));
                goto fail;
            }
        }
        json_array_append(copy, v);
    }
    json_object_set_new(out, "alternativeInstanceTypes", copy);
    return 0;
fail:
    json_decref(copy);
    return -1;
}

/* Whether s is instanceType or one of the (canonical, already checked) alternatives. */
static bool sku_accepted(const char *s, const char *sku, const json_t *alts)
{
    size_t i;
    json_t *v;

    if (strcmp(s, sku) == 0)
        return true;
    json_array_foreach(alts, i, v)
    {
        if (strcmp(s, json_string_value(v)) == 0)
            return true;
    }
    return false;
}

/* The job's relative throughput on each SKU it accepts (the policy prices work with it,
 * not GPU time: policy/policy.h). The engine uses the figures only when every accepted SKU
 * has one, so a partial map is refused here rather than silently ignored there. */
static int parse_throughput(json_t *in, const char *sku, const json_t *alts, json_t *out,
                            struct err *e)
{
    static const char *const path = "spec.resources.relativeThroughput";
    json_t *obj, *copy, *v;
    const char *k, *missing = NULL;
    size_t i;
    struct shown sk;

    if (opt_typed(in, "spec.resources", "relativeThroughput", JSON_OBJECT, &obj, e))
        return -1;
    if (!obj)
        return 0;
    copy = json_object();
    json_object_foreach(obj, k, v)
    {
        char f[FIELD_BUF], name[FIELD_BUF];
        double d;

        path_key(f, sizeof(f), path, k);
        path_key(name, sizeof(name), "relativeThroughput", k);
        if (!sku_accepted(k, sku, alts)) {
            err_set(e, ERR_INVALID, f,
                    "relativeThroughput names \"%s\", which is neither instanceType nor one of "
                    "alternativeInstanceTypes",
                    show(k, &sk));
            goto fail;
        }
        if (!json_is_number(v)) {
            wrong_type(e, f, name, "a number", v);
            goto fail;
        }
        d = json_number_value(v);
        if (!(d > 0 && d <= THROUGHPUT_MAX)) {
            err_set(e, ERR_INVALID, f,
                    "relativeThroughput of \"%s\" is %.15g; it must be > 0 and at most %g",
                    show(k, &sk), d, THROUGHPUT_MAX);
            goto fail;
        }
        json_object_set_new(copy, k, canonical_number(d));
    }
    /* The first SKU without a figure, in the order the job accepts them. */
    if (!json_object_get(copy, sku))
        missing = sku;
    json_array_foreach(alts, i, v)
    {
        if (!missing && !json_object_get(copy, json_string_value(v)))
            missing = json_string_value(v);
    }
    if (missing) {
        err_set(e, ERR_INVALID, path,
                "\"%s\" has no figure: relativeThroughput must give one for instanceType and "
                "every one of alternativeInstanceTypes",
                show(missing, &sk));
        goto fail;
    }
    json_object_set_new(out, "relativeThroughput", copy);
    return 0;
fail:
    json_decref(copy);
    return -1;
}

static int resource_sku(json_t *in, const struct sku_catalogue *skus, const char **sku,
                        struct err *e)
{
    if (req_string(in, "spec.resources", "instanceType", sku, e))
        return -1;
    if (sku_find(skus, *sku) < 0)
        return unknown_sku(e, "spec.resources.instanceType", "instanceType", *sku, skus);
    return 0;
}

static int resource_gpus(json_t *in, json_int_t *gpus, json_int_t *per, struct err *e)
{
    static const char *const path = "spec.resources";
    bool set;

    if (opt_int(in, path, "gpuCount", &set, gpus, e))
        return -1;
    if (!set)
        return required(e, path, "gpuCount");
    if (*gpus < 1 || *gpus > JOB_GPU_COUNT_MAX)
        return out_of_range(e, path, "gpuCount", *gpus, 1, JOB_GPU_COUNT_MAX);
    if (opt_int(in, path, "gpusPerWorker", &set, per, e))
        return -1;
    if (set && (*per < 1 || *per > JOB_GPUS_PER_WORKER_MAX))
        return out_of_range(e, path, "gpusPerWorker", *per, 1, JOB_GPUS_PER_WORKER_MAX);
    if (!set)
        *per = *gpus <= JOB_GPUS_PER_WORKER_DEFAULT ? *gpus : JOB_GPUS_PER_WORKER_DEFAULT;
    if (job_workers((int)*gpus, (int)*per, NULL, NULL))
        return err_set(e, ERR_INVALID, "spec.resources.gpusPerWorker",
                       "gpusPerWorker %lld%s does not divide gpuCount %lld: workers must be equal",
                       (long long)*per, set ? "" : " (the default)", (long long)*gpus);
    return 0;
}

/* memoryGb or cpu: an optional number in lo..hi, copied into out. */
static int resource_amount(json_t *in, const char *key, double lo, double hi, json_t *out,
                           struct err *e)
{
    char f[FIELD_BUF];
    bool set;
    double d;

    if (opt_number(in, "spec.resources", key, &set, &d, e))
        return -1;
    if (!set)
        return 0;
    if (!(d >= lo && d <= hi)) {
        path_key(f, sizeof(f), "spec.resources", key);
        return err_set(e, ERR_INVALID, f, "%s %g is out of range %g..%g", key, d, lo, hi);
    }
    json_object_set_new(out, key, canonical_number(d));
    return 0;
}

/* Each field is checked whatever the others hold, so every bad one is a cause; the
 * alternatives and throughputs need a known instanceType. */
static void parse_resources(json_t *spec, const struct sku_catalogue *skus, json_t *out_spec,
                            struct job *j, struct err_causes *c)
{
    json_t *in, *out, *alts;
    const char *sku;
    json_int_t gpus = 0, per = 0;
    struct err e;
    size_t before = c->n + c->more;

    if (failed(c, opt_typed(spec, "spec", "resources", JSON_OBJECT, &in, &e), &e))
        return;
    if (!in) {
        failed(c, required(&e, "spec", "resources"), &e);
        return;
    }
    out = json_object();
    failed(c, check_keys(in, "spec.resources", resources_keys, &e), &e);
    if (failed(c, resource_sku(in, skus, &sku, &e), &e))
        sku = NULL;
    failed(c, resource_gpus(in, &gpus, &per, &e), &e);
    failed(c, resource_amount(in, "memoryGb", 0, MEMORY_GB_MAX, out, &e), &e);
    failed(c, resource_amount(in, "cpu", CPU_MIN, CPU_MAX, out, &e), &e);
    if (sku && !failed(c, parse_alt_skus(in, sku, skus, out, &e), &e))
        failed(c,
               parse_throughput(in, sku, json_object_get(out, "alternativeInstanceTypes"), out, &e),
               &e);
    if (c->n + c->more == before) {
        alts = json_object_get(out, "alternativeInstanceTypes");
        json_object_set_new(out, "instanceType", json_string(sku));
        json_object_set_new(out, "gpuCount", json_integer(gpus));
        json_object_set_new(out, "gpusPerWorker", json_integer(per));
        j->sku = xstrdup(sku);
        j->gpu_count = (int)gpus;
        j->gpus_per_worker = (int)per;
        j->alt_skus = strv_from_array(alts, &j->n_alt_skus);
        json_object_set(out_spec, "resources", out);
    }
    json_decref(out);
}

static bool image_ok(const char *s, size_t n)
{
    return token_ok(s, n, IMAGE_MAX);
}

static bool feature_set_ok(const char *s, size_t n)
{
    return token_ok(s, n, TOKEN_MAX);
}

static bool cluster_name_ok(const char *s, size_t n)
{
    return dns_label_ok(s, n);
}

/* valueFrom of env entry f: exactly one of secretKeyRef or configMapKeyRef, each {name, key}
 * (names only: the values stay in the member cluster). *out is the canonical copy. */
static int parse_value_from(json_t *from, const char *f, json_t **out, struct err *e)
{
    char vf[FIELD_BUF], rf[FIELD_BUF], nf[FIELD_BUF], kf[FIELD_BUF];
    const char *kind, *name, *key;
    json_t *ref;
    struct shown sv;

    path_key(vf, sizeof(vf), f, "valueFrom");
    if (check_keys(from, vf, value_from_keys, e))
        return -1;
    if (json_object_size(from) != 1)
        return err_set(e, ERR_INVALID, vf,
                       "valueFrom must hold exactly one of secretKeyRef or configMapKeyRef");
    kind = json_object_iter_key(json_object_iter(from));
    path_key(rf, sizeof(rf), vf, kind);
    if (opt_typed(from, vf, kind, JSON_OBJECT, &ref, e))
        return -1;
    if (!ref)
        return err_set(e, ERR_INVALID, rf, "%s must be an object {\"name\", \"key\"}", kind);
    if (check_keys(ref, rf, key_ref_keys, e) || req_string(ref, rf, "name", &name, e) ||
        req_string(ref, rf, "key", &key, e))
        return -1;
    path_key(nf, sizeof(nf), rf, "name");
    path_key(kf, sizeof(kf), rf, "key");
    if (!ref_name_ok(name, strlen(name)))
        return err_set(e, ERR_INVALID, nf, "%s name \"%s\" is invalid: %s",
                       strcmp(kind, "secretKeyRef") == 0 ? "Secret" : "ConfigMap", show(name, &sv),
                       ref_name_rule);
    if (!data_key_ok(key, strlen(key)))
        return err_set(e, ERR_INVALID, kf,
                       "key \"%s\" is invalid: must be 1-253 letters, digits, '-', '_' or '.'",
                       show(key, &sv));
    *out = json_pack("{s:{s:s, s:s}}", kind, "name", name, "key", key);
    return 0;
}

static int parse_env(json_t *code, json_t *out, struct err *e)
{
    static const char *const path = "spec.code.env";
    json_t *arr, *copy = NULL, *seen = NULL, *v;
    size_t i;
    int rc = -1;

    if (opt_typed(code, "spec.code", "env", JSON_ARRAY, &arr, e))
        return -1;
    if (!arr || json_array_size(arr) == 0)
        return 0;
    if (json_array_size(arr) > ENV_MAX)
        return err_set(e, ERR_INVALID, path, "env has %zu entries; at most %d allowed",
                       json_array_size(arr), ENV_MAX);
    copy = json_array();
    seen = json_object();
    json_array_foreach(arr, i, v)
    {
        char f[FIELD_BUF], name_path[FIELD_BUF];
        struct shown sv;
        const char *name, *value;
        json_t *from, *ref = NULL;

        path_index(f, sizeof(f), path, i);
        if (!json_is_object(v)) {
            char what[32];

            snprintf(what, sizeof(what), "env[%zu]", i);
            wrong_type(e, f, what, "an object {\"name\", \"value\" or \"valueFrom\"}", v);
            goto out;
        }
        if (check_keys(v, f, env_keys, e) || req_string(v, f, "name", &name, e) ||
            opt_string(v, f, "value", &value, e) ||
            opt_typed(v, f, "valueFrom", JSON_OBJECT, &from, e))
            goto out;
        path_key(name_path, sizeof(name_path), f, "name");
        if (!env_name_ok(name, strlen(name))) {
            err_set(e, ERR_INVALID, name_path,
                    "env name \"%s\" is invalid: must be letters, digits and '_', not starting "
                    "with a digit, at most %d characters",
                    show(name, &sv), ENV_NAME_MAX);
            goto out;
        }
        if (json_object_get(seen, name)) {
            err_set(e, ERR_INVALID, name_path, "env name \"%s\" is listed twice", show(name, &sv));
            goto out;
        }
        json_object_set_new(seen, name, json_true());
        if (from && value) {
            err_set(e, ERR_INVALID, f, "env \"%s\" has both value and valueFrom; give one",
                    show(name, &sv));
            goto out;
        }
        if (from) {
            if (parse_value_from(from, f, &ref, e))
                goto out;
            json_array_append_new(copy, json_pack("{s:s, s:o}", "name", name, "valueFrom", ref));
            continue;
        }
        /* value defaults to "" (Kubernetes' EnvVar): written out so both forms are equal. */
        json_array_append_new(copy,
                              json_pack("{s:s, s:s}", "name", name, "value", value ? value : ""));
    }
    json_object_set(out, "env", copy);
    rc = 0;
out:
    json_decref(copy);
    json_decref(seen);
    return rc;
}

static int checked_string(json_t *in, const char *path, const char *key,
                          bool (*ok)(const char *, size_t), const char *rule, json_t *out,
                          struct err *e);

static int parse_code(json_t *spec, json_t *out_spec, struct err *e)
{
    static const char *const path = "spec.code";
    json_t *in, *out = NULL;
    const char *image, *wd;
    struct shown sv;
    int rc = -1;

    if (opt_typed(spec, "spec", "code", JSON_OBJECT, &in, e))
        return -1;
    if (!in)
        return required(e, "spec", "code");
    if (check_keys(in, path, code_keys, e))
        return -1;
    out = json_object();
    if (req_string(in, path, "image", &image, e))
        goto out;
    if (!image_ok(image, strlen(image))) {
        err_set(e, ERR_INVALID, "spec.code.image",
                "image \"%s\" is invalid: must be 1-%d printable ASCII characters without "
                "spaces",
                show(image, &sv), IMAGE_MAX);
        goto out;
    }
    json_object_set_new(out, "image", json_string(image));
    if (string_array(in, path, "command", ARGV_MAX, NULL, NULL, false, out, e) ||
        string_array(in, path, "args", ARGV_MAX, NULL, NULL, false, out, e) ||
        parse_env(in, out, e) || opt_string(in, path, "workingDir", &wd, e))
        goto out;
    if (wd && (wd[0] != '/' || strlen(wd) > PATH_LEN_MAX || !control_free(wd, strlen(wd)))) {
        err_set(e, ERR_INVALID, "spec.code.workingDir",
                "workingDir \"%s\" is invalid: must be an absolute path of at most %d "
                "characters without control characters",
                show(wd, &sv), PATH_LEN_MAX);
        goto out;
    }
    if (wd)
        json_object_set_new(out, "workingDir", json_string(wd));
    if (checked_string(in, path, "serviceAccountName", ref_name_ok, ref_name_rule, out, e) ||
        string_array(in, path, "imagePullSecrets", PULL_SECRETS_MAX, ref_name_ok, ref_name_rule,
                     true, out, e))
        goto out;
    json_object_set(out_spec, "code", out);
    rc = 0;
out:
    json_decref(out);
    return rc;
}

/* An optional string checked by ok(); copied into out[key]. */
static int checked_string(json_t *in, const char *path, const char *key,
                          bool (*ok)(const char *, size_t), const char *rule, json_t *out,
                          struct err *e)
{
    const char *s;
    char f[FIELD_BUF];
    struct shown sv;

    if (opt_string(in, path, key, &s, e))
        return -1;
    if (!s)
        return 0;
    if (!ok(s, strlen(s))) {
        path_key(f, sizeof(f), path, key);
        return err_set(e, ERR_INVALID, f, "%s \"%s\" is invalid: %s", key, show(s, &sv), rule);
    }
    json_object_set_new(out, key, json_string(s));
    return 0;
}

static const char *const token_rule = "must be 1-253 printable ASCII characters without spaces";
static const char *const uri_rule =
    "must be scheme://location (s3://bucket/prefix, gs://..., hdfs://...), at most 2048 "
    "printable ASCII characters without spaces";

/* An optional PersistentVolumeClaim mount {claimName, mountPath[, readOnly]} at in[key],
 * copied canonically into out[key] (readOnly written out when the keys allow it, default
 * true: data is read, not written). */
static int parse_volume(json_t *in, const char *path, const char *key, const char *const *keys,
                        json_t *out, struct err *e)
{
    json_t *v, *ro, *o;
    char base[FIELD_BUF], f[FIELD_BUF];
    const char *claim, *mp;
    struct shown sv;

    if (opt_typed(in, path, key, JSON_OBJECT, &v, e))
        return -1;
    if (!v)
        return 0;
    path_key(base, sizeof(base), path, key);
    if (check_keys(v, base, keys, e) || req_string(v, base, "claimName", &claim, e) ||
        req_string(v, base, "mountPath", &mp, e))
        return -1;
    if (!ref_name_ok(claim, strlen(claim))) {
        path_key(f, sizeof(f), base, "claimName");
        return err_set(e, ERR_INVALID, f,
                       "claimName \"%s\" is invalid: a PersistentVolumeClaim name %s",
                       show(claim, &sv), ref_name_rule);
    }
    if (!mount_path_ok(mp, strlen(mp))) {
        path_key(f, sizeof(f), base, "mountPath");
        return err_set(e, ERR_INVALID, f,
                       "mountPath \"%s\" is invalid: must be an absolute path of at most %d "
                       "characters without ':', '..' or control characters, outside /dev/shm",
                       show(mp, &sv), PATH_LEN_MAX);
    }
    ro = get(v, "readOnly");
    if (ro && !json_is_boolean(ro)) {
        path_key(f, sizeof(f), base, "readOnly");
        return wrong_type(e, f, "readOnly", "a boolean", ro);
    }
    o = json_pack("{s:s, s:s}", "claimName", claim, "mountPath", mp);
    if (in_list("readOnly", keys))
        json_object_set_new(o, "readOnly", json_boolean(!ro || json_is_true(ro)));
    json_object_set_new(out, key, o);
    return 0;
}

/* Two volumes cannot share a mount path (Kubernetes refuses the pod). */
static int check_mounts(const json_t *spec, struct err *e)
{
    static const char *const fields[] = {"spec.data.volume", "spec.output.volume",
                                         "spec.checkpoint"};
    const json_t *vols[] = {json_object_get(json_object_get(spec, "data"), "volume"),
                            json_object_get(json_object_get(spec, "output"), "volume"),
                            json_object_get(spec, "checkpoint")};
    struct shown sv;

    for (size_t i = 0; i < 3; i++)
        for (size_t k = 0; k < i; k++) {
            const char *a = json_string_value(json_object_get(vols[i], "mountPath"));
            const char *b = json_string_value(json_object_get(vols[k], "mountPath"));
            char f[FIELD_BUF];

            if (a && b && strcmp(a, b) == 0) {
                path_key(f, sizeof(f), fields[i], "mountPath");
                return err_set(e, ERR_INVALID, f, "mountPath \"%s\" is already used by %s",
                               show(a, &sv), fields[k]);
            }
        }
    return 0;
}

/* podLabels (pod_labels true) or podAnnotations: keys under a prefix of the user's own
 * (not fedsched.io, kubernetes.io or k8s.io, which their owners act on), label values as
 * Kubernetes allows them, annotation values of at most ANNOTATION_MAX bytes. */
static int parse_pod_meta(json_t *spec, const char *key, bool pod_labels, json_t *out,
                          struct err *e)
{
    json_t *in, *copy, *v;
    const char *k;
    char base[FIELD_BUF];

    if (opt_typed(spec, "spec", key, JSON_OBJECT, &in, e))
        return -1;
    if (!in || json_object_size(in) == 0)
        return 0;
    path_key(base, sizeof(base), "spec", key);
    if (json_object_size(in) > POD_META_MAX)
        return err_set(e, ERR_INVALID, base, "%s has %zu entries; at most %d allowed", key,
                       json_object_size(in), POD_META_MAX);
    copy = json_object();
    json_object_foreach(in, k, v)
    {
        char f[FIELD_BUF];
        struct shown sk, sv;
        const char *why = label_key_problem(k, strlen(k)), *slash = strchr(k, '/'), *val;
        size_t plen = slash ? (size_t)(slash - k) : 0;

        path_key(f, sizeof(f), base, k);
        if (!why && !slash)
            why = "it needs a prefix of your own, as in example.com/team";
        if (!why && (domain_is(k, plen, "kubernetes.io") || domain_is(k, plen, "k8s.io")))
            why = "the kubernetes.io and k8s.io prefixes are reserved for Kubernetes";
        if (why) {
            err_set(e, ERR_INVALID, f, "key \"%s\" is invalid: %s", show(k, &sk), why);
            goto fail;
        }
        if (!json_is_string(v)) {
            wrong_type(e, f, pod_labels ? "a label value" : "an annotation value", "a string", v);
            goto fail;
        }
        val = json_string_value(v);
        if (pod_labels && *val && !label_name_ok(val, json_string_length(v))) {
            err_set(e, ERR_INVALID, f,
                    "label value \"%s\" is invalid: must be empty or 1-63 letters, digits, "
                    "'-', '_' or '.', starting and ending with a letter or digit",
                    show(val, &sv));
            goto fail;
        }
        if (!pod_labels && json_string_length(v) > ANNOTATION_MAX) {
            err_set(e, ERR_INVALID, f, "annotation value is %zu bytes; at most %d allowed",
                    json_string_length(v), ANNOTATION_MAX);
            goto fail;
        }
        json_object_set(copy, k, v);
    }
    json_object_set_new(out, key, copy);
    return 0;
fail:
    json_decref(copy);
    return -1;
}

static int parse_data(json_t *spec, json_t *out_spec, struct err *e)
{
    static const char *const path = "spec.data";
    json_t *in, *out = NULL;
    int rc = -1;

    if (opt_typed(spec, "spec", "data", JSON_OBJECT, &in, e))
        return -1;
    if (!in)
        return 0;
    if (check_keys(in, path, data_keys, e))
        return -1;
    out = json_object();
    if (string_array(in, path, "paletteFeatureSets", FEATURE_SETS_MAX, feature_set_ok, token_rule,
                     true, out, e) ||
        checked_string(in, path, "hiveTable", hive_table_ok,
                       "must be table or database.table, letters, digits and '_', at most 256 "
                       "characters",
                       out, e) ||
        parse_volume(in, path, "volume", data_volume_keys, out, e) ||
        checked_string(in, path, "uri", uri_ok, uri_rule, out, e))
        goto out;
    if (json_object_size(out) > 0)
        json_object_set(out_spec, "data", out);
    rc = 0;
out:
    json_decref(out);
    return rc;
}

static bool output_token_ok(const char *s, size_t n)
{
    return token_ok(s, n, TOKEN_MAX);
}

static int parse_output(json_t *spec, json_t *out_spec, struct err *e)
{
    static const char *const path = "spec.output";
    json_t *in, *out = NULL;
    int rc = -1;

    if (opt_typed(spec, "spec", "output", JSON_OBJECT, &in, e))
        return -1;
    if (!in)
        return 0;
    if (check_keys(in, path, output_keys, e))
        return -1;
    out = json_object();
    if (checked_string(in, path, "modelRegistry", output_token_ok, token_rule, out, e) ||
        checked_string(in, path, "experimentId", output_token_ok, token_rule, out, e) ||
        parse_volume(in, path, "volume", volume_keys, out, e) ||
        checked_string(in, path, "uri", uri_ok, uri_rule, out, e))
        goto out;
    if (json_object_size(out) > 0)
        json_object_set(out_spec, "output", out);
    rc = 0;
out:
    json_decref(out);
    return rc;
}

/* One of list at key (required), or ERR_INVALID naming the value and the choices. */
static int one_of(json_t *in, const char *path, const char *key, const char *const *list,
                  const char **out, struct err *e)
{
    char f[FIELD_BUF], choices[128] = "";
    struct shown sv;

    if (req_string(in, path, key, out, e))
        return -1;
    if (in_list(*out, list))
        return 0;
    for (size_t i = 0; list[i]; i++)
        snprintf(choices + strlen(choices), sizeof(choices) - strlen(choices), "%s%s",
                 i ? ", " : "", list[i]);
    path_key(f, sizeof(f), path, key);
    return err_set(e, ERR_INVALID, f, "%s \"%s\" is not one of: %s", key, show(*out, &sv), choices);
}

/* An integer at key within lo..hi, def when absent, into out[key]. */
static int ranged_int(json_t *in, const char *path, const char *key, json_int_t def, json_int_t lo,
                      json_int_t hi, json_t *out, json_int_t *v, struct err *e)
{
    bool set;

    *v = def;
    if (opt_int(in, path, key, &set, v, e))
        return -1;
    if (set && (*v < lo || *v > hi))
        return out_of_range(e, path, key, *v, lo, hi);
    json_object_set_new(out, key, json_integer(*v));
    return 0;
}

/* An ExitCode rule's operator and values, as Kubernetes' onExitCodes: 1 to 255 distinct
 * codes of 0..255, and 0 not with In (a container that exited 0 did not fail). */
static int parse_exit_codes(json_t *in, const char *path, json_t *out, struct err *e)
{
    char f[FIELD_BUF];
    const char *op;
    json_t *values, *v, *codes = NULL;
    bool seen[256] = {false};
    size_t i;

    if (one_of(in, path, "operator", retry_operators, &op, e) ||
        opt_typed(in, path, "values", JSON_ARRAY, &values, e))
        return -1;
    path_key(f, sizeof(f), path, "values");
    if (!values || json_array_size(values) == 0)
        return err_set(e, ERR_INVALID, f, "values must list at least one exit code");
    if (json_array_size(values) > 255)
        return err_set(e, ERR_INVALID, f, "values has %zu exit codes; at most 255",
                       json_array_size(values));
    codes = json_array();
    json_array_foreach(values, i, v)
    {
        char fi[FIELD_BUF];
        json_int_t n = json_integer_value(v);

        snprintf(fi, sizeof(fi), "%s[%zu]", f, i);
        if (!json_is_integer(v)) {
            wrong_type(e, fi, "an exit code", "an integer", v);
            goto bad;
        }
        if (n < 0 || n > 255) {
            err_set(e, ERR_INVALID, fi, "exit code %lld is out of range 0..255", (long long)n);
            goto bad;
        }
        if (n == 0 && strcmp(op, "In") == 0) {
            err_set(e, ERR_INVALID, fi, "exit code 0 is not a failure; it cannot be In");
            goto bad;
        }
        if (seen[n]) {
            err_set(e, ERR_INVALID, fi, "exit code %lld is repeated", (long long)n);
            goto bad;
        }
        seen[n] = true;
        json_array_append_new(codes, json_integer(n));
    }
    json_object_set_new(out, "operator", json_string(op));
    json_object_set_new(out, "values", codes);
    return 0;
bad:
    json_decref(codes);
    return -1;
}

/* One rule of spec.scheduling.retry.rules: {class, action} and, for ExitCode only,
 * {operator, values}. */
static int parse_retry_rule(json_t *r, const char *path, json_t *out, struct err *e)
{
    const char *cls, *action;
    char f[FIELD_BUF];

    if (!json_is_object(r))
        return wrong_type(e, path, "a rule", "an object", r);
    if (check_keys(r, path, retry_rule_keys, e) ||
        one_of(r, path, "class", retry_classes, &cls, e) ||
        one_of(r, path, "action", retry_actions, &action, e))
        return -1;
    json_object_set_new(out, "class", json_string(cls));
    json_object_set_new(out, "action", json_string(action));
    if (strcmp(cls, "ExitCode") == 0)
        return parse_exit_codes(r, path, out, e);
    if (get(r, "operator") || get(r, "values")) {
        path_key(f, sizeof(f), path, get(r, "operator") ? "operator" : "values");
        return err_set(e, ERR_INVALID, f,
                       "only an ExitCode rule takes operator and values, not"
                       " a %s rule",
                       cls);
    }
    return 0;
}

int trainingjob_retry_parse(json_t *in, const char *path, json_t **out, struct err *e)
{
    json_t *o = NULL, *rules, *r, *list = NULL;
    json_int_t max, backoff, cap;
    size_t i;
    char f[FIELD_BUF];

    if (!json_is_object(in))
        return wrong_type(e, path, "retry", "an object", in);
    if (check_keys(in, path, retry_keys, e))
        return -1;
    o = json_object();
    if (ranged_int(in, path, "maxRetries", 0, 0, RETRY_MAX_RETRIES, o, &max, e) ||
        ranged_int(in, path, "backoffSeconds", RETRY_BACKOFF_DEFAULT_S, 0, RETRY_BACKOFF_MAX_S, o,
                   &backoff, e) ||
        ranged_int(in, path, "maxBackoffSeconds", RETRY_MAX_BACKOFF_DEFAULT_S, 0,
                   RETRY_BACKOFF_MAX_S, o, &cap, e) ||
        opt_typed(in, path, "rules", JSON_ARRAY, &rules, e))
        goto bad;
    if (cap < backoff) {
        path_key(f, sizeof(f), path, "maxBackoffSeconds");
        err_set(e, ERR_INVALID, f, "maxBackoffSeconds %lld is less than backoffSeconds %lld",
                (long long)cap, (long long)backoff);
        goto bad;
    }
    if (json_array_size(rules) > RETRY_RULES_MAX) {
        path_key(f, sizeof(f), path, "rules");
        err_set(e, ERR_INVALID, f, "rules has %zu entries; at most %d", json_array_size(rules),
                RETRY_RULES_MAX);
        goto bad;
    }
    list = json_array();
    json_array_foreach(rules, i, r)
    {
        json_t *rule = json_object();

        snprintf(f, sizeof(f), "%s.rules[%zu]", path, i);
        json_array_append_new(list, rule);
        if (parse_retry_rule(r, f, rule, e))
            goto bad;
    }
    if (json_array_size(list) > 0)
        json_object_set(o, "rules", list);
    json_decref(list);
    *out = o;
    return 0;
bad:
    json_decref(list);
    json_decref(o);
    return -1;
}

static int parse_scheduling(json_t *spec, json_t *out_spec, struct job *j, struct err *e)
{
    static const char *const path = "spec.scheduling";
    json_t *in, *out = NULL;
    json_int_t prio = 0, maxrt = 0, ckpt = 0;
    bool set, has_maxrt, has_ckpt, preemptible = false;
    int rc = -1;

    if (opt_typed(spec, "spec", "scheduling", JSON_OBJECT, &in, e))
        return -1;
    if (in && check_keys(in, path, scheduling_keys, e))
        return -1;
    out = json_object();
    if (in) {
        if (opt_int(in, path, "priority", &set, &prio, e))
            goto out;
        if (set && (prio < JOB_PRIORITY_MIN || prio > JOB_PRIORITY_MAX)) {
            out_of_range(e, path, "priority", prio, JOB_PRIORITY_MIN, JOB_PRIORITY_MAX);
            goto out;
        }
        if (opt_bool(in, path, "preemptible", &preemptible, e) ||
            opt_int(in, path, "maxRuntimeSeconds", &has_maxrt, &maxrt, e))
            goto out;
        if (has_maxrt && (maxrt < RUNTIME_MIN_S || maxrt > RUNTIME_MAX_S)) {
            out_of_range(e, path, "maxRuntimeSeconds", maxrt, RUNTIME_MIN_S, RUNTIME_MAX_S);
            goto out;
        }
        if (opt_int(in, path, "checkpointIntervalSeconds", &has_ckpt, &ckpt, e))
            goto out;
        if (has_ckpt && (ckpt < 1 || ckpt > RUNTIME_MAX_S)) {
            out_of_range(e, path, "checkpointIntervalSeconds", ckpt, 1, RUNTIME_MAX_S);
            goto out;
        }
        if (has_ckpt && has_maxrt && ckpt > maxrt) {
            err_set(e, ERR_INVALID, "spec.scheduling.checkpointIntervalSeconds",
                    "checkpointIntervalSeconds %lld is longer than maxRuntimeSeconds %lld",
                    (long long)ckpt, (long long)maxrt);
            goto out;
        }
        if (has_maxrt)
            json_object_set_new(out, "maxRuntimeSeconds", json_integer(maxrt));
        if (has_ckpt)
            json_object_set_new(out, "checkpointIntervalSeconds", json_integer(ckpt));
        if (string_array(in, path, "clusterAffinity", JOB_AFFINITY_MAX, cluster_name_ok,
                         "must be a cluster name: lowercase letters, digits and '-', at most 63 "
                         "characters",
                         true, out, e))
            goto out;
        if (get(in, "retry")) {
            json_t *retry;

            if (trainingjob_retry_parse(get(in, "retry"), "spec.scheduling.retry", &retry, e))
                goto out;
            json_object_set_new(out, "retry", retry);
        }
    }
    json_object_set_new(out, "priority", json_integer(prio));
    json_object_set_new(out, "preemptible", json_boolean(preemptible));
    j->priority = (int)prio;
    j->preemptible = preemptible;
    j->max_runtime_s = maxrt;
    j->checkpoint_interval_s = ckpt;
    j->cluster_affinity =
        strv_from_array(json_object_get(out, "clusterAffinity"), &j->n_cluster_affinity);
    json_object_set(out_spec, "scheduling", out);
    rc = 0;
out:
    json_decref(out);
    return rc;
}

static int parse_framework(json_t *spec, struct job *j, json_t *out, struct err *e)
{
    const char *fw;
    struct shown sv;

    if (opt_string(spec, "spec", "framework", &fw, e))
        return -1;
    if (!fw)
        fw = default_framework;
    if (!in_list(fw, frameworks))
        return err_set(e, ERR_INVALID, "spec.framework",
                       "framework \"%s\" is not supported; one of: pytorch, tensorflow, jax, "
                       "ray, xgboost, horovod, deepspeed, mpi",
                       show(fw, &sv));
    json_object_set_new(out, "framework", json_string(fw));
    j->framework = xstrdup(fw);
    return 0;
}

/* Each section is checked whatever the others hold; the mounts only when every volume
 * was read. */
static void parse_spec(json_t *spec, const struct sku_catalogue *skus, struct job *j,
                       struct err_causes *c)
{
    json_t *out = json_object();
    struct err e;
    size_t before = c->n + c->more;
    bool volumes;

    failed(c, check_keys(spec, "spec", spec_keys, &e), &e);
    failed(c, parse_framework(spec, j, out, &e), &e);
    parse_resources(spec, skus, out, j, c);
    failed(c, parse_code(spec, out, &e), &e);
    volumes = !failed(c, parse_data(spec, out, &e), &e);
    volumes = !failed(c, parse_output(spec, out, &e), &e) && volumes;
    volumes =
        !failed(c, parse_volume(spec, "spec", "checkpoint", volume_keys, out, &e), &e) && volumes;
    if (volumes)
        failed(c, check_mounts(out, &e), &e);
    failed(c, parse_scheduling(spec, out, j, &e), &e);
    failed(c, parse_pod_meta(spec, "podLabels", true, out, &e), &e);
    failed(c, parse_pod_meta(spec, "podAnnotations", false, out, &e), &e);
    if (c->n + c->more == before) {
        j->spec_json = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
        if (!j->spec_json)
            failed(c, err_set(&e, ERR_INTERNAL, "spec", "cannot encode spec"), &e);
    }
    json_decref(out);
}

/* ---- entry point ---- */

static int parse_api_version(json_t *root, struct job *j, struct err *e)
{
    const char *s;
    struct shown sv;

    if (req_string(root, "", "apiVersion", &s, e))
        return -1;
    if (!in_list(s, api_versions))
        return err_set(e, ERR_INVALID, "apiVersion",
                       "apiVersion \"%s\" is not supported; use fedsched.io/v1 (or "
                       "michelangelo.uber.com/v1)",
                       show(s, &sv));
    j->api_version = xstrdup(s);
    return 0;
}

static int check_kind(json_t *root, struct err *e)
{
    const char *s;
    struct shown sv;

    if (req_string(root, "", "kind", &s, e))
        return -1;
    if (strcmp(s, "TrainingJob") != 0)
        return err_set(e, ERR_INVALID, "kind", "kind \"%s\" is not supported; use TrainingJob",
                       show(s, &sv));
    return 0;
}

/* root's object member key, as a cause when it is missing or not an object. */
static json_t *section(json_t *root, const char *key, struct err_causes *c)
{
    json_t *v;
    struct err e;

    if (failed(c, opt_typed(root, "", key, JSON_OBJECT, &v, &e), &e))
        return NULL;
    if (!v)
        failed(c, required(&e, "", key), &e);
    return v;
}

/* A cause that is not about the body's content (the server failed) is the answer alone. */
static void keep_server_cause(struct err_causes *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->items[i].code != ERR_MALFORMED && c->items[i].code != ERR_INVALID) {
            c->items[0] = c->items[i];
            c->n = 1;
            c->more = 0;
            return;
        }
}

int trainingjob_parse_all(const char *body, size_t len, const char *path_ns,
                          const struct sku_catalogue *skus, struct job **out, struct err_causes *c)
{
    json_t *root = NULL, *meta, *spec;
    json_error_t jerr;
    struct job *j = NULL;
    struct err e;

    c->n = 0;
    c->more = 0;
    if (!skus)
        skus = sku_catalogue();
    if (!body || len == 0) {
        failed(c, err_set(&e, ERR_MALFORMED, NULL, "request body is empty"), &e);
        goto out;
    }
    if (len > TRAININGJOB_MAX_BODY) {
        failed(c,
               err_set(&e, ERR_TOO_LARGE, NULL, "body is %zu bytes; at most %d allowed", len,
                       TRAININGJOB_MAX_BODY),
               &e);
        goto out;
    }
    if (failed(c, prescan(body, len, &e), &e) ||
        failed(c, trainingjob_check_namespace(path_ns, &e), &e))
        goto out;
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        failed(c,
               err_set(&e, ERR_MALFORMED, NULL, "invalid JSON at line %d column %d: %s", jerr.line,
                       jerr.column, jerr.text),
               &e);
        goto out;
    }
    if (!json_is_object(root)) {
        failed(
            c,
            err_set(&e, ERR_MALFORMED, NULL, "body must be a JSON object, not %s", type_name(root)),
            &e);
        goto out;
    }
    failed(c, check_keys(root, "", top_keys, &e), &e);
    j = job_new();
    failed(c, parse_api_version(root, j, &e), &e);
    failed(c, check_kind(root, &e), &e);
    /* "status" is deliberately never read: on create the server owns it. */
    meta = section(root, "metadata", c);
    if (meta)
        parse_metadata(meta, path_ns, j, c);
    spec = section(root, "spec", c);
    if (spec)
        parse_spec(spec, skus, j, c);
    if (c->n > 0)
        goto out;
    j->ns = xstrdup(path_ns);
    j->phase = PHASE_QUEUED;
    *out = j;
    j = NULL;
out:
    keep_server_cause(c);
    for (size_t i = 0; i < c->n; i++) {
        text_repair(c->items[i].field);
        text_repair(c->items[i].msg);
    }
    job_free(&j);
    json_decref(root);
    return c->n > 0 ? -1 : 0;
}

int trainingjob_parse(const char *body, size_t len, const char *path_ns,
                      const struct sku_catalogue *skus, struct job **out, struct err *e)
{
    struct err_causes c;

    if (trainingjob_parse_all(body, len, path_ns, skus, out, &c) == 0)
        return 0;
    if (e)
        *e = c.items[0];
    return -1;
}

/* ---- what administrators let tenants reference ---- */

/* The kinds of reference a spec makes to things in its member namespace or outside it,
 * in the order a spec is checked; tenant_keys[] names each kind's list in the config. */
enum ref_kind {
    REF_SERVICE_ACCOUNT,
    REF_PULL_SECRET,
    REF_IMAGE,
    REF_SECRET,
    REF_CONFIG_MAP,
    REF_CLAIM,
    REF_URI,
    REF_LABEL,
    REF_ANNOTATION,
    REF_KINDS
};

static const char *const tenant_keys[REF_KINDS + 1] = {
    [REF_SERVICE_ACCOUNT] = "serviceAccountNames",
    [REF_PULL_SECRET] = "imagePullSecrets",
    [REF_IMAGE] = "imagePrefixes",
    [REF_SECRET] = "secrets",
    [REF_CONFIG_MAP] = "configMaps",
    [REF_CLAIM] = "volumeClaims",
    [REF_URI] = "uriPrefixes",
    [REF_LABEL] = "podLabelPrefixes",
    [REF_ANNOTATION] = "podAnnotationPrefixes",
    [REF_KINDS] = NULL,
};

#define TENANT_LIST_MAX 1024 /* entries of one list */
#define ALLOWED_SHOWN   240  /* bytes of a list quoted in a refusal */

struct tenant_list {
    bool set; /* the entry has this key; otherwise the "*" entry (or nothing) decides */
    size_t n;
    char **items;
};

struct tenant_entry {
    char ns[64]; /* a namespace, or "*" */
    struct tenant_list lists[REF_KINDS];
};

struct trainingjob_tenants {
    size_t n;
    struct tenant_entry *entries;
};

void trainingjob_tenants_free(struct trainingjob_tenants **tp)
{
    struct trainingjob_tenants *t = tp ? *tp : NULL;

    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        for (size_t k = 0; k < REF_KINDS; k++) {
            for (size_t m = 0; m < t->entries[i].lists[k].n; m++)
                free(t->entries[i].lists[k].items[m]);
            free(t->entries[i].lists[k].items);
        }
    free(t->entries);
    free(t);
    *tp = NULL;
}

/* A name list entry: a name, or a name's beginning followed by '*'. */
static bool name_pattern_ok(const char *s, size_t n)
{
    if (n < 2 || s[n - 1] != '*')
        return ref_name_ok(s, n);
    if (!lower_alnum(s[0]) || n - 1 > REF_NAME_MAX)
        return false;
    for (size_t i = 1; i + 1 < n; i++)
        if (!lower_alnum(s[i]) && s[i] != '-' && s[i] != '.')
            return false;
    return true;
}

/* NULL when s is a valid entry of a list of kind k, else what an entry must be. "*" (any)
 * is valid everywhere. A prefix must end at a separator, so that "s3://team-a" cannot also
 * allow s3://team-a-other. */
static const char *entry_problem(enum ref_kind k, const char *s)
{
    size_t n = strlen(s);

    if (strcmp(s, "*") == 0)
        return NULL;
    switch (k) {
    case REF_IMAGE:
        return image_ok(s, n) && strchr("/:@", s[n - 1])
                   ? NULL
                   : "is not an image prefix: printable ASCII without spaces, ending in '/', ':' "
                     "or '@' (registry.example.com/ml/)";
    case REF_URI:
        return uri_ok(s, n) && s[n - 1] == '/'
                   ? NULL
                   : "is not a URI prefix: scheme://location ending in '/' (s3://bucket/team-a/)";
    case REF_LABEL:
    case REF_ANNOTATION:
        return dns_subdomain_ok(s, n, 253) ? NULL
                                           : "is not a key prefix: a DNS subdomain (example.com)";
    default:
        return name_pattern_ok(s, n) ? NULL
                                     : "is not a name (lowercase letters, digits, '-' and '.', "
                                       "at most 253), a name's beginning followed by '*', or '*'";
    }
}

static int tenant_list_from_json(const json_t *v, enum ref_kind k, const char *path,
                                 struct tenant_list *out, struct err *e)
{
    size_t i;
    json_t *item;

    if (!json_is_array(v) || json_array_size(v) > TENANT_LIST_MAX)
        return err_set(e, ERR_CONFIG, path, "%s: must be an array of at most %d strings", path,
                       TENANT_LIST_MAX);
    out->set = true;
    out->items = xcalloc(json_array_size(v) + 1, sizeof(*out->items));
    json_array_foreach(v, i, item)
    {
        const char *s = json_string_value(item), *why;
        char f[FIELD_BUF];
        struct shown sv;

        path_index(f, sizeof(f), path, i);
        if (!s)
            return err_set(e, ERR_CONFIG, f, "%s: must be a string, not %s", f, type_name(item));
        if ((why = entry_problem(k, s)))
            return err_set(e, ERR_CONFIG, f, "%s: \"%s\" %s", f, show(s, &sv), why);
        out->items[out->n++] = xstrdup(s);
    }
    return 0;
}

static int tenant_entry_from_json(const char *ns, const json_t *v, struct tenant_entry *out,
                                  struct err *e)
{
    char path[FIELD_BUF];
    const char *key;
    json_t *list;
    struct shown sv;

    path_key(path, sizeof(path), "tenants", ns);
    if (strcmp(ns, "*") != 0 && !dns_label_ok(ns, strlen(ns)))
        return err_set(e, ERR_CONFIG, path, "%s: \"%s\" is not a namespace name or \"*\"", path,
                       show(ns, &sv));
    if (!json_is_object(v))
        return err_set(e, ERR_CONFIG, path, "%s: must be an object, not %s", path, type_name(v));
    snprintf(out->ns, sizeof(out->ns), "%s", ns);
    json_object_foreach((json_t *)v, key, list)
    {
        char f[FIELD_BUF];
        size_t k;

        path_key(f, sizeof(f), path, key);
        for (k = 0; k < REF_KINDS && strcmp(key, tenant_keys[k]) != 0; k++)
            ;
        if (k == REF_KINDS) {
            const char *hint = suggest(key, tenant_keys);

            return err_set(e, ERR_CONFIG, f, "%s: unknown configuration key%s%s%s", f,
                           hint ? " (did you mean \"" : "", hint ? hint : "", hint ? "\"?)" : "");
        }
        if (tenant_list_from_json(list, (enum ref_kind)k, f, &out->lists[k], e))
            return -1;
    }
    return 0;
}

int trainingjob_tenants_from_json(const json_t *v, struct trainingjob_tenants **out, struct err *e)
{
    struct trainingjob_tenants *t;
    const char *ns;
    json_t *entry;

    if (!json_is_object(v))
        return err_set(e, ERR_CONFIG, "tenants",
                       "tenants: must be an object of namespaces (or \"*\"), not %s", type_name(v));
    if (json_object_size(v) == 0) {
        *out = NULL;
        return 0;
    }
    t = xcalloc(1, sizeof(*t));
    t->entries = xcalloc(json_object_size(v), sizeof(*t->entries));
    json_object_foreach((json_t *)v, ns, entry)
    {
        /* Counted before parsing, so a failure frees what the entry already holds. */
        if (tenant_entry_from_json(ns, entry, &t->entries[t->n++], e)) {
            trainingjob_tenants_free(&t);
            return -1;
        }
    }
    *out = t;
    return 0;
}

/* The list deciding kind k in namespace ns: the namespace's own, else the "*" entry's;
 * NULL when neither has one (anything goes). *rule_ns names the entry that decided. */
static const struct tenant_list *tenant_rule(const struct trainingjob_tenants *t, const char *ns,
                                             enum ref_kind k, const char **rule_ns)
{
    const struct tenant_list *any = NULL;

    for (size_t i = 0; i < t->n; i++) {
        const struct tenant_entry *en = &t->entries[i];

        if (!en->lists[k].set)
            continue;
        if (strcmp(en->ns, ns) == 0) {
            *rule_ns = en->ns;
            return &en->lists[k];
        }
        if (strcmp(en->ns, "*") == 0) {
            *rule_ns = en->ns;
            any = &en->lists[k];
        }
    }
    return any;
}

static bool entry_allows(enum ref_kind k, const char *item, const char *v)
{
    size_t n = strlen(item);

    if (strcmp(item, "*") == 0)
        return true;
    switch (k) {
    case REF_IMAGE:
    case REF_URI: return strncmp(v, item, n) == 0;
    case REF_LABEL:
    case REF_ANNOTATION: return domain_is(v, strlen(v), item);
    default: return item[n - 1] == '*' ? strncmp(v, item, n - 1) == 0 : strcmp(v, item) == 0;
    }
}

/* A URI whose path has "." or ".." segments or %-escapes may name another place than its
 * text says once a client normalises it, so it cannot be held to a prefix. */
static bool uri_plain(const char *s)
{
    const char *path = strstr(s, "://") + 3;

    if (strchr(path, '%'))
        return false;
    for (const char *p = path; (p = strchr(p, '.')) != NULL; p++) {
        size_t dots = p[1] == '.' ? 2 : 1;

        if (p[-1] == '/' && (p[dots] == '/' || p[dots] == '\0'))
            return false;
    }
    return true;
}

/* The list's entries, ", "-separated and cut to ALLOWED_SHOWN bytes, or "none". */
static void allowed_text(const struct tenant_list *l, char *out, size_t size)
{
    size_t used = 0;

    snprintf(out, size, "%s", l->n ? "" : "none");
    for (size_t i = 0; i < l->n; i++) {
        int w = snprintf(out + used, size - used, "%s%s", i ? ", " : "", l->items[i]);

        if (w < 0 || (size_t)w >= size - used) {
            snprintf(out + (used < size - 4 ? used : size - 4), 4, "...");
            return;
        }
        used += (size_t)w;
    }
}

struct tenant_check {
    const struct trainingjob_tenants *t;
    const char *ns;
    struct err *e;
};

/* Whether value v at field (subject: how the message names it) is allowed; ERR_FORBIDDEN
 * naming field, value, namespace, rule and what it allows when not. match is what the
 * list's entries are compared with (a label key's prefix; v itself otherwise). */
static int ref_allowed(const struct tenant_check *c, enum ref_kind k, const char *field,
                       const char *subject, const char *v, const char *match)
{
    const char *rule_ns = NULL;
    const struct tenant_list *l = tenant_rule(c->t, c->ns, k, &rule_ns);
    char allowed[ALLOWED_SHOWN + 4];
    struct shown sv;

    if (!l)
        return 0;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], "*") == 0)
            return 0;
    if (k == REF_URI && !uri_plain(v))
        return err_set(c->e, ERR_FORBIDDEN, field,
                       "%s \"%s\" is not allowed in namespace %s: a URI with '.' or '..' "
                       "segments or '%%' escapes cannot be held to tenants.%s.%s",
                       subject, show(v, &sv), c->ns, rule_ns, tenant_keys[k]);
    for (size_t i = 0; i < l->n; i++)
        if (entry_allows(k, l->items[i], match))
            return 0;
    allowed_text(l, allowed, sizeof(allowed));
    return err_set(c->e, ERR_FORBIDDEN, field,
                   "%s \"%s\" is not allowed in namespace %s (tenants.%s.%s); allowed: %s", subject,
                   show(v, &sv), c->ns, rule_ns, tenant_keys[k], allowed);
}

/* A string at field, when present. */
static int ref_string(const struct tenant_check *c, enum ref_kind k, const char *field,
                      const json_t *v)
{
    const char *s = json_string_value(v);

    return s ? ref_allowed(c, k, field, field, s, s) : 0;
}

static int ref_code(const struct tenant_check *c, const json_t *code)
{
    const json_t *env = json_object_get(code, "env"),
                 *pulls = json_object_get(code, "imagePullSecrets");
    const json_t *v;
    size_t i;

    if (ref_string(c, REF_SERVICE_ACCOUNT, "spec.code.serviceAccountName",
                   json_object_get(code, "serviceAccountName")))
        return -1;
    json_array_foreach(pulls, i, v)
    {
        char f[FIELD_BUF];

        path_index(f, sizeof(f), "spec.code.imagePullSecrets", i);
        if (ref_string(c, REF_PULL_SECRET, f, v))
            return -1;
    }
    if (ref_string(c, REF_IMAGE, "spec.code.image", json_object_get(code, "image")))
        return -1;
    json_array_foreach(env, i, v)
    {
        const json_t *from = json_object_get(v, "valueFrom");
        const json_t *sec = json_object_get(from, "secretKeyRef");
        const json_t *cm = json_object_get(from, "configMapKeyRef");
        char f[FIELD_BUF], g[FIELD_BUF];

        path_index(f, sizeof(f), "spec.code.env", i);
        path_key(g, sizeof(g), f,
                 sec ? "valueFrom.secretKeyRef.name" : "valueFrom.configMapKeyRef.name");
        if (from && ref_string(c, sec ? REF_SECRET : REF_CONFIG_MAP, g,
                               json_object_get(sec ? sec : cm, "name")))
            return -1;
    }
    return 0;
}

/* The keys of spec.podLabels or spec.podAnnotations, held by their prefix. */
static int ref_pod_meta(const struct tenant_check *c, enum ref_kind k, const char *path,
                        const json_t *obj)
{
    const char *key;
    const json_t *v;

    json_object_foreach((json_t *)obj, key, v)
    {
        char f[FIELD_BUF], subject[64], prefix[256];

        (void)v;
        path_key(f, sizeof(f), path, key);
        snprintf(subject, sizeof(subject), "%s key", path);
        snprintf(prefix, sizeof(prefix), "%.*s", (int)strcspn(key, "/"), key);
        if (ref_allowed(c, k, f, subject, key, prefix))
            return -1;
    }
    return 0;
}

static int ref_spec(const struct tenant_check *c, const json_t *spec)
{
    const json_t *data = json_object_get(spec, "data"), *output = json_object_get(spec, "output");

    return ref_code(c, json_object_get(spec, "code")) ||
                   ref_string(c, REF_CLAIM, "spec.data.volume.claimName",
                              json_object_get(json_object_get(data, "volume"), "claimName")) ||
                   ref_string(c, REF_CLAIM, "spec.output.volume.claimName",
                              json_object_get(json_object_get(output, "volume"), "claimName")) ||
                   ref_string(c, REF_CLAIM, "spec.checkpoint.claimName",
                              json_object_get(json_object_get(spec, "checkpoint"), "claimName")) ||
                   ref_string(c, REF_URI, "spec.data.uri", json_object_get(data, "uri")) ||
                   ref_string(c, REF_URI, "spec.output.uri", json_object_get(output, "uri")) ||
                   ref_pod_meta(c, REF_LABEL, "spec.podLabels",
                                json_object_get(spec, "podLabels")) ||
                   ref_pod_meta(c, REF_ANNOTATION, "spec.podAnnotations",
                                json_object_get(spec, "podAnnotations"))
               ? -1
               : 0;
}

int trainingjob_check_tenant(const struct job *j, const struct trainingjob_tenants *t,
                             struct err *e)
{
    struct tenant_check c = {t, j->ns, e};
    json_t *spec;
    int rc;

    if (!t)
        return 0;
    spec = json_loads(j->spec_json ? j->spec_json : "", 0, NULL);
    if (!spec)
        return err_set(e, ERR_INTERNAL, "spec", "the job's canonical spec is not JSON");
    rc = ref_spec(&c, spec);
    json_decref(spec);
    if (rc && e) {
        text_repair(e->field);
        text_repair(e->msg);
    }
    return rc;
}

/* ---- rendering ---- */

static void set_str(json_t *o, const char *key, const char *v)
{
    /* json_string() refuses invalid UTF-8 and set_new() then drops the NULL: a corrupt
     * string is omitted rather than printed as garbage. */
    if (v)
        json_object_set_new(o, key, json_string(v));
}

static void set_time(json_t *o, const char *key, int64_t ms)
{
    char buf[40];

    if (ms <= 0)
        return;
    clock_format_rfc3339(ms, buf, sizeof(buf));
    json_object_set_new(o, key, json_string(buf));
}

/* One field of a JSON object: ,"key":"value" (or without the comma first). A value
 * that is not valid UTF-8 (a corrupt row) is omitted rather than printed as garbage. */
static void put_key(struct buf *b, bool *first, const char *key)
{
    buf_puts(b, *first ? "\"" : ",\"");
    buf_puts(b, key);
    buf_puts(b, "\":");
    *first = false;
}

static void put_str(struct buf *b, bool *first, const char *key, const char *v)
{
    if (!v || !utf8_valid(v, strlen(v)))
        return;
    put_key(b, first, key);
    buf_json_str(b, v);
}

/* Decimal without printf: this is on every GET's path. */
static void put_i64(struct buf *b, int64_t v)
{
    char t[24];
    size_t i = sizeof(t);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    do {
        t[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        t[--i] = '-';
    buf_append(b, t + i, sizeof(t) - i);
}

static void put_time(struct buf *b, bool *first, const char *key, int64_t ms)
{
    char t[40];

    if (ms <= 0)
        return;
    clock_format_rfc3339(ms, t, sizeof(t));
    put_str(b, first, key, t);
}

/* labels_json and spec_json are PostgreSQL's own rendering of a jsonb object (or, for a
 * job not stored yet, jansson's): embedded as they are, after a check that is much
 * cheaper than building a tree (a corrupt text is omitted, never passed on). */
static bool is_object_text(const char *text)
{
    struct k8s_json d;
    bool ok;

    if (!text || text[0] != '{')
        return false;
    k8s_json_init(&d);
    ok = k8s_json_parse(&d, text, strlen(text), TRAININGJOB_MAX_DEPTH, NULL) == 0 &&
         d.toks[0].type == K8S_JSON_OBJECT && utf8_valid(text, strlen(text));
    k8s_json_free(&d);
    return ok;
}

void trainingjob_render(const struct job *j, struct buf *b)
{
    trainingjob_render_with(j, NULL, b);
}

void trainingjob_render_with(const struct job *j, const char *status_extra, struct buf *b)
{
    char object_name[MANIFEST_NAME_MAX] = "";
    bool first = true;

    if (j->cluster && j->uid)
        manifest_object_name(j->uid, j->attempt, object_name, sizeof(object_name));

    buf_puts(b, "{");
    put_str(b, &first, "apiVersion", j->api_version ? j->api_version : "fedsched.io/v1");
    put_str(b, &first, "kind", "TrainingJob");
    buf_puts(b, ",\"metadata\":{");
    first = true;
    put_str(b, &first, "name", j->name);
    put_str(b, &first, "namespace", j->ns);
    put_str(b, &first, "uid", j->uid);
    if (is_object_text(j->labels_json) && strcmp(j->labels_json, "{}") != 0) {
        put_key(b, &first, "labels");
        buf_puts(b, j->labels_json);
    }
    put_time(b, &first, "creationTimestamp", j->created_ms);
    if (j->resource_version > 0) {
        put_key(b, &first, "resourceVersion");
        buf_puts(b, "\"");
        put_i64(b, j->resource_version);
        buf_puts(b, "\"");
    }
    buf_puts(b, "}");
    if (is_object_text(j->spec_json)) {
        buf_puts(b, ",\"spec\":");
        buf_puts(b, j->spec_json);
    }
    buf_puts(b, ",\"status\":{");
    first = true;
    put_str(b, &first, "phase", job_phase_name(j->phase));
    put_str(b, &first, "cluster", j->cluster);
    put_str(b, &first, "pool", j->pool);
    put_str(b, &first, "memberNamespace", j->member_ns);
    put_str(b, &first, "objectName", object_name[0] ? object_name : NULL);
    put_key(b, &first, "attempt");
    put_i64(b, j->attempt);
    put_key(b, &first, "preemptions");
    put_i64(b, j->preemptions);
    put_key(b, &first, "retries");
    put_i64(b, j->retries);
    put_key(b, &first, "held");
    buf_puts(b, j->held ? "true" : "false");
    put_str(b, &first, "reason", j->reason);
    put_str(b, &first, "message", j->message);
    put_time(b, &first, "admittedAt", j->admitted_ms);
    put_time(b, &first, "startTime", j->started_ms);
    put_time(b, &first, "completionTime", j->finished_ms);
    put_time(b, &first, "lastCheckpointTime", j->last_checkpoint_ms);
    /* A checkpoint-first reclaim's request (GET .../checkpoint answers the same). */
    put_time(b, &first, "checkpointRequestedAt", j->checkpoint_requested_ms);
    put_time(b, &first, "checkpointDeadline", j->checkpoint_deadline_ms);
    buf_puts(b, ",\"conditions\":[");
    /* Kubernetes-style conditions, derived from the phase: only the final outcomes,
     * which clients wait on ("final only when Complete or Failed is True", as
     * batch/v1 Job). */
    if (j->phase == PHASE_SUCCEEDED || j->phase == PHASE_FAILED || j->phase == PHASE_CANCELLED) {
        first = true;
        buf_puts(b, "{");
        put_str(b, &first, "type",
                j->phase == PHASE_SUCCEEDED ? "Complete"
                : j->phase == PHASE_FAILED  ? "Failed"
                                            : "Cancelled");
        put_str(b, &first, "status", "True");
        put_str(b, &first, "reason", j->reason);
        put_str(b, &first, "message", j->message);
        put_time(b, &first, "lastTransitionTime", j->finished_ms);
        buf_puts(b, "}");
    }
    buf_puts(b, "]");
    if (status_extra && *status_extra) {
        buf_puts(b, ",");
        buf_puts(b, status_extra);
    }
    buf_puts(b, "}}");
}

json_t *trainingjob_to_json(const struct job *j)
{
    struct buf b;
    json_t *v;

    buf_init(&b, 0);
    trainingjob_render(j, &b);
    v = json_loadb(b.data, b.len, 0, NULL);
    buf_free(&b);
    return v ? v : json_object();
}

json_t *trainingjob_event_to_json(const struct job_event *ev)
{
    json_t *o = json_object();

    if (ev->id > 0)
        json_object_set_new(o, "id", json_integer(ev->id));
    set_time(o, "time", ev->ts_ms);
    set_str(o, "type", ev->type);
    set_str(o, "reason", ev->reason);
    set_str(o, "message", ev->message);
    set_str(o, "fromPhase", ev->from_phase);
    set_str(o, "toPhase", ev->to_phase);
    return o;
}
