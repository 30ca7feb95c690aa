/* watches.c -- the caps on suspended watches, in total and per caller, so one viewer
 * token cannot hold every slot. Not responsible for waiting (server.c suspends). */
#include "api/internal.h"

#include "base/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct watch_count {
    char key[72];
    int n;
};

struct api_watches {
    pthread_mutex_t mu;
    struct watch_count *keys;
    size_t n_keys, cap;
    int total;
};

void watches_init(struct api *a)
{
    a->watches = xcalloc(1, sizeof(*a->watches));
    pthread_mutex_init(&a->watches->mu, NULL);
}

void watches_free(struct api *a)
{
    if (!a->watches)
        return;
    pthread_mutex_destroy(&a->watches->mu);
    free(a->watches->keys);
    free(a->watches);
    a->watches = NULL;
}

int api_watch_acquire(struct api *a, const struct api_request *req, struct api_wait *w,
                      struct err *e)
{
    struct api_watches *ws = a->watches;
    const char *key = req->who && req->who->authenticated ? req->who->name : req->remote;
    struct watch_count *k = NULL;
    int max_total = a->cfg.max_watches, max_key = a->cfg.max_watches_per_token;

    pthread_mutex_lock(&ws->mu);
    for (size_t i = 0; i < ws->n_keys && !k; i++)
        if (strcmp(ws->keys[i].key, key) == 0)
            k = &ws->keys[i];
    if (max_total > 0 && ws->total >= max_total) {
        pthread_mutex_unlock(&ws->mu);
        return err_set(e, ERR_RATE_LIMITED, "watch",
                       "the server holds its limit of %d watches; retry later", max_total);
    }
    if (max_key > 0 && k && k->n >= max_key) {
        pthread_mutex_unlock(&ws->mu);
        return err_set(e, ERR_RATE_LIMITED, "watch", "%s holds its limit of %d concurrent watches",
                       key, max_key);
    }
    if (!k) {
        if (ws->n_keys == ws->cap) {
            ws->cap = ws->cap ? ws->cap * 2 : 16;
            ws->keys = xrealloc(ws->keys, ws->cap * sizeof(*ws->keys));
        }
        k = &ws->keys[ws->n_keys++];
        memset(k, 0, sizeof(*k));
        snprintf(k->key, sizeof(k->key), "%s", key);
    }
    k->n++;
    ws->total++;
    snprintf(w->cap_key, sizeof(w->cap_key), "%s", k->key);
    pthread_mutex_unlock(&ws->mu);
    return 0;
}

void api_watch_release(struct api *a, struct api_wait *w)
{
    struct api_watches *ws = a->watches;

    pthread_mutex_lock(&ws->mu);
    for (size_t i = 0; i < ws->n_keys; i++) {
        if (strcmp(ws->keys[i].key, w->cap_key) != 0)
            continue;
        ws->total--;
        if (--ws->keys[i].n == 0)
            ws->keys[i] = ws->keys[--ws->n_keys]; /* keys holding no watch are dropped */
        break;
    }
    pthread_mutex_unlock(&ws->mu);
    w->cap_key[0] = '\0';
}

int api_watch_count(struct api *a)
{
    int n;

    pthread_mutex_lock(&a->watches->mu);
    n = a->watches->total;
    pthread_mutex_unlock(&a->watches->mu);
    return n;
}
