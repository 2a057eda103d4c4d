-- The audit row's category and outcome are checked where every row is made
-- (storage.AuditArgs), on both backends, before anything is written. Postgres
-- turned these two CHECK constraints from their stored text into expressions
-- again for every INSERT: perf put it at about 40% of the Postgres CPU that
-- inserting the row took. SQLite keeps its own (compiled once per prepared
-- statement, and dropping one would mean copying the table).
ALTER TABLE audit_events DROP CONSTRAINT IF EXISTS audit_events_category_check;
ALTER TABLE audit_events DROP CONSTRAINT IF EXISTS audit_events_outcome_check;
