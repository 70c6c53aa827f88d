//! Drawing a case. Each next step is chosen from the state the steps before it left, as a
//! scratch model answered them: mostly what is meaningful now (remove an event that exists,
//! read a handle that is open, seek to an offset a listing returned, chdir into a live event),
//! with a share of what must fail (removing what is gone, reading a closed handle, namespace
//! operations tracefs refuses). The host is never asked: the same seed gives the same cases.

use std::collections::BTreeMap;

use super::{
    rng::Rng,
    universe::{EVENTS, HANDLES, Universe},
};
use crate::{
    interface::{Action, ControlFile, OpenMode, Outcome, Target, Value},
    model::Model,
};

/// Files every event directory has, and those of a group and of an instance.
const EVENT_FILES: [&str; 5] = ["enable", "filter", "trigger", "format", "id"];
const GROUP_FILES: [&str; 2] = ["enable", "filter"];
const INSTANCE_FILES: [&str; 4] = ["trace", "trace_pipe", "tracing_on", "set_event"];
const BUFFERS: [usize; 8] = [0, 16, 24, 48, 64, 100, 200, 32768];
const READ_LENS: [usize; 4] = [1, 4, 16, 4096];
const MODES: [u32; 5] = [0o600, 0o640, 0o644, 0o700, 0o755];
const IDS: [u32; 3] = [0, 1, 1000];

/// An open handle as the scratch model answered its open.
#[derive(Debug, Clone)]
struct Held {
    path: String,
    dir: bool,
    /// The d_offs the last getdents on it returned.
    offsets: Vec<i64>,
}

/// What the steps so far left.
pub struct State<'u> {
    universe: &'u Universe,
    own: String,
    groups: [String; 2],
    /// Live events, by group and event index, with the control file that made them.
    live: BTreeMap<(usize, usize), ControlFile>,
    instance: bool,
    handles: [Option<Held>; 3],
    /// Handles opened once and closed since, for the share of steps that misuse them.
    closed: [bool; 3],
    /// The current directory below the root, as the last chdir that succeeded left it.
    cwd: Option<String>,
}

/// What a step is, before its arguments are drawn.
#[derive(Clone, Copy)]
enum Kind {
    Create,
    Remove,
    Instance,
    Open,
    OpenAt,
    Read,
    Write,
    Close,
    Fstat,
    Getdents,
    Tell,
    Seek,
    List,
    Stat,
    ReadFile,
    WriteFile,
    Chdir,
    Fchdir,
    Getcwd,
    Chmod,
    Chown,
    Refused,
    DropCaches,
    Remount,
}

impl<'u> State<'u> {
    pub fn new(universe: &'u Universe, own: &str) -> Self {
        State {
            universe,
            own: own.to_owned(),
            groups: Universe::groups(own),
            live: BTreeMap::new(),
            instance: false,
            handles: [None, None, None],
            closed: [false; 3],
            cwd: None,
        }
    }

    /// `events` at the top or in the instance (when it lives, or now and then when not).
    fn events_base(&self, rng: &mut Rng) -> String {
        if (self.instance && rng.chance(30)) || rng.chance(3) {
            format!("instances/{}/events", self.own)
        } else {
            "events".to_owned()
        }
    }

    /// A group and event: a live one mostly, any otherwise.
    fn event(&self, rng: &mut Rng) -> (usize, usize) {
        let live: Vec<&(usize, usize)> = self.live.keys().collect();
        if !live.is_empty() && rng.chance(85) {
            **rng.pick(&live)
        } else {
            (rng.below(2), rng.below(EVENTS.len()))
        }
    }

    /// A directory: an event's, a group's, `events` itself, or the instance's.
    fn dir(&self, rng: &mut Rng) -> String {
        let base = self.events_base(rng);
        let (g, e) = self.event(rng);
        match rng.weighted(&[5, 4, 2, 1]) {
            0 => format!("{base}/{}/{}", self.groups[g], EVENTS[e]),
            1 => format!("{base}/{}", self.groups[g]),
            2 => base,
            _ => format!("instances/{}", self.own),
        }
    }

