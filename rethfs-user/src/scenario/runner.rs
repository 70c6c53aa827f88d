//! Drives a target through a scenario, step by step, collecting outcomes and lifetimes.

use serde::Serialize;

use super::Scenario;
use crate::target::{Action, Lifetime, Outcome, Target};

/// What one step did.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub index: usize,
    pub line: usize,
    pub action: Action,
    pub outcome: Outcome,
    pub lifetimes: Vec<Lifetime>,
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
