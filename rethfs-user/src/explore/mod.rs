//! `rethfs explore`: scenarios rethfs writes itself, judged like the catalogue's, and each
//! finding shrunk to a smallest scenario that still shows it.
//!
//! A case is drawn step by step from the state a scratch model is left in ([`generate`]), or
//! enumerated over a fixed alphabet ([`exhaustive`]); either way the host is never consulted,
//! so a seed names the same cases everywhere. A [`Judge`] runs the case from a clean state
//! under names of its own: on the host and the model in lockstep ([`HostSession`]), or on the
//! model alone ([`ModelJudge`]). A finding is known by its [`Signature`]; the first case that
//! shows a signature is re-run to see whether it reproduces, then shrunk ([`shrink`]), every
//! candidate re-run under fresh names; later cases with that signature are only counted.
//!
//! Generation and shrinking are rethfs's own rather than proptest-state-machine's: every
//! candidate runs on the real kernel, which may answer differently on a repeat (so candidates
//! are retried and findings rated), cases must be bounded-exhaustive as well as random, and the
//! seed must name the same cases across versions of any dependency.

mod exhaustive;
pub mod found;
mod generate;
mod rng;
mod shrink;
pub mod universe;

use std::time::{Duration, Instant};

use serde::Serialize;

pub use universe::Universe;

use crate::{
    check::{
        self, Signature, Verdict,
        lifetime::{LifetimeCheck, Scope},
    },
    error::Result,
    interface::{Action, LifetimeKind},
    model::{Model, Policy},
    scenario::{self, Scenario, Transcript},
    session::HostSession,
};

/// What judging one case gave.
pub struct Judged {
    pub verdict: Verdict,
    pub host: Transcript,
}

/// Runs a case from a clean state under names of its own.
pub trait Judge {
    fn judge(&mut self, scenario: &Scenario, own: &str) -> Result<Judged>;
    /// The model as a case starts on it, for drawing cases.
    fn template(&self) -> &Model;
}

impl Judge for HostSession {
    fn judge(&mut self, scenario: &Scenario, own: &str) -> Result<Judged> {
        let case = self.run_case(scenario, own, &|_| {})?;
        Ok(Judged {
            verdict: case.verdict,
            host: case.host,
        })
    }

    fn template(&self) -> &Model {
        self.template()
    }
}

/// The model against itself: its invariants and lifetime rules, no kernel.
pub struct ModelJudge {
    template: Model,
    policy: Policy,
}

impl ModelJudge {
    pub fn new(policy: Policy, config: crate::model::ModelConfig) -> Self {
        ModelJudge {
            template: Model::new(policy, config),
            policy,
        }
    }
}

impl Judge for ModelJudge {
    fn judge(&mut self, scenario: &Scenario, own: &str) -> Result<Judged> {
        let t = scenario::run(&mut self.template.clone(), scenario);
        let scope = Scope {
            prefix: own,
            seen: LifetimeKind::ALL.to_vec(),
        };
        Ok(Judged {
            verdict: check::verdict(&t, &t, self.policy, Ok(&scope)),
            host: t,
        })
    }

    fn template(&self) -> &Model {
        &self.template
    }
}

/// When to stop drawing cases.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    Cases(u64),
    Duration(Duration),
}

/// How cases are made.
#[derive(Debug, Clone, Copy)]
pub enum Plan {
    /// Drawn at random, each of 1 to `max_steps` steps.
    Random {
        seed: u64,
        max_steps: usize,
        budget: Budget,
    },
    /// Every sequence of `depth` steps, stopped early only by `limit`.
    Exhaustive {
        depth: usize,
        limit: Option<Duration>,
    },
}

/// How often a finding came back when its case was run again.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Reproduced {
    pub shown: u32,
    pub tries: u32,
}

/// A finding explore made, once per signature.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub signature: Signature,
    /// Cases that showed it.
    pub count: u64,
    pub first_case: u64,
    pub detail: String,
    pub host: String,
    pub model: String,
    pub steps_before: usize,
    pub steps_after: usize,
    pub shrink_runs: usize,
    pub shrink_seconds: f64,
    /// Re-runs of the first case (before shrinking) and of the shrunk one.
    pub reproduced: Reproduced,
    pub reproduced_shrunk: Reproduced,
    /// It did not come back every time.
    pub flaky: bool,
    /// Why a baseline knows it, when one was given and does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known: Option<String>,
    /// The smallest scenario found, its objects named `own`.
    #[serde(skip)]
    pub scenario: Scenario,
    #[serde(skip)]
    pub own: String,
}

/// What a session of exploring did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub cases: u64,
    pub steps: u64,
    pub seconds: f64,
    /// Every case and candidate run, shrinking's included.
    pub runs: u64,
    /// For `--exhaustive`: how many sequences there were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planned: Option<u64>,
    pub interrupted: bool,
    /// Steps the host would not run (objects not the run's, remounts without
    /// `--allow-remount`), by reason: they tested nothing.
    pub skipped: std::collections::BTreeMap<String, u64>,
    pub lifetimes: LifetimesCompared,
    pub findings: Vec<Found>,
}

