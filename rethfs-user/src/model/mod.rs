//! The reference eventfs: a model of fs/tracefs/event_inode.c, the tracefs around it, the
//! trace-event side that creates and removes its directories, and the dcache rules it relies
//! on, run through the same [`Action`]s as the host.
//!
//! The design follows the kernel's own split. `eventfs.rs` holds eventfs_inodes (ei): one per
//! directory below `events/`, made by `eventfs_create_dir` with no dentry or inode, and turned
//! into dentries only when a lookup asks (`eventfs_root_lookup`). `dcache.rs` is the dcache: it
//! counts references exactly as `d_lockref.count` does (a child holds one on its parent), keeps
//! unused dentries cached, kills unhashed ones at their last `dput`, and runs the tracefs
//! `d_revalidate`, `d_delete` and `d_release` hooks. `tracing.rs` and `probe.rs` are the trace
//! side (instances, events, dynamic probes); `files.rs` what each tracefs file does when opened,
//! read and written; `vfs.rs` the path walk and the system calls; `readdir.rs` getdents64.
//!
//! The model is one `Model` value whose `impl` is spread over those files, as the kernel's
//! state is one set of globals behind many functions. Objects are never reused: freed ones stay
//! in their arena marked dead, so a stale handle can always be asked what it points to.
//! Kernel rules that change between releases are switched by [`Policy`].

mod config;
mod dcache;
mod eventfs;
mod files;
mod ino;
mod invariants;
pub mod policy;
mod probe;
mod readdir;
mod tracing;
mod vfs;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};

pub use config::{InstanceEntry, ModelConfig, StaticEvent};
pub use ino::EVENTFS_FILE_INODE_INO;
pub use policy::{KernelVersion, Policy};

use crate::interface::{Action, Lifetime, LifetimeKind, Outcome, Target};

macro_rules! id_type {
    ($($name:ident),*) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub(crate) struct $name(pub(crate) usize);
    )*};
}
id_type!(DentryId, InodeId, EiId, TrId, SysId, FileId, CallId);

/// A dentry, with the fields the dcache rules read.
#[derive(Debug, Clone)]
pub(crate) struct Dentry {
    pub(crate) name: String,
    /// `None` only for the root.
    pub(crate) parent: Option<DentryId>,
    /// `None`: a negative dentry.
    pub(crate) inode: Option<InodeId>,
    /// `d_lockref.count`: holders plus one per child dentry.
    pub(crate) count: i32,
    /// Findable by lookups; cleared by `d_invalidate`/`d_drop`.
    pub(crate) hashed: bool,
    /// `d_fsdata`: for an eventfs directory its own ei, for an eventfs file its parent's.
    pub(crate) fsdata: Option<EiId>,
    /// Hashed children by name.
    pub(crate) children: HashMap<String, DentryId>,
    /// Every live child in `d_children` order: `d_alloc` adds at the head, so newest first.
    pub(crate) subdirs: Vec<DentryId>,
    /// Made by `tracefs_create_*`, which keeps the creator's reference until removal.
    pub(crate) pinned: bool,
    pub(crate) killed: bool,
    pub(crate) path: String,
    pub(crate) generation: u32,
    /// When it last went unused, for the shrinker's oldest-first order.
    pub(crate) lru_stamp: u64,
}

/// What later actions can observe of a dentry: `children` follows from the other dentries'
/// parents and names, and the path and generation only name it in lifetimes.
impl std::hash::Hash for Dentry {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let Dentry {
            name,
            parent,
            inode,
            count,
            hashed,
            fsdata,
            children: _,
            subdirs,
            pinned,
            killed,
            path: _,
            generation: _,
            lru_stamp,
        } = self;
        (
            name, parent, inode, count, hashed, fsdata, subdirs, pinned, killed, lru_stamp,
        )
            .hash(h);
    }
}

/// What an inode is, standing for its `i_op`/`i_fop` and `i_private`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Node {
    Root,
    /// `instances/`: the only directory with `mkdir`/`rmdir`.
    InstancesDir,
    InstanceDir(TrId),
    /// A plain tracefs file of an instance (or of the top level).
    TraceFile(TrId, files::TraceFile),
    Control(crate::interface::ControlFile),
    /// An eventfs directory; `ti->private` is its ei.
    EventfsDir(EiId),
    /// A plain tracefs directory the model knows by name only (an instance's `per_cpu/`,
    /// `options/`): empty to the model.
    PlainDir,
    /// An eventfs file: which entry and what `i_private` it was given.
    EventfsFile(files::EventfsFile),
}

