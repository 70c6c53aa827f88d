//! What a scenario asks a target to do: the user-visible operations on tracefs.
//!
//! Paths are relative to the tracefs root (`events/sched/enable`), or, when their first
//! component is `.`, to the current directory set by `chdir` (see [`path`] for the rule that
//! keeps them inside tracefs). Open files are named by the scenario (`handle`), so later
//! steps can use, seek and close them. [`Action::check`] holds every field to its range.

use serde::{Deserialize, Serialize};

use super::{
    limits::{self, Invalid},
    path,
};

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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Hash)]
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

/// Numbers read from a scenario file, held to their range as they are read, so the message
/// names the field, the value and the range (serde's own would only say "expected usize").
mod bounded {
    use serde::{Deserialize, Deserializer, de::Error as _};

    use crate::interface::limits::{self, Limit};

    fn value<T: TryFrom<i64>>(v: toml::Value, l: &Limit) -> Result<T, String> {
        let toml::Value::Integer(v) = v else {
            return Err(format!(
                "`{}` must be an integer ({}), not {v}",
                l.field, l.what
            ));
        };
        l.check(v).map_err(|e| e.message)?;
        T::try_from(v).map_err(|_| format!("`{}` = {v} does not fit", l.field))
    }

    fn read<'de, D: Deserializer<'de>, T: TryFrom<i64>>(d: D, l: &Limit) -> Result<T, D::Error> {
        value(toml::Value::deserialize(d)?, l).map_err(D::Error::custom)
    }

    /// An id that may be absent (or null, as JSON writes an absent one): kept.
    fn id<'de, D: Deserializer<'de>>(d: D, l: &Limit) -> Result<Option<u32>, D::Error> {
        Option::<toml::Value>::deserialize(d)?
            .map(|v| value(v, l))
            .transpose()
            .map_err(D::Error::custom)
    }

    pub fn read_len<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
        read(d, &limits::READ_LEN)
    }
    pub fn getdents_buffer<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
        read(d, &limits::GETDENTS_BUFFER)
    }
    pub fn stall_at<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
        read(d, &limits::STALL_AT)
    }
    pub fn stall_ms<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        read(d, &limits::STALL_MS)
    }
    pub fn seek_pos<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        read(d, &limits::SEEK_POS)
    }
    pub fn mode<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        read(d, &limits::MODE)
    }
    pub fn uid<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        id(d, &limits::UID)
    }
    pub fn gid<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        id(d, &limits::GID)
    }
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
    /// `open`, keeping the file as `handle`; with `O_NONBLOCK`, so reading an empty trace
    /// pipe is EAGAIN rather than a wait for trace data.
    Open {
        path: String,
        #[serde(default)]
        mode: OpenMode,
        handle: String,
    },
    /// `read` up to `len` bytes at the handle's position.
    Read {
        handle: String,
        #[serde(default = "default_read_len", deserialize_with = "bounded::read_len")]
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
        #[serde(
            default = "default_getdents_buffer",
            deserialize_with = "bounded::getdents_buffer"
        )]
        buffer: usize,
    },
    /// `lseek(handle, 0, SEEK_CUR)`: the position telldir() reports.
    Tell { handle: String },
    /// `lseek(handle, pos, SEEK_SET)`: what seekdir() does.
    Seek {
        handle: String,
        #[serde(deserialize_with = "bounded::seek_pos")]
        pos: i64,
    },
    /// `openat(handle, path)` relative to a directory handle, kept as `as_handle`.
    OpenAt {
        dir: String,
        path: String,
        as_handle: String,
    },
    /// Open, read every entry with getdents64, close: what `ls -f` does; with `stall`, the
    /// first getdents64 call is held partway through its copy to user space.
    List {
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stall: Option<Stall>,
    },
    /// Open, read to the end, close: `cat`.
    ReadFile { path: String },
    /// Open for writing, write, close: `echo DATA > path`.
    WriteFile { path: String, data: String },
    /// `chdir`.
    Chdir { path: String },
    /// `fchdir` to a directory handle.
    Fchdir { handle: String },
    /// `getcwd`: what a process whose current directory is in tracefs is told (the path
    /// below the tracefs root, `.` for the root itself; ENOENT once it is unlinked).
    Getcwd,
    /// `chmod`.
    Chmod {
        path: String,
        #[serde(deserialize_with = "bounded::mode")]
        mode: u32,
    },
    /// `chown`; `None` keeps that id.
    Chown {
        path: String,
        #[serde(
            default,
            deserialize_with = "bounded::uid",
            skip_serializing_if = "Option::is_none"
        )]
        uid: Option<u32>,
        #[serde(
            default,
            deserialize_with = "bounded::gid",
            skip_serializing_if = "Option::is_none"
        )]
        gid: Option<u32>,
    },
    /// `mount -o remount,OPTIONS` of the tracefs (`uid=N`, `gid=N`, `mode=OOO`).
    Remount { options: String },
    /// `echo 2 > /proc/sys/vm/drop_caches`: reclaim every unused dentry and inode.
    DropCaches,
}

