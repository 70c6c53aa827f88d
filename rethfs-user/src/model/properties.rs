//! Property tests: random operation sequences on the model, with the model's invariants and
//! the user-visible ones checked after every step.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::{Model, ModelConfig, Policy};
use crate::interface::{Action, ControlFile, OpenMode, Outcome, Target, Value};

/// Sequences run per policy, in CI too: 2,000 x 5 policies = 10,000.
const CASES: u32 = 2_000;

const GROUPS: [&str; 2] = ["ga", "gb"];
const EVENTS: [&str; 3] = ["e0", "e1", "e2"];
const FILES: [&str; 5] = ["enable", "filter", "format", "id", "trigger"];
const HANDLES: [&str; 3] = ["h0", "h1", "h2"];

#[derive(Debug, Clone)]
enum Op {
    Create(usize, usize),
    Remove(usize, usize),
    Enable(usize, usize, bool, bool),
    Mkdir,
    Rmdir,
    Stat(usize, usize, Option<usize>, bool),
    Open(usize, usize, Option<usize>, usize),
    Close(usize),
    Read(usize),
    Getdents(usize, usize),
    Seek(usize, i64),
    List(usize, bool),
    Chdir(usize, usize),
    Chmod(usize, usize, usize),
    DropCaches,
    Pressure(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let g = 0..GROUPS.len();
    let e = 0..EVENTS.len();
    let f = proptest::option::of(0..FILES.len());
    let h = 0..HANDLES.len();
    prop_oneof![
        3 => (g.clone(), e.clone()).prop_map(|(g, e)| Op::Create(g, e)),
        2 => (g.clone(), e.clone()).prop_map(|(g, e)| Op::Remove(g, e)),
        1 => (g.clone(), e.clone(), any::<bool>(), any::<bool>()).prop_map(|(g, e, i, on)| Op::Enable(g, e, i, on)),
        1 => Just(Op::Mkdir),
        1 => Just(Op::Rmdir),
        3 => (g.clone(), e.clone(), f.clone(), any::<bool>()).prop_map(|(g, e, f, i)| Op::Stat(g, e, f, i)),
        2 => (g.clone(), e.clone(), f, h.clone()).prop_map(|(g, e, f, h)| Op::Open(g, e, f, h)),
        2 => h.clone().prop_map(Op::Close),
        1 => h.clone().prop_map(Op::Read),
        2 => (h.clone(), 16usize..400).prop_map(|(h, b)| Op::Getdents(h, b)),
        1 => (h, 0i64..9).prop_map(|(h, p)| Op::Seek(h, p)),
        1 => (g.clone(), any::<bool>()).prop_map(|(g, i)| Op::List(g, i)),
        1 => (g.clone(), e.clone()).prop_map(|(g, e)| Op::Chdir(g, e)),
        1 => (g, e, 0usize..FILES.len()).prop_map(|(g, e, f)| Op::Chmod(g, e, f)),
        1 => Just(Op::DropCaches),
        1 => (1usize..20).prop_map(Op::Pressure),
    ]
}

/// The events that exist, as the outcomes of creations and removals say.
struct Shadow {
    events: BTreeSet<(usize, usize)>,
    instance: bool,
}

fn base(instance: bool) -> &'static str {
    if instance {
        "instances/pi/events"
    } else {
        "events"
    }
}

fn event_path(g: usize, e: usize, f: Option<usize>, instance: bool) -> String {
    let mut p = format!("{}/{}/{}", base(instance), GROUPS[g], EVENTS[e]);
    if let Some(f) = f {
        p = format!("{p}/{}", FILES[f]);
    }
    p
}

