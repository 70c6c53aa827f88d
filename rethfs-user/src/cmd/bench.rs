//! `rethfs bench`: what observing costs. Churn cycles per second (make a uprobe event, stat its
//! `enable`, remove the event, stat it again: births, lookups, frees, a failed revalidation
//! and kills each cycle), optionally with reader threads walking the event meanwhile, with no
//! observer, under each lifetime observer this kernel loads, and under ftrace's own
//! kprobe_events on the functions those observers hook, recording into an instance's ring
//! buffer. Prints figures; judges nothing.

use std::{
    fs,
    path::{Path, PathBuf},
};

use serde::Serialize;

use crate::{
    error::{Error, Result, require_root},
    host::{self, KprobeTracing, Tracefs, churn, cleanup::Guard},
    kernel::KernelConfig,
    observe::{self, HOOKS, HookSet, Live, Observer},
};

pub struct BenchOptions<'a> {
    pub tracefs: Option<&'a Path>,
    pub btf: &'a Path,
    pub cycles: usize,
    pub rounds: usize,
    pub json: Option<PathBuf>,
    pub hooks: HookSet,
    /// Reader threads beside the churn.
    pub readers: usize,
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
    /// Of `lost`, program runs the kernel skipped (a program already running on that CPU).
    pub skipped_runs: u64,
    /// Records per cycle by hook, for the lifetime observers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_cycle: Vec<(&'static str, f64)>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub skipped: String,
}

/// ftrace's kprobe_events on the functions the lifetime observer hooks with `set`: a kprobe
/// where it takes arguments, a kretprobe where it takes the return value.
fn ftrace_probes(set: HookSet) -> Vec<(char, &'static str)> {
    let symbols = crate::kernel::kallsyms::names();
    HOOKS
        .iter()
        .filter(|p| p.wanted(set, &symbols).is_ok())
        .filter_map(|p| Some((p, p.symbol_in(&symbols)?)))
        .flat_map(|(p, symbol)| {
            let entry = p.kprobe.is_some() || p.fentry.is_some();
            let exit = p.kretprobe.is_some() || p.fexit.is_some();
            [('p', entry), ('r', exit)]
                .into_iter()
                .filter(|(_, used)| *used)
                .map(move |(kind, _)| (kind, symbol))
        })
        .collect()
}

/// What one row measures.
#[derive(Debug, Clone, Copy)]
enum Mode {
    None,
    Observer(Observer),
    Ftrace,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::None => "none",
            Mode::Observer(o) => o.name(),
            Mode::Ftrace => "ftrace kprobe_events",
        }
    }
}

/// A mode's rounds so far.
#[derive(Default)]
struct Run {
    rates: Vec<f64>,
    records: u64,
    lost: u64,
    skipped_runs: u64,
    by_hook: std::collections::BTreeMap<&'static str, u64>,
    /// Why the mode cannot run here; it is not tried again.
    skipped: String,
}

impl Run {
    /// One round of `mode`: set up, churn, take down; a mode that cannot be set up is
    /// skipped from then on, with the reason.
    fn round(
        &mut self,
        mode: Mode,
        opts: &BenchOptions,
        backends: &[observe::BackendStatus],
        root: &Path,
        prefix: &str,
    ) -> Result<()> {
        let churn = || {
            churn::rate(root, prefix, warmup(opts.cycles), opts.cycles, opts.readers)
                .map_err(Error::Failed)
        };
        match mode {
            Mode::None => self.rates.push(churn()?),
            Mode::Observer(o) => {
                let live = Observer::choose(backends, Some(o), false)
                    .and_then(|_| Live::start(o, opts.hooks, opts.btf, false));
                match live {
                    Ok(live) => {
                        self.rates.push(churn()?);
                        let last = live.stop();
                        self.records += last.seen;
                        self.lost += last.lost;
                        self.skipped_runs += last.skipped;
                        for (h, n) in last.by_hook {
                            *self.by_hook.entry(h).or_default() += n;
                        }
                    }
                    Err(e) => self.skipped = e.to_string(),
                }
            }
            Mode::Ftrace => match KprobeTracing::start(root, prefix, &ftrace_probes(opts.hooks)) {
                Ok(f) => {
                    self.rates.push(churn()?);
                    let (records, lost) = f.counts();
                    (self.records, self.lost) = (self.records + records, self.lost + lost);
                }
                Err(e) => self.skipped = e,
            },
        }
        Ok(())
    }
}

