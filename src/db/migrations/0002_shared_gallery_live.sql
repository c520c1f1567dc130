-- Share links (issue 5): at most one live (not revoked) link per avatar, so
-- pressing "Share" twice, or two presses racing, always shows the same link.
CREATE UNIQUE INDEX shared_galleries_live ON shared_galleries (avatar_id) WHERE revoked_at IS NULL;
