//! LittlePanda's library: what turns stored images and metadata into galleries. Today it holds the
//! synthetic-library generator ([`synth`]) used by benchmarks and tests; importing archives and
//! folders comes next.

pub mod synth;
