//! A host session: what `rethfs run` and `rethfs explore` share. It holds the run lock, sweeps
//! what dead runs left, starts the observer, seeds the model with the host's own tree, stands
//! the cleanup guard, and runs cases: one scenario, under names of its own, on the host and
//! the model in lockstep, judged, with everything it made removed before the next.

mod concurrent;
pub mod run;
pub mod signals;

use std::path::{Path, PathBuf};

pub use concurrent::Race;

use crate::{
    check::{self, Verdict},
    error::{Error, Result},
    host::{self, HostTracefs, Observed, RunLock, Snapshot, Tracefs, cleanup::Guard},
    interface::{Lifetime, LifetimeKind},
    kernel::KernelConfig,
    model::{KernelVersion, Model, ModelConfig, Policy},
    observe::{BackendStatus, HookSet, Live, Observer, Reconstructor},
    scenario::{self, Scenario, Transcript},
};

/// How a session is set up.
pub struct Options<'a> {
    pub tracefs: Option<&'a Path>,
    pub btf: &'a Path,
    /// The observer to use instead of the best the kernel loads.
    pub attach: Option<Observer>,
    pub hooks: HookSet,
    /// The model's rules; the running kernel's by default.
    pub policy_version: Option<KernelVersion>,
    pub allow_remount: bool,
}

/// One case's result: both transcripts and their verdict.
pub struct Case {
    pub host: Transcript,
    pub model: Transcript,
    pub verdict: Verdict,
}

/// What the observer saw over the whole session, for reports.
pub struct ObserverReport {
    pub name: Observer,
    pub hooks: Vec<crate::observe::HookStatus>,
    pub records: u64,
    pub lost: u64,
    /// Of `lost`, program runs the kernel skipped.
    pub skipped: u64,
}

pub struct HostSession {
    pub root: PathBuf,
    pub release: String,
    pub policy: Policy,
    pub backends: Vec<BackendStatus>,
    pub live: Option<Live>,
    pub config: ModelConfig,
    /// `rethfs_<pid>`: each case's names start with it.
    pub prefix: String,
    /// The model as the host's tree seeds it, cloned for each case (building it walks
    /// thousands of events on a distribution kernel).
    template: Model,
    before: Snapshot,
    guard: Guard,
    cwd: PathBuf,
    reconstructor: Reconstructor,
    /// What the attached hooks let the kernel side see; the rest is not compared.
    seen: Vec<LifetimeKind>,
    allow_remount: bool,
    _lock: RunLock,
}

/// What the model must know of the host to start from the same tree.
fn model_config(root: &Path, kconfig: &KernelConfig, policy: Policy) -> ModelConfig {
    let on = |o: &str| kconfig.enabled(o) == Some(true);
    let mut events = host::static_events(root);
    let (mut instance_groups, instance_entries) = host::instance_layout(root);
    if policy.events_use_dcache_readdir() {
        // The dcache lists newest first: the host's listings are the reverse of creation.
        events.reverse();
        instance_groups.reverse();
    }
    let (event_entry_order, events_entry_order) = host::entry_orders(root, &events);
    ModelConfig {
        events,
        event_entry_order,
        events_entry_order,
        kprobe_events: root.join("kprobe_events").exists(),
        fprobe_events: on("CONFIG_FPROBE_EVENTS"),
        eprobe_events: on("CONFIG_EPROBE_EVENTS")
            || host::eprobes_parse(root, &format!("rethfs_{}", std::process::id())),
        // The data file is made exactly when the kernel is built with them.
        user_events: root.join("user_events_data").exists(),
        perf_events: kconfig.enabled("CONFIG_PERF_EVENTS") != Some(false),
        hist: on("CONFIG_HIST_TRIGGERS"),
        hist_debug: on("CONFIG_HIST_TRIGGERS_DEBUG"),
        inject: on("CONFIG_TRACE_EVENT_INJECT"),
        instance_groups,
        instance_entries,
    }
}

