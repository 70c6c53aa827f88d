//! The `rethfs` command.

use std::process::ExitCode;

use clap::Parser as _;
use rethfs::{
    cli::{Cli, Command},
    cmd,
    profile::ProfileOptions,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.global.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level)).init();
    let opts = ProfileOptions {
        tracefs: cli.global.tracefs,
        btf: cli.global.btf,
    };
    let result = match cli.command {
        Command::Doctor { json } => cmd::doctor::run(&opts, json).map(|()| 0),
        Command::Observe {
            duration,
            json,
            attach,
            hooks,
        } => cmd::observe::run(&opts, attach, hooks, duration, json).map(|()| 0),
        Command::Model {
            scenario,
            kernel,
            json,
        } => cmd::model::run(scenario.as_deref(), kernel, json),
        Command::Run {
            scenario,
            races,
            kernel_policy,
            json,
            allow_remount,
            attach,
            race_seconds,
            hooks,
            trace,
            timeline,
            baseline,
            ktap,
            junit,
            repro,
        } => cmd::run::run(cmd::run::RunOptions {
            tracefs: opts.tracefs.as_deref(),
            btf: &opts.btf,
            attach,
            hooks,
            trace,
            timeline,
            scenarios: scenario,
            races,
            policy_version: kernel_policy,
            json,
            allow_remount,
            race_budget: rethfs::race::Budget {
                time: std::time::Duration::from_secs(race_seconds),
                ..rethfs::race::BUDGET
            },
            baseline,
            ktap,
            junit,
            repro,
        }),
        Command::Baseline { from, out } => cmd::baseline::run(&from, &out).map(|()| 0),
        Command::Repro { from, finding, out } => {
            cmd::repro::run(&from, finding as usize, &out).map(|()| 0)
        }
        Command::Explore(args) => cmd::explore::run(&opts, args),
        Command::Cleanup => cmd::cleanup::run(opts.tracefs.as_deref()).map(|()| 0),
        Command::Bench {
            cycles,
            rounds,
            json,
            hooks,
            readers,
        } => cmd::bench::run(cmd::bench::BenchOptions {
            tracefs: opts.tracefs.as_deref(),
            btf: &opts.btf,
            cycles,
            rounds,
            json,
            hooks,
            readers: readers as usize,
        })
        .map(|()| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("rethfs: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
