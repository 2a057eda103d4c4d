CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0
);

-- One row per direct grant. Deleting a user deletes their grants.
CREATE TABLE grants (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    resource_type TEXT    NOT NULL,
    resource_id   TEXT    NOT NULL,
    permission    TEXT    NOT NULL,
    UNIQUE (resource_type, resource_id, user_id)
);

CREATE INDEX grants_user_id ON grants (user_id);
