//! Booting a test VM: KVM only where it can run a stock kernel, TCG otherwise; results come
//! back over serial ports 1 and 2, since qemu exits 0 even when the guest panics. Two vCPUs,
//! so that the races' threads interleave; under TCG on one host thread (`thread=single`):
//! multi-threaded TCG once killed a 6.12 guest on an int3 in `__schedule` while a kprobe was
//! being armed (cross-CPU code patching).

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
    pub report: Report,
    /// The .tar.gz of the files the program wrote in the guest's /out, when any arrived.
    pub files: Option<std::path::PathBuf>,
    pub accel: &'static str,
    pub seconds: f64,
}

/// Boots `vmlinuz` with `initrd`, waits up to `timeout`, and kills qemu if it overruns. A
/// guest that dies before its init runs is booted once more: under TCG a 6.12 guest once
/// took a double fault in early ACPI setup, which says nothing of the kernel under test.
/// `watch` hears the latest progress line rethfs printed in the guest.
pub fn boot(
    vmlinuz: &Path,
    initrd: &Path,
    work: &Path,
    timeout: Duration,
    watch: &dyn Fn(&str),
) -> Result<Boot> {
    match boot_once(vmlinuz, initrd, work, timeout, watch) {
        Err(e) if !booted(work) => {
            eprintln!("xtask: the guest died before its init ran; booting it once more: {e:#}");
            boot_once(vmlinuz, initrd, work, timeout, watch)
        }
        result => result,
    }
}

/// How rethfs's progress line starts as each scenario of a run begins (the matrix finds the
/// scenario a dying kernel was in by it).
pub const SCENARIO_BEGUN: &str = "rethfs run: scenario ";

/// The last progress line (`rethfs run: ...`, `rethfs explore: ...`) in the end of `console`.
fn guest_progress(console: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = fs::File::open(console).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(8192))).ok()?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail).ok()?;
    String::from_utf8_lossy(&tail)
        .lines()
        .rev()
        .find(|l| l.starts_with(SCENARIO_BEGUN) || l.starts_with("rethfs explore: "))
        .map(str::to_owned)
}

/// Whether the last boot in `work` reached init.
fn booted(work: &Path) -> bool {
    fs::read_to_string(work.join("console.log"))
        .is_ok_and(|c| c.contains(super::initramfs::INIT_RAN))
}

fn boot_once(
    vmlinuz: &Path,
    initrd: &Path,
    work: &Path,
    timeout: Duration,
    watch: &dyn Fn(&str),
) -> Result<Boot> {
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
        if accel == "kvm" {
            "kvm"
        } else {
            "tcg,thread=single"
        },
        "-M",
        "pc",
        "-cpu",
        if accel == "kvm" { "host" } else { "max" },
    ]);
    cmd.args([
        "-smp",
        "2",
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
        if let Some(line) = guest_progress(&console) {
            watch(&line);
        }
        thread::sleep(Duration::from_millis(500));
    }
    let seconds = start.elapsed().as_secs_f64();
    let status_text = fs::read_to_string(&status).unwrap_or_default();
    if !status_text.contains("program-exit=") {
        bail!(
            "the guest sent no result (panic or failed init); console:\n{}",
            tail(&console)
        );
    }
    Ok(Boot {
        report: Report::parse(&status_text)
            .with_context(|| format!("the guest's status in {}", status.display()))?,
        files: fs::metadata(&report)
            .is_ok_and(|m| m.len() > 0)
            .then_some(report),
        accel,
        seconds,
    })
}

/// What the guest's init sends over its second serial port: the program's output, then the
/// exit code of the tar that sent /out over the third port, then the program's own, last.
#[derive(Debug, PartialEq)]
pub struct Report {
    pub log: String,
    pub files_exit: u8,
    pub program_exit: u8,
}

impl Report {
    fn parse(text: &str) -> Result<Self> {
        let mut lines = text.trim_end().rsplitn(3, '\n');
        let mut code = |key: &str| {
            let line = lines.next().unwrap_or_default();
            line.strip_prefix(key)
                .and_then(|c| c.parse::<u8>().ok())
                .with_context(|| format!("{line:?} where `{key}N` belongs"))
        };
        let program_exit = code("program-exit=")?;
        let files_exit = code("files-exit=")?;
        Ok(Report {
            log: lines.next().unwrap_or_default().trim_end().to_owned(),
            files_exit,
            program_exit,
        })
    }
}

fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::Report;

    #[test]
    fn the_status_is_the_log_then_the_transfers_and_the_programs_exit_codes() {
        let report = |log: &str, files_exit, program_exit| Report {
            log: log.into(),
            files_exit,
            program_exit,
        };
        let parse = |t| Report::parse(t).map_err(|e| e.to_string());
        assert_eq!(
            parse("a\nb\n\nfiles-exit=0\nprogram-exit=1\n"),
            Ok(report("a\nb", 0, 1))
        );
        // A log without a final newline, and no log at all.
        assert_eq!(
            parse("a\nfiles-exit=2\nprogram-exit=0\n"),
            Ok(report("a", 2, 0))
        );
        assert_eq!(
            parse("\nfiles-exit=0\nprogram-exit=0\n"),
            Ok(report("", 0, 0))
        );
        assert_eq!(
            parse("log\nprogram-exit=0\n"),
            Err(r#""log" where `files-exit=N` belongs"#.into())
        );
        assert_eq!(
            parse("files-exit=0\nprogram-exit=9x\n"),
            Err(r#""program-exit=9x" where `program-exit=N` belongs"#.into())
        );
    }
}
