-- PinGlass schema, version 1: the whole product from day one.
-- Times are INTEGER milliseconds since the Unix epoch (UTC). Money is INTEGER kopecks.
-- Every table is STRICT. Uniqueness constraints make double-processing impossible.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,            -- Telegram user id
    username        TEXT,
    first_name      TEXT NOT NULL DEFAULT '',
    language        TEXT NOT NULL CHECK (language IN ('ru', 'en')),
    language_chosen INTEGER NOT NULL DEFAULT 0 CHECK (language_chosen IN (0, 1)),
    referral_code   TEXT NOT NULL UNIQUE,
    referred_by     INTEGER REFERENCES users (id),
    receipt_email   TEXT,
    receipt_phone   TEXT,
    stopped         INTEGER NOT NULL DEFAULT 0 CHECK (stopped IN (0, 1)),  -- /stop: no non-essential messages
    blocked_at      INTEGER,                          -- the user blocked the bot
    deleted_at      INTEGER,                          -- /delete_my_data
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    CHECK (referred_by IS NULL OR referred_by <> id)
) STRICT;

CREATE TABLE avatars (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    status      TEXT NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'awaiting_payment', 'generating', 'ready', 'failed')),
    tier_id     TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    ready_at    INTEGER
) STRICT;
CREATE INDEX avatars_by_user ON avatars (user_id, id);

CREATE TABLE reference_photos (
    id              INTEGER PRIMARY KEY,
    avatar_id       INTEGER NOT NULL REFERENCES avatars (id) ON DELETE CASCADE,
    file_id         TEXT NOT NULL,
    file_unique_id  TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    object_key      TEXT NOT NULL UNIQUE,
    width           INTEGER NOT NULL CHECK (width > 0),
    height          INTEGER NOT NULL CHECK (height > 0),
    size_bytes      INTEGER NOT NULL CHECK (size_bytes > 0),
    created_at      INTEGER NOT NULL,
    deleted_at      INTEGER,                          -- retention: bytes removed from the store
    UNIQUE (avatar_id, file_unique_id),
    UNIQUE (avatar_id, sha256)
) STRICT;

CREATE TABLE payments (
    id                INTEGER PRIMARY KEY,
    order_id          TEXT NOT NULL UNIQUE,           -- our OrderId sent to T-Bank
    user_id           INTEGER NOT NULL REFERENCES users (id),
    avatar_id         INTEGER NOT NULL REFERENCES avatars (id),
    tier_id           TEXT NOT NULL,                  -- copied at creation: never NULL
    amount_kopecks    INTEGER NOT NULL CHECK (amount_kopecks > 0),
    portraits         INTEGER NOT NULL CHECK (portraits > 0),
    discount_kopecks  INTEGER NOT NULL DEFAULT 0 CHECK (discount_kopecks >= 0),
    receipt_contact   TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'new'
                      CHECK (status IN ('new', 'open', 'confirmed', 'rejected', 'canceled',
                                        'expired', 'failed', 'refunded', 'partially_refunded')),
    bank_status       TEXT,                           -- last status T-Bank reported, verbatim
    bank_payment_id   TEXT UNIQUE,
    payment_url       TEXT,
    refunded_kopecks  INTEGER NOT NULL DEFAULT 0 CHECK (refunded_kopecks >= 0),
    checks            INTEGER NOT NULL DEFAULT 0,
    next_check_at     INTEGER,
    last_error        TEXT,
    stuck_alerted_at  INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    confirmed_at      INTEGER,
    CHECK (refunded_kopecks <= amount_kopecks)
) STRICT;
-- While a payment of an avatar is open, a second press of Pay cannot create another.
CREATE UNIQUE INDEX payments_one_open_per_avatar ON payments (avatar_id) WHERE status IN ('new', 'open');
CREATE INDEX payments_due ON payments (status, next_check_at);

-- Every status change of a payment, with its time (kept by triggers, so no code path can forget).
CREATE TABLE payment_status_history (
    id          INTEGER PRIMARY KEY,
    payment_id  INTEGER NOT NULL REFERENCES payments (id),
    status      TEXT NOT NULL,
    bank_status TEXT,
    at          INTEGER NOT NULL
) STRICT;
CREATE TRIGGER payments_history_insert AFTER INSERT ON payments BEGIN
    INSERT INTO payment_status_history (payment_id, status, bank_status, at)
    VALUES (NEW.id, NEW.status, NEW.bank_status, NEW.updated_at);
