/* auth.c -- who is calling and what they may do: bearer tokens (looked up by SHA-256,
 * cached briefly), roles and namespaces, a token bucket per caller, and the audit trail
 * of every mutating call (queued and written in batches by one thread).
 *
 * Roles: admin may do everything; submitter may submit, cancel and read in its
 * namespaces; viewer may read in its namespaces, or everywhere when it has none.
 * A caller never learns of jobs in namespaces it may not read: asking for one answers
 * 404 exactly as if it did not exist, while namespace-wide requests (list, submit) in
 * such a namespace answer 403. */
#include "api/internal.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/sha256.h"
#include "store/store.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CACHE_TTL_MS    10000 /* a revoked token stops working within this */
#define CACHE_MAX       1024
#define BUCKETS_MAX     4096
#define AUDIT_QUEUE_MAX 100000
#define AUDIT_FLUSH_MS  200

struct cached {
    char hash[2 * SHA256_LEN + 1];
    struct principal who;
    bool valid; /* false: unknown or revoked (cached too, so floods do not hit the DB) */
    int64_t expires_ms;
};

struct bucket {
    char key[72];
    double tokens;
    int64_t at_ms;
};

struct audit_item {
    struct store_audit row;
    char *strings; /* one allocation backing row's strings */
    struct audit_item *next;
};

struct api_auth {
    pthread_mutex_t mu;
    struct cached *cache;
    size_t n_cache;
    struct bucket *buckets;
    size_t n_buckets;
    /* audit queue */
    pthread_cond_t cv;
    struct audit_item *head, *tail;
    size_t queued;
    uint64_t dropped;
    bool stop;
    pthread_t writer;
    bool writer_started;
};

static void principal_clear(struct principal *w)
{
    for (size_t i = 0; i < w->n_namespaces; i++)
        free(w->namespaces[i]);
    free(w->namespaces);
    memset(w, 0, sizeof(*w));
}

static void principal_copy(struct principal *dst, const struct principal *src)
{
    *dst = *src;
    dst->namespaces = xcalloc(src->n_namespaces + 1, sizeof(char *));
    for (size_t i = 0; i < src->n_namespaces; i++)
        dst->namespaces[i] = xstrdup(src->namespaces[i]);
}

/* ---- audit writer ---- */

/* Takes everything queued and writes it in one statement (on the calling thread). */
static void audit_drain(struct api *a)
{
    struct api_auth *au = a->auth;
    struct audit_item *batch, *it;
    struct store_audit *rows;
    size_t n;
    struct err e = {0};

    pthread_mutex_lock(&au->mu);
    batch = au->head;
    au->head = au->tail = NULL;
    n = au->queued;
    au->queued = 0;
    pthread_mutex_unlock(&au->mu);
    if (!n)
        return;
    rows = xcalloc(n, sizeof(*rows));
    n = 0;
    for (it = batch; it; it = it->next)
        rows[n++] = it->row;
    if (store_audit_insert(a->store, rows, n, &e))
        LOG(LOG_WARN, "audit", "event=write_failed rows=%zu msg=\"%s\"", n, e.msg);
    free(rows);
    while (batch) {
        it = batch->next;
        free(batch->strings);
        free(batch);
        batch = it;
    }
}

static void *audit_writer(void *arg)
{
    struct api *a = arg;
    struct api_auth *au = a->auth;

    for (;;) {
        bool stop;

        pthread_mutex_lock(&au->mu);
        if (!au->head && !au->stop) {
            struct timespec ts;
            int64_t wake = clock_realtime_ms() + AUDIT_FLUSH_MS;

            ts.tv_sec = (time_t)(wake / 1000);
            ts.tv_nsec = (long)(wake % 1000) * 1000000L;
            pthread_cond_timedwait(&au->cv, &au->mu, &ts);
        }
        stop = au->stop;
        pthread_mutex_unlock(&au->mu);
        audit_drain(a);
        if (stop)
            return NULL;
    }
}

