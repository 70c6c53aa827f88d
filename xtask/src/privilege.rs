//! Raising privileges for one command only: directly when already root, else `sudo -E`.

use std::{ffi::OsStr, path::Path, process::Command};

use anyhow::{Result, bail};

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| Path::new(&d).join(program).is_file())
    })
}

/// A command that runs `program` as root: as is when we are root, through `sudo -E` (keeping
/// RUST_LOG and friends) otherwise. Fails clearly when neither is possible.
pub fn as_root(program: impl AsRef<OsStr>) -> Result<Command> {
    if is_root() {
        return Ok(Command::new(program));
    }
    if !on_path("sudo") {
        bail!("rethfs must run as root, and there is no sudo here: run this as root");
    }
    let mut cmd = Command::new("sudo");
    cmd.arg("-E").arg(program);
    Ok(cmd)
}
