//! `[[thread]]` sections: sequences of steps that run concurrently with each other, after the
//! scenario's `[[step]]`s (its setup) have run on host and model in lockstep.
//!
//! ```toml
//! [[thread]]
//! name = "writer"
//! repeat = 500            # or duration_ms = 3000; neither: while the bounded threads run
//! [[thread.step]]
//! op = "control"
//! file = "uprobe_events"
//! line = "p:{prefix}/churn {uprobe}"
//! ```
//!
//! Each thread has handles of its own (a thread's `h` is not another's), and none may move the
//! current directory, which is the whole process's.

use std::time::Duration;

use super::Step;
use crate::interface::{Action, limits};

/// How long a thread repeats its steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Times(usize),
    For(Duration),
    /// Until every bounded thread has finished: readers beside a writer.
    WhileOthersRun,
}

#[derive(Debug, Clone)]
pub struct Thread {
    pub name: String,
    /// Line of the `[[thread]]` header, for messages.
    pub line: usize,
    pub bound: Bound,
    pub steps: Vec<Step>,
}

impl Thread {
    /// The name the model and the history give this thread's `handle`: handles are per thread
    /// on the host, but the model holds them all in one table.
    pub fn scoped(&self, handle: &str) -> String {
        format!("{}.{handle}", self.name)
    }

    /// `action` with its handles renamed by [`Thread::scoped`].
    pub fn scope_action(&self, action: &Action) -> Action {
        let mut a = action.clone();
        match &mut a {
            Action::Open { handle, .. }
            | Action::Read { handle, .. }
            | Action::Write { handle, .. }
            | Action::Close { handle }
            | Action::Fstat { handle }
            | Action::Getdents { handle, .. }
            | Action::Tell { handle }
            | Action::Seek { handle, .. }
            | Action::Fchdir { handle } => *handle = self.scoped(handle),
            Action::OpenAt { dir, as_handle, .. } => {
                *dir = self.scoped(dir);
                *as_handle = self.scoped(as_handle);
            }
            _ => {}
        }
        a
    }
}

/// What a thread may not do, or `None`: the current directory belongs to the process, so a
/// thread's `chdir` would move every other thread's relative paths.
pub fn refused_in_thread(action: &Action) -> Option<&'static str> {
    match action {
        Action::Chdir { .. } | Action::Fchdir { .. } | Action::Getcwd => {
            Some("moves or reads the current directory, which all threads share")
        }
        _ => None,
    }
}

/// The bound of a thread from its `repeat` and `duration_ms`, each held to its range.
pub fn bound(repeat: Option<i64>, duration_ms: Option<i64>) -> Result<Bound, String> {
    match (repeat, duration_ms) {
        (Some(_), Some(_)) => Err("give `repeat` or `duration_ms`, not both".into()),
        (Some(n), None) => {
            limits::REPEAT.check(n).map_err(|e| e.message)?;
            Ok(Bound::Times(n as usize))
        }
        (None, Some(ms)) => {
            limits::DURATION_MS.check(ms).map_err(|e| e.message)?;
            Ok(Bound::For(Duration::from_millis(ms as u64)))
        }
        (None, None) => Ok(Bound::WhileOthersRun),
    }
}

/// A thread name: a short identifier, as it prefixes the thread's handles in reports.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "thread `name` = {name:?} must be 1 to 32 letters, digits, `-` or `_`"
        ))
    }
}

/// A handle `steps` open and do not close, if any.
pub fn left_open(steps: &[Step]) -> Option<&str> {
    let mut open: Vec<&str> = Vec::new();
    for s in steps {
        let u = s.action.handle_use();
        open.extend(u.opens);
        if let Some(c) = u.closes {
            open.retain(|h| *h != c);
        }
    }
    open.first().copied()
}
