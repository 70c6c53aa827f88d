//! The record every observer program emits into the `EVENTS` ring buffer.

/// Bytes of a dentry name captured; longer names are cut (the full length travels too).
pub const NAME_CAPTURE: usize = 64;
/// `TASK_COMM_LEN`.
pub const COMM_LEN: usize = 16;

/// Which kernel hook produced a record.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// `syscalls/sys_exit_openat`: the file just opened (fd = return value).
    OpenAt = 1,
    /// `syscalls/sys_enter_getdents64`: a directory being read.
    Getdents = 2,
    /// `syscalls/sys_enter_read`.
    Read = 3,
    /// `syscalls/sys_enter_write`.
    Write = 4,
    /// `syscalls/sys_enter_close`: the file about to be closed.
    Close = 5,
    /// `syscalls/sys_enter_fchdir`.
    Fchdir = 6,
}

impl Hook {
    pub const ALL: [Hook; 6] = [
        Hook::OpenAt,
        Hook::Getdents,
        Hook::Read,
        Hook::Write,
        Hook::Close,
        Hook::Fchdir,
    ];

    pub fn from_u32(v: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|h| *h as u32 == v)
    }

    /// Short name used in output.
    pub fn name(self) -> &'static str {
        match self {
            Hook::OpenAt => "openat",
            Hook::Getdents => "getdents64",
            Hook::Read => "read",
            Hook::Write => "write",
            Hook::Close => "close",
            Hook::Fchdir => "fchdir",
        }
    }
}

/// One observation of a tracefs dentry, taken inside the kernel.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DentryEvent {
    /// `bpf_ktime_get_ns()`.
    pub ts_ns: u64,
    /// `struct dentry *`: an identity, reused by the kernel after the dentry is freed.
    pub dentry: u64,
    pub parent: u64,
    /// `d_inode->i_ino`, 0 for a negative dentry.
    pub ino: u64,
    pub tgid: u32,
    pub pid: u32,
    /// `d_lockref.count` when the hook ran.
    pub refcount: i32,
    /// The fd the syscall named, -1 where none.
    pub fd: i32,
    /// A [`Hook`] value.
    pub hook: u32,
    /// `d_inode->i_mode`, 0 for a negative dentry.
    pub mode: u16,
    /// `d_name.len` (may exceed [`NAME_CAPTURE`]).
    pub name_len: u16,
    pub comm: [u8; COMM_LEN],
    /// NUL-terminated, cut at [`NAME_CAPTURE`] - 1 bytes.
    pub name: [u8; NAME_CAPTURE],
    pub parent_name: [u8; NAME_CAPTURE],
}

#[cfg(feature = "user")]
// SAFETY: repr(C) plain integers and byte arrays, no padding holes read as anything else.
unsafe impl aya::Pod for DentryEvent {}
