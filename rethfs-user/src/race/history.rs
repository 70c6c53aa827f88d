//! A concurrent history: every call each thread made, with its CLOCK_MONOTONIC times of call
//! and return and what it returned, as the linearizability check reads it.

use serde::Serialize;

use crate::interface::{Action, Outcome};

/// One system call (or `list`/`read-file` sequence) of one thread.
#[derive(Debug, Clone, Serialize)]
pub struct Call {
    /// Index into [`History::threads`].
    pub thread: usize,
    /// The action, its handles scoped by thread (`reader.h`), as the model runs it.
    pub action: Action,
    /// Line of the step in the scenario file.
    pub line: usize,
    /// CLOCK_MONOTONIC, nanoseconds.
    pub call_ns: u64,
    /// `None`: the call never returned (its thread was killed in the kernel, or hangs).
    pub return_ns: Option<u64>,
    /// `None` while the call has not returned.
    pub outcome: Option<Outcome>,
}

impl Call {
    /// When the call returned, or never: a pending call may take effect at any later time.
    pub fn ret(&self) -> u64 {
        self.return_ns.unwrap_or(u64::MAX)
    }
}

/// Every thread's calls, ordered by call time.
#[derive(Debug, Clone, Default, Serialize)]
pub struct History {
    pub threads: Vec<String>,
    pub calls: Vec<Call>,
}

impl History {
    /// A history of `threads`' `calls`, put in call-time order.
    pub fn new(threads: Vec<String>, mut calls: Vec<Call>) -> Self {
        calls.sort_by_key(|c| (c.call_ns, c.thread));
        History { threads, calls }
    }

    /// The history made of the calls `keep` selects, in the same order.
    pub fn subset(&self, keep: impl Fn(usize) -> bool) -> History {
        History {
            threads: self.threads.clone(),
            calls: (0..self.calls.len())
                .filter(|&i| keep(i))
                .map(|i| self.calls[i].clone())
                .collect(),
        }
    }

    /// The `most` calls around the first call that never returned (half of them begun
    /// before it), and the indices of the pending ones among them.
    pub fn around_pending(&self, most: usize) -> Option<(History, Vec<usize>)> {
        let first_pending = self.calls.iter().position(|c| c.outcome.is_none())?;
        let from = (first_pending + 1).saturating_sub(most / 2);
        let upto = (first_pending + most / 2).min(self.calls.len());
        let sub = self.subset(|i| (from..upto).contains(&i));
        let marked = (0..sub.calls.len())
            .filter(|&i| sub.calls[i].outcome.is_none())
            .collect();
        Some((sub, marked))
    }

    /// Seconds from the first call to the last return.
    pub fn span_s(&self) -> f64 {
        let first = self.calls.first().map_or(0, |c| c.call_ns);
        let last = self
            .calls
            .iter()
            .filter_map(|c| c.return_ns)
            .max()
            .unwrap_or(first);
        (last.saturating_sub(first)) as f64 / 1e9
    }

    /// Calls per second of each thread and of all, for the verdict's notes.
    pub fn rates(&self) -> String {
        let span = self.span_s().max(1e-9);
        let per: Vec<String> = self
            .threads
            .iter()
            .enumerate()
            .map(|(t, name)| {
                let n = self.calls.iter().filter(|c| c.thread == t).count();
                format!("{name} {:.0}/s", n as f64 / span)
            })
            .collect();
        format!(
            "{} calls in {span:.2} s ({:.0}/s: {})",
            self.calls.len(),
            self.calls.len() as f64 / span,
            per.join(", ")
        )
    }
}

/// CLOCK_MONOTONIC now, in nanoseconds.
pub fn now_ns() -> u64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .expect("CLOCK_MONOTONIC is always readable");
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}
