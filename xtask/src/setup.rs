//! `cargo xtask setup`: install the pieces that building rethfs needs, and only those missing.
//!
//! Idempotent and quick when everything is present: each step checks before it installs.

use std::{ffi::OsStr, process::Command, time::Instant};

use anyhow::{Context as _, Result, bail};

use crate::{
    pins::Pins,
    privilege,
    process::{output, run as run_cmd},
};

pub fn run() -> Result<()> {
    let started = Instant::now();
    let mut pins = Pins::read()?;
    if crate::ebpf_toolchain::resolve(&pins.ebpf_pin).is_none() {
        // A runner: its `nightly` is whatever is newest. The pinned one, with its sources.
        run_cmd(Command::new("rustup").args([
            "toolchain",
            "install",
            &pins.ebpf_pin,
            "--profile",
            "minimal",
            "--component",
            "rust-src",
        ]))?;
        pins = Pins::read()?;
    }
    check_ebpf_toolchain(&pins)?;
    ensure_rust_src(&pins)?;
    ensure_bpf_linker(&pins)?;
    ensure_apt_packages(&pins.apt_packages)?;
    eprintln!(
        "xtask: setup complete in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The eBPF toolchain must exist and use the LLVM major bpf-linker was built for. It is never
/// updated: a machine whose `nightly` is the pinned day's uses that (downloading whole
/// toolchains is not possible on the machines rethfs is developed on); others install the pin.
fn check_ebpf_toolchain(pins: &Pins) -> Result<()> {
    let tc = &pins.ebpf_toolchain;
    let out =
        output(Command::new("rustup").args(["run", tc, "rustc", "--version", "--verbose"]))
            .context("rustup not found: rethfs builds its eBPF programs with a rustup toolchain")?;
    if !out.status.success() {
        bail!(
            "the `{tc}` toolchain that compiles rethfs-ebpf is not installed ({}); install it \
             with rustup, then run `cargo xtask setup` again",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let llvm = text
        .lines()
        .find_map(|l| l.strip_prefix("LLVM version: "))
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    match llvm {
        Some(m) if m == pins.ebpf_llvm_major => Ok(()),
        other => bail!(
            "`{tc}` uses LLVM {}, but bpf-linker {} needs LLVM {}: pin a matching toolchain in \
             Cargo.toml [workspace.metadata.rethfs]",
            other.map_or("(unknown)".to_owned(), |m| m.to_string()),
            pins.bpf_linker,
            pins.ebpf_llvm_major
        ),
    }
}

/// `-Z build-std=core` needs the toolchain's sources.
fn ensure_rust_src(pins: &Pins) -> Result<()> {
    let tc = &pins.ebpf_toolchain;
    let installed = output(Command::new("rustup").args([
        "component",
        "list",
        "--installed",
        "--toolchain",
        tc,
    ]))
    .is_some_and(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l.starts_with("rust-src"))
    });
    if installed {
        return Ok(());
    }
    run_cmd(Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", tc]))
}

/// bpf-linker at the pinned version, built with the eBPF toolchain so it links its LLVM.
fn ensure_bpf_linker(pins: &Pins) -> Result<()> {
    ensure_cargo_tool(pins, "bpf-linker", &pins.bpf_linker, "1-2 min")
}

/// cargo-fuzz at the pinned version, for `cargo xtask fuzz`.
pub fn ensure_cargo_fuzz(pins: &Pins) -> Result<()> {
    ensure_cargo_tool(pins, "cargo-fuzz", &pins.cargo_fuzz, "under a minute")
}

/// `cargo install TOOL@WANT` with the eBPF toolchain, unless `TOOL --version` already says
/// `TOOL WANT`.
fn ensure_cargo_tool(pins: &Pins, tool: &str, want: &str, takes: &str) -> Result<()> {
    let have = output(Command::new(tool).arg("--version"))
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if have.as_deref() == Some(&format!("{tool} {want}")) {
        return Ok(());
    }
    eprintln!(
        "xtask: {tool} {want} needed (found: {}); installing ({takes})",
        have.as_deref().unwrap_or("none")
    );
    run_cmd(Command::new("rustup").args([
        "run",
        &pins.ebpf_toolchain,
        "cargo",
        "install",
        &format!("{tool}@{want}"),
        "--locked",
        "--force",
    ]))
}

/// Debian packages later tasks use (qemu and busybox for test VMs), through the system's own
/// apt configuration.
fn ensure_apt_packages(packages: &[String]) -> Result<()> {
    let missing = missing_packages(OsStr::new("dpkg-query"), packages);
    if missing.is_empty() {
        return Ok(());
    }
    if output(Command::new("apt-get").arg("--version")).is_none() {
        bail!(
            "Debian packages {missing:?} are missing and apt-get is not available: install them by hand"
        );
    }
    let mut update = privilege::as_root("apt-get")?;
    run_cmd(update.args(["update", "-qq"]))?;
    let mut install = privilege::as_root("apt-get")?;
    install.env("DEBIAN_FRONTEND", "noninteractive");
    run_cmd(
        install
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(missing),
    )
}

/// The `packages` that `dpkg_query` does not report installed. dpkg's status is
/// `WANT ERROR STATE`: only the state `installed` with no error counts, wanted `install` or
/// `hold` (a held package is installed, just kept at its version). A removed package reads
/// `deinstall ok config-files` or, once purged, `unknown ok not-installed`.
fn missing_packages<'a>(dpkg_query: &OsStr, packages: &'a [String]) -> Vec<&'a String> {
    packages
        .iter()
        .filter(|p| {
            !output(Command::new(dpkg_query).args(["-W", "-f=${Status}", p])).is_some_and(|o| {
                o.status.success()
                    && matches!(
                        String::from_utf8_lossy(&o.stdout).trim(),
                        "install ok installed" | "hold ok installed"
                    )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::missing_packages;
    use std::{fs, os::unix::fs::PermissionsExt as _};

    #[test]
    fn only_packages_dpkg_calls_installed_count_as_installed() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("dpkg-query");
        // Each package's status as dpkg prints it; the last one dpkg has never heard of.
        fs::write(
            &fake,
            r#"#!/bin/sh
case "$3" in
cpio) printf 'unknown ok not-installed' ;;
qemu-system-x86) printf 'install ok installed' ;;
busybox-static) printf 'hold ok installed' ;;
zstd) printf 'deinstall ok config-files' ;;
*) echo "dpkg-query: no packages found matching $3" >&2; exit 1 ;;
esac
"#,
        )
        .unwrap();
        fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
        let packages = [
            "cpio",
            "qemu-system-x86",
            "busybox-static",
            "zstd",
            "nosuch",
        ]
        .map(String::from);
        let missing = missing_packages(fake.as_os_str(), &packages);
        assert_eq!(missing, ["cpio", "zstd", "nosuch"]);
    }
}
