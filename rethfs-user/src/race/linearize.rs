//! Is a history linearizable against the model? Wing & Gong's search, with Porcupine's
//! memo of visited (calls linearized, model state) pairs; partitioning is [`super::partition`].
//!
//! Written here rather than taken from `stateright` (whose tester wants the whole system as
//! its own actor model) or `porcupine` (Go): the model is an existing `Target` whose state is
//! a large arena, cloned only where the search branches, and two kinds of call are not plain
//! operations:
//!
//! - *Observers* (`stat`, `fstat`, `read-file`, and a `list` that failed, whose directory the
//!   model holds open from the first state it is there, as the kernel's listing held its fd)
//!   change nothing the search compares, so each is placed greedily at the first state that
//!   gives its result:
//!   moving a read-only call earlier, to a point its real-time window allows, never invalidates
//!   the rest of an order. A stat is a lookup then a getattr: one that a removal of its path
//!   overlaps may find the file and then report it unlinked (nlink 0, seen on 6.1), so its
//!   link count is then taken from the state it is placed at.
//! - *Listings* (a `list` that succeeded) are not atomic: getdents runs while others create and
//!   remove. A listing's window in the order runs from when every call that returned before
//!   it began is placed to when the first call that began after it returned is; every name
//!   present in every state of that window must appear, every name it gives must be present
//!   in some state of it, and no name twice unless it went and came back within the window
//!   (two files of one name, each of which POSIX lets a reader see or not; seen in 6.12 and
//!   7.2 when a removal and a re-creation overtake eventfs_iterate's walk). It ends as soon as what it returned fits what its
//!   window saw (a wider window only ever helps the listing itself), so it never branches.
//!   A group's listing may also give the group's own files alone while a control write
//!   making or removing its events is in flight: eventfs makes a group's directory (with
//!   `enable` and `filter`) before its event's and removes it after (`event_subsystem_dir`,
//!   `remove_event_file_dir`), a state no single call leaves.
//!
//! Everything else is a *step*, applied to the model in the order the search tries.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::{Budget, history::Call};
use crate::{
    check::compare,
    interface::{Action, Errno, FileKind, Outcome, StatInfo, Target, Value},
    model::{Model, Policy},
};

/// The names of a directory's entries.
type Names = BTreeSet<String>;

/// What the search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Linearizable {
    Yes,
    /// No order works. `culprit` is the call every order that went furthest could not
    /// place: the first to return among those left (an index into the calls).
    No {
        culprit: usize,
    },
    /// The search gave up after its budget of nodes or time.
    Unknown {
        nodes: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Step,
    Observer,
    Listing,
}

/// Whether `c` changes the state the search compares (a step), rather than only reading it.
pub fn is_step(c: &Call) -> bool {
    role(c) == Role::Step
}

fn role(c: &Call) -> Role {
    match (&c.action, &c.outcome) {
        (Action::List { .. }, _) => Role::Listing,
        (Action::Stat { .. } | Action::Fstat { .. } | Action::ReadFile { .. }, _) => Role::Observer,
        _ => Role::Step,
    }
}

/// What a listing has seen of its directory so far in the order being tried.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct Views {
    /// Names in every state of the window (a state where the directory was missing has none).
    always: BTreeSet<String>,
    /// Names in some state of the window.
    ever: BTreeSet<String>,
    /// Names that were missing from a state after one that had them, and how many times
    /// each came back after that: each return is another file a listing may give.
    returns: BTreeMap<String, usize>,
    /// Names of the window's last state.
    last: BTreeSet<String>,
    /// States in which the directory could be listed.
    listable: usize,
    /// Whether the model holds the directory open for a listing that failed, as the kernel's
    /// held it from its open on (opened at the first state the directory was there): a
    /// directory removed under an open handle fails the reads that follow.
    held: bool,
    /// The listing failed: it may end at any state that gives its error, as an observer.
    failed: bool,
    /// The directory's own files (not its subdirectories) from the first state it was there
    /// in; eventfs makes them with the directory and keeps them until it goes.
    files: Option<BTreeSet<String>>,
}

#[derive(Clone)]
struct State {
    model: Model,
    /// Open listings by call index.
    open: BTreeMap<usize, Views>,
}

/// One thing the search did, in order; replayed to rebuild a state it backtracks to.
#[derive(Debug, Clone, Copy)]
enum Entry {
    Placed(usize),
    /// A listing's window opened (its first view taken).
    Opened(usize),
}

/// Branching points between two kept states: backtracking to a point replays at most this
/// many points' worth of calls from the state kept before it. A state (the model seeded
/// with a distribution kernel's tree) is about 2 MB and takes 2 ms to copy; keeping one per
/// point would hold gigabytes on a long history.
const CHECKPOINT_EVERY: usize = 256;

/// States kept at once: past this, every other older one is let go (the first stays), so a
/// deep search holds a bounded number of models, each as large as the history has made it,
/// and backtracking far replays further.
const KEPT_STATES: usize = 8;

/// The search over one history (one partition of one).
struct Search<'h> {
    calls: &'h [Call],
    roles: Vec<Role>,
    id_read: Vec<bool>,
    /// Per call: whether a removal of what it works on overlaps it (see [`Search::gives`]).
    removed_under: Vec<bool>,
    /// Per call: whether a control write making what it works on overlaps it.
    made_under: Vec<bool>,
    /// Per call: whether an instance's mkdir or rmdir overlapping it may show the instance
    /// half made or half removed where the call looks (see [`half_instance`]).
    half_instance: Vec<bool>,
    /// Per call: the uids and gids remounts overlapping it set (see [`remount_owners`]).
    remount_owners: Vec<(BTreeSet<u32>, BTreeSet<u32>)>,
    /// Per listing of a group: the events control writes overlapping it make or remove, and
    /// those writes.
    in_flight: Vec<(BTreeSet<String>, Vec<usize>)>,
    /// What each in-flight write makes of a missing group's directory (see
    /// [`Search::half_made`]).
    made: std::cell::RefCell<HashMap<(String, String), Option<Names>>>,
    /// The files each listed directory had when the search saw it exist.
    own_files: std::cell::RefCell<HashMap<String, Names>>,
    /// A random key per call; a set of placed calls hashes to the XOR of its keys.
    keys: Vec<u64>,
    placed: Vec<bool>,
    placed_hash: u64,
    /// Unplaced calls by return time: the first is the one every next call must precede.
    unplaced: BTreeSet<(u64, usize)>,
    log: Vec<Entry>,
    /// States kept at some branching points, with the log length there.
    checkpoints: Vec<(usize, Option<State>)>,
    branch_depth: usize,
    /// Unplaced calls by index, which is call-time order: a node looks only at these, not at
    /// every call since the oldest unplaced one (a held listing stays unplaced for thousands).
    pending: BTreeSet<usize>,
    memo: HashSet<(u64, u64, u64)>,
    backtracked: bool,
    /// The most calls any order placed, and the call it then waited for.
    deepest: usize,
    culprit: usize,
    nodes: u64,
    budget: Budget,
    started: std::time::Instant,
}
/// The names `dir` lists in `model` now, or none if it cannot be listed.
fn names(model: &mut Model, dir: &str) -> Option<BTreeSet<String>> {
    let out = model.apply(&Action::list(dir));
    model.take_lifetimes();
    match out {
        Outcome::Ok(Value::Names { names }) => Some(names.into_iter().collect()),
        _ => None,
    }
}

/// Which of `names` in `dir` are not directories in `model` now.
fn files(model: &mut Model, dir: &str, names: &BTreeSet<String>) -> BTreeSet<String> {
    let files = names
        .iter()
        .filter(|n| {
            !matches!(
                model.apply(&Action::Stat {
                    path: format!("{dir}/{n}")
                }),
                Outcome::Ok(Value::Stat(StatInfo {
                    kind: FileKind::Dir,
                    ..
                }))
            )
        })
        .cloned()
        .collect();
    model.take_lifetimes();
    files
}

