//! Which dynamic-event lines this kernel parses, asked of the kernel where its config cannot
//! tell: eprobes are built into every CONFIG_PROBE_EVENTS kernel before CONFIG_EPROBE_EVENTS
//! made them an option (6.12 has no such option and parses `e:`; 6.18 without it refuses).

use std::{fs::OpenOptions, io::Write, path::Path};

/// Whether `dynamic_events` takes `e:` lines. An eprobe on an event that does not exist is
/// ENODEV where eprobes are built (the line parsed, its target missing) and EINVAL where no
/// parser took it; nothing is made either way.
pub fn eprobes_parse(root: &Path, prefix: &str) -> bool {
    let probe = format!("{prefix}_eprobe/probe");
    let write = |line: &str| {
        OpenOptions::new()
            .append(true)
            .open(root.join("dynamic_events"))
            .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()))
    };
    match write(&format!("e:{probe} {prefix}_none.none")) {
        Err(e) => e.raw_os_error() == Some(libc::ENODEV),
        Ok(()) => {
            // Not what any kernel does; take it back rather than leave it.
            let _ = write(&format!("-:{probe}"));
            true
        }
    }
}