#[derive(Debug, Clone, Hash)]
pub(crate) struct Inode {
    pub(crate) ino: u64,
    pub(crate) dir: bool,
    pub(crate) perm: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) nlink: u64,
    pub(crate) node: Node,
    pub(crate) evicted: bool,
    /// `S_DEAD`: a removed directory, in which lookups and listing fail with ENOENT.
    pub(crate) dead: bool,
    /// `TRACEFS_UID_PERM_SET`/`_GID_`: a plain tracefs inode chowned by hand keeps its owner;
    /// otherwise it shows the tracefs root's.
    pub(crate) owner_set: (bool, bool),
}

/// An open file: the dentry it pins, the position, and what its `open` took.
#[derive(Debug, Clone, Hash)]
pub(crate) struct OpenFile {
    pub(crate) dentry: DentryId,
    pub(crate) inode: InodeId,
    pub(crate) pos: i64,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// References taken at open and dropped at close.
    pub(crate) holds: files::Holds,
    /// Before 6.8, opening an eventfs directory made and held every child's dentry.
    pub(crate) children_held: Vec<DentryId>,
    /// `dcache_readdir`'s cursor: the last child listed, after which the next call resumes
    /// (`None` after open or a seek, when the position counts children instead).
    pub(crate) cursor: Option<DentryId>,
    /// A read on it returned data (which a seq_file may not have handed out in full).
    pub(crate) read_before: bool,
}

/// The reference tracefs.
#[derive(Clone)]
pub struct Model {
    pub(crate) policy: Policy,
    pub(crate) config: ModelConfig,
    /// The last number `get_next_ino()` handed out.
    pub(crate) last_ino: u64,
    pub(crate) dentries: Vec<Dentry>,
    pub(crate) inodes: Vec<Inode>,
    pub(crate) eis: Vec<eventfs::Ei>,
    pub(crate) trs: Vec<tracing::TraceArray>,
    pub(crate) systems: Vec<tracing::SystemDir>,
    pub(crate) files: Vec<tracing::EventFile>,
    pub(crate) calls: Vec<tracing::Call>,
    /// `ftrace_events`: registration adds at the head, so the newest call comes first.
    pub(crate) call_order: Vec<CallId>,
    /// Dynamic probes in creation order (`dyn_event_list`).
    pub(crate) probes: Vec<probe::Probe>,
    /// Event type numbers in use (the kernel's IDA).
    pub(crate) event_types: BTreeSet<u32>,
    pub(crate) root: DentryId,
    pub(crate) instances_dir: DentryId,
    pub(crate) handles: HashMap<String, OpenFile>,
    /// The current directory, which holds a reference.
    pub(crate) cwd: DentryId,
    pub(crate) lifetimes: Vec<Lifetime>,
    /// Next generation per path, for dentries and for eis.
    pub(crate) generations: HashMap<(bool, String), u32>,
    pub(crate) clock: u64,
    pub(crate) alive: Alive,
}

/// The indices of the dentries, inodes and eis not gone for good (killed, evicted, released),
/// so that what looks at those only (the search's fingerprint) need not walk the dead ones a
/// long history leaves by the thousand.
#[derive(Clone, Default)]
pub(crate) struct Alive {
    pub(crate) dentries: BTreeSet<usize>,
    pub(crate) inodes: BTreeSet<usize>,
    pub(crate) eis: BTreeSet<usize>,
}

impl Model {
    /// A freshly mounted tracefs with the static events of `config`, under `policy`.
    pub fn new(policy: Policy, config: ModelConfig) -> Self {
        let mut m = Model {
            policy,
            config,
            last_ino: 1,
            dentries: Vec::new(),
            inodes: Vec::new(),
            eis: Vec::new(),
            trs: Vec::new(),
            systems: Vec::new(),
            files: Vec::new(),
            calls: Vec::new(),
            call_order: Vec::new(),
            probes: Vec::new(),
            event_types: BTreeSet::new(),
            root: DentryId(0),
            instances_dir: DentryId(0),
            handles: HashMap::new(),
            cwd: DentryId(0),
            lifetimes: Vec::new(),
            generations: HashMap::new(),
            clock: 0,
            alive: Alive::default(),
        };
        m.mount_tracefs();
        m
    }

