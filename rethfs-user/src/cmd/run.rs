//! `rethfs run`: every scenario on the host's tracefs and on the model with the matching
//! policy, compared step by step, with the invariants applied to both; the host is checked to
//! be left as it was found.

use std::path::{Path, PathBuf};

use crate::{
    check::{Status, Verdict},
    error::{Error, Result, require_root},
    model::KernelVersion,
    observe::{HookSet, Observer},
    report::{self, history_view, trace::ScenarioLifetimes},
    scenario::{self, CATALOGUE, RACES, Scenario},
    session::{self, HostSession, signals},
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
}

/// What `rethfs run` runs: sequential or concurrent scenarios, or the audit.
enum Job {
    Steps(Scenario),
    Audit,
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
    require_root("run")?;
    // Signals first: from here on every exit path goes through the cleanup.
    signals::catch()?;
    let mut session = HostSession::open(
        "run",
        &session::Options {
            tracefs: opts.tracefs,
            btf: opts.btf,
            attach: opts.attach,
            hooks: opts.hooks,
            policy_version: opts.policy_version,
            allow_remount: opts.allow_remount,
        },
    )?;
    let prefix = session.prefix.clone();
    let mut pictured: Vec<ScenarioLifetimes> = Vec::new();
    let mut verdicts: Vec<Verdict> = Vec::new();
    let mut transcripts = Vec::new();
    let mut histories = Vec::new();
    let mut drawn = Vec::new();
    for (n, job) in jobs.into_iter().enumerate() {
        if signals::stopped() {
            break;
        }
        // A name per scenario: what one leaves cached in the dcache, the next never meets.
        let own = format!("{prefix}_{n}");
        let s = match job {
            Job::Steps(s) => s.renamed(&prefix, &own),
            Job::Audit => scenario::audit(&session.config.events, &own),
        };
        if s.is_concurrent() {
            let race = session.run_concurrent(&s, &own, opts.race_budget)?;
            let around = race.history.around_pending(history_view::MAX_CALLS);
            if !race.verdict.findings.is_empty() {
                histories.push(serde_json::json!({
                    "scenario": s.name,
                    "smallest_failing": race.offending.as_ref().map(|(h, _)| h),
                    "around_pending": around.as_ref().map(|(h, _)| h),
                }));
            }
            // The history view draws what a finding points at: the calls no order explains,
            // else the calls around one that never returned.
            let view = match (race.offending, around) {
                (Some((h, marked)), _) => {
                    Some(("the smallest sub-history no order explains", h, marked))
                }
                (None, Some((h, marked))) => {
                    Some(("the calls around one that never returned", h, marked))
                }
                (None, None) => None,
            };
            drawn.extend(view.map(|(caption, history, marked)| history_view::Drawn {
                scenario: s.name.clone(),
                caption: caption.into(),
                history,
                marked,
            }));
            verdicts.push(Verdict {
                cves: s.cves.clone(),
                ..race.verdict
            });
            continue;
        }
        let case = session.run_case(&s, &own)?;
        let (h, m) = (case.host, case.model);
        let v = Verdict {
            cves: s.cves.clone(),
            ..case.verdict
        };
        if opts.trace.is_some() || opts.timeline.is_some() {
            pictured.push(ScenarioLifetimes::of(
                &h,
                &m,
                &own,
                session.observes_lifetimes(),
            ));
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
        verdicts.push(v);
    }
    let (root, release, policy) = (
        session.root.clone(),
        session.release.clone(),
        session.policy,
    );
    let backends = session.backends.clone();
    let (observer, dirty) = session.finish();
    let observer = observer.map(|o| {
        serde_json::json!({"name": o.name, "hooks": o.hooks, "records": o.records, "lost": o.lost,
            "skipped": o.skipped})
    });

    let header = format!(
        "host Linux {release} ({}) against the model, policy {policy}",
        root.display()
    );
    print!("{}", report::verdict::table(&header, &verdicts));
    if let Some(o) = &observer {
        println!(
            "observer: {}, {} kernel records, {} lost ({} of them runs the kernel skipped)",
            o["name"].as_str().unwrap_or_default(),
            o["records"],
            o["lost"],
            o["skipped"]
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
        super::write_file(path, &report::timeline::svg(&pictured))?;
        if !drawn.is_empty() {
            let view = path.with_extension("history.svg");
            super::write_file(&view, &history_view::svg(&drawn))?;
            println!("history view: {}", view.display());
        }
    }
    if let Some(path) = &opts.json {
        let doc = serde_json::json!({
            "host": {
                "kernel": release,
                "tracefs": root,
                "backends": backends,
                "config": crate::profile::KernelConfig::read(&release),
            },
            "observer": observer,
            "policy": policy,
            "verdicts": verdicts,
            "finding_steps": transcripts,
            "finding_histories": histories,
            "host_left_dirty": dirty,
        });
        super::write_file(
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
    if signals::stopped() {
        return Err(signals::interrupted());
    }
    let failed = verdicts
        .iter()
        .any(|v| matches!(v.status, Status::Divergence | Status::Violation));
    Ok(u8::from(failed))
}
