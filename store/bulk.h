/* bulk.h -- one change to every job a label selector matches (cancel, hold, release,
 * reprioritise), or to one named job (PATCH of its priority): in one transaction with an
 * event per changed job and the call's audit row, returning only after COMMIT.
 * Not responsible for parsing the selector (base/selector.h) or for the answer's JSON
 * (api/bulk_routes.c). */
#ifndef STORE_BULK_H
#define STORE_BULK_H

#include <stdbool.h>
#include <stddef.h>

struct err;
struct selector;
struct store;
struct store_audit;

#define STORE_BULK_MAX 10000 /* jobs one call may match */

enum store_bulk_op {
    STORE_BULK_CANCEL,  /* as store_job_cancel(): Queued -> Cancelled, placed -> marked */
    STORE_BULK_HOLD,    /* held = true on jobs not finished nor being cancelled */
    STORE_BULK_RELEASE, /* held = false */
    STORE_BULK_PRIORITY /* priority and spec.scheduling.priority = priority */
};

/* Which jobs: those of ns (NULL: of every namespace, or of namespaces[] when n_namespaces
 * > 0) whose labels sel matches; with name set, that one job (sel may then be NULL). */
struct store_bulk_target {
    const char *ns;
    const char *const *namespaces;
    size_t n_namespaces;
    const char *name;
    const struct selector *sel;
};

/* One matched job. from and to are the value changed, as text: a phase (cancel: to is
 * "Cancelled" for a job cancelled now, "CancelRequested" for one only marked, its member
 * cluster still to stop it), "true"/"false" (hold, release) or the priority in decimal.
 * An unchanged job has to NULL, from its value now, and reason why nothing changed:
 * "AlreadyCancelled", "CancelAlreadyRequested", "Finished" (Succeeded or Failed; for hold
 * and reprioritise also Cancelled), "CancelRequested" (hold of a job being cancelled),
 * "AlreadyHeld", "NotHeld", "SamePriority". */
struct store_bulk_item {
    char *ns, *name, *uid;
    char *from, *to;
    const char *reason; /* static */
};

struct store_bulk_result {
    size_t matched;
    struct store_bulk_item *changed; /* in creation order, as unchanged */
    size_t n_changed;
    struct store_bulk_item *unchanged;
    size_t n_unchanged;
};

/* Applies op to the jobs of t, locking them (FOR UPDATE) for the transaction; priority is
 * used by STORE_BULK_PRIORITY only. Each changed job gets its event (Cancelled or
 * CancelRequested as store_job_cancel() writes them, Held, Released, Reprioritized) and a
 * new resource_version, so watches see it. audit (may be NULL; audit->status) is inserted
 * in the same transaction, whatever changed: a repeated call is recorded too.
 * ERR_INVALID (field "labelSelector") when more than STORE_BULK_MAX jobs match. With
 * t->name: ERR_NOT_FOUND when there is no such job, ERR_CONFLICT (field "status.phase")
 * when it is finished, and nothing is committed. Caller clears *out with
 * store_bulk_result_clear(). */
int store_bulk_apply(struct store *s, enum store_bulk_op op, const struct store_bulk_target *t,
                     int priority, const struct store_audit *audit, struct store_bulk_result *out,
                     struct err *e);
void store_bulk_result_clear(struct store_bulk_result *r);

#endif
