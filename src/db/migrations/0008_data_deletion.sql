-- Version 8: the user's control over their data (issue 8).
-- /delete_my_data writes one request (the intent) before anything is
-- deleted; the side task deletes the objects, then the rows, then marks it
-- done. At most one pending request per user.
CREATE TABLE deletion_requests (
    id               INTEGER PRIMARY KEY,
    user_id          INTEGER NOT NULL REFERENCES users (id),
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
    requested_at     INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    done_at          INTEGER
) STRICT;
CREATE UNIQUE INDEX deletion_requests_one_pending ON deletion_requests (user_id)
    WHERE status = 'pending';
-- A deleted avatar keeps its row (payments and jobs refer to it, for
-- accounting) but is gone for its owner: no photos, no portraits, no links.
ALTER TABLE avatars ADD COLUMN deleted_at INTEGER;
-- Retention: when the reference photos of a delivered set were given up
-- (`reference_photos.deleted_at` marks each row whose object is still to go).
ALTER TABLE avatars ADD COLUMN photos_deleted_at INTEGER;
CREATE INDEX avatars_retention_due ON avatars (ready_at)
    WHERE photos_deleted_at IS NULL AND deleted_at IS NULL;
CREATE INDEX reference_photos_expired ON reference_photos (id) WHERE deleted_at IS NOT NULL;
