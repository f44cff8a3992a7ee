//! LittlePanda's library: what turns archives, folders, stored images and metadata into
//! galleries. [`import`] reads archives and folders into the blob store and the metadata store;
//! [`format`] tells files apart by content; [`synth`] makes synthetic libraries for benchmarks
//! and tests.

pub mod app;
pub mod export;
pub mod format;
pub mod import;
pub mod jobs;
pub mod ops;
pub mod synth;
