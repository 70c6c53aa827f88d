//! The system calls a scenario makes, and the path walk under them (fs/namei.c), run against
//! the model's dcache. Callers are root, so permission bits never refuse them.

use super::{DentryId, InodeId, Model, Node, OpenFile, eventfs::TOPLEVEL, files::Holds};
use crate::interface::{Action, ControlFile, Errno, FileKind, OpenMode, Outcome, StatInfo, Value};

/// How a walk ends: at the last component, or (for mkdir/rmdir/unlink) at its parent.
enum Walked {
    /// The final dentry, with a reference the caller must `dput`.
    Found(DentryId),
    /// The last component does not exist in this parent (parent referenced).
    Missing { parent: DentryId, name: String },
}

pub(crate) fn apply(m: &mut Model, action: &Action) -> Outcome {
    let r = match action {
        Action::Control { file, line } => {
            m.write_path(file.file_name(), &format!("{line}\n"), false)
        }
        Action::Mkdir { path } => m.mkdir(path).map(|()| Value::Done),
        Action::Rmdir { path } => m.rmdir(path).map(|()| Value::Done),
        Action::Unlink { path } => m.unlink(path).map(|()| Value::Done),
        Action::Rename { from, to } => m.rename(from, to).map(|()| Value::Done),
        Action::Stat { path } => m.stat(path).map(Value::Stat),
        Action::Open { path, mode, handle } => {
            m.open(None, path, *mode, handle).map(|()| Value::Done)
        }
        Action::OpenAt {
            dir,
            path,
            as_handle,
        } => m
            .open(Some(dir), path, OpenMode::Read, as_handle)
            .map(|()| Value::Done),
        Action::Read { handle, len } => return m.read_outcome(handle, *len),
        Action::Write { handle, data } => {
            m.write(handle, data).map(|bytes| Value::Written { bytes })
        }
        Action::Close { handle } => m.close(handle).map(|()| Value::Done),
        Action::Fstat { handle } => m.fstat(handle).map(Value::Stat),
        Action::Getdents { handle, buffer } => m
            .getdents(handle, *buffer)
            .map(|entries| Value::Dirents { entries }),
        Action::Tell { handle } => m
            .handles
            .get(handle)
            .map(|f| Value::Pos { pos: f.pos })
            .ok_or(Errno::EBADF),
        Action::Seek { handle, pos } => m.seek(handle, *pos).map(|pos| Value::Pos { pos }),
        Action::List { path, .. } => m.list(path).map(|names| Value::Names { names }),
        Action::ReadFile { path } => return m.read_path(path),
        Action::WriteFile { path, data } => m.write_path(path, data, true),
        Action::Chdir { path } => m.chdir(path).map(|()| Value::Done),
        Action::Fchdir { handle } => m.fchdir(handle).map(|()| Value::Done),
        Action::Getcwd => m.getcwd().map(|path| Value::Cwd { path }),
        Action::Chmod { path, mode } => m
            .setattr(path, Some(*mode), None, None)
            .map(|()| Value::Done),
        Action::Chown { path, uid, gid } => m.setattr(path, None, *uid, *gid).map(|()| Value::Done),
        Action::Remount { options } => m.remount(options).map(|()| Value::Done),
        Action::DropCaches => {
            m.drop_caches();
            Ok(Value::Done)
        }
    };
    r.into()
}

/// A handle name the scenario has not opened.
const NO_HANDLE: Errno = Errno::EBADF;

impl Model {
    fn split(path: &str) -> Vec<&str> {
        crate::interface::path::components(path).collect()
    }

    /// Where a scenario path starts: the current directory or the root (see
    /// [`crate::interface::path`]).
    fn start_of(&self, path: &str) -> DentryId {
        match crate::interface::path::base(path) {
            crate::interface::path::Base::Cwd => self.cwd,
            crate::interface::path::Base::Root => self.root,
        }
    }

