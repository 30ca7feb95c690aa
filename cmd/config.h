/* config.h -- the process configuration: one table of rows (name, type, default, bounds,
 * environment override, where the value lands), then the JSON config file, then the
 * environment; validated once at start, read-only afterwards. Every key is documented in
 * docs/configuration.md; the table in config.c is the only place a default is written.
 * Not responsible for what the values mean: each subsystem's header says that. */
#ifndef CMD_CONFIG_H
#define CMD_CONFIG_H

#include "base/log.h"
#include "base/sku.h"
#include "cluster/poller.h"
#include "policy/policy.h"
#include "scheduler/sched.h"

#include <stdbool.h>
#include <stddef.h>

struct api_config;
struct cluster_config;
struct err;
struct json_t;
struct store_config;
struct trainingjob_tenants;

/* TLS 1.2 and 1.3 only, forward-secret key exchange (ECDHE), AEAD ciphers. GnuTLS syntax. */
#define CONFIG_TLS_PRIORITIES                                                                      \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:"            \
    "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA"

/* The subsystems' own option structs are embedded (scheduler, poller, policy), so the
 * table's rows land straight in what the subsystems run with; their pointer fields stay
 * NULL here (a config is copied by value) and config_sched_options() and
 * config_poller_options() fill them. database, http and auth hold what
 * config_store_options() and config_api_options() hand to the store and the API. */
struct config {
    char listen_host[128]; /* "listen": "127.0.0.1:8080" */
    int listen_port;
    enum log_level log_level; /* "logLevel" */
    char secrets_dir[512];    /* "secretsDir": member-cluster tokenFile/caFile only from here */
    struct {
        char dsn[1024];
        int pool_size;
        int statement_timeout_ms;
        int connect_timeout_s;
        bool migrate_on_start;
    } database;
    struct {
        long max_body_bytes;
        int max_connections;
        int request_timeout_s; /* idle/slow-client timeout per connection */
        int max_header_bytes;
        char tls_cert_file[512]; /* both set: HTTPS */
        char tls_key_file[512];
        int drain_timeout_s;        /* SIGTERM: how long in-flight requests may finish */
        int threads;                /* libmicrohttpd's thread pool (epoll) */
        int submit_threads;         /* submissions waiting for their batch's COMMIT */
        int max_connections_per_ip; /* concurrent connections from one address */
        int header_timeout_s;       /* absolute deadline for the request line and headers */
        int body_timeout_s;         /* absolute deadline for the body, once headers are in */
        int max_watches;            /* suspended watches/long-polls in total */
        int max_watches_per_token;  /* and per token (per address without auth) */
        char tls_priorities[512];   /* GnuTLS priority string */
    } http;
    struct {
        bool enabled;      /* "auth.mode": "tokens" (true) or "disabled" (development) */
        double rate_per_s; /* per token */
        double burst;
        int unauth_audit_per_minute; /* audit rows of 401s per client address per minute */
    } auth;
    /* "poller.*" but registrySyncS (the scheduler's registry_sync_ms and serve's loop). */
    struct poller_options poller;
    /* "scheduler.*" numbers and "poller.registrySyncS"; strings are in scheduler_text. */
    struct sched_options scheduler;
    bool scheduler_enabled; /* "scheduler.enabled": run the scheduler in this replica */
    struct {
        char priority_class[64];          /* "scheduler.priorityClass"; "" none */
        char priority_class_borrowed[64]; /* "scheduler.priorityClassBorrowed" */
        char job_annotations[4096];       /* "scheduler.jobAnnotations" as compact JSON */
        char public_url[256];             /* "scheduler.publicUrl"; "" at load: http(s)://listen */
    } scheduler_text;
    struct policy_config policy;     /* "policy": knobs named as in docs/policy.md */
    struct sku_catalogue skus;       /* the built-in catalogue unless "skus" replaced it */
    struct cluster_config *clusters; /* "clusters" from the file; owned, config_free() */
    size_t n_clusters;
    struct policy_quota_spec *quotas; /* "quotas"; owned */
    size_t n_quotas;
    struct policy_namespace *weights; /* "namespaceWeights"; owned, names too */
    size_t n_weights;
    /* "tenants": what each namespace's specs may reference; owned; NULL: anything. */
    struct trainingjob_tenants *tenants;
    /* "retryDefaults": each namespace's retry policy, canonical (cmd/retry_config.h); owned;
     * NULL: none. */
    struct json_t *retry_defaults;
};

