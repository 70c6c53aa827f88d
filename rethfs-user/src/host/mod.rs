//! The host's real tracefs: finding and mounting it, the target that drives it, and keeping
//! it clean (what a run creates is removed, what it did not create is never touched).

mod beneath;
pub mod churn;
pub mod cleanup;
mod ftrace;
mod getdents;
pub mod kmsg;
mod lock;
mod observed;
mod probe_syntax;
mod snapshot;
mod stall;
mod static_events;
mod target;
mod tracefs;
mod uprobe_target;

pub use ftrace::KprobeTracing;
pub use lock::RunLock;
pub use observed::Observed;
pub use probe_syntax::eprobes_parse;
pub use snapshot::Snapshot;
pub use static_events::{entry_orders, instance_layout, static_events};
pub use target::{Holds, HostTracefs};
pub use tracefs::{DEFAULT_TRACEFS, Tracefs};
pub use uprobe_target::{rethfs_uprobe_target, uprobe_target};
