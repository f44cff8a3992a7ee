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

/// Returns memory that is free in the allocator (on any thread, including threads that have
/// ended) to the system. Costly: call it after bulk work, not on a request's path.
pub fn release_freed_memory() {
    // SAFETY: `mi_collect` takes no pointers and may be called from any thread at any time; with
    // `force` it also reclaims the heaps of ended threads and purges unused arena memory.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
