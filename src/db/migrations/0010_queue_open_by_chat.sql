-- A chat's messages go out strictly in the order they were queued: a row is
-- due only when no older row of its chat is still open (claim_due). This
-- index answers "is there an older open row of this chat" for every candidate.
CREATE INDEX queue_open_by_chat ON message_queue (chat_id, id)
    WHERE status IN ('pending', 'sending');

-- Attempts whose outcome the bot could not know: Telegram did not answer (a
-- timeout, a connection lost after the request went out) or the process was
-- killed mid-send. Each may have reached the chat and is sent again (the Bot
-- API has no idempotency key): the only way a message can show twice.
ALTER TABLE message_queue ADD COLUMN uncertain INTEGER NOT NULL DEFAULT 0;
