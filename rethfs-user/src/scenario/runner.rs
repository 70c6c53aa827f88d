//! Drives a target through a scenario, step by step, collecting outcomes and lifetimes.

use serde::Serialize;

use super::Scenario;
use crate::interface::{Action, Lifetime, Outcome, Target};

/// What one step did.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub index: usize,
    pub line: usize,
    pub action: Action,
    pub outcome: Outcome,
    pub lifetimes: Vec<Lifetime>,
    /// The target's notes on this step (error_log lines).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A whole run of one scenario on one target.
#[derive(Debug, Clone, Serialize)]
pub struct Transcript {
    pub scenario: String,
    pub target: String,
    pub steps: Vec<StepResult>,
}

/// Runs every step of `scenario` on `target`, then closes the handles the scenario left open
/// (recorded as steps at line 0), so no file stays open on the target.
pub fn run(target: &mut dyn Target, scenario: &Scenario) -> Transcript {
    // Whatever the target recorded before the scenario is not the scenario's.
    target.take_lifetimes();
    let mut open: Vec<String> = Vec::new();
    let mut steps = Vec::new();
    let mut step =
        |target: &mut dyn Target, line: usize, action: &Action, open: &mut Vec<String>| {
            let outcome = target.apply(action);
            match action {
                Action::Open { handle, .. }
                | Action::OpenAt {
                    as_handle: handle, ..
                } if outcome.is_ok() => {
                    open.push(handle.clone());
                }
                Action::Close { handle } => open.retain(|h| h != handle),
                _ => {}
            }
            steps.push(StepResult {
                index: steps.len() + 1,
                line,
                action: action.clone(),
                outcome,
                lifetimes: target.take_lifetimes(),
                notes: target.take_notes(),
            });
        };
    for s in &scenario.steps {
        step(target, s.line, &s.action, &mut open);
    }
    for handle in open.clone() {
        step(target, 0, &Action::Close { handle }, &mut open);
    }
    Transcript {
        scenario: scenario.name.clone(),
        target: target.describe(),
        steps,
    }
}

/// Runs `scenario` on the host and the model in lockstep: each step on the host first, then,
/// unless the host skipped it, on the model; a step the host skipped is skipped on both, so
/// the two stay in the same state. Stops early when `stop` says so (a signal arrived). Only
/// the lifetimes `keep` accepts are kept (a walk of the whole tree makes millions).
pub fn run_pair(
    host: &mut dyn Target,
    model: &mut dyn Target,
    scenario: &Scenario,
    stop: &dyn Fn() -> bool,
    keep: &dyn Fn(&Lifetime) -> bool,
) -> (Transcript, Transcript) {
    host.take_lifetimes();
    model.take_lifetimes();
    let (mut hs, mut ms) = (Vec::new(), Vec::new());
    for (i, s) in scenario.steps.iter().enumerate() {
        if stop() {
            break;
        }
        let h = host.apply(&s.action);
        let m = match &h {
            Outcome::Skipped(why) => Outcome::Skipped(why.clone()),
            _ => model.apply(&s.action),
        };
        let record = |outcome, lifetimes, notes| StepResult {
            index: i + 1,
            line: s.line,
            action: s.action.clone(),
            outcome,
            lifetimes,
            notes,
        };
        let lifetimes = |t: &mut dyn Target| {
            let mut l = t.take_lifetimes();
            l.retain(keep);
            l
        };
        hs.push(record(h, lifetimes(host), host.take_notes()));
        ms.push(record(m, lifetimes(model), model.take_notes()));
    }
    let transcript = |t: &dyn Target, steps| Transcript {
        scenario: scenario.name.clone(),
        target: t.describe(),
        steps,
    };
    (transcript(host, hs), transcript(model, ms))
}
