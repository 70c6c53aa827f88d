//! `cargo xtask vm --kernel SERIES [-- RETHFS ARGS]`: rethfs inside a test VM booted from a
//! Debian kernel, for the kprobe and fentry paths this host lacks.

mod initramfs;
mod kernel;
mod qemu;

use std::{process::Command, time::Duration, time::Instant};

use anyhow::{Context as _, Result};

use crate::{pins::workspace_root, process, setup};

const MUSL: &str = "x86_64-unknown-linux-musl";

/// Builds a static rethfs for the guest.
fn build_static() -> Result<std::path::PathBuf> {
    process::run(Command::new("rustup").args(["target", "add", MUSL]))?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    process::run(Command::new(cargo).current_dir(workspace_root()).args([
        "build",
        "--release",
        "--target",
        MUSL,
        "--package",
        "rethfs-user",
    ]))?;
    Ok(workspace_root()
        .join("target")
        .join(MUSL)
        .join("release/rethfs"))
}

pub fn run(series: &str, args: &[String], timeout_secs: u64) -> Result<u8> {
    setup::run()?;
    let cache = workspace_root().join("target/vm");
    let t = Instant::now();
    let kernel = kernel::fetch(series, &cache)?;
    let fetch_s = t.elapsed().as_secs_f64();
    let rethfs = build_static()?;
    let args: Vec<String> = if args.is_empty() {
        vec!["run".into(), "--json".into(), "/report.json".into()]
    } else {
        args.to_vec()
    };
    let work = cache.join("work").join(series);
    std::fs::create_dir_all(&work)?;
    let initrd = work.join("initrd.gz");
    let t = Instant::now();
    initramfs::build(&initrd, &work.join("root"), &rethfs, &kernel, &args)?;
    let initrd_s = t.elapsed().as_secs_f64();
    let boot = qemu::boot(
        &kernel.vmlinuz,
        &initrd,
        &work,
        Duration::from_secs(timeout_secs),
    )?;
    let (log, last) = boot
        .status
        .trim_end()
        .rsplit_once('\n')
        .unwrap_or(("", boot.status.trim_end()));
    println!("{log}");
    if let Some(files) = &boot.files {
        // Relative paths in ARGS land in the guest's /out and come back here.
        let dir = workspace_root().join(format!("target/rethfs-vm-{series}"));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        process::run(
            Command::new("tar")
                .arg("-xzf")
                .arg(files)
                .arg("-C")
                .arg(&dir),
        )?;
        let report = dir.join("report.json");
        if report.exists() {
            let path = workspace_root().join(format!("target/rethfs-vm-{series}.json"));
            std::fs::copy(&report, &path)?;
            eprintln!("xtask: report in {}", path.display());
        }
        eprintln!("xtask: files rethfs wrote in {}", dir.display());
    }
    eprintln!(
        "xtask: kernel {} ({}): fetch {fetch_s:.1} s, initramfs {initrd_s:.1} s, boot to report {:.1} s",
        kernel.release, boot.accel, boot.seconds
    );
    let code: u8 = last
        .strip_prefix("rethfs-exit=")
        .and_then(|c| c.trim().parse().ok())
        .context("the guest's status has no exit code")?;
    Ok(code)
}