fn step(m: &mut Model, s: &mut Shadow, op: &Op, target: &str) -> Result<(), String> {
    let control = |line: String| Action::Control {
        file: ControlFile::UprobeEvents,
        line,
    };
    let action = match op {
        Op::Create(g, e) => control(format!("p:{}/{} {target}", GROUPS[*g], EVENTS[*e])),
        Op::Remove(g, e) => control(format!("-:{}/{}", GROUPS[*g], EVENTS[*e])),
        Op::Enable(g, e, i, on) => Action::WriteFile {
            path: event_path(*g, *e, Some(0), *i && s.instance),
            data: if *on { "1" } else { "0" }.into(),
        },
        Op::Mkdir => Action::Mkdir {
            path: "instances/pi".into(),
        },
        Op::Rmdir => Action::Rmdir {
            path: "instances/pi".into(),
        },
        Op::Stat(g, e, f, i) => Action::Stat {
            path: event_path(*g, *e, *f, *i),
        },
        Op::Open(g, e, f, h) => Action::Open {
            path: event_path(*g, *e, *f, false),
            mode: if f.is_some() {
                OpenMode::Read
            } else {
                OpenMode::Directory
            },
            handle: HANDLES[*h].into(),
        },
        Op::Close(h) => Action::Close {
            handle: HANDLES[*h].into(),
        },
        Op::Read(h) => Action::Read {
            handle: HANDLES[*h].into(),
            len: 64,
        },
        Op::Getdents(h, b) => Action::Getdents {
            handle: HANDLES[*h].into(),
            buffer: *b,
        },
        Op::Seek(h, p) => Action::Seek {
            handle: HANDLES[*h].into(),
            pos: *p,
        },
        Op::List(g, i) => Action::list(format!("{}/{}", base(*i), GROUPS[*g])),
        Op::Chdir(g, e) => Action::Chdir {
            path: event_path(*g, *e, None, false),
        },
        Op::Chmod(g, e, f) => Action::Chmod {
            path: event_path(*g, *e, Some(*f), false),
            mode: 0o600,
        },
        Op::DropCaches => Action::DropCaches,
        Op::Pressure(n) => {
            m.shrink(*n);
            return m.check_invariants();
        }
    };
    let outcome = m.apply(&action);
    match (op, &outcome) {
        (Op::Create(g, e), Outcome::Ok(_)) => {
            s.events.insert((*g, *e));
        }
        (Op::Remove(g, e), Outcome::Ok(_)) => {
            s.events.remove(&(*g, *e));
        }
        (Op::Mkdir, Outcome::Ok(_)) => s.instance = true,
        (Op::Rmdir, Outcome::Ok(_)) => s.instance = false,
        _ => {}
    }
    // No successful lookup of a removed event's path (nor of one never made).
    if let (
        Op::Stat(g, e, _, _) | Op::Open(g, e, _, _) | Op::Chdir(g, e) | Op::Chmod(g, e, _),
        Outcome::Ok(_),
    ) = (op, &outcome)
        && !s.events.contains(&(*g, *e))
    {
        return Err(format!(
            "{} succeeded for an event that does not exist: {outcome}",
            action.summary()
        ));
    }
    // getdents d_ino equals stat st_ino for every listed directory.
    if let (Op::List(g, i), Outcome::Ok(Value::Names { names })) = (op, &outcome) {
        let dir = format!("{}/{}", base(*i), GROUPS[*g]);
        let handle = "\0prop".to_owned();
        m.apply(&Action::Open {
            path: dir.clone(),
            mode: OpenMode::Directory,
            handle: handle.clone(),
        });
        if let Outcome::Ok(Value::Dirents { entries }) = m.apply(&Action::Getdents {
            handle: handle.clone(),
            buffer: 1 << 16,
        }) {
            for d in entries.iter().filter(|d| d.name != "." && d.name != "..") {
                if let Outcome::Ok(Value::Stat(st)) = m.apply(&Action::Stat {
                    path: format!("{dir}/{}", d.name),
                }) && st.ino != d.ino
                {
                    return Err(format!(
                        "{dir}/{}: d_ino {} but st_ino {}",
                        d.name, d.ino, st.ino
                    ));
                }
            }
        }
        m.apply(&Action::Close { handle });
        let _ = names;
    }
    m.check_invariants()
        .map_err(|e| format!("after {}: {e}", action.summary()))?;
    if matches!(op, Op::DropCaches) {
        m.check_after_drop_caches()?;
    }
    Ok(())
}

fn run(policy: Policy, ops: &[Op]) -> Result<(), String> {
    let target = format!("{}:0x1000", std::env::current_exe().unwrap().display());
    let mut m = Model::new(policy, ModelConfig::default());
    let mut s = Shadow {
        events: BTreeSet::new(),
        instance: false,
    };
    for op in ops {
        step(&mut m, &mut s, op, &target)?;
    }
    // Closing everything and dropping caches releases every freed ei.
    for h in HANDLES {
        m.apply(&Action::Close { handle: h.into() });
    }
    m.apply(&Action::Chdir {
        path: "events".into(),
    });
    m.drop_caches();
    m.check_after_drop_caches()?;
    match m.eis.iter().find(|e| e.is_freed && !e.released) {
        Some(e) => Err(format!(
            "ei {}#{} freed but never released",
            e.path, e.generation
        )),
        None => Ok(()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_under_6_17(ops in proptest::collection::vec(op(), 1..40)) {
        prop_assert_eq!(run(Policy::V6_17, &ops), Ok(()));
    }

    #[test]
    fn invariants_hold_under_6_10(ops in proptest::collection::vec(op(), 1..40)) {
        prop_assert_eq!(run(Policy::V6_10, &ops), Ok(()));
    }

    #[test]
    fn invariants_hold_under_6_8(ops in proptest::collection::vec(op(), 1..40)) {
        prop_assert_eq!(run(Policy::V6_8, &ops), Ok(()));
    }

    #[test]
    fn invariants_hold_under_6_6(ops in proptest::collection::vec(op(), 1..40)) {
        prop_assert_eq!(run(Policy::V6_6, &ops), Ok(()));
    }

    #[test]
    fn invariants_hold_before_eventfs(ops in proptest::collection::vec(op(), 1..40)) {
        prop_assert_eq!(run(Policy::PreEventfs, &ops), Ok(()));
    }
}
