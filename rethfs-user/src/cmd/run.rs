//! `rethfs run`: every scenario on the host's tracefs and on the model with the matching
//! policy, compared step by step, with the invariants applied to both; the host is checked to
//! be left as it was found.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

use crate::{
    check::{self, Status, Verdict},
    error::{Error, Result, require_root},
    host::{self, HostTracefs, Observed, RunLock, Snapshot, Tracefs},
    model::{KernelVersion, Model, ModelConfig, Policy},
    observe::{Live, Observer, Reconstructor},
    profile::KernelConfig,
    report::{self, trace::ScenarioLifetimes},
    scenario::{self, CATALOGUE, Scenario},
    target::Lifetime,
};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// SIGINT, SIGTERM and SIGHUP end the run after the current step, through the cleanup.
fn catch_signals() -> Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic.
        unsafe { sigaction(sig, &action) }.map_err(|e| Error::Failed(e.into()))?;
    }
    Ok(())
}

pub struct RunOptions<'a> {
    pub tracefs: Option<&'a Path>,
    pub btf: &'a Path,
    /// The observer to use instead of the best the kernel loads.
    pub attach: Option<Observer>,
    /// Chrome trace event JSON of every lifetime, for Perfetto.
    pub trace: Option<PathBuf>,
    /// An SVG timeline of the lifetimes.
    pub timeline: Option<PathBuf>,
    pub scenarios: Vec<String>,
    pub policy_version: Option<KernelVersion>,
    pub json: Option<PathBuf>,
    pub allow_remount: bool,
}

/// What the model must know of the host to start from the same tree.
fn model_config(root: &Path, kconfig: &KernelConfig, policy: Policy) -> ModelConfig {
    let on = |o: &str| kconfig.enabled(o) == Some(true);
    let mut events = host::static_events(root);
    let mut instance_groups = host::instance_groups(root);
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
        perf_events: kconfig.enabled("CONFIG_PERF_EVENTS") != Some(false),
        hist: on("CONFIG_HIST_TRIGGERS"),
        hist_debug: on("CONFIG_HIST_TRIGGERS_DEBUG"),
        inject: on("CONFIG_TRACE_EVENT_INJECT"),
        instance_groups,
    }
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|e| Error::Failed(anyhow::anyhow!("{}: {e}", path.display())))
}

