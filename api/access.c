/* access.c -- who is calling and what they may do: bearer tokens (looked up by SHA-256,
 * cached briefly), roles and namespaces, a token bucket per caller, and the audit trail
 * of every mutating call. A successful mutation's row is committed by the store with the
 * change (the handler builds it with access_audit_row); everything else (denials, failed
 * mutations) is queued here and written in batches by one thread, which keeps records
 * the database cannot take now and retries them with backoff. Unauthenticated failures
 * are sampled per client address, so a flood of them cannot fill the table.
 *
 * Roles: admin may do everything; submitter may submit, cancel and read in its
 * namespaces; viewer may read in its namespaces, or everywhere when it has none.
 * A job's checkpoint token ("fjt_", base/job_token.h; in the job's pods as
 * FEDSCHED_CHECKPOINT_TOKEN) is checked by its HMAC under the installation's key, never
 * looked up or cached, and may only POST (report) and GET (the checkpoint request) the
 * checkpoint of the job whose uid it names:
 * its principal (role "job", name "job:<uid>") is no admin, submitter or viewer.
 * A caller never learns of jobs in namespaces it may not read: asking for one answers
 * 404 exactly as if it did not exist, while namespace-wide requests (list, submit) in
 * such a namespace answer 403. */
#include "api/internal.h"

#include "base/clock.h"
#include "base/job.h"
#include "base/job_token.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/sha256.h"
#include "base/utf8.h"
#include "store/store.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CACHE_TTL_MS         10000 /* a revoked token stops working within this */
#define CACHE_MAX            1024
#define BUCKETS_MAX          4096
#define AUDIT_QUEUE_MAX      100000 /* records waiting; beyond, new ones are counted and dropped */
#define AUDIT_BATCH_MAX      1000   /* records per INSERT */
#define AUDIT_FLUSH_MS       200    /* the writer's pace, and its first retry pause */
#define AUDIT_BACKOFF_MAX_MS 5000   /* retry pauses double up to this */
#define AUDIT_SHUTDOWN_MS    5000   /* at shutdown, keep retrying the queue this long */
#define UNAUTH_SLOTS         1024   /* addresses tracked for sampling 401 records */
#define UNAUTH_WINDOW_MS     60000

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

/* Unauthenticated failures audited from one address in the current one-minute window. */
struct unauth_slot {
    char remote[64];
    int64_t window; /* clock_mono_ms() / UNAUTH_WINDOW_MS */
    int count;
};

struct audit_item {
    struct store_audit row;
    char *strings; /* one allocation backing row's strings */
    struct audit_item *next;
};

