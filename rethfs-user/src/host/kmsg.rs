//! The kernel log as `/dev/kmsg` gives it, read from a point onwards: what a concurrent
//! scenario made the kernel say (an oops, a warning, a hung task) is a `kernel-survives`
//! violation, quoted with the function it names.
//!
//! `/dev/kmsg` rather than syslog(2): each open has its own position, so records written
//! before the scenario are skipped by seeking to the end, and one read returns one record.

use std::{
    fs::File,
    io::{ErrorKind, Read, Seek, SeekFrom},
    os::unix::fs::OpenOptionsExt,
};

/// What marks a record as the kernel failing.
const SYMPTOMS: &[&str] = &[
    "BUG:",
    "Oops",
    "WARNING:",
    "KASAN",
    "list_del corruption",
    "list_add corruption",
    "refcount_t:",
    "general protection fault",
    "hung_task",
    "blocked for more than",
    "RIP: 0010:",
];

/// A reader positioned after everything the kernel logged before it was opened.
pub struct Kmsg {
    file: Option<File>,
    /// Why the log could not be read, reported instead of a silent pass.
    pub unreadable: Option<String>,
}

/// What the kernel logged that marks it failing.
#[derive(Debug, Clone, Default)]
pub struct KernelSaid {
    pub lines: Vec<String>,
    /// The functions named by `RIP:` or `BUG: ... in FUNC`, first first.
    pub functions: Vec<String>,
}

impl Kmsg {
    pub fn open() -> Kmsg {
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .and_then(|mut f| f.seek(SeekFrom::End(0)).map(|_| f));
        match opened {
            Ok(f) => Kmsg {
                file: Some(f),
                unreadable: None,
            },
            Err(e) => Kmsg {
                file: None,
                unreadable: Some(format!("/dev/kmsg: {e}")),
            },
        }
    }

    /// The records logged since the last call (or since opening) that show a failure.
    pub fn failures(&mut self) -> KernelSaid {
        let mut out = KernelSaid::default();
        let Some(f) = &mut self.file else {
            return out;
        };
        let mut buf = vec![0u8; 8192];
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let record = String::from_utf8_lossy(&buf[..n]);
                    // `PRIO,SEQ,USEC,FLAGS;MESSAGE`, then continuation lines.
                    let text = record.split_once(';').map_or(&*record, |(_, m)| m);
                    let first = text.lines().next().unwrap_or_default().trim_end();
                    if SYMPTOMS.iter().any(|s| first.contains(s)) {
                        out.functions.extend(function_in(first));
                        out.lines.push(first.to_owned());
                    }
                }
                // EPIPE: records were overwritten before being read; go on with the rest.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => {
                    self.unreadable = Some(format!("/dev/kmsg: {e}"));
                    break;
                }
            }
        }
        out.functions.dedup();
        out
    }
}

/// The function a failure line names: `RIP: 0010:eventfs_iterate+0x2ae/0x3b0` gives
/// `eventfs_iterate`; `BUG: KASAN: use-after-free in eventfs_iterate+0x..` too.
fn function_in(line: &str) -> Option<String> {
    let after = line
        .split_once("RIP: 0010:")
        .map(|(_, r)| r)
        .or_else(|| line.split_once(" in ").map(|(_, r)| r))
        .or_else(|| line.split_once(" at ").map(|(_, r)| r))?;
    let word = after.split_whitespace().next()?;
    let name = word.split('+').next()?;
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    (ok && word.contains('+')).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::function_in;

    #[test]
    fn the_faulting_function_is_read_off_rip_and_bug_lines() {
        assert_eq!(
            function_in("RIP: 0010:eventfs_iterate+0x2ae/0x3b0").as_deref(),
            Some("eventfs_iterate")
        );
        assert_eq!(
            function_in("BUG: KASAN: slab-use-after-free in eventfs_set_attr+0x50/0x1e0")
                .as_deref(),
            Some("eventfs_set_attr")
        );
        assert_eq!(
            function_in("BUG: kernel NULL pointer dereference, address: 0000000000000010"),
            None
        );
    }
}
