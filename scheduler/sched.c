/* sched.c -- the scheduler: its lifecycle, the thread that leads and runs cycles, the
 * policy state saved across leaders, and explanations. See sched.h for the contract;
 * a cycle's steps are in cycle.c, decide.c, dispatch.c and track.c. */
#include "scheduler/internal.h"

#include "policy/eta.h"
#include "policy/forecast_set.h"
#include "policy/policy_json.h"
#include "scheduler/explain_queue.h"
#include "store/reports.h"

/* The serving forecast reads four weeks of capacity samples (policy/forecast.h). */
#define RETAIN_SAMPLES_MIN_DAYS 28

int sched_new(const struct sched_options *o, struct store *st, struct poller *p, struct sched **out,
              struct err *e)
{
    /* No defaults here (cmd/config.c's table has them): a number left at zero is refused. */
    const struct {
        const char *name;
        int v, min;
    } nums[] = {
        {"scheduler.cycle_interval_ms", o->cycle_interval_ms, 1},
        {"scheduler.min_cycle_gap_ms", o->min_cycle_gap_ms, 0},
        {"scheduler.leader_retry_ms", o->leader_retry_ms, 1},
        {"scheduler.leader_renew_ms", o->leader_renew_ms, 1},
        {"scheduler.request_timeout_ms", o->request_timeout_ms, 1},
        {"scheduler.backoff_base_s", o->backoff_base_s, 0},
        {"scheduler.backoff_max_s", o->backoff_max_s, o->backoff_base_s},
        {"scheduler.max_dispatch_failures", o->max_dispatch_failures, 1},
        {"scheduler.gc_interval_ms", o->gc_interval_ms, 1},
        {"scheduler.missing_grace_s", o->missing_grace_s, 0},
        {"scheduler.start_timeout_s", o->start_timeout_s, 0},
        {"scheduler.registry_sync_ms", o->registry_sync_ms, 1},
        {"scheduler.default_lost_timeout_s", o->default_lost_timeout_s, 1},
    };
    struct sched *s;

    if (!o->dsn || !*o->dsn)
        return err_set(e, ERR_CONFIG, "database.dsn", "the scheduler needs the database DSN");
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        if (nums[i].v < nums[i].min)
            return err_set(e, ERR_CONFIG, nums[i].name, "%s: %d is below %d", nums[i].name,
                           nums[i].v, nums[i].min);
    if (o->retain_samples_days > 0 && o->retain_samples_days < RETAIN_SAMPLES_MIN_DAYS)
        return err_set(e, ERR_CONFIG, "retention.capacitySamplesDays",
                       "retention.capacitySamplesDays %d is below %d, the four weeks of samples "
                       "the serving forecast reads (0 keeps them for ever)",
                       o->retain_samples_days, RETAIN_SAMPLES_MIN_DAYS);
    if (!o->policy)
        return err_set(e, ERR_CONFIG, "policy", "the scheduler needs a policy config");
    if (policy_config_validate(o->policy, e))
        return -1;
    s = xcalloc(1, sizeof(*s));
    s->o = *o;
    s->dsn = xstrdup(o->dsn);
    s->holder = xstrdup(o->holder ? o->holder : "fedsched");
    s->priority_class = xstrdup(o->priority_class ? o->priority_class : "");
    s->priority_class_borrowed =
        xstrdup(o->priority_class_borrowed ? o->priority_class_borrowed : "");
    s->annotations = o->annotations ? json_deep_copy(o->annotations) : NULL;
    s->public_url = xstrdup(o->public_url ? o->public_url : "");
    s->o.dsn = s->dsn;
    s->o.holder = s->holder;
    s->o.priority_class = s->priority_class;
    s->o.priority_class_borrowed = s->priority_class_borrowed;
    s->o.annotations = s->annotations;
    s->o.public_url = s->public_url;
    s->o.skus = o->skus ? o->skus : sku_catalogue();
    s->policy = *o->policy;
    s->o.policy = &s->policy;
    s->store = st;
    s->poller = p;
    if (leader_new(s->dsn, s->holder, o->leader_retry_ms, o->leader_renew_ms, &s->leader, e)) {
        free(s->dsn);
        free(s->holder);
        free(s->priority_class);
        free(s->priority_class_borrowed);
        json_decref(s->annotations);
        free(s->public_url);
        free(s);
        return -1;
    }
    s->clients = sched_clients_new(o->request_timeout_ms);
    s->pstate = policy_state_new();
    s->specs = spec_cache_new();
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->m.mu, NULL);
    *out = s;
    return 0;
}

const struct sched_options *sched_get_options(const struct sched *s)
{
    return &s->o;
}

