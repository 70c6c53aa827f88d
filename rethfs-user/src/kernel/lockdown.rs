//! The kernel lockdown mode (security/lockdown), which can forbid BPF reads of kernel memory.

use std::{fs, path::Path};

use nix::mount::{MntFlags, MsFlags, mount, umount2};

const SECURITYFS: &str = "/sys/kernel/security";

/// The active mode (`none`, `integrity`, `confidentiality`), or why it could not be read.
/// securityfs is mounted for the read when it is not, and unmounted again.
pub fn mode() -> String {
    let file = Path::new(SECURITYFS).join("lockdown");
    if let Some(m) = read(&file) {
        return m;
    }
    if let Err(e) = mount(
        Some("securityfs"),
        SECURITYFS,
        Some("securityfs"),
        MsFlags::empty(),
        None::<&str>,
    ) {
        return format!("unknown (securityfs not mounted, mounting failed: {e})");
    }
    let mode = read(&file).unwrap_or_else(|| "unknown (no lockdown LSM)".to_owned());
    if let Err(e) = umount2(SECURITYFS, MntFlags::empty()) {
        log::warn!("could not unmount the securityfs rethfs mounted at {SECURITYFS}: {e}");
    }
    mode
}

/// `none [integrity] confidentiality` -> `integrity`.
fn read(file: &Path) -> Option<String> {
    let text = fs::read_to_string(file).ok()?;
    let start = text.find('[')? + 1;
    let end = start + text[start..].find(']')?;
    Some(text[start..end].to_owned())
}
