//! What the modelled kernel was built with: its static events and the optional event files.

/// A tracepoint compiled into the kernel (`events/GROUP/NAME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticEvent {
    pub group: String,
    pub name: String,
    /// `TRACE_EVENT_FL_IGNORE_ENABLE` (the `ftrace/*` events): no `enable` or `filter`, only
    /// `format` and `id`, plus `trigger` for `ftrace/print`.
    pub ftrace_internal: bool,
    /// The files its directory has, where known (read off the host): which ones an event's
    /// callback offers depends on flags of the event the names do not tell.
    pub files: Option<Vec<String>>,
}

impl StaticEvent {
    pub fn new(group: &str, name: &str) -> Self {
        StaticEvent {
            group: group.into(),
            name: name.into(),
            ftrace_internal: group == "ftrace",
            files: None,
        }
    }
}

/// One entry a new instance's directory is made with, besides its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceEntry {
    pub name: String,
    pub dir: bool,
    pub perm: u32,
    /// Its link count as made: 2 plus its own subdirectories (`per_cpu/` has one per CPU).
    pub nlink: u64,
}

/// Build options that decide which files an event directory has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelConfig {
    pub events: Vec<StaticEvent>,
    /// CONFIG_KPROBE_EVENTS: `kprobe_events` exists.
    pub kprobe_events: bool,
    /// CONFIG_FPROBE_EVENTS: `dynamic_events` takes `f:` (fprobe) and `t:` (tracepoint
    /// probe) lines.
    pub fprobe_events: bool,
    /// CONFIG_EPROBE_EVENTS: `dynamic_events` takes `e:` (event probe) lines.
    pub eprobe_events: bool,
    /// CONFIG_USER_EVENTS: `dynamic_events` takes `u:` (user event) lines.
    pub user_events: bool,
    /// CONFIG_PERF_EVENTS: the `id` file.
    pub perf_events: bool,
    /// CONFIG_HIST_TRIGGERS: the `hist` file.
    pub hist: bool,
    /// CONFIG_HIST_TRIGGERS_DEBUG: `hist_debug`.
    pub hist_debug: bool,
    /// CONFIG_TRACE_EVENT_INJECT: `inject`.
    pub inject: bool,
    /// Group order of a new instance's `events/`, where known (read off a host instance).
    /// A new instance walks `ftrace_events`, whose order boot-time registration decides and
    /// the top level's listing does not tell; without it the model derives one.
    pub instance_groups: Vec<String>,
    /// The order of an event directory's files, where the host showed it (the kernel's
    /// `event_entries[]`); `None` keeps the order of the sources read (6.x).
    pub event_entry_order: Option<Vec<String>>,
    /// The order of `events/`'s own files (`events_entries[]`), likewise.
    pub events_entry_order: Option<Vec<String>>,
    /// What a new instance's directory holds, in creation order (read off a host instance:
    /// `init_tracer_tracefs` makes some thirty files and `per_cpu/`, `options/` as the kernel
    /// is configured); empty for the files the model gives meaning to and `events/` alone.
    pub instance_entries: Vec<InstanceEntry>,
}

impl Default for ModelConfig {
    /// A small kernel: a few static groups, kprobes, and no hist or inject files (as the
    /// project's CI host, which also lacks kprobes, and the Debian cloud kernels' defaults).
    fn default() -> Self {
        let events = [
            ("ftrace", "function"),
            ("ftrace", "print"),
            ("sched", "sched_switch"),
            ("sched", "sched_wakeup"),
            ("sched", "sched_process_exec"),
            ("syscalls", "sys_enter_openat"),
            ("syscalls", "sys_exit_openat"),
        ];
        ModelConfig {
            events: events.iter().map(|(g, n)| StaticEvent::new(g, n)).collect(),
            kprobe_events: true,
            fprobe_events: true,
            eprobe_events: true,
            user_events: true,
            perf_events: true,
            hist: false,
            hist_debug: false,
            inject: false,
            instance_groups: Vec::new(),
            event_entry_order: None,
            events_entry_order: None,
            instance_entries: Vec::new(),
        }
    }
}

impl ModelConfig {
    /// `groups` groups of `per_group` events each: a tree the size of a distribution kernel's
    /// (about 110 groups and 2,300 events give 2,400 directories and 11,800 files).
    pub fn synthetic(groups: usize, per_group: usize) -> Self {
        let mut config = ModelConfig {
            events: Vec::new(),
            ..ModelConfig::default()
        };
        for g in 0..groups {
            for e in 0..per_group {
                config
                    .events
                    .push(StaticEvent::new(&format!("group{g}"), &format!("event{e}")));
            }
        }
        config
    }
}

impl ModelConfig {
    /// The same build with only the static events of `groups`: a model for calls that touch
    /// nothing else, as the linearizability search copies it often.
    pub fn only_groups(&self, groups: &[String]) -> ModelConfig {
        let keep = |g: &String| groups.contains(g);
        ModelConfig {
            events: self
                .events
                .iter()
                .filter(|e| keep(&e.group))
                .cloned()
                .collect(),
            instance_groups: self
                .instance_groups
                .iter()
                .filter(|g| keep(g))
                .cloned()
                .collect(),
            ..self.clone()
        }
    }
}
