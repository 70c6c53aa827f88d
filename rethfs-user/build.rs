//! Compiles rethfs-ebpf for the BPF target with aya-build, so a plain `cargo build` works.
//!
//! The toolchain comes from `[workspace.metadata.rethfs]` in the workspace Cargo.toml, the one
//! place where rethfs pins its toolchain pieces. With `AYA_BUILD_SKIP=1` (for `cargo check` and
//! clippy) an empty object is written instead; the binary then refuses to load programs.
use std::{env, fs, path::PathBuf};

use anyhow::{Context as _, anyhow};

#[path = "ebpf_toolchain.rs"]
mod ebpf_toolchain;

fn main() -> anyhow::Result<()> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir
        .parent()
        .context("rethfs-user has no parent directory")?;
    let workspace_toml = root.join("Cargo.toml");
    println!("cargo:rerun-if-changed={}", workspace_toml.display());
    let manifest: toml::Table = fs::read_to_string(&workspace_toml)?.parse()?;
    let toolchain = manifest
        .get("workspace")
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("rethfs"))
        .and_then(|r| r.get("ebpf-toolchain"))
        .and_then(|t| t.as_str())
        .ok_or_else(|| {
            anyhow!(
                "{}: no workspace.metadata.rethfs.ebpf-toolchain",
                workspace_toml.display()
            )
        })?
        .to_owned();
    let toolchain = ebpf_toolchain::resolve(&toolchain).unwrap_or(toolchain);

    println!("cargo:rerun-if-env-changed=AYA_BUILD_SKIP");
    let out = PathBuf::from(env::var("OUT_DIR")?).join("rethfs");
    let skip = env::var("AYA_BUILD_SKIP").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    if skip {
        // include_bytes_aligned! needs a file; the loader reports an empty object clearly.
        fs::write(&out, [])?;
        return Ok(());
    }
    let ebpf_dir = root.join("rethfs-ebpf");
    let ebpf = aya_build::Package {
        name: "rethfs-ebpf",
        root_dir: ebpf_dir.to_str().context("non-UTF-8 path")?,
        ..Default::default()
    };
    aya_build::build_ebpf([ebpf], aya_build::Toolchain::Custom(&toolchain))
}
