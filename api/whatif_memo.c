/* whatif_memo.c -- answers of an expensive what-if kept per key (see whatif_memo.h). */
#include "api/whatif_memo.h"

#include "api/list_token.h"
#include "base/clock.h"
#include "base/mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct memo_slot {
    char *key; /* NULL: empty */
    int64_t rv;
    int64_t at_ms;
    char *answer;
};

struct whatif_memo {
    pthread_mutex_t mu;
    bool busy; /* a what-if is running */
    int64_t ttl_ms, stale_ms;
    struct whatif_memo_counts counts;
    struct memo_slot *slot;
    size_t n_slots;
};

struct whatif_memo *whatif_memo_new(size_t slots, int64_t ttl_ms, int64_t stale_ms)
{
    struct whatif_memo *m = xcalloc(1, sizeof(*m));

    pthread_mutex_init(&m->mu, NULL);
    m->ttl_ms = ttl_ms;
    m->stale_ms = stale_ms;
    m->n_slots = slots ? slots : 1;
    m->slot = xcalloc(m->n_slots, sizeof(*m->slot));
    return m;
}

void whatif_memo_free(struct whatif_memo **mp)
{
    if (!mp || !*mp)
        return;
    for (size_t i = 0; i < (*mp)->n_slots; i++) {
        free((*mp)->slot[i].key);
        free((*mp)->slot[i].answer);
    }
    free((*mp)->slot);
    pthread_mutex_destroy(&(*mp)->mu);
    free(*mp);
    *mp = NULL;
}

char *whatif_memo_get(struct whatif_memo *m, const char *key, int64_t rv, char *(*make)(void *arg),
                      void *arg, bool *busy)
{
    struct memo_slot *s = &m->slot[list_token_hash(LIST_TOKEN_HASH_INIT, key, 0) % m->n_slots];
    int64_t now = clock_mono_ms();
    char *answer = NULL;
    bool mine;

    *busy = false;
    pthread_mutex_lock(&m->mu);
    mine = s->key && strcmp(s->key, key) == 0;
    if ((mine && s->rv == rv && now - s->at_ms < m->ttl_ms) ||
        (m->busy && mine && now - s->at_ms < m->stale_ms)) {
        answer = xstrdup(s->answer);
        m->counts.reused++;
    } else if (m->busy) {
        m->counts.busy++;
        *busy = true;
    } else {
        m->busy = true;
        m->counts.made++;
        pthread_mutex_unlock(&m->mu);
        answer = make(arg);
        pthread_mutex_lock(&m->mu);
        m->busy = false;
        if (answer) {
            free(s->key);
            free(s->answer);
            s->key = xstrdup(key);
            s->rv = rv;
            s->at_ms = clock_mono_ms();
            s->answer = xstrdup(answer);
        }
    }
    pthread_mutex_unlock(&m->mu);
    return answer;
}

bool whatif_memo_begin(struct whatif_memo *m)
{
    bool mine;

    pthread_mutex_lock(&m->mu);
    mine = !m->busy;
    m->busy = true;
    pthread_mutex_unlock(&m->mu);
    return mine;
}

void whatif_memo_end(struct whatif_memo *m)
{
    pthread_mutex_lock(&m->mu);
    m->busy = false;
    pthread_mutex_unlock(&m->mu);
}

void whatif_memo_counts(struct whatif_memo *m, struct whatif_memo_counts *out)
{
    pthread_mutex_lock(&m->mu);
    *out = m->counts;
    pthread_mutex_unlock(&m->mu);
}
