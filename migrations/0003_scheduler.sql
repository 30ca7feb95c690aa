-- 0003_scheduler.sql -- what the scheduler keeps per placement, and the lost-work ledger.

-- A placement: the node plan, the SKU actually placed (it may be an alternative), the
-- explanation of the decision (score breakdown of the chosen and runner-up clusters, as
-- policy/explain.h writes it), the lease of borrowed capacity and whether it runs above
-- the namespace's nominal quota. The rest are the scheduler's clocks: when the job
-- (re-)entered the queue, when it may be placed again after a failed dispatch, when its
-- object was created and when the reclaim delete was requested.
ALTER TABLE jobs
    ADD COLUMN placement            jsonb,
    ADD COLUMN node_plan            jsonb,
    ADD COLUMN sku_placed           text,
    ADD COLUMN over_quota           boolean NOT NULL DEFAULT false,
    ADD COLUMN lease_end_at         timestamptz,
    ADD COLUMN queued_at            timestamptz,
    ADD COLUMN not_before           timestamptz,
    ADD COLUMN dispatched_at        timestamptz,
    ADD COLUMN preempt_requested_at timestamptz,
    ADD COLUMN dispatch_failures    integer NOT NULL DEFAULT 0;

-- One row per reclaim (a borrowed or over-quota job taken back): what it cost in GPU-hours
-- of work since the last checkpoint, why, and how long it took from the snapshot that
-- showed the deficit to the delete request and to the GPUs being free.
CREATE TABLE reclaims (
    id             bigserial PRIMARY KEY,
    job_id         bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    namespace      text NOT NULL,
    cluster        text NOT NULL,
    sku            text NOT NULL,
    pool           text,
    attempt        integer NOT NULL,
    reason         text NOT NULL,  -- deficit, lease_end, quota
    gpus           integer NOT NULL,
    deficit        integer NOT NULL DEFAULT 0,
    lost_gpu_hours double precision NOT NULL DEFAULT 0,
    grace_s        integer NOT NULL DEFAULT 0,
    snapshot_at    timestamptz,
    requested_at   timestamptz NOT NULL DEFAULT now(),
    freed_at       timestamptz
);
CREATE INDEX reclaims_job ON reclaims (job_id);
CREATE INDEX reclaims_requested ON reclaims (requested_at);
