/* notes.c -- what the scheduler learns about a live job without its phase changing (a
 * diagnosis of its pods, a suspension in its member cluster): the job's status reason and
 * message, and an event in its history, fenced by the leader epoch.
 * Not responsible for phase changes (live_jobs.c) or for finding anything out
 * (scheduler/track.c). */
#include "store/live_jobs.h"

#include "base/err.h"
#include "store/conn.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The fence as in store_sched_apply(); the note lands only while the job is still placed
 * at the attempt the scheduler saw, and not twice in a row with the same words. */
/* clang-format off */
static const char sql_note[] =
    "WITH fence AS (SELECT epoch FROM leader WHERE id = 1 AND epoch = $1::bigint FOR SHARE),"
    " upd AS (UPDATE jobs j SET reason = $5, message = $6, updated_at = now(),"
    "  resource_version = nextval('resource_version_seq')"
    "  WHERE j.id = $2::bigint AND j.attempt = $3::int"
    "  AND j.phase IN ('Dispatched', 'Running', 'Preempting') AND EXISTS (SELECT 1 FROM fence)"
    "  AND (j.reason IS DISTINCT FROM $5 OR j.message IS DISTINCT FROM $6)"
    "  RETURNING j.id, j.phase),"
    " ev AS (INSERT INTO job_events (job_id, type, reason, message, from_phase, to_phase)"
    "  SELECT id, $4, $5, $6, phase, phase FROM upd RETURNING 1)"
    " SELECT (SELECT count(*) FROM fence), (SELECT count(*) FROM ev)";
/* clang-format on */

int store_job_note(struct store *s, int64_t epoch, const struct store_note *n, bool *noted,
                   struct err *e)
{
    char ep[24], id[24], attempt[16];
    const char *params[6] = {ep, id, attempt, n->type, n->reason, n->message};
    PGresult *r;
    bool fenced, done;

    if (!n->type || !*n->type || !n->reason || !n->message)
        return err_set(e, ERR_INVALID, "note", "a note needs a type, a reason and a message");
    snprintf(ep, sizeof(ep), "%" PRId64, epoch);
    snprintf(id, sizeof(id), "%" PRId64, n->job_id);
    snprintf(attempt, sizeof(attempt), "%d", n->attempt);
    if (store_exec(s, sql_note, 6, params, &r, e))
        return -1;
    fenced = strcmp(PQgetvalue(r, 0, 0), "1") == 0;
    done = strcmp(PQgetvalue(r, 0, 1), "1") == 0;
    PQclear(r);
    if (!fenced)
        return err_set(e, ERR_CONFLICT, "leader.epoch",
                       "epoch %" PRId64 " is no longer the leader's", epoch);
    if (noted)
        *noted = done;
    return 0;
}