/// Starts the forced observer, or the best one that attaches; None when none does (the run
/// then compares outcomes only, and says so). A forced one that fails is an environment error.
fn start_observer(
    backends: &[crate::observe::BackendStatus],
    forced: Option<Observer>,
    btf: &Path,
) -> Result<Option<Live>> {
    if let Some(o) = forced {
        Observer::choose(backends, Some(o))?;
        return Live::start(o, btf, o.sees_lifetimes()).map(Some);
    }
    let mut why = Vec::new();
    for o in Observer::ALL {
        if Observer::choose(backends, Some(o)).is_err() {
            continue;
        }
        match Live::start(o, btf, o.sees_lifetimes()) {
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
    let mut facts: Vec<&str> = crate::observe::HOOKS.iter().map(|h| h.sees).collect();
    facts.dedup();
    let who = match live {
        Some(l) => format!(
            "the {} observer (the best this kernel loads) sees open files only",
            l.observer.name()
        ),
        None => "no observer attaches on this kernel".to_owned(),
    };
    format!("{who}; not seen: {}", facts.join(", "))
}

/// What `rethfs run` runs: catalogue or file scenarios, or the host-only ones.
enum Job {
    Steps(Scenario),
    Audit,
    Churn,
}

/// The named scenarios (`catalogue` names every built-in one but the audit), or by default the
/// catalogue and the audit. churn is run only when named: on vulnerable kernels it oopses
/// (see `HOST_ONLY`).
fn jobs(names: &[String]) -> Result<Vec<Job>> {
    let all: Vec<String>;
    let names = if names.is_empty() {
        all = CATALOGUE
            .iter()
            .map(|(n, _)| *n)
            .chain(["audit"])
            .map(str::to_owned)
            .collect();
        &all
    } else {
        names
    };
    let mut out = Vec::new();
    for n in names {
        match n.as_str() {
            "audit" => out.push(Job::Audit),
            "churn" => out.push(Job::Churn),
            // The built-in scenarios without the audit.
            "catalogue" => {
                for (name, _) in CATALOGUE {
                    out.push(Job::Steps(Scenario::resolve(name)?));
                }
            }
            _ => out.push(Job::Steps(Scenario::resolve(n)?)),
        }
    }
    Ok(out)
}

/// Churn cycles and the time bound of the `churn` scenario.
const CHURN_CYCLES: usize = 2_000;
const CHURN_LIMIT: Duration = Duration::from_secs(10);

/// The `churn` scenario: host only (the model is sequential), judged by the removal oracle
/// and by whether the kernel survived.
fn churn(root: &Path, guard: &host::cleanup::Guard) -> Verdict {
    let prefix = format!("rethfs_{}", std::process::id());
    // A kprobe where the kernel has them, else a uprobe on rethfs's own function.
    let probe = if root.join("kprobe_events").exists() {
        ("kprobe_events", "vfs_read".to_owned())
    } else {
        match host::uprobe_target() {
            Ok(t) => ("uprobe_events", t),
            Err(e) => return Verdict::skipped("churn", format!("no uprobe target: {e}")),
        }
    };
    let c = host::churn::run(
        root,
        &prefix,
        (probe.0, &probe.1),
        CHURN_CYCLES,
        CHURN_LIMIT,
    );
    let mut notes: Vec<String> = guard
        .sweep()
        .into_iter()
        .map(|e| format!("cleanup: {e}"))
        .collect();
    notes.extend(
        c.writer
            .errors
            .iter()
            .map(|e| format!("writer stopped: {e}")),
    );
    let findings = check::churn::oracle(&c);
    let found = c.reads.iter().filter(|o| o.found).count();
    notes.push(format!(
        "{} cycles against {} reads ({found} found the event)",
        c.writer.cycles.len(),
        c.reads.len()
    ));
    let status = if c.writer.cycles.is_empty() {
        Status::Skipped(
            c.writer
                .errors
                .first()
                .cloned()
                .unwrap_or_else(|| "no cycle ran".into()),
        )
    } else if findings.is_empty() {
        Status::Pass
    } else {
        Status::Violation
    };
    Verdict {
        scenario: "churn".into(),
        status,
        steps: c.writer.cycles.len(),
        skipped_steps: 0,
        findings,
        notes,
        lifetimes: check::LifetimeCheck::NotMade(
            "churn is judged by its removal oracle; its model side is not run".into(),
        ),
    }
}

pub fn run(opts: RunOptions) -> Result<u8> {
    let jobs = jobs(&opts.scenarios)?;
    require_root("run")?;
    // Signals first: from here on every exit path goes through the cleanup.
    catch_signals()?;
    let tracefs = Tracefs::open(opts.tracefs)?;
    let root = tracefs.root.clone();
    let _lock = RunLock::acquire()?;
    host::cleanup::sweep_before(&root, "run");
    let release = nix::sys::utsname::uname()
        .map_err(|e| Error::Failed(e.into()))?
        .release()
        .to_string_lossy()
        .into_owned();
    let version = match opts.policy_version {
        Some(v) => v,
        None => release.parse().map_err(|e| {
            Error::Environment(format!("kernel release: {e}; give --kernel-policy"))
        })?,
    };
    let policy = version.policy();
    let kconfig = KernelConfig::read(&release);
    let backends = crate::observe::probe_backends(opts.btf, &kconfig).unwrap_or_default();
    // Before anything is made: a forced observer that cannot attach ends the run here.
    let live = start_observer(&backends, opts.attach, opts.btf)?;
    let before = Snapshot::take(&root);
    // Seeding the model makes a short-lived instance: the guard must already stand.
    let guard = host::cleanup::Guard::new(&root);
    let config = model_config(&root, &kconfig, policy);
    let kprobes = config.kprobe_events;
    let cwd = std::env::current_dir().map_err(|e| Error::Failed(e.into()))?;

    let prefix = format!("rethfs_{}", std::process::id());
    let hooks = live.as_ref().map_or(&[][..], |l| &l.hooks[..]);
    let mut reconstructor = Reconstructor::for_hooks(hooks);
    // What the attached hooks let the kernel side see; the rest is not compared.
    let seen = crate::observe::seen_kinds(hooks);
    let mut pictured: Vec<ScenarioLifetimes> = Vec::new();
    let mut verdicts: Vec<Verdict> = Vec::new();
    let mut transcripts = Vec::new();
    for (n, job) in jobs.into_iter().enumerate() {
        if STOP.load(Ordering::SeqCst) {
            break;
        }
        // A name per scenario: what one leaves cached in the dcache, the next never meets.
        let own = format!("{prefix}_{n}");
        let s = match job {
            Job::Steps(s) => s.renamed(&prefix, &own),
            Job::Audit => scenario::audit(&config.events, &own),
            Job::Churn => {
                verdicts.push(churn(&root, &guard));
                continue;
            }
        };
        let (scenario, note) = match (kprobes, s.with_uprobe_stand_in()?) {
            (false, Some(stand_in)) => (
                stand_in,
                Some("kprobes missing: a uprobe stands in for each kprobe"),
            ),
            _ => (s.clone(), None),
        };
        let host = HostTracefs::new(root.clone(), release.clone(), opts.allow_remount)?.named(&own);
        let mut model = Model::new(policy, config.clone());
        let stop = || STOP.load(Ordering::SeqCst);
        let keep = |l: &Lifetime| check::lifetime::ours(&l.path, &own);
        let scope = check::lifetime::Scope {
            prefix: &own,
            seen: seen.clone(),
        };
        let (h, m, mut host, lifetimes) = match &live {
            Some(live) if live.observer.sees_lifetimes() => {
                let mut observed = Observed::new(host, live, &mut reconstructor);
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
                (h, m, host, Err(unseen(live.as_ref())))
            }
        };
        host.close_all();
        let restore = host.restore_mount();
        let _ = std::env::set_current_dir(&cwd);
        let mut sweep_errors = guard.sweep();
        sweep_errors.extend(restore.err());
        let mut v = check::verdict(&h, &m, policy, lifetimes);
        if opts.trace.is_some() || opts.timeline.is_some() {
            let observed = live.as_ref().is_some_and(|l| l.observer.sees_lifetimes());
            pictured.push(ScenarioLifetimes::of(&h, &m, &own, observed));
        }
        // Both sides' steps behind each finding go to the JSON; whole transcripts (the
        // audit's has 30,000 steps) would not fit a small VM's memory.
        let at = |t: &scenario::Transcript| -> Vec<scenario::StepResult> {
            t.steps
                .iter()
                .filter(|st| v.findings.iter().any(|f| f.step == st.index))
                .cloned()
                .collect()
        };
        if !v.findings.is_empty() {
            transcripts
                .push(serde_json::json!({"scenario": h.scenario, "host": at(&h), "model": at(&m)}));
        }
        if let Some(note) = note {
            v.notes.push(note.to_owned());
        }
        v.notes
            .extend(sweep_errors.into_iter().map(|e| format!("cleanup: {e}")));
        verdicts.push(v);
    }
    drop(guard);
    let observer = live.map(|l| {
        let hooks = l.hooks.clone();
        let name = l.observer;
        let last = l.stop();
        serde_json::json!({"name": name, "hooks": hooks, "records": last.seen, "lost": last.lost})
    });
    let dirty = Snapshot::take(&root).differences(&before);

    let header = format!(
        "host Linux {release} ({}) against the model, policy {policy}",
        root.display()
    );
    print!("{}", report::verdict::table(&header, &verdicts));
    if let Some(o) = &observer {
        println!(
            "observer: {}, {} kernel records, {} lost",
            o["name"].as_str().unwrap_or_default(),
            o["records"],
            o["lost"]
        );
        // Hooks this kernel lacks: their lifetime kinds were not compared.
        for h in o["hooks"].as_array().into_iter().flatten() {
            if h["attached"] == false {
                println!(
                    "not seen, not compared: {} ({}: {})",
                    h["sees"].as_str().unwrap_or_default(),
                    h["function"].as_str().unwrap_or_default(),
                    h["detail"].as_str().unwrap_or_default()
                );
            }
        }
    }
    if let Some(path) = &opts.trace {
        std::fs::File::create(path)
            .and_then(|f| report::trace::write_chrome_json(&pictured, std::io::BufWriter::new(f)))
            .map_err(|e| Error::Failed(anyhow::anyhow!("{}: {e}", path.display())))?;
    }
    if let Some(path) = &opts.timeline {
        write_file(path, &report::timeline::svg(&pictured))?;
    }
    if let Some(path) = &opts.json {
        let doc = serde_json::json!({
            "host": { "kernel": release, "tracefs": root, "backends": backends },
            "observer": observer,
            "policy": policy,
            "verdicts": verdicts,
            "finding_steps": transcripts,
            "host_left_dirty": dirty,
        });
        write_file(
            path,
            &serde_json::to_string_pretty(&doc).map_err(anyhow::Error::from)?,
        )?;
    }
    if !dirty.is_empty() {
        return Err(Error::Failed(anyhow::anyhow!(
            "the run did not leave the host as it found it:\n  {}",
            dirty.join("\n  ")
        )));
    }
    if STOP.load(Ordering::SeqCst) {
        return Err(Error::Environment(
            "interrupted by a signal; what the run created was removed".into(),
        ));
    }
    let failed = verdicts
        .iter()
        .any(|v| matches!(v.status, Status::Divergence | Status::Violation));
    Ok(u8::from(failed))
}
