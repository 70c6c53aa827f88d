//! kprobe and kretprobe: breakpoints on any kernel function, through the perf kprobe PMU.

use aya::programs::KProbe;

use super::{ProbeEnv, failed, program};

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
    let outcome = p
        .load()
        .map_err(|e| failed("load", &e))
        .and_then(|()| p.attach(TARGET, 0).map_err(|e| failed("attach", &e)))
        .map(|_link| format!("loaded and attached to {TARGET}"));
    let _ = p.unload();
    outcome.map_err(|e| format!("{without}{e}"))
}
