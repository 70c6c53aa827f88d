//! The dcache as tracefs sees it (fs/dcache.c): reference counts, caching of unused dentries,
//! kills, invalidation and shrinking, with the tracefs dentry operations plugged in.

use super::{Dentry, DentryId, EiId, Inode, InodeId, Model, Node};
use crate::interface::LifetimeKind;

impl Model {
    /// A new inode; whether it is a directory follows from what it is.
    pub(crate) fn new_inode(
        &mut self,
        ino: u64,
        node: Node,
        perm: u32,
        (uid, gid): (u32, u32),
        nlink: u64,
    ) -> InodeId {
        let dir = matches!(
            node,
            Node::Root
                | Node::InstancesDir
                | Node::InstanceDir(_)
                | Node::EventfsDir(_)
                | Node::PlainDir
        );
        self.inodes.push(Inode {
            ino,
            dir,
            perm,
            uid,
            gid,
            nlink,
            node,
            evicted: false,
            dead: false,
            owner_set: (false, false),
        });
        self.alive.inodes.insert(self.inodes.len() - 1);
        InodeId(self.inodes.len() - 1)
    }

    pub(crate) fn child_path(&self, parent: DentryId, name: &str) -> String {
        let p = &self.dentries[parent.0].path;
        if p.is_empty() {
            name.to_owned()
        } else {
            format!("{p}/{name}")
        }
    }

    /// `d_alloc`: a negative, unhashed dentry with one reference, holding one on its parent.
    pub(crate) fn d_alloc(&mut self, parent: Option<DentryId>, name: &str) -> DentryId {
        let path = parent.map_or_else(String::new, |p| self.child_path(p, name));
        let generation = self.next_generation(true, &path);
        let d = DentryId(self.dentries.len());
        self.alive.dentries.insert(d.0);
        if let Some(p) = parent {
            self.dentries[p.0].count += 1;
            self.dentries[p.0].subdirs.push(d);
        }
        self.dentries.push(Dentry {
            name: name.to_owned(),
            parent,
            inode: None,
            count: 1,
            hashed: false,
            fsdata: None,
            children: Default::default(),
            subdirs: Vec::new(),
            pinned: false,
            killed: false,
            path,
            generation,
            lru_stamp: 0,
        });
        self.note_dentry(LifetimeKind::DentryBorn, d);
        d
    }

    /// `d_add`: instantiate (or leave negative) and hash, so lookups find it.
    pub(crate) fn d_add(&mut self, d: DentryId, inode: Option<InodeId>) {
        self.dentries[d.0].inode = inode;
        self.dentries[d.0].hashed = true;
        if let Some(p) = self.dentries[d.0].parent {
            let name = self.dentries[d.0].name.clone();
            self.dentries[p.0].children.insert(name, d);
        }
    }

    /// `tracefs_create_file`/`tracefs_create_dir`: a positive, hashed dentry whose creator
    /// keeps the allocation reference until `tracefs_remove`.
    pub(crate) fn d_create_pinned(
        &mut self,
        parent: DentryId,
        name: &str,
        inode: InodeId,
    ) -> DentryId {
        // `lookup_noperm` finds a cached negative dentry of that name (mkdir's own) and
        // `d_instantiate` makes it positive; otherwise a new one is allocated.
        let d = match self.d_lookup(parent, name) {
            Some(neg) if self.dentries[neg.0].inode.is_none() => {
                self.dentries[neg.0].count += 1;
                self.dentries[neg.0].inode = Some(inode);
                neg
            }
            _ => {
                let d = self.d_alloc(Some(parent), name);
                self.d_add(d, Some(inode));
                d
            }
        };
        self.dentries[d.0].pinned = true;
        d
    }

    /// A hashed child of `parent` by name (`__d_lookup`), without taking a reference.
    pub(crate) fn d_lookup(&self, parent: DentryId, name: &str) -> Option<DentryId> {
        self.dentries[parent.0].children.get(name).copied()
    }

    /// `dget`.
    pub(crate) fn dget(&mut self, d: DentryId) {
        self.dentries[d.0].count += 1;
        self.note_dentry(LifetimeKind::DentryReferenced, d);
    }

    /// `dput`: at zero, `retain_dentry` decides between caching and killing; a kill drops the
    /// parent's reference, which may in turn leave the parent unused.
    pub(crate) fn dput(&mut self, d: DentryId) {
        self.dentries[d.0].count -= 1;
        self.note_dentry(LifetimeKind::DentryDropped, d);
        let mut cur = d;
        while self.dentries[cur.0].count == 0 {
            if self.retain_dentry(cur) {
                self.dentries[cur.0].lru_stamp = self.clock;
                return;
            }
            match self.dentry_kill(cur) {
                Some(parent) => cur = parent,
                None => return,
            }
        }
    }

