//! Helpers for rethfs's integration tests, which drive the `rethfs` binary as a user would.
//!
//! Host tests (root, real tracefs) are `#[ignore]`d with a reason; `cargo xtask test` includes
//! them when it runs as root, so elsewhere they are counted as ignored, never as passed.

use std::{
    path::{Path, PathBuf},
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

/// The command as an unprivileged user: drops to nobody when the tests run as root.
pub fn unprivileged(args: &[&str]) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = rethfs(args);
    if is_root() {
        cmd.uid(65534).gid(65534);
    }
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

/// Host tests in one test binary share one tracefs and check that it is left unchanged: one
/// at a time.
static HOST_TRACEFS: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    HOST_TRACEFS.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a run must not change (the dynamic events and the instances), read the same way each
/// time.
pub fn host_state() -> (String, Vec<String>) {
    let probes = std::fs::read_to_string(format!("{TRACEFS}/dynamic_events")).unwrap_or_default();
    let mut instances: Vec<String> = std::fs::read_dir(format!("{TRACEFS}/instances"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    instances.sort();
    (probes, instances)
}

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

/// A directory of this test's own, removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("rethfs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes a scenario of `steps` (TOML `[[step]]` bodies) and returns its path.
    pub fn scenario(&self, file: &str, steps: &[String]) -> PathBuf {
        let mut text = format!("name = \"{file}\"\ndescription = \"hostile\"\n");
        for s in steps {
            text.push_str(&format!("\n[[step]]\n{s}\n"));
        }
        let path = self.0.join(file);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
