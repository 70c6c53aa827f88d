//! kprobe and kretprobe: breakpoints on any kernel function, through the perf kprobe PMU.

use aya::programs::KProbe;

use super::{ProbeEnv, attempt, program};

/// The function the probes attach to: the dentry release rethfs observes.
const TARGET: &str = "dput";

/// Attaches the kprobe or kretprobe `name` to [`TARGET`].
///
/// Minimum kernel version: 4.1 (4.17 for the perf kprobe PMU aya uses, which creates no
/// `kprobe_events` entry and so leaves tracefs alone). Needs `CONFIG_KPROBES`.
#[doc(alias = "kprobe")]
#[doc(alias = "kretprobe")]
pub(super) fn probe(ebpf: &mut aya::Ebpf, name: &str, env: &ProbeEnv) -> Result<String, String> {
    let without = match env.config.enabled("CONFIG_KPROBES") {
        Some(false) => "kernel built without kprobes (CONFIG_KPROBES is not set); ",
        _ => "",
    };
    let p: &mut KProbe = program(ebpf, name)?;
    attempt(
        p,
        KProbe::load,
        |p| p.attach(TARGET, 0).map(drop),
        KProbe::unload,
        format!("loaded and attached to {TARGET}"),
    )
    .map_err(|e| format!("{without}{e}"))
}
