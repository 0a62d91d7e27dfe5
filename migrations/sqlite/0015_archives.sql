-- The archives: each distributed post as its list copy, once per list, threaded; full-text
-- search through FTS5. `key` is the message's public name in URLs (Archived-At): the queue id
-- for posts that went out, `imp-…` for imported ones.
CREATE TABLE archive_messages (
    id            INTEGER PRIMARY KEY,
    group_id      INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    key           TEXT    NOT NULL UNIQUE,
    message_id    TEXT    NOT NULL,            -- without <>, as written
    thread_id     INTEGER NOT NULL,            -- the id of the thread's first message (stays if it goes)
    parent_id     INTEGER,                     -- the message this one answers, when archived
    subject       TEXT    NOT NULL,
    norm_subject  TEXT    NOT NULL,            -- without Re:/Sv:/Fwd: and the list prefix, lower-cased
    author_name   TEXT    NOT NULL,
    author_email  TEXT    NOT NULL,            -- lower-cased; '' when erased
    at            INTEGER NOT NULL,            -- ms: when it reached the list (imports: its Date)
    month         TEXT    NOT NULL,            -- YYYY-MM of `at` (UTC)
    size          INTEGER NOT NULL,
    raw           BLOB    NOT NULL,
    imported      INTEGER NOT NULL DEFAULT 0,
    erased        INTEGER NOT NULL DEFAULT 0,
    UNIQUE (group_id, message_id)
);
CREATE INDEX archive_messages_month ON archive_messages (group_id, month, at);
CREATE INDEX archive_messages_thread ON archive_messages (thread_id, at);
CREATE INDEX archive_messages_author ON archive_messages (author_email);
CREATE INDEX archive_messages_subject ON archive_messages (group_id, norm_subject, at);

-- Message-IDs a message refers to (In-Reply-To, References): a reply that arrives before the
-- message it answers is attached when that one comes.
CREATE TABLE archive_refs (
    group_id    INTEGER NOT NULL,
    ref         TEXT    NOT NULL,
    message     INTEGER NOT NULL REFERENCES archive_messages(id) ON DELETE CASCADE
);
CREATE INDEX archive_refs_ref ON archive_refs (group_id, ref);
CREATE INDEX archive_refs_message ON archive_refs (message);

-- The words of each message (subject, author, decoded text of the body); rowid = message id.
CREATE VIRTUAL TABLE archive_fts USING fts5 (
    subject, author, body,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