    /// Walks `comps` from `start`. It starts in RCU mode, taking no references and so leaving
    /// no lifetime trace; the first component that needs `->lookup` or fails revalidation drops
    /// to ref-walk (`try_to_unlazy`), which references each step. With `parent_only`, the last
    /// component is looked up but a miss is returned rather than refused.
    fn walk(
        &mut self,
        start: DentryId,
        comps: &[&str],
        parent_only: bool,
    ) -> Result<Walked, Errno> {
        let mut cur = start;
        let mut refwalk = false;
        let last = comps.len();
        for (i, comp) in comps.iter().enumerate() {
            let inode = self.dentries[cur.0].inode.ok_or(Errno::ENOENT)?;
            if !self.inodes[inode.0].dir {
                if refwalk {
                    self.dput(cur);
                }
                return Err(Errno::ENOTDIR);
            }
            let next = match *comp {
                "." => continue,
                ".." => {
                    let p = self.dentries[cur.0].parent.unwrap_or(cur);
                    if refwalk {
                        self.dget(p);
                    }
                    p
                }
                name => match self.lookup_component(cur, inode, name, &mut refwalk) {
                    Some(d) => d,
                    None if parent_only && i + 1 == last => {
                        if !refwalk {
                            self.dget(cur);
                        }
                        return Ok(Walked::Missing {
                            parent: cur,
                            name: name.to_owned(),
                        });
                    }
                    None => {
                        if refwalk {
                            self.dput(cur);
                        }
                        return Err(Errno::ENOENT);
                    }
                },
            };
            if refwalk && next != cur {
                self.dput(cur);
            } else if refwalk {
                self.dput(next);
            }
            cur = next;
        }
        if !refwalk {
            // Leaving RCU mode at the end: the final dentry is legitimized with a reference.
            self.dget(cur);
        }
        Ok(Walked::Found(cur))
    }

    /// One component: `lookup_fast` in the dcache (dropping a dentry that fails
    /// `d_revalidate` with `d_invalidate`), else `lookup_slow`. Returns the child referenced
    /// when in ref-walk (or switched to it), or `None` for a miss.
    fn lookup_component(
        &mut self,
        dir: DentryId,
        inode: InodeId,
        name: &str,
        refwalk: &mut bool,
    ) -> Option<DentryId> {
        let unlazy = |m: &mut Model, refwalk: &mut bool| {
            if !*refwalk {
                m.dget(dir);
                *refwalk = true;
            }
        };
        if let Some(d) = self.d_lookup(dir, name) {
            if self.d_revalidate(d) {
                self.note_dentry(crate::interface::LifetimeKind::Revalidated, d);
                // A cached negative dentry answers ENOENT without ->lookup.
                self.dentries[d.0].inode?;
                if *refwalk {
                    self.dget(d);
                }
                return Some(d);
            }
            self.note_dentry(crate::interface::LifetimeKind::RevalidateFailed, d);
            unlazy(self, refwalk);
            self.dget(d);
            self.d_invalidate(d);
            self.dput(d);
        }
        unlazy(self, refwalk);
        if self.inodes[inode.0].dead {
            return None;
        }
        let d = self.d_alloc(Some(dir), name);
        match self.inodes[inode.0].node {
            Node::EventfsDir(ei) => {
                self.eventfs_root_lookup(ei, d);
                self.note_dentry(crate::interface::LifetimeKind::DentryLookedUp, d);
                if self.policy == super::Policy::V6_6 && self.dentries[d.0].inode.is_some() {
                    // 6.6/6.7 kept every dentry eventfs made until the event went.
                    self.dentries[d.0].count += 1;
                    self.dentries[d.0].pinned = true;
                    if let Some(Node::EventfsDir(e)) =
                        self.dentries[d.0].inode.map(|i| self.inodes[i.0].node)
                    {
                        self.eis[e.0].pinned_dir = Some(d);
                    }
                }
            }
            // simple_lookup caches the miss as a hashed negative dentry.
            _ => self.d_add(d, None),
        }
        if self.dentries[d.0].inode.is_none() {
            self.dput(d);
            return None;
        }
        Some(d)
    }

    fn resolve(&mut self, path: &str) -> Result<DentryId, Errno> {
        let start = self.start_of(path);
        match self.walk(start, &Self::split(path), false)? {
            Walked::Found(d) => Ok(d),
            Walked::Missing { .. } => unreachable!("only parent walks miss"),
        }
    }

    fn inode_of(&self, d: DentryId) -> InodeId {
        self.dentries[d.0]
            .inode
            .expect("walks end on positive dentries")
    }

