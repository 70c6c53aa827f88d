//! Kernel struct field offsets, resolved from BTF by user space and read by the eBPF programs.
//!
//! Rust eBPF has no CO-RE relocations, so the loader hands these in as a read-only global; the
//! verifier then sees them as constants. One list below is the single source of truth for both
//! the struct fields and the BTF paths they come from.

macro_rules! offsets {
    (
        required { $($(#[$rdoc:meta])* $rfield:ident = $rpath:literal,)* }
        optional { $($(#[$odoc:meta])* $ofield:ident = $opath:literal,)* }
    ) => {
        /// Byte offsets of the kernel fields the programs read, one per BTF field path.
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Offsets {
            $($(#[$rdoc])* pub $rfield: u32,)*
            $($(#[$odoc])* pub $ofield: u32,)*
        }

        /// Every field of [`Offsets`] with the BTF path (`struct.member.member`) that fills it
        /// and whether the kernel must have it. An optional field the kernel lacks is
        /// [`Offsets::MISSING`]; the programs that read it are then not attached.
        pub const OFFSET_FIELDS: &[(&str, bool)] = &[$(($rpath, true),)* $(($opath, false),)*];

        impl Offsets {
            /// The fields in [`OFFSET_FIELDS`] order, for the resolver to fill.
            pub fn fields_mut(&mut self) -> [&mut u32; OFFSET_FIELDS.len()] {
                [$(&mut self.$rfield,)* $(&mut self.$ofield,)*]
            }
        }
    };
}

impl Offsets {
    /// An optional field this kernel does not have.
    pub const MISSING: u32 = u32::MAX;
}

offsets! {
    required {
    /// `struct files_struct *` of a task.
    task_files = "task_struct.files",
    /// `struct fdtable *`, RCU-protected.
    files_fdt = "files_struct.fdt",
    /// `unsigned int`: bound for an fd index.
    fdtable_max_fds = "fdtable.max_fds",
    /// `struct file **`: the fd array.
    fdtable_fd = "fdtable.fd",
    /// `struct dentry *` of an open file.
    file_dentry = "file.f_path.dentry",
    dentry_parent = "dentry.d_parent",
    dentry_name = "dentry.d_name.name",
    dentry_inode = "dentry.d_inode",
    dentry_sb = "dentry.d_sb",
    /// `int` reference count inside the lockref.
    dentry_count = "dentry.d_lockref.count",
    inode_ino = "inode.i_ino",
    inode_mode = "inode.i_mode",
    sb_magic = "super_block.s_magic",
    }
    optional {
    /// `void *`: an eventfs dentry's `struct eventfs_inode *` (6.8+ uses it for eventfs only).
    dentry_fsdata = "dentry.d_fsdata",
    /// `const char *` name of an ei (6.8+; 6.6/6.7 had another layout).
    ei_name = "eventfs_inode.name",
    /// `struct kref`, whose first word is the count (`refcount_t`).
    ei_kref = "eventfs_inode.kref",
    /// `unsigned int` inode number an ei directory keeps (6.10+).
    ei_ino = "eventfs_inode.ino",
    }
}

#[cfg(feature = "user")]
// SAFETY: repr(C) struct of u32 fields, no padding, every bit pattern valid.
unsafe impl aya::Pod for Offsets {}
