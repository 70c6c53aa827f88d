//! Attach backends: the ways a BPF program can reach the kernel code rethfs observes.
//!
//! `rethfs doctor` learns which ones work by loading and attaching a trivial program for each
//! (rethfs-ebpf's `probes` module), and reports the kernel's own error when one does not.

mod fentry;
mod kprobe;
mod perf_watchpoint;
mod raw_tracepoint;
mod tp_btf;
mod tracepoint;

use aya::{Btf, Ebpf, programs::ProgramError};
use serde::Serialize;

use crate::{error::chain, kernel::KernelConfig};

/// Every attach backend rethfs knows, in the order doctor prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Kprobe,
    Kretprobe,
    Fentry,
    Fexit,
    Tracepoint,
    RawTracepoint,
    TpBtf,
    PerfWatchpoint,
}

/// Whether a backend loads and attaches here, and the evidence.
#[derive(Debug, Clone, Serialize)]
pub struct BackendStatus {
    pub name: &'static str,
    pub available: bool,
    /// What was attached where, or the kernel's error verbatim with what explains it.
    pub reason: String,
}

/// What a backend probe needs from the environment.
pub struct ProbeEnv<'a> {
    pub btf: Option<&'a Btf>,
    pub config: &'a KernelConfig,
}

impl Backend {
    pub const ALL: [Backend; 8] = [
        Backend::Kprobe,
        Backend::Kretprobe,
        Backend::Fentry,
        Backend::Fexit,
        Backend::Tracepoint,
        Backend::RawTracepoint,
        Backend::TpBtf,
        Backend::PerfWatchpoint,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Kprobe => "kprobe",
            Backend::Kretprobe => "kretprobe",
            Backend::Fentry => "fentry",
            Backend::Fexit => "fexit",
            Backend::Tracepoint => "tracepoint",
            Backend::RawTracepoint => "raw_tracepoint",
            Backend::TpBtf => "tp_btf",
            Backend::PerfWatchpoint => "perf_watchpoint",
        }
    }

    /// Loads and attaches this backend's trivial program, then detaches and unloads it.
    pub fn probe(self, ebpf: &mut Ebpf, env: &ProbeEnv) -> BackendStatus {
        let result = match self {
            Backend::Kprobe => kprobe::probe(ebpf, "probe_kprobe", env),
            Backend::Kretprobe => kprobe::probe(ebpf, "probe_kretprobe", env),
            Backend::Fentry => fentry::probe_fentry(ebpf, env),
            Backend::Fexit => fentry::probe_fexit(ebpf, env),
            Backend::Tracepoint => tracepoint::probe(ebpf),
            Backend::RawTracepoint => raw_tracepoint::probe(ebpf),
            Backend::TpBtf => tp_btf::probe(ebpf, env),
            Backend::PerfWatchpoint => perf_watchpoint::probe(ebpf),
        };
        let (available, reason) = match result {
            Ok(what) => (true, what),
            Err(why) => (false, why),
        };
        BackendStatus {
            name: self.name(),
            available,
            reason,
        }
    }
}

/// Probes every backend in [`Backend::ALL`] order.
pub fn probe_all(ebpf: &mut Ebpf, env: &ProbeEnv) -> Vec<BackendStatus> {
    Backend::ALL.iter().map(|b| b.probe(ebpf, env)).collect()
}

/// The program `name` in the object, as the program type `T`.
pub(super) fn program<'a, T>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut T, String>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = ProgramError>,
{
    let program = ebpf
        .program_mut(name)
        .ok_or_else(|| format!("program {name} missing from the object"))?;
    program
        .try_into()
        .map_err(|e: aya::programs::ProgramError| chain(&e))
}

/// Loads `p` with `load`, attaches it with `attach`, then unloads it (which detaches it): the
/// whole probe of one backend. Returns `attached` or the failing stage with the kernel's words.
fn attempt<P>(
    p: &mut P,
    load: impl FnOnce(&mut P) -> Result<(), ProgramError>,
    attach: impl FnOnce(&mut P) -> Result<(), ProgramError>,
    unload: fn(&mut P) -> Result<(), ProgramError>,
    attached: String,
) -> Result<String, String> {
    let outcome = load(p)
        .map_err(|e| failed("load", &e))
        .and_then(|()| attach(p).map_err(|e| failed("attach", &e)));
    // Unloading a program that never loaded fails harmlessly.
    let _ = unload(p);
    outcome.map(|()| attached)
}

/// Formats an aya error as a probe failure: `stage` (load or attach) and the kernel's words.
pub(super) fn failed(stage: &str, err: &dyn std::error::Error) -> String {
    let text = chain(err);
    // aya appends the verifier log (empty when the kernel refused before verifying); its
    // verdict is the last line before the statistics.
    let (head, log) = text.split_once("Verifier output:").unwrap_or((&text, ""));
    let head = head.trim_end().trim_end_matches(['.', ' ']);
    let verdict = log.lines().map(str::trim).rev().find(|l| {
        !l.is_empty()
            && !["verification time", "stack depth", "processed "]
                .iter()
                .any(|s| l.starts_with(s))
    });
    match verdict {
        Some(v) => format!("{stage} failed: {head} (verifier: {v})"),
        None => format!("{stage} failed: {head}"),
    }
}