    /// `getattr`: plain tracefs inodes show the root's owner unless chowned themselves
    /// (`set_tracefs_inode_owner`); before 6.10 the top `events` directory follows the root
    /// too unless chowned; eventfs directories count links as the policy says.
    fn stat_inode(&self, inode: InodeId) -> StatInfo {
        let i = &self.inodes[inode.0];
        let root = &self.inodes[self.inode_of(self.root).0];
        let (mut uid, mut gid, mut nlink) = (i.uid, i.gid, i.nlink);
        match i.node {
            Node::Root => {}
            Node::EventfsDir(ei) => {
                let e = &self.eis[ei.0];
                if e.is_events
                    && e.attr.mode & TOPLEVEL != 0
                    && !self.policy.remount_resets_eventfs()
                {
                    if e.attr.mode & super::eventfs::SAVE_UID == 0 {
                        uid = root.uid;
                    }
                    if e.attr.mode & super::eventfs::SAVE_GID == 0 {
                        gid = root.gid;
                    }
                }
                if !self.policy.dir_nlink_one() {
                    nlink = 2 + e.children.len() as u64;
                }
            }
            Node::EventfsFile(_) => {}
            _ => {
                if !i.owner_set.0 {
                    uid = root.uid;
                }
                if !i.owner_set.1 {
                    gid = root.gid;
                }
            }
        }
        if i.dead {
            // A removed directory has no links left (clear_nlink).
            nlink = 0;
        }
        StatInfo {
            ino: i.ino,
            kind: if i.dir { FileKind::Dir } else { FileKind::File },
            perm: i.perm,
            nlink,
            uid,
            gid,
        }
    }

    fn stat(&mut self, path: &str) -> Result<StatInfo, Errno> {
        let d = self.resolve(path)?;
        let st = self.stat_inode(self.inode_of(d));
        self.dput(d);
        Ok(st)
    }

    fn fstat(&mut self, handle: &str) -> Result<StatInfo, Errno> {
        let inode = self.handles.get(handle).ok_or(NO_HANDLE)?.inode;
        Ok(self.stat_inode(inode))
    }

    /// `open`: the walk, then `O_CREAT` of a missing name (EACCES: tracefs has no `->create`),
    /// the type checks, and the file's own `open`.
    fn open(
        &mut self,
        dir: Option<&String>,
        path: &str,
        mode: OpenMode,
        handle: &str,
    ) -> Result<(), Errno> {
        if self.handles.contains_key(handle) {
            return Err(NO_HANDLE);
        }
        let start = match dir {
            Some(h) => {
                let f = self.handles.get(h).ok_or(NO_HANDLE)?;
                if !self.inodes[f.inode.0].dir {
                    return Err(Errno::ENOTDIR);
                }
                f.dentry
            }
            None => self.start_of(path),
        };
        let comps = Self::split(path);
        let create = mode == OpenMode::Create;
        let d = match self.walk(start, &comps, create)? {
            Walked::Found(d) => d,
            Walked::Missing { parent, .. } => {
                self.dput(parent);
                return Err(Errno::EACCES);
            }
        };
        let inode = self.inode_of(d);
        let is_dir = self.inodes[inode.0].dir;
        let check = match mode {
            OpenMode::Directory if !is_dir => Err(Errno::ENOTDIR),
            OpenMode::Write | OpenMode::ReadWrite | OpenMode::Create if is_dir => {
                Err(Errno::EISDIR)
            }
            _ => Ok(()),
        };
        let opened = check.and_then(|()| self.file_open(inode, mode == OpenMode::Create));
        let (holds, children_held) = match opened {
            Ok(x) => x,
            Err(e) => {
                self.dput(d);
                return Err(e);
            }
        };
        let (readable, writable) = match mode {
            OpenMode::Read | OpenMode::Directory => (true, false),
            OpenMode::Write | OpenMode::Create => (false, true),
            OpenMode::ReadWrite => (true, true),
        };
        self.handles.insert(
            handle.to_owned(),
            OpenFile {
                dentry: d,
                inode,
                pos: 0,
                readable,
                writable,
                holds,
                children_held,
                cursor: None,
                read_before: false,
            },
        );
        Ok(())
    }

