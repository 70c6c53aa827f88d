//! The trace side (kernel/trace/trace.c, trace_events.c): trace arrays (the top level and
//! each instance), events and their per-instance files, and the group directories they share.

use super::StaticEvent;
use super::{
    CallId, DentryId, EiId, FileId, Model, Node, SysId, TrId, eventfs::EiData, files::TraceFile,
};
use crate::interface::{ControlFile, Errno};

/// `struct trace_array`.
#[derive(Debug, Clone, Hash)]
pub(crate) struct TraceArray {
    /// `None` for the top level.
    pub(crate) name: Option<String>,
    pub(crate) dir: DentryId,
    pub(crate) events: EiId,
    /// Per-instance event files, newest first (`list_add` onto `tr->events`).
    pub(crate) files: Vec<FileId>,
    pub(crate) systems: Vec<SysId>,
    /// `tr->ref`: 1 for existence plus one per open file that took it.
    pub(crate) refs: i32,
    /// `tr->trace_ref`: trace_pipe readers.
    pub(crate) trace_ref: i32,
    pub(crate) alive: bool,
    /// The plain files made with the instance, removed with it.
    pub(crate) plain: Vec<DentryId>,
    /// `tracing_on`: whether the ring buffer records.
    pub(crate) tracing_on: bool,
}

/// `struct trace_subsystem_dir`: a group directory of one trace array.
#[derive(Debug, Clone, Hash)]
pub(crate) struct SystemDir {
    pub(crate) tr: TrId,
    pub(crate) name: String,
    pub(crate) ei: EiId,
    pub(crate) nr_events: u32,
    pub(crate) refs: i32,
}

impl EventFile {
    /// `EVENT_FILE_FL_ENABLED`: the tracepoint is registered, by a user or an eprobe.
    pub(crate) fn registered(&self) -> bool {
        self.enabled || self.soft > 0
    }
}

/// `struct trace_event_file`: one event in one trace array.
#[derive(Debug, Clone, Hash)]
pub(crate) struct EventFile {
    pub(crate) tr: TrId,
    pub(crate) call: CallId,
    pub(crate) ei: EiId,
    /// Enabled by a user (`enable`, `set_event`): `EVENT_FILE_FL_ENABLED` without
    /// `EVENT_FILE_FL_SOFT_DISABLED`.
    pub(crate) enabled: bool,
    /// Enabled eprobes attached to it in this trace array: each holds the event in soft mode
    /// (`tm_ref`), registered but, unless a user enabled it too, recording nothing.
    pub(crate) soft: u32,
    /// `EVENT_FILE_FL_FREED`.
    pub(crate) freed: bool,
    /// Open files holding it.
    pub(crate) refs: i32,
    pub(crate) filter: String,
}

/// Which kind of event a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CallKind {
    Static,
    Kprobe,
    Uprobe,
    /// `f:`, trace_fprobe.c.
    Fprobe,
    /// `t:`, a trace_fprobe on a tracepoint.
    Tprobe,
    /// `e:`, trace_eprobe.c: an event on another event.
    Eprobe,
    /// `u:`, trace_events_user.c: a user event, made persistent through `dynamic_events`.
    User,
}

/// `struct trace_event_call`.
#[derive(Debug, Clone, Hash)]
pub(crate) struct Call {
    pub(crate) group: String,
    pub(crate) name: String,
    pub(crate) kind: CallKind,
    pub(crate) ftrace_internal: bool,
    /// The event type number the `id` file shows (0 for none).
    pub(crate) event_type: u32,
    /// The files of its directory, where the host told them.
    pub(crate) files: Option<Vec<String>>,
    pub(crate) alive: bool,
    /// For an eprobe, the event it is attached to, which it holds a reference on.
    pub(crate) attached_to: Option<CallId>,
}

/// `TRACEFS_DEFAULT_MODE`: the root directory's mode until `mode=` says otherwise.
const TRACEFS_DEFAULT_MODE: u32 = 0o700;

/// The first number the trace-event IDA hands out (`__TRACE_LAST_TYPE`).
const FIRST_EVENT_TYPE: u32 = 32;