/// Starts the forced observer, or the best one that attaches; None when none does (the
/// session then compares outcomes only, and says so). A forced one that fails is an
/// environment error.
fn start_observer(
    backends: &[BackendStatus],
    forced: Option<Observer>,
    hooks: HookSet,
    btf: &Path,
    preemptible: bool,
) -> Result<Option<Live>> {
    if let Some(o) = forced {
        Observer::choose(backends, Some(o), preemptible)?;
        return Live::start(o, hooks, btf, o.sees_lifetimes()).map(Some);
    }
    let mut why = Vec::new();
    for o in Observer::ranked(preemptible) {
        if Observer::choose(backends, Some(o), preemptible).is_err() {
            continue;
        }
        match Live::start(o, hooks, btf, o.sees_lifetimes()) {
            Ok(live) => {
                for w in &why {
                    log::warn!("{w}");
                }
                return Ok(Some(live));
            }
            Err(e) => why.push(format!("observer {} not used: {e}", o.name())),
        }
    }
    for w in &why {
        log::warn!("{w}");
    }
    Ok(None)
}

/// Why lifetimes cannot be checked with `live`: what its observer cannot see.
fn unseen(live: Option<&Live>) -> String {
    let mut facts: Vec<&str> = Vec::new();
    for h in crate::observe::HOOKS {
        if !facts.contains(&h.sees) {
            facts.push(h.sees);
        }
    }
    let who = match live {
        Some(l) => format!(
            "the {} observer (the best this kernel loads) sees open files only",
            l.observer.name()
        ),
        None => "no observer attaches on this kernel".to_owned(),
    };
    format!("{who}; not seen: {}", facts.join(", "))
}

impl HostSession {
    /// Takes the lock, sweeps dead runs, starts the observer and seeds the model. The caller
    /// has checked root and installed [`signals::catch`].
    pub fn open(command: &str, o: &Options) -> Result<Self> {
        let root = Tracefs::open(o.tracefs)?.root;
        let lock = RunLock::acquire()?;
        host::cleanup::sweep_before(&root, command);
        let release = nix::sys::utsname::uname()
            .map_err(|e| Error::Failed(e.into()))?
            .release()
            .to_string_lossy()
            .into_owned();
        let version = match o.policy_version {
            Some(v) => v,
            None => release.parse().map_err(|e| {
                Error::Environment(format!("kernel release: {e}; give --kernel-policy"))
            })?,
        };
        let policy = version.policy();
        let kconfig = KernelConfig::read(&release);
        let backends = crate::observe::probe_backends(o.btf, &kconfig).unwrap_or_default();
        // Before anything is made: a forced observer that cannot attach ends the session here.
        let live = start_observer(&backends, o.attach, o.hooks, o.btf, kconfig.preemptible())?;
        let before = Snapshot::take(&root);
        // Seeding the model makes a short-lived instance: the guard must already stand.
        let guard = Guard::new(&root);
        let config = model_config(&root, &kconfig, policy);
        let template = Model::new(policy, config.clone());
        let hooks = live.as_ref().map_or(&[][..], |l| &l.hooks[..]);
        Ok(HostSession {
            reconstructor: Reconstructor::for_hooks(hooks),
            seen: crate::observe::seen_kinds(hooks, o.hooks),
            cwd: std::env::current_dir().map_err(|e| Error::Failed(e.into()))?,
            prefix: format!("rethfs_{}", std::process::id()),
            root,
            release,
            policy,
            backends,
            live,
            config,
            template,
            before,
            guard,
            allow_remount: o.allow_remount,
            _lock: lock,
        })
    }

    /// Whether the kernel side's lifetimes are observed (kprobes or fentry).
    pub fn observes_lifetimes(&self) -> bool {
        self.live
            .as_ref()
            .is_some_and(|l| l.observer.sees_lifetimes())
    }

