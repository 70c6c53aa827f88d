//! Lifetimes from records: kernel pointers become objects keyed by path and generation, the
//! same keys the model uses, so the two can be compared.
//!
//! A pointer names one object from its birth (an eventfs lookup, `tracefs_start_creating`,
//! `d_alloc` where tracefs has no hooks of its own; `eventfs_create_dir`) to its end
//! (`tracefs_d_release` or `__dentry_kill`; `release_ei`); after that the kernel may hand the
//! same address to a new object, which gets the next generation of its own path.

use std::collections::HashMap;

use rethfs_common::Hook;

use super::{HookSet, HookStatus, Record};
use crate::interface::{Lifetime, LifetimeKind};

/// The lifetime kinds records of `hook` become with the hooks of `set` (see
/// [`Reconstructor::feed`]): what an observer without that hook cannot see.
pub(super) fn kinds_of(hook: Hook, set: HookSet) -> &'static [LifetimeKind] {
    use LifetimeKind as K;
    match hook {
        // Kept verdicts are recorded only with every hook (see the programs' REVALIDATE_ALL).
        Hook::Revalidate if set == HookSet::Default => &[K::RevalidateFailed],
        Hook::DentryAlloc | Hook::StartCreating => &[K::DentryBorn],
        // VFS hands eventfs_root_lookup only dentries it has just made.
        Hook::Lookup => &[K::DentryBorn, K::DentryLookedUp],
        Hook::Dput => &[K::DentryDropped],
        Hook::DInvalidate => &[K::DentryInvalidated],
        Hook::DentryKill => &[K::DentryKilled],
        Hook::DentryRelease => &[K::DentryKilled, K::EiPut],
        Hook::Revalidate => &[K::Revalidated, K::RevalidateFailed],
        Hook::EiCreate | Hook::EventsDirCreate => &[K::EiCreated],
        Hook::EiRemove => &[K::EiFreed],
        Hook::EiRelease => &[K::EiReleased],
        _ => &[],
    }
}

/// The count a put leaves: the one the hook read, less its own. An unreadable count (-1)
/// stays unreadable; any other value the record carries is taken as it is, never trusted
/// to leave room below it.
fn after_put(refcount: i32) -> i64 {
    match refcount {
        -1 => -1,
        n => i64::from(n) - 1,
    }
}

/// The lifetime kinds the attached `hooks` of `set` let the kernel side see.
pub fn seen_kinds(hooks: &[HookStatus], set: HookSet) -> Vec<LifetimeKind> {
    hooks
        .iter()
        .filter(|h| h.attached)
        .flat_map(|h| kinds_of(h.hook, set).iter().copied())
        .collect()
}

#[derive(Debug, Clone)]
struct Object {
    path: String,
    generation: u32,
}

/// Turns records into lifetime events, tracking which object each live pointer names.
#[derive(Debug, Default)]
pub struct Reconstructor {
    dentries: HashMap<u64, Object>,
    eis: HashMap<u64, Object>,
    generations: HashMap<(bool, String), u32>,
    /// The kill hook is 7.x's `dentry_kill`, which is also entered with references held and
    /// then does nothing: only an entry at count zero kills.
    kill_needs_zero: bool,
}

impl Reconstructor {
    /// For records of `__dentry_kill`, entered only to kill (at count 1 before 6.8, whose
    /// `fast_dput` takes the reference back first; at 0 after).
    pub fn new() -> Self {
        Self::default()
    }

    /// For records of the observer whose hooks are `hooks`: the kill rule follows the
    /// function the kill hook is attached to.
    pub fn for_hooks(hooks: &[HookStatus]) -> Self {
        let kill = hooks.iter().find(|h| h.hook == Hook::DentryKill);
        Self::for_kill_hook(kill.map_or("", |h| h.function.as_str()))
    }

    /// For the kill hook attached to `kill_function`.
    fn for_kill_hook(kill_function: &str) -> Self {
        Reconstructor {
            kill_needs_zero: kill_function == "dentry_kill",
            ..Self::default()
        }
    }

