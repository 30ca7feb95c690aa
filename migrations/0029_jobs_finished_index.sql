-- 0029_jobs_finished_index.sql -- retention.finishedJobsDays (store/retention.c) looks for
-- finished jobs by when they finished (their last change when that time is not set) at
-- every collection pass: an index, so a pass does not read every finished job to find
-- none expired. Partial: queued and running jobs, which change often, are not in it.
CREATE INDEX jobs_finished ON jobs ((coalesce(finished_at, updated_at)))
    WHERE phase IN ('Succeeded', 'Failed', 'Cancelled');
