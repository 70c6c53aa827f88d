//! eventfs_inodes and the eventfs functions of fs/tracefs/event_inode.c.
//!
//! An ei exists from `eventfs_create_dir` until its last reference goes: one for existence
//! (dropped by `eventfs_remove_dir`, which also sets `is_freed`) and one per dentry whose
//! `d_fsdata` points at it (a directory's own dentry, and each of its files' dentries).

use super::{
    DentryId, EiId, FileId, Model, Node, SysId, TrId,
    files::{EntryKind, EventfsFile},
    ino::EVENTFS_FILE_INODE_INO,
};
use crate::interface::LifetimeKind;

/// `EVENTFS_SAVE_MODE`, `_UID`, `_GID`, `EVENTFS_TOPLEVEL`: flags above the 16 mode bits.
pub(crate) const SAVE_MODE: u32 = 1 << 16;
pub(crate) const SAVE_UID: u32 = 1 << 17;
pub(crate) const SAVE_GID: u32 = 1 << 18;
pub(crate) const TOPLEVEL: u32 = 1 << 19;
const MODE_MASK: u32 = SAVE_MODE - 1;

/// `struct eventfs_attr`: what chmod/chown saved, with the SAVE bits saying which.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub(crate) struct Attr {
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

/// Whose `data` an ei carries, deciding its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum EiData {
    /// `events/` of a trace array.
    Events(TrId),
    /// A group (`trace_subsystem_dir`).
    System(SysId),
    /// An event (`trace_event_file`).
    Event(FileId),
}

/// `struct eventfs_inode`.
#[derive(Debug, Clone, Hash)]
pub(crate) struct Ei {
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) generation: u32,
    /// The kernel keeps no parent pointer; the model keeps one to name paths.
    pub(crate) parent: Option<EiId>,
    /// Linked children in creation order (`list_add_tail`); removal unlinks them.
    pub(crate) children: Vec<EiId>,
    pub(crate) data: EiData,
    pub(crate) kref: i32,
    pub(crate) is_freed: bool,
    pub(crate) released: bool,
    pub(crate) is_events: bool,
    pub(crate) ino: u64,
    pub(crate) attr: Attr,
    pub(crate) entry_attrs: Option<Vec<Attr>>,
    /// The `events/` dentry, held from creation until `eventfs_remove_events_dir`.
    pub(crate) events_dir: Option<DentryId>,
    /// The directory's dentry where a policy pins it (before 6.8) until removal.
    pub(crate) pinned_dir: Option<DentryId>,
}

impl Model {
    fn alloc_ei(&mut self, name: &str, path: String, parent: Option<EiId>, data: EiData) -> EiId {
        let generation = self.next_generation(false, &path);
        let id = EiId(self.eis.len());
        self.alive.eis.insert(id.0);
        self.eis.push(Ei {
            name: name.to_owned(),
            path,
            generation,
            parent,
            children: Vec::new(),
            data,
            kref: 1,
            is_freed: false,
            released: false,
            is_events: false,
            ino: 0,
            attr: Attr::default(),
            entry_attrs: None,
            events_dir: None,
            pinned_dir: None,
        });
        id
    }

    /// `eventfs_create_events_dir`: the `events` directory of a trace array, made at once with
    /// its dentry and inode (held by the ei until instance removal). Its directory number is
    /// drawn now, by `tracefs_get_inode`.
    pub(crate) fn eventfs_create_events_dir(
        &mut self,
        parent: DentryId,
        tr: TrId,
        top: bool,
    ) -> EiId {
        let path = self.child_path(parent, "events");
        let ei = self.alloc_ei("events", path, None, EiData::Events(tr));
        let parent_inode = self.dentries[parent.0]
            .inode
            .expect("events parent is positive");
        let (uid, gid) = (
            self.inodes[parent_inode.0].uid,
            self.inodes[parent_inode.0].gid,
        );
        {
            let e = &mut self.eis[ei.0];
            e.is_events = true;
            // The top instance's events/ follows the tracefs root's ownership.
            e.attr = Attr {
                mode: if top { TOPLEVEL } else { 0 },
                uid,
                gid,
            };
        }
        let ino = self.get_next_ino();
        let nlink = if self.policy.dir_nlink_one() { 1 } else { 2 };
        // tracefs_create_dir (before eventfs) made `events` 0750.
        let perm = if self.policy.on_demand() {
            0o755
        } else {
            0o750
        };
        let inode = self.new_inode(ino, Node::EventfsDir(ei), perm, (uid, gid), nlink);
        let d = self.d_create_pinned(parent, "events", inode);
        self.dentries[d.0].fsdata = Some(ei);
        self.eis[ei.0].kref += 1;
        self.eis[ei.0].events_dir = Some(d);
        if !self.policy.on_demand() {
            self.tracefs_create_entries(ei, d);
        }
        self.eis[ei.0].ino = ino;
        self.note_ei(LifetimeKind::EiCreated, ei);
        ei
    }