    /// The lifetime events `r` stands for, in the kernel's order: none for a directory
    /// read or a repeated birth, two for a lookup that is also a birth or a kill that drops
    /// an ei's reference.
    pub fn feed(&mut self, r: &Record) -> Vec<Lifetime> {
        use LifetimeKind as K;
        // A readdir cursor (d_alloc_cursor names it "/", which no file can be called) is the
        // listing's bookmark, not a file: the model has none.
        if r.leaf_only && r.path == "/" {
            return Vec::new();
        }
        let born = !self.dentries.contains_key(&r.dentry);
        let kinds: &[(K, i64)] = match r.hook {
            // d_alloc_parallel returning what d_alloc (or a racing lookup) already made, or
            // tracefs_start_creating the dentry an instance mkdir looked up.
            Hook::DentryAlloc | Hook::StartCreating if !born => &[],
            Hook::DentryAlloc | Hook::StartCreating => &[(K::DentryBorn, r.refcount.into())],
            Hook::Lookup if born => &[
                (K::DentryBorn, r.refcount.into()),
                (K::DentryLookedUp, r.refcount.into()),
            ],
            Hook::Lookup => &[(K::DentryLookedUp, r.refcount.into())],
            Hook::Dput => &[(K::DentryDropped, after_put(r.refcount))],
            Hook::DInvalidate => &[(K::DentryInvalidated, r.refcount.into())],
            // 7.x's dentry_kill is entered with references held too (d_make_discardable calls
            // it unconditionally) and then gives up in lock_for_kill.
            Hook::DentryKill if self.kill_needs_zero && r.refcount != 0 => &[],
            Hook::DentryKill => &[(K::DentryKilled, r.refcount.into())],
            // Past lockref_mark_dead: the count is no longer one.
            Hook::DentryRelease if r.ei != 0 => &[(K::DentryKilled, 0), (K::EiPut, -1)],
            Hook::DentryRelease => &[(K::DentryKilled, 0)],
            Hook::Revalidate if r.ret > 0 => &[(K::Revalidated, r.refcount.into())],
            Hook::Revalidate => &[(K::RevalidateFailed, r.refcount.into())],
            Hook::EiCreate | Hook::EventsDirCreate if r.ei != 0 => {
                &[(K::EiCreated, r.refcount.into())]
            }
            Hook::EiRemove => &[(K::EiFreed, after_put(r.refcount))],
            Hook::EiRelease => &[(K::EiReleased, 0)],
            _ => &[],
        };
        kinds
            .iter()
            .map(|&(kind, refs)| self.event(kind, refs, r))
            .collect()
    }

    /// The lifetime event of `kind` that `r` gives, the object it names updated.
    fn event(&mut self, kind: LifetimeKind, refs: i64, r: &Record) -> Lifetime {
        use LifetimeKind as K;
        let object = match kind {
            K::DentryBorn => self.birth(true, r.dentry, r.path.clone()),
            K::EiCreated => {
                let path = match (r.hook, self.eis.get(&r.parent)) {
                    (Hook::EiCreate, Some(parent)) => format!("{}/{}", parent.path, r.name()),
                    // Not seen created: a top-level `events` made at boot, named as such.
                    _ => r.path.clone(),
                };
                self.birth(false, r.ei, path)
            }
            // A file's dentry holds its parent directory's ei, so the dentry's name may not be
            // the ei's: an ei never seen before is not named from it.
            K::EiPut => self.eis.get(&r.ei).cloned().unwrap_or(Object {
                path: r.name().to_owned(),
                generation: 0,
            }),
            k if k.is_ei() => self.known(false, r.ei, &r.path),
            _ => {
                let path = self.dentry_path(r).unwrap_or_else(|| r.path.clone());
                self.known(true, r.dentry, &path)
            }
        };
        match kind {
            K::DentryKilled => {
                self.dentries.remove(&r.dentry);
            }
            K::EiReleased => {
                self.eis.remove(&r.ei);
            }
            _ => {}
        }
        Lifetime {
            kind,
            path: object.path,
            generation: object.generation,
            refs,
            ino: r.ino,
            t_ns: Some(r.t_ns),
        }
    }

