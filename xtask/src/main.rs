//! rethfs's developer tasks, run as `cargo xtask <task>`.
//!
//! Every task builds as the invoking user and raises privileges only to run the `rethfs`
//! binary, so `cargo xtask run` works where `sudo cargo` would not find cargo.

#[path = "../../rethfs-user/ebpf_toolchain.rs"]
mod ebpf_toolchain;
mod fuzz;
mod matrix;
mod pins;
mod privilege;
mod process;
mod progress;
mod run;
mod setup;
mod test;
mod vm;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "rethfs developer tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install what building and testing need (rust-src, bpf-linker, Debian packages); idempotent.
    Setup,
    /// Set up, build, and run rethfs as root: `doctor` then `run` (every scenario, host against
    /// model, JSON in target/rethfs-run.json), or the given args.
    Run {
        /// Arguments for the rethfs binary instead of the default job.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Set up, build, and run every test; host tests run too when root.
    Test,
    /// Replay the inputs that once crashed each fuzz target, then fuzz each for a while
    /// (cargo fuzz, libFuzzer); prints executions and crashes, exit 1 on a crash.
    Fuzz {
        /// Seconds of fuzzing per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Targets to run (default: all).
        targets: Vec<String>,
    },
    /// The host and each test-VM kernel in one table (also JSON and Markdown in target/).
    Matrix {
        /// Kernel series to boot, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "6.1,6.12,7.2,7.3")]
        kernels: Vec<String>,
        /// Seconds before a guest is killed.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// Boot a Debian kernel in qemu and run rethfs inside (default: `rethfs run`).
    Vm {
        /// Kernel series (6.1, 6.12, 7.2, ...: its newest cloud image) or a point release
        /// the archive holds (6.12.107).
        #[arg(long)]
        kernel: String,
        /// Seconds before the guest is killed.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// A static executable the guest runs instead of rethfs (a C reproducer built with
        /// `-static`, say); its exit code is this task's.
        #[arg(long, value_name = "PROGRAM")]
        exec: Option<std::path::PathBuf>,
        /// Arguments for rethfs (or PROGRAM) in the guest instead of `run`.
        #[arg(last = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Setup => setup::run().map(|()| 0),
        Task::Run { args } => run::run(&args),
        Task::Test => test::run(),
        Task::Fuzz { seconds, targets } => fuzz::run(seconds, &targets),
        Task::Vm {
            kernel,
            timeout,
            exec,
            args,
        } => vm::run(&kernel, exec.as_deref(), &args, timeout),
        Task::Matrix { kernels, timeout } => matrix::run(&kernels, timeout),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::from(2)
        }
    }
}