    /// A directory of the case's own objects, for what changes one: elsewhere the host would
    /// only skip it (tracefs's own top directories are not the run's).
    fn own_dir(&self, rng: &mut Rng) -> String {
        let dir = self.dir(rng);
        if dir.contains(&self.own) {
            dir
        } else {
            format!("{dir}/{}", self.groups[rng.below(2)])
        }
    }

    /// A file: of an event, of a group, of the instance, or `./` one in the current directory.
    fn file(&self, rng: &mut Rng) -> String {
        if self.cwd.is_some() && rng.chance(20) {
            return format!("./{}", rng.pick(&EVENT_FILES));
        }
        let base = self.events_base(rng);
        let (g, e) = self.event(rng);
        match rng.weighted(&[8, 2, 1]) {
            0 => format!(
                "{base}/{}/{}/{}",
                self.groups[g],
                EVENTS[e],
                rng.pick(&EVENT_FILES)
            ),
            1 => format!("{base}/{}/{}", self.groups[g], rng.pick(&GROUP_FILES)),
            _ => format!("instances/{}/{}", self.own, rng.pick(&INSTANCE_FILES)),
        }
    }

    /// What writing to a file of this name says: meaningful values and refused ones. `None`
    /// for triggers: their command language is not modelled (a trigger also soft-enables its
    /// event, which then cannot be removed), so none is written.
    fn data(&self, path: &str, rng: &mut Rng) -> Option<String> {
        let (g, e) = self.event(rng);
        let (group, event) = (self.groups[g].as_str(), EVENTS[e]);
        Some(match path.rsplit('/').next().unwrap_or_default() {
            "enable" | "tracing_on" => rng.pick(&["1", "0", "2", "x"]).to_string(),
            "filter" => rng.pick(&["common_pid < 0", "0"]).to_string(),
            "trigger" => return None,
            "set_event" => match rng.below(5) {
                0 => format!("{group}:{event}"),
                1 => format!("!{group}:{event}"),
                2 => format!("{group}:"),
                3 => event.to_owned(),
                _ => "nonsense".to_owned(),
            },
            _ => "1".to_owned(),
        })
    }

    /// A handle that is open (mostly) or was closed; `None` when neither.
    fn used_handle(&self, rng: &mut Rng, want_dir: Option<bool>) -> Option<usize> {
        let open: Vec<usize> = (0..HANDLES.len())
            .filter(|&i| {
                self.handles[i]
                    .as_ref()
                    .is_some_and(|h| want_dir.is_none_or(|d| h.dir == d))
            })
            .collect();
        let closed: Vec<usize> = (0..HANDLES.len()).filter(|&i| self.closed[i]).collect();
        if !open.is_empty() && (closed.is_empty() || rng.chance(92)) {
            Some(*rng.pick(&open))
        } else if !closed.is_empty() {
            Some(*rng.pick(&closed))
        } else {
            None
        }
    }

    fn kind(&self, rng: &mut Rng) -> Kind {
        use Kind::*;
        let kinds = [
            Create, Remove, Instance, Open, OpenAt, Read, Write, Close, Fstat, Getdents, Tell,
            Seek, List, Stat, ReadFile, WriteFile, Chdir, Fchdir, Getcwd, Chmod, Chown, Refused,
            DropCaches, Remount,
        ];
        // Meaningful now: make something when nothing lives, use what is open, read a
        // directory on from where a seek left it.
        let nothing_live = self.live.is_empty();
        let dir_open = self.handles.iter().flatten().any(|h| h.dir);
        let file_open = self.handles.iter().flatten().any(|h| !h.dir);
        let offsets = self.handles.iter().flatten().any(|h| !h.offsets.is_empty());
        let boost = |on: bool, base: u32, more: u32| if on { base + more } else { base };
        let weights = [
            boost(nothing_live, 10, 30),
            8,
            2,
            boost(!dir_open && !file_open, 14, 10),
            boost(dir_open, 1, 3),
            boost(file_open, 2, 10),
            boost(file_open, 2, 6),
            5,
            2,
            boost(dir_open, 2, 20),
            boost(dir_open, 1, 3),
            boost(offsets, 2, 16),
            5,
            6,
            4,
            4,
            3,
            boost(dir_open, 1, 2),
            3,
            2,
            2,
            2,
            1,
            u32::from(self.universe.remount),
        ];
        kinds[rng.weighted(&weights)]
    }