    /// `eventfs_create_dir`: allocates an ei and links it at the tail of `parent`'s children;
    /// no dentry or inode is made (before 6.8 the pinned policies make them at once).
    pub(crate) fn eventfs_create_dir(
        &mut self,
        name: &str,
        parent: EiId,
        data: EiData,
    ) -> Option<EiId> {
        if self.eis[parent.0].is_freed {
            // The kernel allocates, sees the parent freed, and frees again.
            return None;
        }
        let path = format!("{}/{}", self.eis[parent.0].path, name);
        let ei = self.alloc_ei(name, path, Some(parent), data);
        self.eis[parent.0].children.push(ei);
        self.note_ei(LifetimeKind::EiCreated, ei);
        if !self.policy.on_demand() {
            self.tracefs_create_event_dentries(ei);
        }
        Some(ei)
    }

    /// `get_ei`.
    pub(crate) fn get_ei(&mut self, ei: EiId) {
        self.eis[ei.0].kref += 1;
    }

    /// `put_ei`: the last reference runs `release_ei`.
    pub(crate) fn put_ei(&mut self, ei: EiId) {
        let e = &mut self.eis[ei.0];
        e.kref -= 1;
        debug_assert!(e.kref >= 0, "ei {} put below zero", e.path);
        if e.kref == 0 {
            // release_ei WARNs unless is_freed; the model keeps the object to answer later.
            e.released = true;
            self.alive.eis.remove(&ei.0);
            self.note_ei(LifetimeKind::EiReleased, ei);
        }
    }

    /// `eventfs_remove_dir` / `eventfs_remove_rec`: children first, each unlinked from its
    /// parent's list and freed (`is_freed` set, existence reference dropped). Dentries are not
    /// touched: stale ones fail d_revalidate later (before 6.8 they were removed here).
    pub(crate) fn eventfs_remove_dir(&mut self, ei: EiId) {
        let children = std::mem::take(&mut self.eis[ei.0].children);
        for child in children {
            self.eventfs_remove_dir(child);
        }
        if let Some(parent) = self.eis[ei.0].parent {
            self.eis[parent.0].children.retain(|c| *c != ei);
        }
        if !self.policy.cached_not_pinned() {
            self.tracefs_remove_event_dentries(ei);
        }
        self.eis[ei.0].is_freed = true;
        self.note_ei(LifetimeKind::EiFreed, ei);
        self.put_ei(ei);
    }

    /// `eventfs_remove_events_dir`: instance removal frees the tree, then invalidates and
    /// releases the `events` dentry itself, the one place eventfs calls `d_invalidate`.
    pub(crate) fn eventfs_remove_events_dir(&mut self, ei: EiId) {
        let Some(d) = self.eis[ei.0].events_dir.take() else {
            return;
        };
        self.eventfs_remove_dir(ei);
        self.d_invalidate(d);
        if !self.policy.on_demand() {
            // Before 6.6 `events/` had its own pinned files.
            self.unpin_files(d);
        }
        self.dentries[d.0].pinned = false;
        self.dput(d);
    }

    /// `eventfs_dir_ino`: drawn at first need, then kept in the ei. Since 6.10 a draw equal
    /// to the file number is replaced.
    pub(crate) fn eventfs_dir_ino(&mut self, ei: EiId) -> u64 {
        if self.eis[ei.0].ino == 0 {
            let mut ino = self.get_next_ino();
            if self.policy.redraw_file_ino() && ino == EVENTFS_FILE_INODE_INO {
                ino = self.get_next_ino();
            }
            self.eis[ei.0].ino = ino;
        }
        self.eis[ei.0].ino
    }

    /// `eventfs_root_lookup`: under eventfs_mutex, a freed directory finds nothing; otherwise
    /// children are searched before entries, and a match gets a fresh inode and a positive,
    /// hashed dentry holding an ei reference. No match leaves `dentry` negative and unhashed,
    /// so it is not cached.
    pub(crate) fn eventfs_root_lookup(&mut self, dir: EiId, dentry: DentryId) {
        if self.eis[dir.0].is_freed {
            return;
        }
        let name = self.dentries[dentry.0].name.clone();
        let child = self.eis[dir.0]
            .children
            .iter()
            .copied()
            .find(|c| self.eis[c.0].name == name);
        if let Some(child) = child {
            self.lookup_dir_entry(dentry, child);
            return;
        }
        let entries = self.ei_entries(dir);
        if let Some(idx) = entries.iter().position(|e| e.name() == name)
            && let Some((perm, file)) = self.entry_callback(dir, entries[idx])
        {
            self.lookup_file(dentry, dir, idx, perm, file);
        }
    }

