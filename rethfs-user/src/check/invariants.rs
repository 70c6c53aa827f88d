//! Invariants that hold on any correct tracefs, applied to one side's transcript. A break on
//! both sides at the same step is a kernel finding the model agrees with.

use std::collections::{BTreeSet, HashMap};

use super::{Finding, FindingKind, Side};
use crate::{
    model::{EVENTFS_FILE_INODE_INO, Policy},
    scenario::{StepResult, Transcript},
    target::{Action, Dirent, FileKind, Outcome, Value},
};

/// The probe events a transcript created and removed, as the outcomes say.
#[derive(Default)]
struct Events {
    made: BTreeSet<(String, String)>,
    live: BTreeSet<(String, String)>,
}

impl Events {
    /// Follows a successful control-file write.
    fn apply(&mut self, line: &str) {
        let spec = line.split_whitespace().next().unwrap_or_default();
        let Some(name) = spec.split_once(':').map(|(_, n)| n) else {
            return;
        };
        let (group, event) = name.split_once('/').unwrap_or(("", name));
        if spec.starts_with('-') {
            self.live
                .retain(|(g, e)| !(g == group && (event.is_empty() || e == event)));
        } else if !group.is_empty() && !event.is_empty() {
            self.made.insert((group.into(), event.into()));
            self.live.insert((group.into(), event.into()));
        }
    }

    /// For a path into a group or event this transcript made: whether it exists now.
    fn exists(&self, path: &str) -> Option<bool> {
        let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let i = comps.iter().position(|c| *c == "events")?;
        let group = *comps.get(i + 1)?;
        if !self.made.iter().any(|(g, _)| g == group) {
            return None;
        }
        let event = comps
            .get(i + 2)
            .map(|e| (group.to_owned(), (*e).to_owned()));
        Some(match event {
            // An event this transcript made.
            Some(key) if self.made.contains(&key) => self.live.contains(&key),
            // The group itself, or one of its files (`enable`, `filter`).
            _ => self.live.iter().any(|(g, _)| g == group),
        })
    }
}

fn path_of(a: &Action) -> Option<&str> {
    match a {
        Action::Stat { path }
        | Action::Open { path, .. }
        | Action::List { path }
        | Action::ReadFile { path }
        | Action::WriteFile { path, .. }
        | Action::Chmod { path, .. }
        | Action::Chown { path, .. }
        | Action::Chdir { path } => Some(path),
        _ => None,
    }
}

fn in_eventfs(path: &str) -> bool {
    path.starts_with("events") || path.contains("/events")
}

struct Checker<'a> {
    policy: Policy,
    out: Vec<Finding>,
    step: Option<&'a StepResult>,
}

impl<'a> Checker<'a> {
    fn violation(&mut self, invariant: &'static str, detail: String) {
        let s = self.step.expect("inside a step");
        self.out.push(Finding {
            step: s.index,
            line: s.line,
            action: s.action.summary(),
            kind: FindingKind::Violation {
                invariant,
                side: Side::Host,
            },
            host: s.outcome.to_string(),
            model: String::new(),
            detail,
            notes: s.notes.clone(),
        });
    }
}

/// Checks `t`; findings carry the outcome in `host` and are re-attributed by the caller when
/// `t` is the model's.
pub fn check(t: &Transcript, policy: Policy) -> Vec<Finding> {
    let mut c = Checker {
        policy,
        out: Vec::new(),
        step: None,
    };
    let mut events = Events::default();
    // Directory inode numbers seen by stat, per path, while the path's event lives.
    let mut dir_ino: HashMap<String, u64> = HashMap::new();
    let mut handle_path: HashMap<String, String> = HashMap::new();
    // Per directory handle: the entries of the current pass, and a pending seek position.
    let mut listing: HashMap<String, Vec<Dirent>> = HashMap::new();
    let mut seeked: HashMap<String, i64> = HashMap::new();
    for s in &t.steps {
        c.step = Some(s);
        let Outcome::Ok(value) = &s.outcome else {
            continue;
        };
        if let Action::Control { line, .. } = &s.action {
            events.apply(line);
            dir_ino.retain(|p, _| events.exists(p) != Some(false));
            listing.clear();
            continue;
        }
        // No successful lookup of a removed event's path.
        if let Some(path) = path_of(&s.action)
            && !path.starts_with('.')
            && events.exists(path) == Some(false)
        {
            c.violation(
                "no-access-after-removal",
                format!("{path} was removed, yet this succeeded"),
            );
        }
        match (&s.action, value) {
            (Action::Open { path, handle, .. }, _) => {
                handle_path.insert(handle.clone(), path.clone());
                listing.remove(handle);
            }
            (Action::Stat { path }, Value::Stat(st)) if in_eventfs(path) => {
                if st.kind == FileKind::File
                    && c.policy.shared_file_ino()
                    && st.ino != EVENTFS_FILE_INODE_INO
                {
                    c.violation(
                        "files-share-one-ino",
                        format!("{path} has ino {}, not {EVENTFS_FILE_INODE_INO}", st.ino),
                    );
                }
                if st.kind == FileKind::Dir && c.policy.shared_file_ino() {
                    let clash = dir_ino
                        .iter()
                        .find(|(p, i)| **i == st.ino && *p != path)
                        .map(|(p, _)| p.clone());
                    if let Some(other) = clash {
                        c.violation(
                            "dir-ino-unique",
                            format!("{path} and {other} share ino {}", st.ino),
                        );
                    }
                    if let Some(old) = dir_ino.insert(path.clone(), st.ino)
                        && old != st.ino
                    {
                        c.violation(
                            "dir-ino-stable",
                            format!("{path} changed ino {old} -> {} while it lived", st.ino),
                        );
                    }
                }
            }
            (Action::Seek { handle, pos }, _) => {
                if *pos == 0 {
                    listing.remove(handle);
                } else {
                    seeked.insert(handle.clone(), *pos);
                }
            }
            (Action::Getdents { handle, .. }, Value::Dirents { entries }) => {
                let seen = listing.entry(handle.clone()).or_default();
                if let Some(pos) = seeked.remove(handle) {
                    // A d_off is where reading resumes after that entry.
                    if let Some(k) = seen.iter().position(|d| d.off == pos) {
                        let expected = seen.get(k + 1).map(|d| d.name.clone());
                        let got = entries.first().map(|d| d.name.clone());
                        if expected != got {
                            let name =
                                |n: &Option<String>| n.clone().unwrap_or_else(|| "the end".into());
                            let detail = format!(
                                "seekdir to {pos}, the d_off of `{}`, resumed at {} instead of {}",
                                seen[k].name,
                                name(&got),
                                name(&expected)
                            );
                            c.violation("readdir-seek-resumes-after-entry", detail);
                        }
                    }
                } else {
                    seen.extend(entries.iter().cloned());
                }
                // getdents d_ino equals stat st_ino for directories stat'ed while live.
                if let Some(dir) = handle_path.get(handle) {
                    for d in entries
                        .iter()
                        .filter(|d| d.kind == FileKind::Dir && d.name != "." && d.name != "..")
                    {
                        let p = format!("{dir}/{}", d.name);
                        if let Some(&ino) = dir_ino.get(&p)
                            && ino != d.ino
                        {
                            c.violation(
                                "dino-equals-stino",
                                format!("{p}: d_ino {} but st_ino {ino}", d.ino),
                            );
                        }
                    }
                }
            }
            _ => {}
        }
    }
    c.out
}
