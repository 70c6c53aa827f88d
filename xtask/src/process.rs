//! Running commands: echoed before they run, failures named with the command.

use std::process::{Command, Output};

use anyhow::{Context as _, Result, bail};

/// Runs `cmd` with inherited stdio; fails unless it exits 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    let code = status(cmd)?;
    if code != 0 {
        bail!("`{}` exited with {code}", render(cmd));
    }
    Ok(())
}

/// Runs `cmd` with inherited stdio and returns its exit code (1 when killed by a signal).
pub fn status(cmd: &mut Command) -> Result<u8> {
    eprintln!("xtask: $ {}", render(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("starting `{}`", render(cmd)))?;
    Ok(status.code().map_or(1, |c| c.clamp(0, 255) as u8))
}

/// Runs `cmd` quietly and returns its output, or None when it cannot start.
pub fn output(cmd: &mut Command) -> Option<Output> {
    cmd.output().ok()
}

/// The command as a shell line, for messages.
pub fn render(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