/// A pause inside one getdents64 call: the kernel's copy of the entry that starts `at` bytes
/// into the buffer faults on a page that a userfaultfd handler fills only after `ms`
/// milliseconds. eventfs emits a group's child directories under SRCU alone, so the pause
/// holds a reader on one child while another thread removes it (CVE-2026-74605's window).
/// The kernel's answer is unchanged; only its timing is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stall {
    #[serde(deserialize_with = "bounded::stall_at")]
    pub at: usize,
    #[serde(deserialize_with = "bounded::stall_ms")]
    pub ms: u64,
}

/// The handles one action names, by what it does with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandleUse<'a> {
    pub uses: Vec<&'a str>,
    pub opens: Option<&'a str>,
    pub closes: Option<&'a str>,
}

/// A handle name: a short identifier, printable, so reports can quote it.
fn check_handle(name: &str) -> Result<(), Invalid> {
    limits::HANDLE_LEN.check_len(name)?;
    if name.chars().any(char::is_control) {
        return Err(Invalid {
            field: limits::HANDLE_LEN.field,
            message: format!("`handle` = {name:?} contains a control character"),
        });
    }
    Ok(())
}

/// A path field under the lexical rule of [`path::check`].
fn check_path(field: &'static str, p: &str) -> Result<(), Invalid> {
    path::check(p).map_err(|e| Invalid {
        field,
        message: format!("`{field}` = {p:?} {e}"),
    })
}

impl Action {
    /// `ls -f path`, unstalled.
    pub fn list(path: impl Into<String>) -> Action {
        Action::List {
            path: path.into(),
            stall: None,
        }
    }

