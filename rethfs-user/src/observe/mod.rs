//! Observing tracefs from inside the kernel: BTF offsets, attach backends, the programs'
//! loading, and the ring buffer that carries their records to user space.

mod backend;
pub mod btf;
mod ebpf;
pub mod offsets;
mod record;
mod session;
mod syscalls;

use std::path::Path;

pub use backend::{Backend, BackendStatus, ProbeEnv};
pub use record::Record;
pub use session::{Session, Summary};

use crate::{
    error::{Error, Result},
    profile::KernelConfig,
};

/// Loads the object once and probes every attach backend with it (see [`Backend::probe`]).
pub fn probe_backends(btf_path: &Path, config: &KernelConfig) -> Result<Vec<BackendStatus>> {
    let btf = aya::Btf::parse_file(btf_path, aya::Endianness::default()).ok();
    let globals = ebpf::Globals {
        offsets: Default::default(),
        ignore_tgid: 0,
    };
    let mut object = ebpf::load(btf.as_ref(), &globals)?;
    let env = ProbeEnv {
        btf: btf.as_ref(),
        config,
    };
    Ok(backend::probe_all(&mut object, &env))
}

/// The observers rethfs can run, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observer {
    /// Syscall tracepoints resolving each fd to its dentry, filtered to tracefs in the kernel.
    SyscallTracepoints,
}

impl Observer {
    /// Every observer, best first.
    pub const ALL: [Observer; 1] = [Observer::SyscallTracepoints];

    pub fn name(self) -> &'static str {
        match self {
            Observer::SyscallTracepoints => "syscall-tracepoints",
        }
    }

    /// What this observer sees, and what it cannot.
    pub fn describe(self) -> &'static str {
        match self {
            Observer::SyscallTracepoints => {
                "syscall tracepoints (openat, getdents64, read, write, close, fchdir) resolve each \
                 fd to its dentry; they see dentries user space holds, not dcache births or kills"
            }
        }
    }

    /// The backend each observer needs, in preference order.
    fn needs(self) -> Backend {
        match self {
            Observer::SyscallTracepoints => Backend::Tracepoint,
        }
    }

    /// The best observer whose backend loaded and attached, or an environment error that
    /// quotes why each candidate's backend failed.
    pub fn choose(backends: &[BackendStatus]) -> Result<Observer> {
        let mut why = Vec::new();
        for observer in Self::ALL {
            let needed = observer.needs().name();
            match backends.iter().find(|b| b.name == needed) {
                Some(b) if b.available => return Ok(observer),
                Some(b) => why.push(format!("{}: {needed}: {}", observer.name(), b.reason)),
                None => why.push(format!("{}: {needed} was not probed", observer.name())),
            }
        }
        Err(Error::Environment(format!(
            "no backend loadable: {}",
            why.join("; ")
        )))
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
    fn chooses_syscall_tracepoints_when_tracepoints_attach() {
        let b = [status("kprobe", false), status("tracepoint", true)];
        assert_eq!(Observer::choose(&b).unwrap(), Observer::SyscallTracepoints);
    }

    #[test]
    fn no_loadable_backend_is_an_environment_error_quoting_the_kernel() {
        let b = [status("kprobe", false), status("tracepoint", false)];
        let err = Observer::choose(&b).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert_eq!(
            err.to_string(),
            "no backend loadable: syscall-tracepoints: tracepoint: tracepoint reason"
        );
    }
}
