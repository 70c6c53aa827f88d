//! The host's real tracefs: finding and mounting it, and its control files.

mod tracefs;
mod uprobe_target;

pub use tracefs::{DEFAULT_TRACEFS, Tracefs};
pub use uprobe_target::{rethfs_uprobe_target, uprobe_target};
