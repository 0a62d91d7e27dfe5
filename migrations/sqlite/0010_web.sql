-- Sign-in by mail link, shared by the web interface for administrators, the archives and the
-- members' own page (issue 14). Only hashes of secrets are stored: of the link's token, of the
-- session cookie, of the address a sign-in was asked for (for the rate limit).

-- A single-use link mailed to a person; valid until expires_at, spent at used_at.
CREATE TABLE signin_links (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT    NOT NULL UNIQUE,        -- hex SHA-256 of the token in the link
    person_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    next_path   TEXT,                           -- where the session starts (a path of ours)
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX signin_links_person ON signin_links (person_id);

-- Every request for a link, known address or not, for the per-address and per-client limits.
CREATE TABLE signin_requests (
    id            INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,
    address_hash  TEXT    NOT NULL,             -- hex SHA-256 of the lower-cased address
    client        TEXT    NOT NULL              -- the client's IP address
);
CREATE INDEX signin_requests_address ON signin_requests (address_hash, at);
CREATE INDEX signin_requests_client ON signin_requests (client, at);

-- A signed-in browser. Ends at expires_at (absolute), after the idle time-out since
-- last_seen_at, or when revoked (sign out, sign out everywhere, account deactivated).
CREATE TABLE web_sessions (
    id            INTEGER PRIMARY KEY,
    token_hash    TEXT    NOT NULL UNIQUE,      -- hex SHA-256 of the cookie's value
    person_id     INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    client        TEXT,                         -- IP address at sign-in
    user_agent    TEXT
);
CREATE INDEX web_sessions_person ON web_sessions (person_id);

-- Mail the server writes for a person rather than for a list (a sign-in link) has no group:
-- posts.group_id becomes optional. SQLite cannot drop NOT NULL in place, so the table is rebuilt
-- (the migrations run with foreign keys off, see Store::migrate; deliveries keep their rows).
CREATE TABLE posts_new (
    id              INTEGER PRIMARY KEY,
    queue_id        TEXT    NOT NULL UNIQUE,
    group_id        INTEGER REFERENCES groups(id),   -- NULL: mail of the server itself (kind 'system')
    author_envelope TEXT    NOT NULL,
    envelope_from   TEXT    NOT NULL,
    message_id      TEXT,
    received_at     INTEGER NOT NULL,
    size            INTEGER NOT NULL,
    original        BLOB    NOT NULL,
    list_copy       BLOB    NOT NULL,
    kind            TEXT    NOT NULL DEFAULT 'post',
    personal_to     INTEGER NOT NULL DEFAULT 0,
    author          TEXT
);
INSERT INTO posts_new (id, queue_id, group_id, author_envelope, envelope_from, message_id,
                       received_at, size, original, list_copy, kind, personal_to, author)
    SELECT id, queue_id, group_id, author_envelope, envelope_from, message_id,
           received_at, size, original, list_copy, kind, personal_to, author FROM posts;
DROP TABLE posts;
ALTER TABLE posts_new RENAME TO posts;
CREATE INDEX posts_author ON posts (group_id, author_envelope, received_at);
CREATE INDEX posts_author_from ON posts (group_id, author, received_at);
