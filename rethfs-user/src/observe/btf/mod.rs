//! A reader for the kernel's BTF (`/sys/kernel/btf/vmlinux`), enough to resolve struct fields.
//!
//! Rust eBPF has no CO-RE, and struct layouts move between kernels (`dentry.d_name` sits in an
//! anonymous union on 6.18), so rethfs resolves the offsets it needs at start-up and hands them
//! to the programs as read-only globals. The format is include/uapi/linux/btf.h: a header, a
//! type section of variable-length records, and a string section; type ids start at 1.

mod fields;
#[cfg(test)]
mod tests;

use std::{collections::HashMap, fs, path::Path};

pub use fields::{Field, FieldError};

/// Where the running kernel publishes its own BTF.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

const BTF_MAGIC: u16 = 0xeb9f;

/// One BTF type, reduced to what field resolution needs.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Void,
    Int {
        size: u32,
    },
    Ptr,
    Array {
        elem: u32,
        nelems: u32,
    },
    Struct {
        size: u32,
        members: Vec<Member>,
    },
    Union {
        size: u32,
        members: Vec<Member>,
    },
    Enum {
        size: u32,
    },
    /// typedef, const, volatile, restrict and type tags: a name or qualifier on another type.
    Alias {
        target: u32,
    },
    Float {
        size: u32,
    },
    /// A function: its name and the `FuncProto` it has.
    Func {
        proto: u32,
    },
    /// A function type: the name offsets of its parameters, in order.
    FuncProto {
        params: Vec<u32>,
    },
    /// Kinds that never sit inside a struct (variables, sections, forwards, decl tags).
    Other,
}

#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) name_off: u32,
    pub(crate) ty: u32,
    pub(crate) bit_offset: u32,
    /// Non-zero for a bitfield member.
    pub(crate) bitfield_size: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Type {
    pub(crate) name_off: u32,
    pub(crate) kind: Kind,
}

/// Parsed BTF: every type plus an index of named structs and unions.
#[derive(Debug)]
pub struct Btf {
    pub(crate) types: Vec<Type>,
    strings: Vec<u8>,
    composites: HashMap<String, u32>,
}

/// Why a BTF blob could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("not BTF: {0}")]
    Malformed(String),
}

fn malformed(what: impl Into<String>) -> BtfError {
    BtfError::Malformed(what.into())
}

/// Little-endian cursor over the type section.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn u32(&mut self) -> Result<u32, BtfError> {
        let b = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| malformed(format!("type section truncated at byte {}", self.pos)))?;
        self.pos += 4;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    fn skip(&mut self, words: usize) -> Result<(), BtfError> {
        for _ in 0..words {
            self.u32()?;
        }
        Ok(())
    }
}

impl Btf {
    /// Reads and parses a BTF file, such as [`VMLINUX_BTF`].
    pub fn from_file(path: &Path) -> Result<Self, BtfError> {
        let bytes = fs::read(path).map_err(|source| BtfError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&bytes)
    }

    /// Parses a raw BTF blob (header, types, strings), little-endian as on every BPF host here.
    pub fn parse(bytes: &[u8]) -> Result<Self, BtfError> {
        let word = |at: usize| -> Result<u32, BtfError> {
            bytes
                .get(at..at + 4)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
                .ok_or_else(|| malformed("header truncated"))
        };
        let magic = u16::from_le_bytes([
            bytes.first().copied().unwrap_or(0),
            bytes.get(1).copied().unwrap_or(0),
        ]);
        if magic != BTF_MAGIC {
            return Err(malformed(format!(
                "bad magic {magic:#06x}, want {BTF_MAGIC:#06x} (little-endian)"
            )));
        }
        let hdr_len = word(4)? as usize;
        let (type_off, type_len, str_off, str_len) = (word(8)?, word(12)?, word(16)?, word(20)?);
        let section = |off: u32, len: u32, what: &str| {
            let start = hdr_len + off as usize;
            bytes
                .get(start..start + len as usize)
                .ok_or_else(|| malformed(format!("{what} section out of bounds")))
        };
        let type_bytes = section(type_off, type_len, "type")?;
        let strings = section(str_off, str_len, "string")?.to_vec();

        let mut types = vec![Type {
            name_off: 0,
            kind: Kind::Void,
        }];
        let mut cur = Cursor {
            bytes: type_bytes,
            pos: 0,
        };
        while cur.pos < type_bytes.len() {
            types.push(parse_type(&mut cur)?);
        }
        let mut btf = Btf {
            types,
            strings,
            composites: HashMap::new(),
        };
        for (id, t) in btf.types.iter().enumerate() {
            if matches!(t.kind, Kind::Struct { .. } | Kind::Union { .. }) {
                let name = btf.name(t.name_off);
                // The first definition wins; kernel BTF has one per name.
                if !name.is_empty() && !btf.composites.contains_key(name) {
                    btf.composites.insert(name.to_owned(), id as u32);
                }
            }
        }
        Ok(btf)
    }

