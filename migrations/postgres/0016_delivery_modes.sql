-- How each person gets each list (src/digest/): absent = every post. A mode other than
-- 'every' keeps the membership (posting rights, archive access); 'none' sends nothing.
CREATE TABLE delivery_modes (
    person_id  BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    group_id   BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    mode       TEXT    NOT NULL CHECK (mode IN ('daily', 'weekly', 'none')),
    since      BIGINT NOT NULL,                 -- when the mode was set (a digest starts here)
    PRIMARY KEY (person_id, group_id)
);
CREATE INDEX delivery_modes_group ON delivery_modes (group_id, mode);

-- All list mail paused until a day (UTC, 'YYYY-MM-DD'; mail comes again from that day on).
CREATE TABLE delivery_pauses (
    person_id  BIGINT PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    until_day  TEXT    NOT NULL,
    until_ms   BIGINT NOT NULL,                 -- the start of until_day, for comparisons
    set_at     BIGINT NOT NULL
);

-- Per list and digest kind, the end of the last digest period sent: a digest run moves it
-- forward in the transaction that queues the digests (compare-and-set), so each period goes
-- out once, whatever crashes and however many instances run.
CREATE TABLE digest_state (
    group_id    BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    mode        TEXT    NOT NULL,
    last_cutoff BIGINT NOT NULL,
    PRIMARY KEY (group_id, mode)
);
