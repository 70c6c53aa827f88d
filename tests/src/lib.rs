//! Helpers for rethfs's integration tests, which drive the `rethfs` binary as a user would.
//!
//! Host tests (root, real tracefs) are `#[ignore]`d with a reason; `cargo xtask test` includes
//! them when it runs as root, so elsewhere they are counted as ignored, never as passed.

use std::{
    path::PathBuf,
    process::{Command, Output},
};

/// Why host tests are ignored by default: `cargo xtask test` includes them when run as root.
pub const HOST: &str =
    "host test: needs root and a real tracefs (cargo xtask test runs it as root)";

/// The `rethfs` binary of this build profile, which `cargo xtask test` builds first, or the
/// one `RETHFS_BIN` names (an installed rethfs, or an older commit's build, to show that a
/// test fails there).
pub fn rethfs_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("RETHFS_BIN") {
        return PathBuf::from(bin);
    }
    // Test executables live in target/<profile>/deps/.
    let exe = std::env::current_exe().expect("test executable path");
    let bin = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>")
        .join("rethfs");
    assert!(
        bin.is_file(),
        "{} missing: build it with `cargo build -p rethfs-user` (`cargo xtask test` does)",
        bin.display()
    );
    bin
}

/// A `rethfs` command with the given arguments.
pub fn rethfs(args: &[&str]) -> Command {
    let mut cmd = Command::new(rethfs_bin());
    cmd.args(args);
    cmd
}

/// Runs to completion and returns the output; panics only if it cannot start.
pub fn output(cmd: &mut Command) -> Output {
    cmd.output().expect("start rethfs")
}

/// stdout and stderr as text, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Where the host tests find tracefs.
pub const TRACEFS: &str = "/sys/kernel/tracing";

/// Appends `line` to `uprobe_events`, as a test plants or removes a probe of its own.
pub fn uprobe_events(line: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(format!("{TRACEFS}/uprobe_events"))
        .expect("open uprobe_events")
        .write_all(format!("{line}\n").as_bytes())
        .expect("write uprobe_events");
}
