-- Direct grants live in a workspace, as roles do; existing ones in 'default'.
ALTER TABLE grants ADD COLUMN workspace text COLLATE "C" NOT NULL DEFAULT 'default';
ALTER TABLE grants DROP CONSTRAINT grants_resource_type_resource_id_user_id_key;
ALTER TABLE grants ADD CONSTRAINT grants_workspace_key UNIQUE (workspace, resource_type, resource_id, user_id);
DROP INDEX grants_user_id;
CREATE INDEX grants_user_id ON grants (user_id, workspace);
