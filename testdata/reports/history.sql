-- history.sql -- a known history for the capacity report test (tests/integration/test_reports.c).
-- Window: 2026-01-01 00:00 to 02:00 UTC, step 1h. expected.csv holds the numbers by hand.

-- az1 a100-80gb training: 16 GPUs every 5 minutes; 8 used in the first hour, 12 in the second.
INSERT INTO capacity_samples (ts, cluster, sku, pool, total, used, free, borrowed)
SELECT t, 'az1', 'a100-80gb', 'training', 16,
       CASE WHEN t < '2026-01-01T01:00:00Z' THEN 8 ELSE 12 END,
       CASE WHEN t < '2026-01-01T01:00:00Z' THEN 8 ELSE 4 END, 0
FROM generate_series('2026-01-01T00:00:00Z'::timestamptz, '2026-01-01T01:55:00Z', '5 minutes') t;

-- az1 a100-80gb serving: 8 GPUs, 6 used of which 2 borrowed by training jobs.
INSERT INTO capacity_samples (ts, cluster, sku, pool, total, used, free, borrowed)
SELECT t, 'az1', 'a100-80gb', 'serving', 8, 6, 2, 2
FROM generate_series('2026-01-01T00:00:00Z'::timestamptz, '2026-01-01T01:55:00Z', '5 minutes') t;

-- az2 h100-80gb training: sparse samples. Each holds at most 10 minutes (the max gap);
-- the one at 00:55 spans the step boundary; the one at 23:55 ends at 00:00, before the window.
INSERT INTO capacity_samples (ts, cluster, sku, pool, total, used, free, borrowed) VALUES
  ('2025-12-31T23:55:00Z', 'az2', 'h100-80gb', 'training', 6, 0, 6, 0),
  ('2026-01-01T00:00:00Z', 'az2', 'h100-80gb', 'training', 4, 4, 0, 0),
  ('2026-01-01T00:30:00Z', 'az2', 'h100-80gb', 'training', 4, 4, 0, 0),
  -- 4 of the 6 on a node that is NotReady: not used, not free (unavailable), 5 min a step
  ('2026-01-01T00:55:00Z', 'az2', 'h100-80gb', 'training', 6, 0, 2, 0),
  -- at the window's end: outside [from, to)
  ('2026-01-01T02:00:00Z', 'az2', 'h100-80gb', 'training', 99, 99, 0, 0);

INSERT INTO jobs (namespace, name, api_version, spec, sku, gpu_count, gpus_per_worker, cluster,
                  pool, phase) VALUES
  ('rep', 'job-a', 'fedsched.io/v1', '{}', 'a100-80gb', 8, 8, 'az1', 'training', 'Succeeded'),
  ('rep', 'job-b', 'fedsched.io/v1', '{}', 'a100-80gb', 4, 4, 'az1', 'training', 'Queued'),
  ('rep', 'job-c', 'fedsched.io/v1', '{}', 'a100-80gb', 2, 2, 'az1', 'training', 'Failed'),
  ('rep', 'job-d', 'fedsched.io/v1', '{}', 'a100-80gb', 1, 1, NULL, NULL, 'Failed'),
  -- job-e asked for a100-80gb, ran on h100-80gb (its alternative) in az2, was reclaimed
  -- and requeued: it has no cluster now, its preemption belongs to az2 and h100-80gb.
  ('rep', 'job-e', 'fedsched.io/v1', '{}', 'a100-80gb', 2, 2, NULL, NULL, 'Queued');

-- Events in time order (ids follow it, as in production). Those of jobs a to d were
-- written before events recorded their cluster, pool and placed SKU (migration 0026): the
-- report falls back to the job's cluster and pool and its requested SKU. job-e's record
-- them, as the scheduler writes them now: from the placement on, and on the requeue the
-- cluster it left.
INSERT INTO job_events (job_id, ts, type, reason, from_phase, to_phase, cluster, pool, sku)
SELECT j.id, v.ts::timestamptz, v.type, v.type, v.from_phase, v.to_phase, v.cluster, v.pool,
       v.sku
