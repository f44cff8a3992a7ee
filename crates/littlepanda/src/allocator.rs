//! The binary's allocator, mimalloc, and the one thing asked of it beyond allocating: giving back
//! to the system what one-off bulk work freed. Building the search index at start allocates
//! hundreds of megabytes of temporaries on worker threads; mimalloc keeps freed memory for reuse
//! and, measured at 1,000,000 galleries, still held about 430 MB of it after the build.
//!
//! This module holds the crate's only `unsafe`: calls into mimalloc's C API, each documented.
#![allow(unsafe_code)]

/// mimalloc: the server allocates and frees small objects on every request (headers, futures,
/// extensions) from several threads; with it, `bench serve` answers about 9% more page images
/// than with glibc's allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The allocator the binary uses (benchmarks report it, so figures stay comparable).
pub const NAME: &str = "mimalloc";

/// Turns transparent huge pages off for this process's anonymous memory (what the allocator
/// hands out). The kernel zeroes a page on its first touch, and on the virtual machines
/// LittlePanda is measured on a huge page costs far more to zero: touching 1 GB of fresh memory
/// took 3.3 s in 2 MiB pages against 1.3 s in 4 KiB ones, and building the search index of a
/// million galleries spent most of its time there. The page cache is not affected: a volume
/// map's read-around still brings 2 MiB of a volume in as one large folio (checked through
/// `/proc/kpageflags`), which is what serving page images with `sendfile` wants (`lpfs::mapped`).
pub fn prefer_small_pages() {
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::debug!(error = %e, "transparent huge pages stay on");
    }
}

/// Returns memory that is free in the allocator (on any thread, including threads that have
/// ended) to the system. Costly: call it after bulk work, not on a request's path.
pub fn release_freed_memory() {
    // SAFETY: `mi_collect` takes no pointers and may be called from any thread at any time; with
    // `force` it also reclaims the heaps of ended threads and purges unused arena memory.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// Whether the memory this process allocates really comes from [`NAME`]: benchmarks refuse to
/// report figures measured with another allocator (say, a build that swapped it), since they
/// could not be compared with the recorded ones.
pub fn is_in_use() -> bool {
    let probe = Box::new(0u64);
    // SAFETY: `mi_is_in_heap_region` only compares the address with mimalloc's own regions; it
    // never dereferences it. The box outlives the call.
    unsafe { libmimalloc_sys::mi_is_in_heap_region(std::ptr::from_ref(&*probe).cast()) }
}

/// Fails unless [`NAME`] is the allocator in use (see [`is_in_use`]).
pub fn ensure_in_use() -> anyhow::Result<()> {
    anyhow::ensure!(
        is_in_use(),
        "this build does not allocate through {NAME}: its figures cannot be compared with the \
         recorded ones"
    );
    Ok(())
}