/// The model's handle for listing `l`'s directory (no thread's handle has a `#`).
fn list_handle(l: usize) -> String {
    format!("#list.{l}")
}

/// Opens listing `l`'s directory in the model if it is there and not yet held.
fn hold(model: &mut Model, views: &mut Views, l: usize, dir: &str) {
    if !views.failed || views.held || views.listable == 0 {
        return;
    }
    let opened = model.apply(&Action::Open {
        path: dir.into(),
        mode: crate::interface::OpenMode::Directory,
        handle: list_handle(l),
    });
    model.take_lifetimes();
    views.held = opened.is_ok();
}

/// What reading `handle` from its start to the end gives, as `list` reads: the first error,
/// or `Done`.
fn read_to_error(model: &mut Model, handle: &str) -> Outcome {
    model.apply(&Action::Seek {
        handle: handle.into(),
        pos: 0,
    });
    // A directory ends within a few reads; the bound only guards a model that never ends.
    for _ in 0..4096 {
        match model.apply(&Action::Getdents {
            handle: handle.into(),
            buffer: 32768,
        }) {
            Outcome::Ok(Value::Dirents { entries }) if !entries.is_empty() => {}
            Outcome::Err(e) => return Outcome::Err(e),
            _ => break,
        }
    }
    Outcome::Ok(Value::Done)
}

impl Views {
    fn first(model: &mut Model, dir: &str) -> Views {
        let seen = names(model, dir);
        let files = seen.as_ref().map(|n| files(model, dir, n));
        Views {
            listable: usize::from(seen.is_some()),
            always: seen.clone().unwrap_or_default(),
            ever: seen.clone().unwrap_or_default(),
            returns: BTreeMap::new(),
            last: seen.unwrap_or_default(),
            held: false,
            failed: false,
            files,
        }
    }

    /// Adds the state `model` is in now.
    fn add(&mut self, model: &mut Model, dir: &str) {
        let seen = names(model, dir);
        if seen.is_some() && self.files.is_none() {
            self.files = seen.as_ref().map(|n| files(model, dir, n));
        }
        self.listable += usize::from(seen.is_some());
        let seen = seen.unwrap_or_default();
        self.always.retain(|n| seen.contains(n));
        for n in seen.difference(&self.last) {
            if self.ever.contains(n) {
                *self.returns.entry(n.clone()).or_default() += 1;
            }
        }
        self.ever.extend(seen.iter().cloned());
        self.last = seen;
    }

    /// Whether the names a listing returned fit what its window saw.
    fn fits(&self, got: &[String]) -> bool {
        let mut times: BTreeMap<&String, usize> = BTreeMap::new();
        for n in got {
            *times.entry(n).or_default() += 1;
        }
        self.listable > 0
            && times.iter().all(|(n, &k)| {
                self.ever.contains(*n) && k <= 1 + self.returns.get(*n).copied().unwrap_or(0)
            })
            && self.always.iter().all(|n| times.contains_key(n))
    }

    /// Whether `got` is the group half made or half removed: its own files and nothing
    /// else, where every event the window always saw is one of `in_flight`'s, the events
    /// control writes overlapping the listing make or remove.
    fn half(&self, got: &[String], in_flight: &BTreeSet<String>) -> bool {
        let Some(files) = &self.files else {
            return false;
        };
        let got: BTreeSet<&String> = got.iter().collect();
        !in_flight.is_empty()
            && got.len() == files.len()
            && files.iter().all(|f| got.contains(f))
            && self
                .always
                .iter()
                .all(|n| files.contains(n) || in_flight.contains(n))
    }
}

/// The calls of a history that may change what others see (control writes, writes, rmdirs),
/// ordered to find those overlapping a given call in real time without scanning them all:
/// a long history has tens of thousands of readers' calls and a few thousand of these.
struct Changes<'c> {
    calls: &'c [Call],
    /// Indices of the changing calls, by call time.
    by_start: Vec<usize>,
    /// The longest of them: one overlapping a call began at most this long before it.
    longest: u64,
}

impl<'c> Changes<'c> {
    fn new(calls: &'c [Call]) -> Self {
        let mut by_start: Vec<usize> = (0..calls.len())
            .filter(|&i| {
                matches!(
                    calls[i].action,
                    Action::Control { .. }
                        | Action::WriteFile { .. }
                        | Action::Mkdir { .. }
                        | Action::Rmdir { .. }
                        | Action::Remount { .. }
                )
            })
            .collect();
        by_start.sort_by_key(|&i| calls[i].call_ns);
        let longest = by_start
            .iter()
            .map(|&i| calls[i].ret() - calls[i].call_ns)
            .max()
            .unwrap_or(0);
        Changes {
            calls,
            by_start,
            longest,
        }
    }

    /// The changing calls that overlap `c` in real time.
    fn overlapping(&self, c: &Call) -> impl Iterator<Item = usize> + '_ {
        let start = |i: &usize| self.calls[*i].call_ns;
        let from = self
            .by_start
            .partition_point(|i| start(i) < c.call_ns.saturating_sub(self.longest));
        let to = self.by_start.partition_point(|i| start(i) < c.ret());
        let (call, ret) = (c.call_ns, c.ret());
        self.by_start[from..to.max(from)]
            .iter()
            .copied()
            .filter(move |&i| call < self.calls[i].ret() && self.calls[i].call_ns < ret)
    }
}

/// For each listing of a group, the control writes overlapping it in real time that make or
/// remove an event in that group, and those events; empty for every other call.
fn in_flight(calls: &[Call]) -> Vec<(BTreeSet<String>, Vec<usize>)> {
    let changes = Changes::new(calls);
    calls
        .iter()
        .map(|l| {
            let Action::List { path, .. } = &l.action else {
                return Default::default();
            };
            let c: Vec<&str> = crate::interface::path::components(path).collect();
            let Some((&group, [.., "events"])) = c.split_last() else {
                return Default::default();
            };
            changes
                .overlapping(l)
                .filter_map(|i| match &calls[i].action {
                    Action::Control { line, .. } => {
                        super::partition::line_event(line).map(|ge| (i, ge))
                    }
                    _ => None,
                })
                .filter(|(_, (g, _))| *g == group)
                .map(|(i, (_, e))| (e.to_owned(), i))
                .unzip()
        })
        .collect()
}

/// Whether `path` lies in group `g`'s directory and, below it, in nothing but event `e`'s.
fn in_event(path: &str, g: &str, e: &str) -> bool {
    let c: Vec<&str> = crate::interface::path::components(path).collect();
    c.windows(2).any(|p| p[0] == "events" && p[1] == g)
        && c.iter()
            .skip_while(|&&x| x != g)
            .nth(1)
            .is_none_or(|&x| x == e)
}

