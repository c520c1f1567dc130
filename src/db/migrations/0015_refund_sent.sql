-- A Cancel whose outcome is unknown is never sent again blindly (issue 16):
-- before a refund's Cancel goes out, the row records what the bank held of the
-- payment (`bank_before`) and when (`sent_at`). Until the row is done, its next
-- attempt reads GetState first: an amount that moved means the refund took
-- effect; only an unmoved one sends the Cancel again. (T-Bank ignores
-- ExternalRequestId for SBP payments, so a blind repeat would refund twice.)
ALTER TABLE refunds ADD COLUMN bank_before INTEGER;
ALTER TABLE refunds ADD COLUMN sent_at INTEGER;
