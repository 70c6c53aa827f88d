//! The guest's initramfs: static busybox, a static rethfs, the kernel's config, and an init
//! that mounts what rethfs needs, runs it in /out, and hands the results to the host over the
//! second (output and exit code) and third (every file rethfs wrote in /out, as a .tar.gz) serial
//! ports (8250 serial is built into every Debian kernel; virtio-console is
//! not in 6.1's cloud flavour) before powering off.

use std::{fs, os::unix::fs::PermissionsExt, path::Path, process::Command};

use anyhow::{Context as _, Result};

use super::kernel::Kernel;
use crate::process;

const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp /run/lock /boot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mount -t tracefs nodev /sys/kernel/tracing
mount -t debugfs nodev /sys/kernel/debug 2>/dev/null
mount -t securityfs none /sys/kernel/security 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
stty -F /dev/ttyS1 raw -echo
stty -F /dev/ttyS2 raw -echo
mkdir -p /out
cd /out
/rethfs $(cat /args) > /log 2>&1
code=$?
[ -f /report.json ] && mv /report.json /out/report.json
{ cat /log; echo "rethfs-exit=$code"; } > /dev/ttyS1
tar -c -C /out . | gzip -1 > /dev/ttyS2
poweroff -f
"#;

/// Builds `out` (a gzipped newc cpio) for `kernel`, running `rethfs ARGS`.
pub fn build(
    out: &Path,
    work: &Path,
    rethfs: &Path,
    kernel: &Kernel,
    args: &[String],
) -> Result<()> {
    if work.exists() {
        fs::remove_dir_all(work)?;
    }
    for d in ["bin", "boot"] {
        fs::create_dir_all(work.join(d))?;
    }
    fs::copy("/bin/busybox", work.join("bin/busybox"))
        .context("/bin/busybox (package busybox-static)")?;
    fs::copy(rethfs, work.join("rethfs")).with_context(|| rethfs.display().to_string())?;
    fs::copy(
        &kernel.config,
        work.join("boot").join(format!("config-{}", kernel.release)),
    )?;
    fs::write(work.join("init"), INIT)?;
    fs::write(work.join("args"), args.join(" "))?;
    for f in ["init", "rethfs", "bin/busybox"] {
        fs::set_permissions(work.join(f), fs::Permissions::from_mode(0o755))?;
    }
    let script = format!(
        "cd {} && find . | cpio -o -H newc --quiet | gzip -1 > {}",
        work.display(),
        out.display()
    );
    process::run(Command::new("sh").arg("-c").arg(script))
}
