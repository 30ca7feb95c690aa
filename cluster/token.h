/* token.h -- a member cluster's bearer token, read from its file and re-read when the
 * file changes (tokens are rotated in place), and the request headers built around it.
 * Shared by the poller and the job client. The token is a secret: it is wiped from memory
 * when replaced or dropped, and never logged. */
#ifndef CLUSTER_TOKEN_H
#define CLUSTER_TOKEN_H

#include <stdbool.h>
#include <time.h>

struct curl_slist;
struct err;

struct cluster_token {
    char *value; /* NULL when the cluster has no token file */
    struct timespec mtime;
    bool loaded; /* false: headers need building before the next request */
};

/* Loads path when it is new or changed; path "" means no token. *changed is set when
 * the token (or the first load) requires the headers to be rebuilt. Fails with ERR_CONFIG
 * (field tokenFile) when the file cannot be read, is empty or has several lines; the
 * previous token is kept then. */
int cluster_token_refresh(struct cluster_token *t, const char *path, bool *changed, struct err *e);

/* Wipes and frees the token; the next refresh loads it again. */
void cluster_token_clear(struct cluster_token *t);

/* Accept, User-Agent and, with a token, Authorization headers. Caller frees them with
 * curl_slist_free_all(). */
struct curl_slist *cluster_token_headers(const struct cluster_token *t);

#endif
