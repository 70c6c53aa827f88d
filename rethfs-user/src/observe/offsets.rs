//! The [`Offsets`] global the programs read, filled from BTF.

use rethfs_common::{OFFSET_FIELDS, Offsets};

use super::btf::{Btf, FieldError};

/// Resolves every field path in [`OFFSET_FIELDS`] against `btf`.
pub fn resolve(btf: &Btf) -> Result<Offsets, FieldError> {
    let mut offsets = Offsets::default();
    for (slot, path) in offsets.fields_mut().into_iter().zip(OFFSET_FIELDS) {
        *slot = btf.field(path)?.offset;
    }
    Ok(offsets)
}