    /// `retain_dentry`: keep an unused dentry unless it is unhashed or `d_delete` says no.
    /// tracefs's `d_delete` (6.17+) refuses dentries without `d_fsdata`, i.e. all but eventfs's.
    fn retain_dentry(&self, d: DentryId) -> bool {
        let den = &self.dentries[d.0];
        den.hashed && !(self.policy.delete_plain_dentries() && den.fsdata.is_none())
    }

    /// `tracefs_d_revalidate`: stale when the ei in `d_fsdata` is freed.
    pub(crate) fn d_revalidate(&self, d: DentryId) -> bool {
        !self.dentries[d.0]
            .fsdata
            .is_some_and(|ei| self.eis[ei.0].is_freed)
    }

    fn d_unhash(&mut self, d: DentryId) {
        if !self.dentries[d.0].hashed {
            return;
        }
        self.dentries[d.0].hashed = false;
        if let Some(p) = self.dentries[d.0].parent {
            let name = self.dentries[d.0].name.clone();
            if self.dentries[p.0].children.get(&name) == Some(&d) {
                self.dentries[p.0].children.remove(&name);
            }
        }
    }

    /// `__dentry_kill`: unhash, evict the inode (`tracefs_drop_inode` always drops), run
    /// `d_release` (an eventfs dentry puts its ei), free, and drop the parent's reference.
    /// Returns the parent when that left it unused.
    fn dentry_kill(&mut self, d: DentryId) -> Option<DentryId> {
        self.d_unhash(d);
        if let Some(i) = self.dentries[d.0].inode {
            self.inodes[i.0].evicted = true;
            self.alive.inodes.remove(&i.0);
        }
        self.dentries[d.0].killed = true;
        self.alive.dentries.remove(&d.0);
        self.note_dentry(LifetimeKind::DentryKilled, d);
        if let Some(ei) = self.dentries[d.0].fsdata {
            // eventfs_d_release
            self.note_ei(LifetimeKind::EiPut, ei);
            self.put_ei(ei);
        }
        let parent = self.dentries[d.0].parent?;
        self.dentries[parent.0].count -= 1;
        self.dentries[parent.0].subdirs.retain(|c| *c != d);
        (self.dentries[parent.0].count == 0).then_some(parent)
    }

    /// `d_invalidate`: unhash `d` whatever its count, and kill its unused descendants.
    /// Holders (open files, cwd) keep it alive, unreachable by lookups.
    /// Noted at every call, as the kernel's entry hook sees it, even for a dentry already
    /// unhashed (which returns at once).
    pub(crate) fn d_invalidate(&mut self, d: DentryId) {
        self.note_dentry(LifetimeKind::DentryInvalidated, d);
        if !self.dentries[d.0].hashed {
            return;
        }
        self.d_unhash(d);
        self.shrink_dcache_parent(d);
    }

    /// `shrink_dcache_parent`: kill every unused dentry below `d`, leaves first.
    fn shrink_dcache_parent(&mut self, d: DentryId) {
        let children: Vec<DentryId> = self.dentries[d.0].children.values().copied().collect();
        for c in children {
            self.shrink_dcache_parent(c);
            if self.dentries[c.0].count == 0 && !self.dentries[c.0].killed {
                // Within the subtree, a parent left unused is killed at once (shrink_kill).
                let mut next = self.dentry_kill(c);
                while let Some(p) = next {
                    if p == d {
                        break;
                    }
                    next = self.dentry_kill(p);
                }
            }
        }
    }

    /// `echo 2 > drop_caches`: the shrinker frees every unused dentry of the superblock; a
    /// parent left unused by a kill goes too, without asking `d_delete`.
    pub(crate) fn drop_caches(&mut self) {
        self.shrink(usize::MAX);
    }

    /// Memory pressure: the shrinker frees up to `nr` unused dentries, least recently used
    /// first (parents freed by the cascade count too). Returns how many it freed.
    pub(crate) fn shrink(&mut self, nr: usize) -> usize {
        let mut unused: Vec<(u64, DentryId)> = (0..self.dentries.len())
            .map(DentryId)
            .filter(|d| {
                let den = &self.dentries[d.0];
                !den.killed && den.count == 0
            })
            .map(|d| (self.dentries[d.0].lru_stamp, d))
            .collect();
        unused.sort();
        let mut freed = 0;
        for (_, d) in unused {
            if freed >= nr {
                break;
            }
            if self.dentries[d.0].killed || self.dentries[d.0].count != 0 {
                continue;
            }
            let mut next = Some(d);
            while let Some(cur) = next {
                next = self.dentry_kill(cur);
                freed += 1;
            }
        }
        freed
    }

