-- 0026_ledger.sql -- the lost-work ledger by cause, and where each scheduler event happened.
-- cause groups a ledger row's reason: reclaim (deficit, lease_end, quota: borrowed or
-- over-quota capacity taken back), preemption (priority: a higher-priority job took the
-- GPUs), retry (a failed attempt run again; its work is gone at once, so freed_at is set
-- when the row is written).
ALTER TABLE reclaims ADD COLUMN cause text GENERATED ALWAYS AS (
    CASE reason WHEN 'priority' THEN 'preemption' WHEN 'retry' THEN 'retry' ELSE 'reclaim' END
) STORED;
CREATE INDEX reclaims_cluster_id ON reclaims (cluster, id);

-- The member cluster, pool and SKU (the placed one) a scheduler transition happened on:
-- for a placement the new ones, for every later transition of the attempt (Preempting,
-- the requeue, a failure) the ones it ran on. NULL for events with no placement (a
-- submission, a queued job's cancel) and for events written before this migration.
ALTER TABLE job_events ADD COLUMN cluster text, ADD COLUMN pool text, ADD COLUMN sku text;
