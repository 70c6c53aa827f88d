//! Finding the tracefs mount, or mounting it at the standard place when it is missing.

use std::path::{Path, PathBuf};

use nix::{
    mount::{MsFlags, mount},
    sys::statfs::{FsType, statfs},
};
use rethfs_common::TRACEFS_MAGIC;
use serde::Serialize;

use crate::error::{Error, Result};

/// Where tracefs is mounted on every kernel since 4.1.
pub const DEFAULT_TRACEFS: &str = "/sys/kernel/tracing";

/// Control files whose presence says what this tracefs can do.
const CONTROL_FILES: [&str; 6] = [
    "kprobe_events",
    "uprobe_events",
    "dynamic_events",
    "instances",
    "events",
    "error_log",
];

/// A tracefs mount rethfs works in.
#[derive(Debug, Clone, Serialize)]
pub struct Tracefs {
    pub root: PathBuf,
    /// True when rethfs mounted it itself because nothing was mounted there.
    pub mounted_by_rethfs: bool,
}

fn is_tracefs(path: &Path) -> bool {
    statfs(path).is_ok_and(|s| s.filesystem_type() == FsType(TRACEFS_MAGIC as _))
}

impl Tracefs {
    /// The tracefs at `explicit`, which must already be a tracefs mount; or, without one, the
    /// standard mount point, mounted there if nothing is.
    pub fn open(explicit: Option<&Path>) -> Result<Self> {
        if let Some(path) = explicit {
            return if is_tracefs(path) {
                Ok(Tracefs {
                    root: path.to_owned(),
                    mounted_by_rethfs: false,
                })
            } else {
                Err(Error::Environment(format!(
                    "tracefs unavailable: {} is not a tracefs mount",
                    path.display()
                )))
            };
        }
        let root = PathBuf::from(DEFAULT_TRACEFS);
        if is_tracefs(&root) {
            return Ok(Tracefs {
                root,
                mounted_by_rethfs: false,
            });
        }
        mount(
            Some("nodev"),
            &root,
            Some("tracefs"),
            MsFlags::empty(),
            None::<&str>,
        )
        .map_err(|e| {
            Error::Environment(format!(
                "tracefs unavailable: not mounted at {DEFAULT_TRACEFS}, and mounting it failed: {e}"
            ))
        })?;
        log::warn!("tracefs was not mounted: rethfs mounted it at {DEFAULT_TRACEFS}");
        Ok(Tracefs {
            root,
            mounted_by_rethfs: true,
        })
    }

    /// Each control file rethfs cares about, and whether this kernel has it.
    pub fn control_files(&self) -> Vec<(&'static str, bool)> {
        CONTROL_FILES
            .iter()
            .map(|f| (*f, self.root.join(f).exists()))
            .collect()
    }
}
