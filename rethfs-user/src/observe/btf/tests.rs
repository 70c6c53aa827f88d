//! Unit tests on small BTF blobs built here, shaped like the kernel's own structs.

use super::{Btf, BtfError, Field, FieldError};

/// Writes BTF the way the kernel lays it out, one type at a time; ids start at 1.
#[derive(Default)]
struct Builder {
    types: Vec<u8>,
    strings: Vec<u8>,
    next_id: u32,
}

impl Builder {
    fn new() -> Self {
        Builder {
            strings: vec![0],
            next_id: 1,
            ..Default::default()
        }
    }

    fn str(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }

    fn push(
        &mut self,
        name: &str,
        kind: u32,
        vlen: u32,
        kind_flag: bool,
        size_or_type: u32,
        extra: &[u32],
    ) -> u32 {
        let name_off = self.str(name);
        let info = (kind << 24) | vlen | if kind_flag { 1 << 31 } else { 0 };
        for w in [name_off, info, size_or_type].iter().chain(extra) {
            self.types.extend_from_slice(&w.to_le_bytes());
        }
        self.next_id += 1;
        self.next_id - 1
    }

    fn int(&mut self, name: &str, size: u32) -> u32 {
        self.push(name, 1, 0, false, size, &[size * 8])
    }

    fn ptr(&mut self, to: u32) -> u32 {
        self.push("", 2, 0, false, to, &[])
    }

    fn typedef(&mut self, name: &str, to: u32) -> u32 {
        self.push(name, 8, 0, false, to, &[])
    }

    fn const_(&mut self, to: u32) -> u32 {
        self.push("", 10, 0, false, to, &[])
    }

    fn array(&mut self, elem: u32, index: u32, n: u32) -> u32 {
        self.push("", 3, 0, false, 0, &[elem, index, n])
    }

    /// `members`: (name, type id, bit offset, bitfield size).
    fn composite(
        &mut self,
        union: bool,
        name: &str,
        size: u32,
        members: &[(&str, u32, u32, u32)],
    ) -> u32 {
        let kind_flag = members.iter().any(|m| m.3 != 0);
        let mut extra = Vec::new();
        for &(n, ty, bits, bf) in members {
            let off = if kind_flag { (bf << 24) | bits } else { bits };
            extra.extend([self.str(n), ty, off]);
        }
        self.push(
            name,
            if union { 5 } else { 4 },
            members.len() as u32,
            kind_flag,
            size,
            &extra,
        )
    }

    fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&0xeb9fu16.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        for w in [
            24u32,
            0,
            self.types.len() as u32,
            self.types.len() as u32,
            self.strings.len() as u32,
        ] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
}

/// `struct qstr`, `struct lockref` and `struct dentry` as 6.18 lays them out: names and counts
/// inside anonymous unions and structs, reached through typedefs and const.
fn dentry_blob() -> Vec<u8> {
    let mut b = Builder::new();
    let u32_ = b.int("unsigned int", 4);
    let int = b.int("int", 4);
    let u64_ = b.int("long long unsigned int", 8);
    let uchar = b.int("unsigned char", 1);
    let cuchar = b.const_(uchar);
    let name_ptr = b.ptr(cuchar);
    let u32t = b.typedef("u32", u32_);
    let hash_len = b.composite(false, "", 8, &[("hash", u32t, 0, 0), ("len", u32t, 32, 0)]);
    let hash_union = b.composite(
        true,
        "",
        8,
        &[("", hash_len, 0, 0), ("hash_len", u64_, 0, 0)],
    );
    let qstr = b.composite(
        false,
        "qstr",
        16,
        &[("", hash_union, 0, 0), ("name", name_ptr, 64, 0)],
    );
    let spin = b.composite(false, "spinlock", 4, &[("val", u32_, 0, 0)]);
    let spinlock_t = b.typedef("spinlock_t", spin);
    let lock_count = b.composite(
        false,
        "",
        8,
        &[("lock", spinlock_t, 0, 0), ("count", int, 32, 0)],
    );
    let lockref_u = b.composite(
        true,
        "",
        8,
        &[("lock_count", u64_, 0, 0), ("", lock_count, 0, 0)],
    );
    let lockref = b.composite(false, "lockref", 8, &[("", lockref_u, 0, 0)]);
    let dentry_fwd_ptr = b.ptr(0);
    let iname = b.array(uchar, u32_, 40);
    let d_name_u = b.composite(
        true,
        "",
        16,
        &[("__d_name", qstr, 0, 0), ("d_name", qstr, 0, 0)],
    );
    b.composite(
        false,
        "dentry",
        160,
        &[
            ("d_flags", u32_, 0, 0),
            ("d_seq", u32_, 32, 0),
            ("d_parent", dentry_fwd_ptr, 192, 0),
            ("", d_name_u, 256, 0),
            ("d_iname", iname, 384, 0),
            ("d_lockref", lockref, 1024, 0),
            ("d_flag_bits", u32_, 1088, 3),
        ],
    );
    b.build()
}

