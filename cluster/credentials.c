/* credentials.c -- member-cluster bearer tokens, CA bundles and client certificates from files in
 * the secrets directory, the headers that carry the token and the curl options that carry the
 * rest. */
#include "cluster/credentials.h"

#include "base/err.h"
#include "base/mem.h"
#include "base/version.h"
#include "cluster/cluster_config.h"
#include "cluster/secrets.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void wipe(char *s, size_t len)
{
    if (s) {
        memset(s, 0, len);
        free(s);
    }
}

static struct cluster_file_id file_id(const struct stat *sb)
{
    return (struct cluster_file_id){sb->st_mtim, sb->st_dev, sb->st_ino, sb->st_size};
}

static bool same_file(const struct cluster_file_id *a, const struct cluster_file_id *b)
{
    return a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->dev == b->dev && a->ino == b->ino && a->size == b->size;
}

/* Reads and parses the token in path; *out is the trimmed single line. */
static int read_token(const char *path, char **out, struct stat *sb, struct err *e)
{
    char *tok = NULL;
    size_t n = 0;

    if (cluster_secrets_read(cluster_secrets_dir(), path, "tokenFile", CLUSTER_TOKEN_MAX, &tok, &n,
                             sb, e))
        return -1;
    while (n && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' '))
        tok[--n] = '\0';
    if (n == 0 || memchr(tok, '\n', n) || memchr(tok, '\r', n) || strlen(tok) != n) {
        wipe(tok, n);
        return err_set(e, ERR_INVALID, "tokenFile",
                       "tokenFile \"%s\" is empty or is not a single line of text", path);
    }
    *out = tok;
    return 0;
}

int cluster_token_refresh(struct cluster_token *t, const char *path, bool *changed, struct err *e)
{
    struct stat sb;
    struct cluster_file_id id;
    char *tok = NULL;

    *changed = false;
    if (!path[0]) {
        *changed = !t->loaded;
        t->loaded = true;
        return 0;
    }
    /* The path is checked on every call: the file may have been replaced by a symlink
     * leading out since it was last read. */
    if (cluster_secrets_stat(cluster_secrets_dir(), path, "tokenFile", &sb, e))
        goto fail;
    id = file_id(&sb);
    if (t->loaded && t->value && same_file(&id, &t->id))
        return 0;
    if (read_token(path, &tok, &sb, e))
        goto fail;
    if (t->value)
        wipe(t->value, strlen(t->value));
    t->value = tok;
    t->id = file_id(&sb);
    t->loaded = true;
    *changed = true;
    return 0;
fail:
    if (e)
        e->code = ERR_CONFIG;
    return -1;
}

void cluster_token_clear(struct cluster_token *t)
{
    if (t->value)
        wipe(t->value, strlen(t->value));
    t->value = NULL;
    t->loaded = false;
}

struct curl_slist *cluster_token_headers(const struct cluster_token *t)
{
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    char agent[96], *auth;

    snprintf(agent, sizeof(agent), "User-Agent: fedsched/%s", fedsched_version);
    h = curl_slist_append(h, agent);
    if (t->value && *t->value) {
        auth = xasprintf("Authorization: Bearer %s", t->value);
        h = curl_slist_append(h, auth);
        wipe(auth, strlen(auth)); /* curl keeps its own copy */
    }
    return h;
}

int cluster_token_check(const char *path, struct err *e)
{
    struct stat sb;
    char *tok = NULL;

    if (!path[0])
        return 0;
    if (read_token(path, &tok, &sb, e))
        return -1;
    wipe(tok, strlen(tok));
    return 0;
}

/* ---- CA bundles ------------------------------------------------------------------------ */

int cluster_ca_refresh(struct cluster_ca *ca, const char *path, bool *changed, struct err *e)
{
    struct stat sb;
    struct cluster_file_id id;
    char *pem = NULL;
    size_t len = 0;

    *changed = false;
    if (!path[0]) {
        *changed = !ca->loaded;
        ca->loaded = true;
        return 0;
    }
    if (cluster_secrets_stat(cluster_secrets_dir(), path, "caFile", &sb, e))
        goto fail;
    id = file_id(&sb);
    if (ca->loaded && ca->pem && same_file(&id, &ca->id))
        return 0;
    if (cluster_secrets_read(cluster_secrets_dir(), path, "caFile", CLUSTER_CA_MAX, &pem, &len, &sb,
                             e))
        goto fail;
    free(ca->pem);
    ca->pem = pem;
    ca->len = len;
    ca->id = file_id(&sb);
    ca->loaded = true;
    *changed = true;
    return 0;
fail:
    if (e)
        e->code = ERR_CONFIG;
    return -1;
}

/* ---- client certificates --------------------------------------------------------------- */

static void pem_clear(struct cluster_pem *p)
{
    wipe(p->pem, p->len);
    p->pem = NULL;
    p->len = 0;
}

