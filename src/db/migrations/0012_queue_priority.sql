-- Sends get priorities when Telegram's 30 messages a second run short
-- (issue 15): 1 a paid set's portraits, payment links and payment
-- outcomes; 2 answers and everything else; 3 reminders (the rows that are
-- not essential). claim_due takes the due rows by priority, then oldest
-- first, still only the oldest open row of each chat.
ALTER TABLE message_queue ADD COLUMN priority INTEGER NOT NULL DEFAULT 2
    CHECK (priority IN (1, 2, 3));
UPDATE message_queue SET priority = 3 WHERE essential = 0;
DROP INDEX queue_open;
CREATE INDEX queue_open ON message_queue (priority, id, next_attempt_at, chat_id)
    WHERE status IN ('pending', 'sending');