    /// The filesystem's `open` for `inode`; `truncate` is `O_TRUNC`, which on a probe control
    /// file removes every probe of its kind (EBUSY first if one is enabled).
    fn file_open(
        &mut self,
        inode: InodeId,
        truncate: bool,
    ) -> Result<(Holds, Vec<DentryId>), Errno> {
        match self.inodes[inode.0].node {
            Node::EventfsFile(f) => Ok((self.eventfs_open(f)?, Vec::new())),
            Node::TraceFile(tr, f) => Ok((self.trace_file_open(tr, f, truncate)?, Vec::new())),
            Node::Control(c) if truncate => {
                self.release_all_probes(c)?;
                Ok((Holds::default(), Vec::new()))
            }
            Node::EventfsDir(ei) if self.policy.open_dir_holds_children() => {
                Ok((Holds::default(), self.make_all_children(ei)))
            }
            _ => Ok((Holds::default(), Vec::new())),
        }
    }

    /// 6.6's `dcache_dir_open_wrapper`: look up every child so `dcache_readdir` sees them, and
    /// hold them while the directory is open.
    fn make_all_children(&mut self, ei: super::EiId) -> Vec<DentryId> {
        let Some(dir) = self.handles_dir_dentry(ei) else {
            return Vec::new();
        };
        let names: Vec<String> = self
            .ei_entries(ei)
            .into_iter()
            .filter(|k| self.entry_callback(ei, *k).is_some())
            .map(|k| k.name().to_owned())
            .chain(
                self.eis[ei.0]
                    .children
                    .iter()
                    .map(|c| self.eis[c.0].name.clone()),
            )
            .collect();
        let inode = self.inode_of(dir);
        let mut held = Vec::new();
        for name in names {
            let mut refwalk = true;
            if let Some(d) = self.lookup_component(dir, inode, &name, &mut refwalk) {
                held.push(d);
            }
        }
        held
    }

    /// The dentry of an eventfs directory a pinned policy keeps.
    fn handles_dir_dentry(&self, ei: super::EiId) -> Option<DentryId> {
        self.eis[ei.0].events_dir.or(self.eis[ei.0].pinned_dir)
    }

    /// `dyn_events_release_all` for a truncating open of a control file: EBUSY if one is
    /// enabled, else each freed in turn.
    fn release_all_probes(&mut self, c: ControlFile) -> Result<(), Errno> {
        let kind = match c {
            ControlFile::KprobeEvents => Some(super::tracing::CallKind::Kprobe),
            ControlFile::UprobeEvents => Some(super::tracing::CallKind::Uprobe),
            ControlFile::DynamicEvents => None,
        };
        let calls: Vec<_> = self
            .probes
            .iter()
            .filter(|p| kind.is_none_or(|k| k == p.kind))
            .map(|p| p.call)
            .collect();
        if calls.iter().any(|c| self.call_enabled(*c)) {
            return Err(Errno::EBUSY);
        }
        // Freed in creation order; one an eprobe still holds stops the release there.
        for call in calls {
            if !self.calls[call.0].alive {
                continue;
            }
            if self.call_pinned(call) {
                return Err(Errno::EBUSY);
            }
            self.unregister_call(call);
            self.probes.retain(|p| p.call != call);
        }
        Ok(())
    }

    fn read(&mut self, handle: &str, len: usize) -> Result<Option<String>, Errno> {
        let f = self.handles.get(handle).ok_or(NO_HANDLE)?.clone();
        if self.inodes[f.inode.0].dir {
            return Err(Errno::EISDIR);
        }
        if !f.readable {
            return Err(Errno::EBADF);
        }
        // event_filter_read and subsystem_filter_read print only at position 0: a read that
        // continues one finds nothing, even where the whole text did not fit.
        if let Node::EventfsFile(file) = self.inodes[f.inode.0].node
            && file.kind == super::files::EntryKind::Filter
            && f.pos > 0
        {
            return Ok(Some(String::new()));
        }
        let content = match self.inodes[f.inode.0].node {
            Node::EventfsFile(file) => self.eventfs_read(file)?,
            Node::TraceFile(tr, super::files::TraceFile::TracingOn) => Some(
                if self.trs[tr.0].tracing_on {
                    "1\n"
                } else {
                    "0\n"
                }
                .to_owned(),
            ),
            _ => None,
        };
        self.handles.get_mut(handle).expect("checked").read_before = true;
        let Some(text) = content else {
            return Ok(None);
        };
        // Bytes, as the kernel counts them: a read may end inside a character, which the
        // host shows as U+FFFD too.
        let bytes = text.as_bytes();
        let start = usize::try_from(f.pos).unwrap_or(0).min(bytes.len());
        let end = start.saturating_add(len).min(bytes.len());
        self.handles.get_mut(handle).expect("checked").pos = end as i64;
        Ok(Some(
            String::from_utf8_lossy(&bytes[start..end]).into_owned(),
        ))
    }

