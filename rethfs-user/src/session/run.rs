//! A whole `rethfs run`: the session, each scenario under names of its own (sequential ones
//! on host and model in lockstep, races as histories), and the typed report of it all, with
//! what the pictures need beside it.

use super::{HostSession, Options, signals};
use crate::{
    check::Verdict,
    error::{Error, Result},
    interface::Outcome,
    race::Budget,
    report::{
        history_view,
        progress::Progress,
        run::{Host, RunReport, SCHEMA, ScenarioRun},
        trace::ScenarioLifetimes,
    },
    scenario::{self, Scenario},
};

/// What a run runs: a scenario (sequential or concurrent), or the whole-tree audit.
pub enum Job {
    Steps(Scenario),
    Audit,
}

/// A run's report, and what its pictures are drawn from.
pub struct Run {
    pub report: RunReport,
    /// Each sequential scenario's lifetimes, when `pictures` was asked for.
    pub pictured: Vec<ScenarioLifetimes>,
    /// Each race's history view.
    pub drawn: Vec<history_view::Drawn>,
}

/// Runs `jobs` in one session opened with `options`; `pictures` keeps every sequential
/// scenario's lifetimes for a trace or a timeline. A signal stops it after the current job,
/// with what ran reported.
pub fn run(options: &Options, jobs: Vec<Job>, race_budget: Budget, pictures: bool) -> Result<Run> {
    let mut session = HostSession::open("run", options)?;
    let prefix = session.prefix.clone();
    let uprobe = crate::host::uprobe_target().unwrap_or_default();
    let mut out = Run {
        report: RunReport {
            schema: SCHEMA,
            host: Host {
                kernel: session.release.clone(),
                tracefs: session.root.clone(),
                backends: serde_json::to_value(&session.backends).map_err(json)?,
                config: serde_json::to_value(crate::kernel::KernelConfig::read(&session.release))
                    .map_err(json)?,
            },
            observer: None,
            policy: session.policy.to_string(),
            verdicts: Vec::new(),
            scenarios: Vec::new(),
            finding_steps: Vec::new(),
            finding_histories: Vec::new(),
            host_left_dirty: Vec::new(),
            baseline: None,
        },
        pictured: Vec::new(),
        drawn: Vec::new(),
    };
    let progress = Progress::new("rethfs run");
    let total = jobs.len();
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
        let at = format!("scenario {} of {total}: {}", n + 1, s.name);
        progress.show(&at, true);
        let (verdict, host) = if s.is_concurrent() {
            (race(&mut session, &s, &own, race_budget, &mut out)?, None)
        } else {
            let steps = s.steps.len();
            let step = |i: usize| progress.show(&format!("{at}, step {i} of {steps}"), false);
            let (verdict, host) = sequential(&mut session, &s, &own, pictures, &step, &mut out)?;
            (verdict, Some(host))
        };
        if !verdict.findings.is_empty() {
            let placeholders = [(own.as_str(), "{prefix}"), (uprobe.as_str(), "{uprobe}")];
            let steps = |answered: fn(&Outcome) -> bool| -> Vec<usize> {
                host.iter()
                    .flat_map(|t| &t.steps)
                    .filter(|st| answered(&st.outcome))
                    .map(|st| st.index)
                    .collect()
            };
            out.report.scenarios.push(ScenarioRun {
                name: s.name.clone(),
                toml: s.to_toml(&placeholders),
                prefix: own.clone(),
                uprobe: uprobe.clone(),
                failed_steps: steps(|o| matches!(o, Outcome::Err(_))),
                skipped_steps: steps(|o| matches!(o, Outcome::Skipped(_))),
            });
        }
        out.report.verdicts.push(Verdict {
            cves: s.cves.clone(),
            ..verdict
        });
    }
    progress.done();
    let (observer, dirty) = session.finish();
    out.report.observer = observer
        .map(|o| {
            serde_json::to_value(serde_json::json!({
                "name": o.name, "hooks": o.hooks, "records": o.records, "lost": o.lost,
                "skipped": o.skipped,
            }))
        })
        .transpose()
        .map_err(json)?;
    out.report.host_left_dirty = dirty;
    Ok(out)
}

fn json(e: serde_json::Error) -> Error {
    Error::Failed(e.into())
}

/// A race: its verdict, and its history where a finding points at it.
fn race(
    session: &mut HostSession,
    s: &Scenario,
    own: &str,
    budget: Budget,
    out: &mut Run,
) -> Result<Verdict> {
    let race = session.run_concurrent(s, own, budget)?;
    let around = race.history.around_pending(history_view::MAX_CALLS);
    if !race.verdict.findings.is_empty() {
        out.report.finding_histories.push(serde_json::json!({
            "scenario": s.name,
            "smallest_failing": race.offending.as_ref().map(|(h, _)| h),
            "around_pending": around.as_ref().map(|(h, _)| h),
        }));
    }
    // The history view draws what a finding points at: the calls no order explains, else
    // the calls around one that never returned.
    let view = match (race.offending, around) {
        (Some((h, marked)), _) => Some(("the smallest sub-history no order explains", h, marked)),
        (None, Some((h, marked))) => Some(("the calls around one that never returned", h, marked)),
        (None, None) => None,
    };
    out.drawn
        .extend(view.map(|(caption, history, marked)| history_view::Drawn {
            scenario: s.name.clone(),
            caption: caption.into(),
            history,
            marked,
        }));
    Ok(race.verdict)
}

/// A sequential scenario: its verdict and the host's transcript, both sides' steps behind its
/// findings, and its lifetimes when pictures are asked for.
fn sequential(
    session: &mut HostSession,
    s: &Scenario,
    own: &str,
    pictures: bool,
    step: &dyn Fn(usize),
    out: &mut Run,
) -> Result<(Verdict, scenario::Transcript)> {
    let case = session.run_case(s, own, step)?;
    let (h, m, v) = (case.host, case.model, case.verdict);
    if pictures {
        out.pictured.push(ScenarioLifetimes::of(
            &h,
            &m,
            own,
            session.observes_lifetimes(),
        ));
    }
    // Both sides' steps behind each finding go to the report; whole transcripts (the audit's
    // has 30,000 steps) would not fit a small VM's memory.
    let at = |t: &scenario::Transcript| -> Vec<scenario::StepResult> {
        t.steps
            .iter()
            .filter(|st| v.findings.iter().any(|f| f.step == st.index))
            .cloned()
            .collect()
    };
    if !v.findings.is_empty() {
        out.report
            .finding_steps
            .push(serde_json::json!({"scenario": h.scenario, "host": at(&h), "model": at(&m)}));
    }
    Ok((v, h))
}
