-- LittlePanda metadata, schema version 1 (MySQL / MariaDB). Statements are separated by lines
-- holding only ";" because MySQL runs one statement per call.

CREATE TABLE blobs (
    id          BIGINT   NOT NULL AUTO_INCREMENT PRIMARY KEY,
    hash        BINARY(32) NOT NULL UNIQUE,
    kind        TINYINT  NOT NULL,
    format      TINYINT  NOT NULL,
    width       INT      NOT NULL,
    height      INT      NOT NULL,
    bytes       BIGINT   NOT NULL,
    thumb_id    BIGINT   NULL,
    thumb_state TINYINT  NOT NULL DEFAULT 0,
    refs        BIGINT   NOT NULL DEFAULT 0,
    FOREIGN KEY (thumb_id) REFERENCES blobs (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
;
CREATE TABLE galleries (
    id                BIGINT   NOT NULL AUTO_INCREMENT PRIMARY KEY,
    public_id         CHAR(40) CHARACTER SET ascii NOT NULL UNIQUE,
    title             TEXT     NOT NULL,
    title_original    TEXT     NOT NULL,
    category          VARCHAR(255) NOT NULL DEFAULT '',
    summary           TEXT     NOT NULL,
    source_filename   TEXT     NOT NULL,
    archive_hash      BINARY(32) NULL UNIQUE,
    total_bytes       BIGINT   NOT NULL,
    page_count        INT      NOT NULL,
    reading_direction TINYINT  NOT NULL DEFAULT 0,
    cover_page        INT      NOT NULL DEFAULT 0,
    cover_blob_id     BIGINT   NULL,
    tag_ids           BLOB     NOT NULL,
    added_at          BIGINT   NOT NULL,
    updated_at        BIGINT   NOT NULL,
    posted_at         BIGINT   NULL,
    trashed_at        BIGINT   NULL,
    INDEX galleries_by_added (added_at, id),
    FOREIGN KEY (cover_blob_id) REFERENCES blobs (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
;
CREATE TABLE gallery_pages (
    gallery_id BIGINT     NOT NULL PRIMARY KEY,
    pages      MEDIUMBLOB NOT NULL,
    FOREIGN KEY (gallery_id) REFERENCES galleries (id) ON DELETE CASCADE
) ENGINE=InnoDB
;
CREATE TABLE tags (
    id        BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    namespace VARCHAR(64)  NOT NULL,
    name      VARCHAR(255) NOT NULL,
    UNIQUE KEY tags_by_name (namespace, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
;
CREATE TABLE gallery_tags (
    gallery_id BIGINT  NOT NULL,
    tag_id     BIGINT  NOT NULL,
    source     TINYINT NOT NULL,
    PRIMARY KEY (gallery_id, tag_id),
    INDEX gallery_tags_by_tag (tag_id, gallery_id),
    FOREIGN KEY (gallery_id) REFERENCES galleries (id) ON DELETE CASCADE,
    FOREIGN KEY (tag_id) REFERENCES tags (id)
) ENGINE=InnoDB
;
CREATE TABLE tag_siblings (
    alias_id     BIGINT NOT NULL PRIMARY KEY,
    canonical_id BIGINT NOT NULL,
    FOREIGN KEY (alias_id) REFERENCES tags (id),
    FOREIGN KEY (canonical_id) REFERENCES tags (id)
) ENGINE=InnoDB
;
CREATE TABLE tag_parents (
    child_id  BIGINT NOT NULL,
    parent_id BIGINT NOT NULL,
    PRIMARY KEY (child_id, parent_id),
    FOREIGN KEY (child_id) REFERENCES tags (id),
    FOREIGN KEY (parent_id) REFERENCES tags (id)
) ENGINE=InnoDB
;
CREATE TABLE jobs (
    id         BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind       VARCHAR(64) NOT NULL,
    state      VARCHAR(32) NOT NULL,
    done       BIGINT      NOT NULL DEFAULT 0,
    total      BIGINT      NOT NULL DEFAULT 0,
    payload    MEDIUMTEXT  NOT NULL,
    error      TEXT        NULL,
    created_at BIGINT      NOT NULL,
    updated_at BIGINT      NOT NULL,
    INDEX jobs_by_state (state, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
;
CREATE TABLE changes (
    seq        BIGINT  NOT NULL AUTO_INCREMENT PRIMARY KEY,
    gallery_id BIGINT  NOT NULL,
    kind       TINYINT NOT NULL,
    at         BIGINT  NOT NULL
) ENGINE=InnoDB
