//! A finding's signature: what it is, without when or where it showed (no step numbers,
//! names, pids or inode numbers). Shrinking keeps it, and findings are told apart by it.

use std::fmt;

use serde::Serialize;

use super::{Finding, FindingKind, Side};
use crate::scenario::Transcript;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Signature {
    /// `divergence`, `violation` or `lifetime_divergence`.
    pub kind: &'static str,
    /// The invariant, for a violation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invariant: Option<&'static str>,
    /// Where a violation showed: the kernel alone, the model alone, or both.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<Side>,
    /// The op of the step it showed at.
    pub op: &'static str,
}

impl Signature {
    /// The signature of `f`, found in transcript `t` (either side's: both have the same steps).
    pub fn of(f: &Finding, t: &Transcript) -> Self {
        let op = t
            .steps
            .iter()
            .find(|s| s.index == f.step)
            .map_or("?", |s| s.action.op());
        let (kind, invariant, side) = match f.kind {
            FindingKind::Divergence => ("divergence", None, None),
            FindingKind::LifetimeDivergence => ("lifetime_divergence", None, None),
            FindingKind::Violation { invariant, side } => {
                ("violation", Some(invariant), Some(side))
            }
        };
        Signature {
            kind,
            invariant,
            side,
            op,
        }
    }

    /// A name for files: `violation-readdir-seek-resumes-after-entry-both-getdents`.
    pub fn slug(&self) -> String {
        let side = self.side.map(|s| match s {
            Side::Host => "host",
            Side::Model => "model",
            Side::Both => "both",
        });
        [Some(self.kind), self.invariant, side, Some(self.op)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("-")
            .replace('_', "-")
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kind.replace('_', " "))?;
        if let Some(i) = self.invariant {
            write!(f, " of {i}")?;
        }
        if let Some(s) = self.side {
            write!(f, " ({})", format!("{s:?}").to_lowercase())?;
        }
        write!(f, " at {}", self.op)
    }
}
