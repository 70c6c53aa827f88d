//! The lifetime observer: the dcache and eventfs functions that make, look up, revalidate,
//! invalidate and kill tracefs dentries, and create, free and release eventfs_inodes.
//!
//! The handlers here take the hooked function's arguments and return value as plain numbers;
//! [`kprobe`] and [`fentry`] are two ways of getting them (kprobe+kretprobe, or fentry+fexit),
//! one program per hook each, sharing these bodies. Dentry hooks filter on the tracefs
//! superblock first, so the cost elsewhere in the kernel is two reads. eventfs hooks need no
//! filter: every eventfs object is on tracefs.

mod fentry;
mod kprobe;

use rethfs_common::{Hook, KernelEvent, Offsets};

use crate::{
    kernel::{self, Path, dentry_facts, emit, is_err_or_null, path_from, read, read_str},
    maps::OFFSETS,
};

/// A dentry hook: records `dentry` when it is on tracefs, with its path walked for births
/// only (user space knows every later dentry by pointer).
#[inline(always)]
fn on_dentry(hook: Hook, dentry: u64) -> u32 {
    let o = OFFSETS.load();
    let path = if hook == Hook::DentryAlloc {
        Path::Full
    } else {
        Path::Leaf
    };
    if kernel::is_tracefs(&o, dentry) {
        let _ = emit(hook, |ev| dentry_facts(&o, ev, dentry, path));
    }
    0
}

/// `d_alloc` or `d_alloc_parallel` returned `dentry` (NULL or an ERR_PTR on failure): a
/// birth, when on tracefs. `d_alloc_parallel` may hand back a dentry another lookup made;
/// user space knows those pointers already and ignores the repeat.
#[inline(always)]
fn on_d_alloc_ret(dentry: u64) -> u32 {
    on_dentry(Hook::DentryAlloc, dentry)
}

/// `eventfs_root_lookup(dir, dentry, flags)` returned `ret`: NULL when `dentry` itself was
/// filled (positive) or left negative, else an ERR_PTR.
#[inline(always)]
fn on_lookup_ret(dentry: u64, ret: i64) -> u32 {
    let o = OFFSETS.load();
    let _ = emit(Hook::Lookup, |ev| {
        dentry_facts(&o, ev, dentry, Path::Full);
        ev.ret = ret;
    });
    0
}

/// `tracefs_d_revalidate(.., dentry, ..)` returned `ret`: 1 keeps the dentry, 0 makes the
/// walk invalidate it.
#[inline(always)]
fn on_revalidate_ret(dentry: u64, ret: i64) -> u32 {
    let o = OFFSETS.load();
    let _ = emit(Hook::Revalidate, |ev| {
        dentry_facts(&o, ev, dentry, Path::Leaf);
        ev.ret = ret;
    });
    0
}

/// `eventfs_iterate(file, ctx)`: the directory being listed.
#[inline(always)]
fn on_iterate(file: u64) -> u32 {
    let o = OFFSETS.load();
    if let Ok(dentry) = read::<u64>(file, o.file_dentry) {
        let _ = emit(Hook::Iterate, |ev| dentry_facts(&o, ev, dentry, Path::Full));
    }
    0
}

/// The ei's own facts: identity, kref, saved inode number, and its name in `path[0]`.
#[inline(always)]
fn ei_facts(o: &Offsets, ev: &mut KernelEvent, ei: u64) {
    ev.ei = ei;
    ev.refcount = read(ei, o.ei_kref).unwrap_or(-1);
    if o.ei_ino != Offsets::MISSING {
        ev.ino = read::<u32>(ei, o.ei_ino).unwrap_or(0) as u64;
    }
    if let Ok(name) = read::<u64>(ei, o.ei_name) {
        read_str(name, &mut ev.path[0]);
        ev.depth = 1;
    }
}

/// `eventfs_create_dir(name, parent, ..)` returned `ei` (or an ERR_PTR): the new ei, with the
/// parent ei and its name in `path[1]` so user space can place it.
#[inline(always)]
fn on_ei_create_ret(parent: u64, ei: i64) -> u32 {
    let o = OFFSETS.load();
    let _ = emit(Hook::EiCreate, |ev| {
        ev.ret = ei;
        ev.parent = parent;
        if !is_err_or_null(ei as u64) {
            ei_facts(&o, ev, ei as u64);
            if let Ok(name) = read::<u64>(parent, o.ei_name) {
                read_str(name, &mut ev.path[1]);
                ev.depth = 2;
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
    let _ = emit(Hook::EventsDirCreate, |ev| {
        ev.ret = ei;
        ev.parent = parent;
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
    let _ = emit(hook, |ev| ei_facts(&o, ev, ei));
    0
}

/// `eventfs_d_release(dentry)`: the dentry's reference on its ei (`d_fsdata`) goes.
#[inline(always)]
fn on_d_release(dentry: u64) -> u32 {
    let o = OFFSETS.load();
    let _ = emit(Hook::EiDentryRelease, |ev| {
        dentry_facts(&o, ev, dentry, Path::Leaf);
        ev.ei = read(dentry, o.dentry_fsdata).unwrap_or(0);
    });
    0
}

/// `release_ei(kref)`: the ei's last reference went; the ei holds the kref at `ei_kref`.
#[inline(always)]
fn on_release_ei(kref: u64) -> u32 {
    let o = OFFSETS.load();
    on_ei(Hook::EiRelease, kref - o.ei_kref as u64)
}
