//! BTF-enabled raw tracepoints (`tp_btf`): typed tracepoint arguments.

use aya::programs::BtfTracePoint;

use super::{ProbeEnv, attempt, program};

/// Loads `probe_tp_btf` for `sys_enter` and attaches it.
///
/// Minimum kernel version: 5.5, with BTF.
#[doc(alias = "BPF_TRACE_RAW_TP")]
pub(super) fn probe(ebpf: &mut aya::Ebpf, env: &ProbeEnv) -> Result<String, String> {
    let btf = env
        .btf
        .ok_or_else(|| "no kernel BTF to type the tracepoint".to_owned())?;
    let p: &mut BtfTracePoint = program(ebpf, "probe_tp_btf")?;
    attempt(
        p,
        |p| p.load("sys_enter", btf),
        |p| p.attach().map(drop),
        BtfTracePoint::unload,
        "loaded and attached to sys_enter".to_owned(),
    )
}