    /// The next step.
    pub fn draw(&self, rng: &mut Rng) -> Action {
        loop {
            if let Some(a) = self.try_draw(rng) {
                return a;
            }
        }
    }

    /// A step of a kind drawn at random, `None` when the state offers it nothing to act on.
    fn try_draw(&self, rng: &mut Rng) -> Option<Action> {
        let handle = |i: usize| HANDLES[i].to_owned();
        Some(match self.kind(rng) {
            Kind::Create => {
                let (g, e) = if rng.chance(85) {
                    (rng.below(2), rng.below(EVENTS.len()))
                } else {
                    self.event(rng)
                };
                let kind = *rng.pick(&self.universe.kinds);
                Action::Control {
                    file: kind.file(),
                    line: self.universe.create_line(kind, &self.groups[g], EVENTS[e]),
                }
            }
            Kind::Remove => {
                let (g, e) = self.event(rng);
                // Removal through the kind's own file mostly; `dynamic_events` takes any.
                let file = match self.live.get(&(g, e)) {
                    Some(f) if rng.chance(80) => *f,
                    _ => rng.pick(&self.universe.kinds).file(),
                };
                Action::Control {
                    file,
                    line: format!("-:{}/{}", self.groups[g], EVENTS[e]),
                }
            }
            Kind::Instance => {
                let path = format!("instances/{}", self.own);
                if self.instance == rng.chance(85) {
                    Action::Rmdir { path }
                } else {
                    Action::Mkdir { path }
                }
            }
            Kind::Open => {
                let free: Vec<usize> = (0..HANDLES.len())
                    .filter(|&i| self.handles[i].is_none())
                    .collect();
                let i = *rng.pick(if free.is_empty() { &[0, 1, 2] } else { &free });
                if rng.chance(45) {
                    Action::Open {
                        path: self.dir(rng),
                        mode: OpenMode::Directory,
                        handle: handle(i),
                    }
                } else {
                    let mode = *rng.pick(&[
                        OpenMode::Read,
                        OpenMode::Read,
                        OpenMode::Write,
                        OpenMode::ReadWrite,
                        OpenMode::Create,
                    ]);
                    Action::Open {
                        path: self.file(rng),
                        mode,
                        handle: handle(i),
                    }
                }
            }
            Kind::OpenAt => {
                let d = self.used_handle(rng, Some(true))?;
                let free = (0..HANDLES.len()).find(|&i| self.handles[i].is_none())?;
                let child = if rng.chance(60) {
                    rng.pick(&EVENT_FILES).to_string()
                } else {
                    rng.pick(&EVENTS).to_string()
                };
                Action::OpenAt {
                    dir: handle(d),
                    path: child,
                    as_handle: handle(free),
                }
            }
            Kind::Read => Action::Read {
                handle: handle(self.used_handle(rng, Some(false))?),
                len: *rng.pick(&READ_LENS),
            },
            Kind::Write => {
                let i = self.used_handle(rng, Some(false))?;
                let path = self.handles[i].as_ref().map_or("", |h| h.path.as_str());
                Action::Write {
                    handle: handle(i),
                    data: self.data(path, rng)?,
                }
            }
            Kind::Close => Action::Close {
                handle: handle(self.used_handle(rng, None)?),
            },
            Kind::Fstat => Action::Fstat {
                handle: handle(self.used_handle(rng, None)?),
            },
            Kind::Getdents => Action::Getdents {
                handle: handle(self.used_handle(rng, Some(true))?),
                buffer: *rng.pick(&BUFFERS),
            },
            Kind::Tell => Action::Tell {
                handle: handle(self.used_handle(rng, Some(true))?),
            },
            Kind::Seek => {
                let i = self.used_handle(rng, Some(true))?;
                let offsets = self.handles[i].as_ref().map(|h| h.offsets.clone());
                let pos = match offsets {
                    Some(o) if !o.is_empty() && rng.chance(70) => *rng.pick(&o),
                    _ if rng.chance(60) => 0,
                    _ if rng.chance(20) => -1,
                    _ => rng.below(16) as i64,
                };
                Action::Seek {
                    handle: handle(i),
                    pos,
                }
            }
            Kind::List => Action::list(self.dir(rng)),
            Kind::Stat => Action::Stat {
                path: if rng.chance(50) {
                    self.dir(rng)
                } else {
                    self.file(rng)
                },
            },
            Kind::ReadFile => Action::ReadFile {
                path: self.file(rng),
            },
            Kind::WriteFile => {
                let path = self.file(rng);
                let data = self.data(&path, rng)?;
                Action::WriteFile { path, data }
            }
            Kind::Chdir => Action::Chdir {
                path: if self.cwd.is_some() && rng.chance(15) {
                    ".".to_owned()
                } else {
                    self.dir(rng)
                },
            },
            Kind::Fchdir => Action::Fchdir {
                handle: handle(self.used_handle(rng, Some(true))?),
            },
            Kind::Getcwd => Action::Getcwd,
            Kind::Chmod => Action::Chmod {
                path: if rng.chance(50) {
                    self.own_dir(rng)
                } else {
                    self.file(rng)
                },
                mode: *rng.pick(&MODES),
            },
            Kind::Chown => Action::Chown {
                path: self.file(rng),
                uid: rng.chance(70).then(|| *rng.pick(&IDS)),
                gid: rng.chance(50).then(|| *rng.pick(&IDS)),
            },
            Kind::Refused => {
                let dir = self.own_dir(rng);
                match rng.below(5) {
                    0 => Action::Mkdir {
                        path: format!("{dir}/new"),
                    },
                    1 => Action::Rmdir { path: dir },
                    2 => Action::Unlink {
                        path: self.file(rng),
                    },
                    3 => Action::Rename {
                        from: dir,
                        to: format!("events/{}", self.groups[1]),
                    },
                    _ => Action::Open {
                        path: format!("{dir}/new"),
                        mode: OpenMode::Create,
                        handle: handle(rng.below(HANDLES.len())),
                    },
                }
            }
            Kind::DropCaches => Action::DropCaches,
            Kind::Remount => Action::Remount {
                options: rng
                    .pick(&["uid=1000", "gid=1000", "uid=0,gid=0"])
                    .to_string(),
            },
        })
    }

