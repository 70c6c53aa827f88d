//! A finding's signature: what it is, without when or where it showed (no step numbers,
//! names, pids or inode numbers). Shrinking keeps it, findings are told apart by it, and a
//! baseline knows a finding by it and the scenario's name.

use std::{borrow::Cow, fmt};

use serde::{Deserialize, Serialize};

use super::{Finding, FindingKind, Side};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Signature {
    /// `divergence`, `violation` or `lifetime_divergence`.
    pub kind: Cow<'static, str>,
    /// The invariant, for a violation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invariant: Option<Cow<'static, str>>,
    /// Where a violation showed: the kernel alone, the model alone, or both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<Side>,
    /// The op of the step it showed at.
    pub op: Cow<'static, str>,
}

impl Signature {
    pub fn of(f: &Finding) -> Self {
        let (kind, invariant, side) = match &f.kind {
            FindingKind::Divergence => ("divergence", None, None),
            FindingKind::LifetimeDivergence => ("lifetime_divergence", None, None),
            FindingKind::Violation { invariant, side } => {
                ("violation", Some(invariant.clone()), Some(*side))
            }
        };
        Signature {
            kind: kind.into(),
            invariant,
            side,
            op: f.op.clone(),
        }
    }

    /// A name for files: `violation-readdir-seek-resumes-after-entry-both-getdents`.
    pub fn slug(&self) -> String {
        let side = self.side.map(|s| match s {
            Side::Host => "host",
            Side::Model => "model",
            Side::Both => "both",
        });
        [
            Some(&*self.kind),
            self.invariant.as_deref(),
            side,
            Some(&*self.op),
        ]
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
        if let Some(i) = &self.invariant {
            write!(f, " of {i}")?;
        }
        if let Some(s) = self.side {
            write!(f, " ({})", format!("{s:?}").to_lowercase())?;
        }
        write!(f, " at {}", self.op)
    }
}
