//! The verdict: host and model compared step by step, and invariants that must hold on
//! either side applied to both.

pub(crate) mod compare;
mod invariants;
pub mod lifetime;
mod signature;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

pub use compare::compare;
pub(crate) use invariants::touched_names;
pub use invariants::{SEEK_RESUMES, check as invariants};
pub use lifetime::LifetimeCheck;
pub use signature::Signature;

use crate::{model::Policy, scenario::Transcript};

/// Which side a finding was seen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Host,
    Model,
    /// A kernel finding the model agrees with.
    Both,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FindingKind {
    /// Host and model answered the same step differently.
    Divergence,
    /// An invariant broke.
    Violation {
        invariant: Cow<'static, str>,
        side: Side,
    },
    /// The kernel's dentry or eventfs_inode lifetimes in a step differ from the model's.
    LifetimeDivergence,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    pub step: usize,
    pub line: usize,
    pub action: String,
    /// The op of the step it showed at (`getdents`), or `race` for what a race's threads
    /// did together: part of its [`Signature`].
    pub op: Cow<'static, str>,
    #[serde(flatten)]
    pub kind: FindingKind,
    pub host: String,
    pub model: String,
    pub detail: String,
    /// The host's notes on the step (error_log lines).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum Status {
    Pass,
    Divergence,
    Violation,
    Skipped(String),
}

/// A scenario's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    pub scenario: String,
    #[serde(flatten)]
    pub status: Status,
    pub steps: usize,
    pub skipped_steps: usize,
    pub findings: Vec<Finding>,
    /// What the reader should know: stand-ins used, cleanup trouble.
    pub notes: Vec<String>,
    pub lifetimes: LifetimeCheck,
    /// The known kernel bugs whose trigger the scenario runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cves: Vec<String>,
}

impl Verdict {
    pub fn skipped(scenario: &str, why: String) -> Self {
        Verdict {
            scenario: scenario.into(),
            status: Status::Skipped(why),
            steps: 0,
            skipped_steps: 0,
            findings: Vec::new(),
            notes: Vec::new(),
            lifetimes: LifetimeCheck::NotMade("scenario skipped".into()),
            cves: Vec::new(),
        }
    }
}

/// Compares and checks one scenario's transcripts under `policy`; the lifetimes in `scope`
/// too, unless `lifetimes` says why they cannot be.
pub fn verdict(
    host: &Transcript,
    model: &Transcript,
    policy: Policy,
    lifetimes: std::result::Result<&lifetime::Scope, String>,
) -> Verdict {
    let mut findings = compare(host, model);
    findings.extend(merge_sides(
        invariants(host, policy),
        on_model_side(invariants(model, policy)),
    ));
    let lifetimes = match lifetimes {
        Ok(scope) => {
            findings.extend(lifetime::compare(host, model, scope));
            findings.extend(merge_sides(
                lifetime::invariants(host, scope, policy),
                on_model_side(lifetime::invariants(model, scope, policy)),
            ));
            LifetimeCheck::Made {
                host: lifetime::count(host, scope.prefix),
                model: lifetime::count(model, scope.prefix),
            }
        }
        Err(why) => LifetimeCheck::NotMade(why),
    };
    findings.sort_by_key(|f| f.step);
    let skipped_steps = host
        .steps
        .iter()
        .filter(|s| matches!(s.outcome, crate::interface::Outcome::Skipped(_)))
        .count();
    let status = if host.steps.is_empty() || skipped_steps == host.steps.len() {
        let why = host.steps.iter().find_map(|s| match &s.outcome {
            crate::interface::Outcome::Skipped(w) => Some(w.clone()),
            _ => None,
        });
        Status::Skipped(why.unwrap_or_else(|| "no step ran".into()))
    } else if findings.iter().any(|f| {
        matches!(
            f.kind,
            FindingKind::Divergence | FindingKind::LifetimeDivergence
        )
    }) {
        Status::Divergence
    } else if findings.is_empty() {
        Status::Pass
    } else {
        Status::Violation
    };
    Verdict {
        scenario: host.scenario.clone(),
        status,
        steps: host.steps.len(),
        skipped_steps,
        findings,
        notes: Vec::new(),
        lifetimes,
        cves: Vec::new(),
    }
}

/// Findings of the model's transcript: the outcome belongs in `model`, the side is the model.
fn on_model_side(findings: Vec<Finding>) -> Vec<Finding> {
    findings
        .into_iter()
        .map(|mut f| {
            f.model = std::mem::take(&mut f.host);
            if let FindingKind::Violation { side, .. } = &mut f.kind {
                *side = Side::Model;
            }
            f
        })
        .collect()
}

/// One finding per invariant and step: seen on both sides, it is a kernel finding the model
/// agrees with.
fn merge_sides(host: Vec<Finding>, model: Vec<Finding>) -> Vec<Finding> {
    let key = |f: &Finding| match f.kind {
        FindingKind::Violation { ref invariant, .. } => Some((f.step, invariant.clone())),
        FindingKind::Divergence | FindingKind::LifetimeDivergence => None,
    };
    let mut out = Vec::new();
    let mut model = model;
    for mut h in host {
        if let Some(i) = model.iter().position(|m| key(m) == key(&h)) {
            let m = model.remove(i);
            if let FindingKind::Violation { side, .. } = &mut h.kind {
                *side = Side::Both;
            }
            h.model = m.model;
        }
        out.push(h);
    }
    out.extend(model);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(step: usize, invariant: &'static str, outcome: &str) -> Finding {
        Finding {
            step,
            line: 0,
            action: String::new(),
            op: "stat".into(),
            kind: FindingKind::Violation {
                invariant: invariant.into(),
                side: Side::Host,
            },
            host: outcome.into(),
            model: String::new(),
            detail: String::new(),
            notes: Vec::new(),
        }
    }

    fn side(f: &Finding) -> Side {
        match f.kind {
            FindingKind::Violation { side, .. } => side,
            _ => panic!("not a violation"),
        }
    }

    #[test]
    fn each_violation_is_attributed_to_the_side_that_showed_it() {
        let host = vec![violation(1, "a", "h1"), violation(2, "b", "h2")];
        let model = on_model_side(vec![violation(2, "b", "m2"), violation(3, "c", "m3")]);
        let merged = merge_sides(host, model);
        let by_step = |n| merged.iter().find(|f| f.step == n).unwrap();
        assert_eq!(
            (
                side(by_step(1)),
                by_step(1).host.as_str(),
                by_step(1).model.as_str()
            ),
            (Side::Host, "h1", "")
        );
        assert_eq!(
            (
                side(by_step(2)),
                by_step(2).host.as_str(),
                by_step(2).model.as_str()
            ),
            (Side::Both, "h2", "m2")
        );
        assert_eq!(
            (
                side(by_step(3)),
                by_step(3).host.as_str(),
                by_step(3).model.as_str()
            ),
            (Side::Model, "", "m3")
        );
        assert_eq!(merged.len(), 3);
    }
}
