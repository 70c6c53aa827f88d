//! `cargo xtask vm --kernel SERIES [--exec PROGRAM] [-- ARGS]`: rethfs (or another static
//! program, a reproducer say) inside a test VM booted from a Debian kernel, for the kprobe and
//! fentry paths this host lacks. Host files the arguments name are copied in; the files the
//! program writes in the guest's /out come back.

mod guest_args;
mod initramfs;
mod kernel;
mod newc;
mod qemu;

use std::{fs, path::Path, process::Command, time::Duration, time::Instant};

use anyhow::{Context as _, Result, bail};

use crate::{
    pins::{cargo, target_dir, workspace_root},
    process,
    progress::Progress,
    setup,
};
use guest_args::GuestArgs;

const MUSL: &str = "x86_64-unknown-linux-musl";

/// Builds a static rethfs for the guest.
fn build_static() -> Result<std::path::PathBuf> {
    process::run(Command::new("rustup").args(["target", "add", MUSL]))?;
    process::run(cargo().args([
        "build",
        "--release",
        "--target",
        MUSL,
        "--package",
        "rethfs-user",
    ]))?;
    Ok(target_dir()?.join(MUSL).join("release/rethfs"))
}

pub use kernel::archive_uri;
pub use qemu::SCENARIO_BEGUN;

/// Runs `exec`, or rethfs, with `args` in a guest of `series`; its exit code in the guest.
pub fn run(series: &str, exec: Option<&Path>, args: &[String], timeout_secs: u64) -> Result<u8> {
    // A program of the user's is checked before anything is fetched or built.
    if let Some(p) = exec
        && !p.is_file()
    {
        bail!("--exec {}: no such file", p.display());
    }
    // By default the races too, and remounts: the guest is disposable, and an oops there is
    // a result. Under TCG the checker runs about five times slower than on a host: its budget
    // per set of calls grows to match. Findings the shipped baseline explains are known.
    let args: Vec<String> = if args.is_empty() && exec.is_none() {
        let baseline = workspace_root().join("baselines/known.toml");
        [
            "run",
            "--races",
            "--allow-remount",
            "--race-seconds",
            "150",
            "--baseline",
            &baseline.display().to_string(),
            "--json",
            "/report.json",
        ]
        .map(str::to_owned)
        .to_vec()
    } else {
        args.to_vec()
    };
    // Before anything is built: an argument the guest cannot be given stops here. Relative
    // paths are the user's, as `cargo run` keeps the directory it was started in.
    let cwd = std::env::current_dir().context("the current directory")?;
    let guest = GuestArgs::new(&args, &cwd)?;
    setup::run()?;
    let progress = Progress::new(format!("vm {series}"));
    let cache = workspace_root().join("target/vm");
    let t = Instant::now();
    progress.phase("fetching the kernel");
    let kernel = kernel::fetch(series, &cache)?;
    let fetch_s = t.elapsed().as_secs_f64();
    let program = match exec {
        Some(p) => p.to_owned(),
        None => {
            progress.phase("building a static rethfs");
            build_static()?
        }
    };
    let name = program
        .file_name()
        .map_or("the program".into(), |n| n.to_string_lossy());
    // Relative paths in ARGS land in the guest's /out and come back here; a previous run's
    // files go first, so that a run that brings none back never shows them as its own.
    let dir = workspace_root().join(format!("target/rethfs-vm-{series}"));
    let report_copy = workspace_root().join(format!("target/rethfs-vm-{series}.json"));
    remove(&dir)?;
    remove(&report_copy)?;
    let work = work(series);
    fs::create_dir_all(&work)?;
    let initrd = work.join("initrd.gz");
    let t = Instant::now();
    initramfs::build(&initrd, &work.join("root"), &program, &kernel, &guest)?;
    let initrd_s = t.elapsed().as_secs_f64();
    progress.phase(&format!(
        "booting {} (the console: {})",
        kernel.release,
        console(series).display()
    ));
    let boot = qemu::boot(
        &kernel.vmlinuz,
        &initrd,
        &work,
        Duration::from_secs(timeout_secs),
        &|said| progress.within(said),
    );
    progress.done();
    let boot = boot?;
    let report = &boot.report;
    println!("{}", report.log);
    if report.files_exit != 0 {
        bail!(
            "{name} exited {} in the guest, but the files it wrote in /out did not come back: \
             the guest's `tar -czf /dev/ttyS2 -C /out .` exited with {}",
            report.program_exit,
            report.files_exit
        );
    }
    let files = boot.files.as_ref().with_context(|| {
        format!(
            "{name} exited {} in the guest, and the guest's tar of /out succeeded, but nothing \
             arrived on its third serial port",
            report.program_exit
        )
    })?;
    fs::create_dir_all(&dir)?;
    process::run(
        Command::new("tar")
            .arg("-xzf")
            .arg(files)
            .arg("-C")
            .arg(&dir),
    )?;
    let report_file = dir.join("report.json");
    if report_file.exists() {
        fs::copy(&report_file, &report_copy)?;
        eprintln!("xtask: report in {}", report_copy.display());
    }
    eprintln!("xtask: files {name} wrote in {}", dir.display());
    eprintln!(
        "xtask: kernel {} ({}): fetch {fetch_s:.1} s, initramfs {initrd_s:.1} s, boot to report {:.1} s",
        kernel.release, boot.accel, boot.seconds
    );
    Ok(report.program_exit)
}

/// Where a guest of `series` is built and its console kept.
fn work(series: &str) -> std::path::PathBuf {
    workspace_root().join("target/vm/work").join(series)
}

/// The console of the last guest of `series`: rethfs's output and the kernel's messages.
pub fn console(series: &str) -> std::path::PathBuf {
    work(series).join("console.log")
}

/// Removes `path`, a file or a directory tree, if it exists.
fn remove(path: &Path) -> Result<()> {
    let result = if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}
