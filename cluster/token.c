/* token.c -- member-cluster bearer tokens from files, and the headers that carry them. */
#include "cluster/token.h"

#include "base/err.h"
#include "base/mem.h"
#include "base/version.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TOKEN_MAX 16384

static void wipe(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

int cluster_token_refresh(struct cluster_token *t, const char *path, bool *changed, struct err *e)
{
    struct stat sb;
    FILE *f;
    char *tok;
    size_t n;

    *changed = false;
    if (!path[0]) {
        *changed = !t->loaded;
        t->loaded = true;
        return 0;
    }
    if (stat(path, &sb) != 0)
        return err_set(e, ERR_CONFIG, "tokenFile", "cannot read token file \"%s\": %s", path,
                       strerror(errno));
    if (t->loaded && sb.st_mtim.tv_sec == t->mtime.tv_sec && sb.st_mtim.tv_nsec == t->mtime.tv_nsec)
        return 0;
    if (!(f = fopen(path, "r")))
        return err_set(e, ERR_CONFIG, "tokenFile", "cannot open token file \"%s\": %s", path,
                       strerror(errno));
    tok = xcalloc(1, TOKEN_MAX + 1);
    n = fread(tok, 1, TOKEN_MAX, f);
    fclose(f);
    while (n && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' '))
        tok[--n] = '\0';
    if (n == 0 || strchr(tok, '\n')) {
        free(tok);
        return err_set(e, ERR_CONFIG, "tokenFile",
                       "token file \"%s\" is empty or has several lines", path);
    }
    wipe(t->value);
    t->value = tok;
    t->mtime = sb.st_mtim;
    t->loaded = true;
    *changed = true;
    return 0;
}

void cluster_token_clear(struct cluster_token *t)
{
    wipe(t->value);
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
        wipe(auth); /* curl keeps its own copy */
    }
    return h;
}
