//! The lifetime observer: the tracefs and eventfs functions that make, look up, revalidate
//! and release tracefs dentries and create, free and release eventfs_inodes, and the dcache
//! functions that stand in for them where a kernel lacks them (6.1) or that see what no
//! tracefs function does (invalidations, reference drops).
//!
//! The handlers here take the hooked function's arguments and return value as plain numbers;
//! [`kprobe`] and [`fentry`] are two ways of getting them (kprobe+kretprobe, or fentry+fexit),
//! one program per hook each, sharing these bodies. The dcache hooks filter on the tracefs
//! superblock first, so the cost elsewhere in the kernel is two reads. tracefs and eventfs
//! hooks need no filter: only tracefs reaches them. Records that name an object user space
//! may not know yet carry the walked path ([`KernelEvent`]); the frequent ones carry the
//! object's own name only ([`LeafEvent`]).

mod fentry;
mod kprobe;

use rethfs_common::{Event, Hook, KernelEvent, LeafEvent, Offsets};

use crate::{
    kernel::{self, dentry_facts, emit, is_err_or_null, path_from, read, read_str},
    maps::{OFFSETS, REVALIDATE_ALL},
};

/// A dcache hook that fires many times per object: records `dentry` when it is on tracefs,
/// by name (user space knows the dentry by pointer from its birth).
#[inline(always)]
fn on_dentry(hook: Hook, dentry: u64) -> u32 {
    let o = OFFSETS.load();
    if kernel::is_tracefs(&o, dentry) {
        let _ = emit(hook, |ev: &mut LeafEvent| dentry_facts(&o, ev, dentry));
    }
    0
}

/// `d_alloc` or `d_alloc_parallel` returned `dentry` (NULL or an ERR_PTR on failure): a
/// birth, when on tracefs. `d_alloc_parallel` may hand back a dentry another lookup made;
/// user space knows those pointers already and ignores the repeat.
#[inline(always)]
fn on_d_alloc_ret(dentry: u64) -> u32 {
    let o = OFFSETS.load();
    if kernel::is_tracefs(&o, dentry) {
        let _ = emit(Hook::DentryAlloc, |ev: &mut KernelEvent| {
            dentry_facts(&o, ev, dentry)
        });
    }
    0
}

/// `tracefs_start_creating(name, parent)` returned `dentry` (or an ERR_PTR): the hashed,
/// still negative dentry tracefs makes a file or directory at.
#[inline(always)]
fn on_start_creating_ret(dentry: u64) -> u32 {
    if is_err_or_null(dentry) {
        return 0;
    }
    let o = OFFSETS.load();
    let _ = emit(Hook::StartCreating, |ev: &mut KernelEvent| {
        dentry_facts(&o, ev, dentry)
    });
    0
}

/// `tracefs_d_release(dentry)`: the dentry is being freed. Its inode is gone already; its
/// `d_fsdata` (an eventfs dentry's ei) is still set, and its name and parent are intact. By
/// name only: user space knows the dentry from its birth, or one no tracefs function saw
/// born (a readdir cursor, a negative lookup in a plain directory) from its parent.
#[inline(always)]
fn on_tracefs_release(dentry: u64) -> u32 {
    let o = OFFSETS.load();
    let _ = emit(Hook::DentryRelease, |ev: &mut LeafEvent| {
        dentry_facts(&o, ev, dentry);
        ev.head.ei = read(dentry, o.dentry_fsdata).unwrap_or(0);
    });
    0
}

/// `eventfs_root_lookup(dir, dentry, flags)` returned `ret`: NULL when `dentry` itself was
/// filled (positive) or left negative, else an ERR_PTR. VFS calls it only with a dentry it
/// has just made, so the record is also that dentry's birth.
#[inline(always)]
fn on_lookup_ret(dentry: u64, ret: i64) -> u32 {
    let o = OFFSETS.load();
    let _ = emit(Hook::Lookup, |ev: &mut KernelEvent| {
        dentry_facts(&o, ev, dentry);
        ev.head.ret = ret;
    });
    0
}