void sched_free(struct sched **sp)
{
    struct sched *s;

    if (!sp || !*sp)
        return;
    s = *sp;
    sched_stop(s);
    leader_free(&s->leader);
    sched_clients_free(&s->clients);
    policy_state_free(&s->pstate);
    forecast_set_free(&s->forecasts);
    spec_cache_free(&s->specs);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->m.mu);
    free(s->m.derr);
    free(s->m.borrowed);
    free(s->cmem);
    free(s->dwait);
    free(s->diag);
    free(s->saved_state);
    free(s->dsn);
    free(s->holder);
    free(s->priority_class);
    free(s->priority_class_borrowed);
    json_decref(s->annotations);
    free(s->public_url);
    free(s);
    *sp = NULL;
}

void sched_wake(struct sched *s)
{
    pthread_mutex_lock(&s->mu);
    s->wake = true;
    pthread_mutex_unlock(&s->mu);
}

/* ---- the policy state across leaders ------------------------------------------------------ */

#define STATE_SAVE_MS 5000
/* Retention: rows a delete statement takes, and about the most a pass deletes per table. */
#define PURGE_BATCH    5000
#define PURGE_MAX_ROWS 50000
/* Capacity sums: about the most a pass spends summing quarter hours (one hour's at least;
 * 100 clusters of 4 SKU and pool rows take about 0.12 s an hour of samples on the
 * development machine). */
#define ROLLUP_BUDGET_MS 1000

static void load_state(struct sched *s)
{
    char *text = NULL;
    struct err e = {0};

    free(s->saved_state);
    s->saved_state = NULL;
    if (store_sched_state_load(s->store, &text, &e)) {
        LOG(LOG_WARN, "sched", "event=state_load_failed msg=\"%s\"", e.msg);
        return;
    }
    if (!text)
        return;
    if (sched_state_from_json(text, s->pstate, &e)) {
        /* Starting empty is always safe. */
        LOG(LOG_WARN, "sched", "event=state_unreadable field=%s msg=\"%s\"", e.field, e.msg);
        policy_state_free(&s->pstate);
        s->pstate = policy_state_new();
        free(text);
        return;
    }
    LOG(LOG_INFO, "sched", "event=state_loaded pools=%zu namespaces=%zu", s->pstate->n_pools,
        s->pstate->n_usage);
    s->saved_state = text;
}

/* Saves the policy state when it changed; a superseded epoch means we no longer lead. */
static void save_state(struct sched *s)
{
    char *text = sched_state_to_json(s->pstate);
    struct err e = {0};

    if (!text || (s->saved_state && strcmp(text, s->saved_state) == 0)) {
        free(text);
        return;
    }
    if (store_sched_state_save(s->store, s->epoch, text, &e)) {
        LOG(LOG_WARN, "sched", "event=state_save_failed msg=\"%s\"", e.msg);
        if (e.code == ERR_CONFLICT)
            leader_resign(s->leader);
        free(text);
        return;
    }
    free(s->saved_state);
    s->saved_state = text;
}

/* ---- the thread ------------------------------------------------------------------------------ */

