//! Reading kernel objects through the BTF offsets, and emitting records about them.

use aya_ebpf::helpers::{
    bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_probe_read_kernel,
    bpf_probe_read_kernel_str_bytes, generated::bpf_get_current_task, generated::bpf_ktime_get_ns,
};
use rethfs_common::{Event, Head, Hook, LEAF_ONLY, Offsets, TRACEFS_MAGIC};

use crate::maps::{EVENTS, count_lost};

/// Reads a `T` at `base + off` in kernel memory.
#[inline(always)]
pub fn read<T>(base: u64, off: u32) -> Result<T, i32> {
    // SAFETY: bpf_probe_read_kernel checks the address; a bad one is an error, not a fault.
    unsafe { bpf_probe_read_kernel((base + off as u64) as *const T) }
}

/// The dentry behind `fd` in the current task, walking task->files->fdt->fd[fd]->f_path.
/// Read without the RCU lock: a racing close can make the walk fail, never fault.
#[inline(always)]
pub fn fd_dentry(o: &Offsets, fd: i64) -> Result<u64, i32> {
    if fd < 0 {
        return Err(-9); // EBADF
    }
    // SAFETY: the helper only returns the current task pointer.
    let task = unsafe { bpf_get_current_task() };
    let files: u64 = read(task, o.task_files)?;
    let fdt: u64 = read(files, o.files_fdt)?;
    let max_fds: u32 = read(fdt, o.fdtable_max_fds)?;
    if fd as u64 >= max_fds as u64 {
        return Err(-9);
    }
    let fds: u64 = read(fdt, o.fdtable_fd)?;
    let file: u64 = read(fds + fd as u64 * 8, 0)?;
    if file == 0 {
        return Err(-9);
    }
    read(file, o.file_dentry)
}

/// Whether `dentry` belongs to a tracefs superblock: the in-kernel filter of every dentry hook.
/// NULL and ERR_PTR values fail the read and are not tracefs.
#[inline(always)]
pub fn is_tracefs(o: &Offsets, dentry: u64) -> bool {
    let Ok(sb) = read::<u64>(dentry, o.dentry_sb) else {
        return false;
    };
    matches!(read::<u64>(sb, o.sb_magic), Ok(TRACEFS_MAGIC))
}

/// `IS_ERR_OR_NULL()`: the top 4095 addresses are error codes.
#[inline(always)]
pub fn is_err_or_null(ptr: u64) -> bool {
    ptr == 0 || ptr >= (-4095i64) as u64
}

/// Reserves a record for `hook` with `N` path components (see [`Event`]), fills the task and
/// time fields, lets `fill` add the hook's facts, and submits it. Counts the record as lost
/// when the ring buffer is full.
#[inline(always)]
pub fn emit<const N: usize>(hook: Hook, fill: impl FnOnce(&mut Event<N>)) -> Result<(), i32> {
    let Some(mut entry) = EVENTS.reserve::<Event<N>>(0) else {
        count_lost();
        return Err(-28); // ENOSPC
    };
    // From here on every path ends in submit: the verifier rejects an unreleased reservation.
    // SAFETY: the reservation is a writable Event<N>; the head is written whole below and
    // `fill` writes the path components it reports in `depth`.
    let ev = unsafe { &mut *entry.as_mut_ptr() };
    let pid_tgid = bpf_get_current_pid_tgid();
    ev.head = Head {
        // SAFETY: no arguments; returns the monotonic clock.
        ts_ns: unsafe { bpf_ktime_get_ns() },
        dentry: 0,
        ei: 0,
        parent: 0,
        ino: 0,
        ret: 0,
        tgid: (pid_tgid >> 32) as u32,
        pid: pid_tgid as u32,
        refcount: -1,
        fd: -1,
        hook: hook as u32,
        mode: 0,
        depth: 0,
        flags: 0,
        comm: bpf_get_current_comm().unwrap_or([0; 16]),
    };
    ev.path[0][0] = 0;
    fill(ev);
    // Waking the reader for every record costs more than the record (a context switch each):
    // the readers drain on a short tick, and are woken early only when the ring fills up.
    let wake = if EVENTS.query(BPF_RB_AVAIL_DATA) > WAKE_AT_BYTES {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    };
    entry.submit(wake);
    Ok(())
}

/// `bpf_ringbuf_query` and `bpf_ringbuf_submit` flags (include/uapi/linux/bpf.h).
const BPF_RB_AVAIL_DATA: u64 = 0;
const BPF_RB_NO_WAKEUP: u64 = 1;
const BPF_RB_FORCE_WAKEUP: u64 = 2;
/// Unread bytes at which a record wakes the reader: an eighth of the 32 MiB ring.
const WAKE_AT_BYTES: u64 = 4 << 20;

/// The dentry's own facts: identity, parent, inode number and mode, count, and its path: the
/// walk up to the root in a [`rethfs_common::KernelEvent`], its own name in a
/// [`rethfs_common::LeafEvent`] (`LEAF_ONLY`).
#[inline(always)]
pub fn dentry_facts<const N: usize>(o: &Offsets, ev: &mut Event<N>, dentry: u64) {
    let inode: u64 = read(dentry, o.dentry_inode).unwrap_or(0);
    let h = &mut ev.head;
    h.dentry = dentry;
    h.parent = read(dentry, o.dentry_parent).unwrap_or(0);
    if inode != 0 {
        h.ino = read(inode, o.inode_ino).unwrap_or(0);
        h.mode = read(inode, o.inode_mode).unwrap_or(0);
    }
    h.refcount = read(dentry, o.dentry_count).unwrap_or(-1);
    if N == 1 {
        read_name(o, dentry, &mut ev.path[0]);
        ev.head.depth = 1;
        ev.head.flags = LEAF_ONLY;
    } else {
        path_from(o, ev, 0, dentry);
    }
}

/// Fills `ev.path[from..]` with the names of `dentry` and its ancestors up to, not including,
/// the superblock root (the dentry that is its own parent). A path deeper than the record
/// holds sets `depth` to `N + 1`.
#[inline(always)]
pub fn path_from<const N: usize>(o: &Offsets, ev: &mut Event<N>, from: usize, dentry: u64) {
    let mut d = dentry;
    let mut depth = from;
    for i in 0..N {
        if i < from {
            continue;
        }
        let Ok(parent) = read::<u64>(d, o.dentry_parent) else {
            break;
        };
        if parent == d {
            break;
        }
        read_name(o, d, &mut ev.path[i]);
        depth = i + 1;
        d = parent;
    }
    if depth == N && read::<u64>(d, o.dentry_parent).is_ok_and(|p| p != d) {
        depth = N + 1;
    }
    ev.head.depth = depth as u8;
}
/// Copies `d_name.name` of `dentry` into `buf`, NUL-terminated; empty when unreadable.
#[inline(always)]
fn read_name(o: &Offsets, dentry: u64, buf: &mut [u8]) {
    buf[0] = 0;
    if let Ok(name) = read::<u64>(dentry, o.dentry_name) {
        read_str(name, buf);
    }
}

/// Copies the kernel string at `ptr` into `buf`, NUL-terminated; empty when unreadable.
#[inline(always)]
pub fn read_str(ptr: u64, buf: &mut [u8]) {
    buf[0] = 0;
    // SAFETY: the helper bounds the copy by buf's length and NUL-terminates it.
    let _ = unsafe { bpf_probe_read_kernel_str_bytes(ptr as *const u8, buf) };
}
