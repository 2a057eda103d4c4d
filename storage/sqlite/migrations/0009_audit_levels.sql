-- The levels of a refusal (permission.denied): what the action required and what
-- the caller held, MLflow's names, '' where the rule is not a level (admins
-- only, own user). Columns of their own rather than words in reason, so that
-- admins can select refusals by level; the default keeps the rows written before.
ALTER TABLE audit_events ADD COLUMN required_level TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN held_level TEXT NOT NULL DEFAULT '';
