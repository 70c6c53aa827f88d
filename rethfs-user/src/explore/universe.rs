//! The universe a case lives in, small on purpose (ACE's lesson: most bugs need a few
//! operations over a few objects): two groups of up to three events, one instance, three
//! handles, one current directory; and the ways this kernel has of making events.

use serde::Serialize;

use crate::interface::ControlFile;

/// A way of making a dynamic event, and the control file it is written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// `p:` in `uprobe_events`, on rethfs's own function.
    Uprobe,
    /// `r:` in `uprobe_events`.
    Uretprobe,
    /// `p:` in `kprobe_events`.
    Kprobe,
    /// `r:` in `kprobe_events`.
    Kretprobe,
    /// A uprobe line in `dynamic_events`.
    DynamicUprobe,
    /// A kprobe line in `dynamic_events`.
    DynamicKprobe,
    /// `f:` in `dynamic_events`: an fprobe on a kernel function.
    Fprobe,
    /// `t:` in `dynamic_events`: a probe on a tracepoint.
    Tprobe,
    /// `e:` in `dynamic_events`: an event probe, attached to the first event of its own
    /// group, so that it soft-enables and pins only an event of the case's own. The kernel
    /// attaches eprobes to trace events and fprobe events only: on a kprobe or uprobe the
    /// attempt is refused (ENODEV), which is a test too.
    Eprobe,
}

impl EventKind {
    pub const ALL: [EventKind; 9] = [
        EventKind::Uprobe,
        EventKind::Uretprobe,
        EventKind::Kprobe,
        EventKind::Kretprobe,
        EventKind::DynamicUprobe,
        EventKind::DynamicKprobe,
        EventKind::Fprobe,
        EventKind::Tprobe,
        EventKind::Eprobe,
    ];

    pub fn file(self) -> ControlFile {
        match self {
            EventKind::Uprobe | EventKind::Uretprobe => ControlFile::UprobeEvents,
            EventKind::Kprobe | EventKind::Kretprobe => ControlFile::KprobeEvents,
            EventKind::DynamicUprobe
            | EventKind::DynamicKprobe
            | EventKind::Fprobe
            | EventKind::Tprobe
            | EventKind::Eprobe => ControlFile::DynamicEvents,
        }
    }

    fn kprobe(self) -> bool {
        matches!(
            self,
            EventKind::Kprobe | EventKind::Kretprobe | EventKind::DynamicKprobe
        )
    }

    fn dynamic(self) -> bool {
        matches!(
            self,
            EventKind::DynamicUprobe
                | EventKind::DynamicKprobe
                | EventKind::Fprobe
                | EventKind::Tprobe
                | EventKind::Eprobe
        )
    }

    fn fprobe(self) -> bool {
        matches!(self, EventKind::Fprobe | EventKind::Tprobe)
    }
}

/// The interfaces rethfs knows but does not generate, and why: reported with every run.
pub const NOT_GENERATED: &[(&str, &str)] = &[(
    "synthetic events (s:)",
    "they all live in the one `synthetic` group every user of the kernel shares, and rethfs \
     makes objects only in groups of its own",
)];

/// A kernel function every kernel has, for kprobes and fprobes: `read(2)`'s VFS entry point.
pub const KPROBE_SYMBOL: &str = "vfs_read";

/// Tracepoints every kernel has, one for each event of each group: 6.12 refuses a second
/// tracepoint probe on a tracepoint one already probes (EEXIST: its tracepoint probe function
/// is registered once per tracepoint), a rule the model does not have, so no two of a case's
/// events share one.
pub const TRACEPOINTS: [[&str; 3]; 2] = [
    ["sched_switch", "sched_wakeup", "sched_waking"],
    [
        "sched_process_exit",
        "sched_process_fork",
        "sched_process_exec",
    ],
];

/// Which dynamic-event interfaces the kernel offers.
#[derive(Debug, Clone, Copy)]
pub struct Interfaces {
    /// `kprobe_events` (CONFIG_KPROBE_EVENTS).
    pub kprobe_events: bool,
    /// `dynamic_events`.
    pub dynamic_events: bool,
    /// `f:` and `t:` lines (CONFIG_FPROBE_EVENTS).
    pub fprobe_events: bool,
    /// `e:` lines (CONFIG_EPROBE_EVENTS, or a kernel older than that option that parses them).
    pub eprobe_events: bool,
}

