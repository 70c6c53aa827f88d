//! `--exhaustive D`: every sequence of D steps over a fixed alphabet of the universe, after a
//! fixed setup (an event made, its group open as a directory handle, its `enable` open).
//! Bounded exhaustive testing, as ACE does: nothing is left to chance within the bound.

use super::universe::{EVENTS, Universe};
use crate::interface::{Action, ControlFile, OpenMode};

/// The steps every sequence starts with, for objects named `own`.
pub fn setup(universe: &Universe, own: &str) -> Vec<Action> {
    let [a, _] = Universe::groups(own);
    vec![
        Action::Control {
            file: universe.kinds[0].file(),
            line: universe.create_line(universe.kinds[0], &a, EVENTS[0]),
        },
        Action::Open {
            path: format!("events/{a}"),
            mode: OpenMode::Directory,
            handle: "h0".into(),
        },
        Action::Open {
            path: format!("events/{a}/{}/enable", EVENTS[0]),
            mode: OpenMode::ReadWrite,
            handle: "h1".into(),
        },
    ]
}

/// The steps a sequence is made of.
pub fn alphabet(universe: &Universe, own: &str) -> Vec<Action> {
    let [a, _] = Universe::groups(own);
    let kind = universe.kinds[0];
    let (e0, e1) = (EVENTS[0], EVENTS[1]);
    let control = |line: String| Action::Control {
        file: kind.file(),
        line,
    };
    let h = |n: &str| n.to_owned();
    vec![
        control(universe.create_line(kind, &a, e0)),
        control(universe.create_line(kind, &a, e1)),
        control(format!("-:{a}/{e0}")),
        control(format!("-:{a}/{e1}")),
        Action::Control {
            file: ControlFile::DynamicEvents,
            line: format!("-:{a}/{e0}"),
        },
        Action::Mkdir {
            path: format!("instances/{own}"),
        },
        Action::Rmdir {
            path: format!("instances/{own}"),
        },
        Action::Getdents {
            handle: h("h0"),
            buffer: 64,
        },
        Action::Getdents {
            handle: h("h0"),
            buffer: 32768,
        },
        Action::Tell { handle: h("h0") },
        Action::Seek {
            handle: h("h0"),
            pos: 0,
        },
        Action::Seek {
            handle: h("h0"),
            pos: 3,
        },
        Action::Seek {
            handle: h("h0"),
            pos: 4,
        },
        Action::Close { handle: h("h0") },
        Action::Open {
            path: format!("events/{a}"),
            mode: OpenMode::Directory,
            handle: h("h0"),
        },
        Action::Read {
            handle: h("h1"),
            len: 4096,
        },
        Action::Write {
            handle: h("h1"),
            data: "1".into(),
        },
        Action::Close { handle: h("h1") },
        Action::Stat {
            path: format!("events/{a}/{e0}/enable"),
        },
        Action::list(format!("events/{a}")),
        Action::Chdir {
            path: format!("events/{a}/{e0}"),
        },
        Action::Stat {
            path: "./enable".into(),
        },
        Action::Getcwd,
        Action::DropCaches,
        Action::Open {
            path: format!("instances/{own}/events/{a}/{e0}/enable"),
            mode: OpenMode::Read,
            handle: h("h2"),
        },
        Action::WriteFile {
            path: format!("events/{a}/{e0}/enable"),
            data: "0".into(),
        },
    ]
}

/// How many sequences of `depth` steps there are over an alphabet of `n`.
pub fn count(n: usize, depth: usize) -> u64 {
    (n as u64).saturating_pow(depth as u32)
}

/// The `index`-th sequence of `depth` steps (its digits in base `alphabet.len()`).
pub fn sequence(alphabet: &[Action], depth: usize, mut index: u64) -> Vec<Action> {
    let n = alphabet.len() as u64;
    let mut out = Vec::with_capacity(depth);
    for _ in 0..depth {
        out.push(alphabet[(index % n) as usize].clone());
        index /= n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sequence_is_enumerated_once_and_each_is_valid() {
        let u = Universe::new(
            crate::explore::universe::Interfaces {
                kprobe_events: false,
                ..crate::explore::universe::Interfaces::ALL
            },
            crate::host::uprobe_target().unwrap(),
            false,
        );
        let own = "rethfs_1_0";
        let alpha = alphabet(&u, own);
        let n = count(alpha.len(), 2);
        assert_eq!(n, (alpha.len() * alpha.len()) as u64);
        let mut seen = std::collections::HashSet::new();
        for i in 0..n {
            let mut steps = setup(&u, own);
            let seq = sequence(&alpha, 2, i);
            assert!(seen.insert(format!("{seq:?}")));
            steps.extend(seq);
            crate::scenario::Scenario::from_actions("x", "y", steps).unwrap();
        }
    }
}
