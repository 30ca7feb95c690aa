/* credentials.h -- a member cluster's credentials read from files: the bearer token (re-read when
 * the file changes, since tokens are rotated in place) and the request headers built around
 * it; the CA bundle the API server's certificate is checked against and the client
 * certificate and key fedsched authenticates with (TLS client authentication). Shared by the
 * poller and the job client: every curl handle to a member cluster gets its TLS material
 * through cluster_ca_apply(). Files are read only from inside the secrets directory
 * (secrets.h), checked again at every read. The token is a secret: it is wiped from memory
 * when replaced or dropped, and never logged. */
#ifndef CLUSTER_CREDENTIALS_H
#define CLUSTER_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct cluster_config;
struct curl_slist;
struct err;

#define CLUSTER_TOKEN_MAX 16384     /* bytes in a token file */
#define CLUSTER_CA_MAX    (1 << 20) /* bytes in a CA bundle or a client certificate chain */
#define CLUSTER_KEY_MAX   65536     /* bytes in a client key */

/* Which file was read last, to notice a change (rotation) without reading it again. */
struct cluster_file_id {
    struct timespec mtime;
    dev_t dev;
    ino_t ino;
    off_t size;
};

struct cluster_token {
    char *value; /* NULL when the cluster has no token file */
    struct cluster_file_id id;
    bool loaded; /* false: headers need building before the next request */
};

/* Loads path (relative to the secrets directory, or absolute inside it) when it is new or
 * changed; path "" means no token. The path is checked against the secrets directory on
 * every call, even when the file is unchanged. *changed is set when the token (or the
 * first load) requires the headers to be rebuilt. Fails with ERR_CONFIG (field tokenFile)
 * when the file is outside the secrets directory, cannot be read, is not a regular file, is
 * empty, over CLUSTER_TOKEN_MAX bytes or has several lines; the previous token is kept
 * then. Messages quote the path, never the contents. */
int cluster_token_refresh(struct cluster_token *t, const char *path, bool *changed, struct err *e);

/* Wipes and frees the token; the next refresh loads it again. */
void cluster_token_clear(struct cluster_token *t);

/* Accept, User-Agent and, with a token, Authorization headers. Caller frees them with
 * curl_slist_free_all(). */
struct curl_slist *cluster_token_headers(const struct cluster_token *t);

/* Checks that path would load (cluster_token_refresh) without keeping the token. For
 * validating a config before it is accepted: fails with ERR_INVALID naming tokenFile. */
int cluster_token_check(const char *path, struct err *e);

/* One PEM file as read (NULL: none). */
struct cluster_pem {
    char *pem;
    size_t len;
    struct cluster_file_id id;
};

/* A CA bundle (PEM), and the client certificate and key when the cluster has them, read by
 * us rather than by curl so that the secrets-directory rules hold for them too; handed to
 * curl as blobs. The key is a secret: wiped when replaced or dropped. */
struct cluster_ca {
    char *pem; /* NULL when the cluster has no caFile: curl's default store */
    size_t len;
    struct cluster_file_id id;
    bool loaded; /* false: the blob needs setting on the handle before the next request */
    struct cluster_pem cert, key; /* clientCertificateFile, clientKeyFile */
};

/* Loads path like cluster_token_refresh() (field caFile; at most CLUSTER_CA_MAX bytes;
 * "" means the system store). *changed: the handle needs cluster_ca_apply(). */
int cluster_ca_refresh(struct cluster_ca *ca, const char *path, bool *changed, struct err *e);

/* cluster_ca_refresh() for c->ca_file, and the same for c's client certificate and key
 * (fields clientCertificateFile, clientKeyFile; a file that changed is read again, as a
 * rotated certificate is). *changed: the handle needs cluster_ca_apply(). On failure what
 * was loaded before is kept. */
int cluster_tls_refresh(struct cluster_ca *ca, const struct cluster_config *c, bool *changed,
                        struct err *e);

/* Frees the bundle and wipes the client key; the next refresh loads them again. */
void cluster_ca_clear(struct cluster_ca *ca);

/* Sets the bundle on easy (a CURL *) as CURLOPT_CAINFO_BLOB, and the client certificate
 * and key as CURLOPT_SSLCERT_BLOB and CURLOPT_SSLKEY_BLOB; nothing for what there is none
 * of. curl copies them. */
void cluster_ca_apply(const struct cluster_ca *ca, void *easy);

/* Checks that path would load as a CA bundle; ERR_INVALID naming caFile. */
int cluster_ca_check(const char *path, struct err *e);

/* Checks a client certificate and key pair: both or neither named, each would load (the
 * secrets-directory rules) and holds a PEM certificate, respectively a PEM private key.
 * ERR_INVALID naming clientCertificateFile or clientKeyFile; the message quotes the path,
 * never the contents. Whether the key matches the certificate is for the TLS handshake. */
int cluster_client_cert_check(const char *cert_path, const char *key_path, struct err *e);

#endif
