-- Version 7: when a queued message failed for good (its last delivery attempt
-- was used up), so the side task can see delivery failures piling up. Left
-- NULL for messages failed because the user blocked the bot (their choice,
-- not a delivery fault) and for rows failed before this version.
ALTER TABLE message_queue ADD COLUMN failed_at INTEGER;
CREATE INDEX queue_failed_at ON message_queue (failed_at) WHERE failed_at IS NOT NULL;
