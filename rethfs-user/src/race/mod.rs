//! Concurrent scenarios: their threads run on the host at once ([`run`]), the history they
//! make is judged for linearizability against the model ([`linearize`], per independent set
//! of calls from [`partition`], a failure cut down by [`minimal`]), and the kernel log is read
//! for what says the kernel itself failed.

pub mod history;
pub mod linearize;
mod minimal;
mod partition;
pub mod run;
pub mod simulate;

use history::{Call, History};
use linearize::Linearizable;

use crate::{
    check::{Finding, FindingKind, Side},
    host::kmsg::KernelSaid,
    interface::Outcome,
    model::Model,
};

/// What the search of one set of calls may spend before its answer is "unknown".
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub nodes: u64,
    /// Wall time, as a node's cost varies a hundredfold between a host and an emulated VM.
    pub time: std::time::Duration,
}

pub const BUDGET: Budget = Budget {
    nodes: 20_000_000,
    time: std::time::Duration::from_secs(30),
};

/// A history's judgement.
pub struct Judged {
    pub findings: Vec<Finding>,
    pub notes: Vec<String>,
    /// The smallest failing sub-history found, and which of its calls the order could not
    /// place, for the history view.
    pub offending: Option<(History, Vec<usize>)>,
    /// Sets of calls the search gave up on.
    pub undecided: usize,
}

/// `[+t0..+t1 µs] thread: action -> outcome`, times from `origin`.
fn describe(c: &Call, threads: &[String], origin: u64) -> String {
    let us = |t: u64| (t.saturating_sub(origin)) as f64 / 1e3;
    let ret = c
        .return_ns
        .map_or("never".to_owned(), |r| format!("+{:.1}", us(r)));
    let out = c
        .outcome
        .as_ref()
        .map_or("(did not return)".to_owned(), Outcome::to_string);
    format!(
        "[+{:.1}..{ret} µs] {}: {} -> {out}",
        us(c.call_ns),
        threads[c.thread],
        c.action.summary()
    )
}

/// Calls of a sub-history a finding lists; a longer one (no smaller was found in time) is
/// shown around its culprit, and the history view draws it whole.
const SHOWN_CALLS: usize = 64;

/// The calls of `sub` (`keep`'s, in order), one a line: all of them, or the [`SHOWN_CALLS`]
/// nearest the culprit and how many were left out.
fn shown(sub: &[Call], keep: &[usize], culprit: usize, threads: &[String], origin: u64) -> String {
    let at = keep.iter().position(|&i| i == culprit).unwrap_or(0);
    let from = at
        .saturating_sub(SHOWN_CALLS / 2)
        .min(sub.len().saturating_sub(SHOWN_CALLS));
    let to = (from + SHOWN_CALLS).min(sub.len());
    let mut lines: Vec<String> = sub[from..to]
        .iter()
        .map(|c| describe(c, threads, origin))
        .collect();
    if from > 0 {
        lines.insert(0, format!("({from} earlier calls not shown)"));
    }
    if to < sub.len() {
        lines.push(format!("({} later calls not shown)", sub.len() - to));
    }
    lines.join("\n")
}

/// Judges `history` from the state the setup left, which `model_for` makes for the event
/// groups a set of calls touches (`None`: all of them): every set of calls that touch each
/// other must be linearizable.
pub fn judge(
    history: &History,
    model_for: &dyn Fn(Option<&[String]>) -> Model,
    budget: Budget,
) -> Judged {
    let mut notes = Vec::new();
    // A call that never returned may have taken effect or not; one the host refused did not
    // happen. Neither is judged.
    let pending = history.calls.iter().filter(|c| c.outcome.is_none()).count();
    if pending > 0 {
        notes.push(format!(
            "{pending} call(s) never returned (their threads killed or hung): judged without them"
        ));
    }
    let judged = history.subset(|i| {
        matches!(
            history.calls[i].outcome,
            Some(Outcome::Ok(_) | Outcome::Err(_) | Outcome::OneOf(_))
        )
    });
    let sets = partition::partition(&judged.calls);
    let mut out = Judged {
        findings: Vec::new(),
        notes,
        offending: None,
        undecided: 0,
    };
    let started = std::time::Instant::now();
    for part in &sets {
        let set = &part.calls;
        let model = &model_for(part.groups.as_deref());
        let calls: Vec<Call> = set.iter().map(|&i| judged.calls[i].clone()).collect();
        match linearize::on_big_stack(&calls, model, budget) {
            Linearizable::Yes => {}
            Linearizable::Unknown { nodes } => {
                out.undecided += 1;
                out.notes.push(format!(
                    "{} calls not decided: the search gave up after {nodes} nodes (budget {} \
                     nodes or {} s)",
                    calls.len(),
                    budget.nodes,
                    budget.time.as_secs()
                ));
            }
            Linearizable::No { culprit } => {
                let keep = minimal::minimal(&calls, model, culprit, budget);
                let sub: Vec<Call> = keep.iter().map(|&i| calls[i].clone()).collect();
                let origin = sub.first().map_or(0, |c| c.call_ns);
                let c = &calls[culprit];
                out.findings.push(Finding {
                    step: set[culprit] + 1,
                    line: c.line,
                    action: format!("{}: {}", judged.threads[c.thread], c.action.summary()),
                    op: c.action.op().into(),
                    kind: FindingKind::Violation {
                        invariant: "linearizable".into(),
                        side: Side::Host,
                    },
                    host: c
                        .outcome
                        .as_ref()
                        .map(Outcome::to_string)
                        .unwrap_or_default(),
                    model: format!(
                        "no order of these {} calls, consistent with their times, gives every \
                         result",
                        sub.len()
                    ),
                    detail: shown(&sub, &keep, culprit, &judged.threads, origin),
                    notes: Vec::new(),
                });
                if out.offending.is_none() {
                    let marked = vec![keep.iter().position(|&i| i == culprit).unwrap_or(0)];
                    out.offending = Some((
                        History {
                            threads: judged.threads.clone(),
                            calls: sub,
                        },
                        marked,
                    ));
                }
            }
        }
    }
    out.notes.push(format!(
        "linearizability: {} set(s) of calls checked in {:.2} s",
        sets.len(),
        started.elapsed().as_secs_f64()
    ));
    out
}

