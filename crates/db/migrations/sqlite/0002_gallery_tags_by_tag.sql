-- Version 2: gallery_tags becomes one tree keyed by (tag, gallery). A gallery's own tags are read
-- from its packed `galleries.tag_ids`, written in the same transaction as these rows, so the
-- (gallery, tag) primary key and the by-tag index it needed beside it were the same rows twice:
-- every tag link was written into two trees, and bulk loads had to drop and rebuild one of them.

CREATE TABLE gallery_tags_new (
    tag_id     INTEGER NOT NULL REFERENCES tags(id),
    gallery_id INTEGER NOT NULL,             -- removed with its gallery by purge, from tag_ids
    source     INTEGER NOT NULL,             -- 0 user, 1 file name, 2 sidecar, 3 online
    PRIMARY KEY (tag_id, gallery_id)
) WITHOUT ROWID;
INSERT INTO gallery_tags_new (tag_id, gallery_id, source)
    SELECT tag_id, gallery_id, source FROM gallery_tags ORDER BY tag_id, gallery_id;
DROP TABLE gallery_tags;
ALTER TABLE gallery_tags_new RENAME TO gallery_tags;
