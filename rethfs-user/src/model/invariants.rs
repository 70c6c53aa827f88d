//! Invariants of the model's own state that every kernel rule it follows preserves. The
//! property tests check them after every step; a violation means the model broke a rule.

use std::collections::HashMap;

use super::{DentryId, Model, Node, ino::EVENTFS_FILE_INODE_INO};

impl Model {
    /// Checks every invariant; the error names the first that fails.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.check_dentry_counts()?;
        self.check_kref()?;
        self.check_inode_numbers()
    }

    /// `d_lockref.count` is exactly its holders: one per live child, the creator's pin, each
    /// open file and held child of an open directory, the current directory.
    fn check_dentry_counts(&self) -> Result<(), String> {
        let mut expected: HashMap<DentryId, i32> = HashMap::new();
        let live = (0..self.dentries.len())
            .map(DentryId)
            .filter(|d| !self.dentries[d.0].killed);
        for d in live.clone() {
            let den = &self.dentries[d.0];
            *expected.entry(d).or_default() += den.pinned as i32;
            if let Some(p) = den.parent {
                *expected.entry(p).or_default() += 1;
            }
        }
        for f in self.handles.values() {
            *expected.entry(f.dentry).or_default() += 1;
            for c in &f.children_held {
                *expected.entry(*c).or_default() += 1;
            }
        }
        *expected.entry(self.cwd).or_default() += 1;
        for d in (0..self.dentries.len()).map(DentryId) {
            let den = &self.dentries[d.0];
            let want = expected.get(&d).copied().unwrap_or(0);
            if den.killed {
                if want != 0 {
                    return Err(format!(
                        "{}#{} was killed but is still held {want} times",
                        den.path, den.generation
                    ));
                }
                continue;
            }
            if den.count != want {
                return Err(format!(
                    "{}#{} has count {} but {want} holders",
                    den.path, den.generation, den.count
                ));
            }
            if !den.hashed && den.count == 0 {
                return Err(format!(
                    "{}#{} is unhashed and unused but alive",
                    den.path, den.generation
                ));
            }
        }
        Ok(())
    }

    /// An ei's kref is 1 while it exists plus one per live dentry whose `d_fsdata` is it; it
    /// is released exactly when that reaches zero, and only after being freed.
    fn check_kref(&self) -> Result<(), String> {
        let mut refs: HashMap<usize, i32> = HashMap::new();
        for den in self.dentries.iter().filter(|d| !d.killed) {
            if let Some(ei) = den.fsdata {
                *refs.entry(ei.0).or_default() += 1;
            }
        }
        for (i, e) in self.eis.iter().enumerate() {
            let want = (!e.is_freed) as i32 + refs.get(&i).copied().unwrap_or(0);
            if e.kref != want {
                return Err(format!(
                    "ei {}#{} has kref {} but {want} references",
                    e.path, e.generation, e.kref
                ));
            }
            if e.released != (e.kref == 0) {
                return Err(format!(
                    "ei {}#{} released={} with kref {}",
                    e.path, e.generation, e.released, e.kref
                ));
            }
            if e.released && !e.is_freed {
                return Err(format!(
                    "ei {}#{} released without being freed",
                    e.path, e.generation
                ));
            }
        }
        Ok(())
    }

    /// Since 6.8 every live eventfs file shows the file number and live directories' numbers
    /// are unique among live directories (and, since 6.10, never the file number).
    fn check_inode_numbers(&self) -> Result<(), String> {
        if !self.policy.shared_file_ino() {
            return Ok(());
        }
        let mut seen: HashMap<u64, String> = HashMap::new();
        for den in self.dentries.iter().filter(|d| !d.killed) {
            let Some(i) = den.inode else { continue };
            let inode = &self.inodes[i.0];
            match inode.node {
                Node::EventfsFile(_) if inode.ino != EVENTFS_FILE_INODE_INO => {
                    return Err(format!("file {} has ino {}", den.path, inode.ino));
                }
                Node::EventfsDir(ei) if !self.eis[ei.0].is_freed => {
                    if self.policy.redraw_file_ino() && inode.ino == EVENTFS_FILE_INODE_INO {
                        return Err(format!("directory {} has the file number", den.path));
                    }
                    if let Some(other) = seen.insert(inode.ino, self.eis[ei.0].path.clone())
                        && other != self.eis[ei.0].path
                    {
                        return Err(format!(
                            "directories {other} and {} share ino {}",
                            den.path, inode.ino
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// After `drop_caches`: nothing unused survives.
    pub fn check_after_drop_caches(&self) -> Result<(), String> {
        match self.dentries.iter().find(|d| !d.killed && d.count == 0) {
            Some(d) => Err(format!(
                "{}#{} survived drop_caches unused",
                d.path, d.generation
            )),
            None => Ok(()),
        }
    }
}
