-- 0028_checkpoint_request.sql -- checkpoint-first reclaim (issue 17): the request to a victim.
-- A job reclaimed ahead of serving demand is asked to checkpoint before it is deleted: the
-- transition to Preempting writes when it was asked (checkpoint_requested_at, the same
-- instant as preempt_requested_at) and by when (checkpoint_deadline). The scheduler deletes
-- its object once last_checkpoint_at >= checkpoint_requested_at or at the deadline, so a
-- new leader finds both here. NULL for reclaims that delete at once; cleared with the
-- placement when the job is requeued.
ALTER TABLE jobs
    ADD COLUMN checkpoint_requested_at timestamptz,
    ADD COLUMN checkpoint_deadline     timestamptz;