    /// The model as the host's tree seeds it, as each case starts on it.
    pub fn template(&self) -> &Model {
        &self.template
    }

    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// `scenario` as this host runs it: with a uprobe for each kprobe where kprobes are
    /// missing, and the note that says so.
    fn stand_in(&self, scenario: &Scenario) -> Result<(Scenario, Option<&'static str>)> {
        Ok(
            match (self.config.kprobe_events, scenario.with_uprobe_stand_in()?) {
                (false, Some(stand_in)) => (
                    stand_in,
                    Some("kprobes missing: a uprobe stands in for each kprobe"),
                ),
                _ => (scenario.clone(), None),
            },
        )
    }

    /// Runs `scenario`, whose objects are named `own` (this session's prefix and a suffix of
    /// the case's), on host and model from a fresh state, and judges it; removes what it made.
    /// `step` hears of each step as it begins, by its number.
    pub fn run_case(
        &mut self,
        scenario: &Scenario,
        own: &str,
        step: &dyn Fn(usize),
    ) -> Result<Case> {
        let (scenario, note) = self.stand_in(scenario)?;
        let host = HostTracefs::new(self.root.clone(), self.release.clone(), self.allow_remount)?
            .named(own);
        let mut model = self.template.clone();
        let begun = std::cell::Cell::new(0);
        let stop = || {
            begun.set(begun.get() + 1);
            step(begun.get());
            signals::stopped()
        };
        let keep = |l: &Lifetime| check::lifetime::ours(&l.path, own);
        let scope = check::lifetime::Scope {
            prefix: own,
            seen: self.seen.clone(),
        };
        let (h, m, host, lifetimes) = match &self.live {
            Some(live) if live.observer.sees_lifetimes() => {
                let mut observed = Observed::new(host, live, &mut self.reconstructor);
                let (h, m) = scenario::run_pair(&mut observed, &mut model, &scenario, &stop, &keep);
                let lifetimes = match observed.lost() {
                    0 => Ok(&scope),
                    n => Err(format!(
                        "{n} kernel records lost during the scenario (ring buffer full or a \
                         kretprobe without its kprobe); its lifetimes are incomplete"
                    )),
                };
                (h, m, observed.host, lifetimes)
            }
            _ => {
                let mut host = host;
                let (h, m) = scenario::run_pair(&mut host, &mut model, &scenario, &stop, &keep);
                (h, m, host, Err(unseen(self.live.as_ref())))
            }
        };
        let cleanup = self.end_case(host);
        let mut verdict = check::verdict(&h, &m, self.policy, lifetimes);
        verdict.notes.extend(note.map(str::to_owned));
        verdict.notes.extend(cleanup);
        Ok(Case {
            host: h,
            model: m,
            verdict,
        })
    }

    /// Closes what a case's `host` holds, puts its mount back, returns to the starting
    /// directory and removes what the case made; the trouble met, as verdict notes.
    fn end_case(&mut self, mut host: HostTracefs) -> Vec<String> {
        host.close_all();
        let restore = host.restore_mount();
        drop(host);
        let _ = std::env::set_current_dir(&self.cwd);
        let mut errors = self.guard.sweep();
        errors.extend(restore.err());
        errors
            .into_iter()
            .map(|e| format!("cleanup: {e}"))
            .collect()
    }

    /// Stops the observer and says what it saw, and what the session left changed on the
    /// host (nothing, when all went well).
    pub fn finish(self) -> (Option<ObserverReport>, Vec<String>) {
        drop(self.guard);
        let observer = self.live.map(|l| {
            let (name, hooks) = (l.observer, l.hooks.clone());
            let last = l.stop();
            ObserverReport {
                name,
                hooks,
                records: last.seen,
                lost: last.lost,
                skipped: last.skipped,
            }
        });
        let dirty = Snapshot::take(&self.root).differences(&self.before);
        (observer, dirty)
    }
}
