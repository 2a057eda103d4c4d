-- The audit trail. Times are Unix microseconds; before_value and after_value are
-- JSON text. actor_user_id has no foreign key: a row outlives its user.
CREATE TABLE audit_events (
    id             INTEGER PRIMARY KEY, -- no AUTOINCREMENT: pruning removes the oldest rows, never the newest
    at             INTEGER NOT NULL,
    category       TEXT    NOT NULL CHECK (category IN ('auth', 'admin')),
    event          TEXT    NOT NULL,
    actor_user_id  INTEGER,
    actor_username TEXT    NOT NULL DEFAULT '',
    auth_method    TEXT    NOT NULL DEFAULT '',
    token_id       INTEGER,
    client_addr    TEXT    NOT NULL DEFAULT '',
    user_agent     TEXT    NOT NULL DEFAULT '',
    resource_type  TEXT    NOT NULL DEFAULT '',
    resource_id    TEXT    NOT NULL DEFAULT '',
    workspace      TEXT    NOT NULL DEFAULT '',
    operation      TEXT    NOT NULL DEFAULT '',
    outcome        TEXT    NOT NULL CHECK (outcome IN ('success', 'denied', 'error')),
    reason         TEXT    NOT NULL DEFAULT '',
    request_id     TEXT    NOT NULL DEFAULT '',
    trace_id       TEXT    NOT NULL DEFAULT '',
    before_value   TEXT,
    after_value    TEXT,
    repeat_count   INTEGER NOT NULL DEFAULT 1
);
-- One index, for retention and time ranges: every index is another page each
-- audited change writes, and filters by actor or resource are rare admin reads.
CREATE INDEX audit_events_at ON audit_events (at);
