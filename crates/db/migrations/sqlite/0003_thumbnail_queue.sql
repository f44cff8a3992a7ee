-- Version 3: the page images still waiting for a thumbnail, found without a scan of all blobs.
-- thumb_state gains 3: no decoder for the format in this build (tried again by a later one).
CREATE INDEX blobs_needing_thumbnails ON blobs (id) WHERE thumb_state = 0 AND kind = 1;
