//! An observation as user space reports it, decoded from the wire record.

use rethfs_common::{Event, Hook, KernelEvent, LEAF_ONLY, LeafEvent, PATH_DEPTH};
use serde::{Serialize, Serializer};

/// One observed kernel event, with the path joined and the kind read off `i_mode`.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Nanoseconds since the observer started.
    pub t_ns: u64,
    #[serde(serialize_with = "hook_name")]
    pub hook: Hook,
    pub comm: String,
    pub tgid: u32,
    pub pid: u32,
    #[serde(skip_serializing_if = "is_no_fd")]
    pub fd: i32,
    /// Relative to the tracefs root; for ei hooks the ei's name after what places it (see
    /// [`Hook::EiCreate`]). Empty for the root itself.
    pub path: String,
    /// Deeper than the kernel side captures: the top components are missing.
    pub path_cut: bool,
    /// The kernel sent the object's own name only ([`rethfs_common::LEAF_ONLY`]) and no
    /// earlier record of this pointer gave the rest.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub leaf_only: bool,
    pub ino: u64,
    pub kind: &'static str,
    /// The dentry count or ei kref when the hook ran (-1: unreadable).
    pub refcount: i32,
    /// Kernel addresses: identities the kernel reuses once the object is freed.
    #[serde(serialize_with = "hex")]
    pub dentry: u64,
    #[serde(serialize_with = "hex")]
    pub parent: u64,
    #[serde(serialize_with = "hex")]
    pub ei: u64,
    /// The hooked function's return value, for the hooks that see it.
    pub ret: i64,
}

pub(super) fn hook_name<S: Serializer>(h: &Hook, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(h.name())
}

fn hex<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:#x}"))
}

fn is_no_fd(fd: &i32) -> bool {
    *fd < 0
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

/// Why ring-buffer bytes are no record: counted as lost, never dropped silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// The size of neither record kind: the programs and this binary disagree on them.
    Size(usize),
    /// A hook value this binary does not know (a mismatched eBPF object).
    UnknownHook(u32),
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Malformed::Size(n) => write!(
                f,
                "a ring-buffer record of {n} bytes, the size of no record ({} or {} bytes)",
                std::mem::size_of::<LeafEvent>(),
                std::mem::size_of::<KernelEvent>()
            ),
            Malformed::UnknownHook(h) => write!(f, "a record of unknown hook {h}"),
        }
    }
}

impl Record {
    /// Decodes one ring-buffer item, whatever its bytes: the programs write whole
    /// [`LeafEvent`]s and [`KernelEvent`]s, told apart by length, but user space trusts no
    /// length or value it reads.
    pub fn from_bytes(item: &[u8], t0_ns: u64) -> Result<Self, Malformed> {
        fn read<const N: usize>(item: &[u8]) -> Event<N> {
            // SAFETY: the caller checked the length; read unaligned (the ring aligns to 8
            // only); every bit pattern is a valid Event (integers and byte arrays).
            unsafe { std::ptr::read_unaligned(item.as_ptr().cast::<Event<N>>()) }
        }
        let decoded = match item.len() {
            n if n == std::mem::size_of::<LeafEvent>() => Self::decode(&read::<1>(item), t0_ns),
            n if n == std::mem::size_of::<KernelEvent>() => {
                Self::decode(&read::<PATH_DEPTH>(item), t0_ns)
            }
            n => return Err(Malformed::Size(n)),
        };
        decoded.map_err(Malformed::UnknownHook)
    }

    /// Decodes `ev`; `t0_ns` is the monotonic time the observer started. Err with the hook
    /// value when this binary does not know it (a mismatched eBPF object).
    pub fn decode<const N: usize>(ev: &Event<N>, t0_ns: u64) -> Result<Self, u32> {
        let h = &ev.head;
        let depth = (h.depth as usize).min(N);
        let mut parts: Vec<String> = ev.path[..depth].iter().map(|c| c_str(c)).collect();
        parts.reverse();
        Ok(Record {
            t_ns: h.ts_ns.saturating_sub(t0_ns),
            hook: Hook::from_u32(h.hook).ok_or(h.hook)?,
            comm: c_str(&h.comm),
            tgid: h.tgid,
            pid: h.pid,
            fd: h.fd,
            path: parts.join("/"),
            path_cut: h.depth as usize > N,
            leaf_only: h.flags & LEAF_ONLY != 0,
            ino: h.ino,
            kind: kind(h.mode),
            refcount: h.refcount,
            dentry: h.dentry,
            parent: h.parent,
            ei: h.ei,
            ret: h.ret,
        })
    }

    /// The last path component: the object's own name.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use rethfs_common::{COMM_LEN, Head, NAME_CAPTURE};

    use super::*;

