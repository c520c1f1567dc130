-- Referral programme: at most one open payout request per user (the button
-- pressed twice, or in two chats at once, cannot ask for the balance twice),
-- and the lookups /referral makes.
CREATE UNIQUE INDEX payout_requests_one_open ON payout_requests (user_id) WHERE status = 'requested';
CREATE INDEX users_by_referrer ON users (referred_by) WHERE referred_by IS NOT NULL;
CREATE INDEX referral_earnings_by_referrer ON referral_earnings (referrer_id);
CREATE INDEX referral_spends_by_user ON referral_spends (user_id);
