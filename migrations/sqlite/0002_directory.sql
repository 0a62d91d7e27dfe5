-- Groups as the organisation sees them: people with attributes and membership history; groups
-- fed by direct members (with role and term), subgroups, rules and system-kept standard groups;
-- opt-outs. Dates are 'YYYY-MM-DD' text (compare as text; inclusive bounds).

CREATE TABLE membership_types (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE teams            (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE services         (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);

ALTER TABLE people ADD COLUMN status TEXT NOT NULL DEFAULT 'active';          -- active | resigned
ALTER TABLE people ADD COLUMN membership_type_id INTEGER REFERENCES membership_types(id);
ALTER TABLE people ADD COLUMN profile_type TEXT NOT NULL DEFAULT 'person';    -- person | organisation | public_body
ALTER TABLE people ADD COLUMN no_list_mail INTEGER NOT NULL DEFAULT 0;        -- opted out of all list mail

CREATE TABLE person_teams (
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    team_id   INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    PRIMARY KEY (person_id, team_id)
);
CREATE TABLE person_services (
    person_id  INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    PRIMARY KEY (person_id, service_id)
);

-- kind: single (one of options) | multiple (any of options) | checkbox (true/false).
CREATE TABLE custom_fields (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    kind    TEXT NOT NULL CHECK (kind IN ('single', 'multiple', 'checkbox')),
    options TEXT NOT NULL DEFAULT '[]'                                           -- JSON array of strings
);
CREATE TABLE person_field_values (
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    field_id  INTEGER NOT NULL REFERENCES custom_fields(id) ON DELETE CASCADE,
    value     TEXT NOT NULL,
    PRIMARY KEY (person_id, field_id, value)
);

-- Membership of the association over time: kept as history, never overwritten.
CREATE TABLE membership_periods (
    id        INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    joined_on TEXT NOT NULL,
    left_on   TEXT
);
CREATE INDEX membership_periods_person ON membership_periods (person_id);

-- standard_key: set for groups the system keeps ('active', 'resigned', 'type:ID', 'team:ID',
-- 'service:ID', 'default'); they cannot be deleted, only deactivated.
ALTER TABLE groups ADD COLUMN standard_key TEXT;
ALTER TABLE groups ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
ALTER TABLE groups ADD COLUMN criteria TEXT;                                   -- JSON rule, see src/groups/criteria.rs
CREATE UNIQUE INDEX groups_standard_key ON groups (standard_key);

-- Direct members, now with a role and an optional term (a person may hold several terms).
CREATE TABLE memberships_v2 (
    id          INTEGER PRIMARY KEY,
    group_id    INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    person_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    role        TEXT    NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'manager')),
    valid_from  TEXT,
    valid_until TEXT,
    created_at  INTEGER NOT NULL
);
INSERT INTO memberships_v2 (group_id, person_id, role, created_at)
    SELECT group_id, person_id, role, created_at FROM memberships;
DROP TABLE memberships;
ALTER TABLE memberships_v2 RENAME TO memberships;
CREATE UNIQUE INDEX memberships_term ON memberships (group_id, person_id, COALESCE(valid_from, ''));
CREATE INDEX memberships_person ON memberships (person_id);

-- Groups in groups. as_manager = 1: the child's members are members *and managers* of the parent.
CREATE TABLE subgroups (
    parent_id  INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    child_id   INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    as_manager INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (parent_id, child_id),
    CHECK (parent_id <> child_id)
);
CREATE INDEX subgroups_child ON subgroups (child_id);

-- Opt-outs: group_id NULL means all list mail. Kept when memberships change.
CREATE TABLE opt_outs (
    id         INTEGER PRIMARY KEY,
    person_id  INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    group_id   INTEGER REFERENCES groups(id) ON DELETE CASCADE,
    channel    TEXT NOT NULL DEFAULT 'admin',                                    -- admin | link | mailto
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX opt_outs_once ON opt_outs (person_id, COALESCE(group_id, 0));

-- Bumped by every change to the tables above, so every instance knows its in-memory copy of
-- the directory is stale (src/groups/directory.rs).
CREATE TABLE directory_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
INSERT INTO directory_version (id, version) VALUES (1, 0);

CREATE TRIGGER people_insert_bump AFTER INSERT ON people BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER people_update_bump AFTER UPDATE ON people BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER people_delete_bump AFTER DELETE ON people BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER membership_types_insert_bump AFTER INSERT ON membership_types BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER membership_types_update_bump AFTER UPDATE ON membership_types BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER membership_types_delete_bump AFTER DELETE ON membership_types BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER teams_insert_bump AFTER INSERT ON teams BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER teams_update_bump AFTER UPDATE ON teams BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER teams_delete_bump AFTER DELETE ON teams BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER services_insert_bump AFTER INSERT ON services BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER services_update_bump AFTER UPDATE ON services BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER services_delete_bump AFTER DELETE ON services BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER person_teams_insert_bump AFTER INSERT ON person_teams BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER person_teams_update_bump AFTER UPDATE ON person_teams BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER person_teams_delete_bump AFTER DELETE ON person_teams BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER person_services_insert_bump AFTER INSERT ON person_services BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER person_services_update_bump AFTER UPDATE ON person_services BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER person_services_delete_bump AFTER DELETE ON person_services BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER custom_fields_insert_bump AFTER INSERT ON custom_fields BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER custom_fields_update_bump AFTER UPDATE ON custom_fields BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER custom_fields_delete_bump AFTER DELETE ON custom_fields BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER person_field_values_insert_bump AFTER INSERT ON person_field_values BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER person_field_values_update_bump AFTER UPDATE ON person_field_values BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER person_field_values_delete_bump AFTER DELETE ON person_field_values BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER membership_periods_insert_bump AFTER INSERT ON membership_periods BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER membership_periods_update_bump AFTER UPDATE ON membership_periods BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER membership_periods_delete_bump AFTER DELETE ON membership_periods BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER groups_insert_bump AFTER INSERT ON groups BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER groups_update_bump AFTER UPDATE ON groups BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER groups_delete_bump AFTER DELETE ON groups BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER memberships_insert_bump AFTER INSERT ON memberships BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER memberships_update_bump AFTER UPDATE ON memberships BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER memberships_delete_bump AFTER DELETE ON memberships BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER subgroups_insert_bump AFTER INSERT ON subgroups BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER subgroups_update_bump AFTER UPDATE ON subgroups BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER subgroups_delete_bump AFTER DELETE ON subgroups BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER opt_outs_insert_bump AFTER INSERT ON opt_outs BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER opt_outs_update_bump AFTER UPDATE ON opt_outs BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER opt_outs_delete_bump AFTER DELETE ON opt_outs BEGIN UPDATE directory_version SET version = version + 1 WHERE id = 1; END;
