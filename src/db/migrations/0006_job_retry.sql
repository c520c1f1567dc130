-- Version 6: an admin's /retry queues the failed tasks of a finished paid set
-- again. `retry_round` numbers those retries, so each one delivers only the
-- portraits made after `retried_at`, once (its own queue keys).
ALTER TABLE generation_jobs ADD COLUMN retry_round INTEGER NOT NULL DEFAULT 0 CHECK (retry_round >= 0);
ALTER TABLE generation_jobs ADD COLUMN retried_at INTEGER;