#[test]
fn resolves_direct_member() {
    let btf = Btf::parse(&dentry_blob()).unwrap();
    assert_eq!(
        btf.field("dentry.d_parent"),
        Ok(Field {
            offset: 24,
            size: 8
        })
    );
    assert_eq!(
        btf.field("dentry.d_iname"),
        Ok(Field {
            offset: 48,
            size: 40
        })
    );
}

#[test]
fn resolves_through_anonymous_unions_and_structs() {
    let btf = Btf::parse(&dentry_blob()).unwrap();
    // d_name lives in an anonymous union at 32; name follows the 8-byte hash_len union.
    assert_eq!(
        btf.field("dentry.d_name.name"),
        Ok(Field {
            offset: 40,
            size: 8
        })
    );
    assert_eq!(
        btf.field("dentry.d_name.len"),
        Ok(Field {
            offset: 36,
            size: 4
        })
    );
    assert_eq!(
        btf.field("dentry.d_lockref.count"),
        Ok(Field {
            offset: 132,
            size: 4
        })
    );
    assert_eq!(btf.field("lockref.lock"), Ok(Field { offset: 0, size: 4 }));
}

#[test]
fn errors_name_the_step_that_failed() {
    let btf = Btf::parse(&dentry_blob()).unwrap();
    assert_eq!(
        btf.field("dentry.d_nme").unwrap_err().to_string(),
        "dentry.d_nme: `dentry` has no member `d_nme`"
    );
    assert!(matches!(
        btf.field("inode.i_ino"),
        Err(FieldError::NoStruct { .. })
    ));
    assert!(matches!(
        btf.field("dentry.d_flags.x"),
        Err(FieldError::NotComposite { .. })
    ));
    assert!(matches!(
        btf.field("dentry.d_flag_bits"),
        Err(FieldError::Bitfield { .. })
    ));
    assert!(matches!(
        btf.field("dentry"),
        Err(FieldError::Syntax { .. })
    ));
    assert!(matches!(
        btf.field("dentry..d_parent"),
        Err(FieldError::Syntax { .. })
    ));
}

#[test]
fn rejects_malformed_blobs() {
    assert!(matches!(
        Btf::parse(b"\x9f\xeb"),
        Err(BtfError::Malformed(_))
    ));
    assert!(matches!(
        Btf::parse(b"ELF\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"),
        Err(BtfError::Malformed(_))
    ));
    let mut blob = dentry_blob();
    blob.truncate(blob.len() - 10);
    assert!(
        Btf::parse(&blob).is_err(),
        "a cut string section must not parse"
    );
}

/// The running kernel's BTF: every observer field resolves, and on 6.18 to the offsets pahole
/// gives (listed in platform.md); other series must resolve to plausible values.
#[test]
#[ignore = "host test: reads the running kernel's BTF"]
fn live_vmlinux_resolves_every_observer_field() {
    let path = std::path::Path::new(super::VMLINUX_BTF);
    let btf = Btf::from_file(path).unwrap();
    assert!(
        btf.len() > 10_000,
        "vmlinux BTF has only {} types",
        btf.len()
    );
    // 6.18 has eventfs, so the optional fields must resolve too.
    for (path, _) in rethfs_common::OFFSET_FIELDS {
        let f = btf.field(path).unwrap_or_else(|e| panic!("{e}"));
        assert!(f.size > 0 && f.offset < 16384, "{path}: {f:?}");
    }
    let release = nix::sys::utsname::uname()
        .unwrap()
        .release()
        .to_string_lossy()
        .into_owned();
    if release.starts_with("6.18.") {
        for (path, offset) in [
            ("dentry.d_parent", 24),
            ("dentry.d_name.len", 36),
            ("dentry.d_name.name", 40),
            ("dentry.d_sb", 104),
            ("dentry.d_lockref.count", 132),
            ("inode.i_ino", 64),
            ("super_block.s_magic", 96),
        ] {
            assert_eq!(
                btf.field(path).unwrap().offset,
                offset,
                "{path} on {release}"
            );
        }
    }
}

/// `tracefs_d_revalidate` before and after 6.14, when `d_revalidate` gained the parent and name.
#[test]
fn function_parameters_by_name() {
    let mut b = Builder::new();
    let int = b.int("int", 4);
    let void_ptr = b.ptr(0);
    let mut extra = Vec::new();
    for n in ["inode", "name", "dentry", "flags"] {
        extra.extend([b.str(n), void_ptr]);
    }
    let proto = b.push("", 13, 4, false, int, &extra);
    b.push("tracefs_d_revalidate", 12, 0, false, proto, &[]);
    let old = [b.str("dentry"), void_ptr, b.str("flags"), int];
    let old_proto = b.push("", 13, 2, false, int, &old);
    b.push("old_revalidate", 12, 0, false, old_proto, &[]);
    let btf = Btf::parse(&b.build()).unwrap();
    assert_eq!(
        btf.func_params("tracefs_d_revalidate"),
        Some(vec!["inode", "name", "dentry", "flags"])
    );
    assert_eq!(
        btf.func_params("old_revalidate"),
        Some(vec!["dentry", "flags"])
    );
    assert_eq!(btf.func_params("inlined_away"), None);
}
