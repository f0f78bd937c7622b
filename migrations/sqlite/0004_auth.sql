-- Users, per-resource permissions, access tokens and browser sessions (SQLite).
-- `version` changes with the password or the admin flag: cached credentials carry it,
-- so every replica forgets a changed user at its next request.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
);

CREATE TABLE experiment_permissions (
    experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id),
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    permission    TEXT    NOT NULL,
    PRIMARY KEY (experiment_id, user_id)
) WITHOUT ROWID;
CREATE INDEX experiment_permissions_by_user ON experiment_permissions (user_id);

CREATE TABLE registered_model_permissions (
    name       TEXT    NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    permission TEXT    NOT NULL,
    PRIMARY KEY (name, user_id)
) WITHOUT ROWID;
CREATE INDEX registered_model_permissions_by_user ON registered_model_permissions (user_id);

-- Only a digest of each token is kept; the token itself is shown once.
CREATE TABLE access_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER
);
CREATE INDEX access_tokens_by_user ON access_tokens (user_id);

-- Browser sessions, in the database so any replica accepts them; keyed by a digest.
CREATE TABLE sessions (
    id_hash    TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions (user_id);