/// How many cases had their lifetimes compared: a run without findings means little if none
/// did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LifetimesCompared {
    pub cases: u64,
    /// Lifetime events of the cases' own objects, summed over the compared cases.
    pub host_events: u64,
    pub model_events: u64,
    /// Cases not compared, by reason.
    pub not_compared: std::collections::BTreeMap<String, u64>,
}

impl Report {
    pub fn cases_per_second(&self) -> f64 {
        self.cases as f64 / self.seconds.max(1e-9)
    }

    pub fn steps_per_second(&self) -> f64 {
        self.steps as f64 / self.seconds.max(1e-9)
    }
}

/// Where exploring stands, for the progress line.
pub struct Progress {
    pub cases: u64,
    pub planned: Option<u64>,
    pub findings: usize,
    pub elapsed: Duration,
}

/// Re-runs of a first case before it is shrunk, and of the shrunk case.
const TRIES: u32 = 3;

struct Explorer<'a> {
    judge: &'a mut dyn Judge,
    prefix: String,
    runs: u64,
}

impl Explorer<'_> {
    /// A fresh name for the next run, so nothing one run left cached is met by the next.
    fn own(&mut self) -> String {
        self.runs += 1;
        format!("{}_{}", self.prefix, self.runs)
    }

    /// Runs `steps` (named `from`) under a fresh name; the first finding with `sig`.
    fn shows(
        &mut self,
        steps: &[Action],
        from: &str,
        sig: &Signature,
    ) -> Result<Option<check::Finding>> {
        let Ok(s) = Scenario::from_actions("candidate", "", steps.to_vec()) else {
            return Ok(None);
        };
        let own = self.own();
        let judged = self.judge.judge(&s.renamed(from, &own), &own)?;
        Ok(judged
            .verdict
            .findings
            .into_iter()
            .find(|f| Signature::of(f) == *sig))
    }

    /// How many of `TRIES` re-runs show `sig`.
    fn reproduce(&mut self, steps: &[Action], from: &str, sig: &Signature) -> Result<Reproduced> {
        let mut shown = 0;
        for _ in 0..TRIES {
            shown += u32::from(self.shows(steps, from, sig)?.is_some());
        }
        Ok(Reproduced {
            shown,
            tries: TRIES,
        })
    }

    /// Shrinks the first case of a new finding and rates how reliably it shows.
    fn found(
        &mut self,
        case: u64,
        steps: Vec<Action>,
        own: &str,
        f: &check::Finding,
        sig: Signature,
    ) -> Result<Found> {
        let start = Instant::now();
        let reproduced = self.reproduce(&steps, own, &sig)?;
        let flaky_first = reproduced.shown < reproduced.tries;
        let before = steps.len();
        let (steps, shrink_runs) = if reproduced.shown == 0 {
            // It never came back: shrinking would only chase chance.
            (steps, 0)
        } else {
            let mut error = None;
            let s = {
                let mut shows = |c: &[Action]| {
                    // A finding that does not always show gets each candidate tried again.
                    let tries = if flaky_first { TRIES } else { 1 };
                    (0..tries).any(|_| match self.shows(c, own, &sig) {
                        Ok(found) => found.is_some(),
                        Err(e) => {
                            error.get_or_insert(e);
                            false
                        }
                    })
                };
                shrink::shrink(steps, &mut shows)
            };
            if let Some(e) = error {
                return Err(e);
            }
            (s.steps, s.runs)
        };
        let reproduced_shrunk = self.reproduce(&steps, own, &sig)?;
        // The shrunk case's own answers, for the report.
        let shown = self.shows(&steps, own, &sig)?.unwrap_or_else(|| f.clone());
        Ok(Found {
            signature: sig,
            count: 1,
            first_case: case,
            detail: shown.detail,
            host: shown.host,
            model: shown.model,
            steps_before: before,
            steps_after: steps.len(),
            shrink_runs,
            shrink_seconds: start.elapsed().as_secs_f64(),
            flaky: flaky_first || reproduced_shrunk.shown < reproduced_shrunk.tries,
            known: None,
            reproduced,
            reproduced_shrunk,
            scenario: Scenario::from_actions("found", "", steps)
                .expect("a shrunk case stays valid"),
            own: own.to_owned(),
        })
    }
}

/// How many sequences `--exhaustive depth` has over `universe`.
pub fn exhaustive_count(universe: &Universe, depth: usize) -> u64 {
    exhaustive::count(exhaustive::alphabet(universe, "rethfs_0").len(), depth)
}

