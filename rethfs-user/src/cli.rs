//! The command line.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};

use crate::{
    model::KernelVersion,
    observe::{HookSet, Observer, btf::VMLINUX_BTF},
};

/// An eBPF-assisted observer and validator of the kernel's tracefs.
#[derive(Debug, Parser)]
#[command(name = "rethfs", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Use this tracefs mount instead of finding (or mounting) /sys/kernel/tracing.
    #[arg(long, global = true, value_name = "PATH")]
    pub tracefs: Option<PathBuf>,
    /// Kernel BTF to resolve struct offsets from.
    #[arg(long, global = true, value_name = "PATH", default_value = VMLINUX_BTF)]
    pub btf: PathBuf,
    /// More log output (-v: info, -vv: debug, including the eBPF programs' diagnostics).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the kernel profile: config, tracefs, lockdown, BTF and which attach backends load.
    Doctor {
        /// One JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print tracefs dentries as processes touch them, seen from inside the kernel.
    Observe {
        /// Stop after this many seconds (default: until Ctrl-C or SIGTERM).
        #[arg(long, value_name = "SECS", value_parser = parse_duration, allow_hyphen_values = true)]
        duration: Option<Duration>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Observe with these programs instead of the best the kernel loads.
        #[arg(long, value_name = "OBSERVER")]
        attach: Option<Observer>,
        /// Which hooks: `default` (what rethfs compares, from tracefs's own functions where
        /// the kernel has them) or `full` (also reference drops and directory reads).
        #[arg(long, value_enum, default_value_t)]
        hooks: HookSet,
    },
    /// Run scenarios on the host's tracefs and on the model, and report every difference and
    /// every broken invariant (exit 1 if any).
    Run {
        /// A built-in scenario, `catalogue` (all but the audit and the races), `races` (the
        /// concurrent ones) or a scenario TOML file; repeat for several (default: the
        /// catalogue and the audit).
        #[arg(long, value_name = "NAME|FILE")]
        scenario: Vec<String>,
        /// Also run the concurrent scenarios (they can oops a vulnerable kernel: a test VM is
        /// the place for them).
        #[arg(long)]
        races: bool,
        /// Apply the model rules of this kernel version instead of the running kernel's.
        #[arg(long, value_name = "VERSION", value_parser = parse_version)]
        kernel_policy: Option<KernelVersion>,
        /// Also write the verdicts and both sides' transcripts as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Allow remount steps (a remount with uid=/gid= resets ownership others saved).
        #[arg(long)]
        allow_remount: bool,
        /// Observe lifetimes with these programs instead of the best the kernel loads.
        #[arg(long, value_name = "OBSERVER")]
        attach: Option<Observer>,
        /// Seconds the linearizability search may spend on one set of a race's calls, and as
        /// long again shrinking a failure; past it the race is reported undecided.
        #[arg(long, value_name = "SECS", default_value_t = 30,
              value_parser = clap::value_parser!(u64).range(1..=3600))]
        race_seconds: u64,
        /// Which hooks: `default` (what rethfs compares, from tracefs's own functions where
        /// the kernel has them) or `full` (also reference drops and directory reads).
        #[arg(long, value_enum, default_value_t)]
        hooks: HookSet,
        /// Write every observed and predicted lifetime as Chrome trace event JSON (Perfetto).
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// Draw the lifetimes of each scenario as an SVG timeline.
        #[arg(long, value_name = "FILE.svg")]
        timeline: Option<PathBuf>,
        /// Known findings (a file `rethfs baseline` writes): reported as known, and the run
        /// fails only on others.
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
        /// Also write the results as KTAP version 1 (`-`: standard output).
        #[arg(long, value_name = "FILE")]
        ktap: Option<PathBuf>,
        /// Also write the results as JUnit XML (`-`: standard output).
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Also write a standalone reproducer of each finding, in DIR/NN-<signature>/.
        #[arg(long, value_name = "DIR")]
        repro: Option<PathBuf>,
    },
    /// Write the findings of a run's report as a baseline: one entry per scenario and
    /// signature, each with a reason to edit.
    Baseline {
        /// The report (`rethfs run --json`).
        #[arg(long, value_name = "REPORT.json")]
        from: PathBuf,
        /// Where to write the baseline (TOML).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Write a standalone reproducer of a finding of a run's report: a POSIX shell script, or
    /// a C program where shell cannot make its steps; it exits 0 when the kernel behaves
    /// correctly, 1 when the finding shows, 125 when it cannot run there.
    Repro {
        /// The report (`rethfs run --json`).
        #[arg(long, value_name = "REPORT.json")]
        from: PathBuf,
        /// Which finding, numbered from 1 in the report's order.
        #[arg(long, value_name = "N", default_value_t = 1,
              value_parser = clap::value_parser!(u64).range(1..))]
        finding: u64,
        /// The directory to write `repro.sh` or `repro.c` into (made if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Write scenarios and judge them: drawn at random from the model's state, or every
    /// sequence of a few steps; each finding shrunk to a smallest scenario that shows it.
    Explore(ExploreArgs),
    /// Remove the probes and instances that killed rethfs runs left behind, and nothing else.
    Cleanup,
    /// Measure what observing costs: churn cycles per second unobserved, under each lifetime
    /// observer, and under ftrace's own kprobe_events on the same functions.
    Bench {
        /// Create+remove cycles per round.
        #[arg(long, default_value_t = 2000)]
        cycles: usize,
        /// Rounds per observer; the median is reported.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Also write the figures as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Which hooks: `default` (what rethfs compares, from tracefs's own functions where
        /// the kernel has them) or `full` (also reference drops and directory reads).
        #[arg(long, value_enum, default_value_t)]
        hooks: HookSet,
        /// Threads that stat, read and list the churned event meanwhile (0: none), as the
        /// races do: what observing costs when readers walk tracefs too.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=16))]
        readers: u64,
    },
    /// Run a scenario on the reference eventfs model alone (no root, no tracefs needed).
    Model {
        /// A built-in scenario or a scenario TOML file; without it, list the built-in ones.
        #[arg(long, value_name = "NAME|FILE")]
        scenario: Option<String>,
        /// Apply the rules of this kernel version (default: the running kernel's).
        #[arg(long, value_name = "VERSION", value_parser = parse_version)]
        kernel: Option<KernelVersion>,
        /// One JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// The seed of the random cases (default: from the clock; printed either way).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop drawing cases after this many seconds (default 60).
    #[arg(long, value_name = "SECS", value_parser = parse_duration, conflicts_with = "cases")]
    pub duration: Option<Duration>,
    /// Stop after this many cases.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub cases: Option<u64>,
    /// The longest case, in steps.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=200))]
    pub max_steps: u64,
    /// Every sequence of DEPTH steps over a fixed alphabet instead of random cases.
    #[arg(long, value_name = "DEPTH", conflicts_with_all = ["seed", "cases"],
          value_parser = clap::value_parser!(u64).range(1..=4))]
    pub exhaustive: Option<u64>,
    /// The model against itself (its invariants only): no root, no tracefs.
    #[arg(long, conflicts_with_all = ["attach", "allow_remount"])]
    pub model_only: bool,
    /// Observe lifetimes with these programs instead of the best the kernel loads.
    #[arg(long, value_name = "OBSERVER")]
    pub attach: Option<Observer>,
    /// Which hooks (see `run --hooks`).
    #[arg(long, value_enum, default_value_t, conflicts_with = "model_only")]
    pub hooks: HookSet,
    /// Apply the model rules of this kernel version instead of the running kernel's.
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    pub kernel_policy: Option<KernelVersion>,
    /// Write each finding's shrunk scenario here, as a file `rethfs run --scenario` takes.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also write the summary as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Allow remount steps (a remount with uid=/gid= resets ownership others saved).
    #[arg(long)]
    pub allow_remount: bool,
    /// Known findings (`rethfs baseline`): each finding a baseline entry knows by its
    /// signature is marked known, with the entry's reason.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
}

fn parse_version(s: &str) -> Result<KernelVersion, String> {
    s.parse()
}

/// A positive, finite number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("`{s}` must be a positive number of seconds"));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| format!("`{s}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("-1").unwrap_err().contains("positive"));
        assert!(parse_duration("inf").is_err());
        assert!(parse_duration("soon").unwrap_err().contains("not a number"));
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