static bool should_stop(struct sched *s)
{
    bool stop;

    pthread_mutex_lock(&s->mu);
    stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static bool take_wake(struct sched *s)
{
    bool w;

    pthread_mutex_lock(&s->mu);
    w = s->wake;
    s->wake = false;
    pthread_mutex_unlock(&s->mu);
    return w;
}

static void set_leading(struct sched *s, bool leading, int64_t epoch)
{
    pthread_mutex_lock(&s->mu);
    if (leading && !s->status.leader)
        s->status.leader_since_ms = clock_realtime_ms();
    if (!leading)
        s->status.leader_since_ms = 0;
    s->status.leader = leading;
    s->status.epoch = leading ? epoch : 0;
    pthread_mutex_unlock(&s->mu);
}

/* Deletes what is kept past its retention, a bounded amount a pass: a backlog (retention
 * turned on over years of samples) goes over several passes, never in one long pass that
 * would hold up the cycle. A failure is logged; the next pass tries again. */
static void purge(struct sched *s)
{
    const int days[STORE_RETAINED_COUNT] = {s->o.retain_samples_days, s->o.retain_audit_days,
                                            s->o.retain_jobs_days, s->o.retain_samples_days};
    int64_t now = clock_realtime_ms();

    for (int t = 0; t < STORE_RETAINED_COUNT; t++) {
        struct err e = {0};
        long n = 0;

        if (days[t] <= 0)
            continue;
        if (store_purge(s->store, (enum store_retained)t, now - (int64_t)days[t] * 86400000,
                        PURGE_BATCH, PURGE_MAX_ROWS, &n, &e))
            LOG(LOG_WARN, "sched", "event=retention_failed table=%s msg=\"%s\"",
                store_retained_name((enum store_retained)t), e.msg);
        if (n > 0)
            LOG(LOG_INFO, "sched", "event=retention table=%s deleted=%ld days=%d",
                store_retained_name((enum store_retained)t), n, days[t]);
        pthread_mutex_lock(&s->m.mu);
        s->m.retention_deleted[t] += (uint64_t)n;
        pthread_mutex_unlock(&s->m.mu);
    }
}

/* Sums the finished quarter hours of capacity samples the reports read, then the hours and
 * days they complete (store_capacity_rollup), newest first, for about ROLLUP_BUDGET_MS a
 * pass: a backlog (an upgrade over months of samples) goes over several passes, the recent
 * days first. */
static void rollup(struct sched *s)
{
    struct err e = {0};
    long rolled = 0, left = 0;

    if (store_capacity_rollup(s->store, clock_realtime_ms(), ROLLUP_BUDGET_MS, &rolled, &left, &e))
        LOG(LOG_WARN, "sched", "event=rollup_failed msg=\"%s\"", e.msg);
    if (rolled > 0)
        LOG(LOG_INFO, "sched", "event=rollup quarters=%ld left=%ld", rolled, left);
    pthread_mutex_lock(&s->m.mu);
    s->m.rollup_quarters += (uint64_t)rolled;
    s->m.rollup_left = left;
    pthread_mutex_unlock(&s->m.mu);
}

static void *run(void *arg)
{
    struct sched *s = arg;
    int64_t last_cycle = 0, last_track = 0;
    uint64_t track_seq = 0;

    while (!should_stop(s)) {
        int64_t epoch = 0, now;
        bool gained = false, woken, gc = false;

        if (!leader_poll(s->leader, &epoch, &gained)) {
            set_leading(s, false, 0);
            leader_wait(s->leader, s->o.leader_retry_ms < 200 ? s->o.leader_retry_ms : 200);
            continue;
        }
        now = clock_mono_ms();
        if (gained) {
            struct err e = {0};

            /* A new term: the policy state is rebuilt (losing it is safe), and the first
             * cycles repair whatever the previous leader left half done. */
            policy_state_free(&s->pstate);
            s->pstate = policy_state_new();
            load_state(s);
            spec_cache_clear(s->specs);
            s->epoch = epoch;
            s->n_cmem = 0;
            s->next_sync_ms = 0;
            s->next_gc_ms = now + s->o.gc_interval_ms / 4;
            if (sched_clients_sync(s->clients, s->store, s->o.skus, &e))
                LOG(LOG_WARN, "sched", "event=clients_sync_failed msg=\"%s\"", e.msg);
            LOG(LOG_INFO, "sched", "event=reconcile epoch=%" PRId64, epoch);
        }
        set_leading(s, true, epoch);
        if (now >= s->next_sync_ms) {
            struct err e = {0};

            if (sched_clients_sync(s->clients, s->store, s->o.skus, &e))
                LOG(LOG_WARN, "sched", "event=clients_sync_failed msg=\"%s\"", e.msg);
            s->next_sync_ms = now + s->o.registry_sync_ms;
        }
        if (now >= s->next_gc_ms) {
            gc = true;
            s->next_gc_ms = now + s->o.gc_interval_ms;
        }
        if (now >= s->next_state_ms) {
            save_state(s);
            s->next_state_ms = now + STATE_SAVE_MS;
        }
        last_cycle = clock_mono_ms();
        {
            uint64_t seq = poller_published(s->poller);
            bool track =
                gained || seq != track_seq || last_cycle - last_track >= s->o.cycle_interval_ms;

            if (track) {
                track_seq = seq;
                last_track = last_cycle;
            }
            sched_cycle_run(s, gc, track);
        }
        if (gc) {
            purge(s);
            rollup(s);
        }
        /* Sleep until something happens: a notification, a new snapshot, a wake request,
         * the timer; but never cycle more often than min_cycle_gap_ms. */
        woken = false;
        while (!should_stop(s)) {
            int64_t waited = clock_mono_ms() - last_cycle;
            uint64_t seq = poller_published(s->poller);
            int64_t left = s->o.cycle_interval_ms - waited;

            if (waited >= s->o.min_cycle_gap_ms && (woken || take_wake(s) || seq != s->last_seq)) {
                s->last_seq = seq;
                break;
            }
            if (left <= 0)
                break;
            if (leader_wait(s->leader, (int)(left < 50 ? left : 50)))
                woken = true;
            if (!leader_fresh(s->leader, (int64_t)s->o.leader_renew_ms * 5))
                break;
        }
    }
    leader_resign(s->leader);
    set_leading(s, false, 0);
    return NULL;
}

int sched_start(struct sched *s, struct err *e)
{
    if (s->running)
        return err_set(e, ERR_INTERNAL, NULL, "scheduler already running");
    s->stop = false;
    if (pthread_create(&s->thread, NULL, run, s) != 0)
        return err_set(e, ERR_INTERNAL, NULL, "cannot start the scheduler thread");
    s->running = true;
    return 0;
}

void sched_stop(struct sched *s)
{
    if (!s->running)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->running = false;
}

/* ---- explanations --------------------------------------------------------------------- */

/* One what-if cycle over the live jobs: exactly the inputs a real cycle would use, changing
 * nothing. After whatif_open(), in.snap is a copy of the live snapshot, so the caller may
 * simulate many cycles on it without holding up the poller's grace period. */
struct whatif {
    struct cycle c;
    struct decide_ctx d;
    struct policy_input in;
    struct policy_state *st;
    struct policy_result *res;
    struct snapshot *snap; /* the copy */
};

static void whatif_close(struct whatif *w)
{
    snapshot_free(&w->snap);
    policy_result_free(&w->res);
    policy_state_free(&w->st);
    sched_decide_ctx_free(&w->d);
    free(w->c.cv);
    store_sched_jobs_free(&w->c.jobs);
}

/* Loads the live jobs with extra (NULL: none) among them and decides; during (NULL: none)
 * runs on the live snapshot, inside the read side, before it is copied. On failure w is
 * closed. */
static int whatif_open(struct sched *s, const struct job *extra, struct whatif *w,
                       int (*during)(struct whatif *w, void *arg, struct err *e), void *arg,
                       struct err *e)
{
    const struct cluster_snapshot *cs;
    char *state = NULL;
    int rc = -1;

    memset(w, 0, sizeof(*w));
    w->c.s = s;
    w->c.now = clock_realtime_ms();
    w->st = policy_state_new();
    if (store_sched_load_with(s->store, extra, &w->c.jobs, e)) {
        whatif_close(w);
        return -1;
    }
    /* Fair-share usage and hysteresis as the leader last saved them; this thread may not
     * touch the live state, and the what-if cycle must not change it. */
    if (store_sched_state_load(s->store, &state, NULL) == 0 && state)
        sched_state_from_json(state, w->st, NULL);
    free(state);
    cs = poller_read_begin(s->poller);
    sched_read_snapshot_clusters(&w->c, cs, 0);
    sched_build_inputs(&w->c, cs, &w->d, &w->in);
    if (policy_decide(&w->in, w->st, &w->res, e) == 0 && (!during || during(w, arg, e) == 0) &&
        eta_snapshot_copy(w->in.snap, &w->snap, e) == 0)
        rc = 0;
    poller_read_end(s->poller);
    w->in.snap = w->snap;
    if (rc)
        whatif_close(w);
    return rc;
}

struct explain_arg {
    const char *ns, *name;
    long idx;
    struct buf *out;
};

/* explain_json() of the job, on the live snapshot its result's engine points into. */
static int explain_during(struct whatif *w, void *arg, struct err *e)
{
    struct explain_arg *a = arg;
    struct explain *x = NULL;
    int rc = -1;

    a->idx = explain_find(&w->in, a->ns, a->name);
    if (a->idx < 0)
        err_set(e, ERR_NOT_FOUND, NULL, "trainingjob %s/%s is not queued", a->ns, a->name);
    else if (explain_job(&w->in, w->res, (size_t)a->idx, &x, e) == 0 &&
             explain_json(&w->in, x, a->out) == 0)
        rc = 0;
    explain_free(&x);
    return rc;
}

/* sched_explain() of ns/name, with extra (NULL: none) among the live jobs. */
static int explain_with(struct sched *s, const char *ns, const char *name, const struct job *extra,
                        struct buf *out, struct err *e)
{
    struct explain_arg a = {ns, name, -1, out};
    struct whatif w;
    int rc;

    if (whatif_open(s, extra, &w, explain_during, &a, e))
        return -1;
    /* The queue position and estimate simulate many cycles, on the copy. */
    rc = sched_explain_queue(&w.c, &w.d, &w.in, w.st, (size_t)a.idx, out, e);
    whatif_close(&w);
    return rc;
}

int sched_queue_view(struct sched *s, const struct sched_queue_query *q, struct buf *out,
                     struct err *e)
{
    struct whatif w;
    int rc;

    if (whatif_open(s, NULL, &w, NULL, NULL, e))
        return -1;
    rc = sched_queue_json(&w.c, &w.d, &w.in, w.st, w.res, q, out, e);
    whatif_close(&w);
    return rc;
}

int sched_explain(struct sched *s, const char *ns, const char *name, struct buf *out, struct err *e)
{
    return explain_with(s, ns, name, NULL, out, e);
}

int sched_explain_new(struct sched *s, const struct job *j, struct buf *out, struct err *e)
{
    return explain_with(s, j->ns, j->name, j, out, e);
}