    fn write(&mut self, handle: &str, data: &str) -> Result<usize, Errno> {
        let f = self.handles.get(handle).ok_or(NO_HANDLE)?;
        if !f.writable {
            return Err(Errno::EBADF);
        }
        let node = self.inodes[f.inode.0].node;
        let n = match node {
            Node::EventfsFile(file) => self.eventfs_write(file, data),
            Node::Control(c) => self.control_write(c, data),
            Node::TraceFile(tr, f) => self.trace_file_write(tr, f, data),
            _ => Ok(data.len()),
        }?;
        // Each write method moves the position past what it took (`*ppos += cnt`), so a
        // read on the same handle continues there; rb_simple_write (tracing_on) moves it by
        // one whatever it was given.
        let step = match node {
            Node::TraceFile(_, super::files::TraceFile::TracingOn) => 1,
            _ => n,
        };
        self.handles.get_mut(handle).expect("checked").pos += step as i64;
        Ok(n)
    }

    fn close(&mut self, handle: &str) -> Result<(), Errno> {
        let f = self.handles.remove(handle).ok_or(NO_HANDLE)?;
        self.release_holds(f.holds);
        for d in f.children_held {
            self.dput(d);
        }
        self.dput(f.dentry);
        Ok(())
    }

    /// `lseek(SEEK_SET)`: directories take any position that is not negative.
    fn seek(&mut self, handle: &str, pos: i64) -> Result<i64, Errno> {
        let f = self.handles.get_mut(handle).ok_or(NO_HANDLE)?;
        if pos < 0 {
            return Err(Errno::EINVAL);
        }
        f.pos = pos;
        f.cursor = None;
        Ok(pos)
    }

    /// A private handle name for the compound actions, never a scenario's.
    const SCRATCH: &'static str = "\0rethfs-scratch";

    fn list(&mut self, path: &str) -> Result<Vec<String>, Errno> {
        self.open(None, path, OpenMode::Directory, Self::SCRATCH)?;
        let mut names = Vec::new();
        let result = loop {
            match self.getdents(Self::SCRATCH, 32768) {
                Ok(batch) if batch.is_empty() => break Ok(()),
                Ok(batch) => names.extend(
                    batch
                        .into_iter()
                        .map(|d| d.name)
                        .filter(|n| n != "." && n != ".."),
                ),
                Err(e) => break Err(e),
            }
        };
        self.close(Self::SCRATCH)?;
        result.map(|()| names)
    }

    /// A read as the user sees it. A trace pipe's data is the kernel's, not modelled, and
    /// the host opens it O_NONBLOCK: it may hold data or be empty (EAGAIN), both allowed.
    /// A seq_file read after its event was removed hands out what the last read left in the
    /// buffer before `->start` refuses (seq_read_iter), so where a read came before, the rest
    /// of that batch or ENODEV are both allowed: how much was left depends on the content.
    fn read_outcome(&mut self, handle: &str, len: usize) -> Outcome {
        let node = self
            .handles
            .get(handle)
            .map(|f| self.inodes[f.inode.0].node);
        let pipe = matches!(
            node,
            Some(Node::TraceFile(_, super::files::TraceFile::TracePipe))
        );
        let seq_held = self.handles.get(handle).is_some_and(|f| f.read_before)
            && matches!(node, Some(Node::EventfsFile(e)) if e.kind.is_seq_file());
        match self.read(handle, len) {
            Ok(None) if pipe => Outcome::OneOf(vec![
                Outcome::Ok(Value::Data { text: None }),
                Outcome::Err(Errno::EAGAIN),
            ]),
            Err(Errno::ENODEV) if seq_held => Outcome::OneOf(vec![
                Outcome::Ok(Value::Data { text: None }),
                Outcome::Err(Errno::ENODEV),
            ]),
            r => r.map(|text| Value::Data { text }).into(),
        }
    }

