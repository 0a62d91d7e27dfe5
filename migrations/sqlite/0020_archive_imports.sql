-- mbox files uploaded by administrators into a list's archive: who, how far (bytes of the file
-- read; a page follows it), and what came of it. `updated_at` moves while the import runs: a
-- running import whose `updated_at` stopped was cut off (a restart) and is shown as interrupted.
CREATE TABLE archive_imports (
    id           INTEGER PRIMARY KEY,
    group_id     INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    actor        TEXT    NOT NULL,
    file_name    TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    state        TEXT    NOT NULL,             -- running, done, failed
    total_bytes  INTEGER NOT NULL,
    read_bytes   INTEGER NOT NULL DEFAULT 0,
    added        INTEGER NOT NULL DEFAULT 0,
    duplicates   INTEGER NOT NULL DEFAULT 0,
    unreadable   TEXT    NOT NULL DEFAULT '[]', -- JSON: [{"position": N, "why": "line L: …"}]
    error        TEXT
);
CREATE INDEX archive_imports_group ON archive_imports (group_id, id);
