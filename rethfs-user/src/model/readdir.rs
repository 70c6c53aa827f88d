//! getdents64 (fs/readdir.c) over the two directory iterators tracefs uses: `eventfs_iterate`
//! for eventfs directories since 6.8, and `dcache_readdir` (fs/libfs.c) for the rest.

use super::{DentryId, EiId, Model, Node};
use crate::interface::{Dirent, Errno, FileKind};

/// Collects records the way `filldir64` does: each entry costs its aligned record length;
/// the first that does not fit stops the call; an entry's `d_off` is the position passed
/// with the next entry, the last one's is the final position.
struct Filler {
    room: usize,
    out: Vec<Dirent>,
    too_small: bool,
}

impl Filler {
    /// `dir_emit`: false when the record does not fit.
    fn emit(&mut self, name: &str, ino: u64, kind: FileKind, pos: i64) -> bool {
        // offsetof(struct linux_dirent64, d_name) is 19; the name is NUL-terminated.
        let reclen = (19 + name.len() + 1).next_multiple_of(8);
        if reclen > self.room {
            self.too_small = self.out.is_empty();
            return false;
        }
        if let Some(prev) = self.out.last_mut() {
            prev.off = pos;
        }
        self.out.push(Dirent {
            name: name.to_owned(),
            ino,
            kind,
            off: 0,
        });
        self.room -= reclen;
        true
    }
}

impl Model {
    /// One getdents64 call with a `buffer`-byte buffer on the directory open as `handle`.
    pub(crate) fn getdents(&mut self, handle: &str, buffer: usize) -> Result<Vec<Dirent>, Errno> {
        let file = self.handles.get(handle).ok_or(Errno::EBADF)?;
        let (d, inode, mut pos, mut cursor) = (file.dentry, file.inode, file.pos, file.cursor);
        if !self.inodes[inode.0].dir {
            return Err(Errno::ENOTDIR);
        }
        if self.inodes[inode.0].dead {
            return Err(Errno::ENOENT);
        }
        let mut fill = Filler {
            room: buffer,
            out: Vec::new(),
            too_small: false,
        };
        let result = self.iterate(d, inode, &mut fill, &mut pos, &mut cursor);
        let file = self.handles.get_mut(handle).expect("checked");
        (file.pos, file.cursor) = (pos, cursor);
        if let Some(last) = fill.out.last_mut() {
            last.off = pos;
            return Ok(fill.out);
        }
        result?;
        if fill.too_small {
            return Err(Errno::EINVAL);
        }
        Ok(fill.out)
    }

    fn iterate(
        &mut self,
        d: DentryId,
        inode: super::InodeId,
        fill: &mut Filler,
        pos: &mut i64,
        cursor: &mut Option<DentryId>,
    ) -> Result<(), Errno> {
        if !self.dir_emit_dots(d, fill, pos) {
            return Ok(());
        }
        match self.inodes[inode.0].node {
            Node::EventfsDir(ei) if !self.policy.events_use_dcache_readdir() => {
                self.eventfs_iterate(ei, fill, pos)
            }
            _ => {
                self.dcache_readdir(d, fill, pos, cursor);
                Ok(())
            }
        }
    }

    /// `dir_emit_dots`: `.` at position 0, `..` (the current `d_parent`) at 1.
    fn dir_emit_dots(&self, d: DentryId, fill: &mut Filler, pos: &mut i64) -> bool {
        let ino_of = |d: DentryId| self.dentries[d.0].inode.map_or(0, |i| self.inodes[i.0].ino);
        if *pos == 0 {
            if !fill.emit(".", ino_of(d), FileKind::Dir, 0) {
                return false;
            }
            *pos = 1;
        }
        if *pos == 1 {
            let parent = self.dentries[d.0].parent.unwrap_or(d);
            if !fill.emit("..", ino_of(parent), FileKind::Dir, 1) {
                return false;
            }
            *pos = 2;
        }
        true
    }

    /// `eventfs_iterate`: position 2 + i is entry i (absent ones still use their position),
    /// then the children. The child loop advances the position before emitting, so the entry
    /// before a directory reports a `d_off` one past that directory's own position, and a
    /// full buffer takes the advance back (`out_dec`). A freed directory lists only the dots,
    /// then EINVAL; no dentry is made.
    fn eventfs_iterate(&mut self, ei: EiId, fill: &mut Filler, pos: &mut i64) -> Result<(), Errno> {
        if self.eis[ei.0].is_freed {
            return Err(Errno::EINVAL);
        }
        let entries = self.ei_entries(ei);
        let mut c = (*pos - 2) as usize;
        for (i, kind) in entries.iter().enumerate().skip(c) {
            debug_assert_eq!(*pos as usize, i + 2);
            if self.entry_callback(ei, *kind).is_some()
                && !fill.emit(
                    kind.name(),
                    super::ino::EVENTFS_FILE_INODE_INO,
                    FileKind::File,
                    *pos,
                )
            {
                return Ok(());
            }
            *pos += 1;
        }
        c -= c.min(entries.len());
        for child in self.eis[ei.0].children.clone() {
            if c > 0 {
                c -= 1;
                continue;
            }
            *pos += 1;
            let name = self.eis[child.0].name.clone();
            let ino = self.eventfs_dir_ino(child);
            if !fill.emit(&name, ino, FileKind::Dir, *pos) {
                *pos -= 1;
                return Ok(());
            }
        }
        Ok(())
    }

    /// `dcache_readdir`: the positive, hashed children in `d_children` order (newest first).
    /// A continuing call resumes after the cursor, so children removed meanwhile shift
    /// nothing; after open or a seek the position counts children (`dcache_dir_lseek`).
    fn dcache_readdir(
        &self,
        d: DentryId,
        fill: &mut Filler,
        pos: &mut i64,
        cursor: &mut Option<DentryId>,
    ) {
        let positives: Vec<DentryId> = self.dentries[d.0]
            .subdirs
            .iter()
            .rev()
            .copied()
            .filter(|c| self.dentries[c.0].hashed && self.dentries[c.0].inode.is_some())
            .collect();
        let start = match cursor.and_then(|c| positives.iter().position(|x| *x == c)) {
            Some(i) if *pos > 2 => i + 1,
            _ => (*pos - 2) as usize,
        };
        for c in positives.into_iter().skip(start) {
            let inode = &self.inodes[self.dentries[c.0].inode.expect("positive").0];
            let kind = if inode.dir {
                FileKind::Dir
            } else {
                FileKind::File
            };
            if !fill.emit(&self.dentries[c.0].name, inode.ino, kind, *pos) {
                return;
            }
            *pos += 1;
            *cursor = Some(c);
        }
    }
}
