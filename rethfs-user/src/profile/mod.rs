//! The kernel profile: everything rethfs knows about the running kernel, computed once and
//! printed by `rethfs doctor`. Every later choice (observer backend, model policy) reads it.

use std::{collections::BTreeMap, path::PathBuf};

use serde::Serialize;

use crate::{
    error::{Error, Result},
    host::Tracefs,
    kernel::{KernelConfig, lockdown},
    observe::{
        self, BackendStatus, Observer,
        btf::{Btf, VMLINUX_BTF},
    },
};

/// Where to look, overridable for testing and for unusual hosts.
#[derive(Debug, Clone)]
pub struct ProfileOptions {
    /// A tracefs mount to use instead of finding or mounting the standard one.
    pub tracefs: Option<PathBuf>,
    /// The kernel BTF file.
    pub btf: PathBuf,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        ProfileOptions {
            tracefs: None,
            btf: PathBuf::from(VMLINUX_BTF),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TracefsStatus {
    pub path: Option<PathBuf>,
    pub mounted_by_rethfs: bool,
    pub error: Option<String>,
    pub control_files: BTreeMap<&'static str, bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BtfStatus {
    pub path: PathBuf,
    pub present: bool,
    pub types: Option<usize>,
    pub error: Option<String>,
}

/// The observer `rethfs observe` would use here, or why none can run.
#[derive(Debug, Clone, Serialize)]
pub struct ObserverStatus {
    pub name: Option<&'static str>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct KernelProfile {
    pub release: String,
    pub machine: String,
    pub config: KernelConfig,
    pub tracefs: TracefsStatus,
    pub lockdown: String,
    pub btf: BtfStatus,
    pub backends: Vec<BackendStatus>,
    /// The lifetime observer's kernel functions, found or not.
    pub hooks: Vec<observe::HookFunction>,
    pub observer: ObserverStatus,
}

impl KernelProfile {
    /// Computes the profile. Needs root: it mounts tracefs where missing and loads programs.
    /// Missing pieces are recorded, not returned as errors; [`KernelProfile::problems`] lists them.
    pub fn compute(opts: &ProfileOptions) -> Result<Self> {
        let uts = nix::sys::utsname::uname().map_err(|e| Error::Failed(e.into()))?;
        let release = uts.release().to_string_lossy().into_owned();
        let machine = uts.machine().to_string_lossy().into_owned();
        let config = KernelConfig::read(&release);

        let tracefs = match Tracefs::open(opts.tracefs.as_deref()) {
            Ok(t) => TracefsStatus {
                control_files: t.control_files().into_iter().collect(),
                path: Some(t.root),
                mounted_by_rethfs: t.mounted_by_rethfs,
                error: None,
            },
            Err(e) => TracefsStatus {
                path: opts.tracefs.clone(),
                mounted_by_rethfs: false,
                error: Some(e.to_string()),
                control_files: BTreeMap::new(),
            },
        };

        let parsed = Btf::from_file(&opts.btf);
        let btf = BtfStatus {
            path: opts.btf.clone(),
            present: parsed.is_ok(),
            types: parsed.as_ref().ok().map(Btf::len),
            error: parsed.as_ref().err().map(ToString::to_string),
        };

        let backends = observe::probe_backends(&opts.btf, &config)?;
        let hooks = observe::hook_functions(parsed.as_ref().ok());
        let observer = match Observer::choose(&backends, None, config.preemptible()) {
            Ok(o) => ObserverStatus {
                name: Some(o.name()),
                reason: o.describe().to_owned(),
            },
            Err(e) => ObserverStatus {
                name: None,
                reason: e.to_string(),
            },
        };

        Ok(KernelProfile {
            release,
            machine,
            config,
            tracefs,
            lockdown: lockdown::mode(),
            btf,
            backends,
            hooks,
            observer,
        })
    }

    /// What keeps rethfs from running here, one line each; empty when nothing does.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(e) = &self.tracefs.error {
            out.push(e.clone());
        }
        if let Some(e) = &self.btf.error {
            out.push(format!("BTF missing: {e}"));
        }
        if self.observer.name.is_none() {
            out.push(self.observer.reason.clone());
        }
        out
    }
}