    fn read_path(&mut self, path: &str) -> Outcome {
        if let Err(e) = self.open(None, path, OpenMode::Read, Self::SCRATCH) {
            return Outcome::Err(e);
        }
        let r = self.read_outcome(Self::SCRATCH, crate::interface::limits::READ_FILE_MAX);
        match self.close(Self::SCRATCH) {
            Ok(()) => r,
            Err(e) => Outcome::Err(e),
        }
    }

    /// `echo DATA > path` (`truncate`) or `>>` (append).
    fn write_path(&mut self, path: &str, data: &str, truncate: bool) -> Result<Value, Errno> {
        let mode = if truncate {
            OpenMode::Create
        } else {
            OpenMode::Write
        };
        self.open(None, path, mode, Self::SCRATCH)?;
        let r = self.write(Self::SCRATCH, data);
        self.close(Self::SCRATCH)?;
        r.map(|bytes| Value::Written { bytes })
    }

    fn chdir(&mut self, path: &str) -> Result<(), Errno> {
        let d = self.resolve(path)?;
        if !self.inodes[self.inode_of(d).0].dir {
            self.dput(d);
            return Err(Errno::ENOTDIR);
        }
        let old = std::mem::replace(&mut self.cwd, d);
        self.dput(old);
        Ok(())
    }

    fn fchdir(&mut self, handle: &str) -> Result<(), Errno> {
        let f = self.handles.get(handle).ok_or(NO_HANDLE)?;
        let (d, inode) = (f.dentry, f.inode);
        if !self.inodes[inode.0].dir {
            return Err(Errno::ENOTDIR);
        }
        self.dget(d);
        let old = std::mem::replace(&mut self.cwd, d);
        self.dput(old);
        Ok(())
    }

    /// `getcwd` (fs/d_path.c): ENOENT once the current directory is unlinked (unhashed and
    /// not the root), else its path. An eventfs directory removed from under it stays hashed
    /// until a walk through it fails revalidation.
    fn getcwd(&self) -> Result<String, Errno> {
        let d = &self.dentries[self.cwd.0];
        if !d.hashed && self.cwd != self.root {
            return Err(Errno::ENOENT);
        }
        Ok(if d.path.is_empty() {
            ".".to_owned()
        } else {
            d.path.clone()
        })
    }

    /// Walks to the parent of `path` and looks the last component up without refusing a miss.
    fn walk_parent(&mut self, path: &str) -> Result<Walked, Errno> {
        let comps = Self::split(path);
        if comps.is_empty() {
            return Err(Errno::EBUSY);
        }
        let start = self.start_of(path);
        self.walk(start, &comps, true)
    }

    /// Walks to `path`'s parent (looking the last component up), runs `op` on the result, and
    /// drops the walk's references whatever `op` decided.
    fn at_parent(
        &mut self,
        path: &str,
        op: impl FnOnce(&mut Self, &Walked) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        let w = self.walk_parent(path)?;
        let result = op(self, &w);
        self.put_walked(&w);
        result
    }

    /// Drops the references a parent walk left.
    fn put_walked(&mut self, w: &Walked) {
        let d = match w {
            Walked::Found(d) => *d,
            Walked::Missing { parent, .. } => *parent,
        };
        self.dput(d);
    }

    /// `mkdir`: EEXIST for a taken name; only `instances/` has a `->mkdir`, elsewhere EPERM.
    fn mkdir(&mut self, path: &str) -> Result<(), Errno> {
        self.at_parent(path, |m, w| match w {
            Walked::Found(_) => Err(Errno::EEXIST),
            Walked::Missing { parent, name } => match m.inodes[m.inode_of(*parent).0].node {
                Node::InstancesDir => m.instance_mkdir(&name.clone()),
                _ => Err(Errno::EPERM),
            },
        })
    }

