//! LittlePanda's end-to-end tests live in `tests/`: they drive Debian's Chromium through
//! chromedriver against a server started in the test. This crate has no code of its own; it keeps
//! the browser client's dependencies out of the other crates' builds.
