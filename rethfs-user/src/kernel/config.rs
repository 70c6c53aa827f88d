//! The running kernel's build configuration, as far as rethfs's choices depend on it.

use std::{collections::BTreeMap, path::Path};

use procfs::ConfigSetting;
use serde::Serialize;

/// Options that decide what rethfs can observe and how.
pub const OPTIONS: [&str; 26] = [
    "CONFIG_KPROBES",
    "CONFIG_KPROBE_EVENTS",
    "CONFIG_UPROBE_EVENTS",
    "CONFIG_DYNAMIC_EVENTS",
    "CONFIG_FTRACE_SYSCALLS",
    "CONFIG_FUNCTION_TRACER",
    "CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS",
    "CONFIG_FPROBE",
    "CONFIG_BPF_SYSCALL",
    "CONFIG_BPF_EVENTS",
    "CONFIG_DEBUG_INFO_BTF",
    "CONFIG_HAVE_HW_BREAKPOINT",
    "CONFIG_SECURITY_LOCKDOWN_LSM",
    "CONFIG_KALLSYMS_ALL",
    "CONFIG_PERF_EVENTS",
    "CONFIG_HIST_TRIGGERS",
    "CONFIG_HIST_TRIGGERS_DEBUG",
    "CONFIG_TRACE_EVENT_INJECT",
    // The dynamic-event interfaces explore generates with (synthetic events: reported only).
    "CONFIG_FPROBE_EVENTS",
    "CONFIG_EPROBE_EVENTS",
    "CONFIG_SYNTH_EVENTS",
    // What a known bug's trigger needs, or what would make its symptom show (the matrix).
    "CONFIG_USER_EVENTS",
    "CONFIG_KASAN",
    // The preemption model a kernel boots with: under full, lazy or RT preemption trampoline
    // programs may be preempted (the observer's choice).
    "CONFIG_PREEMPT",
    "CONFIG_PREEMPT_LAZY",
    "CONFIG_PREEMPT_RT",
];

/// The relevant options and where they were read from.
#[derive(Debug, Clone, Serialize)]
pub struct KernelConfig {
    /// `/proc/config.gz`, `/boot/config-<release>`, `/boot/config`, or why none was readable.
    pub source: String,
    pub available: bool,
    /// `y`, `m`, a value, or `not set`.
    pub options: BTreeMap<&'static str, String>,
}

impl KernelConfig {
    /// Reads the config the way procfs does, and records which file that was.
    pub fn read(release: &str) -> Self {
        let boot = format!("/boot/config-{release}");
        let source = ["/proc/config.gz", boot.as_str(), "/boot/config"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        match procfs::kernel_config() {
            Ok(all) => KernelConfig {
                source: source.unwrap_or("unknown").to_owned(),
                available: true,
                options: OPTIONS
                    .iter()
                    .map(|&o| {
                        let v = match all.get(o) {
                            Some(ConfigSetting::Yes) => "y".to_owned(),
                            Some(ConfigSetting::Module) => "m".to_owned(),
                            Some(ConfigSetting::Value(v)) => v.clone(),
                            None => "not set".to_owned(),
                        };
                        (o, v)
                    })
                    .collect(),
            },
            Err(e) => KernelConfig {
                source: format!("unavailable ({e})"),
                available: false,
                options: BTreeMap::new(),
            },
        }
    }

    /// `Some(true)` for `y` or `m`, `Some(false)` when not set, `None` without a config.
    /// Whether kernel code may be preempted anywhere, not only where it yields: the model
    /// the kernel boots with is full, lazy (7.x's default in Debian) or RT. CONFIG_PREEMPTION
    /// does not tell: a PREEMPT_DYNAMIC kernel has it whatever its default (6.1 and 6.12 boot
    /// voluntary).
    pub fn preemptible(&self) -> bool {
        ["CONFIG_PREEMPT", "CONFIG_PREEMPT_LAZY", "CONFIG_PREEMPT_RT"]
            .iter()
            .any(|o| self.enabled(o) == Some(true))
    }

    pub fn enabled(&self, option: &str) -> Option<bool> {
        self.available.then(|| {
            self.options
                .get(option)
                .is_some_and(|v| v == "y" || v == "m")
        })
    }
}
