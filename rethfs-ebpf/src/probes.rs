//! Trivial programs `rethfs doctor` loads and attaches, one per attach backend, to learn by
//! trying what the running kernel allows. They do nothing when they run.

use aya_ebpf::{
    macros::{
        btf_tracepoint, fentry, fexit, kprobe, kretprobe, perf_event, raw_tracepoint, tracepoint,
    },
    programs::{
        BtfTracePointContext, FEntryContext, FExitContext, PerfEventContext, ProbeContext,
        RawTracePointContext, RetProbeContext, TracePointContext,
    },
};

#[kprobe]
pub fn probe_kprobe(_ctx: ProbeContext) -> u32 {
    0
}

#[kretprobe]
pub fn probe_kretprobe(_ctx: RetProbeContext) -> u32 {
    0
}

#[fentry(function = "dput")]
pub fn probe_fentry(_ctx: FEntryContext) -> u32 {
    0
}

#[fexit(function = "dput")]
pub fn probe_fexit(_ctx: FExitContext) -> u32 {
    0
}

#[tracepoint]
pub fn probe_tracepoint(_ctx: TracePointContext) -> u32 {
    0
}

#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn probe_raw_tracepoint(_ctx: RawTracePointContext) -> i32 {
    0
}

#[btf_tracepoint(function = "sys_enter")]
pub fn probe_tp_btf(_ctx: BtfTracePointContext) -> i32 {
    0
}

#[perf_event]
pub fn probe_watchpoint(_ctx: PerfEventContext) -> u32 {
    0
}