    /// Number of types, `void` included.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.types.len() <= 1
    }

    pub(crate) fn name(&self, off: u32) -> &str {
        let tail = self.strings.get(off as usize..).unwrap_or_default();
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        std::str::from_utf8(&tail[..end]).unwrap_or("")
    }

    /// The parameter names of the kernel function `name`, or None when BTF has no such
    /// function (absent, or inlined everywhere).
    pub fn func_params(&self, name: &str) -> Option<Vec<&str>> {
        let proto = self.types.iter().find_map(|t| match t.kind {
            Kind::Func { proto } if self.name(t.name_off) == name => Some(proto),
            _ => None,
        })?;
        match &self.get(proto)?.kind {
            Kind::FuncProto { params } => Some(params.iter().map(|&n| self.name(n)).collect()),
            _ => None,
        }
    }

    pub(crate) fn composite(&self, name: &str) -> Option<u32> {
        self.composites.get(name).copied()
    }

    pub(crate) fn get(&self, id: u32) -> Option<&Type> {
        self.types.get(id as usize)
    }
}

/// Parses one `struct btf_type` and its kind-specific trailer (include/uapi/linux/btf.h).
fn parse_type(cur: &mut Cursor) -> Result<Type, BtfError> {
    let name_off = cur.u32()?;
    let info = cur.u32()?;
    let size_or_type = cur.u32()?;
    let vlen = (info & 0xffff) as usize;
    let kind_flag = info >> 31 == 1;
    let kind = match (info >> 24) & 0x1f {
        1 => {
            cur.skip(1)?;
            Kind::Int { size: size_or_type }
        }
        2 => Kind::Ptr,
        3 => {
            let elem = cur.u32()?;
            let _index_type = cur.u32()?;
            Kind::Array {
                elem,
                nelems: cur.u32()?,
            }
        }
        k @ (4 | 5) => {
            let mut members = Vec::with_capacity(vlen);
            for _ in 0..vlen {
                let (name_off, ty, offset) = (cur.u32()?, cur.u32()?, cur.u32()?);
                // With kind_flag the offset word packs bitfield_size:8 | bit_offset:24.
                let (bit_offset, bitfield_size) = if kind_flag {
                    (offset & 0x00ff_ffff, offset >> 24)
                } else {
                    (offset, 0)
                };
                members.push(Member {
                    name_off,
                    ty,
                    bit_offset,
                    bitfield_size,
                });
            }
            if k == 4 {
                Kind::Struct {
                    size: size_or_type,
                    members,
                }
            } else {
                Kind::Union {
                    size: size_or_type,
                    members,
                }
            }
        }
        6 => {
            cur.skip(2 * vlen)?;
            Kind::Enum { size: size_or_type }
        }
        19 => {
            cur.skip(3 * vlen)?;
            Kind::Enum { size: size_or_type }
        }
        8 | 9 | 10 | 11 | 18 => Kind::Alias {
            target: size_or_type,
        },
        16 => Kind::Float { size: size_or_type },
        7 => Kind::Other,
        12 => Kind::Func {
            proto: size_or_type,
        },
        13 => {
            let mut params = Vec::with_capacity(vlen);
            for _ in 0..vlen {
                params.push(cur.u32()?);
                cur.skip(1)?;
            }
            Kind::FuncProto { params }
        }
        14 | 17 => {
            cur.skip(1)?;
            Kind::Other
        }
        15 => {
            cur.skip(3 * vlen)?;
            Kind::Other
        }
        other => return Err(malformed(format!("unknown BTF kind {other}"))),
    };
    Ok(Type { name_off, kind })
}