/* Reads path (field, at most max bytes) into *p unless it is the file already read;
 * path "" drops what was read. *changed when p now holds something else. */
static int pem_refresh(struct cluster_pem *p, const char *path, const char *field, size_t max,
                       bool *changed, struct err *e)
{
    struct stat sb;
    struct cluster_file_id id;
    char *pem = NULL;
    size_t len = 0;

    if (!path[0]) {
        *changed |= p->pem != NULL;
        pem_clear(p);
        return 0;
    }
    if (cluster_secrets_stat(cluster_secrets_dir(), path, field, &sb, e))
        return -1;
    id = file_id(&sb);
    if (p->pem && same_file(&id, &p->id))
        return 0;
    if (cluster_secrets_read(cluster_secrets_dir(), path, field, max, &pem, &len, &sb, e))
        return -1;
    pem_clear(p);
    p->pem = pem;
    p->len = len;
    p->id = file_id(&sb);
    *changed = true;
    return 0;
}

int cluster_tls_refresh(struct cluster_ca *ca, const struct cluster_config *c, bool *changed,
                        struct err *e)
{
    bool was_loaded = ca->loaded, more = false;

    if (cluster_ca_refresh(ca, c->ca_file, changed, e))
        return -1;
    if (pem_refresh(&ca->cert, c->client_cert_file, "clientCertificateFile", CLUSTER_CA_MAX, &more,
                    e) ||
        pem_refresh(&ca->key, c->client_key_file, "clientKeyFile", CLUSTER_KEY_MAX, &more, e)) {
        if (e)
            e->code = ERR_CONFIG;
        return -1;
    }
    /* A first load sets everything on the handle, whatever the CA did. */
    *changed = *changed || more || !was_loaded;
    return 0;
}

void cluster_ca_clear(struct cluster_ca *ca)
{
    free(ca->pem);
    ca->pem = NULL;
    ca->len = 0;
    ca->loaded = false;
    pem_clear(&ca->cert);
    pem_clear(&ca->key);
}

void cluster_ca_apply(const struct cluster_ca *ca, void *easy)
{
    struct curl_blob blob;

    if (ca->cert.pem && ca->key.pem) {
        blob =
            (struct curl_blob){.data = ca->cert.pem, .len = ca->cert.len, .flags = CURL_BLOB_COPY};
        curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &blob);
        curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
        blob = (struct curl_blob){.data = ca->key.pem, .len = ca->key.len, .flags = CURL_BLOB_COPY};
        curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &blob);
        curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (!ca->pem)
        return;
    blob = (struct curl_blob){.data = ca->pem, .len = ca->len, .flags = CURL_BLOB_COPY};
    curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob);
    /* The cluster's CA alone: not also the system's directory of CAs, so a certificate
     * any public CA signed for the API server's name is not trusted. */
    curl_easy_setopt(easy, CURLOPT_CAPATH, NULL);
}

int cluster_ca_check(const char *path, struct err *e)
{
    struct stat sb;
    char *pem = NULL;
    size_t len = 0;

    if (!path[0])
        return 0;
    if (cluster_secrets_read(cluster_secrets_dir(), path, "caFile", CLUSTER_CA_MAX, &pem, &len, &sb,
                             e))
        return -1;
    free(pem);
    return 0;
}

/* Reads path and checks it holds marker; the contents are wiped whatever the outcome. */
static int pem_check(const char *path, const char *field, size_t max, const char *marker,
                     const char *what, struct err *e)
{
    struct stat sb;
    char *pem = NULL;
    size_t len = 0;
    bool ok;

    if (cluster_secrets_read(cluster_secrets_dir(), path, field, max, &pem, &len, &sb, e))
        return -1;
    ok = strstr(pem, marker) != NULL;
    wipe(pem, len);
    if (!ok)
        return err_set(e, ERR_INVALID, field, "%s \"%s\" holds no PEM %s", field, path, what);
    return 0;
}

int cluster_client_cert_check(const char *cert_path, const char *key_path, struct err *e)
{
    if (!cert_path[0] && !key_path[0])
        return 0;
    if (!key_path[0])
        return err_set(e, ERR_INVALID, "clientKeyFile",
                       "clientKeyFile is required with clientCertificateFile \"%s\"", cert_path);
    if (!cert_path[0])
        return err_set(e, ERR_INVALID, "clientCertificateFile",
                       "clientCertificateFile is required with clientKeyFile \"%s\"", key_path);
    if (pem_check(cert_path, "clientCertificateFile", CLUSTER_CA_MAX, "-----BEGIN CERTIFICATE-----",
                  "certificate", e) ||
        pem_check(key_path, "clientKeyFile", CLUSTER_KEY_MAX, "PRIVATE KEY-----", "private key", e))
        return -1;
    return 0;
}
