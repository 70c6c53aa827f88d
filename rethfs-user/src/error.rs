//! rethfs's error type and the exit codes it maps to.

use std::error::Error as StdError;

/// Every failure a command reports. The variant decides the exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The host cannot run the command (not root, no tracefs, no BTF, no loadable backend):
    /// exit code 2, nothing changed.
    #[error("{0}")]
    Environment(String),
    /// The user's input is wrong: exit code 2.
    #[error("{0}")]
    Usage(String),
    /// Anything else went wrong while running: exit code 1.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Environment(_) | Error::Usage(_) => 2,
            Error::Failed(_) => 1,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error and all its sources on one line, the kernel's own errno text last.
pub fn chain(err: &dyn StdError) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Fails with [`Error::Environment`] unless the effective user is root: loading BPF programs and
/// mounting tracefs need CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN.
pub fn require_root(command: &str) -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(Error::Environment(format!(
            "rethfs {command} must run as root (it loads BPF programs and may mount tracefs); \
             try `sudo rethfs {command}`"
        )))
    }
}
