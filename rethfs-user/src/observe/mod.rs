//! Observing tracefs from inside the kernel: BTF offsets, attach backends, the programs'
//! loading, and the ring buffer that carries their records to user space.

mod backend;
pub mod btf;
mod ebpf;
mod hooks;
mod live;
mod observer;
pub mod offsets;
mod reconstruct;
mod record;
mod session;

use std::path::Path;

pub use backend::{Backend, BackendStatus, ProbeEnv};
use backend::{failed, program};
pub use hooks::{HOOKS, HookFunction, HookSet};
pub use live::{Batch, Live};
pub use observer::{HookStatus, Observer};
pub use reconstruct::{Reconstructor, seen_kinds};
pub use record::{Malformed, Record};
pub use session::{Session, Summary};

use crate::{error::Result, kernel::KernelConfig};

/// Where each lifetime hook's function stands on the running kernel (kallsyms, BTF).
pub fn hook_functions(btf: Option<&btf::Btf>) -> Vec<HookFunction> {
    hooks::resolve(&crate::kernel::kallsyms::names(), btf)
}

/// Loads the object once and probes every attach backend with it (see [`Backend::probe`]).
pub fn probe_backends(btf_path: &Path, config: &KernelConfig) -> Result<Vec<BackendStatus>> {
    let btf = aya::Btf::parse_file(btf_path, aya::Endianness::default()).ok();
    let mut object = ebpf::load(btf.as_ref(), &ebpf::Globals::default())?;
    let env = ProbeEnv {
        btf: btf.as_ref(),
        config,
    };
    Ok(backend::probe_all(&mut object, &env))
}
