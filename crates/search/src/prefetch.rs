//! Asking the processor to start loading memory that is about to be read.
//!
//! Checking the titles of a hundred thousand candidates reads one scattered title after another:
//! each is a cache miss (and a TLB miss) of its own, about 110 ns at a million galleries, and a
//! plain loop waits for each in turn. A prefetch a few candidates ahead lets those misses overlap.
//!
//! # Why this module uses `unsafe`
//! `_mm_prefetch` takes a raw pointer, so it is an `unsafe` function. A prefetch is only a hint:
//! it never faults, even for an address that is not mapped, and it changes nothing the program
//! can observe but timing. The pointers given here come from references besides. This is the
//! crate's only `unsafe`.
#![allow(unsafe_code)]

/// Hints that the memory holding `value` will be read soon.
#[inline(always)]
pub(crate) fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing the program sees and cannot fault (module documentation).
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(value).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
