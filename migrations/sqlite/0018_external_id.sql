-- The member register's own number for a person (its member number), the key of a CSV import
-- when present: a changed address updates the person instead of creating a second one.
ALTER TABLE people ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX people_external_id ON people (external_id);
-- The audit log filtered by who acted (the web page's filter), newest first.
CREATE INDEX audit_log_actor ON audit_log (actor, id);
