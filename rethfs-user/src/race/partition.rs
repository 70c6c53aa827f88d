//! Porcupine's partitioning: calls on disjoint event groups and instances cannot see each
//! other's effects, so each set is checked alone, which keeps the search's width per set.
//!
//! A call touches the group of the path it names (`events/G/...`, an instance's
//! `instances/I/events/G/...`), the instance (`instances/I/...`), or the group its control
//! line creates or removes (`p:G/E ...`, `-:G/E`). A call whose reach is wider (listing
//! `events/`, a remount, drop_caches, a root file, an eprobe naming another group, a path
//! relative to the current directory) joins every set into one. Of those, a remount and
//! drop_caches name nothing: what they do to groups no call names, none can see, so the
//! model of the joined set keeps only the named groups (a whole distribution kernel's tree
//! makes every state of the search cost a hundredfold).

use std::collections::HashMap;

use super::history::Call;
use crate::interface::{Action, path};

/// What one call may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reach {
    Keys(Vec<String>),
    /// Everything, and it may see any group.
    Everything,
    /// Everything, but it sees no group by itself (a remount, drop_caches).
    Unnamed,
}

/// The keys of `p`, a path below the tracefs root.
fn path_reach(p: &str) -> Reach {
    if p.starts_with('.') {
        return Reach::Everything;
    }
    let c: Vec<&str> = path::components(p).collect();
    match c.as_slice() {
        ["events", g, ..] => Reach::Keys(vec![format!("group:{g}")]),
        ["instances", i, "events", g, ..] => {
            Reach::Keys(vec![format!("instance:{i}"), format!("group:{g}")])
        }
        ["instances", i, rest @ ..] if rest.first() != Some(&"events") => {
            Reach::Keys(vec![format!("instance:{i}")])
        }
        _ => Reach::Everything,
    }
}

/// The group and event a control line creates or removes (`p:G/E ...`, `-:G/E`), when it
/// names a group. None for an eprobe, which reads another group's event too.
pub(super) fn line_event(line: &str) -> Option<(&str, &str)> {
    let head = line.split_whitespace().next()?;
    let (kind, name) = head.split_once(':')?;
    if kind.starts_with('e') {
        return None;
    }
    name.split_once('/').filter(|(g, _)| !g.is_empty())
}

/// The group a control line creates or removes; an eprobe's would need both as keys.
fn line_reach(line: &str) -> Reach {
    match line_event(line) {
        Some((g, _)) => Reach::Keys(vec![format!("group:{g}")]),
        None => Reach::Everything,
    }
}

fn join(a: Reach, b: Reach) -> Reach {
    match (a, b) {
        (Reach::Keys(mut x), Reach::Keys(y)) => {
            x.extend(y);
            Reach::Keys(x)
        }
        _ => Reach::Everything,
    }
}

/// A set of calls that touch each other, and the event groups they touch (`None`: they
/// reach everything).
#[derive(Debug, PartialEq, Eq)]
pub struct Part {
    pub calls: Vec<usize>,
    pub groups: Option<Vec<String>>,
}