    /// Records a lifetime event about a dentry.
    pub(crate) fn note_dentry(&mut self, kind: LifetimeKind, d: DentryId) {
        let den = &self.dentries[d.0];
        let ino = den.inode.map_or(0, |i| self.inodes[i.0].ino);
        self.lifetimes.push(Lifetime {
            kind,
            path: den.path.clone(),
            generation: den.generation,
            refs: den.count as i64,
            ino,
            t_ns: None,
        });
    }

    /// Records a lifetime event about an ei.
    pub(crate) fn note_ei(&mut self, kind: LifetimeKind, ei: EiId) {
        let e = &self.eis[ei.0];
        self.lifetimes.push(Lifetime {
            kind,
            path: e.path.clone(),
            generation: e.generation,
            refs: e.kref as i64,
            ino: e.ino,
            t_ns: None,
        });
    }

    /// The next generation number for an object at `path` (`dentry` or ei namespace).
    pub(crate) fn next_generation(&mut self, dentry: bool, path: &str) -> u32 {
        let g = self
            .generations
            .entry((dentry, path.to_owned()))
            .or_insert(0);
        *g += 1;
        *g - 1
    }
}

impl Model {
    /// A hash of everything later actions can observe (not the lifetimes recorded, nor the
    /// generation counters), for the linearizability search's memo: equal states hash
    /// equal; unequal ones almost never do (64-bit foldhash). Objects gone for good (killed
    /// dentries, evicted inodes, released eis, freed event files and groups no file holds,
    /// removed events no file holds) are left out: nothing reaches them again, and a long
    /// history leaves thousands, which would make each hash cost as much as the history.
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        fn live<T: Hash>(h: &mut impl Hasher, all: &[T], gone: impl Fn(&T) -> bool) {
            for (i, x) in all.iter().enumerate().filter(|(_, x)| !gone(x)) {
                (i, x).hash(h);
            }
            // Ends the sequence, so that two fields' objects never run into each other.
            usize::MAX.hash(h);
        }
        fn alive<T: Hash>(h: &mut impl Hasher, all: &[T], alive: &BTreeSet<usize>) {
            for &i in alive {
                (i, &all[i]).hash(h);
            }
            usize::MAX.hash(h);
        }
        use std::hash::BuildHasher;
        let mut h = foldhash::quality::FixedState::with_seed(0).build_hasher();
        self.last_ino.hash(&mut h);
        alive(&mut h, &self.dentries, &self.alive.dentries);
        alive(&mut h, &self.inodes, &self.alive.inodes);
        alive(&mut h, &self.eis, &self.alive.eis);
        self.trs.hash(&mut h);
        live(&mut h, &self.systems, |s| s.nr_events == 0 && s.refs == 0);
        live(&mut h, &self.files, |f| f.freed && f.refs == 0);
        let held: BTreeSet<usize> = (self.files.iter())
            .filter(|f| !(f.freed && f.refs == 0))
            .map(|f| f.call.0)
            .collect();
        let calls = self.calls.iter().enumerate();
        for (i, c) in calls.filter(|(i, c)| c.alive || held.contains(i)) {
            (i, c).hash(&mut h);
        }
        (&self.call_order, &self.probes, &self.event_types).hash(&mut h);
        let mut handles: Vec<_> = self.handles.iter().collect();
        handles.sort_by(|a, b| a.0.cmp(b.0));
        (handles, self.cwd, self.instances_dir).hash(&mut h);
        h.finish()
    }
}

impl Target for Model {
    fn describe(&self) -> String {
        format!("model (policy {})", self.policy)
    }

    fn apply(&mut self, action: &Action) -> Outcome {
        self.clock += 1;
        vfs::apply(self, action)
    }

    fn take_lifetimes(&mut self) -> Vec<Lifetime> {
        std::mem::take(&mut self.lifetimes)
    }
}