impl Model {
    /// Mounting: the root (inode 1, as `simple_fill_super` makes it), the top-level files, the
    /// `instances` directory, the top trace array and its `events`, and the static events.
    pub(crate) fn mount_tracefs(&mut self) {
        let root_inode = self.new_inode(1, Node::Root, TRACEFS_DEFAULT_MODE, (0, 0), 2);
        self.root = self.d_alloc(None, "");
        self.d_add(self.root, Some(root_inode));
        self.dentries[self.root.0].pinned = true;
        self.cwd = self.root;
        self.dentries[self.root.0].count += 1;

        let mut controls = vec![ControlFile::UprobeEvents, ControlFile::DynamicEvents];
        if self.config.kprobe_events {
            controls.insert(0, ControlFile::KprobeEvents);
        }
        for c in controls {
            let ino = self.get_next_ino();
            let inode = self.new_inode(ino, Node::Control(c), 0o640, (0, 0), 1);
            self.d_create_pinned(self.root, c.file_name(), inode);
        }
        let ino = self.get_next_ino();
        let inode = self.new_inode(ino, Node::InstancesDir, 0o750, (0, 0), 2);
        self.instances_dir = self.d_create_pinned(self.root, "instances", inode);
        self.inc_nlink(self.root);

        let top = self.new_trace_array(None, self.root);
        for e in self.config.events.clone() {
            self.register_call(&e, CallKind::Static);
        }
        debug_assert_eq!(top, TrId(0));
    }

    fn inc_nlink(&mut self, d: DentryId) {
        let inode = self.dentries[d.0].inode.expect("positive");
        self.inodes[inode.0].nlink += 1;
    }

    /// `trace_array_create`: plain files, `events`, and a directory per existing event.
    fn new_trace_array(&mut self, name: Option<String>, dir: DentryId) -> TrId {
        let tr = TrId(self.trs.len());
        self.trs.push(TraceArray {
            name: name.clone(),
            dir,
            events: EiId(0),
            files: Vec::new(),
            systems: Vec::new(),
            refs: 1,
            trace_ref: 0,
            alive: true,
            plain: Vec::new(),
            tracing_on: true,
        });
        // The files the model gives meaning to, then `events/`; or, for an instance of a
        // host, its directory as the host makes it.
        let layout = match &name {
            Some(_) if !self.config.instance_entries.is_empty() => {
                self.config.instance_entries.clone()
            }
            _ => TraceFile::ALL
                .iter()
                .filter(|f| **f != TraceFile::Plain)
                .map(|f| super::InstanceEntry {
                    name: f.name().to_owned(),
                    dir: false,
                    perm: f.perm(),
                    nlink: 1,
                })
                .chain(std::iter::once(super::InstanceEntry {
                    name: "events".into(),
                    dir: true,
                    perm: 0o750,
                    nlink: 2,
                }))
                .collect(),
        };
        for entry in layout {
            if entry.name == "events" {
                let events = self.eventfs_create_events_dir(dir, tr, name.is_none());
                self.trs[tr.0].events = events;
                self.inc_nlink(dir);
                continue;
            }
            let ino = self.get_next_ino();
            let node = match (entry.dir, TraceFile::named(&entry.name)) {
                (true, _) => Node::PlainDir,
                (false, Some(f)) => Node::TraceFile(tr, f),
                (false, None) => Node::TraceFile(tr, TraceFile::Plain),
            };
            let inode = self.new_inode(ino, node, entry.perm, (0, 0), entry.nlink);
            let d = self.d_create_pinned(dir, &entry.name, inode);
            if entry.dir {
                self.inc_nlink(dir);
            }
            self.trs[tr.0].plain.push(d);
        }
        if name.is_some() {
            // Groups made since the host's instances were seen come first: their calls are
            // the newest on ftrace_events, which __trace_add_event_dirs walks from the head.
            let known = &self.config.instance_groups;
            let new: Vec<String> = self
                .call_order
                .iter()
                .map(|c| self.calls[c.0].group.clone())
                .filter(|g| !known.contains(g))
                .collect();
            for group in new {
                if !self.trs[tr.0]
                    .systems
                    .iter()
                    .any(|s| self.systems[s.0].name == group)
                {
                    self.new_system_dir(tr, &group);
                }
            }
            // Then the others, in the order the host's instances show them.
            for group in self.config.instance_groups.clone() {
                if self
                    .call_order
                    .iter()
                    .any(|c| self.calls[c.0].group == group)
                {
                    self.new_system_dir(tr, &group);
                }
            }
        }
        // __trace_add_event_dirs walks ftrace_events, newest call first.
        for call in self.call_order.clone() {
            self.add_event_to_tr(call, tr);
        }
        tr
    }

