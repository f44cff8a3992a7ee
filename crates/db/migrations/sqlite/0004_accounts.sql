-- Version 4: accounts. Users with roles, sessions and API keys (stored as hashes of their secrets,
-- never the secrets), failed-login counters for throttling, and each user's own state: reading
-- progress, favorites and collections (hand-picked lists and saved searches).
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          INTEGER NOT NULL,           -- 0 reader, 1 editor, 2 admin
    created_at    INTEGER NOT NULL,
    state_version INTEGER NOT NULL DEFAULT 0  -- bumped on every change of the user's own state
);
CREATE TABLE sessions (
    token_hash BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    key_hash   BLOB    NOT NULL UNIQUE,
    scope      INTEGER NOT NULL,              -- 0 read, 1 read-write
    created_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX api_keys_by_user ON api_keys (user_id);
CREATE TABLE login_failures (
    subject   TEXT    PRIMARY KEY,            -- "user:NAME" or "addr:ADDRESS"
    failures  INTEGER NOT NULL,
    last_at   INTEGER NOT NULL
);
CREATE TABLE reading_progress (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    gallery_id INTEGER NOT NULL REFERENCES galleries(id) ON DELETE CASCADE,
    page       INTEGER NOT NULL,
    finished   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, gallery_id)
) WITHOUT ROWID;
CREATE TABLE favorites (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    gallery_id INTEGER NOT NULL REFERENCES galleries(id) ON DELETE CASCADE,
    added_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, gallery_id)
) WITHOUT ROWID;
CREATE TABLE collections (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    saved_query TEXT,                          -- a saved search; NULL for a hand-picked list
    created_at INTEGER NOT NULL,
    UNIQUE (user_id, name)
);
CREATE TABLE collection_items (
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    gallery_id    INTEGER NOT NULL REFERENCES galleries(id) ON DELETE CASCADE,
    added_at      INTEGER NOT NULL,
    PRIMARY KEY (collection_id, gallery_id)
) WITHOUT ROWID;
