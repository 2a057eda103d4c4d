-- The levels of a refusal (permission.denied): what the action required and what
-- the caller held, MLflow's names, '' where the rule is not a level (admins
-- only, own user). Columns of their own rather than words in reason, so that
-- admins can select refusals by level; NOT NULL DEFAULT '' keeps the rows
-- written before, and is a change of the catalogue only, with no table rewrite.
ALTER TABLE audit_events ADD COLUMN required_level text NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN held_level text NOT NULL DEFAULT '';