    /// `simple_setattr` for chmod/chown.
    pub(crate) fn simple_setattr(
        &mut self,
        inode: InodeId,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
    ) {
        let i = &mut self.inodes[inode.0];
        if let Some(m) = mode {
            i.perm = m & 0o7777;
        }
        if let Some(u) = uid {
            i.uid = u;
        }
        if let Some(g) = gid {
            i.gid = g;
        }
    }

    /// Before 6.6 an event's directory and files were ordinary tracefs dentries, made and
    /// pinned with the event; 6.6 pinned them at first lookup instead (see `eventfs_root_lookup`).
    pub(crate) fn tracefs_create_event_dentries(&mut self, ei: EiId) {
        let Some(parent) = self.eis[ei.0].parent.and_then(|p| self.ei_dentry(p)) else {
            return;
        };
        let name = self.eis[ei.0].name.clone();
        let d = self.d_alloc(Some(parent), &name);
        self.eventfs_root_lookup_into(ei, d);
        self.dentries[d.0].pinned = true;
        self.eis[ei.0].pinned_dir = Some(d);
        self.tracefs_create_entries(ei, d);
    }

    /// The files of a pinned directory, in the order 6.1's `event_create_dir` made them
    /// (`dcache_readdir` lists newest first, so the order shows).
    pub(crate) fn tracefs_create_entries(&mut self, ei: EiId, d: DentryId) {
        use super::{eventfs::EiData, files::EntryKind::*};
        // What the host listed, newest first under the dcache: creation is the reverse.
        let listed = match self.eis[ei.0].data {
            EiData::Event(f) => self.calls[self.files[f.0].call.0].files.clone(),
            EiData::Events(_) => self.config.events_entry_order.clone(),
            EiData::System(_) => None,
        };
        let mut order = self.ei_entries(ei);
        match listed {
            Some(names) => {
                order.sort_by_key(|k| std::cmp::Reverse(names.iter().position(|n| n == k.name())))
            }
            None => order.sort_by_key(|k| {
                [Enable, Id, Filter, Trigger, Hist, HistDebug, Inject, Format]
                    .iter()
                    .position(|x| x == k)
            }),
        }
        // event_create_dir decides first and makes only the files the event has.
        order.retain(|e| self.entry_callback(ei, *e).is_some());
        for e in order {
            let f = self.d_alloc(Some(d), e.name());
            self.eventfs_root_lookup(ei, f);
            debug_assert!(self.dentries[f.0].inode.is_some(), "{} refused", e.name());
            self.dentries[f.0].pinned = true;
        }
    }

    /// The pinned dentry of an ei's directory, where the pinned policies keep one.
    fn ei_dentry(&self, ei: EiId) -> Option<DentryId> {
        self.eis[ei.0].events_dir.or(self.eis[ei.0].pinned_dir)
    }

    /// Looks `ei` up in its parent as a directory entry, for eager creation.
    fn eventfs_root_lookup_into(&mut self, ei: EiId, d: DentryId) {
        let parent = self.eis[ei.0].parent.expect("a created dir has a parent");
        self.eventfs_root_lookup(parent, d);
    }

    /// Removal before 6.8 (`simple_recursive_removal` of the event's dentries): unhash the
    /// directory's dentry and release every pin below it; holders keep theirs alive.
    pub(crate) fn tracefs_remove_event_dentries(&mut self, ei: EiId) {
        let Some(d) = self.eis[ei.0].pinned_dir.take() else {
            return;
        };
        // simple_recursive_removal marks the directory dead (S_DEAD, nlink 0).
        if let Some(i) = self.dentries[d.0].inode {
            self.inodes[i.0].dead = true;
        }
        // Leaves first, then the directory, as simple_recursive_removal walks.
        self.unpin_files(d);
        self.d_invalidate(d);
        self.dentries[d.0].pinned = false;
        self.dput(d);
    }

    /// Invalidates and releases the pinned file dentries of directory `d`, as
    /// simple_recursive_removal does each positive victim (`d_invalidate`, then the unpinning
    /// `dput`).
    pub(crate) fn unpin_files(&mut self, d: DentryId) {
        let pinned: Vec<DentryId> = self.dentries[d.0]
            .subdirs
            .iter()
            .copied()
            .filter(|c| self.dentries[c.0].pinned)
            .collect();
        for c in pinned {
            self.d_invalidate(c);
            self.dentries[c.0].pinned = false;
            self.dput(c);
        }
    }
}
