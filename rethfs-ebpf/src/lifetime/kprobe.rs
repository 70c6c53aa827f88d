//! The lifetime hooks as kprobes and kretprobes, attached by symbol through the perf kprobe
//! PMU. A kretprobe sees only the return value, so the kprobe on the same function keeps the
//! argument it needs in `ENTRY_ARGS` for it.

use core::hint::black_box;

use aya_ebpf::{
    macros::{kprobe, kretprobe},
    programs::{ProbeContext, RetProbeContext},
};
use rethfs_common::Hook;

use super::*;
use crate::maps::{ENTRY_ARGS, REVALIDATE_DENTRY_ARG, count_lost, entry_key};

fn arg(ctx: &ProbeContext, n: usize) -> u64 {
    ctx.arg(n).unwrap_or(0)
}

/// Keeps `value` for the kretprobe of `hook` on this thread. A value still there means the
/// kretprobe of the last call never ran (the kernel ran out of kretprobe instances, which it
/// counts but does not tell us): that record is lost, and counted. A full map counts too.
fn stash(hook: Hook, value: u64) -> u32 {
    let key = entry_key(hook);
    if ENTRY_ARGS.insert(&key, &value, BPF_NOEXIST).is_err() {
        count_lost();
        let _ = ENTRY_ARGS.insert(&key, &value, 0);
    }
    0
}

/// `bpf_map_update_elem` flag: fail if the key exists.
const BPF_NOEXIST: u64 = 1;

/// Takes what the kprobe of `hook` kept; a missing one (the kprobe was not there yet, or the
/// stash failed) counts as a lost record.
fn unstash(hook: Hook) -> Option<u64> {
    let key = entry_key(hook);
    // SAFETY: the value is copied out before the entry is removed.
    let value = unsafe { ENTRY_ARGS.get(&key) }.copied();
    let _ = ENTRY_ARGS.remove(&key);
    if value.is_none() {
        count_lost();
    }
    value
}

#[kretprobe]
pub fn kr_d_alloc(ctx: RetProbeContext) -> u32 {
    on_d_alloc_ret(ctx.ret())
}

/// The same birth, seen where `d_alloc` is inlined into it (namei's lookup path).
#[kretprobe]
pub fn kr_d_alloc_parallel(ctx: RetProbeContext) -> u32 {
    on_d_alloc_ret(ctx.ret())
}

#[kprobe]
pub fn kp_dput(ctx: ProbeContext) -> u32 {
    on_dentry(Hook::Dput, arg(&ctx, 0))
}

#[kprobe]
pub fn kp_d_invalidate(ctx: ProbeContext) -> u32 {
    on_dentry(Hook::DInvalidate, arg(&ctx, 0))
}

#[kprobe]
pub fn kp_dentry_kill(ctx: ProbeContext) -> u32 {
    on_dentry(Hook::DentryKill, arg(&ctx, 0))
}

#[kprobe]
pub fn kp_lookup(ctx: ProbeContext) -> u32 {
    stash(Hook::Lookup, arg(&ctx, 1))
}

#[kretprobe]
pub fn kr_lookup(ctx: RetProbeContext) -> u32 {
    unstash(Hook::Lookup).map_or(0, |dentry| on_lookup_ret(dentry, ctx.ret()))
}

#[kprobe]
pub fn kp_iterate(ctx: ProbeContext) -> u32 {
    on_iterate(arg(&ctx, 0))
}

#[kprobe]
pub fn kp_revalidate(ctx: ProbeContext) -> u32 {
    // Both loads at fixed offsets, then a choice of value: the verifier refuses a context
    // load at a chosen offset, which LLVM makes of a choice between two loads.
    let (a0, a2) = (black_box(arg(&ctx, 0)), black_box(arg(&ctx, 2)));
    let dentry = if REVALIDATE_DENTRY_ARG.load() == 0 {
        a0
    } else {
        a2
    };
    stash(Hook::Revalidate, dentry)
}

#[kretprobe]
pub fn kr_revalidate(ctx: RetProbeContext) -> u32 {
    let ret = ctx.ret::<i32>() as i64;
    unstash(Hook::Revalidate).map_or(0, |dentry| on_revalidate_ret(dentry, ret))
}

#[kprobe]
pub fn kp_ei_create(ctx: ProbeContext) -> u32 {
    stash(Hook::EiCreate, arg(&ctx, 1))
}

#[kretprobe]
pub fn kr_ei_create(ctx: RetProbeContext) -> u32 {
    unstash(Hook::EiCreate).map_or(0, |parent| on_ei_create_ret(parent, ctx.ret()))
}

#[kprobe]
pub fn kp_events_dir_create(ctx: ProbeContext) -> u32 {
    stash(Hook::EventsDirCreate, arg(&ctx, 1))
}

#[kretprobe]
pub fn kr_events_dir_create(ctx: RetProbeContext) -> u32 {
    unstash(Hook::EventsDirCreate).map_or(0, |parent| on_events_dir_create_ret(parent, ctx.ret()))
}

#[kprobe]
pub fn kp_ei_remove(ctx: ProbeContext) -> u32 {
    on_ei(Hook::EiRemove, arg(&ctx, 0))
}

#[kprobe]
pub fn kp_tracefs_release(ctx: ProbeContext) -> u32 {
    on_tracefs_release(arg(&ctx, 0))
}

#[kretprobe]
pub fn kr_start_creating(ctx: RetProbeContext) -> u32 {
    on_start_creating_ret(ctx.ret())
}

#[kprobe]
pub fn kp_release_ei(ctx: ProbeContext) -> u32 {
    on_release_ei(arg(&ctx, 0))
}
