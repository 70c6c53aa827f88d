//! Lifetime checks: the dentry and eventfs_inode lifetimes the observer recorded in the kernel
//! against those the model predicts, and rules on lifetimes that hold on any correct kernel,
//! applied to both sides. Only objects under the run's own names are judged: the rest of
//! tracefs belongs to others, who may touch it meanwhile.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::{Finding, FindingKind, Side};
use crate::{
    scenario::{StepResult, Transcript},
    target::{Action, Lifetime, LifetimeKind, Outcome},
};

/// Whether a scenario's lifetimes were checked, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "detail")]
pub enum LifetimeCheck {
    /// Checked: how many lifetime events of the run's objects each side had.
    Made { host: usize, model: usize },
    /// Not made, and why (no observer that sees lifetimes, events lost).
    NotMade(String),
}

/// The kinds compared step by step: each is a deterministic consequence of the step on a
/// single-threaded run. Reference counting (dget/dput) and successful revalidations are left
/// out: how often a path walk takes and drops references, and in which walk mode, is the VFS's
/// business, not eventfs's.
const COMPARED: &[LifetimeKind] = &[
    LifetimeKind::DentryBorn,
    LifetimeKind::DentryLookedUp,
    LifetimeKind::RevalidateFailed,
    LifetimeKind::DentryInvalidated,
    LifetimeKind::DentryKilled,
    LifetimeKind::EiCreated,
    LifetimeKind::EiFreed,
    LifetimeKind::EiReleased,
];

/// Whether `path` names one of the run's objects (a component is exactly `prefix`).
pub fn ours(path: &str, prefix: &str) -> bool {
    path.split('/').any(|c| c == prefix)
}

/// Whether the model's lifetimes of `path` are compared: the run's eventfs objects. The model
/// does not keep dentries for the files tracefs_create_file makes (an instance's control
/// files, pinned from mkdir to rmdir); those are judged by the rules below on the kernel side.
fn compared(path: &str, prefix: &str) -> bool {
    ours(path, prefix) && path.split('/').any(|c| c == "events")
}

fn under(path: &str, root: &str) -> bool {
    path == root || path.strip_prefix(root).is_some_and(|r| r.starts_with('/'))
}

/// Per path, the compared kinds of one step, in order. Order across paths is not kept: the
/// dcache shrinks and eventfs recurses in orders no user can see.
fn sequences(step: &StepResult, prefix: &str) -> BTreeMap<String, Vec<&'static str>> {
    let mut out: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    for l in &step.lifetimes {
        if COMPARED.contains(&l.kind) && compared(&l.path, prefix) {
            let key = if l.kind.is_ei() {
                format!("ei {}", l.path)
            } else {
                l.path.clone()
            };
            out.entry(key).or_default().push(l.kind.name());
        }
    }
    out
}

fn finding(s: &StepResult, kind: FindingKind, host: String, detail: String) -> Finding {
    Finding {
        step: s.index,
        line: s.line,
        action: s.action.summary(),
        kind,
        host,
        model: String::new(),
        detail,
        notes: Vec::new(),
    }
}

/// Paths shown per finding; the JSON keeps both sides' steps for the rest.
const SHOWN: usize = 6;

fn render(seqs: &BTreeMap<String, Vec<&'static str>>, paths: &[&String]) -> String {
    let mut out: Vec<String> = paths
        .iter()
        .take(SHOWN)
        .map(|p| {
            let kinds = seqs.get(*p).map_or("nothing".to_owned(), |k| k.join(", "));
            format!("{p}: {kinds}")
        })
        .collect();
    if paths.len() > SHOWN {
        out.push(format!("and {} more", paths.len() - SHOWN));
    }
    out.join("; ")
}

