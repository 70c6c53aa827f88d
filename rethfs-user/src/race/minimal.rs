//! The smallest sub-history found that still fails for the same reason: first the steps and
//! the culprit alone (the call no order could place; readers are most of a race's calls and
//! rarely part of its failure), else the calls around the culprit, from as late a start as
//! still fails; then the readers' calls in it dropped (steps stay: dropping one would change
//! every state after it) while three things hold:
//!
//! - the calls kept are not linearizable;
//! - without the culprit they are: the failure is the culprit's;
//! - when it is so for the steps and the culprit, the culprit's result is possible at some
//!   time, given the calls kept (its window widened to all of theirs makes them
//!   linearizable): a cut that merely drops what made the result possible (the removal behind
//!   an ENOENT, the making behind a stat that found the event) does not count.
//!
//! A sub-history is an explanation, not the proof: the proof is the whole history failing.

use std::time::Instant;

use super::{
    history::Call,
    linearize::{self, Linearizable},
};
use crate::model::Model;

struct Shrink<'a> {
    /// When shrinking settles (as long again as the search that found the failure may
    /// take): each search gets what is left.
    deadline: Instant,
    budget: super::Budget,
    calls: &'a [Call],
    model: &'a Model,
    culprit: usize,
    /// Whether the culprit's result is possible once its window is widened.
    widened_holds: bool,
}

impl Shrink<'_> {
    fn judge(&self, keep: &[usize], widen: bool) -> Linearizable {
        let (first, last) = (
            keep.iter()
                .map(|&i| self.calls[i].call_ns)
                .min()
                .unwrap_or(0),
            keep.iter().map(|&i| self.calls[i].ret()).max().unwrap_or(0),
        );
        let mut sub: Vec<Call> = keep
            .iter()
            .map(|&i| {
                let mut c = self.calls[i].clone();
                if widen && i == self.culprit {
                    (c.call_ns, c.return_ns) = (first, Some(last));
                }
                c
            })
            .collect();
        sub.sort_by_key(|c| c.call_ns);
        let left = self.deadline.saturating_duration_since(Instant::now());
        let budget = super::Budget {
            time: left.min(self.budget.time),
            ..self.budget
        };
        linearize::on_big_stack(&sub, self.model, budget)
    }

    fn linearizable(&self, keep: &[usize], widen: bool) -> bool {
        self.judge(keep, widen) == Linearizable::Yes
    }

    /// Whether `keep` (which holds the culprit) fails for the culprit's reason.
    fn fails(&self, keep: &[usize]) -> bool {
        let without: Vec<usize> = keep
            .iter()
            .copied()
            .filter(|&i| i != self.culprit)
            .collect();
        matches!(self.judge(keep, false), Linearizable::No { .. })
            && self.linearizable(&without, false)
            && (!self.widened_holds || self.linearizable(keep, true))
    }
}

/// Indices of a small sub-history of `calls` (which fail as a whole, `culprit` being the call
/// the search could not place) that fails for the same reason; the whole history when no
/// smaller one was found in time.
pub fn minimal(calls: &[Call], model: &Model, culprit: usize, budget: super::Budget) -> Vec<usize> {
    let started = Instant::now();
    let shrink_time = budget.time;
    let all: Vec<usize> = (0..calls.len()).collect();
    let mut s = Shrink {
        deadline: started + shrink_time,
        budget,
        calls,
        model,
        culprit,
        widened_holds: false,
    };
    let end = calls
        .iter()
        .rposition(|c| c.call_ns < calls[culprit].ret())
        .unwrap_or(culprit);
    let mut keep = all.clone();
    let steps: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&i| i == culprit || linearize::is_step(&calls[i]))
        .collect();
    // Asked of the steps rather than the whole history: as quick to answer on a long history
    // as on a short one, and the same answer whenever the whole's would be yes (readers only
    // add constraints). A search of the whole that runs out of time must not let a cut drop
    // what made the culprit's result possible.
    s.widened_holds = s.linearizable(&steps, true);
    if steps.len() < keep.len() && s.fails(&steps) {
        keep = steps;
    }
    // The kept calls up to the culprit's return, from ever earlier ones: the first window
    // that fails for the culprit's reason.
    let mut back = 8;
    while started.elapsed() < shrink_time {
        let start = culprit.saturating_sub(back);
        let window: Vec<usize> = keep
            .iter()
            .copied()
            .filter(|i| (start..=end).contains(i))
            .collect();
        if window.len() < keep.len() && s.fails(&window) {
            keep = window;
            break;
        }
        if start == 0 {
            break;
        }
        back *= 2;
    }
    // Then readers' calls dropped, in halves, quarters, ... then one by one.
    let mut chunk = keep.len() / 2;
    while chunk >= 1 && started.elapsed() < shrink_time {
        let mut at = 0;
        while at < keep.len() && started.elapsed() < shrink_time {
            let end = (at + chunk).min(keep.len());
            let without: Vec<usize> = keep
                .iter()
                .enumerate()
                .filter(|&(k, &i)| {
                    !(at..end).contains(&k) || i == culprit || linearize::is_step(&calls[i])
                })
                .map(|(_, &i)| i)
                .collect();
            if without.len() < keep.len() && s.fails(&without) {
                keep = without;
            } else {
                at = end;
            }
        }
        chunk /= 2;
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        interface::{Action, ControlFile, Target},
        model::{ModelConfig, Policy},
    };

    #[test]
    fn a_stale_stat_shrinks_to_the_creation_the_removal_and_itself() {
        let exe = std::env::current_exe().unwrap().display().to_string();
        let control = |line: String| Action::Control {
            file: ControlFile::UprobeEvents,
            line,
        };
        let stat = Action::Stat {
            path: "events/g/e/enable".into(),
        };
        let mut m = Model::new(Policy::V6_17, ModelConfig::default());
        let start = m.clone();
        let mut calls = Vec::new();
        let mut at = |thread, action: Action, t: u64, m: &mut Model| {
            let outcome = Some(m.apply(&action));
            calls.push(Call {
                thread,
                action,
                line: 0,
                call_ns: t,
                return_ns: Some(t + 5),
                outcome,
            });
        };
        // Unrelated traffic around one stale answer.
        at(1, stat.clone(), 0, &mut m);
        at(0, control(format!("p:g/e {exe}:0x1000")), 10, &mut m);
        at(1, stat.clone(), 20, &mut m);
        at(2, Action::list("events"), 25, &mut m);
        at(0, control("-:g/e".into()), 30, &mut m);
        at(1, stat.clone(), 40, &mut m);
        at(1, stat.clone(), 50, &mut m);
        let found = calls[2].outcome.clone();
        calls[5].outcome = found.clone();
        let Linearizable::No { culprit } = linearize::on_big_stack(
            &calls,
            &start,
            crate::race::Budget {
                nodes: 1_000_000,
                ..crate::race::BUDGET
            },
        ) else {
            panic!("a stat after the removal found the event");
        };
        assert_eq!(culprit, 5);
        assert_eq!(
            minimal(&calls, &start, culprit, crate::race::BUDGET),
            [1, 4, 5]
        );
        // A second stale answer later: the whole history stays unlinearizable however the
        // culprit's window is widened, yet the cut must keep what made the event findable.
        calls[6].outcome = found;
        assert_eq!(
            minimal(&calls, &start, culprit, crate::race::BUDGET),
            [1, 4, 5]
        );
    }
}