    /// Follows what the scratch model answered `a`.
    pub fn observe(&mut self, a: &Action, outcome: &Outcome) {
        let slot = |h: &str| HANDLES.iter().position(|x| *x == h);
        let Outcome::Ok(value) = outcome else {
            return;
        };
        match a {
            Action::Control { file, line } => {
                let Some((spec, name)) = line
                    .split_whitespace()
                    .next()
                    .and_then(|s| s.split_once(':'))
                else {
                    return;
                };
                let Some((g, e)) = name.split_once('/').and_then(|(g, e)| {
                    Some((
                        self.groups.iter().position(|x| x == g)?,
                        EVENTS.iter().position(|x| *x == e)?,
                    ))
                }) else {
                    return;
                };
                if spec.starts_with('-') {
                    self.live.remove(&(g, e));
                } else {
                    self.live.entry((g, e)).or_insert(*file);
                }
            }
            Action::Mkdir { .. } => self.instance = true,
            Action::Rmdir { .. } => self.instance = false,
            Action::Open { path, mode, handle } => {
                if let Some(i) = slot(handle) {
                    self.handles[i] = Some(Held {
                        path: path.clone(),
                        dir: *mode == OpenMode::Directory,
                        offsets: Vec::new(),
                    });
                }
            }
            Action::OpenAt {
                dir,
                path,
                as_handle,
            } => {
                let at = slot(dir).and_then(|i| self.handles[i].clone());
                if let (Some(i), Some(at)) = (slot(as_handle), at) {
                    self.handles[i] = Some(Held {
                        path: format!("{}/{path}", at.path),
                        dir: EVENTS.contains(&path.as_str()),
                        offsets: Vec::new(),
                    });
                }
            }
            Action::Close { handle } => {
                if let Some(i) = slot(handle) {
                    self.handles[i] = None;
                    self.closed[i] = true;
                }
            }
            Action::Getdents { handle, .. } => {
                if let (Some(i), Value::Dirents { entries }) = (slot(handle), value)
                    && let Some(h) = &mut self.handles[i]
                {
                    h.offsets = entries.iter().map(|d| d.off).collect();
                }
            }
            Action::Chdir { path } if path != "." => self.cwd = Some(path.clone()),
            Action::Fchdir { handle } => {
                self.cwd =
                    slot(handle).and_then(|i| self.handles[i].as_ref().map(|h| h.path.clone()));
            }
            _ => {}
        }
    }
}

