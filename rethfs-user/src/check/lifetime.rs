//! Lifetime checks: the dentry and eventfs_inode lifetimes the observer recorded in the kernel
//! against those the model predicts, and rules on lifetimes that hold on any correct kernel,
//! applied to both sides. Only objects under the run's own names are judged: the rest of
//! tracefs belongs to others, who may touch it meanwhile.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::{Finding, FindingKind, Side};
use crate::{
    interface::{
        Action, Lifetime, LifetimeKind, Outcome,
        path::{self, Base},
    },
    model::Policy,
    scenario::{StepResult, Transcript},
};

/// What lifetimes are judged: the run's objects (a path component is `prefix`), and the kinds
/// the kernel side could see (the model's others are not compared, nor rules that need them).
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    pub prefix: &'a str,
    pub seen: Vec<LifetimeKind>,
}

impl Scope<'_> {
    fn sees(&self, kinds: &[LifetimeKind]) -> bool {
        kinds.iter().all(|k| self.seen.contains(k))
    }
}

/// Whether a scenario's lifetimes were checked, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
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

/// Whether `path` names one of the run's objects: a component is `prefix`, or `prefix` and a
/// letter (explore's groups `{own}a`, `{own}b`; `{own}1` would be another case's).
pub fn ours(path: &str, prefix: &str) -> bool {
    path.split('/').any(|c| {
        c.strip_prefix(prefix).is_some_and(|rest| {
            rest.is_empty() || (rest.len() == 1 && rest.as_bytes()[0].is_ascii_lowercase())
        })
    })
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
fn sequences(step: &StepResult, scope: &Scope) -> BTreeMap<String, Vec<&'static str>> {
    let mut out: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
    for l in &step.lifetimes {
        if COMPARED.contains(&l.kind)
            && scope.seen.contains(&l.kind)
            && compared(&l.path, scope.prefix)
        {
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
        op: s.action.op().into(),
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
pub fn compare(host: &Transcript, model: &Transcript, scope: &Scope) -> Vec<Finding> {
    let mut out = Vec::new();
    for (h, m) in host.steps.iter().zip(&model.steps) {
        let (hs, ms) = (sequences(h, scope), sequences(m, scope));
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

/// The rules, on one side's transcript, each only where the kernel side sees every kind it
/// needs. Findings carry the side's lifetimes in `host`; the caller re-attributes them for
/// the model.
pub fn invariants(t: &Transcript, scope: &Scope, policy: Policy) -> Vec<Finding> {
    use LifetimeKind::*;
    let prefix = scope.prefix;
    let revalidation = scope.sees(&[EiCreated, EiFreed, Revalidated]);
    let stale = scope.sees(&[DentryBorn, DentryKilled, EiCreated, EiFreed]);
    let leak = scope.sees(&[DentryBorn, DentryKilled, EiFreed, EiReleased]);
    let rmdir = scope.sees(&[DentryBorn, DentryKilled, DentryInvalidated]);
    let mut out = Vec::new();
    let mut live: HashMap<(String, u32), Live> = HashMap::new();
    // Paths of eis freed (and not made again) with the step that freed them, and freed eis
    // not yet released.
    let mut freed_paths: HashMap<String, usize> = HashMap::new();
    let mut unreleased: HashSet<(String, u32)> = HashSet::new();
    let mut handles: HashMap<String, String> = HashMap::new();
    let mut cwd: Option<String> = None;
    for s in &t.steps {
        let judged = s
            .lifetimes
            .iter()
            .filter(|l| ours(&l.path, prefix) && scope.seen.contains(&l.kind));
        for l in judged {
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
                    freed_paths.insert(l.path.clone(), s.index);
                    unreleased.insert(key);
                }
                LifetimeKind::EiReleased => {
                    unreleased.remove(&key);
                }
                LifetimeKind::Revalidated if revalidation => {
                    // The removal returned in an earlier step: nothing may find it valid now.
                    let earlier = freed_paths
                        .iter()
                        .find(|(f, at)| **at < s.index && under(&l.path, f));
                    if let Some((gone, _)) = earlier {
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
        // A dentry is held by what is open at or below it, and under 6.6 by an open parent.
        let held = |p: &str| {
            handles.values().chain(cwd.as_ref()).any(|h| under(h, p))
                || (policy.open_dir_holds_children()
                    && p.rsplit_once('/')
                        .is_some_and(|(dir, _)| handles.values().any(|h| h == dir)))
        };
        match (&s.action, &s.outcome) {
            (Action::DropCaches, Outcome::Ok(_)) => {
                let mut stale_paths: Vec<&String> = live
                    .keys()
                    .map(|(p, _)| p)
                    .filter(|p| freed_paths.keys().any(|f| under(p, f)) && !held(p))
                    .collect();
                stale_paths.sort();
                if stale && !stale_paths.is_empty() {
                    out.push(finding(
                        s,
                        violation("no-stale-dentry-after-drop-caches"),
                        list(&stale_paths),
                        "dentries of removed events survived drop_caches, unheld".into(),
                    ));
                }
                let mut leaked: Vec<&String> = unreleased
                    .iter()
                    .map(|(p, _)| p)
                    .filter(|e| !live.keys().any(|(p, _)| under(p, e)))
                    .collect();
                leaked.sort();
                if leak && !leaked.is_empty() {
                    out.push(finding(
                        s,
                        violation("no-leaked-ei-after-drop-caches"),
                        list(&leaked),
                        "freed eventfs_inodes no dentry references were not released".into(),
                    ));
                }
            }
            (Action::Rmdir { path }, Outcome::Ok(_)) if rmdir && path.starts_with("instances/") => {
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
        invariant: invariant.into(),
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
/// `p` below the tracefs root, as lifetimes name paths: a `./` path joined to the current
/// directory (the root until a `chdir`), `.` and `..` resolved.
fn from_root(p: &str, cwd: &Option<String>) -> String {
    let full = match path::base(p) {
        Base::Cwd => format!("{}/{p}", cwd.as_deref().unwrap_or_default()),
        Base::Root => p.to_owned(),
    };
    path::normal(&full).map_or(full.clone(), |c| c.join("/"))
}

fn track_holders(s: &StepResult, handles: &mut HashMap<String, String>, cwd: &mut Option<String>) {
    if !s.outcome.is_ok() {
        return;
    }
    match &s.action {
        Action::Open { path, handle, .. } => {
            handles.insert(handle.clone(), from_root(path, cwd));
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
        Action::Chdir { path } => *cwd = Some(from_root(path, cwd)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interface::Value;

    const P: &str = "rethfs_1_0";

    #[test]
    fn explores_groups_are_the_cases_own_and_other_cases_are_not() {
        assert!(ours("events/rethfs_1_0/e0", P));
        assert!(ours("events/rethfs_1_0a/e0", P));
        assert!(!ours("events/rethfs_1_01/e0", P));
        assert!(!ours("events/rethfs_1_0ab/e0", P));
        assert!(!ours("events/sched", P));
    }

    /// A kernel side that sees every kind.
    fn all() -> Scope<'static> {
        Scope {
            prefix: P,
            seen: LifetimeKind::ALL.to_vec(),
        }
    }

    fn l(kind: LifetimeKind, path: &str, generation: u32) -> Lifetime {
        Lifetime {
            kind,
            path: path.replace("{p}", P),
            generation,
            refs: 0,
            ino: 0,
            t_ns: None,
        }
    }

    fn step(index: usize, action: Action, lifetimes: Vec<Lifetime>) -> StepResult {
        StepResult {
            index,
            line: index,
            action,
            outcome: Outcome::Ok(Value::Done),
            lifetimes,
            notes: Vec::new(),
        }
    }

    fn transcript(steps: Vec<StepResult>) -> Transcript {
        Transcript {
            scenario: "t".into(),
            target: "t".into(),
            steps,
        }
    }

    fn stat(path: &str) -> Action {
        Action::Stat {
            path: path.replace("{p}", P),
        }
    }

    fn invariant_names(t: &Transcript) -> Vec<String> {
        invariants(t, &all(), Policy::V6_17)
            .into_iter()
            .map(|f| match f.kind {
                FindingKind::Violation { invariant, .. } => invariant.into_owned(),
                _ => "not a violation".into(),
            })
            .collect()
    }

    use LifetimeKind::*;

    #[test]
    fn a_missing_birth_is_a_divergence_but_order_across_objects_is_not() {
        let a = "events/{p}/ev";
        let b = "events/{p}/ev/enable";
        let host = transcript(vec![step(
            1,
            stat(b),
            vec![
                l(DentryBorn, b, 0),
                l(DentryBorn, a, 0),
                l(DentryDropped, a, 0),
            ],
        )]);
        let same = transcript(vec![step(
            1,
            stat(b),
            vec![l(DentryBorn, a, 0), l(DentryBorn, b, 0)],
        )]);
        assert!(compare(&host, &same, &all()).is_empty());
        let missing = transcript(vec![step(1, stat(b), vec![l(DentryBorn, a, 0)])]);
        let found = compare(&host, &missing, &all());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, FindingKind::LifetimeDivergence);
        assert!(
            found[0].host.ends_with("ev/enable: born"),
            "{}",
            found[0].host
        );
        assert!(
            found[0].model.ends_with("ev/enable: nothing"),
            "{}",
            found[0].model
        );
        // Objects not the run's, and tracefs files outside eventfs, are not compared.
        let other = transcript(vec![step(
            1,
            stat(b),
            vec![l(DentryBorn, "events/sched", 0)],
        )]);
        assert!(compare(&other, &transcript(vec![step(1, stat(b), vec![])]), &all()).is_empty());
        let control = transcript(vec![step(
            1,
            stat(b),
            vec![l(DentryBorn, "instances/{p}/trace", 0)],
        )]);
        assert!(
            compare(
                &control,
                &transcript(vec![step(1, stat(b), vec![])]),
                &all()
            )
            .is_empty()
        );
    }

    #[test]
    fn revalidation_after_the_removal_returned_is_a_violation() {
        let ev = "events/{p}/ev";
        let removal = Action::Control {
            file: crate::interface::ControlFile::UprobeEvents,
            line: format!("-:{P}/ev"),
        };
        // Within the removing step, a revalidation may still pass: eventfs frees under a lock
        // that a concurrent walk may have passed.
        let during = transcript(vec![step(
            1,
            removal.clone(),
            vec![l(EiFreed, ev, 0), l(Revalidated, ev, 0)],
        )]);
        assert!(invariant_names(&during).is_empty());
        let after = transcript(vec![
            step(1, removal.clone(), vec![l(EiFreed, ev, 0)]),
            step(2, stat(ev), vec![l(Revalidated, ev, 0)]),
        ]);
        assert_eq!(invariant_names(&after), ["no-revalidate-after-removal"]);
        let remade = transcript(vec![
            step(1, removal, vec![l(EiFreed, ev, 0)]),
            step(
                2,
                stat(ev),
                vec![l(EiCreated, ev, 1), l(Revalidated, ev, 0)],
            ),
        ]);
        assert!(invariant_names(&remade).is_empty());
    }

    #[test]
    fn drop_caches_leaves_no_unheld_stale_dentry_and_no_leaked_ei() {
        let ev = "events/{p}/ev";
        let file = "events/{p}/ev/enable";
        let made = step(
            1,
            stat(file),
            vec![
                l(EiCreated, ev, 0),
                l(DentryBorn, ev, 0),
                l(DentryBorn, file, 0),
            ],
        );
        let freed = step(2, stat("x"), vec![l(EiFreed, ev, 0)]);
        let stale = transcript(vec![
            made.clone(),
            freed.clone(),
            step(3, Action::DropCaches, vec![]),
        ]);
        assert_eq!(
            invariant_names(&stale),
            ["no-stale-dentry-after-drop-caches"]
        );
        let clean = transcript(vec![
            made.clone(),
            freed.clone(),
            step(
                3,
                Action::DropCaches,
                vec![l(DentryKilled, file, 0), l(DentryKilled, ev, 0)],
            ),
        ]);
        assert_eq!(invariant_names(&clean), ["no-leaked-ei-after-drop-caches"]);
        let released = transcript(vec![
            made.clone(),
            freed.clone(),
            step(
                3,
                Action::DropCaches,
                vec![
                    l(DentryKilled, file, 0),
                    l(DentryKilled, ev, 0),
                    l(EiReleased, ev, 0),
                ],
            ),
        ]);
        assert!(invariant_names(&released).is_empty());
        // An open file pins its dentry and ancestors: not stale.
        let open = Action::Open {
            path: file.replace("{p}", P),
            mode: crate::interface::OpenMode::Read,
            handle: "h".into(),
        };
        let held = transcript(vec![
            made.clone(),
            step(2, open, vec![]),
            freed.clone(),
            step(4, Action::DropCaches, vec![]),
        ]);
        assert!(invariant_names(&held).is_empty());
        // So does one opened by a path from the current directory (found by explore).
        let chdir = Action::Chdir {
            path: ev.replace("{p}", P),
        };
        let relative = Action::Open {
            path: "./enable".into(),
            mode: crate::interface::OpenMode::Read,
            handle: "h".into(),
        };
        let held_here = transcript(vec![
            made,
            step(2, chdir, vec![]),
            step(3, relative, vec![]),
            freed,
            step(5, Action::DropCaches, vec![]),
        ]);
        assert!(invariant_names(&held_here).is_empty());
    }

    #[test]
    fn nothing_below_a_removed_instance_stays_reachable() {
        let inst = "instances/{p}";
        let events = "instances/{p}/events";
        let enable = "instances/{p}/events/enable";
        let made = step(
            1,
            Action::Mkdir {
                path: inst.replace("{p}", P),
            },
            vec![
                l(DentryBorn, inst, 0),
                l(DentryBorn, events, 0),
                l(DentryBorn, enable, 0),
            ],
        );
        let rmdir = |lifetimes| {
            step(
                2,
                Action::Rmdir {
                    path: inst.replace("{p}", P),
                },
                lifetimes,
            )
        };
        let forgotten = transcript(vec![
            made.clone(),
            rmdir(vec![l(DentryInvalidated, enable, 0)]),
        ]);
        assert_eq!(invariant_names(&forgotten), ["instance-rmdir-invalidates"]);
        // The parent unhashed makes the held child unreachable too.
        let unhashed = transcript(vec![made, rmdir(vec![l(DentryInvalidated, events, 0)])]);
        assert!(invariant_names(&unhashed).is_empty());
    }
}
