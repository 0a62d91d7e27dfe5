-- Bounce processing (issue 7). An inbound bounce remembers the VERP detail of the address it
-- came to (`anna=example.org=TAG` of board-bounces+anna=example.org=TAG@…) and, once the bounce
-- processor has read it, when and with what result.
ALTER TABLE inbound_bounces ADD COLUMN verp TEXT;
ALTER TABLE inbound_bounces ADD COLUMN processed_at INTEGER;
ALTER TABLE inbound_bounces ADD COLUMN outcome TEXT;
CREATE INDEX inbound_bounces_unprocessed ON inbound_bounces (id) WHERE processed_at IS NULL;

-- A person's bounce score for one list (thousandths of a point). Reaching the threshold sets
-- disabled_at and adds an opt-out with channel 'bounce', which the recipient resolution honours.
CREATE TABLE bounce_scores (
    group_id         INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    person_id        INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    score_milli      INTEGER NOT NULL,
    bounces          INTEGER NOT NULL,
    first_bounce_at  INTEGER NOT NULL,
    last_bounce_at   INTEGER NOT NULL,
    last_counted_day INTEGER NOT NULL,
    last_status      TEXT,
    last_diagnostic  TEXT,
    disabled_at      INTEGER,
    PRIMARY KEY (group_id, person_id)
);
