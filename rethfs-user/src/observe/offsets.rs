//! The [`Offsets`] global the programs read, filled from BTF.

use rethfs_common::{OFFSET_FIELDS, Offsets};

use super::btf::{Btf, FieldError};

/// Resolves every field path in [`OFFSET_FIELDS`] against `btf`.
pub fn resolve(btf: &Btf) -> Result<Offsets, FieldError> {
    let mut offsets = Offsets::default();
    for (slot, (path, required)) in offsets.fields_mut().into_iter().zip(OFFSET_FIELDS) {
        *slot = match btf.field(path) {
            Ok(field) => field.offset,
            Err(_) if !required => Offsets::MISSING,
            Err(e) => return Err(e),
        };
    }
    Ok(offsets)
}
