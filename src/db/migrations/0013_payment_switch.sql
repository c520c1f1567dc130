-- One open payment per user (issue 15): choosing a package while a payment is
-- open asks T-Bank to cancel the old one first (a refunds row of reason
-- 'superseded', carried out by the refund step like any cancellation of an
-- unpaid payment), and the row keeps the user's new choice (avatar, tier,
-- receipt contact), which becomes the next payment once the old one is
-- cancelled. SQLite cannot change a CHECK: the table is rebuilt.
CREATE TABLE refunds_new (
    id                   INTEGER PRIMARY KEY,
    payment_id           INTEGER NOT NULL REFERENCES payments (id),
    amount_kopecks       INTEGER NOT NULL CHECK (amount_kopecks > 0),
    reason               TEXT NOT NULL CHECK (reason IN ('failed_portraits', 'admin_refund', 'admin_cancel', 'stuck', 'superseded')),
    external_request_id  TEXT NOT NULL UNIQUE,        -- T-Bank idempotency key
    status               TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts             INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      INTEGER NOT NULL,
    last_error           TEXT,
    requested_by         INTEGER,                     -- admin id, NULL for the side task
    created_at           INTEGER NOT NULL,
    done_at              INTEGER,
    -- 'superseded' only: the package the user chose instead.
    next_avatar_id       INTEGER REFERENCES avatars (id),
    next_tier_id         TEXT,
    next_contact         TEXT,
    CHECK ((reason = 'superseded') = (next_avatar_id IS NOT NULL AND next_tier_id IS NOT NULL
                                      AND next_contact IS NOT NULL))
) STRICT;
INSERT INTO refunds_new (id, payment_id, amount_kopecks, reason, external_request_id, status,
                         attempts, next_attempt_at, last_error, requested_by, created_at, done_at)
    SELECT id, payment_id, amount_kopecks, reason, external_request_id, status,
           attempts, next_attempt_at, last_error, requested_by, created_at, done_at
    FROM refunds;
DROP TABLE refunds;
ALTER TABLE refunds_new RENAME TO refunds;
CREATE UNIQUE INDEX refunds_one_auto_per_payment ON refunds (payment_id) WHERE reason = 'failed_portraits';
-- At most one switch waits per payment: a later choice replaces the earlier one.
CREATE UNIQUE INDEX refunds_one_switch_per_payment ON refunds (payment_id)
    WHERE reason = 'superseded' AND status = 'pending';
-- "Has this user an open payment?" at every choice of a package.
CREATE INDEX payments_open_by_user ON payments (user_id) WHERE status IN ('new', 'open');
