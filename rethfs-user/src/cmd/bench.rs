//! `rethfs bench`: what observing costs. Churn cycles per second (make a uprobe event, stat its
//! `enable`, remove the event, stat it again: births, lookups, frees, a failed revalidation
//! and kills each cycle) with no observer, under each lifetime observer this kernel loads, and
//! under ftrace's own kprobe_events on the same functions, recording into an instance's ring
//! buffer. Prints figures; judges nothing.

use std::{
    fs,
    path::{Path, PathBuf},
    time::Instant,
};

use serde::Serialize;

use crate::{
    error::{Error, Result, require_root},
    host::{self, Tracefs, churn::append, cleanup::Guard},
    observe::{self, HOOKS, Live, Observer},
    profile::KernelConfig,
};

pub struct BenchOptions<'a> {
    pub tracefs: Option<&'a Path>,
    pub btf: &'a Path,
    pub cycles: usize,
    pub rounds: usize,
    pub json: Option<PathBuf>,
}

/// One way of running the churn, and what it cost.
#[derive(Debug, Serialize)]
pub struct Row {
    pub mode: String,
    /// Median over the rounds; None when the mode could not run here.
    pub cycles_per_s: Option<f64>,
    /// Of the unobserved rate.
    pub percent: Option<f64>,
    /// Records the observer delivered (for ftrace: entries in its buffer).
    pub records: u64,
    /// Records lost in the kernel (for ftrace: its buffer's overruns).
    pub lost: u64,
    /// Records per cycle by hook, for the lifetime observers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_cycle: Vec<(&'static str, f64)>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub skipped: String,
}

/// The probe a cycle makes and removes: a uprobe on rethfs's own function. Registering a
/// kprobe patches kernel text and waits for RCU, which under TCG costs twenty times the eventfs
/// work being measured; a uprobe makes the same eventfs directory for far less.
fn churn_probe(root: &Path) -> Result<(PathBuf, String)> {
    let target = host::uprobe_target().map_err(Error::Environment)?;
    Ok((root.join("uprobe_events"), target))
}

/// Runs `rounds` rounds of `cycles` cycles; the median rate in cycles per second.
fn measure(root: &Path, prefix: &str, cycles: usize, rounds: usize) -> Result<f64> {
    let (control, place) = churn_probe(root)?;
    let event = root.join("events").join(prefix).join("bench");
    let make = format!("p:{prefix}/bench {place}");
    let remove = format!("-:{prefix}/bench");
    let failed = |what: &str, e: std::io::Error| {
        Error::Failed(anyhow::anyhow!("{what} {}: {e}", control.display()))
    };
    let mut rates = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..cycles {
            append(&control, &make).map_err(|e| failed(&make, e))?;
            let _ = fs::metadata(event.join("enable"));
            append(&control, &remove).map_err(|e| failed(&remove, e))?;
            let _ = fs::metadata(event.join("enable"));
        }
        rates.push(cycles as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates[rates.len() / 2])
}

/// ftrace's own tracing of the hooked functions: a kprobe (and kretprobe where rethfs takes
/// the return value) per function in kprobe_events, enabled only in an instance of this run.
struct Ftrace {
    root: PathBuf,
    group: String,
    instance: PathBuf,
    names: Vec<String>,
}

impl Ftrace {
    fn start(root: &Path, prefix: &str) -> std::result::Result<Self, String> {
        let control = root.join("kprobe_events");
        if !control.exists() {
            return Err("this kernel has no kprobe_events".into());
        }
        let symbols = observe::kallsyms();
        let group = format!("{prefix}_ftrace");
        let mut f = Ftrace {
            root: root.to_owned(),
            instance: root.join("instances").join(&group),
            group,
            names: Vec::new(),
        };
        for (i, point) in HOOKS.iter().enumerate() {
            let Some(symbol) = point.symbols.iter().find(|s| symbols.contains(**s)) else {
                continue;
            };
            let kinds = [
                ("p", point.kprobe.is_some() || point.fentry.is_some()),
                ("r", point.kretprobe.is_some() || point.fexit.is_some()),
            ];
            for (kind, _) in kinds.iter().filter(|(_, used)| *used) {
                let name = format!("h{i}{kind}");
                append(&control, &format!("{kind}:{}/{name} {symbol}", f.group))
                    .map_err(|e| format!("kprobe_events: {kind} {symbol}: {e}"))?;
                f.names.push(name);
            }
        }
        fs::create_dir(&f.instance).map_err(|e| format!("{}: {e}", f.instance.display()))?;
        // As much buffer as rethfs's ring (32 MiB), spread over the CPUs.
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let size = f.instance.join("buffer_size_kb");
        fs::write(&size, (32 * 1024 / cpus).to_string())
            .map_err(|e| format!("{}: {e}", size.display()))?;
        let enable = f.instance.join("events").join(&f.group).join("enable");
        fs::write(&enable, "1").map_err(|e| format!("{}: {e}", enable.display()))?;
        Ok(f)
    }

