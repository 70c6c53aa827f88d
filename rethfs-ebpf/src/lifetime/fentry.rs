//! The lifetime hooks as fentry and fexit programs: BPF trampolines typed by BTF, cheaper than
//! kprobes, and an fexit sees the arguments and the return value together. The `function`
//! names below only label the sections; user space loads each program against the symbol this
//! kernel has (`__dentry_kill` or `dentry_kill`).

use core::hint::black_box;

use aya_ebpf::{
    macros::{fentry, fexit},
    programs::{FEntryContext, FExitContext},
};
use rethfs_common::Hook;

use super::*;
use crate::maps::REVALIDATE_DENTRY_ARG;

fn ret(ctx: &FExitContext) -> i64 {
    ctx.ret().unwrap_or(0)
}

#[fexit(function = "d_alloc")]
pub fn fx_d_alloc(ctx: FExitContext) -> u32 {
    on_d_alloc_ret(ret(&ctx) as u64)
}

/// The same birth, seen where `d_alloc` is inlined into it (namei's lookup path).
#[fexit(function = "d_alloc_parallel")]
pub fn fx_d_alloc_parallel(ctx: FExitContext) -> u32 {
    on_d_alloc_ret(ret(&ctx) as u64)
}

#[fentry(function = "dput")]
pub fn fe_dput(ctx: FEntryContext) -> u32 {
    on_dentry(Hook::Dput, ctx.arg(0))
}

#[fentry(function = "d_invalidate")]
pub fn fe_d_invalidate(ctx: FEntryContext) -> u32 {
    on_dentry(Hook::DInvalidate, ctx.arg(0))
}

#[fentry(function = "dentry_kill")]
pub fn fe_dentry_kill(ctx: FEntryContext) -> u32 {
    on_dentry(Hook::DentryKill, ctx.arg(0))
}

#[fexit(function = "eventfs_root_lookup")]
pub fn fx_lookup(ctx: FExitContext) -> u32 {
    on_lookup_ret(ctx.arg(1), ret(&ctx))
}

#[fentry(function = "eventfs_iterate")]
pub fn fe_iterate(ctx: FEntryContext) -> u32 {
    on_iterate(ctx.arg(0))
}

#[fexit(function = "tracefs_d_revalidate")]
pub fn fx_revalidate(ctx: FExitContext) -> u32 {
    // As in the kprobe flavour: two fixed loads, then a choice of value.
    let (a0, a2): (u64, u64) = (black_box(ctx.arg(0)), black_box(ctx.arg(2)));
    let dentry = if REVALIDATE_DENTRY_ARG.load() == 0 {
        a0
    } else {
        a2
    };
    let verdict: i32 = ctx.ret().unwrap_or(-1);
    on_revalidate_ret(dentry, verdict as i64)
}

#[fexit(function = "eventfs_create_dir")]
pub fn fx_ei_create(ctx: FExitContext) -> u32 {
    on_ei_create_ret(ctx.arg(1), ret(&ctx))
}

#[fexit(function = "eventfs_create_events_dir")]
pub fn fx_events_dir_create(ctx: FExitContext) -> u32 {
    on_events_dir_create_ret(ctx.arg(1), ret(&ctx))
}

#[fentry(function = "eventfs_remove_rec")]
pub fn fe_ei_remove(ctx: FEntryContext) -> u32 {
    on_ei(Hook::EiRemove, ctx.arg(0))
}

#[fentry(function = "tracefs_d_release")]
pub fn fe_tracefs_release(ctx: FEntryContext) -> u32 {
    on_tracefs_release(ctx.arg(0))
}

#[fexit(function = "tracefs_start_creating")]
pub fn fx_start_creating(ctx: FExitContext) -> u32 {
    on_start_creating_ret(ret(&ctx) as u64)
}

#[fentry(function = "release_ei")]
pub fn fe_release_ei(ctx: FEntryContext) -> u32 {
    on_release_ei(ctx.arg(0))
}
