-- Version 4: accounts (see the SQLite migration of the same number for what each table holds).
CREATE TABLE users (
    id            BIGINT  NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name          VARCHAR(64) NOT NULL UNIQUE,
    password_hash VARCHAR(255) CHARACTER SET ascii NOT NULL,
    role          TINYINT NOT NULL,
    created_at    BIGINT  NOT NULL,
    state_version BIGINT  NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
;
CREATE TABLE sessions (
    token_hash BINARY(32) NOT NULL PRIMARY KEY,
    user_id    BIGINT  NOT NULL,
    csrf       CHAR(43) CHARACTER SET ascii NOT NULL,
    created_at BIGINT  NOT NULL,
    seen_at    BIGINT  NOT NULL,
    INDEX sessions_by_user (user_id),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB
;
CREATE TABLE api_keys (
    id         BIGINT  NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id    BIGINT  NOT NULL,
    name       VARCHAR(255) NOT NULL,
    key_hash   BINARY(32) NOT NULL UNIQUE,
    scope      TINYINT NOT NULL,
    created_at BIGINT  NOT NULL,
    used_at    BIGINT  NULL,
    INDEX api_keys_by_user (user_id),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
;
CREATE TABLE login_failures (
    subject  VARCHAR(255) NOT NULL PRIMARY KEY,
    failures INT     NOT NULL,
    last_at  BIGINT  NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
;
CREATE TABLE reading_progress (
    user_id    BIGINT  NOT NULL,
    gallery_id BIGINT  NOT NULL,
    page       INT     NOT NULL,
    finished   TINYINT NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (user_id, gallery_id),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    FOREIGN KEY (gallery_id) REFERENCES galleries (id) ON DELETE CASCADE
) ENGINE=InnoDB
;
CREATE TABLE favorites (
    user_id    BIGINT NOT NULL,
    gallery_id BIGINT NOT NULL,
    added_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, gallery_id),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    FOREIGN KEY (gallery_id) REFERENCES galleries (id) ON DELETE CASCADE
) ENGINE=InnoDB
;
CREATE TABLE collections (
    id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id    BIGINT NOT NULL,
    name       VARCHAR(255) NOT NULL,
    saved_query TEXT   NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (user_id, name),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
;
CREATE TABLE collection_items (
    collection_id BIGINT NOT NULL,
    gallery_id    BIGINT NOT NULL,
    added_at      BIGINT NOT NULL,
    PRIMARY KEY (collection_id, gallery_id),
    FOREIGN KEY (collection_id) REFERENCES collections (id) ON DELETE CASCADE,
    FOREIGN KEY (gallery_id) REFERENCES galleries (id) ON DELETE CASCADE
) ENGINE=InnoDB
