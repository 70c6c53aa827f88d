//! What a reproducer compares of an answer: success or the errno and, of a value, what does
//! not hang on numbers each side draws for itself.

use std::fmt;

use crate::interface::{Errno, FileKind, Outcome, Value};

/// One answer as a reproducer checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    Err(Errno),
    /// Success, the value not compared: an identity (an `id` file's number), content the
    /// model does not know, or text naming the run's own uprobe file.
    Done,
    /// Every field but the inode number, which each side draws.
    Stat {
        kind: FileKind,
        perm: u32,
        nlink: u64,
        uid: u32,
        gid: u32,
    },
    Data(String),
    Names(Vec<String>),
    /// Each entry's name, type and `d_off` (`d_ino` is drawn).
    Entries(Vec<(String, FileKind, i64)>),
    Written(usize),
    Pos(i64),
    Cwd(String),
}

impl Expect {
    /// `outcome` as a reproducer can compare it: every answer a [`Outcome::OneOf`] allows,
    /// none for a skipped step. `identity` says the value is a number a side draws (an `id`
    /// file's content); data that contains `foreign` (the run's uprobe file) cannot be met by
    /// a reproducer's own objects, so only its success is compared.
    pub fn of(outcome: &Outcome, identity: bool, foreign: &str) -> Vec<Expect> {
        let value = |v: &Value| match v {
            Value::Done => Expect::Done,
            Value::Written { bytes } => Expect::Written(*bytes),
            Value::Data { text: Some(t) }
                if !identity
                    && !t.contains('\0')
                    && (foreign.is_empty() || !t.contains(foreign)) =>
            {
                Expect::Data(t.clone())
            }
            Value::Data { .. } => Expect::Done,
            Value::Stat(s) => Expect::Stat {
                kind: s.kind,
                perm: s.perm,
                nlink: s.nlink,
                uid: s.uid,
                gid: s.gid,
            },
            Value::Dirents { entries } => Expect::Entries(
                entries
                    .iter()
                    .map(|d| (d.name.clone(), d.kind, d.off))
                    .collect(),
            ),
            Value::Names { names } => Expect::Names(names.clone()),
            Value::Pos { pos } => Expect::Pos(*pos),
            Value::Cwd { path } => Expect::Cwd(path.clone()),
        };
        match outcome {
            Outcome::Ok(v) => vec![value(v)],
            Outcome::Err(e) => vec![Expect::Err(*e)],
            Outcome::Skipped(_) => Vec::new(),
            Outcome::OneOf(all) => all
                .iter()
                .flat_map(|o| Expect::of(o, identity, foreign))
                .collect(),
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Err(e) => write!(f, "{e}"),
            Expect::Done => f.write_str("success"),
            Expect::Stat {
                kind,
                perm,
                nlink,
                uid,
                gid,
            } => write!(
                f,
                "{} {perm:o} nlink {nlink} uid {uid} gid {gid}",
                format!("{kind:?}").to_lowercase()
            ),
            Expect::Data(t) => write!(f, "read {t:?}"),
            Expect::Names(n) => write!(f, "[{}]", n.join(" ")),
            Expect::Entries(e) => {
                let e: Vec<String> = e.iter().map(|(n, _, off)| format!("{n}@{off}")).collect();
                write!(f, "[{}]", e.join(" "))
            }
            Expect::Written(n) => write!(f, "wrote {n}"),
            Expect::Pos(p) => write!(f, "pos {p}"),
            Expect::Cwd(p) => write!(f, "cwd {p}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interface::StatInfo;

    #[test]
    fn what_each_side_draws_is_left_out() {
        let stat = |ino| {
            Outcome::Ok(Value::Stat(StatInfo {
                ino,
                kind: FileKind::File,
                perm: 0o640,
                nlink: 1,
                uid: 0,
                gid: 0,
            }))
        };
        assert_eq!(
            Expect::of(&stat(1), false, ""),
            Expect::of(&stat(2), false, "")
        );
        let id = |n: &str| {
            Outcome::Ok(Value::Data {
                text: Some(n.into()),
            })
        };
        assert_eq!(Expect::of(&id("17\n"), true, ""), vec![Expect::Done]);
        assert_eq!(
            Expect::of(&id("p:g/e /x/rethfs:0x10\n"), false, "/x/rethfs"),
            vec![Expect::Done]
        );
        assert_eq!(
            Expect::of(&id("0\n"), false, "/x/rethfs"),
            vec![Expect::Data("0\n".into())]
        );
        let either = Outcome::OneOf(vec![id("x"), Outcome::Err(Errno::EAGAIN)]);
        assert_eq!(
            Expect::of(&either, false, ""),
            vec![Expect::Data("x".into()), Expect::Err(Errno::EAGAIN)]
        );
    }
}