void auth_audit(struct api *a, const struct principal *who, const char *remote, const char *method,
                const char *path, const char *ns, int status, const char *detail)
{
    struct api_auth *au = a->auth;
    struct audit_item *it;
    struct buf b;
    size_t off[7];
    const char *parts[7] = {who && who->authenticated ? who->name : NULL,
                            who && who->authenticated ? who->role_name : NULL,
                            remote ? remote : "",
                            method,
                            path,
                            ns,
                            detail};

    if (!a->store)
        return;
    /* Copy the strings into one block: the request's memory is gone when this is written. */
    buf_init(&b, 0);
    for (int i = 0; i < 7; i++) {
        off[i] = b.len;
        if (parts[i])
            buf_append(&b, parts[i], strlen(parts[i]) + 1);
    }
    it = xcalloc(1, sizeof(*it));
    it->strings = buf_steal(&b);
    it->row.ts_ms = clock_realtime_ms();
    it->row.token_name = parts[0] ? it->strings + off[0] : NULL;
    it->row.role = parts[1] ? it->strings + off[1] : NULL;
    it->row.remote = it->strings + off[2];
    it->row.method = it->strings + off[3];
    it->row.path = it->strings + off[4];
    it->row.ns = parts[5] ? it->strings + off[5] : NULL;
    it->row.detail = parts[6] ? it->strings + off[6] : NULL;
    it->row.status = status;

    pthread_mutex_lock(&au->mu);
    if (au->queued >= AUDIT_QUEUE_MAX) {
        /* The database is down or far behind; keep the process alive and say so. */
        au->dropped++;
        pthread_mutex_unlock(&au->mu);
        free(it->strings);
        free(it);
        return;
    }
    if (au->tail)
        au->tail->next = it;
    else
        au->head = it;
    au->tail = it;
    au->queued++;
    pthread_mutex_unlock(&au->mu);
}

void auth_audit_flush(struct api *a)
{
    audit_drain(a);
}

/* ---- lifecycle ---- */

void auth_init(struct api *a)
{
    struct api_auth *au = xcalloc(1, sizeof(*au));

    pthread_mutex_init(&au->mu, NULL);
    pthread_cond_init(&au->cv, NULL);
    au->cache = xcalloc(CACHE_MAX, sizeof(*au->cache));
    au->buckets = xcalloc(BUCKETS_MAX, sizeof(*au->buckets));
    a->auth = au;
    if (a->store) {
        pthread_create(&au->writer, NULL, audit_writer, a);
        au->writer_started = true;
    }
}

void auth_free(struct api *a)
{
    struct api_auth *au = a->auth;

    if (!au)
        return;
    pthread_mutex_lock(&au->mu);
    au->stop = true;
    pthread_cond_signal(&au->cv);
    pthread_mutex_unlock(&au->mu);
    if (au->writer_started)
        pthread_join(au->writer, NULL);
    for (size_t i = 0; i < au->n_cache; i++)
        principal_clear(&au->cache[i].who);
    free(au->cache);
    free(au->buckets);
    pthread_mutex_destroy(&au->mu);
    pthread_cond_destroy(&au->cv);
    free(au);
    a->auth = NULL;
}

/* ---- authentication ---- */

static int lookup(struct api *a, const char *hash, struct principal *who, struct err *e)
{
    struct api_auth *au = a->auth;
    int64_t now = clock_mono_ms();
    struct store_token t;
    struct cached *slot = NULL;
    bool valid;

    pthread_mutex_lock(&au->mu);
    for (size_t i = 0; i < au->n_cache; i++) {
        if (strcmp(au->cache[i].hash, hash) == 0 && au->cache[i].expires_ms > now) {
            valid = au->cache[i].valid;
            if (valid)
                principal_copy(who, &au->cache[i].who);
            pthread_mutex_unlock(&au->mu);
            return valid ? 0 : err_set(e, ERR_UNAUTHORIZED, NULL, "invalid or revoked token");
        }
    }
    pthread_mutex_unlock(&au->mu);

    if (store_token_lookup(a->store, hash, &t, e)) {
        if (e->code != ERR_UNAUTHORIZED)
            return -1; /* database trouble: 503, and nothing cached */
        valid = false;
    } else {
        valid = !t.revoked;
    }
    memset(who, 0, sizeof(*who));
    if (valid) {
        who->authenticated = true;
        snprintf(who->name, sizeof(who->name), "%s", t.name);
        snprintf(who->role_name, sizeof(who->role_name), "%s", t.role);
        who->role = strcmp(t.role, "admin") == 0       ? ROLE_ADMIN
                    : strcmp(t.role, "submitter") == 0 ? ROLE_SUBMITTER
                                                       : ROLE_VIEWER;
        who->namespaces = t.namespaces;
        who->n_namespaces = t.n_namespaces;
        t.namespaces = NULL;
        t.n_namespaces = 0;
        store_token_clear(&t);
    } else if (e->code != ERR_UNAUTHORIZED) {
        store_token_clear(&t);
    }

    pthread_mutex_lock(&au->mu);
    if (au->n_cache < CACHE_MAX) {
        slot = &au->cache[au->n_cache++];
    } else {
        slot = &au->cache[0];
        for (size_t i = 1; i < au->n_cache; i++)
            if (au->cache[i].expires_ms < slot->expires_ms)
                slot = &au->cache[i];
        principal_clear(&slot->who);
    }
    snprintf(slot->hash, sizeof(slot->hash), "%s", hash);
    slot->valid = valid;
    slot->expires_ms = now + CACHE_TTL_MS;
    memset(&slot->who, 0, sizeof(slot->who));
    if (valid)
        principal_copy(&slot->who, who);
    pthread_mutex_unlock(&au->mu);
    return valid ? 0 : err_set(e, ERR_UNAUTHORIZED, NULL, "invalid or revoked token");
}