/// `tracefs_d_revalidate(.., dentry, ..)` returned `ret`: 1 keeps the dentry, 0 makes the
/// walk invalidate it. A kept one is recorded only where user space asked for every verdict.
#[inline(always)]
fn on_revalidate_ret(dentry: u64, ret: i64) -> u32 {
    if ret > 0 && REVALIDATE_ALL.load() == 0 {
        return 0;
    }
    let o = OFFSETS.load();
    let _ = emit(Hook::Revalidate, |ev: &mut LeafEvent| {
        dentry_facts(&o, ev, dentry);
        ev.head.ret = ret;
    });
    0
}

/// `eventfs_iterate(file, ctx)`: the directory being listed.
#[inline(always)]
fn on_iterate(file: u64) -> u32 {
    let o = OFFSETS.load();
    if let Ok(dentry) = read::<u64>(file, o.file_dentry) {
        let _ = emit(Hook::Iterate, |ev: &mut LeafEvent| {
            dentry_facts(&o, ev, dentry)
        });
    }
    0
}

/// The ei's own facts: identity, kref, saved inode number, and its name in `path[0]`.
#[inline(always)]
fn ei_facts<const N: usize>(o: &Offsets, ev: &mut Event<N>, ei: u64) {
    ev.head.ei = ei;
    ev.head.refcount = read(ei, o.ei_kref).unwrap_or(-1);
    if o.ei_ino != Offsets::MISSING {
        ev.head.ino = read::<u32>(ei, o.ei_ino).unwrap_or(0) as u64;
    }
    if let Ok(name) = read::<u64>(ei, o.ei_name) {
        read_str(name, &mut ev.path[0]);
        ev.head.depth = 1;
    }
}

/// `eventfs_create_dir(name, parent, ..)` returned `ei` (or an ERR_PTR): the new ei, with the
/// parent ei and its name in `path[1]` so user space can place it.
#[inline(always)]
fn on_ei_create_ret(parent: u64, ei: i64) -> u32 {
    let o = OFFSETS.load();
    let _ = emit(Hook::EiCreate, |ev: &mut KernelEvent| {
        ev.head.ret = ei;
        ev.head.parent = parent;
        if !is_err_or_null(ei as u64) {
            ei_facts(&o, ev, ei as u64);
            if let Ok(name) = read::<u64>(parent, o.ei_name) {
                read_str(name, &mut ev.path[1]);
                ev.head.depth = 2;
            }
        }
    });
    0
}

/// `eventfs_create_events_dir(name, parent, ..)` returned the top ei of an `events`
/// directory; `parent` is the dentry it is made in, whose path follows the name.
#[inline(always)]
fn on_events_dir_create_ret(parent: u64, ei: i64) -> u32 {
    let o = OFFSETS.load();
    let _ = emit(Hook::EventsDirCreate, |ev: &mut KernelEvent| {
        ev.head.ret = ei;
        ev.head.parent = parent;
        if !is_err_or_null(ei as u64) {
            ei_facts(&o, ev, ei as u64);
            path_from(&o, ev, 1, parent);
        }
    });
    0
}

/// An ei hook: `eventfs_remove_rec(ei, level)`.
#[inline(always)]
fn on_ei(hook: Hook, ei: u64) -> u32 {
    let o = OFFSETS.load();
    let _ = emit(hook, |ev: &mut LeafEvent| ei_facts(&o, ev, ei));
    0
}

/// `release_ei(kref)`: the ei's last reference went; the ei holds the kref at `ei_kref`.
#[inline(always)]
fn on_release_ei(kref: u64) -> u32 {
    let o = OFFSETS.load();
    on_ei(Hook::EiRelease, kref - o.ei_kref as u64)
}
