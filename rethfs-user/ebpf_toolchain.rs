// The rustup toolchain that compiles rethfs-ebpf, shared by rethfs-user's build script and
// xtask (`#[path]`), so that both pick the same one.

/// The toolchain for `pin` (`nightly-DATE`, Cargo.toml's `ebpf-toolchain`): `pin` itself where
/// rustup has it, else the machine's own `nightly` where it is that day's (a machine that cannot
/// download toolchains keeps its `nightly`); None when neither is there.
pub fn resolve(pin: &str) -> Option<String> {
    let date = pin.strip_prefix("nightly-");
    let verbose = |tc: &str| {
        std::process::Command::new("rustup")
            .args(["run", tc, "rustc", "--version", "--verbose"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    if verbose(pin).is_some() {
        return Some(pin.to_owned());
    }
    let date = date?;
    verbose("nightly")
        .filter(|v| {
            v.lines()
                .any(|l| l.strip_prefix("commit-date: ") == Some(date))
        })
        .map(|_| "nightly".to_owned())
}
