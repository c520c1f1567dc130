-- Lookups by avatar and by payment that the reminder scan makes once a minute
-- (the last payment event of an avatar; whether it was ever paid for). Also
-- what `payments::history` reads.
CREATE INDEX payments_by_avatar ON payments (avatar_id);
CREATE INDEX payment_history_by_payment ON payment_status_history (payment_id);