    /// The `op` a scenario file names it by.
    pub fn op(&self) -> &'static str {
        match self {
            Action::Control { .. } => "control",
            Action::Mkdir { .. } => "mkdir",
            Action::Rmdir { .. } => "rmdir",
            Action::Unlink { .. } => "unlink",
            Action::Rename { .. } => "rename",
            Action::Stat { .. } => "stat",
            Action::Open { .. } => "open",
            Action::Read { .. } => "read",
            Action::Write { .. } => "write",
            Action::Close { .. } => "close",
            Action::Fstat { .. } => "fstat",
            Action::Getdents { .. } => "getdents",
            Action::Tell { .. } => "tell",
            Action::Seek { .. } => "seek",
            Action::OpenAt { .. } => "open-at",
            Action::List { .. } => "list",
            Action::ReadFile { .. } => "read-file",
            Action::WriteFile { .. } => "write-file",
            Action::Chdir { .. } => "chdir",
            Action::Fchdir { .. } => "fchdir",
            Action::Getcwd => "getcwd",
            Action::Chmod { .. } => "chmod",
            Action::Chown { .. } => "chown",
            Action::Remount { .. } => "remount",
            Action::DropCaches => "drop-caches",
        }
    }

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
            Action::List { path, stall: None } => format!("ls -f {path}"),
            Action::List {
                path,
                stall: Some(Stall { at, ms }),
            } => format!("ls -f {path} (held {ms} ms at byte {at} of the first getdents)"),
            Action::ReadFile { path } => format!("cat {path}"),
            Action::WriteFile { path, data } => format!("echo {data:?} > {path}"),
            Action::Chdir { path } => format!("cd {path}"),
            Action::Fchdir { handle } => format!("fchdir {handle}"),
            Action::Getcwd => "getcwd".to_owned(),
            Action::Chmod { path, mode } => format!("chmod {mode:o} {path}"),
            Action::Chown { path, uid, gid } => {
                let id = |v: &Option<u32>| v.map_or("-".to_owned(), |v| v.to_string());
                format!("chown {}:{} {path}", id(uid), id(gid))
            }
            Action::Remount { options } => format!("mount -o remount,{options}"),
            Action::DropCaches => "echo 2 > /proc/sys/vm/drop_caches".to_owned(),
        }
    }

    /// Every field within its documented range and every path inside tracefs, or the first
    /// field that is not. Scenario files are checked when parsed, so host and model never
    /// see an action one of them would have to refuse.
    pub fn check(&self) -> Result<(), Invalid> {
        for (field, p) in self.paths() {
            check_path(field, p)?;
        }
        let handles = self.handle_use();
        for h in handles.uses.iter().chain(&handles.opens) {
            check_handle(h)?;
        }
        match self {
            Action::Control { line, .. } => limits::LINE_LEN.check_len(line),
            Action::Read { len, .. } => limits::READ_LEN.check(*len as i128),
            Action::Write { data, .. } | Action::WriteFile { data, .. } => {
                limits::DATA_LEN.check_len(data)
            }
            Action::Getdents { buffer, .. } => limits::GETDENTS_BUFFER.check(*buffer as i128),
            Action::List {
                stall: Some(Stall { at, ms }),
                ..
            } => {
                limits::STALL_AT.check(*at as i128)?;
                limits::STALL_MS.check(*ms)
            }
            Action::Seek { pos, .. } => limits::SEEK_POS.check(*pos),
            Action::Chmod { mode, .. } => limits::MODE.check(*mode),
            Action::Chown { uid, gid, .. } => {
                uid.map_or(Ok(()), |u| limits::UID.check(u))?;
                gid.map_or(Ok(()), |g| limits::GID.check(g))
            }
            Action::Remount { options } => limits::OPTIONS_LEN.check_len(options),
            _ => Ok(()),
        }
    }

    /// The path fields, named as the scenario file names them.
    pub fn paths(&self) -> Vec<(&'static str, &str)> {
        match self {
            Action::Mkdir { path }
            | Action::Rmdir { path }
            | Action::Unlink { path }
            | Action::Stat { path }
            | Action::Open { path, .. }
            | Action::OpenAt { path, .. }
            | Action::List { path, .. }
            | Action::ReadFile { path }
            | Action::WriteFile { path, .. }
            | Action::Chdir { path }
            | Action::Chmod { path, .. }
            | Action::Chown { path, .. } => vec![("path", path)],
            Action::Rename { from, to } => vec![("from", from), ("to", to)],
            _ => Vec::new(),
        }
    }

    /// What the action does with handles: the ones it uses, the one it opens, the one it
    /// closes.
    pub fn handle_use(&self) -> HandleUse<'_> {
        let (uses, opens, closes) = match self {
            Action::Open { handle, .. } => (vec![], Some(handle), None),
            Action::OpenAt { dir, as_handle, .. } => (vec![dir], Some(as_handle), None),
            Action::Close { handle } => (vec![handle], None, Some(handle)),
            Action::Read { handle, .. }
            | Action::Write { handle, .. }
            | Action::Fstat { handle }
            | Action::Getdents { handle, .. }
            | Action::Tell { handle }
            | Action::Seek { handle, .. }
            | Action::Fchdir { handle } => (vec![handle], None, None),
            _ => (vec![], None, None),
        };
        HandleUse {
            uses: uses.into_iter().map(String::as_str).collect(),
            opens: opens.map(String::as_str),
            closes: closes.map(String::as_str),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every op a scenario file can name is the one `op()` gives, read back from the
    /// serialized action.
    #[test]
    fn op_names_what_serde_writes() {
        let samples = [
            Action::Getcwd,
            Action::DropCaches,
            Action::OpenAt {
                dir: "d".into(),
                path: "x".into(),
                as_handle: "h".into(),
            },
            Action::ReadFile { path: "x".into() },
            Action::Chown {
                path: "x".into(),
                uid: None,
                gid: Some(1),
            },
        ];
        for a in samples {
            let v = serde_json::to_value(&a).unwrap();
            assert_eq!(v["op"], a.op(), "{v}");
        }
    }
}
