//! A dentry observation as user space reports it, decoded from the wire record.

use rethfs_common::{DentryEvent, Hook};
use serde::Serialize;

/// One observed dentry, with names decoded and the kind read off `i_mode`.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Nanoseconds since the observer started.
    pub t_ns: u64,
    pub hook: &'static str,
    pub comm: String,
    pub tgid: u32,
    pub pid: u32,
    pub fd: i32,
    pub name: String,
    /// The name was longer than the kernel side captures.
    pub name_truncated: bool,
    pub parent: String,
    pub ino: u64,
    pub kind: &'static str,
    pub refcount: i32,
    /// Kernel address of the dentry, an identity the kernel reuses once the dentry is freed.
    pub dentry: String,
    pub parent_dentry: String,
}

fn c_str(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// The file type bits of `i_mode` (include/uapi/linux/stat.h).
fn kind(mode: u16) -> &'static str {
    match mode as u32 & libc::S_IFMT {
        0 => "negative",
        libc::S_IFDIR => "dir",
        libc::S_IFREG => "file",
        libc::S_IFLNK => "symlink",
        _ => "other",
    }
}

impl Record {
    /// Decodes `ev`; `t0_ns` is the monotonic time the observer started.
    pub fn decode(ev: &DentryEvent, t0_ns: u64) -> Self {
        let name = c_str(&ev.name);
        Record {
            t_ns: ev.ts_ns.saturating_sub(t0_ns),
            hook: Hook::from_u32(ev.hook).map_or("unknown", Hook::name),
            comm: c_str(&ev.comm),
            tgid: ev.tgid,
            pid: ev.pid,
            fd: ev.fd,
            name_truncated: (ev.name_len as usize) > name.len(),
            name,
            parent: c_str(&ev.parent_name),
            ino: ev.ino,
            kind: kind(ev.mode),
            refcount: ev.refcount,
            dentry: format!("{:#x}", ev.dentry),
            parent_dentry: format!("{:#x}", ev.parent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &[u8], name_len: u16, mode: u16) -> DentryEvent {
        let mut ev = DentryEvent {
            ts_ns: 1_500,
            dentry: 0xffff_8880_0000_1000,
            parent: 0xffff_8880_0000_2000,
            ino: 42,
            tgid: 7,
            pid: 8,
            refcount: 3,
            fd: 4,
            hook: Hook::Getdents as u32,
            mode,
            name_len,
            comm: [0; 16],
            name: [0; 64],
            parent_name: [0; 64],
        };
        ev.name[..name.len()].copy_from_slice(name);
        ev.comm[..2].copy_from_slice(b"ls");
        ev.parent_name[..6].copy_from_slice(b"events");
        ev
    }

    #[test]
    fn decodes_names_kind_and_time() {
        let r = Record::decode(&event(b"sched", 5, libc::S_IFDIR as u16 | 0o755), 1_000);
        assert_eq!(
            (r.name.as_str(), r.parent.as_str(), r.comm.as_str()),
            ("sched", "events", "ls")
        );
        assert_eq!(
            (r.kind, r.hook, r.t_ns, r.ino, r.refcount),
            ("dir", "getdents64", 500, 42, 3)
        );
        assert_eq!(r.dentry, "0xffff888000001000");
        assert!(!r.name_truncated);
    }

    #[test]
    fn flags_cut_names_and_negative_dentries() {
        let r = Record::decode(&event(&[b'a'; 63], 200, 0), 0);
        assert!(r.name_truncated);
        assert_eq!(r.kind, "negative");
        assert_eq!(
            Record::decode(&event(b"x", 1, libc::S_IFREG as u16), 0).kind,
            "file"
        );
    }
}