int auth_authenticate(struct api *a, const char *authorization, struct principal *who,
                      struct err *e)
{
    char hash[2 * SHA256_LEN + 1];
    const char *tok;

    memset(who, 0, sizeof(*who));
    if (!a->cfg.auth_enabled) {
        who->role = ROLE_ADMIN;
        snprintf(who->role_name, sizeof(who->role_name), "admin");
        return 0;
    }
    if (!authorization || !*authorization)
        return err_set(e, ERR_UNAUTHORIZED, "Authorization",
                       "missing Authorization header; send \"Authorization: Bearer <token>\"");
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return err_set(e, ERR_UNAUTHORIZED, "Authorization",
                       "Authorization must use the Bearer scheme");
    tok = authorization + 7;
    while (*tok == ' ')
        tok++;
    if (!*tok || strlen(tok) > 256)
        return err_set(e, ERR_UNAUTHORIZED, "Authorization", "malformed bearer token");
    sha256_hex(tok, strlen(tok), hash);
    return lookup(a, hash, who, e);
}

void auth_principal_clear(struct principal *who)
{
    principal_clear(who);
}

/* ---- rate limiting ---- */

int auth_rate_limit(struct api *a, const char *key, int *retry_after_s)
{
    struct api_auth *au = a->auth;
    double rate = a->cfg.rate_per_s, burst = a->cfg.rate_burst;
    int64_t now = clock_mono_ms();
    struct bucket *b = NULL;

    if (rate <= 0)
        return 0;
    pthread_mutex_lock(&au->mu);
    for (size_t i = 0; i < au->n_buckets && !b; i++)
        if (strcmp(au->buckets[i].key, key) == 0)
            b = &au->buckets[i];
    if (!b) {
        if (au->n_buckets < BUCKETS_MAX) {
            b = &au->buckets[au->n_buckets++];
        } else {
            /* Reuse the bucket idle longest: it has refilled anyway. */
            b = &au->buckets[0];
            for (size_t i = 1; i < au->n_buckets; i++)
                if (au->buckets[i].at_ms < b->at_ms)
                    b = &au->buckets[i];
        }
        snprintf(b->key, sizeof(b->key), "%s", key);
        b->tokens = burst;
        b->at_ms = now;
    }
    b->tokens += (double)(now - b->at_ms) / 1000.0 * rate;
    if (b->tokens > burst)
        b->tokens = burst;
    b->at_ms = now;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        pthread_mutex_unlock(&au->mu);
        return 0;
    }
    *retry_after_s = (int)ceil((1.0 - b->tokens) / rate);
    if (*retry_after_s < 1)
        *retry_after_s = 1;
    pthread_mutex_unlock(&au->mu);
    return -1;
}

/* ---- authorization ---- */

bool auth_may_read(const struct principal *who, const char *ns)
{
    if (who->role == ROLE_ADMIN)
        return true;
    if (who->role == ROLE_VIEWER && who->n_namespaces == 0)
        return true;
    for (size_t i = 0; i < who->n_namespaces; i++)
        if (strcmp(who->namespaces[i], ns) == 0)
            return true;
    return false;
}

bool auth_may_write(const struct principal *who, const char *ns)
{
    if (who->role == ROLE_ADMIN)
        return true;
    return who->role == ROLE_SUBMITTER && auth_may_read(who, ns);
}
