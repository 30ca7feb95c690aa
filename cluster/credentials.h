/* credentials.h -- a member cluster's credentials read from files: the bearer token (re-read when
 * the file changes, since tokens are rotated in place) and the request headers built around
 * it, and the CA bundle the API server's certificate is checked against. Shared by the
 * poller and the job client. Files are read only from inside the secrets directory
 * (secrets.h), checked again at every read. The token is a secret: it is wiped from memory
 * when replaced or dropped, and never logged. */
#ifndef CLUSTER_CREDENTIALS_H
#define CLUSTER_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct curl_slist;
struct err;

#define CLUSTER_TOKEN_MAX 16384     /* bytes in a token file */
#define CLUSTER_CA_MAX    (1 << 20) /* bytes in a CA bundle */

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

/* A CA bundle (PEM), read by us rather than by curl so that the secrets-directory rules
 * hold for it too; handed to curl as a blob. */
struct cluster_ca {
    char *pem; /* NULL when the cluster has no caFile: curl's default store */
    size_t len;
    struct cluster_file_id id;
    bool loaded; /* false: the blob needs setting on the handle before the next request */
};

/* Loads path like cluster_token_refresh() (field caFile; at most CLUSTER_CA_MAX bytes;
 * "" means the system store). *changed: the handle needs cluster_ca_apply(). */
int cluster_ca_refresh(struct cluster_ca *ca, const char *path, bool *changed, struct err *e);

/* Frees the bundle; the next refresh loads it again. */
void cluster_ca_clear(struct cluster_ca *ca);

/* Sets the bundle on easy (a CURL *) as CURLOPT_CAINFO_BLOB; nothing when there is none.
 * curl copies it. */
void cluster_ca_apply(const struct cluster_ca *ca, void *easy);

/* Checks that path would load as a CA bundle; ERR_INVALID naming caFile. */
int cluster_ca_check(const char *path, struct err *e);

#endif
