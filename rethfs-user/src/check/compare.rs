//! Host against model, step by step. Inode numbers cannot match across the two (each draws
//! its own), so they are compared as identities: a host number must always pair with the same
//! model number and back.

use std::collections::HashMap;

use super::{Finding, FindingKind};
use crate::{
    scenario::Transcript,
    target::{Outcome, Value},
};

#[derive(Default)]
struct InoPairs {
    host_to_model: HashMap<u64, u64>,
    model_to_host: HashMap<u64, u64>,
}

impl InoPairs {
    /// Whether `h` and `m` can name the same inode, given every pairing seen so far.
    fn pair(&mut self, h: u64, m: u64) -> bool {
        match (self.host_to_model.get(&h), self.model_to_host.get(&m)) {
            (Some(&x), _) => x == m,
            (None, Some(_)) => false,
            (None, None) => {
                self.host_to_model.insert(h, m);
                self.model_to_host.insert(m, h);
                true
            }
        }
    }
}

/// Why two successful results differ, or `None` when they agree.
fn differ(h: &Value, m: &Value, inos: &mut InoPairs) -> Option<String> {
    match (h, m) {
        (Value::Stat(a), Value::Stat(b)) => {
            let fields =
                (a.kind, a.perm, a.nlink, a.uid, a.gid) != (b.kind, b.perm, b.nlink, b.uid, b.gid);
            if fields {
                return Some("stat fields differ".into());
            }
            (!inos.pair(a.ino, b.ino))
                .then(|| format!("inode identity differs (host {} ~ model {})", a.ino, b.ino))
        }
        (Value::Dirents { entries: a }, Value::Dirents { entries: b }) => {
            let names = |v: &[crate::target::Dirent]| {
                v.iter()
                    .map(|d| (d.name.clone(), d.kind, d.off))
                    .collect::<Vec<_>>()
            };
            if names(a) != names(b) {
                return Some("entries, types or d_off differ".into());
            }
            a.iter()
                .zip(b)
                .find(|(x, y)| !inos.pair(x.ino, y.ino))
                .map(|(x, _)| format!("d_ino identity of {} differs", x.name))
        }
        (Value::Data { text: Some(a) }, Value::Data { text: Some(b) }) => {
            (a != b).then(|| "content differs".into())
        }
        // The model does not model this file's content: only success is compared.
        (Value::Data { .. }, Value::Data { .. }) => None,
        (a, b) => (a != b).then(|| "results differ".into()),
    }
}

pub fn compare(host: &Transcript, model: &Transcript) -> Vec<Finding> {
    let mut inos = InoPairs::default();
    let mut out = Vec::new();
    for (h, m) in host.steps.iter().zip(&model.steps) {
        let detail = match (&h.outcome, &m.outcome) {
            (Outcome::Skipped(_), _) | (_, Outcome::Skipped(_)) => None,
            (Outcome::Ok(a), Outcome::Ok(b)) => differ(a, b, &mut inos),
            (Outcome::Err(a), Outcome::Err(b)) => (a != b).then(|| "different errno".into()),
            _ => Some("one succeeded, the other failed".into()),
        };
        if let Some(detail) = detail {
            out.push(Finding {
                step: h.index,
                line: h.line,
                action: h.action.summary(),
                kind: FindingKind::Divergence,
                host: h.outcome.to_string(),
                model: m.outcome.to_string(),
                detail,
                notes: h.notes.clone(),
            });
        }
    }
    out
}