struct api_access {
    pthread_mutex_t mu;
    struct cached *cache;
    size_t n_cache;
    struct bucket *buckets;
    size_t n_buckets;
    /* audit queue: failed mutations, denials; what the handlers did not commit themselves */
    pthread_cond_t cv;
    struct audit_item *head, *tail;
    size_t queued;
    pthread_mutex_t write_mu; /* held by whoever writes a batch (writer thread or a flush) */
    bool failing;             /* the last write failed (logged once per outage) */
    uint64_t dropped, written, write_failures;
    int64_t last_drop_log_ms;
    struct unauth_slot *unauth; /* sampling of unauthenticated failures, per address */
    size_t n_unauth;
    uint64_t unauth_written, unauth_sampled;
    bool stop;
    pthread_t writer;
    bool writer_started;
    /* the checkpoint token key, read from the store at the first job token and kept: it
     * never changes once made */
    bool have_job_key;
    unsigned char job_key[JOB_TOKEN_KEY_LEN];
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

/* Rows the database cannot take now (down, restarting, pool busy) wait in the queue and
 * are retried; only a row it refuses for its content (ERR_INVALID) is given up. */
static bool audit_retryable(const struct err *e)
{
    return e->code != ERR_INVALID;
}

static void audit_item_free(struct audit_item *it)
{
    free(it->strings);
    free(it);
}

/* Puts the list first..last back at the head of the queue, ahead of what arrived
 * meanwhile, so records stay in order. (au->queued still counts them: it counts every
 * record until it is written or given up.) Called with au->mu held. */
static void audit_requeue(struct api_access *au, struct audit_item *first, struct audit_item *last)
{
    last->next = au->head;
    au->head = first;
    if (!au->tail)
        au->tail = last;
}

/* Counts n lost records and says so in the log, at most once a second. */
static void audit_count_dropped(struct api_access *au, size_t n, const char *why)
{
    int64_t now = clock_mono_ms();
    bool say;

    pthread_mutex_lock(&au->mu);
    au->dropped += n;
    say = now - au->last_drop_log_ms >= 1000;
    if (say)
        au->last_drop_log_ms = now;
    pthread_mutex_unlock(&au->mu);
    if (say)
        LOG(LOG_ERROR, "audit", "event=dropped rows=%zu why=%s dropped_total=%llu", n, why,
            (unsigned long long)au->dropped);
}

/* One by one, after the database refused a batch for its content: writes the rows it
 * takes, gives up (counted) those it refuses, and puts the rest back when it becomes
 * unreachable meanwhile. Returns -1 in that last case. *done counts the rows written or
 * given up. */
static int audit_write_each(struct api *a, struct audit_item *batch, size_t *written, size_t *done)
{
    struct api_access *au = a->access;

    while (batch) {
        struct audit_item *next = batch->next;
        struct err e = {0};

        if (store_audit_insert(a->store, &batch->row, 1, &e) == 0) {
            (*written)++;
        } else if (audit_retryable(&e)) {
            struct audit_item *last = batch;

            while (last->next)
                last = last->next;
            pthread_mutex_lock(&au->mu);
            audit_requeue(au, batch, last);
            pthread_mutex_unlock(&au->mu);
            return -1;
        } else {
            LOG(LOG_ERROR, "audit", "event=row_refused method=%s status=%d msg=\"%s\"",
                batch->row.method, batch->row.status, e.msg);
            audit_count_dropped(au, 1, "refused");
        }
        (*done)++;
        audit_item_free(batch);
        batch = next;
    }
    return 0;
}

/* Writes up to AUDIT_BATCH_MAX of the oldest records in one statement. Returns 1 when it
 * wrote (or gave up) some, 0 when nothing was queued, -1 when the database could not
 * take them: they are back at the head of the queue for the next try. One writer at a
 * time (write_mu), so a batch put back cannot be overtaken by a later one. */
static int audit_write_some(struct api *a)
{
    struct api_access *au = a->access;
    struct audit_item *batch, *last, *it;
    struct store_audit *rows;
    size_t n = 0, written = 0, done = 0;
    struct err e = {0};
    int rc = 1;

    pthread_mutex_lock(&au->write_mu);
    pthread_mutex_lock(&au->mu);
    batch = last = au->head;
    while (last && ++n < AUDIT_BATCH_MAX && last->next)
        last = last->next;
    if (batch) {
        au->head = last->next;
        if (!au->head)
            au->tail = NULL;
        last->next = NULL;
    }
    pthread_mutex_unlock(&au->mu);
    if (!batch) {
        pthread_mutex_unlock(&au->write_mu);
        return 0;
    }
    rows = xcalloc(n, sizeof(*rows));
    n = 0;
    for (it = batch; it; it = it->next)
        rows[n++] = it->row;
    if (store_audit_insert(a->store, rows, n, &e) == 0) {
        written = done = n;
        while (batch) {
            it = batch->next;
            audit_item_free(batch);
            batch = it;
        }
    } else if (audit_retryable(&e)) {
        pthread_mutex_lock(&au->mu);
        audit_requeue(au, batch, last);
        if (!au->failing)
            LOG(LOG_WARN, "audit", "event=write_failed rows=%zu queued=%zu msg=\"%s\" retrying=1",
                n, au->queued, e.msg);
        au->failing = true;
        au->write_failures++;
        pthread_mutex_unlock(&au->mu);
        rc = -1;
    } else if (audit_write_each(a, batch, &written, &done)) {
        rc = -1;
    }
    free(rows);
    pthread_mutex_lock(&au->mu);
    au->written += written;
    au->queued -= done;
    if (rc > 0 && au->failing) {
        au->failing = false;
        LOG(LOG_INFO, "audit", "event=write_recovered queued=%zu", au->queued);
    }
    pthread_mutex_unlock(&au->mu);
    pthread_mutex_unlock(&au->write_mu);
    return rc;
}

/* Writes until the queue is empty (0) or the database fails (-1). */
static int audit_drain(struct api *a)
{
    int rc;

    while ((rc = audit_write_some(a)) > 0)
        ;
    return rc;
}

static void *audit_writer(void *arg)
{
    struct api *a = arg;
    struct api_access *au = a->access;
    int64_t backoff_ms = 0, give_up_ms = 0;

    for (;;) {
        bool stop;

        pthread_mutex_lock(&au->mu);
        if (!au->stop) {
            struct timespec ts;
            int64_t wake = clock_realtime_ms() + (backoff_ms ? backoff_ms : AUDIT_FLUSH_MS);

            ts.tv_sec = (time_t)(wake / 1000);
            ts.tv_nsec = (long)(wake % 1000) * 1000000L;
            pthread_cond_timedwait(&au->cv, &au->mu, &ts);
        }
        stop = au->stop;
        pthread_mutex_unlock(&au->mu);
        if (stop && !give_up_ms)
            give_up_ms = clock_mono_ms() + AUDIT_SHUTDOWN_MS;
        if (audit_drain(a) == 0) {
            backoff_ms = 0;
            if (stop)
                return NULL;
            continue;
        }
        /* The database is away: wait longer each time, up to a cap, then try again. */
        backoff_ms = backoff_ms ? backoff_ms * 2 : AUDIT_FLUSH_MS;
        if (backoff_ms > AUDIT_BACKOFF_MAX_MS)
            backoff_ms = AUDIT_BACKOFF_MAX_MS;
        if (stop && clock_mono_ms() >= give_up_ms) {
            size_t left;

            pthread_mutex_lock(&au->mu);
            left = au->queued;
            pthread_mutex_unlock(&au->mu);
            if (left)
                audit_count_dropped(au, left, "shutdown_unreachable");
            return NULL;
        }
        if (stop)
            backoff_ms = AUDIT_FLUSH_MS; /* shutting down: keep trying briskly */
    }
}

/* Copies s into b as valid UTF-8 (a bad byte becomes \xNN) with its NUL; returns its
 * offset. The database refuses invalid UTF-8, and such a row would be lost. */
static size_t add_text(struct buf *b, const char *s)
{
    size_t off = b->len, n = strlen(s), cap = 4 * n + 1;
    char *tmp = xmalloc(cap);
    size_t len = utf8_sanitize(tmp, cap, s);

    buf_append(b, tmp, len + 1);
    free(tmp);
    return off;
}

/* May this unauthenticated failure from remote be written? At most
 * cfg.unauth_audit_per_minute per address in each one-minute window; the rest are only
 * counted. With the table of addresses full of live windows, nothing new is written:
 * a flood from many addresses must not turn into rows either. */
static bool unauth_sample(struct api_access *au, int per_minute, const char *remote)
{
    int64_t window = clock_mono_ms() / UNAUTH_WINDOW_MS;
    struct unauth_slot *slot = NULL;
    bool ok = false;

    pthread_mutex_lock(&au->mu);
    for (size_t i = 0; i < au->n_unauth && !slot; i++)
        if (strcmp(au->unauth[i].remote, remote) == 0)
            slot = &au->unauth[i];
    if (!slot && au->n_unauth < UNAUTH_SLOTS)
        slot = &au->unauth[au->n_unauth++];
    for (size_t i = 0; i < au->n_unauth && !slot; i++)
        if (au->unauth[i].window != window)
            slot = &au->unauth[i]; /* an address quiet since an earlier window */
    if (slot && strcmp(slot->remote, remote) != 0) {
        snprintf(slot->remote, sizeof(slot->remote), "%s", remote);
        slot->window = window;
        slot->count = 0;
    }
    if (slot && slot->window != window) {
        slot->window = window;
        slot->count = 0;
    }
    if (slot && slot->count < per_minute) {
        slot->count++;
        ok = true;
    }
    if (ok)
        au->unauth_written++;
    else
        au->unauth_sampled++;
    pthread_mutex_unlock(&au->mu);
    return ok;
}

void access_audit(struct api *a, const struct principal *who, const char *remote,
                  const char *method, const char *path, const char *ns, int status,
                  const char *detail)
{
    struct api_access *au = a->access;
    struct audit_item *it;
    struct buf b;
    size_t off[7];
    bool full;
    const char *parts[7] = {who && who->authenticated ? who->name : NULL,
                            who && who->authenticated ? who->role_name : NULL,
                            remote ? remote : "",
                            method ? method : "",
                            path ? path : "",
                            ns,
                            detail};

    if (!a->store)
        return;
    if (status == 401 && !(who && who->authenticated) &&
        !unauth_sample(au, a->cfg.unauth_audit_per_minute, parts[2]))
        return;
    /* Copy the strings into one block: the request's memory is gone when this is written. */
    buf_init(&b, 0);
    for (int i = 0; i < 7; i++)
        off[i] = parts[i] ? add_text(&b, parts[i]) : 0;
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
    /* The database is down or far behind: keep the process alive and count the loss. */
    full = au->queued >= AUDIT_QUEUE_MAX;
    if (!full) {
        if (au->tail)
            au->tail->next = it;
        else
            au->head = it;
        au->tail = it;
        au->queued++;
    }
    pthread_mutex_unlock(&au->mu);
    if (full) {
        audit_item_free(it);
        audit_count_dropped(au, 1, "queue_full");
    }
}

void access_audit_row(const struct api_request *req, const char *ns, int status, int status_alt,
                      struct store_audit *out)
{
    const struct principal *who = req->who;

