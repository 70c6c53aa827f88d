//! Booting a test VM: KVM only where it can run a stock kernel, TCG otherwise; results come
//! back over serial ports 1 and 2, since qemu exits 0 even when the guest panics. One vCPU:
//! with two, a 6.12 guest under TCG died once in three runs on an int3 in `__schedule` while
//! a kprobe was being armed (cross-CPU code patching under TCG).

use std::{
    fs,
    path::Path,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};

/// KVM where `/dev/kvm` is usable, the CPU has VMX/SVM, and it is not a paravirtual hypervisor
/// that cannot run stock kernels (`kvm_pvm`).
fn kvm_usable() -> bool {
    let cpu = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
        && (cpu.contains(" vmx") || cpu.contains(" svm"))
        && !Path::new("/sys/module/kvm_pvm").exists()
}

pub struct Boot {
    pub status: String,
    /// The .tar.gz of the files rethfs wrote in the guest's /out, when there were any.
    pub files: Option<std::path::PathBuf>,
    pub accel: &'static str,
    pub seconds: f64,
}

/// Boots `vmlinuz` with `initrd`, waits up to `timeout`, and kills qemu if it overruns.
pub fn boot(vmlinuz: &Path, initrd: &Path, work: &Path, timeout: Duration) -> Result<Boot> {
    let (status, report, console) = (
        work.join("status.out"),
        work.join("report.out"),
        work.join("console.log"),
    );
    for f in [&status, &report, &console] {
        let _ = fs::remove_file(f);
    }
    let accel = if kvm_usable() { "kvm" } else { "tcg" };
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args([
        "-accel",
        accel,
        "-M",
        "pc",
        "-cpu",
        if accel == "kvm" { "host" } else { "max" },
    ]);
    cmd.args([
        "-smp",
        if accel == "kvm" { "2" } else { "1" },
        "-m",
        "2G",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
    ]);
    cmd.arg("-serial")
        .arg(format!("file:{}", console.display()));
    cmd.arg("-kernel").arg(vmlinuz).arg("-initrd").arg(initrd);
    cmd.args(["-append", "console=ttyS0 panic=-1 rdinit=/init quiet"]);
    for path in [&status, &report] {
        cmd.arg("-serial").arg(format!("file:{}", path.display()));
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .context("qemu-system-x86_64 not found (package qemu-system-x86)")?;
    loop {
        if let Some(_exit) = child.try_wait()? {
            break;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "the guest did not finish within {} s (killed); console:\n{}",
                timeout.as_secs(),
                tail(&console)
            );
        }
        thread::sleep(Duration::from_millis(100));
    }
    let seconds = start.elapsed().as_secs_f64();
    let status_text = fs::read_to_string(&status).unwrap_or_default();
    if !status_text.contains("rethfs-exit=") {
        bail!(
            "the guest sent no result (panic or failed init); console:\n{}",
            tail(&console)
        );
    }
    Ok(Boot {
        status: status_text,
        files: fs::metadata(&report)
            .is_ok_and(|m| m.len() > 0)
            .then_some(report),
        accel,
        seconds,
    })
}

fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