/// Whether call `w` removes `path`: a control line removing its event or group, a write
/// clearing a control file, or an rmdir of it or of a directory above it.
fn removes(w: &Call, path: &str) -> bool {
    match &w.action {
        Action::Control { line, .. } if line.starts_with(['-', '!']) => {
            super::partition::line_event(line).is_some_and(|(g, e)| in_event(path, g, e))
        }
        Action::WriteFile { path: file, .. } => file.ends_with("_events"),
        Action::Rmdir { path: dir } => path
            .strip_prefix(dir.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
        _ => false,
    }
}

/// Whether call `w` makes an event in or at `path`: a control line defining it.
fn makes(w: &Call, path: &str) -> bool {
    match &w.action {
        Action::Control { line, .. } if !line.starts_with(['-', '!']) => {
            super::partition::line_event(line).is_some_and(|(g, e)| in_event(path, g, e))
        }
        _ => false,
    }
}

/// Whether `w`, a mkdir or rmdir of an instance, leaves `path` missing for a while as the
/// instance's other half exists: trace_array_create_dir makes the instance's `events/` tree
/// before its own files (init_tracer_tracefs), and __remove_instance removes that tree first
/// (seen on 7.3: a group of a new instance listed, its `tracing_on` not there yet).
fn half_instance(w: &Call, path: &str) -> bool {
    let below = |dir: &str| {
        path.strip_prefix(dir)
            .and_then(|rest| rest.strip_prefix('/'))
            .map(|rest| crate::interface::path::components(rest).next() == Some("events"))
    };
    match &w.action {
        Action::Mkdir { path: dir } if dir.starts_with("instances/") => below(dir) == Some(false),
        Action::Rmdir { path: dir } if dir.starts_with("instances/") => below(dir) == Some(true),
        _ => false,
    }
}

/// For each call, the uids and gids that remounts overlapping it set. tracefs walks the tree
/// to give it new owners (set_gid before 6.6, eventfs_set_attrs after), so a stat meanwhile
/// may see the old or the new, and what is made during the walk takes its parent's, old or
/// new (seen on 6.1).
fn remount_owners(calls: &[Call]) -> Vec<(BTreeSet<u32>, BTreeSet<u32>)> {
    let changes = Changes::new(calls);
    let id = |options: &str, key: &str| -> Option<u32> {
        options
            .split(',')
            .find_map(|o| o.strip_prefix(key)?.parse().ok())
    };
    calls
        .iter()
        .map(|c| {
            let mut owners: (BTreeSet<u32>, BTreeSet<u32>) = Default::default();
            for w in changes.overlapping(c) {
                if let Action::Remount { options } = &calls[w].action {
                    owners.0.extend(id(options, "uid="));
                    owners.1.extend(id(options, "gid="));
                }
            }
            owners
        })
        .collect()
}

/// For each call, whether a call overlapping it in real time `does` (removes or makes) the
/// path it works on (a getdents: the directory its handle was opened on).
fn under(calls: &[Call], does: fn(&Call, &str) -> bool) -> Vec<bool> {
    let changes = Changes::new(calls);
    let mut opened: std::collections::HashMap<&str, &str> = Default::default();
    calls
        .iter()
        .map(|c| {
            let path = match &c.action {
                Action::Open { path, handle, .. } => {
                    opened.insert(handle, path);
                    Some(path.as_str())
                }
                Action::Stat { path } | Action::ReadFile { path } | Action::List { path, .. } => {
                    Some(path.as_str())
                }
                Action::Getdents { handle, .. } => opened.get(handle.as_str()).copied(),
                _ => None,
            };
            path.is_some_and(|p| changes.overlapping(c).any(|w| does(&calls[w], p)))
        })
        .collect()
}

/// A 64-bit mix (splitmix64), for the calls' keys.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl<'h> Search<'h> {
    fn new(calls: &'h [Call], budget: Budget) -> Self {
        // What each handle was opened on, to know an `id` file when one is read.
        let mut opened: std::collections::HashMap<&str, &str> = Default::default();
        let id_read = calls
            .iter()
            .map(|c| match &c.action {
                Action::Open { path, handle, .. } => {
                    opened.insert(handle, path);
                    false
                }
                Action::Read { handle, .. } => opened
                    .get(handle.as_str())
                    .is_some_and(|p| compare::is_id_file(p)),
                Action::ReadFile { path } => compare::is_id_file(path),
                _ => false,
            })
            .collect();
        Search {
            calls,
            roles: calls.iter().map(role).collect(),
            in_flight: in_flight(calls),
            made: Default::default(),
            own_files: Default::default(),
            removed_under: under(calls, removes),
            made_under: under(calls, makes),
            half_instance: under(calls, half_instance),
            remount_owners: remount_owners(calls),
            checkpoints: Vec::new(),
            branch_depth: 0,
            id_read,
            keys: (0..calls.len() as u64).map(mix).collect(),
            placed: vec![false; calls.len()],
            placed_hash: 0,
            unplaced: calls
                .iter()
                .enumerate()
                .map(|(i, c)| (c.ret(), i))
                .collect(),
            log: Vec::new(),
            pending: (0..calls.len()).collect(),
            memo: HashSet::new(),
            backtracked: false,
            deepest: 0,
            culprit: 0,
            nodes: 0,
            budget,
            started: std::time::Instant::now(),
        }
    }

    fn place(&mut self, i: usize) {
        self.placed[i] = true;
        self.placed_hash ^= self.keys[i];
        self.unplaced.remove(&(self.calls[i].ret(), i));
        self.log.push(Entry::Placed(i));
        self.pending.remove(&i);
    }

    fn undo(&mut self, mark: usize) {
        while self.log.len() > mark {
            if let Some(Entry::Placed(i)) = self.log.pop() {
                self.placed[i] = false;
                self.placed_hash ^= self.keys[i];
                self.unplaced.insert((self.calls[i].ret(), i));
                self.pending.insert(i);
            }
        }
    }

    /// Opens listing `l`'s window at the state now.
    fn open(&mut self, l: usize, st: &mut State) {
        self.open_in(l, st);
        self.log.push(Entry::Opened(l));
    }

    fn open_in(&self, l: usize, st: &mut State) {
        let dir = self.dir(l);
        let mut views = Views::first(&mut st.model, dir);
        views.failed = !matches!(self.calls[l].outcome, Some(Outcome::Ok(_)));
        hold(&mut st.model, &mut views, l, dir);
        self.note_own_files(dir, &views);
        st.open.insert(l, views);
    }

    /// Lets every other older kept state go once more than [`KEPT_STATES`] are kept; the
    /// first and the newest stay.
    fn thin(&mut self) {
        if self.checkpoints.iter().filter(|(_, k)| k.is_some()).count() <= KEPT_STATES {
            return;
        }
        let newest = self.checkpoints.len() - 1;
        let mut drop = false;
        for (_, kept) in &mut self.checkpoints[1..newest] {
            if kept.is_some() {
                if drop {
                    *kept = None;
                }
                drop = !drop;
            }
        }
    }

    /// Rebuilds in `st` the state the log had at length `at`: the last kept state at or
    /// before it, and what was done since replayed. Observers are not replayed: they change
    /// nothing the search compares.
    fn restore(&mut self, st: &mut State, at: usize) {
        let (from, kept) = self
            .checkpoints
            .iter()
            .rev()
            .find_map(|(len, kept)| kept.as_ref().filter(|_| *len <= at).map(|k| (len, k)))
            .expect("a state is kept at the first branching point");
        *st = kept.clone();
        for k in *from..at {
            match self.log[k] {
                Entry::Opened(l) => self.open_in(l, st),
                Entry::Placed(i) => match self.roles[i] {
                    Role::Step => {
                        st.model.apply(&self.calls[i].action);
                        st.model.take_lifetimes();
                        self.add_views(st);
                    }
                    Role::Listing => {
                        let ended = self.ends(i, st);
                        debug_assert!(ended, "a listing replays as it ended");
                    }
                    Role::Observer => {}
                },
            }
        }
    }

    fn add_views(&self, st: &mut State) {
        let open: Vec<usize> = st.open.keys().copied().collect();
        for l in open {
            let dir = self.dir(l);
            let views = st.open.get_mut(&l).expect("open");
            views.add(&mut st.model, dir);
            hold(&mut st.model, views, l, dir);
            self.note_own_files(dir, views);
        }
    }

    /// Keeps the files a group's directory was seen with (they are the same every time it
    /// exists), for a listing that never sees the group itself (see [`Search::half_gone`]).
    fn note_own_files(&self, dir: &str, views: &Views) {
        if let Some(files) = &views.files {
            let mut own = self.own_files.borrow_mut();
            if !own.contains_key(dir) {
                own.insert(dir.to_owned(), files.clone());
            }
        }
    }

    /// Whether `got`, from a listing whose window never had its group, is the group's own
    /// files while a control write removing an event of the group overlaps the listing:
    /// eventfs removes the event's directory before the group's, and a listing may read the
    /// group in between, after the removal's point in the order (seen on 6.12: a stat found
    /// the event gone, then a listing found the group with only `enable` and `filter`).
    fn half_gone(&self, l: usize, got: &[String]) -> bool {
        let removing = self.in_flight[l].1.iter().any(|&w| {
            matches!(&self.calls[w].action, Action::Control { line, .. } if line.starts_with(['-', '!']))
        });
        let got: Names = got.iter().cloned().collect();
        removing && self.own_files.borrow().get(self.dir(l)) == Some(&got)
    }

    /// Whether the model, in its state now, gives call `i` the kernel's result. A call that
    /// a removal or a making of its path overlaps may also see it half done, which no single
    /// call leaves:
    /// - a stat may find the file and then report it unlinked (nlink 0; seen on 6.1): the
    ///   lookup and the getattr are two steps;
    /// - a stat of a directory an event is being made or removed in may count fewer links
    ///   than before and after (seen on 6.1: tracefs makes the group's directory before the
    ///   event's, and removes the event's first);
    /// - an open in an instance may fail with ENODEV (seen on 7.2): `__remove_instance`
    ///   unlists the trace_array before it removes the files, and `trace_array_get` fails;
    /// - a getdents may stop early (seen on 7.2: `.`, `..`, `format`, `id`): eventfs_iterate
    ///   checks `is_freed` before each file; the model's handle then resumes where the
    ///   kernel's stopped;
    /// - what an instance's mkdir makes last, or its rmdir removes first, may be missing
    ///   (see [`half_instance`]);
    /// - a directory an event is being made in may list only some of its entries (6.1), and
    ///   a stat under a remount may show old or new owners (see [`sets_owners`]);
    /// - before eventfs, a file of an event being made may be missing after its directory
    ///   was seen (6.1's event_create_dir makes the directory, then each file), and one of an
    ///   event being removed still found after another was seen gone (the removal takes the
    ///   files one by one).
    fn gives(&self, i: usize, model: &mut Model) -> bool {
        let h = self.calls[i]
            .outcome
            .as_ref()
            .expect("only returned calls are searched");
        if self.half_instance[i] && *h == Outcome::Err(Errno::ENOENT) {
            return true;
        }
        if self.made_under[i]
            && *h == Outcome::Err(Errno::ENOENT)
            && model.policy == Policy::PreEventfs
            && matches!(
                self.calls[i].action,
                Action::Stat { .. } | Action::Open { .. } | Action::ReadFile { .. }
            )
        {
            return true;
        }
        let under = self.removed_under[i];
        if under
            && model.policy == Policy::PreEventfs
            && matches!(h, Outcome::Ok(_))
            && matches!(
                self.calls[i].action,
                Action::Stat { .. } | Action::ReadFile { .. }
            )
        {
            return true;
        }
        if under
            && *h == Outcome::Err(Errno::ENODEV)
            && matches!(
                self.calls[i].action,
                Action::Open { .. } | Action::ReadFile { .. }
            )
        {
            return true;
        }
        let m = model.apply(&self.calls[i].action);
        model.take_lifetimes();
        let trimmed;
        let m = match (h, &m) {
            // Half removed or half made: a file unlinked, a directory short of a link; and
            // owners a remount's walk has or has not reached yet.
            (Outcome::Ok(Value::Stat(hs)), Outcome::Ok(Value::Stat(ms))) => {
                let (uids, gids) = &self.remount_owners[i];
                let half = under || self.made_under[i];
                trimmed = Outcome::Ok(Value::Stat(StatInfo {
                    nlink: if half {
                        hs.nlink.min(ms.nlink)
                    } else {
                        ms.nlink
                    },
                    uid: if uids.contains(&hs.uid) {
                        hs.uid
                    } else {
                        ms.uid
                    },
                    gid: if gids.contains(&hs.gid) {
                        hs.gid
                    } else {
                        ms.gid
                    },
                    ..*ms
                }));
                &trimmed
            }
            // A directory being made, listed before its last files are (6.1 makes an event's
            // files one by one): any of the entries it ends with.
            (
                Outcome::Ok(Value::Dirents { entries: he }),
                Outcome::Ok(Value::Dirents { entries: me }),
            ) if self.made_under[i]
                && he.len() < me.len()
                && he.iter().all(|e| me.iter().any(|m| m.name == e.name)) =>
            {
                h
            }
            (
                Outcome::Ok(Value::Dirents { entries: he }),
                Outcome::Ok(Value::Dirents { entries: me }),
            ) if under && !he.is_empty() && he.len() < me.len() => {
                if let (Action::Getdents { handle, .. }, Some(last)) =
                    (&self.calls[i].action, he.last())
                {
                    model.apply(&Action::Seek {
                        handle: handle.clone(),
                        pos: last.off,
                    });
                    model.take_lifetimes();
                }
                trimmed = Outcome::Ok(Value::Dirents {
                    entries: me[..he.len()].to_vec(),
                });
                &trimmed
            }
            _ => &m,
        };
        compare::agrees_alone(h, m, self.id_read[i]).is_none()
    }

    /// Applies step `i` and adds the state it leaves to every open listing's window.
    fn step(&mut self, i: usize, st: &mut State) -> bool {
        if !self.gives(i, &mut st.model) {
            return false;
        }
        self.add_views(st);
        self.place(i);
        true
    }

    fn dir(&self, l: usize) -> &'h str {
        match &self.calls[l].action {
            Action::List { path, .. } => path,
            _ => unreachable!("only lists are listings"),
        }
    }

    /// Whether `got`, from a listing whose window never had its group, is the group's own
    /// files as a control write in flight over the listing (not yet placed) would make it:
    /// the kernel makes the group's directory before the event's; before eventfs, any of
    /// those files, as 6.1 makes them one by one after the directory. What a write makes where
    /// its group is missing does not depend on the rest of the state: it is worked out once
    /// per command and directory (a copy of the model each time cost more than the search).
    fn half_made(&self, l: usize, model: &Model, got: &[String]) -> bool {
        let dir = self.dir(l);
        let got: BTreeSet<String> = got.iter().cloned().collect();
        self.in_flight[l]
            .1
            .iter()
            .filter(|&&w| !self.placed[w])
            .any(|&w| {
                let mut made = self.made.borrow_mut();
                let key = (self.calls[w].action.summary(), dir.to_owned());
                let files = made.entry(key).or_insert_with(|| {
                    let mut m = model.clone();
                    m.apply(&self.calls[w].action);
                    names(&mut m, dir).map(|n| files(&mut m, dir, &n))
                });
                files.as_ref().is_some_and(|f| {
                    *f == got || (model.policy == Policy::PreEventfs && got.is_subset(f))
                })
            })
    }

    /// Ends listing `l` if its result fits its window so far.
    fn end(&mut self, l: usize, st: &mut State) -> bool {
        if !self.ends(l, st) {
            return false;
        }
        self.place(l);
        true
    }

    /// Whether listing `l` may end now, and if so ends it in `st` (its handle closed). Names
    /// are judged entry by entry over the window. An error is either the directory's now
    /// (an open that failed) or, when the model holds it open, what reading it from the
    /// start gives now (a directory removed under the listing).
    fn ends(&self, l: usize, st: &mut State) -> bool {
        let views = &st.open[&l];
        let handle = list_handle(l);
        let fits = match &self.calls[l].outcome {
            Some(Outcome::Ok(Value::Names { names })) => {
                views.fits(names)
                    || views.half(names, &self.in_flight[l].0)
                    || (views.listable == 0
                        && (self.half_made(l, &st.model, names) || self.half_gone(l, names)))
            }
            Some(got @ Outcome::Err(_)) => {
                let held = views.held;
                let now = st.model.apply(&self.calls[l].action);
                let read = held.then(|| read_to_error(&mut st.model, &handle));
                st.model.take_lifetimes();
                // Opened before a removal it overlaps, read after: a freed ei's directory
                // lists its dots, then EINVAL (eventfs_iterate).
                let freed_under = self.removed_under[l] && *got == Outcome::Err(Errno::EINVAL);
                let half = self.half_instance[l] && *got == Outcome::Err(Errno::ENOENT);
                now == *got || read.as_ref() == Some(got) || freed_under || half
            }
            _ => false,
        };
        if fits && st.open.remove(&l).is_some_and(|v| v.held) {
            st.model.apply(&Action::Close { handle });
            st.model.take_lifetimes();
        }
        fits
    }

    /// Tries to place every unplaced call from state `st`; on failure the placements made
    /// below are undone and `st` is left in no particular state.
    fn search(&mut self, st: &mut State) -> Result<bool, u64> {
        let mark = self.log.len();
        loop {
            let Some(&(min_ret, holder)) = self.unplaced.first() else {
                return Ok(true);
            };
            if self.log.len() >= self.deepest {
                (self.deepest, self.culprit) = (self.log.len(), holder);
            }
            self.nodes += 1;
            // Time is read at every node: on a long history under TCG one node takes ms.
            if self.nodes > self.budget.nodes || self.started.elapsed() > self.budget.time {
                return Err(self.nodes);
            }
            // Observers that fit now are placed; listings that may now begin, begin.
            let mut progressed = false;
            let mut steps = Vec::new();
            let window: Vec<usize> = (self.pending.iter().copied())
                .take_while(|&i| self.calls[i].call_ns < min_ret)
                .collect();
            for i in window {
                if !self.placed[i] {
                    match self.roles[i] {
                        Role::Observer => {
                            if self.gives(i, &mut st.model) {
                                self.place(i);
                                progressed = true;
                            }
                        }
                        Role::Listing => {
                            if !st.open.contains_key(&i) {
                                self.open(i, st);
                            }
                            // A failed listing is placed like an observer, where it fits.
                            if st.open[&i].failed && self.end(i, st) {
                                progressed = true;
                            }
                        }
                        Role::Step => steps.push(i),
                    }
                }
            }
            if progressed {
                continue;
            }
            // The listing every next call waits for ends as soon as its window fits its
            // result: ending it later only matters to itself, and it already fits. Until it
            // fits, only steps can come next.
            if self.roles[holder] == Role::Listing && self.end(holder, st) {
                continue;
            }
            let choices = steps.len();
            if choices == 0 {
                self.undo(mark);
                return Ok(false);
            }
            let try_choice = |s: &mut Self, k: usize, st: &mut State| s.step(steps[k], st);
            if choices == 1 {
                if !try_choice(self, 0, st) {
                    self.undo(mark);
                    return Ok(false);
                }
                continue;
            }
            // Until the search first backtracks it cannot come back to a state, so the memo
            // (whose key hashes the whole model) starts then.
            if self.backtracked {
                let open_hash = {
                    use std::hash::{Hash, Hasher};
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    st.open.hash(&mut h);
                    h.finish()
                };
                let key = (self.placed_hash, st.model.fingerprint(), open_hash);
                if !self.memo.insert(key) {
                    self.undo(mark);
                    return Ok(false);
                }
            }
            let node = self.log.len();
            let kept = self.branch_depth.is_multiple_of(CHECKPOINT_EVERY);
            if kept {
                self.checkpoints.push((node, Some(st.clone())));
                self.thin();
            }
            self.branch_depth += 1;
            for k in 0..choices {
                if k > 0 {
                    self.backtracked = true;
                    self.restore(st, node);
                }
                if try_choice(self, k, st) && self.search(st)? {
                    return Ok(true);
                }
                self.undo(node);
            }
            self.branch_depth -= 1;
            if kept {
                self.checkpoints.pop();
            }
            self.undo(mark);
            return Ok(false);
        }
    }
}