    /// `rmdir`: only instances can go (`instance_rmdir`); other directories EPERM.
    fn rmdir(&mut self, path: &str) -> Result<(), Errno> {
        self.at_parent(path, |m, w| match w {
            Walked::Missing { .. } => Err(Errno::ENOENT),
            Walked::Found(d) => {
                let inode = &m.inodes[m.inode_of(*d).0];
                match inode.node {
                    _ if !inode.dir => Err(Errno::ENOTDIR),
                    Node::InstanceDir(tr) => m.instance_rmdir(tr),
                    _ => Err(Errno::EPERM),
                }
            }
        })
    }

    /// `unlink`: tracefs has none (EPERM); a directory is EISDIR first.
    fn unlink(&mut self, path: &str) -> Result<(), Errno> {
        self.at_parent(path, |m, w| match w {
            Walked::Missing { .. } => Err(Errno::ENOENT),
            Walked::Found(d) if m.inodes[m.inode_of(*d).0].dir => Err(Errno::EISDIR),
            Walked::Found(_) => Err(Errno::EPERM),
        })
    }

    /// `renameat2` (fs/namei.c): both parents are walked; then `.` or `..` as a last component
    /// is EBUSY; the source must exist (looked up before the target); a trailing slash on a file is ENOTDIR; moving a directory
    /// below itself is EINVAL and over an ancestor of itself ENOTEMPTY (the `lock_rename` trap);
    /// a name renamed to itself succeeds untouched; a directory over a file is ENOTDIR, a file
    /// over a directory EISDIR; and then tracefs, which has no `->rename`, refuses: EPERM.
    fn rename(&mut self, from: &str, to: &str) -> Result<(), Errno> {
        // filename_parentat of each path in turn: both parents are walked (and their dentries
        // made) before anything is refused.
        let old_dir = self.walk_to_parent(from)?;
        let new_dir = match self.walk_to_parent(to) {
            Ok(d) => d,
            Err(e) => {
                self.dput(old_dir.0);
                return Err(e);
            }
        };
        let result = self.rename_in(&old_dir, &new_dir, from, to);
        self.dput(old_dir.0);
        self.dput(new_dir.0);
        result
    }

    /// `filename_parentat`: the directory holding `path`'s last component, referenced, and
    /// that component (`.` for a path that is only its start).
    fn walk_to_parent(&mut self, path: &str) -> Result<(DentryId, String), Errno> {
        let comps = Self::split(path);
        let (last, dirs) = comps.split_last().map_or((".", &[][..]), |(l, d)| (*l, d));
        let Walked::Found(dir) = self.walk(self.start_of(path), dirs, false)? else {
            unreachable!("a full walk finds or fails");
        };
        if !self.inodes[self.inode_of(dir).0].dir {
            self.dput(dir);
            return Err(Errno::ENOTDIR);
        }
        Ok((dir, last.to_owned()))
    }

    /// After both parents: dot names EBUSY, then the source looked up (ENOENT if missing, and
    /// then the target is never looked up), then the target.
    fn rename_in(
        &mut self,
        (old_dir, old_last): &(DentryId, String),
        (new_dir, new_last): &(DentryId, String),
        from: &str,
        to: &str,
    ) -> Result<(), Errno> {
        let dot = |l: &str| l == "." || l == "..";
        if dot(old_last) || dot(new_last) {
            return Err(Errno::EBUSY);
        }
        let old = self.walk(*old_dir, &[old_last], true)?;
        if let Walked::Missing { .. } = old {
            self.put_walked(&old);
            return Err(Errno::ENOENT);
        }
        let new = match self.walk(*new_dir, &[new_last], true) {
            Ok(w) => w,
            Err(e) => {
                self.put_walked(&old);
                return Err(e);
            }
        };
        let result = self.rename_walked(&old, &new, from, to);
        self.put_walked(&old);
        self.put_walked(&new);
        result
    }