    /// Completes a record that carries only its object's name, from the object at its
    /// pointer, or else from its parent's (a dentry no hook saw born: a readdir cursor, a
    /// negative lookup in a plain directory); a record of neither keeps the name alone.
    pub fn resolve(&self, r: &mut Record) {
        if let Some(path) = self.dentry_path(r) {
            r.path = path;
            r.leaf_only = false;
        }
    }

    /// The whole path of the dentry of `r`, where the record lacks it and the reconstruction
    /// knows it.
    fn dentry_path(&self, r: &Record) -> Option<String> {
        if !r.leaf_only {
            return None;
        }
        match (self.dentries.get(&r.dentry), self.dentries.get(&r.parent)) {
            (Some(o), _) => Some(o.path.clone()),
            (None, Some(p)) if r.parent != r.dentry => Some(format!("{}/{}", p.path, r.name())),
            _ => None,
        }
    }

    /// A new object at `ptr`: the next generation of `path`.
    fn birth(&mut self, dentry: bool, ptr: u64, path: String) -> Object {
        let next = self.generations.entry((dentry, path.clone())).or_insert(0);
        let object = Object {
            path,
            generation: *next,
        };
        *next += 1;
        self.objects(dentry).insert(ptr, object.clone());
        object
    }

    /// The object `ptr` names; one never seen born (made before the observer started) is
    /// taken as born now at the path the record gives.
    fn known(&mut self, dentry: bool, ptr: u64, path: &str) -> Object {
        match self.objects(dentry).get(&ptr) {
            Some(o) => o.clone(),
            None => self.birth(dentry, ptr, path.to_owned()),
        }
    }