/// Whether `calls` (in call-time order, every one returned) are linearizable from `model`,
/// within `budget`.
pub fn check(calls: &[Call], model: &Model, budget: Budget) -> Linearizable {
    debug_assert!(
        calls.is_sorted_by_key(|c| c.call_ns),
        "calls in call-time order"
    );
    let mut search = Search::new(calls, budget);
    let mut st = State {
        model: model.clone(),
        open: BTreeMap::new(),
    };
    match search.search(&mut st) {
        Ok(true) => Linearizable::Yes,
        Ok(false) => Linearizable::No {
            culprit: search.culprit,
        },
        Err(nodes) => Linearizable::Unknown { nodes },
    }
}

/// Stack for the search: it recurses once per branching point, up to once per call.
const SEARCH_STACK: usize = 1 << 30;

/// [`check`] on a thread of its own with a stack deep enough for a whole history (the
/// stack is reserved, not used, until the search goes deep).
pub fn on_big_stack(calls: &[Call], model: &Model, budget: Budget) -> Linearizable {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("linearize".into())
            .stack_size(SEARCH_STACK)
            .spawn_scoped(s, || check(calls, model, budget))
            .expect("a thread for the search")
            .join()
            .expect("the search does not panic")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        interface::ControlFile,
        model::{ModelConfig, Policy},
    };

    const SMALL: Budget = Budget {
        nodes: 1_000_000,
        ..crate::race::BUDGET
    };

    fn exe() -> String {
        std::env::current_exe().unwrap().display().to_string()
    }

    fn make(e: &str) -> Action {
        Action::Control {
            file: ControlFile::UprobeEvents,
            line: format!("p:g/{e} {}:0x1000", exe()),
        }
    }

    fn remove(e: &str) -> Action {
        Action::Control {
            file: ControlFile::UprobeEvents,
            line: format!("-:g/{e}"),
        }
    }

    fn stat(e: &str) -> Action {
        Action::Stat {
            path: format!("events/g/{e}/enable"),
        }
    }

    fn list() -> Action {
        Action::list("events/g")
    }

    /// Calls `(thread, action, call, return)`, their results those of the model running
    /// them one at a time in `order`.
    fn history(script: &[(usize, Action, u64, u64)], order: &[usize]) -> Vec<Call> {
        history_on(Policy::V6_17, script, order)
    }

    fn history_on(
        policy: Policy,
        script: &[(usize, Action, u64, u64)],
        order: &[usize],
    ) -> Vec<Call> {
        let mut m = Model::new(policy, ModelConfig::default());
        let mut calls: Vec<Call> = script
            .iter()
            .map(|(t, a, c, r)| Call {
                thread: *t,
                action: a.clone(),
                line: 0,
                call_ns: *c,
                return_ns: Some(*r),
                outcome: None,
            })
            .collect();
        for &i in order {
            calls[i].outcome = Some(m.apply(&calls[i].action));
        }
        calls.sort_by_key(|c| c.call_ns);
        calls
    }

    fn verdict(calls: &[Call]) -> Linearizable {
        verdict_on(Policy::V6_17, calls)
    }

    fn verdict_on(policy: Policy, calls: &[Call]) -> Linearizable {
        let model = Model::new(policy, ModelConfig::default());
        on_big_stack(calls, &model, SMALL)
    }

    fn is_no(l: &Linearizable) -> bool {
        matches!(l, Linearizable::No { .. })
    }

    #[test]
    fn a_stat_that_finds_an_event_after_its_removal_returned_is_not_linearizable() {
        let script = [
            (0, make("e"), 0, 10),
            (0, remove("e"), 20, 30),
            (1, stat("e"), 12, 18),
            (1, stat("e"), 32, 40),
        ];
        // Found while it existed, gone after: fine.
        assert_eq!(verdict(&history(&script, &[0, 2, 1, 3])), Linearizable::Yes);
        // The second stat claims what the first saw, after the removal returned.
        let mut stale = history(&script, &[0, 2, 1, 3]);
        stale[3].outcome = stale[1].outcome.clone();
        assert!(is_no(&verdict(&stale)));
        // Overlapping the removal, either answer is allowed.
        let overlapping = [
            (0, make("e"), 0, 10),
            (0, remove("e"), 20, 30),
            (1, stat("e"), 25, 35),
        ];
        assert_eq!(
            verdict(&history(&overlapping, &[0, 2, 1])),
            Linearizable::Yes
        );
        assert_eq!(
            verdict(&history(&overlapping, &[0, 1, 2])),
            Linearizable::Yes
        );
    }

    #[test]
    fn a_listing_is_judged_entry_by_entry_over_its_window() {
        let script = [
            (0, make("a"), 0, 1),
            (0, make("b"), 10, 20),
            (0, remove("a"), 30, 40),
            (1, list(), 5, 35),
        ];
        // Sorted by call time, the listing is the second call.
        let mut calls = history(&script, &[0, 1, 2, 3]);
        // The group's own files (`enable`, `filter`) are there throughout.
        let Some(Outcome::Ok(Value::Names { names: all })) = &calls[1].outcome else {
            panic!("the model lists the group")
        };
        let own: Vec<String> = all.iter().filter(|n| *n != "b").cloned().collect();
        let names = |n: &[&str]| {
            Some(Outcome::Ok(Value::Names {
                names: n.iter().map(|s| s.to_string()).chain(own.clone()).collect(),
            }))
        };
        // `a` then gone, `b` made meanwhile: any mix of the two, each at most once.
        for ok in [&["a"][..], &["b"], &["a", "b"], &[]] {
            calls[1].outcome = names(ok);
            assert_eq!(verdict(&calls), Linearizable::Yes, "{ok:?}");
        }
        calls[1].outcome = names(&["a", "a"]);
        assert!(is_no(&verdict(&calls)), "a name twice");
        calls[1].outcome = names(&["c"]);
        assert!(is_no(&verdict(&calls)), "a name never there");
        // `a` exists through the whole of a listing that ends before its removal begins.
        let mut short = history(&[(0, make("a"), 0, 1), (1, list(), 2, 8)], &[0, 1]);
        short[1].outcome = names(&[]);
        assert!(own.iter().all(|n| n != "a"));
        assert!(is_no(&verdict(&short)), "a name there throughout, missing");
    }

    #[test]
    fn a_name_listed_twice_must_have_gone_and_come_back_within_the_listing() {
        // Seen in the 6.12 and 7.2 VMs: `c2` removed and made again while a listing of its
        // group ran, listed twice (the old entry, then the new one at the list's tail).
        let script = [
            (0, make("a"), 0, 1),
            (0, remove("a"), 10, 20),
            (0, make("a"), 30, 40),
            (1, list(), 5, 45),
        ];
        let mut calls = history(&script, &[0, 1, 2, 3]);
        let Some(Outcome::Ok(Value::Names { names: own })) = &calls[1].outcome else {
            panic!("the model lists the group")
        };
        let own = own.iter().filter(|n| *n != "a").cloned();
        let twice: Vec<String> = own.chain(["a".into(), "a".into()]).collect();
        calls[1].outcome = Some(Outcome::Ok(Value::Names {
            names: twice.clone(),
        }));
        assert_eq!(verdict(&calls), Linearizable::Yes);
        // Thrice is one file more than the window ever had.
        let mut thrice = twice.clone();
        thrice.push("a".into());
        calls[1].outcome = Some(Outcome::Ok(Value::Names { names: thrice }));
        assert!(is_no(&verdict(&calls)), "three files of one name");
        // Without the removal between, the same file twice.
        let kept = [(0, make("a"), 0, 1), (1, list(), 5, 45)];
        let mut calls = history(&kept, &[0, 1]);
        calls[1].outcome = Some(Outcome::Ok(Value::Names { names: twice }));
        assert!(is_no(&verdict(&calls)), "one file twice");
    }

    #[test]
    fn a_stat_may_report_its_file_unlinked_only_while_a_removal_overlaps_it() {
        // Seen in the 6.1 VM: the lookup found `enable`, the removal unlinked it, getattr
        // gave nlink 0.
        let unlinked = |calls: &mut [Call], i: usize| {
            let Some(Outcome::Ok(Value::Stat(s))) = &mut calls[i].outcome else {
                panic!("the stat finds the file")
            };
            s.nlink = 0;
        };
        let racing = [
            (0, make("e"), 0, 10),
            (0, remove("e"), 20, 30),
            (1, stat("e"), 15, 25),
        ];
        let mut calls = history(&racing, &[0, 2, 1]);
        unlinked(&mut calls, 1);
        assert_eq!(verdict(&calls), Linearizable::Yes);
        // Before the removal began, nlink 0 is wrong.
        let early = [
            (0, make("e"), 0, 10),
            (0, remove("e"), 20, 30),
            (1, stat("e"), 12, 18),
        ];
        let mut calls = history(&early, &[0, 2, 1]);
        unlinked(&mut calls, 1);
        assert!(
            is_no(&verdict(&calls)),
            "unlinked with no removal under way"
        );
    }

    #[test]
    fn a_group_being_made_or_removed_may_show_fewer_links_only_meanwhile() {
        // Seen in the 6.1 VM: tracefs makes the group's directory, then the event's inside
        // it, and removes them the other way round; a stat between the two counts one link
        // fewer than the group has before and after.
        let group = || Action::Stat {
            path: "events/g".into(),
        };
        let fewer = |calls: &mut [Call], i: usize| {
            let Some(Outcome::Ok(Value::Stat(s))) = &mut calls[i].outcome else {
                panic!("the stat finds the group")
            };
            s.nlink -= 1;
        };
        let racing = [(0, make("e"), 0, 10), (1, group(), 5, 8)];
        let mut calls = history_on(Policy::PreEventfs, &racing, &[0, 1]);
        fewer(&mut calls, 1);
        assert_eq!(verdict_on(Policy::PreEventfs, &calls), Linearizable::Yes);
        // While the removal runs, the event's directory may be gone and the group's not.
        let removing = [
            (0, make("e"), 0, 10),
            (0, remove("e"), 20, 30),
            (1, group(), 22, 28),
        ];
        let mut calls = history_on(Policy::PreEventfs, &removing, &[0, 2, 1]);
        fewer(&mut calls, 2);
        assert_eq!(verdict_on(Policy::PreEventfs, &calls), Linearizable::Yes);
        // Once the making returned, the group has its event's link.
        let after = [(0, make("e"), 0, 10), (1, group(), 12, 18)];
        let mut calls = history_on(Policy::PreEventfs, &after, &[0, 1]);
        fewer(&mut calls, 1);
        assert!(
            is_no(&verdict_on(Policy::PreEventfs, &calls)),
            "a link missing with no making under way"
        );
    }

    #[test]
    fn an_open_in_an_instance_being_removed_may_fail_with_enodev() {
        let on = || Action::Open {
            path: "instances/i/tracing_on".into(),
            mode: crate::interface::OpenMode::Read,
            handle: "on".into(),
        };
        let mkdir = Action::Mkdir {
            path: "instances/i".into(),
        };
        let rmdir = Action::Rmdir {
            path: "instances/i".into(),
        };
        let enodev =
            |calls: &mut [Call], i: usize| calls[i].outcome = Some(Outcome::Err(Errno::ENODEV));
        let racing = [
            (0, mkdir.clone(), 0, 10),
            (0, rmdir.clone(), 20, 30),
            (1, on(), 15, 25),
        ];
        // The rmdir succeeds (no handle held), the open fails.
        let mut calls = history(&racing, &[0, 1, 2]);
        enodev(&mut calls, 1);
        assert_eq!(verdict(&calls), Linearizable::Yes);
        let early = [(0, mkdir, 0, 10), (0, rmdir, 20, 30), (1, on(), 12, 18)];
        let mut calls = history(&early, &[0, 1, 2]);
        enodev(&mut calls, 1);
        assert!(is_no(&verdict(&calls)), "ENODEV with no rmdir under way");
    }

    #[test]
    fn a_group_may_be_listed_after_its_last_event_went() {
        // Seen on 6.12: the event gone for a stat, its group listed later with its own files.
        let script = [
            (0, make("e"), 0, 5),
            (1, list(), 6, 8),
            (0, remove("e"), 10, 100),
            (2, stat("e"), 20, 25),
            (1, list(), 30, 40),
        ];
        let mut calls = history(&script, &[0, 1, 2, 3, 4]);
        let Some(Outcome::Ok(Value::Names { names })) = calls[1].outcome.clone() else {
            panic!("the model lists the group")
        };
        let own: Vec<String> = names.into_iter().filter(|n| n != "e").collect();
        calls[4].outcome = Some(Outcome::Ok(Value::Names { names: own.clone() }));
        assert_eq!(verdict(&calls), Linearizable::Yes);
        // Once the removal returned, the group is gone.
        let mut after = calls.clone();
        after[2].return_ns = Some(28);
        assert!(
            is_no(&verdict(&after)),
            "the group listed after its removal returned"
        );
    }

    #[test]
    fn a_stat_under_a_remount_may_show_the_owners_before_or_after_it() {
        // Seen on 6.1: set_gid walks the tree while the stat runs.
        let remount = Action::Remount {
            options: "uid=7,gid=8".into(),
        };
        let owned = |uid, gid, during: bool| {
            let (c, r) = if during { (12, 18) } else { (30, 40) };
            let script = [
                (0, make("e"), 0, 5),
                (0, remount.clone(), 10, 20),
                (1, stat("e"), c, r),
            ];
            let mut calls = history(&script, &[0, 1, 2]);
            let Some(Outcome::Ok(Value::Stat(st))) = &mut calls[2].outcome else {
                panic!("the stat finds the event")
            };
            (st.uid, st.gid) = (uid, gid);
            verdict(&calls)
        };
        assert_eq!(owned(0, 0, true), Linearizable::Yes, "not reached yet");
        assert_eq!(owned(7, 0, true), Linearizable::Yes, "uid reached, gid not");
        assert!(is_no(&owned(9, 8, true)), "an owner no one set");
        assert!(
            is_no(&owned(0, 0, false)),
            "the old owners after the remount returned"
        );
    }

    #[test]
    fn a_directory_being_made_may_list_some_of_its_entries() {
        // Seen on 6.1: tracefs makes an event's directory, then its files one by one.
        let open = Action::Open {
            path: "events/g/e".into(),
            mode: crate::interface::OpenMode::Directory,
            handle: "d".into(),
        };
        let getdents = Action::Getdents {
            handle: "d".into(),
            buffer: 32768,
        };
        let listed = |script: &[(usize, Action, u64, u64)]| {
            let mut calls = history_on(Policy::PreEventfs, script, &[0, 1, 2]);
            let Some(Outcome::Ok(Value::Dirents { entries })) = &mut calls[2].outcome else {
                panic!("the directory lists")
            };
            entries.truncate(3);
            verdict_on(Policy::PreEventfs, &calls)
        };
        let making = [
            (0, make("e"), 0, 100),
            (1, open.clone(), 10, 20),
            (1, getdents.clone(), 30, 40),
        ];
        assert_eq!(listed(&making), Linearizable::Yes);
        let made = [
            (0, make("e"), 0, 5),
            (1, open, 10, 20),
            (1, getdents, 30, 40),
        ];
        assert!(
            is_no(&listed(&made)),
            "entries missing once the making returned"
        );
    }

    #[test]
    fn before_eventfs_a_file_of_an_event_being_made_may_be_missing_after_its_directory() {
        // Seen on 6.1 (churn): the group listed with the event, then its `id` not there yet,
        // while the making still ran.
        let read_id = Action::ReadFile {
            path: "events/g/e/id".into(),
        };
        let script = |made_by: u64| {
            [
                (0, make("e"), 0, made_by),
                (1, list(), 10, 20),
                (1, read_id.clone(), 30, 40),
            ]
        };
        let missing = |policy: Policy, made_by: u64| {
            let mut calls = history_on(policy, &script(made_by), &[0, 1, 2]);
            calls[2].outcome = Some(Outcome::Err(Errno::ENOENT));
            verdict_on(policy, &calls)
        };
        assert_eq!(missing(Policy::PreEventfs, 100), Linearizable::Yes);
        assert!(
            is_no(&missing(Policy::PreEventfs, 5)),
            "missing once the making returned"
        );
        assert!(
            is_no(&missing(Policy::V6_17, 100)),
            "eventfs shows an event's files with it"
        );
    }

    #[test]
    fn an_instance_being_made_may_show_its_events_before_its_files() {
        // Seen on 7.3: while mkdir ran, a group of the instance was listed, and then an open
        // of its `tracing_on` still found nothing.
        let mkdir = Action::Mkdir {
            path: "instances/i".into(),
        };
        let on = || Action::Open {
            path: "instances/i/tracing_on".into(),
            mode: crate::interface::OpenMode::Read,
            handle: "on".into(),
        };
        let group = || Action::list("instances/i/events/ftrace");
        let enoent =
            |calls: &mut [Call], i: usize| calls[i].outcome = Some(Outcome::Err(Errno::ENOENT));
        let racing = [
            (0, mkdir.clone(), 0, 100),
            (1, group(), 10, 20),
            (2, on(), 30, 40),
        ];
        let mut calls = history(&racing, &[0, 1, 2]);
        enoent(&mut calls, 2);
        assert_eq!(verdict(&calls), Linearizable::Yes);
        // Once mkdir returned, the files are there.
        let after = [(0, mkdir, 0, 25), (1, group(), 10, 20), (2, on(), 30, 40)];
        let mut calls = history(&after, &[0, 1, 2]);
        enoent(&mut calls, 2);
        assert!(is_no(&verdict(&calls)), "no file after mkdir returned");
    }

    #[test]
    fn a_listing_that_a_removal_overlaps_may_end_in_einval() {
        // The event's ei goes first (the stat finds nothing), the group's after: a listing
        // that opened the group in between reads its dots, then EINVAL (6.12, churn).
        let einval = |script: &[(usize, Action, u64, u64)]| {
            let mut calls = history(script, &[0, 1, 2, 3]);
            let l = calls.iter().position(|c| c.action == list()).unwrap();
            calls[l].outcome = Some(Outcome::Err(Errno::EINVAL));
            verdict(&calls)
        };
        let racing = [
            (0, make("e"), 0, 10),
            (0, remove("e"), 20, 50),
            (1, stat("e"), 22, 25),
            (2, list(), 30, 60),
        ];
        assert_eq!(einval(&racing), Linearizable::Yes);
        let after = [
            (0, make("e"), 0, 10),
            (0, remove("e"), 20, 50),
            (1, stat("e"), 22, 25),
            (2, list(), 52, 60),
        ];
        assert!(is_no(&einval(&after)), "EINVAL with no removal under way");
    }

    #[test]
    fn a_getdents_that_a_removal_overlaps_may_stop_early() {
        let open = Action::Open {
            path: "events/g/e".into(),
            mode: crate::interface::OpenMode::Directory,
            handle: "d".into(),
        };
        let getdents = || Action::Getdents {
            handle: "d".into(),
            buffer: 32768,
        };
        let cut = |calls: &mut [Call], i: usize| {
            let Some(Outcome::Ok(Value::Dirents { entries })) = &mut calls[i].outcome else {
                panic!("the event's directory lists")
            };
            assert!(entries.len() > 3);
            entries.truncate(3);
        };
        // The model's handle resumes where the kernel's stopped: the next read is the rest.
        let script = |r0: u64| {
            [
                (0, make("e"), 0, 1),
                (1, open.clone(), 2, 3),
                (1, getdents(), 4, 10),
                (0, remove("e"), r0, 20),
            ]
        };
        let mut calls = history(&script(8), &[0, 1, 2, 3]);
        cut(&mut calls, 2);
        assert_eq!(verdict(&calls), Linearizable::Yes);
        let mut calls = history(&script(12), &[0, 1, 2, 3]);
        cut(&mut calls, 2);
        assert!(
            is_no(&verdict(&calls)),
            "stopped early with no removal under way"
        );
    }

    #[test]
    fn a_group_being_made_or_removed_lists_with_only_its_own_files() {
        let own = |calls: &mut [Call], l: usize| {
            calls[l].outcome = Some(Outcome::Ok(Value::Names {
                names: vec!["filter".into(), "enable".into()],
            }))
        };
        // Seen in the 6.12 VM: two listings one after the other, both inside the `p:` that
        // made the group, both gave the group without its event.
        let made = [(0, make("e"), 0, 10), (1, list(), 2, 4), (1, list(), 5, 8)];
        let mut calls = history(&made, &[0, 1, 2]);
        own(&mut calls, 1);
        own(&mut calls, 2);
        assert_eq!(verdict(&calls), Linearizable::Yes);
        let removed = [
            (0, make("e"), 0, 10),
            (0, remove("e"), 20, 30),
            (1, list(), 22, 24),
            (1, list(), 25, 28),
        ];
        let mut calls = history(&removed, &[0, 2, 1, 3]);
        own(&mut calls, 2);
        assert_eq!(verdict(&calls), Linearizable::Yes);
        // Not while another event stays in the group: the kernel never drops it from view.
        let stays = [
            (0, make("a"), 0, 1),
            (0, make("e"), 2, 10),
            (1, list(), 4, 8),
        ];
        let mut calls = history(&stays, &[0, 1, 2]);
        own(&mut calls, 2);
        assert!(is_no(&verdict(&calls)));
        // Nor once the write that made the group has returned.
        let after = [(0, make("e"), 0, 10), (1, list(), 11, 12)];
        let mut calls = history(&after, &[0, 1]);
        own(&mut calls, 1);
        assert!(is_no(&verdict(&calls)));
        // Seen in the 6.12 VM: the group half made while a stat that follows the listing
        // still finds no event, so the making is placed after both and the listing's window
        // never had the group: its files come from the write in flight.
        let unseen = [
            (0, make("e"), 0, 10),
            (1, list(), 2, 4),
            (2, stat("e"), 5, 6),
        ];
        let mut calls = history(&unseen, &[1, 2, 0]);
        own(&mut calls, 1);
        assert_eq!(verdict(&calls), Linearizable::Yes);
        // Another group's files are not this one's.
        calls[1].outcome = Some(Outcome::Ok(Value::Names {
            names: vec!["enable".into()],
        }));
        assert!(is_no(&verdict(&calls)));
    }

    #[test]
    fn before_eventfs_a_file_of_an_event_being_removed_may_outlast_another() {
        // Seen on 6.1 (churn): `id` gone, then `enable` still found (unlinked), while the
        // removal ran.
        let read_id = Action::ReadFile {
            path: "events/g/e/id".into(),
        };
        let found = |policy: Policy, removed_by: u64| {
            let script = [
                (0, make("e"), 0, 5),
                (0, remove("e"), 10, removed_by),
                (1, read_id.clone(), 20, 30),
                (1, stat("e"), 40, 50),
            ];
            verdict_on(policy, &history_on(policy, &script, &[0, 3, 1, 2]))
        };
        assert_eq!(found(Policy::PreEventfs, 100), Linearizable::Yes);
        assert!(
            is_no(&found(Policy::PreEventfs, 15)),
            "not once the removal returned"
        );
        assert!(
            is_no(&found(Policy::V6_17, 100)),
            "eventfs removes an event's files at once"
        );
    }

    #[test]
    fn before_eventfs_a_group_being_made_may_list_only_some_of_its_own_files() {
        // Seen on 6.1 (churn): the group's directory listed empty twice while the `p:` making
        // it ran; event_subsystem_dir makes the directory, then `filter` and `enable`. (One
        // listing alone fits any order: the group may have come during its window.)
        let listed = |policy: Policy, made_by: u64, got: &[&str]| {
            let script = [
                (0, make("e"), 0, made_by),
                (1, list(), 2, 4),
                (1, list(), 5, 8),
            ];
            let mut calls = history_on(policy, &script, &[1, 2, 0]);
            for c in &mut calls[1..] {
                c.outcome = Some(Outcome::Ok(Value::Names {
                    names: got.iter().map(|&n| n.to_owned()).collect(),
                }));
            }
            verdict_on(policy, &calls)
        };
        assert_eq!(listed(Policy::PreEventfs, 10, &[]), Linearizable::Yes);
        assert_eq!(
            listed(Policy::PreEventfs, 10, &["filter"]),
            Linearizable::Yes
        );
        assert!(
            is_no(&listed(Policy::PreEventfs, 10, &["id"])),
            "not the group's own file"
        );
        assert!(
            is_no(&listed(Policy::PreEventfs, 1, &[])),
            "not once the making returned"
        );
        assert!(
            is_no(&listed(Policy::V6_17, 10, &[])),
            "eventfs makes a group with its files"
        );
    }

    #[test]
    fn the_search_backtracks_to_find_the_order_that_works() {
        // Two threads make the same event at once: whichever is placed first succeeds.
        let script = [(0, make("e"), 0, 10), (1, make("e"), 1, 11)];
        let calls = history(&script, &[1, 0]);
        assert!(calls[0].outcome.as_ref().is_some_and(|o| !o.is_ok()));
        assert_eq!(verdict(&calls), Linearizable::Yes);
        // Both succeeding has no order.
        let mut both = calls.clone();
        both[0].outcome = both[1].outcome.clone();
        assert!(is_no(&verdict(&both)));
        // Not overlapping, the order is fixed: the later one cannot have been first.
        let apart = [(0, make("e"), 0, 10), (1, make("e"), 20, 30)];
        assert!(is_no(&verdict(&history(&apart, &[1, 0]))));
    }

    /// Threads' calls made one at a time by the model, each call's window opening up to 30
    /// ticks before its point and closing up to 30 after: always linearizable.
    #[test]
    fn a_history_the_model_made_one_call_at_a_time_is_linearizable() {
        let programs = [
            vec![make("churn"), remove("churn")],
            vec![stat("churn")],
            vec![Action::ReadFile {
                path: "events/g/churn/id".into(),
            }],
            vec![list()],
        ];
        let model = Model::new(Policy::V6_17, ModelConfig::default());
        let mut calls = super::super::simulate::history(&model, &programs, 5000, 0x5eed);
        assert_eq!(verdict(&calls), Linearizable::Yes);
        // One stale answer breaks it: a stat that found the event long after the last removal.
        let found = calls
            .iter()
            .find(|c| {
                matches!(c.action, Action::Stat { .. })
                    && c.outcome.as_ref().is_some_and(Outcome::is_ok)
            })
            .cloned()
            .expect("some stat found the event");
        let end = calls.iter().filter_map(|c| c.return_ns).max().unwrap();
        calls.push(Call {
            thread: 1,
            call_ns: end + 10,
            return_ns: Some(end + 11),
            ..found
        });
        let last_is_removal = calls
            .iter()
            .rev()
            .find(|c| c.thread == 0)
            .is_some_and(|c| c.action == remove("churn"));
        assert_eq!(is_no(&verdict(&calls)), last_is_removal);
    }

    #[test]
    fn a_listing_may_fail_as_a_directory_removed_under_it_does() {
        // What the model gives a directory read after it was removed under an open handle.
        let mut m = Model::new(Policy::V6_17, ModelConfig::default());
        m.apply(&make("e"));
        let dir = "events/g/e";
        m.apply(&Action::Open {
            path: dir.into(),
            mode: crate::interface::OpenMode::Directory,
            handle: "h".into(),
        });
        m.apply(&remove("e"));
        let after = read_to_error(&mut m, "h");
        assert!(!after.is_ok(), "{after}");
        let list = Action::list(dir);
        let mut racing = history(
            &[
                (0, make("e"), 0, 1),
                (0, remove("e"), 5, 10),
                (1, list.clone(), 2, 20),
            ],
            &[0, 1, 2],
        );
        assert!(racing[1].outcome.as_ref().is_some_and(|o| *o != after));
        racing[1].outcome = Some(after.clone());
        assert_eq!(verdict(&racing), Linearizable::Yes, "{after}");
        // Begun after the removal returned, the open itself fails instead.
        let mut late = history(
            &[
                (0, make("e"), 0, 1),
                (0, remove("e"), 5, 10),
                (1, list, 12, 20),
            ],
            &[0, 1, 2],
        );
        late[2].outcome = Some(after);
        assert!(is_no(&verdict(&late)));
    }
}