    /// `register_trace_event` + `trace_add_event_call`: a type number from the IDA (lowest
    /// free), the call at the head of `ftrace_events`, and a directory in every trace array.
    pub(crate) fn register_call(&mut self, event: &StaticEvent, kind: CallKind) -> CallId {
        let StaticEvent {
            group,
            name,
            ftrace_internal,
            files,
        } = event.clone();
        let event_type = (FIRST_EVENT_TYPE..)
            .find(|t| !self.event_types.contains(t))
            .expect("free type");
        self.event_types.insert(event_type);
        let call = CallId(self.calls.len());
        self.calls.push(Call {
            group,
            name,
            kind,
            ftrace_internal,
            event_type,
            files,
            alive: true,
            attached_to: None,
        });
        self.call_order.insert(0, call);
        for tr in self.live_trace_arrays() {
            self.add_event_to_tr(call, tr);
        }
        call
    }

    fn live_trace_arrays(&self) -> Vec<TrId> {
        (0..self.trs.len())
            .map(TrId)
            .filter(|t| self.trs[t.0].alive)
            .collect()
    }

    /// `event_remove`: the call leaves every trace array, its type number is freed.
    pub(crate) fn unregister_call(&mut self, call: CallId) {
        for tr in self.live_trace_arrays() {
            let file = self.trs[tr.0]
                .files
                .iter()
                .copied()
                .find(|f| self.files[f.0].call == call);
            if let Some(f) = file {
                self.set_enabled(f, false);
                self.remove_event_file_dir(f);
            }
        }
        self.event_types.remove(&self.calls[call.0].event_type);
        self.calls[call.0].alive = false;
        self.call_order.retain(|c| *c != call);
    }

    /// `__trace_add_new_event` / `event_create_dir`: the group directory (made by its first
    /// event) and the event's directory inside it.
    fn add_event_to_tr(&mut self, call: CallId, tr: TrId) {
        let group = self.calls[call.0].group.clone();
        let sys = match self.trs[tr.0]
            .systems
            .iter()
            .copied()
            .find(|s| self.systems[s.0].name == group)
        {
            Some(s) => {
                self.systems[s.0].nr_events += 1;
                s
            }
            None => {
                let Some(s) = self.new_system_dir(tr, &group) else {
                    return;
                };
                self.systems[s.0].nr_events = 1;
                s
            }
        };
        let f = FileId(self.files.len());
        let name = self.calls[call.0].name.clone();
        let sys_ei = self.systems[sys.0].ei;
        self.files.push(EventFile {
            tr,
            call,
            ei: EiId(0),
            enabled: false,
            soft: 0,
            freed: false,
            refs: 0,
            filter: "none".to_owned(),
        });
        match self.eventfs_create_dir(&name, sys_ei, EiData::Event(f)) {
            Some(ei) => {
                self.files[f.0].ei = ei;
                self.trs[tr.0].files.insert(0, f);
            }
            None => self.files[f.0].freed = true,
        }
    }

    /// `event_subsystem_dir`: a group directory with no events yet.
    fn new_system_dir(&mut self, tr: TrId, group: &str) -> Option<SysId> {
        let s = SysId(self.systems.len());
        let events = self.trs[tr.0].events;
        let ei = self.eventfs_create_dir(group, events, EiData::System(s))?;
        self.systems.push(SystemDir {
            tr,
            name: group.to_owned(),
            ei,
            nr_events: 0,
            refs: 0,
        });
        self.trs[tr.0].systems.push(s);
        Some(s)
    }

    /// `remove_event_file_dir`: the event's directory goes, then the group's if it was the
    /// last event; the file is marked FREED for open handles.
    fn remove_event_file_dir(&mut self, f: FileId) {
        let (tr, ei) = (self.files[f.0].tr, self.files[f.0].ei);
        self.eventfs_remove_dir(ei);
        self.trs[tr.0].files.retain(|x| *x != f);
        let group = self.calls[self.files[f.0].call.0].group.clone();
        if let Some(s) = self.trs[tr.0]
            .systems
            .iter()
            .copied()
            .find(|s| self.systems[s.0].name == group)
        {
            self.systems[s.0].nr_events -= 1;
            if self.systems[s.0].nr_events == 0 {
                let sys_ei = self.systems[s.0].ei;
                self.eventfs_remove_dir(sys_ei);
                self.trs[tr.0].systems.retain(|x| *x != s);
            }
        }
        self.files[f.0].freed = true;
    }

