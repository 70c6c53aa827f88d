//! Hardware data watchpoints through perf, carrying a BPF program: they fire on a write to a
//! kernel address, which works even where kprobes and fentry do not.

use aya::programs::{
    PerfEvent,
    perf_event::{
        BreakpointConfig, PerfBreakpointLength, PerfBreakpointType, PerfEventConfig,
        PerfEventScope, SamplePolicy,
    },
};

use super::{attempt, program};
use crate::kernel::kallsyms;

/// Writable kernel data to watch, first found wins: `jiffies_64` changes every tick but is listed
/// only with CONFIG_KALLSYMS_ALL; `__start_once` (the `.data.once` flags) is always listed.
const WATCHED: [&str; 2] = ["jiffies_64", "__start_once"];

/// Loads `probe_watchpoint` and attaches it to an 8-byte write watchpoint on one of [`WATCHED`],
/// CPU 0.
///
/// Minimum kernel version: 4.9 (BPF on perf events), `CONFIG_HAVE_HW_BREAKPOINT`; x86 has 4
/// debug registers per CPU.
#[doc(alias = "PERF_TYPE_BREAKPOINT")]
#[doc(alias = "HW_BREAKPOINT_W")]
pub(super) fn probe(ebpf: &mut aya::Ebpf) -> Result<String, String> {
    let (symbol, address) = WATCHED
        .iter()
        .find_map(|s| kallsyms::address_of(s).map(|a| (*s, a)))
        .ok_or_else(|| format!("none of {WATCHED:?} in /proc/kallsyms (or addresses hidden)"))?;
    let p: &mut PerfEvent = program(ebpf, "probe_watchpoint")?;
    let config = PerfEventConfig::Breakpoint(BreakpointConfig::Data {
        r#type: PerfBreakpointType::Write,
        address,
        length: PerfBreakpointLength::Len8,
    });
    attempt(
        p,
        PerfEvent::load,
        |p| {
            let scope = PerfEventScope::AllProcessesOneCpu { cpu: 0 };
            p.attach(config, scope, SamplePolicy::Period(1), false)
                .map(drop)
        },
        PerfEvent::unload,
        format!("loaded and attached to a write watchpoint on {symbol} ({address:#x}), CPU 0"),
    )
}
