-- 0024_retry_hold.sql -- two counters and a switch of issue 16.
-- held: a held job stays in the queue, skipped by the policy, until released (bulk hold and
--   release by label selector); it changes no phase, so it outlives requeues.
-- retries: how many times a failed attempt was run again under the job's retry policy
--   (spec.scheduling.retry); attempt counts every new attempt, requeues included.
ALTER TABLE jobs ADD COLUMN held boolean NOT NULL DEFAULT false;
ALTER TABLE jobs ADD COLUMN retries integer NOT NULL DEFAULT 0;