/// Splits `calls` (in call-time order) into independent sets of indices, each in order.
pub fn partition(calls: &[Call]) -> Vec<Part> {
    let mut handle_reach: HashMap<&str, Reach> = HashMap::new();
    let mut reach = Vec::with_capacity(calls.len());
    for c in calls {
        let of = |h: &str| handle_reach.get(h).cloned().unwrap_or(Reach::Everything);
        let r = match &c.action {
            Action::Control { line, .. } => line_reach(line),
            Action::Rename { from, to } => join(path_reach(from), path_reach(to)),
            Action::Open { path, handle, .. } => {
                let r = path_reach(path);
                handle_reach.insert(handle, r.clone());
                r
            }
            Action::OpenAt {
                dir,
                path,
                as_handle,
            } => {
                let r = join(of(dir), path_reach(path));
                handle_reach.insert(as_handle, r.clone());
                r
            }
            Action::Remount { .. } | Action::DropCaches => Reach::Unnamed,
            a => match (a.paths().first(), a.handle_use().uses.first()) {
                (Some((_, p)), _) => path_reach(p),
                (None, Some(h)) => of(h),
                (None, None) => Reach::Everything,
            },
        };
        reach.push(r);
    }
    if reach.contains(&Reach::Everything) {
        return vec![Part {
            calls: (0..calls.len()).collect(),
            groups: None,
        }];
    }
    if reach.contains(&Reach::Unnamed) {
        let mut groups: Vec<String> = Vec::new();
        for k in reach.iter().flat_map(|r| match r {
            Reach::Keys(keys) => keys.as_slice(),
            _ => &[],
        }) {
            if let Some(g) = k
                .strip_prefix("group:")
                .filter(|g| !groups.iter().any(|x| x == g))
            {
                groups.push(g.to_owned());
            }
        }
        return vec![Part {
            calls: (0..calls.len()).collect(),
            groups: Some(groups),
        }];
    }
    // Union-find over calls, joined through the keys they share.
    let mut parent: Vec<usize> = (0..calls.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut first_with: HashMap<String, usize> = HashMap::new();
    for (i, r) in reach.iter().enumerate() {
        let Reach::Keys(keys) = r else { unreachable!() };
        for k in keys {
            let j = *first_with.entry(k.clone()).or_insert(i);
            let (a, b) = (root(&mut parent, i), root(&mut parent, j));
            parent[a] = b;
        }
    }
    let mut sets: HashMap<usize, Part> = HashMap::new();
    for (i, r) in reach.into_iter().enumerate() {
        let set = root(&mut parent, i);
        let part = sets.entry(set).or_insert_with(|| Part {
            calls: Vec::new(),
            groups: Some(Vec::new()),
        });
        part.calls.push(i);
        let (Reach::Keys(keys), Some(groups)) = (r, &mut part.groups) else {
            unreachable!()
        };
        for g in keys.iter().filter_map(|k| k.strip_prefix("group:")) {
            if !groups.iter().any(|x| x == g) {
                groups.push(g.to_owned());
            }
        }
    }
    let mut out: Vec<Part> = sets.into_values().collect();
    out.sort_by(|a, b| a.calls.cmp(&b.calls));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interface::ControlFile;

    fn call(action: Action) -> Call {
        Call {
            thread: 0,
            action,
            line: 0,
            call_ns: 0,
            return_ns: Some(1),
            outcome: None,
        }
    }

    #[test]
    fn groups_apart_are_checked_apart_and_events_joins_them() {
        let make = |g: &str| {
            call(Action::Control {
                file: ControlFile::UprobeEvents,
                line: format!("p:{g}/e /bin/true:0x10"),
            })
        };
        let stat = |p: &str| call(Action::Stat { path: p.into() });
        let calls = vec![
            make("a"),
            make("b"),
            stat("events/a/e/enable"),
            stat("instances/i/events/b/e"),
        ];
        let sets: Vec<_> = partition(&calls)
            .into_iter()
            .map(|p| (p.calls, p.groups))
            .collect();
        assert_eq!(
            sets,
            [
                (vec![0, 2], Some(vec!["a".to_owned()])),
                (vec![1, 3], Some(vec!["b".to_owned()]))
            ]
        );
        // A remount joins them, and needs no other group.
        let mut remount = calls.clone();
        remount.push(call(Action::Remount {
            options: "uid=0".into(),
        }));
        assert_eq!(
            partition(&remount),
            [Part {
                calls: vec![0, 1, 2, 3, 4],
                groups: Some(vec!["a".to_owned(), "b".to_owned()])
            }]
        );
        let mut wide = calls.clone();
        wide.push(call(Action::list("events")));
        assert_eq!(
            partition(&wide),
            [Part {
                calls: vec![0, 1, 2, 3, 4],
                groups: None
            }]
        );
    }
}
