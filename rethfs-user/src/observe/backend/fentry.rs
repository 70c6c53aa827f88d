//! fentry and fexit: BPF trampolines on kernel functions, typed by BTF.

use aya::programs::{FEntry, FExit};

use super::{ProbeEnv, attempt, program};

const TARGET: &str = "dput";

fn needs_btf<'a>(env: &ProbeEnv<'a>) -> Result<&'a aya::Btf, String> {
    env.btf
        .ok_or_else(|| "no kernel BTF to type the trampoline".to_owned())
}

/// Loads and attaches `probe_fentry` on [`TARGET`].
///
/// Minimum kernel version: 5.5, with BTF and `CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS`. Hosts may
/// refuse the load with EPERM before the verifier runs (a policy on tracing programs).
#[doc(alias = "BPF_TRACE_FENTRY")]
pub(super) fn probe_fentry(ebpf: &mut aya::Ebpf, env: &ProbeEnv) -> Result<String, String> {
    let btf = needs_btf(env)?;
    let p: &mut FEntry = program(ebpf, "probe_fentry")?;
    attempt(
        p,
        |p| p.load(TARGET, btf),
        |p| p.attach().map(drop),
        FEntry::unload,
        format!("loaded and attached to {TARGET}"),
    )
}

/// Loads and attaches `probe_fexit` on [`TARGET`]; same requirements as fentry.
#[doc(alias = "BPF_TRACE_FEXIT")]
pub(super) fn probe_fexit(ebpf: &mut aya::Ebpf, env: &ProbeEnv) -> Result<String, String> {
    let btf = needs_btf(env)?;
    let p: &mut FExit = program(ebpf, "probe_fexit")?;
    attempt(
        p,
        |p| p.load(TARGET, btf),
        |p| p.attach().map(drop),
        FExit::unload,
        format!("loaded and attached to {TARGET}"),
    )
}
