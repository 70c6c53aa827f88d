//! One getdents64(2) call with a caller-chosen buffer, decoded.

use std::{io, os::fd::AsRawFd};

use crate::interface::{Dirent, Errno, FileKind};

/// `struct linux_dirent64` is `u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]`.
const NAME_AT: usize = 19;

pub fn getdents64(dir: &impl AsRawFd, buffer: usize) -> Result<Vec<Dirent>, Errno> {
    // u64-aligned storage, as the kernel writes 8-byte fields.
    let mut buf = vec![0u64; buffer.div_ceil(8)];
    // SAFETY: reinterpreting the u64 storage as its first `buffer` bytes.
    let bytes = unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<u8>(), buffer) };
    getdents64_into(dir, bytes)
}

/// One getdents64 call into `bytes`, wherever they lie (see [`super::stall`]).
pub fn getdents64_into(dir: &impl AsRawFd, bytes: &mut [u8]) -> Result<Vec<Dirent>, Errno> {
    // SAFETY: the buffer has `bytes.len()` writable bytes; the fd is open for the call.
    let n = unsafe {
        libc::syscall(
            libc::SYS_getdents64,
            dir.as_raw_fd(),
            bytes.as_mut_ptr(),
            bytes.len(),
        )
    };
    if n < 0 {
        return Err(Errno(
            io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        ));
    }
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < n as usize {
        let ino = u64::from_ne_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let off = i64::from_ne_bytes(bytes[at + 8..at + 16].try_into().expect("8 bytes"));
        let reclen =
            u16::from_ne_bytes(bytes[at + 16..at + 18].try_into().expect("2 bytes")) as usize;
        let kind = match bytes[at + 18] {
            libc::DT_DIR => FileKind::Dir,
            libc::DT_REG => FileKind::File,
            _ => FileKind::Other,
        };
        let name = &bytes[at + NAME_AT..at + reclen];
        let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
        out.push(Dirent {
            name: String::from_utf8_lossy(name).into_owned(),
            ino,
            kind,
            off,
        });
        at += reclen;
    }
    Ok(out)
}
