//! Reading kernel objects through the BTF offsets: fd to file to dentry, and dentry facts.

use aya_ebpf::helpers::{
    bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_probe_read_kernel,
    bpf_probe_read_kernel_str_bytes, generated::bpf_get_current_task, generated::bpf_ktime_get_ns,
};
use rethfs_common::{DentryEvent, Hook, Offsets, TRACEFS_MAGIC};

use crate::maps::{EVENTS, count_lost};

/// Reads a `T` at `base + off` in kernel memory.
#[inline(always)]
fn read<T>(base: u64, off: u32) -> Result<T, i32> {
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

/// Whether `dentry` belongs to a tracefs superblock: the in-kernel filter of every observer.
#[inline(always)]
pub fn is_tracefs(o: &Offsets, dentry: u64) -> bool {
    let Ok(sb) = read::<u64>(dentry, o.dentry_sb) else {
        return false;
    };
    matches!(read::<u64>(sb, o.sb_magic), Ok(TRACEFS_MAGIC))
}

/// Emits one record about a tracefs `dentry`. Counts it as lost when the ring buffer is full.
#[inline(always)]
pub fn emit(o: &Offsets, hook: Hook, fd: i32, dentry: u64) -> Result<(), i32> {
    let Some(mut entry) = EVENTS.reserve::<DentryEvent>(0) else {
        count_lost();
        return Err(-28); // ENOSPC
    };
    // From here on every path ends in submit: the verifier rejects an unreleased reservation.
    let ev = entry.as_mut_ptr();
    // SAFETY: `ev` points to a reserved, writable DentryEvent; every field is written below.
    unsafe {
        let pid_tgid = bpf_get_current_pid_tgid();
        let inode: u64 = read(dentry, o.dentry_inode).unwrap_or(0);
        let parent: u64 = read(dentry, o.dentry_parent).unwrap_or(0);
        (*ev).ts_ns = bpf_ktime_get_ns();
        (*ev).dentry = dentry;
        (*ev).parent = parent;
        (*ev).ino = if inode != 0 {
            read(inode, o.inode_ino).unwrap_or(0)
        } else {
            0
        };
        (*ev).mode = if inode != 0 {
            read(inode, o.inode_mode).unwrap_or(0)
        } else {
            0
        };
        (*ev).tgid = (pid_tgid >> 32) as u32;
        (*ev).pid = pid_tgid as u32;
        (*ev).refcount = read(dentry, o.dentry_count).unwrap_or(-1);
        (*ev).fd = fd;
        (*ev).hook = hook as u32;
        (*ev).name_len = read::<u32>(dentry, o.dentry_name_len).unwrap_or(0) as u16;
        (*ev).comm = bpf_get_current_comm().unwrap_or([0; 16]);
        read_name(o, dentry, &mut (*ev).name);
        read_name(o, parent, &mut (*ev).parent_name);
    }
    entry.submit(0);
    Ok(())
}

/// Copies `d_name.name` of `dentry` into `buf`, NUL-terminated; empty when unreadable.
#[inline(always)]
fn read_name(o: &Offsets, dentry: u64, buf: &mut [u8]) {
    buf[0] = 0;
    if let Ok(name) = read::<u64>(dentry, o.dentry_name) {
        // SAFETY: the helper bounds the copy by buf's length and NUL-terminates it.
        let _ = unsafe { bpf_probe_read_kernel_str_bytes(name as *const u8, buf) };
    }
}
