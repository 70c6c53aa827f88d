//! The eBPF object built from rethfs-ebpf, embedded in the binary, and its loading.

use aya::{Btf, Ebpf, EbpfLoader};
use rethfs_common::Offsets;

use crate::error::{Error, Result};

/// Written by build.rs; empty when the build skipped the eBPF compile (`AYA_BUILD_SKIP=1`).
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/rethfs"));

/// What the programs need to know before the verifier sees them.
#[derive(Default)]
pub struct Globals {
    pub offsets: Offsets,
    /// Records from this thread group are dropped in the kernel (0: keep all): an observer
    /// must not report its own reads of tracefs, such as the tracepoint ids aya reads to attach.
    pub ignore_tgid: u32,
    /// Which argument of `tracefs_d_revalidate` is the dentry (0, or 2 from 6.14).
    pub revalidate_dentry_arg: u32,
    /// Non-zero: every revalidation verdict is recorded, not only the failed ones.
    pub revalidate_all: u32,
}

/// Loads the object's maps with `globals` fixed; programs load later, one by one.
pub fn load(btf: Option<&Btf>, globals: &Globals) -> Result<Ebpf> {
    if OBJECT.is_empty() {
        return Err(Error::Environment(
            "this rethfs binary carries no eBPF programs (built with AYA_BUILD_SKIP=1); \
             rebuild it with `cargo build`"
                .into(),
        ));
    }
    EbpfLoader::new()
        .btf(btf)
        .override_global("OFFSETS", &globals.offsets, true)
        .override_global("IGNORE_TGID", &globals.ignore_tgid, true)
        .override_global("REVALIDATE_ALL", &globals.revalidate_all, true)
        .override_global(
            "REVALIDATE_DENTRY_ARG",
            &globals.revalidate_dentry_arg,
            true,
        )
        .load(OBJECT)
        .map_err(|e| {
            Error::Failed(anyhow::anyhow!(
                "loading the eBPF object: {}",
                crate::error::chain(&e)
            ))
        })
}
