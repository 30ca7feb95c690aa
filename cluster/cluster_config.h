/* cluster_config.h -- one member cluster as the config file and the admin API describe it:
 * where its API server is, how to authenticate, its region, prices, time zone, serving
 * pool and lending rules. JSON in and out (jansson), with validation errors that name the
 * field and the value.
 * Not responsible for storing configs (store/) or polling (poller.c). */
#ifndef CLUSTER_CLUSTER_CONFIG_H
#define CLUSTER_CLUSTER_CONFIG_H

#include "base/err.h"
#include "base/sku.h"
#include "policy/snapshot.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLUSTER_LABELS_MAX      16
#define CLUSTER_NAMESPACES_MAX  16
#define CLUSTER_TOLERATIONS_MAX 16
#define CLUSTER_PATH_MAX        512
#define CLUSTER_LABEL_KEY_MAX   254 /* prefix (253) + "/" + name (63) is capped by the API */
#define CLUSTER_LABEL_VALUE_MAX 64

struct cluster_label {
    char key[CLUSTER_LABEL_KEY_MAX];
    char value[CLUSTER_LABEL_VALUE_MAX];
};

/* A toleration our pods carry. exists: operator Exists (value ignored); empty key with
 * exists tolerates every taint; empty effect matches every effect. */
struct cluster_toleration {
    char key[CLUSTER_LABEL_KEY_MAX];
    char value[CLUSTER_LABEL_VALUE_MAX];
    char effect[24];
    bool exists;
};

struct cluster_cost {
    char sku[SNAPSHOT_SKU_NAME_MAX];
    double per_gpu_hour;
};

/* An optional serving-demand figure from a Prometheus-compatible server (docs/clusters.md,
 * "Demand query"): an instant query whose one number is the serving GPUs the pool wants on
 * one SKU. Off unless configured. */
#define CLUSTER_QUERY_MAX 1024
struct cluster_demand_query {
    bool enabled;
    char url[CLUSTER_PATH_MAX];      /* base URL: http(s)://host[:port][/prefix] */
    char query[CLUSTER_QUERY_MAX];   /* PromQL, sent as GET <url>/api/v1/query?query= */
    char sku[SNAPSHOT_SKU_NAME_MAX]; /* "" : the serving pool's largest SKU */
    int timeout_ms;                  /* per request; 2000 by default */
    int interval_ms;                 /* between requests; 30000 by default */
    int max_age_ms;                  /* a figure counts this long after it was taken */
};

struct cluster_serving_config {
    bool enabled; /* false: no serving pool, every GPU node is training */
    struct cluster_label selector[CLUSTER_LABELS_MAX]; /* node labels, all must match */
    size_t n_selector;
    char namespaces[CLUSTER_NAMESPACES_MAX][64]; /* pods here are serving pods */
    size_t n_namespaces;
    int reserve_gpus;
    enum snapshot_lend_policy lend_policy;
    int idle_minutes;
    struct snapshot_window windows[SNAPSHOT_WINDOWS_MAX];
    size_t n_windows;
    struct cluster_demand_query demand_query;
};

/* Plain value type: callers allocate it (it is about 20 KiB, so prefer the heap); nothing
 * inside needs freeing, and a struct copy is a deep copy. */
struct cluster_config {
    char name[64];                           /* DNS label: [a-z0-9-], at most 63 */
    char api_server[CLUSTER_PATH_MAX];       /* http(s)://host[:port][/prefix] */
    char token_file[CLUSTER_PATH_MAX];       /* bearer token, re-read when it changes; "" none.
                                          In the secrets directory (relative to it or
                                          absolute inside it): see secrets.h */
    char ca_file[CLUSTER_PATH_MAX];          /* PEM bundle for TLS; "" uses the system store.
                                          Same rule as token_file */
    char client_cert_file[CLUSTER_PATH_MAX]; /* PEM client certificate (chain) for TLS
                                                client authentication; "" none. With
                                                client_key_file; same rule as token_file */
    char client_key_file[CLUSTER_PATH_MAX];  /* its PEM private key */
    bool insecure_skip_tls_verify;           /* development only; logged as a warning */
    bool allow_insecure_http; /* an http:// apiServer is accepted (credentials in clear):
                                 simulators and local development only */
    char region[SNAPSHOT_NAME_MAX];
    char provider[SNAPSHOT_NAME_MAX];
    struct cluster_cost costs[SKU_MAX];
    size_t n_costs;
    char job_namespace[64]; /* a template: "{ns}" stands for the TrainingJob's namespace
                               (cluster_member_namespace()); without it, one shared
                               namespace */
    char timezone[64];      /* IANA zone name ("America/Los_Angeles"); "UTC" by default */
    struct cluster_serving_config serving;
    struct cluster_toleration tolerations[CLUSTER_TOLERATIONS_MAX];
    size_t n_tolerations;
    int64_t lost_timeout_s;
    bool cordoned;
};

