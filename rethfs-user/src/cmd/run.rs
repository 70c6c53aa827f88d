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
    host::{self, HostTracefs, RunLock, Snapshot, Tracefs},
    model::{KernelVersion, Model, ModelConfig, Policy},
    profile::KernelConfig,
    report,
    scenario::{self, CATALOGUE, Scenario},
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
    pub scenarios: Vec<String>,
    pub policy_version: Option<KernelVersion>,
    pub json: Option<PathBuf>,
    pub allow_remount: bool,
}

/// What the model must know of the host to start from the same tree.
fn model_config(root: &Path, release: &str, policy: Policy) -> ModelConfig {
    let kconfig = KernelConfig::read(release);
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

/// What `rethfs run` runs: catalogue or file scenarios, or the host-only ones.
enum Job {
    Steps(Scenario),
    Audit,
    Churn,
}

/// The named scenarios, or by default the catalogue and the audit. churn is run only when
/// named: on vulnerable kernels it oopses (see `HOST_ONLY`).
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
    names
        .iter()
        .map(|n| match n.as_str() {
            "audit" => Ok(Job::Audit),
            "churn" => Ok(Job::Churn),
            _ => Scenario::resolve(n).map(Job::Steps),
        })
        .collect()
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
    let before = Snapshot::take(&root);
    // Seeding the model makes a short-lived instance: the guard must already stand.
    let guard = host::cleanup::Guard::new(&root);
    let config = model_config(&root, &release, policy);
    let kprobes = config.kprobe_events;
    let cwd = std::env::current_dir().map_err(|e| Error::Failed(e.into()))?;

    let mut verdicts: Vec<Verdict> = Vec::new();
    let mut transcripts = Vec::new();
    for job in jobs {
        if STOP.load(Ordering::SeqCst) {
            break;
        }
        let s = match job {
            Job::Steps(s) => s,
            Job::Audit => {
                scenario::audit(&config.events, &format!("rethfs_{}", std::process::id()))
            }
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
        let mut host = HostTracefs::new(root.clone(), release.clone(), opts.allow_remount);
        let mut model = Model::new(policy, config.clone());
        let (h, m) = scenario::run_pair(&mut host, &mut model, &scenario, &|| {
            STOP.load(Ordering::SeqCst)
        });
        host.close_all();
        let restore = host.restore_mount();
        let _ = std::env::set_current_dir(&cwd);
        let mut sweep_errors = guard.sweep();
        sweep_errors.extend(restore.err());
        let mut v = check::verdict(&h, &m, policy);
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
    let dirty = Snapshot::take(&root).differences(&before);

    let header = format!(
        "host Linux {release} ({}) against the model, policy {policy}",
        root.display()
    );
    print!("{}", report::verdict::table(&header, &verdicts));
    if let Some(path) = &opts.json {
        // Which attach backends this kernel allows, for matrices across kernels.
        let backends = crate::observe::probe_backends(
            Path::new(crate::observe::btf::VMLINUX_BTF),
            &KernelConfig::read(&release),
        )
        .unwrap_or_default();
        let doc = serde_json::json!({
            "host": { "kernel": release, "tracefs": root, "backends": backends },
            "policy": policy,
            "verdicts": verdicts,
            "finding_steps": transcripts,
            "host_left_dirty": dirty,
        });
        std::fs::write(
            path,
            serde_json::to_string_pretty(&doc).map_err(anyhow::Error::from)?,
        )
        .map_err(|e| Error::Failed(anyhow::anyhow!("{}: {e}", path.display())))?;
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
