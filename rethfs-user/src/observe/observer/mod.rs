//! The observers rethfs runs, and attaching them: the lifetime observer in its two flavours
//! (kprobe and fentry) and the syscall-tracepoint fallback.

mod fentry;
mod kprobe;
mod syscalls;

use std::collections::HashSet;

use aya::Ebpf;
use serde::Serialize;

use super::{
    Backend, BackendStatus,
    hooks::{HOOKS, HookPoint, HookSet},
};
use crate::{
    error::{Error, Result},
    interface::LifetimeKind,
};

/// The observers rethfs can run, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Observer {
    /// fentry and fexit trampolines on the dcache and eventfs functions: every lifetime event,
    /// at the lowest cost.
    Fentry,
    /// kprobes and kretprobes on the same functions: every lifetime event, where fentry does
    /// not load.
    Kprobe,
    /// Syscall tracepoints resolving each fd to its dentry, filtered to tracefs in the kernel.
    #[value(name = "tracepoint")]
    #[serde(rename = "tracepoint")]
    SyscallTracepoints,
}

/// Whether one lifetime hook is attached, and where or why not.
#[derive(Debug, Clone, Serialize)]
pub struct HookStatus {
    #[serde(serialize_with = "super::record::hook_name")]
    pub hook: rethfs_common::Hook,
    /// The kernel symbol attached to, or the candidates looked for.
    pub function: String,
    pub attached: bool,
    /// Why not, in the kernel's words where it gave any.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// Not attached by choice: another hook gives its facts here, or it waits for
    /// `--hooks full`. Nothing is missing for it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub left_out: bool,
    /// What is not seen when this hook is not attached.
    pub sees: &'static str,
}

/// What attaching needs to know of the kernel besides the object.
pub struct AttachEnv<'a> {
    pub btf: &'a aya::Btf,
    /// Names in /proc/kallsyms.
    pub symbols: &'a HashSet<String>,
    /// BTF has the 6.8+ `struct eventfs_inode` the eventfs hooks read.
    pub eventfs: bool,
    /// BTF told which argument of `tracefs_d_revalidate` is the dentry.
    pub revalidate_arg_known: bool,
    pub set: HookSet,
}

