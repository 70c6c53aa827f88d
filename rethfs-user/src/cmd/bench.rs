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
    observe::{self, HOOKS, HookSet, Live, Observer},
    profile::KernelConfig,
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
    /// Records per cycle by hook, for the lifetime observers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_cycle: Vec<(&'static str, f64)>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub skipped: String,
}

/// ftrace's kprobe_events on the functions the lifetime observer hooks with `set`: a kprobe
/// where it takes arguments, a kretprobe where it takes the return value.
fn ftrace_probes(set: HookSet) -> Vec<(char, &'static str)> {
    let symbols = observe::kallsyms();
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
    let measure =
        || churn::rate(&root, &prefix, cycles, rounds, opts.readers).map_err(Error::Failed);
    let base = measure()?;
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
        let live = Observer::choose(&backends, Some(o))
            .and_then(|_| Live::start(o, opts.hooks, opts.btf, false));
        rows.push(match live {
            Ok(live) => {
                let rate = measure()?;
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
    rows.push(
        match KprobeTracing::start(&root, &prefix, &ftrace_probes(opts.hooks)) {
            Ok(f) => {
                let rate = measure()?;
                let counts = f.counts();
                drop(f);
                row("ftrace kprobe_events", Some(rate), counts, String::new())
            }
            Err(e) => row("ftrace kprobe_events", None, (0, 0), e),
        },
    );
    println!(
        "rethfs bench: Linux {release}, churn cycles (make a uprobe event, stat its enable, remove it, \
         stat again), median of {rounds} rounds of {cycles}, {} reader threads, {} hooks",
        opts.readers,
        match opts.hooks {
            HookSet::Default => "default",
            HookSet::Full => "full",
        }
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
