//! The record every observer program emits into the `EVENTS` ring buffer.

/// Path components captured per record, leaf first; deeper paths are cut at the top.
pub const PATH_DEPTH: usize = 8;
/// Bytes per captured component, NUL included; longer names are cut.
pub const NAME_CAPTURE: usize = 48;
/// `TASK_COMM_LEN`.
pub const COMM_LEN: usize = 16;
/// `path` holds the dentry's own name only: the hooks that fire many times per object skip
/// the walk ([`LeafEvent`]), and user space takes the rest from the object it saw born at
/// that pointer.
pub const LEAF_ONLY: u8 = 1;

macro_rules! hooks {
    ($($(#[$doc:meta])* $variant:ident = $value:literal, $name:literal;)*) => {
        /// Which kernel hook produced a record.
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Hook {
            $($(#[$doc])* $variant = $value,)*
        }

        impl Hook {
            pub const ALL: &[Hook] = &[$(Hook::$variant),*];

            pub fn from_u32(v: u32) -> Option<Self> {
                match v {
                    $($value => Some(Hook::$variant),)*
                    _ => None,
                }
            }

            /// Short name used in output.
            pub fn name(self) -> &'static str {
                match self {
                    $(Hook::$variant => $name,)*
                }
            }
        }
    };
}

hooks! {
    /// `syscalls/sys_exit_openat`: the file just opened (fd = return value).
    OpenAt = 1, "openat";
    /// `syscalls/sys_enter_getdents64`: a directory being read.
    Getdents = 2, "getdents64";
    /// `syscalls/sys_enter_read`.
    Read = 3, "read";
    /// `syscalls/sys_enter_write`.
    Write = 4, "write";
    /// `syscalls/sys_enter_close`: the file about to be closed.
    Close = 5, "close";
    /// `syscalls/sys_enter_fchdir`.
    Fchdir = 6, "fchdir";
    /// `d_alloc` or `d_alloc_parallel` returned: a new, still negative dentry linked under its
    /// parent (or, from `d_alloc_parallel`, one another lookup made first).
    DentryAlloc = 10, "d_alloc";
    /// `dput` entered: `refcount` is the count before the drop.
    Dput = 11, "dput";
    /// `d_invalidate` entered (it returns at once for an already unhashed dentry).
    DInvalidate = 12, "d_invalidate";
    /// `__dentry_kill` (`dentry_kill` from 7.2) entered: at count zero the dentry is being
    /// freed; 7.x also enters it with references held, and then returns doing nothing.
    DentryKill = 13, "dentry_kill";
    /// `eventfs_root_lookup` returned `ret` (NULL on success, or an ERR_PTR) for `dentry`.
    Lookup = 14, "eventfs_root_lookup";
    /// `eventfs_iterate` entered: an eventfs directory being read.
    Iterate = 15, "eventfs_iterate";
    /// `tracefs_d_revalidate` returned `ret` for `dentry`: 1 valid, 0 stale.
    Revalidate = 16, "tracefs_d_revalidate";
    /// `eventfs_create_dir` returned the new `ei` (or an ERR_PTR in `ret`); `parent` is the
    /// parent ei, `path` the ei's name then the parent's.
    EiCreate = 17, "eventfs_create_dir";
    /// `eventfs_create_events_dir` returned the top ei of an `events` directory; `parent` is
    /// the dentry it was made in, `path` the name then the parent dentry's path.
    EventsDirCreate = 18, "eventfs_create_events_dir";
    /// `eventfs_remove_rec` entered: the ei is unlinked and freed (its children after it).
    EiRemove = 19, "eventfs_remove_rec";
    /// `release_ei` entered: the last kref went.
    EiRelease = 21, "release_ei";
    /// `tracefs_d_release` entered (6.8+): a tracefs dentry is being freed, whatever freed
    /// it; its `d_inode` is already gone, and `ei` is its `d_fsdata`, the eventfs_inode
    /// whose reference it drops (its own for a directory, its parent's for a file).
    DentryRelease = 22, "tracefs_d_release";
    /// `tracefs_start_creating` returned the dentry tracefs is about to make a file or
    /// directory at (an instance's files, an `events` directory): a birth, or the dentry an
    /// instance `mkdir` looked up.
    StartCreating = 23, "tracefs_start_creating";
}

/// The facts every record carries, whatever its path. Pointers are identities only: the
/// kernel reuses them once an object is freed.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Head {
    /// `bpf_ktime_get_ns()`.
    pub ts_ns: u64,
    /// `struct dentry *` the hook is about, 0 where none.
    pub dentry: u64,
    /// `struct eventfs_inode *` the hook is about (for [`Hook::DentryRelease`], the dentry's
    /// `d_fsdata`), 0 where none.
    pub ei: u64,
    /// The parent dentry, or the parent ei for [`Hook::EiCreate`].
    pub parent: u64,
    /// `d_inode->i_ino`, or `ei->ino`; 0 when there is none.
    pub ino: u64,
    /// The return value for the hooks that see one.
    pub ret: i64,
    pub tgid: u32,
    pub pid: u32,
    /// `d_lockref.count`, or the ei's kref, when the hook ran; -1 when unreadable.
    pub refcount: i32,
    /// The fd the syscall named, -1 where none.
    pub fd: i32,
    /// A [`Hook`] value.
    pub hook: u32,
    /// `d_inode->i_mode`, 0 for a negative dentry.
    pub mode: u16,
    /// Components filled in `path`; one more than the record holds when the path was deeper.
    pub depth: u8,
    /// [`LEAF_ONLY`] or 0.
    pub flags: u8,
    pub comm: [u8; COMM_LEN],
}

/// One observation, taken inside the kernel: the head, then `N` path components, leaf first,
/// each NUL-terminated; the walk stops at the root (its own parent). The ring carries two
/// sizes, told apart by length: [`KernelEvent`] for the records that name objects user space
/// may not know yet (births, kills, rare hooks), [`LeafEvent`] for the frequent ones.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Event<const N: usize> {
    pub head: Head,
    pub path: [[u8; NAME_CAPTURE]; N],
}

/// A record with the path walked up to the root (472 bytes).
pub type KernelEvent = Event<PATH_DEPTH>;
/// A record with the object's own name only (136 bytes).
pub type LeafEvent = Event<1>;

#[cfg(feature = "user")]
// SAFETY: repr(C) plain integers and byte arrays with no padding (checked by the size test).
unsafe impl<const N: usize> aya::Pod for Event<N> {}
