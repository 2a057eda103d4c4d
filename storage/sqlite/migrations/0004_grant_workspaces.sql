-- Direct grants live in a workspace, as roles do; existing ones in 'default'.
-- SQLite cannot change a table's UNIQUE key in place, so the table is rebuilt.
CREATE TABLE grants_ws (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workspace     TEXT    NOT NULL DEFAULT 'default',
    resource_type TEXT    NOT NULL,
    resource_id   TEXT    NOT NULL,
    permission    TEXT    NOT NULL,
    UNIQUE (workspace, resource_type, resource_id, user_id)
);

INSERT INTO grants_ws (id, user_id, resource_type, resource_id, permission)
SELECT id, user_id, resource_type, resource_id, permission FROM grants;

DROP TABLE grants;
ALTER TABLE grants_ws RENAME TO grants;
CREATE INDEX grants_user_id ON grants (user_id, workspace);
