//! What a scenario asks a target to do: the user-visible operations on tracefs.
//!
//! Paths are relative to the tracefs root (`events/sched/enable`), or, when they start with
//! `.`, to the current directory set by `chdir`. Open files are named by the scenario
//! (`handle`), so later steps can use, seek and close them.

use serde::{Deserialize, Serialize};

/// Control files that create and remove dynamic events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlFile {
    KprobeEvents,
    UprobeEvents,
    DynamicEvents,
}

impl ControlFile {
    pub fn file_name(self) -> &'static str {
        match self {
            ControlFile::KprobeEvents => "kprobe_events",
            ControlFile::UprobeEvents => "uprobe_events",
            ControlFile::DynamicEvents => "dynamic_events",
        }
    }
}

/// How a file is opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenMode {
    #[default]
    Read,
    Write,
    ReadWrite,
    /// `O_RDONLY | O_DIRECTORY`, as opendir() does.
    Directory,
    /// `O_WRONLY | O_CREAT`: creating a name that does not exist.
    Create,
}

fn default_read_len() -> usize {
    4096
}

fn default_getdents_buffer() -> usize {
    32768
}

/// One step of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Action {
    /// Append `line` to a control file (`echo LINE >> uprobe_events`).
    Control { file: ControlFile, line: String },
    /// `mkdir` (instances are made this way; elsewhere the kernel refuses).
    Mkdir { path: String },
    /// `rmdir`.
    Rmdir { path: String },
    /// `unlink`, which tracefs always refuses.
    Unlink { path: String },
    /// `rename(from, to)`, which tracefs always refuses.
    Rename { from: String, to: String },
    /// `stat` (follows symlinks; tracefs has none).
    Stat { path: String },
    /// `open`, keeping the file as `handle`.
    Open {
        path: String,
        #[serde(default)]
        mode: OpenMode,
        handle: String,
    },
    /// `read` up to `len` bytes at the handle's position.
    Read {
        handle: String,
        #[serde(default = "default_read_len")]
        len: usize,
    },
    /// `write` the bytes of `data`.
    Write { handle: String, data: String },
    /// `close`.
    Close { handle: String },
    /// `fstat` on a handle.
    Fstat { handle: String },
    /// One `getdents64` call with a buffer of `buffer` bytes.
    Getdents {
        handle: String,
        #[serde(default = "default_getdents_buffer")]
        buffer: usize,
    },
    /// `lseek(handle, 0, SEEK_CUR)`: the position telldir() reports.
    Tell { handle: String },
    /// `lseek(handle, pos, SEEK_SET)`: what seekdir() does.
    Seek { handle: String, pos: i64 },
    /// `openat(handle, path)` relative to a directory handle, kept as `as_handle`.
    OpenAt {
        dir: String,
        path: String,
        as_handle: String,
    },
    /// Open, read every entry with getdents64, close: what `ls -f` does.
    List { path: String },
    /// Open, read to the end, close: `cat`.
    ReadFile { path: String },
    /// Open for writing, write, close: `echo DATA > path`.
    WriteFile { path: String, data: String },
    /// `chdir`.
    Chdir { path: String },
    /// `fchdir` to a directory handle.
    Fchdir { handle: String },
    /// `chmod`.
    Chmod { path: String, mode: u32 },
    /// `chown`; `None` keeps that id.
    Chown {
        path: String,
        #[serde(default)]
        uid: Option<u32>,
        #[serde(default)]
        gid: Option<u32>,
    },
    /// `mount -o remount,OPTIONS` of the tracefs (`uid=N`, `gid=N`, `mode=OOO`).
    Remount { options: String },
    /// `echo 2 > /proc/sys/vm/drop_caches`: reclaim every unused dentry and inode.
    DropCaches,
}

impl Action {
    /// One line for reports: the operation and its arguments.
    pub fn summary(&self) -> String {
        match self {
            Action::Control { file, line } => format!("echo {line:?} >> {}", file.file_name()),
            Action::Mkdir { path } => format!("mkdir {path}"),
            Action::Rmdir { path } => format!("rmdir {path}"),
            Action::Unlink { path } => format!("unlink {path}"),
            Action::Rename { from, to } => format!("rename {from} {to}"),
            Action::Stat { path } => format!("stat {path}"),
            Action::Open { path, mode, handle } => format!("open {path} ({mode:?}) as {handle}"),
            Action::Read { handle, len } => format!("read {handle} {len}"),
            Action::Write { handle, data } => format!("write {handle} {data:?}"),
            Action::Close { handle } => format!("close {handle}"),
            Action::Fstat { handle } => format!("fstat {handle}"),
            Action::Getdents { handle, buffer } => format!("getdents {handle} ({buffer} bytes)"),
            Action::Tell { handle } => format!("telldir {handle}"),
            Action::Seek { handle, pos } => format!("seekdir {handle} {pos}"),
            Action::OpenAt {
                dir,
                path,
                as_handle,
            } => format!("openat {dir} {path} as {as_handle}"),
            Action::List { path } => format!("ls -f {path}"),
            Action::ReadFile { path } => format!("cat {path}"),
            Action::WriteFile { path, data } => format!("echo {data:?} > {path}"),
            Action::Chdir { path } => format!("cd {path}"),
            Action::Fchdir { handle } => format!("fchdir {handle}"),
            Action::Chmod { path, mode } => format!("chmod {mode:o} {path}"),
            Action::Chown { path, uid, gid } => {
                let id = |v: &Option<u32>| v.map_or("-".to_owned(), |v| v.to_string());
                format!("chown {}:{} {path}", id(uid), id(gid))
            }
            Action::Remount { options } => format!("mount -o remount,{options}"),
            Action::DropCaches => "echo 2 > /proc/sys/vm/drop_caches".to_owned(),
        }
    }
}
