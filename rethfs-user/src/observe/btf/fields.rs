//! Field paths (`dentry.d_name.name`) resolved to byte offsets, through anonymous members.

use super::{Btf, Kind, Member};

/// Where a field sits inside its outermost struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Bytes from the start of the outermost struct.
    pub offset: u32,
    /// Size of the field's type in bytes.
    pub size: u32,
}

/// Why a field path did not resolve; each names the path and the step that failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FieldError {
    #[error("{path}: a path is `struct.member[.member...]`")]
    Syntax { path: String },
    #[error("{path}: no struct or union named `{name}` in BTF")]
    NoStruct { path: String, name: String },
    #[error("{path}: `{parent}` has no member `{member}`")]
    NoMember {
        path: String,
        parent: String,
        member: String,
    },
    #[error("{path}: `{member}` is not a struct or union, so it has no member `{next}`")]
    NotComposite {
        path: String,
        member: String,
        next: String,
    },
    #[error("{path}: `{member}` is a bitfield or not byte-aligned")]
    Bitfield { path: String, member: String },
    #[error("{path}: type id {id} does not exist")]
    BadType { path: String, id: u32 },
}

impl Btf {
    /// Resolves `struct.member.member...` to an offset from the outer struct's start.
    /// Anonymous structs and unions are searched through, as C would see their members.
    pub fn field(&self, path: &str) -> Result<Field, FieldError> {
        if !path.contains('.') || path.split('.').any(str::is_empty) {
            return Err(FieldError::Syntax { path: path.into() });
        }
        let mut parts = path.split('.');
        let root = parts.next().unwrap_or_default();
        let mut ty = self.composite(root).ok_or_else(|| FieldError::NoStruct {
            path: path.into(),
            name: root.into(),
        })?;
        let mut offset_bits = 0u64;
        let mut parent = root;
        for member in parts {
            let id = self.strip(ty, path)?;
            let members = self.members(id).ok_or_else(|| FieldError::NotComposite {
                path: path.into(),
                member: parent.into(),
                next: member.into(),
            })?;
            let (bits, m) =
                self.find_member(members, member)
                    .ok_or_else(|| FieldError::NoMember {
                        path: path.into(),
                        parent: parent.into(),
                        member: member.into(),
                    })?;
            if m.bitfield_size != 0 || bits % 8 != 0 {
                return Err(FieldError::Bitfield {
                    path: path.into(),
                    member: member.into(),
                });
            }
            offset_bits += bits;
            ty = m.ty;
            parent = member;
        }
        Ok(Field {
            offset: (offset_bits / 8) as u32,
            size: self.size_of(ty, path)?,
        })
    }

    fn members(&self, id: u32) -> Option<&[Member]> {
        match &self.get(id)?.kind {
            Kind::Struct { members, .. } | Kind::Union { members, .. } => Some(members),
            _ => None,
        }
    }

    /// Finds `name` among `members`, descending into anonymous ones; returns the bit offset
    /// relative to the start of `members`' owner.
    fn find_member<'a>(&'a self, members: &'a [Member], name: &str) -> Option<(u64, &'a Member)> {
        members.iter().find_map(|m| {
            let m_name = self.name(m.name_off);
            if m_name == name {
                return Some((m.bit_offset as u64, m));
            }
            if !m_name.is_empty() {
                return None;
            }
            let inner = self.members(self.strip(m.ty, "").ok()?)?;
            self.find_member(inner, name)
                .map(|(bits, found)| (m.bit_offset as u64 + bits, found))
        })
    }

    /// Follows typedefs and qualifiers to the underlying type.
    fn strip(&self, mut id: u32, path: &str) -> Result<u32, FieldError> {
        // A bound guards against cycles in a corrupt blob.
        for _ in 0..64 {
            match self.get(id) {
                Some(t) => match t.kind {
                    Kind::Alias { target } => id = target,
                    _ => return Ok(id),
                },
                None => break,
            }
        }
        Err(FieldError::BadType {
            path: path.into(),
            id,
        })
    }

    fn size_of(&self, id: u32, path: &str) -> Result<u32, FieldError> {
        let id = self.strip(id, path)?;
        let t = self.get(id).ok_or_else(|| FieldError::BadType {
            path: path.into(),
            id,
        })?;
        Ok(match t.kind {
            Kind::Int { size }
            | Kind::Struct { size, .. }
            | Kind::Union { size, .. }
            | Kind::Enum { size }
            | Kind::Float { size } => size,
            // rethfs runs on 64-bit kernels only (x86_64 here and in the test VMs).
            Kind::Ptr => 8,
            Kind::Array { elem, nelems } => self.size_of(elem, path)? * nelems,
            Kind::Void
            | Kind::Alias { .. }
            | Kind::Func { .. }
            | Kind::FuncProto { .. }
            | Kind::Other => 0,
        })
    }
}
