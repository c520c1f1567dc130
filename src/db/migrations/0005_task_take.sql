-- Version 5: a regenerated portrait is a new take on the same style. `take`
-- numbers the takes of one style in an avatar (0: the original), so the
-- prompt can ask for a different take and the user sees which one it is.
ALTER TABLE generation_tasks ADD COLUMN take INTEGER NOT NULL DEFAULT 0 CHECK (take >= 0);

-- The progress message of a paid job is caught up even after the job
-- finished; this keeps finding the few that are behind cheap.
CREATE INDEX jobs_progress_behind ON generation_jobs (id)
    WHERE payment_id IS NOT NULL AND completed <> progress_shown;
