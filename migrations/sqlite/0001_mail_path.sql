-- The durable mail path: people, groups with an address, flat memberships, accepted posts and
-- per-recipient delivery state. Times are milliseconds since the Unix epoch (INTEGER), so the
-- same code reads them on SQLite and PostgreSQL.

CREATE TABLE people (
    id          INTEGER PRIMARY KEY,
    email       TEXT    NOT NULL,           -- as entered (domain lower-cased)
    email_key   TEXT    NOT NULL UNIQUE,    -- fully lower-cased: lookups and de-duplication
    name        TEXT,
    created_at  INTEGER NOT NULL
);

CREATE TABLE groups (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    address     TEXT    UNIQUE,             -- lower-cased local@domain; NULL: not a list
    created_at  INTEGER NOT NULL
);

CREATE TABLE memberships (
    group_id    INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    person_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    role        TEXT    NOT NULL DEFAULT 'member',
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (group_id, person_id)
);
CREATE INDEX memberships_person ON memberships (person_id);

-- One row per accepted post and group. `original` is what the author sent, byte for byte;
-- `list_copy` is the rewritten message that goes out; `envelope_from` the bounce address used.
CREATE TABLE posts (
    id              INTEGER PRIMARY KEY,
    queue_id        TEXT    NOT NULL UNIQUE,
    group_id        INTEGER NOT NULL REFERENCES groups(id),
    author_envelope TEXT    NOT NULL,       -- MAIL FROM as received ('' for the null sender)
    envelope_from   TEXT    NOT NULL,       -- our MAIL FROM for the copies
    message_id      TEXT,
    received_at     INTEGER NOT NULL,
    size            INTEGER NOT NULL,
    original        BLOB    NOT NULL,
    list_copy       BLOB    NOT NULL
);

-- The recipients of a post, frozen when it was accepted. status: queued | deferred | delivered |
-- failed. A batch being sent holds a lease (lease_owner, lease_until) so no one else takes it.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    post_id         INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    recipient       TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'queued',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    updated_at      INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    UNIQUE (post_id, recipient)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, post_id) WHERE status IN ('queued', 'deferred');

-- Mail to LIST-bounces@DOMAIN: kept for the bounce processor, never distributed.
CREATE TABLE inbound_bounces (
    id              INTEGER PRIMARY KEY,
    group_id        INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    envelope_from   TEXT    NOT NULL,
    received_at     INTEGER NOT NULL,
    raw             BLOB    NOT NULL
);
