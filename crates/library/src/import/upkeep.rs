//! What the importer does after imports: releasing what nothing uses (a failed import's
//! images, a purged gallery's, what killed imports left), thumbnails, and covers.

use super::*;

impl Importer {
    /// Deletes those of `hashes` that nothing in the library uses; answers how many it deleted.
    /// Checked again under the commit lock: an import that committed a gallery using one of them
    /// since they were let go keeps it.
    pub(super) fn release_unused(&self, hashes: &[BlobHash]) -> Result<usize, ImportError> {
        if hashes.is_empty() {
            return Ok(0);
        }
        let _guard = self
            .commit_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let used = self.db.galleries().referenced(hashes)?;
        let mut released = 0;
        for h in hashes.iter().filter(|h| !used.contains(h)) {
            if self.store.delete(h)? {
                released += 1;
            }
        }
        Ok(released)
    }

    /// Deletes a gallery for good, then the images nothing else uses (re-checked under the
    /// commit lock, so that an import committing the same images meanwhile keeps them); answers
    /// how many images were released. The one way every surface purges.
    pub fn purge(&self, public_id: &str) -> Result<usize, ImportError> {
        let let_go = self.db.galleries().purge(public_id)?;
        self.release_unused(&let_go)
    }

    /// Deletes every stored blob that nothing in the library uses: what imports killed mid-way
    /// left behind. Only safe while no import runs (callers hold the store alone); answers how
    /// many were released.
    pub fn release_orphans(&self) -> Result<u64, ImportError> {
        let _guard = self
            .commit_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut after: Option<BlobHash> = None;
        let mut released = 0;
        loop {
            let batch = self.store.list(after.as_ref(), 10_000)?;
            let Some(last) = batch.last().copied() else {
                return Ok(released);
            };
            let used = self.db.galleries().referenced(&batch)?;
            for h in batch.iter().filter(|h| !used.contains(h)) {
                if self.store.delete(h)? {
                    released += 1;
                }
            }
            after = Some(last);
        }
    }

    /// Makes thumbnails for up to `limit` page images that have none yet (the background job);
    /// answers how many images were looked at (0: nothing is waiting).
    pub fn make_pending_thumbnails(&self, limit: usize) -> Result<usize, ImportError> {
        let waiting = self.db.galleries().images_needing_thumbnails(limit)?;
        let threads = self.thumbnail_threads.clamp(1, waiting.len().max(1));
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| -> Result<(), ImportError> {
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(image) = waiting.get(i) else {
                                return Ok(());
                            };
                            if let Some(w) = self.make_thumbnail(image)? {
                                tracing::debug!(image = %image.hash, warning = %w, "thumbnail");
                            }
                        }
                    })
                })
                .collect();
            workers.into_iter().try_for_each(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(ImportError::Invalid("a thumbnail worker panicked".into()))
                })
            })
        })?;
        Ok(waiting.len())
    }

    /// Makes page `position` the gallery's cover, and releases the cut-out cover it replaces
    /// (when nothing else uses it).
    pub fn set_cover_page(&self, public_id: &str, position: u32) -> Result<(), ImportError> {
        let let_go = self.db.galleries().set_cover_page(public_id, position)?;
        self.release_unused(&let_go)?;
        Ok(())
    }

    /// Makes the `part` of page `position` the gallery's cover (cut and scaled to thumbnail size),
    /// and deletes the cropped cover it replaces. Answers the new cover's hash.
    pub fn set_cropped_cover(
        &self,
        public_id: &str,
        position: u32,
        part: thumb::Crop,
    ) -> Result<BlobHash, ImportError> {
        let pages = self.db.galleries().pages(public_id)?;
        let page = pages.get(position as usize).ok_or_else(|| {
            ImportError::Invalid(format!(
                "page {} is past the gallery's {} pages",
                position + 1,
                pages.len()
            ))
        })?;
        let bytes = self.store.get(&page.blob.hash)?.ok_or_else(|| {
            ImportError::Invalid("the page's image is missing from the image store".into())
        })?;
        let cover = thumb::crop(&bytes, page.blob.format, part, &self.thumbnails)
            .map_err(|e| ImportError::Invalid(format!("the cover cannot be cut: {e}")))?;
        let put = self.store.put(&cover.jpeg)?;
        let released = self.db.galleries().set_cover_image(
            public_id,
            position,
            &BlobInfo {
                hash: put.hash,
                format: ImageFormat::Jpeg,
                width: cover.width,
                height: cover.height,
                bytes: cover.jpeg.len() as u64,
            },
        )?;
        self.release_unused(&released)?;
        Ok(put.hash)
    }

    /// Makes and records the thumbnail of an image; answers a warning when none could be made.
    ///
    /// Made once however many ask at the same time (the others wait, then find it made), and
    /// decoded within the [`Importer::decode_budget`].
    pub fn make_thumbnail(&self, image: &BlobInfo) -> Result<Option<String>, ImportError> {
        let slot = self
            .thumbnailing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(image.hash)
            .or_default()
            .clone();
        let made = {
            let _one_at_a_time = slot.lock().unwrap_or_else(PoisonError::into_inner);
            match self.db.galleries().thumbnail_of(&image.hash)? {
                Some(db::ThumbnailState::Pending(_)) => self.make_thumbnail_now(image),
                // Made (or given up on) by whoever held the slot before.
                _ => Ok(None),
            }
        };
        let mut slots = self
            .thumbnailing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The map's and this one: nobody else waits on the slot.
        if Arc::strong_count(&slot) == 2 {
            slots.remove(&image.hash);
        }
        made
    }

    pub(super) fn make_thumbnail_now(
        &self,
        image: &BlobInfo,
    ) -> Result<Option<String>, ImportError> {
        let Some(bytes) = self.store.get(&image.hash)? else {
            self.db.galleries().mark_thumbnail_failed(&image.hash)?;
            return Ok(Some("the image is not stored".into()));
        };
        let made = {
            let _memory = self.decode_budget.hold(thumb::decode_bytes(
                &bytes,
                image.format,
                &self.thumbnails,
            ));
            thumb::make(&bytes, image.format, &self.thumbnails)
        };
        match made {
            Ok(t) => {
                let put = self.store.put(&t.jpeg)?;
                self.db.galleries().set_thumbnail(
                    &image.hash,
                    &BlobInfo {
                        hash: put.hash,
                        format: ImageFormat::Jpeg,
                        width: t.width,
                        height: t.height,
                        bytes: t.jpeg.len() as u64,
                    },
                )?;
                Ok(None)
            }
            Err(e) => {
                if e.is_permanent() {
                    self.db.galleries().mark_thumbnail_failed(&image.hash)?;
                } else {
                    self.db
                        .galleries()
                        .mark_thumbnail_unsupported(&image.hash)?;
                }
                Ok(Some(format!("no thumbnail: {e}")))
            }
        }
    }
}