impl Interfaces {
    /// What the host of `session` offers, as its profile and tracefs tell.
    pub fn of(session: &crate::session::HostSession) -> Self {
        Interfaces {
            kprobe_events: session.config.kprobe_events,
            dynamic_events: session.root.join("dynamic_events").exists(),
            fprobe_events: session.config.fprobe_events,
            eprobe_events: session.config.eprobe_events,
        }
    }

    /// Every interface: the model's own universe.
    pub const ALL: Interfaces = Interfaces {
        kprobe_events: true,
        dynamic_events: true,
        fprobe_events: true,
        eprobe_events: true,
    };
}

/// What cases may use on this kernel.
#[derive(Debug, Clone)]
pub struct Universe {
    /// The kinds of event this kernel offers.
    pub kinds: Vec<EventKind>,
    /// Kinds left out, with the reason.
    pub left_out: Vec<(String, String)>,
    /// `PATH:OFFSET` of rethfs's own uprobe function.
    pub uprobe: String,
    /// Whether remount steps may be generated (`--allow-remount`).
    pub remount: bool,
}

pub const EVENTS: [&str; 3] = ["e0", "e1", "e2"];
pub const HANDLES: [&str; 3] = ["h0", "h1", "h2"];

impl Universe {
    /// The kinds the kernel has: uprobes always, kprobes where `kprobe_events` exists,
    /// `dynamic_events` lines where that file does, fprobes and tracepoint probes where the
    /// kernel is built with them.
    pub fn new(offered: Interfaces, uprobe: String, remount: bool) -> Self {
        let mut kinds = Vec::new();
        let mut left_out = Vec::new();
        for k in EventKind::ALL {
            let missing = if k.kprobe() && !offered.kprobe_events {
                Some("the kernel has no kprobe_events (CONFIG_KPROBE_EVENTS)")
            } else if k.dynamic() && !offered.dynamic_events {
                Some("the kernel has no dynamic_events")
            } else if k.fprobe() && !offered.fprobe_events {
                Some("the kernel is built without CONFIG_FPROBE_EVENTS")
            } else if k == EventKind::Eprobe && !offered.eprobe_events {
                Some("the kernel does not parse e: lines (CONFIG_EPROBE_EVENTS)")
            } else {
                None
            };
            match missing {
                Some(why) => left_out.push((format!("{k:?}"), why.to_owned())),
                None => kinds.push(k),
            }
        }
        left_out.extend(
            NOT_GENERATED
                .iter()
                .map(|(k, why)| ((*k).to_owned(), (*why).to_owned())),
        );
        Universe {
            kinds,
            left_out,
            uprobe,
            remount,
        }
    }

    /// The two groups of a case whose objects are named `own`.
    pub fn groups(own: &str) -> [String; 2] {
        [format!("{own}a"), format!("{own}b")]
    }

    /// The line that makes `group/event` of `kind`.
    pub fn create_line(&self, kind: EventKind, group: &str, event: &str) -> String {
        let (p, place) = match kind {
            EventKind::Uprobe | EventKind::DynamicUprobe => ("p", self.uprobe.as_str()),
            EventKind::Uretprobe => ("r", self.uprobe.as_str()),
            EventKind::Kprobe | EventKind::DynamicKprobe => ("p", KPROBE_SYMBOL),
            EventKind::Kretprobe => ("r", KPROBE_SYMBOL),
            EventKind::Fprobe => ("f", KPROBE_SYMBOL),
            EventKind::Tprobe => {
                let g = usize::from(group.ends_with('b'));
                let e = EVENTS.iter().position(|x| *x == event).unwrap_or(0);
                ("t", TRACEPOINTS[g][e])
            }
            EventKind::Eprobe => return format!("e:{group}/{event} {group}.{}", EVENTS[0]),
        };
        format!("{p}:{group}/{event} {place}")
    }
}
