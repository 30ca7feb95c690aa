-- 0027_jobs_resource_version_index.sql -- list watches read the jobs changed after a
-- resource version (api/list_watch.c, store_job_changes()) every time they wake, and the
-- list answers the highest one: an index, so neither scans the jobs table.
CREATE INDEX jobs_resource_version ON jobs (resource_version);