    /// A record whose path components are given root first, as a person writes them.
    fn event(hook: Hook, path: &[&str], mode: u16) -> KernelEvent {
        let head = Head {
            ts_ns: 1_500,
            dentry: 0xffff_8880_0000_1000,
            ei: 0,
            parent: 0xffff_8880_0000_2000,
            ino: 42,
            ret: 0,
            tgid: 7,
            pid: 8,
            refcount: 3,
            fd: 4,
            hook: hook as u32,
            mode,
            depth: path.len() as u8,
            flags: 0,
            comm: [0; COMM_LEN],
        };
        let mut ev = KernelEvent {
            head,
            path: [[0; NAME_CAPTURE]; PATH_DEPTH],
        };
        for (slot, name) in path.iter().rev().enumerate() {
            ev.path[slot][..name.len()].copy_from_slice(name.as_bytes());
        }
        ev.head.comm[..2].copy_from_slice(b"ls");
        ev
    }

    #[test]
    fn decodes_path_kind_and_time() {
        let ev = event(
            Hook::Getdents,
            &["events", "sched"],
            libc::S_IFDIR as u16 | 0o755,
        );
        let r = Record::decode(&ev, 1_000).unwrap();
        assert_eq!(
            (r.path.as_str(), r.name(), r.comm.as_str()),
            ("events/sched", "sched", "ls")
        );
        assert_eq!(
            (r.kind, r.hook, r.t_ns, r.ino, r.refcount),
            ("dir", Hook::Getdents, 500, 42, 3)
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            (json["dentry"].as_str(), json["hook"].as_str()),
            (Some("0xffff888000001000"), Some("getdents64"))
        );
        assert!(!r.path_cut);
    }

    #[test]
    fn flags_cut_paths_negative_dentries_and_unknown_hooks() {
        let mut ev = event(Hook::Dput, &["a"; PATH_DEPTH], 0);
        ev.head.depth = PATH_DEPTH as u8 + 1;
        let r = Record::decode(&ev, 0).unwrap();
        assert!(r.path_cut);
        assert_eq!(r.path.split('/').count(), PATH_DEPTH);
        assert_eq!(r.kind, "negative");
        let file = event(Hook::Dput, &["x"], libc::S_IFREG as u16);
        assert_eq!(Record::decode(&file, 0).unwrap().kind, "file");
        let root = event(Hook::Dput, &[], libc::S_IFDIR as u16);
        assert_eq!(Record::decode(&root, 0).unwrap().path, "");
        let mut unknown = file;
        unknown.head.hook = 999;
        assert_eq!(Record::decode(&unknown, 0).unwrap_err(), 999);
    }

    #[test]
    fn ring_bytes_that_are_no_record_are_named() {
        let size = std::mem::size_of::<KernelEvent>();
        assert_eq!(
            Record::from_bytes(&[0u8; 12], 0).unwrap_err(),
            Malformed::Size(12)
        );
        assert_eq!(
            Record::from_bytes(&vec![0u8; size + 8], 0).unwrap_err(),
            Malformed::Size(size + 8)
        );
        // All ones: an unknown hook; all zeros: hook 0, unknown too.
        assert_eq!(
            Record::from_bytes(&vec![0xff; size], 0).unwrap_err(),
            Malformed::UnknownHook(u32::MAX)
        );
        assert!(Record::from_bytes(&vec![0; size], 0).is_err());
        let mut ev = event(Hook::Dput, &["events", "x"], 0);
        ev.head.depth = 200;
        // SAFETY: viewing a plain repr(C) value as its bytes.
        let bytes =
            unsafe { std::slice::from_raw_parts((&ev as *const KernelEvent).cast::<u8>(), size) };
        let r = Record::from_bytes(bytes, 0).unwrap();
        assert!(r.path_cut && r.path.split('/').count() == PATH_DEPTH);
        // At an odd address, as no ring hands it out, it still decodes the same.
        let mut odd = vec![0u8];
        odd.extend_from_slice(bytes);
        let r2 = Record::from_bytes(&odd[1..], 0).unwrap();
        assert_eq!((r2.path, r2.dentry), (r.path, r.dentry));
    }

    #[test]
    fn a_leaf_record_is_its_head_and_one_name() {
        // The wire sizes both sides agree on: no padding anywhere.
        assert_eq!(std::mem::size_of::<Head>(), 88);
        assert_eq!(std::mem::size_of::<LeafEvent>(), 88 + NAME_CAPTURE);
        assert_eq!(
            std::mem::size_of::<KernelEvent>(),
            88 + NAME_CAPTURE * PATH_DEPTH
        );
        let full = event(Hook::Revalidate, &["events", "g", "enable"], 0);
        let mut leaf = LeafEvent {
            head: full.head,
            path: [full.path[0]],
        };
        leaf.head.depth = 1;
        leaf.head.flags = LEAF_ONLY;
        let size = std::mem::size_of::<LeafEvent>();
        // SAFETY: viewing a plain repr(C) value as its bytes.
        let bytes =
            unsafe { std::slice::from_raw_parts((&leaf as *const LeafEvent).cast::<u8>(), size) };
        let r = Record::from_bytes(bytes, 0).unwrap();
        assert_eq!((r.path.as_str(), r.leaf_only), ("enable", true));
        // Deeper than one name: cut, as a walked path deeper than the record is.
        leaf.head.depth = 3;
        assert!(Record::decode(&leaf, 0).unwrap().path_cut);
    }
}
