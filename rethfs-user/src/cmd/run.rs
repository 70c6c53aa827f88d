//! `rethfs run`: every scenario on the host's tracefs and on the model with the matching
//! policy, compared step by step, with the invariants applied to both; the host is checked to
//! be left as it was found.

use std::path::{Path, PathBuf};

use crate::{
    baseline::Baseline,
    error::{Error, Result, require_root},
    model::KernelVersion,
    observe::{HookSet, Observer},
    report::{self, history_view},
    scenario::{CATALOGUE, RACES, Scenario},
    session::{self, run::Job, signals},
};

pub struct RunOptions<'a> {
    pub tracefs: Option<&'a Path>,
    pub btf: &'a Path,
    /// The observer to use instead of the best the kernel loads.
    pub attach: Option<Observer>,
    pub hooks: HookSet,
    /// Chrome trace event JSON of every lifetime, for Perfetto.
    pub trace: Option<PathBuf>,
    /// An SVG timeline of the lifetimes.
    pub timeline: Option<PathBuf>,
    pub scenarios: Vec<String>,
    /// Run the concurrent scenarios as well.
    pub races: bool,
    pub policy_version: Option<KernelVersion>,
    pub json: Option<PathBuf>,
    pub allow_remount: bool,
    /// What the linearizability search may spend on one set of a race's calls.
    pub race_budget: crate::race::Budget,
    /// Known findings: the run fails only on others.
    pub baseline: Option<PathBuf>,
    /// KTAP output (`-`: standard output).
    pub ktap: Option<PathBuf>,
    /// JUnit XML output (`-`: standard output).
    pub junit: Option<PathBuf>,
    /// Where to write a reproducer of each finding.
    pub repro: Option<PathBuf>,
}

/// The named scenarios (`catalogue` names every sequential built-in one but the audit, `races`
/// every concurrent one), or by default the catalogue and the audit, and the races too with
/// `races`. On a host races run only when asked: on vulnerable kernels they oops.
fn jobs(names: &[String], races: bool) -> Result<Vec<Job>> {
    let mut all: Vec<String> = Vec::new();
    if names.is_empty() {
        all.extend(["catalogue", "audit"].map(str::to_owned));
    }
    if races && !names.iter().any(|n| n == "races") {
        all.push("races".into());
    }
    let mut out = Vec::new();
    for n in names.iter().chain(&all) {
        match n.as_str() {
            "audit" => out.push(Job::Audit),
            "catalogue" => {
                for (name, _) in CATALOGUE {
                    out.push(Job::Steps(Scenario::resolve(name)?));
                }
            }
            "races" => {
                for (name, _) in RACES {
                    out.push(Job::Steps(Scenario::resolve(name)?));
                }
            }
            _ => out.push(Job::Steps(Scenario::resolve(n)?)),
        }
    }
    Ok(out)
}

pub fn run(opts: RunOptions) -> Result<u8> {
    let jobs = jobs(&opts.scenarios, opts.races)?;
    let baseline = opts
        .baseline
        .as_deref()
        .map(|p| Baseline::read(p).map(|b| (p, b)))
        .transpose()?;
    require_root("run")?;
    // Signals first: from here on every exit path goes through the cleanup.
    signals::catch()?;
    let session_options = session::Options {
        tracefs: opts.tracefs,
        btf: opts.btf,
        attach: opts.attach,
        hooks: opts.hooks,
        policy_version: opts.policy_version,
        allow_remount: opts.allow_remount,
    };
    let pictures = opts.trace.is_some() || opts.timeline.is_some();
    let mut run = session::run::run(&session_options, jobs, opts.race_budget, pictures)?;
    let report = &mut run.report;
    if let Some((path, b)) = &baseline {
        report.baseline = Some(b.judge(path, report));
    }
    let header = format!(
        "host Linux {} ({}) against the model, policy {}",
        report.host.kernel,
        report.host.tracefs.display(),
        report.policy
    );
    print!("{}", report::verdict::table(&header, &report.verdicts));
    print!("{}", report::verdict::observer(report.observer.as_ref()));
    if let Some(j) = &report.baseline {
        print!("{}", report::verdict::baseline(j));
    }
    if let Some(path) = &opts.trace {
        std::fs::File::create(path)
            .and_then(|f| {
                report::trace::write_chrome_json(&run.pictured, std::io::BufWriter::new(f))
            })
            .map_err(|e| Error::Failed(anyhow::anyhow!("{}: {e}", path.display())))?;
    }
    if let Some(path) = &opts.timeline {
        super::write_file(path, &report::timeline::svg(&run.pictured))?;
        if !run.drawn.is_empty() {
            let view = path.with_extension("history.svg");
            super::write_file(&view, &history_view::svg(&run.drawn))?;
            println!("history view: {}", view.display());
        }
    }
    let report = &run.report;
    if let Some(path) = &opts.json {
        let text = serde_json::to_string_pretty(report).map_err(anyhow::Error::from)?;
        super::write_file(path, &text)?;
    }
    if let Some(path) = &opts.ktap {
        super::write_or_print(path, &report::ktap::render(report))?;
    }
    if let Some(path) = &opts.junit {
        super::write_or_print(path, &report::junit::render(report))?;
    }
    if let Some(dir) = &opts.repro {
        let source = opts
            .json
            .as_ref()
            .map_or("this run".to_owned(), |p| p.display().to_string());
        super::repro::all(report, &source, dir)?;
    }
    if !report.host_left_dirty.is_empty() {
        return Err(Error::Failed(anyhow::anyhow!(
            "the run did not leave the host as it found it:\n  {}",
            report.host_left_dirty.join("\n  ")
        )));
    }
    if signals::stopped() {
        return Err(signals::interrupted());
    }
    Ok(u8::from(report.failed()))
}
