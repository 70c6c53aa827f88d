//! Attaching a lifetime hook as a kprobe and, where it needs the return value, a kretprobe.

use aya::{Ebpf, programs::KProbe};

use super::{AttachEnv, HookPoint};
use crate::observe::{failed, program};

/// Loads the hook's kprobe and kretprobe programs and attaches both to `symbol`.
///
/// Minimum kernel version: 4.17 (the perf kprobe PMU aya attaches through, which adds no
/// `kprobe_events` entry and so leaves the tracefs under test alone). Needs `CONFIG_KPROBES`.
#[doc(alias = "kprobe")]
#[doc(alias = "kretprobe")]
pub(super) fn attach(
    ebpf: &mut Ebpf,
    point: &HookPoint,
    symbol: &str,
    _env: &AttachEnv,
) -> Result<(), String> {
    for name in [point.kprobe, point.kretprobe].into_iter().flatten() {
        let p: &mut KProbe = program(ebpf, name)?;
        p.load().map_err(|e| failed("load", &e))?;
        p.attach(symbol, 0).map_err(|e| failed("attach", &e))?;
    }
    Ok(())
}
