//! Classic tracepoints, attached by id through perf; the syscall observer's backend.

use aya::programs::TracePoint;

use super::{attempt, program};

/// Loads `probe_tracepoint` and attaches it to `syscalls/sys_exit_openat`, the first tracepoint
/// the syscall observer needs.
///
/// Minimum kernel version: 4.7. Needs `CONFIG_FTRACE_SYSCALLS` for `syscalls/*`. Attaching
/// reads `events/<category>/<name>/id` through tracefs, which creates eventfs dentries.
#[doc(alias = "BPF_PROG_TYPE_TRACEPOINT")]
pub(super) fn probe(ebpf: &mut aya::Ebpf) -> Result<String, String> {
    let p: &mut TracePoint = program(ebpf, "probe_tracepoint")?;
    attempt(
        p,
        TracePoint::load,
        |p| p.attach("syscalls", "sys_exit_openat").map(drop),
        TracePoint::unload,
        "loaded and attached to syscalls/sys_exit_openat".to_owned(),
    )
}