    /// Entries and overruns summed over the instance's per-CPU buffers.
    fn counts(&self) -> (u64, u64) {
        let mut sums = (0, 0);
        let cpus = fs::read_dir(self.instance.join("per_cpu"))
            .into_iter()
            .flatten();
        for cpu in cpus.flatten() {
            let stats = fs::read_to_string(cpu.path().join("stats")).unwrap_or_default();
            for line in stats.lines() {
                let value = |key: &str| {
                    line.strip_prefix(key)
                        .and_then(|v| v.trim().parse::<u64>().ok())
                };
                if let Some(v) = value("entries:") {
                    sums.0 += v;
                }
                if let Some(v) = value("overrun:") {
                    sums.1 += v;
                }
            }
        }
        sums
    }
}

impl Drop for Ftrace {
    fn drop(&mut self) {
        let _ = fs::write(
            self.instance
                .join("events")
                .join(&self.group)
                .join("enable"),
            "0",
        );
        let _ = fs::remove_dir(&self.instance);
        for name in &self.names {
            let _ = append(
                &self.root.join("kprobe_events"),
                &format!("-:{}/{name}", self.group),
            );
        }
    }
}

pub fn run(opts: BenchOptions) -> Result<()> {
    if opts.cycles == 0 || opts.rounds == 0 {
        return Err(Error::Usage(
            "--cycles and --rounds must be at least 1".into(),
        ));
    }
    require_root("bench")?;
    let tracefs = Tracefs::open(opts.tracefs)?;
    let root = tracefs.root.clone();
    let _lock = host::RunLock::acquire()?;
    let _guard = Guard::new(&root);
    let release = nix::sys::utsname::uname()
        .map_err(|e| Error::Failed(e.into()))?
        .release()
        .to_string_lossy()
        .into_owned();
    let backends = observe::probe_backends(opts.btf, &KernelConfig::read(&release))?;
    let prefix = format!("rethfs_{}", std::process::id());
    let (cycles, rounds) = (opts.cycles, opts.rounds);
    let base = measure(&root, &prefix, cycles, rounds)?;
    let row = |mode: &str, rate: Option<f64>, (records, lost): (u64, u64), skipped: String| Row {
        mode: mode.into(),
        cycles_per_s: rate,
        percent: rate.map(|r| 100.0 * r / base),
        records,
        lost,
        per_cycle: Vec::new(),
        skipped,
    };
    let mut rows = vec![row("none", Some(base), (0, 0), String::new())];
    for o in [Observer::Fentry, Observer::Kprobe] {
        let live =
            Observer::choose(&backends, Some(o)).and_then(|_| Live::start(o, opts.btf, false));
        rows.push(match live {
            Ok(live) => {
                let rate = measure(&root, &prefix, cycles, rounds)?;
                let last = live.stop();
                let mut r = row(o.name(), Some(rate), (last.seen, last.lost), String::new());
                let all = (cycles * rounds) as f64;
                r.per_cycle = last
                    .by_hook
                    .iter()
                    .map(|(h, n)| (*h, *n as f64 / all))
                    .collect();
                r
            }
            Err(e) => row(o.name(), None, (0, 0), e.to_string()),
        });
    }
    rows.push(match Ftrace::start(&root, &prefix) {
        Ok(f) => {
            let rate = measure(&root, &prefix, cycles, rounds)?;
            let counts = f.counts();
            drop(f);
            row("ftrace kprobe_events", Some(rate), counts, String::new())
        }
        Err(e) => row("ftrace kprobe_events", None, (0, 0), e),
    });
    println!(
        "rethfs bench: Linux {release}, churn cycles (make a uprobe event, stat its enable, remove it, \
         stat again), median of {rounds} rounds of {cycles}"
    );
    println!(
        "{:<22} {:>10} {:>8} {:>10} {:>8}",
        "OBSERVER", "CYCLES/S", "OF NONE", "RECORDS", "LOST"
    );
    for r in &rows {
        match r.cycles_per_s {
            Some(rate) => println!(
                "{:<22} {:>10.0} {:>7.1}% {:>10} {:>8}",
                r.mode,
                rate,
                r.percent.unwrap_or(0.0),
                r.records,
                r.lost
            ),
            None => println!("{:<22} skipped: {}", r.mode, r.skipped),
        }
    }
    // Where the records come from: what a cycle costs each observer.
    for r in rows.iter().filter(|r| !r.per_cycle.is_empty()) {
        let parts: Vec<String> = r
            .per_cycle
            .iter()
            .map(|(h, n)| format!("{h} {n:.1}"))
            .collect();
        println!("{} records per cycle: {}", r.mode, parts.join(", "));
    }
    if let Some(path) = &opts.json {
        let doc = serde_json::json!({"kernel": release, "cycles": cycles, "rounds": rounds, "rows": rows});
        fs::write(
            path,
            serde_json::to_string_pretty(&doc).map_err(anyhow::Error::from)?,
        )
        .map_err(|e| Error::Failed(anyhow::anyhow!("{}: {e}", path.display())))?;
    }
    Ok(())
}
