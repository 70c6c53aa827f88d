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
        Command::Doctor { json } => cmd::doctor::run(&opts, json),
        Command::Observe { duration, json } => cmd::observe::run(&opts, duration, json),
        Command::Model {
            scenario,
            kernel,
            json,
        } => cmd::model::run(scenario.as_deref(), kernel, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rethfs: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
