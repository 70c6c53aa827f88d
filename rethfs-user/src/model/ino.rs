//! Inode numbers as tracefs and eventfs assign them.

use super::Model;

/// `EVENTFS_FILE_INODE_INO` (fs/tracefs/event_inode.c): the number every eventfs file reports
/// since 6.8, "something unique" chosen by hand.
pub const EVENTFS_FILE_INODE_INO: u64 = 0x12c4e37;

impl Model {
    /// `get_next_ino()` (fs/inode.c). The kernel hands out per-CPU batches, so on a live host
    /// numbers are unique but not consecutive; the model draws one global sequence, which keeps
    /// what matters: uniqueness and the count of draws.
    pub(crate) fn get_next_ino(&mut self) -> u64 {
        self.last_ino += 1;
        if self.last_ino as u32 == 0 {
            // Wrapped 32-bit counter: the kernel skips 0 too.
            self.last_ino += 1;
        }
        self.last_ino
    }
}