impl Observer {
    /// Every observer, best first: fentry costs least, then kprobes; both see lifetimes.
    pub const ALL: [Observer; 3] = [
        Observer::Fentry,
        Observer::Kprobe,
        Observer::SyscallTracepoints,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Observer::Fentry => "fentry",
            Observer::Kprobe => "kprobe",
            Observer::SyscallTracepoints => "syscall-tracepoints",
        }
    }

    /// Whether this observer sees dentry and ei lifetimes (births, kills, frees, releases).
    pub fn sees_lifetimes(self) -> bool {
        !matches!(self, Observer::SyscallTracepoints)
    }

    /// What this observer sees, and what it cannot.
    pub fn describe(self) -> &'static str {
        match self {
            Observer::Fentry | Observer::Kprobe => {
                "tracefs's and eventfs's functions (the dcache's where a kernel lacks them): \
                 dentry births, lookups, revalidations, invalidations and kills; \
                 eventfs_inode creations, frees and releases"
            }
            Observer::SyscallTracepoints => {
                "syscall tracepoints (openat, getdents64, read, write, close, fchdir) resolve each \
                 fd to its dentry; they see dentries user space holds, not dcache births or kills"
            }
        }
    }

    /// The attach backends this observer needs.
    fn needs(self) -> &'static [Backend] {
        match self {
            Observer::Fentry => &[Backend::Fentry, Backend::Fexit],
            Observer::Kprobe => &[Backend::Kprobe, Backend::Kretprobe],
            Observer::SyscallTracepoints => &[Backend::Tracepoint],
        }
    }

    /// Every observer, best first on a kernel that is `preemptible` or not. A BPF program
    /// on a trampoline runs with preemption enabled: on a preemptible kernel (7.x's
    /// PREEMPT_LAZY) a task preempted inside one, and another entering the same function on
    /// that CPU, makes the kernel skip the second run, and the record is lost (seen in the
    /// 7.3 VM under `churn`: thousands). kprobes run with preemption off and lose none, at
    /// about the same cost, so there they come first.
    pub fn ranked(preemptible: bool) -> [Observer; 3] {
        if preemptible {
            [
                Observer::Kprobe,
                Observer::Fentry,
                Observer::SyscallTracepoints,
            ]
        } else {
            Self::ALL
        }
    }

    /// `forced`, or the best observer (see [`Observer::ranked`]) whose backends loaded and
    /// attached; else an environment error that quotes why each candidate's backend failed.
    pub fn choose(
        backends: &[BackendStatus],
        forced: Option<Observer>,
        preemptible: bool,
    ) -> Result<Observer> {
        let ranked = Self::ranked(preemptible);
        let candidates: &[Observer] = match &forced {
            Some(o) => std::slice::from_ref(o),
            None => &ranked,
        };
        let mut why = Vec::new();
        'observers: for &observer in candidates {
            for needed in observer.needs() {
                let needed = needed.name();
                match backends.iter().find(|b| b.name == needed) {
                    Some(b) if b.available => {}
                    Some(b) => {
                        why.push(format!("{}: {needed}: {}", observer.name(), b.reason));
                        continue 'observers;
                    }
                    None => {
                        why.push(format!("{}: {needed} was not probed", observer.name()));
                        continue 'observers;
                    }
                }
            }
            return Ok(observer);
        }
        Err(Error::Environment(match forced {
            Some(_) => format!("--attach {}", why.join("; ")),
            None => format!("no backend loadable: {}", why.join("; ")),
        }))
    }

    /// Loads and attaches this observer's programs; the links live as long as `ebpf`. The
    /// lifetime observers report each hook, attached or why not; they fail only when no
    /// attached hook sees births or none sees kills, which every comparison needs.
    pub fn attach(
        self,
        ebpf: &mut Ebpf,
        env: &AttachEnv,
    ) -> std::result::Result<Vec<HookStatus>, String> {
        let attach_one: fn(
            &mut Ebpf,
            &HookPoint,
            &str,
            &AttachEnv,
        ) -> std::result::Result<(), String> = match self {
            Observer::SyscallTracepoints => return syscalls::attach(ebpf).map(|()| Vec::new()),
            Observer::Fentry => fentry::attach,
            Observer::Kprobe => kprobe::attach,
        };
        let statuses: Vec<HookStatus> = HOOKS
            .iter()
            .map(|point| {
                let symbol = point.symbol_in(env.symbols);
                let left_out = symbol.is_some() && point.wanted(env.set, env.symbols).is_err();
                let outcome = match symbol {
                    _ if point.eventfs && !env.eventfs => Err(
                        "BTF has no struct eventfs_inode of the 6.8+ layout (no eventfs, or \
                         6.6/6.7's)"
                            .to_owned(),
                    ),
                    _ if point.hook == rethfs_common::Hook::Revalidate
                        && !env.revalidate_arg_known =>
                    {
                        Err("BTF does not say which argument is the dentry".to_owned())
                    }
                    None => Err("not in /proc/kallsyms (absent or inlined)".to_owned()),
                    Some(s) => point
                        .wanted(env.set, env.symbols)
                        .and_then(|()| attach_one(ebpf, point, s, env)),
                };
                HookStatus {
                    hook: point.hook,
                    function: point.function(symbol),
                    attached: outcome.is_ok(),
                    detail: outcome.err().unwrap_or_default(),
                    left_out,
                    sees: point.sees,
                }
            })
            .collect();
        let kinds = super::reconstruct::seen_kinds(&statuses, env.set);
        let blind: Vec<String> = [
            (LifetimeKind::DentryBorn, "births"),
            (LifetimeKind::DentryKilled, "kills"),
        ]
        .into_iter()
        .filter(|(k, _)| !kinds.contains(k))
        .map(|(k, what)| {
            let why: Vec<String> = statuses
                .iter()
                .filter(|s| super::reconstruct::kinds_of(s.hook, env.set).contains(&k))
                .map(|s| format!("{}: {}", s.function, s.detail))
                .collect();
            format!("no hook sees dentry {what} ({})", why.join("; "))
        })
        .collect();
        if blind.is_empty() {
            Ok(statuses)
        } else {
            Err(blind.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(name: &'static str, available: bool) -> BackendStatus {
        BackendStatus {
            name,
            available,
            reason: format!("{name} reason"),
        }
    }

    #[test]
    fn chooses_the_cheapest_observer_that_sees_lifetimes() {
        let mut b: Vec<BackendStatus> = Backend::ALL
            .iter()
            .map(|b| status(b.name(), true))
            .collect();
        assert_eq!(Observer::choose(&b, None, false).unwrap(), Observer::Fentry);
        b[2].available = false; // fentry
        assert_eq!(Observer::choose(&b, None, false).unwrap(), Observer::Kprobe);
        b[1].available = false; // kretprobe
        assert_eq!(
            Observer::choose(&b, None, false).unwrap(),
            Observer::SyscallTracepoints
        );
    }

    #[test]
    fn a_preemptible_kernel_prefers_kprobes() {
        let b: Vec<BackendStatus> = Backend::ALL
            .iter()
            .map(|b| status(b.name(), true))
            .collect();
        assert_eq!(Observer::choose(&b, None, true).unwrap(), Observer::Kprobe);
        assert_eq!(
            Observer::choose(&b, Some(Observer::Fentry), true).unwrap(),
            Observer::Fentry
        );
    }

    #[test]
    fn a_forced_observer_that_cannot_load_is_an_environment_error() {
        let b: Vec<BackendStatus> = Backend::ALL
            .iter()
            .map(|b| status(b.name(), *b != Backend::Kretprobe))
            .collect();
        let err = Observer::choose(&b, Some(Observer::Kprobe), false).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert_eq!(
            err.to_string(),
            "--attach kprobe: kretprobe: kretprobe reason"
        );
        assert_eq!(
            Observer::choose(&b, Some(Observer::Fentry), false).unwrap(),
            Observer::Fentry
        );
    }

    #[test]
    fn no_loadable_backend_is_an_environment_error_quoting_the_kernel() {
        let b = [status("kprobe", false), status("tracepoint", false)];
        let err = Observer::choose(&b, None, false).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert_eq!(
            err.to_string(),
            "no backend loadable: fentry: fentry was not probed; kprobe: kprobe: kprobe reason; \
             syscall-tracepoints: tracepoint: tracepoint reason"
        );
    }
}
