-- List settings (JSON, see src/model/list_settings.rs), the moderation queue, and the server
-- secret that signs links.

ALTER TABLE groups ADD COLUMN settings TEXT;

-- A member addressed directly in To/Cc of a post normally gets no second copy from the list;
-- 1 = they want it anyway.
ALTER TABLE people ADD COLUMN receive_duplicates INTEGER NOT NULL DEFAULT 0;

-- What kind of outgoing mail a post row is: a list post, or a notice the server wrote
-- (moderation request, rejection, expiry notice).
ALTER TABLE posts ADD COLUMN kind TEXT NOT NULL DEFAULT 'post';
CREATE INDEX posts_author ON posts (group_id, author_envelope, received_at);
ALTER TABLE posts ADD COLUMN personal_to INTEGER NOT NULL DEFAULT 0;   -- 1: one copy per recipient, To: rewritten
ALTER TABLE posts ADD COLUMN author TEXT;                       -- From: address, lower-cased
CREATE INDEX posts_author_from ON posts (group_id, author, received_at);

-- Posts held for moderation. status: held | approved | rejected | discarded | expired.
CREATE TABLE held_posts (
    id            INTEGER PRIMARY KEY,
    group_id      INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    author        TEXT    NOT NULL,                             -- From: address
    envelope_from TEXT    NOT NULL,
    subject       TEXT,
    reason        TEXT    NOT NULL,
    raw           BLOB    NOT NULL,
    helo          TEXT    NOT NULL,
    peer          TEXT    NOT NULL,
    received_at   INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'held',
    decided_by    TEXT,
    decided_at    INTEGER,
    decision_note TEXT
);
CREATE INDEX held_posts_status ON held_posts (status, expires_at);

-- Secrets the server makes itself on first start (the HMAC key for links), shared by every
-- instance through the database.
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
