//! Lifetime events of dentries and eventfs_inodes, the same type whether the model predicts them
//! or the observer records them in the kernel. Objects are keyed by path and generation, never
//! by kernel pointer: the kernel reuses pointers once objects are freed.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LifetimeKind {
    /// A dentry was allocated and instantiated by a lookup (`d_alloc_parallel` + `d_add`).
    DentryBorn,
    /// `eventfs_root_lookup` filled (or left negative) a new dentry.
    DentryLookedUp,
    /// A reference was taken (`dget`, path walk, open).
    DentryReferenced,
    /// A reference was dropped (`dput`); the refcount after the drop is recorded.
    DentryDropped,
    /// `d_revalidate` kept the dentry.
    Revalidated,
    /// `d_revalidate` said the dentry is stale.
    RevalidateFailed,
    /// `d_invalidate`: unhashed, no longer found by lookups.
    DentryInvalidated,
    /// The dentry was freed (`__dentry_kill`), its inode evicted with it.
    DentryKilled,
    /// `eventfs_create_dir`: an ei was allocated and linked into its parent.
    EiCreated,
    /// `eventfs_remove_dir`: the ei was unlinked and marked `is_freed`.
    EiFreed,
    /// `eventfs_d_release`: a killed dentry put its reference on the ei.
    EiPut,
    /// `release_ei`: the last reference went, the ei is released.
    EiReleased,
}

/// One lifetime event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lifetime {
    pub kind: LifetimeKind,
    /// Path relative to the tracefs root.
    pub path: String,
    /// Distinguishes successive objects at one path (0 for the first).
    pub generation: u32,
    /// The dentry refcount or ei kref after the event.
    pub refs: i64,
    /// Inode number where one is known (0 otherwise).
    pub ino: u64,
    /// When the kernel recorded it, in ns since the observer started (observed events only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t_ns: Option<u64>,
}

impl LifetimeKind {
    pub const ALL: [LifetimeKind; 12] = [
        LifetimeKind::DentryBorn,
        LifetimeKind::DentryLookedUp,
        LifetimeKind::DentryReferenced,
        LifetimeKind::DentryDropped,
        LifetimeKind::Revalidated,
        LifetimeKind::RevalidateFailed,
        LifetimeKind::DentryInvalidated,
        LifetimeKind::DentryKilled,
        LifetimeKind::EiCreated,
        LifetimeKind::EiFreed,
        LifetimeKind::EiPut,
        LifetimeKind::EiReleased,
    ];

    /// Whether the event is about an eventfs_inode rather than a dentry.
    pub fn is_ei(self) -> bool {
        matches!(
            self,
            LifetimeKind::EiCreated
                | LifetimeKind::EiFreed
                | LifetimeKind::EiPut
                | LifetimeKind::EiReleased
        )
    }

    /// Short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            LifetimeKind::DentryBorn => "born",
            LifetimeKind::DentryLookedUp => "looked-up",
            LifetimeKind::DentryReferenced => "referenced",
            LifetimeKind::DentryDropped => "dropped",
            LifetimeKind::Revalidated => "revalidated",
            LifetimeKind::RevalidateFailed => "revalidate-failed",
            LifetimeKind::DentryInvalidated => "invalidated",
            LifetimeKind::DentryKilled => "killed",
            LifetimeKind::EiCreated => "ei-created",
            LifetimeKind::EiFreed => "ei-freed",
            LifetimeKind::EiPut => "ei-put",
            LifetimeKind::EiReleased => "ei-released",
        }
    }
}