    /// `ftrace_event_enable_disable` of one event file by a user. An eprobe's file turning on
    /// or off puts its target's file in the same trace array into soft mode or takes it out
    /// (`enable_eprobe` / `disable_eprobe`, through the target's trigger mode).
    pub(crate) fn set_enabled(&mut self, f: FileId, on: bool) {
        if std::mem::replace(&mut self.files[f.0].enabled, on) == on {
            return;
        }
        let (tr, call) = (self.files[f.0].tr, self.files[f.0].call);
        let Some(target) = self.calls[call.0].attached_to else {
            return;
        };
        let file = self.trs[tr.0]
            .files
            .iter()
            .copied()
            .find(|t| self.files[t.0].call == target && !self.files[t.0].freed);
        if let Some(t) = file {
            let soft = &mut self.files[t.0].soft;
            *soft = if on {
                *soft + 1
            } else {
                soft.saturating_sub(1)
            };
        }
    }

    /// `trace_event_dyn_busy`: an eprobe holds a reference on `call`.
    pub(crate) fn call_pinned(&self, call: CallId) -> bool {
        self.call_order
            .iter()
            .any(|c| self.calls[c.0].attached_to == Some(call))
    }

    /// Whether `call` is enabled in any trace array (what makes its removal EBUSY).
    pub(crate) fn call_enabled(&self, call: CallId) -> bool {
        self.files
            .iter()
            .any(|f| f.call == call && f.registered() && !f.freed)
    }

    /// `instance_mkdir`: EEXIST for a taken name, else a new trace array.
    pub(crate) fn instance_mkdir(&mut self, name: &str) -> Result<(), Errno> {
        if self
            .trs
            .iter()
            .any(|t| t.alive && t.name.as_deref() == Some(name))
        {
            return Err(Errno::EEXIST);
        }
        let ino = self.get_next_ino();
        let tr = TrId(self.trs.len());
        let inode = self.new_inode(ino, Node::InstanceDir(tr), 0o750, (0, 0), 2);
        let dir = self.d_create_pinned(self.instances_dir, name, inode);
        self.inc_nlink(self.instances_dir);
        self.new_trace_array(Some(name.to_owned()), dir);
        Ok(())
    }

    /// `instance_rmdir` / `__remove_instance`: EBUSY while an open file pins the instance
    /// (`tr->ref > 1`) or trace_pipe is open; otherwise every event is disabled and removed,
    /// `events` is invalidated, and the plain files and the directory are removed.
    pub(crate) fn instance_rmdir(&mut self, tr: TrId) -> Result<(), Errno> {
        let t = &self.trs[tr.0];
        if t.refs > 1 || t.trace_ref > 0 {
            return Err(Errno::EBUSY);
        }
        for f in self.trs[tr.0].files.clone() {
            self.set_enabled(f, false);
            self.remove_event_file_dir(f);
        }
        let events = self.trs[tr.0].events;
        self.eventfs_remove_events_dir(events);
        self.trs[tr.0].alive = false;
        for d in std::mem::take(&mut self.trs[tr.0].plain) {
            self.tracefs_remove(d);
        }
        let dir = self.trs[tr.0].dir;
        self.tracefs_remove(dir);
        let instances = self.dentries[self.instances_dir.0].inode.expect("positive");
        self.inodes[instances.0].nlink -= 1;
        Ok(())
    }

    /// `tracefs_remove` (simple_recursive_removal of one pinned dentry): unhash it, mark its
    /// inode dead, and drop the creator's reference.
    fn tracefs_remove(&mut self, d: DentryId) {
        if let Some(i) = self.dentries[d.0].inode {
            self.inodes[i.0].dead = true;
        }
        self.d_invalidate(d);
        if self.dentries[d.0].pinned {
            self.dentries[d.0].pinned = false;
            self.dput(d);
        }
    }
}
