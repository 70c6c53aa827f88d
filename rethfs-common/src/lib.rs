//! Wire types shared by the eBPF programs (`rethfs-ebpf`) and user space (`rethfs-user`).
//!
//! Everything here is `#[repr(C)]` plain data: the kernel side writes it into maps and ring
//! buffers, user space reads the same bytes back. No pointers are followed on the user side;
//! kernel addresses travel as `u64` identities.
#![no_std]

mod event;
mod offsets;

pub use event::{
    COMM_LEN, Event, Head, Hook, KernelEvent, LEAF_ONLY, LeafEvent, NAME_CAPTURE, PATH_DEPTH,
};
pub use offsets::{OFFSET_FIELDS, Offsets};

/// `TRACEFS_MAGIC` from include/uapi/linux/magic.h: the `s_magic` of every tracefs superblock.
pub const TRACEFS_MAGIC: u64 = 0x7472_6163;
