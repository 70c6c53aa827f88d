//! Raw tracepoints: tracepoints by name, with the raw arguments and no tracefs lookup.

use aya::programs::RawTracePoint;

use super::{failed, program};

/// Loads `probe_raw_tracepoint` and attaches it to `sys_enter`.
///
/// Minimum kernel version: 4.17.
#[doc(alias = "BPF_PROG_TYPE_RAW_TRACEPOINT")]
pub(super) fn probe(ebpf: &mut aya::Ebpf) -> Result<String, String> {
    let p: &mut RawTracePoint = program(ebpf, "probe_raw_tracepoint")?;
    let outcome = p
        .load()
        .map_err(|e| failed("load", &e))
        .and_then(|()| p.attach("sys_enter").map_err(|e| failed("attach", &e)))
        .map(|_link| "loaded and attached to sys_enter".to_owned());
    let _ = p.unload();
    outcome
}