    /// `lookup_dir_entry`: a directory inode (`tracefs_get_inode` draws a number that
    /// `eventfs_dir_ino` then replaces), attributes from the ei, a reference on the ei.
    fn lookup_dir_entry(&mut self, dentry: DentryId, ei: EiId) {
        let drawn = self.get_next_ino();
        let ino = if self.policy.shared_file_ino() {
            self.eventfs_dir_ino(ei)
        } else {
            drawn
        };
        let attr = Some(self.eis[ei.0].attr);
        // eventfs directories are 0755; before it, tracefs_create_dir made them 0750.
        let mode = if self.policy.on_demand() {
            0o755
        } else {
            0o750
        };
        let (perm, uid, gid) = self.update_inode_attr(dentry, attr, mode);
        let nlink = if self.policy.dir_nlink_one() { 1 } else { 2 };
        let inode = self.new_inode(ino, Node::EventfsDir(ei), perm, (uid, gid), nlink);
        self.dentries[dentry.0].fsdata = Some(ei);
        self.get_ei(ei);
        self.d_add(dentry, Some(inode));
    }

    /// `lookup_file`: every file shares EVENTFS_FILE_INODE_INO (6.8+); the dentry holds a
    /// reference on its parent directory's ei.
    fn lookup_file(
        &mut self,
        dentry: DentryId,
        parent: EiId,
        idx: usize,
        perm: u32,
        file: EventfsFile,
    ) {
        let drawn = self.get_next_ino();
        let ino = if self.policy.shared_file_ino() {
            EVENTFS_FILE_INODE_INO
        } else {
            drawn
        };
        let attr = self.eis[parent.0].entry_attrs.as_ref().map(|a| a[idx]);
        let (perm, uid, gid) = self.update_inode_attr(dentry, attr, perm);
        let inode = self.new_inode(ino, Node::EventfsFile(file), perm, (uid, gid), 1);
        self.dentries[dentry.0].fsdata = Some(parent);
        self.get_ei(parent);
        self.d_add(dentry, Some(inode));
    }

    /// `update_inode_attr`: defaults from the callback's mode and the owning `events` ei's
    /// ownership, overridden by whatever chmod/chown saved.
    fn update_inode_attr(
        &mut self,
        dentry: DentryId,
        attr: Option<Attr>,
        mode: u32,
    ) -> (u32, u32, u32) {
        let events = self.eventfs_find_events(dentry);
        let (mut perm, mut uid, mut gid) = (mode & 0o7777, events.uid, events.gid);
        if let Some(a) = attr {
            if a.mode & SAVE_MODE != 0 {
                perm = a.mode & MODE_MASK & 0o7777;
            }
            if a.mode & SAVE_UID != 0 {
                uid = a.uid;
            }
            if a.mode & SAVE_GID != 0 {
                gid = a.gid;
            }
        }
        (perm, uid, gid)
    }

    /// `eventfs_find_events`: the default ownership below an `events` directory. Before 6.10
    /// (`update_top_events_attr`) the top instance's follows the tracefs root inode as it is
    /// now; since 6.10 it is what the `events` ei stored at creation or last remount.
    fn eventfs_find_events(&self, dentry: DentryId) -> Attr {
        let mut d = self.dentries[dentry.0].parent;
        while let Some(p) = d {
            if let Some(ei) = self.dentries[p.0].fsdata
                && self.eis[ei.0].is_events
            {
                let attr = self.eis[ei.0].attr;
                if attr.mode & TOPLEVEL != 0 && !self.policy.remount_resets_eventfs() {
                    let root = self.dentries[self.root.0].inode.expect("root inode");
                    return Attr {
                        mode: attr.mode,
                        uid: self.inodes[root.0].uid,
                        gid: self.inodes[root.0].gid,
                    };
                }
                return attr;
            }
            d = self.dentries[p.0].parent;
        }
        Attr::default()
    }

