//! The syscall-tracepoint observer: the fallback that needs neither kprobes nor fentry.
//!
//! Each program resolves the fd its syscall names to a dentry and emits a record when the
//! dentry lives on a tracefs superblock. It sees dentries that user space holds open, not the
//! dcache's own lifetime events (births, kills), which only the kprobe and fentry backends see.
//!
//! Layout of a `syscalls/*` tracepoint record (events/syscalls/*/format): an 8-byte common
//! header, `int __syscall_nr` at 8, then the arguments (sys_enter) or `long ret` (sys_exit) from
//! offset 16, 8 bytes each.

use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid, macros::tracepoint, programs::TracePointContext,
};
use aya_log_ebpf::debug;
use rethfs_common::Hook;

use crate::{
    kernel,
    maps::{IGNORE_TGID, OFFSETS},
};

/// Offset of the first argument of a sys_enter record and of `ret` in a sys_exit record.
const ARG0: usize = 16;

/// Emits a record when the fd read at `ARG0` of `ctx` refers to a tracefs dentry.
#[inline(always)]
fn observe_fd(ctx: &TracePointContext, hook: Hook) -> u32 {
    if (bpf_get_current_pid_tgid() >> 32) as u32 == IGNORE_TGID.load() {
        return 0;
    }
    // SAFETY: every syscalls/* record has an 8-byte slot at ARG0.
    let Ok(fd) = (unsafe { ctx.read_at::<i64>(ARG0) }) else {
        return 0;
    };
    let o = OFFSETS.load();
    let Ok(dentry) = kernel::fd_dentry(&o, fd) else {
        return 0;
    };
    let fill = |ev: &mut rethfs_common::KernelEvent| {
        ev.head.fd = fd as i32;
        kernel::dentry_facts(&o, ev, dentry);
    };
    if kernel::is_tracefs(&o, dentry) && kernel::emit(hook, fill).is_err() {
        debug!(ctx, "rethfs: {} record for fd {} lost", hook as u32, fd);
    }
    0
}

/// `syscalls/sys_exit_openat`: the new fd is the return value.
#[tracepoint]
pub fn sys_exit_openat(ctx: TracePointContext) -> u32 {
    observe_fd(&ctx, Hook::OpenAt)
}

/// `syscalls/sys_enter_getdents64`: readdir, the heart of `ls`.
#[tracepoint]
pub fn sys_enter_getdents64(ctx: TracePointContext) -> u32 {
    observe_fd(&ctx, Hook::Getdents)
}

/// `syscalls/sys_enter_read`.
#[tracepoint]
pub fn sys_enter_read(ctx: TracePointContext) -> u32 {
    observe_fd(&ctx, Hook::Read)
}

/// `syscalls/sys_enter_write`.
#[tracepoint]
pub fn sys_enter_write(ctx: TracePointContext) -> u32 {
    observe_fd(&ctx, Hook::Write)
}

/// `syscalls/sys_enter_close`: the dentry as it is before the file's reference is dropped.
#[tracepoint]
pub fn sys_enter_close(ctx: TracePointContext) -> u32 {
    observe_fd(&ctx, Hook::Close)
}

/// `syscalls/sys_enter_fchdir`.
#[tracepoint]
pub fn sys_enter_fchdir(ctx: TracePointContext) -> u32 {
    observe_fd(&ctx, Hook::Fchdir)
}
