//! BTF-enabled raw tracepoints (`tp_btf`): typed tracepoint arguments.

use aya::programs::BtfTracePoint;

use super::{ProbeEnv, failed, program};

/// Loads `probe_tp_btf` for `sys_enter` and attaches it.
///
/// Minimum kernel version: 5.5, with BTF.
#[doc(alias = "BPF_TRACE_RAW_TP")]
pub(super) fn probe(ebpf: &mut aya::Ebpf, env: &ProbeEnv) -> Result<String, String> {
    let btf = env
        .btf
        .ok_or_else(|| "no kernel BTF to type the tracepoint".to_owned())?;
    let p: &mut BtfTracePoint = program(ebpf, "probe_tp_btf")?;
    let outcome = p
        .load("sys_enter", btf)
        .map_err(|e| failed("load", &e))
        .and_then(|()| p.attach().map_err(|e| failed("attach", &e)))
        .map(|_link| "loaded and attached to sys_enter".to_owned());
    let _ = p.unload();
    outcome
}