/// A case of `len` steps for objects named `own`, each drawn from the state the scratch
/// `model` (a fresh copy of the judge's) is in after the steps before it.
pub fn case(
    rng: &mut Rng,
    universe: &Universe,
    own: &str,
    mut model: Model,
    len: usize,
) -> Vec<Action> {
    let mut state = State::new(universe, own);
    let mut steps = Vec::with_capacity(len);
    for _ in 0..len {
        let a = state.draw(rng);
        let outcome = model.apply(&a);
        state.observe(&a, &outcome);
        steps.push(a);
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModelConfig, Policy};

    fn universe() -> Universe {
        Universe::new(
            crate::explore::universe::Interfaces::ALL,
            crate::host::uprobe_target().unwrap(),
            true,
        )
    }

    #[test]
    fn the_same_seed_gives_the_same_case() {
        let u = universe();
        let model = Model::new(Policy::V6_17, ModelConfig::default());
        let a = case(&mut Rng::new(3), &u, "rethfs_1_0", model.clone(), 40);
        let b = case(&mut Rng::new(3), &u, "rethfs_1_0", model.clone(), 40);
        let c = case(&mut Rng::new(4), &u, "rethfs_1_0", model, 40);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    /// Every op of the format comes out of the generator, every case is a valid scenario,
    /// and most steps act on something that exists.
    #[test]
    fn every_op_is_reachable_and_every_case_is_valid() {
        let u = universe();
        let model = Model::new(Policy::V6_17, ModelConfig::default());
        let mut rng = Rng::new(11);
        let mut ops = std::collections::BTreeSet::new();
        let (mut ok, mut all) = (0, 0);
        // Each kind of event by its control file, its line's type letter and its place (an
        // eprobe's names its own group: written as `g`).
        let shape = |file: ControlFile, line: &str| {
            let (head, place) = line.split_once(' ')?;
            let group = head.split_once(':')?.1.split('/').next()?;
            let place = place.replace(group, "g");
            Some((file.file_name(), head.chars().next()?, place))
        };
        let mut kinds = std::collections::BTreeSet::new();
        for n in 0..300 {
            let own = format!("rethfs_1_{n}");
            let steps = case(&mut rng, &u, &own, model.clone(), 12);
            ops.extend(steps.iter().map(Action::op));
            kinds.extend(steps.iter().filter_map(|a| match a {
                Action::Control { file, line } => shape(*file, line),
                _ => None,
            }));
            let s = crate::scenario::Scenario::from_actions("c", "d", steps.clone())
                .unwrap_or_else(|e| panic!("{e}: {steps:?}"));
            let t = crate::scenario::run(&mut model.clone(), &s);
            ok += t.steps.iter().filter(|s| s.outcome.is_ok()).count();
            all += t.steps.len();
        }
        let every = [
            "control",
            "mkdir",
            "rmdir",
            "unlink",
            "rename",
            "stat",
            "open",
            "read",
            "write",
            "close",
            "fstat",
            "getdents",
            "tell",
            "seek",
            "open-at",
            "list",
            "read-file",
            "write-file",
            "chdir",
            "fchdir",
            "getcwd",
            "chmod",
            "chown",
            "remount",
            "drop-caches",
        ];
        for op in every {
            assert!(ops.contains(op), "{op} never generated");
        }
        for k in &u.kinds {
            let made = shape(k.file(), &u.create_line(*k, "g", "e")).unwrap();
            assert!(kinds.contains(&made), "{k:?} never made");
        }
        assert!(ok * 2 > all, "only {ok} of {all} steps succeeded");
    }
}
