/* leader.c -- leader election on the store's leader session. */
#include "scheduler/leader.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "store/election.h"

#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

struct leader {
    struct store_leader *session;
    int retry_ms;
    int renew_ms;
    bool leading;
    int64_t epoch;
    int64_t next_try_ms;  /* monotonic */
    int64_t confirmed_ms; /* monotonic, last time the lock was known held */
    bool warned;          /* database trouble logged once per outage */
};

int leader_new(const char *dsn, const char *holder, int retry_ms, int renew_ms, struct leader **out,
               struct err *e)
{
    struct leader *l;
    struct store_leader *session = NULL;

    if (store_leader_open(dsn, holder, &session, e))
        return -1;
    l = xcalloc(1, sizeof(*l));
    l->session = session;
    l->retry_ms = retry_ms > 0 ? retry_ms : 1000;
    l->renew_ms = renew_ms > 0 ? renew_ms : 1000;
    *out = l;
    return 0;
}

void leader_free(struct leader **lp)
{
    if (!lp || !*lp)
        return;
    leader_resign(*lp);
    store_leader_close(&(*lp)->session);
    free(*lp);
    *lp = NULL;
}

bool leader_poll(struct leader *l, int64_t *epoch, bool *gained)
{
    int64_t now = clock_mono_ms();
    struct err e = {0};

    *gained = false;
    if (l->leading) {
        if (now - l->confirmed_ms >= l->renew_ms) {
            if (store_leader_renew(l->session, l->epoch, &e)) {
                LOG(LOG_WARN, "leader", "event=deposed epoch=%" PRId64 " msg=\"%s\"", l->epoch,
                    e.msg);
                l->leading = false;
                l->next_try_ms = now + l->retry_ms;
                return false;
            }
            l->confirmed_ms = now;
        }
        *epoch = l->epoch;
        return true;
    }
    if (now < l->next_try_ms)
        return false;
    l->next_try_ms = now + l->retry_ms;
    {
        bool acquired = false;
        int64_t ep = 0;

        if (store_leader_try(l->session, &acquired, &ep, &e)) {
            if (!l->warned)
                LOG(LOG_WARN, "leader", "event=try_failed msg=\"%s\"", e.msg);
            l->warned = true;
            return false;
        }
        l->warned = false;
        if (!acquired)
            return false;
        l->leading = true;
        l->epoch = ep;
        l->confirmed_ms = clock_mono_ms();
        *epoch = ep;
        *gained = true;
        LOG(LOG_INFO, "leader", "event=elected epoch=%" PRId64, ep);
        return true;
    }
}

void leader_resign(struct leader *l)
{
    if (!l->leading)
        return;
    store_leader_release(l->session);
    l->leading = false;
    l->next_try_ms = clock_mono_ms() + l->retry_ms;
    LOG(LOG_INFO, "leader", "event=resigned epoch=%" PRId64, l->epoch);
}

bool leader_fresh(const struct leader *l, int64_t max_age_ms)
{
    return l->leading && clock_mono_ms() - l->confirmed_ms <= max_age_ms;
}

bool leader_wait(struct leader *l, int timeout_ms)
{
    struct err e = {0};
    bool woken = false;

    if (timeout_ms <= 0)
        timeout_ms = 0;
    if (!l->leading) {
        struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
        return false;
    }
    if (store_leader_wait(l->session, timeout_ms, &woken, &e)) {
        LOG(LOG_WARN, "leader", "event=session_lost epoch=%" PRId64 " msg=\"%s\"", l->epoch, e.msg);
        l->leading = false;
        l->next_try_ms = clock_mono_ms() + l->retry_ms;
        return false;
    }
    return woken;
}