END;
CREATE TRIGGER payments_history_update AFTER UPDATE OF status, bank_status ON payments
WHEN OLD.status IS NOT NEW.status OR OLD.bank_status IS NOT NEW.bank_status BEGIN
    INSERT INTO payment_status_history (payment_id, status, bank_status, at)
    VALUES (NEW.id, NEW.status, NEW.bank_status, NEW.updated_at);
END;

-- Refunds and cancellations sent through T-Bank Cancel (partial for failed portraits, or by an admin).
CREATE TABLE refunds (
    id                   INTEGER PRIMARY KEY,
    payment_id           INTEGER NOT NULL REFERENCES payments (id),
    amount_kopecks       INTEGER NOT NULL CHECK (amount_kopecks > 0),
    reason               TEXT NOT NULL CHECK (reason IN ('failed_portraits', 'admin_refund', 'admin_cancel', 'stuck')),
    external_request_id  TEXT NOT NULL UNIQUE,        -- T-Bank idempotency key
    status               TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts             INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      INTEGER NOT NULL,
    last_error           TEXT,
    requested_by         INTEGER,                     -- admin id, NULL for the side task
    created_at           INTEGER NOT NULL,
    done_at              INTEGER
) STRICT;
-- One automatic refund of failed portraits per payment.
CREATE UNIQUE INDEX refunds_one_auto_per_payment ON refunds (payment_id) WHERE reason = 'failed_portraits';

CREATE TABLE generation_jobs (
    id                   INTEGER PRIMARY KEY,
    avatar_id            INTEGER NOT NULL REFERENCES avatars (id),
    user_id              INTEGER NOT NULL REFERENCES users (id),
    kind                 TEXT NOT NULL CHECK (kind IN ('paid', 'preview', 'regenerate')),
    payment_id           INTEGER UNIQUE REFERENCES payments (id),   -- exactly one job per paid payment
    total                INTEGER NOT NULL CHECK (total > 0),
    completed            INTEGER NOT NULL DEFAULT 0,
    failed               INTEGER NOT NULL DEFAULT 0,
    status               TEXT NOT NULL DEFAULT 'running'
                         CHECK (status IN ('running', 'delivering', 'done', 'partial', 'failed')),
    progress_message_id  INTEGER,
    progress_shown       INTEGER NOT NULL DEFAULT -1,
    created_at           INTEGER NOT NULL,
    finished_at          INTEGER,
    delivered_at         INTEGER,
    CHECK (kind <> 'paid' OR payment_id IS NOT NULL),
    CHECK (completed + failed <= total)
) STRICT;
-- At most one free preview per user.
CREATE UNIQUE INDEX jobs_one_preview_per_user ON generation_jobs (user_id) WHERE kind = 'preview';
CREATE INDEX jobs_by_status ON generation_jobs (status);

CREATE TABLE generation_tasks (
    id               INTEGER PRIMARY KEY,
    job_id           INTEGER NOT NULL REFERENCES generation_jobs (id),
    prompt_index     INTEGER NOT NULL,
    prompt_variant   INTEGER NOT NULL DEFAULT 0,
    reference_keys   TEXT NOT NULL,                   -- JSON array of object keys given to Kie
    state            TEXT NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'creating', 'running', 'downloading', 'succeeded', 'failed')),
    kie_task_id      TEXT UNIQUE,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    submitted_at     INTEGER,
    finished_at      INTEGER,
    result_key       TEXT,
    last_error       TEXT,
    UNIQUE (job_id, prompt_index)
) STRICT;
CREATE INDEX tasks_due ON generation_tasks (state, next_attempt_at);

-- A delivered portrait: the object key of the full-size image and its Telegram file_id once sent.
CREATE TABLE portraits (
    id          INTEGER PRIMARY KEY,
    avatar_id   INTEGER NOT NULL REFERENCES avatars (id),
    task_id     INTEGER NOT NULL UNIQUE REFERENCES generation_tasks (id),
    position    INTEGER NOT NULL,
    object_key  TEXT NOT NULL,
    file_id     TEXT,
    created_at  INTEGER NOT NULL
) STRICT;