/// Explores with `judge` under `plan` until the budget is spent or `stop` says so.
pub fn explore(
    judge: &mut dyn Judge,
    universe: &Universe,
    plan: Plan,
    prefix: &str,
    stop: &dyn Fn() -> bool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Report> {
    let start = Instant::now();
    let mut ex = Explorer {
        judge,
        prefix: prefix.to_owned(),
        runs: 0,
    };
    let mut report = Report {
        cases: 0,
        steps: 0,
        seconds: 0.0,
        runs: 0,
        planned: None,
        interrupted: false,
        skipped: Default::default(),
        lifetimes: Default::default(),
        findings: Vec::new(),
    };
    let mut rng = match plan {
        Plan::Random { seed, .. } => rng::Rng::new(seed),
        Plan::Exhaustive { depth, .. } => {
            let n = exhaustive::alphabet(universe, prefix).len();
            report.planned = Some(exhaustive::count(n, depth));
            rng::Rng::new(0)
        }
    };
    loop {
        let elapsed = start.elapsed();
        let done = match plan {
            Plan::Random {
                budget: Budget::Cases(n),
                ..
            } => report.cases >= n,
            Plan::Random {
                budget: Budget::Duration(d),
                ..
            } => elapsed >= d,
            Plan::Exhaustive { limit, .. } => {
                Some(report.cases) >= report.planned || limit.is_some_and(|l| elapsed >= l)
            }
        };
        if stop() {
            report.interrupted = true;
        }
        if done || report.interrupted {
            break;
        }
        let own = ex.own();
        let steps = match plan {
            Plan::Random { max_steps, .. } => {
                let len = 1 + rng.below(max_steps);
                generate::case(&mut rng, universe, &own, ex.judge.template().clone(), len)
            }
            Plan::Exhaustive { depth, .. } => {
                let mut steps = exhaustive::setup(universe, &own);
                let alphabet = exhaustive::alphabet(universe, &own);
                steps.extend(exhaustive::sequence(&alphabet, depth, report.cases));
                steps
            }
        };
        let case = report.cases;
        report.cases += 1;
        report.steps += steps.len() as u64;
        let scenario = Scenario::from_actions(&format!("case-{case}"), "", steps.clone())
            .expect("generated cases are valid");
        let judged = ex.judge.judge(&scenario, &own)?;
        for s in &judged.host.steps {
            if let crate::interface::Outcome::Skipped(why) = &s.outcome {
                *report
                    .skipped
                    .entry(why.replace(&own, "{prefix}"))
                    .or_default() += 1;
            }
        }
        let lifetimes = &mut report.lifetimes;
        match &judged.verdict.lifetimes {
            LifetimeCheck::Made { host, model } => {
                lifetimes.cases += 1;
                lifetimes.host_events += *host as u64;
                lifetimes.model_events += *model as u64;
            }
            LifetimeCheck::NotMade(why) => {
                *lifetimes
                    .not_compared
                    .entry(why.replace(&own, "{prefix}"))
                    .or_default() += 1;
            }
        }
        for f in &judged.verdict.findings {
            let sig = Signature::of(f);
            if let Some(known) = report.findings.iter_mut().find(|k| k.signature == sig) {
                known.count += 1;
            } else {
                let found = ex.found(case, steps.clone(), &own, f, sig)?;
                report.findings.push(found);
            }
        }
        progress(&Progress {
            cases: report.cases,
            planned: report.planned,
            findings: report.findings.len(),
            elapsed: start.elapsed(),
        });
    }
    report.seconds = start.elapsed().as_secs_f64();
    report.runs = ex.runs;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModelConfig, Policy};

    fn universe() -> Universe {
        Universe::new(
            universe::Interfaces::ALL,
            crate::host::uprobe_target().unwrap(),
            false,
        )
    }

    fn on_the_model(plan: Plan) -> Report {
        let mut judge = ModelJudge::new(Policy::V6_17, ModelConfig::default());
        explore(
            &mut judge,
            &universe(),
            plan,
            "rethfs_1",
            &|| false,
            &mut |_| {},
        )
        .unwrap()
    }

    /// On the model alone the readdir d_off finding, which the model reproduces, is found and
    /// shrunk to a handful of steps that still show it.
    #[test]
    fn the_model_alone_finds_the_readdir_finding_and_shrinks_it() {
        let r = on_the_model(Plan::Random {
            seed: 7,
            max_steps: 10,
            budget: Budget::Cases(20_000),
        });
        let seek = r
            .findings
            .iter()
            .find(|f| f.signature.invariant.as_deref() == Some("readdir-seek-resumes-after-entry"))
            .unwrap_or_else(|| panic!("not found in {} cases: {:?}", r.cases, r.findings));
        assert!(
            seek.steps_after <= 6 && seek.steps_after < seek.steps_before.max(7),
            "{seek:?}"
        );
        assert_eq!(seek.reproduced_shrunk.shown, TRIES, "{seek:?}");
        assert_eq!(r.cases, 20_000);
    }

    #[test]
    fn exhaustive_runs_every_sequence_and_says_how_many() {
        let r = on_the_model(Plan::Exhaustive {
            depth: 1,
            limit: None,
        });
        assert_eq!(Some(r.cases), r.planned);
        assert!(r.cases > 20);
    }

    /// Every case the model judges has its lifetimes compared, and they are not empty.
    #[test]
    fn the_lifetimes_each_case_compared_are_counted() {
        let r = on_the_model(Plan::Random {
            seed: 3,
            max_steps: 6,
            budget: Budget::Cases(200),
        });
        let l = &r.lifetimes;
        assert_eq!((l.cases, l.not_compared.len()), (200, 0), "{l:?}");
        assert!(
            l.model_events > 200 && l.host_events == l.model_events,
            "{l:?}"
        );
    }
}
