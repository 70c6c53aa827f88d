//! `cargo xtask run`: the main job, as root: the kernel profile, then the whole scenario
//! catalogue on the host against the model (`rethfs run`).

use std::path::PathBuf;

use anyhow::Result;

use crate::{
    pins::{cargo, target_dir, workspace_root},
    privilege, process, setup,
};

/// Builds the `rethfs` binary (release) as the invoking user and returns its path.
pub fn build_rethfs() -> Result<PathBuf> {
    process::run(cargo().args(["build", "--release", "--package", "rethfs-user"]))?;
    Ok(target_dir()?.join("release/rethfs"))
}

/// Runs `args` through rethfs as root, or the default job; returns rethfs's exit code.
pub fn run(args: &[String]) -> Result<u8> {
    setup::run()?;
    let rethfs = build_rethfs()?;
    if !args.is_empty() {
        return process::status(privilege::as_root(&rethfs)?.args(args));
    }
    // The profile is informative here: a missing observer backend does not stop the run.
    process::status(privilege::as_root(&rethfs)?.arg("doctor"))?;
    // Against the shipped baseline: the findings explained there pass, any other fails.
    let (root, target) = (workspace_root(), workspace_root().join("target"));
    process::status(
        privilege::as_root(&rethfs)?
            .arg("run")
            .arg("--baseline")
            .arg(root.join("baselines/known.toml"))
            .arg("--json")
            .arg(target.join("rethfs-run.json"))
            .arg("--ktap")
            .arg(target.join("rethfs-run.ktap"))
            .arg("--junit")
            .arg(target.join("rethfs-run.xml")),
    )
}