/// One finding per step whose lifetimes differ between host and model.
pub fn compare(host: &Transcript, model: &Transcript, prefix: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for (h, m) in host.steps.iter().zip(&model.steps) {
        let (hs, ms) = (sequences(h, prefix), sequences(m, prefix));
        if hs == ms {
            continue;
        }
        let differing: Vec<&String> = hs
            .keys()
            .chain(ms.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter(|p| hs.get(*p) != ms.get(*p))
            .collect();
        let mut f = finding(
            h,
            FindingKind::LifetimeDivergence,
            render(&hs, &differing),
            format!("the lifetimes of {} objects differ", differing.len()),
        );
        f.model = render(&ms, &differing);
        out.push(f);
    }
    out
}

/// A dentry the transcript saw born and not yet killed.
#[derive(Default)]
struct Live {
    /// Unhashed by `d_invalidate`: lookups no longer find it.
    unhashed: bool,
    /// The dentry it was born under (a child pins its parent, so the parent outlives it).
    parent: Option<(String, u32)>,
}

/// Whether lookups can still reach `key`: it and every ancestor the run made are hashed.
fn reachable(live: &HashMap<(String, u32), Live>, key: &(String, u32)) -> bool {
    let mut cur = live.get(key);
    while let Some(d) = cur {
        if d.unhashed {
            return false;
        }
        cur = d.parent.as_ref().and_then(|p| live.get(p));
    }
    true
}

/// The rules, on one side's transcript. Findings carry the side's lifetimes in `host`; the
/// caller re-attributes them for the model.
pub fn invariants(t: &Transcript, prefix: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut live: HashMap<(String, u32), Live> = HashMap::new();
    // Paths of eis freed (and not made again), and freed eis not yet released.
    let mut freed_paths: HashSet<String> = HashSet::new();
    let mut unreleased: HashSet<(String, u32)> = HashSet::new();
    let mut handles: HashMap<String, String> = HashMap::new();
    let mut cwd: Option<String> = None;
    for s in &t.steps {
        let freed_before = freed_paths.clone();
        for l in s.lifetimes.iter().filter(|l| ours(&l.path, prefix)) {
            let key = (l.path.clone(), l.generation);
            match l.kind {
                LifetimeKind::DentryBorn => {
                    let parent_path = l.path.rsplit_once('/').map(|(p, _)| p);
                    let parent = live
                        .keys()
                        .filter(|(p, _)| Some(p.as_str()) == parent_path)
                        .max_by_key(|(_, g)| *g)
                        .cloned();
                    live.insert(
                        key,
                        Live {
                            unhashed: false,
                            parent,
                        },
                    );
                }
                LifetimeKind::DentryKilled => {
                    live.remove(&key);
                }
                LifetimeKind::DentryInvalidated => {
                    if let Some(d) = live.get_mut(&key) {
                        d.unhashed = true;
                    }
                }
                LifetimeKind::EiCreated => {
                    freed_paths.remove(&l.path);
                }
                LifetimeKind::EiFreed => {
                    freed_paths.insert(l.path.clone());
                    unreleased.insert(key);
                }
                LifetimeKind::EiReleased => {
                    unreleased.remove(&key);
                }
                LifetimeKind::Revalidated => {
                    // The removal returned in an earlier step: nothing may find it valid now.
                    if let Some(gone) = freed_before.iter().find(|f| under(&l.path, f)) {
                        out.push(finding(
                            s,
                            violation("no-revalidate-after-removal"),
                            lifetime(l),
                            format!("{} was revalidated after {gone} was removed", l.path),
                        ));
                    }
                }
                _ => {}
            }
        }
        track_holders(s, &mut handles, &mut cwd);
        let held = |p: &str| handles.values().chain(cwd.as_ref()).any(|h| under(h, p));
        match (&s.action, &s.outcome) {
            (Action::DropCaches, Outcome::Ok(_)) => {
                let mut stale: Vec<&String> = live
                    .keys()
                    .map(|(p, _)| p)
                    .filter(|p| freed_paths.iter().any(|f| under(p, f)) && !held(p))
                    .collect();
                stale.sort();
                if !stale.is_empty() {
                    out.push(finding(
                        s,
                        violation("no-stale-dentry-after-drop-caches"),
                        list(&stale),
                        "dentries of removed events survived drop_caches, unheld".into(),
                    ));
                }
                let mut leaked: Vec<&String> = unreleased
                    .iter()
                    .map(|(p, _)| p)
                    .filter(|e| !live.keys().any(|(p, _)| under(p, e)))
                    .collect();
                leaked.sort();
                if !leaked.is_empty() {
                    out.push(finding(
                        s,
                        violation("no-leaked-ei-after-drop-caches"),
                        list(&leaked),
                        "freed eventfs_inodes no dentry references were not released".into(),
                    ));
                }
            }
            (Action::Rmdir { path }, Outcome::Ok(_)) if path.starts_with("instances/") => {
                // Nothing below the instance may stay reachable: each dentry is killed, or it
                // or an ancestor was invalidated (simple_recursive_removal's d_invalidate).
                // The directory itself is vfs_rmdir's to unhash (d_delete, not hooked).
                let below = format!("{path}/");
                let mut reachable: Vec<&String> = live
                    .keys()
                    .filter(|k| k.0.starts_with(&below) && reachable(&live, k))
                    .map(|(p, _)| p)
                    .collect();
                reachable.sort();
                if !reachable.is_empty() {
                    out.push(finding(
                        s,
                        violation("instance-rmdir-invalidates"),
                        list(&reachable),
                        format!("dentries under {path} are still hashed after its rmdir"),
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

fn violation(invariant: &'static str) -> FindingKind {
    FindingKind::Violation {
        invariant,
        side: Side::Host,
    }
}

fn lifetime(l: &Lifetime) -> String {
    format!("{} {} (generation {})", l.kind.name(), l.path, l.generation)
}

fn list(paths: &[&String]) -> String {
    let mut out: Vec<&str> = paths.iter().take(SHOWN).map(|p| p.as_str()).collect();
    let more = format!("and {} more", paths.len().saturating_sub(SHOWN));
    if paths.len() > SHOWN {
        out.push(&more);
    }
    out.join(", ")
}

/// Follows which paths the scenario holds open (files and the cwd pin their dentries).
fn track_holders(s: &StepResult, handles: &mut HashMap<String, String>, cwd: &mut Option<String>) {
    if !s.outcome.is_ok() {
        return;
    }
    match &s.action {
        Action::Open { path, handle, .. } => {
            handles.insert(handle.clone(), path.clone());
        }
        Action::OpenAt {
            dir,
            path,
            as_handle,
            ..
        } => {
            if let Some(base) = handles.get(dir).cloned() {
                handles.insert(as_handle.clone(), format!("{base}/{path}"));
            }
        }
        Action::Close { handle } => {
            handles.remove(handle);
        }
        Action::Chdir { path } => *cwd = Some(path.clone()),
        Action::Fchdir { handle } => *cwd = handles.get(handle).cloned(),
        _ => {}
    }
}

/// Counts of the run's lifetime events on one side.
pub fn count(t: &Transcript, prefix: &str) -> usize {
    t.steps
        .iter()
        .flat_map(|s| &s.lifetimes)
        .filter(|l| ours(&l.path, prefix))
        .count()
}