    fn objects(&mut self, dentry: bool) -> &mut HashMap<u64, Object> {
        if dentry {
            &mut self.dentries
        } else {
            &mut self.eis
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(hook: Hook, dentry: u64, ei: u64, parent: u64, path: &str) -> Record {
        Record {
            t_ns: 0,
            hook,
            comm: String::new(),
            tgid: 1,
            pid: 1,
            fd: -1,
            path: path.into(),
            path_cut: false,
            leaf_only: false,
            ino: 0,
            kind: "dir",
            refcount: 1,
            dentry,
            parent,
            ei,
            ret: 0,
        }
    }

    fn kinds(l: &[Lifetime]) -> Vec<LifetimeKind> {
        l.iter().map(|l| l.kind).collect()
    }

    fn paths(l: &[Lifetime]) -> Vec<&str> {
        l.iter().map(|l| l.path.as_str()).collect()
    }

    #[test]
    fn tracefs_own_hooks_give_births_and_kills() {
        use LifetimeKind::*;
        let mut r = Reconstructor::new();
        // A lookup is the birth of the dentry VFS just made for it, then its filling.
        let enable = rec(Hook::Lookup, 0x10, 0, 0x1, "events/g/ev/enable");
        assert_eq!(kinds(&r.feed(&enable)), [DentryBorn, DentryLookedUp]);
        // A dentry known already (the fallback's d_alloc saw it) is only looked up.
        assert_eq!(kinds(&r.feed(&enable)), [DentryLookedUp]);
        // tracefs_start_creating: a birth, unless an instance mkdir's lookup made it first.
        let made = rec(Hook::StartCreating, 0x20, 0, 0x1, "instances/i/trace");
        assert_eq!(kinds(&r.feed(&made)), [DentryBorn]);
        assert!(r.feed(&made).is_empty());
        // Released: killed, and the ei in its d_fsdata put; the pointer is free again.
        let gone = rec(Hook::DentryRelease, 0x10, 0xe0, 0x1, "events/g/ev/enable");
        assert_eq!(kinds(&r.feed(&gone)), [DentryKilled, EiPut]);
        let negative = rec(Hook::DentryRelease, 0x20, 0, 0x1, "instances/i/trace");
        assert_eq!(kinds(&r.feed(&negative)), [DentryKilled]);
        let again = r.feed(&enable);
        assert_eq!(kinds(&again), [DentryBorn, DentryLookedUp]);
        assert_eq!(again[0].generation, 1);
    }

    #[test]
    fn a_dentry_no_hook_saw_born_is_named_from_its_parent() {
        let mut r = Reconstructor::new();
        r.feed(&rec(Hook::StartCreating, 0x10, 0, 0x1, "instances/i"));
        // A negative lookup in the instance, seen only as it goes, by name.
        let mut gone = rec(Hook::DentryRelease, 0x20, 0, 0x10, "nothing");
        gone.leaf_only = true;
        assert_eq!(paths(&r.feed(&gone)), ["instances/i/nothing"]);
        r.resolve(&mut gone);
        assert_eq!(gone.path, "instances/i/nothing");
        // A readdir cursor of the instance's directory (6.1 lists plain directories with
        // them) is no object at all.
        let mut cursor = rec(Hook::DentryKill, 0x40, 0, 0x10, "/");
        cursor.leaf_only = true;
        assert!(r.feed(&cursor).is_empty());
        // Neither it nor its parent known: the name is all there is.
        let mut stranger = rec(Hook::DentryRelease, 0x30, 0, 0x99, "x");
        stranger.leaf_only = true;
        assert_eq!(paths(&r.feed(&stranger)), ["x"]);
    }

    /// Feeds `records` in order; each lifetime event as (kind, path, generation).
    fn feed_all(r: &mut Reconstructor, records: &[&Record]) -> Vec<(LifetimeKind, String, u32)> {
        records
            .iter()
            .flat_map(|x| r.feed(x))
            .map(|l| (l.kind, l.path, l.generation))
            .collect()
    }

    #[test]
    fn a_reused_pointer_is_a_new_generation() {
        let mut r = Reconstructor::new();
        let born = rec(Hook::DentryAlloc, 0x10, 0, 0x1, "events/g");
        let mut killed = rec(Hook::DentryKill, 0x10, 0, 0x1, "events/g");
        killed.refcount = 0;
        assert_eq!(
            feed_all(&mut r, &[&born, &killed, &born, &killed]),
            [
                (LifetimeKind::DentryBorn, "events/g".to_owned(), 0),
                (LifetimeKind::DentryKilled, "events/g".to_owned(), 0),
                (LifetimeKind::DentryBorn, "events/g".to_owned(), 1),
                (LifetimeKind::DentryKilled, "events/g".to_owned(), 1),
            ]
        );
    }

    #[test]
    fn a_kill_entered_with_references_held_is_no_kill_from_7_2() {
        let mut attempt = rec(Hook::DentryKill, 0x10, 0, 0x1, "instances/i/events");
        attempt.refcount = 1;
        // 6.1's __dentry_kill runs at count 1.
        let old = Reconstructor::for_kill_hook("__dentry_kill").feed(&attempt);
        assert_eq!(kinds(&old), [LifetimeKind::DentryKilled]);
        let mut r = Reconstructor::for_kill_hook("dentry_kill");
        assert!(r.feed(&attempt).is_empty());
        attempt.refcount = 0;
        assert_eq!(kinds(&r.feed(&attempt)), [LifetimeKind::DentryKilled]);
    }

    #[test]
    fn a_name_only_record_gets_the_path_of_its_object() {
        let mut r = Reconstructor::new();
        r.feed(&rec(Hook::DentryAlloc, 0x10, 0, 0x1, "events/g/ev"));
        let mut drop = rec(Hook::Dput, 0x10, 0, 0x1, "ev");
        drop.leaf_only = true;
        assert_eq!(paths(&r.feed(&drop)), ["events/g/ev"]);
        r.resolve(&mut drop);
        assert_eq!((drop.path.as_str(), drop.leaf_only), ("events/g/ev", false));
        let mut stranger = rec(Hook::Dput, 0x20, 0, 0x1, "x");
        stranger.leaf_only = true;
        r.resolve(&mut stranger);
        assert_eq!((stranger.path.as_str(), stranger.leaf_only), ("x", true));
    }

    /// fuzz/regressions/kernel_record/dput-at-i32-min: a count of i32::MIN less one
    /// overflowed.
    #[test]
    fn a_put_takes_one_from_any_count_and_none_from_an_unreadable_one() {
        let mut r = Reconstructor::new();
        let refs = |r: &mut Reconstructor, hook, refcount| {
            let mut put = rec(hook, 0x10, 0x20, 0x1, "events/g");
            put.refcount = refcount;
            r.feed(&put).first().map(|l| l.refs)
        };
        assert_eq!(
            refs(&mut r, Hook::Dput, i32::MIN),
            Some(i64::from(i32::MIN) - 1)
        );
        assert_eq!(
            refs(&mut r, Hook::EiRemove, i32::MIN),
            Some(i64::from(i32::MIN) - 1)
        );
        assert_eq!(refs(&mut r, Hook::Dput, 2), Some(1));
        assert_eq!(refs(&mut r, Hook::Dput, -1), Some(-1));
    }

    #[test]
    fn a_birth_seen_twice_is_one_birth() {
        let mut r = Reconstructor::new();
        let born = rec(Hook::DentryAlloc, 0x10, 0, 0x1, "events/g");
        assert_eq!(r.feed(&born).len(), 1);
        assert!(r.feed(&born).is_empty());
    }

    #[test]
    fn eis_are_placed_under_their_parent_and_ended_by_release() {
        let mut r = Reconstructor::new();
        // The group under the boot-time `events` ei, then an event under the group.
        let group = rec(Hook::EiCreate, 0, 0xa0, 0x99, "events/grp");
        let mut event = rec(Hook::EiCreate, 0, 0xb0, 0xa0, "grp/ev");
        event.refcount = 1;
        let freed = rec(Hook::EiRemove, 0, 0xb0, 0, "ev");
        let put = rec(Hook::DentryRelease, 0x20, 0xb0, 0x10, "events/grp/ev");
        let released = rec(Hook::EiRelease, 0, 0xb0, 0, "ev");
        assert_eq!(
            feed_all(&mut r, &[&group, &event, &freed, &put, &released]),
            [
                (LifetimeKind::EiCreated, "events/grp".to_owned(), 0),
                (LifetimeKind::EiCreated, "events/grp/ev".to_owned(), 0),
                (LifetimeKind::EiFreed, "events/grp/ev".to_owned(), 0),
                (LifetimeKind::DentryKilled, "events/grp/ev".to_owned(), 0),
                (LifetimeKind::EiPut, "events/grp/ev".to_owned(), 0),
                (LifetimeKind::EiReleased, "events/grp/ev".to_owned(), 0),
            ]
        );
        // A new ei at the released address is a new object.
        let again = rec(Hook::EiCreate, 0, 0xb0, 0xa0, "grp/ev");
        assert_eq!(r.feed(&again)[0].generation, 1);
    }

    #[test]
    fn an_ei_first_seen_through_a_files_dentry_keeps_its_children_placed_by_name() {
        let mut r = Reconstructor::new();
        // `events/enable` goes; its d_fsdata is the boot-time `events` ei, never seen created.
        let file = rec(Hook::DentryRelease, 0x20, 0x99, 0x10, "events/enable");
        assert_eq!(paths(&r.feed(&file)), ["events/enable", "enable"]);
        let group = rec(Hook::EiCreate, 0, 0xa0, 0x99, "events/grp");
        assert_eq!(paths(&r.feed(&group)), ["events/grp"]);
    }

    #[test]
    fn revalidation_verdicts_and_directory_reads() {
        let mut r = Reconstructor::new();
        let mut ok = rec(Hook::Revalidate, 0x30, 0, 0x1, "events/g");
        ok.ret = 1;
        let stale = rec(Hook::Revalidate, 0x30, 0, 0x1, "events/g");
        assert_eq!(kinds(&r.feed(&ok)), [LifetimeKind::Revalidated]);
        assert_eq!(kinds(&r.feed(&stale)), [LifetimeKind::RevalidateFailed]);
        assert!(
            r.feed(&rec(Hook::Iterate, 0x30, 0, 0x1, "events/g"))
                .is_empty()
        );
    }
}
