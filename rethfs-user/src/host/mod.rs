//! The host's real tracefs: finding and mounting it, and its control files.

mod tracefs;

pub use tracefs::{DEFAULT_TRACEFS, Tracefs};