/// Each call that never returned, and how far the other threads had got when it began (for
/// a race, the cycles its trigger took).
fn pending(history: &History) -> Vec<String> {
    let origin = history.calls.first().map_or(0, |c| c.call_ns);
    history
        .calls
        .iter()
        .filter(|c| c.outcome.is_none())
        .map(|c| {
            let before: Vec<String> = (0..history.threads.len())
                .filter(|&t| t != c.thread)
                .map(|t| {
                    let n = history
                        .calls
                        .iter()
                        .filter(|o| o.thread == t && o.return_ns.is_some_and(|r| r < c.call_ns))
                        .count();
                    format!("{} {n}", history.threads[t])
                })
                .collect();
            format!(
                "never returned: {}; calls the other threads had finished when it began: {}",
                describe(c, &history.threads, origin),
                before.join(", ")
            )
        })
        .collect()
}

/// The `kernel-survives` violation, when the kernel logged a failure or a thread was killed
/// or hung inside it during the threads' run.
pub fn kernel_survives(
    said: &KernelSaid,
    stuck: &[run::Stuck],
    history: &History,
    steps: usize,
) -> Option<Finding> {
    if said.lines.is_empty() && stuck.is_empty() {
        return None;
    }
    let threads: Vec<String> = stuck
        .iter()
        .map(|s| format!("{} {}", s.thread, s.how))
        .collect();
    Some(Finding {
        step: steps,
        line: 0,
        action: "the threads' run".into(),
        op: "race".into(),
        kind: FindingKind::Violation {
            invariant: "kernel-survives".into(),
            side: Side::Host,
        },
        host: match (said.functions.first(), threads.is_empty()) {
            (Some(f), true) => format!("the kernel failed in {f}"),
            (Some(f), false) => format!("the kernel failed in {f}; {}", threads.join(", ")),
            (None, false) => threads.join(", "),
            (None, true) => "the kernel logged a failure".into(),
        },
        model: "the kernel survives".into(),
        detail: said.lines.join("\n"),
        notes: pending(history),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interface::Action;

    #[test]
    fn a_long_sub_history_is_shown_around_its_culprit() {
        let calls: Vec<Call> = (0..100)
            .map(|t| Call {
                thread: 0,
                action: Action::Stat {
                    path: format!("events/{t}"),
                },
                line: 0,
                call_ns: t * 1000,
                return_ns: Some(t * 1000 + 10),
                outcome: Some(Outcome::Err(crate::interface::Errno::ENOENT)),
            })
            .collect();
        let keep: Vec<usize> = (0..100).collect();
        let threads = ["r".to_owned()];
        let late = shown(&calls, &keep, 90, &threads, 0);
        let lines: Vec<&str> = late.lines().collect();
        assert_eq!(lines.len(), SHOWN_CALLS + 1);
        assert_eq!(lines[0], "(36 earlier calls not shown)");
        assert!(lines.iter().any(|l| l.contains("events/90 ")));
        let early = shown(&calls, &keep, 3, &threads, 0);
        assert!(early.ends_with("(36 later calls not shown)"));
        assert!(early.starts_with("[+0.0..+0.0 µs] r: stat events/0 "));
        let few = shown(&calls[..5], &keep[..5], 2, &threads, 0);
        assert_eq!(few.lines().count(), 5);
    }
}
