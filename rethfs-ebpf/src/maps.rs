//! Maps and globals shared by all observer programs.

use aya_ebpf::{
    Global,
    macros::map,
    maps::{PerCpuArray, RingBuf},
};
use rethfs_common::Offsets;

/// Kernel field offsets, overridden by the loader before the programs load.
#[unsafe(no_mangle)]
pub static OFFSETS: Global<Offsets> = Global::new(Offsets {
    task_files: 0,
    files_fdt: 0,
    fdtable_max_fds: 0,
    fdtable_fd: 0,
    file_dentry: 0,
    dentry_parent: 0,
    dentry_name_len: 0,
    dentry_name: 0,
    dentry_inode: 0,
    dentry_sb: 0,
    dentry_count: 0,
    inode_ino: 0,
    inode_mode: 0,
    sb_magic: 0,
});

/// Thread group whose syscalls are not observed (the observer itself); 0 observes everyone.
#[unsafe(no_mangle)]
pub static IGNORE_TGID: Global<u32> = Global::new(0);

/// Records for user space. 4 MiB holds about 20,000 records between two reads.
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(4 << 20, 0);

/// Records that found the ring buffer full, counted per CPU; user space sums and reports them.
#[map]
pub static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Counts one record the ring buffer had no room for.
#[inline(always)]
pub fn count_lost() {
    if let Some(lost) = LOST.get_ptr_mut(0) {
        // SAFETY: per-CPU slot, and BPF programs do not preempt each other on one CPU.
        unsafe { *lost += 1 };
    }
}
