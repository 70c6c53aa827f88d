//! Version policies: which kernel rules the model applies, chosen from a kernel version.
//!
//! eventfs changed shape several times. Each policy names the mainline release range whose
//! rules it follows; stable trees took some of the later fixes back, so a stable kernel may
//! behave like a newer policy than its version says (reports name the policy used).

use std::{fmt, str::FromStr};

use serde::Serialize;

/// A kernel rule set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Before 6.6 (e.g. 6.1): no eventfs. `events/` is ordinary tracefs: every dentry and
    /// inode is made when the event is created, pinned, and removed with it; directories are
    /// 0750 and listed newest first.
    PreEventfs,
    /// 6.6 and 6.7: eventfs makes dentries on demand (opening a directory makes all its
    /// children) and each stays pinned until its event is removed; every inode gets a fresh
    /// number; listing goes through the dcache. Modelled from 6.6-era sources, not the tags.
    V6_6,
    /// 6.8 and 6.9 (modelled as 6.8; 6.9's ownership tweaks are not): Linus's rewrite. No dentry pointers in the ei; unused dentries stay cached
    /// and fail revalidation once their ei is freed. Files share one inode number,
    /// directories keep theirs in the ei; every eventfs directory has nlink 1.
    V6_8,
    /// 6.10 to 6.16: as 6.8, plus a directory number equal to the file number is redrawn,
    /// the `format` file honours removal (ENODEV), and remount resets saved ownership.
    V6_10,
    /// 6.17 and later: `tracefs_d_delete` drops unused tracefs dentries that carry no ei
    /// (negative lookups, removed plain files) instead of caching them.
    V6_17,
}

impl Policy {
    pub const ALL: [Policy; 5] = [
        Policy::PreEventfs,
        Policy::V6_6,
        Policy::V6_8,
        Policy::V6_10,
        Policy::V6_17,
    ];

    /// The policy for mainline release `major.minor`.
    pub fn for_version(major: u32, minor: u32) -> Self {
        match (major, minor) {
            (m, _) if m >= 7 => Policy::V6_17,
            (6, n) if n >= 17 => Policy::V6_17,
            (6, n) if n >= 10 => Policy::V6_10,
            (6, n) if n >= 8 => Policy::V6_8,
            (6, n) if n >= 6 => Policy::V6_6,
            _ => Policy::PreEventfs,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Policy::PreEventfs => "pre-eventfs (<6.6)",
            Policy::V6_6 => "6.6-6.7",
            Policy::V6_8 => "6.8-6.9",
            Policy::V6_10 => "6.10-6.16",
            Policy::V6_17 => "6.17+",
        }
    }

    /// eventfs makes dentries and inodes on demand (6.6+).
    pub fn on_demand(self) -> bool {
        self >= Policy::V6_6
    }

    /// Unused eventfs dentries stay cached without a pin and are checked by d_revalidate (6.8+).
    pub fn cached_not_pinned(self) -> bool {
        self >= Policy::V6_8
    }

    /// Every eventfs file reports EVENTFS_FILE_INODE_INO and directories keep `ei->ino` (6.8+).
    pub fn shared_file_ino(self) -> bool {
        self >= Policy::V6_8
    }

    /// eventfs directories report nlink 1, `events/` included (6.8+).
    pub fn dir_nlink_one(self) -> bool {
        self >= Policy::V6_8
    }

    /// `eventfs_dir_ino` redraws a number equal to the file number (6.10+).
    pub fn redraw_file_ino(self) -> bool {
        self >= Policy::V6_10
    }

    /// An fprobe or tracepoint probe named like an existing event is refused with EINVAL
    /// rather than EEXIST (or joining it): seen on 7.3 for a uprobe's name and for the same
    /// fprobe twice (explore, seeds 11 and 7), while 6.12 answers EEXIST; the kernels between
    /// were not run.
    pub fn fprobe_name_clash_is_einval(self) -> bool {
        self >= Policy::V6_17
    }

    /// `format` reads after removal fail with ENODEV (6.11-rc3, taken into 6.10.y).
    pub fn format_honours_removal(self) -> bool {
        self >= Policy::V6_10
    }

    /// Remount's `gid=` is set on the inode of every dentry in the tree (`set_gid`, from
    /// 48b27b6b5191 in 5.17), `uid=` and `mode=` on the root's alone. Before eventfs every
    /// file has its dentry, so that is every file.
    pub fn remount_sets_every_gid(self) -> bool {
        self == Policy::PreEventfs
    }

    /// Remount with `uid=`/`gid=` rewrites every live inode and, through `eventfs_set_attrs`,
    /// every saved eventfs owner; the top `events` defaults stop following the root (6.10+).
    pub fn remount_resets_eventfs(self) -> bool {
        self >= Policy::V6_10
    }

    /// Directories are listed from their cached dentries (`dcache_readdir`): before 6.8 every
    /// events directory was, since then only plain tracefs ones are.
    pub fn events_use_dcache_readdir(self) -> bool {
        self < Policy::V6_8
    }

    /// Opening an eventfs directory makes every child's dentry and holds it until the close
    /// (6.6's `dcache_dir_open_wrapper`, for `dcache_readdir`).
    pub fn open_dir_holds_children(self) -> bool {
        self.on_demand() && self.events_use_dcache_readdir()
    }

    /// Unused dentries without `d_fsdata` are killed at their last dput (6.17+).
    pub fn delete_plain_dentries(self) -> bool {
        self >= Policy::V6_17
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A kernel version as users write it: `6.12`, `6.12.3`, `7.2`, or a `uname -r` string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
}

impl KernelVersion {
    pub fn policy(self) -> Policy {
        Policy::for_version(self.major, self.minor)
    }
}

impl FromStr for KernelVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a kernel version (expected MAJOR.MINOR, e.g. 6.12)");
        let mut parts = s.split(|c: char| !c.is_ascii_digit());
        let major: u32 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let minor: u32 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        if !(2..=9).contains(&major) || !s.contains('.') {
            return Err(bad());
        }
        Ok(KernelVersion { major, minor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_map_to_the_release_that_changed_the_rules() {
        let p = |s: &str| s.parse::<KernelVersion>().unwrap().policy();
        assert_eq!(p("6.1"), Policy::PreEventfs);
        assert_eq!(p("6.6.30"), Policy::V6_6);
        assert_eq!(p("6.7"), Policy::V6_6);
        assert_eq!(p("6.8"), Policy::V6_8);
        assert_eq!(p("6.9.1"), Policy::V6_8);
        assert_eq!(p("6.12"), Policy::V6_10);
        assert_eq!(p("6.16"), Policy::V6_10);
        assert_eq!(p("6.17"), Policy::V6_17);
        assert_eq!(p("6.18.44-fc-v595"), Policy::V6_17);
        assert_eq!(p("7.2"), Policy::V6_17);
    }

    #[test]
    fn malformed_versions_are_refused_with_the_input_named() {
        for bad in ["", "six", "6", "12345.1", "6-12"] {
            let err = bad.parse::<KernelVersion>().unwrap_err();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
    }
}
