//! A concurrent case: the setup on host and model in lockstep, then the threads on the host
//! at once, their history judged against the model the setup left, and the kernel log read
//! around them.

use super::{HostSession, signals};
use crate::{
    check::{self, FindingKind, LifetimeCheck, Status, Verdict},
    error::{Error, Result},
    host::{HostTracefs, kmsg::Kmsg},
    interface::{Outcome, Target},
    model::Model,
    race::{self, history::History},
    scenario::{self, Scenario},
};

/// A concurrent case's result.
pub struct Race {
    pub verdict: Verdict,
    pub history: History,
    /// The smallest failing sub-history and its marked calls, for the history view.
    pub offending: Option<(History, Vec<usize>)>,
}

impl HostSession {
    /// Runs the concurrent `scenario`, whose objects are named `own`, and judges it; removes
    /// what it made. Lifetimes are not compared: the model has no order to make them in.
    pub fn run_concurrent(
        &mut self,
        scenario: &Scenario,
        own: &str,
        budget: race::Budget,
    ) -> Result<Race> {
        let (scenario, note) = self.stand_in(scenario)?;
        let mut host =
            HostTracefs::new(self.root.clone(), self.release.clone(), self.allow_remount)?
                .named(own);
        let mut model = self.template.clone();
        let setup = Scenario {
            threads: Vec::new(),
            ..scenario.clone()
        };
        let (h, m) =
            scenario::run_pair(&mut host, &mut model, &setup, &signals::stopped, &|_| false);
        let mut verdict = check::verdict(&h, &m, self.policy, Err(String::new()));
        let lost_before = self.live.as_ref().map(|l| l.batch().lost);
        let mut kmsg = Kmsg::open();
        // A setup the host would not run (a feature the kernel lacks) leaves nothing to race.
        let refused = h.steps.iter().find_map(|s| match &s.outcome {
            Outcome::Skipped(why) => Some(why.clone()),
            _ => None,
        });
        let ran = if let Some(why) = &refused {
            verdict.notes.push(format!(
                "the setup was skipped ({why}): the threads were not run"
            ));
            None
        } else if verdict.findings.is_empty() {
            let targets = scenario
                .threads
                .iter()
                .map(|_| host.for_thread())
                .collect::<std::io::Result<Vec<_>>>()
                .map_err(|e| Error::Failed(anyhow::anyhow!("a thread's target: {e}")))?;
            Some(race::run::run(&scenario.threads, targets, signals::stopped))
        } else {
            verdict
                .notes
                .push("the setup diverged: the threads were not run".into());
            None
        };
        let said = kmsg.failures();
        let threads_ran = ran.is_some();
        let lost = match (lost_before, self.live.as_ref()) {
            (Some(before), Some(l)) => Some(l.batch().lost - before),
            _ => None,
        };
        let mut history = History::default();
        let mut offending = None;
        let mut undecided = 0;
        let mut rates_note = None; // calls per second, per thread and in all
        if let Some(mut ran) = ran {
            // A set of calls on a few groups is judged on a model of those groups alone, seeded
            // by the same setup: copying the host's whole tree at each branch would dominate.
            let model_for = |groups: Option<&[String]>| match groups {
                None => model.clone(),
                Some(g) => {
                    let mut m = Model::new(self.policy, self.config.only_groups(g));
                    for s in &setup.steps {
                        m.apply(&s.action);
                    }
                    m.take_lifetimes();
                    m
                }
            };
            let judged = race::judge(&ran.history, &model_for, budget);
            verdict.findings.extend(judged.findings);
            verdict.notes.extend(judged.notes);
            undecided = judged.undecided;
            rates_note = Some(ran.history.rates());
            offending = judged.offending;
            let calls = ran.history.calls.len();
            verdict.findings.extend(race::kernel_survives(
                &said,
                &ran.stuck,
                &ran.history,
                h.steps.len() + calls,
            ));
            verdict.steps += calls;
            verdict.skipped_steps += ran
                .history
                .calls
                .iter()
                .filter(|c| matches!(c.outcome, Some(Outcome::Skipped(_))))
                .count();
            for t in &mut ran.targets {
                verdict
                    .notes
                    .extend(t.restore_mount().err().map(|e| format!("cleanup: {e}")));
            }
            let (asked, reached) = ran
                .targets
                .iter()
                .map(HostTracefs::holds)
                .fold((0, 0), |(a, r), h| (a + h.asked, r + h.reached));
            if asked > 0 {
                verdict.notes.push(format!(
                    "held listings: {reached} of {asked} reached the held byte (threads that \
                     finished)"
                ));
            }
            history = ran.history;
        }
        verdict.notes.extend(kmsg.unreadable.map(|why| {
            format!("kernel log not read ({why}): an oops would show only as a killed thread")
        }));
        verdict.notes.extend(rates_note);
        verdict.notes.extend(note.map(str::to_owned));
        verdict.notes.extend(lost.filter(|_| threads_ran).map(|n| {
            format!("observer: {n} kernel records lost during the threads (not judged on)")
        }));
        verdict.notes.extend(self.end_case(host));
        verdict.lifetimes = LifetimeCheck::NotMade(
            "concurrent: the model has no single order to make lifetimes in".into(),
        );
        verdict.status = match refused {
            Some(why) => Status::Skipped(why),
            None => status(&verdict, undecided, history.calls.len()),
        };
        Ok(Race {
            verdict,
            history,
            offending,
        })
    }
}

/// A concurrent verdict's status: findings first, then whether anything was decided.
fn status(v: &Verdict, undecided: usize, calls: usize) -> Status {
    if v.findings.iter().any(|f| f.kind == FindingKind::Divergence) {
        Status::Divergence
    } else if !v.findings.is_empty() {
        Status::Violation
    } else if calls == 0 || v.skipped_steps == v.steps {
        Status::Skipped("no call ran".into())
    } else if undecided > 0 {
        Status::Skipped(format!(
            "the linearizability search gave up on {undecided} set(s) of calls"
        ))
    } else {
        Status::Pass
    }
}