/// Untimed cycles before each timed round: attaching and detaching programs patch kernel
/// text, and an emulator (TCG) then translates the code anew, which a round should not time.
fn warmup(cycles: usize) -> usize {
    (cycles / 4).max(100)
}

/// The median of `rates`, None when there are none.
fn median(rates: &mut [f64]) -> Option<f64> {
    rates.sort_by(f64::total_cmp);
    rates.get(rates.len() / 2).copied()
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
    host::cleanup::sweep_before(&root, "bench");
    let _guard = Guard::new(&root);
    let release = nix::sys::utsname::uname()
        .map_err(|e| Error::Failed(e.into()))?
        .release()
        .to_string_lossy()
        .into_owned();
    let backends = observe::probe_backends(opts.btf, &KernelConfig::read(&release))?;
    let prefix = format!("rethfs_{}", std::process::id());
    let (cycles, rounds) = (opts.cycles, opts.rounds);
    // Round by round, every mode in turn: drift on a busy or emulated machine then falls on
    // all of them alike, and the ratios are side by side.
    let modes = [
        Mode::None,
        Mode::Observer(Observer::Fentry),
        Mode::Observer(Observer::Kprobe),
        Mode::Ftrace,
    ];
    let mut runs: Vec<Run> = modes.iter().map(|_| Run::default()).collect();
    for _ in 0..rounds {
        for (mode, run) in modes.iter().zip(&mut runs) {
            if run.skipped.is_empty() {
                run.round(*mode, &opts, &backends, &root, &prefix)?;
            }
        }
    }
    let base = median(&mut runs[0].rates).unwrap_or(f64::NAN);
    // Records of the warm-up cycles count too.
    let all = ((cycles + warmup(cycles)) * rounds) as f64;
    let rows: Vec<Row> = modes
        .iter()
        .zip(&mut runs)
        .map(|(mode, run)| {
            let rate = median(&mut run.rates);
            Row {
                mode: mode.name().into(),
                cycles_per_s: rate,
                percent: rate.map(|r| 100.0 * r / base),
                records: run.records,
                lost: run.lost,
                skipped_runs: run.skipped_runs,
                per_cycle: run
                    .by_hook
                    .iter()
                    .map(|(h, n)| (*h, *n as f64 / all))
                    .collect(),
                skipped: std::mem::take(&mut run.skipped),
            }
        })
        .collect();
    println!(
        "rethfs bench: Linux {release}, churn cycles (make a uprobe event, stat its enable, remove it, \
         stat again), median of {rounds} rounds of {cycles}, every mode in turn each round, {} reader \
         threads, {} hooks",
        opts.readers,
        match opts.hooks {
            HookSet::Default => "default",
            HookSet::Full => "full",
        }
    );
    println!(
        "{:<22} {:>10} {:>8} {:>10} {:>8} {:>8}",
        "OBSERVER", "CYCLES/S", "OF NONE", "RECORDS", "LOST", "SKIPPED"
    );
    for r in &rows {
        match r.cycles_per_s {
            Some(rate) => println!(
                "{:<22} {:>10.0} {:>7.1}% {:>10} {:>8} {:>8}",
                r.mode,
                rate,
                r.percent.unwrap_or(0.0),
                r.records,
                r.lost,
                r.skipped_runs
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
        let doc = serde_json::json!({"kernel": release, "cycles": cycles, "rounds": rounds,
            "readers": opts.readers, "hooks": opts.hooks, "rows": rows});
        fs::write(
            path,
            serde_json::to_string_pretty(&doc).map_err(anyhow::Error::from)?,
        )
        .map_err(|e| Error::Failed(anyhow::anyhow!("{}: {e}", path.display())))?;
    }
    Ok(())
}
