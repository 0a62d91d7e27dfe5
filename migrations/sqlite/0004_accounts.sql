-- Personal admin accounts (issue 8): an account is a person with API tokens (stored as SHA-256
-- hashes); grants give a role to an account or to every member of a group, for the whole
-- organisation (scope_group_id NULL) or a subtree of groups; an append-only audit log; retention
-- rules on groups and what an erasure kept.

CREATE TABLE accounts (
    id             INTEGER PRIMARY KEY,
    person_id      INTEGER NOT NULL UNIQUE REFERENCES people(id),
    active         INTEGER NOT NULL DEFAULT 1,
    created_at     INTEGER NOT NULL,
    deactivated_at INTEGER
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts(id),
    name         TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE,                -- hex SHA-256 of the token
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);

-- role: owner | administrator | group_manager | moderator | auditor | limited.
-- Exactly one grantee: an account, or a group (every transitive member holds the role).
CREATE TABLE grants (
    id             INTEGER PRIMARY KEY,
    role           TEXT    NOT NULL CHECK (role IN ('owner', 'administrator', 'group_manager', 'moderator', 'auditor', 'limited')),
    account_id     INTEGER REFERENCES accounts(id),
    group_id       INTEGER REFERENCES groups(id) ON DELETE CASCADE,
    scope_group_id INTEGER REFERENCES groups(id) ON DELETE CASCADE,   -- NULL: the whole organisation
    created_at     INTEGER NOT NULL,
    CHECK ((account_id IS NULL) <> (group_id IS NULL))
);

-- Append-only: the triggers below refuse UPDATE and DELETE.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    account_id  INTEGER,                                 -- NULL: break-glass token, command line, system
    actor       TEXT    NOT NULL,                        -- the account's address, or what acted
    action      TEXT    NOT NULL,                        -- 'PATCH /people/{id}', 'export', 'erase', …
    object      TEXT,                                    -- 'group 4', 'person 12', …
    person_id   INTEGER,                                 -- the person the entry is about, if any
    request     TEXT,                                    -- JSON
    before_json TEXT,
    after_json  TEXT
);
CREATE INDEX audit_log_person ON audit_log (person_id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- Membership in this group protects the facts of that membership for N years after it ends.
ALTER TABLE groups ADD COLUMN retention_years INTEGER;
-- Set when a person was erased: only protected facts remain, until retain_until (epoch ms).
ALTER TABLE people ADD COLUMN erased_at INTEGER;
ALTER TABLE people ADD COLUMN retain_until INTEGER;
-- For a membership kept by a retention rule after its person was erased: removed after this (epoch ms).
ALTER TABLE memberships ADD COLUMN retain_until INTEGER;
