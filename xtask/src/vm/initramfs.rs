//! The guest's initramfs: static busybox, the program (a static rethfs, or what `--exec`
//! names), the kernel's config, the host files its arguments name, and an init that mounts what
//! rethfs needs, runs the program in /out, and hands the results to the host over the second
//! (output, the status of the file transfer and the program's exit code) and third (every
//! file it wrote in /out, as a .tar.gz) serial ports
//! (8250 serial is built into every Debian kernel; virtio-console is not in 6.1's cloud
//! flavour) before powering off.

use std::{fs, os::unix::fs::PermissionsExt, path::Path, process::Command};

use anyhow::{Context as _, Result};

use super::{guest_args::GuestArgs, kernel::Kernel, newc};
use crate::process;

/// What init writes to the console before the program starts: a guest that died without it
/// never booted, whatever its kernel would have done under the program.
pub const INIT_RAN: &str = "rethfs-vm: init ran";

// /args holds one argument per line, so that an argument with a space stays one argument.
// The transfer's status goes to ttyS1 after the transfer, just before the program's exit code,
// which stays the last line; the printf's leading newline ends a log that lacks one. The
// program's output also goes to the console as it comes, so that a guest that hangs shows how
// far it got.
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
set --
while IFS= read -r a; do set -- "$@" "$a"; done < /args
set -o pipefail
echo "rethfs-vm: init ran" > /dev/ttyS0
/program "$@" 2>&1 | tee /log > /dev/ttyS0
code=$?
[ -f /report.json ] && mv /report.json /out/report.json
tar -czf /dev/ttyS2 -C /out .
files=$?
{ cat /log; printf '\nfiles-exit=%s\nprogram-exit=%s\n' "$files" "$code"; } > /dev/ttyS1
poweroff -f
"#;

/// Builds `out` (a gzipped newc cpio) for `kernel`, running `program` (rethfs, or another
/// static executable) with `guest`'s arguments and files, and checks that it will boot.
pub fn build(
    out: &Path,
    work: &Path,
    program: &Path,
    kernel: &Kernel,
    guest: &GuestArgs,
) -> Result<()> {
    if work.exists() {
        fs::remove_dir_all(work)?;
    }
    for d in ["bin", "boot"] {
        fs::create_dir_all(work.join(d))?;
    }
    fs::copy("/bin/busybox", work.join("bin/busybox"))
        .context("/bin/busybox (package busybox-static)")?;
    fs::copy(program, work.join("program")).with_context(|| program.display().to_string())?;
    fs::copy(
        &kernel.config,
        work.join("boot").join(format!("config-{}", kernel.release)),
    )?;
    for input in &guest.inputs {
        let to = work.join(input.guest.trim_start_matches('/'));
        fs::create_dir_all(to.parent().expect("/in/<n>/<name>"))?;
        fs::copy(&input.host, &to).with_context(|| {
            format!(
                "copying {} into the guest as {}",
                input.host.display(),
                input.guest
            )
        })?;
    }
    fs::write(work.join("init"), INIT)?;
    fs::write(work.join("args"), guest.lines())?;
    for f in ["init", "program", "bin/busybox"] {
        fs::set_permissions(work.join(f), fs::Permissions::from_mode(0o755))?;
    }
    let in_work = |program: &str, args: &[&str]| {
        let mut c = Command::new(program);
        c.current_dir(work).args(args);
        c
    };
    process::pipeline(
        vec![
            in_work("find", &["."]),
            in_work("cpio", &["-o", "-H", "newc", "--quiet"]),
            in_work("gzip", &["-1"]),
        ],
        out,
    )
    .with_context(|| format!("packing {} into {}", work.display(), out.display()))?;
    newc::check(out)
}
