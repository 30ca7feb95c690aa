-- 0021_list_indexes.sql -- indexes for the jobs list filters by cluster and creation time,
-- and for reports that read events by time.
CREATE INDEX jobs_cluster_id ON jobs (cluster, id) WHERE cluster IS NOT NULL;
CREATE INDEX jobs_created_id ON jobs (created_at, id);
CREATE INDEX job_events_ts ON job_events (ts);
