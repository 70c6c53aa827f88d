//! Attaching a lifetime hook as an fentry or fexit program.

use aya::{
    Ebpf,
    programs::{FEntry, FExit},
};

use super::{AttachEnv, HookPoint};
use crate::observe::{failed, program};

/// Loads the hook's fentry or fexit program against `symbol`'s BTF and attaches it.
///
/// Minimum kernel version: 5.5 (5.17 for fexit's `bpf_get_func_ret`), with BTF and
/// `CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS`. The function must have BTF of its own: one the
/// compiler inlined everywhere has none and cannot be hooked this way.
#[doc(alias = "BPF_TRACE_FENTRY")]
#[doc(alias = "BPF_TRACE_FEXIT")]
pub(super) fn attach(
    ebpf: &mut Ebpf,
    point: &HookPoint,
    symbol: &str,
    env: &AttachEnv,
) -> Result<(), String> {
    if let Some(name) = point.fentry {
        let p: &mut FEntry = program(ebpf, name)?;
        p.load(symbol, env.btf).map_err(|e| failed("load", &e))?;
        p.attach().map_err(|e| failed("attach", &e))?;
    }
    if let Some(name) = point.fexit {
        let p: &mut FExit = program(ebpf, name)?;
        p.load(symbol, env.btf).map_err(|e| failed("load", &e))?;
        p.attach().map_err(|e| failed("attach", &e))?;
    }
    Ok(())
}