-- The persistent Telegram message queue drained by the side task.
CREATE TABLE message_queue (
    id               INTEGER PRIMARY KEY,
    chat_id          INTEGER NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('text', 'photo', 'album', 'document', 'edit')),
    payload          TEXT NOT NULL,                   -- JSON, shape by kind
    dedup_key        TEXT NOT NULL UNIQUE,            -- e.g. job:7:album:0: one row per delivery part
    essential        INTEGER NOT NULL DEFAULT 1 CHECK (essential IN (0, 1)),
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    sent_message_ids TEXT,                            -- JSON array once sent
    file_ids         TEXT,                            -- JSON array of Telegram file_ids once sent
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER
) STRICT;
CREATE INDEX queue_due ON message_queue (status, next_attempt_at);

-- Referral programme: one earning per payment, reversed by refunds, spent as discounts, paid out.
CREATE TABLE referral_earnings (
    id                INTEGER PRIMARY KEY,
    referrer_id       INTEGER NOT NULL REFERENCES users (id),
    referred_id       INTEGER NOT NULL REFERENCES users (id),
    payment_id        INTEGER NOT NULL UNIQUE REFERENCES payments (id),
    amount_kopecks    INTEGER NOT NULL CHECK (amount_kopecks >= 0),
    reversed_kopecks  INTEGER NOT NULL DEFAULT 0 CHECK (reversed_kopecks >= 0),
    created_at        INTEGER NOT NULL,
    CHECK (reversed_kopecks <= amount_kopecks)
) STRICT;
CREATE TABLE referral_spends (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    payment_id      INTEGER NOT NULL UNIQUE REFERENCES payments (id),
    amount_kopecks  INTEGER NOT NULL CHECK (amount_kopecks > 0),
    created_at      INTEGER NOT NULL
) STRICT;
CREATE TABLE payout_requests (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    amount_kopecks  INTEGER NOT NULL CHECK (amount_kopecks > 0),
    status          TEXT NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'paid', 'rejected')),
    created_at      INTEGER NOT NULL,
    decided_at      INTEGER
) STRICT;

CREATE TABLE shared_galleries (
    id          INTEGER PRIMARY KEY,
    avatar_id   INTEGER NOT NULL REFERENCES avatars (id),
    token       TEXT NOT NULL UNIQUE CHECK (length(token) >= 22),   -- at least 128 random bits
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;

-- Dialogue state of every chat (teloxide Storage), serialized as JSON.
CREATE TABLE dialogues (
    chat_id     INTEGER PRIMARY KEY,
    state       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

-- Who reached which stage of the funnel when: the analytics read these.
CREATE TABLE funnel_events (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    stage       TEXT NOT NULL CHECK (stage IN ('onboarding', 'upload', 'payment', 'generation', 'delivered')),
    avatar_id   INTEGER NOT NULL DEFAULT 0,           -- 0 when the stage is not about an avatar
    variant     TEXT,                                 -- A/B variant the user saw
    at          INTEGER NOT NULL,
    UNIQUE (user_id, stage, avatar_id)
) STRICT;

CREATE TABLE ab_assignments (
    user_id     INTEGER NOT NULL REFERENCES users (id),
    experiment  TEXT NOT NULL,
    variant     TEXT NOT NULL,
    assigned_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, experiment)
) STRICT;

-- Reminders to people who stopped half-way: at most one row per (avatar, number).
CREATE TABLE reminders (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    avatar_id   INTEGER NOT NULL REFERENCES avatars (id),
    sequence    INTEGER NOT NULL CHECK (sequence IN (1, 2)),
    sent_at     INTEGER NOT NULL,
    UNIQUE (avatar_id, sequence)
) STRICT;

-- Admin alerts: one row per incident, repeats counted instead of re-sent.
CREATE TABLE alerts (
    id            INTEGER PRIMARY KEY,
    incident_key  TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL,
    message       TEXT NOT NULL,
    count         INTEGER NOT NULL DEFAULT 1,
    first_at      INTEGER NOT NULL,
    last_at       INTEGER NOT NULL,
    sent_at       INTEGER,
    resolved_at   INTEGER
) STRICT;

-- Small named facts the side task keeps across restarts (e.g. Kie paused until).
CREATE TABLE service_state (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