/* ---- the table -------------------------------------------------------------------------- */

enum config_type {
    CONFIG_INT,       /* int */
    CONFIG_LONG,      /* long */
    CONFIG_INT64,     /* int64_t */
    CONFIG_SIZE,      /* size_t */
    CONFIG_MS_FROM_S, /* whole seconds in the file, the table and the bounds; an int of
                         milliseconds where it lands (the subsystem's unit) */
    CONFIG_DOUBLE,
    CONFIG_BOOL,
    CONFIG_STRING, /* char[size] at offset, after the row's check */
    CONFIG_CUSTOM, /* a scalar string through the row's setter (listen, logLevel, auth.mode) */
    CONFIG_JSON,   /* a list or an object through the row's JSON setter (skus, clusters, ...) */
};

enum {
    CONFIG_FIXED = 1 << 0, /* built in: not read from the file (docs: "Built-in values") */
    CONFIG_FIRST = 1 << 1, /* applied before the rest of its file (skus: clusters name SKUs) */
};

/* One row. Numbers keep their default and bounds as doubles (every integer default and
 * bound is far below 2^53, so they are exact); strings and custom rows keep their default
 * as the text the file would hold, run through the same check or setter. */
struct config_row {
    const char *name; /* JSON path: "scheduler.cycleIntervalMs" */
    enum config_type type;
    unsigned flags;
    double def;          /* numbers and booleans (0/1) */
    const char *def_str; /* strings, custom and JSON rows; NULL: empty (JSON: see config.c) */
    double min, max;     /* numbers; strings: max unused, the size bounds the length */
    const char *env;     /* environment variable overriding it, or NULL */
    size_t offset;       /* where it lands in struct config (custom: its main field) */
    size_t size;         /* CONFIG_STRING: the buffer's size */
    /* CONFIG_STRING: extra check (NULL: any string that fits); CONFIG_CUSTOM: the setter. */
    int (*set)(struct config *c, const struct config_row *r, const char *v, const char *field,
               struct err *e);
    int (*set_json)(struct config *c, const struct json_t *v, struct err *e); /* CONFIG_JSON */
};

/* The table, read-only, in the order the documentation lists the keys; *n gets its size. */
const struct config_row *config_table(size_t *n);

/* The row named name, or NULL. */
const struct config_row *config_row_find(const char *name);

/* ---- loading ---------------------------------------------------------------------------- */

/* Releases what config_load allocated (the lists and the tenants' rules). */
void config_free(struct config *c);

/* Fills c with the table's defaults (c needs no config_free() until a file adds lists). */
void config_defaults(struct config *c);

/* Overlays the JSON text (a whole config file) onto c. Unknown keys, wrong types and
 * out-of-range values fail with ERR_CONFIG naming the key ("http.maxBodyBytes") and the
 * value; c is unchanged on failure. */
int config_apply_json(struct config *c, const char *text, struct err *e);

/* Reads path and applies it (config_apply_json). */
int config_load_file(struct config *c, const char *path, struct err *e);

/* Applies every row's environment variable that is set (FEDSCHED_LISTEN,
 * FEDSCHED_DATABASE_DSN, FEDSCHED_LOG_LEVEL, FEDSCHED_AUTH_MODE, FEDSCHED_SECRETS_DIR) with
 * the row's validation, landing where the JSON key lands; errors name the variable. c is
 * unchanged on failure. */
int config_apply_env(struct config *c, struct err *e);

/* defaults -> each of the n files in order (later files override earlier ones; a later
 * "clusters" list replaces an earlier one) -> environment. */
int config_load(struct config *c, const char *const *paths, size_t n, struct err *e);

/* ---- what the subsystems run with ------------------------------------------------------- */

/* The store's options; out->dsn points into c, which must outlive them. */
void config_store_options(const struct config *c, struct store_config *out);

/* The API's options; the TLS strings and the tenants' rules point into c (NULL when
 * unset). */
void config_api_options(const struct config *c, struct api_config *out);

/* The poller's options (c->poller) with skus pointing at c's catalogue; sink unset. */
void config_poller_options(const struct config *c, struct poller_options *out);

/* The scheduler's options (c->scheduler) with dsn, policy, skus, priority classes, quotas
 * and weights pointing into c; holder and annotations are the caller's. */
void config_sched_options(const struct config *c, struct sched_options *out);

#endif
