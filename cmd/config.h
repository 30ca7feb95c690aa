/* config.h -- the process configuration: embedded defaults, then the JSON config file,
 * then environment overrides; validated once at start, read-only afterwards.
 * Every key is documented in docs/configuration.md. */
#ifndef CMD_CONFIG_H
#define CMD_CONFIG_H

#include <stdbool.h>

#include "base/log.h"
#include "base/sku.h"
#include "policy/policy.h"

#include <stddef.h>

struct cluster_config;
#include "base/sku.h"
#include "policy/policy.h"

struct cluster_config;
struct err;

/* TLS 1.2 and 1.3 only, forward-secret key exchange (ECDHE), AEAD ciphers. GnuTLS syntax. */
#define CONFIG_TLS_PRIORITIES                                                                      \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:"            \
    "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA"

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
    struct {
        int interval_ms; /* between polls of one cluster */
        int request_timeout_ms;
        int sample_interval_s; /* capacity samples to PostgreSQL */
        int registry_sync_s;   /* re-read the cluster registry (other replicas' edits) */
    } poller;
    struct {
        bool enabled;              /* run the scheduler (leader election) in this replica */
        int cycle_interval_ms;     /* timer between cycles when nothing wakes it */
        int min_cycle_gap_ms;      /* at least this between two cycles */
        int leader_retry_ms;       /* a standby tries the leader lock this often */
        int leader_renew_ms;       /* the leader confirms its epoch this often */
        int request_timeout_ms;    /* each member-cluster call */
        int backoff_base_s;        /* first pause after a failed dispatch; doubles */
        int backoff_max_s;         /* cap of that pause */
        int max_dispatch_failures; /* then the job fails */
        int gc_interval_s;         /* orphan collection in member clusters */
        int missing_grace_s;       /* a dispatched object absent this long is requeued */
        int start_timeout_s;       /* dispatched but not all workers running this long: requeued */
        char priority_class[64];   /* priorityClassName on training capacity; "" none */
        char priority_class_borrowed[64]; /* on borrowed serving capacity */
        char job_annotations[4096];       /* JSON object added to every created object and pod */
    } scheduler;
    struct policy_config policy;     /* "policy": knobs named as in docs/policy.md */
    struct sku_catalogue skus;       /* the built-in catalogue unless "skus" replaced it */
    struct cluster_config *clusters; /* "clusters" from the file; owned, config_free() */
    size_t n_clusters;
    struct policy_quota_spec *quotas; /* "quotas"; owned */
    size_t n_quotas;
    struct policy_namespace *weights; /* "namespaceWeights"; owned, names too */
    size_t n_weights;
};

/* Releases what config_load allocated (the cluster list). */
void config_free(struct config *c);

/* Fills c with the embedded defaults. */
void config_defaults(struct config *c);

/* Overlays the JSON text (a whole config file) onto c. Unknown keys, wrong types and
 * out-of-range values fail with ERR_CONFIG naming the key ("http.maxBodyBytes") and the
 * value; c is unchanged on failure. */
int config_apply_json(struct config *c, const char *text, struct err *e);

/* Reads path and applies it (config_apply_json). */
int config_load_file(struct config *c, const char *path, struct err *e);

/* Applies FEDSCHED_LISTEN, FEDSCHED_DATABASE_DSN, FEDSCHED_LOG_LEVEL, FEDSCHED_AUTH_MODE
 * and FEDSCHED_SECRETS_DIR when set, with the same validation (the field names the
 * variable). */
int config_apply_env(struct config *c, struct err *e);

/* defaults -> each of the n files in order (later files override earlier ones; a later
 * "clusters" list replaces an earlier one) -> environment. */
int config_load(struct config *c, const char *const *paths, size_t n, struct err *e);

#endif