    /// `eventfs_set_attr`: chmod/chown of an eventfs dentry, applied to the inode and saved in
    /// the ei (a directory's own attr, or its parent's `entry_attrs` slot for a file) so it
    /// survives the dentry. ENODEV once the ei is freed. For `events/` itself only the inode
    /// changes (6.8 also records that it changed), so its children keep their defaults.
    pub(crate) fn eventfs_set_attr(
        &mut self,
        dentry: DentryId,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> Result<(), crate::interface::Errno> {
        let ei = self.dentries[dentry.0]
            .fsdata
            .expect("eventfs dentry has fsdata");
        if self.eis[ei.0].is_freed {
            return Err(crate::interface::Errno::ENODEV);
        }
        let inode = self.dentries[dentry.0].inode.expect("positive");
        let is_dir = self.inodes[inode.0].dir;
        self.simple_setattr(inode, mode, uid, gid);
        let update = |a: &mut Attr| {
            if let Some(m) = mode {
                a.mode = (a.mode & !MODE_MASK) | (m & MODE_MASK) | SAVE_MODE;
            }
            if let Some(u) = uid {
                a.mode |= SAVE_UID;
                a.uid = u;
            }
            if let Some(g) = gid {
                a.mode |= SAVE_GID;
                a.gid = g;
            }
        };
        if is_dir {
            let e = &mut self.eis[ei.0];
            if e.is_events {
                if !self.policy.remount_resets_eventfs() {
                    if uid.is_some() {
                        e.attr.mode |= SAVE_UID;
                    }
                    if gid.is_some() {
                        e.attr.mode |= SAVE_GID;
                    }
                }
            } else {
                update(&mut e.attr);
            }
        } else {
            let entries = self.ei_entries(ei);
            let name = self.dentries[dentry.0].name.clone();
            let e = &mut self.eis[ei.0];
            let attrs = e
                .entry_attrs
                .get_or_insert_with(|| vec![Attr::default(); entries.len()]);
            if let Some(i) = entries.iter().position(|k| k.name() == name) {
                update(&mut attrs[i]);
            }
        }
        Ok(())
    }

    /// `eventfs_remount` / `eventfs_set_attrs` (6.10+): from each live `events` ei down, a
    /// remount with `uid=`/`gid=` forgets what chown saved and takes the new owner as default.
    pub(crate) fn eventfs_remount(&mut self, uid: Option<u32>, gid: Option<u32>) {
        for e in self.eis.iter_mut().filter(|e| !e.is_freed) {
            let set = |a: &mut Attr| {
                if let Some(u) = uid {
                    a.mode &= !SAVE_UID;
                    a.uid = u;
                }
                if let Some(g) = gid {
                    a.mode &= !SAVE_GID;
                    a.gid = g;
                }
            };
            set(&mut e.attr);
            if let Some(attrs) = &mut e.entry_attrs {
                attrs.iter_mut().for_each(set);
            }
        }
    }

    /// The entries (files) of an ei, in array order, whether or not their callback says they
    /// exist now.
    pub(crate) fn ei_entries(&self, ei: EiId) -> Vec<EntryKind> {
        let c = &self.config;
        let mut v = match self.eis[ei.0].data {
            EiData::Events(_) => vec![
                EntryKind::TopEnable,
                EntryKind::HeaderPage,
                EntryKind::HeaderEvent,
            ],
            EiData::System(_) if self.eis[ei.0].name == "ftrace" => Vec::new(),
            EiData::System(_) => vec![EntryKind::SystemFilter, EntryKind::SystemEnable],
            EiData::Event(_) => {
                let mut v = vec![
                    EntryKind::Enable,
                    EntryKind::Filter,
                    EntryKind::Trigger,
                    EntryKind::Format,
                ];
                v.extend(c.perf_events.then_some(EntryKind::Id));
                v.extend(c.hist.then_some(EntryKind::Hist));
                v.extend(c.hist_debug.then_some(EntryKind::HistDebug));
                v.extend(c.inject.then_some(EntryKind::Inject));
                let listed = |n: &str| {
                    c.event_entry_order
                        .as_ref()
                        .is_some_and(|o| o.iter().any(|x| x == n))
                };
                v.extend(listed("btf_ids").then_some(EntryKind::BtfIds));
                v
            }
        };
        // The arrays' order is kernel data that moved (7.2 lists format and id first); where
        // the host showed it, follow it.
        let order = match self.eis[ei.0].data {
            EiData::Events(_) => &c.events_entry_order,
            EiData::Event(_) => &c.event_entry_order,
            EiData::System(_) => &None,
        };
        if let Some(order) = order {
            v.sort_by_key(|k| {
                order
                    .iter()
                    .position(|n| n == k.name())
                    .unwrap_or(usize::MAX)
            });
        }
        v
    }
}
