-- The directory's change log: every change to a table the in-memory directory is built from
-- writes a row here, in the same transaction, naming what changed ('person' a = person id,
-- 'group' a = group id, 'membership' a = group, b = person, 'subgroup' a = parent, b = child,
-- 'opt_out' a = person, b = group, 'vocabulary': types, teams, services or custom fields).
-- Each instance reads the rows after the last id it applied and re-reads just those people,
-- groups and links (src/groups/mod.rs); 'vocabulary' makes it rebuild. Ids are handed out in
-- commit order (SQLite serialises writers), so an instance never skips a change committed late.
-- directory_log.pruned_through: rows up to this id were deleted (older than an hour); an
-- instance whose last id is older rebuilds.

CREATE TABLE directory_changes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    a          INTEGER,
    b          INTEGER,
    created_at INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);
CREATE INDEX directory_changes_created ON directory_changes (created_at);
CREATE TABLE directory_log (id INTEGER PRIMARY KEY CHECK (id = 1), pruned_through INTEGER NOT NULL);
INSERT INTO directory_log (id, pruned_through) VALUES (1, 0);

CREATE TRIGGER people_insert_log AFTER INSERT ON people BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('person', NEW.id, NULL); END;
CREATE TRIGGER people_update_log AFTER UPDATE ON people BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('person', OLD.id, NULL); INSERT INTO directory_changes (kind, a, b) VALUES ('person', NEW.id, NULL); END;
CREATE TRIGGER people_delete_log AFTER DELETE ON people BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('person', OLD.id, NULL); END;
CREATE TRIGGER person_teams_insert_log AFTER INSERT ON person_teams BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('person', NEW.person_id, NULL); END;
CREATE TRIGGER person_teams_update_log AFTER UPDATE ON person_teams BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('person', OLD.person_id, NULL); INSERT INTO directory_changes (kind, a, b) VALUES ('person', NEW.person_id, NULL); END;
CREATE TRIGGER person_teams_delete_log AFTER DELETE ON person_teams BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('person', OLD.person_id, NULL); END;
CREATE TRIGGER person_services_insert_log AFTER INSERT ON person_services BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('person', NEW.person_id, NULL); END;
CREATE TRIGGER person_services_update_log AFTER UPDATE ON person_services BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('person', OLD.person_id, NULL); INSERT INTO directory_changes (kind, a, b) VALUES ('person', NEW.person_id, NULL); END;
CREATE TRIGGER person_services_delete_log AFTER DELETE ON person_services BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('person', OLD.person_id, NULL); END;
CREATE TRIGGER person_field_values_insert_log AFTER INSERT ON person_field_values BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('person', NEW.person_id, NULL); END;
CREATE TRIGGER person_field_values_update_log AFTER UPDATE ON person_field_values BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('person', OLD.person_id, NULL); INSERT INTO directory_changes (kind, a, b) VALUES ('person', NEW.person_id, NULL); END;
CREATE TRIGGER person_field_values_delete_log AFTER DELETE ON person_field_values BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('person', OLD.person_id, NULL); END;
CREATE TRIGGER membership_periods_insert_log AFTER INSERT ON membership_periods BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('person', NEW.person_id, NULL); END;
CREATE TRIGGER membership_periods_update_log AFTER UPDATE ON membership_periods BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('person', OLD.person_id, NULL); INSERT INTO directory_changes (kind, a, b) VALUES ('person', NEW.person_id, NULL); END;
CREATE TRIGGER membership_periods_delete_log AFTER DELETE ON membership_periods BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('person', OLD.person_id, NULL); END;
CREATE TRIGGER groups_insert_log AFTER INSERT ON groups BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('group', NEW.id, NULL); END;
CREATE TRIGGER groups_update_log AFTER UPDATE ON groups BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('group', OLD.id, NULL); INSERT INTO directory_changes (kind, a, b) VALUES ('group', NEW.id, NULL); END;
CREATE TRIGGER groups_delete_log AFTER DELETE ON groups BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('group', OLD.id, NULL); END;
CREATE TRIGGER memberships_insert_log AFTER INSERT ON memberships BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('membership', NEW.group_id, NEW.person_id); END;
CREATE TRIGGER memberships_update_log AFTER UPDATE ON memberships BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('membership', OLD.group_id, OLD.person_id); INSERT INTO directory_changes (kind, a, b) VALUES ('membership', NEW.group_id, NEW.person_id); END;
CREATE TRIGGER memberships_delete_log AFTER DELETE ON memberships BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('membership', OLD.group_id, OLD.person_id); END;
CREATE TRIGGER subgroups_insert_log AFTER INSERT ON subgroups BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('subgroup', NEW.parent_id, NEW.child_id); END;
CREATE TRIGGER subgroups_update_log AFTER UPDATE ON subgroups BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('subgroup', OLD.parent_id, OLD.child_id); INSERT INTO directory_changes (kind, a, b) VALUES ('subgroup', NEW.parent_id, NEW.child_id); END;
CREATE TRIGGER subgroups_delete_log AFTER DELETE ON subgroups BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('subgroup', OLD.parent_id, OLD.child_id); END;
CREATE TRIGGER opt_outs_insert_log AFTER INSERT ON opt_outs BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('opt_out', NEW.person_id, NEW.group_id); END;
CREATE TRIGGER opt_outs_update_log AFTER UPDATE ON opt_outs BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('opt_out', OLD.person_id, OLD.group_id); INSERT INTO directory_changes (kind, a, b) VALUES ('opt_out', NEW.person_id, NEW.group_id); END;
CREATE TRIGGER opt_outs_delete_log AFTER DELETE ON opt_outs BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('opt_out', OLD.person_id, OLD.group_id); END;
CREATE TRIGGER membership_types_insert_log AFTER INSERT ON membership_types BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('vocabulary', NULL, NULL); END;
CREATE TRIGGER membership_types_update_log AFTER UPDATE ON membership_types BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('vocabulary', NULL, NULL); END;
CREATE TRIGGER membership_types_delete_log AFTER DELETE ON membership_types BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('vocabulary', NULL, NULL); END;
CREATE TRIGGER teams_insert_log AFTER INSERT ON teams BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('vocabulary', NULL, NULL); END;
CREATE TRIGGER teams_update_log AFTER UPDATE ON teams BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('vocabulary', NULL, NULL); END;
CREATE TRIGGER teams_delete_log AFTER DELETE ON teams BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('vocabulary', NULL, NULL); END;
CREATE TRIGGER services_insert_log AFTER INSERT ON services BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('vocabulary', NULL, NULL); END;
CREATE TRIGGER services_update_log AFTER UPDATE ON services BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('vocabulary', NULL, NULL); END;
CREATE TRIGGER services_delete_log AFTER DELETE ON services BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('vocabulary', NULL, NULL); END;
CREATE TRIGGER custom_fields_insert_log AFTER INSERT ON custom_fields BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('vocabulary', NULL, NULL); END;
CREATE TRIGGER custom_fields_update_log AFTER UPDATE ON custom_fields BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('vocabulary', NULL, NULL); END;
CREATE TRIGGER custom_fields_delete_log AFTER DELETE ON custom_fields BEGIN INSERT INTO directory_changes (kind, a, b) VALUES ('vocabulary', NULL, NULL); END;
