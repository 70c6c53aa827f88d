//! What a target answers: a value or an errno, exactly as a user would observe them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An errno value, printed by its name (`ENOENT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    pub const EPERM: Errno = Errno(libc::EPERM);
    pub const ENOENT: Errno = Errno(libc::ENOENT);
    pub const EBADF: Errno = Errno(libc::EBADF);
    pub const EACCES: Errno = Errno(libc::EACCES);
    pub const EBUSY: Errno = Errno(libc::EBUSY);
    pub const EEXIST: Errno = Errno(libc::EEXIST);
    pub const ENODEV: Errno = Errno(libc::ENODEV);
    pub const ENOTDIR: Errno = Errno(libc::ENOTDIR);
    pub const EISDIR: Errno = Errno(libc::EISDIR);
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    pub const EAGAIN: Errno = Errno(libc::EAGAIN);
    pub const ENOTEMPTY: Errno = Errno(libc::ENOTEMPTY);
    pub const EADDRINUSE: Errno = Errno(libc::EADDRINUSE);

    pub fn name(self) -> String {
        format!("{:?}", nix::errno::Errno::from_raw(self.0))
    }

    /// The errno [`Errno::name`] prints as `name`, if there is one (a number nix does not
    /// know is printed as `UnknownErrno`, which names none).
    pub fn from_name(name: &str) -> Option<Errno> {
        // Linux numbers its errnos below 4096 (MAX_ERRNO).
        (1..4096)
            .map(Errno)
            .find(|e| e.name() == name && name != "UnknownErrno")
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for Errno {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// Read back from a report, by the name it was written with.
impl<'de> Deserialize<'de> for Errno {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Errno::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("`{name}` names no errno")))
    }
}

/// File types as getdents64 reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    File,
    Dir,
    Other,
}

/// What `stat` tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatInfo {
    pub ino: u64,
    pub kind: FileKind,
    /// Permission bits only (`0o640`).
    pub perm: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
}

/// One getdents64 record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dirent {
    pub name: String,
    pub ino: u64,
    pub kind: FileKind,
    /// `d_off`: the position a later seek to resume after this entry would use.
    pub off: i64,
}

/// A successful result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "value", rename_all = "snake_case")]
pub enum Value {
    /// Succeeded with nothing to report.
    Done,
    /// A count of bytes written.
    Written {
        bytes: usize,
    },
    /// Bytes read, as text; `None` from the model where the kernel's content (a format, a
    /// trigger list) is not modelled, so only success is compared.
    Data {
        text: Option<String>,
    },
    Stat(StatInfo),
    Dirents {
        entries: Vec<Dirent>,
    },
    /// A directory listing by name, `.` and `..` left out, in the order returned.
    Names {
        names: Vec<String>,
    },
    /// A file position.
    Pos {
        pos: i64,
    },
    /// A directory as `getcwd` names it, below the tracefs root (`.` for the root).
    Cwd {
        path: String,
    },
}

/// The result of one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok(Value),
    Err(Errno),
    /// The target would not do it, and why (the host refuses to touch what rethfs did not
    /// create, and cannot do what its kernel lacks).
    Skipped(String),
    /// The model only: where the kernel may rightly answer in more than one way (whether a
    /// trace pipe holds data), every answer allowed; the kernel's must be one of them.
    OneOf(Vec<Outcome>),
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok(_))
    }
}

impl From<Result<Value, Errno>> for Outcome {
    fn from(r: Result<Value, Errno>) -> Self {
        match r {
            Ok(v) => Outcome::Ok(v),
            Err(e) => Outcome::Err(e),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Err(e) => write!(f, "{e}"),
            Outcome::Skipped(why) => write!(f, "skipped: {why}"),
            Outcome::OneOf(all) => {
                let all: Vec<String> = all.iter().map(ToString::to_string).collect();
                write!(f, "one of: {}", all.join(" | "))
            }
            Outcome::Ok(Value::Done) => f.write_str("ok"),
            Outcome::Ok(Value::Written { bytes }) => write!(f, "wrote {bytes}"),
            Outcome::Ok(Value::Data { text: Some(text) }) => write!(f, "read {text:?}"),
            Outcome::Ok(Value::Data { text: None }) => f.write_str("read (content not modelled)"),
            Outcome::Ok(Value::Stat(s)) => {
                write!(
                    f,
                    "ino {} {:?} {:o} nlink {} uid {} gid {}",
                    s.ino, s.kind, s.perm, s.nlink, s.uid, s.gid
                )
            }
            Outcome::Ok(Value::Dirents { entries }) => {
                let list: Vec<String> = entries
                    .iter()
                    .map(|d| format!("{}@{}", d.name, d.off))
                    .collect();
                write!(f, "[{}]", list.join(" "))
            }
            Outcome::Ok(Value::Names { names }) => write!(f, "[{}]", names.join(" ")),
            Outcome::Ok(Value::Pos { pos }) => write!(f, "pos {pos}"),
            Outcome::Ok(Value::Cwd { path }) => write!(f, "cwd {path}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outcomes are read back from a report as they were written, errnos by name.
    #[test]
    fn outcomes_read_back_as_written() {
        let all = [
            Outcome::Err(Errno::ENOENT),
            Outcome::Ok(Value::Stat(StatInfo {
                ino: 7,
                kind: FileKind::Dir,
                perm: 0o750,
                nlink: 1,
                uid: 0,
                gid: 0,
            })),
            Outcome::Ok(Value::Dirents {
                entries: vec![Dirent {
                    name: "enable".into(),
                    ino: 3,
                    kind: FileKind::File,
                    off: 4,
                }],
            }),
            Outcome::OneOf(vec![
                Outcome::Ok(Value::Data { text: None }),
                Outcome::Err(Errno::EAGAIN),
            ]),
            Outcome::Skipped("why".into()),
        ];
        for o in all {
            let text = serde_json::to_string(&o).unwrap();
            assert_eq!(serde_json::from_str::<Outcome>(&text).unwrap(), o, "{text}");
        }
        assert!(serde_json::from_str::<Errno>("\"ENOPE\"").is_err());
        assert_eq!(Errno::from_name("UnknownErrno"), None);
    }
}