    fn rename_walked(&self, old: &Walked, new: &Walked, from: &str, to: &str) -> Result<(), Errno> {
        let Walked::Found(source) = *old else {
            return Err(Errno::ENOENT);
        };
        let is_dir = |d: DentryId| {
            self.dentries[d.0]
                .inode
                .is_some_and(|i| self.inodes[i.0].dir)
        };
        if !is_dir(source) && (from.ends_with('/') || to.ends_with('/')) {
            return Err(Errno::ENOTDIR);
        }
        let parent_of = |w: &Walked| match w {
            Walked::Found(d) => self.dentries[d.0].parent.unwrap_or(*d),
            Walked::Missing { parent, .. } => *parent,
        };
        let (old_dir, new_dir) = (parent_of(old), parent_of(new));
        let target = match *new {
            Walked::Found(d) => Some(d),
            Walked::Missing { .. } => None,
        };
        if old_dir != new_dir {
            // d_ancestor(a, b): the child of `a` on the way up from `b`.
            let ancestor = |a: DentryId, b: DentryId| {
                let mut d = b;
                while let Some(p) = self.dentries[d.0].parent {
                    if p == a {
                        return Some(d);
                    }
                    d = p;
                }
                None
            };
            if ancestor(old_dir, new_dir) == Some(source) {
                return Err(Errno::EINVAL);
            }
            if target.is_some() && ancestor(new_dir, old_dir) == target {
                return Err(Errno::ENOTEMPTY);
            }
        }
        match target {
            Some(t) if t == source => Ok(()),
            Some(t) if is_dir(source) && !is_dir(t) => Err(Errno::ENOTDIR),
            Some(t) if !is_dir(source) && is_dir(t) => Err(Errno::EISDIR),
            _ => Err(Errno::EPERM),
        }
    }

    /// chmod/chown: eventfs saves the change in its ei (`eventfs_set_attr`); plain tracefs
    /// marks the inode's owner as set by hand (`tracefs_setattr`).
    fn setattr(
        &mut self,
        path: &str,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> Result<(), Errno> {
        let d = self.resolve(path)?;
        let result = if self.dentries[d.0].fsdata.is_some() {
            self.eventfs_set_attr(d, mode, uid, gid)
        } else {
            let inode = self.inode_of(d);
            let i = &mut self.inodes[inode.0];
            i.owner_set.0 |= uid.is_some();
            i.owner_set.1 |= gid.is_some();
            self.simple_setattr(inode, mode, uid, gid);
            Ok(())
        };
        self.dput(d);
        result
    }

    /// `mount -o remount,OPTIONS`: `uid=`, `gid=`, `mode=` (octal); anything else EINVAL. The
    /// unused dentries go first. Since 6.10 every live inode and every saved eventfs owner
    /// follows the new ids; before, only the root inode changes and the rest follow it where
    /// nothing was saved.
    fn remount(&mut self, options: &str) -> Result<(), Errno> {
        let (mut uid, mut gid, mut mode) = (None, None, None);
        for opt in options
            .split(',')
            .filter(|o| !o.is_empty() && *o != "remount")
        {
            let (k, v) = opt.split_once('=').ok_or(Errno::EINVAL)?;
            match k {
                "uid" => uid = Some(v.parse::<u32>().map_err(|_| Errno::EINVAL)?),
                "gid" => gid = Some(v.parse::<u32>().map_err(|_| Errno::EINVAL)?),
                "mode" => {
                    mode = Some(u32::from_str_radix(v, 8).map_err(|_| Errno::EINVAL)? & 0o7777)
                }
                _ => return Err(Errno::EINVAL),
            }
        }
        // reconfigure_super shrinks the superblock's unused dentries before the filesystem
        // sees the options (shrink_dcache_sb, on every kernel).
        self.drop_caches();
        let root = self.inode_of(self.root);
        self.simple_setattr(root, mode, uid, gid);
        if let Some(g) = gid.filter(|_| self.policy.remount_sets_every_gid()) {
            for i in self.inodes.iter_mut().filter(|i| !i.evicted) {
                i.gid = g;
            }
        }
        if self.policy.remount_resets_eventfs() && (uid.is_some() || gid.is_some()) {
            for i in self.inodes.iter_mut().filter(|i| !i.evicted) {
                if let Some(u) = uid {
                    i.uid = u;
                    i.owner_set.0 = false;
                }
                if let Some(g) = gid {
                    i.gid = g;
                    i.owner_set.1 = false;
                }
            }
            self.eventfs_remount(uid, gid);
        }
        Ok(())
    }
}
