-- Roles (MLflow 3.13+): named sets of permissions in a workspace, held by users.
-- Deleting a role or a user deletes its permissions and assignments.
CREATE TABLE roles (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace   TEXT    NOT NULL DEFAULT 'default',
    name        TEXT    NOT NULL,
    description TEXT,
    UNIQUE (workspace, name)
);

-- resource_pattern is '*' (every resource of the type) or one resource id.
CREATE TABLE role_permissions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    role_id          INTEGER NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    resource_type    TEXT    NOT NULL,
    resource_pattern TEXT    NOT NULL,
    permission       TEXT    NOT NULL,
    UNIQUE (role_id, resource_type, resource_pattern)
);

CREATE TABLE user_role_assignments (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id INTEGER NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    UNIQUE (user_id, role_id)
);

CREATE INDEX user_role_assignments_role_id ON user_role_assignments (role_id);