/* Defaults: jobNamespace "fedsched-{ns}", timezone "UTC", lostTimeoutSeconds 900, the
 * toleration nvidia.com/gpu Exists (the taint GPU pools commonly carry), no serving pool. */
void cluster_config_init(struct cluster_config *c);

/* Reads the JSON object j (the shape documented in docs/clusters.md) on top of the
 * defaults and validates it against catalogue skus. Unknown members are errors, so a typo
 * never passes silently. Fails with ERR_INVALID or ERR_MALFORMED; e->field names the
 * member ("servingPool.lendingWindows[1].start") and e->msg quotes the value. *out is
 * written only on success. */
int cluster_config_from_json(const json_t *j, const struct sku_catalogue *skus,
                             struct cluster_config *out, struct err *e);

/* cluster_config_from_json(), keeping every cause of a refused config in cs (n 0 on
 * success): items[0] is the one cluster_config_from_json() reports, the rest follow in the
 * order the object is read. Each top-level member is read and checked on its own (each
 * inline credential and unknown member is a cause too); within a member the first problem
 * stops it, and a member that could not be read is not checked further. */
int cluster_config_from_json_all(const json_t *j, const struct sku_catalogue *skus,
                                 struct cluster_config *out, struct err_causes *cs);

/* Same from text (at most 1 MiB, nesting at most 16). */
int cluster_config_parse(const char *text, size_t len, const struct sku_catalogue *skus,
                         struct cluster_config *out, struct err *e);

/* The JSON object cluster_config_from_json() accepts, with every member present. Caller
 * owns the result (json_decref). Never contains the token itself, only its file name. */
json_t *cluster_config_to_json(const struct cluster_config *c);

/* The tolerations as Kubernetes writes them ([{key, operator, value, effect}], key left
 * out when empty: Exists then tolerates every taint): the config's rendering and the
 * pods' spec both use it. */
json_t *cluster_tolerations_json(const struct cluster_config *c);

/* Checks a config built in code (from_json already calls it). */
int cluster_config_validate(const struct cluster_config *c, const struct sku_catalogue *skus,
                            struct err *e);

/* What a config must pass before it is accepted (PUT /v1/clusters/{name}, the config
 * file's clusters at start), beyond cluster_config_validate(): an http:// apiServer only
 * with allowInsecureHttp (field apiServer), and the credential files c names, as fedsched
 * will read them: tokenFile, caFile, clientCertificateFile and clientKeyFile must lie
 * inside the secrets directory (secrets.h; relative paths are taken relative to it, `..`
 * and symlinks leading out are refused) and be readable, regular, non-empty files under
 * their caps, the token a single line, the certificate and key a pair that loads (both or
 * neither). Reads the files (secrets are wiped at once); not called by
 * cluster_config_from_json(), which stays free of I/O apart from time zones, so clusters
 * stored before these rules still load. Fails with ERR_INVALID, e->field naming the member,
 * e->msg quoting the path or URL and never a file's contents. */
int cluster_config_check_files(const struct cluster_config *c, struct err *e);

/* Writes the POSIX TZ rule of the IANA zone (the footer line of its TZif file under
 * $TZDIR or /usr/share/zoneinfo) into out: "America/Los_Angeles" -> "PST8PDT,M3.2.0,
 * M11.1.0". "UTC" and "" give "UTC0". Fails with ERR_INVALID naming "timezone" when the
 * zone is unknown or its file has no footer. */
int cluster_config_tz_rule(const char *zone, char *out, size_t size, struct err *e);

/* True when the pods fedsched creates tolerate a taint (key, value, effect). */
bool cluster_config_tolerates(const struct cluster_config *c, const char *key, const char *value,
                              const char *effect);

/* True when ns is one of the serving pool's namespaces. */
bool cluster_config_serving_namespace(const struct cluster_config *c, const char *ns);

/* The member namespace a TrainingJob of namespace ns runs in: c->job_namespace with each
 * "{ns}" replaced by ns ("fedsched-{ns}" and "maps" give "fedsched-maps"; a template
 * without "{ns}" is the same namespace for every tenant). A result longer than 63
 * characters is cut to 54, stripped of trailing '-', and suffixed with '-' and the first 8
 * hex digits of the SHA-256 of the full expansion, so it stays a distinct DNS-1123 label.
 * Writes out (size >= 64) only on success. Fails with ERR_INVALID, field "jobNamespace",
 * when the expansion is not a DNS-1123 label (ns is not one, or the template is bad). */
int cluster_member_namespace(const struct cluster_config *c, const char *ns, char *out, size_t size,
                             struct err *e);

/* Cost per GPU-hour of sku, or 0 when not configured. */
double cluster_config_cost(const struct cluster_config *c, const char *sku);

#endif
