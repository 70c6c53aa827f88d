//! The workspace: its root, cargo run in it, where cargo builds, and the toolchain pins in its
//! Cargo.toml's `[workspace.metadata.rethfs]`.

use std::{fs, path::PathBuf, process::Command};

use anyhow::{Context as _, Result, anyhow, bail};

/// What `[workspace.metadata.rethfs]` pins.
pub struct Pins {
    /// The dated nightly rethfs-ebpf is pinned to.
    pub ebpf_pin: String,
    /// The rustup toolchain that is that pin here (see `ebpf_toolchain::resolve`).
    pub ebpf_toolchain: String,
    pub ebpf_llvm_major: u32,
    pub bpf_linker: String,
    pub cargo_fuzz: String,
    pub apt_packages: Vec<String>,
}

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_owned()
}

/// Cargo (the one running xtask), in the workspace root.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}

/// Where cargo builds: `target/` unless CARGO_TARGET_DIR or cargo's configuration moves it,
/// as cargo itself reports it.
pub fn target_dir() -> Result<PathBuf> {
    let out = cargo()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("starting `cargo metadata`")?;
    if !out.status.success() {
        bail!(
            "`cargo metadata` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("parsing `cargo metadata` output")?;
    meta["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("`cargo metadata` output has no target_directory")
}

impl Pins {
    pub fn read() -> Result<Self> {
        let path = workspace_root().join("Cargo.toml");
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let manifest: toml::Table = text
            .parse()
            .with_context(|| format!("parsing {}", path.display()))?;
        let meta = manifest
            .get("workspace")
            .and_then(|w| w.get("metadata"))
            .and_then(|m| m.get("rethfs"))
            .ok_or_else(|| anyhow!("{}: no [workspace.metadata.rethfs]", path.display()))?;
        let string = |key: &str| {
            meta.get(key)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| {
                    anyhow!(
                        "{}: workspace.metadata.rethfs.{key} missing",
                        path.display()
                    )
                })
        };
        let ebpf_pin = string("ebpf-toolchain")?;
        Ok(Pins {
            ebpf_toolchain: crate::ebpf_toolchain::resolve(&ebpf_pin)
                .unwrap_or_else(|| ebpf_pin.clone()),
            ebpf_pin,
            ebpf_llvm_major: meta
                .get("ebpf-llvm-major")
                .and_then(|v| v.as_integer())
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| {
                    anyhow!(
                        "{}: workspace.metadata.rethfs.ebpf-llvm-major missing",
                        path.display()
                    )
                })?,
            bpf_linker: string("bpf-linker")?,
            cargo_fuzz: string("cargo-fuzz")?,
            apt_packages: meta
                .get("apt-packages")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}
