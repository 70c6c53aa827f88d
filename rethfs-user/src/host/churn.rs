//! The `churn` scenario: one thread creates and removes a probe event while two others stat,
//! open and list its paths, every operation timed, for the removal oracle in `check::churn`.
//!
//! Readers report over channels with a deadline instead of being joined: a kernel oops kills
//! the reading thread without unwinding (6.18's `eventfs_iterate` does exactly that under this
//! load), and a join would then wait forever. Oopses are counted from the kernel log.

use std::{
    fs::{self, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    thread,
    time::{Duration, Instant},
};

/// What the writer did: when each creation began and each removal returned.
#[derive(Debug, Default)]
pub struct Writer {
    /// (creation began, creation returned, removal began, removal returned) per cycle.
    pub cycles: Vec<(Instant, Instant, Instant, Instant)>,
    pub errors: Vec<String>,
}

/// One reader operation and whether it found the event.
#[derive(Debug, Clone)]
pub struct ReadOp {
    pub what: &'static str,
    pub start: Instant,
    pub end: Instant,
    pub found: bool,
}

/// Everything the scenario saw.
#[derive(Debug, Default)]
pub struct Churn {
    pub writer: Writer,
    pub reads: Vec<ReadOp>,
    /// Readers that never reported: killed inside the kernel.
    pub readers_lost: usize,
    /// Kernel log lines of oopses that happened during the run.
    pub oopses: Vec<String>,
}

/// Appends `line` to a control file, as `echo LINE >> FILE` does.
pub fn append(path: &Path, line: &str) -> std::io::Result<()> {
    OpenOptions::new()
        .append(true)
        .open(path)?
        .write_all(format!("{line}\n").as_bytes())
}

/// The kernel log's `Oops`/`BUG:` lines (`SYSLOG_ACTION_READ_ALL`).
fn oops_lines() -> Vec<String> {
    let mut buf = vec![0u8; 1 << 20];
    // SAFETY: klogctl writes at most len bytes into buf.
    let n = unsafe { libc::klogctl(3, buf.as_mut_ptr().cast(), buf.len() as i32) };
    if n <= 0 {
        return Vec::new();
    }
    String::from_utf8_lossy(&buf[..n as usize])
        .lines()
        .filter(|l| l.contains("Oops") || l.contains("BUG:") || l.contains("RIP: 0010"))
        .map(str::to_owned)
        .collect()
}

fn reader(r: usize, event: PathBuf, group: PathBuf, done: Arc<AtomicBool>) -> Vec<ReadOp> {
    let mut ops = Vec::new();
    let mut i = r;
    while !done.load(Ordering::Relaxed) {
        let start = Instant::now();
        let (what, found) = match i % 3 {
            0 => ("stat", fs::metadata(event.join("enable")).is_ok()),
            1 => ("open", fs::File::open(event.join("id")).is_ok()),
            _ => (
                "list",
                fs::read_dir(&group)
                    .is_ok_and(|d| d.map_while(Result::ok).any(|e| e.file_name() == "churn")),
            ),
        };
        ops.push(ReadOp {
            what,
            start,
            end: Instant::now(),
            found,
        });
        i += 1;
    }
    ops
}

/// Runs up to `cycles` create/remove cycles (or until `limit`) against two readers, the
/// probe defined by `place` in `control` (`kprobe_events` with a symbol, or `uprobe_events`
/// with `PATH:OFFSET`).
pub fn run(
    root: &Path,
    prefix: &str,
    (control, place): (&str, &str),
    cycles: usize,
    limit: Duration,
) -> Churn {
    let control = root.join(control);
    let event = root.join("events").join(prefix).join("churn");
    let group = root.join("events").join(prefix);
    let oops_before = oops_lines().len();
    let done = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    for r in 0..2 {
        let (tx, event, group, done) = (tx.clone(), event.clone(), group.clone(), done.clone());
        thread::spawn(move || {
            let _ = tx.send(reader(r, event, group, done));
        });
    }
    drop(tx);
    let mut out = Churn::default();
    let deadline = Instant::now() + limit;
    for _ in 0..cycles {
        if Instant::now() > deadline {
            break;
        }
        let a = Instant::now();
        let made = append(&control, &format!("p:{prefix}/churn {place}"));
        let b = Instant::now();
        let c = Instant::now();
        let gone = append(&control, &format!("-:{prefix}/churn"));
        let d = Instant::now();
        match (made, gone) {
            (Ok(()), Ok(())) => out.writer.cycles.push((a, b, c, d)),
            (m, g) => {
                out.writer.errors.extend(
                    [m.err(), g.err()]
                        .into_iter()
                        .flatten()
                        .map(|e| e.to_string()),
                );
                break;
            }
        }
    }
    done.store(true, Ordering::Relaxed);
    for _ in 0..2 {
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(ops) => out.reads.extend(ops),
            Err(_) => out.readers_lost += 1,
        }
    }
    out.oopses = oops_lines().into_iter().skip(oops_before).collect();
    out
}

/// Churn cycles per second for `rethfs bench`, the median of `rounds` rounds of `cycles`: make a
/// uprobe event on rethfs's own function, stat its `enable`, remove it, stat it again. A uprobe,
/// not a kprobe: registering a kprobe patches kernel text and waits for RCU, which under TCG
/// costs twenty times the eventfs work being measured.
pub fn rate(root: &Path, prefix: &str, cycles: usize, rounds: usize) -> anyhow::Result<f64> {
    let control = root.join("uprobe_events");
    let place = super::uprobe_target().map_err(anyhow::Error::msg)?;
    let enable = root
        .join("events")
        .join(prefix)
        .join("bench")
        .join("enable");
    let make = format!("p:{prefix}/bench {place}");
    let remove = format!("-:{prefix}/bench");
    let write = |line: &str| {
        append(&control, line).map_err(|e| anyhow::anyhow!("{line} >> {}: {e}", control.display()))
    };
    let mut rates = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..cycles {
            write(&make)?;
            let _ = fs::metadata(&enable);
            write(&remove)?;
            let _ = fs::metadata(&enable);
        }
        rates.push(cycles as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates[rates.len() / 2])
}
