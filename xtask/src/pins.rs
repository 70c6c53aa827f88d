//! The toolchain pins in the workspace Cargo.toml's `[workspace.metadata.rethfs]`.

use std::{fs, path::PathBuf};

use anyhow::{Context as _, Result, anyhow};

/// What `[workspace.metadata.rethfs]` pins.
pub struct Pins {
    pub ebpf_toolchain: String,
    pub ebpf_llvm_major: u32,
    pub bpf_linker: String,
    pub apt_packages: Vec<String>,
}

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_owned()
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
        Ok(Pins {
            ebpf_toolchain: string("ebpf-toolchain")?,
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
