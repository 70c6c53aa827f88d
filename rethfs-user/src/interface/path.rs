//! Scenario paths: where each one starts, and the lexical rule that keeps it inside tracefs.
//!
//! A path is relative to the tracefs root (`events/sched/enable`); one whose first component
//! is `.` is relative to the current directory (`./enable`); an `open-at` path is relative to
//! its directory handle. No path may be absolute or climb (`..`) above the directory it
//! starts from. That is checked when a scenario is made, the same for the host and the model,
//! so the two never disagree about a refusal; the host then has the kernel enforce it too,
//! resolving every path with `openat2(RESOLVE_BENEATH)` from that directory's descriptor.

use std::fmt;

/// `PATH_MAX` less its NUL: the longest path a system call takes.
pub const PATH_MAX: usize = 4095;
/// `NAME_MAX`: the longest component a filesystem is asked to look up.
pub const NAME_MAX: usize = 255;

/// Where a path's walk begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// The tracefs root.
    Root,
    /// The current directory (`chdir`/`fchdir`), for paths whose first component is `.`.
    Cwd,
}

/// Where `path` starts; `open-at` paths start at their handle whatever they look like.
pub fn base(path: &str) -> Base {
    if components(path).next() == Some(".") {
        Base::Cwd
    } else {
        Base::Root
    }
}

/// The components the walk visits, empty ones (from `//` or a trailing `/`) left out.
pub fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty())
}

/// `path` split before its last component: the directory the walk stops in (`.` for the
/// start itself) and the last component as written, trailing slashes kept, because the
/// kernel reads them (`unlink("file/")` is ENOTDIR).
pub fn split_last(path: &str) -> (&str, &str) {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(i) => {
            let parent = trimmed[..i].trim_end_matches('/');
            let parent = if parent.is_empty() { "." } else { parent };
            (parent, &path[i + 1..])
        }
        None => (".", path),
    }
}

/// Why a path is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    Empty,
    Absolute,
    Nul,
    TooLong(usize),
    NameTooLong(usize),
    /// `..` above the start after this many components.
    Climbs,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::Empty => f.write_str("is empty (the tracefs root is `events/..`, the current directory `.`)"),
            PathError::Absolute => f.write_str(
                "is absolute: scenario paths are relative to the tracefs root (`events/...`), or to the current directory when they start with `./`",
            ),
            PathError::Nul => f.write_str("contains a NUL byte, which no system call can pass"),
            PathError::TooLong(n) => write!(f, "is {n} bytes long; paths are at most {PATH_MAX} bytes (PATH_MAX)"),
            PathError::NameTooLong(n) => {
                write!(f, "has a {n}-byte component; components are at most {NAME_MAX} bytes (NAME_MAX)")
            }
            PathError::Climbs => f.write_str(
                "climbs with `..` above the directory it starts from, out of what the scenario may touch",
            ),
        }
    }
}

/// Checks the lexical rule: not empty or absolute, no NUL, within `PATH_MAX` and `NAME_MAX`,
/// and never above its start. tracefs has no symbolic links, so the lexical walk is the walk.
pub fn check(path: &str) -> Result<(), PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if path.starts_with('/') {
        return Err(PathError::Absolute);
    }
    if path.contains('\0') {
        return Err(PathError::Nul);
    }
    if path.len() > PATH_MAX {
        return Err(PathError::TooLong(path.len()));
    }
    if let Some(c) = components(path).find(|c| c.len() > NAME_MAX) {
        return Err(PathError::NameTooLong(c.len()));
    }
    normal(path).map(|_| ()).ok_or(PathError::Climbs)
}

/// The directories `path` ends in below its start, `.` and `..` resolved lexically; `None`
/// when it climbs above the start.
pub fn normal(path: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    for c in components(path) {
        match c {
            "." => {}
            ".." => {
                out.pop()?;
            }
            name => out.push(name),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_start_at_the_root_unless_their_first_component_is_dot() {
        assert_eq!(base("events/x"), Base::Root);
        assert_eq!(base("./enable"), Base::Cwd);
        assert_eq!(base("."), Base::Cwd);
        assert_eq!(base(".//x"), Base::Cwd);
        // A name that only begins with a dot is a name.
        assert_eq!(base(".hidden"), Base::Root);
        assert_eq!(base("x/./y"), Base::Root);
    }

    #[test]
    fn the_last_component_keeps_its_trailing_slashes() {
        assert_eq!(split_last("events/x/enable"), ("events/x", "enable"));
        assert_eq!(split_last("instances/a/"), ("instances", "a/"));
        assert_eq!(split_last("x"), (".", "x"));
        assert_eq!(split_last("./x"), (".", "x"));
        assert_eq!(split_last("a//b"), ("a", "b"));
        assert_eq!(split_last("a/.."), ("a", ".."));
    }

    #[test]
    fn escapes_are_refused_and_everything_inside_is_allowed() {
        for bad in [
            "..",
            "../etc/shadow",
            "./..",
            "events/../..",
            "events/../../../etc/passwd",
            "a/b/../../../x",
            "./../tmp",
        ] {
            assert_eq!(check(bad), Err(PathError::Climbs), "{bad}");
        }
        assert_eq!(check("/etc/shadow"), Err(PathError::Absolute));
        assert_eq!(check("/"), Err(PathError::Absolute));
        assert_eq!(check(""), Err(PathError::Empty));
        assert_eq!(check("a\0b"), Err(PathError::Nul));
        assert_eq!(check(&"a/".repeat(2048)), Err(PathError::TooLong(4096)));
        assert_eq!(check(&"n".repeat(256)), Err(PathError::NameTooLong(256)));
        for good in [
            "events",
            ".",
            "./enable",
            "events/..",
            "events/x/../y",
            "a/b/../../c",
            "events//x/",
            &"n".repeat(255),
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        assert_eq!(normal("events/x/../y/."), Some(vec!["events", "y"]));
        assert_eq!(normal("events/.."), Some(vec![]));
    }
}