FROM (VALUES
  (1,  'job-a', '2026-01-01T00:00:00Z', 'Queued', NULL, 'Queued', NULL, NULL, NULL),
  (2,  'job-b', '2026-01-01T00:00:00Z', 'Queued', NULL, 'Queued', NULL, NULL, NULL),
  (3,  'job-c', '2026-01-01T00:00:00Z', 'Queued', NULL, 'Queued', NULL, NULL, NULL),
  (4,  'job-d', '2026-01-01T00:00:00Z', 'Queued', NULL, 'Queued', NULL, NULL, NULL),
  (4.1, 'job-e', '2026-01-01T00:00:00Z', 'Queued', NULL, 'Queued', NULL, NULL, NULL),
  (4.2, 'job-e', '2026-01-01T00:05:00Z', 'Admitted', 'Queued', 'Admitted', 'az2', 'training',
   'h100-80gb'),
  (4.3, 'job-e', '2026-01-01T00:06:00Z', 'Running', 'Dispatched', 'Running', 'az2', 'training',
   'h100-80gb'),
  (5,  'job-a', '2026-01-01T00:10:00Z', 'Admitted', 'Queued', 'Admitted', NULL, NULL, NULL),
  (6,  'job-a', '2026-01-01T00:12:00Z', 'Running', 'Dispatched', 'Running', NULL, NULL, NULL),
  (7,  'job-c', '2026-01-01T00:20:00Z', 'Admitted', 'Queued', 'Admitted', NULL, NULL, NULL),
  (8,  'job-c', '2026-01-01T00:21:00Z', 'Running', 'Dispatched', 'Running', NULL, NULL, NULL),
  (8.1, 'job-e', '2026-01-01T00:30:00Z', 'Checkpoint', 'Running', 'Running', 'az2', 'training',
   'h100-80gb'),
  (9,  'job-b', '2026-01-01T00:30:00Z', 'Admitted', 'Queued', 'Admitted', NULL, NULL, NULL),
  (10, 'job-b', '2026-01-01T00:31:00Z', 'Running', 'Dispatched', 'Running', NULL, NULL, NULL),
  (11, 'job-a', '2026-01-01T00:40:00Z', 'Checkpoint', 'Running', 'Running', NULL, NULL, NULL),
  (12, 'job-b', '2026-01-01T00:41:00Z', 'Preempting', 'Running', 'Preempting', NULL, NULL, NULL),
  (12.1, 'job-e', '2026-01-01T00:41:00Z', 'Preempting', 'Running', 'Preempting', 'az2',
   'training', 'h100-80gb'),
  (13, 'job-b', '2026-01-01T00:42:00Z', 'Queued', 'Preempting', 'Queued', NULL, NULL, NULL),
  (13.1, 'job-e', '2026-01-01T00:42:00Z', 'Queued', 'Preempting', 'Queued', 'az2', 'training',
   'h100-80gb'),
  (14, 'job-a', '2026-01-01T00:50:00Z', 'Preempting', 'Running', 'Preempting', NULL, NULL, NULL),
  (15, 'job-a', '2026-01-01T00:51:00Z', 'Queued', 'Preempting', 'Queued', NULL, NULL, NULL),
  (16, 'job-c', '2026-01-01T00:59:00Z', 'Failed', 'Running', 'Failed', NULL, NULL, NULL),
  (17, 'job-a', '2026-01-01T01:01:00Z', 'Admitted', 'Queued', 'Admitted', NULL, NULL, NULL),
  (18, 'job-a', '2026-01-01T01:02:00Z', 'Running', 'Dispatched', 'Running', NULL, NULL, NULL),
  (19, 'job-d', '2026-01-01T01:10:00Z', 'Failed', 'Queued', 'Failed', NULL, NULL, NULL),
  (20, 'job-a', '2026-01-01T01:30:00Z', 'Succeeded', 'Running', 'Succeeded', NULL, NULL, NULL),
  (21, 'job-b', '2026-01-01T02:00:00Z', 'Admitted', 'Queued', 'Admitted', NULL, NULL, NULL)
) AS v(seq, name, ts, type, from_phase, to_phase, cluster, pool, sku)
JOIN jobs j ON j.namespace = 'rep' AND j.name = v.name
ORDER BY v.seq;

-- The ledger: one row per reclaim as the scheduler writes it, on the cluster, pool and
-- placed SKU the job ran on, with the work lost since its start or last checkpoint.
-- job-b: 4 GPUs x 10 min since its start (00:31); job-a: 8 GPUs x 10 min since its
-- checkpoint (00:40); job-e: 2 GPUs x 11 min since its checkpoint (00:30).
INSERT INTO reclaims (job_id, namespace, cluster, sku, pool, attempt, reason, gpus,
                      lost_gpu_hours, snapshot_at, requested_at, freed_at)
SELECT j.id, 'rep', v.cluster, v.sku, 'training', 0, 'deficit', v.gpus, v.lost,
       v.req::timestamptz, v.req::timestamptz, v.freed::timestamptz
FROM (VALUES
  ('job-b', 'az1', 'a100-80gb', 4, 4 * 10 / 60.0, '2026-01-01T00:41:00Z', '2026-01-01T00:42:00Z'),
  ('job-e', 'az2', 'h100-80gb', 2, 2 * 11 / 60.0, '2026-01-01T00:41:00Z', '2026-01-01T00:42:00Z'),
  ('job-a', 'az1', 'a100-80gb', 8, 8 * 10 / 60.0, '2026-01-01T00:50:00Z', '2026-01-01T00:51:00Z')
) AS v(name, cluster, sku, gpus, lost, req, freed)
JOIN jobs j ON j.namespace = 'rep' AND j.name = v.name;