    memset(out, 0, sizeof(*out));
    out->ts_ms = clock_realtime_ms();
    out->token_name = who && who->authenticated ? who->name : NULL;
    out->role = who && who->authenticated ? who->role_name : NULL;
    out->remote = req->remote ? req->remote : "";
    out->method = req->method;
    out->path = req->path;
    out->ns = ns;
    out->status = status;
    out->status_alt = status_alt;
}

void access_audit_flush(struct api *a)
{
    if (a->store)
        audit_drain(a); /* one try: a caller does not wait out an outage */
}

void access_metrics(struct api *a, struct buf *out)
{
    struct api_access *au = a->access;
    uint64_t dropped, written, failures, un_written, un_sampled;
    size_t queued;

    pthread_mutex_lock(&au->mu);
    dropped = au->dropped;
    written = au->written;
    failures = au->write_failures;
    un_written = au->unauth_written;
    un_sampled = au->unauth_sampled;
    queued = au->queued;
    pthread_mutex_unlock(&au->mu);
    buf_printf(out,
               "# HELP fedsched_audit_dropped_total Audit records lost: queue full, refused by "
               "the database, or unwritten at shutdown.\n"
               "# TYPE fedsched_audit_dropped_total counter\n"
               "fedsched_audit_dropped_total %llu\n"
               "# HELP fedsched_audit_queued Audit records not yet written (the batch being "
               "written included).\n"
               "# TYPE fedsched_audit_queued gauge\n"
               "fedsched_audit_queued %zu\n"
               "# HELP fedsched_audit_written_total Audit records written from the queue.\n"
               "# TYPE fedsched_audit_written_total counter\n"
               "fedsched_audit_written_total %llu\n"
               "# HELP fedsched_audit_write_failures_total Queue writes that failed and were "
               "retried.\n"
               "# TYPE fedsched_audit_write_failures_total counter\n"
               "fedsched_audit_write_failures_total %llu\n"
               "# HELP fedsched_audit_unauthenticated_total Unauthenticated (401) mutating "
               "calls: audited, or only counted over the per-address sample.\n"
               "# TYPE fedsched_audit_unauthenticated_total counter\n"
               "fedsched_audit_unauthenticated_total{outcome=\"written\"} %llu\n"
               "fedsched_audit_unauthenticated_total{outcome=\"sampled_out\"} %llu\n",
               (unsigned long long)dropped, queued, (unsigned long long)written,
               (unsigned long long)failures, (unsigned long long)un_written,
               (unsigned long long)un_sampled);
}

/* ---- lifecycle ---- */

void access_init(struct api *a)
{
    struct api_access *au = xcalloc(1, sizeof(*au));

    pthread_mutex_init(&au->mu, NULL);
    pthread_mutex_init(&au->write_mu, NULL);
    pthread_cond_init(&au->cv, NULL);
    au->cache = xcalloc(CACHE_MAX, sizeof(*au->cache));
    au->buckets = xcalloc(BUCKETS_MAX, sizeof(*au->buckets));
    au->unauth = xcalloc(UNAUTH_SLOTS, sizeof(*au->unauth));
    a->access = au;
    if (a->store) {
        pthread_create(&au->writer, NULL, audit_writer, a);
        au->writer_started = true;
    }
}

void access_free(struct api *a)
{
    struct api_access *au = a->access;

    if (!au)
        return;
    /* The writer flushes what is queued (retrying for up to AUDIT_SHUTDOWN_MS while the
     * database is away) before it exits. */
    pthread_mutex_lock(&au->mu);
    au->stop = true;
    pthread_cond_signal(&au->cv);
    pthread_mutex_unlock(&au->mu);
    if (au->writer_started)
        pthread_join(au->writer, NULL);
    while (au->head) {
        struct audit_item *next = au->head->next;

        audit_item_free(au->head);
        au->head = next;
    }
    for (size_t i = 0; i < au->n_cache; i++)
        principal_clear(&au->cache[i].who);
    free(au->cache);
    free(au->buckets);
    free(au->unauth);
    pthread_mutex_destroy(&au->mu);
    pthread_mutex_destroy(&au->write_mu);
    pthread_cond_destroy(&au->cv);
    free(au);
    a->access = NULL;
}

/* ---- authentication ---- */

static int lookup(struct api *a, const char *hash, struct principal *who, struct err *e)
{
    struct api_access *au = a->access;
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

/* The installation's checkpoint token key, from the store the first time. */
static int job_key(struct api *a, unsigned char key[JOB_TOKEN_KEY_LEN], struct err *e)
{
    struct api_access *au = a->access;
    bool have;

    pthread_mutex_lock(&au->mu);
    have = au->have_job_key;
    if (have)
        memcpy(key, au->job_key, JOB_TOKEN_KEY_LEN);
    pthread_mutex_unlock(&au->mu);
    if (have)
        return 0;
    if (!a->store)
        return err_set(e, ERR_UNAUTHORIZED, "Authorization", "job tokens need the database");
    if (store_job_token_key(a->store, key, e))
        return -1; /* 503: the token may be good, we cannot tell now */
    pthread_mutex_lock(&au->mu);
    memcpy(au->job_key, key, JOB_TOKEN_KEY_LEN);
    au->have_job_key = true;
    pthread_mutex_unlock(&au->mu);
    return 0;
}

/* A job token's caller: authenticated by the HMAC alone. */
static int job_principal(struct api *a, const char *tok, struct principal *who, struct err *e)
{
    unsigned char key[JOB_TOKEN_KEY_LEN];
    char uid[JOB_TOKEN_UID_MAX + 1];

    if (job_token_uid(tok, uid, sizeof(uid)))
        return err_set(e, ERR_UNAUTHORIZED, "Authorization",
                       "malformed job token; expected fjt_<job uid>.<64 hex digits>");
    if (job_key(a, key, e))
        return -1;
    if (!job_token_check(key, tok, uid))
        return err_set(e, ERR_UNAUTHORIZED, "Authorization", "invalid job token for uid %s", uid);
    who->authenticated = true;
    who->role = ROLE_JOB;
    snprintf(who->name, sizeof(who->name), "job:%s", uid);
    snprintf(who->role_name, sizeof(who->role_name), "job");
    return 0;
}

int access_authenticate(struct api *a, const char *authorization, struct principal *who,
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
    if (job_token_is(tok))
        return job_principal(a, tok, who, e);
    sha256_hex(tok, strlen(tok), hash);
    return lookup(a, hash, who, e);
}

void access_principal_clear(struct principal *who)
{
    principal_clear(who);
}

/* ---- rate limiting ---- */

int access_rate_limit(struct api *a, const char *key, int *retry_after_s)
{
    struct api_access *au = a->access;
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

bool access_reads_all(const struct principal *who)
{
    return !who || who->role == ROLE_ADMIN || (who->role == ROLE_VIEWER && who->n_namespaces == 0);
}

bool access_may_read(const struct principal *who, const char *ns)
{
    if (access_reads_all(who))
        return true;
    for (size_t i = 0; i < who->n_namespaces; i++)
        if (strcmp(who->namespaces[i], ns) == 0)
            return true;
    return false;
}

bool access_may_write(const struct principal *who, const char *ns)
{
    if (who->role == ROLE_ADMIN)
        return true;
    return who->role == ROLE_SUBMITTER && access_may_read(who, ns);
}

#define CHECKPOINT_ROUTE "/v1/namespaces/{ns}/trainingjobs/{name}/checkpoint"

int access_authorize_job(struct api *a, const struct principal *who, const char *method,
                         const char *route, const struct route_params *p, struct api_response *resp)
{
    const char *uid = who->name + 4; /* "job:<uid>" */
    struct job *j = NULL;
    struct err e = {0};
    bool same;

    if ((strcmp(method, "POST") != 0 && strcmp(method, "GET") != 0) ||
        strcmp(route, CHECKPOINT_ROUTE) != 0) {
        resp_errorf(resp, ERR_FORBIDDEN, "Authorization",
                    "the job token of trainingjob uid %s may only POST " CHECKPOINT_ROUTE
                    " (or GET it) of that job, not %s %s",
                    uid, method, route);
        return -1;
    }
    /* The token names a uid, the path a namespace and name: the job there must be the one
     * the token was made for. A missing job is answered as a foreign one, so the token
     * tells nothing of other jobs. */
    if (store_job_get(a->store, p->ns, p->name, &j, &e)) {
        if (e.code != ERR_NOT_FOUND) {
            resp_error(resp, &e);
            return -1;
        }
    }
    same = j && j->uid && strcmp(j->uid, uid) == 0;
    job_free(&j);
    if (!same) {
        resp_errorf(resp, ERR_FORBIDDEN, "Authorization",
                    "the job token of trainingjob uid %s may not post checkpoints of trainingjob"
                    " %s/%s; it is valid only for its own job",
                    uid, p->ns, p->name);
        return -1;
    }
    return 0;
}
