-- LittlePanda metadata, schema version 1 (SQLite).

-- Content-addressed blobs of LittlePandaFS that the library uses: page images, thumbnails,
-- cropped covers. `refs` counts every use (a page occurrence, a thumbnail of another blob, a
-- cover); a blob whose count falls to zero is released to the store.
CREATE TABLE blobs (
    id          INTEGER PRIMARY KEY,
    hash        BLOB    NOT NULL UNIQUE,
    kind        INTEGER NOT NULL,            -- 1 page image, 2 thumbnail, 3 cover
    format      INTEGER NOT NULL,            -- see ImageFormat
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    thumb_id    INTEGER REFERENCES blobs(id),
    thumb_state INTEGER NOT NULL DEFAULT 0,  -- 0 none yet, 1 made, 2 failed
    refs        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE galleries (
    id                INTEGER PRIMARY KEY,
    public_id         TEXT    NOT NULL UNIQUE,
    title             TEXT    NOT NULL,
    title_original    TEXT    NOT NULL DEFAULT '',
    category          TEXT    NOT NULL DEFAULT '',
    summary           TEXT    NOT NULL DEFAULT '',
    source_filename   TEXT    NOT NULL DEFAULT '',
    archive_hash      BLOB    UNIQUE,
    total_bytes       INTEGER NOT NULL,
    page_count        INTEGER NOT NULL,
    reading_direction INTEGER NOT NULL DEFAULT 0,
    cover_page        INTEGER NOT NULL DEFAULT 0,
    cover_blob_id     INTEGER REFERENCES blobs(id),
    tag_ids           BLOB    NOT NULL,      -- the gallery's tags packed, a copy of its gallery_tags rows
    added_at          INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    posted_at         INTEGER,
    trashed_at        INTEGER
);
CREATE INDEX galleries_by_added ON galleries (added_at, id);

-- The packed page list (see pages.rs), apart from the gallery row so that listing galleries reads
-- only the small rows.
CREATE TABLE gallery_pages (
    gallery_id INTEGER PRIMARY KEY REFERENCES galleries(id) ON DELETE CASCADE,
    pages      BLOB NOT NULL
);

-- Tags are stored normalised (trimmed, lower case), so uniqueness is case-insensitive.
CREATE TABLE tags (
    id        INTEGER PRIMARY KEY,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    UNIQUE (namespace, name)
);

CREATE TABLE gallery_tags (
    gallery_id INTEGER NOT NULL REFERENCES galleries(id) ON DELETE CASCADE,
    tag_id     INTEGER NOT NULL REFERENCES tags(id),
    source     INTEGER NOT NULL,             -- 0 user, 1 file name, 2 sidecar, 3 online
    PRIMARY KEY (gallery_id, tag_id)
) WITHOUT ROWID;
CREATE INDEX gallery_tags_by_tag ON gallery_tags (tag_id, gallery_id);

CREATE TABLE tag_siblings (
    alias_id     INTEGER PRIMARY KEY REFERENCES tags(id),
    canonical_id INTEGER NOT NULL REFERENCES tags(id)
);

CREATE TABLE tag_parents (
    child_id  INTEGER NOT NULL REFERENCES tags(id),
    parent_id INTEGER NOT NULL REFERENCES tags(id),
    PRIMARY KEY (child_id, parent_id)
) WITHOUT ROWID;

CREATE TABLE jobs (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    done       INTEGER NOT NULL DEFAULT 0,
    total      INTEGER NOT NULL DEFAULT 0,
    payload    TEXT    NOT NULL DEFAULT '',
    error      TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX jobs_by_state ON jobs (state, id);

-- Every write appends here, so that in-memory indexes and other servers catch up by sequence.
CREATE TABLE changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    gallery_id INTEGER NOT NULL,
    kind       INTEGER NOT NULL,
    at         INTEGER NOT NULL
);
