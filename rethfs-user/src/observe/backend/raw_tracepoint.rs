//! Raw tracepoints: tracepoints by name, with the raw arguments and no tracefs lookup.

use aya::programs::RawTracePoint;

use super::{attempt, program};

/// Loads `probe_raw_tracepoint` and attaches it to `sys_enter`.
///
/// Minimum kernel version: 4.17.
#[doc(alias = "BPF_PROG_TYPE_RAW_TRACEPOINT")]
pub(super) fn probe(ebpf: &mut aya::Ebpf) -> Result<String, String> {
    let p: &mut RawTracePoint = program(ebpf, "probe_raw_tracepoint")?;
    attempt(
        p,
        RawTracePoint::load,
        |p| p.attach("sys_enter").map(drop),
        RawTracePoint::unload,
        "loaded and attached to sys_enter".to_owned(),
    )
}
