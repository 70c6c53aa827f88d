//! Maps and globals shared by all observer programs.

use aya_ebpf::{
    Global,
    macros::map,
    maps::{HashMap, PerCpuArray, RingBuf},
};
use rethfs_common::{Hook, Offsets};

/// Kernel field offsets, overridden by the loader before the programs load.
#[unsafe(no_mangle)]
pub static OFFSETS: Global<Offsets> = Global::new(Offsets {
    task_files: 0,
    files_fdt: 0,
    fdtable_max_fds: 0,
    fdtable_fd: 0,
    file_dentry: 0,
    dentry_parent: 0,
    dentry_name: 0,
    dentry_inode: 0,
    dentry_sb: 0,
    dentry_count: 0,
    inode_ino: 0,
    inode_mode: 0,
    sb_magic: 0,
    dentry_fsdata: 0,
    ei_name: 0,
    ei_kref: 0,
    ei_ino: 0,
});

/// Thread group whose syscalls are not observed (the observer itself); 0 observes everyone.
#[unsafe(no_mangle)]
pub static IGNORE_TGID: Global<u32> = Global::new(0);

/// Which argument of `tracefs_d_revalidate` is the dentry: 0 until 6.13, 2 from 6.14, when
/// `d_revalidate` gained the parent inode and name.
#[unsafe(no_mangle)]
pub static REVALIDATE_DENTRY_ARG: Global<u32> = Global::new(0);

/// Non-zero: `tracefs_d_revalidate` records every verdict; zero: only the failed ones. Every
/// tracefs path walk revalidates each component, and under a race those programs are most of
/// the observer's runs, and most of the runs a preempted program makes the kernel skip.
#[unsafe(no_mangle)]
pub static REVALIDATE_ALL: Global<u32> = Global::new(0);

/// Records for user space. 32 MiB holds about 70,000 records between two reads: `rethfs bench`
/// measured 42 per churn cycle, so at 4,000 cycles a second (a 6.12 VM) it holds 0.4 s.
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(32 << 20, 0);

/// A kprobe's argument kept for its kretprobe, keyed by [`entry_key`]: kretprobes see only the
/// return value. fentry/fexit need none of this (fexit sees both).
#[map]
pub static ENTRY_ARGS: HashMap<u64, u64> = HashMap::with_max_entries(8192, 0);

/// The [`ENTRY_ARGS`] key of the current thread in the function `hook` records.
#[inline(always)]
pub fn entry_key(hook: Hook) -> u64 {
    (aya_ebpf::helpers::bpf_get_current_pid_tgid() << 32) | hook as u64
}

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
