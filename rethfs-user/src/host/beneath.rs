//! Opening scenario paths beneath a directory of tracefs with openat2(2), so that no path,
//! however it is spelled, resolves outside tracefs.
//!
//! The scenario format already refuses absolute paths and `..` above a path's start (see
//! [`crate::interface::path`]); this is the kernel's half of the rule, for what spelling cannot
//! show. `RESOLVE_BENEATH` refuses `..` above the start and absolute symbolic links,
//! `RESOLVE_NO_XDEV` refuses crossing into a mount made inside tracefs, and
//! `RESOLVE_NO_MAGICLINKS` refuses /proc-style links; each refusal is EXDEV or ELOOP, which
//! the scenario then sees as the step's outcome.
//!
//! openat2 came with Linux 5.6, before eventfs (6.6) and before the oldest control kernel
//! rethfs tests (6.1). Where it is missing anyway (ENOSYS, or a seccomp filter's EPERM),
//! [`check_available`] says so and rethfs refuses to run scenarios rather than resolve their
//! paths unconfined.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};

use crate::interface::Errno;

/// The resolution every scenario path gets.
fn how(flags: OFlag) -> OpenHow {
    let how = OpenHow::new().flags(flags | OFlag::O_CLOEXEC).resolve(
        ResolveFlag::RESOLVE_BENEATH
            | ResolveFlag::RESOLVE_NO_XDEV
            | ResolveFlag::RESOLVE_NO_MAGICLINKS,
    );
    // A mode is only allowed with O_CREAT; 0666 is what open(2) callers pass for new files.
    if flags.contains(OFlag::O_CREAT) {
        how.mode(nix::sys::stat::Mode::from_bits_truncate(0o666))
    } else {
        how
    }
}

/// Opens `path` with `flags` beneath `dir`: the kernel's answer, or EXDEV/ELOOP where the
/// walk would leave `dir`.
pub fn open(dir: BorrowedFd, path: &str, flags: OFlag) -> Result<OwnedFd, Errno> {
    openat2(dir, path, how(flags)).map_err(|e| Errno(e as i32))
}

/// Fails, naming the reason, unless this kernel resolves paths with openat2.
pub fn check_available(root: &impl AsFd) -> Result<(), String> {
    match openat2(root.as_fd(), ".", how(OFlag::O_PATH)) {
        Ok(_) => Ok(()),
        Err(e @ (nix::errno::Errno::ENOSYS | nix::errno::Errno::EPERM)) => Err(format!(
            "openat2(2) is not available ({e}): rethfs resolves every scenario path with it \
             (RESOLVE_BENEATH) so that none leaves tracefs, and runs no scenario without it \
             (Linux 5.6 or later, and no seccomp filter refusing it)"
        )),
        Err(e) => Err(format!("openat2(2) on the tracefs root: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use std::{fs, os::fd::AsFd};

    use super::*;

    /// Any directory shows the rule; tracefs is not needed.
    #[test]
    fn nothing_resolves_above_the_start() {
        let top = std::env::temp_dir().join(format!("rethfs-beneath-{}", std::process::id()));
        fs::create_dir_all(top.join("inside/sub")).unwrap();
        fs::write(top.join("outside"), "secret").unwrap();
        std::os::unix::fs::symlink("/etc", top.join("inside/abs")).unwrap();
        std::os::unix::fs::symlink("../outside", top.join("inside/rel")).unwrap();
        let dir = fs::File::open(top.join("inside")).unwrap();
        let d = dir.as_fd();
        check_available(&dir).unwrap();
        assert!(open(d, "sub", OFlag::O_PATH).is_ok());
        assert!(open(d, "sub/..", OFlag::O_PATH).is_ok());
        for escape in ["..", "../outside", "sub/../../outside", "/etc/passwd"] {
            assert_eq!(
                open(d, escape, OFlag::O_RDONLY).unwrap_err(),
                Errno(libc::EXDEV),
                "{escape}"
            );
        }
        for link in ["abs/passwd", "rel"] {
            let e = open(d, link, OFlag::O_RDONLY).unwrap_err();
            assert!([libc::EXDEV, libc::ELOOP].contains(&e.0), "{link}: {e}");
        }
        fs::remove_dir_all(&top).unwrap();
    }
}
