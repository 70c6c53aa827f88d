//! Host against model, step by step. Inode numbers and event ids (the `id` files) cannot match
//! across the two (each draws its own), so they are compared as identities: a host number must
//! always pair with the same model number and back.

use std::collections::HashMap;

use super::{Finding, FindingKind};
use crate::{
    interface::{Action, Outcome, Value},
    scenario::Transcript,
};

/// Numbers each side draws for itself, paired one to one.
#[derive(Default, Clone)]
struct Pairs {
    host_to_model: HashMap<u64, u64>,
    model_to_host: HashMap<u64, u64>,
}

impl Pairs {
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
fn differ(h: &Value, m: &Value, inos: &mut Pairs) -> Option<String> {
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
            let names = |v: &[crate::interface::Dirent]| {
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

/// Whether `path` names an event's `id` file, whose content is the event's type number.
pub(crate) fn is_id_file(path: &str) -> bool {
    let comps: Vec<&str> = crate::interface::path::components(path).collect();
    comps.last() == Some(&"id") && (comps.contains(&"events") || path.starts_with('.'))
}

/// An `id` file read on both sides: the numbers as identities. A partial read (a few bytes of
/// the number) cannot be paired, so only its success is compared.
fn differ_ids(h: &Value, m: &Value, ids: &mut Pairs) -> Option<String> {
    let number = |v: &Value| match v {
        Value::Data { text: Some(t) } => t.trim_end().parse::<u64>().ok(),
        _ => None,
    };
    let (Some(a), Some(b)) = (number(h), number(m)) else {
        return None;
    };
    (!ids.pair(a, b)).then(|| format!("event id identity differs (host {a} ~ model {b})"))
}

/// Why the host's outcome is not the model's, or not one the model allows; the pairings are
/// kept only for an answer that agrees.
fn agree(
    h: &Outcome,
    m: &Outcome,
    id_read: bool,
    inos: &mut Pairs,
    ids: &mut Pairs,
) -> Option<String> {
    match (h, m) {
        (Outcome::Skipped(_), _) | (_, Outcome::Skipped(_)) => None,
        // The model against itself (`explore --model-only`).
        (Outcome::OneOf(a), Outcome::OneOf(b)) => (a != b).then(|| "allowed sets differ".into()),
        (_, Outcome::OneOf(allowed)) => {
            for a in allowed {
                let (mut i, mut d) = (inos.clone(), ids.clone());
                if agree(h, a, id_read, &mut i, &mut d).is_none() {
                    (*inos, *ids) = (i, d);
                    return None;
                }
            }
            Some("not one of the answers the model allows".into())
        }
        (Outcome::Ok(a), Outcome::Ok(b)) if id_read => differ_ids(a, b, ids),
        (Outcome::Ok(a), Outcome::Ok(b)) => differ(a, b, inos),
        (Outcome::Err(a), Outcome::Err(b)) => (a != b).then(|| "different errno".into()),
        _ => Some("one succeeded, the other failed".into()),
    }
}

/// Whether one host outcome is one the model allows, with no identities carried over: under
/// concurrency the order the numbers were drawn in is not known, so only the rest is compared.
pub fn agrees_alone(h: &Outcome, m: &Outcome, id_read: bool) -> Option<String> {
    agree(h, m, id_read, &mut Pairs::default(), &mut Pairs::default())
}

pub fn compare(host: &Transcript, model: &Transcript) -> Vec<Finding> {
    let mut inos = Pairs::default();
    let mut ids = Pairs::default();
    // What each open handle names, to know an `id` file when one is read.
    let mut handles: HashMap<&str, String> = HashMap::new();
    let mut out = Vec::new();
    for (h, m) in host.steps.iter().zip(&model.steps) {
        let id_read = match &h.action {
            Action::Read { handle, .. } => {
                handles.get(handle.as_str()).is_some_and(|p| is_id_file(p))
            }
            Action::ReadFile { path } => is_id_file(path),
            _ => false,
        };
        if h.outcome.is_ok() {
            match &h.action {
                Action::Open { path, handle, .. } => {
                    handles.insert(handle, path.clone());
                }
                Action::OpenAt {
                    dir,
                    path,
                    as_handle,
                } => {
                    let at = handles.get(dir.as_str()).cloned().unwrap_or_default();
                    handles.insert(as_handle, format!("{at}/{path}"));
                }
                _ => {}
            }
        }
        let detail = agree(&h.outcome, &m.outcome, id_read, &mut inos, &mut ids);
        if let Some(detail) = detail {
            out.push(Finding {
                step: h.index,
                line: h.line,
                action: h.action.summary(),
                op: h.action.op().into(),
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
